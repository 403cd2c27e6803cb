//! The Negotiator: haggles with sellers by email.
//!
//! A negotiation starts from a [`StartNegotiation`] (the deal's analysis and the seller's
//! history); the strategy (`bazaar_strategies::negotiation`) decides every move and writes
//! every email; the Negotiator keeps the thread in the store and proposes each email to the
//! gate as a `SendEmail` action whose idempotency key names the negotiation and the message
//! number — so after a crash the same email is never sent twice, and its Message-ID (derived
//! from the key) is known before it leaves.
//!
//! The order of writes is what makes restarts safe: the negotiation (its new round, the
//! strategy's state, when to wake) is stored and flushed before the email is proposed; a
//! received reply is recorded by the [`Mailroom`] before the mailbox mark moves, and handled
//! replies are the ones in the negotiation's rounds. On (re)start the actor handles every
//! recorded reply that is not in its rounds yet, and re-proposes the last email of each open
//! thread (a duplicate for the gate when it was already proposed).
//!
//! Seller text is data: it is read for intent and price and screened for injected
//! instructions; prices come only from the strategy, and every offer carries the ceiling as
//! `max_value`, which the gate enforces.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bazaar_config::StrategyProfile;
use bazaar_memory::{
    ActionKind, Addr, Envelope, Lifecycle, MailDirection, MailRecord, MailRoute, MarketListing,
    Money, Negotiation, NegotiationId, NegotiationStatus, Opportunity, OpportunityId, Party, Round,
    Seller, SellerEvent, SellerId, Store,
};
use bazaar_policies::{Action, GateMsg, Outcome};
use bazaar_strategies::negotiation::{
    choose_strategy, screen, step, writing, DealContext, Decision, Event, NegotiationState,
    SellerHistory, Status, StrategyKind,
};
use bazaar_strategies::understand::{understand, Reply};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::autopilot::AutopilotMsg;
use crate::incident::Incidents;
use crate::inventory::InventoryMsg;
use crate::mail::{message_id_for, MailError, Mailroom, SendEmailParams};
use crate::{ActorReport, AgentContext};

/// Messages to the Negotiator.
#[derive(Debug)]
pub enum NegotiatorMsg {
    /// Open a negotiation (ignored if an open or agreed one exists for the opportunity).
    Start(Box<StartNegotiation>),
    /// Read the mailbox and wake the threads whose time has come.
    Poll,
    /// Report what the actor holds.
    Status(RpcReplyPort<ActorReport>),
}

/// Everything a negotiation starts from.
#[derive(Debug, Clone)]
pub struct StartNegotiation {
    /// The opportunity it is for.
    pub opportunity: OpportunityId,
    pub seller: SellerId,
    /// The seller's email address.
    pub seller_address: String,
    /// The thread's subject (the listing's title).
    pub subject: String,
    /// The analysis: asking price, ceiling, confidence.
    pub deal: DealContext,
    /// What memory says about the seller.
    pub history: SellerHistory,
}

/// The Negotiator actor.
#[derive(Debug, Default)]
pub struct Negotiator;

/// The Negotiator's state; everything durable is in the store.
#[derive(Debug)]
pub struct NegotiatorState {
    ctx: AgentContext,
    mailroom: Option<Mailroom>,
    /// An IMAP IDLE wait is running (at most one at a time).
    idling: Arc<AtomicBool>,
    /// The transport has no push signal: poll on the clock only.
    no_push: Arc<AtomicBool>,
    /// The mailbox cannot be read: one alert per incident, not one per poll.
    mailbox_down: Incidents<()>,
    /// When the armed poll timer fires. One timer at a time: every new negotiation and
    /// every poll arms it again, and each used to add a timer of its own, so the polls
    /// (each reading every open thread) multiplied with the negotiations ever started.
    next_poll: Arc<Mutex<Option<DateTime<Utc>>>>,
}

impl Actor for Negotiator {
    type Msg = Envelope<NegotiatorMsg>;
    type State = NegotiatorState;
    type Arguments = AgentContext;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        ctx: AgentContext,
    ) -> Result<NegotiatorState, ActorProcessingErr> {
        let mailroom = ctx
            .mail
            .clone()
            .map(|mail| Mailroom::new(mail, ctx.store.clone(), ctx.clock.clone()));
        if mailroom.is_some() {
            // The first poll also resumes whatever a crash interrupted.
            let _ = ctx.addrs.negotiator.send(NegotiatorMsg::Poll);
        }
        Ok(NegotiatorState {
            ctx,
            mailroom,
            idling: Arc::default(),
            no_push: Arc::default(),
            mailbox_down: Incidents::default(),
            next_poll: Arc::default(),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut NegotiatorState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _in_flight) in envelope.drain() {
            match msg {
                NegotiatorMsg::Start(start) => state.start(*start).await?,
                NegotiatorMsg::Poll => state.poll().await?,
                NegotiatorMsg::Status(reply) => {
                    let _ = reply.send(state.report()?);
                }
            }
        }
        Ok(())
    }
}

impl NegotiatorState {
    fn open(&self) -> Result<Vec<Negotiation>, ActorProcessingErr> {
        Ok(self
            .ctx
            .store
            .with_status::<Negotiation>(NegotiationStatus::Open)?)
    }

    fn report(&self) -> Result<ActorReport, ActorProcessingErr> {
        let open = self.open()?.len();
        let idle = match (&self.mailroom, open) {
            (None, _) => Some("no mailbox configured ([mail] enabled = false)".to_string()),
            (Some(_), 0) => Some("no open negotiations".to_string()),
            _ => None,
        };
        Ok(ActorReport {
            actor: "negotiator",
            summary: format!("{open} open negotiations"),
            idle,
        })
    }

    async fn start(&mut self, start: StartNegotiation) -> Result<(), ActorProcessingErr> {
        let store = &self.ctx.store;
        // An ended negotiation does not stop a new one: the DealAnalyzer pursues a listing
        // again after its price came down.
        let existing = store.find(Negotiation::BY_OPPORTUNITY, &start.opportunity.to_bytes())?;
        if existing.iter().any(|n| {
            matches!(
                n.lifecycle.status,
                NegotiationStatus::Open | NegotiationStatus::Agreed
            )
        }) {
            tracing::info!(opportunity = %start.opportunity, "negotiation already exists");
            return Ok(());
        }
        if self.mailroom.is_none() {
            tracing::warn!(opportunity = %start.opportunity, "cannot negotiate: no mailbox configured");
            return Ok(());
        }
        let naive = self.ctx.config.strategy.profile == StrategyProfile::Naive;
        if naive && start.deal.asking > start.deal.ceiling {
            // The naive baseline buys at the asking price or not at all.
            tracing::info!(opportunity = %start.opportunity, asking = %start.deal.asking, ceiling = %start.deal.ceiling, "naive baseline: asking above the ceiling; not buying");
            return Ok(());
        }
        let now = self.ctx.clock.now();
        let id = NegotiationId::new_at(now);
        let mut history = start.history.clone();
        if history.past_negotiations == 0 {
            if let Some(seller) = store.get::<Seller>(&start.seller)? {
                history = seller_history(&seller);
            }
        }
        let choice = choose_strategy(&start.deal, &history);
        let choice = match self.ctx.config.strategy.profile {
            StrategyProfile::Ours => choice,
            StrategyProfile::Seed => choice.with_kind(StrategyKind::SeedRule),
            StrategyProfile::Naive => choice.naive(),
        };
        tracing::info!(
            negotiation = %id,
            persona = choice.persona.as_str(),
            strategy = choice.kind.as_str(),
            why = %choice.why.join("; "),
            "negotiation opens"
        );
        let mut strategy = NegotiationState::new(&id.to_string(), choice, &start.deal);
        let mut negotiation = Negotiation {
            id,
            opportunity: start.opportunity,
            seller: start.seller,
            ceiling: start.deal.ceiling,
            lifecycle: Lifecycle::new(NegotiationStatus::Open),
            rounds: Vec::new(),
            agreed_price: None,
            seller_address: start.seller_address,
            subject: start.subject,
            strategy_state: None,
            wake_at: None,
        };
        let decision = step(&mut strategy, Event::Start, now);
        self.act(&mut negotiation, &mut strategy, decision, now)
            .await?;
        self.arm_timer();
        Ok(())
    }

    /// Reads the mailbox, handles every recorded reply not handled yet, wakes due threads,
    /// re-proposes each open thread's last email, and sets the next timer.
    async fn poll(&mut self) -> Result<(), ActorProcessingErr> {
        let Some(mailroom) = &self.mailroom else {
            return Ok(());
        };
        let delivered = match mailroom.poll().await {
            Ok(report) => {
                if let Some(incident) = self.mailbox_down.recovered(&()) {
                    let minutes = (self.ctx.clock.now() - incident.since).num_minutes();
                    tracing::info!(
                        failed_polls = incident.failures,
                        minutes,
                        "the mailbox can be read again"
                    );
                }
                if report.fetched > 0 {
                    tracing::debug!(
                        fetched = report.fetched,
                        duplicates = report.duplicates,
                        to_inbox = report.to_inbox.len(),
                        replies = report.delivered.len(),
                        "mail read"
                    );
                }
                for (message_id, from, subject) in &report.to_inbox {
                    let summary = format!("read mail from {from}: {subject:?}");
                    let reason = format!("not part of any negotiation (Message-ID {message_id})");
                    crate::tasks::open_task(&self.ctx, summary, reason).await?;
                }
                for message_id in report.buyer_offers {
                    let _ = self
                        .ctx
                        .addrs
                        .autopilot
                        .send(AutopilotMsg::BuyerOffer(message_id));
                }
                report.delivered
            }
            // The server may be down; the next poll tries again.
            Err(error) => {
                if self.mailbox_down.failed((), self.ctx.clock.now()) {
                    tracing::warn!(%error, "cannot read the mailbox; polling carries on");
                    let summary = format!("cannot read the mailbox: {error}");
                    let reason = "the mailbox is polled as usual and the negotiations wait for \
                                  it; this is the one alert for this incident, and the log \
                                  says when it can be read again"
                        .to_string();
                    crate::tasks::open_task(&self.ctx, summary, reason).await?;
                } else {
                    tracing::debug!(%error, "cannot read the mailbox, still");
                }
                Vec::new()
            }
        };
        let now = self.ctx.clock.now();
        // Replies to threads that already ended join the thread; nothing more is done.
        for delivered in delivered {
            let Some(mut negotiation) =
                self.ctx.store.get::<Negotiation>(&delivered.negotiation)?
            else {
                continue;
            };
            if negotiation.lifecycle.status == NegotiationStatus::Open {
                continue;
            }
            for reply in self.unhandled_replies(&negotiation)? {
                tracing::info!(negotiation = %negotiation.id, message_id = %reply.message_id, "reply after the negotiation ended");
                negotiation.rounds.push(Round {
                    at: reply.at,
                    from: Party::Seller,
                    message_id: reply.message_id,
                    text: reply.text,
                    price: None,
                });
            }
            self.ctx.store.put(&negotiation)?;
        }
        for mut negotiation in self.open()? {
            let mut strategy = self.strategy_of(&negotiation)?;
            self.resend_last(&negotiation).await?;
            for reply in self.unhandled_replies(&negotiation)? {
                if negotiation.lifecycle.status != NegotiationStatus::Open {
                    break;
                }
                self.on_reply(&mut negotiation, &mut strategy, reply, now)
                    .await?;
            }
            let due = negotiation.wake_at.is_some_and(|at| at <= now);
            if due && negotiation.lifecycle.status == NegotiationStatus::Open {
                let decision = step(&mut strategy, Event::NoReplyBy(now), now);
                self.act(&mut negotiation, &mut strategy, decision, now)
                    .await?;
            }
        }
        self.arm_timer();
        Ok(())
    }

    fn strategy_of(
        &self,
        negotiation: &Negotiation,
    ) -> Result<NegotiationState, ActorProcessingErr> {
        let value = negotiation
            .strategy_state
            .clone()
            .ok_or_else(|| format!("negotiation {} has no strategy state", negotiation.id))?;
        Ok(serde_json::from_value(value)?)
    }

    /// Replies recorded for this thread and not yet in its rounds, oldest first.
    fn unhandled_replies(
        &self,
        negotiation: &Negotiation,
    ) -> Result<Vec<MailRecord>, ActorProcessingErr> {
        let mut replies: Vec<MailRecord> = self
            .ctx
            .store
            .find(MailRecord::BY_NEGOTIATION, &negotiation.id.to_bytes())?
            .into_iter()
            .filter(|m| m.direction == MailDirection::Inbound && m.route == MailRoute::Negotiation)
            .filter(|m| {
                !negotiation
                    .rounds
                    .iter()
                    .any(|r| r.message_id == m.message_id)
            })
            .collect();
        replies.sort_by(|a, b| a.at.cmp(&b.at).then(a.message_id.cmp(&b.message_id)));
        Ok(replies)
    }

    async fn on_reply(
        &mut self,
        negotiation: &mut Negotiation,
        strategy: &mut NegotiationState,
        reply: MailRecord,
        now: DateTime<Utc>,
    ) -> Result<(), ActorProcessingErr> {
        let incoming = Reply {
            text: &reply.text,
            listing_price: strategy.asking,
            our_last_offer: strategy.last_offer(),
        };
        let mut reading = understand(&incoming);
        if let Some(llm) = &self.ctx.llm {
            // Asked only when the rules are unsure; never trusted for a price the text lacks.
            reading = llm.reconsider(&incoming, reading).await;
        }
        let signals = screen(&reply.text);
        if !signals.is_empty() {
            let names: Vec<&str> = signals.iter().map(|s| s.as_str()).collect();
            tracing::warn!(
                negotiation = %negotiation.id,
                message_id = %reply.message_id,
                signals = %names.join(","),
                "seller text tried to give instructions; it is treated as data"
            );
        }
        tracing::info!(
            negotiation = %negotiation.id,
            intent = ?reading.intent,
            price = ?reading.price.map(|p| p.to_string()),
            confidence = reading.confidence,
            "seller replied"
        );
        negotiation.rounds.push(Round {
            at: reply.at,
            from: Party::Seller,
            message_id: reply.message_id.clone(),
            text: reply.text.clone(),
            price: reading.price,
        });
        let decision = step(
            strategy,
            Event::SellerReplied {
                reading,
                text: reply.text,
            },
            now,
        );
        self.act(negotiation, strategy, decision, now).await
    }

    /// Records the decision durably, then carries it out.
    async fn act(
        &mut self,
        negotiation: &mut Negotiation,
        strategy: &mut NegotiationState,
        decision: Decision,
        now: DateTime<Utc>,
    ) -> Result<(), ActorProcessingErr> {
        tracing::info!(negotiation = %negotiation.id, decision = ?decision, "decided");
        let mut text = writing::message_for(strategy, &decision);
        if let (Some(original), Some(llm)) = (&text, &self.ctx.llm) {
            // Kept only if it says the same amount once and promises nothing more; stored
            // with the round, so a restart resends exactly this text.
            text = Some(llm.rewrite(original, decision.amount()).await);
        }
        let mut email = None;
        if let (Some(text), Some(mail)) = (text, &self.ctx.mail) {
            let number = negotiation
                .rounds
                .iter()
                .filter(|r| r.from == Party::Us)
                .count();
            let key = format!("negotiation:{}:mail:{number}", negotiation.id);
            let message_id = message_id_for(&key, mail.address());
            negotiation.rounds.push(Round {
                at: now,
                from: Party::Us,
                message_id: message_id.as_str().to_string(),
                text: text.clone(),
                price: decision.amount(),
            });
            email = Some(key);
        }
        // Agreed only when both sides said yes: the seller to our offer, or to our
        // confirmation of theirs.
        let agreed = match strategy.status {
            Status::Agreed { amount }
                if negotiation.lifecycle.status == NegotiationStatus::Open =>
            {
                negotiation.agreed_price = Some(amount);
                negotiation.lifecycle.advance(
                    NegotiationStatus::Agreed,
                    now,
                    format!("agreed at {amount}"),
                )?;
                true
            }
            _ => false,
        };
        match &decision {
            _ if agreed => {}
            Decision::WalkAway => {
                negotiation.lifecycle.advance(
                    NegotiationStatus::WalkedAway,
                    now,
                    "we walked away",
                )?;
            }
            Decision::Done { reason }
                if negotiation.lifecycle.status == NegotiationStatus::Open =>
            {
                let status = match strategy.status {
                    Status::WalkedAway => NegotiationStatus::WalkedAway,
                    _ => NegotiationStatus::Failed,
                };
                negotiation.lifecycle.advance(status, now, reason.clone())?;
            }
            Decision::ToInbox { reason } => {
                tracing::warn!(negotiation = %negotiation.id, %reason, "negotiation needs the operator");
                let summary = format!(
                    "look at the negotiation with {} about {:?}",
                    negotiation.seller_address, negotiation.subject
                );
                crate::tasks::open_task(&self.ctx, summary, reason.clone()).await?;
            }
            _ => {}
        }
        negotiation.strategy_state = Some(serde_json::to_value(&*strategy)?);
        negotiation.wake_at = match negotiation.lifecycle.status {
            NegotiationStatus::Open => strategy.next_wake(),
            _ => None,
        };
        self.ctx.store.put(&*negotiation)?;
        if negotiation.lifecycle.status != NegotiationStatus::Open {
            self.remember_seller(negotiation, strategy.asking)?;
        }
        self.ctx.store.flush().await?;
        if let Some(key) = email {
            self.propose_email(negotiation, &key, decision.amount())
                .await?;
        }
        if agreed {
            let _ = self
                .ctx
                .addrs
                .inventory
                .send(InventoryMsg::DealAgreed(negotiation.id));
        }
        Ok(())
    }

    /// The email of round `position` in words: the seller, the item, the step and the money.
    fn describe_email(
        &self,
        negotiation: &Negotiation,
        position: usize,
        amount: Option<Money>,
    ) -> Result<String, ActorProcessingErr> {
        let store = &self.ctx.store;
        let listing = match store.get::<Opportunity>(&negotiation.opportunity)? {
            Some(opportunity) => store.get::<MarketListing>(&opportunity.listing)?,
            None => None,
        };
        let seller = store
            .get::<Seller>(&negotiation.seller)?
            .and_then(|s| s.display_name)
            .unwrap_or_else(|| negotiation.seller_address.clone());
        let ours = negotiation.rounds[..position]
            .iter()
            .filter(|r| r.from == Party::Us)
            .count();
        let step = match (ours, amount) {
            (0, Some(amount)) => format!("first offer {amount}"),
            (_, Some(amount)) => format!("offer {amount}"),
            (0, None) => "first email, no price yet".to_string(),
            (_, None) => "reply without a price".to_string(),
        };
        let item = match &listing {
            Some(l) => format!("{:?} ({}, asking {})", l.title, l.marketplace, l.price),
            None => format!("{:?}", negotiation.subject),
        };
        Ok(format!(
            "email {seller}, seller of {item}: {step}; our email {}; we pay at most {}",
            ours + 1,
            negotiation.ceiling
        ))
    }

    /// Proposes the email recorded under `key` (the last round of ours).
    async fn propose_email(
        &self,
        negotiation: &Negotiation,
        key: &str,
        amount: Option<Money>,
    ) -> Result<(), ActorProcessingErr> {
        let Some(mail) = &self.ctx.mail else {
            return Ok(());
        };
        let message_id = message_id_for(key, mail.address());
        let Some(position) = negotiation
            .rounds
            .iter()
            .position(|r| r.message_id == message_id.as_str())
        else {
            return Ok(());
        };
        let round = &negotiation.rounds[position];
        let earlier = &negotiation.rounds[..position];
        let in_reply_to = earlier
            .iter()
            .rev()
            .find(|r| r.from == Party::Seller)
            .map(|r| r.message_id.clone());
        let references = earlier.iter().map(|r| r.message_id.clone()).collect();
        let subject = match in_reply_to {
            Some(_) if !negotiation.subject.to_ascii_lowercase().starts_with("re:") => {
                format!("Re: {}", negotiation.subject)
            }
            _ => negotiation.subject.clone(),
        };
        let params = SendEmailParams {
            to: negotiation.seller_address.clone(),
            subject,
            text: round.text.clone(),
            in_reply_to,
            references,
            negotiation: Some(negotiation.id),
        };
        let mut params = serde_json::to_value(params)?;
        if amount.is_some() {
            params["max_value"] = serde_json::to_value(negotiation.ceiling)?;
        }
        let action = Action {
            kind: ActionKind::SendEmail,
            target: negotiation.seller_address.clone(),
            params,
            proposer: "negotiator".into(),
            rule: "negotiation.email".into(),
            value: amount,
            marketplace: None,
            pattern_match: 1.0,
            idempotency_key: key.to_string(),
            about: Some(self.describe_email(negotiation, position, amount)?),
        };
        let outcome = ask_gate(&self.ctx.addrs.gate, action).await?;
        match &outcome {
            Outcome::Failed { reason, .. } => {
                // The seller cannot be reached (a refused address): the thread ends here
                // rather than following up into the void.
                tracing::warn!(negotiation = %negotiation.id, %reason, "email not sent; negotiation ends");
                self.end_thread(negotiation.id, format!("email not sent: {reason}"))?;
            }
            Outcome::Blocked { reason, .. } => {
                tracing::warn!(negotiation = %negotiation.id, %reason, "email blocked by policy; the thread waits for the operator");
                self.stop_waking(negotiation.id)?;
                // Say so once, or the thread waits for someone who does not know.
                crate::tasks::open_task_once(
                    &self.ctx,
                    &format!("email-blocked:{}", negotiation.id),
                    format!(
                        "an email to the seller ({:?}, negotiation {}) was blocked; the negotiation \
                         is paused: write to the seller yourself, or let it go",
                        negotiation.subject, negotiation.id
                    ),
                    reason.clone(),
                )
                .await?;
            }
            Outcome::Duplicate { .. } => {}
            other => {
                tracing::info!(negotiation = %negotiation.id, outcome = ?other, "email proposed")
            }
        }
        Ok(())
    }

    /// Adds the ended negotiation to the seller's history (when we know the seller).
    fn remember_seller(
        &self,
        negotiation: &Negotiation,
        asking: Money,
    ) -> Result<(), ActorProcessingErr> {
        let Some(mut seller) = self.ctx.store.get::<Seller>(&negotiation.seller)? else {
            return Ok(());
        };
        let already = seller.history.iter().any(|(_, event)| {
            matches!(event, SellerEvent::NegotiationEnded { negotiation: id, .. } if *id == negotiation.id)
        });
        if already {
            return Ok(());
        }
        let replies = negotiation
            .rounds
            .iter()
            .filter(|r| r.from == Party::Seller)
            .count();
        seller.history.push((
            self.ctx.clock.now(),
            SellerEvent::NegotiationEnded {
                negotiation: negotiation.id,
                agreed: negotiation.lifecycle.status == NegotiationStatus::Agreed,
                price: negotiation.agreed_price,
                asking: Some(asking),
                mean_response_secs: mean_response(&negotiation.rounds).map(|d| d.num_seconds()),
                replies: u32::try_from(replies).unwrap_or(u32::MAX),
            },
        ));
        self.ctx.store.put(&seller)?;
        Ok(())
    }

    fn end_thread(&self, id: NegotiationId, reason: String) -> Result<(), ActorProcessingErr> {
        let Some(mut negotiation) = self.ctx.store.get::<Negotiation>(&id)? else {
            return Ok(());
        };
        if negotiation.lifecycle.status == NegotiationStatus::Open {
            let now = self.ctx.clock.now();
            negotiation
                .lifecycle
                .advance(NegotiationStatus::Failed, now, reason)?;
        }
        negotiation.wake_at = None;
        self.ctx.store.put(&negotiation)?;
        Ok(())
    }

    fn stop_waking(&self, id: NegotiationId) -> Result<(), ActorProcessingErr> {
        let Some(mut negotiation) = self.ctx.store.get::<Negotiation>(&id)? else {
            return Ok(());
        };
        negotiation.wake_at = None;
        self.ctx.store.put(&negotiation)?;
        Ok(())
    }

    /// After a crash between storing a round and proposing its email, the email is proposed
    /// again (the gate answers `Duplicate` when it already was).
    async fn resend_last(&self, negotiation: &Negotiation) -> Result<(), ActorProcessingErr> {
        let Some(mail) = &self.ctx.mail else {
            return Ok(());
        };
        let ours = negotiation
            .rounds
            .iter()
            .filter(|r| r.from == Party::Us)
            .count();
        let Some(last) = ours.checked_sub(1) else {
            return Ok(());
        };
        let key = format!("negotiation:{}:mail:{last}", negotiation.id);
        let already = self.ctx.store.find(
            bazaar_memory::ActionRecord::BY_IDEMPOTENCY_KEY,
            key.as_bytes(),
        )?;
        if !already.is_empty() {
            return Ok(());
        }
        let round = negotiation.rounds.iter().rfind(|r| {
            r.from == Party::Us && r.message_id == message_id_for(&key, mail.address()).as_str()
        });
        let amount = round.and_then(|r| r.price);
        tracing::info!(negotiation = %negotiation.id, key, "proposing an email a crash interrupted");
        self.propose_email(negotiation, &key, amount).await
    }

    /// Polls again after the configured interval, or sooner when a thread must wake — or
    /// as soon as IMAP IDLE says the mailbox changed.
    fn arm_timer(&self) {
        if self.mailroom.is_none() {
            return;
        }
        self.arm_idle();
        let clock = self.ctx.clock.clone();
        let addr = self.ctx.addrs.negotiator.clone();
        let mut wait = Duration::from_secs(self.ctx.config.mail.poll_secs.max(1));
        let now = clock.now();
        if let Ok(open) = self.open() {
            if let Some(next) = open.iter().filter_map(|n| n.wake_at).min() {
                let until = (next - now).to_std().unwrap_or(Duration::ZERO);
                wait = wait.min(until.max(Duration::from_secs(1)));
            }
        }
        let due = chrono::Duration::from_std(wait)
            .ok()
            .and_then(|wait| now.checked_add_signed(wait))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        {
            let mut next = self.next_poll.lock().unwrap_or_else(|p| p.into_inner());
            // A timer armed to fire sooner polls first, and that poll arms the next one.
            if next.is_some_and(|at| at <= due) {
                return;
            }
            *next = Some(due);
        }
        let next_poll = self.next_poll.clone();
        tokio::spawn(async move {
            clock.sleep(wait).await;
            // Superseded by a timer armed to fire sooner: that one polled.
            let still_armed = {
                let mut next = next_poll.lock().unwrap_or_else(|p| p.into_inner());
                let mine = *next == Some(due);
                if mine {
                    *next = None;
                }
                mine
            };
            if still_armed {
                let _ = addr.send(NegotiatorMsg::Poll);
            }
        });
    }
}

/// What a seller's past negotiations say: how many, the discount they gave, how fast they
/// answer.
pub fn seller_history(seller: &Seller) -> SellerHistory {
    let mut history = SellerHistory {
        reliability: 1.0,
        ..SellerHistory::default()
    };
    let mut discounts = Vec::new();
    let mut responses = Vec::new();
    for (_, event) in &seller.history {
        let SellerEvent::NegotiationEnded {
            agreed,
            price,
            asking,
            mean_response_secs,
            ..
        } = event
        else {
            continue;
        };
        history.past_negotiations += 1;
        if let (true, Some(price), Some(asking)) = (agreed, price, asking) {
            if asking.minor > 0 && price.currency == asking.currency {
                discounts.push((asking.minor - price.minor) as f64 / asking.minor as f64);
            }
        }
        if let Some(secs) = mean_response_secs {
            responses.push(*secs);
        }
    }
    if !discounts.is_empty() {
        history.mean_discount = discounts.iter().sum::<f64>() / discounts.len() as f64;
    }
    if !responses.is_empty() {
        let mean = responses.iter().sum::<i64>() / responses.len() as i64;
        history.mean_response = Some(chrono::Duration::seconds(mean.max(0)));
    }
    history
}

/// The mean time between a message of ours and the seller's next reply.
fn mean_response(rounds: &[Round]) -> Option<chrono::Duration> {
    let mut waits = Vec::new();
    let mut asked_at = None;
    for round in rounds {
        match round.from {
            Party::Us => asked_at = asked_at.or(Some(round.at)),
            Party::Seller => {
                if let Some(at) = asked_at.take() {
                    waits.push(round.at - at);
                }
            }
        }
    }
    let count = i32::try_from(waits.len()).ok().filter(|n| *n > 0)?;
    Some(waits.into_iter().sum::<chrono::Duration>() / count)
}

impl NegotiatorState {
    /// Starts one IMAP IDLE wait unless one is running or the transport cannot push.
    fn arm_idle(&self) {
        let Some(mail) = self.ctx.mail.clone() else {
            return;
        };
        if self.no_push.load(Ordering::Relaxed) || self.idling.swap(true, Ordering::AcqRel) {
            return;
        }
        let idling = self.idling.clone();
        let no_push = self.no_push.clone();
        let addr = self.ctx.addrs.negotiator.clone();
        // RFC 2177: re-issue IDLE at least every 29 minutes.
        let timeout = Duration::from_secs(self.ctx.config.mail.poll_secs.clamp(1, 29 * 60));
        tokio::spawn(async move {
            let outcome = mail.wait_for_mail(timeout).await;
            idling.store(false, Ordering::Release);
            match outcome {
                Ok(true) => {
                    let _ = addr.send(NegotiatorMsg::Poll);
                }
                Ok(false) => {}
                Err(MailError::Unsupported(why)) => {
                    tracing::info!(%why, "no push for new mail; polling on the clock");
                    no_push.store(true, Ordering::Relaxed);
                }
                Err(error) => tracing::debug!(%error, "idle failed; polling covers it"),
            }
        });
    }
}

async fn ask_gate(gate: &Addr<GateMsg>, action: Action) -> Result<Outcome, ActorProcessingErr> {
    Ok(gate.ask(|reply| GateMsg::Propose(action, reply)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bazaar_memory::Marketplace;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + chrono::Duration::minutes(minute)
    }

    fn round(minute: i64, from: Party) -> Round {
        Round {
            at: at(minute),
            from,
            message_id: format!("m{minute}"),
            text: String::new(),
            price: None,
        }
    }

    #[test]
    fn response_time_is_measured_from_our_first_unanswered_message() {
        let rounds = [
            round(0, Party::Us),
            round(30, Party::Seller),
            round(40, Party::Us),
            round(50, Party::Us),
            round(130, Party::Seller),
        ];
        // 30 min, then 90 min from the first of our two unanswered messages.
        assert_eq!(mean_response(&rounds), Some(chrono::Duration::minutes(60)));
        assert_eq!(mean_response(&rounds[..1]), None);
    }

    #[test]
    fn seller_history_sums_up_ended_negotiations() {
        let ended = |agreed: bool, price: Option<i64>, response: Option<i64>| {
            SellerEvent::NegotiationEnded {
                negotiation: NegotiationId::new_at(at(0)),
                agreed,
                price: price.map(Money::usd),
                asking: Some(Money::usd(10_000)),
                mean_response_secs: response,
                replies: 2,
            }
        };
        let seller = Seller {
            id: SellerId::new_at(at(0)),
            marketplace: Marketplace::Craigslist,
            external_id: "x".into(),
            display_name: None,
            contact: None,
            first_seen: at(0),
            history: vec![
                (at(1), ended(true, Some(8_000), Some(600))),
                (at(2), ended(true, Some(9_000), Some(1_800))),
                (at(3), ended(false, None, None)),
                (at(4), SellerEvent::Note { text: "n".into() }),
            ],
        };
        let history = seller_history(&seller);
        assert_eq!(history.past_negotiations, 3);
        assert!(
            (history.mean_discount - 0.15).abs() < 1e-9,
            "{}",
            history.mean_discount
        );
        assert_eq!(
            history.mean_response,
            Some(chrono::Duration::seconds(1_200))
        );
        assert_eq!(history.reliability, 1.0);
    }
}
