//! The search index: tantivy over products and sellers, derived from the store and
//! rebuildable from it. One writer task owns the `IndexWriter`, batches commits, and reloads
//! the reader after each commit so a caller that awaited [`ProductIndex::commit`] reads its
//! own writes (and the reader also picks up merged segments on its own).
//!
//! Comparables search products-only fields whose words are scoped to the category
//! (`phone\u{1f}iphone`), scored with the statistics of the shared `title` field, so a
//! search reads just its words' postings and adds them up term at a time; the boolean
//! query form stays as [`ProductIndex::comparables_exhaustive`], the reference.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tantivy::collector::TopDocs;
use tantivy::directory::{Directory, MmapDirectory, INDEX_WRITER_LOCK};
use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, BooleanQuery, BoostQuery, Occur, Query, QueryParser,
    TermQuery,
};
use tantivy::schema::document::{
    DeserializeError, DocumentDeserialize, DocumentDeserializer, ValueDeserialize,
    ValueDeserializer, ValueVisitor,
};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, INDEXED, STORED, STRING, TEXT,
};
use tantivy::store::Compressor;
use tantivy::tokenizer::{PreTokenizedString, Token};
use tantivy::{
    doc, DocAddress, DocId, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Score,
    Searcher, SegmentReader, TantivyDocument, Term,
};
use tokio::sync::{mpsc, oneshot};

use crate::model::{Condition, ProductRecord, Seller};
use crate::store::{SledStore, Store, StoreError};
use crate::{Comparable, Currency, Money};

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
    /// Merge segments in the writer's own step, right after a commit (all of them into one
    /// once there are more than [`MERGE_IN_STEP_AT`]), instead of in background threads.
    /// Scores depend on the segments (deleted documents count until merged), so with
    /// background merges what a search returns depends on when a merge thread finished;
    /// merged in step (and indexed by one thread), it depends only on the sequence of
    /// writes. `bazaar sim` needs that.
    pub merge_in_step: bool,
}

/// Segments that trigger a merge when [`IndexConfig::merge_in_step`] is on.
pub const MERGE_IN_STEP_AT: usize = 8;

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            batch_size: 1_000,
            commit_interval: Duration::from_millis(500),
            writer_memory: 50_000_000,
            queue_bound: 4_096,
            merge_in_step: false,
        }
    }
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
    /// Products only: the title's words, for comparables in any category.
    match_title: Field,
    /// Products only: the title's words, each prefixed with the category and
    /// [`SCOPE`], so a query within a category reads only its words' postings within the
    /// category instead of intersecting them with a category filter.
    match_title_in: Field,
    /// Products only: the condition name.
    match_condition: Field,
    /// Products only: the condition name prefixed with the category and [`SCOPE`].
    match_condition_in: Field,
}

/// Separates a category from the word it scopes in the `match_*_in` fields. The title
/// tokenizer never produces it, so a scoped word splits unambiguously at its last one.
const SCOPE: char = '\u{1f}';

/// How much a matching condition adds, relative to one title word of the same rarity.
const CONDITION_BOOST: Score = 0.5;

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
        match_title: builder.add_text_field("match_title", with_freqs("default")),
        match_title_in: builder.add_text_field("match_title_in", with_freqs("default")),
        match_condition: builder.add_text_field("match_condition", with_freqs("raw")),
        match_condition_in: builder.add_text_field("match_condition_in", with_freqs("raw")),
    };
    (builder.build(), fields)
}

/// Indexed (not stored) with term frequencies and field norms, for BM25.
fn with_freqs(tokenizer: &str) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqs),
    )
}

/// Settings for a new index: the document store uncompressed in small blocks, because
/// every comparable loads its stored document, and reading one copies its whole block
/// (decompressing a 16 KiB LZ4 block for each cost more than the search itself; copying
/// 4 KiB uncompressed was still a fifth of a search). A block holds a few products.
fn settings() -> IndexSettings {
    IndexSettings {
        docstore_compression: Compressor::None,
        docstore_blocksize: 512,
        ..IndexSettings::default()
    }
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
    reset: bool,
    scratch: ScratchPool,
}

impl ProductIndex {
    /// Opens or creates the index in `dir` and starts its writer task (needs a tokio runtime).
    ///
    /// An index written with another schema (an older version of Bazaar) is derived data:
    /// it is replaced by an empty one and [`ProductIndex::was_reset`] says so, so the
    /// caller can [`rebuild`](ProductIndex::rebuild) it from the store (`bazaar reindex`).
    /// If another process is writing the old index, opening fails instead.
    pub fn open(dir: &Path, config: IndexConfig) -> Result<ProductIndex, IndexError> {
        std::fs::create_dir_all(dir)?;
        let (schema, fields) = schema();
        let directory = MmapDirectory::open(dir).map_err(|source| IndexError::Open {
            path: dir.display().to_string(),
            source,
        })?;
        let exists = Index::exists(&directory).map_err(tantivy::TantivyError::from)?;
        if !exists {
            let index = Index::create(directory, schema, settings())?;
            return Self::start(index, fields, config, false);
        }
        let index = Index::open(directory.clone())?;
        if index.schema() == schema {
            return Self::start(index, fields, config, false);
        }
        // Hold the writer lock while the old index is replaced, so a process still
        // writing it is not pulled out from under.
        let lock = directory.acquire_lock(&INDEX_WRITER_LOCK).map_err(|_| {
            IndexError::Tantivy(tantivy::TantivyError::SchemaError(format!(
                "the search index at {} was written by another version of bazaar and is in \
                 use; stop the other process, then run `bazaar reindex`",
                dir.display()
            )))
        })?;
        drop(index);
        // The old segment files are garbage-collected by the first commit.
        let index = Index::create(directory, schema, settings())?;
        drop(lock);
        tracing::warn!(
            path = %dir.display(),
            "search index had another schema; replaced by an empty one, \
             run `bazaar reindex` to rebuild it from the store"
        );
        Self::start(index, fields, config, true)
    }

    /// An in-memory index (tests and benches).
    pub fn in_memory(config: IndexConfig) -> Result<ProductIndex, IndexError> {
        let (schema, fields) = schema();
        let index = Index::builder()
            .schema(schema)
            .settings(settings())
            .create_in_ram()?;
        Self::start(index, fields, config, false)
    }

    /// Whether [`open`](ProductIndex::open) found an index with another schema and replaced
    /// it by an empty one; it holds nothing until [`rebuild`](ProductIndex::rebuild).
    pub fn was_reset(&self) -> bool {
        self.reset
    }

    fn start(
        index: Index,
        fields: Fields,
        config: IndexConfig,
        reset: bool,
    ) -> Result<ProductIndex, IndexError> {
        // The writer task reloads after each commit (read-your-writes); the policy also
        // reloads when background merges land, or a search would keep walking the
        // pre-merge segments (each one costs its own term lookups and pruning warm-up)
        // until the next commit.
        let policy = if config.merge_in_step {
            // Only the writer task reloads, after its own commits and merges.
            ReloadPolicy::Manual
        } else {
            ReloadPolicy::OnCommitWithDelay
        };
        let reader = index.reader_builder().reload_policy(policy).try_into()?;
        let writer: IndexWriter = if config.merge_in_step {
            // One indexing thread: documents land in segments in the order they were
            // written, so equal scores rank the same way every run.
            index.writer_with_num_threads(1, config.writer_memory)?
        } else {
            index.writer(config.writer_memory)?
        };
        if config.merge_in_step {
            writer.set_merge_policy(Box::new(tantivy::merge_policy::NoMergePolicy));
        }
        let (writes, ops) = mpsc::channel(config.queue_bound);
        let merge = config.merge_in_step.then(|| index.clone());
        tokio::spawn(writer_task(
            writer,
            reader.clone(),
            merge,
            fields,
            ops,
            config,
        ));
        Ok(ProductIndex {
            index,
            reader,
            fields,
            writes,
            reset,
            scratch: ScratchPool::default(),
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
        doc.add_text(f.match_title, &product.title);
        doc.add_pre_tokenized_text(
            f.match_title_in,
            self.scoped_tokens(&product.category, &product.title),
        );
        doc.add_text(f.match_condition, product.condition.name());
        doc.add_text(
            f.match_condition_in,
            scoped(&product.category, product.condition.name()),
        );
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

    /// The title's tokens as the title field indexes them, in order, repeats included.
    fn title_tokens(&self, text: &str) -> Vec<Token> {
        let Ok(mut analyzer) = self.index.tokenizer_for_field(self.fields.title) else {
            return Vec::new();
        };
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        while let Some(token) = stream.next() {
            tokens.push(token.clone());
        }
        tokens
    }

    /// The title's tokens, each scoped to `category`: the same count as the title field's,
    /// so the field norms (and with them BM25's length normalization) are the same.
    fn scoped_tokens(&self, category: &str, title: &str) -> PreTokenizedString {
        let mut tokens = self.title_tokens(title);
        for token in &mut tokens {
            token.text = scoped(category, &token.text);
        }
        PreTokenizedString {
            text: title.to_string(),
            tokens,
        }
    }

    /// The distinct words of a title, in order.
    fn title_words(&self, text: &str) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        for token in self.title_tokens(text) {
            if !words.contains(&token.text) {
                words.push(token.text);
            }
        }
        words
    }

    /// The `k` products most similar to a title, within `category` when it is given, with
    /// matching condition ranked higher.
    ///
    /// Scores are BM25 over the title's words (with the whole index's word statistics),
    /// plus half a word's worth for the asked condition, plus a constant per query; they
    /// are the same as [`comparables_exhaustive`](ProductIndex::comparables_exhaustive)'s.
    /// The search reads only the postings of the title's words (and the condition) in
    /// fields that hold products only, scoped to the category, adding them up term at a
    /// time, instead of intersecting every word's documents with the kind and category.
    pub fn comparables(
        &self,
        title: &str,
        category: Option<&str>,
        condition: Option<Condition>,
        k: usize,
    ) -> Result<Vec<Comparable>, IndexError> {
        let words = self.title_words(title);
        if words.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let category = category.filter(|c| !c.is_empty());
        let searcher = self.reader.searcher();
        // Each term searched is weighed with the statistics of the term the exhaustive
        // query searches instead (`title`, `condition`), so both score alike.
        let docs = Bm25StatisticsProvider::total_num_docs(&searcher)?;
        let title_length = average_length(&searcher, f.title, docs)?;
        let mut scored = Vec::with_capacity(words.len());
        for word in &words {
            let term = match category {
                Some(category) => Term::from_field_text(f.match_title_in, &scoped(category, word)),
                None => Term::from_field_text(f.match_title, word),
            };
            let standing = Term::from_field_text(f.title, word);
            let bm25 = weight(&searcher, &standing, docs, title_length)?;
            scored.push(Scored::new(term, bm25));
        }
        let condition = match condition {
            Some(condition) => {
                let term = match category {
                    Some(category) => Term::from_field_text(
                        f.match_condition_in,
                        &scoped(category, condition.name()),
                    ),
                    None => Term::from_field_text(f.match_condition, condition.name()),
                };
                let standing = Term::from_field_text(f.condition, condition.name());
                let length = average_length(&searcher, f.condition, docs)?;
                let bm25 = weight(&searcher, &standing, docs, length)?;
                Some(Scored::new(term, bm25.boost_by(CONDITION_BOOST)))
            }
            None => None,
        };
        let top = self.scratch.lend(|scratch| {
            top_k_accumulated(scratch, &searcher, &scored, condition.as_ref(), k)
        })?;
        // The exhaustive query's required clauses (kind, category) add the same to every
        // hit; add it here too so the scores are the same.
        let mut offset = string_term_score(&searcher, Term::from_field_text(f.kind, "product"))?;
        if let Some(category) = category {
            offset += string_term_score(&searcher, Term::from_field_text(f.category, category))?;
        }
        self.load(&searcher, top, offset)
    }

    /// The same as [`comparables`](ProductIndex::comparables), scoring every document in
    /// the category that shares a word with the title: a disjunction of the words
    /// intersected with required kind and category clauses. The reference the fast path
    /// is tested against.
    pub fn comparables_exhaustive(
        &self,
        title: &str,
        category: Option<&str>,
        condition: Option<Condition>,
        k: usize,
    ) -> Result<Vec<Comparable>, IndexError> {
        let f = self.fields;
        let words: Vec<(Occur, Box<dyn Query>)> = self
            .title_words(title)
            .into_iter()
            .map(|word| {
                let term = Term::from_field_text(f.title, &word);
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
                    CONDITION_BOOST,
                )),
            ));
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(k).order_by_score(),
        )?;
        self.load(&searcher, top, 0.0)
    }

    /// Reads the hits' stored documents, adding `offset` to each score.
    fn load(
        &self,
        searcher: &Searcher,
        top: Vec<(Score, DocAddress)>,
        offset: Score,
    ) -> Result<Vec<Comparable>, IndexError> {
        let f = self.fields;
        let mut found = Vec::with_capacity(top.len());
        for (score, address) in top {
            let score = score + offset;
            let mut doc: Stored = searcher.doc(address)?;
            let condition = doc.take_text(f.condition);
            let hit = self.hit(doc, score);
            found.push(Comparable {
                product_id: hit.id,
                title: hit.title,
                category: hit.category,
                condition,
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
        let top = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(k.max(1)).order_by_score(),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: Stored = searcher.doc(address)?;
            hits.push(self.hit(doc, score));
        }
        Ok(hits)
    }

    fn hit(&self, mut doc: Stored, score: f32) -> Hit {
        let f = self.fields;
        let currency = Currency::from_code(&doc.take_text(f.currency)).unwrap_or(Currency::Usd);
        let money = |field: Field| doc.int(field).map(|m| Money::new(m, currency));
        let (asking, sold) = (money(f.asking), money(f.sold));
        let (kind, id) = doc
            .take_text(f.id)
            .split_once(':')
            .map(|(k, i)| (k.to_string(), i.to_string()))
            .unwrap_or_default();
        Hit {
            kind,
            id,
            title: doc.take_text(f.title),
            category: doc.take_text(f.category),
            asking,
            sold,
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

/// A term to score and how BM25 weighs it (with the statistics the exhaustive query uses).
struct Scored {
    term: Term,
    bm25: Bm25Weight,
    /// `bm25.score(id, 1)` for every field-norm id: most words occur once in a title, and
    /// looking the score up is cheaper than the division that computes it.
    once: Box<[Score; 256]>,
}

impl Scored {
    fn new(term: Term, bm25: Bm25Weight) -> Scored {
        let once = Box::new(std::array::from_fn(|id| bm25.score(id as u8, 1)));
        Scored { term, bm25, once }
    }

    #[inline]
    fn score(&self, fieldnorm_id: u8, freq: u32) -> Score {
        if freq == 1 {
            self.once[fieldnorm_id as usize]
        } else {
            self.bm25.score(fieldnorm_id, freq)
        }
    }
}

/// Calls `add` with each document of `scored`'s postings in `segment` and its score, a
/// block of postings at a time: no scorer, no call through a trait object per document.
#[inline]
fn for_each_posting(
    segment: &SegmentReader,
    scored: &Scored,
    mut add: impl FnMut(DocId, Score),
) -> tantivy::Result<()> {
    let field = scored.term.field();
    let inverted = segment.inverted_index(field)?;
    let Some(info) = inverted.get_term_info(&scored.term)? else {
        return Ok(());
    };
    let mut postings =
        inverted.read_block_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
    let norms = match segment.fieldnorms_readers().get_field(field)? {
        Some(norms) => norms,
        None => FieldNormReader::constant(segment.max_doc(), 1),
    };
    loop {
        let docs = postings.docs();
        if docs.is_empty() {
            return Ok(());
        }
        let freqs = postings.freqs();
        if freqs.len() == docs.len() {
            for (&doc, &freq) in docs.iter().zip(freqs) {
                add(doc, scored.score(norms.fieldnorm_id(doc), freq));
            }
        } else {
            // a field indexed without frequencies: each word once
            for &doc in docs {
                add(doc, scored.score(norms.fieldnorm_id(doc), 1));
            }
        }
        postings.advance();
    }
}

/// The `k` best-scoring documents, best first (ties: the earlier document first), of those
/// matching at least one of `words`: term at a time, each word's postings added into one
/// score per document, then `condition`'s into the documents a word matched (a condition
/// alone never makes a comparable). Short title queries over a category touch few enough
/// postings that this beats block-max WAND, which had to score most of them anyway: the
/// `k`-th best score stays low when many items share some of the words.
fn top_k_accumulated(
    scratch: &mut Scratch,
    searcher: &Searcher,
    words: &[Scored],
    condition: Option<&Scored>,
    k: usize,
) -> Result<Vec<(Score, DocAddress)>, IndexError> {
    // a min-heap of the best k so far, by score then by lateness
    let mut best: BinaryHeap<Reverse<Ranked>> = BinaryHeap::with_capacity(k + 1);
    let Scratch { scores, touched } = scratch;
    for (ord, segment) in searcher.segment_readers().iter().enumerate() {
        scores.resize(segment.max_doc() as usize, 0.0);
        // one more than documents: a posting is written down before it is counted
        touched.resize(segment.max_doc() as usize + 1, 0);
        // Without branches: whether a posting's document was matched before is a coin
        // toss the processor mispredicts, and that cost more than the scoring.
        let mut matched = 0;
        let summed = (|| -> tantivy::Result<()> {
            for word in words {
                // BM25 scores are positive, so zero means "not matched yet".
                for_each_posting(segment, word, |doc, score| {
                    let slot = &mut scores[doc as usize];
                    touched[matched] = doc;
                    matched += usize::from(*slot == 0.0);
                    *slot += score;
                })?;
            }
            if let Some(condition) = condition {
                for_each_posting(segment, condition, |doc, score| {
                    let slot = &mut scores[doc as usize];
                    *slot += if *slot == 0.0 { 0.0 } else { score };
                })?;
            }
            Ok(())
        })();
        let alive = segment.alive_bitset();
        // the k-th best score so far: most documents score below it and skip the heap
        let mut floor = match best.peek() {
            Some(worst) if best.len() == k => worst.0.score,
            _ => Score::NEG_INFINITY,
        };
        for &doc in &touched[..matched] {
            let score = std::mem::take(&mut scores[doc as usize]);
            if score < floor || alive.is_some_and(|alive| alive.is_deleted(doc)) {
                continue;
            }
            let ranked = Ranked {
                score,
                address: DocAddress::new(ord as u32, doc),
            };
            if best.len() == k {
                if best.peek().is_some_and(|worst| ranked <= worst.0) {
                    continue;
                }
                best.pop();
            }
            best.push(Reverse(ranked));
            if best.len() == k {
                floor = best.peek().map_or(floor, |worst| worst.0.score);
            }
        }
        summed?;
    }
    let mut top: Vec<(Score, DocAddress)> = best
        .into_iter()
        .map(|Reverse(ranked)| (ranked.score, ranked.address))
        .collect();
    top.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    Ok(top)
}

/// The buffers of [`top_k_accumulated`]: a score per document of the largest segment (all
/// zero between searches) and the documents touched.
#[derive(Default)]
struct Scratch {
    scores: Vec<Score>,
    touched: Vec<DocId>,
}

/// Scratch buffers kept between searches and lent to one at a time: as many as searches
/// ever ran at once, warm whichever thread searches next (a searcher thread lives for one
/// batch of listings).
#[derive(Clone, Default)]
struct ScratchPool(Arc<Mutex<Vec<Scratch>>>);

impl ScratchPool {
    fn lend<T>(&self, search: impl FnOnce(&mut Scratch) -> T) -> T {
        let lent = self.0.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut scratch = lent.unwrap_or_default();
        let result = search(&mut scratch);
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(scratch);
        result
    }
}

/// A hit in the top-k heap: higher score ranks higher, and of equal scores the earlier
/// document.
#[derive(PartialEq)]
struct Ranked {
    score: Score,
    address: DocAddress,
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.address.cmp(&self.address))
    }
}

/// `category` + [`SCOPE`] + `word`: a word (or condition) scoped to a category.
fn scoped(category: &str, word: &str) -> String {
    let mut scoped = String::with_capacity(category.len() + 1 + word.len());
    scoped.push_str(category);
    scoped.push(SCOPE);
    scoped.push_str(word);
    scoped
}

/// What a one-token string field's term adds to a document that has it, as
/// [`term_query`] scores it: BM25 with a frequency of one and a length of one.
fn string_term_score(searcher: &Searcher, term: Term) -> Result<Score, IndexError> {
    let docs = Bm25StatisticsProvider::total_num_docs(searcher)?;
    let length = average_length(searcher, term.field(), docs)?;
    let weight = weight(searcher, &term, docs, length)?;
    Ok(weight.score(FieldNormReader::fieldnorm_to_id(1), 1))
}

/// The average number of words of `field` over `docs` documents, as BM25 weighs by.
fn average_length(searcher: &Searcher, field: Field, docs: u64) -> Result<Score, IndexError> {
    Ok(searcher.total_num_tokens(field)? as Score / docs as Score)
}

/// How BM25 weighs `term` among `docs` documents whose field averages `length` words: the
/// same weight a term query builds, without the explanation it carries along.
fn weight(
    searcher: &Searcher,
    term: &Term,
    docs: u64,
    length: Score,
) -> Result<Bm25Weight, IndexError> {
    let doc_freq = searcher.doc_freq(term)?;
    Ok(Bm25Weight::for_one_term_without_explain(
        doc_freq, docs, length,
    ))
}

fn term_query(field: Field, value: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, value),
        IndexRecordOption::Basic,
    ))
}

/// A hit's stored fields, read straight into strings and numbers, instead of building a
/// whole document and then copying its strings out (most of a hit's cost, allocations).
struct Stored(Vec<(Field, StoredValue)>);

enum StoredValue {
    Text(String),
    Int(i64),
    /// A kind of value this index does not store.
    Other,
}

impl Stored {
    /// The field's first text, moved out (empty when it has none).
    fn take_text(&mut self, field: Field) -> String {
        self.0
            .iter_mut()
            .find_map(|(f, value)| match value {
                StoredValue::Text(text) if *f == field => Some(std::mem::take(text)),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn int(&self, field: Field) -> Option<i64> {
        self.0.iter().find_map(|(f, value)| match value {
            StoredValue::Int(n) if *f == field => Some(*n),
            _ => None,
        })
    }
}

impl DocumentDeserialize for Stored {
    fn deserialize<'de, D>(mut deserializer: D) -> Result<Self, DeserializeError>
    where
        D: DocumentDeserializer<'de>,
    {
        let mut values = Vec::with_capacity(deserializer.size_hint());
        while let Some(value) = deserializer.next_field()? {
            values.push(value);
        }
        Ok(Stored(values))
    }
}

impl ValueDeserialize for StoredValue {
    fn deserialize<'de, D>(deserializer: D) -> Result<Self, DeserializeError>
    where
        D: ValueDeserializer<'de>,
    {
        deserializer.deserialize_any(StoredVisitor)
    }
}

struct StoredVisitor;

impl ValueVisitor for StoredVisitor {
    type Value = StoredValue;

    fn visit_string(&self, text: String) -> Result<StoredValue, DeserializeError> {
        Ok(StoredValue::Text(text))
    }

    fn visit_i64(&self, n: i64) -> Result<StoredValue, DeserializeError> {
        Ok(StoredValue::Int(n))
    }

    fn visit_null(&self) -> Result<StoredValue, DeserializeError> {
        Ok(StoredValue::Other)
    }

    fn visit_u64(&self, _: u64) -> Result<StoredValue, DeserializeError> {
        Ok(StoredValue::Other)
    }

    fn visit_f64(&self, _: f64) -> Result<StoredValue, DeserializeError> {
        Ok(StoredValue::Other)
    }

    fn visit_bool(&self, _: bool) -> Result<StoredValue, DeserializeError> {
        Ok(StoredValue::Other)
    }
}

async fn writer_task(
    mut writer: IndexWriter,
    reader: IndexReader,
    merge: Option<Index>,
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
            // Nothing queued: the reader already shows everything.
            Some(WriterOp::Commit(done)) if pending == 0 => {
                let _ = done.send(Ok(()));
                continue;
            }
            Some(WriterOp::Commit(done)) => waiters.push(done),
            Some(WriterOp::Close(done)) => {
                let (writer, result) = commit(writer, &reader, merge.as_ref()).await;
                // Dropping the writer joins its threads and releases the directory lock.
                let _ = tokio::task::spawn_blocking(move || drop(writer)).await;
                let _ = done.send(result);
                return;
            }
            None if closed => {
                if pending > 0 {
                    let (_, result) = commit(writer, &reader, merge.as_ref()).await;
                    if let Err(error) = result {
                        tracing::error!(%error, "search index: final commit failed");
                    }
                }
                return;
            }
            None => {}
        }
        // Commit now: a batch filled, the interval passed, or someone is waiting.
        let (returned, result) = commit(writer, &reader, merge.as_ref()).await;
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
    merge: Option<&Index>,
) -> (IndexWriter, Result<(), String>) {
    let merge = merge.cloned();
    let joined = tokio::task::spawn_blocking(move || {
        let result = writer.commit().map(|_| ()).and_then(|()| {
            let Some(index) = merge else {
                return Ok(());
            };
            let segments = index.searchable_segment_ids()?;
            if segments.len() > MERGE_IN_STEP_AT {
                writer.merge(&segments).wait()?;
            }
            Ok(())
        });
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
