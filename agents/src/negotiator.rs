//! The Negotiator: owns negotiation threads with sellers. Email negotiation is not built yet; it reloads the open threads so a restart loses none.

use bazaar_memory::{Envelope, Negotiation, NegotiationId, Store};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::{ActorReport, AgentContext};

/// Messages to the Negotiator.
#[derive(Debug)]
pub enum NegotiatorMsg {
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Negotiator actor.
#[derive(Debug, Default)]
pub struct Negotiator;

/// The Negotiator's state, reloaded from the store when it (re)starts.
#[derive(Debug)]
pub struct NegotiatorState {
    ctx: AgentContext,
    /// What it tracks, loaded at start.
    tracked: Vec<NegotiationId>,
}

impl Actor for Negotiator {
    type Msg = Envelope<NegotiatorMsg>;
    type State = NegotiatorState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<NegotiatorState, ActorProcessingErr> {
        let tracked = ctx
            .store
            .find::<Negotiation>("by_status", b"open")?
            .into_iter()
            .map(|n| n.id)
            .collect();
        Ok(NegotiatorState { ctx, tracked })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut NegotiatorState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                NegotiatorMsg::Status(reply) => {
                    let _ = reply.send(ActorReport {
                        actor: "negotiator",
                        summary: format!("{} open negotiations", state.tracked.len()),
                        idle: Some(if state.ctx.config.mail.enabled {
                            "email negotiation is not built yet".into()
                        } else {
                            "no mailbox configured ([mail] enabled = false)".into()
                        }),
                    });
                }
            }
        }
        Ok(())
    }
}
