//! Time. Every timer and timestamp comes from a [`Clock`]: the system clock in
//! `bazaar run`, a [`SimClock`] that the simulation advances step by step in `bazaar sim`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

/// A boxed sleep future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The source of "now" and of timers.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current UTC time.
    fn now(&self) -> DateTime<Utc>;
    /// Resolves once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// A clock shared by every actor of one system.
pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Simulated time: it stands still until [`SimClock::advance_to_next`] or
/// [`SimClock::advance_by`] moves it, and wakes the sleepers whose deadline passed.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<SimInner>>,
}

#[derive(Debug)]
struct SimInner {
    now: DateTime<Utc>,
    next_seq: u64,
    sleepers: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    wakers: std::collections::HashMap<u64, oneshot::Sender<()>>,
}

impl SimClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> SimClock {
        SimClock {
            inner: Arc::new(Mutex::new(SimInner {
                now: start,
                next_seq: 0,
                sleepers: BinaryHeap::new(),
                wakers: std::collections::HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SimInner> {
        // A panic while holding this lock leaves plain data behind; keep going.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The earliest pending deadline, if anyone sleeps.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        let mut inner = self.lock();
        // Drop sleepers whose futures were cancelled.
        while let Some(Reverse((at, seq))) = inner.sleepers.peek().copied() {
            if inner.wakers.get(&seq).is_some_and(|w| !w.is_closed()) {
                return Some(at);
            }
            inner.sleepers.pop();
            inner.wakers.remove(&seq);
        }
        None
    }

    /// Moves time to `to` (never backwards) without waking anyone: sleepers due by then
    /// wake at the next [`advance_to`](SimClock::advance_to). A driver that plays its own
    /// events in time order uses it so that nobody else runs until it has finished.
    pub fn set_time(&self, to: DateTime<Utc>) {
        let mut inner = self.lock();
        if to > inner.now {
            inner.now = to;
        }
    }

    /// Moves time to `to` (never backwards) and wakes everyone due by then.
    pub fn advance_to(&self, to: DateTime<Utc>) -> usize {
        let mut inner = self.lock();
        if to > inner.now {
            inner.now = to;
        }
        let now = inner.now;
        let mut woken = 0;
        while let Some(Reverse((at, seq))) = inner.sleepers.peek().copied() {
            if at > now {
                break;
            }
            inner.sleepers.pop();
            if let Some(waker) = inner.wakers.remove(&seq) {
                if waker.send(()).is_ok() {
                    woken += 1;
                }
            }
        }
        woken
    }

    /// Moves time forward by `duration`.
    pub fn advance_by(&self, duration: Duration) -> usize {
        let to = self.now() + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        self.advance_to(to)
    }

    /// Jumps to the earliest deadline and wakes its sleepers; `None` when nobody sleeps.
    pub fn advance_to_next(&self) -> Option<DateTime<Utc>> {
        let next = self.next_deadline()?;
        self.advance_to(next);
        Some(next)
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let (waker, woken) = oneshot::channel();
        {
            let mut inner = self.lock();
            let at =
                inner.now + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
            if at <= inner.now {
                return Box::pin(std::future::ready(()));
            }
            let seq = inner.next_seq;
            inner.next_seq += 1;
            inner.sleepers.push(Reverse((at, seq)));
            inner.wakers.insert(seq, waker);
        }
        Box::pin(async move {
            // A dropped clock never wakes us; sleeping forever is the honest answer.
            if woken.await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sim_clock_wakes_sleepers_in_deadline_order() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = SimClock::new(start);
        let late = tokio::spawn(clock.sleep(Duration::from_secs(3600)));
        let early = tokio::spawn(clock.sleep(Duration::from_secs(60)));
        tokio::task::yield_now().await;
        assert_eq!(
            clock.advance_to_next(),
            Some(start + chrono::Duration::seconds(60))
        );
        early.await.unwrap();
        assert!(!late.is_finished());
        assert_eq!(clock.now(), start + chrono::Duration::seconds(60));
        assert_eq!(
            clock.advance_to_next(),
            Some(start + chrono::Duration::seconds(3600))
        );
        late.await.unwrap();
        assert_eq!(clock.advance_to_next(), None);
    }
}
