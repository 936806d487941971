//! The admin interface's "shut down" action stops the real application gracefully, like SIGTERM.

use disconcierge_e2e::{Backend, spawn_app};
use std::time::Duration;

#[tokio::test]
async fn an_admin_stops_the_application_from_the_api() {
    let app = spawn_app(Backend::Sqlite, &[]).await;
    disconcierge_app::admin::create_admin(app.store.as_ref(), "admin", "correct horse battery")
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let login = client
        .post(format!("{}/api/login", app.api_url))
        .json(&serde_json::json!({"username": "admin", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = login.json::<serde_json::Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = client
        .post(format!("{}/api/actions/shutdown", app.api_url))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
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
