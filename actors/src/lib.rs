//! Aisle's actors (ractor): one `ConversationActor` per live conversation, one
//! `CartActor` per cart, one `TenantActor` per active tenant, under a `Registry`
//! supervisor. The store is the truth: every actor can be rebuilt from it, so a
//! crash loses no acknowledged write.
//!
//! Architecture invariant: no handler awaits a model call. Turns run as tasks that
//! post their events back; only a cart actor awaits its own store write, which is
//! what serialises that one cart.

pub mod cart;
pub mod conversation;
pub mod event_log;
pub mod outbox;
pub mod registry;
pub mod tenant;

use std::sync::Arc;
use std::time::Duration;

use engine::carts::CartService;
use engine::catalog::CatalogCache;
use engine::ports::llm::LanguageModel;
use engine::ports::retriever::Retriever;
use engine::ports::store::Store;

pub use conversation::{ACK_WINDOW, Command, MAX_INFLIGHT_CART};
pub use event_log::{Attached, Frame, Replay, SocketId};
pub use outbox::{OUTBOX_BYTES, OutboxReceiver, OutboxSender, outbox};
pub use registry::{ActorError, ConversationHandle, Conversations, next_socket_id};

/// What the actors need from the engine, built once at start-up.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub catalog: Arc<CatalogCache>,
    pub carts: Arc<CartService>,
    pub retriever: Arc<dyn Retriever>,
    /// The offline assistant: answers every turn without a remote model, and finishes
    /// those the remote model could not.
    pub model: Arc<dyn LanguageModel>,
    /// The remote model (Groq) when one is configured; it answers for the tenants it
    /// `serves` (a key: the deployment's or the tenant's own) that are within their
    /// plan's monthly token quota.
    pub remote: Option<Arc<dyn LanguageModel>>,
    /// The job service, for summaries of long conversations (`JobKind::Summarize`);
    /// `None`: no summaries (the history a remote model gets is only cut).
    pub jobs: Option<Arc<engine::jobs::Jobs>>,
    /// A conversation with no socket and no activity for this long is passivated.
    pub idle_timeout: Duration,
}
