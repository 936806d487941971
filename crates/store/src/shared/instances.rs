//! [`crate::InstanceStore`]: the statements are the same text on both backends.

use super::*;
use disconcierge_core::model::Instance;

const REGISTER_INSTANCE: &str = "\
    INSERT INTO instances (id, host, version, started_at, heartbeat_at, stopped_at, commands_in_progress, gateway) \
    VALUES ($1, $2, $3, $4, $5, NULL, 0, $6) \
    ON CONFLICT (id) DO UPDATE SET host = excluded.host, version = excluded.version, \
        started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, stopped_at = NULL, \
        commands_in_progress = 0, gateway = excluded.gateway";

/// The heartbeat counts the commands the instance holds a live lease of (`in_progress`, by
/// `lease_owner`).
const INSTANCE_HEARTBEAT: &str = "\
    UPDATE instances SET heartbeat_at = $2, gateway = $3, \
        commands_in_progress = (SELECT COUNT(*) FROM chat_commands \
            WHERE state = 'in_progress' AND lease_owner = $1 AND lease_expires_at > $2) \
    WHERE id = $1";

const INSTANCE_STOPPED: &str = "UPDATE instances SET stopped_at = $2, heartbeat_at = $2, \
    commands_in_progress = 0 WHERE id = $1";

const INSTANCES: &str = "SELECT * FROM instances WHERE heartbeat_at >= $1 \
    ORDER BY started_at DESC, id LIMIT 200";

#[async_trait]
impl crate::InstanceStore for Backend {
    async fn register_instance(&self, instance: &Instance) -> Result<(), StoreError> {
        sqlx::query(REGISTER_INSTANCE)
            .bind(&instance.id)
            .bind(&instance.host)
            .bind(&instance.version)
            .bind(ts(instance.started_at))
            .bind(ts(instance.heartbeat_at))
            .bind(&instance.gateway)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn instance_heartbeat(
        &self,
        id: &str,
        at: DateTime<Utc>,
        gateway: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(INSTANCE_HEARTBEAT)
            .bind(id)
            .bind(ts(at))
            .bind(gateway)
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn instance_stopped(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(INSTANCE_STOPPED)
            .bind(id)
            .bind(ts(at))
            .execute(&mut *self.writer().await?)
            .await?;
        Ok(())
    }

    async fn instances(&self, since: DateTime<Utc>) -> Result<Vec<Instance>, StoreError> {
        let rows = sqlx::query(INSTANCES)
            .bind(ts(since))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        map_rows(rows, instance_from_row)
    }
}

fn instance_from_row(row: &DbRow) -> Result<Instance, sqlx::Error> {
    Ok(Instance {
        id: row.try_get("id")?,
        host: row.try_get("host")?,
        version: row.try_get("version")?,
        started_at: row.try_get("started_at")?,
        heartbeat_at: row.try_get("heartbeat_at")?,
        stopped_at: row.try_get("stopped_at")?,
        commands_in_progress: count_to_u32(row.try_get("commands_in_progress")?),
        gateway: row.try_get("gateway")?,
    })
}
