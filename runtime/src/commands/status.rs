//! `bazaar status`: what the store holds and what is configured.

use std::io::Write;

use bazaar_memory::store::SCHEMA_VERSION;
use bazaar_memory::{AuditEntry, Store};

use super::read::{OutputFormat, ReadContext};

/// `bazaar status`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct StatusArgs {
    /// text or json.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// Writes the store's record counts, the audit chain's state, the index size and the
/// enabled marketplaces, mail and searches.
pub fn run(context: &ReadContext, args: &StatusArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let config = context.config();
    let data_dir = &config.store.data_dir;
    let store = context.store()?;
    let index = context.index()?;
    let audit = store.all::<AuditEntry>()?;
    let (chain_ok, chain) = match AuditEntry::verify_chain(&audit) {
        Ok(n) => (true, format!("{n} entries, chain verified")),
        Err(broken) => (false, format!("BROKEN: {broken}")),
    };
    let marketplaces: Vec<&str> = config
        .enabled_marketplaces()
        .iter()
        .map(|m| m.name())
        .collect();
    let sessions = super::session::status_lines(data_dir, chrono::Utc::now());
    match args.output {
        OutputFormat::Text => {}
        OutputFormat::Json => {
            let records: serde_json::Map<String, serde_json::Value> = store
                .counts()
                .into_iter()
                .map(|(tree, count)| (tree.to_string(), count.into()))
                .collect();
            let status = serde_json::json!({
                "data_dir": data_dir,
                "schema_version": SCHEMA_VERSION,
                "records": records,
                "audit": { "entries": audit.len(), "chain_verified": chain_ok, "detail": chain },
                "index_documents": index.num_docs(),
                "marketplaces": marketplaces,
                "mail": config.mail.enabled,
                "saved_searches": config.researcher.searches.len(),
                "sessions": sessions,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
            return Ok(0);
        }
        OutputFormat::Csv => return Err(OutputFormat::Csv.unsupported("status")),
    }
    writeln!(out, "data directory  {}", data_dir.display())?;
    writeln!(out, "schema version  {SCHEMA_VERSION}")?;
    writeln!(out, "records")?;
    for (tree, count) in store.counts() {
        writeln!(out, "  {tree:<16}{count}")?;
    }
    writeln!(out, "audit log       {chain}")?;
    writeln!(out, "search index    {} documents", index.num_docs())?;
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
    for line in sessions {
        writeln!(out, "{line}")?;
    }
    Ok(0)
}
