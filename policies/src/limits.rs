//! Hard limits no confidence overrides (pure): per-kind daily counts, marketplace and
//! per-listing revisions, API budgets, money caps. Counters reset at the marketplace's day
//! boundary; the gate persists [`LimitState`] after every change.

use std::collections::{BTreeMap, BTreeSet};

use bazaar_config::LimitsConfig;
use bazaar_memory::{ActionId, ActionKind, Marketplace, Money};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What an action would consume.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// The action (to release its commitment later).
    pub action: ActionId,
    /// Its kind.
    pub kind: ActionKind,
    /// Where.
    pub marketplace: Option<Marketplace>,
    /// The listing it revises, if any.
    pub target: String,
    /// Money at stake.
    pub value: Option<Money>,
}

/// Counters for the current marketplace day, spend for the last week, open commitments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitState {
    /// The marketplace day the counts belong to.
    pub day: Option<NaiveDate>,
    /// Counts by counter name.
    pub counts: BTreeMap<String, u64>,
    /// Spend in minor units by marketplace day (the last 7 days).
    pub spend_by_day: BTreeMap<NaiveDate, i64>,
    /// Purchases executed and not yet settled, in minor units.
    pub open_commitments: BTreeMap<ActionId, i64>,
    /// Counters already warned about today.
    pub warned: BTreeSet<String>,
}

/// The marketplace day `at` falls in, for a day starting at `offset_minutes` from UTC.
pub fn marketplace_day(at: DateTime<Utc>, offset_minutes: i32) -> NaiveDate {
    (at + Duration::minutes(i64::from(offset_minutes))).date_naive()
}

/// A counter, its limit and how much one action adds.
struct Check {
    name: String,
    limit: u64,
    adds: u64,
    what: String,
}

impl LimitState {
    /// Starts a new day's counts if `today` is a new marketplace day.
    pub fn roll_over(&mut self, today: NaiveDate) {
        if self.day == Some(today) {
            return;
        }
        self.day = Some(today);
        self.counts.clear();
        self.warned.clear();
        let week_start = today - Duration::days(6);
        self.spend_by_day.retain(|day, _| *day >= week_start);
    }

    fn checks(&self, config: &LimitsConfig, usage: &Usage) -> Vec<Check> {
        let mut checks = Vec::new();
        let per_kind = match usage.kind {
            ActionKind::RevisePrice => Some(config.revise_price_per_day),
            ActionKind::AcceptOffer => Some(config.accept_offer_per_day),
            ActionKind::CounterOffer => Some(config.counter_offer_per_day),
            ActionKind::Relist => Some(config.relist_per_day),
            _ => None,
        };
        if let Some(limit) = per_kind {
            checks.push(Check {
                name: format!("kind:{}", usage.kind),
                limit: u64::from(limit),
                adds: 1,
                what: format!("{} per day", usage.kind),
            });
        }
        if let Some(marketplace) = usage.marketplace {
            checks.push(Check {
                name: format!("api:{marketplace}"),
                limit: u64::from(config.api_calls_per_day),
                adds: 1,
                what: format!("{marketplace} API calls per day"),
            });
            if usage.kind.is_listing_revision() {
                checks.push(Check {
                    name: format!("revisions:{marketplace}"),
                    limit: u64::from(config.marketplace_revisions_per_day),
                    adds: 1,
                    what: format!("{marketplace} listing revisions per day"),
                });
                checks.push(Check {
                    name: format!("listing:{marketplace}:{}", usage.target),
                    limit: u64::from(config.revisions_per_listing_per_day),
                    adds: 1,
                    what: format!("revisions of listing {} per day", usage.target),
                });
            }
        }
        checks
    }

    /// Spend in the marketplace week ending today.
    pub fn week_spend(&self) -> i64 {
        self.spend_by_day.values().sum()
    }

    /// Today's spend.
    pub fn day_spend(&self) -> i64 {
        self.day
            .and_then(|d| self.spend_by_day.get(&d))
            .copied()
            .unwrap_or(0)
    }

    /// Open commitments.
    pub fn committed(&self) -> i64 {
        self.open_commitments.values().sum()
    }

    /// Checks every limit `usage` touches and, only if all pass, counts it. Returns the
    /// warnings for counters that crossed `warn_at_percent` for the first time today, or the
    /// first limit it would exceed.
    pub fn reserve(
        &mut self,
        config: &LimitsConfig,
        usage: &Usage,
        today: NaiveDate,
    ) -> Result<Vec<String>, String> {
        self.roll_over(today);
        let checks = self.checks(config, usage);
        for check in &checks {
            let used = self.counts.get(&check.name).copied().unwrap_or(0);
            if used + check.adds > check.limit {
                return Err(format!(
                    "limit reached: {} ({used} of {})",
                    check.what, check.limit
                ));
            }
        }
        let spend = match (usage.kind, usage.value) {
            (ActionKind::Purchase, Some(value)) => value.minor.max(0),
            _ => 0,
        };
        let mut money_checks = Vec::new();
        if usage.kind == ActionKind::Purchase {
            let Some(value) = usage.value else {
                return Err("a purchase must say how much it spends".into());
            };
            if value.minor > config.max_price_per_item.minor {
                return Err(format!(
                    "price {value} is over the per-item cap of {}",
                    config.max_price_per_item
                ));
            }
            money_checks = vec![
                (
                    "spend:day".to_string(),
                    self.day_spend(),
                    config.max_spend_per_day,
                    "spend per day",
                ),
                (
                    "spend:week".to_string(),
                    self.week_spend(),
                    config.max_spend_per_week,
                    "spend per week",
                ),
                (
                    "commitments".to_string(),
                    self.committed(),
                    config.max_open_commitments,
                    "open commitments",
                ),
            ];
            for (_, used, cap, what) in &money_checks {
                if used + spend > cap.minor {
                    let used = Money::new(*used, cap.currency);
                    return Err(format!(
                        "limit reached: {what} ({used} of {cap}, this needs {value})"
                    ));
                }
            }
        }
        let mut warnings = Vec::new();
        for check in &checks {
            let used = self.counts.entry(check.name.clone()).or_insert(0);
            *used += check.adds;
            if crossed(*used, check.limit, config.warn_at_percent)
                && self.warned.insert(check.name.clone())
            {
                warnings.push(format!("{}: {} of {}", check.what, used, check.limit));
            }
        }
        if spend > 0 {
            *self.spend_by_day.entry(today).or_insert(0) += spend;
            self.open_commitments.insert(usage.action, spend);
            for (name, used, cap, what) in money_checks {
                let now_used = used + spend;
                if crossed_money(now_used, cap.minor, config.warn_at_percent)
                    && self.warned.insert(name)
                {
                    warnings.push(format!(
                        "{what}: {} of {cap}",
                        Money::new(now_used, cap.currency)
                    ));
                }
            }
        }
        Ok(warnings)
    }

    /// Gives back what a failed action reserved in money (counts stay: the attempt
    /// consumed them).
    pub fn release(&mut self, action: ActionId, day: NaiveDate) {
        if let Some(spend) = self.open_commitments.remove(&action) {
            if let Some(total) = self.spend_by_day.get_mut(&day) {
                *total -= spend;
            }
        }
    }

    /// Marks a purchase as settled: it no longer counts as an open commitment.
    pub fn settle(&mut self, action: ActionId) -> bool {
        self.open_commitments.remove(&action).is_some()
    }
}

fn crossed(used: u64, limit: u64, percent: u8) -> bool {
    used * 100 >= limit * u64::from(percent)
}

fn crossed_money(used: i64, cap: i64, percent: u8) -> bool {
    i128::from(used) * 100 >= i128::from(cap) * i128::from(percent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LimitsConfig {
        bazaar_config::Config::load(None, std::iter::empty())
            .unwrap()
            .policy
            .limits
    }

    fn usage(kind: ActionKind, target: &str, dollars: Option<i64>) -> Usage {
        Usage {
            action: ActionId::new_at(Utc::now()),
            kind,
            marketplace: Some(Marketplace::Ebay),
            target: target.into(),
            value: dollars.map(|d| Money::usd(d * 100)),
        }
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, n).unwrap()
    }

    #[test]
    fn per_kind_limits_reset_at_the_day_boundary() {
        let mut state = LimitState::default();
        let config = LimitsConfig {
            relist_per_day: 3,
            ..config()
        };
        for i in 0..3 {
            state
                .reserve(
                    &config,
                    &usage(ActionKind::Relist, &format!("sku-{i}"), None),
                    day(1),
                )
                .unwrap();
        }
        let refused = state
            .reserve(&config, &usage(ActionKind::Relist, "sku-9", None), day(1))
            .unwrap_err();
        assert!(refused.contains("relist per day (3 of 3)"), "{refused}");
        state
            .reserve(&config, &usage(ActionKind::Relist, "sku-9", None), day(2))
            .unwrap();
    }

    #[test]
    fn listing_revisions_are_capped_per_listing() {
        let mut state = LimitState::default();
        let config = LimitsConfig {
            revisions_per_listing_per_day: 2,
            ..config()
        };
        state
            .reserve(&config, &usage(ActionKind::RevisePrice, "a", None), day(1))
            .unwrap();
        state
            .reserve(
                &config,
                &usage(ActionKind::WithdrawListing, "a", None),
                day(1),
            )
            .unwrap();
        assert!(state
            .reserve(&config, &usage(ActionKind::Relist, "a", None), day(1))
            .is_err());
        state
            .reserve(&config, &usage(ActionKind::Relist, "b", None), day(1))
            .unwrap();
    }

    #[test]
    fn money_caps_hold_and_a_refusal_changes_nothing() {
        let mut state = LimitState::default();
        let config = config(); // $300 per item, $500 per day, $1,500 per week, $1,000 open
        assert!(state
            .reserve(
                &config,
                &usage(ActionKind::Purchase, "x", Some(301)),
                day(1)
            )
            .is_err());
        assert!(state
            .reserve(&config, &usage(ActionKind::Purchase, "x", None), day(1))
            .is_err());
        let first = usage(ActionKind::Purchase, "a", Some(250));
        state.reserve(&config, &first, day(1)).unwrap();
        let warnings = state
            .reserve(
                &config,
                &usage(ActionKind::Purchase, "b", Some(200)),
                day(1),
            )
            .unwrap();
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("spend per day: $450.00")),
            "{warnings:?}"
        );
        let before = state.clone();
        let refused = state
            .reserve(&config, &usage(ActionKind::Purchase, "c", Some(60)), day(1))
            .unwrap_err();
        assert!(refused.contains("spend per day"), "{refused}");
        assert_eq!(state, before, "a refused reservation must not count");
        state.release(first.action, day(1));
        assert_eq!(state.day_spend(), 20_000);
        // Week cap across days: $200 on day 1, then $250 a day, passes $1,500 on day 7.
        let mut refused_on = None;
        for d in 2..=8 {
            if state
                .reserve(
                    &config,
                    &usage(ActionKind::Purchase, "w", Some(250)),
                    day(d),
                )
                .is_err()
            {
                refused_on = Some(d);
                break;
            }
            state.open_commitments.clear();
        }
        assert_eq!(refused_on, Some(7), "the weekly cap must bite");
    }
}
