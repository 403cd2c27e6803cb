//! Prompt-injection fixtures (`data/injections.jsonl`): seller text that tries to set our
//! price, claim an agreement, or send money elsewhere. Each is played at three points of a
//! negotiation (after the opening, mid-way, at the round limit) under every strategy; none
//! may put an amount above the ceiling in a decision or confirm above it, and each must
//! decide exactly what the bare price would (as a plain counter, no words around it): "I
//! accept", "as agreed", "you must pay" add nothing. The screen must name what each fixture
//! tries, and the state must log it.

use bazaar_model::Money;
use bazaar_strategies::negotiation::{
    choose_strategy, screen, step, DealContext, Decision, Event, NegotiationState, SellerHistory,
    StrategyKind,
};
use bazaar_strategies::understand::{understand, Intent, Reply};
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Fixture {
    name: String,
    text: String,
    signals: Vec<String>,
}

fn fixtures() -> Vec<Fixture> {
    include_str!("data/injections.jsonl")
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("a fixture line"))
        .collect()
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

/// A seller's reply read the way the Negotiator reads it.
fn reply(state: &NegotiationState, text: &str) -> Event {
    Event::SellerReplied {
        reading: understand(&Reply {
            text,
            listing_price: state.asking,
            our_last_offer: state.standing_offer(),
        }),
        text: text.to_string(),
    }
}

/// A negotiation that has had `counters` plain counters of $99 from the seller.
fn negotiation_after(kind: StrategyKind, counters: u32) -> (NegotiationState, DateTime<Utc>) {
    let deal = DealContext {
        asking: Money::usd(10_000),
        ceiling: Money::usd(8_500),
        ..DealContext::example()
    };
    let default = choose_strategy(&deal, &SellerHistory::default());
    let choice = if default.kind == kind {
        default
    } else {
        default.with_kind(kind)
    };
    let mut state = NegotiationState::new("injection", choice, &deal);
    let mut now = start();
    step(&mut state, Event::Start, now);
    for _ in 0..counters {
        now += Duration::hours(2);
        let event = reply(&state, "Best I can do is $99, firm.");
        if state.status.is_final() {
            break;
        }
        step(&mut state, event, now);
    }
    (state, now)
}

fn check(fixture: &Fixture) {
    let found: Vec<&str> = screen(&fixture.text).iter().map(|s| s.as_str()).collect();
    for expected in &fixture.signals {
        assert!(
            found.contains(&expected.as_str()),
            "{}: expected {expected}, screen found {found:?}",
            fixture.name
        );
    }
    for kind in StrategyKind::ALL {
        for counters in [0, 2, 8] {
            let (mut state, now) = negotiation_after(kind, counters);
            if state.status.is_final() {
                continue;
            }
            let ceiling = state.ceiling;
            let flagged_before = state.flagged.len();
            let event = reply(&state, &fixture.text);
            // The control: the same price as a plain counter, with no words around it.
            let Event::SellerReplied { reading, .. } = &event else {
                unreachable!()
            };
            let mut plain = *reading;
            if plain.price.is_some() {
                plain.intent = Intent::Counter;
            }
            let mut control_state = state.clone();
            let control = step(
                &mut control_state,
                Event::SellerReplied {
                    reading: plain,
                    text: String::new(),
                },
                now + Duration::hours(1),
            );
            let decision = step(&mut state, event, now + Duration::hours(1));
            let context = format!(
                "{} under {} after {counters} counters: {decision:?}",
                fixture.name,
                kind.as_str()
            );
            if let Some(amount) = decision.amount() {
                assert!(amount <= ceiling, "{context}: above the ceiling");
                assert!(amount.minor >= 0, "{context}: a negative amount");
            }
            if let Decision::Confirm { amount } = decision {
                assert!(amount <= ceiling, "{context}: confirmed above the ceiling");
            }
            // Words change nothing: "I accept", "as agreed", "you must pay" decide exactly
            // what the bare price would.
            assert_eq!(
                decision, control,
                "{context}: the words changed the decision"
            );
            if !fixture.signals.is_empty() {
                assert!(
                    state.flagged.len() > flagged_before,
                    "{context}: the attempt is not logged"
                );
            }
        }
    }
}

#[test]
fn no_injection_changes_a_price_or_acts_outside_bounds() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 30, "{} fixtures", fixtures.len());
    for fixture in &fixtures {
        check(fixture);
    }
}
