//! eBay's Sell Inventory API: publishing, repricing, withdrawing and relisting the agent's
//! own listings, as the gate's [`Effector`] for those action kinds.
//!
//! - Publishing is idempotent by SKU: `PUT inventory_item/{sku}`, then the offer found with
//!   `GET offer?sku=` (or a new one from `POST offer`), then `POST offer/{id}/publish`. An
//!   offer that is already live is reported as it is, without another call that would count
//!   as a revision.
//! - Repricing goes through `bulk_update_price_quantity`; eBay's refusals (the
//!   250-revisions-a-day limit among them) fail the action with eBay's own message.
//! - [`Effector::lookup`] reads the offer by SKU and says whether the action's outcome is
//!   visible (published, withdrawn, at the target price), so the gate can reconcile after a
//!   crash.
//! - OAuth: a user access token from the seller's refresh token
//!   ([`EbaySellSettings::refresh_token`]), cached until shortly before it expires; a 401
//!   drops it and refreshes once. [`exchange_authorization_code`] turns the seller's one-time
//!   consent into that refresh token.
//! - Every call goes through the host's [`PoliteGate`] and counts against the daily budget
//!   under [`EBAY_SELL_CALLS`](bazaar_memory::meta_keys::EBAY_SELL_CALLS); retries follow eBay's error categories as for Browse.
//! - Errors: `REQUEST`/`BUSINESS` refusals, budget, credentials and anything before the
//!   deciding call are [`EffectError::Failed`] (definitely not done). When the deciding call
//!   (publish, withdraw, price update) may have reached eBay without an answer (a timeout,
//!   a 5xx, an unreadable 2xx), the connector reads the offer once more: visible → done,
//!   not visible → failed, unreadable → [`EffectError::Unknown`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bazaar_memory::{
    ActionKind, ActionRecord, Condition, Marketplace, Money, SharedClock, SledStore,
};
use bazaar_policies::{BoxFuture, Effect, EffectError, Effector, Lookup};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::ebay::{
    classify_failure, encode_path_segment, first_error, host_of, http_client, request_token,
    CallBudget, EbayErrorInfo, EbaySettings, Token,
};
use super::polite::{retry_after, Outcome, PoliteConfig, PoliteGate};
use super::{money_from, SourceError};

/// Notification public keys fetched a day at most (eBay rotates its keys rarely).
pub const KEY_FETCHES_PER_DAY: u64 = 50;

/// The share of the daily selling budget (in per mille, at least [`MIN_WITHDRAW_RESERVE`]
/// calls) that only withdrawals may spend: a sold item always comes down.
pub const WITHDRAW_RESERVE_PER_MILLE: u64 = 50;

/// The fewest calls kept for withdrawals.
pub const MIN_WITHDRAW_RESERVE: u64 = 20;

/// Which budget a call draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spend {
    /// The daily selling budget, short of the withdrawal reserve.
    Selling,
    /// The whole selling budget, the reserve included.
    Withdrawal,
    /// The notification-key budget.
    NotificationKey,
}

tokio::task_local! {
    /// The budget of the calls made in this task's scope. It travels with the task so that
    /// every call a withdrawal makes (looking the offer up, withdrawing, settling an
    /// unclear answer) draws on the reserve, without threading it through each helper.
    static SPEND: Spend;
}

/// Runs `calls` with every eBay call in it drawing on `spend`.
pub async fn spending<F: std::future::Future>(spend: Spend, calls: F) -> F::Output {
    SPEND.scope(spend, calls).await
}

/// The scopes the seller's user token is refreshed with: public data (notification public
/// keys), inventory and fulfillment.
pub const SELL_SCOPES: [&str; 3] = [
    "https://api.ebay.com/oauth/api_scope",
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
];

const INVENTORY: &str = "/sell/inventory/v1";
const NEGOTIATION: &str = "/sell/negotiation/v1";
pub(crate) const FULFILLMENT: &str = "/sell/fulfillment/v1";

/// The seller's business policies an offer needs before it can be published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingPolicyIds {
    /// Shipping (`fulfillmentPolicyId`).
    pub fulfillment_policy_id: String,
    /// Payment (`paymentPolicyId`).
    pub payment_policy_id: String,
    /// Returns (`returnPolicyId`).
    pub return_policy_id: String,
}

/// How the selling connector reaches eBay.
#[derive(Clone)]
pub struct EbaySellSettings {
    /// API root, marketplace, client credentials, daily budget, token margin.
    pub api: EbaySettings,
    /// The seller's refresh token (from their one-time consent), already resolved.
    pub refresh_token: String,
    /// The scopes access tokens are refreshed with ([`SELL_SCOPES`] by default).
    pub scopes: Vec<String>,
    /// `Content-Language` of Inventory writes (`en-US`).
    pub content_language: String,
    /// Policies used when an action names none.
    pub policies: ListingPolicyIds,
    /// The seller's inventory location (`merchantLocationKey`): eBay publishes no offer
    /// without one.
    pub merchant_location_key: Option<String>,
    /// Where that location is, to create it on the first publish when the account lacks
    /// it; `None` when it exists already (made in Seller Hub).
    pub location_address: Option<LocationAddress>,
}

/// A warehouse location's address, as little of it as eBay needs: postal code and country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocationAddress {
    pub postal_code: String,
    /// ISO 3166 two letters (`US`).
    pub country: String,
}

impl std::fmt::Debug for EbaySellSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbaySellSettings")
            .field("api", &self.api)
            .field("refresh_token", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("content_language", &self.content_language)
            .field("policies", &self.policies)
            .field("merchant_location_key", &self.merchant_location_key)
            .field("location_address", &self.location_address)
            .finish()
    }
}

impl EbaySellSettings {
    /// Settings for the seller whose refresh token this is, with eBay's defaults
    /// ([`SELL_SCOPES`], `en-US`, no default policies).
    pub fn new(api: EbaySettings, refresh_token: impl Into<String>) -> EbaySellSettings {
        EbaySellSettings {
            api,
            refresh_token: refresh_token.into(),
            scopes: SELL_SCOPES.iter().map(|s| s.to_string()).collect(),
            content_language: "en-US".into(),
            policies: ListingPolicyIds::default(),
            merchant_location_key: None,
            location_address: None,
        }
    }
}

/// What the seller's consent gave: a user access token and the refresh token to keep.
#[derive(Clone)]
pub struct UserTokens {
    /// The access token (short-lived).
    pub access_token: String,
    /// The refresh token: keep it as a secret (`marketplaces.ebay.refresh_token`).
    pub refresh_token: String,
}

impl std::fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserTokens([redacted])")
    }
}

/// Exchanges the authorization code eBay's consent page redirected with for the seller's
/// tokens (`grant_type=authorization_code`, `redirect_uri` = the application's RuName).
pub async fn exchange_authorization_code(
    api: &EbaySettings,
    code: &str,
    ru_name: &str,
    clock: &SharedClock,
) -> Result<UserTokens, SourceError> {
    let http = http_client(std::time::Duration::from_secs(30))?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", ru_name),
    ];
    let grant = match request_token(&http, api, &form, clock.now()).await {
        Outcome::Done(grant) => grant,
        Outcome::Retry { error, .. } | Outcome::Refresh(error) | Outcome::Fail(error) => {
            return Err(error)
        }
    };
    let refresh_token = grant.refresh_token.ok_or_else(|| {
        SourceError::Malformed("the token endpoint issued no refresh token".into())
    })?;
    Ok(UserTokens {
        access_token: grant.token.value,
        refresh_token,
    })
}

/// A final answer of an eBay REST API: 2xx, or a refusal retrying cannot change.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The HTTP status.
    pub(crate) status: u16,
    /// The body (`Null` when empty).
    pub(crate) json: Value,
    /// `errors[0]` of a refusal.
    pub(crate) error: Option<EbayErrorInfo>,
    /// The `Location` header (where a created resource lives).
    pub(crate) location: Option<String>,
}

impl Answer {
    /// True for 2xx.
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// eBay's refusal as an error naming `what` was refused.
    pub(crate) fn refusal(&self, what: &str) -> SourceError {
        let detail = self
            .error
            .as_ref()
            .map(EbayErrorInfo::detail)
            .unwrap_or_else(|| "no error body".into());
        SourceError::Http {
            status: self.status,
            detail: format!("{what}: {detail}"),
        }
    }

    /// `errors[0].errorId`, 0 when there is none.
    fn error_id(&self) -> i64 {
        self.error.as_ref().map_or(0, |e| e.error_id)
    }
}

/// A call that did not produce a final answer.
#[derive(Debug, Clone)]
pub(crate) struct CallError {
    /// Why.
    pub(crate) error: SourceError,
    /// Some attempt may have reached eBay and been carried out (timeout after sending, a
    /// 5xx, an unreadable 2xx).
    pub(crate) maybe_sent: bool,
}

/// The seller's side of eBay's REST APIs: user token, politeness, budget, retries. Shared
/// by [`EbaySell`] and [`super::ebay_orders::EbayOrders`].
pub struct EbaySellClient {
    settings: EbaySellSettings,
    http: reqwest::Client,
    gate: PoliteGate,
    budget: CallBudget,
    /// Calls kept for withdrawals out of `budget`.
    withdraw_reserve: u64,
    key_budget: CallBudget,
    clock: SharedClock,
    token: tokio::sync::Mutex<Option<Token>>,
    /// The inventory location was seen or created by this process: no need to ask again.
    location_ready: AtomicBool,
}

impl std::fmt::Debug for EbaySellClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EbaySellClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl EbaySellClient {
    /// A client for `settings`, counting calls in `store`'s meta tree on `clock`'s days.
    pub fn new(
        settings: EbaySellSettings,
        polite: PoliteConfig,
        store: SledStore,
        clock: SharedClock,
    ) -> Result<EbaySellClient, SourceError> {
        if settings.refresh_token.trim().is_empty() {
            return Err(SourceError::Config(
                "the ebay refresh token is empty; the seller must consent first".into(),
            ));
        }
        let host = host_of(&settings.api.base_url)?;
        let http = http_client(polite.timeout)?;
        let daily = settings.api.daily_budget;
        let withdraw_reserve = (daily * WITHDRAW_RESERVE_PER_MILLE / 1000)
            .max(MIN_WITHDRAW_RESERVE)
            .min(daily / 2);
        let budget = CallBudget::new(
            bazaar_memory::meta_keys::EBAY_SELL_CALLS,
            daily,
            settings.api.day_utc_offset_minutes,
            store.clone(),
            clock.clone(),
        );
        let key_budget = CallBudget::new(
            bazaar_memory::meta_keys::EBAY_NOTIFICATION_KEY_CALLS,
            KEY_FETCHES_PER_DAY,
            settings.api.day_utc_offset_minutes,
            store,
            clock.clone(),
        );
        Ok(EbaySellClient {
            withdraw_reserve,
            key_budget,
            gate: PoliteGate::new(Marketplace::Ebay, host, clock.clone(), polite),
            settings,
            http,
            budget,
            clock,
            token: tokio::sync::Mutex::new(None),
            location_ready: AtomicBool::new(false),
        })
    }

    pub fn settings(&self) -> &EbaySellSettings {
        &self.settings
    }

    /// The host's politeness gate.
    pub fn gate(&self) -> &PoliteGate {
        &self.gate
    }

    /// Selling calls counted on the current marketplace day.
    pub fn calls_today(&self) -> u64 {
        self.budget.used()
    }

    /// Counts one call on the budget this task spends ([`spending`]).
    fn count_call(&self) -> Result<(), SourceError> {
        match SPEND.try_with(|spend| *spend).unwrap_or(Spend::Selling) {
            Spend::Selling => self.budget.count_leaving(self.withdraw_reserve),
            Spend::Withdrawal => self.budget.count(),
            Spend::NotificationKey => self.key_budget.count(),
        }
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// A valid user token: the cached one, or one refreshed from the refresh token.
    async fn user_token(&self) -> Outcome<String> {
        let mut cached = self.token.lock().await;
        let now = self.clock.now();
        if let Some(token) = cached.as_ref() {
            if token.fresh(now, self.settings.api.token_margin) {
                return Outcome::Done(token.value.clone());
            }
        }
        *cached = None;
        if let Err(error) = self.count_call() {
            return Outcome::Fail(error);
        }
        let scope = self.settings.scopes.join(" ");
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", self.settings.refresh_token.as_str()),
        ];
        if !scope.is_empty() {
            form.push(("scope", scope.as_str()));
        }
        let token = match request_token(&self.http, &self.settings.api, &form, now).await {
            Outcome::Done(grant) => grant.token,
            Outcome::Fail(SourceError::Auth(reason)) => {
                return Outcome::Fail(SourceError::Config(format!(
                    "the seller's refresh token was refused ({reason}); the seller must consent again"
                )))
            }
            Outcome::Retry { error, retry_after } => return Outcome::Retry { error, retry_after },
            Outcome::Refresh(error) | Outcome::Fail(error) => return Outcome::Fail(error),
        };
        tracing::debug!(expires_at = %token.expires_at, "ebay user token refreshed");
        let value = token.value.clone();
        *cached = Some(token);
        Outcome::Done(value)
    }

    async fn drop_token(&self) {
        *self.token.lock().await = None;
    }

    /// One attempt, classified for the retry loop. Refusals retrying cannot change come
    /// back as a `Done` answer for the caller to read.
    async fn attempt(
        &self,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        maybe_sent: &AtomicBool,
    ) -> Outcome<Answer> {
        let token = match self.user_token().await {
            Outcome::Done(token) => token,
            Outcome::Retry { error, retry_after } => return Outcome::Retry { error, retry_after },
            Outcome::Refresh(error) => return Outcome::Refresh(error),
            Outcome::Fail(error) => return Outcome::Fail(error),
        };
        if let Err(error) = self.count_call() {
            return Outcome::Fail(error);
        }
        let url = format!("{}{path}", self.settings.api.base_url);
        let mut request = self
            .http
            .request(method.clone(), &url)
            .query(query)
            .bearer_auth(&token)
            .header("X-EBAY-C-MARKETPLACE-ID", &self.settings.api.marketplace_id)
            .header(reqwest::header::ACCEPT, "application/json");
        if *method != Method::GET {
            request = request.header(
                reqwest::header::CONTENT_LANGUAGE,
                &self.settings.content_language,
            );
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                if !error.is_connect() {
                    maybe_sent.store(true, Ordering::Relaxed);
                }
                return Outcome::Retry {
                    error: SourceError::Network(error.to_string()),
                    retry_after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let after = retry_after(response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = match response.text().await {
            Ok(text) => text,
            Err(error) => {
                maybe_sent.store(true, Ordering::Relaxed);
                return Outcome::Retry {
                    error: SourceError::Network(error.to_string()),
                    retry_after: None,
                };
            }
        };
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Outcome::Done(Answer {
                    status,
                    json: Value::Null,
                    error: None,
                    location,
                });
            }
            return match serde_json::from_str(&text) {
                Ok(json) => Outcome::Done(Answer {
                    status,
                    json,
                    error: None,
                    location,
                }),
                Err(error) => {
                    maybe_sent.store(true, Ordering::Relaxed);
                    Outcome::Fail(SourceError::Malformed(format!("not json: {error}")))
                }
            };
        }
        let info = first_error(&text);
        if status == 401 {
            self.drop_token().await;
        }
        if status >= 500 {
            maybe_sent.store(true, Ordering::Relaxed);
        }
        match classify_failure(status, after, &info) {
            Outcome::Fail(_) => Outcome::Done(Answer {
                status,
                json: serde_json::from_str(&text).unwrap_or(Value::Null),
                error: Some(info),
                location: None,
            }),
            other => other,
        }
    }

    /// One call through the gate: `what` names it in the log.
    pub(crate) async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: Vec<(&str, String)>,
        body: Option<Value>,
    ) -> Result<Answer, CallError> {
        let maybe_sent = AtomicBool::new(false);
        let result = self
            .gate
            .run(what, || {
                self.attempt(&method, path, &query, body.as_ref(), &maybe_sent)
            })
            .await;
        result.map_err(|error| CallError {
            error,
            maybe_sent: maybe_sent.load(Ordering::Relaxed),
        })
    }

    /// Our live listings with interested buyers (watchers), to whom a seller-initiated
    /// offer can go (`find_eligible_items`; 204 when there are none).
    pub async fn interested_listings(&self) -> Result<Vec<String>, SourceError> {
        let mut ids = Vec::new();
        let mut offset = 0usize;
        loop {
            let answer = self
                .get_json(
                    "find eligible items",
                    &format!("{NEGOTIATION}/find_eligible_items"),
                    vec![("limit", "200".to_string()), ("offset", offset.to_string())],
                )
                .await?;
            let page: Vec<String> = answer.json["eligibleItems"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| i["listingId"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            offset += page.len();
            ids.extend(page);
            if answer.json["next"].as_str().is_none() || offset == 0 {
                return Ok(ids);
            }
        }
    }

    /// A GET whose refusals are errors.
    pub(crate) async fn get_json(
        &self,
        what: &str,
        path: &str,
        query: Vec<(&str, String)>,
    ) -> Result<Answer, SourceError> {
        let answer = self
            .call(what, Method::GET, path, query, None)
            .await
            .map_err(|e| e.error)?;
        if !answer.ok() {
            return Err(answer.refusal(what));
        }
        Ok(answer)
    }
}

/// A `PublishListing` action's parameters. The SKU is `sku`, or the action's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishParams {
    /// Our SKU (letters, digits, `-`, `_`; at most 50).
    #[serde(default)]
    pub sku: Option<String>,
    /// Title (at most 80 characters).
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// A normalized condition (`good`, `like_new` …) or an Inventory API name
    /// (`USED_EXCELLENT`).
    pub condition: String,
    /// eBay's leaf category id.
    pub category_id: String,
    /// The asking price.
    pub price: Money,
    /// Units for sale.
    #[serde(default = "one")]
    pub quantity: u32,
    /// Picture URLs.
    #[serde(default)]
    pub images: Vec<String>,
    /// Item specifics (`Brand: [Bose]`).
    #[serde(default)]
    pub aspects: BTreeMap<String, Vec<String>>,
    /// Business policies; the settings' defaults when absent.
    #[serde(default)]
    pub policies: Option<ListingPolicyIds>,
    /// Whether buyers may make offers.
    #[serde(default)]
    pub best_offer: bool,
}

fn one() -> u32 {
    1
}

/// A `MarkShipped` action's parameters: which order went out, with whom, under which
/// tracking number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipParams {
    /// eBay's order id (`12-34567-89012`).
    pub order_id: String,
    /// The order's line that shipped; every line of the order when absent.
    #[serde(default)]
    pub line_item_id: Option<String>,
    /// eBay's carrier code (`USPS`, `UPS`, `FedEx` …).
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking: String,
}

impl ShipParams {
    /// The carrier and tracking number as eBay takes them: trimmed, the tracking number
    /// without the spaces people copy from a label. `order` is eBay's order id, or
    /// `<order id>:<line item id>` as sales are recorded. `Err` says what is wrong.
    pub fn new(order: &str, carrier: &str, tracking: &str) -> Result<ShipParams, String> {
        let carrier = carrier.trim();
        let tracking: String = tracking.chars().filter(|c| !c.is_whitespace()).collect();
        if carrier.is_empty()
            || !carrier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!(
                "carrier {carrier:?} is not a carrier code such as USPS, UPS or FedEx"
            ));
        }
        if tracking.is_empty() || !tracking.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(format!(
                "tracking number {tracking:?} must be the carrier's letters and digits"
            ));
        }
        let (order_id, line_item_id) = match order.trim().split_once(':') {
            Some((order, line)) => (order, Some(line.to_string())),
            None => (order.trim(), None),
        };
        Ok(ShipParams {
            order_id: order_id.to_string(),
            line_item_id,
            carrier: carrier.to_string(),
            tracking,
        })
    }
}

/// A `SendOfferToBuyers` action's parameters: one listing, one price for every interested
/// buyer (eBay wants it at least 5 % under the listing price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatcherOfferParams {
    /// eBay's listing id.
    pub listing_id: String,
    /// The price offered.
    pub price: Money,
    /// Days the offer stands.
    #[serde(default = "two_days")]
    pub days: u32,
    /// A note to the buyers (plain text).
    #[serde(default)]
    pub message: Option<String>,
}

fn two_days() -> u32 {
    2
}

/// A `RevisePrice` action's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevisePriceParams {
    /// Our SKU; the action's target when absent.
    #[serde(default)]
    pub sku: Option<String>,
    /// The new price.
    pub price: Money,
    /// The price the proposer believes the listing has: the undo target when the
    /// connector cannot see the old price itself (after a crash).
    #[serde(default)]
    pub from: Option<Money>,
}

/// A `WithdrawListing` or `Relist` action's parameters (also the undo of the others).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuParams {
    /// Our SKU; the action's target when absent.
    #[serde(default)]
    pub sku: Option<String>,
}

/// The Inventory API's condition for a normalized condition or an Inventory API name.
/// `MANUFACTURER_REFURBISHED` is "no longer a valid item condition on any eBay
/// marketplace" (Sell Inventory 1.13.0): it is sent as `CERTIFIED_REFURBISHED`.
pub fn inventory_condition(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text == "MANUFACTURER_REFURBISHED" {
        return Ok("CERTIFIED_REFURBISHED".to_string());
    }
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return Ok(text.to_string());
    }
    let normalized: Condition = serde_json::from_value(Value::String(text.to_ascii_lowercase()))
        .map_err(|_| format!("unknown condition {text:?}"))?;
    let name = match normalized {
        Condition::New => "NEW",
        Condition::LikeNew => "LIKE_NEW",
        Condition::Good => "USED_GOOD",
        Condition::Fair | Condition::Poor => "USED_ACCEPTABLE",
        Condition::ForParts => "FOR_PARTS_OR_NOT_WORKING",
        Condition::Unknown => return Err("the condition must be known to list on ebay".into()),
    };
    Ok(name.to_string())
}

/// An offer as `GET offer?sku=` shows it.
#[derive(Debug, Clone, PartialEq)]
struct OfferView {
    offer_id: String,
    sku: String,
    published: bool,
    listing_id: Option<String>,
    listing_active: bool,
    price: Option<Money>,
}

impl OfferView {
    fn from_json(offer: &Value) -> Option<OfferView> {
        let offer_id = offer["offerId"].as_str()?.to_string();
        let price = &offer["pricingSummary"]["price"];
        let price = match (price["value"].as_str(), price["currency"].as_str()) {
            (Some(value), Some(currency)) => money_from(value, currency).ok(),
            _ => None,
        };
        Some(OfferView {
            offer_id,
            sku: offer["sku"].as_str().unwrap_or_default().to_string(),
            published: offer["status"].as_str() == Some("PUBLISHED"),
            listing_id: offer["listing"]["listingId"].as_str().map(str::to_string),
            listing_active: offer["listing"]["listingStatus"]
                .as_str()
                .is_none_or(|s| s == "ACTIVE"),
            price,
        })
    }

    /// Published with a live listing.
    fn live(&self) -> bool {
        self.published && self.listing_active && self.listing_id.is_some()
    }

    fn result(&self) -> Value {
        json!({
            "sku": self.sku,
            "offer_id": self.offer_id,
            "listing_id": self.listing_id,
            "price": self.price,
        })
    }

    fn state(&self) -> Value {
        json!({
            "live": self.live(),
            "listing_id": self.listing_id,
            "price": self.price,
        })
    }
}

/// The gate's effector for `PublishListing`, `RevisePrice`, `WithdrawListing` and `Relist`
/// on eBay.
#[derive(Debug, Clone)]
pub struct EbaySell {
    client: Arc<EbaySellClient>,
}

fn bad_params(kind: ActionKind, error: serde_json::Error) -> EffectError {
    EffectError::Failed(format!("bad {kind} parameters: {error}"))
}

/// For reads and preparatory writes: nothing the action stands for happened.
fn not_done(error: SourceError) -> EffectError {
    EffectError::Failed(error.to_string())
}

impl EbaySell {
    /// An effector using `client` (shared with the order side).
    pub fn new(client: Arc<EbaySellClient>) -> EbaySell {
        EbaySell { client }
    }

    pub fn client(&self) -> &Arc<EbaySellClient> {
        &self.client
    }

    fn sku_of(action: &ActionRecord, sku: &Option<String>) -> Result<String, EffectError> {
        let sku = sku
            .as_deref()
            .unwrap_or(action.target.as_str())
            .trim()
            .to_string();
        if sku.is_empty() {
            return Err(EffectError::Failed(format!(
                "{} needs a sku (params.sku or the target)",
                action.kind
            )));
        }
        Ok(sku)
    }

    /// The SKU an action concerns, whatever its kind.
    fn action_sku(action: &ActionRecord) -> Result<String, EffectError> {
        let sku = action
            .params
            .get("sku")
            .and_then(Value::as_str)
            .map(str::to_string);
        Self::sku_of(action, &sku)
    }

    /// The offer for `sku` on the configured marketplace, if there is one.
    async fn find_offer(&self, sku: &str) -> Result<Option<OfferView>, SourceError> {
        let marketplace = self.client.settings.api.marketplace_id.clone();
        let answer = self
            .client
            .call(
                "get offers",
                Method::GET,
                &format!("{INVENTORY}/offer"),
                vec![("sku", sku.to_string()), ("marketplace_id", marketplace)],
                None,
            )
            .await
            .map_err(|e| e.error)?;
        // 25702: no inventory item with this SKU; 25713: no offer for it.
        if !answer.ok() && matches!(answer.error_id(), 25702 | 25713 | 25710) {
            return Ok(None);
        }
        if !answer.ok() {
            return Err(answer.refusal("get offers"));
        }
        let offers = answer.json["offers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let views: Vec<OfferView> = offers.iter().filter_map(OfferView::from_json).collect();
        // A live one wins; otherwise the first.
        let live = views.iter().find(|o| o.live()).cloned();
        Ok(live.or_else(|| views.into_iter().next()))
    }

    async fn require_offer(&self, sku: &str) -> Result<OfferView, EffectError> {
        match self.find_offer(sku).await.map_err(not_done)? {
            Some(offer) => Ok(offer),
            None => Err(EffectError::Failed(format!(
                "no ebay offer for sku {sku}; publish it first"
            ))),
        }
    }

    /// After the deciding call failed: `Ok` when the outcome is visible after all, the
    /// error to return otherwise.
    async fn settle(
        &self,
        sku: &str,
        error: CallError,
        visible: impl Fn(&OfferView) -> bool,
    ) -> Result<OfferView, EffectError> {
        if !error.maybe_sent {
            return Err(not_done(error.error));
        }
        match self.find_offer(sku).await {
            Ok(Some(offer)) if visible(&offer) => {
                tracing::info!(
                    sku,
                    "ebay carried out the call although its answer was lost"
                );
                Ok(offer)
            }
            Ok(_) => Err(EffectError::Failed(format!(
                "{}; ebay shows it was not carried out",
                error.error
            ))),
            Err(reread) => Err(EffectError::Unknown(format!(
                "{}; checking the offer failed too: {reread}",
                error.error
            ))),
        }
    }

    fn item_body(params: &PublishParams, condition: &str) -> Value {
        let mut product = json!({
            "title": params.title,
            "description": params.description,
        });
        if !params.images.is_empty() {
            product["imageUrls"] = json!(params.images);
        }
        if !params.aspects.is_empty() {
            product["aspects"] = json!(params.aspects);
        }
        json!({
            "availability": {"shipToLocationAvailability": {"quantity": params.quantity}},
            "condition": condition,
            "product": product,
        })
    }

    fn offer_details(&self, params: &PublishParams) -> Value {
        let settings = &self.client.settings;
        let policies = params
            .policies
            .clone()
            .unwrap_or_else(|| settings.policies.clone());
        let mut listing_policies = json!({
            "fulfillmentPolicyId": policies.fulfillment_policy_id,
            "paymentPolicyId": policies.payment_policy_id,
            "returnPolicyId": policies.return_policy_id,
        });
        if params.best_offer {
            listing_policies["bestOfferTerms"] = json!({"bestOfferEnabled": true});
        }
        let mut details = json!({
            "availableQuantity": params.quantity,
            "categoryId": params.category_id,
            "listingDescription": params.description,
            "listingDuration": "GTC",
            "pricingSummary": {"price": amount(params.price)},
            "listingPolicies": listing_policies,
        });
        if let Some(key) = &settings.merchant_location_key {
            details["merchantLocationKey"] = json!(key);
        }
        details
    }

    async fn write(
        &self,
        what: &str,
        method: Method,
        path: String,
        body: Option<Value>,
    ) -> Result<Answer, CallError> {
        self.client
            .call(what, method, &path, Vec::new(), body)
            .await
    }

    /// The inventory location offers name, created when the account lacks it and its
    /// address is configured (once per process; creating is idempotent: eBay answers 409
    /// for a key that exists).
    async fn ensure_location(&self) -> Result<(), EffectError> {
        let settings = &self.client.settings;
        let Some(key) = settings.merchant_location_key.as_deref() else {
            return Err(EffectError::Failed(
                "ebay publishes no listing without an inventory location: set \
                 selling.ebay.merchant_location_key (and location_postal_code to create it)"
                    .into(),
            ));
        };
        if self.client.location_ready.load(Ordering::Relaxed) {
            return Ok(());
        }
        let path = format!("{INVENTORY}/location/{}", encode_path_segment(key));
        let answer = self
            .client
            .call(
                "get inventory location",
                Method::GET,
                &path,
                Vec::new(),
                None,
            )
            .await
            .map_err(|e| not_done(e.error))?;
        if answer.ok() {
            self.client.location_ready.store(true, Ordering::Relaxed);
            return Ok(());
        }
        if answer.status != 404 {
            return Err(not_done(answer.refusal("get inventory location")));
        }
        let Some(address) = &settings.location_address else {
            return Err(EffectError::Failed(format!(
                "the ebay account has no inventory location {key:?}: create it in Seller Hub, \
                 or set selling.ebay.location_postal_code and location_country for bazaar to"
            )));
        };
        let body = json!({
            "location": {"address": {
                "postalCode": address.postal_code,
                "country": address.country,
            }},
            "locationTypes": ["WAREHOUSE"],
            "merchantLocationStatus": "ENABLED",
            "name": key,
        });
        let answer = self
            .write("create inventory location", Method::POST, path, Some(body))
            .await
            .map_err(|e| not_done(e.error))?;
        if !answer.ok() && answer.status != 409 {
            return Err(not_done(answer.refusal("create inventory location")));
        }
        tracing::info!(key, "ebay inventory location created");
        self.client.location_ready.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// `PUT inventory_item/{sku}`, then the offer (`existing`, brought up to date, or a
    /// new one).
    async fn prepare(
        &self,
        sku: &str,
        params: &PublishParams,
        existing: Option<OfferView>,
    ) -> Result<String, EffectError> {
        let condition = inventory_condition(&params.condition).map_err(EffectError::Failed)?;
        self.ensure_location().await?;
        let answer = self
            .write(
                "put inventory item",
                Method::PUT,
                format!("{INVENTORY}/inventory_item/{}", encode_path_segment(sku)),
                Some(Self::item_body(params, &condition)),
            )
            .await
            .map_err(|e| not_done(e.error))?;
        if !answer.ok() {
            return Err(not_done(answer.refusal("put inventory item")));
        }
        let details = self.offer_details(params);
        if let Some(offer) = existing {
            let answer = self
                .write(
                    "update offer",
                    Method::PUT,
                    format!("{INVENTORY}/offer/{}", encode_path_segment(&offer.offer_id)),
                    Some(details),
                )
                .await
                .map_err(|e| not_done(e.error))?;
            if !answer.ok() {
                return Err(not_done(answer.refusal("update offer")));
            }
            return Ok(offer.offer_id);
        }
        let mut body = details;
        body["sku"] = json!(sku);
        body["marketplaceId"] = json!(self.client.settings.api.marketplace_id);
        body["format"] = json!("FIXED_PRICE");
        let answer = self
            .write(
                "create offer",
                Method::POST,
                format!("{INVENTORY}/offer"),
                Some(body),
            )
            .await
            .map_err(|e| not_done(e.error))?;
        if let Some(id) = answer.json["offerId"].as_str().filter(|_| answer.ok()) {
            return Ok(id.to_string());
        }
        // Created meanwhile (a lost answer, a concurrent call): eBay names the offer.
        if answer.error_id() == 25002 {
            if let Some(id) = param_value(&answer.json, "offerId") {
                return Ok(id);
            }
        }
        Err(not_done(answer.refusal("create offer")))
    }

    /// Publishes the offer; the listing as eBay then shows it.
    async fn publish_offer(
        &self,
        sku: &str,
        offer_id: &str,
        what: &str,
    ) -> Result<OfferView, EffectError> {
        let sent = self
            .write(
                what,
                Method::POST,
                format!(
                    "{INVENTORY}/offer/{}/publish",
                    encode_path_segment(offer_id)
                ),
                None,
            )
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => return self.settle(sku, error, OfferView::live).await,
        };
        if !answer.ok() {
            return Err(not_done(answer.refusal(what)));
        }
        let listing_id = answer.json["listingId"].as_str().map(str::to_string);
        match self.find_offer(sku).await {
            Ok(Some(offer)) if offer.live() => Ok(offer),
            // Published, but the read-back failed: report what publish said.
            _ => Ok(OfferView {
                offer_id: offer_id.to_string(),
                sku: sku.to_string(),
                published: true,
                listing_id,
                listing_active: true,
                price: None,
            }),
        }
    }

    async fn publish(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: PublishParams = serde_json::from_value(action.params.clone())
            .map_err(|e| bad_params(action.kind, e))?;
        let sku = Self::sku_of(action, &params.sku)?;
        if params.price.minor <= 0 {
            return Err(EffectError::Failed(format!(
                "price {} must be positive",
                params.price
            )));
        }
        let existing = self.find_offer(&sku).await.map_err(not_done)?;
        if let Some(offer) = existing.as_ref().filter(|o| o.live()) {
            tracing::info!(sku, listing_id = ?offer.listing_id, "ebay listing already live");
            return Ok(offer_effect(offer, None));
        }
        let offer_id = self.prepare(&sku, &params, existing).await?;
        let offer = self.publish_offer(&sku, &offer_id, "publish offer").await?;
        tracing::info!(sku, listing_id = ?offer.listing_id, currency = params.price.currency.code(), price_minor = params.price.minor, "ebay listing published");
        Ok(offer_effect(&offer, Some(json!({"live": false}))))
    }

    async fn relist(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: SkuParams = serde_json::from_value(action.params.clone())
            .map_err(|e| bad_params(action.kind, e))?;
        let sku = Self::sku_of(action, &params.sku)?;
        let offer = self.require_offer(&sku).await?;
        if offer.live() {
            return Ok(offer_effect(&offer, None));
        }
        let before = offer.state();
        let offer = self
            .publish_offer(&sku, &offer.offer_id, "relist offer")
            .await?;
        tracing::info!(sku, listing_id = ?offer.listing_id, "ebay listing relisted");
        Ok(offer_effect(&offer, Some(before)))
    }

    async fn withdraw(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: SkuParams = serde_json::from_value(action.params.clone())
            .map_err(|e| bad_params(action.kind, e))?;
        let sku = Self::sku_of(action, &params.sku)?;
        let offer = self.require_offer(&sku).await?;
        if !offer.live() {
            return Ok(offer_effect(&offer, None));
        }
        let before = offer.state();
        let sent = self
            .write(
                "withdraw offer",
                Method::POST,
                format!(
                    "{INVENTORY}/offer/{}/withdraw",
                    encode_path_segment(&offer.offer_id)
                ),
                None,
            )
            .await;
        let withdrawn = match sent {
            Ok(answer) if answer.ok() => OfferView {
                published: false,
                listing_active: false,
                ..offer
            },
            // 25713 "not published": a retry after a withdrawal whose answer was lost.
            Ok(answer) if answer.error_id() == 25713 => {
                match self.find_offer(&sku).await.map_err(not_done)? {
                    Some(now) if !now.live() => now,
                    _ => return Err(not_done(answer.refusal("withdraw offer"))),
                }
            }
            Ok(answer) => return Err(not_done(answer.refusal("withdraw offer"))),
            Err(error) => self.settle(&sku, error, |o| !o.live()).await?,
        };
        tracing::info!(sku, listing_id = ?withdrawn.listing_id, "ebay listing withdrawn");
        Ok(offer_effect(&withdrawn, Some(before)))
    }

    async fn revise_price(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: RevisePriceParams = serde_json::from_value(action.params.clone())
            .map_err(|e| bad_params(action.kind, e))?;
        let sku = Self::sku_of(action, &params.sku)?;
        let target = params.price;
        if target.minor <= 0 {
            return Err(EffectError::Failed(format!(
                "price {target} must be positive"
            )));
        }
        let offer = self.require_offer(&sku).await?;
        let old = offer.price.or(params.from);
        if offer.price == Some(target) {
            return Ok(price_effect(&offer, old, target));
        }
        if let Some(old) = offer.price {
            if old.currency != target.currency {
                return Err(EffectError::Failed(format!(
                    "the listing is priced in {}, not {}",
                    old.currency.code(),
                    target.currency.code()
                )));
            }
        }
        let body = json!({"requests": [{
            "sku": sku,
            "offers": [{"offerId": offer.offer_id, "price": amount(target)}],
        }]});
        let sent = self
            .write(
                "update price",
                Method::POST,
                format!("{INVENTORY}/bulk_update_price_quantity"),
                Some(body),
            )
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => {
                let done = self
                    .settle(&sku, error, |o| o.price == Some(target))
                    .await?;
                return Ok(price_effect(&done, old, target));
            }
        };
        if !answer.ok() {
            return Err(not_done(answer.refusal("update price")));
        }
        // 200 or 207: every response must be 200.
        let responses = answer.json["responses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if let Some(bad) = responses
            .iter()
            .find(|r| r["statusCode"].as_u64() != Some(200))
        {
            let error = &bad["errors"][0];
            let message = error["message"].as_str().unwrap_or("no reason given");
            tracing::warn!(
                sku,
                error_id = error["errorId"].as_i64().unwrap_or(0),
                %message,
                "ebay refused the price change"
            );
            return Err(EffectError::Failed(format!(
                "ebay refused the price change: errorId {}: {message}",
                error["errorId"].as_i64().unwrap_or(0)
            )));
        }
        if responses.is_empty() {
            return Err(EffectError::Unknown(
                "ebay answered the price change with no responses".into(),
            ));
        }
        tracing::info!(sku, from_minor = ?old.map(|m| m.minor), to_minor = target.minor, "ebay price revised");
        let offer = OfferView {
            price: Some(target),
            ..offer
        };
        Ok(price_effect(&offer, old, target))
    }

    async fn send_offer_to_buyers(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: WatcherOfferParams = serde_json::from_value(action.params.clone())
            .map_err(|e| bad_params(action.kind, e))?;
        let body = json!({
            "allowCounterOffer": false,
            "message": params.message,
            "offerDuration": {"unit": "DAY", "value": params.days},
            "offeredItems": [{
                "listingId": params.listing_id,
                "price": amount(params.price),
                "quantity": 1,
            }],
        });
        let sent = self
            .write(
                "send offer to interested buyers",
                Method::POST,
                format!("{NEGOTIATION}/send_offer_to_interested_buyers"),
                Some(body),
            )
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            // eBay cannot be asked which offers went out: a person checks Seller Hub.
            Err(error) if error.maybe_sent => {
                return Err(EffectError::Unknown(format!(
                    "{}; whether the offer went out shows in Seller Hub",
                    error.error
                )))
            }
            Err(error) => return Err(not_done(error.error)),
        };
        if !answer.ok() {
            return Err(not_done(answer.refusal("send offer to interested buyers")));
        }
        let offers = answer.json["offers"].as_array().map_or(0, Vec::len);
        tracing::info!(listing_id = %params.listing_id, price = %params.price, offers, "offer sent to interested buyers");
        Ok(Effect {
            result: json!({"listing_id": params.listing_id, "price": params.price, "offers": offers}),
            ..Effect::default()
        })
    }

    /// The shipment eBay has for the order under this tracking number, if any.
    async fn find_shipment(&self, params: &ShipParams) -> Result<Option<Value>, SourceError> {
        let answer = self
            .client
            .get_json(
                "get shipping fulfillments",
                &format!("{}/shipping_fulfillment", order_path(&params.order_id)),
                Vec::new(),
            )
            .await?;
        Ok(answer.json["fulfillments"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| {
                f["shipmentTrackingNumber"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(&params.tracking))
            })
            .cloned())
    }

    /// `createShippingFulfillment` for every line item of the order, once: a shipment
    /// already recorded under this tracking number is the effect.
    async fn mark_shipped(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: ShipParams = serde_json::from_value(action.params.clone())
            .map_err(|e| bad_params(action.kind, e))?;
        if let Some(found) = self.find_shipment(&params).await.map_err(not_done)? {
            return Ok(shipment_effect(&params, &found));
        }
        let path = order_path(&params.order_id);
        let order = self
            .client
            .get_json("get order", &path, Vec::new())
            .await
            .map_err(not_done)?;
        let line_items: Vec<Value> = order.json["lineItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|line| {
                params
                    .line_item_id
                    .as_deref()
                    .is_none_or(|id| line["lineItemId"].as_str() == Some(id))
            })
            .filter_map(|line| {
                Some(json!({
                    "lineItemId": line["lineItemId"].as_str()?,
                    "quantity": line["quantity"].as_u64().unwrap_or(1),
                }))
            })
            .collect();
        if line_items.is_empty() {
            return Err(EffectError::Failed(format!(
                "ebay order {} has no line items to ship",
                params.order_id
            )));
        }
        let body = json!({
            "lineItems": line_items,
            "shippedDate": super::ebay_orders::ebay_time(self.client.clock().now()),
            "shippingCarrierCode": params.carrier,
            "trackingNumber": params.tracking,
        });
        let sent = self
            .write(
                "create shipping fulfillment",
                Method::POST,
                format!("{path}/shipping_fulfillment"),
                Some(body),
            )
            .await;
        let refusal = match sent {
            Ok(answer) if answer.ok() => {
                tracing::info!(order = %params.order_id, carrier = %params.carrier, "ebay order marked shipped");
                let id = answer
                    .location
                    .as_deref()
                    .and_then(|l| l.rsplit('/').next())
                    .unwrap_or(&params.tracking);
                return Ok(shipment_effect(&params, &json!({"fulfillmentId": id})));
            }
            Ok(answer) => not_done(answer.refusal("create shipping fulfillment")),
            Err(error) if !error.maybe_sent => not_done(error.error),
            Err(error) => EffectError::Unknown(error.error.to_string()),
        };
        // A lost answer, or a refusal because it was recorded meanwhile: eBay's record decides.
        match self.find_shipment(&params).await {
            Ok(Some(found)) => Ok(shipment_effect(&params, &found)),
            _ => Err(refusal),
        }
    }

    async fn look(&self, action: &ActionRecord) -> Lookup {
        if action.kind == ActionKind::MarkShipped {
            let params: ShipParams = match serde_json::from_value(action.params.clone()) {
                Ok(params) => params,
                Err(error) => return Lookup::Unknown(format!("bad parameters: {error}")),
            };
            return match self.find_shipment(&params).await {
                Ok(Some(found)) => Lookup::Done(shipment_effect(&params, &found)),
                Ok(None) => Lookup::NotDone,
                Err(error) => Lookup::Unknown(format!("reading the order's shipments: {error}")),
            };
        }
        let sku = match Self::action_sku(action) {
            Ok(sku) => sku,
            Err(error) => return Lookup::Unknown(error.to_string()),
        };
        let offer = match self.find_offer(&sku).await {
            Ok(offer) => offer,
            Err(error) => return Lookup::Unknown(format!("reading the offer for {sku}: {error}")),
        };
        let Some(offer) = offer else {
            return Lookup::NotDone;
        };
        match action.kind {
            ActionKind::PublishListing | ActionKind::Relist if offer.live() => {
                Lookup::Done(offer_effect(&offer, None))
            }
            ActionKind::WithdrawListing if !offer.live() => {
                Lookup::Done(offer_effect(&offer, None))
            }
            ActionKind::RevisePrice => {
                let params: RevisePriceParams = match serde_json::from_value(action.params.clone())
                {
                    Ok(params) => params,
                    Err(error) => return Lookup::Unknown(format!("bad parameters: {error}")),
                };
                if offer.price == Some(params.price) {
                    Lookup::Done(price_effect(&offer, params.from, params.price))
                } else {
                    Lookup::NotDone
                }
            }
            ActionKind::PublishListing | ActionKind::Relist | ActionKind::WithdrawListing => {
                Lookup::NotDone
            }
            other => Lookup::Unknown(format!("the ebay selling connector cannot {other}")),
        }
    }
}

/// Fulfillment's path of one order.
pub(crate) fn order_path(order_id: &str) -> String {
    format!("{FULFILLMENT}/order/{}", encode_path_segment(order_id))
}

/// A shipment recorded: no undo (a package cannot be called back through the API).
fn shipment_effect(params: &ShipParams, fulfillment: &Value) -> Effect {
    Effect {
        result: json!({
            "order_id": params.order_id,
            "fulfillment_id": fulfillment["fulfillmentId"],
            "carrier": params.carrier,
            "tracking": params.tracking,
        }),
        ..Effect::default()
    }
}

/// `{value, currency}` as eBay writes prices.
fn amount(money: Money) -> Value {
    json!({"value": money.to_decimal_string(), "currency": money.currency.code()})
}

/// `errors[0].parameters[name=…].value`.
fn param_value(body: &Value, name: &str) -> Option<String> {
    body["errors"][0]["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"].as_str() == Some(name))?["value"]
        .as_str()
        .map(str::to_string)
}

/// Published, relisted or withdrawn: the undo (withdraw or relist) needs only the SKU.
fn offer_effect(offer: &OfferView, before: Option<Value>) -> Effect {
    Effect {
        result: offer.result(),
        before,
        after: Some(offer.state()),
        undo_params: Some(json!({"sku": offer.sku})),
    }
}

fn price_effect(offer: &OfferView, old: Option<Money>, new: Money) -> Effect {
    Effect {
        result: offer.result(),
        before: old.map(|m| json!({"price": m})),
        after: Some(json!({"price": new})),
        undo_params: old
            .filter(|m| *m != new)
            .map(|m| json!({"sku": offer.sku, "price": m, "from": new})),
    }
}

impl Effector for EbaySell {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async move {
            match action.kind {
                ActionKind::PublishListing => self.publish(action).await,
                ActionKind::RevisePrice => self.revise_price(action).await,
                ActionKind::WithdrawListing => {
                    spending(Spend::Withdrawal, self.withdraw(action)).await
                }
                ActionKind::Relist => self.relist(action).await,
                ActionKind::SendOfferToBuyers => self.send_offer_to_buyers(action).await,
                ActionKind::MarkShipped => self.mark_shipped(action).await,
                other => Err(EffectError::Failed(format!(
                    "the ebay selling connector cannot {other}"
                ))),
            }
        })
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        // Settling an interrupted withdrawal draws on the withdrawal reserve too.
        let spend = match action.kind {
            ActionKind::WithdrawListing => Spend::Withdrawal,
            _ => Spend::Selling,
        };
        Box::pin(spending(spend, self.look(action)))
    }
}

#[cfg(test)]
mod tests {
    use super::inventory_condition;

    #[test]
    fn conditions_are_named_as_the_inventory_api_takes_them() {
        let check = |text: &str, want: Result<&str, ()>| {
            assert_eq!(
                inventory_condition(text).map_err(|_| ()),
                want.map(str::to_string),
                "{text:?}"
            );
        };
        check("good", Ok("USED_GOOD"));
        check(" Like_New ", Ok("LIKE_NEW"));
        check("USED_EXCELLENT", Ok("USED_EXCELLENT"));
        check("MANUFACTURER_REFURBISHED", Ok("CERTIFIED_REFURBISHED"));
        check("unknown", Err(()));
        check("", Err(()));
    }
}
