//! Integration tests of the simulator, seen from real clients: `async-openai` (the
//! library the bot uses for OpenAI-style backends) and plain `reqwest` (Ollama,
//! raw HTTP checks). One test binary, to link the heavy client stack only once.

mod chat;
mod failures;
mod ollama;
mod recording;
mod responses;
mod timing;

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use disconcierge_llm_sim::LlmSim;

/// Generous bound for waits that should succeed at once.
pub const WAIT: Duration = Duration::from_secs(5);

/// An async-openai client pointed at the simulator with the right key.
pub fn openai(sim: &LlmSim) -> Client<OpenAIConfig> {
    openai_with_key(sim, sim.api_key().expect("auth on"))
}

/// An async-openai client with an arbitrary key.
pub fn openai_with_key(sim: &LlmSim, key: &str) -> Client<OpenAIConfig> {
    Client::with_config(
        OpenAIConfig::new()
            .with_api_base(sim.openai_base_url())
            .with_api_key(key),
    )
}

/// A plain HTTP client.
pub fn http() -> reqwest::Client {
    reqwest::Client::new()
}

/// `Authorization` header value for the simulator's key.
pub fn bearer(sim: &LlmSim) -> String {
    format!("Bearer {}", sim.api_key().expect("auth on"))
}

/// Splits an NDJSON body into parsed lines (panics on a bad line).
pub fn ndjson_lines(body: &str) -> Vec<serde_json::Value> {
    body.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad NDJSON line {l:?}: {e}")))
        .collect()
}
