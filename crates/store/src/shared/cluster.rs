//! [`crate::ClusterStore`]: each backend says how it tells other instances (`notify_change`,
//! `listen_changes` in `sqlite.rs` and `postgres.rs`).

use super::*;

#[async_trait]
impl crate::ClusterStore for Backend {
    async fn notify(&self, change: crate::Change) -> Result<(), StoreError> {
        self.notify_change(change).await
    }

    async fn listen(&self) -> Result<Option<crate::Changes>, StoreError> {
        self.listen_changes().await
    }
}
