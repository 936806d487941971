//! Discord users: their usage settings, flags and conversations.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::model::{User, UserFilter};

/// Discord users: their usage settings, flags and conversations. A supertrait of [`crate::Store`]; both
/// backends implement it.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Records a user seen on Discord, or refreshes their names. Settings (priority, ignored, limits, LLM
    /// overrides, conversation) of an existing user are kept.
    async fn upsert_user(
        &self,
        discord_id: u64,
        username: &str,
        global_name: Option<&str>,
    ) -> Result<User, StoreError>;

    async fn user(&self, discord_id: u64) -> Result<Option<User>, StoreError>;

    /// Users matching `filter`, in its order, at most `limit`.
    async fn list_users(&self, filter: &UserFilter, limit: u32) -> Result<Vec<User>, StoreError>;

    /// Priority users go first in the queue. Applies to commands recorded from now on.
    async fn set_user_priority(&self, discord_id: u64, priority: bool) -> Result<User, StoreError>;

    async fn set_user_ignored(&self, discord_id: u64, ignored: bool) -> Result<User, StoreError>;

    /// Commands per 6 hours for this user; `None` returns to the configured default.
    async fn set_user_limit_override(
        &self,
        discord_id: u64,
        limit: Option<u32>,
    ) -> Result<User, StoreError>;

    /// Per-user LLM settings; each `None` returns that setting to the configured default.
    async fn set_user_llm_overrides(
        &self,
        discord_id: u64,
        model: Option<String>,
        instructions: Option<String>,
        temperature: Option<f32>,
    ) -> Result<User, StoreError>;

    /// The user's current LLM conversation; `None` makes the next command start a new one (`/clear`).
    async fn set_user_conversation(
        &self,
        discord_id: u64,
        conversation_id: Option<String>,
    ) -> Result<User, StoreError>;

    /// Every user's next `/chat` starts a new conversation (the admin action "clear all conversations"):
    /// forgets every OpenAI conversation and marks `now` as where kept histories start. How many users.
    async fn clear_all_conversations(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}
