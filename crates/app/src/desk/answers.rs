//! Answers in tickets, `/test_ai` and `/status`.
//!
//! For each message the opener writes in an open ticket: the guild's trained answers and knowledge
//! entries are looked up in the database's full-text index, scored ([`retrieval::score`]) and a plan
//! made ([`retrieval::plan`]): a trained answer close enough is sent as is; otherwise the LLM answers
//! with the best entries as reference material and the ticket's conversation as history, streamed into
//! the thread. If the LLM fails, the best trained answer above the fallback threshold is sent with a
//! note, or a message that staff will follow up.

use super::{Asker, Desk, DeskError, defer_private};
use chrono::Utc;
use disconcierge_core::RuntimeConfig;
use disconcierge_core::desk::model::{EntryKind, ReplySource, Ticket, TicketState, UsedEntry};
use disconcierge_core::desk::prompt::{self, TicketSituation};
use disconcierge_core::desk::retrieval::{self, Plan, Scored, Thresholds};
use disconcierge_core::split::{DISCORD_SAFE_LIMIT, split_message};
use disconcierge_discord::desk::{Controls, Reply};
use disconcierge_discord::markup;
use disconcierge_discord::router::{Ack, GuildMessage};
use disconcierge_llm::{LlmBackend, LlmRequest, RetryPolicy, Role, StreamEvent, Turn};
use disconcierge_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A message not claimed this long after it arrived was missed (the process died before claiming it).
const RECOVERY_GRACE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);
/// Candidates read from each full-text index per message (only these are scored).
const CANDIDATES: u32 = 20;
/// Earlier ticket messages read for the history (then trimmed to the context budget).
const HISTORY_MESSAGES: u32 = 60;
/// A message's embedding is worth waiting for this long, not longer (the answer matters more).
const EMBED_TIMEOUT: Duration = Duration::from_secs(5);
/// Discord shows "typing…" for about 10 s per trigger.
const TYPING_EVERY: Duration = Duration::from_secs(8);

/// What retrieval found for a message, and what to do.
#[derive(Debug, Clone)]
pub(crate) struct Retrieved {
    pub trained: Vec<Scored>,
    pub knowledge: Vec<Scored>,
    pub plan: Plan,
}

pub(crate) fn thresholds(config: &RuntimeConfig) -> Thresholds {
    Thresholds {
        trained: config.desk_trained_answer_threshold,
        fallback: config.desk_fallback_threshold,
        context_min: 0.2,
        context_entries: config.desk_context_entries as usize,
    }
}

fn used(entries: &[&Scored]) -> Vec<UsedEntry> {
    entries
        .iter()
        .map(|s| UsedEntry {
            kind: s.kind,
            id: s.id,
            confidence: s.confidence,
        })
        .collect()
}

/// The answer with its note under it (as Discord's small text), split to fit messages.
pub(crate) fn with_note(answer: &str, note: &str) -> String {
    if note.trim().is_empty() {
        answer.to_string()
    } else {
        format!("{answer}\n{note}")
    }
}

/// Looks `text` up in the guild's trained answers (unless `training` is off there) and knowledge bases
/// (with the message's embedding when `embedding_model` is set): what tickets, `/test_ai` and the admin
/// playground all do.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn retrieve(
    store: &dyn Store,
    llm: &dyn LlmBackend,
    embedding_model: Option<&str>,
    guild_id: u64,
    text: &str,
    config: &RuntimeConfig,
    training: bool,
) -> Result<Retrieved, DeskError> {
    let terms = retrieval::query_terms(text);
    let trained = async {
        if training {
            store
                .search_training(guild_id, &terms, CANDIDATES, embedding_model)
                .await
        } else {
            Ok(Vec::new())
        }
    };
    let (trained, knowledge, embedding) = tokio::join!(
        trained,
        store.search_knowledge(guild_id, None, &terms, CANDIDATES, embedding_model),
        query_embedding(llm, embedding_model, text),
    );
    let (trained, knowledge) = (trained?, knowledge?);
    let trained = retrieval::score(text, embedding.as_deref(), &trained);
    let knowledge = retrieval::score(text, embedding.as_deref(), &knowledge);
    let plan = retrieval::plan(&trained, &knowledge, &thresholds(config));
    Ok(Retrieved {
        trained,
        knowledge,
        plan,
    })
}

/// The embedding of a message, when an embedding model is configured and the backend answers in time;
/// otherwise retrieval uses the full-text ranking alone.
async fn query_embedding(
    llm: &dyn LlmBackend,
    embedding_model: Option<&str>,
    text: &str,
) -> Option<Vec<f32>> {
    embedding_model?;
    match tokio::time::timeout(EMBED_TIMEOUT, llm.embed(&[text.to_string()])).await {
        Ok(Ok(Some(mut vectors))) if vectors.len() == 1 => vectors.pop(),
        Ok(Ok(_)) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "could not embed a message; ranking by words only");
            None
        }
        Err(_) => {
            tracing::warn!(
                "embedding a message took over {EMBED_TIMEOUT:?}; ranking by words only"
            );
            None
        }
    }
}

/// The LLM request for a message in `ticket` (its instructions with the context entries, and the
/// ticket's earlier messages as history, leaving out `message_id`, the one being answered).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn ticket_request(
    store: &dyn Store,
    llm_settings: &crate::settings::LlmSettings,
    ticket: &Ticket,
    guild_instructions: Option<&str>,
    message_id: Option<u64>,
    text: &str,
    context: &[Scored],
    config: &RuntimeConfig,
) -> Result<LlmRequest, DeskError> {
    use disconcierge_core::history::{estimate_tokens, first_kept};
    let situation = TicketSituation {
        category: &ticket.category,
        opener_name: &ticket.opener_name,
        global_instructions: &config.llm_instructions,
        guild_instructions,
    };
    let instructions = prompt::instructions(&situation, context);
    let mut earlier = store
        .ticket_messages(ticket.id, Some(HISTORY_MESSAGES))
        .await?;
    earlier.retain(|m| Some(m.message.message_id) != message_id);
    let turns = prompt::history(&earlier);
    let fixed = estimate_tokens(&instructions) + estimate_tokens(text);
    let keep = first_kept(&turns, fixed, config.llm_max_context_tokens);
    Ok(LlmRequest {
        model: crate::llm::model(llm_settings, config),
        instructions,
        temperature: config.llm_temperature,
        max_output_tokens: config.llm_max_output_tokens,
        history: turns[keep..]
            .iter()
            .map(|t| Turn {
                role: if t.user { Role::User } else { Role::Assistant },
                content: t.text.clone(),
            })
            .collect(),
        conversation_id: None,
        prompt: text.to_string(),
        chat_command_id: None,
    })
}

/// A ticket that does not exist, for trying an answer (`/test_ai`, the admin playground): opened just now
/// by `opener_name` in category "Test", with no history.
pub(crate) fn trial_ticket(guild_id: u64, opener_name: String) -> Ticket {
    Ticket {
        id: 0,
        guild_id,
        thread_id: None,
        category: "Test".into(),
        opener_id: 0,
        opener_name,
        state: TicketState::Open,
        escalated_at: None,
        close_reason: None,
        closed_by: None,
        closed_at: None,
        inactivity_warned_at: None,
        claimed_by: None,
        claimed_at: None,
        message_count: 0,
        created_at: Utc::now(),
        last_activity_at: Utc::now(),
    }
}

impl Desk {
    /// Looks `text` up in the guild's trained answers (unless `training` is off there) and knowledge
    /// bases.
    pub(crate) async fn retrieve(
        &self,
        guild_id: u64,
        text: &str,
        config: &RuntimeConfig,
        training: bool,
    ) -> Result<Retrieved, DeskError> {
        retrieve(
            self.store.as_ref(),
            self.llm.as_ref(),
            self.embedding_model.as_deref(),
            guild_id,
            text,
            config,
            training,
        )
        .await
    }

    /// Answers the opener's message `m` (row `row` of the ticket's messages) in `ticket`, once: the reply
    /// is claimed in the database with a renewed lease first, so that it is written by one instance, and
    /// taken over after a crash (see [`Desk::recover_replies`]). One answer at a time per ticket, in order.
    pub(crate) async fn answer_in_ticket(
        self: &Arc<Self>,
        ticket: Ticket,
        row: i64,
        m: GuildMessage,
    ) {
        let _turn = self.reply_locks.lock(ticket.id).await;
        let lease = chrono::TimeDelta::from_std(self.reply_lease).unwrap_or_default();
        match self
            .store
            .claim_ticket_reply(row, &self.instance_id, Utc::now() + lease, Utc::now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return, // answered, or being answered, elsewhere
            Err(e) => {
                tracing::error!(error = %e, ticket = ticket.id, "could not claim a reply in a ticket");
                return;
            }
        }
        let renew = self.keep_reply_claimed(row);
        // Escalated or closed while this message waited for the previous answer.
        let current = match self.store.ticket(ticket.id).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, ticket = ticket.id, "could not read a ticket");
                renew.abort();
                return;
            }
        };
        // Replies turned off (for every server, or in this one): the message stays recorded for staff.
        let settings = match self.store.guild_settings(ticket.guild_id).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, ticket = ticket.id, "could not read the server's desk settings");
                renew.abort();
                return;
            }
        };
        let switches = self.switches_of(settings.as_ref());
        let open = current
            .filter(|t| {
                switches.ai_replies && t.state == TicketState::Open && !m.content.trim().is_empty()
            })
            .and_then(|t| t.thread_id.map(|thread| (t, thread)));
        let answered = match open {
            Some((ticket, thread)) => match self.limited_until(settings.as_ref(), &m).await {
                Ok(Some((until, limit))) => {
                    self.tell_limited(thread, &m, until, limit).await;
                    false
                }
                Ok(None) => {
                    let config = self.runtime.current().config.clone();
                    let typing = self.keep_typing(thread);
                    let result = self
                        .answer_planned(&ticket, thread, &m, &config, switches.training)
                        .await;
                    typing.abort();
                    if let Err(e) = &result {
                        tracing::error!(error = %e, ticket = ticket.id, "could not answer in a ticket");
                    }
                    true
                }
                Err(e) => {
                    tracing::error!(error = %e, ticket = ticket.id, "could not read a member's AI replies");
                    false
                }
            },
            None => false,
        };
        renew.abort();
        if let Err(e) = self
            .store
            .finish_ticket_reply(row, &self.instance_id, answered)
            .await
        {
            tracing::warn!(error = %e, ticket = ticket.id, "could not record that a reply was written");
        }
    }

    /// Renews the claim on a reply every third of the lease until the returned task is aborted.
    fn keep_reply_claimed(&self, row: i64) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let owner = self.instance_id.clone();
        let every = self.reply_lease / 3;
        let lease = chrono::TimeDelta::from_std(self.reply_lease).unwrap_or_default();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match store
                    .claim_ticket_reply(row, &owner, Utc::now() + lease, Utc::now())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(message = row, "lost the claim on a reply in a ticket");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "could not renew the claim on a reply"),
                }
            }
        })
    }

    /// Answers the opener's messages nobody is answering: received while this instance was down, or
    /// held by one that died (its lease ran out). Called at startup and then periodically.
    pub(crate) async fn recover_replies(self: &Arc<Self>) -> Result<(), DeskError> {
        let now = Utc::now();
        let pending = self
            .store
            .unanswered_ticket_messages(now - RECOVERY_GRACE, now, 20)
            .await?;
        for message in pending {
            let Some(ticket) = self.store.ticket(message.message.ticket_id).await? else {
                continue;
            };
            let Some(thread) = ticket.thread_id else {
                continue;
            };
            tracing::info!(
                ticket = ticket.id,
                message = message.message.message_id,
                "answering a message left unanswered"
            );
            let m = GuildMessage {
                message_id: message.message.message_id,
                channel_id: thread,
                guild_id: ticket.guild_id,
                author: disconcierge_discord::router::DiscordUser {
                    id: message.message.author_id,
                    username: message.message.author_name.clone(),
                    global_name: None,
                    bot: false,
                },
                roles: Vec::new(),
                // Only the opener's messages are answered; how it was labelled is stored.
                manages_guild: false,
                content: message.message.content.clone(),
                created_at: message.message.created_at,
            };
            let desk = self.clone();
            tokio::spawn(async move { desk.answer_in_ticket(ticket, message.id, m).await });
        }
        Ok(())
    }

    /// Shows "typing…" in the thread until the returned task is aborted.
    fn keep_typing(&self, thread: u64) -> tokio::task::JoinHandle<()> {
        let discord = self.discord.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = discord.typing(thread).await {
                    tracing::debug!(error = %e, "could not show the typing indicator");
                }
                tokio::time::sleep(TYPING_EVERY).await;
            }
        })
    }

    async fn answer_planned(
        &self,
        ticket: &Ticket,
        thread: u64,
        m: &GuildMessage,
        config: &RuntimeConfig,
        training: bool,
    ) -> Result<(), DeskError> {
        let retrieved = self
            .retrieve(ticket.guild_id, &m.content, config, training)
            .await?;
        let (context, fallback) = match retrieved.plan {
            Plan::Trained(best) => {
                let text = with_note(&best.body, &config.desk_trained_note);
                self.post_answer(ticket, thread, None, &text, ReplySource::Trained, &[&best])
                    .await?;
                return Ok(());
            }
            Plan::Llm { context, fallback } => (context, fallback),
        };
        let settings = self.store.guild_settings(ticket.guild_id).await?;
        let request = ticket_request(
            self.store.as_ref(),
            &self.llm_settings,
            ticket,
            settings.as_ref().and_then(|s| s.instructions.as_deref()),
            Some(m.message_id),
            &m.content,
            &context,
            config,
        )
        .await?;
        let policy = RetryPolicy {
            first_token_timeout: config.llm_first_token_timeout,
            total_timeout: config.llm_answer_timeout,
            ..RetryPolicy::default()
        };
        // The text as it streams, shown in a message edited at most once per EDIT_INTERVAL.
        let (text_tx, text_rx) = watch::channel(String::new());
        let progress = tokio::spawn(stream_to_thread(self.discord.clone(), thread, text_rx));
        self.rate.acquire(config.desk_llm_requests_per_second).await;
        let result =
            disconcierge_llm::generate(self.llm.as_ref(), &request, &policy, &mut |event| {
                match event {
                    StreamEvent::Delta(d) => text_tx.send_modify(|t| t.push_str(d)),
                    StreamEvent::Restart { .. } => text_tx.send_modify(String::clear),
                }
            })
            .await;
        drop(text_tx);
        let preview = progress.await.ok().flatten();
        let context_refs: Vec<&Scored> = context.iter().collect();
        match result {
            Ok(completion) if !completion.text.trim().is_empty() => {
                self.post_answer(
                    ticket,
                    thread,
                    preview,
                    &completion.text,
                    ReplySource::Llm,
                    &context_refs,
                )
                .await
            }
            outcome => {
                let error = match outcome {
                    Ok(_) => "the model returned an empty answer".to_string(),
                    Err(e) => e.to_string(),
                };
                tracing::warn!(ticket = ticket.id, %error, "the LLM could not answer in a ticket; falling back");
                match fallback {
                    Some(best) => {
                        let text = with_note(&best.body, &config.desk_fallback_note);
                        self.post_answer(
                            ticket,
                            thread,
                            preview,
                            &text,
                            ReplySource::Fallback,
                            &[&best],
                        )
                        .await
                    }
                    None => {
                        self.post_answer(
                            ticket,
                            thread,
                            preview,
                            &config.desk_staff_follow_up_message,
                            ReplySource::StaffFollowUp,
                            &[],
                        )
                        .await
                    }
                }
            }
        }
    }

    /// Posts an answer in the thread: the first part replaces the streamed preview (when there is one),
    /// the rest follow; "Talk to a human" goes under the last part. Records it with the entries used.
    async fn post_answer(
        &self,
        ticket: &Ticket,
        thread: u64,
        preview: Option<u64>,
        text: &str,
        source: ReplySource,
        used_entries: &[&Scored],
    ) -> Result<(), DeskError> {
        let pieces = split_message(text, DISCORD_SAFE_LIMIT);
        let last = pieces.len().saturating_sub(1);
        let human = Controls::TalkToHuman {
            ticket_id: ticket.id,
        };
        let mut first_id = None;
        for (i, piece) in pieces.iter().enumerate() {
            let controls = if i == last {
                human.clone()
            } else {
                Controls::None
            };
            let id = match (i, preview) {
                (0, Some(message_id)) => {
                    self.discord
                        .edit(thread, message_id, piece, &controls)
                        .await?;
                    message_id
                }
                _ => {
                    self.discord
                        .send(thread, &Reply::text(piece.clone()).with_controls(controls))
                        .await?
                        .message_id
                }
            };
            first_id.get_or_insert(id);
        }
        let used = used(used_entries);
        if let Some(id) = first_id {
            self.record_bot_message(ticket.id, id, text, source, &used)
                .await;
        }
        let trained: Vec<i64> = used
            .iter()
            .filter(|u| u.kind == EntryKind::Training)
            .map(|u| u.id)
            .collect();
        if !trained.is_empty()
            && let Err(e) = self.store.record_training_use(&trained, Utc::now()).await
        {
            tracing::warn!(error = %e, "could not count the use of trained answers");
        }
        Ok(())
    }

    pub(crate) async fn test_ai(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        prompt_text: String,
    ) -> Result<Ack, DeskError> {
        let desk = self.clone();
        let guild_id = asker.guild_id;
        let asker_name = asker.inv.user.username.clone();
        self.finish_later(asker.inv.token.clone(), async move {
            let config = desk.runtime.current().config.clone();
            let training = desk.switches(guild_id).await?.training;
            let retrieved = desk
                .retrieve(guild_id, &prompt_text, &config, training)
                .await?;
            let mut report = String::new();
            let answer = match &retrieved.plan {
                Plan::Trained(best) => {
                    report.push_str(&format!(
                        "**Trained answer #{} sent as is** (confidence {:.2} ≥ {:.2}; the LLM is not asked)\n",
                        best.id, best.confidence, config.desk_trained_answer_threshold
                    ));
                    best.body.clone()
                }
                Plan::Llm { context, .. } => {
                    let settings = desk.store.guild_settings(guild_id).await?;
                    let ticket = trial_ticket(guild_id, asker_name);
                    let request = ticket_request(
                            desk.store.as_ref(),
                            &desk.llm_settings,
                            &ticket,
                            settings.as_ref().and_then(|s| s.instructions.as_deref()),
                            None,
                            &prompt_text,
                            context,
                            &config,
                        )
                        .await?;
                    report.push_str(&format!(
                        "**Answered by the LLM** with {} reference entr{}\n",
                        context.len(),
                        if context.len() == 1 { "y" } else { "ies" }
                    ));
                    let policy = RetryPolicy {
                        first_token_timeout: config.llm_first_token_timeout,
                        total_timeout: config.llm_answer_timeout,
                        ..RetryPolicy::default()
                    };
                    desk.rate.acquire(config.desk_llm_requests_per_second).await;
                    match disconcierge_llm::generate(desk.llm.as_ref(), &request, &policy, &mut |_| {}).await {
                        Ok(c) => c.text,
                        Err(e) => format!("(the LLM failed: {e})"),
                    }
                }
            };
            report.push_str("\n**Matches**\n");
            let mut any = false;
            for s in retrieved.trained.iter().chain(&retrieved.knowledge).take(10) {
                any = true;
                report.push_str(&format!(
                    "- {} #{} {:.2}{}{} — {}\n",
                    match s.kind {
                        EntryKind::Training => "trained",
                        EntryKind::Knowledge => "knowledge",
                    },
                    s.id,
                    s.confidence,
                    match s.semantic {
                        Some(semantic) => format!(" (words {:.2}, meaning {semantic:.2})", s.lexical),
                        None => String::new(),
                    },
                    s.source.as_deref().map(|kb| format!(" ({kb})")).unwrap_or_default(),
                    super::excerpt(&s.title, 80)
                ));
            }
            if !any {
                report.push_str("none\n");
            }
            report.push_str("\n**Answer**\n");
            let room = DISCORD_SAFE_LIMIT.saturating_sub(report.chars().count());
            let answer = split_message(&answer, room.max(100)).into_iter().next().unwrap_or_default();
            report.push_str(&answer);
            Ok(Reply::private(report))
        });
        Ok(defer_private())
    }

    pub(crate) async fn status(self: &Arc<Self>, asker: &Asker<'_>) -> Result<Ack, DeskError> {
        let desk = self.clone();
        self.finish_later(asker.inv.token.clone(), async move {
            let started = std::time::Instant::now();
            let database = match desk.store.ping().await {
                Ok(()) => format!(
                    "✅ {} answered in {:.1} ms",
                    desk.store.kind(),
                    started.elapsed().as_secs_f64() * 1000.0
                ),
                Err(e) => format!("❌ {e}"),
            };
            let llm = match tokio::time::timeout(Duration::from_secs(10), desk.llm.health()).await {
                Ok(Ok(rtt)) => format!(
                    "✅ {} answered in {:.0} ms",
                    desk.llm.provider(),
                    rtt.as_secs_f64() * 1000.0
                ),
                Ok(Err(e)) => format!("❌ {}: {e}", desk.llm.provider()),
                Err(_) => format!("❌ {}: no answer within 10 s", desk.llm.provider()),
            };
            let problem = desk.discord.gateway_problem();
            let gateway = match desk.discord.gateway_state() {
                disconcierge_discord::GatewayState::Connected { since } => match problem {
                    Some(p) if p.degraded => format!(
                        "⚠️ connected since {}, after Discord closed it with {}",
                        markup::relative_time(since),
                        p.summary()
                    ),
                    _ => format!(
                        "✅ connected since {}{}",
                        markup::relative_time(since),
                        desk.discord.gateway_shards_text()
                    ),
                },
                disconcierge_discord::GatewayState::Standby => {
                    "✅ standing by (the other instances hold every shard)".to_string()
                }
                disconcierge_discord::GatewayState::Connecting => match problem {
                    Some(p) => format!("❌ not connected (reconnecting after {})", p.summary()),
                    None => "❌ not connected (reconnecting)".to_string(),
                },
                disconcierge_discord::GatewayState::Failed(p) => {
                    format!("❌ stopped: {}", p.summary())
                }
                disconcierge_discord::GatewayState::NotRunning => {
                    "not used (interactions arrive by webhook)".to_string()
                }
            };
            let queue = match desk.store.queued_count().await {
                Ok(n) => format!("{n} chat command{} waiting", if n == 1 { "" } else { "s" }),
                Err(e) => format!("unknown ({e})"),
            };
            let messages = match desk.discord.message_content_advice() {
                Some(advice) => format!("\nTicket messages: ⚠️ received without their text: {advice}"),
                None => String::new(),
            };
            Ok(Reply::private(format!(
                "**Status**\nGateway: {gateway}{messages}\nDatabase: {database}\nAI backend: {llm}\nQueue: {queue}"
            )))
        });
        Ok(defer_private())
    }
}

/// Streams the text being generated into one message in the thread: posted once there is text, then
/// edited at most once per [`crate::chat::EDIT_INTERVAL`]. Returns that message's id (the final answer
/// replaces it), or `None` when nothing was posted.
async fn stream_to_thread(
    discord: disconcierge_discord::Discord,
    thread: u64,
    mut text: watch::Receiver<String>,
) -> Option<u64> {
    let mut message: Option<u64> = None;
    loop {
        if text.changed().await.is_err() {
            return message;
        }
        let current = text.borrow_and_update().clone();
        if current.trim().is_empty() {
            continue;
        }
        let preview = split_message(&current, DISCORD_SAFE_LIMIT - 2)
            .into_iter()
            .next()
            .unwrap_or_default();
        let shown = format!("{preview} …");
        match message {
            None => match discord.send(thread, &Reply::text(&shown)).await {
                Ok(m) => message = Some(m.message_id),
                Err(e) => tracing::warn!(error = %e, "could not show the answer in progress"),
            },
            Some(id) => {
                if let Err(e) = discord.edit(thread, id, &shown, &Controls::None).await {
                    tracing::warn!(error = %e, "could not show the answer in progress");
                }
            }
        }
        // Wait out the interval, but return as soon as generation ends: the final answer must not wait.
        let pause = tokio::time::sleep(crate::chat::EDIT_INTERVAL);
        tokio::pin!(pause);
        let mut changed_meanwhile = false;
        loop {
            tokio::select! {
                _ = &mut pause => break,
                changed = text.changed() => {
                    if changed.is_err() {
                        return message;
                    }
                    changed_meanwhile = true;
                }
            }
        }
        if changed_meanwhile {
            // Show it now rather than waiting for the next change.
            text.mark_changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_go_under_answers_unless_empty() {
        assert_eq!(with_note("A", "-# note"), "A\n-# note");
        assert_eq!(with_note("A", " "), "A");
    }
}
