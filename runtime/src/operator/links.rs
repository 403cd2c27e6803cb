//! One-click approve/reject links for webhooks: `<public_url>/a/<token>`.
//!
//! The token is signed with a key derived from the operator token in force (a reload that
//! drops a token voids every link signed under it), names the approval and
//! the decision, expires after `operator.link_ttl_minutes` (on the system clock), and
//! carries a random nonce. `GET /a/<token>` only shows a confirmation page (chat apps and
//! mail scanners fetch links to preview them, which must not decide anything);
//! the form on it POSTs to the same URL, which performs the decision once: the nonce is
//! recorded in the store's meta tree before the gate is asked, and a second use is refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bazaar_memory::meta_keys::OPERATOR_LINKS_USED;
use bazaar_memory::{ApprovalId, SharedClock, SledStore, Store};
use bazaar_policies::signing::{self, Decision, LinkClaims, LinkError};
use chrono::{DateTime, Utc};

/// Used nonces are forgotten this long after their link expired (an expired link is refused
/// anyway; the margin covers a clock that steps back).
const FORGET_AFTER_SECS: i64 = 24 * 3600;

/// The approve and reject links for one approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPair {
    /// Approves.
    pub approve_url: String,
    /// Rejects.
    pub reject_url: String,
    /// When both stop working.
    pub expires: DateTime<Utc>,
}

/// Why a link was not honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// Malformed, forged or expired.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Already used once.
    #[error("this link was already used; each link works once. See the inbox for what happened")]
    Used,
    /// The store failed.
    #[error("store error: {0}")]
    Store(String),
}

impl LinkRefusal {
    /// The HTTP status for it.
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            LinkRefusal::Link(LinkError::Malformed) => StatusCode::BAD_REQUEST,
            LinkRefusal::Link(LinkError::Forged) => StatusCode::FORBIDDEN,
            LinkRefusal::Link(LinkError::Expired) => StatusCode::GONE,
            LinkRefusal::Used => StatusCode::CONFLICT,
            LinkRefusal::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Makes and checks links.
#[derive(Clone)]
pub struct Links {
    credentials: super::CredentialCell,
    public_url: String,
    ttl: Duration,
    store: SledStore,
    clock: SharedClock,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Links {
    /// Links signed under the link key of the credentials in force.
    pub(crate) fn new(
        credentials: super::CredentialCell,
        public_url: String,
        ttl: Duration,
        store: SledStore,
        clock: SharedClock,
    ) -> Links {
        Links {
            credentials,
            public_url: public_url.trim_end_matches('/').to_string(),
            ttl,
            store,
            clock,
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Fresh approve and reject links for `approval`.
    pub fn make(&self, approval: ApprovalId) -> LinkPair {
        let key = self.credentials.get().keys.link;
        let expires = self.clock.now()
            + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::hours(1));
        let url = |decision| {
            let token = signing::sign_link(
                &key,
                &LinkClaims {
                    approval: approval.to_string(),
                    decision,
                    expires: expires.timestamp(),
                    nonce: signing::to_hex(&rand::random::<[u8; 16]>()),
                },
            );
            format!("{}/a/{token}", self.public_url)
        };
        LinkPair {
            approve_url: url(Decision::Approve),
            reject_url: url(Decision::Reject),
            expires,
        }
    }

    fn used(&self) -> Result<BTreeMap<String, i64>, LinkRefusal> {
        self.store
            .get_meta(OPERATOR_LINKS_USED)
            .map(Option::unwrap_or_default)
            .map_err(|e| LinkRefusal::Store(e.to_string()))
    }

    /// Checks signature (under the current token's key or the one being rotated out),
    /// expiry and whether it was used, without using it.
    pub fn check(&self, token: &str) -> Result<LinkClaims, LinkRefusal> {
        let now = self.clock.now().timestamp();
        let credentials = self.credentials.get();
        let mut refusal = LinkError::Forged;
        let mut verified = None;
        for keys in credentials.all_keys() {
            match signing::verify_link(&keys.link, token, now) {
                Ok(claims) => {
                    verified = Some(claims);
                    break;
                }
                // Malformed and expired say the same under every key.
                Err(LinkError::Forged) => {}
                Err(other) => refusal = other,
            }
        }
        let claims = verified.ok_or(refusal)?;
        if self.used()?.contains_key(&claims.nonce) {
            return Err(LinkRefusal::Used);
        }
        Ok(claims)
    }

    /// Checks the link and marks it used (durably) so it never works again. The caller
    /// then performs the decision.
    pub async fn consume(&self, token: &str) -> Result<LinkClaims, LinkRefusal> {
        let _one_at_a_time = self.lock.lock().await;
        let claims = self.check(token)?;
        let now = self.clock.now().timestamp();
        let mut used = self.used()?;
        used.retain(|_, expires| *expires + FORGET_AFTER_SECS >= now);
        used.insert(claims.nonce.clone(), claims.expires);
        self.store
            .put_meta(OPERATOR_LINKS_USED, &used)
            .map_err(|e| LinkRefusal::Store(e.to_string()))?;
        self.store
            .flush()
            .await
            .map_err(|e| LinkRefusal::Store(e.to_string()))?;
        Ok(claims)
    }
}
