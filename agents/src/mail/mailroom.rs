//! The Mailroom: reads the agent's mailbox and sorts what came in.
//!
//! Each received message is recorded once under its Message-ID ([`MailRecord`]), routed —
//! to the negotiation whose mail it answers (In-Reply-To / References, else the sender's
//! address on an open negotiation), or to the operator's inbox — and only then is the
//! mailbox's high-water mark stored. A crash before that reads the batch again; the
//! Message-ID record makes the second read harmless. Nothing is read twice or missed across
//! restarts, and a UIDVALIDITY change re-reads the mailbox without repeating anything.

use std::sync::Arc;

use bazaar_memory::meta_keys;
use bazaar_memory::{
    MailDirection, MailRecord, MailRoute, Negotiation, NegotiationId, NegotiationStatus,
    SharedClock, SledStore, Store, StoreError,
};
use sha2::{Digest, Sha256};

use super::{HighWaterMark, MailError, MailMessage, MailTransport};

/// Messages fetched per round trip.
const BATCH: usize = 50;

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum MailroomError {
    /// The mail server failed; try again later.
    #[error(transparent)]
    Mail(#[from] MailError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message the Mailroom routed to a negotiation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub negotiation: NegotiationId,
    /// The message's id (its [`MailRecord`] key).
    pub message_id: String,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Messages fetched.
    pub fetched: usize,
    /// Seen before (same Message-ID): skipped.
    pub duplicates: usize,
    /// Routed to the operator's inbox: (Message-ID, sender, subject).
    pub to_inbox: Vec<(String, String, String)>,
    /// Routed to negotiations, in arrival order.
    pub delivered: Vec<Delivered>,
    /// Buyer offers on our listings (Message-IDs), in arrival order: the Autopilot's.
    pub buyer_offers: Vec<String>,
}

/// Reads one mailbox into the store.
pub struct Mailroom {
    transport: Arc<dyn MailTransport>,
    store: SledStore,
    clock: SharedClock,
}

impl std::fmt::Debug for Mailroom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailroom")
            .field("address", &self.transport.address())
            .finish_non_exhaustive()
    }
}

impl Mailroom {
    /// A mailroom for the transport's mailbox.
    pub fn new(transport: Arc<dyn MailTransport>, store: SledStore, clock: SharedClock) -> Self {
        Mailroom {
            transport,
            store,
            clock,
        }
    }

    /// Fetches everything new, records and routes it, then stores the mark.
    pub async fn poll(&self) -> Result<PollReport, MailroomError> {
        let mut report = PollReport::default();
        let mut mark: Option<HighWaterMark> = self.store.get_meta(meta_keys::MAIL_INBOX_MARK)?;
        loop {
            let batch = self.transport.fetch_new(mark, BATCH).await?;
            if batch.validity_changed {
                tracing::warn!(
                    address = self.transport.address(),
                    "mailbox uidvalidity changed; re-reading it (known messages are skipped)"
                );
            }
            report.fetched += batch.messages.len();
            for message in &batch.messages {
                self.receive(message, &mut report)?;
            }
            // Durable before the mark moves past these messages.
            self.store.flush().await?;
            if mark != Some(batch.mark) {
                self.store
                    .put_meta(meta_keys::MAIL_INBOX_MARK, &batch.mark)?;
            }
            mark = Some(batch.mark);
            if !batch.more {
                break;
            }
        }
        self.store.flush().await?;
        Ok(report)
    }

    fn receive(&self, message: &MailMessage, report: &mut PollReport) -> Result<(), StoreError> {
        let env = &message.envelope;
        let message_id = match &env.message_id {
            Some(id) => id.as_str().to_string(),
            // No Message-ID: name it by its bytes, so a re-read is still recognised.
            None => format!("{}@no-message-id.bazaar.invalid", digest(&message.raw)),
        };
        if self.store.get::<MailRecord>(&message_id)?.is_some() {
            report.duplicates += 1;
            return Ok(());
        }
        let from = env
            .reply_to
            .clone()
            .or_else(|| env.from.clone())
            .unwrap_or_default();
        let negotiation = self.thread_of(message, &from)?;
        let text = message.body.clone();
        let buyer_offer = negotiation.is_none()
            && (offered_listing(&env.subject).is_some() || self.answers_buyer_offer(message)?);
        let route = match (negotiation, text.trim().is_empty()) {
            (Some(_), false) => MailRoute::Negotiation,
            (Some(_), true) => MailRoute::Ignored,
            (None, false) if buyer_offer => MailRoute::BuyerOffer,
            (None, _) => MailRoute::Inbox,
        };
        let record = MailRecord {
            message_id: message_id.clone(),
            direction: MailDirection::Inbound,
            from: from.clone(),
            to: env.to.clone(),
            subject: env.subject.clone(),
            text,
            in_reply_to: env.in_reply_to.as_ref().map(|id| id.as_str().to_string()),
            references: env
                .references
                .iter()
                .map(|id| id.as_str().to_string())
                .collect(),
            at: self.clock.now(),
            negotiation,
            route,
        };
        self.store.put(&record)?;
        match (route, negotiation) {
            (MailRoute::Negotiation, Some(negotiation)) => {
                tracing::info!(%negotiation, %from, message_id, "seller reply");
                report.delivered.push(Delivered {
                    negotiation,
                    message_id,
                });
            }
            (MailRoute::Inbox, _) => {
                tracing::info!(%from, subject = %env.subject, message_id, "mail for the operator");
                report
                    .to_inbox
                    .push((message_id, from, env.subject.clone()));
            }
            (MailRoute::BuyerOffer, _) => {
                tracing::info!(%from, subject = %env.subject, message_id, "buyer offer");
                report.buyer_offers.push(message_id);
            }
            _ => tracing::info!(%from, message_id, "empty reply ignored"),
        }
        Ok(())
    }

    /// Whether the message answers mail of a buyer-offer thread.
    fn answers_buyer_offer(&self, message: &MailMessage) -> Result<bool, StoreError> {
        let env = &message.envelope;
        for id in env.in_reply_to.iter().chain(env.references.iter()) {
            let record = self.store.get::<MailRecord>(&id.as_str().to_string())?;
            if record.is_some_and(|r| r.route == MailRoute::BuyerOffer) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The negotiation a message belongs to: the newest thread id we know, else an open
    /// negotiation with the sender.
    fn thread_of(
        &self,
        message: &MailMessage,
        from: &str,
    ) -> Result<Option<NegotiationId>, StoreError> {
        let env = &message.envelope;
        let ids = env
            .in_reply_to
            .iter()
            .chain(env.references.iter().rev())
            .map(|id| id.as_str().to_string());
        for id in ids {
            if let Some(record) = self.store.get::<MailRecord>(&id)? {
                if record.negotiation.is_some() {
                    return Ok(record.negotiation);
                }
            }
        }
        if from.is_empty() {
            return Ok(None);
        }
        let open = self
            .store
            .with_status::<Negotiation>(NegotiationStatus::Open)?;
        Ok(open
            .into_iter()
            .filter(|n| n.seller_address.eq_ignore_ascii_case(from))
            .max_by_key(|n| n.id)
            .map(|n| n.id))
    }
}

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The eBay listing a buyer's offer is about, from its subject ("Offer on eBay item
/// 110000000123: …", as eBay's best-offer mail reads; "Re: " prefixes allowed).
pub fn offered_listing(subject: &str) -> Option<&str> {
    let (_, rest) = subject.split_once("Offer on eBay item ")?;
    let id = rest.split(|c: char| !c.is_ascii_alphanumeric()).next()?;
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::offered_listing;

    #[test]
    fn buyer_offer_subjects_name_their_listing() {
        let cases = [
            (
                "Offer on eBay item 110000000123: Bose speaker",
                Some("110000000123"),
            ),
            (
                "Re: Offer on eBay item 110000000123: Bose speaker",
                Some("110000000123"),
            ),
            ("Offer on eBay item : nothing", None),
            ("Bose speaker still available?", None),
        ];
        for (subject, want) in cases {
            assert_eq!(offered_listing(subject), want, "{subject:?}");
        }
    }
}
