//! [`crate::QueueStore`]: chat commands: the queue workers claim from, with leases, and what each
//! command's answer needs.

use super::*;
use crate::UserStore;

#[async_trait]
impl crate::QueueStore for Backend {
    async fn insert_chat_command(&self, new: NewChatCommand) -> Result<ChatCommand, StoreError> {
        self.forget_waiting_bound();
        let (step, finished_at) = step_when_recorded(&new)?;
        let row = sqlx::query(sql::INSERT_CHAT_COMMAND)
            .bind(id(new.interaction_id))
            .bind(new.interaction_token.expose())
            .bind(ts(new.token_expires_at))
            .bind(id(new.application_id))
            .bind(id(new.user_id))
            .bind(opt_id(new.guild_id))
            .bind(opt_id(new.channel_id))
            .bind(new.private)
            .bind(&new.prompt)
            .bind(new.state.as_str())
            .bind(step.as_str())
            .bind(ts(new.created_at))
            .bind(ts_opt(finished_at))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await
            .map_err(|e| StoreError::from_write(e, "chat command", "user"))?;
        match row {
            Some(row) => Ok(chat_command_from_row(&row)?),
            None => Err(StoreError::NotFound("user")),
        }
    }

    async fn chat_command(&self, id: i64) -> Result<Option<ChatCommand>, StoreError> {
        let row = sqlx::query(sql::CHAT_COMMAND)
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn queue_acknowledged(&self, interaction_ids: &[u64]) -> Result<u64, StoreError> {
        if interaction_ids.is_empty() {
            return Ok(0);
        }
        let ids: Vec<serde_json::Value> = interaction_ids
            .iter()
            .map(|&i| serde_json::json!({ "interaction_id": id(i) }))
            .collect();
        let done = sqlx::query(QUEUE_ACKNOWLEDGED)
            .bind(Json(&ids))
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn chat_command_by_interaction(
        &self,
        interaction_id: u64,
    ) -> Result<Option<ChatCommand>, StoreError> {
        let row = sqlx::query(sql::CHAT_COMMAND_BY_INTERACTION)
            .bind(id(interaction_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn chat_command_by_message(&self, message_id: u64) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(sql::CHAT_COMMAND_BY_MESSAGE)
            .bind(id(message_id))
            .fetch_optional(&mut *self.reader().await?)
            .await?)
    }

    async fn claim_next_chat_command(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError> {
        self.claim_with(CLAIM, owner, lease, now).await
    }

    async fn claim_next_priority_chat_command(
        &self,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError> {
        self.claim_with(CLAIM_PRIORITY, owner, lease, now).await
    }

    async fn renew_lease(
        &self,
        id: i64,
        owner: &str,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(sql::RENEW_LEASE)
            .bind(id)
            .bind(owner)
            .bind(ts(until))
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn record_answer(
        &self,
        id: i64,
        owner: &str,
        response: &str,
        usage: Option<TokenUsage>,
    ) -> Result<bool, StoreError> {
        let [prompt, completion, total] = usage_columns(usage);
        let done = sqlx::query(sql::RECORD_ANSWER)
            .bind(id)
            .bind(owner)
            .bind(response)
            .bind(prompt)
            .bind(completion)
            .bind(total)
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn finish_chat_command(
        &self,
        id: i64,
        owner: &str,
        outcome: &ChatCommandOutcome,
    ) -> Result<bool, StoreError> {
        if !outcome.state.is_terminal() {
            return Err(StoreError::InvalidArgument(format!(
                "finish_chat_command needs a final state, got {}",
                outcome.state
            )));
        }
        let [prompt, completion, total] = usage_columns(outcome.usage);
        let done = sqlx::query(sql::FINISH_CHAT_COMMAND)
            .bind(id)
            .bind(owner)
            .bind(outcome.state.as_str())
            .bind(outcome.response.as_deref())
            .bind(outcome.error.as_deref())
            .bind(prompt)
            .bind(completion)
            .bind(total)
            .bind(outcome.counts_toward_limit())
            .bind(opt_id(outcome.discord_message_id))
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn requeue_chat_command(
        &self,
        id: i64,
        owner: &str,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.forget_waiting_bound();
        let done = sqlx::query(sql::REQUEUE_CHAT_COMMAND)
            .bind(id)
            .bind(owner)
            .bind(error)
            .bind(ts(Utc::now()))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn transition_chat_command(
        &self,
        id: i64,
        from: ChatCommandState,
        to: ChatCommandState,
    ) -> Result<bool, StoreError> {
        if from == ChatCommandState::InProgress || to == ChatCommandState::InProgress {
            return Err(StoreError::InvalidArgument(format!(
                "transition_chat_command({from} -> {to}): in_progress commands belong to the worker \
                 holding their lease; use claim/finish/requeue"
            )));
        }
        if waits_for_worker(to) && !waits_for_worker(from) {
            self.forget_waiting_bound();
        }
        let now = Utc::now();
        let (step, finished_at) = if to.is_terminal() {
            (Some(ChatCommandStep::Done), Some(now))
        } else if to == ChatCommandState::Queued {
            (Some(ChatCommandStep::Enqueued), None)
        } else {
            (None, None)
        };
        let done = sqlx::query(sql::TRANSITION_CHAT_COMMAND)
            .bind(id)
            .bind(from.as_str())
            .bind(to.as_str())
            .bind(step.map(ChatCommandStep::as_str))
            .bind(ts_opt(finished_at))
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn expire_chat_commands(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(EXPIRE_CHAT_COMMANDS.as_str())
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn expire_stale_queued(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ChatCommand>, StoreError> {
        let rows = sqlx::query(sql::EXPIRE_STALE_QUEUED)
            .bind(ts(cutoff))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .await?;
        rows.iter()
            .map(chat_command_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(Into::into)
    }

    async fn waiting_count(&self, except: i64, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql::WAITING_COUNT)
            .bind(except)
            .bind(ts(now))
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn oldest_waiting(
        &self,
        non_priority_only: bool,
        except: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError> {
        let row = sqlx::query(sql::OLDEST_WAITING)
            .bind(non_priority_only)
            .bind(except)
            .bind(ts(now))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }

    async fn requeue_received(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(sql::REQUEUE_RECEIVED)
            .bind(ts(cutoff))
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected())
    }

    async fn usage_since(&self, user_id: u64, since: DateTime<Utc>) -> Result<Usage, StoreError> {
        let row = sqlx::query(sql::USAGE_SINCE)
            .bind(id(user_id))
            .bind(ts(since))
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(Usage {
            counted: count_to_u32(row.try_get("counted")?),
            oldest: row.try_get("oldest")?,
        })
    }

    async fn record_chat_commands(
        &self,
        batch: &[NewChatCommandBy],
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        waiting_limit: u64,
    ) -> Result<RecordedBatch, StoreError> {
        if batch.is_empty() {
            return Ok(RecordedBatch {
                commands: Vec::new(),
                waiting: 0,
            });
        }
        // One row per author (the last names given win: PostgreSQL refuses to update a row twice in
        // one statement) and per interaction (the first in the batch is the one recorded).
        let mut users = BTreeMap::new();
        let mut first = std::collections::HashSet::new();
        let mut commands = Vec::with_capacity(batch.len());
        for (ord, by) in batch.iter().enumerate() {
            let new = &by.command;
            let (step, finished_at) = step_when_recorded(new)?;
            users.insert(
                new.user_id,
                UserJson {
                    discord_id: id(new.user_id),
                    username: &by.username,
                    global_name: by.global_name.as_deref(),
                },
            );
            if !first.insert(new.interaction_id) {
                continue;
            }
            // Borrowed, not copied into a `serde_json::Value`: prompts and tokens are written into the
            // statement's JSON once.
            commands.push(CommandJson {
                ord,
                interaction_id: id(new.interaction_id),
                interaction_token: new.interaction_token.expose(),
                token_expires_at: ts_text(new.token_expires_at),
                application_id: id(new.application_id),
                user_id: id(new.user_id),
                guild_id: opt_id(new.guild_id),
                channel_id: opt_id(new.channel_id),
                private: new.private,
                prompt: &new.prompt,
                state: new.state.as_str(),
                step: step.as_str(),
                created_at: ts_text(new.created_at),
                finished_at: finished_at.map(ts_text),
            });
        }
        let user_rows: Vec<&UserJson> = users.values().collect();

        // Two statements: the authors with what admission needs, then the commands. On SQLite each is
        // its own commit (one process owns the file and records one batch at a time: nothing to
        // serialize against, and every statement less is a round trip less to the database's thread on
        // the acknowledgement path; both go to it as one statement list, `record_batch`). On PostgreSQL
        // they share a transaction that serializes the authors across instances (below).
        // The waiting commands are counted unless a bound known here leaves room for the batch.
        let ticket = self
            .waiting_bound()
            .map(|b| b.before_batch(commands.len() as u64, waiting_limit));
        let room = ticket.and_then(|t| t.room);
        let mut conn = self.writer_first().await?;
        let limit = i64::try_from(waiting_limit).unwrap_or(i64::MAX);
        let (author_rows, command_rows) = match record_batch(room.is_none()) {
            Some(list) => {
                // One hand-off for both: rows of the authors' statement, its end, rows of the
                // commands' statement, its end. sqlx deprecates statement lists with parameters
                // (launchbadge/sqlx#3108: only its SQLite driver runs them) but has nothing else that
                // binds parameters and runs two statements in one hand-off; the tests of this method
                // on SQLite would fail if a later sqlx stopped running the second.
                #[allow(deprecated)]
                let mut stream = sqlx::query(sqlx::AssertSqlSafe(list))
                    .bind(Json(&user_rows))
                    .bind(ts(now))
                    .bind(ts(since))
                    .bind(limit)
                    .bind(Json(&commands))
                    .fetch_many(&mut *conn);
                let (mut authors, mut recorded, mut ended) = (Vec::new(), Vec::new(), 0);
                while let Some(item) =
                    std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx))
                        .await
                {
                    match item {
                        Ok(sqlx::Either::Right(row)) if ended == 0 => authors.push(row),
                        Ok(sqlx::Either::Right(row)) => recorded.push(row),
                        Ok(sqlx::Either::Left(_)) => ended += 1,
                        Err(e) if ended == 0 => return Err(e.into()),
                        Err(e) => return Err(StoreError::from_write(e, "chat command", "user")),
                    }
                }
                (authors, recorded)
            }
            None => {
                // Several instances record commands at once (PostgreSQL): what admission reads of an
                // author must include every command of theirs recorded elsewhere, or two instances
                // could each admit one of the same user's commands. So one transaction: the first
                // upsert takes the authors' rows (held until the commit; in id order, the order of
                // `users`, so two batches never wait on each other in a circle), and what is read
                // after it, in a statement of its own (a snapshot taken once the rows are ours),
                // sees every command another instance recorded for them before. Admission is then
                // exact across instances: a user's second command, wherever it arrives, sees the
                // first in flight.
                let mut tx = begin_write(&mut conn).await?;
                if room.is_none() {
                    sqlx::query(RECORD_USERS_UNCOUNTED.as_str())
                        .bind(Json(&user_rows))
                        .bind(ts(now))
                        .bind(ts(since))
                        .execute(&mut *tx)
                        .await?;
                }
                let authors = match room {
                    Some(_) => sqlx::query(RECORD_USERS_UNCOUNTED.as_str())
                        .bind(Json(&user_rows))
                        .bind(ts(now))
                        .bind(ts(since)),
                    None => sqlx::query(RECORD_USERS.as_str())
                        .bind(Json(&user_rows))
                        .bind(ts(now))
                        .bind(ts(since))
                        .bind(limit),
                }
                .fetch_all(&mut *tx)
                .await?;
                let recorded = sqlx::query(RECORD_COMMANDS)
                    .bind(Json(&commands))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| StoreError::from_write(e, "chat command", "user"))?;
                tx.commit().await?;
                (authors, recorded)
            }
        };
        drop(conn);
        let mut stored_users = BTreeMap::new();
        let mut waiting = room.unwrap_or(0);
        for row in author_rows {
            if room.is_none() {
                waiting = u64::try_from(row.try_get::<i64, _>("waiting")?).unwrap_or(0);
            }
            let usage = Usage {
                counted: count_to_u32(row.try_get("counted")?),
                oldest: row.try_get("oldest")?,
            };
            let in_flight: bool = row.try_get("in_flight")?;
            let user = user_from_row(&row)?;
            stored_users.insert(user.discord_id, (user, usage, in_flight));
        }
        let mut recorded = BTreeMap::new();
        for row in command_rows {
            let command = chat_command_from_row(&row)?;
            recorded.insert(command.interaction_id, command);
        }
        if let (Some(bound), Some(ticket)) = (self.waiting_bound(), ticket) {
            // Only the commands recorded waiting (not those settled as they were recorded) count.
            let waits = recorded
                .values()
                .filter(|c| waits_for_worker(c.state))
                .count();
            bound.after_batch(ticket, waiting, waits as u64, waiting_limit);
        }

        let commands = batch
            .iter()
            .map(|by| {
                let (user, usage, in_flight) = stored_users
                    .get(&by.command.user_id)
                    .cloned()
                    .ok_or(StoreError::NotFound("user"))?;
                Ok(RecordedChatCommand {
                    user,
                    // Taken by the first command of the interaction: any later one is a duplicate.
                    command: recorded.remove(&by.command.interaction_id),
                    usage,
                    in_flight,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(RecordedBatch { commands, waiting })
    }

    async fn recent_exchanges(
        &self,
        user_id: u64,
        since: DateTime<Utc>,
        except: i64,
        limit: u32,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(sql::RECENT_EXCHANGES)
            .bind(id(user_id))
            .bind(ts(since))
            .bind(except)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }

    async fn chat_context(
        &self,
        user_id: u64,
        window_start: DateTime<Utc>,
        except: i64,
        history: Option<u32>,
    ) -> Result<ChatContext, StoreError> {
        let never = DateTime::<Utc>::UNIX_EPOCH;
        let Some(list) = chat_context_list(history.is_some()) else {
            let user = self.user(user_id).await?;
            let counted = sqlx::query_scalar(sql::COUNTED_SINCE)
                .bind(id(user_id))
                .bind(ts(window_start))
                .fetch_all(&mut *self.reader().await?)
                .await?;
            let exchanges = match history {
                Some(limit) => {
                    let since = user.as_ref().and_then(|u| u.conversation_reset_at);
                    self.recent_exchanges(user_id, since.unwrap_or(never), except, limit)
                        .await?
                }
                None => Vec::new(),
            };
            return Ok(ChatContext {
                user,
                counted,
                exchanges,
            });
        };
        // One hand-off for all: the author's row, its end, the counted times, their end, then the
        // exchanges (see `record_chat_commands` on statement lists with parameters).
        let mut conn = self.reader().await?;
        #[allow(deprecated)]
        let mut stream = sqlx::query(sqlx::AssertSqlSafe(list))
            .bind(id(user_id))
            .bind(ts(window_start))
            .bind(ts(never))
            .bind(except)
            .bind(i64::from(history.unwrap_or(0)))
            .fetch_many(&mut *conn);
        let (mut context, mut ended) = (ChatContext::default(), 0);
        while let Some(item) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
        {
            match item? {
                sqlx::Either::Left(_) => ended += 1,
                sqlx::Either::Right(row) => match ended {
                    0 => context.user = Some(user_from_row(&row)?),
                    1 => context.counted.push(row.try_get(0)?),
                    _ => context
                        .exchanges
                        .push((row.try_get("prompt")?, row.try_get("response")?)),
                },
            }
        }
        Ok(context)
    }

    async fn list_chat_commands(
        &self,
        filter: &ChatCommandFilter,
        limit: u32,
    ) -> Result<Vec<ChatCommand>, StoreError> {
        let mut q = list_chat_commands_query(filter, limit);
        let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
        map_rows(rows, chat_command_from_row)
    }

    async fn user_in_flight(&self, user_id: u64, except: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(sql::USER_IN_FLIGHT)
            .bind(id(user_id))
            .bind(except)
            .fetch_one(&mut *self.reader().await?)
            .await?)
    }

    async fn queued_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(sql::QUEUED_COUNT)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(n as u64)
    }
}

impl Backend {
    /// Runs a claim statement (`CLAIM` or `CLAIM_PRIORITY`) for `owner`.
    async fn claim_with(
        &self,
        statement: &'static str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<ChatCommand>, StoreError> {
        let until = lease_end(now, lease)?;
        let row = sqlx::query(statement)
            .bind(owner)
            .bind(ts(until))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await?;
        Ok(row.as_ref().map(chat_command_from_row).transpose()?)
    }
}
