//! `bazaar demo`: the simulated market and the daemon in one command, on one clock, so an
//! operator watches the whole loop on the console within minutes — find, value, negotiate,
//! approve, buy, list, sell, delist, P&L. The world is `bazaar sim serve`'s and the daemon is
//! `bazaar run`, started with the configuration the world wrote for it; the world's mail is a
//! throwaway Postfix + Dovecot when there is one, in-process otherwise.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use bazaar_config::Config;
use bazaar_sim::mail::ThrowawayServer;
use serde_json::{json, Value};

use super::daemon;
use crate::simulate::{free_loopback_address, ServeConfig, ServedWorld};

/// `bazaar demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// A built-in scenario (small, default, stress) or a TOML file.
    #[arg(long, default_value = "default")]
    scenario: String,
    /// The seed (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Simulated seconds per wall-clock second (3600: a simulated day every 24 seconds; the
    /// first sale comes after some four to seven simulated days).
    #[arg(long, default_value_t = 3600)]
    speed: u32,
    /// Where the world's files, the daemon's configuration and its data go (the daemon's data
    /// from an earlier demo there is replaced).
    #[arg(long, value_name = "DIR", default_value = "demo-out")]
    out: PathBuf,
    /// You answer the approvals and fill in the condition of what was bought, at the console.
    /// By default a stand-in operator does both after a few seconds, so the loop runs on
    /// its own while you watch.
    #[arg(long)]
    manual: bool,
    /// The world's mail: `postfix` (a throwaway Postfix + Dovecot on loopback; needs root,
    /// installs the packages if missing), `in-process`, or `auto` (Postfix when running as
    /// root with it installed).
    #[arg(long, value_enum, default_value = "auto")]
    mail: DemoMail,
}

/// Where the world's mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DemoMail {
    Auto,
    Postfix,
    InProcess,
}

/// How long the stand-in operator leaves an approval or a task in view before doing it.
const OPERATOR_DELAY: Duration = Duration::from_secs(5);

/// Runs the demo until SIGINT or SIGTERM.
pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    bazaar_mail::install_crypto_provider();
    // From the start: a Ctrl-C while the mail server or the world starts stops them too.
    let mut signals = daemon::Signals::install()?;
    let manual = args.manual;
    let started = tokio::select! {
        started = start(args) => started?,
        () = signals.stop() => return Ok(ExitCode::from(130)),
    };
    let Started {
        served,
        mail_server,
        config,
        config_path,
        console,
        token,
    } = started;
    let mail = served.in_process_agent_mail()?;
    let (stop_world, world_stopped) = tokio::sync::oneshot::channel::<()>();
    let world = tokio::spawn(async move {
        let stop = async {
            let _ = world_stopped.await;
        };
        served.run(stop, &mut std::io::stdout()).await
    });
    let operator = DemoOperator {
        client: reqwest::Client::builder()
            .no_proxy()
            .build()
            .context("an HTTP client for the console")?,
        root: console.clone(),
        token: token.clone(),
        hands_off: !manual,
    };
    let operator = tokio::spawn(operator.work());
    println!(
        "\nwatch it at {console}/console (log in with the token {token}){}\n\
         Ctrl-C stops the daemon and the world.",
        if manual {
            "; the approvals and the items' condition are yours to answer there"
        } else {
            "; a stand-in operator answers the approvals and fills in what was bought after \
             a few seconds (--manual: you do)"
        }
    );
    let code = daemon::run_with(config, Some(config_path), mail, signals).await;
    operator.abort();
    let _ = stop_world.send(());
    match world.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("bazaar: the world: {error}"),
        Err(error) => eprintln!("bazaar: the world stopped abnormally: {error}"),
    }
    drop(mail_server);
    code
}

/// The world started, with its mail server and what the daemon needs.
struct Started {
    served: ServedWorld,
    /// Stopped when dropped.
    mail_server: Option<ThrowawayServer>,
    config: Config,
    config_path: PathBuf,
    console: String,
    token: String,
}

/// Starts the mail server and the world, and reads the configuration written for the
/// daemon.
async fn start(args: DemoArgs) -> anyhow::Result<Started> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let out = std::fs::canonicalize(&args.out)?;
    forget_earlier_demo(&out)?;
    let mut stdout = std::io::stdout();
    let mail_server = start_mail(args.mail, &mut stdout)?;
    let served = ServedWorld::start(ServeConfig {
        scenario: args.scenario,
        seed: args.seed,
        speed: args.speed,
        out: out.clone(),
        mail_env: mail_server.as_ref().map(ThrowawayServer::env_file),
    })
    .await?;
    served.print_endpoints(&mut stdout);
    let written = served.written();
    let config_path = written.path.clone();
    let console = format!("http://{}", written.operator);
    let config = Config::load(Some(&config_path), std::iter::empty())
        .with_context(|| format!("the written configuration {}", config_path.display()))?;
    let token = std::fs::read_to_string(out.join("secrets/operator-token"))?;
    Ok(Started {
        served,
        mail_server,
        config,
        config_path,
        console,
        token: token.trim().to_string(),
    })
}

/// A demo starts a new business on a new world: the daemon's data from an earlier demo in
/// this directory would hold another world's listings. Only a directory `sim serve` wrote
/// (its `bazaar.toml` says so) is cleared.
fn forget_earlier_demo(out: &Path) -> anyhow::Result<()> {
    let written = std::fs::read_to_string(out.join("bazaar.toml")).unwrap_or_default();
    let data = out.join("agent-data");
    if written.starts_with("# Written by `bazaar sim serve`") && data.exists() {
        std::fs::remove_dir_all(&data)
            .with_context(|| format!("cannot clear the earlier demo's {}", data.display()))?;
    }
    Ok(())
}

/// Postfix + Dovecot with a catch-all account for the world's people, when asked for (or, on
/// `auto`, when this is root and they are installed); `None`: the mail stays in-process.
fn start_mail(mode: DemoMail, stdout: &mut dyn Write) -> anyhow::Result<Option<ThrowawayServer>> {
    let root = is_root();
    let installed =
        Path::new("/usr/sbin/postfix").exists() && Path::new("/usr/sbin/dovecot").exists();
    match mode {
        DemoMail::InProcess => return Ok(None),
        DemoMail::Auto if !(root && installed) => {
            let _ = writeln!(
                stdout,
                "mail: in-process (for real Postfix + Dovecot, run as root with them installed, \
                 or pass --mail postfix as root to install them)"
            );
            return Ok(None);
        }
        DemoMail::Postfix if !root => {
            anyhow::bail!("--mail postfix needs root (it runs its own Postfix + Dovecot)")
        }
        _ => {}
    }
    let smtp = free_loopback_address()?.port();
    let imap = free_loopback_address()?.port();
    let _ = writeln!(
        stdout,
        "mail: starting Postfix + Dovecot on 127.0.0.1:{smtp} and :{imap}"
    );
    // Not under `out`: that is the owner's alone (0700), and Postfix's own users must reach
    // their queue and lock files.
    let dir = std::env::temp_dir().join(format!("bazaar-demo-mail-{}", std::process::id()));
    match ThrowawayServer::start_catch_all(&dir, smtp, imap, "world") {
        Ok(server) => Ok(Some(server)),
        Err(why) if mode == DemoMail::Auto => {
            let _ = writeln!(
                stdout,
                "mail: in-process (Postfix + Dovecot did not start: {why})"
            );
            Ok(None)
        }
        Err(why) => anyhow::bail!("Postfix + Dovecot did not start: {why}"),
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Watches the business through the daemon's API and tells the terminal what happened to
/// each item (bought, listed, sold). Hands-off, it also stands in for the operator, as a
/// person at the console would: approves what the gate asks about and, as at pickup,
/// records what was bought as in good condition — each a few seconds after it appeared, so
/// it can be seen waiting.
struct DemoOperator {
    client: reqwest::Client,
    root: String,
    token: String,
    hands_off: bool,
}

impl DemoOperator {
    async fn work(self) {
        let started = Instant::now();
        let mut first_seen: BTreeMap<String, Instant> = BTreeMap::new();
        let mut told: BTreeMap<String, String> = BTreeMap::new();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let mut due = |key: String| {
                first_seen.entry(key).or_insert_with(Instant::now).elapsed() >= OPERATOR_DELAY
            };
            let items = self.call(self.client.get(self.url("/api/v1/items"))).await;
            for item in items["items"].as_array().into_iter().flatten() {
                let Some(id) = item["id"].as_str() else {
                    continue;
                };
                let news = item_news(item);
                if told.get(id) != Some(&news) {
                    let elapsed = started.elapsed().as_secs();
                    println!("[{}m{:02}s] {news}", elapsed / 60, elapsed % 60);
                    told.insert(id.to_string(), news);
                }
                if self.hands_off
                    && item["condition"] == "unknown"
                    && item["status"] == "in_stock"
                    && due(format!("item {id}"))
                {
                    let path = format!("/api/v1/items/{id}");
                    let edit = self
                        .client
                        .patch(self.url(&path))
                        .json(&json!({"condition": "good"}));
                    self.call(edit).await;
                    println!(
                        "operator: inspected {:?} at pickup: good condition",
                        item["title"].as_str().unwrap_or(id)
                    );
                }
            }
            if !self.hands_off {
                continue;
            }
            let approvals = self.call(self.client.get(self.url("/api/approvals"))).await;
            for approval in approvals["approvals"].as_array().into_iter().flatten() {
                // Decisions only: a task (a missing field …) is done by doing it, above.
                let (Some(id), false) = (approval["id"].as_str(), approval["action"].is_null())
                else {
                    continue;
                };
                if due(id.to_string()) {
                    let path = format!("/api/approvals/{id}/approve");
                    self.call(self.client.post(self.url(&path))).await;
                    println!(
                        "operator: approved {}",
                        approval["summary"].as_str().unwrap_or(id)
                    );
                }
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.root)
    }

    /// The answer's JSON, or `null` when the daemon is not answering (yet).
    async fn call(&self, request: reqwest::RequestBuilder) -> Value {
        match request.bearer_auth(&self.token).send().await {
            Ok(response) if response.status().is_success() => {
                response.json().await.unwrap_or(Value::Null)
            }
            _ => Value::Null,
        }
    }
}

/// Where an item stands, in a line: "sold \"Oak table\" (bought for $48.00): ebay sold at $92.00".
fn item_news(item: &Value) -> String {
    let money = |m: &Value| {
        serde_json::from_value::<bazaar_memory::Money>(m.clone())
            .map(|m| m.to_string())
            .unwrap_or_default()
    };
    let channels: Vec<String> = item["listings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            let price = money(&l["price"]);
            let at = if price.is_empty() {
                String::new()
            } else {
                format!(" at {price}")
            };
            format!(
                "{} {}{at}",
                l["marketplace"].as_str().unwrap_or("?"),
                l["status"].as_str().unwrap_or("?")
            )
        })
        .collect();
    format!(
        "{} {:?} (bought for {}){}",
        item["status"].as_str().unwrap_or("?"),
        item["title"].as_str().unwrap_or("?"),
        money(&item["cost"]),
        if channels.is_empty() {
            String::new()
        } else {
            format!(": {}", channels.join(", "))
        }
    )
}
