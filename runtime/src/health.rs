//! Whether a running system is healthy (its store, gate and agents answer) and ready (the
//! marketplaces it searches work): `/healthz` and `/readyz` on the operator server, and
//! `bazaar health` over the control socket, which needs no token.

use std::time::Duration;

use bazaar_agents::researcher::{ResearcherMsg, SourceHealth};
use bazaar_agents::Addresses;
use bazaar_memory::{SledStore, Store};
use bazaar_policies::GateMsg;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long each part of a check may take to answer.
const WAIT: Duration = Duration::from_secs(2);

/// `GET /healthz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// True when the store, the gate and every agent answered in time.
    pub ok: bool,
    /// Each part checked, in order: `store`, `gate`, then each agent by name.
    pub checks: Vec<HealthCheck>,
}

/// One part of [`Health`].
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthCheck {
    pub part: String,
    pub ok: bool,
    /// What is wrong, when something is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `GET /readyz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// True when the system is healthy and every marketplace it searches works.
    pub ready: bool,
    pub health: Health,
    /// Each marketplace searched (none when no source is enabled).
    pub sources: Vec<SourceHealth>,
}

/// The store reaches its disk (a flush), the gate and each agent answer, each within 2 s.
pub async fn health(store: &SledStore, addrs: &Addresses) -> Health {
    let late = || "did not answer in 2 s".to_string();
    let mut checks = Vec::new();
    let mut check = |part: &str, problem: Option<String>| {
        checks.push(HealthCheck {
            part: part.to_string(),
            ok: problem.is_none(),
            problem,
        })
    };
    let flushed = match tokio::time::timeout(WAIT, store.flush()).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(late()),
    };
    check("store", flushed);
    let gate = match tokio::time::timeout(WAIT, addrs.gate.ask(GateMsg::Status)).await {
        Ok(Ok(_)) => None,
        Ok(Err(error)) => Some(error.to_string()),
        Err(_) => Some(late()),
    };
    check("gate", gate);
    match tokio::time::timeout(WAIT, crate::system::ask_actors(addrs)).await {
        Ok(answers) => {
            for answer in answers {
                match answer {
                    Ok(report) => check(report.actor, None),
                    Err((actor, error)) => check(actor, Some(error)),
                }
            }
        }
        Err(_) => check("agents", Some(late())),
    }
    let ok = checks.iter().all(|c| c.ok);
    Health { ok, checks }
}

/// [`health`], and whether each marketplace searched works (no open outage or layout
/// drift).
pub async fn readiness(store: &SledStore, addrs: &Addresses) -> Readiness {
    let health = health(store, addrs).await;
    let sources =
        match tokio::time::timeout(WAIT, addrs.researcher.ask(ResearcherMsg::Sources)).await {
            Ok(Ok(sources)) => sources,
            Ok(Err(error)) => vec![SourceHealth {
                marketplace: "researcher".into(),
                ok: false,
                problem: Some(error.to_string()),
            }],
            Err(_) => vec![SourceHealth {
                marketplace: "researcher".into(),
                ok: false,
                problem: Some("did not answer in 2 s".into()),
            }],
        };
    let ready = health.ok && sources.iter().all(|s| s.ok);
    Readiness {
        ready,
        health,
        sources,
    }
}
