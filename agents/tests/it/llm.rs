//! The optional language model against the sim's OpenAI-compatible endpoint on 127.0.0.1:
//! a second opinion counts only with a price the text states, a rewrite only if it passes the
//! check, and a model that is down or slow changes nothing (quickly).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use bazaar_agents::llm::{copy_request, LlmClient, LlmSettings};
use bazaar_config::{Config, Secret, SecretValue};
use bazaar_memory::Money;
use bazaar_sim::llm::{
    copy_flaw_for, flaw_for, rewrite, rewrite_copy, CopyFlaw, LlmConfig, LlmSim, LIAR_MODEL, MODEL,
};
use bazaar_strategies::negotiation::writing::{compose, MessageKind};
use bazaar_strategies::negotiation::Persona;
use bazaar_strategies::understand::second_opinion::SECOND_OPINION_BELOW;
use bazaar_strategies::understand::{understand, Intent, NextStep, Reading, Reply};

const KEY: &str = "sk-sim-agent-test";
const SEED: u64 = 5;

async fn sim() -> LlmSim {
    LlmSim::start(LlmConfig {
        seed: SEED,
        api_key: KEY.into(),
        created: 1_775_000_000,
    })
    .await
    .unwrap()
}

/// A key as the agent gets one: resolved from a private file.
fn key(value: &str) -> SecretValue {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("llm-key");
    std::fs::write(&path, format!("{value}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    Secret::File(path).resolve("llm.api_key").unwrap()
}

fn settings(base_url: String, model: &str, timeout: Duration) -> LlmSettings {
    LlmSettings {
        base_url,
        model: model.into(),
        api_key: Some(key(KEY)),
        timeout,
        second_opinion: true,
        rewrite: true,
    }
}

fn client(sim: &LlmSim, model: &str) -> LlmClient {
    LlmClient::new(settings(sim.base_url(), model, Duration::from_secs(5))).unwrap()
}

fn reply(text: &str) -> Reply<'_> {
    Reply {
        text,
        listing_price: Money::usd(10_000),
        our_last_offer: Some(Money::usd(60_00)),
    }
}

/// The rule reading of `text`, checked to be unsure enough for a second opinion.
#[track_caller]
fn unsure(text: &str) -> Reading {
    let reading = understand(&reply(text));
    assert!(
        reading.confidence < SECOND_OPINION_BELOW,
        "{text:?}: {reading:?}"
    );
    reading
}

/// Every template text, with the amount it states.
fn emails() -> Vec<(String, Option<Money>)> {
    let mut emails = Vec::new();
    for persona in Persona::ALL {
        for kind in MessageKind::ALL {
            for variant in 0..3 {
                let offer = (kind != MessageKind::WalkAway).then(|| Money::usd(8_500));
                emails.push((compose(persona, kind, offer, variant), offer));
            }
        }
    }
    emails
}

/// An address where nothing listens.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/v1")
}

/// An endpoint that accepts connections and never answers.
async fn silent_endpoint() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (format!("http://{addr}/v1"), task)
}

#[tokio::test]
async fn a_second_opinion_with_the_texts_price_makes_an_unsure_reading_actionable() {
    let sim = sim().await;
    let llm = client(&sim, MODEL);
    let text = "$80 or $90";
    let rule = unsure(text);
    assert_eq!(
        (rule.intent, rule.price),
        (Intent::Counter, Some(Money::usd(80_00)))
    );

    let opinion = llm.second_opinion(&reply(text)).await.unwrap();
    assert_eq!(opinion.intent, Intent::Counter);
    assert_eq!(opinion.price, Some(Money::usd(80_00)));

    let reading = llm.reconsider(&reply(text), rule).await;
    assert_eq!(reading.intent, Intent::Counter);
    assert_eq!(reading.price, Some(Money::usd(80_00)));
    assert!(reading.confidence > rule.confidence);
    assert_eq!(reading.next_step(), NextStep::Proceed);
}

#[tokio::test]
async fn a_second_opinion_with_a_price_not_in_the_text_is_discarded() {
    let sim = sim().await;
    let llm = client(&sim, LIAR_MODEL);
    let text = "$80 or $90";
    let rule = unsure(text);
    let opinion = llm.second_opinion(&reply(text)).await.unwrap();
    assert_eq!(
        opinion.price,
        Some(Money::usd(97_00)),
        "the liar invents $97"
    );
    assert_eq!(llm.reconsider(&reply(text), rule).await, rule);

    // no number at all in the text: an invented one changes nothing either
    let text = "ok i guess";
    let rule = unsure(text);
    assert_eq!(llm.reconsider(&reply(text), rule).await, rule);
}

#[tokio::test]
async fn a_sure_reading_or_a_disabled_second_opinion_never_asks_the_model() {
    let (silent, task) = silent_endpoint().await;
    let slow = Duration::from_secs(30);
    let llm = LlmClient::new(settings(silent.clone(), MODEL, slow)).unwrap();
    let text = "would $85 work";
    let sure = understand(&reply(text));
    assert!(sure.confidence >= SECOND_OPINION_BELOW);
    let started = Instant::now();
    assert_eq!(llm.reconsider(&reply(text), sure).await, sure);

    let off = LlmClient::new(LlmSettings {
        second_opinion: false,
        rewrite: false,
        ..settings(silent, MODEL, slow)
    })
    .unwrap();
    let rule = unsure("$80 or $90");
    assert_eq!(off.reconsider(&reply("$80 or $90"), rule).await, rule);
    assert_eq!(
        off.rewrite("Would $85 work?", Some(Money::usd(8_500)))
            .await,
        "Would $85 work?"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    task.abort();
}

#[tokio::test]
async fn rewrites_are_kept_when_they_pass_the_check_and_dropped_when_they_do_not() {
    let sim = sim().await;
    let llm = client(&sim, MODEL);
    let (mut kept, mut dropped) = (0, 0);
    for (text, offer) in emails() {
        let sent = llm.rewrite(&text, offer).await;
        match flaw_for(SEED, false, &text) {
            None => {
                assert_eq!(sent, rewrite(&text, None), "a clean rewrite is sent");
                assert_ne!(sent, text);
                kept += 1;
            }
            Some(flaw) => {
                assert_eq!(sent, text, "{flaw:?}: the template's text is sent");
                dropped += 1;
            }
        }
    }
    assert!(kept > 0 && dropped > 0, "{kept} kept, {dropped} dropped");

    let liar = client(&sim, LIAR_MODEL);
    for (text, offer) in emails().into_iter().take(12) {
        assert_eq!(liar.rewrite(&text, offer).await, text, "{text}");
    }
}

/// Listing copy of items in the sim's catalogue style, drafted for eBay, with attributes.
fn copies() -> Vec<(
    bazaar_strategies::listing::ListingDraft,
    BTreeMap<String, String>,
)> {
    use bazaar_memory::{Condition, Marketplace};
    use bazaar_strategies::listing::{draft, ItemFacts};
    use bazaar_strategies::valuation::ValuationConfig;
    let items = [
        (
            "trek fx 3 disc hybrid bike, 54cm",
            "Rides well, tuned in 2024.",
            "Trek",
            Condition::Good,
        ),
        (
            "bose soundlink mini ii speaker",
            "With charging cradle.",
            "Bose",
            Condition::LikeNew,
        ),
        ("sony wh-1000xm4 headphones", "", "Sony", Condition::Good),
        (
            "nintendo switch oled 64gb",
            "Two joy-cons, dock.",
            "Nintendo",
            Condition::Fair,
        ),
        (
            "canon eos rebel t7 with 18-55mm lens",
            "Shutter count 4100.",
            "Canon",
            Condition::Good,
        ),
        ("ikea poang armchair", "Pickup only.", "", Condition::Good),
        (
            "specialized rockhopper 29 mountain bike",
            "Size large.",
            "Specialized",
            Condition::Good,
        ),
        (
            "apple ipad 9th gen 64gb wifi",
            "Screen protector on since day 1.",
            "Apple",
            Condition::LikeNew,
        ),
        (
            "dyson v8 cordless vacuum",
            "Battery holds 30 min.",
            "Dyson",
            Condition::Fair,
        ),
        ("garmin forerunner 245 watch", "", "Garmin", Condition::Good),
        (
            "lego millennium falcon 75257",
            "All pieces, no box.",
            "LEGO",
            Condition::Good,
        ),
        (
            "kitchenaid artisan 5 qt stand mixer",
            "Red.",
            "KitchenAid",
            Condition::Good,
        ),
    ];
    items
        .iter()
        .map(|(title, description, brand, condition)| {
            let attributes: BTreeMap<String, String> = if brand.is_empty() {
                BTreeMap::new()
            } else {
                [("brand".to_string(), brand.to_string())].into()
            };
            let facts = ItemFacts {
                title,
                description,
                category: "electronics",
                condition: *condition,
                images: &[],
                attributes: &attributes,
                cost: Money::usd(40_00),
                market_value: Some(Money::usd(90_00)),
            };
            let copy = draft(
                &facts,
                Marketplace::Ebay,
                &ValuationConfig::default(),
                2_000,
            );
            (copy, attributes)
        })
        .collect()
}

#[tokio::test]
async fn copy_rewrites_are_kept_when_they_keep_the_facts_and_dropped_when_they_change_one() {
    let sim = sim().await;
    let llm = client(&sim, MODEL);
    let (mut kept, mut dropped) = (0, 0);
    for (copy, attributes) in copies() {
        let request = copy_request(&copy, &attributes);
        let rewritten = llm.rewrite_copy(&copy, &attributes).await;
        match copy_flaw_for(SEED, false, &request) {
            None => {
                let answer: serde_json::Value =
                    serde_json::from_str(&rewrite_copy(&request, None)).unwrap();
                let expected = (
                    answer["title"].as_str().unwrap().to_string(),
                    answer["description"].as_str().unwrap().to_string(),
                );
                assert_ne!(expected.0, copy.title, "the sim changes the title");
                assert_eq!(rewritten, Some(expected), "a clean rewrite is kept");
                kept += 1;
            }
            Some(flaw) => {
                assert_eq!(rewritten, None, "{flaw:?} in {:?} is caught", copy.title);
                dropped += 1;
            }
        }
    }
    assert!(kept > 0 && dropped > 0, "{kept} kept, {dropped} dropped");

    // Every kind of changed fact is caught.
    let liar = client(&sim, LIAR_MODEL);
    let mut flaws = std::collections::BTreeSet::new();
    for (copy, attributes) in copies() {
        let flaw = copy_flaw_for(SEED, true, &copy_request(&copy, &attributes)).unwrap();
        flaws.insert(format!("{flaw:?}"));
        assert_eq!(
            liar.rewrite_copy(&copy, &attributes).await,
            None,
            "{flaw:?}: {:?}",
            copy.title
        );
    }
    assert_eq!(flaws.len(), CopyFlaw::ALL.len(), "{flaws:?}");
}

#[tokio::test]
async fn a_model_that_is_down_refuses_or_hangs_changes_nothing_quickly() {
    let text = "$80 or $90";
    let rule = unsure(text);
    let email = "Hi, I'm interested. Would $85 work for you?";
    let offer = Some(Money::usd(8_500));

    let down =
        LlmClient::new(settings(closed_port().await, MODEL, Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    assert_eq!(down.second_opinion(&reply(text)).await, None);
    assert_eq!(down.reconsider(&reply(text), rule).await, rule);
    assert_eq!(down.rewrite(email, offer).await, email);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let (silent, task) = silent_endpoint().await;
    let hangs = LlmClient::new(settings(silent, MODEL, Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    assert_eq!(hangs.second_opinion(&reply(text)).await, None);
    assert_eq!(hangs.rewrite(email, offer).await, email);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(3),
        "{took:?}"
    );
    task.abort();

    let sim = sim().await;
    let refused = LlmClient::new(LlmSettings {
        api_key: Some(key("sk-wrong")),
        ..settings(sim.base_url(), MODEL, Duration::from_secs(5))
    })
    .unwrap();
    assert_eq!(refused.second_opinion(&reply(text)).await, None);
    assert_eq!(refused.rewrite(email, offer).await, email);
    let unknown_model = client(&sim, "gpt-nope");
    assert_eq!(unknown_model.second_opinion(&reply(text)).await, None);
}

#[tokio::test]
async fn the_client_comes_from_the_config_and_never_prints_its_key() {
    let config = Config::load(None, std::iter::empty()).unwrap();
    assert!(
        LlmClient::from_config(&config.llm).unwrap().is_none(),
        "off by default"
    );

    let mut config = config.llm.clone();
    config.enabled = true;
    config.api_key = Some(Secret::Env("BAZAAR_TEST_LLM_KEY_THAT_IS_NOT_SET".into()));
    let error = LlmClient::from_config(&config).unwrap_err().to_string();
    assert!(
        error.contains("llm.api_key") && error.contains("not set"),
        "{error}"
    );

    let sim = sim().await;
    let llm = client(&sim, MODEL);
    let printed = format!("{llm:?} {:?}", llm.settings());
    assert!(!printed.contains(KEY), "{printed}");
    assert!(printed.contains(&sim.base_url()), "{printed}");

    let bad_key = LlmClient::new(LlmSettings {
        api_key: Some(key("sk with spaces")),
        ..settings(sim.base_url(), MODEL, Duration::from_secs(1))
    })
    .unwrap_err()
    .to_string();
    assert!(bad_key.contains("llm.api_key"), "{bad_key}");
    assert!(!bad_key.contains("sk with spaces"), "{bad_key}");
}
