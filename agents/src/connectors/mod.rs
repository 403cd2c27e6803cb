//! Marketplace connectors: where the Researcher's listings come from.
//!
//! Every source implements [`Source`]: `search` a page of listings for a [`SearchQuery`] and
//! `fetch` one listing by the marketplace's id, each returning the normalized
//! [`MarketListing`] with the payload exactly as received in [`MarketListing::raw`]. Items a
//! page holds but that cannot be used (no price, an absurd price, a duplicate, broken markup)
//! are skipped one by one with a reason in [`SearchPage::skipped`] and one log line each; the
//! rest of the page still counts.
//!
//! - [`ebay::EbayBrowse`]: eBay's Buy Browse API (OAuth client credentials, daily budget,
//!   retries by eBay's error category).
//! - [`craigslist::Craigslist`]: Craigslist-style static HTML (search pages, posting pages).
//! - [`polite::PoliteGate`]: what every request to a host goes through: at most two at a
//!   time, jittered spacing, host-wide backoff, and a pause on a login wall or CAPTCHA that
//!   raises one [`SourceAlert`] for the operator's inbox.

pub mod craigslist;
pub mod ebay;
pub mod ebay_orders;
pub mod ebay_sell;
#[cfg(feature = "browser")]
pub mod marketplace;
pub mod polite;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bazaar_memory::{Currency, MarketListing, Marketplace, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use craigslist::{parse_price, Craigslist, CraigslistSettings, PriceProblem};
pub use ebay::{EbayBrowse, EbaySettings};
pub use polite::{PoliteConfig, PoliteGate};

/// The future a [`Source`] method returns (boxed, so `Arc<dyn Source>` works).
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, SourceError>> + Send + 'a>>;

/// The most an asking price may be before a listing counts as absurd and is skipped:
/// $1,000,000 (in any currency's major unit).
pub const MAX_SANE_PRICE_MAJOR: i64 = 1_000_000;

/// How results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// The marketplace's own order (relevance, or newest first on classifieds).
    #[default]
    BestMatch,
    /// Newest first.
    Newest,
    /// Cheapest first.
    PriceAscending,
    /// Dearest first.
    PriceDescending,
}

/// One search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchQuery {
    /// Words to search for.
    pub text: String,
    /// Normalized category (`"electronics"`, `"furniture"`, `"bike"`, `"car"`, `"phone"`,
    /// `"housing"`), if any.
    pub category: Option<String>,
    /// Lowest asking price.
    pub min_price: Option<Money>,
    /// Highest asking price.
    pub max_price: Option<Money>,
    /// Where to start: the `next_offset` of the previous page (0 for the first).
    pub offset: u32,
    /// At most this many results (the source's default when `None`).
    pub limit: Option<u32>,
    /// Order.
    pub sort: SortOrder,
    /// New or used only (eBay's `conditions` filter; classifieds ignore it).
    pub condition: Option<ConditionFilter>,
    /// Listings the caller read lately; a source that fetches a page per listing need not
    /// fetch these again (see [`KnownListings`]).
    pub known: KnownListings,
}

/// Listings a caller already holds, by the marketplace's id, with the asking price each had
/// when last read. A source that fetches a page per listing (a Craigslist posting) skips a
/// result showing the same price and counts it in [`SearchPage::unchanged`]: a scan every
/// few minutes then fetches what is new or repriced, not every posting again.
#[derive(Clone, Default, PartialEq)]
pub struct KnownListings(std::sync::Arc<std::collections::HashMap<String, Money>>);

impl KnownListings {
    /// Known listings: external id → asking price when last read.
    pub fn new(prices: std::collections::HashMap<String, Money>) -> KnownListings {
        KnownListings(std::sync::Arc::new(prices))
    }

    /// Whether `external_id` is known at `price`.
    pub fn holds(&self, external_id: &str, price: Money) -> bool {
        self.0.get(external_id) == Some(&price)
    }
}

impl std::fmt::Debug for KnownListings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KnownListings({} listings)", self.0.len())
    }
}

/// eBay's coarse condition filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionFilter {
    /// New items only.
    New,
    /// Used items only.
    Used,
}

impl ConditionFilter {
    /// The value eBay's `conditions:{…}` filter takes.
    pub fn ebay_name(self) -> &'static str {
        match self {
            ConditionFilter::New => "NEW",
            ConditionFilter::Used => "USED",
        }
    }
}

impl SearchQuery {
    /// The price range in whole dollars, as HTML sites take it: the minimum rounded down and
    /// the maximum rounded up, so no listing inside the range is cut off.
    pub fn whole_dollar_range(&self) -> (Option<i64>, Option<i64>) {
        (
            self.min_price.map(|min| min.minor.max(0) / 100),
            self.max_price.map(|max| (max.minor.max(0) + 99) / 100),
        )
    }

    /// A search for `text`, first page, the source's defaults otherwise.
    pub fn new(text: impl Into<String>) -> SearchQuery {
        SearchQuery {
            text: text.into(),
            ..SearchQuery::default()
        }
    }
}

/// An item a page held that was not turned into a listing, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The marketplace's id for it, when it could be read.
    pub external_id: Option<String>,
    /// Why it was skipped (lowercase, for logs and the operator).
    pub reason: String,
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchPage {
    /// The usable listings, in the marketplace's order.
    pub listings: Vec<MarketListing>,
    /// Items skipped, with reasons.
    pub skipped: Vec<Skipped>,
    /// The offset of the next page, if there is one.
    pub next_offset: Option<u32>,
    /// How many results the marketplace says match, when it says.
    pub total: Option<u64>,
    /// Set when the page answered but could not be read as expected (see [`Degradation`]).
    pub degraded: Option<Degradation>,
    /// Results left out because the query's [`KnownListings`] hold them at the price shown.
    pub unchanged: usize,
}

/// A search page that answered, is not a "no results" page, and gave no listing — or
/// fewer than half of the items the page itself lists in its structured data: the site's
/// layout has most likely changed under the connector. An incident for the operator, never
/// an empty result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Degradation {
    pub marketplace: Marketplace,
    /// The search page.
    pub url: String,
    /// Rows read from it.
    pub read: usize,
    /// Items the page's own structured data names (Craigslist's JSON-LD item list), when
    /// it has any.
    pub expected: Option<usize>,
}

impl Degradation {
    /// What to tell the operator.
    pub fn message(&self) -> String {
        let counts = match self.expected {
            Some(expected) => format!("{} of the {expected} listings it names", self.read),
            None => format!("{} listings", self.read),
        };
        format!(
            "{} search page read {counts}: the site's layout has probably changed; \
             run `bazaar parse {} <saved page>` on a copy of {} and report it",
            self.marketplace, self.marketplace, self.url
        )
    }
}

/// Why a source stopped answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// The site wants a login before it shows listings.
    LoginWall,
    /// The site wants a CAPTCHA solved.
    Captcha,
}

impl BlockKind {
    /// Lowercase name for logs.
    pub fn name(self) -> &'static str {
        match self {
            BlockKind::LoginWall => "login wall",
            BlockKind::Captcha => "captcha",
        }
    }
}

/// Something the operator must know about a source: raised once, when the source pauses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAlert {
    /// Which marketplace.
    pub marketplace: Marketplace,
    /// Which host.
    pub host: String,
    /// What it put in the way.
    pub kind: BlockKind,
    /// The page that showed it.
    pub url: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What to tell the operator.
    pub message: String,
}

/// Why a source call failed. Messages are lowercase and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The marketplace asks us to slow down (429), and retrying now did not help.
    #[error("rate limited by the marketplace; try again in {}", retry_hint(.retry_after))]
    RateLimited {
        /// How long it asked us to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The site put a login wall in front of its listings; the source is paused.
    #[error("{url} wants a login; the source is paused until an operator resumes it")]
    LoginWall {
        /// The page that showed it.
        url: String,
    },
    /// The site wants a CAPTCHA solved; the source is paused.
    #[error("{url} shows a captcha; the source is paused until an operator resumes it")]
    Captcha {
        /// The page that showed it.
        url: String,
    },
    /// The source was paused earlier (login wall or CAPTCHA); nothing was sent.
    #[error("{host} is paused after a {}; resume it once it is cleared", .kind.name())]
    Paused {
        host: String,
        /// Why it was paused.
        kind: BlockKind,
    },
    /// An HTTP status the connector does not retry (or stopped retrying).
    #[error("http {status}: {detail}")]
    Http {
        status: u16,
        /// What the server said, shortened.
        detail: String,
    },
    /// The listing is gone (sold, deleted, never existed).
    #[error("listing {0} not found; it was sold, deleted or never existed")]
    NotFound(String),
    /// The answer could not be read.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// The configured daily call budget is used up.
    #[error("daily call budget of {limit} used up; calls resume at the next marketplace day")]
    BudgetExhausted {
        /// The budget.
        limit: u64,
    },
    /// Credentials were refused.
    #[error("authentication failed: {0}; check the client id and secret")]
    Auth(String),
    /// The connection failed.
    #[error("network error: {0}")]
    Network(String),
    /// The marketplace will not show the seller's address to a program: a person must open
    /// the page (solve its captcha, say) and copy it.
    #[error("the seller's address at {url} is {why}; open the page in a browser to read it")]
    ContactHidden {
        /// The reply page.
        url: String,
        /// Why it shows no address (`behind a captcha`).
        why: String,
    },
    /// The seller takes calls or texts only: the reply page names a phone number and no
    /// address, and deals are negotiated by email.
    #[error("the seller at {url} takes calls or texts only ({phone}); bazaar negotiates by email")]
    PhoneOnly {
        /// The reply page.
        url: String,
        /// The number as the page shows it.
        phone: String,
    },
    /// The connector is not set up right.
    #[error("connector misconfigured: {0}")]
    Config(String),
}

fn retry_hint(after: &Option<Duration>) -> String {
    match after {
        Some(d) => format!("{} s", d.as_secs().max(1)),
        None => "a while".to_string(),
    }
}

impl SourceError {
    /// True when the source is blocked (login wall, CAPTCHA, paused) and needs the operator.
    pub fn is_blocked(&self) -> bool {
        matches!(
            self,
            SourceError::LoginWall { .. }
                | SourceError::Captcha { .. }
                | SourceError::Paused { .. }
        )
    }
}

/// A place listings come from.
pub trait Source: Send + Sync {
    /// Which marketplace it reads.
    fn marketplace(&self) -> Marketplace;

    /// One page of results for `query`.
    fn search<'a>(&'a self, query: &'a SearchQuery) -> SourceFuture<'a, SearchPage>;

    /// One listing by the marketplace's id for it.
    fn fetch<'a>(&'a self, external_id: &'a str) -> SourceFuture<'a, MarketListing>;

    /// Whether its search answers with summaries (eBay's item summaries: no description,
    /// no item specifics), so a listing worth pursuing is read whole ([`Source::fetch`])
    /// and valued again before a deal is started on it.
    fn lists_summaries(&self) -> bool {
        false
    }

    /// The seller's email address from the page a listing's [`SellerRef::contact_url`]
    /// names, for listings that do not show it. Sources whose listings always name the
    /// seller have no such page.
    ///
    /// [`SellerRef::contact_url`]: bazaar_memory::SellerRef::contact_url
    fn reveal_contact<'a>(&'a self, contact_url: &'a str) -> SourceFuture<'a, String> {
        Box::pin(async move {
            Err(SourceError::Config(format!(
                "{} listings name their seller; there is no reply page to read ({contact_url})",
                self.marketplace()
            )))
        })
    }

    /// Alerts raised since the last call (at most one per pause), to forward to the
    /// operator's inbox.
    fn take_alerts(&self) -> Vec<SourceAlert>;

    /// Lifts a pause after the operator cleared the login wall or CAPTCHA.
    fn resume(&self);

    /// Stops what the source runs besides requests (a browser), at shutdown.
    fn close(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async {})
    }
}

/// Shows a page as a browser does — its scripts run — and gives back the markup, for pages
/// a plain request cannot read (Craigslist's reply page when its script writes the address).
pub trait PageRenderer: Send + Sync {
    /// The page at `url` once an element matching the CSS selector `ready` is in it (or the
    /// wait ran out), as HTML.
    fn render<'a>(&'a self, url: &'a str, ready: &'a str) -> SourceFuture<'a, String>;

    /// Stops the browser (it starts again on the next page).
    fn close(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl std::fmt::Debug for dyn Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Source({})", self.marketplace())
    }
}

/// `Err(reason)` when `price` cannot be a real asking price: negative, or above
/// [`MAX_SANE_PRICE_MAJOR`].
pub fn check_price(price: Money) -> Result<Money, String> {
    if price.is_negative() {
        return Err(format!("negative price {price}"));
    }
    let scale = 10i64.pow(price.currency.exponent());
    if price.minor > MAX_SANE_PRICE_MAJOR.saturating_mul(scale) {
        return Err(format!("absurd price {price}"));
    }
    Ok(price)
}

/// The currency for a decimal amount with an ISO code, or why not.
pub(crate) fn money_from(value: &str, currency: &str) -> Result<Money, String> {
    let currency =
        Currency::from_code(currency).ok_or_else(|| format!("unknown currency {currency:?}"))?;
    Money::from_decimal_str(value, currency).map_err(|e| format!("bad price: {e}"))
}

/// The first `max` characters of `text`, for error details.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Logs a skipped item once and records it.
pub(crate) fn skip(
    skipped: &mut Vec<Skipped>,
    marketplace: Marketplace,
    external_id: Option<String>,
    reason: String,
) {
    tracing::warn!(
        %marketplace,
        external_id = external_id.as_deref().unwrap_or("-"),
        %reason,
        "listing skipped"
    );
    skipped.push(Skipped {
        external_id,
        reason,
    });
}
