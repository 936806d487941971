//! Webhook interactions: the simulator POSTs interactions to the bot's interactions endpoint, signed
//! with the application's Ed25519 key the way Discord signs them (`X-Signature-Ed25519` = hex
//! signature over `timestamp ‖ body`, `X-Signature-Timestamp` = Unix seconds). The bot's HTTP answer is
//! the interaction callback, so it is applied and recorded like a REST callback.

use std::sync::Arc;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};
use twilight_model::http::interaction::{InteractionResponse, InteractionResponseType};
use twilight_model::id::Id;
use twilight_model::id::marker::InteractionMarker;

use crate::record::RecordedRequest;
use crate::shared::Shared;
use crate::world::AckVia;

/// Lower-case hex encoding.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The bot's answer to one webhook delivery.
#[derive(Clone, Debug)]
pub struct WebhookResponse {
    /// HTTP status the bot answered with.
    pub status: u16,
    /// Response body as text.
    pub body: String,
    /// Response body as JSON, when it was JSON.
    pub json: Option<Value>,
}

/// How a delivery is signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    /// Correctly, with the application's key and the current time.
    Valid,
    /// With another key: the bot must answer 401.
    Forged,
    /// Correctly, but with a timestamp an hour old: a replay the bot should refuse.
    Stale,
    /// Without signature headers.
    Unsigned,
}

/// The `X-Signature-Timestamp` and `X-Signature-Ed25519` values for `body`, signed as asked.
pub(crate) fn sign(shared: &Shared, body: &str, signing: Signing) -> (String, String) {
    let now = shared.clock.unix_secs();
    let timestamp = match signing {
        Signing::Stale => now.saturating_sub(3600),
        _ => now,
    }
    .to_string();
    let key = match signing {
        Signing::Forged => SigningKey::from_bytes(&rand::random()),
        _ => shared.signing_key.clone(),
    };
    let mut message = timestamp.clone().into_bytes();
    message.extend_from_slice(body.as_bytes());
    (timestamp, hex(&key.sign(&message).to_bytes()))
}

/// A correctly signed webhook delivery, prepared but not sent (see [`crate::Via::Prepared`]).
#[derive(Clone, Debug)]
pub struct SignedDelivery {
    pub body: String,
    /// `X-Signature-Timestamp`.
    pub timestamp: String,
    /// `X-Signature-Ed25519`.
    pub signature: String,
}

/// POSTs `body` to `url` signed as asked.
pub(crate) async fn deliver(
    shared: &Shared,
    url: &str,
    body: String,
    signing: Signing,
) -> WebhookResponse {
    let (timestamp, signature) = sign(shared, &body, signing);
    let mut req = shared
        .http()
        .post(url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            "Discord-Interactions/1.0 (+https://discord.com)",
        );
    if signing != Signing::Unsigned {
        req = req
            .header("x-signature-ed25519", signature)
            .header("x-signature-timestamp", timestamp);
    }
    match req.body(body).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            let json = serde_json::from_str(&body).ok();
            WebhookResponse { status, body, json }
        }
        Err(e) => WebhookResponse {
            status: 0,
            body: format!("request to {url} failed: {e}"),
            json: None,
        },
    }
}

/// Records the bot's answer to an interaction delivery as a callback request and applies it.
pub(crate) fn apply_response(
    shared: &Shared,
    id: Id<InteractionMarker>,
    token: &str,
    url: &str,
    resp: &WebhookResponse,
) {
    let ctx = format!("webhook response from {url} to interaction {id}");
    shared.mutate(|w| {
        if let Some(rec) = w.interactions.get_mut(&id) {
            rec.awaiting_webhook_response = false;
        }
        let index = w.requests.len();
        w.requests.push(RecordedRequest {
            index,
            method: "POST".into(),
            route: "/interactions/{interaction_id}/{interaction_token}/callback".into(),
            path: format!("/interactions/{id}/{token}/callback"),
            headers: vec![("x-discord-sim-via".into(), "webhook-response".into())],
            body: resp.json.clone(),
            raw_body: resp.json.is_none().then(|| resp.body.clone()),
            status: Some(resp.status),
        });
        if !(200..300).contains(&resp.status) {
            w.violation(
                &ctx,
                format!(
                    "the bot answered a correctly signed interaction with {} {}",
                    resp.status, resp.body
                ),
            );
            return;
        }
        if resp.body.trim().is_empty() {
            // The bot may acknowledge through the REST callback instead.
            return;
        }
        let response = match serde_json::from_str::<InteractionResponse>(&resp.body) {
            Ok(r) => r,
            Err(e) => {
                w.violation(
                    &ctx,
                    format!(
                        "response body does not deserialize into InteractionResponse: {e}: {}",
                        resp.body
                    ),
                );
                return;
            }
        };
        if let Err(e) = crate::interactions::apply_callback(
            shared,
            w,
            id,
            token,
            response,
            Vec::new(),
            AckVia::WebhookResponse,
        ) {
            w.violation(
                &ctx,
                format!("Discord would refuse this callback: {}", e.describe()),
            );
        }
    });
}

/// Sends raw deliveries to a bot's interactions endpoint: pings and badly signed requests, to test the
/// bot's verification.
pub struct WebhookClient {
    shared: Arc<Shared>,
    url: String,
}

impl WebhookClient {
    pub(crate) fn new(shared: Arc<Shared>, url: &str) -> Self {
        Self {
            shared,
            url: url.to_owned(),
        }
    }

    fn ping_body(&self) -> String {
        let app = self.shared.read(|w| w.application_id);
        json!({
            "id": self.shared.mutate(|w| w.next_id::<InteractionMarker>(&self.shared.clock)),
            "application_id": app,
            "type": 1,
            "token": format!("ping-{}", hex(&rand::random::<[u8; 8]>())),
            "version": 1,
            "authorizing_integration_owners": {},
            "entitlements": [],
            "attachment_size_limit": self.shared.config.attachment_size_limit,
        })
        .to_string()
    }

    /// Sends a correctly signed PING, as Discord does when the endpoint URL is saved. A bot that does
    /// not answer 200 `{"type": 1}` gets a violation.
    pub async fn ping(&self) -> WebhookResponse {
        let resp = deliver(&self.shared, &self.url, self.ping_body(), Signing::Valid).await;
        let ok = resp.status == 200
            && resp
                .json
                .as_ref()
                .and_then(|j| serde_json::from_value::<InteractionResponse>(j.clone()).ok())
                .is_some_and(|r| r.kind == InteractionResponseType::Pong);
        if !ok {
            let url = self.url.clone();
            let msg = format!(
                "PING must be answered 200 {{\"type\":1}}, got {} {}",
                resp.status, resp.body
            );
            self.shared
                .mutate(|w| w.violation(format!("webhook PING to {url}"), msg));
        }
        resp
    }

    /// Sends a PING signed with the wrong key; a correct bot answers 401.
    pub async fn ping_forged(&self) -> WebhookResponse {
        deliver(&self.shared, &self.url, self.ping_body(), Signing::Forged).await
    }

    /// Sends a correctly signed PING with an hour-old timestamp; a careful bot answers 401.
    pub async fn ping_stale(&self) -> WebhookResponse {
        deliver(&self.shared, &self.url, self.ping_body(), Signing::Stale).await
    }

    /// Sends a PING without signature headers; a correct bot answers 401.
    pub async fn ping_unsigned(&self) -> WebhookResponse {
        deliver(&self.shared, &self.url, self.ping_body(), Signing::Unsigned).await
    }

    /// Sends any body with the chosen signing; nothing is recorded or checked.
    pub async fn send_raw(&self, body: &str, signing: Signing) -> WebhookResponse {
        deliver(&self.shared, &self.url, body.to_owned(), signing).await
    }
}
