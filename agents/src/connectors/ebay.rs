//! eBay's Buy Browse API: `item_summary/search` and `item/{item_id}`.
//!
//! - OAuth: an application token from the client-credentials grant, cached until
//!   [`EbaySettings::token_margin`] before it expires (the token endpoint has its own daily
//!   limit).
//! - Every HTTP call, token requests included, counts against the daily budget
//!   ([`EbaySettings::daily_budget`], `policy.limits.api_calls_per_day`) before it is sent.
//!   The count lives in the store's meta tree under [`EBAY_BROWSE_CALLS`](bazaar_memory::meta_keys::EBAY_BROWSE_CALLS), keyed by the marketplace
//!   day (`policy.day_utc_offset_minutes`), so a restart keeps it and a new day resets it.
//! - Retries by eBay's error category: a 401 drops the token, refreshes it and retries once;
//!   429, 5xx, network failures and `APPLICATION` errors back off and retry a few times
//!   (through the host's [`PoliteGate`]); `REQUEST` and `BUSINESS` errors are never retried.
//! - Prices are eBay's decimal strings, parsed straight into [`Money`]; an item with no
//!   price, a bad price or an absurd one is skipped with its reason.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use bazaar_config::Config;
use bazaar_memory::{
    Condition, ListingId, MarketListing, Marketplace, Money, SellerRef, SharedClock, SledStore,
    Store,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::polite::{retry_after, Outcome, PoliteConfig, PoliteGate};
use super::{
    check_price, money_from, shorten, skip, SearchPage, SearchQuery, Skipped, SortOrder, Source,
    SourceAlert, SourceError, SourceFuture,
};

/// The scope of an application token for Browse.
const API_SCOPE: &str = "https://api.ebay.com/oauth/api_scope";

/// How the connector reaches eBay.
#[derive(Clone)]
pub struct EbaySettings {
    /// API root (`https://api.ebay.com`; the simulator's URL in tests).
    pub base_url: String,
    /// `X-EBAY-C-MARKETPLACE-ID` (`EBAY_US`).
    pub marketplace_id: String,
    /// OAuth client id (App ID).
    pub client_id: String,
    /// OAuth client secret (Cert ID), already resolved.
    pub client_secret: String,
    /// Calls allowed per marketplace day, token requests included.
    pub daily_budget: u64,
    /// Where the marketplace day begins, in minutes east of UTC.
    pub day_utc_offset_minutes: i32,
    /// A cached token is renewed this long before it expires.
    pub token_margin: Duration,
    /// Results per page when the query does not say (eBay allows 1..=200).
    pub page_size: u32,
}

impl std::fmt::Debug for EbaySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbaySettings")
            .field("base_url", &self.base_url)
            .field("marketplace_id", &self.marketplace_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("daily_budget", &self.daily_budget)
            .field("day_utc_offset_minutes", &self.day_utc_offset_minutes)
            .finish_non_exhaustive()
    }
}

impl EbaySettings {
    /// Settings with eBay's defaults (5-minute token margin, 50 results a page).
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        daily_budget: u64,
    ) -> EbaySettings {
        EbaySettings {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            marketplace_id: "EBAY_US".into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            daily_budget,
            day_utc_offset_minutes: 0,
            token_margin: Duration::from_secs(300),
            page_size: 50,
        }
    }

    /// From `[marketplaces.ebay]` and `[policy]`, resolving the client secret.
    pub fn from_config(config: &Config) -> Result<EbaySettings, SourceError> {
        let ebay = &config.marketplaces.ebay;
        let secret = ebay
            .client_secret
            .as_ref()
            .ok_or_else(|| {
                SourceError::Config("marketplaces.ebay.client_secret is not set".into())
            })?
            .resolve("marketplaces.ebay.client_secret")
            .map_err(|e| SourceError::Config(e.to_string()))?;
        if ebay.client_id.is_empty() {
            return Err(SourceError::Config(
                "marketplaces.ebay.client_id is empty".into(),
            ));
        }
        let mut settings = EbaySettings::new(
            &ebay.base_url,
            &ebay.client_id,
            secret.expose(),
            u64::from(config.policy.limits.api_calls_per_day),
        );
        settings.marketplace_id = ebay.marketplace_id.clone();
        settings.day_utc_offset_minutes = config.policy.day_utc_offset_minutes;
        Ok(settings)
    }
}

/// An OAuth access token and when it expires.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    /// The bearer value (never logged).
    pub(crate) value: String,
    /// When eBay stops accepting it.
    pub(crate) expires_at: DateTime<Utc>,
}

impl Token {
    /// True while the token has more than `margin` left at `now`.
    pub(crate) fn fresh(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        now + chrono::Duration::from_std(margin).unwrap_or_default() < self.expires_at
    }
}

/// Today's count, as kept in the meta tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct BudgetRecord {
    day: NaiveDate,
    used: u64,
}

/// A daily call budget counted in the store's meta tree under one key, keyed by the
/// marketplace day, so a restart keeps it and a new day resets it.
pub(crate) struct CallBudget {
    key: &'static str,
    limit: u64,
    day_utc_offset_minutes: i32,
    store: SledStore,
    clock: SharedClock,
    lock: Mutex<()>,
}

impl CallBudget {
    /// A budget of `limit` calls a day under `key`.
    pub(crate) fn new(
        key: &'static str,
        limit: u64,
        day_utc_offset_minutes: i32,
        store: SledStore,
        clock: SharedClock,
    ) -> CallBudget {
        CallBudget {
            key,
            limit,
            day_utc_offset_minutes,
            store,
            clock,
            lock: Mutex::new(()),
        }
    }

    fn day(&self, at: DateTime<Utc>) -> NaiveDate {
        (at + chrono::Duration::minutes(i64::from(self.day_utc_offset_minutes))).date_naive()
    }

    fn read(&self) -> BudgetRecord {
        let day = self.day(self.clock.now());
        let stored = match self.store.get_meta::<BudgetRecord>(self.key) {
            Ok(stored) => stored,
            Err(error) => {
                tracing::warn!(%error, key = self.key, "ebay call count unreadable; counting from zero");
                None
            }
        };
        stored
            .filter(|r| r.day == day)
            .unwrap_or(BudgetRecord { day, used: 0 })
    }

    /// Calls counted on the current marketplace day.
    pub(crate) fn used(&self) -> u64 {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.read().used
    }

    /// Counts one call, or refuses it when the day's budget is used up.
    pub(crate) fn count(&self) -> Result<(), SourceError> {
        self.count_leaving(0)
    }

    /// Counts one call unless it would eat into the last `reserve` calls of the day,
    /// which are kept for calls that must not be refused (withdrawing a sold item).
    pub(crate) fn count_leaving(&self, reserve: u64) -> Result<(), SourceError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut record = self.read();
        let usable = self.limit.saturating_sub(reserve);
        if record.used >= usable {
            return Err(SourceError::BudgetExhausted { limit: usable });
        }
        record.used += 1;
        if let Err(error) = self.store.put_meta(self.key, &record) {
            tracing::warn!(%error, key = self.key, "ebay call count not saved");
        }
        Ok(())
    }
}

/// The reqwest client every eBay connector uses: no redirects, the gate's timeout.
pub(crate) fn http_client(timeout: Duration) -> Result<reqwest::Client, SourceError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(bazaar_mail::tls_client_config())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("bazaar/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SourceError::Config(format!("http client: {e}")))
}

/// The host of `base_url`, for the politeness gate.
pub(crate) fn host_of(base_url: &str) -> Result<String, SourceError> {
    Ok(reqwest::Url::parse(base_url)
        .map_err(|e| SourceError::Config(format!("base url {base_url:?}: {e}")))?
        .host_str()
        .unwrap_or_default()
        .to_string())
}

/// What the token endpoint answered.
#[derive(Debug, Clone)]
pub(crate) struct TokenGrant {
    /// The access token.
    pub(crate) token: Token,
    /// A refresh token (authorization-code grant only).
    pub(crate) refresh_token: Option<String>,
}

/// One request to the token endpoint with `form` (the grant), authenticated with the
/// client id and secret, classified for the retry loop. Budgets are the caller's business.
pub(crate) async fn request_token(
    http: &reqwest::Client,
    settings: &EbaySettings,
    form: &[(&str, &str)],
    now: DateTime<Utc>,
) -> Outcome<TokenGrant> {
    let url = format!("{}/identity/v1/oauth2/token", settings.base_url);
    let sent = http
        .post(&url)
        .basic_auth(&settings.client_id, Some(&settings.client_secret))
        .form(form)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return Outcome::Retry {
                error: SourceError::Network(error.to_string()),
                retry_after: None,
            }
        }
    };
    let status = response.status().as_u16();
    let after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    if status == 429 {
        return Outcome::Retry {
            error: SourceError::RateLimited { retry_after: after },
            retry_after: after,
        };
    }
    if status >= 500 {
        return Outcome::Retry {
            error: SourceError::Http {
                status,
                detail: format!("token endpoint: {}", shorten(&body, 200)),
            },
            retry_after: after,
        };
    }
    #[derive(Deserialize)]
    struct TokenReply {
        access_token: String,
        expires_in: i64,
        #[serde(default)]
        refresh_token: Option<String>,
    }
    if !(200..300).contains(&status) {
        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let reason = value["error_description"]
            .as_str()
            .or(value["error"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| format!("token endpoint answered {status}"));
        return Outcome::Fail(SourceError::Auth(reason));
    }
    let reply: TokenReply = match serde_json::from_str(&body) {
        Ok(reply) => reply,
        Err(error) => {
            return Outcome::Fail(SourceError::Malformed(format!("token reply: {error}")))
        }
    };
    Outcome::Done(TokenGrant {
        token: Token {
            value: reply.access_token,
            expires_at: now + chrono::Duration::seconds(reply.expires_in.max(0)),
        },
        refresh_token: reply.refresh_token,
    })
}

/// How a non-2xx answer of an eBay REST API is retried: 401 → `Refresh` (the caller drops
/// its token first), 429 → back off, 5xx or category `APPLICATION` → retry, anything
/// else (`REQUEST`, `BUSINESS`) → fail with eBay's words.
pub(crate) fn classify_failure<T>(
    status: u16,
    after: Option<Duration>,
    info: &EbayErrorInfo,
) -> Outcome<T> {
    let detail = info.detail();
    match status {
        401 => Outcome::Refresh(SourceError::Auth(format!(
            "ebay refused the token: {detail}"
        ))),
        429 => Outcome::Retry {
            error: SourceError::RateLimited { retry_after: after },
            retry_after: after,
        },
        s if s >= 500 || info.category == "APPLICATION" => Outcome::Retry {
            error: SourceError::Http { status, detail },
            retry_after: after,
        },
        _ => Outcome::Fail(SourceError::Http { status, detail }),
    }
}

/// The Buy Browse connector.
pub struct EbayBrowse {
    settings: EbaySettings,
    http: reqwest::Client,
    gate: PoliteGate,
    clock: SharedClock,
    token: tokio::sync::Mutex<Option<Token>>,
    budget: CallBudget,
}

impl std::fmt::Debug for EbayBrowse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbayBrowse")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What eBay says in `errors[0]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct EbayErrorInfo {
    /// `errorId` (0 when absent).
    pub(crate) error_id: i64,
    /// `category` (`REQUEST`, `BUSINESS`, `APPLICATION`; empty when absent).
    pub(crate) category: String,
    /// `message`, or the start of the body when there is none.
    pub(crate) message: String,
}

impl EbayErrorInfo {
    /// `errorId N (CATEGORY): message`, for errors and logs.
    pub(crate) fn detail(&self) -> String {
        format!(
            "errorId {} ({}): {}",
            self.error_id,
            if self.category.is_empty() {
                "no category"
            } else {
                &self.category
            },
            self.message
        )
    }
}

/// `errors[0]` of an eBay error body.
pub(crate) fn first_error(body: &str) -> EbayErrorInfo {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let first = &value["errors"][0];
    EbayErrorInfo {
        error_id: first["errorId"].as_i64().unwrap_or(0),
        category: first["category"].as_str().unwrap_or("").to_string(),
        message: first["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| shorten(body, 200)),
    }
}

impl EbayBrowse {
    /// A connector for `settings`, counting calls in `store`'s meta tree on `clock`'s days.
    pub fn new(
        settings: EbaySettings,
        polite: PoliteConfig,
        store: SledStore,
        clock: SharedClock,
    ) -> Result<EbayBrowse, SourceError> {
        let host = host_of(&settings.base_url)?;
        let http = http_client(polite.timeout)?;
        let budget = CallBudget::new(
            bazaar_memory::meta_keys::EBAY_BROWSE_CALLS,
            settings.daily_budget,
            settings.day_utc_offset_minutes,
            store,
            clock.clone(),
        );
        Ok(EbayBrowse {
            gate: PoliteGate::new(Marketplace::Ebay, host, clock.clone(), polite),
            settings,
            http,
            clock,
            token: tokio::sync::Mutex::new(None),
            budget,
        })
    }

    /// The host's politeness gate.
    pub fn gate(&self) -> &PoliteGate {
        &self.gate
    }

    /// Calls counted on the current marketplace day.
    pub fn calls_today(&self) -> u64 {
        self.budget.used()
    }

    /// Counts one call, or refuses it when the day's budget is used up.
    fn count_call(&self) -> Result<(), SourceError> {
        self.budget.count()
    }

    /// A valid application token: the cached one, or a new one.
    async fn token(&self) -> Outcome<String> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now();
        if let Some(token) = cached.as_ref() {
            if token.fresh(now, self.settings.token_margin) {
                return Outcome::Done(token.value.clone());
            }
        }
        *cached = None;
        if let Err(error) = self.count_call() {
            return Outcome::Fail(error);
        }
        let form = [("grant_type", "client_credentials"), ("scope", API_SCOPE)];
        let token = match request_token(&self.http, &self.settings, &form, now).await {
            Outcome::Done(grant) => grant.token,
            Outcome::Retry { error, retry_after } => return Outcome::Retry { error, retry_after },
            Outcome::Refresh(error) => return Outcome::Refresh(error),
            Outcome::Fail(error) => return Outcome::Fail(error),
        };
        tracing::debug!(expires_at = %token.expires_at, "ebay application token issued");
        let value = token.value.clone();
        *cached = Some(token);
        Outcome::Done(value)
    }

    async fn drop_token(&self) {
        *self.token.lock().await = None;
    }

    /// One GET against the Browse API, classified for the retry loop.
    async fn attempt(
        &self,
        path: &str,
        query: &[(&str, String)],
        item: Option<&str>,
    ) -> Outcome<String> {
        let token = match self.token().await {
            Outcome::Done(token) => token,
            Outcome::Retry { error, retry_after } => return Outcome::Retry { error, retry_after },
            Outcome::Refresh(error) => return Outcome::Refresh(error),
            Outcome::Fail(error) => return Outcome::Fail(error),
        };
        if let Err(error) = self.count_call() {
            return Outcome::Fail(error);
        }
        let url = format!("{}/buy/browse/v1{path}", self.settings.base_url);
        let sent = self
            .http
            .get(&url)
            .query(query)
            .bearer_auth(&token)
            .header("X-EBAY-C-MARKETPLACE-ID", &self.settings.marketplace_id)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Retry {
                    error: SourceError::Network(error.to_string()),
                    retry_after: None,
                }
            }
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let body = match response.text().await {
            Ok(body) => body,
            Err(error) => {
                return Outcome::Retry {
                    error: SourceError::Network(error.to_string()),
                    retry_after: None,
                }
            }
        };
        if (200..300).contains(&status) {
            return Outcome::Done(body);
        }
        let info = first_error(&body);
        if status == 401 {
            self.drop_token().await;
        }
        if status == 404
            && item.is_some()
            && info.category != "APPLICATION"
            && matches!(info.error_id, 11001 | 11002 | 0)
        {
            return Outcome::Fail(SourceError::NotFound(item.unwrap_or_default().to_string()));
        }
        classify_failure(status, after, &info)
    }

    async fn get(
        &self,
        what: &str,
        path: &str,
        query: Vec<(&str, String)>,
        item: Option<&str>,
    ) -> Result<Value, SourceError> {
        let body = self
            .gate
            .run(what, || self.attempt(path, &query, item))
            .await?;
        let value: Value = serde_json::from_str(&body).map_err(|e| {
            let error = SourceError::Malformed(format!("{what}: not json: {e}"));
            tracing::warn!(marketplace = "ebay", what, %error, "response skipped");
            error
        })?;
        if let Some(warnings) = value["warnings"].as_array() {
            for w in warnings {
                tracing::warn!(
                    marketplace = "ebay",
                    what,
                    error_id = w["errorId"].as_i64().unwrap_or(0),
                    message = w["message"].as_str().unwrap_or(""),
                    "ebay warned about the request"
                );
            }
        }
        Ok(value)
    }

    fn search_params(
        &self,
        query: &SearchQuery,
    ) -> Result<Vec<(&'static str, String)>, SourceError> {
        let mut params: Vec<(&'static str, String)> = Vec::new();
        if !query.text.trim().is_empty() {
            params.push(("q", query.text.trim().to_string()));
        }
        if let Some(id) = query.category.as_deref().and_then(category_id) {
            params.push(("category_ids", id.to_string()));
        }
        if params.is_empty() {
            return Err(SourceError::Config(
                "an ebay search needs words or a known category".into(),
            ));
        }
        let mut filters = Vec::new();
        if let Some(bound) = query.min_price.or(query.max_price) {
            if let (Some(lo), Some(hi)) = (query.min_price, query.max_price) {
                if lo.currency != hi.currency {
                    return Err(SourceError::Config(
                        "min and max price are in different currencies".into(),
                    ));
                }
            }
            let currency = bound.currency;
            let side = |m: Option<Money>| m.map(Money::to_decimal_string).unwrap_or_default();
            filters.push(format!(
                "price:[{}..{}]",
                side(query.min_price),
                side(query.max_price)
            ));
            filters.push(format!("priceCurrency:{}", currency.code()));
        }
        if let Some(condition) = query.condition {
            filters.push(format!("conditions:{{{}}}", condition.ebay_name()));
        }
        if !filters.is_empty() {
            params.push(("filter", filters.join(",")));
        }
        match query.sort {
            SortOrder::BestMatch => {}
            SortOrder::Newest => params.push(("sort", "newlyListed".into())),
            SortOrder::PriceAscending => params.push(("sort", "price".into())),
            SortOrder::PriceDescending => params.push(("sort", "-price".into())),
        }
        let limit = query.limit.unwrap_or(self.settings.page_size).clamp(1, 200);
        params.push(("limit", limit.to_string()));
        params.push(("offset", query.offset.min(10_000).to_string()));
        Ok(params)
    }

    /// One page of `item_summary/search`.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SourceError> {
        let params = self.search_params(query)?;
        let mut value = self
            .get("search", "/item_summary/search", params, None)
            .await?;
        let now = self.clock.now();
        let returned = value["itemSummaries"].as_array().map_or(0, Vec::len) as u64;
        let mut page = SearchPage {
            total: value["total"].as_u64(),
            ..SearchPage::default()
        };
        let mut seen = HashSet::new();
        let items = match value["itemSummaries"].take() {
            serde_json::Value::Array(items) => items,
            _ => Vec::new(),
        };
        for item in items {
            let id = item["itemId"].as_str().map(str::to_string);
            if let Some(id) = &id {
                if !seen.insert(id.clone()) {
                    skip(
                        &mut page.skipped,
                        Marketplace::Ebay,
                        Some(id.clone()),
                        "duplicate in the same page".into(),
                    );
                    continue;
                }
            }
            if let Some(group) = variation_group(&item) {
                // A deliberate pass, made again on every search that shows the group: a
                // warning each time would bury the ones that matter.
                let reason = group_passed(&group);
                tracing::debug!(marketplace = "ebay", external_id = id.as_deref().unwrap_or("-"), %reason, "listing passed");
                page.skipped.push(Skipped {
                    external_id: id,
                    reason,
                });
                continue;
            }
            match to_listing(&item, query.category.as_deref(), now) {
                Ok(listing) => page.listings.push(listing),
                Err(reason) => skip(&mut page.skipped, Marketplace::Ebay, id, reason),
            }
        }
        if value["next"].as_str().is_some() {
            let offset = value["offset"].as_u64().unwrap_or(u64::from(query.offset));
            let limit = value["limit"].as_u64().unwrap_or(0);
            let next = offset + limit.max(returned).max(1);
            page.next_offset = u32::try_from(next).ok().filter(|n| *n <= 10_000);
        }
        Ok(page)
    }

    /// One item by its Browse id (`v1|<legacy id>|0`).
    pub async fn fetch(&self, item_id: &str) -> Result<MarketListing, SourceError> {
        let path = format!("/item/{}", encode_path_segment(item_id));
        let value = self.get("item", &path, Vec::new(), Some(item_id)).await?;
        to_listing(&value, None, self.clock.now()).map_err(|reason| {
            tracing::warn!(marketplace = "ebay", item_id, %reason, "listing skipped");
            SourceError::Malformed(reason)
        })
    }
}

/// Percent-encodes a path segment (`v1|123|0` → `v1%7C123%7C0`).
pub(crate) fn encode_path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// eBay's category id for a normalized category.
fn category_id(category: &str) -> Option<&'static str> {
    CATEGORIES
        .iter()
        .find(|(name, _)| *name == category)
        .map(|(_, id)| *id)
}

/// Normalized categories and eBay's top-level (or most fitting) category ids.
const CATEGORIES: &[(&str, &str)] = &[
    ("electronics", "293"),
    ("phone", "15032"),
    ("furniture", "3197"),
    ("bike", "7294"),
    ("car", "6001"),
];

/// Ours for the item's category: eBay names the leaf (`58540`, screen protectors) and, in a
/// search summary's `categories` or an item's `categoryIdPath`, its ancestors; the first
/// of those we trade in (`15032`, phones) is it. A leaf with no known ancestor keeps eBay's
/// id (`ebay:58540`) unless the search asked for a category.
/// eBay categories whose items we trade, beyond the ones searched in ([`CATEGORIES`]):
/// the top of a branch, so every leaf under it maps. From eBay's own answers in
/// `../shared/data/real/ebay/` (`categories` of search summaries, `categoryIdPath` and
/// `categoryPath` of an item).
const ANCESTORS: &[(&str, &str)] = &[
    // "Computers/Tablets & Networking" (graphics cards, parts, laptops)
    ("electronics", "58058"),
    // "Video Games & Consoles"
    ("electronics", "1249"),
    // "Cell Phones & Smartphones"
    ("phone", "9355"),
];

fn normalized_category(item: &Value, asked: Option<&str>) -> String {
    let id = item["categoryId"]
        .as_str()
        .or_else(|| item["categories"][0]["categoryId"].as_str());
    let ancestry = id
        .into_iter()
        .chain(
            item["categories"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["categoryId"].as_str()),
        )
        .chain(
            item["categoryIdPath"]
                .as_str()
                .into_iter()
                .flat_map(|p| p.split('|')),
        );
    for category in ancestry {
        let ours = CATEGORIES.iter().chain(ANCESTORS);
        if let Some((name, _)) = ours.into_iter().find(|(_, cid)| *cid == category) {
            return (*name).to_string();
        }
    }
    match (asked, id) {
        (Some(asked), _) => asked.to_string(),
        (None, Some(id)) => format!("ebay:{id}"),
        (None, None) => "unknown".to_string(),
    }
}

/// eBay's condition id (or, failing that, its label) as a normalized [`Condition`].
pub fn condition_from_ebay(condition_id: Option<&str>, label: Option<&str>) -> Condition {
    if let Some(id) = condition_id.and_then(|id| id.trim().parse::<u32>().ok()) {
        return match id {
            1000 => Condition::New,
            1500 | 1750 | 2000 | 2010 | 2750 | 2990 => Condition::LikeNew,
            2020 | 2030 | 2500 | 3000 | 4000 | 5000 => Condition::Good,
            3010 | 6000 => Condition::Fair,
            7000 => Condition::ForParts,
            _ => Condition::Unknown,
        };
    }
    let label = label.unwrap_or("").to_ascii_lowercase();
    match label.as_str() {
        "new" | "brand new" => Condition::New,
        "open box" | "like new" | "new other" => Condition::LikeNew,
        l if l.contains("parts") => Condition::ForParts,
        "acceptable" | "fair" => Condition::Fair,
        "" => Condition::Unknown,
        _ => Condition::Good,
    }
}

/// Plain text of an HTML fragment (eBay descriptions may be HTML).
fn plain_text(html: &str) -> String {
    if !html.contains('<') {
        return html.trim().to_string();
    }
    let fragment = scraper::Html::parse_fragment(html);
    let text: Vec<&str> = fragment
        .root_element()
        .text()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    text.join("\n")
}

/// The item group a search summary stands for, when it is one: a multi-variation listing
/// (`itemGroupType`, or an id `v1|<group>|<variant>` with a variant) shows one display
/// price for variants that sell at others ("iPhone SE 16/32/64/128GB" at $78.99), so it is
/// no item's price. Its id is the group's legacy id.
pub fn variation_group(item: &Value) -> Option<String> {
    let id = item["itemId"].as_str().unwrap_or_default();
    let mut parts = id.split('|');
    let (legacy, variant) = (parts.nth(1), parts.next());
    let grouped = item["itemGroupType"]
        .as_str()
        .is_some_and(|t| !t.is_empty())
        || item["itemGroupHref"].as_str().is_some()
        || variant.is_some_and(|v| v != "0");
    if !grouped {
        return None;
    }
    item["primaryItemGroup"]["itemGroupId"]
        .as_str()
        .or(item["legacyItemId"].as_str())
        .or(legacy)
        .map(str::to_string)
}

/// Why a variation group is passed over rather than valued.
fn group_passed(group: &str) -> String {
    format!(
        "a multi-variation listing (item group {group}): its one display price is no \
         variant's price, so it is passed"
    )
}

/// One item of a Browse answer as the connector reads it.
#[derive(Debug, Clone)]
pub struct BrowseItem {
    /// The normalized listing, or why it could not be made.
    pub listing: Result<MarketListing, String>,
    /// The variation group it stands for, if it is one ([`variation_group`]): a search
    /// passes it over.
    pub item_group: Option<String>,
}

impl BrowseItem {
    /// Why a search passes it over, when it does.
    pub fn passed(&self) -> Option<String> {
        self.item_group.as_deref().map(group_passed)
    }
}

/// A Browse API answer (a search page's `itemSummaries`, or one item) read item by item:
/// what the connector makes of eBay's JSON, without a server (`bazaar parse ebay`, the fuzz
/// targets). Any input gives an answer, never a panic.
pub fn browse_items(body: &str, now: DateTime<Utc>) -> Result<Vec<BrowseItem>, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not json: {e}"))?;
    let read = |item: &Value| BrowseItem {
        listing: to_listing(item, None, now),
        item_group: variation_group(item),
    };
    Ok(match value["itemSummaries"].as_array() {
        Some(items) => items.iter().map(read).collect(),
        None if value.get("itemId").is_some() => vec![read(&value)],
        // A search with no results has no `itemSummaries` at all.
        None if value.get("total").is_some() => Vec::new(),
        None => {
            return Err("neither a Browse search page (itemSummaries) nor an item (itemId)".into())
        }
    })
}

/// Maps an item summary or item detail to the normalized listing, or says why not.
fn to_listing(
    item: &Value,
    asked_category: Option<&str>,
    now: DateTime<Utc>,
) -> Result<MarketListing, String> {
    let external_id = item["itemId"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or("no itemId")?
        .to_string();
    let title = item["title"].as_str().map(str::trim).unwrap_or("");
    if title.is_empty() {
        return Err("no title".into());
    }
    let price = &item["price"];
    let (Some(value), Some(currency)) = (price["value"].as_str(), price["currency"].as_str())
    else {
        return Err("no price".into());
    };
    let price = check_price(money_from(value, currency)?)?;
    let seller = &item["seller"];
    let username = seller["username"].as_str().unwrap_or("").to_string();
    if username.is_empty() {
        return Err("no seller".into());
    }
    let location = {
        let loc = &item["itemLocation"];
        let parts: Vec<&str> = ["city", "stateOrProvince", "country"]
            .iter()
            .filter_map(|k| loc[*k].as_str())
            .filter(|s| !s.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    };
    let mut images: Vec<String> = item["image"]["imageUrl"]
        .as_str()
        .map(str::to_string)
        .into_iter()
        .collect();
    if let Some(more) = item["additionalImages"].as_array() {
        images.extend(
            more.iter()
                .filter_map(|i| i["imageUrl"].as_str().map(str::to_string)),
        );
    }
    let description = item["description"]
        .as_str()
        .or(item["shortDescription"].as_str())
        .map(plain_text)
        .unwrap_or_default();
    let listed_at = item["itemCreationDate"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let url = item["itemWebUrl"]
        .as_str()
        .or(item["itemHref"].as_str())
        .unwrap_or("")
        .to_string();
    Ok(MarketListing {
        id: ListingId::new_at(now),
        marketplace: Marketplace::Ebay,
        external_id,
        url,
        title: title.to_string(),
        description,
        price,
        condition: condition_from_ebay(item["conditionId"].as_str(), item["condition"].as_str()),
        category: normalized_category(item, asked_category),
        seller: SellerRef {
            external_id: username.clone(),
            display_name: Some(username),
            contact_url: None,
        },
        location,
        images,
        listed_at,
        first_seen: now,
        last_seen: now,
        raw: item.to_string(),
    })
}

impl Source for EbayBrowse {
    fn marketplace(&self) -> Marketplace {
        Marketplace::Ebay
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> SourceFuture<'a, SearchPage> {
        Box::pin(EbayBrowse::search(self, query))
    }

    fn fetch<'a>(&'a self, external_id: &'a str) -> SourceFuture<'a, MarketListing> {
        Box::pin(EbayBrowse::fetch(self, external_id))
    }

    fn lists_summaries(&self) -> bool {
        true
    }

    fn take_alerts(&self) -> Vec<SourceAlert> {
        self.gate.take_alerts()
    }

    fn resume(&self) {
        self.gate.resume();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bazaar_memory::{SimClock, SledStore};

    use super::*;

    #[test]
    fn a_variation_group_is_known_by_its_type_or_its_variant_id() {
        let check = |item: serde_json::Value, want: Option<&str>| {
            assert_eq!(variation_group(&item).as_deref(), want, "{item}");
        };
        check(serde_json::json!({"itemId": "v1|296057072805|0"}), None);
        check(
            serde_json::json!({"itemId": "v1|385462201428|653317790198"}),
            Some("385462201428"),
        );
        check(
            serde_json::json!({"itemId": "v1|1|0", "itemGroupType": "SELLER_DEFINED_VARIATIONS", "legacyItemId": "1"}),
            Some("1"),
        );
        check(
            serde_json::json!({"itemId": "v1|2|3", "primaryItemGroup": {"itemGroupId": "9"}}),
            Some("9"),
        );
        check(serde_json::json!({"itemId": "garbage"}), None);
        check(serde_json::json!({}), None);
    }

    #[test]
    fn the_reserve_is_kept_for_the_calls_that_may_spend_it() {
        let clock = SimClock::new(
            DateTime::parse_from_rfc3339("2026-05-01T09:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        let budget = CallBudget::new(
            "test.calls",
            10,
            0,
            SledStore::temporary().unwrap(),
            Arc::new(clock),
        );
        for _ in 0..7 {
            budget.count_leaving(3).unwrap();
        }
        assert!(matches!(
            budget.count_leaving(3),
            Err(SourceError::BudgetExhausted { limit: 7 })
        ));
        for _ in 0..3 {
            budget.count().unwrap();
        }
        assert!(budget.count().is_err());
        assert_eq!(budget.used(), 10);
    }
}
