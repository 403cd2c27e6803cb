//! `bazaar appraise`: what the DealAnalyzer would make of an item — its value from the
//! comparables in memory, the best resale channel, the risk, the decision — and the
//! comparables themselves.

use std::io::Write;

use bazaar_agents::analyzer::appraise;
use bazaar_memory::{Condition, Currency, Marketplace, Money, ProductIndex};
use bazaar_strategies::valuation::{Candidate, Decision, ValuationConfig};
use chrono::{DateTime, Utc};

use super::read::ReadContext;

/// What to appraise: `bazaar appraise`'s arguments.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct AppraiseQuery {
    /// The item's title, as a listing would have it.
    pub title: String,
    /// Its category (electronics, bike …); the closest product's when absent.
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// Its condition (new, like_new, good, fair, poor, for_parts).
    #[arg(long, value_name = "X", value_parser = parse_condition, default_value = "good")]
    pub condition: Condition,
    /// The asking price in dollars (e.g. 80 or 79.99); a decision needs it.
    #[arg(long, value_name = "P", value_parser = super::parse_dollars)]
    pub price: Option<Money>,
    /// Where it is listed.
    #[arg(long, value_name = "M", default_value = "craigslist")]
    pub marketplace: Marketplace,
}

fn parse_condition(text: &str) -> Result<Condition, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!("unknown condition {text:?}; use new, like_new, good, fair, poor or for_parts")
    })
}

/// Writes the appraisal under the configured strategy, or says why there is none.
pub fn run(
    context: &ReadContext,
    query: &AppraiseQuery,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let found = write_appraisal(
        context.index()?,
        &bazaar_agents::valuation_config(context.config()),
        query,
        Utc::now(),
        out,
    )?;
    if !found {
        writeln!(
            err,
            "nothing like {:?} in memory, so no value (name a --category, or let `bazaar run` collect comparables first)",
            query.title
        )?;
    }
    Ok(0)
}

/// Writes the appraisal under `valuation` (the configured strategy's, within the operator's
/// per-item cap); `Ok(false)` when memory holds nothing like the title.
pub fn write_appraisal(
    index: &ProductIndex,
    valuation: &ValuationConfig,
    query: &AppraiseQuery,
    now: DateTime<Utc>,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let category = match &query.category {
        Some(category) => category.clone(),
        None => match index
            .comparables(&query.title, None, None, 1)?
            .into_iter()
            .next()
        {
            Some(closest) => closest.category,
            None => return Ok(false),
        },
    };
    let asking = query.price.unwrap_or(Money::new(100, Currency::Usd));
    let candidate = Candidate {
        condition: query.condition,
        ..Candidate::new(&query.title, &category, asking, query.marketplace)
    };
    let (analysis, comparables) = appraise(index, valuation, &candidate, None, now)?;
    let money = |m: Option<Money>| m.map_or("-".to_string(), |m| m.to_string());
    let used = &analysis.comparables;
    writeln!(
        out,
        "{} [{category}, {}]",
        query.title,
        query.condition.name()
    )?;
    writeln!(
        out,
        "value {} (conservative {}) from {} comparables ({} sold, {} outliers left out)",
        money(analysis.value),
        money(analysis.conservative_value),
        used.used,
        used.sold,
        used.outliers
    )?;
    if let Some(spread) = &analysis.spread {
        writeln!(
            out,
            "spread: interquartile range {} ({:.1}% of the value)",
            spread.iqr,
            spread.iqr_bp as f64 / 100.0
        )?;
    }
    if let Some(channel) = &analysis.channel {
        writeln!(
            out,
            "best channel: {} at {}, fees {}, postage {}, net {}, about {} days to sell",
            channel.channel.name(),
            channel.sale_price,
            channel.fees,
            channel.shipping,
            channel.net,
            channel.days_to_sell
        )?;
    }
    writeln!(out, "most to pay (ceiling): {}", money(analysis.ceiling))?;
    writeln!(
        out,
        "risk {:.2}, confidence {:.2}",
        analysis.risk.score, analysis.confidence
    )?;
    match (&query.price, &analysis.decision) {
        (None, _) => writeln!(out, "decision: give --price to get one")?,
        (Some(price), Decision::Pass { reason }) => {
            writeln!(out, "decision at {price}: pass — {reason}")?
        }
        (Some(price), Decision::Pursue { ceiling, strategy, confidence }) => writeln!(
            out,
            "decision at {price}: pursue — profit {}, margin {:.1}%, up to {ceiling}, open {strategy:?}, confidence {confidence:.2}",
            money(analysis.profit),
            analysis.margin_bp.unwrap_or(0) as f64 / 100.0
        )?,
    }
    writeln!(out, "comparables:")?;
    for c in &comparables {
        writeln!(
            out,
            "  {:>6.2}  asking {:>10}  sold {:>10}  {} [{}]",
            c.score,
            money(c.asking),
            money(c.sold),
            c.title,
            c.condition
        )?;
    }
    Ok(true)
}
