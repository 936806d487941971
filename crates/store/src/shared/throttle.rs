//! [`crate::ThrottleStore`]: the statements are the same text on both backends.

use super::*;

/// One failure more for a key, or the first of a new window when its window ended (`$3`: the start of
/// the windows still running).
const RECORD_LOGIN_FAILURE: &str = "\
    INSERT INTO login_failures (key, failures, first_at) VALUES ($1, 1, $2) \
    ON CONFLICT (key) DO UPDATE SET \
        failures = CASE WHEN login_failures.first_at <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
        first_at = CASE WHEN login_failures.first_at <= $3 THEN $2 ELSE login_failures.first_at END";

const FORGET_ENDED_WINDOWS: &str = "DELETE FROM login_failures WHERE first_at <= $1";

#[async_trait]
impl crate::ThrottleStore for Backend {
    async fn login_locked_until(
        &self,
        keys: &[String],
        max: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        if keys.is_empty() {
            return Ok(None);
        }
        let cutoff = window_start(now, window)?;
        let mut query = sqlx::QueryBuilder::<Db>::new(
            "SELECT MAX(first_at) FROM login_failures WHERE failures >= ",
        );
        query
            .push_bind(i64::from(max))
            .push(" AND first_at > ")
            .push_bind(ts(cutoff))
            .push(" AND key IN (");
        let mut list = query.separated(", ");
        for key in keys {
            list.push_bind(key.as_str());
        }
        list.push_unseparated(")");
        let first: Option<DateTime<Utc>> = query
            .build_query_scalar()
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(first.map(|f| f + TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX)))
    }

    async fn record_login_failure(
        &self,
        keys: &[String],
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let cutoff = window_start(now, window)?;
        let mut conn = self.writer().await?;
        sqlx::query(FORGET_ENDED_WINDOWS)
            .bind(ts(cutoff))
            .execute(&mut *conn)
            .await?;
        for key in keys {
            sqlx::query(RECORD_LOGIN_FAILURE)
                .bind(key)
                .bind(ts(now))
                .bind(ts(cutoff))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn clear_login_failures(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut conn = self.writer().await?;
        for key in keys {
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(key)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// The start of the windows still running at `now`.
fn window_start(now: DateTime<Utc>, window: Duration) -> Result<DateTime<Utc>, StoreError> {
    TimeDelta::from_std(window)
        .ok()
        .and_then(|w| now.checked_sub_signed(w))
        .ok_or_else(|| StoreError::InvalidArgument(format!("login throttle window {window:?}")))
}
