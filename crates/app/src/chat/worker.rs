//! The workers: claim a queued command with a lease, ask the model, stream the answer into the deferred
//! response, store it, deliver it split into messages with the usage line and feedback buttons.

use super::allowance::allowance_at;
use super::progress::show_progress;
use super::{Chat, HISTORY_EXCHANGES};
use chrono::Utc;
use disconcierge_core::limits::Allowance;
use disconcierge_core::model::{
    ChatCommand, ChatCommandOutcome, ChatCommandState, ChatCommandStep,
};
use disconcierge_core::split::{DISCORD_SAFE_LIMIT, split_message};
use disconcierge_llm::{LlmRequest, RetryPolicy, Role, StreamEvent, Turn};
use disconcierge_store::ChatContext;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

impl Chat {
    /// Answers queued commands until cancelled.
    pub async fn run_worker(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            // Register for a wake-up before looking, so a command queued in between is not missed.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Acknowledgements first (see `AcksInProgress`).
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.acks.quiet() => {}
            }
            let paused = self.runtime.current().config.paused;
            // Paused, only priority users' commands are answered; the others wait in the queue.
            let claimed = if paused {
                self.store
                    .claim_next_priority_chat_command(
                        &self.instance_id,
                        self.queue.lease,
                        Utc::now(),
                    )
                    .await
            } else {
                self.store
                    .claim_next_chat_command(&self.instance_id, self.queue.lease, Utc::now())
                    .await
            };
            let idle = match claimed {
                // A pause that landed between reading the configuration and claiming holds this
                // command too: it goes back to the queue untouched.
                Ok(Some(command)) if !command.priority && self.runtime.current().config.paused => {
                    if let Err(e) = self
                        .store
                        .requeue_chat_command(command.id, &self.instance_id, None)
                        .await
                    {
                        tracing::warn!(error = %e, command = command.id, "could not put a command back in the queue");
                    }
                    self.queue.sleep_paused
                }
                Ok(Some(command)) => {
                    let hinted = self.queued_here.take();
                    // While answering, this worker must not hold a wake-up registration: a wake-up
                    // meant for an idle worker would be spent on it and the next command would wait
                    // for this answer (or the idle poll). Dropping the registration passes on a
                    // wake-up it already received.
                    notified.set(self.wake.notified());
                    self.answer(command).await;
                    // A command nobody announced here (left by a previous run, queued by another
                    // instance) may have others behind it: look again at once, as after an
                    // announcement still pending.
                    if !hinted || self.queued_here.any() {
                        continue;
                    }
                    // Nothing queued here since: wait for a wake-up (or the idle poll) instead of
                    // asking the database in vain.
                    self.queue.sleep_empty
                }
                Ok(None) if paused => self.queue.sleep_paused,
                Ok(None) => {
                    let _ = self.queued_here.take();
                    self.queue.sleep_empty
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not claim a command");
                    self.queue.sleep_empty
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = &mut notified => {}
                _ = tokio::time::sleep(idle) => {}
            }
        }
    }

    /// Answers one claimed command, renewing the claim while it works so that no other worker takes it
    /// over, and so that after a crash it is taken over within one lease.
    async fn answer(&self, command: ChatCommand) {
        let renewal = {
            let (store, owner, id, lease) = (
                self.store.clone(),
                self.instance_id.clone(),
                command.id,
                self.queue.lease,
            );
            tokio::spawn(async move {
                let every = lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    let until = Utc::now() + chrono::TimeDelta::from_std(lease).unwrap_or_default();
                    match store.renew_lease(id, &owner, until).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(
                                command = id,
                                "lost the claim on a command; another worker has it"
                            );
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(command = id, error = %e, "could not renew a claim")
                        }
                    }
                }
            })
        };
        self.answer_claimed(command).await;
        renewal.abort();
    }

    async fn answer_claimed(&self, command: ChatCommand) {
        let current = self.runtime.current();
        let config = &current.config;
        // Claimed again after its worker died, too often: a command that keeps killing workers (or an
        // instance that keeps crashing) must end, with the configured message to its user.
        if command.attempts > config.chat_command_max_attempts {
            let error = format!(
                "gave up after {} attempts (chat_command_max_attempts = {})",
                command.attempts - 1,
                config.chat_command_max_attempts
            );
            self.fail(&command, error, None).await;
            return;
        }
        let token = command.interaction_token.clone();
        // Everything about the author in one read: their record, their counted commands in the limit
        // window (for the usage line under the answer) and, unless the provider keeps the conversation,
        // its history.
        let history = (!self.llm.server_side_conversations()).then_some(HISTORY_EXCHANGES);
        let context = self
            .store
            .chat_context(
                command.user_id,
                Allowance::window_start(Utc::now()),
                command.id,
                history,
            )
            .await;
        let (user, counted, exchanges) = match context {
            Ok(ChatContext {
                user: Some(user),
                counted,
                exchanges,
            }) => (user, counted, exchanges),
            Ok(_) => {
                self.fail(&command, "the user record is missing".into(), None)
                    .await;
                return;
            }
            Err(e) => {
                let error = format!("could not read the user's record and history: {e}");
                self.fail(&command, error, None).await;
                return;
            }
        };
        // Answered before its worker stopped, in the middle of delivering it: the stored answer is
        // delivered, not asked for again (the same text, and no tokens paid twice).
        if command.step == ChatCommandStep::Finalizing
            && let Some(text) = command.response.clone().filter(|t| !t.trim().is_empty())
        {
            tracing::info!(
                command = command.id,
                "delivering an answer stored before a stop"
            );
            self.complete(&command, &user, &counted, text, command.usage)
                .await;
            return;
        }
        let mut request = LlmRequest {
            model: user
                .llm_model
                .clone()
                .unwrap_or_else(|| crate::llm::model(&self.llm_settings, config)),
            instructions: user
                .llm_instructions
                .clone()
                .unwrap_or_else(|| config.llm_instructions.clone()),
            temperature: user.llm_temperature.or(config.llm_temperature),
            max_output_tokens: config.llm_max_output_tokens,
            prompt: command.prompt.clone(),
            chat_command_id: Some(command.id),
            ..Default::default()
        };
        if history.is_some() {
            request.history = history_turns(exchanges, &request, config.llm_max_context_tokens);
        }
        if self.llm.server_side_conversations() {
            request.conversation_id = match user.conversation_id.clone() {
                Some(id) => Some(id),
                None => match self.llm.create_conversation(Some(command.id)).await {
                    Ok(id) => {
                        if let Err(e) = self
                            .store
                            .set_user_conversation(user.discord_id, id.clone())
                            .await
                        {
                            tracing::warn!(error = %e, "could not store the new conversation");
                        }
                        id
                    }
                    Err(e) => {
                        self.fail(&command, e.to_string(), None).await;
                        return;
                    }
                },
            };
        }
        // Text as it streams, shown by an editor task at most once per EDIT_INTERVAL.
        let (text_tx, text_rx) = watch::channel(String::new());
        let editor = {
            let (discord, token) = (self.discord.clone(), token.clone());
            tokio::spawn(show_progress(text_rx, move |preview| {
                let (discord, token) = (discord.clone(), token.clone());
                async move {
                    if let Err(e) = discord.edit_preview(&token, &preview).await {
                        tracing::warn!(error = %e, "could not show the answer in progress");
                    }
                }
            }))
        };
        let policy = RetryPolicy {
            first_token_timeout: config.llm_first_token_timeout,
            total_timeout: config.llm_answer_timeout,
            ..RetryPolicy::default()
        };
        self.rate.acquire(config.llm_requests_per_second).await;
        let result =
            disconcierge_llm::generate(self.llm.as_ref(), &request, &policy, &mut |event| {
                match event {
                    StreamEvent::Delta(d) => text_tx.send_modify(|t| t.push_str(d)),
                    StreamEvent::Restart { .. } => text_tx.send_modify(String::clear),
                }
            })
            .await;
        drop(text_tx);
        let _ = editor.await;

        match result {
            Ok(completion) if !completion.text.trim().is_empty() => {
                if self
                    .store_answer(&command, &completion.text, completion.usage)
                    .await
                {
                    self.complete(&command, &user, &counted, completion.text, completion.usage)
                        .await;
                }
            }
            Ok(completion) => {
                self.fail(
                    &command,
                    "the model returned an empty answer".into(),
                    completion.usage,
                )
                .await
            }
            Err(e) => self.fail(&command, e.to_string(), None).await,
        }
    }

    /// Stores the model's answer before it is delivered, so that a stop while it is being delivered does
    /// not cost a second request to the model (see [`ChatCommandStep::Finalizing`]). `false` when this
    /// worker lost its claim: another one answers, and two answers must not reach the user.
    async fn store_answer(
        &self,
        command: &ChatCommand,
        text: &str,
        usage: Option<disconcierge_core::model::TokenUsage>,
    ) -> bool {
        match self
            .store
            .record_answer(command.id, &self.instance_id, text, usage)
            .await
        {
            Ok(true) => true,
            Ok(false) => {
                tracing::warn!(
                    command = command.id,
                    "lost the claim on a command before delivering its answer; another worker has it"
                );
                false
            }
            // The answer is delivered all the same; only a stop in the middle would cost a second
            // request.
            Err(e) => {
                tracing::warn!(error = %e, command = command.id, "could not store an answer before delivering it");
                true
            }
        }
    }

    /// Delivers a complete answer with its usage line, then records the command as completed.
    async fn complete(
        &self,
        command: &ChatCommand,
        user: &disconcierge_core::model::User,
        counted: &[chrono::DateTime<Utc>],
        text: String,
        usage: Option<disconcierge_core::model::TokenUsage>,
    ) {
        let current = self.runtime.current();
        let counts = usage.is_some_and(|u| u.total_tokens > 0);
        let pending = counts.then_some(command.created_at);
        let usage_line = allowance_at(user, &current.config, counted, Utc::now(), pending)
            .usage_line(disconcierge_discord::markup::relative_time);
        let message_id = self.deliver(command, &text, &usage_line).await;
        self.finish(
            command,
            ChatCommandOutcome {
                state: ChatCommandState::Completed,
                response: Some(text),
                error: None,
                usage,
                discord_message_id: message_id,
            },
        )
        .await;
    }

    /// Records how a command ended (and releases its lease).
    async fn finish(&self, command: &ChatCommand, outcome: ChatCommandOutcome) {
        if let Err(e) = self
            .store
            .finish_chat_command(command.id, &self.instance_id, &outcome)
            .await
        {
            tracing::error!(error = %e, command = command.id, state = %outcome.state, "could not record how a command ended");
        }
    }

    /// Writes the final answer: the first part into the original response, the rest as follow-ups; the
    /// usage line and the feedback buttons (unless turned off) go under the last part.
    async fn deliver(&self, command: &ChatCommand, text: &str, usage_line: &str) -> Option<u64> {
        let mut pieces = split_message(text, DISCORD_SAFE_LIMIT - usage_line.chars().count() - 1);
        if let Some(last) = pieces.last_mut().filter(|_| !usage_line.is_empty()) {
            last.push('\n');
            last.push_str(usage_line);
        }
        let no_votes = disconcierge_discord::feedback::Counts::new();
        let buttons = self
            .runtime
            .current()
            .config
            .feedback_enabled
            .then_some((command.id, &no_votes));
        let token = &command.interaction_token;
        let last = pieces.len() - 1;
        let first = match self
            .discord
            .edit_original(token, &pieces[0], buttons.filter(|_| last == 0))
            .await
        {
            Ok(id) => Some(id),
            Err(e) => {
                tracing::error!(error = %e, command = command.id, "could not write the answer");
                None
            }
        };
        for (i, piece) in pieces.iter().enumerate().skip(1) {
            let feedback = buttons.filter(|_| i == last);
            if let Err(e) = self
                .discord
                .followup(token, piece, command.private, feedback)
                .await
            {
                tracing::error!(error = %e, command = command.id, "could not send the rest of the answer");
                break;
            }
        }
        first
    }

    async fn fail(
        &self,
        command: &ChatCommand,
        error: String,
        usage: Option<disconcierge_core::model::TokenUsage>,
    ) {
        tracing::warn!(command = command.id, %error, "chat command failed");
        self.notifier.notify(crate::notify::Event::Failure {
            command_id: command.id,
            user_id: command.user_id,
            error: error.clone(),
        });
        let current = self.runtime.current();
        let config = &current.config;
        let message_id = self
            .discord
            .edit_original(
                &command.interaction_token,
                &config.discord_error_message,
                None,
            )
            .await
            .ok();
        self.finish(
            command,
            ChatCommandOutcome {
                state: ChatCommandState::Failed,
                response: None,
                error: Some(error),
                usage,
                discord_message_id: message_id,
            },
        )
        .await;
    }
}

/// The conversation so far, for providers whose history disconcierge keeps: the user's answered
/// exchanges since their last `/clear` (or since an admin cleared every conversation, if later), as the
/// store gives them (newest first), turned oldest first and trimmed to the context budget in whole
/// exchanges.
fn history_turns(exchanges: Vec<(String, String)>, request: &LlmRequest, budget: u32) -> Vec<Turn> {
    use disconcierge_core::history::{estimate_tokens, first_kept};
    let turns: Vec<Turn> = exchanges
        .into_iter()
        .rev()
        .flat_map(|(prompt, answer)| {
            [
                Turn {
                    role: Role::User,
                    content: prompt,
                },
                Turn {
                    role: Role::Assistant,
                    content: answer,
                },
            ]
        })
        .collect();
    let fixed = estimate_tokens(&request.instructions) + estimate_tokens(&request.prompt);
    let keep = first_kept(&turns, fixed, budget);
    turns[keep..].to_vec()
}
