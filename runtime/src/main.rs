//! The `bazaar` command line: parses the arguments, loads the configuration, sets up
//! logging and calls the command's module in `bazaar_runtime::commands`.

use std::path::PathBuf;
use std::process::ExitCode;

use bazaar_config::{Config, LogFormat};
use bazaar_runtime::commands::{
    daemon, data, demo, parse, read, read::ReadCommand, scan, session, sim, understand, EXIT_USAGE,
};
use bazaar_runtime::operator::cli::OperatorCommand;
use clap::{Parser, Subcommand, ValueEnum};

/// The version, the commit it was built from and the day it was built.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BAZAAR_COMMIT"),
    ", built ",
    env!("BAZAAR_BUILD_DATE"),
    ")"
);

/// Bazaar: an autonomous reselling agent.
///
/// It finds underpriced items on marketplaces, values them against what comparable items sell for, negotiates with their sellers by
/// email, buys, lists on several marketplaces, reprices, answers buyers and delists the
/// moment something sells, every outside action through a policy gate you can watch and
/// undo. `bazaar sim` runs it all against a simulated market; `bazaar run` is the daemon.
#[derive(Debug, Parser)]
#[command(name = "bazaar", version = VERSION)]
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
    #[command(flatten)]
    Read(ReadCommand),
    /// Load a `bazaar export` file into an empty data directory (from stdin, or --input).
    Import(data::ImportArgs),
    /// Rebuild the search index from the store.
    Reindex,
    /// Run every saved search once now (of the enabled marketplaces, or of one) and print
    /// what was found and what the DealAnalyzer decided.
    Scan(scan::ScanArgs),
    /// Print the example systemd unit.
    SystemdUnit,
    /// Run the whole business against the simulated market and write a report (`bazaar sim
    /// serve` runs the world alone).
    Sim(sim::SimArgs),
    /// The simulated market and the daemon together, on one clock: watch the whole loop
    /// (find, value, negotiate, approve, buy, list, sell, delist, P&L) on the console within
    /// minutes. Real Postfix + Dovecot when run as root with them installed.
    Demo(demo::DemoArgs),
    /// Read seller replies as JSON lines on stdin (`{"text", "listing_price",
    /// "our_last_offer"}`, prices in whole dollars) and write one reading per line
    /// (`{"intent", "price", "confidence"}`).
    Understand,
    /// Read saved pages or messages the way the daemon does (`bazaar parse email --help`).
    #[command(subcommand)]
    Parse(parse::ParseCommand),
    /// Sessions for browser-driven marketplaces (see `bazaar session import --help`).
    #[command(subcommand)]
    Session(session::SessionCommand),
    #[command(flatten)]
    Operator(OperatorCommand),
    /// Print a shell completion script: `bazaar completions bash > /etc/bash_completion.d/bazaar`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `bazaar man > /usr/local/share/man/man1/bazaar.1`.
    Man,
}

/// glibc gives each thread that allocates its own arena (up to eight per core) and keeps
/// what is freed in it: with tokio's workers, sled's and tantivy's threads and the
/// DealAnalyzer's searchers, the same month peaked anywhere from 87 to 301 MB. Two arenas
/// keep it near the low end at no measurable cost in time.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    // The store holds seller addresses, mail and the audit log: whatever this process
    // creates (store files, index, exports, reports) is the owner's alone.
    // SAFETY: umask only swaps the process's file-mode mask; nothing else runs yet.
    unsafe {
        libc::umask(0o077);
    }
    limit_malloc_arenas();
    let cli = Cli::parse();
    // These describe the command line itself: no configuration to load.
    match &cli.command {
        Command::Completions { shell } => return print_completions(*shell),
        Command::Man => return print_man(),
        _ => {}
    }
    let config = match load_config(&cli) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("bazaar: {error:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // `bazaar sim` and `bazaar demo` print their own progress; the agent's info lines
    // would drown it.
    let quiet = matches!(&cli.command, Command::Sim(args) if args.runs_the_business())
        || matches!(&cli.command, Command::Demo(_));
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
    match runtime.block_on(run(cli, config)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("bazaar: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "bazaar", &mut script);
    print_bytes(&script, "completion script")
}

fn print_man() -> ExitCode {
    use clap::CommandFactory;
    let mut page = Vec::new();
    if let Err(error) = clap_mangen::Man::new(Cli::command()).render(&mut page) {
        eprintln!("bazaar: cannot write the manual page: {error}");
        return ExitCode::FAILURE;
    }
    print_bytes(&page, "manual page")
}

/// Writes `bytes` to stdout; a reader that stops early (`| head`) is no error.
fn print_bytes(bytes: &[u8], what: &str) -> ExitCode {
    use std::io::Write;
    match std::io::stdout().lock().write_all(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bazaar: cannot write the {what}: {error}");
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

async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run => daemon::run(config, cli.config).await,
        Command::Import(args) => data::import(&config, args).await,
        Command::Reindex => data::reindex(&config).await,
        Command::Scan(args) => scan::run(config, args).await,
        Command::SystemdUnit => {
            print!("{}", bazaar_config::SYSTEMD_UNIT);
            Ok(ExitCode::SUCCESS)
        }
        Command::Sim(args) => sim::run(args, cli.data_dir, cli.config).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Understand => {
            understand::run(
                std::io::stdin().lock(),
                std::io::stdout().lock(),
                std::io::stderr().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse(command) => Ok(parse::run(&command)),
        Command::Session(command) => Ok(session::run(
            &config.store.data_dir,
            command,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr().lock(),
        )),
        Command::Read(command) => read::run(config, command),
        Command::Operator(command) => bazaar_runtime::operator::cli::run(&config, command).await,
        Command::Completions { .. } | Command::Man => Ok(ExitCode::SUCCESS),
    }
}
