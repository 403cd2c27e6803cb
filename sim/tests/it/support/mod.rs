//! Test support: an HTTP client that validates every eBay response against the contracts,
//! a notification receiver, and the receiver-side signature check. Test code only: the
//! agent gets its own connector and never links any of this.

#![allow(dead_code)]

pub mod openapi;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bazaar_memory::SimClock;
use bazaar_sim::ebay::{scopes, EbayConfig, EbaySim};
use chrono::{DateTime, Utc};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use openapi::{Checked, Contracts};

/// The moment every test world starts at: a Monday afternoon, UTC.
pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T15:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A response as the tests see it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// The body parsed, or `Null` when empty.
    pub json: Value,
}

impl Reply {
    /// `errors[0].errorId`.
    pub fn error_id(&self) -> i64 {
        self.json["errors"][0]["errorId"].as_i64().unwrap_or(-1)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A client for one simulated eBay. Every response of an eBay REST API is validated against
/// the contract for its operation and status; a violation fails the test on the spot.
#[derive(Clone)]
pub struct Ebay {
    pub base: String,
    pub http: reqwest::Client,
    contracts: Arc<Contracts>,
    checked: Arc<Mutex<Vec<Checked>>>,
    config: EbayConfig,
}

impl Ebay {
    pub fn new(addr: std::net::SocketAddr, config: &EbayConfig) -> Ebay {
        bazaar_mail::install_crypto_provider();
        Ebay {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            contracts: Arc::new(Contracts::load()),
            checked: Arc::new(Mutex::new(Vec::new())),
            config: config.clone(),
        }
    }

    /// Every (operation, status, schema) validated so far.
    pub fn checked(&self) -> Vec<Checked> {
        self.checked.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Sends a request to an eBay REST API and validates the response.
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let method_v =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut req = self
            .http
            .request(method_v, format!("{}{path_and_query}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(b).unwrap_or_default());
        }
        let reply = self.finish(req).await;
        let path = path_and_query.split('?').next().unwrap_or("");
        match self
            .contracts
            .validate(method, path, reply.status, &reply.body)
        {
            Ok(checked) => {
                // `EBAY_CONTRACT_LOG=<file>` appends what each response was checked against.
                if let Some(log) = std::env::var_os("EBAY_CONTRACT_LOG") {
                    use std::io::Write;
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(log)
                    {
                        let _ = writeln!(
                            f,
                            "{} {} {}",
                            checked.operation, checked.status, checked.schema
                        );
                    }
                }
                if let Ok(mut c) = self.checked.lock() {
                    c.push(checked);
                }
            }
            Err(problems) => panic!(
                "{method} {path_and_query} → {} does not match eBay's contract:\n  {}\nbody: {}",
                reply.status,
                problems.join("\n  "),
                reply.text()
            ),
        }
        reply
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), &[], None).await
    }

    /// An Inventory write: `Content-Language: en-US`.
    pub async fn inv(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
        self.call(
            method,
            path,
            Some(token),
            &[("Content-Language", "en-US")],
            body,
        )
        .await
    }

    /// A Negotiation call: `X-EBAY-C-MARKETPLACE-ID: EBAY_US`.
    pub async fn nego(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
        self.call(
            method,
            path,
            Some(token),
            &[("X-EBAY-C-MARKETPLACE-ID", "EBAY_US")],
            body,
        )
        .await
    }

    async fn finish(&self, req: reqwest::RequestBuilder) -> Reply {
        let response = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let json = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).unwrap_or(Value::Null)
        };
        Reply {
            status,
            headers,
            body,
            json,
        }
    }

    /// `POST /identity/v1/oauth2/token` (no contract among the five: checked by the tests).
    pub async fn token_call(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        let mut req = self
            .http
            .post(format!("{}/identity/v1/oauth2/token", self.base))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap_or_default());
        if let Some((id, secret)) = basic {
            req = req.header(
                "Authorization",
                format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
            );
        }
        self.finish(req).await
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> Reply {
        let (id, secret) = (
            self.config.client_id.clone(),
            self.config.client_secret.clone(),
        );
        self.token_call(form, Some((&id, &secret))).await
    }

    /// An application token for Browse and Notification.
    pub async fn app_token(&self) -> String {
        let r = self
            .token(&[("grant_type", "client_credentials"), ("scope", scopes::API)])
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The seller consents (through the sim) and the code is exchanged: (access, refresh).
    pub async fn user_tokens(&self, sim: &EbaySim, scopes: &[&str]) -> (String, String) {
        let code = sim.authorization_code(scopes);
        let r = self
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &self.config.ru_name),
            ])
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        (
            r.json["access_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            r.json["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    }
}

/// The scopes a selling agent asks for.
pub fn seller_scopes() -> Vec<&'static str> {
    vec![
        scopes::API,
        scopes::SELL_INVENTORY,
        scopes::SELL_FULFILLMENT,
        scopes::NOTIFICATION_SUBSCRIPTION,
    ]
}

/// A simulated eBay on a simulated clock, with a validating client.
pub struct World {
    pub sim: EbaySim,
    pub clock: SimClock,
    pub api: Ebay,
    pub config: EbayConfig,
}

pub async fn world(config: EbayConfig) -> World {
    let clock = SimClock::new(start_time());
    let (sim, addr) = EbaySim::start(config.clone(), Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("starting the sim: {e}"));
    let api = Ebay::new(addr, &config);
    World {
        sim,
        clock,
        api,
        config,
    }
}

/// A complete inventory item body.
pub fn inventory_item(title: &str, quantity: i64) -> Value {
    json!({
        "availability": {"shipToLocationAvailability": {"quantity": quantity}},
        "condition": "USED_EXCELLENT",
        "conditionDescription": "Light wear on the case.",
        "product": {
            "title": title,
            "description": format!("{title}. Tested, works."),
            "brand": "Bose",
            "aspects": {"Brand": ["Bose"], "Color": ["Black"]},
            "imageUrls": ["http://127.0.0.1:9/img/1.jpg"]
        }
    })
}

/// A complete offer body.
pub fn offer_body(sku: &str, price: &str, quantity: i64) -> Value {
    json!({
        "sku": sku,
        "marketplaceId": "EBAY_US",
        "format": "FIXED_PRICE",
        "availableQuantity": quantity,
        "categoryId": "111694",
        "listingDescription": "Tested, works. Ships in 1 business day.",
        "listingDuration": "GTC",
        "merchantLocationKey": "home",
        "pricingSummary": {"price": {"value": price, "currency": "USD"}},
        "listingPolicies": {
            "fulfillmentPolicyId": "6196944000",
            "paymentPolicyId": "6196945000",
            "returnPolicyId": "6196946000",
            "bestOfferTerms": {"bestOfferEnabled": true}
        }
    })
}

/// Creates the warehouse location `key` (the offers of [`offer_body`] ship from "home");
/// true when it was new, false when it existed (409).
pub async fn create_location(api: &Ebay, token: &str, key: &str) -> bool {
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/location/{key}"),
            Some(token),
            &[],
            Some(&json!({
                "location": {"address": {"postalCode": "95125", "country": "US"}},
                "locationTypes": ["WAREHOUSE"],
                "name": "Home"
            })),
        )
        .await;
    assert!(matches!(r.status, 204 | 409), "{}", r.text());
    r.status == 204
}

/// Puts an item up: inventory item, offer (idempotent through `GET /offer?sku=`), publish.
/// Returns (offerId, listingId).
pub async fn list_item(
    api: &Ebay,
    token: &str,
    sku: &str,
    title: &str,
    price: &str,
    quantity: i64,
) -> (String, String) {
    let r = api
        .inv(
            "PUT",
            &format!("/sell/inventory/v1/inventory_item/{sku}"),
            token,
            Some(&inventory_item(title, quantity)),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    create_location(api, token, "home").await;
    let existing = api
        .get(&format!("/sell/inventory/v1/offer?sku={sku}"), token)
        .await;
    let offer_id = if existing.status == 200 {
        existing.json["offers"][0]["offerId"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        assert_eq!(existing.status, 404, "{}", existing.text());
        let r = api
            .inv(
                "POST",
                "/sell/inventory/v1/offer",
                token,
                Some(&offer_body(sku, price, quantity)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        r.json["offerId"].as_str().unwrap_or_default().to_string()
    };
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/publish"),
            Some(token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    (
        offer_id,
        r.json["listingId"].as_str().unwrap_or_default().to_string(),
    )
}

// ----- the notification receiver -----

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Clone)]
struct ReceiverState {
    endpoint: Arc<Mutex<String>>,
    token: String,
    honest: bool,
    received: Arc<Mutex<Vec<Received>>>,
    challenges: Arc<Mutex<Vec<String>>>,
}

/// An HTTP endpoint on 127.0.0.1 that answers eBay's challenge (correctly, or not when
/// `honest` is false) and records every notification.
pub struct Receiver {
    pub endpoint: String,
    state: ReceiverState,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(token: &str, honest: bool) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let endpoint = format!("http://{addr}/ebay/notifications");
        let state = ReceiverState {
            endpoint: Arc::new(Mutex::new(endpoint.clone())),
            token: token.to_string(),
            honest,
            received: Arc::new(Mutex::new(Vec::new())),
            challenges: Arc::new(Mutex::new(Vec::new())),
        };
        let app = Router::new()
            .route("/ebay/notifications", get(challenge).post(notification))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            endpoint,
            state,
            _task: task,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn challenges(&self) -> Vec<String> {
        self.state
            .challenges
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

async fn challenge(
    State(st): State<ReceiverState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> axum::response::Response {
    let Some(code) = q.get("challenge_code") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if let Ok(mut c) = st.challenges.lock() {
        c.push(code.clone());
    }
    let endpoint = st.endpoint.lock().map(|e| e.clone()).unwrap_or_default();
    let mut h = Sha256::new();
    h.update(code.as_bytes());
    h.update(st.token.as_bytes());
    h.update(endpoint.as_bytes());
    let mut answer: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if !st.honest {
        answer = answer.chars().rev().collect();
    }
    axum::Json(json!({ "challengeResponse": answer })).into_response()
}

async fn notification(
    State(st): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let signature = headers
        .get("x-ebay-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Ok(mut r) = st.received.lock() {
        r.push(Received {
            signature,
            body: body.to_vec(),
        });
    }
    StatusCode::NO_CONTENT
}

// ----- what a receiver does with X-EBAY-SIGNATURE -----

/// The decoded `X-EBAY-SIGNATURE` header.
#[derive(Debug, Clone)]
pub struct SignatureHeader {
    pub alg: String,
    pub kid: String,
    pub signature: String,
    pub digest: String,
}

pub fn parse_signature_header(header: &str) -> Result<SignatureHeader, String> {
    let raw = STANDARD
        .decode(header.trim())
        .map_err(|e| format!("not base64: {e}"))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|e| format!("not JSON: {e}"))?;
    let field = |name: &str| {
        v[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no {name} in the signature header"))
    };
    Ok(SignatureHeader {
        alg: field("alg")?,
        kid: field("kid")?,
        signature: field("signature")?,
        digest: field("digest")?,
    })
}

/// Verifies a notification with nothing but its raw body, its header and the response of
/// `GET /commerce/notification/v1/public_key/{kid}` — what a real receiver has.
pub fn verify_notification(
    raw_body: &[u8],
    header: &str,
    public_key: &Value,
) -> Result<(), String> {
    let h = parse_signature_header(header)?;
    if !h.alg.eq_ignore_ascii_case("ecdsa") || !h.digest.eq_ignore_ascii_case("sha1") {
        return Err(format!("unexpected alg/digest {}/{}", h.alg, h.digest));
    }
    if !public_key["algorithm"]
        .as_str()
        .is_some_and(|a| a.eq_ignore_ascii_case("ECDSA"))
        || !public_key["digest"]
            .as_str()
            .is_some_and(|d| d.eq_ignore_ascii_case("SHA1"))
    {
        return Err(format!("unexpected key metadata {public_key}"));
    }
    let key = public_key["key"].as_str().ok_or("no key")?;
    // eBay serves the PEM on one line; put the line breaks back.
    let b64 = key
        .replace("-----BEGIN PUBLIC KEY-----", "")
        .replace("-----END PUBLIC KEY-----", "");
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).map_err(|e| e.to_string())?);
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    let verifying = VerifyingKey::from_public_key_pem(&pem).map_err(|e| format!("bad key: {e}"))?;
    let der = STANDARD
        .decode(&h.signature)
        .map_err(|e| format!("signature not base64: {e}"))?;
    let signature = Signature::from_der(&der).map_err(|e| format!("signature not DER: {e}"))?;
    verifying
        .verify_prehash(&Sha1::digest(raw_body), &signature)
        .map_err(|e| format!("signature does not verify: {e}"))
}
