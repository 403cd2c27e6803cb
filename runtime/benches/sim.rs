//! The README's main command, timed: `bazaar sim` on the `default` scenario (30 simulated
//! days, the whole agent), with where its wall time goes (`timing.json`: the agent, the
//! world, index commits, set-up, the books and the report), with and without the browser.
//! Baseline in the same run: the same world and seed played alone, with no agent — what
//! the population costs by itself. Then how cost grows: `small`, `default` and `stress`
//! (with the browser), each as time per simulated listing.
//!
//! `cargo bench -p bazaar-runtime --bench sim` (`BAZAAR_BENCH_DAYS=N` for shorter runs).

use std::time::Instant;

use bazaar_runtime::simulate::{run_sim, SimConfig};
use bazaar_sim::scenario::Scenario;
use bazaar_sim::world::{World, WorldConfig, WorldMail};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Err(error) = run().await {
        eprintln!("sim bench: {error:#}");
        std::process::exit(1);
    }
}

/// A built-in scenario, shortened to `days` when given.
fn scenario(name: &str, days: Option<u32>) -> Scenario {
    let mut scenario = Scenario::builtin(name);
    if let Some(days) = days {
        scenario.days = days;
    }
    scenario
}

/// Seconds the world takes alone, with no agent.
async fn world_alone(scenario: Scenario) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut world = World::start(WorldConfig {
        scenario,
        seed: None,
        mail: WorldMail::InProcess,
        event_log: None,
        journal: None,
    })
    .await?;
    let end = world.end();
    world.run_until(end).await?;
    world.shutdown().await?;
    Ok(started.elapsed().as_secs_f64())
}

/// Seconds `bazaar sim` takes on a scenario, and its `timing.json`.
async fn whole_run(
    name: &str,
    days: Option<u32>,
    browser: bool,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let started = Instant::now();
    run_sim(
        SimConfig {
            scenario: name.into(),
            days,
            seed: None,
            out: out.clone(),
            data_dir: None,
            strategy: bazaar_config::StrategyProfile::Ours,
            compare: false,
            operator: Default::default(),
            browser,
            config_file: None,
        },
        &mut std::io::sink(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let whole = started.elapsed().as_secs_f64();
    let timing = serde_json::from_str(&std::fs::read_to_string(out.join("timing.json"))?)?;
    Ok((whole, timing))
}

fn shares(whole: f64, timing: &serde_json::Value) -> String {
    let share = |key: &str| {
        let s = timing[key].as_f64().unwrap_or(0.0);
        format!("{s:.1} s ({:.0} %)", 100.0 * s / whole)
    };
    format!(
        "agent {} (of which the browser {}, {} items read), world {}, index commits {}, \
         store syncs {}, set-up {}, books and report {}",
        share("agent_s"),
        share("browser_s"),
        timing["browser_items_read"],
        share("world_s"),
        share("index_s"),
        share("store_sync_s"),
        share("setup_s"),
        share("report_s"),
    )
}

async fn run() -> anyhow::Result<()> {
    let days: Option<u32> = std::env::var("BAZAAR_BENCH_DAYS")
        .ok()
        .and_then(|d| d.parse().ok());

    let simulated = scenario("default", days).days;
    let alone = world_alone(scenario("default", days)).await?;
    let (with_browser, timing) = whole_run("default", days, true).await?;
    let (without_browser, timing_without) = whole_run("default", days, false).await?;
    println!(
        "bazaar sim, default scenario, {simulated} simulated days: {with_browser:.1} s wall \
         with the browser ({:.0}x the world alone, {alone:.2} s), {without_browser:.1} s \
         without ({:.0}x)",
        with_browser / alone.max(1e-9),
        without_browser / alone.max(1e-9),
    );
    println!("  with the browser: {}", shares(with_browser, &timing));
    println!("  without: {}", shares(without_browser, &timing_without));

    // How cost grows with the world: time per listing the world posts.
    for name in ["small", "default", "stress"] {
        let world = scenario(name, days);
        let listings = world.sellers.craigslist + world.sellers.marketplace + world.sellers.ebay;
        let alone = world_alone(world.clone()).await?;
        let (whole, _) = whole_run(name, days, true).await?;
        println!(
            "  {name}: {listings} listings over {} days, {whole:.1} s ({:.2} ms per listing; \
             the world alone {:.3} ms per listing)",
            world.days,
            1e3 * whole / listings as f64,
            1e3 * alone / listings as f64,
        );
    }
    Ok(())
}
