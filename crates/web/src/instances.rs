//! The instances sharing the database, as each last reported itself (version, start, heartbeat,
//! commands in progress, its Discord gateway): `GET /api/instances` and the dashboard's list.

use crate::WebState;
use crate::auth::ApiAdmin;
use crate::error::ApiResult;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, TimeDelta, Utc};
use disconcierge_core::model::Instance;
use disconcierge_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// An instance is shown as gone after this long without a heartbeat (three missed ones).
pub(crate) const ALIVE_GRACE: TimeDelta = TimeDelta::seconds(30);

/// How far back stopped and gone instances are still listed.
const LISTED_FOR: TimeDelta = TimeDelta::hours(24);

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(list_instances))
}

/// A disconcierge process using the database.
#[derive(Serialize, ToSchema)]
pub(crate) struct InstanceView {
    /// `DC_INSTANCE_ID` (by default the host name and process id).
    pub id: String,
    pub host: String,
    /// Version and git revision.
    pub version: String,
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat (every 10 s while it runs).
    pub heartbeat_at: DateTime<Utc>,
    /// When it stopped gracefully; `null` while it runs or if it died.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Running: not stopped, and heard from within the last 30 s.
    pub alive: bool,
    /// Chat commands it was answering at its last heartbeat.
    pub commands_in_progress: u32,
    /// Its Discord gateway, in a few words.
    pub gateway: String,
    /// Whether this is the instance serving this request.
    pub this_one: bool,
}

impl InstanceView {
    fn of(instance: Instance, now: DateTime<Utc>, this: &str) -> InstanceView {
        InstanceView {
            alive: instance.alive(now, ALIVE_GRACE),
            this_one: instance.id == this,
            id: instance.id,
            host: instance.host,
            version: instance.version,
            started_at: instance.started_at,
            heartbeat_at: instance.heartbeat_at,
            stopped_at: instance.stopped_at,
            commands_in_progress: instance.commands_in_progress,
            gateway: instance.gateway,
        }
    }

    /// The state as a badge class and label for the dashboard.
    pub(crate) fn badge(&self) -> (&'static str, &'static str) {
        match (self.alive, self.stopped_at.is_some()) {
            (true, _) => ("completed", "running"),
            (false, true) => ("ignored", "stopped"),
            (false, false) => ("failed", "gone"),
        }
    }
}

/// The instances heard from in the last 24 hours, newest start first.
pub(crate) async fn instance_views(state: &WebState) -> Result<Vec<InstanceView>, StoreError> {
    let now = Utc::now();
    let this = state.control().instance_id();
    Ok(state
        .store()
        .instances(now - LISTED_FOR)
        .await?
        .into_iter()
        .map(|i| InstanceView::of(i, now, &this))
        .collect())
}

/// The instances sharing the database (heard from in the last 24 hours), newest start first.
#[utoipa::path(
    get,
    path = "/api/instances",
    operation_id = "list_instances",
    tag = "operations",
    responses(
        (status = 200, description = "The instances.", body = Vec<InstanceView>),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn list_instances(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
) -> ApiResult<Json<Vec<InstanceView>>> {
    Ok(Json(instance_views(&state).await?))
}
