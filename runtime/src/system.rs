//! System assembly: the store, the index, the clock and the supervised actors of one
//! Bazaar process, and its orderly shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::analyzer::{AnalyzerMsg, DealAnalyzer};
use bazaar_agents::autopilot::{Autopilot, AutopilotMsg};
use bazaar_agents::inventory::{Inventory, InventoryMsg};
use bazaar_agents::lister::{Lister, ListerMsg};
use bazaar_agents::mail::{Connectors, MailConnector, MailTransport};
use bazaar_agents::negotiator::{Negotiator, NegotiatorMsg};
use bazaar_agents::purchase::Arrangement;
use bazaar_agents::researcher::{Researcher, ResearcherMsg};
use bazaar_agents::selling::Selling;
use bazaar_agents::{ActorReport, Addresses, AgentContext};
use bazaar_config::Config;
use bazaar_memory::{
    meta_keys, Addr, Envelope, IndexConfig, ProductIndex, Quiescence, SharedClock, SledStore, Store,
};
use bazaar_policies::{Effector, GateEvent, GateMsg, NoConnector, PolicyGate, PolicyGateArgs};
use ractor::{Actor, ActorRef};
use tokio::sync::watch;

use crate::supervisor::{
    ChildSpec, Escalation, RestartPolicy, StartFn, Supervisor, SupervisorArgs, SupervisorMsg,
};

/// Builds the [`ChildSpec`] for an actor whose messages come in [`Envelope`]s: each start
/// spawns it linked to the supervisor and points `addr` at it.
pub fn child_spec<A, M>(
    addr: Addr<M>,
    actor: impl Fn() -> A + Send + Sync + 'static,
    args: impl Fn() -> A::Arguments + Send + Sync + 'static,
) -> ChildSpec
where
    A: Actor<Msg = Envelope<M>>,
    M: Send + 'static,
{
    let name = addr.name();
    let unbind = addr.clone();
    let actor = Arc::new(actor);
    let args = Arc::new(args);
    let start: StartFn = Arc::new(move |supervisor| {
        let addr = addr.clone();
        let actor = actor.clone();
        let args = args.clone();
        Box::pin(async move {
            let (actor_ref, _) = A::spawn_linked(None, actor(), args(), supervisor).await?;
            let cell = actor_ref.get_cell();
            addr.bind(actor_ref);
            Ok(cell)
        })
    });
    ChildSpec {
        name,
        start,
        on_stop: Arc::new(move |for_good| {
            if for_good {
                unbind.close();
            } else {
                unbind.unbind();
            }
        }),
    }
}

/// Where the store and the index live under a data directory.
pub fn store_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("store")
}

/// Where the search index lives under a data directory.
pub fn index_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("index")
}

/// Index settings from the configuration.
pub fn index_config(config: &Config) -> IndexConfig {
    IndexConfig {
        batch_size: config.index.batch_size,
        commit_interval: Duration::from_millis(config.index.commit_interval_ms),
        merge_in_step: config.index.merge_in_step,
        ..IndexConfig::default()
    }
}

/// What a system is assembled from.
pub struct SystemParts {
    /// The configuration.
    pub config: Arc<Config>,
    pub store: SledStore,
    /// The search index.
    pub index: ProductIndex,
    pub clock: SharedClock,
    /// Where the gate carries actions out.
    pub effector: Arc<dyn Effector>,
    /// The agent's mailbox (the Negotiator reads it; the gate's effector sends through it).
    pub mail: Option<Arc<dyn MailTransport>>,
    /// The marketplaces the Researcher searches.
    pub sources: Vec<Arc<dyn bazaar_agents::connectors::Source>>,
    /// The channels items are listed on and where their sales are read from.
    pub selling: Selling,
}

impl SystemParts {
    /// Parts for a system with no connectors: every action the gate clears fails with
    /// "no connector is configured".
    pub fn without_connectors(
        config: Arc<Config>,
        store: SledStore,
        index: ProductIndex,
        clock: SharedClock,
    ) -> SystemParts {
        SystemParts {
            config,
            store,
            index,
            clock,
            effector: Arc::new(NoConnector),
            mail: None,
            sources: Vec::new(),
            selling: Selling::default(),
        }
    }

    /// Parts for a system that negotiates by email through `mail`: the gate sends
    /// `SendEmail` actions through it and fails every other action with "no connector".
    pub fn with_mail(
        config: Arc<Config>,
        store: SledStore,
        index: ProductIndex,
        clock: SharedClock,
        mail: Arc<dyn MailTransport>,
    ) -> SystemParts {
        let connector = MailConnector::new(mail.clone(), store.clone(), clock.clone());
        let effector = Connectors {
            mail: Some(Arc::new(connector)),
            marketplace: None,
            purchases: None,
        };
        SystemParts {
            config,
            store,
            index,
            clock,
            effector: Arc::new(effector),
            mail: Some(mail),
            sources: Vec::new(),
            selling: Selling::default(),
        }
    }

    /// Parts for a system that buys and sells: purchases are arranged with the seller
    /// ([`Arrangement`]), marketplace actions go through `marketplace` (e.g. `EbaySell`),
    /// email through `mail` when given; items are listed on `selling`'s channels.
    #[allow(clippy::too_many_arguments)]
    pub fn with_selling(
        config: Arc<Config>,
        store: SledStore,
        index: ProductIndex,
        clock: SharedClock,
        mail: Option<Arc<dyn MailTransport>>,
        marketplace: Option<Arc<dyn Effector>>,
        selling: Selling,
    ) -> SystemParts {
        let mail_connector = mail.clone().map(|mail| {
            Arc::new(MailConnector::new(mail, store.clone(), clock.clone())) as Arc<dyn Effector>
        });
        let effector = Connectors {
            mail: mail_connector,
            marketplace,
            purchases: Some(Arc::new(Arrangement::new(store.clone(), clock.clone()))),
        };
        SystemParts {
            config,
            store,
            index,
            clock,
            effector: Arc::new(effector),
            mail,
            sources: Vec::new(),
            selling,
        }
    }
}

/// The search index is derived from the store and re-indexes a product only when what it
/// holds of it changes, so an update lost in a crash (queued, never committed) would stay
/// lost: after a run that did not close the index, or with an index from another version,
/// it is rebuilt before anything reads it.
async fn rebuild_index_if_behind(store: &SledStore, index: &ProductIndex) -> anyhow::Result<()> {
    let crashed = store.get_meta::<bool>(meta_keys::INDEX_IN_USE)?.is_some();
    if !crashed && !index.was_reset() {
        return Ok(());
    }
    if crashed {
        tracing::warn!(
            "the last run stopped without closing the search index; rebuilding it from the store"
        );
    } else {
        tracing::warn!("search index was from another version; rebuilding it from the store");
    }
    let documents = index.rebuild(store).await?;
    tracing::info!(documents, "search index rebuilt");
    Ok(())
}

/// A running Bazaar: six agents and the policy gate under one supervisor.
pub struct System {
    pub store: SledStore,
    /// The search index.
    pub index: ProductIndex,
    pub clock: SharedClock,
    /// In-flight accounting; quiet when no message is being handled or waiting.
    pub quiet: Quiescence,
    /// Everyone's address.
    pub addrs: Addresses,
    /// The gate's events (webhooks and the inbox page subscribe).
    pub events: tokio::sync::broadcast::Sender<GateEvent>,
    /// The channels items are listed on.
    pub selling_channels: Vec<bazaar_agents::selling::SellingChannel>,
    supervisor: ActorRef<SupervisorMsg>,
    supervisor_done: tokio::task::JoinHandle<()>,
    escalation: watch::Receiver<Escalation>,
    /// Closed at shutdown (a browser they started stops with the system).
    sources: Vec<Arc<dyn bazaar_agents::connectors::Source>>,
}

/// How a system ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shutdown {
    /// Asked to stop (signal or caller); in-flight work finished.
    Requested {
        /// Messages still in flight when the drain timed out (0 when it completed).
        abandoned: usize,
    },
    /// The supervisor gave up on a failing actor.
    Escalated {
        /// The actor.
        child: &'static str,
        /// Its last error.
        error: String,
    },
}

impl System {
    /// Starts every actor under a supervisor configured from `config`.
    pub async fn start(parts: SystemParts) -> anyhow::Result<System> {
        let SystemParts {
            config,
            store,
            index,
            clock,
            effector,
            mail,
            sources,
            selling,
        } = parts;
        rebuild_index_if_behind(&store, &index).await?;
        store.put_meta(meta_keys::INDEX_IN_USE, &true)?;
        store.sync().await?;
        let (events, _) = tokio::sync::broadcast::channel(1024);
        let quiet = Quiescence::new();
        let addrs = Addresses::new(&quiet, config.intake.credit);
        let llm = bazaar_agents::llm::LlmClient::from_config(&config.llm)?.map(Arc::new);
        let selling_channels = selling.channels.clone();
        let ctx = AgentContext {
            store: store.clone(),
            index: index.clone(),
            clock: clock.clone(),
            addrs: addrs.clone(),
            config: config.clone(),
            mail,
            llm,
            sources: sources.clone(),
            selling,
        };
        let gate_args = PolicyGateArgs {
            store: store.clone(),
            clock: clock.clone(),
            config: Arc::new(config.policy.clone()),
            effector,
            events: events.clone(),
            addr: addrs.gate.clone(),
        };
        let agent = move || ctx.clone();
        // Start order matters for rest_for_one: the gate first (everyone depends on it),
        // then the pipeline in the direction messages flow.
        let children = vec![
            child_spec::<PolicyGate, GateMsg>(addrs.gate.clone(), PolicyGate::default, move || {
                gate_args.clone()
            }),
            child_spec::<Inventory, InventoryMsg>(
                addrs.inventory.clone(),
                Inventory::default,
                agent.clone(),
            ),
            child_spec::<Lister, ListerMsg>(addrs.lister.clone(), Lister::default, agent.clone()),
            child_spec::<Autopilot, AutopilotMsg>(
                addrs.autopilot.clone(),
                Autopilot::default,
                agent.clone(),
            ),
            child_spec::<Negotiator, NegotiatorMsg>(
                addrs.negotiator.clone(),
                Negotiator::default,
                agent.clone(),
            ),
            child_spec::<DealAnalyzer, AnalyzerMsg>(
                addrs.analyzer.clone(),
                DealAnalyzer::default,
                agent.clone(),
            ),
            child_spec::<Researcher, ResearcherMsg>(
                addrs.researcher.clone(),
                Researcher::default,
                agent,
            ),
        ];
        let (supervisor, escalation) = start_supervisor(
            children,
            RestartPolicy::from(&config.supervisor),
            clock.clone(),
        )
        .await?;
        Ok(System {
            store,
            index,
            clock,
            quiet,
            addrs,
            events,
            selling_channels,
            supervisor: supervisor.0,
            supervisor_done: supervisor.1,
            escalation,
            sources,
        })
    }

    /// Every actor's account of itself, in a fixed order.
    pub async fn reports(&self) -> Vec<ActorReport> {
        actor_reports(&self.addrs).await
    }

    /// Resolves when the supervisor gives up on a failing actor.
    pub async fn escalated(&mut self) -> (&'static str, String) {
        loop {
            if let Escalation::GaveUp { child, error } = self.escalation.borrow_and_update().clone()
            {
                return (child, error);
            }
            if self.escalation.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Stops taking work, lets in-flight work finish (up to `drain`), stops the actors,
    /// flushes the store and commits the index.
    pub async fn shutdown(self, drain: Duration) -> anyhow::Result<Shutdown> {
        let escalated = match self.escalation.borrow().clone() {
            Escalation::GaveUp { child, error } => Some((child, error)),
            Escalation::None => None,
        };
        let drained = tokio::time::timeout(drain, self.quiet.wait_quiet())
            .await
            .is_ok();
        let abandoned = if drained { 0 } else { self.quiet.in_flight() };
        if !drained {
            tracing::warn!(abandoned, "drain timed out; stopping with work in flight");
        }
        let _ = ractor::call!(self.supervisor, SupervisorMsg::Shutdown);
        let _ = self.supervisor_done.await;
        for source in &self.sources {
            source.close().await;
        }
        self.index.close().await?;
        self.store.remove_meta(meta_keys::INDEX_IN_USE)?;
        self.store.sync().await?;
        tracing::info!("store flushed and index committed");
        Ok(match escalated {
            Some((child, error)) => Shutdown::Escalated { child, error },
            None => Shutdown::Requested { abandoned },
        })
    }
}

/// Every agent's account of itself, in a fixed order (what `System::reports` and the
/// operator API's status show); an agent that could not answer is reported by its error.
pub async fn actor_reports(a: &Addresses) -> Vec<ActorReport> {
    ask_actors(a)
        .await
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|(actor, error)| ActorReport {
                actor,
                summary: error,
                idle: None,
            })
        })
        .collect()
}

/// How long an agent has to answer a status question: a busy one (a long appraisal, a
/// browser page) is reported as busy while the others answer.
const STATUS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Asks every agent for its report, all at once, in a fixed order: the report, or the
/// agent's name and why it could not answer (within [`STATUS_WAIT`]).
pub async fn ask_actors(a: &Addresses) -> Vec<Result<ActorReport, (&'static str, String)>> {
    macro_rules! ask {
        ($addr:expr, $msg:path) => {
            async {
                match tokio::time::timeout(STATUS_WAIT, $addr.ask($msg)).await {
                    Ok(answer) => answer.map_err(|error| ($addr.name(), error.to_string())),
                    Err(_) => Err((
                        $addr.name(),
                        format!("busy: no answer within {}s", STATUS_WAIT.as_secs()),
                    )),
                }
            }
        };
    }
    let (researcher, analyzer, negotiator, inventory, lister, autopilot) = tokio::join!(
        ask!(a.researcher, ResearcherMsg::Status),
        ask!(a.analyzer, AnalyzerMsg::Status),
        ask!(a.negotiator, NegotiatorMsg::Status),
        ask!(a.inventory, InventoryMsg::Status),
        ask!(a.lister, ListerMsg::Status),
        ask!(a.autopilot, AutopilotMsg::Status),
    );
    vec![
        researcher, analyzer, negotiator, inventory, lister, autopilot,
    ]
}

/// Spawns a supervisor over `children`; returns it and the escalation signal.
pub async fn start_supervisor(
    children: Vec<ChildSpec>,
    policy: RestartPolicy,
    clock: SharedClock,
) -> anyhow::Result<(
    (ActorRef<SupervisorMsg>, tokio::task::JoinHandle<()>),
    watch::Receiver<Escalation>,
)> {
    let (escalation_tx, escalation) = watch::channel(Escalation::None);
    let args = SupervisorArgs {
        children,
        policy,
        clock,
        escalation: escalation_tx,
    };
    let supervisor = Supervisor::spawn(None, Supervisor, args)
        .await
        .map_err(|e| anyhow::anyhow!("actors failed to start: {e}"))?;
    Ok((supervisor, escalation))
}

/// The marketplaces the Researcher searches, from `[marketplaces]`: eBay's Browse API and a
/// Craigslist site when enabled. A secret that cannot be read is an error naming its key.
pub fn sources_from_config(
    config: &Config,
    store: &SledStore,
    clock: &SharedClock,
) -> anyhow::Result<Vec<Arc<dyn bazaar_agents::connectors::Source>>> {
    use anyhow::Context;
    use bazaar_agents::connectors::craigslist::{Craigslist, CraigslistSettings};
    use bazaar_agents::connectors::ebay::{EbayBrowse, EbaySettings};
    use bazaar_agents::connectors::PoliteConfig;

    let mut sources: Vec<Arc<dyn bazaar_agents::connectors::Source>> = Vec::new();
    if config.marketplaces.ebay.enabled {
        let settings = EbaySettings::from_config(config).context("[marketplaces.ebay]")?;
        let browse = EbayBrowse::new(
            settings,
            PoliteConfig::default(),
            store.clone(),
            clock.clone(),
        )
        .context("[marketplaces.ebay]")?;
        sources.push(Arc::new(browse));
    }
    let craigslist = &config.marketplaces.craigslist;
    if craigslist.enabled {
        let spacing = Duration::from_millis(craigslist.request_spacing_ms);
        let polite = PoliteConfig {
            min_delay: spacing,
            jitter: spacing / 2,
            ..PoliteConfig::default()
        };
        let mut site = Craigslist::new(
            CraigslistSettings::new(&craigslist.base_url),
            polite,
            clock.clone(),
        )
        .context("[marketplaces.craigslist]")?;
        if let Some(browser) = reply_page_browser(config, clock)? {
            site = site.with_renderer(browser);
        }
        sources.push(Arc::new(site));
    }
    if config.marketplaces.facebook.enabled {
        sources.push(facebook_browser(config, clock)?);
    }
    Ok(sources)
}

/// Facebook Marketplace in one long-lived headless Chromium, with the imported session's
/// cookies (`<data_dir>/secrets/sessions/facebook.json`) and its own profile under the data
/// directory.
fn facebook_browser(
    config: &Config,
    clock: &SharedClock,
) -> anyhow::Result<Arc<dyn bazaar_agents::connectors::Source>> {
    use anyhow::Context;
    use bazaar_agents::connectors::marketplace::{
        find_chromium, MarketplaceBrowser, MarketplaceSettings,
    };
    let Some(chromium) = find_chromium() else {
        anyhow::bail!(
            "[marketplaces.facebook] is enabled but Chromium is not installed: `apt-get install chromium`, or set enabled = false"
        );
    };
    let mut settings = MarketplaceSettings::new(
        &config.marketplaces.facebook.base_url,
        &config.store.data_dir,
    );
    settings.chromium = chromium;
    let browser = MarketplaceBrowser::new(
        settings,
        bazaar_agents::connectors::PoliteConfig::default(),
        clock.clone(),
    )
    .context("[marketplaces.facebook]")?;
    Ok(Arc::new(browser))
}

/// A headless Chromium for the Craigslist reply pages whose script writes the seller's
/// address, when Chromium is installed (it starts on the first such page, with its own
/// profile under `<data_dir>/browser/craigslist`); without one those addresses are asked of
/// the operator.
fn reply_page_browser(
    config: &Config,
    clock: &SharedClock,
) -> anyhow::Result<Option<Arc<dyn bazaar_agents::connectors::PageRenderer>>> {
    use bazaar_agents::connectors::marketplace::{
        find_chromium, MarketplaceBrowser, MarketplaceSettings,
    };
    let Some(chromium) = find_chromium() else {
        return Ok(None);
    };
    let data_dir = &config.store.data_dir;
    let mut settings = MarketplaceSettings::new(&config.marketplaces.craigslist.base_url, data_dir);
    settings.chromium = chromium;
    settings.profile_dir = data_dir.join("browser").join("craigslist");
    settings.session_file = None;
    let browser = MarketplaceBrowser::new(
        settings,
        bazaar_agents::connectors::PoliteConfig::default(),
        clock.clone(),
    )?;
    Ok(Some(Arc::new(browser)))
}

/// The selling side `[selling]` configures.
pub struct ConfiguredSelling {
    /// Channels, order feeds, rules.
    pub selling: Selling,
    /// eBay's Sell connector, when eBay is a channel.
    pub marketplace: Option<Arc<dyn Effector>>,
    /// eBay's orders (the poll, and the notifications it verifies), when eBay is a channel.
    pub ebay_orders: Option<Arc<bazaar_agents::connectors::ebay_orders::EbayOrders>>,
    /// The notification destination's verification token, when eBay is to push sales.
    pub verification_token: Option<bazaar_config::SecretValue>,
}

/// The channels, the eBay seller connector and the order feeds `[selling]` names, with
/// their secrets resolved. An error names the key to fix.
pub fn selling_from_config(
    config: &Config,
    store: &SledStore,
    clock: &SharedClock,
) -> anyhow::Result<ConfiguredSelling> {
    use anyhow::Context;
    use bazaar_agents::connectors::ebay::EbaySettings;
    use bazaar_agents::connectors::ebay_orders::EbayOrders;
    use bazaar_agents::connectors::ebay_sell::{
        EbaySell, EbaySellClient, EbaySellSettings, ListingPolicyIds, LocationAddress,
    };
    use bazaar_agents::connectors::PoliteConfig;
    use bazaar_agents::selling::{OrderFeed, SellingChannel};
    use bazaar_memory::Marketplace;

    let section = &config.selling;
    let channels = section
        .channels
        .iter()
        .map(|&marketplace| match marketplace {
            Marketplace::Ebay => SellingChannel::native(marketplace),
            _ => SellingChannel::assisted(marketplace),
        })
        .collect();
    let mut selling = Selling::new(
        channels,
        Vec::new(),
        Duration::from_secs(section.poll_minutes * 60),
    );
    selling.rewrite_copy = section.rewrite_copy;
    let mut configured = ConfiguredSelling {
        selling,
        marketplace: None,
        ebay_orders: None,
        verification_token: None,
    };
    if !section.channels.contains(&Marketplace::Ebay) {
        return Ok(configured);
    }
    let ebay = &section.ebay;
    let api = EbaySettings::from_config(config).context("[marketplaces.ebay]")?;
    let refresh_token = ebay
        .refresh_token
        .as_ref()
        .context("selling.ebay.refresh_token is not set")?
        .resolve("selling.ebay.refresh_token")?;
    let mut settings = EbaySellSettings::new(api, refresh_token.expose());
    settings.policies = ListingPolicyIds {
        fulfillment_policy_id: ebay.fulfillment_policy_id.clone(),
        payment_policy_id: ebay.payment_policy_id.clone(),
        return_policy_id: ebay.return_policy_id.clone(),
    };
    settings.merchant_location_key =
        Some(ebay.merchant_location_key.clone()).filter(|key| !key.trim().is_empty());
    settings.location_address = Some(ebay.location_postal_code.trim())
        .filter(|code| !code.is_empty())
        .map(|code| LocationAddress {
            postal_code: code.to_string(),
            country: ebay.location_country.trim().to_ascii_uppercase(),
        });
    let client = Arc::new(
        EbaySellClient::new(
            settings,
            PoliteConfig::official_api(),
            store.clone(),
            clock.clone(),
        )
        .context("[selling.ebay]")?,
    );
    let orders = Arc::new(EbayOrders::new(client.clone()));
    let feed: Arc<dyn OrderFeed> = orders.clone();
    configured.selling.orders.push(feed);
    configured.selling.interest.push(client.clone());
    configured.marketplace = Some(Arc::new(EbaySell::new(client)));
    configured.ebay_orders = Some(orders);
    if ebay.notifications {
        let token = ebay
            .verification_token
            .as_ref()
            .context("selling.ebay.verification_token is not set")?
            .resolve("selling.ebay.verification_token")?;
        let valid = (32..=80).contains(&token.expose().len())
            && token
                .expose()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        anyhow::ensure!(
            valid,
            "selling.ebay.verification_token must be 32 to 80 characters of A-Z, a-z, 0-9, _ and - (eBay's rule)"
        );
        configured.verification_token = Some(token);
    }
    Ok(configured)
}
