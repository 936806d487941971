//! The JSON API's errors: [`ApiError`] (a status and the common error body) and [`ErrorBody`], the
//! body of every error answer (`{"error": code, "message": what to do, "fields": [{field, message}]}`).
//!
//! Errors of other layers become API errors here (the store's, a rejected JSON body); the
//! authentication's errors become API errors in `auth`, where they are defined.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use disconcierge_core::runtime_config::FieldError;
use disconcierge_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct ErrorBody {
    /// What went wrong, for programs: `unauthenticated`, `bad_token`, `csrf`, `session_required`,
    /// `bad_request`, `invalid`, `not_found`, `conflict`, `database`, …
    error: &'static str,
    /// What went wrong and what to do about it, for people.
    message: String,
    /// The fields in error (for `invalid`); empty otherwise.
    fields: Vec<FieldErrorBody>,
}

/// One field in error: its name (a body field, a query parameter or a setting) and what is wrong with it.
#[derive(Serialize, ToSchema)]
#[schema(as = FieldError)]
pub(crate) struct FieldErrorBody {
    field: &'static str,
    message: String,
}

/// An API error: a status and the common error body.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub(crate) fn invalid(fields: Vec<FieldError>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: "nothing was saved: correct the fields listed in `fields`".into(),
            fields,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.code,
                message: self.message,
                fields: self
                    .fields
                    .into_iter()
                    .map(|f| FieldErrorBody {
                        field: f.field,
                        message: f.message,
                    })
                    .collect(),
            }),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "API: database error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database",
            "the database did not answer as expected; try again in a moment",
        )
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!(
                "the request body is not the expected JSON: {}",
                e.body_text()
            ),
        )
    }
}

/// What an API handler returns.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
