//! The floor is never crossed: any sequence of repricing looks (at any time, with any
//! competition and watchers), buyer offers (any amount, any round, after any counter) and
//! offers to watchers, under any rule settings, leaves every price we ask or take at or
//! above the listing's floor — and never raises the asking price by itself.

use bazaar_model::Money;
use bazaar_strategies::autopilot::{
    answer_offer, reprice, watcher_offer, CounterRule, OfferAnswer, OfferFacts, OfferRules,
    Reprice, RepriceFacts, RepriceRules, WatcherOfferRules,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Event {
    /// The repricer looks, `hours` after the previous event.
    Look {
        hours: i64,
        competitor: Option<i64>,
        watchers: Option<u32>,
    },
    /// A buyer offers `offered` cents.
    Offer { offered: i64 },
    /// Watchers may get an offer, `hours` after the previous event.
    ToWatchers { hours: i64 },
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (
            0i64..24 * 20,
            proptest::option::of(0i64..200_000),
            proptest::option::of(0u32..6)
        )
            .prop_map(|(hours, competitor, watchers)| Event::Look {
                hours,
                competitor,
                watchers
            }),
        (-1_000i64..300_000).prop_map(|offered| Event::Offer { offered }),
        (0i64..24 * 20).prop_map(|hours| Event::ToWatchers { hours }),
    ]
}

fn offer_rules() -> impl Strategy<Value = OfferRules> {
    (
        5_000u32..=10_000,
        0u32..=9_000,
        prop_oneof![
            Just(CounterRule::Floor),
            Just(CounterRule::Midpoint),
            Just(CounterRule::AskingLess5)
        ],
        0u32..4,
    )
        .prop_map(
            |(accept_at_bp, decline_below_bp, counter, max_counters)| OfferRules {
                accept_at_bp,
                decline_below_bp,
                counter,
                max_counters,
            },
        )
}

fn reprice_rules() -> impl Strategy<Value = RepriceRules> {
    (
        0u32..15,
        0u32..8,
        0u32..=5_000,
        0u32..=5_000,
        0u32..=9_000,
        0u32..6,
    )
        .prop_map(|(start, every, drop, daily, weekly, hold)| RepriceRules {
            start_after_days: start,
            every_days: every,
            drop_bp: drop,
            max_daily_drop_bp: daily,
            max_weekly_drop_bp: weekly,
            hold_at_watchers: hold,
        })
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_sequence_of_events_crosses_the_floor(
        floor in 1i64..100_000,
        above in 0i64..100_000,
        offers in offer_rules(),
        rules in reprice_rules(),
        discount in 0u32..=5_000,
        events in proptest::collection::vec(event(), 1..60),
    ) {
        let floor = Money::usd(floor);
        let listed_at = start();
        let mut now = listed_at;
        let mut price = Money::usd(floor.minor + above);
        let mut history = vec![(listed_at, price)];
        let mut counters_sent = 0;
        let mut our_last_counter = None;
        let mut last_watcher_offer = None;
        let watchers = WatcherOfferRules { discount_bp: discount, ..WatcherOfferRules::default() };
        for event in events {
            match event {
                Event::Look { hours, competitor, watchers } => {
                    now += Duration::hours(hours);
                    let facts = RepriceFacts {
                        price,
                        floor,
                        listed_at,
                        history: &history,
                        watchers,
                        competitor: competitor.map(Money::usd),
                    };
                    if let Reprice::Lower { to } = reprice(&rules, &facts, now) {
                        prop_assert!(to >= floor, "repriced to {to} under the floor {floor}");
                        prop_assert!(to < price, "a drop from {price} to {to}");
                        price = to;
                        history.push((now, to));
                    }
                }
                Event::Offer { offered } => {
                    let facts = OfferFacts {
                        asking: price,
                        floor,
                        offered: Money::usd(offered),
                        counters_sent,
                        our_last_counter,
                    };
                    match answer_offer(&offers, &facts) {
                        OfferAnswer::Accept { price: sold } => {
                            prop_assert!(sold >= floor, "sold at {sold} under the floor {floor}");
                            prop_assert!(sold <= price, "sold at {sold} over asking {price}");
                            prop_assert!(sold.minor <= offered.max(price.minor));
                        }
                        OfferAnswer::Counter { price: counter } => {
                            prop_assert!(counter >= floor, "countered {counter} under the floor {floor}");
                            prop_assert!(counter <= price && counter.minor > offered);
                            counters_sent += 1;
                            our_last_counter = Some(counter);
                        }
                        OfferAnswer::Decline { .. } => {}
                    }
                }
                Event::ToWatchers { hours } => {
                    now += Duration::hours(hours);
                    if let Some(offer) = watcher_offer(&watchers, price, floor, listed_at, last_watcher_offer, now) {
                        prop_assert!(offer >= floor, "offered watchers {offer} under the floor {floor}");
                        prop_assert!(offer < price);
                        last_watcher_offer = Some(now);
                    }
                }
            }
        }
    }
}
