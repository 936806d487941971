//! What instances sharing one database tell each other: a change one of them made that the others must
//! act on at once (reload the configuration, forget caches, claim newly queued commands).
//!
//! On PostgreSQL this is `NOTIFY` on one channel, received through a dedicated `LISTEN` connection that
//! reconnects by itself; notifications sent while it was away are lost, so a reconnection is reported as
//! [`Change::Missed`] and the receiver reloads everything. On SQLite one process owns the file: there is
//! nobody to tell, and [`ClusterStore::listen`] gives `None`.

use crate::StoreError;
use async_trait::async_trait;
use tokio::sync::mpsc;

/// The channel every instance listens on.
pub const CHANNEL: &str = "disconcierge";

/// A change another instance made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The runtime configuration was saved: load it.
    RuntimeConfig,
    /// An admin asked every instance to reload the configuration and forget what it cached.
    Reload,
    /// Commands were queued: an idle worker should claim.
    Queued,
    /// The listener was away (its connection was lost and made again): notifications may have been
    /// missed, so reload everything.
    Missed,
}

impl Change {
    /// The `NOTIFY` payload.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::RuntimeConfig => "config",
            Change::Reload => "reload",
            Change::Queued => "queued",
            Change::Missed => "missed",
        }
    }

    /// A payload read back; `None` for one this version does not know (a newer instance's).
    pub fn parse(payload: &str) -> Option<Change> {
        [
            Change::RuntimeConfig,
            Change::Reload,
            Change::Queued,
            Change::Missed,
        ]
        .into_iter()
        .find(|c| c.as_str() == payload)
    }
}

/// The changes other instances announce, as they arrive; ends when the store closes.
pub struct Changes {
    pub(crate) rx: mpsc::Receiver<Change>,
}

impl Changes {
    /// The next change; `None` once the store is closed.
    pub async fn next(&mut self) -> Option<Change> {
        self.rx.recv().await
    }
}

/// Telling the other instances about a change, and hearing theirs.
#[async_trait]
pub trait ClusterStore: Send + Sync {
    /// Tells every instance listening (this one too) about `change`. A no-op on SQLite.
    async fn notify(&self, change: Change) -> Result<(), StoreError>;

    /// Starts listening: the changes announced from now on, `None` where no other instance can share
    /// the database (SQLite). The listener runs in the background until the [`Changes`] is dropped.
    async fn listen(&self) -> Result<Option<Changes>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn payloads_read_back() {
        for c in [
            Change::RuntimeConfig,
            Change::Reload,
            Change::Queued,
            Change::Missed,
        ] {
            assert_eq!(Change::parse(c.as_str()), Some(c));
        }
        assert_eq!(Change::parse("something newer"), None);
    }
}
