//! The DealAnalyzer: values newly found listings against comparables in memory and decides.
//!
//! For each new listing it opens an [`Opportunity`], asks the index for comparables (never the
//! listing itself), runs the pure `bazaar_strategies::valuation::analyze`, records the
//! valuation and the decision with its reason, and — for a pursue whose seller can be
//! emailed — starts a negotiation with the ceiling the analysis set. A seller the listing
//! does not name an address for (Craigslist's postings hide it behind the reply button) is
//! asked of the marketplace first, once the batch is analyzed: one reply page per pursued
//! listing. A reply page that wants a person (a captcha) opens one inbox task per listing,
//! and the deal waits for the operator. A cold start (too few
//! comparables) is a pass that says so: no value is invented. A listing passed on, or one
//! we walked away from, is valued again when its asking price comes down.

use std::collections::BTreeMap;

use bazaar_memory::{Comparable, IndexError, ProductIndex, SledStore};
use bazaar_memory::{
    Envelope, Lifecycle, ListingId, MarketListing, Money, Negotiation, NegotiationStatus,
    Opportunity, OpportunityId, OpportunityStatus, PriceKind, ProductRecord, Seller, Store,
};
use bazaar_strategies::negotiation::DealContext;
use bazaar_strategies::valuation::{
    analyze, Analysis, Candidate, Comp, Decision, NegotiationHint, ValuationConfig,
};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::negotiator::{seller_history, NegotiatorMsg, StartNegotiation};
use crate::{ActorReport, AgentContext};

/// What `product` asked at `at`: its last asking price seen then.
fn asking_at(product: &ProductRecord, at: DateTime<Utc>) -> Option<Money> {
    product
        .price_history
        .iter()
        .rfind(|p| p.kind == PriceKind::Asking && p.at <= at)
        .map(|p| p.price)
}

/// Comparables asked of the index per listing. A comparable weighs its similarity to the
/// fourth power, so past the first dozen they change nothing (the valuation bench values
/// the default world the same with 12 as with 20) and only cost time.
pub const COMPARABLES: usize = 12;

/// Parts a batch is cut into per searcher thread: small enough that the first is recorded
/// while the others are still valued, large enough that handing them over costs nothing.
const PARTS_PER_SEARCHER: usize = 4;

/// Messages to the DealAnalyzer.
#[derive(Debug)]
pub enum AnalyzerMsg {
    /// Listings seen for the first time, or again at a lower price.
    ListingsFound(Vec<ListingId>),
    /// The operator read the seller's address of a pursued listing that waits for it (a
    /// captcha hid it from us): value the listing again and, still worth it, negotiate.
    ContactGiven {
        listing: ListingId,
        /// The seller's address, checked.
        address: String,
    },
    /// Take up the deals pursued before a restart whose negotiation never started (sent to
    /// itself when it starts, so the work counts as the system's: it is not quiet before).
    ResumeWaiting,
    /// Report what the analyzer holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The DealAnalyzer actor.
#[derive(Debug, Default)]
pub struct DealAnalyzer;

/// Values `candidate` against its comparables in the index (at most 20, the product
/// `exclude` left out): what the DealAnalyzer does for each listing and `bazaar appraise`
/// shows. The comparables used come back with the analysis.
pub fn appraise(
    index: &ProductIndex,
    valuation: &ValuationConfig,
    candidate: &Candidate<'_>,
    exclude: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(Analysis, Vec<Comparable>), IndexError> {
    let found = index.comparables(
        candidate.title,
        Some(candidate.category),
        None,
        COMPARABLES + 1,
    )?;
    let found: Vec<Comparable> = found
        .into_iter()
        .filter(|c| Some(c.product_id.as_str()) != exclude)
        .take(COMPARABLES)
        .collect();
    let analysis = analyze(
        candidate,
        &Comp::from_index(candidate.title, &found),
        valuation,
        now,
    );
    Ok((analysis, found))
}

/// The DealAnalyzer's state: its context and the valuation rules (it owns nothing durable).
#[derive(Debug)]
pub struct AnalyzerState {
    ctx: AgentContext,
    valuation: ValuationConfig,
    /// Pursued listings whose seller's address must first be read from the marketplace.
    awaiting_contact: Vec<AwaitingContact>,
    /// Pursued listings a search gave only in summary: read whole and valued again
    /// before a deal starts.
    awaiting_detail: Vec<(ListingId, OpportunityId)>,
}

/// A negotiation to start once the marketplace gives the seller's address.
#[derive(Debug)]
struct AwaitingContact {
    start: StartNegotiation,
    listing: MarketListing,
    contact_url: String,
}

impl Actor for DealAnalyzer {
    type Msg = Envelope<AnalyzerMsg>;
    type State = AnalyzerState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<AnalyzerState, ActorProcessingErr> {
        // Queued before the spawn returns (the address holds it until the supervisor binds
        // this instance), so the system is not quiet while the deals that waited across a
        // restart are still to be taken up.
        ctx.addrs.analyzer.send(AnalyzerMsg::ResumeWaiting)?;
        Ok(AnalyzerState {
            valuation: crate::valuation_config(&ctx.config),
            ctx,
            awaiting_contact: Vec::new(),
            awaiting_detail: Vec::new(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut AnalyzerState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                AnalyzerMsg::ListingsFound(mut listings) => {
                    // Once each: a listing's second look reads what its first one wrote.
                    let mut seen = std::collections::HashSet::new();
                    listings.retain(|id| seen.insert(*id));
                    state.appraise_and_record(&listings)?;
                    state.ctx.store.flush().await?;
                    state.read_whole_listings().await?;
                    state.reveal_contacts().await?;
                }
                AnalyzerMsg::ContactGiven { listing, address } => {
                    state.contact_given(listing, address)?;
                    state.ctx.store.flush().await?;
                    state.close_contact_task(listing).await?;
                }
                AnalyzerMsg::ResumeWaiting => {
                    state.resume_waiting_deals()?;
                    state.reveal_contacts().await?;
                }
                AnalyzerMsg::Status(reply) => {
                    let _ = reply.send(state.report()?);
                }
            }
        }
        Ok(())
    }
}

/// What the Negotiator needs of a pursued listing's analysis (only a pursue is negotiated:
/// a pass would give the asking price as the ceiling).
fn deal_context(listing: &MarketListing, analysis: &Analysis) -> DealContext {
    let (ceiling, confidence, pay_asking) = match &analysis.decision {
        Decision::Pursue {
            ceiling,
            confidence,
            strategy,
        } => (
            *ceiling,
            *confidence,
            *strategy == NegotiationHint::PayAsking,
        ),
        Decision::Pass { .. } => (listing.price, 0.0, false),
    };
    DealContext {
        asking: listing.price,
        ceiling,
        valuation_confidence: confidence,
        expected_margin: analysis.roi_bp.unwrap_or(0) as f64 / 10_000.0,
        pay_asking,
        category: listing.category.clone(),
        business_seller: false,
        time_left: None,
    }
}

/// Whether a listing's deal waits for its seller's address: pursued, and no negotiation
/// started. `Err` says why not, for the operator.
pub fn waits_for_contact(store: &SledStore, listing: ListingId) -> Result<Opportunity, String> {
    let found: Option<Opportunity> = store
        .find(Opportunity::BY_LISTING, &listing.to_bytes())
        .map_err(|e| e.to_string())?
        .into_iter()
        .next();
    let Some(opportunity) = found else {
        return Err(format!(
            "listing {listing} was never valued; nothing waits for its seller"
        ));
    };
    if opportunity.lifecycle.status != OpportunityStatus::Pursuing {
        return Err(format!(
            "listing {listing} is {:?}, not pursued; nothing waits for its seller",
            opportunity.lifecycle.status
        ));
    }
    let negotiations: Vec<Negotiation> = store
        .find(Negotiation::BY_OPPORTUNITY, &opportunity.id.to_bytes())
        .map_err(|e| e.to_string())?;
    if !negotiations.is_empty() {
        return Err(format!(
            "listing {listing} is already being negotiated; its seller has an address"
        ));
    }
    Ok(opportunity)
}

/// The read-only half of valuing a listing, shared by the DealAnalyzer's threads. It owns
/// its handles (each a cheap clone) so the actor can record while its searchers value.
struct Appraiser {
    store: SledStore,
    index: ProductIndex,
    valuation: ValuationConfig,
    now: DateTime<Utc>,
}

/// A listing valued and ready to be recorded.
struct Appraised {
    listing: MarketListing,
    opportunity: Opportunity,
    /// Why it is valued again, on a second look.
    again: Option<String>,
    analysis: Analysis,
    /// How many comparables it was valued on.
    comparables: usize,
}

impl Appraiser {
    /// The product recorded for `listing`, if any.
    fn own_product(&self, listing: ListingId) -> Result<Option<ProductRecord>, ActorProcessingErr> {
        Ok(self
            .store
            .find(ProductRecord::BY_LISTING, &listing.to_bytes())?
            .into_iter()
            .next())
    }

    /// Values `listing` against its comparables, its own product left out.
    fn value(
        &self,
        listing: &MarketListing,
        own: Option<&ProductRecord>,
    ) -> Result<(Analysis, Vec<Comparable>), IndexError> {
        let own_id = own.map(|p| p.id.to_string());
        appraise(
            &self.index,
            &self.valuation,
            &Candidate::from_listing(listing),
            own_id.as_deref(),
            self.now,
        )
    }

    /// Reads a listing, its product and any earlier opportunity, and values it; `None`
    /// when it is gone or a second look finds nothing new.
    fn appraise(&self, id: ListingId) -> Result<Option<Appraised>, ActorProcessingErr> {
        let store = &self.store;
        let Some(listing) = store.get::<MarketListing>(&id)? else {
            tracing::warn!(listing = %id, "listing to analyze is not in the store");
            return Ok(None);
        };
        let own = self.own_product(id)?;
        let earlier: Option<Opportunity> = store
            .find(Opportunity::BY_LISTING, &id.to_bytes())?
            .into_iter()
            .next();
        let (opportunity, again) = match earlier {
            None => {
                let first = Opportunity {
                    id: OpportunityId::new_at(self.now),
                    listing: id,
                    lifecycle: Lifecycle::new(OpportunityStatus::Discovered),
                    valuation: None,
                    created_at: self.now,
                };
                (first, None)
            }
            Some(earlier) => match self.second_look(&listing, own.as_ref(), earlier)? {
                Some((opportunity, why)) => (opportunity, Some(why)),
                None => return Ok(None),
            },
        };
        let (analysis, found) = self.value(&listing, own.as_ref())?;
        Ok(Some(Appraised {
            listing,
            opportunity,
            again,
            analysis,
            comparables: found.len(),
        }))
    }

    /// The opportunity to value `listing` again, and why, if it gets a second look: its
    /// asking price came down since the last look, and that look passed or ended with us
    /// walking away (a seller who would not come down to our ceiling may now). A
    /// walked-away look is closed first, so the history reads in order.
    fn second_look(
        &self,
        listing: &MarketListing,
        product: Option<&ProductRecord>,
        mut last: Opportunity,
    ) -> Result<Option<(Opportunity, String)>, ActorProcessingErr> {
        let store = &self.store;
        let looked_at = last
            .lifecycle
            .last_entered(OpportunityStatus::Analyzed)
            .unwrap_or(last.created_at);
        let Some(asked_then) = product.and_then(|p| asking_at(p, looked_at)) else {
            return Ok(None);
        };
        if asked_then.currency != listing.price.currency || listing.price.minor >= asked_then.minor
        {
            return Ok(None);
        }
        let now = self.now;
        match last.lifecycle.status {
            OpportunityStatus::Passed => {}
            OpportunityStatus::Pursuing => {
                let negotiations: Vec<Negotiation> =
                    store.find(Negotiation::BY_OPPORTUNITY, &last.id.to_bytes())?;
                let walked_away = !negotiations.is_empty()
                    && negotiations
                        .iter()
                        .all(|n| n.lifecycle.status == NegotiationStatus::WalkedAway);
                if !walked_away {
                    return Ok(None);
                }
                last.lifecycle
                    .advance(OpportunityStatus::Passed, now, "we walked away")?;
            }
            _ => return Ok(None),
        }
        tracing::info!(
            listing = %listing.id,
            title = %listing.title,
            was = %asked_then,
            asking = %listing.price,
            "asking price came down; valued again"
        );
        let why = format!(
            "the asking price came down from {asked_then} to {}",
            listing.price
        );
        Ok(Some((last, why)))
    }
}

impl AnalyzerState {
    /// Deals pursued before a restart whose negotiation never started (the process stopped
    /// between the decision and the seller's address, or before the Negotiator recorded it):
    /// valued again and started, or their sellers' addresses asked for again.
    fn resume_waiting_deals(&mut self) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        for opportunity in store.with_status::<Opportunity>(OpportunityStatus::Pursuing)? {
            if waits_for_contact(&store, opportunity.listing).is_err() {
                continue;
            }
            let Some(listing) = store.get::<MarketListing>(&opportunity.listing)? else {
                continue;
            };
            let analysis = self.value_again(&listing)?;
            if matches!(analysis.decision, Decision::Pass { .. }) {
                continue;
            }
            tracing::info!(listing = %listing.id, "pursued before the restart; taking it up again");
            let deal = deal_context(&listing, &analysis);
            self.start_negotiation(&listing, &opportunity, deal)?;
        }
        Ok(())
    }

    /// The operator gave the address of a seller a captcha hid: recorded on the seller, the
    /// listing valued again (the market may have moved while it waited), and negotiated when
    /// still worth it.
    fn contact_given(&mut self, id: ListingId, address: String) -> Result<(), ActorProcessingErr> {
        let store = &self.ctx.store;
        let mut opportunity = match waits_for_contact(store, id) {
            Ok(opportunity) => opportunity,
            Err(why) => {
                tracing::warn!(listing = %id, %why, "seller's address not used");
                return Ok(());
            }
        };
        let Some(listing) = store.get::<MarketListing>(&id)? else {
            tracing::warn!(listing = %id, "listing with a waiting deal is not in the store");
            return Ok(());
        };
        if let Some(mut seller) = self.seller_of(&listing)? {
            seller.contact = Some(address);
            store.put(&seller)?;
        }
        let now = self.ctx.clock.now();
        let analysis = self.value_again(&listing)?;
        if let Decision::Pass { reason } = &analysis.decision {
            tracing::info!(listing = %id, %reason, "no longer worth pursuing once the seller's address came");
            opportunity.lifecycle.advance(
                OpportunityStatus::Passed,
                now,
                format!("valued again when the seller's address came: {reason}"),
            )?;
            store.put(&opportunity)?;
            return Ok(());
        }
        tracing::info!(listing = %id, "seller's address given by the operator; negotiating");
        let deal = deal_context(&listing, &analysis);
        self.start_negotiation(&listing, &opportunity, deal)
    }

    fn report(&self) -> Result<ActorReport, ActorProcessingErr> {
        let store = &self.ctx.store;
        let count = |status: OpportunityStatus| -> Result<usize, ActorProcessingErr> {
            Ok(store.with_status::<Opportunity>(status)?.len())
        };
        let total = store.count::<Opportunity>();
        Ok(ActorReport {
            actor: "deal_analyzer",
            summary: format!(
                "{total} opportunities ({} pursuing, {} passed)",
                count(OpportunityStatus::Pursuing)?,
                count(OpportunityStatus::Passed)?
            ),
            idle: (total == 0).then(|| "no listings analyzed yet".to_string()),
        })
    }

    /// Values `ids` (store reads and index searches, nothing written) on up to
    /// `[index] searchers` threads and records each valuation on this one, in the order
    /// given. The batch is valued in small parts dealt to the searchers in turn, and a part
    /// is recorded as soon as it and those before it are valued, so recording overlaps the
    /// searching instead of waiting for the whole batch.
    fn appraise_and_record(&mut self, ids: &[ListingId]) -> Result<(), ActorProcessingErr> {
        let appraiser = self.appraiser();
        let threads = self.ctx.config.index.searcher_count().min(ids.len());
        if threads <= 1 {
            for id in ids {
                if let Some(appraised) = appraiser.appraise(*id)? {
                    self.record(appraised)?;
                }
            }
            return Ok(());
        }
        let parts: Vec<&[ListingId]> = ids
            .chunks(ids.len().div_ceil(threads * PARTS_PER_SEARCHER))
            .collect();
        std::thread::scope(|scope| {
            let (valued, ready) = std::sync::mpsc::channel();
            for first in 0..threads {
                let (valued, parts, appraiser) = (valued.clone(), &parts, &appraiser);
                scope.spawn(move || {
                    for n in (first..parts.len()).step_by(threads) {
                        let appraised: Result<Vec<_>, _> =
                            parts[n].iter().map(|id| appraiser.appraise(*id)).collect();
                        // refused once recording failed: nothing more to value
                        if valued.send((n, appraised)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(valued);
            // parts valued out of turn wait here for the ones before them
            let mut waiting = BTreeMap::new();
            let mut next = 0;
            // ends when every searcher is done (or one panicked: the scope re-raises it)
            for (n, appraised) in ready {
                waiting.insert(n, appraised);
                while let Some(appraised) = waiting.remove(&next) {
                    next += 1;
                    let recorded = appraised.and_then(|all| {
                        all.into_iter()
                            .flatten()
                            .try_for_each(|appraised| self.record(appraised))
                    });
                    // returning drops `ready`, which stops the searchers
                    recorded?;
                }
            }
            Ok(())
        })
    }

    /// Records a listing's valuation and decision; starts a negotiation on a pursue.
    fn record(&mut self, appraised: Appraised) -> Result<(), ActorProcessingErr> {
        let Appraised {
            listing,
            mut opportunity,
            again,
            analysis,
            comparables,
        } = appraised;
        let store = &self.ctx.store;
        let id = listing.id;
        let now = self.ctx.clock.now();
        opportunity.valuation = analysis.valuation();
        let value = analysis
            .value
            .map_or_else(|| "unknown".to_string(), |v| v.to_string());
        let valued = format!("value {value} from {comparables} comparables");
        opportunity.lifecycle.advance(
            OpportunityStatus::Analyzed,
            now,
            match again {
                Some(why) => format!("{why}; {valued}"),
                None => valued,
            },
        )?;
        match &analysis.decision {
            Decision::Pass { reason } => {
                tracing::debug!(listing = %id, title = %listing.title, %reason, "pass");
                opportunity.lifecycle.advance(
                    OpportunityStatus::Passed,
                    now,
                    reason.to_string(),
                )?;
                store.put(&opportunity)?;
            }
            Decision::Pursue { ceiling, .. } => {
                tracing::info!(
                    listing = %id,
                    title = %listing.title,
                    asking = %listing.price,
                    value = %value,
                    ceiling = %ceiling,
                    "pursue"
                );
                opportunity.lifecycle.advance(
                    OpportunityStatus::Pursuing,
                    now,
                    format!("asking {} under ceiling {ceiling}", listing.price),
                )?;
                store.put(&opportunity)?;
                if self
                    .source_of(&listing)
                    .is_some_and(|s| s.lists_summaries())
                {
                    self.awaiting_detail.push((listing.id, opportunity.id));
                    return Ok(());
                }
                let deal = deal_context(&listing, &analysis);
                self.start_negotiation(&listing, &opportunity, deal)?;
            }
        }
        Ok(())
    }

    /// A pursued deal that cannot go on, passed with `why`.
    fn pass_pursued(&self, id: OpportunityId, why: String) -> Result<(), ActorProcessingErr> {
        let store = &self.ctx.store;
        let Some(mut opportunity) = store.get::<Opportunity>(&id)? else {
            return Ok(());
        };
        if opportunity.lifecycle.status != OpportunityStatus::Pursuing {
            return Ok(());
        }
        opportunity
            .lifecycle
            .advance(OpportunityStatus::Passed, self.ctx.clock.now(), why)?;
        store.put(&opportunity)?;
        Ok(())
    }

    /// The source `listing` came from.
    fn source_of(
        &self,
        listing: &MarketListing,
    ) -> Option<&std::sync::Arc<dyn crate::connectors::Source>> {
        self.ctx
            .sources
            .iter()
            .find(|s| s.marketplace() == listing.marketplace)
    }

    /// Reads each pursued listing a search gave in summary whole (eBay's `getItem`:
    /// description, condition, item specifics, today's price), values it again, and starts
    /// its deal when it is still worth it; a listing gone meanwhile is passed.
    async fn read_whole_listings(&mut self) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        for (id, opportunity_id) in std::mem::take(&mut self.awaiting_detail) {
            let (Some(summary), Some(opportunity)) = (
                store.get::<MarketListing>(&id)?,
                store.get::<Opportunity>(&opportunity_id)?,
            ) else {
                continue;
            };
            let Some(source) = self.source_of(&summary).cloned() else {
                continue;
            };
            let now = self.ctx.clock.now();
            let whole = match source.fetch(&summary.external_id).await {
                Ok(whole) => whole,
                Err(crate::connectors::SourceError::NotFound(_)) => {
                    let why = "the listing ended before it could be read whole";
                    self.pass_pursued(opportunity_id, why.into())?;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(listing = %id, %error, "could not read the whole listing; valued on its summary");
                    summary.clone()
                }
            };
            let listing = MarketListing {
                id: summary.id,
                category: summary.category.clone(),
                seller: summary.seller.clone(),
                first_seen: summary.first_seen,
                last_seen: now,
                ..whole
            };
            store.put(&listing)?;
            let analysis = self.value_again(&listing)?;
            if let Decision::Pass { reason } = &analysis.decision {
                tracing::info!(listing = %id, %reason, "passed once read whole");
                let why = format!("read whole on the marketplace: {reason}");
                self.pass_pursued(opportunity_id, why)?;
                continue;
            }
            let deal = deal_context(&listing, &analysis);
            self.start_negotiation(&listing, &opportunity, deal)?;
        }
        self.ctx.store.flush().await?;
        Ok(())
    }

    /// The seller record of `listing`'s seller.
    fn seller_of(&self, listing: &MarketListing) -> Result<Option<Seller>, ActorProcessingErr> {
        let source = bazaar_memory::store::index_value(&[
            listing.marketplace.name(),
            &listing.seller.external_id,
        ]);
        Ok(self
            .ctx
            .store
            .find(Seller::BY_SOURCE, &source)?
            .into_iter()
            .next())
    }

    /// A listing already analyzed, valued again now (the market may have moved).
    fn value_again(&self, listing: &MarketListing) -> Result<Analysis, ActorProcessingErr> {
        let appraiser = self.appraiser();
        let own = appraiser.own_product(listing.id)?;
        Ok(appraiser.value(listing, own.as_ref())?.0)
    }

    /// The read-only half of valuing, as of now.
    fn appraiser(&self) -> Appraiser {
        Appraiser {
            store: self.ctx.store.clone(),
            index: self.ctx.index.clone(),
            valuation: self.valuation.clone(),
            now: self.ctx.clock.now(),
        }
    }

    fn start_negotiation(
        &mut self,
        listing: &MarketListing,
        opportunity: &Opportunity,
        deal: DealContext,
    ) -> Result<(), ActorProcessingErr> {
        let Some(seller) = self.seller_of(listing)? else {
            tracing::warn!(listing = %listing.id, "no seller record; cannot negotiate");
            return Ok(());
        };
        let address = seller
            .contact
            .clone()
            .or_else(|| Some(seller.external_id.clone()).filter(|id| id.contains('@')));
        let start = StartNegotiation {
            opportunity: opportunity.id,
            seller: seller.id,
            seller_address: address.clone().unwrap_or_default(),
            subject: listing.title.clone(),
            deal,
            history: seller_history(&seller),
        };
        if address.is_some() {
            self.ctx
                .addrs
                .negotiator
                .send(NegotiatorMsg::Start(Box::new(start)))?;
            return Ok(());
        }
        let Some(contact_url) = listing.seller.contact_url.clone() else {
            tracing::info!(listing = %listing.id, "the seller has no email address; not negotiating");
            return Ok(());
        };
        self.awaiting_contact.push(AwaitingContact {
            start,
            listing: listing.clone(),
            contact_url,
        });
        Ok(())
    }

    /// Reads the addresses of the sellers of the listings just pursued from their
    /// marketplaces' reply pages, records each on its seller, and starts those negotiations.
    async fn reveal_contacts(&mut self) -> Result<(), ActorProcessingErr> {
        if self.awaiting_contact.is_empty() {
            return Ok(());
        }
        let mut hidden: Vec<(MarketListing, String)> = Vec::new();
        for mut awaiting in std::mem::take(&mut self.awaiting_contact) {
            let listing = &awaiting.listing;
            let Some(source) = self.source_of(listing).cloned() else {
                tracing::warn!(listing = %listing.id, marketplace = %listing.marketplace, "no source to ask for the seller's address");
                continue;
            };
            let address = match source.reveal_contact(&awaiting.contact_url).await {
                Ok(address) => address,
                Err(error @ crate::connectors::SourceError::ContactHidden { .. }) => {
                    tracing::info!(listing = %listing.id, %error, "seller's address needs the operator");
                    hidden.push((awaiting.listing, awaiting.contact_url));
                    continue;
                }
                Err(crate::connectors::SourceError::PhoneOnly { phone, .. }) => {
                    tracing::info!(listing = %listing.id, "the seller takes calls or texts only; passed");
                    self.pass_pursued(
                        awaiting.start.opportunity,
                        format!("the seller takes calls or texts only ({phone}); bazaar negotiates by email"),
                    )?;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(listing = %listing.id, url = %awaiting.contact_url, %error, "could not read the seller's address; not negotiating");
                    continue;
                }
            };
            let store = &self.ctx.store;
            if let Some(mut seller) = store.get::<Seller>(&awaiting.start.seller)? {
                seller.contact = Some(address.clone());
                store.put(&seller)?;
            }
            tracing::info!(listing = %listing.id, "seller's address read from the reply page");
            awaiting.start.seller_address = address;
            self.ctx
                .addrs
                .negotiator
                .send(NegotiatorMsg::Start(Box::new(awaiting.start)))?;
        }
        self.ctx.store.flush().await?;
        self.ask_for_contacts(&hidden).await
    }

    /// One inbox task for every listing of a batch whose seller's address a captcha hid:
    /// which pages to open, and how to hand the addresses back.
    async fn ask_for_contacts(
        &self,
        hidden: &[(MarketListing, String)],
    ) -> Result<(), ActorProcessingErr> {
        let Some((first, _)) = hidden.first() else {
            return Ok(());
        };
        let pages: Vec<String> = hidden
            .iter()
            .map(|(listing, url)| {
                format!(
                    "{} ({}, asking {}): {url}",
                    listing.id, listing.title, listing.price
                )
            })
            .collect();
        let summary = match hidden.len() {
            1 => format!("read the seller's reply address for {}", first.title),
            n => format!("read the sellers' reply addresses for {n} listings"),
        };
        let reason = format!(
            "the marketplace shows these addresses only to a person (behind a captcha, or \
             written by the page's script); open each page in a browser and run `bazaar contact \
             LISTING ADDRESS` (the deals wait): {}",
            pages.join("; ")
        );
        // A set, whatever order the batch came in (a restart takes the deals up in another).
        let mut ids: Vec<String> = hidden.iter().map(|(l, _)| l.id.to_string()).collect();
        ids.sort();
        let key = format!("reply-addresses:{}", ids.join(","));
        for (listing, _) in hidden {
            let meta = bazaar_memory::meta_keys::contact_task(listing.id);
            self.ctx.store.put_meta(&meta, &key)?;
        }
        crate::tasks::open_task_once(&self.ctx, &key, summary, reason).await
    }

    /// Closes the task that asked for `listing`'s seller's address once no listing it names
    /// still waits for one (each was given, or its deal ended).
    async fn close_contact_task(&self, listing: ListingId) -> Result<(), ActorProcessingErr> {
        let store = &self.ctx.store;
        let Some(key) =
            store.get_meta::<String>(&bazaar_memory::meta_keys::contact_task(listing))?
        else {
            return Ok(());
        };
        for named in key.trim_start_matches("reply-addresses:").split(',') {
            let Ok(id) = named.parse::<ListingId>() else {
                continue;
            };
            // Its deal went on (or ended), or its seller's address is known now.
            if waits_for_contact(store, id).is_err() {
                continue;
            }
            let Some(listing) = store.get::<MarketListing>(&id)? else {
                continue;
            };
            if self
                .seller_of(&listing)?
                .is_none_or(|s| s.contact.is_none())
            {
                return Ok(());
            }
        }
        crate::tasks::close_task(&self.ctx, &key, "every seller's address was given").await
    }
}
