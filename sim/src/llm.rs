//! An OpenAI-compatible chat-completions endpoint, deterministic and seeded, so the agent's
//! optional LLM path can be tested offline against the real request and response JSON.
//!
//! `POST /v1/chat/completions` reads the last user message and answers as a careful reader of
//! seller email would: a JSON object `{"intent", "price"}` (accept, counter, reject, question,
//! other; the price the text states as a decimal string like `"80.00"`, or null). The answer depends only on the
//! request and the seed. `GET /v1/models` lists the one model. Errors use OpenAI's shape
//! `{"error": {"message", "type", "param", "code"}}`.

use std::net::SocketAddr;

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

/// How the endpoint is started.
#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Seeds the completion ids (answers themselves depend only on the request).
    pub seed: u64,
    /// The API key clients must send as `Authorization: Bearer`.
    pub api_key: String,
    /// Unix time stamped into responses (`created`), so runs are byte-identical.
    pub created: i64,
}

#[derive(Clone)]
struct LlmState {
    config: LlmConfig,
}

/// The running endpoint.
#[derive(Debug)]
pub struct LlmSim {
    /// Where it listens; the base URL is `http://{addr}/v1`.
    pub addr: SocketAddr,
    _server: Server,
}

impl LlmSim {
    /// Serves the endpoint on 127.0.0.1 (any free port).
    pub async fn start(config: LlmConfig) -> std::io::Result<LlmSim> {
        let (listener, addr) = server::bind().await?;
        let server = Server::serve(listener, router(config), "llm");
        Ok(LlmSim {
            addr,
            _server: server,
        })
    }

    /// The base URL a client is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }
}

/// The endpoint's routes, for embedding in a larger sim server.
pub fn router(config: LlmConfig) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .with_state(LlmState { config })
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
    /// The model.
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
    Json(serde_json::json!({
        "object": "list",
        "data": [{ "id": MODEL, "object": "model", "created": state.config.created, "owned_by": "bazaar-sim" }]
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
    if request.model != MODEL {
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
    let reading = read_reply(&text);
    let content = serde_json::to_string(&reading).unwrap_or_default();
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
    let chars: Vec<char> = text.chars().collect();
    let start = chars.iter().position(|c| *c == '$')? + 1;
    let end = chars[start..]
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == ',' || *c == '.'))
        .map_or(chars.len(), |n| start + n);
    let raw: String = chars[start..end].iter().collect();
    let amount = Money::from_decimal_str(raw.trim_end_matches(['.', ',']), Currency::Usd).ok()?;
    Some(match chars.get(end) {
        Some('k') => amount.checked_mul(1000).ok()?,
        _ => amount,
    })
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
}
