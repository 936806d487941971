//! `POST /v1/embeddings`: deterministic vectors from
//! [`embed_text`] (hashed bag of words, unit length), so
//! texts sharing words are closer — enough to test retrieval without a model.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::record::LlmRequest;
use crate::server::{ApiError, Ctx};
use crate::stream;
use crate::tokens::{embed_text, estimate_tokens};

/// Texts of an embedding `input`: a string, strings, or token ids (arrays of
/// integers are embedded as their decimal text, which keeps them deterministic).
pub(crate) fn inputs(input: Option<&Value>) -> Vec<String> {
    let ints = |v: &Vec<Value>| {
        v.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match input {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) && !items.is_empty() => {
            vec![ints(items)]
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                Value::Array(a) => ints(a),
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The API-neutral view of an embeddings body.
pub(crate) fn parse(body: &Value) -> LlmRequest {
    LlmRequest {
        model: body.get("model").and_then(Value::as_str).map(str::to_owned),
        embedding_inputs: inputs(body.get("input")),
        ..LlmRequest::default()
    }
}

/// The requested dimension, or the simulator's default.
pub(crate) fn dimensions(ctx: &Ctx, body: Option<&Value>) -> usize {
    body.and_then(|b| b.get("dimensions"))
        .and_then(Value::as_u64)
        .and_then(|d| usize::try_from(d).ok())
        .filter(|d| *d > 0)
        .unwrap_or(ctx.shared.config.embedding_dimensions)
}

/// `POST /v1/embeddings`; `encoding_format: "base64"` gives little-endian f32s in base64.
/// Takes the script's time to first token as its latency.
pub(crate) async fn create(
    ctx: &Ctx,
    body: Option<&Value>,
    llm: &LlmRequest,
) -> Result<Response, ApiError> {
    if llm.embedding_inputs.is_empty() {
        return Err(
            ApiError::new(StatusCode::BAD_REQUEST, "'input' is a required property").param("input"),
        );
    }
    if !stream::sleep_or_shutdown(&ctx.shared, ctx.shared.timing().first_token).await {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting down",
        ));
    }
    let dims = dimensions(ctx, body);
    let base64 = body
        .and_then(|b| b.get("encoding_format"))
        .and_then(Value::as_str)
        == Some("base64");
    let data: Vec<Value> = llm
        .embedding_inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let v = embed_text(text, dims);
            let embedding = if base64 {
                json!(base64_f32(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let tokens: u32 = llm
        .embedding_inputs
        .iter()
        .map(|t| estimate_tokens(t))
        .sum();
    Ok(stream::json(
        StatusCode::OK,
        &json!({
            "object": "list",
            "data": data,
            "model": llm.model.clone().unwrap_or_else(|| "text-embedding-3-small".to_owned()),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }),
    ))
}

/// Standard base64 (with padding) of the vector's little-endian bytes, as OpenAI sends.
fn base64_f32(v: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (k, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if k <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_reference() {
        // 1.0f32 = 00 00 80 3f little-endian -> "AACAPw=="
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[]), "");
    }

    #[test]
    fn inputs_accept_all_shapes() {
        assert_eq!(inputs(Some(&json!("a"))), vec!["a"]);
        assert_eq!(inputs(Some(&json!(["a", "b"]))), vec!["a", "b"]);
        assert_eq!(inputs(Some(&json!([1, 2]))), vec!["1 2"]);
        assert_eq!(inputs(Some(&json!([[1], [2, 3]]))), vec!["1", "2 3"]);
        assert!(inputs(None).is_empty());
    }
}
