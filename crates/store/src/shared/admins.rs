//! [`crate::AdminStore`]: admin accounts, their sessions and API tokens.

use super::*;

#[async_trait]
impl crate::AdminStore for Backend {
    async fn create_admin(
        &self,
        username: &str,
        password_hash: &str,
    ) -> Result<AdminAccount, StoreError> {
        let row = sqlx::query(sql::INSERT_ADMIN)
            .bind(username)
            .bind(crate::username_key(username))
            .bind(password_hash)
            .bind(ts(Utc::now()))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "admin account", "admin account"))?;
        Ok(admin_from_row(&row)?)
    }

    async fn admin(&self, id: i64) -> Result<Option<AdminAccount>, StoreError> {
        let row = sqlx::query(sql::ADMIN_BY_ID)
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(admin_from_row).transpose()?)
    }

    async fn admin_by_username(&self, username: &str) -> Result<Option<AdminAccount>, StoreError> {
        let row = sqlx::query(sql::ADMIN_BY_USERNAME)
            .bind(crate::username_key(username))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(admin_from_row).transpose()?)
    }

    async fn list_admins(&self) -> Result<Vec<AdminAccount>, StoreError> {
        let rows = sqlx::query(sql::LIST_ADMINS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, admin_from_row)
    }

    async fn count_admins(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql::COUNT_ADMINS)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(n as u64)
    }

    async fn update_admin_password(&self, id: i64, password_hash: &str) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        let done = sqlx::query(sql::UPDATE_ADMIN_PASSWORD)
            .bind(id)
            .bind(password_hash)
            .bind(ts(Utc::now()))
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("admin account"));
        }
        sqlx::query(sql::DELETE_ADMIN_SESSIONS_FOR)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_admin(&self, id: i64) -> Result<(), StoreError> {
        // Sessions go with it (ON DELETE CASCADE).
        let done = sqlx::query(sql::DELETE_ADMIN)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("admin account"));
        }
        Ok(())
    }

    async fn create_admin_session(
        &self,
        admin_id: i64,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<AdminSession, StoreError> {
        let row = sqlx::query(sql::INSERT_ADMIN_SESSION)
            .bind(token_hash)
            .bind(admin_id)
            .bind(ts(Utc::now()))
            .bind(ts(expires_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "admin session", "admin account"))?;
        Ok(session_from_row(&row)?)
    }

    async fn admin_session(&self, token_hash: &str) -> Result<Option<AdminSession>, StoreError> {
        let row = sqlx::query(sql::ADMIN_SESSION)
            .bind(token_hash)
            .bind(ts(Utc::now()))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(session_from_row).transpose()?)
    }

    async fn delete_admin_session(&self, token_hash: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::DELETE_ADMIN_SESSION)
            .bind(token_hash)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_admin_sessions_for(&self, admin_id: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::DELETE_ADMIN_SESSIONS_FOR)
            .bind(admin_id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn create_api_token(
        &self,
        admin_id: i64,
        name: &str,
        token_hash: &str,
        prefix: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<ApiToken, StoreError> {
        let row = sqlx::query(sql::INSERT_API_TOKEN)
            .bind(admin_id)
            .bind(name)
            .bind(token_hash)
            .bind(prefix)
            .bind(ts(Utc::now()))
            .bind(ts_opt(expires_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "API token", "admin account"))?;
        Ok(api_token_from_row(&row)?)
    }

    async fn api_token(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(sql::API_TOKEN_BY_HASH)
            .bind(token_hash)
            .bind(ts(Utc::now()))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(api_token_from_row).transpose()?)
    }

    async fn list_api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows = sqlx::query(sql::LIST_API_TOKENS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows
            .iter()
            .map(api_token_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_api_token(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::DELETE_API_TOKEN)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_api_token(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(sql::TOUCH_API_TOKEN)
            .bind(id)
            .bind(ts(at))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::DELETE_EXPIRED_SESSIONS)
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
