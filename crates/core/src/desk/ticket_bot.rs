//! The Python ticket bot's training data (`../shared/seeds/002_*`), brought over by `disconcierge import
//! ticket-bot`: the rows of its `training_data` table (`query`, `response`, `category`, `usage_count`,
//! `tags`, …) and its exported JSON files, turned into trained answers of one server.
//!
//! Every row is checked before anything is written (the first fault names the row and the field, and
//! nothing is imported). The ticket bot never refused a question trained twice, so rows with the same
//! question (after normalisation) are merged: the last one's answer, category and tags, the usage counts
//! added up. Importing again changes nothing: each question is trained once per server, so a second run
//! finds every one of them and writes the same values.

use crate::desk::model::NewTrainingEntry;
use crate::desk::transfer::{InputError, MAX_ENTRIES, training_entry};
use std::collections::{BTreeMap, HashMap};

/// One row of the ticket bot's data, as read (from its database or one of its JSON files).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketBotRow {
    /// Where it came from, for messages: `training.db row 12`, `export.json [3]`.
    pub source: String,
    /// The server it belongs to, when the data says (the database's `guild_id` column).
    pub guild_id: Option<u64>,
    pub query: String,
    pub response: String,
    pub category: Option<String>,
    /// As stored: a JSON list (`["billing","refund"]`) or words separated by commas.
    pub tags: Option<String>,
    pub usage_count: i64,
}

/// A trained answer to import, with the uses the ticket bot counted.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedTraining {
    pub entry: NewTrainingEntry,
    pub uses: u32,
}

/// What the rows for one server amount to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TicketBotImport {
    pub entries: Vec<ImportedTraining>,
    /// Rows merged into an earlier one with the same question.
    pub merged: usize,
    /// Rows of other servers (by id), left out: import them with their own `--guild`.
    pub other_guilds: BTreeMap<u64, usize>,
}

/// The tags as stored by the ticket bot: a JSON list of strings, or words separated by commas.
pub fn parse_tags(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<serde_json::Value>>(raw)
    {
        return list
            .into_iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect();
    }
    raw.split(',').map(str::to_string).collect()
}

/// The rows of `guild_id` checked and merged into trained answers attributed to `created_by`.
pub fn entries(
    rows: &[TicketBotRow],
    guild_id: u64,
    created_by: u64,
) -> Result<TicketBotImport, InputError> {
    let mut out = TicketBotImport::default();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for row in rows {
        if let Some(other) = row.guild_id.filter(|g| *g != guild_id) {
            *out.other_guilds.entry(other).or_default() += 1;
            continue;
        }
        let entry = training_entry(
            &format!("{}: ", row.source),
            &NewTrainingEntry {
                guild_id,
                question: row.query.clone(),
                answer: row.response.clone(),
                category: row.category.clone(),
                tags: row.tags.as_deref().map(parse_tags).unwrap_or_default(),
                created_by,
            },
        )?;
        let uses = u32::try_from(row.usage_count.max(0)).unwrap_or(u32::MAX);
        let key = crate::desk::retrieval::question_key(&entry.question);
        match by_key.get(&key) {
            Some(&i) => {
                let earlier = &mut out.entries[i];
                earlier.uses = earlier.uses.saturating_add(uses);
                earlier.entry = entry;
                out.merged += 1;
            }
            None => {
                by_key.insert(key, out.entries.len());
                out.entries.push(ImportedTraining { entry, uses });
            }
        }
    }
    if out.entries.len() > MAX_ENTRIES {
        return Err(InputError::Field {
            field: "training_data".into(),
            message: format!(
                "has {} questions for this server; at most {MAX_ENTRIES} are imported at once",
                out.entries.len()
            ),
        });
    }
    Ok(out)
}

/// Reads one of the ticket bot's exported JSON files (`file` names it in messages): a list of rows, or an
/// object holding the list under `training_data`, `entries`, `data` or `training`. A row has `query` (or
/// `question`) and `response` (or `answer`), and may have `category`, `tags` (a list or a string),
/// `usage_count` and `guild_id`; other fields (`id`, `metadata`, dates) are not needed.
pub fn json_rows(file: &str, json: &str) -> Result<Vec<TicketBotRow>, InputError> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(json).map_err(crate::desk::transfer::syntax)?;
    let field = |field: String, message: &str| InputError::Field {
        field,
        message: message.to_string(),
    };
    let list = match &value {
        Value::Array(list) => list,
        Value::Object(map) => ["training_data", "entries", "data", "training"]
            .iter()
            .find_map(|k| map.get(*k).and_then(Value::as_array))
            .ok_or_else(|| {
                field(
                    file.to_string(),
                    "holds no list of trained answers (expected a list, or one under \
                     training_data, entries, data or training)",
                )
            })?,
        _ => {
            return Err(field(file.to_string(), "is not a list of trained answers"));
        }
    };
    let text = |row: &serde_json::Map<String, Value>, names: &[&str]| {
        names.iter().find_map(|n| match row.get(*n) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    list.iter()
        .enumerate()
        .map(|(i, row)| {
            let source = format!("{file} [{i}]");
            let row = row
                .as_object()
                .ok_or_else(|| field(source.clone(), "is not an object"))?;
            let query = text(row, &["query", "question"])
                .ok_or_else(|| field(format!("{source}.query"), "is missing"))?;
            let response = text(row, &["response", "answer"])
                .ok_or_else(|| field(format!("{source}.response"), "is missing"))?;
            let tags = match row.get("tags") {
                Some(Value::Array(list)) => Some(Value::Array(list.clone()).to_string()),
                Some(Value::String(s)) => Some(s.clone()),
                _ => None,
            };
            let number = |name: &str| match row.get(name) {
                Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            Ok(TicketBotRow {
                guild_id: number("guild_id").and_then(|g| u64::try_from(g).ok()),
                query,
                response,
                category: text(row, &["category"]),
                tags,
                usage_count: number("usage_count").unwrap_or(0),
                source,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize, guild: Option<u64>, q: &str, a: &str, uses: i64) -> TicketBotRow {
        TicketBotRow {
            source: format!("training.db row {i}"),
            guild_id: guild,
            query: q.into(),
            response: a.into(),
            category: Some("billing".into()),
            tags: Some(r#"["Refund", "money"]"#.into()),
            usage_count: uses,
        }
    }

    #[test]
    fn tags_are_read_as_json_lists_or_comma_separated_words() {
        assert_eq!(parse_tags(r#"["a", "b c"]"#), ["a", "b c"]);
        assert_eq!(parse_tags("a, b ,c"), ["a", " b ", "c"]);
        assert_eq!(parse_tags("[not json"), ["[not json"]);
    }

    #[test]
    fn rows_of_one_server_become_entries_and_repeated_questions_merge() {
        let rows = [
            row(1, Some(7), "How do refunds work?", "Within 30 days.", 4),
            row(2, Some(8), "Other server?", "Yes.", 1),
            row(3, Some(7), "how do REFUNDS work", "Within 14 days.", 2),
            row(4, None, "Opening hours?", "9 to 5.", 0),
        ];
        let import = entries(&rows, 7, 0).unwrap();
        assert_eq!(import.entries.len(), 2);
        assert_eq!(import.merged, 1);
        assert_eq!(import.other_guilds, BTreeMap::from([(8, 1)]));
        let refunds = &import.entries[0];
        assert_eq!(refunds.entry.answer, "Within 14 days.", "the last row wins");
        assert_eq!(refunds.uses, 6, "usage counts add up");
        assert_eq!(refunds.entry.tags, ["refund", "money"]);
        assert_eq!(refunds.entry.category.as_deref(), Some("billing"));
        assert_eq!(import.entries[1].entry.guild_id, 7);
    }

    #[test]
    fn a_bad_row_names_itself_and_nothing_is_returned() {
        let rows = [
            row(1, Some(7), "Fine?", "Yes.", 0),
            row(2, Some(7), "Empty answer?", "   ", 0),
        ];
        let e = entries(&rows, 7, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "training.db row 2: answer: must not be empty"
        );
    }

    #[test]
    fn json_exports_in_either_shape_are_read() {
        let list = r#"[{"query":"Q1","response":"A1","category":"c","tags":["x"],"usage_count":3,"metadata":{}}]"#;
        let rows = json_rows("export.json", list).unwrap();
        assert_eq!(rows[0].query, "Q1");
        assert_eq!(rows[0].usage_count, 3);
        assert_eq!(parse_tags(rows[0].tags.as_deref().unwrap()), ["x"]);
        let wrapped = r#"{"guild_id":"7","training_data":[{"question":"Q2","answer":"A2","tags":"a,b","guild_id":"7"}]}"#;
        let rows = json_rows("backup.json", wrapped).unwrap();
        assert_eq!(rows[0].response, "A2");
        assert_eq!(rows[0].guild_id, Some(7));
        let e = json_rows("x.json", r#"[{"query":"Q"}]"#).unwrap_err();
        assert_eq!(e.to_string(), "x.json [0].response: is missing");
        let e = json_rows("x.json", r#"{"other":1}"#).unwrap_err();
        assert!(e.to_string().starts_with("x.json: holds no list"), "{e}");
        let e = json_rows("x.json", "[\n  {\"query\": }").unwrap_err();
        assert!(matches!(e, InputError::Syntax { line: 2, .. }), "{e}");
    }
}
