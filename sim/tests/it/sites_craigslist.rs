//! The Craigslist-style site over real HTTP, read with CSS selectors the way a scraper of the
//! real site reads it.

use std::sync::Arc;
use std::time::Duration;

use bazaar_memory::{Money, SimClock};
use bazaar_sim::sites::{
    catalog, Category, ListingGenerator, Site, SiteListing, Sites, SitesConfig, PLACES,
};
use chrono::{DateTime, TimeZone, Utc};
use scraper::{ElementRef, Html, Node, Selector};

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn listings(seed: u64) -> Vec<SiteListing> {
    ListingGenerator::new(seed, Site::Craigslist).generate(start_time())
}

async fn start(listings: Vec<SiteListing>, page_size: usize) -> (Sites, SimClock, reqwest::Client) {
    let clock = SimClock::new(start_time());
    let config = SitesConfig {
        craigslist_page_size: page_size,
        ..SitesConfig::default()
    };
    let (sites, _) = Sites::start_with(config, listings, Arc::new(clock.clone()))
        .await
        .unwrap();
    bazaar_mail::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    (sites, clock, client)
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, String) {
    let response = client.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn sel(css: &str) -> Selector {
    Selector::parse(css).unwrap()
}

fn text(element: ElementRef<'_>) -> String {
    element.text().collect::<String>()
}

fn one<'a>(doc: &'a Html, css: &str) -> ElementRef<'a> {
    let found: Vec<_> = doc.select(&sel(css)).collect();
    assert_eq!(found.len(), 1, "expected one {css}, found {}", found.len());
    found[0]
}

/// One search result as a scraper of the real 2026 page reads it: no `data-pid`, no date;
/// the id is in the link (a posting's number, or a `/view/d/` token).
#[derive(Debug, Clone, PartialEq)]
struct Row {
    pid: u64,
    title: String,
    price: String,
    location: String,
    /// Absolute, as on the real page.
    href: String,
}

/// The post id a row's link names: `…/<id>.html`, or the base-36 token of `/view/d/…`.
fn pid_of(href: &str) -> u64 {
    let last = href.rsplit('/').next().unwrap();
    match last.strip_suffix(".html") {
        Some(id) => id.parse().unwrap(),
        None => {
            assert!(href.contains("/view/d/"), "{href}");
            u64::from_str_radix(last, 36).unwrap()
        }
    }
}

/// Where a row for `listing` links on the site at `base` when the clock reads `now`: the
/// last hour's postings by token, as the newest real rows do.
fn expected_href(base: &str, listing: &SiteListing, now: DateTime<Utc>) -> String {
    if now - listing.posted_at < chrono::Duration::hours(1) {
        let last = listing.craigslist_path();
        let id = last.rsplit('/').next().unwrap().trim_end_matches(".html");
        let token = {
            let mut n: u64 = id.parse().unwrap();
            let mut digits = Vec::new();
            while n > 0 {
                digits.push(std::char::from_digit((n % 36) as u32, 36).unwrap());
                n /= 36;
            }
            digits.iter().rev().collect::<String>()
        };
        return format!("{base}/view/d/{}/{token}", listing.slug());
    }
    format!("{base}{}", listing.craigslist_path())
}

#[derive(Debug)]
struct SearchPage {
    rows: Vec<Row>,
    from: usize,
    to: usize,
    total: usize,
    next: Option<String>,
    prev: Option<String>,
}

fn parse_search(html: &str) -> SearchPage {
    let doc = Html::parse_document(html);
    let rows = doc
        .select(&sel(
            "ol.cl-static-search-results > li.cl-static-search-result",
        ))
        .map(|li| {
            assert!(li.attr("data-pid").is_none(), "real rows carry no data-pid");
            let a = li.select(&sel("a[href]")).next().expect("a link");
            let field = |css: &str| text(li.select(&sel(css)).next().expect(css));
            let href = a.attr("href").unwrap().to_string();
            let title = field("div.title");
            assert_eq!(li.attr("title"), Some(title.as_str()));
            Row {
                pid: pid_of(&href),
                title,
                price: field(".details div.price"),
                location: field(".details div.location").trim().to_string(),
                href,
            }
        })
        .collect();
    let number = |css: &str| text(one(&doc, css)).trim().parse::<usize>().unwrap();
    let link = |css: &str| {
        doc.select(&sel(css))
            .next()
            .map(|a| a.attr("href").unwrap().to_string())
    };
    SearchPage {
        rows,
        from: number("span.rangeFrom"),
        to: number("span.rangeTo"),
        total: number("span.totalcount"),
        next: link(".paginator a.button.next"),
        prev: link(".paginator a.button.prev"),
    }
}

/// Every result of a search, following "next" links from `path`.
async fn all_results(client: &reqwest::Client, base: &str, path: &str) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut next = Some(path.to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let (status, html) = get(client, &format!("{base}{path}")).await;
        assert_eq!(status, 200, "{path}");
        let page = parse_search(&html);
        assert_eq!(
            page.from,
            if page.rows.is_empty() {
                0
            } else {
                rows.len() + 1
            }
        );
        rows.extend(page.rows);
        assert_eq!(page.to, rows.len(), "{path}");
        next = page.next;
        pages += 1;
        assert!(pages < 100, "pagination does not end");
    }
    rows
}

fn ids(listings: &[&SiteListing]) -> Vec<u64> {
    listings.iter().map(|l| l.id).collect()
}

fn row_ids(rows: &[Row]) -> Vec<u64> {
    rows.iter().map(|r| r.pid).collect()
}

#[test]
fn catalog_is_embedded_whole() {
    let rows = catalog();
    assert_eq!(rows.len(), 665);
    let count = |c: Category| rows.iter().filter(|r| r.category == c).count();
    assert_eq!(count(Category::Furniture), 176);
    assert_eq!(count(Category::Housing), 131);
    assert_eq!(count(Category::Bike), 104);
    assert_eq!(count(Category::Car), 94);
    assert_eq!(count(Category::Electronics), 94);
    assert_eq!(count(Category::Phone), 66);
    assert_eq!(rows[0].title, "2014 TOYOTA PRIUS Hybrid");
    assert_eq!(rows[0].listing_price, 8900);
}

#[test]
fn generator_is_seeded_and_scales_prices() {
    let now = start_time();
    let a = ListingGenerator::new(7, Site::Craigslist).generate(now);
    let b = ListingGenerator::new(7, Site::Craigslist).generate(now);
    let c = ListingGenerator::new(8, Site::Craigslist).generate(now);
    assert_eq!(a, b, "same seed, same listings");
    assert_ne!(a, c, "another seed, other listings");
    assert_eq!(a.len(), 665);

    let mut seen_ids = std::collections::BTreeSet::new();
    let mut seen_rows = std::collections::BTreeSet::new();
    let mut seen_places = std::collections::BTreeSet::new();
    for listing in &a {
        assert!(seen_ids.insert(listing.id), "duplicate id {}", listing.id);
        assert_eq!(listing.id.to_string().len(), 10);
        let index = listing.catalog_index.unwrap();
        assert!(seen_rows.insert(index), "row {index} used twice");
        let row = &catalog()[index];
        assert_eq!(listing.title, row.title.trim());
        assert_eq!(listing.category, row.category);
        assert_eq!(listing.description, row.description.join("\n\n"));
        // ±15 % plus the rounding of a moved price.
        let catalog_cents = row.listing_price * 100;
        let slack = catalog_cents * 15 / 100 + 50 * 100;
        assert!(
            (listing.price.minor - catalog_cents).abs() <= slack,
            "{} from {}",
            listing.price,
            row.listing_price
        );
        assert!(listing.price.minor >= 100);
        assert!(listing.posted_at <= now && listing.posted_at > now - chrono::Duration::days(7));
        assert!(PLACES
            .iter()
            .any(|p| p.city == listing.location && p.area == listing.area));
        seen_places.insert(listing.location.clone());
        let (local, domain) = listing.reply_address.split_once('@').unwrap();
        assert_eq!(domain, "reply.sim.bazaar.test");
        assert_eq!(local.len(), 32);
        assert!(local.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(!listing.images.is_empty() && listing.images.len() <= 4);
        assert!(listing.images[0].starts_with(&format!("/images/{}/", listing.id)));
    }
    assert!(seen_places.len() >= 8, "locations spread: {seen_places:?}");
    assert!(a.windows(2).all(|w| w[0].posted_at >= w[1].posted_at));

    // No perturbation: the catalog's prices exactly. Half price: half, rounded.
    let mut exact = ListingGenerator::new(7, Site::Craigslist);
    exact.price_jitter_permille = 0;
    for listing in exact.generate(now) {
        let row = &catalog()[listing.catalog_index.unwrap()];
        assert_eq!(listing.price, Money::usd(row.listing_price * 100));
    }
    let mut half = ListingGenerator::new(7, Site::Craigslist);
    half.price_jitter_permille = 0;
    half.price_factor_permille = 500;
    half.count = 30;
    half.categories = vec![Category::Car];
    let cars = half.generate(now);
    assert_eq!(cars.len(), 30);
    for listing in cars {
        assert_eq!(listing.category, Category::Car);
        let row = &catalog()[listing.catalog_index.unwrap()];
        let want = row.listing_price * 100 / 2;
        assert!(
            (listing.price.minor - want).abs() <= 25 * 100,
            "{} for half of {}",
            listing.price,
            row.listing_price
        );
    }
}

#[tokio::test]
async fn search_by_category_lists_every_listing_newest_first() {
    let all = listings(1);
    let (sites, _clock, client) = start(all.clone(), 120).await;
    let base = sites.base_url().to_string();
    for category in Category::ALL {
        let want: Vec<&SiteListing> = all.iter().filter(|l| l.category == category).collect();
        let code = category.craigslist_search_code();
        let rows = all_results(&client, &base, &format!("/search/{code}")).await;
        assert_eq!(row_ids(&rows), ids(&want), "/search/{code}");
        for (row, listing) in rows.iter().zip(&want) {
            assert_eq!(row.title, listing.title);
            assert_eq!(row.price, listing.price_text());
            assert_eq!(row.location, listing.location);
            assert_eq!(row.href, expected_href(&base, listing, start_time()));
        }
    }
    // sss is everything for sale (no housing), hhh is housing.
    let for_sale: Vec<&SiteListing> = all.iter().filter(|l| !l.category.is_housing()).collect();
    let rows = all_results(&client, &base, "/search/sss").await;
    assert_eq!(row_ids(&rows), ids(&for_sale));
    let (_, html) = get(&client, &format!("{base}/search/hhh")).await;
    assert_eq!(parse_search(&html).total, 131);
    // A price like $1,200 is printed with a thousands separator.
    assert!(rows.iter().any(|r| r.price.contains(',')));
    // An unknown category is a 404.
    let (status, html) = get(&client, &format!("{base}/search/zzz")).await;
    assert_eq!(status, 404);
    assert!(html.contains("Page Not Found"));
    sites.stop().await;
}

#[tokio::test]
async fn query_and_price_range_select_the_right_listings() {
    let all = listings(2);
    let (sites, _clock, client) = start(all.clone(), 120).await;
    let base = sites.base_url().to_string();
    let matches = |l: &SiteListing, word: &str, title_only: bool| {
        let mut text = l.title.to_lowercase();
        if !title_only {
            text.push_str(&l.description.to_lowercase());
        }
        text.contains(word)
    };

    // A word in the title or the body.
    let want: Vec<&SiteListing> = all
        .iter()
        .filter(|l| !l.category.is_housing() && matches(l, "leather", false))
        .collect();
    assert!(want.len() >= 3, "the catalog has leather things");
    let rows = all_results(&client, &base, "/search/sss?query=Leather").await;
    assert_eq!(row_ids(&rows), ids(&want));

    // Titles only.
    let want_titles: Vec<&SiteListing> = all
        .iter()
        .filter(|l| !l.category.is_housing() && matches(l, "leather", true))
        .collect();
    assert!(want_titles.len() < want.len());
    let rows = all_results(&client, &base, "/search/sss?query=leather&srchType=T").await;
    assert_eq!(row_ids(&rows), ids(&want_titles));

    // Two words and an exclusion.
    let want: Vec<&SiteListing> = all
        .iter()
        .filter(|l| {
            l.category == Category::Bike
                && matches(l, "road", false)
                && matches(l, "bike", false)
                && !matches(l, "carbon", false)
        })
        .collect();
    assert!(!want.is_empty());
    let rows = all_results(&client, &base, "/search/bia?query=road+bike+-carbon").await;
    assert_eq!(row_ids(&rows), ids(&want));

    // A price range (inclusive, whole dollars), with a query and a category.
    let (lo, hi) = (100 * 100, 400 * 100);
    let want: Vec<&SiteListing> = all
        .iter()
        .filter(|l| l.category == Category::Furniture && l.price.minor >= lo && l.price.minor <= hi)
        .collect();
    assert!(want.len() > 10);
    assert!(
        want.len()
            < all
                .iter()
                .filter(|l| l.category == Category::Furniture)
                .count()
    );
    let rows = all_results(&client, &base, "/search/fua?min_price=100&max_price=400").await;
    assert_eq!(row_ids(&rows), ids(&want));
    // The bounds are inclusive: a listing priced exactly at a bound is found.
    let edge = want[0];
    let dollars = edge.price.minor / 100;
    let rows = all_results(
        &client,
        &base,
        &format!("/search/fua?min_price={dollars}&max_price={dollars}"),
    )
    .await;
    assert!(row_ids(&rows).contains(&edge.id));
    assert!(rows.iter().all(|r| r.price == edge.price_text()));

    // Price sort.
    let rows = all_results(&client, &base, "/search/moa?sort=priceasc").await;
    let prices: Vec<i64> = rows
        .iter()
        .map(|r| {
            Money::from_decimal_str(
                r.price.trim_start_matches('$'),
                bazaar_memory::Currency::Usd,
            )
            .unwrap()
            .minor
        })
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    assert_eq!(rows.len(), 66);

    // Nothing found.
    let (status, html) = get(&client, &format!("{base}/search/sss?query=zzzqqqxxx")).await;
    assert_eq!(status, 200);
    let page = parse_search(&html);
    assert!(page.rows.is_empty() && page.total == 0);
    assert!(html.contains("Nothing found for that search."));
    sites.stop().await;
}

#[tokio::test]
async fn pagination_walks_offsets_and_keeps_the_filters() {
    let all = listings(3);
    let (sites, _clock, client) = start(all.clone(), 25).await;
    let base = sites.base_url().to_string();
    let want: Vec<&SiteListing> = all
        .iter()
        .filter(|l| l.category == Category::Furniture && l.price.minor >= 50 * 100)
        .collect();
    assert!(want.len() > 75, "needs several pages: {}", want.len());

    let (_, html) = get(&client, &format!("{base}/search/fua?min_price=50")).await;
    let first = parse_search(&html);
    assert_eq!((first.from, first.to, first.total), (1, 25, want.len()));
    assert_eq!(row_ids(&first.rows), ids(&want[..25]));
    assert!(first.prev.is_none());
    assert_eq!(
        first.next.as_deref(),
        Some("/search/fua?min_price=50&s=25"),
        "the next link keeps the filter"
    );

    let (_, html) = get(&client, &format!("{base}/search/fua?min_price=50&s=50")).await;
    let third = parse_search(&html);
    assert_eq!((third.from, third.to), (51, 75));
    assert_eq!(row_ids(&third.rows), ids(&want[50..75]));
    assert_eq!(third.prev.as_deref(), Some("/search/fua?min_price=50&s=25"));

    let rows = all_results(&client, &base, "/search/fua?min_price=50").await;
    assert_eq!(row_ids(&rows), ids(&want));

    let last_offset = (want.len() - 1) / 25 * 25;
    let (_, html) = get(
        &client,
        &format!("{base}/search/fua?min_price=50&s={last_offset}"),
    )
    .await;
    let last = parse_search(&html);
    assert!(last.next.is_none());
    assert_eq!(last.to, want.len());

    // Past the end: an empty page that still tells the total.
    let (status, html) = get(&client, &format!("{base}/search/fua?min_price=50&s=5000")).await;
    assert_eq!(status, 200);
    let past = parse_search(&html);
    assert!(past.rows.is_empty());
    assert_eq!(past.total, want.len());
    sites.stop().await;
}

/// The posting body as a scraper of the real site reads it: text without the QR-code block,
/// `<br>` as a line break, source newlines dropped.
fn posting_body(doc: &Html) -> String {
    let body = one(doc, "#postingbody");
    let mut out = String::new();
    for child in body.children() {
        match child.value() {
            Node::Text(t) => out.push_str(&t.replace('\n', "")),
            Node::Element(e) if e.name() == "br" => out.push('\n'),
            Node::Element(e)
                if e.has_class("print-information", scraper::CaseSensitivity::CaseSensitive) => {}
            Node::Element(_) => out.push_str(&text(ElementRef::wrap(child).unwrap())),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[tokio::test]
async fn posting_pages_parse_back_to_the_listing() {
    let all = listings(4);
    let (sites, _clock, client) = start(all.clone(), 120).await;
    let base = sites.base_url().to_string();
    // Follow links from a search page, as a scraper does, for a spread of listings.
    let (_, html) = get(&client, &format!("{base}/search/sss")).await;
    let rows = parse_search(&html).rows;
    for row in rows.iter().step_by(10) {
        let listing = all.iter().find(|l| l.id == row.pid).unwrap();
        let (status, html) = get(&client, &row.href).await;
        assert_eq!(status, 200, "{}", row.href);
        let doc = Html::parse_document(&html);
        assert_eq!(
            text(one(&doc, ".postingtitletext #titletextonly")),
            listing.title
        );
        assert_eq!(
            text(one(&doc, ".postingtitletext span.price")),
            listing.price_text()
        );
        // As on the real page: the town after the title, and only a map link as the address.
        assert_eq!(
            text(one(&doc, ".postingtitletext > span:last-child")).trim(),
            format!("({})", listing.location)
        );
        assert_eq!(text(one(&doc, ".mapaddress a")), "google map");
        let ld: serde_json::Value =
            serde_json::from_str(&text(one(&doc, "script#ld_posting_data"))).unwrap();
        assert_eq!(ld["name"], listing.title.as_str());
        assert_eq!(ld["address"]["addressLocality"], listing.location.as_str());
        assert_eq!(
            posting_body(&doc),
            listing.paragraphs().collect::<Vec<_>>().join("\n\n")
        );
        let time = one(&doc, ".postinginfos time.date.timeago");
        let at = DateTime::parse_from_str(time.attr("datetime").unwrap(), "%Y-%m-%dT%H:%M:%S%z")
            .unwrap();
        assert_eq!(at, listing.posted_at);
        let post_id = text(one(&doc, ".postinginfos p.postinginfo:first-child"));
        assert_eq!(post_id, format!("post id: {}", listing.id));
        // No address on the posting: the reply button leads to it, as on real Craigslist.
        assert!(!html.contains(&listing.reply_address));
        let button = one(&doc, "button.reply-button.js-only[data-href]");
        let reply_page = format!(
            "{base}/reply/{}/{}/{}",
            listing.area,
            listing.category.craigslist_posting_code(),
            listing.id
        );
        assert_eq!(
            button.attr("data-href").unwrap(),
            format!("{reply_page}/__SERVICE_ID__")
        );
        // The reply page, asked with or without the service id the button's script fills in.
        for url in [reply_page.clone(), format!("{reply_page}/svc1")] {
            let (status, html) = get(&client, &url).await;
            assert_eq!(status, 200, "{url}");
            let doc = Html::parse_document(&html);
            let reply = one(&doc, ".reply-email-address a.mailapp");
            assert_eq!(text(reply), listing.reply_address);
            let href = reply.attr("href").unwrap();
            assert!(
                href.starts_with(&format!("mailto:{}?subject=", listing.reply_address)),
                "{href}"
            );
        }
        assert!(listing.reply_address.ends_with("@reply.sim.bazaar.test"));
        let thumbs: Vec<&str> = doc
            .select(&sel("#thumbs a.thumb"))
            .map(|a| a.attr("href").unwrap())
            .collect();
        assert_eq!(thumbs, listing.images);
        assert!(text(one(&doc, "title")).starts_with(&listing.title));
    }
    // The photos are served.
    let image = &all[0].images[0];
    let response = client.get(format!("{base}{image}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    assert!(response.text().await.unwrap().starts_with("<svg"));
    sites.stop().await;
}

#[tokio::test]
async fn hostile_text_is_escaped() {
    let mut all = listings(5);
    let mut evil = all[0].clone();
    evil.id = 7_999_999_999;
    evil.title = "<script>alert(1)</script> Sofa & \"chair\" 'set'".to_string();
    evil.description = "Nice <img src=x onerror=alert(2)> sofa\n\nsecond </section> para".into();
    evil.location = "<b>Oakland</b>".into();
    evil.posted_at = start_time();
    all.push(evil.clone());
    let (sites, _clock, client) = start(all, 120).await;
    let base = sites.base_url().to_string();

    let (_, search) = get(&client, &format!("{base}/search/sss?query=sofa")).await;
    let (status, posting) = get(&client, &format!("{base}{}", evil.craigslist_path())).await;
    assert_eq!(status, 200);
    for html in [&search, &posting] {
        assert!(!html.contains("<script>"), "a script tag got through");
        assert!(!html.contains("<img src=x"), "an img tag got through");
        assert!(!html.contains("<b>Oakland"));
    }
    assert!(search.contains(
        "&lt;script&gt;alert(1)&lt;/script&gt; Sofa &amp; &quot;chair&quot; &#39;set&#39;"
    ));
    // Parsed, the text is exactly the seller's.
    let page = parse_search(&search);
    assert_eq!(page.rows[0].pid, evil.id);
    assert_eq!(page.rows[0].title, evil.title);
    assert_eq!(page.rows[0].location, evil.location);
    let doc = Html::parse_document(&posting);
    assert_eq!(text(one(&doc, "#titletextonly")), evil.title);
    assert_eq!(
        posting_body(&doc),
        "Nice <img src=x onerror=alert(2)> sofa\n\nsecond </section> para"
    );
    // The description's fake closing tag did not end the section early.
    assert_eq!(doc.select(&sel(".postinginfos")).count(), 1);
    sites.stop().await;
}

#[tokio::test]
async fn sold_unknown_moved_and_future_postings() {
    let all = listings(6);
    let (sites, clock, client) = start(all.clone(), 120).await;
    let base = sites.base_url().to_string();
    let target = all
        .iter()
        .find(|l| l.category == Category::Electronics)
        .unwrap();
    let url = format!("{base}{}", target.craigslist_path());
    let (status, _) = get(&client, &url).await;
    assert_eq!(status, 200);
    let (_, html) = get(&client, &format!("{base}/search/ela")).await;
    let before = parse_search(&html).total;

    // Sold: Craigslist's "deleted by its author" page, and gone from the search.
    assert!(sites.mark_sold(target.id));
    assert!(!sites.mark_sold(1));
    let (status, html) = get(&client, &url).await;
    assert_eq!(status, 404);
    let doc = Html::parse_document(&html);
    assert_eq!(
        text(one(&doc, ".removed h2")),
        "This posting has been deleted by its author."
    );
    assert!(!html.contains(&target.title));
    let (_, html) = get(&client, &format!("{base}/search/ela")).await;
    let after = parse_search(&html);
    assert_eq!(after.total, before - 1);
    assert!(!row_ids(&after.rows).contains(&target.id));

    // Unknown: "Page Not Found".
    let (status, html) = get(
        &client,
        &format!("{base}/sfc/ele/d/nothing/7000000001.html"),
    )
    .await;
    assert_eq!(status, 404);
    assert!(html.contains("Page Not Found"));
    assert!(!html.contains("deleted by its author"));
    let (status, _) = get(&client, &format!("{base}/sfc/ele/d/nothing/notanid.html")).await;
    assert_eq!(status, 404);

    // Another slug or area for a known id: a permanent redirect to the canonical URL.
    let other = &all[1];
    let response = client
        .get(format!("{base}/sfc/zzz/d/some-slug/{}.html", other.id))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 301);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        other.craigslist_path()
    );

    // Posted later than now: not there until the clock gets there.
    let mut later = all[2].clone();
    later.id = 7_100_000_001;
    later.title = "Brand new standing desk posted later".into();
    later.posted_at = start_time() + chrono::Duration::hours(2);
    sites.add(later.clone()).unwrap();
    assert!(
        sites.add(later.clone()).is_err(),
        "duplicate ids are refused"
    );
    let later_url = format!("{base}{}", later.craigslist_path());
    assert_eq!(get(&client, &later_url).await.0, 404);
    let (_, html) = get(
        &client,
        &format!("{base}/search/sss?query=standing+desk+posted+later"),
    )
    .await;
    assert!(parse_search(&html).rows.is_empty());
    clock.advance_by(Duration::from_secs(2 * 3600));
    assert_eq!(get(&client, &later_url).await.0, 200);
    let (_, html) = get(
        &client,
        &format!("{base}/search/sss?query=standing+desk+posted+later"),
    )
    .await;
    assert_eq!(row_ids(&parse_search(&html).rows), vec![later.id]);
    // Newest first: it heads the category now.
    let (_, html) = get(
        &client,
        &format!("{base}/search/{}", later.category.craigslist_search_code()),
    )
    .await;
    assert_eq!(parse_search(&html).rows[0].pid, later.id);

    // A price drop shows at once.
    assert!(sites.set_price(later.id, Money::usd(4_500)));
    let (_, html) = get(&client, &later_url).await;
    assert_eq!(
        text(one(
            &Html::parse_document(&html),
            ".postingtitletext span.price"
        )),
        "$45"
    );
    sites.stop().await;
}

#[tokio::test]
async fn the_same_seed_gives_byte_identical_pages() {
    let (one_site, _c1, client) = start(listings(9), 50).await;
    let (two_site, _c2, _) = start(listings(9), 50).await;
    let (other_site, _c3, _) = start(listings(10), 50).await;
    assert_ne!(one_site.base_url(), two_site.base_url());
    let sample = listings(9);
    let mut paths = vec![
        "/".to_string(),
        "/search/sss".into(),
        "/search/sss?s=50".into(),
        "/search/fua?query=table&min_price=20&max_price=900".into(),
        "/search/cta?sort=pricedsc".into(),
        "/nowhere".into(),
    ];
    paths.extend(sample.iter().step_by(60).map(|l| l.craigslist_path()));
    let mut differs = false;
    for path in &paths {
        // Links are absolute, as on the real site: the pages are the same but for the origin.
        let fetch = |site: &Sites| {
            let base = site.base_url().to_string();
            let client = client.clone();
            async move {
                let (status, html) = get(&client, &format!("{base}{path}")).await;
                (status, html.replace(&base, "ORIGIN"))
            }
        };
        let (s1, a) = fetch(&one_site).await;
        let (s2, b) = fetch(&two_site).await;
        assert!(
            (s1, &a) == (s2, &b),
            "{path} differs between two runs of one seed"
        );
        let (_, c) = fetch(&other_site).await;
        differs |= a != c;
    }
    assert!(differs, "another seed should give other pages");
    one_site.stop().await;
    two_site.stop().await;
    other_site.stop().await;
}
