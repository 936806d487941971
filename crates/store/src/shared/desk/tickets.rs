//! [`crate::TicketStore`]: guild settings, tickets and their messages.

use super::*;

#[async_trait]
impl crate::TicketStore for Backend {
    // ----- Guild settings -----

    async fn save_guild_settings(&self, settings: &GuildSettings) -> Result<(), StoreError> {
        sqlx::query(UPSERT_GUILD_SETTINGS)
            .bind(id(settings.guild_id))
            .bind(id(settings.forum_channel_id))
            .bind(id(settings.staff_role_id))
            .bind(opt_id(settings.log_channel_id))
            .bind(settings.instructions.as_deref())
            .bind(
                settings
                    .auto_close_after_secs
                    .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            )
            .bind(settings.ai_replies)
            .bind(settings.training)
            .bind(i64::from(settings.member_replies_per_6h))
            .bind(i64::from(settings.member_reply_interval_secs))
            .bind(id(settings.updated_by))
            .bind(ts(settings.updated_at))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn member_replies(
        &self,
        guild_id: u64,
        member_id: u64,
        since: DateTime<Utc>,
    ) -> Result<MemberReplies, StoreError> {
        let row = sqlx::query(MEMBER_REPLIES)
            .bind(id(guild_id))
            .bind(id(member_id))
            .bind(ts(since))
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(MemberReplies {
            count: get_u32(&row, "n")?,
            first: row.try_get("first")?,
            last: row.try_get("last")?,
        })
    }

    async fn guild_settings(&self, guild_id: u64) -> Result<Option<GuildSettings>, StoreError> {
        let row = sqlx::query(GUILD_SETTINGS)
            .bind(id(guild_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(guild_settings_from_row).transpose()?)
    }

    async fn desk_guilds(&self) -> Result<Vec<u64>, StoreError> {
        let rows = sqlx::query(DESK_GUILDS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        // By the id as Discord gives it (the database orders the stored, signed, value).
        let mut guilds = map_rows(rows, |row| get_u64(row, "g"))?;
        guilds.sort_unstable();
        Ok(guilds)
    }

    // ----- Tickets -----

    async fn reserve_ticket(
        &self,
        ticket: &NewTicket,
        stale_after: Duration,
    ) -> Result<TicketReservation, StoreError> {
        let stale_after = TimeDelta::from_std(stale_after).map_err(|_| {
            StoreError::InvalidArgument(format!("stale_after of {stale_after:?} is too long"))
        })?;
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        // A second round only when a concurrent reservation (PostgreSQL) won the unique index between the
        // look-up and the insert: the look-up then finds it.
        for _ in 0..3 {
            let existing = sqlx::query(OPEN_TICKET_LOCKED)
                .bind(id(ticket.guild_id))
                .bind(id(ticket.opener_id))
                .bind(&ticket.category)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                let existing = ticket_from_row(&row)?;
                let abandoned = existing.thread_id.is_none()
                    && existing
                        .created_at
                        .checked_add_signed(stale_after)
                        .is_some_and(|t| t < ticket.created_at);
                if !abandoned {
                    tx.commit().await?;
                    return Ok(TicketReservation::Existing(existing));
                }
                sqlx::query(DELETE_RESERVATION)
                    .bind(existing.id)
                    .execute(&mut *tx)
                    .await?;
            }
            let row = sqlx::query(INSERT_TICKET)
                .bind(id(ticket.guild_id))
                .bind(&ticket.category)
                .bind(id(ticket.opener_id))
                .bind(&ticket.opener_name)
                .bind(ts(ticket.created_at))
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = row {
                let reserved = ticket_from_row(&row)?;
                tx.commit().await?;
                return Ok(TicketReservation::Reserved(reserved));
            }
        }
        Err(StoreError::AlreadyExists("open ticket"))
    }

    async fn attach_ticket_thread(
        &self,
        ticket_id: i64,
        thread_id: u64,
    ) -> Result<Ticket, StoreError> {
        let row = sqlx::query(ATTACH_TICKET_THREAD)
            .bind(ticket_id)
            .bind(id(thread_id))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await
            .map_err(|e| StoreError::from_write(e, "ticket thread", "ticket"))?;
        if let Some(row) = row {
            return Ok(ticket_from_row(&row)?);
        }
        match self.ticket(ticket_id).await? {
            None => Err(StoreError::NotFound("ticket")),
            Some(_) => Err(StoreError::InvalidArgument(format!(
                "ticket {ticket_id} already has another thread"
            ))),
        }
    }

    async fn cancel_ticket_reservation(&self, ticket_id: i64) -> Result<(), StoreError> {
        sqlx::query(DELETE_RESERVATION)
            .bind(ticket_id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn ticket(&self, id: i64) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(TICKET)
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(ticket_from_row).transpose()?)
    }

    async fn ticket_by_thread(&self, thread_id: u64) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(TICKET_BY_THREAD)
            .bind(id(thread_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(ticket_from_row).transpose()?)
    }

    async fn escalate_ticket(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(ESCALATE_TICKET)
            .bind(id)
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reenable_ticket_ai(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(REENABLE_TICKET_AI)
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn close_ticket(
        &self,
        id: i64,
        closed_by: u64,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(CLOSE_TICKET)
            .bind(id)
            .bind(self::id(closed_by))
            .bind(reason)
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await?;
        Ok(row.as_ref().map(ticket_from_row).transpose()?)
    }

    async fn claim_ticket(
        &self,
        id: i64,
        staff: u64,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(CLAIM_TICKET)
            .bind(id)
            .bind(self::id(staff))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .await?;
        Ok(row.first().map(ticket_from_row).transpose()?)
    }

    async fn reopen_ticket(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query(REOPEN_TICKET)
            .bind(id)
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .await
            .map_err(|e| StoreError::from_write(e, "open ticket of this category", "ticket"))?;
        Ok(row.first().map(ticket_from_row).transpose()?)
    }

    async fn record_ticket_message(
        &self,
        message: &NewTicketMessage,
    ) -> Result<Option<i64>, StoreError> {
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        let inserted: Option<i64> = sqlx::query_scalar(INSERT_TICKET_MESSAGE)
            .bind(message.ticket_id)
            .bind(id(message.message_id))
            .bind(id(message.author_id))
            .bind(&message.author_name)
            .bind(message.author.as_str())
            .bind(&message.content)
            .bind(message.source.map(ReplySource::as_str))
            .bind(Json(&message.used))
            .bind(ts(message.created_at))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(message_row) = inserted else {
            let exists: bool = sqlx::query_scalar(TICKET_EXISTS)
                .bind(message.ticket_id)
                .fetch_one(&mut *tx)
                .await?;
            return if exists {
                Ok(None)
            } else {
                Err(StoreError::NotFound("ticket"))
            };
        };
        sqlx::query(TOUCH_TICKET)
            .bind(message.ticket_id)
            .bind(ts(message.created_at))
            .bind(message.author != TicketAuthor::Bot)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(message_row))
    }

    async fn claim_ticket_reply(
        &self,
        message_row: i64,
        owner: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(CLAIM_TICKET_REPLY)
            .bind(message_row)
            .bind(owner)
            .bind(ts(lease_until))
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_ticket_reply(
        &self,
        message_row: i64,
        owner: &str,
        answered: bool,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(FINISH_TICKET_REPLY)
            .bind(message_row)
            .bind(owner)
            .bind(if answered { "done" } else { "skipped" })
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn unanswered_ticket_messages(
        &self,
        received_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TicketMessage>, StoreError> {
        let rows = sqlx::query(UNANSWERED_TICKET_MESSAGES)
            .bind(ts(received_before))
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, ticket_message_from_row)
    }

    async fn ticket_messages(
        &self,
        ticket_id: i64,
        limit: Option<u32>,
    ) -> Result<Vec<TicketMessage>, StoreError> {
        let rows = match limit {
            None => {
                sqlx::query(TICKET_MESSAGES)
                    .bind(ticket_id)
                    .fetch_all(&mut *self.reader().await?)
                    .await?
            }
            Some(limit) => {
                sqlx::query(LATEST_TICKET_MESSAGES)
                    .bind(ticket_id)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *self.reader().await?)
                    .await?
            }
        };
        map_rows(rows, ticket_message_from_row)
    }

    async fn idle_tickets(
        &self,
        guild_id: u64,
        idle_since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        let rows = sqlx::query(IDLE_TICKETS)
            .bind(ts(idle_since))
            .bind(i64::from(limit))
            .bind(id(guild_id))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, ticket_from_row)
    }

    async fn auto_close_settings(&self) -> Result<Vec<GuildSettings>, StoreError> {
        let rows = sqlx::query(AUTO_CLOSE_SETTINGS)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, guild_settings_from_row)
    }

    async fn mark_ticket_warned(&self, id: i64, now: DateTime<Utc>) -> Result<(), StoreError> {
        let done = sqlx::query(MARK_TICKET_WARNED)
            .bind(id)
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("ticket"));
        }
        Ok(())
    }

    async fn list_tickets(
        &self,
        filter: &TicketFilter,
        limit: u32,
    ) -> Result<Vec<Ticket>, StoreError> {
        let mut q = list_tickets_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        map_rows(rows, ticket_from_row)
    }
}
