//! Properties under concurrent proposals: no limit, budget or cap is ever exceeded; every
//! executed action has exactly one `executed` audit entry; tampering is found.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use bazaar_memory::*;
use bazaar_policies::{Action, Outcome};
use proptest::prelude::*;
use support::*;

#[derive(Debug, Clone)]
struct Proposal {
    kind: ActionKind,
    listing: u8,
    dollars: i64,
    pattern: f64,
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (
        prop::sample::select(vec![
            ActionKind::RevisePrice,
            ActionKind::Relist,
            ActionKind::WithdrawListing,
            ActionKind::AcceptOffer,
            ActionKind::CounterOffer,
            ActionKind::Purchase,
        ]),
        0u8..4,
        1i64..260,
        prop::sample::select(vec![0.4, 0.75, 1.0]),
    )
        .prop_map(|(kind, listing, dollars, pattern)| Proposal {
            kind,
            listing,
            dollars,
            pattern,
        })
}

fn tight_policy() -> bazaar_config::PolicyConfig {
    let mut policy = trusting_policy();
    let l = &mut policy.limits;
    l.revise_price_per_day = 6;
    l.relist_per_day = 3;
    l.accept_offer_per_day = 4;
    l.counter_offer_per_day = 5;
    l.marketplace_revisions_per_day = 10;
    l.revisions_per_listing_per_day = 4;
    l.api_calls_per_day = 25;
    l.max_price_per_item = Money::usd(20_000);
    l.max_spend_per_day = Money::usd(50_000);
    l.max_spend_per_week = Money::usd(50_000);
    l.max_open_commitments = Money::usd(40_000);
    policy
}

async fn run(proposals: Vec<Proposal>) -> Result<(), TestCaseError> {
    let policy = tight_policy();
    let limits = policy.limits.clone();
    let market = FakeMarket::default();
    let gate = Arc::new(
        Gate::start(
            SledStore::temporary().unwrap(),
            SimClock::new(at("2026-04-01T17:00:00Z")),
            policy,
            market.clone(),
        )
        .await,
    );
    let mut tasks = Vec::new();
    for (n, p) in proposals.into_iter().enumerate() {
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let action = Action {
                kind: p.kind,
                target: format!("L{}", p.listing),
                params: serde_json::json!({ "price": format!("${}.00", p.dollars) }),
                proposer: "property".into(),
                rule: format!("rule-{:?}", p.kind),
                value: Some(Money::usd(p.dollars * 100)),
                marketplace: Some(Marketplace::Ebay),
                pattern_match: p.pattern,
                idempotency_key: format!("p{n}"),
                about: None,
            };
            gate.propose(action).await
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    gate.quiet.wait_quiet().await;
    let store = gate.store.clone();
    let actions: Vec<ActionRecord> = store.all().unwrap();
    let executed: Vec<&ActionRecord> = actions
        .iter()
        .filter(|a| a.lifecycle.status == ActionStatus::Executed)
        .collect();
    prop_assert_eq!(
        executed.len(),
        market.executions().len(),
        "the world saw exactly the executed actions"
    );
    prop_assert_eq!(
        executed.len(),
        outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Executed { .. }))
            .count()
    );

    let count =
        |pred: &dyn Fn(&ActionRecord) -> bool| executed.iter().filter(|a| pred(a)).count() as u32;
    prop_assert!(count(&|a| a.kind == ActionKind::RevisePrice) <= limits.revise_price_per_day);
    prop_assert!(count(&|a| a.kind == ActionKind::Relist) <= limits.relist_per_day);
    prop_assert!(count(&|a| a.kind == ActionKind::AcceptOffer) <= limits.accept_offer_per_day);
    prop_assert!(count(&|a| a.kind == ActionKind::CounterOffer) <= limits.counter_offer_per_day);
    prop_assert!(count(&|a| a.kind.is_listing_revision()) <= limits.marketplace_revisions_per_day);
    prop_assert!(count(&|_| true) <= limits.api_calls_per_day);
    let mut per_listing: BTreeMap<&str, u32> = BTreeMap::new();
    for a in executed.iter().filter(|a| a.kind.is_listing_revision()) {
        *per_listing.entry(a.target.as_str()).or_default() += 1;
    }
    prop_assert!(
        per_listing
            .values()
            .all(|n| *n <= limits.revisions_per_listing_per_day),
        "{per_listing:?}"
    );
    let spend: i64 = executed
        .iter()
        .filter(|a| a.kind == ActionKind::Purchase)
        .map(|a| a.value.unwrap().minor)
        .sum();
    prop_assert!(spend <= limits.max_spend_per_day.minor);
    prop_assert!(spend <= limits.max_open_commitments.minor);
    prop_assert!(executed
        .iter()
        .filter(|a| a.kind == ActionKind::Purchase)
        .all(|a| a.value.unwrap().minor <= limits.max_price_per_item.minor));

    let audit: Vec<AuditEntry> = store.all().unwrap();
    prop_assert_eq!(AuditEntry::verify_chain(&audit), Ok(audit.len() as u64));
    for action in &executed {
        let entries = audit
            .iter()
            .filter(|e| e.action == Some(action.id) && e.event == "executed")
            .count();
        prop_assert_eq!(
            entries,
            1,
            "action {} has {} executed entries",
            action.id,
            entries
        );
    }
    for action in actions
        .iter()
        .filter(|a| a.lifecycle.status != ActionStatus::Executed)
    {
        prop_assert!(!audit
            .iter()
            .any(|e| e.action == Some(action.id) && e.event == "executed"));
    }
    let gate = Arc::try_unwrap(gate).ok().expect("every task is done");
    gate.stop().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn concurrent_proposals_never_exceed_a_limit(proposals in prop::collection::vec(proposal(), 1..80)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(proposals))?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_audit_entry_is_found() {
    let market = FakeMarket::default();
    let gate = Gate::start(
        SledStore::temporary().unwrap(),
        SimClock::new(at("2026-04-01T17:00:00Z")),
        trusting_policy(),
        market,
    )
    .await;
    for n in 0..3 {
        gate.propose(reprice("SKU", "$10.00", &format!("t{n}")))
            .await;
    }
    gate.quiet.wait_quiet().await;
    let mut audit: Vec<AuditEntry> = gate.store.all().unwrap();
    assert!(AuditEntry::verify_chain(&audit).is_ok());
    audit[4].detail = serde_json::json!({ "price": "$1.00" });
    gate.store.put(&audit[4]).unwrap();
    let stored: Vec<AuditEntry> = gate.store.all().unwrap();
    let broken = AuditEntry::verify_chain(&stored).unwrap_err();
    assert_eq!(broken.seq, 4);
    gate.stop().await;
}
