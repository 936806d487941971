//! [`crate::TrainingStore`]: trained answers.

use super::*;

#[async_trait]
impl crate::TrainingStore for Backend {
    async fn train(
        &self,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainOutcome, StoreError> {
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        let outcome = Self::train_in(&mut tx, entry, now).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn training_entry(
        &self,
        guild_id: u64,
        id: i64,
    ) -> Result<Option<TrainingEntry>, StoreError> {
        let row = sqlx::query(TRAINING_ENTRY)
            .bind(self::id(guild_id))
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(training_from_row).transpose()?)
    }

    async fn list_training(
        &self,
        guild_id: u64,
        category: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<TrainingEntry>, u64), StoreError> {
        // A category as typed matches the stored one in any case ("Billing" finds "billing"); an exact
        // spelling wins when two differ only in case.
        let spelling = match category {
            Some(typed) => {
                let stored: Vec<String> = sqlx::query_scalar(TRAINING_CATEGORIES)
                    .bind(id(guild_id))
                    .fetch_all(&mut *self.reader().await?)
                    .await?;
                let lower = typed.to_lowercase();
                stored
                    .iter()
                    .find(|c| c.as_str() == typed)
                    .or_else(|| stored.iter().find(|c| c.to_lowercase() == lower))
                    .cloned()
                    .or_else(|| Some(typed.to_string()))
            }
            None => None,
        };
        let category = spelling.as_deref();
        let mut page = list_training_query(guild_id, category, Some((offset, limit)));
        let rows = page.build().fetch_all(&mut *self.reader().await?).await?;
        let mut count = list_training_query(guild_id, category, None);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok((
            map_rows(rows, training_from_row)?,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    async fn update_training(
        &self,
        id: i64,
        entry: &NewTrainingEntry,
        now: DateTime<Utc>,
    ) -> Result<TrainingEntry, StoreError> {
        let row = sqlx::query(EDIT_TRAINING)
            .bind(self::id(entry.guild_id))
            .bind(id)
            .bind(&entry.question)
            .bind(question_key(&entry.question))
            .bind(&entry.answer)
            .bind(entry.category.as_deref())
            .bind(Json(&entry.tags))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await
            .map_err(|e| refused(e, "trained answer"))?;
        match row {
            Some(row) => Ok(training_from_row(&row)?),
            None => Err(StoreError::NotFound("trained answer")),
        }
    }

    async fn delete_training(&self, guild_id: u64, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(DELETE_TRAINING)
            .bind(self::id(guild_id))
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn training_stats(&self, guild_id: u64) -> Result<TrainingStats, StoreError> {
        let guild = id(guild_id);
        let entries: i64 = sqlx::query_scalar(COUNT_TRAINING)
            .bind(guild)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        let by_category: Vec<(Option<String>, i64)> = sqlx::query_as(TRAINING_BY_CATEGORY)
            .bind(guild)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let most_used = sqlx::query(MOST_USED_TRAINING)
            .bind(guild)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let (replies, trained): (i64, i64) = sqlx::query_as(REPLY_COUNTS)
            .bind(guild)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(TrainingStats {
            entries: count(entries),
            by_category: by_category
                .into_iter()
                .map(|(category, n)| (category, count(n)))
                .collect(),
            most_used: map_rows(most_used, training_from_row)?,
            replies: count(replies),
            trained_replies: count(trained),
        })
    }

    async fn record_training_use(&self, ids: &[i64], now: DateTime<Utc>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = sqlx::QueryBuilder::<Db>::new(
            "UPDATE training_entries SET uses = uses + 1, last_used_at = ",
        );
        q.push_bind(ts(now)).push(" WHERE id IN (");
        let mut list = q.separated(", ");
        for entry in ids {
            list.push_bind(*entry);
        }
        q.push(")");
        q.build().execute(&mut *self.writer().await?).await?;
        Ok(())
    }

    async fn export_training(&self, guild_id: u64) -> Result<Vec<TrainingEntry>, StoreError> {
        let rows = sqlx::query(EXPORT_TRAINING)
            .bind(id(guild_id))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, training_from_row)
    }

    async fn import_training(
        &self,
        entries: &[NewTrainingEntry],
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        // The same import with no usage counts to carry over.
        let uncounted: Vec<ImportedTraining> = entries
            .iter()
            .map(|entry| ImportedTraining {
                entry: entry.clone(),
                uses: 0,
            })
            .collect();
        self.import_counted_training(&uncounted, now).await
    }

    async fn import_counted_training(
        &self,
        entries: &[ImportedTraining],
        now: DateTime<Utc>,
    ) -> Result<ImportReport, StoreError> {
        let mut report = ImportReport::default();
        // Dropping the transaction on an error rolls every entry back.
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        for imported in entries {
            let entry = match Self::train_in(&mut tx, &imported.entry, now).await? {
                TrainOutcome::Created(entry) => {
                    report.created += 1;
                    entry
                }
                TrainOutcome::Updated { entry, .. } => {
                    report.updated += 1;
                    entry
                }
            };
            report.ids.push(entry.id);
            if imported.uses > entry.uses {
                sqlx::query(RAISE_TRAINING_USES)
                    .bind(entry.id)
                    .bind(i64::from(imported.uses))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        self.after_import("training_entries").await;
        Ok(report)
    }
}
