//! The SMTP + IMAP transport against real Postfix + Dovecot, started on private ports through
//! `sim/scripts/mail-server.sh` (as root; it installs the packages if missing): a thread
//! between agent@bazaar.test and seller1@bazaar.test with correct Message-ID / In-Reply-To /
//! References, the high-water mark across reconnects, refused recipients, and a world seller
//! (seller2@bazaar.test) countering an offer under the reserve and accepting one at it. The servers are
//! stopped at the end. Without root or the servers the test skips, unless `CI=true`, where it
//! fails.

mod mail_common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use bazaar_sim::mail::{
    MailError, MailTransport, MessageId, OutgoingMail, SmtpImapConfig, SmtpImapTransport,
};
use bazaar_sim::world::{World, WorldConfig, WorldMail};
use mail_common::{at, AGENT, DOMAIN, SELLER};

const SMTP_PORT: &str = "2625";
const IMAP_PORT: &str = "1243";

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/mail-server.sh")
}

fn mail_dir() -> PathBuf {
    std::env::temp_dir().join("bazaar-sim-mail-test")
}

fn script_command(action: &str) -> Command {
    let mut c = Command::new("bash");
    c.arg(script())
        .arg(action)
        .env("BAZAAR_MAIL_DIR", mail_dir())
        .env("BAZAAR_SMTP_PORT", SMTP_PORT)
        .env("BAZAAR_IMAP_PORT", IMAP_PORT);
    c
}

/// The running servers; stopping them when dropped (also when the test panics).
struct Servers {
    env: HashMap<String, String>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        let t = Instant::now();
        match script_command("stop").output() {
            Ok(o) if o.status.success() => eprintln!("mail servers stopped in {:?}", t.elapsed()),
            Ok(o) => eprintln!(
                "mail-server.sh stop failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(e) => eprintln!("mail-server.sh stop: {e}"),
        }
    }
}

impl Servers {
    fn start() -> Result<Self, String> {
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| format!("id -u: {e}"))?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("not root: mail-server.sh needs root to run Postfix + Dovecot".into());
        }
        let t = Instant::now();
        let out = script_command("start")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script().display()))?;
        if !out.status.success() {
            // Stop whatever may have started before the failure.
            let _ = script_command("stop").output();
            return Err(format!(
                "mail-server.sh start failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        eprintln!("mail servers started in {:?}", t.elapsed());
        let text = std::fs::read_to_string(mail_dir().join("env")).map_err(|e| {
            let _ = script_command("stop").output();
            format!("mail-server.sh wrote no env file: {e}")
        })?;
        let env = text
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
            .collect();
        Ok(Servers { env })
    }

    fn transport(&self, address: &str) -> SmtpImapTransport {
        let port = |k: &str| self.env[k].parse::<u16>().expect("port");
        let config = SmtpImapConfig::loopback(
            address,
            &self.env["BAZAAR_MAIL_PASSWORD"],
            port("BAZAAR_SMTP_PORT"),
            port("BAZAAR_IMAP_PORT"),
        );
        SmtpImapTransport::new(config).expect("transport")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_and_high_water_mark_over_postfix_and_dovecot() {
    let servers = match Servers::start() {
        Ok(s) => s,
        Err(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "Postfix + Dovecot could not be started, and CI must run the mail test \
                     (run as root; sim/scripts/mail-server.sh installs postfix dovecot-imapd \
                     dovecot-lmtpd): {why}"
                );
            }
            eprintln!("skipped: {why}");
            return;
        }
    };
    assert_eq!(servers.env["BAZAAR_SMTP_PORT"], SMTP_PORT);
    assert!(servers.env["BAZAAR_MAIL_USERS"].contains(SELLER));

    let agent = servers.transport(AGENT);
    let seller = servers.transport(SELLER);

    let t = Instant::now();
    mail_common::thread(&agent, &seller).await;
    eprintln!(
        "thread (3 messages, each sent and fetched) in {:?}",
        t.elapsed()
    );

    let t = Instant::now();
    mail_common::high_water_mark(&seller, || Box::new(servers.transport(AGENT))).await;
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
    let mut config = SmtpImapConfig::loopback(
        AGENT,
        "wrong",
        SMTP_PORT.parse().unwrap(),
        IMAP_PORT.parse().unwrap(),
    );
    config.timeout = std::time::Duration::from_secs(5);
    let bad = SmtpImapTransport::new(config).unwrap();
    let err = bad.fetch_new(None, 10).await.unwrap_err();
    assert!(matches!(err, MailError::Imap(_)), "{err}");

    // The world's sellers over the real servers: seller2 sells the world's first posted
    // Craigslist listing and haggles by email.
    let t = Instant::now();
    let seller2: std::sync::Arc<dyn MailTransport> =
        std::sync::Arc::new(servers.transport("seller2@bazaar.test"));
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

    agent.disconnect().await;
    seller.disconnect().await;
    drop(servers);
}
