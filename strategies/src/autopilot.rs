//! Selling-side rules: answering a buyer's offer and lowering the price of a listing that is
//! not selling. Pure: the Autopilot gathers the facts, these functions decide, the gate acts.
//!
//! ```
//! use bazaar_model::{Currency, Money};
//! use bazaar_strategies::autopilot::{answer_offer, OfferAnswer, OfferFacts, OfferRules};
//!
//! let usd = |dollars: i64| Money::new(dollars * 100, Currency::Usd);
//! let facts = OfferFacts {
//!     asking: usd(100),
//!     floor: usd(70),
//!     offered: usd(80),
//!     counters_sent: 0,
//!     our_last_counter: None,
//! };
//! // 80 % of asking: between the decline share (60 %) and the accept share (95 %).
//! assert_eq!(answer_offer(&OfferRules::default(), &facts), OfferAnswer::Counter { price: usd(90) });
//! ```

use bazaar_model::Money;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What a counter-offer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterRule {
    /// Our floor price: the lowest we take.
    Floor,
    /// Halfway between their offer and our asking price.
    Midpoint,
    /// Five percent under the asking price.
    AskingLess5,
}

/// How buyer offers are answered. Shares are in basis points of the asking price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRules {
    /// Offers at or above this share of asking are accepted (when at or above the floor).
    pub accept_at_bp: u32,
    /// Offers below this share of asking are declined without a counter.
    pub decline_below_bp: u32,
    /// What a counter asks for (never below the floor, never above asking).
    pub counter: CounterRule,
    /// Counters per buyer thread; past it, offers that do not qualify are declined.
    pub max_counters: u32,
}

impl Default for OfferRules {
    fn default() -> Self {
        OfferRules {
            // An offer within a few percent of asking is taken; one further off is met
            // halfway: a buyer who writes 90 % usually takes 95 %.
            accept_at_bp: 9_500,
            decline_below_bp: 6_000,
            counter: CounterRule::Midpoint,
            max_counters: 2,
        }
    }
}

/// One buyer offer on one of our listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferFacts {
    /// Our asking price on that channel.
    pub asking: Money,
    /// The least we take there (cost, fees and the target margin covered).
    pub floor: Money,
    /// What the buyer offers.
    pub offered: Money,
    /// Counters we already sent this buyer.
    pub counters_sent: u32,
    /// Our last counter to this buyer: meeting it is a sale at that price.
    pub our_last_counter: Option<Money>,
}

/// The answer to a buyer offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferAnswer {
    /// Sold at this price.
    Accept {
        /// The price the buyer pays.
        price: Money,
    },
    /// We ask for this price.
    Counter {
        /// Our counter price.
        price: Money,
    },
    /// No sale at that price.
    Decline {
        /// Why, for the audit log.
        reason: &'static str,
    },
}

/// Answers a buyer's offer: accept at or above the accept share (and the floor), decline
/// below the decline share, otherwise counter by the rule — never below the floor.
pub fn answer_offer(rules: &OfferRules, facts: &OfferFacts) -> OfferAnswer {
    let OfferFacts {
        asking,
        floor,
        offered,
        counters_sent,
        our_last_counter,
    } = *facts;
    if offered.currency != asking.currency || floor.currency != asking.currency {
        return OfferAnswer::Decline {
            reason: "the offer is in another currency",
        };
    }
    if offered.minor <= 0 {
        return OfferAnswer::Decline {
            reason: "the offer names no usable price",
        };
    }
    if offered.minor >= asking.minor {
        return OfferAnswer::Accept { price: asking };
    }
    if let Some(counter) = our_last_counter {
        if counter.currency == asking.currency && offered.minor >= counter.minor {
            return OfferAnswer::Accept { price: counter };
        }
    }
    if offered.minor >= share(asking, rules.accept_at_bp).minor && offered.minor >= floor.minor {
        return OfferAnswer::Accept { price: offered };
    }
    if offered.minor < share(asking, rules.decline_below_bp).minor {
        return OfferAnswer::Decline {
            reason: "below the auto-decline share of asking",
        };
    }
    if counters_sent >= rules.max_counters {
        return OfferAnswer::Decline {
            reason: "counter limit reached",
        };
    }
    let target = match rules.counter {
        CounterRule::Floor => floor.minor,
        CounterRule::Midpoint => (offered.minor + asking.minor) / 2,
        CounterRule::AskingLess5 => share(asking, 9_500).minor,
    };
    // Rounded down to what people write; the floor is never crossed, and neither is our
    // last counter (a buyer who comes up is never asked for more than before).
    let most = our_last_counter
        .filter(|counter| counter.currency == asking.currency)
        .map_or(asking.minor, |counter| counter.minor.min(asking.minor));
    let price = whole_units_down(target, asking)
        .min(most)
        .max(floor.minor)
        .min(asking.minor);
    if price <= offered.minor {
        return OfferAnswer::Accept { price: offered };
    }
    OfferAnswer::Counter {
        price: Money::new(price, asking.currency),
    }
}

/// When and how far a listing's price comes down. Drops are in basis points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepriceRules {
    /// Days after listing before the first drop.
    pub start_after_days: u32,
    /// Days between drops.
    pub every_days: u32,
    /// One drop, as a share of the current price.
    pub drop_bp: u32,
    /// At most this much below the price of 24 hours ago.
    pub max_daily_drop_bp: u32,
    /// At most this much below the price of 7 days ago.
    pub max_weekly_drop_bp: u32,
    /// This many watchers (interest) hold the price.
    pub hold_at_watchers: u32,
}

impl Default for RepriceRules {
    fn default() -> Self {
        RepriceRules {
            start_after_days: 7,
            every_days: 3,
            drop_bp: 500,
            max_daily_drop_bp: 500,
            max_weekly_drop_bp: 1_500,
            hold_at_watchers: 3,
        }
    }
}

/// One live listing, as the repricer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepriceFacts<'a> {
    /// The price now.
    pub price: Money,
    /// The least we take.
    pub floor: Money,
    /// When it went live.
    pub listed_at: DateTime<Utc>,
    /// Every price it has had and since when, oldest first (the first is the listing price).
    pub history: &'a [(DateTime<Utc>, Money)],
    /// Watchers, when the marketplace reports them.
    pub watchers: Option<u32>,
    /// The median asking price of live comparables, when known.
    pub competitor: Option<Money>,
}

/// What to do with a listing's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reprice {
    /// Leave it.
    Keep {
        /// Why, for the log.
        reason: &'static str,
    },
    /// Lower it to this price.
    Lower {
        /// The new price.
        to: Money,
    },
}

/// Time decay with daily and weekly caps, held by watchers, pulled toward cheaper live
/// comparables, never below the floor.
pub fn reprice(rules: &RepriceRules, facts: &RepriceFacts<'_>, now: DateTime<Utc>) -> Reprice {
    let RepriceFacts {
        price,
        floor,
        listed_at,
        history,
        watchers,
        competitor,
    } = facts;
    if floor.currency != price.currency || price.minor <= floor.minor {
        return Reprice::Keep {
            reason: "at the floor",
        };
    }
    if now - *listed_at < Duration::days(i64::from(rules.start_after_days)) {
        return Reprice::Keep {
            reason: "listed recently",
        };
    }
    let last_change = history.last().map_or(*listed_at, |(at, _)| *at);
    if now - last_change < Duration::days(i64::from(rules.every_days)) {
        return Reprice::Keep {
            reason: "changed recently",
        };
    }
    if watchers.is_some_and(|w| w >= rules.hold_at_watchers) {
        return Reprice::Keep {
            reason: "buyers are watching",
        };
    }
    let mut target = price.minor - share(*price, rules.drop_bp).minor;
    if let Some(competitor) = competitor {
        if competitor.currency == price.currency && competitor.minor < target {
            target = competitor.minor;
        }
    }
    let price_at = |ago: Duration| {
        history
            .iter()
            .rev()
            .find(|(at, _)| *at <= now - ago)
            .map_or(*price, |(_, p)| *p)
    };
    let day_cap = {
        let base = price_at(Duration::days(1));
        base.minor - share(base, rules.max_daily_drop_bp).minor
    };
    let week_cap = {
        let base = price_at(Duration::days(7));
        base.minor - share(base, rules.max_weekly_drop_bp).minor
    };
    let lowest = target.max(day_cap).max(week_cap).max(floor.minor);
    let to = whole_units_up(lowest, *price);
    if to >= price.minor {
        return Reprice::Keep {
            reason: "drop limits reached",
        };
    }
    Reprice::Lower {
        to: Money::new(to, price.currency),
    }
}

/// When buyers watching a listing are sent an offer (eBay's offers to interested buyers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherOfferRules {
    /// Days after listing before the first offer.
    pub after_days: u32,
    /// Days between offers on one listing.
    pub every_days: u32,
    /// The discount offered, in basis points of the price (eBay wants at least 5 %).
    pub discount_bp: u32,
}

impl Default for WatcherOfferRules {
    fn default() -> Self {
        WatcherOfferRules {
            after_days: 3,
            every_days: 7,
            discount_bp: 1_000,
        }
    }
}

/// The price to offer a listing's watchers now, if any: the discount off the price (in
/// whole units), at least 5 % under it as eBay requires, never below the floor.
pub fn watcher_offer(
    rules: &WatcherOfferRules,
    price: Money,
    floor: Money,
    listed_at: DateTime<Utc>,
    last_sent: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Money> {
    if floor.currency != price.currency {
        return None;
    }
    if now - listed_at < Duration::days(i64::from(rules.after_days)) {
        return None;
    }
    if last_sent.is_some_and(|at| now - at < Duration::days(i64::from(rules.every_days))) {
        return None;
    }
    let most = whole_units_down(share(price, 9_500).minor, price);
    let target = whole_units_down(price.minor - share(price, rules.discount_bp).minor, price);
    let offer = target.min(most).max(floor.minor);
    (offer <= most && offer > 0).then(|| Money::new(offer, price.currency))
}

/// What happens to an item that does not sell: relisted (a fresh listing, which
/// marketplaces show to more buyers than an old one), then archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRules {
    /// Days a native listing stays up unsold before it is ended and listed afresh (0: never).
    pub relist_after_days: u32,
    /// Days after it was first listed before it is archived (taken down everywhere).
    pub archive_after_days: u32,
}

impl Default for StaleRules {
    fn default() -> Self {
        StaleRules {
            relist_after_days: 21,
            archive_after_days: 60,
        }
    }
}

/// Whether an item first listed at `listed_at` is stale at `now`.
pub fn is_stale(rules: &StaleRules, listed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - listed_at >= Duration::days(i64::from(rules.archive_after_days))
}

/// Whether a listing live since `live_since` (first listed at `first_listed`) is relisted
/// now: old enough, and not about to be archived anyway.
pub fn needs_relist(
    rules: &StaleRules,
    first_listed: DateTime<Utc>,
    live_since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    rules.relist_after_days > 0
        && now - live_since >= Duration::days(i64::from(rules.relist_after_days))
        && !is_stale(rules, first_listed, now)
}

/// `bp` basis points of `money`, rounded down.
fn share(money: Money, bp: u32) -> Money {
    Money::new(
        money.minor.saturating_mul(i64::from(bp)) / 10_000,
        money.currency,
    )
}

/// `minor` rounded down to a whole major unit, in `like`'s currency.
fn whole_units_down(minor: i64, like: Money) -> i64 {
    let unit = 10_i64.pow(like.currency.exponent());
    minor.div_euclid(unit) * unit
}

/// `minor` rounded up to a whole major unit (prices people read), in `like`'s currency.
fn whole_units_up(minor: i64, like: Money) -> i64 {
    let unit = 10_i64.pow(like.currency.exponent());
    (minor + unit - 1).div_euclid(unit) * unit
}

#[cfg(test)]
mod tests {
    use bazaar_model::Currency;
    use chrono::TimeZone;

    use super::*;

    fn usd(dollars: i64) -> Money {
        Money::new(dollars * 100, Currency::Usd)
    }

    #[test]
    fn offers() {
        // (asking, floor, offered, counters sent) → answer
        let check = |rules: OfferRules, facts: (i64, i64, i64, u32), expected: OfferAnswer| {
            let (asking, floor, offered, counters_sent) = facts;
            let facts = OfferFacts {
                asking: usd(asking),
                floor: usd(floor),
                offered: usd(offered),
                counters_sent,
                our_last_counter: (counters_sent > 0).then(|| usd(90)),
            };
            assert_eq!(
                answer_offer(&rules, &facts),
                expected,
                "{facts:?} {rules:?}"
            );
        };
        let rules = OfferRules::default();
        let accept = |d| OfferAnswer::Accept { price: usd(d) };
        let counter = |d| OfferAnswer::Counter { price: usd(d) };
        check(rules, (100, 70, 120, 0), accept(100));
        check(rules, (100, 70, 95, 0), accept(95));
        check(rules, (100, 70, 90, 0), counter(95));
        check(rules, (100, 95, 92, 0), counter(96));
        check(rules, (100, 70, 80, 0), counter(90));
        check(rules, (100, 70, 81, 1), counter(90));
        // A buyer who comes up to $88 after our $90 is not asked for $94 now.
        check(rules, (100, 70, 88, 1), counter(90));
        check(rules, (100, 93, 81, 1), counter(93));
        // Meeting our last counter ($90) is a sale at it, whatever the shares say.
        check(rules, (100, 70, 90, 2), accept(90));
        check(rules, (100, 95, 90, 1), accept(90));
        check(
            rules,
            (100, 70, 80, 2),
            OfferAnswer::Decline {
                reason: "counter limit reached",
            },
        );
        check(
            rules,
            (100, 70, 59, 0),
            OfferAnswer::Decline {
                reason: "below the auto-decline share of asking",
            },
        );
        check(
            rules,
            (100, 70, 0, 0),
            OfferAnswer::Decline {
                reason: "the offer names no usable price",
            },
        );
        let floor_rule = OfferRules {
            counter: CounterRule::Floor,
            ..rules
        };
        check(floor_rule, (100, 70, 65, 0), counter(70));
        check(floor_rule, (100, 60, 65, 0), accept(65));
        let less5 = OfferRules {
            counter: CounterRule::AskingLess5,
            ..rules
        };
        check(less5, (100, 70, 80, 0), counter(95));
        // The floor wins over every rule.
        check(less5, (100, 98, 80, 0), counter(98));
    }

    #[test]
    fn stale_after_the_configured_days() {
        let start = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
        let rules = StaleRules::default();
        assert!(!is_stale(&rules, start, start + Duration::days(59)));
        assert!(is_stale(&rules, start, start + Duration::days(60)));
        // Relisted at 21 days live, again 21 days after that, never once archiving is due.
        let day = |n| start + Duration::days(n);
        for (live_since, now, relist) in [
            (0, 20, false),
            (0, 21, true),
            (21, 30, false),
            (21, 42, true),
            (42, 60, false),
        ] {
            assert_eq!(
                needs_relist(&rules, start, day(live_since), day(now)),
                relist,
                "live since day {live_since}, day {now}"
            );
        }
        let never = StaleRules {
            relist_after_days: 0,
            ..rules
        };
        assert!(!needs_relist(&never, start, start, day(40)));
    }

    #[test]
    fn watcher_offers() {
        let day = |d: i64| Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::days(d);
        // (price, floor, now, last sent) → offer
        let check = |facts: (i64, i64, i64, Option<i64>), expected: Option<i64>| {
            let (price, floor, now, last) = facts;
            let got = watcher_offer(
                &WatcherOfferRules::default(),
                usd(price),
                usd(floor),
                day(0),
                last.map(day),
                day(now),
            );
            assert_eq!(got, expected.map(usd), "{facts:?}");
        };
        check((100, 70, 1, None), None);
        check((100, 70, 3, None), Some(90));
        check((100, 70, 8, Some(3)), None);
        check((100, 70, 10, Some(3)), Some(90));
        check((100, 93, 3, None), Some(93));
        check((100, 96, 3, None), None);
    }

    #[test]
    fn repricing() {
        let day = |d: i64| Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::days(d);
        let check = |history: &[(i64, i64)],
                     now: i64,
                     watchers: Option<u32>,
                     competitor: Option<i64>,
                     expected: Reprice| {
            let history: Vec<_> = history.iter().map(|&(d, p)| (day(d), usd(p))).collect();
            let facts = RepriceFacts {
                price: history.last().map(|(_, p)| *p).unwrap(),
                floor: usd(70),
                listed_at: day(0),
                history: &history,
                watchers,
                competitor: competitor.map(usd),
            };
            assert_eq!(
                reprice(&RepriceRules::default(), &facts, day(now)),
                expected,
                "{history:?} day {now}"
            );
        };
        let lower = |d| Reprice::Lower { to: usd(d) };
        let keep = |reason| Reprice::Keep { reason };
        check(&[(0, 100)], 3, None, None, keep("listed recently"));
        check(&[(0, 100)], 7, None, None, lower(95));
        check(
            &[(0, 100), (7, 95)],
            8,
            None,
            None,
            keep("changed recently"),
        );
        check(&[(0, 100), (7, 95)], 10, None, None, lower(91));
        check(&[(0, 100)], 7, Some(5), None, keep("buyers are watching"));
        // A cheaper comparable pulls harder, but the daily cap holds.
        check(&[(0, 100)], 7, None, Some(80), lower(95));
        // The weekly cap: drops within a week stop at 15 % under last week's price.
        check(
            &[(0, 100), (8, 92), (11, 86)],
            14,
            None,
            Some(50),
            lower(85),
        );
        check(
            &[(0, 100), (38, 80)],
            42,
            None,
            None,
            keep("drop limits reached"),
        );
        // Never below the floor.
        check(&[(0, 100), (30, 72)], 45, None, None, lower(70));
        check(&[(0, 100), (50, 70)], 60, None, None, keep("at the floor"));
    }
}
