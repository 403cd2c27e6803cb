//! The PolicyGate actor.

use bazaar_memory::{
    ActionId, ActionKind, ActionRecord, ActionStatus, AuditEntry, Envelope, Lifecycle, SharedClock,
    SledStore, Store, StoreError,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// An action an actor wants to take.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// What kind.
    pub kind: ActionKind,
    /// What it acts on.
    pub target: String,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Who proposes it.
    pub proposer: String,
    /// Makes a repeat harmless.
    pub idempotency_key: String,
}

/// What the gate decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Refused, with the reason.
    Blocked {
        /// The recorded action.
        action: ActionId,
        /// Why.
        reason: String,
    },
    /// The same idempotency key was proposed before; this is what happened then.
    Duplicate {
        /// The earlier action.
        action: ActionId,
        /// Its status.
        status: ActionStatus,
    },
    /// The gate could not record the proposal; nothing was done.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What the gate holds, for `bazaar status`.
#[derive(Debug, Clone, PartialEq)]
pub struct GateStatus {
    /// Audit entries so far.
    pub audit_len: u64,
    /// The latest entry's hash.
    pub audit_head: Option<String>,
}

/// Messages to the gate.
#[derive(Debug)]
pub enum GateMsg {
    /// Decide on an action.
    Propose(ActionRequest, RpcReplyPort<Outcome>),
    /// Report what the gate holds.
    Status(RpcReplyPort<GateStatus>),
}

/// What the gate needs to start.
#[derive(Debug, Clone)]
pub struct PolicyGateArgs {
    /// The store.
    pub store: SledStore,
    /// The clock.
    pub clock: SharedClock,
}

/// The gate actor.
#[derive(Debug, Default)]
pub struct PolicyGate;

/// The gate's state: derivable from the store, reloaded on restart.
#[derive(Debug)]
pub struct GateState {
    args: PolicyGateArgs,
    head: Option<AuditEntry>,
}

const NOT_CONFIGURED: &str = "the policy rules (confidence, limits, budgets, approvals) are not built in this version; every action is blocked";

impl GateState {
    fn append(
        &mut self,
        action: Option<ActionId>,
        event: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry::next(
            self.head.as_ref(),
            self.args.clock.now(),
            action,
            event,
            detail,
        );
        self.args.store.put(&entry)?;
        self.head = Some(entry);
        Ok(())
    }

    async fn propose(&mut self, request: ActionRequest) -> Result<Outcome, StoreError> {
        let store = self.args.store.clone();
        let earlier: Vec<ActionRecord> =
            store.find("by_idempotency_key", request.idempotency_key.as_bytes())?;
        if let Some(earlier) = earlier.first() {
            return Ok(Outcome::Duplicate {
                action: earlier.id,
                status: earlier.lifecycle.status,
            });
        }
        let now = self.args.clock.now();
        let mut record = ActionRecord {
            id: ActionId::new_at(now),
            kind: request.kind,
            target: request.target,
            params: request.params,
            proposer: request.proposer,
            idempotency_key: request.idempotency_key,
            confidence: None,
            lifecycle: Lifecycle::new(ActionStatus::Proposed),
            result: None,
            before: None,
            after: None,
            undo: None,
            proposed_at: now,
        };
        self.append(
            Some(record.id),
            "proposed",
            serde_json::json!({ "kind": record.kind, "target": record.target }),
        )?;
        record
            .lifecycle
            .advance(ActionStatus::Blocked, now, NOT_CONFIGURED)
            .expect("proposed -> blocked is a legal move");
        store.put(&record)?;
        self.append(
            Some(record.id),
            "blocked",
            serde_json::json!({ "reason": NOT_CONFIGURED }),
        )?;
        store.flush().await?;
        tracing::info!(action = %record.id, kind = ?record.kind, "action blocked");
        Ok(Outcome::Blocked {
            action: record.id,
            reason: NOT_CONFIGURED.to_string(),
        })
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
        let head = args.store.all::<AuditEntry>()?.pop();
        tracing::debug!(
            audit_len = head.as_ref().map_or(0, |h| h.seq + 1),
            "policy gate started"
        );
        Ok(GateState { args, head })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut GateState,
    ) -> Result<(), ActorProcessingErr> {
        let (msg, _in_flight) = envelope.open();
        match msg {
            GateMsg::Propose(request, reply) => {
                let outcome = match state.propose(request).await {
                    Ok(outcome) => outcome,
                    Err(error) => {
                        tracing::error!(%error, "policy gate could not record a proposal");
                        Outcome::Failed {
                            reason: error.to_string(),
                        }
                    }
                };
                let _ = reply.send(outcome);
            }
            GateMsg::Status(reply) => {
                let _ = reply.send(GateStatus {
                    audit_len: state.head.as_ref().map_or(0, |h| h.seq + 1),
                    audit_head: state.head.as_ref().map(|h| h.hash.clone()),
                });
            }
        }
        Ok(())
    }
}
