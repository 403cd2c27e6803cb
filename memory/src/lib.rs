//! Bazaar's persistence of the world model (`bazaar-model`, re-exported here whole).
//!
//! - [`store`]: sled behind the [`Store`] trait, with secondary indexes and export/import;
//! - [`index`]: tantivy over products and sellers, derived from the store;
//! - [`clock`]: the [`Clock`] every timer and timestamp comes from;
//! - [`mailbox`]: restart-proof actor addresses, in-flight accounting, bounded intake.
//!
//! Money is [`Money`] (integer minor units), ids are ULIDs, times are UTC.

pub mod clock;
pub mod index;
pub mod mailbox;
pub mod meta_keys;
pub mod migrate;
pub mod store;

pub use bazaar_model::*;

pub use clock::{Clock, ScaledClock, SharedClock, SimClock, SystemClock};
pub use index::{Hit, IndexConfig, IndexError, ProductIndex};
pub use mailbox::{Addr, Envelope, Quiescence, SendError};
pub use store::{Record, SledStore, Store, StoreError};
