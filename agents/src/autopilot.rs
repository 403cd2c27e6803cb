//! The Autopilot: selling-side rules. Repricing and buyer offers are not built yet; it reloads the listed items at start.

use bazaar_memory::{Envelope, InventoryItem, Store};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::{ActorReport, AgentContext};

/// Messages to the Autopilot.
#[derive(Debug)]
pub enum AutopilotMsg {
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Autopilot actor.
#[derive(Debug, Default)]
pub struct Autopilot;

/// The Autopilot's state, reloaded from the store when it (re)starts.
#[derive(Debug)]
pub struct AutopilotState {
    ctx: AgentContext,
    /// What it tracks, loaded at start.
    tracked: usize,
}

impl Actor for Autopilot {
    type Msg = Envelope<AutopilotMsg>;
    type State = AutopilotState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<AutopilotState, ActorProcessingErr> {
        let tracked = ctx
            .store
            .find::<InventoryItem>("by_status", b"listed")?
            .len();
        Ok(AutopilotState { ctx, tracked })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut AutopilotState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                AutopilotMsg::Status(reply) => {
                    let _ = reply.send(ActorReport {
                        actor: "autopilot",
                        summary: format!(
                            "{} items listed at start, {} now",
                            state.tracked,
                            state
                                .ctx
                                .store
                                .find::<InventoryItem>("by_status", b"listed")?
                                .len()
                        ),
                        idle: Some(
                            "selling-side rules (repricing, buyer offers) are not built yet"
                                .to_string(),
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
