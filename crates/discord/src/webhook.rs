//! Interactions received by webhook (Discord's "Interactions Endpoint URL").
//!
//! Discord signs each request with the application's Ed25519 key over `timestamp + body`. The signature is
//! checked **before anything else** — before the body is parsed, logged or stored — and a request that fails
//! it gets `401` and causes nothing at all (Discord itself sends forged requests to check this). Requests
//! whose timestamp is too far from our clock are refused the same way, so a captured request cannot be
//! replayed later. A PING is answered with a PONG; everything else goes to the [`InteractionHandler`],
//! whose answer is the interaction's initial response.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use twilight_model::application::interaction::{Interaction, InteractionType};
use twilight_model::http::interaction::{InteractionResponse, InteractionResponseType};

/// How far a request's timestamp may be from our clock.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "DC_DISCORD_WEBHOOK_SERVER_PUBLIC_KEY is not a valid Ed25519 public key (expected 64 hex characters, \
         from Developer Portal -> General Information -> Public Key)"
    )]
    Invalid,
}

/// Why a request was refused (never shown to the caller beyond "401").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the signature headers are missing")]
    MissingHeaders,
    #[error("the signature or timestamp is malformed")]
    Malformed,
    #[error("the timestamp is {0:?} away from our clock")]
    Stale(Duration),
    #[error("the signature does not match")]
    BadSignature,
}

/// Checks Discord's request signatures. (The key is public; `Debug` may show it.)
#[derive(Clone, Debug)]
pub struct Verifier {
    key: VerifyingKey,
    max_skew: Duration,
}

impl Verifier {
    pub fn from_hex(public_key: &str) -> Result<Verifier, KeyError> {
        let bytes: [u8; 32] = hex::decode(public_key.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(KeyError::Invalid)?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Invalid)?;
        Ok(Verifier {
            key,
            max_skew: MAX_SKEW,
        })
    }

    /// Verifies a request given its headers and raw body, at time `now` (seconds since the Unix epoch).
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: u64) -> Result<(), Rejection> {
        let signature = headers
            .get("x-signature-ed25519")
            .ok_or(Rejection::MissingHeaders)?;
        let timestamp = headers
            .get("x-signature-timestamp")
            .ok_or(Rejection::MissingHeaders)?;
        let timestamp = timestamp.to_str().map_err(|_| Rejection::Malformed)?;
        let sent_at: u64 = timestamp.parse().map_err(|_| Rejection::Malformed)?;
        let skew = Duration::from_secs(now.abs_diff(sent_at));
        if skew > self.max_skew {
            return Err(Rejection::Stale(skew));
        }
        let signature: [u8; 64] = hex::decode(signature.as_bytes())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(Rejection::Malformed)?;
        let signature = Signature::from_bytes(&signature);
        let mut message = Vec::with_capacity(timestamp.len() + body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(body);
        self.key
            .verify(&message, &signature)
            .map_err(|_| Rejection::BadSignature)
    }
}

/// What the bot does with a verified interaction; the returned response is the initial response.
#[async_trait::async_trait]
pub trait InteractionHandler: Send + Sync {
    async fn handle(&self, interaction: Interaction) -> InteractionResponse;
}

/// Counters an operator cares about; kept as plain numbers so the app can export them as it likes.
#[derive(Default)]
pub struct WebhookStats {
    pub rejected: std::sync::atomic::AtomicU64,
    pub accepted: std::sync::atomic::AtomicU64,
}

struct WebhookState {
    verifier: Verifier,
    handler: Arc<dyn InteractionHandler>,
    stats: Arc<WebhookStats>,
    clock: fn() -> u64,
}

fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The webhook listener's routes: `POST /` and `POST /interactions`.
pub fn router(
    verifier: Verifier,
    handler: Arc<dyn InteractionHandler>,
    stats: Arc<WebhookStats>,
) -> Router {
    router_with_clock(verifier, handler, stats, system_now)
}

fn router_with_clock(
    verifier: Verifier,
    handler: Arc<dyn InteractionHandler>,
    stats: Arc<WebhookStats>,
    clock: fn() -> u64,
) -> Router {
    let state = Arc::new(WebhookState {
        verifier,
        handler,
        stats,
        clock,
    });
    Router::new()
        .route("/", post(interaction))
        .route("/interactions", post(interaction))
        // DisConcierge's path: a deployment moving over keeps its Interactions Endpoint URL.
        .route("/discord/interactions", post(interaction))
        .with_state(state)
}

async fn interaction(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    // First and before anything else: is this really Discord?
    if let Err(reason) = state.verifier.verify(&headers, &body, (state.clock)()) {
        state.stats.rejected.fetch_add(1, Relaxed);
        tracing::warn!(%reason, "webhook request refused");
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    // PING is recognised by its type alone: Discord's validation pings must get their PONG even if they
    // lack fields that full interactions carry.
    #[derive(serde::Deserialize)]
    struct Kind {
        #[serde(rename = "type")]
        kind: InteractionType,
    }
    if serde_json::from_slice::<Kind>(&body).is_ok_and(|k| k.kind == InteractionType::Ping) {
        state.stats.accepted.fetch_add(1, Relaxed);
        return axum::Json(InteractionResponse {
            kind: InteractionResponseType::Pong,
            data: None,
        })
        .into_response();
    }
    let interaction: Interaction = match serde_json::from_slice(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "a signed webhook request is not an interaction we understand");
            return (StatusCode::BAD_REQUEST, "malformed interaction").into_response();
        }
    };
    state.stats.accepted.fetch_add(1, Relaxed);
    axum::Json(state.handler.handle(interaction).await).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use ed25519_dalek::{Signer, SigningKey};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tower::ServiceExt;

    const NOW: u64 = 1_800_000_000;

    fn now() -> u64 {
        NOW
    }

    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl InteractionHandler for Counting {
        async fn handle(&self, _: Interaction) -> InteractionResponse {
            self.0.fetch_add(1, Ordering::SeqCst);
            InteractionResponse {
                kind: InteractionResponseType::DeferredChannelMessageWithSource,
                data: None,
            }
        }
    }

    fn setup() -> (SigningKey, Router, Arc<Counting>, Arc<WebhookStats>) {
        let signing = SigningKey::generate(&mut rand_core::OsRng);
        let verifier =
            Verifier::from_hex(&hex::encode(signing.verifying_key().as_bytes())).unwrap();
        let handler = Arc::new(Counting::default());
        let stats = Arc::new(WebhookStats::default());
        let app = router_with_clock(verifier, handler.clone(), stats.clone(), now);
        (signing, app, handler, stats)
    }

    fn request(key: &SigningKey, timestamp: u64, body: &str, tamper: bool) -> Request<Body> {
        request_to("/interactions", key, timestamp, body, tamper)
    }

    fn request_to(
        path: &str,
        key: &SigningKey,
        timestamp: u64,
        body: &str,
        tamper: bool,
    ) -> Request<Body> {
        let ts = timestamp.to_string();
        let mut signature = key.sign(format!("{ts}{body}").as_bytes()).to_bytes();
        if tamper {
            signature[0] ^= 1;
        }
        Request::post(path)
            .header("x-signature-ed25519", hex::encode(signature))
            .header("x-signature-timestamp", ts)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    const PING: &str = r#"{"id":"1","application_id":"2","type":1,"token":"t","version":1}"#;
    const COMMAND: &str = r#"{"id":"3","application_id":"2","type":2,"token":"t","version":1,
        "attachment_size_limit":10485760,"entitlements":[],"authorizing_integration_owners":{"1":"7"},
        "channel_id":"5","user":{"id":"7","username":"alice","discriminator":"0","avatar":null,"global_name":null},
        "data":{"id":"9","name":"chat","type":1,"options":[{"name":"prompt","type":3,"value":"hi"}]}}"#;

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String) {
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&body).to_string())
    }

    #[tokio::test]
    async fn every_interactions_path_answers_and_checks_signatures() {
        let (key, app, _, _) = setup();
        for path in ["/", "/interactions", "/discord/interactions"] {
            let (status, body) = send(&app, request_to(path, &key, NOW, PING, false)).await;
            assert_eq!(
                (status, body.as_str()),
                (StatusCode::OK, r#"{"type":1}"#),
                "{path}"
            );
            let (status, _) = send(&app, request_to(path, &key, NOW, PING, true)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        }
    }

    #[tokio::test]
    async fn a_signed_ping_gets_a_pong() {
        let (key, app, handler, _) = setup();
        let (status, body) = send(&app, request(&key, NOW, PING, false)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"{"type":1}"#);
        assert_eq!(handler.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_signed_command_reaches_the_handler() {
        let (key, app, handler, stats) = setup();
        let (status, body) = send(&app, request(&key, NOW, COMMAND, false)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, r#"{"type":5}"#);
        assert_eq!(handler.0.load(Ordering::SeqCst), 1);
        assert_eq!(stats.accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn forged_stale_and_unsigned_requests_are_refused_and_reach_nothing() {
        let (key, app, handler, stats) = setup();
        let other = SigningKey::generate(&mut rand_core::OsRng);
        let unsigned = Request::post("/").body(Body::from(COMMAND)).unwrap();
        for (name, req) in [
            ("tampered", request(&key, NOW, COMMAND, true)),
            ("other key", request(&other, NOW, COMMAND, false)),
            ("stale", request(&key, NOW - 301, COMMAND, false)),
            ("from the future", request(&key, NOW + 301, COMMAND, false)),
            ("unsigned", unsigned),
        ] {
            let (status, body) = send(&app, req).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(body, "invalid request signature", "{name}");
        }
        // A body changed after signing is refused too.
        let mut req = request(&key, NOW, COMMAND, false);
        *req.body_mut() = Body::from(COMMAND.replace("hi", "HI"));
        assert_eq!(send(&app, req).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(
            handler.0.load(Ordering::SeqCst),
            0,
            "no refused request may reach the handler"
        );
        assert_eq!(stats.rejected.load(Ordering::SeqCst), 6);
        assert_eq!(stats.accepted.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_signed_body_that_is_not_an_interaction_is_a_bad_request() {
        let (key, app, handler, _) = setup();
        let (status, _) = send(&app, request(&key, NOW, "{\"hello\":1}", false)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(handler.0.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_bad_public_key_is_explained() {
        assert!(
            Verifier::from_hex("xyz")
                .unwrap_err()
                .to_string()
                .contains("64 hex characters")
        );
        assert!(Verifier::from_hex(&"ab".repeat(31)).is_err());
    }
}
