//! Typed addresses for actors that survive restarts, with the two things ractor leaves to
//! us: a quiescence signal (how many messages are in flight, system-wide) and credit-based
//! bounded intake for producers that could outrun their consumer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

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

    /// Marks one unit of work in flight until the ticket is dropped.
    pub fn ticket(&self) -> Ticket {
        self.inner.in_flight.fetch_add(1, Ordering::SeqCst);
        Ticket {
            inner: self.inner.clone(),
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

/// One unit of in-flight work; dropping it marks the work done.
#[derive(Debug)]
pub struct Ticket {
    inner: Arc<QuiescenceInner>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.inner.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.inner.changed.notify_waiters();
        }
    }
}

/// A message on its way to an actor, carrying its in-flight ticket and, for bounded
/// intake, the credit it holds. Both are released when the handler drops the envelope.
#[derive(Debug)]
pub struct Envelope<M> {
    /// The message.
    pub msg: M,
    _ticket: Ticket,
    _credit: Option<OwnedSemaphorePermit>,
}

impl<M> Envelope<M> {
    /// An envelope counted in `quiet`, for an actor writing to itself through its own
    /// `ActorRef` (its `Addr` may not be bound yet while it starts).
    pub fn new(msg: M, quiet: &Quiescence) -> Envelope<M> {
        Envelope {
            msg,
            _ticket: quiet.ticket(),
            _credit: None,
        }
    }

    /// Splits off the message, keeping the ticket and credit alive in the returned guard
    /// until the handler is done with it.
    pub fn open(self) -> (M, EnvelopeGuard) {
        (
            self.msg,
            EnvelopeGuard {
                _ticket: self._ticket,
                _credit: self._credit,
            },
        )
    }
}

/// Keeps a message counted as in flight (and its credit held) until dropped.
#[derive(Debug)]
pub struct EnvelopeGuard {
    _ticket: Ticket,
    _credit: Option<OwnedSemaphorePermit>,
}

/// Why a message could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The actor is not running (starting, restarting, or stopped).
    #[error("{actor} is not running; retry after it restarts")]
    Unavailable {
        /// The actor's name.
        actor: &'static str,
    },
}

/// A stable, typed address of a supervised actor: valid across restarts.
pub struct Addr<M> {
    name: &'static str,
    current: Arc<RwLock<Option<ActorRef<Envelope<M>>>>>,
    quiet: Quiescence,
    credit: Arc<Semaphore>,
}

impl<M> Clone for Addr<M> {
    fn clone(&self) -> Self {
        Addr {
            name: self.name,
            current: self.current.clone(),
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
    /// wait in the mailbox at once.
    pub fn new(name: &'static str, quiet: Quiescence, credit: usize) -> Addr<M> {
        Addr {
            name,
            current: Arc::new(RwLock::new(None)),
            quiet,
            credit: Arc::new(Semaphore::new(credit.max(1))),
        }
    }

    /// The actor's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Points the address at a (re)started actor.
    pub fn bind(&self, actor: ActorRef<Envelope<M>>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(actor);
    }

    /// Marks the actor as not running.
    pub fn unbind(&self) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether an actor is bound.
    pub fn is_bound(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    fn deliver(&self, msg: M, credit: Option<OwnedSemaphorePermit>) -> Result<(), SendError> {
        let unavailable = SendError::Unavailable { actor: self.name };
        let actor = self
            .current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(actor) = actor else {
            return Err(unavailable);
        };
        let envelope = Envelope {
            msg,
            _ticket: self.quiet.ticket(),
            _credit: credit,
        };
        actor.send_message(envelope).map_err(|_| unavailable)
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
