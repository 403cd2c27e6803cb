//! Bazaar's pure decision logic: no I/O, no actors, no clocks. Every function here takes what
//! it needs as arguments and returns an answer for every input.
//!
//! - [`understand`]: what a seller's reply means (intent, the price they mean, how sure).
//! - [`valuation`]: what an item is worth from its comparables, the best channel to resell
//!   it on, the risk, and whether to pursue it (with the most to pay) or pass (with why).
//! - [`negotiation`]: the next move in a haggle by email — offer, follow up, confirm or walk
//!   away — never above the deal's ceiling, and the words of each email.
//! - [`listing`]: a listing's copy and price for each channel, within its limits, never
//!   under the item's floor.
//! - [`autopilot`]: answering a buyer's offer, bringing an unsold listing's price down,
//!   offering to watchers.
//! - [`trends`]: price quartiles and volume per category and period.

pub mod autopilot;
pub mod listing;
pub mod negotiation;
pub mod trends;
pub mod understand;
pub mod valuation;
