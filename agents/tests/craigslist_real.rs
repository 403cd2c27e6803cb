//! The Craigslist connector on pages real Craigslist served (`../shared/data/real/craigslist`,
//! 2018 and 2026 layouts): every row a search page shows is read, and the rows and postings
//! say what the page says.

use std::path::Path;

use bazaar_agents::connectors::craigslist::{read_page, ReadPage, SearchRow};
use bazaar_memory::Condition;
use chrono::{TimeZone, Utc};

fn page(name: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data/real/craigslist")
        .join(name);
    let html = std::fs::read_to_string(&path).unwrap();
    (format!("file://{}", path.display()), html)
}

fn rows(name: &str) -> (Vec<SearchRow>, usize) {
    let (url, html) = page(name);
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let ReadPage::Search(rows) = read_page(&url, &html, now).unwrap() else {
        panic!("{name} is a search page");
    };
    // What the page itself shows: one `li` per result, in either layout.
    let shown = html
        .matches("<li class=\"cl-static-search-result\"")
        .count()
        + html.matches("<li class=\"result-row\"").count();
    let rows: Vec<SearchRow> = rows
        .into_iter()
        .map(|row| row.unwrap_or_else(|why| panic!("{name}: {why}")))
        .collect();
    (rows, shown)
}

/// `(id, title, price, location)` of a row.
#[track_caller]
fn check(row: &SearchRow, want: (&str, &str, &str, &str)) {
    let got = (
        row.external_id.as_str(),
        row.title.as_deref().unwrap_or(""),
        row.price.as_deref().unwrap_or(""),
        row.location.as_deref().unwrap_or(""),
    );
    assert_eq!(got, want);
    assert!(row.url.contains(&row.external_id), "{row:?}");
}

#[test]
fn a_2026_search_page_is_read_row_for_row() {
    let (rows, shown) = rows("wauwatosa_search.html");
    assert_eq!((rows.len(), shown), (37, 37));
    check(
        &rows[0],
        (
            "7936415355",
            "Wauwatosa 2 Bdrm, 1 Bath Near MCW",
            "$1,325",
            "Wauwatosa",
        ),
    );
    check(
        &rows[1],
        (
            "7936415958",
            "Wauwatosa Area - Near MCW - 1 Bdrm, 1 Bath",
            "$1,025",
            "Wauwatosa Area",
        ),
    );
    check(
        &rows[2],
        (
            "7936415882",
            "Wauwatosa 3 Bdrm Townhouse WALK to MCW!!",
            "$2,095",
            "Wauwatosa",
        ),
    );
}

#[test]
fn a_2018_search_page_is_read_row_for_row() {
    let (rows, shown) = rows("sosedoff_results.html");
    assert_eq!((rows.len(), shown), (120, 120));
    check(
        &rows[0],
        (
            "6569794207",
            "2011 Porsche Cayenne Turbo",
            "$39000",
            "Glen Ellyn",
        ),
    );
    check(
        &rows[1],
        (
            "6569794141",
            "2017 Highlander XLE AWD Fully Loaded",
            "$35500",
            "Aurora",
        ),
    );
    check(
        &rows[2],
        (
            "6564212591",
            "1980 CJ7 Jeep Project",
            "$2100",
            "Northwest Indiana",
        ),
    );
}

#[test]
fn real_postings_are_read_with_their_location() {
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    // (page, id, title, price in cents, location, condition)
    let cases = [
        (
            "homehunter_detail.html",
            "7942602776",
            "‼️NO FEE ! Bright 1BR ! Central Park ONE BLOCK !",
            385000,
            "Upper West Side",
            Condition::Unknown,
        ),
        (
            "wauwatosa_detail.html",
            "7936415355",
            "Wauwatosa 2 Bdrm, 1 Bath Near MCW",
            132500,
            "Wauwatosa",
            Condition::Unknown,
        ),
        (
            "sosedoff_listing1.html",
            "6569794207",
            "2011 Porsche Cayenne Turbo",
            3900000,
            "Glen Ellyn",
            Condition::LikeNew,
        ),
    ];
    for (name, id, title, cents, location, condition) in cases {
        let (url, html) = page(name);
        let ReadPage::Posting(listing) = read_page(&url, &html, now).unwrap() else {
            panic!("{name} is a posting");
        };
        let listing = (*listing).unwrap_or_else(|why| panic!("{name}: {why}"));
        assert_eq!(listing.external_id, id, "{name}");
        assert_eq!(listing.title, title, "{name}");
        assert_eq!(listing.price.minor, cents, "{name}");
        assert_eq!(listing.location.as_deref(), Some(location), "{name}");
        assert_eq!(listing.condition, condition, "{name}");
        assert!(listing.listed_at.is_some(), "{name}");
    }
}

#[test]
fn the_2026_condition_is_read_from_its_label_and_value() {
    let html = r#"<html><body><h1 class="postingtitle"><span class="postingtitletext">
        <span id="titletextonly">Bose QC35 II</span><span class="price">$120</span>
        <span> (Portland)</span></span></h1>
        <div class="attrgroup"><div class="attr condition"><span class="labl">condition:</span>
        <span class="valu"><a href="/search/sss?condition=20">excellent</a></span></div></div>
        <section id="postingbody">Works great.</section>
        <p class="postinginfo">post id: 7712345678</p>
        <time class="date timeago" datetime="2026-11-30T10:00:00-0800">2026-11-30</time>
        </body></html>"#;
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let url = "https://portland.craigslist.org/mlt/ele/d/bose-qc35/7712345678.html";
    let ReadPage::Posting(listing) = read_page(url, html, now).unwrap() else {
        panic!("a posting");
    };
    let listing = (*listing).unwrap();
    assert_eq!(listing.condition, Condition::LikeNew);
    assert_eq!(listing.location.as_deref(), Some("Portland"));
}
