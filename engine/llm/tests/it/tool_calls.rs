//! Tool calls whole, fragmented, parallel, with odd arguments.

use engine_core::ports::llm::{ModelChunk, ToolCall};
use engine_core::turn::tools::Tool;
use engine_llm::fake::{FakeGroq, Reply, Sse};
use serde_json::{Value, json};

use crate::support::*;

fn calls(chunks: &[ModelChunk]) -> Vec<ToolCall> {
    chunks.iter().filter_map(|c| if let ModelChunk::ToolCall(t) = c { Some(t.clone()) } else { None }).collect()
}

async fn one_reply(reply: Reply) -> Vec<ModelChunk> {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(reply);
    ok(run(&model(&fake), request("x")).await.unwrap())
}

#[tokio::test]
async fn a_whole_tool_call_is_emitted_once_the_choice_finishes() {
    let chunks = one_reply(Reply::tool_calls(&[("call_a1", "add_to_cart", r#"{"product_id":"p_1","variant_id":"v_1","quantity":2}"#)])).await;
    let c = calls(&chunks);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].id, "call_a1");
    assert_eq!(c[0].name, "add_to_cart");
    assert_eq!(c[0].arguments, json!({"product_id": "p_1", "variant_id": "v_1", "quantity": 2}));
    assert!(Tool::parse(&c[0].name, &c[0].arguments).is_ok());
    // The call comes before the usage, which is last.
    assert!(matches!(chunks.last(), Some(ModelChunk::Usage(_))));
}

#[tokio::test]
async fn a_fragmented_tool_call_is_reassembled() {
    let args = r#"{"query":"waterproof jacket","max_price_minor":15000,"in_stock_only":true}"#;
    let chunks = one_reply(Reply::fragmented_tool_call("call_s1", "search_products", args, 7)).await;
    let c = calls(&chunks);
    assert_eq!(c.len(), 1, "{chunks:?}");
    assert_eq!(c[0].id, "call_s1");
    assert_eq!(c[0].name, "search_products");
    assert_eq!(c[0].arguments, serde_json::from_str::<Value>(args).unwrap());
    assert!(Tool::parse(&c[0].name, &c[0].arguments).is_ok());
}

#[tokio::test]
async fn the_name_may_come_in_pieces_too() {
    let mut events = vec![
        Sse::Role,
        Sse::ToolCall { index: 0, id: Some("call_v".into()), name: Some("view_".into()), arguments: None },
        Sse::ToolCall { index: 0, id: None, name: Some("cart".into()), arguments: Some("{".into()) },
        Sse::ToolCall { index: 0, id: None, name: None, arguments: Some("}".into()) },
    ];
    events.extend(Reply::ending("tool_calls", 5));
    let c = calls(&one_reply(Reply::events(events)).await);
    assert_eq!(c, vec![ToolCall { id: "call_v".into(), name: "view_cart".into(), arguments: json!({}) }]);
}

#[tokio::test]
async fn parallel_tool_calls_whole_together_or_interleaved_in_fragments() {
    // Whole, one delta each.
    let c = calls(
        &one_reply(Reply::tool_calls(&[
            ("call_1", "add_to_cart", r#"{"product_id":"p_1","quantity":1}"#),
            ("call_2", "view_cart", "{}"),
        ]))
        .await,
    );
    assert_eq!(c.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect::<Vec<_>>(), [("call_1", "add_to_cart"), ("call_2", "view_cart")]);
    // Whole, in one delta.
    let mut events = vec![
        Sse::Role,
        Sse::ToolCalls(vec![
            (0, "call_x".into(), "remove_from_cart".into(), r#"{"product_id":"p_2"}"#.into()),
            (1, "call_y".into(), "recommend_products".into(), r#"{"product_ids":["p_3"],"limit":3}"#.into()),
        ]),
    ];
    events.extend(Reply::ending("tool_calls", 30));
    let c = calls(&one_reply(Reply::events(events)).await);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].arguments, json!({"product_id": "p_2"}));
    assert_eq!(c[1].arguments, json!({"product_ids": ["p_3"], "limit": 3}));
    // Fragments of two calls interleaved.
    let frag = |i: u32, a: &str| Sse::ToolCall { index: i, id: None, name: None, arguments: Some(a.into()) };
    let mut events = vec![
        Sse::Role,
        Sse::ToolCall { index: 0, id: Some("call_s".into()), name: Some("search_products".into()), arguments: Some(String::new()) },
        Sse::ToolCall { index: 1, id: Some("call_q".into()), name: Some("set_quantity".into()), arguments: Some(String::new()) },
        frag(0, r#"{"query":"#),
        frag(1, r#"{"product_id":"p_9","#),
        frag(0, r#""socks"}"#),
        frag(1, r#""quantity":0}"#),
    ];
    events.extend(Reply::ending("tool_calls", 30));
    let c = calls(&one_reply(Reply::events(events)).await);
    assert_eq!(
        c,
        vec![
            ToolCall { id: "call_s".into(), name: "search_products".into(), arguments: json!({"query": "socks"}) },
            ToolCall { id: "call_q".into(), name: "set_quantity".into(), arguments: json!({"product_id": "p_9", "quantity": 0}) },
        ]
    );
    for call in &c {
        assert!(Tool::parse(&call.name, &call.arguments).is_ok(), "{call:?}");
    }
}

#[tokio::test]
async fn null_empty_or_absent_arguments_are_an_empty_object() {
    let mut events = vec![
        Sse::Role,
        Sse::ToolCall { index: 0, id: Some("c_null".into()), name: Some("view_cart".into()), arguments: Some("null".into()) },
        Sse::ToolCall { index: 1, id: Some("c_empty".into()), name: Some("checkout".into()), arguments: Some(String::new()) },
        Sse::ToolCall { index: 2, id: Some("c_absent".into()), name: Some("recommend_products".into()), arguments: None },
    ];
    events.extend(Reply::ending("tool_calls", 30));
    let c = calls(&one_reply(Reply::events(events)).await);
    assert_eq!(c.len(), 3);
    for call in &c {
        assert_eq!(call.arguments, json!({}), "{call:?}");
        assert!(Tool::parse(&call.name, &call.arguments).is_ok(), "{call:?}");
    }
}

/// Arguments that are not JSON do not break the stream: the call is emitted with the
/// raw text, and `Tool::parse` refuses it (the pipeline feeds that back to the model).
#[tokio::test]
async fn invalid_json_arguments_are_passed_on_as_a_string_for_the_pipeline_to_refuse() {
    let mut events = vec![
        Sse::Role,
        Sse::Text("Adding it.".into()),
        Sse::ToolCall { index: 0, id: Some("c_bad".into()), name: Some("add_to_cart".into()), arguments: Some(r#"{"product_id": "p_1", quantity: two"#.into()) },
        Sse::ToolCall { index: 1, id: Some("c_good".into()), name: Some("view_cart".into()), arguments: Some("{}".into()) },
    ];
    events.extend(Reply::ending("tool_calls", 30));
    let chunks = one_reply(Reply::events(events)).await;
    assert_eq!(chunks[0], ModelChunk::Text("Adding it.".into()));
    let c = calls(&chunks);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].arguments, Value::String(r#"{"product_id": "p_1", quantity: two"#.into()));
    let err = Tool::parse(&c[0].name, &c[0].arguments).unwrap_err();
    assert!(err.starts_with("bad call to add_to_cart"), "{err}");
    assert_eq!(c[1].arguments, json!({}));
}
