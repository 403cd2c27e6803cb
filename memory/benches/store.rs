//! Durable write throughput: `put` + `flush` in batches of 1, 10 and 100 puts per flush,
//! against a baseline of raw sled `insert` + `flush_async` of the same bytes, on disk (not
//! /dev/shm), so the store's overhead over sled is a ratio of the two.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bazaar_memory::store::StoreKey;
use bazaar_memory::{
    ItemId, Money, Record, SledStore, Store, Transaction, TransactionId, TransactionKind,
};
use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, Throughput};
use ulid::Ulid;

const BATCHES: [u64; 3] = [1, 10, 100];

/// A transaction with one secondary index entry, its fields derived from `n`.
fn record(n: u64) -> Transaction {
    Transaction {
        id: TransactionId(Ulid::from_parts(1_773_489_600_000 + n, u128::from(n))),
        kind: TransactionKind::Sale,
        amount: Money::usd((n % 100_000) as i64 + 1),
        item: Some(ItemId(Ulid::from_parts(
            1_773_489_600_000,
            u128::from(n % 64),
        ))),
        order: None,
        at: Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap(),
        memo: format!("bench sale {n}"),
    }
}

/// The two ways of writing a batch durably.
struct Writers {
    runtime: tokio::runtime::Runtime,
    store: SledStore,
    raw: sled::Db,
    raw_tree: sled::Tree,
    _dir: tempfile::TempDir,
}

impl Writers {
    fn new() -> Writers {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(&dir.path().join("store")).expect("open store");
        let raw = sled::open(dir.path().join("raw")).expect("open raw sled");
        let raw_tree = raw.open_tree(Transaction::TREE).expect("raw tree");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Writers {
            runtime,
            store,
            raw,
            raw_tree,
            _dir: dir,
        }
    }

    fn store_batch(&self, first: u64, batch: u64) {
        for n in first..first + batch {
            self.store.put(&record(n)).expect("put");
        }
        self.runtime.block_on(self.store.flush()).expect("flush");
    }

    fn raw_batch(&self, first: u64, batch: u64) {
        for n in first..first + batch {
            let record = record(n);
            let bytes = serde_json::to_vec(&record).expect("encode");
            self.raw_tree
                .insert(record.key().key_bytes(), bytes)
                .expect("insert");
        }
        self.runtime
            .block_on(self.raw.flush_async())
            .expect("flush");
    }
}

fn put_flush(c: &mut Criterion) {
    let writers = Writers::new();
    let mut next_store = 0u64;
    let mut next_raw = 0u64;
    let mut group = c.benchmark_group("put_flush");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(4));
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch));
        group.bench_with_input(BenchmarkId::new("store", batch), &batch, |b, &batch| {
            b.iter(|| {
                writers.store_batch(next_store, batch);
                next_store += batch;
            })
        });
        group.bench_with_input(BenchmarkId::new("raw_sled", batch), &batch, |b, &batch| {
            b.iter(|| {
                writers.raw_batch(next_raw, batch);
                next_raw += batch;
            })
        });
    }
    group.finish();
    black_box((next_store, next_raw));
}

/// A plain timed run of each configuration, printed as one line per batch size with the
/// store/raw ratio, so the comparison does not need criterion's report.
fn summary() {
    let writers = Writers::new();
    for (round, batch) in BATCHES.into_iter().enumerate() {
        // keys never repeat: each configuration writes its own range
        let first = 1_000_000_000 * (round as u64 + 1);
        let rate = |write: &dyn Fn(u64)| {
            let started = Instant::now();
            let mut written = 0u64;
            while started.elapsed() < Duration::from_millis(1_500) {
                write(first + written);
                written += batch;
            }
            written as f64 / started.elapsed().as_secs_f64()
        };
        let store = rate(&|first| writers.store_batch(first, batch));
        let raw = rate(&|first| writers.raw_batch(first, batch));
        println!(
            "put+flush batch={batch:>3}: store {store:>9.0} puts/s, raw sled {raw:>9.0} puts/s, store/raw = {:.2}",
            store / raw
        );
    }
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    put_flush(&mut criterion);
    criterion.final_summary();
    summary();
}
