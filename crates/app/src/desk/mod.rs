//! The support desk: tickets in forum channels answered by the AI, trained answers and knowledge bases.
//!
//! Everything is per guild and lives in the database (settings from `/setup`, tickets, their messages,
//! training data, knowledge bases), so panels and buttons keep working after a restart and on any
//! instance. Commands that only read or write the database answer at once; those that call Discord or
//! the LLM first acknowledge ("thinking…") and finish in a task.
//!
//! * [`tickets`]: `/setup`, `/ticket_panel`, opening, escalating, closing, `/ticket_info`, idle tickets.
//! * [`answers`]: the reply to a message in a ticket (trained answer, LLM with retrieved context, or the
//!   fallbacks), and `/test_ai`.
//! * [`knowledge`]: trained answers and knowledge bases, with their imports and exports.
//! * [`idle`]: warning and closing tickets nobody writes in.
//! * [`lifecycle`]: a ticket's Claim, Close (with confirmation) and Reopen buttons.
//! * [`policy`]: the switches (AI replies, training) and the per-member limits on AI replies.

pub(crate) mod answers;
pub(crate) use policy::Switches;
mod idle;
mod knowledge;
mod lifecycle;
mod policy;
mod tickets;

use crate::runtime_config::RuntimeConfigService;
use crate::settings::LlmSettings;
use disconcierge_core::secret::InteractionToken;
use disconcierge_discord::Discord;
use disconcierge_discord::desk::{DeskButton, DeskCommand, DeskRequest, Member, Reply};
use disconcierge_discord::router::{Ack, GuildMessage, Invocation};
use disconcierge_llm::LlmBackend;
use disconcierge_store::Store;
use std::sync::Arc;

/// Rows per page of `/training_list` and `/kb_view`.
const PAGE_SIZE: u32 = 10;

pub struct Desk {
    pub store: Arc<dyn Store>,
    pub runtime: RuntimeConfigService,
    pub llm: Arc<dyn LlmBackend>,
    pub llm_settings: LlmSettings,
    pub discord: Discord,
    /// The desk's own LLM budget (`desk_llm_requests_per_second`), apart from `/chat`'s.
    pub rate: Arc<crate::rate::LlmRate>,
    /// One reply at a time per ticket, in the order its messages arrived (striped by ticket id).
    pub reply_locks: TicketLocks,
    /// The backend's embedding model (`DC_OPENAI_EMBEDDING_MODEL` / `DC_OLLAMA_EMBEDDING_MODEL`); `None`:
    /// full-text ranking only.
    pub embedding_model: Option<String>,
    /// Wakes the embedder when entries were added or changed.
    pub embed_wake: tokio::sync::Notify,
    /// This instance, as the holder of the replies it is writing (`DC_INSTANCE_ID`).
    pub instance_id: String,
    /// How long a claim on a reply lasts unless renewed (`DC_QUEUE_LEASE`, as for chat commands).
    pub reply_lease: std::time::Duration,
    /// Whether any server uses the desk: set at startup from the store and by `/setup`. The admin
    /// interface warns while it is set and messages arrive without their text.
    pub desk_in_use: Arc<std::sync::atomic::AtomicBool>,
    /// `DC_DESK_AI_REPLIES`: replies in tickets are allowed in every server (each may turn them off).
    pub ai_replies: bool,
    /// `DC_DESK_TRAINING`: training is allowed in every server (each may turn it off).
    pub training: bool,
}

/// Entries embedded per request to the backend.
const EMBED_BATCH: u32 = 64;
/// How often the embedder looks for entries without an embedding when nobody woke it (entries added by
/// another instance, or an import that finished after its command returned).
const EMBED_POLL: std::time::Duration = std::time::Duration::from_secs(5);
/// How long the embedder waits after the backend failed.
const EMBED_BACKOFF: std::time::Duration = std::time::Duration::from_secs(30);

/// Per-ticket locks, striped: bounded memory, and tickets in different stripes never wait for each other.
pub struct TicketLocks([tokio::sync::Mutex<()>; 64]);

impl Default for TicketLocks {
    fn default() -> Self {
        TicketLocks(std::array::from_fn(|_| tokio::sync::Mutex::new(())))
    }
}

impl TicketLocks {
    async fn lock(&self, ticket_id: i64) -> tokio::sync::MutexGuard<'_, ()> {
        self.0[(ticket_id.unsigned_abs() % 64) as usize]
            .lock()
            .await
    }
}

/// What went wrong handling a desk request, worded for the member who made it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeskError {
    /// Something the member can fix (bad input, wrong place, missing permission).
    #[error("{0}")]
    User(String),
    #[error("the database failed: {0}")]
    Store(#[from] disconcierge_store::StoreError),
    #[error("Discord refused: {0}")]
    Discord(#[from] disconcierge_discord::DiscordError),
}

impl DeskError {
    /// The text for the member: their own mistake as is, our failures as an apology (details in the log).
    fn for_member(&self, config_error: &str) -> String {
        match self {
            DeskError::User(text) => text.clone(),
            DeskError::Discord(e) => format!(
                "Discord refused what I tried to do ({e}). Check that I can view the channel, send \
                 messages, create posts and manage threads there."
            ),
            DeskError::Store(_) => config_error.to_string(),
        }
    }
}

pub(crate) fn user_error<T>(text: impl Into<String>) -> Result<T, DeskError> {
    Err(DeskError::User(text.into()))
}

/// Who is asking, where.
pub(crate) struct Asker<'a> {
    pub inv: &'a Invocation,
    pub guild_id: u64,
    pub member: Member,
}

impl Desk {
    /// Decides the initial response to a support-desk interaction.
    pub async fn on_request(
        self: &Arc<Self>,
        invocation: Invocation,
        member: Option<Member>,
        request: DeskRequest,
    ) -> Ack {
        let Some(guild_id) = invocation.guild_id else {
            return Ack::Reply(Reply::private("This works only in a server."));
        };
        let asker = Asker {
            inv: &invocation,
            guild_id,
            member: member.unwrap_or_default(),
        };
        let changes_entries = matches!(
            request,
            DeskRequest::Command(
                DeskCommand::Train { .. }
                    | DeskCommand::KbAdd { .. }
                    | DeskCommand::KbImport { .. }
                    | DeskCommand::ImportTraining { .. }
            )
        );
        let result = match request {
            DeskRequest::Command(command) => self.command(&asker, command).await,
            DeskRequest::Button(button) => self.button(&asker, button).await,
        };
        if changes_entries {
            self.embed_wake.notify_one();
        }
        match result {
            Ok(ack) => ack,
            Err(e) => {
                if !matches!(e, DeskError::User(_)) {
                    tracing::error!(error = %e, interaction = invocation.interaction_id, "support desk request failed");
                }
                let config = self.runtime.current().config.clone();
                Ack::Reply(Reply::private(e.for_member(&config.discord_error_message)))
            }
        }
    }

    /// Refuses members who are not staff (the staff role from `/setup`, or Manage Server).
    pub(crate) async fn require_staff(&self, asker: &Asker<'_>) -> Result<(), DeskError> {
        if self.is_staff(asker).await? {
            return Ok(());
        }
        user_error("Only staff can do this (the staff role from /setup, or Manage Server).")
    }

    /// Whether the member is staff: the staff role from `/setup`, or Manage Server.
    pub(crate) async fn is_staff(&self, asker: &Asker<'_>) -> Result<bool, DeskError> {
        let settings = self.store.guild_settings(asker.guild_id).await?;
        Ok(asker.member.is_staff(settings.map(|s| s.staff_role_id)))
    }

    async fn command(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        command: DeskCommand,
    ) -> Result<Ack, DeskError> {
        if !command.for_members() && !matches!(command, DeskCommand::Setup { .. }) {
            self.require_staff(asker).await?;
        }
        match command {
            setup @ DeskCommand::Setup { .. } => self.setup(asker, setup).await,
            DeskCommand::TicketPanel {
                title,
                description,
                categories,
            } => {
                self.ticket_panel(asker, title, description, categories)
                    .await
            }
            DeskCommand::CloseTicket { reason } => self.close_command(asker, reason).await,
            DeskCommand::TicketInfo => self.ticket_info(asker).await,
            DeskCommand::TicketAdd { member } => self.ticket_member(asker, member, true).await,
            DeskCommand::TicketRemove { member } => self.ticket_member(asker, member, false).await,
            DeskCommand::Train {
                question,
                answer,
                category,
                tags,
            } => self.train(asker, question, answer, category, tags).await,
            DeskCommand::TrainingList { category, page } => {
                Ok(Ack::Reply(self.training_page(asker, category, page).await?))
            }
            DeskCommand::TrainingDelete { id } => self.training_delete(asker, id).await,
            DeskCommand::TrainingStats => self.training_stats(asker).await,
            DeskCommand::KbCreate { name, description } => {
                self.kb_create(asker, name, description).await
            }
            DeskCommand::KbAdd {
                kb,
                title,
                content,
                tags,
            } => self.kb_add(asker, kb, title, content, tags).await,
            DeskCommand::KbList => self.kb_list(asker).await,
            DeskCommand::KbView { kb, page } => {
                let kb = self.kb_named(asker.guild_id, &kb).await?;
                Ok(Ack::Reply(self.kb_page(asker, kb.id, page).await?))
            }
            DeskCommand::KbSearch { kb, query } => self.kb_search(asker, kb, query).await,
            DeskCommand::KbExport { kb } => self.kb_export(asker, kb).await,
            DeskCommand::KbImport { kb, file } => self.kb_import(asker, kb, file).await,
            DeskCommand::KbDelete { kb } => self.kb_delete(asker, kb).await,
            DeskCommand::Status => self.status(asker).await,
            DeskCommand::TestAi { prompt } => self.test_ai(asker, prompt).await,
            DeskCommand::ExportTraining => self.export_training(asker).await,
            DeskCommand::ImportTraining { file } => self.import_training(asker, file).await,
        }
    }

    async fn button(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        button: DeskButton,
    ) -> Result<Ack, DeskError> {
        use disconcierge_discord::desk::PagedList;
        match button {
            DeskButton::OpenTicket { category } => self.open_ticket(asker, category).await,
            DeskButton::TalkToHuman { ticket_id } => self.escalate(asker, ticket_id).await,
            DeskButton::ResumeAi { ticket_id } => self.resume_ai(asker, ticket_id).await,
            DeskButton::Page { list, page } => {
                self.require_staff(asker).await?;
                Ok(Ack::Update(match list {
                    PagedList::Training { category } => {
                        self.training_page(asker, category, page).await?
                    }
                    PagedList::Knowledge { kb_id } => self.kb_page(asker, kb_id, page).await?,
                }))
            }
            DeskButton::ConfirmKbDelete { kb_id } => {
                self.require_staff(asker).await?;
                self.kb_delete_confirmed(asker, kb_id).await
            }
            DeskButton::KeepKb { .. } => {
                Ok(Ack::Update(Reply::private("Kept: nothing was deleted.")))
            }
            DeskButton::Claim { ticket_id } => self.claim(asker, ticket_id).await,
            DeskButton::Close { ticket_id } => self.close_button(asker, ticket_id).await,
            DeskButton::ConfirmClose { ticket_id } => self.confirm_close(asker, ticket_id).await,
            DeskButton::KeepOpen { ticket_id } => self.keep_open(asker, ticket_id).await,
            DeskButton::Reopen { ticket_id } => self.reopen(asker, ticket_id).await,
        }
    }

    /// A user's message in a guild: answered when it is in an open ticket.
    pub fn guild_message(self: &Arc<Self>, message: GuildMessage) {
        let desk = self.clone();
        tokio::spawn(async move {
            if let Err(e) = desk.ticket_message(message).await {
                tracing::error!(error = %e, "could not handle a message in a ticket");
            }
        });
    }

    /// Runs `work` after the acknowledgement, and puts its result (or what went wrong) in the deferred
    /// response.
    pub(crate) fn finish_later<F>(self: &Arc<Self>, token: InteractionToken, work: F)
    where
        F: std::future::Future<Output = Result<Reply, DeskError>> + Send + 'static,
    {
        let desk = self.clone();
        tokio::spawn(async move {
            let reply = match work.await {
                Ok(reply) => reply,
                Err(e) => {
                    if !matches!(e, DeskError::User(_)) {
                        tracing::error!(error = %e, "support desk request failed");
                    }
                    let config = desk.runtime.current().config.clone();
                    Reply::private(e.for_member(&config.discord_error_message))
                }
            };
            if let Err(e) = desk.discord.edit_original_reply(&token, &reply).await {
                tracing::warn!(error = %e, "could not answer a support desk command");
            }
        });
    }
}

impl Desk {
    /// Once at startup: notes whether any server uses the desk and, if one does while the gateway
    /// receives messages without their text, says in the log which switch to turn on.
    pub async fn check_message_content(self: Arc<Self>) {
        let guilds = match self.store.desk_guilds().await {
            Ok(guilds) => guilds,
            Err(e) => {
                tracing::warn!(error = %e, "could not read which servers use the support desk");
                return;
            }
        };
        if guilds.is_empty() {
            return;
        }
        self.desk_in_use
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(advice) = self.discord.message_content_advice() {
            tracing::warn!(
                servers = guilds.len(),
                "the support desk is used but the bot receives messages without their text, so the AI \
                 cannot read tickets: {advice}"
            );
        }
    }

    /// Computes the embeddings of entries that have none for the configured model (new entries, changed
    /// questions, or a new model), in batches, until cancelled. Does nothing without an embedding model.
    /// Every instance may run it: at worst two compute the same vector once.
    pub async fn run_embedder(self: Arc<Self>, cancel: tokio_util::sync::CancellationToken) {
        let Some(model) = self.embedding_model.clone() else {
            return;
        };
        let pause = |d| {
            let cancel = cancel.clone();
            let desk = self.clone();
            async move {
                tokio::select! {
                    _ = cancel.cancelled() => false,
                    _ = desk.embed_wake.notified() => true,
                    _ = tokio::time::sleep(d) => true,
                }
            }
        };
        loop {
            let batch = match self
                .store
                .entries_missing_embedding(&model, EMBED_BATCH)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for entries to embed");
                    if !pause(EMBED_BACKOFF).await {
                        return;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                if !pause(EMBED_POLL).await {
                    return;
                }
                continue;
            }
            let texts: Vec<String> = batch.iter().map(|(_, _, t)| t.clone()).collect();
            let config = self.runtime.current().config.clone();
            self.rate.acquire(config.desk_llm_requests_per_second).await;
            match self.llm.embed(&texts).await {
                Ok(Some(vectors)) if vectors.len() == batch.len() => {
                    for ((kind, id, _), vector) in batch.iter().zip(&vectors) {
                        if let Err(e) = self
                            .store
                            .set_entry_embedding(*kind, *id, &model, vector)
                            .await
                        {
                            tracing::warn!(error = %e, entry = id, "could not store an embedding");
                        }
                    }
                    tracing::debug!(count = batch.len(), "entries embedded");
                }
                Ok(other) => {
                    tracing::warn!(
                        got = other.map(|v| v.len()),
                        asked = batch.len(),
                        "the backend returned no embedding for some entries; retrying later"
                    );
                    if !pause(EMBED_BACKOFF).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not compute embeddings; retrying later");
                    if !pause(EMBED_BACKOFF).await {
                        return;
                    }
                }
            }
            if cancel.is_cancelled() {
                return;
            }
        }
    }
}

/// "thinking…", visible only to the member (the answer replaces it).
pub(crate) fn defer_private() -> Ack {
    Ack::Defer { ephemeral: true }
}

/// Number of pages for `total` rows (at least one, so "page 1 of 1" for an empty list).
pub(crate) fn pages(total: u64) -> u32 {
    (total.div_ceil(u64::from(PAGE_SIZE)).max(1)).min(u64::from(u32::MAX)) as u32
}

/// A text cut to `max` characters with an ellipsis, on one line (for lists).
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut out: String = flat.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_excerpts() {
        assert_eq!(pages(0), 1);
        assert_eq!(pages(10), 1);
        assert_eq!(pages(11), 2);
        assert_eq!(excerpt("a  b\nc", 10), "a b c");
        assert_eq!(excerpt("abcdefghij", 5), "abcd…");
    }
}
