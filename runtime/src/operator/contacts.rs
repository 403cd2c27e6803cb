//! `POST /api/v1/listings/{id}/contact`: the operator hands over a seller's address that
//! the marketplace would only show a person (Craigslist's reply page behind a captcha). The
//! listing's deal waits for it; the DealAnalyzer values the listing again and negotiates.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use bazaar_agents::analyzer::{waits_for_contact, AnalyzerMsg};
use bazaar_memory::ListingId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{ApiError, ApiJson, AppState};

/// The listing routes (behind the bearer token).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(give_contact))
}

/// `/api/v1/listings/{id}/…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
struct ListingPath {
    /// The listing id (a 26-character ULID, as the inbox task names it).
    id: String,
}

/// `POST /api/v1/listings/{id}/contact` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// The seller's email address, as the marketplace's reply page showed it.
    pub address: String,
}

/// What became of the address.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ContactAccepted {
    pub listing: ListingId,
    /// The address as recorded (trimmed, lowercase).
    pub address: String,
}

/// Give the seller's address of a pursued listing that waits for it; the listing is valued
/// again and, still worth it, negotiated.
#[utoipa::path(
    post,
    path = "/api/v1/listings/{id}/contact",
    params(ListingPath),
    request_body = ContactRequest,
    responses((status = 202, description = "Recorded; the deal goes on.", body = ContactAccepted))
)]
async fn give_contact(
    State(state): State<AppState>,
    Path(ListingPath { id }): Path<ListingPath>,
    ApiJson(request): ApiJson<ContactRequest>,
) -> Result<(StatusCode, Json<ContactAccepted>), ApiError> {
    let listing: ListingId = id.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "{id:?} is not a listing id; ids are 26-character ULIDs as the inbox task names them"
        ))
    })?;
    let address = bazaar_agents::mail::parse_address(request.address.trim())
        .map_err(|e| ApiError::bad_request(format!("{:?}: {e}", request.address)))?
        .to_lowercase();
    waits_for_contact(&state.ctx.store, listing)
        .map_err(|why| ApiError::new(StatusCode::CONFLICT, why))?;
    state
        .ctx
        .addrs
        .analyzer
        .send(AnalyzerMsg::ContactGiven {
            listing,
            address: address.clone(),
        })
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ContactAccepted { listing, address }),
    ))
}
