//! Simulated days per wall-clock second with an idle agent: the `default` scenario against a
//! baseline in the same run — the same scenario with nobody selling (only the clock, the
//! daily demand ticks and the servers), so the ratio is what the population costs.
//! Criterion's throughput line (elem/s) is days per second.

use std::time::{Duration, Instant};

use bazaar_sim::scenario::Scenario;
use bazaar_sim::world::{World, WorldConfig};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn empty(mut scenario: Scenario) -> Scenario {
    scenario.sellers.craigslist = 0;
    scenario.sellers.marketplace = 0;
    scenario.sellers.ebay = 0;
    scenario
}

async fn run(scenario: &Scenario, iterations: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let mut world = World::start(WorldConfig::new(scenario.clone()))
            .await
            .expect("world starts");
        let started = Instant::now();
        world.run_to_end().await.expect("world runs");
        total += started.elapsed();
        world.shutdown().await.expect("world stops");
    }
    total
}

fn days_per_second(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let default = Scenario::builtin("default");
    let mut group = c.benchmark_group("world_days");
    group.throughput(Throughput::Elements(u64::from(default.days)));
    group.sample_size(10);
    for (name, scenario) in [
        ("empty_baseline", empty(default.clone())),
        ("default", default),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let scenario = scenario.clone();
                async move { run(&scenario, iterations).await }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, days_per_second);
criterion_main!(benches);
