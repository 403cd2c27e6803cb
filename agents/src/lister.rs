//! The Lister: owns channel listings. Publishing is not built yet; it reloads the live listings at start.

use bazaar_memory::{ChannelListing, ChannelListingId, Envelope, Store};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::{ActorReport, AgentContext};

/// Messages to the Lister.
#[derive(Debug)]
pub enum ListerMsg {
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Lister actor.
#[derive(Debug, Default)]
pub struct Lister;

/// The Lister's state, reloaded from the store when it (re)starts.
#[derive(Debug)]
pub struct ListerState {
    ctx: AgentContext,
    /// What it tracks, loaded at start.
    tracked: Vec<ChannelListingId>,
}

impl Actor for Lister {
    type Msg = Envelope<ListerMsg>;
    type State = ListerState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<ListerState, ActorProcessingErr> {
        let tracked = ctx
            .store
            .find::<ChannelListing>("by_status", b"live")?
            .into_iter()
            .map(|l| l.id)
            .collect();
        Ok(ListerState { ctx, tracked })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut ListerState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                ListerMsg::Status(reply) => {
                    let _ = reply.send(ActorReport {
                        actor: "lister",
                        summary: format!("{} live channel listings", state.tracked.len()),
                        idle: state.tracked.is_empty().then(|| {
                            if state.ctx.config.enabled_marketplaces().is_empty() {
                                "nothing listed; no marketplace account is enabled for selling"
                                    .to_string()
                            } else {
                                "publishing is not built yet".to_string()
                            }
                        }),
                    });
                }
            }
        }
        Ok(())
    }
}
