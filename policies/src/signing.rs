//! Signatures the operator side relies on (pure: no I/O, no clock; callers pass `now`).
//!
//! - **Webhooks**: `X-Bazaar-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//!   [`sign_webhook`] makes the header; [`verify_webhook`] is what a receiver runs: it
//!   refuses a signature that does not match and one whose timestamp is further than
//!   `tolerance` from now (a replayed delivery).
//! - **One-click links**: `<approval>.<decision>.<expires>.<nonce>.<hex HMAC>` under a key
//!   derived from the operator token ([`derive_key`]). [`verify_link`] checks the signature
//!   and the expiry; single use is the caller's job (it records used nonces).
//! - **Inbox sessions**: the session cookie is `<issued>.<id>.<hex HMAC>` (never the token
//!   itself; the id names a server-side session that logout ends) and every form carries
//!   a CSRF token, the HMAC of the session value.
//!
//! Every token has one spelling (lowercase hex, plain decimal times); variants are refused.
//!
//! Comparisons of secrets and MACs are constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The webhook signature header.
pub const SIGNATURE_HEADER: &str = "X-Bazaar-Signature";

/// How far a webhook timestamp may be from the receiver's clock by default (seconds).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// HMAC-SHA256 of the concatenated `parts` under `key`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

/// Parses hex (either case); `None` if it is not hex.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Constant-time equality (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A key for one purpose (`"link"`, `"session"`, `"csrf"`), derived from the operator
/// token, so the token itself never signs anything and changing it revokes every link and
/// session.
pub fn derive_key(operator_token: &[u8], purpose: &str) -> [u8; 32] {
    hmac_sha256(operator_token, &[b"bazaar/", purpose.as_bytes()])
}

// ---------------------------------------------------------------------------------------
// Webhooks

/// The `X-Bazaar-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign_webhook(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    sign_webhook_rotating(&[secret], timestamp, body)
}

/// The `X-Bazaar-Signature` value with one `v1` per secret, in order: while a secret is
/// rotated, receivers holding either one verify the delivery.
///
/// ```
/// use bazaar_policies::signing::{sign_webhook_rotating, verify_webhook};
/// let header = sign_webhook_rotating(&[b"new", b"old"], 1_700_000_000, b"{}");
/// for secret in [&b"new"[..], b"old"] {
///     assert!(verify_webhook(secret, &header, b"{}", 1_700_000_000, 300).is_ok());
/// }
/// assert!(verify_webhook(b"other", &header, b"{}", 1_700_000_000, 300).is_err());
/// ```
pub fn sign_webhook_rotating(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for secret in secrets {
        let mac = hmac_sha256(secret, &[t.as_bytes(), b".", body]);
        header.push_str(",v1=");
        header.push_str(&to_hex(&mac));
    }
    header
}

/// Why a webhook signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is missing parts or is not `t=<unix>,v1=<hex>`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// No `v1` matches: wrong secret, or the body was changed.
    #[error("signature does not match the body (wrong secret or altered body)")]
    Mismatch,
    /// The timestamp is too far from now: a replay, or a badly wrong clock.
    #[error("signature timestamp is {age_secs}s from now, more than the {tolerance_secs}s allowed (replayed?)")]
    Stale {
        /// Seconds between the timestamp and now (negative: in the future).
        age_secs: i64,
        /// The allowed distance.
        tolerance_secs: i64,
    },
}

/// Checks a webhook delivery: the header's `v1` (any of them, for secret rotation) must
/// match `HMAC-SHA256(secret, "<t>.<body>")`, and `t` must be within `tolerance_secs` of
/// `now` (unix seconds). Returns the signed timestamp.
pub fn verify_webhook(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<i64, SignatureError> {
    let mut timestamp: Option<&str> = None;
    let mut signatures: Vec<&str> = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed("expected key=value pairs"))?;
        match key {
            "t" if timestamp.is_none() => timestamp = Some(value),
            "t" => return Err(SignatureError::Malformed("more than one t")),
            "v1" => signatures.push(value),
            _ => {} // other schemes are ignored, as receivers should
        }
    }
    let t_text = timestamp.ok_or(SignatureError::Malformed("no t"))?;
    let t: i64 = t_text
        .parse()
        .map_err(|_| SignatureError::Malformed("t is not a unix time"))?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed("no v1 signature"));
    }
    let expected = hmac_sha256(secret, &[t_text.as_bytes(), b".", body]);
    let matches = signatures.iter().any(|candidate| {
        from_hex(candidate).is_some_and(|given| constant_time_eq(&given, &expected))
    });
    if !matches {
        return Err(SignatureError::Mismatch);
    }
    let age_secs = now - t;
    if age_secs.abs() > tolerance_secs {
        return Err(SignatureError::Stale {
            age_secs,
            tolerance_secs,
        });
    }
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// One-click links

/// What a one-click link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approve the approval.
    Approve,
    /// Reject it.
    Reject,
}

impl Decision {
    /// `"approve"` or `"reject"`.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    fn parse(text: &str) -> Option<Decision> {
        match text {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }
}

/// What a link token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    /// The approval id (a ULID).
    pub approval: String,
    /// What to do with it.
    pub decision: Decision,
    /// Unix seconds after which the link is refused.
    pub expires: i64,
    /// Random, unique per link: what makes it single-use.
    pub nonce: String,
}

/// Why a link was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link token at all.
    #[error("this link is malformed; copy the whole link from the message")]
    Malformed,
    /// The signature does not match (altered, or signed with another operator token).
    #[error("this link's signature is not valid; it was altered or the operator token changed")]
    Forged,
    /// Past its expiry.
    #[error("this link expired; decide in the inbox instead")]
    Expired,
}

fn is_token_part(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn link_payload(claims: &LinkClaims) -> String {
    format!(
        "{}.{}.{}.{}",
        claims.approval,
        claims.decision.name(),
        claims.expires,
        claims.nonce
    )
}

/// The URL-safe token for `claims` under `key` (see [`derive_key`] with `"link"`).
///
/// # Panics
/// If the approval id or nonce contain anything but ASCII letters, digits and `_` (ULIDs
/// and hex nonces never do).
pub fn sign_link(key: &[u8], claims: &LinkClaims) -> String {
    assert!(
        is_token_part(&claims.approval) && is_token_part(&claims.nonce),
        "link parts must be alphanumeric"
    );
    let payload = link_payload(claims);
    let mac = hmac_sha256(key, &[b"link.", payload.as_bytes()]);
    format!("{payload}.{}", to_hex(&mac))
}

/// Lowercase hex of exactly `len` bytes: the one spelling a MAC is accepted in.
fn canonical_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    let lowercase = text
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if text.len() != len * 2 || !lowercase {
        return None;
    }
    from_hex(text)
}

/// A unix time written the one way [`sign_link`] writes it: digits, no sign, no leading zero.
fn canonical_unix(text: &str) -> Option<i64> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

/// Checks a link token's signature, then its expiry against `now` (unix seconds).
///
/// Only the spelling [`sign_link`] writes is accepted: a token with an upper-case MAC, a
/// padded or signed expiry, or any other variant is malformed, so one link has one form.
pub fn verify_link(key: &[u8], token: &str, now: i64) -> Result<LinkClaims, LinkError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [approval, decision, expires, nonce, mac] = parts[..] else {
        return Err(LinkError::Malformed);
    };
    if !is_token_part(approval) || !is_token_part(nonce) {
        return Err(LinkError::Malformed);
    }
    let claims = LinkClaims {
        approval: approval.to_string(),
        decision: Decision::parse(decision).ok_or(LinkError::Malformed)?,
        expires: canonical_unix(expires).ok_or(LinkError::Malformed)?,
        nonce: nonce.to_string(),
    };
    let given = canonical_hex(mac, 32).ok_or(LinkError::Malformed)?;
    let expected = hmac_sha256(key, &[b"link.", link_payload(&claims).as_bytes()]);
    if !constant_time_eq(&given, &expected) {
        return Err(LinkError::Forged);
    }
    if now > claims.expires {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

// ---------------------------------------------------------------------------------------
// Inbox sessions and CSRF

/// A session cookie value issued at `issued` (unix seconds) under the server-side session
/// `id` (letters, digits, `_`): `<issued>.<id>.<hex HMAC>`. The id is what logout revokes.
///
/// # Panics
/// If `id` holds anything but ASCII letters, digits and `_`.
pub fn sign_session(key: &[u8], issued: i64, id: &str) -> String {
    assert!(is_token_part(id), "session ids must be alphanumeric");
    let payload = format!("{issued}.{id}");
    let mac = hmac_sha256(key, &[b"session.", payload.as_bytes()]);
    format!("{payload}.{}", to_hex(&mac))
}

/// What a valid session cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// When it was issued (unix seconds).
    pub issued: i64,
    /// The server-side session id.
    pub id: String,
}

/// The session `value` names, if this key issued it, it is no older than `max_age_secs`
/// and not from the future. Whether its id is still open is the caller's job.
pub fn verify_session(
    key: &[u8],
    value: &str,
    now: i64,
    max_age_secs: i64,
) -> Option<SessionClaims> {
    let parts: Vec<&str> = value.split('.').collect();
    let [issued_text, id, mac] = parts[..] else {
        return None;
    };
    let issued = canonical_unix(issued_text)?;
    let given = canonical_hex(mac, 32)?;
    if !is_token_part(id) {
        return None;
    }
    let payload = format!("{issued_text}.{id}");
    let expected = hmac_sha256(key, &[b"session.", payload.as_bytes()]);
    let fresh = issued <= now + 60 && now - issued <= max_age_secs;
    (constant_time_eq(&given, &expected) && fresh).then(|| SessionClaims {
        issued,
        id: id.to_string(),
    })
}

/// The CSRF token that forms of `session` carry.
pub fn csrf_token(key: &[u8], session: &str) -> String {
    to_hex(&hmac_sha256(key, &[b"csrf.", session.as_bytes()]))
}

/// Whether `token` is the CSRF token of `session`.
pub fn verify_csrf(key: &[u8], session: &str, token: &str) -> bool {
    match from_hex(token) {
        Some(given) => constant_time_eq(&given, &hmac_sha256(key, &[b"csrf.", session.as_bytes()])),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&bytes), "0001abff");
        assert_eq!(from_hex("0001ABff").unwrap(), bytes);
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
    }

    #[test]
    fn webhook_signature_verifies_and_refuses_forgery_and_replay() {
        let body = br#"{"event":"approval_needed"}"#;
        let header = sign_webhook(SECRET, 1_000, body);
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(verify_webhook(SECRET, &header, body, 1_010, 300), Ok(1_000));
        assert_eq!(
            verify_webhook(b"other", &header, body, 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_webhook(SECRET, &header, b"{}", 1_010, 300),
            Err(SignatureError::Mismatch)
        );
        // Moving the timestamp forward invalidates the MAC.
        let moved = header.replace("t=1000", "t=1400");
        assert_eq!(
            verify_webhook(SECRET, &moved, body, 1_400, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_webhook(SECRET, &header, body, 1_301, 300),
            Err(SignatureError::Stale {
                age_secs: 301,
                tolerance_secs: 300
            })
        );
        assert!(matches!(
            verify_webhook(SECRET, "v1=00", body, 1_000, 300),
            Err(SignatureError::Malformed(_))
        ));
        // A second v1 (secret rotation) is accepted when one matches.
        let rotated = format!("{header},v1=deadbeef");
        assert_eq!(
            verify_webhook(SECRET, &rotated, body, 1_000, 300),
            Ok(1_000)
        );
    }

    #[test]
    fn links_verify_expire_and_refuse_tampering() {
        let key = derive_key(b"operator-token", "link");
        let claims = LinkClaims {
            approval: "01JD0000000000000000000001".into(),
            decision: Decision::Approve,
            expires: 5_000,
            nonce: "00ff".into(),
        };
        let token = sign_link(&key, &claims);
        assert_eq!(verify_link(&key, &token, 4_999), Ok(claims.clone()));
        assert_eq!(verify_link(&key, &token, 5_001), Err(LinkError::Expired));
        let other_key = derive_key(b"another-token", "link");
        assert_eq!(verify_link(&other_key, &token, 0), Err(LinkError::Forged));
        let flipped = token.replace(".approve.", ".reject.");
        assert_eq!(verify_link(&key, &flipped, 0), Err(LinkError::Forged));
        let extended = token.replace(".5000.", ".9000.");
        assert_eq!(verify_link(&key, &extended, 0), Err(LinkError::Forged));
        assert_eq!(verify_link(&key, "nope", 0), Err(LinkError::Malformed));
    }

    #[test]
    fn a_link_has_one_spelling() {
        let key = derive_key(b"operator-token", "link");
        let claims = LinkClaims {
            approval: "01JD0000000000000000000001".into(),
            decision: Decision::Approve,
            expires: 5_000,
            nonce: "00ff".into(),
        };
        let token = sign_link(&key, &claims);
        let (payload, mac) = token.rsplit_once('.').unwrap();
        let variants = [
            format!("{payload}.{}", mac.to_uppercase()),
            format!("{payload}.00{mac}"),
            token.replace(".5000.", ".05000."),
            token.replace(".5000.", ".+5000."),
            token.replace(".5000.", ". 5000."),
            format!("{token}."),
            format!(".{token}"),
        ];
        for variant in variants {
            assert_eq!(
                verify_link(&key, &variant, 0),
                Err(LinkError::Malformed),
                "{variant}"
            );
        }
        assert_eq!(verify_link(&key, &token, 0), Ok(claims));
    }

    #[test]
    fn sessions_and_csrf() {
        let key = derive_key(b"operator-token", "session");
        let session = sign_session(&key, 100, "s1");
        assert_eq!(
            verify_session(&key, &session, 150, 3_600),
            Some(SessionClaims {
                issued: 100,
                id: "s1".into()
            })
        );
        assert_eq!(verify_session(&key, &session, 100 + 3_601, 3_600), None);
        assert_eq!(
            verify_session(&derive_key(b"x", "session"), &session, 150, 3_600),
            None
        );
        assert_eq!(verify_session(&key, "100.00", 150, 3_600), None);
        // Another id under the same MAC, or another spelling, is not the session.
        let (_, mac) = session.rsplit_once('.').unwrap();
        assert_eq!(
            verify_session(&key, &format!("100.s2.{mac}"), 150, 3_600),
            None
        );
        let upper = format!("100.s1.{}", mac.to_uppercase());
        assert_eq!(verify_session(&key, &upper, 150, 3_600), None);
        assert_eq!(
            verify_session(&key, &format!("0100.s1.{mac}"), 150, 3_600),
            None
        );
        let csrf_key = derive_key(b"operator-token", "csrf");
        let csrf = csrf_token(&csrf_key, &session);
        assert!(verify_csrf(&csrf_key, &session, &csrf));
        assert!(!verify_csrf(
            &csrf_key,
            &sign_session(&key, 101, "s1"),
            &csrf
        ));
        assert!(!verify_csrf(&csrf_key, &session, "zz"));
    }
}
