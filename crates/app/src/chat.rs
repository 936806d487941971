//! The chat assistant: `/chat` and `/private` answered by the LLM, through the database queue.
//!
//! An interaction is recorded (state `received`) *before* it is acknowledged, so nothing acknowledged is
//! ever lost; admission ([`disconcierge_core::admission`]) decides between a deferred answer and an
//! explanation — both in [`crate::admit`], several commands per batch; once the acknowledgement is
//! out, the command becomes `queued` and a worker is woken.
//! Workers claim commands from the database with a lease — the same code for one instance or many — and
//! answer by editing the deferred response as the text streams in (at most about once a second, Discord's
//! comfortable edit rate), then write the final text, split into follow-ups when it is long, with the
//! user's usage line under it.

use crate::runtime_config::RuntimeConfigService;
use crate::settings::{LlmSettings, QueueSettings};
use chrono::Utc;
use disconcierge_core::limits::Allowance;
use disconcierge_core::model::{
    ChatCommand, ChatCommandOutcome, ChatCommandState, ChatCommandStep, DiscordMessage,
    FeedbackKind, UserFeedback,
};
use disconcierge_core::split::{DISCORD_SAFE_LIMIT, split_message};
use disconcierge_discord::Discord;
use disconcierge_discord::router::{Ack, Bot, Incoming, Invocation, SeenMessage};
use disconcierge_llm::{LlmBackend, LlmRequest, RetryPolicy, Role, StreamEvent, Turn};
use disconcierge_store::{ChatContext, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

/// How often the answer being generated is shown (Discord allows about 5 edits per 5 s per message).
pub const EDIT_INTERVAL: Duration = Duration::from_millis(1000);
/// How long after its first words an answer is first shown in progress. An answer complete by then is
/// shown once, complete: a short answer costs one edit instead of two (Discord's rate limits count them)
/// and does not flash a partial text just before the whole.
pub const FIRST_PREVIEW_AFTER: Duration = Duration::from_millis(300);
/// At most this many earlier exchanges are read for a conversation's history (before trimming to the
/// context budget).
const HISTORY_EXCHANGES: u32 = 50;

pub struct Chat {
    pub store: Arc<dyn Store>,
    pub runtime: RuntimeConfigService,
    pub llm: Arc<dyn LlmBackend>,
    pub llm_settings: LlmSettings,
    pub queue: QueueSettings,
    pub discord: Discord,
    pub instance_id: String,
    pub wake: Arc<Notify>,
    /// Commands this process queued that, as far as it knows, no worker has claimed yet.
    pub queued_here: Arc<QueuedHint>,
    /// Requests per second to the LLM, from the runtime configuration.
    pub rate: Arc<crate::rate::LlmRate>,
    /// Records and admits chat commands, several per batch (see [`crate::admit`]).
    pub admissions: crate::admit::Admissions,
    /// Queues acknowledged commands, several per statement.
    pub queuer: crate::admit::Queuer,
    /// Feedback and failures, to the notification channel.
    pub notifier: crate::notify::Notifier,
    /// Every interaction received, for the admin interface.
    pub interaction_log: crate::interaction_log::InteractionLogger,
    /// Interactions being acknowledged right now: workers start no new answer while there are any, and
    /// queueing and the interaction log wait for a pause in them (shared with those tasks).
    pub acks: Arc<AcksInProgress>,
    /// The support desk (tickets, training, knowledge bases), which shares the LLM and its rate.
    pub desk: Arc<crate::desk::Desk>,
}

/// Acknowledgements before answers, and none later than Discord allows.
///
/// Discord forgets an interaction not acknowledged within 3 s, while a queued command can wait (up to
/// `DC_QUEUE_MAX_AGE`, its user seeing "thinking…"). Both share the CPU and the database (SQLite has one
/// writer), so under a burst the workers hold back: they finish the answer they are writing but claim no
/// new command until acknowledgements have been quiet for [`ACK_QUIET`] — none in progress, none ended
/// that recently — or for at most [`MAX_HOLD_BACK`], so that answers keep coming during a long burst
/// (at least forty commands a second are claimed; the LLM's own rate, one request a second by default,
/// binds long before). Unloaded, acknowledgements are quiet almost all the time and answers
/// start at once.
///
/// Past what the machine can record in time, a new `/chat` is refused at once with the queue-full message
/// instead of joining a backlog it would leave too late (the user would see "the application did not
/// respond" and the command would be lost). A newcomer's wait is predicted from the backlog and the rate
/// at which acknowledgements complete (Little's law: wait = backlog / rate); the age of the oldest one in
/// progress backs that up when nothing completes at all.
#[derive(Default)]
pub struct AcksInProgress {
    backlog: std::sync::Mutex<Backlog>,
    none_left: Notify,
    /// Commands refused because acknowledgements were falling behind.
    shed: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Backlog {
    /// Start of each acknowledgement in progress, by a sequence number (so the first is the oldest).
    started: std::collections::BTreeMap<u64, tokio::time::Instant>,
    next: u64,
    /// Completions counted since `window_start`, and the rate (per second) of the last full window.
    window_start: Option<tokio::time::Instant>,
    completed: u32,
    rate: f64,
    /// When the last acknowledgement ended.
    last_ended: Option<tokio::time::Instant>,
    /// When a worker last stopped holding back without waiting for quiet.
    last_gave_up: Option<tokio::time::Instant>,
}

/// Workers claim a new command once acknowledgements have been quiet this long…
pub const ACK_QUIET: Duration = Duration::from_millis(2);
/// … or once they have held back this long …
pub const MAX_HOLD_BACK: Duration = Duration::from_millis(100);
/// … one worker at a time, at most one every this long (see [`AcksInProgress::quiet`]).
pub const HELD_BACK_APART: Duration = Duration::from_millis(25);

/// New commands are refused when their acknowledgement is predicted to take this long or more.
pub const WAIT_BUDGET: Duration = Duration::from_secs(1);
/// ... or when the oldest acknowledgement in progress is this old (nothing is completing).
pub const STALL_BUDGET: Duration = Duration::from_secs(2);
/// A backlog this small is never a reason to refuse (the rate of a few is noise).
const MIN_BACKLOG: usize = 32;
/// How often the completion rate is measured.
const RATE_WINDOW: Duration = Duration::from_millis(250);

impl Backlog {
    fn roll(&mut self, now: tokio::time::Instant) {
        let start = *self.window_start.get_or_insert(now);
        let elapsed = now - start;
        if elapsed >= RATE_WINDOW {
            self.rate = f64::from(self.completed) / elapsed.as_secs_f64();
            self.completed = 0;
            self.window_start = Some(now);
        }
    }
}

impl AcksInProgress {
    /// Counts one acknowledgement until the guard is dropped.
    fn start(&self) -> AckGuard<'_> {
        let mut backlog = self.backlog.lock().expect("acks lock");
        let seq = backlog.next;
        backlog.next += 1;
        let now = tokio::time::Instant::now();
        backlog.started.insert(seq, now);
        backlog.roll(now);
        AckGuard(self, seq)
    }

    /// Whether a new acknowledgement would come too late (see the type's documentation).
    fn behind(&self) -> bool {
        let mut backlog = self.backlog.lock().expect("acks lock");
        let now = tokio::time::Instant::now();
        backlog.roll(now);
        let Some((_, &oldest)) = backlog.started.first_key_value() else {
            return false;
        };
        if now - oldest >= STALL_BUDGET {
            return true;
        }
        let waiting = backlog.started.len();
        waiting >= MIN_BACKLOG
            && waiting as f64 >= backlog.rate.max(1.0) * WAIT_BUDGET.as_secs_f64()
    }

    /// Resolves once acknowledgements have been quiet for [`ACK_QUIET`], or after [`MAX_HOLD_BACK`].
    /// Workers that stop holding back go one at a time, [`HELD_BACK_APART`] apart: all at once they
    /// would take the database together every [`MAX_HOLD_BACK`], and the acknowledgements arriving then
    /// would wait for all of them.
    pub async fn quiet(&self) {
        self.wait_quiet(MAX_HOLD_BACK, true).await;
    }

    /// For the background writes that follow acknowledgements (queueing, the interaction log): waits
    /// until acknowledgements have been quiet for [`ACK_QUIET`], or for at most `hold_back` (no spacing
    /// between callers), then adds to `taken` whatever else `rx` has received meanwhile, up to `max`
    /// items, so that it is all written at once.
    pub async fn gather_after_pause<T>(
        &self,
        hold_back: Duration,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
        taken: &mut Vec<T>,
        max: usize,
    ) {
        self.wait_quiet(hold_back, false).await;
        while taken.len() < max
            && let Ok(item) = rx.try_recv()
        {
            taken.push(item);
        }
    }

    async fn wait_quiet(&self, hold_back: Duration, one_at_a_time: bool) {
        let mut give_up = tokio::time::Instant::now() + hold_back;
        loop {
            let notified = self.none_left.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let quiet_at = {
                let backlog = self.backlog.lock().expect("acks lock");
                if backlog.started.is_empty() {
                    match backlog.last_ended {
                        Some(ended) if ended.elapsed() < ACK_QUIET => Some(ended + ACK_QUIET),
                        _ => return,
                    }
                } else {
                    None
                }
            };
            match quiet_at {
                // None in progress, one ended just now: look again when it would be quiet (another
                // may have started by then).
                Some(at) => tokio::time::sleep_until(at.min(give_up)).await,
                None => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(give_up) => {}
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if now >= give_up && !one_at_a_time {
                return;
            }
            if now >= give_up {
                let mut backlog = self.backlog.lock().expect("acks lock");
                match backlog.last_gave_up {
                    Some(last) if now < last + HELD_BACK_APART => give_up = last + HELD_BACK_APART,
                    _ => {
                        backlog.last_gave_up = Some(now);
                        return;
                    }
                }
            }
        }
    }
}

struct AckGuard<'a>(&'a AcksInProgress, u64);

impl Drop for AckGuard<'_> {
    fn drop(&mut self) {
        let mut backlog = self.0.backlog.lock().expect("acks lock");
        backlog.started.remove(&self.1);
        backlog.completed += 1;
        let now = tokio::time::Instant::now();
        backlog.last_ended = Some(now);
        backlog.roll(now);
        if backlog.started.is_empty() {
            self.0.none_left.notify_waiters();
        }
    }
}

#[async_trait::async_trait]
impl Bot for Chat {
    async fn on_interaction(&self, incoming: Incoming) -> Ack {
        // A refusal is decided before counting: refusals are instant, and counting them would make the
        // completion rate look far better than the rate at which commands are recorded.
        let refuse = matches!(incoming, Incoming::Chat { .. }) && self.acks.behind();
        let _acknowledging = (!refuse).then(|| self.acks.start());
        match incoming {
            Incoming::Chat { invocation, .. } if refuse => {
                let total = self
                    .acks
                    .shed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                tracing::warn!(
                    interaction = invocation.interaction_id,
                    shed_so_far = total,
                    "refused a chat command: acknowledgements are falling behind (its own would take over {WAIT_BUDGET:?})"
                );
                let config = &self.runtime.current().config;
                message(&config.discord_queue_full_message)
            }
            Incoming::Chat {
                invocation,
                prompt,
                private,
            } => match self.admissions.admit(&invocation, prompt, private).await {
                Ok(ack) => ack,
                Err(e) => {
                    tracing::error!(error = %e, interaction = invocation.interaction_id, "could not record a chat command");
                    Ack::Message {
                        content: self.runtime.current().config.discord_error_message.clone(),
                        ephemeral: true,
                    }
                }
            },
            Incoming::Clear { invocation } => match self.clear(&invocation).await {
                Ok(content) => message(&content),
                Err(e) => {
                    tracing::error!(error = %e, "could not start a new conversation");
                    message(&self.runtime.current().config.discord_error_message)
                }
            },
            Incoming::FeedbackButton {
                invocation,
                command_id,
                kind,
            } => self.feedback(&invocation, command_id, kind, None).await,
            Incoming::FeedbackText {
                invocation,
                command_id,
                text,
            } => {
                self.feedback(&invocation, command_id, FeedbackKind::Other, Some(text))
                    .await
            }
            Incoming::Desk {
                invocation,
                member,
                request,
            } => self.desk.on_request(invocation, member, request).await,
            Incoming::Unsupported { what, .. } => {
                tracing::warn!(what, "unsupported interaction");
                Ack::Nothing
            }
        }
    }

    fn received(&self, log: disconcierge_core::model::InteractionLog) {
        self.interaction_log.record(log);
    }

    fn message(&self, message: SeenMessage) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let chat_command_id = match message.replied_to {
                Some(id) => store.chat_command_by_message(id).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not look up the answer a message replies to");
                    None
                }),
                None => None,
            };
            let record = DiscordMessage {
                message_id: message.message_id,
                channel_id: message.channel_id,
                guild_id: message.guild_id,
                user_id: Some(message.author.id),
                chat_command_id,
                content: message.content,
                payload: Some(serde_json::json!({
                    "noticed": message.noticed.as_str(),
                    "message": message.payload,
                })),
                created_at: Utc::now(),
            };
            if let Err(e) = store.insert_discord_message(&record).await {
                tracing::warn!(error = %e, message = record.message_id, "could not store a message about the bot");
            }
        });
    }

    fn guild_message(&self, message: disconcierge_discord::router::GuildMessage) {
        self.desk.guild_message(message);
    }

    async fn acknowledged(&self, interaction_id: u64) {
        self.queuer.acknowledged(interaction_id);
    }
}

impl Chat {
    /// A feedback button or the "Other" text: one vote per user per button (a repeat changes nothing),
    /// "Other" as often as the user likes; the answer's buttons then show the new counts.
    async fn feedback(
        &self,
        inv: &Invocation,
        command_id: i64,
        kind: FeedbackKind,
        text: Option<String>,
    ) -> Ack {
        let current = self.runtime.current();
        let config = &current.config;
        if !config.feedback_enabled {
            return message("Feedback is turned off right now. Thank you anyway!");
        }
        if kind == FeedbackKind::Other && text.is_none() {
            return Ack::FeedbackModal {
                command_id,
                texts: disconcierge_discord::feedback::ModalTexts {
                    title: config.feedback_modal_title.clone(),
                    label: config.feedback_modal_input_label.clone(),
                    placeholder: config.feedback_modal_placeholder.clone(),
                    min_length: u16::try_from(config.feedback_modal_min_length).unwrap_or(u16::MAX),
                    max_length: u16::try_from(config.feedback_modal_max_length).unwrap_or(u16::MAX),
                },
            };
        }
        if let Some(text) = &text {
            let len = text.chars().count() as u32;
            if len < config.feedback_modal_min_length || len > config.feedback_modal_max_length {
                return message(&format!(
                    "Your feedback must be {} to {} characters long; it was {len}. Please try again.",
                    config.feedback_modal_min_length, config.feedback_modal_max_length
                ));
            }
        }
        let result = async {
            let Some(command) = self.store.chat_command(command_id).await? else {
                return Ok(None);
            };
            self.store
                .upsert_user(
                    inv.user.id,
                    &inv.user.username,
                    inv.user.global_name.as_deref(),
                )
                .await?;
            let new = self
                .store
                .insert_user_feedback(&UserFeedback {
                    chat_command_id: command_id,
                    user_id: inv.user.id,
                    kind,
                    detail: text.clone(),
                    created_at: Utc::now(),
                })
                .await?;
            if new {
                self.notifier.notify(crate::notify::Event::Feedback {
                    command_id,
                    user_id: inv.user.id,
                    kind,
                    detail: text,
                    prompt: command.prompt,
                });
            } else {
                tracing::debug!(
                    command_id,
                    user = inv.user.id,
                    ?kind,
                    "repeated feedback ignored"
                );
            }
            self.store.feedback_counts(command_id).await.map(Some)
        }
        .await;
        match result {
            Ok(Some(counts)) => Ack::UpdateFeedback { command_id, counts },
            Ok(None) => message("That answer no longer exists."),
            Err(e) => {
                tracing::error!(error = %e, command_id, "could not store feedback");
                message(&config.discord_error_message)
            }
        }
    }

    /// `/clear`: the user's next `/chat` starts a new conversation. The OpenAI conversation is forgotten
    /// (a new one is created on the next question); for providers whose history disconcierge keeps, the
    /// recorded clear marks where the history starts.
    async fn clear(&self, inv: &Invocation) -> Result<String, StoreError> {
        let current = self.runtime.current();
        let config = &current.config;
        let now = Utc::now();
        let user = self
            .store
            .upsert_user(
                inv.user.id,
                &inv.user.username,
                inv.user.global_name.as_deref(),
            )
            .await?;
        if user.ignored || inv.user.bot {
            return Ok(config.discord_error_message.clone());
        }
        if let Some(last) = self.store.last_clear_command(user.discord_id).await? {
            let cooldown =
                chrono::TimeDelta::from_std(config.clear_command_cooldown).unwrap_or_default();
            if now < last + cooldown {
                return Ok(format!(
                    "You just started a new conversation. You can do it again {}.",
                    disconcierge_core::limits::relative_time(last + cooldown)
                ));
            }
        }
        self.store
            .insert_clear_command(&disconcierge_core::model::ClearCommand {
                interaction_id: inv.interaction_id,
                user_id: user.discord_id,
                guild_id: inv.guild_id,
                channel_id: inv.channel_id,
                created_at: now,
            })
            .await?;
        self.store
            .set_user_conversation(user.discord_id, None)
            .await?;
        Ok("Done: your next question starts a new conversation.".to_string())
    }

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
            let current = self.runtime.current();
            let config = &current.config;
            let idle = if config.paused {
                self.queue.sleep_paused
            } else {
                match self
                    .store
                    .claim_next_chat_command(&self.instance_id, self.queue.lease, Utc::now())
                    .await
                {
                    // A pause that landed between reading the configuration and claiming holds this
                    // command too: it goes back to the queue untouched.
                    Ok(Some(command)) if self.runtime.current().config.paused => {
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
                    Ok(None) => {
                        let _ = self.queued_here.take();
                        self.queue.sleep_empty
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not claim a command");
                        self.queue.sleep_empty
                    }
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
        let usage_line =
            allowance_at(user, &current.config, counted, Utc::now(), pending).usage_line();
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

pub(crate) fn message(content: &str) -> Ack {
    Ack::Message {
        content: content.to_string(),
        ephemeral: true,
    }
}

impl Chat {
    /// Closes commands that can no longer be answered: those whose interaction token died (nobody can be
    /// told), and those that waited in the queue longer than `DC_QUEUE_MAX_AGE` (their users are told).
    pub async fn run_janitor(self: Arc<Self>, cancel: CancellationToken) {
        let every =
            (self.queue.max_age / 4).clamp(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            let now = Utc::now();
            match self.store.expire_chat_commands(now).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(count = n, "closed commands whose interaction token expired")
                }
                Err(e) => tracing::warn!(error = %e, "could not close expired commands"),
            }
            let cutoff = now - chrono::TimeDelta::from_std(self.queue.max_age).unwrap_or_default();
            match self.store.expire_stale_queued(cutoff, now).await {
                Ok(stale) => {
                    let text = self
                        .runtime
                        .current()
                        .config
                        .discord_queue_full_message
                        .clone();
                    for command in stale.into_iter().filter(|c| c.token_expires_at > now) {
                        tracing::info!(
                            command = command.id,
                            "a command waited too long in the queue"
                        );
                        if let Err(e) = self
                            .discord
                            .edit_original(&command.interaction_token, &text, None)
                            .await
                        {
                            tracing::warn!(command = command.id, error = %e, "could not tell a user their question expired");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not expire old queued commands"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}

/// Shows the text generated so far through `edit`: first [`FIRST_PREVIEW_AFTER`] after the first
/// words, then at most once per [`EDIT_INTERVAL`], until the sender is dropped. It ends as soon as
/// generation ends (never waiting out a pause), and never in the middle of an edit, so no preview can land
/// after the final answer.
async fn show_progress<E, F>(mut text: watch::Receiver<String>, mut edit: E)
where
    E: FnMut(String) -> F,
    F: std::future::Future<Output = ()>,
{
    // Until the first words (or the end).
    loop {
        if text.changed().await.is_err() {
            return;
        }
        if !text.borrow_and_update().trim().is_empty() {
            break;
        }
    }
    let mut pause = FIRST_PREVIEW_AFTER;
    loop {
        // Wait out the pause, noting whether the text changed; the end of generation ends this at once.
        let sleep = tokio::time::sleep(pause);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                changed = text.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
        let current = text.borrow_and_update().clone();
        if current.trim().is_empty() {
            // The model started over (a retry): wait for words again.
            if text.changed().await.is_err() {
                return;
            }
            pause = FIRST_PREVIEW_AFTER;
            continue;
        }
        // Only the first message's worth; the rest appears with the final answer.
        let preview = split_message(&current, DISCORD_SAFE_LIMIT - 2)
            .into_iter()
            .next()
            .unwrap_or_default();
        edit(format!("{preview} …")).await;
        pause = EDIT_INTERVAL;
    }
}

/// How many commands this process queued that no worker has claimed yet, as far as it knows: a worker
/// that finishes the answer to an announced command claims again at once only if there may be more, which
/// saves a claim that finds nothing after every answer. It is a hint: each claim, found or not, takes one
/// off (a command claimed by another instance costs one claim in vain, as before); a command nobody
/// announced makes its worker look again at once (a backlog drains without waiting); a worker that waits
/// is still woken by every new command (`Chat::wake`, registered before it claimed) and polls every
/// `DC_QUEUE_SLEEP_EMPTY` for commands other instances queued.
#[derive(Debug, Default)]
pub struct QueuedHint(std::sync::atomic::AtomicUsize);

impl QueuedHint {
    pub(crate) fn add(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Takes one off; whether there was one.
    pub(crate) fn take(&self) -> bool {
        self.0
            .fetch_update(
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
                |n| n.checked_sub(1),
            )
            .is_ok()
    }

    fn any(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Acquire) > 0
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

/// Where a user stands against their 6 h limit at `now`, from the creation times of their counted
/// commands read when their command was claimed (those that left the window since are left out).
/// `pending` is the time of a command that consumed tokens but is not recorded as finished yet (the
/// one being answered): it counts too.
fn allowance_at(
    user: &disconcierge_core::model::User,
    config: &disconcierge_core::RuntimeConfig,
    counted: &[chrono::DateTime<Utc>],
    now: chrono::DateTime<Utc>,
    pending: Option<chrono::DateTime<Utc>>,
) -> Allowance {
    let start = Allowance::window_start(now);
    let inside = counted.iter().filter(|t| **t >= start);
    let usage = disconcierge_store::Usage {
        counted: u32::try_from(inside.clone().count()).unwrap_or(u32::MAX),
        oldest: inside.min().copied(),
    };
    allowance_of(user, config, usage, pending)
}

/// A user's allowance from their usage in the window.
pub(crate) fn allowance_of(
    user: &disconcierge_core::model::User,
    config: &disconcierge_core::RuntimeConfig,
    usage: disconcierge_store::Usage,
    pending: Option<chrono::DateTime<Utc>>,
) -> Allowance {
    let limit = user
        .limit_override
        .unwrap_or(config.user_chat_command_limit_6h);
    Allowance::new(
        usage.counted + u32::from(pending.is_some()),
        limit,
        usage.oldest.or(pending),
    )
}

#[cfg(test)]
mod allowance_tests {
    use super::allowance_at;
    use chrono::{DateTime, TimeDelta, Utc};
    use disconcierge_core::RuntimeConfig;
    use disconcierge_core::model::User;

    fn user(limit: Option<u32>) -> User {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        User {
            discord_id: 1,
            username: "ann".into(),
            global_name: None,
            priority: false,
            ignored: false,
            limit_override: limit,
            llm_model: None,
            llm_instructions: None,
            llm_temperature: None,
            conversation_id: None,
            conversation_reset_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    /// The counted times are read when the command is claimed; the usage line is computed when the
    /// answer is ready. A command that left the window meanwhile no longer counts, and the next free
    /// slot is then the next one's.
    #[test]
    fn the_usage_line_counts_the_window_at_answer_time() {
        let claimed = DateTime::parse_from_rfc3339("2026-12-06T12:00:00Z")
            .unwrap()
            .to_utc();
        let mins = TimeDelta::minutes;
        // Created 5 h 59 min and 4 h before the claim: both in the window then.
        let counted = [claimed - mins(359), claimed - mins(240)];
        let config = RuntimeConfig {
            user_chat_command_limit_6h: 3,
            ..RuntimeConfig::default()
        };
        let pending = Some(claimed - mins(1));

        let at_claim = allowance_at(&user(None), &config, &counted, claimed, pending);
        assert_eq!((at_claim.used, at_claim.limit), (3, 3));
        assert_eq!(at_claim.next_slot_at, Some(claimed + mins(1)));

        // Two minutes later (a slow model), the oldest has left the window.
        let answered = allowance_at(&user(None), &config, &counted, claimed + mins(2), pending);
        assert_eq!(answered.used, 2);
        assert_eq!(answered.next_slot_at, Some(claimed + mins(120)));
        assert!(!answered.exhausted());

        // A command that consumed nothing is not pending; the user's own limit wins.
        let own = allowance_at(&user(Some(10)), &config, &counted, claimed, None);
        assert_eq!((own.used, own.limit), (2, 10));
        let none = allowance_at(&user(None), &config, &[], claimed, None);
        assert_eq!((none.used, none.next_slot_at), (0, None));
    }
}

#[cfg(test)]
mod tests {
    use super::{
        ACK_QUIET, AcksInProgress, EDIT_INTERVAL, FIRST_PREVIEW_AFTER, HELD_BACK_APART,
        MAX_HOLD_BACK, MIN_BACKLOG, STALL_BUDGET,
    };
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::sync::watch;
    use tokio::time::Instant;

    /// The edits `show_progress` made: when (since the start) and what.
    type Edits = Arc<Mutex<Vec<(Duration, String)>>>;

    /// Runs `show_progress` with an edit that records (time since start, text) and takes `edit_time`.
    fn progress(
        edit_time: Duration,
    ) -> (watch::Sender<String>, Edits, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(String::new());
        let edits = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let task = tokio::spawn(super::show_progress(rx, {
            let edits = edits.clone();
            move |text| {
                edits.lock().unwrap().push((start.elapsed(), text));
                tokio::time::sleep(edit_time)
            }
        }));
        (tx, edits, task)
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_complete_before_the_first_preview_is_never_shown_in_progress() {
        let (tx, edits, task) = progress(Duration::ZERO);
        tx.send_modify(|t| t.push_str("Hello"));
        tokio::time::sleep(FIRST_PREVIEW_AFTER / 2).await;
        tx.send_modify(|t| t.push_str(" there."));
        drop(tx);
        task.await.unwrap();
        assert!(edits.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_answer_is_shown_after_its_first_words_then_once_per_interval() {
        let (tx, edits, task) = progress(Duration::from_millis(50));
        // Nothing but whitespace yet: no clock started.
        tx.send_modify(|t| t.push(' '));
        let offset = Duration::from_millis(500);
        tokio::time::sleep(offset).await;
        // Words every 100 ms for 2.6 s.
        for i in 0..26 {
            tx.send_modify(|t| t.push_str(&format!("w{i} ")));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(tx);
        tokio::time::timeout(Duration::from_millis(1), task)
            .await
            .expect("ends at once when generation ends")
            .unwrap();
        let edits = edits.lock().unwrap().clone();
        let at: Vec<Duration> = edits.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            at,
            [
                offset + FIRST_PREVIEW_AFTER,
                offset + FIRST_PREVIEW_AFTER + Duration::from_millis(50) + EDIT_INTERVAL,
                offset + FIRST_PREVIEW_AFTER + (Duration::from_millis(50) + EDIT_INTERVAL) * 2,
            ]
        );
        // Each shows the text so far, marked as unfinished.
        assert!(edits[0].1.starts_with(" w0 w1 w2") && edits[0].1.ends_with(" …"));
        assert!(edits[2].1.contains("w20") && !edits[2].1.contains("w25"));
    }

    #[tokio::test(start_paused = true)]
    async fn workers_wait_until_acknowledgements_are_quiet() {
        let acks = Arc::new(AcksInProgress::default());
        let quiet = |acks: &Arc<AcksInProgress>| {
            let acks = acks.clone();
            tokio::spawn(async move {
                acks.quiet().await;
                Instant::now()
            })
        };
        // None ever: no wait.
        let start = Instant::now();
        assert_eq!(quiet(&acks).await.unwrap(), start);

        // Two in progress: the worker waits for both, then for the quiet time after the last.
        let first = acks.start();
        let second = acks.start();
        let waiter = quiet(&acks);
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(first);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!waiter.is_finished(), "one still in progress");
        drop(second);
        let ended = Instant::now();
        assert_eq!(waiter.await.unwrap(), ended + ACK_QUIET);

        // One that starts and ends within the quiet time starts the quiet time again.
        let first = acks.start();
        let waiter = quiet(&acks);
        drop(first);
        tokio::time::sleep(ACK_QUIET / 2).await;
        drop(acks.start());
        let ended = Instant::now();
        assert_eq!(waiter.await.unwrap(), ended + ACK_QUIET);

        // Never quiet (one every millisecond, each taking half of it): the worker goes after the
        // longest hold-back.
        let start = Instant::now();
        let waiter = quiet(&acks);
        while !waiter.is_finished() {
            let ack = acks.start();
            tokio::time::sleep(Duration::from_micros(500)).await;
            drop(ack);
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let went = waiter.await.unwrap();
        // Several workers held back together go one at a time.
        let waiters: Vec<_> = (0..3).map(|_| quiet(&acks)).collect();
        let began = Instant::now();
        while !waiters.iter().all(|w| w.is_finished()) {
            let ack = acks.start();
            tokio::time::sleep(Duration::from_micros(500)).await;
            drop(ack);
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        let mut times = Vec::new();
        for waiter in waiters {
            times.push(waiter.await.unwrap() - began);
        }
        times.sort();
        assert!(times[0] >= MAX_HOLD_BACK, "{times:?}");
        assert!(times[1] - times[0] >= HELD_BACK_APART, "{times:?}");
        assert!(times[2] - times[1] >= HELD_BACK_APART, "{times:?}");
        assert!(
            went >= start + MAX_HOLD_BACK
                && went < start + MAX_HOLD_BACK + Duration::from_millis(1),
            "{:?}",
            went - start
        );
    }

    #[tokio::test(start_paused = true)]
    async fn background_writes_gather_until_acknowledgements_pause() {
        let acks = Arc::new(AcksInProgress::default());
        let hold_back = Duration::from_millis(50);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let gather = |acks: &Arc<AcksInProgress>,
                      mut rx: tokio::sync::mpsc::UnboundedReceiver<u32>| {
            let acks = acks.clone();
            tokio::spawn(async move {
                let mut taken = vec![0];
                acks.gather_after_pause(hold_back, &mut rx, &mut taken, 4)
                    .await;
                (Instant::now(), taken, rx)
            })
        };
        // Quiet: at once, with what is already there.
        tx.send(1).unwrap();
        let start = Instant::now();
        let (at, taken, back) = gather(&acks, rx).await.unwrap();
        assert_eq!((at, taken), (start, vec![0, 1]));
        rx = back;

        // One in progress: it waits, and takes what arrived meanwhile once quiet, up to the maximum.
        let ack = acks.start();
        let waiter = gather(&acks, rx);
        for item in 2..=6 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.send(item).unwrap();
        }
        assert!(!waiter.is_finished(), "an acknowledgement is in progress");
        drop(ack);
        let ended = Instant::now();
        let (at, taken, back) = waiter.await.unwrap();
        assert_eq!(at, ended + ACK_QUIET);
        assert_eq!(
            taken,
            [0, 2, 3, 4],
            "the maximum, the rest left for the next time"
        );
        rx = back;
        assert_eq!(rx.try_recv().ok(), Some(5));

        // Never quiet: it goes after `hold_back`, and two callers go together (no spacing).
        let start = Instant::now();
        let (tx2, rx2) = tokio::sync::mpsc::unbounded_channel::<u32>();
        let waiters = [gather(&acks, rx), gather(&acks, rx2)];
        while !waiters.iter().all(|w| w.is_finished()) {
            let ack = acks.start();
            tokio::time::sleep(Duration::from_micros(500)).await;
            drop(ack);
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        for waiter in waiters {
            let (at, taken, _) = waiter.await.unwrap();
            assert!(
                at >= start + hold_back && at < start + hold_back + Duration::from_millis(1),
                "{:?}",
                at - start
            );
            assert!(taken.len() <= 2, "{taken:?}");
        }
        drop((tx, tx2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_longer_than_the_budget_is_refused() {
        let acks = AcksInProgress::default();
        let tick = Duration::from_millis(5);
        // Steady: 200 acknowledgements a second, each done in 5 ms.
        for _ in 0..100 {
            let ack = acks.start();
            tokio::time::sleep(tick).await;
            drop(ack);
            assert!(!acks.behind());
        }
        // A burst: at 200 a second, a backlog of 150 clears in 0.75 s — admitted…
        let mut burst: Vec<_> = (0..150).map(|_| acks.start()).collect();
        assert!(!acks.behind(), "0.75 s predicted");
        // … one of 200 would take 1 s: refused.
        burst.extend((0..50).map(|_| acks.start()));
        assert!(acks.behind(), "1 s predicted");
        // The backlog drains at the same rate; under the budget again, commands are admitted.
        while burst.len() > 150 {
            tokio::time::sleep(tick).await;
            burst.remove(0);
        }
        assert!(!acks.behind());
        // Nothing completes for 2 s: refused whatever the last rate said.
        tokio::time::sleep(STALL_BUDGET).await;
        assert!(acks.behind(), "stalled");
        burst.clear();
        assert!(!acks.behind(), "nothing in progress");
        // A small backlog is never refused, however slow.
        let few: Vec<_> = (0..MIN_BACKLOG - 1).map(|_| acks.start()).collect();
        tokio::time::sleep(STALL_BUDGET / 2).await;
        assert!(!acks.behind());
        drop(few);
    }
}
