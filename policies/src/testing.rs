//! An in-memory marketplace for tests of code that acts through the gate (feature
//! `testing`). It plays the outside world where no real connector exists yet: idempotent by
//! idempotency key, answers lookups, remembers prices so undo can be checked, and can be
//! told to fail or to leave an outcome unknown.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bazaar_memory::{ActionKind, ActionRecord};

use crate::effector::BoxFuture;
use crate::{Effect, EffectError, Effector, Lookup};

/// What the next execution does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Succeed (the default).
    Succeed,
    /// Fail definitively.
    Fail,
    /// Leave the outcome unknown.
    Unknown,
}

/// One execution the world saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// The idempotency key.
    pub key: String,
    pub kind: ActionKind,
    /// The parameters.
    pub params: serde_json::Value,
}

/// The world's state.
#[derive(Debug, Default)]
pub struct World {
    /// Every execution, in order.
    pub executed: Vec<Execution>,
    /// What each key did (for lookups and repeats).
    pub done: BTreeMap<String, Effect>,
    /// Listing prices by SKU.
    pub prices: BTreeMap<String, String>,
    /// Keys looked up, in order.
    pub lookups: Vec<String>,
    /// Keys whose lookup answers "unknown".
    pub unknown_keys: Vec<String>,
    /// What the next execution does.
    pub next: Option<Next>,
}

/// An [`Effector`] over a shared [`World`].
#[derive(Debug, Clone, Default)]
pub struct MemoryMarket {
    /// The shared world.
    pub world: Arc<Mutex<World>>,
}

impl MemoryMarket {
    /// Locks the world.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every execution so far.
    pub fn executions(&self) -> Vec<Execution> {
        self.world().executed.clone()
    }

    /// A listing's price.
    pub fn price(&self, sku: &str) -> Option<String> {
        self.world().prices.get(sku).cloned()
    }

    /// Sets a listing's price.
    pub fn set_price(&self, sku: &str, price: &str) {
        self.world().prices.insert(sku.into(), price.into());
    }
}

impl Effector for MemoryMarket {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async move {
            let mut world = self.world();
            match world.next.take().unwrap_or(Next::Succeed) {
                Next::Fail => return Err(EffectError::Failed("the marketplace said no".into())),
                Next::Unknown => {
                    return Err(EffectError::Unknown(
                        "connection reset after sending".into(),
                    ))
                }
                Next::Succeed => {}
            }
            if let Some(effect) = world.done.get(&action.idempotency_key) {
                return Ok(effect.clone());
            }
            let mut effect = Effect {
                result: serde_json::json!({ "ok": true }),
                ..Effect::default()
            };
            match action.kind {
                ActionKind::RevisePrice => {
                    let new = action.params["price"].as_str().unwrap_or("0").to_string();
                    let old = world
                        .prices
                        .insert(action.target.clone(), new.clone())
                        .unwrap_or_else(|| "0".into());
                    effect.before = Some(serde_json::json!({ "price": old }));
                    effect.after = Some(serde_json::json!({ "price": new }));
                    effect.undo_params = Some(serde_json::json!({ "price": old }));
                }
                ActionKind::WithdrawListing
                | ActionKind::PublishListing
                | ActionKind::Relist
                | ActionKind::Archive => {
                    effect.undo_params = Some(serde_json::json!({}));
                }
                _ => {}
            }
            world.executed.push(Execution {
                key: action.idempotency_key.clone(),
                kind: action.kind,
                params: action.params.clone(),
            });
            world
                .done
                .insert(action.idempotency_key.clone(), effect.clone());
            Ok(effect)
        })
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async move {
            let mut world = self.world();
            world.lookups.push(action.idempotency_key.clone());
            if world.unknown_keys.contains(&action.idempotency_key) {
                return Lookup::Unknown("the marketplace does not answer".into());
            }
            match world.done.get(&action.idempotency_key) {
                Some(effect) => Lookup::Done(effect.clone()),
                None => Lookup::NotDone,
            }
        })
    }
}
