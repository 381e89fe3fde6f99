//! A shopper's message as a turn: the task that picks the model (Groq when the tenant
//! is served and within its tokens, else the offline assistant), runs the turn
//! pipeline, records the tokens, and posts what it says back to the conversation
//! (`TurnBridge`), so no handler ever awaits a model.

use super::*;

/// Starts the next queued turn unless one is running.
pub(super) fn start_next_turn(myself: &ActorRef<ConvMsg>, state: &mut ConvState) {
    if state.running.is_some() {
        return;
    }
    let Some(text) = state.queued.pop_front() else { return };
    state.turns += 1;
    let turn = state.turns;
    let services = state.services.clone();
    let tenant = state.tenant.clone();
    let tenant_actor = state.tenant_actor.clone();
    let conversation_id = state.conversation.clone();
    let bridge = TurnBridge { conversation: myself.clone(), cart: state.cart.clone() };
    let history: Vec<ChatMessage> = state.history.iter().cloned().collect();
    let dialogue = state.dialogue.clone();
    let task = tokio::spawn(async move {
        let settings = ractor::call!(tenant_actor, TenantMsg::Settings).unwrap_or_default();
        let cart = ractor::call!(bridge.cart, CartMsg::Get);
        let catalog = services.catalog.get(&tenant).await;
        let (cart, catalog) = match (cart, catalog) {
            (Ok(c), Ok(k)) => (c, k),
            _ => {
                bridge.emit(Event::AssistantStart { turn }).await;
                let sorry = "Sorry, the shop is unavailable right now. Please try again.".to_string();
                bridge.emit(Event::AssistantDelta { turn, text: sorry.clone() }).await;
                bridge.emit(Event::AssistantEnd { turn, text: sorry.clone() }).await;
                let outcome = TurnOutcome::apology(sorry, dialogue);
                let _ = bridge.conversation.send_message(ConvMsg::TurnDone { turn, text, outcome });
                return;
            }
        };
        // The remote model answers when it serves this tenant (a key) and the plan's
        // tokens are not used up; the offline assistant finishes what it cannot.
        let remote = match &services.remote {
            Some(r) if r.serves(&settings) => {
                ractor::call!(tenant_actor, TenantMsg::LlmAllowed).unwrap_or(false).then(|| r.clone())
            }
            _ => None,
        };
        // What Groq may not be sent whole (past its token budget) it gets summarised.
        // Read only when the history will be cut (a store read per turn otherwise).
        let history_bytes: usize = history.iter().map(chat_message_bytes).sum();
        let summary = match &remote {
            Some(_) if history_bytes > HISTORY_TOKEN_BUDGET * 4 => {
                services.store.conversation_summary(&tenant, &conversation_id).await.ok().flatten().map(|s| s.text)
            }
            _ => None,
        };
        let input =
            TurnInput { tenant: tenant.clone(), settings, turn, history, text: text.clone(), cart, catalog, dialogue, summary };
        let outcome = match &remote {
            Some(r) => {
                run_turn_with_fallback(r.as_ref(), Some(services.model.as_ref()), services.retriever.as_ref(), &bridge, input)
                    .await
            }
            None => run_turn(services.model.as_ref(), services.retriever.as_ref(), &bridge, input).await,
        };
        if outcome.usage != TokenUsage::default() {
            let usage = LlmUsage {
                prompt_tokens: outcome.usage.prompt_tokens.min(i64::MAX as u64) as i64,
                completion_tokens: outcome.usage.completion_tokens.min(i64::MAX as u64) as i64,
                calls: 1,
            };
            let period = month_start(chrono::Utc::now());
            if let Err(e) = services.store.add_llm_usage(&tenant, &conversation_id, period, &usage).await {
                tracing::error!(conversation = %conversation_id, error = %e, "recording LLM tokens failed");
            }
            let _ = tenant_actor.send_message(TenantMsg::UsedTokens(usage.total_tokens()));
        }
        let _ = bridge.conversation.send_message(ConvMsg::TurnDone { turn, text, outcome });
    });
    state.running = Some((turn, task.abort_handle()));
    // A panic in the turn (a model adapter's bug) must not leave the conversation
    // waiting for a `TurnDone` that never comes.
    let conversation = myself.clone();
    tokio::spawn(async move {
        if let Err(e) = task.await
            && e.is_panic()
        {
            let _ = conversation.send_message(ConvMsg::TurnFailed { turn });
        }
    });
}

/// A message's size in bytes, as the pipeline counts it against its token budget.
fn chat_message_bytes(m: &ChatMessage) -> usize {
    match m {
        ChatMessage::System { content } | ChatMessage::User { content } | ChatMessage::Tool { content, .. } => content.len(),
        ChatMessage::Assistant { content, tool_calls } => {
            content.len() + tool_calls.iter().map(|c| c.arguments.to_string().len() + c.name.len()).sum::<usize>()
        }
    }
}

/// A turn's view of its conversation: events go back to the actor, cart operations to
/// the cart actor (which tells the conversation, so `cart` events keep the cart's order).
struct TurnBridge {
    conversation: ActorRef<ConvMsg>,
    cart: ActorRef<CartMsg>,
}

#[async_trait::async_trait]
impl TurnEffects for TurnBridge {
    async fn emit(&self, event: Event) {
        let _ = self.conversation.send_message(ConvMsg::Emit(event));
    }

    async fn cart(&self, op: CartOp) -> Result<CartOutcome, CartFailure> {
        let notify = self.conversation.clone();
        let res = self
            .cart
            .call(|reply| CartMsg::Apply { op, mode: Mode::Tool, notify, reply: Some(reply) }, Some(Duration::from_secs(10)))
            .await;
        match res {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            _ => Err(CartFailure::new(ErrorCode::Unavailable, "the cart is unavailable right now")),
        }
    }
}
