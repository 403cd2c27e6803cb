//! Negotiations by email between Bazaar's Negotiator and the simulated world's sellers,
//! over the in-process post office or a real Postfix + Dovecot.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::negotiator::{NegotiatorMsg, StartNegotiation};
use bazaar_config::Config;
use bazaar_memory::{
    IndexConfig, MailDirection, MailRecord, MailRoute, Money, Negotiation, NegotiationStatus,
    OpportunityId, Party, ProductIndex, SellerId, SledStore, Store,
};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::mail::MailTransport;
use bazaar_sim::scenario::Scenario;
use bazaar_sim::sellers::Personality;
use bazaar_sim::world::{World, WorldConfig, WorldMail};
use bazaar_strategies::negotiation::{DealContext, SellerHistory};

/// The API key the test's LLM endpoint wants.
pub const LLM_KEY: &str = "sk-sim";

/// Which mail the two sides use.
pub enum Mail {
    /// The sim's in-process post office.
    InProcess,
    /// Real accounts: the agent's transport and one transport per seller account.
    Accounts {
        agent: Arc<dyn MailTransport>,
        sellers: Vec<Arc<dyn MailTransport>>,
    },
}

/// A policy that lets negotiation emails run without the operator (the approval path is
/// the gate's own tests' business), with a short outbox grace.
fn config(dir: &Path, llm: Option<&str>) -> Config {
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    if let Some(base_url) = llm {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.join("llm-key");
        std::fs::write(&key, LLM_KEY).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        config.llm.api_key = Some(bazaar_config::Secret::File(key));
        config.llm.enabled = true;
        config.llm.base_url = base_url.to_string();
        config.llm.model = bazaar_sim::llm::MODEL.to_string();
        config.llm.second_opinion = true;
        config.llm.rewrite = true;
    }
    config.mail.enabled = true;
    config.mail.poll_secs = 300;
    config.policy.email_grace_secs = 60;
    config.policy.high_value = Money::usd(10_000_000);
    config.policy.confidence.first_execution_factor = 1.0;
    config.policy.confidence.operator_away_factor = 1.0;
    config.policy.confidence.high_value_factor = 1.0;
    config.policy.confidence.medium_value_factor = 1.0;
    config
}

async fn start_system(
    dir: &Path,
    clock: &bazaar_memory::SimClock,
    mail: Arc<dyn MailTransport>,
    llm: Option<&str>,
) -> System {
    let store = SledStore::open(&dir.join("store")).unwrap();
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    System::start(SystemParts::with_mail(
        Arc::new(config(dir, llm)),
        store,
        index,
        Arc::new(clock.clone()),
        mail,
    ))
    .await
    .unwrap()
}

/// Lets the agent finish what the last clock move woke and every mail in flight arrive
/// (a real server delivers asynchronously), then moves the world on by `step`.
async fn tick(world: &mut World, system: &System, step: chrono::Duration) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(2)).await;
            system.quiet.wait_quiet().await;
        }
        let now = world.now();
        world.run_until(now).await.unwrap();
        let (ours, theirs) = mail_counts(&system.store);
        let received_by_world = count_events(world, "mail_received");
        let sent_by_world = world
            .event_log()
            .iter()
            .filter(|l| l.contains("\"event\":\"mail_sent\"") && l.contains("\"status\":\"sent\""))
            .count();
        if ours == received_by_world && theirs == sent_by_world {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "mail still in flight after 20 s: we sent {ours}, sellers got {received_by_world}; they sent {sent_by_world}, we read {theirs}"
        );
        // Read the agent's mailbox now rather than at its next timer.
        let _ = system.addrs.negotiator.send(NegotiatorMsg::Poll);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let until = world.now() + step;
    world.run_until(until).await.unwrap();
}

/// Mail the agent sent, and seller mail it read (not the operator's), from its store.
fn mail_counts(store: &SledStore) -> (usize, usize) {
    let all = store.all::<MailRecord>().unwrap();
    let sent = all
        .iter()
        .filter(|m| m.direction == MailDirection::Outbound)
        .count();
    let read = all
        .iter()
        .filter(|m| m.direction == MailDirection::Inbound && m.route != MailRoute::Inbox)
        .count();
    (sent, read)
}

fn count_events(world: &World, event: &str) -> usize {
    let needle = format!("\"event\":\"{event}\"");
    world
        .event_log()
        .iter()
        .filter(|l| l.contains(&needle))
        .count()
}

/// A negotiation with `seller_address` about `subject`, as the DealAnalyzer starts one for
/// a private seller asking `asking`, with our `ceiling`.
pub fn start_negotiation(
    seller_address: &str,
    subject: &str,
    asking: Money,
    ceiling: Money,
    now: chrono::DateTime<chrono::Utc>,
) -> StartNegotiation {
    StartNegotiation {
        opportunity: OpportunityId::new_at(now),
        seller: SellerId::new_at(now),
        seller_address: seller_address.to_string(),
        subject: subject.to_string(),
        deal: DealContext {
            asking,
            ceiling,
            valuation_confidence: 0.9,
            expected_margin: 0.2,
            pay_asking: false,
            category: "electronics".into(),
            business_seller: false,
            time_left: None,
        },
        history: SellerHistory::default(),
    }
}

/// One scripted seller and what we expect of the negotiation with them.
struct Case {
    address: String,
    personality: Personality,
    /// Our ceiling as thousandths of their reserve.
    ceiling_permille_of_reserve: i64,
    expect: &'static [NegotiationStatus],
}

/// Runs the four negotiations; with `llm` (an OpenAI-compatible base URL) the Negotiator asks
/// it for second opinions and rewrites.
pub async fn run_negotiations(mail: Mail, llm: Option<&str>) {
    let mut scenario = Scenario::builtin("small");
    scenario.sellers.sold_elsewhere_per_day_permille = 0;
    let (world_mail, agent) = match mail {
        Mail::InProcess => (WorldMail::InProcess, None),
        Mail::Accounts { agent, sellers } => (WorldMail::Accounts { sellers }, Some(agent)),
    };
    let mut world = World::start(WorldConfig {
        mail: world_mail,
        ..WorldConfig::new(scenario)
    })
    .await
    .unwrap();
    let agent: Arc<dyn MailTransport> = match agent {
        Some(agent) => agent,
        None => {
            let office = world.post_office().unwrap().clone();
            Arc::new(office.transport(&world.endpoints().agent_mail).unwrap())
        }
    };
    // Four sellers with posted listings and reachable addresses.
    let truth = world.ground_truth();
    let start = world.now();
    let mut addresses: Vec<(String, String)> = truth["listings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["venue"] == "craigslist")
        .filter(|l| {
            chrono::DateTime::parse_from_rfc3339(l["posted_at"].as_str().unwrap()).unwrap() <= start
        })
        .map(|l| {
            (
                l["reply_address"].as_str().unwrap().to_string(),
                l["title"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    addresses.sort();
    if let Some(domain) = agent.address().split('@').nth(1) {
        // With real accounts only the server's own addresses are reachable.
        let domain = format!("@{domain}");
        addresses.retain(|(a, _)| world.post_office().is_some() || a.ends_with(&domain));
    }
    assert!(addresses.len() >= 4, "need four sellers: {addresses:?}");
    let cases = [
        (
            Personality::Flexible,
            1100,
            &[NegotiationStatus::Agreed][..],
        ),
        (
            Personality::NeverAnswers,
            1100,
            &[NegotiationStatus::WalkedAway][..],
        ),
        (
            Personality::Firm,
            700,
            &[NegotiationStatus::WalkedAway, NegotiationStatus::Failed][..],
        ),
        (Personality::Haggler, 1050, &[NegotiationStatus::Agreed][..]),
    ];
    let mut plan = Vec::new();
    for ((address, title), (personality, share, expect)) in addresses.into_iter().zip(cases) {
        assert!(world.script_seller(&address, personality));
        plan.push((
            Case {
                address,
                personality,
                ceiling_permille_of_reserve: share,
                expect,
            },
            title,
        ));
    }

    let dir = tempfile::tempdir().unwrap();
    let mut system = start_system(dir.path(), world.clock(), agent.clone(), llm).await;
    for (case, title) in &plan {
        let (asking, reserve, _) = world.seller_secret(&case.address).unwrap();
        let ceiling = Money::new(
            (reserve.minor * case.ceiling_permille_of_reserve / 1000).min(asking.minor),
            asking.currency,
        );
        let start = start_negotiation(&case.address, title, asking, ceiling, world.now());
        system
            .addrs
            .negotiator
            .send(NegotiatorMsg::Start(Box::new(start)))
            .unwrap();
    }

    // Someone who is not in any negotiation writes: that is for the operator.
    if let Some(office) = world.post_office() {
        let stranger = "pat@example.com";
        office.create_mailbox(stranger).unwrap();
        let mail = bazaar_sim::mail::OutgoingMail::new(
            stranger,
            agent.address(),
            "Are you buying desks?",
            "Hi, I have a desk to sell, are you interested?",
            bazaar_sim::mail::MessageId::derive("stranger-1", "example.com"),
            world.now(),
        );
        office
            .transport(stranger)
            .unwrap()
            .send(&mail)
            .await
            .unwrap();
    }

    // Half a day, a restart, then up to three weeks.
    let step = chrono::Duration::minutes(30);
    for _ in 0..24 {
        tick(&mut world, &system, step).await;
    }
    let before_restart = threads(&system.store);
    system.quiet.wait_quiet().await;
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    system = start_system(dir.path(), world.clock(), agent.clone(), llm).await;
    for _ in 0..(24 * 2 * 21) {
        tick(&mut world, &system, step).await;
        let open = threads(&system.store)
            .values()
            .filter(|n| n.lifecycle.status == NegotiationStatus::Open)
            .count();
        if open == 0 {
            break;
        }
    }
    tick(&mut world, &system, step).await;
    tick(&mut world, &system, chrono::Duration::zero()).await;
    let after = threads(&system.store);

    // Outcomes.
    for (case, _) in &plan {
        let n = after
            .values()
            .find(|n| n.seller_address == case.address)
            .unwrap_or_else(|| panic!("no negotiation with {}", case.address));
        let ours = n.rounds.iter().filter(|r| r.from == Party::Us).count();
        let theirs = n.rounds.iter().filter(|r| r.from == Party::Seller).count();
        eprintln!(
            "{:?}: {} after {ours} of ours, {theirs} of theirs; agreed {:?}; ceiling {}",
            case.personality,
            n.lifecycle.status,
            n.agreed_price.map(|p| p.to_string()),
            n.ceiling
        );
        assert!(
            case.expect.contains(&n.lifecycle.status),
            "{:?} ended {} ({:#?})",
            case.personality,
            n.lifecycle.status,
            n.rounds
        );
        for round in n.rounds.iter().filter(|r| r.from == Party::Us) {
            if let Some(price) = round.price {
                assert!(
                    price.minor <= n.ceiling.minor,
                    "offered {price} over the ceiling {}",
                    n.ceiling
                );
            }
        }
        if case.personality == Personality::NeverAnswers {
            assert!(
                ours >= 2,
                "silence draws follow-ups before walking away: {ours}"
            );
            assert_eq!(theirs, 0);
        }
        if let Some(price) = n.agreed_price {
            assert!(price.minor <= n.ceiling.minor);
        }
    }
    // Nothing sent twice: every Message-ID the sellers received is unique, and every message
    // of ours in the threads reached the world exactly once.
    let received: Vec<String> = world
        .event_log()
        .iter()
        .filter(|l| l.contains("\"event\":\"mail_received\""))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message_id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let mut unique = received.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        received.len(),
        "a message was sent twice: {received:?}"
    );
    for n in after.values() {
        for round in n.rounds.iter().filter(|r| r.from == Party::Us) {
            assert!(
                received.contains(&round.message_id),
                "{} never arrived",
                round.message_id
            );
        }
    }
    // Nothing missed: every reply the sellers sent is in a thread.
    let replies: Vec<MailRecord> = system
        .store
        .all::<MailRecord>()
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == MailDirection::Inbound && m.route != MailRoute::Inbox)
        .collect();
    let sent_by_sellers = world
        .event_log()
        .iter()
        .filter(|l| l.contains("\"event\":\"mail_sent\"") && l.contains("\"status\":\"sent\""))
        .count();
    assert_eq!(
        replies.len(),
        sent_by_sellers,
        "every seller reply was read once"
    );
    for reply in &replies {
        assert!(
            after
                .values()
                .any(|n| n.rounds.iter().any(|r| r.message_id == reply.message_id)),
            "reply {} was not handled",
            reply.message_id
        );
    }
    // The stranger's mail became one task in the operator's inbox.
    if world.post_office().is_some() {
        let tasks: Vec<bazaar_memory::Approval> = system
            .store
            .all::<bazaar_memory::Approval>()
            .unwrap()
            .into_iter()
            .filter(|a| a.action.is_none() && a.summary.contains("pat@example.com"))
            .collect();
        assert_eq!(tasks.len(), 1, "{tasks:#?}");
        assert!(tasks[0].summary.contains("Are you buying desks?"));
    }
    // The restart happened mid-negotiation: threads were open then.
    assert!(before_restart
        .values()
        .any(|n| n.lifecycle.status == NegotiationStatus::Open));
    system.shutdown(Duration::from_secs(5)).await.unwrap();
    world.shutdown().await.unwrap();
}

fn threads(store: &SledStore) -> BTreeMap<String, Negotiation> {
    store
        .all::<Negotiation>()
        .unwrap()
        .into_iter()
        .map(|n| (n.id.to_string(), n))
        .collect()
}
