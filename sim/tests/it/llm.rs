//! The OpenAI-compatible endpoint over real HTTP: OpenAI's request and response shapes,
//! its error shape, the same answer for the same request every time, rewrites (sometimes
//! flawed, as the agent's check expects) and the liar model.

use bazaar_memory::Money;
use bazaar_sim::llm::{flaw_for, rewrite, LlmConfig, LlmSim, LIAR_MODEL, MODEL};
use bazaar_strategies::negotiation::writing::{
    compose, validate_plain_rewrite, validate_rewrite, MessageKind,
};
use bazaar_strategies::negotiation::Persona;
use serde_json::{json, Value};

const KEY: &str = "sk-sim-test";

async fn start(seed: u64) -> LlmSim {
    LlmSim::start(LlmConfig {
        seed,
        api_key: KEY.into(),
        created: 1_775_000_000,
    })
    .await
    .unwrap()
}

async fn complete(sim: &LlmSim, key: &str, body: Value) -> (u16, String) {
    bazaar_mail::install_crypto_provider();
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", sim.base_url()))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn request(text: &str) -> Value {
    json!({
        "model": MODEL,
        "messages": [
            { "role": "system", "content": "Read the seller's reply. Answer JSON {intent, price}." },
            { "role": "user", "content": text }
        ],
        "temperature": 0,
        "response_format": { "type": "json_object" }
    })
}

#[tokio::test]
async fn a_completion_has_openais_shape_and_a_reading_of_the_reply() {
    let sim = start(7).await;
    let (status, body) = complete(&sim, KEY, request("best I can do is $80, cash only")).await;
    assert_eq!(status, 200, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["choices"][0]["index"], 0);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    assert_eq!(body["choices"][0]["message"]["role"], "assistant");
    let usage = &body["usage"];
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    let content: Value =
        serde_json::from_str(body["choices"][0]["message"]["content"].as_str().unwrap()).unwrap();
    assert_eq!(content, json!({ "intent": "counter", "price": "80.00" }));
}

#[tokio::test]
async fn the_same_request_and_seed_give_byte_identical_answers() {
    let (a, b, c) = (start(7).await, start(7).await, start(8).await);
    let text = "ok deal, I'll hold it for you";
    let first = complete(&a, KEY, request(text)).await;
    assert_eq!(first, complete(&b, KEY, request(text)).await);
    assert_eq!(first, complete(&a, KEY, request(text)).await);
    assert_ne!(
        first.1,
        complete(&c, KEY, request(text)).await.1,
        "the seed shows in ids"
    );
}

#[tokio::test]
async fn errors_use_openais_error_shape() {
    let sim = start(1).await;
    let check = |(status, body): (u16, String), expected_status: u16, code: Value| {
        assert_eq!(status, expected_status, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], code);
    };
    check(
        complete(&sim, "sk-wrong", request("hi")).await,
        401,
        json!("invalid_api_key"),
    );
    let mut unknown = request("hi");
    unknown["model"] = json!("gpt-9");
    check(
        complete(&sim, KEY, unknown).await,
        404,
        json!("model_not_found"),
    );
    check(
        complete(
            &sim,
            KEY,
            json!({ "model": MODEL, "messages": [{ "role": "system", "content": "x" }] }),
        )
        .await,
        400,
        Value::Null,
    );
    check(
        complete(&sim, KEY, json!({ "messages": "nope" })).await,
        400,
        Value::Null,
    );
    bazaar_mail::install_crypto_provider();
    let models: Value = reqwest::Client::new()
        .get(format!("{}/models", sim.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], MODEL);
}

fn rewrite_request(model: &str, text: &str) -> Value {
    json!({
        "model": model,
        "messages": [
            { "role": "system", "content": "Rewrite the buyer's email in your own words. Keep the amount." },
            { "role": "user", "content": text }
        ]
    })
}

fn content(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap();
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rewrites_keep_the_message_and_some_are_flawed_the_way_the_check_catches() {
    let seed = 11;
    let sim = start(seed).await;
    let (mut clean, mut flawed) = (0, 0);
    for persona in Persona::ALL {
        for kind in MessageKind::ALL {
            for variant in 0..3 {
                let offer = (kind != MessageKind::WalkAway).then(|| Money::usd(8_500));
                let text = compose(persona, kind, offer, variant);
                let (status, body) = complete(&sim, KEY, rewrite_request(MODEL, &text)).await;
                assert_eq!(status, 200, "{body}");
                let rewritten = content(&body);
                let flaw = flaw_for(seed, false, &text);
                assert_eq!(rewritten, rewrite(&text, flaw), "{text}");
                assert_ne!(rewritten, text);
                let verdict = match offer {
                    Some(offer) => validate_rewrite(&text, offer, &rewritten),
                    None => validate_plain_rewrite(&text, &rewritten),
                };
                match flaw {
                    None => {
                        assert!(verdict.is_ok(), "{text:?} -> {rewritten:?}: {verdict:?}");
                        clean += 1;
                    }
                    Some(flaw) => {
                        assert!(verdict.is_err(), "{flaw:?} {text:?} -> {rewritten:?}");
                        flawed += 1;
                    }
                }
            }
        }
    }
    assert!(clean > 0 && flawed > 0, "{clean} clean, {flawed} flawed");
}

#[tokio::test]
async fn the_liar_model_invents_prices_and_spoils_every_rewrite() {
    let sim = start(3).await;
    let mut reading = request("best I can do is $80");
    reading["model"] = json!(LIAR_MODEL);
    let (status, body) = complete(&sim, KEY, reading).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&content(&body)).unwrap();
    assert_eq!(answer, json!({ "intent": "counter", "price": "97.00" }));
    let text = "Hi, I'm interested. Would $85 work for you?";
    let (status, body) = complete(&sim, KEY, rewrite_request(LIAR_MODEL, text)).await;
    assert_eq!(status, 200, "{body}");
    assert!(validate_rewrite(text, Money::usd(8_500), &content(&body)).is_err());
    bazaar_mail::install_crypto_provider();
    let models: Value = reqwest::Client::new()
        .get(format!("{}/models", sim.base_url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][1]["id"], LIAR_MODEL);
}
