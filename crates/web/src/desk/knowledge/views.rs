//! Knowledge bases and their entries as the pages and the API show them, and the forms and bodies
//! that create and change them, checked as `/kb_create` and `/kb_add` check them.

use crate::desk::{Invalid, author, tags_text};
use crate::views::{excerpt, when};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{KbEntry, KnowledgeBase, NewKbEntry};
use disconcierge_core::desk::transfer;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const KB_FIELDS: &[&str] = &["name", "description"];
const ENTRY_FIELDS: &[&str] = &["title", "content", "tags"];
/// Longest description accepted, in characters.
const MAX_DESCRIPTION: usize = transfer::MAX_TEXT;

/// A knowledge base: entries the LLM gets as reference material.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KnowledgeBase)]
pub struct KbView {
    pub id: i64,
    pub guild_id: String,
    pub name: String,
    pub description: Option<String>,
    pub entry_count: u64,
    /// A Discord id, or `"0"` for the admin interface.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub author: String,
}

impl KbView {
    pub fn new(kb: &KnowledgeBase) -> Self {
        KbView {
            id: kb.id,
            guild_id: kb.guild_id.to_string(),
            name: kb.name.clone(),
            description: kb.description.clone(),
            entry_count: kb.entry_count,
            created_by: kb.created_by.to_string(),
            created_at: kb.created_at,
            author: author(kb.created_by),
        }
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }
}

/// An entry of a knowledge base.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KnowledgeEntry)]
pub struct KbEntryView {
    pub id: i64,
    pub kb_id: i64,
    pub guild_id: String,
    pub title: String,
    pub content: String,
    pub tags: Vec<String>,
    /// A Discord id, or `"0"` for the admin interface.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub author: String,
}

impl KbEntryView {
    pub fn new(e: &KbEntry) -> Self {
        KbEntryView {
            id: e.id,
            kb_id: e.kb_id,
            guild_id: e.guild_id.to_string(),
            title: e.title.clone(),
            content: e.content.clone(),
            tags: e.tags.clone(),
            created_by: e.created_by.to_string(),
            created_at: e.created_at,
            updated_at: e.updated_at,
            author: author(e.created_by),
        }
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }

    pub fn updated(&self) -> String {
        when(self.updated_at)
    }

    pub fn title_excerpt(&self) -> String {
        excerpt(&self.title, 120)
    }

    pub fn content_excerpt(&self) -> String {
        excerpt(&self.content, 200)
    }

    pub fn tag_list(&self) -> String {
        tags_text(&self.tags)
    }
}

/// The form that creates a knowledge base, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct KbForm {
    pub(super) csrf: Option<String>,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
}

/// The body of `POST /api/knowledge_bases`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KnowledgeBaseInput)]
pub(super) struct KbBody {
    /// Unique in the guild (ignoring case), at most 100 characters.
    #[serde(default)]
    pub(super) name: String,
    /// At most 4000 characters; empty or `null`: none.
    #[serde(default)]
    pub(super) description: Option<String>,
}

/// A knowledge base's name and description, checked as `/kb_create` checks them.
pub(super) fn checked_kb(
    name: &str,
    description: Option<&str>,
) -> Result<(String, Option<String>), Invalid> {
    let name = transfer::kb_name(name).map_err(|e| Invalid::from_input(e, KB_FIELDS))?;
    let description = description
        .map(|d| d.replace("\r\n", "\n").trim().to_string())
        .filter(|d| !d.is_empty());
    if let Some(d) = &description {
        let n = d.chars().count();
        if n > MAX_DESCRIPTION {
            return Err(Invalid::new(
                "description",
                format!("is {n} characters long; at most {MAX_DESCRIPTION} are allowed"),
            ));
        }
    }
    Ok((name, description))
}

/// The entry forms, as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct EntryForm {
    pub(super) csrf: Option<String>,
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) content: String,
    /// Separated by commas.
    #[serde(default)]
    pub(super) tags: String,
}

impl EntryForm {
    pub(super) fn of(e: &KbEntry) -> Self {
        EntryForm {
            csrf: None,
            title: e.title.clone(),
            content: e.content.clone(),
            tags: tags_text(&e.tags),
        }
    }

    /// The entry to save, checked as `/kb_add` checks it.
    pub(super) fn checked(&self) -> Result<NewKbEntry, Invalid> {
        let tags = transfer::parse_tag_list(Some(&self.tags))
            .map_err(|e| Invalid::from_input(e, ENTRY_FIELDS))?;
        checked_entry(NewKbEntry {
            title: self.title.replace("\r\n", "\n"),
            content: self.content.replace("\r\n", "\n"),
            tags,
        })
    }
}

/// The body of `POST …/entries` and `PUT …/entries/{entry}`; fields left out are empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KnowledgeEntryInput)]
pub(super) struct EntryBody {
    /// At most 200 characters.
    #[serde(default)]
    pub(super) title: String,
    /// At most 4000 characters.
    #[serde(default)]
    pub(super) content: String,
    /// At most 20 tags of at most 50 characters.
    #[serde(default)]
    pub(super) tags: Vec<String>,
}

pub(super) fn checked_entry(entry: NewKbEntry) -> Result<NewKbEntry, Invalid> {
    transfer::kb_entry("", &entry).map_err(|e| Invalid::from_input(e, ENTRY_FIELDS))
}
