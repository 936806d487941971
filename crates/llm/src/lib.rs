//! disconcierge's LLM backends.
//!
//! Three providers behind one [`LlmBackend`] trait:
//! - [`openai::OpenAiResponses`]: OpenAI's Responses API with Conversations (the successor of the shut-down
//!   Assistants API) — the conversation lives at OpenAI, `/clear` starts a new one;
//! - [`chat::ChatCompletions`]: any OpenAI-compatible Chat Completions server (vLLM, llama.cpp, LM Studio,
//!   Ollama's `/v1`) — the history is kept by disconcierge and sent with each request;
//! - [`ollama::Ollama`]: Ollama's native `/api/chat`.
//!
//! The clients are written on reqwest rather than async-openai on purpose: async-openai deserializes every
//! stream event into a closed enum, so an event type OpenAI adds later, or a field a "compatible" server
//! leaves out, would break answers in production. Here only the fields we use are read, and unknown events
//! are skipped.
//!
//! Every HTTP call, successful or not, is reported to a [`CallSink`] as an [`LlmCallLog`] (request, response
//! or stream summary, status, timing, usage, error), which the application stores. [`generate`] adds
//! retries with backoff (honouring `Retry-After`) and the first-token and whole-answer timeouts.

pub mod chat;
mod http;
pub mod ollama;
pub mod openai;
mod retry;

pub use http::Limits;
pub use retry::{RetryPolicy, StreamEvent, generate};

use async_trait::async_trait;
use disconcierge_core::model::{LlmCallLog, TokenUsage};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who said a turn of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One earlier message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub content: String,
}

impl disconcierge_core::history::TurnText for Turn {
    fn text(&self) -> &str {
        &self.content
    }

    fn is_user(&self) -> bool {
        self.role == Role::User
    }
}

/// What to ask.
#[derive(Debug, Clone, Default)]
pub struct LlmRequest {
    pub model: String,
    /// System instructions.
    pub instructions: String,
    pub temperature: Option<f32>,
    pub max_output_tokens: Option<u32>,
    /// Earlier turns, oldest first, for providers without server-side conversations.
    pub history: Vec<Turn>,
    /// The OpenAI conversation to continue (Responses provider).
    pub conversation_id: Option<String>,
    /// The user's new message.
    pub prompt: String,
    /// For the call logs.
    pub chat_command_id: Option<i64>,
}

/// Why an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    /// Cut at the token limit.
    Length,
    Other,
}

/// A finished answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub text: String,
    pub usage: Option<TokenUsage>,
    pub finish: FinishReason,
    /// The provider's id of this answer (Responses API).
    pub response_id: Option<String>,
}

/// Why an LLM call failed. [`LlmError::is_retryable`] decides whether [`generate`] tries again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error("the LLM backend refused the credentials (HTTP {status}); check DC_OPENAI_TOKEN")]
    Auth { status: u16 },
    #[error(
        "the LLM backend does not know {what} (HTTP 404): {message}; check the model name (DC_OPENAI_MODEL, DC_OLLAMA_MODEL, or the runtime configuration)"
    )]
    NotFound { what: &'static str, message: String },
    #[error("the LLM backend rejected the request (HTTP {status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("the LLM backend is rate limiting us (HTTP 429){}: {message}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("the LLM backend had an error (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    #[error("could not reach the LLM backend at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("the answer stream broke off: {0}")]
    StreamBroken(String),
    #[error("the LLM backend sent something we could not read: {0}")]
    Protocol(String),
    #[error("no answer began within {0:?}")]
    FirstTokenTimeout(Duration),
    #[error("the answer did not finish within {0:?}")]
    TotalTimeout(Duration),
    #[error("the LLM backend reported a failure: {0}")]
    Failed(String),
}

impl LlmError {
    /// Transient failures are worth another attempt; a refused request or bad credentials are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Server { .. }
                | LlmError::Transport { .. }
                | LlmError::StreamBroken(_)
                | LlmError::Protocol(_)
                | LlmError::FirstTokenTimeout(_)
        )
    }

    /// A short machine-readable kind, for the command's record and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            LlmError::Auth { .. } => "auth",
            LlmError::NotFound { .. } => "not_found",
            LlmError::Rejected { .. } => "rejected",
            LlmError::RateLimited { .. } => "rate_limited",
            LlmError::Server { .. } => "server",
            LlmError::Transport { .. } => "transport",
            LlmError::StreamBroken(_) => "stream_broken",
            LlmError::Protocol(_) => "protocol",
            LlmError::FirstTokenTimeout(_) => "first_token_timeout",
            LlmError::TotalTimeout(_) => "total_timeout",
            LlmError::Failed(_) => "failed",
        }
    }
}

/// Where call logs go (the application stores them; tests collect them).
pub trait CallSink: Send + Sync {
    fn record(&self, log: LlmCallLog);
}

/// A sink that keeps logs in memory (tests, the playground).
#[derive(Default)]
pub struct MemorySink(pub Mutex<Vec<LlmCallLog>>);

impl CallSink for MemorySink {
    fn record(&self, log: LlmCallLog) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(log);
    }
}

impl MemorySink {
    pub fn logs(&self) -> Vec<LlmCallLog> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Called with each piece of text as it arrives.
pub type OnDelta<'a> = dyn FnMut(&str) + Send + 'a;

/// One provider. Methods make one HTTP call each (no retries: see [`generate`]) and log it.
#[async_trait]
pub trait LlmBackend: Send + Sync {
    /// `openai`, `openai-chat` or `ollama`.
    fn provider(&self) -> &'static str;

    /// Whether the provider keeps conversations itself (then `history` is not needed).
    fn server_side_conversations(&self) -> bool {
        false
    }

    /// Starts a new server-side conversation; `None` for providers without them.
    async fn create_conversation(
        &self,
        _chat_command_id: Option<i64>,
    ) -> Result<Option<String>, LlmError> {
        Ok(None)
    }

    /// Streams one answer: `on_delta` gets each piece of text, within the [`Limits`].
    async fn stream(
        &self,
        request: &LlmRequest,
        limits: Limits,
        on_delta: &mut OnDelta<'_>,
    ) -> Result<Completion, LlmError>;

    /// The JSON body this backend sends for `request` (as [`LlmBackend::stream`] would send it), for the
    /// admin playground's "exact prompt".
    fn request_json(&self, request: &LlmRequest) -> serde_json::Value;

    /// Checks that the backend answers and accepts our credentials; returns the round-trip time.
    async fn health(&self) -> Result<Duration, LlmError>;

    /// Embeddings of `texts`, when the backend is configured for them.
    async fn embed(&self, _texts: &[String]) -> Result<Option<Vec<Vec<f32>>>, LlmError> {
        Ok(None)
    }
}

/// How to reach a provider.
#[derive(Clone)]
pub enum BackendConfig {
    OpenAi {
        base_url: String,
        token: Option<secrecy::SecretString>,
        embedding_model: Option<String>,
    },
    OpenAiChat {
        base_url: String,
        token: Option<secrecy::SecretString>,
        embedding_model: Option<String>,
    },
    Ollama {
        base_url: String,
        embedding_model: Option<String>,
    },
}

/// Builds the backend for a configuration.
pub fn build(
    config: BackendConfig,
    sink: Arc<dyn CallSink>,
) -> Result<Arc<dyn LlmBackend>, LlmError> {
    let client = http::client()?;
    Ok(match config {
        BackendConfig::OpenAi {
            base_url,
            token,
            embedding_model,
        } => Arc::new(openai::OpenAiResponses::new(
            client,
            base_url,
            token,
            embedding_model,
            sink,
        )),
        BackendConfig::OpenAiChat {
            base_url,
            token,
            embedding_model,
        } => Arc::new(chat::ChatCompletions::new(
            client,
            base_url,
            token,
            embedding_model,
            sink,
        )),
        BackendConfig::Ollama {
            base_url,
            embedding_model,
        } => Arc::new(ollama::Ollama::new(client, base_url, embedding_model, sink)),
    })
}
