//! `bazaar sim`: the whole system against the simulated world, with a report.

use std::process::Command;

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

/// `bazaar` with `args`.
fn bazaar<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(BAZAAR);
    command.args(args);
    command
}

/// Runs `command` (logging at `level`) and expects it to succeed.
fn bazaar_ok(command: &mut Command, level: &str) -> std::process::Output {
    let output = command.env("RUST_LOG", level).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The `report.json` a run wrote to `out`.
fn read_report(out: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap()
}

#[test]
fn sim_runs_the_business_and_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sim = ["sim", "--scenario", "small", "--days", "3", "--seed", "9"];
    let output = bazaar_ok(bazaar(sim).arg("--out").arg(&out), "warn");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("day 3/3"), "progress per day: {stdout}");
    assert!(stdout.contains("funnel:"), "{stdout}");

    let report = read_report(&out);
    for key in [
        "revenue",
        "cost_of_goods",
        "fees",
        "shipping",
        "profit",
        "roi",
        "stock_at_cost",
        "cash",
    ] {
        assert!(report["pnl"].get(key).is_some(), "pnl.{key} in {report:#}");
    }
    // Profit is on the goods sold; the cash view also spent what is still in stock.
    let pnl_minor = |key: &str| report["pnl"][key].as_i64().unwrap();
    assert_eq!(
        pnl_minor("profit") - pnl_minor("cash"),
        pnl_minor("stock_at_cost"),
        "{report:#}"
    );
    for key in [
        "found", "analyzed", "pursued", "agreed", "bought", "listed", "sold",
    ] {
        assert!(report["funnel"][key].is_u64(), "funnel.{key} in {report:#}");
    }
    for key in [
        "deal_rate",
        "feasible_deal_rate",
        "feasible_deal_rate_answered",
        "surplus_captured",
        "mean_rounds",
    ] {
        assert!(report["negotiation"][key].is_number(), "negotiation.{key}");
    }
    // Every feasible deal not closed is put down to a reason, and only to known ones.
    let lost = report["negotiation"]["feasible_lost"].as_object().unwrap();
    let known = [
        "gate_refused",
        "sold_elsewhere",
        "never_answered",
        "still_open",
        "round_limit",
        "walked_away",
        "other",
    ];
    assert!(lost.keys().all(|k| known.contains(&k.as_str())), "{lost:?}");
    for key in ["executed", "approved", "rejected", "blocked", "undone"] {
        assert!(report["policy"][key].is_u64(), "policy.{key}");
    }
    assert!(
        report["policy"]["operator_mistakes"].is_u64(),
        "the scripted operator"
    );
    assert!(out.join("timing.json").exists());
    assert!(report["wall_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(report["seed"], 9);
    // The agent really scanned the world: it found listings and analyzed them (all but
    // near-duplicates of listings on another marketplace).
    let found = report["funnel"]["found"].as_u64().unwrap();
    let analyzed = report["funnel"]["analyzed"].as_u64().unwrap();
    assert!(found > 10, "{report:#}");
    assert!(
        analyzed <= found && analyzed * 10 >= found * 9,
        "{report:#}"
    );
    assert!(out.join("ground_truth.json").exists() && out.join("events.jsonl").exists());
    // One cash/inventory point per day from day 0, and the page drawn from the report.
    let daily = report["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 4, "{daily:?}");
    assert!(daily
        .iter()
        .all(|d| d["cash"].is_i64() && d["inventory"].is_i64()));
    assert!(report["selling"]["oversells"].is_u64(), "{report:#}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let typed: bazaar_runtime::simulate::Report =
        serde_json::from_value(report.clone()).expect("report.json reads back as a Report");
    assert_eq!(html, bazaar_runtime::report_html::render(&typed));
    assert!(html.contains("<polyline") && !html.contains("<script"));
}

/// Every log line of a sim run, at the most verbose levels, and none holds a credential: the
/// eBay client secret, any token or code the eBay sim issued (they all start `v^1.1#i^1#`),
/// or an Authorization header.
#[test]
fn no_secret_reaches_the_logs_of_a_verbose_sim_run() {
    let dir = tempfile::tempdir().unwrap();
    let sim = ["sim", "--scenario", "small", "--days", "2", "--seed", "3"];
    let output = bazaar_ok(
        bazaar(sim).arg("--out").arg(dir.path().join("out")),
        "debug,bazaar_agents=trace,bazaar_runtime=trace,bazaar_policies=trace",
    );
    let logs = [output.stdout, output.stderr].concat();
    let logs = String::from_utf8_lossy(&logs);
    assert!(
        logs.lines().count() > 1_000,
        "the run logged at trace level"
    );
    let secret = bazaar_sim::ebay::EbayConfig::default().client_secret;
    for needle in [secret.as_str(), "v^1.1#i^1#", "Bearer ", "authorization: "] {
        let found: Vec<&str> = logs
            .lines()
            .filter(|l| {
                l.to_ascii_lowercase()
                    .contains(&needle.to_ascii_lowercase())
            })
            .take(3)
            .collect();
        assert!(found.is_empty(), "{needle:?} in the logs: {found:#?}");
    }
}

/// The same scenario and seed give the same report, apart from what the machine measures
/// (`wall_seconds`, and the delist latency, which is wall time). Two runs of the busiest
/// start of the `default` world, where the agent searches, values, negotiates by mail and
/// buys: every agent timer, id and index commit has to land the same way.
#[test]
fn the_same_seed_gives_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let out = dir.path().join(name);
        let sim = ["sim", "--scenario", "default", "--days", "4", "--seed", "7"];
        bazaar_ok(bazaar(sim).arg("--out").arg(&out), "error");
        let mut report = read_report(&out);
        let object = report.as_object_mut().unwrap();
        object.remove("wall_seconds").expect("wall_seconds");
        object["selling"]
            .as_object_mut()
            .unwrap()
            .remove("delist_latency_ms")
            .expect("delist latency");
        report
    };
    let first = run("first");
    let second = run("second");
    // Something happened worth comparing.
    assert!(
        first["funnel"]["negotiated"].as_u64().unwrap() > 0,
        "{first:#}"
    );
    assert_eq!(first, second);
}

/// `--compare` runs the seed's and the naive baselines on the same world and seed and puts
/// their P&L and negotiation figures beside ours; `--strategy` runs one of them alone.
#[test]
fn compare_runs_the_baselines_on_the_same_world() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sim = ["sim", "--days", "3", "--seed", "7", "--compare", "--out"];
    let output = bazaar_ok(bazaar(sim).arg(&out), "error");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("compared on the same world"), "{stdout}");
    let report = read_report(&out);
    assert_eq!(report["strategy"], "ours");
    for name in ["seed", "naive"] {
        let baseline = &report["baselines"][name];
        for key in [
            "revenue",
            "cost_of_goods",
            "fees",
            "shipping",
            "profit",
            "roi",
        ] {
            assert!(
                baseline["pnl"].get(key).is_some(),
                "{name}: pnl.{key} in {report:#}"
            );
        }
        for key in [
            "deal_rate",
            "feasible_deal_rate",
            "surplus_captured",
            "mean_rounds",
        ] {
            assert!(
                baseline["negotiation"][key].is_number(),
                "{name}: negotiation.{key}"
            );
        }
        // Each baseline ran for real, with its own report beside.
        let own: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(out.join("baselines").join(name).join("report.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(own["strategy"], name);
        assert_eq!(own["pnl"], baseline["pnl"]);
        assert!(own["funnel"]["found"].as_u64().unwrap() > 10);
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("Against the baselines"),
        "the page compares too"
    );
}

/// `--interactive`: the world waits while actions need approval, and a person answers them
/// over the operator API (as the inbox page does); their approvals are in the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interactive_sim_waits_for_the_operators_approvals() {
    use tokio::io::AsyncBufReadExt;
    const TOKEN: &str = "interactive-test-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = tokio::process::Command::new(BAZAAR)
        .args(["sim", "--days", "3", "--seed", "7", "--interactive"])
        .args(["--listen", "127.0.0.1:0", "--out"])
        .arg(&out)
        .env("BAZAAR_OPERATOR_TOKEN", TOKEN)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    bazaar_mail::install_crypto_provider();
    let http = reqwest::Client::new();
    let mut base = None;
    let mut approved = 0;
    let mut asked = std::collections::BTreeSet::new();
    let mut waited = false;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(240);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sim did not finish"
        );
        let line =
            tokio::time::timeout(std::time::Duration::from_millis(200), lines.next_line()).await;
        match line {
            Ok(Ok(Some(line))) => {
                if let Some(rest) = line.strip_prefix("interactive: approve or reject at ") {
                    base = Some(rest.split('/').take(3).collect::<Vec<_>>().join("/"));
                }
                waited |= line.starts_with("waiting:");
                continue;
            }
            Ok(Ok(None)) => break,
            Ok(Err(error)) => panic!("{error}"),
            Err(_) => {}
        }
        let Some(base) = &base else { continue };
        let Ok(response) = http
            .get(format!("{base}/api/approvals"))
            .bearer_auth(TOKEN)
            .send()
            .await
        else {
            continue;
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        for approval in body["approvals"].as_array().into_iter().flatten() {
            if approval["action"].is_null() {
                continue;
            }
            let id = approval["id"].as_str().unwrap();
            asked.insert(id.to_string());
            let answer = http
                .post(format!("{base}/api/approvals/{id}/approve"))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            if answer.status().is_success() {
                approved += 1;
            }
        }
    }
    assert!(child.wait().await.unwrap().success());
    assert!(base.is_some(), "the inbox address was printed");
    assert!(
        waited && approved > 0,
        "the world waited for {approved} approvals"
    );
    let report = read_report(&out);
    // Every approval in the report is one this operator gave (an approve whose action then
    // failed answers an error, yet counts as approved).
    let in_report = report["policy"]["approved"].as_u64().unwrap() as usize;
    assert!(
        (approved..=asked.len()).contains(&in_report),
        "{in_report} approved; {approved} answered ok of {} asked",
        asked.len()
    );
    assert!(
        report["policy"].get("operator_mistakes").is_none(),
        "no scripted operator"
    );
}

/// The scripted operator's error rate: at 100 % it rejects every action it is asked about,
/// and the report counts its mistakes.
#[test]
fn the_scripted_operator_makes_its_configured_mistakes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sim = [
        "sim",
        "--days",
        "3",
        "--seed",
        "7",
        "--operator-error-percent",
        "100",
    ];
    bazaar_ok(
        bazaar(sim)
            .args(["--operator-delay-minutes", "0", "--out"])
            .arg(&out),
        "error",
    );
    let report = read_report(&out);
    let policy = &report["policy"];
    assert_eq!(policy["approved"], 0, "{policy}");
    let mistakes = policy["operator_mistakes"].as_u64().unwrap();
    assert!(mistakes > 0, "{policy}");
    assert!(policy["rejected"].as_u64().unwrap() >= mistakes, "{policy}");
    let bad = bazaar(["sim", "--operator-error-percent", "101"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// By default the sim browses the JavaScript marketplace with Chromium (it must be installed
/// under `CI=true`); without Chromium the run says it skipped the site and still completes;
/// `--no-browser` leaves the site out and says so.
#[test]
fn browser_runs_read_the_javascript_marketplace_or_say_they_skipped_it() {
    let chromium = bazaar_agents::connectors::marketplace::find_chromium();
    if chromium.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("chromium is not installed, and CI must run the sim with the browser: run .ci/test.sh as root");
    }
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, browser: bool| {
        let out = dir.path().join(name);
        let mut command = bazaar(["sim", "--scenario", "small", "--days", "1", "--seed", "9"]);
        command.arg("--out").arg(&out);
        if !browser {
            command.arg("--no-browser");
        }
        let output = bazaar_ok(&mut command, "warn");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let timing: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("timing.json")).unwrap())
                .unwrap();
        (stdout, read_report(&out), timing)
    };
    let (stdout, without, timing) = run("without", false);
    assert!(
        stdout.contains("JavaScript marketplace is left out (--no-browser)"),
        "{stdout}"
    );
    assert!(timing["browser_items_read"].is_null(), "{timing}");
    let (stdout, with, timing) = run("with", true);
    if chromium.is_none() {
        assert!(
            stdout.contains("skipped: Chromium is not installed"),
            "{stdout}"
        );
        assert_eq!(with["funnel"], without["funnel"]);
        return;
    }
    assert!(stdout.contains("browsed with Chromium"), "{stdout}");
    let pages = timing["browser_items_read"].as_u64().unwrap();
    assert!(pages > 0, "{timing}");
    let found = |r: &serde_json::Value| r["funnel"]["found"].as_u64().unwrap();
    assert!(
        found(&with) > found(&without),
        "the site's listings are found too: {} vs {}",
        found(&with),
        found(&without)
    );
}

/// An email the gate blocks pauses its negotiation, and the operator hears of it once: the
/// default world's first day has sellers of items over $200 whose opening offers the
/// seed's confidence model blocks (a rule's first execution).
#[test]
fn a_blocked_email_puts_a_task_in_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    // Day 1's first offer is over $200. With such actions weighed at 0.3 (the operator's
    // --config), it scores 0.3 on its own merits, below the 0.5 line: blocked (an action
    // short only of oversight would go to the operator instead).
    let config = dir.path().join("bazaar.toml");
    std::fs::write(&config, "[policy.confidence]\nhigh_value_factor = 0.3\n").unwrap();
    bazaar_ok(
        bazaar(["--config"])
            .arg(&config)
            .args(["sim", "--days", "1", "--out"])
            .arg(&out)
            .arg("--data-dir")
            .arg(&data),
        "warn",
    );
    let audit = bazaar_ok(bazaar(["--data-dir"]).arg(&data).arg("audit"), "warn");
    let audit = String::from_utf8_lossy(&audit.stdout);
    let blocked = audit
        .lines()
        .filter(|l| l.contains(" blocked ") && l.contains("\"send_email\""))
        .count();
    let tasks = audit
        .lines()
        .filter(|l| l.contains("task_opened") && l.contains("an email to the seller"))
        .count();
    assert!(
        blocked > 0,
        "the world has a blocked email on day 1:\n{audit}"
    );
    assert_eq!(tasks, blocked, "one task per blocked email:\n{audit}");
}
