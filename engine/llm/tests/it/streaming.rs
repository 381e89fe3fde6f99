//! Text, usage, reasoning, the end of a stream, stalls and cancellation.

use std::collections::BTreeMap;
use std::time::Duration;

use engine_core::domain::Currency;
use engine_core::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, TokenUsage};
use engine_core::ports::store::LlmSettings;
use engine_core::views::{PriceView, ProductView, VariantView};
use engine_llm::fake::{FakeGroq, FakeUsage, Reply, Sse, tokens};
use futures_util::StreamExt;

use crate::support::*;

#[tokio::test]
async fn text_deltas_arrive_in_order_then_one_usage() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::text(&["Hel", "lo", " there", "!"]));
    let chunks = ok(run(&model(&fake), request("hi")).await.unwrap());
    assert_eq!(
        chunks,
        vec![
            ModelChunk::Text("Hel".into()),
            ModelChunk::Text("lo".into()),
            ModelChunk::Text(" there".into()),
            ModelChunk::Text("!".into()),
            ModelChunk::Usage(TokenUsage { prompt_tokens: 120, completion_tokens: 4 }),
        ]
    );
    // What Groq was asked.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/openai/v1/chat/completions");
    assert_eq!(r.bearer(), Some(KEY));
    assert_eq!(r.model(), Some("openai/gpt-oss-120b"));
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["stream_options"]["include_usage"], true);
    assert_eq!(r.body["tool_choice"], "auto");
    assert!(r.body["temperature"].as_f64().unwrap() <= 0.3);
    assert_eq!(
        r.tool_names(),
        ["search_products", "add_to_cart", "set_quantity", "remove_from_cart", "view_cart", "checkout", "recommend_products"]
    );
    assert!(r.system_prompt().unwrap().starts_with("You are Aisle,"));
    assert_eq!(r.body["messages"][1], serde_json::json!({"role": "user", "content": "hi"}));
}

/// The first piece reaches the caller while the fake is still holding the second
/// (it waits at a gate only the test opens): nothing is buffered.
#[tokio::test]
async fn text_is_forwarded_before_the_next_piece_is_sent() {
    let fake = FakeGroq::start().await.unwrap();
    let mut events = vec![Sse::Role, Sse::Text("first".into()), Sse::Gate("next".into()), Sse::Text(" second".into())];
    events.extend(Reply::ending("stop", 2));
    fake.push(Reply::events(events));
    let mut config = config(&fake);
    config.read_timeout = GUARD;
    let model = engine_llm::GroqModel::new(config).unwrap();
    let mut stream = model.stream(request("hi")).await.unwrap();
    let first = tokio::time::timeout(GUARD, stream.next()).await.expect("the first piece was held back");
    assert_eq!(first.unwrap().unwrap(), ModelChunk::Text("first".into()));
    assert_eq!(fake.completed(), 0, "the fake has not sent the rest yet");
    fake.open_gate("next");
    let rest = ok(collect(stream).await);
    assert_eq!(texts(&rest), [" second"]);
    assert!(matches!(rest.last(), Some(ModelChunk::Usage(_))));
}

#[tokio::test]
async fn reasoning_is_never_forwarded() {
    let fake = FakeGroq::start().await.unwrap();
    let mut events = vec![
        Sse::Role,
        Sse::Reasoning("The user wants shoes. Let me think about the secret rules".into()),
        Sse::Reasoning(" and the system prompt.".into()),
        Sse::Text("Here are".into()),
        Sse::Reasoning(" more thoughts".into()),
        Sse::Text(" some shoes.".into()),
    ];
    events.extend(Reply::ending("stop", 9));
    fake.push(Reply::events(events));
    let chunks = ok(run(&model(&fake), request("shoes")).await.unwrap());
    assert_eq!(texts(&chunks), ["Here are", " some shoes."]);
    for c in &chunks {
        assert!(!format!("{c:?}").contains("thought") && !format!("{c:?}").contains("secret"), "{c:?}");
    }
}

#[tokio::test]
async fn usage_is_read_from_x_groq_or_the_last_chunk_and_the_last_one_wins() {
    let fake = FakeGroq::start().await.unwrap();
    let model = model(&fake);
    // Only in x_groq.usage of the finishing chunk.
    fake.push(Reply::events(vec![
        Sse::Role,
        Sse::Text("a".into()),
        Sse::Finish { reason: "stop".into(), usage: None, x_groq_usage: Some(FakeUsage::new(7, 3)) },
        Sse::Done,
    ]));
    // Only in the final usage chunk.
    fake.push(Reply::events(vec![
        Sse::Role,
        Sse::Text("b".into()),
        Sse::Finish { reason: "stop".into(), usage: None, x_groq_usage: None },
        Sse::Usage(FakeUsage::new(9, 4)),
        Sse::Done,
    ]));
    // In both, different: the last seen wins, sent once.
    fake.push(Reply::events(vec![
        Sse::Role,
        Sse::Text("c".into()),
        Sse::Finish { reason: "stop".into(), usage: None, x_groq_usage: Some(FakeUsage::new(1, 1)) },
        Sse::Usage(FakeUsage::new(5, 6)),
        Sse::Done,
    ]));
    let usage = |chunks: &[ModelChunk]| -> Vec<TokenUsage> {
        chunks.iter().filter_map(|c| if let ModelChunk::Usage(u) = c { Some(*u) } else { None }).collect()
    };
    let a = ok(run(&model, request("a")).await.unwrap());
    assert_eq!(usage(&a), [TokenUsage { prompt_tokens: 7, completion_tokens: 3 }]);
    assert!(matches!(a.last(), Some(ModelChunk::Usage(_))));
    let b = ok(run(&model, request("b")).await.unwrap());
    assert_eq!(usage(&b), [TokenUsage { prompt_tokens: 9, completion_tokens: 4 }]);
    let c = ok(run(&model, request("c")).await.unwrap());
    assert_eq!(usage(&c), [TokenUsage { prompt_tokens: 5, completion_tokens: 6 }]);
}

#[tokio::test]
async fn a_finished_choice_without_done_is_a_complete_stream() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::events(vec![
        Sse::Role,
        Sse::Text("Done".into()),
        Sse::Finish { reason: "stop".into(), usage: Some(FakeUsage::new(2, 1)), x_groq_usage: None },
    ]));
    let chunks = ok(run(&model(&fake), request("x")).await.unwrap());
    assert_eq!(chunks, vec![ModelChunk::Text("Done".into()), ModelChunk::Usage(TokenUsage { prompt_tokens: 2, completion_tokens: 1 })]);
}

#[tokio::test]
async fn a_stream_that_stops_without_finishing_is_truncated() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::truncated(&["Your cart", " has"]));
    // A last event without its blank line is dropped by the SSE parser: still truncated.
    fake.push(Reply::events(vec![
        Sse::Role,
        Sse::Text("Hi".into()),
        Sse::Raw("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}".into()),
    ]));
    let model = model(&fake);
    let items = run(&model, request("x")).await.unwrap();
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &ModelChunk::Text("Your cart".into()));
    assert_eq!(items[1].as_ref().unwrap(), &ModelChunk::Text(" has".into()));
    assert!(matches!(items[2], Err(ModelError::Truncated)), "{:?}", items[2]);
    let items = run(&model, request("x")).await.unwrap();
    assert!(matches!(items.last(), Some(Err(ModelError::Truncated))), "{items:?}");
}

#[tokio::test]
async fn an_error_frame_inside_a_200_stream_ends_it_with_its_message() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::error_frame(&["Let me"], "Internal Server Error: the model crashed"));
    let items = run(&model(&fake), request("x")).await.unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap(), &ModelChunk::Text("Let me".into()));
    match &items[1] {
        Err(ModelError::Protocol(m)) => assert!(m.contains("the model crashed"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn no_event_within_the_read_timeout_is_a_timeout() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::stall());
    // Headers, then some text, then silence.
    fake.push(Reply::events(vec![Sse::Role, Sse::Text("Hmm".into()), Sse::Stall]));
    let model = model(&fake); // read timeout 300 ms
    let items = run(&model, request("x")).await.unwrap();
    assert!(matches!(items.as_slice(), [Err(ModelError::Timeout(_))]), "{items:?}");
    let items = run(&model, request("x")).await.unwrap();
    assert_eq!(items[0].as_ref().unwrap(), &ModelChunk::Text("Hmm".into()));
    assert!(matches!(items[1], Err(ModelError::Timeout(_))), "{items:?}");
    // The client closed both stalled streams.
    assert!(fake.wait_for_disconnects(2, GUARD).await, "the fake did not see the client go");
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let fake = FakeGroq::start().await.unwrap();
    let words = tokens(&"lorem ipsum dolor sit amet ".repeat(60));
    fake.push(Reply::text(&words).with_token_delay(Duration::from_millis(10)));
    let mut config = config(&fake);
    config.read_timeout = GUARD;
    let model = engine_llm::GroqModel::new(config).unwrap();
    let mut stream = model.stream(request("x")).await.unwrap();
    for _ in 0..3 {
        assert!(matches!(stream.next().await, Some(Ok(ModelChunk::Text(_)))));
    }
    drop(stream);
    assert!(fake.wait_for_disconnects(1, GUARD).await, "the fake did not see the client go");
    assert_eq!(fake.completed(), 0);
}

#[tokio::test]
async fn the_prompt_holds_the_shop_the_cart_and_the_products() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::text(&["ok"]));
    let mut req = request("Hast du Jacken?");
    req.settings.bot_name = "Mika".into();
    req.settings.language = "de".into();
    req.settings.currency = Currency::parse("EUR").unwrap();
    req.messages.insert(0, ChatMessage::System { content: "Summary of earlier turns: wants a jacket.".into() });
    req.products = vec![ProductView {
        id: "p_jacket".into(),
        sku: "J".into(),
        title: "Storm Jacket".into(),
        description: "Waterproof.".into(),
        category: "Jackets".into(),
        tags: vec![],
        price: PriceView { amount_minor: 8900, currency: Currency::parse("EUR").unwrap() },
        in_stock: true,
        image_url: None,
        options: vec![],
        variants: vec![VariantView {
            id: "v_jacket".into(),
            sku: "J".into(),
            title: "Storm Jacket".into(),
            options: BTreeMap::new(),
            price: PriceView { amount_minor: 8900, currency: Currency::parse("EUR").unwrap() },
            in_stock: true,
        }],
    }];
    ok(run(&model(&fake), req).await.unwrap());
    let r = &fake.requests()[0];
    let system = r.system_prompt().unwrap();
    assert!(system.starts_with("You are Mika,"), "{system}");
    assert!(system.contains("the shop's language is de"), "{system}");
    assert!(system.contains("[p_jacket] Storm Jacket — from €89.00, in stock"), "{system}");
    assert!(system.contains("variant: v_jacket"), "{system}");
    assert!(system.contains("Summary of earlier turns: wants a jacket."), "{system}");
    // The conversation's System message was merged, not sent as a second one.
    let roles: Vec<&str> = r.body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user"]);
}

#[tokio::test]
async fn a_tenants_own_key_and_model_are_used() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::text(&["a"]));
    fake.push(Reply::text(&["b"]));
    let model = model(&fake);
    let mut own = request("x");
    own.settings.llm = LlmSettings { api_key: Some("gsk_tenant_own_key".into()), model: Some("llama-3.3-70b-versatile".into()) };
    ok(run(&model, own).await.unwrap());
    ok(run(&model, request("y")).await.unwrap());
    let reqs = fake.requests();
    assert_eq!(reqs[0].bearer(), Some("gsk_tenant_own_key"));
    assert_eq!(reqs[0].model(), Some("llama-3.3-70b-versatile"));
    assert_eq!(reqs[1].bearer(), Some(KEY));
    assert_eq!(reqs[1].model(), Some("openai/gpt-oss-120b"));
    // One breaker per key, labelled by fingerprints only.
    let breakers = model.breakers();
    assert_eq!(breakers.len(), 2);
    for b in &breakers {
        assert!(!b.key_id.contains("gsk") && !b.key_id.contains("tenant"), "{b:?}");
    }
}

#[tokio::test]
async fn without_any_key_the_model_is_unavailable_and_nothing_is_sent() {
    let fake = FakeGroq::start().await.unwrap();
    let mut config = config(&fake);
    config.api_key = None;
    let model = engine_llm::GroqModel::new(config).unwrap();
    match model.stream(request("x")).await {
        Err(ModelError::Unavailable(m)) => assert_eq!(m, "no key"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("streamed without a key"),
    }
    assert!(fake.requests().is_empty());
    assert_eq!(model.name(), "groq");
}

/// The fake scripted by a function of the request (what a fake model that reacts to
/// the shopper, or a benchmark, uses).
#[tokio::test]
async fn the_fake_can_answer_by_a_function_of_the_request() {
    let fake = FakeGroq::start_with(|body| {
        let last = body["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
        match last["content"].as_str() {
            Some("buy it") => Reply::tool_calls(&[("call_c", "checkout", "{}")]),
            Some(text) => Reply::text(&tokens(&format!("You said: {text}"))).with_tokens_per_second(2000.0),
            None => Reply::server_error(500, "no message"),
        }
    })
    .await
    .unwrap();
    let model = model(&fake);
    let chunks = ok(run(&model, request("red shoes")).await.unwrap());
    assert_eq!(texts(&chunks).concat(), "You said: red shoes");
    let chunks = ok(run(&model, request("buy it")).await.unwrap());
    assert!(chunks.iter().any(|c| matches!(c, ModelChunk::ToolCall(t) if t.name == "checkout")), "{chunks:?}");
    assert_eq!(fake.requests().len(), 2);
}
