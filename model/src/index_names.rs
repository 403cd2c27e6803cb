//! The names of the store's secondary indexes, one place for all of them. Each is typed by
//! the record it indexes, so a query cannot ask one record type's index for another's: the
//! store writes an entry under `Opportunity::BY_LISTING` and only a search for
//! `Opportunity`s can read it.

use std::fmt;
use std::marker::PhantomData;

use crate::model::*;

/// A secondary index over `R` records, by its name.
pub struct IndexName<R> {
    name: &'static str,
    record: PhantomData<fn() -> R>,
}

impl<R> IndexName<R> {
    const fn new(name: &'static str) -> IndexName<R> {
        IndexName {
            name,
            record: PhantomData,
        }
    }

    /// The name the store keys its entries by.
    pub const fn name(self) -> &'static str {
        self.name
    }
}

impl<R> Clone for IndexName<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for IndexName<R> {}

impl<R> fmt::Debug for IndexName<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Records indexed by their status (the status's name is the value).
pub trait StatusIndexed: Sized {
    /// The record's status.
    type Status: fmt::Display;
    /// The index.
    const BY_STATUS: IndexName<Self>;
}

macro_rules! status_indexed {
    ($($record:ty => $status:ty),* $(,)?) => {
        $(impl StatusIndexed for $record {
            type Status = $status;
            const BY_STATUS: IndexName<Self> = IndexName::new("by_status");
        })*
    };
}

status_indexed! {
    Opportunity => OpportunityStatus,
    Negotiation => NegotiationStatus,
    InventoryItem => ItemStatus,
    ChannelListing => ChannelStatus,
    Order => OrderStatus,
    ActionRecord => ActionStatus,
    Approval => ApprovalStatus,
}

impl MarketListing {
    /// Unique: marketplace and its id for the listing.
    pub const BY_SOURCE: IndexName<Self> = IndexName::new("by_source");
}

impl Seller {
    /// Unique: marketplace and its id for the seller.
    pub const BY_SOURCE: IndexName<Self> = IndexName::new("by_source");
}

impl ProductRecord {
    /// Normalized category.
    pub const BY_CATEGORY: IndexName<Self> = IndexName::new("by_category");
    /// Unique: the listing it was first seen in.
    pub const BY_LISTING: IndexName<Self> = IndexName::new("by_listing");
}

impl Opportunity {
    /// Unique: the listing it is about.
    pub const BY_LISTING: IndexName<Self> = IndexName::new("by_listing");
}

impl Negotiation {
    /// The opportunity it pursues.
    pub const BY_OPPORTUNITY: IndexName<Self> = IndexName::new("by_opportunity");
    /// The seller it is with.
    pub const BY_SELLER: IndexName<Self> = IndexName::new("by_seller");
}

impl ChannelListing {
    /// The item it sells.
    pub const BY_ITEM: IndexName<Self> = IndexName::new("by_item");
    /// Unique: marketplace and SKU.
    pub const BY_SKU: IndexName<Self> = IndexName::new("by_sku");
    /// Unique: marketplace and the channel's listing id, once it has one.
    pub const BY_SOURCE: IndexName<Self> = IndexName::new("by_source");
}

impl Order {
    /// Unique: marketplace and the channel's order id.
    pub const BY_SOURCE: IndexName<Self> = IndexName::new("by_source");
}

impl Transaction {
    /// The item it books, if any.
    pub const BY_ITEM: IndexName<Self> = IndexName::new("by_item");
}

impl ActionRecord {
    /// Unique: the idempotency key, so a repeated proposal finds the first.
    pub const BY_IDEMPOTENCY_KEY: IndexName<Self> = IndexName::new("by_idempotency_key");
}

impl MailRecord {
    /// Where it was routed (a negotiation, the operator …).
    pub const BY_ROUTE: IndexName<Self> = IndexName::new("by_route");
    /// The negotiation it belongs to, if any.
    pub const BY_NEGOTIATION: IndexName<Self> = IndexName::new("by_negotiation");
}
