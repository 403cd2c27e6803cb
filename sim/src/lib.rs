//! Bazaar's simulated world: marketplaces that speak real wire formats, spoken to only over
//! sockets. The agent never links this crate; tests and `bazaar sim` start it and point the
//! agent at its addresses.
//!
//! - [`ebay`]: an eBay-compatible REST API (OAuth, Browse, Inventory, Fulfillment,
//!   Negotiation, Notification) on 127.0.0.1.
//! - [`llm`]: a deterministic OpenAI-compatible chat-completions endpoint.
//! - [`sites`]: a Craigslist-style static site and a JavaScript-rendered marketplace.
//! - [`mail`]: the mail transports (in-process post office, SMTP/IMAP).
//! - [`sellers`]: how simulated sellers decide and write.
//! - [`scenario`] and [`world`]: the population, simulated time and the event log.
//! - [`journal`]: the world's write-ahead journal of the agent's inputs, so a world outlives
//!   the process that runs it.

pub mod ebay;
pub mod journal;
pub mod llm;
pub mod mail;
pub mod scenario;
pub mod sellers;
mod server;
pub mod sites;
pub mod world;
