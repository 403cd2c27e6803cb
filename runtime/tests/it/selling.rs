//! The selling loop against the simulated eBay: an agreed deal is bought (an arrangement
//! through the gate), stocked, listed natively on eBay and by the operator on Mercari; a sale
//! found by the order poll books the transaction, ends the listing that sold and takes the
//! other channel down; a sale reported on the other channel too is an oversell; restarts
//! never list twice; the Autopilot answers buyer offers, reprices and makes offers to
//! watchers.

#![allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::autopilot::{offer_key, AutopilotMsg};
use bazaar_agents::connectors::ebay_orders::EbayOrders;
use bazaar_agents::connectors::ebay_sell::{
    exchange_authorization_code, EbaySell, EbaySellClient, EbaySellSettings, ListingPolicyIds,
};
use bazaar_agents::connectors::{EbayBrowse, EbaySettings, PoliteConfig};
use bazaar_agents::inventory::{InventoryMsg, Sale, SoldListing};
use bazaar_agents::lister::{publish_key, ListerMsg};
use bazaar_agents::mail::{MailMessage, MailTransport};
use bazaar_agents::selling::{OrderFeed, Selling, SellingChannel};
use bazaar_config::Config;
use bazaar_memory::{
    ActionKind, ActionRecord, ActionStatus, Approval, ApprovalStatus, ChannelListing,
    ChannelStatus, Condition, IndexConfig, InventoryItem, ItemStatus, Lifecycle, ListingId,
    MarketListing, Marketplace, Money, Negotiation, NegotiationId, NegotiationStatus, Opportunity,
    OpportunityId, OpportunityStatus, Order, ProductIndex, SellerId, SellerRef, SharedClock,
    SimClock, SledStore, Store, Transaction, TransactionKind, Valuation,
};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::ebay::{scopes, EbayConfig, EbaySim};
use bazaar_sim::mail::{MessageId, OutgoingMail, PostOffice};
use chrono::{DateTime, Utc};

const POLL: Duration = Duration::from_secs(5 * 60);

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T15:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn quick() -> PoliteConfig {
    PoliteConfig {
        concurrency: 2,
        min_delay: Duration::ZERO,
        jitter: Duration::ZERO,
        backoff_initial: Duration::from_secs(1),
        backoff_max: Duration::from_secs(60),
        max_retries: 3,
        timeout: Duration::from_secs(10),
    }
}

/// A policy that trusts the selling rules (the approval path is the gate's own tests'
/// business).
fn config() -> Config {
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.policy.high_value = Money::usd(10_000_000);
    config.policy.confidence.first_execution_factor = 1.0;
    config.policy.confidence.operator_away_factor = 1.0;
    config.policy.confidence.high_value_factor = 1.0;
    config.policy.confidence.medium_value_factor = 1.0;
    config
}

struct Market {
    sim: EbaySim,
    clock: SimClock,
    api: EbaySettings,
    refresh_token: String,
}

async fn market() -> Market {
    let clock = SimClock::new(start_time());
    let ebay = EbayConfig::default();
    let (sim, _) = EbaySim::start(ebay.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let api = EbaySettings::new(
        sim.base_url(),
        &ebay.client_id,
        &ebay.client_secret,
        100_000,
    );
    let code = sim.authorization_code(&[
        scopes::API,
        scopes::SELL_INVENTORY,
        scopes::SELL_FULFILLMENT,
    ]);
    let shared: SharedClock = Arc::new(clock.clone());
    let tokens = exchange_authorization_code(&api, &code, &ebay.ru_name, &shared)
        .await
        .unwrap();
    Market {
        sim,
        clock,
        api,
        refresh_token: tokens.refresh_token,
    }
}

/// A system selling natively on eBay (through the sim) and assisted on Mercari.
async fn start_system(dir: &Path, market: &Market) -> System {
    start_system_with_mail(dir, market, None).await
}

/// The same system with a mailbox (buyer offers arrive by mail).
async fn start_system_with_mail(
    dir: &Path,
    market: &Market,
    mail: Option<Arc<dyn MailTransport>>,
) -> System {
    let store = SledStore::open(&dir.join("store")).unwrap();
    let clock: SharedClock = Arc::new(market.clock.clone());
    let mut settings = EbaySellSettings::new(market.api.clone(), market.refresh_token.clone());
    settings.policies = ListingPolicyIds {
        fulfillment_policy_id: "6196944000".into(),
        payment_policy_id: "6196945000".into(),
        return_policy_id: "6196946000".into(),
    };
    settings.merchant_location_key = Some("home".into());
    settings.location_address = Some(bazaar_agents::connectors::ebay_sell::LocationAddress {
        postal_code: "95125".into(),
        country: "US".into(),
    });
    let client =
        Arc::new(EbaySellClient::new(settings, quick(), store.clone(), clock.clone()).unwrap());
    let orders: Arc<dyn OrderFeed> = Arc::new(EbayOrders::new(client.clone()));
    let mut selling = Selling::new(
        vec![
            SellingChannel::native(Marketplace::Ebay),
            SellingChannel::assisted(Marketplace::Mercari),
        ],
        vec![orders],
        POLL,
    );
    selling.interest = vec![client.clone()];
    let parts = SystemParts::with_selling(
        Arc::new(config()),
        store,
        ProductIndex::in_memory(IndexConfig::default()).unwrap(),
        clock,
        mail,
        Some(Arc::new(EbaySell::new(client))),
        selling,
    );
    System::start(parts).await.unwrap()
}

async fn settle(system: &System) {
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(5)).await;
        system.quiet.wait_quiet().await;
    }
}

/// A Craigslist listing, its opportunity and a negotiation agreed at $40.
fn agreed_deal(store: &SledStore) -> NegotiationId {
    let now = start_time();
    let listing = MarketListing {
        id: ListingId::new_at(now),
        marketplace: Marketplace::Craigslist,
        external_id: "7712345678".into(),
        url: "http://127.0.0.1:9/ele/d/bose-soundlink/7712345678.html".into(),
        title: "Bose SoundLink Mini II Bluetooth Speaker - barely used, charging cradle, original box and cable".into(),
        description: "Works perfectly. Light wear on the case.".into(),
        price: Money::usd(60_00),
        condition: Condition::Good,
        category: "electronics".into(),
        seller: SellerRef {
            external_id: "abc123@sale.craigslist.invalid".into(),
            display_name: None,
            contact_url: None,
        },
        location: Some("Oakland".into()),
        images: (0..15).map(|i| format!("http://127.0.0.1:9/img/{i}.jpg")).collect(),
        listed_at: Some(now),
        first_seen: now,
        last_seen: now,
        raw: String::new(),
    };
    let mut lifecycle = Lifecycle::new(OpportunityStatus::Discovered);
    lifecycle
        .advance(OpportunityStatus::Analyzed, now, "valued")
        .unwrap();
    lifecycle
        .advance(OpportunityStatus::Pursuing, now, "pursue")
        .unwrap();
    let opportunity = Opportunity {
        id: OpportunityId::new_at(now),
        listing: listing.id,
        lifecycle,
        valuation: Some(Valuation {
            market_value: Money::usd(110_00),
            ceiling: Money::usd(55_00),
            comparables: 8,
            confidence: 0.8,
        }),
        created_at: now,
    };
    let mut lifecycle = Lifecycle::new(NegotiationStatus::Open);
    lifecycle
        .advance(NegotiationStatus::Agreed, now, "agreed at $40.00")
        .unwrap();
    let negotiation = Negotiation {
        id: NegotiationId::new_at(now),
        opportunity: opportunity.id,
        seller: SellerId::new_at(now),
        ceiling: Money::usd(55_00),
        lifecycle,
        rounds: Vec::new(),
        agreed_price: Some(Money::usd(40_00)),
        seller_address: "abc123@sale.craigslist.invalid".into(),
        subject: listing.title.clone(),
        strategy_state: None,
        wake_at: None,
    };
    store.put(&listing).unwrap();
    store.put(&opportunity).unwrap();
    store.put(&negotiation).unwrap();
    negotiation.id
}

fn channel(store: &SledStore, marketplace: Marketplace) -> ChannelListing {
    let all: Vec<ChannelListing> = store
        .all::<ChannelListing>()
        .unwrap()
        .into_iter()
        .filter(|c| c.marketplace == marketplace)
        .collect();
    assert_eq!(all.len(), 1, "{marketplace}: {all:?}");
    all.into_iter().next().unwrap()
}

fn tasks(store: &SledStore, containing: &str) -> Vec<Approval> {
    store
        .all::<Approval>()
        .unwrap()
        .into_iter()
        .filter(|a| a.action.is_none() && a.summary.contains(containing))
        .collect()
}

fn books(store: &SledStore, kind: TransactionKind) -> Vec<Transaction> {
    store
        .all::<Transaction>()
        .unwrap()
        .into_iter()
        .filter(|t| t.kind == kind)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deal_is_bought_listed_sold_delisted_and_booked_once_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let market = market().await;

    // 1. The deal is bought and stocked, and listed on both channels.
    let system = start_system(dir.path(), &market).await;
    let negotiation = agreed_deal(&system.store);
    system
        .addrs
        .inventory
        .send(InventoryMsg::DealAgreed(negotiation))
        .unwrap();
    settle(&system).await;
    let store = &system.store;
    let purchase: Vec<ActionRecord> = store
        .find(
            ActionRecord::BY_IDEMPOTENCY_KEY,
            format!("purchase:{negotiation}").as_bytes(),
        )
        .unwrap();
    assert_eq!(purchase.len(), 1);
    assert_eq!(purchase[0].lifecycle.status, ActionStatus::Executed);
    assert_eq!(purchase[0].value, Some(Money::usd(40_00)));
    assert!(
        purchase[0].result.as_ref().unwrap()["note"]
            .as_str()
            .unwrap()
            .contains("pickup arranged with abc123@sale.craigslist.invalid for $40.00"),
        "{:?}",
        purchase[0].result
    );
    let items = store.all::<InventoryItem>().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.cost_basis, Money::usd(40_00));
    assert_eq!(item.images.len(), 15);
    assert_eq!(item.attributes["location"], "Oakland");
    assert_eq!(item.lifecycle.status, ItemStatus::Listed);
    assert_eq!(books(store, TransactionKind::Purchase).len(), 1);

    let ebay = channel(store, Marketplace::Ebay);
    assert_eq!(ebay.lifecycle.status, ChannelStatus::Live);
    assert_eq!(ebay.sku, item.id.to_string());
    let listing_id = ebay.external_id.clone().expect("ebay listing id");
    let live = market.sim.agent_listings();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].sku, ebay.sku);
    assert!(live[0].title.chars().count() <= 80, "{}", live[0].title);
    assert_eq!(live[0].price, ebay.price);
    assert!(ebay.price >= Money::usd(60_00), "{}", ebay.price);
    // Described in our words, not the previous owner's.
    let published = store
        .all::<bazaar_memory::ActionRecord>()
        .unwrap()
        .into_iter()
        .find(|a| a.kind == bazaar_memory::ActionKind::PublishListing)
        .expect("the publication");
    let description = published.params["description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(&item.title) && description.ends_with("Questions welcome."),
        "{description}"
    );
    assert!(
        item.description.is_empty() || !description.contains(item.description.trim()),
        "{description}"
    );
    // A buyer searching eBay finds it.
    let browse = EbayBrowse::new(
        market.api.clone(),
        quick(),
        SledStore::temporary().unwrap(),
        Arc::new(market.clock.clone()),
    )
    .unwrap();
    let seen = browse
        .fetch(&format!("v1|{listing_id}|0"))
        .await
        .unwrap_or_else(|e| panic!("browse: {e}"));
    assert_eq!(seen.price, ebay.price);

    let mercari = channel(store, Marketplace::Mercari);
    assert_eq!(mercari.lifecycle.status, ChannelStatus::AwaitingOperator);
    let list_tasks = tasks(store, "on mercari");
    assert_eq!(list_tasks.len(), 1, "{list_tasks:?}");
    assert!(list_tasks[0].reason.contains("Title: Bose SoundLink"));
    let item_id = item.id;

    // 2. A crash lost the record that the eBay listing went live; after a restart the
    //    Lister proposes it again, the gate answers with what it already did, and eBay
    //    still has one listing for the SKU.
    let mut rewound = ebay.clone();
    rewound.lifecycle = Lifecycle::new(ChannelStatus::Draft);
    rewound.external_id = None;
    store.put(&rewound).unwrap();
    system.shutdown(Duration::from_secs(10)).await.unwrap();
    let system = start_system(dir.path(), &market).await;
    settle(&system).await;
    let store = &system.store;
    let ebay = channel(store, Marketplace::Ebay);
    assert_eq!(ebay.lifecycle.status, ChannelStatus::Live);
    assert_eq!(ebay.external_id.as_deref(), Some(listing_id.as_str()));
    assert_eq!(market.sim.agent_listings().len(), 1);
    let publishes: Vec<ActionRecord> = store
        .find(
            ActionRecord::BY_IDEMPOTENCY_KEY,
            publish_key(item_id, Marketplace::Ebay).as_bytes(),
        )
        .unwrap();
    assert_eq!(publishes.len(), 1);
    assert_eq!(
        store.all::<InventoryItem>().unwrap().len(),
        1,
        "bought once"
    );
    assert_eq!(tasks(store, "on mercari").len(), 1, "one listing task");

    // The operator lists it on Mercari.
    system
        .addrs
        .lister
        .send(ListerMsg::Confirm {
            channel_listing: mercari.id,
            url: "https://www.mercari.com/us/item/m123/".into(),
        })
        .unwrap();
    settle(&system).await;
    assert_eq!(
        channel(store, Marketplace::Mercari).lifecycle.status,
        ChannelStatus::Live
    );

    // 3. A buyer buys on eBay; the poll on the clock finds the order.
    let sale = market.sim.buy(&listing_id, "buyer_one").await.unwrap();
    assert!(!sale.oversold);
    market.clock.advance_by(POLL);
    settle(&system).await;
    let item = store.get::<InventoryItem>(&item_id).unwrap().unwrap();
    assert_eq!(item.lifecycle.status, ItemStatus::Sold);
    assert_eq!(
        channel(store, Marketplace::Ebay).lifecycle.status,
        ChannelStatus::Sold
    );
    let sales = books(store, TransactionKind::Sale);
    assert_eq!(sales.len(), 1);
    assert_eq!(sales[0].amount, sale.total);
    let fees = books(store, TransactionKind::Fee);
    assert_eq!(fees.len(), 1);
    // eBay's final value fee: 13.25 % + $0.30, as the sim charges.
    assert_eq!(
        fees[0].amount.minor,
        (sale.total.minor * 1_325 + 5_000) / 10_000 + 30
    );
    assert_eq!(books(store, TransactionKind::Shipping).len(), 1);
    // Mercari has no API: an urgent task, and the listing counts as withdrawn.
    let urgent = tasks(store, "URGENT: take");
    assert_eq!(urgent.len(), 1, "{urgent:?}");
    assert!(urgent[0].summary.contains("mercari"));
    assert_eq!(urgent[0].lifecycle.status, ApprovalStatus::Pending);
    assert_eq!(
        channel(store, Marketplace::Mercari).lifecycle.status,
        ChannelStatus::Withdrawn
    );

    // 4. Another poll and a restart change nothing.
    system
        .addrs
        .inventory
        .send(InventoryMsg::PollOrders)
        .unwrap();
    settle(&system).await;
    system.shutdown(Duration::from_secs(10)).await.unwrap();
    let system = start_system(dir.path(), &market).await;
    settle(&system).await;
    let store = &system.store;
    assert_eq!(store.all::<Order>().unwrap().len(), 1);
    assert_eq!(books(store, TransactionKind::Sale).len(), 1);
    assert_eq!(tasks(store, "URGENT: take").len(), 1);

    // 5. The eBay listing that sold was ended too: a second buyer cannot buy it.
    let second = market.sim.buy(&listing_id, "buyer_two").await;
    assert!(second.is_err(), "{second:?}");
    assert!(market.sim.oversells().is_empty());
    assert_eq!(store.all::<Order>().unwrap().len(), 1);
    assert_eq!(books(store, TransactionKind::Sale).len(), 1, "booked once");

    // An operator reporting a sale on Mercari too is an oversell, raised once.
    system
        .addrs
        .inventory
        .send(InventoryMsg::Sold(Box::new(Sale {
            listing: SoldListing::Sku {
                marketplace: Marketplace::Mercari,
                sku: item_id.to_string(),
            },
            order: "m-777".into(),
            buyer: None,
            total: None,
            at: None,
            notified: None,
        })))
        .unwrap();
    settle(&system).await;
    let oversells = tasks(store, "URGENT oversell");
    assert_eq!(oversells.len(), 1, "{oversells:?}");
    assert!(oversells[0].summary.contains("m-777"), "{oversells:?}");
    assert!(
        market.sim.agent_listings().is_empty(),
        "ended and never listed again"
    );
    let fee = books(store, TransactionKind::Fee)[0].amount.minor;
    let postage = books(store, TransactionKind::Shipping)[0].amount.minor;
    system.shutdown(Duration::from_secs(10)).await.unwrap();

    // 6. The operator reads the books from the command line.
    let inventory = bazaar(dir.path(), &["inventory"]);
    assert!(inventory.status.success(), "{inventory:?}");
    let listed = text(&inventory.stdout);
    assert!(listed.contains(&item_id.to_string()), "{listed}");
    assert!(
        listed.contains("sold") && listed.contains("$40.00"),
        "{listed}"
    );
    assert!(listed.contains("ebay:sold@"), "{listed}");
    let none = bazaar(dir.path(), &["inventory", "--status", "in_stock"]);
    assert!(none.status.success());
    assert!(text(&none.stdout).is_empty());
    assert!(text(&none.stderr).contains("no items"));
    let bad = bazaar(dir.path(), &["inventory", "--status", "lost"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("unknown status \"lost\""),
        "{}",
        text(&bad.stderr)
    );
    let pnl = bazaar(dir.path(), &["pnl"]);
    assert!(pnl.status.success(), "{pnl:?}");
    let report = text(&pnl.stdout);
    let profit = sale.total.minor - 40_00 - fee - postage;
    let total = report
        .lines()
        .find(|l| l.starts_with("total"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        total.contains(&Money::usd(profit).to_string()),
        "{total} (profit {profit})"
    );
    assert!(total.contains(&sale.total.to_string()), "{total}");
    // Everything bought was sold: the accrual line matches the cash total, no stock held.
    let sold = report
        .lines()
        .find(|l| l.starts_with("sold"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(
        sold.contains(&Money::usd(profit).to_string()) && sold.contains("$0.00 of stock held"),
        "{sold}"
    );
    // Nothing was booked after the sale.
    let later = bazaar(dir.path(), &["pnl", "--since", "2026-03-03T00:00:00Z"]);
    let later = text(&later.stdout);
    assert!(
        later
            .lines()
            .any(|l| l.starts_with("total") && l.contains("$0.00")),
        "{later}"
    );
}

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

/// A buyer with a mailbox at the sim's post office.
struct Buyer {
    address: String,
    transport: Arc<dyn MailTransport>,
    sent: usize,
}

impl Buyer {
    async fn write(&mut self, to: &str, subject: &str, text: &str, parent: Option<&MailMessage>) {
        self.sent += 1;
        let id = MessageId::derive(&format!("{}:{}", self.address, self.sent), "example.com");
        let now = start_time();
        let mail = match parent {
            Some(parent) => OutgoingMail::reply_to(parent, &self.address, text, id, now),
            None => OutgoingMail::new(&self.address, to, subject, text, id, now),
        };
        self.transport.send(&mail).await.unwrap();
    }

    /// Every mail the buyer received so far, oldest first.
    async fn inbox(&self) -> Vec<MailMessage> {
        self.transport.fetch_new(None, 100).await.unwrap().messages
    }
}

/// Advances the clock a minute at a time until the buyer holds `count` mails.
async fn answered(
    system: &System,
    market: &Market,
    buyer: &Buyer,
    count: usize,
) -> Vec<MailMessage> {
    for _ in 0..30 {
        settle(system).await;
        let inbox = buyer.inbox().await;
        if inbox.len() >= count {
            return inbox;
        }
        market.clock.advance_by(Duration::from_secs(60));
    }
    panic!("the buyer got no answer: {:?}", buyer.inbox().await);
}

fn answers(store: &SledStore, message_id: &MailMessage) -> Vec<ActionRecord> {
    let id = message_id.envelope.message_id.as_ref().unwrap();
    store
        .find(
            ActionRecord::BY_IDEMPOTENCY_KEY,
            offer_key(id.as_str()).as_bytes(),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autopilot_answers_buyer_offers_and_lowers_prices_that_do_not_sell() {
    let dir = tempfile::tempdir().unwrap();
    let market = market().await;
    let office = PostOffice::new();
    let agent_address = "agent@bazaar.test";
    office.create_mailbox(agent_address).unwrap();
    office.create_mailbox("pat@example.com").unwrap();
    let agent: Arc<dyn MailTransport> = Arc::new(office.transport(agent_address).unwrap());
    let mut buyer = Buyer {
        address: "pat@example.com".into(),
        transport: Arc::new(office.transport("pat@example.com").unwrap()),
        sent: 0,
    };
    let system = start_system_with_mail(dir.path(), &market, Some(agent.clone())).await;
    let negotiation = agreed_deal(&system.store);
    system
        .addrs
        .inventory
        .send(InventoryMsg::DealAgreed(negotiation))
        .unwrap();
    settle(&system).await;
    let ebay = channel(&system.store, Marketplace::Ebay);
    assert_eq!(ebay.lifecycle.status, ChannelStatus::Live);
    let asking = ebay.price;
    let listing_id = ebay.external_id.clone().unwrap();
    let subject = format!("Offer on eBay item {listing_id}: Bose SoundLink Mini II");

    // 1. An offer at 80 % of asking draws a counter between the two, exactly once.
    let offered = Money::usd(asking.minor / 100 * 80);
    buyer
        .write(
            agent_address,
            &subject,
            &format!("Hi! Would you take {offered}? I can pay today."),
            None,
        )
        .await;
    let inbox = answered(&system, &market, &buyer, 1).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    let counter = &inbox[0];
    let offer_mail = {
        let mails = office
            .transport(agent_address)
            .unwrap()
            .fetch_new(None, 10)
            .await
            .unwrap();
        mails.messages.into_iter().next().unwrap()
    };
    assert_eq!(counter.envelope.in_reply_to, offer_mail.envelope.message_id);
    let records = answers(&system.store, &offer_mail);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].kind, ActionKind::CounterOffer);
    assert_eq!(records[0].lifecycle.status, ActionStatus::Executed);
    let counter_price = records[0].value.unwrap();
    assert!(
        counter_price > offered && counter_price < asking,
        "{offered} < {counter_price} < {asking}"
    );
    assert!(
        counter.text.contains(&counter_price.to_string()),
        "{}",
        counter.text
    );

    // 2. "ok deal" to the counter accepts our last price.
    buyer
        .write(agent_address, "", "ok deal", Some(counter))
        .await;
    let inbox = answered(&system, &market, &buyer, 2).await;
    let yes = &inbox[1];
    assert!(
        yes.text.contains(&counter_price.to_string()),
        "{}",
        yes.text
    );
    assert!(
        yes.envelope.references.len() >= 2,
        "{:?}",
        yes.envelope.references
    );
    let accepted: Vec<ActionRecord> = system
        .store
        .all::<ActionRecord>()
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == ActionKind::AcceptOffer)
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].value, Some(counter_price));

    // 3. A lowball (under 60 %) is declined without a price.
    let mut lowball = Buyer {
        address: "sam@example.com".into(),
        transport: {
            office.create_mailbox("sam@example.com").unwrap();
            Arc::new(office.transport("sam@example.com").unwrap())
        },
        sent: 0,
    };
    lowball
        .write(
            agent_address,
            &subject,
            &format!("{} cash?", Money::usd(asking.minor / 100 * 40)),
            None,
        )
        .await;
    let inbox = answered(&system, &market, &lowball, 1).await;
    assert!(!inbox[0].text.contains('$'), "{}", inbox[0].text);

    // 4. A week unsold: the price comes down 5 % on eBay, once per look, through the gate;
    //    the buyer watching it gets an offer under the new price, once.
    market.sim.add_interest(&listing_id, "watcher_one").unwrap();
    market.clock.advance_by(Duration::from_secs(8 * 86_400));
    system.addrs.autopilot.send(AutopilotMsg::Tick).unwrap();
    settle(&system).await;
    system.addrs.autopilot.send(AutopilotMsg::Tick).unwrap();
    settle(&system).await;
    let lowered = channel(&system.store, Marketplace::Ebay).price;
    let expected = (asking.minor * 95 / 100 + 99) / 100 * 100;
    assert_eq!(lowered, Money::usd(expected), "from {asking}");
    let live = market.sim.agent_listings();
    assert_eq!(live[0].price, lowered);
    let revisions = |store: &SledStore| {
        store
            .all::<ActionRecord>()
            .unwrap()
            .into_iter()
            .filter(|a| a.kind == ActionKind::RevisePrice)
            .count()
    };
    assert_eq!(revisions(&system.store), 1);
    let to_watchers = market.sim.seller_offers();
    assert_eq!(to_watchers.len(), 1, "{to_watchers:?}");
    assert_eq!(to_watchers[0].buyer, "watcher_one");
    let offered_to_watchers = to_watchers[0].price.unwrap();
    assert!(
        offered_to_watchers.minor <= lowered.minor * 95 / 100,
        "{offered_to_watchers} vs {lowered}"
    );

    // 5. After a restart the history holds: no second drop until three days later.
    system.shutdown(Duration::from_secs(10)).await.unwrap();
    let system = start_system_with_mail(dir.path(), &market, Some(agent)).await;
    settle(&system).await;
    assert_eq!(revisions(&system.store), 1);
    assert_eq!(buyer.inbox().await.len(), 2, "no offer answered twice");
    market.clock.advance_by(Duration::from_secs(3 * 86_400));
    system.addrs.autopilot.send(AutopilotMsg::Tick).unwrap();
    settle(&system).await;
    assert_eq!(revisions(&system.store), 2);
    assert!(channel(&system.store, Marketplace::Ebay).price < lowered);

    // 6. Three weeks live unsold: ended and listed afresh on eBay (a new listing id), once.
    market.clock.advance_by(Duration::from_secs(11 * 86_400));
    for _ in 0..2 {
        system.addrs.autopilot.send(AutopilotMsg::Tick).unwrap();
        settle(&system).await;
    }
    let relisted = channel(&system.store, Marketplace::Ebay);
    assert_eq!(relisted.lifecycle.status, ChannelStatus::Live);
    let live = market.sim.agent_listings();
    assert_eq!(live.len(), 1, "{live:?}");
    assert_ne!(live[0].listing_id, listing_id, "a fresh listing");
    assert_eq!(
        relisted.external_id.as_deref(),
        Some(live[0].listing_id.as_str())
    );
    let relists = system
        .store
        .all::<ActionRecord>()
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == ActionKind::Relist && a.lifecycle.status == ActionStatus::Executed)
        .count();
    assert_eq!(relists, 1);

    // 7. Sixty days after it was first listed: it comes down everywhere and is archived.
    market.clock.advance_by(Duration::from_secs(39 * 86_400));
    system.addrs.autopilot.send(AutopilotMsg::Tick).unwrap();
    settle(&system).await;
    assert!(
        market.sim.agent_listings().is_empty(),
        "withdrawn from eBay"
    );
    let store = &system.store;
    assert_eq!(
        channel(store, Marketplace::Ebay).lifecycle.status,
        ChannelStatus::Withdrawn
    );
    assert_eq!(
        channel(store, Marketplace::Mercari).lifecycle.status,
        ChannelStatus::Withdrawn
    );
    assert_eq!(tasks(store, "down on mercari: unsold").len(), 1);
    let items = store.all::<InventoryItem>().unwrap();
    assert_eq!(items[0].lifecycle.status, ItemStatus::Archived);
    system.shutdown(Duration::from_secs(10)).await.unwrap();
}

fn bazaar(data_dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(BAZAAR)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("bazaar runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
