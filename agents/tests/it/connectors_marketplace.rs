//! The Facebook-Marketplace-style connector in real headless Chromium against the simulated
//! site (`bazaar_sim::sites::Sites`) on 127.0.0.1: every listing read as the sim serves it,
//! "See more" pagination, tabs closed after use, a killed browser relaunched, and the login
//! wall with and without an imported session.
//!
//! Without Chromium the tests skip, except under `CI=true`, where they fail.

use crate::connectors_common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bazaar_agents::connectors::marketplace::{
    find_chromium, MarketplaceBrowser, MarketplaceSettings, Session, SessionError,
};
use bazaar_agents::connectors::{BlockKind, SearchQuery, Source, SourceError};
use bazaar_memory::{MarketListing, Marketplace, Money, SimClock};
use bazaar_sim::sites::{Category, ListingGenerator, Site, SiteListing, Sites, SitesConfig};
use connectors_common::{drive, quick, start_time, Logs};

/// The installed Chromium; `None` skips the test, but under `CI=true` it fails.
fn chromium() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "chromium is not installed, and CI must run the browser connector tests: \
                 `apt-get install -y chromium`"
            );
        }
        eprintln!("skipped: chromium is not installed (apt-get install -y chromium)");
    }
    found
}

fn generated(seed: u64, count: usize) -> Vec<SiteListing> {
    let mut generator = ListingGenerator::new(seed, Site::Marketplace);
    generator.count = count;
    generator.generate(start_time())
}

/// The sim's sites serving `listings`, Marketplace's feed in pages of `page_size`.
async fn sites(listings: Vec<SiteListing>, page_size: usize, clock: &SimClock) -> Sites {
    let config = SitesConfig {
        marketplace_page_size: page_size,
        ..SitesConfig::default()
    };
    sites_with(listings, config, clock).await
}

async fn sites_with(listings: Vec<SiteListing>, config: SitesConfig, clock: &SimClock) -> Sites {
    let (sites, _) = Sites::start_with(config, listings, Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sites
}

fn connector(chromium: &Path, base: &str, data_dir: &Path, clock: &SimClock) -> MarketplaceBrowser {
    let mut settings = MarketplaceSettings::new(base, data_dir);
    settings.chromium = chromium.to_path_buf();
    settings.render_timeout = Duration::from_secs(30);
    settings.call_timeout = Duration::from_secs(30);
    MarketplaceBrowser::new(settings, quick(), Arc::new(clock.clone()))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn normalized(category: Category) -> &'static str {
    match category.marketplace_slug() {
        "furniture" => "furniture",
        "propertyrentals" => "housing",
        "bicycles" => "bike",
        "vehicles" => "car",
        "electronics" => "electronics",
        "cell-phones" => "phone",
        other => panic!("unexpected slug {other}"),
    }
}

/// The sim's listings, newest first, as the site orders its feed.
fn newest_first(listings: &[SiteListing]) -> Vec<SiteListing> {
    let mut sorted = listings.to_vec();
    sorted.sort_by(|a, b| b.posted_at.cmp(&a.posted_at).then(b.id.cmp(&a.id)));
    sorted
}

/// The listing as read equals the listing the sim serves.
fn assert_same(read: &MarketListing, served: &SiteListing, base: &str) {
    let id = served.id.to_string();
    assert_eq!(read.marketplace, Marketplace::Facebook);
    assert_eq!(read.external_id, id);
    assert_eq!(read.url, format!("{base}/marketplace/item/{id}/"));
    assert_eq!(read.title, served.title, "{id}");
    assert_eq!(read.description, served.description, "{id}");
    assert_eq!(read.price, served.price, "{id}");
    assert_eq!(read.category, normalized(served.category), "{id}");
    assert_eq!(
        read.location.as_deref(),
        Some(format!("{}, {}", served.location, served.state).as_str())
    );
    assert_eq!(read.seller.external_id, served.reply_address);
    let images: Vec<String> = served.images.iter().map(|i| format!("{base}{i}")).collect();
    assert_eq!(read.images, images, "{id}");
    // "Listed 3 days ago": whole units, so at or after the posting, and not in the future.
    let listed = read
        .listed_at
        .unwrap_or_else(|| panic!("{id}: no listed_at"));
    assert!(
        listed >= served.posted_at,
        "{id}: {listed} < {}",
        served.posted_at
    );
    assert!(listed <= read.first_seen, "{id}: {listed} in the future");
    assert!(
        read.raw.contains(&id),
        "raw is what the site said of the item: {}",
        read.raw
    );
}

/// Tabs do not pile up: besides Chromium's start page, at most the one tab visits reuse.
async fn assert_tabs_do_not_pile_up(connector: &MarketplaceBrowser, base: &str) {
    let pages = connector
        .open_pages()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        pages.iter().filter(|url| url.starts_with(base)).count() <= 1,
        "tabs left open: {pages:?}"
    );
    assert!(pages.len() <= 2, "tabs left open: {pages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listing_is_read_as_the_sim_serves_it_and_tabs_do_not_pile_up() {
    let Some(chromium) = chromium() else { return };
    let clock = SimClock::new(start_time());
    let _driver = drive(&clock);
    let all = generated(21, 13);
    let sites = sites(all.clone(), 5, &clock).await;
    let base = sites.base_url().to_string();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let connector = connector(&chromium, &base, dir.path(), &clock);
    let expected = newest_first(&all);

    // Everything in one call: "See more" twice (pages of 5, 5, 3).
    let mut query = SearchQuery::new("");
    query.limit = Some(100);
    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(page.skipped.is_empty(), "{:?}", page.skipped);
    assert_eq!(page.total, Some(13));
    assert_eq!(page.next_offset, None);
    assert_eq!(page.listings.len(), expected.len());
    for (read, served) in page.listings.iter().zip(&expected) {
        assert_same(read, served, &base);
    }
    assert_eq!(connector.launches(), 1);
    assert_tabs_do_not_pile_up(&connector, &base).await;
    // Each item page was read once.
    assert_eq!(connector.items_read(), 13);

    // Page by page with offsets: the same listings, in the same order.
    let mut offset = 0;
    let mut ids = Vec::new();
    let mut calls = 0;
    loop {
        let mut query = SearchQuery::new("");
        query.limit = Some(5);
        query.offset = offset;
        let page = connector
            .search(&query)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.extend(page.listings.iter().map(|l| l.external_id.clone()));
        calls += 1;
        assert_tabs_do_not_pile_up(&connector, &base).await;
        match page.next_offset {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(calls, 3);
    let want: Vec<String> = expected.iter().map(|l| l.id.to_string()).collect();
    assert_eq!(ids, want);
    // Cards seen before at the same price are not read again.
    assert_eq!(connector.items_read(), 13);

    // A category with a price cap, as the site filters it.
    let cat = expected[0].category;
    let cap = expected[0].price.minor / 100 * 100 + 100;
    let filtered: Vec<&SiteListing> = expected
        .iter()
        .filter(|l| l.category == cat && l.price.minor <= cap)
        .collect();
    let mut query = SearchQuery::new("");
    query.category = Some(normalized(cat).to_string());
    query.max_price = Some(Money::usd(cap));
    query.limit = Some(100);
    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.listings.len(), filtered.len());
    for (read, served) in page.listings.iter().zip(&filtered) {
        assert_same(read, served, &base);
    }

    // One listing by id; a sold one and an unknown one are gone.
    let one = &expected[3];
    let read = connector
        .fetch(&one.id.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_same(&read, one, &base);
    assert!(sites.mark_sold(one.id));
    let sold = connector.fetch(&one.id.to_string()).await;
    assert!(matches!(sold, Err(SourceError::NotFound(_))), "{sold:?}");
    let unknown = connector.fetch("123").await;
    assert!(
        matches!(unknown, Err(SourceError::NotFound(_))),
        "{unknown:?}"
    );
    assert_tabs_do_not_pile_up(&connector, &base).await;

    // Still one browser for all of it.
    assert_eq!(connector.launches(), 1);
    connector.shutdown().await;
    assert!(connector.open_pages().await.unwrap_or_default().is_empty());
    sites.stop().await;
}

fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill: {e}"));
    assert!(status.success(), "kill -KILL {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_browser_is_relaunched_and_the_next_call_succeeds() {
    let Some(chromium) = chromium() else { return };
    let logs = Logs::capture();
    let clock = SimClock::new(start_time());
    let _driver = drive(&clock);
    let all = generated(22, 12);
    // Each data request takes 100 ms, so a search of 12 listings takes over a second and a
    // kill can land inside one.
    let config = SitesConfig {
        marketplace_page_size: 4,
        marketplace_latency: Duration::from_millis(100),
        ..SitesConfig::default()
    };
    let sites = sites_with(all.clone(), config, &clock).await;
    let base = sites.base_url().to_string();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let connector = Arc::new(connector(&chromium, &base, dir.path(), &clock));
    let expected: Vec<String> = newest_first(&all)
        .iter()
        .map(|l| l.id.to_string())
        .collect();
    let mut query = SearchQuery::new("");
    query.limit = Some(100);
    let ids = |page: &bazaar_agents::connectors::SearchPage| -> Vec<String> {
        page.listings
            .iter()
            .map(|l| l.external_id.clone())
            .collect()
    };

    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&page), expected);
    let first = connector
        .browser_pid()
        .await
        .unwrap_or_else(|| panic!("no pid"));

    // Killed between calls: the next call notices, relaunches and succeeds.
    kill(first);
    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&page), expected);
    assert_eq!(connector.launches(), 2, "{:#?}", logs.lines());
    let second = connector
        .browser_pid()
        .await
        .unwrap_or_else(|| panic!("no pid"));
    assert_ne!(first, second);

    // Killed in the middle of a call (15 data requests once the items read before are
    // forgotten): that call relaunches and retries the visit.
    connector.forget_items();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        kill(second);
    });
    let page = connector.search(&query).await;
    killer.await.unwrap_or_else(|e| panic!("{e}"));
    match page {
        Ok(page) => assert_eq!(ids(&page), expected),
        Err(error) => panic!("the call did not recover from the kill: {error}"),
    }
    assert!(
        connector.launches() >= 3,
        "launches {}",
        connector.launches()
    );
    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ids(&page), expected);
    assert_tabs_do_not_pile_up(&connector, &base).await;
    connector.shutdown().await;
    sites.stop().await;
}

fn cookie_export(name: &str, value: &str, expires: f64) -> String {
    serde_json::json!([
        {
            "domain": "127.0.0.1",
            "expirationDate": expires,
            "hostOnly": true,
            "httpOnly": true,
            "name": name,
            "path": "/",
            "sameSite": "lax",
            "secure": false,
            "session": false,
            "storeId": "0",
            "value": value
        },
        {
            "domain": "127.0.0.1",
            "name": "locale",
            "value": "en_US",
            "path": "/",
            "httpOnly": false,
            "secure": false
        }
    ])
    .to_string()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_wall_pauses_the_source_until_fresh_cookies_are_imported() {
    let Some(chromium) = chromium() else { return };
    let logs = Logs::capture();
    let clock = SimClock::new(start_time());
    let _driver = drive(&clock);
    let all = generated(23, 4);
    let secret = "c0ffee-secret-session-value";
    let required = Some(("c_user".to_string(), secret.to_string()));
    let config = SitesConfig {
        require_session: required,
        ..SitesConfig::default()
    };
    let sites = sites_with(all.clone(), config, &clock).await;
    let base = sites.base_url().to_string();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let connector = connector(&chromium, &base, dir.path(), &clock);
    let session_file = Session::path(dir.path(), Marketplace::Facebook);
    let query = SearchQuery::new("");

    // No session: the login wall pauses the source and raises one alert.
    let error = connector.search(&query).await.unwrap_err();
    assert!(matches!(error, SourceError::LoginWall { .. }), "{error}");
    assert_eq!(connector.gate().paused(), Some(BlockKind::LoginWall));
    let alerts = connector.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].kind, BlockKind::LoginWall);
    assert!(alerts[0].message.contains("no session is imported"));
    assert!(alerts[0]
        .message
        .contains("bazaar session import facebook <cookies.json>"));
    // Paused: nothing is sent, nothing more is raised.
    let error = connector.search(&query).await.unwrap_err();
    assert!(matches!(error, SourceError::Paused { .. }), "{error}");
    assert!(connector.take_alerts().is_empty());
    assert_tabs_do_not_pile_up(&connector, &base).await;

    // An expired session is a login wall too, and asks for fresh cookies.
    let stale = Session::from_export(
        Marketplace::Facebook,
        &cookie_export("c_user", secret, unix_now() - 3_600.0),
        start_time(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    stale.save(&session_file).unwrap_or_else(|e| panic!("{e}"));
    connector.resume();
    let error = connector.search(&query).await.unwrap_err();
    assert!(matches!(error, SourceError::LoginWall { .. }), "{error}");
    let alerts = connector.take_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].message.contains("expired"),
        "{}",
        alerts[0].message
    );

    // Fresh cookies: listings, without relaunching the browser.
    let fresh = Session::from_export(
        Marketplace::Facebook,
        &cookie_export("c_user", secret, unix_now() + 86_400.0),
        start_time(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    fresh.save(&session_file).unwrap_or_else(|e| panic!("{e}"));
    connector.resume();
    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let want: Vec<String> = newest_first(&all)
        .iter()
        .map(|l| l.id.to_string())
        .collect();
    let got: Vec<String> = page
        .listings
        .iter()
        .map(|l| l.external_id.clone())
        .collect();
    assert_eq!(got, want);
    assert_eq!(connector.launches(), 1);

    // A relaunched browser loads the session again.
    connector.shutdown().await;
    let page = connector
        .search(&query)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.listings.len(), all.len());
    assert_eq!(connector.launches(), 2);

    // The cookie's value never reached the log.
    assert!(!logs.lines().is_empty());
    assert!(
        logs.lines().iter().all(|l| !l.contains(secret)),
        "{:?}",
        logs.lines()
    );
    assert!(!format!("{fresh:?}").contains(secret));
    connector.shutdown().await;
    sites.stop().await;
}

#[test]
fn cookie_exports_are_checked_entry_by_entry() {
    let now = start_time();
    let parse = |json: &str| Session::from_export(Marketplace::Facebook, json, now);
    let invalid = |json: &str| match parse(json) {
        Err(SessionError::Invalid(message)) => message,
        other => panic!("{json}: {other:?}"),
    };
    assert!(invalid("{").starts_with("not json"));
    assert!(invalid(r#"{"name":"x"}"#).contains("array"));
    assert!(invalid("[]").contains("no cookie"));
    let message = invalid(
        r#"[{"name":"c_user","value":"1","domain":".facebook.com"},
            {"name":"xs","value":"2"}]"#,
    );
    assert!(message.starts_with("cookie 2 (\"xs\")"), "{message}");
    assert!(message.contains("domain"), "{message}");
    let message = invalid(r#"[{"name":"fr","value":"3","domain":"x","sameSite":"sideways"}]"#);
    assert!(message.contains("cookie 1 (\"fr\")") && message.contains("sideways"));
    let message = invalid(r#"[{"name":"","value":"3","domain":"x"}]"#);
    assert!(message.contains("empty name"), "{message}");
    let message = invalid(r#"[7]"#);
    assert!(message.contains("cookie 1: not an object"), "{message}");

    let session =
        parse(&cookie_export("c_user", "v", 1_900_000_000.0)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(session.cookies.len(), 2);
    assert_eq!(session.cookies[1].path, "/");
    assert_eq!(
        session.summary(now),
        "2 cookies, expires 2030-03-17 17:46 UTC"
    );
    assert!(!format!("{session:?}").contains("\"v\""));

    // Stored for the owner only; a loosened file is refused.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = Session::path(dir.path(), Marketplace::Facebook);
    assert_eq!(Session::load(&path), Ok(None));
    session.save(&path).unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap_or(dir.path())), 0o700);
    assert_eq!(Session::load(&path), Ok(Some(session)));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(Session::load(&path), Err(SessionError::Io { .. })));
}

#[test]
fn sessions_are_sealed_at_rest_and_an_altered_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    const VALUE: &str = "s3cret-cookie-value-at-rest";
    let session = Session::from_export(
        Marketplace::Facebook,
        &cookie_export("c_user", VALUE, 1_900_000_000.0),
        start_time(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = Session::path(dir.path(), Marketplace::Facebook);
    session.save(&path).unwrap_or_else(|e| panic!("{e}"));

    // The file holds neither the cookie nor its name; the key is the owner's alone.
    let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8_lossy(&stored);
    assert!(!text.contains(VALUE) && !text.contains("c_user"), "{text}");
    let key = bazaar_agents::sealed::SealingKey::file(&dir.path().join("secrets"));
    let mode = std::fs::metadata(&key).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode.ok(), Some(0o600));
    assert_eq!(Session::load(&path), Ok(Some(session.clone())));

    // One flipped byte: refused, saying why, and the file is left as it was.
    let mut altered = stored.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    std::fs::write(&path, &altered).unwrap_or_else(|e| panic!("{e}"));
    let error = Session::load(&path).expect_err("an altered session is refused");
    assert!(error.to_string().contains("altered"), "{error}");
    assert_eq!(std::fs::read(&path).ok(), Some(altered));

    // A session stored in plain text by an earlier version is read, then sealed in place.
    let plain = serde_json::to_vec(&session).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&path, &plain).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Session::load(&path), Ok(Some(session.clone())));
    let resealed = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(bazaar_agents::sealed::is_sealed(&resealed));

    // Without its key a sealed session cannot be read; a key others can read is refused.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644))
        .unwrap_or_else(|e| panic!("{e}"));
    let error = Session::load(&path).expect_err("a loose key is refused");
    assert!(error.to_string().contains("chmod 600"), "{error}");
    std::fs::remove_file(&key).unwrap_or_else(|e| panic!("{e}"));
    let error = Session::load(&path).expect_err("no key, no session");
    assert!(error.to_string().contains("BAZAAR_SECRETS_KEY"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_browser_reads_a_craigslist_reply_page_its_script_writes() {
    use bazaar_agents::connectors::{Craigslist, CraigslistSettings};
    let Some(chromium) = chromium() else {
        return;
    };
    let clock = SimClock::new(start_time());
    let mut generator = ListingGenerator::new(4, Site::Craigslist);
    generator.count = 3;
    let posted = generator.generate(start_time());
    // Every reply page writes the address with its script.
    let config = SitesConfig {
        craigslist_script_reply_permille: 1000,
        ..SitesConfig::default()
    };
    let site = sites_with(posted.clone(), config, &clock).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let browser = Arc::new(connector(&chromium, site.base_url(), dir.path(), &clock));
    let craigslist = || {
        Craigslist::new(
            CraigslistSettings::new(site.base_url()),
            quick(),
            Arc::new(clock.clone()),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let listing = &posted[0];
    let reply_page = format!(
        "{}/reply/{}/{}/{}",
        site.base_url(),
        listing.area,
        listing.category.craigslist_posting_code(),
        listing.id
    );
    // Over plain HTTP the address is not there; the page says so with its script.
    let plain = craigslist().reveal_contact(&reply_page).await;
    assert!(
        matches!(&plain, Err(SourceError::ContactHidden { why, .. }) if why.contains("script")),
        "{plain:?}"
    );
    // In the browser the script runs and writes it.
    let address = craigslist()
        .with_renderer(browser.clone())
        .reveal_contact(&reply_page)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(address, listing.reply_address);
    assert!(
        browser
            .open_pages()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|u| u.starts_with("http"))
            .count()
            <= 1,
        "tabs do not pile up"
    );
    browser.shutdown().await;
    site.stop().await;
}
