//! `bazaar sim`: the whole business against the simulated market. The world (`bazaar-sim`)
//! and the agent (the same actors `bazaar run` starts) share a simulated clock; this module
//! starts both, moves the clock an hour at a time, plays the operator, and writes the
//! report. `serve` runs the world alone.

mod inbox;
pub mod report;
mod serve;

pub use report::{delist_latency, nearest_rank, Report};
pub use serve::{
    free_loopback_address, serve, ServeConfig, ServeError, ServedWorld, WrittenConfig,
};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::connectors::marketplace::MarketplaceBrowser;
use bazaar_memory::Store;
use bazaar_sim::scenario::{Scenario, ScenarioError};
use bazaar_sim::world::{World, WorldConfig, WorldError, WorldMail};

use crate::system::System;
use inbox::{answer_inbox, serve_inbox, waiting_approvals, ScriptedOperator};
use report::DayPoint;

/// The world's journal in a named `--data-dir` (see [`bazaar_sim::journal`]).
pub const WORLD_JOURNAL: &str = "sim-world.jsonl";

/// The daily cash and inventory points of a run in a named `--data-dir`, one JSON line per
/// day, so a resumed run's report has the days before it stopped.
const DAILY_POINTS: &str = "sim-daily.jsonl";

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
    // The saved searches browse every category on eBay, so memory has comparables; a cold
    // start's commit would race the DealAnalyzer's reads and make runs differ.
    config.researcher.cold_start_searches_per_day = 0;
    // The index commits once per simulated hour, while the agent is quiet (see `run_sim`),
    // never on a wall-clock timer or a batch size reached mid-step: what the DealAnalyzer
    // sees then depends on the run, not on the machine's speed.
    config.index.commit_interval_ms = 86_400_000;
    config.index.batch_size = 10_000_000;
    config.index.merge_in_step = true;
    Ok(config)
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
pub async fn run_sim(config: SimConfig, out: &mut dyn Write) -> Result<Report, SimError> {
    let mut report = run_one(config.clone(), out).await?;
    if !config.compare {
        return Ok(report);
    }
    let mut baselines = BTreeMap::new();
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
        baselines.insert(profile.name().to_string(), result.as_baseline());
    }
    report.baselines = Some(baselines);
    write_report(&config.out, &report)?;
    report::print_comparison(&report, out);
    Ok(report)
}

/// Writes `report.json` and `report.html` to `dir`.
fn write_report(dir: &Path, report: &Report) -> Result<(), SimError> {
    let text = serde_json::to_string_pretty(report).map_err(agent_error)?;
    let html = crate::report_html::render(report);
    for (name, body) in [("report.json", text + "\n"), ("report.html", html)] {
        write_file(&dir.join(name), body.as_bytes())?;
    }
    Ok(())
}

fn write_file(path: &Path, body: &[u8]) -> Result<(), SimError> {
    std::fs::write(path, body).map_err(|source| {
        SimError::Serve(ServeError::Out {
            path: path.display().to_string(),
            source,
        })
    })
}

fn create_dir(dir: &Path) -> Result<(), SimError> {
    std::fs::create_dir_all(dir).map_err(|source| {
        SimError::Serve(ServeError::Out {
            path: dir.display().to_string(),
            source,
        })
    })
}

/// Where a run keeps the agent's data, and what lets a run in a named data directory
/// carry on after a crash.
struct RunFiles {
    data_dir: PathBuf,
    /// The world's journal (a named data directory only).
    journal: Option<PathBuf>,
    /// The daily points written so far (a named data directory only).
    daily: Option<PathBuf>,
}

impl RunFiles {
    /// A fresh data directory under `out` every run, unless the operator names one; a named
    /// one keeps the world's journal next to the agent's store, so both carry on together.
    fn prepare(config: &SimConfig) -> Result<RunFiles, SimError> {
        create_dir(&config.out)?;
        let Some(data_dir) = config.data_dir.clone() else {
            let data_dir = config.out.join("agent-data");
            if data_dir.exists() {
                std::fs::remove_dir_all(&data_dir).map_err(agent_error)?;
            }
            return Ok(RunFiles {
                data_dir,
                journal: None,
                daily: None,
            });
        };
        let journal = data_dir.join(WORLD_JOURNAL);
        if !journal.exists() && crate::system::store_dir(&data_dir).exists() {
            return Err(agent_error(anyhow::anyhow!(
                "{} holds a business but no simulated world ({WORLD_JOURNAL}): `bazaar sim` \
                 cannot resume it; name a new --data-dir",
                data_dir.display()
            )));
        }
        create_dir(&data_dir)?;
        Ok(RunFiles {
            daily: Some(data_dir.join(DAILY_POINTS)),
            journal: Some(journal),
            data_dir,
        })
    }
}

/// The agent's side of a run: the actors, and what runs beside them.
struct Agent {
    system: System,
    browser: Option<Arc<MarketplaceBrowser>>,
    /// Serves eBay's sale notifications.
    notifications: tokio::task::JoinHandle<()>,
}

impl Agent {
    /// Starts the agent on the world's endpoints, with the sim's eBay as its selling
    /// account, and has the world wait for it to settle after each push.
    async fn start(
        config: &SimConfig,
        world: &mut World,
        data_dir: &Path,
    ) -> Result<Agent, SimError> {
        use bazaar_agents::connectors::craigslist::{Craigslist, CraigslistSettings};
        use bazaar_agents::connectors::ebay::{EbayBrowse, EbaySettings};
        use bazaar_agents::connectors::polite::PoliteConfig;
        use bazaar_agents::connectors::Source;
        use bazaar_memory::{ProductIndex, SharedClock, SledStore};

        let endpoints = world.endpoints();
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
            data_dir,
            &categories,
            config.strategy,
            chromium.is_some(),
            config.config_file.as_deref(),
        )?;
        let clock: SharedClock = Arc::new(world.clock().clone());
        let store = SledStore::open(&crate::system::store_dir(data_dir)).map_err(agent_error)?;
        // Durable once a simulated hour (`run_days`), not at every write; the gate's records
        // of actions stay durable before they happen.
        store.defer_flushes();
        let index_config = crate::system::index_config(&agent);
        let index = ProductIndex::open(&crate::system::index_dir(data_dir), index_config)
            .map_err(agent_error)?;
        // Simulated time does not pass while a request waits, so no politeness delay is needed.
        let ebay = EbayBrowse::new(
            EbaySettings::new(
                &endpoints.ebay,
                &endpoints.ebay_client_id,
                &endpoints.ebay_client_secret,
                u64::from(agent.policy.limits.api_calls_per_day),
            ),
            PoliteConfig::simulated(),
            store.clone(),
            clock.clone(),
        )
        .map_err(agent_error)?;
        let browser = match chromium {
            Some(chromium) => {
                use bazaar_agents::connectors::marketplace::MarketplaceSettings;
                // The connector wants the site's root; it builds `/marketplace/…` itself.
                let root = endpoints
                    .marketplace
                    .trim_end_matches('/')
                    .trim_end_matches("/marketplace");
                let mut settings = MarketplaceSettings::new(root, &data_dir.join("browser"));
                settings.chromium = chromium;
                let browser =
                    MarketplaceBrowser::new(settings, PoliteConfig::simulated(), clock.clone())
                        .map_err(agent_error)?;
                Some(Arc::new(browser))
            }
            None => None,
        };
        let mut craigslist = Craigslist::new(
            CraigslistSettings::new(endpoints.craigslist.trim_end_matches('/')),
            PoliteConfig::simulated(),
            clock.clone(),
        )
        .map_err(agent_error)?;
        if let Some(browser) = &browser {
            // The same browser shows the reply pages whose script writes the address.
            craigslist = craigslist.with_renderer(browser.clone());
        }
        let mut sources: Vec<Arc<dyn Source>> = vec![Arc::new(ebay), Arc::new(craigslist)];
        if let Some(browser) = &browser {
            sources.push(browser.clone());
        }
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
        parts.sources = sources;
        let system = System::start(parts).await.map_err(SimError::Agent)?;
        let (_, notifications) = notify_sales(&system, ebay_selling.orders).await?;
        let (quiet, sim_clock) = (system.quiet.clone(), world.clock().clone());
        world.set_settle(Arc::new(move || {
            let (quiet, clock) = (quiet.clone(), sim_clock.clone());
            Box::pin(async move { settle(&quiet, &clock).await })
        }));
        Ok(Agent {
            system,
            browser,
            notifications,
        })
    }

    async fn stop(self) -> Result<(), SimError> {
        self.notifications.abort();
        if let Some(browser) = &self.browser {
            browser.shutdown().await;
        }
        self.system
            .shutdown(Duration::from_secs(10))
            .await
            .map_err(SimError::Agent)?;
        Ok(())
    }
}

/// Who answers the inbox during the run.
struct Operator {
    scripted: Option<ScriptedOperator>,
    /// The inbox page, with `--interactive`: the world waits for the person at it.
    inbox: Option<crate::operator::Operator>,
}

impl Operator {
    async fn start(
        config: &SimConfig,
        world: &World,
        system: &System,
        out: &mut dyn Write,
    ) -> Result<Operator, SimError> {
        Ok(match &config.operator {
            SimOperator::Scripted {
                delay_minutes,
                error_percent,
            } => Operator {
                scripted: Some(ScriptedOperator {
                    delay: chrono::Duration::minutes(i64::from(*delay_minutes)),
                    error_percent: *error_percent,
                    rng: rand::SeedableRng::seed_from_u64(world.seed() ^ 0x6f70_6572_6174_6f72),
                    approved: 0,
                    rejected: 0,
                }),
                inbox: None,
            },
            SimOperator::Interactive { listen, token } => Operator {
                scripted: None,
                inbox: Some(serve_inbox(system, *listen, token, out).await?),
            },
        })
    }

    /// Lets the agent finish, answers the inbox, and with a person at the page waits until
    /// nothing awaits approval.
    async fn answer(&mut self, system: &System, world: &World, out: &mut dyn Write) {
        let clock = world.clock();
        settle(&system.quiet, clock).await;
        answer_inbox(system, world, self.scripted.as_mut()).await;
        settle(&system.quiet, clock).await;
        if self.inbox.is_none() {
            return;
        }
        let mut told = false;
        while waiting_approvals(system) > 0 {
            if !told {
                let _ = writeln!(
                    out,
                    "waiting: {} action(s) need your approval in the inbox",
                    waiting_approvals(system)
                );
                told = true;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            settle(&system.quiet, clock).await;
        }
    }
}

/// One run of the business against a fresh world.
async fn run_one(config: SimConfig, out: &mut dyn Write) -> Result<Report, SimError> {
    let wall = std::time::Instant::now();
    let mut scenario = Scenario::load(&config.scenario)?;
    if let Some(days) = config.days {
        scenario.days = days.max(1);
    }
    let files = RunFiles::prepare(&config)?;
    let world_config = WorldConfig {
        scenario,
        seed: config.seed,
        mail: WorldMail::InProcess,
        event_log: Some(config.out.join("events.jsonl")),
        journal: files.journal.clone(),
    };
    let mut world = World::start(world_config).await?;
    let resumed = world.now() > world.scenario().start;
    let agent = Agent::start(&config, &mut world, &files.data_dir).await?;
    print_start(&config, &world, agent.browser.is_some(), resumed, out);
    let mut operator = Operator::start(&config, &world, &agent.system, out).await?;
    let mut timing = Timing {
        setup: wall.elapsed(),
        ..Timing::default()
    };
    let daily = run_days(
        &mut world,
        &agent.system,
        &mut operator,
        &files,
        &mut timing,
        out,
    )
    .await?;
    let closing = std::time::Instant::now();
    let mut report = Report::of_run(&world, &agent.system.store, wall.elapsed());
    report.policy.operator_mistakes = operator.scripted.as_ref().map(|o| o.rejected);
    report.daily = daily;
    report.strategy = config.strategy.name().to_string();
    write_report(&config.out, &report)?;
    world.write_ground_truth(&config.out.join("ground_truth.json"))?;
    timing.report += closing.elapsed();
    timing.total = wall.elapsed();
    timing.browser = agent
        .browser
        .as_ref()
        .map(|b| (b.items_read(), b.time_browsing()));
    let timing = timing.seconds();
    let text = serde_json::to_string_pretty(&timing).map_err(agent_error)?;
    write_file(
        &config.out.join("timing.json"),
        format!("{text}\n").as_bytes(),
    )?;
    report::print_summary(&report, &config.out, out);
    print_timing(&timing, out);
    // The inbox page first, so nobody approves against stopping actors.
    if let Some(inbox) = operator.inbox {
        inbox.stop().await;
    }
    agent.stop().await?;
    world.shutdown().await?;
    Ok(report)
}

/// The line a run starts with, and where a resumed one picks up.
fn print_start(
    config: &SimConfig,
    world: &World,
    browsing: bool,
    resumed: bool,
    out: &mut dyn Write,
) {
    let s = world.scenario();
    let javascript_site = match (browsing, config.browser) {
        (true, _) => "the JavaScript marketplace is browsed with Chromium once a day",
        (false, true) => "the JavaScript marketplace is skipped: Chromium is not installed (apt-get install chromium)",
        (false, false) => "the JavaScript marketplace is left out (--no-browser)",
    };
    let _ = writeln!(
        out,
        "bazaar sim: scenario {} seed {}, {} days from {}; {javascript_site}",
        s.name,
        world.seed(),
        s.days,
        s.start.to_rfc3339()
    );
    if resumed {
        let _ = writeln!(
            out,
            "resuming at day {} ({}): the world replayed its journal, the agent reads its store",
            (world.now() - s.start).num_days(),
            world.now().to_rfc3339()
        );
    }
}

/// Plays the world to its end an hour at a time, the agent acting between hours; returns
/// the daily points.
async fn run_days(
    world: &mut World,
    system: &System,
    operator: &mut Operator,
    files: &RunFiles,
    timing: &mut Timing,
    out: &mut dyn Write,
) -> Result<Vec<DayPoint>, SimError> {
    let start = world.scenario().start;
    let days = world.scenario().days;
    let end = world.end();
    let mut day = (world.now() - start).num_days();
    let mut daily = read_daily_points(files.daily.as_deref(), day);
    // Stopped between the world reaching a day and its point being written: today's books.
    if daily.last().map(|p| p.day) != Some(day) {
        let books = std::time::Instant::now();
        let point = DayPoint::of(&system.store, day);
        write_daily_point(files.daily.as_deref(), &point)?;
        daily.push(point);
        timing.report += books.elapsed();
    }
    let mut next_commit = world.now();
    loop {
        let agent = std::time::Instant::now();
        operator.answer(system, world, out).await;
        timing.agent += agent.elapsed();
        // The hour's durable point: the agent is quiet, and a run stopped after it resumes
        // from here (see `SledStore::defer_flushes`).
        let sync = std::time::Instant::now();
        if let Err(error) = system.store.sync().await {
            tracing::warn!(%error, "store sync failed");
        }
        timing.store_sync += sync.elapsed();
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
        let today = (world.now() - start).num_days();
        if today > day {
            day = today;
            let books = std::time::Instant::now();
            let point = DayPoint::of(&system.store, day);
            write_daily_point(files.daily.as_deref(), &point)?;
            daily.push(point);
            timing.report += books.elapsed();
            let funnel = report::Funnel::of(&system.store);
            let _ = writeln!(
                out,
                "day {day}/{days}: {} listings, {} pursued, {} agreed, {} sold, cash {}",
                funnel.found,
                funnel.pursued,
                funnel.agreed,
                funnel.sold,
                crate::report_html::dollars(point.cash)
            );
        }
    }
    settle(&system.quiet, world.clock()).await;
    system.store.sync().await.map_err(agent_error)?;
    Ok(daily)
}

/// The daily points a run in this data directory wrote for days up to `day`.
fn read_daily_points(path: Option<&Path>, day: i64) -> Vec<DayPoint> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Vec::new();
    };
    let mut points: Vec<DayPoint> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<DayPoint>(l).ok())
        .filter(|p| p.day <= day)
        .collect();
    points.dedup_by(|later, earlier| later.day == earlier.day);
    points
}

/// Appends a daily point when the run has a named data directory.
fn write_daily_point(path: Option<&Path>, point: &DayPoint) -> Result<(), SimError> {
    let Some(path) = path else {
        return Ok(());
    };
    let line = serde_json::to_string(point).map_err(agent_error)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| ServeError::Out {
            path: path.display().to_string(),
            source,
        })?;
    file.write_all(format!("{line}\n").as_bytes())
        .map_err(|source| ServeError::Out {
            path: path.display().to_string(),
            source,
        })?;
    Ok(())
}

/// The closing line: where the wall time went.
fn print_timing(timing: &TimingSeconds, out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "time: {:.1} s — agent {:.1} s{}, world {:.1} s, index commits {:.1} s, store syncs \
         {:.1} s, set-up {:.1} s, books and report {:.1} s (timing.json)",
        timing.total_s,
        timing.agent_s,
        timing
            .browser_s
            .map(|s| format!(" (in the browser {s:.1} s)"))
            .unwrap_or_default(),
        timing.world_s,
        timing.index_s,
        timing.store_sync_s,
        timing.setup_s,
        timing.report_s,
    );
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
    /// Making the store durable on the hour.
    store_sync: Duration,
    /// The daily books, the report and the ground truth.
    report: Duration,
    /// All of it.
    total: Duration,
    /// Items the browser read and the time it took, when Chromium browsed.
    browser: Option<(u64, Duration)>,
}

/// `timing.json`: [`Timing`] in seconds.
#[derive(Debug, serde::Serialize)]
struct TimingSeconds {
    agent_s: f64,
    browser_items_read: Option<u64>,
    browser_s: Option<f64>,
    index_s: f64,
    report_s: f64,
    setup_s: f64,
    store_sync_s: f64,
    total_s: f64,
    world_s: f64,
}

impl Timing {
    fn seconds(&self) -> TimingSeconds {
        TimingSeconds {
            agent_s: self.agent.as_secs_f64(),
            browser_items_read: self.browser.map(|(items, _)| items),
            browser_s: self.browser.map(|(_, time)| time.as_secs_f64()),
            index_s: self.index.as_secs_f64(),
            report_s: self.report.as_secs_f64(),
            setup_s: self.setup.as_secs_f64(),
            store_sync_s: self.store_sync.as_secs_f64(),
            total_s: self.total.as_secs_f64(),
            world_s: self.world.as_secs_f64(),
        }
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
    settings.location_address = Some(bazaar_agents::connectors::ebay_sell::LocationAddress {
        postal_code: "95125".into(),
        country: "US".into(),
    });
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
    system: &System,
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
