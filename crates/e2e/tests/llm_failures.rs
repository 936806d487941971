//! Every way the LLM can fail, through the whole bot: a person asks in the simulated Discord, the simulated
//! LLM misbehaves in one specific way, and the person either gets the answer (transient failures are
//! retried) or the configured error message — never a raw error, never a half answer left as if it were
//! complete. The command records why it failed, and every attempt is in the LLM call log.

use disconcierge_discord_sim::Via;
use disconcierge_e2e::{Backend, TestApp, try_spawn_app};
use disconcierge_llm_sim::{Endpoint, Failure, FailureRule, Reply, Script, Timing};
use std::time::Duration;

/// What the person must see, and what the command must record.
enum Expect {
    /// The answer, complete, after `calls` generation requests.
    Answer { text: &'static str, calls: Calls },
    /// The configured error message; the command's error contains `error`, after `calls` requests.
    Failed { error: &'static str, calls: Calls },
}

/// How many generation requests a case makes, by provider.
type Calls = fn(&str) -> i64;

struct Case {
    name: &'static str,
    script: Script,
    /// `llm_first_token_timeout` and `llm_answer_timeout` for this case.
    timeouts: (Duration, Duration),
    expect: Expect,
}

const DEFAULT_TIMEOUTS: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(20));

fn cases() -> Vec<Case> {
    let reply = |text: &'static str| Script::new().default_reply(Reply::text(text));
    vec![
        Case {
            name: "429 with Retry-After, then an answer",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("Recovered after a pause.").fail_next(1, Failure::rate_limited(1)),
            expect: Expect::Answer {
                text: "Recovered after a pause.",
                calls: |_| 2,
            },
        },
        Case {
            name: "a stream dropped once, then an answer",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("Complete despite a dropped stream.").fail_next(1, Failure::DropAfter(2)),
            expect: Expect::Answer {
                text: "Complete despite a dropped stream.",
                calls: |_| 2,
            },
        },
        Case {
            name: "HTTP 500 every time",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("never seen").failure(FailureRule::always(Failure::server_error())),
            expect: Expect::Failed {
                error: "HTTP 500",
                calls: |_| 3,
            },
        },
        Case {
            name: "streams that always break off",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("never seen at all").failure(FailureRule::always(Failure::DropAfter(1))),
            expect: Expect::Failed {
                error: "the answer stream broke off",
                calls: |_| 3,
            },
        },
        Case {
            name: "malformed stream events",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("never seen either")
                .failure(FailureRule::always(Failure::MalformedAfter(1))),
            expect: Expect::Failed {
                error: "could not read",
                calls: |_| 3,
            },
        },
        Case {
            name: "the provider's own in-band error",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("not this").failure(FailureRule::always(Failure::ErrorAfter(
                1,
                "The model is overloaded".into(),
            ))),
            expect: Expect::Failed {
                error: "The model is overloaded",
                // OpenAI's in-band errors carry a code, and `server_error` is worth retrying; Chat
                // Completions and Ollama servers give only a message, which is taken as final.
                calls: |provider| if provider == "openai" { 3 } else { 1 },
            },
        },
        Case {
            name: "credentials refused (not retried)",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("not this either").failure(FailureRule::always(Failure::status(
                401,
                "Incorrect API key provided",
            ))),
            expect: Expect::Failed {
                error: "refused the credentials",
                calls: |_| 1,
            },
        },
        Case {
            name: "no first token in time",
            timeouts: DEFAULT_TIMEOUTS,
            script: reply("nothing").failure(FailureRule::always(Failure::Hang)),
            expect: Expect::Failed {
                error: "no answer began within 1s",
                calls: |_| 3,
            },
        },
        Case {
            name: "an answer that never finishes",
            timeouts: (Duration::from_secs(1), Duration::from_secs(1)),
            script: reply("one two three four five six seven eight nine ten eleven twelve")
                .timing(Timing::new(Duration::ZERO, Duration::from_millis(400))),
            expect: Expect::Failed {
                error: "the answer did not finish within 1s",
                calls: |_| 1,
            },
        },
    ]
}

disconcierge_e2e::both!(each_llm_failure_ends_in_an_answer_or_the_configured_message);
async fn each_llm_failure_ends_in_an_answer_or_the_configured_message(backend: Backend) {
    for provider in ["openai", "openai-chat", "ollama"] {
        let env = [
            ("DC_LLM_PROVIDER", provider),
            ("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true"),
        ];
        let Some(app) = try_spawn_app(backend, &env).await else {
            return;
        };
        app.discord.gateway().wait_ready(1).await;
        run_cases(&app, provider).await;
        app.discord.assert_no_violations();
        app.stop().await;
    }
}

async fn run_cases(app: &TestApp, provider: &str) {
    let cases = cases();
    let mut guild = app.discord.guild(&format!("Guild for {provider}"));
    for i in 0..cases.len() {
        guild = guild.member(&format!("user{i}"));
    }
    let guild = guild.text_channel("general").create();
    let error_message = app.runtime.current().config.discord_error_message.clone();
    let generation = match provider {
        "openai" => Endpoint::Responses,
        "openai-chat" => Endpoint::ChatCompletions,
        _ => Endpoint::OllamaChat,
    };
    for (i, case) in cases.into_iter().enumerate() {
        let label = format!("{provider}: {}", case.name);
        let started = std::time::Instant::now();
        let (first_token, total) = case.timeouts;
        app.configure(|c| {
            c.llm_first_token_timeout = first_token;
            c.llm_answer_timeout = total;
        })
        .await;
        app.llm.script(case.script);
        app.llm.clear_requests();
        let user = guild.user(&format!("user{i}"));
        let interaction = app
            .discord
            .user(user)
            .run_slash_command(
                guild.channel("general"),
                "chat",
                [("prompt", "What time is it?")],
                // Every other case over the webhook: both transports end in the same messages.
                if i % 2 == 0 {
                    Via::Gateway
                } else {
                    disconcierge_e2e::desk::webhook(app)
                },
            )
            .await;
        interaction.wait_ack().await;
        app.settle(user.get()).await;
        let command = app
            .store
            .chat_command_by_interaction(interaction.id().get())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{label}: the command was recorded"));
        let shown = interaction.original().expect("an answer").content;
        let calls = app.llm.requests_to(generation);
        match case.expect {
            Expect::Answer { text, calls: n } => {
                assert!(
                    shown.starts_with(&format!("{text}\n")),
                    "{label}: the complete answer, once, then the usage line; got {shown:?}"
                );
                assert_eq!(
                    calls.len() as i64,
                    n(provider),
                    "{label}: generation requests"
                );
                assert_eq!(command.response.as_deref(), Some(text), "{label}");
            }
            Expect::Failed { error, calls: n } => {
                assert_eq!(
                    shown, error_message,
                    "{label}: the person sees the configured message, nothing raw"
                );
                let recorded = command.error.clone().unwrap_or_default();
                assert!(
                    recorded.contains(error),
                    "{label}: the command records why ({recorded:?} should contain {error:?})"
                );
                assert_eq!(
                    calls.len() as i64,
                    n(provider),
                    "{label}: generation requests"
                );
                assert!(!command.usage_counted, "{label}: a failure costs nothing");
            }
        }
        if case.name.starts_with("429") {
            let gap = calls[1].since_start - calls[0].since_start;
            assert!(
                gap >= Duration::from_secs(1),
                "{label}: Retry-After: 1 was respected (retried after {gap:?})"
            );
        }
        // Every generation attempt is in the call log of this command, failed ones with their error.
        let logged = wait_for_logs(app, command.id, calls.len() as i64).await;
        assert_eq!(logged, calls.len() as i64, "{label}: every call logged");
        eprintln!("{label}: {:?}", started.elapsed());
    }
}

/// The call log is written in the background; waits until `n` generation calls of `command` are there.
async fn wait_for_logs(app: &TestApp, command: i64, n: i64) -> i64 {
    let sql = format!(
        "SELECT COUNT(*) FROM llm_call_logs WHERE chat_command_id = {command} \
         AND operation <> 'conversations.create'"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let count = app.db().scalar_i64(&sql).await;
        if count >= n || tokio::time::Instant::now() > deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
