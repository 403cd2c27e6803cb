//! The IMAP server restarted mid-session, over real Postfix + Dovecot (as root; CI fails
//! rather than skips without them): while Dovecot is down every poll fails and the operator
//! gets one inbox task for the incident, not one per poll; mail that arrived meanwhile is
//! read once Dovecot is back, exactly once; a later outage is a new incident.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bazaar_config::Config;
use bazaar_memory::{
    Approval, IndexConfig, MailDirection, MailRecord, ProductIndex, SimClock, SledStore, Store,
};
use bazaar_runtime::system::{System, SystemParts};
use bazaar_sim::mail::{MailTransport, MessageId, OutgoingMail, ThrowawayServer};

/// Inbox tasks whose summary contains `needle`.
fn tasks(store: &SledStore, needle: &str) -> usize {
    store
        .all::<Approval>()
        .unwrap()
        .iter()
        .filter(|a| a.action.is_none() && a.summary.contains(needle))
        .count()
}

/// Steps until `done` holds; Postfix delivers in wall time, so this waits in wall time.
async fn step_until<F: std::future::Future<Output = ()>>(
    what: &str,
    done: impl Fn() -> bool,
    step: impl Fn() -> F,
) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "gave up waiting: {what}"
        );
        step().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imap_restart_is_one_alert_and_no_mail_is_lost_or_read_twice() {
    let dir = std::env::temp_dir().join("bazaar-runtime-mail-outage");
    let Some(server) = ThrowawayServer::start_or_skip(&dir, 2727, 1347) else {
        return;
    };
    let agent: Arc<dyn MailTransport> = Arc::new(server.transport("agent@bazaar.test").unwrap());
    let seller = server.transport("seller1@bazaar.test").unwrap();

    let clock = SimClock::new("2026-03-02T08:00:00Z".parse().unwrap());
    let mut config = Config::load(None, std::iter::empty()).unwrap();
    config.mail.enabled = true;
    config.mail.poll_secs = 300;
    let data = tempfile::tempdir().unwrap();
    let store = SledStore::open(&data.path().join("store")).unwrap();
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    let system = System::start(SystemParts::with_mail(
        Arc::new(config),
        store,
        index,
        Arc::new(clock.clone()),
        agent,
    ))
    .await
    .unwrap();

    // Five simulated minutes (one poll), letting the agent settle.
    let step = || async {
        clock.advance_by(Duration::from_secs(300));
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            system.quiet.wait_quiet().await;
        }
    };
    let send = |n: u32| {
        let mail = OutgoingMail::new(
            "seller1@bazaar.test",
            "agent@bazaar.test",
            &format!("Desk number {n}"),
            "Hi, is this still something you buy?",
            MessageId::derive(&format!("outage-{n}"), "bazaar.test"),
            chrono::Utc::now(),
        );
        let seller = &seller;
        async move { seller.send(&mail).await.unwrap() }
    };
    let store = system.store.clone();
    let read = || tasks(&store, "read mail from seller1@bazaar.test");
    let down = || tasks(&store, "cannot read the mailbox");

    send(1).await;
    step_until("the first mail is read", || read() == 1, step).await;

    // Dovecot goes down; mail keeps arriving at Postfix, which queues it.
    server.stop_imap().unwrap();
    send(2).await;
    for _ in 0..6 {
        step().await;
    }
    assert_eq!(down(), 1, "one alert for half an hour of failed polls");
    assert_eq!(read(), 1);

    // Back: the queued mail is read, once, and nothing before it again.
    server.start_imap().unwrap();
    step_until(
        "the mail sent while IMAP was down is read",
        || read() == 2,
        step,
    )
    .await;
    for _ in 0..6 {
        step().await;
    }
    assert_eq!(read(), 2, "nothing read twice");
    assert_eq!(down(), 1, "no alert while it works");
    let received = store
        .all::<MailRecord>()
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == MailDirection::Inbound)
        .count();
    assert_eq!(received, 2);

    // A later outage is a new incident.
    server.stop_imap().unwrap();
    step().await;
    step().await;
    assert_eq!(down(), 2);
    server.start_imap().unwrap();

    system.shutdown(Duration::from_secs(5)).await.unwrap();
    drop(server);
}
