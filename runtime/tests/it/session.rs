//! `bazaar session import` as an operator runs it: invalid exports are refused naming the
//! entry, a valid one is stored for the owner only, and no cookie value is ever printed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use bazaar_agents::connectors::marketplace::Session;

/// The cookie values of the sealed session at `path`.
fn values(path: &Path) -> Vec<String> {
    let session = Session::load(path)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("no session at {}", path.display()));
    session.cookies.iter().map(|c| c.value.clone()).collect()
}

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

const SECRET_A: &str = "AQHx-very-secret-c_user-value";
const SECRET_B: &str = "xs-32%3Asecret-token-value";

fn bazaar(data_dir: &Path, args: &[&str]) -> Output {
    bazaar_with(data_dir, args, &[])
}

fn bazaar_with(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BAZAAR)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("BAZAAR_SECRETS_KEY")
        .env_remove("BAZAAR_SECRETS_PASSPHRASE")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("bazaar runs: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Neither stream shows a cookie value.
fn assert_no_secret(output: &Output) {
    for stream in [text(&output.stdout), text(&output.stderr)] {
        assert!(!stream.contains(SECRET_A), "{stream}");
        assert!(!stream.contains(SECRET_B), "{stream}");
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What Cookie-Editor writes (fields it adds are ignored).
fn export(second_domain: Option<&str>) -> String {
    let mut second = serde_json::json!({
        "name": "xs",
        "value": SECRET_B,
        "path": "/",
        "expirationDate": 1_900_000_000.5,
        "httpOnly": true,
        "secure": true,
        "sameSite": "no_restriction",
        "hostOnly": false,
        "session": false,
        "storeId": "0"
    });
    if let Some(domain) = second_domain {
        second["domain"] = serde_json::json!(domain);
    }
    serde_json::json!([
        {
            "name": "c_user",
            "value": SECRET_A,
            "domain": ".facebook.com",
            "path": "/",
            "expires": 1_950_000_000,
            "httpOnly": false,
            "secure": true
        },
        second
    ])
    .to_string()
}

#[test]
fn invalid_exports_are_refused_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let stored = data.join("secrets/sessions/facebook.json");

    // The second cookie has no domain.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, export(None)).unwrap_or_else(|e| panic!("{e}"));
    let out = bazaar(
        &data,
        &["session", "import", "facebook", bad.to_str().unwrap_or("")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("cookie 2 (\"xs\")"), "{stderr}");
    assert!(stderr.contains("domain"), "{stderr}");
    assert_no_secret(&out);
    assert!(!stored.exists());

    // Not JSON at all.
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "c_user=123; xs=456").unwrap_or_else(|e| panic!("{e}"));
    let out = bazaar(
        &data,
        &[
            "session",
            "import",
            "facebook",
            garbage.to_str().unwrap_or(""),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not json"),
        "{}",
        text(&out.stderr)
    );

    // A file that is not there.
    let out = bazaar(
        &data,
        &["session", "import", "facebook", "/nonexistent/cookies.json"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/cookies.json"));

    // Marketplaces that are not browser-driven, or not known.
    let good = dir.path().join("good.json");
    std::fs::write(&good, export(Some(".facebook.com"))).unwrap_or_else(|e| panic!("{e}"));
    let out = bazaar(
        &data,
        &["session", "import", "ebay", good.to_str().unwrap_or("")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs no session"),
        "{}",
        text(&out.stderr)
    );
    let out = bazaar(
        &data,
        &["session", "import", "myspace", good.to_str().unwrap_or("")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown marketplace"),
        "{}",
        text(&out.stderr)
    );
    assert_no_secret(&out);
    assert!(!stored.exists());
}

#[test]
fn a_valid_export_is_stored_0600_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let good = dir.path().join("cookies.json");
    std::fs::write(&good, export(Some(".facebook.com"))).unwrap_or_else(|e| panic!("{e}"));

    let out = bazaar(
        &data,
        &["session", "import", "facebook", good.to_str().unwrap_or("")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_secret(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("session for facebook stored: 2 cookies, expires 2030-03-17 17:46 UTC"),
        "{stdout}"
    );

    let stored = data.join("secrets/sessions/facebook.json");
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(mode(&data.join("secrets/sessions")), 0o700);
    // Sealed at rest: the file holds neither value; opened with the key, both.
    let sealed = String::from_utf8_lossy(&std::fs::read(&stored).unwrap_or_else(|e| panic!("{e}")))
        .into_owned();
    assert!(
        !sealed.contains(SECRET_A) && !sealed.contains(SECRET_B),
        "{sealed}"
    );
    let kept = values(&stored);
    assert!(kept.contains(&SECRET_A.to_string()) && kept.contains(&SECRET_B.to_string()));

    // `bazaar status` says what there is, not what it holds.
    let out = bazaar(&data, &["status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_secret(&out);
    assert!(
        text(&out.stdout).contains("session for facebook  2 cookies, expires 2030-03-17 17:46 UTC"),
        "{}",
        text(&out.stdout)
    );

    // A fresh export replaces the old one, still 0600.
    let fresh = serde_json::json!([{
        "name": "c_user", "value": SECRET_A, "domain": ".facebook.com", "path": "/",
        "httpOnly": true, "secure": true
    }]);
    std::fs::write(&good, fresh.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = bazaar(
        &data,
        &["session", "import", "facebook", good.to_str().unwrap_or("")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 cookie, session cookies only"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(mode(&stored), 0o600);
    assert_eq!(values(&stored), [SECRET_A.to_string()]);
}

/// With `BAZAAR_SECRETS_PASSPHRASE`, the key is derived with Argon2id from the passphrase
/// and a salt kept beside the sessions (0600); no key file is written, and another
/// passphrase cannot open what was sealed.
#[test]
fn a_passphrase_seals_sessions_through_argon2id() {
    const PASSPHRASE: &str = "a long passphrase for the sessions";
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let data = dir.path().join("data");
    let good = dir.path().join("cookies.json");
    std::fs::write(&good, export(Some(".facebook.com"))).unwrap_or_else(|e| panic!("{e}"));
    let import = ["session", "import", "facebook", good.to_str().unwrap_or("")];
    let with = |passphrase| [("BAZAAR_SECRETS_PASSPHRASE", passphrase)];

    let out = bazaar_with(&data, &import, &with(PASSPHRASE));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_no_secret(&out);
    assert_eq!(mode(&data.join("secrets/salt")), 0o600);
    assert!(
        !data.join("secrets/key").exists(),
        "no key file beside a passphrase"
    );
    let sealed = std::fs::read(data.join("secrets/sessions/facebook.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!String::from_utf8_lossy(&sealed).contains(SECRET_A));

    let out = bazaar_with(&data, &["status"], &with(PASSPHRASE));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("session for facebook  2 cookies"),
        "{}",
        text(&out.stdout)
    );
    let out = bazaar_with(&data, &["status"], &with("not the passphrase at all"));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("sealed with another key"), "{said}");
    assert!(
        !said.contains(PASSPHRASE) && !said.contains("not the passphrase"),
        "{said}"
    );
    // too short to be a passphrase: refused, saying why
    let out = bazaar_with(&data, &import, &with("short"));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 12 characters"),
        "{}",
        text(&out.stderr)
    );
}
