//! The policy gate: the one door every action on the outside world goes through.
//!
//! - [`confidence`]: the seed's confidence model and learned rule accuracy (pure);
//! - [`limits`]: hard limits no confidence overrides (pure);
//! - [`effector`]: the trait connectors implement to carry actions out;
//! - [`gate`]: the actor that validates, scores, limits, decides, records durably,
//!   executes, and undoes;
//! - [`sale_guard`]: a sold or archived item is never put back on sale (read from the store);
//! - [`signing`]: webhook signatures, one-click link tokens and inbox sessions (pure).

pub mod confidence;
pub mod effector;
pub mod gate;
pub mod limits;
pub mod sale_guard;
pub mod signing;
#[cfg(feature = "testing")]
pub mod testing;

pub use effector::{BoxFuture, Effect, EffectError, Effector, Lookup, NoConnector};
pub use gate::{
    Action, GateError, GateEvent, GateMsg, GateStatus, Outcome, PolicyGate, PolicyGateArgs,
};
