//! The shopper WebSocket, `GET /v1/ws` (contract §1).

pub mod protocol;
pub mod session;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

/// Frames above this are a protocol error (the socket closes with 1009); frames
/// between 16 KiB and this get a `too_large` error and the socket stays open.
const HARD_FRAME_LIMIT: usize = 64 * 1024;

pub async fn upgrade(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, actix_web::Error> {
    // Connects per client address (the TCP peer; `X-Forwarded-For` is not trusted):
    // refused before the upgrade, with `Retry-After`.
    let address = req.peer_addr().map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    if let Err(wait) = state.limits.ws_connects.check(&address) {
        let message = format!("too many WebSocket connects from this address; {}", crate::limits::wait_text(wait));
        return Err(crate::error::ApiError::rate_limited(message, wait).into());
    }
    let origin = req.headers().get(actix_web::http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let stream = stream.max_frame_size(HARD_FRAME_LIMIT).aggregate_continuations().max_continuation_size(HARD_FRAME_LIMIT);
    // The stream is !Send: run the session on this worker.
    actix_web::rt::spawn(session::run(state.into_inner(), session, stream, origin));
    Ok(response)
}
