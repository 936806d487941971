//! [`crate::ShardStore`]: the statements are the same text on both backends. Two instances claiming at
//! once cannot take the same shard: the claim's `UPDATE` checks again that the shard is free on the row
//! it writes (PostgreSQL re-reads a row another transaction changed meanwhile), so the later claimer
//! skips it and takes another, or takes it at its next renewal.

use super::*;
use crate::{ClaimedShard, ShardHolding, ShardSession};

const MEMBER_SEEN: &str = "\
    INSERT INTO gateway_members (owner, seen_at) VALUES ($1, $2) \
    ON CONFLICT (owner) DO UPDATE SET seen_at = excluded.seen_at";

/// Members not seen for a long time are forgotten (`$1`: the oldest time kept).
const FORGET_MEMBERS: &str = "DELETE FROM gateway_members WHERE seen_at < $1";

const MEMBERS_SEEN_SINCE: &str = "SELECT COUNT(*) FROM gateway_members WHERE seen_at >= $1";

const FORGET_OTHER_COUNTS: &str = "DELETE FROM gateway_shards WHERE shard_count <> $1";

/// Rows for shards `0..$1` (`$2`: now); existing ones are kept.
const ADD_SHARDS: &str = "\
    WITH RECURSIVE n(i) AS (SELECT CAST(0 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $1) \
    INSERT INTO gateway_shards (shard_id, shard_count, updated_at) \
    SELECT i, $1, $2 FROM n WHERE TRUE \
    ON CONFLICT (shard_id) DO NOTHING";

const RENEW: &str = "\
    UPDATE gateway_shards SET lease_until = $2 WHERE owner = $1 RETURNING shard_id";

/// Up to `$4` free shards for `$1` until `$3` (`$2`: now), lowest numbers first.
const CLAIM: &str = "\
    UPDATE gateway_shards SET owner = $1, lease_until = $3, updated_at = $2 \
    WHERE shard_id IN (SELECT shard_id FROM gateway_shards \
                       WHERE owner IS NULL OR lease_until < $2 ORDER BY shard_id LIMIT $4) \
      AND (owner IS NULL OR lease_until < $2) \
    RETURNING shard_id, session_id, sequence, resume_url";

const SAVE_SESSION: &str = "\
    UPDATE gateway_shards SET session_id = $3, sequence = $4, resume_url = $5, updated_at = $6 \
    WHERE owner = $1 AND shard_id = $2";

const RELEASE: &str = "\
    UPDATE gateway_shards SET owner = NULL, lease_until = NULL WHERE owner = $1 AND shard_id = $2";

const LEAVE: &str = "DELETE FROM gateway_members WHERE owner = $1";

fn after(now: DateTime<Utc>, d: Duration) -> Result<DateTime<Utc>, StoreError> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .ok_or_else(|| StoreError::InvalidArgument(format!("shard lease {d:?}")))
}

#[async_trait]
impl crate::ShardStore for Backend {
    async fn hold_shards(
        &self,
        owner: &str,
        total: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<ShardHolding, StoreError> {
        let total = total.max(1);
        let until = after(now, lease)?;
        let lease = until - now;
        let mut conn = self.writer().await?;
        sqlx::query(MEMBER_SEEN)
            .bind(owner)
            .bind(ts(now))
            .execute(&mut *conn)
            .await?;
        sqlx::query(FORGET_MEMBERS)
            .bind(ts(now - lease * 10))
            .execute(&mut *conn)
            .await?;
        sqlx::query(FORGET_OTHER_COUNTS)
            .bind(i64::from(total))
            .execute(&mut *conn)
            .await?;
        sqlx::query(ADD_SHARDS)
            .bind(i64::from(total))
            .bind(ts(now))
            .execute(&mut *conn)
            .await?;
        let members: i64 = sqlx::query_scalar(MEMBERS_SEEN_SINCE)
            .bind(ts(now - lease))
            .fetch_one(&mut *conn)
            .await?;
        let members = u32::try_from(members.max(1)).unwrap_or(u32::MAX);
        let share = total.div_ceil(members);
        let mut held: Vec<u32> = sqlx::query_scalar::<_, i64>(RENEW)
            .bind(owner)
            .bind(ts(until))
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|n| n as u32)
            .collect();
        let mut claimed = Vec::new();
        let wanted = share.saturating_sub(held.len() as u32);
        if wanted > 0 {
            let rows = sqlx::query(CLAIM)
                .bind(owner)
                .bind(ts(now))
                .bind(ts(until))
                .bind(i64::from(wanted))
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                let number = row.try_get::<i64, _>("shard_id")? as u32;
                let session_id: Option<String> = row.try_get("session_id")?;
                let sequence: Option<i64> = row.try_get("sequence")?;
                let session = match (session_id, sequence) {
                    (Some(session_id), Some(sequence)) => Some(ShardSession {
                        session_id,
                        sequence: sequence as u64,
                        resume_url: row.try_get("resume_url")?,
                    }),
                    _ => None,
                };
                held.push(number);
                claimed.push(ClaimedShard { number, session });
            }
        }
        held.sort_unstable();
        claimed.sort_by_key(|c| c.number);
        Ok(ShardHolding {
            share,
            held,
            claimed,
        })
    }

    async fn save_shard_session(
        &self,
        owner: &str,
        number: u32,
        session: Option<&ShardSession>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(SAVE_SESSION)
            .bind(owner)
            .bind(i64::from(number))
            .bind(session.map(|s| s.session_id.as_str()))
            .bind(session.map(|s| s.sequence as i64))
            .bind(session.and_then(|s| s.resume_url.as_deref()))
            .bind(ts(now))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn release_shards(
        &self,
        owner: &str,
        numbers: &[u32],
        leaving: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        if leaving {
            sqlx::query(LEAVE).bind(owner).execute(&mut *conn).await?;
        }
        for &number in numbers {
            sqlx::query(RELEASE)
                .bind(owner)
                .bind(i64::from(number))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}
