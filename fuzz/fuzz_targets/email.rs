//! A seller's raw email as delivered: parsed (MIME, charsets, encoded words), the quoted
//! part stripped, the reply read for intent and price, and the offer's listing id taken
//! from the subject. Nothing may panic.
#![no_main]
#![allow(clippy::inconsistent_digit_grouping)] // cents written as dollars_cents

use bazaar_agents::mail::{offered_listing, parse_address, MailMessage};
use bazaar_memory::Money;
use bazaar_strategies::understand::{understand, Reply};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let message = MailMessage::parse(1, raw.to_vec());
    let reading = understand(&Reply {
        text: &message.body,
        listing_price: Money::usd(120_00),
        our_last_offer: Some(Money::usd(90_00)),
    });
    assert!((0.0..=1.0).contains(&reading.confidence));
    let _ = offered_listing(&message.envelope.subject);
    if let Some(from) = &message.envelope.from {
        let _ = parse_address(from);
    }
});
