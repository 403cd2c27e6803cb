//! Bazaar's world model and its persistence.
//!
//! - [`model`]: every record Bazaar keeps, with the legal moves of each status;
//! - [`store`]: sled behind the [`Store`] trait, with secondary indexes and export/import;
//! - [`index`]: tantivy over products and sellers, derived from the store;
//! - [`clock`]: the [`Clock`] every timer and timestamp comes from;
//! - [`mailbox`]: restart-proof actor addresses, in-flight accounting, bounded intake.
//!
//! Money is [`Money`] (integer minor units), ids are ULIDs, times are UTC.

#![warn(missing_docs)]

pub mod clock;
pub mod ids;
pub mod index;
pub mod mailbox;
pub mod model;
mod money;
pub mod status;
pub mod store;

pub use clock::{Clock, SharedClock, SimClock, SystemClock};
pub use ids::*;
pub use index::{Comparable, Hit, IndexConfig, IndexError, ProductIndex};
pub use mailbox::{Addr, Envelope, Quiescence, SendError};
pub use model::*;
pub use money::{Currency, Money, MoneyError};
pub use status::{IllegalTransition, Lifecycle, Status};
pub use store::{Record, SledStore, Store, StoreError};
