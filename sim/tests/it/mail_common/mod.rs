//! Behaviours every `MailTransport` must show, run by `mail_in_process.rs` over the
//! in-process post office and by `mail_postfix.rs` over real Postfix + Dovecot.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bazaar_sim::mail::{HighWaterMark, MailMessage, MailTransport, MessageId, OutgoingMail};
use chrono::{DateTime, TimeZone, Utc};

pub const DOMAIN: &str = "bazaar.test";
pub const AGENT: &str = "agent@bazaar.test";
pub const SELLER: &str = "seller1@bazaar.test";

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, minute, 0).unwrap()
}

/// Fetches from `mark` until `n` messages came (a real server delivers asynchronously),
/// returning them and the final mark. Panics after 10 s.
pub async fn fetch_n(
    t: &dyn MailTransport,
    mut mark: Option<HighWaterMark>,
    n: usize,
) -> (Vec<MailMessage>, Option<HighWaterMark>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n {
        let batch = t.fetch_new(mark, 100).await.expect("fetch");
        assert!(!batch.validity_changed);
        got.extend(batch.messages);
        mark = Some(batch.mark);
        if got.len() < n {
            assert!(
                Instant::now() < deadline,
                "{} has {} of {n} messages after 10 s",
                t.address(),
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(
        got.len(),
        n,
        "more messages than expected for {}",
        t.address()
    );
    (got, mark)
}

/// Waits until the mailbox holds `n` messages in all (read from the start, marks untouched).
pub async fn wait_for_total(t: &dyn MailTransport, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let batch = t.fetch_new(None, 1000).await.expect("fetch");
        if batch.messages.len() >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never reached {n} messages",
            t.address()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Offer → reply → reply to the reply, checking every threading header on the way.
/// Returns the three Message-IDs.
pub async fn thread(agent: &dyn MailTransport, seller: &dyn MailTransport) -> [MessageId; 3] {
    let offer_id = MessageId::derive("action:offer:1", DOMAIN);
    let mut offer = OutgoingMail::new(
        AGENT,
        SELLER,
        "Your road bike listing",
        "Hi! Would you take $120 for the bike?\nThanks, Sam",
        offer_id.clone(),
        at(0),
    );
    offer.from_name = Some("Sam".into());
    assert_eq!(agent.send(&offer).await.expect("send offer"), offer_id);

    let (got, _) = fetch_n(seller, None, 1).await;
    let received = &got[0];
    let e = &received.envelope;
    assert_eq!(e.message_id.as_ref(), Some(&offer_id));
    assert_eq!(e.from.as_deref(), Some(AGENT));
    assert_eq!(e.from_name.as_deref(), Some("Sam"));
    assert_eq!(e.to, vec![SELLER.to_owned()]);
    assert_eq!(e.subject, "Your road bike listing");
    assert_eq!(e.date, Some(at(0)));
    assert_eq!(e.in_reply_to, None);
    assert!(e.references.is_empty());
    assert_eq!(
        received.text,
        "Hi! Would you take $120 for the bike?\nThanks, Sam\n"
    );
    let raw = String::from_utf8_lossy(&received.raw);
    assert!(raw.contains(&format!("Message-ID: {offer_id}")), "{raw}");

    let counter_id = MessageId::derive("seller1:reply:1", DOMAIN);
    let counter = OutgoingMail::reply_to(
        received,
        SELLER,
        "I could do 150. It's in great shape.",
        counter_id.clone(),
        at(5),
    );
    assert_eq!(counter.to, vec![AGENT.to_owned()]);
    seller.send(&counter).await.expect("send counter");

    let (got, _) = fetch_n(agent, None, 1).await;
    let e = &got[0].envelope;
    assert_eq!(e.message_id.as_ref(), Some(&counter_id));
    assert_eq!(e.subject, "Re: Your road bike listing");
    assert_eq!(e.in_reply_to.as_ref(), Some(&offer_id));
    assert_eq!(e.references, vec![offer_id.clone()]);
    let raw = String::from_utf8_lossy(&got[0].raw);
    assert!(raw.contains(&format!("In-Reply-To: {offer_id}")), "{raw}");
    assert!(raw.contains(&format!("References: {offer_id}")), "{raw}");

    let accept_id = MessageId::derive("action:offer:2", DOMAIN);
    let accept = OutgoingMail::reply_to(&got[0], AGENT, "Deal at $150.", accept_id.clone(), at(9));
    assert_eq!(accept.subject, "Re: Your road bike listing", "no Re: Re:");
    agent.send(&accept).await.expect("send accept");

    let (got, _) = fetch_n(seller, None, 2).await;
    let e = &got[1].envelope;
    assert_eq!(e.message_id.as_ref(), Some(&accept_id));
    assert_eq!(e.in_reply_to.as_ref(), Some(&counter_id));
    assert_eq!(e.references, vec![offer_id.clone(), counter_id.clone()]);
    assert_eq!(
        e.thread_ids().next(),
        Some(&offer_id),
        "the thread root comes first"
    );
    [offer_id, counter_id, accept_id]
}

fn seller_note(n: u32) -> OutgoingMail {
    OutgoingMail::new(
        SELLER,
        AGENT,
        &format!("note {n}"),
        &format!("message number {n}"),
        MessageId::derive(&format!("seller1:note:{n}"), DOMAIN),
        at(n),
    )
}

/// The high-water mark across "restarts": each phase uses a fresh agent transport from
/// `open_agent`, given only the mark the previous one saved. Every message is read exactly
/// once, in order, with `limit` bounding each fetch.
pub async fn high_water_mark<F>(seller: &dyn MailTransport, open_agent: F)
where
    F: Fn() -> Box<dyn MailTransport>,
{
    let before = open_agent().fetch_new(None, 1000).await.expect("fetch");
    let start = before.mark;
    let already = before.messages.len();

    for n in 1..=3 {
        seller.send(&seller_note(n)).await.expect("send");
    }
    wait_for_total(&*open_agent(), already + 3).await;

    let mut seen: Vec<MessageId> = Vec::new();
    let agent = open_agent();
    let first = agent.fetch_new(Some(start), 2).await.expect("fetch");
    assert_eq!(first.messages.len(), 2);
    assert!(first.more, "a third message is waiting");
    assert!(!first.validity_changed);
    seen.extend(
        first
            .messages
            .iter()
            .filter_map(|m| m.envelope.message_id.clone()),
    );
    let saved = first.mark;
    drop(agent); // "restart": only `saved` survives

    let agent = open_agent();
    let second = agent.fetch_new(Some(saved), 2).await.expect("fetch");
    assert_eq!(second.messages.len(), 1);
    assert!(!second.more);
    assert!(second.mark.uid > saved.uid);
    assert_eq!(second.mark.uid_validity, saved.uid_validity);
    seen.extend(
        second
            .messages
            .iter()
            .filter_map(|m| m.envelope.message_id.clone()),
    );
    let saved = second.mark;
    // Nothing new: the same mark comes back.
    let idle = agent.fetch_new(Some(saved), 2).await.expect("fetch");
    assert!(idle.messages.is_empty());
    assert_eq!(idle.mark, saved);
    drop(agent);

    for n in 4..=5 {
        seller.send(&seller_note(n)).await.expect("send");
    }
    let agent = open_agent();
    let (rest, saved) = fetch_n(&*agent, Some(saved), 2).await;
    seen.extend(rest.iter().filter_map(|m| m.envelope.message_id.clone()));
    drop(agent);

    let expected: Vec<MessageId> = (1..=5)
        .map(|n| MessageId::derive(&format!("seller1:note:{n}"), DOMAIN))
        .collect();
    assert_eq!(seen, expected, "each message once, in order");
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 5);

    let after = open_agent().fetch_new(saved, 1000).await.expect("fetch");
    assert!(after.messages.is_empty(), "nothing is read twice");

    // A mark from another UIDVALIDITY: everything is read again, and the batch says why.
    let stale = HighWaterMark {
        uid_validity: saved.unwrap().uid_validity.wrapping_add(1),
        uid: 1,
    };
    let again = open_agent()
        .fetch_new(Some(stale), 1000)
        .await
        .expect("fetch");
    assert!(again.validity_changed);
    assert_eq!(again.messages.len(), already + 5);
    assert_eq!(again.mark, saved.unwrap());
}

/// A scenario for seller-thread tests: small, every seller flexible, nobody sells elsewhere,
/// so the outcome depends only on the offers.
pub fn flexible_scenario() -> bazaar_sim::scenario::Scenario {
    let mut scenario = bazaar_sim::scenario::Scenario::builtin("small");
    scenario.sellers.personalities = [(bazaar_sim::sellers::Personality::Flexible, 1)].into();
    scenario.sellers.sold_elsewhere_per_day_permille = 0;
    scenario
}

/// Advances the world an hour at a time until the agent has a new message (a real server
/// delivers asynchronously, so real time passes too). Panics after two simulated weeks or
/// 60 real seconds.
pub async fn await_reply(
    world: &mut bazaar_sim::world::World,
    agent: &dyn MailTransport,
    mark: &mut Option<HighWaterMark>,
) -> MailMessage {
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..24 * 14 {
        let next = world.now() + chrono::Duration::hours(1);
        world.run_until(next).await.expect("world runs");
        let batch = agent.fetch_new(*mark, 10).await.expect("fetch");
        *mark = Some(batch.mark);
        if let Some(message) = batch.messages.into_iter().next() {
            return message;
        }
        assert!(Instant::now() < deadline, "no reply within 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no reply within two simulated weeks");
}

/// The decision the world logged for the last message `seller` read.
fn last_decision(world: &bazaar_sim::world::World, seller: &str) -> serde_json::Value {
    let line = world
        .event_log()
        .iter()
        .rev()
        .find(|l| l.contains("\"seller_decided\"") && l.contains(seller))
        .expect("a decision was logged");
    let event: serde_json::Value = serde_json::from_str(line).unwrap();
    event["decision"].clone()
}

/// The agent haggles with a world seller by email: an offer below the reserve draws a
/// counter (never under the reserve), one at the reserve draws acceptance, and every reply
/// threads correctly (Message-ID, In-Reply-To, References, `Re:` subject).
pub async fn seller_thread(
    world: &mut bazaar_sim::world::World,
    agent: &dyn MailTransport,
    seller: &str,
) {
    use bazaar_memory::Money;
    let (asking, reserve, _) = world.seller_secret(seller).expect("a world seller");
    let low = Money::new((reserve.minor * 80 / 100) / 100 * 100, reserve.currency);
    assert!(low.minor < reserve.minor && reserve.minor <= asking.minor);
    let mut mark = agent.fetch_new(None, 100).await.expect("fetch").mark.into();

    let first = OutgoingMail::new(
        agent.address(),
        seller,
        "Your listing",
        &format!("Hi! Would you take {low} for it? I can pick it up today."),
        MessageId::derive("world-offer-1", DOMAIN),
        world.now(),
    );
    agent.send(&first).await.expect("send offer");
    let counter = await_reply(world, agent, &mut mark).await;
    let env = &counter.envelope;
    assert_eq!(env.from.as_deref(), Some(seller));
    assert_eq!(env.subject, "Re: Your listing");
    assert_eq!(env.in_reply_to.as_ref(), Some(&first.message_id));
    assert_eq!(env.references, vec![first.message_id.clone()]);
    let decision = last_decision(world, seller);
    assert_eq!(decision["decision"], "counter", "{decision}");
    let countered = Money::from_decimal_str(decision["price"].as_str().unwrap(), reserve.currency)
        .unwrap_or_else(|_| panic!("a price in {decision}"));
    assert!(
        countered.minor >= reserve.minor,
        "countered {countered} under the reserve {reserve}"
    );
    assert!(!counter.text.trim().is_empty());

    let second = OutgoingMail::reply_to(
        &counter,
        agent.address(),
        &format!("Could you do {reserve}? Cash, today."),
        MessageId::derive("world-offer-2", DOMAIN),
        world.now(),
    );
    agent.send(&second).await.expect("send second offer");
    let accept = await_reply(world, agent, &mut mark).await;
    let env = &accept.envelope;
    assert_eq!(env.in_reply_to.as_ref(), Some(&second.message_id));
    let counter_id = counter
        .envelope
        .message_id
        .clone()
        .expect("the counter has an id");
    assert_eq!(
        env.references,
        vec![
            first.message_id.clone(),
            counter_id,
            second.message_id.clone()
        ]
    );
    let decision = last_decision(world, seller);
    assert_eq!(decision["decision"], "accept", "{decision}");
    let deals = world.ground_truth()["deals"].clone();
    assert_eq!(deals.as_array().map(Vec::len), Some(1), "{deals}");
    assert_eq!(deals[0]["price"], reserve.to_decimal_string());
    assert_eq!(deals[0]["buyer"], agent.address());
}
