//! The dashboard (`/disconcierge`): the bot's state, what it depends on, the latest chat commands and
//! the activity charts, with the operations' forms; and `GET /api/status`.

use crate::activity::{ChartsView, charts_view};
use crate::auth::{ApiAdmin, PageAdmin};
use crate::commands::latest_commands;
use crate::error::ApiResult;
use crate::instances::{InstanceView, instance_views};
use crate::render::{render, store_error};
use crate::views::CommandView;
use crate::{Health, HealthLevel, ServiceStatus, WebState};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge", get(dashboard_page))
        .route("/disconcierge/", get(dashboard_page))
}

pub fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(status_api))
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    notice: Option<String>,
    csrf: String,
    admin: String,
    paused: bool,
    queue_depth: String,
    database: Health,
    services: ServiceStatus,
    config_version: i64,
    commands: Vec<CommandView>,
    charts: ChartsView,
    instances: Vec<InstanceView>,
    /// This instance's id (the shutdown button stops this one only).
    instance_id: String,
}

#[derive(Deserialize)]
struct DashboardQuery {
    done: Option<String>,
    /// The charts' period: `48h` (default) or `30d`.
    range: Option<String>,
}

async fn dashboard_page(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Query(q): Query<DashboardQuery>,
) -> Response {
    let notice = q.done.as_deref().map(|d| match d {
        "pause" => {
            "Paused: only priority users are answered; the others are told the bot is paused."
                .to_string()
        }
        "resume" => "Resumed: the bot answers everyone again.".to_string(),
        "reload" => {
            "Reloaded: the newer configuration from the database is in force; caches were cleared."
                .to_string()
        }
        "reload-unchanged" => {
            "Reloaded: the configuration in force was already the newest; caches were cleared."
                .to_string()
        }
        "register" => {
            "Registered: Discord has the current definition of every command.".to_string()
        }
        "clear-conversations" => {
            "Cleared: every user's next /chat starts a new conversation.".to_string()
        }
        _ => "Done.".to_string(),
    });
    let config = state.control().runtime_config();
    let queue_depth = match state.store().queued_count().await {
        Ok(n) => n.to_string(),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: could not count the queue");
            "unknown (database error)".into()
        }
    };
    let commands = match latest_commands(&state, &Default::default(), 10).await {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    let instances = match instance_views(&state).await {
        Ok(i) => i,
        Err(e) => return store_error(e),
    };
    let (charts, status) = charts_view(&state, q.range.as_deref()).await;
    render(
        status,
        &Dashboard {
            notice,
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            paused: config.config.paused,
            queue_depth,
            database: database_health(&state).await,
            services: state.control().service_status(),
            config_version: config.version,
            commands,
            charts,
            instances,
            instance_id: state.control().instance_id(),
        },
    )
}

/// Whether the database answers, and how fast.
async fn database_health(state: &WebState) -> Health {
    let started = std::time::Instant::now();
    let kind = state.store().kind();
    match state.store().ping().await {
        Ok(()) => Health::new(
            HealthLevel::Ok,
            format!(
                "{kind}: answered in {:.1} ms",
                started.elapsed().as_secs_f64() * 1000.0
            ),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "dashboard: the database did not answer");
            Health::new(HealthLevel::Down, format!("{kind}: not answering"))
        }
    }
}

// ----- API -----

/// The bot's state and what it depends on.
#[derive(Serialize, ToSchema)]
struct Status {
    paused: bool,
    /// Commands waiting or being answered.
    queue_depth: u64,
    config_version: i64,
    database: Health,
    #[serde(flatten)]
    services: ServiceStatus,
}

/// The bot's status: paused or not, the queue, and the state of the database, the Discord gateway,
/// the webhook and the LLM backend.
///
/// Never waits for Discord or the LLM: their state is as last seen.
#[utoipa::path(
    get,
    path = "/api/status",
    operation_id = "status",
    tag = "operations",
    responses(
        (status = 200, description = "The status.", body = Status),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn status_api(
    State(state): State<WebState>,
    ApiAdmin(_): ApiAdmin,
) -> ApiResult<Json<Status>> {
    let config = state.control().runtime_config();
    Ok(Json(Status {
        paused: config.config.paused,
        queue_depth: state.store().queued_count().await?,
        config_version: config.version,
        database: database_health(&state).await,
        services: state.control().service_status(),
    }))
}
