//! Logs (interactions, LLM calls, messages about the bot, `/clear`) and members' feedback.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::model::{
    ClearCommand, DiscordMessage, DiscordMessageFilter, FeedbackFilter, FeedbackKind,
    InteractionLog, InteractionLogFilter, LlmCallLog, StoredDiscordMessage, StoredFeedback,
    StoredInteractionLog, StoredLlmCall, UserFeedback,
};
use std::collections::BTreeMap;

/// Logs (interactions, LLM calls, messages about the bot, `/clear`) and members' feedback. A supertrait
/// of [`crate::Store`]; both backends implement it.
#[async_trait]
pub trait LogStore: Send + Sync {
    /// Returns the new row's id.
    async fn insert_interaction_log(&self, log: &InteractionLog) -> Result<i64, StoreError>;

    /// Several at once, in one statement (the interaction logger batches what arrives together).
    async fn insert_interaction_logs(&self, logs: &[InteractionLog]) -> Result<(), StoreError>;

    /// Returns the new row's id.
    async fn insert_discord_message(&self, message: &DiscordMessage) -> Result<i64, StoreError>;

    /// The latest `limit` kept messages, newest first.
    async fn recent_discord_messages(&self, limit: u32) -> Result<Vec<DiscordMessage>, StoreError>;

    /// Returns the new row's id.
    async fn insert_llm_call_log(&self, log: &LlmCallLog) -> Result<i64, StoreError>;

    /// Inserts several call logs, in the order given, in one statement: under load the logs of many
    /// answers cost one write instead of one each (the caller keeps batches to a few hundred, so that
    /// the write stays short). All or none: when one cannot be inserted (it names a command that is not
    /// there), none is, and the caller may insert them one by one with [`LogStore::insert_llm_call_log`].
    async fn insert_llm_call_logs(&self, logs: &[LlmCallLog]) -> Result<(), StoreError>;

    /// Records a `/clear`. An interaction recorded twice gives [`StoreError::AlreadyExists`]. Returns the
    /// new row's id.
    async fn insert_clear_command(&self, clear: &ClearCommand) -> Result<i64, StoreError>;

    /// When the user last used `/clear` (for its cooldown).
    async fn last_clear_command(&self, user_id: u64) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records feedback. Returns `false`, without error, for a repeated vote (same user, answer and
    /// kind), which is not recorded; free-text [`FeedbackKind::Other`] is always recorded. The chat
    /// command must exist ([`StoreError::NotFound`]).
    async fn insert_user_feedback(&self, feedback: &UserFeedback) -> Result<bool, StoreError>;

    /// Every LLM call made for one chat command, oldest first.
    /// Messages about the bot matching `filter`, newest first, at most `limit` (each filter served by an
    /// index).
    async fn list_discord_messages(
        &self,
        filter: &DiscordMessageFilter,
        limit: u32,
    ) -> Result<Vec<StoredDiscordMessage>, StoreError>;

    /// Interaction logs matching `filter`, newest first, at most `limit` (each filter served by an index).
    async fn list_interaction_logs(
        &self,
        filter: &InteractionLogFilter,
        limit: u32,
    ) -> Result<Vec<StoredInteractionLog>, StoreError>;

    async fn interaction_log(&self, id: i64) -> Result<Option<StoredInteractionLog>, StoreError>;

    /// Feedback matching `filter`, newest first, at most `limit` (each filter served by an index).
    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError>;

    async fn llm_calls_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredLlmCall>, StoreError>;

    /// Every feedback received on one answer, oldest first.
    async fn feedback_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredFeedback>, StoreError>;

    /// The latest feedback a user gave, newest first, at most `limit`.
    async fn feedback_by_user(
        &self,
        user_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError>;

    /// Votes per kind on one answer; kinds without votes are absent.
    async fn feedback_counts(
        &self,
        chat_command_id: i64,
    ) -> Result<BTreeMap<FeedbackKind, u32>, StoreError>;
}
