//! Retries with backoff around one answer.
//!
//! A transient failure (429, 5xx, a dropped connection, a broken stream, no first token in time) is tried
//! again after a backoff: exponential with jitter, or the backend's `Retry-After` when it gave one. Nothing
//! is retried past the whole-answer deadline: a wait that would end after it gives up at once, so the user
//! hears about the failure while their interaction token still lives. When an attempt had already streamed
//! text before failing, the caller is told ([`StreamEvent::Restart`]) so it can discard the partial answer.

use crate::{Completion, Limits, LlmBackend, LlmError, LlmRequest};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    pub first_token_timeout: Duration,
    pub total_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
            first_token_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`: the backend's `Retry-After` if any, else
    /// `base * 2^(attempt-1)` capped at `max_delay`, with ±20 % jitter so that many waiting clients (or
    /// instances) do not come back at the same instant.
    pub fn delay(&self, attempt: u32, error: &LlmError) -> Duration {
        if let LlmError::RateLimited {
            retry_after: Some(after),
            ..
        } = error
        {
            return *after;
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        let jitter = rand::random_range(0.8..=1.2);
        capped.mul_f64(jitter)
    }
}

/// What the caller sees while an answer is produced.
#[derive(Debug)]
pub enum StreamEvent<'a> {
    /// More text.
    Delta(&'a str),
    /// The previous attempt failed after streaming some text; that text is void, a new attempt starts.
    Restart { attempt: u32, error: &'a LlmError },
}

/// Produces one answer, retrying transient failures within the policy's deadlines.
pub async fn generate(
    backend: &dyn LlmBackend,
    request: &LlmRequest,
    policy: &RetryPolicy,
    on_event: &mut (dyn FnMut(StreamEvent<'_>) + Send),
) -> Result<Completion, LlmError> {
    let deadline = tokio::time::Instant::now() + policy.total_timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            return Err(LlmError::TotalTimeout(policy.total_timeout));
        }
        let limits = Limits {
            first_token: policy.first_token_timeout.min(remaining),
            total: remaining,
        };
        let mut streamed = false;
        let result = {
            let mut on_delta = |d: &str| {
                streamed = true;
                on_event(StreamEvent::Delta(d));
            };
            backend.stream(request, limits, &mut on_delta).await
        };
        let error = match result {
            Ok(completion) => return Ok(completion),
            Err(e) => e,
        };
        // An attempt cut short by the overall deadline reports the time it was given; what happened is
        // that the whole answer ran out of time, which is what the user and the admin must be told.
        let cut_by_deadline = match &error {
            LlmError::TotalTimeout(_) => true,
            LlmError::FirstTokenTimeout(given) => *given < policy.first_token_timeout,
            _ => false,
        };
        if cut_by_deadline {
            return Err(LlmError::TotalTimeout(policy.total_timeout));
        }
        if !error.is_retryable() || attempt >= policy.max_attempts {
            return Err(error);
        }
        let wait = policy.delay(attempt, &error);
        if tokio::time::Instant::now() + wait >= deadline {
            return Err(error);
        }
        tracing::warn!(attempt, ?wait, error = %error, "LLM attempt failed; retrying");
        if streamed {
            on_event(StreamEvent::Restart {
                attempt,
                error: &error,
            });
        }
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FinishReason, OnDelta};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// A backend that plays a script of outcomes, one per attempt, and notes when each attempt began.
    struct Scripted {
        outcomes: Mutex<Vec<Result<&'static str, LlmError>>>,
        started: Mutex<Vec<tokio::time::Instant>>,
    }

    impl Scripted {
        fn new(outcomes: Vec<Result<&'static str, LlmError>>) -> Scripted {
            Scripted {
                outcomes: Mutex::new(outcomes.into_iter().rev().collect()),
                started: Mutex::new(Vec::new()),
            }
        }
    }

    #[async_trait]
    impl LlmBackend for Scripted {
        fn provider(&self) -> &'static str {
            "scripted"
        }

        fn request_json(&self, request: &LlmRequest) -> serde_json::Value {
            serde_json::json!({ "prompt": request.prompt })
        }

        async fn stream(
            &self,
            _: &LlmRequest,
            _: Limits,
            on_delta: &mut OnDelta<'_>,
        ) -> Result<Completion, LlmError> {
            self.started
                .lock()
                .unwrap()
                .push(tokio::time::Instant::now());
            let outcome = self
                .outcomes
                .lock()
                .unwrap()
                .pop()
                .expect("more attempts than scripted");
            match outcome {
                Ok(text) => {
                    on_delta(text);
                    Ok(Completion {
                        text: text.into(),
                        usage: None,
                        finish: FinishReason::Stop,
                        response_id: None,
                    })
                }
                Err(LlmError::StreamBroken(m)) => {
                    on_delta("partial ");
                    Err(LlmError::StreamBroken(m))
                }
                Err(e) => Err(e),
            }
        }

        async fn health(&self) -> Result<Duration, LlmError> {
            Ok(Duration::ZERO)
        }
    }

    fn server_error() -> LlmError {
        LlmError::Server {
            status: 503,
            message: "busy".into(),
        }
    }

    async fn run(
        backend: &Scripted,
        policy: &RetryPolicy,
    ) -> (Result<Completion, LlmError>, Vec<String>) {
        let mut events = Vec::new();
        let result = generate(backend, &LlmRequest::default(), policy, &mut |e| {
            events.push(match e {
                StreamEvent::Delta(d) => format!("delta:{d}"),
                StreamEvent::Restart { attempt, .. } => format!("restart:{attempt}"),
            })
        })
        .await;
        (result, events)
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_with_growing_waits() {
        let backend = Scripted::new(vec![Err(server_error()), Err(server_error()), Ok("fine")]);
        let policy = RetryPolicy::default();
        let (result, events) = run(&backend, &policy).await;
        assert_eq!(result.unwrap().text, "fine");
        assert_eq!(events, ["delta:fine"]);
        let started = backend.started.lock().unwrap().clone();
        let first_wait = started[1] - started[0];
        let second_wait = started[2] - started[1];
        assert!(
            first_wait >= Duration::from_millis(400) && first_wait <= Duration::from_millis(600),
            "{first_wait:?}"
        );
        assert!(
            second_wait >= Duration::from_millis(800) && second_wait <= Duration::from_millis(1200),
            "{second_wait:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_cut_by_the_deadline_reports_the_whole_answer_timeout() {
        let policy = RetryPolicy {
            first_token_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        // The backend reports the (shortened) limits it was given; the caller must hear about the 2 s.
        for cut in [
            LlmError::TotalTimeout(Duration::from_millis(500)),
            LlmError::FirstTokenTimeout(Duration::from_millis(500)),
        ] {
            let backend = Scripted::new(vec![Err(cut)]);
            let (result, _) = run(&backend, &policy).await;
            assert_eq!(result, Err(LlmError::TotalTimeout(Duration::from_secs(2))));
        }
        // A first token that did not come within its own full limit is retried as before.
        let backend = Scripted::new(vec![
            Err(LlmError::FirstTokenTimeout(Duration::from_secs(1))),
            Ok("late but fine"),
        ]);
        let (result, _) = run(&backend, &policy).await;
        assert_eq!(result.unwrap().text, "late but fine");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured() {
        let backend = Scripted::new(vec![
            Err(LlmError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
                message: "slow down".into(),
            }),
            Ok("ok"),
        ]);
        let (result, _) = run(&backend, &RetryPolicy::default()).await;
        assert!(result.is_ok());
        let started = backend.started.lock().unwrap().clone();
        assert_eq!(started[1] - started[0], Duration::from_secs(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_beyond_the_deadline_gives_up_at_once() {
        let backend = Scripted::new(vec![Err(LlmError::RateLimited {
            retry_after: Some(Duration::from_secs(600)),
            message: "quota".into(),
        })]);
        let policy = RetryPolicy {
            total_timeout: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let before = tokio::time::Instant::now();
        let (result, _) = run(&backend, &policy).await;
        assert!(matches!(result, Err(LlmError::RateLimited { .. })));
        assert_eq!(
            tokio::time::Instant::now(),
            before,
            "no sleeping when the wait cannot fit"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let backend = Scripted::new(vec![Err(LlmError::Auth { status: 401 })]);
        let (result, _) = run(&backend, &RetryPolicy::default()).await;
        assert!(matches!(result, Err(LlmError::Auth { .. })));
        assert_eq!(backend.started.lock().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_broken_midway_restarts_the_answer() {
        let backend = Scripted::new(vec![
            Err(LlmError::StreamBroken("reset".into())),
            Ok("whole answer"),
        ]);
        let (result, events) = run(&backend, &RetryPolicy::default()).await;
        assert_eq!(result.unwrap().text, "whole answer");
        assert_eq!(
            events,
            ["delta:partial ", "restart:1", "delta:whole answer"]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let backend = Scripted::new(vec![Err(server_error()), Err(server_error())]);
        let policy = RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        };
        let (result, _) = run(&backend, &policy).await;
        assert!(matches!(result, Err(LlmError::Server { .. })));
        assert_eq!(backend.started.lock().unwrap().len(), 2);
    }
}
