//! The assembled system: listings flow from the Researcher to the DealAnalyzer through the
//! store and the index and are valued against comparables, the gate records and blocks, intake is bounded, quiescence is
//! observable, and shutdown leaves nothing running.

use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::researcher::ResearcherMsg;
use bazaar_config::Config;
use bazaar_memory::*;
use bazaar_policies::{Action, GateMsg, Outcome};
use bazaar_runtime::system::{Shutdown, System, SystemParts};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn listing(external_id: &str, title: &str, dollars: i64, now: DateTime<Utc>) -> MarketListing {
    MarketListing {
        id: ListingId::new_at(now),
        marketplace: Marketplace::Craigslist,
        external_id: external_id.into(),
        url: format!("http://127.0.0.1/post/{external_id}"),
        title: title.into(),
        description: "works great".into(),
        price: Money::usd(dollars * 100),
        condition: Condition::Good,
        category: "electronics".into(),
        seller: SellerRef {
            external_id: format!("seller-{external_id}"),
            display_name: None,
            contact_url: None,
        },
        location: Some("Oakland".into()),
        images: vec![],
        listed_at: None,
        first_seen: now,
        last_seen: now,
        raw: "<html></html>".into(),
    }
}

async fn start_system(clock: &SimClock) -> System {
    let config = Arc::new(Config::load(None, std::iter::empty()).unwrap());
    let store = SledStore::temporary().unwrap();
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    System::start(SystemParts::without_connectors(
        config,
        store,
        index,
        Arc::new(clock.clone()),
    ))
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_flow_into_memory_and_opportunities() {
    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let system = start_system(&clock).await;
    let now = clock.now();
    let observed = vec![
        listing("a1", "Bose SoundLink Mini speaker", 80, now),
        listing("b2", "Dyson V8 cordless vacuum", 150, now),
    ];
    system
        .addrs
        .researcher
        .send_bounded(ResearcherMsg::Observed(observed))
        .await
        .unwrap();
    system.quiet.wait_quiet().await;

    clock.advance_by(Duration::from_secs(3600));
    // Seen again at a lower price: same listing, one more price point, no new opportunity.
    let repriced = vec![listing(
        "a1",
        "Bose SoundLink Mini speaker",
        70,
        clock.now(),
    )];
    system
        .addrs
        .researcher
        .send_bounded(ResearcherMsg::Observed(repriced))
        .await
        .unwrap();
    system.quiet.wait_quiet().await;

    let store = &system.store;
    assert_eq!(store.count::<MarketListing>(), 2);
    assert_eq!(store.count::<Seller>(), 2);
    // Nothing to compare them with yet: both are passed, and say why.
    let passed: Vec<Opportunity> = store
        .with_status::<Opportunity>(OpportunityStatus::Passed)
        .unwrap();
    assert_eq!(passed.len(), 2);
    for opportunity in &passed {
        let reason = &opportunity.lifecycle.history.last().unwrap().reason;
        assert!(reason.contains("too few comparables"), "{reason}");
        assert_eq!(opportunity.valuation, None, "no value is invented");
    }
    let bose: MarketListing = on_craigslist(store, MarketListing::BY_SOURCE, "a1");
    assert_eq!(bose.price, Money::usd(7_000));
    assert_eq!(bose.first_seen, now);
    let product: ProductRecord = store
        .find(ProductRecord::BY_LISTING, &bose.id.to_bytes())
        .unwrap()
        .remove(0);
    let history: Vec<Money> = product.price_history.iter().map(|p| p.price).collect();
    assert_eq!(history, vec![Money::usd(8_000), Money::usd(7_000)]);

    system.index.commit().await.unwrap();
    let comparables = system
        .index
        .comparables("bose soundlink", Some("electronics"), None, 5)
        .unwrap();
    assert_eq!(comparables.len(), 1);
    assert_eq!(comparables[0].asking, Some(Money::usd(7_000)));

    let reports = system.reports().await;
    assert_eq!(reports.len(), 6);
    assert!(
        reports[0].summary.contains("2 listings"),
        "{:?}",
        reports[0]
    );

    assert_eq!(
        system.shutdown(Duration::from_secs(5)).await.unwrap(),
        Shutdown::Requested { abandoned: 0 }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_connectors_an_approved_action_fails_plainly_and_everything_is_audited() {
    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let system = start_system(&clock).await;
    let action = Action {
        kind: ActionKind::RevisePrice,
        target: "BZ-0001".into(),
        params: serde_json::json!({ "price": "60.00" }),
        proposer: "autopilot".into(),
        rule: "reprice.time_decay".into(),
        value: Some(Money::usd(6_000)),
        marketplace: Some(Marketplace::Ebay),
        pattern_match: 1.0,
        idempotency_key: "reprice/BZ-0001/1".into(),
        about: None,
    };
    let first = system
        .addrs
        .gate
        .ask(|reply| GateMsg::Propose(action.clone(), reply))
        .await
        .unwrap();
    // A rule's first execution with the operator never seen scores 0.9 x 0.7 = 0.63: ask.
    let Outcome::PendingApproval {
        action: id,
        approval,
    } = first
    else {
        panic!("expected an approval request, got {first:?}");
    };
    let again = system
        .addrs
        .gate
        .ask(|reply| GateMsg::Propose(action.clone(), reply))
        .await
        .unwrap();
    assert_eq!(
        again,
        Outcome::Duplicate {
            action: id,
            status: ActionStatus::PendingApproval
        }
    );
    let approved = system
        .addrs
        .gate
        .ask(|reply| GateMsg::Approve {
            approval,
            by: "test".into(),
            reply,
        })
        .await
        .unwrap();
    let error = approved.expect_err("no connector: the approved action fails");
    assert!(
        error
            .to_string()
            .contains("no ebay connector is configured"),
        "{error}"
    );
    let record: ActionRecord = system.store.get(&id).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Failed);
    let audit: Vec<AuditEntry> = system.store.all().unwrap();
    let events: Vec<&str> = audit.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "proposed",
            "scored",
            "approval_needed",
            "approved",
            "intent",
            "failed"
        ]
    );
    assert_eq!(AuditEntry::verify_chain(&audit), Ok(6));
    let status = system.addrs.gate.ask(GateMsg::Status).await.unwrap();
    assert_eq!(status.audit_len, 6);
    system.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// An actor that handles a message only when the test lets it.
struct Slow;

impl Actor for Slow {
    type Msg = Envelope<()>;
    type State = Arc<tokio::sync::Semaphore>;
    type Arguments = Arc<tokio::sync::Semaphore>;

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        gate: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(gate)
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        gate: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        for (_, _guard) in envelope.drain() {
            gate.acquire().await?.forget();
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bounded_intake_makes_a_fast_producer_wait_for_a_slow_consumer() {
    let quiet = Quiescence::new();
    let addr: Addr<()> = Addr::new("slow", quiet.clone(), 2);
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (actor, handle) = Actor::spawn(None, Slow, gate.clone()).await.unwrap();
    addr.bind(actor.clone());

    addr.send_bounded(()).await.unwrap();
    addr.send_bounded(()).await.unwrap();
    let third = tokio::time::timeout(Duration::from_millis(100), addr.send_bounded(())).await;
    assert!(
        third.is_err(),
        "a third message must wait while two are unhandled"
    );
    assert_eq!(quiet.in_flight(), 2);

    gate.add_permits(1);
    tokio::time::timeout(Duration::from_secs(5), addr.send_bounded(()))
        .await
        .expect("credit returns once a message is handled")
        .unwrap();
    gate.add_permits(2);
    tokio::time::timeout(Duration::from_secs(5), quiet.wait_quiet())
        .await
        .expect("quiet once all are handled");

    actor.stop(None);
    handle.await.unwrap();
    assert_eq!(actor.get_status(), ractor::ActorStatus::Stopped);
}

/// Twenty iPhone 7s asking around $200: the comparables.
fn iphone_market(now: DateTime<Utc>) -> Vec<MarketListing> {
    (0..20)
        .map(|i| {
            listing(
                &format!("m{i}"),
                "Apple iPhone 7 32GB unlocked black",
                190 + (i % 5) * 5,
                now,
            )
        })
        .collect()
}

/// Hands `listings` to the Researcher as if a scan had read them, and waits for the actors.
async fn observe(system: &System, listings: Vec<MarketListing>) {
    system
        .addrs
        .researcher
        .send_bounded(ResearcherMsg::Observed(listings))
        .await
        .unwrap();
    system.quiet.wait_quiet().await;
}

/// Every opportunity opened for the Craigslist listing `external`, oldest first.
/// The record (listing or seller) known on Craigslist as `external`.
fn on_craigslist<R: Record>(store: &SledStore, index: IndexName<R>, external: &str) -> R {
    store
        .find(
            index,
            &bazaar_memory::store::index_value(&["craigslist", external]),
        )
        .unwrap()
        .remove(0)
}

fn opportunities_of(store: &SledStore, external: &str) -> Vec<Opportunity> {
    let listing: MarketListing = on_craigslist(store, MarketListing::BY_SOURCE, external);
    let mut opportunities: Vec<Opportunity> = store
        .find(Opportunity::BY_LISTING, &listing.id.to_bytes())
        .unwrap();
    opportunities.sort_by_key(|o| (o.created_at, o.id));
    opportunities
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bargain_among_comparables_is_pursued_and_a_fair_price_passed() {
    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let system = start_system(&clock).await;
    let now = clock.now();
    observe(&system, iphone_market(now)).await;
    // About 60 % of the market: a bargain, not so cheap it looks like a scam.
    let mut bargain = listing("deal", "Apple iPhone 7 32GB unlocked", 120, now);
    bargain.seller.external_id = "3f9a01@reply.sim.bazaar.test".into();
    let fair = listing("fair", "iPhone 7 32GB unlocked great shape", 200, now);
    observe(&system, vec![bargain, fair]).await;

    let store = &system.store;
    let deal = opportunities_of(store, "deal").remove(0);
    assert_eq!(
        deal.lifecycle.status,
        OpportunityStatus::Pursuing,
        "{:#?}",
        deal.lifecycle
    );
    let valuation = deal.valuation.expect("a value from twenty comparables");
    assert!(
        (17_000..=22_000).contains(&valuation.market_value.minor),
        "value {}",
        valuation.market_value
    );
    assert!(
        valuation.ceiling.minor >= 9_000,
        "ceiling {}",
        valuation.ceiling
    );
    assert!(valuation.ceiling.minor < valuation.market_value.minor);
    let fair = opportunities_of(store, "fair").remove(0);
    assert_eq!(
        fair.lifecycle.status,
        OpportunityStatus::Passed,
        "{:#?}",
        fair.lifecycle
    );
    system.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_passed_on_or_walked_away_from_is_valued_again_when_its_price_comes_down() {
    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let system = start_system(&clock).await;
    let store = &system.store;
    observe(&system, iphone_market(clock.now())).await;
    let seen = |external: &str, dollars: i64| {
        let mut seen = listing(
            external,
            "Apple iPhone 7 32GB unlocked",
            dollars,
            clock.now(),
        );
        seen.seller.external_id = format!("{external}@reply.sim.bazaar.test");
        seen
    };
    // (status now, times valued) of the one opportunity a listing has.
    let looks = |external: &str| -> (OpportunityStatus, usize) {
        let opportunities = opportunities_of(store, external);
        assert_eq!(opportunities.len(), 1, "{opportunities:#?}");
        let lifecycle = &opportunities[0].lifecycle;
        let valued = lifecycle
            .history
            .iter()
            .filter(|c| c.to == OpportunityStatus::Analyzed)
            .count();
        (lifecycle.status, valued)
    };
    use OpportunityStatus::{Passed, Pursuing};

    // Passed at a fair price; valued again, and pursued, once the seller drops it to a
    // bargain. The same price seen again (or a higher one) is not a second look.
    observe(&system, vec![seen("fair", 200)]).await;
    assert_eq!(looks("fair"), (Passed, 1));
    clock.advance_by(Duration::from_secs(3_600));
    observe(&system, vec![seen("fair", 210)]).await;
    assert_eq!(looks("fair"), (Passed, 1));
    clock.advance_by(Duration::from_secs(3_600));
    observe(&system, vec![seen("fair", 120)]).await;
    assert_eq!(looks("fair"), (Pursuing, 2));
    clock.advance_by(Duration::from_secs(30 * 3_600));
    observe(&system, vec![seen("fair", 120)]).await;
    assert_eq!(looks("fair"), (Pursuing, 2));

    // Pursued and still being talked over: a lower price starts nothing new.
    observe(&system, vec![seen("deal", 125)]).await;
    assert_eq!(looks("deal"), (Pursuing, 1));
    let pursued = opportunities_of(store, "deal").remove(0);
    let seller: Seller = on_craigslist(store, Seller::BY_SOURCE, "deal@reply.sim.bazaar.test");
    let mut talk = Negotiation {
        id: NegotiationId::new_at(clock.now()),
        opportunity: pursued.id,
        seller: seller.id,
        ceiling: pursued.valuation.unwrap().ceiling,
        lifecycle: Lifecycle::new(NegotiationStatus::Open),
        rounds: Vec::new(),
        agreed_price: None,
        seller_address: "deal@reply.sim.bazaar.test".into(),
        subject: "Apple iPhone 7 32GB unlocked".into(),
        strategy_state: None,
        wake_at: None,
    };
    store.put(&talk).unwrap();
    clock.advance_by(Duration::from_secs(3_600));
    observe(&system, vec![seen("deal", 122)]).await;
    assert_eq!(looks("deal"), (Pursuing, 1));
    // We walked away; when the price comes down, that look is closed and the listing
    // valued and pursued again.
    talk.lifecycle
        .advance(NegotiationStatus::WalkedAway, clock.now(), "at our ceiling")
        .unwrap();
    store.put(&talk).unwrap();
    clock.advance_by(Duration::from_secs(3_600));
    observe(&system, vec![seen("deal", 110)]).await;
    assert_eq!(looks("deal"), (Pursuing, 2));
    let history = &opportunities_of(store, "deal")[0].lifecycle.history;
    let reasons: Vec<&str> = history.iter().map(|c| c.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("walked away"))
            && reasons
                .iter()
                .any(|r| r.contains("from $125.00 to $110.00")),
        "{reasons:#?}"
    );
    system.shutdown(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_behind_a_captcha_waits_for_the_operator_then_is_negotiated_with() {
    use bazaar_agents::analyzer::AnalyzerMsg;
    use bazaar_agents::connectors::{Craigslist, CraigslistSettings, PoliteConfig, Source};
    use bazaar_sim::sites::{ListingGenerator, Site, Sites, SitesConfig};

    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let shared: SharedClock = Arc::new(clock.clone());
    // Every reply page of this site shows a captcha instead of the address.
    let mut generator = ListingGenerator::new(11, Site::Craigslist);
    generator.count = 5;
    let posted = generator.generate(clock.now());
    let config = SitesConfig {
        craigslist_captcha_permille: 1000,
        ..SitesConfig::default()
    };
    let (sites, _) = Sites::start_with(config, posted.clone(), shared.clone())
        .await
        .unwrap();
    let store = SledStore::temporary().unwrap();
    let index_dir = tempfile::tempdir().unwrap();
    // A mailbox, so a negotiation can start (its first email waits for the gate).
    let office = bazaar_sim::mail::PostOffice::with_mailboxes(["agent@bazaar.test"]).unwrap();
    let start = || async {
        let craigslist = Craigslist::new(
            CraigslistSettings::new(sites.base_url()),
            PoliteConfig::simulated(),
            shared.clone(),
        )
        .unwrap();
        let mut parts = SystemParts::without_connectors(
            Arc::new(Config::load(None, std::iter::empty()).unwrap()),
            store.clone(),
            ProductIndex::open(index_dir.path(), IndexConfig::default()).unwrap(),
            shared.clone(),
        );
        parts.sources = vec![Arc::new(craigslist) as Arc<dyn Source>];
        parts.mail = Some(Arc::new(office.transport("agent@bazaar.test").unwrap()));
        System::start(parts).await.unwrap()
    };
    let system = start().await;
    let now = clock.now();
    observe(&system, iphone_market(now)).await;

    // Two bargains whose postings name no address, only their reply pages.
    let bargain = |external: &str, page: &bazaar_sim::sites::SiteListing| {
        let mut bargain = listing(external, "Apple iPhone 7 32GB unlocked", 120, now);
        bargain.seller.external_id = format!("craigslist:{external}");
        bargain.seller.contact_url = Some(format!(
            "{}/reply/{}/{}/{}",
            sites.base_url(),
            page.area,
            page.category.craigslist_posting_code(),
            page.id
        ));
        bargain
    };
    observe(
        &system,
        vec![bargain("deal", &posted[0]), bargain("deal2", &posted[1])],
    )
    .await;

    let store = &system.store;
    let deal = opportunities_of(store, "deal").remove(0);
    let deal2 = opportunities_of(store, "deal2").remove(0);
    assert_eq!(deal.lifecycle.status, OpportunityStatus::Pursuing);
    assert_eq!(deal2.lifecycle.status, OpportunityStatus::Pursuing);
    let negotiations = |store: &SledStore, of: &Opportunity| -> Vec<Negotiation> {
        store
            .find(Negotiation::BY_OPPORTUNITY, &of.id.to_bytes())
            .unwrap()
    };
    assert!(
        negotiations(store, &deal).is_empty(),
        "no address, no negotiation"
    );
    let tasks = |store: &SledStore| -> Vec<Approval> {
        store
            .all::<Approval>()
            .unwrap()
            .into_iter()
            .filter(|a| a.action.is_none() && a.summary.contains("reply address"))
            .collect()
    };
    let asked = tasks(store);
    assert_eq!(asked.len(), 1, "one task for the batch");
    assert_eq!(
        asked[0].summary,
        "read the sellers' reply addresses for 2 listings"
    );
    for id in [deal.listing, deal2.listing] {
        assert!(
            asked[0].reason.contains(&id.to_string())
                && asked[0].reason.contains("/reply/")
                && asked[0].reason.contains("bazaar contact"),
            "{}",
            asked[0].reason
        );
    }

    // A restart in between: the deals still wait, asked for once.
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    let system = start().await;
    system.quiet.wait_quiet().await;
    let store = &system.store;
    assert_eq!(tasks(store).len(), 1, "asked once, across the restart");
    assert!(negotiations(store, &deal).is_empty());
    assert!(bazaar_agents::analyzer::waits_for_contact(store, deal.listing).is_ok());

    // The operator solved one captcha and gives the address: that deal goes on.
    system
        .addrs
        .analyzer
        .send(AnalyzerMsg::ContactGiven {
            listing: deal.listing,
            address: "5c1e22@sale.craigslist.org".into(),
        })
        .unwrap();
    system.quiet.wait_quiet().await;
    let started = negotiations(store, &deal);
    assert_eq!(started.len(), 1, "{:#?}", opportunities_of(store, "deal"));
    assert_eq!(started[0].seller_address, "5c1e22@sale.craigslist.org");
    let seller: Seller = on_craigslist(store, Seller::BY_SOURCE, "craigslist:deal");
    assert_eq!(
        seller.contact.as_deref(),
        Some("5c1e22@sale.craigslist.org")
    );
    // Given again, it is refused: the seller is being negotiated with.
    assert!(bazaar_agents::analyzer::waits_for_contact(store, deal.listing).is_err());
    assert!(negotiations(store, &deal2).is_empty());
    assert_eq!(
        tasks(store)[0].lifecycle.status,
        ApprovalStatus::Pending,
        "the task stays open while the other seller's address is missing"
    );

    // The other seller's address was recorded, then the process stopped before the
    // negotiation started: the restart takes the deal up.
    let store = store.clone();
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    let mut seller: Seller = on_craigslist(&store, Seller::BY_SOURCE, "craigslist:deal2");
    seller.contact = Some("77ab10@sale.craigslist.org".into());
    store.put(&seller).unwrap();
    let system = start().await;
    system.quiet.wait_quiet().await;
    let started = negotiations(&system.store, &deal2);
    assert_eq!(
        started.len(),
        1,
        "the waiting deal was taken up after the restart"
    );
    assert_eq!(started[0].seller_address, "77ab10@sale.craigslist.org");
    assert_eq!(
        negotiations(&system.store, &deal).len(),
        1,
        "not started twice"
    );
    // The operator does what the task says for the second listing too: that deal goes on
    // already, and nothing waits for an address any more, so the task closes itself.
    system
        .addrs
        .analyzer
        .send(AnalyzerMsg::ContactGiven {
            listing: deal2.listing,
            address: "77ab10@sale.craigslist.org".into(),
        })
        .unwrap();
    system.quiet.wait_quiet().await;
    let closed = tasks(&system.store);
    assert_eq!(closed.len(), 1);
    assert_eq!(
        closed[0].lifecycle.status,
        ApprovalStatus::Approved,
        "{:#?}",
        closed[0]
    );
    assert_eq!(
        negotiations(&system.store, &deal2).len(),
        1,
        "not started twice"
    );

    system.shutdown(Duration::from_secs(5)).await.unwrap();
    sites.stop().await;
}

/// eBay's search gives summaries: a listing worth pursuing is read whole (`getItem`) and
/// valued again before its deal goes on; one that ended meanwhile is passed with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ebay_summary_worth_pursuing_is_read_whole_first() {
    use bazaar_agents::connectors::{EbayBrowse, EbaySettings, PoliteConfig, Source};
    use bazaar_sim::ebay::{CatalogListing, EbayConfig, EbaySim};

    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let shared: SharedClock = Arc::new(clock.clone());
    let app = EbayConfig::default();
    let (ebay, _) = EbaySim::start(app.clone(), shared.clone()).await.unwrap();
    let mut whole = CatalogListing::new("Apple iPhone 7 32GB unlocked", Money::usd(12_000));
    whole.description = "Unlocked, battery replaced last year, no scratches.".into();
    let kept = ebay.add_listing(whole);
    let ended = ebay.add_listing(CatalogListing::new(
        "Apple iPhone 7 32GB unlocked",
        Money::usd(12_500),
    ));
    let store = SledStore::temporary().unwrap();
    let browse = EbayBrowse::new(
        EbaySettings::new(ebay.base_url(), &app.client_id, &app.client_secret, 1_000),
        PoliteConfig::simulated(),
        store.clone(),
        shared.clone(),
    )
    .unwrap();
    let mut parts = SystemParts::without_connectors(
        Arc::new(Config::load(None, std::iter::empty()).unwrap()),
        store,
        ProductIndex::in_memory(IndexConfig::default()).unwrap(),
        shared,
    );
    parts.sources = vec![Arc::new(browse) as Arc<dyn Source>];
    let system = System::start(parts).await.unwrap();
    let now = clock.now();
    observe(&system, iphone_market(now)).await;

    // Both as search summaries: no description; one ends before it is read whole.
    let summary = |external: &str, dollars: i64| {
        let mut l = listing(external, "Apple iPhone 7 32GB unlocked", dollars, now);
        l.marketplace = Marketplace::Ebay;
        l.description = String::new();
        l
    };
    assert!(ebay.end_listing(&ended));
    observe(&system, vec![summary(&kept, 120), summary(&ended, 125)]).await;

    let store = &system.store;
    let on_ebay = |external: &str| -> (MarketListing, Opportunity) {
        let listing: MarketListing = store
            .find(
                MarketListing::BY_SOURCE,
                &bazaar_memory::store::index_value(&["ebay", external]),
            )
            .unwrap()
            .remove(0);
        let opportunity = store
            .find(Opportunity::BY_LISTING, &listing.id.to_bytes())
            .unwrap()
            .remove(0);
        (listing, opportunity)
    };
    let (read, opportunity) = on_ebay(&kept);
    assert_eq!(
        read.description,
        "Unlocked, battery replaced last year, no scratches."
    );
    assert_eq!(opportunity.lifecycle.status, OpportunityStatus::Pursuing);
    let (_, gone) = on_ebay(&ended);
    assert_eq!(gone.lifecycle.status, OpportunityStatus::Passed);
    assert!(
        gone.lifecycle
            .history
            .last()
            .is_some_and(|h| h.reason.contains("ended before it could be read whole")),
        "{:#?}",
        gone.lifecycle
    );
    system.shutdown(Duration::from_secs(5)).await.unwrap();
}

/// A seller who takes calls or texts only gives no address to mail: the pursued deal is
/// passed with the number in the reason, and nobody is asked for an address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seller_who_takes_calls_only_is_passed_with_the_reason() {
    use bazaar_agents::connectors::{Craigslist, CraigslistSettings, PoliteConfig, Source};
    use bazaar_sim::sites::{ListingGenerator, Site, Sites, SitesConfig};

    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let shared: SharedClock = Arc::new(clock.clone());
    let mut generator = ListingGenerator::new(11, Site::Craigslist);
    generator.count = 2;
    let posted = generator.generate(clock.now());
    let config = SitesConfig {
        craigslist_phone_only_permille: 1000,
        ..SitesConfig::default()
    };
    let (sites, _) = Sites::start_with(config, posted.clone(), shared.clone())
        .await
        .unwrap();
    let craigslist = Craigslist::new(
        CraigslistSettings::new(sites.base_url()),
        PoliteConfig::simulated(),
        shared.clone(),
    )
    .unwrap();
    let mut parts = SystemParts::without_connectors(
        Arc::new(Config::load(None, std::iter::empty()).unwrap()),
        SledStore::temporary().unwrap(),
        ProductIndex::in_memory(IndexConfig::default()).unwrap(),
        shared,
    );
    parts.sources = vec![Arc::new(craigslist) as Arc<dyn Source>];
    let system = System::start(parts).await.unwrap();
    let now = clock.now();
    observe(&system, iphone_market(now)).await;
    let mut bargain = listing("deal", "Apple iPhone 7 32GB unlocked", 120, now);
    bargain.seller.external_id = "craigslist:deal".into();
    bargain.seller.contact_url = Some(format!(
        "{}/reply/{}/{}/{}",
        sites.base_url(),
        posted[0].area,
        posted[0].category.craigslist_posting_code(),
        posted[0].id
    ));
    observe(&system, vec![bargain]).await;

    let store = &system.store;
    let deal = opportunities_of(store, "deal").remove(0);
    assert_eq!(deal.lifecycle.status, OpportunityStatus::Passed);
    let why = &deal.lifecycle.history.last().unwrap().reason;
    assert!(
        why.contains("calls or texts only") && why.contains("(555) 555-01"),
        "{why}"
    );
    assert!(store
        .find::<Negotiation>(Negotiation::BY_OPPORTUNITY, &deal.id.to_bytes())
        .unwrap()
        .is_empty());
    assert!(
        store.all::<Approval>().unwrap().is_empty(),
        "no one is asked for an address"
    );
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    sites.stop().await;
}

/// The index re-indexes a product only when what it holds of it changes, so a run that
/// stopped without committing it (a crash) leaves updates that nothing would redo: the next
/// start rebuilds it from the store; a clean stop does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_a_crash_left_open_is_rebuilt_at_the_next_start() {
    let clock = SimClock::new(at("2026-05-01T09:00:00Z"));
    let config = Arc::new(Config::load(None, std::iter::empty()).unwrap());
    let store = SledStore::temporary().unwrap();
    let now = clock.now();
    let product = ProductRecord {
        id: ProductId::new_at(now),
        title: "Bose SoundLink Mini".into(),
        category: "electronics".into(),
        condition: Condition::Good,
        marketplace: Marketplace::Craigslist,
        listing: None,
        seller: None,
        asking: Some(Money::usd(80_00)),
        sold: None,
        price_history: vec![],
        first_seen: now,
        last_seen: now,
    };
    // In the store, never indexed: what a crash between the two leaves.
    store.put(&product).unwrap();
    let start = |index: ProductIndex| {
        System::start(SystemParts::without_connectors(
            config.clone(),
            store.clone(),
            index,
            Arc::new(clock.clone()),
        ))
    };
    let in_use = || store.get_meta::<bool>(meta_keys::INDEX_IN_USE).unwrap();
    let clean = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    let system = start(clean.clone()).await.unwrap();
    assert_eq!(clean.num_docs(), 0, "a store closed cleanly is trusted");
    assert_eq!(
        in_use(),
        Some(true),
        "a running system marks the index in use"
    );
    let shutdown = system.shutdown(Duration::from_secs(5)).await.unwrap();
    assert_eq!(shutdown, Shutdown::Requested { abandoned: 0 });
    assert_eq!(in_use(), None, "a clean stop clears the mark");
    // What a crash leaves: the mark still set.
    store.put_meta(meta_keys::INDEX_IN_USE, &true).unwrap();
    let after_crash = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    let system = start(after_crash.clone()).await.unwrap();
    assert_eq!(after_crash.num_docs(), 1, "the index was not rebuilt");
    system.shutdown(Duration::from_secs(5)).await.unwrap();
}
