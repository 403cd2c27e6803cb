//! The in-process transport: a shared [`PostOffice`] holding one mailbox per address, with
//! IMAP-like UIDs and UIDVALIDITY, so `bazaar sim` runs without a mail server. Everything is
//! deterministic: UIDs count from 1 per mailbox, UIDVALIDITY counts (re)creations, and the
//! stored bytes are exactly [`OutgoingMail::to_rfc5322`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use bazaar_mail::{
    parse_address, plan, FetchBatch, HighWaterMark, MailError, MailFuture, MailMessage,
    MailTransport, MessageId, OutgoingMail,
};

/// Mailboxes by address. Cloning shares them.
#[derive(Clone, Debug)]
pub struct PostOffice {
    inner: Arc<Mutex<Boxes>>,
    deliveries: Arc<watch::Sender<u64>>,
}

#[derive(Debug, Default)]
struct Boxes {
    boxes: BTreeMap<String, Mailbox>,
    delivered: u64,
}

#[derive(Debug)]
struct Mailbox {
    uid_validity: u32,
    next_uid: u32,
    messages: Vec<(u32, Arc<[u8]>)>,
}

impl Mailbox {
    fn new(uid_validity: u32) -> Self {
        Self {
            uid_validity,
            next_uid: 1,
            messages: Vec::new(),
        }
    }
}

impl Default for PostOffice {
    fn default() -> Self {
        Self::new()
    }
}

impl PostOffice {
    /// An empty post office.
    pub fn new() -> Self {
        Self {
            inner: Arc::default(),
            deliveries: Arc::new(watch::channel(0).0),
        }
    }

    /// A post office with these mailboxes.
    pub fn with_mailboxes<'a>(
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, MailError> {
        let office = Self::new();
        for a in addresses {
            office.create_mailbox(a)?;
        }
        Ok(office)
    }

    fn lock(&self) -> MutexGuard<'_, Boxes> {
        // The lock is never held across a panic point that leaves the data inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the mailbox for `address` if it does not exist (UIDVALIDITY 1).
    pub fn create_mailbox(&self, address: &str) -> Result<(), MailError> {
        let address = parse_address(address)?;
        self.lock()
            .boxes
            .entry(address)
            .or_insert_with(|| Mailbox::new(1));
        Ok(())
    }

    /// Empties the mailbox and gives it the next UIDVALIDITY, as a server does when a
    /// mailbox is deleted and created again: old high-water marks no longer apply.
    pub fn recreate_mailbox(&self, address: &str) -> Result<(), MailError> {
        let address = parse_address(address)?;
        let mut boxes = self.lock();
        let validity = boxes.boxes.get(&address).map_or(1, |b| b.uid_validity + 1);
        boxes.boxes.insert(address, Mailbox::new(validity));
        Ok(())
    }

    /// The addresses that have a mailbox, sorted.
    pub fn addresses(&self) -> Vec<String> {
        self.lock().boxes.keys().cloned().collect()
    }

    /// How many messages the mailbox holds (0 if there is none).
    pub fn message_count(&self, address: &str) -> usize {
        let Ok(address) = parse_address(address) else {
            return 0;
        };
        self.lock()
            .boxes
            .get(&address)
            .map_or(0, |b| b.messages.len())
    }

    /// A counter of deliveries that changes after every delivered message: wait on it
    /// instead of polling (the in-process counterpart of IMAP IDLE).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.deliveries.subscribe()
    }

    /// The transport of the owner of `address` (its mailbox must exist).
    pub fn transport(&self, address: &str) -> Result<InProcessTransport, MailError> {
        let address = parse_address(address)?;
        if !self.lock().boxes.contains_key(&address) {
            return Err(MailError::NoMailbox(address));
        }
        Ok(InProcessTransport {
            office: self.clone(),
            address,
        })
    }

    /// Delivers `raw` to every recipient, or to none if any has no mailbox.
    pub(crate) fn deliver(&self, recipients: &[String], raw: Vec<u8>) -> Result<(), MailError> {
        let raw: Arc<[u8]> = raw.into();
        let delivered = {
            let mut boxes = self.lock();
            if let Some(unknown) = recipients.iter().find(|r| !boxes.boxes.contains_key(*r)) {
                return Err(MailError::Rejected(format!("<{unknown}>: no such mailbox")));
            }
            for r in recipients {
                let mailbox = boxes.boxes.get_mut(r).expect("checked above");
                let uid = mailbox.next_uid;
                mailbox.next_uid += 1;
                mailbox.messages.push((uid, raw.clone()));
            }
            boxes.delivered += recipients.len() as u64;
            boxes.delivered
        };
        self.deliveries.send_replace(delivered);
        Ok(())
    }

    fn fetch(
        &self,
        address: &str,
        since: Option<HighWaterMark>,
        limit: usize,
    ) -> Result<FetchBatch, MailError> {
        let boxes = self.lock();
        let mailbox = boxes
            .boxes
            .get(address)
            .ok_or_else(|| MailError::NoMailbox(address.to_owned()))?;
        let p = plan(
            mailbox.uid_validity,
            mailbox.messages.iter().map(|(uid, _)| *uid),
            since,
            limit,
        );
        let raws: Vec<(u32, Arc<[u8]>)> = mailbox
            .messages
            .iter()
            .filter(|(uid, _)| p.uids.binary_search(uid).is_ok())
            .cloned()
            .collect();
        drop(boxes);
        Ok(FetchBatch {
            messages: raws
                .into_iter()
                .map(|(uid, raw)| MailMessage::parse(uid, raw.to_vec()))
                .collect(),
            mark: p.mark,
            more: p.more,
            validity_changed: p.validity_changed,
        })
    }
}

/// One mailbox owner's view of a [`PostOffice`].
#[derive(Clone, Debug)]
pub struct InProcessTransport {
    office: PostOffice,
    address: String,
}

impl InProcessTransport {
    /// The post office this transport uses.
    pub fn post_office(&self) -> &PostOffice {
        &self.office
    }
}

impl MailTransport for InProcessTransport {
    fn address(&self) -> &str {
        &self.address
    }

    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> MailFuture<'a, MessageId> {
        Box::pin(async move {
            let (_, to) = mail.addresses()?;
            let raw = mail.to_rfc5322()?;
            self.office.deliver(&to, raw)?;
            Ok(mail.message_id.clone())
        })
    }

    fn fetch_new(&self, since: Option<HighWaterMark>, limit: usize) -> MailFuture<'_, FetchBatch> {
        Box::pin(async move { self.office.fetch(&self.address, since, limit) })
    }
}
