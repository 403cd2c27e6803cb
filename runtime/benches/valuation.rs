//! How well the DealAnalyzer values what a month of the simulated market offers, against the
//! world's hidden market values: every listing the world posts on the local sites, valued
//! against every other listing of the world (eBay's near-market ones and the other sites'),
//! through the real index and `valuation::analyze`, the way the DealAnalyzer does it
//! (comparables without the listing itself). Reports, for our scoring and the seed's on the
//! same comparables: the median absolute percentage error over the listings valued (and how
//! many were a cold start), and the precision and recall of "underpriced by ≥ 30 %"
//! (pursued listings asking at most 70 % of their value).
//!
//! `cargo bench -p bazaar-runtime --bench valuation [-- SCENARIO]` (default `default`).

use bazaar_memory::{
    Comparable, Condition, IndexConfig, Marketplace, Money, ProductId, ProductIndex, ProductRecord,
};
use bazaar_sim::scenario::Scenario;
use bazaar_sim::world::{World, WorldConfig, WorldMail};
use bazaar_strategies::valuation::{analyze, Candidate, Comp, Scoring, ValuationConfig};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Comparables asked per listing, as the DealAnalyzer asks.
const COMPARABLES: usize = bazaar_agents::analyzer::COMPARABLES;

/// A world listing, as the ground truth tells it.
struct Truth {
    local: bool,
    title: String,
    category: String,
    asking: Money,
    value: Money,
    posted_at: DateTime<Utc>,
}

/// What one scoring made of the listings.
#[derive(Default)]
struct Tally {
    errors: Vec<f64>,
    cold: usize,
    pursued: usize,
    pursued_underpriced: usize,
    underpriced: usize,
}

impl Tally {
    fn line(&mut self, name: &str) -> String {
        self.errors.sort_by(f64::total_cmp);
        let mape = self
            .errors
            .get(self.errors.len() / 2)
            .copied()
            .unwrap_or(0.0);
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        format!(
            "{name}: MAPE {:.1}% over {} valued ({} cold starts); underpriced >= 30%: \
             precision {:.2} recall {:.2} ({} pursued, {} truly underpriced)",
            mape * 100.0,
            self.errors.len(),
            self.cold,
            ratio(self.pursued_underpriced, self.pursued),
            ratio(self.pursued_underpriced, self.underpriced),
            self.pursued,
            self.underpriced,
        )
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Err(error) = run().await {
        eprintln!("valuation bench: {error:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let name = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "default".into());
    let scenario = Scenario::builtin(&name);
    let world = World::start(WorldConfig {
        scenario,
        seed: None,
        mail: WorldMail::InProcess,
        event_log: None,
        journal: None,
    })
    .await?;
    let truth = world.ground_truth();
    world.shutdown().await?;
    let money = |l: &Value, key: &str| -> anyhow::Result<Money> {
        let text = l[key].as_str().unwrap_or_default();
        Money::from_decimal_str(text, bazaar_memory::Currency::Usd)
            .map_err(|e| anyhow::anyhow!("{key} {text:?}: {e}"))
    };
    let mut listings = Vec::new();
    for l in truth["listings"].as_array().into_iter().flatten() {
        listings.push(Truth {
            local: l["venue"] != "ebay",
            title: l["title"].as_str().unwrap_or_default().to_string(),
            category: l["category"].as_str().unwrap_or_default().to_string(),
            asking: money(l, "asking")?,
            value: money(l, "market_value")?,
            posted_at: l["posted_at"].as_str().unwrap_or_default().parse()?,
        });
    }

    // In posting order: each local listing is valued against what was posted before it.
    listings.sort_by_key(|l| l.posted_at);
    let index = ProductIndex::in_memory(IndexConfig::default())?;
    let mut valued: Vec<(&Truth, Vec<Comparable>)> = Vec::new();
    let unsellable = ValuationConfig::default();
    for listing in &listings {
        if listing.local && !unsellable.is_unsellable(&listing.category) {
            index.commit().await?;
            let found =
                index.comparables(&listing.title, Some(&listing.category), None, COMPARABLES)?;
            valued.push((listing, found));
        }
        index
            .upsert_product(&ProductRecord {
                id: ProductId::new_at(listing.posted_at),
                title: listing.title.clone(),
                category: listing.category.clone(),
                condition: Condition::Unknown,
                marketplace: if listing.local {
                    Marketplace::Craigslist
                } else {
                    Marketplace::Ebay
                },
                listing: None,
                seller: None,
                asking: Some(listing.asking),
                sold: None,
                price_history: Vec::new(),
                first_seen: listing.posted_at,
                last_seen: listing.posted_at,
            })
            .await?;
    }

    let ours = ValuationConfig::default();
    let seed = ValuationConfig {
        scoring: Scoring::Seed,
        ..ValuationConfig::default()
    };
    // Before the titles' overlap counted: similarity from the index's score alone, squared,
    // and five comparables at similarity 0.2 needed to value.
    let before = ValuationConfig {
        similarity_power: 2.0,
        min_similarity: 0.2,
        min_comparables: 5,
        ..ValuationConfig::default()
    };
    let evaluate = |config: &ValuationConfig, score_only: bool| {
        let mut tally = Tally::default();
        for (listing, found) in &valued {
            let mut comps = Comp::from_index(&listing.title, found);
            if score_only {
                let best = found.iter().map(|c| c.score).fold(0.0f32, f32::max);
                let scores = found.iter().filter(|c| c.sold.or(c.asking).is_some());
                for (comp, hit) in comps.iter_mut().zip(scores) {
                    comp.similarity = f64::from(hit.score / best);
                }
            }
            let candidate = Candidate::new(
                &listing.title,
                &listing.category,
                listing.asking,
                Marketplace::Craigslist,
            );
            let analysis = analyze(&candidate, &comps, config, listing.posted_at);
            match analysis.value {
                Some(value) => tally.errors.push(
                    (value.minor - listing.value.minor).abs() as f64
                        / listing.value.minor.max(1) as f64,
                ),
                None => tally.cold += 1,
            }
            let underpriced = listing.asking.minor * 10 <= listing.value.minor * 7;
            let pursued = analysis.decision.is_pursue();
            tally.pursued += usize::from(pursued);
            tally.pursued_underpriced += usize::from(pursued && underpriced);
            tally.underpriced += usize::from(underpriced);
        }
        tally
    };
    println!(
        "valuation of `{name}`: {} local listings valued in posting order against {} world listings",
        valued.len(),
        listings.len()
    );
    println!("  {}", evaluate(&ours, false).line("ours"));
    println!("  {}", evaluate(&seed, false).line("seed scoring"));
    println!(
        "  {}",
        evaluate(&before, true).line("ours, similarity from the index score alone (before)")
    );
    Ok(())
}
