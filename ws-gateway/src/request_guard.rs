//! Two guards every HTTP request passes before its handler (a middleware, `guard`):
//!
//! - **A body deadline.** actix's `client_request_timeout` covers the headers only;
//!   a client sending its body at 10 B/s would hold a connection (and the handler
//!   reading it) for as long as it likes. The request's body stream is wrapped so that
//!   the whole body must arrive within `AISLE_BODY_TIMEOUT_MS` (30 s by default) of
//!   the headers; past it the read fails, and the handler answers `408`
//!   `request_timeout` (`error::json_config` for JSON bodies, the import's own loop
//!   for CSV) and the connection is closed. WebSocket upgrades are exempt: their
//!   "body" is the socket.
//! - **A cap on requests not yet authenticated.** Each request holds a permit of a
//!   semaphore (`AISLE_MAX_UNAUTHENTICATED`, 256 by default) from its arrival until
//!   it shows valid credentials (the `auth` extractors call [`authenticated`]) or is
//!   answered. Past the cap a request is answered at once `503` `unavailable` with
//!   `Retry-After`. `/healthz`, `/readyz` and `/metrics` are exempt, so probes keep
//!   working while the cap is full.

use std::cell::RefCell;
use std::future::Future as _;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, ResponseError};
use engine::events::ErrorCode;
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// Seconds a client refused by the cap is asked to wait.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The guards' settings and the semaphore, shared by every worker.
#[derive(Clone)]
pub struct RequestGuard {
    body_timeout: Duration,
    unauthenticated: Arc<Semaphore>,
}

impl RequestGuard {
    pub fn new(body_timeout: Duration, max_unauthenticated: usize) -> Self {
        Self { body_timeout, unauthenticated: Arc::new(Semaphore::new(max_unauthenticated.max(1))) }
    }

    /// Requests holding a permit now (for tests and metrics).
    pub fn unauthenticated_in_flight(&self, max: usize) -> usize {
        max.saturating_sub(self.unauthenticated.available_permits())
    }
}

/// A request's permit while it has not authenticated; taken out (released) by
/// [`authenticated`] or when the request is answered.
#[derive(Clone)]
struct Unauthenticated(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl Unauthenticated {
    fn release(&self) {
        if let Ok(mut slot) = self.0.lock() {
            slot.take();
        }
    }
}

/// The request showed valid credentials: it no longer counts against the cap.
pub fn authenticated(req: &HttpRequest) {
    if let Some(u) = req.extensions().get::<Unauthenticated>() {
        u.release();
    }
}

fn exempt_from_cap(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

fn is_upgrade(req: &ServiceRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The middleware (`App::wrap(from_fn(request_guard::guard))`).
pub async fn guard(mut req: ServiceRequest, next: Next<impl MessageBody + 'static>) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(guard) = req.app_data::<actix_web::web::Data<RequestGuard>>().map(|g| g.get_ref().clone()) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let slot = if exempt_from_cap(req.path()) {
        None
    } else {
        match guard.unauthenticated.clone().try_acquire_owned() {
            Ok(permit) => {
                let slot = Unauthenticated(Arc::new(Mutex::new(Some(permit))));
                req.extensions_mut().insert(slot.clone());
                Some(slot)
            }
            Err(_) => {
                let error = ApiError::new(ErrorCode::Unavailable, "too many requests in progress; try again shortly");
                let mut response = error.error_response();
                response.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(RETRY_AFTER_SECS),
                );
                // Its body (if any) is not read: close the connection.
                let unread = Rc::new(RefCell::new(req.take_payload()));
                return Ok(closing(req.into_response(response), unread));
            }
        }
    };
    // The body stream, shared with the response of a request whose body came too late
    // (see `closing`).
    let body = (!is_upgrade(&req)).then(|| {
        let body = Rc::new(RefCell::new(req.take_payload()));
        req.set_payload(Payload::Stream { payload: Box::pin(Deadline::new(body.clone(), guard.body_timeout)) });
        body
    });
    let result = next.call(req).await;
    if let Some(slot) = slot {
        slot.release();
    }
    let response = result?;
    match body {
        Some(body) if response.status() == actix_web::http::StatusCode::REQUEST_TIMEOUT => Ok(closing(response, body)),
        _ => Ok(response.map_into_boxed_body()),
    }
}

/// A response after which the connection closes, its request body unread. actix
/// closes a connection whose request body is unfinished when the response ends — but
/// drains (keeps reading) a chunked body whose reader was dropped, which a client
/// trickling bytes could keep up for ever. So the body's reader is kept alive by the
/// response body until the response is written, and the connection is closed.
fn closing(response: ServiceResponse<impl MessageBody + 'static>, unread: Rc<RefCell<Payload>>) -> ServiceResponse<BoxBody> {
    let mut response = response.map_body(|head, body| {
        head.set_connection_type(actix_web::http::ConnectionType::Close);
        BoxBody::new(HoldingBody { body: body.boxed(), _unread: unread })
    });
    response.response_mut().head_mut().set_connection_type(actix_web::http::ConnectionType::Close);
    response
}

/// A response body that keeps the request's body reader alive until it is dropped.
struct HoldingBody {
    body: BoxBody,
    _unread: Rc<RefCell<Payload>>,
}

impl MessageBody for HoldingBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// The message of a body that came too slowly.
pub fn timeout_message(timeout: Duration) -> String {
    format!("the request body did not arrive within {} ms", timeout.as_millis())
}

/// Whether a body read failed because of the deadline.
pub fn is_body_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// The API error of a failed body read: `408 request_timeout` for the deadline,
/// `400 bad_request` otherwise.
pub fn body_error(e: &PayloadError) -> ApiError {
    match e {
        PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => ApiError::new(ErrorCode::RequestTimeout, io.to_string()),
        other => ApiError::new(ErrorCode::BadRequest, format!("cannot read the request body: {other}")),
    }
}

/// A body stream that fails with `TimedOut` once its deadline has passed.
struct Deadline {
    inner: Rc<RefCell<Payload>>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    done: bool,
}

impl Deadline {
    fn new(inner: Rc<RefCell<Payload>>, timeout: Duration) -> Self {
        Self { inner, sleep: Box::pin(tokio::time::sleep(timeout)), timeout, done: false }
    }
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let polled = {
            let mut inner = self.inner.borrow_mut();
            Pin::new(&mut *inner).poll_next(cx)
        };
        match polled {
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            // A chunk that arrived after the deadline does not count.
            Poll::Ready(Some(_)) if self.sleep.is_elapsed() => {
                self.done = true;
                Poll::Ready(Some(Err(timed_out(self.timeout))))
            }
            ready @ Poll::Ready(Some(_)) => ready,
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    Poll::Ready(Some(Err(timed_out(self.timeout))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

fn timed_out(timeout: Duration) -> PayloadError {
    PayloadError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, timeout_message(timeout)))
}
