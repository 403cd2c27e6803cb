//! Commerce Notification: destinations (with eBay's endpoint challenge), subscriptions,
//! topics, the public key, and the signed pushes themselves.
//!
//! A push is `POST <endpoint>` with the JSON
//! `{metadata:{topic, schemaVersion, deprecated}, notification:{notificationId, eventDate,
//! publishDate, publishAttemptCount, data}}` and the header `X-EBAY-SIGNATURE`: base64 of
//! `{"alg":"ecdsa","kid":…,"signature":base64(DER ECDSA P-256 over SHA-1 of the raw
//! body),"digest":"SHA1"}` (lower-case `ecdsa` as in eBay's own published test vector; the
//! public-key endpoint says `"ECDSA"`, so receivers compare case-insensitively). The key is
//! served at `GET /commerce/notification/v1/public_key/{kid}` as
//! `{key: PEM without newlines, algorithm:"ECDSA", digest:"SHA1"}`.
//!
//! Orders push [`ORDER_CONFIRMATION`], the Notification API's order topic ("sent when a
//! buyer completes the checkout process … generated for each line item in the order; the
//! seller looks up the orderId … to retrieve complete order information"). Its `data` holds
//! `orderId`, `lineItemId`, `legacyItemId`, `sku`, `quantity` (the sim's choice of fields).
//!
//! Only loopback endpoints are accepted: the simulator never contacts anything else.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::errors::{domain, json_response, ApiError, Category, ErrorDetail};
use super::oauth::{authorize, scopes};
use super::{ebay_time, href, parse_body, query_get, query_pairs, Api, Reply, Shared, State};

/// The topic orders are pushed under.
pub const ORDER_CONFIRMATION: &str = "ORDER_CONFIRMATION";

const SCHEMA_VERSION: &str = "1.0";

/// One attempt to push a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// `notification.notificationId`.
    pub notification_id: String,
    /// `metadata.topic`.
    pub topic: String,
    /// The subscription it was sent for.
    pub subscription_id: String,
    /// Where it went.
    pub endpoint: String,
    /// The exact bytes posted.
    pub body: String,
    /// The `X-EBAY-SIGNATURE` header sent with them.
    pub signature: String,
    /// When (simulated time).
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Why there was no answer.
    pub error: Option<String>,
}

impl Delivery {
    /// The receiver acknowledged it (2xx).
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(Debug, Clone)]
struct Destination {
    enabled: bool,
    endpoint: String,
}

#[derive(Debug, Clone)]
struct Subscription {
    topic_id: String,
    enabled: bool,
    destination_id: String,
    created: DateTime<Utc>,
}

/// Keys, destinations, subscriptions and the delivery log.
pub(crate) struct NotificationState {
    signing_key: SigningKey,
    kid: String,
    public_pem: String,
    destinations: BTreeMap<String, Destination>,
    subscriptions: BTreeMap<String, Subscription>,
    pub(crate) deliveries: Vec<Delivery>,
}

impl NotificationState {
    /// The signing key is derived from the seed; the key id comes from the RNG.
    pub(crate) fn new(seed: u64, rng: &mut StdRng) -> NotificationState {
        let signing_key = (0u32..)
            .find_map(|counter| {
                let mut h = Sha256::new();
                h.update(b"bazaar-sim/ebay/notification-signing-key");
                h.update(seed.to_be_bytes());
                h.update(counter.to_be_bytes());
                SigningKey::from_slice(&h.finalize()).ok()
            })
            .unwrap_or_else(|| unreachable!("a SHA-256 output is a valid P-256 scalar"));
        let public_pem = signing_key
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .map(|pem| pem.replace(['\n', '\r'], ""))
            .unwrap_or_default();
        let mut b = [0u8; 16];
        rng.fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let kid = format!(
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        );
        NotificationState {
            signing_key,
            kid,
            public_pem,
            destinations: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            deliveries: Vec::new(),
        }
    }

    /// `X-EBAY-SIGNATURE` for `body`.
    fn sign(&self, body: &[u8]) -> String {
        let digest = Sha1::digest(body);
        let signature: Result<Signature, _> = self.signing_key.sign_prehash(&digest);
        let der = signature
            .map(|s| STANDARD.encode(s.to_der().as_bytes()))
            .unwrap_or_default();
        let header = serde_json::json!({
            "alg": "ecdsa",
            "kid": self.kid,
            "signature": der,
            "digest": "SHA1",
        });
        STANDARD.encode(header.to_string())
    }
}

// ----- the push -----

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    topic: &'static str,
    schema_version: &'static str,
    deprecated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderConfirmationData<'a> {
    order_id: &'a str,
    line_item_id: &'a str,
    legacy_item_id: &'a str,
    sku: &'a str,
    quantity: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NotificationOut<'a> {
    notification_id: String,
    event_date: String,
    publish_date: String,
    publish_attempt_count: u32,
    data: OrderConfirmationData<'a>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    metadata: Metadata,
    notification: NotificationOut<'a>,
}

/// What an order line tells subscribers.
pub(crate) struct OrderLine<'a> {
    pub(crate) order_id: &'a str,
    pub(crate) line_item_id: &'a str,
    pub(crate) listing_id: &'a str,
    pub(crate) sku: &'a str,
    pub(crate) quantity: u32,
}

/// Builds and signs one `ORDER_CONFIRMATION` per enabled subscription; they are sent by
/// [`deliver`] once the lock is released.
pub(crate) fn order_confirmation(
    st: &mut State,
    line: &OrderLine<'_>,
    now: DateTime<Utc>,
) -> Vec<Delivery> {
    let targets: Vec<(String, String)> = st
        .notify
        .subscriptions
        .iter()
        .filter(|(_, s)| s.enabled && s.topic_id == ORDER_CONFIRMATION)
        .filter_map(|(id, s)| {
            let d = st.notify.destinations.get(&s.destination_id)?;
            d.enabled.then(|| (id.clone(), d.endpoint.clone()))
        })
        .collect();
    let mut out = Vec::new();
    for (subscription_id, endpoint) in targets {
        let notification_id = st.uuid();
        let envelope = Envelope {
            metadata: Metadata {
                topic: ORDER_CONFIRMATION,
                schema_version: SCHEMA_VERSION,
                deprecated: false,
            },
            notification: NotificationOut {
                notification_id: notification_id.clone(),
                event_date: ebay_time(now),
                publish_date: ebay_time(now),
                publish_attempt_count: 1,
                data: OrderConfirmationData {
                    order_id: line.order_id,
                    line_item_id: line.line_item_id,
                    legacy_item_id: line.listing_id,
                    sku: line.sku,
                    quantity: line.quantity,
                },
            },
        };
        let body = serde_json::to_string(&envelope).unwrap_or_default();
        let signature = st.notify.sign(body.as_bytes());
        out.push(Delivery {
            notification_id,
            topic: ORDER_CONFIRMATION.to_string(),
            subscription_id,
            endpoint,
            body,
            signature,
            attempted_at: now,
            status: None,
            error: None,
        });
    }
    out
}

/// POSTs each prepared notification and records the outcome.
pub(crate) async fn deliver(sh: &Arc<Shared>, pending: Vec<Delivery>) -> Vec<Delivery> {
    let mut done = Vec::with_capacity(pending.len());
    for mut d in pending {
        if sh.journal.get().is_some_and(|j| j.replaying()) {
            // The endpoint belonged to an agent process that is gone.
            d.error = Some("not sent: the world is replaying its journal".into());
            sh.lock().notify.deliveries.push(d.clone());
            done.push(d);
            continue;
        }
        let sent = sh
            .http
            .post(&d.endpoint)
            .header(header::CONTENT_TYPE, "application/json")
            .header("X-EBAY-SIGNATURE", &d.signature)
            .body(d.body.clone())
            .send()
            .await;
        match sent {
            Ok(response) => d.status = Some(response.status().as_u16()),
            Err(err) => d.error = Some(err.to_string()),
        }
        sh.lock().notify.deliveries.push(d.clone());
        done.push(d);
    }
    done
}

// ----- HTTP -----

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/commerce/notification/v1/public_key/{public_key_id}",
            get(get_public_key),
        )
        .route("/commerce/notification/v1/topic/{topic_id}", get(get_topic))
        .route(
            "/commerce/notification/v1/destination",
            post(create_destination),
        )
        .route(
            "/commerce/notification/v1/destination/{destination_id}",
            put(update_destination),
        )
        .route(
            "/commerce/notification/v1/subscription",
            get(get_subscriptions).post(create_subscription),
        )
}

const SUBSCRIPTION_SCOPES: &[&str] = &[
    scopes::API,
    scopes::NOTIFICATION_SUBSCRIPTION,
    scopes::NOTIFICATION_SUBSCRIPTION_READONLY,
];

fn bad(error_id: u32, message: &str) -> ApiError {
    ApiError::bad_request(error_id, domain::NOTIFICATION, message)
}

fn body_error(_path: String, detail: String) -> ApiError {
    ApiError::invalid_request(detail)
}

#[derive(Serialize)]
struct PublicKeyOut<'a> {
    key: &'a str,
    algorithm: &'static str,
    digest: &'static str,
}

async fn get_public_key(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(kid): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Notification, &[scopes::API])?;
    if kid != st.notify.kid {
        return Err(ApiError::not_found(
            195001,
            domain::NOTIFICATION,
            "The specified key id is invalid.",
        )
        .param("public_key_id", kid));
    }
    Ok(json_response(
        StatusCode::OK,
        &PublicKeyOut {
            key: &st.notify.public_pem,
            algorithm: "ECDSA",
            digest: "SHA1",
        },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadDetailOut {
    schema_version: &'static str,
    format: Vec<&'static str>,
    delivery_protocol: &'static str,
    deprecated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicOut {
    topic_id: &'static str,
    description: &'static str,
    authorization_scopes: Vec<&'static str>,
    status: &'static str,
    context: &'static str,
    scope: &'static str,
    supported_payloads: Vec<PayloadDetailOut>,
}

async fn get_topic(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(topic_id): Path<String>,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    authorize(&mut st, &headers, now, Api::Notification, &[scopes::API])?;
    if topic_id != ORDER_CONFIRMATION {
        return Err(ApiError::not_found(
            195002,
            domain::NOTIFICATION,
            "Invalid or missing topic id.",
        )
        .param("topic_id", topic_id));
    }
    Ok(json_response(
        StatusCode::OK,
        &TopicOut {
            topic_id: ORDER_CONFIRMATION,
            description: "A buyer completed checkout for one of the seller's items; one notification per order line item.",
            authorization_scopes: vec![scopes::SELL_FULFILLMENT],
            status: "ENABLED",
            context: "SELLER",
            scope: "USER",
            supported_payloads: vec![PayloadDetailOut {
                schema_version: SCHEMA_VERSION,
                format: vec!["JSON"],
                delivery_protocol: "HTTPS",
                deprecated: false,
            }],
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryConfigIn {
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    verification_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DestinationRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    delivery_config: Option<DeliveryConfigIn>,
}

/// Only `http(s)://` URLs on a loopback host.
fn loopback_endpoint(endpoint: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(endpoint) else {
        return false;
    };
    if !matches!(url.scheme(), "http" | "https") {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The challenge answer eBay expects: hex(SHA-256(code + token + endpoint)).
pub(crate) fn challenge_response(
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

async fn create_destination(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    save_destination(&sh, &headers, &body, None).await
}

/// `updateDestination`: a new endpoint (and verification token) for a destination, checked
/// with a challenge as a new one is.
async fn update_destination(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    Path(destination_id): Path<String>,
    body: Bytes,
) -> Reply {
    save_destination(&sh, &headers, &body, Some(destination_id)).await
}

/// Whether `endpoint` answers eBay's challenge for `code` with the hash of its
/// verification token; in a replay, what it answered when the run was recorded.
async fn answers_challenge(sh: &Arc<Shared>, endpoint: &str, token: &str, code: &str) -> bool {
    let sep = if endpoint.contains('?') { '&' } else { '?' };
    let url = format!("{endpoint}{sep}challenge_code={code}");
    let expected = challenge_response(code, token, endpoint);
    let journal = sh.journal.get();
    match journal {
        // The endpoint belonged to an agent process that is gone: what it answered then.
        Some(journal) if journal.replaying() => journal.replayed_challenge(),
        _ => {
            let answered = match sh.http.get(&url).send().await {
                Ok(r) if r.status() == StatusCode::OK => r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v.get("challengeResponse")?.as_str().map(str::to_string)),
                _ => None,
            };
            let verified = answered.as_deref() == Some(expected.as_str());
            if let Some(journal) = journal {
                let entry = crate::journal::Entry::Challenge { verified };
                if let Err(error) = journal.record(&entry) {
                    tracing::error!(%error, "a destination's challenge could not be journaled");
                }
            }
            verified
        }
    }
}

/// Creates a destination, or replaces `existing`'s settings.
async fn save_destination(
    sh: &Arc<Shared>,
    headers: &HeaderMap,
    body: &Bytes,
    existing: Option<String>,
) -> Reply {
    let now = sh.now();
    // Phase 1, under the lock: check the request and draw the challenge.
    let (enabled, endpoint, token, code, destination_id) = {
        let mut st = sh.lock();
        authorize(&mut st, headers, now, Api::Notification, &[scopes::API])?;
        if let Some(id) = &existing {
            if !st.notify.destinations.contains_key(id) {
                return Err(ApiError::not_found(
                    195022,
                    domain::NOTIFICATION,
                    "Invalid or missing destination id.",
                )
                .param("destination_id", id.as_str()));
            }
        }
        let req: DestinationRequest = parse_body(body, body_error)?;
        let name = req.name.unwrap_or_default();
        if name.chars().count() > 64 || name.contains('<') || name.contains('>') {
            return Err(bad(
                195016,
                "Invalid name. Markups or lengths greater than 64 not supported",
            ));
        }
        let enabled =
            match req.status.as_deref() {
                Some("ENABLED") => true,
                Some("DISABLED") => false,
                _ => return Err(bad(
                    195018,
                    "Invalid or missing destination status. Supported values:[ENABLED,DISABLED]",
                )),
            };
        let config = req.delivery_config.unwrap_or_default();
        let endpoint = config.endpoint.unwrap_or_default();
        if !loopback_endpoint(&endpoint) {
            return Err(bad(195017, "Invalid or missing endpoint.")
                .long("The simulator delivers only to http(s) endpoints on a loopback address.")
                .param("endpoint", endpoint));
        }
        let token = config.verification_token.unwrap_or_default();
        let token_ok = (32..=80).contains(&token.len())
            && token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !token_ok {
            return Err(bad(
                195019,
                "Invalid or missing verification token for this endpoint.",
            )
            .long("The verification token must be 32 to 80 characters of letters, digits, '_' and '-'."));
        }
        if endpoint_taken(&st, &endpoint, existing.as_deref()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                ErrorDetail::new(
                    195021,
                    domain::NOTIFICATION,
                    Category::Request,
                    "Destination exists for this endpoint",
                )
                .param("endpoint", endpoint),
            ));
        }
        let code = st.uuid();
        let destination_id = existing.clone().unwrap_or_else(|| st.uuid());
        (enabled, endpoint, token, code, destination_id)
    };
    // Phase 2, unlocked: eBay's challenge.
    let verified = answers_challenge(sh, &endpoint, &token, &code).await;
    if !verified {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorDetail::new(
                195020,
                domain::NOTIFICATION,
                Category::Request,
                "Challenge verification failed for requested endpoint",
            )
            .param("endpoint", endpoint),
        ));
    }
    // Phase 3, under the lock again.
    let mut st = sh.lock();
    if endpoint_taken(&st, &endpoint, existing.as_deref()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorDetail::new(
                195021,
                domain::NOTIFICATION,
                Category::Request,
                "Destination exists for this endpoint",
            ),
        ));
    }
    st.notify
        .destinations
        .insert(destination_id.clone(), Destination { enabled, endpoint });
    if existing.is_some() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let location = format!(
        "{}/commerce/notification/v1/destination/{destination_id}",
        st.base_url
    );
    Ok(created(&location))
}

/// Whether a destination other than `except` already has `endpoint`.
fn endpoint_taken(st: &State, endpoint: &str, except: Option<&str>) -> bool {
    st.notify
        .destinations
        .iter()
        .any(|(id, d)| d.endpoint == endpoint && Some(id.as_str()) != except)
}

fn created(location: &str) -> axum::response::Response {
    let mut response = StatusCode::CREATED.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PayloadIn {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    schema_version: Option<String>,
    #[serde(default)]
    delivery_protocol: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSubscriptionRequest {
    #[serde(default)]
    topic_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    payload: Option<PayloadIn>,
    #[serde(default)]
    destination_id: Option<String>,
}

async fn create_subscription(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    let now = sh.now();
    let mut st = sh.lock();
    let grant = authorize(
        &mut st,
        &headers,
        now,
        Api::Notification,
        SUBSCRIPTION_SCOPES,
    )?;
    let req: CreateSubscriptionRequest = parse_body(&body, body_error)?;
    let topic = req.topic_id.unwrap_or_default();
    if topic != ORDER_CONFIRMATION {
        return Err(bad(195027, "Invalid or missing topic id.").param("topicId", topic));
    }
    let enabled = match req.status.as_deref() {
        Some("ENABLED") => true,
        Some("DISABLED") => false,
        _ => return Err(bad(195006, "Invalid or missing subscription status.")),
    };
    let destination_id = req.destination_id.unwrap_or_default();
    let Some(destination) = st.notify.destinations.get(&destination_id) else {
        return Err(bad(195007, "Invalid or missing destination id.")
            .param("destinationId", destination_id));
    };
    let payload = req.payload.unwrap_or_default();
    if payload.schema_version.as_deref() != Some(SCHEMA_VERSION) {
        return Err(bad(
            195008,
            "Invalid or missing schema version. Please refer to /topic/{topic_id} for supported schema versions.",
        ));
    }
    if payload.format.as_deref() != Some("JSON") {
        return Err(bad(
            195009,
            "Specified format is not supported for the topic.",
        ));
    }
    if payload.delivery_protocol.as_deref() != Some("HTTPS") {
        return Err(bad(195010, "Invalid or missing protocol"));
    }
    let may_read_orders = grant.scopes.contains(scopes::SELL_FULFILLMENT)
        || grant.scopes.contains(scopes::SELL_FULFILLMENT_READONLY);
    if !grant.user || !may_read_orders {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorDetail::new(
                195011,
                domain::NOTIFICATION,
                Category::Request,
                "Not authorized for this topic.",
            )
            .long("ORDER_CONFIRMATION is a seller topic: subscribe with the seller's user token holding sell.fulfillment.")
            .param("topicId", ORDER_CONFIRMATION),
        ));
    }
    if enabled && !destination.enabled {
        return Err(ApiError::conflict(
            195015,
            domain::NOTIFICATION,
            "The subscription cannot be enabled since the destination is not enabled.",
        ));
    }
    if st
        .notify
        .subscriptions
        .values()
        .any(|s| s.topic_id == topic && s.destination_id == destination_id)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorDetail::new(
                195012,
                domain::NOTIFICATION,
                Category::Request,
                "Subscription already exists",
            ),
        ));
    }
    let subscription_id = st.uuid();
    st.notify.subscriptions.insert(
        subscription_id.clone(),
        Subscription {
            topic_id: topic,
            enabled,
            destination_id,
            created: now,
        },
    );
    let location = format!(
        "{}/commerce/notification/v1/subscription/{subscription_id}",
        st.base_url
    );
    Ok(created(&location))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionPayloadOut {
    format: &'static str,
    schema_version: &'static str,
    delivery_protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionOut {
    subscription_id: String,
    topic_id: String,
    status: &'static str,
    creation_date: String,
    payload: SubscriptionPayloadOut,
    destination_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SubscriptionSearchResponse {
    total: u64,
    href: String,
    limit: u64,
    subscriptions: Vec<SubscriptionOut>,
}

async fn get_subscriptions(
    AxState(sh): AxState<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Reply {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    authorize(
        &mut st,
        &headers,
        now,
        Api::Notification,
        SUBSCRIPTION_SCOPES,
    )?;
    let limit = match query_get(&pairs, "limit") {
        None => 20,
        Some(t) => match t.parse::<u64>() {
            Ok(n) if (10..=100).contains(&n) => n,
            _ => return Err(bad(195004, "Invalid limit. Supported ranges 10 - 100.")),
        },
    };
    if query_get(&pairs, "continuation_token").is_some() {
        return Err(bad(195005, "Invalid continuation token."));
    }
    let subscriptions: Vec<SubscriptionOut> = st
        .notify
        .subscriptions
        .iter()
        .take(limit as usize)
        .map(|(id, s)| SubscriptionOut {
            subscription_id: id.clone(),
            topic_id: s.topic_id.clone(),
            status: if s.enabled { "ENABLED" } else { "DISABLED" },
            creation_date: ebay_time(s.created),
            payload: SubscriptionPayloadOut {
                format: "JSON",
                schema_version: SCHEMA_VERSION,
                delivery_protocol: "HTTPS",
            },
            destination_id: s.destination_id.clone(),
        })
        .collect();
    let body = SubscriptionSearchResponse {
        total: st.notify.subscriptions.len() as u64,
        href: href(
            &st.base_url,
            "/commerce/notification/v1/subscription",
            &[("limit", limit.to_string())],
        ),
        limit,
        subscriptions,
    };
    Ok(json_response(StatusCode::OK, &body))
}
