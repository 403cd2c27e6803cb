//! The crate graph as `cargo metadata` resolves it, held to the layering ARCHITECTURE.md
//! draws: no crate depends on one above it, the simulated world links no agent code, and
//! the pure decision logic links no store, index or actor runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Each workspace crate and the workspace crates it may depend on (normal dependencies).
const LAYERS: &[(&str, &[&str])] = &[
    ("bazaar-model", &[]),
    ("bazaar-config", &["bazaar-model"]),
    ("bazaar-memory", &["bazaar-model"]),
    ("bazaar-strategies", &["bazaar-model"]),
    ("bazaar-mail", &["bazaar-config", "bazaar-model"]),
    (
        "bazaar-policies",
        &["bazaar-model", "bazaar-config", "bazaar-memory"],
    ),
    (
        "bazaar-agents",
        &[
            "bazaar-model",
            "bazaar-config",
            "bazaar-memory",
            "bazaar-mail",
            "bazaar-strategies",
            "bazaar-policies",
        ],
    ),
    (
        "bazaar-sim",
        &[
            "bazaar-model",
            "bazaar-config",
            "bazaar-memory",
            "bazaar-mail",
        ],
    ),
    (
        "bazaar-runtime",
        &[
            "bazaar-model",
            "bazaar-config",
            "bazaar-memory",
            "bazaar-mail",
            "bazaar-strategies",
            "bazaar-policies",
            "bazaar-agents",
            "bazaar-sim",
        ],
    ),
];

/// Crates the pure decision logic must not link, even through another crate.
const NOT_IN_STRATEGIES: &[&str] = &["sled", "tantivy", "ractor", "tokio"];

struct Graph {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Package id → the ids of its normal dependencies.
    normal: BTreeMap<String, Vec<String>>,
}

fn graph() -> Graph {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let normal = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().unwrap().to_string())
                .collect();
            (node["id"].as_str().unwrap().to_string(), deps)
        })
        .collect();
    Graph { names, normal }
}

impl Graph {
    fn id(&self, name: &str) -> &str {
        self.names
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.as_str())
            .unwrap_or_else(|| panic!("{name} is not in the workspace"))
    }

    /// The names of what `name` links, directly or not (normal dependencies only).
    fn links(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.id(name).to_string()];
        while let Some(id) = stack.pop() {
            for dep in self.normal.get(&id).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen.iter().map(|id| self.names[id].clone()).collect()
    }
}

#[test]
fn no_crate_depends_on_one_above_it() {
    let graph = graph();
    for (name, allowed) in LAYERS {
        let direct: Vec<&String> = graph.normal[graph.id(name)]
            .iter()
            .map(|id| &graph.names[id])
            .filter(|dep| dep.starts_with("bazaar-"))
            .collect();
        for dep in direct {
            assert!(
                allowed.contains(&dep.as_str()),
                "{name} depends on {dep}, which is not below it (ARCHITECTURE.md, the crate graph)"
            );
        }
    }
    let workspace: BTreeSet<&String> = graph
        .names
        .values()
        .filter(|n| n.starts_with("bazaar-"))
        .collect();
    for name in workspace {
        assert!(
            LAYERS.iter().any(|(layer, _)| layer == name),
            "{name} has no place in LAYERS; give it one"
        );
    }
}

#[test]
fn the_pure_logic_links_no_store_index_or_actor_runtime() {
    let links = graph().links("bazaar-strategies");
    for heavy in NOT_IN_STRATEGIES {
        assert!(!links.contains(*heavy), "bazaar-strategies links {heavy}");
    }
}

#[test]
fn the_simulated_world_links_no_agent_code() {
    let links = graph().links("bazaar-sim");
    for agent in ["bazaar-agents", "bazaar-policies", "bazaar-strategies"] {
        assert!(!links.contains(agent), "bazaar-sim links {agent}");
    }
}
