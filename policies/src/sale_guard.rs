//! A sold or archived item is never put back on sale.
//!
//! Publishing, relisting and repricing are refused for an item that sold (or shipped, came
//! back, or was archived), whoever asks: a rule, a retry, the operator approving, or an
//! undo (the undo of the withdrawal a sale made is a relist). The gate checks before it
//! records anything, at proposal and again when an approval or undo clears the action to
//! run; the inbox page asks the same question to offer undo only where it can run.
//! Taking a listing down is never refused.

use bazaar_memory::store::index_value;
use bazaar_memory::{
    ActionKind, ActionRecord, ChannelListing, ChannelStatus, InventoryItem, ItemStatus,
    Marketplace, SledStore, Store, StoreError,
};

/// Why `kind` on `target` (a SKU on `marketplace`) must not run now, if it must not.
pub fn refusal(
    store: &SledStore,
    kind: ActionKind,
    marketplace: Option<Marketplace>,
    target: &str,
) -> Result<Option<String>, StoreError> {
    let puts_on_sale = matches!(
        kind,
        ActionKind::PublishListing | ActionKind::Relist | ActionKind::RevisePrice
    );
    let Some(marketplace) = marketplace.filter(|_| puts_on_sale) else {
        return Ok(None);
    };
    let Some(listing) = store
        .find(
            ChannelListing::BY_SKU,
            &index_value(&[marketplace.name(), target]),
        )?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    if listing.lifecycle.status == ChannelStatus::Sold {
        return Ok(Some(format!(
            "{target} sold on {}; a sold listing is not put back on sale",
            marketplace.name()
        )));
    }
    let Some(item) = store.get::<InventoryItem>(&listing.item)? else {
        return Ok(None);
    };
    let status = item.lifecycle.status;
    let off_sale = matches!(
        status,
        ItemStatus::Sold | ItemStatus::Shipped | ItemStatus::Returned | ItemStatus::Archived
    );
    Ok(off_sale.then(|| {
        format!(
            "item {} ({:?}) is {status}; it is not put back on sale \
             (restock it first if it really is for sale again)",
            item.id, item.title
        )
    }))
}

/// Why undoing `record` must not run now, if it must not: its compensation would put a
/// sold or archived item back on sale.
pub fn undo_refusal(
    store: &SledStore,
    record: &ActionRecord,
) -> Result<Option<String>, StoreError> {
    let Some(recipe) = &record.undo else {
        return Ok(None);
    };
    refusal(store, recipe.kind, record.marketplace, &record.target)
}
