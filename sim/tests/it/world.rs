//! The world driver: determinism of the event log, the ground truth, a seller thread over the
//! in-process post office, and buyers buying the agent's eBay listing.

use crate::mail_common;

use bazaar_sim::mail::MailTransport;
use bazaar_sim::scenario::Scenario;
use bazaar_sim::world::{World, WorldConfig};

async fn run_idle(scenario: Scenario, seed: u64) -> (Vec<String>, serde_json::Value) {
    let mut config = WorldConfig::new(scenario);
    config.seed = Some(seed);
    let mut world = World::start(config).await.expect("world starts");
    world.run_to_end().await.expect("world runs");
    let log = world.event_log().to_vec();
    let truth = world.ground_truth();
    world.shutdown().await.expect("shutdown");
    (log, truth)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_scenario_and_seed_give_byte_identical_event_logs() {
    let (first, truth) = run_idle(Scenario::builtin("small"), 7).await;
    let (second, _) = run_idle(Scenario::builtin("small"), 7).await;
    let (other, _) = run_idle(Scenario::builtin("small"), 8).await;
    assert_eq!(first.join("\n"), second.join("\n"));
    assert_ne!(first.join("\n"), other.join("\n"), "the seed must matter");

    let kinds = |event: &str| {
        first
            .iter()
            .filter(|l| l.contains(&format!("\"event\":\"{event}\"")))
            .count()
    };
    let scenario = Scenario::builtin("small");
    let total = scenario.sellers.craigslist + scenario.sellers.marketplace + scenario.sellers.ebay;
    assert_eq!(kinds("posted"), total);
    assert!(kinds("sold_elsewhere") > 0, "a week of sales elsewhere");
    assert!(kinds("price_drop") > 0, "some sellers drop their price");
    // Events are in time order.
    let times: Vec<String> = first
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["at"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));

    // The ground truth has what the sites never show.
    let listings = truth["listings"].as_array().unwrap();
    assert_eq!(listings.len(), total);
    let bargains = listings
        .iter()
        .filter(|l| {
            let price = |k: &str| l[k].as_str().unwrap().parse::<f64>().unwrap();
            price("asking") < price("market_value") * 0.85
        })
        .count();
    assert!(bargains > 0, "some listings are bargains");
    for l in listings {
        let price = |k: &str| l[k].as_str().unwrap().parse::<f64>().unwrap();
        assert!(price("reserve") <= price("asking"), "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_counters_under_the_reserve_and_accepts_at_it() {
    let mut world = World::start(WorldConfig::new(mail_common::flexible_scenario()))
        .await
        .unwrap();
    let office = world.post_office().unwrap().clone();
    let agent = office.transport(&world.endpoints().agent_mail).unwrap();
    let start = world.scenario().start;
    let seller = world.ground_truth()["listings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["venue"] == "craigslist"
                && l["posted_at"].as_str().unwrap() <= start.to_rfc3339().as_str()
        })
        .map(|l| l["reply_address"].as_str().unwrap().to_string())
        .expect("a posted craigslist listing");
    mail_common::seller_thread(&mut world, &agent, &seller).await;
    assert_eq!(agent.address(), "agent@bazaar.test");
    world.shutdown().await.unwrap();
}

use crate::support;

/// The agent's eBay listing of the world's first source item.
struct AgentsListing {
    id: String,
    price: String,
    value: f64,
}

/// A `small` world of `days`, buyers writing best offers at `offers_permille` a day, with the
/// agent selling its first source item on the sim's eBay at `price_factor` × its value.
async fn world_with_the_agents_listing(
    days: u32,
    offers_permille: u32,
    price_factor: f64,
) -> (World, AgentsListing) {
    let mut scenario = Scenario::builtin("small");
    scenario.days = days;
    scenario.buyers.best_offer_per_day_permille = offers_permille;
    let world = World::start(WorldConfig::new(scenario)).await.unwrap();
    let source = world.ground_truth()["listings"][0].clone();
    let title = source["title"].as_str().unwrap().to_string();
    let value: f64 = source["market_value"].as_str().unwrap().parse().unwrap();
    let price = format!("{:.2}", (value * price_factor).round());

    let config = bazaar_sim::ebay::EbayConfig {
        seed: world.seed(),
        ..Default::default()
    };
    let api = support::Ebay::new(world.ebay().addr(), &config);
    let (token, _) = api
        .user_tokens(world.ebay(), &support::seller_scopes())
        .await;
    let (_, id) = support::list_item(&api, &token, "SKU-1", &title, &price, 1).await;
    (world, AgentsListing { id, price, value })
}

/// The agent lists an item it bought from a world seller; buyers find it, watch it, write best
/// offers and buy it; left listed after the sale, it sells again: an oversell, recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyers_buy_the_agents_listing_and_oversells_are_recorded() {
    let (mut world, listing) = world_with_the_agents_listing(60, 300, 0.8).await;
    let listing_id = listing.id;

    let office = world.post_office().unwrap().clone();
    let agent = office.transport("agent@bazaar.test").unwrap();
    let mut mark = None;
    let mut answered = 0;
    let end = world.end();
    while world.now() < end
        && world.ground_truth()["oversells"]
            .as_array()
            .unwrap()
            .is_empty()
    {
        let next = world.now() + chrono::Duration::hours(6);
        world.run_until(next).await.unwrap();
        let batch = agent.fetch_new(mark, 10).await.unwrap();
        mark = Some(batch.mark);
        for offer in batch.messages {
            assert!(
                offer.envelope.subject.contains(&listing_id),
                "{}",
                offer.envelope.subject
            );
            let reply = bazaar_sim::mail::OutgoingMail::reply_to(
                &offer,
                agent.address(),
                "Deal, it's yours.",
                bazaar_sim::mail::MessageId::derive(&format!("answer-{answered}"), "bazaar.test"),
                world.now(),
            );
            agent.send(&reply).await.unwrap();
            answered += 1;
        }
    }
    let truth = world.ground_truth();
    let sales = truth["sales"].as_array().unwrap();
    assert!(
        sales.len() >= 2,
        "two sales of the one unit in 60 days: {truth:#}"
    );
    assert!(sales.iter().all(|s| s["listing_id"] == listing_id.as_str()));
    let oversells = truth["oversells"].as_array().unwrap();
    assert_eq!(oversells.len(), 1, "{truth:#}");
    assert_eq!(oversells[0]["order_id"], sales[1]["order_id"]);
    assert!(world.ebay().oversells().len() == 1);
    assert!(
        world
            .event_log()
            .iter()
            .any(|l| l.contains("\"event\":\"watch\"")),
        "buyers watch listings"
    );
    eprintln!("answered {answered} best offers; sales {sales:?}");
    world.shutdown().await.unwrap();
}

/// Buyers anchor their best offers on the asking price, but no buyer offers more than the item
/// is worth to them: a listing at three times its value draws offers under its value, and no
/// buyer pays that price outright.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overpriced_listing_draws_best_offers_under_its_value() {
    let (mut world, listing) = world_with_the_agents_listing(20, 1000, 3.0).await;
    let AgentsListing {
        id: listing_id,
        price,
        value,
    } = listing;

    let office = world.post_office().unwrap().clone();
    let agent = office.transport("agent@bazaar.test").unwrap();
    world.run_to_end().await.unwrap();
    let batch = agent.fetch_new(None, 100).await.unwrap();
    let offers: Vec<f64> = batch
        .messages
        .iter()
        .filter(|m| m.envelope.subject.contains(&listing_id))
        .map(|m| {
            let text = &m.text;
            let amount = text
                .split('$')
                .nth(1)
                .and_then(|rest| rest.split(|c: char| c != '.' && !c.is_ascii_digit()).next())
                .and_then(|n| n.trim_end_matches('.').parse::<f64>().ok());
            amount.unwrap_or_else(|| panic!("no amount in {text:?}"))
        })
        .collect();
    assert!(offers.len() >= 3, "offers: {offers:?}");
    for offered in &offers {
        assert!(
            *offered <= value,
            "offered {offered} on a listing at {price} worth {value}"
        );
    }
    let truth = world.ground_truth();
    assert!(
        truth["sales"].as_array().unwrap().is_empty(),
        "nobody pays three times the value: {truth:#}"
    );
    world.shutdown().await.unwrap();
}
