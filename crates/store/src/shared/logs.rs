//! [`crate::LogStore`]: logs (interactions, LLM calls, messages about the bot, `/clear`) and members'
//! feedback.

use super::*;

#[async_trait]
impl crate::LogStore for Backend {
    async fn insert_interaction_log(&self, log: &InteractionLog) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(sql::INSERT_INTERACTION_LOG)
            .bind(id(log.interaction_id))
            .bind(&log.interaction_type)
            .bind(opt_id(log.user_id))
            .bind(opt_id(log.guild_id))
            .bind(opt_id(log.channel_id))
            .bind(Json(&log.payload))
            .bind(ts(log.received_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await?)
    }

    async fn insert_interaction_logs(&self, logs: &[InteractionLog]) -> Result<(), StoreError> {
        // At most this many rows per statement: 7 parameters each stays far below SQLite's limit.
        for chunk in logs.chunks(500) {
            let mut q = sqlx::QueryBuilder::<Db>::new(
                "INSERT INTO interaction_logs (interaction_id, interaction_type, user_id, guild_id, \
                 channel_id, payload, received_at) ",
            );
            q.push_values(chunk, |mut row, log| {
                row.push_bind(id(log.interaction_id))
                    .push_bind(&log.interaction_type)
                    .push_bind(opt_id(log.user_id))
                    .push_bind(opt_id(log.guild_id))
                    .push_bind(opt_id(log.channel_id))
                    .push_bind(Json(&log.payload))
                    .push_bind(ts(log.received_at));
            });
            q.build().execute(&mut *self.writer().await?).await?;
        }
        Ok(())
    }

    async fn insert_discord_message(&self, message: &DiscordMessage) -> Result<i64, StoreError> {
        sqlx::query_scalar(sql::INSERT_DISCORD_MESSAGE)
            .bind(id(message.message_id))
            .bind(id(message.channel_id))
            .bind(opt_id(message.guild_id))
            .bind(opt_id(message.user_id))
            .bind(message.chat_command_id)
            .bind(&message.content)
            .bind(message.payload.as_ref().map(Json))
            .bind(ts(message.created_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "discord message", "chat command"))
    }

    async fn recent_discord_messages(&self, limit: u32) -> Result<Vec<DiscordMessage>, StoreError> {
        let rows = sqlx::query(sql::RECENT_DISCORD_MESSAGES)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        Ok(rows
            .iter()
            .map(discord_message_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn insert_llm_call_log(&self, log: &LlmCallLog) -> Result<i64, StoreError> {
        let ids = self.write_llm_call_logs(std::slice::from_ref(log)).await?;
        ids.first()
            .copied()
            .ok_or(StoreError::NotFound("LLM call log"))
    }

    async fn insert_llm_call_logs(&self, logs: &[LlmCallLog]) -> Result<(), StoreError> {
        if !logs.is_empty() {
            self.write_llm_call_logs(logs).await?;
        }
        Ok(())
    }

    async fn insert_clear_command(&self, clear: &ClearCommand) -> Result<i64, StoreError> {
        sqlx::query_scalar(sql::INSERT_CLEAR_COMMAND)
            .bind(id(clear.interaction_id))
            .bind(id(clear.user_id))
            .bind(opt_id(clear.guild_id))
            .bind(opt_id(clear.channel_id))
            .bind(ts(clear.created_at))
            .fetch_all(&mut *self.writer().await?)
            .one()
            .await
            .map_err(|e| StoreError::from_write(e, "clear command", "user"))
    }

    async fn last_clear_command(&self, user_id: u64) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(sqlx::query_scalar(sql::LAST_CLEAR_COMMAND)
            .bind(id(user_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn insert_user_feedback(&self, feedback: &UserFeedback) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::INSERT_USER_FEEDBACK)
            .bind(feedback.chat_command_id)
            .bind(id(feedback.user_id))
            .bind(feedback.kind.as_str())
            .bind(feedback.detail.as_deref())
            .bind(ts(feedback.created_at))
            .execute(&mut *self.writer().await?)
            .await
            .map_err(|e| StoreError::from_write(e, "feedback", "chat command"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_discord_messages(
        &self,
        filter: &DiscordMessageFilter,
        limit: u32,
    ) -> Result<Vec<StoredDiscordMessage>, StoreError> {
        let mut q = list_discord_messages_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok::<_, sqlx::Error>(StoredDiscordMessage {
                    id: row.try_get("id")?,
                    message: discord_message_from_row(row)?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    async fn list_interaction_logs(
        &self,
        filter: &InteractionLogFilter,
        limit: u32,
    ) -> Result<Vec<StoredInteractionLog>, StoreError> {
        let mut q = list_interaction_logs_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .iter()
            .map(interaction_log_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn interaction_log(&self, id: i64) -> Result<Option<StoredInteractionLog>, StoreError> {
        let row = sqlx::query("SELECT * FROM interaction_logs WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(interaction_log_from_row).transpose()?)
    }

    async fn list_feedback(
        &self,
        filter: &FeedbackFilter,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError> {
        let mut q = list_feedback_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        Ok(rows
            .iter()
            .map(feedback_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn llm_calls_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredLlmCall>, StoreError> {
        let rows = sqlx::query(sql::LLM_CALLS_FOR_COMMAND)
            .bind(chat_command_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, llm_call_from_row)
    }

    async fn feedback_for_command(
        &self,
        chat_command_id: i64,
    ) -> Result<Vec<StoredFeedback>, StoreError> {
        let rows = sqlx::query(sql::FEEDBACK_FOR_COMMAND)
            .bind(chat_command_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, feedback_from_row)
    }

    async fn feedback_by_user(
        &self,
        user_id: u64,
        limit: u32,
    ) -> Result<Vec<StoredFeedback>, StoreError> {
        let rows = sqlx::query(sql::FEEDBACK_BY_USER)
            .bind(id(user_id))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, feedback_from_row)
    }

    async fn feedback_counts(
        &self,
        chat_command_id: i64,
    ) -> Result<BTreeMap<FeedbackKind, u32>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(sql::FEEDBACK_COUNTS)
            .bind(chat_command_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        rows.into_iter()
            .map(|(kind, n)| {
                let kind = kind
                    .parse::<FeedbackKind>()
                    .map_err(|e| StoreError::Corrupt {
                        what: "feedback kind",
                        message: e.to_string(),
                    })?;
                Ok((kind, count_to_u32(n)))
            })
            .collect()
    }
}
