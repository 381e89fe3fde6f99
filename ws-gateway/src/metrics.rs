//! Prometheus metrics (`GET /metrics`). Names follow `aisle_<name>_<unit>[_total]`;
//! labels come from small fixed sets, never from tenants' text or ids.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    ws_connections: Counter,
    ws_open: Gauge<i64, AtomicI64>,
    ws_frames_in: Counter,
    ws_frames_out: Counter,
    retrieval_hybrid: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("aisle");
        let ws_connections = Counter::default();
        let ws_open = Gauge::<i64, AtomicI64>::default();
        let ws_frames_in = Counter::default();
        let ws_frames_out = Counter::default();
        registry.register("ws_connections", "WebSocket connections accepted", ws_connections.clone());
        registry.register("ws_connections_open", "WebSocket connections open now", ws_open.clone());
        registry.register("ws_frames_received", "Text frames received from shoppers", ws_frames_in.clone());
        registry.register("ws_frames_sent", "Event frames sent to shoppers", ws_frames_out.clone());
        let retrieval_hybrid = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "retrieval_hybrid",
            "1 when search is hybrid (vectors and keywords); 0 when it fell back to keywords only because the vector store or the embedder could not be opened",
            retrieval_hybrid.clone(),
        );
        Self { registry: Arc::new(registry), ws_connections, ws_open, ws_frames_in, ws_frames_out, retrieval_hybrid }
    }

    pub fn ws_opened(&self) {
        self.ws_connections.inc();
        self.ws_open.inc();
    }
    pub fn ws_closed(&self) {
        self.ws_open.dec();
    }
    pub fn ws_frame_in(&self) {
        self.ws_frames_in.inc();
    }
    pub fn ws_frame_out(&self) {
        self.ws_frames_out.inc();
    }
    pub fn set_retrieval_hybrid(&self, hybrid: bool) {
        self.retrieval_hybrid.set(i64::from(hybrid));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
