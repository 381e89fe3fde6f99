//! The job-queue port: work that outlives the request that asked for it (a catalog
//! import, (re)embedding a catalog for hybrid search), done by workers in the
//! background and followed through its `JobRecord` in the store.
//!
//! Two places can carry the messages: an in-process queue (the embedded default,
//! `engine::jobs::InProcessQueue`) and RabbitMQ (the distributed setup). The record
//! lives in the `Store`, not in the queue, so any node answers
//! `GET /v1/admin/jobs/{id}` and a job's progress survives its worker.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{JobId, TenantId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Parse a catalog CSV and upsert its products.
    Import,
    /// Bring the tenant's vector index up to its catalog.
    Index,
    /// Summarise a conversation's older messages (the body: the conversation id) for
    /// a remote model whose history is cut to a token budget.
    Summarize,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Index => "index",
            JobKind::Summarize => "summarize",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "import" => Some(JobKind::Import),
            "index" => Some(JobKind::Index),
            "summarize" => Some(JobKind::Summarize),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(JobStatus::Queued),
            "running" => Some(JobStatus::Running),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
    pub fn finished(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Failed)
    }
}

/// A row a job could not take (an import's bad CSV line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobLineError {
    pub line: u64,
    pub message: String,
}

/// Where a job stands, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRecord {
    pub id: JobId,
    pub tenant_id: TenantId,
    pub kind: JobKind,
    pub status: JobStatus,
    /// Products written (imports).
    pub imported: i64,
    /// Units of work known so far and done (rows for an import, products to embed for
    /// an indexing run): progress is `done / total`.
    pub total: i64,
    pub done: i64,
    /// Runs started, retries included.
    pub attempts: i64,
    pub errors: Vec<JobLineError>,
    /// Free-form facts for the admin: why it failed, what it led to
    /// (`{"index_job_id":…}`), what it skipped. JSON object text.
    pub detail: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The Aisle instance that queued it (`Jobs::instance`); `None` for a job
    /// recorded before instances were. Start-up fails only its own unfinished jobs.
    pub instance_id: Option<String>,
}

impl JobRecord {
    pub fn queued(tenant: &TenantId, kind: JobKind) -> Self {
        let now = Utc::now();
        Self {
            id: JobId::generate(),
            tenant_id: tenant.clone(),
            kind,
            status: JobStatus::Queued,
            imported: 0,
            total: 0,
            done: 0,
            attempts: 0,
            errors: Vec::new(),
            detail: "{}".into(),
            created_at: now,
            updated_at: now,
            instance_id: None,
        }
    }
}

/// What travels through the queue: which job, and what it needs that the store does
/// not hold (an import's file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: JobId,
    pub tenant_id: TenantId,
    pub kind: JobKind,
    #[serde(default)]
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the job queue is unavailable: {0}")]
    Unavailable(String),
}

/// How a run of a job ended badly.
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// Worth another try later (an embeddings endpoint said 429, a backend blinked).
    #[error("{0}")]
    Retry(String),
    /// Another try would fail the same way.
    #[error("{0}")]
    Fatal(String),
}

/// Carries job messages to workers.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// `inprocess`, `amqp`: for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    async fn publish(&self, message: JobMessage) -> Result<(), JobError>;
}

/// Does the work of a job. A queue calls `run` for each delivery and, after a run that
/// failed for good (a `Fatal` or the last `Retry`), `give_up`.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn run(&self, message: &JobMessage, attempt: u32) -> Result<(), JobFailure>;
    async fn give_up(&self, message: &JobMessage, reason: &str);
}
