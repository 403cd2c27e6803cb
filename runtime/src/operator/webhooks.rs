//! Outbound webhooks: the gate's events POSTed as signed JSON.
//!
//! One task listens to the gate's event broadcast and turns each event into deliveries (one
//! per webhook that wants it) on a bounded queue; a full queue drops the delivery with a
//! warning, so the gate never waits for a receiver. A second task runs deliveries (a few
//! at a time), retrying network errors, 5xx and 429 answers with exponential backoff
//! (`webhook_retries`, `webhook_backoff_initial_ms`). Other 4xx answers are not retried.
//!
//! The body:
//!
//! ```json
//! {"event": "approval_needed", "data": {…the GateEvent…}, "text": "…one line…",
//!  "content": "…the same line…", "sent_at": "RFC 3339",
//!  "approve_url": "…", "reject_url": "…", "links_expire_at": "…", "inbox_url": "…"}
//! ```
//!
//! `text` is what Slack shows and `content` what Discord shows; the links only come with
//! `approval_needed` and only when `operator.token` is set. Each attempt is signed afresh:
//! `X-Bazaar-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`; receivers check
//! it with [`bazaar_policies::signing::verify_webhook`]. `X-Bazaar-Delivery` is the same on
//! every attempt of one delivery, for deduplication. Webhook URLs (Slack's carry a secret)
//! and secrets are never logged: only scheme and host are.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bazaar_memory::{ActionRecord, Approval, Store};
use bazaar_policies::signing;
use bazaar_policies::GateEvent;
use tokio::sync::{broadcast, mpsc, watch, Semaphore};
use tokio::task::JoinSet;

use super::links::Links;
use super::{OperatorContext, Webhook, WebhookStats};

/// Deliveries waiting to be sent; past this, new ones are dropped with a warning.
pub const QUEUE: usize = 256;

/// Deliveries in flight at once.
const CONCURRENT: usize = 4;

/// Longest wait between two attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    /// Wait before the first retry; doubles each time (at most 5 minutes).
    pub initial: Duration,
}

impl RetryPolicy {
    /// The wait before retry `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1));
        self.initial.saturating_mul(factor).min(BACKOFF_MAX)
    }
}

/// `scheme://host/…`: enough to tell webhooks apart in logs without leaking a secret path.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}{}/…",
            parsed.scheme(),
            parsed.host_str().unwrap_or("?"),
            parsed.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "(unparsable url)".into(),
    }
}

/// Makes text that may hold a seller's words inert in Slack and Discord: Slack's markup
/// (`&`, `<`, `>`: `<!everyone>`, `<url|label>`) is escaped, a word joiner after each `@`
/// keeps `@everyone` and `@here` from pinging, and one between `]` and `(` keeps a
/// markdown link (`[click](https://…)`) from rendering as a disguised link. Bodies also
/// carry `allowed_mentions: {parse: []}`, Discord's own switch for the same.
pub fn neutralise(text: &str) -> String {
    const JOINER: char = '\u{2060}';
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous = None;
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '(' if previous == Some(']') => {
                out.push(JOINER);
                out.push('(');
            }
            '@' => {
                out.push('@');
                out.push(JOINER);
            }
            c => out.push(c),
        }
        previous = Some(c);
    }
    out
}

/// The one-line text for an event.
pub fn event_text(event: &GateEvent) -> String {
    match event {
        GateEvent::ApprovalNeeded { summary, .. } => format!("Approval needed: {summary}"),
        GateEvent::ActionExecuted { kind, target, .. } => format!("Executed {kind} on {target}"),
        GateEvent::ActionBlocked { action, reason } => {
            format!("Blocked action {action}: {reason}")
        }
        GateEvent::LimitWarning { message } => format!("Limit warning: {message}"),
        GateEvent::SaleDetected { summary } => format!("Sale: {summary}"),
        GateEvent::SourceDegraded { message, .. } => format!("Source degraded: {message}"),
        GateEvent::Error { message } => format!("Error: {message}"),
    }
}

struct Delivery {
    id: String,
    event: &'static str,
    url: String,
    secret: bazaar_config::SecretValue,
    previous_secret: Option<bazaar_config::SecretValue>,
    body: Arc<Vec<u8>>,
}

/// The running webhook tasks.
pub struct Dispatcher {
    stop: watch::Sender<bool>,
    hooks: watch::Sender<Vec<Webhook>>,
    listener: tokio::task::JoinHandle<()>,
    sender: tokio::task::JoinHandle<()>,
}

impl Dispatcher {
    /// Subscribes to the gate's events and starts delivering.
    pub fn spawn(
        ctx: OperatorContext,
        hooks: Vec<Webhook>,
        retry: RetryPolicy,
        links: Option<Links>,
        inbox_url: String,
        stats: Arc<WebhookStats>,
    ) -> Dispatcher {
        let (stop, stopped) = watch::channel(false);
        let (queue, deliveries) = mpsc::channel::<Delivery>(QUEUE);
        let events = ctx.events.subscribe();
        let (hooks, current_hooks) = watch::channel(hooks);
        let listener = tokio::spawn(listen(
            ctx,
            events,
            current_hooks,
            links,
            inbox_url,
            queue,
            stats.clone(),
            stopped.clone(),
        ));
        let sender = tokio::spawn(send_all(deliveries, retry, stats, stopped));
        Dispatcher {
            stop,
            hooks,
            listener,
            sender,
        }
    }

    /// Replaces the webhooks (their URLs, secrets and events) for the events from now on;
    /// deliveries already queued keep the secrets they were made with.
    pub fn reload(&self, hooks: Vec<Webhook>) {
        self.hooks.send_replace(hooks);
    }

    /// Stops taking events, gives queued deliveries up to `grace`, then abandons the rest.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = self.listener.await;
        let abort = self.sender.abort_handle();
        if tokio::time::timeout(grace, self.sender).await.is_err() {
            abort.abort();
            tracing::warn!("webhook deliveries still pending at shutdown were abandoned");
        }
    }
}

fn wants(hook: &Webhook, event: &str) -> bool {
    hook.events.is_empty() || hook.events.iter().any(|e| e == event)
}

/// The JSON body for `event`.
pub(crate) fn payload(
    ctx: &OperatorContext,
    event: &GateEvent,
    links: Option<&Links>,
    inbox_url: &str,
) -> serde_json::Value {
    let mut text = neutralise(&event_text(event));
    let mut body = serde_json::json!({
        "event": event.name(),
        "allowed_mentions": { "parse": [] },
        "data": event,
        "sent_at": ctx.clock.now().to_rfc3339(),
        "inbox_url": inbox_url,
    });
    if let GateEvent::ApprovalNeeded {
        approval, action, ..
    } = event
    {
        // Enrich with what the inbox shows; the store has it already (flushed before the
        // event was sent).
        if let Ok(Some(record)) = ctx.store.get::<ActionRecord>(action) {
            if let Some(confidence) = record.confidence {
                text.push_str(&format!(" (confidence {:.0}%)", confidence * 100.0));
            }
            body["value"] = serde_json::json!(record.value.map(|v| v.to_string()));
            body["confidence"] = serde_json::json!(record.confidence);
        }
        if let Ok(Some(request)) = ctx.store.get::<Approval>(approval) {
            text.push_str(&format!(". Why: {}", neutralise(&request.reason)));
            body["reason"] = serde_json::json!(request.reason);
            body["deadline"] = serde_json::json!(request.deadline);
        }
        match links {
            Some(links) => {
                let pair = links.make(*approval);
                text.push_str(&format!(
                    ". Approve: {} · Reject: {}",
                    pair.approve_url, pair.reject_url
                ));
                body["approve_url"] = serde_json::json!(pair.approve_url);
                body["reject_url"] = serde_json::json!(pair.reject_url);
                body["links_expire_at"] = serde_json::json!(pair.expires.to_rfc3339());
            }
            None => text.push_str(&format!(". Inbox: {inbox_url}")),
        }
    }
    body["text"] = serde_json::json!(text);
    body["content"] = serde_json::json!(text);
    body
}

#[allow(clippy::too_many_arguments)]
async fn listen(
    ctx: OperatorContext,
    mut events: broadcast::Receiver<GateEvent>,
    hooks: watch::Receiver<Vec<Webhook>>,
    links: Option<Links>,
    inbox_url: String,
    queue: mpsc::Sender<Delivery>,
    stats: Arc<WebhookStats>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            event = events.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "webhooks fell behind the gate's events; some were not sent"
                );
                stats.dropped.fetch_add(missed, Ordering::Relaxed);
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        };
        let name = event.name();
        let targets: Vec<Webhook> = hooks
            .borrow()
            .iter()
            .filter(|h| wants(h, name))
            .cloned()
            .collect();
        if targets.is_empty() {
            continue;
        }
        let body = payload(&ctx, &event, links.as_ref(), &inbox_url);
        let body = Arc::new(serde_json::to_vec(&body).unwrap_or_default());
        for hook in targets {
            let delivery = Delivery {
                id: signing::to_hex(&rand::random::<[u8; 12]>()),
                event: name,
                url: hook.url.clone(),
                secret: hook.secret.clone(),
                previous_secret: hook.previous_secret.clone(),
                body: body.clone(),
            };
            if let Err(mpsc::error::TrySendError::Full(dropped)) = queue.try_send(delivery) {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    event = dropped.event,
                    url = %redact_url(&dropped.url),
                    queue = QUEUE,
                    "webhook queue is full; dropped this delivery (is the receiver down?)"
                );
            }
        }
    }
    // Dropping `queue` lets the sender drain what is queued and finish.
}

async fn send_all(
    mut deliveries: mpsc::Receiver<Delivery>,
    retry: RetryPolicy,
    stats: Arc<WebhookStats>,
    stopped: watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder()
        .tls_backend_preconfigured(bazaar_mail::tls_client_config())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("bazaar/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the webhook HTTP client; webhooks are off");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let mut running = JoinSet::new();
    while let Some(delivery) = deliveries.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let client = client.clone();
        let stats = stats.clone();
        let stopped = stopped.clone();
        running.spawn(async move {
            deliver(&client, delivery, retry, &stats, stopped).await;
            drop(slot);
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn deliver(
    client: &reqwest::Client,
    delivery: Delivery,
    retry: RetryPolicy,
    stats: &WebhookStats,
    mut stopped: watch::Receiver<bool>,
) {
    let url = redact_url(&delivery.url);
    let mut attempt = 0u32;
    loop {
        // Signed per attempt with the wall clock: receivers compare it with theirs.
        let mut secrets = vec![delivery.secret.expose().as_bytes()];
        secrets.extend(
            delivery
                .previous_secret
                .iter()
                .map(|s| s.expose().as_bytes()),
        );
        let signature = signing::sign_webhook_rotating(&secrets, unix_now(), &delivery.body);
        let result = client
            .post(&delivery.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(signing::SIGNATURE_HEADER, signature)
            .header("X-Bazaar-Event", delivery.event)
            .header("X-Bazaar-Delivery", &delivery.id)
            .body(delivery.body.as_ref().clone())
            .send()
            .await;
        let problem = match result {
            Ok(response) if response.status().is_success() => {
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(event = delivery.event, %url, attempt, "webhook delivered");
                return;
            }
            Ok(response) => {
                let status = response.status();
                let retryable = status.is_server_error() || status.as_u16() == 429;
                if !retryable {
                    stats.failed.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(event = delivery.event, %url, %status, "webhook refused by the receiver; not retrying (check its URL and secret)");
                    return;
                }
                format!("answered {status}")
            }
            // reqwest's error text can include the URL: strip it.
            Err(error) => error.without_url().to_string(),
        };
        if attempt >= retry.retries {
            stats.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(event = delivery.event, %url, attempts = attempt + 1, %problem, "webhook delivery failed; giving up");
            return;
        }
        attempt += 1;
        let delay = retry.delay(attempt);
        stats.retried.fetch_add(1, Ordering::Relaxed);
        tracing::info!(event = delivery.event, %url, attempt, delay_ms = delay.as_millis() as u64, %problem, "webhook delivery failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stopped.wait_for(|s| *s) => {
                stats.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(event = delivery.event, %url, "shutting down; webhook delivery abandoned");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy {
            retries: 5,
            initial: Duration::from_millis(500),
        };
        assert_eq!(policy.delay(1), Duration::from_millis(500));
        assert_eq!(policy.delay(2), Duration::from_millis(1000));
        assert_eq!(policy.delay(4), Duration::from_millis(4000));
        assert_eq!(policy.delay(40), BACKOFF_MAX);
    }

    #[test]
    fn urls_are_redacted_to_scheme_and_host() {
        assert_eq!(
            redact_url("https://hooks.slack.com/services/T000/B000/XXXXSECRET"),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:9000/hook?token=abc"),
            "http://127.0.0.1:9000/…"
        );
    }

    #[test]
    fn seller_text_is_inert_in_slack_and_discord() {
        let check = |text: &str, expected: &str| assert_eq!(neutralise(text), expected, "{text}");
        check("<b>&", "&lt;b&gt;&amp;");
        check("<!everyone> urgent", "&lt;!everyone&gt; urgent");
        check("@everyone urgent", "@\u{2060}everyone urgent");
        check("ping @here now", "ping @\u{2060}here now");
        check(
            "[refund](https://evil.test)",
            "[refund]\u{2060}(https://evil.test)",
        );
        check(
            "<https://evil.test|refund>",
            "&lt;https://evil.test|refund&gt;",
        );
        check("Sony WH-1000XM4 (black)", "Sony WH-1000XM4 (black)");
    }
}
