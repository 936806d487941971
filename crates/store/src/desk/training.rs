//! [`TrainingStore`]: trained answers.

use super::ImportReport;
use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{
    NewTrainingEntry, TrainOutcome, TrainingEntry, TrainingStats,
};
use disconcierge_core::desk::ticket_bot::ImportedTraining;

/// The support desk's trained answers. Part of [`super::DeskStore`].
#[async_trait]
pub trait TrainingStore: Send + Sync {
    // ----- Trained answers -----

    /// Saves a trained answer, unique by its question's key in the guild
    /// ([`question_key`](disconcierge_core::desk::retrieval::question_key): case, punctuation and spacing
    /// do not matter). A known question is updated: question text and answer replaced, category and tags
    /// replaced when given (kept when `None` / empty), `updated_at = now`, `created_at`, `created_by` and `uses` kept, and the embedding cleared if the
    /// question's text changed (the embedding is of the question). A question without any word, or an
    /// empty answer, is an [`StoreError::InvalidArgument`].
    async fn train(
        &self,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainOutcome, StoreError>;

    async fn training_entry(
        &self,
        guild_id: u64,
        id: i64,
    ) -> Result<Option<TrainingEntry>, StoreError>;

    /// A page of the guild's entries (only those of `category`, exactly, when given), by id, and how many
    /// there are in all.
    async fn list_training(
        &self,
        guild_id: u64,
        category: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<TrainingEntry>, u64), StoreError>;

    /// Edits a trained answer of `entry.guild_id` (`entry.created_by` is ignored: the author is kept):
    /// question, answer, category and tags are replaced as given (`None` / empty clear them, unlike
    /// [`TrainingStore::train`]), `updated_at = now`; `uses`, `last_used_at` and `created_*` are kept, and the
    /// embedding is cleared if the question's text changed. [`StoreError::NotFound`] if there is no such
    /// entry in the guild, [`StoreError::AlreadyExists`] if another entry of the guild has the same
    /// question (by its key), [`StoreError::InvalidArgument`] as for `train`.
    async fn update_training(
        &self,
        id: i64,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainingEntry, StoreError>;

    /// `false` if there is no such entry in this guild.
    async fn delete_training(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;

    /// The guild's entry counts (categories most first, then by name, uncategorised last among equals),
    /// its five most used entries (never used ones left out), and its tickets' bot replies produced by
    /// the LLM, a trained answer or a fallback (of which `trained_replies` by a trained answer).
    async fn training_stats(&self, guild_id: u64) -> Result<TrainingStats, StoreError>;

    /// `uses` + 1 and `last_used_at = now` for each entry (an id given twice counts once), in one
    /// statement. Unknown ids are ignored.
    async fn record_training_use(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Every entry of the guild, by id.
    async fn export_training(&self, guild_id: u64) -> Result<Vec<TrainingEntry>, StoreError>;

    /// Trains every entry ([`TrainingStore::train`] semantics, in order) in one transaction: if any fails,
    /// nothing is written.
    async fn import_training(
        &self,
        entries: &[NewTrainingEntry],
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError>;

    /// As [`TrainingStore::import_training`], each entry's `uses` raised to at least the count given
    /// (another bot's usage counts): importing the same entries again changes nothing.
    async fn import_counted_training(
        &self,
        entries: &[ImportedTraining],
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError>;
}
