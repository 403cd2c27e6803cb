//! A model's reading as advice: it only counts when the rule reading is unsure, and only with
//! a price the seller actually wrote.

use bazaar_model::{Currency, Money};
use bazaar_strategies::understand::second_opinion::{
    reconcile, stated_prices, LlmReading, Verdict, DIFFERS_CONFIDENCE, SECOND_OPINION_BELOW,
};
use bazaar_strategies::understand::{understand, Intent, NextStep, Reading, Reply};

fn reply(text: &str) -> Reply<'_> {
    Reply {
        text,
        listing_price: Money::usd(10_000),
        our_last_offer: Some(Money::usd(60_00)),
    }
}

fn opinion(intent: Intent, dollars: Option<i64>) -> LlmReading {
    LlmReading {
        intent,
        price: dollars.map(|d| Money::usd(d * 100)),
    }
}

/// The rule reading of `text`, checked to be unsure (so an opinion can matter).
#[track_caller]
fn unsure(text: &str) -> Reading {
    let reading = understand(&reply(text));
    assert!(
        reading.confidence < SECOND_OPINION_BELOW,
        "{text:?} should be unsure: {reading:?}"
    );
    reading
}

#[test]
fn a_sure_rule_reading_stands_whatever_the_model_says() {
    let text = "would 85 work";
    let rule = understand(&reply(text));
    assert!(rule.confidence >= SECOND_OPINION_BELOW);
    let kept = reconcile(&rule, &opinion(Intent::Reject, None), &reply(text));
    assert_eq!(kept.verdict, Verdict::RuleSure);
    assert_eq!(kept.reading, rule);
    assert!(!kept.verdict.used());
}

#[test]
fn agreement_makes_an_unsure_reading_sure_enough_to_act_on() {
    let text = "hmm 80";
    let rule = unsure(text);
    assert_eq!(
        rule.next_step(),
        NextStep::Clarify("Just to be sure: you'd take $80 for it?".into())
    );
    let kept = reconcile(&rule, &opinion(Intent::Counter, Some(80)), &reply(text));
    assert_eq!(kept.verdict, Verdict::Agrees);
    assert!(kept.verdict.used());
    assert_eq!(kept.reading.intent, Intent::Counter);
    assert_eq!(kept.reading.price, Some(Money::usd(80_00)));
    assert!(
        (kept.reading.confidence - (rule.confidence + (1.0 - rule.confidence) / 2.0)).abs() < 1e-9
    );
    assert_eq!(kept.reading.next_step(), NextStep::Proceed);
}

#[test]
fn a_price_the_seller_never_wrote_discards_the_opinion() {
    let text = "hmm 80";
    let rule = unsure(text);
    for (intent, dollars) in [
        (Intent::Counter, 75),
        (Intent::Accept, 80_000),
        (Intent::Reject, 100),
        (Intent::Question, 1),
    ] {
        let kept = reconcile(&rule, &opinion(intent, Some(dollars)), &reply(text));
        assert_eq!(
            kept.verdict,
            Verdict::PriceNotInText {
                price: Money::usd(dollars * 100)
            }
        );
        assert_eq!(kept.reading, rule, "the rule reading is kept unchanged");
    }
    let euros = LlmReading {
        intent: Intent::Counter,
        price: Some(Money::new(80_00, Currency::Eur)),
    };
    let kept = reconcile(&rule, &euros, &reply(text));
    assert!(
        matches!(kept.verdict, Verdict::PriceNotInText { .. }),
        "another currency is not the text's price"
    );
}

#[test]
fn numbers_that_are_not_prices_cannot_be_pointed_to() {
    let text = "it's a 2015 model, 120";
    let rule = unsure(text);
    assert_eq!(stated_prices(&reply(text)), vec![Money::usd(12_000)]);
    let year = reconcile(&rule, &opinion(Intent::Counter, Some(2015)), &reply(text));
    assert_eq!(
        year.verdict,
        Verdict::PriceNotInText {
            price: Money::usd(201_500)
        }
    );
    assert_eq!(year.reading, rule);
    let stated = reconcile(&rule, &opinion(Intent::Counter, Some(120)), &reply(text));
    assert_eq!(stated.verdict, Verdict::Agrees);
}

#[test]
fn the_price_of_something_else_is_not_the_sellers_price() {
    let prices = stated_prices(&reply("I paid $300 for it new. eh, 90"));
    assert!(!prices.contains(&Money::usd(30_000)), "{prices:?}");
    assert!(prices.contains(&Money::usd(90_00)), "{prices:?}");
}

#[test]
fn a_price_derived_from_the_asking_counts_as_stated() {
    let prices = stated_prices(&reply("I can take $20 off"));
    assert!(prices.contains(&Money::usd(80_00)), "{prices:?}");
}

#[test]
fn an_acceptance_may_name_our_own_last_offer_without_restating_it() {
    let text = "ok i guess";
    let rule = unsure(text);
    assert_eq!(
        (rule.intent, rule.price),
        (Intent::Accept, Some(Money::usd(60_00)))
    );
    for price in [None, Some(60)] {
        let kept = reconcile(&rule, &opinion(Intent::Accept, price), &reply(text));
        assert_eq!(kept.verdict, Verdict::Agrees, "{price:?}");
        assert_eq!(kept.reading.price, Some(Money::usd(60_00)));
        assert_eq!(kept.reading.next_step(), NextStep::Proceed);
    }
    let more = reconcile(&rule, &opinion(Intent::Accept, Some(65)), &reply(text));
    assert_eq!(
        more.verdict,
        Verdict::PriceNotInText {
            price: Money::usd(65_00)
        }
    );
    // our offer is only ours to accept: a counter at it must be in the text
    let counter = reconcile(&rule, &opinion(Intent::Counter, Some(60)), &reply(text));
    assert_eq!(
        counter.verdict,
        Verdict::PriceNotInText {
            price: Money::usd(60_00)
        }
    );
}

#[test]
fn a_counter_without_a_price_is_nothing_to_act_on() {
    let rule = unsure("hmm 80");
    let kept = reconcile(&rule, &opinion(Intent::Counter, None), &reply("hmm 80"));
    assert_eq!(kept.verdict, Verdict::NoPrice);
    assert_eq!(kept.reading, rule);
}

#[test]
fn disagreement_asks_the_seller_instead_of_acting() {
    let text = "hmm 80";
    let rule = unsure(text);
    for (intent, price) in [
        (Intent::Reject, None),
        (Intent::Accept, Some(80)),
        (Intent::Question, None),
    ] {
        let kept = reconcile(&rule, &opinion(intent, price), &reply(text));
        assert_eq!(kept.verdict, Verdict::Differs, "{intent:?}");
        assert_eq!(kept.reading.intent, intent);
        assert_eq!(kept.reading.price, price.map(|d| Money::usd(d * 100)));
        assert_eq!(kept.reading.reason, None);
        assert_eq!(kept.reading.confidence, DIFFERS_CONFIDENCE);
        assert!(
            matches!(kept.reading.next_step(), NextStep::Clarify(_)),
            "{intent:?}"
        );
    }
}

#[test]
fn intents_parse_from_their_json_names() {
    for intent in [
        Intent::Accept,
        Intent::Counter,
        Intent::Reject,
        Intent::Question,
        Intent::Other,
    ] {
        assert_eq!(intent.as_str().parse::<Intent>(), Ok(intent));
    }
    assert_eq!(" Counter ".parse::<Intent>(), Ok(Intent::Counter));
    let error = "haggle".parse::<Intent>().unwrap_err().to_string();
    assert!(error.contains("haggle"), "{error}");
}
