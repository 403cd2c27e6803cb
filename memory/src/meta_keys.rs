//! Every key of the store's meta tree, the small named state the actors keep beside the
//! records (high-water marks, counters, decisions made once), in one place. The names are
//! what earlier versions wrote, so a store carries over; change one only with a migration
//! (`crate::migrate`).

use crate::{ChannelListingId, Marketplace};

/// The gate's limit counters for the current marketplace day and week.
pub const POLICY_LIMITS: &str = "policy.limits";
/// What the gate learned of each rule (executions, approvals, rejections, undos).
pub const POLICY_RULES: &str = "policy.rules";
/// Whether the kill switch is on.
pub const POLICY_PAUSED: &str = "policy.paused";
/// When the operator was last seen answering.
pub const POLICY_OPERATOR_SEEN: &str = "policy.operator_seen";

/// The inbox page's open sessions (id → issued, unix seconds).
pub const OPERATOR_SESSIONS: &str = "operator.sessions";
/// One-click links already used (nonce → expiry, unix seconds).
pub const OPERATOR_LINKS_USED: &str = "operator.links.used";

/// The webhook dispatcher's counters (delivered, failed, dropped, retried) as of the last
/// clean stop.
pub const OPERATOR_WEBHOOK_COUNTS: &str = "operator.webhook_counts";

/// Set while a running Bazaar has the search index open, removed once its last commit is
/// done: found at start, the last run stopped without it (a crash) and index updates may be
/// lost, so the index is rebuilt from the store.
pub const INDEX_IN_USE: &str = "index.in_use";

/// The mailbox's high-water mark (UIDVALIDITY and the next UID).
pub const MAIL_INBOX_MARK: &str = "mail.inbox_mark";

/// Delist latencies: order id → milliseconds from the sale's notification to the last
/// withdrawal done.
pub const DELIST_LATENCIES: &str = "selling.delist_ms";

/// The Researcher's cold-start searches today: (day, count).
pub const COLD_START_SEARCHES: &str = "researcher.cold_start.today";

/// The key of the inbox task that asks for the seller's address of `listing` (one task
/// names a batch of listings; it closes once every one has its address).
pub fn contact_task(listing: crate::ListingId) -> String {
    format!("analyzer.contact_task.{listing}")
}

/// When the Researcher last asked for comparables of `query` (a cold start).
pub fn cold_start_query(query: &str) -> String {
    format!("researcher.cold_start.query.{query}")
}

/// Today's count of eBay Browse calls.
pub const EBAY_BROWSE_CALLS: &str = "connector.ebay.calls";
/// Today's count of eBay selling calls (token refreshes included).
pub const EBAY_SELL_CALLS: &str = "connector.ebay.sell.calls";
/// Today's count of eBay notification key fetches: a budget of their own, so forged
/// notifications (anyone can POST to the endpoint) never spend a selling call.
pub const EBAY_NOTIFICATION_KEY_CALLS: &str = "connector.ebay.notification_keys.calls";

/// Where a marketplace's order poll got to.
pub fn orders_since(marketplace: Marketplace) -> String {
    format!("selling.orders_since.{marketplace}")
}

/// The copy a channel listing goes out with, decided once (the model's rewrite, or none).
pub fn listing_copy(listing: ChannelListingId) -> String {
    format!("lister.copy.{listing}")
}

/// The current publication attempt of a channel listing (each has its own idempotency key).
pub fn publish_attempt(listing: ChannelListingId) -> String {
    format!("lister.attempt.{listing}")
}

/// That a once-only inbox task was opened under `key`.
pub fn task_opened(key: &str) -> String {
    format!("selling.task:{key}")
}

/// A channel listing's price history.
pub fn price_history(listing: ChannelListingId) -> String {
    format!("autopilot.prices.{listing}")
}

/// When offers went to a listing's watchers.
pub fn watcher_offers(listing: ChannelListingId) -> String {
    format!("autopilot.watcher_offers.{listing}")
}

/// How often a listing was ended and listed afresh.
pub fn relists(listing: ChannelListingId) -> String {
    format!("autopilot.relists.{listing}")
}

/// A purchase arranged with a seller, by the purchase's idempotency key.
pub fn purchase_arrangement(idempotency_key: &str) -> String {
    format!("purchase.arrangement:{idempotency_key}")
}
