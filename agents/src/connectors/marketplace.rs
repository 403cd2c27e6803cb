//! Facebook-Marketplace-style pages, read in a real headless Chromium.
//!
//! The site's HTML holds no listing: its script fetches the data after load and renders the
//! cards, so [`MarketplaceBrowser`] drives Debian's Chromium over the DevTools protocol
//! (chromiumoxide) the way `../shared/ref/browser.md` verified it:
//!
//! - one long-lived browser per connector, launched on first use, headless, with its own
//!   profile under the data directory (`<data_dir>/browser/facebook/`), `no-sandbox` only
//!   when running as root (Chromium's sandbox refuses root);
//! - one tab, navigated by each search and item page in turn, closed and replaced after a
//!   visit that failed (a new tab per visit started a renderer each time: nearly half the
//!   browser's time in the default sim month, 9.3 s of 27);
//! - a browser that died (its process exited, the connection's handler ended, or a call to it
//!   failed) is dropped and relaunched once, and the visit retried; a second failure is a
//!   [`SourceError::Network`] the [`PoliteGate`] backs off from;
//! - listings are read from the rendered DOM after polling for the cards (no wait-for-selector
//!   in chromiumoxide), with a deadline; "See more" is clicked until the page holds
//!   `offset + limit` cards or the feed ends;
//! - only an item's details hold its description and the seller's contact, so a search reads
//!   them for every card it returns: in the feed's tab, through the app's own data request
//!   (the one its item page makes, with the page's cookies), one request per listing instead
//!   of a page load; details already read at the card's price are not asked again. A card whose
//!   details were not asked (past the search's limit) is read from its rendered item page, as
//!   [`MarketplaceBrowser::fetch`] reads one listing.
//!
//! Sessions: the operator exports their browser's cookies and runs
//! `bazaar session import facebook cookies.json`; [`Session`] validates them and stores them
//! as a secret file (0600 in a 0700 directory; cookie values are never logged or shown). The
//! connector loads them into the browser (CDP `Network.setCookies`) at every launch and after
//! [`Source::resume`]. When the site shows its login wall anyway (the cookies expired or were
//! revoked), the call fails with [`SourceError::LoginWall`], the gate pauses the source, and
//! one alert asks the operator for fresh cookies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bazaar_memory::{Condition, ListingId, MarketListing, Marketplace, SellerRef, SharedClock};
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::network::{CookieParam, CookieSameSite, TimeSinceEpoch};
use chromiumoxide::cdp::browser_protocol::target::{CloseTargetParams, GetTargetsParams};
use chromiumoxide::error::CdpError;
use chromiumoxide::Page;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::craigslist::{parse_price, PriceProblem};
use super::polite::{detect_block, Outcome, PoliteConfig, PoliteGate};
use super::{
    shorten, skip, BlockKind, PageRenderer, SearchPage, SearchQuery, SortOrder, Source,
    SourceAlert, SourceError, SourceFuture,
};

/// Where Debian and others install Chromium; the first is the real binary (`/usr/bin/chromium`
/// is a wrapper script).
pub const CHROMIUM_PATHS: &[&str] = &[
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
];

/// Normalized categories and the site's category slugs.
const CATEGORIES: &[(&str, &str)] = &[
    ("furniture", "furniture"),
    ("housing", "propertyrentals"),
    ("bike", "bicycles"),
    ("car", "vehicles"),
    ("electronics", "electronics"),
    ("phone", "cell-phones"),
];

/// How long closing a tab or the browser may take before it is left to die.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the page is polled while its script renders.
const POLL: Duration = Duration::from_millis(25);

/// The first installed Chromium of [`CHROMIUM_PATHS`].
pub fn find_chromium() -> Option<PathBuf> {
    CHROMIUM_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// True when this process runs as root (Chromium's sandbox then needs `no-sandbox`).
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

// ---------------------------------------------------------------------------------------
// Sessions

/// One cookie as browser-export extensions (Cookie-Editor, EditThisCookie, `document.cookie`
/// exporters) write it. The value is a secret: [`Debug`](std::fmt::Debug) never shows it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionCookie {
    /// The cookie's name.
    pub name: String,
    /// Its value (secret).
    pub value: String,
    /// The domain it belongs to (`.facebook.com`).
    pub domain: String,
    /// Its path (`/` when the export omits it).
    #[serde(default = "root_path")]
    pub path: String,
    /// When it expires, in unix seconds (`expires` or `expirationDate`); `None`, 0 or a
    /// negative number for a session cookie.
    #[serde(default, alias = "expirationDate")]
    pub expires: Option<f64>,
    /// Hidden from scripts.
    #[serde(default, rename = "httpOnly")]
    pub http_only: bool,
    /// Sent over HTTPS only.
    #[serde(default)]
    pub secure: bool,
    /// `Strict`, `Lax`, `None` (also written `strict`, `lax`, `no_restriction`,
    /// `unspecified`).
    #[serde(default, rename = "sameSite", skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
}

fn root_path() -> String {
    "/".to_string()
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookie")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl SessionCookie {
    /// When it expires; `None` for a session cookie.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        let secs = self.expires.filter(|e| *e > 0.0)?;
        DateTime::from_timestamp(secs as i64, 0)
    }

    fn same_site_param(&self) -> Option<CookieSameSite> {
        match self.same_site.as_deref()?.to_ascii_lowercase().as_str() {
            "strict" => Some(CookieSameSite::Strict),
            "lax" => Some(CookieSameSite::Lax),
            "none" | "no_restriction" => Some(CookieSameSite::None),
            _ => None,
        }
    }

    /// The CDP parameter that sets it.
    fn to_param(&self) -> CookieParam {
        let mut param = CookieParam::new(self.name.clone(), self.value.clone());
        param.domain = Some(self.domain.clone());
        param.path = Some(self.path.clone());
        param.secure = Some(self.secure);
        param.http_only = Some(self.http_only);
        param.same_site = self.same_site_param();
        param.expires = self.expires.filter(|e| *e > 0.0).map(TimeSinceEpoch::new);
        param
    }
}

/// Why a cookie export or a stored session cannot be used. Messages name the entry (by
/// position and cookie name), never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// The export is not what browser extensions write.
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing the secret file failed.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// The associated data a session file is sealed with: its file name.
fn sealing_name(path: &Path) -> &[u8] {
    path.file_name().map_or(&[][..], |n| n.as_encoded_bytes())
}

/// Cookies for one browser-driven marketplace, as imported by the operator.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Which marketplace they log into.
    pub marketplace: Marketplace,
    /// When they were imported.
    pub imported_at: DateTime<Utc>,
    pub cookies: Vec<SessionCookie>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("marketplace", &self.marketplace)
            .field("imported_at", &self.imported_at)
            .field("cookies", &self.cookies.len())
            .finish()
    }
}

fn io_error(path: &Path, error: impl std::fmt::Display) -> SessionError {
    SessionError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

impl Session {
    /// Reads a browser extension's cookie export (a JSON array of
    /// `{name, value, domain, path, expires|expirationDate, httpOnly, secure, sameSite}`;
    /// other fields are ignored). Errors name the entry ("cookie 3 (\"xs\"): …").
    pub fn from_export(
        marketplace: Marketplace,
        json: &str,
        now: DateTime<Utc>,
    ) -> Result<Session, SessionError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|e| {
            SessionError::Invalid(format!("not json: {e} (expected an array of cookies)"))
        })?;
        let serde_json::Value::Array(entries) = value else {
            return Err(SessionError::Invalid(
                "expected a json array of cookies, as browser cookie-export extensions write"
                    .into(),
            ));
        };
        if entries.is_empty() {
            return Err(SessionError::Invalid("the export holds no cookie".into()));
        }
        let mut cookies = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let n = i + 1;
            let label = match entry.get("name").and_then(|v| v.as_str()) {
                Some(name) => format!("cookie {n} ({name:?})"),
                None => format!("cookie {n}"),
            };
            if !entry.is_object() {
                return Err(SessionError::Invalid(format!("{label}: not an object")));
            }
            let cookie: SessionCookie = serde_json::from_value(entry)
                .map_err(|e| SessionError::Invalid(format!("{label}: {e}")))?;
            if cookie.name.trim().is_empty() {
                return Err(SessionError::Invalid(format!("{label}: empty name")));
            }
            if cookie.domain.trim().is_empty() {
                return Err(SessionError::Invalid(format!("{label}: empty domain")));
            }
            if !cookie.path.starts_with('/') {
                return Err(SessionError::Invalid(format!(
                    "{label}: path {:?} does not start with /",
                    cookie.path
                )));
            }
            if cookie.expires.is_some_and(|e| !e.is_finite()) {
                return Err(SessionError::Invalid(format!(
                    "{label}: expires is not a number"
                )));
            }
            if let Some(same_site) = &cookie.same_site {
                let known = ["strict", "lax", "none", "no_restriction", "unspecified"];
                if !known.contains(&same_site.to_ascii_lowercase().as_str()) {
                    return Err(SessionError::Invalid(format!(
                        "{label}: unknown sameSite {same_site:?}"
                    )));
                }
            }
            cookies.push(cookie);
        }
        Ok(Session {
            marketplace,
            imported_at: now,
            cookies,
        })
    }

    /// Where the session for `marketplace` is kept: `<data_dir>/secrets/sessions/<name>.json`.
    pub fn path(data_dir: &Path, marketplace: Marketplace) -> PathBuf {
        data_dir
            .join("secrets")
            .join("sessions")
            .join(format!("{}.json", marketplace.name()))
    }

    /// The earliest expiry among its persistent cookies (`None`: session cookies only).
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        self.cookies
            .iter()
            .filter_map(SessionCookie::expires_at)
            .min()
    }

    /// One line for `bazaar status`: `"3 cookies, expires 2026-05-01 12:00 UTC"` (no value).
    pub fn summary(&self, now: DateTime<Utc>) -> String {
        let count = self.cookies.len();
        let plural = if count == 1 { "" } else { "s" };
        let expiry = match self.expires() {
            None => "session cookies only (expire when the browser closes)".to_string(),
            Some(at) if at <= now => format!("EXPIRED {}", at.format("%Y-%m-%d %H:%M UTC")),
            Some(at) => format!("expires {}", at.format("%Y-%m-%d %H:%M UTC")),
        };
        format!("{count} cookie{plural}, {expiry}")
    }

    /// The secrets directory a session file at `path` lives in (`<data_dir>/secrets`), whose
    /// key seals it.
    fn secrets_dir(path: &Path) -> PathBuf {
        path.parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| Path::new("."))
            .to_path_buf()
    }

    /// Writes it to `path` sealed ([`crate::sealed`]: AES-256-GCM under the secrets key) and
    /// readable by its owner only (file 0600, directory 0700), replacing any earlier session
    /// atomically.
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        use std::io::Write;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let dir = path
            .parent()
            .ok_or_else(|| io_error(path, "no parent directory"))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io_error(dir, e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error(dir, e))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| io_error(path, e))?;
        let key = crate::sealed::SealingKey::for_dir(&Session::secrets_dir(path), true)
            .map_err(|e| io_error(path, e))?
            .ok_or_else(|| io_error(path, "no secrets key"))?;
        let json =
            crate::sealed::seal(&key, sealing_name(path), &json).map_err(|e| io_error(path, e))?;
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io_error(&tmp, e))?;
        file.write_all(&json).map_err(|e| io_error(&tmp, e))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, path).map_err(|e| io_error(path, e))?;
        Ok(())
    }

    /// Reads the session at `path`; `Ok(None)` when none was imported. A file readable by
    /// group or others is refused.
    pub fn load(path: &Path) -> Result<Option<Session>, SessionError> {
        use std::os::unix::fs::PermissionsExt;
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(path, e)),
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(io_error(
                path,
                format!(
                    "mode {mode:o}; a session must not be readable by group or others (chmod 600)"
                ),
            ));
        }
        let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
        if !crate::sealed::is_sealed(&bytes) {
            // Stored in plain text by an earlier version: read it, then seal it in place.
            let session: Session = serde_json::from_slice(&bytes)
                .map_err(|e| io_error(path, format!("not a stored session: {e}")))?;
            session.save(path)?;
            tracing::info!(path = %path.display(), "session sealed at rest");
            return Ok(Some(session));
        }
        let key = crate::sealed::SealingKey::for_dir(&Session::secrets_dir(path), false)
            .map_err(|e| io_error(path, e))?
            .ok_or_else(|| {
                io_error(
                    path,
                    format!(
                        "the session is sealed but there is no secrets key: set {} or {}, or restore {}",
                        crate::sealed::KEY_ENV,
                        crate::sealed::PASSPHRASE_ENV,
                        crate::sealed::SealingKey::file(&Session::secrets_dir(path)).display()
                    ),
                )
            })?;
        let json =
            crate::sealed::open(&key, sealing_name(path), &bytes).map_err(|e| io_error(path, e))?;
        serde_json::from_slice(&json)
            .map(Some)
            .map_err(|e| io_error(path, format!("not a stored session: {e}")))
    }
}

// ---------------------------------------------------------------------------------------
// Settings

/// Where the site is and how the browser runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketplaceSettings {
    /// The site's root (`https://www.facebook.com`; the simulator's URL in tests).
    pub base_url: String,
    /// The Chromium binary.
    pub chromium: PathBuf,
    /// The browser's own directory (profile and crash-handler home), kept across restarts.
    pub profile_dir: PathBuf,
    /// The imported session's secret file, if sessions are used.
    pub session_file: Option<PathBuf>,
    /// Listings read per search call when the query sets no limit.
    pub listings_per_search: u32,
    /// How long a page may take to render its listings (and each "See more").
    pub render_timeout: Duration,
    /// How long one DevTools call may take before the browser counts as hung.
    pub call_timeout: Duration,
    /// Pass `no-sandbox` (needed when running as root).
    pub no_sandbox: bool,
}

impl MarketplaceSettings {
    /// Settings for the site at `base_url`, with the browser's profile and the session under
    /// `data_dir`, the first installed Chromium, and `no-sandbox` only as root.
    pub fn new(base_url: impl Into<String>, data_dir: &Path) -> MarketplaceSettings {
        MarketplaceSettings {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            chromium: find_chromium().unwrap_or_else(|| PathBuf::from(CHROMIUM_PATHS[0])),
            profile_dir: data_dir.join("browser").join(Marketplace::Facebook.name()),
            session_file: Some(Session::path(data_dir, Marketplace::Facebook)),
            listings_per_search: 24,
            render_timeout: Duration::from_secs(20),
            call_timeout: Duration::from_secs(20),
            no_sandbox: running_as_root(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the pages hold

/// What a feed page shows while (and after) its script runs.
#[derive(Debug, Deserialize)]
struct FeedState {
    /// `#mount` exists: this is the marketplace app, not a login or error page.
    app: bool,
    /// `body[data-state]`.
    state: String,
    cards: usize,
    more: bool,
    end: bool,
    total: Option<u64>,
    error: Option<String>,
}

const FEED_STATE_JS: &str = "JSON.stringify((() => {
  const feed = document.querySelector('[aria-label=\"Collection of Marketplace items\"]');
  const more = document.querySelector('button.see-more');
  const error = document.querySelector('#mount .error');
  return {
    app: document.getElementById('mount') !== null,
    state: (document.body && document.body.dataset.state) || '',
    cards: document.querySelectorAll('[data-testid=\"marketplace-feed-item\"]').length,
    more: more !== null && !more.disabled,
    end: document.querySelector('div.feed-end') !== null,
    total: feed && feed.dataset.totalCount ? Number(feed.dataset.totalCount) : null,
    error: error ? error.textContent : null
  };
})())";

/// One card of the feed, as rendered.
#[derive(Debug, Clone, Deserialize)]
struct Card {
    id: String,
    href: Option<String>,
    price: Option<String>,
    html: String,
}

const CARDS_JS: &str = "JSON.stringify([...document.querySelectorAll('[data-testid=\"marketplace-feed-item\"]')].map(c => {
  const text = s => { const e = c.querySelector(s); return e ? e.textContent : null; };
  const a = c.querySelector('a[href]');
  return {
    id: c.dataset.listingId || '',
    href: a ? a.getAttribute('href') : null,
    price: text('.card-price'),
    html: c.outerHTML
  };
}))";

/// An item page, as rendered.
#[derive(Debug, Clone, Deserialize)]
struct ItemState {
    app: bool,
    state: String,
    unavailable: bool,
    item: Option<Item>,
    error: Option<String>,
}

/// The details an item page shows.
#[derive(Debug, Clone, Deserialize)]
struct Item {
    id: String,
    status: String,
    title: String,
    price: String,
    listed: Option<String>,
    /// When it was listed, when the source says so exactly (the data request does; the page
    /// only says "3 days ago").
    #[serde(default)]
    listed_at: Option<DateTime<Utc>>,
    description: String,
    location: Option<String>,
    category_href: Option<String>,
    photos: Vec<String>,
    message_href: Option<String>,
    html: String,
}

const ITEM_STATE_JS: &str = "JSON.stringify((() => {
  const q = s => document.querySelector(s);
  const text = s => { const e = q(s); return e ? e.textContent : null; };
  const pdp = q('.pdp');
  const error = q('#mount .error');
  const ready = document.body && document.body.dataset.state === 'ready';
  return {
    app: document.getElementById('mount') !== null,
    state: (document.body && document.body.dataset.state) || '',
    unavailable: q('.pdp-unavailable') !== null,
    error: error ? error.textContent : null,
    item: pdp && ready ? {
      id: pdp.dataset.listingId || '',
      status: pdp.dataset.status || '',
      title: text('h1.pdp-title') || '',
      price: text('.pdp-price') || '',
      listed: text('.pdp-listed'),
      description: text('.pdp-description') || '',
      location: text('.pdp-location'),
      category_href: q('a.pdp-category') ? q('a.pdp-category').getAttribute('href') : null,
      photos: [...document.querySelectorAll('.pdp-photos img')].map(i => i.getAttribute('src')).filter(s => s),
      message_href: q('a.pdp-message') ? q('a.pdp-message').getAttribute('href') : null,
      html: pdp.outerHTML
    } : null
  };
})())";

/// What a visit is for.
#[derive(Debug, Clone)]
enum Job {
    /// A feed: read at least `offset + limit` cards (clicking "See more"), or all there are,
    /// then the details of the cards from `offset` on until `limit` of them are on sale.
    Feed {
        url: String,
        offset: usize,
        limit: usize,
    },
    /// One item page.
    Item { url: String },
    /// Any page, rendered: its markup once `ready` matches (for [`PageRenderer`]).
    Render { url: String, ready: String },
}

/// What a feed visit read.
#[derive(Debug)]
struct Feed {
    cards: Vec<Card>,
    more: bool,
    total: Option<u64>,
    /// Cards whose details the site would not give, by listing id, with why.
    unreadable: HashMap<String, SourceError>,
}

/// What a visit brought back.
#[derive(Debug)]
enum Visited {
    Feed(Feed),
    Item(Box<Item>),
    Html(String),
}

/// Why a visit failed.
#[derive(Debug)]
enum Failure {
    /// The browser itself failed (died, hung, refused a call): relaunch it.
    Browser(String),
    /// The site put a wall in the way at this URL.
    Blocked(BlockKind, String),
    /// Transient: worth another try later.
    Retry(SourceError),
    /// Final.
    Fail(SourceError),
}

/// What Chromium answers when a page's JavaScript context went away under a call (a
/// navigation in between).
const LOST_PAGE_CONTEXT: &str = "Cannot find context with specified id";

fn browser_failure(error: CdpError) -> Failure {
    Failure::Browser(error.to_string())
}

// ---------------------------------------------------------------------------------------
// The browser

/// A running Chromium and the task that drives its connection.
struct Running {
    browser: Browser,
    handler: JoinHandle<()>,
    pid: Option<u32>,
    /// The tab the last visit left in good order, navigated by the next one.
    tab: Option<Page>,
}

impl Running {
    /// False once the process exited or the connection's handler ended.
    fn alive(&mut self) -> bool {
        !self.handler.is_finished() && matches!(self.browser.try_wait(), Ok(None))
    }

    /// Closes it politely, kills it if that does not work, and reaps it.
    async fn stop(mut self) {
        if self.alive() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.browser.close()).await;
        }
        if tokio::time::timeout(CLOSE_TIMEOUT, self.browser.wait())
            .await
            .is_err()
        {
            let _ = self.browser.kill().await;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut self.handler).await;
        self.handler.abort();
    }
}

/// The Facebook-Marketplace-style connector: one long-lived headless Chromium.
pub struct MarketplaceBrowser {
    settings: MarketplaceSettings,
    gate: PoliteGate,
    clock: SharedClock,
    running: tokio::sync::Mutex<Option<Running>>,
    launches: AtomicU64,
    reload_session: AtomicBool,
    session_loaded: AtomicBool,
    /// Item pages already read, by listing id, with the price their card showed: a card
    /// seen again at the same price is not read again (one page load less per listing and
    /// search; a new price reads the page afresh).
    read_items: std::sync::Mutex<HashMap<String, (Option<String>, Item)>>,
    /// Items read, by page or data request (not answered from `read_items`).
    items_read: AtomicU64,
    /// Wall time spent in visits (launches included), in microseconds.
    busy_micros: AtomicU64,
}

/// The most item pages remembered; past it the memory starts afresh.
const READ_ITEMS_MAX: usize = 20_000;

impl std::fmt::Debug for MarketplaceBrowser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MarketplaceBrowser")
            .field("settings", &self.settings)
            .field("launches", &self.launches.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl MarketplaceBrowser {
    /// A connector for the site in `settings`, polite by `polite`, timed on `clock`. Nothing
    /// starts until the first call.
    pub fn new(
        settings: MarketplaceSettings,
        polite: PoliteConfig,
        clock: SharedClock,
    ) -> Result<MarketplaceBrowser, SourceError> {
        let base = reqwest::Url::parse(&settings.base_url)
            .map_err(|e| SourceError::Config(format!("base url {:?}: {e}", settings.base_url)))?;
        let host = base.host_str().unwrap_or_default().to_string();
        Ok(MarketplaceBrowser {
            gate: PoliteGate::new(Marketplace::Facebook, host, clock.clone(), polite),
            settings,
            clock,
            running: tokio::sync::Mutex::new(None),
            launches: AtomicU64::new(0),
            reload_session: AtomicBool::new(false),
            session_loaded: AtomicBool::new(false),
            read_items: std::sync::Mutex::default(),
            items_read: AtomicU64::new(0),
            busy_micros: AtomicU64::new(0),
        })
    }

    /// Forgets the item pages read: the next searches read every item page again (say,
    /// to re-check everything after a new session is imported).
    pub fn forget_items(&self) {
        self.read_items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// How many items were read, by their page or the app's data request (cards seen again
    /// at the same price are not read again).
    pub fn items_read(&self) -> u64 {
        self.items_read.load(Ordering::Relaxed)
    }

    /// Wall time spent browsing: launching the browser and visiting pages (the politeness
    /// gate's waits between visits excluded, its spacing of requests within a visit not).
    pub fn time_browsing(&self) -> Duration {
        Duration::from_micros(self.busy_micros.load(Ordering::Relaxed))
    }

    /// The item read before for a card showing `price`.
    fn remembered(&self, id: &str, price: &Option<String>) -> Option<Item> {
        self.read_items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .filter(|(seen_price, _)| seen_price == price)
            .map(|(_, item)| item.clone())
    }

    /// Remembers an item just read for a card showing `price`.
    fn remember(&self, id: &str, price: &Option<String>, item: &Item) {
        self.items_read.fetch_add(1, Ordering::Relaxed);
        let mut read = self.read_items.lock().unwrap_or_else(|e| e.into_inner());
        if read.len() >= READ_ITEMS_MAX {
            read.clear();
        }
        read.insert(id.to_string(), (price.clone(), item.clone()));
    }

    /// The item behind a card: read with the feed, remembered from before at the card's
    /// price, or else read from its page now.
    async fn item_of_card(&self, card: &Card, url: &str, feed: &Feed) -> Result<Item, SourceError> {
        let id = card.id.trim();
        if let Some(item) = self.remembered(id, &card.price) {
            return Ok(item);
        }
        if let Some(error) = feed.unreadable.get(id) {
            return Err(error.clone());
        }
        let item = self.item(url).await?;
        self.remember(id, &card.price, &item);
        Ok(item)
    }

    /// The host's politeness gate.
    pub fn gate(&self) -> &PoliteGate {
        &self.gate
    }

    /// How many times a browser was launched (1 after the first call; more after deaths).
    pub fn launches(&self) -> u64 {
        self.launches.load(Ordering::Relaxed)
    }

    /// The running browser's process id, if one runs.
    pub async fn browser_pid(&self) -> Option<u32> {
        self.running.lock().await.as_ref().and_then(|r| r.pid)
    }

    /// The URLs of the tabs (page targets) the running browser has open; none when no
    /// browser runs. Visits reuse one tab (closed after a visit that failed), so between
    /// calls this holds Chromium's own start page and at most that tab.
    pub async fn open_pages(&self) -> Result<Vec<String>, SourceError> {
        let guard = self.running.lock().await;
        let Some(running) = guard.as_ref() else {
            return Ok(Vec::new());
        };
        let targets = running
            .browser
            .execute(GetTargetsParams::default())
            .await
            .map_err(|e| SourceError::Network(format!("browser: {e}")))?;
        Ok(targets
            .result
            .target_infos
            .iter()
            .filter(|t| t.r#type == "page")
            .map(|t| t.url.clone())
            .collect())
    }

    /// Closes the browser (it relaunches on the next call).
    pub async fn shutdown(&self) {
        if let Some(running) = self.running.lock().await.take() {
            running.stop().await;
            tracing::info!(marketplace = "facebook", "browser closed");
        }
    }

    /// Starts Chromium with the connector's own profile.
    async fn launch(&self) -> Result<Running, Failure> {
        let chromium = &self.settings.chromium;
        if !chromium.exists() {
            return Err(Failure::Fail(SourceError::Config(format!(
                "chromium not found at {}; install it (apt-get install -y chromium)",
                chromium.display()
            ))));
        }
        let profile = self.settings.profile_dir.join("profile");
        let xdg = self.settings.profile_dir.join("xdg");
        for dir in [&profile, &xdg] {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| {
                    Failure::Fail(SourceError::Config(format!(
                        "browser profile {}: {e}",
                        dir.display()
                    )))
                })?;
        }
        // A browser of ours that died leaves its singleton lock behind; none of ours runs now.
        for stale in ["SingletonLock", "SingletonSocket", "SingletonCookie"] {
            let _ = std::fs::remove_file(profile.join(stale));
        }
        // After a crash Chromium restores the tabs it had open: start without them.
        let _ = std::fs::remove_dir_all(profile.join("Default").join("Sessions"));
        let mut builder = BrowserConfig::builder()
            .chrome_executable(chromium)
            .new_headless_mode()
            .user_data_dir(&profile)
            .env("XDG_CONFIG_HOME", xdg.display().to_string())
            .viewport(None)
            .window_size(1280, 800)
            .launch_timeout(Duration::from_secs(30))
            .request_timeout(self.settings.call_timeout)
            .args([
                "disable-gpu",
                "disable-component-update",
                "disable-background-networking",
                "no-first-run",
                "disable-sync",
                "no-default-browser-check",
                "disable-domain-reliability",
                // Listings are read from the page's markup and data: image URLs are
                // attributes, and loading the pictures only costs time (a third of the
                // browser's time in the default sim month) and bandwidth.
                "blink-settings=imagesEnabled=false",
            ]);
        if self.settings.no_sandbox {
            builder = builder.no_sandbox();
        }
        let config = builder
            .build()
            .map_err(|e| Failure::Fail(SourceError::Config(format!("browser config: {e}"))))?;
        let started = std::time::Instant::now();
        let (mut browser, mut handler) = Browser::launch(config).await.map_err(|e| {
            Failure::Retry(SourceError::Network(format!("chromium did not start: {e}")))
        })?;
        let pid = browser
            .get_mut_child()
            .and_then(|child| child.as_mut_inner().id());
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                match event {
                    Err(CdpError::Ws(error)) => {
                        tracing::debug!(%error, "browser connection ended");
                        break;
                    }
                    Err(error) => tracing::trace!(%error, "browser message ignored"),
                    Ok(()) => {}
                }
            }
        });
        Self::close_stray_tabs(&browser).await;
        let launches = self.launches.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(
            marketplace = "facebook",
            pid = pid.unwrap_or(0),
            launches,
            ms = started.elapsed().as_millis() as u64,
            "browser started"
        );
        Ok(Running {
            browser,
            handler,
            pid,
            tab: None,
        })
    }

    /// Closes tabs a restored session reopened (anything on a web page); the blank start
    /// page stays.
    async fn close_stray_tabs(browser: &Browser) {
        let Ok(targets) = browser.execute(GetTargetsParams::default()).await else {
            return;
        };
        for target in targets.result.target_infos {
            let web = target.url.starts_with("http://") || target.url.starts_with("https://");
            if target.r#type != "page" || !web {
                continue;
            }
            let close = CloseTargetParams::new(target.target_id.clone());
            if let Err(error) = browser.execute(close).await {
                tracing::debug!(%error, "restored tab did not close");
            }
        }
    }

    /// Loads the imported session's cookies into the browser, if one was imported.
    async fn load_session(&self, browser: &Browser) -> Result<(), Failure> {
        let Some(path) = &self.settings.session_file else {
            return Ok(());
        };
        let session = Session::load(path)
            .map_err(|e| Failure::Fail(SourceError::Config(format!("session: {e}"))))?;
        let Some(session) = session else {
            tracing::debug!(marketplace = "facebook", "no session imported");
            self.session_loaded.store(false, Ordering::Relaxed);
            return Ok(());
        };
        let now = self.clock.now();
        if session.expires().is_some_and(|at| at <= now) {
            tracing::warn!(
                marketplace = "facebook",
                expired = %session.expires().map(|t| t.to_rfc3339()).unwrap_or_default(),
                "imported session has expired cookies; import fresh ones with `bazaar session import facebook <cookies.json>`"
            );
        }
        let params: Vec<CookieParam> = session
            .cookies
            .iter()
            .map(SessionCookie::to_param)
            .collect();
        browser.set_cookies(params).await.map_err(browser_failure)?;
        self.session_loaded.store(true, Ordering::Relaxed);
        tracing::info!(
            marketplace = "facebook",
            cookies = session.cookies.len(),
            "session loaded into the browser"
        );
        Ok(())
    }

    /// Runs `job` in the long-lived browser's tab, launching it if needed; a browser
    /// that died or failed is relaunched once and the job retried.
    async fn visit(&self, job: &Job) -> Result<Visited, Failure> {
        let mut guard = self.running.lock().await;
        let mut last = String::new();
        for round in 0..2 {
            if let Some(running) = guard.as_mut() {
                if !running.alive() {
                    tracing::warn!(
                        marketplace = "facebook",
                        pid = running.pid.unwrap_or(0),
                        "browser died; relaunching it"
                    );
                    if let Some(dead) = guard.take() {
                        dead.stop().await;
                    }
                }
            }
            let fresh = guard.is_none();
            if fresh {
                *guard = Some(self.launch().await?);
            }
            let Some(running) = guard.as_mut() else {
                continue;
            };
            let reload = self.reload_session.swap(false, Ordering::Relaxed);
            let loaded = if fresh || reload {
                self.load_session(&running.browser).await
            } else {
                Ok(())
            };
            let result = match loaded {
                Ok(()) => self.in_tab(running, job).await,
                Err(failure) => Err(failure),
            };
            match result {
                // The page navigated while a script ran in it: the tab's trouble, not the
                // browser's. Try again in a new tab, keeping the browser.
                Err(Failure::Browser(error)) if error.contains(LOST_PAGE_CONTEXT) => {
                    tracing::info!(marketplace = "facebook", round, %error, "page context lost; retrying in a new tab");
                    last = error;
                }
                Err(Failure::Browser(error)) => {
                    tracing::warn!(
                        marketplace = "facebook",
                        round,
                        %error,
                        "browser call failed; relaunching the browser"
                    );
                    if let Some(failed) = guard.take() {
                        failed.stop().await;
                    }
                    last = error;
                }
                other => return other,
            }
        }
        Err(Failure::Retry(SourceError::Network(format!(
            "browser failed after a relaunch: {last}"
        ))))
    }

    /// Runs `job` in the kept tab (or a new one), keeps the tab when the visit went well and
    /// closes it when it did not: a page left mid-render or on a wall is not reused.
    async fn in_tab(&self, running: &mut Running, job: &Job) -> Result<Visited, Failure> {
        let page = match running.tab.take() {
            Some(page) => page,
            None => running
                .browser
                .new_page("about:blank")
                .await
                .map_err(browser_failure)?,
        };
        let result = async {
            match job {
                Job::Feed { url, offset, limit } => {
                    let mut feed = self.read_feed(&page, url, offset + limit).await?;
                    feed.unreadable = self
                        .read_details(&page, url, &feed.cards, *offset, *limit)
                        .await?;
                    Ok(Visited::Feed(feed))
                }
                Job::Item { url } => Ok(Visited::Item(Box::new(self.read_item(&page, url).await?))),
                Job::Render { url, ready } => {
                    Ok(Visited::Html(self.read_rendered(&page, url, ready).await?))
                }
            }
        }
        .await;
        if result.is_ok() {
            running.tab = Some(page);
        } else if let Err(error) = Self::close_tab(&running.browser, page).await {
            tracing::debug!(%error, "tab did not close");
        }
        result
    }

    /// Closes a tab and waits until the browser no longer lists it.
    async fn close_tab(browser: &Browser, page: Page) -> Result<(), String> {
        let target = page.target_id().clone();
        let closing = async {
            browser
                .execute(CloseTargetParams::new(target.clone()))
                .await
                .map_err(|e| e.to_string())?;
            loop {
                let targets = browser
                    .execute(GetTargetsParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                if targets
                    .result
                    .target_infos
                    .iter()
                    .all(|t| t.target_id != target)
                {
                    return Ok(());
                }
                tokio::time::sleep(POLL).await;
            }
        };
        tokio::time::timeout(CLOSE_TIMEOUT, closing)
            .await
            .map_err(|_| "timed out".to_string())?
    }

    /// Evaluates a `JSON.stringify(…)` expression and reads its result.
    async fn eval<T: serde::de::DeserializeOwned>(
        page: &Page,
        expression: &str,
    ) -> Result<T, Failure> {
        let json: String = page
            .evaluate_expression(expression)
            .await
            .map_err(browser_failure)?
            .into_value()
            .map_err(|e| Failure::Fail(SourceError::Malformed(format!("page script: {e}"))))?;
        serde_json::from_str(&json)
            .map_err(|e| Failure::Fail(SourceError::Malformed(format!("page script: {e}"))))
    }

    /// The page is not the marketplace app: a login wall, a CAPTCHA, or something else.
    async fn not_the_app(page: &Page, fallback: &str) -> Failure {
        let url = page
            .url()
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| fallback.to_string());
        let html = match page.content().await {
            Ok(html) => html,
            Err(error) => return browser_failure(error),
        };
        // A login URL is a wall too, whatever the page says.
        if let Some(kind) = detect_block(&url, &html, None) {
            return Failure::Blocked(kind, url);
        }
        Failure::Retry(SourceError::Malformed(format!(
            "{url}: not a marketplace page: {}",
            shorten(&html, 120)
        )))
    }

    /// The app said its data request failed.
    fn app_error(url: &str, message: Option<String>) -> Failure {
        let message = message.unwrap_or_default();
        let lower = message.to_lowercase();
        if lower.contains("login") || lower.contains("log in") {
            return Failure::Blocked(BlockKind::LoginWall, url.to_string());
        }
        Failure::Retry(SourceError::Http {
            status: 0,
            detail: format!("the page's data request failed: {}", shorten(&message, 120)),
        })
    }

    /// Navigates to a feed and reads at least `want` cards, clicking "See more".
    async fn read_feed(&self, page: &Page, url: &str, want: usize) -> Result<Feed, Failure> {
        page.goto(url).await.map_err(browser_failure)?;
        let mut deadline = tokio::time::Instant::now() + self.settings.render_timeout;
        // Cards shown before the last "See more" click: the next page has loaded once more show.
        let mut before_click: Option<usize> = None;
        // A feed pages at least one card per click; more clicks than that mean it is stuck.
        let mut clicks_left = want + 1;
        loop {
            let state: FeedState = Self::eval(page, FEED_STATE_JS).await?;
            if !state.app {
                return Err(Self::not_the_app(page, url).await);
            }
            if state.state == "error" {
                return Err(Self::app_error(url, state.error));
            }
            let settled =
                state.state == "ready" && before_click.is_none_or(|n| state.cards > n || state.end);
            if settled {
                if state.cards >= want || !state.more || clicks_left == 0 {
                    let cards: Vec<Card> = Self::eval(page, CARDS_JS).await?;
                    return Ok(Feed {
                        more: state.more,
                        total: state.total,
                        cards,
                        unreadable: HashMap::new(),
                    });
                }
                let min_delay = self.gate.config().min_delay;
                if !min_delay.is_zero() {
                    self.clock.sleep(min_delay).await;
                }
                let button = page
                    .find_element("button.see-more")
                    .await
                    .map_err(browser_failure)?;
                button.click().await.map_err(browser_failure)?;
                before_click = Some(state.cards);
                clicks_left -= 1;
                deadline = tokio::time::Instant::now() + self.settings.render_timeout;
                continue;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Failure::Retry(SourceError::Network(format!(
                    "{url}: listings did not render in {} s",
                    self.settings.render_timeout.as_secs()
                ))));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Navigates to an item page and reads it.
    /// The markup of `url` once an element matching `ready` shows (or the render timeout
    /// passed: the page as it is then).
    async fn read_rendered(&self, page: &Page, url: &str, ready: &str) -> Result<String, Failure> {
        page.goto(url).await.map_err(browser_failure)?;
        let probe = format!(
            "JSON.stringify(document.querySelector({}) !== null)",
            serde_json::Value::from(ready)
        );
        let deadline = tokio::time::Instant::now() + self.settings.render_timeout;
        while !Self::eval::<bool>(page, &probe).await? {
            if tokio::time::Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Self::eval(page, "JSON.stringify(document.documentElement.outerHTML)").await
    }

    async fn read_item(&self, page: &Page, url: &str) -> Result<Item, Failure> {
        page.goto(url).await.map_err(browser_failure)?;
        let deadline = tokio::time::Instant::now() + self.settings.render_timeout;
        loop {
            let state: ItemState = Self::eval(page, ITEM_STATE_JS).await?;
            if !state.app {
                return Err(Self::not_the_app(page, url).await);
            }
            if state.state == "error" {
                return Err(Self::app_error(url, state.error));
            }
            if state.state == "ready" {
                if state.unavailable {
                    return Err(Failure::Fail(SourceError::NotFound(url.to_string())));
                }
                if let Some(item) = state.item {
                    return Ok(item);
                }
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Failure::Retry(SourceError::Network(format!(
                    "{url}: the item did not render in {} s",
                    self.settings.render_timeout.as_secs()
                ))));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Reads the details of `cards` from `offset` on, in the feed's tab, through the app's
    /// own data request, until `limit` of them are on sale; cards read before at the same
    /// price count without a request. Returns the cards the site would not detail, with why;
    /// a login wall fails the whole visit.
    async fn read_details(
        &self,
        page: &Page,
        url: &str,
        cards: &[Card],
        offset: usize,
        limit: usize,
    ) -> Result<HashMap<String, SourceError>, Failure> {
        let mut unreadable = HashMap::new();
        let mut on_sale = 0;
        for card in cards.iter().skip(offset) {
            if on_sale >= limit {
                break;
            }
            if card_problem(card).is_some() {
                continue;
            }
            let id = card.id.trim();
            if let Some(item) = self.remembered(id, &card.price) {
                on_sale += usize::from(item.status != "sold");
                continue;
            }
            let min_delay = self.gate.config().min_delay;
            if !min_delay.is_zero() {
                self.clock.sleep(min_delay).await;
            }
            let answer: DataAnswer = Self::eval(page, &details_js(id)).await?;
            let item = match answer.status {
                200 => item_from_details(&answer.body),
                401 => return Err(Failure::Blocked(BlockKind::LoginWall, url.to_string())),
                status => Err(SourceError::Http {
                    status,
                    detail: shorten(&answer.body, 120),
                }),
            };
            match item {
                Ok(Some(item)) => {
                    on_sale += usize::from(item.status != "sold");
                    self.remember(id, &card.price, &item);
                }
                Ok(None) => {
                    let item_url = format!("{}/marketplace/item/{id}/", self.settings.base_url);
                    unreadable.insert(id.to_string(), SourceError::NotFound(item_url));
                }
                Err(error) => {
                    unreadable.insert(id.to_string(), error);
                }
            }
        }
        Ok(unreadable)
    }

    /// One visit through the gate, its failure classified for the retry loop.
    async fn attempt(&self, job: &Job) -> Outcome<Visited> {
        let started = std::time::Instant::now();
        let visited = self.visit(job).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.busy_micros.fetch_add(micros, Ordering::Relaxed);
        match visited {
            Ok(visited) => Outcome::Done(visited),
            Err(Failure::Blocked(kind, url)) => Outcome::Fail(self.gate.pause(kind, &url)),
            Err(Failure::Retry(error)) => Outcome::Retry {
                error,
                retry_after: None,
            },
            Err(Failure::Fail(error)) => Outcome::Fail(error),
            Err(Failure::Browser(error)) => Outcome::Retry {
                error: SourceError::Network(format!("browser: {error}")),
                retry_after: None,
            },
        }
    }

    async fn feed(&self, url: &str, offset: usize, limit: usize) -> Result<Feed, SourceError> {
        let job = Job::Feed {
            url: url.to_string(),
            offset,
            limit,
        };
        match self.gate.run("search", || self.attempt(&job)).await? {
            Visited::Feed(feed) => Ok(feed),
            _ => Err(SourceError::Malformed("not a feed".into())),
        }
    }

    async fn item(&self, url: &str) -> Result<Item, SourceError> {
        let job = Job::Item {
            url: url.to_string(),
        };
        match self.gate.run("item", || self.attempt(&job)).await? {
            Visited::Item(item) => Ok(*item),
            _ => Err(SourceError::Malformed("not an item page".into())),
        }
    }

    fn search_url(&self, query: &SearchQuery) -> Result<String, SourceError> {
        let path = match query.category.as_deref() {
            None if query.text.trim().is_empty() => "/marketplace/".to_string(),
            None => "/marketplace/search/".to_string(),
            Some(name) => {
                let slug = CATEGORIES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, slug)| *slug)
                    .ok_or_else(|| {
                        SourceError::Config(format!("marketplace has no category {name:?}"))
                    })?;
                format!("/marketplace/category/{slug}/")
            }
        };
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.settings.base_url))
            .map_err(|e| SourceError::Config(e.to_string()))?;
        {
            let mut pairs = url.query_pairs_mut();
            if !query.text.trim().is_empty() {
                pairs.append_pair("query", query.text.trim());
            }
            let (min, max) = query.whole_dollar_range();
            if let Some(min) = min {
                pairs.append_pair("minPrice", &min.to_string());
            }
            if let Some(max) = max {
                pairs.append_pair("maxPrice", &max.to_string());
            }
            match query.sort {
                SortOrder::BestMatch => {}
                SortOrder::Newest => {
                    pairs.append_pair("sortBy", "creation_time_descend");
                }
                SortOrder::PriceAscending => {
                    pairs.append_pair("sortBy", "price_ascend");
                }
                SortOrder::PriceDescending => {
                    pairs.append_pair("sortBy", "price_descend");
                }
            }
        }
        let url = url.to_string();
        Ok(url.strip_suffix('?').unwrap_or(&url).to_string())
    }

    fn item_url(&self, external_id: &str) -> Result<String, SourceError> {
        let id = external_id.trim();
        if id.starts_with("http://") || id.starts_with("https://") {
            let url = reqwest::Url::parse(id).map_err(|e| SourceError::Config(e.to_string()))?;
            if url.host_str() != Some(self.gate.host()) {
                return Err(SourceError::Config(format!(
                    "{id} is not on {}",
                    self.gate.host()
                )));
            }
            return Ok(url.to_string());
        }
        if id.starts_with("/marketplace/item/") {
            return Ok(format!("{}{id}", self.settings.base_url));
        }
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
            return Err(SourceError::Config(format!(
                "{id:?} is not a marketplace listing id or url"
            )));
        }
        Ok(format!("{}/marketplace/item/{id}/", self.settings.base_url))
    }

    fn absolute(&self, href: &str) -> String {
        match reqwest::Url::parse(&self.settings.base_url).and_then(|base| base.join(href)) {
            Ok(url) => url.to_string(),
            Err(_) => href.to_string(),
        }
    }

    /// The normalized listing an item page shows.
    fn listing(
        &self,
        item: Item,
        asked_category: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<MarketListing, String> {
        let id = item.id.trim().to_string();
        if id.is_empty() {
            return Err("item page without a listing id".into());
        }
        let title = item.title.trim().to_string();
        if title.is_empty() {
            return Err("no title".into());
        }
        let price = parse_price(&item.price).map_err(|p| p.to_string())?;
        let category = item
            .category_href
            .as_deref()
            .and_then(category_from_href)
            .or(asked_category)
            .unwrap_or("unknown")
            .to_string();
        let seller = item
            .message_href
            .as_deref()
            .and_then(|href| href.strip_prefix("mailto:"))
            .and_then(|rest| rest.split('?').next())
            .map(|a| a.trim().to_lowercase())
            .filter(|a| a.contains('@'));
        let (seller_id, display) = match seller {
            Some(address) => (address.clone(), Some(address)),
            None => (format!("facebook:{id}"), None),
        };
        let location = item
            .location
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty());
        let listed_at = item
            .listed_at
            .or_else(|| item.listed.as_deref().and_then(|t| listed_ago(t, now)));
        Ok(MarketListing {
            id: ListingId::new_at(now),
            marketplace: Marketplace::Facebook,
            url: format!("{}/marketplace/item/{id}/", self.settings.base_url),
            external_id: id,
            title,
            description: item.description,
            price,
            condition: Condition::Unknown,
            category,
            seller: SellerRef {
                external_id: seller_id,
                display_name: display,
                contact_url: None,
            },
            location,
            images: item.photos.iter().map(|p| self.absolute(p)).collect(),
            listed_at,
            first_seen: now,
            last_seen: now,
            raw: item.html,
        })
    }

    /// One page of search results, each with its item page read.
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SourceError> {
        let url = self.search_url(query)?;
        let limit = query
            .limit
            .unwrap_or(self.settings.listings_per_search)
            .max(1) as usize;
        let offset = query.offset as usize;
        let feed = self.feed(&url, offset, limit).await?;
        let now = self.clock.now();
        let mut out = SearchPage {
            total: feed.total,
            ..SearchPage::default()
        };
        let mut seen = std::collections::HashSet::new();
        let rest = feed.cards.get(offset..).unwrap_or_default();
        let mut consumed = 0usize;
        for card in rest {
            if out.listings.len() >= limit {
                break;
            }
            consumed += 1;
            let id = card.id.trim().to_string();
            if let Some(problem) = card_problem(card) {
                let id = (!id.is_empty()).then_some(id);
                skip(&mut out.skipped, Marketplace::Facebook, id, problem);
                continue;
            }
            if !seen.insert(id.clone()) {
                let reason = "duplicate in the same page".to_string();
                skip(&mut out.skipped, Marketplace::Facebook, Some(id), reason);
                continue;
            }
            let item_url = match &card.href {
                Some(href) => self.absolute(href),
                None => format!("{}/marketplace/item/{id}/", self.settings.base_url),
            };
            let item = match self.item_of_card(card, &item_url, &feed).await {
                Ok(item) => item,
                Err(SourceError::NotFound(_)) => {
                    let reason = "listing sold or gone".to_string();
                    skip(&mut out.skipped, Marketplace::Facebook, Some(id), reason);
                    continue;
                }
                Err(
                    error @ (SourceError::Http { .. }
                    | SourceError::Malformed(_)
                    | SourceError::Network(_)),
                ) => {
                    let reason = format!("item page unreadable: {error}");
                    skip(&mut out.skipped, Marketplace::Facebook, Some(id), reason);
                    continue;
                }
                Err(error) => return Err(error),
            };
            if item.status == "sold" {
                let reason = "listing sold".to_string();
                skip(&mut out.skipped, Marketplace::Facebook, Some(id), reason);
                continue;
            }
            match self.listing(item, query.category.as_deref(), now) {
                Ok(listing) => out.listings.push(listing),
                Err(reason) => skip(&mut out.skipped, Marketplace::Facebook, Some(id), reason),
            }
        }
        if consumed < rest.len() || feed.more {
            out.next_offset = u32::try_from(offset + consumed).ok();
        }
        Ok(out)
    }

    /// One listing by its id (or URL on this site). A sold listing is
    /// [`SourceError::NotFound`].
    pub async fn fetch(&self, external_id: &str) -> Result<MarketListing, SourceError> {
        let url = self.item_url(external_id)?;
        let item = self.item(&url).await?;
        if item.status == "sold" {
            return Err(SourceError::NotFound(url));
        }
        self.listing(item, None, self.clock.now())
            .map_err(|reason| {
                tracing::warn!(marketplace = "facebook", external_id, %reason, "listing skipped");
                SourceError::Malformed(reason)
            })
    }
}

/// Why a feed card cannot be a listing (no usable id or price), if it cannot.
fn card_problem(card: &Card) -> Option<String> {
    let id = card.id.trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Some(format!(
            "card without a listing id: {}",
            shorten(&card.html, 80)
        ));
    }
    match card.price.as_deref().map(parse_price) {
        None | Some(Err(PriceProblem::Missing)) => Some("no price".to_string()),
        Some(Err(problem)) => Some(problem.to_string()),
        Some(Ok(_)) => None,
    }
}

/// What the app's data request answered, as the page's script saw it (status 0: the request
/// itself failed).
#[derive(Debug, Deserialize)]
struct DataAnswer {
    status: u16,
    body: String,
}

/// The script asking the app's data endpoint for one listing's details, the way its item page
/// does. `id` is all digits (see [`card_problem`]); it is quoted anyway.
fn details_js(id: &str) -> String {
    let variables = serde_json::json!({ "targetId": id }).to_string();
    let variables = serde_json::to_string(&variables).unwrap_or_default();
    format!(
        "(async () => {{
  try {{
    const body = new URLSearchParams();
    body.set('fb_api_req_friendly_name', 'MarketplacePDPQuery');
    body.set('variables', {variables});
    const response = await fetch('/api/graphql/', {{
      method: 'POST',
      credentials: 'same-origin',
      headers: {{ 'Content-Type': 'application/x-www-form-urlencoded' }},
      body: body.toString()
    }});
    return JSON.stringify({{ status: response.status, body: await response.text() }});
  }} catch (error) {{
    return JSON.stringify({{ status: 0, body: String(error) }});
  }}
}})()"
    )
}

/// The item a details answer describes, as its page would show it; `None` when the site no
/// longer knows the listing.
fn item_from_details(body: &str) -> Result<Option<Item>, SourceError> {
    let malformed = |what: &str| SourceError::Malformed(format!("item details: {what}"));
    let json: serde_json::Value =
        serde_json::from_str(body).map_err(|e| malformed(&format!("not json: {e}")))?;
    if let Some(message) = json.pointer("/errors/0/message").and_then(|m| m.as_str()) {
        return Err(malformed(&format!(
            "the site said {:?}",
            shorten(message, 120)
        )));
    }
    let target = json
        .pointer("/data/viewer/marketplace_product_details_page/target")
        .ok_or_else(|| malformed("no data.viewer.marketplace_product_details_page.target"))?;
    if target.is_null() {
        return Ok(None);
    }
    let text = |path: &str| {
        target
            .pointer(path)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let id = text("/id").ok_or_else(|| malformed("no id"))?;
    let location = match (
        text("/location/reverse_geocode/city"),
        text("/location/reverse_geocode/state"),
    ) {
        (Some(city), Some(state)) => Some(format!("{city}, {state}")),
        _ => None,
    };
    let photos = target
        .pointer("/listing_photos")
        .and_then(|p| p.as_array())
        .map(|photos| {
            photos
                .iter()
                .filter_map(|p| p.pointer("/image/uri").and_then(|u| u.as_str()))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let sold = target.pointer("/is_sold").and_then(|s| s.as_bool()) == Some(true);
    Ok(Some(Item {
        id,
        status: if sold { "sold" } else { "active" }.to_string(),
        title: text("/marketplace_listing_title").unwrap_or_default(),
        price: text("/listing_price/formatted_amount").unwrap_or_default(),
        listed: None,
        listed_at: target
            .pointer("/creation_time")
            .and_then(|t| t.as_i64())
            .and_then(|t| DateTime::from_timestamp(t, 0)),
        description: text("/redacted_description/text").unwrap_or_default(),
        location,
        category_href: text("/marketplace_listing_category/slug")
            .map(|slug| format!("/marketplace/category/{slug}/")),
        photos,
        message_href: text("/seller_contact/email").map(|email| format!("mailto:{email}")),
        html: target.to_string(),
    }))
}

/// The normalized category of a `/marketplace/category/<slug>/` link.
fn category_from_href(href: &str) -> Option<&'static str> {
    let slug = href
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    CATEGORIES
        .iter()
        .find(|(_, s)| *s == slug)
        .map(|(name, _)| *name)
}

/// When "Listed 3 days ago in …" was, to the unit it says (an approximation).
fn listed_ago(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rest = text.trim().strip_prefix("Listed ")?;
    let ago = rest.split(" in ").next()?.trim();
    if ago.starts_with("just now") {
        return Some(now);
    }
    let mut words = ago.split_whitespace();
    let n: i64 = words.next()?.parse().ok()?;
    let unit = words.next()?.trim_end_matches('s');
    let secs = match unit {
        "minute" => 60,
        "hour" => 3_600,
        "day" => 86_400,
        "week" => 604_800,
        "month" => 2_592_000,
        "year" => 31_536_000,
        _ => return None,
    };
    Some(now - chrono::Duration::seconds(n.checked_mul(secs)?))
}

/// The connector's browser renders other sites' pages too (their own connector keeps its
/// politeness); a wall in front of such a page is that site's, so it pauses nothing here.
impl PageRenderer for MarketplaceBrowser {
    fn render<'a>(&'a self, url: &'a str, ready: &'a str) -> SourceFuture<'a, String> {
        Box::pin(async move {
            let job = Job::Render {
                url: url.to_string(),
                ready: ready.to_string(),
            };
            let started = std::time::Instant::now();
            let visited = self.visit(&job).await;
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.busy_micros.fetch_add(micros, Ordering::Relaxed);
            match visited {
                Ok(Visited::Html(html)) => Ok(html),
                Ok(_) => Err(SourceError::Malformed(format!(
                    "{url}: not a rendered page"
                ))),
                Err(Failure::Retry(error) | Failure::Fail(error)) => Err(error),
                Err(Failure::Browser(error)) => {
                    Err(SourceError::Network(format!("browser: {error}")))
                }
                Err(Failure::Blocked(BlockKind::Captcha, url)) => Err(SourceError::Captcha { url }),
                Err(Failure::Blocked(BlockKind::LoginWall, url)) => {
                    Err(SourceError::LoginWall { url })
                }
            }
        })
    }

    fn close(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.shutdown())
    }
}

impl Source for MarketplaceBrowser {
    fn marketplace(&self) -> Marketplace {
        Marketplace::Facebook
    }

    fn search<'a>(&'a self, query: &'a SearchQuery) -> SourceFuture<'a, SearchPage> {
        Box::pin(MarketplaceBrowser::search(self, query))
    }

    fn fetch<'a>(&'a self, external_id: &'a str) -> SourceFuture<'a, MarketListing> {
        Box::pin(MarketplaceBrowser::fetch(self, external_id))
    }

    /// The gate's alerts; a login wall's asks for fresh cookies.
    fn take_alerts(&self) -> Vec<SourceAlert> {
        let had_session = self.session_loaded.load(Ordering::Relaxed);
        self.gate
            .take_alerts()
            .into_iter()
            .map(|mut alert| {
                if alert.kind == BlockKind::LoginWall {
                    let why = if had_session {
                        "the imported session has expired or was logged out"
                    } else {
                        "no session is imported"
                    };
                    alert.message = format!(
                        "{} shows a login wall at {}: {why}. Export your browser's cookies for \
                         the site, run `bazaar session import facebook <cookies.json>`, then \
                         resume the source.",
                        alert.host, alert.url
                    );
                }
                alert
            })
            .collect()
    }

    /// Lifts the pause; the next call loads the session again (fresh cookies take effect).
    fn resume(&self) {
        self.reload_session.store(true, Ordering::Relaxed);
        self.gate.resume();
    }

    fn close(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.shutdown())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `body` as a details answer and compares what came out, summarized as
    /// `status title price location category mailto listed_at` or the error.
    fn check(body: &str, expected: &str) {
        let got = match item_from_details(body) {
            Ok(None) => "gone".to_string(),
            Ok(Some(item)) => format!(
                "{} {:?} {} {:?} {:?} {:?} {:?} photos={}",
                item.status,
                item.title,
                item.price,
                item.location,
                item.category_href,
                item.message_href,
                item.listed_at.map(|t| t.timestamp()),
                item.photos.len()
            ),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(got, expected, "{body}");
    }

    fn answer(target: &str) -> String {
        format!(
            r#"{{"data":{{"viewer":{{"marketplace_product_details_page":{{"target":{target}}}}}}},"extensions":{{"server_time":1}}}}"#
        )
    }

    #[test]
    fn details_answers_become_items_or_clear_errors() {
        let full = r#"{"id":"42","marketplace_listing_title":"Oak desk <b>","listing_price":{"formatted_amount":"$120"},
            "location":{"reverse_geocode":{"city":"Oakland","state":"CA"}},"marketplace_listing_category":{"slug":"furniture"},
            "creation_time":1700000000,"is_sold":false,"redacted_description":{"text":"sturdy"},
            "listing_photos":[{"image":{"uri":"/i/1.jpg"}},{"image":{}}],"seller_contact":{"email":"a@b.test"}}"#;
        check(
            &answer(full),
            r#"active "Oak desk <b>" $120 Some("Oakland, CA") Some("/marketplace/category/furniture/") Some("mailto:a@b.test") Some(1700000000) photos=1"#,
        );
        let sold = r#"{"id":"43","marketplace_listing_title":"Bike","listing_price":{"formatted_amount":"$80"},"is_sold":true,"seller_contact":null}"#;
        check(
            &answer(sold),
            r#"sold "Bike" $80 None None None None photos=0"#,
        );
        check(&answer("null"), "gone");
        check(
            r#"{"errors":[{"message":"rate limited"}]}"#,
            r#"error: malformed response: item details: the site said "rate limited""#,
        );
        check(
            "<html>oops</html>",
            "error: malformed response: item details: not json: expected value at line 1 column 1",
        );
        check(
            r#"{"data":{}}"#,
            "error: malformed response: item details: no data.viewer.marketplace_product_details_page.target",
        );
        check(
            &answer(r#"{"title":"no id"}"#),
            "error: malformed response: item details: no id",
        );
    }

    #[test]
    fn the_details_script_quotes_the_listing_id() {
        let script = details_js("123");
        assert!(
            script.contains(r#"body.set('variables', "{\"targetId\":\"123\"}");"#),
            "{script}"
        );
        // Whatever the id (cards are checked to be digits first), it stays inside one
        // double-quoted string literal.
        let hostile = details_js("1\"); alert(1); (\"");
        assert!(
            hostile.contains(
                r#"body.set('variables', "{\"targetId\":\"1\\\"); alert(1); (\\\"\"}");"#
            ),
            "{hostile}"
        );
    }
}
