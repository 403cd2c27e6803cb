//! Politeness per host: what every request a connector sends goes through.
//!
//! A [`PoliteGate`] lets at most [`PoliteConfig::concurrency`] (1 or 2) requests to its host
//! run at once, spaces their starts by [`PoliteConfig::min_delay`] plus up to
//! [`PoliteConfig::jitter`], and backs off host-wide after a 403, 429, 5xx or a network
//! failure (exponential from [`PoliteConfig::backoff_initial`], capped at
//! [`PoliteConfig::backoff_max`], at least what `Retry-After` asked). Every wait is a sleep
//! on the runtime [`Clock`](bazaar_memory::Clock), so simulated time needs no real time.
//!
//! A login wall or CAPTCHA pauses the host: [`PoliteGate::pause`] logs one warning and
//! queues one [`SourceAlert`] (only for the first pause), and until [`PoliteGate::resume`]
//! every call fails at once with [`SourceError::Paused`] without sending anything.
//!
//! [`PoliteGate::run`] is the retry loop both connectors use: the connector sends one
//! attempt and classifies its answer as an [`Outcome`]; the gate waits, retries, gives up,
//! and logs one line for the whole call (retries themselves log at debug).

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use bazaar_memory::{Marketplace, SharedClock};
use chrono::{DateTime, Utc};
use rand::Rng;
use scraper::{Html, Selector};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::{BlockKind, SourceAlert, SourceError};

/// How politely one host is treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoliteConfig {
    /// Requests in flight at once (clamped to 1..=2).
    pub concurrency: usize,
    /// Least time between the starts of two requests.
    pub min_delay: Duration,
    /// Up to this much more, chosen at random per request.
    pub jitter: Duration,
    /// The first backoff after a failure; doubles with each failure in a row.
    pub backoff_initial: Duration,
    /// The longest backoff waited in line; a longer `Retry-After` fails the call instead.
    pub backoff_max: Duration,
    /// Retries after the first attempt, per call.
    pub max_retries: u32,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for PoliteConfig {
    /// One request at a time, 2–3 s apart, backoff from 5 s up to 5 min, three retries.
    fn default() -> Self {
        PoliteConfig {
            concurrency: 1,
            min_delay: Duration::from_secs(2),
            jitter: Duration::from_secs(1),
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(300),
            max_retries: 3,
            timeout: Duration::from_secs(30),
        }
    }
}

impl PoliteConfig {
    /// For a marketplace's official API, which meters calls by its own daily quota rather
    /// than asking for pauses: two requests at a time with no spacing, so a sale is taken
    /// down elsewhere in milliseconds; the same backoff on 429 and 5xx answers.
    pub fn official_api() -> PoliteConfig {
        PoliteConfig {
            concurrency: 2,
            min_delay: Duration::ZERO,
            jitter: Duration::ZERO,
            ..PoliteConfig::default()
        }
    }

    /// For simulated time, which stands still while the agent works: a backoff on the
    /// clock would wait forever, so a failure is retried at once, then given up (the next
    /// scheduled search tries again), and a Retry-After fails the call. No spacing.
    pub fn simulated() -> PoliteConfig {
        PoliteConfig {
            concurrency: 2,
            min_delay: Duration::ZERO,
            jitter: Duration::ZERO,
            backoff_initial: Duration::ZERO,
            backoff_max: Duration::ZERO,
            max_retries: 1,
            timeout: Duration::from_secs(10),
        }
    }
}

/// How one attempt went, as the connector judges it.
#[derive(Debug)]
pub enum Outcome<T> {
    /// It worked.
    Done(T),
    /// A transient failure (403, 429, 5xx, eBay APPLICATION error, network): back off and
    /// try again, if retries remain.
    Retry {
        /// The error to return if no retry remains.
        error: SourceError,
        /// What the server asked for (`Retry-After`), if anything.
        retry_after: Option<Duration>,
    },
    /// Credentials went stale: the connector has dropped them; try once more at once. A
    /// second `Refresh` in the same call fails with its error.
    Refresh(SourceError),
    /// A failure retrying cannot fix.
    Fail(SourceError),
}

#[derive(Debug, Default)]
struct HostState {
    /// The earliest start of the next request (spacing).
    next_slot: Option<DateTime<Utc>>,
    /// No request before this (backoff).
    not_before: Option<DateTime<Utc>>,
    /// Failures in a row.
    failures: u32,
    /// Why the host is paused, if it is.
    paused: Option<BlockKind>,
    /// Alerts not yet taken.
    alerts: Vec<SourceAlert>,
}

/// The gate every request to one host goes through.
#[derive(Debug)]
pub struct PoliteGate {
    marketplace: Marketplace,
    host: String,
    clock: SharedClock,
    config: PoliteConfig,
    permits: Semaphore,
    state: Mutex<HostState>,
}

/// Held while a request is in flight.
#[derive(Debug)]
pub struct HostPermit<'a> {
    _permit: SemaphorePermit<'a>,
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

fn jittered(base: Duration, jitter: Duration) -> Duration {
    let max = u64::try_from(jitter.as_millis()).unwrap_or(u64::MAX);
    if max == 0 {
        return base;
    }
    base.saturating_add(Duration::from_millis(rand::rng().random_range(0..=max)))
}

impl PoliteGate {
    /// A gate for `host` of `marketplace`, timing everything on `clock`.
    pub fn new(
        marketplace: Marketplace,
        host: impl Into<String>,
        clock: SharedClock,
        config: PoliteConfig,
    ) -> PoliteGate {
        let concurrency = config.concurrency.clamp(1, 2);
        PoliteGate {
            marketplace,
            host: host.into(),
            clock,
            config,
            permits: Semaphore::new(concurrency),
            state: Mutex::new(HostState::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HostState> {
        // Plain data: a panic elsewhere leaves it usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The host this gate guards.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The configuration.
    pub fn config(&self) -> &PoliteConfig {
        &self.config
    }

    /// Why the host is paused, if it is.
    pub fn paused(&self) -> Option<BlockKind> {
        self.lock().paused
    }

    fn check_paused(&self) -> Result<(), SourceError> {
        match self.lock().paused {
            Some(kind) => {
                tracing::debug!(host = %self.host, kind = kind.name(), "source paused; nothing sent");
                Err(SourceError::Paused {
                    host: self.host.clone(),
                    kind,
                })
            }
            None => Ok(()),
        }
    }

    /// Waits for a turn: a free slot, the spacing since the last start, and any backoff.
    /// Fails at once when the host is paused, or when the backoff left is longer than
    /// [`PoliteConfig::backoff_max`].
    pub async fn acquire(&self) -> Result<HostPermit<'_>, SourceError> {
        self.check_paused()?;
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| SourceError::Config("the host gate is closed".into()))?;
        self.check_paused()?;
        let wait = {
            let mut st = self.lock();
            let now = self.clock.now();
            let start = [Some(now), st.not_before, st.next_slot]
                .into_iter()
                .flatten()
                .max()
                .unwrap_or(now);
            let wait = (start - now).to_std().unwrap_or_default();
            if wait > self.config.backoff_max {
                return Err(SourceError::RateLimited {
                    retry_after: Some(wait),
                });
            }
            st.next_slot =
                Some(start + chrono_duration(jittered(self.config.min_delay, self.config.jitter)));
            wait
        };
        if !wait.is_zero() {
            self.clock.sleep(wait).await;
            self.check_paused()?;
        }
        Ok(HostPermit { _permit: permit })
    }

    /// A request succeeded: the failure streak ends.
    pub fn record_success(&self) {
        self.lock().failures = 0;
    }

    /// A request failed transiently: backs the whole host off and returns for how long
    /// (exponential in the failures in a row, jittered, capped at
    /// [`PoliteConfig::backoff_max`], but never shorter than `retry_after`).
    pub fn record_failure(&self, retry_after: Option<Duration>) -> Duration {
        let mut st = self.lock();
        st.failures = st.failures.saturating_add(1);
        let doublings = st.failures.saturating_sub(1).min(20);
        let exponential = self
            .config
            .backoff_initial
            .saturating_mul(1u32 << doublings)
            .min(self.config.backoff_max);
        let mut delay = jittered(exponential, self.config.jitter).min(self.config.backoff_max);
        if let Some(asked) = retry_after {
            delay = delay.max(asked);
        }
        let until = self.clock.now() + chrono_duration(delay);
        st.not_before = Some(st.not_before.map_or(until, |nb| nb.max(until)));
        delay
    }

    /// Pauses the host after a login wall or CAPTCHA at `url`. The first pause logs one
    /// warning and queues one alert; while paused, nothing more is logged or queued.
    /// Returns the error to give the caller.
    pub fn pause(&self, kind: BlockKind, url: &str) -> SourceError {
        let mut st = self.lock();
        if st.paused.is_none() {
            st.paused = Some(kind);
            tracing::warn!(
                marketplace = %self.marketplace,
                host = %self.host,
                kind = kind.name(),
                %url,
                "source paused; an operator must clear it and resume"
            );
            st.alerts.push(SourceAlert {
                marketplace: self.marketplace,
                host: self.host.clone(),
                kind,
                url: url.to_string(),
                at: self.clock.now(),
                message: format!(
                    "{} shows a {} at {url}; {} stopped reading it. Clear it in a browser, then resume the source.",
                    self.host,
                    kind.name(),
                    self.marketplace
                ),
            });
        }
        match kind {
            BlockKind::LoginWall => SourceError::LoginWall {
                url: url.to_string(),
            },
            BlockKind::Captcha => SourceError::Captcha {
                url: url.to_string(),
            },
        }
    }

    /// Lifts a pause and forgets the backoff.
    pub fn resume(&self) {
        let mut st = self.lock();
        if let Some(kind) = st.paused.take() {
            tracing::info!(host = %self.host, kind = kind.name(), "source resumed");
        }
        st.failures = 0;
        st.not_before = None;
    }

    /// The alerts queued since the last call.
    pub fn take_alerts(&self) -> Vec<SourceAlert> {
        std::mem::take(&mut self.lock().alerts)
    }

    /// Runs one call: takes a turn, sends an attempt, and retries as its [`Outcome`] says.
    /// `what` names the call in the log. Logs one line for the call at info or above: a
    /// recovery after retries, or the failure it ends with (a pause has logged already).
    pub async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, SourceError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Outcome<T>>,
    {
        let mut retries = 0u32;
        let mut refreshed = false;
        loop {
            let permit = match self.acquire().await {
                Ok(permit) => permit,
                Err(error) => {
                    if !error.is_blocked() {
                        tracing::warn!(host = %self.host, what, %error, "host is backing off; call not sent");
                    }
                    return Err(error);
                }
            };
            let outcome = attempt().await;
            drop(permit);
            match outcome {
                Outcome::Done(value) => {
                    self.record_success();
                    if retries > 0 {
                        tracing::info!(host = %self.host, what, retries, "recovered after retries");
                    }
                    return Ok(value);
                }
                Outcome::Fail(error) => {
                    match &error {
                        e if e.is_blocked() => {}
                        SourceError::NotFound(_) => {
                            tracing::debug!(host = %self.host, what, %error, "not found")
                        }
                        _ => tracing::warn!(host = %self.host, what, %error, "call failed"),
                    }
                    return Err(error);
                }
                Outcome::Refresh(error) => {
                    if refreshed {
                        tracing::warn!(host = %self.host, what, %error, "call failed after refreshing credentials");
                        return Err(error);
                    }
                    refreshed = true;
                    tracing::debug!(host = %self.host, what, "credentials refreshed; retrying");
                }
                Outcome::Retry { error, retry_after } => {
                    let delay = self.record_failure(retry_after);
                    if retries >= self.config.max_retries || delay > self.config.backoff_max {
                        let error = match error {
                            SourceError::RateLimited { retry_after: None } => {
                                SourceError::RateLimited {
                                    retry_after: Some(delay),
                                }
                            }
                            other => other,
                        };
                        tracing::warn!(
                            host = %self.host,
                            what,
                            attempts = retries + 1,
                            %error,
                            "giving up after retries"
                        );
                        return Err(error);
                    }
                    retries += 1;
                    tracing::debug!(host = %self.host, what, retries, delay_ms = delay.as_millis() as u64, %error, "backing off");
                }
            }
        }
    }
}

fn selector(css: &str) -> Option<Selector> {
    Selector::parse(css).ok()
}

/// What stands in the way on an HTML page, if anything: a CAPTCHA (reCAPTCHA, hCaptcha,
/// Turnstile, a "verify you are human" page) or a login wall (a password field, a login
/// form, a login URL). A page that holds `content` (a selector for what it should show) is
/// no wall, so a listing that merely mentions "captcha" is not mistaken for one.
///
/// A page whose text names none of the walls is not parsed here (the connector parses it
/// to read it anyway). Real Craigslist pages mostly carry a "log in" link, so they are.
pub fn detect_block(url: &str, html: &str, content: Option<&Selector>) -> Option<BlockKind> {
    if !names_a_wall(html) && !looks_like_login_url(url) {
        return None;
    }
    let doc = Html::parse_document(html);
    if content.is_some_and(|content| doc.select(content).next().is_some()) {
        return None;
    }
    let any = |css: &str| selector(css).is_some_and(|s| doc.select(&s).next().is_some());
    let title = selector("title")
        .and_then(|s| doc.select(&s).next())
        .map(|t| t.text().collect::<String>().to_lowercase())
        .unwrap_or_default();
    if any(".g-recaptcha, .h-captcha, .cf-turnstile, [data-sitekey], #captcha, .captcha, iframe[src*=captcha], form[action*=captcha]")
        || title.contains("captcha")
        || title.contains("are you a human")
        || title.contains("verify you are human")
    {
        return Some(BlockKind::Captcha);
    }
    if any("input[type=password], form[action*=login], form[action*=signin]")
        || looks_like_login_url(url)
        || title.contains("log in")
        || title.contains("sign in")
    {
        return Some(BlockKind::LoginWall);
    }
    None
}

/// Whether the raw page contains a word every wall [`detect_block`] knows must contain
/// (in a class, an attribute, a form's action or the title), ignoring case. Only a wall
/// that spells all of them with character references would slip past.
fn names_a_wall(html: &str) -> bool {
    const WORDS: [&str; 10] = [
        "captcha",
        "turnstile",
        "sitekey",
        "are you a human",
        "verify you are human",
        "password",
        "login",
        "signin",
        "log in",
        "sign in",
    ];
    let html = html.to_ascii_lowercase();
    WORDS.iter().any(|word| html.contains(word))
}

/// True when a URL's path is a login or sign-in page.
pub fn looks_like_login_url(url: &str) -> bool {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p))
        .to_ascii_lowercase();
    ["login", "signin", "sign-in", "log-in", "auth"]
        .iter()
        .any(|w| path.split(['/', '?', '.']).any(|seg| seg == *w))
}

/// `Retry-After` in seconds (the HTTP-date form is not used by the marketplaces we read).
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, html: &str, content: Option<&str>, expected: Option<BlockKind>) {
        let content = content.map(|css| Selector::parse(css).unwrap());
        assert_eq!(
            detect_block(url, html, content.as_ref()),
            expected,
            "{url} {html}"
        );
    }

    #[test]
    fn walls_are_found_and_pages_that_name_none_are_not_parsed_for_them() {
        let site = "https://sfbay.craigslist.org/search/sss";
        let captcha = Some(BlockKind::Captcha);
        let login = Some(BlockKind::LoginWall);
        check(site, r#"<div class="g-recaptcha"></div>"#, None, captcha);
        check(site, r#"<div class="h-captcha"></div>"#, None, captcha);
        check(site, r#"<div class="cf-turnstile"></div>"#, None, captcha);
        check(site, r#"<div DATA-SITEKEY="x"></div>"#, None, captcha);
        check(
            site,
            "<title>Just a moment: are you a human?</title>",
            None,
            captcha,
        );
        check(site, "<title>Verify You Are Human</title>", None, captcha);
        check(site, r#"<form><INPUT TYPE=password></form>"#, None, login);
        check(
            site,
            r#"<form action="/account/login"></form>"#,
            None,
            login,
        );
        check(site, r#"<form action="/signin"></form>"#, None, login);
        check(site, "<title>Log In | craigslist</title>", None, login);
        check(
            "https://accounts.craigslist.org/login?rt=L",
            "<p>hello</p>",
            None,
            login,
        );
        // A listing that mentions a captcha and shows its content is no wall.
        let posting = r#"<span id="titletextonly">Desk</span><p>No captcha needed.</p>"#;
        check(site, posting, Some("#titletextonly"), None);
        check(site, "<p>Oak desk, $80, pick up only.</p>", None, None);
        check(site, "", None, None);
    }
}
