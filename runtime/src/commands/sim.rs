//! `bazaar sim`: the whole business against the simulated market, and `bazaar sim serve`,
//! the simulated world alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bazaar_config::StrategyProfile;
use clap::Subcommand;

use crate::simulate::{self, ServeConfig, SimConfig, SimOperator};

/// `bazaar sim`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SimArgs {
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
    /// How the agent does business: ours, or a baseline (seed, naive).
    #[arg(long, default_value = "ours", value_parser = parse_strategy)]
    strategy: StrategyProfile,
    /// Also run the baselines on the same world and seed; the report compares them.
    #[arg(long)]
    compare: bool,
    /// You answer the approvals, at the inbox page (`--listen`); the world waits for you.
    #[arg(long, conflicts_with = "compare")]
    interactive: bool,
    /// Where the inbox page listens with --interactive.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "ADDR")]
    listen: SocketAddr,
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

impl SimArgs {
    /// Whether this runs the business (whose own progress lines the agent's logs would
    /// drown), not the world alone.
    pub fn runs_the_business(&self) -> bool {
        self.command.is_none()
    }
}

fn parse_strategy(text: &str) -> Result<StrategyProfile, String> {
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

/// Runs the simulation (or serves the world); `data_dir` is the global `--data-dir`, where
/// the agent then keeps its store.
pub async fn run(
    args: SimArgs,
    data_dir: Option<PathBuf>,
    config_file: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    if let Some(SimCommand::Serve {
        scenario,
        seed,
        speed,
        out,
        mail_env,
    }) = args.command
    {
        let config = ServeConfig {
            scenario,
            seed,
            speed,
            out,
            mail_env,
        };
        return serve(config).await;
    }
    let operator = if args.interactive {
        SimOperator::Interactive {
            listen: args.listen,
            token: inbox_token(),
        }
    } else {
        SimOperator::Scripted {
            delay_minutes: args.operator_delay_minutes,
            error_percent: args.operator_error_percent,
        }
    };
    let config = SimConfig {
        scenario: args.scenario,
        days: args.days,
        seed: args.seed,
        out: args.out,
        data_dir,
        strategy: args.strategy,
        compare: args.compare,
        operator,
        browser: !args.no_browser,
        config_file,
    };
    match simulate::run_sim(config, &mut std::io::stdout()).await {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            eprintln!("bazaar: {error}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `BAZAAR_OPERATOR_TOKEN`, or a fresh one printed for the operator.
fn inbox_token() -> String {
    if let Ok(token) = std::env::var("BAZAAR_OPERATOR_TOKEN") {
        if !token.is_empty() {
            return token;
        }
    }
    let bytes: [u8; 16] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    println!("inbox token (BAZAAR_OPERATOR_TOKEN was not set): {token}");
    token
}

/// Serves the world until SIGINT or SIGTERM.
async fn serve(config: ServeConfig) -> anyhow::Result<ExitCode> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let stop = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    simulate::serve(config, stop, &mut std::io::stdout()).await?;
    Ok(ExitCode::SUCCESS)
}
