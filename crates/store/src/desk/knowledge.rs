//! [`KnowledgeStore`]: knowledge bases and the full-text retrieval over trained answers and entries.

use super::KbCreated;
use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{EntryKind, KbEntry, KnowledgeBase, NewKbEntry, TextMatch};

/// The support desk's knowledge bases and the full-text retrieval over trained answers and entries.
/// Part of [`super::DeskStore`].
#[async_trait]
pub trait KnowledgeStore: Send + Sync {
    // ----- Knowledge bases -----

    /// Creates a knowledge base, or returns the guild's one of the same name (ignoring case) unchanged.
    /// The name is trimmed; an empty one is an [`StoreError::InvalidArgument`].
    async fn create_kb(
        &self,
        guild_id: u64,
        name: &str,
        description: Option<&str>,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbCreated, StoreError>;

    /// The guild's knowledge base of this name, ignoring case.
    async fn kb_by_name(
        &self,
        guild_id: u64,
        name: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError>;

    async fn kb(&self, guild_id: u64, id: i64) -> Result<Option<KnowledgeBase>, StoreError>;

    /// The guild's knowledge bases by name (ignoring case), with their entry counts.
    async fn list_kbs(&self, guild_id: u64) -> Result<Vec<KnowledgeBase>, StoreError>;

    /// Adds an entry (in the knowledge base's guild). [`StoreError::NotFound`] if there is no such
    /// knowledge base; an empty title or content is an [`StoreError::InvalidArgument`].
    async fn add_kb_entry(
        &self,
        kb_id: i64,
        entry: &NewKbEntry,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError>;

    /// The guild's knowledge-base entry `id` (of any of its knowledge bases).
    async fn kb_entry(&self, guild_id: u64, id: i64) -> Result<Option<KbEntry>, StoreError>;

    /// Replaces an entry's title, content and tags (`updated_at = now`; its knowledge base, author and
    /// `created_at` kept; the embedding cleared if the title or content changed).
    /// [`StoreError::NotFound`] if the guild has no such entry; an empty title or content is an
    /// [`StoreError::InvalidArgument`].
    async fn update_kb_entry(
        &self,
        guild_id: u64,
        id: i64,
        entry: &NewKbEntry,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError>;

    /// Deletes one entry (and its index row). `false` if the guild has no such entry.
    async fn delete_kb_entry(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;

    /// A page of the knowledge base's entries, by id, and how many there are in all.
    async fn kb_entries(
        &self,
        kb_id: i64,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<KbEntry>, u64), StoreError>;

    /// Every entry of the knowledge base, by id (for export).
    async fn all_kb_entries(&self, kb_id: i64) -> Result<Vec<KbEntry>, StoreError>;

    /// Appends the entries in one transaction (nothing written if any fails) and returns the new entries'
    /// ids, in order. Errors as [`KnowledgeStore::add_kb_entry`].
    async fn import_kb_entries(
        &self,
        kb_id: i64,
        entries: &[NewKbEntry],
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError>;

    /// Deletes the knowledge base with its entries (and their index rows). `false` if there is no such
    /// knowledge base in this guild.
    async fn delete_kb(&self, guild_id: u64, id: i64) -> Result<bool, StoreError>;

    // ----- Retrieval -----

    /// Full-text search of the guild's trained answers, best first, at most `limit`: the question weighs
    /// more than the tags, which weigh more than the answer. `terms` are those of
    /// [`query_terms`](disconcierge_core::desk::retrieval::query_terms) (letters and digits; any other
    /// character is dropped here); an entry matches if any term does, after stemming ("passwords" finds
    /// "password"). No usable term: no match. Each match carries its embedding only if it was computed
    /// with `embedding_model`. Reads the full-text index, never every entry.
    async fn search_training(
        &self,
        guild_id: u64,
        terms: &[String],
        limit: u32,
        embedding_model: Option<&str>,
    ) -> Result<Vec<TextMatch>, StoreError>;

    /// The same for knowledge-base entries (title above tags above content), of every knowledge base of
    /// the guild or only of `kb_id`. [`TextMatch::source`] is the knowledge base's name.
    async fn search_knowledge(
        &self,
        guild_id: u64,
        kb_id: Option<i64>,
        terms: &[String],
        limit: u32,
        embedding_model: Option<&str>,
    ) -> Result<Vec<TextMatch>, StoreError>;

    /// Entries of every guild with no embedding from `model` (never computed, computed with another
    /// model, or cleared because the text changed), at most `limit`: the kind, the id and the text to
    /// embed (a trained answer's question; a knowledge entry's title, a newline and its content).
    async fn entries_missing_embedding(
        &self,
        model: &str,
        limit: u32,
    ) -> Result<Vec<(EntryKind, i64, String)>, StoreError>;

    /// Stores an entry's embedding (as little-endian `f32` bytes) and the model that computed it. An entry
    /// deleted meanwhile is skipped without error; an empty vector is an
    /// [`StoreError::InvalidArgument`].
    async fn set_entry_embedding(
        &self,
        kind: EntryKind,
        id: i64,
        model: &str,
        vector: &[f32],
    ) -> Result<(), StoreError>;
}
