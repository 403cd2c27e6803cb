//! Shared by the operator tests: a marketplace that remembers what was done to it, and a
//! running system with the operator server on 127.0.0.1:0.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bazaar_config::{Config, Secret, WebhookConfig};
use bazaar_memory::{
    ActionKind, Currency, IndexConfig, Marketplace, Money, ProductIndex, SimClock, SledStore,
};
use bazaar_policies::{Action, GateMsg, Outcome};
use bazaar_runtime::operator::serve::ServerLimits;
use bazaar_runtime::operator::{Operator, OperatorContext, OperatorSettings};
use bazaar_runtime::system::{System, SystemParts};
use chrono::{DateTime, Utc};

pub mod browser;
pub mod openapi;
pub mod process;

pub use bazaar_policies::testing::MemoryMarket as TestMarket;

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A price revision on eBay by a rule that never ran: with the operator never seen it
/// scores 0.9 x 0.7 = 0.63 and goes to the inbox.
pub fn reprice(sku: &str, price: &str, key: &str) -> Action {
    Action {
        kind: ActionKind::RevisePrice,
        target: sku.into(),
        params: serde_json::json!({ "price": price }),
        proposer: "autopilot".into(),
        rule: "reprice.time_decay".into(),
        value: Some(Money::from_decimal_str(price, Currency::Usd).unwrap()),
        marketplace: Some(Marketplace::Ebay),
        pattern_match: 1.0,
        idempotency_key: key.into(),
        about: None,
    }
}

/// Writes a secret file (mode 0600) and returns the `Secret` naming it.
pub fn secret_file(dir: &Path, name: &str, value: &str) -> Secret {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Secret::File(path)
}

/// A webhook the harness configures.
pub struct Hook {
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
}

/// What to start.
pub struct Options {
    pub hooks: Vec<Hook>,
    pub retries: u32,
    pub backoff_ms: u64,
    pub link_ttl_minutes: u64,
    /// The server's connection limits (the defaults when `None`).
    pub limits: Option<ServerLimits>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            hooks: Vec::new(),
            retries: 3,
            backoff_ms: 50,
            link_ttl_minutes: 60,
            limits: None,
        }
    }
}

pub const TOKEN: &str = "test-operator-token-0123456789abcdef";

/// A system with the test marketplace and the operator server.
pub struct Harness {
    pub system: System,
    pub operator: Operator,
    pub market: TestMarket,
    pub clock: SimClock,
    pub base: String,
    pub config: Config,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

impl Harness {
    pub async fn start(options: Options) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
        let market = TestMarket::default();
        let mut config = Config::load(None, std::iter::empty()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        config.operator.token = Some(secret_file(dir.path(), "token", TOKEN));
        config.operator.public_url = base.clone();
        config.operator.listen = listener.local_addr().unwrap().to_string();
        config.operator.webhook_retries = options.retries;
        config.operator.webhook_backoff_initial_ms = options.backoff_ms;
        config.operator.link_ttl_minutes = options.link_ttl_minutes;
        config.operator.webhooks = options
            .hooks
            .iter()
            .enumerate()
            .map(|(i, hook)| WebhookConfig {
                url: hook.url.clone(),
                secret: secret_file(dir.path(), &format!("hook-{i}"), &hook.secret),
                previous_secret: None,
                events: hook.events.clone(),
            })
            .collect();
        let mut settings = OperatorSettings::from_config(&config.operator).unwrap();
        if let Some(limits) = options.limits {
            settings.server = limits;
        }
        let system = System::start(SystemParts {
            config: Arc::new(config.clone()),
            store: SledStore::temporary().unwrap(),
            index: ProductIndex::in_memory(IndexConfig::default()).unwrap(),
            clock: Arc::new(clock.clone()),
            effector: Arc::new(market.clone()),
            mail: None,
            sources: Vec::new(),
            selling: Default::default(),
        })
        .await
        .unwrap();
        let operator = Operator::start(OperatorContext::of(&system), settings, Some(listener))
            .await
            .unwrap();
        // No connection reuse: tests that send oversized bodies make the server close
        // connections, and a pooled one would fail the next request at random.
        bazaar_mail::install_crypto_provider();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Harness {
            system,
            operator,
            market,
            clock,
            base,
            config,
            http,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn propose(&self, action: Action) -> Outcome {
        self.system
            .addrs
            .gate
            .ask(|reply| GateMsg::Propose(action, reply))
            .await
            .unwrap()
    }

    /// Proposes a reprice that needs approval; returns (action, approval).
    pub async fn pending_reprice(
        &self,
        sku: &str,
        price: &str,
    ) -> (bazaar_memory::ActionId, bazaar_memory::ApprovalId) {
        let key = format!("reprice/{sku}/{price}");
        match self.propose(reprice(sku, price, &key)).await {
            Outcome::PendingApproval { action, approval } => (action, approval),
            other => panic!("expected an approval request, got {other:?}"),
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(TOKEN)
    }

    /// Whether the kill switch is on, as the gate says.
    pub async fn paused(&self) -> bool {
        self.system
            .addrs
            .gate
            .ask(GateMsg::Status)
            .await
            .unwrap()
            .paused
    }

    /// A GET with `token` as the bearer.
    pub fn get_as(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(token)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).bearer_auth(TOKEN)
    }

    pub async fn stop(self) {
        self.operator.stop().await;
        self.system.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

/// Polls `check` every 20 ms until it returns `Some`, or panics after `within`.
pub async fn eventually<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
