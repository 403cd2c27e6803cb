//! The Negotiator end to end against the simulated world's sellers, by email: several
//! negotiations at once reach agreement, rejection, silence with follow-ups and walk-away;
//! the system is restarted mid-negotiation and every thread resumes without re-sending or
//! missing a message.

use crate::negotiation_common;

use negotiation_common::{run_negotiations, Mail};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiations_by_email_over_the_in_process_post_office() {
    run_negotiations(Mail::InProcess, None).await;
}

/// The same over real Postfix + Dovecot (as root; CI fails rather than skips without it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiations_by_email_over_postfix_and_dovecot() {
    use std::sync::Arc;

    use bazaar_sim::mail::{MailTransport, ThrowawayServer};

    let dir = std::env::temp_dir().join("bazaar-runtime-negotiation-mail");
    let Some(server) = ThrowawayServer::start_or_skip(&dir, 2725, 1343) else {
        return;
    };
    let transport = |user: &str| -> Arc<dyn MailTransport> {
        Arc::new(server.transport(&format!("{user}@bazaar.test")).unwrap())
    };
    let sellers = ["seller1", "seller2", "seller3", "seller4", "seller5"]
        .map(transport)
        .to_vec();
    run_negotiations(
        Mail::Accounts {
            agent: transport("agent"),
            sellers,
        },
        None,
    )
    .await;
    drop(server);
}

/// With the optional language model: second opinions on unsure readings and rewritten emails
/// (the sim's model flaws one rewrite in four; those are discarded). The outcomes and the
/// no-duplicate, nothing-missed checks hold as without it, and no email carries an amount
/// above the ceiling.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiations_with_llm_second_opinions_and_rewrites() {
    let llm = bazaar_sim::llm::LlmSim::start(bazaar_sim::llm::LlmConfig {
        seed: 3,
        api_key: negotiation_common::LLM_KEY.into(),
        created: 0,
    })
    .await
    .unwrap();
    run_negotiations(Mail::InProcess, Some(&llm.base_url())).await;
    // Every email was offered for rewriting (the unsure readings add more).
    assert!(
        llm.answered() >= 10,
        "the model was asked {} times",
        llm.answered()
    );
}
