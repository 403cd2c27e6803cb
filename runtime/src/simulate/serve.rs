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
    /// The agent's configuration could not be written (or eBay's consent failed).
    #[error("cannot write the agent's configuration {path}: {message}")]
    AgentConfig {
        /// The file.
        path: String,
        /// Why.
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
    /// The account every other address of the domain is delivered to
    /// (`BAZAAR_MAIL_CATCHALL`): then every seller and buyer has mail.
    catch_all: Option<String>,
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
            catch_all: env
                .get("BAZAAR_MAIL_CATCHALL")
                .filter(|user| !user.is_empty())
                .map(|user| user.to_string()),
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
    out: &mut (dyn Write + Send),
) -> Result<(), ServeError> {
    let served = ServedWorld::start(config).await?;
    served.print_endpoints(out);
    served.run(stop, out).await
}

/// A world started for a separately running daemon, with the configuration written for it.
pub struct ServedWorld {
    world: World,
    server: Option<MailServer>,
    config: ServeConfig,
    written: WrittenConfig,
    /// The world's time at `origin_wall`: from then on it is a function of the wall clock.
    origin: chrono::DateTime<chrono::Utc>,
    origin_wall: chrono::DateTime<chrono::Utc>,
}

impl ServedWorld {
    /// Starts the world and writes `<out>/bazaar.toml` for the daemon.
    pub async fn start(config: ServeConfig) -> Result<ServedWorld, ServeError> {
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
                if let Some(user) = &server.catch_all {
                    WorldMail::CatchAll {
                        transport: Arc::new(server.transport(user)?),
                        domain: server.domain.clone(),
                    }
                } else {
                    let mut sellers: Vec<Arc<dyn MailTransport>> = Vec::new();
                    for user in server.users.iter().filter(|u| u.as_str() != "agent") {
                        sellers.push(Arc::new(server.transport(user)?));
                    }
                    WorldMail::Accounts { sellers }
                }
            }
        };
        let world_config = WorldConfig {
            scenario,
            seed: config.seed,
            mail,
            event_log: Some(config.out.join("events.jsonl")),
            journal: None,
        };
        let world = World::start(world_config).await?;
        // eBay's tokens last two hours of the agent's time, not of the world's.
        world.ebay().set_speed(config.speed);
        // The world's time is a function of the wall clock from here: the origin of the clock
        // the daemon follows.
        let origin = world.now();
        let origin_wall = chrono::Utc::now();
        let written = write_agent_config(&world, server.as_ref(), &config, origin_wall).await?;
        Ok(ServedWorld {
            world,
            server,
            config,
            written,
            origin,
            origin_wall,
        })
    }

    /// The configuration written for the daemon.
    pub fn written(&self) -> &WrittenConfig {
        &self.written
    }

    /// The agent's mail transport when the world's mail is in-process (the daemon must then
    /// run in this process); `None` with a real mail server.
    pub fn in_process_agent_mail(&self) -> Result<Option<Arc<dyn MailTransport>>, ServeError> {
        Ok(self.world.agent_transport()?)
    }

    /// Prints the world's endpoints and accounts, and the daemon's configuration.
    pub fn print_endpoints(&self, out: &mut (dyn Write + Send)) {
        print_endpoints(
            &self.world,
            self.server.as_ref(),
            &self.config,
            &self.written,
            out,
        );
    }

    /// Advances the world's clock at its speed until `stop` resolves; then writes the ground
    /// truth and stops the world.
    pub async fn run(
        self,
        stop: impl Future<Output = ()>,
        out: &mut (dyn Write + Send),
    ) -> Result<(), ServeError> {
        let ServedWorld {
            mut world,
            config,
            origin,
            origin_wall,
            ..
        } = self;
        tokio::pin!(stop);
        let mut ticker = tokio::time::interval(TICK);
        let speed = i32::try_from(config.speed).unwrap_or(i32::MAX);
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
            let until = (origin + (chrono::Utc::now() - origin_wall) * speed).min(world.end());
            if until > world.now() {
                world.run_until(until).await?;
            }
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
}

/// Writes `<out>/bazaar.toml`, the configuration a separately started `bazaar run` needs
/// to work this world: its eBay (search, and selling with a seller's consent given here),
/// its Craigslist-style site, its language model, its mail (with `--mail-env`; in-process
/// mail cannot be reached from another process), saved searches for each category, and an
/// operator token. Secrets go in files beside it (`<out>/secrets/`, the owner's alone), as
/// Bazaar's configuration asks.
async fn write_agent_config(
    world: &World,
    server: Option<&MailServer>,
    config: &ServeConfig,
    origin_wall: chrono::DateTime<chrono::Utc>,
) -> Result<WrittenConfig, ServeError> {
    use bazaar_agents::connectors::ebay::EbaySettings;
    use bazaar_agents::connectors::ebay_sell::exchange_authorization_code;
    use bazaar_sim::ebay::scopes;

    let path = config.out.join("bazaar.toml");
    let failed = |message: String| ServeError::AgentConfig {
        path: path.display().to_string(),
        message,
    };
    let e = world.endpoints();
    // The seller's consent, given once here (it expires within seconds of real time at a
    // high --speed): the refresh token lasts.
    let app = bazaar_sim::ebay::EbayConfig::default();
    let api = EbaySettings::new(&e.ebay, &app.client_id, &app.client_secret, 100_000);
    let code = world.ebay().authorization_code(&[
        scopes::API,
        scopes::SELL_INVENTORY,
        scopes::SELL_FULFILLMENT,
        scopes::NOTIFICATION_SUBSCRIPTION,
    ]);
    let clock: bazaar_memory::SharedClock = Arc::new(world.clock().clone());
    let tokens = exchange_authorization_code(&api, &code, &app.ru_name, &clock)
        .await
        .map_err(|error| failed(format!("ebay consent: {error}")))?;
    let secrets = config.out.join("secrets");
    std::fs::create_dir_all(&secrets).map_err(|error| failed(error.to_string()))?;
    let secret = |name: &str, value: &str| -> Result<String, ServeError> {
        use std::os::unix::fs::PermissionsExt;
        let file = secrets.join(name);
        std::fs::write(&file, value).map_err(|error| failed(error.to_string()))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            .map_err(|error| failed(error.to_string()))?;
        let absolute = std::fs::canonicalize(&file).map_err(|error| failed(error.to_string()))?;
        Ok(format!("{{ file = {:?} }}", absolute.display().to_string()))
    };
    let operator_token = bazaar_policies::signing::to_hex(&rand::random::<[u8; 32]>());
    let listen = operator_listen()?;
    let mut text = format!(
        "# Written by `bazaar sim serve` for this world only: `bazaar --config {path} run`.\n\
         [store]\ndata_dir = {data:?}\n\n\
         [marketplaces.ebay]\nenabled = true\nbase_url = {ebay:?}\nclient_id = {id:?}\nclient_secret = {ebay_secret}\n\n\
         [marketplaces.craigslist]\nenabled = true\nbase_url = {craigslist:?}\nrequest_spacing_ms = 200\n\n\
         [llm]\nenabled = true\nbase_url = \"{llm}/v1\"\nmodel = {model:?}\napi_key = {llm_key}\n\n\
         [selling]\nchannels = [\"ebay\"]\n\n\
         [selling.ebay]\nrefresh_token = {refresh}\nfulfillment_policy_id = \"6196944000\"\n\
         payment_policy_id = \"6196945000\"\nreturn_policy_id = \"6196946000\"\n\
         merchant_location_key = \"home\"\nlocation_postal_code = \"95125\"\nlocation_country = \"US\"\n\n\
         [operator]\ntoken = {operator}\nlisten = \"{listen}\"\npublic_url = \"http://{listen}\"\n\n",
        path = path.display(),
        data = config.out.join("agent-data").display().to_string(),
        ebay = e.ebay,
        id = e.ebay_client_id,
        ebay_secret = secret("ebay-client-secret", &e.ebay_client_secret)?,
        craigslist = e.craigslist.trim_end_matches('/'),
        llm = e.llm.trim_end_matches('/').trim_end_matches("/v1"),
        llm_key = secret("llm-api-key", &e.llm_api_key)?,
        model = bazaar_sim::llm::MODEL,
        refresh = secret("ebay-refresh-token", &tokens.refresh_token)?,
        operator = secret("operator-token", &operator_token)?,
        listen = listen,
    );
    // The daemon's clock follows the world's, a tick behind (the world moves in ticks), so
    // it never asks the world about a moment the world has not reached.
    let tick = chrono::Duration::from_std(TICK).unwrap_or_default();
    text.push_str(&format!(
        "[clock]\nspeed = {}\norigin = \"{}\"\norigin_wall = \"{}\"\n\n",
        config.speed,
        world.now().to_rfc3339(),
        (origin_wall + tick).to_rfc3339()
    ));
    match server {
        Some(server) => text.push_str(&format!(
            "[mail]\nenabled = true\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {smtp}\n\
             imap_host = \"127.0.0.1\"\nimap_port = {imap}\ntls = \"none\"\n\
             username = {user:?}\nfrom_address = {user:?}\npassword = {password}\n\n",
            smtp = server.smtp_port,
            imap = server.imap_port,
            user = e.agent_mail,
            password = secret("mail-password", &server.password)?,
        )),
        None => text.push_str(
            "# Mail: this world's mail is in-process, out of another process's reach; start it\n\
             # with --mail-env (sim/scripts/mail-server.sh) to negotiate by email.\n\n",
        ),
    }
    text.push_str(&searches(world));
    std::fs::write(&path, text).map_err(|error| failed(error.to_string()))?;
    // What `bazaar run` would say of it, said now.
    bazaar_config::Config::load(Some(&path), std::iter::empty())
        .map_err(|error| failed(format!("it does not load: {error}")))?;
    Ok(WrittenConfig {
        path,
        operator: listen,
    })
}

/// The world's marketplaces as saved searches: each category of eBay and the
/// Craigslist-style site, and the JavaScript marketplace when Chromium can read it.
fn searches(world: &World) -> String {
    let mut out = String::new();
    // The JavaScript marketplace, read in Chromium when it is installed.
    if bazaar_agents::connectors::marketplace::find_chromium().is_some() {
        let endpoints = world.endpoints();
        let root = endpoints
            .marketplace
            .trim_end_matches('/')
            .trim_end_matches("/marketplace");
        out.push_str(&format!(
            "[marketplaces.facebook]\nenabled = true\nbase_url = {root:?}\n\n\
             [[researcher.searches]]\nmarketplace = \"facebook\"\nquery = \"\"\n\
             every_minutes = 60\nnewest_first = true\n\n"
        ));
    } else {
        out.push_str("# The JavaScript marketplace needs Chromium (apt-get install chromium).\n\n");
    }
    for marketplace in ["ebay", "craigslist"] {
        for category in world.scenario().categories() {
            out.push_str(&format!(
                "[[researcher.searches]]\nmarketplace = \"{marketplace}\"\nquery = \"\"\n\
                 category = \"{}\"\nevery_minutes = 10\n\n",
                category.name()
            ));
        }
    }
    out
}

/// The configuration `sim serve` wrote for the daemon.
pub struct WrittenConfig {
    /// `<out>/bazaar.toml`.
    pub path: PathBuf,
    /// Where the daemon's operator server (inbox, console, API) will listen.
    pub operator: std::net::SocketAddr,
}

/// A free loopback address for the daemon's operator server: each world its own, so a
/// daemon per world (and tests side by side) never collide on the default port.
fn operator_listen() -> Result<std::net::SocketAddr, ServeError> {
    free_loopback_address().map_err(|error| ServeError::AgentConfig {
        path: "[operator] listen".into(),
        message: format!("no free loopback port: {error}"),
    })
}

/// A loopback address nothing listens on now (the OS's pick).
pub fn free_loopback_address() -> std::io::Result<std::net::SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr())
}

fn print_endpoints(
    world: &World,
    server: Option<&MailServer>,
    config: &ServeConfig,
    agent_config: &WrittenConfig,
    out: &mut (dyn Write + Send),
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
            if let Some(user) = &server.catch_all {
                let _ = writeln!(
                    out,
                    "  everyone  else @{} (every seller and buyer) reads {user}@{}",
                    server.domain, server.domain
                );
            }
            let truth = world.ground_truth();
            let sellers: Vec<_> = truth["listings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| Some((l, l["reply_address"].as_str()?)))
                .filter(|(_, address)| address.ends_with(&format!("@{}", server.domain)))
                .collect();
            const SHOWN: usize = 10;
            if sellers.len() > SHOWN {
                let _ = writeln!(
                    out,
                    "  sellers   {} with a mailbox; the first {SHOWN}:",
                    sellers.len()
                );
            }
            for (listing, address) in sellers.into_iter().take(SHOWN) {
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
    let _ = writeln!(
        out,
        "config      {}  (`bazaar --config {} run` works this world; its secrets are beside it)",
        agent_config.path.display(),
        agent_config.path.display()
    );
    let _ = writeln!(
        out,
        "console     http://{}/console  (of that daemon; log in with the token in {})",
        agent_config.operator,
        config.out.join("secrets/operator-token").display()
    );
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}
