//! [`crate::RateStore`]: the reservation is the backend's own statement (`RESERVE_SLOT`), absent on
//! SQLite.

use super::*;

#[async_trait]
impl crate::RateStore for Backend {
    async fn reserve_slot(
        &self,
        name: &str,
        period: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let Some(reserve) = RESERVE_SLOT else {
            return Ok(None);
        };
        let wait: f64 = sqlx::query_scalar(reserve)
            .bind(name)
            .bind(period.as_secs_f64())
            .fetch_one(&mut *self.writer().await?)
            .await?;
        Ok(Some(Duration::try_from_secs_f64(wait).unwrap_or_default()))
    }
}
