//! The JSON API under `/api`, `/healthz` and `/metrics`. Its OpenAPI document is
//! generated from the handlers and the types they take and answer ([`document`]), and
//! served at `/api/openapi.json`: a route is in the document exactly when it is served.
//!
//! Every route but `/healthz`, `/readyz` and `/api/openapi.json` needs `Authorization: Bearer <token>`,
//! `/metrics` included: the numbers (spend, pending approvals) are business data, and
//! Prometheus sends a bearer token with `authorization: { credentials_file: ... }`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bazaar_memory::{
    ActionId, ActionRecord, ActionStatus, Approval, ApprovalId, ApprovalStatus, AuditEntry, Money,
    SledStore, Store,
};
use bazaar_policies::gate::summarize;
use bazaar_policies::sale_guard;
use bazaar_policies::{GateMsg, GateStatus, Outcome};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiJson, AppState, ErrorBody};
use crate::health::{Health, Readiness};
use crate::system::actor_reports;

/// Who the gate records for API commands.
const BY: &str = "operator (api)";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bazaar operator API",
        version = "1",
        description = "Approve, reject and undo what the policy gate asks about; read the audit \
            log; pause and resume; bring items and cross-list them. Every endpoint except \
            /healthz, /readyz and /api/openapi.json needs `Authorization: Bearer <operator.token>`. \
            Errors are `{\"error\": \"...\"}` saying what was wrong and what to do, with 400 \
            (bad input), 401 (missing or bad token), 404 (unknown id), 409 (already decided, \
            not undoable, blocked), 413 (body over 64 KiB), 422 (an item that does not add \
            up), 429 (too many failed tokens), 503 (an actor is restarting). Mutations go \
            through the policy gate and are in the audit log."
    ),
    security(("bearer" = []))
)]
struct ApiDoc;

/// What every operation shares, added once the routes are in: the bearer scheme, and an
/// error answer ([`ErrorBody`]) for every status an operation does not list.
struct Conventions;

impl utoipa::Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.description = Some("The value of operator.token.".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let name = ErrorBody::name().to_string();
        components
            .schemas
            .insert(name.clone(), <ErrorBody as utoipa::PartialSchema>::schema());
        let error = utoipa::openapi::ResponseBuilder::new()
            .description("An error: what was wrong and what to do.")
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name(name)))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("default".into())
                    .or_insert_with(|| error.clone().into());
            }
        }
    }
}

/// The operator API's OpenAPI document, generated from the routes (built once).
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let (_, mut document) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
            .merge(routes())
            .merge(public_routes())
            .split_for_parts();
        utoipa::Modify::modify(&Conventions, &mut document);
        document
    })
}

/// Every operation in [`document`], as `(method, path)`: `("get", "/api/status")` ….
pub fn operations() -> Vec<(&'static str, String)> {
    let mut operations = Vec::new();
    for (path, item) in &document().paths.paths {
        for (method, operation) in [
            ("get", &item.get),
            ("post", &item.post),
            ("delete", &item.delete),
        ] {
            if operation.is_some() {
                operations.push((method, path.clone()));
            }
        }
    }
    operations
}

/// Routes behind the bearer token.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(metrics))
        .routes(routes!(status))
        .routes(routes!(list_approvals))
        .routes(routes!(get_approval))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(resolve))
        .routes(routes!(list_actions))
        .routes(routes!(get_action))
        .routes(routes!(undo))
        .routes(routes!(audit))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .merge(super::items::routes())
        .merge(super::business::routes())
        .merge(super::contacts::routes())
}

/// Routes anyone may call.
pub(crate) fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi))
}

/// `Query<T>` whose rejections are JSON 400s.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection| {
                ApiError::bad_request(format!(
                    "bad query string: {}",
                    rejection.body_text().to_lowercase()
                ))
            })
    }
}

// ---------------------------------------------------------------------------------------
// Views

/// An action as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Action)]
pub struct ActionView {
    pub id: ActionId,
    /// Kind (`revise_price` …).
    pub kind: String,
    /// What it acts on.
    pub target: String,
    /// Parameters (their shape depends on the kind).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// Money at stake.
    pub value: Option<Money>,
    /// The same, formatted (`$60.00`).
    pub value_text: Option<String>,
    /// Confidence score, 0..=1.
    pub confidence: Option<f64>,
    /// The proposing rule.
    pub rule: String,
    /// The proposing actor.
    pub proposer: String,
    pub marketplace: Option<String>,
    /// Where it stands.
    pub status: String,
    /// One line for people.
    pub summary: String,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
    /// When a scheduled action leaves the outbox.
    pub release_at: Option<DateTime<Utc>>,
    /// What the connector answered.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// The compensation available, if any.
    pub undo: Option<UndoView>,
    /// The action this one undoes.
    pub undoes: Option<ActionId>,
    /// `"undo"` while undo is possible, `"cancel"` while scheduled, else null.
    pub can_undo: Option<String>,
}

/// An undo recipe as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Undo)]
pub struct UndoView {
    /// The compensating kind.
    pub kind: String,
    /// Undo is refused after this.
    pub deadline: DateTime<Utc>,
}

/// An approval as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Approval)]
pub struct ApprovalView {
    pub id: ApprovalId,
    /// `pending`, `approved`, `rejected`, `expired`.
    pub status: String,
    /// What is asked.
    pub summary: String,
    /// Why it needs a person.
    pub reason: String,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// When it expires.
    pub deadline: Option<DateTime<Utc>>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// The action (null for manual tasks).
    pub action: Option<ActionView>,
}

/// Whether (and how) `record` can be undone at `now`: not when its undo would put a sold
/// or archived item back on sale ([`bazaar_policies::sale_guard`]).
pub(crate) fn undo_possible(
    store: &SledStore,
    record: &ActionRecord,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    match record.lifecycle.status {
        ActionStatus::Scheduled => Some("cancel"),
        ActionStatus::Executed
            if record.undoes.is_none()
                && record.undo.as_ref().is_some_and(|u| u.deadline > now)
                && matches!(sale_guard::undo_refusal(store, record), Ok(None)) =>
        {
            Some("undo")
        }
        _ => None,
    }
}

pub(crate) fn action_view(
    store: &SledStore,
    record: &ActionRecord,
    now: DateTime<Utc>,
) -> ActionView {
    ActionView {
        id: record.id,
        kind: record.kind.name().to_string(),
        target: record.target.clone(),
        params: record.params.clone(),
        value: record.value,
        value_text: record.value.map(|v| v.to_string()),
        confidence: record.confidence,
        rule: record.rule.clone(),
        proposer: record.proposer.clone(),
        marketplace: record.marketplace.map(|m| m.name().to_string()),
        status: record.lifecycle.status.to_string(),
        summary: summarize(record),
        proposed_at: record.proposed_at,
        release_at: record.release_at,
        result: record.result.clone(),
        undo: record.undo.as_ref().map(|u| UndoView {
            kind: u.kind.name().to_string(),
            deadline: u.deadline,
        }),
        undoes: record.undoes,
        can_undo: undo_possible(store, record, now).map(str::to_string),
    }
}

pub(crate) fn approval_view(
    state: &AppState,
    approval: &Approval,
) -> Result<ApprovalView, ApiError> {
    let now = state.ctx.clock.now();
    let action = match approval.action {
        Some(id) => state
            .ctx
            .store
            .get::<ActionRecord>(&id)
            .map_err(ApiError::store)?
            .map(|record| action_view(&state.ctx.store, &record, now)),
        None => None,
    };
    Ok(ApprovalView {
        id: approval.id,
        status: approval.lifecycle.status.to_string(),
        summary: approval.summary.clone(),
        reason: approval.reason.clone(),
        requested_at: approval.requested_at,
        deadline: approval.deadline,
        decided_by: approval.decided_by.clone(),
        action,
    })
}

/// Pending approvals, oldest first.
pub(crate) fn pending(state: &AppState) -> Result<Vec<ApprovalView>, ApiError> {
    let approvals: Vec<Approval> = state
        .ctx
        .store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .map_err(ApiError::store)?;
    approvals.iter().map(|a| approval_view(state, a)).collect()
}

/// The `limit` most recent actions, newest first.
pub(crate) fn recent(state: &AppState, limit: usize) -> Result<Vec<ActionRecord>, ApiError> {
    let all: Vec<ActionRecord> = state.ctx.store.all().map_err(ApiError::store)?;
    Ok(all.into_iter().rev().take(limit).collect())
}

pub(crate) fn parse_approval_id(text: &str) -> Result<ApprovalId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{text:?} is not an approval id; ids are 26-character ULIDs as `bazaar inbox` lists them"
        ))
    })
}

pub(crate) fn parse_action_id(text: &str) -> Result<ActionId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{text:?} is not an action id; ids are 26-character ULIDs as /api/actions lists them"
        ))
    })
}

// ---------------------------------------------------------------------------------------
// Handlers

/// `/api/approvals/{id}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ApprovalPath {
    /// The approval id (a 26-character ULID).
    id: String,
}

/// `/api/actions/{id}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ActionPath {
    /// The action id (a 26-character ULID).
    id: String,
}

/// Health: the store reaches its disk, the gate answers, and every agent answers its
/// supervisor's status question, each within 2 s. 503 with the failing parts otherwise.
#[utoipa::path(
    get,
    path = "/healthz",
    security(()),
    responses(
        (status = 200, description = "Healthy.", body = Health),
        (status = 503, description = "A part did not answer; `checks` says which.", body = Health)
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let health = crate::health::health(&state.ctx.store, &state.ctx.addrs).await;
    (served_if(health.ok), Json(health))
}

/// Readiness: healthy, and every marketplace searched works (no outage, no layout drift).
/// 503 naming what is not.
#[utoipa::path(
    get,
    path = "/readyz",
    security(()),
    responses(
        (status = 200, description = "Ready.", body = Readiness),
        (status = 503, description = "Not ready; `health` and `sources` say why.", body = Readiness)
    )
)]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = crate::health::readiness(&state.ctx.store, &state.ctx.addrs).await;
    (served_if(readiness.ready), Json(readiness))
}

fn served_if(ok: bool) -> StatusCode {
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", body = Object))
)]
async fn openapi() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_pretty_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response()
}

/// `GET /api/approvals`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApprovalList {
    /// Oldest first.
    pub approvals: Vec<ApprovalView>,
}

/// Pending approvals, oldest first, with the action each is about.
#[utoipa::path(get, path = "/api/approvals", responses((status = 200, description = "Pending approvals.", body = ApprovalList)))]
async fn list_approvals(State(state): State<AppState>) -> Result<Json<ApprovalList>, ApiError> {
    let approvals = pending(&state)?;
    Ok(Json(ApprovalList { approvals }))
}

/// One approval, in any status.
#[utoipa::path(
    get,
    path = "/api/approvals/{id}",
    params(ApprovalPath),
    responses((status = 200, description = "The approval.", body = ApprovalView))
)]
async fn get_approval(
    State(state): State<AppState>,
    Path(ApprovalPath { id }): Path<ApprovalPath>,
) -> Result<Json<ApprovalView>, ApiError> {
    let id = parse_approval_id(&id)?;
    let approval: Approval = state
        .ctx
        .store
        .get(&id)
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "approval {id} not found; `bazaar inbox` lists pending ones"
            ))
        })?;
    Ok(Json(approval_view(&state, &approval)?))
}

/// Approve: the gate checks the hard limits and executes the action (or puts email in the
/// outbox).
#[utoipa::path(
    post,
    path = "/api/approvals/{id}/approve",
    params(ApprovalPath),
    responses((status = 200, description = "What became of it.", body = Outcome))
)]
async fn approve(
    State(state): State<AppState>,
    Path(ApprovalPath { id }): Path<ApprovalPath>,
) -> Result<Json<Outcome>, ApiError> {
    let approval = parse_approval_id(&id)?;
    let outcome = state
        .ask_gate(|reply| GateMsg::Approve {
            approval,
            by: BY.into(),
            reply,
        })
        .await??;
    Ok(Json(outcome))
}

/// `POST /api/approvals/{id}/reject` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct RejectBody {
    /// Why (required).
    pub reason: Option<String>,
}

/// Reject, with a reason (required; the rule's accuracy learns from it).
#[utoipa::path(
    post,
    path = "/api/approvals/{id}/reject",
    params(ApprovalPath),
    request_body = RejectBody,
    responses((status = 200, description = "What became of it.", body = Outcome))
)]
async fn reject(
    State(state): State<AppState>,
    Path(ApprovalPath { id }): Path<ApprovalPath>,
    ApiJson(body): ApiJson<RejectBody>,
) -> Result<Json<Outcome>, ApiError> {
    let approval = parse_approval_id(&id)?;
    let reason = body.reason.unwrap_or_default().trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::bad_request(
            "a reason is required: send {\"reason\": \"why not\"}",
        ));
    }
    let outcome = state
        .ask_gate(|reply| GateMsg::Reject {
            approval,
            by: BY.into(),
            reason,
            reply,
        })
        .await??;
    Ok(Json(outcome))
}

/// `POST /api/approvals/{id}/resolve` body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveBody {
    /// For an action whose outcome was unknown: did it happen? (required)
    pub happened: Option<bool>,
    /// What the operator found.
    #[serde(default)]
    pub note: String,
}

/// Resolve an inbox task the gate could not: whether an action whose outcome was unknown
/// happened (it is then recorded executed or failed), or that a manual task is done.
#[utoipa::path(
    post,
    path = "/api/approvals/{id}/resolve",
    params(ApprovalPath),
    request_body = ResolveBody,
    responses((status = 200, description = "What became of it.", body = Outcome))
)]
async fn resolve(
    State(state): State<AppState>,
    Path(ApprovalPath { id }): Path<ApprovalPath>,
    ApiJson(body): ApiJson<ResolveBody>,
) -> Result<Json<Outcome>, ApiError> {
    let approval = parse_approval_id(&id)?;
    let Some(happened) = body.happened else {
        return Err(ApiError::bad_request(
            "say whether it happened: send {\"happened\": true, \"note\": \"what you found\"}",
        ));
    };
    let outcome = state
        .ask_gate(|reply| GateMsg::Resolve {
            approval,
            by: BY.into(),
            happened,
            note: body.note,
            reply,
        })
        .await??;
    Ok(Json(outcome))
}

/// Undo an executed action with its compensating action (before its undo deadline), or
/// cancel a scheduled one in the outbox.
#[utoipa::path(
    post,
    path = "/api/actions/{id}/undo",
    params(ActionPath),
    responses((status = 200, description = "What became of it.", body = Outcome))
)]
async fn undo(
    State(state): State<AppState>,
    Path(ActionPath { id }): Path<ActionPath>,
) -> Result<Json<Outcome>, ApiError> {
    let action = parse_action_id(&id)?;
    let outcome = state
        .ask_gate(|reply| GateMsg::Undo {
            action,
            by: BY.into(),
            reply,
        })
        .await??;
    Ok(Json(outcome))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ActionsQuery {
    /// How many (1..1000, default 20).
    limit: Option<usize>,
}

/// `GET /api/actions`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActionList {
    /// Newest first.
    pub actions: Vec<ActionView>,
}

/// Recent actions, newest first.
#[utoipa::path(
    get,
    path = "/api/actions",
    params(ActionsQuery),
    responses((status = 200, description = "Actions.", body = ActionList))
)]
async fn list_actions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ActionsQuery>,
) -> Result<Json<ActionList>, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let now = state.ctx.clock.now();
    let actions: Vec<ActionView> = recent(&state, limit)?
        .iter()
        .map(|r| action_view(&state.ctx.store, r, now))
        .collect();
    Ok(Json(ActionList { actions }))
}

/// One action.
#[utoipa::path(
    get,
    path = "/api/actions/{id}",
    params(ActionPath),
    responses((status = 200, description = "The action.", body = ActionView))
)]
async fn get_action(
    State(state): State<AppState>,
    Path(ActionPath { id }): Path<ActionPath>,
) -> Result<Json<ActionView>, ApiError> {
    let id = parse_action_id(&id)?;
    let record: ActionRecord = state
        .ctx
        .store
        .get(&id)
        .map_err(ApiError::store)?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "action {id} not found; /api/actions lists recent ones"
            ))
        })?;
    Ok(Json(action_view(
        &state.ctx.store,
        &record,
        state.ctx.clock.now(),
    )))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only entries at or after this RFC 3339 time.
    since: Option<String>,
    /// Only entries about this id or target (action id, approval id, SKU).
    item: Option<String>,
    /// Also check the whole hash chain.
    verify: Option<bool>,
    /// At most this many entries (default 1000, at most 100000).
    limit: Option<usize>,
}

/// `GET /api/audit`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditPage {
    /// The last `limit` matching entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Whether older matching entries were left out.
    pub truncated: bool,
    /// The whole chain checked, with `verify=true`.
    pub verified: Option<ChainCheck>,
}

/// Whether the audit log's hash chain holds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChainCheck {
    pub ok: bool,
    /// Entries checked, when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
    /// What is wrong, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The first bad entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// The audit log, oldest first (the last `limit` matching entries).
#[utoipa::path(
    get,
    path = "/api/audit",
    params(AuditQuery),
    responses((status = 200, description = "Entries.", body = AuditPage))
)]
async fn audit(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let since = match &query.since {
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "since={text:?} is not an RFC 3339 time; write it like 2026-05-01T09:00:00Z"
                    ))
                })?
                .with_timezone(&Utc),
        ),
        None => None,
    };
    let limit = query.limit.unwrap_or(1000);
    if limit == 0 || limit > 100_000 {
        return Err(ApiError::bad_request("limit must be between 1 and 100000"));
    }
    let entries: Vec<AuditEntry> = state.ctx.store.all().map_err(ApiError::store)?;
    let verified =
        query
            .verify
            .unwrap_or(false)
            .then(|| match AuditEntry::verify_chain(&entries) {
                Ok(n) => ChainCheck {
                    ok: true,
                    entries: Some(n),
                    error: None,
                    seq: None,
                },
                Err(broken) => ChainCheck {
                    ok: false,
                    entries: None,
                    error: Some(broken.to_string()),
                    seq: Some(broken.seq),
                },
            });
    let mut matching: Vec<AuditEntry> = entries
        .into_iter()
        .filter(|e| since.is_none_or(|since| e.at >= since))
        .filter(|e| query.item.as_deref().is_none_or(|item| e.concerns(item)))
        .collect();
    let truncated = matching.len() > limit;
    if truncated {
        matching.drain(..matching.len() - limit);
    }
    Ok(Json(AuditPage {
        entries: matching,
        truncated,
        verified,
    }))
}

/// `POST /api/pause` and `/api/resume`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Paused {
    /// Whether the kill switch is now on.
    pub paused: bool,
}

async fn set_paused(state: &AppState, paused: bool) -> Result<Json<Paused>, ApiError> {
    state
        .ask_gate(|reply| GateMsg::SetPaused {
            paused,
            by: BY.into(),
            reply,
        })
        .await??;
    Ok(Json(Paused { paused }))
}

/// Kill switch on: every new proposal is blocked until resume.
#[utoipa::path(post, path = "/api/pause", responses((status = 200, description = "Paused.", body = Paused)))]
async fn pause(State(state): State<AppState>) -> Result<Json<Paused>, ApiError> {
    set_paused(&state, true).await
}

/// Kill switch off.
#[utoipa::path(post, path = "/api/resume", responses((status = 200, description = "Resumed.", body = Paused)))]
async fn resume(State(state): State<AppState>) -> Result<Json<Paused>, ApiError> {
    set_paused(&state, false).await
}

async fn gate_status(state: &AppState) -> Result<GateStatus, ApiError> {
    state.ask_gate(GateMsg::Status).await
}

/// `GET /api/status`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// What the gate holds.
    pub gate: GateStatus,
    /// Every actor's account of itself (one that did not answer within 5 s is "busy").
    pub actors: Vec<ActorStatus>,
    /// Webhook deliveries since start.
    pub webhooks: WebhookCounts,
}

/// One actor's account of itself.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ActorStatus {
    pub actor: String,
    /// What it holds.
    pub summary: String,
    /// Why it has nothing to do, if it has nothing to do.
    pub idle: Option<String>,
}

/// Webhook deliveries since start.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookCounts {
    /// Webhooks configured.
    pub configured: usize,
    pub delivered: u64,
    pub failed: u64,
    /// Given up on.
    pub dropped: u64,
    pub retried: u64,
}

/// What the gate holds and every actor's account of itself.
#[utoipa::path(get, path = "/api/status", responses((status = 200, description = "Status.", body = Status)))]
async fn status(State(state): State<AppState>) -> Result<Json<Status>, ApiError> {
    let gate = gate_status(&state).await?;
    // Each agent answers or is reported busy: a slow one does not empty the list.
    let actors = actor_reports(&state.ctx.addrs)
        .await
        .into_iter()
        .map(|r| ActorStatus {
            actor: r.actor.to_string(),
            summary: r.summary,
            idle: r.idle,
        })
        .collect();
    let stats = &state.webhook_stats;
    Ok(Json(Status {
        gate,
        actors,
        webhooks: WebhookCounts {
            configured: state.webhook_count,
            delivered: stats.delivered.load(Ordering::Relaxed),
            failed: stats.failed.load(Ordering::Relaxed),
            dropped: stats.dropped.load(Ordering::Relaxed),
            retried: stats.retried.load(Ordering::Relaxed),
        },
    }))
}

fn money_units(money: Money) -> f64 {
    money.minor as f64 / 10f64.powi(money.currency.exponent() as i32)
}

/// Escapes a Prometheus label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The gate's metrics: up, paused, approvals waiting, audit length, counters, spend and
/// open commitments.
fn gate_metrics(metric: &mut impl FnMut(&str, &str, &str, &[(String, f64)]), gate: &GateStatus) {
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        "bazaar_gate_up",
        "gauge",
        "Whether the policy gate answered.",
        &one(1.0),
    );
    metric(
        "bazaar_paused",
        "gauge",
        "Whether the kill switch is on (1) or off (0).",
        &one(if gate.paused { 1.0 } else { 0.0 }),
    );
    metric(
        "bazaar_pending_approvals",
        "gauge",
        "Approvals waiting for the operator.",
        &one(gate.pending_approvals as f64),
    );
    metric(
        "bazaar_audit_entries",
        "gauge",
        "Entries in the hash-chained audit log.",
        &one(gate.audit_len as f64),
    );
    // Per-listing counters would be one series per SKU: summed into their marketplace.
    let mut counters: std::collections::BTreeMap<String, u64> = Default::default();
    for (name, count) in &gate.counters {
        let name = match name.strip_prefix("listing:") {
            Some(rest) => {
                format!("listing_revisions:{}", rest.split(':').next().unwrap_or(""))
            }
            None => name.clone(),
        };
        *counters.entry(name).or_default() += count;
    }
    let samples: Vec<(String, f64)> = counters
        .iter()
        .map(|(name, count)| (format!("{{counter=\"{}\"}}", label(name)), *count as f64))
        .collect();
    metric(
        "bazaar_gate_counter",
        "gauge",
        "The gate's counters for the current marketplace day.",
        &samples,
    );
    let currency = gate.spend_day.currency.code();
    metric(
        "bazaar_spend",
        "gauge",
        "Spend in major currency units by window.",
        &[
            (
                format!("{{window=\"day\",currency=\"{currency}\"}}"),
                money_units(gate.spend_day),
            ),
            (
                format!("{{window=\"week\",currency=\"{currency}\"}}"),
                money_units(gate.spend_week),
            ),
        ],
    );
    metric(
        "bazaar_open_commitments",
        "gauge",
        "Purchases agreed but not settled, in major currency units.",
        &[(
            format!("{{currency=\"{currency}\"}}"),
            money_units(gate.open_commitments),
        )],
    );
}

/// Prometheus metrics (text format 0.0.4): gate up, paused, pending approvals, audit
/// entries, today's counters, spend, webhook deliveries. Needs the bearer token.
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "Metrics.", body = String, content_type = "text/plain"))
)]
async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let one = |v: f64| vec![(String::new(), v)];
    match gate_status(&state).await {
        Ok(gate) => gate_metrics(&mut metric, &gate),
        Err(_) => metric(
            "bazaar_gate_up",
            "gauge",
            "Whether the policy gate answered.",
            &one(0.0),
        ),
    }
    let stats = &state.webhook_stats;
    let samples: Vec<(String, f64)> = [
        ("delivered", &stats.delivered),
        ("failed", &stats.failed),
        ("dropped", &stats.dropped),
        ("retried", &stats.retried),
    ]
    .iter()
    .map(|(result, n)| {
        (
            format!("{{result=\"{result}\"}}"),
            n.load(Ordering::Relaxed) as f64,
        )
    })
    .collect();
    metric(
        "bazaar_webhook_deliveries_total",
        "counter",
        "Webhook delivery attempts by result.",
        &samples,
    );
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
