//! Negotiating with a seller: which strategy to use for a deal, what to offer each round,
//! when to accept, follow up or walk away, what to write, and how to treat seller text that
//! tries to give us instructions.
//!
//! Pure and total, like the rest of this crate: time comes in as an argument, nothing fails.
//!
//! - [`choose_strategy`]: a persona (the seed's four, with their parameters) and a
//!   concession strategy for a deal, from the analysis and the seller's history.
//! - [`step`]: the negotiation state machine. It never offers or accepts above the ceiling.
//! - [`writing`]: the emails, from per-persona templates, and the check an LLM rewrite must
//!   pass before it may replace one.
//! - [`safety`]: prompt-injection signals in seller text. They are logged; they change
//!   nothing, because prices come from the strategy and the ceiling, never from the text.
//!
//! ```
//! use bazaar_model::Money;
//! use bazaar_strategies::negotiation::{
//!     choose_strategy, step, DealContext, Decision, Event, NegotiationState, SellerHistory,
//! };
//! use chrono::{TimeZone, Utc};
//!
//! let deal = DealContext {
//!     asking: Money::usd(10_000),
//!     ceiling: Money::usd(9_000),
//!     ..DealContext::example()
//! };
//! let choice = choose_strategy(&deal, &SellerHistory::default());
//! let mut state = NegotiationState::new("n-1", choice, &deal);
//! let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! let Decision::SendOffer { amount } = step(&mut state, Event::Start, now) else {
//!     panic!("a negotiation opens with an offer");
//! };
//! assert!(amount < deal.ceiling);
//! ```

mod concession;
mod persona;
pub mod safety;
mod state;
pub mod writing;

pub use concession::{round_offer, seed_counter};
pub use persona::{
    choose_strategy, DealContext, Persona, SellerHistory, StrategyChoice, StrategyKind,
};
pub use safety::{screen, InjectionSignal};
pub use state::{step, Decision, Event, FlaggedText, NegotiationState, Status};
