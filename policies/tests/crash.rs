//! The gate survives being killed at any moment, including between "intent written" and
//! "result recorded": after restarts no action ran twice and none is lost.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bazaar_memory::ApprovalStatus;
use bazaar_memory::{ActionRecord, ActionStatus, Approval, AuditEntry, SledStore, Store};
use rand::Rng;

const ACTIONS: u64 = 120;
const RANDOM_KILLS: usize = 25;

fn driver(store: &Path, world: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gate-crash-driver"));
    command
        .arg(store)
        .arg(world)
        .arg(ACTIONS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

/// Runs the driver until it aborts at its `effect`-th effect; returns how many answers it gave.
fn crash_at_effect(store: &Path, world: &Path, effect: u64) -> usize {
    let output = driver(store, world)
        .env("BAZAAR_CRASH_AFTER_EFFECT", effect.to_string())
        .output()
        .expect("run the driver");
    let answers = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| l.starts_with("answered"))
        .count();
    let finished = String::from_utf8_lossy(&output.stdout).contains("done");
    assert!(
        finished || !output.status.success(),
        "the driver was told to crash: {:?}",
        output.status
    );
    answers
}

/// Runs the driver and SIGKILLs it `delay` after its first answer.
fn kill_after(store: &Path, world: &Path, delay: Duration) -> bool {
    let mut child = driver(store, world).spawn().expect("start the driver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next();
    let finished_early = first
        .as_ref()
        .is_some_and(|l| l.as_ref().is_ok_and(|l| l == "done"));
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
    finished_early
}

#[test]
fn no_action_runs_twice_and_none_is_lost_across_kills() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let world = dir.path().join("world.log");

    let mut answered = 0;
    for effect in [1, 2, 3, 5, 8] {
        answered += crash_at_effect(&store_dir, &world, effect);
    }
    let mut rng = rand::rng();
    let mut kills = 0;
    for _ in 0..RANDOM_KILLS {
        let delay = Duration::from_millis(rng.random_range(1..40));
        if kill_after(&store_dir, &world, delay) {
            break;
        }
        kills += 1;
    }
    let last = driver(&store_dir, &world).output().expect("final run");
    assert!(
        String::from_utf8_lossy(&last.stdout).contains("done"),
        "the final run completes"
    );

    let world_keys: Vec<String> = std::fs::read_to_string(&world)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let unique: BTreeSet<&String> = world_keys.iter().collect();
    assert_eq!(
        unique.len(),
        world_keys.len(),
        "an action reached the world twice: {world_keys:?}"
    );

    let store = SledStore::open(&store_dir).unwrap();
    let actions: Vec<ActionRecord> = store.all().unwrap();
    let inbox: Vec<Approval> = store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .unwrap();
    let mut executed = BTreeSet::new();
    for n in 0..ACTIONS {
        let key = format!("a{n}");
        let records: Vec<&ActionRecord> = actions
            .iter()
            .filter(|a| a.idempotency_key == key)
            .collect();
        assert_eq!(records.len(), 1, "{key} must be recorded exactly once");
        let record = records[0];
        match record.lifecycle.status {
            ActionStatus::Executed => {
                executed.insert(key);
            }
            ActionStatus::Failed => {}
            ActionStatus::Executing => assert!(
                inbox.iter().any(|a| a.summary.contains(&key)),
                "{key} is open and not in the inbox: lost"
            ),
            other => panic!("{key} ended {other}"),
        }
    }
    let reached: BTreeSet<String> = world_keys.into_iter().collect();
    assert_eq!(
        executed, reached,
        "the store and the world agree on what ran"
    );

    let audit: Vec<AuditEntry> = store.all().unwrap();
    assert_eq!(AuditEntry::verify_chain(&audit), Ok(audit.len() as u64));
    for action in actions
        .iter()
        .filter(|a| a.lifecycle.status == ActionStatus::Executed)
    {
        let entries = audit
            .iter()
            .filter(|e| e.action == Some(action.id) && e.event == "executed")
            .count();
        assert_eq!(
            entries, 1,
            "{} has {entries} executed entries",
            action.idempotency_key
        );
    }
    let reconciled = audit.iter().filter(|e| e.event == "reconciled").count();
    assert!(
        reconciled >= 5,
        "each failpoint crash leaves an intent to reconcile ({reconciled})"
    );
    eprintln!(
        "gate crash test: {} failpoint crashes + {kills} SIGKILLs, {answered} answers before the crashes, {} actions executed once, {reconciled} intents reconciled, 0 duplicated, 0 lost",
        5,
        executed.len()
    );
}
