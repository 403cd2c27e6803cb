//! `bazaar audit`: the audit log as the store holds it, and a check of its hash chain.

use std::io::Write;
use std::process::ExitCode;

use bazaar_config::Config;
use bazaar_memory::{AuditEntry, Store};
use chrono::{DateTime, Utc};

use super::open_store;

/// `bazaar audit`.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Check the hash chain; exit 1 if it is broken.
    #[arg(long)]
    verify: bool,
    /// Only entries at or after this time (RFC 3339, e.g. 2026-04-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    since: Option<DateTime<Utc>>,
    /// Only entries about this action id or target (SKU, listing, address).
    #[arg(long, value_name = "ID")]
    item: Option<String>,
}

/// Prints the entries asked for; with `--verify`, exits 1 on a broken chain.
pub fn run(config: &Config, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&config.store.data_dir)?;
    let entries = store.all::<AuditEntry>()?;
    let mut out = std::io::stdout().lock();
    let shown = entries.iter().filter(|entry| {
        args.since.is_none_or(|t| entry.at >= t)
            && args.item.as_deref().is_none_or(|id| entry.concerns(id))
    });
    for entry in shown {
        let action = entry
            .action
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{:>6}  {}  {:<16} {}  {}",
            entry.seq,
            entry.at.to_rfc3339(),
            entry.event,
            action,
            entry.detail
        )?;
    }
    if !args.verify {
        return Ok(ExitCode::SUCCESS);
    }
    match AuditEntry::verify_chain(&entries) {
        Ok(n) => {
            eprintln!(
                "audit chain verified: {n} entries, head {}",
                entries.last().map_or("-", |e| e.hash.as_str())
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            eprintln!("bazaar: {broken}; the log was altered after it was written");
            Ok(ExitCode::FAILURE)
        }
    }
}
