//! Trained answers and knowledge bases: the staff commands that create, list, search, delete, import and
//! export them. Everything is scoped to the guild the command came from.

use super::{Asker, Desk, DeskError, PAGE_SIZE, defer_private, excerpt, pages, user_error};
use chrono::Utc;
use disconcierge_core::desk::model::{KnowledgeBase, NewKbEntry, NewTrainingEntry, TrainOutcome};
use disconcierge_core::desk::{retrieval, transfer};
use disconcierge_discord::desk::{Attachment, Controls, MAX_DOWNLOAD, PagedList, Reply};
use disconcierge_discord::router::Ack;
use disconcierge_store::KbCreated;
use std::sync::Arc;

fn input(e: transfer::InputError) -> DeskError {
    DeskError::User(format!("That was not saved: {e}."))
}

/// A file that must be JSON: refused by name first, so a screenshot is not downloaded at all.
fn check_json_file(file: &Attachment) -> Result<(), DeskError> {
    if !file.filename.to_ascii_lowercase().ends_with(".json") {
        return user_error(format!(
            "\"{}\" is not a .json file; attach a file made by the matching export command.",
            file.filename
        ));
    }
    if file.size > MAX_DOWNLOAD {
        return user_error(format!(
            "\"{}\" is {} bytes; at most {MAX_DOWNLOAD} bytes can be imported at once.",
            file.filename, file.size
        ));
    }
    Ok(())
}

/// Discord's limit on a button's custom id, in bytes.
const CUSTOM_ID_MAX: usize = 100;

/// Whether the page buttons of `/training_list` fit in custom ids: they carry the category
/// (`dct:tl:<page>:<category>`, see `disconcierge_discord::desk::components`), which may be up to 100
/// characters long. The longest id on page `page` is the next page's.
fn training_pager_fits(category: Option<&str>, page: u32) -> bool {
    let next = page.saturating_add(1);
    format!("dct:tl:{next}:{}", category.unwrap_or_default()).len() <= CUSTOM_ID_MAX
}

/// A file name fit for an attachment: letters, digits, `-` and `_`.
fn file_stem(name: &str) -> String {
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    stem.trim_matches('_').to_string()
}

impl Desk {
    /// Refuses to add trained answers where training is off, saying which switch.
    async fn require_training(&self, guild_id: u64) -> Result<(), DeskError> {
        if !self.training {
            return user_error(
                "Training is turned off for every server (DC_DESK_TRAINING=false on the bot's host), so \
                 no trained answer is added.",
            );
        }
        if !self.switches(guild_id).await?.training {
            return user_error(
                "Training is turned off in this server, so no trained answer is added. Staff can turn it \
                 on with /setup training:True.",
            );
        }
        Ok(())
    }

    pub(crate) async fn train(
        &self,
        asker: &Asker<'_>,
        question: String,
        answer: String,
        category: Option<String>,
        tags: Option<String>,
    ) -> Result<Ack, DeskError> {
        self.require_training(asker.guild_id).await?;
        let entry = transfer::training_entry(
            "",
            &NewTrainingEntry {
                guild_id: asker.guild_id,
                question,
                answer,
                category,
                tags: transfer::parse_tag_list(tags.as_deref()).map_err(input)?,
                created_by: asker.inv.user.id,
            },
        )
        .map_err(input)?;
        let text = match self.store.train(&entry, Utc::now()).await? {
            TrainOutcome::Created(e) => format!(
                "Trained answer #{} saved. Questions like \"{}\" are now answered with it.",
                e.id,
                excerpt(&e.question, 100)
            ),
            TrainOutcome::Updated {
                entry,
                previous_answer,
            } => format!(
                "Trained answer #{} already had this question: its answer was **replaced**.\nBefore: {}\nNow: {}",
                entry.id,
                excerpt(&previous_answer, 300),
                excerpt(&entry.answer, 300)
            ),
        };
        Ok(Ack::Reply(Reply::private(text)))
    }

    pub(crate) async fn training_page(
        &self,
        asker: &Asker<'_>,
        category: Option<String>,
        page: u32,
    ) -> Result<Reply, DeskError> {
        let category = category
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty());
        let fetch = |page: u32| {
            self.store.list_training(
                asker.guild_id,
                category.as_deref(),
                u64::from(page - 1) * u64::from(PAGE_SIZE),
                PAGE_SIZE,
            )
        };
        let mut page = page.max(1);
        let (mut entries, total) = fetch(page).await?;
        let pages = pages(total);
        if page > pages {
            // Past the end (the page option, or entries deleted since): the last page instead.
            page = pages;
            entries = fetch(page).await?.0;
        }
        let mut text = format!(
            "**Trained answers{}** — {total} in all, page {page} of {pages}\n",
            category
                .as_deref()
                .map(|c| format!(" in {c}"))
                .unwrap_or_default()
        );
        if entries.is_empty() {
            text.push_str("Nothing here yet: staff can add answers with /train.");
        }
        for e in &entries {
            text.push_str(&format!(
                "\n**#{}** {}{}\n→ {} · used {}×",
                e.id,
                excerpt(&e.question, 120),
                e.category
                    .as_deref()
                    .map(|c| format!(" [{c}]"))
                    .unwrap_or_default(),
                excerpt(&e.answer, 140),
                e.uses
            ));
        }
        if !training_pager_fits(category.as_deref(), page) {
            if pages > 1 {
                text.push_str(
                    "\n-# This category's name is too long for page buttons: use the page option of \
                     /training_list.",
                );
            }
            return Ok(Reply::private(text));
        }
        Ok(Reply::private(text).with_controls(Controls::Pager {
            list: PagedList::Training { category },
            page,
            pages,
        }))
    }

    pub(crate) async fn training_delete(
        &self,
        asker: &Asker<'_>,
        id: i64,
    ) -> Result<Ack, DeskError> {
        let Some(entry) = self.store.training_entry(asker.guild_id, id).await? else {
            return user_error(format!(
                "There is no trained answer #{id} in this server; /training_list shows their numbers."
            ));
        };
        if !self.store.delete_training(asker.guild_id, id).await? {
            return user_error(format!("Trained answer #{id} was already deleted."));
        }
        Ok(Ack::Reply(Reply::private(format!(
            "Trained answer #{id} deleted (\"{}\").",
            excerpt(&entry.question, 100)
        ))))
    }

    pub(crate) async fn training_stats(&self, asker: &Asker<'_>) -> Result<Ack, DeskError> {
        let s = self.store.training_stats(asker.guild_id).await?;
        let mut text = format!("**Trained answers**: {}\n", s.entries);
        if !s.by_category.is_empty() {
            text.push_str("By category: ");
            let parts: Vec<String> = s
                .by_category
                .iter()
                .map(|(c, n)| format!("{} {n}", c.as_deref().unwrap_or("(none)")))
                .collect();
            text.push_str(&parts.join(", "));
            text.push('\n');
        }
        let rate = if s.replies == 0 {
            "no replies in tickets yet".to_string()
        } else {
            format!(
                "{} of {} replies in tickets were trained answers ({:.0} %)",
                s.trained_replies,
                s.replies,
                100.0 * s.trained_replies as f64 / s.replies as f64
            )
        };
        text.push_str(&format!("Hit rate: {rate}\n"));
        if !s.most_used.is_empty() {
            text.push_str("Most used:\n");
            for e in &s.most_used {
                text.push_str(&format!(
                    "- #{} {} ({}×)\n",
                    e.id,
                    excerpt(&e.question, 80),
                    e.uses
                ));
            }
        }
        Ok(Ack::Reply(Reply::private(text)))
    }

    pub(crate) async fn kb_named(
        &self,
        guild_id: u64,
        name: &str,
    ) -> Result<KnowledgeBase, DeskError> {
        match self.store.kb_by_name(guild_id, name.trim()).await? {
            Some(kb) => Ok(kb),
            None => user_error(format!(
                "There is no knowledge base named \"{}\" in this server; /kb_list shows them.",
                name.trim()
            )),
        }
    }

    pub(crate) async fn kb_create(
        &self,
        asker: &Asker<'_>,
        name: String,
        description: Option<String>,
    ) -> Result<Ack, DeskError> {
        let name = transfer::kb_name(&name).map_err(input)?;
        let description = description
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty());
        match self
            .store
            .create_kb(
                asker.guild_id,
                &name,
                description.as_deref(),
                asker.inv.user.id,
                Utc::now(),
            )
            .await?
        {
            KbCreated::Created(kb) => Ok(Ack::Reply(Reply::private(format!(
                "Knowledge base \"{}\" created. Add entries with /kb_add or /kb_import.",
                kb.name
            )))),
            KbCreated::Exists(kb) => user_error(format!(
                "A knowledge base named \"{}\" already exists here ({} entries).",
                kb.name, kb.entry_count
            )),
        }
    }

    pub(crate) async fn kb_add(
        &self,
        asker: &Asker<'_>,
        kb: String,
        title: String,
        content: String,
        tags: Option<String>,
    ) -> Result<Ack, DeskError> {
        let kb = self.kb_named(asker.guild_id, &kb).await?;
        let entry = transfer::kb_entry(
            "",
            &NewKbEntry {
                title,
                content,
                tags: transfer::parse_tag_list(tags.as_deref()).map_err(input)?,
            },
        )
        .map_err(input)?;
        let saved = self
            .store
            .add_kb_entry(kb.id, &entry, asker.inv.user.id, Utc::now())
            .await?;
        Ok(Ack::Reply(Reply::private(format!(
            "Added entry #{} \"{}\" to {}.",
            saved.id,
            excerpt(&saved.title, 100),
            kb.name
        ))))
    }

    pub(crate) async fn kb_list(&self, asker: &Asker<'_>) -> Result<Ack, DeskError> {
        let kbs = self.store.list_kbs(asker.guild_id).await?;
        let mut text = String::from("**Knowledge bases**\n");
        if kbs.is_empty() {
            text.push_str("None yet: create one with /kb_create.");
        }
        for kb in &kbs {
            text.push_str(&format!(
                "- **{}** — {} entr{}{}\n",
                kb.name,
                kb.entry_count,
                if kb.entry_count == 1 { "y" } else { "ies" },
                kb.description
                    .as_deref()
                    .map(|d| format!(" · {}", excerpt(d, 100)))
                    .unwrap_or_default()
            ));
        }
        Ok(Ack::Reply(Reply::private(text)))
    }

    pub(crate) async fn kb_page(
        &self,
        asker: &Asker<'_>,
        kb_id: i64,
        page: u32,
    ) -> Result<Reply, DeskError> {
        let Some(kb) = self.store.kb(asker.guild_id, kb_id).await? else {
            return user_error("This knowledge base no longer exists.");
        };
        let fetch = |page: u32| {
            self.store
                .kb_entries(kb.id, u64::from(page - 1) * u64::from(PAGE_SIZE), PAGE_SIZE)
        };
        let mut page = page.max(1);
        let (mut entries, total) = fetch(page).await?;
        let pages = pages(total);
        if page > pages {
            // Past the end (the page option, or entries deleted since): the last page instead.
            page = pages;
            entries = fetch(page).await?.0;
        }
        let mut text = format!(
            "**{}** — {total} entries, page {page} of {pages}\n",
            kb.name
        );
        if entries.is_empty() {
            text.push_str("No entries yet: add them with /kb_add or /kb_import.");
        }
        for e in &entries {
            text.push_str(&format!(
                "\n**#{}** {}\n{}",
                e.id,
                excerpt(&e.title, 120),
                excerpt(&e.content, 160)
            ));
        }
        Ok(Reply::private(text).with_controls(Controls::Pager {
            list: PagedList::Knowledge { kb_id: kb.id },
            page,
            pages,
        }))
    }

    pub(crate) async fn kb_search(
        &self,
        asker: &Asker<'_>,
        kb: String,
        query: String,
    ) -> Result<Ack, DeskError> {
        let kb = self.kb_named(asker.guild_id, &kb).await?;
        let terms = retrieval::query_terms(&query);
        if terms.is_empty() {
            return user_error("Search for some words (common words like \"the\" are ignored).");
        }
        let found = self
            .store
            .search_knowledge(asker.guild_id, Some(kb.id), &terms, 20, None)
            .await?;
        let scored = retrieval::score(&query, None, &found);
        let mut text = format!(
            "**{}** — results for \"{}\"\n",
            kb.name,
            excerpt(&query, 100)
        );
        if scored.is_empty() {
            text.push_str("Nothing matched.");
        }
        for s in scored.iter().take(5) {
            text.push_str(&format!(
                "\n**#{}** {} · match {:.0} %\n{}",
                s.id,
                excerpt(&s.title, 120),
                s.confidence * 100.0,
                excerpt(&s.body, 200)
            ));
        }
        Ok(Ack::Reply(Reply::private(text)))
    }

    pub(crate) async fn kb_export(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        kb: String,
    ) -> Result<Ack, DeskError> {
        let kb = self.kb_named(asker.guild_id, &kb).await?;
        let desk = self.clone();
        self.finish_later(asker.inv.token.clone(), async move {
            let entries = desk.store.all_kb_entries(kb.id).await?;
            let json = transfer::export_kb(&kb.name, kb.description.as_deref(), &entries);
            Ok(Reply::private(format!(
                "Knowledge base \"{}\": {} entries. Import it with /kb_import.",
                kb.name,
                entries.len()
            ))
            .with_file(
                format!("kb-{}.json", file_stem(&kb.name)),
                json.into_bytes(),
            ))
        });
        Ok(defer_private())
    }

    pub(crate) async fn kb_import(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        kb: String,
        file: Attachment,
    ) -> Result<Ack, DeskError> {
        let kb = self.kb_named(asker.guild_id, &kb).await?;
        check_json_file(&file)?;
        let desk = self.clone();
        let user = asker.inv.user.id;
        self.finish_later(asker.inv.token.clone(), async move {
            let bytes = desk.discord.download(&file.url, MAX_DOWNLOAD).await?;
            let text = String::from_utf8(bytes).map_err(|_| {
                DeskError::User(format!(
                    "\"{}\" is not UTF-8 text; nothing was imported.",
                    file.filename
                ))
            })?;
            let parsed = transfer::import_kb(&text).map_err(|e| {
                DeskError::User(format!(
                    "\"{}\" was not imported ({e}); nothing was changed.",
                    file.filename
                ))
            })?;
            let n = desk
                .store
                .import_kb_entries(kb.id, &parsed.entries, user, Utc::now())
                .await?
                .len();
            Ok(Reply::private(format!(
                "Imported {n} entr{} into \"{}\" (from \"{}\").",
                if n == 1 { "y" } else { "ies" },
                kb.name,
                parsed.name
            )))
        });
        Ok(defer_private())
    }

    pub(crate) async fn kb_delete(&self, asker: &Asker<'_>, kb: String) -> Result<Ack, DeskError> {
        let kb = self.kb_named(asker.guild_id, &kb).await?;
        Ok(Ack::Reply(
            Reply::private(format!(
                "Delete the knowledge base \"{}\" and its {} entries? This cannot be undone (export it first with /kb_export).",
                kb.name, kb.entry_count
            ))
            .with_controls(Controls::ConfirmKbDelete { kb_id: kb.id }),
        ))
    }

    pub(crate) async fn kb_delete_confirmed(
        &self,
        asker: &Asker<'_>,
        kb_id: i64,
    ) -> Result<Ack, DeskError> {
        let name = self
            .store
            .kb(asker.guild_id, kb_id)
            .await?
            .map(|kb| kb.name);
        let text = match (name, self.store.delete_kb(asker.guild_id, kb_id).await?) {
            (Some(name), true) => format!("Knowledge base \"{name}\" deleted."),
            _ => "This knowledge base was already deleted.".to_string(),
        };
        Ok(Ack::Update(Reply::private(text)))
    }

    pub(crate) async fn export_training(
        self: &Arc<Self>,
        asker: &Asker<'_>,
    ) -> Result<Ack, DeskError> {
        let desk = self.clone();
        let guild_id = asker.guild_id;
        self.finish_later(asker.inv.token.clone(), async move {
            let entries = desk.store.export_training(guild_id).await?;
            Ok(Reply::private(format!(
                "{} trained answer{}. Import them with /import_training.",
                entries.len(),
                if entries.len() == 1 { "" } else { "s" }
            ))
            .with_file(
                "training.json",
                transfer::export_training(&entries).into_bytes(),
            ))
        });
        Ok(defer_private())
    }

    pub(crate) async fn import_training(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        file: Attachment,
    ) -> Result<Ack, DeskError> {
        self.require_training(asker.guild_id).await?;
        check_json_file(&file)?;
        let desk = self.clone();
        let guild_id = asker.guild_id;
        let user = asker.inv.user.id;
        self.finish_later(asker.inv.token.clone(), async move {
            let bytes = desk.discord.download(&file.url, MAX_DOWNLOAD).await?;
            let text = String::from_utf8(bytes)
                .map_err(|_| DeskError::User(format!("\"{}\" is not UTF-8 text; nothing was imported.", file.filename)))?;
            let entries = transfer::import_training(&text, guild_id, user).map_err(|e| {
                DeskError::User(format!("\"{}\" was not imported ({e}); nothing was changed.", file.filename))
            })?;
            let report = desk.store.import_training(&entries, Utc::now()).await?;
            Ok(Reply::private(format!(
                "Imported {} trained answer{}: {} new, {} replaced an earlier answer to the same question.",
                entries.len(),
                if entries.len() == 1 { "" } else { "s" },
                report.created,
                report.updated
            )))
        });
        Ok(defer_private())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_page_buttons_fit_or_are_left_out() {
        use disconcierge_discord::desk::DeskButton;
        assert!(training_pager_fits(None, 100_000));
        let fits = "c".repeat(CUSTOM_ID_MAX - "dct:tl:10:".len());
        assert!(training_pager_fits(Some(&fits), 9));
        let id = DeskButton::Page {
            list: PagedList::Training {
                category: Some(fits.clone()),
            },
            page: 10,
        }
        .custom_id();
        assert_eq!(id.len(), CUSTOM_ID_MAX, "the same format as the buttons");
        assert!(
            !training_pager_fits(Some(&fits), 99),
            "page 100's button is a byte longer"
        );
        assert!(
            !training_pager_fits(Some(&"é".repeat(46)), 1),
            "bytes count"
        );
    }

    #[test]
    fn export_file_names_are_safe() {
        assert_eq!(file_stem("Product FAQ"), "Product_FAQ");
        assert_eq!(file_stem("../etc"), "etc");
    }
}
