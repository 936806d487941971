//! The API listener's routes that exist from the start: health, readiness and metrics.
//!
//! `/healthz` answers as long as the process serves HTTP (liveness); `/readyz` answers 200 only when the
//! database answers and its schema is the one this binary expects (readiness: a load balancer sends no
//! traffic before); `/metrics` is the Prometheus exposition. The admin UI and JSON API (`disconcierge-web`)
//! are merged into this router.

use crate::metrics::{HttpLabels, Metrics};
use crate::runtime_config::RuntimeConfigService;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use disconcierge_store::Store;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub runtime: RuntimeConfigService,
    pub started: Instant,
    pub instance_id: String,
}

/// Health, readiness and metrics, plus the admin interface and JSON API (`web`), with CORS as configured.
pub fn router(
    state: ApiState,
    web: disconcierge_web::WebState,
    cors: &crate::settings::CorsSettings,
) -> Router {
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state.clone())
        .merge(disconcierge_web::router(web))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state, count_requests));
    match cors_layer(cors) {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

/// The CORS layer for `DC_API_CORS_*`; none when no origin is allowed (browsers then refuse every
/// cross-origin call, the safe default). The settings were validated when read, so nothing here can
/// panic in tower-http's checks.
pub fn cors_layer(c: &crate::settings::CorsSettings) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if c.allow_origins.is_empty() {
        return None;
    }
    let origins = if c.allow_origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            c.allow_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    let methods: Vec<Method> = c
        .allow_methods
        .iter()
        .filter_map(|m| Method::from_bytes(m.as_bytes()).ok())
        .collect();
    let names = |list: &[String]| -> Vec<HeaderName> {
        list.iter()
            .filter_map(|h| HeaderName::from_bytes(h.as_bytes()).ok())
            .collect()
    };
    Some(
        CorsLayer::new()
            .allow_origin(origins)
            .allow_methods(methods)
            .allow_headers(names(&c.allow_headers))
            .expose_headers(names(&c.expose_headers))
            .allow_credentials(c.allow_credentials)
            .max_age(c.max_age),
    )
}

/// Counts every answered request by route template (never the raw path, which would let a client create
/// unbounded label values).
async fn count_requests(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let response = next.run(request).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            listener: "api",
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    instance: String,
    uptime_seconds: u64,
}

async fn healthz(State(state): State<ApiState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        instance: state.instance_id.clone(),
        uptime_seconds: state.started.elapsed().as_secs(),
    })
}

#[derive(Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub database: Check,
    pub migrations: Check,
}

#[derive(Serialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

const READY_PING_TIMEOUT: Duration = Duration::from_secs(2);

async fn readyz(State(state): State<ApiState>) -> (StatusCode, Json<Readiness>) {
    let started = Instant::now();
    let database = match tokio::time::timeout(READY_PING_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => {
            let elapsed = started.elapsed();
            state
                .metrics
                .database_ping_seconds
                .set(elapsed.as_secs_f64());
            Check {
                ok: true,
                detail: format!(
                    "{} answered in {:.1} ms",
                    state.store.kind().as_str(),
                    elapsed.as_secs_f64() * 1000.0
                ),
            }
        }
        Ok(Err(e)) => Check {
            ok: false,
            detail: e.to_string(),
        },
        Err(_) => Check {
            ok: false,
            detail: format!("no answer within {READY_PING_TIMEOUT:?}"),
        },
    };
    state.metrics.database_up.set(i64::from(database.ok));
    let migrations = if database.ok {
        match state.store.migration_status().await {
            Ok(status) => {
                state
                    .metrics
                    .migrations_pending
                    .set(status.pending.len() as i64);
                Check {
                    ok: status.is_current(),
                    detail: crate::describe_migrations(&status),
                }
            }
            Err(e) => Check {
                ok: false,
                detail: e.to_string(),
            },
        }
    } else {
        Check {
            ok: false,
            detail: "not checked: the database is unreachable".into(),
        }
    };
    let ready = database.ok && migrations.ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            migrations,
        }),
    )
}

async fn metrics(State(state): State<ApiState>) -> Response {
    let config = state.runtime.current();
    state.metrics.runtime_config_version.set(config.version);
    state.metrics.paused.set(i64::from(config.config.paused));
    if let Ok(Ok(depth)) =
        tokio::time::timeout(READY_PING_TIMEOUT, state.store.queued_count()).await
    {
        state
            .metrics
            .queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::NOT_FOUND,
        Json(serde_json::json!({"error": "not_found", "message": "no such page or endpoint"})),
    )
}

#[cfg(test)]
mod tests {
    use super::cors_layer;
    use crate::settings::CorsSettings;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use std::time::Duration;
    use tower::ServiceExt as _;

    fn settings(origins: &[&str]) -> CorsSettings {
        CorsSettings {
            allow_origins: origins.iter().map(|o| o.to_string()).collect(),
            allow_methods: vec!["GET".into(), "PUT".into()],
            allow_headers: vec!["Content-Type".into(), "X-CSRF-Token".into()],
            expose_headers: vec!["Location".into()],
            allow_credentials: true,
            max_age: Duration::from_secs(600),
        }
    }

    async fn preflight(cors: &CorsSettings, origin: &str) -> axum::http::Response<Body> {
        let app = axum::Router::new().route("/api/me", axum::routing::get(|| async { "me" }));
        let app = match cors_layer(cors) {
            Some(layer) => app.layer(layer),
            None => app,
        };
        app.oneshot(
            Request::builder()
                .method(Method::OPTIONS)
                .uri("/api/me")
                .header(header::ORIGIN, origin)
                .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
                .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-csrf-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn only_listed_origins_get_cors_headers() {
        let cors = settings(&["https://admin.example.com"]);
        let allowed = preflight(&cors, "https://admin.example.com").await;
        assert_eq!(allowed.status(), StatusCode::OK);
        let h = allowed.headers();
        assert_eq!(
            h[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://admin.example.com"
        );
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[header::ACCESS_CONTROL_MAX_AGE], "600");
        assert!(
            h[header::ACCESS_CONTROL_ALLOW_METHODS]
                .to_str()
                .unwrap()
                .contains("PUT")
        );
        assert!(
            h[header::ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("x-csrf-token")
        );

        let other = preflight(&cors, "https://evil.example").await;
        assert!(
            other
                .headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
        // No origin configured: no CORS at all.
        assert!(cors_layer(&settings(&[])).is_none());
        let none = preflight(&settings(&[]), "https://admin.example.com").await;
        assert!(
            none.headers()
                .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none()
        );
    }
}
