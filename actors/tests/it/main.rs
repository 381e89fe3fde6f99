//! The actors against a real SQLite store, with a scripted model: what a shopper sees
//! when a turn fails inside the model adapter; acknowledged commands applied exactly
//! once across a crash; sockets as a set (passivation after a re-attach, a dropped
//! slow consumer, an abandoned attach); a deep resume that never holds up the
//! conversation; a refused write that leaves no conversation stuck.

mod durability;

use std::sync::Arc;
use std::time::Duration;

use actors::{Command, OutboxReceiver};
use async_trait::async_trait;
use engine::domain::CommandId;
use engine::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, ModelStream};
use serde_json::Value;

/// Answers "fine", and panics (a bug in an adapter) when the shopper says "boom".
struct Panicky;

#[async_trait]
impl LanguageModel for Panicky {
    fn name(&self) -> &'static str {
        "panicky"
    }
    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let last = request.messages.iter().rev().find_map(|m| match m {
            ChatMessage::User { content } => Some(content.clone()),
            _ => None,
        });
        if last.as_deref() == Some("boom") {
            panic!("a bug in the model adapter");
        }
        Ok(Box::pin(futures_util::stream::iter(vec![Ok(ModelChunk::Text("fine".into()))])))
    }
}

async fn next(rx: &mut OutboxReceiver) -> Value {
    let frame = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a frame in time").expect("open");
    serde_json::from_str(&frame).unwrap()
}

async fn until(rx: &mut OutboxReceiver, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = next(rx).await;
        let stop = done(&v);
        out.push(v);
        if stop {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_panics_is_an_internal_error_and_the_conversation_goes_on() {
    let w = durability::World::new().await;
    let conversations = w.start_with(Duration::from_secs(300), Arc::new(Panicky)).await;
    let (tenant, conversation) = (w.tenant.clone(), w.conversation.clone());
    let (tx, mut rx) = actors::outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, _) = conversations.attach(&tenant, &conversation, socket, tx, None).await.unwrap();

    let message = |id: &str, text: &str| Command::Message { id: CommandId::parse(id).unwrap(), text: text.into() };
    handle.command(socket, message("m1", "boom")).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "error").await;
    assert_eq!(frames[0]["type"], "ack", "{frames:?}");
    let error = frames.last().unwrap();
    assert_eq!(error["code"], "internal", "{error}");

    // The conversation is not stuck waiting for the failed turn.
    handle.command(socket, message("m2", "hello")).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "assistant.end").await;
    assert_eq!(frames.last().unwrap()["text"], "fine", "{frames:?}");
    let seqs: Vec<i64> = frames.iter().filter_map(|f| f["seq"].as_i64()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "no gap in seq: {seqs:?}");
}
