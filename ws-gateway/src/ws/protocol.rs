//! Client frames of the shopper WebSocket (contract §1), parsed into commands. A
//! frame that does not parse becomes a `bad_request` naming the problem, with the
//! frame's `id` when it had a readable one.

use engine::carts::CartOp;
use engine::domain::{CommandId, ProductId, VariantId};
use serde::Deserialize;

use actors::Command;

/// The most characters a `message` may have.
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// The largest text frame we read (bigger ones are `too_large`).
pub const MAX_FRAME_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
pub struct Hello {
    pub deployment_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
    #[serde(default)]
    pub resume_from_seq: Option<i64>,
}

/// What a text frame asks for.
#[derive(Debug)]
pub enum Frame {
    Hello(Hello),
    Ping,
    Command(Command),
}

#[derive(Debug, PartialEq)]
pub struct FrameError {
    pub id: Option<String>,
    pub message: String,
}

fn err(id: &Option<String>, message: impl Into<String>) -> FrameError {
    FrameError { id: id.clone(), message: message.into() }
}

#[derive(Deserialize)]
struct Line {
    product_id: String,
    #[serde(default)]
    variant_id: Option<String>,
    quantity: Option<serde_json::Value>,
}

pub fn parse(text: &str) -> Result<Frame, FrameError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| err(&None, format!("not JSON: {e}")))?;
    let obj = value.as_object().ok_or_else(|| err(&None, "a frame is a JSON object"))?;
    let id = obj.get("id").and_then(|v| v.as_str()).map(|s| s.chars().take(64).collect::<String>());
    let kind = obj.get("type").and_then(|v| v.as_str()).ok_or_else(|| err(&id, "missing \"type\""))?;
    let command_id = || -> Result<CommandId, FrameError> {
        let raw = obj.get("id").ok_or_else(|| err(&None, "missing \"id\""))?;
        let s = raw.as_str().ok_or_else(|| err(&None, "\"id\" must be a string"))?;
        CommandId::parse(s).map_err(|_| err(&None, "\"id\" must have 1 to 64 characters"))
    };
    let line = |with_qty: bool| -> Result<(ProductId, Option<VariantId>, i64), FrameError> {
        let l: Line = serde_json::from_value(value.clone()).map_err(|e| err(&id, format!("invalid fields: {e}")))?;
        let p = ProductId::parse(l.product_id).map_err(|_| err(&id, "invalid product_id"))?;
        let v = match l.variant_id {
            Some(v) => Some(VariantId::parse(v).map_err(|_| err(&id, "invalid variant_id"))?),
            None => None,
        };
        let q = if with_qty {
            let q = l.quantity.ok_or_else(|| err(&id, "missing quantity"))?;
            q.as_i64().ok_or_else(|| err(&id, "quantity must be an integer"))?
        } else {
            0
        };
        Ok((p, v, q))
    };
    match kind {
        "hello" => {
            let h: Hello = serde_json::from_value(value.clone()).map_err(|e| err(&id, format!("invalid hello: {e}")))?;
            Ok(Frame::Hello(h))
        }
        "ping" => Ok(Frame::Ping),
        "message" => {
            let cid = command_id()?;
            let text = obj.get("text").and_then(|v| v.as_str()).ok_or_else(|| err(&id, "missing \"text\""))?;
            let n = text.chars().count();
            if text.trim().is_empty() || n > MAX_MESSAGE_CHARS {
                return Err(err(&id, format!("text must have 1 to {MAX_MESSAGE_CHARS} characters")));
            }
            Ok(Frame::Command(Command::Message { id: cid, text: text.to_string() }))
        }
        "cart.add" => {
            let cid = command_id()?;
            let (product_id, variant_id, quantity) = line(true)?;
            if !(1..=99).contains(&quantity) {
                return Err(err(&id, "quantity must be between 1 and 99"));
            }
            Ok(Frame::Command(Command::Cart { id: cid, op: CartOp::Add { product_id, variant_id, quantity } }))
        }
        "cart.set" => {
            let cid = command_id()?;
            let (product_id, variant_id, quantity) = line(true)?;
            if !(0..=99).contains(&quantity) {
                return Err(err(&id, "quantity must be between 0 and 99"));
            }
            Ok(Frame::Command(Command::Cart { id: cid, op: CartOp::Set { product_id, variant_id, quantity } }))
        }
        "cart.remove" => {
            let cid = command_id()?;
            let (product_id, variant_id, _) = line(false)?;
            Ok(Frame::Command(Command::Cart { id: cid, op: CartOp::Remove { product_id, variant_id } }))
        }
        "cart.get" => Ok(Frame::Command(Command::Cart { id: command_id()?, op: CartOp::Get })),
        "checkout" => Ok(Frame::Command(Command::Cart { id: command_id()?, op: CartOp::Checkout })),
        other => Err(err(&id, format!("unknown type {:?}", other.chars().take(40).collect::<String>()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_client_frame() {
        assert!(matches!(parse(r#"{"type":"ping"}"#), Ok(Frame::Ping)));
        assert!(matches!(parse(r#"{"type":"hello","deployment_key":"pk_x"}"#), Ok(Frame::Hello(_))));
        assert!(matches!(parse(r#"{"type":"message","id":"1","text":"hi"}"#), Ok(Frame::Command(Command::Message { .. }))));
        assert!(matches!(
            parse(r#"{"type":"cart.add","id":"1","product_id":"p_1","quantity":2}"#),
            Ok(Frame::Command(Command::Cart { op: CartOp::Add { quantity: 2, .. }, .. }))
        ));
        assert!(matches!(
            parse(r#"{"type":"cart.set","id":"1","product_id":"p_1","variant_id":"v_1","quantity":0}"#),
            Ok(Frame::Command(Command::Cart { op: CartOp::Set { quantity: 0, .. }, .. }))
        ));
        assert!(matches!(parse(r#"{"type":"cart.remove","id":"1","product_id":"p_1"}"#), Ok(Frame::Command(_))));
        assert!(matches!(parse(r#"{"type":"cart.get","id":"1"}"#), Ok(Frame::Command(_))));
        assert!(matches!(parse(r#"{"type":"checkout","id":"1"}"#), Ok(Frame::Command(_))));
    }

    #[test]
    fn refuses_bad_frames_with_their_id() {
        assert_eq!(parse("nope").unwrap_err().id, None);
        assert_eq!(parse("[1]").unwrap_err().id, None);
        assert_eq!(parse(r#"{"type":"dance","id":"x"}"#).unwrap_err().id.as_deref(), Some("x"));
        let e = parse(r#"{"type":"cart.add","id":"x","product_id":"p_1","quantity":100}"#).unwrap_err();
        assert_eq!(e.id.as_deref(), Some("x"));
        assert!(parse(r#"{"type":"cart.add","id":"x","product_id":"p_1","quantity":0}"#).is_err());
        assert!(parse(r#"{"type":"cart.add","id":"x","product_id":"p_1","quantity":1.5}"#).is_err());
        assert!(parse(r#"{"type":"cart.add","id":"x","product_id":"p_1"}"#).is_err());
        assert!(parse(r#"{"type":"cart.set","id":"x","product_id":"p 1","quantity":1}"#).is_err());
        assert!(parse(r#"{"type":"message","id":"","text":"hi"}"#).is_err());
        assert!(parse(&format!(r#"{{"type":"message","id":"{}","text":"hi"}}"#, "a".repeat(65))).is_err());
        assert!(parse(&format!(r#"{{"type":"message","id":"a","text":"{}"}}"#, "a".repeat(4001))).is_err());
        assert!(parse(r#"{"type":"message","id":"a","text":""}"#).is_err());
        assert!(parse(r#"{"type":"message","id":7,"text":"hi"}"#).is_err());
    }
}
