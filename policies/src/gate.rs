//! The PolicyGate actor: validate, score, limit, decide, write the intent durably, execute
//! through the [`Effector`], record the result and the undo recipe, answer the proposer.
//!
//! Durability uses group commit: every message that changes state writes its records, then
//! queues its replies and executions and asks the actor to `Commit`. Because the mailbox is
//! FIFO, one `Commit` makes everything proposed before it durable with a single sync, then
//! runs the executions and answers them. Their results become durable with the next
//! commit's sync, the one that also covers the intents proposed meanwhile: under load a
//! round of decisions costs one sync, and a proposer waits for one sync, not two. Nothing
//! reaches the outside world before its intent is on disk. A crash after an answer and
//! before that sync leaves the intent open, and start-up looks it up in the outside world
//! by its idempotency key ([`Effector::lookup`]) instead of repeating it, which is also
//! what a crash in the middle of an execution needs.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bazaar_config::PolicyConfig;
use bazaar_memory::meta_keys::{POLICY_LIMITS, POLICY_OPERATOR_SEEN, POLICY_PAUSED, POLICY_RULES};
use bazaar_memory::{
    ActionId, ActionKind, ActionRecord, ActionStatus, Addr, Approval, ApprovalId, ApprovalStatus,
    AuditEntry, Envelope, Lifecycle, Marketplace, Money, SharedClock, SledStore, Store, StoreError,
    UndoRecipe,
};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::confidence::{self, RuleRecord, ScoreInput};
use crate::effector::{EffectError, Effector, Lookup};
use crate::limits::{marketplace_day, LimitState, Usage};
use crate::sale_guard;

/// An action an actor wants to take, with what the gate scores it on.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// What kind.
    pub kind: ActionKind,
    /// What it acts on (SKU, listing id, email address).
    pub target: String,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Which actor proposes it.
    pub proposer: String,
    /// Which rule (its accuracy is learned from outcomes).
    pub rule: String,
    /// Money at stake.
    pub value: Option<Money>,
    /// The marketplace it touches.
    pub marketplace: Option<Marketplace>,
    /// How well the situation matched the rule, 0..=1.
    pub pattern_match: f64,
    /// Makes a repeat harmless.
    pub idempotency_key: String,
    /// What it is about, in words a person acts on (the item, the other party, the step,
    /// the money): the inbox shows it first.
    pub about: Option<String>,
}

/// What became of a proposal (or an operator's command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Outcome {
    /// It ran.
    Executed { action: ActionId },
    /// It ran and failed; nothing changed outside.
    Failed {
        action: ActionId,
        /// Why.
        reason: String,
    },
    /// A rule refused it.
    Blocked {
        action: ActionId,
        /// Why.
        reason: String,
    },
    /// It waits for the operator.
    PendingApproval {
        action: ActionId,
        /// The inbox item.
        approval: ApprovalId,
    },
    /// It waits in the outbox until `release_at`; undo cancels it.
    Scheduled {
        action: ActionId,
        /// When it leaves.
        release_at: DateTime<Utc>,
    },
    /// The same idempotency key was proposed before.
    Duplicate {
        /// The earlier action.
        action: ActionId,
        /// Its status now.
        status: ActionStatus,
    },
    /// Nobody can tell whether it happened; the operator has an inbox item.
    Unknown {
        action: ActionId,
        /// The inbox item.
        approval: ApprovalId,
    },
    /// The operator rejected it.
    Rejected { action: ActionId },
    /// Cancelled in the outbox before it left.
    Cancelled { action: ActionId },
    /// An inbox task was resolved by the operator.
    Resolved {
        /// The inbox item.
        approval: ApprovalId,
    },
    /// Undone by a compensating action.
    Undone {
        /// The original action.
        action: ActionId,
        /// The compensating action.
        compensation: ActionId,
    },
}

/// Why an operator command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum GateError {
    /// No such approval or action.
    #[error("{0} not found")]
    NotFound(String),
    /// It was already decided or has moved on.
    #[error("{0}")]
    Conflict(String),
    /// The store failed; nothing was decided.
    #[error("store: {0}")]
    Store(String),
}

impl From<StoreError> for GateError {
    fn from(error: StoreError) -> Self {
        GateError::Store(error.to_string())
    }
}

/// Something the operator may want to hear about (webhooks, the inbox page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum GateEvent {
    /// An action waits for approval.
    ApprovalNeeded {
        /// The inbox item.
        approval: ApprovalId,
        action: ActionId,
        /// What it is.
        summary: String,
    },
    /// An action ran.
    ActionExecuted {
        action: ActionId,
        /// Its kind.
        kind: ActionKind,
        /// Its target.
        target: String,
    },
    /// An action was refused.
    ActionBlocked {
        action: ActionId,
        /// Why.
        reason: String,
    },
    /// A counter crossed its warning share.
    LimitWarning {
        /// Which, and how full.
        message: String,
    },
    /// An item sold (sent by the selling side).
    SaleDetected {
        /// What sold.
        summary: String,
    },
    /// A source answered with pages the connector could not read: its layout changed
    /// (see `bazaar_agents::connectors::Degradation`).
    SourceDegraded {
        /// Which marketplace.
        marketplace: String,
        /// The page.
        url: String,
        /// Listings read from it.
        read: usize,
        /// Listings the page itself names, when it says.
        expected: Option<usize>,
        /// What to tell the operator.
        message: String,
    },
    /// Something needs a person.
    Error {
        /// What.
        message: String,
    },
}

impl GateEvent {
    /// The event's name, as in webhook configuration.
    pub fn name(&self) -> &'static str {
        match self {
            GateEvent::ApprovalNeeded { .. } => "approval_needed",
            GateEvent::ActionExecuted { .. } => "action_executed",
            GateEvent::ActionBlocked { .. } => "action_blocked",
            GateEvent::LimitWarning { .. } => "limit_warning",
            GateEvent::SaleDetected { .. } => "sale_detected",
            GateEvent::SourceDegraded { .. } => "source_degraded",
            GateEvent::Error { .. } => "error",
        }
    }
}

/// What the gate holds, for status pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GateStatus {
    /// Whether the kill switch is on.
    pub paused: bool,
    /// Audit entries so far.
    pub audit_len: u64,
    /// The latest entry's hash.
    pub audit_head: Option<String>,
    /// Approvals waiting.
    pub pending_approvals: usize,
    /// Today's counters.
    pub counters: BTreeMap<String, u64>,
    /// Spend today, this week, and open commitments.
    pub spend_day: Money,
    /// Spend in the last 7 marketplace days.
    pub spend_week: Money,
    /// Purchases not yet settled.
    pub open_commitments: Money,
}

/// Messages to the gate.
#[derive(Debug)]
pub enum GateMsg {
    /// Decide on an action.
    Propose(Action, RpcReplyPort<Outcome>),
    /// The operator approves an inbox item.
    Approve {
        /// Which.
        approval: ApprovalId,
        /// Who.
        by: String,
        /// Answer.
        reply: RpcReplyPort<Result<Outcome, GateError>>,
    },
    /// The operator rejects an inbox item.
    Reject {
        /// Which.
        approval: ApprovalId,
        /// Who.
        by: String,
        /// Why.
        reason: String,
        /// Answer.
        reply: RpcReplyPort<Result<Outcome, GateError>>,
    },
    /// The operator settles an inbox task the gate could not: for an action whose outcome
    /// was unknown, whether it `happened`; for a plain manual task, that it is done.
    Resolve {
        /// Which.
        approval: ApprovalId,
        /// Who.
        by: String,
        /// For an unknown outcome: did it happen in the outside world?
        happened: bool,
        /// What the operator found.
        note: String,
        /// Answer.
        reply: RpcReplyPort<Result<Outcome, GateError>>,
    },
    /// The operator undoes an action.
    Undo {
        /// Which.
        action: ActionId,
        /// Who.
        by: String,
        /// Answer.
        reply: RpcReplyPort<Result<Outcome, GateError>>,
    },
    /// Kill switch on (`true`) or off.
    SetPaused {
        /// On or off.
        paused: bool,
        /// Who.
        by: String,
        /// Answer.
        reply: RpcReplyPort<Result<(), GateError>>,
    },
    /// A purchase was settled (the item is in hand): no longer an open commitment.
    Settle(ActionId),
    /// Put a task (no action attached) in the operator's inbox: mail to read, a negotiation
    /// to look at, a source that needs fresh credentials. The operator resolves it when done.
    Task {
        /// What the operator is asked, in plain words.
        summary: String,
        /// Why it needs a person.
        reason: String,
        /// The event announcing it (to webhooks and the page); an `error` event when none.
        event: Option<GateEvent>,
        /// The inbox item.
        reply: RpcReplyPort<ApprovalId>,
    },
    /// Tell the operator of something that happened outside any action (a sale read from
    /// a marketplace's orders): recorded in the audit log as `event`'s name with `detail`,
    /// then announced (webhooks, the inbox page). Nothing is asked of anyone.
    Announce {
        event: GateEvent,
        detail: serde_json::Value,
    },
    /// Report what the gate holds.
    Status(RpcReplyPort<GateStatus>),
    /// Flush, execute what is queued, flush, reply (sent by the gate to itself).
    Commit,
    /// Release scheduled actions whose time has come (sent by the gate's timers).
    ReleaseDue,
}

/// What the gate needs to start.
#[derive(Clone)]
pub struct PolicyGateArgs {
    pub store: SledStore,
    pub clock: SharedClock,
    /// Policy configuration.
    pub config: Arc<PolicyConfig>,
    /// Where actions are carried out.
    pub effector: Arc<dyn Effector>,
    /// Where events go.
    pub events: broadcast::Sender<GateEvent>,
    /// The gate's own address: its messages to itself (commits, timers) queue behind
    /// everything already sent, which group commit relies on.
    pub addr: Addr<GateMsg>,
}

impl std::fmt::Debug for PolicyGateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyGateArgs")
            .field("store", &self.store)
            .finish()
    }
}

/// Who resolves a task that closed itself (what it asked for was done).
pub const CLOSED_BY_BAZAAR: &str = "bazaar";

/// The gate actor.
#[derive(Debug, Default)]
pub struct PolicyGate;

/// Where an answer goes.
enum Port {
    Proposal(RpcReplyPort<Outcome>),
    Command(RpcReplyPort<Result<Outcome, GateError>>),
    /// A task opened: answered with its inbox item once it is durable.
    Task(RpcReplyPort<ApprovalId>, ApprovalId),
}

/// An answer decided: the outcome to send and where.
struct Settled {
    port: Port,
    outcome: Outcome,
}

/// An answer waiting for the next commit: `decided` unless the action executes in that
/// commit, in which case the execution's outcome (or `on_success`, for an undo).
struct Reply {
    port: Port,
    action: Option<ActionId>,
    decided: Outcome,
    on_success: Option<Outcome>,
}

/// The gate's state: derivable from the store, reloaded on restart.
pub struct GateState {
    args: PolicyGateArgs,
    head: Option<AuditEntry>,
    limits: LimitState,
    rules: BTreeMap<String, RuleRecord>,
    paused: bool,
    operator_seen: Option<DateTime<Utc>>,
    /// Actions whose intent is written and which run at the next commit.
    to_execute: Vec<ActionId>,
    /// Compensations: (original, compensating action).
    compensations: Vec<(ActionId, ActionId)>,
    replies: Vec<Reply>,
    commit_requested: bool,
    events: Vec<GateEvent>,
    /// Policy state changed and must be written before the next flush.
    policy_dirty: bool,
}

/// Approvals expire after a day; the action is then blocked.
const APPROVAL_TTL_HOURS: i64 = 24;

impl GateState {
    fn now(&self) -> DateTime<Utc> {
        self.args.clock.now()
    }

    fn store(&self) -> &SledStore {
        &self.args.store
    }

    fn audit(
        &mut self,
        action: Option<&ActionRecord>,
        event: &str,
        mut detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        if let (Some(action), Some(map)) = (action, detail.as_object_mut()) {
            map.insert("kind".into(), serde_json::json!(action.kind));
            map.insert("target".into(), serde_json::json!(action.target));
        }
        let entry = AuditEntry::next(
            self.head.as_ref(),
            self.now(),
            action.map(|a| a.id),
            event,
            detail,
        );
        self.args.store.put(&entry)?;
        self.head = Some(entry);
        Ok(())
    }

    fn advance(&self, record: &mut ActionRecord, to: ActionStatus, reason: &str) {
        let now = self.now();
        if let Err(illegal) = record.lifecycle.advance(to, now, reason) {
            // A bug, not an input problem: the gate only makes moves it checked.
            tracing::error!(action = %record.id, %illegal, "policy gate made an illegal move");
        }
    }

    /// Writes counters, rule records, the kill switch and operator activity, if they
    /// changed since the last write. Called before every flush.
    fn save_policy_state(&mut self) -> Result<(), StoreError> {
        if !std::mem::take(&mut self.policy_dirty) {
            return Ok(());
        }
        let store = self.store();
        store.put_meta(POLICY_LIMITS, &self.limits)?;
        store.put_meta(POLICY_RULES, &self.rules)?;
        store.put_meta(POLICY_PAUSED, &self.paused)?;
        store.put_meta(POLICY_OPERATOR_SEEN, &self.operator_seen)?;
        Ok(())
    }

    fn request_commit(&mut self) {
        if self.commit_requested {
            return;
        }
        self.commit_requested = true;
        // Our own queue; if the gate has stopped for good, the commit is moot.
        let _ = self.args.addr.send(GateMsg::Commit);
    }

    fn today(&self) -> chrono::NaiveDate {
        marketplace_day(self.now(), self.args.config.day_utc_offset_minutes)
    }

    fn rule(&self, name: &str) -> RuleRecord {
        self.rules.get(name).copied().unwrap_or_default()
    }

    fn block(&mut self, record: &mut ActionRecord, reason: String) -> Result<Outcome, StoreError> {
        self.advance(record, ActionStatus::Blocked, &reason);
        self.store().put(record)?;
        self.audit(
            Some(record),
            "blocked",
            serde_json::json!({ "reason": reason }),
        )?;
        self.events.push(GateEvent::ActionBlocked {
            action: record.id,
            reason: reason.clone(),
        });
        tracing::info!(action = %record.id, kind = %record.kind, %reason, "action blocked");
        Ok(Outcome::Blocked {
            action: record.id,
            reason,
        })
    }

    /// Why `record` must not run: it would put a sold or archived item back on sale.
    fn sale_refusal(&self, record: &ActionRecord) -> Result<Option<String>, StoreError> {
        sale_guard::refusal(
            self.store(),
            record.kind,
            record.marketplace,
            &record.target,
        )
    }

    /// Reserves limits and moves an approved action to execution (or the outbox).
    fn clear_to_run(
        &mut self,
        record: &mut ActionRecord,
        why: &str,
    ) -> Result<Outcome, StoreError> {
        let usage = Usage {
            action: record.id,
            kind: record.kind,
            marketplace: record.marketplace,
            target: record.target.clone(),
            value: record.value,
        };
        let today = self.today();
        let warnings = match self.limits.reserve(&self.args.config.limits, &usage, today) {
            Ok(warnings) => warnings,
            Err(reason) => return self.block(record, reason),
        };
        for message in warnings {
            self.audit(
                Some(record),
                "limit_warning",
                serde_json::json!({ "message": message }),
            )?;
            tracing::warn!(%message, "limit warning");
            self.events.push(GateEvent::LimitWarning { message });
        }
        self.advance(record, ActionStatus::Approved, why);
        if record.kind == ActionKind::SendEmail
            && (self.args.config.email_grace_secs > 0 || self.paused)
        {
            let release_at =
                self.now() + chrono::Duration::seconds(self.args.config.email_grace_secs as i64);
            record.release_at = Some(release_at);
            let waiting = if self.paused {
                "held in the outbox: the kill switch is on; it leaves after `bazaar resume`, undo cancels it"
            } else {
                "waiting in the outbox; undo cancels it"
            };
            self.advance(record, ActionStatus::Scheduled, waiting);
            self.store().put(record)?;
            self.audit(
                Some(record),
                "scheduled",
                serde_json::json!({ "release_at": release_at }),
            )?;
            self.policy_dirty = true;
            self.schedule_release(release_at);
            return Ok(Outcome::Scheduled {
                action: record.id,
                release_at,
            });
        }
        self.start_execution(record)?;
        Ok(Outcome::Executed { action: record.id })
    }

    fn start_execution(&mut self, record: &mut ActionRecord) -> Result<(), StoreError> {
        self.advance(record, ActionStatus::Executing, "intent written");
        self.store().put(record)?;
        self.audit(
            Some(record),
            "intent",
            serde_json::json!({ "idempotency_key": record.idempotency_key, "value": record.value }),
        )?;
        self.policy_dirty = true;
        self.to_execute.push(record.id);
        Ok(())
    }

    fn schedule_release(&self, at: DateTime<Utc>) {
        let delay = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        let sleep = self.args.clock.sleep(delay);
        let addr = self.args.addr.clone();
        tokio::spawn(async move {
            sleep.await;
            let _ = addr.send(GateMsg::ReleaseDue);
        });
    }

    fn propose(&mut self, action: Action) -> Result<Outcome, StoreError> {
        let earlier: Vec<ActionRecord> = self.store().find(
            ActionRecord::BY_IDEMPOTENCY_KEY,
            action.idempotency_key.as_bytes(),
        )?;
        if let Some(earlier) = earlier.first() {
            return Ok(Outcome::Duplicate {
                action: earlier.id,
                status: earlier.lifecycle.status,
            });
        }
        let now = self.now();
        let mut record = ActionRecord {
            id: ActionId::new_at(now),
            kind: action.kind,
            target: action.target,
            params: action.params,
            proposer: action.proposer,
            rule: action.rule,
            value: action.value,
            marketplace: action.marketplace,
            idempotency_key: action.idempotency_key,
            about: action.about,
            confidence: None,
            lifecycle: Lifecycle::new(ActionStatus::Proposed),
            result: None,
            before: None,
            after: None,
            undo: None,
            undoes: None,
            proposed_at: now,
            release_at: None,
        };
        self.audit(
            Some(&record),
            "proposed",
            serde_json::json!({ "proposer": record.proposer, "rule": record.rule, "value": record.value }),
        )?;
        if let Some(problem) = invalid(&record) {
            return self.block(&mut record, format!("invalid action: {problem}"));
        }
        if let Some(reason) = self.sale_refusal(&record)? {
            return self.block(&mut record, reason);
        }
        // Mail is held in the outbox while paused (see `clear_to_run`); the rest is refused.
        if self.paused && record.kind != ActionKind::SendEmail {
            return self.block(
                &mut record,
                "paused: the kill switch is on (`bazaar resume` turns it off)".into(),
            );
        }
        let rule = self.rule(&record.rule);
        let input = ScoreInput {
            value: record.value,
            pattern_match: action.pattern_match,
            rule_accuracy: rule.accuracy(),
            operator_idle_hours: self
                .operator_seen
                .map(|seen| u64::try_from((now - seen).num_hours()).unwrap_or(0)),
            first_execution: rule.first_execution(),
        };
        let score = confidence::score(&self.args.config.confidence, &input);
        record.confidence = Some(score.value);
        self.audit(
            Some(&record),
            "scored",
            serde_json::json!({ "score": score }),
        )?;
        let low = self.args.config.confidence.low;
        if score.blocks(&self.args.config.confidence) {
            let reason = format!("confidence {:.2} is below {low:.2}", score.value);
            return self.block(&mut record, reason);
        }
        if score.tier == confidence::Tier::VeryLow {
            let reason = format!(
                "confidence {:.2} is below {low:.2} only for want of oversight (operator away or the rule's first run): a person decides",
                score.value
            );
            return self.ask_operator(&mut record, reason);
        }
        let high_value = record
            .value
            .is_some_and(|v| v.minor >= self.args.config.high_value.minor);
        if high_value || !score.tier.executes() {
            let reason = if high_value {
                format!(
                    "value {} is at or above the high-value line {}",
                    record.value.unwrap_or(self.args.config.high_value),
                    self.args.config.high_value
                )
            } else {
                format!(
                    "confidence {:.2} needs a person (below {:.2})",
                    score.value, self.args.config.confidence.medium
                )
            };
            return self.ask_operator(&mut record, reason);
        }
        let why = format!("confidence {:.2} ({:?})", score.value, score.tier);
        self.clear_to_run(&mut record, &why)
    }

    fn ask_operator(
        &mut self,
        record: &mut ActionRecord,
        reason: String,
    ) -> Result<Outcome, StoreError> {
        self.advance(record, ActionStatus::PendingApproval, &reason);
        self.store().put(record)?;
        let now = self.now();
        let approval = Approval {
            id: ApprovalId::new_at(now),
            action: Some(record.id),
            summary: summarize(record),
            reason: reason.clone(),
            lifecycle: Lifecycle::new(ApprovalStatus::Pending),
            requested_at: now,
            deadline: Some(now + chrono::Duration::hours(APPROVAL_TTL_HOURS)),
            decided_by: None,
        };
        self.store().put(&approval)?;
        if let Some(deadline) = approval.deadline {
            self.schedule_release(deadline);
        }
        self.audit(
            Some(record),
            "approval_needed",
            serde_json::json!({ "approval": approval.id, "reason": reason }),
        )?;
        self.events.push(GateEvent::ApprovalNeeded {
            approval: approval.id,
            action: record.id,
            summary: approval.summary.clone(),
        });
        Ok(Outcome::PendingApproval {
            action: record.id,
            approval: approval.id,
        })
    }

    fn pending_approval(&self, id: ApprovalId) -> Result<(Approval, ActionRecord), GateError> {
        let approval: Approval = self
            .store()
            .get(&id)?
            .ok_or_else(|| GateError::NotFound(format!("approval {id}")))?;
        if approval.lifecycle.status != ApprovalStatus::Pending {
            return Err(GateError::Conflict(format!(
                "approval {id} is already {}",
                approval.lifecycle.status
            )));
        }
        let action_id = approval.action.ok_or_else(|| {
            GateError::Conflict(format!(
                "approval {id} is a task, not a decision; once it is done, `bazaar resolve {id} --happened yes`"
            ))
        })?;
        let record: ActionRecord = self
            .store()
            .get(&action_id)?
            .ok_or_else(|| GateError::NotFound(format!("action {action_id}")))?;
        Ok((approval, record))
    }

    fn decide(
        &mut self,
        id: ApprovalId,
        by: &str,
        approve: bool,
        reason: &str,
    ) -> Result<Outcome, GateError> {
        let (mut approval, mut record) = self.pending_approval(id)?;
        if record.lifecycle.status != ActionStatus::PendingApproval {
            return Err(GateError::Conflict(format!(
                "approval {id} asks whether action {} happened ({}); resolve it instead",
                record.id, record.lifecycle.status
            )));
        }
        if approve && self.paused && record.kind != ActionKind::SendEmail {
            return Err(GateError::Conflict(format!(
                "the kill switch is on: {} would run now; `bazaar resume` first, then approve",
                record.kind
            )));
        }
        let now = self.now();
        self.operator_seen = Some(now);
        let status = if approve {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        approval
            .lifecycle
            .advance(status, now, reason)
            .map_err(|e| GateError::Conflict(e.to_string()))?;
        approval.decided_by = Some(by.to_string());
        self.store().put(&approval)?;
        let rule = self.rules.entry(record.rule.clone()).or_default();
        let outcome = if approve {
            rule.approved += 1;
            self.audit(
                Some(&record),
                "approved",
                serde_json::json!({ "by": by, "approval": id }),
            )?;
            // Checked again: a sale may have landed while the action waited for approval.
            match self.sale_refusal(&record)? {
                Some(reason) => self.block(&mut record, reason)?,
                None => self.clear_to_run(&mut record, &format!("approved by {by}"))?,
            }
        } else {
            rule.rejected += 1;
            self.advance(&mut record, ActionStatus::Rejected, reason);
            self.store().put(&record)?;
            self.audit(
                Some(&record),
                "rejected",
                serde_json::json!({ "by": by, "reason": reason, "approval": id }),
            )?;
            Outcome::Rejected { action: record.id }
        };
        self.policy_dirty = true;
        Ok(outcome)
    }

    fn resolve(
        &mut self,
        id: ApprovalId,
        by: &str,
        happened: bool,
        note: &str,
    ) -> Result<Outcome, GateError> {
        let mut approval: Approval = self
            .store()
            .get(&id)?
            .ok_or_else(|| GateError::NotFound(format!("approval {id}")))?;
        if approval.lifecycle.status != ApprovalStatus::Pending {
            return Err(GateError::Conflict(format!(
                "approval {id} is already {}",
                approval.lifecycle.status
            )));
        }
        // Bazaar closing a task it opened, once done, says nothing of the operator.
        if by != CLOSED_BY_BAZAAR {
            self.operator_seen = Some(self.now());
        }
        let record = match approval.action {
            Some(action) => self.store().get::<ActionRecord>(&action)?,
            None => None,
        };
        match record {
            Some(mut record) if record.lifecycle.status == ActionStatus::Executing => {
                let result = if happened {
                    Ok(crate::effector::Effect {
                        result: serde_json::json!({ "confirmed_by": by, "note": note }),
                        ..Default::default()
                    })
                } else {
                    Err(EffectError::Failed(format!(
                        "{by} found it did not happen: {note}"
                    )))
                };
                self.record_result(&mut record, result)?;
            }
            Some(record) if record.lifecycle.status == ActionStatus::PendingApproval => {
                return Err(GateError::Conflict(format!(
                    "approval {id} is a decision; approve or reject it"
                )));
            }
            Some(_) | None => {}
        }
        let decided = if happened {
            "resolved: it happened"
        } else {
            "resolved: it did not happen"
        };
        // "It did not happen" closes the task as not done, not as approved.
        let closed = if happened {
            ApprovalStatus::Approved
        } else {
            ApprovalStatus::Rejected
        };
        approval
            .lifecycle
            .advance(closed, self.now(), format!("{decided}; {note}"))
            .map_err(|e| GateError::Conflict(e.to_string()))?;
        approval.decided_by = Some(by.to_string());
        self.store().put(&approval)?;
        self.audit(
            None,
            "task_resolved",
            serde_json::json!({ "approval": id, "by": by, "happened": happened, "note": note }),
        )?;
        Ok(Outcome::Resolved { approval: id })
    }

    fn undo(&mut self, id: ActionId, by: &str) -> Result<Outcome, GateError> {
        let mut record: ActionRecord = self
            .store()
            .get(&id)?
            .ok_or_else(|| GateError::NotFound(format!("action {id}")))?;
        let now = self.now();
        self.operator_seen = Some(now);
        if record.lifecycle.status == ActionStatus::Scheduled {
            self.advance(
                &mut record,
                ActionStatus::Cancelled,
                &format!("cancelled by {by} before it left"),
            );
            self.store().put(&record)?;
            self.limits.release(record.id, self.today());
            self.audit(Some(&record), "cancelled", serde_json::json!({ "by": by }))?;
            self.policy_dirty = true;
            return Ok(Outcome::Cancelled { action: id });
        }
        if record.lifecycle.status != ActionStatus::Executed {
            return Err(GateError::Conflict(format!(
                "action {id} is {}; only executed or scheduled actions can be undone",
                record.lifecycle.status
            )));
        }
        let Some(recipe) = record.undo.clone() else {
            return Err(GateError::Conflict(format!(
                "{} cannot be undone once it has run",
                record.kind
            )));
        };
        if now > recipe.deadline {
            return Err(GateError::Conflict(format!(
                "the undo window for action {id} closed at {}",
                recipe.deadline
            )));
        }
        if self.paused && recipe.kind != ActionKind::WithdrawListing {
            // Taking a listing down is the one compensation that may run while paused.
            return Err(GateError::Conflict(format!(
                "the kill switch is on: undoing action {id} would run {} now; `bazaar resume` first",
                recipe.kind
            )));
        }
        if let Some(reason) = sale_guard::undo_refusal(self.store(), &record)? {
            return Err(GateError::Conflict(format!(
                "action {id} cannot be undone: {reason}"
            )));
        }
        let key = format!("undo:{id}");
        if !self
            .store()
            .find(ActionRecord::BY_IDEMPOTENCY_KEY, key.as_bytes())?
            .is_empty()
        {
            return Err(GateError::Conflict(format!(
                "action {id} is already being undone"
            )));
        }
        let mut compensation = ActionRecord {
            id: ActionId::new_at(now),
            kind: recipe.kind,
            target: record.target.clone(),
            params: recipe.params.clone(),
            proposer: by.to_string(),
            rule: "undo".into(),
            value: None,
            marketplace: record.marketplace,
            idempotency_key: key,
            about: record.about.as_ref().map(|about| format!("undo: {about}")),
            confidence: None,
            lifecycle: Lifecycle::new(ActionStatus::Proposed),
            result: None,
            before: None,
            after: None,
            undo: None,
            undoes: Some(id),
            proposed_at: now,
            release_at: None,
        };
        self.audit(
            Some(&compensation),
            "undo_requested",
            serde_json::json!({ "by": by, "undoes": id }),
        )?;
        let outcome = self.clear_to_run(&mut compensation, &format!("undo of {id} by {by}"))?;
        if let Outcome::Blocked { reason, .. } = outcome {
            return Err(GateError::Conflict(format!("undo blocked: {reason}")));
        }
        self.compensations.push((id, compensation.id));
        Ok(Outcome::Undone {
            action: id,
            compensation: compensation.id,
        })
    }

    fn set_paused(&mut self, paused: bool, by: &str) -> Result<(), GateError> {
        self.paused = paused;
        self.operator_seen = Some(self.now());
        let event = if paused { "paused" } else { "resumed" };
        self.audit(None, event, serde_json::json!({ "by": by }))?;
        self.policy_dirty = true;
        tracing::warn!(by, paused, "kill switch changed");
        if !paused {
            // Mail held while paused leaves now (what is due; the rest at its time).
            self.release_due()?;
        }
        Ok(())
    }

    /// Expires approvals nobody answered in time: their actions are blocked.
    fn expire_approvals(&mut self) -> Result<(), StoreError> {
        let now = self.now();
        let pending: Vec<Approval> = self
            .store()
            .with_status::<Approval>(ApprovalStatus::Pending)?;
        for mut approval in pending {
            if approval.deadline.is_none_or(|deadline| deadline > now) {
                continue;
            }
            let reason = "nobody answered before the deadline";
            self.advance_approval(&mut approval, ApprovalStatus::Expired, reason)?;
            let Some(action) = approval.action else {
                continue;
            };
            if let Some(mut record) = self.store().get::<ActionRecord>(&action)? {
                if record.lifecycle.status == ActionStatus::PendingApproval {
                    let outcome = self.block(&mut record, format!("approval expired: {reason}"))?;
                    tracing::info!(?outcome, "approval expired");
                }
            }
        }
        Ok(())
    }

    fn advance_approval(
        &mut self,
        approval: &mut Approval,
        to: ApprovalStatus,
        reason: &str,
    ) -> Result<(), StoreError> {
        if let Err(illegal) = approval.lifecycle.advance(to, self.now(), reason) {
            tracing::error!(approval = %approval.id, %illegal, "policy gate made an illegal move");
            return Ok(());
        }
        self.store().put(approval)
    }

    fn release_due(&mut self) -> Result<(), StoreError> {
        self.expire_approvals()?;
        if self.paused {
            // The outbox holds everything while the kill switch is on; resume releases it.
            return Ok(());
        }
        let now = self.now();
        let scheduled: Vec<ActionRecord> = self
            .store()
            .with_status::<ActionRecord>(ActionStatus::Scheduled)?;
        for mut record in scheduled {
            if record.release_at.is_some_and(|at| at <= now) {
                self.start_execution(&mut record)?;
            }
        }
        self.request_commit();
        Ok(())
    }

    /// The group commit: sync intents (and the last round's results), execute, answer,
    /// and ask for the sync that makes this round's results durable.
    async fn commit(&mut self) -> Result<(), StoreError> {
        self.commit_requested = false;
        self.save_policy_state()?;
        self.store().sync().await?;
        let executions = std::mem::take(&mut self.to_execute);
        let wrote_results = !executions.is_empty();
        let mut outcomes: BTreeMap<ActionId, Outcome> = BTreeMap::new();
        for id in executions {
            let Some(record) = self.store().get::<ActionRecord>(&id)? else {
                continue;
            };
            let outcome = self.execute(record).await?;
            outcomes.insert(id, outcome);
        }
        for (original, compensation) in std::mem::take(&mut self.compensations) {
            if matches!(outcomes.get(&compensation), Some(Outcome::Executed { .. })) {
                self.mark_undone(original, compensation)?;
            }
        }
        let settled: Vec<Settled> = std::mem::take(&mut self.replies)
            .into_iter()
            .map(|reply| {
                let executed = reply.action.and_then(|id| outcomes.get(&id));
                let outcome = match (executed, reply.on_success) {
                    (Some(Outcome::Executed { .. }), Some(answer)) => answer,
                    (Some(outcome), _) => outcome.clone(),
                    (None, _) => reply.decided,
                };
                Settled {
                    port: reply.port,
                    outcome,
                }
            })
            .collect();
        let events = std::mem::take(&mut self.events);
        self.answer(settled, events);
        if wrote_results {
            self.request_commit();
        }
        Ok(())
    }

    /// Sends events, then answers: subscribers hear of an action no later than its proposer.
    fn answer(&self, settled: Vec<Settled>, events: Vec<GateEvent>) {
        for event in events {
            // No subscriber is fine: events are also in the audit log.
            let _ = self.args.events.send(event);
        }
        for Settled { port, outcome } in settled {
            match port {
                Port::Proposal(port) => {
                    let _ = port.send(outcome);
                }
                Port::Task(port, approval) => {
                    let _ = port.send(approval);
                }
                Port::Command(port) => {
                    let answer = match outcome {
                        Outcome::Failed { reason, .. } => {
                            Err(GateError::Conflict(format!("failed: {reason}")))
                        }
                        Outcome::Blocked { reason, .. } => {
                            Err(GateError::Conflict(format!("blocked: {reason}")))
                        }
                        outcome => Ok(outcome),
                    };
                    let _ = port.send(answer);
                }
            }
        }
    }

    fn mark_undone(
        &mut self,
        original: ActionId,
        compensation: ActionId,
    ) -> Result<(), StoreError> {
        let Some(mut record) = self.store().get::<ActionRecord>(&original)? else {
            return Ok(());
        };
        self.advance(
            &mut record,
            ActionStatus::Undone,
            &format!("compensated by {compensation}"),
        );
        self.store().put(&record)?;
        self.rules.entry(record.rule.clone()).or_default().undone += 1;
        self.audit(
            Some(&record),
            "undone",
            serde_json::json!({ "compensation": compensation }),
        )?;
        self.policy_dirty = true;
        Ok(())
    }

    async fn execute(&mut self, mut record: ActionRecord) -> Result<Outcome, StoreError> {
        let effector = self.args.effector.clone();
        let result = effector.execute(&record).await;
        self.record_result(&mut record, result)
    }

    fn record_result(
        &mut self,
        record: &mut ActionRecord,
        result: Result<crate::effector::Effect, EffectError>,
    ) -> Result<Outcome, StoreError> {
        match result {
            Ok(effect) => {
                record.result = Some(effect.result);
                record.before = effect.before;
                record.after = effect.after;
                record.undo = match (
                    record.kind.compensation(),
                    effect.undo_params,
                    record.undoes,
                ) {
                    (Some(kind), Some(params), None) => Some(UndoRecipe {
                        kind,
                        params,
                        deadline: self.now()
                            + chrono::Duration::hours(self.args.config.undo_window_hours as i64),
                    }),
                    _ => None,
                };
                self.advance(
                    record,
                    ActionStatus::Executed,
                    "the outside world confirmed it",
                );
                self.store().put(record)?;
                self.rules.entry(record.rule.clone()).or_default().executed += 1;
                self.audit(
                    Some(record),
                    "executed",
                    serde_json::json!({ "result": record.result, "before": record.before, "after": record.after }),
                )?;
                self.policy_dirty = true;
                self.events.push(GateEvent::ActionExecuted {
                    action: record.id,
                    kind: record.kind,
                    target: record.target.clone(),
                });
                Ok(Outcome::Executed { action: record.id })
            }
            Err(EffectError::Failed(reason)) => {
                self.advance(record, ActionStatus::Failed, &reason);
                self.store().put(record)?;
                self.limits.release(record.id, self.today());
                self.audit(
                    Some(record),
                    "failed",
                    serde_json::json!({ "reason": reason }),
                )?;
                self.policy_dirty = true;
                tracing::warn!(action = %record.id, kind = %record.kind, %reason, "action failed");
                self.events.push(GateEvent::Error {
                    message: format!("{} on {} failed: {reason}", record.kind, record.target),
                });
                Ok(Outcome::Failed {
                    action: record.id,
                    reason,
                })
            }
            Err(EffectError::Unknown(reason)) => self.needs_reconciling(record, reason),
        }
    }

    fn open_task(
        &mut self,
        summary: String,
        reason: String,
        event: Option<GateEvent>,
    ) -> Result<ApprovalId, StoreError> {
        let now = self.now();
        let approval = Approval {
            id: ApprovalId::new_at(now),
            action: None,
            summary: summary.clone(),
            reason: reason.clone(),
            lifecycle: Lifecycle::new(ApprovalStatus::Pending),
            requested_at: now,
            deadline: None,
            decided_by: None,
        };
        self.store().put(&approval)?;
        let event = event.unwrap_or_else(|| GateEvent::Error {
            message: format!("{summary} ({reason}); see the inbox"),
        });
        self.audit(
            None,
            "task_opened",
            serde_json::json!({
                "approval": approval.id,
                "summary": summary,
                "reason": reason,
                "event": event.name(),
            }),
        )?;
        self.events.push(event);
        self.request_commit();
        Ok(approval.id)
    }

    fn needs_reconciling(
        &mut self,
        record: &ActionRecord,
        reason: String,
    ) -> Result<Outcome, StoreError> {
        let now = self.now();
        let approval = Approval {
            id: ApprovalId::new_at(now),
            action: Some(record.id),
            summary: format!(
                "check whether {} happened (idempotency key {}), then resolve this",
                summarize(record),
                record.idempotency_key
            ),
            reason: reason.clone(),
            lifecycle: Lifecycle::new(ApprovalStatus::Pending),
            requested_at: now,
            deadline: None,
            decided_by: None,
        };
        self.store().put(&approval)?;
        self.audit(
            Some(record),
            "outcome_unknown",
            serde_json::json!({ "reason": reason, "approval": approval.id }),
        )?;
        self.events.push(GateEvent::Error {
            message: format!(
                "{}: outcome unknown ({reason}); see the inbox",
                summarize(record)
            ),
        });
        Ok(Outcome::Unknown {
            action: record.id,
            approval: approval.id,
        })
    }

    /// At start-up: every intent whose result was never recorded is looked up, never
    /// blindly repeated.
    async fn reconcile(&mut self) -> Result<(), StoreError> {
        let open: Vec<ActionRecord> = self
            .store()
            .with_status::<ActionRecord>(ActionStatus::Executing)?;
        let approved: Vec<ActionRecord> = self
            .store()
            .with_status::<ActionRecord>(ActionStatus::Approved)?;
        for mut record in open.into_iter().chain(approved) {
            let effector = self.args.effector.clone();
            match effector.lookup(&record).await {
                Lookup::Done(effect) => {
                    if record.lifecycle.status == ActionStatus::Approved {
                        self.advance(
                            &mut record,
                            ActionStatus::Executing,
                            "found done at start-up",
                        );
                    }
                    self.audit(
                        Some(&record),
                        "reconciled",
                        serde_json::json!({ "found": "done" }),
                    )?;
                    self.record_result(&mut record, Ok(effect))?;
                }
                Lookup::NotDone => {
                    self.audit(
                        Some(&record),
                        "reconciled",
                        serde_json::json!({ "found": "not done" }),
                    )?;
                    if record.lifecycle.status == ActionStatus::Approved {
                        self.start_execution(&mut record)?;
                    } else {
                        self.to_execute.push(record.id);
                    }
                }
                Lookup::Unknown(reason) => {
                    self.needs_reconciling(&record, reason)?;
                }
            }
        }
        let scheduled: Vec<ActionRecord> = self
            .store()
            .with_status::<ActionRecord>(ActionStatus::Scheduled)?;
        for record in scheduled {
            if let Some(at) = record.release_at {
                self.schedule_release(at);
            }
        }
        let pending: Vec<Approval> = self
            .store()
            .with_status::<Approval>(ApprovalStatus::Pending)?;
        for deadline in pending.iter().filter_map(|a| a.deadline) {
            self.schedule_release(deadline);
        }
        if !self.to_execute.is_empty() {
            self.request_commit();
        }
        self.save_policy_state()?;
        self.store().sync().await
    }

    fn status(&self) -> Result<GateStatus, StoreError> {
        let pending: Vec<Approval> = self
            .store()
            .with_status::<Approval>(ApprovalStatus::Pending)?;
        let usd = |minor| Money::usd(minor);
        Ok(GateStatus {
            paused: self.paused,
            audit_len: self.head.as_ref().map_or(0, |h| h.seq + 1),
            audit_head: self.head.as_ref().map(|h| h.hash.clone()),
            pending_approvals: pending.len(),
            counters: self.limits.counts.clone(),
            spend_day: usd(self.limits.day_spend()),
            spend_week: usd(self.limits.week_spend()),
            open_commitments: usd(self.limits.committed()),
        })
    }
}

/// What is wrong with an action on its face, if anything.
fn invalid(record: &ActionRecord) -> Option<String> {
    if record.target.trim().is_empty() {
        return Some("it has no target".into());
    }
    if record.idempotency_key.trim().is_empty() {
        return Some("it has no idempotency key".into());
    }
    if record.value.is_some_and(|v| v.is_negative()) {
        return Some(format!(
            "negative value {}",
            record.value.unwrap_or(Money::usd(0))
        ));
    }
    if record.kind == ActionKind::Purchase && record.value.is_none() {
        return Some("a purchase must say how much it spends".into());
    }
    // The proposer's own bound (a negotiation's ceiling, an item's floor): the gate holds
    // it whatever the proposer was talked into.
    if let Some(limit) = record.params.get("max_value") {
        let Ok(limit) = serde_json::from_value::<Money>(limit.clone()) else {
            return Some(format!("max_value {limit} is not an amount"));
        };
        if let Some(value) = record.value {
            if value.currency != limit.currency || value.minor > limit.minor {
                return Some(format!("value {value} is above its limit {limit}"));
            }
        }
    }
    None
}

/// One line an operator can decide on.
pub fn summarize(record: &ActionRecord) -> String {
    let value = record
        .value
        .map(|v| format!(" for {v}"))
        .unwrap_or_default();
    let reversible = if record.kind.compensation().is_some() {
        "undoable"
    } else if record.kind == ActionKind::SendEmail {
        "cancellable while in the outbox"
    } else {
        "cannot be undone"
    };
    match &record.about {
        Some(about) => format!(
            "{about} ({} {}; rule {}; {reversible})",
            record.kind, record.target, record.rule
        ),
        None => format!(
            "{} {}{value} (rule {}, proposed by {}; {reversible})",
            record.kind, record.target, record.rule, record.proposer
        ),
    }
}

impl Actor for PolicyGate {
    type Msg = Envelope<GateMsg>;
    type State = GateState;
    type Arguments = PolicyGateArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: PolicyGateArgs,
    ) -> Result<GateState, ActorProcessingErr> {
        let store = args.store.clone();
        let head = store.all::<AuditEntry>()?.pop();
        let paused = store.get_meta(POLICY_PAUSED)?.unwrap_or(args.config.paused);
        let mut state = GateState {
            head,
            limits: store.get_meta(POLICY_LIMITS)?.unwrap_or_default(),
            rules: store.get_meta(POLICY_RULES)?.unwrap_or_default(),
            paused,
            operator_seen: store.get_meta(POLICY_OPERATOR_SEEN)?.flatten(),
            args,
            to_execute: Vec::new(),
            compensations: Vec::new(),
            replies: Vec::new(),
            commit_requested: false,
            events: Vec::new(),
            policy_dirty: false,
        };
        state.reconcile().await?;
        tracing::debug!(
            audit_len = state.head.as_ref().map_or(0, |h| h.seq + 1),
            paused,
            "policy gate started"
        );
        Ok(state)
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut GateState,
    ) -> Result<(), ActorProcessingErr> {
        // The last round's results may wait for a sync: give them one, so a clean stop
        // leaves nothing for start-up to look up.
        if state.commit_requested {
            state.save_policy_state()?;
            state.store().sync().await?;
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut GateState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                GateMsg::Propose(action, reply) => {
                    let outcome = state.propose(action)?;
                    if let Outcome::Duplicate { .. } = outcome {
                        let _ = reply.send(outcome);
                        continue;
                    }
                    state.replies.push(Reply {
                        port: Port::Proposal(reply),
                        action: action_of(&outcome),
                        decided: outcome,
                        on_success: None,
                    });
                    state.request_commit();
                }
                GateMsg::Approve {
                    approval,
                    by,
                    reply,
                } => command(state, reply, |s| s.decide(approval, &by, true, "approved")),
                GateMsg::Reject {
                    approval,
                    by,
                    reason,
                    reply,
                } => command(state, reply, |s| s.decide(approval, &by, false, &reason)),
                GateMsg::Undo { action, by, reply } => {
                    command(state, reply, |s| s.undo(action, &by))
                }
                GateMsg::Resolve {
                    approval,
                    by,
                    happened,
                    note,
                    reply,
                } => command(state, reply, |s| s.resolve(approval, &by, happened, &note)),
                GateMsg::SetPaused { paused, by, reply } => {
                    let result = state.set_paused(paused, &by);
                    state.save_policy_state()?;
                    state.store().sync().await?;
                    let _ = reply.send(result);
                }
                GateMsg::Task {
                    summary,
                    reason,
                    event,
                    reply,
                } => {
                    let approval = state.open_task(summary, reason, event)?;
                    state.replies.push(Reply {
                        port: Port::Task(reply, approval),
                        action: None,
                        decided: Outcome::Resolved { approval },
                        on_success: None,
                    });
                }
                GateMsg::Announce { event, detail } => {
                    state.audit(None, event.name(), detail)?;
                    state.events.push(event);
                    state.request_commit();
                }
                GateMsg::Settle(action) => {
                    if state.limits.settle(action) {
                        state.policy_dirty = true;
                        state.request_commit();
                    }
                }
                GateMsg::Status(reply) => {
                    let _ = reply.send(state.status()?);
                }
                GateMsg::Commit => state.commit().await?,
                GateMsg::ReleaseDue => state.release_due()?,
            }
        }
        Ok(())
    }
}

/// The action an outcome is about, if any.
fn action_of(outcome: &Outcome) -> Option<ActionId> {
    let action = match outcome {
        Outcome::Resolved { .. } => return None,
        Outcome::Executed { action }
        | Outcome::Failed { action, .. }
        | Outcome::Blocked { action, .. }
        | Outcome::PendingApproval { action, .. }
        | Outcome::Scheduled { action, .. }
        | Outcome::Duplicate { action, .. }
        | Outcome::Unknown { action, .. }
        | Outcome::Rejected { action }
        | Outcome::Cancelled { action }
        | Outcome::Undone { action, .. } => *action,
    };
    Some(action)
}

/// Runs an operator command; its answer waits for the next commit, like a proposal's.
fn command(
    state: &mut GateState,
    reply: RpcReplyPort<Result<Outcome, GateError>>,
    run: impl FnOnce(&mut GateState) -> Result<Outcome, GateError>,
) {
    match run(state) {
        Ok(outcome) => {
            let reply = match outcome {
                // Answer the undo once its compensation has run.
                Outcome::Undone { compensation, .. } => Reply {
                    port: Port::Command(reply),
                    action: Some(compensation),
                    decided: Outcome::Executed {
                        action: compensation,
                    },
                    on_success: Some(outcome),
                },
                other => Reply {
                    port: Port::Command(reply),
                    action: action_of(&other),
                    decided: other,
                    on_success: None,
                },
            };
            state.replies.push(reply);
            state.request_commit();
        }
        Err(error) => {
            let _ = reply.send(Err(error));
        }
    }
}
