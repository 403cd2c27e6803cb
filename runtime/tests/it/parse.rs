//! `bazaar parse` on real pages and mail. Each reply that real mail clients wrote (talon's
//! and mail-parser's fixtures, `../shared/data/real/email/`) gives its new text and none of
//! the quoted history, through the same parse the daemon's mailroom uses (the `.html`
//! fixtures are bare bodies: each is wrapped as a `text/html` message, so it takes the same
//! path); real Craigslist pages give every row they show.

use std::path::{Path, PathBuf};
use std::process::Command;

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real/email")
        .join(name)
}

fn real_page(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real/craigslist")
        .join(name)
}

/// Runs `bazaar parse email` on `file` (our $60 offer on a $100 listing); its one line.
fn parse(file: &Path) -> serde_json::Value {
    let out = Command::new(BAZAAR)
        .args(["parse", "email"])
        .arg(file)
        .args(["--listing-price", "100", "--our-offer", "60"])
        .output()
        .expect("bazaar runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    serde_json::from_str(lines[0]).unwrap()
}

/// A `.html` fixture as the message a client would send.
fn wrapped(name: &str, dir: &Path) -> PathBuf {
    let html = std::fs::read(real(name)).unwrap();
    let mut raw =
        b"From: seller@example.com\r\nTo: agent@bazaar.test\r\nSubject: Re: your offer\r\n\
        Message-ID: <fixture@example.com>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/html; charset=\"utf-8\"\r\n\r\n"
            .to_vec();
    raw.extend_from_slice(&html);
    let stem = Path::new(name).file_name().unwrap().to_string_lossy();
    let path = dir.join(format!("{stem}.eml"));
    std::fs::write(&path, raw).unwrap();
    path
}

#[track_caller]
fn check(file: &Path, new_text: &str, history: &[&str]) {
    let line = parse(file);
    let body = line["body"].as_str().unwrap();
    let squeezed: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(squeezed, new_text, "{}: {body:?}", file.display());
    for quoted in history {
        assert!(
            !body.contains(quoted),
            "{}: {quoted:?} leaked into {body:?}",
            file.display()
        );
    }
    assert!(line["reading"]["intent"].is_string(), "{line}");
}

const TALON_HISTORY: &[&str] = &["Hi\n", "wrote", "Original Message", "Subject:", "> "];
const HTML_HISTORY: &[&str] = &["Hello! How are you?", "Sasha", "wrote", "Subject:", "From:"];

#[test]
fn android() {
    check(&real("talon/android.eml"), "Hello", &["написал", "bob@"]);
}

#[test]
fn apple_mail() {
    check(&real("talon/apple_mail.eml"), "Hello", TALON_HISTORY);
}

#[test]
fn gmail() {
    check(&real("talon/gmail.eml"), "Hello", TALON_HISTORY);
}

#[test]
fn iphone() {
    check(
        &real("talon/iphone.eml"),
        "Hello",
        &["Sent from my iPhone", "wrote", "> Hi"],
    );
}

#[test]
fn outlook() {
    check(
        &real("talon/outlook.eml"),
        "Hello",
        &["From:", "manager", "Loop"],
    );
}

#[test]
fn thunderbird_bottom_posted() {
    check(&real("talon/thunderbird.eml"), "Hello", &["wrote", "> Hi"]);
}

#[test]
fn yahoo() {
    check(&real("talon/yahoo.eml"), "Hello", TALON_HISTORY);
}

#[test]
fn gmail_html() {
    let dir = tempfile::tempdir().unwrap();
    check(
        &wrapped("talon/gmail.html", dir.path()),
        "Hi. I am fine. Thanks,Alex",
        HTML_HISTORY,
    );
}

#[test]
fn hotmail_html() {
    let dir = tempfile::tempdir().unwrap();
    check(
        &wrapped("talon/hotmail.html", dir.path()),
        "Hi. I am fine. Thanks,Alex",
        HTML_HISTORY,
    );
}

#[test]
fn outlook_2010_html() {
    let dir = tempfile::tempdir().unwrap();
    check(
        &wrapped("talon/ms_outlook_2010.html", dir.path()),
        "Hi. I am fine. Thanks, Alex",
        HTML_HISTORY,
    );
}

#[test]
fn thunderbird_html() {
    let dir = tempfile::tempdir().unwrap();
    check(
        &wrapped("talon/thunderbird.html", dir.path()),
        "Hi. I am fine. Thanks, Alex",
        HTML_HISTORY,
    );
}

#[test]
fn messages_without_history_keep_all_their_text() {
    check(&real("010.eml"), "人権の無視及", &[]);
    let line = parse(&real("014.eml"));
    let body = line["body"].as_str().unwrap();
    assert!(
        body.starts_with("Dear all,") && body.contains("help me"),
        "{body}"
    );
    let line = parse(&real("legacy_001.eml"));
    assert!(
        line["body"]
            .as_str()
            .unwrap()
            .starts_with("Die Hasen und die Frösche"),
        "{line}"
    );
    assert_eq!(
        line["subject"],
        "Die Hasen und die Frösche (Microsoft Outlook 00)"
    );
}

#[test]
fn an_unreadable_file_gets_its_own_error_line_and_a_bad_price_is_refused() {
    let out = Command::new(BAZAAR)
        .args(["parse", "email", "/nonexistent/x.eml"])
        .arg(real("talon/gmail.eml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a file it could not read fails the command"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines[0]["error"].as_str().unwrap().contains("cannot read"),
        "{text}"
    );
    assert_eq!(lines[1]["body"], "Hello");
    assert_eq!(
        lines[1]["reading"],
        serde_json::Value::Null,
        "no listing price, no reading"
    );
    let bad = Command::new(BAZAAR)
        .args(["parse", "email", "--listing-price", "lots"])
        .arg(real("talon/gmail.eml"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--listing-price"));
}

#[test]
fn craigslist_pages_give_every_row_and_their_postings() {
    for (name, rows) in [
        ("wauwatosa_search.html", 37),
        ("sosedoff_results.html", 120),
    ] {
        let out = Command::new(BAZAAR)
            .args(["parse", "craigslist"])
            .arg(real_page(name))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), rows, "{name}");
        assert!(
            lines.iter().all(|l| l["row"]["external_id"].is_string()),
            "{name}"
        );
    }
    let out = Command::new(BAZAAR)
        .args(["parse", "craigslist"])
        .arg(real_page("sosedoff_listing1.html"))
        .arg("/nonexistent/page.html")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["listing"]["title"], "2011 Porsche Cayenne Turbo");
    assert_eq!(lines[0]["listing"]["location"], "Glen Ellyn");
    assert!(
        lines[1]["error"].as_str().unwrap().contains("cannot read"),
        "{text}"
    );
    assert!(lines[1]["file"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/page.html"));
}

/// `bazaar parse ebay` on eBay's real Browse answers: one line per item the answer holds,
/// the multi-variation listings marked with their group (a search passes them over: their
/// one display price is no variant's price), each leaf category mapped through its
/// ancestors, and the first item of each file read field by field.
#[test]
fn ebay_answers_give_every_item_with_variation_groups_marked() {
    #[track_caller]
    fn check(name: &str, items: usize, groups: usize, first: &[(&str, serde_json::Value)]) {
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/data/real/ebay")
            .join(name);
        let out = Command::new(BAZAAR)
            .args(["parse", "ebay"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let on_page =
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(&file).unwrap())
                .unwrap()["itemSummaries"]
                .as_array()
                .map_or(1, Vec::len);
        assert_eq!((lines.len(), on_page), (items, items), "{name}: items read");
        let grouped: Vec<&serde_json::Value> = lines
            .iter()
            .filter(|l| l["item_group"].is_string())
            .collect();
        assert_eq!(grouped.len(), groups, "{name}: variation groups");
        assert!(grouped
            .iter()
            .all(|l| l["passed"].as_str().unwrap().contains("passed")));
        assert!(
            lines.iter().all(|l| l["error"].is_null()),
            "{name}: {lines:?}"
        );
        for (field, want) in first {
            assert_eq!(&lines[0]["listing"][field], want, "{name}: {field}");
        }
    }
    use serde_json::json;
    check(
        "ealerts_sample_response_100.json",
        100,
        96,
        &[
            ("external_id", json!("v1|385462201428|653317790198")),
            ("price", json!({"minor": 75, "currency": "USD"})),
            ("condition", json!("new")),
            ("category", json!("phone")),
            ("location", json!("CN")),
            ("listed_at", json!("2023-03-07T12:04:38Z")),
        ],
    );
    check(
        "gpuagent_api-browse-search-NVIDIA_RTX_A5000.json",
        3,
        0,
        &[
            ("external_id", json!("v1|296057072805|0")),
            ("title", json!("NVIDIA RTX A5000 24GB GDDR6 Graphics Card")),
            ("price", json!({"minor": 150000, "currency": "USD"})),
            ("condition", json!("good")),
            ("category", json!("electronics")),
            ("location", json!("AE")),
        ],
    );
    check(
        "gpuagent_api-browse-getItem-176033835717.json",
        1,
        0,
        &[
            ("external_id", json!("v1|176033835717|0")),
            ("price", json!({"minor": 137000, "currency": "USD"})),
            ("condition", json!("new")),
            ("category", json!("electronics")),
            ("location", json!("JERUSALEM, IL")),
        ],
    );
}
