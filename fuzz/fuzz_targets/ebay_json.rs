//! eBay Browse JSON (a search page or one item), hostile: decoded the way a search decodes
//! it. Nothing may panic; a listing that comes out has an id and a title.
#![no_main]

use bazaar_agents::connectors::ebay::browse_items;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = String::from_utf8_lossy(data);
    let now = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
    if let Ok(items) = browse_items(&body, now) {
        for listing in items.into_iter().filter_map(|item| item.listing.ok()) {
            assert!(!listing.external_id.is_empty() && !listing.title.trim().is_empty());
        }
    }
});
