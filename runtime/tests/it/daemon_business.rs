//! The product as a reseller runs it (issue 27): the real `bazaar run` process, started with
//! the configuration `bazaar sim serve` wrote, works the simulated market over real Postfix +
//! Dovecot on the world's clock — it finds a listing, negotiates with its seller by email,
//! buys, lists on eBay, sells and takes the listing down, by itself. The test is only the
//! operator: it answers the approvals the gate asks for and, as a reseller does at pickup,
//! fills in the condition of what was bought; everything else the daemon does alone. The
//! P&L is read through the operator API while the daemon runs.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::process::{spawn_reading_stdout, Stopped};

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");

/// The world runs an hour a second: its first sales come about a week in.
const SPEED: &str = "3600";
/// Wall time for the whole loop (a simulated fortnight and more).
const LOOP_BUDGET: Duration = Duration::from_secs(480);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_buys_and_sells_by_itself_over_real_mail() {
    use bazaar_sim::mail::ThrowawayServer;

    let dir = tempfile::tempdir().unwrap();
    let mail_dir = std::env::temp_dir().join("bazaar-runtime-daemon-business-mail");
    let Some(mail) = ThrowawayServer::start_catch_all_or_skip(&mail_dir, 2731, 1351, "world")
    else {
        return;
    };
    let out = dir.path().join("world");
    let (world, config, console) = serve_world(&out, &mail.env_file());
    // The operator also sells on Craigslist, by hand: the daemon hands them the listing to
    // post, and takes it down everywhere once it sells.
    let written = std::fs::read_to_string(&config).unwrap();
    let both = written.replace(
        "channels = [\"ebay\"]",
        "channels = [\"ebay\", \"craigslist\"]",
    );
    assert_ne!(written, both, "{written}");
    std::fs::write(&config, both).unwrap();
    let log = dir.path().join("daemon.log");
    let daemon = Stopped(
        Command::new(BAZAAR)
            .args(["--config", &config, "run"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let operator = Operator::new(&console, &out.join("secrets/operator-token"));
    let (sold, posted) = operator.work_until_a_sale(&log).await;

    // It was bought from a seller the daemon negotiated with by email, over real mail.
    let purchased = operator
        .get("/api/v1/opportunities?status=purchased&limit=1000")
        .await;
    let deal = purchased["opportunities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["title"] == sold["title"])
        .unwrap_or_else(|| panic!("no purchased opportunity for {sold:#}: {purchased:#}"));
    let negotiation = operator
        .get(&format!(
            "/api/v1/negotiations/{}",
            deal["negotiation"].as_str().expect("negotiated")
        ))
        .await;
    let rounds = negotiation["rounds"].as_array().unwrap();
    assert!(
        rounds.iter().any(|r| r["from"] == "us") && rounds.iter().any(|r| r["from"] == "seller"),
        "a thread of emails both ways: {negotiation:#}"
    );
    // Sold on eBay, and the listing is down there.
    let ebay = sold["listings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["marketplace"] == "ebay")
        .unwrap_or_else(|| panic!("no eBay listing: {sold:#}"));
    assert_eq!(ebay["status"], "sold", "{sold:#}");
    // Taken down on Craigslist the moment it sold there: the listing is withdrawn and, if
    // the operator had posted it, an urgent task asks them to remove the post.
    let id = sold["id"].as_str().unwrap();
    let craigslist = operator
        .eventually(&format!("/api/v1/items/{id}"), |item| {
            item["listings"]
                .as_array()?
                .iter()
                .find(|l| l["marketplace"] == "craigslist" && l["status"] == "withdrawn")
                .cloned()
        })
        .await;
    if posted.contains(id) {
        let urgent = operator
            .eventually("/api/approvals", |list| {
                list["approvals"]
                    .as_array()?
                    .iter()
                    .find(|a| {
                        let summary = a["summary"].as_str().unwrap_or_default();
                        summary.starts_with("URGENT: take") && summary.contains(id)
                    })
                    .cloned()
            })
            .await;
        println!("delisted: {craigslist}; {}", urgent["summary"]);
    }
    // Its link is the simulated eBay's own item page, which now says it ended.
    let page = ebay["url"].as_str().expect("the listing's link");
    assert!(
        page.starts_with("http://127.0.0.1:") && page.contains("/itm/"),
        "{page}"
    );
    let shown = operator.client.get(page).send().await.unwrap();
    assert_eq!(shown.status(), 200, "{page}");
    let shown = shown.text().await.unwrap();
    assert!(shown.contains("no longer available"), "{shown}");
    // The P&L, read while the daemon runs, books the sale at a profit.
    let pnl = operator.get("/api/v1/pnl").await;
    let line = pnl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item"] == sold["id"])
        .unwrap_or_else(|| panic!("the sold item is not in the P&L: {pnl:#}"));
    assert!(line["revenue"].as_i64().unwrap() > 0, "{line:#}");
    assert!(
        line["profit"].as_i64().unwrap() > 0,
        "bought low, sold higher: {line:#}"
    );
    // The world saw it from its side: real mail read by its sellers, and a buyer's purchase.
    let events = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(
        events.contains("\"event\":\"mail_received\""),
        "no mail reached the world"
    );
    assert!(
        events.contains("\"event\":\"purchase\""),
        "no purchase in the world"
    );
    assert!(
        !events.contains("\"event\":\"mail_unrouted\""),
        "mail for nobody the world knows"
    );
    drop(daemon);
    drop(world);
    drop(mail);
    println!(
        "sold {:?}: revenue {} profit {} (minor units)",
        sold["title"], line["revenue"], line["profit"]
    );
}

/// Starts `bazaar sim serve` on the mail server's accounts; returns it, the configuration it
/// wrote for the daemon, and the daemon's operator address.
fn serve_world(out: &Path, mail_env: &Path) -> (Stopped, String, String) {
    let (world, lines) = spawn_reading_stdout(
        Command::new(BAZAAR)
            .args(["sim", "serve", "--scenario", "default", "--speed", SPEED])
            .arg("--mail-env")
            .arg(mail_env)
            .arg("--out")
            .arg(out)
            .stderr(Stdio::null()),
    );
    let mut printed = Vec::new();
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("sim serve is not ready: {printed:#?}"));
        if line == "ready" {
            break;
        }
        printed.push(line);
    }
    let field = |name: &str| {
        printed
            .iter()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {name} line in {printed:#?}"))
            .to_string()
    };
    assert!(
        printed.iter().any(|l| l.contains("every seller and buyer")),
        "every seller has mail: {printed:#?}"
    );
    let console = field("console");
    let root = console.trim_end_matches("/console").to_string();
    (world, field("config"), root)
}

/// The operator, through the daemon's API.
struct Operator {
    client: reqwest::Client,
    root: String,
    token: String,
}

impl Operator {
    fn new(root: &str, token_file: &Path) -> Operator {
        bazaar_mail::install_crypto_provider();
        Operator {
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            root: root.to_string(),
            token: std::fs::read_to_string(token_file).unwrap(),
        }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Option<Value> {
        let response = request.bearer_auth(&self.token).send().await.ok()?;
        let status = response.status();
        let body: Value = response.json().await.ok()?;
        status.is_success().then_some(body)
    }

    async fn get(&self, path: &str) -> Value {
        let url = format!("{}{path}", self.root);
        self.send(self.client.get(&url))
            .await
            .unwrap_or_else(|| panic!("GET {url} failed"))
    }

    /// `path`'s answer once `found` finds something in it (within 30 s).
    async fn eventually(&self, path: &str, found: impl Fn(&Value) -> Option<Value>) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self.get(path).await;
            if let Some(found) = found(&answer) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "not within 30 s: {path}: {answer:#}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Answers approvals, fills in conditions and posts the listings the daemon asks to be
    /// posted by hand until an item has sold; returns the item and the items posted.
    async fn work_until_a_sale(&self, log: &Path) -> (Value, BTreeSet<String>) {
        let started = Instant::now();
        let mut posted = BTreeSet::new();
        let mut approved = 0;
        let mut inspected = 0;
        loop {
            assert!(
                started.elapsed() < LOOP_BUDGET,
                "nothing sold within {LOOP_BUDGET:?} ({approved} approvals given, {inspected} \
                 items inspected); pipeline {:#}; daemon log tail: {}",
                self.get("/api/v1/pipeline").await,
                tail(log)
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            let url = |path: &str| format!("{}{path}", self.root);
            // Not up yet (or restarting): try again.
            let Some(waiting) = self.send(self.client.get(url("/api/approvals"))).await else {
                continue;
            };
            for approval in waiting["approvals"].as_array().into_iter().flatten() {
                // Decisions only: a task (a missing field …) is done by doing it, below.
                if approval["action"].is_null() {
                    continue;
                }
                let path = format!(
                    "/api/approvals/{}/approve",
                    approval["id"].as_str().unwrap()
                );
                if self.send(self.client.post(url(&path))).await.is_some() {
                    approved += 1;
                }
            }
            let Some(items) = self.send(self.client.get(url("/api/v1/items"))).await else {
                continue;
            };
            for item in items["items"].as_array().into_iter().flatten() {
                if item["status"] == "sold" {
                    println!(
                        "first sale after {:?}: {approved} approvals given, {inspected} items inspected",
                        started.elapsed()
                    );
                    return (item.clone(), posted);
                }
                let id = item["id"].as_str().unwrap();
                let by_hand = item["listings"].as_array().into_iter().flatten().any(|l| {
                    l["marketplace"] == "craigslist" && l["status"] == "needs_manual_action"
                });
                if by_hand && item["condition"] != "unknown" {
                    let path = format!("/api/v1/items/{id}/listings/craigslist/confirm");
                    let post = format!("https://sfbay.craigslist.org/sfc/for/d/{id}.html");
                    let confirm = self.client.post(url(&path)).json(&json!({"url": post}));
                    if self.send(confirm).await.is_some() {
                        posted.insert(id.to_string());
                    }
                }
                if item["condition"] == "unknown" && item["status"] == "in_stock" {
                    let path = format!("/api/v1/items/{}", item["id"].as_str().unwrap());
                    let edit = self
                        .client
                        .patch(url(&path))
                        .json(&json!({"condition": "good"}));
                    if self.send(edit).await.is_some() {
                        inspected += 1;
                    }
                }
            }
        }
    }
}

fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// `bazaar demo`, with its mail in the process (the machine without Postfix): the world and
/// the daemon in one command reach a sale on their own, the console's API answers while it
/// runs, and Ctrl-C stops both cleanly with the world's files written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_reaches_a_sale_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let (mut demo, lines) = spawn_reading_stdout(
        Command::new(BAZAAR)
            .args(["demo", "--mail", "in-process", "--speed", SPEED])
            .arg("--out")
            .arg(&out)
            .stderr(Stdio::null()),
    );
    let started = Instant::now();
    let mut printed: Vec<String> = Vec::new();
    let mut console = None;
    let sale = loop {
        let left = LOOP_BUDGET.saturating_sub(started.elapsed());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no sale within {LOOP_BUDGET:?}; the demo said: {:#?}",
                &printed[printed.len().saturating_sub(40)..]
            )
        });
        if let Some(rest) = line.strip_prefix("watch it at ") {
            console = rest.split("/console").next().map(str::to_string);
        }
        if line.starts_with('[') && line.contains("] sold ") {
            break line;
        }
        printed.push(line);
    };
    println!("first sale after {:?}: {sale}", started.elapsed());
    assert!(sale.contains("ebay sold"), "{sale}");
    assert!(
        printed.iter().any(|l| l.contains("] listed ")),
        "the item was seen listed before it sold: {printed:#?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.starts_with("operator: approved email")),
        "sellers were emailed: {printed:#?}"
    );
    let console = console.expect("the demo says where its console is");
    let operator = Operator::new(&console, &out.join("secrets/operator-token"));
    let pipeline = operator.get("/api/v1/pipeline").await;
    assert!(pipeline["sold"].as_u64().unwrap() >= 1, "{pipeline:#}");
    assert!(
        pipeline["agreed"].as_u64().unwrap() >= 1 || pipeline["bought"].as_u64().unwrap() >= 1,
        "{pipeline:#}"
    );

    let rc = unsafe { libc::kill(demo.0.id() as i32, libc::SIGINT) };
    assert_eq!(rc, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the demo did not stop within 60 s of Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "{status}");
    assert!(out.join("ground_truth.json").exists());
}

/// `bazaar demo --mail postfix` (as root; CI fails rather than skips without it) starts its
/// own Postfix + Dovecot although bazaar creates everything private to its owner, and every
/// seller of the world gets a mailbox there.
#[test]
fn the_demo_runs_its_mail_on_postfix_and_dovecot() {
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI must run the demo's mail as root"
        );
        eprintln!("skipped: not root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut demo, lines) = spawn_reading_stdout(
        Command::new(BAZAAR)
            .args(["demo", "--mail", "postfix", "--speed", "60"])
            .arg("--out")
            .arg(dir.path().join("demo"))
            .stderr(Stdio::null()),
    );
    let mut printed = Vec::new();
    while printed
        .last()
        .is_none_or(|l: &String| !l.starts_with("watch it at"))
    {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("the demo is not ready: {printed:#?}"));
        printed.push(line);
    }
    let _ = unsafe { libc::kill(demo.0.id() as i32, libc::SIGINT) };
    let status = demo.0.wait().unwrap();
    assert!(status.success(), "{status}: {printed:#?}");
    assert!(
        printed.iter().any(|l| l.contains("every seller and buyer")),
        "the world's people have mailboxes on Postfix: {printed:#?}"
    );
    assert!(
        !printed.iter().any(|l| l.contains("did not start")),
        "{printed:#?}"
    );
}
