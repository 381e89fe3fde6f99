//! One shopper socket: the `hello` handshake, then a single loop over inbound frames,
//! the conversation's outbound events and a heartbeat (the shape of actix's
//! chat-actorless example). Nothing a client sends can end the loop except closing;
//! bad frames become `error` events of the conversation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use actors::{ActorError, Attached, ConversationHandle, OutboxReceiver, Replay, SocketId, next_socket_id};
use chrono::Utc;
use engine::domain::{ConversationId, TenantId};
use engine::events::ErrorCode;
use engine::ports::store::{ConversationRecord, Deployment};
use futures_util::StreamExt;
use serde_json::json;

use crate::error::close;
use crate::session_token::Session as TokenSession;
use crate::state::AppState;
use crate::ws::protocol::{self, Frame, Hello, MAX_FRAME_BYTES};

const HEARTBEAT: Duration = Duration::from_secs(15);
const CLIENT_TIMEOUT: Duration = Duration::from_secs(45);
/// Re-attaches after the conversation's actor went away (a crash): more than this in
/// a socket's life and it is closed instead.
const MAX_REATTACH: u32 = 5;
/// Closing writes (a refusal, a close frame) wait at most this long for the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Events read from the store per page when a resume reaches back past the memory window.
const REPLAY_PAGE: u32 = 256;

/// Why a write to the client failed.
enum WriteError {
    /// The connection is gone.
    Closed,
    /// The client did not take the frame in time.
    TooSlow,
}

/// A write the client must take within `AISLE_WS_WRITE_TIMEOUT_MS`.
async fn write(state: &AppState, session: &mut Session, text: &str) -> Result<(), WriteError> {
    match tokio::time::timeout(state.config.ws_write_timeout, session.text(text.to_string())).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(WriteError::Closed),
        Err(_) => Err(WriteError::TooSlow),
    }
}

/// Sends the events a resuming socket missed (`Attached::replay`): from the log's
/// memory, or page by page from the store. Live events wait in the socket's outbox
/// meanwhile, so the conversation never waits for a replay, however deep.
async fn replay(state: &AppState, session: &mut Session, tenant: &TenantId, conversation: &ConversationId, replay: Replay, last_seq: &mut i64) -> Result<(), WriteError> {
    match replay {
        Replay::Nothing => Ok(()),
        Replay::Frames(frames) => {
            for frame in frames {
                write(state, session, &frame).await?;
                if let Some(seq) = frame_seq(&frame) {
                    *last_seq = (*last_seq).max(seq);
                }
            }
            Ok(())
        }
        Replay::Store { after, upto } => {
            let mut after = after;
            while after < upto {
                let page = match state.store.events_after(tenant, conversation, after, REPLAY_PAGE).await {
                    Ok(page) if !page.is_empty() => page,
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        tracing::error!(error = %e, "replay read failed");
                        return Err(WriteError::Closed);
                    }
                };
                for e in page {
                    if e.seq > upto {
                        return Ok(());
                    }
                    after = e.seq;
                    write(state, session, &e.json).await?;
                    *last_seq = (*last_seq).max(e.seq);
                    state.metrics.ws_frame_out();
                }
            }
            Ok(())
        }
    }
}

/// An error frame before `welcome` (no `seq`), then the close.
async fn refuse(mut session: Session, code: ErrorCode, message: &str, close_code: u16) {
    let frame = json!({"type": "error", "code": code.as_str(), "message": message, "id": null});
    let _ = tokio::time::timeout(WRITE_TIMEOUT, session.text(frame.to_string())).await;
    let reason = CloseReason { code: CloseCode::Other(close_code), description: Some(message.to_string()) };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, session.close(Some(reason))).await;
}

async fn close_with(session: Session, code: u16, why: &str) {
    let reason = CloseReason { code: CloseCode::Other(code), description: Some(why.to_string()) };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, session.close(Some(reason))).await;
}

/// Waits for the first text frame, answering pings meanwhile.
async fn first_text(session: &mut Session, stream: &mut AggregatedMessageStream) -> Option<Result<String, ()>> {
    while let Some(msg) = stream.next().await {
        match msg {
            Ok(AggregatedMessage::Text(t)) => return Some(Ok(t.to_string())),
            Ok(AggregatedMessage::Ping(b)) => {
                let _ = session.pong(&b).await;
            }
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Binary(_)) => return Some(Err(())),
            Ok(AggregatedMessage::Close(_)) | Err(_) => return None,
        }
    }
    None
}

pub async fn run(state: Arc<AppState>, mut session: Session, mut stream: AggregatedMessageStream, origin: Option<String>) {
    state.metrics.ws_opened();
    let hello = match tokio::time::timeout(state.config.hello_timeout, first_text(&mut session, &mut stream)).await {
        Err(_) => {
            close_with(session, close::HELLO_TIMEOUT, "no hello in time").await;
            state.metrics.ws_closed();
            return;
        }
        Ok(None) => {
            state.metrics.ws_closed();
            return;
        }
        Ok(Some(Err(()))) => {
            refuse(session, ErrorCode::Unauthorized, "the first frame must be hello", close::UNAUTHORIZED).await;
            state.metrics.ws_closed();
            return;
        }
        Ok(Some(Ok(text))) => text,
    };
    let hello = match protocol::parse(&hello) {
        Ok(Frame::Hello(h)) => h,
        _ => {
            refuse(session, ErrorCode::Unauthorized, "the first frame must be hello", close::UNAUTHORIZED).await;
            state.metrics.ws_closed();
            return;
        }
    };
    match open(&state, &hello, origin.as_deref()).await {
        Ok(opened) => connected(&state, session, stream, opened, hello.resume_from_seq).await,
        Err((code, message, close_code)) => refuse(session, code, &message, close_code).await,
    }
    state.metrics.ws_closed();
}

struct Opened {
    deployment: Deployment,
    conversation: ConversationId,
}

type Refusal = (ErrorCode, String, u16);

/// Checks the key, the origin and the token, and finds or creates the conversation.
async fn open(state: &AppState, hello: &Hello, origin: Option<&str>) -> Result<Opened, Refusal> {
    let unauthorized = |m: &str| (ErrorCode::Unauthorized, m.to_string(), close::UNAUTHORIZED);
    let deployment = match state.tenants.resolve_key(&hello.deployment_key).await {
        Ok(d) => d,
        Err(tenants::TenantError::Unauthorized) => return Err(unauthorized("unknown or revoked deployment key")),
        Err(e) => {
            tracing::error!(error = %e, "deployment lookup failed");
            return Err((ErrorCode::Unavailable, "try again later".into(), close::TRY_AGAIN_LATER));
        }
    };
    if !tenants::origin_allowed(&deployment, origin) {
        return Err((ErrorCode::Forbidden, "this origin may not use this deployment".into(), close::FORBIDDEN));
    }
    let tenant = deployment.tenant_id.clone();
    // A canceled subscription closes the shop's assistant, for new and resumed
    // conversations alike (contract extension: `forbidden`, close 4403).
    match state.tenants.ensure_serving(&tenant).await {
        Ok(()) => {}
        Err(tenants::TenantError::Canceled) => {
            return Err((ErrorCode::Forbidden, crate::error::CANCELED_MESSAGE.into(), close::FORBIDDEN));
        }
        Err(tenants::TenantError::Unauthorized) => return Err(unauthorized("unknown or revoked deployment key")),
        Err(e) => {
            tracing::error!(error = %e, "tenant lookup failed");
            return Err((ErrorCode::Unavailable, "try again later".into(), close::TRY_AGAIN_LATER));
        }
    }
    let conversation = match &hello.session_token {
        Some(token) => {
            let s = state.session_keys.verify(token).ok_or_else(|| unauthorized("invalid or expired session token"))?;
            // A token resumes only on the deployment it was issued for: another shop's,
            // or another deployment (site) of the same shop, is refused alike.
            if s.tenant != tenant || s.deployment != deployment.id {
                return Err(unauthorized("invalid or expired session token"));
            }
            match state.store.get_conversation(&tenant, &s.conversation).await {
                Ok(Some(_)) => s.conversation,
                Ok(None) => return Err(unauthorized("invalid or expired session token")),
                Err(e) => {
                    tracing::error!(error = %e, "conversation lookup failed");
                    return Err((ErrorCode::Unavailable, "try again later".into(), close::TRY_AGAIN_LATER));
                }
            }
        }
        None => {
            // New conversations per deployment key: past it the socket is refused
            // (close 4429) before anything is written.
            if let Err(wait) = state.limits.new_conversations.check(deployment.id.as_str()) {
                let message = format!("too many new conversations for this deployment; {}", crate::limits::wait_text(wait));
                return Err((ErrorCode::RateLimited, message, close::RATE_LIMITED));
            }
            let record = ConversationRecord {
                id: ConversationId::generate(),
                tenant_id: tenant.clone(),
                deployment_id: deployment.id.clone(),
                started_at: Utc::now(),
                last_message_at: None,
                messages: 0,
                dialogue_state: "{}".into(),
            };
            if let Err(e) = state.store.create_conversation(&record).await {
                tracing::error!(error = %e, "creating a conversation failed");
                return Err((ErrorCode::Unavailable, "try again later".into(), close::TRY_AGAIN_LATER));
            }
            record.id
        }
    };
    Ok(Opened { deployment, conversation })
}

/// Reads `seq` from an outbound frame: every event is serialised with it first.
fn frame_seq(frame: &str) -> Option<i64> {
    let rest = frame.strip_prefix("{\"seq\":")?;
    let end = rest.find(|c: char| !c.is_ascii_digit())?;
    rest[..end].parse().ok()
}

async fn attach(state: &AppState, tenant: &TenantId, conversation: &ConversationId, socket: SocketId, resume_from: Option<i64>) -> Result<(ConversationHandle, Attached, OutboxReceiver), ActorError> {
    let (tx, rx) = actors::outbox(state.config.ws_outbox_bytes);
    let (handle, attached) = state.conversations.attach(tenant, conversation, socket, tx, resume_from).await?;
    Ok((handle, attached, rx))
}

async fn connected(state: &AppState, mut session: Session, mut stream: AggregatedMessageStream, opened: Opened, resume_from: Option<i64>) {
    let tenant = opened.deployment.tenant_id.clone();
    let conversation = opened.conversation;
    let socket = next_socket_id();
    let settings = match state.conversations.settings(&tenant).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "tenant settings unavailable");
            refuse(session, ErrorCode::Unavailable, "try again later", close::TRY_AGAIN_LATER).await;
            return;
        }
    };
    // Welcome first: attach (which queues any replay) and only then read the queue.
    let (mut handle, mut attached, mut rx) = match attach(state, &tenant, &conversation, socket, resume_from).await {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "attaching to the conversation failed");
            refuse(session, ErrorCode::Unavailable, "try again later", close::TRY_AGAIN_LATER).await;
            return;
        }
    };
    let token = state.session_keys.issue(&TokenSession {
        tenant: tenant.clone(),
        deployment: opened.deployment.id.clone(),
        conversation: conversation.clone(),
    });
    let welcome = json!({
        "type": "welcome",
        "conversation_id": conversation.as_str(),
        "session_token": token,
        "seq": attached.seq,
        "bot": {"name": settings.bot_name, "greeting": settings.greeting},
        "cart": attached.cart,
    });
    if write(state, &mut session, &welcome.to_string()).await.is_err() {
        handle.detach(socket);
        return;
    }
    let mut last_seq = resume_from.unwrap_or(attached.seq).max(0);
    let first_replay = std::mem::replace(&mut attached.replay, Replay::Nothing);
    if let Err(e) = replay(state, &mut session, &tenant, &conversation, first_replay, &mut last_seq).await {
        handle.detach(socket);
        if let WriteError::TooSlow = e {
            close_with(session, close::TOO_SLOW, "events not read in time; resume with resume_from_seq").await;
        }
        return;
    }
    let mut reattached = 0u32;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.tick().await;
    let mut last_heard = Instant::now();
    let close_reason: Option<(u16, &str)> = loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(frame) => {
                    if let Some(seq) = frame_seq(&frame) {
                        last_seq = last_seq.max(seq);
                    }
                    state.metrics.ws_frame_out();
                    match write(state, &mut session, &frame).await {
                        Ok(()) => {}
                        Err(WriteError::Closed) => break None,
                        Err(WriteError::TooSlow) => break Some((close::TOO_SLOW, "events not read in time; resume with resume_from_seq")),
                    }
                }
                None if rx.overflowed() => {
                    // We fell behind by more than the outbox holds: this socket goes,
                    // the conversation stays; the client resumes from its last seq.
                    break Some((close::TOO_SLOW, "events not read in time; resume with resume_from_seq"));
                }
                None => {
                    // The conversation's actor went away: attach again and resume after
                    // the last event we delivered.
                    reattached += 1;
                    if reattached > MAX_REATTACH {
                        break Some((close::TRY_AGAIN_LATER, "conversation unavailable"));
                    }
                    match attach(state, &tenant, &conversation, socket, Some(last_seq)).await {
                        Ok((h, a, r)) => {
                            handle = h;
                            rx = r;
                            match replay(state, &mut session, &tenant, &conversation, a.replay, &mut last_seq).await {
                                Ok(()) => {}
                                Err(WriteError::Closed) => break None,
                                Err(WriteError::TooSlow) => break Some((close::TOO_SLOW, "events not read in time; resume with resume_from_seq")),
                            }
                        }
                        Err(_) => break Some((close::TRY_AGAIN_LATER, "conversation unavailable")),
                    }
                }
            },
            msg = stream.next() => {
                let Some(msg) = msg else { break None };
                last_heard = Instant::now();
                match msg {
                    Ok(AggregatedMessage::Text(text)) => {
                        state.metrics.ws_frame_in();
                        if let Some(command) = inbound(state, &conversation, &mut session, &handle, socket, &text).await {
                            // The actor stopped under us: attach to its next incarnation
                            // (rebuilt from the store) and hand it the command.
                            reattached += 1;
                            match attach(state, &tenant, &conversation, socket, Some(last_seq)).await {
                                Ok((h, a, r)) if reattached <= MAX_REATTACH && h.command(socket, command).is_ok() => {
                                    handle = h;
                                    rx = r;
                                    match replay(state, &mut session, &tenant, &conversation, a.replay, &mut last_seq).await {
                                        Ok(()) => {}
                                        Err(WriteError::Closed) => break None,
                                        Err(WriteError::TooSlow) => break Some((close::TOO_SLOW, "events not read in time; resume with resume_from_seq")),
                                    }
                                }
                                _ => break Some((close::TRY_AGAIN_LATER, "conversation unavailable")),
                            }
                        }
                    }
                    Ok(AggregatedMessage::Binary(_)) => {
                        let _ = handle.reject(None, ErrorCode::BadRequest, "binary frames are not supported; send JSON text".into());
                    }
                    Ok(AggregatedMessage::Ping(b)) => {
                        let _ = tokio::time::timeout(WRITE_TIMEOUT, session.pong(&b)).await;
                    }
                    Ok(AggregatedMessage::Pong(_)) => {}
                    Ok(AggregatedMessage::Close(_)) => break None,
                    Err(e) => {
                        tracing::debug!(error = %e, "websocket protocol error");
                        break Some((close::TOO_BIG, "frame too large or malformed"));
                    }
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > CLIENT_TIMEOUT {
                    break Some((1001, "no heartbeat"));
                }
                match tokio::time::timeout(state.config.ws_write_timeout, session.ping(b"")).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break None,
                    Err(_) => break Some((close::TOO_SLOW, "events not read in time; resume with resume_from_seq")),
                }
            }
        }
    };
    handle.detach(socket);
    if let Some((code, why)) = close_reason {
        close_with(session, code, why).await;
    } else {
        let _ = tokio::time::timeout(WRITE_TIMEOUT, session.close(None)).await;
    }
}

/// Handles one text frame. A command the conversation could not take (its actor just
/// stopped) is handed back so the caller re-attaches and sends it again. Commands are
/// rate limited per conversation (all its sockets share the budget): past the limit
/// the command gets `error` `rate_limited` with its `id`, nothing is applied, and the
/// same command may be sent again later.
async fn inbound(
    state: &AppState,
    conversation: &ConversationId,
    session: &mut Session,
    handle: &ConversationHandle,
    socket: SocketId,
    text: &str,
) -> Option<actors::Command> {
    if text.len() > MAX_FRAME_BYTES {
        let _ = handle.reject(None, ErrorCode::TooLarge, format!("a frame has at most {MAX_FRAME_BYTES} bytes"));
        return None;
    }
    match protocol::parse(text) {
        Ok(Frame::Ping) => {
            let _ = tokio::time::timeout(WRITE_TIMEOUT, session.text(r#"{"type":"pong"}"#)).await;
        }
        Ok(Frame::Hello(_)) => {
            let _ = handle.reject(None, ErrorCode::BadRequest, "already said hello".into());
        }
        Ok(Frame::Command(command)) => {
            let (limiter, what) = match &command {
                actors::Command::Message { .. } => (&state.limits.messages, "messages"),
                actors::Command::Cart { .. } => (&state.limits.cart_commands, "cart commands"),
            };
            if let Err(wait) = limiter.check(conversation.as_str()) {
                let message = format!("too many {what} in this conversation; {}", crate::limits::wait_text(wait));
                let _ = handle.reject(Some(command.id().as_str().to_string()), ErrorCode::RateLimited, message);
                return None;
            }
            if handle.command(socket, command.clone()).is_err() {
                return Some(command);
            }
        }
        Err(e) => {
            let _ = handle.reject(e.id, ErrorCode::BadRequest, e.message);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_seq_from_frames() {
        assert_eq!(super::frame_seq(r#"{"seq":42,"type":"ack","id":"x"}"#), Some(42));
        assert_eq!(super::frame_seq(r#"{"type":"pong"}"#), None);
    }
}
