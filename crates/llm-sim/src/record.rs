//! Recording of every request the simulator receives, and the API-neutral view of
//! an LLM request ([`LlmRequest`]) that both scripts and assertions work with.
//!
//! The bot talks to three wire formats; its tests mostly want to ask one question:
//! "what did the model get to see?" — the instructions, the history, the last user
//! message. [`LlmRequest`] answers it the same way whichever API was used, so a
//! test written against the OpenAI backend can be reused for Ollama unchanged.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use tokio::sync::watch;

/// Which simulated endpoint a request hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/responses`
    Responses,
    /// `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}`
    ResponseRetrieve,
    /// `POST /v1/conversations`, `GET|POST|DELETE /v1/conversations/{id}`
    Conversations,
    /// `GET|POST /v1/conversations/{id}/items` and `/items/{item_id}`
    ConversationItems,
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `POST /v1/embeddings`
    Embeddings,
    /// `GET /v1/models`, `GET /v1/models/{id}`
    Models,
    /// Anything under `/v1/assistants` or `/v1/threads` (runs, messages…): the
    /// Assistants API, shut down by OpenAI. Always answered 404; recorded under its
    /// own name so a test can assert the bot never calls it.
    Assistants,
    /// `POST /api/chat`
    OllamaChat,
    /// `POST /api/generate`
    OllamaGenerate,
    /// `POST /api/embed` (and the legacy `POST /api/embeddings`)
    OllamaEmbed,
    /// `GET /api/tags`
    OllamaTags,
    /// `GET /api/version`
    OllamaVersion,
    /// `GET /` (Ollama answers `Ollama is running`; clients use it as a health check)
    OllamaHealth,
    /// Any other path (answered 404).
    Unknown,
}

impl Endpoint {
    /// Whether this endpoint runs "the model" (produces text or vectors). Scripted
    /// replies, timings and [`FailureRule::next`](crate::FailureRule::next) apply to
    /// these only, so a failure scripted for "the next request" is not swallowed by
    /// a bookkeeping call such as creating a conversation.
    pub fn is_generation(self) -> bool {
        matches!(
            self,
            Endpoint::Responses
                | Endpoint::ChatCompletions
                | Endpoint::Embeddings
                | Endpoint::OllamaChat
                | Endpoint::OllamaGenerate
                | Endpoint::OllamaEmbed
        )
    }

    /// Whether this endpoint produces text (the ones scripted [`Reply`](crate::Reply)s apply to).
    pub fn is_text_generation(self) -> bool {
        self.is_generation() && !matches!(self, Endpoint::Embeddings | Endpoint::OllamaEmbed)
    }

    /// Whether this endpoint belongs to the Ollama-native API (errors are then
    /// `{"error": "..."}` instead of OpenAI's nested object).
    pub fn is_ollama(self) -> bool {
        matches!(
            self,
            Endpoint::OllamaChat
                | Endpoint::OllamaGenerate
                | Endpoint::OllamaEmbed
                | Endpoint::OllamaTags
                | Endpoint::OllamaVersion
                | Endpoint::OllamaHealth
        )
    }
}

/// One message of a conversation, normalised across APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `user`, `assistant`, `tool`, … as sent (lower case).
    pub role: String,
    /// The text content; multi-part contents are joined with `\n`, non-text parts
    /// (images, files) are dropped.
    pub text: String,
}

impl Message {
    /// Builds a message; handy for `assert_eq!` against [`LlmRequest::messages`].
    pub fn new(role: impl Into<String>, text: impl Into<String>) -> Self {
        Message {
            role: role.into(),
            text: text.into(),
        }
    }
}

impl PartialEq<(&str, &str)> for Message {
    fn eq(&self, other: &(&str, &str)) -> bool {
        self.role == other.0 && self.text == other.1
    }
}

/// What a generation request asks of the model, whichever API carried it.
///
/// Conventions (the same for all three APIs):
/// - `instructions` gathers the Responses API's `instructions` field and every
///   `system`/`developer` message (joined with a blank line), because that is what
///   the bot uses to steer the model on every backend.
/// - `messages` is the *full context the model sees* without those system messages:
///   for the Responses API that includes the items of the `conversation` or the
///   chain of `previous_response_id`, resolved by the simulator like OpenAI does.
/// - `input` is only what this request's body carried (for Chat Completions and
///   Ollama, the same as `messages`): comparing it to `messages` shows whether the
///   bot re-sends history it should leave to server-side state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LlmRequest {
    /// The requested model, if any.
    pub model: Option<String>,
    /// System/developer instructions (see the type's docs).
    pub instructions: Option<String>,
    /// Full context without system messages, oldest first.
    pub messages: Vec<Message>,
    /// Messages carried by this request's body, without system messages.
    pub input: Vec<Message>,
    /// Whether the client asked for a stream (Ollama streams unless told not to).
    pub stream: bool,
    /// Sampling temperature, if given (`options.temperature` for Ollama).
    pub temperature: Option<f64>,
    /// Output cap: `max_output_tokens`, `max_completion_tokens`/`max_tokens`, or
    /// Ollama's `options.num_predict`. Counted in streamed chunks by the simulator.
    pub max_output_tokens: Option<u32>,
    /// The Responses API's conversation id, if any.
    pub conversation: Option<String>,
    /// The Responses API's `previous_response_id`, if any.
    pub previous_response_id: Option<String>,
    /// Texts to embed, for embedding endpoints.
    pub embedding_inputs: Vec<String>,
}

impl LlmRequest {
    /// Text of the last `user` message of the context, if any.
    pub fn last_user_text(&self) -> Option<&str> {
        self.messages
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.text.as_str())
    }

    /// The prompt size the simulator reports in `usage`: the
    /// [estimate](crate::tokens::estimate_tokens) (`ceil(chars / 4)`) of the
    /// instructions plus that of each context message — or of each embedding input.
    pub fn estimated_input_tokens(&self) -> u32 {
        let texts = self
            .instructions
            .iter()
            .chain(self.messages.iter().map(|m| &m.text));
        texts
            .chain(self.embedding_inputs.iter())
            .map(|t| crate::tokens::estimate_tokens(t))
            .sum()
    }
}

/// One request as the simulator received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Position in arrival order, from 0.
    pub index: usize,
    /// Which endpoint was hit.
    pub endpoint: Endpoint,
    /// HTTP method (`GET`, `POST`…).
    pub method: String,
    /// Path without query string.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Headers, lower-case names, with the `authorization` value replaced by
    /// `<redacted>` so recordings can be printed without leaking the key.
    pub headers: Vec<(String, String)>,
    /// Whether an `Authorization` header was present.
    pub authorization_present: bool,
    /// Whether the request passed the simulator's bearer check (always true where
    /// no check applies: Ollama endpoints, or auth disabled).
    pub authorized: bool,
    /// The body parsed as JSON (`None` for no body or a body that is not JSON).
    pub body: Option<Value>,
    /// Wall-clock arrival time.
    pub at: SystemTime,
    /// Arrival time relative to the simulator's start, on tokio's clock (so it is
    /// meaningful, and exact, under paused time).
    pub since_start: Duration,
    /// The parsed view for generation endpoints (`None` elsewhere).
    pub llm: Option<LlmRequest>,
}

impl RecordedRequest {
    /// Value of a header (name case-insensitive). `authorization` reads `<redacted>`.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The instructions the model got (see [`LlmRequest`] for the convention).
    pub fn instructions(&self) -> Option<&str> {
        self.llm.as_ref().and_then(|l| l.instructions.as_deref())
    }

    /// The full context without system messages (empty for non-generation requests).
    pub fn messages(&self) -> &[Message] {
        self.llm
            .as_ref()
            .map(|l| l.messages.as_slice())
            .unwrap_or(&[])
    }

    /// The messages carried by this request's own body.
    pub fn input(&self) -> &[Message] {
        self.llm.as_ref().map(|l| l.input.as_slice()).unwrap_or(&[])
    }

    /// The requested model.
    pub fn model(&self) -> Option<&str> {
        self.llm.as_ref().and_then(|l| l.model.as_deref())
    }

    /// Text of the last user message of the context.
    pub fn last_user_text(&self) -> Option<&str> {
        self.llm.as_ref().and_then(LlmRequest::last_user_text)
    }

    /// A one-line description, used in failure messages.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "#{} {:?} {} {}",
            self.index, self.endpoint, self.method, self.path
        );
        if let Some(text) = self.last_user_text() {
            let short: String = text.chars().take(60).collect();
            s.push_str(&format!(" (last user: {short:?})"));
        }
        s
    }
}

/// Returned by [`LlmSim::wait_for_requests`](crate::LlmSim::wait_for_requests) when
/// the expected requests did not arrive in time; lists what did arrive.
#[derive(Debug, thiserror::Error)]
#[error("expected {wanted} matching request(s) within {timeout:?}, saw {}: [{}]", .seen.len(), .seen.iter().map(RecordedRequest::summary).collect::<Vec<_>>().join("; "))]
pub struct WaitError {
    /// How many were awaited.
    pub wanted: usize,
    /// How long we waited.
    pub timeout: Duration,
    /// The matching requests seen by then.
    pub seen: Vec<RecordedRequest>,
}

/// The request log plus a counter that waiters can watch.
pub(crate) struct Recorder {
    log: Mutex<Vec<RecordedRequest>>,
    count: watch::Sender<usize>,
}

impl Recorder {
    pub(crate) fn new() -> Self {
        Recorder {
            log: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        }
    }

    /// Appends `req` (its `index` is assigned here) and wakes waiters.
    pub(crate) fn push(&self, mut req: RecordedRequest) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        req.index = log.len();
        log.push(req);
        let n = log.len();
        drop(log);
        self.count.send_replace(n);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn clear(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.count.send_replace(0);
    }

    /// Waits until `n` requests satisfying `filter` were recorded, or `timeout`
    /// elapses (tokio time, so paused-time tests do not actually wait).
    pub(crate) async fn wait_for(
        &self,
        n: usize,
        timeout: Duration,
        filter: impl Fn(&RecordedRequest) -> bool,
    ) -> Result<Vec<RecordedRequest>, WaitError> {
        let matching =
            || -> Vec<RecordedRequest> { self.all().into_iter().filter(|r| filter(r)).collect() };
        let mut rx = self.count.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            loop {
                rx.borrow_and_update();
                let seen = matching();
                if seen.len() >= n {
                    return seen;
                }
                if rx.changed().await.is_err() {
                    // The sender lives as long as `self`; unreachable in practice,
                    // but never spin.
                    std::future::pending::<()>().await;
                }
            }
        })
        .await;
        waited.map_err(|_| WaitError {
            wanted: n,
            timeout,
            seen: matching(),
        })
    }
}
