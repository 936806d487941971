//! Trained answers as the pages and the API show them, and the forms and bodies that add and change
//! them, checked as `/train` checks them.

use crate::desk::{Invalid, WEB_AUTHOR, author, tags_text, when_or};
use crate::views::{excerpt, when};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::{NewTrainingEntry, TrainingEntry};
use disconcierge_core::desk::transfer;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The form's fields, in order: an error about anything else lands on the first.
const FIELDS: &[&str] = &["question", "answer", "category", "tags"];

/// A trained answer: a question and the answer to send to it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = TrainedAnswer)]
pub struct TrainingView {
    pub id: i64,
    pub guild_id: String,
    pub question: String,
    pub answer: String,
    pub category: Option<String>,
    pub tags: Vec<String>,
    /// A Discord id, or `"0"` for the admin interface.
    pub created_by: String,
    /// How many replies used it.
    pub uses: u32,
    pub last_used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub author: String,
}

impl TrainingView {
    pub fn new(e: &TrainingEntry) -> Self {
        TrainingView {
            id: e.id,
            guild_id: e.guild_id.to_string(),
            question: e.question.clone(),
            answer: e.answer.clone(),
            category: e.category.clone(),
            tags: e.tags.clone(),
            created_by: e.created_by.to_string(),
            uses: e.uses,
            last_used_at: e.last_used_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
            author: author(e.created_by),
        }
    }

    pub fn last_used(&self) -> String {
        when_or(self.last_used_at, "never")
    }

    pub fn created(&self) -> String {
        when(self.created_at)
    }

    pub fn updated(&self) -> String {
        when(self.updated_at)
    }

    pub fn question_excerpt(&self) -> String {
        excerpt(&self.question, 120)
    }

    pub fn answer_excerpt(&self) -> String {
        excerpt(&self.answer, 160)
    }

    pub fn tag_list(&self) -> String {
        tags_text(&self.tags)
    }
}

/// The add and edit forms, as typed (kept to be shown back with the error).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EntryForm {
    pub(super) csrf: Option<String>,
    #[serde(default)]
    pub(super) question: String,
    #[serde(default)]
    pub(super) answer: String,
    #[serde(default)]
    pub(super) category: String,
    /// Separated by commas.
    #[serde(default)]
    pub(super) tags: String,
}

impl EntryForm {
    pub(super) fn of(e: &TrainingEntry) -> Self {
        EntryForm {
            csrf: None,
            question: e.question.clone(),
            answer: e.answer.clone(),
            category: e.category.clone().unwrap_or_default(),
            tags: tags_text(&e.tags),
        }
    }

    /// The entry to save, checked as `/train` checks it.
    pub(super) fn checked(&self, guild_id: u64) -> Result<NewTrainingEntry, Invalid> {
        let tags = transfer::parse_tag_list(Some(&self.tags))
            .map_err(|e| Invalid::from_input(e, FIELDS))?;
        checked(NewTrainingEntry {
            guild_id,
            question: self.question.replace("\r\n", "\n"),
            answer: self.answer.replace("\r\n", "\n"),
            category: Some(self.category.clone()),
            tags,
            created_by: WEB_AUTHOR,
        })
    }
}

/// The body of `POST /api/training` and `PUT /api/training/{id}`; fields left out are empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TrainedAnswerInput)]
pub(super) struct EntryBody {
    /// At most 1000 characters, with at least one word.
    #[serde(default)]
    pub(super) question: String,
    /// At most 4000 characters.
    #[serde(default)]
    pub(super) answer: String,
    /// At most 100 characters; empty or `null`: none.
    #[serde(default)]
    pub(super) category: Option<String>,
    /// At most 20 tags of at most 50 characters.
    #[serde(default)]
    pub(super) tags: Vec<String>,
}

impl EntryBody {
    pub(super) fn checked(self, guild_id: u64) -> Result<NewTrainingEntry, Invalid> {
        checked(NewTrainingEntry {
            guild_id,
            question: self.question,
            answer: self.answer,
            category: self.category,
            tags: self.tags,
            created_by: WEB_AUTHOR,
        })
    }
}

pub(super) fn checked(entry: NewTrainingEntry) -> Result<NewTrainingEntry, Invalid> {
    transfer::training_entry("", &entry).map_err(|e| Invalid::from_input(e, FIELDS))
}

/// The question is another entry's: what to tell the admin.
pub(super) fn question_taken() -> Invalid {
    Invalid::taken(
        "question",
        "another trained answer of this server already has this question (case, punctuation and \
         spacing aside); edit or delete that one instead",
    )
}
