//! The DealAnalyzer: turns newly found listings into opportunities. Valuation from
//! comparables is not built yet, so opportunities stay `discovered`.

use bazaar_memory::{
    Envelope, Lifecycle, ListingId, Opportunity, OpportunityId, OpportunityStatus, Store,
};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::{ActorReport, AgentContext};

/// Messages to the DealAnalyzer.
#[derive(Debug)]
pub enum AnalyzerMsg {
    /// Listings seen for the first time.
    ListingsFound(Vec<ListingId>),
    /// Report what the analyzer holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The DealAnalyzer actor.
#[derive(Debug, Default)]
pub struct DealAnalyzer;

/// The DealAnalyzer's state: only its context (it owns nothing durable).
#[derive(Debug)]
pub struct AnalyzerState {
    ctx: AgentContext,
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
        Ok(AnalyzerState { ctx })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut AnalyzerState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            let store = &state.ctx.store;
            match msg {
                AnalyzerMsg::ListingsFound(listings) => {
                    let now = state.ctx.clock.now();
                    let mut created = 0;
                    for listing in listings {
                        let known: Vec<Opportunity> =
                            store.find("by_listing", &listing.to_bytes())?;
                        if !known.is_empty() {
                            continue;
                        }
                        store.put(&Opportunity {
                            id: OpportunityId::new_at(now),
                            listing,
                            lifecycle: Lifecycle::new(OpportunityStatus::Discovered),
                            valuation: None,
                            created_at: now,
                        })?;
                        created += 1;
                    }
                    store.flush().await?;
                    tracing::debug!(created, "opportunities discovered");
                }
                AnalyzerMsg::Status(reply) => {
                    let discovered: Vec<Opportunity> = store.find("by_status", b"discovered")?;
                    let _ = reply.send(ActorReport {
                    actor: "deal_analyzer",
                    summary: format!("{} opportunities, {} awaiting valuation", store.count::<Opportunity>(), discovered.len()),
                    idle: Some("valuation from comparables is not built yet; opportunities stay discovered".into()),
                });
                }
            }
        }
        Ok(())
    }
}
