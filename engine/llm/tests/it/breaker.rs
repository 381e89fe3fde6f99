//! The circuit breaker per key, end to end. Time is a manual clock: the tests assert
//! states, never durations.

use std::sync::Arc;
use std::time::Duration;

use engine_core::ports::llm::{LanguageModel, ModelChunk, ModelError};
use engine_llm::fake::{FakeGroq, Reply, Sse};
use engine_llm::{BreakerState, BreakerStatus, GroqModel, ManualClock};
use futures_util::StreamExt;

use crate::support::*;

const COOLDOWN: Duration = Duration::from_secs(30);

fn breaker_model(fake: &FakeGroq, clock: &ManualClock, max_retries: u32) -> GroqModel {
    let mut config = config(fake);
    config.breaker_threshold = 3;
    config.breaker_cooldown = COOLDOWN;
    config.max_retries = max_retries;
    config.read_timeout = Duration::from_secs(1);
    GroqModel::with_clock(config, Arc::new(clock.clone())).unwrap()
}

fn status(model: &GroqModel) -> BreakerStatus {
    let all = model.breakers();
    assert_eq!(all.len(), 1, "{all:?}");
    all[0].clone()
}

async fn fails(model: &GroqModel) -> ModelError {
    match model.stream(request("x")).await {
        Err(e) => e,
        Ok(s) => match collect(s).await.into_iter().find_map(Result::err) {
            Some(e) => e,
            None => panic!("expected a failure"),
        },
    }
}

async fn open_it(fake: &FakeGroq, model: &GroqModel) {
    for _ in 0..3 {
        fake.push(Reply::server_error(500, "boom"));
        assert!(matches!(fails(model).await, ModelError::Status { status: 500, .. }));
    }
}

#[tokio::test]
async fn opens_after_consecutive_failures_and_then_rejects_without_calling() {
    let fake = FakeGroq::start().await.unwrap();
    let clock = ManualClock::new();
    let model = breaker_model(&fake, &clock, 0);
    fake.push(Reply::server_error(500, "boom"));
    fails(&model).await;
    assert_eq!(status(&model).state, BreakerState::Closed);
    assert_eq!(status(&model).consecutive_failures, 1);
    // A 429 and a truncated stream count too.
    fake.push(Reply::rate_limited(Some("0")));
    assert!(matches!(fails(&model).await, ModelError::RateLimited { .. }));
    fake.push(Reply::truncated(&["x"]));
    assert!(matches!(fails(&model).await, ModelError::Truncated));
    let s = status(&model);
    assert_eq!((s.state, s.consecutive_failures, s.opened_total), (BreakerState::Open, 3, 1));
    assert!(s.key_id.starts_with("k_") && !s.key_id.contains(KEY));
    fake.push(Reply::text(&["not asked"]));
    assert!(matches!(fails(&model).await, ModelError::CircuitOpen));
    assert_eq!(fake.requests().len(), 3, "an open breaker sends nothing");
}

#[tokio::test]
async fn configuration_errors_do_not_open_it_and_a_success_resets_the_count() {
    let fake = FakeGroq::start().await.unwrap();
    let clock = ManualClock::new();
    let model = breaker_model(&fake, &clock, 0);
    for _ in 0..4 {
        fake.push(Reply::unauthorized());
        assert!(matches!(fails(&model).await, ModelError::Status { status: 401, .. }));
    }
    fake.push(Reply::model_not_found("m"));
    fails(&model).await;
    fake.push(Reply::groq_error(400, "bad request", "invalid_request_error", "bad"));
    fails(&model).await;
    assert_eq!(status(&model).state, BreakerState::Closed);
    assert_eq!(status(&model).consecutive_failures, 0);
    for _ in 0..2 {
        fake.push(Reply::server_error(500, "boom"));
        fails(&model).await;
    }
    fake.push(Reply::text(&["ok"]));
    ok(run(&model, request("x")).await.unwrap());
    let s = status(&model);
    assert_eq!((s.state, s.consecutive_failures, s.opened_total), (BreakerState::Closed, 0, 0));
}

#[tokio::test]
async fn after_the_cooldown_one_probe_success_closes_it() {
    let fake = FakeGroq::start().await.unwrap();
    let clock = ManualClock::new();
    let model = breaker_model(&fake, &clock, 2);
    // With retries, each failed call is 3 requests; the breaker counts calls.
    for _ in 0..9 {
        fake.push(Reply::server_error(503, "busy"));
    }
    for _ in 0..3 {
        fails(&model).await;
    }
    assert_eq!(fake.requests().len(), 9);
    assert_eq!(status(&model).state, BreakerState::Open);
    clock.advance(COOLDOWN - Duration::from_secs(1));
    assert!(matches!(fails(&model).await, ModelError::CircuitOpen));
    clock.advance(Duration::from_secs(1));
    assert_eq!(status(&model).state, BreakerState::HalfOpen);
    // The probe is under way (held at a gate): a second call is rejected meanwhile.
    let mut events = vec![Sse::Role, Sse::Text("back".into()), Sse::Gate("probe".into())];
    events.extend(Reply::ending("stop", 1));
    fake.push(Reply::events(events));
    let mut probe = model.stream(request("x")).await.unwrap();
    assert_eq!(probe.next().await.unwrap().unwrap(), ModelChunk::Text("back".into()));
    assert_eq!(status(&model).state, BreakerState::HalfOpen);
    assert!(matches!(fails(&model).await, ModelError::CircuitOpen));
    fake.open_gate("probe");
    ok(collect(probe).await);
    let s = status(&model);
    assert_eq!((s.state, s.consecutive_failures, s.opened_total), (BreakerState::Closed, 0, 1));
    fake.push(Reply::text(&["normal again"]));
    ok(run(&model, request("x")).await.unwrap());
}

#[tokio::test]
async fn a_failed_probe_reopens_it_without_retrying() {
    let fake = FakeGroq::start().await.unwrap();
    let clock = ManualClock::new();
    let model = breaker_model(&fake, &clock, 2);
    for _ in 0..9 {
        fake.push(Reply::server_error(500, "boom"));
    }
    for _ in 0..3 {
        fails(&model).await;
    }
    clock.advance(COOLDOWN);
    fake.push(Reply::server_error(500, "still down"));
    match fails(&model).await {
        ModelError::Status { status: 500, message } => assert_eq!(message, "still down"),
        e => panic!("{e:?}"),
    }
    // A retry would have made an 11th request (answered by the fake's "no scripted reply").
    assert_eq!(fake.requests().len(), 10, "the probe is one request");
    let s = status(&model);
    assert_eq!((s.state, s.opened_total), (BreakerState::Open, 2));
    assert!(matches!(fails(&model).await, ModelError::CircuitOpen));
    // Another cool-down, and a probe whose stream stalls: a timeout re-opens it too.
    clock.advance(COOLDOWN);
    fake.push(Reply::events(vec![Sse::Role, Sse::Stall]));
    assert!(matches!(fails(&model).await, ModelError::Timeout(_)));
    assert_eq!(status(&model).state, BreakerState::Open);
    assert_eq!(status(&model).opened_total, 3);
}

#[tokio::test]
async fn keys_have_separate_breakers() {
    let fake = FakeGroq::start().await.unwrap();
    let clock = ManualClock::new();
    let model = breaker_model(&fake, &clock, 0);
    open_it(&fake, &model).await;
    let mut own = request("x");
    own.settings.llm.api_key = Some("gsk_other_tenant".into());
    fake.push(Reply::text(&["served"]));
    let chunks = ok(run(&model, own).await.unwrap());
    assert_eq!(texts(&chunks), ["served"]);
    let states: Vec<BreakerState> = model.breakers().iter().map(|b| b.state).collect();
    assert!(states.contains(&BreakerState::Open) && states.contains(&BreakerState::Closed), "{states:?}");
}
