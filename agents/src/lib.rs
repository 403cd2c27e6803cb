//! Bazaar's six actors and the connectors they use.
//!
//! | actor | module | owns |
//! |---|---|---|
//! | Researcher | [`researcher`] | listings seen, product and seller history |
//! | DealAnalyzer | [`analyzer`] | nothing durable: turns new listings into opportunities |
//! | Negotiator | [`negotiator`] | negotiation threads |
//! | Inventory | [`inventory`] | items, cost basis, P&L |
//! | Lister | [`lister`] | channel listings |
//! | Autopilot | [`autopilot`] | selling-side rules |
//!
//! Every actor's state is derivable from the store: a restarted actor reloads it in
//! `pre_start`. Messages arrive in an [`Envelope`](bazaar_memory::Envelope) so the system
//! can tell when it is quiet.

pub mod analyzer;
pub mod autopilot;
pub mod channel;
pub mod connectors;
pub mod incident;
pub mod inventory;
pub mod item_fields;
pub mod lister;
pub mod llm;
pub mod mail;
pub mod negotiator;
pub mod purchase;
pub mod researcher;
pub mod sealed;
pub mod selling;
pub mod tasks;

use std::sync::Arc;

use bazaar_config::Config;
use bazaar_memory::{Addr, ProductIndex, Quiescence, SharedClock, SledStore};
use bazaar_policies::GateMsg;

/// The addresses of every actor in one system; stable across restarts.
#[derive(Debug, Clone)]
pub struct Addresses {
    pub researcher: Addr<researcher::ResearcherMsg>,
    /// DealAnalyzer.
    pub analyzer: Addr<analyzer::AnalyzerMsg>,
    pub negotiator: Addr<negotiator::NegotiatorMsg>,
    pub inventory: Addr<inventory::InventoryMsg>,
    pub lister: Addr<lister::ListerMsg>,
    pub autopilot: Addr<autopilot::AutopilotMsg>,
    /// PolicyGate.
    pub gate: Addr<GateMsg>,
}

impl Addresses {
    /// Unbound addresses sharing one quiescence counter; `credit` bounds each bounded
    /// mailbox.
    pub fn new(quiet: &Quiescence, credit: usize) -> Addresses {
        Addresses {
            researcher: Addr::new("researcher", quiet.clone(), credit),
            analyzer: Addr::new("deal_analyzer", quiet.clone(), credit),
            negotiator: Addr::new("negotiator", quiet.clone(), credit),
            inventory: Addr::new("inventory", quiet.clone(), credit),
            lister: Addr::new("lister", quiet.clone(), credit),
            autopilot: Addr::new("autopilot", quiet.clone(), credit),
            gate: Addr::new("policy_gate", quiet.clone(), credit),
        }
    }
}

/// What every agent actor is started with.
#[derive(Debug, Clone)]
pub struct AgentContext {
    pub store: SledStore,
    /// The search index.
    pub index: ProductIndex,
    pub clock: SharedClock,
    /// Everyone's address.
    pub addrs: Addresses,
    /// The configuration.
    pub config: Arc<Config>,
    /// The agent's mailbox, when mail is configured.
    pub mail: Option<Arc<dyn mail::MailTransport>>,
    /// The optional language model (second opinions, rewrites), when `[llm]` is enabled.
    pub llm: Option<Arc<llm::LlmClient>>,
    /// The marketplaces the Researcher can search.
    pub sources: Vec<Arc<dyn connectors::Source>>,
    /// The channels items are listed on and where their sales are read from.
    pub selling: selling::Selling,
}

/// An actor's one-line account of itself, for `bazaar status` and start-up logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorReport {
    pub actor: &'static str,
    /// What it holds.
    pub summary: String,
    /// Why it has nothing to do, if it has nothing to do.
    pub idle: Option<String>,
}

/// The valuation and pricing settings of the configured strategy profile (the seed's weighted
/// scoring for `seed`, the market value as the listing price for `naive`), within the
/// operator's per-item price cap whatever the profile.
pub fn valuation_config(
    settings: &bazaar_config::Config,
) -> bazaar_strategies::valuation::ValuationConfig {
    use bazaar_config::StrategyProfile;
    use bazaar_strategies::valuation::{ListingPrice, Scoring, ValuationConfig};
    let mut config = ValuationConfig {
        max_price_minor: Some(settings.policy.limits.max_price_per_item.minor),
        ..ValuationConfig::default()
    };
    match settings.strategy.profile {
        StrategyProfile::Ours => {}
        StrategyProfile::Seed => {
            config.scoring = Scoring::Seed;
            config.listing_markup_bp = 0;
        }
        StrategyProfile::Naive => config.listing_price = ListingPrice::MarketValue,
    }
    config
}
