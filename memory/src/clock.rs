//! Time. Every timer and timestamp comes from a [`Clock`]: the system clock in
//! `bazaar run`, a [`SimClock`] that the simulation advances step by step in `bazaar sim`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Time that runs `speed` times faster than the wall clock from a chosen origin: it shows
/// `origin` at the wall-clock instant `origin_wall`. `bazaar run` uses it to follow a world
/// `bazaar sim serve` runs at the same speed; sleeps are the wall-clock share of the
/// simulated duration.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    origin: DateTime<Utc>,
    origin_wall: DateTime<Utc>,
    speed: u32,
}

impl ScaledClock {
    /// A clock showing `origin` at `origin_wall`, `speed` (at least 1) times faster.
    pub fn new(origin: DateTime<Utc>, origin_wall: DateTime<Utc>, speed: u32) -> ScaledClock {
        ScaledClock {
            origin,
            origin_wall,
            speed: speed.max(1),
        }
    }

    /// What the clock shows when the wall clock shows `wall`.
    ///
    /// ```
    /// use bazaar_memory::ScaledClock;
    /// let at = |t: &str| t.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    /// let clock = ScaledClock::new(at("2026-03-02T08:00:00Z"), at("2026-12-07T10:00:00Z"), 60);
    /// // A minute of wall time is an hour of the world's.
    /// assert_eq!(clock.at(at("2026-12-07T10:01:00Z")), at("2026-03-02T09:00:00Z"));
    /// ```
    pub fn at(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        self.origin + (wall - self.origin_wall) * self.speed as i32
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        self.at(Utc::now())
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration / self.speed))
    }
}

/// Simulated time: it stands still until [`SimClock::advance_to_next`] or
/// [`SimClock::advance_by`] moves it, and wakes the sleepers whose deadline passed.
#[derive(Debug, Clone)]
pub struct SimClock {
    inner: Arc<Mutex<SimInner>>,
    /// Sleepers woken whose futures have not finished yet (see [`SimClock::pending_wakes`]).
    woken: Arc<AtomicUsize>,
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
            woken: Arc::new(AtomicUsize::new(0)),
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
                // Counted before the send: the sleeper uncounts itself when it finishes.
                self.woken.fetch_add(1, Ordering::AcqRel);
                if waker.send(()).is_ok() {
                    woken += 1;
                } else {
                    self.woken.fetch_sub(1, Ordering::AcqRel);
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

    /// Sleepers woken by a clock move whose futures have not run to completion yet. A
    /// driver that waits for everyone to be quiet also waits for this to be 0: a woken
    /// timer task that has not been polled has not sent its message yet.
    pub fn pending_wakes(&self) -> usize {
        self.woken.load(Ordering::Acquire)
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
        let wake = Wake {
            woken,
            received: false,
            pending: self.woken.clone(),
        };
        Box::pin(async move {
            let mut wake = wake;
            // A dropped clock never wakes us; sleeping forever is the honest answer.
            if (&mut wake.woken).await.is_err() {
                std::future::pending::<()>().await;
            }
            wake.received = true;
        })
    }
}

/// A sim sleeper's wake-up; when dropped after being woken (finished, or cancelled after
/// the wake), it is no longer pending.
struct Wake {
    woken: oneshot::Receiver<()>,
    received: bool,
    pending: Arc<AtomicUsize>,
}

impl Drop for Wake {
    fn drop(&mut self) {
        if self.received || self.woken.try_recv().is_ok() {
            let _ = self
                .pending
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn woken_sleepers_are_pending_until_they_finish() {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = SimClock::new(start);
        let first = clock.sleep(Duration::from_secs(60));
        let dropped = clock.sleep(Duration::from_secs(60));
        let _later = clock.sleep(Duration::from_secs(600));
        assert_eq!(clock.pending_wakes(), 0);
        assert_eq!(clock.advance_by(Duration::from_secs(60)), 2);
        assert_eq!(clock.pending_wakes(), 2, "woken, not yet run");
        first.await;
        assert_eq!(clock.pending_wakes(), 1);
        drop(dropped);
        assert_eq!(clock.pending_wakes(), 0, "cancelled after its wake");
    }

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
