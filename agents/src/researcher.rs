//! The Researcher: runs the saved searches on the marketplaces' connectors, records what they
//! show (listings, prices, sellers, products — indexed), and hands new listings to the
//! DealAnalyzer.
//!
//! Each saved search runs every `every_minutes` on the runtime clock, jittered by up to a
//! tenth either way and staggered at start so sources are not hit at once; a run reads up to
//! [`PAGES_PER_RUN`] pages, or, for a search that asks for the newest first, until a page
//! shows a listing an earlier run saw (what follows it is older). A listing is new once per
//! (marketplace, external id); the same title at the same price from another marketplace
//! within a week is a near-duplicate: recorded, not analyzed twice. A source that hits a
//! login wall or CAPTCHA pauses itself; its one alert becomes a task in the operator's inbox.
//! A marketplace whose searches keep failing otherwise (down, timing out, answering garbage,
//! a connector that panics or hangs) is one incident: one inbox task when it starts, quiet
//! while it lasts (the searches carry on as scheduled), one log line when a search works
//! again.

use bazaar_memory::meta_keys::{self, COLD_START_SEARCHES};
use bazaar_memory::store::index_value;
use bazaar_memory::{
    Envelope, ListingId, MarketListing, Opportunity, PriceKind, PricePoint, ProductId,
    ProductRecord, Seller, SellerEvent, SellerId, Store,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::analyzer::AnalyzerMsg;
use crate::connectors::{KnownListings, SearchQuery, Source, SourceError};
use crate::incident::Incidents;
use crate::{ActorReport, AgentContext};

/// Pages read per saved-search run.
pub const PAGES_PER_RUN: u32 = 3;

/// Messages to the Researcher.
#[derive(Debug)]
pub enum ResearcherMsg {
    /// Listings a scan returned (one page: producers paginate).
    Observed(Vec<MarketListing>),
    /// Run saved search number `n` now (sent by its timer).
    RunSearch(usize),
    /// Run every saved search that is due, earliest first (sent by the schedule's timers).
    RunDue,
    /// Report what the researcher holds.
    Status(RpcReplyPort<ActorReport>),
    /// Whether each marketplace it searches is working (`/readyz`, `bazaar health --ready`).
    Sources(RpcReplyPort<Vec<SourceHealth>>),
}

/// Whether one marketplace's searches work.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceHealth {
    pub marketplace: String,
    pub ok: bool,
    /// What is wrong, when something is: searches failing, or pages no longer read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The Researcher actor.
#[derive(Debug, Default)]
pub struct Researcher;

/// The Researcher's state: its context; everything else lives in the store.
#[derive(Debug)]
pub struct ResearcherState {
    ctx: AgentContext,
    /// (normalized title, price) → (marketplace, when seen) for near-duplicate detection.
    recent: std::collections::HashMap<
        (String, i64),
        (bazaar_memory::Marketplace, chrono::DateTime<chrono::Utc>),
    >,
    /// One random stream per saved search, so each one's jitter does not depend on the
    /// order in which searches happen to finish.
    rngs: Vec<rand::rngs::StdRng>,
    /// When each saved search is due next.
    due: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    /// Marketplaces whose searches are failing: since when, and how many runs failed.
    outages: Incidents<bazaar_memory::Marketplace>,
    /// Sources whose pages stopped reading (layout drift), one alert per incident.
    drifts: Incidents<bazaar_memory::Marketplace>,
    /// Listings read lately: (marketplace, external id) → what was read. Searches pass
    /// them as [`KnownListings`], so a posting unchanged since is not fetched again until
    /// its record is due a refresh (`LAST_SEEN_REFRESH_HOURS`), and a listing a search
    /// returns unchanged is not even read from the store.
    read_lately: std::collections::HashMap<(bazaar_memory::Marketplace, String), ReadLately>,
}

impl ResearcherState {
    /// Runs every due search in order of (due time, search): searches that fall due
    /// together run in the same order every time, whichever timer fires first.
    async fn run_due(&mut self) -> Result<(), ActorProcessingErr> {
        loop {
            let now = self.ctx.clock.now();
            let next = self
                .due
                .iter()
                .enumerate()
                .filter_map(|(n, due)| due.filter(|at| *at <= now).map(|at| (at, n)))
                .min();
            let Some((_, n)) = next else {
                return Ok(());
            };
            self.run_search(n).await?;
        }
    }

    /// The listings of `marketplace` read lately enough to need no new read; forgets the
    /// rest.
    fn known_on(&mut self, marketplace: bazaar_memory::Marketplace) -> KnownListings {
        let now = self.ctx.clock.now();
        self.read_lately
            .retain(|_, read| written_lately(read.written, now));
        KnownListings::new(
            self.read_lately
                .iter()
                .filter(|((on, _), _)| *on == marketplace)
                .map(|((_, id), read)| (id.clone(), read.price))
                .collect(),
        )
    }

    /// Sends listings to the DealAnalyzer.
    async fn hand_to_analyzer(&self, new: Vec<ListingId>) -> Result<(), ActorProcessingErr> {
        if new.is_empty() {
            return Ok(());
        }
        self.ctx
            .addrs
            .analyzer
            .send_bounded(AnalyzerMsg::ListingsFound(new))
            .await?;
        Ok(())
    }

    /// Records one page of listings: which were not seen before, and which known ones now
    /// ask less.
    async fn observe(
        &mut self,
        listings: Vec<MarketListing>,
    ) -> Result<Observed, ActorProcessingErr> {
        let store = &self.ctx.store;
        let now = self.ctx.clock.now();
        let mut observed = Observed::default();
        for mut listing in listings {
            let key = (listing.marketplace, listing.external_id.clone());
            let print = fingerprint(&listing);
            // Read lately exactly so: what the store holds says the same (see
            // `seen_lately_unchanged`), so it need not be read to be compared.
            let unchanged = self
                .read_lately
                .get(&key)
                .is_some_and(|read| read.print == print && written_lately(read.written, now));
            if unchanged {
                continue;
            }
            let source = index_value(&[listing.marketplace.name(), &listing.external_id]);
            let known: Option<MarketListing> = store
                .find(MarketListing::BY_SOURCE, &source)?
                .into_iter()
                .next();
            match &known {
                Some(old) => {
                    listing.id = old.id;
                    listing.first_seen = old.first_seen;
                    if seen_lately_unchanged(old, &listing, now) {
                        self.read_lately.insert(
                            key,
                            ReadLately {
                                price: old.price,
                                written: old.last_seen,
                                print,
                            },
                        );
                        continue;
                    }
                    if old.price.currency == listing.price.currency
                        && listing.price.minor < old.price.minor
                    {
                        observed.cheaper.push(listing.id);
                    }
                }
                None => observed.new.push(listing.id),
            }
            let seller = self.upsert_seller(&listing, now)?;
            listing.last_seen = now;
            let price_changed = known.as_ref().is_none_or(|old| old.price != listing.price);
            store.put(&listing)?;
            self.read_lately.insert(
                key,
                ReadLately {
                    price: listing.price,
                    written: now,
                    print,
                },
            );
            let (product, searchable_changed) =
                self.upsert_product(&listing, seller, price_changed, now)?;
            if searchable_changed {
                self.ctx.index.upsert_product(&product).await?;
            }
        }
        store.flush().await?;
        // The analyzer reads comparables right after: make this page searchable first.
        if self.ctx.config.researcher.commit_each_page {
            self.ctx.index.commit().await?;
        }
        Ok(observed)
    }

    /// Hands a recorded page to the DealAnalyzer: the new listings (near-duplicates
    /// dropped) and the known ones whose price came down, which may be worth a second look.
    /// A near-duplicate was never valued, so its price drop is no reason to value it now.
    async fn analyze_observed(&mut self, observed: Observed) -> Result<(), ActorProcessingErr> {
        let mut to_analyze = self.not_near_duplicates(observed.new)?;
        let comparables = self.seek_comparables(&to_analyze).await?;
        to_analyze.extend(comparables);
        for id in observed.cheaper {
            let valued = !self
                .ctx
                .store
                .find(Opportunity::BY_LISTING, &id.to_bytes())?
                .is_empty();
            if valued {
                to_analyze.push(id);
            }
        }
        self.hand_to_analyzer(to_analyze).await
    }

    /// Cold start: for each new listing memory has no comparables for, asks eBay for active
    /// listings like it (one query per kind of item, each once a week, at most
    /// `cold_start_searches_per_day`), and records them, so the DealAnalyzer values the
    /// listing against them. Returns the listings found that way, to be valued too (they are
    /// for sale like any other).
    async fn seek_comparables(
        &mut self,
        new: &[ListingId],
    ) -> Result<Vec<ListingId>, ActorProcessingErr> {
        let per_day = self.ctx.config.researcher.cold_start_searches_per_day;
        let Some(ebay) = self.source(bazaar_memory::Marketplace::Ebay) else {
            return Ok(Vec::new());
        };
        if per_day == 0 || new.is_empty() {
            return Ok(Vec::new());
        }
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        let today = now.date_naive();
        let mut done = match store.get_meta::<(chrono::NaiveDate, u32)>(COLD_START_SEARCHES)? {
            Some((day, count)) if day == today => count,
            _ => 0,
        };
        // What this batch recorded is counted as memory too.
        self.ctx.index.commit().await?;
        let needed = crate::valuation_config(&self.ctx.config)
            .min_comparables
            .max(1) as usize;
        let mut asked = std::collections::BTreeSet::new();
        let mut found = Vec::new();
        for id in new {
            let Some(listing) = store.get::<MarketListing>(id)? else {
                continue;
            };
            if listing.marketplace == bazaar_memory::Marketplace::Ebay {
                continue;
            }
            let Some(query) = comparables_query(&listing.title) else {
                continue;
            };
            if asked.contains(&query) {
                continue;
            }
            let own = store
                .find::<ProductRecord>(ProductRecord::BY_LISTING, &id.to_bytes())?
                .into_iter()
                .next()
                .map(|p| p.id.to_string());
            let known = self
                .ctx
                .index
                .comparables(&listing.title, Some(&listing.category), None, needed + 1)?
                .into_iter()
                .filter(|c| Some(&c.product_id) != own.as_ref())
                .count();
            if known >= needed {
                continue;
            }
            let sought = meta_keys::cold_start_query(&query);
            let fresh = store
                .get_meta::<chrono::DateTime<chrono::Utc>>(&sought)?
                .is_some_and(|at| now - at < chrono::Duration::days(COLD_START_REFRESH_DAYS));
            if fresh {
                continue;
            }
            if done >= per_day {
                tracing::info!(per_day, listing = %listing.id, "cold start: today's searches for comparables are used up");
                break;
            }
            asked.insert(query.clone());
            done += 1;
            store.put_meta(COLD_START_SEARCHES, &(today, done))?;
            store.put_meta(&sought, &now)?;
            let search = SearchQuery {
                text: query.clone(),
                category: Some(listing.category.clone()),
                limit: Some(50),
                ..SearchQuery::default()
            };
            match ebay.search(&search).await {
                Ok(page) => {
                    let read = page.listings.len();
                    let observed = self.observe(page.listings).await?;
                    tracing::info!(listing = %listing.id, %query, read, new = observed.new.len(), "cold start: comparables from ebay");
                    found.extend(observed.new);
                }
                Err(error) => {
                    tracing::warn!(%query, %error, "cold start: ebay search for comparables failed");
                }
            }
        }
        if !found.is_empty() {
            self.ctx.index.commit().await?;
        }
        Ok(found)
    }

    /// Drops near-duplicates (same title and price seen on another marketplace this week).
    fn not_near_duplicates(
        &mut self,
        new: Vec<ListingId>,
    ) -> Result<Vec<ListingId>, ActorProcessingErr> {
        let now = self.ctx.clock.now();
        let mut kept = Vec::with_capacity(new.len());
        for id in new {
            let Some(listing) = self.ctx.store.get::<MarketListing>(&id)? else {
                continue;
            };
            let key = (normalize_title(&listing.title), listing.price.minor);
            match self.recent.get(&key) {
                Some((marketplace, seen))
                    if *marketplace != listing.marketplace
                        && now - *seen < chrono::Duration::days(7) =>
                {
                    tracing::info!(listing = %id, title = %listing.title, "near-duplicate of a listing on {marketplace}; not analyzed again");
                }
                _ => kept.push(id),
            }
            self.recent.insert(key, (listing.marketplace, now));
        }
        Ok(kept)
    }

    /// Runs saved search `n` on its marketplace's source and reschedules it.
    async fn run_search(&mut self, n: usize) -> Result<(), ActorProcessingErr> {
        let Some(search) = self.ctx.config.researcher.searches.get(n).cloned() else {
            return Ok(());
        };
        self.schedule(n, false);
        let Some(source) = self.source(search.marketplace) else {
            return Ok(());
        };
        let mut query = SearchQuery::new(search.query.clone());
        query.category = search.category.clone();
        query.min_price = search.min_price;
        query.max_price = search.max_price;
        if search.newest_first {
            query.sort = crate::connectors::SortOrder::Newest;
        }
        query.known = self.known_on(search.marketplace);
        for _ in 0..PAGES_PER_RUN {
            let page = match self.search_page(source.as_ref(), &query).await {
                Ok(page) => page,
                Err(error) => {
                    self.search_failed(search.marketplace, &search.query, &error)
                        .await?;
                    break;
                }
            };
            if let Some(outage) = self.outages.recovered(&search.marketplace) {
                let minutes = (self.ctx.clock.now() - outage.since).num_minutes();
                tracing::info!(marketplace = %search.marketplace, failed_runs = outage.failures, minutes, "searches work again");
            }
            for skipped in &page.skipped {
                tracing::debug!(marketplace = %search.marketplace, reason = %skipped.reason, "listing skipped");
            }
            self.check_layout(search.marketplace, page.degraded.as_ref())
                .await?;
            let next = page.next_offset;
            let shown = page.listings.len() + page.unchanged;
            let observed = self.observe(page.listings).await?;
            let caught_up = search.newest_first && observed.new.len() < shown;
            self.analyze_observed(observed).await?;
            match next {
                Some(offset) if !caught_up => query.offset = offset,
                _ => break,
            }
        }
        for alert in source.take_alerts() {
            crate::tasks::open_task(
                &self.ctx,
                alert.message.clone(),
                format!("{} paused at {}", alert.marketplace, alert.url),
            )
            .await?;
        }
        Ok(())
    }

    /// One page from `source`, a connector that panics or hangs (past
    /// `researcher.search_timeout_secs`) failing like one that errs: the Researcher carries on.
    async fn search_page(
        &self,
        source: &dyn Source,
        query: &SearchQuery,
    ) -> Result<crate::connectors::SearchPage, SourceError> {
        use futures::FutureExt;
        use std::panic::{catch_unwind, AssertUnwindSafe};
        let limit = Duration::from_secs(self.ctx.config.researcher.search_timeout_secs);
        // A connector can panic making its future as well as running it.
        let outcome = match catch_unwind(AssertUnwindSafe(|| source.search(query))) {
            Ok(search) => {
                tokio::time::timeout(limit, AssertUnwindSafe(search).catch_unwind()).await
            }
            Err(panic) => Ok(Err(panic)),
        };
        match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".to_string());
                tracing::error!(marketplace = %source.marketplace(), panic = %what, "connector panicked");
                Err(SourceError::Network(format!(
                    "the connector panicked ({what})"
                )))
            }
            Err(_) => Err(SourceError::Network(format!(
                "no answer in {} s (researcher.search_timeout_secs)",
                limit.as_secs()
            ))),
        }
    }

    /// A search failed: the first failure of an incident warns and puts one task in the
    /// inbox; the rest of it only counts. A paused source (login wall, CAPTCHA) has its own
    /// alert and is left to it.
    async fn search_failed(
        &mut self,
        marketplace: bazaar_memory::Marketplace,
        query: &str,
        error: &SourceError,
    ) -> Result<(), ActorProcessingErr> {
        if matches!(
            error,
            SourceError::Paused { .. }
                | SourceError::LoginWall { .. }
                | SourceError::Captcha { .. }
        ) {
            tracing::debug!(%marketplace, %query, %error, "saved search skipped: source paused");
            return Ok(());
        }
        if !self.outages.failed(marketplace, self.ctx.clock.now()) {
            let failed_runs = self.outages.get(&marketplace).map_or(0, |o| o.failures);
            tracing::debug!(%marketplace, %query, %error, failed_runs, "saved search failed again");
            return Ok(());
        }
        tracing::warn!(%marketplace, %query, %error, "saved search failed; the searches carry on as scheduled");
        crate::tasks::open_task(
            &self.ctx,
            format!("searches on {marketplace} are failing: {error}"),
            "the searches carry on as scheduled; this is the one alert for this outage, and \
             the log says when they work again"
                .to_string(),
        )
        .await?;
        Ok(())
    }

    /// A page read short is an incident: the first one opens a task and announces
    /// `source_degraded`; the next ones only count, until a page reads well again.
    async fn check_layout(
        &mut self,
        marketplace: bazaar_memory::Marketplace,
        degraded: Option<&crate::connectors::Degradation>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(degraded) = degraded else {
            if let Some(drift) = self.drifts.recovered(&marketplace) {
                tracing::info!(%marketplace, pages = drift.failures, "search pages read again");
            }
            return Ok(());
        };
        if !self.drifts.failed(marketplace, self.ctx.clock.now()) {
            return Ok(());
        }
        let message = degraded.message();
        tracing::error!(%marketplace, url = %degraded.url, read = degraded.read, expected = ?degraded.expected, "source degraded: search page layout changed");
        crate::tasks::open_incident(
            &self.ctx,
            message.clone(),
            "a page the connector could not read is not an empty result; searches on it \
             find nothing until the connector is fixed"
                .to_string(),
            Some(bazaar_policies::GateEvent::SourceDegraded {
                marketplace: marketplace.to_string(),
                url: degraded.url.clone(),
                read: degraded.read,
                expected: degraded.expected,
                message,
            }),
        )
        .await?;
        Ok(())
    }

    fn source(&self, marketplace: bazaar_memory::Marketplace) -> Option<Arc<dyn Source>> {
        self.ctx
            .sources
            .iter()
            .find(|s| s.marketplace() == marketplace)
            .cloned()
    }

    /// Wakes saved search `n` after its interval (jittered), or — at start — after a stagger.
    fn schedule(&mut self, n: usize, first: bool) {
        // Not due again unless scheduled below (a search without a source never is).
        if let Some(due) = self.due.get_mut(n) {
            *due = None;
        }
        let searches = &self.ctx.config.researcher.searches;
        let Some(search) = searches.get(n) else {
            return;
        };
        if self.source(search.marketplace).is_none() {
            return;
        }
        let every = u64::from(search.every_minutes.max(1)) * 60;
        let count = searches.len().max(1) as u64;
        let rng = &mut self.rngs[n];
        let wait = if first {
            every * n as u64 / count + rng.random_range(0..=every / 10)
        } else {
            let jitter = every / 10;
            every - jitter + rng.random_range(0..=2 * jitter)
        };
        let clock = self.ctx.clock.clone();
        self.due[n] = Some(clock.now() + chrono::Duration::seconds(wait as i64));
        let addr = self.ctx.addrs.researcher.clone();
        tokio::spawn(async move {
            clock.sleep(Duration::from_secs(wait)).await;
            let _ = addr.send(ResearcherMsg::RunDue);
        });
    }

    fn upsert_seller(
        &self,
        listing: &MarketListing,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<SellerId, ActorProcessingErr> {
        let store = &self.ctx.store;
        let source = index_value(&[listing.marketplace.name(), &listing.seller.external_id]);
        let mut seller = match store.find(Seller::BY_SOURCE, &source)?.into_iter().next() {
            Some(seller) => seller,
            None => Seller {
                id: SellerId::new_at(now),
                marketplace: listing.marketplace,
                external_id: listing.seller.external_id.clone(),
                display_name: listing.seller.display_name.clone(),
                contact: None,
                first_seen: now,
                history: Vec::new(),
            },
        };
        let seen_at_price = seller.history.iter().any(|(_, event)| {
            matches!(event, SellerEvent::ListingSeen { listing: id, price } if *id == listing.id && *price == listing.price)
        });
        if !seen_at_price {
            seller.history.push((
                now,
                SellerEvent::ListingSeen {
                    listing: listing.id,
                    price: listing.price,
                },
            ));
            store.put(&seller)?;
        }
        Ok(seller.id)
    }

    fn upsert_product(
        &self,
        listing: &MarketListing,
        seller: SellerId,
        price_changed: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(ProductRecord, bool), ActorProcessingErr> {
        let store = &self.ctx.store;
        let known = store
            .find(ProductRecord::BY_LISTING, &listing.id.to_bytes())?
            .into_iter()
            .next();
        let searchable_before = known.as_ref().map(searchable);
        let mut product = match known {
            Some(product) => product,
            None => ProductRecord {
                id: ProductId::new_at(now),
                title: listing.title.clone(),
                category: listing.category.clone(),
                condition: listing.condition,
                marketplace: listing.marketplace,
                listing: Some(listing.id),
                seller: Some(seller),
                asking: None,
                sold: None,
                price_history: Vec::new(),
                first_seen: now,
                last_seen: now,
            },
        };
        product.title = listing.title.clone();
        product.asking = Some(listing.price);
        product.last_seen = now;
        if price_changed {
            product.price_history.push(PricePoint {
                at: now,
                price: listing.price,
                kind: PriceKind::Asking,
            });
        }
        store.put(&product)?;
        let searchable_changed = searchable_before != Some(searchable(&product));
        Ok((product, searchable_changed))
    }
}

/// What the search index holds of a product (see `ProductIndex::upsert_product`): a product
/// seen again with these unchanged is not indexed again.
fn searchable(product: &ProductRecord) -> impl PartialEq + use<> {
    (
        product.title.clone(),
        product.category.clone(),
        product.condition,
        product.asking,
        product.sold,
    )
}

/// What one page of listings brought.
#[derive(Debug, Default)]
struct Observed {
    /// Listings not seen before.
    new: Vec<ListingId>,
    /// Known listings whose asking price came down.
    cheaper: Vec<ListingId>,
}

/// How stale `last_seen` may get on a listing that has not changed before a scan rewrites it.
const LAST_SEEN_REFRESH_HOURS: i64 = 24;

/// Whether a listing's record written `at` is younger than [`LAST_SEEN_REFRESH_HOURS`]:
/// seen again unchanged, it needs no write.
fn written_lately(at: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> bool {
    now - at < chrono::Duration::hours(LAST_SEEN_REFRESH_HOURS)
}

/// A listing as read lately.
#[derive(Debug)]
struct ReadLately {
    /// Its asking price.
    price: bazaar_memory::Money,
    /// When its record was last written.
    written: chrono::DateTime<chrono::Utc>,
    /// [`fingerprint`] of what was read.
    print: u64,
}

/// A hash of what a source says of a listing: the fields [`seen_lately_unchanged`] compares
/// (not the record's own id and times, nor the raw page, which changes every visit).
fn fingerprint(listing: &MarketListing) -> u64 {
    use std::hash::{Hash, Hasher};
    let MarketListing {
        id: _,
        marketplace,
        external_id,
        url,
        title,
        description,
        price,
        condition,
        category,
        seller,
        location,
        images,
        listed_at,
        first_seen: _,
        last_seen: _,
        raw: _,
    } = listing;
    let read = (
        marketplace,
        external_id,
        url,
        title,
        description,
        price,
        condition,
        category,
        seller,
        location,
        images,
        listed_at,
    );
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_vec(&read)
        .unwrap_or_default()
        .hash(&mut hasher);
    hasher.finish()
}

/// Whether `seen` (just scanned) says nothing new about `old` and `old` was seen within
/// [`LAST_SEEN_REFRESH_HOURS`]. Every scan sees most listings again: rewriting each one
/// (listing, seller, product, search document: three store transactions, each a write to
/// disk) only to move `last_seen` was most of the simulated month's disk writes. The raw
/// page is not compared: pages carry counters and relative times that change every visit.
fn seen_lately_unchanged(
    old: &MarketListing,
    seen: &MarketListing,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    if !written_lately(old.last_seen, now) {
        return false;
    }
    // Every field named, so a field added later is compared (or skipped) on purpose.
    let MarketListing {
        id,
        marketplace,
        external_id,
        url,
        title,
        description,
        price,
        condition,
        category,
        seller,
        location,
        images,
        listed_at,
        first_seen,
        last_seen: _,
        raw: _,
    } = seen;
    *id == old.id
        && *marketplace == old.marketplace
        && *external_id == old.external_id
        && *url == old.url
        && *title == old.title
        && *description == old.description
        && *price == old.price
        && *condition == old.condition
        && *category == old.category
        && *seller == old.seller
        && *location == old.location
        && *images == old.images
        && *listed_at == old.listed_at
        && *first_seen == old.first_seen
}

impl Actor for Researcher {
    type Msg = Envelope<ResearcherMsg>;
    type State = ResearcherState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<ResearcherState, ActorProcessingErr> {
        // Seeded from the clock: unpredictable on the wall clock, repeatable on a simulated
        // one (the same sim run schedules its searches the same way).
        let seed = ctx.clock.now().timestamp_nanos_opt().unwrap_or_default() as u64;
        let searches = ctx.config.researcher.searches.len();
        let mut state = ResearcherState {
            ctx,
            recent: std::collections::HashMap::new(),
            read_lately: std::collections::HashMap::new(),
            rngs: (0..searches as u64)
                .map(|n| rand::SeedableRng::seed_from_u64(seed.wrapping_add(n)))
                .collect(),
            due: vec![None; searches],
            outages: Incidents::default(),
            drifts: Incidents::default(),
        };
        for n in 0..state.ctx.config.researcher.searches.len() {
            state.schedule(n, true);
        }
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut ResearcherState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                ResearcherMsg::Observed(listings) => {
                    let seen = listings.len();
                    let observed = state.observe(listings).await?;
                    tracing::debug!(
                        seen,
                        new = observed.new.len(),
                        cheaper = observed.cheaper.len(),
                        "listings recorded"
                    );
                    state.analyze_observed(observed).await?;
                }
                ResearcherMsg::RunSearch(n) => state.run_search(n).await?,
                ResearcherMsg::RunDue => state.run_due().await?,
                ResearcherMsg::Sources(reply) => {
                    let _ = reply.send(state.source_health());
                }
                ResearcherMsg::Status(reply) => {
                    let searches = &state.ctx.config.researcher.searches;
                    let runnable = searches
                        .iter()
                        .filter(|s| state.source(s.marketplace).is_some())
                        .count();
                    let idle = if searches.is_empty() {
                        Some("no saved searches configured ([researcher] searches)".to_string())
                    } else if runnable == 0 {
                        Some(format!(
                            "{} saved searches configured, but no enabled marketplace connector runs them",
                            searches.len()
                        ))
                    } else {
                        None
                    };
                    let _ = reply.send(ActorReport {
                        actor: "researcher",
                        summary: format!(
                            "{} listings, {} sellers, {} products known",
                            state.ctx.store.count::<MarketListing>(),
                            state.ctx.store.count::<Seller>(),
                            state.ctx.store.count::<ProductRecord>()
                        ),
                        idle,
                    });
                }
            }
        }
        Ok(())
    }
}

impl ResearcherState {
    fn source_health(&self) -> Vec<SourceHealth> {
        self.ctx
            .sources
            .iter()
            .map(|source| {
                let marketplace = source.marketplace();
                let problem = match (
                    self.outages.get(&marketplace),
                    self.drifts.get(&marketplace),
                ) {
                    (Some(outage), _) => Some(format!(
                        "searches failing since {} ({} failed runs)",
                        outage.since.to_rfc3339(),
                        outage.failures
                    )),
                    (None, Some(drift)) => Some(format!(
                        "pages not read since {} (layout drift, {} runs)",
                        drift.since.to_rfc3339(),
                        drift.failures
                    )),
                    (None, None) => None,
                };
                SourceHealth {
                    marketplace: marketplace.name().to_string(),
                    ok: problem.is_none(),
                    problem,
                }
            })
            .collect()
    }
}

/// How long a cold-start query's comparables count as fresh.
const COLD_START_REFRESH_DAYS: i64 = 7;

/// What to ask eBay for comparables of `title`: its first word that names the thing (often
/// the brand), and any of the next three (eBay's `(a, b)` is either), lowercase — not
/// condition, sale talk, bare numbers or punctuation. eBay matches every plain word, so a
/// whole title finds only itself; the valuation weighs what comes back by similarity.
fn comparables_query(title: &str) -> Option<String> {
    const NOISE: &[&str] = &[
        "a",
        "an",
        "and",
        "the",
        "for",
        "with",
        "in",
        "of",
        "on",
        "or",
        "to",
        "new",
        "used",
        "like",
        "great",
        "good",
        "excellent",
        "condition",
        "mint",
        "sale",
        "obo",
        "firm",
        "cheap",
        "nice",
        "works",
        "working",
        "perfect",
        "brand",
        "must",
        "sell",
        "only",
    ];
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .filter(|w| !NOISE.contains(&w.as_str()) && !w.chars().all(|c| c.is_ascii_digit()))
        .take(4)
        .collect();
    match words.as_slice() {
        [] => None,
        [only] => Some(only.clone()),
        [first, rest @ ..] => Some(format!("{first} ({})", rest.join(", "))),
    }
}

/// Lowercase letters and digits only, for matching titles across marketplaces.
fn normalize_title(title: &str) -> String {
    title
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::comparables_query;

    #[test]
    fn comparables_are_asked_by_the_words_that_name_the_thing() {
        let check = |title: &str, want: Option<&str>| {
            assert_eq!(comparables_query(title).as_deref(), want, "{title}")
        };
        check(
            "Canon Vixia HF R500 Camcorder",
            Some("canon (vixia, hf, r500)"),
        );
        check("Pioneer Stereo", Some("pioneer (stereo)"));
        check(
            "Brand New Television 60 Inch 4K Vizio TV",
            Some("television (inch, 4k, vizio)"),
        );
        check("GoPro", Some("gopro"));
        check("** 1984 **", None);
    }
}
