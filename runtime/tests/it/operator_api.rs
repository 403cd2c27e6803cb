//! The operator API over real HTTP against a running system: auth, approvals, rejection,
//! undo, the kill switch, audit, status, metrics, the OpenAPI document, body limits, and the
//! CLI commands that talk to it.

use crate::support;

use std::time::Duration;

use bazaar_memory::{ActionKind, ActionRecord, ActionStatus, Store};
use bazaar_policies::testing::Execution;
use bazaar_policies::Outcome;
use bazaar_runtime::operator::api::{document, operations};
use reqwest::StatusCode;
use serde_json::Value;
use support::openapi::{assert_conforms, problems};
use support::{reprice, Harness, Options, TOKEN};

async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let value = response.json().await.unwrap_or(Value::Null);
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_route_needs_the_bearer_token() {
    let h = Harness::start(Options::default()).await;
    let (_, approval) = h.pending_reprice("BZ-1", "60.00").await;
    let mut guesses_refused = 0;
    let mut wrong_sent = 0;
    for (method, path) in operations() {
        let path = path
            .replace("{id}", &approval.to_string())
            .replace("{channel}", "ebay");
        let public = matches!(path.as_str(), "/healthz" | "/readyz" | "/api/openapi.json");
        let request = |token: Option<&str>| {
            let builder = match method {
                "get" => h.http.get(h.url(&path)),
                "delete" => h.http.delete(h.url(&path)),
                _ => h.http.post(h.url(&path)),
            };
            match token {
                Some(token) => builder.bearer_auth(token),
                None => builder,
            }
        };
        for token in [None, Some("wrong-token")] {
            let response = request(token).send().await.unwrap();
            wrong_sent += usize::from(token.is_some() && !public);
            if public {
                assert_eq!(response.status(), StatusCode::OK, "{path} is public");
                continue;
            }
            let (status, body) = json(response).await;
            let message = body["error"].as_str().unwrap();
            // Wrong tokens are guesses: after a few the client is turned away for a while
            // (from then on, without a token too).
            if wrong_sent >= 10 && status == StatusCode::TOO_MANY_REQUESTS {
                assert!(message.contains("too many failed attempts"), "{message}");
                guesses_refused += 1;
                continue;
            }
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {token:?}"
            );
            assert!(message.contains("bearer token"), "{message}");
        }
    }
    assert!(guesses_refused > 0, "wrong tokens were never throttled");
    // Nothing was decided by the refused requests.
    assert!(h.market.executions().is_empty());
    let (status, body) = json(h.get("/healthz").send().await.unwrap()).await;
    assert_eq!((status, body["ok"].as_bool()), (StatusCode::OK, Some(true)));
    // The store, the gate and each agent were asked, and each answered.
    let parts: Vec<(&str, bool)> = body["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["part"].as_str().unwrap_or(""),
                c["ok"].as_bool() == Some(true),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("store", true),
            ("gate", true),
            ("researcher", true),
            ("deal_analyzer", true),
            ("negotiator", true),
            ("inventory", true),
            ("lister", true),
            ("autopilot", true)
        ],
        "{body}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_listed_and_approving_it_over_http_executes_it_once() {
    let h = Harness::start(Options::default()).await;
    h.market.set_price("BZ-1", "70.00");
    let (action, approval) = h.pending_reprice("BZ-1", "60.00").await;

    let (status, body) = json(h.get("/api/approvals").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let list = body["approvals"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{body}");
    let item = &list[0];
    assert_eq!(item["id"], approval.to_string());
    assert_eq!(item["status"], "pending");
    assert!(
        item["reason"].as_str().unwrap().contains("confidence 0.63"),
        "{item}"
    );
    assert!(item["deadline"].as_str().is_some(), "{item}");
    assert_eq!(item["action"]["id"], action.to_string());
    assert_eq!(item["action"]["kind"], "revise_price");
    assert_eq!(item["action"]["target"], "BZ-1");
    assert_eq!(item["action"]["value_text"], "$60.00");
    let confidence = item["action"]["confidence"].as_f64().unwrap();
    assert!((confidence - 0.63).abs() < 1e-9, "{confidence}");

    let (status, one) = json(
        h.get(&format!("/api/approvals/{approval}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["summary"], item["summary"]);

    let (status, outcome) = json(
        h.post(&format!("/api/approvals/{approval}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["outcome"], "executed");
    assert_eq!(outcome["action"], action.to_string());
    assert_eq!(
        h.market.executions(),
        vec![Execution {
            key: "reprice/BZ-1/60.00".to_string(),
            kind: ActionKind::RevisePrice,
            params: serde_json::json!({ "price": "60.00" })
        }]
    );
    assert_eq!(h.market.price("BZ-1").as_deref(), Some("60.00"));

    // A second approval is a conflict and runs nothing.
    let (status, body) = json(
        h.post(&format!("/api/approvals/{approval}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("already approved"),
        "{body}"
    );
    assert_eq!(h.market.executions().len(), 1);

    let (status, body) = json(h.get("/api/approvals").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["approvals"].as_array().unwrap().len(), 0);

    // Unknown and malformed ids.
    let unknown = bazaar_memory::ApprovalId::new_at(h.clock_now());
    let (status, body) = json(
        h.post(&format!("/api/approvals/{unknown}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = json(h.get("/api/approvals/not-an-id").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("not an approval id"));
    let (status, _) = json(h.get("/api/nothing-here").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    h.stop().await;
}

trait ClockNow {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc>;
}

impl ClockNow for Harness {
    fn clock_now(&self) -> chrono::DateTime<chrono::Utc> {
        use bazaar_memory::Clock;
        self.clock.now()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_resolved_by_the_operator() {
    let h = Harness::start(Options::default()).await;
    let (action, approval) = h.pending_reprice("BZ-7", "70.00").await;
    h.market.world().next = Some(bazaar_policies::testing::Next::Unknown);
    let (status, outcome) = json(
        h.post(&format!("/api/approvals/{approval}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["outcome"], "unknown");
    let task = outcome["approval"].as_str().unwrap().to_string();

    let path = format!("/api/approvals/{task}/resolve");
    let (status, body) = json(
        h.post(&path)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("say whether it happened"));
    let (status, body) = json(
        h.post(&format!("/api/approvals/{task}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // The operator answers from the command line.
    let token_file = h.dir.path().join("token");
    let config = h.dir.path().join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "[operator]\ntoken = {{ file = \"{}\" }}\npublic_url = \"{}\"\n",
            token_file.display(),
            h.base
        ),
    )
    .unwrap();
    let args = [
        "resolve".to_string(),
        task.clone(),
        "--happened".into(),
        "yes".into(),
        "--note".into(),
        "listing shows the new price".into(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bazaar(&config, &args)
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("it happened"),
        "{}",
        text(&out.stdout)
    );
    let record: ActionRecord = h.system.store.get(&action).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Executed);
    let (status, _) = json(
        h.post(&path)
            .json(&serde_json::json!({ "happened": true }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "resolving twice is refused");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejecting_needs_a_reason_and_runs_nothing() {
    let h = Harness::start(Options::default()).await;
    let (action, approval) = h.pending_reprice("BZ-2", "45.00").await;
    let path = format!("/api/approvals/{approval}/reject");

    let (status, body) = json(h.post(&path).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no body: {body}");
    let (status, body) = json(
        h.post(&path)
            .json(&serde_json::json!({ "reason": "  " }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("reason is required"));
    let (status, body) = json(
        h.post(&path)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    let (status, outcome) = json(
        h.post(&path)
            .json(&serde_json::json!({ "reason": "price floor is $50" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["outcome"], "rejected");
    assert!(h.market.executions().is_empty());
    let record: ActionRecord = h.system.store.get(&action).unwrap().unwrap();
    assert_eq!(record.lifecycle.status, ActionStatus::Rejected);
    let (_, approval_body) = json(
        h.get(&format!("/api/approvals/{approval}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(approval_body["status"], "rejected");
    assert_eq!(approval_body["decided_by"], "operator (api)");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_over_http_runs_the_compensation() {
    let h = Harness::start(Options::default()).await;
    h.market.set_price("BZ-3", "80.00");
    let (action, approval) = h.pending_reprice("BZ-3", "65.00").await;
    let (status, _) = json(
        h.post(&format!("/api/approvals/{approval}/approve"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.market.price("BZ-3").as_deref(), Some("65.00"));
    // The operator changes their mind a minute later (ids made in the same millisecond would
    // not sort by time).
    h.clock.advance_by(Duration::from_secs(60));

    let (status, view) = json(
        h.get(&format!("/api/actions/{action}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["status"], "executed");
    assert_eq!(view["can_undo"], "undo");
    assert_eq!(view["undo"]["kind"], "revise_price");

    let (status, outcome) = json(
        h.post(&format!("/api/actions/{action}/undo"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["outcome"], "undone");
    let executions = h.market.executions();
    assert_eq!(executions.len(), 2, "{executions:?}");
    assert_eq!(executions[1].key, format!("undo:{action}"));
    assert_eq!(
        executions[1].params,
        serde_json::json!({ "price": "80.00" })
    );
    assert_eq!(h.market.price("BZ-3").as_deref(), Some("80.00"));

    let (status, body) = json(
        h.post(&format!("/api/actions/{action}/undo"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(h.market.executions().len(), 2);

    let (status, body) = json(h.get("/api/actions?limit=5").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let actions = body["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[0]["undoes"], action.to_string(), "newest first");
    assert_eq!(actions[1]["status"], "undone");
    assert_eq!(actions[1]["can_undo"], Value::Null);
    let (status, _) = json(h.get("/api/actions?limit=0").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = json(h.get("/api/actions?limit=lots").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_blocks_new_proposals_until_resume() {
    let h = Harness::start(Options::default()).await;
    let (status, body) = json(h.post("/api/pause").send().await.unwrap()).await;
    assert_eq!(
        (status, body["paused"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (_, status_body) = json(h.get("/api/status").send().await.unwrap()).await;
    assert_eq!(status_body["gate"]["paused"], true);

    let outcome = h.propose(reprice("BZ-4", "30.00", "reprice/BZ-4/1")).await;
    let Outcome::Blocked { reason, .. } = outcome else {
        panic!("paused, yet {outcome:?}");
    };
    assert!(reason.contains("paused"), "{reason}");

    let (status, body) = json(h.post("/api/resume").send().await.unwrap()).await;
    assert_eq!(
        (status, body["paused"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    // The operator was just active, so the away factor is gone: 0.7 x 1.0 executes.
    let outcome = h.propose(reprice("BZ-4", "30.00", "reprice/BZ-4/2")).await;
    assert!(matches!(outcome, Outcome::Executed { .. }), "{outcome:?}");
    assert_eq!(
        h.market.executions().len(),
        1,
        "only the proposal after resume ran"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_audit_and_metrics() {
    let h = Harness::start(Options::default()).await;
    let (action, _) = h.pending_reprice("BZ-5", "55.00").await;

    let (status, body) = json(h.get("/api/status").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["gate"]["pending_approvals"], 1);
    assert_eq!(body["gate"]["audit_len"], 3);
    let actors: Vec<&str> = body["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors.len(), 6, "{actors:?}");

    let (status, audit) = json(h.get("/api/audit?verify=true").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let events: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["proposed", "scored", "approval_needed"]);
    assert_eq!(audit["verified"]["ok"], true);
    assert_eq!(audit["verified"]["entries"], 3);
    let (_, by_item) = json(h.get("/api/audit?item=BZ-5").send().await.unwrap()).await;
    assert_eq!(by_item["entries"].as_array().unwrap().len(), 3);
    let (_, by_action) = json(
        h.get(&format!("/api/audit?item={action}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(by_action["entries"].as_array().unwrap().len(), 3);
    let (_, other) = json(h.get("/api/audit?item=BZ-404").send().await.unwrap()).await;
    assert_eq!(other["entries"].as_array().unwrap().len(), 0);
    let (_, later) = json(
        h.get("/api/audit?since=2026-05-02T00:00:00Z")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(later["entries"].as_array().unwrap().len(), 0);
    let (_, earlier) = json(
        h.get("/api/audit?since=2026-05-01T00:00:00%2B00:00")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(earlier["entries"].as_array().unwrap().len(), 3);
    let (status, body) = json(h.get("/api/audit?since=yesterday").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].as_str().unwrap().contains("RFC 3339"));

    let response = h.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = response.text().await.unwrap();
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            assert!(
                line.starts_with("# HELP bazaar_") || line.starts_with("# TYPE bazaar_"),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        samples.insert(series.to_string(), value);
    }
    assert_eq!(samples["bazaar_gate_up"], 1.0);
    assert_eq!(samples["bazaar_paused"], 0.0);
    assert_eq!(samples["bazaar_pending_approvals"], 1.0);
    assert_eq!(samples["bazaar_audit_entries"], 3.0);
    assert_eq!(
        samples["bazaar_webhook_deliveries_total{result=\"delivered\"}"],
        0.0
    );
    h.stop().await;
}

/// Sends `request` and checks its answer against the served OpenAPI document.
async fn checked(
    document: &Value,
    method: &str,
    path: &str,
    request: reqwest::RequestBuilder,
) -> (StatusCode, Value) {
    let (status, body) = json(request.send().await.unwrap()).await;
    assert_conforms(document, method, path, status.as_u16(), &body);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_and_every_route_is_served() {
    let h = Harness::start(Options::default()).await;
    let (action, approval) = h.pending_reprice("BZ-6", "40.00").await;
    let (status, doc) = json(h.http.get(h.url("/api/openapi.json")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(
        doc,
        serde_json::to_value(document()).unwrap(),
        "served is generated"
    );
    let paths = doc["paths"].as_object().unwrap();
    let operations = operations();
    // The routes the issue tracker, the CLI and the docs name: if one goes, this says so.
    for wanted in [
        "/api/approvals/{id}/approve",
        "/api/audit",
        "/api/v1/items/{id}/listings/{channel}/sold",
        "/metrics",
    ] {
        assert!(
            paths.contains_key(wanted),
            "{wanted} is not in the document"
        );
    }
    for (method, path) in &operations {
        let operation = &paths[path.as_str()][*method];
        let success = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .any(|code| code.starts_with('2'));
        assert!(success, "{method} {path} documents no success answer");
        assert!(
            operation["summary"].is_string(),
            "{method} {path} says nothing of itself"
        );
        let public = matches!(path.as_str(), "/healthz" | "/readyz" | "/api/openapi.json");
        let needs_token = operation.get("security").is_none();
        assert_eq!(public, !needs_token, "{method} {path}: who may call it");
    }
    // Every listed route is really served: nothing answers axum's bodiless 404 (no such
    // endpoint) or 405; and what it answers (here mostly errors: the ids are of the wrong
    // kind for the item routes) is as documented.
    for (method, path) in &operations {
        let id = if path.contains("actions") {
            action.to_string()
        } else {
            approval.to_string()
        };
        let concrete = path.replace("{id}", &id).replace("{channel}", "ebay");
        let request = match *method {
            "get" => h.get(&concrete),
            "delete" => h.http.delete(h.url(&concrete)).bearer_auth(support::TOKEN),
            _ => h
                .post(&concrete)
                .json(&serde_json::json!({ "reason": "checking the route" })),
        };
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            status != StatusCode::NOT_FOUND || !text.is_empty(),
            "{method} {concrete}: axum's 404, no such route"
        );
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}"
        );
        if *path != "/metrics" {
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
                panic!("{method} {concrete} answered {status} not JSON: {text}")
            });
            assert_conforms(&doc, method, &concrete, status.as_u16(), &body);
        }
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_are_as_the_openapi_document_says() {
    let h = Harness::start(Options::default()).await;
    let (_, doc) = json(h.http.get(h.url("/api/openapi.json")).send().await.unwrap()).await;
    let (action, approval) = h.pending_reprice("BZ-8", "40.00").await;
    let (_, other) = h.pending_reprice("BZ-9", "45.00").await;
    for path in [
        "/healthz".to_string(),
        "/readyz".into(),
        "/api/status".into(),
        "/api/approvals".into(),
        format!("/api/approvals/{approval}"),
        "/api/actions?limit=5".into(),
        format!("/api/actions/{action}"),
        "/api/audit?verify=true".into(),
        "/api/audit?item=BZ-8&limit=2".into(),
    ] {
        let (status, _) = checked(&doc, "get", &path, h.get(&path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let approve = format!("/api/approvals/{approval}/approve");
    let (status, outcome) = checked(&doc, "post", &approve, h.post(&approve)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outcome["outcome"], "executed", "{outcome}");
    // Approving twice is a documented error.
    let (status, _) = checked(&doc, "post", &approve, h.post(&approve)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let reject = format!("/api/approvals/{other}/reject");
    let body = serde_json::json!({ "reason": "too low" });
    let (status, outcome) = checked(&doc, "post", &reject, h.post(&reject).json(&body)).await;
    assert_eq!(
        (status, outcome["outcome"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    let undo = format!("/api/actions/{action}/undo");
    let (status, outcome) = checked(&doc, "post", &undo, h.post(&undo)).await;
    assert_eq!(
        (status, outcome["outcome"].as_str()),
        (StatusCode::OK, Some("undone")),
        "{outcome}"
    );
    for path in ["/api/pause", "/api/resume"] {
        let (status, _) = checked(&doc, "post", path, h.post(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    for (path, want) in [
        ("/api/actions?limit=0", StatusCode::BAD_REQUEST),
        ("/api/approvals/not-an-id", StatusCode::BAD_REQUEST),
        ("/api/audit?since=yesterday", StatusCode::BAD_REQUEST),
        ("/api/v1/items?status=lost", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = checked(&doc, "get", path, h.get(path)).await;
        assert_eq!(status, want, "{path}");
    }
    let (status, _) = checked(&doc, "get", "/api/status", h.get_as("/api/status", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_with_413() {
    let h = Harness::start(Options::default()).await;
    let (_, approval) = h.pending_reprice("BZ-7", "40.00").await;
    let reason = "x".repeat(100 * 1024);
    let (status, body) = json(
        h.post(&format!("/api/approvals/{approval}/reject"))
            .json(&serde_json::json!({ "reason": reason }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"].as_str().unwrap().contains("64 KiB"), "{body}");
    // A chunked body (no Content-Length) is cut off by the extractor's limit too.
    let status_line = {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = h.base.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /api/approvals/{approval}/reject HTTP/1.1\r\nhost: localhost\r\n\
             authorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\n\
             transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut body = b"{\"reason\": \"".to_vec();
        body.extend(vec![b'y'; 80 * 1024]);
        body.extend(b"\"}");
        for chunk in body.chunks(8 * 1024) {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
            if stream.write_all(&framed).await.is_err() {
                break; // the server may answer and close before reading everything
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert!(status_line.contains("413"), "{status_line}");
    let (_, view) = json(
        h.get(&format!("/api/approvals/{approval}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(view["status"], "pending", "nothing was decided");
    h.stop().await;
}

fn bazaar(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("bazaar runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_talks_to_the_daemon() {
    let h = Harness::start(Options::default()).await;
    h.market.set_price("BZ-8", "90.00");
    let (action, approval) = h.pending_reprice("BZ-8", "75.00").await;
    let (_, second) = h.pending_reprice("BZ-9", "20.00").await;
    let token_file = h.dir.path().join("token");
    let config = h.dir.path().join("cli.toml");
    std::fs::write(
        &config,
        format!(
            "[operator]\ntoken = {{ file = \"{}\" }}\npublic_url = \"{}\"\n",
            token_file.display(),
            h.base
        ),
    )
    .unwrap();
    let run = |args: Vec<String>| {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bazaar(&config, &args)
        })
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    let inbox = run(args(&["inbox"])).await.unwrap();
    assert!(inbox.status.success(), "{}", text(&inbox.stderr));
    let out = text(&inbox.stdout);
    assert!(
        out.contains(&approval.to_string())
            && out.contains("confidence 63%")
            && out.contains("$75.00")
            && out.contains("2 waiting"),
        "{out}"
    );

    let approve = run(args(&["approve", &approval.to_string()]))
        .await
        .unwrap();
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    assert!(text(&approve.stdout).contains(&format!("executed action {action}")));
    assert_eq!(h.market.price("BZ-8").as_deref(), Some("75.00"));

    let again = run(args(&["approve", &approval.to_string()]))
        .await
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already approved"),
        "{}",
        text(&again.stderr)
    );

    let undo = run(args(&["undo", &action.to_string()])).await.unwrap();
    assert!(undo.status.success(), "{}", text(&undo.stderr));
    assert!(text(&undo.stdout).contains("undid action"));
    assert_eq!(h.market.price("BZ-8").as_deref(), Some("90.00"));

    let reject = run(args(&[
        "reject",
        &second.to_string(),
        "--reason",
        "too cheap",
    ]))
    .await
    .unwrap();
    assert!(reject.status.success(), "{}", text(&reject.stderr));

    let pause = run(args(&["pause"])).await.unwrap();
    assert!(pause.status.success(), "{}", text(&pause.stderr));
    let (_, status) = json(h.get("/api/status").send().await.unwrap()).await;
    assert_eq!(status["gate"]["paused"], true);
    let resume = run(args(&["resume"])).await.unwrap();
    assert!(resume.status.success(), "{}", text(&resume.stderr));
    let (_, status) = json(h.get("/api/status").send().await.unwrap()).await;
    assert_eq!(status["gate"]["paused"], false);

    // Nobody listening: a clear error.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let unreachable = run(args(&["inbox", "--api", &dead])).await.unwrap();
    assert_eq!(unreachable.status.code(), Some(1));
    let stderr = text(&unreachable.stderr);
    assert!(stderr.contains("is `bazaar run` running?"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "the token leaked: {stderr}");
    h.stop().await;
}

#[test]
fn without_a_token_the_cli_says_how_to_configure_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let out = bazaar(&config, &["inbox"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("operator.token is not configured"),
        "{}",
        text(&out.stderr)
    );
}

/// `bazaar run` as a child process, its log read line by line.
struct Daemon {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    log: String,
}

impl Daemon {
    /// Starts `bazaar --config <config> --data-dir <data> run` and waits until it runs.
    fn start(config: &std::path::Path, data: &std::path::Path) -> Daemon {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data)
            .arg("run")
            .env_remove("RUST_LOG")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        let mut daemon = Daemon {
            child,
            lines,
            log: String::new(),
        };
        daemon.wait_for("bazaar is running");
        daemon
    }

    /// Reads the log until a line contains `text` (30 s at most).
    fn wait_for(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let line = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
                .unwrap_or_else(|_| panic!("no {text:?} in the log in time:\n{}", self.log));
            self.log.push_str(&line);
            self.log.push('\n');
            if line.contains(text) {
                return;
            }
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// SIGTERM, then the exit code and the whole log.
    fn stop(mut self) -> (Option<i32>, String) {
        self.signal(libc::SIGTERM);
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "bazaar did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            self.log.push_str(&line);
            self.log.push('\n');
        }
        (status.code(), self.log)
    }
}

/// A free loopback port.
fn free_port() -> u16 {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    free.local_addr().unwrap().port()
}

/// An `[operator]` config on `port` with these token lines.
fn operator_config(port: u16, tokens: &str) -> String {
    format!(
        "[operator]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n{tokens}"
    )
}

/// `token = { file = "<path>" }` for a secret file the harness wrote.
fn file_secret(key: &str, secret: bazaar_config::Secret) -> String {
    let bazaar_config::Secret::File(path) = secret else {
        unreachable!()
    };
    format!("{key} = {{ file = \"{}\" }}\n", path.display())
}

#[test]
fn bazaar_run_serves_the_api_when_a_token_is_set_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("bazaar.toml");
    let token = support::secret_file(dir.path(), "token", TOKEN);
    std::fs::write(&config, operator_config(port, &file_secret("token", token))).unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("data"));
    let log = &daemon.log;
    assert!(log.contains("operator API and inbox are up"), "{log}");
    assert!(log.contains(&format!("127.0.0.1:{port}")), "{log}");
    assert!(!log.contains(TOKEN), "the token leaked into the log");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        bazaar_mail::install_crypto_provider();
        let client = reqwest::Client::new();
        let health = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let status = client
            .get(format!("http://127.0.0.1:{port}/api/status"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(status.status(), StatusCode::OK);
        // An open event stream must not hold up shutdown.
        let events = client
            .get(format!("http://127.0.0.1:{port}/events"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(events.status(), StatusCode::OK);
        std::mem::forget(events);
    });

    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("operator API stopped"), "{log}");
    drop(runtime);
}

/// The operator token rotates without a restart: with the new one as `token` and the old
/// as `previous_token`, a SIGHUP puts both in force (a session made under the old one stays
/// logged in); without `previous_token`, another SIGHUP retires the old one; a reload that
/// cannot read its secrets keeps the tokens in force.
#[test]
fn the_operator_token_rotates_on_sighup_without_a_restart() {
    const NEW: &str = "a-new-operator-token-for-the-rotation";
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("bazaar.toml");
    let old_file = || support::secret_file(dir.path(), "old", TOKEN);
    let new_file = || support::secret_file(dir.path(), "new", NEW);
    std::fs::write(
        &config,
        operator_config(port, &file_secret("token", old_file())),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, &dir.path().join("data"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    bazaar_mail::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let status = |token: &str| {
        let request = client
            .get(format!("http://127.0.0.1:{port}/api/status"))
            .bearer_auth(token);
        runtime.block_on(async { request.send().await.unwrap().status() })
    };
    // a browser session made under the old token
    let session = runtime.block_on(async {
        let response = client
            .post(format!("http://127.0.0.1:{port}/login"))
            .form(&[("token", TOKEN)])
            .send()
            .await
            .unwrap();
        let cookie = response.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_string()
    });
    let inbox = |cookie: &str| {
        let request = client
            .get(format!("http://127.0.0.1:{port}/"))
            .header("cookie", cookie);
        runtime.block_on(async { request.send().await.unwrap().status() })
    };
    assert_eq!(
        (status(TOKEN), status(NEW), inbox(&session)),
        (StatusCode::OK, StatusCode::UNAUTHORIZED, StatusCode::OK)
    );

    // both in force
    let both = file_secret("token", new_file()) + &file_secret("previous_token", old_file());
    std::fs::write(&config, operator_config(port, &both)).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("operator secrets reloaded");
    assert_eq!(
        (status(TOKEN), status(NEW), inbox(&session)),
        (StatusCode::OK, StatusCode::OK, StatusCode::OK)
    );

    // the old one retired: its requests and its sessions are refused
    std::fs::write(
        &config,
        operator_config(port, &file_secret("token", new_file())),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("operator secrets reloaded");
    assert_eq!(
        (status(TOKEN), status(NEW), inbox(&session)),
        (
            StatusCode::UNAUTHORIZED,
            StatusCode::OK,
            StatusCode::SEE_OTHER
        )
    );

    // a reload that cannot read its token changes nothing and says why
    std::fs::remove_file(dir.path().join("new")).unwrap();
    daemon.signal(libc::SIGHUP);
    daemon.wait_for("operator secrets not reloaded");
    assert_eq!(status(NEW), StatusCode::OK);

    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        !log.contains(TOKEN) && !log.contains(NEW),
        "a token leaked into the log:\n{log}"
    );
    drop(runtime);
}

#[test]
fn bazaar_run_without_a_token_says_the_api_is_off_and_how_to_turn_it_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bazaar.toml");
    std::fs::write(&config, "").unwrap();
    let daemon = Daemon::start(&config, &dir.path().join("data"));
    let (code, log) = daemon.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("operator.token is not set") && log.contains("BAZAAR_OPERATOR_TOKEN"),
        "{log}"
    );
}

/// Issue 23 (6): slow and idle connections stayed open 70–90 s and nothing capped them;
/// at ~20,000 the process ran out of file descriptors. Now a slow header is cut off, an
/// idle connection closed, and past the cap a new connection is turned away at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_idle_and_excess_connections_are_cut_off() {
    use bazaar_runtime::operator::serve::ServerLimits;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = ServerLimits {
        header_read_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(800),
        max_connections: 16,
        max_per_client: 4,
    };
    let h = Harness::start(Options {
        limits: Some(limits),
        ..Options::default()
    })
    .await;
    let addr = h.base.trim_start_matches("http://").to_string();
    let connect = || tokio::net::TcpStream::connect(addr.clone());
    /// Reads until the server closes (or 5 s pass): what it sent, and whether it closed.
    async fn drain(stream: &mut tokio::net::TcpStream) -> (String, bool) {
        let mut got = Vec::new();
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = [0u8; 1024];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => got.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await
        .is_ok();
        (String::from_utf8_lossy(&got).into_owned(), closed)
    }

    // A header dripped slower than the timeout: the connection is closed.
    let mut slow = connect().await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (_, closed) = drain(&mut slow).await;
    assert!(closed, "a slow header kept its connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // An idle keep-alive connection after a request: closed too.
    let mut idle = connect().await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = drain(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle connection stayed open");

    // Four open connections from one client; the fifth is turned away with a 503.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fifth = connect().await.unwrap();
    let (answer, closed) = drain(&mut fifth).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(closed);
    // Once the held ones are closed, the client is served again (the server sees them
    // close on its own time: under load a request may still meet the cap).
    drop(held);
    let health = healthz_status_once_served(&h).await;
    assert_eq!(health, StatusCode::OK);
    h.stop().await;
}

/// `/healthz`'s status once it is not 503 (connections over the cap), or the last one after
/// 5 s.
async fn healthz_status_once_served(h: &Harness) -> StatusCode {
    let mut last = None;
    for _ in 0..100 {
        if let Ok(response) = h.http.get(h.url("/healthz")).send().await {
            if response.status() != StatusCode::SERVICE_UNAVAILABLE {
                return response.status();
            }
            last = Some(response.status());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last.expect("/healthz never answered")
}

/// What a hostile request got: its status, or 0 when the server closed without answering.
async fn raw_status(h: &Harness, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = h.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buffer).await {
            if n == 0 || got.len() > 64 * 1024 {
                return;
            }
            got.extend_from_slice(&buffer[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    })
    .await;
    let head = String::from_utf8_lossy(&got);
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The hostile-input corpus over HTTP: each request is refused cleanly (a 4xx, or the
/// connection closed for what is not HTTP at all) and changes nothing: no action runs, the
/// approval waiting stays pending, no record is added, the kill switch stays off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing() {
    let h = Harness::start(Options::default()).await;
    let (_, approval) = h.pending_reprice("BZ-9", "60.00").await;
    let records = || {
        (
            h.system.store.all::<ActionRecord>().unwrap().len(),
            h.system
                .store
                .all::<bazaar_memory::InventoryItem>()
                .unwrap()
                .len(),
        )
    };
    let before = records();
    let json_post = |path: &str, body: &str| {
        h.post(path)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let long_reason = format!("{{\"reason\": \"{}\"}}", "x".repeat(100 * 1024));
    let item = |body: &str| json_post("/api/v1/items", body);
    let requests: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "overflowing id",
            h.post("/api/approvals/ZZZZZZZZZZZZZZZZZZZZZZZZZZ/approve"),
        ),
        (
            "lower-case id",
            h.post(&format!(
                "/api/approvals/{}/approve",
                approval.to_string().to_lowercase()
            )),
        ),
        (
            "id with a dot-dot",
            h.post("/api/approvals/..%2F..%2Fetc/approve"),
        ),
        (
            "id too long",
            h.post(&format!("/api/approvals/{approval}0/approve")),
        ),
        (
            "reject without json",
            json_post(
                &format!("/api/approvals/{approval}/reject"),
                "reason=because",
            ),
        ),
        (
            "reject with an empty reason",
            json_post(
                &format!("/api/approvals/{approval}/reject"),
                r#"{"reason": ""}"#,
            ),
        ),
        (
            "reject with a reason of the wrong type",
            json_post(
                &format!("/api/approvals/{approval}/reject"),
                r#"{"reason": 5}"#,
            ),
        ),
        (
            "reject past the body limit",
            json_post(&format!("/api/approvals/{approval}/reject"), &long_reason),
        ),
        (
            "10,000 nested arrays",
            json_post(&format!("/api/approvals/{approval}/reject"), &nested),
        ),
        (
            "undo of an unknown action",
            h.post("/api/actions/01JD0000000000000000000009/undo"),
        ),
        (
            "resolve with a bad answer",
            json_post(
                &format!("/api/approvals/{approval}/resolve"),
                r#"{"happened": "maybe"}"#,
            ),
        ),
        (
            "item with a negative cost",
            item(r#"{"title": "Desk", "condition": "good", "cost": "-5"}"#),
        ),
        (
            "item with a cost in exponent form",
            item(r#"{"title": "Desk", "condition": "good", "cost": "1e9"}"#),
        ),
        (
            "item with an unknown condition",
            item(r#"{"title": "Desk", "condition": "exquisite", "cost": "5"}"#),
        ),
        (
            "item without a title",
            item(r#"{"condition": "good", "cost": "5"}"#),
        ),
        (
            "item with an unknown field",
            item(r#"{"title": "Desk", "condition": "good", "cost": "5", "admin": true}"#),
        ),
        (
            "listing of an unknown item",
            json_post(
                "/api/v1/items/01JD0000000000000000000009/listings",
                r#"{"channels": ["ebay"]}"#,
            ),
        ),
        (
            "audit since a non-time",
            h.get("/api/audit?since=yesterday"),
        ),
        ("actions limit zero", h.get("/api/actions?limit=0")),
        (
            "actions limit past u64",
            h.get("/api/actions?limit=99999999999999999999999"),
        ),
        (
            "invalid utf-8 body",
            h.post(&format!("/api/approvals/{approval}/reject"))
                .header("content-type", "application/json")
                .body(vec![b'{', 0xff, 0xfe, b'}']),
        ),
        (
            "json sent as text/plain",
            h.post(&format!("/api/approvals/{approval}/reject"))
                .header("content-type", "text/plain")
                .body(r#"{"reason": "x"}"#),
        ),
        (
            "a forged session cookie",
            h.http
                .post(h.url("/inbox/pause"))
                .header("cookie", "bazaar_session=1.abc.00")
                .form(&[("csrf", "00")]),
        ),
        (
            "a garbage one-click link",
            h.http.post(h.url("/a/not.a.link")),
        ),
        (
            "a 10 KB one-click link",
            h.http.get(h.url(&format!("/a/{}", "a".repeat(10_000)))),
        ),
        (
            "login past the body limit",
            h.http
                .post(h.url("/login"))
                .form(&[("token", "x".repeat(100 * 1024))]),
        ),
    ];
    let mut refused = 0;
    for (name, request) in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        let is_redirect_to_login =
            status == StatusCode::SEE_OTHER && response.headers()["location"] == "/login";
        assert!(
            status.is_client_error() || is_redirect_to_login,
            "{name}: {status}"
        );
        refused += 1;
    }
    let long_header = format!(
        "GET /api/status HTTP/1.1\r\nhost: x\r\nx-long: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let raw: Vec<(&str, Vec<u8>)> = vec![
        ("not http", b"BLAH\r\n\r\n".to_vec()),
        ("a header without a colon", b"GET /healthz HTTP/1.1\r\nhost x\r\n\r\n".to_vec()),
        ("a negative content-length", format!("POST /api/pause HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: -1\r\n\r\n").into_bytes()),
        ("two content-lengths", format!("POST /api/pause HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab").into_bytes()),
        ("a 200 KB header", long_header.into_bytes()),
        ("a bad chunk size", format!("POST /api/approvals/{approval}/reject HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n").into_bytes()),
        ("an http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec()),
        ("a non-ascii authorization", b"POST /api/pause HTTP/1.1\r\nhost: x\r\nauthorization: Bearer \xff\xfe\r\ncontent-length: 0\r\n\r\n".to_vec()),
        ("a NUL in the path", format!("POST /api/pause%00 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 0\r\n\r\n").into_bytes()),
        ("header injection in the path", b"GET /healthz\r\nx-injected: 1 HTTP/1.1\r\nhost: x\r\n\r\n".to_vec()),
    ];
    for (name, request) in raw {
        let status = raw_status(&h, &request).await;
        assert!(
            status == 0 || (400..500).contains(&status),
            "{name}: {status}"
        );
        refused += 1;
    }
    assert_eq!(refused, 36);
    assert!(
        h.market.executions().is_empty(),
        "a hostile request ran an action"
    );
    assert_eq!(records(), before, "a hostile request added a record");
    let pending: bazaar_memory::Approval = h.system.store.get(&approval).unwrap().unwrap();
    assert_eq!(pending.lifecycle.status.to_string(), "pending");
    assert!(!h.paused().await);
    h.stop().await;
}

/// The checker the document tests rely on finds each kind of mismatch.
#[test]
fn the_openapi_checker_finds_what_is_wrong() {
    let document = serde_json::json!({
        "paths": {"/x": {"get": {"responses": {
            "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}},
            "default": {"content": {"application/json": {"schema": {
                "type": "object", "required": ["error"],
                "properties": {"error": {"type": "string"}}}}}}
        }}}},
        "components": {"schemas": {
            "X": {"type": "object", "required": ["n", "kind"], "properties": {
                "n": {"type": "integer"},
                "note": {"type": ["string", "null"]},
                "kind": {"oneOf": [
                    {"type": "string", "enum": ["a"]},
                    {"type": "object", "required": ["b"], "properties": {"b": {"type": "boolean"}}}
                ]},
                "tags": {"type": "array", "items": {"type": "string"}}
            }}
        }}
    });
    let check = |status: u16, body: Value, want: &[&str]| {
        let got = problems(&document, "get", "/x", status, &body);
        assert_eq!(got.len(), want.len(), "{body}: {got:?}");
        for (got, want) in got.iter().zip(want) {
            assert!(got.contains(want), "{got:?} should say {want:?}");
        }
    };
    check(
        200,
        serde_json::json!({"n": 1, "kind": "a", "note": null}),
        &[],
    );
    check(
        200,
        serde_json::json!({"n": 1, "kind": {"b": true}, "tags": ["t"]}),
        &[],
    );
    check(
        200,
        serde_json::json!({"n": "1", "kind": "a"}),
        &["$.n: \"1\" is not integer"],
    );
    check(
        200,
        serde_json::json!({"kind": "c"}),
        &["\"n\" is missing", "$.kind: \"c\" matches 0 of oneOf"],
    );
    check(
        200,
        serde_json::json!({"n": 1, "kind": "a", "extra": 2}),
        &["\"extra\" is sent but not documented"],
    );
    check(
        200,
        serde_json::json!({"n": 1, "kind": "a", "tags": [3]}),
        &["$.tags[0]: 3 is not string"],
    );
    check(404, serde_json::json!({"error": "no such x"}), &[]);
    check(
        404,
        serde_json::json!({"message": "no such x"}),
        &["\"error\" is missing", "\"message\" is sent"],
    );
    assert_eq!(
        problems(&document, "post", "/x", 200, &Value::Null),
        vec!["post /x is not in the document".to_string()]
    );
}

#[tokio::test]
async fn a_sellers_address_is_refused_plainly_when_nothing_waits_for_it() {
    let h = Harness::start(Options::default()).await;
    let (_, doc) = json(h.http.get(h.url("/api/openapi.json")).send().await.unwrap()).await;
    let listing = bazaar_memory::ListingId::new_at(chrono::Utc::now());
    let path = format!("/api/v1/listings/{listing}/contact");
    let give = |address: &str| {
        h.post(&path)
            .json(&serde_json::json!({ "address": address }))
    };
    // A listing never valued: nothing waits for its seller.
    let (status, body) = checked(&doc, "post", &path, give("5c1e22@sale.craigslist.org")).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        body["error"].as_str().unwrap().contains("never valued"),
        "{body}"
    );
    // Not an address, and not a listing id: told so before anything else.
    let (status, body) = checked(&doc, "post", &path, give("not an address")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let bad = "/api/v1/listings/42/contact";
    let (status, body) = checked(
        &doc,
        "post",
        bad,
        h.post(bad)
            .json(&serde_json::json!({ "address": "a@b.org" })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().unwrap().contains("not a listing id"),
        "{body}"
    );
    h.stop().await;
}
