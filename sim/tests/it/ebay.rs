//! The simulated eBay over real HTTP on 127.0.0.1. Every eBay REST response these tests
//! produce goes through `support::Ebay::call`, which validates it against eBay's contract
//! for that operation and status (`support/openapi.rs`) and fails the test otherwise.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use bazaar_memory::{Clock, Money};
use bazaar_sim::ebay::{
    scopes, BuyError, BuyingOption, CatalogListing, Condition, EbayConfig, SellerProfile,
    Variation, ORDER_CONFIRMATION,
};
use serde_json::{json, Value};

use support::openapi::{Contract, Contracts};
use support::{
    inventory_item, list_item, offer_body, parse_signature_header, seller_scopes, start_time,
    verify_notification, world, Ebay, Receiver, World,
};

const VERIFICATION_TOKEN: &str = "bazaar-sim-verification-token-0123456789";

fn usd(text: &str) -> Money {
    Money::from_decimal_str(text, bazaar_memory::Currency::Usd).unwrap_or_else(|e| panic!("{e}"))
}

fn listing(title: &str, price: &str, seller: &str) -> CatalogListing {
    let mut l = CatalogListing::new(title, usd(price));
    l.seller = SellerProfile {
        username: seller.into(),
        feedback_percentage: "99.4".into(),
        feedback_score: 1_203,
    };
    l.description = format!("{title}, see photos.");
    l.aspects = vec![("Brand".into(), title.split(' ').next().unwrap_or("").into())];
    l
}

/// Eight items from four sellers, listed an hour apart (the last is the newest).
fn seed_catalog(w: &World) -> Vec<String> {
    let mut ids = Vec::new();
    let items = [
        (
            "Bose SoundLink Mini II Bluetooth Speaker",
            "79.99",
            "audio_andy",
            Condition::UsedGood,
            false,
        ),
        (
            "Bose SoundLink Flex Speaker Black",
            "99.00",
            "audio_andy",
            Condition::New,
            true,
        ),
        (
            "JBL Flip 5 Portable Speaker",
            "59.50",
            "sound_sally",
            Condition::UsedVeryGood,
            true,
        ),
        (
            "JBL Charge 4 Speaker",
            "89.00",
            "sound_sally",
            Condition::NewOther,
            false,
        ),
        (
            "Sony SRS-XB13 Speaker",
            "39.99",
            "tech_tom",
            Condition::New,
            false,
        ),
        (
            "DJI Mini 2 Drone Fly More Combo",
            "349.00",
            "drone_dan",
            Condition::UsedExcellent,
            true,
        ),
        (
            "Parrot Anafi Drone",
            "289.00",
            "drone_dan",
            Condition::UsedGood,
            false,
        ),
        (
            "Bose QuietComfort 35 II Headphones",
            "129.00",
            "audio_andy",
            Condition::UsedAcceptable,
            true,
        ),
    ];
    for (i, (title, price, seller, condition, best_offer)) in items.into_iter().enumerate() {
        let mut l = listing(title, price, seller);
        l.condition = condition;
        if best_offer {
            l.buying_options.push(BuyingOption::BestOffer);
        }
        l.listed_at = Some(start_time() - chrono::Duration::hours(10 - i as i64));
        l.shipping_cost = (i % 2 == 0).then(|| usd("8.95"));
        ids.push(w.sim.add_listing(l));
    }
    ids
}

fn titles(r: &support::Reply) -> Vec<String> {
    r.json["itemSummaries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn prices(r: &support::Reply) -> Vec<f64> {
    r.json["itemSummaries"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            s["price"]["value"]
                .as_str()
                .unwrap_or("0")
                .parse::<f64>()
                .unwrap_or(0.0)
        })
        .collect()
}

fn enc(text: &str) -> String {
    serde_urlencoded::to_string([("v", text)])
        .unwrap_or_default()
        .trim_start_matches("v=")
        .to_string()
}

/// Registers the receiver as a destination and subscribes it to ORDER_CONFIRMATION.
async fn subscribe(api: &Ebay, app: &str, user: &str, receiver: &Receiver) -> String {
    let r = api
        .call(
            "POST",
            "/commerce/notification/v1/destination",
            Some(app),
            &[],
            Some(&json!({
                "name": "bazaar",
                "status": "ENABLED",
                "deliveryConfig": {"endpoint": receiver.endpoint, "verificationToken": VERIFICATION_TOKEN}
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        receiver.challenges().len(),
        1,
        "eBay's challenge GET reached the receiver"
    );
    let location = r.headers["location"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    let destination_id = location.rsplit('/').next().unwrap_or_default().to_string();
    assert!(!destination_id.is_empty());
    let r = api
        .call(
            "POST",
            "/commerce/notification/v1/subscription",
            Some(user),
            &[],
            Some(&json!({
                "topicId": ORDER_CONFIRMATION,
                "status": "ENABLED",
                "destinationId": destination_id,
                "payload": {"format": "JSON", "schemaVersion": "1.0", "deliveryProtocol": "HTTPS"}
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    destination_id
}

#[test]
fn the_validator_rejects_what_ebay_would_not_send() {
    let c = Contracts::load();
    let search = "/buy/browse/v1/item_summary/search";
    let bytes = |v: Value| serde_json::to_vec(&v).unwrap_or_default();
    let good = json!({
        "href": "http://x/search?q=a", "total": 1, "limit": 50, "offset": 0,
        "itemSummaries": [{"itemId": "v1|1|0", "title": "A", "price": {"value": "1.00", "currency": "USD"},
                           "buyingOptions": ["FIXED_PRICE"], "seller": {"username": "s", "feedbackScore": 3}}]
    });
    let checked = c.validate("GET", search, 200, &bytes(good.clone()));
    assert_eq!(
        checked.map(|k| k.schema),
        Ok("SearchPagedCollection".to_string())
    );

    let expect_err = |method: &str, path: &str, status: u16, body: Vec<u8>, needle: &str| match c
        .validate(method, path, status, &body)
    {
        Ok(k) => panic!("{needle}: accepted as {k:?}"),
        Err(problems) => assert!(
            problems.iter().any(|p| p.contains(needle)),
            "expected a complaint about {needle}, got {problems:?}"
        ),
    };
    // A field the schema does not declare (Browse v1.10.0 has no itemCreationDate).
    let mut undeclared = good.clone();
    undeclared["itemSummaries"][0]["itemCreationDate"] = json!("2026-01-01T00:00:00.000Z");
    expect_err(
        "GET",
        search,
        200,
        bytes(undeclared),
        "itemCreationDate: field not declared",
    );
    // A price as a JSON number instead of a decimal string.
    let mut number_price = good.clone();
    number_price["itemSummaries"][0]["price"]["value"] = json!(1.0);
    expect_err(
        "GET",
        search,
        200,
        bytes(number_price),
        "price.value: expected a string",
    );
    // Wrong types elsewhere, nested arrays, nulls, int32 overflow.
    let mut wrong = good.clone();
    wrong["total"] = json!("1");
    expect_err(
        "GET",
        search,
        200,
        bytes(wrong),
        "$.total: expected an integer",
    );
    let mut wrong = good.clone();
    wrong["itemSummaries"][0]["buyingOptions"] = json!([1]);
    expect_err(
        "GET",
        search,
        200,
        bytes(wrong),
        "buyingOptions[0]: expected a string",
    );
    let mut wrong = good.clone();
    wrong["itemSummaries"][0]["seller"]["feedbackScore"] = json!(4_000_000_000u64);
    expect_err("GET", search, 200, bytes(wrong), "does not fit int32");
    let mut wrong = good.clone();
    wrong["next"] = Value::Null;
    expect_err("GET", search, 200, bytes(wrong), "null where string");
    // Error bodies: the envelope, documented ids, the required fields.
    let item = "/buy/browse/v1/item/v1%7C1%7C0";
    let ok_404 = json!({"errors": [{"errorId": 11001, "domain": "API_BROWSE", "category": "REQUEST", "message": "The specified item ID was not found."}]});
    assert!(c.validate("GET", item, 404, &bytes(ok_404.clone())).is_ok());
    expect_err(
        "GET",
        item,
        404,
        bytes(json!({"error": "not found"})),
        "field not declared",
    );
    let mut unknown_id = ok_404.clone();
    unknown_id["errors"][0]["errorId"] = json!(99_999);
    expect_err(
        "GET",
        item,
        404,
        bytes(unknown_id),
        "99999 is not documented",
    );
    let mut no_category = ok_404.clone();
    if let Some(o) = no_category["errors"][0].as_object_mut() {
        o.remove("category");
    }
    expect_err("GET", item, 404, bytes(no_category), "no category");
    let mut bad_category = ok_404;
    bad_category["errors"][0]["category"] = json!("OOPS");
    expect_err(
        "GET",
        item,
        404,
        bytes(bad_category),
        "not an eBay category",
    );
    // Statuses and bodies the operation does not declare.
    expect_err(
        "GET",
        item,
        418,
        b"{}".to_vec(),
        "status 418 is not declared",
    );
    expect_err(
        "GET",
        "/sell/negotiation/v1/find_eligible_items",
        204,
        b"{}".to_vec(),
        "declares no body",
    );
    expect_err(
        "POST",
        "/sell/inventory/v1/offer",
        201,
        Vec::new(),
        "empty body",
    );
    expect_err(
        "DELETE",
        "/sell/inventory/v1/inventory_item/1",
        204,
        Vec::new(),
        "no such operation",
    );
    // enum (eBay's contracts declare none; the validator still enforces them).
    let synthetic = Contract::from_value(
        "synthetic",
        json!({"servers": [], "paths": {}, "components": {"schemas": {"S": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ENABLED", "DISABLED"]}}}}}}),
    );
    let schema = json!({"$ref": "#/components/schemas/S"});
    let mut out = Vec::new();
    synthetic.check(&schema, &json!({"status": "ENABLED"}), "$", &mut out);
    assert!(out.is_empty(), "{out:?}");
    synthetic.check(&schema, &json!({"status": "MARKED_UP"}), "$", &mut out);
    assert!(
        out.iter()
            .any(|p| p.contains("not one of the declared values")),
        "{out:?}"
    );
}

#[tokio::test]
async fn round_trip_token_search_list_sell_notify_withdraw() {
    let w = world(EbayConfig {
        seed: 7,
        ..EbayConfig::default()
    })
    .await;
    let api = &w.api;
    seed_catalog(&w);

    // Token → search (AND + OR + filter + sort) → item.
    let app = api.app_token().await;
    let r = api
        .get(
            &format!(
                "/buy/browse/v1/item_summary/search?q={}&filter={}&sort=-price&limit=3",
                enc("(bose, jbl) speaker"),
                enc("price:[50..100],priceCurrency:USD,buyingOptions:{FIXED_PRICE}")
            ),
            &app,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        titles(&r),
        vec![
            "Bose SoundLink Flex Speaker Black",
            "JBL Charge 4 Speaker",
            "Bose SoundLink Mini II Bluetooth Speaker"
        ]
    );
    assert_eq!(r.json["total"], 4);
    assert!(r.json["next"].is_string() && r.json.get("prev").is_none());
    let first = r.json["itemSummaries"][0].clone();
    assert_eq!(first["price"], json!({"value": "99.00", "currency": "USD"}));
    let item_id = first["itemId"].as_str().unwrap_or_default().to_string();
    let r = api
        .get(&format!("/buy/browse/v1/item/{}", enc(&item_id)), &app)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["seller"]["username"], "audio_andy");
    assert_eq!(r.json["localizedAspects"][0]["name"], "Brand");

    // The seller's token and the notification destination.
    let (user, _refresh) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let receiver = Receiver::start(VERIFICATION_TOKEN, true).await;
    subscribe(api, &app, &user, &receiver).await;
    let r = api
        .get("/commerce/notification/v1/subscription", &user)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["subscriptions"][0]["topicId"], ORDER_CONFIRMATION);
    let r = api
        .get("/commerce/notification/v1/topic/ORDER_CONFIRMATION", &app)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // inventory_item → offer (idempotent through GET /offer?sku=) → publish.
    let sku = "BZ-000123";
    let r = api
        .inv(
            "PUT",
            &format!("/sell/inventory/v1/inventory_item/{sku}"),
            &user,
            Some(&inventory_item("Bose SoundLink Color II Speaker", 1)),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = api
        .get(&format!("/sell/inventory/v1/inventory_item/{sku}"), &user)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["sku"], sku);
    assert_eq!(r.json["locale"], "en_US");
    assert_eq!(r.json["product"]["aspects"]["Brand"], json!(["Bose"]));
    let r = api
        .get(&format!("/sell/inventory/v1/offer?sku={sku}"), &user)
        .await;
    assert_eq!((r.status, r.error_id()), (404, 25713), "no offer yet");
    let r = api
        .inv(
            "POST",
            "/sell/inventory/v1/offer",
            &user,
            Some(&offer_body(sku, "74.50", 1)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let offer_id = r.json["offerId"].as_str().unwrap_or_default().to_string();
    let r = api
        .get(&format!("/sell/inventory/v1/offer?sku={sku}"), &user)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            r.json["total"].clone(),
            r.json["offers"][0]["offerId"].clone()
        ),
        (json!(1), json!(offer_id))
    );
    assert_eq!(r.json["offers"][0]["status"], "UNPUBLISHED");
    let r = api
        .inv(
            "POST",
            "/sell/inventory/v1/offer",
            &user,
            Some(&offer_body(sku, "74.50", 1)),
        )
        .await;
    assert_eq!(
        (r.status, r.error_id()),
        (400, 25002),
        "a second offer for the SKU is refused"
    );
    assert_eq!(
        r.json["errors"][0]["parameters"][0],
        json!({"name": "offerId", "value": offer_id})
    );
    // list_item finds the existing offer instead of creating another, then publishes.
    let (same_offer, listing_id) = list_item(
        api,
        &user,
        sku,
        "Bose SoundLink Color II Speaker",
        "74.50",
        1,
    )
    .await;
    assert_eq!(same_offer, offer_id);
    assert_eq!(listing_id.len(), 12);
    let r = api
        .get(&format!("/sell/inventory/v1/offer/{offer_id}"), &user)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["status"], "PUBLISHED");
    assert_eq!(r.json["listing"]["listingId"], listing_id.as_str());
    assert_eq!(r.json["pricingSummary"]["price"]["value"], "74.50");
    // The live listing is on Browse, as the seller's.
    let r = api
        .get(
            &format!(
                "/buy/browse/v1/item_summary/search?q={}",
                enc("soundlink color")
            ),
            &app,
        )
        .await;
    assert_eq!(
        r.json["itemSummaries"][0]["legacyItemId"],
        listing_id.as_str()
    );
    assert_eq!(
        r.json["itemSummaries"][0]["seller"]["username"],
        w.config.seller_username.as_str()
    );
    assert_eq!(
        r.json["itemSummaries"][0]["buyingOptions"],
        json!(["FIXED_PRICE", "BEST_OFFER"])
    );

    // A buyer buys an hour later.
    let before_sale = w.clock.now();
    w.clock.advance_by(Duration::from_secs(3_600));
    let purchase = w
        .sim
        .buy(&listing_id, "jane_buys_things")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!purchase.oversold);
    assert_eq!(purchase.total, usd("74.50"));
    let sold_at = w.clock.now();
    w.clock.advance_by(Duration::from_secs(600));

    // The order through Fulfillment, found and not found by date filters.
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let orders = |filter: String| {
        let api = api.clone();
        let user = user.clone();
        async move {
            api.get(
                &format!("/sell/fulfillment/v1/order?filter={}", enc(&filter)),
                &user,
            )
            .await
        }
    };
    let r = orders(format!("creationdate:[{}..]", stamp(before_sale))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["total"], 1);
    let order = r.json["orders"][0].clone();
    assert_eq!(order["orderId"], purchase.order_id.as_str());
    assert_eq!(order["creationDate"], stamp(sold_at).as_str());
    assert_eq!(order["buyer"]["username"], "jane_buys_things");
    assert_eq!(order["lineItems"][0]["sku"], sku);
    assert_eq!(order["lineItems"][0]["legacyItemId"], listing_id.as_str());
    assert_eq!(
        order["pricingSummary"]["total"],
        json!({"value": "74.50", "currency": "USD"})
    );
    assert_eq!(
        order["totalMarketplaceFee"]["value"], "10.17",
        "13.25 % + $0.30"
    );
    let r = orders(format!(
        "creationdate:[{}..{}]",
        stamp(start_time()),
        stamp(before_sale)
    ))
    .await;
    assert_eq!(r.json["total"], 0);
    let r = orders(format!(
        "lastmodifieddate:[{}..]",
        stamp(sold_at + chrono::Duration::seconds(1))
    ))
    .await;
    assert_eq!(r.json["total"], 0);
    let r = orders(format!(
        "lastmodifieddate:[{}..],orderfulfillmentstatus:{{NOT_STARTED|IN_PROGRESS}}",
        stamp(sold_at)
    ))
    .await;
    assert_eq!(r.json["total"], 1);
    let r = api
        .get(
            &format!("/sell/fulfillment/v1/order/{}", purchase.order_id),
            &user,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["orderPaymentStatus"], "PAID");

    // The notification arrived, and verifies with nothing but the served key.
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(
        purchase.deliveries.iter().all(|d| d.delivered()),
        "{:?}",
        purchase.deliveries
    );
    let note: Value = serde_json::from_slice(&got[0].body).unwrap_or_default();
    assert_eq!(note["metadata"]["topic"], ORDER_CONFIRMATION);
    assert_eq!(
        note["notification"]["data"]["orderId"],
        purchase.order_id.as_str()
    );
    assert_eq!(note["notification"]["eventDate"], stamp(sold_at).as_str());
    let header = got[0].signature.clone().unwrap_or_default();
    let decoded = parse_signature_header(&header).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (decoded.alg.as_str(), decoded.digest.as_str()),
        ("ecdsa", "SHA1")
    );
    let key = api
        .get(
            &format!("/commerce/notification/v1/public_key/{}", decoded.kid),
            &app,
        )
        .await;
    assert_eq!(key.status, 200, "{}", key.text());
    let pem = key.json["key"].as_str().unwrap_or_default();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----") && !pem.contains('\n'),
        "{pem}"
    );
    verify_notification(&got[0].body, &header, &key.json).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&got[0].body).into_owned();
    assert!(text.contains("\"quantity\":1"), "{text}");
    let more = text.replace("\"quantity\":1", "\"quantity\":9");
    let other_order = text.replace(&purchase.order_id, "00-00000-00000");
    assert!(
        verify_notification(more.as_bytes(), &header, &key.json).is_err(),
        "tampered quantity"
    );
    assert!(
        verify_notification(other_order.as_bytes(), &header, &key.json).is_err(),
        "tampered orderId"
    );

    // Withdraw: the listing ends everywhere.
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/withdraw"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["listingId"], listing_id.as_str());
    let r = api
        .get(&format!("/sell/inventory/v1/offer/{offer_id}"), &user)
        .await;
    assert_eq!(
        (
            r.json["status"].clone(),
            r.json["listing"]["listingStatus"].clone()
        ),
        (json!("UNPUBLISHED"), json!("ENDED"))
    );
    let r = api
        .get(
            &format!("/buy/browse/v1/item/{}", enc(&format!("v1|{listing_id}|0"))),
            &app,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (404, 11001));
    assert_eq!(
        w.sim
            .buy(&listing_id, "late_buyer")
            .await
            .map(|p| p.order_id),
        Err(BuyError::NotListed(listing_id.clone()))
    );

    let checked: BTreeSet<String> = api
        .checked()
        .into_iter()
        .map(|c| format!("{} {} {}", c.operation, c.status, c.schema))
        .collect();
    println!(
        "validated against the contracts:\n  {}",
        checked.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[tokio::test]
async fn search_and_or_filters_sort_and_pages() {
    let w = world(EbayConfig::default()).await;
    seed_catalog(&w);
    let api = &w.api;
    let app = api.app_token().await;
    let search = |query: String| {
        let api = api.clone();
        let app = app.clone();
        async move {
            api.get(&format!("/buy/browse/v1/item_summary/search?{query}"), &app)
                .await
        }
    };
    // AND: every word.
    let r = search(format!("q={}", enc("bose speaker"))).await;
    assert_eq!(
        titles(&r),
        vec![
            "Bose SoundLink Mini II Bluetooth Speaker",
            "Bose SoundLink Flex Speaker Black"
        ]
    );
    // OR inside parentheses.
    let r = search(format!("q={}", enc("(drone, headphones)"))).await;
    assert_eq!(r.json["total"], 3);
    let r = search(format!("q={}", enc("drone (dji, sony)"))).await;
    assert_eq!(titles(&r), vec!["DJI Mini 2 Drone Fly More Combo"]);
    // Nothing matches: no itemSummaries, total 0.
    let r = search(format!("q={}", enc("gramophone"))).await;
    assert_eq!(
        (
            r.json["total"].clone(),
            r.json.get("itemSummaries").is_none()
        ),
        (json!(0), true)
    );
    // Price range with its currency.
    let r = search(format!(
        "q=speaker&filter={}",
        enc("price:[50..90],priceCurrency:USD")
    ))
    .await;
    assert_eq!(prices(&r), vec![79.99, 59.5, 89.0]);
    let r = search(format!(
        "q=speaker&filter={}",
        enc("price:[..50],priceCurrency:USD")
    ))
    .await;
    assert_eq!(titles(&r), vec!["Sony SRS-XB13 Speaker"]);
    // Without priceCurrency the price filter is ignored, with eBay's warning 12012.
    let r = search(format!("q=speaker&filter={}", enc("price:[50..90]"))).await;
    assert_eq!(r.json["total"], 5);
    assert_eq!(r.json["warnings"][0]["errorId"], 12012);
    // buyingOptions and conditions.
    let r = search(format!(
        "q=bose&filter={}",
        enc("buyingOptions:{BEST_OFFER}")
    ))
    .await;
    assert_eq!(
        titles(&r),
        vec![
            "Bose SoundLink Flex Speaker Black",
            "Bose QuietComfort 35 II Headphones"
        ]
    );
    let r = search(format!("q=speaker&filter={}", enc("conditions:{NEW}"))).await;
    assert_eq!(
        titles(&r),
        vec![
            "Bose SoundLink Flex Speaker Black",
            "JBL Charge 4 Speaker",
            "Sony SRS-XB13 Speaker"
        ]
    );
    let r = search(format!(
        "q=speaker&filter={}",
        enc("conditions:{USED},sellers:{sound_sally}")
    ))
    .await;
    assert_eq!(titles(&r), vec!["JBL Flip 5 Portable Speaker"]);
    // Sorts.
    let r = search("q=speaker&sort=price".into()).await;
    assert_eq!(prices(&r), vec![39.99, 59.5, 79.99, 89.0, 99.0]);
    let r = search("q=speaker&sort=-price".into()).await;
    assert_eq!(prices(&r), vec![99.0, 89.0, 79.99, 59.5, 39.99]);
    let r = search("q=speaker&sort=newlyListed".into()).await;
    assert_eq!(titles(&r)[0], "Sony SRS-XB13 Speaker");
    let r = search("q=speaker&sort=cheapest".into()).await;
    assert_eq!(r.json["warnings"][0]["errorId"], 12008);
    // Pages: limit/offset with href, next, prev and a stable total.
    let mut seen = Vec::new();
    let mut next = Some(format!(
        "{}/buy/browse/v1/item_summary/search?q=speaker&sort=price&limit=2&offset=0",
        api.base
    ));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let path = url
            .strip_prefix(&api.base)
            .unwrap_or_else(|| panic!("{url} is not on the sim"));
        let r = api.get(path, &app).await;
        assert_eq!(r.json["total"], 5);
        assert_eq!(r.json["href"].as_str(), Some(url.as_str()));
        assert_eq!(
            r.json.get("prev").is_some(),
            pages > 0,
            "prev on page {pages}"
        );
        seen.extend(prices(&r));
        next = r.json["next"].as_str().map(str::to_string);
        pages += 1;
    }
    assert_eq!((pages, seen), (3, vec![39.99, 59.5, 79.99, 89.0, 99.0]));
    // Bad parameters are 400s with Browse's ids.
    for (query, id) in [
        ("limit=5", 12001),
        ("q=speaker&limit=0", 12006),
        ("q=speaker&limit=201", 12006),
        ("q=speaker&limit=ten", 12007),
        ("q=speaker&offset=-1", 12004),
        ("q=speaker&offset=x", 12005),
        ("q=speaker&offset=10001", 12029),
    ] {
        let r = search(query.into()).await;
        assert_eq!((r.status, r.error_id()), (400, id), "{query}");
    }
    // Items.
    let r = api
        .get(
            &format!("/buy/browse/v1/item/{}", enc("v1|999999999999|0")),
            &app,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (404, 11001));
    let r = api.get("/buy/browse/v1/item/not-an-id", &app).await;
    assert_eq!((r.status, r.error_id()), (400, 11012));
    let r = api
        .call(
            "GET",
            "/buy/browse/v1/item_summary/search?q=bose",
            Some(&app),
            &[("X-EBAY-C-MARKETPLACE-ID", "EBAY_XX")],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (409, 12019));
}

#[tokio::test]
async fn tokens_expire_on_simulated_time_and_refresh() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let search = "/buy/browse/v1/item_summary/search?q=anything";

    let r = api
        .token(&[("grant_type", "client_credentials"), ("scope", scopes::API)])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json["expires_in"], 7200);
    assert_eq!(r.json["token_type"], "Application Access Token");
    assert!(r.json.get("refresh_token").is_none());
    let app = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    w.clock.advance_by(Duration::from_secs(7_199));
    assert_eq!(api.get(search, &app).await.status, 200);
    w.clock.advance_by(Duration::from_secs(1));
    let r = api.get(search, &app).await;
    assert_eq!(
        (r.status, r.error_id()),
        (401, 1001),
        "expired after expires_in"
    );
    assert_eq!(r.json["errors"][0]["message"], "Invalid access token");

    // Authorization code through the consent redirect, then the user token and its refresh.
    let scope_text = seller_scopes().join(" ");
    let r = api
        .http
        .get(format!(
            "{}/oauth2/authorize?{}",
            api.base,
            serde_urlencoded::to_string([
                ("client_id", w.config.client_id.as_str()),
                ("redirect_uri", w.config.ru_name.as_str()),
                ("response_type", "code"),
                ("scope", scope_text.as_str()),
                ("state", "xyz-42"),
            ])
            .unwrap_or_default()
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"]
        .to_str()
        .unwrap_or_default()
        .to_string();
    assert!(location.starts_with(&w.config.accept_url), "{location}");
    let back: Vec<(String, String)> =
        serde_urlencoded::from_str(location.split_once('?').map(|p| p.1).unwrap_or(""))
            .unwrap_or_default();
    let get = |k: &str| {
        back.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        (get("state"), get("expires_in")),
        ("xyz-42".to_string(), "299".to_string())
    );
    let code = get("code");
    let exchange = |code: String| {
        let api = api.clone();
        let ru = w.config.ru_name.clone();
        async move {
            api.token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &ru),
            ])
            .await
        }
    };
    let r = exchange(code.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json["token_type"], "User Access Token");
    assert_eq!(r.json["refresh_token_expires_in"], 47_304_000);
    let user = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let refresh = r.json["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = exchange(code).await;
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (400, json!("invalid_grant")),
        "a code is single-use"
    );
    let late = w.sim.authorization_code(&[scopes::SELL_INVENTORY]);
    w.clock.advance_by(Duration::from_secs(300));
    let r = exchange(late).await;
    assert_eq!(r.json["error"], "invalid_grant", "codes live 299 s");

    let orders = "/sell/fulfillment/v1/order";
    assert_eq!(api.get(orders, &user).await.status, 200);
    w.clock.advance_by(Duration::from_secs(7_200));
    let r = api.get(orders, &user).await;
    assert_eq!((r.status, r.error_id()), (401, 1001));
    let r = api
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json.get("refresh_token").is_none());
    let fresh = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(api.get(orders, &fresh).await.status, 200);
    // Narrower scope on refresh is allowed; wider is not.
    let r = api
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", scopes::SELL_INVENTORY),
        ])
        .await;
    let inventory_only = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = api.get(orders, &inventory_only).await;
    assert_eq!(
        (r.status, r.error_id()),
        (403, 1100),
        "no sell.fulfillment in this token"
    );
    let r = api
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("scope", scopes::SELL_ACCOUNT),
        ])
        .await;
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (400, json!("invalid_scope"))
    );
    // The application token cannot sell; a user scope cannot be had without consent.
    let app = api.app_token().await;
    let r = api.get(orders, &app).await;
    assert_eq!((r.status, r.error_id()), (403, 1100));
    let r = api
        .token(&[
            ("grant_type", "client_credentials"),
            ("scope", scopes::SELL_INVENTORY),
        ])
        .await;
    assert_eq!(r.json["error"], "invalid_scope");
    // OAuth's own error shape.
    for (form, basic, status, error) in [
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "v^1.1#bogus"),
            ],
            None,
            400,
            "invalid_grant",
        ),
        (
            vec![("grant_type", "password")],
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "client_credentials"), ("scope", scopes::API)],
            Some(("someone", "else")),
            401,
            "invalid_client",
        ),
    ] {
        let r = match basic {
            Some(b) => api.token_call(&form, Some(b)).await,
            None => api.token(&form).await,
        };
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.json["error"], error);
        assert!(r.json["error_description"].is_string());
        assert_eq!(r.json.as_object().map(|o| o.len()), Some(2), "{}", r.text());
    }
    let r = api
        .token_call(&[("grant_type", "client_credentials")], None)
        .await;
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (401, json!("invalid_client"))
    );
    // A refresh token outlives access tokens, not forever.
    w.clock.advance_by(Duration::from_secs(47_304_000));
    let r = api
        .token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(r.json["error"], "invalid_grant");
}

#[tokio::test]
async fn daily_call_limits_answer_429_until_the_next_day() {
    let mut config = EbayConfig::default();
    config.limits.browse = 3;
    config.limits.oauth_application = 2;
    let w = world(config).await;
    let api = &w.api;
    let app = api.app_token().await;
    let search = "/buy/browse/v1/item_summary/search?q=bose";
    for _ in 0..3 {
        assert_eq!(api.get(search, &app).await.status, 200);
    }
    let r = api.get(search, &app).await;
    assert_eq!((r.status, r.error_id()), (429, 2001));
    assert_eq!(r.json["errors"][0]["domain"], "ACCESS");
    assert_eq!(r.json["errors"][0]["category"], "REQUEST");
    assert_eq!(
        w.sim.calls_today(bazaar_sim::ebay::Api::Browse),
        3,
        "refused calls are not counted"
    );
    // Other APIs have their own budgets.
    assert_eq!(
        api.get("/commerce/notification/v1/topic/ORDER_CONFIRMATION", &app)
            .await
            .status,
        200
    );
    // 23:59:59 is still today (the first token has expired: get another).
    w.clock.advance_by(Duration::from_secs(9 * 3_600 - 1));
    let r = api.get(search, &app).await;
    assert_eq!((r.status, r.error_id()), (401, 1001));
    let app = api.app_token().await;
    let r = api.get(search, &app).await;
    assert_eq!((r.status, r.error_id()), (429, 2001));
    // The token endpoint has its own limit, answered in OAuth's shape.
    let r = api
        .token(&[("grant_type", "client_credentials"), ("scope", scopes::API)])
        .await;
    assert_eq!(
        (r.status, r.json["error"].clone()),
        (429, json!("temporarily_unavailable"))
    );
    // Midnight: a new day, new budgets.
    w.clock.advance_by(Duration::from_secs(1));
    let app = api.app_token().await;
    let r = api.get(search, &app).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(w.sim.calls_today(bazaar_sim::ebay::Api::Browse), 1);
}

#[tokio::test]
async fn a_listing_takes_250_revisions_a_day_and_no_more() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let sku = "REV-1";
    let (offer_id, listing_id) =
        list_item(api, &user, sku, "Bose SoundLink Revolve", "150.00", 3).await;
    let price_at = |i: i64| format!("{}.{:02}", 150 - (i / 100) - 1, 99 - (i % 100));
    let offer_path = format!("/sell/inventory/v1/offer/{offer_id}");
    let mut body = offer_body(sku, "150.00", 3);
    if let Some(o) = body.as_object_mut() {
        for key in ["sku", "marketplaceId", "format"] {
            o.remove(key);
        }
    }
    for i in 0..250 {
        body["pricingSummary"]["price"]["value"] = json!(price_at(i));
        let r = api.inv("PUT", &offer_path, &user, Some(&body)).await;
        assert_eq!(r.status, 204, "revision {}: {}", i + 1, r.text());
    }
    body["pricingSummary"]["price"]["value"] = json!("10.00");
    let r = api.inv("PUT", &offer_path, &user, Some(&body)).await;
    assert_eq!((r.status, r.error_id()), (400, 25002), "the 251st revision");
    assert!(r.json["errors"][0]["longMessage"]
        .as_str()
        .unwrap_or("")
        .contains("250 times in one calendar day"));
    assert_eq!(
        r.json["errors"][0]["parameters"][0]["value"],
        listing_id.as_str()
    );
    let r = api.get(&offer_path, &user).await;
    assert_eq!(
        r.json["pricingSummary"]["price"]["value"],
        price_at(249).as_str(),
        "the refused revision changed nothing"
    );
    // Every other way of revising the listing is refused as well.
    let r = api
        .call(
            "POST",
            "/sell/inventory/v1/bulk_update_price_quantity",
            Some(&user),
            &[],
            Some(&json!({"requests": [{"sku": sku, "offers": [{"offerId": offer_id, "availableQuantity": 2, "price": {"value": "99.00", "currency": "USD"}}]}]})),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    assert_eq!(r.json["responses"][0]["statusCode"], 400);
    assert_eq!(r.json["responses"][0]["errors"][0]["errorId"], 25002);
    let r = api
        .inv(
            "PUT",
            &format!("/sell/inventory/v1/inventory_item/{sku}"),
            &user,
            Some(&inventory_item("Bose SoundLink Revolve+", 3)),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25002));
    let r = api
        .call(
            "POST",
            &format!("{offer_path}/publish"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25002));
    // An unpublished offer is no listing: its edits are not revisions.
    let r = api
        .inv(
            "PUT",
            "/sell/inventory/v1/inventory_item/REV-2",
            &user,
            Some(&inventory_item("Bose Revolve II", 1)),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = api
        .inv(
            "POST",
            "/sell/inventory/v1/offer",
            &user,
            Some(&offer_body("REV-2", "90.00", 1)),
        )
        .await;
    assert_eq!(r.status, 201);
    // The next (simulated) day the listing can be revised again.
    w.clock.advance_by(Duration::from_secs(9 * 3_600));
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let r = api.inv("PUT", &offer_path, &user, Some(&body)).await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = api
        .call(
            "POST",
            "/sell/inventory/v1/bulk_update_price_quantity",
            Some(&user),
            &[],
            Some(&json!({"requests": [
                {"sku": sku, "offers": [{"offerId": offer_id, "availableQuantity": 2, "price": {"value": "99.00", "currency": "USD"}}]},
                {"sku": "NO-SUCH-SKU", "shipToLocationAvailability": {"quantity": 1}}
            ]})),
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    assert_eq!(r.json["responses"][0]["statusCode"], 200);
    assert_eq!(
        (
            r.json["responses"][1]["statusCode"].clone(),
            r.json["responses"][1]["errors"][0]["errorId"].clone()
        ),
        (json!(400), json!(25702))
    );
    let r = api.get(&offer_path, &user).await;
    assert_eq!(
        (
            r.json["pricingSummary"]["price"]["value"].clone(),
            r.json["availableQuantity"].clone()
        ),
        (json!("99.00"), json!(2))
    );
    let bulk = "/sell/inventory/v1/bulk_update_price_quantity";
    let r = api
        .call(
            "POST",
            bulk,
            Some(&user),
            &[],
            Some(
                &json!({"requests": [{"sku": sku, "shipToLocationAvailability": {"quantity": 5}}]}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json["responses"],
        json!([{"statusCode": 200, "sku": sku}])
    );
    let r = api
        .get(&format!("/sell/inventory/v1/inventory_item/{sku}"), &user)
        .await;
    assert_eq!(
        r.json["availability"]["shipToLocationAvailability"]["quantity"],
        5
    );
    let r = api
        .call(
            "POST",
            bulk,
            Some(&user),
            &[],
            Some(&json!({"requests": []})),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25709));
}

#[tokio::test]
async fn a_sold_item_stays_listed_and_a_second_sale_is_an_oversell() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let app = api.app_token().await;
    let (offer_id, listing_id) = list_item(
        api,
        &user,
        "ONE-OF-A-KIND",
        "Vintage Bose 901 Speakers",
        "450.00",
        1,
    )
    .await;
    let first = w
        .sim
        .buy(&listing_id, "first_buyer")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!first.oversold);
    assert!(w.sim.oversells().is_empty());
    // Still live until the agent withdraws it.
    let r = api
        .get(
            &format!("/buy/browse/v1/item/{}", enc(&format!("v1|{listing_id}|0"))),
            &app,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json["estimatedAvailabilities"][0]["estimatedSoldQuantity"],
        1
    );
    w.clock.advance_by(Duration::from_secs(60));
    let second = w
        .sim
        .buy(&listing_id, "second_buyer")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(second.oversold);
    let oversells = w.sim.oversells();
    assert_eq!(oversells.len(), 1);
    assert_eq!(
        (oversells[0].order_id.as_str(), oversells[0].buyer.as_str()),
        (second.order_id.as_str(), "second_buyer")
    );
    assert_eq!((oversells[0].sold, oversells[0].available), (2, 1));
    assert_eq!(oversells[0].at, w.clock.now());
    let r = api
        .get(&format!("/sell/inventory/v1/offer/{offer_id}"), &user)
        .await;
    assert_eq!(r.json["listing"]["soldQuantity"], 2);
    let r = api.get("/sell/fulfillment/v1/order?limit=1", &user).await;
    assert_eq!(r.json["total"], 2);
    assert_eq!(
        r.json["orders"][0]["orderId"],
        second.order_id.as_str(),
        "newest first"
    );
    assert!(r.json["next"].is_string());
    let r = api
        .get(
            &format!("/sell/fulfillment/v1/order?orderIds={}", first.order_id),
            &user,
        )
        .await;
    assert_eq!(
        (
            r.json["total"].clone(),
            r.json["orders"][0]["orderId"].clone()
        ),
        (json!(1), json!(first.order_id))
    );
    // Withdrawn, it can no longer be bought; the oversell stays on the record.
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/withdraw"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(matches!(
        w.sim.buy(&listing_id, "third_buyer").await,
        Err(BuyError::NotListed(_))
    ));
    assert_eq!(w.sim.oversells().len(), 1);
    // Republishing makes a new listing.
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/publish"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_ne!(r.json["listingId"], listing_id.as_str());
}

#[tokio::test]
async fn missing_headers_and_bad_requests_get_ebay_errors() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let app = api.app_token().await;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let search = "/buy/browse/v1/item_summary/search?q=x";
    // Authorization.
    let r = api.call("GET", search, None, &[], None).await;
    assert_eq!((r.status, r.error_id()), (401, 1002));
    let r = api.get(search, "v^1.1#i^1#not-a-token").await;
    assert_eq!((r.status, r.error_id()), (401, 1001));
    let r = api
        .call(
            "GET",
            search,
            None,
            &[("Authorization", &format!("Basic {app}"))],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (401, 1001));
    // Content-Language on Inventory writes.
    let item_path = "/sell/inventory/v1/inventory_item/SKU-1";
    let item = inventory_item("Bose SoundLink Micro", 1);
    let r = api
        .call("PUT", item_path, Some(&user), &[], Some(&item))
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25709));
    assert_eq!(
        r.json["errors"][0]["parameters"][0],
        json!({"name": "fieldName", "value": "Content-Language"})
    );
    let r = api
        .call(
            "PUT",
            item_path,
            Some(&user),
            &[("Content-Language", "xx-YY")],
            Some(&item),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25709));
    let r = api
        .call(
            "POST",
            "/sell/inventory/v1/offer",
            Some(&user),
            &[],
            Some(&offer_body("SKU-1", "10.00", 1)),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25709));
    // X-EBAY-C-MARKETPLACE-ID on Negotiation.
    let r = api
        .get("/sell/negotiation/v1/find_eligible_items", &user)
        .await;
    assert_eq!((r.status, r.error_id()), (400, 150001));
    let r = api
        .call(
            "GET",
            "/sell/negotiation/v1/find_eligible_items",
            Some(&user),
            &[("X-EBAY-C-MARKETPLACE-ID", "EBAY_XX")],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 150002));
    // Bodies.
    let r = api
        .call(
            "PUT",
            item_path,
            Some(&user),
            &[
                ("Content-Language", "en-US"),
                ("Content-Type", "application/json"),
            ],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error_id()),
        (400, 2004),
        "an empty body is no JSON"
    );
    let r = api
        .inv(
            "PUT",
            item_path,
            &user,
            Some(&json!({"availability": {"shipToLocationAvailability": {"quantity": "three"}}})),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25709));
    assert_eq!(
        r.json["errors"][0]["parameters"][0]["value"],
        "availability.shipToLocationAvailability.quantity"
    );
    let r = api
        .inv(
            "PUT",
            item_path,
            &user,
            Some(&json!({"condition": "PRETTY_GOOD"})),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25021));
    let r = api
        .inv(
            "PUT",
            "/sell/inventory/v1/inventory_item/bad%20sku!",
            &user,
            Some(&item),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25707));
    // Unknown things.
    let r = api
        .get("/sell/inventory/v1/inventory_item/NOPE", &user)
        .await;
    assert_eq!((r.status, r.error_id()), (404, 25710));
    for (method, path) in [
        ("GET", "/sell/inventory/v1/offer/123"),
        ("POST", "/sell/inventory/v1/offer/123/publish"),
        ("POST", "/sell/inventory/v1/offer/123/withdraw"),
    ] {
        let r = api.call(method, path, Some(&user), &[], None).await;
        assert_eq!((r.status, r.error_id()), (404, 25713), "{method} {path}");
    }
    let r = api
        .inv(
            "POST",
            "/sell/inventory/v1/offer",
            &user,
            Some(&offer_body("NOPE", "10.00", 1)),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25702));
    let r = api.get("/sell/inventory/v1/offer?sku=NOPE", &user).await;
    assert_eq!((r.status, r.error_id()), (400, 25702));
    let r = api.get("/sell/inventory/v1/offer", &user).await;
    assert_eq!((r.status, r.error_id()), (400, 25709));
    // Prices are decimal strings in the marketplace's currency.
    assert_eq!(
        api.inv("PUT", item_path, &user, Some(&item)).await.status,
        204
    );
    for (value, currency) in [
        ("1,000.00", "USD"),
        ("10.001", "USD"),
        ("10.00", "EUR"),
        ("-5.00", "USD"),
    ] {
        let mut body = offer_body("SKU-1", "1.00", 1);
        body["pricingSummary"]["price"] = json!({"value": value, "currency": currency});
        let r = api
            .inv("POST", "/sell/inventory/v1/offer", &user, Some(&body))
            .await;
        assert_eq!((r.status, r.error_id()), (400, 25709), "{value} {currency}");
    }
    // Publishing needs its policies, and an offer that is live to withdraw.
    let mut body = offer_body("SKU-1", "25.00", 1);
    if let Some(p) = body["listingPolicies"].as_object_mut() {
        p.remove("returnPolicyId");
    }
    let r = api
        .inv("POST", "/sell/inventory/v1/offer", &user, Some(&body))
        .await;
    let offer_id = r.json["offerId"].as_str().unwrap_or_default().to_string();
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/publish"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25009));
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/withdraw"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 25713));
    // Fulfillment filters.
    let now = w.clock.now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let later = (w.clock.now() + chrono::Duration::days(1))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    for (filter, id) in [
        ("shipdate:[2026-01-01T00:00:00.000Z..]".to_string(), 30700),
        ("creationdate:[yesterday..]".to_string(), 30810),
        (
            "creationdate:[..2026-01-01T00:00:00.000Z]".to_string(),
            30820,
        ),
        (
            format!("creationdate:[{now}..2026-01-01T00:00:00.000Z]"),
            30840,
        ),
        (format!("creationdate:[{later}..]"), 30850),
        ("orderfulfillmentstatus:{SHIPPED}".to_string(), 30800),
    ] {
        let r = api
            .get(
                &format!("/sell/fulfillment/v1/order?filter={}", enc(&filter)),
                &user,
            )
            .await;
        assert_eq!((r.status, r.error_id()), (400, id), "{filter}");
    }
    let r = api.get("/sell/fulfillment/v1/order?limit=500", &user).await;
    assert_eq!((r.status, r.error_id()), (400, 31100));
    let r = api
        .get("/sell/fulfillment/v1/order/12-34567-89012", &user)
        .await;
    assert_eq!((r.status, r.error_id()), (404, 32100));
    // Paths eBay does not have (no contract: checked here).
    let r = api
        .http
        .get(format!("{}/sell/inventory/v2/nothing", api.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap_or_default();
    assert_eq!(v["errors"][0]["errorId"], 2002);
}

/// What a seller integration needs before and after its listings, as eBay does it: a
/// location and the account's own policies before publishing, inventory items listed a
/// page at a time (offset is a page number there), offers deleted, methods refused in
/// eBay's envelope, language tags in any case, token lifetimes in wall-clock time.
#[tokio::test]
async fn a_seller_needs_a_location_and_its_own_policies_to_publish() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let publish = |offer_id: String| {
        let user = user.clone();
        async move {
            api.call(
                "POST",
                &format!("/sell/inventory/v1/offer/{offer_id}/publish"),
                Some(&user),
                &[],
                None,
            )
            .await
        }
    };
    for (n, sku) in ["BZ-1", "BZ-2", "BZ-3"].iter().enumerate() {
        // Content-Language is a language tag: any case names the same locale.
        let r = api
            .call(
                "PUT",
                &format!("/sell/inventory/v1/inventory_item/{sku}"),
                Some(&user),
                &[("Content-Language", "en-us")],
                Some(&inventory_item(&format!("Bose Speaker {n}"), 1)),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = api
        .get("/sell/inventory/v1/inventory_item/BZ-1", &user)
        .await;
    assert_eq!(r.json["locale"], "en_US");

    // Without a location, and with one never created.
    let mut body = offer_body("BZ-1", "50.00", 1);
    body.as_object_mut()
        .map(|o| o.remove("merchantLocationKey"));
    let r = api
        .inv("POST", "/sell/inventory/v1/offer", &user, Some(&body))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let offer_id = r.json["offerId"].as_str().unwrap_or_default().to_string();
    let r = publish(offer_id.clone()).await;
    assert_eq!((r.status, r.error_id()), (400, 25002), "{}", r.text());
    assert!(r.text().contains("Item.Country"), "{}", r.text());
    let r = api
        .inv(
            "PUT",
            &format!("/sell/inventory/v1/offer/{offer_id}"),
            &user,
            Some(&offer_body("BZ-1", "50.00", 1)),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = publish(offer_id.clone()).await;
    assert_eq!((r.status, r.error_id()), (400, 25012), "{}", r.text());

    // The location: created once (then 409 in the error envelope), read, listed.
    let r = api.get("/sell/inventory/v1/location/home", &user).await;
    assert_eq!((r.status, r.error_id()), (404, 25805), "{}", r.text());
    let bad = api
        .call(
            "POST",
            "/sell/inventory/v1/location/home",
            Some(&user),
            &[],
            Some(&json!({"location": {"address": {"country": "US"}}})),
        )
        .await;
    assert_eq!((bad.status, bad.error_id()), (400, 25801), "{}", bad.text());
    assert!(support::create_location(api, &user, "home").await);
    assert!(!support::create_location(api, &user, "home").await);
    let r = api.get("/sell/inventory/v1/location/home", &user).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            r.json["merchantLocationStatus"].clone(),
            r.json["locationTypes"].clone(),
            r.json["location"]["address"]["postalCode"].clone()
        ),
        (json!("ENABLED"), json!(["WAREHOUSE"]), json!("95125"))
    );
    let r = api.get("/sell/inventory/v1/location", &user).await;
    assert_eq!((r.status, r.json["total"].clone()), (200, json!(1)));

    // Policies: an id the account does not have, and one of another kind.
    for (policies, id) in [
        (
            json!({"fulfillmentPolicyId": "1", "paymentPolicyId": "6196945000", "returnPolicyId": "6196946000"}),
            25035,
        ),
        (
            json!({"fulfillmentPolicyId": "6196944000", "paymentPolicyId": "6196946000", "returnPolicyId": "6196946000"}),
            25036,
        ),
    ] {
        let mut body = offer_body("BZ-1", "50.00", 1);
        body["listingPolicies"] = policies;
        body.as_object_mut().map(|o| o.remove("sku"));
        body.as_object_mut().map(|o| o.remove("marketplaceId"));
        body.as_object_mut().map(|o| o.remove("format"));
        let r = api
            .inv(
                "PUT",
                &format!("/sell/inventory/v1/offer/{offer_id}"),
                &user,
                Some(&body),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
        let r = publish(offer_id.clone()).await;
        assert_eq!((r.status, r.error_id()), (400, id), "{}", r.text());
    }
    let r = api
        .inv(
            "PUT",
            &format!("/sell/inventory/v1/offer/{offer_id}"),
            &user,
            Some(&offer_body("BZ-1", "50.00", 1)),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = publish(offer_id.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listing_id = r.json["listingId"].as_str().unwrap_or_default().to_string();

    // getOffers answers up to 100 by default; getInventoryItems 25, offset a page number.
    let r = api.get("/sell/inventory/v1/offer?sku=BZ-1", &user).await;
    assert_eq!((r.status, r.json["limit"].clone()), (200, json!(100)));
    let r = api
        .get("/sell/inventory/v1/inventory_item?limit=2&offset=1", &user)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json["total"].clone(), r.json["size"].clone()),
        (json!(3), json!(2)),
        "three items, two pages of two"
    );
    assert_eq!(r.json["inventoryItems"][0]["sku"], "BZ-3");
    assert!(r.json["prev"].is_string() && r.json.get("next").is_none());
    let r = api.get("/sell/inventory/v1/inventory_item", &user).await;
    assert_eq!(
        (
            r.json["limit"].clone(),
            r.json["inventoryItems"].as_array().map(Vec::len)
        ),
        (json!(25), Some(3))
    );

    // Deleting a published offer ends its listing.
    let r = api
        .call(
            "DELETE",
            &format!("/sell/inventory/v1/offer/{offer_id}"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(w
        .sim
        .agent_listings()
        .iter()
        .all(|l| l.listing_id != listing_id));
    let r = api
        .call(
            "DELETE",
            &format!("/sell/inventory/v1/offer/{offer_id}"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (404, 25713));

    // A method eBay does not take on a path it serves: 405, in the error envelope.
    let r = api
        .http
        .delete(format!("{}/sell/inventory/v1/offer", api.base))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status(), 405);
    let v: Value = r.json().await.unwrap_or_default();
    assert_eq!(v["errors"][0]["errorId"], 2004, "{v}");
}

/// A multi-variation listing, as real searches are full of: search shows it once, as its
/// first variant at that variant's price with the group's href; the group gives every
/// variant at its own price; legacy ids need the variation for a group.
#[tokio::test]
async fn a_variation_group_shows_once_and_gives_each_variant_its_price() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let app = api.app_token().await;
    let single = w
        .sim
        .add_listing(listing("Apple iPhone SE 2nd Gen", "180.00", "phones_r_us"));
    let mut group = listing(
        "Apple iPhone SE 16/64/128GB Unlocked",
        "0.01",
        "phones_r_us",
    );
    group.variations = ["64.00", "99.00", "139.00"]
        .iter()
        .zip(["16 GB", "64 GB", "128 GB"])
        .map(|(price, size)| Variation {
            aspects: vec![("Storage Capacity".into(), size.into())],
            price: usd(price),
        })
        .collect();
    let group_id = w.sim.add_listing(group);
    let legacy = group_id.split('|').nth(1).unwrap_or_default().to_string();
    let variation = group_id.split('|').nth(2).unwrap_or_default().to_string();
    assert_ne!(variation, "0", "{group_id}");

    let r = api
        .get(
            &format!("/buy/browse/v1/item_summary/search?q={}", enc("iphone se")),
            &app,
        )
        .await;
    assert_eq!(r.json["total"], 2, "{}", r.text());
    let shown = r.json["itemSummaries"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["legacyItemId"] == legacy.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(shown["itemId"], group_id.as_str());
    assert_eq!(shown["itemGroupType"], "SELLER_DEFINED_VARIATIONS");
    assert_eq!(
        shown["price"]["value"], "64.00",
        "the display price is one variant's"
    );
    let href = shown["itemGroupHref"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        href.ends_with(&format!("get_items_by_item_group?item_group_id={legacy}")),
        "{href}"
    );

    let r = api
        .get(
            &format!("/buy/browse/v1/item/get_items_by_item_group?item_group_id={legacy}"),
            &app,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let prices: Vec<Value> = r.json["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["price"]["value"].clone())
        .collect();
    assert_eq!(prices, [json!("64.00"), json!("99.00"), json!("139.00")]);
    assert_eq!(
        r.json["items"][2]["primaryItemGroup"]["itemGroupId"],
        legacy.as_str()
    );
    assert_eq!(r.json["items"][2]["localizedAspects"][1]["value"], "128 GB");
    assert_eq!(
        r.json["commonDescriptions"][0]["itemIds"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let third = r.json["items"][2]["itemId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = api
        .get(&format!("/buy/browse/v1/item/{}", enc(&third)), &app)
        .await;
    assert_eq!(
        (r.status, r.json["price"]["value"].clone()),
        (200, json!("139.00"))
    );
    let r = api
        .get(
            &format!("/buy/browse/v1/item/{}", enc(&format!("v1|{legacy}|0"))),
            &app,
        )
        .await;
    assert_eq!(r.status, 404, "a group has no item without a variant");

    let by_legacy = |query: String| {
        let app = app.clone();
        async move {
            api.get(
                &format!("/buy/browse/v1/item/get_item_by_legacy_id?{query}"),
                &app,
            )
            .await
        }
    };
    let r = by_legacy(format!("legacy_item_id={legacy}")).await;
    assert_eq!((r.status, r.error_id()), (400, 11006), "{}", r.text());
    let third_variation = third.split('|').nth(2).unwrap_or_default();
    let r = by_legacy(format!(
        "legacy_item_id={legacy}&legacy_variation_id={third_variation}"
    ))
    .await;
    assert_eq!((r.status, r.json["itemId"].clone()), (200, json!(third)));
    let single_legacy = single.split('|').nth(1).unwrap_or_default();
    let r = by_legacy(format!("legacy_item_id={single_legacy}")).await;
    assert_eq!(
        (r.status, r.json["price"]["value"].clone()),
        (200, json!("180.00"))
    );
    let r = by_legacy("legacy_item_id=999".into()).await;
    assert_eq!((r.status, r.error_id()), (400, 11003));
    let r = api
        .get(
            &format!("/buy/browse/v1/item/get_items_by_item_group?item_group_id={single_legacy}"),
            &app,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 11005));
    let r = api
        .get(
            "/buy/browse/v1/item/get_items_by_item_group?item_group_id=999",
            &app,
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 11002));
}

/// The seller records the shipment (`createShippingFulfillment`): the order and its line
/// are FULFILLED, the fulfillment is listed and linked from the order, a second record for
/// the same line is refused as eBay does, and bad carriers, lines and orders get eBay's ids.
#[tokio::test]
async fn a_shipment_with_tracking_fulfills_the_order() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let (_, listing_id) = list_item(api, &user, "SHIP-1", "Bose SoundLink Mini", "80.00", 1).await;
    let sale = w
        .sim
        .buy(&listing_id, "buyer")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let path = format!(
        "/sell/fulfillment/v1/order/{}/shipping_fulfillment",
        sale.order_id
    );
    let ship = |carrier: &str, tracking: &str, line: &str| {
        json!({
            "lineItems": [{"lineItemId": line, "quantity": 1}],
            "shippedDate": "2026-03-02T16:00:00.000Z",
            "shippingCarrierCode": carrier,
            "trackingNumber": tracking,
        })
    };
    for (body, id) in [
        (ship("USPS", "9400 1118", &sale.line_item_id), 32300),
        (ship("USPS", "9400111899223033", "1"), 32200),
    ] {
        let r = api.call("POST", &path, Some(&user), &[], Some(&body)).await;
        assert_eq!((r.status, r.error_id()), (400, id), "{}", r.text());
    }
    let r = api.get(&path, &user).await;
    assert_eq!((r.status, r.json["total"].clone()), (200, json!(0)));
    let body = ship("USPS", "9400111899223033", &sale.line_item_id);
    let r = api.call("POST", &path, Some(&user), &[], Some(&body)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let location = r
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        location.ends_with(&format!("{path}/9400111899223033")),
        "{location}"
    );
    let r = api.get(&path, &user).await;
    assert_eq!(r.json["total"], 1);
    assert_eq!(
        (
            r.json["fulfillments"][0]["shipmentTrackingNumber"].clone(),
            r.json["fulfillments"][0]["shippingCarrierCode"].clone(),
            r.json["fulfillments"][0]["shippedDate"].clone()
        ),
        (
            json!("9400111899223033"),
            json!("USPS"),
            json!("2026-03-02T16:00:00.000Z")
        )
    );
    let r = api
        .get(
            &format!("/sell/fulfillment/v1/order/{}", sale.order_id),
            &user,
        )
        .await;
    assert_eq!(r.json["orderFulfillmentStatus"], "FULFILLED");
    assert_eq!(
        r.json["lineItems"][0]["lineItemFulfillmentStatus"],
        "FULFILLED"
    );
    assert_eq!(r.json["fulfillmentHrefs"][0], location);
    let r = api.call("POST", &path, Some(&user), &[], Some(&body)).await;
    assert_eq!((r.status, r.error_id()), (400, 34500), "{}", r.text());
    let r = api
        .call(
            "POST",
            "/sell/fulfillment/v1/order/12-34567-89012/shipping_fulfillment",
            Some(&user),
            &[],
            Some(&body),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 32100));
}

/// At `sim serve --speed 600` a token keeps its two hours of the agent's (wall-clock)
/// time: 7,200 × 600 simulated seconds.
#[tokio::test]
async fn token_lifetimes_are_wall_clock_time_at_any_speed() {
    let w = world(EbayConfig::default()).await;
    w.sim.set_speed(600);
    let api = &w.api;
    let search = "/buy/browse/v1/item_summary/search?q=anything";
    let r = api
        .token(&[("grant_type", "client_credentials"), ("scope", scopes::API)])
        .await;
    assert_eq!(
        r.json["expires_in"], 7200,
        "the client is told wall-clock seconds"
    );
    let token = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    w.clock.advance_by(Duration::from_secs(7_200 * 599));
    assert_eq!(api.get(search, &token).await.status, 200);
    w.clock.advance_by(Duration::from_secs(7_200));
    assert_eq!(api.get(search, &token).await.error_id(), 1001);
}

#[tokio::test]
async fn offers_to_interested_buyers() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let eligible = "/sell/negotiation/v1/find_eligible_items";
    let send = "/sell/negotiation/v1/send_offer_to_interested_buyers";
    let r = api.nego("GET", eligible, &user, None).await;
    assert_eq!((r.status, r.body.len()), (204, 0), "nothing to offer yet");
    let (_, watched) =
        list_item(api, &user, "W-1", "Bose SoundLink Revolve+ II", "200.00", 2).await;
    let (offer_id, quiet) = list_item(api, &user, "W-2", "Bose SoundLink Micro", "80.00", 1).await;
    w.sim
        .add_interest(&watched, "watcher_one")
        .unwrap_or_else(|e| panic!("{e}"));
    w.sim
        .add_interest(&watched, "zed")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(w.sim.add_interest("000000000000", "x").is_err());
    let r = api.nego("GET", eligible, &user, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (
            r.json["total"].clone(),
            r.json["eligibleItems"][0]["listingId"].clone()
        ),
        (json!(1), json!(watched))
    );
    let offer = |listing: &str, item: Value| {
        let mut i = item;
        i["listingId"] = json!(listing);
        json!({"allowCounterOffer": false, "message": "Thanks for watching!", "offerDuration": {"unit": "DAY", "value": 2}, "offeredItems": [i]})
    };
    let r = api
        .nego(
            "POST",
            send,
            &user,
            Some(&offer(
                &watched,
                json!({"quantity": 1, "price": {"value": "180.00", "currency": "USD"}}),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let masked: Vec<String> = r.json["offers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            o["buyer"]["maskedUsername"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(masked, vec!["w***e", "z***d"]);
    assert_eq!(r.json["offers"][0]["offerStatus"], "PENDING");
    let sent = w.sim.seller_offers();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].price, sent[0].expires_at),
        (
            Some(usd("180.00")),
            w.clock.now() + chrono::Duration::days(2)
        )
    );
    let r = api
        .nego(
            "POST",
            send,
            &user,
            Some(&offer(&watched, json!({"discountPercentage": "10"}))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(w.sim.seller_offers()[2].discount_percentage, Some(10));
    // What eBay refuses.
    let price = |v: &str| json!({"price": {"value": v, "currency": "USD"}});
    let cases: Vec<(Value, u16, i64)> = vec![
        (
            offer(&watched, json!({"discountPercentage": "3"})),
            400,
            150009,
        ),
        (
            offer(
                &watched,
                json!({"discountPercentage": "10", "price": {"value": "150.00", "currency": "USD"}}),
            ),
            400,
            150007,
        ),
        (offer(&watched, price("250.00")), 409, 150016),
        (offer(&watched, price("195.00")), 400, 150008),
        (
            offer(&watched, json!({"quantity": 5, "discountPercentage": "10"})),
            409,
            150014,
        ),
        (offer("111111111111", price("10.00")), 409, 150012),
        (offer(&quiet, price("70.00")), 409, 150020),
        (
            {
                let mut o = offer(&watched, price("150.00"));
                o["message"] = json!("x".repeat(2001));
                o
            },
            409,
            150010,
        ),
        (
            {
                let mut o = offer(&watched, price("150.00"));
                o["offerDuration"]["value"] = json!(3);
                o
            },
            400,
            150027,
        ),
        (
            {
                let mut o = offer(&watched, price("150.00"));
                o["offeredItems"] = json!([{"listingId": watched, "discountPercentage": "10"}, {"listingId": quiet, "discountPercentage": "10"}]);
                o
            },
            400,
            150005,
        ),
        (json!({}), 400, 150006),
    ];
    for (body, status, id) in cases {
        let r = api.nego("POST", send, &user, Some(&body)).await;
        assert_eq!((r.status, r.error_id()), (status, id), "{body}");
    }
    let r = api
        .call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/withdraw"),
            Some(&user),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = api
        .nego("POST", send, &user, Some(&offer(&quiet, price("70.00"))))
        .await;
    assert_eq!((r.status, r.error_id()), (409, 150011), "ended listing");
}

#[tokio::test]
async fn notification_destinations_are_challenged_and_subscriptions_checked() {
    let w = world(EbayConfig::default()).await;
    let api = &w.api;
    let app = api.app_token().await;
    let (user, _) = api.user_tokens(&w.sim, &seller_scopes()).await;
    let dest = "/commerce/notification/v1/destination";
    let create = |endpoint: &str, token: &str| json!({"name": "bazaar", "status": "ENABLED", "deliveryConfig": {"endpoint": endpoint, "verificationToken": token}});
    // A receiver that answers the challenge wrongly is not registered.
    let liar = Receiver::start(VERIFICATION_TOKEN, false).await;
    let r = api
        .call(
            "POST",
            dest,
            Some(&app),
            &[],
            Some(&create(&liar.endpoint, VERIFICATION_TOKEN)),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (409, 195020));
    assert_eq!(liar.challenges().len(), 1);
    // Tokens and endpoints eBay would not take; the sim never calls a non-loopback host.
    let r = api
        .call(
            "POST",
            dest,
            Some(&app),
            &[],
            Some(&create(&liar.endpoint, "short")),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 195019));
    let r = api
        .call(
            "POST",
            dest,
            Some(&app),
            &[],
            Some(&create("https://example.com/hook", VERIFICATION_TOKEN)),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 195017));
    let r = api
        .call("POST", dest, Some(&app), &[], Some(&json!({"status": "SOMETIMES", "deliveryConfig": {"endpoint": liar.endpoint, "verificationToken": VERIFICATION_TOKEN}})))
        .await;
    assert_eq!((r.status, r.error_id()), (400, 195018));
    assert_eq!(liar.challenges().len(), 1);
    // An honest one is; twice is a conflict.
    let honest = Receiver::start(VERIFICATION_TOKEN, true).await;
    let r = api
        .call(
            "POST",
            dest,
            Some(&app),
            &[],
            Some(&create(&honest.endpoint, VERIFICATION_TOKEN)),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let destination_id = r.headers["location"]
        .to_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let r = api
        .call(
            "POST",
            dest,
            Some(&app),
            &[],
            Some(&create(&honest.endpoint, VERIFICATION_TOKEN)),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (409, 195021));
    // Subscriptions.
    let sub = |destination: &str, version: &str| {
        json!({"topicId": ORDER_CONFIRMATION, "status": "ENABLED", "destinationId": destination,
               "payload": {"format": "JSON", "schemaVersion": version, "deliveryProtocol": "HTTPS"}})
    };
    let path = "/commerce/notification/v1/subscription";
    let r = api
        .call(
            "POST",
            path,
            Some(&app),
            &[],
            Some(&sub(&destination_id, "1.0")),
        )
        .await;
    assert_eq!(
        (r.status, r.error_id()),
        (403, 195011),
        "an order topic needs the seller's token"
    );
    let r = api
        .call("POST", path, Some(&user), &[], Some(&sub("nope", "1.0")))
        .await;
    assert_eq!((r.status, r.error_id()), (400, 195007));
    let r = api
        .call(
            "POST",
            path,
            Some(&user),
            &[],
            Some(&sub(&destination_id, "9.9")),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (400, 195008));
    let mut wrong_topic = sub(&destination_id, "1.0");
    wrong_topic["topicId"] = json!("ITEM_SOLD_MAYBE");
    let r = api
        .call("POST", path, Some(&user), &[], Some(&wrong_topic))
        .await;
    assert_eq!((r.status, r.error_id()), (400, 195027));
    let r = api
        .call(
            "POST",
            path,
            Some(&user),
            &[],
            Some(&sub(&destination_id, "1.0")),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = api
        .call(
            "POST",
            path,
            Some(&user),
            &[],
            Some(&sub(&destination_id, "1.0")),
        )
        .await;
    assert_eq!((r.status, r.error_id()), (409, 195012));
    let r = api.get(&format!("{path}?limit=5"), &user).await;
    assert_eq!((r.status, r.error_id()), (400, 195004));
    // Topics and keys.
    let r = api
        .get("/commerce/notification/v1/topic/ITEM_SOLD_MAYBE", &app)
        .await;
    assert_eq!((r.status, r.error_id()), (404, 195002));
    let r = api
        .get("/commerce/notification/v1/public_key/not-a-kid", &app)
        .await;
    assert_eq!((r.status, r.error_id()), (404, 195001));
    // No subscription, no push: a sale with nobody subscribed delivers nothing.
    let w2 = world(EbayConfig {
        seed: 3,
        ..EbayConfig::default()
    })
    .await;
    let (user2, _) = w2.api.user_tokens(&w2.sim, &seller_scopes()).await;
    let (_, listing) = list_item(&w2.api, &user2, "S-1", "Bose Solo 5", "99.00", 1).await;
    let p = w2
        .sim
        .buy(&listing, "b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(p.deliveries.is_empty() && w2.sim.deliveries().is_empty());
}

/// The same calls against a sim with `seed`; every eBay body, token response and pushed
/// notification, in order.
async fn scripted_session(seed: u64) -> Vec<Vec<u8>> {
    let w = world(EbayConfig {
        seed,
        public_base_url: Some("http://ebay.sim.invalid".into()),
        ..EbayConfig::default()
    })
    .await;
    seed_catalog(&w);
    let api = &w.api;
    let mut bodies = Vec::new();
    let r = api
        .token(&[("grant_type", "client_credentials"), ("scope", scopes::API)])
        .await;
    bodies.push(r.body.clone());
    let app = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let code = w.sim.authorization_code(&seller_scopes());
    let r = api
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &w.config.ru_name),
        ])
        .await;
    bodies.push(r.body.clone());
    let user = r.json["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for q in [
        "q=speaker&sort=price&limit=2",
        "q=(bose,%20dji)&offset=1&limit=3",
    ] {
        bodies.push(
            api.get(&format!("/buy/browse/v1/item_summary/search?{q}"), &app)
                .await
                .body,
        );
    }
    let receiver = Receiver::start(VERIFICATION_TOKEN, true).await;
    subscribe(api, &app, &user, &receiver).await;
    bodies.push(
        api.get("/commerce/notification/v1/subscription", &user)
            .await
            .body,
    );
    let (offer_id, listing_id) =
        list_item(api, &user, "DET-1", "Bose SoundLink Color", "64.00", 1).await;
    bodies.push(
        api.get(&format!("/sell/inventory/v1/offer/{offer_id}"), &user)
            .await
            .body,
    );
    w.clock.advance_by(Duration::from_secs(1_800));
    let p = w
        .sim
        .buy(&listing_id, "det_buyer")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    bodies.push(api.get("/sell/fulfillment/v1/order", &user).await.body);
    bodies.push(
        api.get(&format!("/sell/fulfillment/v1/order/{}", p.order_id), &user)
            .await
            .body,
    );
    for got in receiver.received() {
        bodies.push(got.body);
        bodies.push(got.signature.unwrap_or_default().into_bytes());
    }
    let kid = parse_signature_header(&p.deliveries[0].signature)
        .map(|h| h.kid)
        .unwrap_or_default();
    bodies.push(
        api.get(&format!("/commerce/notification/v1/public_key/{kid}"), &app)
            .await
            .body,
    );
    bodies.push(
        api.call(
            "POST",
            &format!("/sell/inventory/v1/offer/{offer_id}/withdraw"),
            Some(&user),
            &[],
            None,
        )
        .await
        .body,
    );
    bodies
}

#[tokio::test]
async fn the_same_seed_and_calls_give_byte_identical_bodies() {
    let a = scripted_session(42).await;
    let b = scripted_session(42).await;
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(
            x,
            y,
            "body {i} differs:\n{}\n{}",
            String::from_utf8_lossy(x),
            String::from_utf8_lossy(y)
        );
    }
    let c = scripted_session(43).await;
    assert_ne!(a[0], c[0], "another seed draws other tokens");
    assert_ne!(a, c);
}
