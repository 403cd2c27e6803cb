//! The Lister: owns channel listings — writes each channel's copy and price, publishes
//! through the gate, and takes listings down when the item sells.
//!
//! - `ListItem(item)`: for every configured channel, a [`ChannelListing`] (SKU = the item's
//!   id, price from `bazaar_strategies::listing`) is stored as a draft before anything is
//!   proposed. Native channels get a `PublishListing` (key `publish:<item>:<channel>`);
//!   the listing goes live with the id the connector returns. Assisted channels get an inbox
//!   task with the copy-paste template and wait for the operator to confirm the URL
//!   ([`ListerMsg::Confirm`]).
//! - `Delist { item, sold, order }`: every other listing of the item comes down at once — a
//!   `WithdrawListing` (key `withdraw:<channel listing>:<order>`) on native channels, an
//!   urgent task on assisted ones.
//! - `Resume` (at start and on every Inventory poll tick) redoes whatever is unfinished:
//!   drafts not yet live are proposed again (the gate answers `Duplicate`, with the result
//!   when it already ran), sold items still listed elsewhere are delisted. A publication the
//!   gate blocked is proposed afresh (a new attempt) a day later: the rule may have proved
//!   itself since, and a bought item must not sit unlisted for good.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};

use bazaar_memory::meta_keys;
use bazaar_memory::{
    ActionRecord, ActionStatus, ChannelListing, ChannelListingId, ChannelStatus, Envelope,
    InventoryItem, ItemId, ItemSource, ItemStatus, Lifecycle, Marketplace, Opportunity, Order,
    OrderId, SledStore, Status, Store, StoreError, Transaction, TransactionKind,
};
use bazaar_policies::{Action, GateMsg, Outcome};
use bazaar_strategies::listing::{draft, template, ItemFacts, ListingDraft};
use bazaar_strategies::valuation::ValuationConfig;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::autopilot::{revise_listing_price, Revision};
use crate::channel::{ChannelRequest, PublishRequest};
use crate::selling::{ChannelMode, SellingChannel};
use crate::tasks::{close_task, open_task_once};
use crate::{ActorReport, AgentContext};

/// Messages to the Lister.
#[derive(Debug)]
pub enum ListerMsg {
    /// List an item in stock on every configured channel.
    ListItem(ItemId),
    /// The item sold through `sold` (order `order`): take every other listing down.
    Delist {
        item: ItemId,
        /// The channel listing it sold through.
        sold: ChannelListingId,
        order: OrderId,
        /// When a notification announced the sale (wall time): the delist latency is
        /// recorded from it.
        notified: Option<Instant>,
    },
    /// The operator put an assisted listing up at `url`.
    Confirm {
        channel_listing: ChannelListingId,
        /// Where buyers see it.
        url: String,
    },
    /// Cross-list an item on these channels too (the operator's `bazaar list`): they are
    /// recorded on the item, so a restart carries on.
    ListOn {
        item: ItemId,
        channels: Vec<Marketplace>,
    },
    /// Publish again on a channel whose publication failed, or that was cancelled.
    Retry {
        item: ItemId,
        /// The channel.
        marketplace: Marketplace,
    },
    /// The operator edited the item: a listing waiting for a field goes out with it, and
    /// when the price or floor changed, live listings follow (through the gate).
    Edited { item: ItemId, price_changed: bool },
    /// Take the item off every channel it is queued or live on (not sold).
    Cancel(ItemId),
    /// Redo unfinished listing and delisting.
    Resume,
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Lister actor.
#[derive(Debug, Default)]
pub struct Lister;

/// The Lister's state; everything durable is in the store.
#[derive(Debug)]
pub struct ListerState {
    ctx: AgentContext,
    valuation: ValuationConfig,
}

impl Actor for Lister {
    type Msg = Envelope<ListerMsg>;
    type State = ListerState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<ListerState, ActorProcessingErr> {
        let _ = ctx.addrs.lister.send(ListerMsg::Resume);
        Ok(ListerState {
            valuation: crate::valuation_config(&ctx.config),
            ctx,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut ListerState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                ListerMsg::ListItem(item) => state.list_item(item).await?,
                ListerMsg::Delist {
                    item,
                    sold,
                    order,
                    notified,
                } => {
                    state.delist(item, sold, order).await?;
                    if let Some(notified) = notified {
                        state.record_delist_latency(order, notified).await?;
                    }
                }
                ListerMsg::Confirm {
                    channel_listing,
                    url,
                } => state.confirm(channel_listing, url).await?,
                ListerMsg::ListOn { item, channels } => {
                    state.list_on_channels(item, channels).await?
                }
                ListerMsg::Retry { item, marketplace } => state.retry(item, marketplace).await?,
                ListerMsg::Edited {
                    item,
                    price_changed,
                } => state.edited(item, price_changed).await?,
                ListerMsg::Cancel(item) => state.cancel(item).await?,
                ListerMsg::Resume => state.resume().await?,
                ListerMsg::Status(reply) => {
                    let _ = reply.send(state.report()?);
                }
            }
        }
        Ok(())
    }
}

/// The copy, price and floor (keeping `margin_bp` of the price) of `item` on
/// `marketplace`: how the Lister lists and the Autopilot knows how low it may go.
pub(crate) fn listing_draft(
    store: &SledStore,
    valuation: &ValuationConfig,
    item: &InventoryItem,
    marketplace: Marketplace,
    margin_bp: i64,
) -> Result<ListingDraft, StoreError> {
    let market_value = match item.opportunity {
        Some(id) => store
            .get::<Opportunity>(&id)?
            .and_then(|o| o.valuation)
            .map(|v| v.market_value),
        None => None,
    };
    // A bought item's description is its previous owner's words: ours replace it.
    let own_words;
    let description = match item.source {
        ItemSource::Bought => {
            own_words = bazaar_strategies::listing::resale_description(
                &item.title,
                item.condition,
                &item.attributes,
            );
            &own_words
        }
        ItemSource::Operator => &item.description,
    };
    let facts = ItemFacts {
        title: &item.title,
        description,
        category: &item.category,
        condition: item.condition,
        images: &item.images,
        attributes: &item.attributes,
        cost: item.cost_basis,
        market_value,
    };
    let mut copy = draft(&facts, marketplace, valuation, margin_bp);
    // The operator's own floor and price for an item they brought.
    if let Some(floor) = item.selling.floor {
        copy.floor = copy.floor.max(floor);
    }
    if let Some(price) = item.selling.price {
        copy.price = price;
    }
    if copy.price < copy.floor {
        copy.price = copy.floor;
    }
    copy.fees = bazaar_strategies::listing::channel_fee(valuation, marketplace, copy.price);
    Ok(copy)
}

/// The channels `item` is listed on: those recorded on it by `bazaar list`, else — for an
/// item the agent bought — every configured channel. An item the operator brought waits
/// for `bazaar list`.
pub fn channels_of(item: &InventoryItem, configured: &[SellingChannel]) -> Vec<SellingChannel> {
    let mode = |marketplace: Marketplace| {
        configured
            .iter()
            .find(|c| c.marketplace == marketplace)
            .map_or(ChannelMode::Assisted, |c| {
                crate::channel::channel_for(*c).mode()
            })
    };
    match &item.selling.channels {
        Some(chosen) => chosen
            .iter()
            .map(|&marketplace| SellingChannel {
                marketplace,
                mode: mode(marketplace),
            })
            .collect(),
        None if item.source == ItemSource::Operator => Vec::new(),
        None => configured.to_vec(),
    }
}

/// Records `more` channels on `item` (after those it is listed on already, in order).
pub fn add_channels(item: &mut InventoryItem, configured: &[SellingChannel], more: &[Marketplace]) {
    let mut wanted: Vec<Marketplace> = channels_of(item, configured)
        .iter()
        .map(|c| c.marketplace)
        .collect();
    for marketplace in more {
        if !wanted.contains(marketplace) {
            wanted.push(*marketplace);
        }
    }
    item.selling.channels = Some(wanted);
}

/// Where one channel of a cross-listing job stands.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChannelJob {
    /// The channel.
    pub marketplace: Marketplace,
    /// `queued`, `awaiting_approval`, `live`, `needs_manual_action`, `failed`, `rejected`,
    /// `withdrawn` or `sold`.
    pub status: String,
    /// Why it failed, or what the operator must do.
    pub reason: Option<String>,
    /// The channel listing, once drafted.
    pub channel_listing: Option<ChannelListingId>,
    /// Where buyers see it.
    pub url: Option<String>,
    /// Its price there.
    pub price: Option<bazaar_memory::Money>,
}

/// Every channel of `item`'s listing job and where it stands (read from the store).
pub fn channel_jobs(
    store: &SledStore,
    item: &InventoryItem,
    configured: &[SellingChannel],
) -> Result<Vec<ChannelJob>, StoreError> {
    let listings = store.find(ChannelListing::BY_ITEM, &item.id.to_bytes())?;
    let mut jobs = Vec::new();
    let mut wanted: Vec<Marketplace> = channels_of(item, configured)
        .iter()
        .map(|c| c.marketplace)
        .collect();
    for listing in &listings {
        if !wanted.contains(&listing.marketplace) {
            wanted.push(listing.marketplace);
        }
    }
    for marketplace in wanted {
        let Some(listing) = listings.iter().find(|l| l.marketplace == marketplace) else {
            jobs.push(ChannelJob {
                marketplace,
                status: "queued".into(),
                reason: None,
                channel_listing: None,
                url: None,
                price: None,
            });
            continue;
        };
        let (status, reason) = match listing.lifecycle.status {
            ChannelStatus::Draft => match failed_publish(store, listing)? {
                Some(reason) => ("failed", Some(reason)),
                None if rejected_publish(store, listing)? => (
                    "rejected",
                    Some("the operator rejected publishing it; retry to propose it again".into()),
                ),
                None if store
                    .get_meta::<String>(&meta_keys::task_opened(&format!(
                        "missing:{}",
                        listing.id
                    )))?
                    .is_some() =>
                {
                    (
                        "needs_manual_action",
                        Some("required fields are missing; see the inbox".to_string()),
                    )
                }
                None if current_publish(store, listing)?
                    .is_some_and(|r| r.lifecycle.status == ActionStatus::PendingApproval) =>
                {
                    (
                        "awaiting_approval",
                        Some("the gate asks you before publishing; see the inbox".to_string()),
                    )
                }
                None => ("queued", None),
            },
            ChannelStatus::AwaitingOperator => (
                "needs_manual_action",
                Some(
                    "list it by hand from the template in the inbox, then confirm its URL"
                        .to_string(),
                ),
            ),
            ChannelStatus::Live => ("live", None),
            ChannelStatus::Withdrawn => (
                "withdrawn",
                listing.lifecycle.last_reason().map(str::to_string),
            ),
            ChannelStatus::Sold => ("sold", None),
        };
        jobs.push(ChannelJob {
            marketplace,
            status: status.into(),
            reason,
            channel_listing: Some(listing.id),
            url: listing.url.clone(),
            price: Some(listing.price),
        });
    }
    Ok(jobs)
}

/// Why the latest publication of `listing` failed, if it did.
fn failed_publish(
    store: &SledStore,
    listing: &ChannelListing,
) -> Result<Option<String>, StoreError> {
    Ok(current_publish(store, listing)?
        .filter(|r| r.lifecycle.status == ActionStatus::Failed)
        .map(|r| {
            r.lifecycle
                .last_reason()
                .unwrap_or("the marketplace refused it")
                .to_string()
        }))
}

/// Whether the operator rejected the current publication attempt of `listing`: the item
/// stays in stock, unlisted there, until they retry the channel.
fn rejected_publish(store: &SledStore, listing: &ChannelListing) -> Result<bool, StoreError> {
    Ok(current_publish(store, listing)?
        .is_some_and(|r| r.lifecycle.status == ActionStatus::Rejected))
}

/// When the gate blocked the current publication attempt of `listing`, if it did.
fn blocked_publish(
    store: &SledStore,
    listing: &ChannelListing,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(current_publish(store, listing)?
        .filter(|r| r.lifecycle.status == ActionStatus::Blocked)
        .and_then(|r| r.lifecycle.history.last().map(|change| change.at)))
}

/// The action record of the current publication attempt of `listing`, once proposed.
fn current_publish(
    store: &SledStore,
    listing: &ChannelListing,
) -> Result<Option<ActionRecord>, StoreError> {
    let key = current_publish_key(store, listing)?;
    Ok(store
        .find(ActionRecord::BY_IDEMPOTENCY_KEY, key.as_bytes())?
        .into_iter()
        .next())
}

/// A publication the gate blocked is proposed again (a new attempt) this long after: the
/// gate scores it afresh, and what blocked it (a rule not yet proven, a daily limit) may
/// have changed.
const BLOCKED_PUBLISH_RETRY: chrono::Duration = chrono::Duration::hours(24);

/// The idempotency key of the current publication attempt of `listing`: the first is
/// [`publish_key`]; each retry gets its own.
fn current_publish_key(store: &SledStore, listing: &ChannelListing) -> Result<String, StoreError> {
    let mut keys = attempt_keys(store, listing)?;
    Ok(keys
        .pop()
        .unwrap_or_else(|| publish_key(listing.item, listing.marketplace)))
}

/// The idempotency keys of every publication attempt of `listing` so far, the first first.
fn attempt_keys(store: &SledStore, listing: &ChannelListing) -> Result<Vec<String>, StoreError> {
    let attempts = store
        .get_meta::<u32>(&meta_keys::publish_attempt(listing.id))?
        .unwrap_or(0);
    let key = publish_key(listing.item, listing.marketplace);
    Ok(std::iter::once(key.clone())
        .chain((1..=attempts).map(|n| format!("{key}:retry-{n}")))
        .collect())
}

/// The SKU of an item on every channel.
pub fn sku_of(item: ItemId) -> String {
    item.to_string()
}

/// The idempotency key of publishing `item` on `marketplace`.
pub fn publish_key(item: ItemId, marketplace: Marketplace) -> String {
    format!("publish:{item}:{marketplace}")
}

/// The idempotency key of withdrawing a channel listing after `order` sold the item.
pub fn withdraw_key(channel_listing: ChannelListingId, order: OrderId) -> String {
    format!("withdraw:{channel_listing}:{order}")
}

/// Every delist latency recorded (milliseconds, by order).
pub fn delist_latencies(store: &SledStore) -> Result<BTreeMap<String, u64>, StoreError> {
    Ok(store
        .get_meta(meta_keys::DELIST_LATENCIES)?
        .unwrap_or_default())
}

impl ListerState {
    /// Records how long delisting took after `order`'s notification (once per order).
    async fn record_delist_latency(
        &mut self,
        order: OrderId,
        notified: Instant,
    ) -> Result<(), ActorProcessingErr> {
        let ms = u64::try_from(notified.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut latencies = delist_latencies(&self.ctx.store)?;
        if latencies.contains_key(&order.to_string()) {
            return Ok(());
        }
        latencies.insert(order.to_string(), ms);
        self.ctx
            .store
            .put_meta(meta_keys::DELIST_LATENCIES, &latencies)?;
        self.ctx.store.flush().await?;
        tracing::info!(%order, delist_ms = ms, "delisted everywhere after the sale");
        Ok(())
    }

    fn report(&self) -> Result<ActorReport, ActorProcessingErr> {
        let live = self
            .ctx
            .store
            .with_status::<ChannelListing>(ChannelStatus::Live)?
            .len();
        let idle = (live == 0).then(|| {
            if self.ctx.selling.channels.is_empty() {
                "nothing listed; no selling channel is configured".to_string()
            } else {
                "nothing listed yet".to_string()
            }
        });
        Ok(ActorReport {
            actor: "lister",
            summary: format!("{live} live channel listings"),
            idle,
        })
    }

    fn copy(
        &self,
        item: &InventoryItem,
        marketplace: Marketplace,
    ) -> Result<ListingDraft, ActorProcessingErr> {
        Ok(listing_draft(
            &self.ctx.store,
            &self.valuation,
            item,
            marketplace,
            self.valuation.target_margin_bp,
        )?)
    }

    async fn list_item(&mut self, id: ItemId) -> Result<(), ActorProcessingErr> {
        let Some(item) = self.ctx.store.get::<InventoryItem>(&id)? else {
            tracing::warn!(item = %id, "asked to list an unknown item");
            return Ok(());
        };
        if !matches!(
            item.lifecycle.status,
            ItemStatus::InStock | ItemStatus::Listed
        ) {
            return Ok(());
        }
        for channel in channels_of(&item, &self.ctx.selling.channels) {
            self.list_on(&item, channel).await?;
        }
        Ok(())
    }

    async fn list_on_channels(
        &mut self,
        id: ItemId,
        channels: Vec<Marketplace>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(mut item) = self.ctx.store.get::<InventoryItem>(&id)? else {
            tracing::warn!(item = %id, "asked to list an unknown item");
            return Ok(());
        };
        for &marketplace in &channels {
            // A channel cancelled earlier is published afresh.
            if let Some(listing) = self.listing_on(id, marketplace)? {
                if listing.lifecycle.status == ChannelStatus::Withdrawn {
                    self.next_attempt(listing.id).await?;
                }
            }
        }
        add_channels(&mut item, &self.ctx.selling.channels, &channels);
        self.ctx.store.put(&item)?;
        self.ctx.store.flush().await?;
        tracing::info!(item = %id, channels = ?item.selling.channels.as_deref().unwrap_or_default(), "cross-listing job started");
        self.list_item(id).await
    }

    fn listing_on(
        &self,
        item: ItemId,
        marketplace: Marketplace,
    ) -> Result<Option<ChannelListing>, ActorProcessingErr> {
        Ok(self
            .ctx
            .store
            .find(
                ChannelListing::BY_SKU,
                &bazaar_memory::store::index_value(&[marketplace.name(), &sku_of(item)]),
            )?
            .into_iter()
            .next())
    }

    /// Starts a new publication attempt of a channel listing (its own idempotency key).
    async fn next_attempt(&mut self, listing: ChannelListingId) -> Result<(), ActorProcessingErr> {
        let key = meta_keys::publish_attempt(listing);
        let attempt = self.ctx.store.get_meta::<u32>(&key)?.unwrap_or(0) + 1;
        self.ctx.store.put_meta(&key, &attempt)?;
        self.ctx.store.flush().await?;
        Ok(())
    }

    async fn retry(
        &mut self,
        id: ItemId,
        marketplace: Marketplace,
    ) -> Result<(), ActorProcessingErr> {
        let Some(item) = self.ctx.store.get::<InventoryItem>(&id)? else {
            tracing::warn!(item = %id, "asked to retry an unknown item");
            return Ok(());
        };
        if !matches!(
            item.lifecycle.status,
            ItemStatus::InStock | ItemStatus::Listed
        ) {
            // A sold or archived item is not put back on sale, whoever asks.
            tracing::info!(item = %id, status = %item.lifecycle.status, %marketplace, "not retried: the item is not for sale");
            return Ok(());
        }
        let Some(listing) = self.listing_on(id, marketplace)? else {
            return self.list_on_channels(id, vec![marketplace]).await;
        };
        // A rejected publication is proposed again as a new attempt: the operator asking for
        // it is the change of mind the rejection waits for.
        let failed = failed_publish(&self.ctx.store, &listing)?.is_some()
            || rejected_publish(&self.ctx.store, &listing)?;
        if listing.lifecycle.status == ChannelStatus::Draft && !failed {
            // Waiting for a field, or not reached yet: listed as the item is now.
            return self.list_on_channels(id, vec![marketplace]).await;
        }
        if !(failed || listing.lifecycle.status == ChannelStatus::Withdrawn) {
            tracing::info!(item = %id, %marketplace, status = %listing.lifecycle.status, "nothing to retry");
            return Ok(());
        }
        tracing::info!(item = %id, title = %item.title, %marketplace, "publishing again");
        if failed {
            self.next_attempt(listing.id).await?;
        }
        // A cancelled (withdrawn) channel gets its new attempt there.
        self.list_on_channels(id, vec![marketplace]).await
    }

    async fn edited(&mut self, id: ItemId, price_changed: bool) -> Result<(), ActorProcessingErr> {
        let Some(item) = self.ctx.store.get::<InventoryItem>(&id)? else {
            return Ok(());
        };
        // Drafts take the item as it is now: one that waited for a field goes out.
        self.list_item(id).await?;
        if !price_changed {
            return Ok(());
        }
        for mut listing in self
            .ctx
            .store
            .find(ChannelListing::BY_ITEM, &id.to_bytes())?
        {
            if listing.lifecycle.status != ChannelStatus::Live {
                continue;
            }
            let to = self.copy(&item, listing.marketplace)?.price;
            if to == listing.price {
                continue;
            }
            let from = listing.price;
            match revise_listing_price(&self.ctx, &mut listing, to, "operator.edit.price").await? {
                Revision::Executed => {
                    self.ctx.store.flush().await?;
                    tracing::info!(item = %id, marketplace = %listing.marketplace, %from, %to, "live price changed as the operator edited it");
                }
                Revision::NotYet => {}
                Revision::Assisted => {
                    open_task_once(
                        &self.ctx,
                        &format!("price:{}:{to}", listing.id),
                        format!(
                            "change the price of {:?} (item {id}) on {} from {from} to {to}{}",
                            item.title,
                            listing.marketplace,
                            listing
                                .url
                                .as_deref()
                                .map(|u| format!(" ({u})"))
                                .unwrap_or_default()
                        ),
                        "an assisted channel has no API to change a price".to_string(),
                    )
                    .await?;
                    listing.price = to;
                    self.ctx.store.put(&listing)?;
                    self.ctx.store.flush().await?;
                }
            }
        }
        Ok(())
    }

    /// Takes the item off every channel it is queued or live on; it goes back in stock.
    async fn cancel(&mut self, id: ItemId) -> Result<(), ActorProcessingErr> {
        let Some(mut item) = self.ctx.store.get::<InventoryItem>(&id)? else {
            tracing::warn!(item = %id, "asked to cancel an unknown item");
            return Ok(());
        };
        if !matches!(
            item.lifecycle.status,
            ItemStatus::InStock | ItemStatus::Listed
        ) {
            tracing::info!(item = %id, status = %item.lifecycle.status, "nothing to cancel");
            return Ok(());
        }
        // First, so that a resume does not list it again.
        item.selling.channels = Some(Vec::new());
        if item.lifecycle.status == ItemStatus::Listed {
            item.lifecycle.advance(
                ItemStatus::InStock,
                self.ctx.clock.now(),
                "the operator cancelled the listing job",
            )?;
        }
        self.ctx.store.put(&item)?;
        self.ctx.store.flush().await?;
        let listings = self
            .ctx
            .store
            .find(ChannelListing::BY_ITEM, &id.to_bytes())?;
        for listing in listings {
            let mode = self
                .ctx
                .selling
                .mode(listing.marketplace)
                .unwrap_or(ChannelMode::Assisted);
            let attempt = self
                .ctx
                .store
                .get_meta::<u32>(&meta_keys::publish_attempt(listing.id))?
                .unwrap_or(0);
            let key = format!("cancel:{}:{attempt}", listing.id);
            match (listing.lifecycle.status, mode) {
                (ChannelStatus::Draft, _) => {
                    self.withdrawn(listing, "the operator cancelled it").await?
                }
                (ChannelStatus::Live, ChannelMode::Native) => {
                    self.withdraw_with_key(listing, &key, &item.title, "listing.cancel")
                        .await?
                }
                (ChannelStatus::Live | ChannelStatus::AwaitingOperator, _) => {
                    let marketplace = listing.marketplace;
                    open_task_once(
                        &self.ctx,
                        &key,
                        format!(
                            "take {:?} down on {marketplace}{} — the listing job was cancelled",
                            item.title,
                            listing
                                .url
                                .as_deref()
                                .map(|u| format!(" ({u})"))
                                .unwrap_or_default()
                        ),
                        "an assisted channel has no API to withdraw it".to_string(),
                    )
                    .await?;
                    self.withdrawn(listing, "the operator cancelled it").await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn list_on(
        &mut self,
        item: &InventoryItem,
        channel: SellingChannel,
    ) -> Result<(), ActorProcessingErr> {
        let marketplace = channel.marketplace;
        let copy = self.copy(item, marketplace)?;
        let listing = match self.listing_on(item.id, marketplace)? {
            Some(listing) => listing,
            None => {
                let listing = ChannelListing {
                    id: ChannelListingId::new_at(self.ctx.clock.now()),
                    item: item.id,
                    marketplace,
                    sku: sku_of(item.id),
                    external_id: None,
                    url: None,
                    price: copy.price,
                    lifecycle: Lifecycle::new(ChannelStatus::Draft),
                };
                self.ctx.store.put(&listing)?;
                self.ctx.store.flush().await?;
                tracing::info!(item = %item.id, %marketplace, price = %copy.price, floor = %copy.floor, "listing drafted");
                listing
            }
        };
        let relisting = listing.lifecycle.status == ChannelStatus::Withdrawn
            && self
                .ctx
                .store
                .get_meta::<u32>(&meta_keys::publish_attempt(listing.id))?
                .unwrap_or(0)
                > 0
            && !self.attempt_done(&listing)?;
        if listing.lifecycle.status != ChannelStatus::Draft && !relisting {
            return Ok(());
        }
        // Not published yet: it goes out at the price the item asks for now.
        let mut listing = listing;
        if listing.price != copy.price && !self.attempt_done(&listing)? {
            listing.price = copy.price;
            self.ctx.store.put(&listing)?;
            self.ctx.store.flush().await?;
        }
        let copy = self.final_copy(item, &listing, copy).await?;
        match channel.mode {
            ChannelMode::Native => self.publish(item, listing, &copy).await,
            ChannelMode::Assisted => self.ask_operator_to_list(listing, &copy).await,
        }
    }

    /// The copy `listing` goes out with: the language model's rewrite when `[selling]
    /// rewrite_copy` is on and the rewrite keeps the facts, else the template's. Decided once
    /// per listing and stored, so a resumed or retried publication sends the same words.
    async fn final_copy(
        &self,
        item: &InventoryItem,
        listing: &ChannelListing,
        mut copy: ListingDraft,
    ) -> Result<ListingDraft, ActorProcessingErr> {
        let Some(llm) = self
            .ctx
            .llm
            .as_ref()
            .filter(|_| self.ctx.selling.rewrite_copy)
        else {
            return Ok(copy);
        };
        let key = meta_keys::listing_copy(listing.id);
        let rewrite = match self.ctx.store.get_meta::<Option<(String, String)>>(&key)? {
            Some(decided) => decided,
            None => {
                let rewrite = llm.rewrite_copy(&copy, &item.attributes).await;
                self.ctx.store.put_meta(&key, &rewrite)?;
                self.ctx.store.flush().await?;
                if rewrite.is_some() {
                    tracing::info!(channel_listing = %listing.id, marketplace = %listing.marketplace, "listing copy rewritten by the language model");
                }
                rewrite
            }
        };
        if let Some((title, description)) = rewrite {
            copy.title = title;
            copy.description = description;
        }
        Ok(copy)
    }

    /// Whether the current publication attempt of `listing` already ran (published, or the
    /// operator asked).
    fn attempt_done(&self, listing: &ChannelListing) -> Result<bool, ActorProcessingErr> {
        let key = current_publish_key(&self.ctx.store, listing)?;
        let published = self
            .ctx
            .store
            .find(ActionRecord::BY_IDEMPOTENCY_KEY, key.as_bytes())?
            .iter()
            .any(|r| r.lifecycle.status != ActionStatus::Failed);
        let asked = self
            .ctx
            .store
            .get_meta::<String>(&meta_keys::task_opened(&format!("list:{key}")))?
            .is_some();
        Ok(published || asked)
    }

    async fn publish(
        &mut self,
        item: &InventoryItem,
        listing: ChannelListing,
        copy: &ListingDraft,
    ) -> Result<(), ActorProcessingErr> {
        let marketplace = listing.marketplace;
        if copy.missing.is_empty() {
            close_task(
                &self.ctx,
                &format!("missing:{}", listing.id),
                "the missing fields were filled in",
            )
            .await?;
        } else {
            return open_task_once(
                &self.ctx,
                &format!("missing:{}", listing.id),
                format!(
                    "fill in {} for {:?} (item {}) so it can be listed on {marketplace}",
                    copy.missing.join(", "),
                    item.title,
                    item.id
                ),
                format!("{marketplace} requires {}", copy.missing.join(", ")),
            )
            .await;
        }
        if let Some(blocked_at) = blocked_publish(&self.ctx.store, &listing)? {
            if self.ctx.clock.now() - blocked_at < BLOCKED_PUBLISH_RETRY {
                return Ok(());
            }
            tracing::info!(item = %item.id, %marketplace, "proposing a blocked publication again");
            self.next_attempt(listing.id).await?;
        }
        let channel = self.ctx.selling.channel(marketplace);
        let request = PublishRequest {
            item,
            sku: &listing.sku,
            copy,
            price: listing.price,
        };
        let ChannelRequest::Native { kind, params } = channel.publish(&request) else {
            return self.ask_operator_to_list(listing, copy).await;
        };
        let action = Action {
            kind,
            target: listing.sku.clone(),
            params,
            proposer: "lister".into(),
            rule: "listing.publish".into(),
            value: Some(listing.price),
            marketplace: Some(marketplace),
            pattern_match: 1.0,
            idempotency_key: current_publish_key(&self.ctx.store, &listing)?,
            about: Some(format!(
                "list {:?} (item {}, cost {}) on {marketplace} at {}, never below {}",
                item.title, item.id, item.cost_basis, listing.price, copy.floor
            )),
        };
        let outcome = self
            .ctx
            .addrs
            .gate
            .ask(|reply| GateMsg::Propose(action, reply))
            .await?;
        let action = match outcome {
            Outcome::Executed { action }
            | Outcome::Duplicate {
                action,
                status: ActionStatus::Executed,
            } => action,
            Outcome::Failed { reason, .. } => {
                tracing::warn!(item = %item.id, %marketplace, %reason, "publishing failed");
                return open_task_once(
                    &self.ctx,
                    &format!(
                        "publish-failed:{}",
                        current_publish_key(&self.ctx.store, &listing)?
                    ),
                    format!(
                        "publishing {:?} (item {}) on {marketplace} failed",
                        item.title, item.id
                    ),
                    reason,
                )
                .await;
            }
            other => {
                tracing::info!(item = %item.id, %marketplace, outcome = ?other, "publish not executed yet");
                return Ok(());
            }
        };
        let result = self
            .ctx
            .store
            .get::<ActionRecord>(&action)?
            .and_then(|a| a.result)
            .unwrap_or_default();
        let external = result["listing_id"].as_str().map(str::to_string);
        let url = external
            .as_deref()
            .and_then(|id| channel.listing_url(id, &self.ctx.config));
        self.went_live(listing.id, external, url, "published").await
    }

    /// Records a channel listing as live (and its item as listed).
    async fn went_live(
        &mut self,
        id: ChannelListingId,
        external: Option<String>,
        url: Option<String>,
        why: &str,
    ) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        let Some(mut listing) = store.get::<ChannelListing>(&id)? else {
            return Ok(());
        };
        if listing.lifecycle.status == ChannelStatus::Live {
            return Ok(());
        }
        listing.lifecycle.advance(ChannelStatus::Live, now, why)?;
        listing.external_id = external.or(listing.external_id);
        listing.url = url.or(listing.url);
        store.put(&listing)?;
        if let Some(mut item) = store.get::<InventoryItem>(&listing.item)? {
            if item.lifecycle.status == ItemStatus::InStock {
                item.lifecycle.advance(
                    ItemStatus::Listed,
                    now,
                    format!("live on {}", listing.marketplace),
                )?;
                store.put(&item)?;
            }
        }
        store.flush().await?;
        tracing::info!(item = %listing.item, marketplace = %listing.marketplace, external = ?listing.external_id, "listing live");
        // What the inbox asked about this listing is done.
        for key in attempt_keys(&store, &listing)? {
            close_task(&self.ctx, &format!("list:{key}"), why).await?;
            close_task(&self.ctx, &format!("publish-failed:{key}"), why).await?;
        }
        Ok(())
    }

    async fn ask_operator_to_list(
        &mut self,
        mut listing: ChannelListing,
        copy: &ListingDraft,
    ) -> Result<(), ActorProcessingErr> {
        let marketplace = listing.marketplace;
        open_task_once(
            &self.ctx,
            &format!("list:{}", current_publish_key(&self.ctx.store, &listing)?),
            format!(
                "list {:?} on {marketplace} for {} and confirm its URL (channel listing {}){}",
                copy.title,
                listing.price,
                listing.id,
                if copy.missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; the item lacks {}: fill them in on the form",
                        copy.missing.join(", ")
                    )
                }
            ),
            template(copy, &listing.sku),
        )
        .await?;
        listing.lifecycle.advance(
            ChannelStatus::AwaitingOperator,
            self.ctx.clock.now(),
            "copy-paste template in the operator's inbox",
        )?;
        self.ctx.store.put(&listing)?;
        self.ctx.store.flush().await?;
        Ok(())
    }

    async fn confirm(
        &mut self,
        id: ChannelListingId,
        url: String,
    ) -> Result<(), ActorProcessingErr> {
        let Some(listing) = self.ctx.store.get::<ChannelListing>(&id)? else {
            tracing::warn!(channel_listing = %id, "confirmation for an unknown listing");
            return Ok(());
        };
        if !matches!(
            listing.lifecycle.status,
            ChannelStatus::AwaitingOperator | ChannelStatus::Draft
        ) {
            tracing::info!(channel_listing = %id, status = %listing.lifecycle.status, "confirmation ignored");
            return Ok(());
        }
        self.went_live(id, None, Some(url), "the operator confirmed it")
            .await?;
        // Sold meanwhile: take it straight down again.
        self.resume().await
    }

    async fn delist(
        &mut self,
        item: ItemId,
        sold: ChannelListingId,
        order: OrderId,
    ) -> Result<(), ActorProcessingErr> {
        let listings = self
            .ctx
            .store
            .find(ChannelListing::BY_ITEM, &item.to_bytes())?;
        let title = self
            .ctx
            .store
            .get::<InventoryItem>(&item)?
            .map(|i| i.title)
            .unwrap_or_default();
        for listing in listings {
            let mode = self
                .ctx
                .selling
                .mode(listing.marketplace)
                .unwrap_or(ChannelMode::Assisted);
            if listing.id == sold {
                // One unit: the listing that sold ends too. eBay ends a sold-out listing by
                // itself (the connector then sees it is not live and calls nothing); a
                // marketplace that keeps it up would sell it twice.
                if mode == ChannelMode::Native {
                    self.withdraw(listing, order, &title).await?;
                }
                continue;
            }
            match (listing.lifecycle.status, mode) {
                (ChannelStatus::Draft, _) => {
                    let key = current_publish_key(&self.ctx.store, &listing)?;
                    let proposed = !self
                        .ctx
                        .store
                        .find(ActionRecord::BY_IDEMPOTENCY_KEY, key.as_bytes())?
                        .is_empty();
                    // A publish in flight may still go live; the next resume takes it down.
                    if !proposed {
                        self.withdrawn(listing, "the item sold before it was published")
                            .await?;
                    }
                }
                (ChannelStatus::Live, ChannelMode::Native) => {
                    self.withdraw(listing, order, &title).await?
                }
                (ChannelStatus::Live | ChannelStatus::AwaitingOperator, _) => {
                    let marketplace = listing.marketplace;
                    open_task_once(
                        &self.ctx,
                        &withdraw_key(listing.id, order),
                        format!(
                            "URGENT: take {:?} down on {marketplace} now{} — it sold elsewhere",
                            title,
                            listing
                                .url
                                .as_deref()
                                .map(|u| format!(" ({u})"))
                                .unwrap_or_default()
                        ),
                        format!("sold through another channel (order {order}); an assisted channel has no API to withdraw it"),
                    )
                    .await?;
                    self.withdrawn(listing, "the operator was asked to take it down")
                        .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn withdraw(
        &mut self,
        listing: ChannelListing,
        order: OrderId,
        title: &str,
    ) -> Result<(), ActorProcessingErr> {
        let key = withdraw_key(listing.id, order);
        self.withdraw_with_key(listing, &key, title, "listing.withdraw_sold")
            .await
    }

    /// Withdraws a native listing through the gate under `key`; a withdrawal that does not
    /// happen becomes an urgent task.
    async fn withdraw_with_key(
        &mut self,
        listing: ChannelListing,
        key: &str,
        title: &str,
        rule: &str,
    ) -> Result<(), ActorProcessingErr> {
        let marketplace = listing.marketplace;
        let ChannelRequest::Native { kind, params } =
            self.ctx.selling.channel(marketplace).withdraw(&listing)
        else {
            return open_task_once(
                &self.ctx,
                &format!("withdraw-by-hand:{key}"),
                format!("URGENT: take {title:?} down on {marketplace} by hand"),
                format!("{marketplace} has no API to take it down"),
            )
            .await;
        };
        let action = Action {
            kind,
            target: listing.sku.clone(),
            params,
            proposer: "lister".into(),
            rule: rule.into(),
            value: None,
            marketplace: Some(marketplace),
            pattern_match: 1.0,
            idempotency_key: key.to_string(),
            about: Some(match rule {
                "listing.withdraw_sold" => {
                    format!("take {title:?} down on {marketplace}: it sold elsewhere")
                }
                _ => format!("take {title:?} down on {marketplace}"),
            }),
        };
        let outcome = self
            .ctx
            .addrs
            .gate
            .ask(|reply| GateMsg::Propose(action, reply))
            .await?;
        match outcome {
            Outcome::Executed { .. }
            | Outcome::Duplicate {
                status: ActionStatus::Executed,
                ..
            } => {
                let why = if rule == "listing.cancel" {
                    "the operator cancelled it"
                } else {
                    "sold elsewhere"
                };
                self.withdrawn(listing, why).await
            }
            Outcome::Duplicate { .. } | Outcome::PendingApproval { .. } => Ok(()),
            other => {
                tracing::error!(channel_listing = %listing.id, %marketplace, outcome = ?other, "withdrawal of a sold item did not happen");
                open_task_once(
                    &self.ctx,
                    &format!("withdraw-failed:{key}"),
                    format!("URGENT: take {title:?} down on {marketplace} by hand"),
                    format!("the withdrawal did not happen: {other:?}"),
                )
                .await
            }
        }
    }

    async fn withdrawn(
        &mut self,
        mut listing: ChannelListing,
        why: &str,
    ) -> Result<(), ActorProcessingErr> {
        if !listing
            .lifecycle
            .status
            .can_become(ChannelStatus::Withdrawn)
        {
            return Ok(());
        }
        listing
            .lifecycle
            .advance(ChannelStatus::Withdrawn, self.ctx.clock.now(), why)?;
        self.ctx.store.put(&listing)?;
        self.ctx.store.flush().await?;
        tracing::info!(channel_listing = %listing.id, marketplace = %listing.marketplace, why, "listing withdrawn");
        Ok(())
    }

    /// Lists items in stock that are not on every channel yet, and delists sold items
    /// still up elsewhere.
    async fn resume(&mut self) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        for status in [ItemStatus::InStock, ItemStatus::Listed] {
            for item in store.with_status::<InventoryItem>(status)? {
                self.list_item(item.id).await?;
            }
        }
        for item in store.with_status::<InventoryItem>(ItemStatus::Sold)? {
            let listings = store.find(ChannelListing::BY_ITEM, &item.id.to_bytes())?;
            let up = listings.iter().any(|l| {
                matches!(
                    l.lifecycle.status,
                    ChannelStatus::Live | ChannelStatus::AwaitingOperator | ChannelStatus::Draft
                )
            });
            if !up {
                continue;
            }
            let sale = store
                .find(Transaction::BY_ITEM, &item.id.to_bytes())?
                .into_iter()
                .find(|t| t.kind == TransactionKind::Sale)
                .and_then(|t| t.order);
            let Some(order) = sale.and_then(|o| store.get::<Order>(&o).ok().flatten()) else {
                continue;
            };
            let Some(sold) = order.channel_listing else {
                continue;
            };
            self.delist(item.id, sold, order.id).await?;
        }
        Ok(())
    }
}
