//! What the selling side works with: the channels items are listed on (native through a
//! connector, or assisted through the operator's inbox) and where sales are read from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bazaar_memory::{Addr, Marketplace, SharedClock};
use bazaar_policies::BoxFuture;
use bazaar_strategies::autopilot::{OfferRules, RepriceRules, StaleRules, WatcherOfferRules};
use chrono::{DateTime, Utc};

use crate::connectors::ebay_orders::{EbayOrders, OrderEvent};
use crate::connectors::ebay_sell::EbaySellClient;

/// How a channel is listed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelMode {
    /// Through the gate's marketplace connector (`PublishListing`, `WithdrawListing`).
    Native,
    /// The operator pastes a template and confirms the URL; withdrawals are urgent tasks.
    Assisted,
}

/// One channel items are listed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellingChannel {
    pub marketplace: Marketplace,
    /// Native or assisted.
    pub mode: ChannelMode,
}

impl SellingChannel {
    /// A channel with a connector.
    pub fn native(marketplace: Marketplace) -> SellingChannel {
        SellingChannel {
            marketplace,
            mode: ChannelMode::Native,
        }
    }

    /// A channel the operator lists on by hand.
    pub fn assisted(marketplace: Marketplace) -> SellingChannel {
        SellingChannel {
            marketplace,
            mode: ChannelMode::Assisted,
        }
    }
}

/// Sends `msg` to `addr` after `wait` on `clock`, unless a timer armed through the same flag
/// is already waiting: one timer per flag, across restarts of the actor that arms it.
pub(crate) fn arm_once<M: Send + 'static>(
    armed: &Arc<AtomicBool>,
    clock: &SharedClock,
    wait: Duration,
    addr: &Addr<M>,
    msg: M,
) {
    if armed.swap(true, Ordering::AcqRel) {
        return;
    }
    let (armed, clock, addr) = (armed.clone(), clock.clone(), addr.clone());
    let wait = wait.max(Duration::from_secs(1));
    tokio::spawn(async move {
        clock.sleep(wait).await;
        armed.store(false, Ordering::Release);
        let _ = addr.send(msg);
    });
}

/// Where a marketplace's sales are polled from.
pub trait OrderFeed: Send + Sync + 'static {
    fn marketplace(&self) -> Marketplace;
    /// Every order line modified since `since`.
    fn poll<'a>(&'a self, since: DateTime<Utc>) -> BoxFuture<'a, Result<Vec<OrderEvent>, String>>;
}

impl OrderFeed for EbayOrders {
    fn marketplace(&self) -> Marketplace {
        Marketplace::Ebay
    }

    fn poll<'a>(&'a self, since: DateTime<Utc>) -> BoxFuture<'a, Result<Vec<OrderEvent>, String>> {
        Box::pin(async move { self.poll_orders(since).await.map_err(|e| e.to_string()) })
    }
}

/// Where a marketplace says which of our listings buyers are watching (their ids there).
pub trait InterestFeed: Send + Sync + 'static {
    fn marketplace(&self) -> Marketplace;
    /// Our listings with interested buyers.
    fn interested<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

impl InterestFeed for EbaySellClient {
    fn marketplace(&self) -> Marketplace {
        Marketplace::Ebay
    }

    fn interested<'a>(&'a self) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move { self.interested_listings().await.map_err(|e| e.to_string()) })
    }
}

/// The selling setup every actor shares.
#[derive(Clone)]
pub struct Selling {
    /// Channels items are listed on, in order.
    pub channels: Vec<SellingChannel>,
    /// Where sales are polled from (native channels).
    pub orders: Vec<Arc<dyn OrderFeed>>,
    /// How often the Inventory polls for sales and resumes unfinished work.
    pub poll_every: Duration,
    /// One poll timer at a time, across restarts of the Inventory.
    pub(crate) timer_armed: Arc<AtomicBool>,
    /// How buyer offers are answered.
    pub offers: OfferRules,
    /// How prices come down on listings that do not sell.
    pub reprice: RepriceRules,
    /// Where watched listings are found (offers to interested buyers); none: no such offers.
    pub interest: Vec<Arc<dyn InterestFeed>>,
    /// When watchers get an offer.
    pub watcher_offers: WatcherOfferRules,
    /// When an unsold item is archived (taken down everywhere).
    pub stale: StaleRules,
    /// The least margin (basis points of the price, after fees and postage) the Autopilot
    /// sells at when it answers offers and lowers prices: its floor. Listing prices aim at
    /// the valuation's target margin; dead stock may come down to this.
    pub floor_margin_bp: i64,
    /// How often the Autopilot looks at live listings' prices.
    pub reprice_every: Duration,
    /// One repricing timer at a time, across restarts of the Autopilot.
    pub(crate) reprice_timer_armed: Arc<AtomicBool>,
    /// Ask the language model to rewrite listing copy (kept only if it keeps the facts).
    pub rewrite_copy: bool,
}

impl Default for Selling {
    fn default() -> Self {
        Selling {
            channels: Vec::new(),
            orders: Vec::new(),
            poll_every: Duration::from_secs(5 * 60),
            timer_armed: Arc::default(),
            offers: OfferRules::default(),
            reprice: RepriceRules::default(),
            interest: Vec::new(),
            watcher_offers: WatcherOfferRules::default(),
            stale: StaleRules::default(),
            floor_margin_bp: 500,
            reprice_every: Duration::from_secs(6 * 3600),
            reprice_timer_armed: Arc::default(),
            rewrite_copy: false,
        }
    }
}

impl std::fmt::Debug for Selling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Selling")
            .field("channels", &self.channels)
            .field(
                "orders",
                &self
                    .orders
                    .iter()
                    .map(|o| o.marketplace())
                    .collect::<Vec<_>>(),
            )
            .field("poll_every", &self.poll_every)
            .field("offers", &self.offers)
            .field("reprice", &self.reprice)
            .field(
                "interest",
                &self
                    .interest
                    .iter()
                    .map(|f| f.marketplace())
                    .collect::<Vec<_>>(),
            )
            .field("watcher_offers", &self.watcher_offers)
            .field("stale", &self.stale)
            .field("floor_margin_bp", &self.floor_margin_bp)
            .field("reprice_every", &self.reprice_every)
            .field("rewrite_copy", &self.rewrite_copy)
            .finish()
    }
}

impl Selling {
    /// Selling on `channels`, reading sales from `orders`, polling every `poll_every`.
    pub fn new(
        channels: Vec<SellingChannel>,
        orders: Vec<Arc<dyn OrderFeed>>,
        poll_every: Duration,
    ) -> Selling {
        Selling {
            channels,
            orders,
            poll_every,
            ..Selling::default()
        }
    }

    /// The mode of `marketplace`, if items are listed there.
    pub fn mode(&self, marketplace: Marketplace) -> Option<ChannelMode> {
        self.channels
            .iter()
            .find(|c| c.marketplace == marketplace)
            .map(|c| crate::channel::channel_for(*c).mode())
    }

    /// The operations on `marketplace`'s listings (assisted when it is not configured).
    pub fn channel(&self, marketplace: Marketplace) -> &'static dyn crate::channel::Channel {
        crate::channel::channel_for(SellingChannel {
            marketplace,
            mode: self.mode(marketplace).unwrap_or(ChannelMode::Assisted),
        })
    }
}
