//! The world model: every record Bazaar keeps, and the legal moves of each status.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::*;
use crate::status::{status_machine, Lifecycle};
use crate::Money;

/// A place where things are bought or sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Marketplace {
    /// eBay, through its REST APIs.
    Ebay,
    /// Craigslist-style static HTML classifieds.
    Craigslist,
    /// Facebook-Marketplace-style JavaScript-rendered pages.
    Facebook,
    /// Poshmark (assisted: the operator pastes the listing).
    Poshmark,
    /// Mercari (assisted: the operator pastes the listing).
    Mercari,
}

impl Marketplace {
    /// Every marketplace Bazaar knows.
    pub const ALL: [Marketplace; 5] = [
        Marketplace::Ebay,
        Marketplace::Craigslist,
        Marketplace::Facebook,
        Marketplace::Poshmark,
        Marketplace::Mercari,
    ];

    /// Lowercase name, as in config and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Marketplace::Ebay => "ebay",
            Marketplace::Craigslist => "craigslist",
            Marketplace::Facebook => "facebook",
            Marketplace::Poshmark => "poshmark",
            Marketplace::Mercari => "mercari",
        }
    }
}

impl fmt::Display for Marketplace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Marketplace {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Marketplace::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown marketplace {s:?} (known: ebay, craigslist, facebook, poshmark, mercari)"))
    }
}

/// An item's condition, normalized across marketplaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// New, unused.
    New,
    /// Used but indistinguishable from new.
    LikeNew,
    /// Used, working, normal wear.
    Good,
    /// Used, visible wear.
    Fair,
    /// Works poorly or heavily worn.
    Poor,
    /// For parts or not working.
    ForParts,
    /// The listing does not say.
    Unknown,
}

impl Condition {
    /// Lowercase name, used in the index.
    pub fn name(self) -> &'static str {
        match self {
            Condition::New => "new",
            Condition::LikeNew => "like_new",
            Condition::Good => "good",
            Condition::Fair => "fair",
            Condition::Poor => "poor",
            Condition::ForParts => "for_parts",
            Condition::Unknown => "unknown",
        }
    }
}

/// Who sells a listing, as the marketplace names them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SellerRef {
    /// The marketplace's id or handle for the seller (an anonymized reply address on
    /// Craigslist).
    pub external_id: String,
    /// A display name, when the marketplace shows one.
    pub display_name: Option<String>,
    /// Where the marketplace gives the seller's address when the listing does not show it
    /// (Craigslist's reply page, behind the posting's reply button).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_url: Option<String>,
}

/// The one normalized listing format every source maps to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarketListing {
    /// Our id.
    pub id: ListingId,
    /// Where it is listed.
    pub marketplace: Marketplace,
    /// The marketplace's id for it.
    pub external_id: String,
    /// Where a person can see it.
    pub url: String,
    /// Title as listed.
    pub title: String,
    /// Description as listed (plain text).
    pub description: String,
    /// Asking price.
    pub price: Money,
    /// Normalized condition.
    pub condition: Condition,
    /// Normalized category (`"electronics"`).
    pub category: String,
    /// Who sells it.
    pub seller: SellerRef,
    /// Where it is, as listed.
    pub location: Option<String>,
    /// Image URLs.
    pub images: Vec<String>,
    /// When the marketplace says it was listed.
    pub listed_at: Option<DateTime<Utc>>,
    /// When we first saw it.
    pub first_seen: DateTime<Utc>,
    /// When we last saw it.
    pub last_seen: DateTime<Utc>,
    /// The source's payload exactly as received (JSON or HTML), for audits and re-parsing.
    pub raw: String,
}

/// Something that happened with a seller, kept so the negotiator can learn from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SellerEvent {
    /// We saw one of their listings.
    ListingSeen {
        /// Which listing.
        listing: ListingId,
        /// At what asking price.
        price: Money,
    },
    /// A negotiation with them ended.
    NegotiationEnded {
        /// Which negotiation.
        negotiation: NegotiationId,
        /// Whether it ended in a deal.
        agreed: bool,
        /// At what price, if agreed.
        price: Option<Money>,
        /// What they asked when it started.
        #[serde(default)]
        asking: Option<Money>,
        /// How long they took to answer, on average, in seconds (none if they never did).
        #[serde(default)]
        mean_response_secs: Option<i64>,
        /// Messages they sent.
        #[serde(default)]
        replies: u32,
    },
    /// An operator's or agent's note.
    Note {
        /// The note.
        text: String,
    },
}

/// A seller and what we know of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seller {
    /// Our id.
    pub id: SellerId,
    /// Where they sell.
    pub marketplace: Marketplace,
    /// The marketplace's id or handle.
    pub external_id: String,
    /// Display name, if known.
    pub display_name: Option<String>,
    /// Where to email them, if known.
    pub contact: Option<String>,
    /// When we first saw them.
    pub first_seen: DateTime<Utc>,
    /// What happened with them, oldest first.
    pub history: Vec<(DateTime<Utc>, SellerEvent)>,
}

/// Whether a price point was asked or paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceKind {
    /// A seller asked this.
    Asking,
    /// Somebody paid this.
    Sold,
}

/// A price observed at a moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// When.
    pub at: DateTime<Utc>,
    /// How much.
    pub price: Money,
    /// Asked or paid.
    pub kind: PriceKind,
}

/// A product as the market has priced it: the unit of "comparable items".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRecord {
    /// Our id.
    pub id: ProductId,
    pub title: String,
    /// Normalized category.
    pub category: String,
    /// Normalized condition.
    pub condition: Condition,
    /// Where it was seen.
    pub marketplace: Marketplace,
    /// The listing it came from, if any.
    pub listing: Option<ListingId>,
    /// Who sold it, if known.
    pub seller: Option<SellerId>,
    /// The latest asking price.
    pub asking: Option<Money>,
    /// What it sold for, if it sold.
    pub sold: Option<Money>,
    /// Every price seen, oldest first.
    pub price_history: Vec<PricePoint>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

status_machine! {
    /// Where a found listing is on the way to becoming stock.
    OpportunityStatus for "opportunity" {
        /// Found, not yet valued.
        Discovered = "discovered",
        /// Valued.
        Analyzed = "analyzed",
        /// Negotiating with the seller.
        Pursuing = "pursuing",
        /// The seller agreed on a price.
        Agreed = "agreed",
        /// Bought.
        Purchased = "purchased",
        /// Decided against, with a reason (valued again if the asking price comes down).
        Passed = "passed",
        /// The listing went away or the deal timed out.
        Expired = "expired",
    }
    moves {
        Discovered => [Analyzed, Passed, Expired],
        Analyzed => [Pursuing, Passed, Expired],
        Pursuing => [Agreed, Passed, Expired],
        Agreed => [Purchased, Passed, Expired],
        // valued again: its asking price came down
        Passed => [Analyzed],
    }
}

/// The outcome of valuing an opportunity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Valuation {
    /// Estimated resale value.
    pub market_value: Money,
    /// The most we pay and keep the target margin.
    pub ceiling: Money,
    /// How many comparables the estimate rests on.
    pub comparables: u32,
    /// Confidence in the estimate, 0..=1.
    pub confidence: f64,
}

/// A listing we might buy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opportunity {
    /// Our id.
    pub id: OpportunityId,
    pub listing: ListingId,
    /// Where it stands, and why.
    pub lifecycle: Lifecycle<OpportunityStatus>,
    /// The valuation, once analyzed.
    pub valuation: Option<Valuation>,
    /// When it was found.
    pub created_at: DateTime<Utc>,
}

status_machine! {
    /// Where a negotiation with a seller stands.
    NegotiationStatus for "negotiation" {
        /// Talking.
        Open = "open",
        /// A price is agreed.
        Agreed = "agreed",
        /// The seller refused or sold elsewhere.
        Failed = "failed",
        /// We walked away.
        WalkedAway = "walked_away",
    }
    moves {
        Open => [Agreed, Failed, WalkedAway],
    }
}

/// Which side spoke in a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// Bazaar.
    Us,
    /// The seller.
    Seller,
}

/// One message in a negotiation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    /// When it was sent or received.
    pub at: DateTime<Utc>,
    /// Who spoke.
    pub from: Party,
    /// The email's Message-ID.
    pub message_id: String,
    /// The text, quoted history stripped.
    pub text: String,
    /// The total price offered or understood, if any.
    pub price: Option<Money>,
}

/// A negotiation thread with one seller over one opportunity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Negotiation {
    /// Our id.
    pub id: NegotiationId,
    /// What we negotiate for.
    pub opportunity: OpportunityId,
    /// With whom.
    pub seller: SellerId,
    /// The most we will pay.
    pub ceiling: Money,
    /// Where it stands.
    pub lifecycle: Lifecycle<NegotiationStatus>,
    /// Every message, oldest first.
    pub rounds: Vec<Round>,
    /// The agreed price, once agreed.
    pub agreed_price: Option<Money>,
    /// The seller's email address (the listing's reply address).
    #[serde(default)]
    pub seller_address: String,
    /// The thread's subject.
    #[serde(default)]
    pub subject: String,
    /// The strategy's own state (owned by `bazaar-strategies`, kept here as JSON so a
    /// restarted Negotiator resumes exactly where it was).
    #[serde(default)]
    pub strategy_state: Option<serde_json::Value>,
    /// When the Negotiator must look at the thread again (a follow-up due), if ever.
    #[serde(default)]
    pub wake_at: Option<DateTime<Utc>>,
}

/// Which way a mail went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailDirection {
    /// We sent it.
    Outbound,
    /// We received it.
    Inbound,
}

/// Where the Mailroom sent a received mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailRoute {
    /// Part of a negotiation thread (outbound mail is always this).
    Negotiation,
    /// Not ours to answer automatically: the operator's inbox.
    Inbox,
    /// Seen before under the same Message-ID, or empty: kept, not acted on.
    Ignored,
    /// A buyer's offer on one of our listings, or our answer to one: the Autopilot's.
    BuyerOffer,
}

impl MailRoute {
    /// The route's name in indexes and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            MailRoute::Negotiation => "negotiation",
            MailRoute::Inbox => "inbox",
            MailRoute::Ignored => "ignored",
            MailRoute::BuyerOffer => "buyer_offer",
        }
    }
}

/// One email sent or received, keyed by its Message-ID: the thread index (replies find their
/// negotiation through In-Reply-To / References) and the record that nothing is read twice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailRecord {
    /// The Message-ID, without angle brackets.
    pub message_id: String,
    /// Sent or received.
    pub direction: MailDirection,
    /// The sender.
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    pub subject: String,
    /// The text, quoted history stripped.
    pub text: String,
    /// The parent's Message-ID.
    pub in_reply_to: Option<String>,
    /// The thread so far.
    pub references: Vec<String>,
    /// When it was sent or received.
    pub at: DateTime<Utc>,
    /// The negotiation it belongs to.
    pub negotiation: Option<NegotiationId>,
    /// Where it went.
    pub route: MailRoute,
}

status_machine! {
    /// Where an item we own is.
    ItemStatus for "inventory item" {
        /// Bought, not yet in hand.
        Draft = "draft",
        /// In hand, not listed.
        InStock = "in_stock",
        /// Listed on at least one channel.
        Listed = "listed",
        /// Sold.
        Sold = "sold",
        /// Shipped to the buyer.
        Shipped = "shipped",
        /// Came back.
        Returned = "returned",
        /// Written off or kept.
        Archived = "archived",
    }
    moves {
        Draft => [InStock, Archived],
        InStock => [Listed, Sold, Archived],
        Listed => [InStock, Sold, Archived],
        Sold => [Shipped, Returned, Listed],
        Shipped => [Returned],
        Returned => [InStock, Archived],
    }
}

/// An item we own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryItem {
    /// Our id.
    pub id: ItemId,
    /// The opportunity it was bought from, if any.
    pub opportunity: Option<OpportunityId>,
    pub title: String,
    pub description: String,
    /// Normalized category.
    pub category: String,
    /// Normalized condition.
    pub condition: Condition,
    /// What it cost us, all in.
    pub cost_basis: Money,
    /// Photos.
    pub images: Vec<String>,
    /// Attributes (brand, model, size …).
    pub attributes: BTreeMap<String, String>,
    /// Where it stands.
    pub lifecycle: Lifecycle<ItemStatus>,
    /// When we acquired it.
    pub acquired_at: DateTime<Utc>,
    /// Where it came from.
    #[serde(default)]
    pub source: ItemSource,
    /// How it is to be sold, where the operator said.
    #[serde(default)]
    pub selling: SellingPlan,
}

/// Where an item came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ItemSource {
    /// Bought by the agent from a deal it negotiated.
    #[default]
    Bought,
    /// Brought by the operator (`bazaar item add`).
    Operator,
}

/// What the operator decided about selling an item; what they left out the Lister works out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SellingPlan {
    /// The least it may sell for, when the operator set it (the Lister's floor from cost,
    /// fees and margin still holds if it is higher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Money>,
    /// The asking price the operator set, instead of the Lister's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    /// The channels to list it on, in order, once the operator chose them (`bazaar list`;
    /// empty after a cancel). `None`: a bought item goes on every configured channel, an
    /// item the operator brought waits for `bazaar list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Marketplace>>,
}

status_machine! {
    /// Where one listing of an item on one channel is.
    ChannelStatus for "channel listing" {
        /// Copy written, not published.
        Draft = "draft",
        /// Waiting for the operator to paste it (assisted channels).
        AwaitingOperator = "awaiting_operator",
        /// Live on the channel.
        Live = "live",
        /// Taken down.
        Withdrawn = "withdrawn",
        /// Sold on this channel.
        Sold = "sold",
    }
    moves {
        Draft => [AwaitingOperator, Live, Withdrawn],
        AwaitingOperator => [Live, Withdrawn],
        Live => [Withdrawn, Sold],
        Withdrawn => [Live, AwaitingOperator],
    }
}

/// An item's listing on one marketplace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelListing {
    /// Our id.
    pub id: ChannelListingId,
    /// Which item.
    pub item: ItemId,
    /// Which marketplace.
    pub marketplace: Marketplace,
    /// Our SKU there (idempotency key for publishing).
    pub sku: String,
    /// The marketplace's listing or offer id, once published.
    pub external_id: Option<String>,
    /// Where buyers see it.
    pub url: Option<String>,
    /// Current price there.
    pub price: Money,
    /// Where it stands.
    pub lifecycle: Lifecycle<ChannelStatus>,
}

status_machine! {
    /// Where a buyer's order is.
    OrderStatus for "order" {
        /// Placed, not paid.
        Placed = "placed",
        /// Paid.
        Paid = "paid",
        /// Shipped.
        Shipped = "shipped",
        /// Delivered.
        Delivered = "delivered",
        /// Cancelled before shipping.
        Cancelled = "cancelled",
        /// Money returned.
        Refunded = "refunded",
    }
    moves {
        Placed => [Paid, Cancelled],
        Paid => [Shipped, Cancelled, Refunded],
        Shipped => [Delivered, Refunded],
        Delivered => [Refunded],
    }
}

/// A buyer's order on one of our channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// Our id.
    pub id: OrderId,
    /// Which marketplace.
    pub marketplace: Marketplace,
    /// The marketplace's order id.
    pub external_id: String,
    /// The item sold, once matched.
    pub item: Option<ItemId>,
    /// The channel listing it sold through, once matched.
    pub channel_listing: Option<ChannelListingId>,
    /// The buyer's handle.
    pub buyer: String,
    /// What the buyer paid.
    pub total: Money,
    /// Where it stands.
    pub lifecycle: Lifecycle<OrderStatus>,
    /// When the marketplace created it.
    pub created_at: DateTime<Utc>,
}

/// What kind of money movement a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// We paid for an item.
    Purchase,
    /// A buyer paid us.
    Sale,
    /// A marketplace fee.
    Fee,
    /// Postage.
    Shipping,
    /// Money returned to a buyer.
    Refund,
}

/// A booked movement of money. `amount` is positive; `kind` says which way it flows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// Our id.
    pub id: TransactionId,
    /// What kind.
    pub kind: TransactionKind,
    /// How much (positive).
    pub amount: Money,
    /// The item it concerns.
    pub item: Option<ItemId>,
    /// The order it concerns.
    pub order: Option<OrderId>,
    /// When it was booked.
    pub at: DateTime<Utc>,
    /// A short human note.
    pub memo: String,
}

impl Transaction {
    /// The amount with its sign for profit: income positive, spending negative.
    pub fn signed_amount(&self) -> Money {
        match self.kind {
            TransactionKind::Sale => self.amount,
            TransactionKind::Purchase
            | TransactionKind::Fee
            | TransactionKind::Shipping
            | TransactionKind::Refund => Money::new(-self.amount.minor, self.amount.currency),
        }
    }
}

/// Every kind of action that touches the outside world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// Send an email.
    SendEmail,
    /// Buy an item.
    Purchase,
    /// Publish a listing.
    PublishListing,
    /// Change a listing's price.
    RevisePrice,
    /// Take a listing down.
    WithdrawListing,
    /// Put a withdrawn listing back up.
    Relist,
    /// Accept a buyer's offer.
    AcceptOffer,
    /// Decline a buyer's offer.
    DeclineOffer,
    /// Counter a buyer's offer.
    CounterOffer,
    /// Send offers to interested buyers (eBay).
    SendOfferToBuyers,
    /// Archive a stale item.
    Archive,
    /// Bring an archived item back.
    Unarchive,
    /// Tell the marketplace a sold item was shipped, with its carrier and tracking number.
    MarkShipped,
}

impl ActionKind {
    /// Every kind.
    pub const ALL: [ActionKind; 13] = [
        ActionKind::SendEmail,
        ActionKind::Purchase,
        ActionKind::PublishListing,
        ActionKind::RevisePrice,
        ActionKind::WithdrawListing,
        ActionKind::Relist,
        ActionKind::AcceptOffer,
        ActionKind::DeclineOffer,
        ActionKind::CounterOffer,
        ActionKind::SendOfferToBuyers,
        ActionKind::Archive,
        ActionKind::Unarchive,
        ActionKind::MarkShipped,
    ];

    /// Lowercase name, as in the API and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::SendEmail => "send_email",
            ActionKind::Purchase => "purchase",
            ActionKind::PublishListing => "publish_listing",
            ActionKind::RevisePrice => "revise_price",
            ActionKind::WithdrawListing => "withdraw_listing",
            ActionKind::Relist => "relist",
            ActionKind::AcceptOffer => "accept_offer",
            ActionKind::DeclineOffer => "decline_offer",
            ActionKind::CounterOffer => "counter_offer",
            ActionKind::SendOfferToBuyers => "send_offer_to_buyers",
            ActionKind::Archive => "archive",
            ActionKind::Unarchive => "unarchive",
            ActionKind::MarkShipped => "mark_shipped",
        }
    }

    /// The action that compensates this one, if it can be undone at all. Email can only be
    /// cancelled while it waits in the outbox.
    pub fn compensation(self) -> Option<ActionKind> {
        match self {
            ActionKind::PublishListing | ActionKind::Relist => Some(ActionKind::WithdrawListing),
            ActionKind::WithdrawListing => Some(ActionKind::Relist),
            ActionKind::RevisePrice => Some(ActionKind::RevisePrice),
            ActionKind::Archive => Some(ActionKind::Unarchive),
            ActionKind::Unarchive => Some(ActionKind::Archive),
            ActionKind::SendEmail
            | ActionKind::Purchase
            | ActionKind::AcceptOffer
            | ActionKind::DeclineOffer
            | ActionKind::CounterOffer
            | ActionKind::SendOfferToBuyers
            | ActionKind::MarkShipped => None,
        }
    }

    /// Whether it changes a listing on a marketplace (counts as a revision).
    pub fn is_listing_revision(self) -> bool {
        matches!(
            self,
            ActionKind::PublishListing
                | ActionKind::RevisePrice
                | ActionKind::WithdrawListing
                | ActionKind::Relist
        )
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to undo an executed action, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoRecipe {
    /// The compensating action.
    pub kind: ActionKind,
    /// Its parameters (e.g. the price before).
    pub params: serde_json::Value,
    /// Undo is refused after this.
    pub deadline: DateTime<Utc>,
}

status_machine! {
    /// Where a proposed action is in the gate.
    ActionStatus for "action" {
        /// Received, not yet decided.
        Proposed = "proposed",
        /// Waiting for the operator.
        PendingApproval = "pending_approval",
        /// Cleared to run.
        Approved = "approved",
        /// Waiting in the outbox until its release time; undo cancels it.
        Scheduled = "scheduled",
        /// Cancelled while scheduled.
        Cancelled = "cancelled",
        /// Intent written; the connector is working on it.
        Executing = "executing",
        /// Done.
        Executed = "executed",
        /// Tried and failed.
        Failed = "failed",
        /// Refused by a rule.
        Blocked = "blocked",
        /// Refused by the operator.
        Rejected = "rejected",
        /// Compensated.
        Undone = "undone",
    }
    moves {
        Proposed => [PendingApproval, Approved, Blocked],
        PendingApproval => [Approved, Rejected, Blocked],
        Approved => [Scheduled, Executing, Blocked],
        Scheduled => [Executing, Cancelled, Blocked],
        Executing => [Executed, Failed],
        Executed => [Undone],
    }
}

/// An action as the gate recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// Our id.
    pub id: ActionId,
    /// What kind of action.
    pub kind: ActionKind,
    /// What it acts on (a SKU, an email address, a listing id).
    pub target: String,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Which actor proposed it.
    pub proposer: String,
    /// The rule that proposed it (its accuracy is learned).
    pub rule: String,
    /// The money at stake (price, offer, purchase amount).
    pub value: Option<Money>,
    /// The marketplace it touches, if any.
    pub marketplace: Option<Marketplace>,
    /// Makes a repeat harmless; travels to the outside world as SKU / Message-ID / header.
    pub idempotency_key: String,
    /// What it is about, in words a person acts on: the item, the other party, the step and
    /// the money, as its proposer put them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// The confidence score, once scored.
    pub confidence: Option<f64>,
    /// Where it stands.
    pub lifecycle: Lifecycle<ActionStatus>,
    /// What the connector returned.
    pub result: Option<serde_json::Value>,
    /// The outside state before.
    pub before: Option<serde_json::Value>,
    /// The outside state after.
    pub after: Option<serde_json::Value>,
    /// How to undo it, and until when.
    pub undo: Option<UndoRecipe>,
    /// The action this one compensates, if it is an undo.
    pub undoes: Option<ActionId>,
    /// When it was proposed.
    pub proposed_at: DateTime<Utc>,
    /// When a scheduled action leaves the outbox.
    pub release_at: Option<DateTime<Utc>>,
}

/// One entry of the append-only, hash-chained audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Position in the log, from 0.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The action it concerns, if any.
    pub action: Option<ActionId>,
    /// What happened (`"proposed"`, `"executed"` …).
    pub event: String,
    /// Details.
    pub detail: serde_json::Value,
    /// The previous entry's hash (hex), empty for the first.
    pub prev_hash: String,
    /// This entry's hash (hex) over `prev_hash` and its content.
    pub hash: String,
}

/// Where the audit chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at entry {seq}: {problem}")]
pub struct ChainBreak {
    /// The first bad entry.
    pub seq: u64,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl AuditEntry {
    /// The entry that follows `prev` (or starts the log), with its hash computed.
    pub fn next(
        prev: Option<&AuditEntry>,
        at: DateTime<Utc>,
        action: Option<ActionId>,
        event: impl Into<String>,
        detail: serde_json::Value,
    ) -> AuditEntry {
        let mut entry = AuditEntry {
            seq: prev.map_or(0, |p| p.seq + 1),
            at,
            action,
            event: event.into(),
            detail,
            prev_hash: prev.map(|p| p.hash.clone()).unwrap_or_default(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    fn compute_hash(&self) -> String {
        let content = serde_json::json!([self.seq, self.at, self.action, self.event, self.detail]);
        let mut hasher = Sha256::new();
        hasher.update(self.prev_hash.as_bytes());
        hasher.update(content.to_string().as_bytes());
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Whether this entry concerns `item`: its action id, or any string in its detail
    /// (target SKU, approval, compensation) equal to it.
    pub fn concerns(&self, item: &str) -> bool {
        fn any_string(value: &serde_json::Value, item: &str) -> bool {
            match value {
                serde_json::Value::String(s) => s == item,
                serde_json::Value::Array(values) => values.iter().any(|v| any_string(v, item)),
                serde_json::Value::Object(map) => map.values().any(|v| any_string(v, item)),
                _ => false,
            }
        }
        self.action.is_some_and(|a| a.to_string() == item) || any_string(&self.detail, item)
    }

    /// Checks that `entries` (in order) form an unbroken chain from the first entry.
    pub fn verify_chain<'a>(
        entries: impl IntoIterator<Item = &'a AuditEntry>,
    ) -> Result<u64, ChainBreak> {
        let mut prev: Option<&AuditEntry> = None;
        let mut count = 0;
        for entry in entries {
            let expected_seq = prev.map_or(0, |p| p.seq + 1);
            if entry.seq != expected_seq {
                return Err(ChainBreak {
                    seq: entry.seq,
                    problem: "sequence gap",
                });
            }
            if entry.prev_hash != prev.map(|p| p.hash.as_str()).unwrap_or("") {
                return Err(ChainBreak {
                    seq: entry.seq,
                    problem: "previous hash does not match",
                });
            }
            if entry.hash != entry.compute_hash() {
                return Err(ChainBreak {
                    seq: entry.seq,
                    problem: "content does not match its hash",
                });
            }
            prev = Some(entry);
            count += 1;
        }
        Ok(count)
    }
}

status_machine! {
    /// Where an operator approval request is.
    ApprovalStatus for "approval" {
        /// Waiting.
        Pending = "pending",
        /// Approved.
        Approved = "approved",
        /// Rejected.
        Rejected = "rejected",
        /// Nobody answered in time.
        Expired = "expired",
    }
    moves {
        Pending => [Approved, Rejected, Expired],
    }
}

/// A question to the operator: an action to approve, or a manual task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// Our id.
    pub id: ApprovalId,
    /// The action it is about, if any (manual tasks and alerts have none).
    pub action: Option<ActionId>,
    /// What the operator is asked, in plain words.
    pub summary: String,
    /// Why it needs a person.
    pub reason: String,
    /// Where it stands.
    pub lifecycle: Lifecycle<ApprovalStatus>,
    /// After this it expires.
    pub deadline: Option<DateTime<Utc>>,
    /// When it was asked.
    pub requested_at: DateTime<Utc>,
    /// Who answered, once answered.
    pub decided_by: Option<String>,
}

/// An item similar to a query, with what it asked and sold for: what the search index
/// (`bazaar-memory`) answers and the valuation (`bazaar-strategies`) reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparable {
    /// The product's id (ULID text).
    pub product_id: String,
    pub title: String,
    pub category: String,
    /// Condition name.
    pub condition: String,
    /// Latest asking price.
    pub asking: Option<Money>,
    /// Sold price.
    pub sold: Option<Money>,
    /// Similarity score (higher is closer); comparable only within one query.
    pub score: f32,
}
