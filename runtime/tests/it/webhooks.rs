//! Outbound webhooks against a test receiver that checks `X-Bazaar-Signature` with
//! `signing::verify_webhook`: signed deliveries, forged and replayed signatures refused,
//! one-click links that work once and expire, retries against a failing receiver.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use bazaar_config::SecretValue;
use bazaar_memory::{ActionRecord, ActionStatus, Store};
use bazaar_policies::signing::{self, SignatureError};
use bazaar_runtime::operator::OperatorSettings;
use serde_json::Value;
use support::{eventually, Harness, Hook, Options};

const SECRET: &str = "whsec_receiver_secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    signature: String,
    delivery: String,
    body: Vec<u8>,
    verified: Result<i64, SignatureError>,
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Answer 500 to this many requests first.
    fail_first: Arc<Mutex<usize>>,
}

impl Receiver {
    fn all(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    fn of(&self, event: &str) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| r.json()["event"] == event)
            .collect()
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get(signing::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let verified = signing::verify_webhook(
        SECRET.as_bytes(),
        &signature,
        &body,
        unix_now(),
        signing::DEFAULT_TOLERANCE_SECS,
    );
    let status = {
        let mut fail = receiver.fail_first.lock().unwrap();
        if verified.is_err() {
            StatusCode::UNAUTHORIZED
        } else if *fail > 0 {
            *fail -= 1;
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        }
    };
    receiver.got.lock().unwrap().push(Received {
        signature,
        delivery: headers
            .get("x-bazaar-delivery")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
        body: body.to_vec(),
        verified,
        answered: status.as_u16(),
    });
    status
}

async fn start_receiver(fail_first: usize) -> (Receiver, String, tokio::task::JoinHandle<()>) {
    let receiver = Receiver::default();
    *receiver.fail_first.lock().unwrap() = fail_first;
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (receiver, url, task)
}

fn hook(url: &str, events: &[&str]) -> Hook {
    Hook {
        url: url.into(),
        secret: SECRET.into(),
        events: events.iter().map(|e| e.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_needed_arrives_signed_and_forged_or_replayed_signatures_are_refused() {
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &[])],
        ..Options::default()
    })
    .await;
    let (action, approval) = h.pending_reprice("BZ-1", "60.00").await;
    let got = eventually("approval_needed delivery", Duration::from_secs(10), || {
        receiver.of("approval_needed").into_iter().next()
    })
    .await;
    assert!(got.verified.is_ok(), "{:?}", got.verified);
    assert_eq!(got.answered, 204);
    assert!(got.signature.starts_with("t=") && got.signature.contains(",v1="));
    let body = got.json();
    assert_eq!(body["data"]["event"], "approval_needed");
    assert_eq!(body["data"]["approval"], approval.to_string());
    assert_eq!(body["data"]["action"], action.to_string());
    let text = body["text"].as_str().unwrap();
    assert!(
        text.starts_with("Approval needed: revise_price BZ-1 for $60.00")
            && text.contains("confidence 63%")
            && !text.contains('\n'),
        "{text}"
    );
    assert_eq!(body["content"], body["text"], "Discord reads `content`");
    assert!(body["sent_at"].as_str().is_some());
    let approve_url = body["approve_url"].as_str().unwrap();
    let reject_url = body["reject_url"].as_str().unwrap();
    assert!(
        approve_url.starts_with(&format!("{}/a/", h.base)),
        "{approve_url}"
    );
    assert!(
        reject_url.starts_with(&format!("{}/a/", h.base)),
        "{reject_url}"
    );
    assert!(text.contains(approve_url));

    // Forged: another secret, or the body altered after signing.
    let now = unix_now();
    assert_eq!(
        signing::verify_webhook(b"not-the-secret", &got.signature, &got.body, now, 300),
        Err(SignatureError::Mismatch)
    );
    let mut altered = got.body.clone();
    let swapped = String::from_utf8(altered.clone())
        .unwrap()
        .replace("BZ-1", "BZ-2");
    altered = swapped.into_bytes();
    assert_eq!(
        signing::verify_webhook(SECRET.as_bytes(), &got.signature, &altered, now, 300),
        Err(SignatureError::Mismatch)
    );
    // Replayed: the same delivery presented ten minutes later is stale.
    assert!(matches!(
        signing::verify_webhook(SECRET.as_bytes(), &got.signature, &got.body, now + 600, 300),
        Err(SignatureError::Stale { .. })
    ));
    // An attacker re-signing an old timestamp without the secret cannot pass either.
    let old = signing::sign_webhook(SECRET.as_bytes(), now - 3600, &got.body);
    assert!(matches!(
        signing::verify_webhook(SECRET.as_bytes(), &old, &got.body, now, 300),
        Err(SignatureError::Stale { .. })
    ));
    // And the receiver refuses a forged request sent to it.
    bazaar_mail::install_crypto_provider();
    let forged = reqwest::Client::new()
        .post(&url)
        .header(
            signing::SIGNATURE_HEADER,
            signing::sign_webhook(b"guess", now, &got.body),
        )
        .body(got.body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert!(receiver.all().last().unwrap().verified.is_err());
    h.stop().await;
    server.abort();
}

async fn links_for(receiver: &Receiver) -> (String, String) {
    let got = eventually("approval_needed delivery", Duration::from_secs(10), || {
        receiver.of("approval_needed").into_iter().next()
    })
    .await;
    let body = got.json();
    (
        body["approve_url"].as_str().unwrap().to_string(),
        body["reject_url"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_click_approve_link_works_once() {
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &["approval_needed"])],
        ..Options::default()
    })
    .await;
    let (action, _) = h.pending_reprice("BZ-2", "35.00").await;
    let (approve_url, reject_url) = links_for(&receiver).await;

    // GET only confirms (link previews must not decide anything).
    let confirm = h.http.get(&approve_url).send().await.unwrap();
    assert_eq!(confirm.status(), reqwest::StatusCode::OK);
    let page = confirm.text().await.unwrap();
    assert!(
        page.contains("Approve") && page.contains("revise_price BZ-2"),
        "{page}"
    );
    assert!(h.market.executions().is_empty(), "a GET must not approve");

    let first = h.http.post(&approve_url).send().await.unwrap();
    assert_eq!(first.status(), reqwest::StatusCode::OK);
    assert!(first.text().await.unwrap().contains("Approved"));
    assert_eq!(h.market.executions().len(), 1);
    let record: ActionRecord = h.system.store.get(&action).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Executed);

    let second = h.http.post(&approve_url).send().await.unwrap();
    assert_eq!(second.status(), reqwest::StatusCode::CONFLICT);
    assert!(second.text().await.unwrap().contains("already used"));
    let again = h.http.get(&approve_url).send().await.unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::CONFLICT);
    // The reject link of a decided approval does nothing either.
    let late_reject = h.http.post(&reject_url).send().await.unwrap();
    assert_eq!(late_reject.status(), reqwest::StatusCode::CONFLICT);
    assert!(late_reject
        .text()
        .await
        .unwrap()
        .contains("already approved"));
    assert_eq!(h.market.executions().len(), 1);

    // A tampered token (the decision flipped) is refused as forged.
    let flipped = reject_url.replace(".reject.", ".approve.");
    let forged = h.http.post(&flipped).send().await.unwrap();
    assert_eq!(forged.status(), reqwest::StatusCode::FORBIDDEN);
    h.stop().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_click_reject_link_rejects_and_an_expired_link_is_refused() {
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &["approval_needed"])],
        link_ttl_minutes: 30,
        ..Options::default()
    })
    .await;
    let (first_action, _) = h.pending_reprice("BZ-3", "25.00").await;
    let (_, reject_url) = links_for(&receiver).await;
    let rejected = h
        .http
        .post(&reject_url)
        .form(&[("reason", "not below $30")])
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), reqwest::StatusCode::OK);
    let record: ActionRecord = h.system.store.get(&first_action).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Rejected);
    assert_eq!(
        record.lifecycle.history.last().unwrap().reason,
        "not below $30"
    );

    let (second_action, _) = h.pending_reprice("BZ-4", "26.00").await;
    let got = eventually("second approval_needed", Duration::from_secs(10), || {
        receiver.of("approval_needed").into_iter().nth(1)
    })
    .await;
    let approve_url = got.json()["approve_url"].as_str().unwrap().to_string();
    // 31 minutes later the 30-minute link is dead.
    h.clock.advance_by(Duration::from_secs(31 * 60));
    let expired = h.http.post(&approve_url).send().await.unwrap();
    assert_eq!(expired.status(), reqwest::StatusCode::GONE);
    assert!(expired.text().await.unwrap().contains("expired"));
    let expired_get = h.http.get(&approve_url).send().await.unwrap();
    assert_eq!(expired_get.status(), reqwest::StatusCode::GONE);
    assert!(h.market.executions().is_empty());
    let record: ActionRecord = h.system.store.get(&second_action).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::PendingApproval);
    h.stop().await;
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_is_retried_and_event_filters_apply() {
    let (receiver, url, server) = start_receiver(2).await;
    let (quiet_receiver, quiet_url, quiet_server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![
            hook(&url, &["approval_needed"]),
            hook(&quiet_url, &["action_executed"]),
        ],
        retries: 3,
        backoff_ms: 50,
        ..Options::default()
    })
    .await;
    h.pending_reprice("BZ-5", "15.00").await;
    let attempts = eventually("a successful retry", Duration::from_secs(10), || {
        let all = receiver.all();
        all.iter().any(|r| r.answered == 204).then_some(all)
    })
    .await;
    assert_eq!(
        attempts.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 204]
    );
    assert!(attempts.iter().all(|r| r.verified.is_ok()));
    assert!(
        attempts.iter().all(|r| r.delivery == attempts[0].delivery),
        "retries keep the delivery id"
    );
    assert!(attempts.iter().all(|r| r.body == attempts[0].body));
    let stats = h.operator.webhook_stats();
    // The receiver records before it answers; the dispatcher counts after: wait for it.
    eventually("the delivery counted", Duration::from_secs(5), || {
        (stats.delivered.load(std::sync::atomic::Ordering::Relaxed) == 1).then_some(())
    })
    .await;
    assert_eq!(stats.retried.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
    // The other hook only wants action_executed: it got nothing yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(quiet_receiver.all().is_empty());
    // The counters survive a restart of the operator side.
    let settings =
        bazaar_runtime::operator::OperatorSettings::from_config(&h.config.operator).unwrap();
    let context = bazaar_runtime::operator::OperatorContext::of(&h.system);
    // The store's directory stays until the end.
    let Harness {
        system,
        operator,
        dir: _dir,
        ..
    } = h;
    operator.stop().await;
    let again = bazaar_runtime::operator::Operator::start(context, settings, None)
        .await
        .unwrap();
    let stats = again.webhook_stats();
    assert_eq!(
        (
            stats.delivered.load(std::sync::atomic::Ordering::Relaxed),
            stats.retried.load(std::sync::atomic::Ordering::Relaxed)
        ),
        (1, 2),
        "counted as before the restart"
    );
    again.stop().await;
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    server.abort();
    quiet_server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_recovers_is_given_up_on_without_blocking_the_gate() {
    let (receiver, url, server) = start_receiver(usize::MAX).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &[])],
        retries: 2,
        backoff_ms: 20,
        ..Options::default()
    })
    .await;
    let started = std::time::Instant::now();
    for i in 0..5 {
        h.pending_reprice(&format!("BZ-{i}"), "10.00").await;
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the gate waited for webhooks"
    );
    let stats = h.operator.webhook_stats();
    eventually("every delivery given up", Duration::from_secs(10), || {
        (stats.failed.load(std::sync::atomic::Ordering::Relaxed) == 5).then_some(())
    })
    .await;
    // Three attempts each (the first and two retries), all refused with 500.
    assert_eq!(receiver.all().len(), 15);
    h.stop().await;
    server.abort();
}

/// A webhook secret rotates without a restart: with the new secret and the old one as
/// `previous_secret`, each delivery carries a signature under both (the receiver, still on
/// the old one, keeps accepting); with the old one dropped, only the new one signs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_secret_rotates_with_both_signatures_meanwhile() {
    const NEW: &str = "whsec_the_new_secret";
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &["approval_needed"])],
        ..Options::default()
    })
    .await;
    let settings = |previous: Option<&str>| {
        let mut config = h.config.operator.clone();
        config.webhooks[0].secret = support::secret_file(h.dir.path(), "hook-new", NEW);
        config.webhooks[0].previous_secret =
            previous.map(|p| support::secret_file(h.dir.path(), "hook-old", p));
        bazaar_runtime::operator::OperatorSettings::from_config(&config).unwrap()
    };
    let verifies = |got: &Received, secret: &str| {
        signing::verify_webhook(
            secret.as_bytes(),
            &got.signature,
            &got.body,
            unix_now(),
            300,
        )
        .is_ok()
    };

    h.operator.reload_secrets(&settings(Some(SECRET))).unwrap();
    h.pending_reprice("BZ-7", "20.00").await;
    let got = eventually(
        "a delivery signed under both",
        Duration::from_secs(10),
        || receiver.of("approval_needed").into_iter().next(),
    )
    .await;
    assert_eq!(
        got.answered, 204,
        "the receiver still on the old secret accepts it"
    );
    assert!(
        verifies(&got, SECRET) && verifies(&got, NEW),
        "{}",
        got.signature
    );
    assert_eq!(got.signature.matches("v1=").count(), 2);

    h.operator.reload_secrets(&settings(None)).unwrap();
    h.pending_reprice("BZ-8", "21.00").await;
    let got = eventually(
        "a delivery signed under the new one",
        Duration::from_secs(10),
        || receiver.of("approval_needed").into_iter().nth(1),
    )
    .await;
    assert!(
        verifies(&got, NEW) && !verifies(&got, SECRET),
        "{}",
        got.signature
    );
    assert_eq!(
        got.answered, 401,
        "the receiver must move to the new secret now"
    );
    h.stop().await;
    server.abort();
}

/// Reloads the operator's secrets with `token` (and `previous`) in force.
fn reload(h: &Harness, token: &str, previous: Option<&str>) {
    let mut settings = OperatorSettings::from_config(&h.config.operator).unwrap();
    settings.token = Some(SecretValue::generated(token.into()));
    settings.previous_token = previous.map(|p| SecretValue::generated(p.into()));
    h.operator.reload_secrets(&settings).unwrap();
}

async fn logged_in(h: &Harness) -> String {
    let response = h
        .http
        .post(h.url("/login"))
        .form(&[("token", support::TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::SEE_OTHER);
    let set = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    set.split(';').next().unwrap().to_string()
}

async fn inbox_status(h: &Harness, cookie: &str) -> reqwest::StatusCode {
    h.http
        .get(h.url("/"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
}

/// Issue 23 (3): after a reload that drops the old token, links it signed (issued by the
/// daemon, or built by hand from it) and its sessions stopped working only at a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_drops_a_token_voids_its_links_and_sessions_at_once() {
    const NEW: &str = "the-new-operator-token-0123456789abcdef";
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &["approval_needed"])],
        ..Options::default()
    })
    .await;
    let (_, approval) = h.pending_reprice("BZ-3", "35.00").await;
    let (approve_url, _) = links_for(&receiver).await;
    let by_hand = format!(
        "{}/a/{}",
        h.base,
        signing::sign_link(
            &signing::derive_key(support::TOKEN.as_bytes(), "link"),
            &signing::LinkClaims {
                approval: approval.to_string(),
                decision: signing::Decision::Approve,
                expires: 4_000_000_000,
                nonce: "feed".into(),
            },
        )
    );
    let cookie = logged_in(&h).await;
    let get = |url: String| {
        let http = h.http.clone();
        async move { http.get(&url).send().await.unwrap().status() }
    };

    // Rotating: the old token is still `previous_token`, so all of it keeps working.
    reload(&h, NEW, Some(support::TOKEN));
    assert_eq!(get(approve_url.clone()).await, reqwest::StatusCode::OK);
    assert_eq!(get(by_hand.clone()).await, reqwest::StatusCode::OK);
    assert_eq!(inbox_status(&h, &cookie).await, reqwest::StatusCode::OK);

    // The old token gone: links and sessions made under it are void, without a restart.
    reload(&h, NEW, None);
    assert_eq!(
        get(approve_url.clone()).await,
        reqwest::StatusCode::FORBIDDEN
    );
    assert_eq!(get(by_hand.clone()).await, reqwest::StatusCode::FORBIDDEN);
    let post = h.http.post(&approve_url).send().await.unwrap();
    assert_eq!(post.status(), reqwest::StatusCode::FORBIDDEN);
    assert_eq!(
        inbox_status(&h, &cookie).await,
        reqwest::StatusCode::SEE_OTHER
    );
    assert!(h.market.executions().is_empty(), "nothing was approved");

    // Links issued from now on are signed under the new token and work.
    let (_, _) = h.pending_reprice("BZ-4", "36.00").await;
    let fresh = eventually("a second approval_needed", Duration::from_secs(10), || {
        let all = receiver.of("approval_needed");
        (all.len() >= 2).then(|| all[1].json()["approve_url"].as_str().unwrap().to_string())
    })
    .await;
    assert_eq!(get(fresh).await, reqwest::StatusCode::OK);
    h.stop().await;
    server.abort();
}

/// Issue 23 (12): one link had several spellings the server accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_another_spelling_is_refused() {
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &["approval_needed"])],
        ..Options::default()
    })
    .await;
    h.pending_reprice("BZ-5", "35.00").await;
    let (approve_url, _) = links_for(&receiver).await;
    let (payload, mac) = approve_url.rsplit_once('.').unwrap();
    let (prefix, _) = payload.split_once("/a/").unwrap();
    let token = &approve_url[prefix.len() + 3..];
    let parts: Vec<&str> = token.split('.').collect();
    let expires = parts[2];
    let variants = [
        format!("{payload}.{}", mac.to_uppercase()),
        format!("{payload}.0{mac}"),
        approve_url.replace(&format!(".{expires}."), &format!(".0{expires}.")),
        approve_url.replace(&format!(".{expires}."), &format!(".+{expires}.")),
        approve_url.replace(parts[0], &parts[0].to_lowercase()),
    ];
    for variant in variants {
        let status = h.http.get(&variant).send().await.unwrap().status();
        assert!(
            status == reqwest::StatusCode::BAD_REQUEST || status == reqwest::StatusCode::FORBIDDEN,
            "{variant}: {status}"
        );
        let status = h.http.post(&variant).send().await.unwrap().status();
        assert_ne!(status, reqwest::StatusCode::OK, "{variant}");
    }
    assert!(h.market.executions().is_empty());
    let status = h.http.get(&approve_url).send().await.unwrap().status();
    assert_eq!(status, reqwest::StatusCode::OK, "the one spelling works");
    h.stop().await;
    server.abort();
}

/// Issue 23 (11): seller text reached Slack and Discord raw — `@everyone` pinged everyone
/// and a markdown link rendered as a disguised link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seller_text_in_a_webhook_cannot_ping_or_plant_a_link() {
    let (receiver, url, server) = start_receiver(0).await;
    let h = Harness::start(Options {
        hooks: vec![hook(&url, &["approval_needed"])],
        ..Options::default()
    })
    .await;
    h.pending_reprice(
        "@everyone urgent [refund](https://evil.test) <!here>",
        "35.00",
    )
    .await;
    let got = eventually("approval_needed delivery", Duration::from_secs(10), || {
        receiver.of("approval_needed").into_iter().next()
    })
    .await;
    let body = got.json();
    let text = body["text"].as_str().unwrap();
    assert!(!text.contains("@everyone"), "{text}");
    assert!(!text.contains("](https://evil.test)"), "{text}");
    assert!(!text.contains("<!here>"), "{text}");
    assert!(text.contains("refund"), "the words are still there: {text}");
    assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
    h.stop().await;
    server.abort();
}
