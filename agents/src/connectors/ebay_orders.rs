//! eBay sales: signed `ORDER_CONFIRMATION` notifications, with Fulfillment polling as the
//! fallback when notifications are lost.
//!
//! - A notification is believed only after its `X-EBAY-SIGNATURE` verifies: the header is
//!   base64 of `{alg, kid, signature, digest}`; the key is eBay's
//!   `GET /commerce/notification/v1/public_key/{kid}` (cached by `kid`); the signature is
//!   ECDSA P-256 over SHA-1 of the raw body bytes (never a re-serialization). Forged,
//!   altered, malformed and replayed notifications are a [`NotificationError`] and produce
//!   no [`OrderEvent`]. [`verify_notification`] is the check; [`EbayOrders::receive`] adds
//!   the replay guard and the order's total from Fulfillment.
//! - eBay validates an endpoint by calling it with `?challenge_code=`; the answer is
//!   [`challenge_response`].
//! - [`EbayOrders::poll_orders`] reads `GET /sell/fulfillment/v1/order` filtered by
//!   `lastmodifieddate`, every page, one [`OrderEvent`] per line item.
//!
//! The pieces that need no network ([`parse_signature_header`], [`verify_signature`],
//! [`parse_order_notification`], [`challenge_response`]) are pure functions.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bazaar_memory::Money;
use bazaar_policies::BoxFuture;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::ebay::encode_path_segment;
use super::ebay_sell::{order_path, spending, EbaySellClient, Spend, FULFILLMENT};
use super::{money_from, SourceError};

const NOTIFICATION: &str = "/commerce/notification/v1";

/// The header eBay signs notifications in.
pub const SIGNATURE_HEADER: &str = "x-ebay-signature";

/// The topic of order notifications.
pub const ORDER_CONFIRMATION: &str = "ORDER_CONFIRMATION";

/// How many notification ids the replay guard remembers.
pub const REPLAY_MEMORY: usize = 10_000;

/// Most pages one poll reads (200 orders each), so a runaway `next` cannot loop forever.
const MAX_PAGES: u32 = 50;

/// One sold line of an order, from a notification or a poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    /// eBay's `orderId`.
    pub order_id: String,
    /// eBay's `lineItemId`.
    pub line_item_id: String,
    /// The listing sold from (`legacyItemId`).
    pub listing_id: String,
    /// Our SKU.
    pub sku: String,
    /// Units sold.
    pub quantity: u32,
    /// The buyer's username, once read from Fulfillment.
    pub buyer: Option<String>,
    /// What the buyer paid for this line, once read from Fulfillment.
    pub total: Option<Money>,
    /// When the order was created (the notification's `eventDate` until Fulfillment says).
    pub created_at: Option<DateTime<Utc>>,
    /// The notification that told us, if one did.
    pub notification_id: Option<String>,
}

/// Why a notification was not believed. Nothing is recorded for any of these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// No `X-EBAY-SIGNATURE` header.
    #[error("notification has no x-ebay-signature header; not from ebay")]
    MissingSignature,
    /// The header is not base64 JSON with `alg`, `kid`, `signature`, `digest`.
    #[error("malformed x-ebay-signature header: {0}")]
    MalformedSignature(String),
    /// Not ECDSA over SHA-1.
    #[error("unsupported signature algorithm {alg} with digest {digest}")]
    UnsupportedAlgorithm {
        /// The header's (or key's) algorithm.
        alg: String,
        /// The header's (or key's) digest.
        digest: String,
    },
    /// eBay has no public key with this id: the notification is forged.
    #[error("ebay has no public key {0}; the notification is forged")]
    UnknownKey(String),
    /// The key could not be fetched now (network, budget); eBay will deliver again.
    #[error("ebay's public key could not be fetched: {0}")]
    KeyUnavailable(String),
    /// The key eBay served cannot be used.
    #[error("ebay's public key is unusable: {0}")]
    BadKey(String),
    /// The signature does not match the body.
    #[error("signature does not verify; the notification is forged or altered")]
    BadSignature,
    /// The body is not an order notification.
    #[error("malformed notification: {0}")]
    MalformedBody(String),
    /// A topic this receiver does not handle.
    #[error("unexpected notification topic {0}")]
    UnexpectedTopic(String),
    /// This notification id was received before.
    #[error("notification {0} was already received; ignored")]
    Replayed(String),
}

impl NotificationError {
    /// The status to answer eBay with: 412 for anything not believed, 500 when the key
    /// could not be fetched (so eBay delivers again), 204 for a repeat (already handled).
    pub fn http_status(&self) -> u16 {
        match self {
            NotificationError::KeyUnavailable(_) => 500,
            NotificationError::Replayed(_) => 204,
            _ => 412,
        }
    }
}

/// The decoded `X-EBAY-SIGNATURE` header.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignatureHeader {
    /// `ecdsa`.
    pub alg: String,
    /// The public key's id.
    pub kid: String,
    /// Base64 of the DER signature.
    pub signature: String,
    /// `SHA1`.
    pub digest: String,
}

/// Decodes `X-EBAY-SIGNATURE` (base64 of a JSON object).
pub fn parse_signature_header(header: &str) -> Result<SignatureHeader, NotificationError> {
    let raw = STANDARD
        .decode(header.trim())
        .map_err(|e| NotificationError::MalformedSignature(format!("not base64: {e}")))?;
    let parsed: SignatureHeader = serde_json::from_slice(&raw).map_err(|e| {
        NotificationError::MalformedSignature(format!("not the expected json: {e}"))
    })?;
    if parsed.kid.trim().is_empty() || parsed.signature.trim().is_empty() {
        return Err(NotificationError::MalformedSignature(
            "empty kid or signature".into(),
        ));
    }
    Ok(parsed)
}

/// A notification public key as `GET /commerce/notification/v1/public_key/{kid}` serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    /// PEM, on one line as eBay serves it (line breaks are put back before parsing).
    pub key: String,
    /// `ECDSA`.
    pub algorithm: String,
    /// `SHA1`.
    pub digest: String,
}

impl PublicKey {
    fn verifying_key(&self) -> Result<VerifyingKey, NotificationError> {
        let b64: String = self
            .key
            .replace("-----BEGIN PUBLIC KEY-----", "")
            .replace("-----END PUBLIC KEY-----", "")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        VerifyingKey::from_public_key_pem(&pem)
            .map_err(|e| NotificationError::BadKey(e.to_string()))
    }
}

fn is_ecdsa_sha1(alg: &str, digest: &str) -> bool {
    alg.eq_ignore_ascii_case("ecdsa") && digest.eq_ignore_ascii_case("sha1")
}

/// Checks the signature of `body` (the raw bytes received) against `key`.
pub fn verify_signature(
    body: &[u8],
    header: &SignatureHeader,
    key: &PublicKey,
) -> Result<(), NotificationError> {
    for (alg, digest) in [(&header.alg, &header.digest), (&key.algorithm, &key.digest)] {
        if !is_ecdsa_sha1(alg, digest) {
            return Err(NotificationError::UnsupportedAlgorithm {
                alg: alg.clone(),
                digest: digest.clone(),
            });
        }
    }
    let verifying = key.verifying_key()?;
    let der = STANDARD
        .decode(header.signature.trim())
        .map_err(|e| NotificationError::MalformedSignature(format!("signature not base64: {e}")))?;
    let signature = Signature::from_der(&der)
        .map_err(|e| NotificationError::MalformedSignature(format!("signature not der: {e}")))?;
    verifying
        .verify_prehash(&Sha1::digest(body), &signature)
        .map_err(|_| NotificationError::BadSignature)
}

/// Reads an `ORDER_CONFIRMATION` body (already verified) into an event without the total.
pub fn parse_order_notification(body: &[u8]) -> Result<OrderEvent, NotificationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| NotificationError::MalformedBody(format!("not json: {e}")))?;
    let topic = value["metadata"]["topic"].as_str().unwrap_or_default();
    if topic != ORDER_CONFIRMATION {
        return Err(NotificationError::UnexpectedTopic(topic.to_string()));
    }
    let notification = &value["notification"];
    let data = &notification["data"];
    let text = |v: &Value, name: &str| {
        v[name]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| NotificationError::MalformedBody(format!("no {name}")))
    };
    Ok(OrderEvent {
        order_id: text(data, "orderId")?,
        line_item_id: text(data, "lineItemId")?,
        listing_id: text(data, "legacyItemId")?,
        sku: data["sku"].as_str().unwrap_or_default().to_string(),
        quantity: data["quantity"]
            .as_u64()
            .and_then(|q| u32::try_from(q).ok())
            .unwrap_or(1),
        buyer: None,
        total: None,
        created_at: notification["eventDate"].as_str().and_then(parse_time),
        notification_id: Some(text(notification, "notificationId")?),
    })
}

/// eBay's endpoint challenge answer: hex(SHA-256(code + verification token + endpoint)).
/// `endpoint` is the URL exactly as registered with eBay.
pub fn challenge_response(
    challenge_code: &str,
    verification_token: &str,
    endpoint: &str,
) -> String {
    let mut h = Sha256::new();
    h.update(challenge_code.as_bytes());
    h.update(verification_token.as_bytes());
    h.update(endpoint.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Where notification public keys come from.
pub trait PublicKeyFetcher: Send + Sync {
    /// The key with id `kid`.
    fn public_key<'a>(
        &'a self,
        kid: &'a str,
    ) -> BoxFuture<'a, Result<PublicKey, NotificationError>>;
}

/// Verifies a notification from its headers and raw body and reads the order line it
/// announces. Nothing is recorded here; the caller records only an `Ok`.
pub async fn verify_notification(
    headers: &HeaderMap,
    body: &[u8],
    keys: &dyn PublicKeyFetcher,
) -> Result<OrderEvent, NotificationError> {
    let header = headers
        .get(SIGNATURE_HEADER)
        .ok_or(NotificationError::MissingSignature)?
        .to_str()
        .map_err(|_| NotificationError::MalformedSignature("not ascii".into()))?;
    let header = parse_signature_header(header)?;
    if !is_ecdsa_sha1(&header.alg, &header.digest) {
        return Err(NotificationError::UnsupportedAlgorithm {
            alg: header.alg,
            digest: header.digest,
        });
    }
    let key = keys.public_key(&header.kid).await?;
    verify_signature(body, &header, &key)?;
    parse_order_notification(body)
}

/// Remembers the last [`REPLAY_MEMORY`] notification ids.
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    seen: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl ReplayGuard {
    /// A guard remembering `capacity` ids.
    pub fn new(capacity: usize) -> ReplayGuard {
        ReplayGuard {
            capacity: capacity.max(1),
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// True the first time `id` is seen.
    pub fn admit(&self, id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *seen;
        if !set.insert(id.to_string()) {
            return false;
        }
        order.push_back(id.to_string());
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

/// The seller's sales on eBay: notifications and polling.
#[derive(Debug)]
pub struct EbayOrders {
    client: Arc<EbaySellClient>,
    keys: Mutex<HashMap<String, PublicKey>>,
    /// Key ids eBay said it does not have, and when: not asked again for an hour.
    unknown_keys: Mutex<HashMap<String, std::time::Instant>>,
    replay: ReplayGuard,
    page_size: u32,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// eBay's timestamp format: `2026-01-01T00:00:00.000Z`.
pub(crate) fn ebay_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn amount(v: &Value) -> Option<Money> {
    money_from(v["value"].as_str()?, v["currency"].as_str()?).ok()
}

/// One event per line item of a Fulfillment order; unusable lines are skipped with a log.
fn order_events(order: &Value) -> Vec<OrderEvent> {
    let Some(order_id) = order["orderId"].as_str() else {
        tracing::warn!("ebay order without orderId skipped");
        return Vec::new();
    };
    let buyer = order["buyer"]["username"].as_str().map(str::to_string);
    let created_at = order["creationDate"].as_str().and_then(parse_time);
    let lines = order["lineItems"].as_array().cloned().unwrap_or_default();
    let single = lines.len() == 1;
    let mut events = Vec::new();
    for line in &lines {
        let (Some(line_item_id), Some(listing_id)) =
            (line["lineItemId"].as_str(), line["legacyItemId"].as_str())
        else {
            tracing::warn!(order_id, "ebay order line without ids skipped");
            continue;
        };
        let total = amount(&line["total"])
            .or_else(|| amount(&line["lineItemCost"]))
            .or_else(|| {
                single
                    .then(|| amount(&order["pricingSummary"]["total"]))
                    .flatten()
            });
        events.push(OrderEvent {
            order_id: order_id.to_string(),
            line_item_id: line_item_id.to_string(),
            listing_id: listing_id.to_string(),
            sku: line["sku"].as_str().unwrap_or_default().to_string(),
            quantity: line["quantity"]
                .as_u64()
                .and_then(|q| u32::try_from(q).ok())
                .unwrap_or(1),
            buyer: buyer.clone(),
            total,
            created_at,
            notification_id: None,
        });
    }
    events
}

impl EbayOrders {
    /// Orders read with `client` (the seller's user token, shared with [`super::ebay_sell::EbaySell`]).
    pub fn new(client: Arc<EbaySellClient>) -> EbayOrders {
        EbayOrders {
            client,
            keys: Mutex::new(HashMap::new()),
            unknown_keys: Mutex::new(HashMap::new()),
            replay: ReplayGuard::new(REPLAY_MEMORY),
            page_size: 200,
        }
    }

    /// Reads `limit` orders a page when polling (eBay allows 1..=200; 200 by default).
    pub fn with_page_size(mut self, limit: u32) -> EbayOrders {
        self.page_size = limit.clamp(1, 200);
        self
    }

    /// Handles one notification POST: verifies it ([`verify_notification`]), refuses a
    /// repeat, and completes the event from Fulfillment (buyer, total). A Fulfillment
    /// failure leaves those empty (the poll fills them later) rather than losing the sale.
    pub async fn receive(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<OrderEvent, NotificationError> {
        let event = verify_notification(headers, body, self)
            .await
            .inspect_err(|error| {
                tracing::warn!(%error, "ebay notification rejected");
            })?;
        let id = event.notification_id.clone().unwrap_or_default();
        if !self.replay.admit(&id) {
            tracing::info!(notification_id = %id, order_id = %event.order_id, "ebay notification repeated; ignored");
            return Err(NotificationError::Replayed(id));
        }
        let lines = match self.order(&event.order_id).await {
            Ok(lines) => lines,
            Err(error) => {
                tracing::warn!(%error, order_id = %event.order_id, "ebay order details unavailable; the poll will fill them");
                return Ok(event);
            }
        };
        let Some(line) = lines
            .into_iter()
            .find(|l| l.line_item_id == event.line_item_id)
        else {
            tracing::warn!(order_id = %event.order_id, line_item_id = %event.line_item_id, "ebay order has no such line; details left empty");
            return Ok(event);
        };
        tracing::info!(order_id = %event.order_id, sku = %line.sku, listing_id = %line.listing_id, "ebay sale notified");
        Ok(OrderEvent {
            notification_id: event.notification_id,
            ..line
        })
    }

    /// Makes eBay push `ORDER_CONFIRMATION` to `endpoint`: a destination with
    /// `verification_token` (eBay calls the endpoint with a challenge first, so it must be
    /// serving [`challenge_response`] already) and an enabled subscription to it. Nothing
    /// is created when an enabled `ORDER_CONFIRMATION` subscription exists. Returns the
    /// subscription's id.
    pub async fn subscribe(
        &self,
        endpoint: &str,
        verification_token: &str,
    ) -> Result<String, SourceError> {
        let existing = self
            .client
            .get_json(
                "list notification subscriptions",
                &format!("{NOTIFICATION}/subscription"),
                vec![("limit", "100".to_string())],
            )
            .await?;
        let enabled = existing.json["subscriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["topicId"] == ORDER_CONFIRMATION && s["status"] == "ENABLED");
        let config = serde_json::json!({
            "name": "bazaar",
            "status": "ENABLED",
            "deliveryConfig": {"endpoint": endpoint, "verificationToken": verification_token},
        });
        if let Some(subscription) = enabled {
            let id = subscription["subscriptionId"].as_str().unwrap_or_default();
            // A restarted process serves on a new address: without this, eBay would keep
            // pushing sales to the old one, and they would wait for the hourly poll.
            if let Some(destination) = subscription["destinationId"].as_str() {
                let what = "update notification destination";
                let path = format!("{NOTIFICATION}/destination/{destination}");
                let answer = self
                    .client
                    .call(what, Method::PUT, &path, Vec::new(), Some(config))
                    .await
                    .map_err(|e| e.error)?;
                if !answer.ok() {
                    return Err(answer.refusal(what));
                }
            }
            tracing::info!(subscription = id, %endpoint, "ebay pushes order confirmations to us");
            return Ok(id.to_string());
        }
        let destination = self
            .created(
                "create notification destination",
                &format!("{NOTIFICATION}/destination"),
                config,
            )
            .await?;
        let subscription = self
            .created(
                "create notification subscription",
                &format!("{NOTIFICATION}/subscription"),
                serde_json::json!({
                    "topicId": ORDER_CONFIRMATION,
                    "status": "ENABLED",
                    "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"},
                    "destinationId": destination,
                }),
            )
            .await?;
        tracing::info!(%subscription, %destination, "ebay pushes order confirmations to us");
        Ok(subscription)
    }

    /// POSTs `body` to `path` and returns the id at the end of the `Location` eBay answers.
    async fn created(&self, what: &str, path: &str, body: Value) -> Result<String, SourceError> {
        let answer = self
            .client
            .call(what, Method::POST, path, Vec::new(), Some(body))
            .await
            .map_err(|e| e.error)?;
        if !answer.ok() {
            return Err(answer.refusal(what));
        }
        answer
            .location
            .as_deref()
            .and_then(|l| l.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .ok_or_else(|| SourceError::Malformed(format!("{what}: no Location in the answer")))
    }

    /// The lines of one order (`GET /sell/fulfillment/v1/order/{orderId}`).
    pub async fn order(&self, order_id: &str) -> Result<Vec<OrderEvent>, SourceError> {
        let path = order_path(order_id);
        let answer = self.client.get_json("get order", &path, Vec::new()).await?;
        Ok(order_events(&answer.json))
    }

    /// Every order line modified since `since` (inclusive), every page: the fallback for
    /// lost notifications. Callers deduplicate by `(order_id, line_item_id)`.
    pub async fn poll_orders(&self, since: DateTime<Utc>) -> Result<Vec<OrderEvent>, SourceError> {
        if since > self.client.clock().now() {
            return Ok(Vec::new());
        }
        let filter = format!("lastmodifieddate:[{}..]", ebay_time(since));
        let mut events = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0u64;
        for _ in 0..MAX_PAGES {
            let query = vec![
                ("filter", filter.clone()),
                ("limit", self.page_size.to_string()),
                ("offset", offset.to_string()),
            ];
            let answer = self
                .client
                .get_json("poll orders", &format!("{FULFILLMENT}/order"), query)
                .await?;
            let orders = answer.json["orders"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for order in &orders {
                for event in order_events(order) {
                    if seen.insert((event.order_id.clone(), event.line_item_id.clone())) {
                        events.push(event);
                    }
                }
            }
            let total = answer.json["total"].as_u64().unwrap_or(0);
            offset += orders.len() as u64;
            if answer.json["next"].as_str().is_none() || orders.is_empty() || offset >= total {
                break;
            }
        }
        tracing::debug!(since = %since, lines = events.len(), "ebay orders polled");
        Ok(events)
    }

    /// The public key `kid`: cached, or fetched on its own small budget
    /// ([`super::ebay_sell::KEY_FETCHES_PER_DAY`]), never on the selling budget. A kid eBay
    /// does not know is remembered (at most [`UNKNOWN_KEYS_REMEMBERED`], for
    /// [`UNKNOWN_KEY_TTL`]), so a forger repeating one costs no call at all.
    async fn fetch_key(&self, kid: &str) -> Result<PublicKey, NotificationError> {
        if let Some(key) = self.keys.lock().unwrap_or_else(|p| p.into_inner()).get(kid) {
            return Ok(key.clone());
        }
        {
            let unknown = self.unknown_keys.lock().unwrap_or_else(|p| p.into_inner());
            if unknown
                .get(kid)
                .is_some_and(|at| at.elapsed() < UNKNOWN_KEY_TTL)
            {
                return Err(NotificationError::UnknownKey(kid.to_string()));
            }
        }
        let path = format!(
            "/commerce/notification/v1/public_key/{}",
            encode_path_segment(kid)
        );
        let answer = spending(
            Spend::NotificationKey,
            self.client
                .call("get public key", Method::GET, &path, Vec::new(), None),
        )
        .await
        .map_err(|e| NotificationError::KeyUnavailable(e.error.to_string()))?;
        // eBay answers 404 for a key id it never issued and 400 for one it cannot read:
        // either way asking again will not help.
        if (400..500).contains(&answer.status) && answer.status != 429 {
            self.remember_unknown(kid);
            return Err(NotificationError::UnknownKey(kid.to_string()));
        }
        if !answer.ok() {
            return Err(NotificationError::KeyUnavailable(
                answer.refusal("get public key").to_string(),
            ));
        }
        let key: PublicKey = serde_json::from_value(answer.json)
            .map_err(|e| NotificationError::BadKey(format!("unreadable key: {e}")))?;
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kid.to_string(), key.clone());
        Ok(key)
    }

    /// Whether the notification's key is one eBay already gave us: a notification signed
    /// with it is verified at no cost, so it is never turned away before verification.
    pub fn knows_key_of(&self, headers: &HeaderMap) -> bool {
        let Some(header) = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Ok(header) = parse_signature_header(header) else {
            return false;
        };
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&header.kid)
    }

    fn remember_unknown(&self, kid: &str) {
        let mut unknown = self.unknown_keys.lock().unwrap_or_else(|p| p.into_inner());
        if unknown.len() >= UNKNOWN_KEYS_REMEMBERED {
            unknown.retain(|_, at| at.elapsed() < UNKNOWN_KEY_TTL);
        }
        if unknown.len() >= UNKNOWN_KEYS_REMEMBERED {
            if let Some(oldest) = unknown
                .iter()
                .min_by_key(|(_, at)| **at)
                .map(|(k, _)| k.clone())
            {
                unknown.remove(&oldest);
            }
        }
        unknown.insert(kid.to_string(), std::time::Instant::now());
    }
}

/// Unknown key ids remembered at most.
pub const UNKNOWN_KEYS_REMEMBERED: usize = 1024;

/// How long an unknown key id is not asked about again.
pub const UNKNOWN_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

impl PublicKeyFetcher for EbayOrders {
    fn public_key<'a>(
        &'a self,
        kid: &'a str,
    ) -> BoxFuture<'a, Result<PublicKey, NotificationError>> {
        Box::pin(self.fetch_key(kid))
    }
}
