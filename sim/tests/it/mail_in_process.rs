//! The in-process transport: a thread with correct threading headers, the high-water mark
//! across restarts, refused recipients, a recreated mailbox, and byte-identical runs.

use crate::mail_common;

use bazaar_sim::mail::{
    HighWaterMark, MailError, MailTransport, MessageId, OutgoingMail, PostOffice,
};
use mail_common::{at, AGENT, DOMAIN, SELLER};

fn office() -> PostOffice {
    PostOffice::with_mailboxes([AGENT, SELLER, "seller2@bazaar.test"]).unwrap()
}

#[tokio::test]
async fn thread_has_message_id_in_reply_to_and_references() {
    let office = office();
    let agent = office.transport(AGENT).unwrap();
    let seller = office.transport(SELLER).unwrap();
    mail_common::thread(&agent, &seller).await;
    assert_eq!(office.message_count(AGENT), 1);
    assert_eq!(office.message_count(SELLER), 2);
}

#[tokio::test]
async fn high_water_mark_survives_restarts() {
    let office = office();
    let seller = office.transport(SELLER).unwrap();
    // A little history first, so the mark does not start at zero.
    mail_common::thread(&office.transport(AGENT).unwrap(), &seller).await;
    let o = office.clone();
    mail_common::high_water_mark(&seller, move || {
        Box::new(o.transport(AGENT).unwrap()) as Box<dyn MailTransport>
    })
    .await;
}

#[tokio::test]
async fn unknown_recipient_is_refused_and_nothing_is_delivered() {
    let office = office();
    let agent = office.transport(AGENT).unwrap();
    let mut mail = OutgoingMail::new(
        AGENT,
        SELLER,
        "hello",
        "hi",
        MessageId::derive("x", DOMAIN),
        at(0),
    );
    mail.to.push("nobody@bazaar.test".into());
    let err = agent.send(&mail).await.unwrap_err();
    assert!(matches!(err, MailError::Rejected(_)), "{err}");
    assert_eq!(office.message_count(SELLER), 0);

    mail.to = vec!["not an address".into()];
    let err = agent.send(&mail).await.unwrap_err();
    assert!(matches!(err, MailError::InvalidAddress(_)), "{err}");
    assert!(matches!(
        office.transport("ghost@bazaar.test"),
        Err(MailError::NoMailbox(_))
    ));
}

#[tokio::test]
async fn recreated_mailbox_changes_uidvalidity() {
    let office = office();
    let agent = office.transport(AGENT).unwrap();
    let seller = office.transport(SELLER).unwrap();
    let note = |n: u32| {
        OutgoingMail::new(
            AGENT,
            SELLER,
            "s",
            "t",
            MessageId::derive(&n.to_string(), DOMAIN),
            at(n),
        )
    };
    agent.send(&note(1)).await.unwrap();
    let first = seller.fetch_new(None, 10).await.unwrap();
    assert_eq!(
        first.mark,
        HighWaterMark {
            uid_validity: 1,
            uid: 1
        }
    );

    office.recreate_mailbox(SELLER).unwrap();
    agent.send(&note(2)).await.unwrap();
    let after = seller.fetch_new(Some(first.mark), 10).await.unwrap();
    assert!(after.validity_changed);
    assert_eq!(
        after.mark,
        HighWaterMark {
            uid_validity: 2,
            uid: 1
        }
    );
    assert_eq!(after.messages.len(), 1);
    assert_eq!(after.messages[0].uid, 1);
}

#[tokio::test]
async fn deliveries_can_be_awaited() {
    let office = office();
    let mut changes = office.subscribe();
    let agent = office.transport(AGENT).unwrap();
    let mail = OutgoingMail::new(
        AGENT,
        SELLER,
        "s",
        "t",
        MessageId::derive("w", DOMAIN),
        at(0),
    );
    agent.send(&mail).await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(1), changes.changed())
        .await
        .expect("a delivery wakes the subscriber")
        .unwrap();
    assert_eq!(*changes.borrow(), 1);
}

/// Everything a run leaves in the mailboxes: (address, uid, raw bytes).
async fn run_once() -> Vec<(String, u32, Vec<u8>)> {
    let office = office();
    let agent = office.transport(AGENT).unwrap();
    let seller = office.transport(SELLER).unwrap();
    mail_common::thread(&agent, &seller).await;
    let o = office.clone();
    mail_common::high_water_mark(&seller, move || {
        Box::new(o.transport(AGENT).unwrap()) as Box<dyn MailTransport>
    })
    .await;
    let mut all = Vec::new();
    for address in office.addresses() {
        let t = office.transport(&address).unwrap();
        for m in t.fetch_new(None, 1000).await.unwrap().messages {
            all.push((address.clone(), m.uid, m.raw));
        }
    }
    all
}

#[tokio::test]
async fn same_inputs_give_byte_identical_mailboxes() {
    let a = run_once().await;
    let b = run_once().await;
    assert_eq!(a.len(), 8, "3 thread messages + 5 notes");
    assert_eq!(a, b);
    assert_eq!(
        MessageId::derive("action:offer:1", DOMAIN).as_str(),
        MessageId::derive("action:offer:1", DOMAIN).as_str()
    );
}
