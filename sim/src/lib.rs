//! Bazaar's simulated world: marketplaces that speak real wire formats, spoken to only over
//! sockets. The agent never links this crate; tests and `bazaar sim` start it and point the
//! agent at its addresses.
//!
//! - [`ebay`]: an eBay-compatible REST API (OAuth, Browse, Inventory, Fulfillment,
//!   Negotiation, Notification) on 127.0.0.1.
//! - [`llm`]: a deterministic OpenAI-compatible chat-completions endpoint.

#![warn(missing_docs)]

pub mod ebay;
pub mod llm;
pub mod mail;
pub mod sellers;
mod server;
pub mod sites;
