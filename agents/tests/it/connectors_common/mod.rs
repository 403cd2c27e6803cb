//! Shared by the connector tests: a scripted fault server on 127.0.0.1 (for what the sim
//! does not produce: login walls, CAPTCHAs, 500s, malformed pages), a log capture, and a
//! driver that moves a `SimClock` whenever someone sleeps on it.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bazaar_agents::connectors::PoliteConfig;
use bazaar_memory::SimClock;
use chrono::{DateTime, Utc};
use tracing::subscriber::DefaultGuard;

pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T15:00:00Z")
        .map(|d| d.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// No spacing, backoff from 1 s (simulated), three retries.
pub fn quick() -> PoliteConfig {
    PoliteConfig {
        concurrency: 2,
        min_delay: Duration::ZERO,
        jitter: Duration::ZERO,
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        max_retries: 3,
        timeout: Duration::from_secs(10),
    }
}

/// Moves `clock` to the next deadline whenever someone sleeps on it, until dropped.
pub struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub fn drive(clock: &SimClock) -> Driver {
    let clock = clock.clone();
    Driver(tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            clock.advance_to_next();
        }
    }))
}

/// Everything `bazaar_agents` logs at info and above while the guard lives (this thread).
pub struct Logs {
    buf: Arc<Mutex<Vec<u8>>>,
    _guard: DefaultGuard,
}

struct BufWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    pub fn capture() -> Logs {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("bazaar_agents=info"))
            .with_ansi(false)
            .without_time()
            .with_writer(move || BufWriter(writer.clone()))
            .finish();
        ALWAYS_ASK.call_once(|| {
            // Without it a callsite first hit by a test that captures nothing caches
            // "never" and, racing with `set_default` on another thread, can keep it.
            let _ = tracing::subscriber::set_global_default(AlwaysAsk);
        });
        Logs {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    pub fn lines(&self) -> Vec<String> {
        let bytes = self.buf.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Lines containing `needle`.
    pub fn matching(&self, needle: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect()
    }

    /// Forgets what was logged so far.
    pub fn clear(&self) {
        self.buf.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

static ALWAYS_ASK: std::sync::Once = std::sync::Once::new();

/// A global subscriber that records nothing but answers "sometimes" for every callsite, so
/// that each event asks the thread's current subscriber whether it is enabled.
struct AlwaysAsk;

impl tracing::Subscriber for AlwaysAsk {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn html(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "text/html; charset=utf-8".into())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Default)]
struct Script {
    /// Per path: answers in order; the last one repeats.
    routes: HashMap<String, VecDeque<Reply>>,
    /// Every request's path and query, in order.
    hits: Vec<String>,
}

#[derive(Clone)]
struct Shared {
    script: Arc<Mutex<Script>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
    delay: Duration,
}

/// A server on 127.0.0.1 answering each path from its script (404 for unknown paths).
pub struct FaultServer {
    pub base: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(shared): State<Shared>, uri: Uri) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if !shared.delay.is_zero() {
        // Real time, so overlapping requests really overlap.
        tokio::time::sleep(shared.delay).await;
    }
    let reply = {
        let mut script = shared.script.lock().unwrap_or_else(|p| p.into_inner());
        script.hits.push(
            uri.path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
        );
        match script.routes.get_mut(uri.path()) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        }
    };
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let Some(reply) = reply else {
        return (
            StatusCode::NOT_FOUND,
            "<html><body><h1>404</h1></body></html>",
        )
            .into_response();
    };
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        if let Ok(v) = axum::http::HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

impl FaultServer {
    pub async fn start() -> FaultServer {
        FaultServer::start_with_delay(Duration::ZERO).await
    }

    /// Each answer waits `delay` of real time first.
    pub async fn start_with_delay(delay: Duration) -> FaultServer {
        let shared = Shared {
            script: Arc::new(Mutex::new(Script::default())),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: Arc::new(AtomicUsize::new(0)),
            delay,
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultServer {
            base: format!("http://{addr}"),
            shared,
            task,
        }
    }

    /// `path` answers `replies` in order, then keeps answering the last one.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        let mut script = self.shared.script.lock().unwrap_or_else(|p| p.into_inner());
        script.routes.insert(path.to_string(), replies.into());
    }

    /// Requests whose path (without query) is `path`.
    pub fn hits(&self, path: &str) -> usize {
        let script = self.shared.script.lock().unwrap_or_else(|p| p.into_inner());
        script
            .hits
            .iter()
            .filter(|h| h.split('?').next() == Some(path))
            .count()
    }

    /// Every request so far.
    pub fn all_hits(&self) -> Vec<String> {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .hits
            .clone()
    }

    /// The most requests that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}
