//! `bazaar scan --once`: every saved search of the enabled sources runs once, and what was
//! found and what the DealAnalyzer decided is printed. A source whose pages could not be
//! read (its layout changed: an inbox task and a `source_degraded` event) makes it exit 1.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::researcher::ResearcherMsg;
use bazaar_config::{Config, SavedSearch};
use bazaar_memory::{
    AuditEntry, MarketListing, Marketplace, Opportunity, OpportunityStatus, SledStore, Store,
};
use chrono::{DateTime, Utc};

use super::{open_index, open_store, system_clock, EXIT_USAGE};
use crate::system::{sources_from_config, System, SystemParts};

/// `bazaar scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// Once and exit (the daemon, `bazaar run`, scans on schedule).
    #[arg(long)]
    once: bool,
    /// Only this marketplace's searches (ebay, craigslist, facebook).
    #[arg(long, value_name = "S")]
    source: Option<Marketplace>,
}

/// How many listings the scan found and what became of them.
#[derive(Debug, Default)]
struct Tally {
    pursued: usize,
    passed: usize,
}

/// Runs the saved searches once; exit 2 when there is nothing to scan.
pub async fn run(config: Config, args: ScanArgs) -> anyhow::Result<ExitCode> {
    if !args.once {
        eprintln!("bazaar: `bazaar scan` runs the saved searches once: add --once (`bazaar run` scans on schedule)");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let only = args.source;
    let store = open_store(&config.store.data_dir)?;
    let index = open_index(&config)?;
    let clock = system_clock();
    let sources = match sources_from_config(&config, &store, &clock) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("bazaar: {error:#}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let sources: Vec<_> = sources
        .into_iter()
        .filter(|s| only.is_none_or(|m| s.marketplace() == m))
        .collect();
    if sources.is_empty() {
        eprintln!(
            "bazaar: nothing to scan: enable [marketplaces.ebay] or [marketplaces.craigslist]{}",
            only.map(|m| format!(" ({m} was asked for)"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let runs: Vec<usize> = config
        .researcher
        .searches
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            sources
                .iter()
                .any(|source| source.marketplace() == s.marketplace)
        })
        .map(|(n, _)| n)
        .collect();
    if runs.is_empty() {
        eprintln!("bazaar: no saved search for the enabled sources; add [[researcher.searches]]");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let started = clock.now();
    let config = Arc::new(config);
    let mut parts = SystemParts::without_connectors(config.clone(), store, index, clock);
    parts.sources = sources;
    let system = System::start(parts).await?;
    for n in &runs {
        eprintln!("scanning: {}", describe(&config.researcher.searches[*n]));
        system.addrs.researcher.send(ResearcherMsg::RunSearch(*n))?;
        // Let it finish before the next: one request at a time per source anyway.
        for _ in 0..3 {
            system.quiet.wait_quiet().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let found = listings_since(&system.store, started)?;
    let tally = print_decisions(&system.store, &found)?;
    eprintln!(
        "scan: {} searches, {} new listings, {} pursued, {} passed",
        runs.len(),
        found.len(),
        tally.pursued,
        tally.passed
    );
    let degraded = degraded_since(&system.store, started)?;
    system
        .shutdown(Duration::from_secs(config.shutdown.drain_timeout_secs))
        .await?;
    if degraded.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for message in &degraded {
        eprintln!("bazaar: {message}");
    }
    eprintln!("scan: a source's pages could not be read; the task is in the inbox");
    Ok(ExitCode::FAILURE)
}

/// What the `source_degraded` incidents opened at or after `started` say (read from the
/// audit log, where the gate records each task and the event that announced it).
fn degraded_since(store: &SledStore, started: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
    let entries: Vec<AuditEntry> = store.all()?;
    Ok(entries
        .iter()
        .filter(|e| e.at >= started && e.event == "task_opened")
        .filter(|e| e.detail["event"] == "source_degraded")
        .map(|e| e.detail["summary"].as_str().unwrap_or_default().to_string())
        .collect())
}

/// The listings first seen at or after `started`, by marketplace and title.
fn listings_since(
    store: &SledStore,
    started: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<MarketListing>> {
    let mut found: Vec<MarketListing> = store
        .all::<MarketListing>()?
        .into_iter()
        .filter(|l| l.first_seen >= started)
        .collect();
    found.sort_by(|a, b| {
        a.marketplace
            .name()
            .cmp(b.marketplace.name())
            .then(a.title.cmp(&b.title))
    });
    Ok(found)
}

/// Prints each listing with the DealAnalyzer's decision and its reason.
fn print_decisions(store: &SledStore, found: &[MarketListing]) -> anyhow::Result<Tally> {
    let mut out = std::io::stdout().lock();
    let mut tally = Tally::default();
    for listing in found {
        let opportunity = store
            .find(Opportunity::BY_LISTING, &listing.id.to_bytes())?
            .into_iter()
            .next();
        let decision = match &opportunity {
            Some(o) => {
                let why = o
                    .lifecycle
                    .history
                    .last()
                    .map(|c| c.reason.clone())
                    .unwrap_or_default();
                match o.lifecycle.status {
                    OpportunityStatus::Passed => {
                        tally.passed += 1;
                        format!("pass: {why}")
                    }
                    OpportunityStatus::Pursuing => {
                        tally.pursued += 1;
                        format!("pursue: {why}")
                    }
                    other => format!("{other}: {why}"),
                }
            }
            None => "not analyzed (a near-duplicate of a listing elsewhere)".to_string(),
        };
        writeln!(
            out,
            "{:<10} {:>10}  {}  — {decision}",
            listing.marketplace.name(),
            listing.price.to_string(),
            listing.title
        )?;
    }
    Ok(tally)
}

fn describe(search: &SavedSearch) -> String {
    let query = if search.query.is_empty() {
        "everything".to_string()
    } else {
        format!("{:?}", search.query)
    };
    format!(
        "{} {query} in {}",
        search.marketplace,
        search.category.as_deref().unwrap_or("all categories")
    )
}
