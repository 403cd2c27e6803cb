//! Typed ULID identifiers: one type per record kind so ids cannot be mixed up.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Ulid);

        impl $name {
            /// A new id whose time part is `at` (ids sort by creation time).
            pub fn new_at(at: DateTime<Utc>) -> Self {
                let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
                $name(Ulid::from_parts(millis, rand_bits()))
            }

            /// The 16 bytes, big-endian: the store's key for this id.
            pub fn to_bytes(self) -> [u8; 16] {
                self.0.to_bytes()
            }

            /// Reads an id back from its 16-byte key.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(Ulid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = ulid::DecodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ulid::from_string(s).map($name)
            }
        }
    };
}

/// Random bits for a ULID; ids need uniqueness, not cryptographic strength.
fn rand_bits() -> u128 {
    Ulid::new().random()
}

define_id!(
    /// A [`crate::MarketListing`].
    ListingId
);
define_id!(
    /// A [`crate::Seller`].
    SellerId
);
define_id!(
    /// A [`crate::ProductRecord`].
    ProductId
);
define_id!(
    /// An [`crate::Opportunity`].
    OpportunityId
);
define_id!(
    /// A [`crate::Negotiation`].
    NegotiationId
);
define_id!(
    /// An [`crate::InventoryItem`].
    ItemId
);
define_id!(
    /// A [`crate::ChannelListing`].
    ChannelListingId
);
define_id!(
    /// An [`crate::Order`].
    OrderId
);
define_id!(
    /// A [`crate::Transaction`].
    TransactionId
);
define_id!(
    /// An [`crate::ActionRecord`].
    ActionId
);
define_id!(
    /// An [`crate::Approval`].
    ApprovalId
);
