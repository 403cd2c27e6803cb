//! An eBay-compatible REST server on 127.0.0.1.
//!
//! [`EbaySim::start`] serves, on a port of its own, the subset of eBay's APIs Bazaar speaks
//! (see `../shared/ref/ebay.md`): OAuth, Buy Browse, Sell Inventory, Sell Fulfillment, Sell
//! Negotiation and Commerce Notification, with eBay's paths, headers, JSON field names,
//! decimal-string prices, error bodies, daily call limits and the
//! 250-revisions-per-listing-per-day rule. The agent talks to it over HTTP exactly as it
//! would to eBay; the rest of the simulator drives it through this handle's Rust API
//! ([`EbaySim::add_listing`] for other sellers' items, [`EbaySim::buy`] for buyers).
//!
//! Time comes only from the injected [`Clock`] (token expiry, daily limits and revision
//! counts follow simulated time); every id comes from one RNG seeded by
//! [`EbayConfig::seed`], so the same seed and the same calls give the same bytes.

mod browse;
mod errors;
mod fulfillment;
mod inventory;
mod location;
mod negotiation;
mod notification;
mod oauth;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::journal::{Entry, Journal};
use crate::server::{self, Server};
use axum::body::Bytes;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bazaar_memory::{Clock, Money};
use chrono::{DateTime, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;

pub use browse::{BuyingOption, CatalogListing, Condition, ItemLocation, SellerProfile, Variation};
pub use errors::{ApiError, Category, ErrorDetail, ErrorParameter, OAuthError};
pub use fulfillment::{BuyError, Oversell, Purchase};
pub use negotiation::SellerOffer;
pub use notification::{Delivery, ORDER_CONFIRMATION};
pub use oauth::scopes;

/// One of the agent's live eBay listings, as the simulated buyers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentListing {
    pub listing_id: String,
    /// The agent's SKU.
    pub sku: String,
    /// The inventory item's title.
    pub title: String,
    /// The offer's current price.
    pub price: Money,
    /// Units the offer sells.
    pub available: i64,
    /// Units sold so far.
    pub sold: u32,
}

/// One of the agent's offers (ground truth).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentOffer {
    pub offer_id: String,
    /// The agent's SKU.
    pub sku: String,
    /// Whether it was published (and not withdrawn since).
    pub published: bool,
    /// The listing it was last published as.
    pub listing_id: Option<String>,
    /// Whether that listing is live now.
    pub live: bool,
}

/// The APIs whose calls are counted against a daily limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Api {
    /// Token endpoint, `client_credentials` grant (application tokens).
    OAuthApplication,
    /// Token endpoint, `authorization_code` and `refresh_token` grants (user tokens).
    OAuthUser,
    /// Buy Browse.
    Browse,
    /// Sell Inventory.
    Inventory,
    /// Sell Fulfillment.
    Fulfillment,
    /// Sell Negotiation.
    Negotiation,
    /// Commerce Notification.
    Notification,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::OAuthApplication => "oauth.client_credentials",
            Api::OAuthUser => "oauth.user",
            Api::Browse => "buy.browse",
            Api::Inventory => "sell.inventory",
            Api::Fulfillment => "sell.fulfillment",
            Api::Negotiation => "sell.negotiation",
            Api::Notification => "commerce.notification",
        }
    }
}

/// Calls allowed per API per day. The defaults are eBay's published numbers where
/// `ebay.md` names them (Browse 5,000, Notification 10,000, `client_credentials` 1,000) and
/// generous figures elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyLimits {
    /// Token endpoint, `client_credentials`.
    pub oauth_application: u64,
    /// Token endpoint, `authorization_code` + `refresh_token`.
    pub oauth_user: u64,
    /// Buy Browse.
    pub browse: u64,
    /// Sell Inventory.
    pub inventory: u64,
    /// Sell Fulfillment.
    pub fulfillment: u64,
    /// Sell Negotiation.
    pub negotiation: u64,
    /// Commerce Notification.
    pub notification: u64,
}

impl Default for DailyLimits {
    fn default() -> Self {
        DailyLimits {
            oauth_application: 1_000,
            oauth_user: 50_000,
            browse: 5_000,
            inventory: 2_000_000,
            fulfillment: 100_000,
            negotiation: 100_000,
            notification: 10_000,
        }
    }
}

impl DailyLimits {
    fn of(&self, api: Api) -> u64 {
        match api {
            Api::OAuthApplication => self.oauth_application,
            Api::OAuthUser => self.oauth_user,
            Api::Browse => self.browse,
            Api::Inventory => self.inventory,
            Api::Fulfillment => self.fulfillment,
            Api::Negotiation => self.negotiation,
            Api::Notification => self.notification,
        }
    }
}

/// How the simulated eBay behaves.
#[derive(Debug, Clone)]
pub struct EbayConfig {
    /// Seeds every id and token.
    pub seed: u64,
    /// The one registered application's client id (App ID).
    pub client_id: String,
    /// Its client secret (Cert ID).
    pub client_secret: String,
    /// The application's RuName: the `redirect_uri` of the authorization-code grant.
    pub ru_name: String,
    /// Where the RuName points: `/oauth2/authorize` redirects there with `?code=`.
    pub accept_url: String,
    /// The eBay user who consents and sells (the agent's account).
    pub seller_username: String,
    /// The marketplace of this site (`EBAY_US`); its currency prices offers.
    pub marketplace_id: String,
    /// Base URL written into `href`/`next`/`Location`; defaults to `http://<bound address>`.
    pub public_base_url: Option<String>,
    /// Daily call limits.
    pub limits: DailyLimits,
    /// Access token lifetime (eBay: 7,200 s).
    pub access_token_ttl_secs: i64,
    /// Refresh token lifetime (eBay: 18 months).
    pub refresh_token_ttl_secs: i64,
    /// Authorization code lifetime (eBay: 299 s).
    pub auth_code_ttl_secs: i64,
    /// Where the "day" of daily limits and revision counts begins, as minutes east of UTC.
    pub day_offset_minutes: i32,
    /// Revisions allowed per listing per day (eBay: 250).
    pub revisions_per_listing_per_day: u32,
    /// Final value fee in basis points of the order total (13.25 % = 1325).
    pub final_value_fee_bps: i64,
    /// Per-order fee in minor units of the order currency (30 = $0.30).
    pub per_order_fee_minor: i64,
    /// The business policies on the seller's account (Seller Hub > Business policies),
    /// by kind: an offer naming another id is refused at publish time, as eBay does.
    pub seller_policies: SellerPolicies,
    /// Simulated seconds per wall-clock second (`sim serve --speed`). eBay's token and
    /// code lifetimes are wall-clock time: at 600× a 7,200 s token lasts 7,200 × 600
    /// simulated seconds, so an agent on the real clock keeps it its two hours.
    pub speed: u32,
}

impl Default for EbayConfig {
    fn default() -> Self {
        EbayConfig {
            seed: 0,
            client_id: "BazaarSim-agent-PRD-0a1b2c3d4-5e6f7a8b".into(),
            client_secret: "PRD-0a1b2c3d4e5f-6a7b-8c9d-0e1f-2a3b".into(),
            ru_name: "Bazaar_Sim-BazaarSi-agent--abcdefghi".into(),
            accept_url: "http://127.0.0.1:9/ebay/accepted".into(),
            seller_username: "bazaar_agent".into(),
            marketplace_id: "EBAY_US".into(),
            public_base_url: None,
            limits: DailyLimits::default(),
            access_token_ttl_secs: 7_200,
            refresh_token_ttl_secs: 47_304_000,
            auth_code_ttl_secs: 299,
            day_offset_minutes: 0,
            revisions_per_listing_per_day: 250,
            final_value_fee_bps: 1_325,
            per_order_fee_minor: 30,
            speed: 1,
            seller_policies: SellerPolicies::default(),
        }
    }
}

/// The ids of the seller's business policies, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerPolicies {
    /// Shipping policies (`fulfillmentPolicyId`).
    pub fulfillment: Vec<String>,
    /// Payment policies (`paymentPolicyId`).
    pub payment: Vec<String>,
    /// Return policies (`returnPolicyId`).
    pub returns: Vec<String>,
}

impl Default for SellerPolicies {
    /// One policy of each kind, with ids shaped as eBay's are.
    fn default() -> Self {
        SellerPolicies {
            fulfillment: vec!["6196944000".into()],
            payment: vec!["6196945000".into()],
            returns: vec!["6196946000".into()],
        }
    }
}

/// Marketplaces the sim accepts in `X-EBAY-C-MARKETPLACE-ID` and `marketplaceId`.
pub(crate) const MARKETPLACES: &[&str] = &[
    "EBAY_US", "EBAY_GB", "EBAY_DE", "EBAY_AU", "EBAY_CA", "EBAY_FR", "EBAY_IT", "EBAY_ES",
];

/// The currency of a marketplace.
pub(crate) fn marketplace_currency(marketplace: &str) -> bazaar_memory::Currency {
    use bazaar_memory::Currency;
    match marketplace {
        "EBAY_GB" => Currency::Gbp,
        "EBAY_DE" | "EBAY_FR" | "EBAY_IT" | "EBAY_ES" => Currency::Eur,
        "EBAY_AU" => Currency::Aud,
        "EBAY_CA" => Currency::Cad,
        _ => Currency::Usd,
    }
}

/// `n` decimal digits from `rng`, the first not zero.
fn digits_from(rng: &mut StdRng, n: usize) -> String {
    let mut out = String::with_capacity(n);
    out.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 1..n {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    out
}

/// Everything the server knows, behind one lock.
pub(crate) struct State {
    pub(crate) config: EbayConfig,
    pub(crate) base_url: String,
    rng: StdRng,
    /// Ids of listings the world posts: a stream of their own, so that what the agent does
    /// (tokens, offers, orders draw from `rng`) cannot change the world's listing ids.
    catalog_rng: StdRng,
    calls: BTreeMap<(Api, NaiveDate), u64>,
    pub(crate) oauth: oauth::OAuthState,
    pub(crate) catalog: browse::Catalog,
    pub(crate) inventory: inventory::InventoryState,
    pub(crate) orders: fulfillment::OrderBook,
    pub(crate) negotiation: negotiation::NegotiationState,
    pub(crate) notify: notification::NotificationState,
}

impl State {
    /// The "day" `now` falls in, for daily limits and revision counts.
    pub(crate) fn day(&self, now: DateTime<Utc>) -> NaiveDate {
        (now + chrono::Duration::minutes(i64::from(self.config.day_offset_minutes))).date_naive()
    }

    /// Counts one call to `api`; past the day's limit the call is refused with 429.
    pub(crate) fn count_call(&mut self, api: Api, now: DateTime<Utc>) -> Result<(), ApiError> {
        let limit = self.config.limits.of(api);
        let day = self.day(now);
        let used = self.calls.entry((api, day)).or_insert(0);
        if *used >= limit {
            return Err(ApiError::too_many_requests(api.name(), limit));
        }
        *used += 1;
        Ok(())
    }

    /// How long, in simulated time, a lifetime of `wall_secs` wall-clock seconds lasts.
    pub(crate) fn lifetime(&self, wall_secs: i64) -> chrono::Duration {
        let secs = wall_secs.saturating_mul(i64::from(self.config.speed.max(1)));
        chrono::Duration::try_seconds(secs).unwrap_or(chrono::Duration::MAX)
    }

    /// `n` decimal digits, the first not zero.
    pub(crate) fn digits(&mut self, n: usize) -> String {
        digits_from(&mut self.rng, n)
    }

    /// `n` decimal digits for a listing the world posts (its own stream).
    pub(crate) fn catalog_digits(&mut self, n: usize) -> String {
        digits_from(&mut self.catalog_rng, n)
    }

    /// `n` random bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.rng.random::<u8>()).collect()
    }

    /// A random UUID-shaped id (version 4 layout).
    pub(crate) fn uuid(&mut self) -> String {
        let mut b = self.bytes(16);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )
    }
}

/// The state plus what never changes.
pub(crate) struct Shared {
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) http: reqwest::Client,
    state: Mutex<State>,
    /// Where the agent's requests are recorded, when the world keeps a journal.
    pub(crate) journal: std::sync::OnceLock<Arc<Journal>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

/// eBay's timestamp format: `2026-01-01T00:00:00.000Z`.
pub(crate) fn ebay_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `{value, currency}` with a decimal-string value, as every eBay price is written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Amount {
    pub(crate) value: String,
    pub(crate) currency: String,
}

impl Amount {
    pub(crate) fn of(money: Money) -> Amount {
        Amount {
            value: money.to_decimal_string(),
            currency: money.currency.code().to_string(),
        }
    }

    /// Parses it, or says why not.
    pub(crate) fn money(&self) -> Result<Money, String> {
        let currency = bazaar_memory::Currency::from_code(&self.currency)
            .ok_or_else(|| format!("unknown currency {:?}", self.currency))?;
        if self.value.contains(',') || self.value.trim() != self.value {
            return Err(format!("{:?} is not a plain decimal string", self.value));
        }
        Money::from_decimal_str(&self.value, currency).map_err(|e| e.to_string())
    }
}

/// The query string as ordered `(name, value)` pairs.
pub(crate) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
}

/// The first value of `name` in `pairs`.
pub(crate) fn query_get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `base + path + ?query` with the pairs URL-encoded.
pub(crate) fn href(base: &str, path: &str, pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return format!("{base}{path}");
    }
    let query = serde_urlencoded::to_string(pairs).unwrap_or_default();
    format!("{base}{path}?{query}")
}

/// Parses a JSON request body; `bad` builds the operation's error from the failing path.
pub(crate) fn parse_body<T: DeserializeOwned>(
    body: &Bytes,
    bad: impl FnOnce(String, String) -> ApiError,
) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        bad(path, e.inner().to_string())
    })
}

/// A header's value as text, if present and printable.
pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A running simulated eBay. Dropping it stops the server.
pub struct EbaySim {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    server: Server,
}

impl std::fmt::Debug for EbaySim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbaySim")
            .field("addr", &self.addr)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl EbaySim {
    /// Binds 127.0.0.1:0 and serves the eBay APIs until the handle is dropped or
    /// [`EbaySim::shutdown`] is called. Must run inside a tokio runtime.
    pub async fn start(
        config: EbayConfig,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<(EbaySim, SocketAddr)> {
        let (listener, addr) = server::bind().await?;
        let base_url = config
            .public_base_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_string();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(bazaar_mail::tls_client_config())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let notify = notification::NotificationState::new(config.seed, &mut rng);
        let state = State {
            base_url: base_url.clone(),
            rng,
            catalog_rng: StdRng::seed_from_u64(config.seed ^ 0x6361_7461_6c6f_6721),
            calls: BTreeMap::new(),
            oauth: oauth::OAuthState::default(),
            catalog: browse::Catalog::default(),
            inventory: inventory::InventoryState::default(),
            orders: fulfillment::OrderBook::default(),
            negotiation: negotiation::NegotiationState::default(),
            notify,
            config,
        };
        let shared = Arc::new(Shared {
            clock,
            http,
            state: Mutex::new(state),
            journal: std::sync::OnceLock::new(),
        });
        let server = Server::serve(listener, router(shared.clone()), "ebay");
        Ok((
            EbaySim {
                shared,
                addr,
                base_url,
                server,
            },
            addr,
        ))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL written into `href`s (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Puts another seller's item up for sale (searchable through Browse); returns its
    /// Browse `itemId` (`v1|<legacyItemId>|0`).
    pub fn add_listing(&self, listing: CatalogListing) -> String {
        let now = self.shared.now();
        let mut st = self.shared.lock();
        browse::add_listing(&mut st, listing, now)
    }

    /// Ends another seller's listing (sold elsewhere, withdrawn); false if unknown.
    pub fn end_listing(&self, item_id: &str) -> bool {
        let now = self.shared.now();
        let mut st = self.shared.lock();
        browse::end_listing(&mut st, item_id, now)
    }

    /// A buyer buys one unit of the agent's published listing at its current price:
    /// creates a Fulfillment order and pushes a signed `ORDER_CONFIRMATION` notification to
    /// every enabled subscription. Buying more units than were listed is an oversell; it
    /// is recorded (see [`EbaySim::oversells`]) and the order still happens.
    pub async fn buy(&self, listing_id: &str, buyer: &str) -> Result<Purchase, BuyError> {
        fulfillment::buy(&self.shared, listing_id, buyer, None).await
    }

    /// As [`EbaySim::buy`], at an agreed price (an accepted offer).
    pub async fn buy_at(
        &self,
        listing_id: &str,
        buyer: &str,
        price: Money,
    ) -> Result<Purchase, BuyError> {
        fulfillment::buy(&self.shared, listing_id, buyer, Some(price)).await
    }

    /// A buyer watches the agent's listing, which makes it eligible for
    /// `send_offer_to_interested_buyers`.
    pub fn add_interest(&self, listing_id: &str, buyer: &str) -> Result<(), BuyError> {
        let mut st = self.shared.lock();
        negotiation::add_interest(&mut st, listing_id, buyer)
    }

    /// The agent's live listings (published offers not withdrawn), by offer id: what
    /// buyers can find and buy.
    pub fn agent_listings(&self) -> Vec<AgentListing> {
        let st = self.shared.lock();
        st.inventory
            .offers
            .values()
            .filter_map(|offer| {
                let listing = offer.listing.as_ref()?;
                let listing_id = offer.live_listing()?.to_string();
                let title = st
                    .inventory
                    .items
                    .get(&offer.sku)
                    .and_then(|item| item.body.product.as_ref()?.title.clone())
                    .unwrap_or_default();
                Some(AgentListing {
                    listing_id,
                    sku: offer.sku.clone(),
                    title,
                    price: offer.details.price().and_then(|a| a.money().ok())?,
                    available: st.inventory.available(offer),
                    sold: listing.sold,
                })
            })
            .collect()
    }

    /// Every offer the agent created, published or not, by offer id: what a check that
    /// nothing was listed twice reads.
    pub fn agent_offers(&self) -> Vec<AgentOffer> {
        let st = self.shared.lock();
        st.inventory
            .offers
            .values()
            .map(|offer| AgentOffer {
                offer_id: offer.offer_id.clone(),
                sku: offer.sku.clone(),
                published: offer.published,
                listing_id: offer.listing.as_ref().map(|l| l.listing_id.clone()),
                live: offer.live_listing().is_some(),
            })
            .collect()
    }

    /// Every oversell so far, oldest first.
    pub fn oversells(&self) -> Vec<Oversell> {
        self.shared.lock().orders.oversells.clone()
    }

    /// Every notification delivery attempt so far, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.shared.lock().notify.deliveries.clone()
    }

    /// Every offer the agent sent to interested buyers, oldest first.
    pub fn seller_offers(&self) -> Vec<SellerOffer> {
        self.shared.lock().negotiation.sent.clone()
    }

    /// The seller consents to `scopes` without a browser: an authorization code for the
    /// `authorization_code` grant, as `/oauth2/authorize` would put in its redirect.
    pub fn authorization_code(&self, scopes: &[&str]) -> String {
        if let Some(journal) = self.shared.journal.get() {
            let consent = Entry::Consent {
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            };
            if let Err(error) = journal.record(&consent) {
                tracing::error!(%error, "the seller's consent could not be journaled");
            }
        }
        let now = self.shared.now();
        let mut st = self.shared.lock();
        oauth::issue_code(&mut st, scopes.iter().map(|s| s.to_string()).collect(), now)
    }

    /// Runs token and code lifetimes at `speed` simulated seconds per wall-clock second
    /// from now on (see [`EbayConfig::speed`]).
    pub fn set_speed(&self, speed: u32) {
        self.shared.lock().config.speed = speed.max(1);
    }

    /// Calls counted against `api`'s limit on the current (simulated) day.
    pub fn calls_today(&self, api: Api) -> u64 {
        let now = self.shared.now();
        let st = self.shared.lock();
        let day = st.day(now);
        st.calls.get(&(api, day)).copied().unwrap_or(0)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        self.server.stop().await;
    }

    /// Records every request from now on in `journal` before it takes effect, one request
    /// at a time. Set once; later calls change nothing.
    pub fn set_journal(&self, journal: Arc<Journal>) {
        let _ = self.shared.journal.set(journal);
    }

    /// Plays one journaled request again, over HTTP like the original, and discards the
    /// answer (the agent that asked is gone).
    pub async fn replay(
        &self,
        method: &str,
        uri: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<(), String> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self
            .shared
            .http
            .request(method, format!("{}{uri}", self.base_url))
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_server_error() || status == reqwest::StatusCode::UNAUTHORIZED {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("{status}: {body}"));
        }
        Ok(())
    }
}

/// Records each request in the journal (when there is one) before the handler runs.
async fn journal_requests(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(journal) = shared.journal.get().cloned() else {
        return next.run(request).await;
    };
    let _one_at_a_time = journal.serialize().await;
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 4 << 20).await else {
        return ApiError::invalid_request("the request body is larger than 4 MiB").into_response();
    };
    let entry = Entry::Http {
        at: shared.now(),
        started: journal.started(),
        method: parts.method.to_string(),
        uri: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.to_string()),
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| {
                *name != axum::http::header::HOST && *name != axum::http::header::CONTENT_LENGTH
            })
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect(),
        body: Entry::encode(&body),
    };
    if let Err(error) = journal.record(&entry) {
        tracing::error!(%error, "an eBay request could not be journaled");
        return ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            ErrorDetail::new(
                10001,
                errors::domain::ACCESS,
                Category::Application,
                "the simulated world cannot record this request",
            ),
        )
        .into_response();
    }
    next.run(axum::extract::Request::from_parts(
        parts,
        axum::body::Body::from(body),
    ))
    .await
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(oauth::routes())
        .merge(browse::routes())
        .merge(inventory::routes())
        .merge(location::routes())
        .merge(fulfillment::routes())
        .merge(negotiation::routes())
        .merge(notification::routes())
        .fallback(|uri: Uri| async move { ApiError::no_such_resource(uri.path()).into_response() })
        .method_not_allowed_fallback(|method: axum::http::Method, uri: Uri| async move {
            ApiError::method_not_allowed(method.as_str(), uri.path()).into_response()
        })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            journal_requests,
        ))
        .with_state(shared)
}

/// What handlers return.
pub(crate) type Reply = Result<Response, ApiError>;
