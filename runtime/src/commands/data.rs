//! `bazaar export`, `import`, `reindex` and `search`: the store as JSON lines in and out,
//! and the search index derived from it.

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bazaar_config::Config;
use bazaar_memory::Money;

use super::read::ReadContext;
use super::{open_index, open_store};

/// `bazaar export`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct ExportArgs {
    /// File to write instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

impl ExportArgs {
    /// The file to write, when not stdout (this process writes it, never a daemon).
    pub fn out_file(&self) -> Option<&std::path::Path> {
        self.out.as_deref()
    }
}

/// `bazaar import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// File to read instead of stdin.
    #[arg(long = "input", value_name = "FILE")]
    input: Option<PathBuf>,
}

/// `bazaar search`.
#[derive(Debug, Clone, clap::Args, serde::Serialize, serde::Deserialize)]
pub struct SearchArgs {
    /// The query (tantivy syntax; plain words work).
    query: String,
    /// How many hits.
    #[arg(long, default_value_t = 10)]
    limit: usize,
}

/// Writes every record of the store, one JSON line each.
pub fn export(context: &ReadContext, out: &mut dyn Write) -> anyhow::Result<u8> {
    let lines = context.store()?.export(&mut &mut *out)?;
    tracing::info!(lines, "export written");
    Ok(0)
}

/// Loads an export into an empty store and indexes it.
pub async fn import(config: &Config, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&config.store.data_dir)?;
    let imported = match args.input {
        Some(path) => {
            let file = std::fs::File::open(&path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            store.import(BufReader::new(file)).await?
        }
        None => store.import(std::io::stdin().lock()).await?,
    };
    let index = open_index(config)?;
    let indexed = index.rebuild(&store).await?;
    eprintln!("imported {imported} records; indexed {indexed} documents");
    Ok(ExitCode::SUCCESS)
}

/// Rebuilds the search index from the store.
pub async fn reindex(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open_store(&config.store.data_dir)?;
    let index = open_index(config)?;
    let started = std::time::Instant::now();
    let indexed = index.rebuild(&store).await?;
    eprintln!(
        "indexed {indexed} documents in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes the products and sellers the index finds for a query.
pub fn search(
    context: &ReadContext,
    args: &SearchArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let hits = context.index()?.search(&args.query, args.limit)?;
    if hits.is_empty() {
        writeln!(
            err,
            "no matches for {:?} (empty index? run `bazaar reindex`)",
            args.query
        )?;
    }
    let price = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_else(|| "-".into());
    for hit in hits {
        writeln!(
            out,
            "{:>6.2}  {:<7} {}  {}  asking {}  sold {}  [{}]",
            hit.score,
            hit.kind,
            hit.id,
            hit.title,
            price(hit.asking),
            price(hit.sold),
            hit.category
        )?;
    }
    Ok(0)
}
