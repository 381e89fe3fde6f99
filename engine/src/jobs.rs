//! Background jobs: catalog imports and vector indexing, run by workers off the
//! request path and followed through their `JobRecord` in the store.
//!
//! - [`Jobs`] is the job system's front and its handler: `submit_import` records a
//!   job and publishes it; `request_index` does the same for an indexing run, at most
//!   one waiting per tenant (a burst of catalog edits makes one run, not a hundred);
//!   `run` does the work when a queue delivers the message.
//! - [`InProcessQueue`] is the embedded queue: a channel and a few worker tasks, with
//!   retries and back-off. A RabbitMQ adapter of the same `JobQueue` port takes its
//!   place in a cluster.
//!
//! An import writes its products at once (they are searchable by keyword right away,
//! through the catalog snapshot) and then asks for an indexing run, which embeds what
//! changed (`HybridRetriever::index_catalog`); the import's record names that run's job
//! in its `detail` (`index_job_id`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde_json::json;
use tokio::sync::mpsc;

use crate::catalog::{CatalogCache, detect_and_parse};
use crate::domain::{ConversationId, JobId, TenantId};
use crate::ports::jobs::{JobError, JobFailure, JobHandler, JobKind, JobLineError, JobMessage, JobQueue, JobRecord, JobStatus};
use crate::ports::store::{ConversationSummary, Store, StoreError, Upserted};
use crate::turn::summary;
use crate::retrieval::HybridRetriever;
use crate::retrieval::hybrid::IndexRequests;

/// Largest catalog file an import takes (the HTTP layer refuses bigger bodies first).
pub const MAX_IMPORT_BYTES: usize = 16 * 1024 * 1024;
/// An import saves its progress every this many products.
const PROGRESS_EVERY: usize = 200;
/// Bytes of import bodies a tenant may have queued or running at once, by default
/// (`AISLE_IMPORT_QUEUE_BYTES`): four full-size files.
pub const DEFAULT_IMPORT_QUEUE_BYTES: u64 = 64 * 1024 * 1024;
/// What a refused import is told to wait before trying again: a queued import of a
/// few MiB is usually done by then.
pub const IMPORT_QUEUE_RETRY_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum JobsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] JobError),
    #[error("the job system has no queue yet")]
    NoQueue,
    /// One body bigger than the tenant's whole import queue: it could never be taken.
    #[error("a catalog file is at most {cap} bytes here, this one has {size}")]
    TooLarge { size: u64, cap: u64 },
    /// The tenant's imports queued or running hold `queued` bytes; this one would take
    /// them past `cap`. Try again after `retry_after`.
    #[error("this shop has {queued} bytes of catalog imports queued or running; one of {size} bytes more would pass its limit of {cap}")]
    QueueFull { queued: u64, size: u64, cap: u64, retry_after: Duration },
}

/// How the job system is set up for one process.
#[derive(Clone, Debug)]
pub struct JobsOptions {
    /// This Aisle instance: recorded on every job it queues, so that its start-up
    /// fails only its own unfinished jobs (`Store::fail_unfinished_jobs`).
    pub instance_id: String,
    /// Bytes of import bodies one tenant may have queued or running.
    pub import_queue_bytes: u64,
}

impl Default for JobsOptions {
    /// A fresh random instance id and the default import queue.
    fn default() -> Self {
        Self { instance_id: uuid::Uuid::new_v4().to_string(), import_queue_bytes: DEFAULT_IMPORT_QUEUE_BYTES }
    }
}

/// Bytes of import bodies queued or running, per tenant and per job (so that a
/// job's release happens once, however many ways it ends).
#[derive(Default)]
struct ImportBytes {
    per_tenant: HashMap<TenantId, u64>,
    per_job: HashMap<JobId, (TenantId, u64)>,
}

/// The job system: records, publishes and runs jobs.
pub struct Jobs {
    store: Arc<dyn Store>,
    catalog: Arc<CatalogCache>,
    /// Indexes for hybrid search; `None` when retrieval is keyword-only (an indexing
    /// run then has nothing to do).
    index: Option<Arc<HybridRetriever>>,
    queue: OnceLock<Arc<dyn JobQueue>>,
    /// Per tenant, the indexing job queued and not yet started.
    waiting_index: Mutex<HashMap<TenantId, JobId>>,
    options: JobsOptions,
    import_bytes: Mutex<ImportBytes>,
}

impl Jobs {
    /// With `JobsOptions::default()` (a random instance id).
    pub fn new(store: Arc<dyn Store>, catalog: Arc<CatalogCache>, index: Option<Arc<HybridRetriever>>) -> Arc<Self> {
        Self::with_options(store, catalog, index, JobsOptions::default())
    }

    pub fn with_options(
        store: Arc<dyn Store>,
        catalog: Arc<CatalogCache>,
        index: Option<Arc<HybridRetriever>>,
        options: JobsOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            catalog,
            index,
            queue: OnceLock::new(),
            waiting_index: Mutex::new(HashMap::new()),
            options,
            import_bytes: Mutex::new(ImportBytes::default()),
        })
    }

    /// This process's instance id, recorded on the jobs it queues.
    pub fn instance(&self) -> &str {
        &self.options.instance_id
    }

    /// Bytes of the tenant's import bodies queued or running now.
    pub fn queued_import_bytes(&self, tenant: &TenantId) -> u64 {
        self.import_bytes.lock().unwrap_or_else(|p| p.into_inner()).per_tenant.get(tenant).copied().unwrap_or(0)
    }

    /// Takes `size` bytes of the tenant's import queue for `job`, or says why not.
    fn reserve_import(&self, tenant: &TenantId, job: &JobId, size: u64) -> Result<(), JobsError> {
        let cap = self.options.import_queue_bytes;
        if size > cap {
            return Err(JobsError::TooLarge { size, cap });
        }
        let mut bytes = self.import_bytes.lock().unwrap_or_else(|p| p.into_inner());
        let queued = bytes.per_tenant.get(tenant).copied().unwrap_or(0);
        if queued + size > cap {
            return Err(JobsError::QueueFull { queued, size, cap, retry_after: IMPORT_QUEUE_RETRY_AFTER });
        }
        bytes.per_tenant.insert(tenant.clone(), queued + size);
        bytes.per_job.insert(job.clone(), (tenant.clone(), size));
        Ok(())
    }

    /// Gives back what `reserve_import` took for `job` (once; later calls do nothing).
    fn release_import(&self, job: &JobId) {
        let mut bytes = self.import_bytes.lock().unwrap_or_else(|p| p.into_inner());
        let Some((tenant, size)) = bytes.per_job.remove(job) else { return };
        let left = bytes.per_tenant.get(&tenant).copied().unwrap_or(0).saturating_sub(size);
        if left == 0 {
            bytes.per_tenant.remove(&tenant);
        } else {
            bytes.per_tenant.insert(tenant, left);
        }
    }

    /// A job record of this instance.
    fn new_job(&self, tenant: &TenantId, kind: JobKind) -> JobRecord {
        JobRecord { instance_id: Some(self.options.instance_id.clone()), ..JobRecord::queued(tenant, kind) }
    }

    /// Connects the queue that delivers this system's messages (set once).
    pub fn set_queue(&self, queue: Arc<dyn JobQueue>) {
        let _ = self.queue.set(queue);
    }

    /// Lets the hybrid retriever ask for indexing when a search finds it behind.
    pub fn attach_to_retriever(self: &Arc<Self>) {
        if let Some(index) = &self.index {
            index.set_index_requests(Arc::new(RequestsFromSearch(Arc::downgrade(self))));
        }
    }

    fn queue(&self) -> Result<&Arc<dyn JobQueue>, JobsError> {
        self.queue.get().ok_or(JobsError::NoQueue)
    }

    /// Records an import of `csv` (Aisle or Shopify format) and queues it. Refused
    /// (`QueueFull`) while the tenant's queued and running imports hold too many bytes
    /// (`JobsOptions::import_queue_bytes`); the bytes are given back when the job ends.
    pub async fn submit_import(&self, tenant: &TenantId, csv: Vec<u8>) -> Result<JobRecord, JobsError> {
        let job = self.new_job(tenant, JobKind::Import);
        self.reserve_import(tenant, &job.id, csv.len() as u64)?;
        let queued = async {
            self.store.create_job(&job).await?;
            let message = JobMessage { job_id: job.id.clone(), tenant_id: tenant.clone(), kind: JobKind::Import, body: csv };
            if let Err(e) = self.queue()?.publish(message).await {
                self.finish(job.clone(), JobStatus::Failed, json!({"error": e.to_string()})).await;
                return Err(e.into());
            }
            Ok::<_, JobsError>(())
        }
        .await;
        if let Err(e) = queued {
            self.release_import(&job.id);
            return Err(e);
        }
        Ok(job)
    }

    /// Queues an indexing run of the tenant's catalog, unless one is already waiting
    /// (then that one's id). `None` when there is no vector index to keep.
    pub async fn request_index(&self, tenant: &TenantId) -> Result<Option<JobId>, JobsError> {
        if self.index.is_none() {
            return Ok(None);
        }
        let job = {
            let mut waiting = self.waiting_index.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(id) = waiting.get(tenant) {
                return Ok(Some(id.clone()));
            }
            let job = self.new_job(tenant, JobKind::Index);
            waiting.insert(tenant.clone(), job.id.clone());
            job
        };
        let published = async {
            self.store.create_job(&job).await?;
            let message = JobMessage { job_id: job.id.clone(), tenant_id: tenant.clone(), kind: JobKind::Index, body: Vec::new() };
            self.queue()?.publish(message).await?;
            Ok::<_, JobsError>(())
        }
        .await;
        if let Err(e) = published {
            self.forget_waiting(tenant, &job.id);
            return Err(e);
        }
        Ok(Some(job.id))
    }

    /// Queues a summary of the conversation's older messages (`turn::summary`).
    pub async fn request_summary(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<JobId, JobsError> {
        let job = self.new_job(tenant, JobKind::Summarize);
        self.store.create_job(&job).await?;
        let body = conversation.as_str().as_bytes().to_vec();
        let message = JobMessage { job_id: job.id.clone(), tenant_id: tenant.clone(), kind: JobKind::Summarize, body };
        self.queue()?.publish(message).await?;
        Ok(job.id)
    }

    async fn run_summary(&self, message: &JobMessage, attempt: u32) -> Result<(), JobFailure> {
        let tenant = &message.tenant_id;
        let mut job = self.load(message).await?;
        if job.status.finished() {
            return Ok(());
        }
        let conversation = std::str::from_utf8(&message.body)
            .ok()
            .and_then(|s| ConversationId::parse(s).ok())
            .ok_or_else(|| JobFailure::Fatal("the job names no conversation".into()))?;
        job.status = JobStatus::Running;
        job.attempts = i64::from(attempt);
        self.save(&mut job).await?;
        let transcript = self.store.transcript(tenant, &conversation).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        let older = transcript.len().saturating_sub(summary::KEEP_RECENT);
        let Some(text) = summary::summarize(&transcript[..older]) else {
            self.finish(job, JobStatus::Done, json!({"covers_messages": 0, "note": "nothing to summarise yet"})).await;
            return Ok(());
        };
        let record = ConversationSummary { text, covers_messages: older as i64, at: Utc::now() };
        self.store
            .put_conversation_summary(tenant, &conversation, &record)
            .await
            .map_err(|e| JobFailure::Retry(e.to_string()))?;
        self.finish(job, JobStatus::Done, json!({"covers_messages": older})).await;
        Ok(())
    }

    fn forget_waiting(&self, tenant: &TenantId, id: &JobId) {
        let mut waiting = self.waiting_index.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.get(tenant) == Some(id) {
            waiting.remove(tenant);
        }
    }

    /// The tenant's job, if it has one by this id.
    pub async fn get(&self, tenant: &TenantId, id: &JobId) -> Result<Option<JobRecord>, JobsError> {
        Ok(self.store.get_job(tenant, id).await?)
    }

    async fn load(&self, message: &JobMessage) -> Result<JobRecord, JobFailure> {
        match self.store.get_job(&message.tenant_id, &message.job_id).await {
            Ok(Some(job)) => Ok(job),
            Ok(None) => Err(JobFailure::Fatal(format!("job {} is not recorded", message.job_id))),
            Err(e) => Err(JobFailure::Retry(e.to_string())),
        }
    }

    async fn save(&self, job: &mut JobRecord) -> Result<(), JobFailure> {
        job.updated_at = Utc::now();
        self.store.save_job(job).await.map_err(|e| JobFailure::Retry(e.to_string()))
    }

    /// Ends a job with `status`, merging `detail` into its detail object. Best effort:
    /// a store that cannot record it is logged.
    async fn finish(&self, mut job: JobRecord, status: JobStatus, detail: serde_json::Value) {
        job.status = status;
        job.detail = merge_detail(&job.detail, detail);
        job.updated_at = Utc::now();
        if let Err(e) = self.store.save_job(&job).await {
            tracing::error!(job = %job.id, error = %e, "cannot record the end of a job");
        }
    }

    async fn run_import(&self, message: &JobMessage, attempt: u32) -> Result<(), JobFailure> {
        let mut job = self.load(message).await?;
        if job.status.finished() {
            return Ok(()); // delivered again after it finished: nothing to do twice
        }
        job.status = JobStatus::Running;
        job.attempts = i64::from(attempt);
        job.imported = 0;
        self.save(&mut job).await?;
        let tenant = &message.tenant_id;
        let currency = match self.store.get_tenant(tenant).await {
            Ok(Some(t)) => t.settings.currency,
            Ok(None) => return Err(JobFailure::Fatal("the tenant no longer exists".into())),
            Err(e) => return Err(JobFailure::Retry(e.to_string())),
        };
        let parsed = detect_and_parse(tenant, currency, &message.body);
        job.errors = parsed.errors.iter().map(|e| JobLineError { line: e.line, message: e.message.clone() }).collect();
        job.total = parsed.products.len() as i64;
        let skipped: Vec<_> = parsed.skipped.iter().map(|e| json!({"line": e.line, "message": e.message})).collect();
        let (mut created, mut updated) = (0usize, 0usize);
        for (i, mut product) in parsed.products.into_iter().enumerate() {
            // Importing the same SKU again updates that product, so a retry after a
            // store failure half-way imports the rest without duplicating the start.
            match self.store.upsert_product(&mut product).await {
                Ok(Upserted::Created) => created += 1,
                Ok(Upserted::Updated) => updated += 1,
                Err(StoreError::Conflict(reason)) => {
                    job.errors.push(JobLineError { line: 0, message: format!("product {}: {reason}", product.sku) });
                    continue;
                }
                Err(e) => return Err(JobFailure::Retry(e.to_string())),
            }
            job.imported += 1;
            job.done = (i + 1) as i64;
            if (i + 1) % PROGRESS_EVERY == 0 {
                self.save(&mut job).await?;
            }
        }
        job.done = job.total;
        self.catalog.invalidate(tenant);
        let index_job = match self.request_index(tenant).await {
            Ok(id) => id,
            Err(e) => {
                tracing::warn!(%tenant, error = %e, "cannot queue indexing after an import; the next search will");
                None
            }
        };
        let detail = json!({
            "created": created,
            "updated": updated,
            "skipped": skipped,
            "index_job_id": index_job.as_ref().map(JobId::as_str),
        });
        tracing::info!(%tenant, job = %job.id, created, updated, errors = job.errors.len(), "catalog import done");
        self.finish(job, JobStatus::Done, detail).await;
        Ok(())
    }

    async fn run_index(&self, message: &JobMessage, attempt: u32) -> Result<(), JobFailure> {
        let tenant = &message.tenant_id;
        // Started: a catalog change from now on needs a run of its own.
        self.forget_waiting(tenant, &message.job_id);
        let mut job = self.load(message).await?;
        if job.status.finished() {
            return Ok(());
        }
        job.status = JobStatus::Running;
        job.attempts = i64::from(attempt);
        self.save(&mut job).await?;
        let Some(index) = &self.index else {
            self.finish(job, JobStatus::Done, json!({"note": "keyword retrieval only: nothing to index"})).await;
            return Ok(());
        };
        self.catalog.invalidate(tenant);
        let snapshot = self.catalog.get(tenant).await.map_err(|e| JobFailure::Retry(e.to_string()))?;
        let (tx, mut rx) = tokio::sync::watch::channel((0usize, 0usize));
        let work = index.index_catalog(tenant, &snapshot, move |done, total| {
            let _ = tx.send((done, total));
        });
        tokio::pin!(work);
        let report = loop {
            tokio::select! {
                report = &mut work => break report,
                Ok(()) = rx.changed() => {
                    let (done, total) = *rx.borrow_and_update();
                    job.done = done as i64;
                    job.total = total as i64;
                    self.save(&mut job).await?;
                }
            }
        };
        let report = report.map_err(|e| JobFailure::Retry(e.to_string()))?;
        job.done = report.embedded as i64;
        job.total = report.embedded as i64;
        let detail = json!({
            "catalog_version": snapshot.version,
            "embedder": index.embedder_name(),
            "embedded": report.embedded,
            "unchanged": report.unchanged,
            "removed": report.removed,
            "points": report.points,
        });
        self.finish(job, JobStatus::Done, detail).await;
        Ok(())
    }
}

#[async_trait]
impl JobHandler for Jobs {
    async fn run(&self, message: &JobMessage, attempt: u32) -> Result<(), JobFailure> {
        match message.kind {
            JobKind::Import => {
                let done = self.run_import(message, attempt).await;
                if done.is_ok() {
                    self.release_import(&message.job_id);
                }
                done
            }
            JobKind::Index => self.run_index(message, attempt).await,
            JobKind::Summarize => self.run_summary(message, attempt).await,
        }
    }

    async fn give_up(&self, message: &JobMessage, reason: &str) {
        tracing::error!(job = %message.job_id, tenant = %message.tenant_id, kind = message.kind.as_str(), %reason, "job failed");
        match message.kind {
            JobKind::Index => self.forget_waiting(&message.tenant_id, &message.job_id),
            JobKind::Import => self.release_import(&message.job_id),
            JobKind::Summarize => {}
        }
        if let Ok(Some(job)) = self.store.get_job(&message.tenant_id, &message.job_id).await {
            self.finish(job, JobStatus::Failed, json!({"error": reason})).await;
        }
    }
}

/// The retriever's way to ask for indexing; weak, so the job system and the retriever
/// do not keep each other alive.
struct RequestsFromSearch(Weak<Jobs>);

impl IndexRequests for RequestsFromSearch {
    fn request(&self, tenant: &TenantId) {
        let Some(jobs) = self.0.upgrade() else { return };
        {
            let waiting = jobs.waiting_index.lock().unwrap_or_else(|p| p.into_inner());
            if waiting.contains_key(tenant) {
                return;
            }
        }
        let tenant = tenant.clone();
        tokio::spawn(async move {
            if let Err(e) = jobs.request_index(&tenant).await {
                tracing::warn!(%tenant, error = %e, "cannot queue indexing");
            }
        });
    }
}

fn merge_detail(old: &str, new: serde_json::Value) -> String {
    let mut merged = serde_json::from_str::<serde_json::Value>(old).ok().filter(|v| v.is_object()).unwrap_or_else(|| json!({}));
    if let (Some(m), serde_json::Value::Object(n)) = (merged.as_object_mut(), new) {
        m.extend(n);
    }
    merged.to_string()
}

/// How the in-process queue retries a job whose run asked for it.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Runs in all, the first included.
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 5, first_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.first_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// The embedded job queue: an unbounded channel read by `workers` tasks. Messages live
/// in memory only: a job unfinished when the process stops is marked `failed` at the
/// next start of the same instance (`Store::fail_unfinished_jobs`, called by the
/// gateway's start-up with its persistent instance id).
pub struct InProcessQueue {
    tx: mpsc::UnboundedSender<JobMessage>,
    /// Kept so that the channel stays open with no workers.
    _rx: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<JobMessage>>>,
}

impl InProcessQueue {
    /// Starts the workers on the current tokio runtime. With 0 workers messages only
    /// wait (tests use it to hold jobs queued).
    pub fn start(handler: Arc<dyn JobHandler>, workers: usize, retry: RetryPolicy) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel::<JobMessage>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for worker in 0..workers {
            let (rx, handler) = (rx.clone(), handler.clone());
            tokio::spawn(async move {
                loop {
                    let Some(message) = rx.lock().await.recv().await else { break };
                    run_with_retries(handler.as_ref(), &message, retry, worker).await;
                }
            });
        }
        Arc::new(Self { tx, _rx: rx })
    }
}

async fn run_with_retries(handler: &dyn JobHandler, message: &JobMessage, retry: RetryPolicy, worker: usize) {
    for attempt in 1..=retry.max_attempts.max(1) {
        match handler.run(message, attempt).await {
            Ok(()) => return,
            Err(JobFailure::Retry(reason)) if attempt < retry.max_attempts => {
                let wait = retry.backoff(attempt);
                tracing::warn!(job = %message.job_id, worker, attempt, %reason, wait_ms = wait.as_millis() as u64, "job will be retried");
                tokio::time::sleep(wait).await;
            }
            Err(failure) => {
                handler.give_up(message, &failure.to_string()).await;
                return;
            }
        }
    }
}

#[async_trait]
impl JobQueue for InProcessQueue {
    fn backend(&self) -> &'static str {
        "inprocess"
    }

    async fn publish(&self, message: JobMessage) -> Result<(), JobError> {
        self.tx.send(message).map_err(|_| JobError::Unavailable("the in-process workers have stopped".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let r = RetryPolicy { max_attempts: 9, first_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(1) };
        assert_eq!(r.backoff(1), Duration::from_millis(100));
        assert_eq!(r.backoff(2), Duration::from_millis(200));
        assert_eq!(r.backoff(4), Duration::from_millis(800));
        assert_eq!(r.backoff(5), Duration::from_secs(1));
        assert_eq!(r.backoff(60), Duration::from_secs(1));
    }

    #[test]
    fn details_merge_into_one_object() {
        assert_eq!(merge_detail("{\"a\":1}", json!({"b": 2})), "{\"a\":1,\"b\":2}");
        assert_eq!(merge_detail("not json", json!({"b": 2})), "{\"b\":2}");
    }
}
