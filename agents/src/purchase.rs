//! Buying what a seller agreed to sell: the gate's effector for `Purchase` actions.
//!
//! The classified marketplaces Bazaar buys from have no checkout: a purchase is an
//! arrangement with the seller (local pickup and payment on collection, or payment as the
//! marketplace allows). [`Arrangement`] records that commitment — who, what, for how much,
//! how — in the store's meta tree under the action's idempotency key, with no outside call;
//! `lookup` reads it back, so a crash between the intent and its result is settled from the
//! store.

use bazaar_memory::{
    ActionKind, ActionRecord, ListingId, Marketplace, Money, NegotiationId, OpportunityId,
    SharedClock, SledStore, Store,
};
use bazaar_policies::{BoxFuture, Effect, EffectError, Effector, Lookup};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A `Purchase` action's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseParams {
    /// The listing bought.
    pub listing: ListingId,
    /// The negotiation that agreed the price.
    pub negotiation: NegotiationId,
    /// The opportunity it came from.
    pub opportunity: OpportunityId,
    /// Where the listing is.
    pub marketplace: Marketplace,
    /// The seller's address (reply address on classifieds).
    pub seller: String,
    /// The agreed price.
    pub price: Money,
    /// The negotiation's ceiling: the gate refuses a price above it.
    pub max_value: Money,
    /// Where the listing says the item is.
    #[serde(default)]
    pub location: Option<String>,
}

/// How the item changes hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrangementKind {
    /// Collected in person, paid on collection (Craigslist, Facebook local).
    Pickup,
    /// Paid and shipped as the marketplace allows.
    Shipped,
}

/// A recorded purchase arrangement: the commitment the gate executed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrangementRecord {
    /// How.
    pub kind: ArrangementKind,
    /// With whom.
    pub seller: String,
    /// For how much.
    pub price: Money,
    /// Where, when the listing says.
    pub location: Option<String>,
    /// In plain words.
    pub note: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// The gate's `Purchase` effector for marketplaces where buying is an arrangement.
#[derive(Debug, Clone)]
pub struct Arrangement {
    store: SledStore,
    clock: SharedClock,
}

impl Arrangement {
    /// Records arrangements in `store`, timed by `clock`.
    pub fn new(store: SledStore, clock: SharedClock) -> Arrangement {
        Arrangement { store, clock }
    }

    /// The arrangement recorded for an idempotency key, if any.
    pub fn recorded(
        store: &SledStore,
        key: &str,
    ) -> Result<Option<ArrangementRecord>, bazaar_memory::StoreError> {
        store.get_meta(&bazaar_memory::meta_keys::purchase_arrangement(key))
    }

    fn arrange(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        if action.kind != ActionKind::Purchase {
            return Err(EffectError::Failed(format!(
                "the purchase arrangement cannot {}",
                action.kind
            )));
        }
        let params: PurchaseParams = serde_json::from_value(action.params.clone())
            .map_err(|e| EffectError::Failed(format!("bad purchase parameters: {e}")))?;
        if let Ok(Some(existing)) = Self::recorded(&self.store, &action.idempotency_key) {
            return Ok(effect(&existing));
        }
        let kind = match params.marketplace {
            Marketplace::Craigslist | Marketplace::Facebook => ArrangementKind::Pickup,
            _ => ArrangementKind::Shipped,
        };
        let note = match kind {
            ArrangementKind::Pickup => format!(
                "pickup arranged with {} for {}{}",
                params.seller,
                params.price,
                params
                    .location
                    .as_deref()
                    .map(|l| format!(" in {l}"))
                    .unwrap_or_default()
            ),
            ArrangementKind::Shipped => format!(
                "purchase from {} for {} as {} allows",
                params.seller, params.price, params.marketplace
            ),
        };
        let record = ArrangementRecord {
            kind,
            seller: params.seller,
            price: params.price,
            location: params.location,
            note,
            at: self.clock.now(),
        };
        self.store
            .put_meta(
                &bazaar_memory::meta_keys::purchase_arrangement(&action.idempotency_key),
                &record,
            )
            .map_err(|e| EffectError::Failed(format!("store: {e}")))?;
        tracing::info!(key = %action.idempotency_key, note = %record.note, "purchase arranged");
        Ok(effect(&record))
    }
}

fn effect(record: &ArrangementRecord) -> Effect {
    Effect {
        result: serde_json::to_value(record).unwrap_or_default(),
        ..Effect::default()
    }
}

impl Effector for Arrangement {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async move { self.arrange(action) })
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async move {
            match Self::recorded(&self.store, &action.idempotency_key) {
                Ok(Some(record)) => Lookup::Done(effect(&record)),
                Ok(None) => Lookup::NotDone,
                Err(error) => Lookup::Unknown(format!("store: {error}")),
            }
        })
    }
}
