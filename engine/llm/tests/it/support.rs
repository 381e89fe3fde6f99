use std::sync::Arc;
use std::time::Duration;

use engine_core::catalog::CatalogSnapshot;
use engine_core::domain::{Cart, Currency, TenantId};
use engine_core::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, ModelStream};
use engine_core::ports::store::TenantSettings;
use engine_core::turn::DialogueState;
use engine_llm::fake::FakeGroq;
use engine_llm::{GroqConfig, GroqModel};
use futures_util::StreamExt;

/// The deployment key the tests configure.
pub const KEY: &str = "gsk_deployment_test_key";

/// A guard against a hung test, never a measured duration.
pub const GUARD: Duration = Duration::from_secs(10);

pub fn config(fake: &FakeGroq) -> GroqConfig {
    GroqConfig {
        base_url: fake.base_url(),
        api_key: Some(KEY.into()),
        read_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(2),
        retry_backoff: Duration::from_millis(10),
        max_retry_wait: Duration::from_secs(2),
        ..GroqConfig::default()
    }
}

pub fn model(fake: &FakeGroq) -> GroqModel {
    GroqModel::new(config(fake)).expect("client")
}

pub fn request(text: &str) -> ModelRequest {
    ModelRequest {
        tenant: TenantId::parse("t_test").unwrap(),
        settings: TenantSettings::default(),
        messages: vec![ChatMessage::User { content: text.into() }],
        cart: Cart::empty(Currency::USD),
        catalog: Arc::new(CatalogSnapshot::new(0, Vec::new())),
        dialogue: DialogueState::default(),
        products: Vec::new(),
    }
}

/// Every item of the stream, to its end.
pub async fn collect(stream: ModelStream) -> Vec<Result<ModelChunk, ModelError>> {
    tokio::time::timeout(GUARD, stream.collect::<Vec<_>>()).await.expect("the stream did not end")
}

/// Calls the model and collects the whole stream.
pub async fn run(model: &GroqModel, request: ModelRequest) -> Result<Vec<Result<ModelChunk, ModelError>>, ModelError> {
    let stream = tokio::time::timeout(GUARD, model.stream(request)).await.expect("stream() hung")?;
    Ok(collect(stream).await)
}

/// The chunks of a stream that must succeed.
pub fn ok(items: Vec<Result<ModelChunk, ModelError>>) -> Vec<ModelChunk> {
    items.into_iter().map(|r| r.unwrap_or_else(|e| panic!("unexpected error {e:?}"))).collect()
}

pub fn texts(chunks: &[ModelChunk]) -> Vec<String> {
    chunks.iter().filter_map(|c| if let ModelChunk::Text(t) = c { Some(t.clone()) } else { None }).collect()
}
