//! Discord's error responses, with the JSON codes Discord documents, so that the bot's error handling
//! meets the same shapes it will meet in production.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answer: status plus Discord's `{"code", "message", "errors"?}` body.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: &str) -> Self {
        Self {
            status,
            body: json!({"code": code, "message": message}),
        }
    }

    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 0, "401: Unauthorized")
    }
    pub(crate) fn unknown_application() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10002, "Unknown Application")
    }
    pub(crate) fn unknown_channel() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10003, "Unknown Channel")
    }
    pub(crate) fn unknown_guild() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10004, "Unknown Guild")
    }
    pub(crate) fn unknown_member() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10007, "Unknown Member")
    }
    pub(crate) fn unknown_message() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10008, "Unknown Message")
    }
    pub(crate) fn unknown_user() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10013, "Unknown User")
    }
    pub(crate) fn unknown_webhook() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10015, "Unknown Webhook")
    }
    pub(crate) fn unknown_interaction() -> Self {
        Self::new(StatusCode::NOT_FOUND, 10062, "Unknown interaction")
    }
    pub(crate) fn invalid_webhook_token() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, 50027, "Invalid Webhook Token")
    }
    pub(crate) fn already_acknowledged() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            40060,
            "Interaction has already been acknowledged.",
        )
    }
    pub(crate) fn missing_access() -> Self {
        Self::new(StatusCode::FORBIDDEN, 50001, "Missing Access")
    }
    pub(crate) fn not_author() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            50005,
            "Cannot edit a message authored by another user",
        )
    }
    pub(crate) fn empty_message() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50006,
            "Cannot send an empty message",
        )
    }
    pub(crate) fn wrong_channel_type() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50024,
            "Cannot execute action on this channel type",
        )
    }
    pub(crate) fn archived_thread() -> Self {
        Self::new(StatusCode::BAD_REQUEST, 50083, "Thread is archived")
    }
    /// A file over the upload limit, or a request over Discord's size limit (HTTP 413).
    pub(crate) fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            40005,
            "Request entity too large",
        )
    }
    pub(crate) fn invalid_json() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            50109,
            "The request body contains invalid JSON.",
        )
    }

    /// 50035 Invalid Form Body with Discord's nested `errors` object.
    pub(crate) fn invalid_form(errors: &FormErrors) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({"code": 50035, "message": "Invalid Form Body", "errors": errors.to_json()}),
        }
    }

    /// The message used in violation records.
    pub(crate) fn describe(&self) -> String {
        format!("{} {}", self.status.as_u16(), self.body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// Field errors collected during validation, keyed by path (`components.0.components.1.custom_id`).
#[derive(Debug, Default)]
pub(crate) struct FormErrors {
    errors: Vec<(Vec<String>, &'static str, String)>,
}

impl FormErrors {
    pub(crate) fn add(&mut self, path: &[&str], code: &'static str, message: impl Into<String>) {
        self.errors.push((
            path.iter().map(|s| (*s).to_owned()).collect(),
            code,
            message.into(),
        ));
    }

    pub(crate) fn add_path(&mut self, path: Vec<String>, code: &'static str, message: String) {
        self.errors.push((path, code, message));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// Discord's shape: `{"content": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "…"}]}}`.
    pub(crate) fn to_json(&self) -> Value {
        let mut root = Value::Object(Map::new());
        for (path, code, message) in &self.errors {
            let mut node = &mut root;
            for seg in path {
                node = node
                    .as_object_mut()
                    .expect("object node")
                    .entry(seg.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            let list = node
                .as_object_mut()
                .expect("object node")
                .entry("_errors")
                .or_insert_with(|| Value::Array(Vec::new()));
            list.as_array_mut()
                .expect("array")
                .push(json!({"code": code, "message": message}));
        }
        root
    }

    /// Max length check (in characters, as Discord counts).
    pub(crate) fn max_len(&mut self, path: &[&str], value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(
                path,
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {max} or fewer in length."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_errors_have_discords_shape() {
        let mut e = FormErrors::default();
        e.add(
            &["content"],
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        );
        e.add(
            &["components", "0", "components", "1", "custom_id"],
            "BASE_TYPE_MAX_LENGTH",
            "x",
        );
        let j = ApiError::invalid_form(&e).body;
        assert_eq!(j["code"], 50035);
        assert_eq!(
            j["errors"]["content"]["_errors"][0]["code"],
            "BASE_TYPE_MAX_LENGTH"
        );
        assert_eq!(
            j["errors"]["components"]["0"]["components"]["1"]["custom_id"]["_errors"][0]["message"],
            "x"
        );
    }
}
