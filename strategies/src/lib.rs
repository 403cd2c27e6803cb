//! Bazaar's pure decision logic: no I/O, no actors, no clocks. Every function here takes what
//! it needs as arguments and returns an answer for every input.
//!
//! - [`understand`]: what a seller's reply means (intent, the price they mean, how sure).

#![warn(missing_docs)]

pub mod autopilot;
pub mod listing;
pub mod negotiation;
pub mod trends;
pub mod understand;
pub mod valuation;
