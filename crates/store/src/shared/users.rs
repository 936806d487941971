//! [`crate::UserStore`]: discord users: their usage settings, flags and conversations.

use super::*;

#[async_trait]
impl crate::UserStore for Backend {
    async fn upsert_user(
        &self,
        discord_id: u64,
        username: &str,
        global_name: Option<&str>,
    ) -> Result<User, StoreError> {
        let row = sqlx::query(sql::UPSERT_USER)
            .bind(id(discord_id))
            .bind(username)
            .bind(global_name)
            .bind(ts(Utc::now()))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await?;
        Ok(user_from_row(&row)?)
    }

    async fn user(&self, discord_id: u64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(sql::USER)
            .bind(id(discord_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn list_users(&self, filter: &UserFilter, limit: u32) -> Result<Vec<User>, StoreError> {
        let mut q = list_users_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        map_rows(rows, user_from_row)
    }

    async fn set_user_priority(&self, discord_id: u64, priority: bool) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_PRIORITY)
                .bind(id(discord_id))
                .bind(priority)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_ignored(&self, discord_id: u64, ignored: bool) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_IGNORED)
                .bind(id(discord_id))
                .bind(ignored)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_limit_override(
        &self,
        discord_id: u64,
        limit: Option<u32>,
    ) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_LIMIT_OVERRIDE)
                .bind(id(discord_id))
                .bind(limit.map(i64::from))
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_llm_overrides(
        &self,
        discord_id: u64,
        model: Option<String>,
        instructions: Option<String>,
        temperature: Option<f32>,
    ) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_LLM_OVERRIDES)
                .bind(id(discord_id))
                .bind(model)
                .bind(instructions)
                .bind(temperature)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn set_user_conversation(
        &self,
        discord_id: u64,
        conversation_id: Option<String>,
    ) -> Result<User, StoreError> {
        self.user_update(
            sqlx::query(sql::SET_USER_CONVERSATION)
                .bind(id(discord_id))
                .bind(conversation_id)
                .bind(ts(Utc::now())),
        )
        .await
    }

    async fn clear_all_conversations(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(sql::CLEAR_ALL_CONVERSATIONS)
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?
            .rows_affected())
    }
}
