//! The admin playground's answers: the same retrieval, plan and request as a ticket (or as `/chat`
//! without a guild), streamed to the admin interface instead of Discord.
//!
//! It needs no Discord connection: only the database, the LLM backend and the runtime configuration, so
//! an admin can try the bot before it is connected. Requests go through the same global rate limit as the
//! bot's own, and are logged like every LLM call.

use crate::desk::answers::{self, Retrieved};
use crate::rate::LlmRate;
use crate::runtime_config::RuntimeConfigService;
use crate::settings::LlmSettings;
use disconcierge_core::RuntimeConfig;
use disconcierge_core::desk::model::EntryKind;
use disconcierge_core::desk::retrieval::{Plan, Scored};
use disconcierge_llm::{LlmBackend, LlmRequest, RetryPolicy, StreamEvent};
use disconcierge_store::Store;
use disconcierge_web::playground::{
    PlaygroundAsk, PlaygroundEvent, PlaygroundMatch, PlaygroundPlan, PlaygroundRun,
};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

/// Matches shown per index (the desk reads 20 candidates from each).
const SHOWN_MATCHES: usize = 10;

/// What answering needs.
#[derive(Clone)]
pub(crate) struct Playground {
    pub store: Arc<dyn Store>,
    pub llm: Arc<dyn LlmBackend>,
    pub llm_settings: LlmSettings,
    pub runtime: RuntimeConfigService,
    /// The playground's own budget (`playground_llm_requests_per_second`): trying questions never
    /// holds back members' answers.
    pub rate: Arc<LlmRate>,
    /// `DC_DESK_TRAINING`: trained answers may be used (each server may still turn them off).
    pub training: bool,
    /// `DC_DESK_AI_REPLIES`, for the plan's warnings.
    pub ai_replies: bool,
}

impl Playground {
    /// Decides like the bot would and starts the answer in a task; the events end with `Done` or `Failed`.
    pub async fn run(&self, ask: PlaygroundAsk) -> Result<PlaygroundRun, String> {
        let config = self.runtime.current().config.clone();
        let (mut plan, next) = match ask.guild_id {
            Some(guild_id) => self.desk_plan(guild_id, &ask, &config).await?,
            None => self.chat_plan(&ask, &config),
        };
        let (tx, rx) = mpsc::channel(256);
        match next {
            Next::Send(text) => {
                let _ = tx.try_send(PlaygroundEvent::Done {
                    text,
                    elapsed_ms: 0,
                    prompt_tokens: None,
                    completion_tokens: None,
                });
            }
            Next::Ask { request, fallback } => {
                plan.request = Some(self.llm.request_json(&request));
                tokio::spawn(self.clone().answer(request, fallback, config, tx));
            }
        }
        Ok(PlaygroundRun { plan, events: rx })
    }

    /// In a guild: its trained answers and knowledge bases, as for a message in a ticket.
    async fn desk_plan(
        &self,
        guild_id: u64,
        ask: &PlaygroundAsk,
        config: &RuntimeConfig,
    ) -> Result<(PlaygroundPlan, Next), String> {
        let embedding_model = self.llm_settings.embedding_model.as_deref();
        let switches = crate::desk::Switches::of(
            self.store.as_ref(),
            guild_id,
            self.ai_replies,
            self.training,
        )
        .await
        .map_err(|e| format!("could not read the server's settings: {e}"))?;
        let retrieved = answers::retrieve(
            self.store.as_ref(),
            self.llm.as_ref(),
            embedding_model,
            guild_id,
            &ask.question,
            config,
            switches.training,
        )
        .await
        .map_err(|e| format!("retrieval failed: {e}"))?;
        let Retrieved {
            trained,
            knowledge,
            plan,
        } = retrieved;
        let used: Vec<(EntryKind, i64)> = match &plan {
            Plan::Trained(best) => vec![(best.kind, best.id)],
            Plan::Llm { context, .. } => context.iter().map(|s| (s.kind, s.id)).collect(),
        };
        let matches = trained
            .iter()
            .take(SHOWN_MATCHES)
            .chain(knowledge.iter().take(SHOWN_MATCHES))
            .map(|s| shown(s, used.contains(&(s.kind, s.id))))
            .collect();
        let warnings = self.warnings(guild_id, switches).await?;
        let view = |kind: &'static str, entry_id: Option<i64>, decision: String| PlaygroundPlan {
            kind,
            entry_id,
            decision,
            warnings,
            matches,
            provider: self.llm.provider().to_string(),
            request: None,
        };
        match plan {
            Plan::Trained(best) => Ok((
                view(
                    "trained",
                    Some(best.id),
                    format!(
                        "Trained answer #{} is sent as is (confidence {:.2} ≥ the threshold {:.2}); the model is \
                     not asked.",
                        best.id, best.confidence, config.desk_trained_answer_threshold
                    ),
                ),
                Next::Send(answers::with_note(&best.body, &config.desk_trained_note)),
            )),
            Plan::Llm { context, fallback } => {
                let settings = self
                    .store
                    .guild_settings(guild_id)
                    .await
                    .map_err(|e| format!("could not read the server's settings: {e}"))?;
                let ticket = answers::trial_ticket(guild_id, ask.member_name.clone());
                let request = answers::ticket_request(
                    self.store.as_ref(),
                    &self.llm_settings,
                    &ticket,
                    settings.as_ref().and_then(|s| s.instructions.as_deref()),
                    None,
                    &ask.question,
                    &context,
                    config,
                )
                .await
                .map_err(|e| format!("could not prepare the request: {e}"))?;
                let decision = match context.len() {
                    0 => {
                        "The model answers without reference entries (nothing matched well enough)."
                            .to_string()
                    }
                    1 => "The model answers with 1 reference entry.".to_string(),
                    n => format!("The model answers with {n} reference entries."),
                };
                let fallback = match fallback {
                    Some(best) => answers::with_note(&best.body, &config.desk_fallback_note),
                    None => config.desk_staff_follow_up_message.clone(),
                };
                Ok((view("llm", None, decision), Next::Ask { request, fallback }))
            }
        }
    }

    /// What may surprise the admin about a guild's answer: no desk data at all (a mistyped id?), training
    /// or AI replies turned off there.
    async fn warnings(
        &self,
        guild_id: u64,
        switches: crate::desk::Switches,
    ) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        let known = self
            .store
            .desk_guilds()
            .await
            .map_err(|e| format!("could not read which servers use the desk: {e}"))?;
        if !known.contains(&guild_id) {
            out.push(format!(
                "Server {guild_id} has no support-desk data (no /setup, tickets, trained answers or \
                 knowledge bases): is the id right?"
            ));
        }
        if !switches.training {
            out.push(
                "Training is turned off for this server (or every server): trained answers are not used."
                    .into(),
            );
        }
        if !switches.ai_replies {
            out.push(
                "AI replies are turned off for this server (or every server): members' ticket messages \
                 get no answer; this shows what the bot would say."
                    .into(),
            );
        }
        Ok(out)
    }

    /// Without a guild: as `/chat` would ask, without the asker's conversation.
    fn chat_plan(&self, ask: &PlaygroundAsk, config: &RuntimeConfig) -> (PlaygroundPlan, Next) {
        let request = LlmRequest {
            model: crate::llm::model(&self.llm_settings, config),
            instructions: config.llm_instructions.clone(),
            temperature: config.llm_temperature,
            max_output_tokens: config.llm_max_output_tokens,
            prompt: ask.question.clone(),
            ..Default::default()
        };
        (
            PlaygroundPlan {
                kind: "chat",
                entry_id: None,
                warnings: Vec::new(),
                decision:
                    "Asked as /chat would ask it, with the configured instructions and without \
                           a conversation history."
                        .into(),
                matches: Vec::new(),
                provider: self.llm.provider().to_string(),
                request: None,
            },
            Next::Ask {
                request,
                fallback: config.discord_error_message.clone(),
            },
        )
    }

    async fn answer(
        self,
        request: LlmRequest,
        fallback: String,
        config: RuntimeConfig,
        tx: mpsc::Sender<PlaygroundEvent>,
    ) {
        let policy = RetryPolicy {
            first_token_timeout: config.llm_first_token_timeout,
            total_timeout: config.llm_answer_timeout,
            ..RetryPolicy::default()
        };
        self.rate
            .acquire(config.playground_llm_requests_per_second)
            .await;
        let started = Instant::now();
        let events = tx.clone();
        let result =
            disconcierge_llm::generate(self.llm.as_ref(), &request, &policy, &mut |event| {
                // A slow reader (the admin's browser) must not hold up the model: pieces it cannot take at
                // once are dropped from the live view; `Done` carries the complete text anyway.
                let _ = events.try_send(match event {
                    StreamEvent::Delta(text) => PlaygroundEvent::Delta {
                        text: text.to_string(),
                    },
                    StreamEvent::Restart { .. } => PlaygroundEvent::Restart,
                });
            })
            .await;
        let last = match result {
            Ok(completion) if !completion.text.trim().is_empty() => PlaygroundEvent::Done {
                text: completion.text,
                elapsed_ms: started.elapsed().as_millis() as u64,
                prompt_tokens: completion.usage.map(|u| u.prompt_tokens),
                completion_tokens: completion.usage.map(|u| u.completion_tokens),
            },
            Ok(_) => PlaygroundEvent::Failed {
                message: "the model returned an empty answer".into(),
                fallback: Some(fallback),
            },
            Err(e) => PlaygroundEvent::Failed {
                message: e.to_string(),
                fallback: Some(fallback),
            },
        };
        let _ = tx.send(last).await;
    }
}

/// What happens after the plan.
enum Next {
    /// This text is the answer (a trained answer): the model is not asked.
    Send(String),
    /// Ask the model; `fallback` is what a member would get if it fails.
    Ask {
        request: LlmRequest,
        fallback: String,
    },
}

fn shown(s: &Scored, used: bool) -> PlaygroundMatch {
    PlaygroundMatch {
        kind: match s.kind {
            EntryKind::Training => "trained",
            EntryKind::Knowledge => "knowledge",
        },
        id: s.id,
        title: s.title.clone(),
        source: s.source.clone(),
        confidence: s.confidence,
        lexical: s.lexical,
        semantic: s.semantic,
        used,
    }
}
