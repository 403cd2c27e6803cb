//! Two classified-ads websites on 127.0.0.1, for the agent to scrape.
//!
//! - [`craigslist`]: a Craigslist-style site of static HTML: search pages
//!   (`/search/<cat>?query=&min_price=&max_price=&s=`) and posting pages
//!   (`/<area>/<cat>/d/<slug>/<id>.html`) with Craigslist's markup and class names.
//! - [`marketplace_js`]: a Facebook-Marketplace-style site whose HTML holds no listing at all;
//!   its script fetches `POST /api/graphql/` after load and renders the cards and item pages
//!   into the DOM, so only a real browser can read it.
//!
//! [`Sites::start`] serves both on ONE listener, told apart by path as on the real sites:
//! Craigslist's pages are at the root (`/`, `/search/…`, `/<area>/<cat>/d/…`), Marketplace's
//! under `/marketplace/…` plus its data endpoint `/api/graphql/`; placeholder photos of both
//! are at `/images/<id>/<n>.svg`. Links in pages are root-relative, so the same listings and
//! clock give byte-identical pages on any port. Each site shows only the listings whose
//! [`SiteListing::site`] is that site, and only once the clock has reached their
//! `posted_at`. While running, the simulation adds listings, marks them sold (deleted by
//! their author) and changes prices through [`SitesHandle`].

pub mod catalog;
pub mod craigslist;
pub mod marketplace_js;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::server::{self, Server};
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bazaar_memory::{Money, SharedClock};

pub use catalog::{
    catalog, parse_catalog, price_text, CatalogError, CatalogRow, Category, ListingGenerator,
    Place, Site, SiteListing, CATALOG_JSONL, PLACES, REPLY_DOMAIN,
};

/// How the sites page their results.
#[derive(Debug, Clone)]
pub struct SitesConfig {
    /// Results per Craigslist search page (Craigslist shows 120).
    pub craigslist_page_size: usize,
    /// Cards per Marketplace feed page, i.e. per "See more" (the default for requests that
    /// do not say `count`).
    pub marketplace_page_size: usize,
    /// A cookie `(name, value)` Marketplace's pages and data endpoint require: without it
    /// every page redirects to `/login/` and `/api/graphql/` answers 401 (a login wall).
    /// `None`: no login needed.
    pub require_session: Option<(String, String)>,
    /// How long Marketplace's data endpoint takes to answer, in wall time (a real site is
    /// not instant; tests use it to catch a call in flight).
    pub marketplace_latency: std::time::Duration,
    /// Thousandths of Craigslist's postings whose reply page shows a captcha instead of the
    /// seller's relay address (by post id; 0 by default: nobody in a simulated month could
    /// solve one).
    pub craigslist_captcha_permille: u16,
    /// Thousandths of Craigslist's postings whose reply page writes the address with its
    /// script (only a browser, or a person, sees it); 0 by default.
    pub craigslist_script_reply_permille: u16,
    /// Thousandths of Craigslist's postings whose seller takes calls or texts only: the
    /// reply page gives a phone number and no address; 0 by default.
    pub craigslist_phone_only_permille: u16,
}

impl Default for SitesConfig {
    fn default() -> SitesConfig {
        SitesConfig {
            craigslist_page_size: 120,
            marketplace_page_size: 24,
            require_session: None,
            marketplace_latency: std::time::Duration::ZERO,
            craigslist_captcha_permille: 0,
            craigslist_script_reply_permille: 0,
            craigslist_phone_only_permille: 0,
        }
    }
}

/// What has become of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingState {
    /// On sale.
    Active,
    /// Sold: deleted by its author on Craigslist, marked sold on Marketplace. It no longer
    /// shows in searches.
    Sold,
}

/// A listing the sites were given and what has become of it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub listing: SiteListing,
    /// Its state.
    pub state: ListingState,
}

/// A listing id that is already taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("listing {0} already exists")]
pub struct DuplicateId(pub u64);

pub(crate) struct Shared {
    listings: RwLock<BTreeMap<u64, Entry>>,
    pub(crate) clock: SharedClock,
    pub(crate) config: SitesConfig,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<u64, Entry>> {
        self.listings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<u64, Entry>> {
        self.listings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A listing of `site` that has been posted by now, sold or not.
    pub(crate) fn visible(&self, site: Site, id: u64) -> Option<Entry> {
        let now = self.clock.now();
        self.read()
            .get(&id)
            .filter(|e| e.listing.site == site && e.listing.posted_at <= now)
            .cloned()
    }

    /// The active, posted listings of `site` that `filter` matches, newest first.
    pub(crate) fn search(&self, site: Site, filter: &Filter) -> Vec<SiteListing> {
        let now = self.clock.now();
        let mut found: Vec<SiteListing> = self
            .read()
            .values()
            .filter(|e| {
                e.state == ListingState::Active
                    && e.listing.site == site
                    && e.listing.posted_at <= now
                    && filter.matches(&e.listing)
            })
            .map(|e| e.listing.clone())
            .collect();
        found.sort_by(catalog::newest_first);
        found
    }
}

/// A search: categories, words, a price range.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// Any of these (all when empty).
    pub categories: Vec<Category>,
    /// Lowercase words that must all occur.
    pub include: Vec<String>,
    /// Lowercase words that must not occur (`-word`).
    pub exclude: Vec<String>,
    /// Search titles only (Craigslist's `srchType=T`).
    pub title_only: bool,
    /// Minimum price in minor units, inclusive.
    pub min_minor: Option<i64>,
    /// Maximum price in minor units, inclusive.
    pub max_minor: Option<i64>,
}

impl Filter {
    /// Splits a query into words to include and `-words` to exclude.
    pub fn set_query(&mut self, query: &str) {
        for word in query.split_whitespace() {
            let word = word.to_lowercase();
            match word.strip_prefix('-') {
                Some(rest) if !rest.is_empty() => self.exclude.push(rest.to_string()),
                Some(_) => {}
                None => self.include.push(word),
            }
        }
    }

    fn matches(&self, listing: &SiteListing) -> bool {
        if !self.categories.is_empty() && !self.categories.contains(&listing.category) {
            return false;
        }
        if self.min_minor.is_some_and(|min| listing.price.minor < min)
            || self.max_minor.is_some_and(|max| listing.price.minor > max)
        {
            return false;
        }
        if self.include.is_empty() && self.exclude.is_empty() {
            return true;
        }
        let mut text = listing.title.to_lowercase();
        if !self.title_only {
            text.push('\n');
            text.push_str(&listing.description.to_lowercase());
        }
        self.include.iter().all(|w| text.contains(w.as_str()))
            && !self.exclude.iter().any(|w| text.contains(w.as_str()))
    }
}

/// Whole dollars from a query parameter: `"150"`, `" 150 "`; anything else is ignored, as the
/// real sites ignore it.
pub(crate) fn dollars_param(value: Option<&String>) -> Option<i64> {
    let value = value?.trim();
    let dollars: i64 = value.parse().ok()?;
    (dollars >= 0).then(|| dollars.saturating_mul(100))
}

/// A cloneable handle on the running sites' listings.
#[derive(Clone)]
pub struct SitesHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SitesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SitesHandle")
            .field("listings", &self.shared.read().len())
            .finish()
    }
}

impl SitesHandle {
    /// Adds a listing; it shows once the clock reaches its `posted_at`.
    pub fn add(&self, listing: SiteListing) -> Result<(), DuplicateId> {
        let mut listings = self.shared.write();
        if listings.contains_key(&listing.id) {
            return Err(DuplicateId(listing.id));
        }
        listings.insert(
            listing.id,
            Entry {
                listing,
                state: ListingState::Active,
            },
        );
        Ok(())
    }

    /// Marks a listing sold: it leaves the searches; its Craigslist page says "This posting
    /// has been deleted by its author.", its Marketplace page says it is sold. `false` when
    /// there is no such listing.
    pub fn mark_sold(&self, id: u64) -> bool {
        match self.shared.write().get_mut(&id) {
            Some(entry) => {
                entry.state = ListingState::Sold;
                true
            }
            None => false,
        }
    }

    /// Changes a listing's asking price (a seller's price drop). `false` when there is no
    /// such listing.
    pub fn set_price(&self, id: u64, price: Money) -> bool {
        match self.shared.write().get_mut(&id) {
            Some(entry) => {
                entry.listing.price = price;
                true
            }
            None => false,
        }
    }

    /// One listing and its state.
    pub fn get(&self, id: u64) -> Option<Entry> {
        self.shared.read().get(&id).cloned()
    }

    /// Every listing and its state, by id.
    pub fn entries(&self) -> Vec<Entry> {
        self.shared.read().values().cloned().collect()
    }
}

/// The two running sites. Dropping it stops the server too.
pub struct Sites {
    handle: SitesHandle,
    base_url: String,
    server: Server,
}

impl std::fmt::Debug for Sites {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sites")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl std::ops::Deref for Sites {
    type Target = SitesHandle;

    fn deref(&self) -> &SitesHandle {
        &self.handle
    }
}

impl Sites {
    /// Serves both sites with the default page sizes on 127.0.0.1 at a free port.
    pub async fn start(
        listings: Vec<SiteListing>,
        clock: SharedClock,
    ) -> std::io::Result<(Sites, SocketAddr)> {
        Sites::start_with(SitesConfig::default(), listings, clock).await
    }

    /// Serves both sites on 127.0.0.1 at a free port. Listings with a duplicate id are an
    /// error.
    pub async fn start_with(
        config: SitesConfig,
        listings: Vec<SiteListing>,
        clock: SharedClock,
    ) -> std::io::Result<(Sites, SocketAddr)> {
        let shared = Arc::new(Shared {
            listings: RwLock::new(BTreeMap::new()),
            clock,
            config,
        });
        let handle = SitesHandle { shared };
        for listing in listings {
            handle
                .add(listing)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        let (listener, addr) = server::bind().await?;
        let server = Server::serve(listener, router(handle.shared.clone()), "sites");
        let sites = Sites {
            handle,
            base_url: format!("http://{addr}"),
            server,
        };
        Ok((sites, addr))
    }

    /// A cloneable handle for the rest of the simulation.
    pub fn handle(&self) -> SitesHandle {
        self.handle.clone()
    }

    /// `http://127.0.0.1:<port>`: the root of both sites.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where Craigslist's pages start (`/`).
    pub fn craigslist_url(&self) -> String {
        format!("{}/", self.base_url)
    }

    /// Where Marketplace's pages start (`/marketplace/`).
    pub fn marketplace_url(&self) -> String {
        format!("{}/marketplace/", self.base_url)
    }

    /// Stops the server, letting requests in flight finish.
    pub async fn stop(mut self) {
        self.server.stop().await;
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(craigslist::routes())
        .merge(marketplace_js::routes())
        .route("/images/{id}/{file}", get(image))
        .fallback(craigslist::not_found)
        .with_state(shared)
}

/// A placeholder photo: a grey 600×450 SVG saying which photo of which listing it is.
async fn image(
    State(shared): State<Arc<Shared>>,
    Path((id, file)): Path<(u64, String)>,
) -> Response {
    let known = shared.read().get(&id).is_some_and(|e| {
        e.listing
            .images
            .iter()
            .any(|i| i == &format!("/images/{id}/{file}"))
    });
    let n = file
        .strip_suffix(".svg")
        .and_then(|n| n.parse::<u32>().ok());
    let (true, Some(n)) = (known, n) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"450\" \
         viewBox=\"0 0 600 450\"><rect width=\"600\" height=\"450\" fill=\"#d8d8d8\"/>\
         <text x=\"300\" y=\"235\" font-family=\"sans-serif\" font-size=\"28\" \
         text-anchor=\"middle\" fill=\"#777\">photo {n}</text></svg>"
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response()
}

/// Escapes text for HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}
