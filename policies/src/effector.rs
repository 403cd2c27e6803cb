//! The one way an action reaches the outside world: connectors implement [`Effector`].

use std::future::Future;
use std::pin::Pin;

use bazaar_memory::ActionRecord;

/// A boxed future, so effectors can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an executed action did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effect {
    /// What the outside world answered.
    pub result: serde_json::Value,
    /// The outside state before (e.g. the old price).
    pub before: Option<serde_json::Value>,
    /// The outside state after.
    pub after: Option<serde_json::Value>,
    /// Parameters for the compensating action, when the kind can be undone.
    pub undo_params: Option<serde_json::Value>,
}

/// What the outside world says about an action whose result was never recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// It happened (found by its idempotency key).
    Done(Effect),
    /// It definitely did not happen.
    NotDone,
    /// Nobody can tell; a person has to look.
    Unknown(String),
}

/// Why an execution did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EffectError {
    /// It definitely did not happen.
    #[error("{0}")]
    Failed(String),
    /// It may or may not have happened (timeout after sending, connection reset).
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

/// Executes actions against the outside world. Implementations must be idempotent by
/// `action.idempotency_key` (it travels as SKU / Message-ID / header) and able to look an
/// action up by that key.
pub trait Effector: Send + Sync + 'static {
    /// Carries the action out.
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>>;
    /// Finds out whether an action already happened.
    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup>;
}

/// The effector used when no connector is configured: every execution fails with a reason
/// the operator can act on, and nothing is ever found.
#[derive(Debug, Default)]
pub struct NoConnector;

impl Effector for NoConnector {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        let reason = match action.marketplace {
            Some(marketplace) => format!(
                "no {marketplace} connector is configured for {}",
                action.kind
            ),
            None => format!("no connector is configured for {}", action.kind),
        };
        Box::pin(async move { Err(EffectError::Failed(reason)) })
    }

    fn lookup<'a>(&'a self, _action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async { Lookup::NotDone })
    }
}
