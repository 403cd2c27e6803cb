//! The operator of a simulated run: scripted (answers approvals after a delay, with a
//! seeded error rate) or a person at the inbox page (`--interactive`).

use std::io::Write;
use std::time::Duration;

use bazaar_memory::{Approval, ApprovalStatus, SledStore, Store};

use super::{agent_error, SimError};
use crate::system::System;
use bazaar_sim::world::World;

/// The scripted operator's memory: its mistakes are drawn from the seed.
pub(super) struct ScriptedOperator {
    pub(super) delay: chrono::Duration,
    pub(super) error_percent: u32,
    pub(super) rng: rand::rngs::StdRng,
    pub(super) approved: usize,
    pub(super) rejected: usize,
}

/// The scripted operator: when the Lister asks for an item's condition (sellers' listings
/// rarely say), inspects it — the world has no damaged goods, so "good" — fills it in and
/// lists again; answers each action waiting in the inbox once it has waited the operator's
/// delay — approves it, or (at the operator's error rate) rejects it by mistake. Other
/// tasks stay for a person. With no scripted operator (interactive), only the condition
/// tasks are handled. Sellers' addresses behind a captcha the scripted operator reads as a
/// person would, once they waited its delay, and hands over ([`answer_contact_task`]).
pub(super) async fn answer_inbox(
    system: &System,
    world: &World,
    operator: Option<&mut ScriptedOperator>,
) {
    use rand::Rng;
    let Ok(pending) = system
        .store
        .with_status::<Approval>(ApprovalStatus::Pending)
    else {
        return;
    };
    for task in pending.iter().filter(|a| a.action.is_none()) {
        let Some(item) = condition_task_item(&task.summary) else {
            continue;
        };
        let Ok(Some(mut record)) = system.store.get::<bazaar_memory::InventoryItem>(&item) else {
            continue;
        };
        record.condition = bazaar_memory::Condition::Good;
        if system.store.put(&record).is_err() {
            continue;
        }
        settle_task(system, task, "inspected at pickup: good condition").await;
        let _ = system
            .addrs
            .lister
            .send(bazaar_agents::lister::ListerMsg::ListItem(item));
    }
    let Some(operator) = operator else {
        return;
    };
    let now = system.clock.now();
    for task in pending.iter().filter(|a| a.action.is_none()) {
        if now - task.requested_at >= operator.delay {
            answer_contact_task(system, world, task).await;
        }
    }
    for approval in pending.into_iter().filter(|a| a.action.is_some()) {
        if now - approval.requested_at < operator.delay {
            continue;
        }
        if operator.rng.random_range(0..100) < operator.error_percent {
            let answer = system
                .addrs
                .gate
                .ask(|reply| bazaar_policies::GateMsg::Reject {
                    approval: approval.id,
                    by: "sim-operator".into(),
                    reason: "rejected by mistake (the scripted operator's error rate)".into(),
                    reply,
                })
                .await;
            if matches!(answer, Ok(Ok(_))) {
                operator.rejected += 1;
            }
            continue;
        }
        let answer = system
            .addrs
            .gate
            .ask(|reply| bazaar_policies::GateMsg::Approve {
                approval: approval.id,
                by: "sim-operator".into(),
                reply,
            })
            .await;
        if matches!(answer, Ok(Ok(_))) {
            operator.approved += 1;
        }
    }
}

/// Actions the operator approved (tasks settled are not counted).
pub(super) fn approved_by_operator(store: &SledStore) -> usize {
    store
        .with_status::<Approval>(ApprovalStatus::Approved)
        .map(|a| a.iter().filter(|a| a.action.is_some()).count())
        .unwrap_or(0)
}

/// Serves the operator's inbox page and API for `--interactive`.
pub(super) async fn serve_inbox(
    system: &System,
    listen: std::net::SocketAddr,
    token: &str,
    out: &mut dyn Write,
) -> Result<crate::operator::Operator, SimError> {
    use crate::operator::{Operator, OperatorContext, OperatorSettings};
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| agent_error(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
    let url = format!("http://{}", listener.local_addr().map_err(agent_error)?);
    let token = bazaar_config::SecretValue::generated(token.to_string());
    crate::operator::check_token_strength(&token)
        .map_err(|reason| agent_error(anyhow::anyhow!("BAZAAR_OPERATOR_TOKEN: {reason}")))?;
    let settings = OperatorSettings {
        token: Some(token),
        previous_token: None,
        public_url: url.clone(),
        link_ttl: Duration::from_secs(3_600),
        webhooks: Vec::new(),
        webhook_retries: 0,
        webhook_backoff_initial: Duration::from_secs(1),
        server: crate::operator::serve::ServerLimits::default(),
    };
    let operator = Operator::start(OperatorContext::of(system), settings, Some(listener))
        .await
        .map_err(agent_error)?;
    let _ = writeln!(
        out,
        "interactive: approve or reject at {url}/ (log in with the token in \
         BAZAAR_OPERATOR_TOKEN, or the one printed here if it was not set); the world waits \
         while an action needs you"
    );
    Ok(operator)
}

/// Actions waiting for the operator.
pub(super) fn waiting_approvals(system: &System) -> usize {
    system
        .store
        .with_status::<Approval>(ApprovalStatus::Pending)
        .map(|pending| pending.iter().filter(|a| a.action.is_some()).count())
        .unwrap_or(0)
}

/// A "read the seller's reply address" task: the operator opens each reply page, solves its
/// captcha (the world tells the address), and gives it with `bazaar contact`; the task is
/// then settled.
async fn answer_contact_task(system: &System, world: &World, task: &Approval) {
    let listings = contact_task_listings(&task.reason);
    if !task.summary.starts_with("read the seller") || listings.is_empty() {
        return;
    }
    for id in listings {
        let Ok(Some(listing)) = system.store.get::<bazaar_memory::MarketListing>(&id) else {
            continue;
        };
        let address = listing
            .external_id
            .parse()
            .ok()
            .and_then(|post| world.craigslist_reply_address(post));
        let Some(address) = address else {
            continue;
        };
        let _ = system
            .addrs
            .analyzer
            .send(bazaar_agents::analyzer::AnalyzerMsg::ContactGiven {
                listing: id,
                address,
            });
    }
    settle_task(system, task, "solved the captchas and gave the addresses").await;
}

/// Marks an inbox task done by the scripted operator.
async fn settle_task(system: &System, task: &Approval, note: &str) {
    let _ = system
        .addrs
        .gate
        .ask(|reply| bazaar_policies::GateMsg::Resolve {
            approval: task.id,
            by: "sim-operator".into(),
            happened: true,
            note: note.into(),
            reply,
        })
        .await;
}

/// The listings a reply-address task's reason names (by their ids, 26-character ULIDs).
fn contact_task_listings(reason: &str) -> Vec<bazaar_memory::ListingId> {
    reason
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() == 26)
        .filter_map(|word| word.parse().ok())
        .collect()
}

/// The item a "fill in condition for … (item <id>) …" task is about.
fn condition_task_item(summary: &str) -> Option<bazaar_memory::ItemId> {
    if !summary.starts_with("fill in condition") {
        return None;
    }
    let rest = summary.split("(item ").nth(1)?;
    let id = rest.split(')').next()?;
    id.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{condition_task_item, contact_task_listings};

    #[test]
    fn condition_tasks_name_their_item() {
        let id = bazaar_memory::ItemId::new_at(chrono::Utc::now());
        let summary =
            format!("fill in condition for \"Table\" (item {id}) so it can be listed on ebay");
        assert_eq!(condition_task_item(&summary), Some(id));
        assert_eq!(
            condition_task_item(&format!("read mail from x (item {id})")),
            None
        );
        assert_eq!(
            condition_task_item("fill in condition for \"x\" (item nonsense)"),
            None
        );
    }

    #[test]
    fn reply_address_tasks_name_their_listings() {
        let now = chrono::Utc::now();
        let (a, b) = (
            bazaar_memory::ListingId::new_at(now),
            bazaar_memory::ListingId::new_at(now),
        );
        // A title word of 26 letters that is no id is left out.
        let reason = format!(
            "the marketplace shows a captcha before the address; open each page: \
             {a} (ABCDEFGHJKMNPQRSTVWXYZ0123 sofa, asking $5.00): http://h/reply/x/y/1; \
             {b} (Table, asking $9.00): http://h/reply/x/y/2"
        );
        assert_eq!(contact_task_listings(&reason), vec![a, b]);
    }
}
