//! The mail connector: how the gate's `SendEmail` actions leave.
//!
//! The Message-ID is derived from the action's idempotency key, so the same action always
//! carries the same id: the seller's reply finds its thread by it, and a repeat is
//! recognisable. After the server accepts the message, an outbound [`MailRecord`] is written:
//! it is the thread index the Mailroom routes replies with, and the proof `lookup` uses after
//! a crash.

use std::sync::Arc;

use bazaar_memory::{
    ActionKind, ActionRecord, MailDirection, MailRecord, MailRoute, NegotiationId, SharedClock,
    SledStore, Store,
};
use bazaar_policies::{BoxFuture, Effect, EffectError, Effector, Lookup};
use serde::{Deserialize, Serialize};

use super::{MailError, MailTransport, MessageId, OutgoingMail};

/// A `SendEmail` action's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendEmailParams {
    /// The recipient.
    pub to: String,
    pub subject: String,
    /// The text/plain body.
    pub text: String,
    /// The Message-ID this answers (without brackets).
    #[serde(default)]
    pub in_reply_to: Option<String>,
    /// The thread so far, oldest first.
    #[serde(default)]
    pub references: Vec<String>,
    /// The negotiation the mail belongs to.
    #[serde(default)]
    pub negotiation: Option<NegotiationId>,
}

/// Whether actions of this kind leave as email: our mail, and answers to buyers' offers
/// (which reach us by mail; eBay's REST APIs have no best-offer calls).
pub fn sends_mail(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::SendEmail
            | ActionKind::AcceptOffer
            | ActionKind::CounterOffer
            | ActionKind::DeclineOffer
    )
}

/// The Message-ID a `SendEmail` action with this idempotency key carries when sent from
/// `from` (the domain of the sender's address).
pub fn message_id_for(idempotency_key: &str, from: &str) -> MessageId {
    let domain = from.rsplit_once('@').map_or("bazaar.invalid", |(_, d)| d);
    MessageId::derive(idempotency_key, domain)
}

/// Sends `SendEmail` actions through a [`MailTransport`].
pub struct MailConnector {
    transport: Arc<dyn MailTransport>,
    store: SledStore,
    clock: SharedClock,
}

impl std::fmt::Debug for MailConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConnector")
            .field("from", &self.transport.address())
            .finish_non_exhaustive()
    }
}

impl MailConnector {
    /// A connector sending as the transport's owner.
    pub fn new(transport: Arc<dyn MailTransport>, store: SledStore, clock: SharedClock) -> Self {
        MailConnector {
            transport,
            store,
            clock,
        }
    }

    async fn send(&self, action: &ActionRecord) -> Result<Effect, EffectError> {
        let params: SendEmailParams = serde_json::from_value(action.params.clone())
            .map_err(|e| EffectError::Failed(format!("bad send_email parameters: {e}")))?;
        let from = self.transport.address().to_string();
        let message_id = message_id_for(&action.idempotency_key, &from);
        let parse_ids = |ids: &[String]| -> Result<Vec<MessageId>, EffectError> {
            ids.iter()
                .map(|id| MessageId::new(id).map_err(|e| EffectError::Failed(e.to_string())))
                .collect()
        };
        let in_reply_to = match &params.in_reply_to {
            Some(id) => Some(MessageId::new(id).map_err(|e| EffectError::Failed(e.to_string()))?),
            None => None,
        };
        let now = self.clock.now();
        let mail = OutgoingMail {
            from: from.clone(),
            from_name: None,
            to: vec![params.to.clone()],
            subject: params.subject.clone(),
            message_id: message_id.clone(),
            in_reply_to,
            references: parse_ids(&params.references)?,
            date: now,
            text: params.text.clone(),
        };
        self.transport.send(&mail).await.map_err(|e| match e {
            MailError::Smtp(why) => EffectError::Unknown(format!("smtp: {why}")),
            other => EffectError::Failed(other.to_string()),
        })?;
        let record = MailRecord {
            message_id: message_id.as_str().to_string(),
            direction: MailDirection::Outbound,
            from,
            to: mail.to.clone(),
            subject: params.subject,
            text: params.text,
            in_reply_to: params.in_reply_to,
            references: params.references,
            at: now,
            negotiation: params.negotiation,
            route: match action.kind {
                ActionKind::SendEmail => MailRoute::Negotiation,
                _ => MailRoute::BuyerOffer,
            },
        };
        // The mail is gone; failing to index it would only make its reply land in the inbox.
        if let Err(error) = self.store.put(&record) {
            tracing::warn!(%error, message_id = %record.message_id, "sent mail not indexed");
        }
        Ok(Effect {
            result: serde_json::json!({ "message_id": message_id.as_str() }),
            ..Effect::default()
        })
    }
}

impl Effector for MailConnector {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async move {
            if !sends_mail(action.kind) {
                return Err(EffectError::Failed(format!(
                    "the mail connector cannot {}",
                    action.kind
                )));
            }
            self.send(action).await
        })
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async move {
            let id = message_id_for(&action.idempotency_key, self.transport.address());
            match self.store.get::<MailRecord>(&id.as_str().to_string()) {
                Ok(Some(_)) => Lookup::Done(Effect {
                    result: serde_json::json!({ "message_id": id.as_str() }),
                    ..Effect::default()
                }),
                // Sent and crashed before indexing, or never sent: a mail server cannot be
                // asked, so a person decides.
                Ok(None) => Lookup::Unknown(format!(
                    "no record that mail {} was sent; check the Sent folder of {}",
                    id.as_str(),
                    self.transport.address()
                )),
                Err(error) => Lookup::Unknown(format!("store: {error}")),
            }
        })
    }
}

/// Routes the gate's actions to the connector for their kind; kinds without one fail with a
/// reason the operator can act on.
#[derive(Default)]
pub struct Connectors {
    /// Sends email.
    pub mail: Option<Arc<dyn Effector>>,
    /// Everything marketplace-side, when configured.
    pub marketplace: Option<Arc<dyn Effector>>,
    /// Purchases (arranged with the seller), when configured.
    pub purchases: Option<Arc<dyn Effector>>,
}

impl std::fmt::Debug for Connectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connectors")
            .field("mail", &self.mail.is_some())
            .field("marketplace", &self.marketplace.is_some())
            .field("purchases", &self.purchases.is_some())
            .finish()
    }
}

impl Connectors {
    fn route(&self, kind: ActionKind) -> Option<&Arc<dyn Effector>> {
        match kind {
            kind if sends_mail(kind) => self.mail.as_ref(),
            ActionKind::Purchase => self.purchases.as_ref(),
            _ => self.marketplace.as_ref(),
        }
    }
}

impl Effector for Connectors {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        match self.route(action.kind) {
            Some(effector) => effector.execute(action),
            None => {
                let none: &'static bazaar_policies::NoConnector = &bazaar_policies::NoConnector;
                none.execute(action)
            }
        }
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        match self.route(action.kind) {
            Some(effector) => effector.lookup(action),
            None => Box::pin(async { Lookup::NotDone }),
        }
    }
}
