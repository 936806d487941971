//! The JSON files of `/kb_export`, `/kb_import`, `/export_training` and `/import_training`, and the
//! validation of what staff type into `/train` and `/kb_add`.
//!
//! A file is read completely and checked completely before anything is written: the first fault is
//! reported with where it is (line and column for malformed JSON or a wrong type, the field path such as
//! `entries[3].title` for a value out of bounds), and a file with a fault imports nothing.
//! Exports are pretty-printed, so line numbers point at one field each, and they import back to the
//! same entries: an export of an import of an export is byte-for-byte the first export.

use crate::desk::model::{KbEntry, NewKbEntry, NewTrainingEntry, TrainingEntry};
use serde::{Deserialize, Serialize};

pub const KB_FORMAT: &str = "disconcierge.knowledge_base";
pub const TRAINING_FORMAT: &str = "disconcierge.training";
pub const VERSION: u32 = 1;

/// Bounds on what staff can store. Discord allows 6,000 characters in one command's options; an answer
/// longer than a message is split like any answer.
pub const MAX_TITLE: usize = 200;
pub const MAX_QUESTION: usize = 1_000;
pub const MAX_TEXT: usize = 4_000;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG: usize = 50;
pub const MAX_NAME: usize = 100;
pub const MAX_CATEGORY: usize = 100;
/// Entries in one imported file.
pub const MAX_ENTRIES: usize = 50_000;

/// What is wrong with an input, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A value out of bounds.
    #[error("{field}: {message}")]
    Field { field: String, message: String },
}

fn field(field: impl Into<String>, message: impl Into<String>) -> InputError {
    InputError::Field {
        field: field.into(),
        message: message.into(),
    }
}

/// Trims `value` and checks it is non-empty and at most `max` characters.
fn text(path: &str, value: &str, max: usize) -> Result<String, InputError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(field(path, "must not be empty"));
    }
    let n = v.chars().count();
    if n > max {
        return Err(field(
            path,
            format!("is {n} characters long; at most {max} are allowed"),
        ));
    }
    Ok(v.to_string())
}

fn optional_text(
    path: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, InputError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => text(path, v, max).map(Some),
    }
}

/// Tags: trimmed, lower-case, without duplicates or empties, in their order.
fn tags(path: &str, values: &[String]) -> Result<Vec<String>, InputError> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in values.iter().enumerate() {
        let t = t.trim().to_lowercase();
        if t.is_empty() || out.contains(&t) {
            continue;
        }
        if t.chars().count() > MAX_TAG {
            return Err(field(
                format!("{path}[{i}]"),
                format!("a tag is at most {MAX_TAG} characters"),
            ));
        }
        out.push(t);
    }
    if out.len() > MAX_TAGS {
        return Err(field(path, format!("at most {MAX_TAGS} tags are allowed")));
    }
    Ok(out)
}

/// Tags typed in a command option: separated by commas.
pub fn parse_tag_list(option: Option<&str>) -> Result<Vec<String>, InputError> {
    let raw: Vec<String> = option
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect();
    tags("tags", &raw)
}

/// A knowledge-base name (`/kb_create`): letters, digits, spaces, `-`, `_`, `.`, so it can be typed back.
pub fn kb_name(name: &str) -> Result<String, InputError> {
    let name = text("name", name, MAX_NAME)?;
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
    {
        return Err(field(
            "name",
            format!("{c:?} is not allowed; use letters, digits, spaces, '-', '_' or '.'"),
        ));
    }
    Ok(name)
}

/// Checks a knowledge-base entry (from `/kb_add` or a file), returning it trimmed.
pub fn kb_entry(path: &str, e: &NewKbEntry) -> Result<NewKbEntry, InputError> {
    Ok(NewKbEntry {
        title: text(&format!("{path}title"), &e.title, MAX_TITLE)?,
        content: text(&format!("{path}content"), &e.content, MAX_TEXT)?,
        tags: tags(&format!("{path}tags"), &e.tags)?,
    })
}

/// Checks a trained answer (from `/train` or a file), returning it trimmed.
pub fn training_entry(path: &str, e: &NewTrainingEntry) -> Result<NewTrainingEntry, InputError> {
    let question = text(&format!("{path}question"), &e.question, MAX_QUESTION)?;
    if crate::desk::retrieval::question_key(&question).is_empty() {
        return Err(field(
            format!("{path}question"),
            "needs at least one word (letters or digits)",
        ));
    }
    Ok(NewTrainingEntry {
        question,
        answer: text(&format!("{path}answer"), &e.answer, MAX_TEXT)?,
        category: optional_text(
            &format!("{path}category"),
            e.category.as_deref(),
            MAX_CATEGORY,
        )?,
        tags: tags(&format!("{path}tags"), &e.tags)?,
        ..e.clone()
    })
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KbFile {
    format: String,
    version: u32,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    entries: Vec<KbFileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KbFileEntry {
    title: String,
    content: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainingFile {
    format: String,
    version: u32,
    entries: Vec<TrainingFileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrainingFileEntry {
    question: String,
    answer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// A JSON syntax or shape error, with its line and column.
pub(crate) fn syntax(e: serde_json::Error) -> InputError {
    InputError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

fn header(format: &str, expected: &str, version: u32) -> Result<(), InputError> {
    if format != expected {
        return Err(field(
            "format",
            format!("is {format:?}; this file must be a {expected:?} export"),
        ));
    }
    if version != VERSION {
        return Err(field(
            "version",
            format!("is {version}; this disconcierge reads version {VERSION}"),
        ));
    }
    Ok(())
}

fn entry_count(n: usize) -> Result<(), InputError> {
    if n > MAX_ENTRIES {
        return Err(field(
            "entries",
            format!("has {n} entries; at most {MAX_ENTRIES} per file"),
        ));
    }
    Ok(())
}

/// A knowledge base as exported: its name, description and entries, oldest first.
pub fn export_kb(name: &str, description: Option<&str>, entries: &[KbEntry]) -> String {
    let file = KbFile {
        format: KB_FORMAT.to_string(),
        version: VERSION,
        name: name.to_string(),
        description: description.map(str::to_string),
        entries: entries
            .iter()
            .map(|e| KbFileEntry {
                title: e.title.clone(),
                content: e.content.clone(),
                tags: e.tags.clone(),
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&file).expect("plain data serializes");
    out.push('\n');
    out
}

/// A knowledge-base file read and checked: the name it was exported under and its entries.
#[derive(Debug, Clone, PartialEq)]
pub struct KbImport {
    pub name: String,
    pub description: Option<String>,
    pub entries: Vec<NewKbEntry>,
}

/// Reads a knowledge-base file; the first fault is an error and nothing is returned.
pub fn import_kb(json: &str) -> Result<KbImport, InputError> {
    let file: KbFile = serde_json::from_str(json).map_err(syntax)?;
    header(&file.format, KB_FORMAT, file.version)?;
    entry_count(file.entries.len())?;
    let entries = file
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            kb_entry(
                &format!("entries[{i}]."),
                &NewKbEntry {
                    title: e.title,
                    content: e.content,
                    tags: e.tags,
                },
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(KbImport {
        name: file.name,
        description: file.description,
        entries,
    })
}

/// A guild's trained answers as exported, oldest first.
pub fn export_training(entries: &[TrainingEntry]) -> String {
    let file = TrainingFile {
        format: TRAINING_FORMAT.to_string(),
        version: VERSION,
        entries: entries
            .iter()
            .map(|e| TrainingFileEntry {
                question: e.question.clone(),
                answer: e.answer.clone(),
                category: e.category.clone(),
                tags: e.tags.clone(),
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&file).expect("plain data serializes");
    out.push('\n');
    out
}

/// Reads a training file for `guild_id`, attributing the entries to `created_by`. Two entries with the
/// same question (after normalisation) are a fault: one would silently overwrite the other.
pub fn import_training(
    json: &str,
    guild_id: u64,
    created_by: u64,
) -> Result<Vec<NewTrainingEntry>, InputError> {
    let file: TrainingFile = serde_json::from_str(json).map_err(syntax)?;
    header(&file.format, TRAINING_FORMAT, file.version)?;
    entry_count(file.entries.len())?;
    let mut seen = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(file.entries.len());
    for (i, e) in file.entries.into_iter().enumerate() {
        let entry = training_entry(
            &format!("entries[{i}]."),
            &NewTrainingEntry {
                guild_id,
                question: e.question,
                answer: e.answer,
                category: e.category,
                tags: e.tags,
                created_by,
            },
        )?;
        let key = crate::desk::retrieval::question_key(&entry.question);
        if let Some(first) = seen.insert(key, i) {
            return Err(field(
                format!("entries[{i}].question"),
                format!("is the same question as entries[{first}]"),
            ));
        }
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn stored(i: i64, title: &str, content: &str, tags: &[&str]) -> KbEntry {
        KbEntry {
            id: i,
            kb_id: 1,
            guild_id: 7,
            title: title.into(),
            content: content.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            created_by: 3,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn kb_export_imports_back_to_the_same_entries_and_the_same_bytes() {
        let entries = vec![
            stored(
                1,
                "Refunds",
                "Within 30 days.\n\n```\ncode\n```",
                &["billing"],
            ),
            stored(2, "Ünïcode \"quotes\"", "<script>alert(1)</script>", &[]),
        ];
        let json = export_kb("faq", Some("Common questions"), &entries);
        let back = import_kb(&json).unwrap();
        assert_eq!(back.name, "faq");
        assert_eq!(back.description.as_deref(), Some("Common questions"));
        let again: Vec<KbEntry> = back
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let tags: Vec<&str> = e.tags.iter().map(String::as_str).collect();
                stored(i as i64 + 10, &e.title, &e.content, &tags)
            })
            .collect();
        assert_eq!(export_kb("faq", Some("Common questions"), &again), json);
    }

    #[test]
    fn malformed_files_say_where() {
        let e = import_kb("{\n  \"format\": \"disconcierge.knowledge_base\",\n  \"version\": 1,\n  \"name\": \"x\",\n  \"entries\": [\n    {\"title\": \"a\"}\n  ]\n}").unwrap_err();
        assert!(
            matches!(&e, InputError::Syntax { line: 6, message, .. } if message.contains("content")),
            "{e}"
        );
        let e = import_kb("{\"format\": 1}").unwrap_err();
        assert!(matches!(e, InputError::Syntax { line: 1, .. }), "{e}");
        let e = import_kb("not json").unwrap_err();
        assert!(e.to_string().starts_with("line 1, column 2: "), "{e}");
        let e = import_kb(r#"{"format":"disconcierge.knowledge_base","version":1,"name":"x","entries":[],"extra":1}"#).unwrap_err();
        assert!(e.to_string().contains("extra"), "{e}");
    }

    #[test]
    fn out_of_bounds_values_name_their_field() {
        let long = "x".repeat(MAX_TITLE + 1);
        let json = format!(
            r#"{{"format":"disconcierge.knowledge_base","version":1,"name":"x","entries":[{{"title":"ok","content":"ok"}},{{"title":"{long}","content":"c"}}]}}"#
        );
        assert_eq!(
            import_kb(&json).unwrap_err().to_string(),
            format!(
                "entries[1].title: is {} characters long; at most {MAX_TITLE} are allowed",
                MAX_TITLE + 1
            )
        );
        let json = r#"{"format":"disconcierge.knowledge_base","version":1,"name":"x","entries":[{"title":"t","content":"   "}]}"#;
        assert_eq!(
            import_kb(json).unwrap_err().to_string(),
            "entries[0].content: must not be empty"
        );
        let json = r#"{"format":"disconcierge.training","version":1,"name":"x","entries":[]}"#;
        assert!(import_kb(json).is_err());
        let json =
            r#"{"format":"disconcierge.knowledge_base","version":2,"name":"x","entries":[]}"#;
        assert!(
            import_kb(json)
                .unwrap_err()
                .to_string()
                .starts_with("version: is 2")
        );
    }

    #[test]
    fn training_round_trip_and_duplicate_questions() {
        let now = Utc::now();
        let e = |id, q: &str, a: &str, c: Option<&str>| TrainingEntry {
            id,
            guild_id: 7,
            question: q.into(),
            answer: a.into(),
            category: c.map(str::to_string),
            tags: vec!["t".into()],
            created_by: 3,
            uses: 0,
            last_used_at: None,
            created_at: now,
            updated_at: now,
        };
        let json = export_training(&[
            e(1, "Q one?", "A one", Some("billing")),
            e(2, "Q two", "A two", None),
        ]);
        let back = import_training(&json, 9, 4).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!((back[0].guild_id, back[0].created_by), (9, 4));
        assert_eq!(back[0].category.as_deref(), Some("billing"));
        let json = export_training(&[e(1, "Q one?", "A", None), e(2, "q ONE", "B", None)]);
        assert_eq!(
            import_training(&json, 9, 4).unwrap_err().to_string(),
            "entries[1].question: is the same question as entries[0]"
        );
    }

    #[test]
    fn typed_inputs_are_trimmed_and_checked() {
        assert_eq!(
            parse_tag_list(Some(" Billing, ,billing , refunds")).unwrap(),
            vec!["billing", "refunds"]
        );
        assert_eq!(parse_tag_list(None).unwrap(), Vec::<String>::new());
        assert_eq!(kb_name("  Product FAQ ").unwrap(), "Product FAQ");
        assert!(kb_name("a/b").unwrap_err().to_string().contains("'/'"));
        let t = NewTrainingEntry {
            guild_id: 1,
            question: "?!".into(),
            answer: "a".into(),
            category: Some("  ".into()),
            tags: vec![],
            created_by: 2,
        };
        assert!(
            training_entry("", &t)
                .unwrap_err()
                .to_string()
                .starts_with("question: needs")
        );
        let ok = training_entry(
            "",
            &NewTrainingEntry {
                question: " Why? ".into(),
                ..t
            },
        )
        .unwrap();
        assert_eq!((ok.question.as_str(), ok.category), ("Why?", None));
    }
}
