//! Comparables at scale: indexes of 100k and 1M products on disk, built from the fixture
//! titles with deterministic variations. For each, the indexing rate, the index's size on
//! disk, criterion's mean query latency, and p50/p99 over 2000 mixed queries for
//! `comparables` (pruned) and, in the same run, `comparables_exhaustive` (every matching
//! document scored), and how often the two agree. The 100k index is the baseline the 1M
//! one is reported against.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bazaar_memory::{
    Condition, IndexConfig, Marketplace, Money, ProductId, ProductIndex, ProductRecord,
};
use chrono::{TimeZone, Utc};
use criterion::Criterion;
use serde::Deserialize;
use ulid::Ulid;

const QUERIES: usize = 2_000;

#[derive(Deserialize)]
struct CatalogLine {
    category: String,
    title: String,
    listing_price: i64,
}

fn catalog() -> Vec<CatalogLine> {
    include_str!("../tests/fixtures/catalog.jsonl")
        .lines()
        .map(|line| serde_json::from_str(line).expect("fixture line"))
        .collect()
}

/// splitmix64: deterministic variation without a random source.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const COLORS: [&str; 10] = [
    "black", "white", "silver", "red", "blue", "green", "gray", "gold", "walnut", "oak",
];
const SIZES: [&str; 8] = [
    "small", "medium", "large", "xl", "32gb", "64gb", "128gb", "queen",
];
const CONDITIONS: [Condition; 5] = [
    Condition::New,
    Condition::LikeNew,
    Condition::Good,
    Condition::Fair,
    Condition::Poor,
];

/// Product `i` of the synthetic market (made one at a time: a million held at once would
/// be the bench's largest memory).
fn product(catalog: &[CatalogLine], i: usize) -> ProductRecord {
    let seen = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
    {
        {
            let base = &catalog[i % catalog.len()];
            let h = mix(i as u64);
            let title = format!(
                "{} {} {} m{:04}",
                base.title,
                COLORS[(h % 10) as usize],
                SIZES[((h >> 8) % 8) as usize],
                (h >> 16) % 10_000
            );
            // 70 %..130 % of the listed price, in cents
            let asking =
                Money::usd(base.listing_price * 100 * (70 + ((h >> 32) % 61) as i64) / 100);
            ProductRecord {
                id: ProductId(Ulid::from_parts(
                    1_773_489_600_000 + i as u64,
                    u128::from(h),
                )),
                title,
                category: base.category.clone(),
                condition: CONDITIONS[((h >> 40) % 5) as usize],
                marketplace: Marketplace::Craigslist,
                listing: None,
                seller: None,
                asking: Some(asking),
                sold: (h >> 48)
                    .is_multiple_of(3)
                    .then(|| Money::usd(asking.minor * 9 / 10)),
                price_history: Vec::new(),
                first_seen: seen,
                last_seen: seen,
            }
        }
    }
}

/// A query as the valuer asks it: some words of a real title, maybe a color, in its
/// category most of the time, with a condition some of the time.
struct Query {
    title: String,
    category: Option<String>,
    condition: Option<Condition>,
}

fn queries(catalog: &[CatalogLine]) -> Vec<Query> {
    (0..QUERIES)
        .map(|q| {
            let h = mix(1_000_000 + q as u64);
            let base = &catalog[(h % catalog.len() as u64) as usize];
            let words: Vec<&str> = base.title.split_whitespace().collect();
            let take = 2 + ((h >> 8) % 3) as usize;
            let start = ((h >> 12) as usize) % words.len().saturating_sub(take).max(1);
            let mut title = words
                .iter()
                .skip(start)
                .take(take)
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            if (h >> 20).is_multiple_of(4) {
                title.push(' ');
                title.push_str(COLORS[((h >> 24) % 10) as usize]);
            }
            Query {
                title,
                category: (!(h >> 28).is_multiple_of(5)).then(|| base.category.clone()),
                condition: (h >> 32)
                    .is_multiple_of(3)
                    .then(|| CONDITIONS[((h >> 36) % 5) as usize]),
            }
        })
        .collect()
}

fn run(index: &ProductIndex, query: &Query) -> usize {
    index
        .comparables(&query.title, query.category.as_deref(), query.condition, 20)
        .expect("comparables")
        .len()
}

fn run_exhaustive(index: &ProductIndex, query: &Query) -> usize {
    index
        .comparables_exhaustive(&query.title, query.category.as_deref(), query.condition, 20)
        .expect("comparables")
        .len()
}

/// p50, p99 and max of one pass over the queries, each timed on its own, in µs.
fn latencies(queries: &[Query], mut run: impl FnMut(&Query) -> usize) -> (f64, f64, f64) {
    let mut latencies: Vec<Duration> = queries
        .iter()
        .map(|query| {
            let started = Instant::now();
            black_box(run(query));
            started.elapsed()
        })
        .collect();
    latencies.sort();
    let percentile = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    (
        micros(percentile(50)),
        micros(percentile(99)),
        micros(*latencies.last().unwrap()),
    )
}

/// Queries whose pruned and exhaustive results have the same scores at every rank (up to
/// float rounding), and of those, the ones with the same documents too (the others differ
/// only among documents tied on the last score).
fn agreement(index: &ProductIndex, queries: &[Query]) -> (usize, usize) {
    let mut same_scores = 0;
    let mut same_documents = 0;
    for query in queries {
        let (title, category) = (&query.title, query.category.as_deref());
        let fast = index
            .comparables(title, category, query.condition, 20)
            .unwrap();
        let exhaustive = index
            .comparables_exhaustive(title, category, query.condition, 20)
            .unwrap();
        let scores = fast.len() == exhaustive.len()
            && fast
                .iter()
                .zip(&exhaustive)
                .all(|(f, e)| (f.score - e.score).abs() <= 1e-5 * e.score.abs().max(1.0));
        if scores {
            same_scores += 1;
            let ids = |hits: &[bazaar_memory::Comparable]| {
                let mut ids: Vec<String> = hits.iter().map(|h| h.product_id.clone()).collect();
                ids.sort();
                ids
            };
            if ids(&fast) == ids(&exhaustive) {
                same_documents += 1;
            }
        }
    }
    (same_scores, same_documents)
}

/// Bytes under `dir`.
fn size_on_disk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read the index directory")
        .flatten()
        .map(|entry| {
            let meta = entry.metadata().expect("file metadata");
            if meta.is_dir() {
                size_on_disk(&entry.path())
            } else {
                meta.len()
            }
        })
        .sum()
}

/// Builds an index of `products` on disk, measures it, and runs criterion's group on it;
/// returns the summary line and the pruned query's p99 in µs.
fn measure(
    runtime: &tokio::runtime::Runtime,
    criterion: &mut Criterion,
    catalog: &[CatalogLine],
    queries: &[Query],
    products: usize,
    name: &str,
) -> (String, f64) {
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
    let started = Instant::now();
    runtime.block_on(async {
        for i in 0..products {
            index
                .upsert_product(&product(catalog, i))
                .await
                .expect("upsert");
        }
        index.commit().await.expect("commit");
    });
    let indexing = started.elapsed();
    assert_eq!(index.num_docs(), products as u64);
    let docs_per_sec = products as f64 / indexing.as_secs_f64();
    let bytes = size_on_disk(dir.path());

    // warm up, then time each query on its own
    let mut hits = 0;
    for query in queries {
        hits += run(&index, query);
        black_box(run_exhaustive(&index, query));
    }
    let (p50, p99, max) = latencies(queries, |query| run(&index, query));
    let (e50, e99, emax) = latencies(queries, |query| run_exhaustive(&index, query));
    let (same_scores, same_documents) = agreement(&index, queries);
    let line = format!(
        "comparables {name}: p50={p50:.0} µs p99={p99:.0} µs max={max:.0} µs over {QUERIES} queries ({:.1} hits/query); \
         exhaustive p50={e50:.0} µs p99={e99:.0} µs max={emax:.0} µs; \
         same scores {same_scores}/{QUERIES}, same documents {same_documents}/{QUERIES}; \
         indexing {docs_per_sec:.0} docs/s ({products} docs in {indexing:.2?}); {:.1} MB on disk ({:.0} bytes/product)",
        hits as f64 / QUERIES as f64,
        bytes as f64 / 1e6,
        bytes as f64 / products as f64,
    );
    println!("{line}");

    let mut group = criterion.benchmark_group(format!("comparables_{name}"));
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    let mut next = 0usize;
    group.bench_function("mixed_query", |b| {
        b.iter(|| {
            next = (next + 1) % queries.len();
            black_box(run(&index, &queries[next]))
        })
    });
    group.bench_function("mixed_query_exhaustive", |b| {
        b.iter(|| {
            next = (next + 1) % queries.len();
            black_box(run_exhaustive(&index, &queries[next]))
        })
    });
    group.finish();
    (line, p99)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let catalog = catalog();
    let queries = queries(&catalog);
    let mut criterion = Criterion::default().configure_from_args();
    let (small, small_p99) = measure(
        &runtime,
        &mut criterion,
        &catalog,
        &queries,
        100_000,
        "100k",
    );
    let (large, large_p99) = measure(
        &runtime,
        &mut criterion,
        &catalog,
        &queries,
        1_000_000,
        "1M",
    );
    criterion.final_summary();
    // repeated last so they are easy to find after criterion's report
    println!("{small}");
    println!("{large}");
    println!(
        "comparables p99, 1M against 100k: {:.2}x ({large_p99:.0} µs against {small_p99:.0} µs)",
        large_p99 / small_p99
    );
}
