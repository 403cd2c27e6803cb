//! `bazaar status`: what the store holds and what is configured.

use std::io::Write;
use std::process::ExitCode;

use bazaar_config::Config;
use bazaar_memory::store::SCHEMA_VERSION;
use bazaar_memory::{AuditEntry, Store};

use super::{open_index, open_store};

/// Prints the store's record counts, the audit chain's state, the index size and the
/// enabled marketplaces, mail and searches.
pub fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let data_dir = &config.store.data_dir;
    let store = open_store(data_dir)?;
    let index = open_index(config)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "data directory  {}", data_dir.display())?;
    writeln!(out, "schema version  {SCHEMA_VERSION}")?;
    writeln!(out, "records")?;
    for (tree, count) in store.counts() {
        writeln!(out, "  {tree:<16}{count}")?;
    }
    let audit = store.all::<AuditEntry>()?;
    let chain = match AuditEntry::verify_chain(&audit) {
        Ok(n) => format!("{n} entries, chain verified"),
        Err(broken) => format!("BROKEN: {broken}"),
    };
    writeln!(out, "audit log       {chain}")?;
    writeln!(out, "search index    {} documents", index.num_docs())?;
    let marketplaces: Vec<&str> = config
        .enabled_marketplaces()
        .iter()
        .map(|m| m.name())
        .collect();
    let marketplaces = if marketplaces.is_empty() {
        "none enabled".to_string()
    } else {
        marketplaces.join(", ")
    };
    writeln!(out, "marketplaces    {marketplaces}")?;
    let mail = if config.mail.enabled {
        "enabled"
    } else {
        "not configured"
    };
    writeln!(out, "mail            {mail}")?;
    writeln!(out, "saved searches  {}", config.researcher.searches.len())?;
    for line in super::session::status_lines(data_dir, chrono::Utc::now()) {
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}
