//! OAuth 2: the token endpoint (`client_credentials`, `authorization_code`,
//! `refresh_token`), the consent page stand-in (`/oauth2/authorize`, which consents at once
//! on the seller's behalf and redirects to the RuName's accept URL), and the bearer check
//! every other API runs first.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxState};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::errors::{json_response, ApiError, OAuthError};
use super::{header_str, query_get, query_pairs, Api, Shared, State};

/// The OAuth scopes the sim knows.
pub mod scopes {
    /// Public data: Browse, Notification.
    pub const API: &str = "https://api.ebay.com/oauth/api_scope";
    /// Inventory and offers, read-write (also Negotiation).
    pub const SELL_INVENTORY: &str = "https://api.ebay.com/oauth/api_scope/sell.inventory";
    /// Inventory and offers, read-only.
    pub const SELL_INVENTORY_READONLY: &str =
        "https://api.ebay.com/oauth/api_scope/sell.inventory.readonly";
    /// Orders, read-write.
    pub const SELL_FULFILLMENT: &str = "https://api.ebay.com/oauth/api_scope/sell.fulfillment";
    /// Orders, read-only.
    pub const SELL_FULFILLMENT_READONLY: &str =
        "https://api.ebay.com/oauth/api_scope/sell.fulfillment.readonly";
    /// Business policies.
    pub const SELL_ACCOUNT: &str = "https://api.ebay.com/oauth/api_scope/sell.account";
    /// Notification subscriptions, read-write.
    pub const NOTIFICATION_SUBSCRIPTION: &str =
        "https://api.ebay.com/oauth/api_scope/commerce.notification.subscription";
    /// Notification subscriptions, read-only.
    pub const NOTIFICATION_SUBSCRIPTION_READONLY: &str =
        "https://api.ebay.com/oauth/api_scope/commerce.notification.subscription.readonly";

    /// What an application token (`client_credentials`) may carry.
    pub const APPLICATION: &[&str] = &[API];
    /// What a seller may consent to.
    pub const USER: &[&str] = &[
        API,
        SELL_INVENTORY,
        SELL_INVENTORY_READONLY,
        SELL_FULFILLMENT,
        SELL_FULFILLMENT_READONLY,
        SELL_ACCOUNT,
        NOTIFICATION_SUBSCRIPTION,
        NOTIFICATION_SUBSCRIPTION_READONLY,
    ];
}

#[derive(Debug, Clone)]
struct AccessToken {
    scopes: BTreeSet<String>,
    expires_at: DateTime<Utc>,
    user: bool,
}

#[derive(Debug, Clone)]
struct RefreshToken {
    scopes: BTreeSet<String>,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct AuthCode {
    scopes: BTreeSet<String>,
    expires_at: DateTime<Utc>,
    used: bool,
}

/// Issued tokens and codes.
#[derive(Debug, Default)]
pub(crate) struct OAuthState {
    access: BTreeMap<String, AccessToken>,
    refresh: BTreeMap<String, RefreshToken>,
    codes: BTreeMap<String, AuthCode>,
}

/// Who is calling, once the bearer token checked out.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// A user token (authorization code / refresh grant), not an application token.
    pub(crate) user: bool,
    /// The token's scopes.
    pub(crate) scopes: BTreeSet<String>,
}

/// The gateway check every API runs first: a live bearer token holding one of `any_of`,
/// then one call counted against `api`'s daily limit.
pub(crate) fn authorize(
    st: &mut State,
    headers: &HeaderMap,
    now: DateTime<Utc>,
    api: Api,
    any_of: &[&str],
) -> Result<Grant, ApiError> {
    let value = match header_str(headers, "authorization") {
        Some(v) if !v.trim().is_empty() => v.trim(),
        _ => return Err(ApiError::missing_token()),
    };
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => return Err(ApiError::invalid_token()),
    };
    let Some(found) = st.oauth.access.get(token) else {
        return Err(ApiError::invalid_token());
    };
    if now >= found.expires_at {
        return Err(ApiError::invalid_token());
    }
    if !any_of.iter().any(|s| found.scopes.contains(*s)) {
        return Err(ApiError::insufficient_scope());
    }
    let grant = Grant {
        user: found.user,
        scopes: found.scopes.clone(),
    };
    st.count_call(api, now)?;
    Ok(grant)
}

fn token_string(st: &mut State, marker: &str) -> String {
    let blob = STANDARD.encode(st.bytes(60));
    format!("v^1.1#i^1#{marker}#I^3#f^0#t^{blob}")
}

/// Records the seller's consent and returns the code.
pub(crate) fn issue_code(st: &mut State, scopes: BTreeSet<String>, now: DateTime<Utc>) -> String {
    let code = token_string(st, "p^3#r^1");
    let ttl = st.config.auth_code_ttl_secs;
    st.oauth.codes.insert(
        code.clone(),
        AuthCode {
            scopes,
            expires_at: now + st.lifetime(ttl),
            used: false,
        },
    );
    code
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/identity/v1/oauth2/token", post(token))
        .route("/oauth2/authorize", get(authorize_page))
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token_expires_in: Option<i64>,
    token_type: &'static str,
}

fn invalid_client() -> OAuthError {
    OAuthError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client authentication failed",
    )
}

fn invalid_scope() -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "The requested scope is invalid, unknown, malformed, or exceeds the scope granted to the client",
    )
}

fn parse_scopes(text: &str, allowed: &[&str]) -> Result<BTreeSet<String>, OAuthError> {
    let scopes: BTreeSet<String> = text.split_whitespace().map(str::to_string).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !allowed.contains(&s.as_str())) {
        return Err(invalid_scope());
    }
    Ok(scopes)
}

fn client_ok(st: &State, headers: &HeaderMap) -> bool {
    let Some(value) = header_str(headers, "authorization") else {
        return false;
    };
    let Some((scheme, encoded)) = value.trim().split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return false;
    }
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return false;
    };
    text.split_once(':')
        .is_some_and(|(id, secret)| id == st.config.client_id && secret == st.config.client_secret)
}

async fn token(AxState(sh): AxState<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = sh.now();
    let mut st = sh.lock();
    match token_inner(&mut st, &headers, &body, now) {
        Ok(reply) => json_response(StatusCode::OK, &reply),
        Err(err) => err.into_response(),
    }
}

fn token_inner(
    st: &mut State,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    if !client_ok(st, headers) {
        return Err(invalid_client());
    }
    let form_type = header_str(headers, "content-type").unwrap_or("");
    if !form_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request is missing a required parameter or malformed: Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request is missing a required parameter or malformed",
        )
    })?;
    let grant_type = query_get(&form, "grant_type").ok_or_else(|| missing("grant_type"))?;
    let api = match grant_type {
        "client_credentials" => Api::OAuthApplication,
        "authorization_code" | "refresh_token" => Api::OAuthUser,
        _ => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant type in request is not supported by the authorization server",
            ))
        }
    };
    if st.count_call(api, now).is_err() {
        return Err(OAuthError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "The daily call limit for this grant type has been reached; try again tomorrow",
        ));
    }
    match grant_type {
        "client_credentials" => client_credentials_grant(st, &form, now),
        "authorization_code" => authorization_code_grant(st, &form, now),
        _ => refresh_token_grant(st, &form, now),
    }
}

fn missing(name: &str) -> OAuthError {
    OAuthError::new(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        format!("request is missing a required parameter or malformed: {name}"),
    )
}

/// An application token for the scopes asked.
fn client_credentials_grant(
    st: &mut State,
    form: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let access_ttl = st.config.access_token_ttl_secs;
    let scope = query_get(form, "scope").ok_or_else(|| missing("scope"))?;
    let scopes = parse_scopes(scope, scopes::APPLICATION)?;
    let access_token = token_string(st, "p^1#r^0");
    st.oauth.access.insert(
        access_token.clone(),
        AccessToken {
            scopes,
            expires_at: now + st.lifetime(access_ttl),
            user: false,
        },
    );
    Ok(TokenResponse {
        access_token,
        expires_in: access_ttl,
        refresh_token: None,
        refresh_token_expires_in: None,
        token_type: "Application Access Token",
    })
}

/// A seller's consent (a code issued once, to the registered RuName) for a user token and
/// a refresh token.
fn authorization_code_grant(
    st: &mut State,
    form: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let access_ttl = st.config.access_token_ttl_secs;
    let code = query_get(form, "code").ok_or_else(|| missing("code"))?;
    let redirect = query_get(form, "redirect_uri").ok_or_else(|| missing("redirect_uri"))?;
    let invalid_grant = || {
        OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the provided authorization grant code is invalid or was issued to another client",
        )
    };
    if redirect != st.config.ru_name {
        return Err(invalid_grant());
    }
    let scopes = match st.oauth.codes.get_mut(code) {
        Some(found) if !found.used && now < found.expires_at => {
            found.used = true;
            found.scopes.clone()
        }
        _ => return Err(invalid_grant()),
    };
    let access_token = token_string(st, "p^3#r^0");
    let refresh_token = token_string(st, "p^3#r^1");
    let refresh_ttl = st.config.refresh_token_ttl_secs;
    st.oauth.access.insert(
        access_token.clone(),
        AccessToken {
            scopes: scopes.clone(),
            expires_at: now + st.lifetime(access_ttl),
            user: true,
        },
    );
    st.oauth.refresh.insert(
        refresh_token.clone(),
        RefreshToken {
            scopes,
            expires_at: now + st.lifetime(refresh_ttl),
        },
    );
    Ok(TokenResponse {
        access_token,
        expires_in: access_ttl,
        refresh_token: Some(refresh_token),
        refresh_token_expires_in: Some(refresh_ttl),
        token_type: "User Access Token",
    })
}

/// A new user token from a refresh token, for the scopes granted or fewer.
fn refresh_token_grant(
    st: &mut State,
    form: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<TokenResponse, OAuthError> {
    let access_ttl = st.config.access_token_ttl_secs;
    let refresh = query_get(form, "refresh_token").ok_or_else(|| missing("refresh_token"))?;
    let granted = match st.oauth.refresh.get(refresh) {
        Some(found) if now < found.expires_at => found.scopes.clone(),
        _ => return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the provided authorization refresh token is invalid or was issued to another client",
        )),
    };
    let scopes = match query_get(form, "scope") {
        Some(text) => {
            let wanted = parse_scopes(text, scopes::USER)?;
            if !wanted.is_subset(&granted) {
                return Err(invalid_scope());
            }
            wanted
        }
        None => granted,
    };
    let access_token = token_string(st, "p^3#r^0");
    st.oauth.access.insert(
        access_token.clone(),
        AccessToken {
            scopes,
            expires_at: now + st.lifetime(access_ttl),
            user: true,
        },
    );
    Ok(TokenResponse {
        access_token,
        expires_in: access_ttl,
        refresh_token: None,
        refresh_token_expires_in: None,
        token_type: "User Access Token",
    })
}

/// `GET /oauth2/authorize?client_id&redirect_uri=<RuName>&response_type=code&scope&state`:
/// the seller consents at once; 302 to the accept URL with `state`, `code`, `expires_in`.
async fn authorize_page(AxState(sh): AxState<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let now = sh.now();
    let pairs = query_pairs(raw.as_deref());
    let mut st = sh.lock();
    let bad = |error: &'static str, text: &str| {
        OAuthError::new(StatusCode::BAD_REQUEST, error, text).into_response()
    };
    if query_get(&pairs, "client_id") != Some(st.config.client_id.as_str()) {
        return bad("unauthorized_client", "unknown client_id");
    }
    if query_get(&pairs, "redirect_uri") != Some(st.config.ru_name.as_str()) {
        return bad(
            "invalid_request",
            "redirect_uri must be the application's RuName",
        );
    }
    if query_get(&pairs, "response_type") != Some("code") {
        return bad("unsupported_response_type", "response_type must be code");
    }
    let scopes = match parse_scopes(query_get(&pairs, "scope").unwrap_or(""), scopes::USER) {
        Ok(s) => s,
        Err(err) => return err.into_response(),
    };
    let code = issue_code(&mut st, scopes, now);
    let mut back: Vec<(&str, String)> = Vec::new();
    if let Some(state) = query_get(&pairs, "state") {
        back.push(("state", state.to_string()));
    }
    back.push(("code", code));
    back.push(("expires_in", st.config.auth_code_ttl_secs.to_string()));
    let query = serde_urlencoded::to_string(&back).unwrap_or_default();
    let sep = if st.config.accept_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!("{}{sep}{query}", st.config.accept_url);
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
