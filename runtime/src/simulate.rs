//! `bazaar sim serve`: the simulated world alone, on accelerated simulated time, for
//! exploring with curl, a browser or a mail client. The world's code lives in `bazaar-sim`;
//! this module only starts it, prints where it is, advances its clock and writes its files.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::mail::{MailTransport, SmtpImapConfig, SmtpImapTransport};
use bazaar_sim::scenario::{Scenario, ScenarioError};
use bazaar_sim::world::{World, WorldConfig, WorldError, WorldMail};

/// How often the clock moves, in wall time.
const TICK: Duration = Duration::from_millis(200);

/// The world's journal in a named `--data-dir` (see [`bazaar_sim::journal`]).
pub const WORLD_JOURNAL: &str = "sim-world.jsonl";

/// The daily cash and inventory points of a run in a named `--data-dir`, one JSON line per
/// day, so a resumed run's report has the days before it stopped.
const DAILY_POINTS: &str = "sim-daily.jsonl";

/// What `bazaar sim serve` was asked for.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// A built-in scenario name or a TOML file.
    pub scenario: String,
    /// The seed (the scenario's when `None`).
    pub seed: Option<u64>,
    /// Simulated seconds per wall-clock second.
    pub speed: u32,
    /// Where `events.jsonl` and `ground_truth.json` go.
    pub out: PathBuf,
    /// The `env` file `sim/scripts/mail-server.sh start` wrote: sellers then use that
    /// server's accounts, reachable with any mail client.
    pub mail_env: Option<PathBuf>,
}

/// Why the world could not be served.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The scenario is unknown or invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The world failed.
    #[error(transparent)]
    World(#[from] WorldError),
    /// The mail server's env file is missing or incomplete.
    #[error("mail env {path}: {message} (start the server with `sudo sim/scripts/mail-server.sh start`; it writes $BAZAAR_MAIL_DIR/env)")]
    MailEnv {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The output directory could not be created.
    #[error("cannot create {path}: {source}")]
    Out {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `--speed 0` would never move.
    #[error("--speed must be at least 1 (simulated seconds per second)")]
    Speed,
}

/// A real mail server's accounts, from `mail-server.sh`'s env file.
struct MailServer {
    domain: String,
    users: Vec<String>,
    password: String,
    smtp_port: u16,
    imap_port: u16,
}

impl MailServer {
    fn read(path: &Path) -> Result<MailServer, ServeError> {
        let error = |message: String| ServeError::MailEnv {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let env: BTreeMap<&str, &str> = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        let get = |key: &str| {
            env.get(key)
                .map(|v| v.to_string())
                .ok_or_else(|| error(format!("no {key}")))
        };
        let port = |key: &str| {
            get(key)?
                .parse::<u16>()
                .map_err(|_| error(format!("{key} is not a port")))
        };
        Ok(MailServer {
            domain: get("BAZAAR_MAIL_DOMAIN")?,
            // Full addresses (`agent@bazaar.test`); bare names get the domain.
            users: get("BAZAAR_MAIL_USERS")?
                .split_whitespace()
                .map(|u| u.split('@').next().unwrap_or(u).to_string())
                .collect(),
            password: get("BAZAAR_MAIL_PASSWORD")?,
            smtp_port: port("BAZAAR_SMTP_PORT")?,
            imap_port: port("BAZAAR_IMAP_PORT")?,
        })
    }

    fn transport(&self, user: &str) -> Result<SmtpImapTransport, ServeError> {
        let address = format!("{user}@{}", self.domain);
        let config =
            SmtpImapConfig::loopback(&address, &self.password, self.smtp_port, self.imap_port);
        SmtpImapTransport::new(config).map_err(|e| ServeError::World(WorldError::Mail(e)))
    }
}

/// Starts the world, prints its endpoints and accounts to `out`, and advances its clock at
/// `speed` until `stop` resolves; then writes the ground truth. The event log is written as
/// the world runs.
pub async fn serve(
    config: ServeConfig,
    stop: impl Future<Output = ()>,
    out: &mut dyn Write,
) -> Result<(), ServeError> {
    if config.speed == 0 {
        return Err(ServeError::Speed);
    }
    let mut scenario = Scenario::load(&config.scenario)?;
    std::fs::create_dir_all(&config.out).map_err(|source| ServeError::Out {
        path: config.out.display().to_string(),
        source,
    })?;
    let server = config
        .mail_env
        .as_deref()
        .map(MailServer::read)
        .transpose()?;
    let mail = match &server {
        None => WorldMail::InProcess,
        Some(server) => {
            scenario.mail.agent = format!("agent@{}", server.domain);
            let mut sellers: Vec<Arc<dyn MailTransport>> = Vec::new();
            for user in server.users.iter().filter(|u| u.as_str() != "agent") {
                sellers.push(Arc::new(server.transport(user)?));
            }
            WorldMail::Accounts { sellers }
        }
    };
    let world_config = WorldConfig {
        scenario,
        seed: config.seed,
        mail,
        event_log: Some(config.out.join("events.jsonl")),
        journal: None,
    };
    let mut world = World::start(world_config).await?;
    print_endpoints(&world, server.as_ref(), &config, out);

    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(TICK);
    let step = chrono::Duration::milliseconds(TICK.as_millis() as i64 * i64::from(config.speed));
    let mut day = 0;
    let mut over = false;
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = ticker.tick() => {}
        }
        if over {
            continue;
        }
        let until = (world.now() + step).min(world.end());
        world.run_until(until).await?;
        let today = (world.now() - world.scenario().start).num_days();
        if today > day {
            day = today;
            let c = world.counts();
            let _ = writeln!(
                out,
                "day {day}: {} events, {} mails read, {} sent, {} deals, {} sales, {} oversells",
                c.events, c.mail_received, c.mail_sent, c.deals, c.sales, c.oversells
            );
        }
        if world.now() >= world.end() {
            over = true;
            let _ = writeln!(
                out,
                "scenario over at {}; still serving, Ctrl-C to stop",
                world.now()
            );
        }
    }
    let truth = config.out.join("ground_truth.json");
    world.write_ground_truth(&truth)?;
    let _ = writeln!(
        out,
        "wrote {} and {}",
        config.out.join("events.jsonl").display(),
        truth.display()
    );
    world.shutdown().await?;
    Ok(())
}

fn print_endpoints(
    world: &World,
    server: Option<&MailServer>,
    config: &ServeConfig,
    out: &mut dyn Write,
) {
    let e = world.endpoints();
    let s = world.scenario();
    let lines = [
        format!(
            "bazaar sim: scenario {} seed {}, {} days from {} at {}x",
            s.name,
            world.seed(),
            s.days,
            s.start.to_rfc3339(),
            config.speed
        ),
        format!(
            "ebay        {}  (client id {}, secret {})",
            e.ebay, e.ebay_client_id, e.ebay_client_secret
        ),
        format!("craigslist  {}", e.craigslist),
        format!(
            "marketplace {}  (rendered by JavaScript: use a browser)",
            e.marketplace
        ),
        format!("llm         {}  (api key {})", e.llm, e.llm_api_key),
    ];
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
    match server {
        Some(server) => {
            let _ = writeln!(
                out,
                "mail        smtp 127.0.0.1:{}  imap 127.0.0.1:{}  password {:?}",
                server.smtp_port, server.imap_port, server.password
            );
            let _ = writeln!(out, "  agent     {}", e.agent_mail);
            let truth = world.ground_truth();
            for listing in truth["listings"].as_array().into_iter().flatten() {
                let Some(address) = listing["reply_address"].as_str() else {
                    continue;
                };
                if !address.ends_with(&format!("@{}", server.domain)) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  seller    {address}  sells {:?} (craigslist {}) asking ${}",
                    listing["title"].as_str().unwrap_or_default(),
                    listing["id"].as_str().unwrap_or_default(),
                    listing["asking"].as_str().unwrap_or_default()
                );
            }
        }
        None => {
            let _ = writeln!(
                out,
                "mail        in-process (agent {}); for a mail client, start \
                 sim/scripts/mail-server.sh and pass --mail-env $BAZAAR_MAIL_DIR/env",
                e.agent_mail
            );
        }
    }
    let _ = writeln!(
        out,
        "events      {}",
        config.out.join("events.jsonl").display()
    );
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

/// What `bazaar sim` was asked for.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// A built-in scenario name or a TOML file.
    pub scenario: String,
    /// Simulated days (the scenario's when `None`).
    pub days: Option<u32>,
    /// The seed (the scenario's when `None`).
    pub seed: Option<u64>,
    /// Where the report, the event log and the ground truth go.
    pub out: PathBuf,
    /// The agent's data directory (a fresh one under `out` when `None`). A named directory
    /// also keeps the world's journal ([`WORLD_JOURNAL`]): a run stopped at any moment and
    /// started again on it carries on in the same world where it stopped.
    pub data_dir: Option<PathBuf>,
    /// How the agent does business.
    pub strategy: bazaar_config::StrategyProfile,
    /// Also run the baselines (the other profiles) on the same world and seed, and put
    /// their P&L and negotiation figures in the report under `baselines`.
    pub compare: bool,
    /// How the operator answers approvals.
    pub operator: SimOperator,
    /// Browse the JavaScript marketplace with Chromium when it is installed (once a day: its
    /// feed up to what was read the day before); false leaves the site out.
    pub browser: bool,
    /// The operator's configuration file (`--config`), layered over the shipped defaults
    /// for the agent's policy and strategy settings; the sim still sets what the simulated
    /// market needs (its marketplaces, mail, searches and data directory).
    pub config_file: Option<PathBuf>,
}

/// Who answers the approval inbox during a sim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimOperator {
    /// A scripted operator: answers each approval once it has waited `delay_minutes` of
    /// simulated time, and rejects `error_percent` of them by mistake (drawn from the seed).
    Scripted {
        /// Simulated minutes before an answer.
        delay_minutes: u32,
        /// Share of approvals rejected by mistake, in percent.
        error_percent: u32,
    },
    /// A person, through the inbox page served at `listen` (bearer token `token`): the world
    /// waits while an action awaits approval.
    Interactive {
        /// Where the operator server listens.
        listen: std::net::SocketAddr,
        /// The token to log in with.
        token: String,
    },
}

impl Default for SimOperator {
    fn default() -> Self {
        SimOperator::Scripted {
            delay_minutes: 60,
            error_percent: 2,
        }
    }
}

/// The scripted operator's memory: its mistakes are drawn from the seed.
struct ScriptedOperator {
    delay: chrono::Duration,
    error_percent: u32,
    rng: rand::rngs::StdRng,
    approved: usize,
    rejected: usize,
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The world failed.
    #[error(transparent)]
    Serve(#[from] ServeError),
    /// The agent's side failed (store, index, connectors, actors).
    #[error("agent: {0:#}")]
    Agent(anyhow::Error),
}

impl From<WorldError> for SimError {
    fn from(error: WorldError) -> Self {
        SimError::Serve(ServeError::World(error))
    }
}

impl From<ScenarioError> for SimError {
    fn from(error: ScenarioError) -> Self {
        SimError::Serve(ServeError::Scenario(error))
    }
}

fn agent_error(error: impl Into<anyhow::Error>) -> SimError {
    SimError::Agent(error.into())
}

/// The agent's configuration in the simulation: embedded defaults, in-process mail, saved
/// searches for every category on eBay (the comparables) and the Craigslist-style site, and
/// an operator who answers the inbox (see [`answer_inbox`]).
fn agent_config(
    data_dir: &Path,
    categories: &[&str],
    strategy: bazaar_config::StrategyProfile,
    browser: bool,
    config_file: Option<&Path>,
) -> Result<bazaar_config::Config, SimError> {
    let mut config =
        bazaar_config::Config::load(config_file, std::iter::empty()).map_err(agent_error)?;
    config.strategy.profile = strategy;
    config.store.data_dir = data_dir.to_path_buf();
    config.mail.enabled = true;
    // Mail is read every half hour of simulated time; a seller's reply waits at most that.
    config.mail.poll_secs = 1_800;
    let mut searches = Vec::new();
    for marketplace in ["ebay", "craigslist"] {
        for category in categories {
            let text = format!(
                "marketplace = \"{marketplace}\"\nquery = \"\"\ncategory = \"{category}\"\nevery_minutes = 360\n"
            );
            searches.push(toml::from_str(&text).map_err(agent_error)?);
        }
    }
    if browser {
        // The browser-driven site is browsed once a day, its whole feed newest first up to
        // the listings read the day before: a page load per 24 new listings, where a search
        // per category would load six feeds a day and page through what it read already.
        let text =
            "marketplace = \"facebook\"\nquery = \"\"\nevery_minutes = 1440\nnewest_first = true\n";
        searches.push(toml::from_str(text).map_err(agent_error)?);
    }
    config.researcher.searches = searches;
    config.researcher.commit_each_page = false;
    // The index commits once per simulated hour, while the agent is quiet (see `run_sim`),
    // never on a wall-clock timer or a batch size reached mid-step: what the DealAnalyzer
    // sees then depends on the run, not on the machine's speed.
    config.index.commit_interval_ms = 86_400_000;
    config.index.batch_size = 10_000_000;
    config.index.merge_in_step = true;
    Ok(config)
}

/// The scripted operator: when the Lister asks for an item's condition (sellers' listings
/// rarely say), inspects it — the world has no damaged goods, so "good" — fills it in and
/// lists again; answers each action waiting in the inbox once it has waited the operator's
/// delay — approves it, or (at the operator's error rate) rejects it by mistake. Other
/// tasks stay for a person. With no scripted operator (interactive), only the condition
/// tasks are handled.
async fn answer_inbox(system: &crate::system::System, operator: Option<&mut ScriptedOperator>) {
    use bazaar_memory::{Approval, ApprovalStatus, Store};
    use rand::Rng;
    let Ok(pending) = system
        .store
        .find::<Approval>("by_status", ApprovalStatus::Pending.to_string().as_bytes())
    else {
        return;
    };
    for task in pending.iter().filter(|a| a.action.is_none()) {
        let Some(item) = condition_task_item(&task.summary) else {
            continue;
        };
        let Ok(Some(mut record)) = system.store.get::<bazaar_memory::InventoryItem>(&item) else {
            continue;
        };
        record.condition = bazaar_memory::Condition::Good;
        if system.store.put(&record).is_err() {
            continue;
        }
        let _ = system
            .addrs
            .gate
            .ask(|reply| bazaar_policies::GateMsg::Resolve {
                approval: task.id,
                by: "sim-operator".into(),
                happened: true,
                note: "inspected at pickup: good condition".into(),
                reply,
            })
            .await;
        let _ = system
            .addrs
            .lister
            .send(bazaar_agents::lister::ListerMsg::ListItem(item));
    }
    let Some(operator) = operator else {
        return;
    };
    let now = system.clock.now();
    for approval in pending.into_iter().filter(|a| a.action.is_some()) {
        if now - approval.requested_at < operator.delay {
            continue;
        }
        if operator.rng.random_range(0..100) < operator.error_percent {
            let answer = system
                .addrs
                .gate
                .ask(|reply| bazaar_policies::GateMsg::Reject {
                    approval: approval.id,
                    by: "sim-operator".into(),
                    reason: "rejected by mistake (the scripted operator's error rate)".into(),
                    reply,
                })
                .await;
            if matches!(answer, Ok(Ok(_))) {
                operator.rejected += 1;
            }
            continue;
        }
        let answer = system
            .addrs
            .gate
            .ask(|reply| bazaar_policies::GateMsg::Approve {
                approval: approval.id,
                by: "sim-operator".into(),
                reply,
            })
            .await;
        if matches!(answer, Ok(Ok(_))) {
            operator.approved += 1;
        }
    }
}

/// Actions the operator approved (tasks settled are not counted).
fn approved_by_operator(store: &bazaar_memory::SledStore) -> usize {
    use bazaar_memory::{Approval, ApprovalStatus, Store};
    store
        .find::<Approval>("by_status", ApprovalStatus::Approved.to_string().as_bytes())
        .map(|a| a.iter().filter(|a| a.action.is_some()).count())
        .unwrap_or(0)
}

/// Serves the operator's inbox page and API for `--interactive`.
async fn serve_inbox(
    system: &crate::system::System,
    listen: std::net::SocketAddr,
    token: &str,
    out: &mut dyn Write,
) -> Result<crate::operator::Operator, SimError> {
    use crate::operator::{Operator, OperatorContext, OperatorSettings};
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| agent_error(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
    let url = format!("http://{}", listener.local_addr().map_err(agent_error)?);
    let token = bazaar_config::SecretValue::generated(token.to_string());
    crate::operator::check_token_strength(&token)
        .map_err(|reason| agent_error(anyhow::anyhow!("BAZAAR_OPERATOR_TOKEN: {reason}")))?;
    let settings = OperatorSettings {
        token: Some(token),
        previous_token: None,
        public_url: url.clone(),
        link_ttl: Duration::from_secs(3_600),
        webhooks: Vec::new(),
        webhook_retries: 0,
        webhook_backoff_initial: Duration::from_secs(1),
        server: crate::operator::serve::ServerLimits::default(),
    };
    let operator = Operator::start(OperatorContext::of(system), settings, Some(listener))
        .await
        .map_err(agent_error)?;
    let _ = writeln!(
        out,
        "interactive: approve or reject at {url}/ (log in with the token in \
         BAZAAR_OPERATOR_TOKEN, or the one printed here if it was not set); the world waits \
         while an action needs you"
    );
    Ok(operator)
}

/// Actions waiting for the operator.
fn waiting_approvals(system: &crate::system::System) -> usize {
    use bazaar_memory::{Approval, ApprovalStatus, Store};
    system
        .store
        .find::<Approval>("by_status", ApprovalStatus::Pending.to_string().as_bytes())
        .map(|pending| pending.iter().filter(|a| a.action.is_some()).count())
        .unwrap_or(0)
}

/// The item a "fill in condition for … (item <id>) …" task is about.
fn condition_task_item(summary: &str) -> Option<bazaar_memory::ItemId> {
    if !summary.starts_with("fill in condition") {
        return None;
    }
    let rest = summary.split("(item ").nth(1)?;
    let id = rest.split(')').next()?;
    id.parse().ok()
}

/// Simulated hours between search-index commits.
const INDEX_COMMIT_HOURS: i64 = 4;

/// Lets the agent finish what the last clock move woke: every woken timer has sent its
/// message and every message is handled, twice in a row. (Without the first, a timer task
/// the runtime has not polled yet would act during the world's next hour, at a time that
/// depends on the machine's load.) The world calls it too, after a push.
async fn settle(quiet: &bazaar_memory::mailbox::Quiescence, clock: &bazaar_memory::SimClock) {
    let mut calm = 0;
    while calm < 2 {
        tokio::time::sleep(Duration::from_millis(1)).await;
        quiet.wait_quiet().await;
        if clock.pending_wakes() == 0 {
            calm += 1;
        } else {
            calm = 0;
        }
    }
}

/// Runs the whole business against the simulated world: the world and the agent share a
/// simulated clock that moves from one due event (the world's, or an agent timer) to the
/// next whenever the agent is quiet. Writes `report.json`, `report.html`, `events.jsonl` and
/// `ground_truth.json` to the output directory and prints a summary.
pub async fn run_sim(
    config: SimConfig,
    out: &mut dyn Write,
) -> Result<serde_json::Value, SimError> {
    let mut report = run_one(config.clone(), out).await?;
    if !config.compare {
        return Ok(report);
    }
    let mut baselines = serde_json::Map::new();
    for profile in bazaar_config::StrategyProfile::ALL {
        if profile == config.strategy {
            continue;
        }
        let _ = writeln!(
            out,
            "baseline {}: the same world and seed, run again…",
            profile.name()
        );
        let baseline = SimConfig {
            out: config.out.join("baselines").join(profile.name()),
            data_dir: None,
            strategy: profile,
            compare: false,
            ..config.clone()
        };
        let result = run_one(baseline, &mut std::io::sink()).await?;
        baselines.insert(
            profile.name().to_string(),
            serde_json::json!({
                "pnl": result["pnl"],
                "negotiation": result["negotiation"],
                "funnel": result["funnel"],
            }),
        );
    }
    report["baselines"] = serde_json::Value::Object(baselines);
    write_report(&config.out, &report)?;
    print_comparison(&report, out);
    Ok(report)
}

/// Writes `report.json` and `report.html` to `dir`.
fn write_report(dir: &Path, report: &serde_json::Value) -> Result<(), SimError> {
    let text = serde_json::to_string_pretty(report).unwrap_or_default();
    let html = crate::report_html::render(report);
    for (name, body) in [("report.json", text + "\n"), ("report.html", html)] {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|source| ServeError::Out {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Ours against each baseline: profit, ROI, deals.
fn print_comparison(report: &serde_json::Value, out: &mut dyn Write) {
    let row = |name: &str, r: &serde_json::Value| {
        format!(
            "  {name:<8} profit {:>10}  ROI {:>5.1} %  stock at cost {:>9}  bought {:>3}  sold {:>3}  deal rate {:>5.1} %",
            crate::report_html::dollars(&r["pnl"]["profit"]),
            r["pnl"]["roi"].as_f64().unwrap_or(0.0) * 100.0,
            crate::report_html::dollars(&r["pnl"]["stock_at_cost"]),
            r["funnel"]["bought"].as_u64().unwrap_or(0),
            r["funnel"]["sold"].as_u64().unwrap_or(0),
            r["negotiation"]["deal_rate"].as_f64().unwrap_or(0.0) * 100.0,
        )
    };
    let _ = writeln!(out, "compared on the same world:");
    let _ = writeln!(
        out,
        "{}",
        row(report["strategy"].as_str().unwrap_or("ours"), report)
    );
    if let Some(baselines) = report["baselines"].as_object() {
        for (name, baseline) in baselines {
            let _ = writeln!(out, "{}", row(name, baseline));
        }
    }
}

/// One run of the business against a fresh world.
async fn run_one(config: SimConfig, out: &mut dyn Write) -> Result<serde_json::Value, SimError> {
    use bazaar_agents::connectors::craigslist::{Craigslist, CraigslistSettings};
    use bazaar_agents::connectors::ebay::{EbayBrowse, EbaySettings};
    use bazaar_agents::connectors::Source;
    use bazaar_memory::{ProductIndex, SharedClock, SledStore};

    let wall = std::time::Instant::now();
    let mut scenario = Scenario::load(&config.scenario)?;
    if let Some(days) = config.days {
        scenario.days = days.max(1);
    }
    std::fs::create_dir_all(&config.out).map_err(|source| ServeError::Out {
        path: config.out.display().to_string(),
        source,
    })?;
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| config.out.join("agent-data"));
    if config.data_dir.is_none() && data_dir.exists() {
        // A fresh business every run unless the operator names a data directory.
        std::fs::remove_dir_all(&data_dir).map_err(agent_error)?;
    }
    // A named data directory keeps the world's journal next to the agent's store, so that
    // both carry on together after a crash.
    let journal = config.data_dir.as_ref().map(|d| d.join(WORLD_JOURNAL));
    if let Some(journal) = &journal {
        if !journal.exists() && crate::system::store_dir(&data_dir).exists() {
            return Err(agent_error(anyhow::anyhow!(
                "{} holds a business but no simulated world ({WORLD_JOURNAL}): `bazaar sim` \
                 cannot resume it; name a new --data-dir",
                data_dir.display()
            )));
        }
        std::fs::create_dir_all(&data_dir).map_err(|source| ServeError::Out {
            path: data_dir.display().to_string(),
            source,
        })?;
    }
    let world_config = WorldConfig {
        scenario,
        seed: config.seed,
        mail: WorldMail::InProcess,
        event_log: Some(config.out.join("events.jsonl")),
        journal: journal.clone(),
    };
    let mut world = World::start(world_config).await?;
    let endpoints = world.endpoints();
    let resumed = world.now() > world.scenario().start;
    let categories: Vec<&str> = world
        .scenario()
        .categories()
        .iter()
        .map(|c| c.name())
        .collect();
    let chromium = config
        .browser
        .then(bazaar_agents::connectors::marketplace::find_chromium)
        .flatten();
    let agent = agent_config(
        &data_dir,
        &categories,
        config.strategy,
        chromium.is_some(),
        config.config_file.as_deref(),
    )?;
    let clock: SharedClock = Arc::new(world.clock().clone());
    let store = SledStore::open(&crate::system::store_dir(&data_dir)).map_err(agent_error)?;
    let index_config = crate::system::index_config(&agent);
    let index = ProductIndex::open(&crate::system::index_dir(&data_dir), index_config)
        .map_err(agent_error)?;
    // Simulated time does not pass while a request waits, so no politeness delay is needed.
    let polite = bazaar_agents::connectors::polite::PoliteConfig::simulated();
    let ebay = EbayBrowse::new(
        EbaySettings::new(
            &endpoints.ebay,
            &endpoints.ebay_client_id,
            &endpoints.ebay_client_secret,
            u64::from(agent.policy.limits.api_calls_per_day),
        ),
        polite.clone(),
        store.clone(),
        clock.clone(),
    )
    .map_err(agent_error)?;
    let craigslist = Craigslist::new(
        CraigslistSettings::new(endpoints.craigslist.trim_end_matches('/')),
        polite,
        clock.clone(),
    )
    .map_err(agent_error)?;
    let mailbox = world
        .agent_transport()?
        .ok_or_else(|| agent_error(anyhow::anyhow!("the world has no post office")))?;
    let ebay_selling = ebay_selling(world.ebay(), &store, &clock).await?;
    let mut parts = crate::system::SystemParts::with_selling(
        Arc::new(agent),
        store,
        index,
        clock,
        Some(mailbox),
        Some(ebay_selling.effector),
        ebay_selling.selling,
    );
    let clock = parts.clock.clone();
    let mut sources: Vec<Arc<dyn Source>> = vec![Arc::new(ebay), Arc::new(craigslist)];
    let browser = match chromium {
        Some(chromium) => {
            use bazaar_agents::connectors::marketplace::{MarketplaceBrowser, MarketplaceSettings};
            // The connector wants the site's root; it builds `/marketplace/…` itself.
            let root = endpoints
                .marketplace
                .trim_end_matches('/')
                .trim_end_matches("/marketplace");
            let mut settings = MarketplaceSettings::new(root, &data_dir.join("browser"));
            settings.chromium = chromium;
            let browser = MarketplaceBrowser::new(
                settings,
                bazaar_agents::connectors::polite::PoliteConfig::simulated(),
                clock.clone(),
            )
            .map_err(agent_error)?;
            Some(Arc::new(browser))
        }
        None => None,
    };
    if let Some(browser) = &browser {
        sources.push(browser.clone());
    }
    parts.sources = sources;
    let system = crate::system::System::start(parts)
        .await
        .map_err(SimError::Agent)?;
    let (_, notifications) = notify_sales(&system, ebay_selling.orders).await?;
    let (quiet, sim_clock) = (system.quiet.clone(), world.clock().clone());
    world.set_settle(Arc::new(move || {
        let (quiet, clock) = (quiet.clone(), sim_clock.clone());
        Box::pin(async move { settle(&quiet, &clock).await })
    }));

    let s = world.scenario().clone();
    let javascript_site = match (&browser, config.browser) {
        (Some(_), _) => "the JavaScript marketplace is browsed with Chromium once a day",
        (None, true) => "the JavaScript marketplace is skipped: Chromium is not installed (apt-get install chromium)",
        (None, false) => "the JavaScript marketplace is left out (--no-browser)",
    };
    let _ = writeln!(
        out,
        "bazaar sim: scenario {} seed {}, {} days from {}; {javascript_site}",
        s.name,
        world.seed(),
        s.days,
        s.start.to_rfc3339()
    );
    let end = world.end();
    let mut day = (world.now() - s.start).num_days();
    if resumed {
        let _ = writeln!(
            out,
            "resuming at day {day} ({}): the world replayed its journal, the agent reads its store",
            world.now().to_rfc3339()
        );
    }
    let mut scripted = match &config.operator {
        SimOperator::Scripted {
            delay_minutes,
            error_percent,
        } => Some(ScriptedOperator {
            delay: chrono::Duration::minutes(i64::from(*delay_minutes)),
            error_percent: *error_percent,
            rng: rand::SeedableRng::seed_from_u64(world.seed() ^ 0x6f70_6572_6174_6f72),
            approved: 0,
            rejected: 0,
        }),
        SimOperator::Interactive { .. } => None,
    };
    let inbox = match &config.operator {
        SimOperator::Interactive { listen, token } => {
            Some(serve_inbox(&system, *listen, token, out).await?)
        }
        SimOperator::Scripted { .. } => None,
    };
    let daily_file = config.data_dir.as_ref().map(|d| d.join(DAILY_POINTS));
    let mut daily = read_daily_points(daily_file.as_deref(), day);
    // Stopped between the world reaching a day and its point being written: today's books.
    if daily.last().and_then(|p| p["day"].as_i64()) != Some(day) {
        let point = day_point(&system.store, day);
        write_daily_point(daily_file.as_deref(), &point)?;
        daily.push(point);
    }
    let mut next_commit = world.now();
    let mut timing = Timing {
        setup: wall.elapsed(),
        ..Timing::default()
    };
    loop {
        let agent = std::time::Instant::now();
        settle(&system.quiet, world.clock()).await;
        answer_inbox(&system, scripted.as_mut()).await;
        settle(&system.quiet, world.clock()).await;
        if inbox.is_some() {
            // The world waits for the person at the inbox page.
            let mut told = false;
            while waiting_approvals(&system) > 0 {
                if !told {
                    let _ = writeln!(
                        out,
                        "waiting: {} action(s) need your approval in the inbox",
                        waiting_approvals(&system)
                    );
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
                settle(&system.quiet, world.clock()).await;
            }
        }
        timing.agent += agent.elapsed();
        let now = world.now();
        // The index commits every few hours, with the agent quiet: what the DealAnalyzer sees
        // is then the same every run. Each commit costs fsyncs; on the hour they took 9 s of
        // the default run's 44, every four hours 3 s, and comparables a few hours old value
        // a listing as well.
        if now >= next_commit {
            let index = std::time::Instant::now();
            if let Err(error) = system.index.commit().await {
                tracing::warn!(%error, "search index commit failed");
            }
            timing.index += index.elapsed();
            next_commit = now + chrono::Duration::hours(INDEX_COMMIT_HOURS);
        }
        if now >= end {
            break;
        }
        // An hour at a time: the world plays its events in order within the hour (moving
        // time without waking the agent), then the agent's timers due in it fire and the
        // agent acts before the next hour. The world and the agent never run at once, so a
        // run depends on the seed, not on the machine's speed.
        // A resumed run first finishes the step it was stopped in.
        let next = world
            .resume_until()
            .unwrap_or_else(|| (now + chrono::Duration::hours(1)).min(end));
        let step = std::time::Instant::now();
        world.run_until(next).await?;
        timing.world += step.elapsed();
        let today = (world.now() - s.start).num_days();
        if today > day {
            day = today;
            let books = std::time::Instant::now();
            let point = day_point(&system.store, day);
            write_daily_point(daily_file.as_deref(), &point)?;
            daily.push(point);
            timing.report += books.elapsed();
            let funnel = funnel(&system.store);
            let cash = daily
                .last()
                .map(|d| crate::report_html::dollars(&d["cash"]))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "day {day}/{}: {} listings, {} pursued, {} agreed, {} sold, cash {cash}",
                s.days, funnel["found"], funnel["pursued"], funnel["agreed"], funnel["sold"]
            );
        }
    }
    settle(&system.quiet, world.clock()).await;
    let closing = std::time::Instant::now();
    let mut report = report(&world, &system, wall.elapsed());
    if let Some(operator) = &scripted {
        report["policy"]["operator_mistakes"] = serde_json::json!(operator.rejected);
    }
    report["daily"] = serde_json::Value::Array(daily);
    report["strategy"] = serde_json::json!(config.strategy.name());
    write_report(&config.out, &report)?;
    world.write_ground_truth(&config.out.join("ground_truth.json"))?;
    timing.report += closing.elapsed();
    timing.total = wall.elapsed();
    let mut timing = timing.to_json();
    timing["browser_items_read"] = serde_json::json!(browser.as_ref().map(|b| b.items_read()));
    timing["browser_s"] =
        serde_json::json!(browser.as_ref().map(|b| b.time_browsing().as_secs_f64()));
    let path = config.out.join("timing.json");
    std::fs::write(&path, format!("{timing:#}\n")).map_err(|source| ServeError::Out {
        path: path.display().to_string(),
        source,
    })?;
    print_summary(&report, &config.out, out);
    let _ = writeln!(
        out,
        "time: {:.1} s — agent {:.1} s{}, world {:.1} s, index commits {:.1} s, set-up {:.1} s, \
         books and report {:.1} s (timing.json)",
        timing["total_s"].as_f64().unwrap_or(0.0),
        timing["agent_s"].as_f64().unwrap_or(0.0),
        timing["browser_s"]
            .as_f64()
            .map(|s| format!(" (in the browser {s:.1} s)"))
            .unwrap_or_default(),
        timing["world_s"].as_f64().unwrap_or(0.0),
        timing["index_s"].as_f64().unwrap_or(0.0),
        timing["setup_s"].as_f64().unwrap_or(0.0),
        timing["report_s"].as_f64().unwrap_or(0.0),
    );
    notifications.abort();
    if let Some(browser) = &browser {
        browser.shutdown().await;
    }
    if let Some(inbox) = inbox {
        inbox.stop().await;
    }
    system
        .shutdown(Duration::from_secs(10))
        .await
        .map_err(SimError::Agent)?;
    world.shutdown().await?;
    Ok(report)
}

/// The daily points a run in this data directory wrote for days up to `day`.
fn read_daily_points(path: Option<&Path>, day: i64) -> Vec<serde_json::Value> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Vec::new();
    };
    let mut points: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|p| p["day"].as_i64().is_some_and(|d| d <= day))
        .collect();
    points.dedup_by(|later, earlier| later["day"] == earlier["day"]);
    points
}

/// Appends a daily point when the run has a named data directory.
fn write_daily_point(path: Option<&Path>, point: &serde_json::Value) -> Result<(), SimError> {
    let Some(path) = path else {
        return Ok(());
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| ServeError::Out {
            path: path.display().to_string(),
            source,
        })?;
    file.write_all(format!("{point}\n").as_bytes())
        .map_err(|source| ServeError::Out {
            path: path.display().to_string(),
            source,
        })?;
    Ok(())
}

/// Where a run's wall time went (`timing.json`; not in the report, which must not depend on
/// the machine).
#[derive(Debug, Default)]
struct Timing {
    /// Opening the store and index, starting the world and the agent.
    setup: Duration,
    /// The agent working between the world's hours (and the scripted operator).
    agent: Duration,
    /// The world playing its hours (sellers, buyers, marketplaces).
    world: Duration,
    /// Search index commits on the hour.
    index: Duration,
    /// The daily books, the report and the ground truth.
    report: Duration,
    /// All of it.
    total: Duration,
}

impl Timing {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "total_s": self.total.as_secs_f64(),
            "setup_s": self.setup.as_secs_f64(),
            "agent_s": self.agent.as_secs_f64(),
            "world_s": self.world.as_secs_f64(),
            "index_s": self.index.as_secs_f64(),
            "report_s": self.report.as_secs_f64(),
        })
    }
}

/// What selling on the sim's eBay is made of.
pub struct EbaySelling {
    /// Publishes, revises and withdraws (the gate's marketplace connector).
    pub effector: Arc<dyn bazaar_policies::Effector>,
    /// eBay as the one native channel, its order feed and its watchers.
    pub selling: bazaar_agents::selling::Selling,
    /// Verifies notifications and reads orders.
    pub orders: Arc<bazaar_agents::connectors::ebay_orders::EbayOrders>,
}

/// Selling on the sim's eBay as the agent's seller account: the seller consents once (an
/// authorization code exchanged for a refresh token, as `bazaar` would be set up for real),
/// items are listed natively there, and sales arrive as signed notifications (see
/// [`notify_sales`]) with Fulfillment read every hour as the fallback.
pub async fn ebay_selling(
    sim: &bazaar_sim::ebay::EbaySim,
    store: &bazaar_memory::SledStore,
    clock: &bazaar_memory::SharedClock,
) -> Result<EbaySelling, SimError> {
    use bazaar_agents::connectors::ebay::EbaySettings;
    use bazaar_agents::connectors::ebay_orders::EbayOrders;
    use bazaar_agents::connectors::ebay_sell::{
        exchange_authorization_code, EbaySell, EbaySellClient, EbaySellSettings, ListingPolicyIds,
    };
    use bazaar_agents::selling::{OrderFeed, Selling, SellingChannel};
    use bazaar_sim::ebay::scopes;

    let app = bazaar_sim::ebay::EbayConfig::default();
    let api = EbaySettings::new(sim.base_url(), &app.client_id, &app.client_secret, 100_000);
    let code = sim.authorization_code(&[
        scopes::API,
        scopes::SELL_INVENTORY,
        scopes::SELL_FULFILLMENT,
        scopes::NOTIFICATION_SUBSCRIPTION,
    ]);
    let tokens = exchange_authorization_code(&api, &code, &app.ru_name, clock)
        .await
        .map_err(agent_error)?;
    let mut settings = EbaySellSettings::new(api, tokens.refresh_token);
    settings.policies = ListingPolicyIds {
        fulfillment_policy_id: "6196944000".into(),
        payment_policy_id: "6196945000".into(),
        return_policy_id: "6196946000".into(),
    };
    settings.merchant_location_key = Some("home".into());
    let client = Arc::new(
        EbaySellClient::new(
            settings,
            bazaar_agents::connectors::polite::PoliteConfig::simulated(),
            store.clone(),
            clock.clone(),
        )
        .map_err(agent_error)?,
    );
    let orders = Arc::new(EbayOrders::new(client.clone()));
    let feed: Arc<dyn OrderFeed> = orders.clone();
    let mut selling = Selling::new(
        vec![SellingChannel::native(bazaar_memory::Marketplace::Ebay)],
        vec![feed],
        Duration::from_secs(3_600),
    );
    selling.interest = vec![client.clone()];
    Ok(EbaySelling {
        effector: Arc::new(EbaySell::new(client)),
        selling,
        orders,
    })
}

/// Serves the agent's eBay notification endpoint on loopback and subscribes the sim's eBay
/// to it, so each sale reaches the Inventory the moment a buyer pays. Returns the
/// endpoint's URL and the serving task.
pub async fn notify_sales(
    system: &crate::system::System,
    orders: Arc<bazaar_agents::connectors::ebay_orders::EbayOrders>,
) -> Result<(String, tokio::task::JoinHandle<()>), SimError> {
    use crate::ebay_notifications::{new_verification_token, serve, NotificationEndpoint, PATH};
    let token = new_verification_token();
    let inventory = system.addrs.inventory.clone();
    let (addr, task) = serve(([127, 0, 0, 1], 0).into(), |addr| NotificationEndpoint {
        orders: orders.clone(),
        url: format!("http://{addr}{PATH}"),
        verification_token: token.clone(),
        inventory,
    })
    .await
    .map_err(agent_error)?;
    let url = format!("http://{addr}{PATH}");
    orders.subscribe(&url, &token).await.map_err(agent_error)?;
    Ok((url, task))
}

/// Cash (everything booked: sales less purchases, fees, postage, refunds) and inventory
/// value at cost (items bought and not sold) at the end of `day`.
fn day_point(store: &bazaar_memory::SledStore, day: i64) -> serde_json::Value {
    use bazaar_memory::{InventoryItem, ItemStatus, Store};
    let cash = crate::commands::books::pnl(store, None)
        .map(|p| p.total.profit())
        .unwrap_or_default();
    let inventory: i64 = store
        .all::<InventoryItem>()
        .unwrap_or_default()
        .iter()
        .filter(|i| {
            matches!(
                i.lifecycle.status,
                ItemStatus::Draft | ItemStatus::InStock | ItemStatus::Listed
            )
        })
        .map(|i| i.cost_basis.minor)
        .sum();
    serde_json::json!({"day": day, "cash": cash, "inventory": inventory})
}

/// Wall milliseconds from a sale's notification to the last withdrawal done: p50, p99
/// (nearest rank) and how many sales were measured.
pub fn delist_latency(store: &bazaar_memory::SledStore) -> serde_json::Value {
    let mut ms: Vec<u64> = bazaar_agents::lister::delist_latencies(store)
        .unwrap_or_default()
        .into_values()
        .collect();
    ms.sort_unstable();
    serde_json::json!({
        "p50": nearest_rank(&ms, 50),
        "p99": nearest_rank(&ms, 99),
        "n": ms.len(),
    })
}

/// The `percent` percentile of `sorted` by nearest rank; `None` when it is empty.
pub fn nearest_rank(sorted: &[u64], percent: usize) -> Option<u64> {
    let n = sorted.len();
    (n > 0).then(|| sorted[(n * percent).div_ceil(100).clamp(1, n) - 1])
}

/// Per sold item: its margin (profit over revenue, basis points) and days from listed to
/// sold.
fn sold_items(store: &bazaar_memory::SledStore) -> (Vec<i64>, Vec<i64>) {
    use bazaar_memory::{InventoryItem, ItemStatus, Store};
    let books = crate::commands::books::pnl(store, None).ok();
    let (mut margins, mut days) = (Vec::new(), Vec::new());
    for item in store.all::<InventoryItem>().unwrap_or_default() {
        let at = |status: ItemStatus| {
            item.lifecycle
                .history
                .iter()
                .find(|c| c.to == status)
                .map(|c| c.at)
        };
        let Some(sold) = at(ItemStatus::Sold) else {
            continue;
        };
        if let Some(listed) = at(ItemStatus::Listed) {
            days.push((sold - listed).num_days());
        }
        let pnl = books.as_ref().and_then(|b| b.items.get(&Some(item.id)));
        if let Some(pnl) = pnl.filter(|p| p.revenue > 0) {
            margins.push(pnl.profit() * 10_000 / pnl.revenue);
        }
    }
    (margins, days)
}

/// Counts along the funnel, from the agent's store.
fn funnel(store: &bazaar_memory::SledStore) -> serde_json::Value {
    use bazaar_memory::{
        InventoryItem, ItemStatus, MarketListing, Negotiation, NegotiationStatus, Opportunity,
        OpportunityStatus, Store,
    };
    let opportunities = store.all::<Opportunity>().unwrap_or_default();
    let ever = |status: OpportunityStatus| {
        opportunities
            .iter()
            .filter(|o| {
                o.lifecycle.status == status || o.lifecycle.history.iter().any(|c| c.to == status)
            })
            .count()
    };
    let items = store.all::<InventoryItem>().unwrap_or_default();
    let ever_item = |statuses: &[ItemStatus]| {
        items
            .iter()
            .filter(|i| {
                statuses.contains(&i.lifecycle.status)
                    || i.lifecycle.history.iter().any(|c| statuses.contains(&c.to))
            })
            .count()
    };
    let negotiations = store.all::<Negotiation>().unwrap_or_default();
    let agreed = negotiations
        .iter()
        .filter(|n| n.lifecycle.status == NegotiationStatus::Agreed)
        .count();
    serde_json::json!({
        "found": store.count::<MarketListing>(),
        "analyzed": ever(OpportunityStatus::Analyzed),
        "pursued": ever(OpportunityStatus::Pursuing),
        "negotiated": negotiations.len(),
        "agreed": agreed,
        "bought": items.len(),
        "listed": ever_item(&[ItemStatus::Listed, ItemStatus::Sold, ItemStatus::Shipped]),
        "sold": ever_item(&[ItemStatus::Sold, ItemStatus::Shipped]),
    })
}

/// The machine-readable report: funnel, negotiation, valuation and policy figures.
fn report(world: &World, system: &crate::system::System, wall: Duration) -> serde_json::Value {
    use bazaar_memory::{
        ActionRecord, ActionStatus, MarketListing, Negotiation, NegotiationStatus, Opportunity,
        Party, Store,
    };
    let store = &system.store;
    let truth = world.ground_truth();
    let hidden: BTreeMap<String, (i64, i64, i64)> = truth["listings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let cents = |k: &str| -> Option<i64> {
                let text = l[k].as_str()?;
                bazaar_memory::Money::from_decimal_str(text, bazaar_memory::Currency::Usd)
                    .ok()
                    .map(|m| m.minor)
            };
            Some((
                l["reply_address"]
                    .as_str()
                    .unwrap_or(l["id"].as_str()?)
                    .to_string(),
                (cents("asking")?, cents("reserve")?, cents("market_value")?),
            ))
        })
        .collect();
    // Negotiation figures against the sellers' hidden reserves.
    let negotiations = store.all::<Negotiation>().unwrap_or_default();
    let (mut deals, mut feasible, mut feasible_deals, mut rounds) =
        (0usize, 0usize, 0usize, 0usize);
    let mut surplus = Vec::new();
    for n in &negotiations {
        let Some(&(asking, reserve, _)) = hidden.get(&n.seller_address) else {
            continue;
        };
        let agreed = n.lifecycle.status == NegotiationStatus::Agreed;
        rounds += n.rounds.iter().filter(|r| r.from == Party::Us).count();
        if reserve <= n.ceiling.minor {
            feasible += 1;
            feasible_deals += usize::from(agreed);
        }
        if let (true, Some(price)) = (agreed, n.agreed_price) {
            deals += 1;
            if asking > reserve {
                surplus.push((asking - price.minor) as f64 / (asking - reserve) as f64);
            }
        }
    }
    let rate = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mean = |v: &[f64]| {
        if v.is_empty() {
            0.0
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    // Valuation error on the listings valued, against their hidden market values.
    let mut errors: Vec<f64> = Vec::new();
    for opportunity in store.all::<Opportunity>().unwrap_or_default() {
        let (Some(valuation), Ok(Some(listing))) = (
            &opportunity.valuation,
            store.get::<MarketListing>(&opportunity.listing),
        ) else {
            continue;
        };
        let key = listing.seller.external_id.clone();
        let value = hidden
            .get(&key)
            .map(|h| h.2)
            .or_else(|| hidden.get(&listing.external_id).map(|h| h.2));
        if let Some(value) = value.filter(|v| *v > 0) {
            errors.push((valuation.market_value.minor - value).abs() as f64 / value as f64);
        }
    }
    errors.sort_by(f64::total_cmp);
    let mape = errors.get(errors.len() / 2).copied();
    // Accrual basis, as a reseller's books read: the cost of goods is what the sold items
    // cost; stock still held at the end is reported at cost beside it, and the cash view
    // (every purchase spent) is kept as `cash`.
    let (books, stock, cash) = crate::commands::books::pnl(store, None)
        .ok()
        .map(|p| (p.sold(), p.stock_at_cost(), p.total.profit()))
        .unwrap_or_default();
    let invested = books.cost + books.fees + books.shipping + books.refunds;
    let pnl = serde_json::json!({
        "revenue": books.revenue,
        "cost_of_goods": books.cost,
        "fees": books.fees,
        "shipping": books.shipping,
        "refunds": books.refunds,
        "profit": books.profit(),
        "roi": if invested > 0 { books.profit() as f64 / invested as f64 } else { 0.0 },
        "stock_at_cost": stock,
        "cash": cash,
    });
    let (margins, days_to_sell) = sold_items(store);
    let actions = store.all::<ActionRecord>().unwrap_or_default();
    let count = |status: ActionStatus| {
        actions
            .iter()
            .filter(|a| a.lifecycle.status == status)
            .count()
    };
    serde_json::json!({
        "scenario": world.scenario().name,
        "seed": world.seed(),
        "days": world.scenario().days,
        "pnl": pnl,
        "funnel": funnel(store),
        "negotiation": {
            "negotiations": negotiations.len(),
            "deal_rate": rate(deals, negotiations.len()),
            "feasible_deal_rate": rate(feasible_deals, feasible),
            "surplus_captured": mean(&surplus),
            "mean_rounds": rate(rounds, negotiations.len()),
        },
        "valuation": { "mape": mape, "n": errors.len() },
        "selling": {
            "oversells": world.counts().oversells,
            "delist_latency_ms": delist_latency(&system.store),
            "margins_bp": margins,
            "days_to_sell": days_to_sell,
        },
        "policy": {
            "executed": count(ActionStatus::Executed),
            "approved": approved_by_operator(store),
            "rejected": count(ActionStatus::Rejected),
            "blocked": count(ActionStatus::Blocked),
            "undone": count(ActionStatus::Undone),
        },
        "world": world.counts(),
        "wall_seconds": wall.as_secs_f64(),
    })
}

fn print_summary(report: &serde_json::Value, dir: &Path, out: &mut dyn Write) {
    let f = &report["funnel"];
    let n = &report["negotiation"];
    let lines = [
        format!(
            "funnel: {} listings found, {} analyzed, {} pursued, {} negotiated, {} agreed",
            f["found"], f["analyzed"], f["pursued"], f["negotiated"], f["agreed"]
        ),
        format!(
            "negotiation: deal rate {:.0}%, feasible deal rate {:.0}%, surplus captured {:.0}%, {:.1} rounds",
            n["deal_rate"].as_f64().unwrap_or(0.0) * 100.0,
            n["feasible_deal_rate"].as_f64().unwrap_or(0.0) * 100.0,
            n["surplus_captured"].as_f64().unwrap_or(0.0) * 100.0,
            n["mean_rounds"].as_f64().unwrap_or(0.0)
        ),
        format!(
            "valuation: median error {} over {} listings",
            report["valuation"]["mape"]
                .as_f64()
                .map_or("n/a".to_string(), |m| format!("{:.0}%", m * 100.0)),
            report["valuation"]["n"]
        ),
        format!(
            "policy: {} executed, {} approved by the operator, {} blocked",
            report["policy"]["executed"], report["policy"]["approved"], report["policy"]["blocked"]
        ),
        {
            let p = &report["pnl"];
            let money = |k: &str| bazaar_memory::Money::usd(p[k].as_i64().unwrap_or(0)).to_string();
            format!(
                "profit: {} on {} sold: revenue {}, cost of goods sold {}, fees {}, postage {}; ROI {:.0}%. {} bought; stock held {} at cost; cash {}",
                money("profit"),
                f["sold"],
                money("revenue"),
                money("cost_of_goods"),
                money("fees"),
                money("shipping"),
                p["roi"].as_f64().unwrap_or(0.0) * 100.0,
                f["bought"],
                money("stock_at_cost"),
                money("cash"),
            )
        },
        format!(
            "wrote {} and report.html ({:.1} s)",
            dir.join("report.json").display(),
            report["wall_seconds"].as_f64().unwrap_or(0.0)
        ),
    ];
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::condition_task_item;

    #[test]
    fn condition_tasks_name_their_item() {
        let id = bazaar_memory::ItemId::new_at(chrono::Utc::now());
        let summary =
            format!("fill in condition for \"Table\" (item {id}) so it can be listed on ebay");
        assert_eq!(condition_task_item(&summary), Some(id));
        assert_eq!(
            condition_task_item(&format!("read mail from x (item {id})")),
            None
        );
        assert_eq!(
            condition_task_item("fill in condition for \"x\" (item nonsense)"),
            None
        );
    }
}
