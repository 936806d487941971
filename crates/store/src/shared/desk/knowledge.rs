//! [`crate::KnowledgeStore`]: knowledge bases and the full-text retrieval over trained answers and entries.

use super::*;

#[async_trait]
impl crate::KnowledgeStore for Backend {
    // ----- Knowledge bases -----

    async fn create_kb(
        &self,
        guild_id: u64,
        name: &str,
        description: Option<&str>,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbCreated, StoreError> {
        let name = name.trim();
        for _ in 0..3 {
            let created = sqlx::query(INSERT_KB)
                .bind(id(guild_id))
                .bind(name)
                .bind(kb_name_key(name))
                .bind(description)
                .bind(id(created_by))
                .bind(ts(now))
                .fetch_all(&mut *self.writer().await?)
                .first()
                .await
                .map_err(|e| refused(e, "knowledge base"))?;
            if let Some(row) = created {
                return Ok(KbCreated::Created(kb_from_row(&row)?));
            }
            // Deleted between the conflict and this look-up: try again.
            if let Some(existing) = self.kb_by_name(guild_id, name).await? {
                return Ok(KbCreated::Exists(existing));
            }
        }
        Err(StoreError::AlreadyExists("knowledge base"))
    }

    async fn kb_by_name(
        &self,
        guild_id: u64,
        name: &str,
    ) -> Result<Option<KnowledgeBase>, StoreError> {
        let row = sqlx::query(KB_BY_NAME)
            .bind(id(guild_id))
            .bind(kb_name_key(name))
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(kb_from_row).transpose()?)
    }

    async fn kb(&self, guild_id: u64, id: i64) -> Result<Option<KnowledgeBase>, StoreError> {
        let row = sqlx::query(KB)
            .bind(self::id(guild_id))
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(kb_from_row).transpose()?)
    }

    async fn list_kbs(&self, guild_id: u64) -> Result<Vec<KnowledgeBase>, StoreError> {
        let rows = sqlx::query(LIST_KBS)
            .bind(id(guild_id))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, kb_from_row)
    }

    async fn add_kb_entry(
        &self,
        kb_id: i64,
        entry: &NewKbEntry,
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError> {
        let mut conn = self.writer().await?;
        Self::add_kb_entry_in(&mut conn, kb_id, entry, created_by, now).await
    }

    async fn kb_entry(&self, guild_id: u64, id: i64) -> Result<Option<KbEntry>, StoreError> {
        let row = sqlx::query(KB_ENTRY)
            .bind(self::id(guild_id))
            .bind(id)
            .fetch_optional(&mut *self.reader().await?)
            .await?;
        Ok(row.as_ref().map(kb_entry_from_row).transpose()?)
    }

    async fn update_kb_entry(
        &self,
        guild_id: u64,
        id: i64,
        entry: &NewKbEntry,
        now: DateTime<Utc>,
    ) -> Result<KbEntry, StoreError> {
        let row = sqlx::query(EDIT_KB_ENTRY)
            .bind(self::id(guild_id))
            .bind(id)
            .bind(&entry.title)
            .bind(&entry.content)
            .bind(Json(&entry.tags))
            .bind(ts(now))
            .fetch_all(&mut *self.writer().await?)
            .first()
            .await
            .map_err(|e| refused(e, "knowledge entry"))?;
        match row {
            Some(row) => Ok(kb_entry_from_row(&row)?),
            None => Err(StoreError::NotFound("knowledge entry")),
        }
    }

    async fn delete_kb_entry(&self, guild_id: u64, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(DELETE_KB_ENTRY)
            .bind(self::id(guild_id))
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn kb_entries(
        &self,
        kb_id: i64,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<KbEntry>, u64), StoreError> {
        let rows = sqlx::query(KB_ENTRIES_PAGE)
            .bind(kb_id)
            .bind(i64::from(limit))
            .bind(offset_value(offset))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let total: i64 = sqlx::query_scalar(COUNT_KB_ENTRIES)
            .bind(kb_id)
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok((
            map_rows(rows, kb_entry_from_row)?,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    async fn all_kb_entries(&self, kb_id: i64) -> Result<Vec<KbEntry>, StoreError> {
        let rows = sqlx::query(ALL_KB_ENTRIES)
            .bind(kb_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, kb_entry_from_row)
    }

    async fn import_kb_entries(
        &self,
        kb_id: i64,
        entries: &[NewKbEntry],
        created_by: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, StoreError> {
        let mut conn = self.writer().await?;
        let mut tx = begin_write(&mut conn).await?;
        if entries.is_empty() {
            // Nothing to add, but an unknown knowledge base is still an error.
            let exists: bool = sqlx::query_scalar(KB_EXISTS)
                .bind(kb_id)
                .fetch_one(&mut *tx)
                .await?;
            if !exists {
                return Err(StoreError::NotFound("knowledge base"));
            }
        }
        // Dropping the transaction on an error rolls every entry back.
        let mut ids = Vec::with_capacity(entries.len());
        for entry in entries {
            ids.push(
                Self::add_kb_entry_in(&mut tx, kb_id, entry, created_by, now)
                    .await?
                    .id,
            );
        }
        tx.commit().await?;
        self.after_import("kb_entries").await;
        Ok(ids)
    }

    async fn delete_kb(&self, guild_id: u64, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(DELETE_KB)
            .bind(self::id(guild_id))
            .bind(id)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    // ----- Retrieval -----

    async fn search_training(
        &self,
        guild_id: u64,
        terms: &[String],
        limit: u32,
        embedding_model: Option<&str>,
    ) -> Result<Vec<TextMatch>, StoreError> {
        let terms = clean_terms(terms);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (matching, sql) = self
            .full_text_query("training_fts", &terms, id(guild_id), None)
            .await?;
        let rows = sqlx::query(sql)
            .persistent(!PLAN_EACH_SEARCH)
            .bind(id(guild_id))
            .bind(matching)
            .bind(i64::from(limit))
            .bind(embedding_model)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, |row| text_match_from_row(row, EntryKind::Training))
    }

    async fn search_knowledge(
        &self,
        guild_id: u64,
        kb_id: Option<i64>,
        terms: &[String],
        limit: u32,
        embedding_model: Option<&str>,
    ) -> Result<Vec<TextMatch>, StoreError> {
        let terms = clean_terms(terms);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (matching, sql) = self
            .full_text_query("kb_fts", &terms, id(guild_id), kb_id)
            .await?;
        let rows = sqlx::query(sql)
            .persistent(!PLAN_EACH_SEARCH)
            .bind(id(guild_id))
            .bind(matching)
            .bind(i64::from(limit))
            .bind(embedding_model)
            .bind(kb_id)
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, |row| text_match_from_row(row, EntryKind::Knowledge))
    }

    async fn entries_missing_embedding(
        &self,
        model: &str,
        limit: u32,
    ) -> Result<Vec<(EntryKind, i64, String)>, StoreError> {
        let rows = sqlx::query(MISSING_EMBEDDINGS)
            .bind(model)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, |row| {
            let kind = get_named(row, "kind", entry_kind)?;
            let title: String = row.try_get("title")?;
            let text = match row.try_get::<Option<String>, _>("content")? {
                Some(content) => format!("{title}\n{content}"),
                None => title,
            };
            Ok((kind, row.try_get("id")?, text))
        })
    }

    async fn set_entry_embedding(
        &self,
        kind: EntryKind,
        id: i64,
        model: &str,
        vector: &[f32],
    ) -> Result<(), StoreError> {
        if vector.is_empty() {
            return Err(StoreError::InvalidArgument(
                "an embedding needs at least one dimension".into(),
            ));
        }
        let statement = match kind {
            EntryKind::Training => SET_TRAINING_EMBEDDING,
            EntryKind::Knowledge => SET_KB_EMBEDDING,
        };
        sqlx::query(statement)
            .bind(id)
            .bind(embedding_bytes(vector))
            .bind(model)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }
}
