//! The world driver: one scenario and one seed brought to life on simulated time.
//!
//! [`World::start`] builds the population (other people's listings on the Craigslist-style
//! site, the JavaScript marketplace and eBay, each with a hidden market value, a reserve and
//! a personality), starts the servers (eBay API, sites, OpenAI-compatible endpoint) and the
//! mail side, and then moves only when it is told to: [`World::run_until`] reads the mail
//! that reached sellers and buyers, answers it on each one's own schedule, and plays the
//! scheduled events (postings, price drops, sales elsewhere, buyers' demand for the agent's
//! eBay listings) in time order, advancing the shared [`SimClock`] to each.
//!
//! Everything random is drawn from the seed, and per-thread choices from a generator keyed by
//! the thread, so the same scenario and seed give the same event log byte for byte whatever
//! order the mail arrives in. What the agent must never see — market values, reserves,
//! deals, sales, oversells — goes to the ground truth ([`World::ground_truth`]), not to any
//! endpoint.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bazaar_memory::{Clock, Currency, Money, SimClock};
use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::ebay::{CatalogListing, EbayConfig, EbaySim};
use crate::journal::{Entry, Journal, JournalError};
use crate::llm::{self, LlmConfig, LlmSim};
use crate::mail::{
    parse_address, FetchBatch, HighWaterMark, InProcessTransport, MailError, MailFuture,
    MailMessage, MailTransport, MessageId, OutgoingMail, PostOffice,
};
use crate::scenario::Scenario;
use crate::sellers::{phrasebook, Decision, Personality, SellerMind, SellerProfile};
use crate::sites::{Category, ListingGenerator, Site, SiteListing, Sites};

/// Waits until the agent has acted on what the world just pushed to it (see
/// [`World::set_settle`]).
pub type Settle =
    Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send + Sync>;

/// How the world's people get their mail.
pub enum WorldMail {
    /// An in-process [`PostOffice`]: a mailbox for the agent, one per seller, one per buyer.
    InProcess,
    /// Real accounts on a mail server: the agent's address is the scenario's, and the first
    /// listings on the Craigslist-style site (in id order, those posted before the start)
    /// take these sellers' addresses as their reply addresses, one each. Other sellers'
    /// addresses have no mailbox there, and buyers do not write.
    Accounts {
        /// One transport per seller account.
        sellers: Vec<Arc<dyn MailTransport>>,
    },
    /// A real mail server that delivers every address of `domain` but the agent's to one
    /// account (a catch-all: `mail-server.sh` with `BAZAAR_MAIL_CATCHALL`). Every seller's
    /// reply address and every buyer's address is at `domain`; the world reads the one
    /// mailbox, hands each message to the person it is addressed to, and sends as them
    /// through the same account.
    CatchAll {
        /// The catch-all account.
        transport: Arc<dyn MailTransport>,
        /// The server's domain.
        domain: String,
    },
}

/// What [`World::start`] needs.
pub struct WorldConfig {
    pub scenario: Scenario,
    /// The seed (the scenario's own when `None`).
    pub seed: Option<u64>,
    /// The mail side.
    pub mail: WorldMail,
    /// Where `events.jsonl` is written as the world runs (kept in memory only when `None`).
    pub event_log: Option<PathBuf>,
    /// The write-ahead journal of the agent's inputs (see [`crate::journal`]): when the file
    /// holds entries, the world plays them back before it returns from [`World::start`].
    /// In-process mail only.
    pub journal: Option<PathBuf>,
}

impl WorldConfig {
    /// A scenario with its own seed, in-process mail and no log file.
    pub fn new(scenario: Scenario) -> WorldConfig {
        WorldConfig {
            scenario,
            seed: None,
            mail: WorldMail::InProcess,
            event_log: None,
            journal: None,
        }
    }
}

/// Where the world can be reached.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoints {
    /// The eBay API root (`http://127.0.0.1:<port>`).
    pub ebay: String,
    /// eBay's OAuth client id.
    pub ebay_client_id: String,
    /// eBay's OAuth client secret.
    pub ebay_client_secret: String,
    /// The Craigslist-style site's root.
    pub craigslist: String,
    /// The JavaScript marketplace's root.
    pub marketplace: String,
    /// The OpenAI-compatible base URL (`…/v1`).
    pub llm: String,
    /// The API key the LLM endpoint wants.
    pub llm_api_key: String,
    /// The agent's mail address.
    pub agent_mail: String,
}

/// Why the world could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// A server could not bind 127.0.0.1.
    #[error("cannot start the {what} server: {source}")]
    Server {
        /// Which one.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// Mail failed (a real server went away, an address was refused).
    #[error("mail: {0}")]
    Mail(#[from] MailError),
    /// The journal could not be read, written or played back.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The event log or ground truth could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Where a listing is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Venue {
    Craigslist,
    Marketplace,
    Ebay,
}

/// Another person's listing and the hidden facts behind it.
#[derive(Debug, Clone)]
struct Listing {
    venue: Venue,
    /// Site id, or the eBay item id once posted.
    id: String,
    title: String,
    category: Category,
    asking: Money,
    market_value: Money,
    reserve: Money,
    personality: Personality,
    posted_at: DateTime<Utc>,
    /// The seller's address (site listings only).
    reply_address: Option<String>,
    /// What the sites show (site listings only).
    page: Option<SiteListing>,
    /// Gone: sold to someone else, or to whoever agreed a deal.
    closed: bool,
    /// When it sold to someone else (not to the agent).
    sold_elsewhere_at: Option<DateTime<Utc>>,
    /// Scripted by a test: never sells to someone else.
    scripted: bool,
    threads: BTreeMap<String, SellerMind>,
}

/// The one mailbox of a catch-all server, read for everyone.
struct CatchAllInbox {
    transport: Arc<dyn MailTransport>,
    mark: Option<HighWaterMark>,
}

/// One mailbox the world reads.
struct Mailbox {
    address: String,
    owner: Owner,
    transport: Arc<dyn MailTransport>,
    mark: Option<HighWaterMark>,
    seen: usize,
    sent: u64,
}

#[derive(Debug, Clone)]
enum Owner {
    /// The seller of this listing (key into `listings`).
    Seller(usize),
    /// A buyer who offered on an agent listing.
    Buyer(usize),
}

/// A buyer's best offer on one of the agent's eBay listings, made by email.
#[derive(Debug, Clone)]
struct BuyerOffer {
    buyer: String,
    listing_id: String,
    title: String,
    offered: Money,
    /// The most they would pay.
    ceiling: Money,
    done: bool,
}

#[derive(Debug, Clone)]
enum Event {
    /// A listing shows up (site listings show by themselves; eBay ones are added now).
    Post(usize),
    PriceDrop(usize),
    SoldElsewhere(usize),
    /// Mail written earlier goes out now (the writer's reply delay).
    Send {
        mailbox: usize,
        mail: OutgoingMail,
    },
    /// Buyers look at every agent listing once a day.
    Demand,
    /// A buyer buys an agent listing (at the listed price when `price` is `None`).
    Purchase {
        listing_id: String,
        buyer: String,
        price: Option<Money>,
    },
    /// A buyer writes to the agent with a best offer.
    BestOffer {
        listing_id: String,
    },
}

#[derive(Debug)]
struct Scheduled {
    at: DateTime<Utc>,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// The event log: JSON lines, in memory and optionally on disk.
struct EventLog {
    lines: Vec<String>,
    file: Option<(PathBuf, BufWriter<File>)>,
}

impl EventLog {
    fn push(
        &mut self,
        at: DateTime<Utc>,
        event: &str,
        mut fields: Value,
    ) -> Result<(), WorldError> {
        if let Value::Object(map) = &mut fields {
            map.insert("at".into(), json!(at.to_rfc3339()));
            map.insert("event".into(), json!(event));
        }
        let line = fields.to_string();
        if let Some((path, file)) = &mut self.file {
            writeln!(file, "{line}").map_err(|source| WorldError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        self.lines.push(line);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), WorldError> {
        if let Some((path, file)) = &mut self.file {
            file.flush().map_err(|source| WorldError::Write {
                path: path.display().to_string(),
                source,
            })?;
        }
        Ok(())
    }
}

/// The running world.
pub struct World {
    scenario: Scenario,
    seed: u64,
    clock: SimClock,
    ebay: EbaySim,
    sites: Sites,
    llm: LlmSim,
    post_office: Option<PostOffice>,
    /// The catch-all account every person's mail arrives in (see [`WorldMail::CatchAll`]).
    catch_all: Option<CatchAllInbox>,
    /// Changes whenever the post office delivers: no change, nothing new to read.
    deliveries: Option<tokio::sync::watch::Receiver<u64>>,
    listings: Vec<Listing>,
    mailboxes: Vec<Mailbox>,
    by_address: BTreeMap<String, usize>,
    buyer_offers: Vec<BuyerOffer>,
    queue: BinaryHeap<Reverse<Scheduled>>,
    next_seq: u64,
    rng: StdRng,
    log: EventLog,
    /// The agent's eBay listings: when the world first saw each.
    agent_seen: BTreeMap<String, DateTime<Utc>>,
    seller_offers_seen: usize,
    truth: Truth,
    end: DateTime<Utc>,
    /// Events started so far (the journal places the agent's inputs between them).
    started: u64,
    /// See [`World::resume_until`].
    resume_until: Option<DateTime<Utc>>,
    settle: Option<Settle>,
    journal: Option<Arc<Journal>>,
}

/// What the agent must never see, for evaluation after the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    /// Deals sellers agreed to, in order.
    pub deals: Vec<TruthDeal>,
    /// Purchases of the agent's listings, in order.
    pub sales: Vec<TruthSale>,
    /// Sales of units that were no longer there.
    pub oversells: Vec<TruthOversell>,
}

/// A seller agreed to sell.
#[derive(Debug, Clone, Serialize)]
pub struct TruthDeal {
    /// When.
    pub at: DateTime<Utc>,
    /// Which listing (site id).
    pub listing: String,
    /// Who bought (the address that wrote).
    pub buyer: String,
    /// The agreed total, decimal string.
    pub price: String,
    /// The asking price.
    pub asking: String,
    /// The seller's reserve.
    pub reserve: String,
    /// What it is really worth.
    pub market_value: String,
}

/// A buyer bought one of the agent's listings.
#[derive(Debug, Clone, Serialize)]
pub struct TruthSale {
    /// When.
    pub at: DateTime<Utc>,
    /// The eBay listing.
    pub listing_id: String,
    /// The order.
    pub order_id: String,
    /// Who.
    pub buyer: String,
    /// What they paid.
    pub price: String,
    /// The world's idea of the item's market value.
    pub market_value: String,
}

/// An oversell.
#[derive(Debug, Clone, Serialize)]
pub struct TruthOversell {
    /// When.
    pub at: DateTime<Utc>,
    /// The eBay listing.
    pub listing_id: String,
    /// The order that could not be filled.
    pub order_id: String,
}

/// A tally of what happened, for progress lines, tests and `report.json` (fields in
/// alphabetical order, the order the report has always had).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Deals sellers agreed.
    pub deals: usize,
    /// Events played.
    pub events: usize,
    /// Mail the world's people received.
    pub mail_received: usize,
    /// Mail they sent.
    pub mail_sent: usize,
    pub oversells: usize,
    /// Agent listings bought.
    pub sales: usize,
}

/// The sellers' mailboxes (and the agent's, in process): a post office in this process, or
/// the accounts of a real mail server handed to the sellers of the first Craigslist
/// listings.
fn open_mailboxes(
    mail: WorldMail,
    scenario: &Scenario,
    listings: &mut [Listing],
) -> Result<OpenMailboxes, WorldError> {
    let mut post_office = None;
    let mut catch_all = None;
    let mut mailboxes = Vec::new();
    match mail {
        WorldMail::InProcess => {
            let office = PostOffice::new();
            office.create_mailbox(&scenario.mail.agent)?;
            for (index, listing) in listings.iter().enumerate() {
                let Some(address) = &listing.reply_address else {
                    continue;
                };
                office.create_mailbox(address)?;
                mailboxes.push(Mailbox::new(
                    address.clone(),
                    Owner::Seller(index),
                    Arc::new(office.transport(address)?),
                ));
            }
            post_office = Some(office);
        }
        WorldMail::Accounts { sellers } => {
            let mut ordered: Vec<usize> = (0..listings.len())
                .filter(|&i| {
                    listings[i].venue == Venue::Craigslist
                        && listings[i].posted_at <= scenario.start
                })
                .collect();
            ordered.sort_by(|a, b| listings[*a].id.cmp(&listings[*b].id));
            for (index, transport) in ordered.into_iter().zip(sellers) {
                let address = parse_address(transport.address())?;
                listings[index].reply_address = Some(address.clone());
                mailboxes.push(Mailbox::new(address, Owner::Seller(index), transport));
            }
        }
        WorldMail::CatchAll { transport, .. } => {
            // The population was drawn with the server's domain (see `World::start`).
            for (index, listing) in listings.iter().enumerate() {
                if let Some(address) = &listing.reply_address {
                    mailboxes.push(Mailbox::new(
                        address.clone(),
                        Owner::Seller(index),
                        transport.clone(),
                    ));
                }
            }
            catch_all = Some(CatchAllInbox {
                transport,
                mark: None,
            });
        }
    }
    Ok(OpenMailboxes {
        post_office,
        catch_all,
        mailboxes,
    })
}

/// What [`open_mailboxes`] opened.
struct OpenMailboxes {
    post_office: Option<PostOffice>,
    catch_all: Option<CatchAllInbox>,
    mailboxes: Vec<Mailbox>,
}

/// A multi-variation group whose dearest variant is the item posted at `asking` and whose
/// cheaper, lesser variants come first, so search shows the cheapest one's price: the trap
/// real eBay searches set (an "iPhone SE 16/32/64/128GB" at the 16 GB price).
fn variation_group(asking: Money) -> Vec<crate::ebay::Variation> {
    [("Basic", 55), ("Standard", 75), ("Complete", 100)]
        .into_iter()
        .map(|(option, percent)| crate::ebay::Variation {
            aspects: vec![("Option".to_string(), option.to_string())],
            price: Money::new(
                round_dollars(asking.minor * percent / 100).max(100),
                asking.currency,
            ),
        })
        .collect()
}

impl World {
    /// Builds the population and starts every server on 127.0.0.1.
    pub async fn start(config: WorldConfig) -> Result<World, WorldError> {
        let WorldConfig {
            mut scenario,
            seed,
            mail,
            event_log,
            journal,
        } = config;
        let seed = seed.unwrap_or(scenario.seed);
        let clock = SimClock::new(scenario.start);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let server = |what| move |source| WorldError::Server { what, source };

        let ebay_config = EbayConfig {
            seed,
            ..EbayConfig::default()
        };
        let (ebay, _) = EbaySim::start(ebay_config, shared.clone())
            .await
            .map_err(server("ebay"))?;
        let llm = LlmSim::start(LlmConfig {
            seed,
            api_key: "sk-sim".into(),
            created: scenario.start.timestamp(),
        })
        .await
        .map_err(server("llm"))?;

        if let WorldMail::CatchAll { domain, .. } = &mail {
            scenario.mail.reply_domain = domain.clone();
            scenario.mail.buyer_domain = domain.clone();
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let end = scenario.start + Duration::days(i64::from(scenario.days));
        let mut listings = population(&scenario, seed, &mut rng);

        let OpenMailboxes {
            post_office,
            catch_all,
            mailboxes,
        } = open_mailboxes(mail, &scenario, &mut listings)?;
        let site_listings: Vec<SiteListing> = listings.iter().filter_map(site_listing).collect();
        let sites_config = crate::sites::SitesConfig {
            craigslist_captcha_permille: scenario.sellers.craigslist_captcha_permille,
            craigslist_script_reply_permille: scenario.sellers.craigslist_script_reply_permille,
            craigslist_phone_only_permille: scenario.sellers.craigslist_phone_only_permille,
            ..crate::sites::SitesConfig::default()
        };
        let (sites, _) = Sites::start_with(sites_config, site_listings, shared.clone())
            .await
            .map_err(server("sites"))?;

        let file = match event_log {
            Some(path) => {
                let file = File::create(&path).map_err(|source| WorldError::Write {
                    path: path.display().to_string(),
                    source,
                })?;
                Some((path, BufWriter::new(file)))
            }
            None => None,
        };
        let by_address = mailboxes
            .iter()
            .enumerate()
            .map(|(i, m)| (m.address.clone(), i))
            .collect();
        let mut world = World {
            seed,
            clock,
            ebay,
            sites,
            llm,
            deliveries: post_office.as_ref().map(PostOffice::subscribe),
            post_office,
            catch_all,
            listings,
            mailboxes,
            by_address,
            buyer_offers: Vec::new(),
            queue: BinaryHeap::new(),
            next_seq: 0,
            rng,
            log: EventLog {
                lines: Vec::new(),
                file,
            },
            agent_seen: BTreeMap::new(),
            seller_offers_seen: 0,
            truth: Truth::default(),
            end,
            scenario,
            started: 0,
            resume_until: None,
            settle: None,
            journal: None,
        };
        world.log.push(
            world.scenario.start,
            "start",
            json!({
                "scenario": world.scenario.name,
                "seed": seed,
                "days": world.scenario.days,
                "listings": world.listings.len(),
            }),
        )?;
        world.schedule_population();
        if let Some(path) = journal {
            world.open_journal(&path).await?;
        }
        Ok(world)
    }

    /// Opens the journal, plays back what it holds, and records from then on.
    async fn open_journal(&mut self, path: &std::path::Path) -> Result<(), WorldError> {
        let (journal, entries) = Journal::open(path)?;
        let journal = Arc::new(journal);
        let header = Entry::Header {
            scenario: self.scenario.name.clone(),
            seed: self.seed,
            days: self.scenario.days,
        };
        let describe = |e: &Entry| match e {
            Entry::Header {
                scenario,
                seed,
                days,
            } => format!("{scenario} (seed {seed}, {days} days)"),
            _ => "no header".to_string(),
        };
        match entries.first() {
            None => journal.record(&header)?,
            Some(first) if *first == header => {}
            Some(first) => {
                return Err(JournalError::OtherWorld {
                    path: path.display().to_string(),
                    found: describe(first),
                    wanted: describe(&header),
                }
                .into())
            }
        }
        self.ebay.set_journal(journal.clone());
        self.journal = Some(journal.clone());
        journal.set_replaying(true);
        let replayed = self.replay(entries).await;
        journal.set_replaying(false);
        replayed
    }

    /// Plays the journal's entries back: the same inputs at the same points between the
    /// world's events give the same world. It stops where the last input was: what the world
    /// played after that, nobody saw (or a push reached an agent that died before it
    /// acted), so the world plays it again, live, in the step [`World::resume_until`] names.
    async fn replay(&mut self, entries: Vec<Entry>) -> Result<(), WorldError> {
        let mut advancing = None;
        for entry in entries.into_iter().skip(1) {
            match entry {
                // Read by the eBay server as it plays the request back.
                Entry::Header { .. } | Entry::Challenge { .. } => {}
                Entry::Advance { until, started } => {
                    self.play_to(started, advancing).await?;
                    advancing = Some(until);
                    self.pump_mail().await?;
                }
                Entry::Http {
                    at,
                    started,
                    method,
                    uri,
                    headers,
                    body,
                } => {
                    self.play_to(started, advancing).await?;
                    self.clock.set_time(at);
                    let body = Entry::decode(&body);
                    if let Err(error) = self.ebay.replay(&method, &uri, &headers, body).await {
                        tracing::warn!(%error, %uri, "a journaled eBay request failed to replay");
                    }
                }
                Entry::Mail {
                    at,
                    started,
                    recipients,
                    raw,
                } => {
                    self.play_to(started, advancing).await?;
                    self.clock.set_time(at);
                    if let Some(office) = &self.post_office {
                        // A refused recipient was refused the first time too.
                        let _ = office.deliver(&recipients, Entry::decode(&raw));
                    }
                }
                Entry::Consent { scopes } => {
                    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                    self.ebay.authorization_code(&scopes);
                }
            }
        }
        self.resume_until = advancing;
        Ok(())
    }

    /// Plays events until `started` have started (none past `until`, the step they were
    /// played in): where a journaled input arrived.
    async fn play_to(
        &mut self,
        started: u64,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), WorldError> {
        if let Some(until) = until {
            while self.started < started && self.next_event_at().is_some_and(|t| t <= until) {
                self.play_next().await?;
            }
        }
        if self.started != started {
            // A bug: the world played back is not the world that was.
            tracing::warn!(
                journal = started,
                world = self.started,
                "the world's journal plays back differently"
            );
        }
        Ok(())
    }

    /// After each sale notification the agent received, the world waits on `settle` before
    /// it plays on: a push is the one way the agent acts in the middle of the world's step,
    /// and without the wait the world would race ahead in simulated time (a second buyer a
    /// simulated minute later finding the listing up while the agent, a millisecond later,
    /// is taking it down).
    pub fn set_settle(&mut self, settle: Settle) {
        self.settle = Some(settle);
    }

    /// The end of the step a stopped run was in, when the world played its journal back
    /// to the middle of it: run the world to there first to keep its steps on the hour.
    pub fn resume_until(&self) -> Option<DateTime<Utc>> {
        self.resume_until.filter(|until| *until > self.clock.now())
    }

    /// The agent's own mail transport: what it sends is journaled before it is delivered
    /// when the world keeps a journal. `None` without an in-process post office.
    pub fn agent_transport(&self) -> Result<Option<Arc<dyn MailTransport>>, WorldError> {
        let Some(office) = &self.post_office else {
            return Ok(None);
        };
        let inner = office.transport(&self.scenario.mail.agent)?;
        Ok(Some(match &self.journal {
            None => Arc::new(inner),
            Some(journal) => Arc::new(JournaledTransport {
                inner,
                journal: journal.clone(),
                clock: self.clock.clone(),
            }),
        }))
    }

    /// The addresses to point the agent at.
    pub fn endpoints(&self) -> Endpoints {
        let ebay = EbayConfig::default();
        Endpoints {
            ebay: self.ebay.base_url().to_string(),
            ebay_client_id: ebay.client_id,
            ebay_client_secret: ebay.client_secret,
            craigslist: self.sites.craigslist_url(),
            marketplace: self.sites.marketplace_url(),
            llm: self.llm.base_url(),
            llm_api_key: "sk-sim".into(),
            agent_mail: self.scenario.mail.agent.clone(),
        }
    }

    /// The shared simulated clock (give it to the agent).
    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    /// The simulated time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The relay address a Craigslist posting's reply page gives a person (who can solve its
    /// captcha), by post id.
    pub fn craigslist_reply_address(&self, post_id: u64) -> Option<String> {
        self.sites
            .get(post_id)
            .filter(|e| e.listing.site == Site::Craigslist)
            .map(|e| e.listing.reply_address)
    }

    /// The simulated eBay, for tests that act as the agent's buyers or inspect it.
    pub fn ebay(&self) -> &EbaySim {
        &self.ebay
    }

    /// The in-process post office (`None` with real accounts).
    pub fn post_office(&self) -> Option<&PostOffice> {
        self.post_office.as_ref()
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The seed in use.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// When a full run ends (start + the scenario's days).
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// The event log so far, one JSON object per line.
    pub fn event_log(&self) -> &[String] {
        &self.log.lines
    }

    /// When the next scheduled event is due (mail not yet read is not counted).
    pub fn next_event_at(&self) -> Option<DateTime<Utc>> {
        self.queue.peek().map(|Reverse(s)| s.at)
    }

    /// The seller's reserve and personality behind a reply address (ground truth, for tests
    /// that play the agent).
    pub fn seller_secret(&self, reply_address: &str) -> Option<(Money, Money, Personality)> {
        let listing = self
            .listings
            .iter()
            .find(|l| l.reply_address.as_deref() == Some(reply_address))?;
        Some((listing.asking, listing.reserve, listing.personality))
    }

    /// Makes the seller behind `reply_address` behave as `personality` and never sell to
    /// someone else: a scripted seller for tests and demos. `false` when no listing has that
    /// address. Threads already started keep their seller's old personality.
    pub fn script_seller(&mut self, reply_address: &str, personality: Personality) -> bool {
        let Some(listing) = self
            .listings
            .iter_mut()
            .find(|l| l.reply_address.as_deref() == Some(reply_address))
        else {
            return false;
        };
        listing.personality = personality;
        listing.scripted = true;
        true
    }

    /// Reads the mail that has arrived, then plays every event due by `until` in time order
    /// (moving the clock to each), reading mail again after each; finally moves the clock to
    /// `until`. Returns how many events were played.
    pub async fn run_until(&mut self, until: DateTime<Utc>) -> Result<usize, WorldError> {
        if let Some(journal) = &self.journal {
            let _one_at_a_time = journal.serialize().await;
            journal.record(&Entry::Advance {
                until,
                started: self.started,
            })?;
        }
        self.pump_mail().await?;
        self.finish_run(until).await
    }

    /// The rest of [`World::run_until`]: every event due by `until`, then the clock.
    async fn finish_run(&mut self, until: DateTime<Utc>) -> Result<usize, WorldError> {
        let mut played = 0;
        while self.next_event_at().is_some_and(|t| t <= until) {
            self.play_next().await?;
            played += 1;
        }
        self.clock.advance_to(until);
        self.log.flush()?;
        Ok(played)
    }

    /// Plays the next scheduled event and reads the mail it caused.
    async fn play_next(&mut self) -> Result<(), WorldError> {
        let Some(Reverse(scheduled)) = self.queue.pop() else {
            return Ok(());
        };
        // Time moves without waking the agent's timers: they fire once the world has
        // played up to `until`, so the world and the agent never run at once.
        self.clock.set_time(scheduled.at);
        self.started += 1;
        if let Some(journal) = &self.journal {
            journal.set_started(self.started);
        }
        self.play(scheduled.event).await?;
        self.pump_mail().await
    }

    /// Runs to the end of the scenario.
    pub async fn run_to_end(&mut self) -> Result<usize, WorldError> {
        let end = self.end;
        self.run_until(end).await
    }

    /// What happened so far.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            deals: self.truth.deals.len(),
            sales: self.truth.sales.len(),
            oversells: self.truth.oversells.len(),
            ..Counts::default()
        };
        for line in &self.log.lines {
            if line.contains("\"event\":\"mail_received\"") {
                counts.mail_received += 1;
            } else if line.contains("\"event\":\"mail_sent\"") {
                counts.mail_sent += 1;
            }
        }
        counts.events = self.log.lines.len();
        counts
    }

    /// The ground truth as one JSON document: every listing's hidden facts, the deals, the
    /// sales and the oversells.
    pub fn ground_truth(&self) -> Value {
        let listings: Vec<Value> = self
            .listings
            .iter()
            .map(|l| {
                json!({
                    "venue": l.venue,
                    "id": l.id,
                    "title": l.title,
                    "category": l.category.name(),
                    "asking": l.asking.to_decimal_string(),
                    "market_value": l.market_value.to_decimal_string(),
                    "reserve": l.reserve.to_decimal_string(),
                    "personality": l.personality,
                    "posted_at": l.posted_at.to_rfc3339(),
                    "reply_address": l.reply_address,
                    "sold_elsewhere_at": l.sold_elsewhere_at.map(|t| t.to_rfc3339()),
                })
            })
            .collect();
        json!({
            "scenario": self.scenario.name,
            "seed": self.seed,
            "listings": listings,
            "deals": self.truth.deals,
            "sales": self.truth.sales,
            "oversells": self.truth.oversells,
            "agent_offers": self.ebay.agent_offers(),
        })
    }

    /// Writes [`World::ground_truth`] to `path` (pretty JSON).
    pub fn write_ground_truth(&self, path: &std::path::Path) -> Result<(), WorldError> {
        let text = serde_json::to_string_pretty(&self.ground_truth()).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|source| WorldError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// Stops every server.
    pub async fn shutdown(mut self) -> Result<(), WorldError> {
        self.log.flush()?;
        self.ebay.shutdown().await;
        self.sites.stop().await;
        Ok(())
    }

    fn schedule(&mut self, at: DateTime<Utc>, event: Event) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.queue.push(Reverse(Scheduled { at, seq, event }));
    }

    fn schedule_population(&mut self) {
        let start = self.scenario.start;
        let sellers = self.scenario.sellers.clone();
        for index in 0..self.listings.len() {
            let posted_at = self.listings[index].posted_at;
            self.schedule(posted_at.max(start), Event::Post(index));
            if sellers.price_drop_percent > 0 {
                let drop = posted_at + Duration::days(i64::from(sellers.price_drop_after_days));
                if drop > start && drop < self.end {
                    self.schedule(drop, Event::PriceDrop(index));
                }
            }
            // Days until somebody else buys it: one draw per day from the posting on.
            let p = f64::from(sellers.sold_elsewhere_per_day_permille) / 1000.0;
            let mut rng = keyed_rng(self.seed, ("sold-elsewhere", index));
            let mut day = posted_at.max(start);
            while p > 0.0 && day < self.end {
                if rng.random_bool(p.min(1.0)) {
                    let at = day + Duration::seconds(rng.random_range(0..86_400));
                    if at < self.end {
                        self.schedule(at, Event::SoldElsewhere(index));
                    }
                    break;
                }
                day += Duration::days(1);
            }
        }
        let mut day = start + Duration::days(1);
        while day <= self.end {
            self.schedule(day, Event::Demand);
            day += Duration::days(1);
        }
    }

    async fn play(&mut self, event: Event) -> Result<(), WorldError> {
        let now = self.clock.now();
        match event {
            Event::Post(index) => self.post(index, now),
            Event::PriceDrop(index) => self.price_drop(index, now),
            Event::SoldElsewhere(index) => self.sold_elsewhere(index, now),
            Event::Send { mailbox, mail } => self.send(mailbox, mail).await,
            Event::Demand => self.demand(now),
            Event::Purchase {
                listing_id,
                buyer,
                price,
            } => self.purchase(&listing_id, &buyer, price, now).await,
            Event::BestOffer { listing_id } => self.best_offer(&listing_id, now).await,
        }
    }

    fn post(&mut self, index: usize, now: DateTime<Utc>) -> Result<(), WorldError> {
        let listing = &mut self.listings[index];
        if listing.venue == Venue::Ebay {
            let mut item = CatalogListing::new(listing.title.clone(), listing.asking);
            item.category_id = ebay_category(listing.category).0.into();
            item.category_path = ebay_category(listing.category).1.into();
            item.seller.username = format!("seller_{index}");
            item.listed_at = Some(listing.posted_at);
            let permille = u64::from(self.scenario.sellers.ebay_variation_permille);
            if (index as u64).wrapping_mul(7_919).wrapping_add(self.seed) % 1000 < permille {
                item.variations = variation_group(listing.asking);
            }
            listing.id = self.ebay.add_listing(item);
        }
        let (venue, id, price) = (listing.venue, listing.id.clone(), listing.asking);
        self.log.push(
            now,
            "posted",
            json!({"venue": venue, "id": id, "price": price.to_decimal_string()}),
        )
    }

    fn price_drop(&mut self, index: usize, now: DateTime<Utc>) -> Result<(), WorldError> {
        let percent = i64::from(self.scenario.sellers.price_drop_percent);
        let listing = &mut self.listings[index];
        if listing.closed || listing.venue == Venue::Ebay {
            return Ok(());
        }
        let dropped = round_dollars(listing.asking.minor * (100 - percent) / 100);
        listing.asking = Money::new(dropped, listing.asking.currency);
        listing.reserve = Money::new(listing.reserve.minor.min(dropped), listing.reserve.currency);
        for mind in listing.threads.values_mut() {
            mind.price_dropped(listing.asking, listing.reserve);
        }
        let id: u64 = listing.id.parse().unwrap_or(0);
        self.sites.set_price(id, listing.asking);
        let (venue, id, price) = (listing.venue, listing.id.clone(), listing.asking);
        self.log.push(
            now,
            "price_drop",
            json!({"venue": venue, "id": id, "price": price.to_decimal_string()}),
        )
    }

    fn sold_elsewhere(&mut self, index: usize, now: DateTime<Utc>) -> Result<(), WorldError> {
        let listing = &mut self.listings[index];
        if listing.closed || listing.scripted {
            return Ok(());
        }
        // Someone the seller is already haggling with is still told it sold.
        listing.closed = true;
        listing.sold_elsewhere_at = Some(now);
        for mind in listing.threads.values_mut() {
            mind.sold = true;
        }
        match listing.venue {
            Venue::Ebay => {
                self.ebay.end_listing(&listing.id);
            }
            _ => {
                self.sites.mark_sold(listing.id.parse().unwrap_or(0));
            }
        }
        let (venue, id) = (listing.venue, listing.id.clone());
        self.log
            .push(now, "sold_elsewhere", json!({"venue": venue, "id": id}))
    }

    /// Reads every mailbox that has new mail and answers it.
    async fn pump_mail(&mut self) -> Result<(), WorldError> {
        if let Some(deliveries) = &mut self.deliveries {
            if !deliveries.has_changed().unwrap_or(true) {
                return Ok(());
            }
            deliveries.borrow_and_update();
        }
        if self.catch_all.is_some() {
            return self.pump_catch_all().await;
        }
        for index in 0..self.mailboxes.len() {
            if let Some(office) = &self.post_office {
                // In process, a cheap count says whether there is anything to read.
                if office.message_count(&self.mailboxes[index].address)
                    <= self.mailboxes[index].seen
                {
                    continue;
                }
            }
            loop {
                let mailbox = &self.mailboxes[index];
                let batch = mailbox.transport.fetch_new(mailbox.mark, 64).await?;
                let mailbox = &mut self.mailboxes[index];
                mailbox.mark = Some(batch.mark);
                mailbox.seen += batch.messages.len();
                for message in batch.messages {
                    self.receive(index, message)?;
                }
                if !batch.more {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Reads the catch-all mailbox and hands each message to the person it is addressed to;
    /// mail for nobody the world knows is logged and dropped.
    async fn pump_catch_all(&mut self) -> Result<(), WorldError> {
        loop {
            let Some(inbox) = &self.catch_all else {
                return Ok(());
            };
            let batch = inbox.transport.fetch_new(inbox.mark, 64).await?;
            if let Some(inbox) = &mut self.catch_all {
                inbox.mark = Some(batch.mark);
            }
            for message in batch.messages {
                let recipient = message
                    .envelope
                    .to
                    .iter()
                    .find_map(|to| self.by_address.get(&to.to_ascii_lowercase()).copied());
                match recipient {
                    Some(index) => {
                        self.mailboxes[index].seen += 1;
                        self.receive(index, message)?;
                    }
                    None => self.log.push(
                        self.clock.now(),
                        "mail_unrouted",
                        json!({"to": message.envelope.to, "from": message.envelope.from}),
                    )?,
                }
            }
            if !batch.more {
                return Ok(());
            }
        }
    }

    fn receive(&mut self, mailbox: usize, message: MailMessage) -> Result<(), WorldError> {
        let now = self.clock.now();
        let owner = self.mailboxes[mailbox].owner.clone();
        let address = self.mailboxes[mailbox].address.clone();
        let from = message.envelope.from.clone().unwrap_or_default();
        self.log.push(
            now,
            "mail_received",
            json!({
                "to": address,
                "from": from,
                "message_id": message.envelope.message_id.as_ref().map(MessageId::as_str),
            }),
        )?;
        match owner {
            Owner::Seller(index) => self.seller_reads(mailbox, index, &from, &message, now),
            Owner::Buyer(offer) => {
                self.buyer_reads(offer, &message, now);
                Ok(())
            }
        }
    }

    /// A seller reads a buyer's message and decides; the reply goes out after their delay.
    fn seller_reads(
        &mut self,
        mailbox: usize,
        index: usize,
        from: &str,
        message: &MailMessage,
        now: DateTime<Utc>,
    ) -> Result<(), WorldError> {
        let seed = self.seed;
        let listing = &mut self.listings[index];
        let profile = SellerProfile {
            listing_price: listing.asking,
            market_value: listing.market_value,
            reserve: listing.reserve,
            personality: listing.personality,
        };
        let closed = listing.closed;
        let mind = listing.threads.entry(from.to_string()).or_insert_with(|| {
            let mut mind = SellerMind::new(profile);
            mind.sold = closed;
            mind
        });
        let mut rng = keyed_rng(seed, ("seller", index, from, mind.rounds, message.uid));
        let offer = llm::read_reply(&message.text)
            .price
            .filter(|p| p.currency == listing.asking.currency);
        let decision = mind.answer(offer, &mut rng);
        if let Decision::Accept { price } = decision {
            if !listing.closed {
                listing.closed = true;
                self.truth.deals.push(TruthDeal {
                    at: now,
                    listing: listing.id.clone(),
                    buyer: from.to_string(),
                    price: price.to_decimal_string(),
                    asking: listing.asking.to_decimal_string(),
                    reserve: listing.reserve.to_decimal_string(),
                    market_value: listing.market_value.to_decimal_string(),
                });
                // A deal is a deal: the posting comes down.
                if listing.venue != Venue::Ebay {
                    self.sites.mark_sold(listing.id.parse().unwrap_or(0));
                }
            }
        }
        let (id, category, personality) =
            (listing.id.clone(), listing.category, listing.personality);
        self.log.push(
            now,
            "seller_decided",
            json!({"listing": id, "seller": self.mailboxes[mailbox].address, "from": from, "offer": offer.map(|o| o.to_decimal_string()), "decision": decision_json(&decision)}),
        )?;
        let Some(text) = phrasebook().write(&decision, category.name(), &mut rng) else {
            return Ok(());
        };
        let (low, high) = {
            let [low, high] = self.scenario.sellers.reply_minutes;
            (i64::from(low), i64::from(high).max(i64::from(low)))
        };
        let mut minutes = rng.random_range(low..=high);
        if matches!(
            personality,
            Personality::SlowToAnswer | Personality::GhostThenReturns
        ) {
            minutes *= 10;
        }
        let at = now + Duration::minutes(minutes);
        let mail = self.reply(mailbox, message, &text, at);
        self.schedule(at, Event::Send { mailbox, mail });
        Ok(())
    }

    /// A buyer reads the agent's answer to their best offer: a yes or a price within their
    /// ceiling buys; anything else ends it.
    fn buyer_reads(&mut self, offer: usize, message: &MailMessage, now: DateTime<Utc>) {
        let state = &mut self.buyer_offers[offer];
        if state.done {
            return;
        }
        state.done = true;
        let reading = llm::read_reply(&message.text);
        let price = match (reading.intent, reading.price) {
            ("accept", None) => Some(state.offered),
            (_, Some(price)) if price.minor <= state.ceiling.minor => Some(price),
            _ => None,
        };
        let Some(price) = price else {
            return;
        };
        let buyer = state.buyer.clone();
        let listing_id = state.listing_id.clone();
        let mut rng = keyed_rng(self.seed, ("buyer-pays", offer));
        let at = now + Duration::minutes(rng.random_range(5..240));
        self.schedule(
            at,
            Event::Purchase {
                listing_id,
                buyer,
                price: Some(price),
            },
        );
    }

    fn reply(
        &mut self,
        mailbox: usize,
        parent: &MailMessage,
        text: &str,
        at: DateTime<Utc>,
    ) -> OutgoingMail {
        let mailbox = &mut self.mailboxes[mailbox];
        mailbox.sent += 1;
        let domain = mailbox
            .address
            .rsplit('@')
            .next()
            .unwrap_or("sim.bazaar.test");
        let id = MessageId::derive(
            &format!("{}:{}:{}", self.seed, mailbox.address, mailbox.sent),
            domain,
        );
        OutgoingMail::reply_to(parent, &mailbox.address, text, id, at)
    }

    async fn send(&mut self, mailbox: usize, mail: OutgoingMail) -> Result<(), WorldError> {
        let now = self.clock.now();
        let from = self.mailboxes[mailbox].address.clone();
        let result = self.mailboxes[mailbox].transport.send(&mail).await;
        let (status, error) = match &result {
            Ok(_) => ("sent", None),
            // A refused recipient is the agent's problem, not the world's: log and go on.
            Err(MailError::Rejected(why)) => ("rejected", Some(why.clone())),
            Err(_) => ("failed", None),
        };
        if let Err(e) = result {
            if !matches!(e, MailError::Rejected(_)) {
                return Err(e.into());
            }
        }
        self.log.push(
            now,
            "mail_sent",
            json!({
                "from": from,
                "to": mail.to,
                "message_id": mail.message_id.as_str(),
                "in_reply_to": mail.in_reply_to.as_ref().map(MessageId::as_str),
                "status": status,
                "error": error,
            }),
        )
    }

    /// Once a day buyers look at the agent's eBay listings: some watch, some write a best
    /// offer, some buy; and they answer offers the agent sent to interested buyers.
    fn demand(&mut self, now: DateTime<Utc>) -> Result<(), WorldError> {
        let buyers = self.scenario.buyers.clone();
        let listings = self.ebay.agent_listings();
        for listing in &listings {
            let first_seen = *self
                .agent_seen
                .entry(listing.listing_id.clone())
                .or_insert(now);
            let value = self.value_of(&listing.title, listing.price);
            let age_days = (now - first_seen).num_days().max(0) as f64;
            let base = f64::from(self.category_of(&listing.title).map_or(
                self.scenario.sale_per_day_permille(Category::Electronics),
                |c| self.scenario.sale_per_day_permille(c),
            )) / 1000.0;
            let over = (listing.price.minor - value.minor) as f64 / value.minor.max(1) as f64;
            let elasticity = (1.0
                - over.max(-0.5) * f64::from(buyers.elasticity_permille) / 1000.0)
                .clamp(0.0, 3.0);
            let fade = 0.5f64.powf(age_days / f64::from(buyers.half_life_days));
            let p_sale = (base * elasticity * fade).clamp(0.0, 1.0);
            let buyer = format!("buyer_{}", self.rng.random_range(1000..100_000));
            if self
                .rng
                .random_bool(f64::from(buyers.watch_per_day_permille.min(1000)) / 1000.0)
            {
                let _ = self.ebay.add_interest(&listing.listing_id, &buyer);
                self.log.push(
                    now,
                    "watch",
                    json!({"listing_id": listing.listing_id, "buyer": buyer}),
                )?;
            }
            if self.rng.random_bool(p_sale) {
                let at = now + Duration::seconds(self.rng.random_range(0..86_400));
                self.schedule(
                    at,
                    Event::Purchase {
                        listing_id: listing.listing_id.clone(),
                        buyer: buyer.clone(),
                        price: None,
                    },
                );
            }
            let p_offer = f64::from(buyers.best_offer_per_day_permille.min(1000)) / 1000.0;
            let buyers_write = self.post_office.is_some() || self.catch_all.is_some();
            if buyers_write && self.rng.random_bool(p_offer) {
                let at = now + Duration::seconds(self.rng.random_range(0..86_400));
                self.schedule(
                    at,
                    Event::BestOffer {
                        listing_id: listing.listing_id.clone(),
                    },
                );
            }
        }
        // Offers the agent sent to watchers: a buyer takes one at or under what it is worth
        // to them.
        let offers = self.ebay.seller_offers();
        for offer in offers.iter().skip(self.seller_offers_seen) {
            let Some(listing) = listings.iter().find(|l| l.listing_id == offer.listing_id) else {
                continue;
            };
            let price = offer.price.unwrap_or_else(|| {
                let pct = i64::from(offer.discount_percentage.unwrap_or(0));
                Money::new(
                    listing.price.minor * (100 - pct) / 100,
                    listing.price.currency,
                )
            });
            let value = self.value_of(&listing.title, listing.price);
            let worth = buyer_worth(value, &mut self.rng);
            if price.minor <= worth && offer.expires_at > now {
                let at = now + Duration::seconds(self.rng.random_range(0..3_600));
                self.schedule(
                    at.min(offer.expires_at),
                    Event::Purchase {
                        listing_id: offer.listing_id.clone(),
                        buyer: offer.buyer.clone(),
                        price: Some(price),
                    },
                );
            }
        }
        self.seller_offers_seen = offers.len();
        Ok(())
    }

    async fn purchase(
        &mut self,
        listing_id: &str,
        buyer: &str,
        price: Option<Money>,
        now: DateTime<Utc>,
    ) -> Result<(), WorldError> {
        let result = match price {
            Some(price) => self.ebay.buy_at(listing_id, buyer, price).await,
            None => self.ebay.buy(listing_id, buyer).await,
        };
        let purchase = match result {
            Ok(purchase) => {
                if let Some(settle) = &self.settle {
                    if purchase.deliveries.iter().any(|d| d.delivered()) {
                        settle().await;
                    }
                }
                purchase
            }
            Err(e) => {
                // Withdrawn before the buyer got there.
                return self.log.push(
                    now,
                    "purchase_missed",
                    json!({"listing_id": listing_id, "buyer": buyer, "reason": e.to_string()}),
                );
            }
        };
        let value = self
            .ebay
            .agent_listings()
            .into_iter()
            .find(|l| l.listing_id == listing_id)
            .map_or(purchase.total, |l| self.value_of(&l.title, l.price));
        self.truth.sales.push(TruthSale {
            at: now,
            listing_id: listing_id.to_string(),
            order_id: purchase.order_id.clone(),
            buyer: buyer.to_string(),
            price: purchase.total.to_decimal_string(),
            market_value: value.to_decimal_string(),
        });
        if purchase.oversold {
            self.truth.oversells.push(TruthOversell {
                at: now,
                listing_id: listing_id.to_string(),
                order_id: purchase.order_id.clone(),
            });
        }
        self.log.push(
            now,
            "purchase",
            json!({
                "listing_id": listing_id,
                "order_id": purchase.order_id,
                "buyer": buyer,
                "price": purchase.total.to_decimal_string(),
                "oversold": purchase.oversold,
            }),
        )
    }

    async fn best_offer(&mut self, listing_id: &str, now: DateTime<Utc>) -> Result<(), WorldError> {
        if self.post_office.is_none() && self.catch_all.is_none() {
            return Ok(());
        }
        let Some(listing) = self
            .ebay
            .agent_listings()
            .into_iter()
            .find(|l| l.listing_id == listing_id)
        else {
            return Ok(());
        };
        let number = self.buyer_offers.len();
        let address = buyer_address(&self.scenario, number);
        let transport: Arc<dyn MailTransport> = match (&self.post_office, &self.catch_all) {
            (Some(office), _) => {
                office.create_mailbox(&address)?;
                Arc::new(office.transport(&address)?)
            }
            (None, Some(inbox)) => inbox.transport.clone(),
            (None, None) => return Ok(()),
        };
        let [low, high] = self.scenario.buyers.best_offer_permille;
        let mut rng = keyed_rng(self.seed, ("best-offer", number));
        let share = rng.random_range(low..=high);
        // A buyer anchors on the asking price but never bids past what the item is worth to
        // them: an overpriced listing draws offers off its worth.
        let worth = buyer_worth(self.value_of(&listing.title, listing.price), &mut rng);
        let anchor = listing.price.minor.min(worth);
        let offered = Money::new(round_dollars(anchor * share / 1000), listing.price.currency);
        let ceiling = Money::new(
            ((offered.minor + listing.price.minor) / 2)
                .min(worth)
                .max(offered.minor),
            listing.price.currency,
        );
        self.buyer_offers.push(BuyerOffer {
            buyer: address.clone(),
            listing_id: listing_id.to_string(),
            title: listing.title.clone(),
            offered,
            ceiling,
            done: false,
        });
        let index = self.mailboxes.len();
        self.mailboxes.push(Mailbox::new(
            address.clone(),
            Owner::Buyer(number),
            transport,
        ));
        self.by_address.insert(address.clone(), index);
        let title = &self.buyer_offers[number].title;
        let text = format!(
            "Hi, is your {title} still available? Would you take {}? I can pay today.",
            offered
        );
        let id = MessageId::derive(
            &format!("{}:{address}:1", self.seed),
            &self.scenario.mail.buyer_domain,
        );
        self.mailboxes[index].sent = 1;
        let mail = OutgoingMail::new(
            &address,
            &self.scenario.mail.agent,
            &format!("Offer on eBay item {listing_id}: {title}"),
            &text,
            id,
            now,
        );
        self.send(index, mail).await
    }

    /// What an agent listing is worth to buyers: the market value of the item the agent
    /// bought whose title it carries, else its price.
    fn value_of(&self, title: &str, price: Money) -> Money {
        self.source_of(title)
            .map_or(price, |l| Money::new(l.market_value.minor, price.currency))
    }

    fn category_of(&self, title: &str) -> Option<Category> {
        self.source_of(title).map(|l| l.category)
    }

    fn source_of(&self, title: &str) -> Option<&Listing> {
        let wanted = normalize(title);
        if wanted.len() < 8 {
            return None;
        }
        self.listings.iter().find(|l| {
            let have = normalize(&l.title);
            have.starts_with(&wanted) || wanted.starts_with(&have)
        })
    }
}

/// A decision as the log writes it: its kind and, for prices, a decimal string.
fn decision_json(decision: &Decision) -> Value {
    let (kind, price) = match decision {
        Decision::Accept { price } => ("accept", Some(price)),
        Decision::Counter { price } => ("counter", Some(price)),
        Decision::Reject => ("reject", None),
        Decision::Answer => ("answer", None),
        Decision::SoldElsewhere => ("sold_elsewhere", None),
        Decision::Silent => ("silent", None),
    };
    json!({"decision": kind, "price": price.map(|p| p.to_decimal_string())})
}

impl Mailbox {
    fn new(address: String, owner: Owner, transport: Arc<dyn MailTransport>) -> Mailbox {
        Mailbox {
            address,
            owner,
            transport,
            mark: None,
            seen: 0,
            sent: 0,
        }
    }
}

fn buyer_address(scenario: &Scenario, number: usize) -> String {
    format!("buyer{}@{}", number + 1, scenario.mail.buyer_domain)
}

/// Lowercase letters and digits only, for matching titles across channels.
/// What an item of market value `value` is worth to one buyer: 85–105 % of it, in minor
/// units. Buyers answering our offers and writing their own draw it the same way.
fn buyer_worth(value: Money, rng: &mut StdRng) -> i64 {
    value.minor * rng.random_range(850..1050) / 1000
}

fn normalize(title: &str) -> String {
    title
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A generator for one decision, keyed by what it is about, so its draws do not depend on
/// the order other things happened in.
fn keyed_rng(seed: u64, key: impl Hash) -> StdRng {
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325 ^ seed);
    key.hash(&mut hasher);
    StdRng::seed_from_u64(hasher.finish())
}

/// Rounds minor units to whole dollars the way people price things.
fn round_dollars(minor: i64) -> i64 {
    let dollars = (minor + 50) / 100;
    let step = match dollars {
        ..20 => 1,
        20..200 => 5,
        200..2000 => 10,
        _ => 50,
    };
    (((dollars + step / 2) / step) * step).max(1) * 100
}

/// eBay's category id and path for a catalog category (the ids the agent's Browse connector
/// searches by).
fn ebay_category(category: Category) -> (&'static str, &'static str) {
    match category {
        Category::Furniture => ("3197", "Home & Garden|Furniture"),
        Category::Bike => ("7294", "Sporting Goods|Cycling"),
        Category::Car => ("6001", "eBay Motors|Cars & Trucks"),
        Category::Electronics => ("293", "Consumer Electronics"),
        Category::Phone => ("15032", "Cell Phones & Accessories"),
        Category::Housing => ("12605", "Real Estate|Residential"),
    }
}

/// Every listing of the run with its hidden facts, in a fixed order: Craigslist, then
/// Marketplace, then eBay.
fn population(scenario: &Scenario, seed: u64, rng: &mut StdRng) -> Vec<Listing> {
    let s = &scenario.sellers;
    let days = i64::from(scenario.days);
    let before = Duration::days(7);
    let span = before + Duration::days(days);
    // Posting times: the share before the start spread over the week before it, the rest
    // over the run.
    let mut out = Vec::new();
    let weights: Vec<(Personality, u32)> = s.personalities.iter().map(|(p, w)| (*p, *w)).collect();
    let total_weight: u32 = weights.iter().map(|(_, w)| *w).sum();
    for (venue, count, site) in [
        (Venue::Craigslist, s.craigslist, Site::Craigslist),
        (Venue::Marketplace, s.marketplace, Site::Marketplace),
        (Venue::Ebay, s.ebay, Site::Craigslist),
    ] {
        if count == 0 {
            continue;
        }
        let mut generator = ListingGenerator::new(seed ^ ((venue as u64 + 1) * 0x9e37), site);
        generator.count = count;
        generator.categories = scenario.categories();
        generator.price_factor_permille = s.value_factor_permille;
        generator.price_jitter_permille = 0;
        generator.spread = span.to_std().unwrap_or_default();
        generator.reply_domain = scenario.mail.reply_domain.clone();
        let mut listings = generator.generate(scenario.start);
        listings.sort_by_key(|l| l.id);
        for site_listing in listings {
            let value = site_listing.price;
            let posted_at = if rng.random_range(0..100) < s.posted_before_start_percent {
                scenario.start - Duration::seconds(rng.random_range(0..before.num_seconds()))
            } else {
                scenario.start + Duration::seconds(rng.random_range(0..days * 86_400))
            };
            let bargain = venue != Venue::Ebay && rng.random_range(0..100) < s.underpriced_percent;
            let share = if bargain {
                rng.random_range(s.underpriced_permille[0]..=s.underpriced_permille[1])
            } else {
                1000 + rng.random_range(-s.price_jitter_permille..=s.price_jitter_permille)
            };
            let asking = round_dollars(value.minor * share / 1000);
            let reserve_share = rng.random_range(s.reserve_permille[0]..=s.reserve_permille[1]);
            let reserve = (asking * reserve_share / 1000).max(100);
            let mut pick = rng.random_range(0..total_weight);
            let personality = weights
                .iter()
                .find(|(_, w)| {
                    if pick < *w {
                        return true;
                    }
                    pick -= w;
                    false
                })
                .map_or(Personality::Flexible, |(p, _)| *p);
            out.push(Listing {
                venue,
                id: site_listing.id.to_string(),
                title: site_listing.title.clone(),
                category: site_listing.category,
                asking: Money::new(asking, Currency::Usd),
                market_value: value,
                reserve: Money::new(reserve, Currency::Usd),
                personality,
                posted_at,
                reply_address: (venue != Venue::Ebay).then(|| site_listing.reply_address.clone()),
                page: (venue != Venue::Ebay).then_some(site_listing),
                closed: false,
                sold_elsewhere_at: None,
                scripted: false,
                threads: BTreeMap::new(),
            });
        }
    }
    out
}

/// The page the sites serve for a world listing: the generated one with the world's price,
/// posting time and reply address.
fn site_listing(listing: &Listing) -> Option<SiteListing> {
    let mut page = listing.page.clone()?;
    page.price = listing.asking;
    page.posted_at = listing.posted_at;
    page.reply_address = listing.reply_address.clone().unwrap_or_default();
    page.catalog_index = None;
    Some(page)
}

/// FNV-1a: a hash that is the same on every build and platform, for [`keyed_rng`].
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The agent's in-process transport with every sent mail journaled before it is delivered.
struct JournaledTransport {
    inner: InProcessTransport,
    journal: Arc<Journal>,
    clock: SimClock,
}

impl MailTransport for JournaledTransport {
    fn address(&self) -> &str {
        self.inner.address()
    }

    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> MailFuture<'a, MessageId> {
        Box::pin(async move {
            let (_, recipients) = mail.addresses()?;
            let raw = mail.to_rfc5322()?;
            let _one_at_a_time = self.journal.serialize().await;
            let entry = Entry::Mail {
                at: self.clock.now(),
                started: self.journal.started(),
                recipients,
                raw: Entry::encode(&raw),
            };
            self.journal.record(&entry).map_err(|e| {
                MailError::Smtp(format!("the simulated world cannot record this mail: {e}"))
            })?;
            self.inner.send(mail).await
        })
    }

    fn fetch_new(&self, since: Option<HighWaterMark>, limit: usize) -> MailFuture<'_, FetchBatch> {
        self.inner.fetch_new(since, limit)
    }
}
