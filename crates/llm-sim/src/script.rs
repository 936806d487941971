//! What the simulated model answers, how fast, and how it fails.
//!
//! A [`Script`] is per simulator (so per test). It holds
//! - a queue of [`Reply`]s consumed in order by text-generation requests (Responses,
//!   Chat Completions, Ollama chat/generate), then a default reply — unless set
//!   otherwise, [`Reply::echo`], which answers `echo: <last user message>` so a test
//!   that scripts nothing still gets a reply that proves which message reached the model;
//! - [`FailureRule`]s, checked in order for every request;
//! - the default [`Timing`] and [`Chunking`] of replies.
//!
//! Everything applies the same way to all three APIs, so one scenario ("the model is
//! slow, then rate-limits us twice") can be replayed against each backend.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::record::{LlmRequest, RecordedRequest};
use crate::tokens::{Chunking, chunk_text};

type ReplyFn = Arc<dyn Fn(&LlmRequest) -> String + Send + Sync>;
type Predicate = Arc<dyn Fn(&RecordedRequest) -> bool + Send + Sync>;

/// Delays of a generation, slept with `tokio::time::sleep` inside the server's tasks.
///
/// The server runs on the runtime of the test that started it, so with
/// `#[tokio::test(start_paused = true)]` these delays cost no real time: tokio
/// advances its clock whenever everything is idle. (Client-side timeouts run on the
/// same clock then; keep that in mind when mixing paused time and real sockets —
/// the failure-mode tests use short real durations instead.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// Delay before the first token (for non-streaming calls: part of the wait
    /// before the whole answer).
    pub first_token: Duration,
    /// Delay between two consecutive tokens.
    pub per_token: Duration,
}

impl Timing {
    /// No delay at all (the default).
    pub const INSTANT: Timing = Timing {
        first_token: Duration::ZERO,
        per_token: Duration::ZERO,
    };

    /// A timing with the given time to first token and inter-token delay.
    pub fn new(first_token: Duration, per_token: Duration) -> Self {
        Timing {
            first_token,
            per_token,
        }
    }

    /// Total time a generation of `tokens` tokens takes.
    pub fn total(&self, tokens: usize) -> Duration {
        let gaps = u32::try_from(tokens.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_token + self.per_token * gaps
    }
}

#[derive(Clone)]
enum ReplyContent {
    Text(String),
    Tokens(Vec<String>),
    Fn(ReplyFn),
    Echo,
}

/// One scripted answer of the model.
#[derive(Clone)]
pub struct Reply {
    content: ReplyContent,
    timing: Option<Timing>,
    chunking: Option<Chunking>,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let content = match &self.content {
            ReplyContent::Text(t) => format!("Text({t:?})"),
            ReplyContent::Tokens(t) => format!("Tokens({t:?})"),
            ReplyContent::Fn(_) => "Fn(..)".to_owned(),
            ReplyContent::Echo => "Echo".to_owned(),
        };
        f.debug_struct("Reply")
            .field("content", &content)
            .field("timing", &self.timing)
            .field("chunking", &self.chunking)
            .finish()
    }
}

impl Reply {
    fn with_content(content: ReplyContent) -> Self {
        Reply {
            content,
            timing: None,
            chunking: None,
        }
    }

    /// A fixed text, streamed according to the script's (or this reply's) chunking.
    pub fn text(text: impl Into<String>) -> Self {
        Self::with_content(ReplyContent::Text(text.into()))
    }

    /// A fixed text given as its exact stream of tokens (the chunking is ignored).
    pub fn tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_content(ReplyContent::Tokens(
            tokens.into_iter().map(Into::into).collect(),
        ))
    }

    /// A text computed from the request, e.g. to answer differently depending on the
    /// instructions or history the bot sent. The closure sees the API-neutral view.
    pub fn from_fn(f: impl Fn(&LlmRequest) -> String + Send + Sync + 'static) -> Self {
        Self::with_content(ReplyContent::Fn(Arc::new(f)))
    }

    /// `echo: <text of the last user message>` (or `echo: ` when there is none):
    /// the default reply.
    pub fn echo() -> Self {
        Self::with_content(ReplyContent::Echo)
    }

    /// Overrides the script's timing for this reply.
    pub fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = Some(timing);
        self
    }

    /// Overrides the time to first token for this reply (keeps the script's per-token delay
    /// unless [`per_token`](Self::per_token) is also called).
    pub fn first_token_after(mut self, delay: Duration) -> Self {
        self.timing.get_or_insert(Timing::INSTANT).first_token = delay;
        self
    }

    /// Overrides the inter-token delay for this reply.
    pub fn per_token(mut self, delay: Duration) -> Self {
        self.timing.get_or_insert(Timing::INSTANT).per_token = delay;
        self
    }

    /// Overrides how this reply is cut into tokens.
    pub fn chunked(mut self, chunking: Chunking) -> Self {
        self.chunking = Some(chunking);
        self
    }

    /// Produces the tokens of this reply for `req`.
    pub(crate) fn render(&self, req: &LlmRequest, default_chunking: &Chunking) -> Vec<String> {
        let chunking = self.chunking.as_ref().unwrap_or(default_chunking);
        match &self.content {
            ReplyContent::Tokens(t) => t.clone(),
            ReplyContent::Text(t) => chunk_text(t, chunking),
            ReplyContent::Fn(f) => chunk_text(&f(req), chunking),
            ReplyContent::Echo => chunk_text(
                &format!("echo: {}", req.last_user_text().unwrap_or("")),
                chunking,
            ),
        }
    }
}

/// A way for the simulated server to misbehave.
///
/// "Token" positions count streamed deltas; a position past the end of the reply
/// applies right before the stream would have completed. Failures that cut or spoil
/// a stream also affect non-streaming calls, in the closest equivalent way (see each
/// variant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this HTTP status and the API's error body (OpenAI's
    /// `{"error": {message, type, param, code}}` on `/v1`, Ollama's `{"error": "..."}`
    /// on `/api`), plus `Retry-After: <seconds>` when given. The scripted reply is
    /// not consumed, so a retry gets it.
    Status {
        /// HTTP status code.
        status: u16,
        /// Error message in the body.
        message: String,
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u64>,
    },
    /// Close the connection abruptly after this many tokens (the client sees a body
    /// or stream error, not a clean end). Non-streaming: half the JSON body, then
    /// the connection drops.
    DropAfter(usize),
    /// After this many tokens, send one chunk that is not valid JSON, then carry on
    /// normally (the client sees a parse error for that event). Non-streaming: the
    /// whole body is invalid JSON with status 200.
    MalformedAfter(usize),
    /// After this many tokens, the API's own in-band error: `error` +
    /// `response.failed` events for the Responses API, a `data: {"error": …}` chunk
    /// for Chat Completions, an `{"error": "..."}` line for Ollama; then the stream
    /// ends. Non-streaming: HTTP 500 with the message.
    ErrorAfter(usize, String),
    /// After this many tokens, stop sending but keep the connection open until the
    /// client gives up (tests idle/read timeouts). Non-streaming: half a body, then
    /// silence.
    StallAfter(usize),
    /// Wait this long before sending the status line, then answer normally (tests
    /// connect/headers timeouts).
    SlowHeaders(Duration),
    /// Never answer: the request stays pending until the client gives up (or the
    /// simulator shuts down).
    Hang,
}

impl Failure {
    /// HTTP 500 with OpenAI's generic server error message.
    pub fn server_error() -> Self {
        Failure::Status {
            status: 500,
            message: "The server had an error while processing your request. Sorry about that!"
                .to_owned(),
            retry_after: None,
        }
    }

    /// HTTP 429 with `Retry-After: <retry_after_secs>`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Failure::Status {
            status: 429,
            message: "Rate limit reached for requests. Please try again later.".to_owned(),
            retry_after: Some(retry_after_secs),
        }
    }

    /// Any HTTP status with a message.
    pub fn status(status: u16, message: impl Into<String>) -> Self {
        Failure::Status {
            status,
            message: message.into(),
            retry_after: None,
        }
    }
}

#[derive(Clone)]
enum Matcher {
    Generation,
    Predicate(Predicate),
}

/// When to apply a [`Failure`]: to the next N generation requests, or to requests
/// matching a predicate (any endpoint), optionally a limited number of times.
#[derive(Clone)]
pub struct FailureRule {
    failure: Failure,
    remaining: Option<usize>,
    matcher: Matcher,
}

impl fmt::Debug for FailureRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let matcher = match self.matcher {
            Matcher::Generation => "generation requests",
            Matcher::Predicate(_) => "predicate",
        };
        f.debug_struct("FailureRule")
            .field("failure", &self.failure)
            .field("remaining", &self.remaining)
            .field("matcher", &matcher)
            .finish()
    }
}

impl FailureRule {
    /// The next `n` generation requests (see [`Endpoint::is_generation`](crate::Endpoint::is_generation))
    /// fail. Bookkeeping calls (conversations, models…) pass through untouched.
    pub fn next(n: usize, failure: Failure) -> Self {
        FailureRule {
            failure,
            remaining: Some(n),
            matcher: Matcher::Generation,
        }
    }

    /// Every generation request fails, until the script is replaced.
    pub fn always(failure: Failure) -> Self {
        FailureRule {
            failure,
            remaining: None,
            matcher: Matcher::Generation,
        }
    }

    /// Every request for which `predicate` holds fails (any endpoint, including
    /// conversations), until the script is replaced or [`times`](Self::times) runs out.
    pub fn matching(
        predicate: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
        failure: Failure,
    ) -> Self {
        FailureRule {
            failure,
            remaining: None,
            matcher: Matcher::Predicate(Arc::new(predicate)),
        }
    }

    /// Limits the rule to `n` applications.
    pub fn times(mut self, n: usize) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, req: &RecordedRequest) -> bool {
        match &self.matcher {
            Matcher::Generation => req.endpoint.is_generation(),
            Matcher::Predicate(p) => p(req),
        }
    }
}

/// The scripted behaviour of a simulator (see the module docs).
#[derive(Clone, Debug)]
pub struct Script {
    replies: VecDeque<Reply>,
    default_reply: Reply,
    failures: Vec<FailureRule>,
    timing: Timing,
    chunking: Chunking,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            replies: VecDeque::new(),
            default_reply: Reply::echo(),
            failures: Vec::new(),
            timing: Timing::INSTANT,
            chunking: Chunking::Words,
        }
    }
}

impl Script {
    /// An empty script: echo replies, no delay, word chunking, no failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a reply (consumed by the next text-generation request not already
    /// served by an earlier queued reply).
    pub fn reply(mut self, reply: Reply) -> Self {
        self.replies.push_back(reply);
        self
    }

    /// Queues several replies.
    pub fn replies(mut self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.replies.extend(replies);
        self
    }

    /// The reply used once the queue is empty.
    pub fn default_reply(mut self, reply: Reply) -> Self {
        self.default_reply = reply;
        self
    }

    /// Adds a failure rule (rules are checked in the order they were added).
    pub fn failure(mut self, rule: FailureRule) -> Self {
        self.failures.push(rule);
        self
    }

    /// Shorthand for `failure(FailureRule::next(n, failure))`.
    pub fn fail_next(self, n: usize, failure: Failure) -> Self {
        self.failure(FailureRule::next(n, failure))
    }

    /// The timing of replies that do not set their own.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// The chunking of replies that do not set their own.
    pub fn chunking(mut self, chunking: Chunking) -> Self {
        self.chunking = chunking;
        self
    }

    pub(crate) fn push_reply(&mut self, reply: Reply) {
        self.replies.push_back(reply);
    }

    pub(crate) fn set_default_reply(&mut self, reply: Reply) {
        self.default_reply = reply;
    }

    pub(crate) fn push_failure(&mut self, rule: FailureRule) {
        self.failures.push(rule);
    }

    pub(crate) fn current_timing(&self) -> Timing {
        self.timing
    }

    pub(crate) fn set_timing(&mut self, timing: Timing) {
        self.timing = timing;
    }

    /// Finds (and uses up one application of) the first rule matching `req`.
    pub(crate) fn take_failure(&mut self, req: &RecordedRequest) -> Option<Failure> {
        let pos = self
            .failures
            .iter()
            .position(|r| r.remaining != Some(0) && r.matches(req))?;
        let rule = &mut self.failures[pos];
        let failure = rule.failure.clone();
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                self.failures.remove(pos);
            }
        }
        Some(failure)
    }

    /// Takes the next reply (queue, then default) with the timing and chunking to use.
    pub(crate) fn take_reply(&mut self) -> (Reply, Timing, Chunking) {
        let reply = self
            .replies
            .pop_front()
            .unwrap_or_else(|| self.default_reply.clone());
        let timing = reply.timing.unwrap_or(self.timing);
        (reply, timing, self.chunking.clone())
    }
}

/// A generation as the server will deliver it.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The tokens to send (already truncated to the output cap).
    pub tokens: Vec<String>,
    /// Whether the cap cut the reply.
    pub truncated: bool,
    pub timing: Timing,
    /// A failure that happens during delivery (never `Status`/`Hang`/`SlowHeaders`).
    pub failure: Option<Failure>,
}

impl Plan {
    pub(crate) fn text(&self) -> String {
        self.tokens.concat()
    }

    /// The token position at which the delivery failure strikes, if any.
    pub(crate) fn failure_at(&self) -> Option<(usize, &Failure)> {
        let f = self.failure.as_ref()?;
        let at = match f {
            Failure::DropAfter(n)
            | Failure::MalformedAfter(n)
            | Failure::ErrorAfter(n, _)
            | Failure::StallAfter(n) => *n,
            _ => return None,
        };
        Some((at.min(self.tokens.len()), f))
    }
}
