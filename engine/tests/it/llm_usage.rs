//! LLM token metering in the store: every increment counted under concurrency, on
//! SQLite and on PostgreSQL — there also from two separate connection pools on one
//! schema, as two Aisle processes on one database would — per conversation and per
//! billing period, and never another tenant's.

use std::sync::Arc;

use chrono::{Duration, Utc};
use engine::domain::ConversationId;
use engine::plans::month_start;
use engine::ports::store::{LlmUsage, Store};
use engine_sql::PostgresStore;

use crate::support::{pg_url, postgres_store_and_schema, seed_tenant, sqlite_store};

const TASKS: usize = 16;
const EACH: usize = 25;

async fn hammer(stores: &[Arc<dyn Store>]) {
    let tenant = seed_tenant(stores[0].as_ref(), "Metered").await;
    let other = seed_tenant(stores[0].as_ref(), "Other").await;
    let conversations: Vec<ConversationId> = (0..3).map(|_| ConversationId::generate()).collect();
    let period = month_start(Utc::now());
    let last_period = month_start(period - Duration::days(1));

    let mut tasks = Vec::new();
    for i in 0..TASKS {
        let store = stores[i % stores.len()].clone();
        let (tenant, conversation) = (tenant.clone(), conversations[i % conversations.len()].clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                let u = LlmUsage { prompt_tokens: 100, completion_tokens: 7, calls: 1 };
                store.add_llm_usage(&tenant, &conversation, period, &u).await.expect("add usage");
            }
        }));
    }
    // Another period and another tenant, at the same time: counted apart.
    let s = stores[0].clone();
    let (t2, c0) = (other.clone(), conversations[0].clone());
    tasks.push(tokio::spawn(async move {
        let u = LlmUsage { prompt_tokens: 1_000_000, completion_tokens: 1, calls: 1 };
        s.add_llm_usage(&t2, &c0, period, &u).await.unwrap();
    }));
    let s = stores[0].clone();
    let (t1, c1) = (tenant.clone(), conversations[1].clone());
    tasks.push(tokio::spawn(async move {
        let u = LlmUsage { prompt_tokens: 5, completion_tokens: 5, calls: 1 };
        s.add_llm_usage(&t1, &c1, last_period, &u).await.unwrap();
    }));
    for t in tasks {
        t.await.unwrap();
    }

    let n = (TASKS * EACH) as i64;
    for store in stores {
        let month = store.llm_usage(&tenant, period).await.unwrap();
        assert_eq!(month, LlmUsage { prompt_tokens: 100 * n, completion_tokens: 7 * n, calls: n }, "no increment lost");
        assert_eq!(month.total_tokens(), 107 * n);
        let before = store.llm_usage(&tenant, last_period).await.unwrap();
        assert_eq!(before, LlmUsage { prompt_tokens: 5, completion_tokens: 5, calls: 1 });
        let theirs = store.llm_usage(&other, period).await.unwrap();
        assert_eq!(theirs.prompt_tokens, 1_000_000, "the other tenant's count is its own");
        // Per conversation, all periods; conversation 0 of the other tenant is not ours.
        let mut sum = 0;
        for (i, c) in conversations.iter().enumerate() {
            let per = store.conversation_llm_usage(&tenant, c).await.unwrap();
            let tasks_here = (0..TASKS).filter(|t| t % conversations.len() == i).count() as i64;
            let extra = if i == 1 { 5 } else { 0 };
            assert_eq!(per.prompt_tokens, 100 * EACH as i64 * tasks_here + extra, "conversation {i}");
            sum += per.calls;
        }
        assert_eq!(sum, n + 1);
        // Nothing recorded: zeros, not an error.
        let none = store.conversation_llm_usage(&tenant, &ConversationId::generate()).await.unwrap();
        assert_eq!(none, LlmUsage::default());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_token_increment_is_counted_on_sqlite() {
    let (store, _dir) = sqlite_store().await;
    hammer(&[store]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_token_increment_is_counted_by_two_processes_on_one_postgres() {
    let (first, schema) = postgres_store_and_schema().await;
    // A second pool on the same schema: what a second Aisle process would open.
    let second: Arc<dyn Store> = Arc::new(PostgresStore::connect_with_schema(&pg_url(), &schema).await.expect("a second pool"));
    hammer(&[first, second]).await;
}
