//! The search index: tantivy over products and sellers, derived from the store and
//! rebuildable from it. One writer task owns the `IndexWriter`, batches commits, and reloads
//! the reader after each commit so a caller that awaited [`ProductIndex::commit`] reads its
//! own writes.

use std::path::Path;
use std::time::Duration;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Schema, Value, INDEXED, STORED, STRING, TEXT};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tokio::sync::{mpsc, oneshot};

use crate::model::{Condition, ProductRecord, Seller};
use crate::store::{SledStore, Store, StoreError};
use crate::{Currency, Money};

/// What went wrong in the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// tantivy reported a problem.
    #[error("search index: {0}; `bazaar reindex` rebuilds it from the store")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The directory could not be opened.
    #[error("search index at {path}: {source}")]
    Open {
        /// Where.
        path: String,
        /// Why.
        #[source]
        source: tantivy::directory::error::OpenDirectoryError,
    },
    /// The writer task is gone (the process is shutting down).
    #[error("search index writer has stopped")]
    WriterGone,
    /// Rebuilding read the store and the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Filesystem trouble.
    #[error("search index: {0}")]
    Io(#[from] std::io::Error),
}

/// How the writer batches.
#[derive(Debug, Clone, Copy)]
pub struct IndexConfig {
    /// Commit after this many pending documents.
    pub batch_size: usize,
    /// Or after this long since the first pending document.
    pub commit_interval: Duration,
    /// Writer memory budget in bytes.
    pub writer_memory: usize,
    /// Bound on queued writes; producers wait when it is full.
    pub queue_bound: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            batch_size: 1_000,
            commit_interval: Duration::from_millis(500),
            writer_memory: 50_000_000,
            queue_bound: 4_096,
        }
    }
}

/// An item similar to a query, with what it asked and sold for.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparable {
    /// The product's id (ULID text).
    pub product_id: String,
    /// Title.
    pub title: String,
    /// Category.
    pub category: String,
    /// Condition name.
    pub condition: String,
    /// Latest asking price.
    pub asking: Option<Money>,
    /// Sold price.
    pub sold: Option<Money>,
    /// Similarity score (higher is closer); comparable only within one query.
    pub score: f32,
}

/// A search hit of any kind, for `bazaar search`.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// `"product"` or `"seller"`.
    pub kind: String,
    /// The record's id.
    pub id: String,
    /// Title or seller name.
    pub title: String,
    /// Category (empty for sellers).
    pub category: String,
    /// Asking price, for products.
    pub asking: Option<Money>,
    /// Sold price, for products.
    pub sold: Option<Money>,
    /// Score.
    pub score: f32,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    title: Field,
    body: Field,
    category: Field,
    condition: Field,
    asking: Field,
    sold: Field,
    currency: Field,
}

fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let fields = Fields {
        id: builder.add_text_field("id", STRING | STORED),
        kind: builder.add_text_field("kind", STRING | STORED),
        title: builder.add_text_field("title", TEXT | STORED),
        body: builder.add_text_field("body", TEXT),
        category: builder.add_text_field("category", STRING | STORED),
        condition: builder.add_text_field("condition", STRING | STORED),
        asking: builder.add_i64_field("asking", INDEXED | STORED),
        sold: builder.add_i64_field("sold", INDEXED | STORED),
        currency: builder.add_text_field("currency", STRING | STORED),
    };
    (builder.build(), fields)
}

enum WriterOp {
    Upsert { id: String, doc: TantivyDocument },
    Clear,
    Commit(oneshot::Sender<Result<(), String>>),
    Close(oneshot::Sender<Result<(), String>>),
}

/// The product and seller index. Cheap to clone.
#[derive(Clone)]
pub struct ProductIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    writes: mpsc::Sender<WriterOp>,
}

impl ProductIndex {
    /// Opens or creates the index in `dir` and starts its writer task (needs a tokio runtime).
    pub fn open(dir: &Path, config: IndexConfig) -> Result<ProductIndex, IndexError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let directory =
            tantivy::directory::MmapDirectory::open(dir).map_err(|source| IndexError::Open {
                path: dir.display().to_string(),
                source,
            })?;
        let index = Index::open_or_create(directory, schema)?;
        Self::start(index, fields, config)
    }

    /// An in-memory index (tests and benches).
    pub fn in_memory(config: IndexConfig) -> Result<ProductIndex, IndexError> {
        let (schema, fields) = schema();
        Self::start(Index::create_in_ram(schema), fields, config)
    }

    fn start(
        index: Index,
        fields: Fields,
        config: IndexConfig,
    ) -> Result<ProductIndex, IndexError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let writer: IndexWriter = index.writer(config.writer_memory)?;
        let (writes, ops) = mpsc::channel(config.queue_bound);
        tokio::spawn(writer_task(writer, reader.clone(), fields, ops, config));
        Ok(ProductIndex {
            index,
            reader,
            fields,
            writes,
        })
    }

    async fn send(&self, op: WriterOp) -> Result<(), IndexError> {
        self.writes
            .send(op)
            .await
            .map_err(|_| IndexError::WriterGone)
    }

    /// Queues a product for (re)indexing; visible after the next commit.
    pub async fn upsert_product(&self, product: &ProductRecord) -> Result<(), IndexError> {
        let f = self.fields;
        let id = format!("product:{}", product.id);
        let mut doc = doc!(
            f.id => id.clone(),
            f.kind => "product",
            f.title => product.title.clone(),
            f.category => product.category.clone(),
            f.condition => product.condition.name(),
        );
        let currency = product
            .asking
            .or(product.sold)
            .map(|m| m.currency)
            .unwrap_or(Currency::Usd);
        doc.add_text(f.currency, currency.code());
        if let Some(asking) = product.asking {
            doc.add_i64(f.asking, asking.minor);
        }
        if let Some(sold) = product.sold {
            doc.add_i64(f.sold, sold.minor);
        }
        self.send(WriterOp::Upsert { id, doc }).await
    }

    /// Queues a seller for (re)indexing; visible after the next commit.
    pub async fn upsert_seller(&self, seller: &Seller) -> Result<(), IndexError> {
        let f = self.fields;
        let id = format!("seller:{}", seller.id);
        let name = seller.display_name.clone().unwrap_or_default();
        let mut notes = String::new();
        for (_, event) in &seller.history {
            if let crate::model::SellerEvent::Note { text } = event {
                notes.push_str(text);
                notes.push('\n');
            }
        }
        let doc = doc!(
            f.id => id.clone(),
            f.kind => "seller",
            f.title => format!("{name} {}", seller.external_id).trim().to_string(),
            f.body => format!("{} {}", seller.contact.clone().unwrap_or_default(), notes),
            f.category => seller.marketplace.name(),
        );
        self.send(WriterOp::Upsert { id, doc }).await
    }

    /// Commits everything queued so far and reloads the reader.
    pub async fn commit(&self) -> Result<(), IndexError> {
        let (done, wait) = oneshot::channel();
        self.send(WriterOp::Commit(done)).await?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(IndexError::Tantivy(tantivy::TantivyError::SystemError(
                message,
            ))),
            Err(_) => Err(IndexError::WriterGone),
        }
    }

    /// Commits everything queued, stops the writer task and releases the directory's
    /// writer lock, so the index can be opened again (in this process or another). Other
    /// clones get [`IndexError::WriterGone`] on their next write.
    pub async fn close(self) -> Result<(), IndexError> {
        let (done, wait) = oneshot::channel();
        self.send(WriterOp::Close(done)).await?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(IndexError::Tantivy(tantivy::TantivyError::SystemError(
                message,
            ))),
            Err(_) => Err(IndexError::WriterGone),
        }
    }

    /// Drops everything and re-indexes every product and seller in `store`. Returns the
    /// number of documents indexed.
    pub async fn rebuild(&self, store: &SledStore) -> Result<usize, IndexError> {
        self.send(WriterOp::Clear).await?;
        let mut indexed = 0;
        for product in store.all::<ProductRecord>()? {
            self.upsert_product(&product).await?;
            indexed += 1;
        }
        for seller in store.all::<Seller>()? {
            self.upsert_seller(&seller).await?;
            indexed += 1;
        }
        self.commit().await?;
        Ok(indexed)
    }

    /// Number of searchable documents.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    fn title_terms(&self, text: &str) -> Vec<Term> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(self.fields.title) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while let Some(token) = stream.next() {
            let term = Term::from_field_text(self.fields.title, &token.text);
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        terms
    }

    /// The `k` products most similar to a title, within `category` when it is given, with
    /// matching condition ranked higher.
    pub fn comparables(
        &self,
        title: &str,
        category: Option<&str>,
        condition: Option<Condition>,
        k: usize,
    ) -> Result<Vec<Comparable>, IndexError> {
        let f = self.fields;
        let words: Vec<(Occur, Box<dyn Query>)> = self
            .title_terms(title)
            .into_iter()
            .map(|term| {
                let query: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                (Occur::Should, query)
            })
            .collect();
        if words.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, Box::new(BooleanQuery::new(words))),
            (Occur::Must, term_query(f.kind, "product")),
        ];
        if let Some(category) = category.filter(|c| !c.is_empty()) {
            clauses.push((Occur::Must, term_query(f.category, category)));
        }
        if let Some(condition) = condition {
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(
                    term_query(f.condition, condition.name()),
                    0.5,
                )),
            ));
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(k))?;
        let mut found = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let hit = self.hit(&doc, score);
            found.push(Comparable {
                product_id: hit.id,
                title: hit.title,
                category: hit.category,
                condition: text(&doc, f.condition),
                asking: hit.asking,
                sold: hit.sold,
                score,
            });
        }
        Ok(found)
    }

    /// Sellers whose name, handle, contact or notes match `query`.
    pub fn sellers(&self, query: &str, k: usize) -> Result<Vec<Hit>, IndexError> {
        self.search_kind(query, Some("seller"), k)
    }

    /// Free-text search over everything (query syntax is tantivy's, parsed leniently).
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<Hit>, IndexError> {
        self.search_kind(query, None, k)
    }

    fn search_kind(
        &self,
        query: &str,
        kind: Option<&str>,
        k: usize,
    ) -> Result<Vec<Hit>, IndexError> {
        let f = self.fields;
        let parser = QueryParser::for_index(&self.index, vec![f.title, f.body]);
        let (parsed, _errors) = parser.parse_query_lenient(query);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, parsed)];
        if let Some(kind) = kind {
            clauses.push((Occur::Must, term_query(f.kind, kind)));
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&BooleanQuery::new(clauses), &TopDocs::with_limit(k.max(1)))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            hits.push(self.hit(&doc, score));
        }
        Ok(hits)
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Hit {
        let f = self.fields;
        let currency = Currency::from_code(&text(doc, f.currency)).unwrap_or(Currency::Usd);
        let money = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_i64())
                .map(|m| Money::new(m, currency))
        };
        let id = text(doc, f.id);
        let (kind, id) = id
            .split_once(':')
            .map(|(k, i)| (k.to_string(), i.to_string()))
            .unwrap_or_default();
        Hit {
            kind,
            id,
            title: text(doc, f.title),
            category: text(doc, f.category),
            asking: money(f.asking),
            sold: money(f.sold),
            score,
        }
    }
}

impl std::fmt::Debug for ProductIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductIndex")
            .field("docs", &self.num_docs())
            .finish()
    }
}

fn term_query(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

fn text(doc: &TantivyDocument, field: Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

async fn writer_task(
    mut writer: IndexWriter,
    reader: IndexReader,
    fields: Fields,
    mut ops: mpsc::Receiver<WriterOp>,
    config: IndexConfig,
) {
    let mut pending = 0usize;
    let mut waiters: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let op = match deadline {
            Some(at) => tokio::select! {
                op = ops.recv() => op,
                _ = tokio::time::sleep_until(at) => None,
            },
            None => ops.recv().await,
        };
        let closed = op.is_none() && deadline.is_none();
        match op {
            Some(WriterOp::Upsert { id, doc }) => {
                writer.delete_term(Term::from_field_text(fields.id, &id));
                if let Err(error) = writer.add_document(doc) {
                    tracing::error!(%error, "search index: document rejected");
                }
                pending += 1;
                deadline
                    .get_or_insert_with(|| tokio::time::Instant::now() + config.commit_interval);
                if pending < config.batch_size {
                    continue;
                }
            }
            Some(WriterOp::Clear) => {
                // Delete terms only touch documents added before them, so the rebuild's
                // own documents that follow are safe (delete_all_documents races with
                // segments still being written).
                for kind in ["product", "seller"] {
                    writer.delete_term(Term::from_field_text(fields.kind, kind));
                }
                pending += 1;
                continue;
            }
            Some(WriterOp::Commit(done)) => waiters.push(done),
            Some(WriterOp::Close(done)) => {
                let (writer, result) = commit(writer, &reader).await;
                // Dropping the writer joins its threads and releases the directory lock.
                let _ = tokio::task::spawn_blocking(move || drop(writer)).await;
                let _ = done.send(result);
                return;
            }
            None if closed => {
                if pending > 0 {
                    let (_, result) = commit(writer, &reader).await;
                    if let Err(error) = result {
                        tracing::error!(%error, "search index: final commit failed");
                    }
                }
                return;
            }
            None => {}
        }
        // Commit now: a batch filled, the interval passed, or someone is waiting.
        let (returned, result) = commit(writer, &reader).await;
        writer = returned;
        pending = 0;
        deadline = None;
        for waiter in waiters.drain(..) {
            let _ = waiter.send(result.clone());
        }
        if let Err(error) = result {
            tracing::error!(%error, "search index: commit failed");
        }
    }
}

async fn commit(
    mut writer: IndexWriter,
    reader: &IndexReader,
) -> (IndexWriter, Result<(), String>) {
    let joined = tokio::task::spawn_blocking(move || {
        let result = writer.commit().map(|_| ());
        (writer, result)
    })
    .await;
    let (writer, result) = match joined {
        Ok(pair) => pair,
        Err(join) => panic!("search index commit task failed: {join}"),
    };
    let result = result
        .and_then(|()| reader.reload())
        .map_err(|e| e.to_string());
    (writer, result)
}
