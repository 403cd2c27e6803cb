//! Items the operator brings, cross-listed through the operator API on eBay (native, the
//! simulated eBay) and on Craigslist- and Facebook-style channels (assisted): a sale on eBay
//! arrives as a signed notification and takes the item down everywhere else, with the
//! books right; a forged notification changes nothing; a job is cancelled, retried, and
//! an assisted channel's sale reported by the operator withdraws the eBay listing.

#![allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents

use crate::support;

use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::lister::delist_latencies;
use bazaar_config::Config;
use bazaar_memory::{
    ActionRecord, Approval, ApprovalStatus, IndexConfig, InventoryItem, ItemId, Marketplace, Money,
    ProductIndex, SharedClock, SimClock, SledStore, Store, Transaction, TransactionKind,
};
use bazaar_runtime::operator::{Operator, OperatorContext, OperatorSettings};
use bazaar_runtime::simulate::{ebay_selling, notify_sales};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::ebay::{EbayConfig, EbaySim};
use bazaar_strategies::listing::{channel_fee, shipping_minor};
use bazaar_strategies::valuation::ValuationConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::{eventually, secret_file, TOKEN};

struct Setup {
    sim: EbaySim,
    system: System,
    operator: Operator,
    endpoint: String,
    notifications: tokio::task::JoinHandle<()>,
    base: String,
    http: reqwest::Client,
    /// The served OpenAPI document: every answer [`Setup::call`] gets is checked against it.
    document: Value,
    _dir: tempfile::TempDir,
}

/// eBay natively through the sim (its seller consented once, as `bazaar sim` sets it up);
/// every other channel assisted; the operator API on loopback; eBay pushing sales to our
/// notification endpoint.
async fn setup() -> Setup {
    setup_with(Money::usd(10_000_000)).await
}

/// A system whose actions worth `high_value` or more always go to the operator.
async fn setup_with(high_value: Money) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::new(support::at("2026-03-02T15:00:00Z"));
    let shared: SharedClock = Arc::new(clock.clone());
    let (sim, _) = EbaySim::start(EbayConfig::default(), shared.clone())
        .await
        .unwrap();
    let store = SledStore::open(&dir.path().join("store")).unwrap();
    let ebay = ebay_selling(&sim, &store, &shared).await.unwrap();

    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.policy.high_value = high_value;
    config.policy.confidence.first_execution_factor = 1.0;
    config.policy.confidence.operator_away_factor = 1.0;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    config.operator.token = Some(secret_file(dir.path(), "token", TOKEN));
    config.operator.public_url = base.clone();
    config.operator.listen = listener.local_addr().unwrap().to_string();
    let operator_settings = OperatorSettings::from_config(&config.operator).unwrap();
    let system = System::start(SystemParts::with_selling(
        Arc::new(config),
        store,
        ProductIndex::in_memory(IndexConfig::default()).unwrap(),
        shared,
        None,
        Some(ebay.effector),
        ebay.selling,
    ))
    .await
    .unwrap();
    let operator = Operator::start(
        OperatorContext::of(&system),
        operator_settings,
        Some(listener),
    )
    .await
    .unwrap();
    let (first, first_server) = notify_sales(&system, ebay.orders.clone()).await.unwrap();
    // A restarted process serves the endpoint on a new address (with a new verification
    // token): subscribing again points the subscription there instead of creating another,
    // so sales are pushed to the process that is running (checked below, at the sale).
    let (endpoint, notifications) = notify_sales(&system, ebay.orders.clone()).await.unwrap();
    assert_ne!(first, endpoint);
    first_server.abort();
    bazaar_mail::install_crypto_provider();
    let http = reqwest::Client::new();
    let document = http
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Setup {
        sim,
        system,
        operator,
        endpoint,
        notifications,
        base,
        http,
        document,
        _dir: dir,
    }
}

impl Setup {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.json().await.unwrap_or(Value::Null);
        support::openapi::assert_conforms(
            &self.document,
            method.as_str(),
            path,
            status.as_u16(),
            &body,
        );
        (status, body)
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Asks for one channel of `item`'s listing job to be published again.
    async fn retry(&self, item: ItemId, channel: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/api/v1/items/{item}/listings/{channel}/retry"),
            json!({}),
        )
        .await
    }

    async fn add_item(&self, body: Value) -> ItemId {
        let (status, item) = self.post("/api/v1/items", body).await;
        assert_eq!(status, StatusCode::CREATED, "{item}");
        item["id"].as_str().unwrap().parse().unwrap()
    }

    fn jobs(&self, item: ItemId) -> Vec<(String, String)> {
        let item = self.item(item);
        bazaar_agents::lister::channel_jobs(
            &self.system.store,
            &item,
            &self.system.selling_channels,
        )
        .unwrap()
        .into_iter()
        .map(|j| (j.marketplace.name().to_string(), j.status))
        .collect()
    }

    fn item(&self, id: ItemId) -> InventoryItem {
        self.system
            .store
            .get::<InventoryItem>(&id)
            .unwrap()
            .unwrap()
    }

    /// Waits until the item's job is exactly `want` (channel, status), in any order.
    async fn wait_jobs(&self, item: ItemId, want: &[(&str, &str)]) {
        let mut want: Vec<(String, String)> = want
            .iter()
            .map(|(c, s)| (c.to_string(), s.to_string()))
            .collect();
        want.sort();
        let mut last = Vec::new();
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                last = self.jobs(item);
                last.sort();
                if last == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "job of {item}: want {want:?}, have {last:?}");
    }

    /// Lists `item` on Craigslist beside its eBay listing and confirms it there, as the
    /// operator would; waits until both are live.
    async fn live_on_craigslist_too(&self, item: ItemId) {
        self.post(
            &format!("/api/v1/items/{item}/listings"),
            json!({"channels": ["craigslist"]}),
        )
        .await;
        self.wait_jobs(
            item,
            &[("ebay", "live"), ("craigslist", "needs_manual_action")],
        )
        .await;
        self.post(
            &format!("/api/v1/items/{item}/listings/craigslist/confirm"),
            json!({"url": "https://portland.craigslist.org/ele/d/qc35/1.html"}),
        )
        .await;
        self.wait_jobs(item, &[("ebay", "live"), ("craigslist", "live")])
            .await;
        // The inbox task that asked for it closes itself.
        eventually(
            "the list-by-hand task closed",
            Duration::from_secs(10),
            || {
                let asked = self.tasks("on craigslist for");
                (!asked.is_empty()
                    && asked.iter().all(|t| {
                        t.lifecycle.status == ApprovalStatus::Approved
                            && t.decided_by.as_deref() == Some("bazaar")
                    }))
                .then_some(())
            },
        )
        .await;
    }

    /// Waits for the one approval pending in the inbox for an action; returns its id.
    async fn wait_approval(&self) -> String {
        let found = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let pending: Vec<Approval> = self
                    .system
                    .store
                    .all::<Approval>()
                    .unwrap()
                    .into_iter()
                    .filter(|a| a.action.is_some() && a.lifecycle.status.to_string() == "pending")
                    .collect();
                if let [one] = pending.as_slice() {
                    return one.id.to_string();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        found.expect("an approval pending in the inbox")
    }

    fn tasks(&self, containing: &str) -> Vec<Approval> {
        self.system
            .store
            .all::<Approval>()
            .unwrap()
            .into_iter()
            .filter(|a| a.action.is_none() && a.summary.contains(containing))
            .collect()
    }

    fn books(&self, item: ItemId, kind: TransactionKind) -> Vec<Money> {
        self.system
            .store
            .find(Transaction::BY_ITEM, &item.to_bytes())
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.amount)
            .collect()
    }

    async fn stop(self) {
        self.notifications.abort();
        self.operator.stop().await;
        self.system.shutdown(Duration::from_secs(5)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_brought_in_is_listed_on_three_channels_sold_on_one_and_withdrawn_from_the_others()
{
    let s = setup().await;

    // A bad request names every problem and adds nothing.
    let (status, body) = s
        .post(
            "/api/v1/items",
            json!({"title": " ", "condition": "mint", "cost": "-5", "photos": ["trek.jpg"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let message = body["error"].as_str().unwrap();
    for part in [
        "title is empty",
        "condition \"mint\"",
        "cost \"-5\" is negative",
        "photo \"trek.jpg\"",
    ] {
        assert!(message.contains(part), "{part} in {message}");
    }
    let (status, body) = s
        .post(
            "/api/v1/items",
            json!({"title": "x", "condition": "good", "cost": "1", "colour": "red"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(s.system.store.all::<InventoryItem>().unwrap().is_empty());

    let title =
        "Trek FX 3 Disc hybrid bike, 54cm, carbon fork, hydraulic disc brakes, barely ridden";
    let item = s
        .add_item(json!({
            "title": title,
            "condition": "like_new",
            "cost": "$40",
            "photos": ["https://img.example/trek-1.jpg", "https://img.example/trek-2.jpg"],
            "floor": "60",
            "price": "89.99",
            "category": "bike",
            "attributes": {"brand": "Trek", "zip": "97201", "phone": "503-555-0100"},
        }))
        .await;
    assert_eq!(
        s.books(item, TransactionKind::Purchase),
        [Money::usd(40_00)]
    );
    // Brought in, not listed until asked.
    assert!(s.jobs(item).is_empty());

    let (status, body) = s
        .post(
            &format!("/api/v1/items/{item}/listings"),
            json!({"channels": ["ebay", "craigslist", "facebook"]}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    s.wait_jobs(
        item,
        &[
            ("ebay", "live"),
            ("craigslist", "needs_manual_action"),
            ("facebook", "needs_manual_action"),
        ],
    )
    .await;
    let on_ebay = s.sim.agent_listings();
    assert_eq!(on_ebay.len(), 1);
    assert_eq!(on_ebay[0].price, Money::usd(89_99));
    // eBay's 80 characters, cut at a word.
    let listed_title = &on_ebay[0].title;
    assert!(
        listed_title.chars().count() <= 80 && title.starts_with(listed_title.as_str()),
        "{listed_title}"
    );
    // The copy-paste tasks, with each channel's title limit.
    let craigslist = s.tasks("on craigslist");
    assert_eq!(craigslist.len(), 1, "{craigslist:?}");
    let first_line = craigslist[0]
        .reason
        .lines()
        .find(|l| l.starts_with("Title:"));
    assert!(
        first_line.is_some_and(|l| l.chars().count() <= "Title: ".len() + 70),
        "{}",
        craigslist[0].reason
    );
    assert_eq!(s.tasks("on facebook").len(), 1);

    // A confirmation needs a real URL; then both assisted channels are live.
    let (status, _) = s
        .post(
            &format!("/api/v1/items/{item}/listings/craigslist/confirm"),
            json!({"url": "not a url"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (channel, url) in [
        (
            "craigslist",
            "https://portland.craigslist.org/bik/d/trek-fx3/7712.html",
        ),
        ("facebook", "https://www.facebook.com/marketplace/item/5512"),
    ] {
        let (status, body) = s
            .post(
                &format!("/api/v1/items/{item}/listings/{channel}/confirm"),
                json!({"url": url}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    s.wait_jobs(
        item,
        &[
            ("ebay", "live"),
            ("craigslist", "live"),
            ("facebook", "live"),
        ],
    )
    .await;

    // A forged notification is refused and changes nothing.
    let forged = s
        .http
        .post(&s.endpoint)
        .header("x-ebay-signature", "bm90IGEgc2lnbmF0dXJl")
        .body(r#"{"metadata":{"topic":"ORDER_CONFIRMATION"},"notification":{}}"#)
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error(), "{}", forged.status());

    // A buyer pays on eBay: the signed notification alone (no poll) takes it down elsewhere.
    let purchase = s
        .sim
        .buy(&on_ebay[0].listing_id, "buyer_one")
        .await
        .unwrap();
    // One subscription: one delivery, acknowledged.
    assert!(
        purchase.deliveries.len() == 1 && purchase.deliveries[0].delivered(),
        "{:?}",
        purchase.deliveries
    );
    s.wait_jobs(
        item,
        &[
            ("ebay", "sold"),
            ("craigslist", "withdrawn"),
            ("facebook", "withdrawn"),
        ],
    )
    .await;
    assert_eq!(s.item(item).lifecycle.status.to_string(), "sold");
    let urgent = s.tasks("URGENT: take");
    assert_eq!(urgent.len(), 2, "{urgent:?}");
    assert!(urgent
        .iter()
        .all(|t| t.lifecycle.status == ApprovalStatus::Pending));
    assert!(urgent.iter().any(|t| t.summary.contains("craigslist.org")));
    let latencies = eventually("the delist latency", Duration::from_secs(5), || {
        let l = delist_latencies(&s.system.store).unwrap();
        (!l.is_empty()).then_some(l)
    })
    .await;
    assert_eq!(latencies.len(), 1, "{latencies:?}");

    // The books: the sale, eBay's fee on it and the postage of a bike.
    let config = ValuationConfig::default();
    assert_eq!(s.books(item, TransactionKind::Sale), [purchase.total]);
    assert_eq!(
        s.books(item, TransactionKind::Fee),
        [channel_fee(&config, Marketplace::Ebay, purchase.total)]
    );
    let postage = shipping_minor(&config, Marketplace::Ebay, "bike");
    let booked_postage = s.books(item, TransactionKind::Shipping);
    assert_eq!(booked_postage.iter().map(|m| m.minor).sum::<i64>(), postage);
    assert!(s.sim.oversells().is_empty());

    // A sold item's job cannot be restarted.
    let (status, body) = s
        .post(
            &format!("/api/v1/items/{item}/listings"),
            json!({"channels": ["mercari"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_job_is_cancelled_retried_and_an_assisted_sale_withdraws_the_ebay_listing() {
    let s = setup().await;
    let item = s
        .add_item(json!({
            "title": "Bose QuietComfort 35 II headphones",
            "condition": "good",
            "cost": "55.00",
            "photos": ["https://img.example/qc35.jpg"],
            "category": "electronics",
            "attributes": {"zip": "97201", "phone": "503-555-0100"},
        }))
        .await;
    let (status, body) = s
        .post(
            &format!("/api/v1/items/{item}/listings"),
            json!({"channels": ["ebay", "teleshop"]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("teleshop"),
        "{body}"
    );
    s.post(
        &format!("/api/v1/items/{item}/listings"),
        json!({"channels": ["ebay", "craigslist"]}),
    )
    .await;
    s.wait_jobs(
        item,
        &[("ebay", "live"), ("craigslist", "needs_manual_action")],
    )
    .await;
    // Without an operator price, the price keeps the margin over cost, fees and postage.
    let price = s.sim.agent_listings()[0].price;
    assert!(price > Money::usd(55_00), "{price}");

    // Cancel: eBay withdrawn through the gate, the assisted channel dropped, back in stock.
    let (status, _) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/items/{item}/listings"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    s.wait_jobs(item, &[("ebay", "withdrawn"), ("craigslist", "withdrawn")])
        .await;
    assert!(
        s.sim.agent_listings().is_empty(),
        "{:?}",
        s.sim.agent_listings()
    );
    assert_eq!(s.item(item).lifecycle.status.to_string(), "in_stock");

    // Only a failed or cancelled channel is retried; eBay comes back live.
    let (status, _) = s.retry(item, "facebook").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = s.retry(item, "ebay").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    s.wait_jobs(item, &[("ebay", "live"), ("craigslist", "withdrawn")])
        .await;
    assert_eq!(s.sim.agent_listings().len(), 1);
    let (status, _) = s.retry(item, "ebay").await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a live channel is not retried"
    );

    // Listed on Craigslist again, confirmed, and sold there: eBay comes down.
    s.live_on_craigslist_too(item).await;
    let (status, body) = s
        .post(
            &format!("/api/v1/items/{item}/listings/craigslist/sold"),
            json!({"order": "cash, picked up", "total": "85"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    s.wait_jobs(item, &[("ebay", "withdrawn"), ("craigslist", "sold")])
        .await;
    assert!(s.sim.agent_listings().is_empty());
    assert_eq!(s.books(item, TransactionKind::Sale), [Money::usd(85_00)]);
    // The sale is announced once (webhooks, the page) and is in the audit log.
    let announced: Vec<bazaar_memory::AuditEntry> = s
        .system
        .store
        .all::<bazaar_memory::AuditEntry>()
        .unwrap()
        .into_iter()
        .filter(|e| e.event == "sale_detected")
        .collect();
    assert_eq!(announced.len(), 1, "{announced:?}");
    assert_eq!(announced[0].detail["item"], item.to_string());
    assert_eq!(announced[0].detail["marketplace"], "craigslist");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_the_operator_rejected_waits_until_they_retry_it() {
    // Every publication goes to the operator.
    let s = setup_with(Money::usd(1)).await;
    let item = s
        .add_item(json!({
            "title": "Bose QuietComfort 35 II headphones",
            "condition": "good",
            "cost": "55.00",
            "photos": ["https://img.example/qc35.jpg"],
            "category": "electronics",
        }))
        .await;
    s.post(
        &format!("/api/v1/items/{item}/listings"),
        json!({"channels": ["ebay"]}),
    )
    .await;
    let approval = s.wait_approval().await;
    let (status, body) = s
        .post(
            &format!("/api/approvals/{approval}/reject"),
            json!({"reason": "not these, not now"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s.wait_jobs(item, &[("ebay", "rejected")]).await;
    assert!(s.sim.agent_listings().is_empty());
    assert_eq!(s.item(item).lifecycle.status.to_string(), "in_stock");

    // The operator changes their mind: a new attempt, asked again, approved, live.
    let (status, body) = s.retry(item, "ebay").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let again = s.wait_approval().await;
    assert_ne!(again, approval, "a new approval for the new attempt");
    let (status, body) = s
        .post(&format!("/api/approvals/{again}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The gate executed it; the Lister records it live on its next pass over the items
    // (the Inventory's periodic resume; the clock here does not move).
    let _ = s
        .system
        .addrs
        .lister
        .send(bazaar_agents::lister::ListerMsg::ListItem(item));
    s.wait_jobs(item, &[("ebay", "live")]).await;
    assert_eq!(s.sim.agent_listings().len(), 1);
    s.stop().await;
}

/// Issue 23 (1): after a sale, undoing the withdrawal the sale made put the sold item live
/// again on eBay, where nothing in Bazaar could take it down. Every way in is tried here:
/// the API, the CLI, the inbox page and a one-click link approving an older price change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sold_item_stays_down_whatever_undo_is_tried() {
    let s = setup_with(Money::usd(500_00)).await;
    let item = s
        .add_item(json!({
            "title": "Bose QuietComfort 35 II headphones",
            "condition": "good",
            "cost": "55.00",
            "photos": ["https://img.example/qc35.jpg"],
            "category": "electronics",
            "attributes": {"zip": "97201"},
        }))
        .await;
    s.post(
        &format!("/api/v1/items/{item}/listings"),
        json!({"channels": ["ebay"]}),
    )
    .await;
    s.wait_jobs(item, &[("ebay", "live")]).await;
    s.live_on_craigslist_too(item).await;
    // A price change waiting in the inbox from before the sale (high value: it asks).
    let sku = s.sim.agent_listings()[0].sku.clone();
    let waiting = s
        .system
        .addrs
        .gate
        .ask(|reply| {
            bazaar_policies::GateMsg::Propose(
                bazaar_policies::Action {
                    kind: bazaar_memory::ActionKind::RevisePrice,
                    target: sku.clone(),
                    params: json!({ "price": "600.00" }),
                    proposer: "operator".into(),
                    rule: "test.reprice".into(),
                    value: Some(Money::usd(600_00)),
                    marketplace: Some(Marketplace::Ebay),
                    pattern_match: 1.0,
                    idempotency_key: "before-the-sale".into(),
                    about: None,
                },
                reply,
            )
        })
        .await
        .unwrap();
    let bazaar_policies::Outcome::PendingApproval { approval, .. } = waiting else {
        panic!("a $600 price change asks: {waiting:?}");
    };

    let (status, body) = s
        .post(
            &format!("/api/v1/items/{item}/listings/craigslist/sold"),
            json!({"order": "cash", "total": "85"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    s.wait_jobs(item, &[("ebay", "withdrawn"), ("craigslist", "sold")])
        .await;
    assert!(s.sim.agent_listings().is_empty());
    let withdrawal = s
        .system
        .store
        .all::<ActionRecord>()
        .unwrap()
        .into_iter()
        .find(|a| a.kind == bazaar_memory::ActionKind::WithdrawListing && a.undo.is_some())
        .expect("the sale's withdrawal, with its undo recipe");
    let id = withdrawal.id.to_string();

    // The API.
    let (status, body) = s.post(&format!("/api/actions/{id}/undo"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("sold"), "{body}");
    let (_, view) = s
        .call(reqwest::Method::GET, &format!("/api/actions/{id}"), None)
        .await;
    assert_eq!(view["can_undo"], Value::Null, "{view}");

    // The CLI.
    let config = s._dir.path().join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "[operator]\ntoken = {{ file = \"{}\" }}\n",
            s._dir.path().join("token").display()
        ),
    )
    .unwrap();
    let cli = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .args([
            "--config",
            config.to_str().unwrap(),
            "undo",
            &id,
            "--api",
            &s.base,
        ])
        .output()
        .unwrap();
    assert!(!cli.status.success());
    let said = String::from_utf8_lossy(&cli.stderr);
    assert!(said.contains("sold"), "{said}");

    // The inbox page: no undo button, and the form posted by hand is refused.
    bazaar_mail::install_crypto_provider();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .post(format!("{}/login", s.base))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let inbox = s
        .http
        .get(format!("{}/", s.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !inbox.contains(&format!("/inbox/actions/{id}/undo")),
        "undo offered"
    );
    let marker = "name=\"csrf\" value=\"";
    let start = inbox.find(marker).unwrap() + marker.len();
    let csrf = &inbox[start..start + inbox[start..].find('"').unwrap()];
    let form = s
        .http
        .post(format!("{}/inbox/actions/{id}/undo", s.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::CONFLICT);

    // A one-click link approving the price change that waited from before the sale.
    let link = bazaar_policies::signing::sign_link(
        &bazaar_policies::signing::derive_key(TOKEN.as_bytes(), "link"),
        &bazaar_policies::signing::LinkClaims {
            approval: approval.to_string(),
            decision: bazaar_policies::signing::Decision::Approve,
            expires: 4_000_000_000,
            nonce: "0ne".into(),
        },
    );
    let clicked = s
        .http
        .post(format!("{}/a/{link}", s.base))
        .send()
        .await
        .unwrap();
    let page = clicked.text().await.unwrap();
    assert!(page.contains("sold"), "{page}");

    // Down everywhere, still.
    assert!(
        s.sim.agent_listings().is_empty(),
        "{:?}",
        s.sim.agent_listings()
    );
    s.wait_jobs(item, &[("ebay", "withdrawn"), ("craigslist", "sold")])
        .await;
    s.stop().await;
}

/// Issue 23 (4): 5,200 forged notifications with random key ids made the daemon fetch a
/// key for each, spent the day's eBay budget in 2 s, and a real publish then failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_notifications_spend_no_selling_call() {
    use base64::Engine as _;
    let s = setup().await;
    let used = |key: &str| {
        s.system
            .store
            .get_meta::<Value>(key)
            .unwrap()
            .map(|record| record["used"].as_u64().unwrap())
            .unwrap_or(0)
    };
    let selling_before = used(bazaar_memory::meta_keys::EBAY_SELL_CALLS);
    let body = r#"{"metadata":{"topic":"ORDER_CONFIRMATION"},"notification":{"data":{}}}"#;
    let mut refused = 0;
    // Twenty at a time: one client's connections are capped (64) as well.
    for batch in 0..250 {
        let sends = (0..20).map(|i| {
            let header = base64::engine::general_purpose::STANDARD.encode(
                json!({
                    "alg": "ecdsa",
                    "kid": format!("forged-{batch}-{i}"),
                    "signature": "MEUCIQ==",
                    "digest": "SHA1",
                })
                .to_string(),
            );
            s.http
                .post(&s.endpoint)
                .header("x-ebay-signature", header)
                .body(body)
                .send()
        });
        for answer in futures::future::join_all(sends).await {
            let status = answer.unwrap().status();
            assert!(status.is_client_error(), "{status}");
            refused += 1;
        }
    }
    assert_eq!(refused, 5_000);
    assert_eq!(
        used(bazaar_memory::meta_keys::EBAY_SELL_CALLS),
        selling_before,
        "forged notifications spent selling calls"
    );
    let key_fetches = used(bazaar_memory::meta_keys::EBAY_NOTIFICATION_KEY_CALLS);
    assert!(
        key_fetches <= bazaar_agents::connectors::ebay_sell::KEY_FETCHES_PER_DAY,
        "{key_fetches} key fetches"
    );
    s.stop().await;
}

/// Issue 27: an item that cannot be listed for want of a field is fixed by editing it — the
/// listing goes out and the inbox task closes itself; a new price reaches the live listing
/// through the gate; a bad edit changes nothing and names every problem.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_an_item_lists_what_waited_for_a_field_and_moves_the_live_price() {
    let s = setup().await;
    // Bought from a posting that never said what condition it is in: eBay needs one.
    let item = bought_without_condition(&s, "Sony WH-1000XM4 headphones").await;
    let waiting = s.tasks("fill in condition");
    assert_eq!(waiting.len(), 1, "one task asks for the condition");
    let (status, body) = s.retry(item, "ebay").await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "a waiting channel can be retried: {body}"
    );

    let path = format!("/api/v1/items/{item}");
    let patch = |body: Value| s.call(reqwest::Method::PATCH, &path, Some(body));
    let (status, body) = patch(json!({"condition": "mint", "price": "1", "floor": "100"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("condition \"mint\"") && error.contains("below the floor"),
        "{error}"
    );
    assert_eq!(
        s.item(item).selling.floor,
        None,
        "a refused edit changes nothing"
    );

    let (status, body) = patch(json!({
        "condition": "like_new",
        "notes": "box in the closet",
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["condition"], "like_new");
    assert_eq!(body["attributes"]["notes"], "box in the closet");
    s.wait_jobs(item, &[("ebay", "live")]).await;
    let task = s
        .system
        .store
        .get::<Approval>(&waiting[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(
        task.lifecycle.status,
        ApprovalStatus::Approved,
        "the task closed itself"
    );
    assert_eq!(task.decided_by.as_deref(), Some("bazaar"));

    let (status, body) = patch(json!({"price": "249.00"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Over $200 the gate asks first, in words the operator acts on.
    let approval = s.wait_approval().await;
    let asked = s
        .system
        .store
        .get::<Approval>(&approval.parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(
        asked
            .summary
            .starts_with("change the price of \"Sony WH-1000XM4 headphones\" on ebay from $")
            && asked.summary.contains(" to $249.00 as the operator set it"),
        "{}",
        asked.summary
    );
    let (status, body) = s
        .post(&format!("/api/approvals/{approval}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually(
        "the live price follows the edit",
        Duration::from_secs(20),
        || {
            s.sim
                .agent_listings()
                .first()
                .filter(|l| l.price == Money::usd(249_00))
                .map(|_| ())
        },
    )
    .await;
    // The Autopilot's next look records the price the approved action carried.
    s.system
        .addrs
        .autopilot
        .send(bazaar_agents::autopilot::AutopilotMsg::Tick)
        .unwrap();
    eventually(
        "the listing records its new price",
        Duration::from_secs(20),
        || {
            let listing = s
                .system
                .store
                .find::<bazaar_memory::ChannelListing>(
                    bazaar_memory::ChannelListing::BY_ITEM,
                    &item.to_bytes(),
                )
                .unwrap()
                .pop()?;
            (listing.price == Money::usd(249_00)).then_some(())
        },
    )
    .await;
    s.stop().await;
}

/// A negotiation of two emails over a Craigslist listing, recorded as the Negotiator
/// would: the console shows it in the pipeline and as a thread.
fn record_negotiation(store: &SledStore) -> String {
    let records = [
        (
            "listing",
            r#"{"id":"01JD0000000000000000000101","marketplace":"craigslist","external_id":"7801","url":"http://127.0.0.1/p/7801","title":"Trek FX 3 hybrid bike","description":"rides well","price":{"minor":45000,"currency":"USD"},"condition":"good","category":"bike","seller":{"external_id":"s-7801","display_name":"Dana"},"location":null,"images":[],"listed_at":null,"first_seen":"2026-03-02T09:00:00Z","last_seen":"2026-03-02T09:00:00Z","raw":""}"#,
        ),
        (
            "seller",
            r#"{"id":"01JD0000000000000000000102","marketplace":"craigslist","external_id":"s-7801","display_name":"Dana","contact":"dana@reply.example","first_seen":"2026-03-02T09:00:00Z","history":[]}"#,
        ),
        (
            "opportunity",
            r#"{"id":"01JD0000000000000000000103","listing":"01JD0000000000000000000101","lifecycle":{"status":"pursuing","history":[{"from":"discovered","to":"analyzed","at":"2026-03-02T09:01:00Z","reason":"value $610.00 from 4 comparables"},{"from":"analyzed","to":"pursuing","at":"2026-03-02T09:01:00Z","reason":"asking $450.00 under ceiling $380.00"}]},"valuation":null,"created_at":"2026-03-02T09:01:00Z"}"#,
        ),
        (
            "negotiation",
            r#"{"id":"01JD0000000000000000000104","opportunity":"01JD0000000000000000000103","seller":"01JD0000000000000000000102","ceiling":{"minor":38000,"currency":"USD"},"lifecycle":{"status":"open","history":[]},"rounds":[{"at":"2026-03-02T09:02:00Z","from":"us","message_id":"<a@x>","text":"Hi Dana, would you take $320 for the Trek?","price":{"minor":32000,"currency":"USD"}},{"at":"2026-03-02T10:15:00Z","from":"seller","message_id":"<b@x>","text":"I could do $400, it was serviced last month.","price":{"minor":40000,"currency":"USD"}}],"agreed_price":null,"seller_address":"dana@reply.example","subject":"Trek FX 3","strategy_state":null,"wake_at":null}"#,
        ),
    ];
    fn put<R: bazaar_memory::Record>(store: &SledStore, json: &str) {
        store
            .put(&serde_json::from_str::<R>(json).unwrap())
            .unwrap();
    }
    put::<bazaar_memory::MarketListing>(store, records[0].1);
    put::<bazaar_memory::Seller>(store, records[1].1);
    put::<bazaar_memory::Opportunity>(store, records[2].1);
    put::<bazaar_memory::Negotiation>(store, records[3].1);
    "01JD0000000000000000000104".to_string()
}

/// Puts a bought item whose condition nobody knows in the store and starts its eBay job,
/// which then waits for the condition; returns it.
async fn bought_without_condition(s: &Setup, title: &str) -> ItemId {
    let now = s.system.clock.now();
    let item = ItemId::new_at(now);
    s.system
        .store
        .put(&InventoryItem {
            id: item,
            opportunity: None,
            title: title.into(),
            description: "as found".into(),
            category: "electronics".into(),
            condition: bazaar_memory::Condition::Unknown,
            cost_basis: Money::usd(90_00),
            images: vec!["https://img.example/item.jpg".into()],
            attributes: Default::default(),
            lifecycle: bazaar_memory::Lifecycle::new(bazaar_memory::ItemStatus::InStock),
            acquired_at: now,
            source: bazaar_memory::ItemSource::Bought,
            selling: Default::default(),
        })
        .unwrap();
    s.post(
        &format!("/api/v1/items/{item}/listings"),
        json!({"channels": ["ebay"]}),
    )
    .await;
    s.wait_jobs(item, &[("ebay", "needs_manual_action")]).await;
    item
}

/// Issue 27: the console in real headless Chromium — the pipeline's counts, a negotiation's
/// thread, an item waiting for its condition retried and then edited until it is live, and
/// the price change that edit asks for approved from the inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_chromium_shows_the_pipeline_a_thread_and_fixes_an_item() {
    use support::browser::{launch, log_in_page, wait_for};
    let s = setup().await;
    let negotiation = record_negotiation(&s.system.store);
    let item = bought_without_condition(&s, "Sony WH-1000XM4 headphones").await;
    // The same through the API (each answer checked against the OpenAPI document).
    let setup = &s;
    let get = |path: String| async move { setup.call(reqwest::Method::GET, &path, None).await };
    let (_, pipeline) = get("/api/v1/pipeline".into()).await;
    assert_eq!(
        (
            pipeline["found"].as_u64(),
            pipeline["negotiating"].as_u64(),
            pipeline["bought"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{pipeline}"
    );
    let (_, found) = get("/api/v1/opportunities?status=pursuing".into()).await;
    assert_eq!(
        found["opportunities"][0]["negotiation"],
        negotiation.as_str(),
        "{found}"
    );
    assert!(found["opportunities"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("under ceiling"));
    let (_, thread) = get(format!("/api/v1/negotiations/{negotiation}")).await;
    assert_eq!(thread["rounds"][1]["from"], "seller", "{thread}");
    assert_eq!(thread["rounds"][1]["price"]["minor"], 40_000);
    let (_, books) = get("/api/v1/pnl".into()).await;
    assert_eq!(books["currency"], "USD");
    let Some(chromium) = launch().await else {
        s.stop().await;
        return;
    };
    let wait = Duration::from_secs(15);
    let page = chromium
        .browser
        .new_page(format!("{}/console", s.base))
        .await
        .unwrap();
    log_in_page(&page, TOKEN).await;
    // Login lands on the inbox; the console is one link away.
    wait_for(&page, "nav a[href=\"/console\"]", wait).await[0]
        .click()
        .await
        .unwrap();
    let count = |stage: &'static str| {
        let page = &page;
        async move {
            wait_for(page, &format!("#stage-{stage} .count"), wait).await[0]
                .inner_text()
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(count("found").await, "1");
    assert_eq!(count("pursued").await, "1");
    assert_eq!(count("negotiating").await, "1");
    assert_eq!(count("bought").await, "1");
    let row = wait_for(&page, "#opportunities", wait).await[0]
        .inner_text()
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        row.contains("Trek FX 3 hybrid bike") && row.contains("under ceiling"),
        "{row}"
    );

    // The thread, both emails.
    wait_for(
        &page,
        &format!("a[href=\"/console/negotiations/{negotiation}\"]"),
        wait,
    )
    .await[0]
        .click()
        .await
        .unwrap();
    let rounds = wait_for(&page, "article.round", wait).await;
    assert_eq!(rounds.len(), 2);
    let seller = rounds[1].inner_text().await.unwrap().unwrap_or_default();
    assert!(seller.contains("I could do $400"), "{seller}");

    // The item waits for its condition: Retry is offered (and changes nothing yet), then
    // the condition is chosen and saved, and eBay has it.
    page.goto(format!("{}/console/items", s.base))
        .await
        .unwrap();
    let job = format!("#job-{item}-ebay");
    let status = wait_for(&page, &format!("{job} td.status"), wait).await[0]
        .inner_text()
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(status, "needs_manual_action");
    wait_for(&page, &format!("{job} button.retry"), wait).await[0]
        .click()
        .await
        .unwrap();
    // The retry's answer sends the browser back to the item.
    let deadline = tokio::time::Instant::now() + wait;
    while !page
        .url()
        .await
        .unwrap()
        .is_some_and(|url| url.ends_with(&format!("#item-{item}")))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retry never answered"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    s.wait_jobs(item, &[("ebay", "needs_manual_action")]).await;
    wait_for(&page, &format!("#item-{item} form.edit"), wait).await;
    page.evaluate(format!(
        "document.querySelector('#item-{item} select[name=condition]').value = 'like_new'"
    ))
    .await
    .unwrap();
    let price = wait_for(&page, &format!("#item-{item} input[name=price]"), wait).await;
    price[0].click().await.unwrap();
    price[0].type_str("249").await.unwrap();
    wait_for(&page, &format!("#item-{item} form.edit button"), wait).await[0]
        .click()
        .await
        .unwrap();
    // At $249 the gate asks before publishing, in words; approved from the inbox.
    s.wait_jobs(item, &[("ebay", "awaiting_approval")]).await;
    assert_eq!(s.item(item).condition, bazaar_memory::Condition::LikeNew);
    let approval = s.wait_approval().await;
    page.goto(format!("{}/", s.base)).await.unwrap();
    let card = format!("article[data-approval-id=\"{approval}\"]");
    let text = wait_for(&page, &card, wait).await[0]
        .inner_text()
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        text.contains("list \"Sony WH-1000XM4 headphones\"") && text.contains("on ebay at $249.00"),
        "{text}"
    );
    wait_for(&page, &format!("{card} button.approve"), wait).await[0]
        .click()
        .await
        .unwrap();
    // The Lister records it live on its next pass (the clock here does not move).
    eventually("the approved publication ran", wait, || {
        (s.sim.agent_listings().len() == 1).then_some(())
    })
    .await;
    let _ = s
        .system
        .addrs
        .lister
        .send(bazaar_agents::lister::ListerMsg::ListItem(item));
    s.wait_jobs(item, &[("ebay", "live")]).await;
    eventually("ebay has it at the price set", wait, || {
        s.sim
            .agent_listings()
            .first()
            .filter(|l| l.price == Money::usd(249_00))
            .map(|_| ())
    })
    .await;
    chromium.close().await;
    s.stop().await;
}
