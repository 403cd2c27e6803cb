//! The operator API under load while the sim runs: `bazaar sim --interactive` (3 simulated
//! days; the world waits for the operator's approvals) with, on loopback, a load generator
//! of `BAZAAR_LOAD_CONNECTIONS` (default 4) connections sending `BAZAAR_LOAD_REQUESTS`
//! (default 20,000) authenticated reads (`/api/approvals`, `/api/status`, `/api/actions`),
//! and an operator that answers every approval with an approve and a reject sent at the
//! same moment. Reports throughput and latency percentiles of the reads, against
//! `/healthz` (no store, no gate) in the same run as the baseline, and checks the gate's
//! decisions: never both answers accepted, every raced approval decided exactly once, and
//! the report's approved + rejected equal to the decisions the operator saw.
//!
//! `cargo bench -p bazaar-runtime --bench operator_load`

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");
const TOKEN: &str = "operator-load-bench-token-0123456789";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Err(error) = run().await {
        eprintln!("operator load bench: {error:#}");
        std::process::exit(1);
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Latency percentile (`p` in 0..=100) of sorted samples, in milliseconds.
fn percentile(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[index].as_secs_f64() * 1000.0
}

/// `requests` GETs of `paths` (round robin) over `connections` connections: the latencies
/// (sorted), the wall time and how many answered other than 200.
async fn load(
    http: &reqwest::Client,
    base: &str,
    paths: &[&str],
    connections: usize,
    requests: usize,
) -> (Vec<Duration>, Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..connections {
        let (http, next, failed) = (http.clone(), next.clone(), failed.clone());
        let urls: Vec<String> = paths.iter().map(|p| format!("{base}{p}")).collect();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    return latencies;
                }
                let sent = Instant::now();
                let answer = http
                    .get(&urls[n % urls.len()])
                    .bearer_auth(TOKEN)
                    .send()
                    .await;
                let ok = match answer {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.is_ok() && status == reqwest::StatusCode::OK
                    }
                    Err(_) => false,
                };
                latencies.push(sent.elapsed());
                if !ok {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    for worker in workers {
        latencies.extend(worker.await.unwrap_or_default());
    }
    latencies.sort();
    (latencies, started.elapsed(), failed.load(Ordering::Relaxed))
}

/// What the racing operator saw.
#[derive(Default)]
struct Decisions {
    raced: usize,
    both_accepted: usize,
    approved: usize,
    rejected: usize,
    undecided: Vec<String>,
}

/// Answers every pending approval with an approve and a reject at once, until `done`.
async fn operator(
    http: reqwest::Client,
    base: String,
    done: Arc<AtomicBool>,
    decisions: Arc<Mutex<Decisions>>,
) {
    let mut seen = std::collections::BTreeSet::new();
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let Ok(response) = http
            .get(format!("{base}/api/approvals"))
            .bearer_auth(TOKEN)
            .send()
            .await
        else {
            continue;
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        for approval in body["approvals"].as_array().into_iter().flatten() {
            let (Some(id), false) = (approval["id"].as_str(), approval["action"].is_null()) else {
                continue;
            };
            if !seen.insert(id.to_string()) {
                continue;
            }
            let approve = http
                .post(format!("{base}/api/approvals/{id}/approve"))
                .bearer_auth(TOKEN)
                .send();
            let reject = http
                .post(format!("{base}/api/approvals/{id}/reject"))
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({"reason": "load bench: racing the approve"}))
                .send();
            let (approve, reject) = tokio::join!(approve, reject);
            let accepted = |r: &Result<reqwest::Response, reqwest::Error>| {
                r.as_ref().is_ok_and(|r| r.status().is_success())
            };
            let both = accepted(&approve) && accepted(&reject);
            let status: serde_json::Value = match http
                .get(format!("{base}/api/approvals/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .await
            {
                Ok(response) => response.json().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            };
            let mut d = decisions.lock().unwrap_or_else(|e| e.into_inner());
            d.raced += 1;
            d.both_accepted += usize::from(both);
            match status["status"].as_str() {
                Some("approved") => d.approved += 1,
                Some("rejected") => d.rejected += 1,
                other => d.undecided.push(format!("{id}: {other:?}")),
            }
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let connections = env_number("BAZAAR_LOAD_CONNECTIONS", 4);
    let requests = env_number("BAZAAR_LOAD_REQUESTS", 20_000);
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("out");
    let mut child = tokio::process::Command::new(BAZAAR)
        .args(["sim", "--days", "3", "--seed", "7", "--interactive"])
        .args(["--listen", "127.0.0.1:0", "--out"])
        .arg(&out)
        .env("BAZAAR_OPERATOR_TOKEN", TOKEN)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let base = loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| anyhow::anyhow!("the sim printed no inbox address in 60 s"))??
            .ok_or_else(|| anyhow::anyhow!("the sim ended before serving its inbox"))?;
        if let Some(rest) = line.strip_prefix("interactive: approve or reject at ") {
            break rest.split('/').take(3).collect::<Vec<_>>().join("/");
        }
    };
    // Keep reading the sim's output so it never blocks on a full pipe.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    bazaar_mail::install_crypto_provider();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(connections + 2)
        .build()?;
    let done = Arc::new(AtomicBool::new(false));
    let decisions = Arc::new(Mutex::new(Decisions::default()));
    let answering = tokio::spawn(operator(
        http.clone(),
        base.clone(),
        done.clone(),
        decisions.clone(),
    ));

    let (baseline, baseline_wall, baseline_failed) =
        load(&http, &base, &["/healthz"], connections, requests / 4).await;
    let reads = ["/api/approvals", "/api/status", "/api/actions"];
    let (api, api_wall, api_failed) = load(&http, &base, &reads, connections, requests).await;

    let status = tokio::time::timeout(Duration::from_secs(900), child.wait())
        .await
        .map_err(|_| anyhow::anyhow!("the sim did not finish in 15 minutes"))??;
    done.store(true, Ordering::Relaxed);
    answering.await?;
    drain.abort();
    anyhow::ensure!(status.success(), "the sim failed: {status}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json"))?)?;
    let d = decisions.lock().unwrap_or_else(|e| e.into_inner());
    let in_report = (
        report["policy"]["approved"].as_u64().unwrap_or(0) as usize,
        report["policy"]["rejected"].as_u64().unwrap_or(0) as usize,
    );
    let rate = |n: usize, wall: Duration| n as f64 / wall.as_secs_f64();
    println!(
        "operator API under load while `bazaar sim --interactive` runs ({connections} connections):\n  \
         reads (/api/approvals, /api/status, /api/actions): {} requests, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {api_failed} not 200\n  \
         baseline /healthz: {} requests, {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {baseline_failed} not 200\n  \
         reads vs baseline: throughput x{:.2}, p99 x{:.2}\n  \
         gate decisions: {} approvals each answered by a racing approve and reject; both accepted {} times; \
         {} approved, {} rejected, {} undecided; the report says {} approved, {} rejected",
        api.len(),
        rate(api.len(), api_wall),
        percentile(&api, 50),
        percentile(&api, 99),
        percentile(&api, 100),
        baseline.len(),
        rate(baseline.len(), baseline_wall),
        percentile(&baseline, 50),
        percentile(&baseline, 99),
        rate(api.len(), api_wall) / rate(baseline.len(), baseline_wall),
        percentile(&api, 99) / percentile(&baseline, 99).max(1e-9),
        d.raced,
        d.both_accepted,
        d.approved,
        d.rejected,
        d.undecided.len(),
        in_report.0,
        in_report.1,
    );
    anyhow::ensure!(
        d.both_accepted == 0,
        "an approval was both approved and rejected"
    );
    anyhow::ensure!(d.undecided.is_empty(), "undecided: {:?}", d.undecided);
    anyhow::ensure!(
        in_report == (d.approved, d.rejected),
        "the report's decisions differ from the operator's"
    );
    Ok(())
}
