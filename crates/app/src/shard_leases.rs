//! The gateway's shard leases kept in the database ([`disconcierge_store::ShardStore`]), for the
//! gateway's shards spread over instances ([`disconcierge_discord::shards`]), and identify turns shared
//! through the store's shared rates ([`disconcierge_store::RateStore`]).

use disconcierge_discord::shards::{Claimed, Holding, LeaseError, SavedSession, ShardLeases};
use disconcierge_store::{ShardSession, Store};
use std::sync::Arc;
use std::time::Duration;

/// Discord lets each identify bucket identify once per 5 seconds.
const IDENTIFY_PERIOD: Duration = Duration::from_secs(5);

/// This instance's leases.
pub(crate) struct StoreShardLeases {
    pub store: Arc<dyn Store>,
    /// `DC_INSTANCE_ID`.
    pub owner: String,
    /// `DC_DISCORD_GATEWAY_SHARD_LEASE`.
    pub lease: Duration,
}

#[async_trait::async_trait]
impl ShardLeases for StoreShardLeases {
    fn lease(&self) -> Duration {
        self.lease
    }

    async fn hold(&self, total: u32) -> Result<Holding, LeaseError> {
        let holding = self
            .store
            .hold_shards(&self.owner, total, self.lease, chrono::Utc::now())
            .await?;
        Ok(Holding {
            share: holding.share,
            held: holding.held,
            claimed: holding
                .claimed
                .into_iter()
                .map(|c| Claimed {
                    number: c.number,
                    session: c.session.map(|s| SavedSession {
                        id: s.session_id,
                        sequence: s.sequence,
                        resume_url: s.resume_url,
                    }),
                })
                .collect(),
        })
    }

    async fn save(&self, number: u32, session: Option<SavedSession>) -> Result<(), LeaseError> {
        let session = session.map(|s| ShardSession {
            session_id: s.id,
            sequence: s.sequence,
            resume_url: s.resume_url,
        });
        self.store
            .save_shard_session(&self.owner, number, session.as_ref(), chrono::Utc::now())
            .await?;
        Ok(())
    }

    async fn release(&self, numbers: &[u32], leaving: bool) -> Result<(), LeaseError> {
        self.store
            .release_shards(&self.owner, numbers, leaving)
            .await?;
        Ok(())
    }

    async fn identify_turn(&self, bucket: u32) {
        let wait = match self
            .store
            .reserve_slot(&format!("identify-{bucket}"), IDENTIFY_PERIOD)
            .await
        {
            Ok(Some(wait)) => wait,
            // One process owns the database: twilight's own queue would do, and this one waits as it
            // would.
            Ok(None) => Duration::ZERO,
            Err(e) => {
                tracing::warn!(target: "disconcierge_app::discord", error = %e, "could not reserve an identify turn shared by the instances; waiting a full period instead");
                IDENTIFY_PERIOD
            }
        };
        tokio::time::sleep(wait).await;
    }
}
