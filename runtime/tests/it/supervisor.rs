//! Supervision: restarts that resume from the store, one_for_one vs rest_for_one,
//! exponential backoff on the simulated clock, and escalation when a child keeps failing.

use std::sync::Arc;
use std::time::Duration;

use bazaar_config::RestartStrategy;
use bazaar_memory::{Addr, Clock, Envelope, Quiescence, SharedClock, SimClock, SledStore, Store};
use bazaar_runtime::supervisor::{ChildSpec, Escalation, RestartPolicy, SupervisorMsg};
use bazaar_runtime::system::{child_spec, start_supervisor};
use chrono::{DateTime, Utc};
use ractor::{Actor, ActorProcessingErr, ActorRef, ActorStatus, RpcReplyPort};

/// A counter that keeps its value in the store, so a restart resumes where it was.
#[derive(Default)]
struct Counter;

enum CounterMsg {
    Add(u64),
    Panic,
    Get(RpcReplyPort<(u64, u64)>),
}

struct CounterState {
    store: SledStore,
    key: &'static str,
    value: u64,
    /// How many times this actor has started, persisted too.
    starts: u64,
}

impl Actor for Counter {
    type Msg = Envelope<CounterMsg>;
    type State = CounterState;
    type Arguments = (SledStore, &'static str);

    async fn pre_start(
        &self,
        _: ActorRef<Self::Msg>,
        (store, key): Self::Arguments,
    ) -> Result<CounterState, ActorProcessingErr> {
        let value = store.get_meta(key)?.unwrap_or(0);
        let starts_key = format!("{key}.starts");
        let starts: u64 = store.get_meta::<u64>(&starts_key)?.unwrap_or(0) + 1;
        store.put_meta(&starts_key, &starts)?;
        Ok(CounterState {
            store,
            key,
            value,
            starts,
        })
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        state: &mut CounterState,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _guard) in envelope.drain() {
            match msg {
                CounterMsg::Add(n) => {
                    state.value += n;
                    state.store.put_meta(state.key, &state.value)?;
                    state.store.flush().await?;
                }
                CounterMsg::Panic => panic!("counter asked to panic"),
                CounterMsg::Get(reply) => {
                    let _ = reply.send((state.value, state.starts));
                }
            }
        }
        Ok(())
    }
}

/// An actor that fails right after every start.
#[derive(Default)]
struct Doomed;

impl Actor for Doomed {
    type Msg = Envelope<()>;
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn post_start(
        &self,
        _: ActorRef<Self::Msg>,
        _: &mut (),
    ) -> Result<(), ActorProcessingErr> {
        Err("doomed to fail".into())
    }
}

fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn policy(strategy: RestartStrategy, max_restarts: u32) -> RestartPolicy {
    RestartPolicy {
        strategy,
        max_restarts,
        period: Duration::from_secs(60),
        backoff_initial: Duration::from_millis(100),
        backoff_max: Duration::from_secs(5),
    }
}

struct Harness {
    clock: SimClock,
    supervisor: ActorRef<SupervisorMsg>,
    done: tokio::task::JoinHandle<()>,
    escalation: tokio::sync::watch::Receiver<Escalation>,
}

impl Harness {
    async fn start(children: Vec<ChildSpec>, policy: RestartPolicy) -> Harness {
        let clock = SimClock::new(start_time());
        let shared: SharedClock = Arc::new(clock.clone());
        let ((supervisor, done), escalation) =
            start_supervisor(children, policy, shared).await.unwrap();
        Harness {
            clock,
            supervisor,
            done,
            escalation,
        }
    }

    /// Waits until the supervisor has scheduled a restart, then jumps the clock to it.
    /// Returns how long the backoff was.
    async fn fire_next_restart(&self) -> chrono::Duration {
        for _ in 0..500 {
            if let Some(deadline) = self.clock.next_deadline() {
                let delay = deadline - self.clock.now();
                self.clock.advance_to(deadline);
                return delay;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("no restart was scheduled");
    }

    async fn running(&self) -> Vec<(&'static str, bool)> {
        ractor::call!(self.supervisor, SupervisorMsg::Running).unwrap()
    }

    async fn wait_running(&self, expected: &[bool]) {
        for _ in 0..500 {
            let running: Vec<bool> = self.running().await.into_iter().map(|(_, r)| r).collect();
            if running == expected {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!(
            "children never reached {expected:?}; now {:?}",
            self.running().await
        );
    }

    /// Stops everything and checks that no actor is left running.
    async fn stop(self) {
        let mut cells = self.supervisor.get_children();
        cells.push(self.supervisor.get_cell());
        assert!(
            cells.len() > 1,
            "the supervisor should have children to stop"
        );
        let _ = ractor::call!(self.supervisor, SupervisorMsg::Shutdown);
        self.done.await.unwrap();
        assert_no_actor_running(&cells);
    }
}

fn assert_no_actor_running(cells: &[ractor::ActorCell]) {
    for cell in cells {
        assert_eq!(
            cell.get_status(),
            ActorStatus::Stopped,
            "actor {:?} left running",
            cell.get_id()
        );
    }
}

fn counter(
    name: &'static str,
    store: &SledStore,
    quiet: &Quiescence,
) -> (Addr<CounterMsg>, ChildSpec) {
    let addr = Addr::new(name, quiet.clone(), 8);
    let store = store.clone();
    let spec = child_spec::<Counter, CounterMsg>(addr.clone(), Counter::default, move || {
        (store.clone(), name)
    });
    (addr, spec)
}

/// The cell behind an address right now (for identity checks).
async fn starts(addr: &Addr<CounterMsg>) -> u64 {
    addr.ask(CounterMsg::Get).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_actor_restarts_and_resumes_from_its_persisted_state() {
    let store = SledStore::temporary().unwrap();
    let quiet = Quiescence::new();
    let (addr, spec) = counter("counter", &store, &quiet);
    let harness = Harness::start(vec![spec], policy(RestartStrategy::OneForOne, 3)).await;

    addr.send(CounterMsg::Add(5)).unwrap();
    addr.send(CounterMsg::Add(7)).unwrap();
    assert_eq!(addr.ask(CounterMsg::Get).await.unwrap(), (12, 1));

    addr.send(CounterMsg::Panic).unwrap();
    let backoff = harness.fire_next_restart().await;
    assert_eq!(backoff, chrono::Duration::milliseconds(100));
    harness.wait_running(&[true]).await;
    // The new instance reloaded the value the old one persisted.
    assert_eq!(addr.ask(CounterMsg::Get).await.unwrap(), (12, 2));
    addr.send(CounterMsg::Add(1)).unwrap();
    assert_eq!(addr.ask(CounterMsg::Get).await.unwrap(), (13, 2));
    quiet.wait_quiet().await;
    assert_eq!(quiet.in_flight(), 0);
    harness.stop().await;
    assert!(
        !addr.is_bound(),
        "a stopped actor's address must not accept messages"
    );
    assert!(addr.send(CounterMsg::Add(1)).is_err());
}

/// Starts children a, b, c under `strategy`, makes b panic, and returns how many times each
/// has started once everything runs again.
async fn starts_after_b_panics(strategy: RestartStrategy) -> (u64, u64, u64) {
    let store = SledStore::temporary().unwrap();
    let quiet = Quiescence::new();
    let (a, spec_a) = counter("a", &store, &quiet);
    let (b, spec_b) = counter("b", &store, &quiet);
    let (c, spec_c) = counter("c", &store, &quiet);
    let harness = Harness::start(vec![spec_a, spec_b, spec_c], policy(strategy, 3)).await;
    b.send(CounterMsg::Panic).unwrap();
    harness.fire_next_restart().await;
    harness.wait_running(&[true, true, true]).await;
    let starts = (starts(&a).await, starts(&b).await, starts(&c).await);
    harness.stop().await;
    starts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_for_one_restarts_only_the_failed_child() {
    assert_eq!(
        starts_after_b_panics(RestartStrategy::OneForOne).await,
        (1, 2, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_for_one_restarts_the_failed_child_and_those_started_after_it() {
    assert_eq!(
        starts_after_b_panics(RestartStrategy::RestForOne).await,
        (1, 2, 2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backoff_doubles_per_failure_within_the_period() {
    let store = SledStore::temporary().unwrap();
    let quiet = Quiescence::new();
    let (addr, spec) = counter("counter", &store, &quiet);
    let harness = Harness::start(vec![spec], policy(RestartStrategy::OneForOne, 5)).await;
    let mut delays = Vec::new();
    for expected_starts in 2..=5 {
        addr.send(CounterMsg::Panic).unwrap();
        delays.push(harness.fire_next_restart().await.num_milliseconds());
        harness.wait_running(&[true]).await;
        assert_eq!(starts(&addr).await, expected_starts);
    }
    assert_eq!(delays, vec![100, 200, 400, 800]);
    // Past the period, the window forgets old failures and the delay starts over.
    harness.clock.advance_by(Duration::from_secs(61));
    addr.send(CounterMsg::Panic).unwrap();
    assert_eq!(harness.fire_next_restart().await.num_milliseconds(), 100);
    harness.wait_running(&[true]).await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_keeps_failing_escalates_and_everything_stops() {
    let store = SledStore::temporary().unwrap();
    let quiet = Quiescence::new();
    let (healthy, spec_healthy) = counter("healthy", &store, &quiet);
    let doomed: Addr<()> = Addr::new("doomed", quiet.clone(), 1);
    let spec_doomed = child_spec::<Doomed, ()>(doomed, Doomed::default, || ());
    let mut harness = Harness::start(
        vec![spec_healthy, spec_doomed],
        policy(RestartStrategy::OneForOne, 3),
    )
    .await;
    let healthy_cell = {
        // Keep a handle on the healthy actor to prove it is stopped at the end.
        assert_eq!(starts(&healthy).await, 1);
        harness.supervisor.get_children()
    };

    let mut restarts = 0;
    for _ in 0..5_000 {
        if let Escalation::GaveUp { child, error } = harness.escalation.borrow().clone() {
            assert_eq!(child, "doomed");
            assert!(error.contains("doomed to fail"), "{error}");
            break;
        }
        if harness.clock.next_deadline().is_some() {
            harness.fire_next_restart().await;
            restarts += 1;
            continue;
        }
        assert!(
            restarts <= 3,
            "escalation must come within the intensity (3 restarts)"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(
        matches!(*harness.escalation.borrow(), Escalation::GaveUp { .. }),
        "the supervisor never escalated"
    );
    assert_eq!(
        restarts, 3,
        "exactly max_restarts restarts before giving up"
    );
    tokio::time::timeout(Duration::from_secs(5), &mut harness.done)
        .await
        .expect("supervisor stops after escalating")
        .unwrap();
    assert_no_actor_running(&healthy_cell);
    assert!(!healthy.is_bound());
}
