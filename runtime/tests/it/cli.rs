//! The `bazaar` binary as a user runs it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::process::Stopped;

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

fn bazaar(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BAZAAR)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("bazaar runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config file in `dir` whose `[operator]` token is `token`, read from a file of `mode`.
fn operator_config(dir: &Path, token: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let file = dir.join("token");
    std::fs::write(&file, token).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    let config = dir.join("bazaar.toml");
    std::fs::write(
        &config,
        format!(
            "[operator]\nlisten = \"127.0.0.1:0\"\ntoken = {{ file = \"{}\" }}\n",
            file.display()
        ),
    )
    .unwrap();
    config
}

/// A small export: one listing, one seller, one product, written by hand as a user's backup
/// would look.
const EXPORT: &str = r#"{"bazaar_export":1,"schema_version":2}
{"kind":"listing","record":{"id":"01JD0000000000000000000001","marketplace":"craigslist","external_id":"7712","url":"http://127.0.0.1/p/7712","title":"Bose SoundLink Mini","description":"works","price":{"minor":8000,"currency":"USD"},"condition":"good","category":"electronics","seller":{"external_id":"s-1","display_name":null},"location":null,"images":[],"listed_at":null,"first_seen":"2026-05-01T09:00:00Z","last_seen":"2026-05-01T09:00:00Z","raw":"<html/>"}}
{"kind":"seller","record":{"id":"01JD0000000000000000000002","marketplace":"craigslist","external_id":"s-1","display_name":"Pat Quimby","contact":null,"first_seen":"2026-05-01T09:00:00Z","history":[]}}
{"kind":"product","record":{"id":"01JD0000000000000000000003","title":"Bose SoundLink Mini","category":"electronics","condition":"good","marketplace":"craigslist","listing":"01JD0000000000000000000001","seller":"01JD0000000000000000000002","asking":{"minor":8000,"currency":"USD"},"sold":{"minor":6500,"currency":"USD"},"price_history":[],"first_seen":"2026-05-01T09:00:00Z","last_seen":"2026-05-01T09:00:00Z"}}
{"kind":"meta","key":"researcher.cursor.ebay","record":{"offset":200}}
"#;

#[test]
fn import_export_search_and_status_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.jsonl");
    std::fs::write(&backup, EXPORT).unwrap();
    let data = dir.path().join("data");

    let import = bazaar(&data, &["import", "--input", backup.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));
    assert!(
        text(&import.stderr).contains("imported 4 records"),
        "{}",
        text(&import.stderr)
    );

    let export = bazaar(&data, &["export"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert_eq!(
        text(&export.stdout),
        EXPORT,
        "export must reproduce the import exactly"
    );

    let search = bazaar(&data, &["search", "soundlink"]);
    assert!(search.status.success(), "{}", text(&search.stderr));
    let hits = text(&search.stdout);
    assert!(
        hits.contains("Bose SoundLink Mini")
            && hits.contains("asking $80.00")
            && hits.contains("sold $65.00"),
        "{hits}"
    );
    let seller = bazaar(&data, &["search", "quimby"]);
    assert!(
        text(&seller.stdout).contains("seller"),
        "{}",
        text(&seller.stdout)
    );

    let status = bazaar(&data, &["status"]);
    let out = text(&status.stdout);
    assert!(
        out.contains("listing         1") && out.contains("search index    2 documents"),
        "{out}"
    );

    // Importing twice is refused and changes nothing.
    let again = bazaar(&data, &["import", "--input", backup.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("import only into an empty --data-dir"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(text(&bazaar(&data, &["export"]).stdout), EXPORT);
}

#[test]
fn a_bad_import_names_the_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.jsonl");
    let broken = EXPORT.replace(
        "\"condition\":\"good\",\"category\":\"electronics\",\"seller\"",
        "\"condition\":\"mint\",\"category\":\"electronics\",\"seller\"",
    );
    std::fs::write(&bad, broken).unwrap();
    let data = dir.path().join("data");
    let import = bazaar(&data, &["import", "--input", bad.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(1));
    let stderr = text(&import.stderr);
    assert!(
        stderr.contains("import line 2") && stderr.contains("mint"),
        "{stderr}"
    );
    let status = text(&bazaar(&data, &["status"]).stdout);
    assert!(status.contains("listing         0"), "{status}");
}

#[test]
fn a_bad_config_names_the_key_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bazaar.toml");
    std::fs::write(&config, "[supervisor]\nmax_restarts = \"lots\"\n").unwrap();
    let out = bazaar(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap(), "status"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("supervisor.max_restarts"),
        "{}",
        text(&out.stderr)
    );

    let env = Command::new(BAZAAR)
        .args([
            "--data-dir",
            dir.path().join("data").to_str().unwrap(),
            "status",
        ])
        .env("BAZAAR_INTAKE__CREDIT", "0")
        .output()
        .unwrap();
    assert_eq!(env.status.code(), Some(2));
    assert!(
        text(&env.stderr).contains("intake.credit"),
        "{}",
        text(&env.stderr)
    );
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: sending a signal to a child process we spawned and still own.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
}

#[test]
fn run_says_what_is_idle_and_stops_cleanly_on_sigterm_and_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut child = Command::new(BAZAAR)
            .args([
                "--data-dir",
                data.to_str().unwrap(),
                "--log-format",
                "json",
                "run",
            ])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut log = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        for line in lines.by_ref() {
            let line = line.unwrap();
            let running = line.contains("bazaar is running");
            log.push(line);
            if running {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "bazaar run never became ready: {log:#?}"
            );
        }
        let idle: Vec<serde_json::Value> = log
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["fields"]["message"] == "idle")
            .collect();
        let actors: std::collections::BTreeSet<&str> = idle
            .iter()
            .filter_map(|v| v["fields"]["actor"].as_str())
            .collect();
        let expected = [
            "autopilot",
            "deal_analyzer",
            "inventory",
            "lister",
            "negotiator",
            "operator",
            "researcher",
        ];
        assert_eq!(
            actors,
            expected.into_iter().collect(),
            "every part says why it is idle: {log:#?}"
        );
        assert!(log
            .iter()
            .any(|l| l.contains("no saved searches configured")));

        // While the daemon holds the store, commands that write say so plainly.
        let busy = bazaar(&data, &["reindex"]);
        assert_eq!(busy.status.code(), Some(1));
        assert!(
            text(&busy.stderr).contains("in use by another bazaar process"),
            "{}",
            text(&busy.stderr)
        );

        signal(child.id(), sig);
        let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "exit after signal {sig}: {rest:#?}");
        assert!(
            rest.iter()
                .any(|l| l.contains("store flushed and index committed")),
            "{rest:#?}"
        );
    }
    let status = bazaar(&data, &["status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
}

#[test]
fn export_to_a_file_matches_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.jsonl");
    std::fs::write(&backup, EXPORT).unwrap();
    let data = dir.path().join("data");
    let mut import = Command::new(BAZAAR)
        .args(["--data-dir", data.to_str().unwrap(), "import"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    import
        .stdin
        .take()
        .unwrap()
        .write_all(EXPORT.as_bytes())
        .unwrap();
    assert!(import.wait().unwrap().success());
    let out = dir.path().join("out.jsonl");
    assert!(bazaar(&data, &["export", "--out", out.to_str().unwrap()])
        .status
        .success());
    assert_eq!(std::fs::read_to_string(out).unwrap(), EXPORT);
}

/// An export holding a three-entry audit chain, optionally with entry 1 altered afterwards.
fn audit_export(tamper: bool) -> String {
    use bazaar_memory::{ActionId, AuditEntry};
    let at = |s: i64| chrono::DateTime::from_timestamp(1_775_000_000 + s, 0).unwrap();
    let action = ActionId::new_at(at(0));
    let mut entries: Vec<AuditEntry> = Vec::new();
    for (i, (event, target)) in [
        ("proposed", "SKU-1"),
        ("executed", "SKU-1"),
        ("proposed", "SKU-2"),
    ]
    .iter()
    .enumerate()
    {
        let entry = AuditEntry::next(
            entries.last(),
            at(i as i64 * 60),
            Some(action),
            *event,
            serde_json::json!({ "target": target }),
        );
        entries.push(entry);
    }
    if tamper {
        entries[1].detail = serde_json::json!({ "target": "SKU-9" });
    }
    let mut export = String::from("{\"bazaar_export\":1,\"schema_version\":2}\n");
    for entry in entries {
        export.push_str(&format!(
            "{{\"kind\":\"audit\",\"record\":{}}}\n",
            serde_json::to_string(&entry).unwrap()
        ));
    }
    export
}

#[test]
fn audit_lists_filters_and_verifies_the_chain() {
    for tamper in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("audit.jsonl");
        std::fs::write(&file, audit_export(tamper)).unwrap();
        let data = dir.path().join("data");
        assert!(
            bazaar(&data, &["import", "--input", file.to_str().unwrap()])
                .status
                .success()
        );

        let all = bazaar(&data, &["audit"]);
        assert_eq!(text(&all.stdout).lines().count(), 3);
        let item = bazaar(&data, &["audit", "--item", "SKU-2"]);
        assert_eq!(
            text(&item.stdout).lines().count(),
            1,
            "{}",
            text(&item.stdout)
        );
        let since = bazaar(&data, &["audit", "--since", "2026-03-31T23:35:00Z"]);
        assert_eq!(
            text(&since.stdout).lines().count(),
            1,
            "{}",
            text(&since.stdout)
        );

        let verify = bazaar(&data, &["audit", "--verify"]);
        if tamper {
            assert_eq!(verify.status.code(), Some(1));
            assert!(
                text(&verify.stderr).contains("audit chain broken at entry 1"),
                "{}",
                text(&verify.stderr)
            );
        } else {
            assert!(verify.status.success(), "{}", text(&verify.stderr));
            assert!(text(&verify.stderr).contains("audit chain verified: 3 entries"));
        }
    }
}

#[test]
fn an_unreadable_secret_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = operator_config(dir.path(), "s3cret-operator-token\n", 0o644);
    let out = bazaar(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap(), "run"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("operator.token") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("s3cret"),
        "a secret reached the output: {stderr}"
    );
}

#[test]
fn a_mail_password_that_cannot_be_read_stops_run_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bazaar.toml");
    std::fs::write(
        &config,
        "[mail]\nenabled = true\nsmtp_host = \"mail.example.com\"\nimap_host = \"mail.example.com\"\n\
         username = \"agent@example.com\"\nfrom_address = \"agent@example.com\"\n\
         password = { env = \"BAZAAR_TEST_MAIL_PASSWORD_UNSET\" }\n",
    )
    .unwrap();
    let out = bazaar(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap(), "run"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("mail.password") && stderr.contains("BAZAAR_TEST_MAIL_PASSWORD_UNSET"),
        "{stderr}"
    );
}

/// A product record line for an export, with asking prices (dollars, day of March) and an
/// optional sale.
fn product_line(
    n: u32,
    title: &str,
    category: &str,
    asks: &[(u32, i64)],
    sold: Option<(u32, i64)>,
) -> String {
    let point = |day: u32, dollars: i64, kind: &str| {
        format!(
            r#"{{"at":"2026-03-{day:02}T12:00:00Z","price":{{"minor":{},"currency":"USD"}},"kind":"{kind}"}}"#,
            dollars * 100
        )
    };
    let mut history: Vec<String> = asks.iter().map(|&(d, p)| point(d, p, "asking")).collect();
    history.extend(sold.map(|(d, p)| point(d, p, "sold")));
    format!(
        r#"{{"kind":"product","record":{{"id":"01JD00000000000000000000{n:02}","title":"{title}","category":"{category}","condition":"good","marketplace":"craigslist","listing":null,"seller":null,"asking":{},"sold":{},"price_history":[{}],"first_seen":"2026-03-01T00:00:00Z","last_seen":"2026-03-20T00:00:00Z"}}}}"#,
        money_json(asks.last().map(|&(_, p)| p)),
        money_json(sold.map(|(_, p)| p)),
        history.join(",")
    )
}

/// `{"minor", "currency"}` for whole dollars, or `null`.
fn money_json(dollars: Option<i64>) -> String {
    dollars.map_or("null".to_string(), |d| {
        format!(r#"{{"minor":{},"currency":"USD"}}"#, d * 100)
    })
}

#[test]
fn trends_show_price_and_volume_per_category_and_period() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.jsonl");
    let lines = [
        r#"{"bazaar_export":1,"schema_version":2}"#.to_string(),
        product_line(
            1,
            "Bose SoundLink Mini",
            "electronics",
            &[(2, 100), (9, 90)],
            Some((10, 85)),
        ),
        product_line(
            2,
            "Sony WH-1000XM4 headphones",
            "electronics",
            &[(3, 200)],
            None,
        ),
        product_line(3, "Trek road bike", "bike", &[(4, 400)], None),
        product_line(4, "JBL speaker", "electronics", &[(16, 60)], Some((16, 55))),
    ];
    std::fs::write(&backup, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let import = bazaar(&data, &["import", "--input", backup.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));

    let trends = bazaar(
        &data,
        &[
            "trends",
            "--category",
            "electronics",
            "--days",
            "14",
            "--period-days",
            "7",
        ],
    );
    assert!(trends.status.success(), "{}", text(&trends.stderr));
    let out = text(&trends.stdout);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // The 14 whole days up to the latest price's (March 16): March 3 to 16, two weeks.
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(
        rows[0],
        [
            "electronics",
            "2026-03-03",
            "2",
            "$117.50",
            "$145.00",
            "$172.50",
            "0",
            "-",
            "-",
            "-"
        ],
        "{out}"
    );
    assert_eq!(
        rows[1],
        [
            "electronics",
            "2026-03-10",
            "1",
            "$60.00",
            "$60.00",
            "$60.00",
            "2",
            "$62.50",
            "$70.00",
            "$77.50"
        ],
        "{out}"
    );
    assert!(!out.contains("bike"), "{out}");

    let bose = bazaar(&data, &["trends", "--brand", "BOSE", "--days", "30"]);
    let out = text(&bose.stdout);
    assert_eq!(out.lines().count(), 3, "one product, two weeks: {out}");
    assert!(out.contains("$100.00") && out.contains("$85.00"), "{out}");
    assert!(!out.contains("$60.00") && !out.contains("$200.00"), "{out}");

    let none = bazaar(&data, &["trends", "--category", "car"]);
    assert!(none.status.success());
    assert!(
        text(&none.stderr).contains("no prices in memory"),
        "{}",
        text(&none.stderr)
    );
}

#[test]
fn appraise_values_a_title_from_memory_and_decides_at_a_price() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.jsonl");
    let mut lines = vec![r#"{"bazaar_export":1,"schema_version":2}"#.to_string()];
    for (n, dollars) in [95, 100, 105, 98, 102, 110, 90, 100]
        .into_iter()
        .enumerate()
    {
        lines.push(product_line(
            n as u32 + 10,
            "Bose SoundLink Mini II bluetooth speaker",
            "electronics",
            &[(2, dollars + 20)],
            Some((5, dollars)),
        ));
    }
    lines.push(product_line(
        30,
        "Trek road bike",
        "bike",
        &[(4, 400)],
        None,
    ));
    std::fs::write(&backup, lines.join("\n") + "\n").unwrap();
    let data = dir.path().join("data");
    let import = bazaar(&data, &["import", "--input", backup.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));

    let title = "Bose SoundLink Mini II speaker";
    let cheap = bazaar(
        &data,
        &["appraise", title, "--price", "35", "--condition", "good"],
    );
    assert!(cheap.status.success(), "{}", text(&cheap.stderr));
    let out = text(&cheap.stdout);
    assert!(
        out.contains("[electronics, good]"),
        "category from the closest product: {out}"
    );
    assert!(out.contains("from 8 comparables (8 sold"), "{out}");
    assert!(out.contains("decision at $35.00: pursue"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("Bose SoundLink")).count(),
        9,
        "{out}"
    );

    let dear = bazaar(&data, &["appraise", title, "--price", "$120"]);
    let out = text(&dear.stdout);
    assert!(out.contains("decision at $120.00: pass"), "{out}");

    let unpriced = bazaar(&data, &["appraise", title]);
    let out = text(&unpriced.stdout);
    assert!(out.contains("give --price"), "{out}");

    let unknown = bazaar(&data, &["appraise", "zzzz qqqq"]);
    assert!(unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("nothing like"),
        "{}",
        text(&unknown.stderr)
    );

    let bad = bazaar(&data, &["appraise", "Bose", "--condition", "mint"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown condition"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_once_reads_a_craigslist_site_and_says_what_it_decided() {
    use bazaar_sim::scenario::Scenario;
    use bazaar_sim::world::{World, WorldConfig};

    let world = World::start(WorldConfig::new(Scenario::builtin("small")))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bazaar.toml");
    std::fs::write(
        &config,
        format!(
            "[marketplaces.craigslist]\nenabled = true\nbase_url = \"{}\"\nrequest_spacing_ms = 0\n\n\
             [[researcher.searches]]\nmarketplace = \"craigslist\"\nquery = \"\"\n\
             category = \"electronics\"\nevery_minutes = 60\n",
            world.endpoints().craigslist.trim_end_matches('/')
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let run = |args: Vec<String>| {
        let data = data.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bazaar(&data, &args)
        })
    };
    let config = config.to_str().unwrap().to_string();
    let args = |extra: &[&str]| {
        let mut all = vec!["--config".to_string(), config.clone(), "scan".to_string()];
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };

    let first = run(args(&["--once"])).await.unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    let summary = text(&first.stderr);
    let listed = out.lines().count();
    assert!(listed > 0, "{out}\n{summary}");
    assert!(
        summary.contains(&format!("scan: 1 searches, {listed} new listings")),
        "{summary}"
    );
    assert!(
        out.lines()
            .all(|l| l.starts_with("craigslist")
                && (l.contains("— pass: ") || l.contains("— pursue: "))),
        "{out}"
    );

    // Seen before: nothing new the second time.
    let again = run(args(&["--once", "--source", "craigslist"]))
        .await
        .unwrap();
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("0 new listings"),
        "{}",
        text(&again.stderr)
    );

    let no_ebay = run(args(&["--once", "--source", "ebay"])).await.unwrap();
    assert_eq!(no_ebay.status.code(), Some(2));
    assert!(
        text(&no_ebay.stderr).contains("nothing to scan"),
        "{}",
        text(&no_ebay.stderr)
    );
    let forever = run(args(&[])).await.unwrap();
    assert_eq!(forever.status.code(), Some(2));
    assert!(
        text(&forever.stderr).contains("add --once"),
        "{}",
        text(&forever.stderr)
    );
    world.shutdown().await.unwrap();
}

/// Issue 23 (9): the store was world-readable (0644 files in 0755 directories): seller
/// addresses, mail and the audit log.
#[test]
fn the_data_directory_is_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("backup.jsonl");
    std::fs::write(&backup, EXPORT).unwrap();
    let import = bazaar(&data, &["import", "--input", backup.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "the data directory");
    let mut files = 0;
    let mut stack = vec![data.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                assert_eq!(
                    mode(&path) & 0o077,
                    0,
                    "{} is open to others",
                    path.display()
                );
                stack.push(path);
            } else {
                files += 1;
                assert_eq!(
                    mode(&path) & 0o077,
                    0,
                    "{} is open to others",
                    path.display()
                );
            }
        }
    }
    assert!(files > 0, "the store wrote files");

    // A data directory made open by hand (or by an older version) is closed at start.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = bazaar(&data, &["status"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert_eq!(mode(&data), 0o700);

    let unit = Command::new(BAZAAR).arg("systemd-unit").output().unwrap();
    let unit = text(&unit.stdout);
    for line in [
        "UMask=0077",
        "StateDirectoryMode=0700",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(unit.contains(line), "the unit lacks {line}");
    }
}

/// Issue 23 (10): a 1-character operator token was accepted.
#[test]
fn a_short_operator_token_is_refused_with_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = operator_config(dir.path(), "x\n", 0o600);
    let out = bazaar(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap(), "run"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("operator.token")
            && stderr.contains("at least 32")
            && stderr.contains("openssl rand"),
        "{stderr}"
    );
}

/// Issue 23 (10): `bazaar inbox --api http://remote` sent the bearer token in clear.
#[test]
fn the_cli_keeps_the_token_off_plain_http_to_another_host() {
    let dir = tempfile::tempdir().unwrap();
    let config = operator_config(dir.path(), "a-long-enough-operator-token-0123456789", 0o600);
    let config = config.to_str().unwrap();
    // 192.0.2.0/24 is reserved for documentation: nothing answers there.
    let out = bazaar(
        &dir.path().join("data"),
        &[
            "--config",
            config,
            "inbox",
            "--api",
            "http://192.0.2.7:7878",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("in clear") && stderr.contains("--insecure"),
        "{stderr}"
    );
    assert!(!stderr.contains("0123456789"), "the token leaked: {stderr}");
}

/// Serves `search_page` at every `/search/…` path on 127.0.0.1 (every other path is a 404,
/// so each posting is "gone"); returns the base URL and the server task.
async fn serve_search_page(search_page: String) -> (String, tokio::task::JoinHandle<()>) {
    use axum::response::Html;
    let app = axum::Router::new()
        .route(
            "/search/{*rest}",
            axum::routing::get(move || {
                let page = search_page.clone();
                async move { Html(page) }
            }),
        )
        .fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "not found") });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, server)
}

/// Issue 25: a real Craigslist search page whose layout drifted (its row class renamed, its
/// JSON-LD item list removed) is an incident — a `source_degraded` task and exit 1 — and
/// the page as served is not. Its links are made relative so no request leaves 127.0.0.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_page_whose_layout_drifted_fails_the_scan() {
    let real = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/real/craigslist/wauwatosa_search.html"
    ))
    .unwrap()
    .replace("https://milwaukee.craigslist.org", "");
    assert_eq!(real.matches("cl-static-search-result\"").count(), 37);
    let drifted = real
        .replace("cl-static-search-result\"", "cl-search-row\"")
        .replace(
            "id=\"ld_searchpage_results\"",
            "id=\"ld_searchpage_results_gone\"",
        );
    for (page, drift) in [(real, false), (drifted, true)] {
        let (base, server) = serve_search_page(page).await;
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bazaar.toml");
        std::fs::write(
            &config,
            format!(
                "[marketplaces.craigslist]\nenabled = true\nbase_url = \"{base}\"\n\
                 request_spacing_ms = 0\n\n[[researcher.searches]]\nmarketplace = \
                 \"craigslist\"\nquery = \"\"\ncategory = \"housing\"\nevery_minutes = 60\n"
            ),
        )
        .unwrap();
        let data = dir.path().join("data");
        let config = config.to_str().unwrap().to_string();
        let out = tokio::task::spawn_blocking(move || {
            bazaar(&data, &["--config", &config, "scan", "--once"])
        })
        .await
        .unwrap();
        let stderr = text(&out.stderr);
        if drift {
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains("craigslist search page read 0 listings")
                    && stderr.contains("layout has probably changed"),
                "{stderr}"
            );
        } else {
            assert!(out.status.success(), "{stderr}");
            assert!(!stderr.contains("layout"), "{stderr}");
            assert!(
                stderr.contains("scan: 1 searches, 0 new listings"),
                "{stderr}"
            );
        }
        server.abort();
    }
}

/// What an operator installs beside the binary: the version names the commit and the
/// build day, completions and the manual page cover every command (`shipped` among them),
/// and neither needs a configuration or stops on a reader that closes early.
#[test]
fn version_completions_and_the_manual_page_describe_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let version = text(&bazaar(dir.path(), &["--version"]).stdout);
    let shape = is_version_line(&version);
    assert!(shape, "{version}");
    for shell in ["bash", "zsh", "fish"] {
        let out = bazaar(dir.path(), &["completions", shell]);
        let script = text(&out.stdout);
        assert!(
            out.status.success() && script.contains("shipped") && script.contains("sim"),
            "{shell}: {script:.200}"
        );
    }
    let out = bazaar(dir.path(), &["completions", "tcsh"]);
    assert!(!out.status.success(), "an unknown shell is refused");
    let man = text(&bazaar(dir.path(), &["man"]).stdout);
    assert!(
        man.contains(".TH bazaar 1") && man.contains("autonomous reselling agent"),
        "{man:.300}"
    );
    assert!(
        man.contains("shipped") && man.contains("completions"),
        "every command is listed"
    );
    // A broken configuration does not stand in the way.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[nonsense\n").unwrap();
    let out = bazaar(dir.path(), &["--config", bad.to_str().unwrap(), "man"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// `bazaar 0.1.0 (commit <12 hex or unknown>, built YYYY-MM-DD)`.
fn is_version_line(line: &str) -> bool {
    let Some(rest) = line.trim().strip_prefix("bazaar ") else {
        return false;
    };
    let Some((_, inside)) = rest.split_once(" (commit ") else {
        return false;
    };
    let Some((commit, built)) = inside.split_once(", built ") else {
        return false;
    };
    let commit_ok = commit == "unknown"
        || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()));
    let date = built.trim_end_matches(')');
    let date_ok = date.len() == 10
        && date.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    commit_ok && date_ok && built.ends_with(')')
}

/// Every command a message, a doc comment or the docs tell the operator to run exists:
/// each "`bazaar WORD [WORD]`" found in the sources and the docs parses as a command line
/// (`--help` added), so a hint can never name a command that was renamed or never was.
#[test]
fn every_command_the_hints_and_docs_name_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "agents/src",
        "runtime/src",
        "policies/src",
        "memory/src",
        "config/src",
        "strategies/src",
        "mail/src",
        "model/src",
        "sim/src",
        "docs",
    ] {
        collect(&root.join(dir), &mut files);
    }
    for file in ["README.md", "ARCHITECTURE.md", "config/bazaar.toml"] {
        files.push(root.join(file));
    }
    let mut named = std::collections::BTreeSet::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (at, _) in text.match_indices("`bazaar ") {
            // Options first (`bazaar --config FILE run`) name no command here.
            let words: Vec<&str> = text[at + "`bazaar ".len()..]
                .split(|c: char| !(c.is_ascii_lowercase() || c == '-' || c == ' '))
                .next()
                .unwrap_or("")
                .split(' ')
                .take(2)
                .take_while(|w| !w.is_empty() && !w.starts_with('-'))
                .collect();
            if !words.is_empty() {
                named.insert(words.join(" "));
            }
        }
    }
    assert!(
        named.len() >= 20,
        "only {} commands named: {named:?}",
        named.len()
    );
    let dir = tempfile::tempdir().unwrap();
    let missing: Vec<&String> = named
        .iter()
        .filter(|line| {
            let mut args: Vec<&str> = line.split(' ').collect();
            args.push("--help");
            !bazaar(dir.path(), &args).status.success()
        })
        .collect();
    assert!(missing.is_empty(), "named but not commands: {missing:?}");
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "md" || e == "js")
        {
            files.push(path);
        }
    }
}

/// Issue 27: the read commands answer while the daemon holds the store, through its control
/// socket, with no configuration; commands that write still say the store is in use.
#[test]
fn read_commands_answer_while_the_daemon_runs() {
    const BOOKS: &str = r#"{"kind":"item","record":{"id":"01JD0000000000000000000010","opportunity":null,"title":"Bose SoundLink Mini","description":"works","category":"electronics","condition":"good","cost_basis":{"minor":6000,"currency":"USD"},"images":[],"attributes":{},"lifecycle":{"status":"in_stock","history":[]},"acquired_at":"2026-05-02T09:00:00Z"}}
{"kind":"transaction","record":{"id":"01JD0000000000000000000011","kind":"purchase","amount":{"minor":6000,"currency":"USD"},"item":"01JD0000000000000000000010","order":null,"at":"2026-05-02T09:00:00Z","memo":"bought"}}
"#;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.jsonl");
    std::fs::write(&backup, format!("{EXPORT}{BOOKS}")).unwrap();
    let data = dir.path().join("data");
    let import = bazaar(&data, &["import", "--input", backup.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));

    let mut child = Stopped(
        Command::new(BAZAAR)
            .args(["--data-dir", data.to_str().unwrap(), "run"])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("bazaar is running") {
            break;
        }
    }
    let socket = data.join("control.sock");
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the control socket is the owner's alone"
    );

    let pnl = bazaar(&data, &["pnl", "--output", "json"]);
    assert!(pnl.status.success(), "{}", text(&pnl.stderr));
    let pnl: serde_json::Value = serde_json::from_slice(&pnl.stdout).unwrap();
    assert_eq!(pnl["total"]["cost"], 6000, "{pnl}");
    assert_eq!(pnl["stock_at_cost"], 6000, "{pnl}");
    assert_eq!(pnl["items"][0]["title"], "Bose SoundLink Mini", "{pnl}");

    let inventory = bazaar(&data, &["inventory"]);
    assert!(inventory.status.success(), "{}", text(&inventory.stderr));
    let listed = text(&inventory.stdout);
    assert!(
        listed.contains("01JD0000000000000000000010")
            && listed.contains("in_stock")
            && listed.contains("$60.00"),
        "{listed}"
    );
    let csv = bazaar(&data, &["inventory", "--output", "csv", "--status", "sold"]);
    assert_eq!(
        text(&csv.stdout),
        "id,status,title,cost_minor,currency,acquired_at,channels\n"
    );

    let status = bazaar(&data, &["status", "--output", "json"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["records"]["item"], 1, "{status}");
    let search = bazaar(&data, &["search", "soundlink"]);
    assert!(text(&search.stdout).contains("Bose SoundLink Mini"));
    let export = bazaar(&data, &["export"]);
    let export = text(&export.stdout);
    assert!(export.starts_with(r#"{"bazaar_export":1"#), "{export}");
    assert!(export.contains(r#""kind":"transaction""#), "{export}");
    let refused = bazaar(&data, &["status", "--output", "csv"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains("no csv output"));

    // The health check a container runs: no token, through the socket.
    let health = bazaar(&data, &["health"]);
    assert!(health.status.success(), "{}", text(&health.stderr));
    assert!(
        text(&health.stdout).ends_with("healthy\n"),
        "{}",
        text(&health.stdout)
    );
    let ready = bazaar(&data, &["health", "--ready", "--output", "json"]);
    let ready: serde_json::Value = serde_json::from_slice(&ready.stdout).unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(
        ready["health"]["checks"].as_array().unwrap().len(),
        8,
        "{ready}"
    );

    // Writing is the daemon's alone.
    let busy = bazaar(&data, &["reindex"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(text(&busy.stderr).contains("in use by another bazaar process"));

    signal(child.0.id(), libc::SIGTERM);
    assert!(child.0.wait().unwrap().success());
    assert!(!socket.exists(), "the socket goes with the daemon");
    let down = bazaar(&data, &["health"]);
    assert_eq!(down.status.code(), Some(1));
    assert!(
        text(&down.stderr).contains("no daemon is running"),
        "{}",
        text(&down.stderr)
    );
    let after = bazaar(&data, &["pnl", "--output", "csv"]);
    assert!(
        text(&after.stdout).contains("total,cash,USD,0,6000,0,0,0,-6000"),
        "{}",
        text(&after.stdout)
    );
}
