//! The eBay Browse connector against the simulated eBay (`bazaar_sim::ebay::EbaySim`) on
//! 127.0.0.1, and against a scripted server for the faults the sim does not produce.

use crate::connectors_common;

use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::connectors::{
    EbayBrowse, EbaySettings, SearchQuery, SortOrder, Source, SourceError,
};
use bazaar_memory::meta_keys::EBAY_BROWSE_CALLS;
use bazaar_memory::{Clock, Condition, Currency, Money, SimClock, SledStore, Store};
use bazaar_sim::ebay::{
    Api, CatalogListing, Condition as EbayCondition, DailyLimits, EbayConfig, EbaySim,
    SellerProfile,
};
use connectors_common::{drive, quick, start_time, FaultServer, Logs, Reply};

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::Usd)
}

struct Sim {
    sim: EbaySim,
    config: EbayConfig,
    /// The sim's clock.
    clock: SimClock,
}

async fn sim(config: EbayConfig, clock: &SimClock) -> Sim {
    let (sim, _) = EbaySim::start(config.clone(), Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Sim {
        sim,
        config,
        clock: clock.clone(),
    }
}

impl Sim {
    fn settings(&self, budget: u64) -> EbaySettings {
        EbaySettings::new(
            self.sim.base_url(),
            &self.config.client_id,
            &self.config.client_secret,
            budget,
        )
    }

    fn add(&self, title: &str, cents: i64, seller: &str, condition: EbayCondition) -> String {
        let mut l = CatalogListing::new(title, usd(cents));
        l.seller = SellerProfile {
            username: seller.into(),
            feedback_percentage: "99.5".into(),
            feedback_score: 120,
        };
        l.condition = condition;
        l.description = format!("<p>{title}</p><p>Works great.</p>");
        l.image_url = Some(format!("https://i.ebayimg.test/{seller}.jpg"));
        l.listed_at = Some(start_time() - chrono::Duration::hours(1));
        self.sim.add_listing(l)
    }
}

fn connector(settings: EbaySettings, store: &SledStore, clock: &SimClock) -> EbayBrowse {
    EbayBrowse::new(settings, quick(), store.clone(), Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn store() -> SledStore {
    SledStore::temporary().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn search_maps_items_filters_sorts_and_pages() {
    let clock = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &clock).await;
    s.add(
        "Bose SoundLink Mini II Speaker",
        7_999,
        "audio_andy",
        EbayCondition::UsedGood,
    );
    s.add(
        "Bose SoundLink Flex Speaker",
        9_900,
        "audio_andy",
        EbayCondition::New,
    );
    s.add(
        "Bose QuietComfort 35 II",
        12_900,
        "qc_quinn",
        EbayCondition::UsedAcceptable,
    );
    s.add(
        "Bose SoundLink Revolve",
        24_900,
        "rev_rita",
        EbayCondition::LikeNew,
    );
    s.add(
        "JBL Flip 5 Speaker",
        5_950,
        "sound_sally",
        EbayCondition::UsedVeryGood,
    );
    let store = store();
    let ebay = connector(s.settings(100), &store, &clock);

    let mut query = SearchQuery::new("bose");
    query.min_price = Some(usd(5_000));
    query.max_price = Some(usd(15_000));
    query.sort = SortOrder::PriceAscending;
    query.limit = Some(2);
    let first = ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.total, Some(3));
    assert!(first.skipped.is_empty());
    let prices: Vec<Money> = first.listings.iter().map(|l| l.price).collect();
    assert_eq!(prices, [usd(7_999), usd(9_900)]);
    assert_eq!(first.next_offset, Some(2));

    let mini = &first.listings[0];
    assert_eq!(mini.title, "Bose SoundLink Mini II Speaker");
    assert_eq!(mini.condition, Condition::Good);
    assert_eq!(mini.seller.external_id, "audio_andy");
    assert_eq!(mini.category, "electronics");
    assert_eq!(mini.location.as_deref(), Some("San Jose, CA, US"));
    assert_eq!(mini.images, ["https://i.ebayimg.test/audio_andy.jpg"]);
    assert!(mini.external_id.starts_with("v1|"), "{}", mini.external_id);
    assert!(mini.url.contains("/itm/"));
    assert_eq!(mini.first_seen, start_time());
    assert!(
        mini.raw.contains("\"itemId\""),
        "raw payload kept: {}",
        mini.raw
    );
    assert_eq!(first.listings[1].condition, Condition::New);

    query.offset = 2;
    let second = ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.listings.len(), 1);
    assert_eq!(second.listings[0].price, usd(12_900));
    assert_eq!(second.listings[0].condition, Condition::Fair);
    assert_eq!(second.next_offset, None);
    // One token for all three calls.
    assert_eq!(s.sim.calls_today(Api::OAuthApplication), 1);
    assert_eq!(s.sim.calls_today(Api::Browse), 2);
    assert_eq!(ebay.calls_today(), 3);
}

#[tokio::test]
async fn fetch_reads_the_item_and_a_gone_item_is_not_found_without_retry() {
    let clock = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &clock).await;
    let id = s.add(
        "DJI Mini 2 Drone",
        34_900,
        "drone_dan",
        EbayCondition::UsedExcellent,
    );
    let store = store();
    let ebay = connector(s.settings(100), &store, &clock);
    let source: &dyn Source = &ebay;

    let item = source.fetch(&id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(item.external_id, id);
    assert_eq!(item.price, usd(34_900));
    assert_eq!(item.description, "DJI Mini 2 Drone\nWorks great.");
    assert_eq!(item.condition, Condition::Good);

    assert!(s.sim.end_listing(&id));
    let before = ebay.calls_today();
    let gone = source.fetch(&id).await;
    assert_eq!(gone, Err(SourceError::NotFound(id.clone())));
    assert_eq!(ebay.calls_today(), before + 1, "a 404 is not retried");
}

#[tokio::test]
async fn the_token_is_cached_until_shortly_before_it_expires() {
    let clock = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &clock).await;
    s.add(
        "Sony SRS-XB13 Speaker",
        3_999,
        "tech_tom",
        EbayCondition::New,
    );
    let store = store();
    let ebay = connector(s.settings(100), &store, &clock);
    let query = SearchQuery::new("sony");
    for _ in 0..3 {
        ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(s.sim.calls_today(Api::OAuthApplication), 1);
    // Still valid on eBay's side, but within the 5-minute margin: renewed before use.
    clock.advance_by(Duration::from_secs(7_200 - 299));
    ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.sim.calls_today(Api::OAuthApplication), 2);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once() {
    // eBay's clock runs ahead of ours: it expires the token while we think it is good.
    let ours = SimClock::new(start_time());
    let theirs = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &theirs).await;
    s.add(
        "Parrot Anafi Drone",
        28_900,
        "drone_dan",
        EbayCondition::UsedGood,
    );
    let store = store();
    let ebay = connector(s.settings(100), &store, &ours);
    let query = SearchQuery::new("drone");
    ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    s.clock.advance_by(Duration::from_secs(7_200));
    let page = ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.listings.len(), 1);
    assert_eq!(s.sim.calls_today(Api::OAuthApplication), 2);
}

#[tokio::test]
async fn a_token_refused_twice_is_an_auth_error() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        "/identity/v1/oauth2/token",
        vec![Reply::json(
            200,
            r#"{"access_token":"t","expires_in":7200,"token_type":"Application Access Token"}"#,
        )],
    );
    fake.script(
        "/buy/browse/v1/item_summary/search",
        vec![Reply::json(401, r#"{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST","message":"Invalid access token"}]}"#)],
    );
    let store = store();
    let ebay = connector(
        EbaySettings::new(&fake.base, "id", "secret", 100),
        &store,
        &clock,
    );
    let logs = Logs::capture();
    let result = ebay.search(&SearchQuery::new("anything")).await;
    assert!(matches!(result, Err(SourceError::Auth(_))), "{result:?}");
    assert_eq!(fake.hits("/buy/browse/v1/item_summary/search"), 2);
    assert_eq!(fake.hits("/identity/v1/oauth2/token"), 2);
    assert_eq!(logs.lines().len(), 1, "{:#?}", logs.lines());
}

#[tokio::test]
async fn the_daily_budget_counts_every_call_survives_a_restart_and_resets_the_next_day() {
    let clock = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &clock).await;
    s.add(
        "JBL Charge 4 Speaker",
        8_900,
        "sound_sally",
        EbayCondition::NewOther,
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let query = SearchQuery::new("jbl");
    {
        let store = SledStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let ebay = connector(s.settings(3), &store, &clock);
        ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}")); // token + search
        ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}")); // search
        let logs = Logs::capture();
        let refused = ebay.search(&query).await;
        assert_eq!(refused, Err(SourceError::BudgetExhausted { limit: 3 }));
        assert_eq!(logs.matching("budget").len(), 1, "{:#?}", logs.lines());
        assert_eq!(
            s.sim.calls_today(Api::Browse),
            2,
            "nothing sent past the budget"
        );
        store.flush().await.unwrap_or_else(|e| panic!("{e}"));
    }
    let store = SledStore::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let ebay = connector(s.settings(3), &store, &clock);
    assert_eq!(ebay.calls_today(), 3);
    assert!(matches!(
        ebay.search(&query).await,
        Err(SourceError::BudgetExhausted { .. })
    ));
    clock.advance_by(Duration::from_secs(24 * 3600));
    ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ebay.calls_today(), 2);
    let stored: Option<serde_json::Value> = store.get_meta(EBAY_BROWSE_CALLS).unwrap_or(None);
    assert_eq!(
        stored.map(|v| v["used"].clone()),
        Some(serde_json::json!(2))
    );
}

#[tokio::test]
async fn the_sims_429_backs_off_on_the_clock_then_says_rate_limited() {
    let clock = SimClock::new(start_time());
    let config = EbayConfig {
        limits: DailyLimits {
            browse: 1,
            ..DailyLimits::default()
        },
        ..EbayConfig::default()
    };
    let s = sim(config, &clock).await;
    s.add(
        "Bose SoundLink Flex Speaker",
        9_900,
        "audio_andy",
        EbayCondition::New,
    );
    let store = store();
    let ebay = connector(s.settings(100), &store, &clock);
    let query = SearchQuery::new("bose");
    ebay.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    let _driver = drive(&clock);
    let logs = Logs::capture();
    let result = ebay.search(&query).await;
    assert!(
        matches!(
            result,
            Err(SourceError::RateLimited {
                retry_after: Some(_)
            })
        ),
        "{result:?}"
    );
    // Backoff 1 s, 2 s, 4 s on the simulated clock, then the fourth failure gives up.
    assert!(clock.now() >= start_time() + chrono::Duration::seconds(7));
    assert_eq!(
        ebay.calls_today(),
        2 + 4,
        "every attempt counts against the budget"
    );
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("giving up after retries"), "{lines:#?}");
}

#[tokio::test]
async fn request_and_business_errors_are_never_retried() {
    let clock = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &clock).await;
    let store = store();
    let mut settings = s.settings(100);
    settings.marketplace_id = "EBAY_XX".into();
    let ebay = connector(settings, &store, &clock);
    let logs = Logs::capture();
    let result = ebay.search(&SearchQuery::new("bose")).await;
    match result {
        Err(SourceError::Http {
            status: 409,
            detail,
        }) => {
            assert!(
                detail.contains("12019") && detail.contains("BUSINESS"),
                "{detail}"
            )
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    assert_eq!(ebay.calls_today(), 2, "token + one search, no retry");
    assert_eq!(logs.lines().len(), 1, "{:#?}", logs.lines());
}

fn fake_ebay(fake: &FaultServer) {
    fake.script(
        "/identity/v1/oauth2/token",
        vec![Reply::json(
            200,
            r#"{"access_token":"t","expires_in":7200,"token_type":"Application Access Token"}"#,
        )],
    );
}

fn item(id: &str, value: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "itemId": id,
        "title": format!("Speaker {id}"),
        "price": value,
        "condition": "Used",
        "conditionId": "3000",
        "seller": {"username": "someone", "feedbackPercentage": "99", "feedbackScore": 3},
        "itemWebUrl": format!("https://www.ebay.com/itm/{id}"),
        "categories": [{"categoryId": "293"}],
    })
}

#[tokio::test]
async fn application_errors_and_500s_back_off_and_recover() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake_ebay(&fake);
    let ok = serde_json::json!({"total": 1, "limit": 50, "offset": 0,
        "itemSummaries": [item("v1|1|0", serde_json::json!({"value": "10.00", "currency": "USD"}))]});
    fake.script(
        "/buy/browse/v1/item_summary/search",
        vec![
            Reply::json(500, r#"{"errors":[{"errorId":12000,"domain":"API_BROWSE","category":"APPLICATION","message":"There was a problem with an eBay internal system or process."}]}"#),
            Reply::json(409, r#"{"errors":[{"errorId":25025,"domain":"API_BROWSE","category":"APPLICATION","message":"Concurrent access"}]}"#),
            Reply::json(200, ok.to_string()),
        ],
    );
    let store = store();
    let ebay = connector(
        EbaySettings::new(&fake.base, "id", "secret", 100),
        &store,
        &clock,
    );
    let _driver = drive(&clock);
    let logs = Logs::capture();
    let page = ebay
        .search(&SearchQuery::new("speaker"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.listings.len(), 1);
    assert_eq!(fake.hits("/buy/browse/v1/item_summary/search"), 3);
    assert!(clock.now() >= start_time() + chrono::Duration::seconds(3));
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("recovered after retries"), "{lines:#?}");
}

#[tokio::test]
async fn bad_prices_duplicates_and_broken_items_are_skipped_with_one_line_each() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake_ebay(&fake);
    let price = |v: &str| serde_json::json!({"value": v, "currency": "USD"});
    let mut no_title = item("v1|6|0", price("5.00"));
    no_title["title"] = serde_json::json!("");
    let items = vec![
        item("v1|1|0", price("19.99")),
        item("v1|1|0", price("19.99")),  // duplicate
        item("v1|2|0", price("1,2.00")), // not a decimal
        item(
            "v1|3|0",
            serde_json::json!({"value": "9.99", "currency": "XYZ"}),
        ), // currency
        item("v1|4|0", price("5000000.00")), // absurd
        item("v1|5|0", serde_json::Value::Null), // no price
        no_title,
        serde_json::json!({"title": "no id"}),
        item("v1|7|0", price("0.99")),
    ];
    let body = serde_json::json!({"total": 9, "limit": 50, "offset": 0, "itemSummaries": items});
    fake.script(
        "/buy/browse/v1/item_summary/search",
        vec![Reply::json(200, body.to_string())],
    );
    let store = store();
    let ebay = connector(
        EbaySettings::new(&fake.base, "id", "secret", 100),
        &store,
        &clock,
    );
    let logs = Logs::capture();
    let page = ebay
        .search(&SearchQuery::new("speaker"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kept: Vec<(&str, Money)> = page
        .listings
        .iter()
        .map(|l| (l.external_id.as_str(), l.price))
        .collect();
    assert_eq!(kept, [("v1|1|0", usd(1_999)), ("v1|7|0", usd(99))]);
    let reasons: Vec<(Option<&str>, &str)> = page
        .skipped
        .iter()
        .map(|s| (s.external_id.as_deref(), s.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 7, "{reasons:#?}");
    let reason_of = |id: &str| {
        reasons
            .iter()
            .find(|(i, _)| *i == Some(id))
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("{id} not skipped: {reasons:#?}"))
    };
    assert_eq!(reason_of("v1|1|0"), "duplicate in the same page");
    assert!(reason_of("v1|2|0").starts_with("bad price"));
    assert!(reason_of("v1|3|0").contains("unknown currency"));
    assert!(reason_of("v1|4|0").starts_with("absurd price"));
    assert_eq!(reason_of("v1|5|0"), "no price");
    assert_eq!(reason_of("v1|6|0"), "no title");
    assert!(reasons.contains(&(None, "no itemId")));
    assert_eq!(logs.matching("listing skipped").len(), 7);
    assert_eq!(logs.lines().len(), 7, "{:#?}", logs.lines());
}

#[tokio::test]
async fn a_malformed_body_is_one_clear_error() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake_ebay(&fake);
    fake.script(
        "/buy/browse/v1/item_summary/search",
        vec![Reply::html(200, "<html>maintenance</html>")],
    );
    let store = store();
    let ebay = connector(
        EbaySettings::new(&fake.base, "id", "secret", 100),
        &store,
        &clock,
    );
    let logs = Logs::capture();
    let result = ebay.search(&SearchQuery::new("speaker")).await;
    assert!(
        matches!(result, Err(SourceError::Malformed(_))),
        "{result:?}"
    );
    assert_eq!(logs.lines().len(), 1, "{:#?}", logs.lines());
    assert_eq!(fake.hits("/buy/browse/v1/item_summary/search"), 1);
}

#[tokio::test]
async fn settings_come_from_the_config_with_the_secret_resolved() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let clock = SimClock::new(start_time());
    let s = sim(EbayConfig::default(), &clock).await;
    s.add(
        "Bose SoundLink Mini II Speaker",
        7_999,
        "audio_andy",
        EbayCondition::UsedGood,
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let secret = dir.path().join("ebay-secret");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&secret)
        .unwrap_or_else(|e| panic!("{e}"));
    writeln!(file, "{}", s.config.client_secret).unwrap_or_else(|e| panic!("{e}"));
    let toml = dir.path().join("bazaar.toml");
    std::fs::write(
        &toml,
        format!(
            "[marketplaces.ebay]\nenabled = true\nbase_url = \"{}\"\nclient_id = \"{}\"\n\
             client_secret = {{ file = \"{}\" }}\n\n[policy]\nday_utc_offset_minutes = -480\n\n\
             [policy.limits]\napi_calls_per_day = 7\n",
            s.sim.base_url(),
            s.config.client_id,
            secret.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config = bazaar_config::Config::load(Some(&toml), std::iter::empty())
        .unwrap_or_else(|e| panic!("{e}"));
    let settings = EbaySettings::from_config(&config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(settings.daily_budget, 7);
    assert_eq!(settings.day_utc_offset_minutes, -480);
    assert!(!format!("{settings:?}").contains(&s.config.client_secret));
    let store = store();
    let ebay = connector(settings, &store, &clock);
    let page = ebay
        .search(&SearchQuery::new("bose"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.listings.len(), 1);
}
