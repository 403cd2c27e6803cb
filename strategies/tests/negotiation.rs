//! The negotiation state machine, strategy choice and the rewrite check, as data: each case
//! is a script of events and the decision expected after each, run by one `check` helper.

use bazaar_model::Money;
use bazaar_strategies::negotiation::writing::{
    message_for, validate_plain_rewrite, validate_rewrite,
};
use bazaar_strategies::negotiation::{
    choose_strategy, step, DealContext, Decision, Event, NegotiationState, Persona, SellerHistory,
    Status, StrategyKind,
};
use bazaar_strategies::understand::{understand, Reply};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn usd(dollars: i64) -> Money {
    Money::usd(dollars * 100)
}

/// What happens, `hours` after the start.
#[derive(Debug, Clone, Copy)]
enum Step {
    Start,
    Seller(f64, &'static str),
    Timer(f64),
}

/// What the decision must be.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// An offer strictly between the two amounts (dollars).
    OfferBetween(i64, i64),
    /// Exactly this offer.
    Offer(i64),
    Confirm(i64),
    /// A confirmation of our own last offer.
    ConfirmOurs,
    FollowUp,
    WaitUntil(f64),
    WalkAway,
    Clarify,
    Inbox,
    Done,
    /// Done, with both sides agreed at this price.
    DoneAgreed(i64),
    /// Done: the item sold to someone else.
    DoneLost,
    /// Our yes to the price they named, not a deal until they confirm.
    ConfirmPending(i64),
    /// Our yes to their yes to our offer: a deal.
    ConfirmAgreed(i64),
}

fn deal(asking: i64, ceiling: i64) -> DealContext {
    DealContext {
        asking: usd(asking),
        ceiling: usd(ceiling),
        ..DealContext::example()
    }
}

fn check(name: &str, kind: StrategyKind, deal: DealContext, script: &[(Step, Expect)]) {
    let default = choose_strategy(&deal, &SellerHistory::default());
    let choice = if default.kind == kind {
        default
    } else {
        default.with_kind(kind)
    };
    let mut state = NegotiationState::new(name, choice, &deal);
    let at = |hours: f64| start() + Duration::minutes((hours * 60.0) as i64);
    for (index, (event, expected)) in script.iter().enumerate() {
        let (event, now) = match *event {
            Step::Start => (Event::Start, start()),
            Step::Timer(hours) => (Event::NoReplyBy(at(hours)), at(hours)),
            Step::Seller(hours, text) => {
                let reading = understand(&Reply {
                    text,
                    listing_price: state.asking,
                    our_last_offer: state.standing_offer(),
                });
                let event = Event::SellerReplied {
                    reading,
                    text: text.to_string(),
                };
                (event, at(hours))
            }
        };
        let ours = state.last_offer();
        let decision = step(&mut state, event, now);
        let context = format!("{name} step {index}: {decision:?}");
        if let Some(amount) = decision.amount() {
            assert!(amount <= deal.ceiling, "{context}: above the ceiling");
        }
        let ok = match (*expected, &decision) {
            (Expect::OfferBetween(low, high), Decision::SendOffer { amount }) => {
                *amount > usd(low) && *amount < usd(high)
            }
            (Expect::Offer(dollars), Decision::SendOffer { amount }) => *amount == usd(dollars),
            (Expect::Confirm(dollars), Decision::Confirm { amount }) => *amount == usd(dollars),
            (Expect::ConfirmOurs, Decision::Confirm { amount }) => Some(*amount) == ours,
            (Expect::FollowUp, Decision::SendFollowUp { .. }) => true,
            (Expect::WaitUntil(hours), Decision::Wait { until }) => *until == at(hours),
            (Expect::WalkAway, Decision::WalkAway) => true,
            (Expect::Clarify, Decision::AskClarify { .. }) => true,
            (Expect::Inbox, Decision::ToInbox { .. }) => true,
            (Expect::Done, Decision::Done { .. }) => true,
            (Expect::DoneAgreed(dollars), Decision::Done { .. })
            | (Expect::ConfirmAgreed(dollars), Decision::Confirm { .. }) => {
                state.status
                    == Status::Agreed {
                        amount: usd(dollars),
                    }
            }
            (Expect::DoneLost, Decision::Done { .. }) => state.status == Status::Lost,
            (Expect::ConfirmPending(dollars), Decision::Confirm { amount }) => {
                *amount == usd(dollars) && state.status == Status::Confirming { amount: *amount }
            }
            _ => false,
        };
        assert!(ok, "{context}: expected {expected:?}");
        // Every decision that sends something has words, and the amount appears once.
        if let Some(text) = message_for(&state, &decision) {
            if let Some(amount) = decision.amount() {
                let spoken = bazaar_strategies::negotiation::writing::spoken_amount(amount);
                assert_eq!(text.matches(&spoken).count(), 1, "{context}: {text}");
                assert_eq!(text.matches('$').count(), 1, "{context}: {text}");
            }
        }
    }
    // The state survives a restart.
    let json = serde_json_round_trip(&state);
    assert_eq!(json, state, "{name}: state round-trips through JSON");
}

fn serde_json_round_trip(state: &NegotiationState) -> NegotiationState {
    let text = serde_json::to_string(state).expect("state serializes");
    serde_json::from_str(&text).expect("state deserializes")
}

#[test]
fn the_seed_rule_plays_as_the_seed_wrote_it() {
    use Expect::*;
    use Step::*;
    // FRIENDLY_LOCAL: opens at 70 % of asking, its own ceiling is 85 % of asking.
    check(
        "seed accepts a counter under its ceiling",
        StrategyKind::SeedRule,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(3.0, "I could do 84"), Confirm(84)),
        ],
    );
    check(
        "seed counters 0.6 of a small gap, capped at its ceiling",
        StrategyKind::SeedRule,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(3.0, "95 firm"), Offer(85)),
            (Seller(6.0, "Best I can do is $92"), Offer(85)),
            (Seller(9.0, "90 is my bottom line"), Offer(85)),
            (Seller(12.0, "ok 88 then"), WalkAway),
        ],
    );
}

#[test]
fn the_default_strategy_concedes_inside_the_ceiling_and_takes_a_price_no_worse_than_its_next_offer()
{
    use Expect::*;
    use Step::*;
    check(
        "adaptive climbs toward a conceding seller",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(3.0, "I can do $92"), OfferBetween(70, 92)),
            (Seller(6.0, "Lowest I'd go is 88"), OfferBetween(74, 88)),
            (Seller(7.0, "ok deal"), ConfirmOurs),
            (Seller(8.0, "great, see you then"), Done),
        ],
    );
    check(
        "adaptive confirms its own offer when accepted",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(3.0, "Sure, 70 works. Deal."), Confirm(70)),
            (Seller(4.0, "great see you then"), Done),
        ],
    );
    check(
        "a price above the ceiling at the round limit: walk away",
        StrategyKind::Linear,
        deal(100, 80),
        &[
            (Start, Offer(70)),
            (Seller(1.0, "99 firm"), OfferBetween(70, 81)),
            (Seller(2.0, "98 firm"), OfferBetween(70, 81)),
            (Seller(3.0, "97 firm"), OfferBetween(70, 81)),
            (Seller(4.0, "96 firm"), OfferBetween(70, 81)),
            (Seller(5.0, "95 firm"), OfferBetween(70, 81)),
            (Seller(6.0, "94 firm"), Offer(80)),
            (Seller(7.0, "93 firm"), WalkAway),
            (Seller(8.0, "ok 80"), Done),
        ],
    );
}

#[test]
fn a_price_the_seller_names_is_a_deal_only_once_they_confirm_it() {
    use Expect::*;
    use Step::*;
    check(
        "their yes to our offer is the deal",
        StrategyKind::SeedRule,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(2.0, "ok, 70 works"), ConfirmAgreed(70)),
        ],
    );
    check(
        "our yes to their price waits for theirs",
        StrategyKind::SeedRule,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(3.0, "I could do 84"), ConfirmPending(84)),
            (Seller(5.0, "great, see you tomorrow"), DoneAgreed(84)),
        ],
    );
    check(
        "their price crossed in the mail with a sale elsewhere",
        StrategyKind::SeedRule,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(3.0, "I could do 84"), ConfirmPending(84)),
            (Seller(5.0, "Sorry, it already sold."), DoneLost),
        ],
    );
}

#[test]
fn follow_ups_run_on_the_personas_clock_then_a_polite_walk_away() {
    use Expect::*;
    use Step::*;
    // FRIENDLY_LOCAL: after 24 h, at most 2 follow-ups.
    check(
        "silence",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Timer(5.0), WaitUntil(24.0)),
            (Timer(24.0), FollowUp),
            (Timer(30.0), WaitUntil(48.0)),
            (Timer(48.0), FollowUp),
            (Timer(72.0), WalkAway),
            (Timer(96.0), Done),
        ],
    );
    check(
        "a reply resets the follow-ups",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Timer(24.0), FollowUp),
            (Seller(30.0, "I'd take 90"), OfferBetween(70, 90)),
            (Timer(40.0), WaitUntil(54.0)),
            (Timer(54.0), FollowUp),
            (Timer(78.0), FollowUp),
            (Timer(102.0), WalkAway),
        ],
    );
    let business = DealContext {
        business_seller: true,
        ..deal(100, 90)
    };
    // PROFESSIONAL_BUYER: after 12 h, one follow-up.
    check(
        "a business seller",
        StrategyKind::Adaptive,
        business,
        &[
            (Start, Offer(65)),
            (Timer(12.0), FollowUp),
            (Timer(24.0), WalkAway),
        ],
    );
}

#[test]
fn sold_unclear_and_off_topic_replies() {
    use Expect::*;
    use Step::*;
    check(
        "sold elsewhere ends it quietly",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(2.0, "Sorry, it just sold."), Done),
        ],
    );
    check(
        "a question gets our offer again",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(2.0, "Is it for you or for resale?"), Offer(70)),
        ],
    );
    check(
        "an unsure reading gets a short question restating our offer",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[
            (Start, Offer(70)),
            (Seller(2.0, "I sure can!"), Clarify),
            (Seller(3.0, "Yes, 70 is fine. Deal."), ConfirmOurs),
        ],
    );
    check(
        "an empty reply goes to the operator",
        StrategyKind::Adaptive,
        deal(100, 90),
        &[(Start, Offer(70)), (Seller(2.0, ""), Inbox)],
    );
    check(
        "an asking price above the ceiling leaves room for an offer",
        StrategyKind::Adaptive,
        deal(300, 120),
        &[(Start, Offer(120)), (Seller(2.0, "ok deal"), Confirm(120))],
    );
}

#[test]
fn the_strategy_follows_the_deal_and_the_sellers_history() {
    let check = |name: &str, deal: DealContext, history: SellerHistory, persona, kind| {
        let choice = choose_strategy(&deal, &history);
        assert_eq!(
            (choice.persona, choice.kind),
            (persona, kind),
            "{name}: {:?}",
            choice.why
        );
        assert!(!choice.why.is_empty());
    };
    let known = |discount: f64, reliability: f64| SellerHistory {
        past_negotiations: 3,
        mean_discount: discount,
        mean_response: Some(Duration::hours(3)),
        reliability,
    };
    let plain = DealContext::example();
    check(
        "plain",
        plain.clone(),
        SellerHistory::default(),
        Persona::FriendlyLocal,
        StrategyKind::Adaptive,
    );
    check(
        "business",
        DealContext {
            business_seller: true,
            ..plain.clone()
        },
        SellerHistory::default(),
        Persona::ProfessionalBuyer,
        StrategyKind::Adaptive,
    );
    check(
        "collectible",
        DealContext {
            category: "Collectibles".to_string(),
            ..plain.clone()
        },
        SellerHistory::default(),
        Persona::Collector,
        StrategyKind::Adaptive,
    );
    check(
        "rich and hurried",
        DealContext {
            expected_margin: 0.6,
            time_left: Some(Duration::minutes(30)),
            ..plain.clone()
        },
        SellerHistory::default(),
        Persona::UrgentCash,
        StrategyKind::Conceder,
    );
    check(
        "unreliable seller",
        plain.clone(),
        known(0.05, 0.3),
        Persona::FriendlyLocal,
        StrategyKind::Conceder,
    );
    let generous = choose_strategy(&plain, &known(0.2, 1.0));
    let unknown = choose_strategy(&plain, &SellerHistory::default());
    assert!(
        generous.opening_permille < unknown.opening_permille,
        "a generous seller gets a lower opening"
    );
    let profitable = DealContext {
        expected_margin: 0.4,
        ..plain.clone()
    };
    let nearer = choose_strategy(&profitable, &SellerHistory::default());
    assert_eq!(nearer.opening_permille, unknown.opening_permille + 100);
    let deep = DealContext {
        pay_asking: true,
        ..profitable
    };
    assert_eq!(
        choose_strategy(&deep, &SellerHistory::default()).opening_permille,
        1000,
        "a deep bargain is offered its asking price at once"
    );
}

#[test]
fn a_rewrite_keeps_the_amount_once_and_adds_no_amount_or_promise() {
    let original = "Hi, I'm interested. Would $85 work for you?";
    let offer = usd(85);
    let check = |rewritten: &str, ok: bool| {
        let result = validate_rewrite(original, offer, rewritten);
        assert_eq!(result.is_ok(), ok, "{rewritten:?}: {result:?}");
    };
    check("Hello! Would you consider $85 for it?", true);
    check("Hey, would 85 work for you?", true);
    check("Would $85.00 work for you?", true);
    check("Would $80 work for you?", false);
    check("Would $850 work for you?", false);
    check("Hi, I'm interested.", false);
    check("Would $85 work? That's $85 total.", false);
    check("Would $85 work? I could go to $90.", false);
    check("Would $85 work? Maybe ninety if needed.", false);
    check("Would $85 work, or 10% off?", false);
    check("Would $85 work? I can pick it up today.", false);
    check("Would $85 work? Cash in hand.", false);
    check("Would $85 work? I'll pay via Venmo.", false);
    check("Would $85 work? Happy to send a deposit.", false);
    check("Would $85 work? I'll cover shipping.", false);
    check("Would $85 work? I'll add a little extra.", false);
    check("Would $85 work? I promise to be quick.", false);
    check("Would $85 work? I'll take it sight unseen.", false);
    check("Would $85 work? Text me.", false);

    let goodbye = "Thanks for your time. I'll pass on this one.";
    assert!(validate_plain_rewrite(goodbye, "Thank you, I'll pass on this one.").is_ok());
    assert!(validate_plain_rewrite(goodbye, "Thanks, I'll pass, unless $50 works.").is_err());
    assert!(validate_plain_rewrite(goodbye, "Thanks, I'll pass. Maybe tomorrow.").is_err());
}

#[test]
fn a_restarted_negotiation_resumes_where_it_was() {
    let deal = deal(100, 90);
    let mut state = NegotiationState::new(
        "resume",
        choose_strategy(&deal, &SellerHistory::default()),
        &deal,
    );
    step(&mut state, Event::Start, start());
    let mut restored = serde_json_round_trip(&state);
    assert_eq!(restored.status, Status::AwaitingReply);
    assert_eq!(restored.next_wake(), Some(start() + Duration::hours(24)));
    let later = start() + Duration::hours(24);
    assert_eq!(
        step(&mut restored, Event::NoReplyBy(later), later),
        Decision::SendFollowUp {
            amount: Some(usd(70))
        }
    );
}
