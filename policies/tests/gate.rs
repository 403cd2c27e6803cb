//! The policy gate end to end against a marketplace that remembers what was done to it.

mod support;

use std::time::Duration;

use bazaar_memory::*;
use bazaar_policies::{Action, GateEvent, GateMsg, Outcome};
use support::*;

fn start_clock() -> SimClock {
    SimClock::new(at("2026-04-01T17:00:00Z"))
}

async fn gate(policy: bazaar_config::PolicyConfig) -> (Gate, FakeMarket) {
    let market = FakeMarket::default();
    let gate = Gate::start(
        SledStore::temporary().unwrap(),
        start_clock(),
        policy,
        market.clone(),
    )
    .await;
    (gate, market)
}

fn audit_events(store: &SledStore, action: ActionId) -> Vec<String> {
    store
        .all::<AuditEntry>()
        .unwrap()
        .into_iter()
        .filter(|e| e.action == Some(action))
        .map(|e| e.event)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_rule_asks_first_and_then_earns_automatic_execution() {
    let (mut gate, market) = gate(policy()).await;
    let first = gate.propose(reprice("SKU-1", "$60.00", "k1")).await;
    let Outcome::PendingApproval { action, approval } = first else {
        panic!("a rule's first action with the operator never seen needs approval: {first:?}");
    };
    assert_eq!(market.executions().len(), 0, "nothing runs before approval");
    let pending: Vec<Approval> = gate
        .store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert!(
        pending[0].summary.contains("revise_price SKU-1 for $60.00"),
        "{}",
        pending[0].summary
    );
    assert!(
        pending[0].summary.contains("undoable"),
        "{}",
        pending[0].summary
    );

    assert_eq!(
        gate.approve(approval).await,
        Ok(Outcome::Executed { action })
    );
    assert_eq!(market.executions().len(), 1);
    assert_eq!(
        audit_events(&gate.store, action),
        [
            "proposed",
            "scored",
            "approval_needed",
            "approved",
            "intent",
            "executed"
        ]
    );

    // The rule has run once and the operator was just here: the next one runs at once.
    let second = gate.propose(reprice("SKU-2", "$40.00", "k2")).await;
    assert!(matches!(second, Outcome::Executed { .. }), "{second:?}");
    assert_eq!(market.executions().len(), 2);
    let names: Vec<&str> = gate.events().iter().map(|e| e.name()).collect();
    assert_eq!(
        names,
        ["approval_needed", "action_executed", "action_executed"]
    );
    gate.stop().await;
}

/// A rule's first run, with the operator away, on a $300 listing scores 0.6 × 0.9 × 0.7 =
/// 0.38: below the blocking line, but only for want of a person. Blocking it would block the
/// rule for ever (it never gets its first run); the operator decides instead, and once they
/// approve the rule has run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_low_only_for_want_of_oversight_asks_the_operator() {
    let (gate, market) = gate(policy()).await;
    let outcome = gate.propose(reprice("SKU-1", "$300.00", "first")).await;
    let Outcome::PendingApproval { action, approval } = outcome else {
        panic!("expected the operator to decide: {outcome:?}");
    };
    let pending: Vec<Approval> = gate
        .store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .unwrap();
    assert!(
        pending[0].reason.contains("confidence 0.38")
            && pending[0].reason.contains("a person decides"),
        "{}",
        pending[0].reason
    );
    assert_eq!(
        gate.approve(approval).await,
        Ok(Outcome::Executed { action })
    );
    assert_eq!(market.executions().len(), 1);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn low_confidence_is_blocked_and_high_value_always_asks() {
    let (gate, market) = gate(trusting_policy()).await;
    let mut doubtful = reprice("SKU-1", "$60.00", "doubt");
    doubtful.pattern_match = 0.3;
    let blocked = gate.propose(doubtful).await;
    let Outcome::Blocked { reason, .. } = blocked else {
        panic!("expected blocked: {blocked:?}");
    };
    assert!(reason.contains("confidence 0.30 is below 0.50"), "{reason}");

    let mut pricey = reprice("SKU-2", "$900.00", "pricey");
    pricey.pattern_match = 1.0;
    pricey.rule = "trusted".into();
    let outcome = gate.propose(pricey).await;
    assert!(
        matches!(outcome, Outcome::PendingApproval { .. }),
        "{outcome:?}"
    );
    let pending: Vec<Approval> = gate
        .store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .unwrap();
    assert!(
        pending[0].reason.contains("high-value line $500.00"),
        "{}",
        pending[0].reason
    );
    assert_eq!(market.executions().len(), 0);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_actions_are_refused_with_the_reason() {
    let (gate, market) = gate(trusting_policy()).await;
    let cases: Vec<(Action, &str)> = vec![
        (
            Action {
                value: Some(Money::usd(-500)),
                ..reprice("SKU-1", "$1.00", "neg")
            },
            "negative value",
        ),
        (
            Action {
                target: " ".into(),
                ..reprice("SKU-1", "$1.00", "empty")
            },
            "no target",
        ),
        (
            Action {
                kind: ActionKind::Purchase,
                value: None,
                ..reprice("SKU-1", "$1.00", "buy")
            },
            "must say how much",
        ),
        (
            // An offer over the negotiation's ceiling, whatever the seller wrote.
            Action {
                value: Some(Money::usd(90_000)),
                params: serde_json::json!({"max_value": Money::usd(80_000)}),
                ..reprice("SKU-1", "$900.00", "over")
            },
            "above its limit",
        ),
        (
            Action {
                params: serde_json::json!({"max_value": "lots"}),
                ..reprice("SKU-1", "$1.00", "bad-limit")
            },
            "max_value",
        ),
    ];
    for (action, expected) in cases {
        let outcome = gate.propose(action).await;
        let Outcome::Blocked { reason, .. } = &outcome else {
            panic!("expected blocked for {expected}: {outcome:?}");
        };
        assert!(reason.contains(expected), "{reason} should say {expected}");
    }
    assert_eq!(market.executions().len(), 0);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_limits_hold_warn_at_80_percent_and_reset_the_next_marketplace_day() {
    let mut policy = trusting_policy();
    policy.limits.relist_per_day = 5;
    let (mut gate, market) = gate(policy).await;
    let relist = |n: u32| Action {
        kind: ActionKind::Relist,
        target: format!("SKU-{n}"),
        value: Some(Money::usd(2_000)),
        ..reprice("x", "$20.00", &format!("relist-{n}-{}", 0))
    };
    for n in 0..5 {
        let mut action = relist(n);
        action.idempotency_key = format!("day1-{n}");
        assert!(matches!(
            gate.propose(action).await,
            Outcome::Executed { .. }
        ));
    }
    let mut sixth = relist(5);
    sixth.idempotency_key = "day1-5".into();
    let Outcome::Blocked { reason, .. } = gate.propose(sixth).await else {
        panic!("the sixth relist must be blocked");
    };
    assert!(reason.contains("relist per day (5 of 5)"), "{reason}");
    let warnings: Vec<String> = gate
        .events()
        .into_iter()
        .filter_map(|e| match e {
            GateEvent::LimitWarning { message } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings, ["relist per day: 4 of 5"], "one warning, at 80%");

    // 17:00 UTC is 09:00 Pacific; the marketplace day turns at 08:00 UTC tomorrow.
    gate.clock.advance_to(at("2026-04-02T08:00:00Z"));
    let mut next_day = relist(6);
    next_day.idempotency_key = "day2-0".into();
    assert!(matches!(
        gate.propose(next_day).await,
        Outcome::Executed { .. }
    ));
    assert_eq!(market.executions().len(), 6);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_blocks_everything_until_resumed() {
    let (gate, market) = gate(trusting_policy()).await;
    let set = |paused| {
        gate.addr.ask(move |reply| GateMsg::SetPaused {
            paused,
            by: "operator".into(),
            reply,
        })
    };
    set(true).await.unwrap().unwrap();
    let Outcome::Blocked { reason, .. } = gate.propose(reprice("SKU-1", "$10.00", "a")).await
    else {
        panic!("paused must block");
    };
    assert!(reason.contains("kill switch"), "{reason}");
    set(false).await.unwrap().unwrap();
    assert!(matches!(
        gate.propose(reprice("SKU-1", "$10.00", "b")).await,
        Outcome::Executed { .. }
    ));
    assert_eq!(market.executions().len(), 1);
    let status = gate.addr.ask(GateMsg::Status).await.unwrap();
    assert!(!status.paused);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_compensates_reversible_actions_once_and_refuses_the_rest() {
    let (gate, market) = gate(trusting_policy()).await;
    market
        .world()
        .prices
        .insert("SKU-1".into(), "$80.00".into());
    let Outcome::Executed { action } = gate.propose(reprice("SKU-1", "$60.00", "cut")).await else {
        panic!("trusted reprice executes");
    };
    assert_eq!(market.world().prices["SKU-1"], "$60.00");
    let undone = gate.undo(action).await.unwrap();
    let Outcome::Undone { compensation, .. } = undone else {
        panic!("expected undone: {undone:?}");
    };
    assert_eq!(
        market.world().prices["SKU-1"],
        "$80.00",
        "the price is back"
    );
    let original: ActionRecord = gate.store.get(&action).unwrap().unwrap();
    assert_eq!(original.lifecycle.status, ActionStatus::Undone);
    let compensating: ActionRecord = gate.store.get(&compensation).unwrap().unwrap();
    assert_eq!(compensating.undoes, Some(action));
    assert!(
        compensating.undo.is_none(),
        "an undo is not itself undoable"
    );

    let again = gate.undo(action).await.unwrap_err();
    assert!(
        again.to_string().contains("only executed or scheduled"),
        "{again}"
    );

    let accept = Action {
        kind: ActionKind::AcceptOffer,
        ..reprice("SKU-2", "$50.00", "accept")
    };
    let Outcome::Executed { action: accepted } = gate.propose(accept).await else {
        panic!("accept executes");
    };
    let refused = gate.undo(accepted).await.unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("accept_offer cannot be undone"),
        "{refused}"
    );

    let Outcome::Executed { action: late } = gate.propose(reprice("SKU-3", "$70.00", "late")).await
    else {
        panic!("reprice executes");
    };
    gate.clock.advance_by(Duration::from_secs(73 * 3600));
    let closed = gate.undo(late).await.unwrap_err();
    assert!(closed.to_string().contains("undo window"), "{closed}");
    assert_eq!(
        market.executions().len(),
        4,
        "reprice, its undo, accept, late reprice"
    );
    gate.stop().await;
}

fn email(key: &str) -> Action {
    Action {
        kind: ActionKind::SendEmail,
        target: "seller@example.test".into(),
        params: serde_json::json!({ "body": "would you take $60?" }),
        proposer: "negotiator".into(),
        rule: "negotiate.open".into(),
        value: None,
        marketplace: None,
        pattern_match: 1.0,
        idempotency_key: key.into(),
        about: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_waits_in_the_outbox_where_undo_cancels_it() {
    let (gate, market) = gate(trusting_policy()).await;
    let Outcome::Scheduled {
        action: cancelled,
        release_at,
    } = gate.propose(email("m1")).await
    else {
        panic!("email is scheduled");
    };
    assert_eq!(release_at, gate.now() + chrono::Duration::seconds(300));
    assert_eq!(
        gate.undo(cancelled).await,
        Ok(Outcome::Cancelled { action: cancelled })
    );

    let Outcome::Scheduled { action: sent, .. } = gate.propose(email("m2")).await else {
        panic!("email is scheduled");
    };
    assert_eq!(market.executions().len(), 0);
    gate.clock.advance_by(Duration::from_secs(301));
    for _ in 0..500 {
        if market.executions().len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    gate.quiet.wait_quiet().await;
    assert_eq!(
        market.world().executed[0].key,
        "m2",
        "only the email that was not cancelled left"
    );
    let record: ActionRecord = gate.store.get(&sent).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Executed);
    let late = gate.undo(sent).await.unwrap_err();
    assert!(
        late.to_string()
            .contains("send_email cannot be undone once it has run"),
        "{late}"
    );
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_release_money_and_unknown_outcomes_go_to_the_inbox() {
    let (mut gate, market) = gate(trusting_policy()).await;
    let buy = |key: &str| Action {
        kind: ActionKind::Purchase,
        value: Some(Money::usd(20_000)),
        ..reprice("LISTING-1", "$200.00", key)
    };
    market.world().next = Some(Next::Fail);
    let Outcome::Failed { reason, .. } = gate.propose(buy("b1")).await else {
        panic!("expected failure");
    };
    assert!(reason.contains("the marketplace said no"));
    let status = gate.addr.ask(GateMsg::Status).await.unwrap();
    assert_eq!(
        status.spend_day,
        Money::usd(0),
        "a failed purchase spends nothing"
    );

    market.world().next = Some(Next::Unknown);
    let Outcome::Unknown { approval, .. } = gate.propose(buy("b2")).await else {
        panic!("expected unknown");
    };
    let task: Approval = gate.store.get(&approval).unwrap().unwrap();
    assert!(
        task.summary.contains("check whether purchase LISTING-1"),
        "{}",
        task.summary
    );
    assert!(gate
        .events()
        .iter()
        .any(|e| matches!(e, GateEvent::Error { .. })));
    let wrong = gate.approve(approval).await.unwrap_err();
    assert!(wrong.to_string().contains("resolve it instead"), "{wrong}");

    let resolve = |approval, happened| {
        gate.addr.ask(move |reply| GateMsg::Resolve {
            approval,
            by: "operator".into(),
            happened,
            note: "checked the seller's receipt".into(),
            reply,
        })
    };
    let resolved = resolve(approval, false).await.unwrap();
    assert_eq!(resolved, Ok(Outcome::Resolved { approval }));
    let action = task.action.expect("the task names its action");
    let status_of = |id: &ActionId| {
        gate.store
            .get::<ActionRecord>(id)
            .unwrap()
            .unwrap()
            .lifecycle
            .status
    };
    assert_eq!(status_of(&action), ActionStatus::Failed);
    let status = gate.addr.ask(GateMsg::Status).await.unwrap();
    assert_eq!(
        status.spend_day,
        Money::usd(0),
        "money reserved for it is released"
    );
    let closed: Approval = gate.store.get(&approval).unwrap().unwrap();
    assert_eq!(
        closed.lifecycle.status,
        ApprovalStatus::Rejected,
        "\"it did not happen\" closes the task as not done"
    );
    let again = resolve(approval, true).await.unwrap().unwrap_err();
    assert!(again.to_string().contains("already rejected"), "{again}");

    market.world().next = Some(Next::Unknown);
    let Outcome::Unknown {
        approval: second,
        action: bought,
    } = gate.propose(buy("b3")).await
    else {
        panic!("expected unknown");
    };
    assert_eq!(
        resolve(second, true).await.unwrap(),
        Ok(Outcome::Resolved { approval: second })
    );
    assert_eq!(status_of(&bought), ActionStatus::Executed);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_intents_are_reconciled_at_start_not_repeated() {
    let store = SledStore::temporary().unwrap();
    let clock = start_clock();
    let market = FakeMarket::default();
    let now = clock.now();
    let intent = |key: &str| {
        let mut lifecycle = Lifecycle::new(ActionStatus::Proposed);
        lifecycle
            .advance(ActionStatus::Approved, now, "test")
            .unwrap();
        lifecycle
            .advance(ActionStatus::Executing, now, "intent written")
            .unwrap();
        ActionRecord {
            id: ActionId::new_at(now),
            kind: ActionKind::WithdrawListing,
            target: format!("SKU-{key}"),
            params: serde_json::json!({}),
            proposer: "lister".into(),
            rule: "delist.sold_elsewhere".into(),
            value: None,
            marketplace: Some(Marketplace::Ebay),
            idempotency_key: key.into(),
            about: None,
            confidence: Some(0.95),
            lifecycle,
            result: None,
            before: None,
            after: None,
            undo: None,
            undoes: None,
            proposed_at: now,
            release_at: None,
        }
    };
    let done = intent("done");
    let not_done = intent("not-done");
    let unknown = intent("unknown");
    for record in [&done, &not_done, &unknown] {
        store.put(record).unwrap();
    }
    market
        .world()
        .done
        .insert("done".into(), bazaar_policies::Effect::default());
    market.world().unknown_keys.push("unknown".into());

    let gate = Gate::start(store.clone(), clock, trusting_policy(), market.clone()).await;
    gate.quiet.wait_quiet().await;
    let status = |id: &ActionId| {
        store
            .get::<ActionRecord>(id)
            .unwrap()
            .unwrap()
            .lifecycle
            .status
    };
    assert_eq!(status(&done.id), ActionStatus::Executed);
    assert_eq!(status(&not_done.id), ActionStatus::Executed);
    assert_eq!(
        status(&unknown.id),
        ActionStatus::Executing,
        "unknown stays open for a person"
    );
    let executed: Vec<String> = market
        .world()
        .executed
        .iter()
        .map(|e| e.key.clone())
        .collect();
    assert_eq!(
        executed,
        ["not-done"],
        "only the action the world had not seen runs"
    );
    let inbox: Vec<Approval> = store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].summary.contains("unknown"), "{}", inbox[0].summary);
    let chain: Vec<AuditEntry> = store.all().unwrap();
    assert!(AuditEntry::verify_chain(&chain).is_ok());
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_lower_a_rules_accuracy() {
    let (gate, _market) = gate(policy()).await;
    let Outcome::PendingApproval { approval, .. } =
        gate.propose(reprice("SKU-1", "$10.00", "r1")).await
    else {
        panic!("first action asks");
    };
    let rejected = gate
        .addr
        .ask(|reply| GateMsg::Reject {
            approval,
            by: "operator".into(),
            reason: "too cheap".into(),
            reply,
        })
        .await
        .unwrap();
    assert!(
        matches!(rejected, Ok(Outcome::Rejected { .. })),
        "{rejected:?}"
    );
    let Outcome::PendingApproval { action, .. } =
        gate.propose(reprice("SKU-2", "$10.00", "r2")).await
    else {
        panic!("still asks");
    };
    let scored: AuditEntry = gate
        .store
        .all::<AuditEntry>()
        .unwrap()
        .into_iter()
        .find(|e| e.action == Some(action) && e.event == "scored")
        .unwrap();
    let factors = scored.detail["score"]["factors"].as_array().unwrap();
    let accuracy = factors.iter().find(|f| f[0] == "rule accuracy").unwrap()[1]
        .as_f64()
        .unwrap();
    assert!(
        (accuracy - 0.8).abs() < 1e-9,
        "one rejection: accuracy 4/5, got {accuracy}"
    );
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_approvals_expire_and_block_their_action() {
    let (gate, market) = gate(policy()).await;
    let Outcome::PendingApproval { action, approval } =
        gate.propose(reprice("SKU-1", "$60.00", "e1")).await
    else {
        panic!("first action asks");
    };
    gate.clock.advance_by(Duration::from_secs(25 * 3600));
    let mut status = ActionStatus::PendingApproval;
    for _ in 0..500 {
        gate.quiet.wait_quiet().await;
        status = gate
            .store
            .get::<ActionRecord>(&action)
            .unwrap()
            .unwrap()
            .lifecycle
            .status;
        if status != ActionStatus::PendingApproval {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(status, ActionStatus::Blocked);
    let expired: Approval = gate.store.get(&approval).unwrap().unwrap();
    assert_eq!(expired.lifecycle.status, ApprovalStatus::Expired);
    let late = gate.approve(approval).await.unwrap_err();
    assert!(late.to_string().contains("already expired"), "{late}");
    assert_eq!(market.executions().len(), 0);
    gate.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_survive_a_restart() {
    let store = SledStore::temporary().unwrap();
    let mut policy = trusting_policy();
    policy.limits.relist_per_day = 3;
    let relist = |key: &str| Action {
        kind: ActionKind::Relist,
        ..reprice(&format!("SKU-{key}"), "$20.00", key)
    };
    let market = FakeMarket::default();
    let first = Gate::start(store.clone(), start_clock(), policy.clone(), market.clone()).await;
    for key in ["r1", "r2"] {
        assert!(matches!(
            first.propose(relist(key)).await,
            Outcome::Executed { .. }
        ));
    }
    first.stop().await;
    let second = Gate::start(store, start_clock(), policy, market.clone()).await;
    assert!(matches!(
        second.propose(relist("r3")).await,
        Outcome::Executed { .. }
    ));
    assert!(matches!(
        second.propose(relist("r4")).await,
        Outcome::Blocked { .. }
    ));
    assert_eq!(market.executions().len(), 3);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_reach_the_inbox_audited_and_are_resolved_by_the_operator() {
    let (mut gate, market) = gate(trusting_policy()).await;
    let approval = gate
        .addr
        .ask(|reply| GateMsg::Task {
            summary: "read mail from pat@example.com: \"is the desk still there?\"".into(),
            reason: "not part of any negotiation".into(),
            event: None,
            reply,
        })
        .await
        .unwrap();
    let task: Approval = gate.store.get(&approval).unwrap().unwrap();
    assert_eq!(task.action, None);
    assert_eq!(task.lifecycle.status, ApprovalStatus::Pending);
    assert!(task.summary.contains("pat@example.com"));
    assert!(gate
        .events()
        .iter()
        .any(|e| matches!(e, GateEvent::Error { message } if message.contains("see the inbox"))));
    let audit: Vec<AuditEntry> = gate.store.all().unwrap();
    assert!(audit.iter().any(|e| e.event == "task_opened"));
    // Not a decision: approving it is refused; resolving it closes it.
    assert!(gate.approve(approval).await.is_err());
    let resolved = gate
        .addr
        .ask(move |reply| GateMsg::Resolve {
            approval,
            by: "operator".into(),
            happened: true,
            note: "answered by hand".into(),
            reply,
        })
        .await
        .unwrap();
    assert_eq!(resolved, Ok(Outcome::Resolved { approval }));
    assert_eq!(market.executions().len(), 0);
    gate.stop().await;
}

async fn set_paused(gate: &Gate, paused: bool) {
    gate.addr
        .ask(move |reply| GateMsg::SetPaused {
            paused,
            by: "operator".into(),
            reply,
        })
        .await
        .unwrap()
        .unwrap();
}

async fn wait_executions(gate: &Gate, market: &FakeMarket, count: usize) {
    for _ in 0..500 {
        if market.executions().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    gate.quiet.wait_quiet().await;
}

/// Issue 23 (2): mail approved before a pause left while paused, and mail the pause met
/// was blocked for good, stranding its negotiation. Now the outbox holds both until resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_holds_the_outbox_and_resume_sends_it() {
    let (gate, market) = gate(trusting_policy()).await;
    let Outcome::Scheduled { action: queued, .. } = gate.propose(email("before")).await else {
        panic!("email is scheduled");
    };
    set_paused(&gate, true).await;
    // Past its release time while paused: it stays in the outbox.
    gate.clock.advance_by(Duration::from_secs(301));
    tokio::time::sleep(Duration::from_millis(50)).await;
    gate.quiet.wait_quiet().await;
    assert_eq!(market.executions().len(), 0, "nothing leaves while paused");
    let record: ActionRecord = gate.store.get(&queued).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Scheduled);

    // Mail proposed while paused is held too, not blocked; other actions are blocked.
    let held = gate.propose(email("during")).await;
    let Outcome::Scheduled { action: during, .. } = held else {
        panic!("mail proposed while paused waits in the outbox: {held:?}");
    };
    let record: ActionRecord = gate.store.get(&during).unwrap().unwrap();
    let why = record.lifecycle.last_reason().unwrap_or_default();
    assert!(why.contains("kill switch"), "{why}");
    assert!(matches!(
        gate.propose(reprice("SKU-1", "$10.00", "r")).await,
        Outcome::Blocked { .. }
    ));

    // Resume: what was due leaves at once, the rest at its time.
    set_paused(&gate, false).await;
    wait_executions(&gate, &market, 1).await;
    assert_eq!(market.executions().len(), 1);
    assert_eq!(market.world().executed[0].key, "before");
    gate.clock.advance_by(Duration::from_secs(301));
    wait_executions(&gate, &market, 2).await;
    assert_eq!(market.world().executed[1].key, "during");
    gate.stop().await;
}

/// Issue 23 (2): approving an action while paused would run it; the gate says so and the
/// approval waits for resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_while_paused_is_refused_until_resume() {
    let (gate, market) = gate(policy()).await;
    let Outcome::PendingApproval { action, approval } =
        gate.propose(reprice("SKU-1", "$60.00", "k1")).await
    else {
        panic!("a first run asks");
    };
    set_paused(&gate, true).await;
    let refused = gate.approve(approval).await.unwrap_err();
    assert!(refused.to_string().contains("kill switch"), "{refused}");
    assert_eq!(market.executions().len(), 0);
    set_paused(&gate, false).await;
    assert_eq!(
        gate.approve(approval).await,
        Ok(Outcome::Executed { action })
    );
    gate.stop().await;
}

/// An eBay listing `SKU-1` of an item, live.
fn listed_item(store: &SledStore) -> InventoryItem {
    let now = at("2026-04-01T16:00:00Z");
    let mut lifecycle = Lifecycle::new(ItemStatus::InStock);
    lifecycle
        .advance(ItemStatus::Listed, now, "listed")
        .unwrap();
    let item = InventoryItem {
        id: ItemId::new_at(now),
        opportunity: None,
        title: "Bose QC35 II".into(),
        description: String::new(),
        category: "electronics".into(),
        condition: Condition::Good,
        cost_basis: Money::usd(55_00),
        images: Vec::new(),
        attributes: Default::default(),
        lifecycle,
        acquired_at: now,
        source: Default::default(),
        selling: Default::default(),
    };
    store.put(&item).unwrap();
    let mut lifecycle = Lifecycle::new(ChannelStatus::Draft);
    lifecycle
        .advance(ChannelStatus::Live, now, "published")
        .unwrap();
    store
        .put(&ChannelListing {
            id: ChannelListingId::new_at(now),
            item: item.id,
            marketplace: Marketplace::Ebay,
            sku: "SKU-1".into(),
            external_id: None,
            url: None,
            price: Money::usd(99_00),
            lifecycle,
        })
        .unwrap();
    item
}

fn mark_sold(store: &SledStore, item: &InventoryItem) {
    let mut item: InventoryItem = store.get(&item.id).unwrap().unwrap();
    item.lifecycle
        .advance(ItemStatus::Sold, at("2026-04-01T17:00:00Z"), "sold")
        .unwrap();
    store.put(&item).unwrap();
}

/// Issue 23 (1): undoing what was done to a listing before its item sold put the sold item
/// back on sale. Now undo, approval and new proposals all refuse, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_puts_a_sold_item_back_on_sale() {
    let (gate, market) = gate(trusting_policy()).await;
    let item = listed_item(&gate.store);
    market.world().prices.insert("SKU-1".into(), "99.00".into());
    let Outcome::Executed { action: repriced } = gate
        .propose(reprice("SKU-1", "$90.00", "before-sale"))
        .await
    else {
        panic!("a reprice of a listed item runs");
    };
    let high: Action = Action {
        value: Some(Money::usd(10_000_000)),
        ..reprice("SKU-1", "$80.00", "waiting")
    };
    let Outcome::PendingApproval { approval, .. } = gate.propose(high).await else {
        panic!("high value asks");
    };
    mark_sold(&gate.store, &item);

    let undo = gate.undo(repriced).await.unwrap_err().to_string();
    assert!(
        undo.contains("cannot be undone") && undo.contains("sold"),
        "{undo}"
    );
    let approved = gate.approve(approval).await.unwrap_err().to_string();
    assert!(
        approved.contains("blocked") && approved.contains("is sold"),
        "{approved}"
    );
    for kind in [
        ActionKind::Relist,
        ActionKind::PublishListing,
        ActionKind::RevisePrice,
    ] {
        let action = Action {
            kind,
            ..reprice("SKU-1", "$70.00", &format!("after-{kind}"))
        };
        let outcome = gate.propose(action).await;
        assert!(
            matches!(&outcome, Outcome::Blocked { reason, .. } if reason.contains("sold")),
            "{kind}: {outcome:?}"
        );
    }
    assert_eq!(
        market.executions().len(),
        1,
        "only the reprice before the sale ran"
    );
    gate.stop().await;
}

/// Undo is new work too: while paused only a withdrawal may run as one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_waits_for_resume_unless_it_takes_a_listing_down() {
    let (gate, market) = gate(trusting_policy()).await;
    market.world().prices.insert("SKU-1".into(), "99.00".into());
    let Outcome::Executed { action } = gate.propose(reprice("SKU-1", "$90.00", "r1")).await else {
        panic!("a reprice runs");
    };
    set_paused(&gate, true).await;
    let refused = gate.undo(action).await.unwrap_err().to_string();
    assert!(refused.contains("kill switch"), "{refused}");
    assert_eq!(market.executions().len(), 1);
    set_paused(&gate, false).await;
    assert!(matches!(
        gate.undo(action).await,
        Ok(Outcome::Undone { .. })
    ));
    gate.stop().await;
}
