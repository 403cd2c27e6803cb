//! Chaos: `bazaar sim` killed with SIGKILL at random moments, at least 50 times in one run,
//! and started again each time on the same `--data-dir` (the agent resumes from its store,
//! the world from its journal). When the run is over, what happened is checked against the
//! world's ground truth and the agent's store: nothing bought, mailed or listed twice, no
//! sold item left for sale, no action lost, the audit chain whole, no budget exceeded.
//!
//! `BAZAAR_CHAOS_SEED` picks other kill moments; the report is printed (`--nocapture`) and
//! written to `chaos-report.json` in the test's temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bazaar_memory::{
    ActionKind, ActionRecord, ActionStatus, Approval, ApprovalStatus, AuditEntry, ChannelListing,
    ChannelStatus, InventoryItem, ItemStatus, MarketListing, SledStore, Store,
};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");
const KILLS: usize = 50;
const SCENARIO: &str = "stress";
/// Ten days: the kills land in the first two (each life plays the journal back first), and
/// more days only lengthened the last run, the one nobody kills.
const DAYS: &str = "10";
/// How long a process lives before it is killed, in milliseconds: from inside its start-up
/// (opening the store, the world playing its journal back) to well into its work.
const LIFE_MS: std::ops::Range<u64> = 150..3_000;
/// How long, in simulated time, a sold item may stay listed elsewhere.
const DELIST_DEADLINE: chrono::Duration = chrono::Duration::minutes(15);

/// One `bazaar sim` process on the shared data directory, its output appended to `log`.
fn start(data: &Path, out: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(BAZAAR)
        .args([
            "sim",
            "--scenario",
            SCENARIO,
            "--days",
            DAYS,
            "--no-browser",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--out")
        .arg(out)
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The last day the run wrote its books for (how far the business had got).
fn day_reached(data: &Path) -> i64 {
    std::fs::read_to_string(data.join("sim-daily.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["day"].as_i64())
        .max()
        .unwrap_or(0)
}

#[test]
fn fifty_kills_lose_nothing_and_do_nothing_twice() {
    let seed: u64 = std::env::var("BAZAAR_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_126);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let (data, out, log) = (
        dir.path().join("data"),
        dir.path().join("out"),
        dir.path().join("sim.log"),
    );

    let wall = Instant::now();
    let mut kills: Vec<(u64, i64)> = Vec::new();
    let mut finished = false;
    while kills.len() < KILLS {
        let life = rng.random_range(LIFE_MS);
        let mut child = start(&data, &out, &log);
        let born = Instant::now();
        while born.elapsed() < Duration::from_millis(life) {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "bazaar sim failed on its own: {status}\n{}",
                    tail(&log)
                );
                finished = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if finished {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills.push((life, day_reached(&data)));
    }
    assert!(
        kills.len() >= KILLS,
        "the run finished after {} kills; make it longer",
        kills.len()
    );
    // The last start runs to the end.
    let mut child = start(&data, &out, &log);
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the last run did not finish\n{}",
            tail(&log)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        status.success(),
        "the last run failed: {status}\n{}",
        tail(&log)
    );

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ground_truth.json")).unwrap())
            .unwrap();
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    let store = SledStore::open(&bazaar_runtime::system::store_dir(&data)).unwrap();
    let checks = invariants(&truth, &events, &store);

    let days: Vec<i64> = kills.iter().map(|(_, day)| *day).collect();
    let report = serde_json::json!({
        "seed": seed,
        "kills": kills.len(),
        "kills_by_day_reached": days.iter().fold(BTreeMap::<i64, usize>::new(), |mut m, d| {
            *m.entry(*d).or_default() += 1;
            m
        }),
        "life_ms": {
            "min": kills.iter().map(|k| k.0).min(),
            "max": kills.iter().map(|k| k.0).max(),
        },
        "wall_seconds": wall.elapsed().as_secs_f64(),
        "invariants": checks.iter().map(|c| serde_json::json!({
            "name": c.name,
            "checked": c.checked,
            "violations": c.violations,
            "measured": c.measured,
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&report).unwrap();
    let broken = checks.iter().any(|c| !c.violations.is_empty());
    // What broke stays on disk to be looked at: the store, the journal, the logs.
    let kept = broken.then(|| dir.keep());
    let text = match &kept {
        Some(path) => format!("{text}\nkept for inspection: {}", path.display()),
        None => text,
    };
    std::fs::write(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("chaos-report.json"),
        &text,
    )
    .unwrap();
    println!("{text}");
    for check in &checks {
        assert!(
            check.violations.is_empty(),
            "{}: {:#?}\n{text}",
            check.name,
            check.violations
        );
        assert!(check.checked > 0, "{} checked nothing\n{text}", check.name);
    }
}

/// One invariant: how many things it looked at and what broke it.
struct Check {
    name: &'static str,
    checked: usize,
    violations: Vec<String>,
    /// Figures worth reporting beside the verdict.
    measured: Option<serde_json::Value>,
}

fn invariants(truth: &serde_json::Value, events: &str, store: &SledStore) -> Vec<Check> {
    let actions = store.all::<ActionRecord>().unwrap();
    let config = bazaar_config::Config::load(None, std::iter::empty()).unwrap();
    let limits = &config.policy.limits;
    let agent = "agent@bazaar.test";
    let array = |key: &str| truth[key].as_array().cloned().unwrap_or_default();
    let executed = |kind: ActionKind| {
        actions
            .iter()
            .filter(move |a| a.kind == kind && a.lifecycle.status == ActionStatus::Executed)
    };
    let mut checks = Vec::new();

    // Nothing bought twice, and only what a seller agreed to sell to us.
    let listings: BTreeMap<String, String> = store
        .all::<MarketListing>()
        .unwrap()
        .into_iter()
        .map(|l| (l.id.to_string(), l.external_id))
        .collect();
    let deals: Vec<String> = array("deals")
        .iter()
        .filter(|d| d["buyer"] == agent)
        .filter_map(|d| d["listing"].as_str().map(str::to_string))
        .collect();
    let mut bought = BTreeMap::<String, usize>::new();
    for purchase in executed(ActionKind::Purchase) {
        let listing = purchase.params["listing"]
            .as_str()
            .unwrap_or("")
            .to_string();
        *bought.entry(listing).or_default() += 1;
    }
    let mut violations: Vec<String> = bought
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(listing, n)| format!("listing {listing} bought {n} times"))
        .collect();
    for listing in bought.keys() {
        let external = listings.get(listing).cloned().unwrap_or_default();
        if !deals.contains(&external) {
            violations.push(format!(
                "listing {listing} ({external}) bought without a deal"
            ));
        }
    }
    let mut items_per_opportunity = BTreeMap::<String, usize>::new();
    for item in store.all::<InventoryItem>().unwrap() {
        if let Some(opportunity) = item.opportunity {
            *items_per_opportunity
                .entry(opportunity.to_string())
                .or_default() += 1;
        }
    }
    violations.extend(
        items_per_opportunity
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(o, n)| format!("opportunity {o} became {n} inventory items")),
    );
    checks.push(Check {
        name: "no item bought twice",
        checked: bought.len(),
        violations,
        measured: None,
    });

    // No email sent twice: every Message-ID reached its recipient once.
    let mut mails = BTreeMap::<(String, String), usize>::new();
    for line in events.lines() {
        let event: serde_json::Value = serde_json::from_str(line).unwrap();
        if event["event"] == "mail_received" && event["from"] == agent {
            let key = (
                event["to"].as_str().unwrap_or("").to_string(),
                event["message_id"].as_str().unwrap_or("").to_string(),
            );
            *mails.entry(key).or_default() += 1;
        }
    }
    checks.push(Check {
        name: "no email sent twice (by Message-ID)",
        checked: mails.len(),
        violations: mails
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|((to, id), n)| format!("{id} reached {to} {n} times"))
            .collect(),
        measured: None,
    });

    // No listing published twice: one eBay offer per item, each one the agent knows of.
    let channel_listings = store.all::<ChannelListing>().unwrap();
    let known_skus: BTreeMap<&str, &ChannelListing> = channel_listings
        .iter()
        .map(|c| (c.sku.as_str(), c))
        .collect();
    let offers = array("agent_offers");
    let mut violations = Vec::new();
    let mut offers_per_item = BTreeMap::<String, usize>::new();
    for offer in &offers {
        let sku = offer["sku"].as_str().unwrap_or("");
        match known_skus.get(sku) {
            Some(listing) => *offers_per_item.entry(listing.item.to_string()).or_default() += 1,
            None => violations.push(format!(
                "eBay offer for SKU {sku} the agent has no record of"
            )),
        }
    }
    violations.extend(
        offers_per_item
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(item, n)| format!("item {item} has {n} eBay offers")),
    );
    let mut per_channel = BTreeMap::<(String, String), usize>::new();
    for listing in &channel_listings {
        *per_channel
            .entry((
                listing.item.to_string(),
                listing.marketplace.name().to_string(),
            ))
            .or_default() += 1;
    }
    violations.extend(
        per_channel
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|((item, m), n)| format!("item {item} has {n} listings on {m}")),
    );
    checks.push(Check {
        name: "no listing published twice",
        checked: offers.len(),
        violations,
        measured: None,
    });

    // No sold item left listed: no oversell, nothing sold still live anywhere.
    let mut delist_sim_seconds = Vec::new();
    let mut violations: Vec<String> = array("oversells")
        .iter()
        .map(|o| format!("oversold: {o}"))
        .collect();
    let sold_items: Vec<InventoryItem> = store
        .all::<InventoryItem>()
        .unwrap()
        .into_iter()
        .filter(|i| matches!(i.lifecycle.status, ItemStatus::Sold | ItemStatus::Shipped))
        .collect();
    for item in &sold_items {
        for listing in channel_listings.iter().filter(|c| c.item == item.id) {
            if listing.lifecycle.status == ChannelStatus::Live {
                violations.push(format!(
                    "item {} sold but still live on {}",
                    item.id,
                    listing.marketplace.name()
                ));
            }
            if offers
                .iter()
                .any(|o| o["sku"] == listing.sku.as_str() && o["live"] == true)
            {
                violations.push(format!(
                    "item {} sold but its eBay listing is live",
                    item.id
                ));
            }
        }
    }
    // Every other listing of a sold item came down within the deadline, in simulated time
    // from the world's sale (a kill between the sale and the withdrawal must not stretch it).
    let mut sold_at = BTreeMap::<String, DateTime<Utc>>::new();
    for sale in array("sales") {
        let (Some(listing), Some(at)) = (sale["listing_id"].as_str(), sale["at"].as_str()) else {
            continue;
        };
        let at: DateTime<Utc> = at.parse().unwrap();
        let Some(sold) = channel_listings
            .iter()
            .find(|c| c.external_id.as_deref() == Some(listing))
        else {
            continue;
        };
        let first = sold_at.entry(listing.to_string()).or_insert(at);
        if *first < at {
            continue;
        }
        for other in channel_listings
            .iter()
            .filter(|c| c.item == sold.item && c.id != sold.id)
        {
            let withdrawn = other
                .lifecycle
                .history
                .iter()
                .filter(|c| c.to == ChannelStatus::Withdrawn && c.at >= at)
                .map(|c| c.at)
                .next();
            let was_live = other
                .lifecycle
                .history
                .iter()
                .rfind(|c| c.at <= at)
                .is_some_and(|c| c.to == ChannelStatus::Live);
            let Some(withdrawn) = withdrawn.filter(|_| was_live) else {
                continue;
            };
            let late = withdrawn - at;
            delist_sim_seconds.push(late.num_seconds());
            if late > DELIST_DEADLINE {
                violations.push(format!(
                    "item {} still listed on {} {} min after it sold",
                    sold.item,
                    other.marketplace.name(),
                    late.num_minutes()
                ));
            }
        }
    }
    checks.push(Check {
        name: "no sold item left listed",
        checked: sold_items.len(),
        violations,
        measured: Some(serde_json::json!({
            "delisted_after_sale": delist_sim_seconds.len(),
            "max_sim_seconds": delist_sim_seconds.iter().max(),
            "deadline_sim_seconds": DELIST_DEADLINE.num_seconds(),
        })),
    });

    // No action lost: each one done, failed, refused, or waiting for the operator.
    let waiting: Vec<String> = store
        .all::<Approval>()
        .unwrap()
        .into_iter()
        .filter(|a| a.lifecycle.status == ApprovalStatus::Pending)
        .filter_map(|a| a.action.map(|id| id.to_string()))
        .collect();
    let violations = actions
        .iter()
        .filter(|a| match a.lifecycle.status {
            ActionStatus::Executed
            | ActionStatus::Failed
            | ActionStatus::Blocked
            | ActionStatus::Rejected
            | ActionStatus::Undone
            | ActionStatus::Cancelled => false,
            // Waiting in the outbox for its release time is not lost either.
            ActionStatus::Scheduled => a.release_at.is_none(),
            _ => !waiting.contains(&a.id.to_string()),
        })
        .map(|a| {
            format!(
                "{} {:?} {} is {:?} with nobody asked",
                a.id, a.kind, a.idempotency_key, a.lifecycle.status
            )
        })
        .collect();
    checks.push(Check {
        name: "no action lost",
        checked: actions.len(),
        violations,
        measured: None,
    });

    // The audit chain verifies.
    let audit = store.all::<AuditEntry>().unwrap();
    checks.push(Check {
        name: "the audit chain verifies",
        checked: audit.len(),
        violations: match AuditEntry::verify_chain(&audit) {
            Ok(_) => Vec::new(),
            Err(broken) => vec![broken.to_string()],
        },
        measured: None,
    });

    // No budget exceeded: per item, per marketplace day, per week; daily action counts.
    let offset = config.policy.day_utc_offset_minutes;
    let day_of = |a: &ActionRecord| {
        let at: DateTime<Utc> = a
            .lifecycle
            .history
            .iter()
            .find(|c| c.to == ActionStatus::Executing)
            .map_or(a.proposed_at, |c| c.at);
        bazaar_policies::limits::marketplace_day(at, offset)
    };
    let mut violations = Vec::new();
    let mut spend = BTreeMap::<chrono::NaiveDate, i64>::new();
    for purchase in executed(ActionKind::Purchase) {
        let value = purchase.value.map_or(0, |v| v.minor);
        if value > limits.max_price_per_item.minor {
            violations.push(format!("{} paid {value} for one item", purchase.id));
        }
        *spend.entry(day_of(purchase)).or_default() += value;
    }
    for (day, total) in &spend {
        if *total > limits.max_spend_per_day.minor {
            violations.push(format!("spent {total} on {day}"));
        }
        let week: i64 = spend
            .range(*day - chrono::Duration::days(6)..=*day)
            .map(|(_, v)| v)
            .sum();
        if week > limits.max_spend_per_week.minor {
            violations.push(format!("spent {week} in the week to {day}"));
        }
    }
    for (kind, limit) in [
        (ActionKind::RevisePrice, limits.revise_price_per_day),
        (ActionKind::AcceptOffer, limits.accept_offer_per_day),
        (ActionKind::CounterOffer, limits.counter_offer_per_day),
        (ActionKind::Relist, limits.relist_per_day),
    ] {
        let mut per_day = BTreeMap::<chrono::NaiveDate, u32>::new();
        for action in executed(kind) {
            *per_day.entry(day_of(action)).or_default() += 1;
        }
        for (day, n) in per_day.iter().filter(|(_, n)| **n > limit) {
            violations.push(format!("{n} {kind:?} on {day}, limit {limit}"));
        }
    }
    checks.push(Check {
        name: "no budget exceeded",
        checked: spend.len(),
        violations,
        measured: None,
    });
    checks
}

/// The end of the runs' output, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut start = text.len().saturating_sub(4_000);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_string()
}
