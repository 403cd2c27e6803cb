//! The commands that only read the store and the index (`status`, `inventory`, `pnl`,
//! `audit`, `trends`, `search`, `appraise`, `export`). They run here on the data directory,
//! or — while `bazaar run` holds it — in the daemon, asked over its control socket
//! (`crate::control`), so an operator sees everything while the business runs.

use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use bazaar_agents::Addresses;
use bazaar_config::Config;
use bazaar_memory::{ProductIndex, SledStore};
use serde::{Deserialize, Serialize};

use super::{appraise, audit, books, data, status};

/// A read command with its arguments, as typed and as sent to a running daemon.
#[derive(Debug, Clone, clap::Subcommand, Serialize, Deserialize)]
pub enum ReadCommand {
    /// Show what the store holds and what is configured.
    Status(status::StatusArgs),
    /// Write the whole store as JSON lines (to stdout, or --out). While the daemon runs it
    /// is written record by record as the daemon holds them, not as one instant's snapshot.
    Export(data::ExportArgs),
    /// Search products and sellers.
    Search(data::SearchArgs),
    /// Value an item against the comparables in memory: the value, the best channel, the
    /// most to pay, the decision at a price, and the comparables used.
    Appraise(appraise::AppraiseQuery),
    /// Show the audit log and check its hash chain.
    Audit(audit::AuditArgs),
    /// List the items we own.
    Inventory(books::InventoryArgs),
    /// Profit and loss per item and overall: sales less cost of goods, fees, postage and
    /// refunds; the total in cash, and on the goods sold with the stock still held at cost.
    Pnl(books::PnlArgs),
    /// Price and volume per category over time, from the prices memory has seen (asking
    /// prices of listings and their changes, prices paid); the window ends at the latest
    /// price seen.
    Trends(books::TrendQuery),
    /// Ask the running daemon whether it is healthy (store, gate, agents answer) or, with
    /// --ready, also whether every marketplace it searches works; exit 0 if so, 1 if not
    /// (a container's health check; no token needed).
    Health(HealthArgs),
}

/// `bazaar health`.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct HealthArgs {
    /// Also require every marketplace searched to work (readiness).
    #[arg(long)]
    ready: bool,
    /// text or json.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// How a read command writes what it found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned columns for a person.
    #[default]
    Text,
    /// One JSON document; money in minor units with its currency.
    Json,
    /// A header row, then one row per record; money in minor units.
    Csv,
}

impl OutputFormat {
    /// An error for a command that has no form in this format.
    pub fn unsupported(self, command: &str) -> anyhow::Error {
        let name = format!("{self:?}").to_lowercase();
        anyhow::anyhow!("`bazaar {command}` has no {name} output; use --output text or json")
    }
}

/// Writes one CSV row (RFC 4180: a field with a comma, quote or line break is quoted).
pub fn write_csv_row(out: &mut dyn Write, fields: &[&str]) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) {
            line.push('"');
            line.push_str(&field.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(field);
        }
    }
    writeln!(out, "{line}")
}

/// What a read command reads: the store and the index, opened when first asked for (here),
/// or the ones a running daemon holds.
pub struct ReadContext {
    config: Arc<Config>,
    store: OnceLock<SledStore>,
    index: OnceLock<ProductIndex>,
    /// The agents and gate of the daemon answering, for `bazaar health`.
    system: Option<Addresses>,
}

impl ReadContext {
    /// Opens the data directory `config` names as a command needs it.
    pub fn open(config: Arc<Config>) -> ReadContext {
        ReadContext {
            config,
            store: OnceLock::new(),
            index: OnceLock::new(),
            system: None,
        }
    }

    /// The store, index and agents of a running system.
    pub fn held(
        config: Arc<Config>,
        store: SledStore,
        index: ProductIndex,
        system: Addresses,
    ) -> ReadContext {
        ReadContext {
            config,
            store: OnceLock::from(store),
            index: OnceLock::from(index),
            system: Some(system),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> anyhow::Result<&SledStore> {
        if let Some(store) = self.store.get() {
            return Ok(store);
        }
        let store = super::open_store(&self.config.store.data_dir)?;
        Ok(self.store.get_or_init(|| store))
    }

    pub fn index(&self) -> anyhow::Result<&ProductIndex> {
        if let Some(index) = self.index.get() {
            return Ok(index);
        }
        let index = super::open_index(&self.config)?;
        Ok(self.index.get_or_init(|| index))
    }
}

impl ReadCommand {
    /// Runs the command on `context`, writing its findings to `out` and its remarks to
    /// `err`; the exit code.
    pub fn execute(
        &self,
        context: &ReadContext,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> anyhow::Result<u8> {
        match self {
            ReadCommand::Status(args) => status::run(context, args, out),
            ReadCommand::Export(_) => data::export(context, out),
            ReadCommand::Search(args) => data::search(context, args, out, err),
            ReadCommand::Appraise(query) => appraise::run(context, query, out, err),
            ReadCommand::Audit(args) => audit::run(context, args, out, err),
            ReadCommand::Inventory(args) => books::inventory(context, args, out, err),
            ReadCommand::Pnl(args) => books::profit_and_loss(context, args, out),
            ReadCommand::Trends(query) => books::trend_report(context, query, out, err),
            ReadCommand::Health(args) => health(context, args, out, err),
        }
    }
}

/// `bazaar health`: only a running daemon answers it (in a blocking thread of its runtime).
fn health(
    context: &ReadContext,
    args: &HealthArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let Some(system) = &context.system else {
        writeln!(
            err,
            "bazaar: no daemon is running on {}; start it with `bazaar run`",
            context.config.store.data_dir.display()
        )?;
        return Ok(1);
    };
    let store = context.store()?;
    let runtime = tokio::runtime::Handle::current();
    let (ok, checks, sources, json) = if args.ready {
        let readiness = runtime.block_on(crate::health::readiness(store, system));
        let json = serde_json::to_string(&readiness)?;
        (
            readiness.ready,
            readiness.health.checks,
            readiness.sources,
            json,
        )
    } else {
        let health = runtime.block_on(crate::health::health(store, system));
        let json = serde_json::to_string(&health)?;
        (health.ok, health.checks, Vec::new(), json)
    };
    match args.output {
        OutputFormat::Json => writeln!(out, "{json}")?,
        OutputFormat::Csv => return Err(OutputFormat::Csv.unsupported("health")),
        OutputFormat::Text => {
            for check in &checks {
                let state = check.problem.as_deref().unwrap_or("ok");
                writeln!(out, "{:<14}{state}", check.part)?;
            }
            for source in &sources {
                let state = source.problem.as_deref().unwrap_or("ok");
                writeln!(out, "{:<14}{state}", source.marketplace)?;
            }
            let verdict = match (ok, args.ready) {
                (true, true) => "ready",
                (true, false) => "healthy",
                (false, true) => "not ready",
                (false, false) => "not healthy",
            };
            writeln!(out, "{verdict}")?;
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// Runs a read command: in the daemon that holds the data directory when one answers on
/// its control socket, here otherwise.
pub fn run(config: Config, command: ReadCommand) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    let mut file;
    let out: &mut dyn Write = match &command {
        ReadCommand::Export(args) => match args.out_file() {
            Some(path) => {
                file = std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                );
                &mut file
            }
            None => &mut stdout,
        },
        _ => &mut stdout,
    };
    let mut stderr = std::io::stderr().lock();
    let code = match crate::control::ask(&config.store.data_dir, &command, out, &mut stderr)? {
        Some(code) => code,
        None => command.execute(&ReadContext::open(Arc::new(config)), out, &mut stderr)?,
    };
    out.flush()?;
    Ok(ExitCode::from(code))
}
