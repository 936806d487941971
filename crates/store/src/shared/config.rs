//! [`crate::ConfigStore`]: the runtime configuration: the version in force and its history.

use super::*;

#[async_trait]
impl crate::ConfigStore for Backend {
    async fn load_runtime_config(&self) -> Result<Option<StoredRuntimeConfig>, StoreError> {
        let row = sqlx::query(sql::LOAD_RUNTIME_CONFIG)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        row.as_ref().map(stored_config_from_row).transpose()
    }

    async fn save_runtime_config(
        &self,
        config: &RuntimeConfig,
        expected_version: Option<i64>,
        updated_by: Option<&str>,
    ) -> Result<StoredRuntimeConfig, StoreError> {
        let value = serde_json::to_value(config).map_err(|e| {
            StoreError::InvalidArgument(format!("runtime configuration is not serializable: {e}"))
        })?;
        let now = Utc::now();
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        let query = match expected_version {
            None => sqlx::query(sql::UPSERT_RUNTIME_CONFIG),
            Some(0) => sqlx::query(sql::INSERT_RUNTIME_CONFIG),
            Some(_) => sqlx::query(sql::UPDATE_RUNTIME_CONFIG),
        };
        let query = query.bind(Json(&value)).bind(ts(now)).bind(updated_by);
        let query = match expected_version {
            Some(v) if v != 0 => query.bind(v),
            _ => query,
        };
        let Some(row) = query.fetch_optional(&mut *tx).await? else {
            return Err(StoreError::Conflict);
        };
        let stored = stored_config_from_row(&row)?;
        sqlx::query(sql::INSERT_RUNTIME_CONFIG_HISTORY)
            .bind(stored.version)
            .bind(Json(&value))
            .bind(updated_by)
            .bind(ts(now))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn runtime_config_history(
        &self,
        limit: u32,
    ) -> Result<Vec<RuntimeConfigHistoryEntry>, StoreError> {
        let rows = sqlx::query(sql::RUNTIME_CONFIG_HISTORY)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, |row| {
            let Json(config) = row.try_get("config")?;
            Ok(RuntimeConfigHistoryEntry {
                version: row.try_get("version")?,
                config,
                updated_by: row.try_get("updated_by")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
    }
}
