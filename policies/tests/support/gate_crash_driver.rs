//! Test support for `tests/crash.rs`: runs a policy gate over the store in `argv[1]` and
//! proposes `argv[3]` actions (keys `a0`, `a1`, …; repeats are harmless). The outside world
//! is the append-only file `argv[2]`: one line per executed idempotency key, fsynced. With
//! `BAZAAR_CRASH_AFTER_EFFECT=N`, the process aborts right after the N-th effect reaches the
//! world and before the gate records it — the window the gate must reconcile.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bazaar_memory::{ActionKind, ActionRecord, Addr, Quiescence, SledStore, SystemClock};
use bazaar_policies::effector::BoxFuture;
use bazaar_policies::{
    Action, Effect, EffectError, Effector, GateMsg, Lookup, PolicyGate, PolicyGateArgs,
};
use ractor::Actor;

struct FileWorld {
    path: PathBuf,
    crash_after: Option<u64>,
    effects: AtomicU64,
}

impl FileWorld {
    fn done(&self, key: &str) -> bool {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .any(|line| line == key)
    }
}

impl Effector for FileWorld {
    fn execute<'a>(
        &'a self,
        action: &'a ActionRecord,
    ) -> BoxFuture<'a, Result<Effect, EffectError>> {
        Box::pin(async move {
            // Idempotent by key, like a marketplace that knows its SKUs.
            if !self.done(&action.idempotency_key) {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)
                    .unwrap();
                // One write() per line: O_APPEND makes it atomic, so a kill never leaves half
                // a key behind (writeln! may split the text and the newline).
                file.write_all(format!("{}\n", action.idempotency_key).as_bytes())
                    .unwrap();
                file.sync_all().unwrap();
            }
            let n = self.effects.fetch_add(1, Ordering::SeqCst) + 1;
            if self.crash_after == Some(n) {
                std::process::abort();
            }
            Ok(Effect {
                result: serde_json::json!({ "ok": true }),
                undo_params: Some(serde_json::json!({})),
                ..Effect::default()
            })
        })
    }

    fn lookup<'a>(&'a self, action: &'a ActionRecord) -> BoxFuture<'a, Lookup> {
        Box::pin(async move {
            if self.done(&action.idempotency_key) {
                Lookup::Done(Effect::default())
            } else {
                Lookup::NotDone
            }
        })
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let store = SledStore::open(std::path::Path::new(&args[1])).expect("open store");
    let world = FileWorld {
        path: PathBuf::from(&args[2]),
        crash_after: std::env::var("BAZAAR_CRASH_AFTER_EFFECT")
            .ok()
            .and_then(|n| n.parse().ok()),
        effects: AtomicU64::new(0),
    };
    let total: u64 = args[3].parse().expect("action count");
    let mut policy = bazaar_config::Config::load(None, std::iter::empty())
        .unwrap()
        .policy;
    policy.confidence.first_execution_factor = 1.0;
    policy.confidence.operator_away_factor = 1.0;
    let quiet = Quiescence::new();
    let addr: Addr<GateMsg> = Addr::new("policy_gate", quiet.clone(), 64);
    let (events, _) = tokio::sync::broadcast::channel(16);
    let gate_args = PolicyGateArgs {
        store,
        clock: Arc::new(SystemClock),
        config: Arc::new(policy),
        effector: Arc::new(world),
        events,
        addr: addr.clone(),
    };
    let (actor, _) = Actor::spawn(None, PolicyGate, gate_args)
        .await
        .expect("gate starts");
    addr.bind(actor);
    let mut out = std::io::stdout().lock();
    for n in 0..total {
        let action = Action {
            kind: ActionKind::WithdrawListing,
            target: format!("SKU-{n}"),
            params: serde_json::json!({}),
            proposer: "crash-driver".into(),
            rule: "delist.sold_elsewhere".into(),
            value: None,
            marketplace: None,
            pattern_match: 1.0,
            idempotency_key: format!("a{n}"),
            about: None,
        };
        let outcome = addr
            .ask(|reply| GateMsg::Propose(action, reply))
            .await
            .expect("gate answers");
        writeln!(
            out,
            "answered a{n} {}",
            serde_json::to_string(&outcome).unwrap()
        )
        .unwrap();
        out.flush().unwrap();
    }
    quiet.wait_quiet().await;
    writeln!(out, "done").unwrap();
}
