//! A marketplace that remembers what was done to it, and a gate to drive against it.

#![allow(dead_code)]

use std::sync::Arc;

use bazaar_config::{Config, PolicyConfig};
use bazaar_memory::{ActionKind, Addr, Clock, Quiescence, SimClock, SledStore};
use bazaar_policies::{Action, GateEvent, GateMsg, PolicyGate, PolicyGateArgs};
use chrono::{DateTime, Utc};
use ractor::Actor;
use tokio::sync::broadcast;

#[allow(unused_imports)]
pub use bazaar_policies::testing::{MemoryMarket as FakeMarket, Next};

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
        let addr: Addr<GateMsg> = Addr::new("policy_gate", quiet.clone(), 64);
        let (events_tx, events) = broadcast::channel(4096);
        let args = PolicyGateArgs {
            store: store.clone(),
            clock: Arc::new(clock.clone()),
            config: Arc::new(policy),
            effector: Arc::new(market),
            events: events_tx,
            addr: addr.clone(),
        };
        let (actor, done) = Actor::spawn(None, PolicyGate, args)
            .await
            .expect("gate starts");
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
        about: None,
    }
}
