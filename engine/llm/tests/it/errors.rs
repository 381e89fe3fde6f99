//! Errors before the stream, and the retries that may happen only there.

use std::time::{Duration, Instant};

use engine_core::ports::llm::{LanguageModel, ModelChunk, ModelError};
use engine_llm::GroqModel;
use engine_llm::fake::{FakeGroq, Reply};

use crate::support::*;

async fn error_of(model: &GroqModel) -> ModelError {
    match tokio::time::timeout(GUARD, model.stream(request("x"))).await.expect("stream() hung") {
        Err(e) => e,
        Ok(_) => panic!("expected an error before the stream"),
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_succeeds() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::rate_limited(Some("0.3")));
    fake.push(Reply::text(&["after", " waiting"]));
    let model = model(&fake);
    let started = Instant::now();
    let chunks = ok(run(&model, request("x")).await.unwrap());
    // A lower bound only: the client waited at least what retry-after asked.
    assert!(started.elapsed() >= Duration::from_millis(300), "retried after {:?}", started.elapsed());
    assert_eq!(texts(&chunks), ["after", " waiting"]);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_retry_after_longer_than_the_limit_gives_up_at_once() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::rate_limited(Some("60")));
    fake.push(Reply::text(&["never asked"]));
    let model = model(&fake); // max_retry_wait 2 s
    match error_of(&model).await {
        ModelError::RateLimited { retry_after } => assert_eq!(retry_after, Some(Duration::from_secs(60))),
        e => panic!("{e:?}"),
    }
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn without_retry_after_the_exhausted_limits_reset_is_the_wait() {
    let fake = FakeGroq::start().await.unwrap();
    // The fake's 429 says x-ratelimit-remaining-tokens 0, x-ratelimit-reset-tokens 7.66s.
    fake.push(Reply::rate_limited(None));
    let model = model(&fake);
    match error_of(&model).await {
        ModelError::RateLimited { retry_after } => assert_eq!(retry_after, Some(Duration::from_millis(7660))),
        e => panic!("{e:?}"),
    }
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn retries_stop_after_max_retries() {
    let fake = FakeGroq::start().await.unwrap();
    for _ in 0..3 {
        fake.push(Reply::rate_limited(Some("0")));
    }
    fake.push(Reply::text(&["too late"]));
    let model = model(&fake); // 2 retries
    assert!(matches!(error_of(&model).await, ModelError::RateLimited { retry_after: Some(d) } if d.is_zero()));
    assert_eq!(fake.requests().len(), 3);
}

#[tokio::test]
async fn a_401_and_a_404_say_what_groq_said_and_are_not_retried() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::unauthorized());
    fake.push(Reply::model_not_found("llama-9-nonexistent"));
    let model = model(&fake);
    match error_of(&model).await {
        ModelError::Status { status: 401, message } => assert!(message.contains("Invalid API Key"), "{message}"),
        e => panic!("{e:?}"),
    }
    match error_of(&model).await {
        ModelError::Status { status: 404, message } => {
            assert!(message.contains("The model `llama-9-nonexistent` does not exist"), "{message}");
            assert!(message.contains("model_not_found"), "{message}");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn a_5xx_with_a_non_json_body_is_retried_then_reported_with_its_text() {
    let fake = FakeGroq::start().await.unwrap();
    for _ in 0..3 {
        fake.push(Reply::server_error(502, "<html><body>502 Bad Gateway</body></html>"));
    }
    let model = model(&fake);
    match error_of(&model).await {
        ModelError::Status { status: 502, message } => assert_eq!(message, "<html><body>502 Bad Gateway</body></html>"),
        e => panic!("{e:?}"),
    }
    assert_eq!(fake.requests().len(), 3);
    // One 503 then an answer: the shopper never knows.
    fake.push(Reply::server_error(503, "upstream overloaded"));
    fake.push(Reply::text(&["fine"]));
    let chunks = ok(run(&model, request("x")).await.unwrap());
    assert_eq!(texts(&chunks), ["fine"]);
    assert_eq!(fake.requests().len(), 5);
}

/// Once the stream is handed out, nothing is retried: the text may have reached a
/// shopper already.
#[tokio::test]
async fn a_failure_after_the_stream_started_is_not_retried() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::truncated(&["Half a"]));
    fake.push(Reply::text(&["a retry would show this"]));
    let items = run(&model(&fake), request("x")).await.unwrap();
    assert!(matches!(items.as_slice(), [Ok(ModelChunk::Text(_)), Err(ModelError::Truncated)]), "{items:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let fake = FakeGroq::start().await.unwrap();
    let mut config = config(&fake);
    config.base_url = format!("http://127.0.0.1:{port}/openai/v1");
    let model = GroqModel::new(config).unwrap();
    match error_of(&model).await {
        ModelError::Unavailable(m) => assert!(m.contains("cannot reach"), "{m}"),
        e => panic!("{e:?}"),
    }
    // A connection failure counts against the key's breaker.
    assert_eq!(model.breakers()[0].consecutive_failures, 1);
}
