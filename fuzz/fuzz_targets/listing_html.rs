//! A Craigslist-style search page and posting page, both hostile: read the way a scan reads
//! them. Nothing may panic; a listing that comes out has a title and a positive price.
#![no_main]

use bazaar_agents::connectors::craigslist::read_pages;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // one input, two pages: split at the first NUL (the corpus seeds use it)
    let (search, posting) = text.split_once('\0').unwrap_or((&text, &text));
    let now = Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap();
    let url = "http://127.0.0.1:1/sfc/ele/d/anything/7123456789.html";
    let (_, listing) = read_pages(url, search, posting, now);
    if let Ok(listing) = listing {
        assert!(!listing.title.trim().is_empty());
        assert!(listing.price.minor >= 0);
    }
});
