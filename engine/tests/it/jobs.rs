//! Background jobs end to end on real parts: a SQLite store, qdrant-edge in a temp
//! folder, the in-process queue, and (where failures are the point) the OpenAI
//! adapter against the fake embeddings server of `embed.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine_vectors::qdrant_edge::QdrantEdgeStore;
use engine::catalog::{CatalogCache, import_products, parse_aisle_csv};
use engine::domain::{Currency, JobId, TenantId};
use engine_vectors::embed::{OpenAiEmbedder, StaticEmbedder};
use engine::jobs::{InProcessQueue, Jobs, RetryPolicy};
use engine::ports::embedder::Embedder;
use engine::ports::jobs::{JobKind, JobRecord, JobStatus};
use engine::ports::retriever::{Retriever, SearchQuery};
use engine::ports::store::Store;
use engine::ports::vectors::VectorStore;
use engine::retrieval::HybridRetriever;
use engine::retrieval::hybrid::IndexRequests;

use crate::embed::{Reply, fake_server, openai_config};

const HEADER: &str = "sku,title,description,category,price,currency,stock,image_url,tags";

fn csv(rows: &[&str]) -> Vec<u8> {
    format!("{HEADER}\n{}\n", rows.join("\n")).into_bytes()
}

const KAYAK: &str = "KAYAK-1,Inflatable Kayak,A two-person kayak for rivers and lakes.,Outdoor/Boats,299.00,USD,4,,water|paddle";
const TENT: &str = "TENT-2,Trail Tent,A light tent for two hikers.,Outdoor/Camping,149.50,USD,7,,camping";
const LAMP: &str = "LAMP-3,Camp Lantern,A rechargeable LED lantern.,Outdoor/Camping,24.99,USD,30,,light";
const BAD: &str = "BAD-4,Broken Row,No price here.,Outdoor,not-a-price,USD,1,,";

struct Rig {
    store: Arc<dyn Store>,
    vectors: Arc<QdrantEdgeStore>,
    hybrid: Arc<HybridRetriever>,
    jobs: Arc<Jobs>,
    tenant: TenantId,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn rig(embedder: Arc<dyn Embedder>, retry: RetryPolicy) -> Rig {
    let (store, db) = crate::support::sqlite_store().await;
    let tenant = crate::support::seed_tenant(store.as_ref(), "Outdoors").await;
    let dir = tempfile::tempdir().unwrap();
    let vectors = Arc::new(QdrantEdgeStore::open(dir.path(), embedder.dim()).unwrap());
    let cache = Arc::new(CatalogCache::new(store.clone()));
    let hybrid = Arc::new(HybridRetriever::new(cache.clone(), vectors.clone(), embedder));
    let jobs = Jobs::new(store.clone(), cache, Some(hybrid.clone()));
    jobs.set_queue(InProcessQueue::start(jobs.clone(), 2, retry));
    jobs.attach_to_retriever();
    Rig { store, vectors, hybrid, jobs, tenant, _dirs: (db, dir) }
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts, first_backoff: Duration::from_millis(10), max_backoff: Duration::from_millis(40) }
}

/// Polls the job until it has finished (or fails the test after 60 s).
async fn finished(jobs: &Jobs, tenant: &TenantId, id: &JobId) -> JobRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = jobs.get(tenant, id).await.unwrap().expect("the job is recorded");
        if job.status.finished() {
            return job;
        }
        assert!(tokio::time::Instant::now() < deadline, "job {id} still {:?} after 60 s", job.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn detail(job: &JobRecord) -> serde_json::Value {
    serde_json::from_str(&job.detail).expect("a job's detail is JSON")
}

fn index_job_of(import: &JobRecord) -> JobId {
    let d = detail(import);
    JobId::parse(d["index_job_id"].as_str().unwrap_or_else(|| panic!("no index job in {d}"))).unwrap()
}

#[tokio::test]
async fn an_import_job_reports_bad_lines_and_hands_its_products_to_an_indexing_job() {
    let rig = rig(Arc::new(StaticEmbedder::bundled().unwrap()), fast_retries(3)).await;
    let import = rig.jobs.submit_import(&rig.tenant, csv(&[KAYAK, TENT, BAD, LAMP])).await.unwrap();
    assert_eq!(import.status, JobStatus::Queued);
    let import = finished(&rig.jobs, &rig.tenant, &import.id).await;
    assert_eq!((import.kind, import.status, import.imported), (JobKind::Import, JobStatus::Done, 3), "{import:?}");
    assert_eq!(import.errors.len(), 1, "{:?}", import.errors);
    assert_eq!(import.errors[0].line, 4, "the header is line 1: BAD is on line 4");
    assert!(import.errors[0].message.contains("price"), "{:?}", import.errors[0]);
    assert_eq!(rig.store.list_products(&rig.tenant, None, 10).await.unwrap().len(), 3);

    let index = finished(&rig.jobs, &rig.tenant, &index_job_of(&import)).await;
    assert_eq!((index.kind, index.status), (JobKind::Index, JobStatus::Done), "{index:?}");
    assert_eq!(detail(&index)["embedded"], 3, "{}", index.detail);
    assert_eq!((index.done, index.total), (3, 3));
    assert_eq!(rig.vectors.count(&rig.tenant).await.unwrap(), 3, "one point per product (none has colours)");
    let hits = rig.hybrid.search(&rig.tenant, &SearchQuery { text: "boat for a river".into(), limit: 3, ..Default::default() }).await.unwrap();
    assert_eq!(hits[0].product.title, "Inflatable Kayak");

    // The same file again: every product's content hash is unchanged, nothing is embedded.
    let again = rig.jobs.submit_import(&rig.tenant, csv(&[KAYAK, TENT, LAMP])).await.unwrap();
    let again = finished(&rig.jobs, &rig.tenant, &again.id).await;
    assert_eq!((again.imported, detail(&again)["updated"].as_i64()), (3, Some(3)));
    let index = finished(&rig.jobs, &rig.tenant, &index_job_of(&again)).await;
    assert_eq!(index.status, JobStatus::Done);
    assert_eq!((detail(&index)["embedded"].as_i64(), detail(&index)["unchanged"].as_i64()), (Some(0), Some(3)), "{}", index.detail);

    // One price changes: only that product is embedded again.
    let cheaper = KAYAK.replace("299.00", "249.00");
    let edit = rig.jobs.submit_import(&rig.tenant, csv(&[&cheaper])).await.unwrap();
    let edit = finished(&rig.jobs, &rig.tenant, &edit.id).await;
    let index = finished(&rig.jobs, &rig.tenant, &index_job_of(&edit)).await;
    assert_eq!(detail(&index)["embedded"], 1, "{}", index.detail);
    assert_eq!(rig.vectors.count(&rig.tenant).await.unwrap(), 3);

    // Another tenant cannot see these jobs.
    let other = crate::support::seed_tenant(rig.store.as_ref(), "Other").await;
    assert!(rig.jobs.get(&other, &edit.id).await.unwrap().is_none());
}

#[tokio::test]
async fn an_unreadable_file_is_a_done_job_with_its_error_and_nothing_imported() {
    let rig = rig(Arc::new(StaticEmbedder::bundled().unwrap()), fast_retries(2)).await;
    let job = rig.jobs.submit_import(&rig.tenant, b"name;price\nhat;3\n".to_vec()).await.unwrap();
    let job = finished(&rig.jobs, &rig.tenant, &job.id).await;
    assert_eq!((job.status, job.imported), (JobStatus::Done, 0));
    assert_eq!(job.errors.len(), 1);
    assert!(job.errors[0].message.contains("unrecognised header"), "{:?}", job.errors);
}

#[tokio::test]
async fn an_indexing_job_retries_a_failing_embeddings_endpoint_and_loses_nothing() {
    // The adapter tries each request once; the job system retries the job. Replies:
    // the import's index run meets 500, 429 and malformed JSON before it succeeds.
    let server = fake_server(vec![Reply::ServerError, Reply::RateLimited, Reply::Malformed]).await;
    let embedder = Arc::new(OpenAiEmbedder::with_dim(openai_config(&server.base_url, 1), 4).unwrap());
    let rig = rig(embedder, fast_retries(5)).await;
    let import = rig.jobs.submit_import(&rig.tenant, csv(&[KAYAK, TENT, LAMP])).await.unwrap();
    let import = finished(&rig.jobs, &rig.tenant, &import.id).await;
    let index = finished(&rig.jobs, &rig.tenant, &index_job_of(&import)).await;
    assert_eq!(index.status, JobStatus::Done, "{index:?}");
    assert_eq!(index.attempts, 4, "three failed runs, then the one that worked");
    assert_eq!(detail(&index)["embedded"], 3);
    assert_eq!(rig.vectors.count(&rig.tenant).await.unwrap(), 3, "every product made it in");
    let embedded: Vec<String> = server.requests.lock().unwrap().iter().flatten().cloned().collect();
    for title in ["Inflatable Kayak", "Trail Tent", "Camp Lantern"] {
        assert!(embedded.iter().any(|t| t.starts_with(title)), "{title} never sent: {embedded:?}");
    }
}

#[tokio::test]
async fn an_indexing_job_that_keeps_failing_is_failed_with_the_reason_and_keyword_search_still_works() {
    let server = fake_server(vec![Reply::ServerError; 50]).await;
    let embedder = Arc::new(OpenAiEmbedder::with_dim(openai_config(&server.base_url, 1), 4).unwrap());
    let rig = rig(embedder, fast_retries(2)).await;
    let import = rig.jobs.submit_import(&rig.tenant, csv(&[KAYAK, TENT])).await.unwrap();
    let import = finished(&rig.jobs, &rig.tenant, &import.id).await;
    assert_eq!(import.status, JobStatus::Done, "the import itself succeeded");
    let index = finished(&rig.jobs, &rig.tenant, &index_job_of(&import)).await;
    assert_eq!((index.status, index.attempts), (JobStatus::Failed, 2), "{index:?}");
    let reason = detail(&index)["error"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("500"), "the failure says why: {reason}");
    // The products are in the store and found by keyword (the search asks for indexing
    // again, which keeps failing, without blocking the answer).
    let hits = rig.hybrid.search(&rig.tenant, &SearchQuery { text: "kayak".into(), limit: 5, ..Default::default() }).await.unwrap();
    assert_eq!(hits.first().map(|h| h.product.title.as_str()), Some("Inflatable Kayak"));
}

/// Records the tenants a retriever asked to have indexed, and indexes nothing.
#[derive(Default)]
struct Recorder(Mutex<Vec<TenantId>>);

impl IndexRequests for Recorder {
    fn request(&self, tenant: &TenantId) {
        self.0.lock().unwrap().push(tenant.clone());
    }
}

#[tokio::test]
async fn a_search_with_the_index_behind_answers_by_keyword_at_once_and_asks_for_indexing() {
    let (store, _db) = crate::support::sqlite_store().await;
    let tenant = crate::support::seed_tenant(store.as_ref(), "Shop").await;
    let parsed = |rows: &[&str]| parse_aisle_csv(&tenant, Currency::USD, &csv(rows));
    import_products(store.as_ref(), parsed(&[TENT, LAMP]).products).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(StaticEmbedder::bundled().unwrap());
    let vectors = Arc::new(QdrantEdgeStore::open(dir.path(), embedder.dim()).unwrap());
    let cache = Arc::new(CatalogCache::new(store.clone()));
    let hybrid = HybridRetriever::new(cache.clone(), vectors.clone(), embedder);
    let recorder = Arc::new(Recorder::default());
    hybrid.set_index_requests(recorder.clone());
    let search = |text: &str| {
        let (hybrid, tenant) = (&hybrid, &tenant);
        let query = SearchQuery { text: text.into(), limit: 5, ..Default::default() };
        async move { hybrid.search(tenant, &query).await.unwrap().into_iter().map(|h| h.product.title.clone()).collect::<Vec<_>>() }
    };

    // Never indexed: keyword only, and indexing was asked for.
    assert_eq!(search("lantern").await.first().map(String::as_str), Some("Camp Lantern"));
    assert_eq!(vectors.count(&tenant).await.unwrap(), 0, "the search itself indexed nothing");
    assert_eq!(recorder.0.lock().unwrap().as_slice(), std::slice::from_ref(&tenant));

    // Indexed (as the job would): no more requests.
    let snapshot = cache.get(&tenant).await.unwrap();
    let report = hybrid.ensure_indexed(&tenant, &snapshot).await.unwrap();
    assert_eq!(report.embedded, 2);
    search("tent for hiking").await;
    assert_eq!(recorder.0.lock().unwrap().len(), 1);

    // A new product: found by keyword at once, beside the indexed ones.
    import_products(store.as_ref(), parsed(&[KAYAK]).products).await.unwrap();
    cache.invalidate(&tenant);
    assert_eq!(search("kayak").await.first().map(String::as_str), Some("Inflatable Kayak"));
    assert_eq!(recorder.0.lock().unwrap().len(), 2, "the search asked again");
    let snapshot = cache.get(&tenant).await.unwrap();
    let report = hybrid.ensure_indexed(&tenant, &snapshot).await.unwrap();
    assert_eq!((report.embedded, report.unchanged), (1, 2), "only the new product is embedded");
}

/// A tenant's import bodies queued or running are capped: past the cap an import is
/// refused (`QueueFull`, with a wait), one body above the whole cap is `TooLarge`, and
/// the bytes come back when a job finishes or fails. Workers: none, so that jobs stay
/// queued until the test runs them.
#[tokio::test]
async fn queued_import_bytes_are_capped_per_tenant_and_given_back_when_a_job_ends() {
    use engine::jobs::{JobsError, JobsOptions};
    use engine::ports::jobs::{JobHandler, JobMessage};
    let (store, _db) = crate::support::sqlite_store().await;
    let tenant = crate::support::seed_tenant(store.as_ref(), "Outdoors").await;
    let other = crate::support::seed_tenant(store.as_ref(), "Other").await;
    let cache = Arc::new(CatalogCache::new(store.clone()));
    let file = csv(&[KAYAK, TENT]);
    let size = file.len() as u64;
    let options = JobsOptions { instance_id: "node-test".into(), import_queue_bytes: 2 * size + size / 2 };
    let jobs = Jobs::with_options(store.clone(), cache, None, options);
    jobs.set_queue(InProcessQueue::start(jobs.clone(), 0, fast_retries(1)));

    let first = jobs.submit_import(&tenant, file.clone()).await.unwrap();
    assert_eq!(first.instance_id.as_deref(), Some("node-test"), "a job records the instance that queued it");
    assert_eq!(store.get_job(&tenant, &first.id).await.unwrap().unwrap().instance_id.as_deref(), Some("node-test"));
    let second = jobs.submit_import(&tenant, file.clone()).await.unwrap();
    assert_eq!(jobs.queued_import_bytes(&tenant), 2 * size);
    match jobs.submit_import(&tenant, file.clone()).await {
        Err(JobsError::QueueFull { queued, cap, retry_after, .. }) => {
            assert_eq!((queued, cap), (2 * size, 2 * size + size / 2));
            assert!(retry_after > Duration::ZERO);
        }
        other => panic!("a third file passes the cap: {other:?}"),
    }
    // Another tenant has its own queue.
    jobs.submit_import(&other, file.clone()).await.unwrap();
    assert!(matches!(jobs.submit_import(&tenant, vec![b'x'; (3 * size) as usize]).await, Err(JobsError::TooLarge { .. })));

    // The first job runs to the end: its bytes come back and a third file fits.
    let message = |id: &JobId| JobMessage { job_id: id.clone(), tenant_id: tenant.clone(), kind: JobKind::Import, body: file.clone() };
    jobs.run(&message(&first.id), 1).await.unwrap();
    assert_eq!(store.get_job(&tenant, &first.id).await.unwrap().unwrap().status, JobStatus::Done);
    assert_eq!(jobs.queued_import_bytes(&tenant), size);
    let third = jobs.submit_import(&tenant, file.clone()).await.unwrap();
    // A job that fails for good gives its bytes back too, once.
    jobs.give_up(&message(&second.id), "broken").await;
    jobs.give_up(&message(&second.id), "broken").await;
    assert_eq!(store.get_job(&tenant, &second.id).await.unwrap().unwrap().status, JobStatus::Failed);
    assert_eq!(jobs.queued_import_bytes(&tenant), size);
    jobs.run(&message(&third.id), 1).await.unwrap();
    assert_eq!(jobs.queued_import_bytes(&tenant), 0);
}

#[tokio::test]
async fn a_summary_job_summarises_all_but_the_newest_messages_and_a_late_one_never_wins() {
    use engine::domain::ConversationId;
    use engine::ports::store::{ConversationSummary, Role, TranscriptMessage};
    use engine::turn::summary::KEEP_RECENT;

    let r = rig(Arc::new(StaticEmbedder::bundled().unwrap()), fast_retries(2)).await;
    let conversation = crate::support::seed_conversation(r.store.as_ref(), &r.tenant).await;
    let say = |i: usize| TranscriptMessage {
        role: if i.is_multiple_of(2) { Role::Shopper } else { Role::Assistant },
        text: format!("Message {i}. More words that are not in the summary."),
        at: chrono::Utc::now(),
    };
    // Too short to summarise: done, and nothing written.
    for i in 0..KEEP_RECENT {
        r.store.append_message(&r.tenant, &conversation, &say(i)).await.unwrap();
    }
    let id = r.jobs.request_summary(&r.tenant, &conversation).await.unwrap();
    let job = finished(&r.jobs, &r.tenant, &id).await;
    assert_eq!((job.kind, job.status), (JobKind::Summarize, JobStatus::Done));
    assert_eq!(r.store.conversation_summary(&r.tenant, &conversation).await.unwrap(), None);

    for i in KEEP_RECENT..20 {
        r.store.append_message(&r.tenant, &conversation, &say(i)).await.unwrap();
    }
    let id = r.jobs.request_summary(&r.tenant, &conversation).await.unwrap();
    assert_eq!(finished(&r.jobs, &r.tenant, &id).await.status, JobStatus::Done);
    let s = r.store.conversation_summary(&r.tenant, &conversation).await.unwrap().expect("a summary");
    assert_eq!(s.covers_messages, (20 - KEEP_RECENT) as i64);
    assert!(s.text.starts_with("- Shopper: Message 0.\n- Assistant: Message 1."), "{}", s.text);
    assert!(s.text.contains("Message 11.") && !s.text.contains("Message 12."), "{}", s.text);
    assert!(!s.text.contains("More words"));

    // A slower, older job (covering fewer messages) does not replace it; another
    // tenant sees no summary of this conversation.
    let older = ConversationSummary { text: "stale".into(), covers_messages: 3, at: chrono::Utc::now() };
    r.store.put_conversation_summary(&r.tenant, &conversation, &older).await.unwrap();
    assert_eq!(r.store.conversation_summary(&r.tenant, &conversation).await.unwrap().unwrap().covers_messages, 12);
    let other = crate::support::seed_tenant(r.store.as_ref(), "Other").await;
    assert_eq!(r.store.conversation_summary(&other, &conversation).await.unwrap(), None);
    assert_eq!(r.store.conversation_summary(&r.tenant, &ConversationId::generate()).await.unwrap(), None);
}
