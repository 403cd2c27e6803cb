//! Delist-on-sale latency in the `stress` world: items cross-listed on eBay (native, the
//! sim's eBay) and Craigslist- and Facebook-style channels (assisted), then bought on eBay
//! by buyers — half one at a time, half in bursts of eight. Each sale reaches the agent as a signed notification; the
//! latency runs from the notification arriving to the last withdrawal done (eBay's listing
//! ended through the gate, an urgent task per assisted channel), as the Lister records it.
//!
//! Baseline in the same run: one bare eBay API call on loopback (an OAuth token request,
//! timed over 50), the least a delist that calls eBay can cost; the ratio shows what the
//! pipeline (verification, order lookup, the books, the gate's durable records) adds. Checks as it goes: every sale
//! measured, no oversell in the sim's ground truth, nothing left listed.
//!
//! `cargo bench -p bazaar-runtime --bench delist` (`BAZAAR_BENCH_SALES=N`, default 220).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_agents::inventory::{InventoryMsg, NewItem};
use bazaar_agents::lister::{delist_latencies, ListerMsg};
use bazaar_memory::{
    ChannelListing, ChannelStatus, IndexConfig, ItemId, Marketplace, Money, ProductIndex,
    SharedClock, SledStore, Store,
};
use bazaar_runtime::simulate::{ebay_selling, nearest_rank, notify_sales};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::scenario::Scenario;
use bazaar_sim::world::{World, WorldConfig, WorldMail};

/// Buyers paying at once.
const CONCURRENT_BUYERS: usize = 8;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` lists benchmarks; this one runs only under `cargo bench`.
        return;
    }
    if let Err(error) = run().await {
        eprintln!("delist bench: {error:#}");
        std::process::exit(1);
    }
}

/// Waits (up to 60 s) until `want` sales have their delist latency recorded.
async fn wait_for(
    store: &SledStore,
    want: usize,
) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recorded = delist_latencies(store)?;
        if recorded.len() >= want {
            return Ok(recorded);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} of {want} sales delisted after 60 s",
            recorded.len()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn percentile(sorted: &[u64], percent: usize) -> u64 {
    nearest_rank(sorted, percent).unwrap_or_default()
}

async fn run() -> anyhow::Result<()> {
    let sales: usize = std::env::var("BAZAAR_BENCH_SALES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(220);
    let dir = tempfile::tempdir()?;
    let world = World::start(WorldConfig {
        scenario: Scenario::builtin("stress"),
        seed: None,
        mail: WorldMail::InProcess,
        event_log: None,
        journal: None,
    })
    .await?;
    let endpoints = world.endpoints();
    let store = SledStore::open(&dir.path().join("store"))?;
    let clock: SharedClock = Arc::new(world.clock().clone());
    let ebay = ebay_selling(world.ebay(), &store, &clock)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut config = bazaar_config::Config::load(None, std::iter::empty())?;
    // The gate trusts the listing rules here (approvals are measured elsewhere).
    config.policy.high_value = Money::usd(10_000_000);
    config.policy.confidence.first_execution_factor = 1.0;
    config.policy.confidence.operator_away_factor = 1.0;
    // A high-volume seller: hundreds of listings go up and come down in one day.
    config.policy.limits.marketplace_revisions_per_day = 10_000;
    let system = System::start(SystemParts::with_selling(
        Arc::new(config),
        store.clone(),
        ProductIndex::in_memory(IndexConfig::default())?,
        clock,
        None,
        Some(ebay.effector),
        ebay.selling,
    ))
    .await?;
    let (_, notifications) = notify_sales(&system, ebay.orders)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;

    // Stock and cross-list.
    let started = Instant::now();
    let mut items: Vec<ItemId> = Vec::with_capacity(sales);
    for i in 0..sales {
        let new = NewItem {
            title: format!("Stress item {i}: Sony WH-1000XM4 wireless headphones"),
            condition: "good".into(),
            cost: "60".into(),
            photos: vec![format!("https://img.example/{i}.jpg")],
            price: Some("129.99".into()),
            category: Some("electronics".into()),
            attributes: [("zip", "97201"), ("phone", "503-555-0100")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..NewItem::default()
        };
        let id = system
            .addrs
            .inventory
            .ask(|reply| InventoryMsg::AddItem(Box::new(new), reply))
            .await?
            .map_err(|problems| anyhow::anyhow!("item refused: {}", problems.join("; ")))?;
        system.addrs.lister.send(ListerMsg::ListOn {
            item: id,
            channels: vec![
                Marketplace::Ebay,
                Marketplace::Craigslist,
                Marketplace::Facebook,
            ],
        })?;
        items.push(id);
    }
    system.quiet.wait_quiet().await;
    // The operator confirms the assisted listings.
    let waiting = store.with_status::<ChannelListing>(ChannelStatus::AwaitingOperator)?;
    for listing in &waiting {
        system.addrs.lister.send(ListerMsg::Confirm {
            channel_listing: listing.id,
            url: format!("https://{}.example/{}", listing.marketplace, listing.id),
        })?;
    }
    system.quiet.wait_quiet().await;
    let live = store.with_status::<ChannelListing>(ChannelStatus::Live)?;
    if live.len() != sales * 3 {
        for record in store.all::<bazaar_memory::ActionRecord>()? {
            if record.lifecycle.status != bazaar_memory::ActionStatus::Executed {
                eprintln!(
                    "{} {} {:?}",
                    record.kind.name(),
                    record.lifecycle.status,
                    record.lifecycle.last_reason()
                );
            }
        }
    }
    anyhow::ensure!(
        live.len() == sales * 3,
        "{} of {} channel listings live",
        live.len(),
        sales * 3
    );
    let listed_in = started.elapsed();

    // Baseline: a bare eBay API call on loopback.
    let baseline_ms = {
        bazaar_mail::install_crypto_provider();
        let http = reqwest::Client::new();
        let url = format!("{}/identity/v1/oauth2/token", endpoints.ebay);
        let t = Instant::now();
        for _ in 0..50 {
            http.post(&url)
                .basic_auth(
                    &endpoints.ebay_client_id,
                    Some(&endpoints.ebay_client_secret),
                )
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("scope", bazaar_sim::ebay::scopes::API),
                ])
                .send()
                .await?
                .error_for_status()?;
        }
        t.elapsed().as_secs_f64() * 1_000.0 / 50.0
    };

    // Buyers pay: first one at a time (each sale alone in the pipeline), then the rest in
    // bursts of eight (sales queue behind each other).
    let for_sale = world.ebay().agent_listings();
    let (paced, burst) = for_sale.split_at(for_sale.len() / 2);
    let mut phases = Vec::new();
    let mut measured = std::collections::BTreeMap::new();
    for (name, listings, at_once) in [
        ("one buyer at a time", paced, 1),
        ("bursts of 8 buyers", burst, CONCURRENT_BUYERS),
    ] {
        let started = Instant::now();
        let mut bought = 0usize;
        for batch in listings.chunks(at_once) {
            let buys = batch.iter().map(|listing| {
                let sim = world.ebay();
                let buyer = format!("stress_buyer_{}", listing.listing_id);
                async move { sim.buy(&listing.listing_id, &buyer).await }
            });
            bought += futures::future::join_all(buys)
                .await
                .iter()
                .filter(|r| r.is_ok())
                .count();
            if at_once == 1 {
                // Paced: the next buyer comes once this sale is delisted.
                let want = measured.len() + bought;
                wait_for(&store, want).await?;
            }
        }
        let all = wait_for(&store, measured.len() + bought).await?;
        let mut ms: Vec<u64> = all
            .iter()
            .filter(|(order, _)| !measured.contains_key(*order))
            .map(|(_, ms)| *ms)
            .collect();
        anyhow::ensure!(
            ms.len() == bought,
            "{} of {bought} sales measured",
            ms.len()
        );
        ms.sort_unstable();
        phases.push((name, bought, ms, started.elapsed()));
        measured = all;
    }
    system.quiet.wait_quiet().await;

    let bought: usize = phases.iter().map(|p| p.1).sum();
    anyhow::ensure!(bought >= 200, "only {bought} sales");
    let oversells = world.ebay().oversells().len();
    anyhow::ensure!(oversells == 0, "{oversells} oversells");
    let still_up = store
        .with_status::<ChannelListing>(ChannelStatus::Live)?
        .len();
    anyhow::ensure!(
        still_up == 0,
        "{still_up} listings still live after the sales"
    );

    let mut all: Vec<u64> = measured.into_values().collect();
    all.sort_unstable();
    println!(
        "listed {sales} items on 3 channels in {:.1} s; baseline: one bare eBay API call {baseline_ms:.2} ms",
        listed_in.as_secs_f64()
    );
    for (name, bought, ms, took) in &phases {
        let (p50, p99) = (percentile(ms, 50), percentile(ms, 99));
        println!(
            "delist latency, {name}: {bought} sales in {:.2} s, p50 {p50} ms ({:.0}x baseline), p99 {p99} ms, max {} ms",
            took.as_secs_f64(),
            p50 as f64 / baseline_ms,
            ms[ms.len() - 1]
        );
    }
    println!(
        "all {bought} sales: p50 {} ms, p99 {} ms; oversells {oversells}; listings left live {still_up}",
        percentile(&all, 50),
        percentile(&all, 99)
    );
    notifications.abort();
    system.shutdown(Duration::from_secs(10)).await?;
    world.shutdown().await?;
    Ok(())
}
