//! The fake checked against a real OpenAI-compatible client: the official `openai`
//! Python package (installed by test.sh). Fails, never skips, when it is missing.

use std::process::Command;

use engine_llm::fake::{FakeGroq, Reply};
use serde_json::{Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openai_client_check.py");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_openai_client_reads_the_fakes_streams() {
    let fake = FakeGroq::start().await.unwrap();
    fake.push(Reply::text(&["Hello", ",", " shopper", "!"]));
    let args = r#"{"query":"waterproof jacket","max_price_minor":20000}"#;
    fake.push(Reply::fragmented_tool_call("call_py1", "search_products", args, 6));
    let base = fake.base_url();
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(SCRIPT).arg(base).output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("python3 is required for this test (and `pip install openai==3.51.0`; test.sh installs it): {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the openai client failed against the fake (is the `openai` package installed? test.sh installs it):\n{stderr}"
    );
    let got: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));

    assert_eq!(got["text"]["pieces"], json!(["Hello", ",", " shopper", "!"]));
    assert_eq!(got["text"]["finish_reason"], "stop");
    assert_eq!(got["text"]["usage"], json!({"prompt_tokens": 120, "completion_tokens": 4, "total_tokens": 124}));
    assert_eq!(got["text"]["service_tiers"], json!(["on_demand"]));

    let calls = got["tool_call"]["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{got}");
    assert_eq!(calls[0]["id"], "call_py1");
    assert_eq!(calls[0]["name"], "search_products");
    assert_eq!(serde_json::from_str::<Value>(calls[0]["arguments"].as_str().unwrap()).unwrap(), serde_json::from_str::<Value>(args).unwrap());
    assert_eq!(got["tool_call"]["finish_reason"], "tool_calls");
    assert_eq!(got["tool_call"]["usage"], json!({"prompt_tokens": 120, "completion_tokens": 20}));

    // The client sent what an OpenAI client sends.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].bearer(), Some("gsk_python_check"));
    assert_eq!(reqs[0].body["stream"], true);
    assert_eq!(reqs[1].tool_names(), ["search_products"]);
}
