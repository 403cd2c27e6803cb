//! The inbox page: server-rendered HTML that works without JavaScript.
//!
//! - `GET /login` takes the operator token once; `POST /login` sets the session cookie
//!   (`bazaar_session`, HttpOnly, SameSite=Strict, Secure behind https; an HMAC under a key
//!   derived from the token, valid for 7 days) and redirects to `/`. The cookie names a
//!   server-side session ([`Sessions`]); `POST /logout` ends it at once, whoever holds a
//!   copy of the cookie.
//! - `GET /` lists pending approvals (what, why, confidence, money at stake, deadline) with
//!   approve / reject (reason required) forms, and recent actions with undo (or cancel, in the
//!   outbox) while that is possible. Every form carries a CSRF token derived from the session,
//!   checked on POST.
//! - `GET /events` streams the gate's events (server-sent events); a small inline script
//!   refreshes the lists from `GET /inbox/lists` when one arrives. With JavaScript off the
//!   page is the same, minus the live refresh.
//! - `GET /a/<token>` confirms a one-click link from a webhook; `POST /a/<token>` performs it
//!   once (see [`super::links`]).
//!
//! Everything shown is escaped by construction: pages are [`maud`] templates, and
//! summaries contain seller-provided text.

use std::convert::Infallible;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use bazaar_memory::meta_keys::OPERATOR_SESSIONS;
use bazaar_memory::{ActionRecord, Approval, ApprovalStatus, SledStore, Store};
use bazaar_policies::signing::{self, Decision};
use bazaar_policies::{GateError, GateMsg, Outcome};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use ractor::RpcReplyPort;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

use super::api::{self, ApprovalView};
use super::{ApiError, AppState};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "bazaar_session";

/// How long a login lasts.
pub const SESSION_MAX_AGE_SECS: i64 = 7 * 24 * 3600;

/// How many recent actions the page shows.
const RECENT: usize = 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(inbox))
        .route("/inbox/lists", get(lists))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/inbox/approvals/{id}/approve", post(form_approve))
        .route("/inbox/approvals/{id}/reject", post(form_reject))
        .route("/inbox/approvals/{id}/resolve", post(form_resolve))
        .route("/inbox/actions/{id}/undo", post(form_undo))
        .route("/inbox/pause", post(form_pause))
        .route("/inbox/resume", post(form_resume))
        .route("/events", get(events))
        .route("/a/{token}", get(link_confirm).post(link_perform))
}

// ---------------------------------------------------------------------------------------
// HTML helpers

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1a1a1a}
header{display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header h1{margin:0;font-size:1.4rem;flex:1}
.notice{background:#e8f5e9;padding:.5rem .75rem;border-radius:4px}
.paused{background:#fdecea;padding:.5rem .75rem;border-radius:4px}
.error{background:#fdecea;padding:.75rem;border-radius:4px}
article.approval{border:1px solid #ccc;border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
article.approval h3{margin:.1rem 0 .5rem;font-size:1.05rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.25rem 0 .75rem}
dt{color:#555}dd{margin:0}
form.inline{display:inline-flex;gap:.4rem;align-items:center;margin:.2rem .6rem .2rem 0}
button{font:inherit;padding:.3rem .8rem;cursor:pointer}
button.approve{background:#1b5e20;color:#fff;border:0;border-radius:4px}
button.reject{background:#b71c1c;color:#fff;border:0;border-radius:4px}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #eee;vertical-align:top}
.muted{color:#666}
nav a{margin:0 .15rem}
ol.pipeline{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0}
ol.pipeline li{border:1px solid #ccc;border-radius:6px;padding:.4rem .7rem}
ol.pipeline li+li::before{content:'\\2192  ';color:#999}
article.item,article.round{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:.75rem 0}
article.round.us{background:#f3f7fb}
pre.mail{white-space:pre-wrap;font:inherit;margin:.25rem 0}
form.edit label{white-space:nowrap}
";

fn nonce() -> String {
    signing::to_hex(&rand::random::<[u8; 16]>())
}

/// A whole page with the security headers for it.
pub(super) fn page(
    status: StatusCode,
    title: &str,
    body: Markup,
    script: Option<&'static str>,
) -> Response {
    let nonce = nonce();
    let html = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style nonce=(nonce) { (PreEscaped(STYLE)) }
            }
            body {
                (body)
                @if let Some(script) = script {
                    script nonce=(nonce) { (PreEscaped(script)) }
                }
            }
        }
    };
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html.into_string(),
    )
        .into_response();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

/// An error page: what went wrong and a way back.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        header { h1 { "Bazaar inbox" } }
        p.error role="alert" { (message) }
        p { a href="/" { "Back to the inbox" } }
    };
    page(status, "Bazaar: not done", body, None)
}

pub(super) fn api_error_page(error: ApiError) -> Response {
    error_page(error.status, &error.message)
}

pub(super) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

pub(super) fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    if secs.abs() < 5 {
        return "just now".into();
    }
    let (ahead, secs) = (secs >= 0, secs.abs());
    let span = if secs < 90 {
        format!("{secs} s")
    } else if secs < 90 * 60 {
        format!("{} min", secs / 60)
    } else if secs < 48 * 3600 {
        format!("{} h", secs / 3600)
    } else {
        format!("{} days", secs / 86_400)
    };
    if ahead {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

pub(super) fn when(at: DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}

// ---------------------------------------------------------------------------------------
// Sessions

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// The open inbox sessions, kept in the store so a restart keeps them and logout ends one
/// for every copy of its cookie.
pub(crate) struct Sessions {
    store: SledStore,
    lock: std::sync::Mutex<()>,
}

impl Sessions {
    pub(crate) fn new(store: SledStore) -> Sessions {
        Sessions {
            store,
            lock: std::sync::Mutex::new(()),
        }
    }

    fn open_ids(&self) -> std::collections::BTreeMap<String, i64> {
        self.store
            .get_meta(OPERATOR_SESSIONS)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "open sessions unreadable; everyone logs in again");
                None
            })
            .unwrap_or_default()
    }

    /// Opens a session issued at `now`; returns its id. Sessions past their age are
    /// forgotten on the way.
    fn open(&self, now: i64) -> Result<String, ApiError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let id = signing::to_hex(&rand::random::<[u8; 16]>());
        let mut open = self.open_ids();
        open.retain(|_, issued| now - *issued <= SESSION_MAX_AGE_SECS);
        open.insert(id.clone(), now);
        self.store
            .put_meta(OPERATOR_SESSIONS, &open)
            .map_err(ApiError::store)?;
        Ok(id)
    }

    fn is_open(&self, id: &str) -> bool {
        self.open_ids().contains_key(id)
    }

    fn close(&self, id: &str) -> Result<(), ApiError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut open = self.open_ids();
        if open.remove(id).is_some() {
            self.store
                .put_meta(OPERATOR_SESSIONS, &open)
                .map_err(ApiError::store)?;
        }
        Ok(())
    }
}

/// The request's valid session cookie and its id, if any: signed under a token in force,
/// not too old, and not logged out.
fn session_claims(state: &AppState, headers: &HeaderMap) -> Option<(String, String)> {
    let value = cookie(headers, SESSION_COOKIE)?;
    let credentials = state.credentials();
    let claims = credentials.all_keys().find_map(|keys| {
        signing::verify_session(
            &keys.session,
            &value,
            state.now_unix(),
            SESSION_MAX_AGE_SECS,
        )
    })?;
    state
        .sessions
        .is_open(&claims.id)
        .then_some((value, claims.id))
}

/// The request's valid session, if any.
pub(super) fn session(state: &AppState, headers: &HeaderMap) -> Option<String> {
    session_claims(state, headers).map(|(value, _)| value)
}

pub(super) fn csrf(state: &AppState, session: &str) -> String {
    signing::csrf_token(&state.credentials().keys.csrf, session)
}

fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A form of one button (and whatever `fields` it carries) posting to `action`.
pub(super) fn button_form(action: &str, csrf: &str, fields: Markup, button: Markup) -> Markup {
    html! {
        form.inline method="post" action=(action) { (csrf_input(csrf)) (fields) (button) }
    }
}

/// For form POSTs: the session, checked against the form's CSRF token.
// An early answer (a redirect or an error page) is the natural error of a form handler.
#[allow(clippy::result_large_err)]
fn authorize_post(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<String, Response> {
    let Some(session) = session(state, headers) else {
        return Err(see_other("/login"));
    };
    let credentials = state.credentials();
    let mut keys = credentials.all_keys();
    if !keys.any(|keys| signing::verify_csrf(&keys.csrf, &session, csrf)) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "this form is stale or came from another site (CSRF check failed); reload the inbox and try again",
        ));
    }
    Ok(session)
}

#[allow(clippy::result_large_err)]
fn form_or_error<T>(form: Result<Form<T>, FormRejection>) -> Result<T, Response> {
    match form {
        Ok(Form(value)) => Ok(value),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "that form was larger than 64 KiB; send less",
        )),
        Err(rejection) => Err(error_page(
            StatusCode::BAD_REQUEST,
            &format!(
                "that form could not be read ({}); reload the inbox and try again",
                rejection.body_text().to_lowercase()
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Login

fn login_page(status: StatusCode, problem: Option<&str>) -> Response {
    let body = html! {
        header { h1 { "Bazaar inbox" } }
        @if let Some(problem) = problem {
            p.error role="alert" { (problem) }
        }
        form method="post" action="/login" id="login" {
            p {
                label {
                    "Operator token "
                    input type="password" name="token" id="token"
                        autocomplete="current-password" required autofocus;
                }
            }
            p.muted {
                "The value of " code { "operator.token" } " in the daemon's configuration. \
                 It is not stored in the browser; a session cookie derived from it is."
            }
            p { button type="submit" id="login-submit" { "Log in" } }
        }
    };
    page(status, "Bazaar: log in", body, None)
}

async fn login_form() -> Response {
    login_page(StatusCode::OK, None)
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> HeaderValue {
    let secure = if state.secure_cookie { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let form = match form_or_error(form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    if !state.token_matches(form.token.trim()) {
        let error = state.refuse_guess(
            peer.ip(),
            "that is not the operator token; paste the value of operator.token",
        );
        // Slows guessing; the token should be long anyway.
        let delay = if error.status == StatusCode::TOO_MANY_REQUESTS {
            super::THROTTLED_ANSWER_DELAY
        } else {
            std::time::Duration::from_millis(250)
        };
        tokio::time::sleep(delay).await;
        return login_page(error.status, Some(&error.message));
    }
    let now = state.now_unix();
    let id = match state.sessions.open(now) {
        Ok(id) => id,
        Err(error) => return api_error_page(error),
    };
    let value = signing::sign_session(&state.credentials().keys.session, now, &id);
    let mut response = see_other("/");
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, &value, SESSION_MAX_AGE_SECS),
    );
    response
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let form = match form_or_error(form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    if let Err(response) = authorize_post(&state, &headers, &form.csrf) {
        return response;
    }
    if let Some((_, id)) = session_claims(&state, &headers) {
        if let Err(error) = state.sessions.close(&id) {
            return api_error_page(error);
        }
    }
    let mut response = see_other("/login");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&state, "", 0));
    response
}

// ---------------------------------------------------------------------------------------
// The inbox

const LIVE_SCRIPT: &str = r#"
(function () {
  if (!window.EventSource || !window.fetch) return;
  var timer = null;
  function typing() {
    var a = document.activeElement;
    return a && a.tagName === 'INPUT' && a.type === 'text' && a.value !== '';
  }
  function refresh() {
    timer = null;
    if (typing()) { timer = setTimeout(refresh, 2000); return; }
    fetch('/inbox/lists', { credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var lists = document.getElementById('lists');
        lists.innerHTML = html;
        var n = lists.querySelectorAll('article.approval').length;
        document.title = 'Bazaar inbox (' + n + ')';
      })
      .catch(function () { location.reload(); });
  }
  var source = new EventSource('/events');
  source.onopen = function () { document.body.setAttribute('data-live', 'on'); };
  source.onerror = function () { document.body.setAttribute('data-live', 'off'); };
  source.onmessage = function () { if (!timer) timer = setTimeout(refresh, 100); };
})();
"#;

fn approval_html(view: &ApprovalView, csrf: &str, now: DateTime<Utc>) -> Markup {
    let id = view.id.to_string();
    let action = view.action.as_ref();
    let confidence = action
        .and_then(|a| a.confidence)
        .map(|c| format!("{:.0}%", c * 100.0))
        .unwrap_or_else(|| "n/a".into());
    let money = action
        .and_then(|a| a.value_text.clone())
        .unwrap_or_else(|| "none".into());
    let decision = action.is_some_and(|a| a.status == "pending_approval");
    let to = |verb: &str| format!("/inbox/approvals/{id}/{verb}");
    html! {
        article.approval id={ "approval-" (id) } data-approval-id=(id) {
            h3.what { (view.summary) }
            dl {
                dt { "Why" } dd.why { (view.reason) }
                dt { "Confidence" } dd.confidence { (confidence) }
                dt { "Money at stake" } dd.money { (money) }
                dt { "Deadline" }
                dd.deadline {
                    @match view.deadline {
                        Some(d) => { (when(d)) " (" (relative(d, now)) ")" }
                        None => "none",
                    }
                }
                dt { "Asked" }
                dd { (when(view.requested_at)) " " span.muted { "(" (relative(view.requested_at, now)) ")" } }
            }
            @if action.is_some() && !decision {
                // The gate could not tell whether this action happened: the operator looks and says.
                (button_form(&to("resolve"), csrf,
                    html! { input type="hidden" name="happened" value="true"; },
                    html! { button type="submit" class="resolve-happened" { "It happened" } }))
                (button_form(&to("resolve"), csrf,
                    html! { input type="hidden" name="happened" value="false"; },
                    html! { button type="submit" class="resolve-not" { "It did not happen" } }))
            } @else if decision {
                (button_form(&to("approve"), csrf, html! {},
                    html! { button type="submit" class="approve" { "Approve" } }))
                (button_form(&to("reject"), csrf,
                    html! {
                        label {
                            "Reason "
                            input type="text" name="reason" required maxlength="500" placeholder="why not";
                        }
                    },
                    html! { button type="submit" class="reject" { "Reject" } }))
            } @else {
                p.muted {
                    "A task for you outside Bazaar: check the outside world, then resolve it there."
                }
            }
        }
    }
}

fn action_row(store: &SledStore, record: &ActionRecord, csrf: &str, now: DateTime<Utc>) -> Markup {
    let id = record.id.to_string();
    let status = record.lifecycle.status.to_string();
    let undo = api::undo_possible(store, record, now).map(|kind| match kind {
        "cancel" => (
            "Cancel",
            record
                .release_at
                .map(|at| format!("leaves {}", relative(at, now)))
                .unwrap_or_default(),
        ),
        _ => (
            "Undo",
            record
                .undo
                .as_ref()
                .map(|u| format!("until {}", relative(u.deadline, now)))
                .unwrap_or_default(),
        ),
    });
    html! {
        tr class={ "action status-" (status) } id={ "action-" (id) } data-action-id=(id) {
            td { (when(record.proposed_at)) }
            td {
                (record.kind.name()) " " (record.target)
                @if let Some(original) = record.undoes {
                    " " span.muted { "(undo of " (original) ")" }
                }
            }
            td { @if let Some(value) = record.value { (value) } }
            td.status { (status) }
            td {
                @if let Some((label, hint)) = undo {
                    (button_form(&format!("/inbox/actions/{id}/undo"), csrf, html! {},
                        html! { button type="submit" class="undo" { (label) } }))
                    span.muted { (hint) }
                }
            }
        }
    }
}

/// The two lists the page shows and the live script refreshes, and how many approvals wait.
fn lists_html(state: &AppState, session: &str) -> Result<(Markup, usize), ApiError> {
    let now = state.ctx.clock.now();
    let csrf = csrf(state, session);
    let approvals = api::pending(state)?;
    let recent = api::recent(state, RECENT)?;
    let lists = html! {
        section #approvals data-pending=(approvals.len()) {
            h2 { "Waiting for you (" (approvals.len()) ")" }
            @if approvals.is_empty() {
                p.muted #inbox-empty { "Nothing waits for you." }
            }
            @for view in &approvals { (approval_html(view, &csrf, now)) }
        }
        section #actions {
            h2 { "Recent actions" }
            @if recent.is_empty() {
                p.muted { "No actions yet." }
            } @else {
                table {
                    thead {
                        tr { th { "Proposed" } th { "What" } th { "Value" } th { "Status" } th {} }
                    }
                    tbody {
                        @for record in &recent { (action_row(&state.ctx.store, record, &csrf, now)) }
                    }
                }
            }
        }
    };
    Ok((lists, approvals.len()))
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "approved" => "Approved.",
        "rejected" => "Rejected.",
        "undone" => "Undone: the compensating action ran.",
        "cancelled" => "Cancelled before it left the outbox.",
        "paused" => "Paused: every new action is blocked until you resume.",
        "resumed" => "Resumed.",
        "resolved" => "Resolved: the action is recorded as you found it.",
        "failed" => "Approved, but the action failed; see recent actions.",
        _ => return None,
    })
}

async fn inbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<InboxQuery>,
) -> Response {
    let Some(session) = session(&state, &headers) else {
        return see_other("/login");
    };
    let (lists, pending) = match lists_html(&state, &session) {
        Ok(lists) => lists,
        Err(error) => return api_error_page(error),
    };
    let paused = match state.ask_gate(GateMsg::Status).await {
        Ok(status) => Some(status.paused),
        Err(_) => None,
    };
    let csrf = csrf(&state, &session);
    let body = html! {
        header {
            h1 { "Bazaar inbox" }
            (super::console::nav())
            @match paused {
                Some(true) => (button_form("/inbox/resume", &csrf, html! {},
                    html! { button type="submit" id="resume" { "Resume" } })),
                Some(false) => (button_form("/inbox/pause", &csrf, html! {},
                    html! { button type="submit" id="pause" { "Pause everything" } })),
                None => span.muted { "policy gate not answering" },
            }
            (button_form("/logout", &csrf, html! {}, html! { button type="submit" { "Log out" } }))
        }
        @if paused == Some(true) {
            p.paused role="status" {
                "Paused: the kill switch is on; every new action is blocked."
            }
        }
        @if let Some(notice) = notice(query.done.as_deref()) {
            p.notice role="status" #notice { (notice) }
        }
        div #lists { (lists) }
    };
    page(
        StatusCode::OK,
        &format!("Bazaar inbox ({pending})"),
        body,
        Some(LIVE_SCRIPT),
    )
}

async fn lists(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(session) = session(&state, &headers) else {
        return error_page(StatusCode::UNAUTHORIZED, "log in again at /login");
    };
    match lists_html(&state, &session) {
        Ok((lists, _)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            lists.into_string(),
        )
            .into_response(),
        Err(error) => api_error_page(error),
    }
}

// ---------------------------------------------------------------------------------------
// Form actions

const BY: &str = "operator (inbox)";

fn done(outcome: &Outcome, fallback: &str) -> Response {
    let code = match outcome {
        Outcome::Rejected { .. } => "rejected",
        Outcome::Undone { .. } => "undone",
        Outcome::Cancelled { .. } => "cancelled",
        Outcome::Failed { .. } => "failed",
        _ => fallback,
    };
    see_other(&format!("/?done={code}"))
}

/// Checks the form and its CSRF token; the error is the page to answer with.
#[allow(clippy::result_large_err)] // the error is the response itself, built once
pub(super) fn checked_form<T: HasCsrf>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<T>, FormRejection>,
) -> Result<T, Response> {
    let form = form_or_error(form)?;
    authorize_post(state, headers, form.csrf())?;
    Ok(form)
}

/// Forms that carry a CSRF token.
pub(super) trait HasCsrf {
    fn csrf(&self) -> &str;
}

impl HasCsrf for CsrfForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl HasCsrf for RejectForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Sends an operator command to the gate and answers with where to go next.
async fn command(
    state: &AppState,
    done_code: &str,
    build: Result<impl FnOnce(RpcReplyPort<Result<Outcome, GateError>>) -> GateMsg, ApiError>,
) -> Response {
    let result = async {
        let outcome = state.ask_gate(build?).await??;
        Ok::<_, ApiError>(outcome)
    }
    .await;
    match result {
        Ok(outcome) => done(&outcome, done_code),
        Err(error) => api_error_page(error),
    }
}

async fn form_approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(response) = checked_form(&state, &headers, form) {
        return response;
    }
    let build = api::parse_approval_id(&id).map(|approval| {
        move |reply| GateMsg::Approve {
            approval,
            by: BY.into(),
            reply,
        }
    });
    command(&state, "approved", build).await
}

#[derive(Debug, Deserialize)]
struct RejectForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn form_reject(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<RejectForm>, FormRejection>,
) -> Response {
    let form = match checked_form(&state, &headers, form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let reason = form.reason.trim().to_string();
    if reason.is_empty() {
        return error_page(
            StatusCode::BAD_REQUEST,
            "a reason is required to reject; type one next to the Reject button",
        );
    }
    let build = api::parse_approval_id(&id).map(|approval| {
        move |reply| GateMsg::Reject {
            approval,
            by: BY.into(),
            reason,
            reply,
        }
    });
    command(&state, "rejected", build).await
}

#[derive(Debug, Deserialize)]
struct ResolveForm {
    csrf: String,
    happened: bool,
}

impl HasCsrf for ResolveForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn form_resolve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ResolveForm>, FormRejection>,
) -> Response {
    let form = match checked_form(&state, &headers, form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    let happened = form.happened;
    let build = api::parse_approval_id(&id).map(|approval| {
        move |reply| GateMsg::Resolve {
            approval,
            by: BY.into(),
            happened,
            note: "resolved on the inbox page".into(),
            reply,
        }
    });
    command(&state, "resolved", build).await
}

async fn form_undo(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    if let Err(response) = checked_form(&state, &headers, form) {
        return response;
    }
    let build = api::parse_action_id(&id).map(|action| {
        move |reply| GateMsg::Undo {
            action,
            by: BY.into(),
            reply,
        }
    });
    command(&state, "undone", build).await
}

async fn switch(
    state: AppState,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
    paused: bool,
) -> Response {
    let form = match form_or_error(form) {
        Ok(form) => form,
        Err(response) => return response,
    };
    if let Err(response) = authorize_post(&state, &headers, &form.csrf) {
        return response;
    }
    let result = state
        .ask_gate(|reply| GateMsg::SetPaused {
            paused,
            by: BY.into(),
            reply,
        })
        .await
        .and_then(|r| r.map_err(ApiError::from));
    match result {
        Ok(()) => see_other(if paused {
            "/?done=paused"
        } else {
            "/?done=resumed"
        }),
        Err(error) => api_error_page(error),
    }
}

async fn form_pause(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    switch(state, headers, form, true).await
}

async fn form_resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    switch(state, headers, form, false).await
}

// ---------------------------------------------------------------------------------------
// Server-sent events

async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn events(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if session(&state, &headers).is_none() {
        if let Err(error) = state.bearer_ok(&headers, peer.ip()) {
            if error.status == StatusCode::TOO_MANY_REQUESTS {
                return error.into_response();
            }
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "log in at /login, or send `Authorization: Bearer <operator.token>`",
            )
            .into_response();
        }
    }
    let events = state.ctx.events.subscribe();
    let shutdown = state.shutdown.clone();
    // Checked again before each event: a stream opened by a session that has since logged
    // out, or by a token since rotated away, ends instead of going on.
    let still_allowed = move || {
        session(&state, &headers).is_some()
            || headers
                .get(header::AUTHORIZATION)
                .and_then(super::bearer_token)
                .is_some_and(|token| state.token_matches(token))
    };
    let stream = futures::stream::unfold(
        (events, shutdown, still_allowed),
        |(mut events, mut shutdown, still_allowed)| async move {
            let event = tokio::select! {
                _ = stopped(&mut shutdown) => return None,
                event = events.recv() => event,
            };
            if !still_allowed() {
                return None;
            }
            let data = match event {
                Ok(event) => serde_json::to_string(&event).unwrap_or_default(),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    serde_json::json!({ "event": "lagged", "missed": missed }).to_string()
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((
                Ok::<_, Infallible>(Event::default().data(data)),
                (events, shutdown, still_allowed),
            ))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

// ---------------------------------------------------------------------------------------
// One-click links

#[derive(Debug, Default, Deserialize)]
struct LinkForm {
    #[serde(default)]
    reason: String,
}

const LINK_REJECT_REASON: &str = "rejected from a one-click link";

async fn link_confirm(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let claims = match state.links.check(&token) {
        Ok(claims) => claims,
        Err(refusal) => return error_page(refusal.status(), &refusal.to_string()),
    };
    let approval = match api::parse_approval_id(&claims.approval).and_then(|id| {
        state
            .ctx
            .store
            .get::<Approval>(&id)
            .map_err(ApiError::store)?
            .ok_or_else(|| ApiError::not_found("that approval no longer exists"))
    }) {
        Ok(approval) => approval,
        Err(error) => return api_error_page(error),
    };
    if approval.lifecycle.status != ApprovalStatus::Pending {
        return error_page(
            StatusCode::CONFLICT,
            &format!(
                "already {} (by {}); nothing to do",
                approval.lifecycle.status,
                approval.decided_by.as_deref().unwrap_or("someone")
            ),
        );
    }
    let verb = match claims.decision {
        Decision::Approve => "Approve",
        Decision::Reject => "Reject",
    };
    let body = html! {
        header { h1 { "Bazaar" } }
        p { strong { (verb) } " this?" }
        p.what { (approval.summary) }
        p.muted { "Why it was asked: " (approval.reason) }
        form method="post" action={ "/a/" (token) } {
            @if claims.decision == Decision::Reject {
                p {
                    label {
                        "Reason "
                        input type="text" name="reason" value=(LINK_REJECT_REASON) maxlength="500";
                    }
                }
            }
            button type="submit" class=(verb.to_lowercase()) #confirm { (verb) }
        }
        p.muted { "This link works once." }
    };
    page(StatusCode::OK, &format!("Bazaar: {verb}?"), body, None)
}

async fn link_perform(
    State(state): State<AppState>,
    Path(token): Path<String>,
    form: Result<Form<LinkForm>, FormRejection>,
) -> Response {
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_page(StatusCode::PAYLOAD_TOO_LARGE, "that form was too large")
        }
        Err(_) => LinkForm::default(),
    };
    let claims = match state.links.consume(&token).await {
        Ok(claims) => claims,
        Err(refusal) => return error_page(refusal.status(), &refusal.to_string()),
    };
    let by = "operator (one-click link)".to_string();
    let result = async {
        let approval = api::parse_approval_id(&claims.approval)?;
        let outcome = match claims.decision {
            Decision::Approve => {
                state
                    .ask_gate(|reply| GateMsg::Approve {
                        approval,
                        by,
                        reply,
                    })
                    .await??
            }
            Decision::Reject => {
                let reason = match form.reason.trim() {
                    "" => LINK_REJECT_REASON.to_string(),
                    reason => reason.to_string(),
                };
                state
                    .ask_gate(|reply| GateMsg::Reject {
                        approval,
                        by,
                        reason,
                        reply,
                    })
                    .await??
            }
        };
        Ok::<_, ApiError>(outcome)
    }
    .await;
    match result {
        Ok(outcome) => {
            let what = match &outcome {
                Outcome::Executed { .. } => "Approved: the action ran.",
                Outcome::Scheduled { .. } => "Approved: it waits in the outbox (undo cancels it).",
                Outcome::Rejected { .. } => "Rejected.",
                _ => "Done.",
            };
            let body = html! {
                header { h1 { "Bazaar" } }
                p.notice role="status" #result { (what) }
                p { a href="/" { "Open the inbox" } }
            };
            page(StatusCode::OK, "Bazaar: done", body, None)
        }
        Err(error) => api_error_page(error),
    }
}
