//! `bazaar understand` as a user runs it: JSON lines in, one reading per line out, in order.

use std::io::Write;
use std::process::{Command, Stdio};

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

fn understand(input: impl AsRef<[u8]>) -> (Vec<serde_json::Value>, String, bool) {
    let mut child = Command::new(BAZAAR)
        .arg("understand")
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bazaar runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_ref())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each output line is JSON"))
        .collect();
    (
        lines,
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

#[test]
fn one_reading_per_line_in_order() {
    let input = r#"{"text": "best I can do is 80", "listing_price": 100, "our_last_offer": 60}
{"text": "ok deal", "listing_price": 100, "our_last_offer": 75}
{"text": "It's a 2014 with 65k miles, I paid 9000. I'd take $7,500.", "listing_price": 8900, "our_last_offer": null}
{"text": "Sorry, it sold yesterday.", "listing_price": 100, "our_last_offer": 70}
{"text": "Is it for you or a gift?", "listing_price": 12.5}
{"text": "I could do 12.50", "listing_price": 15, "our_last_offer": 10}
"#;
    let (lines, stderr, ok) = understand(input);
    assert!(ok, "{stderr}");
    let summary: Vec<(String, serde_json::Value)> = lines
        .iter()
        .map(|line| {
            let confidence = line["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&confidence), "{line}");
            (
                line["intent"].as_str().unwrap().to_string(),
                line["price"].clone(),
            )
        })
        .collect();
    let expected = [
        ("counter", serde_json::json!(80)),
        ("accept", serde_json::json!(75)),
        ("counter", serde_json::json!(7500)),
        ("reject", serde_json::Value::Null),
        ("question", serde_json::Value::Null),
        ("counter", serde_json::json!(12.5)),
    ];
    let expected: Vec<(String, serde_json::Value)> = expected
        .into_iter()
        .map(|(intent, price)| (intent.to_string(), price))
        .collect();
    assert_eq!(summary, expected);
    assert_eq!(lines[3]["reason"], "sold_elsewhere");
}

#[test]
fn a_bad_line_keeps_its_place_and_is_reported() {
    let input = r#"{"text": "deal", "listing_price": 50, "our_last_offer": 40}
not json at all
{"text": "how about 45?", "our_last_offer": 40}

{"text": "45 firm", "listing_price": 50, "our_last_offer": 40}
"#;
    let (lines, stderr, ok) = understand(input);
    assert!(ok, "a bad line is not a failed run: {stderr}");
    assert_eq!(
        lines.len(),
        4,
        "one output per non-blank input line: {lines:?}"
    );
    assert_eq!(lines[0]["intent"], "accept");
    assert_eq!(lines[0]["price"], 40);
    for (bad, line_number) in [(&lines[1], 2), (&lines[2], 3)] {
        assert_eq!(bad["intent"], "other");
        assert_eq!(bad["price"], serde_json::Value::Null);
        assert_eq!(bad["confidence"], 0.0);
        let error = bad["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("line {line_number}:")),
            "{error}"
        );
        assert!(
            stderr.contains(&format!("line {line_number}:")),
            "stderr names the line: {stderr}"
        );
    }
    assert!(lines[2]["error"]
        .as_str()
        .unwrap()
        .contains("listing_price"));
    assert_eq!(lines[3]["intent"], "counter");
    assert_eq!(lines[3]["price"], 45);
}

#[test]
fn a_line_that_is_not_utf8_gets_an_error_line_and_the_rest_are_answered() {
    let mut input = br#"{"text": "best I can do is 80", "listing_price": 100, "our_last_offer": 60}
{"text": "150 firm "#
        .to_vec();
    input.extend_from_slice(&[0xff, 0xfe, b'"', b'}', b'\n']);
    input.extend_from_slice(
        br#"{"text": "ok deal", "listing_price": 100, "our_last_offer": 75}
"#,
    );
    let (lines, stderr, ok) = understand(&input);
    assert!(ok, "{stderr}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["price"], serde_json::json!(80));
    assert!(
        lines[1]["error"].as_str().unwrap().contains("not UTF-8"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[1]["intent"], "other");
    assert_eq!(lines[2]["intent"], "accept");
    assert!(stderr.contains("line 2"), "{stderr}");
}

#[test]
fn a_line_over_the_cap_gets_an_error_line_and_the_rest_are_answered() {
    let long = format!(
        "{{\"text\": \"{}\", \"listing_price\": 100}}\n",
        "a".repeat(300 * 1024)
    );
    let input = format!(
        "{long}{{\"text\": \"best I can do is 80\", \"listing_price\": 100, \"our_last_offer\": 60}}\n"
    );
    let (lines, stderr, ok) = understand(&input);
    assert!(ok, "{stderr}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0]["error"].as_str().unwrap().contains("longer than"));
    assert_eq!(lines[1]["price"], serde_json::json!(80));
}
