//! The Autopilot: selling-side rules on live listings.
//!
//! - **Buyer offers** reach us by mail (the Mailroom routes them here): the offer is read
//!   with the same reader as sellers' replies, answered by
//!   [`answer_offer`] — accept, counter or decline, never below the listing's floor — and the
//!   answer leaves as an `accept_offer` / `counter_offer` / `decline_offer` email through the
//!   gate, keyed by the buyer's Message-ID so it is sent once.
//! - **Repricing**: on a timer on the runtime clock, each live native listing's price is put
//!   to [`reprice`] (time decay, daily and weekly caps, floor); a drop is a `revise_price`
//!   action through the gate. Each listing's price history is kept in the store.
//! - **Offers to watchers**: listings buyers watch (the marketplace says which) get a
//!   discounted offer to those buyers now and then ([`watcher_offer`]), through the gate.
//! - **Competition**: when enough live comparables in memory ask less (their median), a
//!   drop goes as far as that price (still within the caps and above the floor) — unless
//!   buyers are watching the listing, which says it sells at its price.
//! - **Stale items**: a native listing unsold for `selling.stale.relist_after_days` is
//!   ended and listed afresh (two gated actions; the new listing id is recorded); an item
//!   listed longer than `archive_after_days` comes down everywhere (gated withdrawals; a
//!   task for assisted channels) and is archived.
//!
//! Everything it needs is in the store: after a restart, unanswered offers are found by
//! their route and answered (on its first tick), and repricing continues from the recorded
//! history.

use bazaar_memory::store::index_value;
use bazaar_memory::{
    ActionKind, ActionRecord, ActionStatus, ChannelListing, ChannelStatus, Envelope, InventoryItem,
    ItemStatus, MailDirection, MailRecord, MailRoute, Marketplace, Money, Store,
};
use bazaar_policies::{Action, GateMsg, Outcome};
use bazaar_strategies::autopilot::{
    answer_offer, is_stale, needs_relist, reprice, watcher_offer, OfferAnswer, OfferFacts, Reprice,
    RepriceFacts,
};
use bazaar_strategies::understand::{understand, Intent, Reply};
use bazaar_strategies::valuation::ValuationConfig;
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::channel::ChannelRequest;
use crate::lister::listing_draft;
use crate::mail::{offered_listing, SendEmailParams};
use crate::selling::{arm_once, ChannelMode};
use crate::tasks::open_task_once;
use crate::{ActorReport, AgentContext};

/// Messages to the Autopilot.
#[derive(Debug)]
pub enum AutopilotMsg {
    /// A buyer's offer was recorded under this Message-ID.
    BuyerOffer(String),
    /// Look at live listings' prices (and unanswered offers) now.
    Tick,
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// The Autopilot actor.
#[derive(Debug, Default)]
pub struct Autopilot;

/// The Autopilot's state; everything durable is in the store.
#[derive(Debug)]
pub struct AutopilotState {
    ctx: AgentContext,
    valuation: ValuationConfig,
    /// Whether this instance has answered the offers a crash may have left unanswered.
    recovered: bool,
}

impl Actor for Autopilot {
    type Msg = Envelope<AutopilotMsg>;
    type State = AutopilotState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<AutopilotState, ActorProcessingErr> {
        if !ctx.selling.channels.is_empty() {
            let _ = ctx.addrs.autopilot.send(AutopilotMsg::Tick);
        }
        Ok(AutopilotState {
            valuation: crate::valuation_config(&ctx.config),
            ctx,
            recovered: false,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut AutopilotState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                AutopilotMsg::BuyerOffer(message_id) => state.buyer_offer(&message_id).await?,
                AutopilotMsg::Tick => state.tick().await?,
                AutopilotMsg::Status(reply) => {
                    let _ = reply.send(state.report()?);
                }
            }
        }
        Ok(())
    }
}

/// The idempotency key of our answer to the buyer mail `message_id`.
pub fn offer_key(message_id: &str) -> String {
    format!("offer:{message_id}")
}

/// When the listing last went live (`now` when the record does not say).
fn listed_at(listing: &ChannelListing, now: DateTime<Utc>) -> DateTime<Utc> {
    listing
        .lifecycle
        .last_entered(ChannelStatus::Live)
        .unwrap_or(now)
}

/// When `listing` first went live (relisting does not reset it), if it ever did.
fn first_listed_at(listing: &ChannelListing) -> Option<DateTime<Utc>> {
    listing
        .lifecycle
        .history
        .iter()
        .find(|change| change.to == ChannelStatus::Live)
        .map(|change| change.at)
}

/// Live comparables needed before their median asking price counts as the competition.
const MIN_COMPETITORS: usize = 5;

impl AutopilotState {
    fn report(&self) -> Result<ActorReport, ActorProcessingErr> {
        let live = self
            .ctx
            .store
            .with_status::<ChannelListing>(ChannelStatus::Live)?
            .len();
        let offers = self
            .ctx
            .store
            .find(
                MailRecord::BY_ROUTE,
                MailRoute::BuyerOffer.as_str().as_bytes(),
            )?
            .iter()
            .filter(|m| m.direction == MailDirection::Inbound)
            .count();
        Ok(ActorReport {
            actor: "autopilot",
            summary: format!("{live} live channel listings watched, {offers} buyer offers read"),
            idle: self
                .ctx
                .selling
                .channels
                .is_empty()
                .then(|| "no selling channel is configured".to_string()),
        })
    }

    /// Answers (once per start) offers a crash left unanswered, reprices, and sets the
    /// next tick.
    async fn tick(&mut self) -> Result<(), ActorProcessingErr> {
        if !self.recovered {
            let received: Vec<String> = self
                .ctx
                .store
                .find(
                    MailRecord::BY_ROUTE,
                    MailRoute::BuyerOffer.as_str().as_bytes(),
                )?
                .into_iter()
                .filter(|m| m.direction == MailDirection::Inbound)
                .map(|m| m.message_id)
                .collect();
            // Answered ones are skipped by their idempotency key.
            for message_id in received {
                self.buyer_offer(&message_id).await?;
            }
            self.recovered = true;
        }
        let live = self
            .ctx
            .store
            .with_status::<ChannelListing>(ChannelStatus::Live)?;
        let watched = self.watched().await;
        let now = self.ctx.clock.now();
        for listing in live {
            if self.ctx.selling.mode(listing.marketplace) != Some(ChannelMode::Native) {
                continue;
            }
            let first = first_listed_at(&listing).unwrap_or(now);
            if needs_relist(
                &self.ctx.selling.stale,
                first,
                listed_at(&listing, now),
                now,
            ) {
                self.relist(listing).await?;
                continue;
            }
            let is_watched = listing.external_id.as_ref().is_some_and(|id| {
                watched
                    .iter()
                    .any(|(m, w)| *m == listing.marketplace && w == id)
            });
            self.reprice(listing, is_watched).await?;
        }
        self.offer_to_watchers(&watched).await?;
        self.archive_stale().await?;
        self.arm_timer();
        Ok(())
    }

    /// Items listed longer than `selling.stale` allows come down everywhere and are
    /// archived: native listings withdrawn through the gate, assisted ones by the operator.
    async fn archive_stale(&mut self) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        let listed = store.with_status::<InventoryItem>(ItemStatus::Listed)?;
        for mut item in listed {
            let channels = store.find(ChannelListing::BY_ITEM, &item.id.to_bytes())?;
            let first_listed = channels.iter().filter_map(first_listed_at).min();
            let Some(first_listed) = first_listed else {
                continue;
            };
            if !is_stale(&self.ctx.selling.stale, first_listed, now) {
                continue;
            }
            let days = self.ctx.selling.stale.archive_after_days;
            let mut all_down = true;
            for listing in channels {
                let up = matches!(
                    listing.lifecycle.status,
                    ChannelStatus::Live | ChannelStatus::AwaitingOperator
                );
                if !up {
                    continue;
                }
                let native = self.ctx.selling.mode(listing.marketplace)
                    == Some(ChannelMode::Native)
                    && listing.lifecycle.status == ChannelStatus::Live;
                let request = self
                    .ctx
                    .selling
                    .channel(listing.marketplace)
                    .withdraw(&listing);
                if let (true, ChannelRequest::Native { kind, params }) = (native, request) {
                    let action = Action {
                        kind,
                        target: listing.sku.clone(),
                        params,
                        proposer: "autopilot".into(),
                        rule: "autopilot.archive_stale".into(),
                        value: None,
                        marketplace: Some(listing.marketplace),
                        pattern_match: 1.0,
                        idempotency_key: format!("archive:{}", listing.id),
                        about: Some(format!(
                            "take {:?} down on {}: unsold for {} days, archived",
                            item.title, listing.marketplace, days
                        )),
                    };
                    if self.propose(action).await?.is_none() {
                        all_down = false;
                        continue;
                    }
                } else {
                    open_task_once(
                        &self.ctx,
                        &format!("archive:{}", listing.id),
                        format!(
                            "take {:?} down on {}: unsold after {days} days",
                            item.title, listing.marketplace
                        ),
                        "the autopilot archives items that do not sell; this channel has no API"
                            .into(),
                    )
                    .await?;
                }
                let mut listing = listing;
                listing.lifecycle.advance(
                    ChannelStatus::Withdrawn,
                    now,
                    format!("archived: unsold after {days} days"),
                )?;
                store.put(&listing)?;
            }
            if all_down {
                item.lifecycle.advance(
                    ItemStatus::Archived,
                    now,
                    format!("unsold after {days} days"),
                )?;
                store.put(&item)?;
                tracing::info!(item = %item.id, days, "stale item archived");
            }
        }
        store.flush().await?;
        Ok(())
    }

    /// Sends watched listings' buyers an offer (eBay's offers to interested buyers).
    async fn offer_to_watchers(
        &mut self,
        watched: &[(Marketplace, String)],
    ) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        for (marketplace, external) in watched {
            let marketplace = *marketplace;
            let listing = store
                .find(
                    ChannelListing::BY_SOURCE,
                    &index_value(&[marketplace.name(), external]),
                )?
                .into_iter()
                .next();
            let Some(listing) = listing else {
                continue;
            };
            if listing.lifecycle.status != ChannelStatus::Live {
                continue;
            }
            let Some(floor) = self.floor_of(&listing)? else {
                continue;
            };
            let key = bazaar_memory::meta_keys::watcher_offers(listing.id);
            let mut sent: Vec<DateTime<Utc>> = store.get_meta(&key)?.unwrap_or_default();
            let Some(price) = watcher_offer(
                &self.ctx.selling.watcher_offers,
                listing.price,
                floor,
                listed_at(&listing, now),
                sent.last().copied(),
                now,
            ) else {
                continue;
            };
            let ChannelRequest::Native { kind, params } = self
                .ctx
                .selling
                .channel(marketplace)
                .offer_to_watchers(external, price)
            else {
                continue;
            };
            let action = Action {
                kind,
                target: listing.sku.clone(),
                params,
                proposer: "autopilot".into(),
                rule: "autopilot.watcher_offer".into(),
                value: Some(price),
                marketplace: Some(marketplace),
                pattern_match: 1.0,
                idempotency_key: format!("watchers:{}:{}", listing.id, sent.len()),
                about: Some(format!(
                    "offer {price} to the buyers watching {:?} on {marketplace} (asking {}, never below {floor})",
                    title_of(&self.ctx, &listing)?,
                    listing.price
                )),
            };
            if self.propose(action).await?.is_some() {
                tracing::info!(channel_listing = %listing.id, %price, asking = %listing.price, %floor, "offer sent to watchers");
                sent.push(now);
                store.put_meta(&key, &sent)?;
            }
        }
        Ok(())
    }

    fn arm_timer(&self) {
        let selling = &self.ctx.selling;
        arm_once(
            &selling.reprice_timer_armed,
            &self.ctx.clock,
            selling.reprice_every,
            &self.ctx.addrs.autopilot,
            AutopilotMsg::Tick,
        );
    }

    fn floor_of(&self, listing: &ChannelListing) -> Result<Option<Money>, ActorProcessingErr> {
        let Some(item) = self.ctx.store.get::<InventoryItem>(&listing.item)? else {
            return Ok(None);
        };
        let draft = listing_draft(
            &self.ctx.store,
            &self.valuation,
            &item,
            listing.marketplace,
            self.ctx.selling.floor_margin_bp,
        )?;
        Ok(Some(draft.floor))
    }

    /// Our listings buyers watch, by marketplace and the marketplace's listing id, in the
    /// marketplaces' order (read once a tick: repricing and offers to watchers share it).
    async fn watched(&self) -> Vec<(Marketplace, String)> {
        let mut watched = Vec::new();
        for feed in &self.ctx.selling.interest {
            match feed.interested().await {
                Ok(ids) => watched.extend(ids.into_iter().map(|id| (feed.marketplace(), id))),
                Err(error) => {
                    tracing::warn!(marketplace = %feed.marketplace(), %error, "cannot read watched listings; trying at the next look")
                }
            }
        }
        watched
    }

    /// The median asking price of live comparables of `item` in memory, when there are at
    /// least [`MIN_COMPETITORS`] (the listing it was bought from left out).
    fn competitor_price(&self, item: &InventoryItem) -> Result<Option<Money>, ActorProcessingErr> {
        let store = &self.ctx.store;
        let source = match item.opportunity {
            Some(id) => store
                .get::<bazaar_memory::Opportunity>(&id)?
                .map(|o| o.listing),
            None => None,
        };
        let exclude = match source {
            Some(listing) => store
                .find(
                    bazaar_memory::ProductRecord::BY_LISTING,
                    &listing.to_bytes(),
                )?
                .into_iter()
                .next()
                .map(|p| p.id.to_string()),
            None => None,
        };
        let found = self
            .ctx
            .index
            .comparables(&item.title, Some(&item.category), None, 20)?;
        let currency = item.cost_basis.currency;
        let mut asking: Vec<i64> = found
            .iter()
            .filter(|c| c.sold.is_none() && Some(&c.product_id) != exclude.as_ref())
            .filter_map(|c| c.asking)
            .filter(|m| m.currency == currency)
            .map(|m| m.minor)
            .collect();
        if asking.len() < MIN_COMPETITORS {
            return Ok(None);
        }
        asking.sort_unstable();
        Ok(Some(Money::new(asking[asking.len() / 2], currency)))
    }

    /// Ends a listing that has not sold and lists it afresh (same SKU, same price).
    async fn relist(&mut self, mut listing: ChannelListing) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        let key = bazaar_memory::meta_keys::relists(listing.id);
        let done: u32 = store.get_meta(&key)?.unwrap_or(0);
        let days = self.ctx.selling.stale.relist_after_days;
        let title = title_of(&self.ctx, &listing)?;
        let channel = self.ctx.selling.channel(listing.marketplace);
        let (
            ChannelRequest::Native {
                kind: end_kind,
                params: end_params,
            },
            ChannelRequest::Native {
                kind: relist_kind,
                params: relist_params,
            },
        ) = (channel.withdraw(&listing), channel.relist(&listing))
        else {
            return Ok(());
        };
        let step = |kind: ActionKind, params: serde_json::Value, name: &str| Action {
            kind,
            target: listing.sku.clone(),
            params,
            proposer: "autopilot".into(),
            rule: "autopilot.relist_stale".into(),
            value: None,
            marketplace: Some(listing.marketplace),
            pattern_match: 1.0,
            idempotency_key: format!("{name}:{}:{done}", listing.id),
            about: Some(format!(
                "{} {title:?} on {} at {}: unsold after {days} days, relisted fresh",
                if name == "relist-end" {
                    "end"
                } else {
                    "relist"
                },
                listing.marketplace,
                listing.price
            )),
        };
        if self
            .propose(step(end_kind, end_params, "relist-end"))
            .await?
            .is_none()
        {
            return Ok(());
        }
        let Some(record) = self
            .propose(step(relist_kind, relist_params, "relist"))
            .await?
        else {
            // Ended but not up again: the next tick retries the relist (same key).
            return Ok(());
        };
        let external = record
            .result
            .as_ref()
            .and_then(|r| r["listing_id"].as_str())
            .map(str::to_string);
        listing.lifecycle.advance(
            ChannelStatus::Withdrawn,
            now,
            format!("ended to relist: unsold after {days} days"),
        )?;
        listing
            .lifecycle
            .advance(ChannelStatus::Live, now, "relisted")?;
        if let Some(external) = external {
            listing.url = channel
                .listing_url(&external, &self.ctx.config)
                .or(listing.url);
            listing.external_id = Some(external);
        }
        store.put(&listing)?;
        store.put_meta(&key, &(done + 1))?;
        store.flush().await?;
        tracing::info!(channel_listing = %listing.id, external = ?listing.external_id, days, "stale listing relisted");
        Ok(())
    }

    async fn reprice(
        &mut self,
        mut listing: ChannelListing,
        watched: bool,
    ) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        let now = self.ctx.clock.now();
        if catch_up_revision(&self.ctx, &mut listing)? {
            tracing::info!(channel_listing = %listing.id, price = %listing.price, "approved price change recorded");
        }
        let Some(floor) = self.floor_of(&listing)? else {
            return Ok(());
        };
        let listed_at = listed_at(&listing, now);
        let key = bazaar_memory::meta_keys::price_history(listing.id);
        let history: Vec<(DateTime<Utc>, Money)> = store
            .get_meta(&key)?
            .unwrap_or_else(|| vec![(listed_at, listing.price)]);
        // Watched: it sells at its price; no need to chase cheaper competitors.
        let competitor = match self.ctx.store.get::<InventoryItem>(&listing.item)? {
            Some(item) if !watched => self.competitor_price(&item)?,
            _ => None,
        };
        let facts = RepriceFacts {
            price: listing.price,
            floor,
            listed_at,
            history: &history,
            watchers: None,
            competitor,
        };
        let to = match reprice(&self.ctx.selling.reprice, &facts, now) {
            Reprice::Keep { reason } => {
                tracing::debug!(channel_listing = %listing.id, reason, "price kept");
                return Ok(());
            }
            Reprice::Lower { to } => to,
        };
        let from = listing.price;
        if revise_listing_price(&self.ctx, &mut listing, to, "autopilot.reprice.time_decay").await?
            == Revision::Executed
        {
            tracing::info!(channel_listing = %listing.id, %from, %to, %floor, "price lowered");
        }
        Ok(())
    }
}

/// What became of a price revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Revision {
    /// The channel has the new price (and the listing and its price history say so).
    Executed,
    /// The gate holds it (for the operator) or it failed; the listing keeps its price.
    NotYet,
    /// The channel has no API to change a price: the operator must.
    Assisted,
}

/// Proposes `listing`'s price `to` on its channel through the gate under `rule` (keyed by the
/// listing and its price history, so a repeat after a crash is one revision); once executed
/// the listing and its price history record it.
pub(crate) async fn revise_listing_price(
    ctx: &AgentContext,
    listing: &mut ChannelListing,
    to: Money,
    rule: &str,
) -> Result<Revision, ActorProcessingErr> {
    let store = &ctx.store;
    let now = ctx.clock.now();
    let ChannelRequest::Native { kind, params } = ctx
        .selling
        .channel(listing.marketplace)
        .revise_price(listing, to)
    else {
        return Ok(Revision::Assisted);
    };
    let key = bazaar_memory::meta_keys::price_history(listing.id);
    let history: Vec<(DateTime<Utc>, Money)> = store
        .get_meta(&key)?
        .unwrap_or_else(|| vec![(listed_at(listing, now), listing.price)]);
    let proposer = rule.split('.').next().unwrap_or(rule);
    let action = Action {
        kind,
        target: listing.sku.clone(),
        params,
        proposer: proposer.into(),
        rule: rule.into(),
        value: Some(to),
        marketplace: Some(listing.marketplace),
        pattern_match: 1.0,
        idempotency_key: format!("reprice:{}:{}", listing.id, history.len()),
        about: Some(format!(
            "change the price of {:?} on {} from {} to {to}{}",
            title_of(ctx, listing)?,
            listing.marketplace,
            listing.price,
            if rule.starts_with("operator.") {
                " as the operator set it"
            } else {
                ""
            }
        )),
    };
    if propose(ctx, action).await?.is_none() {
        tracing::debug!(channel_listing = %listing.id, %to, "price change not executed yet");
        return Ok(Revision::NotYet);
    }
    catch_up_revision(ctx, listing)?;
    Ok(Revision::Executed)
}

/// Records on `listing` the price revision keyed by its price history, if it executed —
/// at once, or since it was proposed (the operator approved it). The price is the one the
/// executed action carried, whatever was proposed since under the same key.
pub(crate) fn catch_up_revision(
    ctx: &AgentContext,
    listing: &mut ChannelListing,
) -> Result<bool, ActorProcessingErr> {
    let store = &ctx.store;
    let now = ctx.clock.now();
    let key = bazaar_memory::meta_keys::price_history(listing.id);
    let mut history: Vec<(DateTime<Utc>, Money)> = store
        .get_meta(&key)?
        .unwrap_or_else(|| vec![(listed_at(listing, now), listing.price)]);
    let action_key = format!("reprice:{}:{}", listing.id, history.len());
    let Some(to) = store
        .find(ActionRecord::BY_IDEMPOTENCY_KEY, action_key.as_bytes())?
        .into_iter()
        .find(|r| r.lifecycle.status == ActionStatus::Executed)
        .and_then(|r| r.value)
    else {
        return Ok(false);
    };
    listing.price = to;
    store.put(listing)?;
    history.push((now, to));
    store.put_meta(&key, &history)?;
    Ok(true)
}

/// The title of the item `listing` sells, for the words an approval is asked in.
fn title_of(ctx: &AgentContext, listing: &ChannelListing) -> Result<String, ActorProcessingErr> {
    Ok(ctx
        .store
        .get::<InventoryItem>(&listing.item)?
        .map(|item| item.title)
        .unwrap_or_else(|| listing.sku.clone()))
}

/// Proposes `action`; the executed record, or `None` while it waits or when it failed.
async fn propose(
    ctx: &AgentContext,
    action: Action,
) -> Result<Option<ActionRecord>, ActorProcessingErr> {
    let outcome = ctx
        .addrs
        .gate
        .ask(|reply| GateMsg::Propose(action, reply))
        .await?;
    let id = match outcome {
        Outcome::Executed { action }
        | Outcome::Duplicate {
            action,
            status: ActionStatus::Executed,
        } => action,
        Outcome::Failed { reason, .. } => {
            tracing::warn!(%reason, "price or offer action failed");
            return Ok(None);
        }
        other => {
            tracing::debug!(outcome = ?other, "action not executed yet");
            return Ok(None);
        }
    };
    Ok(ctx.store.get::<ActionRecord>(&id)?)
}

impl AutopilotState {
    /// Answers the buyer mail `message_id` once.
    async fn buyer_offer(&mut self, message_id: &str) -> Result<(), ActorProcessingErr> {
        let store = self.ctx.store.clone();
        let Some(mail) = store.get::<MailRecord>(&message_id.to_string())? else {
            return Ok(());
        };
        if mail.direction != MailDirection::Inbound || mail.route != MailRoute::BuyerOffer {
            return Ok(());
        }
        let key = offer_key(message_id);
        if !store
            .find(ActionRecord::BY_IDEMPOTENCY_KEY, key.as_bytes())?
            .is_empty()
        {
            return Ok(());
        }
        let Some(listing_id) = offered_listing(&mail.subject) else {
            return self
                .task(&key, &mail, "the mail names no eBay listing".into())
                .await;
        };
        let listing = store
            .find(
                ChannelListing::BY_SOURCE,
                &index_value(&["ebay", listing_id]),
            )?
            .into_iter()
            .next();
        let Some(listing) = listing else {
            return self
                .task(
                    &key,
                    &mail,
                    format!("no listing of ours is eBay item {listing_id}"),
                )
                .await;
        };
        // Our counters earlier in this thread: their number and the last price.
        let mut counters: Vec<Money> = Vec::new();
        for earlier in &mail.references {
            let answers = store.find(
                ActionRecord::BY_IDEMPOTENCY_KEY,
                offer_key(earlier).as_bytes(),
            )?;
            counters.extend(
                answers
                    .iter()
                    .filter(|a| a.kind == ActionKind::CounterOffer)
                    .filter_map(|a| a.value),
            );
        }
        let our_last_offer = counters.last().copied();
        let reading = understand(&Reply {
            text: &mail.text,
            listing_price: listing.price,
            our_last_offer,
        });
        let offered = match (reading.intent, reading.price) {
            (_, Some(price)) => Some(price),
            (Intent::Accept, None) => our_last_offer,
            _ => None,
        };
        if listing.lifecycle.status != ChannelStatus::Live {
            let text = "Thanks for your interest — sorry, this one is no longer available.";
            return self
                .answer(
                    &mail,
                    &listing,
                    &key,
                    ActionKind::DeclineOffer,
                    None,
                    text.into(),
                )
                .await;
        }
        let Some(offered) = offered else {
            return self
                .task(&key, &mail, "no offer price could be read from it".into())
                .await;
        };
        let Some(floor) = self.floor_of(&listing)? else {
            return Ok(());
        };
        let facts = OfferFacts {
            asking: listing.price,
            floor,
            offered,
            counters_sent: u32::try_from(counters.len()).unwrap_or(u32::MAX),
            our_last_counter: our_last_offer,
        };
        let answer = answer_offer(&self.ctx.selling.offers, &facts);
        tracing::info!(channel_listing = %listing.id, %offered, asking = %listing.price, %floor, answer = ?answer, "buyer offer answered");
        let (kind, value, text) = match answer {
            OfferAnswer::Accept { price } => (
                ActionKind::AcceptOffer,
                Some(price),
                format!("Yes, {price} works for me. It's yours — thanks!"),
            ),
            OfferAnswer::Counter { price } => (
                ActionKind::CounterOffer,
                Some(price),
                format!("Thanks for the offer. I can't go that low, but I can do {price}."),
            ),
            OfferAnswer::Decline { .. } => (
                ActionKind::DeclineOffer,
                None,
                "Thanks for the offer, but I can't go that low.".to_string(),
            ),
        };
        self.answer(&mail, &listing, &key, kind, value, text).await
    }

    async fn answer(
        &self,
        mail: &MailRecord,
        listing: &ChannelListing,
        key: &str,
        kind: ActionKind,
        value: Option<Money>,
        text: String,
    ) -> Result<(), ActorProcessingErr> {
        let subject = if mail.subject.to_ascii_lowercase().starts_with("re:") {
            mail.subject.clone()
        } else {
            format!("Re: {}", mail.subject)
        };
        let mut references = mail.references.clone();
        references.push(mail.message_id.clone());
        let params = SendEmailParams {
            to: mail.from.clone(),
            subject,
            text,
            in_reply_to: Some(mail.message_id.clone()),
            references,
            negotiation: None,
        };
        let action = Action {
            kind,
            target: listing.sku.clone(),
            params: serde_json::to_value(params)?,
            proposer: "autopilot".into(),
            rule: format!("autopilot.{kind}"),
            value,
            marketplace: Some(listing.marketplace),
            pattern_match: 1.0,
            idempotency_key: key.to_string(),
            about: Some({
                let title = title_of(&self.ctx, listing)?;
                let step = match (kind, value) {
                    (ActionKind::AcceptOffer, Some(price)) => format!("accept {price}"),
                    (ActionKind::CounterOffer, Some(price)) => format!("counter at {price}"),
                    _ => "decline".to_string(),
                };
                format!(
                    "answer {} about {title:?} on {} (asking {}): {step}",
                    mail.from, listing.marketplace, listing.price
                )
            }),
        };
        self.propose(action).await?;
        Ok(())
    }

    /// Proposes `action`; its record when executed (now or before).
    async fn propose(&self, action: Action) -> Result<Option<ActionRecord>, ActorProcessingErr> {
        propose(&self.ctx, action).await
    }

    /// An offer the rules cannot answer goes to the operator, once.
    async fn task(
        &self,
        key: &str,
        mail: &MailRecord,
        why: String,
    ) -> Result<(), ActorProcessingErr> {
        open_task_once(
            &self.ctx,
            key,
            format!("answer {}: {:?}", mail.from, mail.subject),
            format!(
                "a buyer's offer the autopilot cannot answer: {why} (Message-ID {})",
                mail.message_id
            ),
        )
        .await
    }
}
