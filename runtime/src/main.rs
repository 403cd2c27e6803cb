//! The `bazaar` command line.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bazaar_agents::mail::{SmtpImapConfig, SmtpImapTransport};
use bazaar_config::{Config, LogFormat};
use bazaar_memory::store::SCHEMA_VERSION;
use bazaar_memory::{AuditEntry, ProductIndex, SledStore, Store, SystemClock};
use bazaar_runtime::operator::Operator;
use bazaar_runtime::system::{index_config, index_dir, store_dir, Shutdown, System, SystemParts};
use clap::{Parser, Subcommand, ValueEnum};

/// Exit code when the supervisor gave up on a failing actor.
const EXIT_ESCALATED: u8 = 3;

/// Bazaar: an autonomous reselling agent.
#[derive(Debug, Parser)]
#[command(name = "bazaar", version, about)]
struct Cli {
    /// Configuration file layered over the shipped defaults.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Directory for the store and the index (overrides store.data_dir).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log format (overrides log.format).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon until SIGINT or SIGTERM.
    Run,
    /// Show what the store holds and what is configured.
    Status,
    /// Write the whole store as JSON lines (to stdout, or --out).
    Export {
        /// File to write instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load a `bazaar export` file into an empty data directory (from stdin, or --input).
    Import {
        /// File to read instead of stdin.
        #[arg(long = "input", value_name = "FILE")]
        input: Option<PathBuf>,
    },
    /// Rebuild the search index from the store.
    Reindex,
    /// Search products and sellers.
    Search {
        /// The query (tantivy syntax; plain words work).
        query: String,
        /// How many hits.
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Run every saved search once now (of the enabled marketplaces, or of one) and print
    /// what was found and what the DealAnalyzer decided.
    Scan {
        /// Once and exit (the daemon, `bazaar run`, scans on schedule).
        #[arg(long)]
        once: bool,
        /// Only this marketplace's searches (ebay, craigslist).
        #[arg(long, value_name = "S")]
        source: Option<bazaar_memory::Marketplace>,
    },
    /// Value an item against the comparables in memory: the value, the best channel, the
    /// most to pay, the decision at a price, and the comparables used.
    Appraise {
        /// The item's title, as a listing would have it.
        title: String,
        /// Its category (electronics, bike …); the closest product's when absent.
        #[arg(long, value_name = "C")]
        category: Option<String>,
        /// Its condition (new, like_new, good, fair, poor, for_parts).
        #[arg(long, value_name = "X", value_parser = parse_condition, default_value = "good")]
        condition: bazaar_memory::Condition,
        /// The asking price in dollars (e.g. 80 or 79.99); a decision needs it.
        #[arg(long, value_name = "P", value_parser = parse_dollars)]
        price: Option<bazaar_memory::Money>,
        /// Where it is listed.
        #[arg(long, value_name = "M", default_value = "craigslist")]
        marketplace: bazaar_memory::Marketplace,
    },
    /// Print the example systemd unit.
    SystemdUnit,
    /// Show the audit log (read from the store; stop the daemon or use GET /api/audit).
    Audit {
        /// Check the hash chain; exit 1 if it is broken.
        #[arg(long)]
        verify: bool,
        /// Only entries at or after this time (RFC 3339, e.g. 2026-04-01T00:00:00Z).
        #[arg(long, value_name = "TIME")]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only entries about this action id or target (SKU, listing, address).
        #[arg(long, value_name = "ID")]
        item: Option<String>,
    },
    /// List the items we own (read from the store).
    Inventory {
        /// Only items in this state (draft, in_stock, listed, sold, shipped, returned,
        /// archived).
        #[arg(long, value_name = "S", value_parser = parse_item_status)]
        status: Option<bazaar_memory::ItemStatus>,
    },
    /// Profit and loss per item and overall: sales less cost of goods, fees, postage and
    /// refunds (read from the store); the total in cash, and on the goods sold with the
    /// stock still held at cost.
    Pnl {
        /// Only transactions booked at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Price and volume per category over time, from the prices memory has seen (asking
    /// prices of listings and their changes, prices paid); the window ends at the latest
    /// price seen.
    Trends {
        /// Only this category (e.g. electronics, bike).
        #[arg(long, value_name = "C")]
        category: Option<String>,
        /// Only products whose title names this brand.
        #[arg(long, value_name = "B")]
        brand: Option<String>,
        /// How many days back.
        #[arg(long, value_name = "N", default_value_t = 30)]
        days: u32,
        /// Days per row.
        #[arg(long, value_name = "P", default_value_t = 7)]
        period_days: u32,
    },
    /// Run the whole business against the simulated market and write a report (`bazaar sim
    /// serve` runs the world alone).
    Sim(SimArgs),
    /// Read seller replies as JSON lines on stdin (`{"text", "listing_price",
    /// "our_last_offer"}`, prices in whole dollars) and write one reading per line
    /// (`{"intent", "price", "confidence"}`).
    Understand,
    /// Read saved pages or messages the way the daemon does (`bazaar parse email --help`).
    #[command(subcommand)]
    Parse(bazaar_runtime::parse::ParseCommand),
    /// Sessions for browser-driven marketplaces (see `bazaar session import --help`).
    #[command(subcommand)]
    Session(bazaar_runtime::session::SessionCommand),
    #[command(flatten)]
    Operator(bazaar_runtime::operator::cli::OperatorCommand),
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SimArgs {
    #[command(subcommand)]
    command: Option<SimCommand>,
    /// A built-in scenario (small, default, stress) or a TOML file.
    #[arg(long, default_value = "default")]
    scenario: String,
    /// Simulated days (default: the scenario's).
    #[arg(long)]
    days: Option<u32>,
    /// The seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Where report.json, events.jsonl and ground_truth.json are written.
    #[arg(long, value_name = "DIR", default_value = "sim-out")]
    out: PathBuf,
    /// The global --data-dir, when given: the agent keeps its store there.
    #[arg(skip)]
    data_dir: Option<PathBuf>,
    /// How the agent does business: ours, or a baseline (seed, naive).
    #[arg(long, default_value = "ours", value_parser = parse_strategy)]
    strategy: bazaar_config::StrategyProfile,
    /// Also run the baselines on the same world and seed; the report compares them.
    #[arg(long)]
    compare: bool,
    /// You answer the approvals, at the inbox page (`--listen`); the world waits for you.
    #[arg(long, conflicts_with = "compare")]
    interactive: bool,
    /// Where the inbox page listens with --interactive.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    listen: std::net::SocketAddr,
    /// The scripted operator answers approvals after this many simulated minutes.
    #[arg(long, default_value_t = 60, value_name = "MINUTES")]
    operator_delay_minutes: u32,
    /// Leave the JavaScript marketplace out, even with Chromium installed (by default it is
    /// browsed with Chromium when installed).
    #[arg(long)]
    no_browser: bool,
    /// The scripted operator rejects this share of approvals by mistake (0 to 100).
    #[arg(long, default_value_t = 2, value_name = "PERCENT", value_parser = clap::value_parser!(u32).range(0..=100))]
    operator_error_percent: u32,
}

fn parse_strategy(text: &str) -> Result<bazaar_config::StrategyProfile, String> {
    text.parse()
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Run the simulated world alone and print its endpoints and mail accounts, to explore
    /// with curl, a browser or a mail client. Ctrl-C stops it and writes the ground truth.
    Serve {
        /// A built-in scenario (small, default, stress) or a TOML file.
        #[arg(long, default_value = "default")]
        scenario: String,
        /// The seed (default: the scenario's).
        #[arg(long)]
        seed: Option<u64>,
        /// Simulated seconds per wall-clock second.
        #[arg(long, default_value_t = 60)]
        speed: u32,
        /// Where events.jsonl and ground_truth.json are written.
        #[arg(long, value_name = "DIR", default_value = "sim-out")]
        out: PathBuf,
        /// The env file `sim/scripts/mail-server.sh start` wrote: sellers then get accounts
        /// on that Postfix + Dovecot.
        #[arg(long, value_name = "FILE")]
        mail_env: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    // The store holds seller addresses, mail and the audit log: whatever this process
    // creates (store files, index, exports, reports) is the owner's alone.
    // SAFETY: umask only swaps the process's file-mode mask; nothing else runs yet.
    unsafe {
        libc::umask(0o077);
    }
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bazaar: {error:#}");
            return ExitCode::from(2);
        }
    };
    // `bazaar sim` prints its own progress; the agent's info lines would drown it.
    let quiet = matches!(&cli.command, Command::Sim(SimArgs { command: None, .. }));
    init_logging(&config, quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bazaar: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut command = cli.command;
    if let Command::Sim(args) = &mut command {
        args.data_dir = cli.data_dir.clone();
    }
    match runtime.block_on(run(command, config, cli.config.clone())) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bazaar: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(dir) = &cli.data_dir {
        config.store.data_dir = dir.clone();
    }
    match cli.log_format {
        Some(LogFormatArg::Human) => config.log.format = LogFormat::Human,
        Some(LogFormatArg::Json) => config.log.format = LogFormat::Json,
        None => {}
    }
    Ok(config)
}

fn init_logging(config: &Config, quiet: bool) {
    let level = if quiet {
        "warn"
    } else {
        config.log.level.as_str()
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // chromiumoxide warns of every DevTools event its protocol types do not know (Chromium
    // is newer than they are): noise, not trouble. RUST_LOG naming it still shows them.
    let names_chromiumoxide = std::env::var("RUST_LOG").is_ok_and(|l| l.contains("chromiumoxide"));
    if !names_chromiumoxide {
        if let Ok(quiet) = "chromiumoxide::handler=error".parse() {
            filter = filter.add_directive(quiet);
        }
    }
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(
    command: Command,
    config: Config,
    config_path: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let data_dir = config.store.data_dir.clone();
    match command {
        Command::Run => run_daemon(config, config_path).await,
        Command::Status => status(&config).await.map(|()| ExitCode::SUCCESS),
        Command::Export { out } => {
            let store = open_store(&data_dir)?;
            let lines = match out {
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
        Command::Import { input } => {
            let store = open_store(&data_dir)?;
            let imported = match input {
                Some(path) => {
                    let file = std::fs::File::open(&path)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    store.import(BufReader::new(file)).await?
                }
                None => store.import(std::io::stdin().lock()).await?,
            };
            let index = open_index(&config)?;
            let indexed = index.rebuild(&store).await?;
            eprintln!("imported {imported} records; indexed {indexed} documents");
            Ok(ExitCode::SUCCESS)
        }
        Command::Reindex => {
            let store = open_store(&data_dir)?;
            let index = open_index(&config)?;
            let started = std::time::Instant::now();
            let indexed = index.rebuild(&store).await?;
            eprintln!(
                "indexed {indexed} documents in {:.1}s",
                started.elapsed().as_secs_f64()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { query, limit } => {
            let index = open_index(&config)?;
            let hits = index.search(&query, limit)?;
            if hits.is_empty() {
                eprintln!("no matches for {query:?} (empty index? run `bazaar reindex`)");
            }
            let mut out = std::io::stdout().lock();
            for hit in hits {
                let price = |m: Option<bazaar_memory::Money>| {
                    m.map(|m| m.to_string()).unwrap_or_else(|| "-".into())
                };
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
        Command::Audit {
            verify,
            since,
            item,
        } => audit(&data_dir, verify, since, item.as_deref()),
        Command::Inventory { status } => {
            let store = open_store(&data_dir)?;
            let shown = bazaar_runtime::books::write_inventory(
                &store,
                status,
                &mut std::io::stdout().lock(),
            )?;
            if shown == 0 {
                eprintln!("no items");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Pnl { since } => {
            let store = open_store(&data_dir)?;
            let pnl = bazaar_runtime::books::pnl(&store, since)?;
            bazaar_runtime::books::write_pnl(&store, &pnl, &mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Trends {
            category,
            brand,
            days,
            period_days,
        } => {
            let store = open_store(&data_dir)?;
            let query = bazaar_runtime::books::TrendQuery {
                category,
                brand,
                days,
                period_days,
            };
            let rows =
                bazaar_runtime::books::write_trends(&store, &query, &mut std::io::stdout().lock())?;
            if rows == 0 {
                eprintln!("no prices in memory for that selection; `bazaar run` (or `bazaar sim --data-dir DIR`) fills it");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan { once, source } => {
            if !once {
                eprintln!("bazaar: `bazaar scan` runs the saved searches once: add --once (`bazaar run` scans on schedule)");
                return Ok(ExitCode::from(2));
            }
            scan_once(config, source).await
        }
        Command::Appraise {
            title,
            category,
            condition,
            price,
            marketplace,
        } => {
            let index = open_index(&config)?;
            let query = bazaar_runtime::appraise::AppraiseQuery {
                title,
                category,
                condition,
                price,
                marketplace,
            };
            let now = chrono::Utc::now();
            let found = bazaar_runtime::appraise::write_appraisal(
                &index,
                &bazaar_agents::valuation_config(&config),
                &query,
                now,
                &mut std::io::stdout().lock(),
            )?;
            if !found {
                eprintln!(
                    "nothing like {:?} in memory, so no value (name a --category, or let `bazaar run` collect comparables first)",
                    query.title
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::SystemdUnit => {
            print!("{}", bazaar_config::SYSTEMD_UNIT);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(SimArgs {
            command: None,
            scenario,
            days,
            seed,
            out,
            data_dir,
            strategy,
            compare,
            interactive,
            listen,
            operator_delay_minutes,
            operator_error_percent,
            no_browser,
        }) => {
            let operator = if interactive {
                let token = match std::env::var("BAZAAR_OPERATOR_TOKEN") {
                    Ok(token) if !token.is_empty() => token,
                    _ => {
                        let bytes: [u8; 16] = rand::random();
                        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                        println!("inbox token (BAZAAR_OPERATOR_TOKEN was not set): {token}");
                        token
                    }
                };
                bazaar_runtime::simulate::SimOperator::Interactive { listen, token }
            } else {
                bazaar_runtime::simulate::SimOperator::Scripted {
                    delay_minutes: operator_delay_minutes,
                    error_percent: operator_error_percent,
                }
            };
            let config = bazaar_runtime::simulate::SimConfig {
                scenario,
                days,
                seed,
                out,
                data_dir,
                strategy,
                compare,
                operator,
                browser: !no_browser,
                config_file: config_path.clone(),
            };
            match bazaar_runtime::simulate::run_sim(config, &mut std::io::stdout()).await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(error) => {
                    eprintln!("bazaar: {error}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Sim(SimArgs {
            command:
                Some(SimCommand::Serve {
                    scenario,
                    seed,
                    speed,
                    out,
                    mail_env,
                }),
            ..
        }) => {
            let config = bazaar_runtime::simulate::ServeConfig {
                scenario,
                seed,
                speed,
                out,
                mail_env,
            };
            use tokio::signal::unix::{signal, SignalKind};
            let mut interrupt = signal(SignalKind::interrupt())?;
            let mut terminate = signal(SignalKind::terminate())?;
            let stop = async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            };
            bazaar_runtime::simulate::serve(config, stop, &mut std::io::stdout()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Understand => {
            let stdin = std::io::stdin().lock();
            bazaar_runtime::understand::run(
                stdin,
                std::io::stdout().lock(),
                std::io::stderr().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse(command) => {
            match bazaar_runtime::parse::run(&command, &mut std::io::stdout().lock()) {
                Ok(true) => Ok(ExitCode::SUCCESS),
                Ok(false) => Ok(ExitCode::FAILURE),
                Err(error) => {
                    eprintln!("bazaar parse: {error:#}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Session(command) => Ok(bazaar_runtime::session::run(
            &data_dir,
            command,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        )),
        Command::Operator(command) => bazaar_runtime::operator::cli::run(&config, command).await,
    }
}

fn parse_condition(text: &str) -> Result<bazaar_memory::Condition, String> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        format!("unknown condition {text:?}; use new, like_new, good, fair, poor or for_parts")
    })
}

fn parse_dollars(text: &str) -> Result<bazaar_memory::Money, String> {
    let money = bazaar_memory::Money::from_decimal_str(
        text.trim_start_matches('$'),
        bazaar_memory::Currency::Usd,
    )
    .map_err(|e| format!("bad price {text:?}: {e}"))?;
    if money.minor <= 0 {
        return Err(format!("bad price {text:?}: it must be more than zero"));
    }
    Ok(money)
}

fn parse_item_status(text: &str) -> Result<bazaar_memory::ItemStatus, String> {
    bazaar_memory::ItemStatus::parse(text).ok_or_else(|| {
        let known: Vec<String> = bazaar_memory::ItemStatus::ALL
            .iter()
            .map(|s| s.to_string())
            .collect();
        format!("unknown status {text:?} (known: {})", known.join(", "))
    })
}

fn open_store(data_dir: &Path) -> anyhow::Result<SledStore> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    keep_private(data_dir)?;
    Ok(SledStore::open(&store_dir(data_dir))?)
}

/// Makes `data_dir` the owner's alone (0700) if it was readable by others: a data
/// directory made before Bazaar set its own umask, or by hand.
fn keep_private(data_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir)
        .with_context(|| format!("cannot read data directory {}", data_dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700)).with_context(
        || {
            format!(
                "data directory {} is readable by others (mode {:o}) and cannot be made private; \
             run `chmod 700 {}`",
                data_dir.display(),
                mode & 0o777,
                data_dir.display()
            )
        },
    )?;
    tracing::warn!(data_dir = %data_dir.display(), was = %format!("{:o}", mode & 0o777), "data directory was readable by others; made it 0700");
    Ok(())
}

fn open_index(config: &Config) -> anyhow::Result<ProductIndex> {
    Ok(ProductIndex::open(
        &index_dir(&config.store.data_dir),
        index_config(config),
    )?)
}

fn system_clock() -> bazaar_memory::SharedClock {
    Arc::new(SystemClock)
}

/// `bazaar scan --once`: every saved search of the enabled sources (or of `only`) runs once;
/// what was found and what the DealAnalyzer decided is printed.
async fn scan_once(
    config: Config,
    only: Option<bazaar_memory::Marketplace>,
) -> anyhow::Result<ExitCode> {
    use bazaar_agents::researcher::ResearcherMsg;
    use bazaar_memory::{MarketListing, Opportunity, OpportunityStatus};

    let store = open_store(&config.store.data_dir)?;
    let index = open_index(&config)?;
    let clock = system_clock();
    let sources = match bazaar_runtime::system::sources_from_config(&config, &store, &clock) {
        Ok(sources) => sources,
        Err(error) => {
            eprintln!("bazaar: {error:#}");
            return Ok(ExitCode::from(2));
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
        return Ok(ExitCode::from(2));
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
        return Ok(ExitCode::from(2));
    }
    let started = clock.now();
    let config = Arc::new(config);
    let mut parts = SystemParts::without_connectors(config.clone(), store, index, clock);
    parts.sources = sources;
    let system = System::start(parts).await?;
    for n in &runs {
        eprintln!(
            "scanning: {}",
            describe_search(&config.researcher.searches[*n])
        );
        system.addrs.researcher.send(ResearcherMsg::RunSearch(*n))?;
        // Let it finish before the next: one request at a time per source anyway.
        for _ in 0..3 {
            system.quiet.wait_quiet().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let store = system.store.clone();
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
    let mut out = std::io::stdout().lock();
    let (mut pursued, mut passed) = (0, 0);
    for listing in &found {
        let opportunity = store
            .find::<Opportunity>("by_listing", &listing.id.to_bytes())?
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
                        passed += 1;
                        format!("pass: {why}")
                    }
                    OpportunityStatus::Pursuing => {
                        pursued += 1;
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
    drop(out);
    eprintln!(
        "scan: {} searches, {} new listings, {pursued} pursued, {passed} passed",
        runs.len(),
        found.len()
    );
    system
        .shutdown(Duration::from_secs(config.shutdown.drain_timeout_secs))
        .await?;
    Ok(ExitCode::SUCCESS)
}

fn describe_search(search: &bazaar_config::SavedSearch) -> String {
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

/// SIGHUP: reads the configuration again (file and environment) and puts its operator
/// token and webhook secrets in force, so they rotate without a restart (the new one as
/// `token` / `secret`, the old as `previous_token` / `previous_secret`, reload; once clients
/// use the new one, drop the previous and reload). Anything wrong keeps the secrets in force
/// and says why.
fn reload_operator_secrets(operator: &Operator, config_path: Option<&std::path::Path>) {
    let settings = Config::load(config_path, std::env::vars())
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            bazaar_runtime::operator::OperatorSettings::from_config(&config.operator)
                .map_err(anyhow::Error::from)
        });
    let result = settings.and_then(|settings| {
        operator
            .reload_secrets(&settings)
            .map_err(anyhow::Error::from)
    });
    if let Err(error) = result {
        tracing::error!(error = %format!("{error:#}"), "SIGHUP: operator secrets not reloaded; the ones in force stay");
    }
}

async fn run_daemon(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut hangup = signal(SignalKind::hangup())?;
    let store = open_store(&config.store.data_dir)?;
    let index = open_index(&config)?;
    if index.was_reset() {
        // An index from another version of bazaar: it is derived data, rebuild it.
        tracing::warn!("search index was from another version; rebuilding it from the store");
        let products = index.rebuild(&store).await?;
        tracing::info!(products, "search index rebuilt");
    }
    let drain = Duration::from_secs(config.shutdown.drain_timeout_secs);
    let config = Arc::new(config);
    // Secrets that cannot be read are configuration errors: say so before starting anything.
    if let Err(error) = bazaar_runtime::operator::OperatorSettings::from_config(&config.operator) {
        eprintln!("bazaar: {error:#}");
        return Ok(ExitCode::from(2));
    }
    if let Err(error) = bazaar_agents::llm::LlmClient::from_config(&config.llm) {
        eprintln!("bazaar: {error:#}");
        return Ok(ExitCode::from(2));
    }
    let sources =
        match bazaar_runtime::system::sources_from_config(&config, &store, &system_clock()) {
            Ok(sources) => sources,
            Err(error) => {
                eprintln!("bazaar: {error:#}");
                return Ok(ExitCode::from(2));
            }
        };
    let selling =
        match bazaar_runtime::system::selling_from_config(&config, &store, &system_clock()) {
            Ok(selling) => selling,
            Err(error) => {
                eprintln!("bazaar: {error:#}");
                return Ok(ExitCode::from(2));
            }
        };
    let mail: Option<Arc<dyn bazaar_agents::mail::MailTransport>> = if config.mail.enabled {
        match SmtpImapConfig::from_config(&config.mail)
            .map_err(anyhow::Error::from)
            .and_then(|c| SmtpImapTransport::new(c).map_err(anyhow::Error::from))
        {
            Ok(transport) => Some(Arc::new(transport)),
            Err(error) => {
                eprintln!("bazaar: [mail]: {error:#}");
                return Ok(ExitCode::from(2));
            }
        }
    } else {
        None
    };
    let mut parts = SystemParts::with_selling(
        config.clone(),
        store,
        index,
        Arc::new(SystemClock),
        mail,
        selling.marketplace,
        selling.selling,
    );
    parts.sources = sources;
    let mut system = System::start(parts).await?;
    // eBay pushes sales to the operator server; the endpoint checks eBay's signatures.
    let notifications = match (&selling.ebay_orders, &selling.verification_token) {
        (Some(orders), Some(token)) => {
            Some(bazaar_runtime::ebay_notifications::NotificationEndpoint {
                orders: orders.clone(),
                url: format!(
                    "{}{}",
                    config.operator.public_url.trim_end_matches('/'),
                    bazaar_runtime::ebay_notifications::PATH
                ),
                verification_token: token.expose().to_string(),
                inventory: system.addrs.inventory.clone(),
            })
        }
        _ => None,
    };
    let routes = notifications
        .clone()
        .map(bazaar_runtime::ebay_notifications::router);
    let operator = match Operator::start_from_config(&system, &config, routes).await {
        Ok(operator) => operator,
        Err(error) => {
            system.shutdown(drain).await?;
            return Err(error);
        }
    };
    if let Some(endpoint) = notifications {
        subscribe_to_sales(&endpoint, config.selling.poll_minutes).await;
    }
    for report in system.reports().await {
        match &report.idle {
            Some(reason) => {
                tracing::info!(actor = report.actor, state = %report.summary, reason = %reason, "idle")
            }
            None => tracing::info!(actor = report.actor, state = %report.summary, "working"),
        }
    }
    tracing::info!(data_dir = %config.store.data_dir.display(), pid = std::process::id(), "bazaar is running; SIGINT or SIGTERM stops it, SIGHUP reloads the operator secrets");
    loop {
        tokio::select! {
            _ = interrupt.recv() => {
                tracing::info!(signal = "SIGINT", "shutting down");
                break;
            }
            _ = terminate.recv() => {
                tracing::info!(signal = "SIGTERM", "shutting down");
                break;
            }
            _ = hangup.recv() => reload_operator_secrets(&operator, config_path.as_deref()),
            (child, error) = system.escalated() => {
                tracing::error!(actor = child, %error, "supervisor gave up; shutting down");
                break;
            }
        }
    }
    operator.stop().await;
    match system.shutdown(drain).await? {
        Shutdown::Requested { abandoned } => {
            tracing::info!(abandoned, "stopped");
            Ok(ExitCode::SUCCESS)
        }
        Shutdown::Escalated { child, error } => {
            eprintln!(
                "bazaar: {child} kept failing ({error}); stopped cleanly, exit {EXIT_ESCALATED}"
            );
            Ok(ExitCode::from(EXIT_ESCALATED))
        }
    }
}

/// Has eBay push sales to `endpoint` (already served). A failure is not fatal: sales are
/// still polled.
async fn subscribe_to_sales(
    endpoint: &bazaar_runtime::ebay_notifications::NotificationEndpoint,
    poll_minutes: u64,
) {
    match endpoint
        .orders
        .subscribe(&endpoint.url, &endpoint.verification_token)
        .await
    {
        Ok(subscription) => {
            tracing::info!(url = %endpoint.url, %subscription, "ebay pushes sales here")
        }
        Err(error) => tracing::warn!(
            %error,
            url = %endpoint.url,
            poll_minutes,
            "ebay notifications are not set up; sales are polled instead"
        ),
    }
}

async fn status(config: &Config) -> anyhow::Result<()> {
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
    let marketplaces = config.enabled_marketplaces();
    let marketplaces = if marketplaces.is_empty() {
        "none enabled".to_string()
    } else {
        marketplaces
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    writeln!(out, "marketplaces    {marketplaces}")?;
    writeln!(
        out,
        "mail            {}",
        if config.mail.enabled {
            "enabled"
        } else {
            "not configured"
        }
    )?;
    writeln!(out, "saved searches  {}", config.researcher.searches.len())?;
    for line in bazaar_runtime::session::status_lines(data_dir, chrono::Utc::now()) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

fn audit(
    data_dir: &Path,
    verify: bool,
    since: Option<chrono::DateTime<chrono::Utc>>,
    item: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let store = open_store(data_dir)?;
    let entries = store.all::<AuditEntry>()?;
    let mut out = std::io::stdout().lock();
    for entry in &entries {
        if since.is_some_and(|t| entry.at < t) {
            continue;
        }
        if item.is_some_and(|id| !entry.concerns(id)) {
            continue;
        }
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
    if !verify {
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
