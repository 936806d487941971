//! `disconcierge import ticket-bot`: the Python ticket bot's trained answers (its `training.db` and its
//! exported JSON files) brought into one server of disconcierge's database. Everything is read and checked
//! first ([`disconcierge_core::desk::ticket_bot`]); then all of it is written in one transaction, or
//! nothing. Running it again writes the same values and adds nothing.

use disconcierge_core::desk::ticket_bot::{self, TicketBotRow};
use disconcierge_core::desk::transfer::InputError;
use disconcierge_store::{ImportReport, Store, StoreError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Imported answers are attributed to no Discord user (the ticket bot kept no author).
pub const IMPORT_AUTHOR: u64 = 0;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}; nothing was imported")]
    Store(#[from] StoreError),
    #[error("could not read {path}: {source}; nothing was imported")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{0}; nothing was imported (fix the row, or leave its file out, and run the import again)"
    )]
    Input(#[from] InputError),
    #[error(
        "nothing to import: give the ticket bot's database (--db) or its exported JSON files (--json)"
    )]
    Nothing,
}

/// What an import read and did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportSummary {
    /// Rows read from the database and the files.
    pub rows: usize,
    /// Trained answers for the server, after merging repeated questions.
    pub entries: usize,
    /// Rows merged into an earlier one with the same question.
    pub merged: usize,
    /// Rows of other servers left out, by server id.
    pub other_guilds: BTreeMap<u64, usize>,
    /// What was written; `None` for a dry run.
    pub written: Option<ImportReport>,
}

/// `n` and `noun`, plural unless `n` is 1.
fn count(n: impl Into<u64>, noun: &str) -> String {
    match n.into() {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} read: {}",
            count(self.rows as u64, "row"),
            count(self.entries as u64, "trained answer")
        )?;
        if self.merged > 0 {
            write!(
                f,
                " ({} repeated an earlier question and merged into it)",
                count(self.merged as u64, "row")
            )?;
        }
        match &self.written {
            Some(r) => write!(
                f,
                "; {} new, {} already there (answer, category and tags brought up to date)",
                r.created, r.updated
            )?,
            None => write!(f, "; dry run, nothing written")?,
        }
        for (guild, n) in &self.other_guilds {
            write!(
                f,
                "\n{} of server {guild} left out: import them with --guild {guild}",
                count(*n as u64, "row")
            )?;
        }
        Ok(())
    }
}

/// Reads the ticket bot's database `db` and JSON files `json`, and trains their answers in `guild_id`
/// (unless `dry_run`).
pub async fn import(
    store: &dyn Store,
    db: Option<&Path>,
    json: &[PathBuf],
    guild_id: u64,
    dry_run: bool,
) -> Result<ImportSummary, ImportError> {
    if db.is_none() && json.is_empty() {
        return Err(ImportError::Nothing);
    }
    let mut rows: Vec<TicketBotRow> = Vec::new();
    if let Some(db) = db {
        rows.extend(disconcierge_store::ticket_bot::read_training(db).await?);
    }
    for path in json {
        let text = std::fs::read_to_string(path).map_err(|source| ImportError::File {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        rows.extend(ticket_bot::json_rows(&name, &text).map_err(|e| match e {
            // A syntax error's position means nothing without the file's name.
            InputError::Syntax {
                line,
                column,
                message,
            } => InputError::Field {
                field: name.clone(),
                message: format!("line {line}, column {column}: {message}"),
            },
            other => other,
        })?);
    }
    let checked = ticket_bot::entries(&rows, guild_id, IMPORT_AUTHOR)?;
    let written = if dry_run {
        None
    } else {
        let report = store
            .import_counted_training(&checked.entries, chrono::Utc::now())
            .await?;
        tracing::info!(
            guild = guild_id,
            created = report.created,
            updated = report.updated,
            "the ticket bot's trained answers imported"
        );
        Some(report)
    };
    Ok(ImportSummary {
        rows: rows.len(),
        entries: checked.entries.len(),
        merged: checked.merged,
        other_guilds: checked.other_guilds,
        written,
    })
}
