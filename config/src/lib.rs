//! Bazaar's configuration: the typed schema, the shipped defaults (`config/bazaar.toml`),
//! layering (defaults ← `--config` file ← `BAZAAR_<SECTION>__<KEY>` environment variables),
//! validation that names the offending key, and secrets that only come from the
//! environment or a 0600 file and never print.
//!
//! ```
//! let config = bazaar_config::Config::load(None, std::iter::empty()).unwrap();
//! assert_eq!(config.supervisor.max_restarts, 5);
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bazaar_model::{Marketplace, Money};
use serde::{Deserialize, Deserializer};

/// The shipped defaults, embedded so `bazaar` runs with no file at all.
pub const DEFAULT_TOML: &str = include_str!("../bazaar.toml");

/// The example systemd unit.
pub const SYSTEMD_UNIT: &str = include_str!("../bazaar.service");

/// A configuration problem, naming the key and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// Which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("config file {origin} is not valid TOML: {message}")]
    Syntax {
        /// Which file.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A key is unknown, or its value has the wrong type or is out of range.
    #[error("config key `{key}`{origin}: {reason}")]
    Key {
        /// The dotted key path.
        key: String,
        /// Where the value came from, if from the environment.
        origin: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A secret could not be read or is stored unsafely.
    #[error("secret `{key}`: {reason}")]
    Secret {
        /// The dotted key path.
        key: String,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where data lives.
    pub store: StoreConfig,
    /// Logging.
    pub log: LogConfig,
    /// Actor supervision.
    pub supervisor: SupervisorConfig,
    /// Bounded intake.
    pub intake: IntakeConfig,
    /// The search index.
    pub index: IndexSettings,
    /// Graceful shutdown.
    pub shutdown: ShutdownConfig,
    /// The daemon's time.
    pub clock: ClockConfig,
    /// Saved searches.
    pub researcher: ResearcherConfig,
    /// Marketplace accounts.
    pub marketplaces: MarketplacesConfig,
    /// The operator's mailbox.
    pub mail: MailConfig,
    /// The policy gate.
    pub policy: PolicyConfig,
    /// The operator API, inbox page and webhooks.
    pub operator: OperatorConfig,
    /// The optional language model.
    pub llm: LlmConfig,
    /// `[strategy]`: which way of doing business.
    pub strategy: StrategyConfig,
    /// `[selling]`: where bought items are listed and how sales are noticed.
    pub selling: SellingConfig,
}

/// `[selling]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SellingConfig {
    /// The channels items are listed on, in order. `ebay` is native (eBay's Sell APIs, set
    /// up in `[selling.ebay]`); the others are assisted (a copy-paste task in the inbox).
    #[serde(deserialize_with = "marketplaces")]
    pub channels: Vec<Marketplace>,
    /// How often sales are polled for (minutes); the fallback when eBay pushes them.
    pub poll_minutes: u64,
    /// Ask the language model (`[llm]`) to rewrite listing copy; a rewrite that changes a
    /// fact (price, condition, brand, size, any number) is thrown away.
    pub rewrite_copy: bool,
    /// The eBay seller account.
    pub ebay: EbaySellingConfig,
}

/// `[selling.ebay]`: the seller account items are listed with. The app's client id and
/// secret come from `[marketplaces.ebay]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbaySellingConfig {
    /// The seller's refresh token, from eBay's consent flow with the `sell.inventory`,
    /// `sell.fulfillment` and `commerce.notification.subscription` scopes.
    #[serde(default)]
    pub refresh_token: Option<Secret>,
    /// Business policies every listing uses (Seller Hub > Business policies).
    pub fulfillment_policy_id: String,
    pub payment_policy_id: String,
    pub return_policy_id: String,
    /// The inventory location's `merchantLocationKey`: eBay publishes no offer without one.
    pub merchant_location_key: String,
    /// Where items ship from, to create that location when the account lacks it (empty:
    /// it was created in Seller Hub and is only named here).
    #[serde(default)]
    pub location_postal_code: String,
    /// The location's country (ISO 3166 two letters).
    #[serde(default = "default_location_country")]
    pub location_country: String,
    /// Have eBay push sales to `<operator.public_url>/ebay/notifications` (the operator
    /// server must run and eBay must reach it over https).
    pub notifications: bool,
    /// The notification destination's verification token (32 to 80 of `A-Za-z0-9_-`).
    #[serde(default)]
    pub verification_token: Option<Secret>,
}

fn default_location_country() -> String {
    "US".to_string()
}

/// `[strategy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// `ours`, or a baseline: `seed` (the seed's scoring and counter-offer rule) or `naive`
    /// (offers the asking price once, lists at the market value).
    pub profile: StrategyProfile,
}

/// A way of doing business: ours, or a baseline to measure it against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyProfile {
    /// Our valuation, adaptive negotiation and margin-keeping prices.
    Ours,
    /// The seed's weighted scoring and its counter-offer rule.
    Seed,
    /// Offers the asking price (within the ceiling) once, lists at the market value.
    Naive,
}

impl StrategyProfile {
    /// Every profile, ours first.
    pub const ALL: [StrategyProfile; 3] = [
        StrategyProfile::Ours,
        StrategyProfile::Seed,
        StrategyProfile::Naive,
    ];

    /// The lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            StrategyProfile::Ours => "ours",
            StrategyProfile::Seed => "seed",
            StrategyProfile::Naive => "naive",
        }
    }
}

impl std::str::FromStr for StrategyProfile {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        StrategyProfile::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| format!("unknown strategy {text:?}; use ours, seed or naive"))
    }
}

/// `[policy]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Start with the kill switch on.
    pub paused: bool,
    /// How long outbound email waits in the outbox.
    pub email_grace_secs: u64,
    /// How long reversible actions stay undoable.
    pub undo_window_hours: u64,
    /// Actions worth this much or more always go to the operator.
    #[serde(deserialize_with = "required_money")]
    pub high_value: Money,
    /// The marketplace day's UTC offset, in minutes.
    pub day_utc_offset_minutes: i32,
    /// Confidence scoring.
    pub confidence: ConfidenceConfig,
    /// Hard limits.
    pub limits: LimitsConfig,
}

/// `[policy.confidence]`: the seed's confidence model, with its numbers configurable.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidenceConfig {
    /// Above this value, multiply by `high_value_factor`.
    #[serde(deserialize_with = "required_money")]
    pub high_value_over: Money,
    /// Factor for high-value actions.
    pub high_value_factor: f64,
    /// Above this value, multiply by `medium_value_factor`.
    #[serde(deserialize_with = "required_money")]
    pub medium_value_over: Money,
    /// Factor for medium-value actions.
    pub medium_value_factor: f64,
    /// The operator counts as away after this many hours.
    pub operator_away_hours: u64,
    /// Factor while the operator is away.
    pub operator_away_factor: f64,
    /// Factor for a rule's first execution.
    pub first_execution_factor: f64,
    /// HIGH threshold.
    pub high: f64,
    /// MEDIUM threshold (execute at or above).
    pub medium: f64,
    /// LOW threshold (approval at or above; blocked below).
    pub low: f64,
}

/// `[policy.limits]`: hard limits no confidence overrides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Price revisions per day.
    pub revise_price_per_day: u32,
    /// Accepted buyer offers per day.
    pub accept_offer_per_day: u32,
    /// Counter-offers per day.
    pub counter_offer_per_day: u32,
    /// Relists per day.
    pub relist_per_day: u32,
    /// Listing revisions per marketplace per day.
    pub marketplace_revisions_per_day: u32,
    /// Revisions of one listing per day.
    pub revisions_per_listing_per_day: u32,
    /// API calls per marketplace per day.
    pub api_calls_per_day: u32,
    /// Highest price for one item.
    #[serde(deserialize_with = "required_money")]
    pub max_price_per_item: Money,
    /// Spend per day.
    #[serde(deserialize_with = "required_money")]
    pub max_spend_per_day: Money,
    /// Spend per 7 days.
    #[serde(deserialize_with = "required_money")]
    pub max_spend_per_week: Money,
    /// Purchases agreed but not yet settled.
    #[serde(deserialize_with = "required_money")]
    pub max_open_commitments: Money,
    /// Warn at this share of any limit.
    pub warn_at_percent: u8,
}

/// `[operator]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Address the API and inbox listen on.
    pub listen: String,
    /// Bearer token.
    #[serde(default)]
    pub token: Option<Secret>,
    /// The token being rotated out: accepted with `token` (API, login, existing sessions)
    /// until it is removed and the daemon reloads (SIGHUP).
    #[serde(default)]
    pub previous_token: Option<Secret>,
    /// Base URL for links in webhooks.
    pub public_url: String,
    /// Lifetime of one-click links.
    pub link_ttl_minutes: u64,
    /// Delivery retries.
    pub webhook_retries: u32,
    /// First retry delay.
    pub webhook_backoff_initial_ms: u64,
    /// Outbound webhooks.
    pub webhooks: Vec<WebhookConfig>,
}

/// One outbound webhook.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// Signing secret.
    pub secret: Secret,
    /// The secret being rotated out: deliveries carry a signature under each, so the
    /// receiver keeps verifying while it switches.
    #[serde(default)]
    pub previous_secret: Option<Secret>,
    /// Which events; empty means all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory for the store and the index.
    pub data_dir: PathBuf,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For people.
    Human,
    /// One JSON object per line.
    Json,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A tracing filter directive.
    pub level: String,
}

/// Which siblings restart with a failed actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartStrategy {
    /// Only the failed actor.
    OneForOne,
    /// The failed actor and every actor started after it.
    RestForOne,
}

/// `[supervisor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisorConfig {
    /// Restart strategy.
    pub strategy: RestartStrategy,
    /// Restarts allowed within `period_secs` before escalating.
    pub max_restarts: u32,
    /// The intensity window.
    pub period_secs: u64,
    /// First restart delay.
    pub backoff_initial_ms: u64,
    /// Longest restart delay.
    pub backoff_max_ms: u64,
}

impl SupervisorConfig {
    /// The intensity window.
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.period_secs)
    }
    /// First restart delay.
    pub fn backoff_initial(&self) -> Duration {
        Duration::from_millis(self.backoff_initial_ms)
    }
    /// Longest restart delay.
    pub fn backoff_max(&self) -> Duration {
        Duration::from_millis(self.backoff_max_ms)
    }
}

/// `[intake]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeConfig {
    /// Messages that may wait per bounded mailbox.
    pub credit: usize,
}

/// `[index]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexSettings {
    /// Commit after this many documents.
    pub batch_size: usize,
    /// Or after this long.
    pub commit_interval_ms: u64,
    /// Merge segments right after commits instead of in background threads, so searches
    /// depend only on the sequence of writes (`bazaar sim` turns it on).
    pub merge_in_step: bool,
    /// How many listings the DealAnalyzer values at once (each a search of the index);
    /// 0: one per core.
    pub searchers: usize,
}

impl IndexSettings {
    /// [`IndexSettings::searchers`] with 0 read as the machine's cores.
    pub fn searcher_count(&self) -> usize {
        match self.searchers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

/// `[shutdown]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// How long to wait for in-flight work.
    pub drain_timeout_secs: u64,
}

/// `[clock]`: the daemon's time. The wall clock unless told otherwise; `bazaar sim serve`
/// writes one that follows its world: simulated time `origin` at the wall-clock instant
/// `origin_wall`, `speed` simulated seconds per wall-clock second from then on.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    /// Simulated seconds per wall-clock second (1: real time).
    pub speed: u32,
    /// The time the clock shows at `origin_wall`.
    #[serde(default)]
    pub origin: Option<chrono::DateTime<chrono::Utc>>,
    /// The wall-clock instant at which it shows `origin`.
    #[serde(default)]
    pub origin_wall: Option<chrono::DateTime<chrono::Utc>>,
}

/// `[researcher]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearcherConfig {
    /// Saved searches.
    pub searches: Vec<SavedSearch>,
    /// Commit the search index after each page of results, so the DealAnalyzer values the
    /// page's listings against each other at once. `bazaar sim` turns it off and commits
    /// on the simulated hour instead: a commit racing the analyzer would make a run depend
    /// on the machine's timing.
    pub commit_each_page: bool,
    /// The longest one page of a search may take, in wall seconds: past it the run fails
    /// like any other failure (a connector that hangs must not stop the Researcher).
    pub search_timeout_secs: u64,
    /// Cold start: at most this many eBay searches a day for comparables of listings that
    /// memory has none for (each query once a week); 0 turns it off.
    pub cold_start_searches_per_day: u32,
}

/// One saved search.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedSearch {
    /// Where to search.
    #[serde(deserialize_with = "marketplace")]
    pub marketplace: Marketplace,
    /// What to search for.
    pub query: String,
    /// Category to search in.
    #[serde(default)]
    pub category: Option<String>,
    /// Lowest asking price.
    #[serde(default, deserialize_with = "money")]
    pub min_price: Option<Money>,
    /// Highest asking price.
    #[serde(default, deserialize_with = "money")]
    pub max_price: Option<Money>,
    /// Where (for local marketplaces).
    #[serde(default)]
    pub location: Option<String>,
    /// Radius around `location`.
    #[serde(default)]
    pub radius_miles: Option<u32>,
    /// How often to run it.
    pub every_minutes: u32,
    /// Ask for the newest listings first and stop reading pages at the first listing an
    /// earlier run saw: everything after it is older, and was read then. Cheap on a
    /// marketplace where each page is costly (a browser's page load).
    #[serde(default)]
    pub newest_first: bool,
}

/// `[marketplaces]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketplacesConfig {
    pub ebay: EbayConfig,
    /// A Craigslist site.
    pub craigslist: CraigslistConfig,
    /// Facebook Marketplace, read in a headless Chromium.
    pub facebook: FacebookConfig,
}

/// `[marketplaces.facebook]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FacebookConfig {
    /// Whether to search it (needs Chromium, and the session `bazaar session import
    /// facebook` keeps: Bazaar never logs in itself).
    pub enabled: bool,
    /// The site's root, e.g. `https://www.facebook.com` (its `/marketplace/…` pages are read).
    pub base_url: String,
}

/// `[marketplaces.craigslist]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CraigslistConfig {
    /// Whether to search it.
    pub enabled: bool,
    /// The site's root, e.g. `https://sfbay.craigslist.org`.
    pub base_url: String,
    /// The least time between two requests to it, in milliseconds (a jitter of half as
    /// much again is added).
    pub request_spacing_ms: u64,
}

/// `[marketplaces.ebay]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EbayConfig {
    /// Whether to use eBay at all.
    pub enabled: bool,
    /// API root.
    pub base_url: String,
    /// `X-EBAY-C-MARKETPLACE-ID`.
    pub marketplace_id: String,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<Secret>,
}

/// Transport security for mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTls {
    /// Upgrade a plain connection.
    Starttls,
    /// TLS from the first byte.
    Implicit,
    /// Plain text; refused unless the host is loopback.
    None,
}

/// `[mail]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    /// Whether to use mail at all.
    pub enabled: bool,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub imap_host: String,
    pub imap_port: u16,
    /// Transport security.
    pub tls: MailTls,
    /// Login.
    pub username: String,
    /// Our From: address.
    pub from_address: String,
    /// Password.
    #[serde(default)]
    pub password: Option<Secret>,
    /// How often the mailbox is read, in seconds (of the runtime clock).
    pub poll_secs: u64,
}

/// `[llm]`: an optional OpenAI-compatible chat-completions endpoint, asked for a second
/// opinion on unclear seller replies and for rewrites of outgoing emails. Its answers are
/// advice: a reading counts only with a price the text states, a rewrite only if it keeps the
/// amount and promises nothing new.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Whether to use a model at all.
    pub enabled: bool,
    /// The API root, ending in `/v1` (plain `http://` only on loopback).
    pub base_url: String,
    /// The model name sent with each request.
    pub model: String,
    /// Bearer key; optional for a local endpoint on loopback.
    #[serde(default)]
    pub api_key: Option<Secret>,
    /// How long one request may take before the model is ignored for it.
    pub timeout_secs: u64,
    /// Ask for a second opinion on replies the rules read with low confidence.
    pub second_opinion: bool,
    /// Offer outgoing emails for rewriting.
    pub rewrite: bool,
}

impl LlmConfig {
    /// How long one request may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
}

/// Where a secret comes from. Never the config file itself.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Secret {
    /// An environment variable's value.
    Env(String),
    /// A file's contents (trailing newline trimmed); the file must not be readable by
    /// group or others.
    File(PathBuf),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Env(name) => write!(f, "Secret(env {name})"),
            Secret::File(path) => write!(f, "Secret(file {})", path.display()),
        }
    }
}

/// A secret's value. Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// A secret the program made itself (a generated token).
    pub fn generated(value: String) -> SecretValue {
        SecretValue(value)
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Secret {
    /// Reads the secret; `key` names it in errors.
    pub fn resolve(&self, key: &str) -> Result<SecretValue, ConfigError> {
        let error = |reason: String| ConfigError::Secret {
            key: key.to_string(),
            reason,
        };
        match self {
            Secret::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(SecretValue(value)),
                _ => Err(error(format!("environment variable {name} is not set"))),
            },
            Secret::File(path) => {
                let metadata = std::fs::metadata(path)
                    .map_err(|e| error(format!("{}: {e}", path.display())))?;
                check_private(path, &metadata).map_err(error)?;
                let value = std::fs::read_to_string(path)
                    .map_err(|e| error(format!("{}: {e}", path.display())))?;
                let value = value.trim_end_matches(['\n', '\r']).to_string();
                if value.is_empty() {
                    return Err(error(format!("{} is empty", path.display())));
                }
                Ok(SecretValue(value))
            }
        }
    }
}

#[cfg(unix)]
fn check_private(path: &Path, metadata: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} has mode {mode:o}; secrets must not be readable by group or others (chmod 600 {})",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path, _metadata: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

fn marketplace<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Marketplace, D::Error> {
    let name = String::deserialize(deserializer)?;
    name.parse().map_err(serde::de::Error::custom)
}

fn marketplaces<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Marketplace>, D::Error> {
    let names = Vec::<String>::deserialize(deserializer)?;
    names
        .iter()
        .map(|name| name.parse().map_err(serde::de::Error::custom))
        .collect()
}

fn required_money<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse::<Money>().map_err(serde::de::Error::custom)
}

fn money<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Money>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    text.map(|t| t.parse::<Money>().map_err(serde::de::Error::custom))
        .transpose()
}

impl Config {
    /// Loads the defaults, then `file` over them, then the `BAZAAR_*__*` variables in `env`
    /// (pass `std::env::vars()` in production), and validates the result.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                Config::from_text(Some((&text, &path.display().to_string())), env)
            }
            None => Config::from_text(None, env),
        }
    }

    /// [`Config::load`] with the file's text given: `(text, name)`, the name for errors.
    ///
    /// ```
    /// use bazaar_config::Config;
    /// let config = Config::from_text(Some(("[index]\nbatch_size = 7\n", "test.toml")), []).unwrap();
    /// assert_eq!(config.index.batch_size, 7);
    /// let error = Config::from_text(Some(("[index]\nbatch_size = \"many\"\n", "test.toml")), []).unwrap_err();
    /// assert!(error.to_string().contains("index.batch_size"), "{error}");
    /// ```
    pub fn from_text(
        file: Option<(&str, &str)>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut merged = parse_toml(DEFAULT_TOML, "<defaults>")?;
        if let Some((text, name)) = file {
            let overlay = parse_toml(text, name)?;
            merge(&mut merged, overlay);
        }
        let mut from_env = Vec::new();
        for (name, raw) in env {
            let Some(path) = env_key_path(&name) else {
                continue;
            };
            set_path(&mut merged, &path, env_value(&raw));
            from_env.push((path.join("."), name));
        }
        let config: Config = serde_path_to_error::deserialize(merged).map_err(|e| {
            let key = e.path().to_string();
            let origin = from_env
                .iter()
                .find(|(path, _)| key == *path || key.starts_with(&format!("{path}.")))
                .map(|(_, var)| format!(" (from ${var})"))
                .unwrap_or_default();
            ConfigError::Key {
                key,
                origin,
                // toml appends "in `section`" on a second line; the key already says it.
                reason: e
                    .into_inner()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_runtime()?;
        self.validate_clock()?;
        self.validate_searches()?;
        self.validate_policy()?;
        self.validate_operator()?;
        self.validate_connections()?;
        self.validate_selling()?;
        self.validate_llm()
    }

    fn validate_clock(&self) -> Result<(), ConfigError> {
        let clock = &self.clock;
        if clock.speed == 0 {
            return bad("clock.speed", "must be at least 1 (1 is real time)");
        }
        if clock.origin.is_some() != clock.origin_wall.is_some() {
            return bad(
                "clock.origin",
                "origin and origin_wall go together (the time shown at that wall-clock instant)",
            );
        }
        Ok(())
    }

    /// The supervisor, the intake, the index and logging.
    fn validate_runtime(&self) -> Result<(), ConfigError> {
        let s = &self.supervisor;
        if s.max_restarts == 0 {
            return bad("supervisor.max_restarts", "must be at least 1");
        }
        if s.period_secs == 0 {
            return bad("supervisor.period_secs", "must be at least 1");
        }
        if s.backoff_initial_ms > s.backoff_max_ms {
            return bad(
                "supervisor.backoff_initial_ms",
                "must not exceed supervisor.backoff_max_ms",
            );
        }
        if self.intake.credit == 0 {
            return bad("intake.credit", "must be at least 1");
        }
        if self.index.batch_size == 0 {
            return bad("index.batch_size", "must be at least 1");
        }
        if self.log.level.trim().is_empty() {
            return bad("log.level", "must not be empty (try \"info\")");
        }
        if self.researcher.search_timeout_secs == 0 {
            return bad("researcher.search_timeout_secs", "must be at least 1");
        }
        Ok(())
    }

    /// Each saved search names something to look for, at a sane pace and price range.
    fn validate_searches(&self) -> Result<(), ConfigError> {
        for (i, search) in self.researcher.searches.iter().enumerate() {
            let key = |field: &str| format!("researcher.searches[{i}].{field}");
            if search.query.trim().is_empty() && search.category.is_none() && !search.newest_first {
                return bad(
                    &key("query"),
                    "must not be empty unless a category is given (then the whole category is \
                     browsed) or newest_first is set (then the newest of everything is read)",
                );
            }
            if search.every_minutes == 0 {
                return bad(&key("every_minutes"), "must be at least 1");
            }
            if let (Some(min), Some(max)) = (search.min_price, search.max_price) {
                if min > max {
                    return bad(&key("min_price"), "must not exceed max_price");
                }
            }
            if search.min_price.is_some_and(|m| m.is_negative()) {
                return bad(&key("min_price"), "must not be negative");
            }
        }
        Ok(())
    }

    /// Confidence factors and thresholds are shares in order; the day and warnings make sense.
    fn validate_policy(&self) -> Result<(), ConfigError> {
        let c = &self.policy.confidence;
        for (key, value) in [
            ("policy.confidence.high_value_factor", c.high_value_factor),
            (
                "policy.confidence.medium_value_factor",
                c.medium_value_factor,
            ),
            (
                "policy.confidence.operator_away_factor",
                c.operator_away_factor,
            ),
            (
                "policy.confidence.first_execution_factor",
                c.first_execution_factor,
            ),
            ("policy.confidence.high", c.high),
            ("policy.confidence.medium", c.medium),
            ("policy.confidence.low", c.low),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return bad(key, "must be between 0 and 1");
            }
        }
        if !(c.low <= c.medium && c.medium <= c.high) {
            return bad(
                "policy.confidence.low",
                "thresholds must satisfy low <= medium <= high",
            );
        }
        if self.policy.limits.warn_at_percent == 0 || self.policy.limits.warn_at_percent > 100 {
            return bad("policy.limits.warn_at_percent", "must be between 1 and 100");
        }
        if self.policy.day_utc_offset_minutes.abs() > 14 * 60 {
            return bad("policy.day_utc_offset_minutes", "must be within -840..=840");
        }
        Ok(())
    }

    /// The operator server's address and webhook URLs.
    fn validate_operator(&self) -> Result<(), ConfigError> {
        if self
            .operator
            .listen
            .parse::<std::net::SocketAddr>()
            .is_err()
        {
            return bad("operator.listen", "must be an address like 127.0.0.1:7878");
        }
        for (i, hook) in self.operator.webhooks.iter().enumerate() {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return bad(
                    &format!("operator.webhooks[{i}].url"),
                    "must be an http(s) URL",
                );
            }
        }
        Ok(())
    }

    /// Marketplaces and mail that are enabled have what they need to connect, safely.
    fn validate_connections(&self) -> Result<(), ConfigError> {
        let ebay = &self.marketplaces.ebay;
        if ebay.enabled && (ebay.client_id.is_empty() || ebay.client_secret.is_none()) {
            return bad(
                "marketplaces.ebay.client_id",
                "eBay is enabled but client_id or client_secret is missing",
            );
        }
        let craigslist = &self.marketplaces.craigslist;
        if craigslist.enabled && url_host(&craigslist.base_url).is_none() {
            return bad(
                "marketplaces.craigslist.base_url",
                "must be an http(s) URL like https://sfbay.craigslist.org",
            );
        }
        let facebook = &self.marketplaces.facebook;
        if facebook.enabled && url_host(&facebook.base_url).is_none() {
            return bad(
                "marketplaces.facebook.base_url",
                "must be an http(s) URL like https://www.facebook.com",
            );
        }
        let mail = &self.mail;
        if mail.enabled && (mail.smtp_host.is_empty() || mail.imap_host.is_empty()) {
            return bad(
                "mail.smtp_host",
                "mail is enabled but smtp_host or imap_host is empty",
            );
        }
        if mail.enabled && mail.tls == MailTls::None {
            for (key, host) in [
                ("mail.smtp_host", &mail.smtp_host),
                ("mail.imap_host", &mail.imap_host),
            ] {
                if !is_loopback(host) {
                    return bad(key, "tls = \"none\" is only allowed for loopback hosts");
                }
            }
        }
        Ok(())
    }

    /// The language model, when enabled, is reachable safely and named.
    fn validate_llm(&self) -> Result<(), ConfigError> {
        let llm = &self.llm;
        if llm.enabled {
            let Some(host) = url_host(&llm.base_url) else {
                return bad(
                    "llm.base_url",
                    "must be an http(s) URL like https://api.openai.com/v1",
                );
            };
            if llm.base_url.starts_with("http://") && !is_loopback(host) {
                return bad(
                    "llm.base_url",
                    "plain http:// is only allowed for loopback hosts",
                );
            }
            if llm.model.trim().is_empty() {
                return bad("llm.model", "the model is enabled but no model is named");
            }
            if llm.timeout_secs == 0 {
                return bad("llm.timeout_secs", "must be at least 1");
            }
            if llm.api_key.is_none() && !is_loopback(host) {
                return bad("llm.api_key", "required unless base_url is on loopback");
            }
        }
        Ok(())
    }

    fn validate_selling(&self) -> Result<(), ConfigError> {
        let selling = &self.selling;
        for (i, channel) in selling.channels.iter().enumerate() {
            if selling.channels[..i].contains(channel) {
                return bad("selling.channels", format!("{channel} is named twice"));
            }
        }
        if selling.poll_minutes == 0 {
            return bad("selling.poll_minutes", "must be at least 1");
        }
        if selling.rewrite_copy && !self.llm.enabled {
            return bad(
                "selling.rewrite_copy",
                "needs a language model: enable [llm] or set rewrite_copy = false",
            );
        }
        if !selling.channels.contains(&Marketplace::Ebay) {
            return Ok(());
        }
        let ebay = &selling.ebay;
        let app = &self.marketplaces.ebay;
        if app.client_id.is_empty() || app.client_secret.is_none() {
            return bad(
                "marketplaces.ebay.client_id",
                "selling on eBay needs the app's client_id and client_secret in [marketplaces.ebay]",
            );
        }
        if ebay.refresh_token.is_none() {
            return bad(
                "selling.ebay.refresh_token",
                "selling on eBay needs the seller's refresh token, e.g. { env = \"BAZAAR_EBAY_REFRESH_TOKEN\" }",
            );
        }
        for (key, value) in [
            (
                "selling.ebay.fulfillment_policy_id",
                &ebay.fulfillment_policy_id,
            ),
            ("selling.ebay.payment_policy_id", &ebay.payment_policy_id),
            ("selling.ebay.return_policy_id", &ebay.return_policy_id),
        ] {
            if value.trim().is_empty() {
                return bad(
                    key,
                    "selling on eBay needs it (Seller Hub > Account > Business policies)",
                );
            }
        }
        if ebay.merchant_location_key.trim().is_empty() {
            return bad(
                "selling.ebay.merchant_location_key",
                "eBay publishes no listing without an inventory location: name it here (and set \
                 location_postal_code to have bazaar create it)",
            );
        }
        if ebay.location_country.trim().len() != 2 {
            return bad(
                "selling.ebay.location_country",
                "a country's two-letter code, e.g. \"US\"",
            );
        }
        if ebay.notifications {
            if self.operator.token.is_none() {
                return bad(
                    "selling.ebay.notifications",
                    "eBay pushes sales to the operator server, which needs operator.token",
                );
            }
            if ebay.verification_token.is_none() {
                return bad(
                    "selling.ebay.verification_token",
                    "eBay notifications need a verification token (32 to 80 of A-Za-z0-9_-)",
                );
            }
            let public = &self.operator.public_url;
            let loopback = url_host(public).is_some_and(is_loopback);
            if !public.starts_with("https://") && !loopback {
                return bad(
                    "operator.public_url",
                    format!("eBay delivers notifications only over https; {public} is not (put a TLS proxy in front and give its URL)"),
                );
            }
        }
        Ok(())
    }

    /// The marketplaces that are configured and enabled.
    pub fn enabled_marketplaces(&self) -> Vec<Marketplace> {
        let mut enabled = Vec::new();
        if self.marketplaces.ebay.enabled {
            enabled.push(Marketplace::Ebay);
        }
        if self.marketplaces.craigslist.enabled {
            enabled.push(Marketplace::Craigslist);
        }
        if self.marketplaces.facebook.enabled {
            enabled.push(Marketplace::Facebook);
        }
        enabled
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A configuration key that is wrong, and why.
fn bad(key: &str, reason: impl Into<String>) -> Result<(), ConfigError> {
    Err(ConfigError::Key {
        key: key.to_string(),
        origin: String::new(),
        reason: reason.into(),
    })
}

/// The host of an `http://` or `https://` URL (`[::1]` as `::1`), or `None` when `url` is
/// not one.
fn url_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return None;
    }
    Some(host)
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Value, ConfigError> {
    text.parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| ConfigError::Syntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })
}

/// Overlays `top` onto `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Value, top: toml::Value) {
    match (base, top) {
        (toml::Value::Table(base), toml::Value::Table(top)) => {
            for (key, value) in top {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, top) => *base = top,
    }
}

/// `BAZAAR_SUPERVISOR__MAX_RESTARTS` → `["supervisor", "max_restarts"]`; variables without a
/// `__` (such as secrets named by `{ env = … }`) are not overrides.
fn env_key_path(name: &str) -> Option<Vec<String>> {
    let rest = name.strip_prefix("BAZAAR_")?;
    if !rest.contains("__") {
        return None;
    }
    Some(
        rest.split("__")
            .map(|part| part.to_ascii_lowercase())
            .collect(),
    )
}

/// A TOML literal when it parses as one (`3`, `true`, `["a"]`), else the raw string.
fn env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

fn set_path(root: &mut toml::Value, path: &[String], value: toml::Value) {
    let mut node = root;
    for (i, part) in path.iter().enumerate() {
        let toml::Value::Table(table) = node else {
            return;
        };
        if i + 1 == path.len() {
            table.insert(part.clone(), value);
            return;
        }
        node = table
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(file: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bazaar.toml");
        std::fs::write(&path, file).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load(Some(&path), env).map_err(|e| e.to_string())
    }

    fn check_error(file: &str, env: &[(&str, &str)], expected: &[&str]) {
        let error = load(file, env).expect_err("config should be rejected");
        for part in expected {
            assert!(
                error.contains(part),
                "error {error:?} should mention {part:?}"
            );
        }
    }

    #[test]
    fn defaults_load() {
        let config = Config::load(None, std::iter::empty()).unwrap();
        assert_eq!(config.supervisor.strategy, RestartStrategy::OneForOne);
        assert_eq!(config.log.format, LogFormat::Human);
        assert!(config.researcher.searches.is_empty());
        assert!(config.enabled_marketplaces().is_empty());
    }

    #[test]
    fn file_and_env_layer_over_defaults() {
        let config = load(
            "[supervisor]\nmax_restarts = 9\n",
            &[
                ("BAZAAR_SUPERVISOR__PERIOD_SECS", "7"),
                ("BAZAAR_LOG__FORMAT", "json"),
            ],
        )
        .unwrap();
        assert_eq!(config.supervisor.max_restarts, 9);
        assert_eq!(config.supervisor.period_secs, 7);
        assert_eq!(config.supervisor.backoff_initial_ms, 100);
        assert_eq!(config.log.format, LogFormat::Json);
    }

    #[test]
    fn bad_configs_name_the_key() {
        check_error(
            "[supervisor]\nmax_restart = 3\n",
            &[],
            &["supervisor", "max_restart"],
        );
        check_error(
            "[supervisor]\nmax_restarts = \"many\"\n",
            &[],
            &["supervisor.max_restarts"],
        );
        check_error(
            "[supervisor]\nmax_restarts = 0\n",
            &[],
            &["supervisor.max_restarts", "at least 1"],
        );
        check_error(
            "[clock]\nspeed = 60\norigin = \"2026-03-02T08:00:00Z\"\n",
            &[],
            &["clock.origin", "origin_wall"],
        );
        check_error("[clock]\nspeed = 0\n", &[], &["clock.speed"]);
        check_error("[log]\nformat = \"xml\"\n", &[], &["log.format", "xml"]);
        check_error("[supervisor\n", &[], &["not valid TOML"]);
        check_error(
            "",
            &[("BAZAAR_SUPERVISOR__MAX_RESTARTS", "lots")],
            &[
                "supervisor.max_restarts",
                "$BAZAAR_SUPERVISOR__MAX_RESTARTS",
            ],
        );
        check_error("", &[("BAZAAR_NOPE__X", "1")], &["nope"]);
        check_error(
            "[[researcher.searches]]\nmarketplace = \"ebay\"\nquery = \"x\"\nmin_price = \"cheap\"\nevery_minutes = 5\n",
            &[],
            &["researcher.searches[0].min_price", "cheap"],
        );
        check_error(
            "[[researcher.searches]]\nmarketplace = \"amazon\"\nquery = \"x\"\nevery_minutes = 5\n",
            &[],
            &["researcher.searches[0].marketplace", "amazon"],
        );
        check_error(
            "[marketplaces.ebay]\nenabled = true\nclient_id = \"abc\"\nclient_secret = \"hunter2\"\n",
            &[],
            &["marketplaces.ebay.client_secret"],
        );
        check_error(
            "[mail]\nenabled = true\nsmtp_host = \"mail.example.com\"\nimap_host = \"127.0.0.1\"\ntls = \"none\"\n",
            &[],
            &["mail.smtp_host", "loopback"],
        );
    }

    /// Hostile configuration: each is refused with what was wrong, never loaded in part.
    #[test]
    fn hostile_configs_are_refused_with_the_reason() {
        let deep = format!("a = {}1{}\n", "[".repeat(5_000), "]".repeat(5_000));
        check_error(&deep, &[], &[]);
        check_error("\u{0}\u{1}", &[], &["not valid TOML"]);
        check_error(
            "[operator]\ntoken = \"inline-secret-in-the-file\"\n",
            &[],
            &["operator.token"],
        );
        check_error(
            "[supervisor]\nmax_restarts = -1\n",
            &[],
            &["supervisor.max_restarts"],
        );
        check_error(
            "[supervisor]\nmax_restarts = 99999999999999999999\n",
            &[],
            &[],
        );
        check_error(
            "[supervisor]\nmax_restarts = 3\nmax_restarts = 4\n",
            &[],
            &["not valid TOML"],
        );
        check_error(
            "[operator]\nlisten = \"not an address\"\n",
            &[],
            &["operator.listen"],
        );
        check_error(
            "",
            &[("BAZAAR_SUPERVISOR__MAX_RESTARTS", "3; rm -rf /")],
            &["supervisor.max_restarts"],
        );
        check_error(
            "",
            &[("BAZAAR_LOG__FORMAT", "json\nlevel = \"trace\"")],
            &["log.format"],
        );
        check_error(
            "[[operator.webhooks]]\nurl = \"https://hooks.example.com/x\"\nsecret = \"plain\"\n",
            &[],
            &["secret"],
        );
    }

    #[test]
    fn the_llm_is_off_by_default_and_checked_when_enabled() {
        let config = Config::load(None, std::iter::empty()).unwrap();
        assert!(!config.llm.enabled);
        assert!(config.llm.api_key.is_none());
        assert_eq!(config.llm.timeout(), Duration::from_secs(10));
        let local = load(
            "[llm]\nenabled = true\nbase_url = \"http://127.0.0.1:8080/v1\"\nmodel = \"local\"\n",
            &[
                ("BAZAAR_LLM__TIMEOUT_SECS", "3"),
                ("BAZAAR_LLM__REWRITE", "false"),
            ],
        )
        .unwrap();
        assert!(local.llm.enabled && local.llm.second_opinion && !local.llm.rewrite);
        assert_eq!(local.llm.timeout_secs, 3);
        let hosted = load(
            "[llm]\nenabled = true\napi_key = { env = \"BAZAAR_LLM_API_KEY\" }\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            hosted.llm.api_key,
            Some(Secret::Env("BAZAAR_LLM_API_KEY".into()))
        );
        check_error("[llm]\nenabled = true\n", &[], &["llm.api_key", "loopback"]);
        check_error(
            "[llm]\nenabled = true\nbase_url = \"http://llm.example.com/v1\"\napi_key = { env = \"K\" }\n",
            &[],
            &["llm.base_url", "loopback"],
        );
        check_error(
            "[llm]\nenabled = true\nbase_url = \"localhost:8080\"\n",
            &[],
            &["llm.base_url", "http(s) URL"],
        );
        check_error(
            "[llm]\nenabled = true\nbase_url = \"http://[::1]:8080/v1\"\nmodel = \" \"\n",
            &[],
            &["llm.model"],
        );
        check_error(
            "[llm]\nenabled = true\nbase_url = \"http://localhost/v1\"\ntimeout_secs = 0\n",
            &[],
            &["llm.timeout_secs", "at least 1"],
        );
        check_error("[llm]\ntemperature = 0.2\n", &[], &["llm", "temperature"]);
        check_error("[llm]\napi_key = \"sk-live\"\n", &[], &["llm.api_key"]);
        assert_eq!(
            url_host("https://user@api.example.com:443/v1"),
            Some("api.example.com")
        );
        assert_eq!(url_host("http://[::1]:9/v1"), Some("::1"));
        assert_eq!(url_host("ftp://x"), None);
        assert_eq!(url_host("http:///v1"), None);
    }

    #[test]
    fn selling_is_off_by_default_and_checked_when_ebay_is_a_channel() {
        let config = Config::load(None, std::iter::empty()).unwrap();
        assert!(config.selling.channels.is_empty() && !config.selling.rewrite_copy);
        const APP: &str =
            "[marketplaces.ebay]\nclient_id = \"app\"\nclient_secret = { env = \"S\" }\n";
        const SELLER: &str = "[selling.ebay]\nrefresh_token = { env = \"R\" }\nfulfillment_policy_id = \"1\"\npayment_policy_id = \"2\"\nreturn_policy_id = \"3\"\nmerchant_location_key = \"home\"\n";
        let assisted = load(
            "[selling]\nchannels = [\"craigslist\", \"poshmark\"]\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            assisted.selling.channels,
            [Marketplace::Craigslist, Marketplace::Poshmark]
        );
        let ebay = load(
            &format!("{APP}{SELLER}[selling]\nchannels = [\"ebay\"]\n"),
            &[],
        )
        .unwrap();
        assert_eq!(ebay.selling.channels, [Marketplace::Ebay]);
        assert_eq!(
            ebay.selling.ebay.refresh_token,
            Some(Secret::Env("R".into()))
        );
        for (file, expected) in [
            ("[selling]\nchannels = [\"etsy\"]\n", &["selling.channels", "etsy"][..]),
            ("[selling]\nchannels = [\"craigslist\", \"craigslist\"]\n", &["selling.channels", "twice"]),
            ("[selling]\npoll_minutes = 0\n", &["selling.poll_minutes", "at least 1"]),
            ("[selling]\nrewrite_copy = true\n", &["selling.rewrite_copy", "[llm]"]),
            ("[selling]\nchannels = [\"ebay\"]\n", &["marketplaces.ebay.client_id", "client_secret"]),
            (&format!("{APP}[selling]\nchannels = [\"ebay\"]\n"), &["selling.ebay.refresh_token"]),
            (
                &format!("{APP}{SELLER}[selling]\nchannels = [\"ebay\"]\n").replace("\"2\"", "\"\""),
                &["selling.ebay.payment_policy_id", "Business policies"],
            ),
            (
                &format!("{APP}{SELLER}[selling]\nchannels = [\"ebay\"]\n").replace("\"home\"", "\"\""),
                &["selling.ebay.merchant_location_key", "inventory location"],
            ),
            (
                &format!("{APP}{SELLER}location_country = \"USA\"\n[selling]\nchannels = [\"ebay\"]\n"),
                &["selling.ebay.location_country", "two-letter"],
            ),
            (
                &format!("{APP}{SELLER}notifications = true\n[selling]\nchannels = [\"ebay\"]\n"),
                &["selling.ebay.notifications", "operator.token"],
            ),
            (
                &format!("{APP}{SELLER}notifications = true\n[selling]\nchannels = [\"ebay\"]\n[operator]\ntoken = {{ env = \"T\" }}\n"),
                &["selling.ebay.verification_token"],
            ),
            (
                &format!("{APP}{SELLER}notifications = true\nverification_token = {{ env = \"V\" }}\n[selling]\nchannels = [\"ebay\"]\n[operator]\ntoken = {{ env = \"T\" }}\npublic_url = \"http://shop.example.com\"\n"),
                &["operator.public_url", "https"],
            ),
        ] {
            check_error(file, &[], expected);
        }
    }

    #[test]
    fn secrets_come_from_env_or_private_files_and_never_print() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cr3t-value\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let secret = Secret::File(path.clone());
        let error = secret.resolve("mail.password").unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let value = secret.resolve("mail.password").unwrap();
        assert_eq!(value.expose(), "s3cr3t-value");
        assert_eq!(format!("{value:?} {value}"), "[redacted] [redacted]");
        let missing = Secret::Env("BAZAAR_TEST_SECRET_THAT_IS_NOT_SET".into());
        assert!(missing
            .resolve("x")
            .unwrap_err()
            .to_string()
            .contains("not set"));
        let config = load(
            &format!(
                "[marketplaces.ebay]\nenabled = true\nclient_id = \"abc\"\nclient_secret = {{ file = \"{}\" }}\n",
                path.display()
            ),
            &[],
        )
        .unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
