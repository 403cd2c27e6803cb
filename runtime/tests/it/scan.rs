//! A scan of the simulated market by the running system: saved searches on eBay (the
//! comparables) and the Craigslist-style site, listings valued against comparables, and the
//! estimates compared with the world's hidden market values. Prints the median absolute
//! percentage error and the precision and recall of "underpriced by ≥ 30 %" — our decisions
//! against the seed's scoring on the same listings and comparables.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::connectors::craigslist::{Craigslist, CraigslistSettings};
use bazaar_agents::connectors::ebay::{EbayBrowse, EbaySettings};
use bazaar_agents::connectors::polite::PoliteConfig;
use bazaar_agents::connectors::Source;
use bazaar_config::{Config, SavedSearch};
use bazaar_memory::{
    IndexConfig, MarketListing, Marketplace, Opportunity, OpportunityStatus, ProductIndex,
    SharedClock, SledStore, Store,
};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::scenario::Scenario;
use bazaar_sim::world::{World, WorldConfig};
use bazaar_strategies::valuation::{analyze, Candidate, Comp, Scoring, ValuationConfig};

fn quick() -> PoliteConfig {
    PoliteConfig {
        concurrency: 2,
        min_delay: Duration::ZERO,
        jitter: Duration::ZERO,
        backoff_initial: Duration::from_millis(10),
        backoff_max: Duration::from_millis(10),
        max_retries: 1,
        timeout: Duration::from_secs(10),
    }
}

fn search(marketplace: Marketplace, category: &str) -> SavedSearch {
    let text = format!(
        "marketplace = \"{}\"\nquery = \"\"\ncategory = \"{category}\"\nevery_minutes = 60\n",
        marketplace.name()
    );
    toml::from_str(&text).expect("a saved search")
}

/// The world's eBay through the Browse connector.
fn ebay_of(world: &World, store: &SledStore, clock: &SharedClock) -> EbayBrowse {
    let endpoints = world.endpoints();
    EbayBrowse::new(
        EbaySettings::new(
            &endpoints.ebay,
            &endpoints.ebay_client_id,
            &endpoints.ebay_client_secret,
            5_000,
        ),
        quick(),
        store.clone(),
        clock.clone(),
    )
    .unwrap()
}

/// The world's Craigslist-style site through the Craigslist connector.
fn craigslist_of(world: &World, clock: &SharedClock) -> Craigslist {
    Craigslist::new(
        CraigslistSettings::new(world.endpoints().craigslist.trim_end_matches('/')),
        quick(),
        clock.clone(),
    )
    .unwrap()
}

/// Median of the values (they are sorted here).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_values_listings_near_their_hidden_market_values() {
    let scenario = Scenario::builtin("default");
    let mut world = World::start(WorldConfig::new(scenario)).await.unwrap();
    let clock: SharedClock = Arc::new(world.clock().clone());
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();

    let categories = ["electronics", "phone", "furniture", "bike", "car"];
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    // eBay first: its listings are the comparables the Craigslist finds are valued against.
    config.researcher.searches = categories
        .iter()
        .map(|c| search(Marketplace::Ebay, c))
        .chain(
            categories
                .iter()
                .map(|c| search(Marketplace::Craigslist, c)),
        )
        .collect();
    let sources: Vec<Arc<dyn Source>> = vec![
        Arc::new(ebay_of(&world, &store, &clock)),
        Arc::new(craigslist_of(&world, &clock)),
    ];
    let mut parts = SystemParts::without_connectors(Arc::new(config), store, index, clock);
    parts.sources = sources;
    let system = System::start(parts).await.unwrap();

    // One full cycle: every saved search runs once within the hour.
    let started = std::time::Instant::now();
    for _ in 0..8 {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            system.quiet.wait_quiet().await;
        }
        let until = world.now() + chrono::Duration::minutes(10);
        world.run_until(until).await.unwrap();
    }
    system.quiet.wait_quiet().await;
    let cycle = started.elapsed();

    // Hidden values by (venue, id).
    let truth = world.ground_truth();
    let hidden: BTreeMap<String, (f64, f64)> = truth["listings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["venue"] == "craigslist")
        .map(|l| {
            let money = |k: &str| l[k].as_str().unwrap().parse::<f64>().unwrap();
            (
                l["id"].as_str().unwrap().to_string(),
                (money("market_value"), money("asking")),
            )
        })
        .collect();

    let store = &system.store;
    let listings: Vec<MarketListing> = store
        .all::<MarketListing>()
        .unwrap()
        .into_iter()
        .filter(|l| l.marketplace == Marketplace::Craigslist)
        .collect();
    let ebay_seen = store
        .all::<MarketListing>()
        .unwrap()
        .iter()
        .filter(|l| l.marketplace == Marketplace::Ebay)
        .count();
    assert!(ebay_seen > 50, "ebay comparables recorded: {ebay_seen}");
    assert!(
        listings.len() > 50,
        "craigslist listings recorded: {}",
        listings.len()
    );

    let seed = ValuationConfig {
        scoring: Scoring::Seed,
        ..ValuationConfig::default()
    };
    let mut errors = Vec::new();
    let (mut ours, mut seeds) = ([0usize; 3], [0usize; 3]); // true positives, predicted, actual
    for listing in &listings {
        let Some((value, asking)) = hidden.get(&listing.external_id).copied() else {
            continue;
        };
        let opportunity: Opportunity =
            match store.find(Opportunity::BY_LISTING, &listing.id.to_bytes()) {
                Ok(mut found) if !found.is_empty() => found.remove(0),
                _ => continue,
            };
        if let Some(valuation) = &opportunity.valuation {
            let estimate = valuation.market_value.minor as f64 / 100.0;
            errors.push((estimate - value).abs() / value);
        }
        let underpriced = asking <= 0.7 * value;
        let pursued = matches!(
            opportunity.lifecycle.status,
            OpportunityStatus::Pursuing | OpportunityStatus::Agreed | OpportunityStatus::Purchased
        );
        // The seed's decision on the same listing and comparables.
        let found = system
            .index
            .comparables(&listing.title, Some(&listing.category), None, 21)
            .unwrap();
        let product: Option<bazaar_memory::ProductRecord> = store
            .find(
                bazaar_memory::ProductRecord::BY_LISTING,
                &listing.id.to_bytes(),
            )
            .unwrap()
            .into_iter()
            .next();
        let own = product.map(|p| p.id.to_string());
        let found: Vec<_> = found
            .into_iter()
            .filter(|c| Some(&c.product_id) != own.as_ref())
            .take(20)
            .collect();
        let seed_analysis = analyze(
            &Candidate::from_listing(listing),
            &Comp::from_index(&listing.title, &found),
            &seed,
            world.now(),
        );
        for (tally, predicted) in [
            (&mut ours, pursued),
            (&mut seeds, seed_analysis.decision.is_pursue()),
        ] {
            tally[0] += usize::from(predicted && underpriced);
            tally[1] += usize::from(predicted);
            tally[2] += usize::from(underpriced);
        }
    }
    let n = errors.len();
    assert!(n >= 30, "valued listings: {n}");
    let mape = median(&mut errors);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    eprintln!(
        "scan cycle of `default`: {} craigslist + {ebay_seen} ebay listings in {cycle:?}",
        listings.len()
    );
    eprintln!(
        "valuation: median absolute percentage error {:.1}% over {n} listings",
        mape * 100.0
    );
    eprintln!(
        "underpriced >= 30%: ours precision {:.2} recall {:.2} ({} pursued, {} truly underpriced); seed precision {:.2} recall {:.2} ({} pursued)",
        ratio(ours[0], ours[1]),
        ratio(ours[0], ours[2]),
        ours[1],
        ours[2],
        ratio(seeds[0], seeds[1]),
        ratio(seeds[0], seeds[2]),
        seeds[1]
    );
    // The goal is 15 %. Comparables that share words but are other items (an iPhone case
    // for an iPhone) are weighed down by how little of the title they share.
    assert!(
        mape <= 0.15,
        "median absolute percentage error {:.1}%",
        mape * 100.0
    );
    assert!(
        ours[0] >= seeds[0] && ours[0] > 0,
        "ours finds at least the underpriced listings the seed's scoring finds"
    );
    assert!(ours[2] > 0, "the world has underpriced listings to find");
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    world.shutdown().await.unwrap();
}

/// The eBay connector, counting the searches asked of it.
struct CountedEbay {
    inner: EbayBrowse,
    searches: std::sync::atomic::AtomicUsize,
}

impl Source for CountedEbay {
    fn marketplace(&self) -> Marketplace {
        self.inner.marketplace()
    }
    fn search<'a>(
        &'a self,
        query: &'a bazaar_agents::connectors::SearchQuery,
    ) -> bazaar_agents::connectors::SourceFuture<'a, bazaar_agents::connectors::SearchPage> {
        self.searches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Source::search(&self.inner, query)
    }
    fn fetch<'a>(
        &'a self,
        external_id: &'a str,
    ) -> bazaar_agents::connectors::SourceFuture<'a, MarketListing> {
        Source::fetch(&self.inner, external_id)
    }
    fn lists_summaries(&self) -> bool {
        self.inner.lists_summaries()
    }
    fn take_alerts(&self) -> Vec<bazaar_agents::connectors::SourceAlert> {
        self.inner.take_alerts()
    }
    fn resume(&self) {
        self.inner.resume()
    }
}

/// What a fresh store made of an hour of Craigslist searches with `budget` cold-start
/// searches a day: (eBay searches asked, eBay listings recorded, Craigslist listings valued
/// against comparables, Craigslist listings looked at).
async fn cold_start_hour(budget: u32) -> (usize, usize, usize, usize) {
    let scenario = Scenario::builtin("default");
    let mut world = World::start(WorldConfig::new(scenario)).await.unwrap();
    let clock: SharedClock = Arc::new(world.clock().clone());
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.researcher.searches = ["electronics", "bike"]
        .iter()
        .map(|c| search(Marketplace::Craigslist, c))
        .collect();
    config.researcher.cold_start_searches_per_day = budget;
    let ebay = Arc::new(CountedEbay {
        inner: ebay_of(&world, &store, &clock),
        searches: Default::default(),
    });
    let craigslist = Arc::new(craigslist_of(&world, &clock));
    let mut parts = SystemParts::without_connectors(Arc::new(config), store, index, clock);
    parts.sources = vec![ebay.clone(), craigslist];
    let system = System::start(parts).await.unwrap();
    for _ in 0..6 {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            system.quiet.wait_quiet().await;
        }
        let until = world.now() + chrono::Duration::minutes(10);
        world.run_until(until).await.unwrap();
    }
    system.quiet.wait_quiet().await;
    let store = &system.store;
    let listings = store.all::<MarketListing>().unwrap();
    let from_ebay = listings
        .iter()
        .filter(|l| l.marketplace == Marketplace::Ebay)
        .count();
    let craigslist: Vec<bazaar_memory::ListingId> = listings
        .iter()
        .filter(|l| l.marketplace == Marketplace::Craigslist)
        .map(|l| l.id)
        .collect();
    let opportunities: Vec<Opportunity> = store
        .all::<Opportunity>()
        .unwrap()
        .into_iter()
        .filter(|o| craigslist.contains(&o.listing))
        .collect();
    let valued = opportunities
        .iter()
        .filter(|o| o.valuation.as_ref().is_some_and(|v| v.comparables > 0))
        .count();
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    (
        ebay.searches.load(std::sync::atomic::Ordering::Relaxed),
        from_ebay,
        valued,
        opportunities.len(),
    )
}

/// Issue 27 (cold start): a fresh store with only Craigslist searches asks eBay for
/// comparables of what it finds — within the day's budget, never without one — and values
/// more of its listings than it could without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_store_asks_ebay_for_comparables_within_its_budget() {
    const BUDGET: u32 = 12;
    let (asked_off, from_ebay_off, valued_off, seen) = cold_start_hour(0).await;
    assert_eq!(
        (asked_off, from_ebay_off),
        (0, 0),
        "no budget, no ebay search"
    );
    let (asked, from_ebay, valued, seen_on) = cold_start_hour(BUDGET).await;
    println!(
        "cold start: {asked} ebay searches recorded {from_ebay} ebay listings; {valued} of {seen_on} craigslist listings valued against comparables (without: {valued_off} of {seen})"
    );
    assert!(
        asked > 0 && asked <= BUDGET as usize,
        "{asked} ebay searches (budget {BUDGET})"
    );
    assert!(from_ebay > 0, "comparables recorded from ebay");
    assert!(
        valued > valued_off,
        "more listings valued with comparables from ebay: {valued} against {valued_off}"
    );
}
