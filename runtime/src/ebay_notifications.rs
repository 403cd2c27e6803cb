//! The endpoint eBay pushes sales to: `GET` answers eBay's endpoint challenge, `POST` takes
//! a signed `ORDER_CONFIRMATION`, verifies it ([`EbayOrders::receive`]) and hands the order
//! line to the Inventory, which marks the item sold and has every other listing withdrawn.
//!
//! The answer to a `POST` is given once the notification is verified and queued, before the
//! delisting: eBay retries a slow endpoint. A forged, altered or malformed notification is
//! refused with the status [`NotificationError::http_status`] gives and one log line; a
//! repeat is acknowledged (204) and ignored. The Fulfillment poll stays on as the fallback
//! for notifications that never arrive.
//!
//! The route is public, so verifying must cost an attacker more than it costs us: a
//! client whose notifications fail verification too often is refused (429) before
//! anything is looked up, key fetches draw on their own small budget (never the selling
//! calls a delisting needs), and key ids eBay does not know are remembered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bazaar_agents::connectors::ebay_orders::{challenge_response, EbayOrders, NotificationError};
use bazaar_agents::inventory::InventoryMsg;
use bazaar_memory::{Addr, Marketplace};
use rand::Rng;
use serde::Deserialize;

use crate::operator::serve::{self, ServerLimits};
use crate::operator::Throttle;

/// Where the endpoint is mounted.
pub const PATH: &str = "/ebay/notifications";

/// What the endpoint needs.
#[derive(Clone)]
pub struct NotificationEndpoint {
    /// Verifies notifications and completes them from Fulfillment.
    pub orders: Arc<EbayOrders>,
    /// The URL exactly as registered with eBay (the challenge hashes it).
    pub url: String,
    /// The destination's verification token (a secret: never logged).
    pub verification_token: String,
    /// Where sales go.
    pub inventory: Addr<InventoryMsg>,
}

impl std::fmt::Debug for NotificationEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationEndpoint")
            .field("url", &self.url)
            .field("verification_token", &"<redacted>")
            .finish()
    }
}

/// A fresh verification token: 64 characters eBay accepts (32 to 80 of `[A-Za-z0-9_-]`).
pub fn new_verification_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct EndpointState {
    endpoint: NotificationEndpoint,
    /// Failed verifications per client.
    failures: Throttle,
}

/// The routes, to merge into a server or serve alone ([`serve`]).
pub fn router(endpoint: NotificationEndpoint) -> Router {
    Router::new()
        .route(PATH, get(challenge).post(notification))
        .with_state(Arc::new(EndpointState {
            endpoint,
            failures: Throttle::default(),
        }))
}

/// Serves [`router`] on `addr` until the task is aborted; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    make: impl FnOnce(SocketAddr) -> NotificationEndpoint,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = router(make(bound));
    let task = tokio::spawn(async move {
        // Runs until aborted: the sender is kept alive here and never says stop.
        let (_never, stop) = tokio::sync::watch::channel(false);
        if let Err(error) = serve::serve(listener, app, ServerLimits::default(), stop).await {
            tracing::error!(%error, "ebay notification endpoint stopped");
        }
    });
    Ok((bound, task))
}

#[derive(Debug, Deserialize)]
struct Challenge {
    challenge_code: String,
}

async fn challenge(
    State(state): State<Arc<EndpointState>>,
    Query(query): Query<Challenge>,
) -> Json<serde_json::Value> {
    let endpoint = &state.endpoint;
    let answer = challenge_response(
        &query.challenge_code,
        &endpoint.verification_token,
        &endpoint.url,
    );
    tracing::info!("answered ebay's endpoint challenge");
    Json(serde_json::json!({ "challengeResponse": answer }))
}

async fn notification(
    State(state): State<Arc<EndpointState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Instant::now();
    let endpoint = &state.endpoint;
    // A client whose forgeries keep failing is turned away before anything is looked up,
    // unless the notification is signed with a key eBay already gave us (eBay's own
    // deliveries then get through even behind a proxy every client shares).
    let throttled = state
        .failures
        .refused(peer.ip())
        .filter(|_| !endpoint.orders.knows_key_of(&headers));
    if let Some(wait) = throttled {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "too many notifications from this address failed verification; wait {}s",
                wait.as_secs().max(1)
            ),
        )
            .into_response();
    }
    match endpoint.orders.receive(&headers, &body).await {
        Ok(event) => {
            let msg = InventoryMsg::Notified {
                marketplace: Marketplace::Ebay,
                event: Box::new(event),
                received,
            };
            if endpoint.inventory.send(msg).is_err() {
                // eBay retries what is not acknowledged; the poll catches it meanwhile.
                tracing::warn!("inventory is not running; ebay notification left for a retry");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            StatusCode::NO_CONTENT.into_response()
        }
        Err(NotificationError::Replayed(_)) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => {
            let status =
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            if status.is_client_error() {
                state.failures.failed(peer.ip());
            }
            (status, error.to_string()).into_response()
        }
    }
}
