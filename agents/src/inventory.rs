//! Inventory: buys what sellers agreed to sell, owns items, their cost basis and the books,
//! and detects sales.
//!
//! - `DealAgreed(negotiation)` proposes a `Purchase` to the gate (value = the agreed price,
//!   the negotiation's ceiling as `max_value`, key `purchase:<negotiation>`). Once executed
//!   (the arrangement with the seller is recorded), the item is created in stock with the
//!   price paid as its cost basis and the listing's photos and attributes, the purchase is
//!   booked, the commitment is settled and the Lister is asked to list it. A purchase that
//!   waits for the operator is picked up again by the periodic resume.
//! - `Notified` (a verified marketplace notification) and `Sold` (from the order poll, or an operator reporting a sale on an assisted channel)
//!   records the order (once per marketplace order line), books the sale, its fee and its
//!   postage, marks the item and the channel listing sold, and asks the Lister to take the
//!   item down everywhere else. A second sale of an item already sold is an oversell: an
//!   urgent task in the operator's inbox.
//! - Every step is recorded before the next is proposed and every proposal is keyed; on
//!   (re)start and on every poll tick the actor redoes what is unfinished (the gate answers
//!   `Duplicate` for what it already has).

use std::collections::BTreeMap;
use std::time::Instant;

use bazaar_memory::{
    ActionKind, ActionRecord, ActionStatus, ChannelListing, ChannelListingId, ChannelStatus,
    Envelope, InventoryItem, ItemId, ItemSource, ItemStatus, Lifecycle, MarketListing, Marketplace,
    Money, Negotiation, NegotiationId, NegotiationStatus, Opportunity, OpportunityStatus, Order,
    OrderId, OrderStatus, SellingPlan, Status, Store, Transaction, TransactionId, TransactionKind,
};
use bazaar_policies::{Action, GateEvent, GateMsg, Outcome};
use bazaar_strategies::listing::{channel_fee, shipping_minor};
use bazaar_strategies::valuation::ValuationConfig;
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::{Deserialize, Serialize};

use crate::connectors::ebay_orders::OrderEvent;
use crate::item_fields::{
    check_attributes, check_category, check_description, check_photos, check_price_over_floor,
    check_title, parse_amount, parse_condition, ItemEdit,
};
use crate::lister::ListerMsg;
use crate::purchase::PurchaseParams;
use crate::tasks::open_task_once;
use crate::{ActorReport, AgentContext};

/// Messages to the Inventory.
#[derive(Debug)]
pub enum InventoryMsg {
    /// A seller agreed a price: buy it.
    DealAgreed(NegotiationId),
    /// Something sold on one of our channels.
    Sold(Box<Sale>),
    /// A marketplace pushed an order line (a verified notification) at `received`.
    Notified {
        marketplace: Marketplace,
        /// The order line.
        event: Box<OrderEvent>,
        /// When the notification arrived (wall time): delist latency counts from here.
        received: Instant,
    },
    /// The operator brought an item (sourced offline): record it in stock with its cost
    /// booked. Answers the new item's id, or every problem with the request.
    AddItem(Box<NewItem>, RpcReplyPort<Result<ItemId, Vec<String>>>),
    /// The operator changes an item (condition, price, floor, photos, notes …): stored, and
    /// the Lister told, so a listing waiting for a field goes out and a live price follows.
    /// Answers the edited item, or every problem with the change.
    Edit(
        ItemId,
        Box<ItemEdit>,
        RpcReplyPort<Result<InventoryItem, Vec<String>>>,
    ),
    /// Read every order feed for sales, then redo unfinished work (sent by the clock timer;
    /// tests send it to poll now).
    PollOrders,
    /// Redo unfinished purchases and delistings (sent at start).
    Resume,
    /// The operator shipped a sold item: tell its marketplace (carrier and tracking), mark
    /// the item and its order shipped. Answers what happened, or why it cannot.
    Shipped(Box<Shipment>, RpcReplyPort<Result<Shipped, String>>),
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// A sold item the operator sent to its buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub item: ItemId,
    /// The marketplace's carrier code (`USPS`, `UPS`, `FedEx` …).
    pub carrier: String,
    pub tracking: String,
}

/// What became of a [`Shipment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shipped {
    pub item: ItemId,
    /// The marketplace's order id.
    pub order: String,
    pub marketplace: Marketplace,
    /// `shipped`, or `pending_approval` while the gate waits for the operator.
    pub status: String,
    /// What was done, in a sentence.
    pub note: String,
}

/// Which of our listings sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoldListing {
    /// Our channel listing.
    ChannelListing(ChannelListingId),
    /// Our SKU on a marketplace.
    Sku {
        marketplace: Marketplace,
        sku: String,
    },
}

/// A sale on one of our channels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sale {
    /// What sold.
    pub listing: SoldListing,
    /// The marketplace's id for the order line (unique per marketplace).
    pub order: String,
    /// The buyer, when known.
    pub buyer: Option<String>,
    /// What the buyer paid; the listing's price when unknown.
    pub total: Option<Money>,
    /// When the order was placed.
    pub at: Option<DateTime<Utc>>,
    /// When a notification announced it (wall time), if one did.
    pub notified: Option<Instant>,
}

/// An item the operator brings (sourced offline), as `POST /api/v1/items` and `bazaar item
/// add` take it. Amounts are decimal strings in US dollars (`"40"`, `"39.99"`, `"$40"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewItem {
    /// Title, as buyers will read it.
    pub title: String,
    /// `new`, `like_new`, `good`, `fair`, `poor` or `for_parts`.
    pub condition: String,
    /// What it cost, all in (`"0"` for something free).
    pub cost: String,
    /// Photos: `http(s)://` URLs or absolute file paths.
    #[serde(default)]
    pub photos: Vec<String>,
    /// The least it may sell for; the price never goes below it.
    #[serde(default)]
    pub floor: Option<String>,
    /// The asking price; from the margin rules when absent.
    #[serde(default)]
    pub price: Option<String>,
    /// Category (`electronics`, `bike` …); `other` when absent.
    #[serde(default)]
    pub category: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Brand, model, size, color, zip, phone …
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl NewItem {
    /// The inventory item it describes, in stock at `now` under `id`, or every problem
    /// with the request (pure: file paths are not checked here).
    pub fn into_item(self, id: ItemId, now: DateTime<Utc>) -> Result<InventoryItem, Vec<String>> {
        let mut problems = Vec::new();
        let title = check_title(&self.title, &mut problems);
        let condition = parse_condition(&self.condition, &mut problems);
        let cost = parse_amount("cost", &self.cost, &mut problems);
        let floor = self
            .floor
            .as_deref()
            .and_then(|f| parse_amount("floor", f, &mut problems));
        let price = self
            .price
            .as_deref()
            .and_then(|p| parse_amount("price", p, &mut problems));
        check_price_over_floor(price, floor, &mut problems);
        check_photos(&self.photos, &mut problems);
        let category = match self.category.as_deref().map(str::trim) {
            Some(category) if !category.is_empty() => check_category(category, &mut problems),
            _ => "other".to_string(),
        };
        let description = check_description(
            self.description.as_deref().unwrap_or_default(),
            &mut problems,
        );
        check_attributes(&self.attributes, &mut problems);
        let (Some(condition), Some(cost)) = (condition, cost) else {
            return Err(problems);
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut lifecycle = Lifecycle::new(ItemStatus::Draft);
        lifecycle
            .advance(ItemStatus::InStock, now, "brought in by the operator")
            .unwrap_or_else(|_| unreachable!("draft can become in stock"));
        Ok(InventoryItem {
            id,
            opportunity: None,
            title,
            description,
            category,
            condition,
            cost_basis: cost,
            images: self.photos,
            attributes: self.attributes,
            lifecycle,
            acquired_at: now,
            source: ItemSource::Operator,
            selling: SellingPlan {
                floor,
                price,
                channels: None,
            },
        })
    }
}

/// The Inventory actor.
#[derive(Debug, Default)]
pub struct Inventory;

/// The Inventory's state, reloaded from the store when it (re)starts.
#[derive(Debug)]
pub struct InventoryState {
    ctx: AgentContext,
    valuation: ValuationConfig,
}

impl Actor for Inventory {
    type Msg = Envelope<InventoryMsg>;
    type State = InventoryState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<InventoryState, ActorProcessingErr> {
        let _ = ctx.addrs.inventory.send(InventoryMsg::Resume);
        let state = InventoryState {
            valuation: crate::valuation_config(&ctx.config),
            ctx,
        };
        state.arm_timer();
        Ok(state)
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut InventoryState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                InventoryMsg::DealAgreed(negotiation) => state.deal_agreed(negotiation).await?,
                InventoryMsg::Sold(sale) => state.sold(*sale).await?,
                InventoryMsg::AddItem(new, reply) => {
                    let added = state.add_item(*new).await?;
                    let _ = reply.send(added);
                }
                InventoryMsg::Edit(item, edit, reply) => {
                    let edited = state.edit(item, &edit).await?;
                    let _ = reply.send(edited);
                }
                InventoryMsg::Notified {
                    marketplace,
                    event,
                    received,
                } => {
                    if let Some(sale) = state.sale_of(marketplace, &event, Some(received))? {
                        state.sold(sale).await?;
                    }
                }
                InventoryMsg::PollOrders => {
                    state.poll_orders().await?;
                    state.resume().await?;
                    state.arm_timer();
                }
                InventoryMsg::Resume => state.resume().await?,
                InventoryMsg::Shipped(shipment, reply) => {
                    let shipped = state.ship(*shipment).await?;
                    let _ = reply.send(shipped);
                }
                InventoryMsg::Status(reply) => {
                    let _ = reply.send(state.report()?);
                }
            }
        }
        Ok(())
    }
}

impl InventoryState {
    fn report(&self) -> Result<ActorReport, ActorProcessingErr> {
        let items = self.ctx.store.all::<InventoryItem>()?;
        let count = |s: ItemStatus| items.iter().filter(|i| i.lifecycle.status == s).count();
        Ok(ActorReport {
            actor: "inventory",
            summary: format!(
                "{} items ({} in stock, {} listed, {} sold)",
                items.len(),
                count(ItemStatus::InStock),
                count(ItemStatus::Listed),
                count(ItemStatus::Sold)
            ),
            idle: items.is_empty().then(|| "no items bought yet".to_string()),
        })
    }

    /// Polls again after `selling.poll_every` on the clock (one timer at a time).
    fn arm_timer(&self) {
        let selling = &self.ctx.selling;
        if selling.channels.is_empty() && selling.orders.is_empty() {
            return;
        }
        crate::selling::arm_once(
            &selling.timer_armed,
            &self.ctx.clock,
            selling.poll_every,
            &self.ctx.addrs.inventory,
            InventoryMsg::PollOrders,
        );
    }

    /// The operator shipped `shipment.item`: a native channel's order is marked shipped
    /// through the gate (`MarkShipped`, keyed by order and tracking number, so asking again
    /// after an approval or a crash does it once); an assisted channel's sale is recorded
    /// here only. The item and its order move to shipped once the marketplace has it.
    async fn ship(
        &mut self,
        shipment: Shipment,
    ) -> Result<Result<Shipped, String>, ActorProcessingErr> {
        let store = &self.ctx.store;
        let Some(mut item) = store.get::<InventoryItem>(&shipment.item)? else {
            return Ok(Err(format!("no item {}", shipment.item)));
        };
        let already = item.lifecycle.status == ItemStatus::Shipped;
        if item.lifecycle.status != ItemStatus::Sold && !already {
            return Ok(Err(format!(
                "item {} is {}; only a sold item ships",
                item.id, item.lifecycle.status
            )));
        }
        let order_id = store
            .find(Transaction::BY_ITEM, &item.id.to_bytes())?
            .into_iter()
            .filter(|t: &Transaction| t.kind == TransactionKind::Sale)
            .find_map(|t| t.order);
        let Some(mut order) = order_id
            .map(|id| store.get::<Order>(&id))
            .transpose()?
            .flatten()
        else {
            return Ok(Err(format!(
                "item {} has no recorded order to ship",
                item.id
            )));
        };
        let native =
            self.ctx.selling.mode(order.marketplace) == Some(crate::selling::ChannelMode::Native);
        let mut shipped = Shipped {
            item: item.id,
            order: order.external_id.clone(),
            marketplace: order.marketplace,
            status: "shipped".into(),
            note: format!("recorded as handed to {}", shipment.carrier),
        };
        if already && !native {
            shipped.note = "already recorded as shipped".into();
            return Ok(Ok(shipped));
        }
        if native {
            let params = match crate::connectors::ebay_sell::ShipParams::new(
                &order.external_id,
                &shipment.carrier,
                &shipment.tracking,
            ) {
                Ok(params) => params,
                Err(why) => return Ok(Err(why)),
            };
            let action = Action {
                kind: ActionKind::MarkShipped,
                target: order.external_id.clone(),
                idempotency_key: format!("ship:{}:{}", order.external_id, params.tracking),
                about: Some(format!(
                    "tell {} that {:?} (order {}) shipped with {} tracking {}",
                    order.marketplace,
                    item.title,
                    order.external_id,
                    params.carrier,
                    params.tracking
                )),
                params: serde_json::to_value(&params)?,
                proposer: "operator".into(),
                rule: "operator.shipped".into(),
                value: None,
                marketplace: Some(order.marketplace),
                pattern_match: 1.0,
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
                    shipped.note = format!(
                        "{} order {} marked shipped with {} {}",
                        order.marketplace, order.external_id, params.carrier, params.tracking
                    );
                }
                Outcome::PendingApproval { approval, .. } => {
                    shipped.status = "pending_approval".into();
                    shipped.note = format!(
                        "waits for approval {approval} in the inbox; run the same command again once it is approved"
                    );
                    return Ok(Ok(shipped));
                }
                Outcome::Failed { reason, .. } => {
                    return Ok(Err(format!("{} refused: {reason}", order.marketplace)))
                }
                other => return Ok(Err(format!("the marketplace was not told: {other:?}"))),
            }
        }
        if already {
            return Ok(Ok(shipped));
        }
        let now = self.ctx.clock.now();
        let why = format!("shipped with {} {}", shipment.carrier, shipment.tracking);
        item.lifecycle
            .advance(ItemStatus::Shipped, now, why.clone())?;
        if order.lifecycle.status == OrderStatus::Paid {
            order.lifecycle.advance(OrderStatus::Shipped, now, why)?;
        }
        store.put(&item)?;
        store.put(&order)?;
        store.flush().await?;
        tracing::info!(item = %item.id, order = %order.external_id, marketplace = %order.marketplace, "item shipped");
        Ok(Ok(shipped))
    }

    /// The item bought through `opportunity`, if there is one.
    fn item_of(
        &self,
        opportunity: bazaar_memory::OpportunityId,
    ) -> Result<Option<InventoryItem>, ActorProcessingErr> {
        Ok(self
            .ctx
            .store
            .all::<InventoryItem>()?
            .into_iter()
            .find(|i| i.opportunity == Some(opportunity)))
    }

    async fn deal_agreed(&mut self, id: NegotiationId) -> Result<(), ActorProcessingErr> {
        let store = &self.ctx.store;
        let Some(negotiation) = store.get::<Negotiation>(&id)? else {
            tracing::warn!(negotiation = %id, "deal agreed for an unknown negotiation");
            return Ok(());
        };
        let Some(price) = negotiation.agreed_price else {
            tracing::warn!(negotiation = %id, "deal agreed without a price; nothing bought");
            return Ok(());
        };
        if negotiation.lifecycle.status != NegotiationStatus::Agreed {
            tracing::warn!(negotiation = %id, status = %negotiation.lifecycle.status, "negotiation is not agreed; nothing bought");
            return Ok(());
        }
        if self.item_of(negotiation.opportunity)?.is_some() {
            return Ok(());
        }
        let Some(opportunity) = store.get::<Opportunity>(&negotiation.opportunity)? else {
            tracing::warn!(negotiation = %id, "deal agreed for an unknown opportunity");
            return Ok(());
        };
        let Some(listing) = store.get::<MarketListing>(&opportunity.listing)? else {
            tracing::warn!(negotiation = %id, "deal agreed for an unknown listing");
            return Ok(());
        };
        let key = format!("purchase:{id}");
        let params = PurchaseParams {
            listing: listing.id,
            negotiation: id,
            opportunity: opportunity.id,
            marketplace: listing.marketplace,
            seller: if negotiation.seller_address.is_empty() {
                listing.seller.external_id.clone()
            } else {
                negotiation.seller_address.clone()
            },
            price,
            max_value: negotiation.ceiling,
            location: listing.location.clone(),
        };
        let action = Action {
            kind: ActionKind::Purchase,
            target: listing.url.clone(),
            params: serde_json::to_value(&params)?,
            proposer: "inventory".into(),
            rule: "purchase.agreed_deal".into(),
            value: Some(price),
            marketplace: Some(listing.marketplace),
            pattern_match: 1.0,
            idempotency_key: key.clone(),
            about: Some(format!(
                "buy {:?} from {} on {} for {price}, as agreed by email (asking {}; our limit {})",
                listing.title,
                params.seller,
                listing.marketplace,
                listing.price,
                negotiation.ceiling
            )),
        };
        let outcome = self
            .ctx
            .addrs
            .gate
            .ask(|reply| GateMsg::Propose(action, reply))
            .await?;
        let action = match outcome {
            Outcome::Executed { action } => action,
            Outcome::Duplicate {
                action,
                status: ActionStatus::Executed,
            } => action,
            Outcome::Duplicate { status, .. } => {
                tracing::debug!(negotiation = %id, %status, "purchase not executed yet");
                return Ok(());
            }
            Outcome::PendingApproval { approval, .. } => {
                tracing::info!(negotiation = %id, %approval, "purchase waits for the operator");
                return Ok(());
            }
            other => {
                tracing::warn!(negotiation = %id, outcome = ?other, "purchase not made");
                return Ok(());
            }
        };
        self.stock(&negotiation, &opportunity, &listing, price, action)
            .await
    }

    /// Creates the item bought for `price`, books the purchase, settles the commitment and
    /// asks the Lister to list it.
    async fn stock(
        &mut self,
        negotiation: &Negotiation,
        opportunity: &Opportunity,
        listing: &MarketListing,
        price: Money,
        action: bazaar_memory::ActionId,
    ) -> Result<(), ActorProcessingErr> {
        let now = self.ctx.clock.now();
        let arrangement = self
            .ctx
            .store
            .get::<ActionRecord>(&action)?
            .and_then(|a| a.result)
            .and_then(|r| r["note"].as_str().map(str::to_string))
            .unwrap_or_else(|| format!("bought for {price}"));
        let mut attributes = BTreeMap::new();
        attributes.insert("source_url".to_string(), listing.url.clone());
        attributes.insert(
            "source_marketplace".to_string(),
            listing.marketplace.to_string(),
        );
        attributes.insert("seller".to_string(), negotiation.seller_address.clone());
        if let Some(location) = &listing.location {
            attributes.insert("location".to_string(), location.clone());
        }
        if let Some(valuation) = &opportunity.valuation {
            attributes.insert(
                "market_value".to_string(),
                valuation.market_value.to_decimal_string(),
            );
        }
        let mut lifecycle = Lifecycle::new(ItemStatus::Draft);
        lifecycle.advance(ItemStatus::InStock, now, arrangement.clone())?;
        let item = InventoryItem {
            id: ItemId::new_at(now),
            opportunity: Some(opportunity.id),
            title: listing.title.clone(),
            description: listing.description.clone(),
            category: listing.category.clone(),
            condition: listing.condition,
            cost_basis: price,
            images: listing.images.clone(),
            attributes,
            lifecycle,
            acquired_at: now,
            source: ItemSource::Bought,
            selling: SellingPlan::default(),
        };
        let purchase = Transaction {
            id: TransactionId::new_at(now),
            kind: TransactionKind::Purchase,
            amount: price,
            item: Some(item.id),
            order: None,
            at: now,
            memo: arrangement,
        };
        self.ctx.store.put(&purchase)?;
        self.ctx.store.put(&item)?;
        let mut opportunity = opportunity.clone();
        for to in [OpportunityStatus::Agreed, OpportunityStatus::Purchased] {
            if opportunity.lifecycle.status.can_become(to) {
                opportunity
                    .lifecycle
                    .advance(to, now, format!("bought for {price}"))?;
            }
        }
        self.ctx.store.put(&opportunity)?;
        self.ctx.store.flush().await?;
        tracing::info!(item = %item.id, negotiation = %negotiation.id, cost = %price, "item in stock");
        let _ = self.ctx.addrs.gate.send(GateMsg::Settle(action));
        let _ = self.ctx.addrs.lister.send(ListerMsg::ListItem(item.id));
        Ok(())
    }

    /// Records an item the operator brought, in stock, with its cost booked as a purchase.
    async fn add_item(
        &mut self,
        new: NewItem,
    ) -> Result<Result<ItemId, Vec<String>>, ActorProcessingErr> {
        let now = self.ctx.clock.now();
        let item = match new.into_item(ItemId::new_at(now), now) {
            Ok(item) => item,
            Err(problems) => return Ok(Err(problems)),
        };
        self.ctx.store.put(&Transaction {
            id: TransactionId::new_at(now),
            kind: TransactionKind::Purchase,
            amount: item.cost_basis,
            item: Some(item.id),
            order: None,
            at: now,
            memo: "brought in by the operator".into(),
        })?;
        self.ctx.store.put(&item)?;
        self.ctx.store.flush().await?;
        tracing::info!(item = %item.id, cost = %item.cost_basis, "item added by the operator");
        Ok(Ok(item.id))
    }

    async fn edit(
        &mut self,
        id: ItemId,
        edit: &ItemEdit,
    ) -> Result<Result<InventoryItem, Vec<String>>, ActorProcessingErr> {
        let Some(item) = self.ctx.store.get::<InventoryItem>(&id)? else {
            return Ok(Err(vec![format!(
                "item {id} not found; `bazaar inventory` lists them"
            )]));
        };
        let edited = match edit.apply(&item) {
            Ok(edited) => edited,
            Err(problems) => return Ok(Err(problems)),
        };
        self.ctx.store.put(&edited)?;
        self.ctx.store.flush().await?;
        tracing::info!(item = %id, edit = ?edit, "item edited by the operator");
        let _ = self.ctx.addrs.lister.send(ListerMsg::Edited {
            item: id,
            price_changed: edit.changes_price(),
        });
        Ok(Ok(edited))
    }

    /// Agreed deals without an item; sold items still listed elsewhere.
    async fn resume(&mut self) -> Result<(), ActorProcessingErr> {
        let agreed = self
            .ctx
            .store
            .with_status::<Negotiation>(NegotiationStatus::Agreed)?;
        for negotiation in agreed {
            if self.item_of(negotiation.opportunity)?.is_none() {
                self.deal_agreed(negotiation.id).await?;
            }
        }
        let _ = self.ctx.addrs.lister.send(ListerMsg::Resume);
        Ok(())
    }

    /// Reads every order feed since its high-water mark and handles each sale of ours.
    async fn poll_orders(&mut self) -> Result<(), ActorProcessingErr> {
        let feeds = self.ctx.selling.orders.clone();
        for feed in feeds {
            let marketplace = feed.marketplace();
            let key = bazaar_memory::meta_keys::orders_since(marketplace);
            let started = self.ctx.clock.now();
            let since = self
                .ctx
                .store
                .get_meta::<DateTime<Utc>>(&key)?
                .unwrap_or(started - chrono::Duration::days(30));
            let events = match feed.poll(since).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%marketplace, %error, "cannot read orders; retrying at the next poll");
                    continue;
                }
            };
            for event in events {
                if let Some(sale) = self.sale_of(marketplace, &event, None)? {
                    self.sold(sale).await?;
                }
            }
            // Only after every sale is recorded: a crash re-reads them (deduplicated).
            self.ctx.store.put_meta(&key, &started)?;
            self.ctx.store.flush().await?;
        }
        Ok(())
    }

    /// The sale an order line on `marketplace` is, if it is of one of our SKUs.
    fn sale_of(
        &self,
        marketplace: Marketplace,
        event: &OrderEvent,
        notified: Option<Instant>,
    ) -> Result<Option<Sale>, ActorProcessingErr> {
        let sku = SoldListing::Sku {
            marketplace,
            sku: event.sku.clone(),
        };
        let Some(ours) = self.channel_listing(&sku)? else {
            tracing::debug!(%marketplace, sku = %event.sku, order = %event.order_id, "order for a sku we do not list; ignored");
            return Ok(None);
        };
        Ok(Some(Sale {
            listing: SoldListing::ChannelListing(ours.id),
            order: format!("{}:{}", event.order_id, event.line_item_id),
            buyer: event.buyer.clone(),
            total: event.total,
            at: event.created_at,
            notified,
        }))
    }

    fn channel_listing(
        &self,
        listing: &SoldListing,
    ) -> Result<Option<ChannelListing>, ActorProcessingErr> {
        Ok(match listing {
            SoldListing::ChannelListing(id) => self.ctx.store.get::<ChannelListing>(id)?,
            SoldListing::Sku { marketplace, sku } => self
                .ctx
                .store
                .find(
                    ChannelListing::BY_SKU,
                    &bazaar_memory::store::index_value(&[marketplace.name(), sku]),
                )?
                .into_iter()
                .next(),
        })
    }

    /// Records a sale: the order once, the books once, the item and channel listing sold,
    /// then delisting everywhere else; a second sale of a sold item is an oversell.
    /// Tells the operator of a new sale (the `sale_detected` webhook, the audit log).
    fn announce_sale(
        &self,
        channel: &ChannelListing,
        order: &Order,
    ) -> Result<(), ActorProcessingErr> {
        let title = self
            .ctx
            .store
            .get::<InventoryItem>(&channel.item)?
            .map_or_else(|| channel.sku.clone(), |item| item.title);
        let _ = self.ctx.addrs.gate.send(GateMsg::Announce {
            event: GateEvent::SaleDetected {
                summary: format!(
                    "{title:?} sold on {} for {} (order {})",
                    order.marketplace, order.total, order.external_id
                ),
            },
            detail: serde_json::json!({
                "item": channel.item,
                "order": order.id,
                "marketplace": order.marketplace,
                "external_order": order.external_id,
                "total": order.total,
            }),
        });
        Ok(())
    }

    async fn sold(&mut self, sale: Sale) -> Result<(), ActorProcessingErr> {
        let Some(mut channel) = self.channel_listing(&sale.listing)? else {
            tracing::warn!(listing = ?sale.listing, order = %sale.order, "sale of a listing we do not have; ignored");
            return Ok(());
        };
        let store = self.ctx.store.clone();
        // The order's own time when the marketplace gave one: the books then say when it
        // sold, not when we heard of it.
        let clock_now = self.ctx.clock.now();
        let now = sale.at.filter(|at| *at <= clock_now).unwrap_or(clock_now);
        let marketplace = channel.marketplace;
        let total = sale.total.unwrap_or(channel.price);
        let existing = store.find(
            Order::BY_SOURCE,
            &bazaar_memory::store::index_value(&[marketplace.name(), &sale.order]),
        )?;
        let order = match existing.into_iter().next() {
            Some(order) => order,
            None => {
                let mut lifecycle = Lifecycle::new(OrderStatus::Placed);
                lifecycle.advance(OrderStatus::Paid, now, "paid on the marketplace")?;
                let order = Order {
                    id: OrderId::new_at(now),
                    marketplace,
                    external_id: sale.order.clone(),
                    item: Some(channel.item),
                    channel_listing: Some(channel.id),
                    buyer: sale.buyer.clone().unwrap_or_default(),
                    total,
                    lifecycle,
                    created_at: now,
                };
                store.put(&order)?;
                tracing::info!(order = %order.id, external = %sale.order, %marketplace, item = %channel.item, %total, "sale detected");
                self.announce_sale(&channel, &order)?;
                order
            }
        };
        let Some(mut item) = store.get::<InventoryItem>(&channel.item)? else {
            tracing::warn!(item = %channel.item, "sold channel listing has no item");
            return Ok(());
        };
        let books = store.find(Transaction::BY_ITEM, &item.id.to_bytes())?;
        let sold_by = books
            .iter()
            .find(|t| t.kind == TransactionKind::Sale)
            .and_then(|t| t.order);
        if let Some(first) = sold_by.filter(|first| *first != order.id) {
            return self.oversell(&item, &order, first).await;
        }
        let booked = |kind: TransactionKind| {
            books
                .iter()
                .any(|t| t.kind == kind && t.order == Some(order.id))
        };
        let fee = channel_fee(&self.valuation, marketplace, total);
        let shipping = Money::new(
            shipping_minor(&self.valuation, marketplace, &item.category),
            total.currency,
        );
        // Fee and postage first: the sale is what marks the books as complete.
        for (kind, amount, memo) in [
            (TransactionKind::Fee, fee, format!("{marketplace} fees")),
            (TransactionKind::Shipping, shipping, "postage".to_string()),
            (
                TransactionKind::Sale,
                total,
                format!("sold on {marketplace} (order {})", sale.order),
            ),
        ] {
            if booked(kind) || amount.minor == 0 {
                continue;
            }
            store.put(&Transaction {
                id: TransactionId::new_at(now),
                kind,
                amount,
                item: Some(item.id),
                order: Some(order.id),
                at: now,
                memo,
            })?;
        }
        if item.lifecycle.status.can_become(ItemStatus::Sold) {
            item.lifecycle.advance(
                ItemStatus::Sold,
                now,
                format!("sold on {marketplace} for {total}"),
            )?;
            store.put(&item)?;
        }
        if channel.lifecycle.status.can_become(ChannelStatus::Sold) {
            channel
                .lifecycle
                .advance(ChannelStatus::Sold, now, format!("order {}", sale.order))?;
            store.put(&channel)?;
        }
        store.flush().await?;
        let _ = self.ctx.addrs.lister.send(ListerMsg::Delist {
            item: item.id,
            sold: channel.id,
            order: order.id,
            notified: sale.notified,
        });
        Ok(())
    }

    /// A second sale of an item already sold: the operator must cancel one.
    async fn oversell(
        &mut self,
        item: &InventoryItem,
        order: &Order,
        first: OrderId,
    ) -> Result<(), ActorProcessingErr> {
        let first = self.ctx.store.get::<Order>(&first)?;
        let first_text = first
            .map(|o| format!("order {} on {}", o.external_id, o.marketplace))
            .unwrap_or_else(|| "an earlier order".to_string());
        tracing::error!(item = %item.id, order = %order.external_id, marketplace = %order.marketplace, "oversell: item sold twice");
        open_task_once(
            &self.ctx,
            &format!("oversell:{}:{}", item.id, order.id),
            format!(
                "URGENT oversell: {:?} (item {}) sold twice — cancel order {} on {} and refund the buyer",
                item.title, item.id, order.external_id, order.marketplace
            ),
            format!("the item was already sold ({first_text})"),
        )
        .await
    }
}
