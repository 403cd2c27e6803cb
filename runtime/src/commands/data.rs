//! `bazaar export`, `import`, `reindex` and `search`: the store as JSON lines in and out,
//! and the search index derived from it.

use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use bazaar_config::Config;
use bazaar_memory::Money;

use super::{open_index, open_store};

/// `bazaar export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// File to write instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `bazaar import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// File to read instead of stdin.
    #[arg(long = "input", value_name = "FILE")]
    input: Option<PathBuf>,
}

/// `bazaar search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The query (tantivy syntax; plain words work).
    query: String,
    /// How many hits.
    #[arg(long, default_value_t = 10)]
    limit: usize,
}

/// Writes every record of the store, one JSON line each.
pub fn export(config: &Config, args: ExportArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&config.store.data_dir)?;
    let lines = match args.out {
        Some(path) => {
            let file = std::fs::File::create(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            let lines = store.export(&mut writer)?;
            writer.flush()?;
            lines
        }
        None => store.export(&mut std::io::stdout().lock())?,
    };
    tracing::info!(lines, "export written");
    Ok(ExitCode::SUCCESS)
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

/// Prints the products and sellers the index finds for a query.
pub fn search(config: &Config, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let index = open_index(config)?;
    let hits = index.search(&args.query, args.limit)?;
    if hits.is_empty() {
        eprintln!(
            "no matches for {:?} (empty index? run `bazaar reindex`)",
            args.query
        );
    }
    let price = |m: Option<Money>| m.map(|m| m.to_string()).unwrap_or_else(|| "-".into());
    let mut out = std::io::stdout().lock();
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
    Ok(ExitCode::SUCCESS)
}
