//! The policy gate: the one door every action on the outside world goes through.
//!
//! This build's gate is fail-closed: it records every proposal durably (action record plus
//! hash-chained audit entries, flushed) and blocks it, because the confidence, rate-limit,
//! budget and approval rules are not built yet. Nothing reaches the outside world.

#![warn(missing_docs)]

mod gate;

pub use gate::{ActionRequest, GateMsg, GateStatus, Outcome, PolicyGate, PolicyGateArgs};
