//! A local, scriptable stand-in for the LLM servers disconcierge talks to, for its
//! tests and benchmarks (never a dependency of the production binary).
//!
//! One [`LlmSim`] serves, on one `127.0.0.1` port:
//! - **OpenAI's Responses API** with **Conversations** (`/v1/responses`,
//!   `/v1/conversations…`), streaming with the real event types;
//! - **Chat Completions** (`/v1/chat/completions`), the protocol of every
//!   OpenAI-compatible server (vLLM, llama.cpp, LM Studio, Ollama's `/v1`);
//! - **embeddings** and **models** (`/v1/embeddings`, `/v1/models`);
//! - **Ollama's native API** (`/api/chat`, `/api/generate`, `/api/embed`,
//!   `/api/tags`, `/api/version`);
//! - and a 404 in OpenAI's shape for the shut-down Assistants API
//!   (`/v1/assistants`, `/v1/threads…`), recorded as [`Endpoint::Assistants`] so a
//!   test can prove the bot never calls it.
//!
//! Why a simulator rather than mocks: the bot's HTTP clients, SSE/NDJSON parsers,
//! retry and timeout logic all run for real against it, and its replies are checked
//! (in this crate's tests) to deserialize into `async-openai`'s types.
//!
//! Each test scripts its own model ([`Script`], [`Reply`], [`Failure`]): replies
//! fixed or computed from the request, time to first token and per-token delay
//! (tokio time: free under `start_paused`), HTTP errors, 429 with `Retry-After`,
//! dropped connections, malformed chunks, stalls and hangs. Every request is
//! recorded ([`RecordedRequest`]) with an API-neutral view ([`LlmRequest`]) of the
//! instructions and history the model was given.
//!
//! Deterministic numbers: token usage is estimated as `ceil(chars / 4)` for inputs
//! and counted as streamed chunks for outputs ([`tokens`]); embeddings are hashed
//! bags of words ([`tokens::embed_text`]); ids are sequential (`resp_sim000002`).
//!
//! ```no_run
//! use std::time::Duration;
//! use disconcierge_llm_sim::{Endpoint, Failure, LlmSim, Reply, Script, Timing};
//!
//! # async fn demo() {
//! let sim = LlmSim::start().await;
//! sim.script(
//!     Script::new()
//!         .reply(Reply::text("Hello! How can I help?"))
//!         .reply(Reply::from_fn(|req| format!("You said {:?}", req.last_user_text())))
//!         .timing(Timing::new(Duration::from_millis(200), Duration::from_millis(20)))
//!         .fail_next(1, Failure::rate_limited(1)),
//! );
//! // Point the bot at sim.openai_base_url() with key sim.api_key(), or at
//! // sim.ollama_url(); run the scenario; then:
//! let seen = sim.wait_for_requests_to(Endpoint::Responses, 2, Duration::from_secs(5)).await.unwrap();
//! assert_eq!(seen[1].instructions(), Some("You are a concierge."));
//! assert_eq!(seen[1].messages().last().unwrap(), &("user", "hi"));
//! # }
//! ```

mod chat;
mod conversations;
mod embeddings;
mod ollama;
mod openai;
mod record;
mod script;
mod server;
mod stream;
pub mod tokens;

pub use record::{Endpoint, LlmRequest, Message, RecordedRequest, WaitError};
pub use script::{Failure, FailureRule, Reply, Script, Timing};
pub use server::{DEFAULT_API_KEY, LlmSim, LlmSimBuilder};
pub use tokens::Chunking;

/// The version string `GET /api/version` reports.
pub const OLLAMA_VERSION: &str = ollama::VERSION;
