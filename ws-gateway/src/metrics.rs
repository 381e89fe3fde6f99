//! Prometheus metrics (`GET /metrics`). Names follow `aisle_<name>_<unit>[_total]`;
//! labels come from small fixed sets, never from tenants' text or ids.

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
    llm_breaker_state: Family<Vec<(String, String)>, Gauge<i64, AtomicI64>>,
    llm_breaker_opened: Family<Vec<(String, String)>, Gauge<i64, AtomicI64>>,
    /// Read at each scrape: the breakers live in the client.
    llm: Arc<std::sync::OnceLock<Arc<engine_llm::GroqModel>>>,
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
        let llm_breaker_state = Family::<Vec<(String, String)>, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "llm_breaker_state",
            "The Groq circuit breaker of each key (labelled by a fingerprint, never the key): 0 closed, 1 half-open (one probe allowed), 2 open (the offline assistant answers)",
            llm_breaker_state.clone(),
        );
        let llm_breaker_opened = Family::<Vec<(String, String)>, Gauge<i64, AtomicI64>>::default();
        registry.register(
            "llm_breaker_opened",
            "How many times each key's Groq circuit breaker has opened since the process started",
            llm_breaker_opened.clone(),
        );
        Self {
            registry: Arc::new(registry),
            ws_connections,
            ws_open,
            ws_frames_in,
            ws_frames_out,
            retrieval_hybrid,
            llm_breaker_state,
            llm_breaker_opened,
            llm: Arc::default(),
        }
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

    /// Reports this client's circuit breakers at every scrape.
    pub fn watch_llm(&self, groq: Arc<engine_llm::GroqModel>) {
        let _ = self.llm.set(groq);
    }

    pub fn render(&self) -> String {
        if let Some(groq) = self.llm.get() {
            for b in groq.breakers() {
                let labels = vec![("key".to_string(), b.key_id.clone())];
                let state = match b.state {
                    engine_llm::BreakerState::Closed => 0,
                    engine_llm::BreakerState::HalfOpen => 1,
                    engine_llm::BreakerState::Open => 2,
                };
                self.llm_breaker_state.get_or_create(&labels).set(state);
                self.llm_breaker_opened.get_or_create(&labels).set(b.opened_total.min(i64::MAX as u64) as i64);
            }
        }
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
