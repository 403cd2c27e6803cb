//! The daemon's memory: `bazaar run`, idle, over a store of 10,000 inventory items and
//! 100,000 products (their search index built by `bazaar reindex`), against the same daemon
//! over an empty store in the same run. Reports the resident set (`VmRSS`, what `ps`
//! shows) after it has settled and its peak (`VmHWM`), both read from `/proc`.
//!
//! `cargo bench -p bazaar-runtime --bench daemon_rss`

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bazaar_memory::store::SCHEMA_VERSION;
use bazaar_memory::{
    Condition, InventoryItem, ItemId, ItemStatus, Lifecycle, Marketplace, Money, ProductId,
    ProductRecord,
};
use chrono::{TimeZone, Utc};

const ITEMS: u64 = 10_000;
const PRODUCTS: u64 = 100_000;
/// How long the daemon idles before it is measured.
const SETTLE: Duration = Duration::from_secs(5);

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let work = tempfile::tempdir().expect("tempdir");
    let config = work.path().join("bazaar.toml");
    std::fs::write(&config, "").expect("write the configuration");

    let empty = work.path().join("empty");
    let (empty_rss, empty_peak) = idle_memory(&config, &empty);

    let full = work.path().join("full");
    let started = Instant::now();
    let export = work.path().join("export.jsonl");
    write_export(&export);
    bazaar(&config, &full, &["import", "--input", path(&export)]);
    bazaar(&config, &full, &["reindex"]);
    let built = started.elapsed();
    let (rss, peak) = idle_memory(&config, &full);

    let mb = |kb: u64| kb as f64 / 1024.0;
    println!(
        "bazaar run, idle: empty store {:.1} MB resident (peak {:.1} MB); \
         {ITEMS} items and {PRODUCTS} products {:.1} MB resident (peak {:.1} MB), {:.2}x \
         the empty store (target 150 MB); store and index built in {built:.1?}, {:.1} MB on disk",
        mb(empty_rss),
        mb(empty_peak),
        mb(rss),
        mb(peak),
        rss as f64 / empty_rss as f64,
        size_on_disk(&full) as f64 / 1e6,
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temporary path")
}

/// Runs a `bazaar` command to completion on `data`.
fn bazaar(config: &Path, data: &Path, args: &[&str]) {
    let out = Command::new(BAZAAR)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run bazaar");
    assert!(
        out.status.success(),
        "bazaar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `bazaar run` on `data`, lets it idle, and reads its resident set and peak in KB.
fn idle_memory(config: &Path, data: &Path) -> (u64, u64) {
    let mut child = Command::new(BAZAAR)
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data)
        .arg("run")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bazaar run");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut lines = stderr.lines();
    let mut log = String::new();
    loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("bazaar run ended before it ran:\n{log}"))
            .expect("read the log");
        log.push_str(&line);
        log.push('\n');
        if line.contains("bazaar is running") {
            break;
        }
    }
    // Keep reading the log so the daemon never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    std::thread::sleep(SETTLE);
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))
        .expect("read /proc/PID/status");
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/PID/status"))
    };
    let (rss, peak) = (field("VmRSS:"), field("VmHWM:"));
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let exit = child.wait().expect("wait for bazaar run");
    assert!(exit.success(), "bazaar run stopped with {exit}");
    drain.join().expect("log reader");
    (rss, peak)
}

/// splitmix64: deterministic variation without a random source.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const KINDS: [(&str, &str, i64); 6] = [
    ("electronics", "Sony WH-1000XM4 headphones", 180),
    ("furniture", "Herman Miller Aeron chair size B", 450),
    ("bikes", "Trek FX 3 hybrid bike 17.5 in", 520),
    ("tools", "DeWalt 20V drill driver kit", 95),
    ("phones", "Apple iPhone 12 64GB unlocked", 260),
    ("music", "Fender Player Stratocaster electric guitar", 610),
];
const CONDITIONS: [Condition; 4] = [
    Condition::New,
    Condition::LikeNew,
    Condition::Good,
    Condition::Fair,
];

/// A `bazaar export` file of the items and products.
fn write_export(file: &Path) {
    let seen = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).expect("create export"));
    writeln!(
        out,
        "{}",
        serde_json::json!({ "bazaar_export": 1, "schema_version": SCHEMA_VERSION })
    )
    .unwrap();
    let mut line = |kind: &str, record: serde_json::Value| {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "kind": kind, "record": record })
        )
        .unwrap();
    };
    for n in 0..ITEMS {
        let h = mix(n);
        let (category, title, dollars) = KINDS[(h % 6) as usize];
        let mut lifecycle = Lifecycle::new(ItemStatus::Draft);
        lifecycle
            .advance(ItemStatus::InStock, seen, "picked up")
            .unwrap();
        let item = InventoryItem {
            id: ItemId::new_at(seen + chrono::Duration::milliseconds(n as i64)),
            opportunity: None,
            title: format!("{title} #{n}"),
            description: "works as it should; light wear, photos show all sides".into(),
            category: category.into(),
            condition: CONDITIONS[((h >> 8) % 4) as usize],
            cost_basis: Money::usd(dollars * 60 + (h >> 16) as i64 % 5_000),
            images: vec![format!("file:///photos/{n}-1.jpg")],
            attributes: BTreeMap::from([("model".to_string(), title.to_string())]),
            lifecycle,
            acquired_at: seen,
            source: Default::default(),
            selling: Default::default(),
        };
        line("item", serde_json::to_value(&item).unwrap());
    }
    for n in 0..PRODUCTS {
        let h = mix(1_000_000 + n);
        let (category, title, dollars) = KINDS[(h % 6) as usize];
        let asking = Money::usd(dollars * 100 * (70 + (h >> 8) as i64 % 61) / 100);
        let product = ProductRecord {
            id: ProductId::new_at(seen + chrono::Duration::milliseconds(n as i64)),
            title: format!("{title} m{:04}", (h >> 16) % 10_000),
            category: category.into(),
            condition: CONDITIONS[((h >> 32) % 4) as usize],
            marketplace: Marketplace::ALL[((h >> 40) % 5) as usize],
            listing: None,
            seller: None,
            asking: Some(asking),
            sold: (h >> 48)
                .is_multiple_of(3)
                .then(|| Money::usd(asking.minor * 9 / 10)),
            price_history: Vec::new(),
            first_seen: seen,
            last_seen: seen,
        };
        line("product", serde_json::to_value(&product).unwrap());
    }
    out.flush().unwrap();
}

/// Bytes under `dir`.
fn size_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read a directory")
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
