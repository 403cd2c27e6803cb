//! Inventory: owns items, their cost basis and the books. Purchasing is not built yet; it reloads item states at start.

use bazaar_memory::{Envelope, InventoryItem, ItemStatus, Store};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::{ActorReport, AgentContext};

/// Messages to the Inventory.
#[derive(Debug)]
pub enum InventoryMsg {
    /// A seller agreed a price: the purchase can be arranged (built with purchasing).
    DealAgreed(bazaar_memory::NegotiationId),
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Inventory actor.
#[derive(Debug, Default)]
pub struct Inventory;

/// The Inventory's state, reloaded from the store when it (re)starts.
#[derive(Debug)]
pub struct InventoryState {
    ctx: AgentContext,
    /// What it tracks, loaded at start.
    tracked: Vec<ItemStatus>,
}

impl Actor for Inventory {
    type Msg = Envelope<InventoryMsg>;
    type State = InventoryState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<InventoryState, ActorProcessingErr> {
        let tracked = ctx
            .store
            .all::<InventoryItem>()?
            .into_iter()
            .map(|i| i.lifecycle.status)
            .collect();
        Ok(InventoryState { ctx, tracked })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut InventoryState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                InventoryMsg::DealAgreed(negotiation) => {
                    tracing::info!(%negotiation, "deal agreed; purchasing is not built yet");
                }
                InventoryMsg::Status(reply) => {
                    let _ = reply.send(ActorReport {
                        actor: "inventory",
                        summary: format!(
                            "{} items ({} in stock, {} listed)",
                            state.ctx.store.count::<InventoryItem>(),
                            state
                                .tracked
                                .iter()
                                .filter(|s| **s == ItemStatus::InStock)
                                .count(),
                            state
                                .tracked
                                .iter()
                                .filter(|s| **s == ItemStatus::Listed)
                                .count()
                        ),
                        idle: state
                            .tracked
                            .is_empty()
                            .then(|| "no items bought yet".to_string()),
                    });
                }
            }
        }
        Ok(())
    }
}
