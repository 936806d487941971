//! Admin accounts, their sessions and API tokens.

use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use disconcierge_core::model::{AdminAccount, AdminSession, ApiToken};

/// Admin accounts, their sessions and API tokens. A supertrait of [`crate::Store`]; both backends
/// implement it.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Creates an admin. Usernames are unique regardless of case ([`StoreError::AlreadyExists`]); the
    /// spelling given here is kept for display. `password_hash` is the caller's argon2id PHC string.
    async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<AdminAccount, StoreError>;

    async fn admin(&self, id: i64) -> Result<Option<AdminAccount>, StoreError>;

    /// Looks an admin up by username, ignoring case (for logins).
    async fn admin_by_username(&self, username: &str) -> Result<Option<AdminAccount>, StoreError>;

    /// Every admin, by username.
    async fn list_admins(&self) -> Result<Vec<AdminAccount>, StoreError>;

    /// How many admins exist (zero means the setup flow must create the first one).
    async fn count_admins(&self) -> Result<u64, StoreError>;

    /// Replaces an admin's password hash and, in the same transaction, revokes all of that admin's
    /// sessions: whoever knew the old password is logged out. Create a new session afterwards to keep the
    /// current user logged in.
    async fn update_admin_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError>;

    /// Deletes an admin and their sessions.
    async fn delete_admin(&self, id: i64) -> Result<(), StoreError>;

    /// Records a session. `token_hash` is a hash of the session token (never the token itself), so a copy
    /// of the database does not hand out logins.
    async fn create_admin_session(
        &self,
        admin_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<AdminSession, StoreError>;

    /// The session with this token hash, if it exists and has not expired.
    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>, StoreError>;

    /// Logs one session out. Returns whether it existed.
    async fn delete_admin_session(&self, token_hash: &str) -> Result<bool, StoreError>;

    /// Logs an admin out everywhere. Returns how many sessions were removed.
    async fn delete_admin_sessions_for(&self, admin_id: i64) -> Result<u64, StoreError>;

    /// Stores a new API token (its hash); `NotFound` when the admin does not exist.
    async fn create_api_token(
        &self,
        admin_id: i64,
        name: &str,
        token_hash: &str,
        prefix: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, StoreError>;

    /// The unexpired token with this hash.
    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;

    /// Every token, newest first (expired ones too, so they can be seen and removed).
    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a token; false when there was none with this id.
    async fn delete_api_token(&self, id: i64) -> Result<bool, StoreError>;

    /// Records that a token was used at `at`.
    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Removes expired sessions (housekeeping). Returns how many were removed.
    async fn delete_expired_sessions(&self) -> Result<u64, StoreError>;
}
