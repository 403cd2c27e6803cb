//! An OpenAI-compatible chat-completions endpoint, deterministic and seeded, so the agent's
//! optional LLM path can be tested offline against the real request and response JSON.
//!
//! `POST /v1/chat/completions` answers the last user message in one of two ways:
//!
//! - **reading** (the default): as a careful reader of seller email would, a JSON object
//!   `{"intent", "price"}` (accept, counter, reject, question, other; the price the text states
//!   as a decimal string like `"80.00"`, or null) — see [`read_reply`];
//! - **rewriting**, when a system message mentions [`REWRITE_CUE`] ("rewrite"): the user text
//!   rephrased ([`rewrite`]). Like a real model, it is sometimes wrong: seeded by the text,
//!   about one rewrite in four has a [`Flaw`] (a changed amount, an extra amount, or a promise
//!   the original never made — [`flaw_for`]), so the agent's check is exercised end to end.
//!
//! - **listing copy**, when a system message mentions [`LISTING_CUE`] ("listing copy"): the
//!   user message is the item's copy as JSON (`title`, `description`, `attributes`, …) and
//!   the answer a JSON object `{"title", "description"}` ([`rewrite_copy`]); one rewrite in
//!   four has a [`CopyFlaw`] (another condition, a changed number, another brand).
//!
//! Two models are served: [`MODEL`], and [`LIAR_MODEL`] for tests of the agent's distrust,
//! whose readings name a price the text does not state ([`lying_reading`]) and whose rewrites
//! are always flawed. The answer depends only on the model, the request text and the seed.
//! `GET /v1/models` lists the models. Errors use OpenAI's shape
//! `{"error": {"message", "type", "param", "code"}}`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{rejection::JsonRejection, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bazaar_memory::{Currency, Money};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::server::{self, Server};

/// The model name the endpoint serves.
pub const MODEL: &str = "bazaar-sim-1";

/// A model that is wrong on purpose, for tests: every reading names a price the text does
/// not state, every rewrite has a [`Flaw`].
pub const LIAR_MODEL: &str = "bazaar-sim-1-liar";

/// A request whose system message contains this word (in any case) asks for a rewrite.
pub const REWRITE_CUE: &str = "rewrite";

/// A request whose system message contains this phrase (in any case) asks for a rewrite of
/// listing copy; it is looked for before [`REWRITE_CUE`].
pub const LISTING_CUE: &str = "listing copy";

/// How the endpoint is started.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Seeds the completion ids and which rewrites are flawed (readings depend only on the
    /// request).
    pub seed: u64,
    /// The API key clients must send as `Authorization: Bearer`.
    pub api_key: String,
    /// Unix time stamped into responses (`created`), so runs are byte-identical.
    pub created: i64,
}

#[derive(Clone)]
struct LlmState {
    config: LlmConfig,
    answered: Arc<AtomicU64>,
}

/// The running endpoint.
#[derive(Debug)]
pub struct LlmSim {
    /// Where it listens; the base URL is `http://{addr}/v1`.
    pub addr: SocketAddr,
    answered: Arc<AtomicU64>,
    _server: Server,
}

impl LlmSim {
    /// Serves the endpoint on 127.0.0.1 (any free port).
    pub async fn start(config: LlmConfig) -> std::io::Result<LlmSim> {
        let (listener, addr) = server::bind().await?;
        let answered = Arc::new(AtomicU64::new(0));
        let app = routes(LlmState {
            config,
            answered: answered.clone(),
        });
        let server = Server::serve(listener, app, "llm");
        Ok(LlmSim {
            addr,
            answered,
            _server: server,
        })
    }

    /// Chat completions answered so far (authorized, well-formed requests).
    pub fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// The base URL a client is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// The endpoint's routes, for embedding in a larger sim server.
pub fn router(config: LlmConfig) -> Router {
    routes(LlmState {
        config,
        answered: Arc::default(),
    })
}

fn routes(state: LlmState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .with_state(state)
}

/// A chat message as OpenAI sends it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant`, …
    pub role: String,
    /// The text (`null` on some assistant messages).
    #[serde(default)]
    pub content: Option<String>,
}

/// The request body (fields the sim does not use are accepted and ignored).
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Ignored: the sim is deterministic.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Ignored.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// `{"type": "json_object"}` is honoured trivially: answers are always JSON.
    #[serde(default)]
    pub response_format: Option<serde_json::Value>,
}

fn decimal<S: serde::Serializer>(price: &Option<Money>, serializer: S) -> Result<S::Ok, S::Error> {
    match price {
        Some(money) => serializer.serialize_str(&money.to_decimal_string()),
        None => serializer.serialize_none(),
    }
}

fn error(
    status: StatusCode,
    kind: &str,
    message: &str,
    param: Option<&str>,
    code: Option<&str>,
) -> Response {
    let body = serde_json::json!({
        "error": { "message": message, "type": kind, "param": param, "code": code }
    });
    (status, Json(body)).into_response()
}

/// The refusal to answer with, if the request does not carry the API key.
fn unauthorized(state: &LlmState, headers: &HeaderMap) -> Option<Response> {
    let sent = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if sent == Some(state.config.api_key.as_str()) {
        return None;
    }
    Some(error(
        StatusCode::UNAUTHORIZED,
        "invalid_request_error",
        "Incorrect API key provided.",
        None,
        Some("invalid_api_key"),
    ))
}

async fn models(State(state): State<LlmState>, headers: HeaderMap) -> Response {
    if let Some(response) = unauthorized(&state, &headers) {
        return response;
    }
    let created = state.config.created;
    Json(serde_json::json!({
        "object": "list",
        "data": [
            { "id": MODEL, "object": "model", "created": created, "owned_by": "bazaar-sim" },
            { "id": LIAR_MODEL, "object": "model", "created": created, "owned_by": "bazaar-sim" }
        ]
    }))
    .into_response()
}

async fn chat_completions(
    State(state): State<LlmState>,
    headers: HeaderMap,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Response {
    if let Some(response) = unauthorized(&state, &headers) {
        return response;
    }
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                &format!(
                    "We could not parse the JSON body of your request. ({})",
                    rejection.body_text()
                ),
                None,
                None,
            )
        }
    };
    if request.model != MODEL && request.model != LIAR_MODEL {
        return error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            &format!(
                "The model `{}` does not exist or you do not have access to it.",
                request.model
            ),
            Some("model"),
            Some("model_not_found"),
        );
    }
    state.answered.fetch_add(1, Ordering::Relaxed);
    let Some(text) = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .and_then(|m| m.content.clone())
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "messages must contain at least one user message with content.",
            Some("messages"),
            None,
        );
    };
    let liar = request.model == LIAR_MODEL;
    // Which task: the instructions (system or developer messages) name it.
    let instructed = |cue: &str| {
        request.messages.iter().any(|m| {
            (m.role == "system" || m.role == "developer")
                && m.content
                    .as_deref()
                    .is_some_and(|c| c.to_lowercase().contains(cue))
        })
    };
    let (listing, rewriting) = (instructed(LISTING_CUE), instructed(REWRITE_CUE));
    let content = if listing {
        rewrite_copy(&text, copy_flaw_for(state.config.seed, liar, &text))
    } else if rewriting {
        rewrite(&text, flaw_for(state.config.seed, liar, &text))
    } else {
        let reading = if liar {
            lying_reading(&text)
        } else {
            read_reply(&text)
        };
        serde_json::to_string(&reading).unwrap_or_default()
    };
    let prompt_tokens: usize = request
        .messages
        .iter()
        .map(|m| m.content.as_deref().map_or(0, count_tokens))
        .sum();
    let completion_tokens = count_tokens(&content);
    let mut hasher = Sha256::new();
    hasher.update(state.config.seed.to_be_bytes());
    for message in &request.messages {
        hasher.update(message.role.as_bytes());
        hasher.update(message.content.as_deref().unwrap_or("").as_bytes());
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect();
    Json(serde_json::json!({
        "id": format!("chatcmpl-{digest}"),
        "object": "chat.completion",
        "created": state.config.created,
        "model": MODEL,
        "system_fingerprint": format!("fp_sim_{:x}", state.config.seed),
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content, "refusal": null },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens
        }
    }))
    .into_response()
}

/// A rough token count (words and punctuation), enough for `usage` to be plausible.
fn count_tokens(text: &str) -> usize {
    text.split(|c: char| c.is_whitespace() || c.is_ascii_punctuation())
        .filter(|w| !w.is_empty())
        .count()
        .max(1)
}

/// What the sim's model reads in a seller's reply.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// accept, counter, reject, question or other.
    pub intent: &'static str,
    /// The first dollar amount the text states (`$1,200`, `$1.2k`), if any, as a decimal
    /// string on the wire (`"1200.00"`): money is never a float.
    #[serde(serialize_with = "decimal")]
    pub price: Option<Money>,
}

/// A deliberately simple, deterministic reader: keyword intent and the first amount written
/// with a `$` or a `k`. It is a stand-in model for tests, not the agent's understanding.
pub fn read_reply(text: &str) -> Reading {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let price = first_amount(&lower);
    let intent = if has(&["sold", "no thanks", "not interested", "no deal", "too low"])
        && price.is_none()
    {
        "reject"
    } else if has(&["deal", "sounds good", "it's yours", "ok ", "okay", "accept"]) && !has(&["?"]) {
        "accept"
    } else if price.is_some() {
        "counter"
    } else if lower.contains('?') {
        "question"
    } else {
        "other"
    };
    Reading { intent, price }
}

fn first_amount(text: &str) -> Option<Money> {
    first_amount_span(text).map(|(_, _, amount)| amount)
}

/// The first amount written with a `$` (and an optional `k`): its byte span and value.
fn first_amount_span(text: &str) -> Option<(usize, usize, Money)> {
    let dollar = text.find('$')?;
    let start = dollar + 1;
    let digits = text[start..]
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .map_or(text.len(), |n| start + n);
    let raw = text[start..digits].trim_end_matches(['.', ',']);
    let amount = Money::from_decimal_str(raw, Currency::Usd).ok()?;
    let end = start + raw.len();
    match text[end..].chars().next() {
        Some('k') | Some('K') if end == digits => {
            Some((dollar, end + 1, amount.checked_mul(1000).ok()?))
        }
        _ => Some((dollar, end, amount)),
    }
}

/// What the liar model reads: a counter-offer $17 above the first amount the text states, or
/// $40 when it states none — a price never in the text.
pub fn lying_reading(text: &str) -> Reading {
    let price = match first_amount(&text.to_lowercase()) {
        Some(amount) => amount.checked_add(Money::usd(17_00)).ok(),
        None => Some(Money::usd(40_00)),
    };
    Reading {
        intent: "counter",
        price,
    }
}

/// How a rewrite goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flaw {
    /// The first `$` amount is $5 higher.
    ChangedAmount,
    /// " I could add $10 for gas." is appended.
    ExtraAmount,
    /// " I can pick it up today." is appended.
    PickupToday,
    /// " I'll pay shipping." is appended.
    PaysShipping,
}

impl Flaw {
    /// Every flaw.
    pub const ALL: [Flaw; 4] = [
        Flaw::ChangedAmount,
        Flaw::ExtraAmount,
        Flaw::PickupToday,
        Flaw::PaysShipping,
    ];
}

/// Which flaw, if any, the rewrite of `text` has: seeded by `seed` and the text, one rewrite
/// in four for the honest model, every one for the liar. A changed amount needs an amount:
/// without one it becomes an extra amount.
pub fn flaw_for(seed: u64, liar: bool, text: &str) -> Option<Flaw> {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_be_bytes());
    hasher.update(b"rewrite");
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    if !liar && digest[0] % 4 != 0 {
        return None;
    }
    let flaw = Flaw::ALL[usize::from(digest[1]) % Flaw::ALL.len()];
    if flaw == Flaw::ChangedAmount && first_amount_span(text).is_none() {
        return Some(Flaw::ExtraAmount);
    }
    Some(flaw)
}

/// Phrases the rewriter swaps, each looked up once in the original (no chains).
const REPHRASINGS: &[(&str, &str)] = &[
    ("Hi again", "Hello again"),
    ("Hello again", "Hi again"),
    ("Hey there", "Hi there"),
    ("Hi!", "Hello!"),
    ("Hi,", "Hello,"),
    ("Hey,", "Hi,"),
    ("Hello!", "Hi!"),
    ("Hello,", "Hi,"),
    ("Hello.", "Hi."),
    ("Thanks so much", "Many thanks"),
    ("Thanks!", "Thank you!"),
    ("Thanks.", "Thank you."),
    ("Thank you!", "Many thanks!"),
    ("Would you take", "Would you accept"),
    ("Could you do", "Would you consider"),
    ("How about", "What about"),
    ("would that work", "would that be okay"),
    ("Would that work", "Would that be okay"),
    ("Let me know", "Please let me know"),
    ("Just checking", "Just making sure"),
    ("Great,", "Excellent,"),
    ("Perfect,", "Excellent,"),
    ("Awesome,", "Great,"),
    ("Deal at", "Agreed at"),
    ("Agreed at", "Deal at"),
    ("Understood.", "Got it."),
    ("good luck", "best of luck"),
];

/// The sim's rewrite of `text`: the same message in other words (greetings, thanks and
/// questions swapped for synonyms; " Thank you." added when none applies), with `flaw` if
/// given.
pub fn rewrite(text: &str, flaw: Option<Flaw>) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(ch) = rest.chars().next() {
        match REPHRASINGS.iter().find(|(from, _)| rest.starts_with(from)) {
            Some((from, to)) => {
                out.push_str(to);
                rest = &rest[from.len()..];
            }
            None => {
                out.push(ch);
                rest = &rest[ch.len_utf8()..];
            }
        }
    }
    if out == text {
        out.push_str(" Thank you.");
    }
    match flaw {
        None => {}
        Some(Flaw::ChangedAmount) => match first_amount_span(&out) {
            Some((start, end, amount)) => {
                let higher = amount.checked_add(Money::usd(5_00)).unwrap_or(amount);
                let spoken = higher.to_string();
                let spoken = spoken.strip_suffix(".00").unwrap_or(&spoken);
                out.replace_range(start..end, spoken);
            }
            None => out.push_str(" I could add $10 for gas."),
        },
        Some(Flaw::ExtraAmount) => out.push_str(" I could add $10 for gas."),
        Some(Flaw::PickupToday) => out.push_str(" I can pick it up today."),
        Some(Flaw::PaysShipping) => out.push_str(" I'll pay shipping."),
    }
    out
}

/// How a rewrite of listing copy goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyFlaw {
    /// "Brand New " (or "Refurbished " for a new item) is put before the title.
    ChangedCondition,
    /// The first number in the title is 2 higher.
    ChangedNumber,
    /// The brand (the `brand` attribute) is swapped for another.
    OtherBrand,
}

impl CopyFlaw {
    /// Every flaw.
    pub const ALL: [CopyFlaw; 3] = [
        CopyFlaw::ChangedCondition,
        CopyFlaw::ChangedNumber,
        CopyFlaw::OtherBrand,
    ];
}

/// Which flaw, if any, the rewrite of the copy `text` has: seeded like [`flaw_for`], one in
/// four for the honest model, every one for the liar.
pub fn copy_flaw_for(seed: u64, liar: bool, text: &str) -> Option<CopyFlaw> {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_be_bytes());
    hasher.update(b"listing copy");
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    if !liar && digest[0] % 4 != 0 {
        return None;
    }
    Some(CopyFlaw::ALL[usize::from(digest[1]) % CopyFlaw::ALL.len()])
}

#[derive(Debug, Deserialize)]
struct CopyRequest {
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    attributes: std::collections::BTreeMap<String, String>,
}

/// The sim's rewrite of listing copy given as JSON: the title in title case, the
/// description kept (or the title, when there is none), with `flaw` if given; answered as
/// `{"title", "description"}`. Copy that is not JSON is answered with an empty object.
pub fn rewrite_copy(text: &str, flaw: Option<CopyFlaw>) -> String {
    let Ok(copy) = serde_json::from_str::<CopyRequest>(text) else {
        return "{}".to_string();
    };
    let mut title: String = copy
        .title
        .split_whitespace()
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ");
    let mut description = if copy.description.trim().is_empty() {
        format!("{title}.")
    } else {
        copy.description.trim().to_string()
    };
    match flaw {
        None => {}
        Some(CopyFlaw::ChangedCondition) => {
            let claim = if copy.condition == "new" {
                "Refurbished"
            } else {
                "Brand New"
            };
            title = format!("{claim} {title}");
        }
        Some(CopyFlaw::ChangedNumber) => match title.find(|c: char| c.is_ascii_digit()) {
            Some(start) => {
                let end = title[start..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(title.len(), |n| start + n);
                let number: u64 = title[start..end].parse().unwrap_or(0);
                title.replace_range(start..end, &(number + 2).to_string());
            }
            None => description.push_str(" 2 available."),
        },
        Some(CopyFlaw::OtherBrand) => {
            let brand = copy.attributes.get("brand").map(|b| b.trim().to_string());
            let other = if brand
                .as_deref()
                .is_some_and(|b| b.eq_ignore_ascii_case("sony"))
            {
                "Bose"
            } else {
                "Sony"
            };
            let at = brand
                .filter(|b| !b.is_empty())
                .and_then(|b| title.find(&b).map(|at| (at, b.len())));
            match at {
                Some((at, len)) => title.replace_range(at..at + len, other),
                None => title = format!("{other} {title}"),
            }
        }
    }
    serde_json::json!({ "title": title, "description": description }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_intent_and_the_stated_price() {
        let cases = [
            ("ok deal, see you tomorrow", "accept", None),
            ("best I can do is $80.", "counter", Some(8_000)),
            ("sorry it's sold", "reject", None),
            ("is it still available?", "question", None),
            ("I could go $1,200 firm", "counter", Some(120_000)),
            ("how about $1.2k", "counter", Some(120_000)),
            ("thanks", "other", None),
        ];
        for (text, intent, cents) in cases {
            let price = cents.map(Money::usd);
            assert_eq!(read_reply(text), Reading { intent, price }, "{text}");
        }
    }

    #[test]
    fn the_liar_names_a_price_the_text_never_states() {
        assert_eq!(
            lying_reading("best I can do is $80").price,
            Some(Money::usd(97_00))
        );
        assert_eq!(lying_reading("no thanks").price, Some(Money::usd(40_00)));
    }

    #[test]
    fn rewrites_swap_words_once_and_flaws_do_what_they_say() {
        let text = "Hi! Would you take $85 for it? Thanks!";
        assert_eq!(
            rewrite(text, None),
            "Hello! Would you accept $85 for it? Thank you!"
        );
        assert_eq!(rewrite("Ok.", None), "Ok. Thank you.");
        assert_eq!(
            rewrite(text, Some(Flaw::ChangedAmount)),
            "Hello! Would you accept $90 for it? Thank you!"
        );
        assert_eq!(
            rewrite("Agreed at $1,250.50.", Some(Flaw::ChangedAmount)),
            "Deal at $1,255.50."
        );
        assert!(rewrite(text, Some(Flaw::ExtraAmount)).ends_with("add $10 for gas."));
        assert!(rewrite(text, Some(Flaw::PickupToday)).ends_with("pick it up today."));
        assert!(rewrite(text, Some(Flaw::PaysShipping)).ends_with("I'll pay shipping."));
        assert_eq!(
            first_amount_span("about $1.2k?"),
            Some((6, 11, Money::usd(120_000)))
        );
    }

    #[test]
    fn about_one_honest_rewrite_in_four_is_flawed_and_every_liars_is() {
        let texts: Vec<String> = (0..400).map(|n| format!("Would ${n} work?")).collect();
        let flawed = texts
            .iter()
            .filter(|t| flaw_for(7, false, t).is_some())
            .count();
        assert!((60..140).contains(&flawed), "{flawed} of 400");
        assert!(texts.iter().all(|t| flaw_for(7, true, t).is_some()));
        let kinds: std::collections::HashSet<Flaw> =
            texts.iter().filter_map(|t| flaw_for(7, true, t)).collect();
        assert_eq!(kinds.len(), Flaw::ALL.len());
        assert_eq!(
            flaw_for(7, true, "Thanks, good luck!").map(|f| f != Flaw::ChangedAmount),
            Some(true)
        );
    }
}
