//! What the crash writer writes for each sequence number, shared by the writer and the
//! crash test so the test can recompute every record it expects to find.

use bazaar_memory::{ItemId, Money, Transaction, TransactionId, TransactionKind};
use chrono::{DateTime, Duration, TimeZone, Utc};
use ulid::Ulid;

/// Meta key holding the next sequence number to write; written before every flush.
pub const NEXT_KEY: &str = "crash.next";

/// Puts per flush.
pub const FLUSH_EVERY: u64 = 5;

const BASE_MILLIS: u64 = 1_773_489_600_000;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 12, 0, 0).unwrap()
}

/// The id of record `seq`.
pub fn id(seq: u64) -> TransactionId {
    TransactionId(Ulid::from_parts(
        BASE_MILLIS + seq,
        u128::from(seq) << 16 | 0xbeef,
    ))
}

/// The sequence number an id was made from.
#[allow(dead_code)] // the writer never needs it; the test does
pub fn seq_of(id: TransactionId) -> u64 {
    id.0.timestamp_ms() - BASE_MILLIS
}

/// The record with sequence number `seq`: every field derives from `seq` alone.
pub fn record(seq: u64) -> Transaction {
    let kinds = [
        TransactionKind::Purchase,
        TransactionKind::Sale,
        TransactionKind::Fee,
        TransactionKind::Shipping,
        TransactionKind::Refund,
    ];
    Transaction {
        id: id(seq),
        kind: kinds[(seq % 5) as usize],
        amount: Money::usd(((seq * 7_919) % 250_000 + 1) as i64),
        // every other record concerns one of 16 items, so the by_item index has many entries
        item: seq
            .is_multiple_of(2)
            .then(|| ItemId(Ulid::from_parts(BASE_MILLIS, u128::from(seq % 16) + 1))),
        order: None,
        at: base() + Duration::seconds(seq as i64),
        memo: format!("crash record {seq} {}", "x".repeat((seq % 40) as usize)),
    }
}
