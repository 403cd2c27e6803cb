//! The README's main command, timed: `bazaar sim` on the `default` scenario (30 simulated
//! days, the whole agent), with where its wall time goes (`timing.json`: the agent, the
//! world, index commits, set-up, the books and the report). Baseline in the same run: the
//! same world and seed played alone, with no agent — what the population costs by itself.
//!
//! `cargo bench -p bazaar-runtime --bench sim` (`BAZAAR_BENCH_DAYS=N` for a shorter run).

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

async fn run() -> anyhow::Result<()> {
    let days: Option<u32> = std::env::var("BAZAAR_BENCH_DAYS")
        .ok()
        .and_then(|d| d.parse().ok());
    let dir = tempfile::tempdir()?;

    // Baseline: the world alone.
    let mut scenario = Scenario::builtin("default");
    if let Some(days) = days {
        scenario.days = days;
    }
    let simulated = scenario.days;
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
    let alone = started.elapsed().as_secs_f64();

    // The README's main command.
    let out = dir.path().join("out");
    let started = Instant::now();
    run_sim(
        SimConfig {
            scenario: "default".into(),
            days,
            seed: None,
            out: out.clone(),
            data_dir: None,
            strategy: bazaar_config::StrategyProfile::Ours,
            compare: false,
            operator: Default::default(),
            browser: true,
            config_file: None,
        },
        &mut std::io::sink(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let whole = started.elapsed().as_secs_f64();
    let timing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("timing.json"))?)?;
    let share = |key: &str| {
        let s = timing[key].as_f64().unwrap_or(0.0);
        format!("{s:.1} s ({:.0} %)", 100.0 * s / whole)
    };
    println!(
        "bazaar sim, default scenario, {simulated} simulated days: {whole:.1} s wall \
         (target 60 s); the world alone {alone:.2} s — {:.0}x",
        whole / alone.max(1e-9)
    );
    println!(
        "  agent {} (of which the browser {}, {} items read), world {}, index commits {}, \
         store syncs {}, set-up {}, books and report {}",
        share("agent_s"),
        share("browser_s"),
        timing["browser_items_read"],
        share("world_s"),
        share("index_s"),
        share("store_sync_s"),
        share("setup_s"),
        share("report_s"),
    );
    Ok(())
}
