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
    // (page, id, title, price in cents, location, condition, reply page, description's start)
    let cases = [
        (
            "homehunter_detail.html",
            "7942602776",
            "‼️NO FEE ! Bright 1BR ! Central Park ONE BLOCK !",
            385000,
            "Upper West Side",
            Condition::Unknown,
            "https://newyork.craigslist.org/reply/nyc/apa/7942602776",
            "NO FEE\n\nLOCATION LOCATION LOCATION - Live a block away from Central Park!\n\nBright",
        ),
        (
            "wauwatosa_detail.html",
            "7936415355",
            "Wauwatosa 2 Bdrm, 1 Bath Near MCW",
            132500,
            "Wauwatosa",
            Condition::Unknown,
            "https://milwaukee.craigslist.org/reply/mil/apa/7936415355",
            "Beautifully updated, clean, quiet 2 bedroom",
        ),
        (
            "sosedoff_listing1.html",
            "6569794207",
            "2011 Porsche Cayenne Turbo",
            3900000,
            "Glen Ellyn",
            Condition::LikeNew,
            "https://chicago.craigslist.org/reply/chi/cto/6569794207",
            "Proud PCA member selling his 2011 Porsche Cayenne Turbo in Excellent condition.  Fully \
             loaded with every option you can get.\nOne of the fastest",
        ),
    ];
    for (name, id, title, cents, location, condition, reply_page, description) in cases {
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
        // No real posting shows the seller's address: the reply button leads to it.
        assert_eq!(
            listing.seller.external_id,
            format!("craigslist:{id}"),
            "{name}"
        );
        assert_eq!(
            listing.seller.contact_url.as_deref(),
            Some(reply_page),
            "{name}"
        );
        assert!(
            listing.description.starts_with(description),
            "{name}: {:?}",
            listing.description
        );
        assert!(
            listing.url.starts_with("https://"),
            "{name}: {}",
            listing.url
        );
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

// ---------------------------------------------------------------------------------------
// The simulator's pages against the real ones.

/// The shape of an element: each descendant element as (depth, tag, classes), text left out.
fn shape(element: scraper::ElementRef<'_>) -> Vec<(usize, String, Vec<String>)> {
    fn walk(e: scraper::ElementRef<'_>, depth: usize, out: &mut Vec<(usize, String, Vec<String>)>) {
        let mut classes: Vec<String> = e.value().classes().map(str::to_string).collect();
        classes.sort();
        out.push((depth, e.value().name().to_string(), classes));
        for child in e.children().filter_map(scraper::ElementRef::wrap) {
            walk(child, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(element, 0, &mut out);
    out
}

/// Which of the posting page's landmarks a page has, in this order.
const POSTING_LANDMARKS: &[&str] = &[
    "script#ld_posting_data",
    "header.dateReplyBar button.reply-button.js-only[data-href]",
    "div.reply-info.js-only",
    "h1.postingtitle > span.postingtitletext > span.price",
    "h1.postingtitle > span.postingtitletext > span#titletextonly",
    "section.userbody #thumbs a.thumb[href]",
    "div.mapAndAttrs div.mapbox p.mapaddress a",
    "section#postingbody > div.print-information.print-qrcode-container",
    "section#postingbody br",
    "div.postinginfos p.postinginfo",
    "div.postinginfos time.date.timeago[datetime]",
    // Present on neither: real postings show no address.
    ".reply-email-address",
    "[data-pid]",
];

fn landmarks(html: &str) -> Vec<(&'static str, bool)> {
    let doc = scraper::Html::parse_document(html);
    POSTING_LANDMARKS
        .iter()
        .map(|css| {
            let selector = scraper::Selector::parse(css).unwrap();
            (*css, doc.select(&selector).next().is_some())
        })
        .collect()
}

/// What the connector reads off a posting, as which fields it found.
fn fields_read(url: &str, html: &str) -> Vec<(&'static str, bool)> {
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let ReadPage::Posting(listing) = read_page(url, html, now).unwrap() else {
        panic!("{url} is a posting");
    };
    let listing = (*listing).unwrap_or_else(|why| panic!("{url}: {why}"));
    vec![
        ("location", listing.location.is_some()),
        ("listed_at", listing.listed_at.is_some()),
        ("images", !listing.images.is_empty()),
        ("description", !listing.description.is_empty()),
        ("contact_url", listing.seller.contact_url.is_some()),
        (
            "inline address",
            !listing.seller.external_id.starts_with("craigslist:"),
        ),
    ]
}

#[tokio::test]
async fn the_simulated_site_has_the_real_2026_structure() {
    use bazaar_sim::sites::{ListingGenerator, Site, Sites, SitesConfig};
    let start = Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap();
    let clock = bazaar_memory::SimClock::new(start);
    let mut generator = ListingGenerator::new(3, Site::Craigslist);
    generator.count = 30;
    let (sites, _) = Sites::start_with(
        SitesConfig::default(),
        generator.generate(start),
        std::sync::Arc::new(clock),
    )
    .await
    .unwrap();
    bazaar_mail::install_crypto_provider();
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let sim_search = get(format!("{}/search/sss", sites.base_url())).await;

    // A result row: the same elements, classes and nesting as a real 2026 row.
    let row = |html: &str| {
        let doc = scraper::Html::parse_document(html);
        let selector = scraper::Selector::parse("li.cl-static-search-result").unwrap();
        let first = doc.select(&selector).next().map(shape);
        first.expect("a result row")
    };
    let (_, real_search) = page("wauwatosa_search.html");
    assert_eq!(row(&sim_search), row(&real_search));
    // The page's JSON-LD names its rows, as the real page's does.
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
    let ReadPage::Search(sim_rows) = read_page(sites.base_url(), &sim_search, now).unwrap() else {
        panic!("a search page");
    };
    let ld_items = sim_search.matches("\"@type\":\"ListItem\"").count();
    assert_eq!(ld_items, sim_rows.len());
    assert!(sim_rows.iter().all(Result::is_ok));

    // A posting: the real page's landmarks, and the same fields read from both.
    let first = sim_rows[0].as_ref().unwrap();
    let sim_posting = get(first.url.clone()).await;
    for name in ["homehunter_detail.html", "wauwatosa_detail.html"] {
        let (url, real) = page(name);
        assert_eq!(landmarks(&sim_posting), landmarks(&real), "{name}");
        assert_eq!(
            fields_read(&first.url, &sim_posting),
            fields_read(&url, &real),
            "{name}"
        );
    }
    sites.stop().await;
}
