//! Bazaar's ground floor: the world model every other crate builds on, with no I/O.
//!
//! - [`model`]: every record Bazaar keeps (listings, sellers, products, opportunities,
//!   negotiations, items, channel listings, orders, transactions, actions, audit entries,
//!   approvals, mail), with the legal moves of each status;
//! - [`status`]: the status machines ([`Lifecycle`] refuses an illegal move);
//! - [`ids`]: one ULID type per record kind, with one spelling each;
//! - [`Money`]: integer minor units and a currency, never a float;
//! - [`index_names`]: the store's secondary indexes, each typed by the record it indexes.
//!
//! The store (`bazaar-memory`) persists these records; the pure decision logic
//! (`bazaar-strategies`) and the configuration (`bazaar-config`) read them without linking
//! the store, the index or the actor runtime.

pub mod ids;
pub mod index_names;
pub mod model;
mod money;
pub mod status;

pub use ids::*;
pub use index_names::{IndexName, StatusIndexed};
pub use model::*;
pub use money::{Currency, Money, MoneyError};
pub use status::{IllegalTransition, Lifecycle, Status};
