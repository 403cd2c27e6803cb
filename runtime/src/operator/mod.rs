//! The operator's side of a running Bazaar: the JSON API ([`api`]), the inbox page
//! ([`page`]), one-click approve/reject links ([`links`]), outbound webhooks
//! ([`webhooks`]) and the CLI commands that talk to the API ([`cli`]).
//!
//! Everything that changes state goes through the policy gate (`GateMsg`); reads come from
//! the store. The API and the page share one secret, `operator.token`:
//!
//! - API requests carry `Authorization: Bearer <token>` (compared in constant time);
//! - the inbox page's login form takes the token once and sets an HttpOnly, SameSite=Strict
//!   session cookie that is an HMAC under a key derived from the token (never the token);
//!   every form carries a CSRF token derived from the session;
//! - one-click links are signed with another derived key, expire, and are single-use.
//!
//! Changing the token revokes every session and link. To rotate it without a restart or
//! a logged-out moment, set the new one as `token` and the old one as `previous_token`
//! and send `bazaar run` a SIGHUP ([`Operator::reload_secrets`]): both are accepted, and
//! sessions made under either stay valid; once clients use the new one, drop
//! `previous_token` and send SIGHUP again.

pub mod api;
pub mod business;
pub mod cli;
pub mod console;
pub mod contacts;
pub mod items;
pub mod links;
pub mod page;
pub mod serve;
mod throttle;
pub(crate) use throttle::Throttle;
pub mod webhooks;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bazaar_agents::Addresses;
use bazaar_config::{Config, ConfigError, OperatorConfig, SecretValue};
use bazaar_memory::{SendError, SharedClock, SledStore};
use bazaar_policies::signing;
use bazaar_policies::{GateError, GateEvent, GateMsg};
use serde::de::DeserializeOwned;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

use crate::system::System;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// What `bazaar run` logs when the operator side is off.
const OFF_REASON: &str =
    "operator.token is not set; set [operator] token = { env = 'BAZAAR_OPERATOR_TOKEN' } \
     (or { file = '/path/0600' }) to turn on the API and the inbox page";

/// How long the gate may take to answer an operator command.
const GATE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the operator side reads and talks to.
#[derive(Clone)]
pub struct OperatorContext {
    /// The store (reads).
    pub store: SledStore,
    /// The clock (deadlines, link expiry, sessions).
    pub clock: SharedClock,
    /// Every actor's address (mutations go to the gate).
    pub addrs: Addresses,
    /// The gate's events.
    pub events: broadcast::Sender<GateEvent>,
    /// The channels items are listed on.
    pub selling_channels: Vec<bazaar_agents::selling::SellingChannel>,
}

impl OperatorContext {
    /// The context of a running system.
    pub fn of(system: &System) -> OperatorContext {
        OperatorContext {
            store: system.store.clone(),
            clock: system.clock.clone(),
            addrs: system.addrs.clone(),
            events: system.events.clone(),
            selling_channels: system.selling_channels.clone(),
        }
    }
}

/// One outbound webhook, its secret resolved.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// Where to POST.
    pub url: String,
    /// Signing secret.
    pub secret: SecretValue,
    /// The secret being rotated out; deliveries are signed under both.
    pub previous_secret: Option<SecretValue>,
    /// Event names it wants; empty means all.
    pub events: Vec<String>,
}

/// `[operator]` with its secrets resolved.
#[derive(Clone, Debug)]
pub struct OperatorSettings {
    /// The API token; without it the API, the page and links are off.
    pub token: Option<SecretValue>,
    /// The token being rotated out, still accepted.
    pub previous_token: Option<SecretValue>,
    /// Base URL for links (no trailing slash).
    pub public_url: String,
    /// Lifetime of one-click links.
    pub link_ttl: Duration,
    /// Outbound webhooks.
    pub webhooks: Vec<Webhook>,
    /// Delivery retries after the first attempt.
    pub webhook_retries: u32,
    /// First retry delay; doubles each retry.
    pub webhook_backoff_initial: Duration,
    /// How the server bounds connections (timeouts, caps).
    pub server: serve::ServerLimits,
}

impl OperatorSettings {
    /// Reads `[operator]`, resolving the token and the webhook secrets.
    pub fn from_config(config: &OperatorConfig) -> Result<OperatorSettings, ConfigError> {
        let token = config
            .token
            .as_ref()
            .map(|t| t.resolve("operator.token"))
            .transpose()?;
        if let Some(token) = &token {
            check_token_strength(token).map_err(|reason| ConfigError::Secret {
                key: "operator.token".into(),
                reason,
            })?;
        }
        let previous_token = config
            .previous_token
            .as_ref()
            .map(|t| t.resolve("operator.previous_token"))
            .transpose()?;
        if let Some(previous) = &previous_token {
            check_token_strength(previous).map_err(|reason| ConfigError::Secret {
                key: "operator.previous_token".into(),
                reason,
            })?;
        }
        let webhooks = config
            .webhooks
            .iter()
            .enumerate()
            .map(|(i, hook)| {
                Ok(Webhook {
                    url: hook.url.clone(),
                    secret: hook
                        .secret
                        .resolve(&format!("operator.webhooks[{i}].secret"))?,
                    previous_secret: hook
                        .previous_secret
                        .as_ref()
                        .map(|s| s.resolve(&format!("operator.webhooks[{i}].previous_secret")))
                        .transpose()?,
                    events: hook.events.clone(),
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(OperatorSettings {
            token,
            previous_token,
            public_url: config.public_url.trim_end_matches('/').to_string(),
            link_ttl: Duration::from_secs(config.link_ttl_minutes * 60),
            webhooks,
            webhook_retries: config.webhook_retries,
            webhook_backoff_initial: Duration::from_millis(config.webhook_backoff_initial_ms),
            server: serve::ServerLimits::default(),
        })
    }
}

/// Keys derived from the operator token, one per purpose.
#[derive(Clone)]
pub(crate) struct Keys {
    pub session: [u8; 32],
    pub csrf: [u8; 32],
    pub link: [u8; 32],
}

impl Keys {
    pub(crate) fn derive(token: &SecretValue) -> Keys {
        let token = token.expose().as_bytes();
        Keys {
            session: signing::derive_key(token, "session"),
            csrf: signing::derive_key(token, "csrf"),
            link: signing::derive_key(token, "link"),
        }
    }
}

/// Counters the webhook dispatcher keeps (for `/metrics` and `/api/status`).
#[derive(Debug, Default)]
pub struct WebhookStats {
    /// Delivered (2xx).
    pub delivered: std::sync::atomic::AtomicU64,
    /// Gave up after the retries, or refused by the receiver.
    pub failed: std::sync::atomic::AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: std::sync::atomic::AtomicU64,
    /// Retries made.
    pub retried: std::sync::atomic::AtomicU64,
}

impl WebhookStats {
    /// The counters as the last clean stop left them (zero for a new store).
    fn load(store: &SledStore) -> WebhookStats {
        use bazaar_memory::Store;
        use std::sync::atomic::AtomicU64;
        let [delivered, failed, dropped, retried] = store
            .get_meta::<[u64; 4]>(bazaar_memory::meta_keys::OPERATOR_WEBHOOK_COUNTS)
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "webhook counters unreadable; counting from zero");
                None
            })
            .unwrap_or_default();
        WebhookStats {
            delivered: AtomicU64::new(delivered),
            failed: AtomicU64::new(failed),
            dropped: AtomicU64::new(dropped),
            retried: AtomicU64::new(retried),
        }
    }

    /// Keeps the counters for the next start.
    async fn save(&self, store: &SledStore) {
        use bazaar_memory::Store;
        use std::sync::atomic::Ordering::Relaxed;
        let counts = [
            self.delivered.load(Relaxed),
            self.failed.load(Relaxed),
            self.dropped.load(Relaxed),
            self.retried.load(Relaxed),
        ];
        let saved = match store.put_meta(bazaar_memory::meta_keys::OPERATOR_WEBHOOK_COUNTS, &counts)
        {
            Ok(()) => store.flush().await,
            Err(error) => Err(error),
        };
        if let Err(error) = saved {
            tracing::warn!(%error, "webhook counters not kept");
        }
    }
}

/// The credentials in force, shared by the server and the link maker: replaced whole on a
/// reload, so a request sees one set or the other, and everything derived from a token
/// that left the configuration (sessions, forms, links) stops working at once.
#[derive(Clone)]
pub(crate) struct CredentialCell(Arc<std::sync::RwLock<Arc<Credentials>>>);

impl CredentialCell {
    fn new(credentials: Credentials) -> CredentialCell {
        CredentialCell(Arc::new(std::sync::RwLock::new(Arc::new(credentials))))
    }

    /// The tokens and keys in force now.
    pub fn get(&self) -> Arc<Credentials> {
        // A poisoned lock still holds a whole set (it is only ever replaced whole).
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn replace(&self, credentials: Credentials) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(credentials);
    }
}

/// The tokens the server accepts and the keys derived from them.
pub(crate) struct Credentials {
    pub token: SecretValue,
    pub keys: Keys,
    /// The token being rotated out and its keys.
    pub previous: Option<(SecretValue, Keys)>,
}

impl Credentials {
    fn new(token: SecretValue, previous: Option<SecretValue>) -> Credentials {
        Credentials {
            keys: Keys::derive(&token),
            token,
            previous: previous.map(|p| {
                let keys = Keys::derive(&p);
                (p, keys)
            }),
        }
    }

    /// The keys to check a signature against: the current ones first.
    pub fn all_keys(&self) -> impl Iterator<Item = &Keys> {
        std::iter::once(&self.keys).chain(self.previous.as_ref().map(|(_, keys)| keys))
    }
}

pub(crate) struct Inner {
    pub ctx: OperatorContext,
    pub credentials: CredentialCell,
    pub links: links::Links,
    /// Open inbox sessions (logout ends one at once).
    pub sessions: page::Sessions,
    /// Failed logins and bad bearers per client.
    pub failures: throttle::Throttle,
    pub secure_cookie: bool,
    pub shutdown: watch::Receiver<bool>,
    pub webhook_count: usize,
    pub webhook_stats: Arc<WebhookStats>,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState(pub Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Inner {
    /// The clock's now, as unix seconds.
    pub fn now_unix(&self) -> i64 {
        self.ctx.clock.now().timestamp()
    }

    /// The tokens and keys in force now.
    pub fn credentials(&self) -> Arc<Credentials> {
        self.credentials.get()
    }

    /// Whether `given` is the operator token, or the one being rotated out (constant time).
    pub fn token_matches(&self, given: &str) -> bool {
        let credentials = self.credentials();
        let matches = |token: &SecretValue| {
            signing::constant_time_eq(given.as_bytes(), token.expose().as_bytes())
        };
        // Both compared, so the time does not tell which one matched.
        let current = matches(&credentials.token);
        let previous = credentials
            .previous
            .as_ref()
            .is_some_and(|(p, _)| matches(p));
        current | previous
    }

    /// A wrong token from `client`: counted, and answered 429 once the client has failed
    /// too often lately (401 before that).
    pub fn refuse_guess(&self, client: IpAddr, wrong: &str) -> ApiError {
        // Over the limit already before this one: the first ten are answered at once.
        let over = self.failures.refused(client);
        self.failures.failed(client);
        match over {
            None => ApiError::new(StatusCode::UNAUTHORIZED, wrong),
            Some(wait) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed attempts from this address; wait {}s and check the token",
                    wait.as_secs().max(1)
                ),
            ),
        }
    }

    /// Whether the request carries `Authorization: Bearer <token>`. The right token is
    /// always let in (behind a proxy every client shares one address, and guessing must
    /// not lock the operator out); a wrong one counts against `client` ([`throttle`]).
    pub fn bearer_ok(&self, headers: &HeaderMap, client: IpAddr) -> Result<(), ApiError> {
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing bearer token: send `Authorization: Bearer <operator.token>`",
            ));
        };
        let given = bearer_token(value).unwrap_or("");
        if given.is_empty() || !self.token_matches(given) {
            return Err(
                self.refuse_guess(client, "bad bearer token: use the value of operator.token")
            );
        }
        Ok(())
    }

    /// Sends a command to the gate and waits (bounded) for its answer.
    pub async fn ask_gate<R: Send + 'static>(
        &self,
        build: impl FnOnce(ractor::RpcReplyPort<R>) -> GateMsg,
    ) -> Result<R, ApiError> {
        match tokio::time::timeout(GATE_TIMEOUT, self.ctx.addrs.gate.ask(build)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(SendError::Unavailable { .. })) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the policy gate is not running (restarting or shutting down); try again in a moment",
            )),
            Err(_) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "the policy gate did not answer in 30s; check `bazaar status` and the logs",
            )),
        }
    }
}

/// The body of every error answer.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong and what to do (lowercase).
    pub error: String,
}

/// An error answer: [`ErrorBody`] with a status code.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// What went wrong and what to do (lowercase).
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// 500 for a store failure.
    pub fn store(error: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("store error: {error}; see the daemon's log"),
        )
    }
}

impl From<GateError> for ApiError {
    fn from(error: GateError) -> ApiError {
        let status = match &error {
            GateError::NotFound(_) => StatusCode::NOT_FOUND,
            GateError::Conflict(_) => StatusCode::CONFLICT,
            GateError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"bazaar\""),
            );
        }
        response
    }
}

/// `Json<T>` whose rejections are JSON errors: 413 past [`BODY_LIMIT`], 400 otherwise.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large())
            }
            Err(rejection) => Err(ApiError::bad_request(format!(
                "bad request body: {}",
                rejection.body_text().to_lowercase()
            ))),
        }
    }
}

pub(crate) fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "request body is larger than {} KiB; send less",
            BODY_LIMIT / 1024
        ),
    )
}

/// Refuses a declared `Content-Length` over the limit before anything reads the body
/// (extractors enforce the same limit on bodies without one).
async fn limit_body(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > BODY_LIMIT as u64) {
        if request.uri().path().starts_with("/api/") {
            return too_large().into_response();
        }
        return page::error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "that form was larger than 64 KiB; send less",
        );
    }
    next.run(request).await
}

/// Headers every answer gets.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The token of an `Authorization: Bearer <token>` value.
pub(crate) fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let value = value.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// The address a request came from (the server puts it on each request; a request that
/// reached the router another way counts as one unknown client).
pub(crate) fn client_of(extensions: &axum::http::Extensions) -> IpAddr {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

/// How long a throttled client waits for each wrong guess to be answered: what bounds
/// the guessing rate (the right token is never made to wait).
pub(crate) const THROTTLED_ANSWER_DELAY: Duration = Duration::from_secs(1);

async fn require_bearer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.bearer_ok(request.headers(), client_of(request.extensions())) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            if error.status == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(THROTTLED_ANSWER_DELAY).await;
            }
            error.into_response()
        }
    }
}

fn router(state: AppState) -> Router {
    let protected = Router::from(api::routes()).route_layer(middleware::from_fn_with_state(
        state.clone(),
        require_bearer,
    ));
    Router::new()
        .merge(protected)
        .merge(Router::from(api::public_routes()))
        .merge(page::routes())
        .merge(console::routes())
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(limit_body))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn fallback(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found(format!(
            "no endpoint {}; see /api/openapi.json for the list",
            uri.path()
        ))
        .into_response()
    } else {
        page::error_page(StatusCode::NOT_FOUND, "no such page; the inbox is at /")
    }
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} does not take {method}; see /api/openapi.json",
            uri.path()
        ),
    )
    .into_response()
}

/// The running operator side: the HTTP server (when a token is configured) and the
/// webhook dispatcher (when webhooks are configured).
pub struct Operator {
    addr: Option<SocketAddr>,
    public_url: String,
    stop: watch::Sender<bool>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    webhooks: Option<webhooks::Dispatcher>,
    stats: Arc<WebhookStats>,
    /// Where the counters are kept across restarts.
    store: SledStore,
    /// The credentials the server and the links use, for [`Operator::reload_secrets`].
    credentials: Option<CredentialCell>,
    /// Whether the server runs.
    serving: bool,
}

/// Why [`Operator::reload_secrets`] kept the secrets it had.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new configuration has no token.
    #[error("operator.token is not set; the API keeps its token (removing it needs a restart)")]
    NoToken,
    /// The new token is too short to stand up to guessing.
    #[error("operator.token: {0}; the API keeps its token")]
    WeakToken(String),
}

/// What to say when the server listens beyond this machine over plain http: the token,
/// session cookies and approvals would cross the network readable by anyone on the way.
pub fn exposure_warning(listen: SocketAddr, public_url: &str) -> Option<String> {
    if listen.ip().is_loopback() || public_url.starts_with("https://") {
        return None;
    }
    Some(format!(
        "the operator API listens on {listen}, beyond this machine, over plain http: the token \
         and the inbox travel in clear; put a TLS proxy in front and set operator.public_url to \
         its https:// address, or listen on 127.0.0.1"
    ))
}

/// The shortest operator token accepted: the page and the API are as safe as it is long.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Refuses a token too short to stand up to guessing, saying how to make a good one.
pub fn check_token_strength(token: &SecretValue) -> Result<(), String> {
    let chars = token.expose().trim().chars().count();
    if chars >= MIN_TOKEN_CHARS {
        return Ok(());
    }
    Err(format!(
        "the token is {chars} characters; use at least {MIN_TOKEN_CHARS} \
         (make one with `openssl rand -hex 32`)"
    ))
}

impl Operator {
    /// Puts new secrets in force without a restart. Requests from then on are checked
    /// against `settings.token` (and `settings.previous_token`, while it is set); sessions,
    /// forms and one-click links made under either stay valid, and everything made under a
    /// token that is in neither place stops working at once. New links are signed under
    /// `settings.token`. Webhooks are replaced by `settings.webhooks`: each delivery is
    /// signed under its secret and, while set, its `previous_secret`. Turning the API on or
    /// off needs a restart.
    pub fn reload_secrets(&self, settings: &OperatorSettings) -> Result<(), ReloadError> {
        if let Some(cell) = &self.credentials {
            let token = settings.token.clone().ok_or(ReloadError::NoToken)?;
            check_token_strength(&token).map_err(ReloadError::WeakToken)?;
            if let Some(previous) = &settings.previous_token {
                check_token_strength(previous).map_err(ReloadError::WeakToken)?;
            }
            cell.replace(Credentials::new(token, settings.previous_token.clone()));
        }
        if !self.serving && settings.token.is_some() {
            tracing::warn!("operator.token is set but the API is off; restart to turn it on");
        }
        match &self.webhooks {
            Some(dispatcher) => dispatcher.reload(settings.webhooks.clone()),
            None if !settings.webhooks.is_empty() => {
                tracing::warn!("webhooks were off at start; restart to turn them on")
            }
            None => {}
        }
        tracing::info!(
            previous_token = settings.previous_token.is_some(),
            webhooks = settings.webhooks.len(),
            "operator secrets reloaded"
        );
        Ok(())
    }

    /// Starts what `[operator]` configures for `system`: binds `operator.listen` when a
    /// token is set (and logs the URL), or logs that the API is off and how to turn it on.
    ///
    /// `also` is served by the same server outside the bearer check: routes that
    /// authenticate their callers themselves (eBay's signed notifications).
    pub async fn start_from_config(
        system: &System,
        config: &Config,
        also: Option<Router>,
    ) -> anyhow::Result<Operator> {
        let settings = OperatorSettings::from_config(&config.operator)?;
        let listener = match settings.token {
            Some(_) => {
                let listen = &config.operator.listen;
                let listener = TcpListener::bind(listen).await.map_err(|e| {
                    anyhow::anyhow!(
                        "operator API cannot listen on {listen} ({e}); change operator.listen or stop what uses the port"
                    )
                })?;
                Some(listener)
            }
            None => None,
        };
        Operator::serve(OperatorContext::of(system), settings, listener, also).await
    }

    /// Starts the server on `listener` (if given and a token is set) and the webhooks.
    pub async fn start(
        ctx: OperatorContext,
        settings: OperatorSettings,
        listener: Option<TcpListener>,
    ) -> anyhow::Result<Operator> {
        Operator::serve(ctx, settings, listener, None).await
    }

    async fn serve(
        ctx: OperatorContext,
        settings: OperatorSettings,
        listener: Option<TcpListener>,
        also: Option<Router>,
    ) -> anyhow::Result<Operator> {
        let (stop, stopped) = watch::channel(false);
        let stats = Arc::new(WebhookStats::load(&ctx.store));
        let ctx_store = ctx.store.clone();
        let credentials = settings.token.clone().map(|token| {
            CredentialCell::new(Credentials::new(token, settings.previous_token.clone()))
        });
        let link_maker = credentials.clone().map(|credentials| {
            links::Links::new(
                credentials,
                settings.public_url.clone(),
                settings.link_ttl,
                ctx.store.clone(),
                ctx.clock.clone(),
            )
        });
        let dispatcher = if settings.webhooks.is_empty() {
            None
        } else {
            tracing::info!(
                webhooks = settings.webhooks.len(),
                urls = %settings.webhooks.iter().map(|h| webhooks::redact_url(&h.url)).collect::<Vec<_>>().join(", "),
                "webhooks on"
            );
            Some(webhooks::Dispatcher::spawn(
                ctx.clone(),
                settings.webhooks.clone(),
                webhooks::RetryPolicy {
                    retries: settings.webhook_retries,
                    initial: settings.webhook_backoff_initial,
                },
                link_maker.clone(),
                format!("{}/", settings.public_url),
                stats.clone(),
            ))
        };
        let mut addr = None;
        let mut server = None;
        match (credentials.clone(), listener, link_maker) {
            (Some(credentials), Some(listener), Some(links)) => {
                let local = listener.local_addr()?;
                let state = AppState(Arc::new(Inner {
                    sessions: page::Sessions::new(ctx.store.clone()),
                    failures: throttle::Throttle::default(),
                    credentials,
                    links,
                    secure_cookie: settings.public_url.starts_with("https://"),
                    shutdown: stopped.clone(),
                    webhook_count: settings.webhooks.len(),
                    webhook_stats: stats.clone(),
                    ctx,
                }));
                let app = match also {
                    Some(routes) => router(state).merge(routes),
                    None => router(state),
                };
                let stopped = stopped.clone();
                server = Some(tokio::spawn(serve::serve(
                    listener,
                    app,
                    settings.server,
                    stopped,
                )));
                addr = Some(local);
                if let Some(warning) = exposure_warning(local, &settings.public_url) {
                    tracing::warn!(listen = %local, public_url = %settings.public_url, "{warning}");
                    eprintln!("bazaar: warning: {warning}");
                }
                tracing::info!(
                    url = %format!("http://{local}/"),
                    public_url = %settings.public_url,
                    "operator API and inbox are up"
                );
            }
            (None, _, _) => tracing::info!(
                actor = "operator",
                state = "off",
                reason = %OFF_REASON,
                "idle"
            ),
            (Some(_), None, _) | (Some(_), Some(_), None) => {}
        }
        Ok(Operator {
            addr,
            public_url: settings.public_url,
            stop,
            server,
            webhooks: dispatcher,
            stats,
            store: ctx_store,
            serving: addr.is_some(),
            credentials,
        })
    }

    /// Where the server listens, if it runs.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// The configured public URL.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The webhook counters.
    pub fn webhook_stats(&self) -> Arc<WebhookStats> {
        self.stats.clone()
    }

    /// Stops the server gracefully (open event streams end; requests in flight finish,
    /// for at most 10 s), then gives queued webhook deliveries up to 5 s.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(server) = self.server {
            let abort = server.abort_handle();
            match tokio::time::timeout(Duration::from_secs(10), server).await {
                Ok(Ok(Ok(()))) => tracing::info!("operator API stopped"),
                Ok(Ok(Err(error))) => tracing::warn!(%error, "operator API stopped with an error"),
                Ok(Err(_)) => tracing::warn!("operator API task failed"),
                Err(_) => {
                    abort.abort();
                    tracing::warn!("operator API did not stop in 10s; closed it");
                }
            }
        }
        if let Some(webhooks) = self.webhooks {
            webhooks.stop(Duration::from_secs(5)).await;
        }
        self.stats.save(&self.store).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_beyond_loopback_over_plain_http_is_called_out() {
        let check = |listen: &str, url: &str, warned: bool| {
            let listen: SocketAddr = listen.parse().unwrap();
            assert_eq!(
                exposure_warning(listen, url).is_some(),
                warned,
                "{listen} {url}"
            );
        };
        check("127.0.0.1:7878", "http://127.0.0.1:7878", false);
        check("[::1]:7878", "http://localhost:7878", false);
        check("0.0.0.0:7878", "https://bazaar.example.com", false);
        check("0.0.0.0:7878", "http://127.0.0.1:7878", true);
        check("192.168.1.20:7878", "http://192.168.1.20:7878", true);
    }

    #[test]
    fn a_short_token_is_refused_with_how_to_make_one() {
        let short = SecretValue::generated("x".into());
        let reason = check_token_strength(&short).unwrap_err();
        assert!(
            reason.contains("at least 32") && reason.contains("openssl rand"),
            "{reason}"
        );
        assert!(check_token_strength(&SecretValue::generated("a".repeat(32))).is_ok());
    }
}
