//! The store's errors. Each message says what went wrong and what to do about it, because these reach
//! operators as they are (logs, CLI output). None of them contains a password: locations are redacted
//! before they are put in an error.

use crate::DatabaseKind;

fn versions(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("could not open the {kind} database at {location}: {source} — {hint}")]
    Connect {
        kind: DatabaseKind,
        /// Path or URL, password redacted.
        location: String,
        hint: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// Applying a migration failed.
    #[error(
        "applying database migrations failed: {0} — the database keeps the migrations applied before \
         the failure; fix the cause (see the error) and start again"
    )]
    Migrate(#[source] sqlx::migrate::MigrateError),

    /// The database has applied migrations this binary does not know.
    #[error(
        "the database was migrated by a newer disconcierge (migrations {} unknown to this version); \
         upgrade the binary",
        versions(.unknown)
    )]
    SchemaTooNew { unknown: Vec<i64> },

    /// The database lacks migrations this binary needs.
    #[error(
        "the database schema is older than this disconcierge (migrations {} not applied); run the \
         database migrations of this version first",
        versions(.pending)
    )]
    SchemaOutdated { pending: Vec<i64> },

    /// An applied migration differs from this binary's copy.
    #[error(
        "migration {version} applied in the database differs from the one built into this \
         disconcierge: the database was migrated by a different build; use the matching build"
    )]
    MigrationModified { version: i64 },

    /// A migration started but never completed.
    #[error(
        "migration {version} was left half-applied by an earlier failure; restore the database from a \
         backup (or repair it by hand and delete version {version} from _sqlx_migrations), then \
         migrate again"
    )]
    MigrationFailed { version: i64 },

    /// Optimistic concurrency: the runtime configuration changed since the caller read it.
    #[error(
        "the runtime configuration was changed by someone else since it was loaded; reload it and \
         apply the change again"
    )]
    Conflict,

    /// A unique row already exists (the argument names the kind of row).
    #[error("this {0} already exists")]
    AlreadyExists(&'static str),

    /// A row the operation needs does not exist (the argument names the kind of row).
    #[error("no such {0}")]
    NotFound(&'static str),

    /// The caller passed something the store refuses; a bug in the caller.
    #[error("invalid store request: {0}")]
    InvalidArgument(String),

    /// Stored data could not be read back (e.g. written by a newer version, or edited by hand).
    #[error("the stored {what} could not be read: {message} — fix or remove it in the database")]
    Corrupt { what: &'static str, message: String },

    /// Another program's database (brought over by an import) could not be read as expected.
    #[error("could not read {what} at {path}: {message}")]
    Foreign {
        what: &'static str,
        path: String,
        message: String,
    },

    /// Any other database failure.
    #[error(
        "database operation failed: {0} — check that the database is reachable and healthy (and its \
         logs)"
    )]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Maps a unique violation to [`StoreError::AlreadyExists`] and a foreign-key violation to
    /// [`StoreError::NotFound`] (the referenced row is missing); anything else is a database error.
    pub(crate) fn from_write(
        e: sqlx::Error,
        duplicate: &'static str,
        missing: &'static str,
    ) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return StoreError::AlreadyExists(duplicate);
            }
            if db.is_foreign_key_violation() {
                return StoreError::NotFound(missing);
            }
        }
        StoreError::Database(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = StoreError::SchemaTooNew {
            unknown: vec![7, 8],
        };
        assert_eq!(
            e.to_string(),
            "the database was migrated by a newer disconcierge (migrations 7, 8 unknown to this \
             version); upgrade the binary"
        );
        let e = StoreError::Connect {
            kind: DatabaseKind::Sqlite,
            location: "/nope/dc.sqlite3".into(),
            hint: "check that the directory is writable",
            source: sqlx::Error::PoolClosed,
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("could not open the SQLite database at /nope/dc.sqlite3: "),
            "{msg}"
        );
        assert!(
            msg.ends_with("check that the directory is writable"),
            "{msg}"
        );
        assert_eq!(
            StoreError::AlreadyExists("admin account").to_string(),
            "this admin account already exists"
        );
    }
}
