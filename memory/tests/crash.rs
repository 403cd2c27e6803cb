//! Crash safety: a writer process is SIGKILLed at random moments, over and over, and after
//! every kill the store must open cleanly and hold every record the writer had acknowledged
//! as flushed, intact, with consistent indexes.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use bazaar_memory::{SledStore, Store, Transaction};
use rand::Rng;

#[path = "support/crash_record.rs"]
mod crash_record;

use crash_record::{id, record, seq_of, FLUSH_EVERY, NEXT_KEY};

/// How many times the writer is killed.
const KILLS: usize = 30;

/// Runs the writer once against `dir`, kills it 5–150 ms after its first `flushed` line,
/// and returns the highest sequence number it acknowledged.
fn run_and_kill(dir: &std::path::Path, delay: Duration) -> u64 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_store-crash-writer"))
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the crash writer");
    let stdout = child.stdout.take().expect("writer stdout");
    let (first_tx, first_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut last = None;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let seq: u64 = line
                .strip_prefix("flushed ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected writer output {line:?}"));
            if last.is_none() {
                let _ = first_tx.send(seq);
            }
            last = Some(seq);
        }
        last
    });
    if first_rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let status = child.wait();
        panic!("the writer never acknowledged a flush (status {status:?})");
    }
    thread::sleep(delay);
    child.kill().expect("kill the writer"); // SIGKILL
    let status = child.wait().expect("reap the writer");
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the writer stopped by itself: {status:?}"
    );
    // the pipe holds everything the writer printed before it died
    reader
        .join()
        .expect("stdout reader")
        .expect("at least one acknowledgement")
}

#[test]
fn a_killed_writer_loses_nothing_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::rng();
    let mut acked: Option<u64> = None;
    let mut lost = BTreeSet::new();
    let mut unacknowledged_survivors = 0;
    let started = Instant::now();
    for round in 0..KILLS {
        let delay = Duration::from_millis(rng.random_range(5..=150));
        let run_acked = run_and_kill(dir.path(), delay);
        assert!(
            acked.is_none_or(|a| run_acked > a),
            "round {round}: acknowledgements went backwards"
        );
        acked = Some(run_acked);

        let store = SledStore::open(dir.path())
            .unwrap_or_else(|e| panic!("round {round}: reopen after kill: {e}"));
        for seq in 0..=run_acked {
            match store.get::<Transaction>(&id(seq)) {
                Ok(Some(found)) if found == record(seq) => {}
                other => {
                    eprintln!("round {round}: acknowledged record {seq} is {other:?}");
                    lost.insert(seq);
                }
            }
        }
        // what survived beyond the last acknowledgement must be intact too
        let all: Vec<Transaction> = store
            .all()
            .unwrap_or_else(|e| panic!("round {round}: read all: {e}"));
        for found in &all {
            assert_eq!(
                found,
                &record(seq_of(found.id)),
                "round {round}: a record was torn"
            );
        }
        unacknowledged_survivors += all.iter().filter(|t| seq_of(t.id) > run_acked).count();
        let next: u64 = store
            .get_meta(NEXT_KEY)
            .unwrap()
            .expect("crash.next written before every flush");
        assert!(
            next > run_acked && next.is_multiple_of(FLUSH_EVERY),
            "round {round}: crash.next {next} after ack {run_acked}"
        );
        assert_eq!(
            store.verify_indexes().unwrap(),
            Vec::<String>::new(),
            "round {round}: indexes"
        );
        drop(store);
    }
    let acked = acked.unwrap() + 1;
    eprintln!(
        "crash test: {KILLS} kills in {:.1?}, {acked} records acknowledged, {} lost, {unacknowledged_survivors} unacknowledged records survived across reopens",
        started.elapsed(),
        lost.len(),
    );
    assert!(lost.is_empty(), "acknowledged records lost: {lost:?}");
    assert!(
        acked >= KILLS as u64 * FLUSH_EVERY,
        "the writer made too little progress to mean anything"
    );
}
