//! What arrives at the webhook endpoints, hostile: our signature header checked against a
//! body, eBay's signature header decoded, eBay's order notification read. Nothing may
//! panic, and no forged header verifies.
#![no_main]

use bazaar_agents::connectors::ebay_orders::{parse_order_notification, parse_signature_header};
use bazaar_policies::signing::verify_webhook;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"whsec_fuzz";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (header, body) = text.split_once('\n').unwrap_or((&text, ""));
    // Without the secret no header verifies (an HMAC is not guessed).
    assert!(
        verify_webhook(SECRET, header, body.as_bytes(), 1_700_000_000, 300).is_err(),
        "a forged signature verified: {header:?}"
    );
    let _ = parse_signature_header(header);
    let _ = parse_order_notification(data);
});
