//! `bazaar run` sells what `[selling]` configures: against the simulated eBay on loopback
//! (its seller consented once, the refresh token kept in a 0600 file), an item the operator
//! brings is listed natively on eBay and assisted on Craigslist; eBay pushes the sale to the
//! operator server's notification route, which takes the item down on Craigslist. Secrets
//! never reach the log.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bazaar_agents::connectors::ebay::EbaySettings;
use bazaar_agents::connectors::ebay_sell::exchange_authorization_code;
use bazaar_memory::{SharedClock, SystemClock};
use bazaar_sim::ebay::{scopes, EbayConfig, EbaySim};
use serde_json::{json, Value};

const BAZAAR: &str = env!("CARGO_BIN_EXE_bazaar");
const OPERATOR_TOKEN: &str = "operator-token-for-the-run-selling-test";
const LLM_KEY: &str = "sk-sim-run-selling-test";
const VERIFICATION_TOKEN: &str = "verification-token-0123456789-abcdefghijklmnopqrstuvwxyz";

fn secret(dir: &Path, name: &str, value: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    format!("{{ file = \"{}\" }}", path.display())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `bazaar run` whose stderr is collected line by line.
struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(config: &Path, data: &Path) -> Daemon {
        let mut child = Command::new(BAZAAR)
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .args(["--log-format", "json", "run"])
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Daemon { child, log }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    async fn wait_log(&mut self, containing: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().iter().any(|l| l.contains(containing)) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("bazaar run exited ({status}): {:#?}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "no {containing:?} in the log: {:#?}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(mut self) -> (std::process::ExitStatus, Vec<String>) {
        // SAFETY: our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        // Let the reader thread drain the pipe.
        std::thread::sleep(Duration::from_millis(100));
        (status, self.log())
    }
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(OPERATOR_TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    /// Waits until the item's listings are exactly `want` (channel, status).
    async fn wait_listings(&self, item: &str, want: &[(&str, &str)]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let body = self
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/items/{item}/listings"),
                    None,
                )
                .await;
            let mut have: Vec<(String, String)> = body["listings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| {
                    (
                        j["marketplace"].as_str().unwrap().to_string(),
                        j["status"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            have.sort();
            let mut want: Vec<(String, String)> = want
                .iter()
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect();
            want.sort();
            if have == want {
                return body;
            }
            assert!(Instant::now() < deadline, "want {want:?}, have {have:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_lists_on_ebay_and_craigslist_and_a_pushed_sale_delists_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let clock: SharedClock = Arc::new(SystemClock);
    let app = EbayConfig::default();
    let (sim, _) = EbaySim::start(app.clone(), clock.clone()).await.unwrap();
    // The seller's one-time consent, as an operator would do it in a browser.
    let code = sim.authorization_code(&[
        scopes::API,
        scopes::SELL_INVENTORY,
        scopes::SELL_FULFILLMENT,
        scopes::NOTIFICATION_SUBSCRIPTION,
    ]);
    let api = EbaySettings::new(sim.base_url(), &app.client_id, &app.client_secret, 1_000);
    let tokens = exchange_authorization_code(&api, &code, &app.ru_name, &clock)
        .await
        .unwrap();

    let llm = bazaar_sim::llm::LlmSim::start(bazaar_sim::llm::LlmConfig {
        seed: 7,
        api_key: LLM_KEY.into(),
        created: 1_775_000_000,
    })
    .await
    .unwrap();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("bazaar.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[marketplaces.ebay]
base_url = "{ebay}"
client_id = "{client_id}"
client_secret = {client_secret}

[operator]
listen = "127.0.0.1:{port}"
public_url = "{base}"
token = {operator_token}

[policy.confidence]
first_execution_factor = 1.0
operator_away_factor = 1.0

[llm]
enabled = true
base_url = "{llm}"
model = "{model}"
api_key = {llm_key}

[selling]
channels = ["ebay", "craigslist"]
poll_minutes = 60
rewrite_copy = true

[selling.ebay]
refresh_token = {refresh_token}
fulfillment_policy_id = "6196944000"
payment_policy_id = "6196945000"
return_policy_id = "6196946000"
merchant_location_key = "home"
location_postal_code = "95125"
notifications = true
verification_token = {verification_token}
"#,
            ebay = sim.base_url(),
            llm = llm.base_url(),
            model = bazaar_sim::llm::MODEL,
            llm_key = secret(dir.path(), "llm-key", LLM_KEY),
            client_id = app.client_id,
            client_secret = secret(dir.path(), "client-secret", &app.client_secret),
            operator_token = secret(dir.path(), "operator-token", OPERATOR_TOKEN),
            refresh_token = secret(dir.path(), "refresh-token", &tokens.refresh_token),
            verification_token = secret(dir.path(), "verification-token", VERIFICATION_TOKEN),
        ),
    )
    .unwrap();

    let mut daemon = Daemon::start(&config, &dir.path().join("data"));
    daemon.wait_log("bazaar is running").await;
    daemon.wait_log("ebay pushes sales here").await;

    bazaar_mail::install_crypto_provider();
    let api = Api {
        base,
        http: reqwest::Client::new(),
    };
    let template = "Trek FX 3 Disc hybrid bike, 54cm";
    let item = api
        .call(
            reqwest::Method::POST,
            "/api/v1/items",
            Some(json!({
                "title": template,
                "condition": "good",
                "cost": "$40",
                "photos": ["https://img.example/trek-1.jpg"],
                "price": "89.99",
                "category": "bike",
                "attributes": {"brand": "Trek", "zip": "97201", "phone": "503-555-0100"},
            })),
        )
        .await;
    let item = item["id"].as_str().unwrap().to_string();
    api.call(
        reqwest::Method::POST,
        &format!("/api/v1/items/{item}/listings"),
        Some(json!({"channels": ["ebay", "craigslist"]})),
    )
    .await;
    api.wait_listings(
        &item,
        &[("ebay", "live"), ("craigslist", "needs_manual_action")],
    )
    .await;
    let on_ebay = sim.agent_listings();
    assert_eq!(on_ebay.len(), 1, "{on_ebay:?}");
    assert_eq!(on_ebay[0].price.to_string(), "$89.99");
    // The model was asked for both channels' copy; eBay's went out rewritten (title case)
    // exactly when the check kept it.
    assert!(llm.answered() >= 2, "{} requests", llm.answered());
    let rewritten = daemon
        .log()
        .iter()
        .any(|l| l.contains("listing copy rewritten") && l.contains("\"marketplace\":\"ebay\""));
    let expected = if rewritten {
        "Trek FX 3 Disc Hybrid Bike, 54cm"
    } else {
        template
    };
    assert_eq!(on_ebay[0].title, expected, "rewritten: {rewritten}");

    let purchase = sim.buy(&on_ebay[0].listing_id, "buyer_one").await.unwrap();
    assert!(
        purchase.deliveries.len() == 1 && purchase.deliveries[0].delivered(),
        "{:?}",
        purchase.deliveries
    );
    api.wait_listings(&item, &[("ebay", "sold"), ("craigslist", "withdrawn")])
        .await;
    assert!(sim.oversells().is_empty());

    // The operator ships it and records the tracking number from the command line: eBay's
    // order is marked shipped once, however often it is said.
    let shipped = |tracking: &str| {
        Command::new(BAZAAR)
            .arg("--config")
            .arg(&config)
            .args([
                "shipped",
                &item,
                "--carrier",
                "USPS",
                "--tracking",
                tracking,
            ])
            .output()
            .unwrap()
    };
    let out = shipped("9400 1118 9922 3033 0000 00");
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && said.contains("marked shipped with USPS 9400111899223033000000"),
        "{said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shipped("9400111899223033000000").status.success(),
        "the same again"
    );
    let order = reqwest::Client::new()
        .get(format!(
            "{}/sell/fulfillment/v1/order/{}/shipping_fulfillment",
            sim.base_url(),
            purchase.order_id
        ))
        .bearer_auth(
            exchange_authorization_code(
                &EbaySettings::new(sim.base_url(), &app.client_id, &app.client_secret, 1_000),
                &sim.authorization_code(&[scopes::SELL_FULFILLMENT]),
                &app.ru_name,
                &clock,
            )
            .await
            .unwrap()
            .access_token,
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(order["total"], 1, "{order}");
    assert_eq!(order["fulfillments"][0]["shippingCarrierCode"], "USPS");
    let status = api
        .call(reqwest::Method::GET, &format!("/api/v1/items/{item}"), None)
        .await;
    assert_eq!(status["status"], "shipped", "{status}");
    let refused = shipped("1Z999");
    assert!(
        !refused.status.success(),
        "a shipped item is not shipped again under another number"
    );

    let (status, log) = daemon.stop();
    assert!(status.success(), "{status}: {log:#?}");
    let log = log.join("\n");
    for secret in [
        OPERATOR_TOKEN,
        VERIFICATION_TOKEN,
        tokens.refresh_token.as_str(),
        app.client_secret.as_str(),
        LLM_KEY,
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}
