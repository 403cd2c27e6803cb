//! Inbox tasks opened once: a problem the operator must see (a sold item still live on an
//! assisted channel, an email the gate blocked, an item that cannot be listed) is one task,
//! however often the actor that found it runs into it again, across restarts.

use bazaar_memory::{ApprovalId, Store};
use bazaar_policies::{GateEvent, GateMsg};
use ractor::ActorProcessingErr;

use crate::AgentContext;

/// Opens an inbox task unless one was opened under `key` before (recorded in the store's
/// meta tree after the gate made it durable).
pub async fn open_task_once(
    ctx: &AgentContext,
    key: &str,
    summary: String,
    reason: String,
) -> Result<(), ActorProcessingErr> {
    let meta = bazaar_memory::meta_keys::task_opened(key);
    if ctx.store.get_meta::<String>(&meta)?.is_some() {
        return Ok(());
    }
    let approval = open_task(ctx, summary, reason).await?;
    ctx.store.put_meta(&meta, &approval.to_string())?;
    ctx.store.flush().await?;
    Ok(())
}

/// Closes the task opened under `key`, if one is open: what it asked for is done (`note`
/// says how). A later problem under the same key opens a new task.
pub async fn close_task(
    ctx: &AgentContext,
    key: &str,
    note: &str,
) -> Result<(), ActorProcessingErr> {
    let meta = bazaar_memory::meta_keys::task_opened(key);
    let Some(approval) = ctx.store.get_meta::<String>(&meta)? else {
        return Ok(());
    };
    let Ok(approval) = approval.parse::<ApprovalId>() else {
        return Ok(());
    };
    let closed = ctx
        .addrs
        .gate
        .ask(|reply| GateMsg::Resolve {
            approval,
            by: bazaar_policies::gate::CLOSED_BY_BAZAAR.into(),
            happened: true,
            note: note.into(),
            reply,
        })
        .await?;
    // Already answered by the operator: nothing left to close.
    if let Err(error) = closed {
        tracing::debug!(%approval, %error, "task not closed");
    }
    ctx.store.remove_meta(&meta)?;
    ctx.store.flush().await?;
    Ok(())
}

/// Puts a task in the operator's inbox (every time: [`open_task_once`] for a problem that
/// may come back), announced as an `error` event.
pub async fn open_task(
    ctx: &AgentContext,
    summary: String,
    reason: String,
) -> Result<ApprovalId, ActorProcessingErr> {
    open_incident(ctx, summary, reason, None).await
}

/// Puts a task in the operator's inbox announced as `event` (an `error` event when `None`).
pub async fn open_incident(
    ctx: &AgentContext,
    summary: String,
    reason: String,
    event: Option<GateEvent>,
) -> Result<ApprovalId, ActorProcessingErr> {
    let approval = ctx
        .addrs
        .gate
        .ask(|reply| GateMsg::Task {
            summary,
            reason,
            event,
            reply,
        })
        .await?;
    Ok(approval)
}
