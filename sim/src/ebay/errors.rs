//! eBay's error bodies.
//!
//! REST APIs answer `{"errors":[{errorId, domain, category, message, longMessage?,
//! parameters?}]}` (the same `Error` shape is used for `warnings` inside 2xx bodies); the
//! OAuth token endpoint answers `{"error", "error_description"}`. The ids used here are the
//! ones eBay's contracts list in `x-response-codes` for the API, plus eBay's platform-wide
//! ids (`1001` invalid token, `1002` missing token, `1100` insufficient scope, `2001` call
//! limit, `2002` unknown resource, `2004` unreadable request).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// `errors[].domain` of each API.
pub(crate) mod domain {
    pub const BROWSE: &str = "API_BROWSE";
    pub const INVENTORY: &str = "API_INVENTORY";
    pub const FULFILLMENT: &str = "API_FULFILLMENT";
    pub const NEGOTIATION: &str = "API_NEGOTIATION";
    pub const NOTIFICATION: &str = "API_NOTIFICATION";
    /// eBay's gateway (tokens, scopes, call limits).
    pub const ACCESS: &str = "ACCESS";
    /// eBay's OAuth layer, as it reports a bad access token.
    pub const OAUTH: &str = "OAuth";
}

/// `errors[].category`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Category {
    /// The request was wrong; do not retry it unchanged.
    Request,
    /// The request was well formed but the business rules refuse it.
    Business,
    /// Something failed on eBay's side; retrying may help.
    Application,
}

/// One `{name, value}` of `errors[].parameters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorParameter {
    /// Parameter name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// One entry of `errors[]` or `warnings[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// eBay's numeric id for the condition.
    pub error_id: u32,
    /// The API (or gateway) that raised it.
    pub domain: &'static str,
    /// REQUEST, BUSINESS or APPLICATION.
    pub category: Category,
    /// Short text.
    pub message: String,
    /// Longer text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long_message: Option<String>,
    /// Context values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<ErrorParameter>,
}

impl ErrorDetail {
    /// A detail without long message or parameters.
    pub fn new(
        error_id: u32,
        domain: &'static str,
        category: Category,
        message: impl Into<String>,
    ) -> ErrorDetail {
        ErrorDetail {
            error_id,
            domain,
            category,
            message: message.into(),
            long_message: None,
            parameters: Vec::new(),
        }
    }

    /// Adds `longMessage`.
    pub fn long(mut self, text: impl Into<String>) -> ErrorDetail {
        self.long_message = Some(text.into());
        self
    }

    /// Adds one parameter.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> ErrorDetail {
        self.parameters.push(ErrorParameter {
            name: name.into(),
            value: value.into(),
        });
        self
    }
}

/// An eBay REST error response: a status and `errors[]`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body's `errors`.
    pub errors: Vec<ErrorDetail>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errors: &'a [ErrorDetail],
}

impl ApiError {
    /// One error with a status.
    pub fn new(status: StatusCode, detail: ErrorDetail) -> ApiError {
        ApiError {
            status,
            errors: vec![detail],
        }
    }

    /// 400 REQUEST.
    pub fn bad_request(
        error_id: u32,
        domain: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorDetail::new(error_id, domain, Category::Request, message),
        )
    }

    /// 409 BUSINESS.
    pub fn conflict(error_id: u32, domain: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            ErrorDetail::new(error_id, domain, Category::Business, message),
        )
    }

    /// 404 REQUEST.
    pub fn not_found(error_id: u32, domain: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorDetail::new(error_id, domain, Category::Request, message),
        )
    }

    /// Adds `longMessage` to the first error.
    pub fn long(mut self, text: impl Into<String>) -> ApiError {
        if let Some(first) = self.errors.first_mut() {
            first.long_message = Some(text.into());
        }
        self
    }

    /// Adds a parameter to the first error.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> ApiError {
        if let Some(first) = self.errors.first_mut() {
            first.parameters.push(ErrorParameter {
                name: name.into(),
                value: value.into(),
            });
        }
        self
    }

    /// The first error, for bodies that carry errors per entry (bulk responses).
    pub fn into_detail(self) -> ErrorDetail {
        self.errors.into_iter().next().unwrap_or_else(|| {
            ErrorDetail::new(
                2000,
                domain::ACCESS,
                Category::Application,
                "Internal error",
            )
        })
    }

    /// 401, errorId 1002: no `Authorization` header.
    pub fn missing_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorDetail::new(
                1002,
                domain::OAUTH,
                Category::Request,
                "Missing access token",
            )
            .long("Access token is missing in the Authorization HTTP request header."),
        )
    }

    /// 401, errorId 1001: unknown, malformed or expired access token.
    pub fn invalid_token() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorDetail::new(
                1001,
                domain::OAUTH,
                Category::Request,
                "Invalid access token",
            )
            .long(
                "Invalid access token. Check the value of the Authorization HTTP request header.",
            ),
        )
    }

    /// 403, errorId 1100: the token lacks every scope the operation accepts.
    pub fn insufficient_scope() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorDetail::new(1100, domain::ACCESS, Category::Request, "Access denied")
                .long("Insufficient permissions to fulfill the request."),
        )
    }

    /// 429, errorId 2001: the daily call limit of this API is used up.
    pub fn too_many_requests(api: &str, limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorDetail::new(2001, domain::ACCESS, Category::Request, "Too many requests")
                .long("The request limit has been reached for the resource.")
                .param("api", api)
                .param("dailyLimit", limit.to_string()),
        )
    }

    /// 404, errorId 2002: no such resource on this server.
    pub fn no_such_resource(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorDetail::new(
                2002,
                domain::ACCESS,
                Category::Request,
                "Resource not found",
            )
            .long("The requested resource was not found.")
            .param("path", path),
        )
    }

    /// 405 in eBay's error envelope: a path eBay serves, with a method it does not take
    /// there. The contracts name no id for it; 2004 ("Invalid request") is the gateway's
    /// id for requests it refuses before any API sees them.
    pub fn method_not_allowed(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorDetail::new(2004, domain::ACCESS, Category::Request, "Invalid request")
                .long(format!(
                    "The method {method} is not allowed on this resource."
                ))
                .param("method", method)
                .param("path", path),
        )
    }

    /// 400, errorId 2004: a body that is not the JSON the operation takes.
    pub fn invalid_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorDetail::new(2004, domain::ACCESS, Category::Request, "Invalid request")
                .long(detail),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.status,
            &ErrorBody {
                errors: &self.errors,
            },
        )
    }
}

/// The token endpoint's error: `{"error", "error_description"}`.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// The HTTP status.
    pub status: StatusCode,
    /// RFC 6749 error code (`invalid_client`, `invalid_grant`, …).
    pub error: &'static str,
    /// Human text.
    pub description: String,
}

impl OAuthError {
    /// An error with a status, code and description.
    pub fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> OAuthError {
        OAuthError {
            status,
            error,
            description: description.into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        json_response(
            self.status,
            &Body {
                error: self.error,
                error_description: &self.description,
            },
        )
    }
}

/// Serializes `body` as the response JSON. Bodies are plain structs, so this cannot fail;
/// if it ever did, a 500 in eBay's shape is the honest answer.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => {
            let fallback = format!(
                "{{\"errors\":[{{\"errorId\":2000,\"domain\":\"ACCESS\",\"category\":\"APPLICATION\",\"message\":\"Internal error\",\"longMessage\":{}}}]}}",
                serde_json::Value::String(err.to_string())
            );
            let mut response = (StatusCode::INTERNAL_SERVER_ERROR, fallback).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
    }
}
