//! The SQLite backend's connections: a few kept open for the life of the store, handed out one
//! statement (or one transaction) at a time.
//!
//! Written by hand instead of using sqlx's pool because of what the pool does when a connection comes
//! back: it spawns a task that pings the connection. A SQLite connection in sqlx is a thread of its own,
//! so that ping is one more round trip between threads (two wake-ups and a task) after every statement,
//! checking that a local file is still there. On the chat path that was about as many thread hand-offs
//! as the statements themselves. Here a statement takes an idle connection, runs, and puts it back.
//!
//! What the pool's ping also did is not lost: each connection's thread runs the commands sent to it in
//! order, so a statement or transaction abandoned half-way (its future dropped) is finished or rolled
//! back by that thread before the next user's first command runs.

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions as _, Connection as _};
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Up to `max` connections to one database, opened when first needed and kept open.
pub(crate) struct Connections {
    options: SqliteConnectOptions,
    /// One permit per connection that may be in use; waiting is first come, first served…
    permits: Semaphore,
    /// … except that ordinary leases pass this gate one at a time before waiting for a permit, so that
    /// an urgent lease ([`Connections::acquire_first`]) waits behind at most one of them.
    gate: tokio::sync::Mutex<()>,
    /// Connections not in use, the most recently used last (its pages are the warmest).
    idle: Mutex<Vec<SqliteConnection>>,
    max: u32,
    acquire_timeout: Duration,
}

impl Connections {
    /// Opens the first connection at once, so that a bad path or a file that is not a database is
    /// reported now rather than at the first query.
    pub(crate) async fn open(
        options: SqliteConnectOptions,
        max: usize,
        acquire_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let max = max.max(1);
        let first = options.connect().await?;
        Ok(Connections {
            options,
            permits: Semaphore::new(max),
            gate: tokio::sync::Mutex::new(()),
            idle: Mutex::new(vec![first]),
            max: u32::try_from(max).unwrap_or(u32::MAX),
            acquire_timeout,
        })
    }

    /// A connection for one statement or transaction; back to the set when the lease is dropped.
    pub(crate) async fn acquire(&self) -> Result<Lease<'_>, sqlx::Error> {
        self.lease(false).await
    }

    /// As [`Connections::acquire`], ahead of every ordinary lease still waiting but one.
    pub(crate) async fn acquire_first(&self) -> Result<Lease<'_>, sqlx::Error> {
        self.lease(true).await
    }

    async fn lease(&self, first: bool) -> Result<Lease<'_>, sqlx::Error> {
        let permit = async {
            let _gate = if first {
                None
            } else {
                Some(self.gate.lock().await)
            };
            self.permits.acquire().await
        };
        let permit = match tokio::time::timeout(self.acquire_timeout, permit).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            // Fewer connections are open than permits exist: this permit's connection is opened now.
            None => self.options.connect().await?,
        };
        Ok(Lease {
            set: self,
            conn: Some(conn),
            close: false,
            _permit: permit,
        })
    }

    /// Waits for every connection to come back, then closes them all; later acquisitions fail.
    pub(crate) async fn close(&self) {
        // Holding every permit means no lease is out. A set already closed has none to give.
        let all = self.permits.acquire_many(self.max).await;
        self.permits.close();
        let conns = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|e| e.into_inner()));
        for conn in conns {
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %e, "could not close a SQLite connection cleanly");
            }
        }
        drop(all);
    }
}

/// A connection taken from [`Connections`]; dereferences to sqlx's connection.
pub(crate) struct Lease<'a> {
    set: &'a Connections,
    conn: Option<SqliteConnection>,
    close: bool,
    _permit: SemaphorePermit<'a>,
}

impl Lease<'_> {
    /// Closes this connection when the lease ends instead of giving it back (after a failure that may have
    /// left it in an unknown state); the next lease that finds no idle connection opens a new one.
    pub(crate) fn close_on_drop(&mut self) {
        self.close = true;
    }
}

impl Deref for Lease<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .expect("a lease holds its connection until dropped")
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        if self.close {
            // Dropping a connection stops its thread once the commands already sent have run.
            drop(conn);
            return;
        }
        // Back before the permit is released (fields drop after this), so whoever gets the permit next
        // finds it.
        self.set
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Executor as _;

    /// In-memory databases: each connection has its own, which is all these tests need.
    async fn set(max: usize) -> Connections {
        let options = SqliteConnectOptions::new().in_memory(true);
        Connections::open(options, max, Duration::from_millis(200))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn connections_are_reused_and_bounded() {
        let set = set(2).await;
        {
            let mut a = set.acquire().await.unwrap();
            a.execute("CREATE TEMP TABLE mark (x)").await.unwrap();
        }
        // The same connection comes back (its temporary table is there).
        let mut a = set.acquire().await.unwrap();
        a.execute("SELECT * FROM mark").await.unwrap();
        // A second is opened while the first is out; a third waits and times out.
        let mut b = set.acquire().await.unwrap();
        assert!(
            b.execute("SELECT * FROM mark").await.is_err(),
            "a different connection"
        );
        assert!(matches!(
            set.acquire().await,
            Err(sqlx::Error::PoolTimedOut)
        ));
        drop(b);
        assert!(set.acquire().await.is_ok(), "free again once returned");
        drop(a);
    }

    #[tokio::test]
    async fn an_urgent_lease_waits_behind_at_most_one_ordinary_one() {
        let set = std::sync::Arc::new(set(1).await);
        let held = set.acquire().await.unwrap();
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let take = |name: &'static str, first: bool| {
            let (set, order) = (set.clone(), order.clone());
            tokio::spawn(async move {
                let lease = if first {
                    set.acquire_first().await
                } else {
                    set.acquire().await
                };
                order.lock().unwrap().push(name);
                drop(lease);
            })
        };
        let mut waiting = Vec::new();
        for name in ["a", "b", "c"] {
            waiting.push(take(name, false));
            tokio::task::yield_now().await;
        }
        waiting.push(take("urgent", true));
        tokio::task::yield_now().await;
        drop(held);
        for task in waiting {
            task.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["a", "urgent", "b", "c"]);
    }

    #[tokio::test]
    async fn a_discarded_connection_is_replaced_by_a_new_one() {
        let set = set(1).await;
        let mut a = set.acquire().await.unwrap();
        a.execute("CREATE TEMP TABLE mark (x)").await.unwrap();
        a.close_on_drop();
        drop(a);
        let mut b = set.acquire().await.expect("a new connection");
        assert!(
            b.execute("SELECT * FROM mark").await.is_err(),
            "not the discarded one"
        );
        drop(b);
        set.close().await;
    }

    #[tokio::test]
    async fn close_waits_for_leases_and_then_refuses() {
        let set = set(2).await;
        let set = std::sync::Arc::new(set);
        let lease = set.acquire().await.unwrap();
        let closing = tokio::spawn({
            let set = set.clone();
            async move { set.close().await }
        });
        tokio::task::yield_now().await;
        assert!(!closing.is_finished(), "waits for the lease");
        drop(lease);
        closing.await.unwrap();
        assert!(matches!(set.acquire().await, Err(sqlx::Error::PoolClosed)));
    }
}
