//! Typed addresses for actors that survive restarts, with the two things ractor leaves to
//! us: a quiescence signal (how many messages are in flight, system-wide) and credit-based
//! bounded intake for producers that could outrun their consumer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use ractor::ActorRef;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Counts messages in flight across a whole system; quiet when the count is zero.
#[derive(Debug, Clone, Default)]
pub struct Quiescence {
    inner: Arc<QuiescenceInner>,
}

#[derive(Debug, Default)]
struct QuiescenceInner {
    in_flight: AtomicUsize,
    changed: Notify,
}

impl Quiescence {
    /// A fresh counter at zero.
    pub fn new() -> Quiescence {
        Quiescence::default()
    }

    /// Counts `n` units of work as started (released with [`Quiescence::done`]).
    fn start(&self, n: usize) {
        self.inner.in_flight.fetch_add(n, Ordering::SeqCst);
    }

    /// Counts `n` units of work as finished.
    fn done(&self, n: usize) {
        if n > 0 && self.inner.in_flight.fetch_sub(n, Ordering::SeqCst) == n {
            self.inner.changed.notify_waiters();
        }
    }

    /// How much work is in flight now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Resolves when nothing is in flight.
    pub async fn wait_quiet(&self) {
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.in_flight() == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// One queued message and, for bounded intake, its credit.
#[derive(Debug)]
struct Letter<M> {
    msg: M,
    credit: Option<OwnedSemaphorePermit>,
}

/// An actor's queue, shared by its address and every instance of the actor, so messages
/// survive a restart. Senders push lock-free; the one running instance drains it.
/// `scheduled` is true while a wake-up [`Envelope`] is on its way or being handled: senders
/// only wake the actor when it is idle, so ractor carries one message per batch, not one
/// per message. Every queued letter counts as in flight in `quiet` until it is handled.
#[derive(Debug)]
struct Queue<M> {
    sender: tokio::sync::mpsc::UnboundedSender<Letter<M>>,
    /// Lent to the running drain for a whole batch (one drain at a time: ractor handles an
    /// actor's wake-ups in order), so taking a letter costs no lock.
    receiver: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Letter<M>>>>,
    scheduled: AtomicBool,
    quiet: Quiescence,
}

impl<M> Queue<M> {
    fn slot(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<tokio::sync::mpsc::UnboundedReceiver<Letter<M>>>> {
        self.receiver.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether nothing waits (a lent receiver means a drain is running: not empty).
    fn is_empty(&self) -> bool {
        self.slot().as_ref().is_some_and(|r| r.is_empty())
    }

    /// Drops every waiting letter (the actor stopped for good) and stops counting them.
    fn discard(&self) {
        let mut slot = self.slot();
        let Some(receiver) = slot.as_mut() else {
            return;
        };
        let mut dropped = 0;
        while receiver.try_recv().is_ok() {
            dropped += 1;
        }
        self.quiet.done(dropped);
    }
}

/// How many messages one wake-up handles before yielding (so stop signals and supervision
/// events are never starved by a long queue).
const BATCH: usize = 256;

/// The ractor message of every Bazaar actor: a wake-up to drain its queue. Handlers call
/// [`Envelope::drain`] and handle each message in turn.
pub struct Envelope<M> {
    queue: Arc<Queue<M>>,
    actor: ActorRef<Envelope<M>>,
}

impl<M> std::fmt::Debug for Envelope<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Envelope")
    }
}

impl<M: Send + 'static> Envelope<M> {
    /// The queued messages, in order, each with a guard that holds its credit until
    /// dropped. Takes at most a batch; if more wait, wakes the actor again so the rest
    /// follow. A message stops counting as in flight once the handler asks for the next one
    /// (or the drain ends), so "quiet" means every message was fully handled.
    pub fn drain(self) -> Drain<M> {
        let receiver = self.queue.slot().take();
        Drain {
            receiver,
            envelope: self,
            taken: 0,
            in_hand: false,
            finished: 0,
            done: false,
        }
    }
}

/// Iterator over an actor's queued messages; see [`Envelope::drain`].
pub struct Drain<M: Send + 'static> {
    /// The queue's receiver, lent for this drain (None if another drain holds it).
    receiver: Option<tokio::sync::mpsc::UnboundedReceiver<Letter<M>>>,
    envelope: Envelope<M>,
    taken: usize,
    /// A message was handed out and the handler has not asked for the next one yet.
    in_hand: bool,
    /// Messages whose handling is over but not yet subtracted from the in-flight count.
    finished: usize,
    /// The iterator said `None`: the queue is handed over (idle, or to a new wake-up).
    done: bool,
}

impl<M: Send + 'static> Iterator for Drain<M> {
    type Item = (M, EnvelopeGuard);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if std::mem::take(&mut self.in_hand) {
            // Asking for the next message means the previous one has been handled.
            self.finished += 1;
        }
        loop {
            if self.taken == BATCH {
                self.settle();
                self.hand_over();
                return None;
            }
            let letter = self.receiver.as_mut().and_then(|r| r.try_recv().ok());
            if let Some(letter) = letter {
                self.taken += 1;
                self.in_hand = true;
                return Some((
                    letter.msg,
                    EnvelopeGuard {
                        _credit: letter.credit,
                    },
                ));
            }
            if !self.finish() {
                self.done = true;
                self.settle();
                self.give_back();
                return None;
            }
        }
    }
}

impl<M: Send + 'static> Drop for Drain<M> {
    /// A handler that stops early (an early return, an error, a panic) leaves no message
    /// stranded and none counted forever.
    fn drop(&mut self) {
        if std::mem::take(&mut self.in_hand) {
            // The message being handled when it stopped is over, one way or another.
            self.finished += 1;
        }
        if !self.done {
            self.hand_over();
        }
        self.settle();
        self.give_back();
    }
}

impl<M: Send + 'static> Drain<M> {
    fn give_back(&mut self) {
        if let Some(receiver) = self.receiver.take() {
            *self.envelope.queue.slot() = Some(receiver);
        }
    }

    fn waiting(&self) -> bool {
        self.receiver.as_ref().is_some_and(|r| !r.is_empty())
    }

    fn settle(&mut self) {
        self.envelope
            .queue
            .quiet
            .done(std::mem::take(&mut self.finished));
    }

    /// Leaves what is still queued to a fresh wake-up behind anything else waiting in
    /// ractor's mailbox (stop signals, supervision), or marks the actor idle.
    fn hand_over(&mut self) {
        self.done = true;
        if !self.waiting() && !self.finish() {
            self.give_back();
            return;
        }
        // The next drain needs the receiver: give it back before waking.
        self.give_back();
        self.send_again();
    }

    fn send_again(&self) {
        let queue = &self.envelope.queue;
        let again = Envelope {
            queue: queue.clone(),
            actor: self.envelope.actor.clone(),
        };
        if self.envelope.actor.send_message(again).is_err() {
            queue.scheduled.store(false, Ordering::SeqCst);
        }
    }

    /// Marks the actor idle; returns true when a letter slipped in meanwhile and this
    /// wake-up must keep going (nobody else will wake the actor for it).
    fn finish(&mut self) -> bool {
        let queue = &self.envelope.queue;
        queue.scheduled.store(false, Ordering::SeqCst);
        if !self.waiting() {
            return false;
        }
        // A sender pushed after our last look. If it also saw us idle it has sent a wake-up
        // and that one takes over; otherwise this one continues.
        !queue.scheduled.swap(true, Ordering::SeqCst)
    }
}

/// Holds a bounded message's credit until the handler is done with it.
#[derive(Debug)]
pub struct EnvelopeGuard {
    _credit: Option<OwnedSemaphorePermit>,
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The actor has stopped for good.
    #[error("{actor} has stopped")]
    Unavailable {
        /// The actor's name.
        actor: &'static str,
    },
}

/// A stable, typed address of a supervised actor, valid across restarts: messages queue up
/// while the actor restarts and are handled by the new instance.
pub struct Addr<M> {
    name: &'static str,
    queue: Arc<Queue<M>>,
    current: Arc<RwLock<Option<ActorRef<Envelope<M>>>>>,
    closed: Arc<AtomicBool>,
    quiet: Quiescence,
    credit: Arc<Semaphore>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            name: self.name,
            queue: self.queue.clone(),
            current: self.current.clone(),
            closed: self.closed.clone(),
            quiet: self.quiet.clone(),
            credit: self.credit.clone(),
        }
    }
}

impl<M> std::fmt::Debug for Addr<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Addr").field("name", &self.name).finish()
    }
}

impl<M: Send + 'static> Addr<M> {
    /// An unbound address; `credit` bounds how many [`Addr::send_bounded`] messages may
    /// wait in the queue at once.
    pub fn new(name: &'static str, quiet: Quiescence, credit: usize) -> Addr<M> {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let receiver = Some(receiver);
        Addr {
            name,
            queue: Arc::new(Queue {
                sender,
                receiver: Mutex::new(receiver),
                scheduled: AtomicBool::new(false),
                quiet: quiet.clone(),
            }),
            current: Arc::new(RwLock::new(None)),
            closed: Arc::new(AtomicBool::new(false)),
            quiet,
            credit: Arc::new(Semaphore::new(credit.max(1))),
        }
    }

    /// The actor's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Points the address at a (re)started actor and wakes it if messages are waiting.
    pub fn bind(&self, actor: ActorRef<Envelope<M>>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(actor.clone());
        self.closed.store(false, Ordering::SeqCst);
        let waiting = !self.queue.is_empty();
        self.queue.scheduled.store(waiting, Ordering::SeqCst);
        if waiting {
            self.wake(&actor);
        }
    }

    /// Marks the actor as not running (restarting): messages queue until the next bind.
    pub fn unbind(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Marks the actor as stopped for good: sends fail from now on and what was still
    /// queued is dropped.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.unbind();
        self.queue.discard();
    }

    /// Whether an actor is bound.
    pub fn is_bound(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn wake(&self, actor: &ActorRef<Envelope<M>>) {
        let envelope = Envelope {
            queue: self.queue.clone(),
            actor: actor.clone(),
        };
        if actor.send_message(envelope).is_err() {
            // The actor is going away; the next bind wakes its successor.
            self.queue.scheduled.store(false, Ordering::SeqCst);
        }
    }

    fn deliver(&self, msg: M, credit: Option<OwnedSemaphorePermit>) -> Result<(), SendError> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(SendError::Unavailable { actor: self.name });
        }
        self.quiet.start(1);
        if self.queue.sender.send(Letter { msg, credit }).is_err() {
            self.quiet.done(1);
            return Err(SendError::Unavailable { actor: self.name });
        }
        // Pairs with the store-then-check in `Drain::finish`: either the drainer sees this
        // letter or this sender sees the actor idle and wakes it.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.queue.scheduled.load(Ordering::SeqCst)
            || self.queue.scheduled.swap(true, Ordering::SeqCst)
        {
            return Ok(());
        }
        let actor = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match actor {
            Some(actor) => self.wake(&actor),
            // Restarting: bind wakes the new instance.
            None => self.queue.scheduled.store(false, Ordering::SeqCst),
        }
        Ok(())
    }

    /// Sends a control message now, without credit (timers, replies, operator commands).
    pub fn send(&self, msg: M) -> Result<(), SendError> {
        self.deliver(msg, None)
    }

    /// Sends once the consumer has room: waits while `credit` messages are unhandled.
    pub async fn send_bounded(&self, msg: M) -> Result<(), SendError> {
        let permit = self
            .credit
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| SendError::Unavailable { actor: self.name })?;
        self.deliver(msg, Some(permit))
    }

    /// Sends a request and waits for the reply (`build` gets the reply port).
    pub async fn ask<R: Send + 'static>(
        &self,
        build: impl FnOnce(ractor::RpcReplyPort<R>) -> M,
    ) -> Result<R, SendError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.send(build(reply.into()))?;
        answer
            .await
            .map_err(|_| SendError::Unavailable { actor: self.name })
    }
}
