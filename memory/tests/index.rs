//! Integration tests of the product index over the Craigslist fixture catalog: ranking of
//! comparables, category filtering, read-your-writes, upserts, sellers, rebuild, and
//! persistence across reopen.

use std::time::Duration;

use bazaar_memory::*;
use chrono::{DateTime, TimeZone, Utc};
use serde::Deserialize;
use ulid::Ulid;

/// One line of `tests/fixtures/catalog.jsonl`.
#[derive(Debug, Deserialize)]
struct CatalogLine {
    category: String,
    title: String,
    /// Whole dollars.
    listing_price: i64,
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap()
}

fn product_id(n: u64) -> ProductId {
    ProductId(Ulid::from_parts(1_773_489_600_000 + n, u128::from(n) + 1))
}

/// The fixture as products: asking is the listing price in cents; every third one sold
/// for 90 % of it.
fn catalog() -> Vec<ProductRecord> {
    let text = include_str!("fixtures/catalog.jsonl");
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let parsed: CatalogLine = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("fixture line {}: {e}", n + 1));
            let asking = Money::usd(parsed.listing_price * 100);
            let sold = (n % 3 == 0).then(|| asking.checked_ratio(9, 10).unwrap());
            ProductRecord {
                id: product_id(n as u64),
                title: parsed.title,
                category: parsed.category,
                condition: [Condition::Good, Condition::LikeNew, Condition::Fair][n % 3],
                marketplace: Marketplace::Craigslist,
                listing: None,
                seller: None,
                asking: Some(asking),
                sold,
                price_history: Vec::new(),
                first_seen: t0(),
                last_seen: t0(),
            }
        })
        .collect()
}

/// A config that never commits on its own, so visibility depends on `commit()` alone.
fn manual_commits() -> IndexConfig {
    IndexConfig {
        batch_size: 1_000_000,
        commit_interval: Duration::from_secs(3_600),
        ..IndexConfig::default()
    }
}

async fn indexed(products: &[ProductRecord]) -> ProductIndex {
    let index = ProductIndex::in_memory(IndexConfig::default()).unwrap();
    for product in products {
        index.upsert_product(product).await.unwrap();
    }
    index.commit().await.unwrap();
    index
}

fn seller(n: u64, name: &str, note: &str) -> Seller {
    Seller {
        id: SellerId(Ulid::from_parts(
            1_773_489_600_000 + n,
            9_000 + u128::from(n),
        )),
        marketplace: Marketplace::Craigslist,
        external_id: format!("reply-{n}@sale.craigslist.org"),
        display_name: Some(name.to_string()),
        contact: Some(format!("reply-{n}@sale.craigslist.org")),
        first_seen: t0(),
        history: vec![(
            t0(),
            SellerEvent::Note {
                text: note.to_string(),
            },
        )],
    }
}

#[test]
fn the_fixture_is_the_full_catalog() {
    let products = catalog();
    assert_eq!(products.len(), 665);
    let bose = products
        .iter()
        .find(|p| p.title == "Bose Soundlink 3 brand new")
        .unwrap();
    assert_eq!(bose.asking, Some(Money::usd(22_000)));
    assert_eq!(bose.category, "electronics");
}

/// Queries with a paraphrase or subset of a real title; the real title must rank first and
/// every hit must be in the asked category.
#[tokio::test(flavor = "multi_thread")]
async fn comparables_rank_the_right_item_first() {
    let products = catalog();
    let index = indexed(&products).await;
    assert_eq!(index.num_docs(), 665);

    let cases = [
        (
            "electronics",
            "Bose Soundlink speaker",
            "Bose Soundlink 3 brand new",
        ),
        (
            "electronics",
            "sennheiser noise cancelling headphones",
            "Sennheiser PXC 450 Headphones - Noise Cancelling",
        ),
        (
            "electronics",
            "marantz AV pre-amplifier",
            "Marantz AV7702 Multi-channel AV Pre-amplifier",
        ),
        (
            "phone",
            "galaxy s8 edge silver",
            "((( New AT&T Samsung Galaxy S8 edge Silver 64 GB )))",
        ),
        (
            "bike",
            "santa cruz nomad",
            "BRAND NEW 2016 Santa Cruz Nomad X01 CC Medium",
        ),
        (
            "bike",
            "surly long haul trucker touring bike",
            "Surly Long Haul Trucker-LHT",
        ),
        (
            "furniture",
            "ikea poang chair with ottoman",
            "Ikea Poang Chair and Ottoman",
        ),
        (
            "furniture",
            "herman miller aeron chair size c",
            "Herman Miller Aeron Chair Size C",
        ),
        (
            "car",
            "toyota 4runner 4wd",
            "2006 Toyota 4Runner 4WD - Only 106k Miles - Clean Title",
        ),
        (
            "car",
            "corvette stingray",
            "1970 Corvette Stingray Convertible",
        ),
        (
            "housing",
            "pleasanton home mohr park",
            "Beautiful 3 BR / 2 BA Pleasanton Home in Mohr Park",
        ),
    ];
    for (category, query, expected) in cases {
        let hits = index.comparables(query, Some(category), None, 10).unwrap();
        assert!(!hits.is_empty(), "no hits for {query:?}");
        assert_eq!(
            hits[0].title,
            expected,
            "rank 1 for {query:?}; got {:?}",
            titles(&hits)
        );
        assert!(
            hits.iter().all(|h| h.category == category),
            "{query:?} left {category}: {hits:?}"
        );
        assert!(
            hits.windows(2).all(|w| w[0].score >= w[1].score),
            "hits not in score order"
        );
        let product = products.iter().find(|p| p.title == expected).unwrap();
        assert_eq!(hits[0].product_id, product.id.to_string());
        assert_eq!(hits[0].asking, product.asking);
        assert_eq!(hits[0].sold, product.sold);
        assert_eq!(hits[0].condition, product.condition.name());
    }
}

fn titles(hits: &[Comparable]) -> Vec<&str> {
    hits.iter().map(|h| h.title.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_category_filter_narrows_and_k_bounds() {
    let index = indexed(&catalog()).await;
    let anywhere = index.comparables("iphone", None, None, 50).unwrap();
    let categories: std::collections::BTreeSet<&str> =
        anywhere.iter().map(|h| h.category.as_str()).collect();
    assert!(
        categories.len() > 1,
        "iphone should match phones and electronics: {categories:?}"
    );
    let phones = index
        .comparables("iphone", Some("phone"), None, 50)
        .unwrap();
    assert!(!phones.is_empty() && phones.iter().all(|h| h.category == "phone"));
    assert!(phones.len() < anywhere.len());
    assert_eq!(index.comparables("iphone", None, None, 3).unwrap().len(), 3);
    assert!(index
        .comparables("iphone", Some("phone"), None, 0)
        .unwrap()
        .is_empty());
    assert!(index
        .comparables("   ", Some("phone"), None, 5)
        .unwrap()
        .is_empty());
    assert!(index
        .comparables("iphone", Some("boats"), None, 5)
        .unwrap()
        .is_empty());
    assert!(index
        .comparables("zzyzx qwertyuiop", None, None, 5)
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn matching_condition_ranks_higher() {
    let index = ProductIndex::in_memory(manual_commits()).unwrap();
    let mut worn = catalog()[1].clone();
    worn.id = product_id(10_001);
    worn.condition = Condition::Fair;
    let mut boxed = worn.clone();
    boxed.id = product_id(10_002);
    boxed.condition = Condition::New;
    index.upsert_product(&worn).await.unwrap();
    index.upsert_product(&boxed).await.unwrap();
    index.commit().await.unwrap();
    for (condition, first) in [(Condition::New, &boxed), (Condition::Fair, &worn)] {
        let hits = index
            .comparables("bose soundlink", None, Some(condition), 2)
            .unwrap();
        assert_eq!(hits.len(), 2);
        assert_eq!(
            hits[0].product_id,
            first.id.to_string(),
            "asked for {condition:?}"
        );
        assert!(hits[0].score > hits[1].score);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_committed_write_is_read_back() {
    let index = ProductIndex::in_memory(manual_commits()).unwrap();
    let mut product = catalog()[1].clone();
    product.title = "Zorblax quantum toaster".into();
    index.upsert_product(&product).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        index
            .comparables("zorblax toaster", None, None, 5)
            .unwrap()
            .is_empty(),
        "visible before commit"
    );
    index.commit().await.unwrap();
    let hits = index.comparables("zorblax toaster", None, None, 5).unwrap();
    assert_eq!(titles(&hits), ["Zorblax quantum toaster"]);
    assert_eq!(index.num_docs(), 1);
    // commit with nothing queued is harmless
    index.commit().await.unwrap();
    assert_eq!(index.num_docs(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn upserting_the_same_product_replaces_it() {
    let products = catalog();
    let index = indexed(&products).await;
    let mut bose = products[1].clone();
    bose.asking = Some(Money::usd(18_500));
    bose.sold = Some(Money::usd(17_000));
    bose.title = "Bose Soundlink 3 brand new sealed".into();
    index.upsert_product(&bose).await.unwrap();
    index.upsert_product(&bose).await.unwrap();
    index.commit().await.unwrap();
    assert_eq!(index.num_docs(), 665, "an upsert must not add a document");
    let hits = index
        .comparables("bose soundlink", Some("electronics"), None, 10)
        .unwrap();
    let same: Vec<_> = hits
        .iter()
        .filter(|h| h.product_id == bose.id.to_string())
        .collect();
    assert_eq!(same.len(), 1, "duplicate hits: {hits:?}");
    assert_eq!(same[0].title, "Bose Soundlink 3 brand new sealed");
    assert_eq!((same[0].asking, same[0].sold), (bose.asking, bose.sold));
}

#[tokio::test(flavor = "multi_thread")]
async fn sellers_are_found_by_name_and_notes() {
    let index = ProductIndex::in_memory(manual_commits()).unwrap();
    let sellers = [
        seller(1, "Marisol Pacheco", "answers fast, prefers cash"),
        seller(2, "Dmitri Volkov", "only weekends"),
        seller(3, "Anneke de Vries", "haggles hard on furniture"),
    ];
    for s in &sellers {
        index.upsert_seller(s).await.unwrap();
    }
    // a product mentioning a seller's name is not a seller
    let mut product = catalog()[1].clone();
    product.title = "Pacheco signed guitar".into();
    index.upsert_product(&product).await.unwrap();
    index.commit().await.unwrap();

    let hits = index.sellers("Pacheco", 5).unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(
        (hits[0].kind.as_str(), hits[0].id.clone()),
        ("seller", sellers[0].id.to_string())
    );
    assert!(hits[0].title.contains("Marisol Pacheco"));
    let by_note = index.sellers("weekends", 5).unwrap();
    assert_eq!(
        by_note.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
        [sellers[1].id.to_string()]
    );
    assert!(index.sellers("nobody", 5).unwrap().is_empty());
    let everything = index.search("pacheco", 5).unwrap();
    let kinds: std::collections::BTreeSet<&str> =
        everything.iter().map(|h| h.kind.as_str()).collect();
    assert_eq!(kinds, ["product", "seller"].into_iter().collect());
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_indexes_exactly_what_the_store_holds() {
    let products = catalog();
    let store = SledStore::temporary().unwrap();
    for product in &products[..600] {
        store.put(product).unwrap();
    }
    let sellers = [
        seller(1, "Marisol Pacheco", "cash"),
        seller(2, "Dmitri Volkov", "weekends"),
    ];
    for s in &sellers {
        store.put(s).unwrap();
    }
    // the index starts with documents the store does not have; rebuild drops them
    let index = indexed(&products[600..]).await;
    assert_eq!(index.num_docs(), 65);
    let indexed_count = index.rebuild(&store).await.unwrap();
    let expected = store.count::<ProductRecord>() + store.count::<Seller>();
    assert_eq!((indexed_count, expected), (602, 602));
    assert_eq!(index.num_docs(), expected as u64);
    let stale = &products[650];
    let hits = index.comparables(&stale.title, None, None, 20).unwrap();
    assert!(
        hits.iter().all(|h| h.product_id != stale.id.to_string()),
        "{} survived rebuild",
        stale.title
    );
    assert_eq!(index.sellers("volkov", 5).unwrap().len(), 1);
    // rebuilding twice does not double anything
    index.rebuild(&store).await.unwrap();
    assert_eq!(index.num_docs(), expected as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_on_disk_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let products = catalog();
    {
        let index = ProductIndex::open(dir.path(), IndexConfig::default()).unwrap();
        for product in &products[..100] {
            index.upsert_product(product).await.unwrap();
        }
        index.upsert_product(&products[100]).await.unwrap();
        // close commits what is queued and gives up the writer lock
        index.close().await.unwrap();
    }
    let index = ProductIndex::open(dir.path(), IndexConfig::default()).unwrap();
    assert_eq!(index.num_docs(), 101);
    let hits = index
        .comparables("bose soundlink", Some("electronics"), None, 3)
        .unwrap();
    assert_eq!(hits[0].title, "Bose Soundlink 3 brand new");
    // and the reopened index takes writes
    index.upsert_product(&products[200]).await.unwrap();
    index.commit().await.unwrap();
    assert_eq!(index.num_docs(), 102);
    let clone = index.clone();
    index.close().await.unwrap();
    assert!(matches!(clone.commit().await, Err(IndexError::WriterGone)));
}

fn product(
    n: u64,
    title: &str,
    category: &str,
    condition: Condition,
    dollars: i64,
) -> ProductRecord {
    ProductRecord {
        id: product_id(20_000 + n),
        title: title.to_string(),
        category: category.to_string(),
        condition,
        marketplace: Marketplace::Craigslist,
        listing: None,
        seller: None,
        asking: Some(Money::usd(dollars * 100)),
        sold: None,
        price_history: Vec::new(),
        first_seen: t0(),
        last_seen: t0(),
    }
}

/// An iPhone 7 query finds the iPhone 7s in the phone category ahead of other phones, and
/// never the furniture or electronics that share its words.
#[tokio::test(flavor = "multi_thread")]
async fn an_iphone_7_query_finds_iphone_7s_among_phones() {
    let products = [
        product(
            1,
            "Apple iPhone 7 32GB black",
            "phone",
            Condition::Good,
            250,
        ),
        product(
            2,
            "iPhone 7 128GB rose gold unlocked",
            "phone",
            Condition::LikeNew,
            320,
        ),
        product(3, "iphone 7 plus jet black", "phone", Condition::Fair, 300),
        product(4, "Apple iPhone 6s 64GB", "phone", Condition::Good, 150),
        product(5, "iPhone 8 64GB space gray", "phone", Condition::Good, 280),
        product(6, "Apple iPhone X 256GB", "phone", Condition::Poor, 400),
        product(7, "Samsung Galaxy S7 black", "phone", Condition::Good, 140),
        product(
            8,
            "Google Pixel 7 black 128GB",
            "phone",
            Condition::Good,
            260,
        ),
        product(9, "Motorola moto g power", "phone", Condition::Good, 90),
        product(
            10,
            "IKEA Hemnes 7 drawer dresser black",
            "furniture",
            Condition::Good,
            120,
        ),
        product(
            11,
            "iPhone 7 display stand walnut",
            "furniture",
            Condition::Good,
            40,
        ),
        product(
            12,
            "iPhone 7 case and apple charger",
            "electronics",
            Condition::New,
            15,
        ),
    ];
    let index = indexed(&products).await;
    let iphone_7s = [
        "Apple iPhone 7 32GB black",
        "iPhone 7 128GB rose gold unlocked",
        "iphone 7 plus jet black",
    ];
    for condition in [None, Some(Condition::Good), Some(Condition::LikeNew)] {
        let hits = index
            .comparables("iphone 7", Some("phone"), condition, 10)
            .unwrap();
        let what = format!("{condition:?}: {:?}", titles(&hits));
        assert!(hits.iter().all(|h| h.category == "phone"), "{what}");
        let mut top3 = titles(&hits[..3]);
        top3.sort();
        assert_eq!(top3, iphone_7s, "{what}");
        // then every other phone sharing a word, and nothing else
        assert_eq!(hits.len(), 7, "{what}");
        assert!(hits[3..]
            .iter()
            .all(|h| h.title.contains("iPhone") || h.title.contains("Pixel 7")));
        let exhaustive = index
            .comparables_exhaustive("iphone 7", Some("phone"), condition, 10)
            .unwrap();
        assert_same(&hits, &exhaustive, &what);
    }
    // a matching condition puts that iPhone 7 first
    let fair = index
        .comparables("iphone 7", Some("phone"), Some(Condition::Fair), 3)
        .unwrap();
    assert_eq!(fair[0].title, "iphone 7 plus jet black");
}

/// Two result lists agree: scores equal up to float rounding (the fast path sums the same
/// terms in another order) at every rank, and the same documents, except that documents
/// tied on the last score may differ (rounding decides which the cut keeps).
fn assert_same(fast: &[Comparable], exhaustive: &[Comparable], what: &str) {
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-5 * b.abs().max(1.0);
    let listed = |hits: &[Comparable]| {
        hits.iter()
            .map(|h| format!("{} {}", h.score, h.title))
            .collect::<Vec<_>>()
    };
    let why = || format!("{what}: {:#?} vs {:#?}", listed(fast), listed(exhaustive));
    assert_eq!(fast.len(), exhaustive.len(), "{}", why());
    for (f, e) in fast.iter().zip(exhaustive) {
        assert!(close(f.score, e.score), "{}", why());
    }
    let Some(last) = exhaustive.last() else {
        return;
    };
    for f in fast {
        match exhaustive.iter().find(|e| e.product_id == f.product_id) {
            Some(e) => assert_eq!(
                (&f.title, &f.category, &f.condition, f.asking, f.sold),
                (&e.title, &e.category, &e.condition, e.asking, e.sold)
            ),
            None => assert!(close(f.score, last.score), "{}", why()),
        }
        assert!(close(
            f.score,
            exhaustive_score(exhaustive, f).unwrap_or(last.score)
        ));
    }
}

fn exhaustive_score(exhaustive: &[Comparable], hit: &Comparable) -> Option<f32> {
    exhaustive
        .iter()
        .find(|e| e.product_id == hit.product_id)
        .map(|e| e.score)
}

/// The pruned query returns what scoring every matching document returns, for every title
/// of the catalog asked within its category, anywhere, and with each condition.
#[tokio::test(flavor = "multi_thread")]
async fn the_fast_query_returns_what_the_exhaustive_one_does() {
    let products = catalog();
    let index = indexed(&products).await;
    // a few sellers too: they share the title field's statistics but are never comparables
    for s in [
        seller(1, "Marisol iPhone", "cash"),
        seller(2, "Bose Volkov", "weekends"),
    ] {
        index.upsert_seller(&s).await.unwrap();
    }
    index.commit().await.unwrap();
    let conditions = [
        None,
        Some(Condition::Good),
        Some(Condition::New),
        Some(Condition::Fair),
    ];
    for (n, product) in products.iter().enumerate() {
        // the whole title, and its first two words
        let short: String = product
            .title
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        for title in [product.title.as_str(), short.as_str()] {
            let category = [Some(product.category.as_str()), None][n % 2];
            let condition = conditions[n % conditions.len()];
            for k in [1, 5, 20] {
                let fast = index.comparables(title, category, condition, k).unwrap();
                let exhaustive = index
                    .comparables_exhaustive(title, category, condition, k)
                    .unwrap();
                let what = format!("{title:?} in {category:?}, {condition:?}, k={k}");
                assert_same(&fast, &exhaustive, &what);
                assert!(fast
                    .iter()
                    .all(|h| category.is_none_or(|c| h.category == c)));
            }
        }
    }
}

/// A condition alone never makes a comparable: with fewer word matches than `k`, the
/// documents that only share the condition stay out.
#[tokio::test(flavor = "multi_thread")]
async fn a_condition_alone_does_not_make_a_comparable() {
    let products = [
        product(
            1,
            "zorblax quantum toaster",
            "electronics",
            Condition::Fair,
            30,
        ),
        product(2, "sony walkman", "electronics", Condition::Good, 40),
        product(3, "bose speaker", "electronics", Condition::Good, 50),
        product(4, "zorblax blender", "electronics", Condition::Poor, 20),
    ];
    let index = indexed(&products).await;
    let hits = index
        .comparables(
            "zorblax toaster",
            Some("electronics"),
            Some(Condition::Good),
            10,
        )
        .unwrap();
    assert_eq!(
        titles(&hits),
        ["zorblax quantum toaster", "zorblax blender"],
        "{hits:?}"
    );
    let anywhere = index
        .comparables("zorblax toaster", None, Some(Condition::Good), 10)
        .unwrap();
    assert_eq!(titles(&anywhere), titles(&hits));
}

/// An index written with another schema is replaced by an empty one, said so, and rebuilt
/// from the store.
#[tokio::test(flavor = "multi_thread")]
async fn an_index_with_another_schema_is_replaced_and_rebuilt() {
    use tantivy::schema::{Schema, STORED, STRING, TEXT};
    let dir = tempfile::tempdir().unwrap();
    {
        let mut builder = Schema::builder();
        let id = builder.add_text_field("id", STRING | STORED);
        let title = builder.add_text_field("title", TEXT | STORED);
        let old = tantivy::Index::create_in_dir(dir.path(), builder.build()).unwrap();
        let mut writer: tantivy::IndexWriter = old.writer(15_000_000).unwrap();
        writer
            .add_document(tantivy::doc!(id => "product:old", title => "old iphone"))
            .unwrap();
        writer.commit().unwrap();
    }
    let index = ProductIndex::open(dir.path(), IndexConfig::default()).unwrap();
    assert!(index.was_reset());
    assert_eq!(index.num_docs(), 0);
    let store = SledStore::temporary().unwrap();
    let products = catalog();
    for product in &products[..50] {
        store.put(product).unwrap();
    }
    assert_eq!(index.rebuild(&store).await.unwrap(), 50);
    index.close().await.unwrap();
    let index = ProductIndex::open(dir.path(), IndexConfig::default()).unwrap();
    assert!(!index.was_reset());
    assert_eq!(index.num_docs(), 50);
    let hits = index
        .comparables("bose soundlink", Some("electronics"), None, 3)
        .unwrap();
    assert_eq!(hits[0].title, "Bose Soundlink 3 brand new");
    index.close().await.unwrap();
}
