//! `bazaar run`: the daemon. It checks the configuration and secrets before starting
//! anything, starts the actors and the operator server, has eBay push sales when it can,
//! and runs until SIGINT or SIGTERM (SIGHUP reloads the operator's secrets).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::mail::{MailTransport, SmtpImapConfig, SmtpImapTransport};
use bazaar_config::Config;
use bazaar_memory::{ProductIndex, SledStore};

use super::read::ReadContext;
use super::{configured_clock, open_index, open_store, EXIT_USAGE};
use crate::control::ControlSocket;
use crate::ebay_notifications::{self, NotificationEndpoint};
use crate::operator::{Operator, OperatorSettings};
use crate::system::{
    selling_from_config, sources_from_config, ConfiguredSelling, Shutdown, System, SystemParts,
};

/// Exit code when the supervisor gave up on a failing actor.
pub const EXIT_ESCALATED: u8 = 3;

/// Runs the daemon until a signal stops it or the supervisor gives up.
pub async fn run(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    run_with(config, config_path, None, Signals::install()?).await
}

/// The signals the daemon stops on (SIGINT, SIGTERM) and reloads its secrets on (SIGHUP).
/// Taken before anything starts: from then on none is missed, and none kills the process
/// before it has cleaned up.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    /// Handles the three signals from now on.
    pub fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Resolves on SIGINT or SIGTERM.
    pub async fn stop(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

/// [`run`], with `mail` instead of the `[mail]` server when given (`bazaar demo`'s world
/// keeps its mail in the same process) and the signals its caller took.
pub async fn run_with(
    config: Config,
    config_path: Option<PathBuf>,
    mail: Option<Arc<dyn MailTransport>>,
    signals: Signals,
) -> anyhow::Result<ExitCode> {
    let Signals {
        mut interrupt,
        mut terminate,
        mut hangup,
    } = signals;
    let store = open_store(&config.store.data_dir)?;
    // An index from another version or left open by a crash is rebuilt by `System::start`.
    let index = open_index(&config)?;
    let drain = Duration::from_secs(config.shutdown.drain_timeout_secs);
    let config = Arc::new(config);
    // Secrets that cannot be read are configuration errors: say so before starting anything.
    let (parts, push) = match assemble(config.clone(), store, index, mail) {
        Ok(assembled) => assembled,
        Err(problem) => {
            eprintln!("bazaar: {problem:#}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let mut system = System::start(parts).await?;
    // eBay pushes sales to the operator server; the endpoint checks eBay's signatures.
    let notifications = push.map(|push| notification_endpoint(&config, push, &system));
    let routes = notifications.clone().map(ebay_notifications::router);
    let operator = match Operator::start_from_config(&system, &config, routes).await {
        Ok(operator) => operator,
        Err(error) => {
            system.shutdown(drain).await?;
            return Err(error);
        }
    };
    // Read commands answer through the daemon while it holds the store.
    let control = match ControlSocket::serve(
        &config.store.data_dir,
        Arc::new(ReadContext::held(
            config.clone(),
            system.store.clone(),
            system.index.clone(),
            system.addrs.clone(),
        )),
    ) {
        Ok(control) => Some(control),
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "read commands (status, pnl, …) cannot answer while the daemon runs");
            None
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
    if let Some(control) = control {
        control.stop().await;
    }
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

/// What eBay needs to push sales: its orders connector and the destination's token.
struct PushSales {
    orders: Arc<bazaar_agents::connectors::ebay_orders::EbayOrders>,
    verification_token: bazaar_config::SecretValue,
}

/// The system's parts from the configuration, and what eBay needs to push sales when it
/// can; an error is a configuration problem (exit 2, nothing started).
fn assemble(
    config: Arc<Config>,
    store: SledStore,
    index: ProductIndex,
    mail: Option<Arc<dyn MailTransport>>,
) -> anyhow::Result<(SystemParts, Option<PushSales>)> {
    OperatorSettings::from_config(&config.operator)?;
    bazaar_agents::llm::LlmClient::from_config(&config.llm)?;
    let clock = configured_clock(&config);
    let sources = sources_from_config(&config, &store, &clock)?;
    let selling = selling_from_config(&config, &store, &clock)?;
    let mail = match mail {
        Some(mail) => Some(mail),
        None => mail_transport(&config)?,
    };
    let ConfiguredSelling {
        selling,
        marketplace,
        ebay_orders,
        verification_token,
    } = selling;
    let push = ebay_orders
        .zip(verification_token)
        .map(|(orders, verification_token)| PushSales {
            orders,
            verification_token,
        });
    let mut parts =
        SystemParts::with_selling(config, store, index, clock, mail, marketplace, selling);
    parts.sources = sources;
    Ok((parts, push))
}

/// The SMTP + IMAP transport when `[mail]` is enabled.
fn mail_transport(config: &Config) -> anyhow::Result<Option<Arc<dyn MailTransport>>> {
    if !config.mail.enabled {
        return Ok(None);
    }
    let transport = SmtpImapConfig::from_config(&config.mail)
        .map_err(anyhow::Error::from)
        .and_then(|c| SmtpImapTransport::new(c).map_err(anyhow::Error::from))
        .map_err(|error| error.context("[mail]"))?;
    Ok(Some(Arc::new(transport)))
}

/// Where eBay pushes sales.
fn notification_endpoint(
    config: &Config,
    push: PushSales,
    system: &System,
) -> NotificationEndpoint {
    NotificationEndpoint {
        orders: push.orders,
        url: format!(
            "{}{}",
            config.operator.public_url.trim_end_matches('/'),
            ebay_notifications::PATH
        ),
        verification_token: push.verification_token.expose().to_string(),
        inventory: system.addrs.inventory.clone(),
    }
}

/// SIGHUP: reads the configuration again (file and environment) and puts its operator
/// token and webhook secrets in force, so they rotate without a restart (the new one as
/// `token` / `secret`, the old as `previous_token` / `previous_secret`, reload; once clients
/// use the new one, drop the previous and reload). Anything wrong keeps the secrets in force
/// and says why.
fn reload_operator_secrets(operator: &Operator, config_path: Option<&Path>) {
    let result = Config::load(config_path, std::env::vars())
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            OperatorSettings::from_config(&config.operator).map_err(anyhow::Error::from)
        })
        .and_then(|settings| {
            operator
                .reload_secrets(&settings)
                .map_err(anyhow::Error::from)
        });
    if let Err(error) = result {
        tracing::error!(error = %format!("{error:#}"), "SIGHUP: operator secrets not reloaded; the ones in force stay");
    }
}

/// Has eBay push sales to `endpoint` (already served). A failure is not fatal: sales are
/// still polled.
async fn subscribe_to_sales(endpoint: &NotificationEndpoint, poll_minutes: u64) {
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
