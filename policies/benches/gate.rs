//! Gated actions per second and decision latency (p50/p99), including the durable audit
//! write, against an ungated baseline (the effector called directly) in the same run.
//! The store lives on disk, not in memory, so every flush is a real one. Each concurrency
//! runs twice: on an idle disk, and on a busy one (a second process writing and fsyncing a
//! file on the same disk in a loop, as a backup or another database would).
//!
//! `cargo bench -p bazaar-policies --bench gate`

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_memory::{ActionKind, ActionRecord, Addr, Quiescence, SledStore, SystemClock};
use bazaar_policies::effector::BoxFuture;
use bazaar_policies::{
    Action, Effect, EffectError, Effector, GateMsg, Lookup, Outcome, PolicyGate, PolicyGateArgs,
};
use ractor::Actor;

const ACTIONS: usize = 20_000;

/// An outside world that answers at once.
struct Instant0;

impl Effector for Instant0 {
    fn execute<'a>(
        &'a self,
        _action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async {
            Ok(Effect {
                result: serde_json::json!({ "ok": true }),
                undo_params: Some(serde_json::json!({ "price": "$10.00" })),
                ..Effect::default()
            })
        })
    }

    fn lookup<'a>(&'a self, _action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async { Lookup::NotDone })
    }
}

fn action(n: usize, run: &str) -> Action {
    Action {
        kind: ActionKind::RevisePrice,
        target: format!("SKU-{n}"),
        params: serde_json::json!({ "price": "$10.00" }),
        proposer: "bench".into(),
        rule: "bench".into(),
        value: Some(bazaar_memory::Money::usd(1_000)),
        marketplace: None,
        pattern_match: 1.0,
        idempotency_key: format!("{run}-{n}"),
        about: None,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn gated(concurrency: usize, run: &str) -> (f64, Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut policy = bazaar_config::Config::load(None, std::iter::empty())
        .unwrap()
        .policy;
    policy.confidence.first_execution_factor = 1.0;
    policy.confidence.operator_away_factor = 1.0;
    policy.limits.revise_price_per_day = u32::MAX;
    let quiet = Quiescence::new();
    let addr: Addr<GateMsg> = Addr::new("policy_gate", quiet.clone(), 64);
    let (events, _) = tokio::sync::broadcast::channel(16);
    let args = PolicyGateArgs {
        store,
        clock: Arc::new(SystemClock),
        config: Arc::new(policy),
        effector: Arc::new(Instant0),
        events,
        addr: addr.clone(),
    };
    let (actor, done) = Actor::spawn(None, PolicyGate, args).await.unwrap();
    addr.bind(actor.clone());
    let per_task = ACTIONS / concurrency;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let addr = addr.clone();
        let run = run.to_string();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for i in 0..per_task {
                let proposal = action(t * per_task + i, &run);
                let asked = Instant::now();
                let outcome = addr
                    .ask(|reply| GateMsg::Propose(proposal, reply))
                    .await
                    .unwrap();
                latencies.push(asked.elapsed());
                assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome:?}");
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(ACTIONS);
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed();
    actor.stop(None);
    done.await.unwrap();
    latencies.sort();
    (
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
    )
}

async fn ungated() -> f64 {
    let effector = Instant0;
    let now = chrono::Utc::now();
    let record = ActionRecord {
        id: bazaar_memory::ActionId::new_at(now),
        kind: ActionKind::RevisePrice,
        target: "SKU".into(),
        params: serde_json::json!({}),
        proposer: "bench".into(),
        rule: "bench".into(),
        value: None,
        marketplace: None,
        idempotency_key: "k".into(),
        about: None,
        confidence: None,
        lifecycle: bazaar_memory::Lifecycle::new(bazaar_memory::ActionStatus::Executing),
        result: None,
        before: None,
        after: None,
        undo: None,
        undoes: None,
        proposed_at: now,
        release_at: None,
    };
    let started = Instant::now();
    for _ in 0..ACTIONS {
        std::hint::black_box(effector.execute(&record).await.unwrap());
    }
    ACTIONS as f64 / started.elapsed().as_secs_f64()
}

/// Set in the child process that keeps the disk busy: the file it writes.
const BUSY_DISK_FILE: &str = "BAZAAR_BENCH_BUSY_DISK_FILE";

/// Writes 64 KiB and fsyncs it, over and over, until killed.
fn keep_disk_busy(path: &std::path::Path) -> ! {
    use std::io::{Seek, Write};
    let mut file = std::fs::File::create(path).expect("create the busy-disk file");
    let block = vec![0x5a_u8; 64 * 1024];
    loop {
        for _ in 0..64 {
            file.write_all(&block).expect("write the busy-disk file");
            file.sync_data().expect("fsync the busy-disk file");
        }
        file.rewind().expect("rewind the busy-disk file");
    }
}

/// A second process keeping the disk busy; killed when dropped.
struct BusyDisk(std::process::Child);

impl BusyDisk {
    fn start(dir: &std::path::Path) -> BusyDisk {
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .env(BUSY_DISK_FILE, dir.join("busy"))
            .spawn()
            .expect("start the busy-disk writer");
        BusyDisk(child)
    }
}

impl Drop for BusyDisk {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if let Some(path) = std::env::var_os(BUSY_DISK_FILE) {
        keep_disk_busy(std::path::Path::new(&path));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let baseline = ungated().await;
        println!("ungated baseline: {baseline:.0} actions/s");
        for disk in ["idle", "busy"] {
            // The busy file sits beside the store's, on the same disk.
            let busy_dir = tempfile::tempdir().unwrap();
            let _busy = (disk == "busy").then(|| BusyDisk::start(busy_dir.path()));
            for concurrency in [1, 8, 64] {
                let (rate, p50, p99) =
                    gated(concurrency, &format!("{disk}-c{concurrency}")).await;
                println!(
                    "gated, {disk} disk, {concurrency:>2} proposers: {rate:>7.0} actions/s ({:.4} of ungated), decision latency p50 {:.2} ms, p99 {:.2} ms",
                    rate / baseline,
                    p50.as_secs_f64() * 1e3,
                    p99.as_secs_f64() * 1e3
                );
            }
        }
    });
}
