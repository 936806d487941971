//! The admin API of the real application: CORS as configured by `DC_API_CORS_*`, and the "shut down"
//! action stopping it gracefully, like SIGTERM.

use disconcierge_e2e::admin::Admin;
use disconcierge_e2e::{Backend, spawn_app};
use std::time::Duration;

#[tokio::test]
async fn an_admin_stops_the_application_from_the_api() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    let admin = Admin::sign_in(&app).await;
    let client = admin.client.clone();
    let reply = admin
        .post("/api/actions/shutdown", serde_json::json!({}))
        .await;
    assert_eq!(reply.status(), 202);

    // The listener goes away: the application stopped on its own (no signal was sent).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let alive = client
            .get(format!("{}/healthz", app.api_url))
            .send()
            .await
            .is_ok();
        if !alive {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still serving 20 s after the shutdown action"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It ended cleanly (stop() fails the test on an error or a panic).
    app.stop().await;
}

#[tokio::test]
async fn cors_follows_the_configured_origins() {
    let app = spawn_app(
        Backend::Sqlite,
        &[("DC_API_CORS_ALLOW_ORIGINS", "https://admin.example.com")],
    )
    .await;
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{}/api/me", app.api_url))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header("access-control-request-headers", "x-csrf-token")
            .send()
    };
    let allowed = preflight("https://admin.example.com").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://admin.example.com"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.stop().await;
}
