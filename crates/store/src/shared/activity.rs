//! [`crate::StatsStore`]: the dashboard's statistics, from hourly rollups.

use super::*;

#[async_trait]
impl crate::StatsStore for Backend {
    async fn activity(
        &self,
        range: StatsRange,
        now: DateTime<Utc>,
    ) -> Result<Activity, StoreError> {
        let since = range.start(now);
        let rows = sqlx::query(sql::STATS_HOURS)
            .bind(ts(since))
            .bind(ts(stats::last_settled_hour(now)))
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let mut hours = rows
            .iter()
            .map(hour_stats_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let stored: BTreeSet<DateTime<Utc>> = hours.iter().map(|h| h.hour).collect();
        let (rolled, pending) = self
            .roll_up(since, now, &stored, crate::ROLLUP_BUDGET_PER_REQUEST)
            .await?;
        hours.extend(rolled);
        for hour in range.hours(now) {
            if !stats::is_settled(hour, now) {
                hours.push(self.compute_hour(hour).await?);
            }
        }
        let tickets = self.tickets_per_hour(since).await?;
        Ok(Activity::assemble(range, now, &hours, &tickets, &pending))
    }

    async fn roll_up_activity(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        budget: u64,
    ) -> Result<u32, StoreError> {
        let stored: BTreeSet<DateTime<Utc>> = sqlx::query_scalar(sql::STATS_HOURS_SINCE)
            .bind(ts(since))
            .fetch_all(&mut *self.reader().await?)
            .await?
            .into_iter()
            .collect();
        let (_, left) = self.roll_up(since, now, &stored, budget).await?;
        Ok(u32::try_from(left.len()).unwrap_or(u32::MAX))
    }
}
