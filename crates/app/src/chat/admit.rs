//! Recording and admitting `/chat` and `/private`, several commands per batch.
//!
//! A command is written to the database before it is acknowledged (nothing acknowledged is ever lost),
//! and under load the acknowledgement is bound by that write: a commit per command, and every statement a
//! hand-off to the database's thread and back. So acknowledgements do not write one by one: each hands
//! its command to one recorder task, which takes whatever has arrived and records it in two statements
//! ([`QueueStore::record_chat_commands`](disconcierge_store::QueueStore::record_chat_commands): the authors with what admission needs to know, then the commands),
//! decides every command of the batch in arrival order ([`disconcierge_core::admission`]), settles the
//! refused ones, and answers each waiting acknowledgement. Unloaded, a batch is the one command, recorded
//! at once; under a burst, one batch serves several. The same way, acknowledged commands are queued by
//! one task, many per statement ([`Queuer`]).
//!
//! The recorder also serializes admission: two commands of one user in the same batch are decided one
//! after the other, the second seeing the first in flight. Both tasks end when every sender is dropped
//! and their channel is drained, so a graceful stop loses nothing.

use super::allowance::allowance_of;
use super::reply::message;
use crate::acks::{AcksInProgress, QueuedHint};
use crate::runtime_config::RuntimeConfigService;
use chrono::{DateTime, Utc};
use disconcierge_core::admission::{self, Admission, Applicant, QueueState};
use disconcierge_core::limits::Allowance;
use disconcierge_core::model::{ChatCommand, ChatCommandState, NewChatCommand};
use disconcierge_discord::Discord;
use disconcierge_discord::router::{Ack, Invocation};
use disconcierge_store::{NewChatCommandBy, RecordedBatch, Store, StoreError};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// At most this many commands per batch (a batch's JSON stays small; one slow batch delays few).
const BATCH: usize = 64;
/// At most this many acknowledged commands queued per statement.
const QUEUE_BATCH: usize = 500;
/// During a burst of acknowledgements, queueing waits at most this long for a pause in them. Workers
/// claim little during a burst anyway (see [`AcksInProgress`]), so the wait costs no answer any time.
pub const QUEUE_HOLD_BACK: std::time::Duration = std::time::Duration::from_millis(50);
/// An interaction token lives 15 minutes.
const TOKEN_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// Why a command could not be admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the command recorder has stopped (the bot is shutting down)")]
    Stopped,
}

/// Tells the user of a command that a full queue dropped it (in the background: the acknowledgement
/// that made room is not delayed). Given the command and the text.
pub type DropNotice = Arc<dyn Fn(ChatCommand, String) + Send + Sync>;

/// The [`DropNotice`] that edits the dropped command's response on Discord.
pub fn drop_notice(discord: Discord) -> DropNotice {
    Arc::new(move |victim: ChatCommand, text: String| {
        let discord = discord.clone();
        tokio::spawn(async move {
            if let Err(e) = discord
                .edit_original(&victim.interaction_token, &text, None)
                .await
            {
                tracing::warn!(command = victim.id, error = %e, "could not tell a user their question was dropped");
            }
        });
    })
}

/// What the recorder needs: the database, the configuration and how to tell a user whose command a full
/// queue drops.
pub struct Admitter {
    pub store: Arc<dyn Store>,
    pub runtime: RuntimeConfigService,
    /// `DC_QUEUE_SIZE`.
    pub queue_size: u32,
    pub dropped: DropNotice,
}

struct Pending {
    is_bot: bool,
    reply: oneshot::Sender<Result<Ack, StoreError>>,
}

/// Hands commands to the recorder task.
#[derive(Clone)]
pub struct Admissions {
    tx: mpsc::UnboundedSender<(NewChatCommandBy, Pending)>,
}

impl Admissions {
    /// The handle and the recorder task, to spawn.
    pub fn start(admitter: Admitter) -> (Admissions, impl Future<Output = ()> + Send + 'static) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(NewChatCommandBy, Pending)>();
        let task = async move {
            let mut arrived = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut arrived, BATCH).await > 0 {
                let (commands, pending): (Vec<_>, Vec<_>) = arrived.drain(..).unzip();
                let acks = admitter.admit(&commands, &pending).await;
                for (pending, ack) in pending.into_iter().zip(acks) {
                    // The acknowledgement may have been dropped meanwhile (its connection closed): the
                    // command stays recorded as received and a restart queues it.
                    let _ = pending.reply.send(ack);
                }
            }
        };
        (Admissions { tx }, task)
    }

    /// Records the command, then decides whether it is queued: a deferred acknowledgement, a message
    /// explaining why not, or nothing (an interaction already recorded, a bot or an ignored user).
    pub async fn admit(
        &self,
        inv: &Invocation,
        prompt: String,
        private: bool,
    ) -> Result<Ack, AdmitError> {
        let now = Utc::now();
        let command = NewChatCommandBy {
            username: inv.user.username.clone(),
            global_name: inv.user.global_name.clone(),
            command: NewChatCommand {
                interaction_id: inv.interaction_id,
                interaction_token: inv.token.clone(),
                token_expires_at: now + TOKEN_LIFETIME,
                application_id: inv.application_id,
                user_id: inv.user.id,
                guild_id: inv.guild_id,
                channel_id: inv.channel_id,
                private,
                prompt,
                state: ChatCommandState::Received,
                created_at: now,
            },
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            is_bot: inv.user.bot,
            reply,
        };
        self.tx
            .send((command, pending))
            .map_err(|_| AdmitError::Stopped)?;
        Ok(answer.await.map_err(|_| AdmitError::Stopped)??)
    }
}

impl Admitter {
    /// One acknowledgement per command, in order.
    async fn admit(
        &self,
        commands: &[NewChatCommandBy],
        pending: &[Pending],
    ) -> Vec<Result<Ack, StoreError>> {
        let now = Utc::now();
        let since = Allowance::window_start(now);
        // Past the queue's size, how many wait changes nothing: counted up to it only.
        let limit = u64::from(self.queue_size);
        match self
            .store
            .record_chat_commands(commands, since, now, limit)
            .await
        {
            Ok(recorded) => self.decide(recorded, pending, now).await,
            // One command the database refuses must not take the others with it: each alone.
            Err(e) if commands.len() > 1 => {
                tracing::warn!(error = %e, count = commands.len(), "could not record a batch of chat commands; recording them one by one");
                let mut acks = Vec::with_capacity(commands.len());
                for (command, pending) in commands.iter().zip(pending) {
                    let one = std::slice::from_ref(command);
                    match self
                        .store
                        .record_chat_commands(one, since, now, limit)
                        .await
                    {
                        Ok(recorded) => acks.extend(
                            self.decide(recorded, std::slice::from_ref(pending), now)
                                .await,
                        ),
                        Err(e) => acks.push(Err(e)),
                    }
                }
                acks
            }
            Err(e) => vec![Err(e)],
        }
    }

    /// Admission of a recorded batch, in arrival order: each command sees the ones admitted before it in
    /// the batch as waiting (and, for its author, in flight). Refused commands are settled before their
    /// acknowledgement leaves, so a restart never answers a refused command.
    async fn decide(
        &self,
        recorded: RecordedBatch,
        pending: &[Pending],
        now: DateTime<Utc>,
    ) -> Vec<Result<Ack, StoreError>> {
        let current = self.runtime.current();
        let config = &current.config;
        let mut admitted_users = HashSet::new();
        // Waiting for a worker as of this command: before the batch, plus the batch's admitted ones,
        // less the ones dropped to make room.
        let mut waiting_now = recorded.waiting;
        // Commands admitted in this batch so far: id → index of their acknowledgement.
        let mut in_batch = std::collections::HashMap::new();
        let mut acks = Vec::with_capacity(pending.len());
        for (one, pending) in recorded.commands.into_iter().zip(pending) {
            // Discord delivered the same interaction twice: the first delivery answers it.
            let Some(command) = one.command else {
                acks.push(Ok(Ack::Nothing));
                continue;
            };
            let user = one.user;
            let allowance = allowance_of(&user, config, one.usage, None);
            let applicant = Applicant {
                is_bot: pending.is_bot,
                ignored: user.ignored,
                priority: user.priority,
                in_flight: one.in_flight || admitted_users.contains(&user.discord_id),
                allowance,
            };
            let waiting = u32::try_from(waiting_now).unwrap_or(u32::MAX);
            let ack = async {
                // Who would make room is looked up only when the queue is full.
                let (oldest_non_priority, oldest) = if waiting >= self.queue_size {
                    (
                        self.store.oldest_waiting(true, command.id, now).await?,
                        self.store.oldest_waiting(false, command.id, now).await?,
                    )
                } else {
                    (None, None)
                };
                let queue = QueueState {
                    waiting,
                    capacity: self.queue_size,
                    oldest_non_priority: oldest_non_priority.as_ref().map(|c| c.id),
                    oldest: oldest.as_ref().map(|c| c.id),
                };
                let (state, ack) = match admission::admit(&applicant, config.paused, &queue) {
                    Admission::Accept { evict } => {
                        if let Some(victim) = [oldest_non_priority, oldest]
                            .into_iter()
                            .flatten()
                            .find(|c| Some(c.id) == evict)
                        {
                            let text = &config.discord_queue_full_message;
                            let mut dropped = self
                                .store
                                .transition_chat_command(
                                    victim.id,
                                    victim.state,
                                    ChatCommandState::Aborted,
                                )
                                .await?;
                            // Queued since it was looked up (its acknowledgement went out meanwhile):
                            // still waiting, still the one to drop.
                            if !dropped && victim.state == ChatCommandState::Received {
                                dropped = self
                                    .store
                                    .transition_chat_command(
                                        victim.id,
                                        ChatCommandState::Queued,
                                        ChatCommandState::Aborted,
                                    )
                                    .await?;
                            }
                            if dropped {
                                tracing::info!(command = victim.id, "dropped from a full queue");
                                match in_batch.get(&victim.id) {
                                    // Admitted earlier in this batch and not acknowledged yet: its
                                    // acknowledgement becomes the refusal.
                                    Some(&index) => acks[index] = Ok(message(text)),
                                    None => (self.dropped)(victim, text.clone()),
                                }
                            }
                            // Dropped, or taken by a worker meanwhile: waiting either way no more.
                            waiting_now = waiting_now.saturating_sub(1);
                        }
                        return Ok(Ack::Defer {
                            ephemeral: command.private,
                        });
                    }
                    Admission::Ignore => {
                        tracing::info!(
                            user = user.discord_id,
                            bot = pending.is_bot,
                            "ignored a chat command"
                        );
                        (ChatCommandState::Ignored, super::reply::ignored(config))
                    }
                    Admission::Paused => {
                        (ChatCommandState::Aborted, message(&config.paused_message))
                    }
                    Admission::Busy => (
                        ChatCommandState::Aborted,
                        message(&config.discord_busy_message),
                    ),
                    Admission::RateLimited => (
                        ChatCommandState::RateLimited,
                        message(&allowance.rate_limited_message(
                            &config.discord_rate_limited_message,
                            disconcierge_discord::markup::relative_time,
                        )),
                    ),
                    Admission::QueueFull => (
                        ChatCommandState::Aborted,
                        message(&config.discord_queue_full_message),
                    ),
                };
                self.store
                    .transition_chat_command(command.id, ChatCommandState::Received, state)
                    .await?;
                Ok(ack)
            }
            .await;
            if matches!(ack, Ok(Ack::Defer { .. })) {
                admitted_users.insert(user.discord_id);
                waiting_now += 1;
                in_batch.insert(command.id, acks.len());
            }
            acks.push(ack);
        }
        acks
    }
}

/// Queues acknowledged commands (`received` → `queued`) many per statement, and wakes the workers.
///
/// Queueing takes the one SQLite writer, which the recorder needs for every acknowledgement. So while
/// acknowledgements keep coming, queueing waits for a pause in them ([`AcksInProgress::gather_after_pause`],
/// at most [`QUEUE_HOLD_BACK`]) and then queues everything that arrived meanwhile in one statement:
/// during a burst a few writes a second instead of one per batch of acknowledgements. Unloaded, the
/// pause is there at once and a command is queued right after its acknowledgement.
#[derive(Clone)]
pub struct Queuer {
    tx: mpsc::UnboundedSender<u64>,
}

impl Queuer {
    /// The handle and its task, to spawn. `wake` and `queued_here` are the workers' (see
    /// [`crate::chat::Chat`]), `acks` the acknowledgements this queueing gives way to.
    pub fn start(
        store: Arc<dyn Store>,
        wake: Arc<Notify>,
        queued_here: Arc<QueuedHint>,
        acks: Arc<AcksInProgress>,
    ) -> (Queuer, impl Future<Output = ()> + Send + 'static) {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        let task = async move {
            let mut ids = Vec::with_capacity(QUEUE_BATCH);
            while rx.recv_many(&mut ids, QUEUE_BATCH).await > 0 {
                acks.gather_after_pause(QUEUE_HOLD_BACK, &mut rx, &mut ids, QUEUE_BATCH)
                    .await;
                match store.queue_acknowledged(&ids).await {
                    Ok(queued) => {
                        for _ in 0..queued {
                            queued_here.add();
                            wake.notify_one();
                        }
                        // Idle workers of other instances claim too (a no-op on SQLite).
                        if queued > 0
                            && let Err(e) = store.notify(disconcierge_store::Change::Queued).await
                        {
                            tracing::debug!(error = %e, "could not announce queued commands");
                        }
                    }
                    // The commands stay `received`; the next start queues them.
                    Err(e) => {
                        tracing::error!(error = %e, count = ids.len(), "could not queue acknowledged commands")
                    }
                }
                ids.clear();
            }
        };
        (Queuer { tx }, task)
    }

    /// The interaction was acknowledged: its command, if one waits for that, joins the queue.
    pub fn acknowledged(&self, interaction_id: u64) {
        if self.tx.send(interaction_id).is_err() {
            tracing::warn!(
                interaction = interaction_id,
                "an acknowledged command was not queued: the bot is shutting down (the next start queues it)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use disconcierge_discord::router::DiscordUser;
    use disconcierge_store::testing::TestDb;
    use std::sync::Mutex;

    struct Fixture {
        _db: TestDb,
        store: Arc<dyn Store>,
        admitter: Admitter,
        /// (command id, text) of every drop notice.
        dropped: Arc<Mutex<Vec<(i64, String)>>>,
    }

    async fn fixture(queue_size: u32) -> Fixture {
        let db = TestDb::sqlite().await;
        let store = db.store.clone();
        let runtime = RuntimeConfigService::load_or_init(store.clone())
            .await
            .unwrap();
        let dropped = Arc::new(Mutex::new(Vec::new()));
        let notices = dropped.clone();
        let admitter = Admitter {
            store: store.clone(),
            runtime,
            queue_size,
            dropped: Arc::new(move |victim: ChatCommand, text: String| {
                notices.lock().unwrap().push((victim.id, text));
            }),
        };
        Fixture {
            _db: db,
            store,
            admitter,
            dropped,
        }
    }

    fn invocation(interaction_id: u64, user: u64) -> Invocation {
        Invocation {
            interaction_id,
            application_id: 1,
            token: format!("token-{interaction_id}").into(),
            user: DiscordUser {
                id: user,
                username: format!("user{user}"),
                global_name: None,
                bot: false,
            },
            guild_id: Some(5),
            channel_id: Some(6),
        }
    }

    /// The commands of these (interaction, user) pairs, as one batch straight to the recorder's logic.
    async fn batch(f: &Fixture, commands: &[(u64, u64)]) -> Vec<Ack> {
        let now = Utc::now();
        let (news, pending): (Vec<_>, Vec<_>) = commands
            .iter()
            .map(|&(interaction, user)| {
                let news = NewChatCommandBy {
                    username: format!("user{user}"),
                    global_name: None,
                    command: NewChatCommand {
                        interaction_id: interaction,
                        interaction_token: format!("token-{interaction}").into(),
                        token_expires_at: now + TOKEN_LIFETIME,
                        application_id: 1,
                        user_id: user,
                        guild_id: None,
                        channel_id: None,
                        private: false,
                        prompt: "hello".into(),
                        state: ChatCommandState::Received,
                        created_at: now,
                    },
                };
                let pending = Pending {
                    is_bot: false,
                    reply: oneshot::channel().0,
                };
                (news, pending)
            })
            .unzip();
        f.admitter
            .admit(&news, &pending)
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect()
    }

    async fn state(f: &Fixture, interaction: u64) -> ChatCommandState {
        f.store
            .chat_command_by_interaction(interaction)
            .await
            .unwrap()
            .unwrap()
            .state
    }

    fn text(ack: &Ack) -> &str {
        match ack {
            Ack::Message { content, .. } => content,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_second_command_of_a_user_in_the_same_batch_finds_the_first_in_flight() {
        let f = fixture(100).await;
        let acks = batch(&f, &[(1, 10), (2, 10), (3, 20), (1, 10)]).await;
        assert!(matches!(acks[0], Ack::Defer { ephemeral: false }));
        let busy = &f.admitter.runtime.current().config.discord_busy_message;
        assert_eq!(text(&acks[1]), busy);
        assert!(matches!(acks[2], Ack::Defer { .. }), "another user");
        assert!(
            matches!(acks[3], Ack::Nothing),
            "a redelivery: answered by the first"
        );
        assert_eq!(state(&f, 1).await, ChatCommandState::Received);
        assert_eq!(
            state(&f, 2).await,
            ChatCommandState::Aborted,
            "settled before its refusal leaves"
        );
        assert_eq!(state(&f, 3).await, ChatCommandState::Received);
        // And in the next batch, the first is still in flight.
        let acks = batch(&f, &[(4, 10)]).await;
        assert_eq!(text(&acks[0]), busy);
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_even_when_it_is_in_the_same_batch() {
        let f = fixture(2).await;
        // One waiting before; the batch's first makes two (full), so the second and third make room.
        assert!(matches!(batch(&f, &[(1, 10)]).await[0], Ack::Defer { .. }));
        let acks = batch(&f, &[(2, 20), (3, 30), (4, 40)]).await;
        let full = f
            .admitter
            .runtime
            .current()
            .config
            .discord_queue_full_message
            .clone();
        assert!(matches!(acks[1], Ack::Defer { .. }));
        // For the second, the command recorded before the batch was dropped (its user told on Discord);
        let first = f
            .store
            .chat_command_by_interaction(1)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.state, ChatCommandState::Aborted);
        assert_eq!(*f.dropped.lock().unwrap(), [(first.id, full.clone())]);
        // for the third, the oldest was one of this batch, not acknowledged yet: its acknowledgement
        // became the refusal, instead of an edit of a response that does not exist yet.
        assert_eq!(text(&acks[0]), full, "{acks:?}");
        assert_eq!(state(&f, 2).await, ChatCommandState::Aborted);
        assert!(matches!(acks[2], Ack::Defer { .. }));
        assert_eq!(f.dropped.lock().unwrap().len(), 1);
        assert_eq!(
            f.store.waiting_count(-1, Utc::now()).await.unwrap(),
            2,
            "the queue holds its size"
        );
    }

    #[tokio::test]
    async fn commands_sent_at_once_are_recorded_and_admitted_through_the_task() {
        let f = fixture(100).await;
        let store = f.store.clone();
        let (admissions, task) = Admissions::start(f.admitter);
        let recorder = tokio::spawn(task);
        let invocations: Vec<_> = (1..=20).map(|i| invocation(i, 100 + i % 5)).collect();
        let sent: Vec<_> = invocations
            .iter()
            .map(|inv| {
                let (admissions, inv) = (admissions.clone(), inv.clone());
                tokio::spawn(async move {
                    let prompt = format!("question {}", inv.interaction_id);
                    admissions.admit(&inv, prompt, true).await
                })
            })
            .collect();
        let mut acks = Vec::new();
        for one in sent {
            acks.push(one.await.unwrap());
        }
        // Five users, four commands each: exactly one of each user's is admitted, whatever the batches.
        let admitted: Vec<u64> = acks
            .iter()
            .zip(&invocations)
            .filter(|(ack, _)| matches!(ack, Ok(Ack::Defer { ephemeral: true })))
            .map(|(_, inv)| inv.user.id)
            .collect();
        let mut users = admitted.clone();
        users.sort_unstable();
        assert_eq!(users, [100, 101, 102, 103, 104], "{acks:?}");
        for inv in &invocations {
            let command = store
                .chat_command_by_interaction(inv.interaction_id)
                .await
                .unwrap()
                .expect("every command is recorded");
            assert_eq!(command.prompt, format!("question {}", inv.interaction_id));
            assert_eq!(command.interaction_token, inv.token);
            assert!(command.private);
        }
        // The task ends once every handle is gone.
        drop(admissions);
        recorder.await.unwrap();
    }

    #[tokio::test]
    async fn acknowledged_commands_are_queued_and_workers_woken() {
        let f = fixture(100).await;
        batch(&f, &[(1, 10), (2, 20), (3, 10)]).await;
        let wake = Arc::new(Notify::new());
        let hint = Arc::new(QueuedHint::default());
        let (queuer, task) = Queuer::start(
            f.store.clone(),
            wake.clone(),
            hint.clone(),
            Arc::new(AcksInProgress::default()),
        );
        let woken = wake.notified();
        let queueing = tokio::spawn(task);
        // 3 was refused (busy) and settled; 9 is unknown.
        for id in [1, 2, 3, 9] {
            queuer.acknowledged(id);
        }
        drop(queuer);
        queueing.await.unwrap();
        woken.await;
        assert_eq!(state(&f, 1).await, ChatCommandState::Queued);
        assert_eq!(state(&f, 2).await, ChatCommandState::Queued);
        assert_eq!(state(&f, 3).await, ChatCommandState::Aborted);
        assert!(hint.take() && hint.take(), "two announced");
        assert!(!hint.take());
    }
}
