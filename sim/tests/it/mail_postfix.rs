//! The SMTP + IMAP transport against real Postfix + Dovecot, started on private ports through
//! `sim/scripts/mail-server.sh` (as root; it installs the packages if missing): a thread
//! between agent@bazaar.test and seller1@bazaar.test with correct Message-ID / In-Reply-To /
//! References, the high-water mark across reconnects, refused recipients, and a world seller
//! (seller2@bazaar.test) countering an offer under the reserve and accepting one at it; then
//! TLS (SMTP STARTTLS, IMAP over implicit TLS, self-signed) and IMAP IDLE waking on new mail. The servers are
//! stopped at the end. Without root or the servers the test skips, unless `CI=true`, where it
//! fails.

use crate::mail_common;

use std::time::Instant;

use bazaar_sim::mail::{
    MailError, MailTransport, MessageId, OutgoingMail, SmtpImapConfig, SmtpImapTransport,
    ThrowawayServer,
};
use bazaar_sim::world::{World, WorldConfig, WorldMail};
use mail_common::{at, AGENT, DOMAIN, SELLER};

const SMTP_PORT: u16 = 2625;
const IMAP_PORT: u16 = 1243;
const IMAPS_PORT: u16 = 1244;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_and_high_water_mark_over_postfix_and_dovecot() {
    let dir = std::env::temp_dir().join("bazaar-sim-mail-test");
    let Some(servers) =
        ThrowawayServer::start_with_or_skip(&dir, SMTP_PORT, IMAP_PORT, Some(IMAPS_PORT))
    else {
        return;
    };
    assert_eq!(servers.env["BAZAAR_SMTP_PORT"], SMTP_PORT.to_string());
    assert!(servers.env["BAZAAR_MAIL_USERS"].contains(SELLER));

    let agent = servers.transport(AGENT).unwrap();
    let seller = servers.transport(SELLER).unwrap();

    let t = Instant::now();
    mail_common::thread(&agent, &seller).await;
    eprintln!(
        "thread (3 messages, each sent and fetched) in {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    mail_common::high_water_mark(&seller, || Box::new(servers.transport(AGENT).unwrap())).await;
    eprintln!("high-water mark across reconnects in {:?}", t.elapsed());

    // Postfix refuses unknown users and other domains at RCPT time: permanent errors.
    let mut mail = OutgoingMail::new(
        AGENT,
        "nobody@bazaar.test",
        "hello",
        "hi",
        MessageId::derive("refused", DOMAIN),
        at(30),
    );
    let err = agent.send(&mail).await.unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err}");
    mail.to = vec!["someone@example.com".into()];
    let err = agent.send(&mail).await.unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err}");

    // A wrong password is an IMAP error, not a hang.
    let mut config = SmtpImapConfig::loopback(AGENT, "wrong", SMTP_PORT, IMAP_PORT);
    config.timeout = std::time::Duration::from_secs(5);
    let bad = SmtpImapTransport::new(config).unwrap();
    let err = bad.fetch_new(None, 10).await.unwrap_err();
    assert!(matches!(err, MailError::Imap(_)), "{err}");

    // The world's sellers over the real servers: seller2 sells the world's first posted
    // Craigslist listing and haggles by email.
    let t = Instant::now();
    let seller2: std::sync::Arc<dyn MailTransport> =
        std::sync::Arc::new(servers.transport("seller2@bazaar.test").unwrap());
    let mut config = WorldConfig::new(mail_common::flexible_scenario());
    config.mail = WorldMail::Accounts {
        sellers: vec![seller2],
    };
    let mut world = World::start(config).await.expect("world starts");
    mail_common::seller_thread(&mut world, &agent, "seller2@bazaar.test").await;
    world.shutdown().await.expect("world stops");
    eprintln!(
        "world seller thread (offer, counter, offer, accept) in {:?}",
        t.elapsed()
    );

    // TLS (STARTTLS for SMTP, implicit TLS for IMAP) and IMAP IDLE: the agent waits in IDLE,
    // the seller writes, IDLE wakes, and the fetch over TLS reads it.
    let t = Instant::now();
    let secure = servers.tls_transport(AGENT).unwrap().unwrap();
    let mark = secure
        .fetch_new(None, 100)
        .await
        .expect("fetch over tls")
        .mark;
    let waiting = tokio::spawn(async move {
        let changed = secure
            .wait_for_mail(std::time::Duration::from_secs(20))
            .await;
        (secure, changed)
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let seller_tls = servers.tls_transport(SELLER).unwrap().unwrap();
    let ping = OutgoingMail::new(
        SELLER,
        AGENT,
        "still there?",
        "Still interested? 150 firm.",
        MessageId::derive("idle-ping", DOMAIN),
        at(40),
    );
    seller_tls.send(&ping).await.expect("send over starttls");
    let (secure, changed) = waiting.await.unwrap();
    assert!(
        changed.expect("idle works on dovecot"),
        "idle woke on new mail"
    );
    let (got, _) = mail_common::fetch_n(&secure, Some(mark), 1).await;
    assert_eq!(got[0].envelope.message_id.as_ref(), Some(&ping.message_id));
    // Nothing new: IDLE times out and says so.
    let idle = secure
        .wait_for_mail(std::time::Duration::from_millis(500))
        .await;
    assert!(!idle.unwrap(), "no change, no wake-up");
    eprintln!("tls + idle in {:?}", t.elapsed());

    agent.disconnect().await;
    seller.disconnect().await;
    drop(servers);
}
