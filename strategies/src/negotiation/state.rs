//! The negotiation state machine: one [`NegotiationState`] per negotiation, advanced by
//! [`step`] on each event, answering with one [`Decision`].
//!
//! Seller text is data. Prices come from the strategy; the ceiling bounds every amount this
//! module ever puts in a decision; what the text says about instructions, payments or
//! agreements is screened, logged in the state, and otherwise ignored.

use bazaar_model::Money;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::concession::{self, Move};
use super::persona::{DealContext, StrategyChoice};
use super::safety::{screen, InjectionSignal};
use crate::understand::{Intent, NextStep, Reading, Reason, CLARIFY_AT};

/// Where a negotiation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Created; nothing sent yet.
    New,
    /// Our message is out; waiting for the seller.
    AwaitingReply,
    /// We confirmed this price; waiting for the seller to confirm back.
    Confirming {
        /// The price we confirmed.
        amount: Money,
    },
    /// Both sides agreed on this price.
    Agreed {
        /// The agreed price.
        amount: Money,
    },
    /// Handed to the operator.
    InInbox,
    /// We walked away.
    WalkedAway,
    /// The item is gone (sold to someone else).
    Lost,
}

impl Status {
    /// True when nothing more will be sent.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Agreed { .. } | Status::InInbox | Status::WalkedAway | Status::Lost
        )
    }
}

/// Seller text that tripped the injection screen: logged, never obeyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlaggedText {
    /// When it arrived.
    pub at: DateTime<Utc>,
    /// What the screen found.
    pub signals: Vec<InjectionSignal>,
    /// The price the text named, if any (never acted on above the ceiling).
    pub named_price: Option<Money>,
}

/// Everything the Negotiator needs to resume a negotiation after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NegotiationState {
    /// The negotiation's id (also seeds the wording).
    pub id: String,
    /// The strategy and persona.
    pub choice: StrategyChoice,
    /// The seller's asking price.
    pub asking: Money,
    /// The hard ceiling: no offer or acceptance above it, ever.
    pub ceiling: Money,
    /// Where it stands.
    pub status: Status,
    /// Our offers, in order (repeats included).
    pub our_offers: Vec<Money>,
    /// The seller's prices, in order.
    pub their_prices: Vec<Money>,
    /// Follow-ups sent since the seller last wrote.
    pub follow_ups_sent: u32,
    /// Clarifying questions asked in all.
    pub clarifications: u32,
    /// Unclear replies in a row (a clear one resets it).
    #[serde(default)]
    pub unclear_in_a_row: u32,
    /// When we last sent something or heard from them.
    pub last_activity: Option<DateTime<Utc>>,
    /// Seller texts that looked like instructions or payment scams.
    pub flagged: Vec<FlaggedText>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Begin: send the opening offer.
    Start,
    /// The seller wrote; `reading` is [`crate::understand::understand`] of `text`.
    SellerReplied {
        /// What the reply means.
        reading: Reading,
        /// The reply as written (screened for injection; otherwise only data).
        text: String,
    },
    /// A timer fired with no reply from the seller.
    NoReplyBy(DateTime<Utc>),
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Send an offer of this amount (the opening or a counter).
    SendOffer {
        /// The amount, never above the ceiling.
        amount: Money,
    },
    /// Nudge a silent seller, restating our standing offer.
    SendFollowUp {
        /// Our standing offer, if we have made one.
        amount: Option<Money>,
    },
    /// Confirm the deal at this price.
    Confirm {
        /// The price, never above the ceiling.
        amount: Money,
    },
    /// Ask a short clarifying question, restating our standing offer.
    AskClarify {
        /// Our standing offer, if we have made one.
        amount: Option<Money>,
    },
    /// Show the operator.
    ToInbox {
        /// Why.
        reason: String,
    },
    /// Say a polite goodbye.
    WalkAway,
    /// Nothing to send until this time (the next follow-up is due then).
    Wait {
        /// When to wake up with [`Event::NoReplyBy`].
        until: DateTime<Utc>,
    },
    /// Nothing to send, and nothing more to do.
    Done {
        /// Why it ended.
        reason: String,
    },
}

impl Decision {
    /// The amount the decision would put in an email, if any.
    pub fn amount(&self) -> Option<Money> {
        match self {
            Decision::SendOffer { amount } | Decision::Confirm { amount } => Some(*amount),
            Decision::SendFollowUp { amount } | Decision::AskClarify { amount } => *amount,
            _ => None,
        }
    }
}

/// At most this many clarifying questions in a row before the operator sees the thread.
const MAX_CLARIFICATIONS: u32 = 2;

impl NegotiationState {
    /// A fresh negotiation for a deal with a chosen strategy.
    pub fn new(id: &str, choice: StrategyChoice, deal: &DealContext) -> NegotiationState {
        NegotiationState {
            id: id.to_string(),
            choice,
            asking: deal.asking,
            ceiling: Money::new(deal.ceiling.minor.max(0), deal.asking.currency),
            status: Status::New,
            our_offers: Vec::new(),
            their_prices: Vec::new(),
            follow_ups_sent: 0,
            clarifications: 0,
            unclear_in_a_row: 0,
            last_activity: None,
            flagged: Vec::new(),
        }
    }

    /// The most this negotiation's strategy offers (at most the ceiling).
    pub fn cap(&self) -> Money {
        concession::cap(&self.choice, self.asking, self.ceiling)
    }

    /// Our standing offer.
    pub fn last_offer(&self) -> Option<Money> {
        self.our_offers.last().copied()
    }

    /// The amount on the table from our side: the price we are confirming, else our last
    /// offer. Pass it to [`crate::understand::understand`] as `our_last_offer`.
    pub fn standing_offer(&self) -> Option<Money> {
        match self.status {
            Status::Confirming { amount } | Status::Agreed { amount } => Some(amount),
            _ => self.last_offer(),
        }
    }

    /// Offers sent so far (the round count).
    pub fn rounds(&self) -> u32 {
        self.our_offers.len() as u32
    }

    /// When the next follow-up (or the walk-away after the last one) is due, while we wait
    /// for the seller.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Status::AwaitingReply | Status::Confirming { .. } => self
                .last_activity
                .map(|at| at + self.choice.persona.follow_up_after()),
            _ => None,
        }
    }

    fn sent(&mut self, now: DateTime<Utc>) {
        self.last_activity = Some(now);
        if !matches!(self.status, Status::Confirming { .. }) {
            self.status = Status::AwaitingReply;
        }
    }

    fn offer(&mut self, amount: Money, now: DateTime<Utc>) -> Decision {
        let amount = self.bounded(amount);
        self.our_offers.push(amount);
        self.status = Status::AwaitingReply;
        self.sent(now);
        Decision::SendOffer { amount }
    }

    /// Says yes to `amount`. When it is the offer we have on the table the seller has just
    /// accepted ours and the deal is made; a price they named waits for their yes to our
    /// confirmation (the item may have gone while their message was on its way).
    fn confirm(&mut self, amount: Money, now: DateTime<Utc>) -> Decision {
        if amount.minor > self.ceiling.minor || amount.currency != self.ceiling.currency {
            // Unreachable through the strategy; kept as the last guard.
            return self.walk_away();
        }
        let theirs_was_ours = self.last_offer() == Some(amount);
        self.status = Status::Confirming { amount };
        self.sent(now);
        if theirs_was_ours {
            self.status = Status::Agreed { amount };
        }
        Decision::Confirm { amount }
    }

    fn walk_away(&mut self) -> Decision {
        self.status = Status::WalkedAway;
        Decision::WalkAway
    }

    fn done(&mut self, status: Status, reason: &str) -> Decision {
        self.status = status;
        Decision::Done {
            reason: reason.to_string(),
        }
    }

    fn send_to_inbox(&mut self, reason: String) -> Decision {
        self.status = Status::InInbox;
        Decision::ToInbox { reason }
    }

    /// An amount clamped into `[0, ceiling]` in the deal's currency.
    fn bounded(&self, amount: Money) -> Money {
        let minor = amount.minor.clamp(0, self.ceiling.minor);
        Money::new(minor, self.ceiling.currency)
    }
}

/// Advances a negotiation by one event. Never fails; never puts an amount above the ceiling
/// in a decision.
pub fn step(state: &mut NegotiationState, event: Event, now: DateTime<Utc>) -> Decision {
    match event {
        Event::Start => on_start(state, now),
        Event::NoReplyBy(at) => on_silence(state, at.max(now)),
        Event::SellerReplied { reading, text } => on_reply(state, reading, &text, now),
    }
}

fn on_start(state: &mut NegotiationState, now: DateTime<Utc>) -> Decision {
    if state.status != Status::New {
        return match state.next_wake() {
            Some(until) => Decision::Wait { until },
            None => Decision::Done {
                reason: "already started".to_string(),
            },
        };
    }
    let cap = state.cap();
    if cap.minor <= 0 {
        return state.send_to_inbox("no room under the ceiling to make an offer".to_string());
    }
    let open = concession::opening(&state.choice, state.asking, cap);
    state.offer(open, now)
}

fn on_silence(state: &mut NegotiationState, now: DateTime<Utc>) -> Decision {
    let Some(due) = state.next_wake() else {
        return Decision::Done {
            reason: "nothing is waiting on the seller".to_string(),
        };
    };
    if now < due {
        return Decision::Wait { until: due };
    }
    if state.follow_ups_sent >= state.choice.persona.max_follow_ups() {
        return state.walk_away();
    }
    state.follow_ups_sent += 1;
    state.sent(now);
    Decision::SendFollowUp {
        amount: state.standing_offer(),
    }
}

fn on_reply(
    state: &mut NegotiationState,
    reading: Reading,
    text: &str,
    now: DateTime<Utc>,
) -> Decision {
    // Data, not instructions: a named price must be in our currency and positive to count.
    let price = reading
        .price
        .filter(|p| p.currency == state.ceiling.currency && p.minor > 0);
    let signals = screen(text);
    if !signals.is_empty() {
        state.flagged.push(FlaggedText {
            at: now,
            signals,
            named_price: price,
        });
    }
    if state.status.is_final() {
        return Decision::Done {
            reason: "the negotiation is over".to_string(),
        };
    }
    state.follow_ups_sent = 0;
    state.last_activity = Some(now);
    if reading.reason == Some(Reason::SoldElsewhere) {
        return state.done(Status::Lost, "the item sold to someone else");
    }
    if let Status::Confirming { amount } = state.status {
        // Waiting for their yes: agreement without a price, or naming our price, settles it.
        let agrees = reading.confidence >= CLARIFY_AT
            && match (reading.intent, price) {
                (Intent::Accept, None) => true,
                (Intent::Accept, Some(p)) | (Intent::Counter, Some(p)) => p == amount,
                _ => false,
            };
        if agrees {
            return state.done(Status::Agreed { amount }, "the seller confirmed the deal");
        }
    }
    match reading.next_step() {
        NextStep::Proceed => state.unclear_in_a_row = 0,
        NextStep::Clarify(_) => {
            if state.unclear_in_a_row >= MAX_CLARIFICATIONS {
                return state.send_to_inbox("the seller's replies stay unclear".to_string());
            }
            state.unclear_in_a_row += 1;
            state.clarifications += 1;
            state.sent(now);
            return Decision::AskClarify {
                amount: state.standing_offer(),
            };
        }
        NextStep::Inbox => {
            return state.send_to_inbox(format!(
                "unclear reply (read as {} with confidence {:.2})",
                reading.intent.as_str(),
                reading.confidence
            ));
        }
    }
    if let Status::Confirming { amount } = state.status {
        if reading.intent == Intent::Other {
            return state.done(Status::Agreed { amount }, "the seller confirmed the deal");
        }
        // They answered our confirmation with something else: back to negotiating.
        state.status = Status::AwaitingReply;
    }
    match (reading.intent, price) {
        (Intent::Accept, Some(p)) | (Intent::Counter, Some(p)) => on_price(state, p, now),
        (Intent::Accept, None) => match state.last_offer() {
            Some(ours) => state.confirm(ours, now),
            None => restate(state, now),
        },
        (Intent::Reject, Some(p)) => on_price(state, p, now),
        (Intent::Reject, None) => {
            // a refusal without a number: they still want their last price (or the asking)
            let theirs = state.their_prices.last().copied().unwrap_or(state.asking);
            on_price(state, theirs, now)
        }
        (Intent::Counter, None) | (Intent::Question, _) | (Intent::Other, _) => restate(state, now),
    }
}

/// The seller named a price (a counter, an acceptance, a claimed agreement — all the same
/// to us): the strategy decides, inside the ceiling.
fn on_price(state: &mut NegotiationState, theirs: Money, now: DateTime<Utc>) -> Decision {
    state.their_prices.push(theirs);
    let cap = state.cap();
    let decision = concession::respond(
        &state.choice,
        state.asking,
        cap,
        &state.our_offers,
        &state.their_prices,
    );
    match decision {
        Move::Accept if theirs.minor <= state.ceiling.minor => state.confirm(theirs, now),
        Move::Accept => state.walk_away(),
        Move::WalkAway => state.walk_away(),
        Move::Offer(amount) => {
            if state.rounds() >= state.choice.max_rounds {
                return state.walk_away();
            }
            state.offer(amount, now)
        }
    }
}

/// A question or small talk: answer with our standing offer (or open, if we never did).
fn restate(state: &mut NegotiationState, now: DateTime<Utc>) -> Decision {
    let Some(ours) = state.last_offer() else {
        return on_start_again(state, now);
    };
    if state.rounds() > state.choice.max_rounds {
        return state.walk_away();
    }
    state.offer(ours, now)
}

fn on_start_again(state: &mut NegotiationState, now: DateTime<Utc>) -> Decision {
    let cap = state.cap();
    let open = concession::opening(&state.choice, state.asking, cap);
    state.offer(open, now)
}
