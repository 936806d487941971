//! Running the Discord gateway: the presence follows the runtime configuration, and the shards run in
//! this process alone (SQLite: one process owns the database) or spread over the instances sharing
//! PostgreSQL through leases kept in the database ([`crate::shard_leases`]).

use crate::runtime_config::RuntimeConfigService;
use crate::shard_leases::StoreShardLeases;
use disconcierge_discord::gateway::Presence;
use disconcierge_discord::router::Dispatcher;
use disconcierge_discord::{Discord, DiscordError};
use disconcierge_store::{DatabaseKind, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What the gateway needs from the application.
pub(crate) struct Gateway {
    pub store: Arc<dyn Store>,
    pub runtime: RuntimeConfigService,
    /// `DC_INSTANCE_ID`: the holder's name on its shard leases.
    pub instance_id: String,
    /// `DC_DISCORD_GATEWAY_SHARD_LEASE`.
    pub shard_lease: Duration,
}

/// The presence of a runtime configuration: its custom status, idle while paused.
fn presence_of(c: &disconcierge_core::RuntimeConfig) -> Presence {
    Presence {
        custom_status: c.discord_custom_status.clone(),
        paused: c.paused,
    }
}

impl Gateway {
    /// Runs the gateway until `cancel` (the presence's follower is spawned on `tasks`).
    pub(crate) async fn run(
        self,
        discord: Discord,
        dispatcher: Arc<Dispatcher>,
        tasks: &TaskTracker,
        cancel: CancellationToken,
    ) -> Result<(), DiscordError> {
        let (presence_tx, presence_rx) =
            tokio::sync::watch::channel(presence_of(&self.runtime.current().config));
        let mut changes = self.runtime.subscribe();
        let follow = cancel.clone();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = follow.cancelled() => return,
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let new = presence_of(&changes.borrow_and_update().config);
                        presence_tx.send_if_modified(|current| {
                            let differs = *current != new;
                            *current = new;
                            differs
                        });
                    }
                }
            }
        });
        // On PostgreSQL other instances may run the gateway too: the shards are spread over them.
        if self.store.kind() == DatabaseKind::Postgres {
            let leases = Arc::new(StoreShardLeases {
                store: self.store.clone(),
                owner: self.instance_id.clone(),
                lease: self.shard_lease,
            });
            disconcierge_discord::shards::run_leased(
                discord,
                dispatcher,
                presence_rx,
                cancel,
                leases,
            )
            .await
        } else {
            disconcierge_discord::gateway::run(discord, dispatcher, presence_rx, cancel).await
        }
    }
}
