//! The durable store: sled behind a small [`Store`] trait, typed trees, secondary indexes
//! beside their records, and JSON-lines export/import.
//!
//! The store never uses a sled transaction: once a process has run one, sled 0.34 puts every
//! read and write of every tree behind one process-wide reader-writer lock, and each
//! transaction takes it exclusively and writes its log buffer out on its own (the policy
//! gate's decisions spent most of their time there). Instead, a write that moves index
//! entries holds the store's writer lock and writes in an order that any crash leaves
//! harmless: the new entries, then the record (a compare-and-swap), then the removal of the
//! old entries. sled recovers a prefix of its log, so after a crash an index may hold an
//! entry its record no longer carries, never lack one; readers check each entry against its
//! record and skip such leftovers.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde::{de::DeserializeOwned, Serialize};

use crate::ids::*;
use crate::model::*;
use crate::{IndexName, StatusIndexed};

/// The on-disk format version. Bump it when a record changes shape, with a step in
/// [`crate::migrate`] that upgrades stores and exports of the version before.
pub const SCHEMA_VERSION: u32 = 2;

const SCHEMA_KEY: &[u8] = b"bazaar.schema_version";
const META_TREE: &str = "meta";

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an I/O or corruption problem.
    #[error("store at {path}: {source}")]
    Sled {
        /// The store's directory.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// Another process holds the store open.
    #[error("store at {path} is in use by another bazaar process; stop it first (or point --data-dir elsewhere)")]
    Locked {
        /// The store's directory.
        path: PathBuf,
    },
    /// A record could not be encoded or decoded.
    #[error("{tree} record is not valid: {source}")]
    Codec {
        tree: &'static str,
        /// serde's error.
        #[source]
        source: serde_json::Error,
    },
    /// The store was written by a different version of Bazaar.
    #[error("store at {path} has schema version {found}, this bazaar understands {expected}; export it with the bazaar that wrote it and `bazaar import` it here")]
    SchemaMismatch {
        /// The store's directory.
        path: PathBuf,
        /// Version on disk.
        found: u32,
        /// Version this binary writes.
        expected: u32,
    },
    /// A unique index already maps this value to another record.
    #[error("{tree}: {index} {value:?} already belongs to another record")]
    Duplicate {
        tree: &'static str,
        index: &'static str,
        /// The clashing value.
        value: String,
    },
    /// An import line was not understood.
    #[error("import line {line}: {problem}")]
    Import {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// Import into a store that already holds records.
    #[error(
        "store at {path} already holds {records} records; import only into an empty --data-dir"
    )]
    NotEmpty {
        /// The store's directory.
        path: PathBuf,
        /// How many records it holds.
        records: usize,
    },
    /// Reading or writing the export stream failed.
    #[error("export stream: {0}")]
    Io(#[from] std::io::Error),
}

/// A key a record is stored under.
pub trait StoreKey {
    /// Big-endian bytes, so keys sort in their natural order.
    fn key_bytes(&self) -> Vec<u8>;
}

macro_rules! id_keys {
    ($($id:ty),*) => {$(
        impl StoreKey for $id {
            fn key_bytes(&self) -> Vec<u8> {
                self.to_bytes().to_vec()
            }
        }
    )*};
}
id_keys!(
    ListingId,
    SellerId,
    ProductId,
    OpportunityId,
    NegotiationId,
    ItemId,
    ChannelListingId,
    OrderId,
    TransactionId,
    ActionId,
    ApprovalId
);

impl StoreKey for String {
    fn key_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl StoreKey for u64 {
    fn key_bytes(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
}

/// A secondary index entry: `index` maps `value` to the record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IndexEntry {
    /// Index name, e.g. `"by_status"`.
    pub index: &'static str,
    /// The indexed value.
    pub value: Vec<u8>,
    /// Whether at most one record may hold this value.
    pub unique: bool,
}

impl IndexEntry {
    /// A non-unique entry.
    pub fn new<R>(index: IndexName<R>, value: impl AsRef<[u8]>) -> Self {
        IndexEntry {
            index: index.name(),
            value: value.as_ref().to_vec(),
            unique: false,
        }
    }

    /// A unique entry.
    pub fn unique<R>(index: IndexName<R>, value: impl AsRef<[u8]>) -> Self {
        IndexEntry {
            unique: true,
            ..IndexEntry::new(index, value)
        }
    }
}

/// A record type the store keeps in its own tree.
pub trait Record: Serialize + DeserializeOwned + Send + 'static {
    /// The tree's name, also the record kind in exports.
    const TREE: &'static str;
    /// The key type.
    type Key: StoreKey;
    /// Whether the type has secondary indexes at all; a type without them is written with
    /// a plain insert instead of a two-tree transaction.
    const INDEXED: bool = true;
    /// This record's key.
    fn key(&self) -> Self::Key;
    /// The secondary index entries this record should have.
    fn index_entries(&self) -> Vec<IndexEntry> {
        Vec::new()
    }
}

/// Joins index key parts so `(a, b)` and `(ab, "")` cannot collide.
pub fn index_value(parts: &[&str]) -> Vec<u8> {
    parts.join("\u{1f}").into_bytes()
}

impl Record for MarketListing {
    const TREE: &'static str = "listing";
    type Key = ListingId;
    fn key(&self) -> ListingId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry::unique(
            Self::BY_SOURCE,
            index_value(&[self.marketplace.name(), &self.external_id]),
        )]
    }
}

impl Record for Seller {
    const TREE: &'static str = "seller";
    type Key = SellerId;
    fn key(&self) -> SellerId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry::unique(
            Self::BY_SOURCE,
            index_value(&[self.marketplace.name(), &self.external_id]),
        )]
    }
}

impl Record for ProductRecord {
    const TREE: &'static str = "product";
    type Key = ProductId;
    fn key(&self) -> ProductId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries = vec![IndexEntry::new(Self::BY_CATEGORY, &self.category)];
        if let Some(listing) = self.listing {
            entries.push(IndexEntry::unique(Self::BY_LISTING, listing.to_bytes()));
        }
        entries
    }
}

impl Record for Opportunity {
    const TREE: &'static str = "opportunity";
    type Key = OpportunityId;
    fn key(&self) -> OpportunityId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry::new(Self::BY_STATUS, self.lifecycle.status.to_string()),
            IndexEntry::unique(Self::BY_LISTING, self.listing.to_bytes()),
        ]
    }
}

impl Record for Negotiation {
    const TREE: &'static str = "negotiation";
    type Key = NegotiationId;
    fn key(&self) -> NegotiationId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry::new(Self::BY_STATUS, self.lifecycle.status.to_string()),
            IndexEntry::new(Self::BY_OPPORTUNITY, self.opportunity.to_bytes()),
            IndexEntry::new(Self::BY_SELLER, self.seller.to_bytes()),
        ]
    }
}

impl Record for InventoryItem {
    const TREE: &'static str = "item";
    type Key = ItemId;
    fn key(&self) -> ItemId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry::new(
            Self::BY_STATUS,
            self.lifecycle.status.to_string(),
        )]
    }
}

impl Record for ChannelListing {
    const TREE: &'static str = "channel_listing";
    type Key = ChannelListingId;
    fn key(&self) -> ChannelListingId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries = vec![
            IndexEntry::new(Self::BY_ITEM, self.item.to_bytes()),
            IndexEntry::new(Self::BY_STATUS, self.lifecycle.status.to_string()),
            IndexEntry::unique(
                Self::BY_SKU,
                index_value(&[self.marketplace.name(), &self.sku]),
            ),
        ];
        if let Some(external) = &self.external_id {
            entries.push(IndexEntry::unique(
                Self::BY_SOURCE,
                index_value(&[self.marketplace.name(), external]),
            ));
        }
        entries
    }
}

impl Record for Order {
    const TREE: &'static str = "order";
    type Key = OrderId;
    fn key(&self) -> OrderId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry::unique(
                Self::BY_SOURCE,
                index_value(&[self.marketplace.name(), &self.external_id]),
            ),
            IndexEntry::new(Self::BY_STATUS, self.lifecycle.status.to_string()),
        ]
    }
}

impl Record for Transaction {
    const TREE: &'static str = "transaction";
    type Key = TransactionId;
    fn key(&self) -> TransactionId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        match self.item {
            Some(item) => vec![IndexEntry::new(Self::BY_ITEM, item.to_bytes())],
            None => Vec::new(),
        }
    }
}

impl Record for ActionRecord {
    const TREE: &'static str = "action";
    type Key = ActionId;
    fn key(&self) -> ActionId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![
            IndexEntry::unique(Self::BY_IDEMPOTENCY_KEY, &self.idempotency_key),
            IndexEntry::new(Self::BY_STATUS, self.lifecycle.status.to_string()),
        ]
    }
}

impl Record for AuditEntry {
    const TREE: &'static str = "audit";
    const INDEXED: bool = false;
    type Key = u64;
    fn key(&self) -> u64 {
        self.seq
    }
}

impl Record for Approval {
    const TREE: &'static str = "approval";
    type Key = ApprovalId;
    fn key(&self) -> ApprovalId {
        self.id
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        vec![IndexEntry::new(
            Self::BY_STATUS,
            self.lifecycle.status.to_string(),
        )]
    }
}

impl Record for MailRecord {
    const TREE: &'static str = "mail";
    type Key = String;
    fn key(&self) -> String {
        self.message_id.clone()
    }
    fn index_entries(&self) -> Vec<IndexEntry> {
        let mut entries = vec![IndexEntry::new(Self::BY_ROUTE, self.route.as_str())];
        if let Some(negotiation) = self.negotiation {
            entries.push(IndexEntry::new(
                Self::BY_NEGOTIATION,
                negotiation.to_bytes(),
            ));
        }
        entries
    }
}

/// Calls `$m!(Type)` for every record type, in export order. The one list of record types.
#[macro_export]
macro_rules! for_each_record {
    ($m:ident) => {
        $m!($crate::MarketListing);
        $m!($crate::Seller);
        $m!($crate::ProductRecord);
        $m!($crate::Opportunity);
        $m!($crate::Negotiation);
        $m!($crate::InventoryItem);
        $m!($crate::ChannelListing);
        $m!($crate::Order);
        $m!($crate::Transaction);
        $m!($crate::ActionRecord);
        $m!($crate::AuditEntry);
        $m!($crate::Approval);
        $m!($crate::MailRecord);
    };
}

/// The store's operations, so callers do not depend on sled.
pub trait Store: Clone + Send + Sync + 'static {
    /// Inserts or replaces a record, updating its secondary indexes in the same transaction.
    fn put<R: Record>(&self, record: &R) -> Result<(), StoreError>;
    /// Reads a record by key.
    fn get<R: Record>(&self, key: &R::Key) -> Result<Option<R>, StoreError>;
    /// Removes a record and its index entries; returns it if it existed.
    fn remove<R: Record>(&self, key: &R::Key) -> Result<Option<R>, StoreError>;
    /// Every record of a type, in key order.
    fn all<R: Record>(&self) -> Result<Vec<R>, StoreError>;
    /// Records whose `index` holds `value`, in key order.
    fn find<R: Record>(&self, index: IndexName<R>, value: &[u8]) -> Result<Vec<R>, StoreError>;
    /// Records whose status is `status`, through their status index.
    fn with_status<R: Record + StatusIndexed>(
        &self,
        status: R::Status,
    ) -> Result<Vec<R>, StoreError> {
        self.find(R::BY_STATUS, status.to_string().as_bytes())
    }
    /// How many records of a type there are.
    fn count<R: Record>(&self) -> usize;
    /// Small named state (cursors, counters, high-water marks) as JSON.
    fn put_meta<V: Serialize>(&self, key: &str, value: &V) -> Result<(), StoreError>;
    /// Reads named state back.
    fn get_meta<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>, StoreError>;
    /// Forgets named state.
    fn remove_meta(&self, key: &str) -> Result<(), StoreError>;
    /// Makes everything written so far durable. Call at every durable point. A store whose
    /// flushes are deferred (the simulator's, [`SledStore::defer_flushes`]) makes them
    /// durable at its next [`Store::sync`] instead.
    fn flush(&self) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
    /// Makes everything written so far durable now, deferred or not: the policy gate's
    /// records of actions before they happen, and the simulator's hourly durable point.
    fn sync(&self) -> impl std::future::Future<Output = Result<(), StoreError>> + Send;
}

/// The sled-backed [`Store`]. Cheap to clone; one per process.
#[derive(Clone)]
pub struct SledStore {
    db: sled::Db,
    path: PathBuf,
    /// Set by [`SledStore::defer_flushes`]; shared by every clone.
    deferred: Arc<AtomicBool>,
    /// Held by every write that moves index entries, so two of them cannot interleave
    /// (a unique value claimed twice, an entry removed that another write just added).
    index_writer: Arc<Mutex<()>>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.path)
            .finish()
    }
}

/// Unique entries are keyed by `(index, value)` alone and hold the record key as their
/// value, so a transaction can see a clash with a point read; other entries append the
/// record key and hold nothing.
fn index_key(entry: &IndexEntry, record_key: &[u8]) -> Vec<u8> {
    let mut key = index_prefix(entry.index, &entry.value);
    if !entry.unique {
        key.extend_from_slice(record_key);
    }
    key
}

fn index_prefix(index: &str, value: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(index.len() + value.len() + 5);
    key.extend_from_slice(index.as_bytes());
    key.push(0);
    key.extend_from_slice(&(value.len() as u32).to_be_bytes());
    key.extend_from_slice(value);
    key
}

/// Removes the snapshots a killed process left half written. sled writes a snapshot to
/// `snap.<lsn>.generating` and renames it when complete; 0.34.7 takes a leftover
/// `.generating` file for the newest snapshot and refuses to open ("Read corrupted data",
/// sled issue #1527). Such a file is unfinished by construction, and sled recovers without
/// it from the snapshot before it and the log.
///
/// Only while no process has the store open (sled's lock on `db` is free): a running
/// Bazaar may be writing one right now.
fn remove_unfinished_snapshots(dir: &Path) -> Result<(), StoreError> {
    let Ok(db) = std::fs::File::open(dir.join("db")) else {
        return Ok(()); // a store not created yet
    };
    if db.try_lock().is_err() {
        return Ok(()); // open elsewhere: sled says so
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            std::fs::remove_file(entry.path())?;
            tracing::warn!(path = %entry.path().display(), "removed a snapshot a crash left half written");
        }
    }
    Ok(())
}

fn index_tree_name(tree: &str) -> String {
    format!("{tree}.idx")
}

impl SledStore {
    /// Opens (or creates) the store in `dir`, checking the schema version.
    ///
    /// A lock held by a store dropped a moment ago (its background flusher still finishing,
    /// or a process still exiting) is waited out for up to a second before it is reported as
    /// [`StoreError::Locked`].
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        loop {
            match SledStore::open_once(dir) {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                result => return result,
            }
        }
    }

    fn open_once(dir: &Path) -> Result<SledStore, StoreError> {
        let path = dir.to_path_buf();
        remove_unfinished_snapshots(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .open()
            .map_err(|source| match source {
                // sled 0.34 reports a held lock as ErrorKind::Other "could not acquire lock on …".
                sled::Error::Io(ref io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.raw_os_error() == Some(11)
                        || io.to_string().starts_with("could not acquire lock") =>
                {
                    StoreError::Locked { path: path.clone() }
                }
                source => StoreError::Sled {
                    path: path.clone(),
                    source,
                },
            })?;
        let store = SledStore {
            db,
            path,
            deferred: Arc::default(),
            index_writer: Arc::default(),
        };
        tracing::info!(path = %store.path.display(), recovered = store.db.was_recovered(), "store opened");
        store.check_schema()?;
        Ok(store)
    }

    /// A throwaway store in a temporary directory (tests and benches).
    pub fn temporary() -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .map_err(|source| StoreError::Sled {
                path: PathBuf::from("<temporary>"),
                source,
            })?;
        let store = SledStore {
            db,
            path: PathBuf::from("<temporary>"),
            deferred: Arc::default(),
            index_writer: Arc::default(),
        };
        store.check_schema()?;
        Ok(store)
    }

    /// From now on [`Store::flush`] does nothing and [`Store::sync`] makes everything
    /// durable: for the simulator only, which plays the world an hour at a time and syncs
    /// once an hour (a month of per-write durable points cost it tens of thousands of
    /// fsyncs). `bazaar run` never defers: each durable point is one.
    pub fn defer_flushes(&self) {
        self.deferred.store(true, Ordering::Relaxed);
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether sled found a previous process's data when it opened.
    pub fn was_recovered(&self) -> bool {
        self.db.was_recovered()
    }

    fn sled_err(&self, source: sled::Error) -> StoreError {
        StoreError::Sled {
            path: self.path.clone(),
            source,
        }
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        let meta = self.tree(META_TREE)?;
        match meta.get(SCHEMA_KEY).map_err(|e| self.sled_err(e))? {
            Some(bytes) => {
                let found = <[u8; 4]>::try_from(bytes.as_ref())
                    .map(u32::from_be_bytes)
                    .unwrap_or(0);
                if (crate::migrate::OLDEST_UPGRADABLE..SCHEMA_VERSION).contains(&found) {
                    self.upgrade_from(found)?;
                } else if found != SCHEMA_VERSION {
                    return Err(StoreError::SchemaMismatch {
                        path: self.path.clone(),
                        found,
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                let records = self.record_count();
                if records > 0 {
                    return Err(StoreError::SchemaMismatch {
                        path: self.path.clone(),
                        found: 0,
                        expected: SCHEMA_VERSION,
                    });
                }
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| self.sled_err(e))?;
            }
        }
        Ok(())
    }

    /// Rewrites every record an older schema wrote in the current shape (see
    /// [`crate::migrate`]), after saving the store as it was, as an export the older Bazaar
    /// imports (`<store>.schema-<n>.jsonl` beside it: the way back); then records the new
    /// version and flushes. Each upgraded record must read as the current type, or nothing
    /// is changed. A crash part way leaves the old version recorded, and the next open runs
    /// the (idempotent) steps again. No step so far changes an index entry, so records are
    /// rewritten in place.
    fn upgrade_from(&self, found: u32) -> Result<(), StoreError> {
        let backup = self.save_before_upgrade(found)?;
        let mut rewritten = 0usize;
        macro_rules! upgrade_tree {
            ($t:ty) => {
                let name = <$t as Record>::TREE;
                if crate::migrate::changes(name, found) {
                    let codec = |source| StoreError::Codec { tree: name, source };
                    let tree = self.tree(name)?;
                    let mut batch = sled::Batch::default();
                    for item in tree.iter() {
                        let (key, value) = item.map_err(|e| self.sled_err(e))?;
                        let mut record: serde_json::Value =
                            serde_json::from_slice(&value).map_err(codec)?;
                        if crate::migrate::upgrade(name, found, &mut record) {
                            // Written as `put` writes the current type, fields in order.
                            let typed: $t = serde_json::from_value(record).map_err(codec)?;
                            batch.insert(key, serde_json::to_vec(&typed).map_err(codec)?);
                            rewritten += 1;
                        }
                    }
                    tree.apply_batch(batch).map_err(|e| self.sled_err(e))?;
                }
            };
        }
        for_each_record!(upgrade_tree);
        self.db.flush().map_err(|e| self.sled_err(e))?;
        self.tree(META_TREE)?
            .insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
            .map_err(|e| self.sled_err(e))?;
        self.db.flush().map_err(|e| self.sled_err(e))?;
        tracing::info!(path = %self.path.display(), from = found, to = SCHEMA_VERSION, rewritten, backup = %backup.display(), "store upgraded to this bazaar's schema; the store as it was is saved in the backup");
        Ok(())
    }

    /// Writes the store as an export of schema `found` beside it, unless one is there
    /// already (from an upgrade a crash interrupted: that one holds the records as they
    /// were before any step ran).
    fn save_before_upgrade(&self, found: u32) -> Result<PathBuf, StoreError> {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "store".into());
        let backup = self
            .path
            .with_file_name(format!("{name}.schema-{found}.jsonl"));
        if backup.exists() {
            return Ok(backup);
        }
        let partial = backup.with_extension("jsonl.partial");
        let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        self.export_as(&mut out, found)?;
        out.flush()?;
        out.get_ref().sync_all()?;
        drop(out);
        std::fs::rename(&partial, &backup)?;
        Ok(backup)
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        self.db.open_tree(name).map_err(|e| self.sled_err(e))
    }

    /// Record counts per tree, in export order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts = Vec::new();
        macro_rules! count {
            ($t:ty) => {
                counts.push((<$t as Record>::TREE, self.count::<$t>()));
            };
        }
        for_each_record!(count);
        counts
    }

    fn record_count(&self) -> usize {
        self.counts().iter().map(|(_, n)| n).sum()
    }

    /// Writes every record and every meta entry as JSON lines: a header line, then
    /// `{"kind": tree, "record": …}` per record in tree and key order. Records are written
    /// exactly as stored, so export → import → export reproduces the same bytes.
    pub fn export(&self, out: &mut impl Write) -> Result<usize, StoreError> {
        self.export_as(out, SCHEMA_VERSION)
    }

    /// [`export`](SledStore::export) under a header naming `schema_version`: the records are
    /// written as stored, so before an upgrade this is an export the older Bazaar imports.
    fn export_as(&self, out: &mut impl Write, schema_version: u32) -> Result<usize, StoreError> {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "bazaar_export": 1, "schema_version": schema_version })
        )?;
        let mut lines = 0;
        let mut write_tree = |out: &mut dyn Write, name: &'static str| -> Result<(), StoreError> {
            for item in self.tree(name)?.iter() {
                let (key, value) = item.map_err(|e| self.sled_err(e))?;
                if name == META_TREE {
                    if key.as_ref() == SCHEMA_KEY {
                        continue;
                    }
                    let key = serde_json::to_string(&String::from_utf8_lossy(&key)).map_err(
                        |source| StoreError::Codec {
                            tree: META_TREE,
                            source,
                        },
                    )?;
                    write!(out, "{{\"kind\":\"{META_TREE}\",\"key\":{key},\"record\":")?;
                } else {
                    write!(out, "{{\"kind\":\"{name}\",\"record\":")?;
                }
                out.write_all(&value)?;
                out.write_all(b"}\n")?;
                lines += 1;
            }
            Ok(())
        };
        macro_rules! export_tree {
            ($t:ty) => {
                write_tree(out, <$t as Record>::TREE)?;
            };
        }
        for_each_record!(export_tree);
        write_tree(out, META_TREE)?;
        out.flush()?;
        Ok(lines)
    }

    /// Reads an export back into this (empty) store, rebuilding every index. Nothing is
    /// written unless every line parses.
    pub async fn import(&self, input: impl BufRead) -> Result<usize, StoreError> {
        let records = self.record_count();
        if records > 0 {
            return Err(StoreError::NotEmpty {
                path: self.path.clone(),
                records,
            });
        }
        #[derive(serde::Deserialize)]
        struct Line<'a> {
            kind: String,
            key: Option<String>,
            #[serde(borrow)]
            record: &'a serde_json::value::RawValue,
        }
        type Write = Box<dyn FnOnce(&SledStore) -> Result<(), StoreError>>;
        let mut pending: Vec<Write> = Vec::new();
        let mut exported_by = SCHEMA_VERSION;
        for (n, line) in input.lines().enumerate() {
            let line_no = n + 1;
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |problem: String| StoreError::Import {
                line: line_no,
                problem,
            };
            if line_no == 1 {
                let header: serde_json::Value =
                    serde_json::from_str(&line).map_err(|e| bad(format!("not JSON: {e}")))?;
                if header.get("bazaar_export").is_none() {
                    return Err(bad(
                        "missing the export header; is this a `bazaar export` file?".into(),
                    ));
                }
                let version = header.get("schema_version").and_then(|v| v.as_u64());
                match version.and_then(|v| u32::try_from(v).ok()) {
                    Some(v) if (crate::migrate::OLDEST_UPGRADABLE..=SCHEMA_VERSION).contains(&v) => {
                        exported_by = v;
                    }
                    _ => {
                        return Err(bad(format!(
                            "export has schema version {version:?}, this bazaar reads {} to {SCHEMA_VERSION}; import it with a bazaar of its version",
                            crate::migrate::OLDEST_UPGRADABLE
                        )))
                    }
                }
                continue;
            }
            let parsed: Line =
                serde_json::from_str(&line).map_err(|e| bad(format!("not a record line: {e}")))?;
            let kind = parsed.kind;
            if kind == META_TREE {
                let key = parsed
                    .key
                    .ok_or_else(|| bad("meta line without \"key\"".into()))?;
                let raw = parsed.record.get().as_bytes().to_vec();
                pending.push(Box::new(move |store: &SledStore| {
                    store
                        .tree(META_TREE)?
                        .insert(key.as_bytes(), raw)
                        .map_err(|e| store.sled_err(e))?;
                    Ok(())
                }));
                continue;
            }
            let mut matched = false;
            macro_rules! import_kind {
                ($t:ty) => {
                    if !matched && kind == <$t as Record>::TREE {
                        matched = true;
                        let typed: $t = if exported_by < SCHEMA_VERSION {
                            let mut record: serde_json::Value =
                                serde_json::from_str(parsed.record.get())
                                    .map_err(|e| bad(format!("{kind} record: {e}")))?;
                            crate::migrate::upgrade(&kind, exported_by, &mut record);
                            serde_json::from_value(record)
                        } else {
                            serde_json::from_str(parsed.record.get())
                        }
                        .map_err(|e| bad(format!("{kind} record: {e}")))?;
                        pending.push(Box::new(move |store: &SledStore| store.put(&typed)));
                    }
                };
            }
            for_each_record!(import_kind);
            if !matched {
                return Err(bad(format!("unknown record kind {kind:?}")));
            }
        }
        let imported = pending.len();
        for write in pending {
            if let Err(error) = write(self) {
                // The store was empty before; leave it empty rather than half-imported.
                self.clear_all()?;
                return Err(error);
            }
        }
        self.flush().await?;
        Ok(imported)
    }

    /// Removes every record, index entry and meta entry (keeping the schema version).
    fn clear_all(&self) -> Result<(), StoreError> {
        let mut trees = vec![META_TREE.to_string()];
        macro_rules! name {
            ($t:ty) => {
                trees.push(<$t as Record>::TREE.to_string());
                trees.push(index_tree_name(<$t as Record>::TREE));
            };
        }
        for_each_record!(name);
        for name in trees {
            self.tree(&name)?.clear().map_err(|e| self.sled_err(e))?;
        }
        self.tree(META_TREE)?
            .insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    /// Checks that every record is found through each of its index entries; returns the
    /// problems found. Entries whose record no longer carries them (a crash between the
    /// steps of a write leaves some) are not problems: readers skip them;
    /// [`SledStore::stale_index_entries`] counts them.
    pub fn verify_indexes(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        macro_rules! verify {
            ($t:ty) => {
                problems.extend(self.index_check_of::<$t>()?.0);
            };
        }
        for_each_record!(verify);
        Ok(problems)
    }

    /// How many index entries name a record that does not carry them. Only a crash in the
    /// middle of a write leaves any.
    pub fn stale_index_entries(&self) -> Result<usize, StoreError> {
        let mut stale = 0;
        macro_rules! count {
            ($t:ty) => {
                stale += self.index_check_of::<$t>()?.1;
            };
        }
        for_each_record!(count);
        Ok(stale)
    }

    /// The missing entries of `R`'s index, and how many stale ones it holds.
    fn index_check_of<R: Record>(&self) -> Result<(Vec<String>, usize), StoreError> {
        let mut expected = std::collections::BTreeMap::new();
        for record in self.all::<R>()? {
            let key = record.key().key_bytes();
            for entry in record.index_entries() {
                let held_by = if entry.unique {
                    key.clone()
                } else {
                    Vec::new()
                };
                expected.insert(index_key(&entry, &key), held_by);
            }
        }
        let mut actual = std::collections::BTreeMap::new();
        for item in self.tree(&index_tree_name(R::TREE))?.iter() {
            let (key, held_by) = item.map_err(|e| self.sled_err(e))?;
            actual.insert(key.to_vec(), held_by.to_vec());
        }
        let missing = expected
            .iter()
            .filter(|(key, held_by)| actual.get(*key) != Some(*held_by))
            .map(|(key, _)| format!("{}: index entry missing: {key:?}", R::TREE))
            .collect();
        let stale = actual
            .iter()
            .filter(|(key, held_by)| expected.get(*key) != Some(*held_by))
            .count();
        Ok((missing, stale))
    }

    fn encode<R: Record>(record: &R) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(record).map_err(|source| StoreError::Codec {
            tree: R::TREE,
            source,
        })
    }

    fn decode<R: Record>(bytes: &[u8]) -> Result<R, StoreError> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::Codec {
            tree: R::TREE,
            source,
        })
    }

    fn lock_index_writer(&self) -> std::sync::MutexGuard<'_, ()> {
        // The lock guards no data, so a panic while it was held leaves nothing to repair.
        self.index_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes `value` as the record at `key` with `new_entries` as its index entries, in
    /// the crash-safe order the module doc describes.
    fn move_index_entries<R: Record>(
        &self,
        records: &sled::Tree,
        index: &sled::Tree,
        key: &[u8],
        value: &[u8],
        new_entries: &[IndexEntry],
    ) -> Result<(), StoreError> {
        let _writer = self.lock_index_writer();
        loop {
            let old_bytes = records.get(key).map_err(|e| self.sled_err(e))?;
            let old_entries = match &old_bytes {
                Some(bytes) => Self::decode::<R>(bytes)?.index_entries(),
                None => Vec::new(),
            };
            let added: Vec<&IndexEntry> = new_entries
                .iter()
                .filter(|entry| !old_entries.contains(entry))
                .collect();
            // Every unique value first, so a refused write leaves nothing behind.
            for entry in added.iter().filter(|entry| entry.unique) {
                let holder = index
                    .get(index_key(entry, key))
                    .map_err(|e| self.sled_err(e))?;
                if let Some(holder) = holder {
                    if holder.as_ref() != key && self.carries::<R>(records, &holder, entry)? {
                        return Err(StoreError::Duplicate {
                            tree: R::TREE,
                            index: entry.index,
                            value: String::from_utf8_lossy(&entry.value).replace('\u{1f}', "/"),
                        });
                    }
                }
            }
            for entry in &added {
                let held_by: &[u8] = if entry.unique { key } else { &[] };
                index
                    .insert(index_key(entry, key), held_by)
                    .map_err(|e| self.sled_err(e))?;
            }
            let swapped = records
                .compare_and_swap(key, old_bytes, Some(value))
                .map_err(|e| self.sled_err(e))?;
            if swapped.is_err() {
                continue; // changed by a write that moved no entry; read it again
            }
            return self.remove_index_entries(index, key, &old_entries, new_entries);
        }
    }

    /// Removes the record at `key`'s entries in `old` that are not in `kept`; a unique
    /// entry only while it still names this record.
    fn remove_index_entries(
        &self,
        index: &sled::Tree,
        key: &[u8],
        old: &[IndexEntry],
        kept: &[IndexEntry],
    ) -> Result<(), StoreError> {
        for entry in old.iter().filter(|entry| !kept.contains(entry)) {
            let entry_key = index_key(entry, key);
            if entry.unique {
                // Err means another record holds the value now: leave it to that one.
                let _ = index
                    .compare_and_swap(&entry_key, Some(key), None::<&[u8]>)
                    .map_err(|e| self.sled_err(e))?;
            } else {
                index.remove(entry_key).map_err(|e| self.sled_err(e))?;
            }
        }
        Ok(())
    }

    /// Whether the record at `key` (still) carries `entry`.
    fn carries<R: Record>(
        &self,
        records: &sled::Tree,
        key: &[u8],
        entry: &IndexEntry,
    ) -> Result<bool, StoreError> {
        let Some(bytes) = records.get(key).map_err(|e| self.sled_err(e))? else {
            return Ok(false);
        };
        Ok(Self::decode::<R>(&bytes)?.index_entries().contains(entry))
    }
}

impl Store for SledStore {
    fn put<R: Record>(&self, record: &R) -> Result<(), StoreError> {
        let records = self.tree(R::TREE)?;
        let index = self.tree(&index_tree_name(R::TREE))?;
        let key = record.key().key_bytes();
        let value = Self::encode(record)?;
        if !R::INDEXED {
            records.insert(key, value).map_err(|e| self.sled_err(e))?;
            return Ok(());
        }
        let new_entries = record.index_entries();
        // A change that moves no index entry (a listing seen again, a note added) is one
        // atomic swap of the record: a sled transaction costs a log write and sync of its
        // own, and a month of such updates was most of the simulator's disk time. If the
        // record changed meanwhile, the swap fails and the transaction below decides.
        if let Some(old) = records.get(&key).map_err(|e| self.sled_err(e))? {
            let old_record: R = Self::decode(&old)?;
            if old_record.index_entries() == new_entries {
                let swapped = records
                    .compare_and_swap(&key, Some(old), Some(value.as_slice()))
                    .map_err(|e| self.sled_err(e))?;
                if swapped.is_ok() {
                    return Ok(());
                }
            }
        }
        self.move_index_entries::<R>(&records, &index, &key, &value, &new_entries)
    }

    fn get<R: Record>(&self, key: &R::Key) -> Result<Option<R>, StoreError> {
        let tree = self.tree(R::TREE)?;
        match tree.get(key.key_bytes()).map_err(|e| self.sled_err(e))? {
            Some(bytes) => Ok(Some(Self::decode(&bytes)?)),
            None => Ok(None),
        }
    }

    fn remove<R: Record>(&self, key: &R::Key) -> Result<Option<R>, StoreError> {
        let records = self.tree(R::TREE)?;
        let index = self.tree(&index_tree_name(R::TREE))?;
        let key = key.key_bytes();
        let _writer = self.lock_index_writer();
        loop {
            let Some(old_bytes) = records.get(&key).map_err(|e| self.sled_err(e))? else {
                return Ok(None);
            };
            let old: R = Self::decode(&old_bytes)?;
            let removed = records
                .compare_and_swap(&key, Some(old_bytes), None::<&[u8]>)
                .map_err(|e| self.sled_err(e))?;
            if removed.is_err() {
                continue; // changed by a write that moved no entry; read it again
            }
            self.remove_index_entries(&index, &key, &old.index_entries(), &[])?;
            return Ok(Some(old));
        }
    }

    fn all<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        let tree = self.tree(R::TREE)?;
        tree.iter()
            .map(|item| {
                let (_, value) = item.map_err(|e| self.sled_err(e))?;
                Self::decode(&value)
            })
            .collect()
    }

    fn find<R: Record>(&self, index: IndexName<R>, value: &[u8]) -> Result<Vec<R>, StoreError> {
        let index = index.name();
        let records = self.tree(R::TREE)?;
        let index_tree = self.tree(&index_tree_name(R::TREE))?;
        let prefix = index_prefix(index, value);
        let mut found = Vec::new();
        for item in index_tree.scan_prefix(&prefix) {
            let (key, holder) = item.map_err(|e| self.sled_err(e))?;
            let record_key = if holder.is_empty() {
                &key[prefix.len()..]
            } else {
                holder.as_ref()
            };
            // An entry whose record has gone or moved on (a write in progress, or what a
            // crash left behind) is skipped.
            let Some(bytes) = records.get(record_key).map_err(|e| self.sled_err(e))? else {
                continue;
            };
            let record: R = Self::decode(&bytes)?;
            let carries = record
                .index_entries()
                .iter()
                .any(|entry| entry.index == index && entry.value == value);
            if carries {
                found.push(record);
            }
        }
        Ok(found)
    }

    fn count<R: Record>(&self) -> usize {
        self.tree(R::TREE).map(|t| t.len()).unwrap_or(0)
    }

    fn put_meta<V: Serialize>(&self, key: &str, value: &V) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Codec {
            tree: META_TREE,
            source,
        })?;
        self.tree(META_TREE)?
            .insert(key.as_bytes(), bytes)
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    fn remove_meta(&self, key: &str) -> Result<(), StoreError> {
        self.tree(META_TREE)?
            .remove(key.as_bytes())
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    fn get_meta<V: DeserializeOwned>(&self, key: &str) -> Result<Option<V>, StoreError> {
        match self
            .tree(META_TREE)?
            .get(key.as_bytes())
            .map_err(|e| self.sled_err(e))?
        {
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| StoreError::Codec {
                        tree: META_TREE,
                        source,
                    })
            }
            None => Ok(None),
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        if self.deferred.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.sync().await
    }

    async fn sync(&self) -> Result<(), StoreError> {
        self.db.flush_async().await.map_err(|e| self.sled_err(e))?;
        Ok(())
    }
}
