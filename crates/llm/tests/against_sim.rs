//! The three backends against the local LLM simulator: real HTTP, real streams, each failure mode.

use disconcierge_llm::{
    BackendConfig, Limits, LlmBackend, LlmError, LlmRequest, MemorySink, RetryPolicy, Role,
    StreamEvent, Turn, generate,
};
use disconcierge_llm_sim::{Endpoint, Failure, LlmSim, Reply, Timing};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "sk-test";

async fn sim() -> LlmSim {
    LlmSim::builder().api_key(KEY).start().await
}

fn backend(sim: &LlmSim, provider: &str) -> (Arc<dyn LlmBackend>, Arc<MemorySink>) {
    let sink = Arc::new(MemorySink::default());
    let token = Some(secrecy::SecretString::from(KEY));
    let config = match provider {
        "openai" => BackendConfig::OpenAi {
            base_url: sim.openai_base_url(),
            token,
            embedding_model: Some("text-embedding-3-small".into()),
        },
        "openai-chat" => BackendConfig::OpenAiChat {
            base_url: sim.openai_base_url(),
            token,
            embedding_model: Some("text-embedding-3-small".into()),
        },
        _ => BackendConfig::Ollama {
            base_url: sim.ollama_url(),
            embedding_model: Some("nomic-embed-text".into()),
        },
    };
    (disconcierge_llm::build(config, sink.clone()).unwrap(), sink)
}

const PROVIDERS: [&str; 3] = ["openai", "openai-chat", "ollama"];

fn request() -> LlmRequest {
    LlmRequest {
        model: "test-model".into(),
        instructions: "You are a concierge.".into(),
        history: vec![
            Turn {
                role: Role::User,
                content: "earlier question".into(),
            },
            Turn {
                role: Role::Assistant,
                content: "earlier answer".into(),
            },
        ],
        prompt: "What time is it?".into(),
        temperature: Some(0.5),
        ..Default::default()
    }
}

fn limits() -> Limits {
    Limits {
        first_token: Duration::from_secs(5),
        total: Duration::from_secs(20),
    }
}

#[tokio::test]
async fn every_provider_streams_an_answer_with_usage_and_logs_the_call() {
    for provider in PROVIDERS {
        let sim = sim().await;
        sim.push_reply(Reply::text("It is time for a well-earned break."));
        let (llm, sink) = backend(&sim, provider);
        let mut pieces = Vec::new();
        let completion = llm
            .stream(&request(), limits(), &mut |d| pieces.push(d.to_string()))
            .await
            .unwrap();
        assert_eq!(
            completion.text, "It is time for a well-earned break.",
            "{provider}"
        );
        assert!(
            pieces.len() > 3,
            "{provider}: streamed in pieces, got {pieces:?}"
        );
        assert_eq!(pieces.concat(), completion.text);
        let usage = completion
            .usage
            .unwrap_or_else(|| panic!("{provider}: usage"));
        assert!(
            usage.completion_tokens > 0 && usage.total_tokens >= usage.completion_tokens,
            "{provider}"
        );

        // The model saw the instructions, the history and the prompt.
        let seen = sim.last_llm_request().unwrap();
        assert_eq!(
            seen.instructions.as_deref(),
            Some("You are a concierge."),
            "{provider}"
        );
        let texts: Vec<String> = seen.messages.iter().map(|m| m.text.clone()).collect();
        assert_eq!(
            texts,
            ["earlier question", "earlier answer", "What time is it?"],
            "{provider}"
        );

        let logs = sink.logs();
        assert_eq!(logs.len(), 1, "{provider}");
        assert_eq!(logs[0].provider, provider);
        assert_eq!(logs[0].http_status, Some(200));
        assert_eq!(logs[0].usage, completion.usage);
        assert_eq!(logs[0].response.as_ref().unwrap()["text"], completion.text);
        assert!(logs[0].error.is_none());
    }
}

#[tokio::test]
async fn openai_keeps_the_history_in_the_conversation() {
    let sim = sim().await;
    let (llm, sink) = backend(&sim, "openai");
    let conversation = llm
        .create_conversation(Some(42))
        .await
        .unwrap()
        .expect("an id");
    let mut req = LlmRequest {
        history: Vec::new(),
        conversation_id: Some(conversation.clone()),
        prompt: "first".into(),
        ..request()
    };
    llm.stream(&req, limits(), &mut |_| {}).await.unwrap();
    req.prompt = "second".into();
    llm.stream(&req, limits(), &mut |_| {}).await.unwrap();
    // The second request carried only the new message; the model saw the whole conversation.
    let seen = sim.last_llm_request().unwrap();
    assert_eq!(seen.input.len(), 1);
    let texts: Vec<String> = seen.messages.iter().map(|m| m.text.clone()).collect();
    assert_eq!(texts, ["first", "echo: first", "second"]);
    assert_eq!(sim.conversation_messages(&conversation).unwrap().len(), 4);
    assert_eq!(sink.logs()[0].operation, "conversations.create");
    assert_eq!(sink.logs()[0].chat_command_id, Some(42));
    assert!(sim.requests_to(Endpoint::Assistants).is_empty());
}

/// What a failure must turn into.
type Expect = fn(&LlmError) -> bool;

#[tokio::test]
async fn failures_become_typed_errors_and_are_logged() {
    for provider in PROVIDERS {
        let sim = sim().await;
        let (llm, sink) = backend(&sim, provider);
        let cases: Vec<(Failure, Expect)> = vec![
            (Failure::server_error(), |e| {
                matches!(e, LlmError::Server { status: 500, .. })
            }),
            (
                Failure::rate_limited(7),
                |e| matches!(e, LlmError::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(7)),
            ),
            (Failure::DropAfter(2), |e| {
                matches!(e, LlmError::StreamBroken(_))
            }),
            (Failure::MalformedAfter(2), |e| {
                matches!(e, LlmError::Protocol(_))
            }),
        ];
        for (failure, expected) in cases {
            let label = format!("{provider} {failure:?}");
            sim.push_reply(Reply::text("one two three four five six"));
            sim.fail_next(1, failure);
            let err = llm
                .stream(&request(), limits(), &mut |_| {})
                .await
                .unwrap_err();
            assert!(expected(&err), "{label}: got {err:?}");
            let last = sink.logs().pop().unwrap();
            assert_eq!(
                last.error.as_deref(),
                Some(err.to_string().as_str()),
                "{label}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn slow_first_token_and_slow_headers_time_out() {
    for provider in PROVIDERS {
        let sim = sim().await;
        let (llm, sink) = backend(&sim, provider);
        sim.push_reply(
            Reply::text("late").with_timing(Timing::new(Duration::from_secs(30), Duration::ZERO)),
        );
        let err = llm
            .stream(&request(), limits(), &mut |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LlmError::FirstTokenTimeout(Duration::from_secs(5)),
            "{provider}"
        );

        sim.fail_next(1, Failure::SlowHeaders(Duration::from_secs(60)));
        let err = llm
            .stream(&request(), limits(), &mut |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LlmError::FirstTokenTimeout(Duration::from_secs(5)),
            "{provider}"
        );
        // Even a call that timed out is logged.
        assert_eq!(
            sink.logs().iter().filter(|l| l.error.is_some()).count(),
            2,
            "{provider}"
        );

        // After the first token, the whole-answer deadline applies.
        sim.push_reply(
            Reply::text("a b c d e f")
                .with_timing(Timing::new(Duration::ZERO, Duration::from_secs(5))),
        );
        let err = llm
            .stream(&request(), limits(), &mut |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            err,
            LlmError::TotalTimeout(Duration::from_secs(20)),
            "{provider}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn generate_retries_through_a_429_and_a_dropped_stream() {
    for provider in PROVIDERS {
        let sim = sim().await;
        let (llm, sink) = backend(&sim, provider);
        sim.push_reply(Reply::text("first attempt broken"));
        sim.push_reply(Reply::text("the full answer"));
        sim.fail_next(1, Failure::rate_limited(2));
        sim.add_failure(disconcierge_llm_sim::FailureRule::next(
            1,
            Failure::DropAfter(1),
        ));
        let mut events = Vec::new();
        let policy = RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        };
        let completion = generate(llm.as_ref(), &request(), &policy, &mut |e| {
            events.push(match e {
                StreamEvent::Delta(d) => d.to_string(),
                StreamEvent::Restart { .. } => "<restart>".to_string(),
            })
        })
        .await
        .unwrap();
        assert_eq!(completion.text.trim(), "the full answer", "{provider}");
        assert!(
            events.contains(&"<restart>".to_string()),
            "{provider}: {events:?}"
        );
        let errors: Vec<_> = sink.logs().iter().map(|l| l.error.is_some()).collect();
        assert_eq!(
            errors,
            [true, true, false],
            "{provider}: each attempt is logged"
        );
    }
}

#[tokio::test]
async fn bad_credentials_are_not_retried_and_say_what_to_check() {
    let sim = sim().await;
    let sink = Arc::new(MemorySink::default());
    let llm = disconcierge_llm::build(
        BackendConfig::OpenAi {
            base_url: sim.openai_base_url(),
            token: Some(secrecy::SecretString::from("sk-wrong")),
            embedding_model: None,
        },
        sink.clone(),
    )
    .unwrap();
    let err = generate(
        llm.as_ref(),
        &request(),
        &RetryPolicy::default(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(err, LlmError::Auth { status: 401 }));
    assert!(err.to_string().contains("DC_OPENAI_TOKEN"));
    assert_eq!(sink.logs().len(), 1);
    // The key never appears in a log.
    assert!(!format!("{:?}", sink.logs()).contains("sk-wrong"));
}

#[tokio::test]
async fn health_and_embeddings() {
    for provider in PROVIDERS {
        let sim = sim().await;
        let (llm, _) = backend(&sim, provider);
        llm.health()
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e}"));
        let texts = vec![
            "reset my password".to_string(),
            "password reset".to_string(),
            "pizza recipe".to_string(),
        ];
        let vectors = llm.embed(&texts).await.unwrap().unwrap();
        assert_eq!(vectors.len(), 3, "{provider}");
        let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!(
            cos(&vectors[0], &vectors[1]) > cos(&vectors[0], &vectors[2]),
            "{provider}"
        );
    }
}

#[tokio::test]
async fn an_unreachable_backend_names_the_url() {
    let sink = Arc::new(MemorySink::default());
    let llm = disconcierge_llm::build(
        BackendConfig::Ollama {
            base_url: "http://127.0.0.1:1".into(),
            embedding_model: None,
        },
        sink,
    )
    .unwrap();
    let err = llm
        .stream(&request(), limits(), &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, LlmError::Transport { url, .. } if url == "http://127.0.0.1:1/api/chat"),
        "{err:?}"
    );
    assert!(err.is_retryable());
}
