//! The inbox page: as plain HTML forms (no JavaScript: login, CSRF, escaping, approve, undo,
//! the event stream) and in real headless Chromium (log in, see the approval, click
//! Approve, the action runs; a new approval appears live; click Undo, the compensation runs).

use crate::support;

use std::time::Duration;

use bazaar_memory::ActionKind;
use bazaar_policies::Outcome;
use reqwest::StatusCode;
use support::browser::{launch, log_in_page, wait_for};
use support::{eventually, reprice, Harness, Options, TOKEN};

fn set_cookie(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_string())
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The first CSRF token in a page.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a csrf field") + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

async fn login_with(h: &Harness, token: &str) -> reqwest::Response {
    h.http
        .post(h.url("/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

async fn log_in(h: &Harness) -> String {
    let response = login_with(h, TOKEN).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&response).expect("a session cookie");
    cookie.split(';').next().unwrap().to_string()
}

async fn page(h: &Harness, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = h
        .http
        .get(h.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn submit(h: &Harness, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    h.http
        .post(h.url(path))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_works_as_plain_html_forms_with_login_and_csrf() {
    let h = Harness::start(Options::default()).await;
    h.market.set_price("BZ-<b>1</b>", "70.00");
    // Seller-provided text ends up in summaries: it must be shown, never run.
    let (action, approval) = h.pending_reprice("BZ-<b>1</b>", "60.00").await;

    let anonymous = h.http.get(h.url("/")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/login");
    let (status, login) = page(&h, "", "/login").await;
    assert_eq!(status, StatusCode::OK);
    assert!(login.contains("name=\"token\""));

    let wrong = h
        .http
        .post(h.url("/login"))
        .form(&[("token", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&wrong).is_none());

    let response = h
        .http
        .post(h.url("/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/");
    let set = set_cookie(&response).unwrap();
    assert!(set.starts_with("bazaar_session="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    assert!(!set.contains(TOKEN), "the cookie must not be the token");
    let cookie = set.split(';').next().unwrap().to_string();

    let (status, html) = page(&h, &cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains(&format!("data-approval-id=\"{approval}\"")),
        "{html}"
    );
    assert!(html.contains("BZ-&lt;b&gt;1&lt;/b&gt;"), "escaped target");
    assert!(!html.contains("<b>1</b>"), "raw seller text in the page");
    assert!(html.contains("63%") && html.contains("$60.00"), "{html}");
    assert!(html.contains("confidence 0.63 needs a person"), "the why");
    assert!(html.contains("class=\"deadline\""), "{html}");
    let csrf = csrf_of(&html);

    // Forms without the CSRF token, with a wrong one, or without a session do nothing.
    let approve = format!("/inbox/approvals/{approval}/approve");
    let no_csrf = submit(&h, &cookie, &approve, &[]).await;
    assert_eq!(no_csrf.status(), StatusCode::BAD_REQUEST);
    let bad_csrf = submit(&h, &cookie, &approve, &[("csrf", "00ff")]).await;
    assert_eq!(bad_csrf.status(), StatusCode::FORBIDDEN);
    let no_session = submit(&h, "", &approve, &[("csrf", &csrf)]).await;
    assert_eq!(no_session.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&no_session), "/login");
    let forged_session = submit(
        &h,
        "bazaar_session=1777626000.00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        &approve,
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(forged_session.status(), StatusCode::SEE_OTHER);
    assert!(h.market.executions().is_empty());

    // Reject needs a reason.
    let reject = submit(
        &h,
        &cookie,
        &format!("/inbox/approvals/{approval}/reject"),
        &[("csrf", &csrf), ("reason", " ")],
    )
    .await;
    assert_eq!(reject.status(), StatusCode::BAD_REQUEST);

    let approved = submit(&h, &cookie, &approve, &[("csrf", &csrf)]).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&approved), "/?done=approved");
    assert_eq!(h.market.executions().len(), 1);
    let again = submit(&h, &cookie, &approve, &[("csrf", &csrf)]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("already approved"));

    let (_, html) = page(&h, &cookie, "/?done=approved").await;
    assert!(html.contains("Approved."));
    assert!(html.contains("Nothing waits for you"));
    let row = format!("data-action-id=\"{action}\"");
    let at = html.find(&row).expect("the executed action is listed");
    let row_html = &html[at..at + html[at..].find("</tr>").unwrap()];
    assert!(row_html.contains("class=\"undo\""), "{row_html}");

    let undone = submit(
        &h,
        &cookie,
        &format!("/inbox/actions/{action}/undo"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(undone.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&undone), "/?done=undone");
    let executions = h.market.executions();
    assert_eq!(executions.len(), 2);
    assert_eq!(executions[1].kind, ActionKind::RevisePrice);
    assert_eq!(h.market.price("BZ-<b>1</b>").as_deref(), Some("70.00"));
    let (_, html) = page(&h, &cookie, "/").await;
    let at = html.find(&row).unwrap();
    let row_html = &html[at..at + html[at..].find("</tr>").unwrap()];
    assert!(!row_html.contains("class=\"undo\""), "undone: no more undo");
    assert!(row_html.contains("undone"), "{row_html}");

    // The kill switch from the page.
    let paused = submit(&h, &cookie, "/inbox/pause", &[("csrf", &csrf)]).await;
    assert_eq!(location(&paused), "/?done=paused");
    let (_, html) = page(&h, &cookie, "/").await;
    assert!(html.contains("id=\"resume\""));
    let outcome = h.propose(reprice("BZ-2", "10.00", "reprice/BZ-2/1")).await;
    assert!(matches!(outcome, Outcome::Blocked { .. }), "{outcome:?}");
    submit(&h, &cookie, "/inbox/resume", &[("csrf", &csrf)]).await;

    // Logging out ends the session cookie.
    let out = submit(&h, &cookie, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&out), "/login");
    assert!(set_cookie(&out).unwrap().contains("Max-Age=0"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_stream_needs_a_session_and_carries_gate_events() {
    let h = Harness::start(Options::default()).await;
    let anonymous = h.http.get(h.url("/events")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let cookie = log_in(&h).await;
    let mut stream = h
        .http
        .get(h.url("/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (_, approval) = h.pending_reprice("BZ-9", "12.00").await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(&approval.to_string()) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        seen.contains("data: {\"event\":\"approval_needed\""),
        "{seen}"
    );
    // Stopping the server ends the stream (graceful shutdown does not hang on it).
    h.stop().await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(end.is_ok(), "the event stream outlived the server");
}

// ---------------------------------------------------------------------------------------
// Real Chromium

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_an_approval_is_clicked_through_and_undone() {
    let h = Harness::start(Options::default()).await;
    h.market.set_price("BZ-100", "120.00");
    let (action, approval) = h.pending_reprice("BZ-100", "99.00").await;
    let Some(chromium) = launch().await else {
        h.stop().await;
        return;
    };
    let browser = &chromium.browser;

    let page = browser.new_page(h.url("/")).await.unwrap();
    // Not logged in: the login form.
    log_in_page(&page, TOKEN).await;

    // The inbox with the approval: what, why, confidence, money, deadline.
    let article = format!("article[data-approval-id=\"{approval}\"]");
    let found = wait_for(&page, &article, Duration::from_secs(15)).await;
    let text = found[0].inner_text().await.unwrap().unwrap_or_default();
    assert!(text.contains("revise_price BZ-100 for $99.00"), "{text}");
    assert!(text.contains("63%") && text.contains("$99.00"), "{text}");
    assert!(text.contains("needs a person"), "{text}");
    if let Ok(path) = std::env::var("INBOX_SCREENSHOT") {
        let png = page
            .screenshot(
                chromiumoxide::page::ScreenshotParams::builder()
                    .full_page(true)
                    .build(),
            )
            .await
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    // Click Approve: the action executes, once.
    page.find_element(format!("{article} button.approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&page, "#notice", Duration::from_secs(15)).await;
    eventually("the approved action ran", Duration::from_secs(10), || {
        (h.market.executions().len() == 1).then_some(())
    })
    .await;
    assert_eq!(h.market.price("BZ-100").as_deref(), Some("99.00"));

    // Live: with the event stream connected, a new approval shows up without a reload.
    wait_for(&page, "body[data-live=\"on\"]", Duration::from_secs(15)).await;
    // The operator is active now and the rule has run once, so only a weak pattern match
    // (0.6) still needs a person.
    let mut later = reprice("BZ-101", "5.00", "reprice/BZ-101/live");
    later.pattern_match = 0.6;
    let outcome = h.propose(later).await;
    let Outcome::PendingApproval { approval: live, .. } = outcome else {
        panic!("expected the second reprice to need approval, got {outcome:?}");
    };
    wait_for(
        &page,
        &format!("article[data-approval-id=\"{live}\"]"),
        Duration::from_secs(15),
    )
    .await;

    // Click Undo on the executed action: the compensation runs.
    page.find_element(format!("tr[data-action-id=\"{action}\"] button.undo"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the compensation ran", Duration::from_secs(15), || {
        (h.market.executions().len() == 2).then_some(())
    })
    .await;
    assert_eq!(h.market.price("BZ-100").as_deref(), Some("120.00"));
    let undone = wait_for(
        &page,
        &format!("tr[data-action-id=\"{action}\"].status-undone"),
        Duration::from_secs(15),
    )
    .await;
    assert!(undone[0]
        .find_elements("button.undo")
        .await
        .unwrap()
        .is_empty());

    chromium.close().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_from_the_page() {
    let h = Harness::start(Options::default()).await;
    let (action, approval) = h.pending_reprice("BZ-5", "55.00").await;
    h.market.world().next = Some(bazaar_policies::testing::Next::Unknown);
    let outcome = h
        .system
        .addrs
        .gate
        .ask(|reply| bazaar_policies::GateMsg::Approve {
            approval,
            by: "test".into(),
            reply,
        })
        .await
        .unwrap()
        .unwrap();
    let Outcome::Unknown { approval: task, .. } = outcome else {
        panic!("expected an unknown outcome, got {outcome:?}");
    };
    let login = h
        .http
        .post(h.url("/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = set_cookie(&login)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (_, html) = page(&h, &cookie, "/").await;
    let at = html
        .find(&format!("data-approval-id=\"{task}\""))
        .expect("the task is listed");
    let card = &html[at..at + html[at..].find("</article>").unwrap()];
    assert!(
        card.contains("It happened") && card.contains("It did not happen"),
        "{card}"
    );
    assert!(
        !card.contains("class=\"approve\""),
        "a task is not a decision: {card}"
    );
    let csrf = csrf_of(&html);
    let resolved = submit(
        &h,
        &cookie,
        &format!("/inbox/approvals/{task}/resolve"),
        &[("csrf", &csrf), ("happened", "true")],
    )
    .await;
    assert_eq!(resolved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resolved), "/?done=resolved");
    let record: bazaar_memory::ActionRecord = bazaar_memory::Store::get(&h.system.store, &action)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.lifecycle.status,
        bazaar_memory::ActionStatus::Executed
    );
    let (_, html) = page(&h, &cookie, "/?done=resolved").await;
    assert!(html.contains("Resolved: the action is recorded as you found it."));
    h.stop().await;
}

/// Issue 23 (5): logging out only cleared the browser's cookie; a copy of it still read the
/// inbox and flipped the kill switch for 7 days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_for_every_copy_of_its_cookie() {
    let h = Harness::start(Options::default()).await;
    let cookie = log_in(&h).await;
    let other = log_in(&h).await;
    let (status, html) = page(&h, &cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&html);
    let out = submit(&h, &cookie, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);

    // The copy an attacker kept is dead: no inbox, no kill switch.
    let (status, _) = page(&h, &cookie, "/").await;
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the logged-out cookie still reads the inbox"
    );
    let pause = submit(&h, &cookie, "/inbox/pause", &[("csrf", &csrf)]).await;
    assert_eq!(pause.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&pause), "/login");
    assert!(!h.paused().await, "a dead session flipped the kill switch");
    // Another session is not touched.
    assert_eq!(page(&h, &other, "/").await.0, StatusCode::OK);
    h.stop().await;
}

/// Issue 23 (10): logins were guessed at ~270 a second. A client's failures are now
/// throttled (after ten a minute each wrong guess waits a second for a 429); the right
/// token is never turned away, so guessing cannot lock the operator out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_throttled_per_client() {
    let h = Harness::start(Options::default()).await;
    let mut refused_at = None;
    for attempt in 1..=15 {
        let status = login_with(&h, "guess-0000000000000000000000000000")
            .await
            .status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused_at = Some(attempt);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(refused_at, Some(11), "ten failures a minute, then refused");
    let started = std::time::Instant::now();
    let wrong = h
        .get_as("/api/status", "wrong-token-0000000000000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "a throttled guess waits"
    );
    // The operator is not locked out: the right token logs in and reads the API at once.
    let right = login_with(&h, TOKEN).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie(&right).is_some());
    assert_eq!(
        h.get("/api/status").send().await.unwrap().status(),
        StatusCode::OK
    );
    h.stop().await;
}
