//! Store conformance, tenant administration: API keys, portal users, jobs and the
//! usage counts quotas are checked against, on SQLite and PostgreSQL alike
//! (`store_tests!` from `store.rs`).

use std::sync::Arc;

use engine::domain::TenantId;
use engine::ports::store::{Role, Store, StoreError, TranscriptMessage};

use crate::store::store_tests;
use crate::support::{now_ms, seed_conversation, seed_tenant};

store_tests!(
    api_keys_find_their_tenant_by_hash,
    portal_users_are_unique_by_email_within_their_tenant,
    a_tenants_status_is_set,
    jobs_round_trip_and_stay_with_their_tenant,
    shopper_messages_are_counted_per_tenant_since_a_time,
    unfinished_jobs_are_failed_at_start_up,
    start_up_fails_only_its_own_instances_jobs,
);

async fn api_keys_find_their_tenant_by_hash(store: Arc<dyn Store>) {
    let a = seed_tenant(store.as_ref(), "A").await;
    let b = seed_tenant(store.as_ref(), "B").await;
    store.create_api_key(&a, "hash-of-a", "sk_aaaa").await.unwrap();
    store.create_api_key(&b, "hash-of-b", "sk_bbbb").await.unwrap();
    assert_eq!(store.tenant_by_api_key("hash-of-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.tenant_by_api_key("hash-of-b").await.unwrap(), Some(b));
    assert_eq!(store.tenant_by_api_key("hash-of-c").await.unwrap(), None);
    assert!(matches!(store.create_api_key(&a, "hash-of-b", "sk_bbbb").await, Err(StoreError::Conflict(_))));
    let ghost = TenantId::generate();
    assert!(store.create_api_key(&ghost, "hash-of-ghost", "sk_gggg").await.is_err(), "a key needs its tenant");
}

async fn portal_users_are_unique_by_email_within_their_tenant(store: Arc<dyn Store>) {
    use engine::domain::UserId;
    use engine::ports::store::PortalUser;
    let a = seed_tenant(store.as_ref(), "A").await;
    let b = seed_tenant(store.as_ref(), "B").await;
    let user = PortalUser {
        id: UserId::generate(),
        tenant_id: a.clone(),
        email: "ann@shop.example".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        role: "owner".into(),
        created_at: now_ms(),
    };
    store.create_user(&user).await.unwrap();
    assert_eq!(store.users_by_email("ann@shop.example", 8).await.unwrap(), vec![user.clone()]);
    assert_eq!(store.users_by_email("bob@shop.example", 8).await.unwrap(), vec![]);
    assert_eq!(store.tenant_user_by_email(&a, "ann@shop.example").await.unwrap().as_ref(), Some(&user));
    assert_eq!(store.tenant_user_by_email(&b, "ann@shop.example").await.unwrap(), None, "not a user of B");
    assert_eq!(store.get_user(&a, &user.id).await.unwrap().as_ref(), Some(&user));
    assert_eq!(store.get_user(&b, &user.id).await.unwrap(), None, "another tenant's user is not found");

    // The same address in another tenant is another user; in the same tenant, a conflict.
    let twin = PortalUser {
        id: UserId::generate(),
        tenant_id: b.clone(),
        created_at: user.created_at + chrono::Duration::milliseconds(5),
        ..user.clone()
    };
    store.create_user(&twin).await.unwrap();
    let again = PortalUser { id: UserId::generate(), ..user.clone() };
    assert!(matches!(store.create_user(&again).await, Err(StoreError::Conflict(_))), "an email has one login per tenant");
    assert_eq!(store.users_by_email("ann@shop.example", 8).await.unwrap(), vec![user.clone(), twin.clone()], "oldest first");
    assert_eq!(store.users_by_email("ann@shop.example", 1).await.unwrap(), vec![user.clone()], "at most the limit");
    assert_eq!(store.tenant_user_by_email(&b, "ann@shop.example").await.unwrap().as_ref(), Some(&twin));
    assert_eq!(store.get_user(&a, &twin.id).await.unwrap(), None);
}

async fn a_tenants_status_is_set(store: Arc<dyn Store>) {
    let a = seed_tenant(store.as_ref(), "A").await;
    let b = seed_tenant(store.as_ref(), "B").await;
    store.set_tenant_status(&a, "canceled").await.unwrap();
    assert_eq!(store.get_tenant(&a).await.unwrap().unwrap().status, "canceled");
    assert_eq!(store.get_tenant(&b).await.unwrap().unwrap().status, "active", "another tenant is unchanged");
    store.set_tenant_status(&a, "active").await.unwrap();
    assert_eq!(store.get_tenant(&a).await.unwrap().unwrap().status, "active");
    assert!(matches!(store.set_tenant_status(&TenantId::generate(), "canceled").await, Err(StoreError::NotFound)));
}

async fn jobs_round_trip_and_stay_with_their_tenant(store: Arc<dyn Store>) {
    use engine::ports::jobs::{JobKind, JobLineError, JobRecord, JobStatus};
    let a = seed_tenant(store.as_ref(), "A").await;
    let b = seed_tenant(store.as_ref(), "B").await;
    let mut job = JobRecord::queued(&a, JobKind::Import);
    job.created_at = now_ms();
    job.updated_at = job.created_at;
    store.create_job(&job).await.unwrap();
    assert_eq!(store.get_job(&a, &job.id).await.unwrap().as_ref(), Some(&job));
    assert_eq!(store.get_job(&b, &job.id).await.unwrap(), None, "another tenant's job is not found");

    job.status = JobStatus::Done;
    job.imported = 41;
    job.total = 42;
    job.done = 42;
    job.attempts = 2;
    job.errors = vec![JobLineError { line: 7, message: "price is not a number: \"abc\"".into() }];
    job.detail = r#"{"index_job_id":"j_x"}"#.into();
    job.updated_at = now_ms();
    store.save_job(&job).await.unwrap();
    assert_eq!(store.get_job(&a, &job.id).await.unwrap().as_ref(), Some(&job));

    // Saving as another tenant changes nothing and is not found.
    let mut theirs = job.clone();
    theirs.tenant_id = b.clone();
    theirs.status = JobStatus::Failed;
    assert!(matches!(store.save_job(&theirs).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_job(&a, &job.id).await.unwrap().map(|j| j.status), Some(JobStatus::Done));
}

async fn shopper_messages_are_counted_per_tenant_since_a_time(store: Arc<dyn Store>) {
    let (a, b) = (seed_tenant(&*store, "A").await, seed_tenant(&*store, "B").await);
    let (ca, cb) = (seed_conversation(&*store, &a).await, seed_conversation(&*store, &b).await);
    let now = now_ms();
    let old = now - chrono::Duration::days(40);
    for (c, t, role, at) in [
        (&ca, &a, Role::Shopper, now),
        (&ca, &a, Role::Assistant, now),
        (&ca, &a, Role::Shopper, now),
        (&ca, &a, Role::Shopper, old),
        (&cb, &b, Role::Shopper, now),
    ] {
        store.append_message(t, c, &TranscriptMessage { role, text: "x".into(), at }).await.unwrap();
    }
    let since = now - chrono::Duration::days(1);
    assert_eq!(store.count_shopper_messages(&a, since).await.unwrap(), 2, "shopper messages of A since then");
    assert_eq!(store.count_shopper_messages(&b, since).await.unwrap(), 1);
    assert_eq!(store.count_shopper_messages(&a, old).await.unwrap(), 3);
}

async fn unfinished_jobs_are_failed_at_start_up(store: Arc<dyn Store>) {
    use engine::ports::jobs::{JobKind, JobRecord, JobStatus};
    let t = seed_tenant(store.as_ref(), "T").await;
    let mut jobs = Vec::new();
    for status in [JobStatus::Queued, JobStatus::Running, JobStatus::Done, JobStatus::Failed] {
        let mut job = JobRecord::queued(&t, JobKind::Import);
        job.status = status;
        job.instance_id = Some("node-a".into());
        store.create_job(&job).await.unwrap();
        jobs.push(job);
    }
    assert_eq!(store.get_job(&t, &jobs[0].id).await.unwrap().unwrap().instance_id.as_deref(), Some("node-a"));
    assert_eq!(store.fail_unfinished_jobs("node-a", "interrupted").await.unwrap(), 2);
    let after: Vec<JobStatus> =
        futures_util::future::join_all(jobs.iter().map(|j| store.get_job(&t, &j.id))).await.into_iter().map(|j| j.unwrap().unwrap().status).collect();
    assert_eq!(after, [JobStatus::Failed, JobStatus::Failed, JobStatus::Done, JobStatus::Failed]);
    let first = store.get_job(&t, &jobs[0].id).await.unwrap().unwrap();
    assert!(first.detail.contains("interrupted"), "{}", first.detail);
    assert_eq!(store.fail_unfinished_jobs("node-a", "interrupted").await.unwrap(), 0);
}

/// On a shared database, one node's start-up leaves another node's unfinished jobs
/// alone; jobs recorded before instances were (no instance) are the starting node's.
async fn start_up_fails_only_its_own_instances_jobs(store: Arc<dyn Store>) {
    use engine::ports::jobs::{JobKind, JobRecord, JobStatus};
    let t = seed_tenant(store.as_ref(), "T").await;
    let job = |instance: Option<&str>, status: JobStatus| {
        let mut j = JobRecord::queued(&t, JobKind::Import);
        j.status = status;
        j.instance_id = instance.map(str::to_string);
        j
    };
    let mine = job(Some("node-a"), JobStatus::Running);
    let theirs_running = job(Some("node-b"), JobStatus::Running);
    let theirs_queued = job(Some("node-b"), JobStatus::Queued);
    let legacy = job(None, JobStatus::Queued);
    for j in [&mine, &theirs_running, &theirs_queued, &legacy] {
        store.create_job(j).await.unwrap();
    }
    assert_eq!(store.fail_unfinished_jobs("node-a", "interrupted").await.unwrap(), 2);
    let status = |id| {
        let store = store.clone();
        let t = t.clone();
        async move { store.get_job(&t, id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(&mine.id).await, JobStatus::Failed);
    assert_eq!(status(&legacy.id).await, JobStatus::Failed, "a job from before instances is the single node's");
    assert_eq!(status(&theirs_running.id).await, JobStatus::Running, "another instance's running job is untouched");
    assert_eq!(status(&theirs_queued.id).await, JobStatus::Queued);
    let untouched = store.get_job(&t, &theirs_running.id).await.unwrap().unwrap();
    assert_eq!((untouched.detail.as_str(), untouched.instance_id.as_deref()), ("{}", Some("node-b")));
}
