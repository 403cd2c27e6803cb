//! The eBay selling connector (`EbaySell`) and the order side (`EbayOrders`) against the
//! simulated eBay (`bazaar_sim::ebay::EbaySim`) on 127.0.0.1: publish, reprice, withdraw and
//! relist through the gate's `Effector`, lookups for crash reconciliation, the revision
//! limit, the seller's user token, and sales arriving as signed notifications and by polling.

use crate::connectors_common;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bazaar_agents::connectors::ebay_orders::{
    challenge_response, parse_order_notification, parse_signature_header, verify_notification,
    verify_signature, EbayOrders, NotificationError, OrderEvent, PublicKey, PublicKeyFetcher,
};
use bazaar_agents::connectors::ebay_sell::{
    exchange_authorization_code, EbaySell, EbaySellClient, EbaySellSettings, ListingPolicyIds,
    ShipParams,
};
use bazaar_agents::connectors::{EbayBrowse, EbaySettings, SourceError};
use bazaar_memory::meta_keys::EBAY_SELL_CALLS;
use bazaar_memory::{
    ActionId, ActionKind, ActionRecord, ActionStatus, Currency, Lifecycle, Marketplace, Money,
    SharedClock, SimClock, SledStore, Store,
};
use bazaar_policies::{Effect, EffectError, Effector, Lookup};
use bazaar_sim::ebay::{scopes, Api, EbayConfig, EbaySim};
use connectors_common::{drive, quick, start_time, FaultServer, Reply};
use serde_json::{json, Value};

const VERIFICATION_TOKEN: &str = "bazaar-verification-token-0123456789abcdef";
const SKU: &str = "BZ-0001";

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::Usd)
}

struct World {
    sim: EbaySim,
    /// The sim's clock.
    sim_clock: SimClock,
    /// The agent's clock (the same one unless a test wants them apart).
    clock: SimClock,
    store: SledStore,
    client: Arc<EbaySellClient>,
    sell: EbaySell,
    browse: EbayBrowse,
    /// A user access token from the consent, for the test's own setup calls.
    user_access: String,
}

async fn world_with(config: EbayConfig, separate_clocks: bool, refresh: Option<&str>) -> World {
    let sim_clock = SimClock::new(start_time());
    let clock = if separate_clocks {
        SimClock::new(start_time())
    } else {
        sim_clock.clone()
    };
    let (sim, _) = EbaySim::start(config.clone(), Arc::new(sim_clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let api = EbaySettings::new(
        sim.base_url(),
        &config.client_id,
        &config.client_secret,
        100_000,
    );
    let shared: SharedClock = Arc::new(clock.clone());
    let code = sim.authorization_code(&[
        scopes::API,
        scopes::SELL_INVENTORY,
        scopes::SELL_FULFILLMENT,
        scopes::NOTIFICATION_SUBSCRIPTION,
    ]);
    let tokens = exchange_authorization_code(&api, &code, &config.ru_name, &shared)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut settings = EbaySellSettings::new(
        api.clone(),
        refresh.map_or(tokens.refresh_token.clone(), str::to_string),
    );
    settings.policies = ListingPolicyIds {
        fulfillment_policy_id: "6196944000".into(),
        payment_policy_id: "6196945000".into(),
        return_policy_id: "6196946000".into(),
    };
    settings.merchant_location_key = Some("home".into());
    settings.location_address = Some(bazaar_agents::connectors::ebay_sell::LocationAddress {
        postal_code: "95125".into(),
        country: "US".into(),
    });
    let store = SledStore::temporary().unwrap_or_else(|e| panic!("{e}"));
    let client = Arc::new(
        EbaySellClient::new(settings, quick(), store.clone(), shared.clone())
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let browse =
        EbayBrowse::new(api, quick(), store.clone(), shared).unwrap_or_else(|e| panic!("{e}"));
    World {
        sim,
        sim_clock,
        clock,
        store,
        sell: EbaySell::new(client.clone()),
        client,
        browse,
        user_access: tokens.access_token,
    }
}

async fn world() -> World {
    world_with(EbayConfig::default(), false, None).await
}

fn action(kind: ActionKind, key: &str, params: Value) -> ActionRecord {
    ActionRecord {
        id: ActionId::new_at(start_time()),
        kind,
        target: SKU.into(),
        params,
        proposer: "lister".into(),
        rule: "test".into(),
        value: None,
        marketplace: Some(Marketplace::Ebay),
        idempotency_key: key.into(),
        about: None,
        confidence: None,
        lifecycle: Lifecycle::new(ActionStatus::Proposed),
        result: None,
        before: None,
        after: None,
        undo: None,
        undoes: None,
        proposed_at: start_time(),
        release_at: None,
    }
}

fn publish_params(price: Money) -> Value {
    json!({
        "sku": SKU,
        "title": "Bose SoundLink Mini II Bluetooth Speaker",
        "description": "Tested, works. Light wear on the case.",
        "condition": "good",
        "category_id": "111694",
        "price": price,
        "quantity": 1,
        "images": ["http://127.0.0.1:9/img/1.jpg"],
        "aspects": {"Brand": ["Bose"]},
        "best_offer": true,
    })
}

fn listing_id(effect: &Effect) -> String {
    effect.result["listing_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no listing id in {}", effect.result))
        .to_string()
}

fn browse_id(listing: &str) -> String {
    format!("v1|{listing}|0")
}

async fn ok(sell: &EbaySell, a: &ActionRecord) -> Effect {
    sell.execute(a)
        .await
        .unwrap_or_else(|e| panic!("{} failed: {e}", a.kind))
}

fn done(lookup: Lookup) -> Effect {
    match lookup {
        Lookup::Done(effect) => effect,
        other => panic!("expected done, got {other:?}"),
    }
}

#[tokio::test]
async fn publish_revise_withdraw_relist_each_idempotent_and_found_by_lookup() {
    let w = world().await;
    let publish = action(
        ActionKind::PublishListing,
        "item:1:publish",
        publish_params(usd(7_999)),
    );
    assert_eq!(w.sell.lookup(&publish).await, Lookup::NotDone);

    // Publish: live, and Browse finds it at its price.
    let effect = ok(&w.sell, &publish).await;
    let listing = listing_id(&effect);
    assert_eq!(effect.undo_params, Some(json!({"sku": SKU})));
    assert_eq!(
        effect.after.as_ref().map(|a| a["live"].clone()),
        Some(json!(true))
    );
    let seen = w
        .browse
        .fetch(&browse_id(&listing))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.title, "Bose SoundLink Mini II Bluetooth Speaker");
    assert_eq!(seen.price, usd(7_999));
    assert_eq!(listing_id(&done(w.sell.lookup(&publish).await)), listing);

    // The same action again, and another action for the same SKU: the same listing.
    let again = ok(&w.sell, &publish).await;
    assert_eq!(listing_id(&again), listing);
    let other_key = action(
        ActionKind::PublishListing,
        "item:1:publish:retry",
        publish_params(usd(7_999)),
    );
    assert_eq!(listing_id(&ok(&w.sell, &other_key).await), listing);
    let live = w.sim.agent_listings();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].sku, SKU);

    // Revise the price: before/after, an undo back to the old price, Browse shows it.
    let revise = action(
        ActionKind::RevisePrice,
        "item:1:price:1",
        json!({"sku": SKU, "price": usd(6_999)}),
    );
    assert_eq!(w.sell.lookup(&revise).await, Lookup::NotDone);
    let effect = ok(&w.sell, &revise).await;
    assert_eq!(effect.before, Some(json!({"price": usd(7_999)})));
    assert_eq!(effect.after, Some(json!({"price": usd(6_999)})));
    let undo = effect
        .undo_params
        .clone()
        .unwrap_or_else(|| panic!("no undo"));
    assert_eq!(undo["price"], json!(usd(7_999)));
    let seen = w
        .browse
        .fetch(&browse_id(&listing))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.price, usd(6_999));
    let found = done(w.sell.lookup(&revise).await);
    assert_eq!(found.after, Some(json!({"price": usd(6_999)})));
    // Repeating it changes nothing (and spends no revision).
    let calls = w.sim.calls_today(Api::Inventory);
    ok(&w.sell, &revise).await;
    assert_eq!(
        w.sim.calls_today(Api::Inventory),
        calls + 1,
        "one read, no write"
    );

    // The undo: back to the old price.
    let mut undo_revise = action(ActionKind::RevisePrice, "undo:revise", undo);
    undo_revise.undoes = Some(revise.id);
    ok(&w.sell, &undo_revise).await;
    assert_eq!(w.sim.agent_listings()[0].price, usd(7_999));
    done(w.sell.lookup(&undo_revise).await);

    // Withdraw: gone from Browse; done by lookup; a repeat is harmless.
    let withdraw = action(
        ActionKind::WithdrawListing,
        "item:1:withdraw",
        json!({"sku": SKU}),
    );
    assert_eq!(w.sell.lookup(&withdraw).await, Lookup::NotDone);
    let effect = ok(&w.sell, &withdraw).await;
    assert_eq!(listing_id(&effect), listing);
    assert_eq!(effect.undo_params, Some(json!({"sku": SKU})));
    assert_eq!(
        effect.after.as_ref().map(|a| a["live"].clone()),
        Some(json!(false))
    );
    match w.browse.fetch(&browse_id(&listing)).await {
        Err(SourceError::NotFound(_)) => {}
        other => panic!("withdrawn listing still visible: {other:?}"),
    }
    assert!(w.sim.agent_listings().is_empty());
    done(w.sell.lookup(&withdraw).await);
    ok(&w.sell, &withdraw).await;
    // Publishing is no longer "done" once withdrawn.
    assert_eq!(w.sell.lookup(&publish).await, Lookup::NotDone);

    // The withdrawal's undo: relist.
    let relist = action(ActionKind::Relist, "undo:withdraw", json!({"sku": SKU}));
    assert_eq!(w.sell.lookup(&relist).await, Lookup::NotDone);
    let effect = ok(&w.sell, &relist).await;
    let relisted = listing_id(&effect);
    let seen = w
        .browse
        .fetch(&browse_id(&relisted))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.price, usd(7_999));
    done(w.sell.lookup(&relist).await);
    assert_eq!(w.sim.agent_listings().len(), 1);

    // Publishing over a withdrawn offer brings the offer up to date, then publishes it.
    ok(&w.sell, &withdraw).await;
    let republish = action(
        ActionKind::PublishListing,
        "item:1:publish:2",
        publish_params(usd(8_499)),
    );
    let effect = ok(&w.sell, &republish).await;
    let seen = w
        .browse
        .fetch(&browse_id(&listing_id(&effect)))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen.price, usd(8_499));
    assert_eq!(w.sim.agent_listings().len(), 1);

    // Every call was counted under the selling budget, not Browse's.
    assert!(w.client.calls_today() > 10);
    assert!(w
        .store
        .get_meta::<Value>(EBAY_SELL_CALLS)
        .unwrap_or_default()
        .is_some());
}

/// eBay publishes nothing without an inventory location: the connector creates the
/// configured one on the first publish (once), and without an address to create it from
/// or a key at all, the publish fails saying which setting to fill in.
#[tokio::test]
async fn the_first_publish_creates_the_inventory_location_and_a_missing_one_is_explained() {
    let w = world().await;
    let location = || async {
        reqwest::Client::new()
            .get(format!(
                "{}/sell/inventory/v1/location/home",
                w.sim.base_url()
            ))
            .bearer_auth(&w.user_access)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    };
    assert_eq!(location().await.status(), 404);
    let publish = action(
        ActionKind::PublishListing,
        "item:1:publish",
        publish_params(usd(7_999)),
    );
    ok(&w.sell, &publish).await;
    let answer = location().await;
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap_or_default();
    assert_eq!(body["location"]["address"]["postalCode"], "95125");
    let calls = w.sim.calls_today(Api::Inventory);
    let mut second = publish_params(usd(5_000));
    second["sku"] = json!("BZ-0002");
    ok(
        &w.sell,
        &action(ActionKind::PublishListing, "item:2:publish", second.clone()),
    )
    .await;
    assert_eq!(
        w.sim.calls_today(Api::Inventory) - calls,
        5,
        "get offers, put item, create offer, publish, read back: the location is not asked again"
    );

    for (key, expected) in [
        (Some("warehouse-2"), "location_postal_code"),
        (None, "merchant_location_key"),
    ] {
        let mut settings = w.client.settings().clone();
        settings.merchant_location_key = key.map(str::to_string);
        settings.location_address = None;
        let clock: SharedClock = Arc::new(w.clock.clone());
        let client = EbaySellClient::new(settings, quick(), w.store.clone(), clock)
            .unwrap_or_else(|e| panic!("{e}"));
        let sell = EbaySell::new(Arc::new(client));
        second["sku"] = json!("BZ-0003");
        match sell
            .execute(&action(
                ActionKind::PublishListing,
                "item:3:publish",
                second.clone(),
            ))
            .await
        {
            Err(EffectError::Failed(why)) => assert!(why.contains(expected), "{why}"),
            other => panic!("published without a location: {other:?}"),
        }
    }
    assert_eq!(w.sim.agent_listings().len(), 2);
}

/// `MarkShipped` records the tracking number on the sold line of eBay's order once: found
/// by lookup afterwards (crash recovery), harmless when repeated; a bad tracking number is
/// refused before any call.
#[tokio::test]
async fn a_sold_order_is_marked_shipped_once() {
    let w = world().await;
    ok(
        &w.sell,
        &action(
            ActionKind::PublishListing,
            "item:1:publish",
            publish_params(usd(7_999)),
        ),
    )
    .await;
    let listing = w.sim.agent_listings()[0].listing_id.clone();
    let sale = w
        .sim
        .buy(&listing, "buyer")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ShipParams::new("1", "USPS", "94-00").is_err());
    assert!(ShipParams::new("1", "U S P S", "9400").is_err());
    let params = ShipParams::new(
        &format!("{}:{}", sale.order_id, sale.line_item_id),
        " USPS ",
        "9400 1118 9922",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (params.carrier.as_str(), params.tracking.as_str()),
        ("USPS", "940011189922")
    );
    let ship = action(
        ActionKind::MarkShipped,
        "ship:1",
        serde_json::to_value(&params).unwrap_or_default(),
    );
    assert_eq!(w.sell.lookup(&ship).await, Lookup::NotDone);
    let effect = ok(&w.sell, &ship).await;
    assert_eq!(effect.result["fulfillment_id"], "940011189922");
    assert_eq!(effect.undo_params, None, "a package cannot be called back");
    assert_eq!(
        done(w.sell.lookup(&ship).await).result["tracking"],
        "940011189922"
    );
    let again = ok(&w.sell, &ship).await;
    assert_eq!(again.result, effect.result);
    let fulfillments: Value = reqwest::Client::new()
        .get(format!(
            "{}/sell/fulfillment/v1/order/{}/shipping_fulfillment",
            w.sim.base_url(),
            sale.order_id
        ))
        .bearer_auth(&w.user_access)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .json()
        .await
        .unwrap_or_default();
    assert_eq!(fulfillments["total"], 1, "{fulfillments}");
}

#[tokio::test]
async fn bad_parameters_and_refusals_fail_clearly() {
    let w = world().await;
    // Nothing to reprice or withdraw yet.
    let revise = action(
        ActionKind::RevisePrice,
        "p",
        json!({"sku": SKU, "price": usd(100)}),
    );
    match w.sell.execute(&revise).await {
        Err(EffectError::Failed(reason)) => assert!(reason.contains("no ebay offer"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.sell.lookup(&revise).await, Lookup::NotDone);
    // Unknown condition, missing fields.
    let mut params = publish_params(usd(5_000));
    params["condition"] = json!("unknown");
    match w
        .sell
        .execute(&action(ActionKind::PublishListing, "a", params))
        .await
    {
        Err(EffectError::Failed(reason)) => assert!(reason.contains("condition"), "{reason}"),
        other => panic!("{other:?}"),
    }
    match w
        .sell
        .execute(&action(
            ActionKind::PublishListing,
            "b",
            json!({"sku": SKU}),
        ))
        .await
    {
        Err(EffectError::Failed(reason)) => {
            assert!(
                reason.contains("bad publish_listing parameters"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    // eBay's own refusal (a title over 80 characters) comes back in its words.
    let mut params = publish_params(usd(5_000));
    params["title"] = json!("x".repeat(81));
    match w
        .sell
        .execute(&action(ActionKind::PublishListing, "c", params))
        .await
    {
        Err(EffectError::Failed(reason)) => {
            assert!(reason.contains("errorId 25709"), "{reason}");
            assert!(reason.contains("product.title"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // Other kinds are not this connector's.
    match w
        .sell
        .execute(&action(ActionKind::SendEmail, "d", json!({})))
        .await
    {
        Err(EffectError::Failed(reason)) => assert!(reason.contains("cannot send_email")),
        other => panic!("{other:?}"),
    }
    assert!(w.sim.agent_listings().is_empty());
}

#[tokio::test]
async fn the_251st_revision_in_a_day_fails_with_ebays_message() {
    let w = world().await;
    let publish = action(
        ActionKind::PublishListing,
        "pub",
        publish_params(usd(10_000)),
    );
    ok(&w.sell, &publish).await;
    for i in 0..250 {
        let revise = action(
            ActionKind::RevisePrice,
            &format!("price:{i}"),
            json!({"sku": SKU, "price": usd(9_000 + i)}),
        );
        ok(&w.sell, &revise).await;
    }
    let revise = action(
        ActionKind::RevisePrice,
        "price:250",
        json!({"sku": SKU, "price": usd(5_000)}),
    );
    match w.sell.execute(&revise).await {
        Err(EffectError::Failed(reason)) => {
            assert!(reason.contains("ebay refused the price change"), "{reason}");
            assert!(reason.contains("errorId 25002"), "{reason}");
            assert!(
                reason.contains("has been revised 250 times today"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(w.sell.lookup(&revise).await, Lookup::NotDone);
    assert_eq!(w.sim.agent_listings()[0].price, usd(9_249));
    // A new day, a new allowance.
    w.sim_clock
        .advance_by(std::time::Duration::from_secs(24 * 3600));
    ok(&w.sell, &revise).await;
    assert_eq!(w.sim.agent_listings()[0].price, usd(5_000));
}

#[tokio::test]
async fn the_user_token_is_cached_refreshed_before_expiry_and_after_a_401() {
    let w = world_with(EbayConfig::default(), true, None).await;
    let user_calls = || w.sim.calls_today(Api::OAuthUser);
    // The consent's code exchange was one.
    assert_eq!(user_calls(), 1);
    let publish = action(
        ActionKind::PublishListing,
        "pub",
        publish_params(usd(10_000)),
    );
    ok(&w.sell, &publish).await;
    assert_eq!(user_calls(), 2, "one refresh for all the publishing calls");
    done(w.sell.lookup(&publish).await);
    assert_eq!(user_calls(), 2, "cached");

    // Within five minutes of expiry (on the agent's clock): refreshed before use.
    w.clock
        .advance_by(std::time::Duration::from_secs(7_200 - 200));
    w.sim_clock
        .advance_by(std::time::Duration::from_secs(7_200 - 200));
    done(w.sell.lookup(&publish).await);
    assert_eq!(user_calls(), 3);

    // eBay's clock runs ahead: the token the agent still trusts is refused, refreshed once.
    w.sim_clock
        .advance_by(std::time::Duration::from_secs(7_300));
    done(w.sell.lookup(&publish).await);
    assert_eq!(user_calls(), 4);
}

#[tokio::test]
async fn a_refused_refresh_token_fails_and_asks_for_consent() {
    let w = world_with(EbayConfig::default(), false, Some("v^1.1#not-a-token")).await;
    let publish = action(
        ActionKind::PublishListing,
        "pub",
        publish_params(usd(10_000)),
    );
    match w.sell.execute(&publish).await {
        Err(EffectError::Failed(reason)) => {
            assert!(reason.contains("refresh token was refused"), "{reason}");
            assert!(reason.contains("consent again"), "{reason}");
            assert!(
                !reason.contains("not-a-token"),
                "the token leaked: {reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    match w.sell.lookup(&publish).await {
        Lookup::Unknown(reason) => assert!(reason.contains("refresh token"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(w.sim.agent_listings().is_empty());
}

// ----- sales -----

#[derive(Clone)]
struct Receiver {
    endpoint: String,
    orders: Arc<EbayOrders>,
    got: Arc<Mutex<Vec<Result<OrderEvent, NotificationError>>>>,
}

async fn challenge(
    State(r): State<Receiver>,
    Query(q): Query<std::collections::BTreeMap<String, String>>,
) -> axum::response::Response {
    let Some(code) = q.get("challenge_code") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    axum::Json(json!({
        "challengeResponse": challenge_response(code, VERIFICATION_TOKEN, &r.endpoint)
    }))
    .into_response()
}

async fn notified(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let result = r.orders.receive(&headers, &body).await;
    let status = match &result {
        Ok(_) => StatusCode::NO_CONTENT,
        Err(e) => StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::PRECONDITION_FAILED),
    };
    r.got.lock().unwrap_or_else(|p| p.into_inner()).push(result);
    status
}

async fn receiver(orders: Arc<EbayOrders>) -> Receiver {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let r = Receiver {
        endpoint: format!("http://{addr}/ebay/notifications"),
        orders,
        got: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/ebay/notifications", get(challenge).post(notified))
        .with_state(r.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    r
}

/// Registers the receiver with eBay (answering its challenge) and subscribes it to orders.
async fn subscribe(w: &World, r: &Receiver) {
    bazaar_mail::install_crypto_provider();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let base = w.sim.base_url();
    let created = http
        .post(format!("{base}/commerce/notification/v1/destination"))
        .bearer_auth(&w.user_access)
        .json(&json!({
            "name": "bazaar",
            "status": "ENABLED",
            "deliveryConfig": {"endpoint": r.endpoint, "verificationToken": VERIFICATION_TOKEN}
        }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        created.status().as_u16(),
        201,
        "our challenge answer was accepted"
    );
    let destination = created
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .and_then(|l| l.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    let subscribed = http
        .post(format!("{base}/commerce/notification/v1/subscription"))
        .bearer_auth(&w.user_access)
        .json(&json!({
            "topicId": "ORDER_CONFIRMATION",
            "status": "ENABLED",
            "destinationId": destination,
            "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"}
        }))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(subscribed.status().as_u16(), 201);
}

fn signed(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-ebay-signature",
        signature.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    headers
}

/// A key source that must not be asked.
struct NoKeys;

impl PublicKeyFetcher for NoKeys {
    fn public_key<'a>(
        &'a self,
        kid: &'a str,
    ) -> bazaar_policies::BoxFuture<'a, Result<PublicKey, NotificationError>> {
        Box::pin(async move { Err(NotificationError::UnknownKey(kid.to_string())) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_arrives_signed_is_verified_and_is_found_by_polling() {
    let w = world().await;
    let orders = Arc::new(EbayOrders::new(w.client.clone()).with_page_size(2));
    let r = receiver(orders.clone()).await;
    subscribe(&w, &r).await;

    let publish = action(
        ActionKind::PublishListing,
        "pub",
        publish_params(usd(7_999)),
    );
    let listing = listing_id(&ok(&w.sell, &publish).await);
    let purchase = w
        .sim
        .buy(&listing, "buyer_bob")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(purchase.deliveries.len(), 1);
    let delivery = &purchase.deliveries[0];
    assert_eq!(delivery.status, Some(204), "{delivery:?}");

    // The receiver verified it and completed it from Fulfillment.
    let got = r.got.lock().map(|g| g.clone()).unwrap_or_default();
    assert_eq!(got.len(), 1);
    let event = got[0].clone().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(event.order_id, purchase.order_id);
    assert_eq!(event.line_item_id, purchase.line_item_id);
    assert_eq!(event.listing_id, listing);
    assert_eq!(event.sku, SKU);
    assert_eq!(event.quantity, 1);
    assert_eq!(event.total, Some(usd(7_999)));
    assert_eq!(event.total, Some(purchase.total));
    assert_eq!(event.buyer.as_deref(), Some("buyer_bob"));
    assert_eq!(
        event.notification_id.as_deref(),
        Some(delivery.notification_id.as_str())
    );

    // The pure pieces agree.
    let header = parse_signature_header(&delivery.signature).unwrap_or_else(|e| panic!("{e}"));
    let key = orders
        .public_key(&header.kid)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    verify_signature(delivery.body.as_bytes(), &header, &key).unwrap_or_else(|e| panic!("{e}"));
    let parsed =
        parse_order_notification(delivery.body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.order_id, purchase.order_id);
    assert_eq!(
        parsed.total, None,
        "the notification itself carries no total"
    );

    // A replay of the genuine notification is recognised and ignored.
    let replay = orders
        .receive(&signed(&delivery.signature), delivery.body.as_bytes())
        .await;
    assert_eq!(
        replay,
        Err(NotificationError::Replayed(
            delivery.notification_id.clone()
        ))
    );
    assert_eq!(replay.as_ref().map_err(|e| e.http_status()), Err(204));

    // A tampered body fails verification; nothing comes out of it.
    let tampered = delivery.body.replace(SKU, "BZ-9999");
    assert_ne!(tampered, delivery.body);
    let forged =
        verify_notification(&signed(&delivery.signature), tampered.as_bytes(), &*orders).await;
    assert_eq!(forged, Err(NotificationError::BadSignature));
    let forged = orders
        .receive(&signed(&delivery.signature), tampered.as_bytes())
        .await;
    assert_eq!(forged, Err(NotificationError::BadSignature));
    assert_eq!(forged.map_err(|e| e.http_status()), Err(412));

    // No header, a garbage header, an unknown key.
    assert_eq!(
        verify_notification(&HeaderMap::new(), delivery.body.as_bytes(), &NoKeys).await,
        Err(NotificationError::MissingSignature)
    );
    assert!(matches!(
        verify_notification(&signed("bm90IGpzb24="), delivery.body.as_bytes(), &NoKeys).await,
        Err(NotificationError::MalformedSignature(_))
    ));
    let unknown_kid = {
        use base64::Engine;
        let h = json!({"alg": "ecdsa", "kid": "00000000-0000-4000-8000-000000000000",
                       "signature": header.signature, "digest": "SHA1"});
        base64::engine::general_purpose::STANDARD.encode(h.to_string())
    };
    assert_eq!(
        verify_notification(&signed(&unknown_kid), delivery.body.as_bytes(), &*orders).await,
        Err(NotificationError::UnknownKey(
            "00000000-0000-4000-8000-000000000000".into()
        ))
    );
    // A notification signed by eBay whose signature is moved onto another body.
    let other_body = delivery.body.replace(&purchase.order_id, "99-99999-99999");
    assert_eq!(
        verify_notification(
            &signed(&delivery.signature),
            other_body.as_bytes(),
            &*orders
        )
        .await,
        Err(NotificationError::BadSignature)
    );
    assert_eq!(
        r.got.lock().map(|g| g.len()).unwrap_or_default(),
        1,
        "nothing else was received"
    );

    // The fallback: polling finds the same sale, with its total.
    let polled = orders
        .poll_orders(start_time())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(polled.len(), 1);
    let p = &polled[0];
    assert_eq!(
        (
            p.order_id.as_str(),
            p.line_item_id.as_str(),
            p.listing_id.as_str(),
            p.sku.as_str()
        ),
        (
            event.order_id.as_str(),
            event.line_item_id.as_str(),
            listing.as_str(),
            SKU
        )
    );
    assert_eq!(p.total, Some(usd(7_999)));
    assert_eq!(p.buyer.as_deref(), Some("buyer_bob"));
    assert_eq!(p.notification_id, None);

    // More sales than a page: every one, once (pages of two).
    for buyer in ["carol", "dave", "erin", "frank"] {
        w.sim_clock.advance_by(std::time::Duration::from_secs(60));
        w.sim
            .buy(&listing, buyer)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let polled = orders
        .poll_orders(start_time())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(polled.len(), 5, "{polled:?}");
    let mut ids: Vec<&str> = polled.iter().map(|e| e.order_id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
    // Only what changed since a moment.
    let later = orders
        .poll_orders(start_time() + chrono::Duration::seconds(150))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(later.len(), 2, "{later:?}");
    // Nothing in the future.
    assert!(orders
        .poll_orders(start_time() + chrono::Duration::days(1))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_empty());
}

#[test]
fn the_challenge_answer_is_sha256_of_code_token_and_endpoint() {
    // sha256("abc" + "" + "") is the classic test vector.
    assert_eq!(
        challenge_response("a", "b", "c"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

// ----- lost answers (a scripted server: the sim always answers) -----

fn offer_json(published: bool, price: &str) -> String {
    json!({"total": 1, "size": 1, "limit": 25, "offers": [{
        "offerId": "5000000001", "sku": SKU, "marketplaceId": "EBAY_US", "format": "FIXED_PRICE",
        "pricingSummary": {"price": {"value": price, "currency": "USD"}},
        "listing": {"listingId": "110000000001", "listingStatus": if published { "ACTIVE" } else { "ENDED" }},
        "status": if published { "PUBLISHED" } else { "UNPUBLISHED" }
    }]})
    .to_string()
}

fn scripted_seller(fault: &FaultServer, clock: &SimClock) -> EbaySell {
    fault.script(
        "/identity/v1/oauth2/token",
        vec![Reply::json(
            200,
            r#"{"access_token":"v^1.1#user","expires_in":7200,"token_type":"User Access Token"}"#,
        )],
    );
    let api = EbaySettings::new(&fault.base, "client", "secret", 1_000);
    let store = SledStore::temporary().unwrap_or_else(|e| panic!("{e}"));
    let client = EbaySellClient::new(
        EbaySellSettings::new(api, "v^1.1#refresh"),
        quick(),
        store,
        Arc::new(clock.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    EbaySell::new(Arc::new(client))
}

#[tokio::test]
async fn a_lost_answer_to_the_deciding_call_is_settled_by_reading_the_offer() {
    let clock = SimClock::new(start_time());
    let _driver = drive(&clock);
    let withdraw = action(ActionKind::WithdrawListing, "w", json!({"sku": SKU}));
    let revise = action(
        ActionKind::RevisePrice,
        "r",
        json!({"sku": SKU, "price": usd(6_999)}),
    );
    let offers = "/sell/inventory/v1/offer";
    let failing = || {
        vec![Reply::json(
            500,
            r#"{"errors":[{"errorId":25001,"category":"APPLICATION","message":"A system error has occurred."}]}"#,
        )]
    };

    // The withdrawal went through although every answer was a 500: done.
    let fault = FaultServer::start().await;
    let sell = scripted_seller(&fault, &clock);
    fault.script(
        offers,
        vec![
            Reply::json(200, offer_json(true, "79.99")),
            Reply::json(200, offer_json(false, "79.99")),
        ],
    );
    fault.script("/sell/inventory/v1/offer/5000000001/withdraw", failing());
    let effect = ok(&sell, &withdraw).await;
    assert_eq!(
        effect.after.as_ref().map(|a| a["live"].clone()),
        Some(json!(false))
    );
    assert_eq!(
        fault.hits("/sell/inventory/v1/offer/5000000001/withdraw"),
        4,
        "retried three times"
    );

    // The price change did not: failed, definitely.
    let fault = FaultServer::start().await;
    let sell = scripted_seller(&fault, &clock);
    fault.script(offers, vec![Reply::json(200, offer_json(true, "79.99"))]);
    fault.script("/sell/inventory/v1/bulk_update_price_quantity", failing());
    match sell.execute(&revise).await {
        Err(EffectError::Failed(reason)) => {
            assert!(reason.contains("was not carried out"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // Nobody can tell: unknown, for the gate to ask a person.
    let fault = FaultServer::start().await;
    let sell = scripted_seller(&fault, &clock);
    fault.script(
        offers,
        vec![
            Reply::json(200, offer_json(true, "79.99")),
            failing()[0].clone(),
        ],
    );
    fault.script("/sell/inventory/v1/bulk_update_price_quantity", failing());
    match sell.execute(&revise).await {
        Err(EffectError::Unknown(reason)) => {
            assert!(reason.contains("checking the offer failed too"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // A refusal before anything was sent is a plain failure, without a second look.
    let fault = FaultServer::start().await;
    let sell = scripted_seller(&fault, &clock);
    fault.script(offers, vec![Reply::json(200, offer_json(true, "79.99"))]);
    fault.script(
        "/sell/inventory/v1/offer/5000000001/withdraw",
        vec![Reply::json(400, r#"{"errors":[{"errorId":25002,"category":"REQUEST","message":"A user error has occurred. Listing is on hold."}]}"#)],
    );
    match sell.execute(&withdraw).await {
        Err(EffectError::Failed(reason)) => {
            assert!(reason.contains("Listing is on hold"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fault.hits("/sell/inventory/v1/offer/5000000001/withdraw"),
        1
    );
    assert_eq!(fault.hits(offers), 1);
}
