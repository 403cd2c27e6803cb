//! The Researcher's paging against the sim's Craigslist-style site: a saved search that asks
//! for the newest first stops at the first listing an earlier run saw, so a run after the
//! first reads one page, not every page again; a search in the site's own order pages on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::connectors::craigslist::{Craigslist, CraigslistSettings};
use bazaar_agents::connectors::polite::PoliteConfig;
use bazaar_agents::connectors::{SearchPage, SearchQuery, Source, SourceAlert, SourceFuture};
use bazaar_config::Config;
use bazaar_memory::{
    IndexConfig, MarketListing, Marketplace, Money, ProductIndex, SharedClock, SimClock, SledStore,
    Store,
};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::sites::{ListingGenerator, Site, SiteListing, Sites, SitesConfig};

/// The real Craigslist connector, counting the searches (pages) asked of it.
struct Counted {
    inner: Craigslist,
    searches: AtomicUsize,
}

impl Source for Counted {
    fn marketplace(&self) -> Marketplace {
        self.inner.marketplace()
    }
    fn search<'a>(&'a self, query: &'a SearchQuery) -> SourceFuture<'a, SearchPage> {
        self.searches.fetch_add(1, Ordering::Relaxed);
        Source::search(&self.inner, query)
    }
    fn fetch<'a>(&'a self, external_id: &'a str) -> SourceFuture<'a, MarketListing> {
        Source::fetch(&self.inner, external_id)
    }
    fn take_alerts(&self) -> Vec<SourceAlert> {
        self.inner.take_alerts()
    }
    fn resume(&self) {
        self.inner.resume()
    }
}

/// What three hourly runs of one saved search did.
struct Runs {
    /// Pages read per run.
    pages: Vec<usize>,
    /// The listings recorded at the end.
    recorded: Vec<MarketListing>,
    /// The site's id of the listing whose price dropped before the third run.
    repriced: String,
}

/// Pages read by one run of each saved search per hour, over three hours, with two listings
/// posted before the second hour and one price dropped before the third.
async fn pages_per_run(newest_first: bool) -> Runs {
    let start = "2026-03-02T08:00:00Z".parse().unwrap();
    let clock = SimClock::new(start);
    let shared: SharedClock = Arc::new(clock.clone());
    let mut generator = ListingGenerator::new(5, Site::Craigslist);
    generator.count = 20;
    // What the site shows in a search of everything for sale: no housing.
    let mut listings: Vec<SiteListing> = generator.generate(start);
    listings.retain(|l| !l.category.is_housing());
    listings.truncate(14);
    assert_eq!(listings.len(), 14);
    // Two of them are posted later, between the first and the second run.
    let later: Vec<SiteListing> = listings.drain(..2).collect();
    let repriced = listings[listings.len() - 1].clone();
    let config = SitesConfig {
        craigslist_page_size: 5,
        ..SitesConfig::default()
    };
    let (sites, _) = Sites::start_with(config, listings, shared.clone())
        .await
        .unwrap();
    let mut settings = CraigslistSettings::new(sites.base_url());
    settings.postings_per_search = 5;
    let source = Arc::new(Counted {
        inner: Craigslist::new(settings, PoliteConfig::simulated(), shared.clone()).unwrap(),
        searches: AtomicUsize::new(0),
    });
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.researcher.searches = vec![toml::from_str(&format!(
        "marketplace = \"craigslist\"\nquery = \"\"\nevery_minutes = 60\nnewest_first = {newest_first}\n"
    ))
    .unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    let mut parts = SystemParts::without_connectors(Arc::new(config), store, index, shared);
    parts.sources = vec![source.clone() as Arc<dyn Source>];
    let system = System::start(parts).await.unwrap();

    let settle = || async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            system.quiet.wait_quiet().await;
        }
    };
    let mut runs = Vec::new();
    let mut before = 0;
    for hour in 0..3 {
        if hour == 1 {
            for mut listing in later.clone() {
                listing.posted_at = bazaar_memory::Clock::now(&clock);
                sites.add(listing).unwrap();
            }
        }
        if hour == 2 {
            let lower = Money::new(repriced.price.minor - 5_00, repriced.price.currency);
            assert!(sites.set_price(repriced.id, lower));
        }
        // Past the first run's start-up stagger and the schedule's jitter, one run an hour.
        for _ in 0..6 {
            clock.advance_by(Duration::from_secs(600));
            settle().await;
        }
        let searches = source.searches.load(Ordering::Relaxed);
        runs.push(searches - before);
        before = searches;
    }
    let recorded = system.store.all::<MarketListing>().unwrap();
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    sites.stop().await;
    Runs {
        pages: runs,
        recorded,
        repriced: repriced.id.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newest_first_search_stops_at_the_first_listing_seen_before() {
    // 12 listings in pages of 5: the first run reads all three pages; then two new listings
    // fill the first page with three seen before, and the run stops there; a run with
    // nothing new reads one page.
    let runs = pages_per_run(true).await;
    assert_eq!(runs.pages, vec![3, 1, 1]);
    assert_eq!(runs.recorded.len(), 14, "every listing was recorded");

    // In the site's own order every run pages on (up to three pages).
    let runs = pages_per_run(false).await;
    assert_eq!(runs.pages, vec![3, 3, 3]);
    assert_eq!(runs.recorded.len(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_seen_again_unchanged_is_not_rewritten_and_a_price_drop_is() {
    // Every run reads every page, so each listing is seen up to three times in two hours.
    let runs = pages_per_run(false).await;
    let (repriced, unchanged): (Vec<_>, Vec<_>) = runs
        .recorded
        .iter()
        .partition(|l| l.external_id == runs.repriced);
    assert_eq!(repriced.len(), 1, "{:?}", runs.repriced);
    let repriced = repriced[0];
    assert!(
        repriced.last_seen > repriced.first_seen,
        "the new price was written: {repriced:?}"
    );
    assert_eq!(unchanged.len(), 13);
    for listing in unchanged {
        assert_eq!(
            listing.last_seen, listing.first_seen,
            "seen again within a day and unchanged: not rewritten ({})",
            listing.external_id
        );
    }
}
