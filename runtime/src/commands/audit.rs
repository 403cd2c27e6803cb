//! `bazaar audit`: the audit log as the store holds it, and a check of its hash chain.

use std::io::Write;

use bazaar_memory::{AuditEntry, Store};
use chrono::{DateTime, Utc};

use super::read::{write_csv_row, OutputFormat, ReadContext};

/// `bazaar audit`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
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
    /// text, json (an array of entries, hashes included) or csv.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// Writes the entries asked for; with `--verify`, exit 1 on a broken chain.
pub fn run(
    context: &ReadContext,
    args: &AuditArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let entries = context.store()?.all::<AuditEntry>()?;
    let shown: Vec<&AuditEntry> = entries
        .iter()
        .filter(|entry| {
            args.since.is_none_or(|t| entry.at >= t)
                && args.item.as_deref().is_none_or(|id| entry.concerns(id))
        })
        .collect();
    let action = |entry: &AuditEntry| {
        entry
            .action
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into())
    };
    match args.output {
        OutputFormat::Text => {
            for entry in &shown {
                writeln!(
                    out,
                    "{:>6}  {}  {:<16} {}  {}",
                    entry.seq,
                    entry.at.to_rfc3339(),
                    entry.event,
                    action(entry),
                    entry.detail
                )?;
            }
        }
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(&shown)?)?,
        OutputFormat::Csv => {
            write_csv_row(out, &["seq", "at", "event", "action", "detail", "hash"])?;
            for entry in &shown {
                write_csv_row(
                    out,
                    &[
                        &entry.seq.to_string(),
                        &entry.at.to_rfc3339(),
                        &entry.event,
                        &action(entry),
                        &entry.detail.to_string(),
                        &entry.hash,
                    ],
                )?;
            }
        }
    }
    if !args.verify {
        return Ok(0);
    }
    match AuditEntry::verify_chain(&entries) {
        Ok(n) => {
            writeln!(
                err,
                "audit chain verified: {n} entries, head {}",
                entries.last().map_or("-", |e| e.hash.as_str())
            )?;
            Ok(0)
        }
        Err(broken) => {
            writeln!(
                err,
                "bazaar: {broken}; the log was altered after it was written"
            )?;
            Ok(1)
        }
    }
}
