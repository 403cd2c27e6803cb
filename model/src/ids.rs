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
        #[cfg_attr(
            feature = "openapi",
            derive(utoipa::ToSchema),
            schema(value_type = String, example = "01KJPZV28035A2ZCGC4PATKDJP")
        )]
        pub struct $name(pub Ulid);

        impl $name {
            /// A new id whose time part is `at` (ids sort by creation time).
            pub fn new_at(at: DateTime<Utc>) -> Self {
                let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
                $name(Ulid::from_parts(millis, random_part(millis)))
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

        /// Only the spelling `Display` writes (26 upper-case Crockford characters, the
        /// first at most `7`) is an id: a lower-case or overflowing one (`ZZZZ…` decodes
        /// to another id) is refused, so each id has one form.
        impl FromStr for $name {
            type Err = ulid::DecodeError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let id = Ulid::from_string(s)?;
                if id.to_string() != s {
                    return Err(ulid::DecodeError::InvalidChar);
                }
                Ok($name(id))
            }
        }
    };
}

/// Random bits for a ULID; ids need uniqueness, not cryptographic strength.
fn rand_bits() -> u128 {
    Ulid::new().random()
}

/// The random part of the last id made in each recent millisecond, in this process. Kept
/// per millisecond, not just for the last one: ids made on a simulated clock and on the wall
/// clock interleave, and each millisecond's ids must still sort in the order they were made.
static LAST: std::sync::Mutex<Vec<(u64, u128)>> = std::sync::Mutex::new(Vec::new());

/// Milliseconds remembered; the oldest is forgotten past this.
const REMEMBERED_MILLIS: usize = 64;

/// The random part of an id made at `millis`: fresh for a new millisecond, the last one
/// plus one within the same millisecond. Ids made in one millisecond then sort in the
/// order they were made — which matters on a simulated clock, where a whole step of work
/// happens in one millisecond and iterating records in key order must not be a coin toss.
fn random_part(millis: u64) -> u128 {
    const MAX: u128 = (1 << 80) - 1;
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(entry) = last.iter_mut().find(|(at, _)| *at == millis) {
        if entry.1 < MAX {
            entry.1 += 1;
            return entry.1;
        }
    }
    let random = rand_bits() >> 1;
    last.retain(|(at, _)| *at != millis);
    if last.len() >= REMEMBERED_MILLIS {
        last.remove(0);
    }
    last.push((millis, random));
    random
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_in_one_millisecond_sort_in_the_order_they_were_made() {
        let at = DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // Ids on another clock in between (the wall clock beside a simulated one) do not
        // break the order.
        let made: Vec<ItemId> = (0..1_000)
            .map(|_| {
                ListingId::new_at(Utc::now());
                ItemId::new_at(at)
            })
            .collect();
        let mut sorted = made.clone();
        sorted.sort_by_key(|id| id.to_bytes());
        assert_eq!(made, sorted);
        // A later millisecond still sorts after.
        let later = ItemId::new_at(at + chrono::Duration::milliseconds(1));
        assert!(later.to_bytes() > made[999].to_bytes());
    }

    #[test]
    fn an_id_has_one_spelling() {
        let id = ItemId::new_at(Utc::now());
        let text = id.to_string();
        assert_eq!(text.parse::<ItemId>(), Ok(id));
        for variant in [
            text.to_lowercase(),
            "Z".repeat(26),
            format!("{text}0"),
            format!(" {text}"),
            text.replace('0', "O"),
        ] {
            if variant == text {
                continue;
            }
            assert!(variant.parse::<ItemId>().is_err(), "{variant} was accepted");
        }
    }
}
