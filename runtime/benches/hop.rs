//! Actor-to-actor message hop through Bazaar's addresses (ractor + in-flight accounting)
//! against a raw tokio mpsc hop, in the same run. Goal: the actor hop keeps at least half
//! of the raw throughput.

use bazaar_memory::{Addr, Envelope, Quiescence};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::{mpsc, oneshot};

const MESSAGES: u64 = 10_000;

enum Msg {
    Hop(u64),
    Done(oneshot::Sender<u64>),
}

struct Sink;

impl Actor for Sink {
    type Msg = Envelope<Msg>;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        envelope: Self::Msg,
        sum: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        for (msg, _guard) in envelope.drain() {
            match msg {
                Msg::Hop(n) => *sum += n,
                Msg::Done(reply) => {
                    let _ = reply.send(*sum);
                }
            }
        }
        Ok(())
    }
}

struct RawSink;

impl Actor for RawSink {
    type Msg = Msg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<Self::Msg>, _: ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<Self::Msg>,
        msg: Msg,
        sum: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            Msg::Hop(n) => *sum += n,
            Msg::Done(reply) => {
                let _ = reply.send(*sum);
            }
        }
        Ok(())
    }
}

fn hops(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("message_hop");
    group.throughput(Throughput::Elements(MESSAGES));

    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    runtime.spawn(async move {
        let mut sum = 0u64;
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Hop(n) => sum += n,
                Msg::Done(reply) => {
                    let _ = reply.send(sum);
                }
            }
        }
    });
    group.bench_function("tokio_mpsc", |b| {
        b.to_async(&runtime).iter(|| async {
            for n in 0..MESSAGES {
                tx.send(Msg::Hop(n)).unwrap();
            }
            let (reply, sum) = oneshot::channel();
            tx.send(Msg::Done(reply)).unwrap();
            sum.await.unwrap()
        })
    });

    let raw = runtime.block_on(async { Actor::spawn(None, RawSink, ()).await.unwrap().0 });
    group.bench_function("ractor_raw", |b| {
        b.to_async(&runtime).iter(|| async {
            for n in 0..MESSAGES {
                raw.send_message(Msg::Hop(n)).unwrap();
            }
            let (reply, sum) = oneshot::channel();
            raw.send_message(Msg::Done(reply)).unwrap();
            sum.await.unwrap()
        })
    });

    let quiet = Quiescence::new();
    let addr: Addr<Msg> = Addr::new("sink", quiet, 64);
    let actor = runtime.block_on(async { Actor::spawn(None, Sink, ()).await.unwrap().0 });
    addr.bind(actor.clone());
    group.bench_function("bazaar_addr", |b| {
        b.to_async(&runtime).iter(|| async {
            for n in 0..MESSAGES {
                addr.send(Msg::Hop(n)).unwrap();
            }
            let (reply, sum) = oneshot::channel();
            addr.send(Msg::Done(reply)).unwrap();
            sum.await.unwrap()
        })
    });
    group.finish();
    actor.stop(None);
    raw.stop(None);
}

criterion_group!(benches, hops);
criterion_main!(benches);
