//! Groq's OpenAI-compatible wire format: the request body, the streamed chunks, error
//! bodies and the rate-limit headers.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// Error bodies are cut to this many characters in messages.
pub(crate) const MAX_ERROR_TEXT: usize = 300;

pub(crate) fn request_body(model: &str, messages: Vec<Value>, tools: Vec<Value>, temperature: f32) -> Value {
    json!({
        "model": model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
        "tools": tools,
        "tool_choice": "auto",
        "temperature": temperature,
    })
}

/// One `chat.completion.chunk`. Unknown fields (`x_groq.id`, `system_fingerprint`,
/// `service_tier`, `delta.reasoning`, ...) are ignored: reasoning is never read, so it
/// can never be forwarded.
#[derive(Debug, Deserialize)]
pub(crate) struct Chunk {
    #[serde(default)]
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(default)]
    pub x_groq: Option<XGroq>,
    /// An OpenAI-style error sent as a plain data line.
    #[serde(default)]
    pub error: Option<ErrorDetail>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct XGroq {
    #[serde(default)]
    pub usage: Option<Usage>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
pub(crate) struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub delta: Delta,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Delta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub tool_calls: Vec<ToolCallDelta>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ToolCallDelta {
    #[serde(default)]
    pub index: u32,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub function: Option<FunctionDelta>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct FunctionDelta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub arguments: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<Value>,
    /// Some providers put the HTTP status in the error frame.
    #[serde(default)]
    pub status_code: Option<u16>,
}

impl ErrorDetail {
    /// `message (type/code)`, or what there is of it.
    pub fn describe(&self) -> String {
        let msg = self.message.clone().unwrap_or_else(|| "no message".into());
        let code = match &self.code {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        match (self.kind.as_deref(), code) {
            (Some(k), Some(c)) => format!("{msg} ({k}/{c})"),
            (Some(k), None) => format!("{msg} ({k})"),
            (None, Some(c)) => format!("{msg} ({c})"),
            (None, None) => msg,
        }
    }

    /// The HTTP status this error stands for, when it says one.
    pub fn status(&self) -> Option<u16> {
        self.status_code.or_else(|| match &self.code {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()).filter(|s| (400..600).contains(s)),
            _ => None,
        })
    }
}

/// The message of an error response: `error.message` of Groq's JSON body, else the
/// raw text cut short.
pub(crate) fn error_message(body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(b) => cut(&b.error.describe()),
        Err(_) => {
            let t = body.trim();
            if t.is_empty() { "empty body".into() } else { cut(t) }
        }
    }
}

pub(crate) fn cut(s: &str) -> String {
    engine_core::views::cut_for_wire(s, MAX_ERROR_TEXT)
}

/// How long a 429 asks to wait: `retry-after` (seconds, possibly fractional), else the
/// `x-ratelimit-reset-{requests,tokens}` of the limit that is exhausted (`remaining`
/// 0), else the longer of the two resets given.
pub fn retry_after_from_headers(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(d) = get("retry-after").and_then(|v| v.parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0) {
        return Some(Duration::from_secs_f64(d));
    }
    let reset = |kind: &str| get(&format!("x-ratelimit-reset-{kind}")).and_then(parse_reset_duration);
    let exhausted = |kind: &str| get(&format!("x-ratelimit-remaining-{kind}")) == Some("0");
    let resets: Vec<(bool, Duration)> =
        ["requests", "tokens"].iter().filter_map(|k| reset(k).map(|d| (exhausted(k), d))).collect();
    resets.iter().filter(|(ex, _)| *ex).map(|(_, d)| *d).max().or_else(|| resets.iter().map(|(_, d)| *d).max())
}

/// Groq's reset durations: `7.66s`, `2m59.56s`, `120ms`, `1h2m3s`, or bare seconds.
pub fn parse_reset_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    (total.is_finite() && total >= 0.0).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn reset_durations_in_groq_notation() {
        assert_eq!(parse_reset_duration("7.66s"), Some(Duration::from_millis(7660)));
        assert_eq!(parse_reset_duration("2m59.56s"), Some(Duration::from_millis(179_560)));
        assert_eq!(parse_reset_duration("120ms"), Some(Duration::from_millis(120)));
        assert_eq!(parse_reset_duration("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_reset_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_reset_duration("soon"), None);
        assert_eq!(parse_reset_duration("5x"), None);
        assert_eq!(parse_reset_duration(""), None);
    }

    #[test]
    fn retry_after_prefers_the_header_then_the_exhausted_limit() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset-requests", HeaderValue::from_static("2m59.56s"));
        h.insert("x-ratelimit-reset-tokens", HeaderValue::from_static("7.66s"));
        h.insert("x-ratelimit-remaining-requests", HeaderValue::from_static("14"));
        h.insert("x-ratelimit-remaining-tokens", HeaderValue::from_static("0"));
        assert_eq!(retry_after_from_headers(&h), Some(Duration::from_millis(7660)));
        h.insert("retry-after", HeaderValue::from_static("1.5"));
        assert_eq!(retry_after_from_headers(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-reset-requests", HeaderValue::from_static("120ms"));
        assert_eq!(retry_after_from_headers(&h), Some(Duration::from_millis(120)));
        assert_eq!(retry_after_from_headers(&HeaderMap::new()), None);
    }

    #[test]
    fn error_bodies_give_their_message_or_their_text() {
        assert_eq!(
            error_message(r#"{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}"#),
            "Invalid API Key (invalid_request_error/invalid_api_key)"
        );
        assert_eq!(error_message("<html>502 Bad Gateway</html>\n"), "<html>502 Bad Gateway</html>");
        let long = "e".repeat(1000);
        assert_eq!(error_message(&long).chars().count(), MAX_ERROR_TEXT);
        assert_eq!(error_message(""), "empty body");
    }
}
