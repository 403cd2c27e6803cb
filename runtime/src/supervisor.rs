//! OTP-style supervision on top of ractor, which has no restart strategies of its own:
//! one_for_one and rest_for_one, a restart intensity within a period, exponential backoff
//! on the runtime clock, and escalation to a clean shutdown when a child keeps failing.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bazaar_config::RestartStrategy;
use bazaar_memory::SharedClock;
use chrono::{DateTime, Utc};
use ractor::{
    Actor, ActorCell, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent,
};
use tokio::sync::watch;

/// Starts (or restarts) one child linked to `supervisor`, binding its address.
pub type StartFn = Arc<
    dyn Fn(ActorCell) -> Pin<Box<dyn Future<Output = Result<ActorCell, ActorProcessingErr>> + Send>>
        + Send
        + Sync,
>;

/// One supervised child.
#[derive(Clone)]
pub struct ChildSpec {
    /// Name for logs.
    pub name: &'static str,
    /// How to start it.
    pub start: StartFn,
    /// Called when it stops: `true` when it stops for good (senders then get an error),
    /// `false` when it will restart (messages queue for the next instance).
    pub on_stop: Arc<dyn Fn(bool) + Send + Sync>,
}

impl std::fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .finish()
    }
}

/// Restart policy.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// Which siblings restart with a failed child.
    pub strategy: RestartStrategy,
    /// Restarts allowed within `period`; one more escalates.
    pub max_restarts: u32,
    /// The intensity window.
    pub period: Duration,
    /// First restart delay.
    pub backoff_initial: Duration,
    /// Longest restart delay.
    pub backoff_max: Duration,
}

impl From<&bazaar_config::SupervisorConfig> for RestartPolicy {
    fn from(config: &bazaar_config::SupervisorConfig) -> Self {
        RestartPolicy {
            strategy: config.strategy,
            max_restarts: config.max_restarts,
            period: config.period(),
            backoff_initial: config.backoff_initial(),
            backoff_max: config.backoff_max(),
        }
    }
}

impl RestartPolicy {
    /// The delay before restart number `attempt` (1-based) within the window.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.backoff_initial
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

/// How a supervisor ended, as seen by whoever waits on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Escalation {
    /// Still running.
    None,
    /// A child failed more than the intensity allows.
    GaveUp {
        child: &'static str,
        /// Its last error.
        error: String,
    },
}

/// What the supervisor is started with.
pub struct SupervisorArgs {
    /// Children in start order.
    pub children: Vec<ChildSpec>,
    /// Restart policy.
    pub policy: RestartPolicy,
    /// The clock for backoff and the intensity window.
    pub clock: SharedClock,
    /// Where escalation is announced.
    pub escalation: watch::Sender<Escalation>,
}

/// Messages to the supervisor.
#[derive(Debug)]
pub enum SupervisorMsg {
    /// Restart the child at `index` (and, for rest_for_one, those after it).
    Restart {
        /// Which child.
        index: usize,
    },
    /// Stop every child, last started first, then stop.
    Shutdown(RpcReplyPort<()>),
    /// Which children are running.
    Running(RpcReplyPort<Vec<(&'static str, bool)>>),
}

/// The supervisor actor.
#[derive(Debug, Default)]
pub struct Supervisor;

struct Child {
    spec: ChildSpec,
    cell: Option<ActorCell>,
}

/// The supervisor's state.
pub struct SupervisorState {
    children: Vec<Child>,
    policy: RestartPolicy,
    clock: SharedClock,
    escalation: watch::Sender<Escalation>,
    restarts: VecDeque<DateTime<Utc>>,
    /// Children we stopped on purpose (rest_for_one, shutdown): their exit is not a failure.
    stopping: HashSet<ActorId>,
    shutting_down: bool,
}

impl SupervisorState {
    async fn start_child(
        &mut self,
        index: usize,
        myself: &ActorRef<SupervisorMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let child = &mut self.children[index];
        let cell = (child.spec.start)(myself.get_cell()).await?;
        tracing::debug!(actor = child.spec.name, "actor started");
        child.cell = Some(cell);
        Ok(())
    }

    fn index_of(&self, cell: &ActorCell) -> Option<usize> {
        let id = cell.get_id();
        self.children
            .iter()
            .position(|c| c.cell.as_ref().is_some_and(|own| own.get_id() == id))
    }

    async fn stop_child(&mut self, index: usize) {
        let for_good = self.shutting_down;
        let child = &mut self.children[index];
        (child.spec.on_stop)(for_good);
        if let Some(cell) = child.cell.take() {
            self.stopping.insert(cell.get_id());
            let _ = cell
                .stop_and_wait(Some("supervisor".into()), Some(Duration::from_secs(10)))
                .await;
        }
    }

    async fn child_failed(
        &mut self,
        index: usize,
        error: String,
        myself: &ActorRef<SupervisorMsg>,
    ) {
        let name = self.children[index].spec.name;
        (self.children[index].spec.on_stop)(false);
        self.children[index].cell = None;
        let now = self.clock.now();
        let window =
            chrono::Duration::from_std(self.policy.period).unwrap_or(chrono::Duration::MAX);
        while self.restarts.front().is_some_and(|at| *at + window <= now) {
            self.restarts.pop_front();
        }
        self.restarts.push_back(now);
        let attempt = self.restarts.len() as u32;
        if attempt > self.policy.max_restarts {
            tracing::error!(
                actor = name,
                %error,
                restarts = attempt - 1,
                period_secs = self.policy.period.as_secs(),
                "actor keeps failing; shutting down"
            );
            self.escalation
                .send_replace(Escalation::GaveUp { child: name, error });
            self.shutdown().await;
            myself.stop(Some("escalated".into()));
            return;
        }
        if self.policy.strategy == RestartStrategy::RestForOne {
            for later in (index + 1..self.children.len()).rev() {
                self.stop_child(later).await;
            }
        }
        let delay = self.policy.backoff(attempt);
        tracing::warn!(actor = name, %error, attempt, delay_ms = delay.as_millis() as u64, "actor failed; restarting");
        let sleep = self.clock.sleep(delay);
        let myself = myself.clone();
        tokio::spawn(async move {
            sleep.await;
            let _ = myself.send_message(SupervisorMsg::Restart { index });
        });
    }

    async fn shutdown(&mut self) {
        self.shutting_down = true;
        for index in (0..self.children.len()).rev() {
            self.stop_child(index).await;
        }
    }
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let mut state = SupervisorState {
            children: args
                .children
                .into_iter()
                .map(|spec| Child { spec, cell: None })
                .collect(),
            policy: args.policy,
            clock: args.clock,
            escalation: args.escalation,
            restarts: VecDeque::new(),
            stopping: HashSet::new(),
            shutting_down: false,
        };
        for index in 0..state.children.len() {
            if let Err(error) = state.start_child(index, &myself).await {
                let name = state.children[index].spec.name;
                state.shutdown().await;
                return Err(format!("{name} failed to start: {error}").into());
            }
        }
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Restart { index } => {
                if state.shutting_down {
                    return Ok(());
                }
                let last = match state.policy.strategy {
                    RestartStrategy::OneForOne => index,
                    RestartStrategy::RestForOne => state.children.len() - 1,
                };
                for i in index..=last {
                    if state.children[i].cell.is_some() {
                        continue;
                    }
                    if let Err(error) = state.start_child(i, &myself).await {
                        // A child that cannot even start counts as failing again.
                        state.child_failed(i, error.to_string(), &myself).await;
                        break;
                    }
                    tracing::info!(actor = state.children[i].spec.name, "actor restarted");
                }
            }
            SupervisorMsg::Shutdown(reply) => {
                state.shutdown().await;
                let _ = reply.send(());
                myself.stop(Some("shutdown".into()));
            }
            SupervisorMsg::Running(reply) => {
                let running = state
                    .children
                    .iter()
                    .map(|c| (c.spec.name, c.cell.is_some()))
                    .collect();
                let _ = reply.send(running);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, error) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => (
                cell,
                format!(
                    "stopped unexpectedly: {}",
                    reason.unwrap_or_else(|| "no reason given".into())
                ),
            ),
            _ => return Ok(()),
        };
        if state.stopping.remove(&cell.get_id()) || state.shutting_down {
            return Ok(());
        }
        let Some(index) = state.index_of(&cell) else {
            return Ok(());
        };
        state.child_failed(index, error, &myself).await;
        Ok(())
    }
}
