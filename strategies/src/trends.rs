//! Price and volume over time per category: pure statistics over the prices memory has seen.
//!
//! ```
//! use bazaar_model::{Money, PriceKind};
//! use bazaar_strategies::trends::{trends, PriceObservation};
//! use chrono::{Duration, TimeZone, Utc};
//!
//! let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
//! let seen = |day: i64, dollars: i64| PriceObservation {
//!     category: "bike".into(),
//!     at: start + Duration::days(day),
//!     price: Money::usd(dollars * 100),
//!     kind: PriceKind::Asking,
//! };
//! let rows = trends(&[seen(0, 100), seen(1, 120), seen(8, 90)], start, start + Duration::days(14), 7);
//! assert_eq!(rows.len(), 2);
//! assert_eq!(rows[0].asking.as_ref().unwrap().median, Money::usd(110_00));
//! ```

use std::collections::BTreeMap;

use bazaar_model::{Money, PriceKind};
use chrono::{DateTime, Duration, Utc};

/// One price memory has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceObservation {
    /// Normalized category.
    pub category: String,
    /// When it was seen.
    pub at: DateTime<Utc>,
    pub price: Money,
    /// Asked or paid.
    pub kind: PriceKind,
}

/// Robust statistics of a set of prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceStats {
    /// How many prices.
    pub count: usize,
    /// The 25th percentile.
    pub p25: Money,
    pub median: Money,
    /// The 75th percentile.
    pub p75: Money,
}

/// One category over one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendRow {
    pub category: String,
    /// The period's first instant.
    pub period_start: DateTime<Utc>,
    /// Asking prices seen (listings and price changes).
    pub asking: Option<PriceStats>,
    /// Prices paid.
    pub sold: Option<PriceStats>,
}

/// Rows per category and period of `period_days` from `from` (inclusive) to `to`
/// (exclusive), categories in name order, periods in time order; periods without any price
/// are left out.
pub fn trends(
    observations: &[PriceObservation],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    period_days: u32,
) -> Vec<TrendRow> {
    let period = Duration::days(i64::from(period_days.max(1)));
    type Prices = (Vec<Money>, Vec<Money>);
    let mut cells: BTreeMap<(String, i64), Prices> = BTreeMap::new();
    for o in observations {
        if o.at < from || o.at >= to {
            continue;
        }
        let index = (o.at - from).num_seconds() / period.num_seconds();
        let cell = cells.entry((o.category.clone(), index)).or_default();
        match o.kind {
            PriceKind::Asking => cell.0.push(o.price),
            PriceKind::Sold => cell.1.push(o.price),
        }
    }
    cells
        .into_iter()
        .map(|((category, index), (asking, sold))| TrendRow {
            category,
            period_start: from + period * i32::try_from(index).unwrap_or(i32::MAX),
            asking: stats(asking),
            sold: stats(sold),
        })
        .collect()
}

/// Quartiles, interpolated between neighbours, over prices of the first price's currency
/// (others are left out).
fn stats(mut prices: Vec<Money>) -> Option<PriceStats> {
    let currency = prices.first()?.currency;
    prices.retain(|p| p.currency == currency);
    prices.sort_by_key(|p| p.minor);
    // Quarter q sits at (len − 1)·q/4: between `low` and the next by `rest` quarters.
    let quartile = |q: usize| {
        let position = (prices.len() - 1) * q;
        let (low, rest) = (position / 4, (position % 4) as i64);
        let a = prices[low].minor;
        let b = prices.get(low + 1).map_or(a, |p| p.minor);
        Money::new(a + (b - a) * rest / 4, currency)
    };
    Some(PriceStats {
        count: prices.len(),
        p25: quartile(1),
        median: quartile(2),
        p75: quartile(3),
    })
}

#[cfg(test)]
#[allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn periods_categories_and_kinds_are_kept_apart() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let seen = |category: &str, day: i64, dollars: i64, kind| PriceObservation {
            category: category.into(),
            at: start + Duration::days(day),
            price: Money::usd(dollars * 100),
            kind,
        };
        let observations = [
            seen("bike", -1, 999, PriceKind::Asking), // before the window
            seen("bike", 0, 100, PriceKind::Asking),
            seen("bike", 2, 200, PriceKind::Asking),
            seen("bike", 3, 300, PriceKind::Asking),
            seen("bike", 6, 150, PriceKind::Sold),
            seen("bike", 7, 80, PriceKind::Asking),
            seen("bike", 14, 999, PriceKind::Asking), // after it
            seen("phone", 1, 50, PriceKind::Sold),
        ];
        let rows = trends(&observations, start, start + Duration::days(14), 7);
        // (category, day, asking (count, median dollars), sold (count, median dollars))
        type Summary = (String, i64, Option<(usize, i64)>, Option<(usize, i64)>);
        let summary: Vec<Summary> = rows
            .iter()
            .map(|r| {
                (
                    r.category.clone(),
                    (r.period_start - start).num_days(),
                    r.asking.as_ref().map(|s| (s.count, s.median.minor / 100)),
                    r.sold.as_ref().map(|s| (s.count, s.median.minor / 100)),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("bike".into(), 0, Some((3, 200)), Some((1, 150))),
                ("bike".into(), 7, Some((1, 80)), None),
                ("phone".into(), 0, None, Some((1, 50))),
            ]
        );
        let first = rows[0].asking.as_ref().unwrap();
        assert_eq!(
            (first.p25, first.p75),
            (Money::usd(150_00), Money::usd(250_00))
        );
        let two = stats(vec![Money::usd(200_00), Money::usd(100_00)]).unwrap();
        assert_eq!(
            (two.p25, two.median, two.p75),
            (Money::usd(125_00), Money::usd(150_00), Money::usd(175_00))
        );
    }
}
