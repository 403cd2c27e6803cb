//! The Craigslist connector against the simulated Craigslist-style site
//! (`bazaar_sim::sites::Sites`) on 127.0.0.1, and against a scripted server for what the sim
//! does not produce: malformed pages, odd prices, duplicates, 429/500, login walls, CAPTCHAs.

use crate::connectors_common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::connectors::{
    parse_price, BlockKind, Craigslist, CraigslistSettings, KnownListings, PoliteConfig,
    PriceProblem, SearchQuery, Source, SourceError,
};
use bazaar_memory::{Clock, Currency, Marketplace, Money, SimClock};
use bazaar_sim::sites::{Category, ListingGenerator, Site, SiteListing, Sites, SitesConfig};
use connectors_common::{drive, quick, start_time, FaultServer, Logs, Reply};

fn usd(cents: i64) -> Money {
    Money::new(cents, Currency::Usd)
}

fn connector(base: &str, polite: PoliteConfig, clock: &SimClock) -> Craigslist {
    Craigslist::new(
        CraigslistSettings::new(base),
        polite,
        Arc::new(clock.clone()),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn sites(listings: Vec<SiteListing>, page_size: usize, clock: &SimClock) -> Sites {
    let config = SitesConfig {
        craigslist_page_size: page_size,
        ..SitesConfig::default()
    };
    sites_with(config, listings, clock).await
}

async fn sites_with(config: SitesConfig, listings: Vec<SiteListing>, clock: &SimClock) -> Sites {
    let (sites, _) = Sites::start_with(config, listings, Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sites
}

fn generated(count: usize, categories: Vec<Category>) -> Vec<SiteListing> {
    let mut generator = ListingGenerator::new(7, Site::Craigslist);
    generator.count = count;
    generator.categories = categories;
    generator.generate(start_time())
}

// ---------------------------------------------------------------------------------------
// Prices as people write them.

#[test]
fn prices_as_people_write_them() {
    fn check(text: &str, expected: Result<i64, PriceProblem>) {
        assert_eq!(
            parse_price(text),
            expected.map(usd),
            "parse_price({text:?})"
        );
    }
    let absurd = |t: &str| Err(PriceProblem::Absurd(t.to_string()));
    let words = |t: &str| Err(PriceProblem::NotANumber(t.to_string()));
    check("$1,200", Ok(120_000));
    check("1200", Ok(120_000));
    check("$ 1,200", Ok(120_000));
    check("$12.50", Ok(1_250));
    check("$1.2k", Ok(120_000));
    check("$1.2K", Ok(120_000));
    check("1.25k", Ok(125_000));
    check("3k", Ok(300_000));
    check("$500 OBO", Ok(50_000));
    check("$500 obo", Ok(50_000));
    check("1200 firm", Ok(120_000));
    check("$0", Ok(0));
    check("free", Ok(0));
    check("FREE!", Ok(0));
    check("Free to a good home", Ok(0));
    check("$1,000,000", Ok(100_000_000));
    check("", Err(PriceProblem::Missing));
    check("   ", Err(PriceProblem::Missing));
    check("OBO", Err(PriceProblem::Missing));
    check("or best offer", Err(PriceProblem::Missing));
    check("$", Err(PriceProblem::Missing));
    check("$500obo", Ok(50_000));
    check("$1e9", words("$1e9"));
    check("12x", words("12x"));
    check("call", words("call"));
    check("make me an offer", words("make me an offer"));
    check("$1.2.3", words("$1.2.3"));
    check("$1,23", words("$1,23"));
    check("$1,000,001", absurd("$1,000,001"));
    check("$2m", absurd("$2m"));
    check("$99999999999999999999", absurd("$99999999999999999999"));
    check("-$5", Err(PriceProblem::Negative("-$5".into())));
}

// ---------------------------------------------------------------------------------------
// Against the simulated site.

/// The first posting's reply page on a site of three postings configured so, and what
/// reading it for the seller's address gives.
async fn first_reply(
    config: SitesConfig,
    clock: &SimClock,
) -> (String, Result<String, SourceError>) {
    let site = sites_with(config, generated(3, vec![Category::Furniture]), clock).await;
    let cl = connector(site.base_url(), quick(), clock);
    let mut query = SearchQuery::new("");
    query.limit = Some(2);
    let page = cl.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    let reply_page = page.listings[0]
        .seller
        .contact_url
        .clone()
        .unwrap_or_default();
    let read = cl.reveal_contact(&reply_page).await;
    site.stop().await;
    (reply_page, read)
}

#[tokio::test]
async fn a_reply_page_behind_a_captcha_hides_the_address_and_pauses_nothing() {
    let clock = SimClock::new(start_time());
    let listings = generated(10, vec![Category::Furniture]);
    let config = SitesConfig {
        craigslist_captcha_permille: 1000,
        ..SitesConfig::default()
    };
    let site = sites_with(config, listings, &clock).await;
    let cl = connector(site.base_url(), quick(), &clock);
    let mut query = SearchQuery::new("");
    query.limit = Some(2);
    let page = cl.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    let reply_page = page.listings[0]
        .seller
        .contact_url
        .clone()
        .unwrap_or_default();
    let hidden = cl.reveal_contact(&reply_page).await;
    match &hidden {
        Err(SourceError::ContactHidden { url, why }) => {
            assert_eq!(url, &reply_page);
            assert_eq!(why, "behind a captcha");
        }
        other => panic!("expected the address hidden, got {other:?}"),
    }
    // The captcha is the posting's, not a wall in front of the site: searching goes on.
    assert!(cl.take_alerts().is_empty());
    let again = cl.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.listings.len(), 2);
    // A reply page whose script writes the address: only a browser shows it.
    let config = SitesConfig {
        craigslist_script_reply_permille: 1000,
        ..SitesConfig::default()
    };
    match first_reply(config, &clock).await {
        (_, Err(SourceError::ContactHidden { why, .. })) => {
            assert_eq!(why, "written by the page's script")
        }
        got => panic!("expected the address hidden, got {got:?}"),
    }
    // A seller who takes calls or texts only: the number, and no address to mail.
    let config = SitesConfig {
        craigslist_phone_only_permille: 1000,
        ..SitesConfig::default()
    };
    match first_reply(config, &clock).await {
        (reply_page, Err(SourceError::PhoneOnly { url, phone })) => {
            assert_eq!(url, reply_page);
            assert!(phone.starts_with("(555) 555-01"), "{phone}");
        }
        got => panic!("expected a phone-only seller, got {got:?}"),
    }
    // A reply page on another host is refused before any request.
    let elsewhere = cl
        .reveal_contact("https://example.com/reply/sfo/fuo/1")
        .await;
    assert!(
        matches!(elsewhere, Err(SourceError::Config(_))),
        "{elsewhere:?}"
    );
    site.stop().await;
}

#[tokio::test]
async fn search_reads_postings_from_the_sim() {
    let clock = SimClock::new(start_time());
    let listings = generated(40, vec![Category::Furniture, Category::Bike]);
    let site = sites(listings, 120, &clock).await;
    let cl = connector(site.base_url(), quick(), &clock);

    let mut query = SearchQuery::new("");
    query.category = Some("furniture".into());
    query.limit = Some(5);
    let page = cl.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.listings.len(), 5);
    assert!(page.skipped.is_empty(), "{:?}", page.skipped);
    assert_eq!(page.next_offset, Some(5));
    for listing in &page.listings {
        let id: u64 = listing
            .external_id
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let truth = site
            .get(id)
            .unwrap_or_else(|| panic!("{id} unknown"))
            .listing;
        assert_eq!(listing.marketplace, Marketplace::Craigslist);
        assert_eq!(listing.title, truth.title);
        assert_eq!(listing.price, truth.price, "{}", listing.title);
        assert_eq!(listing.category, "furniture");
        // As on real Craigslist, the posting hides the address behind the reply button;
        // the reply page gives it.
        assert_eq!(listing.seller.external_id, format!("craigslist:{id}"));
        let reply_page = listing.seller.contact_url.as_deref().unwrap_or_else(|| {
            panic!("{}: no reply page", listing.url);
        });
        assert_eq!(
            reply_page,
            format!(
                "{}/reply/{}/{}/{id}",
                site.base_url(),
                truth.area,
                truth.category.craigslist_posting_code()
            )
        );
        let address = cl
            .reveal_contact(reply_page)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(address, truth.reply_address);
        assert_eq!(listing.listed_at, Some(truth.posted_at));
        assert_eq!(listing.images.len(), truth.images.len());
        assert!(listing
            .images
            .iter()
            .all(|i| i.starts_with(site.base_url())));
        // The place in parentheses after the title, as real postings show it.
        assert_eq!(listing.location.as_deref(), Some(truth.location.as_str()));
        // Line for line: one `<br>` is one line break, not a blank line.
        assert_eq!(listing.description, truth.description.trim());
        assert!(!listing.description.contains("QR Code"));
        assert!(listing.raw.contains("postingbody"));
    }

    query.offset = 5;
    let next = cl.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
    let first: BTreeSet<_> = page
        .listings
        .iter()
        .map(|l| l.external_id.clone())
        .collect();
    assert!(next
        .listings
        .iter()
        .all(|l| !first.contains(&l.external_id)));
}

#[tokio::test]
async fn pages_follow_each_other_to_the_end_within_the_price_range() {
    let clock = SimClock::new(start_time());
    let listings = generated(30, vec![Category::Bike]);
    let lo = usd(5_000);
    let hi = usd(60_000);
    let expected: BTreeSet<String> = listings
        .iter()
        .filter(|l| l.price >= lo && l.price <= hi)
        .map(|l| l.id.to_string())
        .collect();
    assert!(expected.len() > 4, "the test needs several pages");
    let site = sites(listings, 4, &clock).await;
    let cl = connector(site.base_url(), quick(), &clock);
    let mut query = SearchQuery::new("");
    query.category = Some("bike".into());
    query.min_price = Some(lo);
    query.max_price = Some(hi);
    query.limit = Some(100);
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let page = cl.search(&query).await.unwrap_or_else(|e| panic!("{e}"));
        pages += 1;
        assert!(page.listings.len() <= 4);
        for l in &page.listings {
            assert!(l.price >= lo && l.price <= hi, "{} {}", l.title, l.price);
            assert!(
                seen.insert(l.external_id.clone()),
                "{} twice",
                l.external_id
            );
        }
        match page.next_offset {
            Some(next) => query.offset = next,
            None => break,
        }
        assert!(pages < 50);
    }
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn fetch_by_post_id_follows_the_redirect_and_a_sold_posting_is_not_found() {
    let clock = SimClock::new(start_time());
    let listings = generated(5, vec![Category::Electronics]);
    let truth = listings[0].clone();
    let site = sites(listings, 120, &clock).await;
    let cl = connector(site.base_url(), quick(), &clock);
    let source: &dyn Source = &cl;
    let listing = source
        .fetch(&truth.id.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listing.title, truth.title);
    assert_eq!(listing.price, truth.price);
    assert_eq!(listing.category, "electronics");
    assert!(
        listing.url.ends_with(&truth.craigslist_path()),
        "{}",
        listing.url
    );

    assert!(site.mark_sold(truth.id));
    let logs = Logs::capture();
    let gone = source.fetch(&truth.id.to_string()).await;
    assert!(matches!(gone, Err(SourceError::NotFound(_))), "{gone:?}");
    assert!(
        logs.lines().is_empty(),
        "a gone posting is routine: {:#?}",
        logs.lines()
    );
}

// ---------------------------------------------------------------------------------------
// Against a scripted server.

fn search_html(rows: &[(&str, &str, &str)]) -> String {
    let mut html = String::from(
        "<!DOCTYPE html><html><head><title>for sale - craigslist</title></head><body>\
         <span class=\"totalcount\">99</span><ol class=\"cl-static-search-results\">",
    );
    for (pid, href, price) in rows {
        let pid_attr = if pid.is_empty() {
            String::new()
        } else {
            format!(" data-pid=\"{pid}\"")
        };
        html.push_str(&format!(
            "<li class=\"cl-static-search-result\"{pid_attr}><a href=\"{href}\"><div class=\"title\">t</div>\
             <span class=\"price\">{price}</span></a></li>"
        ));
    }
    html.push_str("</ol></body></html>");
    html
}

fn posting_html(id: &str, title: &str, price: Option<&str>, body: &str) -> String {
    let price = price
        .map(|p| format!("<span class=\"price\">{p}</span>"))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html><html><head><title>{title}</title></head><body>\
         <h1 class=\"postingtitle\"><span class=\"postingtitletext\"><span id=\"titletextonly\">{title}</span>{price}\
         <span class=\"postingtitle-location\"> (Oakland)</span></span></h1>\
         <p class=\"attrgroup\"><span>condition: <b>like new</b></span></p>\
         <section id=\"postingbody\"><div class=\"print-information print-qrcode-container\">QR Code Link to This Post</div>{body}</section>\
         <p class=\"postinginfo\">post id: {id}</p>\
         <p class=\"postinginfo\">posted: <time class=\"date timeago\" datetime=\"2026-03-01T10:00:00+0000\">x</time></p>\
         <div class=\"reply-email-address\"><a class=\"mailapp\" href=\"mailto:s{id}@reply.test?subject=x\">s{id}@reply.test</a></div>\
         </body></html>"
    )
}

fn posting_path(id: &str) -> String {
    format!("/eby/fuo/d/thing/{id}.html")
}

#[tokio::test]
async fn odd_prices_duplicates_and_broken_pages_are_skipped_one_line_each() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    let p = |id: &str| posting_path(id);
    let rows = [
        ("1001", p("1001"), "$1,200"),
        ("1001", p("1001"), "$1,200"),     // duplicate
        ("", p("1999"), "$5"),             // no post id
        ("12ab", p("12ab"), "$5"),         // not a number
        ("1002", p("1002"), "$5,000,000"), // absurd: skipped before fetching
        ("1003", p("1003"), "$1.2k"),
        ("1004", p("1004"), "free"),
        ("1005", p("1005"), "OBO"), // no price anywhere
        ("1006", p("1006"), ""),    // the posting has none either
        ("1007", p("1007"), "$40"), // deleted posting
        ("1008", p("1008"), "$40"), // truncated posting, no title
        ("1009", p("1009"), "$75"), // messy but readable
    ];
    let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, c)| (*a, b.as_str(), *c)).collect();
    fake.script("/search/sss", vec![Reply::html(200, search_html(&rows))]);
    fake.script(
        &p("1001"),
        vec![Reply::html(
            200,
            posting_html("1001", "Oak desk", Some("$1,200"), "Solid oak."),
        )],
    );
    fake.script(
        &p("1003"),
        vec![Reply::html(
            200,
            posting_html(
                "1003",
                "Sofa",
                Some("$1.2k"),
                "Blue sofa. No captcha needed, pick up.",
            ),
        )],
    );
    fake.script(
        &p("1004"),
        vec![Reply::html(
            200,
            posting_html("1004", "Pallets", Some("free"), "Take them."),
        )],
    );
    fake.script(
        &p("1005"),
        vec![Reply::html(
            200,
            posting_html("1005", "Lamp", Some("OBO"), "Lamp."),
        )],
    );
    fake.script(
        &p("1006"),
        vec![Reply::html(
            200,
            posting_html("1006", "Chair", None, "Chair."),
        )],
    );
    fake.script(
        &p("1008"),
        vec![Reply::html(
            200,
            "<html><body><section id=\"postingbody\">half a pa",
        )],
    );
    fake.script(
        &p("1009"),
        vec![Reply::html(
            200,
            "<html><body><span class=postingtitletext><span id=titletextonly>Bike rack</span><span class=price>$75</span>\
             <section id=postingbody><p>Holds two bikes<p>Barely used<div><b>unclosed",
        )],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let logs = Logs::capture();
    let page = cl
        .search(&SearchQuery {
            limit: Some(50),
            ..SearchQuery::new("")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let kept: Vec<(&str, Money)> = page
        .listings
        .iter()
        .map(|l| (l.external_id.as_str(), l.price))
        .collect();
    assert_eq!(
        kept,
        [
            ("1001", usd(120_000)),
            ("1003", usd(120_000)),
            ("1004", usd(0)),
            ("1009", usd(7_500)),
        ]
    );
    let desk = &page.listings[0];
    assert_eq!(desk.seller.external_id, "s1001@reply.test");
    assert_eq!(desk.description, "Solid oak.");
    assert_eq!(desk.category, "furniture");
    assert_eq!(desk.condition, bazaar_memory::Condition::LikeNew);
    assert_eq!(desk.location.as_deref(), Some("Oakland"));
    let rack = &page.listings[3];
    assert_eq!(rack.title, "Bike rack");
    assert_eq!(
        rack.seller.external_id, "craigslist:1009",
        "no reply address on the page"
    );
    assert!(
        rack.description.starts_with("Holds two bikes\nBarely used"),
        "{:?}",
        rack.description
    );

    let reasons: Vec<(Option<&str>, &str)> = page
        .skipped
        .iter()
        .map(|s| (s.external_id.as_deref(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (Some("1001"), "duplicate in the same page"),
            (None, "result row without a post id"),
            (Some("12ab"), "post id \"12ab\" is not a number"),
            (Some("1002"), "absurd price \"$5,000,000\""),
            (Some("1005"), "no price"),
            (Some("1006"), "no price"),
            (Some("1007"), "posting deleted or gone"),
            (Some("1008"), "posting has no title"),
        ]
    );
    assert_eq!(
        fake.hits(&p("1002")),
        0,
        "an absurd price is not worth a request"
    );
    let lines = logs.lines();
    assert_eq!(lines.len(), reasons.len(), "{lines:#?}");
    assert!(
        lines.iter().all(|l| l.contains("listing skipped")),
        "{lines:#?}"
    );
}

/// A page that answered 200 with no result list and no "no results" is not an empty
/// search: the layout changed, and the page comes back degraded (an incident for the
/// Researcher), with one log line.
#[tokio::test]
async fn a_page_without_results_is_degraded_in_one_line() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        "/search/sss",
        vec![Reply::html(200, "<html><body><div>Something went wr")],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let logs = Logs::capture();
    let result = cl.search(&SearchQuery::new("desk")).await;
    let page = result.unwrap();
    assert!(page.listings.is_empty());
    let degraded = page.degraded.expect("a degraded page");
    assert_eq!((degraded.read, degraded.expected), (0, None));
    assert!(degraded.url.contains("/search/sss"), "{}", degraded.url);
    assert!(degraded.message().contains("layout has probably changed"));
    assert_eq!(logs.lines().len(), 1, "{:#?}", logs.lines());
}

#[tokio::test]
async fn a_500_backs_off_on_the_clock_and_recovers() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        &posting_path("2001"),
        vec![
            Reply::html(500, "<html>oops</html>"),
            Reply::html(503, "<html>busy</html>"),
            Reply::html(200, posting_html("2001", "Desk", Some("$80"), "Desk.")),
        ],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let _driver = drive(&clock);
    let logs = Logs::capture();
    let listing = cl
        .fetch(&posting_path("2001"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(listing.price, usd(8_000));
    assert_eq!(fake.hits(&posting_path("2001")), 3);
    assert!(
        clock.now() >= start_time() + chrono::Duration::seconds(3),
        "1 s + 2 s of backoff"
    );
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("recovered after retries"), "{lines:#?}");
}

#[tokio::test]
async fn a_429_that_persists_gives_up_with_rate_limited_in_one_line() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        "/search/sss",
        vec![Reply::html(429, "<html>slow down</html>").header("retry-after", "5")],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let _driver = drive(&clock);
    let logs = Logs::capture();
    let result = cl.search(&SearchQuery::new("desk")).await;
    assert!(
        matches!(
            result,
            Err(SourceError::RateLimited {
                retry_after: Some(_)
            })
        ),
        "{result:?}"
    );
    assert_eq!(fake.hits("/search/sss"), 4, "one try and three retries");
    // Retry-After (5 s) beats the 1 s and 2 s backoffs; the third is 4 s → 5 s too.
    assert!(clock.now() >= start_time() + chrono::Duration::seconds(15));
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("giving up after retries"), "{lines:#?}");
}

#[tokio::test]
async fn a_login_wall_pauses_the_source_and_raises_one_alert() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        "/search/sss",
        vec![Reply::html(302, "").header("location", "/login?rt=L&rp=%2Fsearch%2Fsss")],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let source: &dyn Source = &cl;
    let logs = Logs::capture();
    let first = source.search(&SearchQuery::new("desk")).await;
    assert!(
        matches!(first, Err(SourceError::LoginWall { .. })),
        "{first:?}"
    );
    assert_eq!(
        fake.hits("/login"),
        0,
        "the redirect to the login page is not followed"
    );
    for _ in 0..3 {
        let again = source.search(&SearchQuery::new("desk")).await;
        assert!(
            matches!(
                again,
                Err(SourceError::Paused {
                    kind: BlockKind::LoginWall,
                    ..
                })
            ),
            "{again:?}"
        );
        assert!(source.fetch("1234").await.is_err());
    }
    assert_eq!(fake.all_hits().len(), 1, "nothing sent while paused");
    let alerts = source.take_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, BlockKind::LoginWall);
    assert_eq!(alerts[0].marketplace, Marketplace::Craigslist);
    assert!(
        alerts[0].message.contains("login wall"),
        "{}",
        alerts[0].message
    );
    assert!(source.take_alerts().is_empty());
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(lines[0].contains("source paused"), "{lines:#?}");

    // Cleared by the operator: calls go out again.
    fake.script("/search/sss", vec![Reply::html(200, search_html(&[]))]);
    source.resume();
    let page = source
        .search(&SearchQuery::new("desk"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(page.listings.is_empty());
    assert_eq!(fake.all_hits().len(), 2);
}

#[tokio::test]
async fn a_login_form_in_place_of_the_page_is_a_login_wall() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        &posting_path("3001"),
        vec![Reply::html(
            200,
            "<html><head><title>account log in</title></head><body><form action=\"/session\" method=post>\
             <input name=email><input type=password name=pw></form></body></html>",
        )],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let result = cl.fetch(&posting_path("3001")).await;
    assert!(
        matches!(result, Err(SourceError::LoginWall { .. })),
        "{result:?}"
    );
    assert_eq!(cl.gate().paused(), Some(BlockKind::LoginWall));
    assert_eq!(cl.take_alerts().len(), 1);
}

#[tokio::test]
async fn a_captcha_pauses_the_source_instead_of_hammering() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    fake.script(
        "/search/sss",
        vec![Reply::html(
            403,
            "<html><head><title>blocked</title></head><body><form action=\"/verify\">\
             <div class=\"g-recaptcha\" data-sitekey=\"abc\"></div></form></body></html>",
        )],
    );
    let cl = connector(&fake.base, quick(), &clock);
    let logs = Logs::capture();
    for _ in 0..5 {
        let result = cl.search(&SearchQuery::new("desk")).await;
        assert!(
            result.as_ref().is_err_and(SourceError::is_blocked),
            "{result:?}"
        );
    }
    assert_eq!(fake.hits("/search/sss"), 1, "a 403 captcha is not retried");
    let alerts = cl.take_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, BlockKind::Captcha);
    assert_eq!(logs.lines().len(), 1, "{:#?}", logs.lines());
}

#[tokio::test]
async fn at_most_the_configured_requests_run_at_once() {
    for concurrency in [1usize, 2] {
        let clock = SimClock::new(start_time());
        let fake = FaultServer::start_with_delay(Duration::from_millis(60)).await;
        for id in 4001..4007 {
            let id = id.to_string();
            fake.script(
                &posting_path(&id),
                vec![Reply::html(
                    200,
                    posting_html(&id, "Desk", Some("$10"), "d"),
                )],
            );
        }
        let polite = PoliteConfig {
            concurrency,
            ..quick()
        };
        let cl = connector(&fake.base, polite, &clock);
        let paths: Vec<String> = (4001..4007)
            .map(|id| posting_path(&id.to_string()))
            .collect();
        let fetches = paths.iter().map(|p| cl.fetch(p));
        let results = futures_join_all(fetches).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(fake.max_in_flight(), concurrency);
    }
}

#[tokio::test]
async fn requests_are_spaced_on_the_clock() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    for id in 5001..5004 {
        let id = id.to_string();
        fake.script(
            &posting_path(&id),
            vec![Reply::html(
                200,
                posting_html(&id, "Desk", Some("$10"), "d"),
            )],
        );
    }
    let polite = PoliteConfig {
        concurrency: 1,
        min_delay: Duration::from_secs(2),
        jitter: Duration::from_secs(1),
        ..quick()
    };
    let cl = connector(&fake.base, polite, &clock);
    let _driver = drive(&clock);
    for id in 5001..5004 {
        cl.fetch(&posting_path(&id.to_string()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let waited = clock.now() - start_time();
    assert!(
        waited >= chrono::Duration::seconds(4) && waited <= chrono::Duration::seconds(6),
        "two gaps of 2–3 s: {waited}"
    );
}

/// Runs every future at once on this task and collects their results in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = handles.iter().map(|_| None).collect();
    let mut handles: Vec<Option<std::pin::Pin<Box<F>>>> = handles.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, out) in handles.iter_mut().zip(outputs.iter_mut()) {
            if let Some(fut) = slot {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The posting limit counts requests: with every posting gone, a search with limit 3 asks
/// for three postings, not all of them, and the next page starts after those three.
#[tokio::test]
async fn the_posting_limit_counts_requests_not_listings_read() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    let ids = ["2001", "2002", "2003", "2004", "2005", "2006"];
    let rows: Vec<(&str, String, &str)> = ids
        .iter()
        .map(|id| (*id, posting_path(id), "$40"))
        .collect();
    let rows: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|(id, path, price)| (*id, path.as_str(), *price))
        .collect();
    fake.script("/search/sss", vec![Reply::html(200, search_html(&rows))]);
    for id in ids {
        fake.script(&posting_path(id), vec![Reply::html(404, "gone")]);
    }
    let cl = connector(&fake.base, quick(), &clock);
    let page = cl
        .search(&SearchQuery {
            limit: Some(3),
            ..SearchQuery::new("")
        })
        .await
        .unwrap();
    assert!(page.listings.is_empty());
    let asked: usize = ids.iter().map(|id| fake.hits(&posting_path(id))).sum();
    assert_eq!(asked, 3, "posting requests");
    assert_eq!(page.next_offset, Some(3));
    assert!(
        page.degraded.is_none(),
        "rows were read; the postings are gone"
    );
}

/// A scan every few minutes fetches what is new or repriced, not every posting again: a
/// posting the caller read lately at the price its row shows is left out (counted as
/// unchanged, and not against the posting limit); at another price it is fetched.
#[tokio::test]
async fn postings_read_lately_at_the_same_price_are_not_fetched_again() {
    let clock = SimClock::new(start_time());
    let fake = FaultServer::start().await;
    let p = |id: &str| posting_path(id);
    let rows = [
        ("2001", p("2001"), "$100"),
        ("2002", p("2002"), "$80"),
        ("2003", p("2003"), "$60"),
    ];
    let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(a, b, c)| (*a, b.as_str(), *c)).collect();
    fake.script("/search/sss", vec![Reply::html(200, search_html(&rows))]);
    for (id, title, price) in [
        ("2001", "Desk", "$100"),
        ("2002", "Lamp", "$80"),
        ("2003", "Rug", "$60"),
    ] {
        fake.script(
            &p(id),
            vec![Reply::html(
                200,
                posting_html(id, title, Some(price), "Fine."),
            )],
        );
    }
    let cl = connector(&fake.base, quick(), &clock);
    let known = KnownListings::new(
        [
            ("2001".to_string(), usd(10_000)), // the same price: left out
            ("2002".to_string(), usd(9_000)),  // was $90, now $80: fetched
        ]
        .into_iter()
        .collect(),
    );
    let page = cl
        .search(&SearchQuery {
            limit: Some(2),
            known,
            ..SearchQuery::new("")
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let read: Vec<&str> = page
        .listings
        .iter()
        .map(|l| l.external_id.as_str())
        .collect();
    assert_eq!(
        read,
        ["2002", "2003"],
        "two fetches, the known posting skipped"
    );
    assert_eq!(page.unchanged, 1);
    assert_eq!(
        fake.hits(&p("2001")),
        0,
        "the unchanged posting was fetched"
    );
    assert_eq!(fake.hits(&p("2002")), 1);
}
