//! The Researcher: records what the marketplaces show (listings, prices, sellers) and hands
//! new listings to the DealAnalyzer. Connectors that scan the marketplaces feed it
//! [`ResearcherMsg::Observed`]; none ships in this build, so saved searches stay idle.

use bazaar_memory::store::index_value;
use bazaar_memory::{
    Envelope, ListingId, MarketListing, PriceKind, PricePoint, ProductId, ProductRecord, Seller,
    SellerEvent, SellerId, Store,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::analyzer::AnalyzerMsg;
use crate::{ActorReport, AgentContext};

/// Messages to the Researcher.
#[derive(Debug)]
pub enum ResearcherMsg {
    /// Listings a scan returned (one page: producers paginate).
    Observed(Vec<MarketListing>),
    /// Report what the researcher holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Researcher actor.
#[derive(Debug, Default)]
pub struct Researcher;

/// The Researcher's state: its context; everything else lives in the store.
#[derive(Debug)]
pub struct ResearcherState {
    ctx: AgentContext,
}

impl ResearcherState {
    /// Records one page of listings; returns the ids of listings not seen before.
    async fn observe(
        &mut self,
        listings: Vec<MarketListing>,
    ) -> Result<Vec<ListingId>, ActorProcessingErr> {
        let store = &self.ctx.store;
        let now = self.ctx.clock.now();
        let mut new = Vec::new();
        for mut listing in listings {
            let source = index_value(&[listing.marketplace.name(), &listing.external_id]);
            let known: Option<MarketListing> = store.find("by_source", &source)?.into_iter().next();
            let seller = self.upsert_seller(&listing, now)?;
            match &known {
                Some(old) => {
                    listing.id = old.id;
                    listing.first_seen = old.first_seen;
                }
                None => new.push(listing.id),
            }
            listing.last_seen = now;
            let price_changed = known.as_ref().is_none_or(|old| old.price != listing.price);
            store.put(&listing)?;
            let product = self.upsert_product(&listing, seller, price_changed, now)?;
            self.ctx.index.upsert_product(&product).await?;
        }
        store.flush().await?;
        // The analyzer reads comparables right after: make this page searchable first.
        self.ctx.index.commit().await?;
        Ok(new)
    }

    fn upsert_seller(
        &self,
        listing: &MarketListing,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<SellerId, ActorProcessingErr> {
        let store = &self.ctx.store;
        let source = index_value(&[listing.marketplace.name(), &listing.seller.external_id]);
        let mut seller = match store
            .find::<Seller>("by_source", &source)?
            .into_iter()
            .next()
        {
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
    ) -> Result<ProductRecord, ActorProcessingErr> {
        let store = &self.ctx.store;
        let mut product = match store
            .find::<ProductRecord>("by_listing", &listing.id.to_bytes())?
            .into_iter()
            .next()
        {
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
        Ok(product)
    }
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
        Ok(ResearcherState { ctx })
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
                    let new = state.observe(listings).await?;
                    tracing::debug!(seen, new = new.len(), "listings recorded");
                    if !new.is_empty() {
                        state
                            .ctx
                            .addrs
                            .analyzer
                            .send_bounded(AnalyzerMsg::ListingsFound(new))
                            .await?;
                    }
                }
                ResearcherMsg::Status(reply) => {
                    let searches = state.ctx.config.researcher.searches.len();
                    let idle = if searches == 0 {
                        Some("no saved searches configured ([researcher] searches)".to_string())
                    } else {
                        Some(format!(
                        "{searches} saved searches configured, but this build has no marketplace connector to run them"
                    ))
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
