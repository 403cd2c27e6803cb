//! A marketplace that remembers what was done to it, and a gate to drive against it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bazaar_config::{Config, PolicyConfig};
use bazaar_memory::{ActionKind, ActionRecord, Addr, Clock, Quiescence, SimClock, SledStore};
use bazaar_policies::effector::BoxFuture;
use bazaar_policies::{
    Action, Effect, EffectError, Effector, GateEvent, GateMsg, Lookup, PolicyGate, PolicyGateArgs,
};
use chrono::{DateTime, Utc};
use ractor::Actor;
use tokio::sync::broadcast;

/// What a test wants the world to do with the next execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Succeed,
    Fail,
    Unknown,
}

/// The outside world: executions keyed by idempotency key, and listing prices.
#[derive(Debug, Default)]
pub struct World {
    pub executed: Vec<(String, ActionKind, serde_json::Value)>,
    pub done_keys: BTreeMap<String, Effect>,
    pub prices: BTreeMap<String, String>,
    pub lookups: Vec<String>,
    pub unknown_keys: Vec<String>,
    pub next: Option<Next>,
}

/// An effector over a shared [`World`].
#[derive(Debug, Clone, Default)]
pub struct FakeMarket {
    pub world: Arc<Mutex<World>>,
}

impl FakeMarket {
    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    pub fn executions(&self) -> usize {
        self.world().executed.len()
    }
}

impl Effector for FakeMarket {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async move {
            let mut world = self.world.lock().unwrap();
            match world.next.take().unwrap_or(Next::Succeed) {
                Next::Fail => return Err(EffectError::Failed("the marketplace said no".into())),
                Next::Unknown => {
                    return Err(EffectError::Unknown(
                        "connection reset after sending".into(),
                    ))
                }
                Next::Succeed => {}
            }
            if let Some(effect) = world.done_keys.get(&action.idempotency_key) {
                return Ok(effect.clone());
            }
            let mut effect = Effect {
                result: serde_json::json!({ "ok": true }),
                ..Effect::default()
            };
            if action.kind == ActionKind::RevisePrice {
                let new = action.params["price"].as_str().unwrap_or("0").to_string();
                let old = world
                    .prices
                    .insert(action.target.clone(), new.clone())
                    .unwrap_or_else(|| "0".into());
                effect.before = Some(serde_json::json!({ "price": old }));
                effect.after = Some(serde_json::json!({ "price": new }));
                effect.undo_params = Some(serde_json::json!({ "price": old }));
            }
            if matches!(
                action.kind,
                ActionKind::WithdrawListing
                    | ActionKind::PublishListing
                    | ActionKind::Relist
                    | ActionKind::Archive
            ) {
                effect.undo_params = Some(serde_json::json!({}));
            }
            world.executed.push((
                action.idempotency_key.clone(),
                action.kind,
                action.params.clone(),
            ));
            world
                .done_keys
                .insert(action.idempotency_key.clone(), effect.clone());
            Ok(effect)
        })
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async move {
            let mut world = self.world.lock().unwrap();
            world.lookups.push(action.idempotency_key.clone());
            if world.unknown_keys.contains(&action.idempotency_key) {
                return Lookup::Unknown("the marketplace does not answer".into());
            }
            match world.done_keys.get(&action.idempotency_key) {
                Some(effect) => Lookup::Done(effect.clone()),
                None => Lookup::NotDone,
            }
        })
    }
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The shipped policy configuration.
pub fn policy() -> PolicyConfig {
    Config::load(None, std::iter::empty()).unwrap().policy
}

/// A policy where a trusted rule's ordinary actions execute at once (no first-execution or
/// operator-away penalty), so tests can reach the limits.
pub fn trusting_policy() -> PolicyConfig {
    let mut policy = policy();
    policy.confidence.first_execution_factor = 1.0;
    policy.confidence.operator_away_factor = 1.0;
    policy
}

pub struct Gate {
    pub addr: Addr<GateMsg>,
    pub actor: ractor::ActorRef<bazaar_memory::Envelope<GateMsg>>,
    pub done: tokio::task::JoinHandle<()>,
    pub events: broadcast::Receiver<GateEvent>,
    pub quiet: Quiescence,
    pub clock: SimClock,
    pub store: SledStore,
}

impl Gate {
    pub async fn start(
        store: SledStore,
        clock: SimClock,
        policy: PolicyConfig,
        market: FakeMarket,
    ) -> Gate {
        let quiet = Quiescence::new();
        let (events_tx, events) = broadcast::channel(4096);
        let args = PolicyGateArgs {
            store: store.clone(),
            clock: Arc::new(clock.clone()),
            config: Arc::new(policy),
            effector: Arc::new(market),
            events: events_tx,
            quiet: quiet.clone(),
        };
        let (actor, done) = Actor::spawn(None, PolicyGate, args)
            .await
            .expect("gate starts");
        let addr = Addr::new("policy_gate", quiet.clone(), 64);
        addr.bind(actor.clone());
        Gate {
            addr,
            actor,
            done,
            events,
            quiet,
            clock,
            store,
        }
    }

    pub async fn propose(&self, action: Action) -> bazaar_policies::Outcome {
        self.addr
            .ask(|reply| GateMsg::Propose(action, reply))
            .await
            .expect("gate answers")
    }

    pub async fn approve(
        &self,
        approval: bazaar_memory::ApprovalId,
    ) -> Result<bazaar_policies::Outcome, bazaar_policies::GateError> {
        self.addr
            .ask(|reply| GateMsg::Approve {
                approval,
                by: "operator".into(),
                reply,
            })
            .await
            .expect("gate answers")
    }

    pub async fn undo(
        &self,
        action: bazaar_memory::ActionId,
    ) -> Result<bazaar_policies::Outcome, bazaar_policies::GateError> {
        self.addr
            .ask(|reply| GateMsg::Undo {
                action,
                by: "operator".into(),
                reply,
            })
            .await
            .expect("gate answers")
    }

    pub async fn stop(self) {
        self.quiet.wait_quiet().await;
        self.actor.stop(None);
        self.done.await.unwrap();
        assert_eq!(
            self.actor.get_status(),
            ractor::ActorStatus::Stopped,
            "the gate was left running"
        );
    }

    pub fn events(&mut self) -> Vec<GateEvent> {
        let mut events = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            events.push(event);
        }
        events
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// A price revision on eBay.
pub fn reprice(sku: &str, price: &str, key: &str) -> Action {
    Action {
        kind: ActionKind::RevisePrice,
        target: sku.into(),
        params: serde_json::json!({ "price": price }),
        proposer: "autopilot".into(),
        rule: "reprice.time_decay".into(),
        value: Some(
            price
                .parse()
                .map(|p: bazaar_memory::Money| p)
                .unwrap_or(bazaar_memory::Money::usd(0)),
        ),
        marketplace: Some(bazaar_memory::Marketplace::Ebay),
        pattern_match: 1.0,
        idempotency_key: key.into(),
    }
}
