//! The supervisor of conversations and tenants, and the typed handles callers use.
//!
//! Conversations are virtual actors: `Conversations::get` finds the live actor or
//! starts one, which rebuilds itself from the store. Starting happens in a task, not
//! in the registry's handler, so one slow store read never holds up other
//! conversations. A failed conversation is dropped from the map (its sockets see their
//! stream end and re-attach, which starts a fresh actor from the store); a panic in one
//! conversation never reaches another, because each is its own actor.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use engine::domain::{ConversationId, TenantId};
use engine::events::ErrorCode;
use engine::ports::store::TenantSettings;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::oneshot;

use crate::Services;
use crate::conversation::{Command, ConvMsg, ConversationActor, ConversationArgs, StartError};
use crate::event_log::{Attached, SocketId};
use crate::outbox::OutboxSender;
use crate::tenant::{TenantActor, TenantMsg, UnknownTenant};

#[derive(Debug, thiserror::Error)]
pub enum ActorError {
    #[error("not found")]
    NotFound,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

type ConvKey = (TenantId, ConversationId);
type Waiter = RpcReplyPort<Result<ActorRef<ConvMsg>, StartFailure>>;

/// Why an actor could not be started, as a type (never matched by its text).
#[derive(Clone, Debug)]
pub enum StartFailure {
    NotFound,
    Failed(String),
}

impl StartFailure {
    fn of(e: ractor::SpawnErr) -> Self {
        if let ractor::SpawnErr::StartupFailed(inner) = &e
            && (inner.downcast_ref::<StartError>().is_some() || inner.downcast_ref::<UnknownTenant>().is_some())
        {
            return StartFailure::NotFound;
        }
        StartFailure::Failed(e.to_string())
    }
}

impl From<StartFailure> for ActorError {
    fn from(f: StartFailure) -> Self {
        match f {
            StartFailure::NotFound => ActorError::NotFound,
            StartFailure::Failed(e) => ActorError::Unavailable(e),
        }
    }
}

pub enum RegistryMsg {
    Conversation { tenant: TenantId, conversation: ConversationId, reply: Waiter },
    Started { key: ConvKey, result: Result<ActorRef<ConvMsg>, StartFailure> },
    Tenant { tenant: TenantId, reply: RpcReplyPort<Result<ActorRef<TenantMsg>, StartFailure>> },
    Live(RpcReplyPort<usize>),
}

enum Slot {
    Running(ActorRef<ConvMsg>),
    Starting(Vec<Waiter>),
}

pub struct Registry;

pub struct RegistryState {
    services: Arc<Services>,
    events: crate::event_log::EventWriter,
    conversations: HashMap<ConvKey, Slot>,
    by_cell: HashMap<ractor::ActorId, ConvKey>,
    generations: HashMap<ConvKey, Arc<tokio::sync::Mutex<()>>>,
    tenants: HashMap<TenantId, ActorRef<TenantMsg>>,
}

impl Actor for Registry {
    type Msg = RegistryMsg;
    type State = RegistryState;
    type Arguments = Arc<Services>;

    async fn pre_start(&self, _myself: ActorRef<RegistryMsg>, services: Arc<Services>) -> Result<RegistryState, ActorProcessingErr> {
        Ok(RegistryState {
            events: crate::event_log::start_event_writer(services.store.clone()),
            services,
            conversations: HashMap::new(),
            by_cell: HashMap::new(),
            generations: HashMap::new(),
            tenants: HashMap::new(),
        })
    }

    async fn handle(&self, myself: ActorRef<RegistryMsg>, msg: RegistryMsg, state: &mut RegistryState) -> Result<(), ActorProcessingErr> {
        match msg {
            RegistryMsg::Conversation { tenant, conversation, reply } => {
                let key = (tenant.clone(), conversation.clone());
                match state.conversations.get_mut(&key) {
                    Some(Slot::Running(actor)) => {
                        let _ = reply.send(Ok(actor.clone()));
                    }
                    Some(Slot::Starting(waiters)) => waiters.push(reply),
                    None => {
                        let tenant_actor = match tenant_actor(&myself, state, &tenant).await {
                            Ok(t) => t,
                            Err(e) => {
                                let _ = reply.send(Err(e));
                                return Ok(());
                            }
                        };
                        state.conversations.insert(key.clone(), Slot::Starting(vec![reply]));
                        let args = ConversationArgs {
                            tenant,
                            conversation,
                            services: state.services.clone(),
                            tenant_actor,
                            generation: state.generations.entry(key.clone()).or_default().clone(),
                            events: state.events.clone(),
                        };
                        let registry = myself.clone();
                        let supervisor: ActorCell = myself.get_cell();
                        tokio::spawn(async move {
                            let result = Actor::spawn_linked(None, ConversationActor, args, supervisor)
                                .await
                                .map(|(actor, _)| actor)
                                .map_err(StartFailure::of);
                            let _ = registry.send_message(RegistryMsg::Started { key, result });
                        });
                    }
                }
            }
            RegistryMsg::Started { key, result } => {
                let waiters = match state.conversations.remove(&key) {
                    Some(Slot::Starting(w)) => w,
                    Some(Slot::Running(a)) => {
                        state.conversations.insert(key.clone(), Slot::Running(a));
                        Vec::new()
                    }
                    None => Vec::new(),
                };
                if let Ok(actor) = &result {
                    state.by_cell.insert(actor.get_id(), key.clone());
                    state.conversations.insert(key, Slot::Running(actor.clone()));
                }
                for w in waiters {
                    let _ = w.send(result.clone());
                }
            }
            RegistryMsg::Tenant { tenant, reply } => {
                let r = tenant_actor(&myself, state, &tenant).await;
                let _ = reply.send(r);
            }
            RegistryMsg::Live(reply) => {
                let _ = reply.send(state.by_cell.len());
            }
        }
        Ok(())
    }

    // Overridden on purpose: the default stops the registry when any child ends.
    async fn handle_supervisor_evt(&self, _myself: ActorRef<RegistryMsg>, evt: SupervisionEvent, state: &mut RegistryState) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match &evt {
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell.clone(), None),
            SupervisionEvent::ActorFailed(cell, err) => (cell.clone(), Some(err.to_string())),
            _ => return Ok(()),
        };
        if let Some(key) = state.by_cell.remove(&cell.get_id()) {
            if let Some(err) = failure {
                tracing::error!(conversation = %key.1, error = %err, "conversation actor failed; it restarts from the store on its next use");
            }
            if matches!(state.conversations.get(&key), Some(Slot::Running(a)) if a.get_id() == cell.get_id()) {
                state.conversations.remove(&key);
            }
        } else if let Some(tenant) = state.tenants.iter().find(|(_, a)| a.get_id() == cell.get_id()).map(|(t, _)| t.clone()) {
            if let Some(err) = failure {
                tracing::error!(tenant = %tenant, error = %err, "tenant actor failed; it restarts on its next use");
            }
            state.tenants.remove(&tenant);
        }
        // Forget generation locks nobody holds and no live conversation needs.
        state.generations.retain(|k, g| Arc::strong_count(g) > 1 || state.conversations.contains_key(k));
        Ok(())
    }
}

async fn tenant_actor(myself: &ActorRef<RegistryMsg>, state: &mut RegistryState, tenant: &TenantId) -> Result<ActorRef<TenantMsg>, StartFailure> {
    if let Some(a) = state.tenants.get(tenant) {
        return Ok(a.clone());
    }
    let (a, _) = Actor::spawn_linked(None, TenantActor, (tenant.clone(), state.services.store.clone()), myself.get_cell())
        .await
        .map_err(StartFailure::of)?;
    state.tenants.insert(tenant.clone(), a.clone());
    Ok(a)
}

static NEXT_SOCKET: AtomicU64 = AtomicU64::new(1);

/// A new id for a socket (unique in this process).
pub fn next_socket_id() -> SocketId {
    NEXT_SOCKET.fetch_add(1, Ordering::Relaxed)
}

/// The typed handle to the registry: what the gateway and the admin API use.
#[derive(Clone)]
pub struct Conversations {
    registry: ActorRef<RegistryMsg>,
}

const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Conversations {
    /// Starts the registry on the current (multi-thread) runtime.
    pub async fn start(services: Arc<Services>) -> Result<Self, ActorError> {
        let (registry, _) = Actor::spawn(None, Registry, services).await.map_err(|e| ActorError::Unavailable(e.to_string()))?;
        Ok(Self { registry })
    }

    /// The live actor of a conversation, started from the store if needed.
    pub async fn get(&self, tenant: &TenantId, conversation: &ConversationId) -> Result<ConversationHandle, ActorError> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        let r = self
            .registry
            .call(|reply| RegistryMsg::Conversation { tenant, conversation, reply }, Some(CALL_TIMEOUT))
            .await
            .map_err(|e| ActorError::Unavailable(e.to_string()))?;
        match r {
            ractor::rpc::CallResult::Success(Ok(actor)) => Ok(ConversationHandle { actor }),
            ractor::rpc::CallResult::Success(Err(e)) => Err(e.into()),
            _ => Err(ActorError::Unavailable("registry did not answer".into())),
        }
    }

    /// Attaches a socket, retrying if the actor was just passivating. Attaching the
    /// same socket id again replaces its earlier attachment.
    pub async fn attach(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        socket: SocketId,
        tx: OutboxSender,
        resume_from: Option<i64>,
    ) -> Result<(ConversationHandle, Attached), ActorError> {
        for _ in 0..5 {
            let handle = self.get(tenant, conversation).await?;
            let (reply, rx) = oneshot::channel();
            let msg = ConvMsg::Attach { socket, tx: tx.clone(), resume_from, reply };
            if handle.actor.send_message(msg).is_ok()
                && let Ok(Ok(attached)) = tokio::time::timeout(CALL_TIMEOUT, rx).await
            {
                return Ok((handle, attached));
            }
            // The actor stopped between lookup and attach; the registry will notice.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(ActorError::Unavailable("conversation did not start".into()))
    }

    /// The tenant's settings (bot name, greeting, currency), from its actor.
    pub async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings, ActorError> {
        let actor = self.tenant(tenant).await?;
        ractor::call_t!(actor, TenantMsg::Settings, CALL_TIMEOUT.as_millis() as u64).map_err(|e| ActorError::Unavailable(e.to_string()))
    }

    /// Tells a live tenant actor about new settings.
    pub async fn settings_changed(&self, tenant: &TenantId, settings: TenantSettings) -> Result<(), ActorError> {
        let actor = self.tenant(tenant).await?;
        actor.send_message(TenantMsg::SetSettings(settings)).map_err(|e| ActorError::Unavailable(e.to_string()))
    }

    async fn tenant(&self, tenant: &TenantId) -> Result<ActorRef<TenantMsg>, ActorError> {
        let tenant = tenant.clone();
        let r = self
            .registry
            .call(|reply| RegistryMsg::Tenant { tenant, reply }, Some(CALL_TIMEOUT))
            .await
            .map_err(|e| ActorError::Unavailable(e.to_string()))?;
        match r {
            ractor::rpc::CallResult::Success(Ok(a)) => Ok(a),
            ractor::rpc::CallResult::Success(Err(e)) => Err(e.into()),
            _ => Err(ActorError::Unavailable("registry did not answer".into())),
        }
    }

    /// Live conversation actors (for metrics and passivation tests).
    pub async fn live(&self) -> usize {
        ractor::call_t!(self.registry, RegistryMsg::Live, 5_000).unwrap_or(0)
    }
}

/// A live conversation. Cheap to clone; becomes stale when the actor stops (sends
/// then fail and the caller re-attaches through `Conversations`).
#[derive(Clone)]
pub struct ConversationHandle {
    actor: ActorRef<ConvMsg>,
}

impl ConversationHandle {
    pub fn command(&self, socket: SocketId, command: Command) -> Result<(), ActorError> {
        self.actor.send_message(ConvMsg::Command { socket, command }).map_err(|e| ActorError::Unavailable(e.to_string()))
    }

    pub fn reject(&self, id: Option<String>, code: ErrorCode, message: String) -> Result<(), ActorError> {
        self.actor.send_message(ConvMsg::Reject { id, code, message }).map_err(|e| ActorError::Unavailable(e.to_string()))
    }

    pub fn detach(&self, socket: SocketId) {
        let _ = self.actor.send_message(ConvMsg::Detach { socket });
    }

    /// Test hook: makes this conversation's actor panic, as a bug would.
    #[cfg(feature = "test-hooks")]
    pub fn inject_panic(&self) {
        let _ = self.actor.send_message(ConvMsg::Crash);
    }
}
