//! The gate survives being killed at any moment, including between "intent written" and
//! "result recorded", and between an answer and the sync of its result: after restarts no
//! action ran twice, none is lost, and every action a proposer heard was executed is.

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

/// The keys of the actions the driver's output says were answered as executed.
fn answered_executed<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    lines
        .into_iter()
        .filter_map(|line| line.strip_prefix("answered "))
        .filter(|rest| rest.contains(r#""outcome":"executed""#))
        .filter_map(|rest| rest.split_once(' ').map(|(key, _)| key.to_string()))
        .collect()
}

/// Runs the driver until it aborts at its `effect`-th effect; returns the keys it answered
/// as executed.
fn crash_at_effect(store: &Path, world: &Path, effect: u64) -> Vec<String> {
    let output = driver(store, world)
        .env("BAZAAR_CRASH_AFTER_EFFECT", effect.to_string())
        .output()
        .expect("run the driver");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let answers = answered_executed(stdout.lines());
    let finished = stdout.contains("done");
    assert!(
        finished || !output.status.success(),
        "the driver was told to crash: {:?}",
        output.status
    );
    answers
}

/// Runs the driver and SIGKILLs it `delay` after its first answer; returns whether it had
/// finished by then and the keys it answered as executed.
fn kill_after(store: &Path, world: &Path, delay: Duration) -> (bool, Vec<String>) {
    let mut child = driver(store, world).spawn().expect("start the driver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let finished_early = first == "done";
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    std::thread::sleep(delay);
    let _ = child.kill();
    let _ = child.wait();
    let rest = rest.join().expect("the driver's output is read");
    let answers =
        answered_executed(std::iter::once(first.as_str()).chain(rest.iter().map(String::as_str)));
    (finished_early, answers)
}

#[test]
fn no_action_runs_twice_and_none_is_lost_across_kills() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let world = dir.path().join("world.log");

    let mut answered = BTreeSet::new();
    for effect in [1, 2, 3, 5, 8] {
        answered.extend(crash_at_effect(&store_dir, &world, effect));
    }
    let mut rng = rand::rng();
    let mut kills = 0;
    for _ in 0..RANDOM_KILLS {
        let delay = Duration::from_millis(rng.random_range(1..40));
        let (finished, answers) = kill_after(&store_dir, &world, delay);
        answered.extend(answers);
        if finished {
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
    let unheard: Vec<&String> = answered.difference(&executed).collect();
    assert!(
        unheard.is_empty(),
        "answered as executed, not recorded so: {unheard:?}"
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
        "gate crash test: {} failpoint crashes + {kills} SIGKILLs, {} answered executed before the crashes, {} actions executed once, {reconciled} intents reconciled, 0 duplicated, 0 lost",
        5,
        answered.len(),
        executed.len()
    );
}
