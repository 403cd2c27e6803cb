//! The Negotiator end to end against the simulated world's sellers, by email: several
//! negotiations at once reach agreement, rejection, silence with follow-ups and walk-away;
//! the system is restarted mid-negotiation and every thread resumes without re-sending or
//! missing a message.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::negotiator::NegotiatorMsg;
use bazaar_memory::{Clock, IndexConfig, Money, ProductIndex, SimClock, SledStore};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::mail::{
    FetchBatch, HighWaterMark, MailFuture, MailTransport, MessageId, OutgoingMail, PostOffice,
};

use crate::negotiation_common;

use negotiation_common::{run_negotiations, start_negotiation, Mail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiations_by_email_over_the_in_process_post_office() {
    run_negotiations(Mail::InProcess, None).await;
}

/// The same over real Postfix + Dovecot (as root; CI fails rather than skips without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiations_by_email_over_postfix_and_dovecot() {
    use bazaar_sim::mail::ThrowawayServer;

    let dir = std::env::temp_dir().join("bazaar-runtime-negotiation-mail");
    let Some(server) = ThrowawayServer::start_or_skip(&dir, 2725, 1343) else {
        return;
    };
    let transport = |user: &str| -> Arc<dyn MailTransport> {
        Arc::new(server.transport(&format!("{user}@bazaar.test")).unwrap())
    };
    let sellers = ["seller1", "seller2", "seller3", "seller4", "seller5"]
        .map(transport)
        .to_vec();
    run_negotiations(
        Mail::Accounts {
            agent: transport("agent"),
            sellers,
        },
        None,
    )
    .await;
    drop(server);
}

/// With the optional language model: second opinions on unsure readings and rewritten emails
/// (the sim's model flaws one rewrite in four; those are discarded). The outcomes and the
/// no-duplicate, nothing-missed checks hold as without it, and no email carries an amount
/// above the ceiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiations_with_llm_second_opinions_and_rewrites() {
    let llm = bazaar_sim::llm::LlmSim::start(bazaar_sim::llm::LlmConfig {
        seed: 3,
        api_key: negotiation_common::LLM_KEY.into(),
        created: 0,
    })
    .await
    .unwrap();
    run_negotiations(Mail::InProcess, Some(&llm.base_url())).await;
    // Every email was offered for rewriting (the unsure readings add more).
    assert!(
        llm.answered() >= 10,
        "the model was asked {} times",
        llm.answered()
    );
}

/// A mailbox that counts how often it is read, with no push signal: the Negotiator polls
/// it on the clock alone.
struct CountingMailbox {
    inner: Arc<dyn MailTransport>,
    reads: AtomicUsize,
}

impl MailTransport for CountingMailbox {
    fn address(&self) -> &str {
        self.inner.address()
    }

    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> MailFuture<'a, MessageId> {
        self.inner.send(mail)
    }

    fn fetch_new(&self, since: Option<HighWaterMark>, limit: usize) -> MailFuture<'_, FetchBatch> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch_new(since, limit)
    }
}

/// Starting negotiations does not multiply the polls: each used to arm a poll timer of
/// its own, so ten negotiations read the mailbox (and every open thread) eleven times
/// every five minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mailbox_is_polled_on_one_timer_however_many_negotiations_start() {
    let office = PostOffice::new();
    office.create_mailbox("agent@bazaar.test").unwrap();
    let mailbox = Arc::new(CountingMailbox {
        inner: Arc::new(office.transport("agent@bazaar.test").unwrap()),
        reads: AtomicUsize::new(0),
    });
    let clock = SimClock::new("2026-03-02T08:00:00Z".parse().unwrap());
    let mut config = bazaar_config::Config::load(None, std::iter::empty()).unwrap();
    config.mail.enabled = true;
    config.mail.poll_secs = 300;
    let data = tempfile::tempdir().unwrap();
    let system = System::start(SystemParts::with_mail(
        Arc::new(config),
        SledStore::open(&data.path().join("store")).unwrap(),
        ProductIndex::in_memory(IndexConfig::default()).unwrap(),
        Arc::new(clock.clone()),
        mailbox.clone(),
    ))
    .await
    .unwrap();
    let settle = || async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            system.quiet.wait_quiet().await;
        }
    };
    settle().await;
    for n in 0..10 {
        let start = start_negotiation(
            &format!("seller{n}@example.com"),
            &format!("Desk number {n}"),
            Money::usd(10_000),
            Money::usd(8_000),
            clock.now(),
        );
        system
            .addrs
            .negotiator
            .send(NegotiatorMsg::Start(Box::new(start)))
            .unwrap();
    }
    settle().await;
    let before = mailbox.reads.load(Ordering::SeqCst);
    // An hour, five minutes at a time: twelve polls are due, a few more where a thread
    // wakes between them; eleven timers made it about 130.
    for _ in 0..12 {
        clock.advance_by(Duration::from_secs(300));
        settle().await;
    }
    let polls = mailbox.reads.load(Ordering::SeqCst) - before;
    eprintln!("{polls} reads of the mailbox in the hour after ten negotiations started");
    assert!(
        (10..=36).contains(&polls),
        "{polls} reads of the mailbox in an hour polled every five minutes"
    );
    system.shutdown(Duration::from_secs(5)).await.unwrap();
}
