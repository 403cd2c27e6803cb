//! The DealAnalyzer's hot path with 100,000 products in memory, no network: for each
//! listing, comparables from the index (`ProductIndex::comparables`, the analyzer's k) and
//! `valuation::analyze`. Reports listings per second with the index (one thread, and two
//! threads sharing the index), `analyze` alone on precomputed comparables, and where the
//! index's time goes: the search at k against k = 1 (the difference is loading the stored
//! documents), and against the baseline in the same run, the boolean-query form
//! (`comparables_exhaustive`), which scores the same documents the same. Last, the same
//! listings through the DealAnalyzer actor (recorded in a store, sent in batches as the
//! Researcher sends them, every decision recorded and flushed), valuing one listing at a
//! time against a pool of one searcher per core (`[index] searchers`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_agents::analyzer::{AnalyzerMsg, DealAnalyzer};
use bazaar_agents::{selling::Selling, Addresses, AgentContext};
use bazaar_memory::{
    Condition, IndexConfig, ListingId, MarketListing, Marketplace, Money, ProductId, ProductIndex,
    ProductRecord, Quiescence, SellerRef, SledStore, Store, SystemClock,
};
use bazaar_strategies::valuation::{analyze, Candidate, Comp, ValuationConfig};
use chrono::{TimeZone, Utc};
use criterion::Criterion;

const PRODUCTS: usize = 100_000;
const LISTINGS: usize = 2_000;
const COMPARABLES: usize = bazaar_agents::analyzer::COMPARABLES;

/// splitmix64: deterministic variation without a random source.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Category, brands, models, and a base price in dollars per model (by index).
struct Category {
    name: &'static str,
    brands: &'static [&'static str],
    models: &'static [&'static str],
    base_dollars: i64,
}

const CATEGORIES: [Category; 6] = [
    Category {
        name: "phone",
        brands: &["apple", "samsung", "google", "motorola", "oneplus"],
        models: &[
            "iphone 11",
            "iphone 12",
            "iphone 13",
            "galaxy s21",
            "galaxy s22",
            "pixel 6",
            "pixel 7",
            "moto g",
            "nord",
            "galaxy a52",
        ],
        base_dollars: 120,
    },
    Category {
        name: "electronics",
        brands: &["sony", "bose", "nintendo", "canon", "dell", "lg", "apple"],
        models: &[
            "wh-1000xm4 headphones",
            "quietcomfort 45",
            "switch console",
            "eos rebel t7",
            "xps 13 laptop",
            "oled tv 55",
            "ipad air",
            "playstation 5",
            "macbook air",
            "soundbar",
        ],
        base_dollars: 180,
    },
    Category {
        name: "bike",
        brands: &["trek", "specialized", "giant", "cannondale", "schwinn"],
        models: &[
            "road bike",
            "mountain bike",
            "hybrid bike",
            "gravel bike",
            "cruiser",
            "bmx",
        ],
        base_dollars: 250,
    },
    Category {
        name: "furniture",
        brands: &[
            "ikea",
            "west elm",
            "pottery barn",
            "ashley",
            "herman miller",
        ],
        models: &[
            "dresser",
            "sofa",
            "dining table",
            "office chair",
            "bookshelf",
            "bed frame",
            "coffee table",
            "nightstand",
        ],
        base_dollars: 150,
    },
    Category {
        name: "clothing",
        brands: &[
            "patagonia",
            "north face",
            "levis",
            "nike",
            "lululemon",
            "arcteryx",
        ],
        models: &[
            "down jacket",
            "fleece",
            "jeans",
            "hoodie",
            "rain shell",
            "leggings",
            "vest",
        ],
        base_dollars: 60,
    },
    Category {
        name: "car",
        brands: &["toyota", "honda", "ford", "subaru", "mazda"],
        models: &[
            "corolla", "civic", "focus", "outback", "mazda3", "camry", "accord",
        ],
        base_dollars: 6_000,
    },
];

const COLORS: [&str; 8] = [
    "black", "white", "silver", "red", "blue", "green", "gray", "walnut",
];
const VARIANTS: [&str; 8] = [
    "small", "medium", "large", "xl", "64gb", "128gb", "256gb", "queen",
];
const CONDITIONS: [Condition; 5] = [
    Condition::New,
    Condition::LikeNew,
    Condition::Good,
    Condition::Fair,
    Condition::Poor,
];

/// One synthetic item: its title, category, condition and market value in cents.
struct Item {
    title: String,
    category: &'static str,
    condition: Condition,
    value_cents: i64,
}

fn item(seed: u64) -> Item {
    let h = mix(seed);
    let category = &CATEGORIES[(h % CATEGORIES.len() as u64) as usize];
    let brand_index = ((h >> 8) % category.brands.len() as u64) as usize;
    let model_index = ((h >> 16) % category.models.len() as u64) as usize;
    let title = format!(
        "{} {} {} {} {}",
        category.brands[brand_index],
        category.models[model_index],
        VARIANTS[((h >> 24) % 8) as usize],
        COLORS[((h >> 28) % 8) as usize],
        if (h >> 32).is_multiple_of(4) {
            "great shape"
        } else {
            ""
        },
    );
    // each model has its own price level: 50 %..250 % of the category's base
    let level = 50 + ((brand_index * 31 + model_index * 17) % 200) as i64;
    Item {
        title: title.trim().to_string(),
        category: category.name,
        condition: CONDITIONS[((h >> 36) % 5) as usize],
        value_cents: category.base_dollars * 100 * level / 100,
    }
}

fn products() -> Vec<ProductRecord> {
    let seen = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
    (0..PRODUCTS as u64)
        .map(|i| {
            let item = item(i);
            let h = mix(i ^ 0x5eed);
            // asking 80 %..130 % of value; a third sold at 85 %..105 %
            let asking = Money::usd(item.value_cents * (80 + (h % 51) as i64) / 100);
            let sold = (h >> 20)
                .is_multiple_of(3)
                .then(|| Money::usd(item.value_cents * (85 + ((h >> 8) % 21) as i64) / 100));
            ProductRecord {
                id: ProductId::new_at(seen),
                title: item.title,
                category: item.category.to_string(),
                condition: item.condition,
                marketplace: Marketplace::ALL[((h >> 40) % 5) as usize],
                listing: None,
                seller: None,
                asking: Some(asking),
                sold,
                price_history: Vec::new(),
                first_seen: seen,
                last_seen: seen,
            }
        })
        .collect()
}

/// A listing to analyze: an item from the same world, asking 50 %..110 % of its value.
struct Listing {
    title: String,
    category: &'static str,
    condition: Condition,
    asking: Money,
}

fn listings() -> Vec<Listing> {
    (0..LISTINGS as u64)
        .map(|i| {
            let item = item(10_000_000 + i);
            let h = mix(20_000_000 + i);
            Listing {
                title: item.title,
                category: item.category,
                condition: item.condition,
                asking: Money::usd(item.value_cents * (50 + (h % 61) as i64) / 100),
            }
        })
        .collect()
}

fn candidate(listing: &Listing) -> Candidate<'_> {
    Candidate {
        condition: listing.condition,
        ..Candidate::new(
            &listing.title,
            listing.category,
            listing.asking,
            Marketplace::Craigslist,
        )
    }
}

fn comparables(index: &ProductIndex, listing: &Listing, k: usize) -> Vec<Comp> {
    let found = index
        .comparables(
            &listing.title,
            Some(listing.category),
            Some(listing.condition),
            k,
        )
        .expect("comparables");
    Comp::from_index(&listing.title, &found)
}

/// One listing end to end: comparables through the index, then the analysis.
fn analyze_with_index(index: &ProductIndex, listing: &Listing, config: &ValuationConfig) -> bool {
    let comps = comparables(index, listing, COMPARABLES);
    let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
    analyze(&candidate(listing), &comps, config, now)
        .decision
        .is_pursue()
}

/// Listings per second over `rounds` passes through every listing (by position), on
/// `threads` threads.
fn rate(threads: usize, rounds: usize, work: impl Fn(usize) -> bool + Sync) -> f64 {
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let work = &work;
            scope.spawn(move || {
                for _ in 0..rounds {
                    for i in (t..LISTINGS).step_by(threads) {
                        black_box(work(i));
                    }
                }
            });
        }
    });
    (LISTINGS * rounds) as f64 / started.elapsed().as_secs_f64()
}

/// Listings per second through the DealAnalyzer actor with `searchers` listings valued at
/// once: each listing recorded in a fresh store, sent 100 to a message, until every one has
/// its opportunity.
async fn through_actor(index: &ProductIndex, listings: &[Listing], searchers: usize) -> f64 {
    let store = SledStore::temporary().expect("store");
    let seen = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
    let ids: Vec<ListingId> = listings
        .iter()
        .enumerate()
        .map(|(n, listing)| {
            let recorded = MarketListing {
                id: ListingId::new_at(seen),
                marketplace: Marketplace::Craigslist,
                external_id: format!("bench-{n}"),
                url: format!("https://sfbay.craigslist.org/bench/{n}.html"),
                title: listing.title.clone(),
                description: String::new(),
                price: listing.asking,
                condition: listing.condition,
                category: listing.category.to_string(),
                seller: SellerRef {
                    external_id: format!("seller-{n}"),
                    display_name: None,
                    contact_url: None,
                },
                location: None,
                images: Vec::new(),
                listed_at: None,
                first_seen: seen,
                last_seen: seen,
                raw: String::new(),
            };
            store.put(&recorded).expect("put listing");
            recorded.id
        })
        .collect();
    let mut config = bazaar_config::Config::load(None, std::iter::empty()).expect("config");
    config.index.searchers = searchers;
    let quiet = Quiescence::new();
    let addrs = Addresses::new(&quiet, 64);
    let ctx = AgentContext {
        store: store.clone(),
        index: index.clone(),
        clock: Arc::new(SystemClock),
        addrs: addrs.clone(),
        config: Arc::new(config),
        mail: None,
        llm: None,
        sources: Vec::new(),
        selling: Selling::default(),
    };
    let (actor, done) = ractor::Actor::spawn(None, DealAnalyzer, ctx)
        .await
        .expect("spawn the analyzer");
    addrs.analyzer.bind(actor.clone());
    let started = Instant::now();
    for batch in ids.chunks(100) {
        addrs
            .analyzer
            .send(AnalyzerMsg::ListingsFound(batch.to_vec()))
            .expect("send listings");
    }
    // The mailbox is FIFO: the answer comes after every batch is handled.
    addrs
        .analyzer
        .ask(AnalyzerMsg::Status)
        .await
        .expect("analyzer status");
    let elapsed = started.elapsed();
    assert_eq!(
        store.count::<bazaar_memory::Opportunity>(),
        listings.len(),
        "every listing gets its opportunity"
    );
    actor.stop(None);
    done.await.expect("analyzer stopped");
    listings.len() as f64 / elapsed.as_secs_f64()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = IndexConfig {
        batch_size: 25_000,
        writer_memory: 100_000_000,
        ..IndexConfig::default()
    };
    // the writer task is spawned on `runtime`
    let index = {
        let _inside = runtime.enter();
        ProductIndex::open(dir.path(), config).expect("index")
    };
    let products = products();
    let started = Instant::now();
    runtime.block_on(async {
        for product in &products {
            index.upsert_product(product).await.expect("upsert");
        }
        index.commit().await.expect("commit");
    });
    let indexing = started.elapsed();
    assert_eq!(index.num_docs(), PRODUCTS as u64);
    drop(products);

    let listings = listings();
    let valuation = ValuationConfig::default();
    let now = Utc.with_ymd_and_hms(2026, 3, 15, 12, 0, 0).unwrap();
    let precomputed: Vec<Vec<Comp>> = listings
        .iter()
        .map(|l| comparables(&index, l, COMPARABLES))
        .collect();
    let pursued = listings
        .iter()
        .zip(&precomputed)
        .filter(|(l, comps)| {
            analyze(&candidate(l), comps, &valuation, now)
                .decision
                .is_pursue()
        })
        .count();
    let mean_comps =
        precomputed.iter().map(Vec::len).sum::<usize>() as f64 / precomputed.len() as f64;

    // warm up, then whole passes over the listings
    let end_to_end = |i: usize| analyze_with_index(&index, &listings[i], &valuation);
    rate(1, 1, end_to_end);
    let with_index = rate(1, 3, end_to_end);
    let with_index_2 = rate(2, 3, end_to_end);
    let pure = rate(1, 50, |i| {
        analyze(&candidate(&listings[i]), &precomputed[i], &valuation, now)
            .decision
            .is_pursue()
    });
    let search_k = rate(1, 3, |i| {
        !comparables(&index, &listings[i], COMPARABLES).is_empty()
    });
    let search_exhaustive = rate(1, 3, |i| {
        let l = &listings[i];
        let found = index.comparables_exhaustive(
            &l.title,
            Some(l.category),
            Some(l.condition),
            COMPARABLES,
        );
        !found.expect("comparables").is_empty()
    });
    let search_k1 = rate(1, 3, |i| !comparables(&index, &listings[i], 1).is_empty());
    // where the search's time goes: fewer (and rarer) words, no category filter
    let first_words = |i: usize, n: usize| -> String {
        listings[i]
            .title
            .split_whitespace()
            .take(n)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let search_two_words = rate(1, 3, |i| {
        let title = first_words(i, 2);
        let found = index.comparables(&title, Some(listings[i].category), None, COMPARABLES);
        !found.expect("comparables").is_empty()
    });
    let search_no_category = rate(1, 3, |i| {
        let found = index.comparables(&listings[i].title, None, None, COMPARABLES);
        !found.expect("comparables").is_empty()
    });

    let summary = format!(
        "analyze 100k products: with index {with_index:.0} listings/s (1 thread), {with_index_2:.0} listings/s (2 threads); \
         analyze alone {pure:.0} listings/s; comparables alone k={COMPARABLES} {search_k:.0}/s, k=1 {search_k1:.0}/s, \
         boolean-query baseline k={COMPARABLES} {search_exhaustive:.0}/s ({:.1}x); \
         search variants (k={COMPARABLES}): first two words {search_two_words:.0}/s, no category filter {search_no_category:.0}/s; \
         {mean_comps:.1} comparables/listing, {pursued} of {LISTINGS} pursued; indexing {:.0} docs/s",
        search_k / search_exhaustive,
        PRODUCTS as f64 / indexing.as_secs_f64(),
    );
    println!("{summary}");

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (single, pool) = runtime.block_on(async {
        through_actor(&index, &listings, 1).await; // warm up
        let single = through_actor(&index, &listings, 1).await;
        let pool = through_actor(&index, &listings, cores).await;
        (single, pool)
    });
    let actors = format!(
        "through the DealAnalyzer actor: {single:.0} listings/s one at a time, {pool:.0} listings/s with {cores} searchers ({:.2}x)",
        pool / single
    );
    println!("{actors}");

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("analyze_100k");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    let mut next = 0usize;
    group.bench_function("with_index", |b| {
        b.iter(|| {
            next = (next + 1) % listings.len();
            black_box(analyze_with_index(&index, &listings[next], &valuation))
        })
    });
    group.bench_function("analyze_alone", |b| {
        b.iter(|| {
            next = (next + 1) % listings.len();
            black_box(analyze(
                &candidate(&listings[next]),
                &precomputed[next],
                &valuation,
                now,
            ))
        })
    });
    group.bench_function("comparables_k1", |b| {
        b.iter(|| {
            next = (next + 1) % listings.len();
            black_box(comparables(&index, &listings[next], 1))
        })
    });
    group.finish();
    criterion.final_summary();
    // repeated last so it is easy to find after criterion's report
    println!("{summary}");
    println!("{actors}");
}
