//! The JSON API under `/api`, `/healthz` and `/metrics`. Its OpenAPI document is
//! `openapi.json` next to this file, served at `/api/openapi.json`.
//!
//! Every route but `/healthz` and `/api/openapi.json` needs `Authorization: Bearer <token>`,
//! `/metrics` included: the numbers (spend, pending approvals) are business data, and
//! Prometheus sends a bearer token with `authorization: { credentials_file: ... }`.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
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

use super::{ApiError, ApiJson, AppState};
use crate::system::actor_reports;

/// The hand-written OpenAPI 3.0 document.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Every route the operator server answers, as `(method, path)` in the OpenAPI spelling.
/// `operator_api.rs` checks each is in [`OPENAPI`] and is really served.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
    ("get", "/api/status"),
    ("get", "/api/approvals"),
    ("get", "/api/approvals/{id}"),
    ("post", "/api/approvals/{id}/approve"),
    ("post", "/api/approvals/{id}/reject"),
    ("post", "/api/approvals/{id}/resolve"),
    ("get", "/api/actions"),
    ("get", "/api/actions/{id}"),
    ("post", "/api/actions/{id}/undo"),
    ("get", "/api/audit"),
    ("post", "/api/pause"),
    ("post", "/api/resume"),
    ("get", "/api/v1/items"),
    ("post", "/api/v1/items"),
    ("get", "/api/v1/items/{id}"),
    ("get", "/api/v1/items/{id}/listings"),
    ("post", "/api/v1/items/{id}/listings"),
    ("delete", "/api/v1/items/{id}/listings"),
    ("post", "/api/v1/items/{id}/listings/{channel}/retry"),
    ("post", "/api/v1/items/{id}/listings/{channel}/confirm"),
    ("post", "/api/v1/items/{id}/listings/{channel}/sold"),
];

/// Who the gate records for API commands.
const BY: &str = "operator (api)";

/// Routes behind the bearer token.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/approvals", get(list_approvals))
        .route("/api/approvals/{id}", get(get_approval))
        .route("/api/approvals/{id}/approve", post(approve))
        .route("/api/approvals/{id}/reject", post(reject))
        .route("/api/approvals/{id}/resolve", post(resolve))
        .route("/api/actions", get(list_actions))
        .route("/api/actions/{id}", get(get_action))
        .route("/api/actions/{id}/undo", post(undo))
        .route("/api/audit", get(audit))
        .route("/api/pause", post(pause))
        .route("/api/resume", post(resume))
        .merge(super::items::routes())
}

/// Routes anyone may call.
pub(crate) fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionView {
    pub id: ActionId,
    /// Kind (`revise_price` …).
    pub kind: String,
    /// What it acts on.
    pub target: String,
    /// Parameters.
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
    pub result: Option<serde_json::Value>,
    /// The compensation available, if any.
    pub undo: Option<UndoView>,
    /// The action this one undoes.
    pub undoes: Option<ActionId>,
    /// `"undo"` while undo is possible, `"cancel"` while scheduled, else null.
    pub can_undo: Option<String>,
}

/// An undo recipe as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UndoView {
    /// The compensating kind.
    pub kind: String,
    /// Undo is refused after this.
    pub deadline: DateTime<Utc>,
}

/// An approval as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "ok": true }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn list_approvals(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let approvals = pending(&state)?;
    Ok(Json(serde_json::json!({ "approvals": approvals })))
}

async fn get_approval(
    State(state): State<AppState>,
    Path(id): Path<String>,
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

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
#[derive(Debug, Deserialize)]
pub struct RejectBody {
    /// Why (required).
    pub reason: Option<String>,
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
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
#[derive(Debug, Deserialize)]
pub struct ResolveBody {
    /// For an action whose outcome was unknown: did it happen? (required)
    pub happened: Option<bool>,
    /// What the operator found.
    #[serde(default)]
    pub note: String,
}

async fn resolve(
    State(state): State<AppState>,
    Path(id): Path<String>,
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

async fn undo(
    State(state): State<AppState>,
    Path(id): Path<String>,
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

#[derive(Debug, Deserialize)]
struct ActionsQuery {
    limit: Option<usize>,
}

async fn list_actions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ActionsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let limit = query.limit.unwrap_or(20);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be between 1 and 1000"));
    }
    let now = state.ctx.clock.now();
    let actions: Vec<ActionView> = recent(&state, limit)?
        .iter()
        .map(|r| action_view(&state.ctx.store, r, now))
        .collect();
    Ok(Json(serde_json::json!({ "actions": actions })))
}

async fn get_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
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

#[derive(Debug, Deserialize)]
struct AuditQuery {
    since: Option<String>,
    item: Option<String>,
    verify: Option<bool>,
    limit: Option<usize>,
}

async fn audit(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
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
    let verified = query.verify.unwrap_or(false).then(|| {
        match AuditEntry::verify_chain(&entries) {
            Ok(n) => serde_json::json!({ "ok": true, "entries": n }),
            Err(broken) => {
                serde_json::json!({ "ok": false, "error": broken.to_string(), "seq": broken.seq })
            }
        }
    });
    let mut matching: Vec<&AuditEntry> = entries
        .iter()
        .filter(|e| since.is_none_or(|since| e.at >= since))
        .filter(|e| query.item.as_deref().is_none_or(|item| e.concerns(item)))
        .collect();
    let truncated = matching.len() > limit;
    if truncated {
        matching.drain(..matching.len() - limit);
    }
    Ok(Json(serde_json::json!({
        "entries": matching,
        "truncated": truncated,
        "verified": verified,
    })))
}

async fn set_paused(state: &AppState, paused: bool) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .ask_gate(|reply| GateMsg::SetPaused {
            paused,
            by: BY.into(),
            reply,
        })
        .await??;
    Ok(Json(serde_json::json!({ "paused": paused })))
}

async fn pause(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    set_paused(&state, true).await
}

async fn resume(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    set_paused(&state, false).await
}

async fn gate_status(state: &AppState) -> Result<GateStatus, ApiError> {
    state.ask_gate(GateMsg::Status).await
}

async fn status(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let gate = gate_status(&state).await?;
    let actors = tokio::time::timeout(Duration::from_secs(5), actor_reports(&state.ctx.addrs))
        .await
        .unwrap_or_default();
    let actors: Vec<serde_json::Value> = actors
        .iter()
        .map(|r| serde_json::json!({ "actor": r.actor, "summary": r.summary, "idle": r.idle }))
        .collect();
    let stats = &state.webhook_stats;
    Ok(Json(serde_json::json!({
        "gate": gate,
        "actors": actors,
        "webhooks": {
            "configured": state.webhook_count,
            "delivered": stats.delivered.load(Ordering::Relaxed),
            "failed": stats.failed.load(Ordering::Relaxed),
            "dropped": stats.dropped.load(Ordering::Relaxed),
            "retried": stats.retried.load(Ordering::Relaxed),
        },
    })))
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
