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

/// `DC_API_SECRET` keys the CSRF tokens: the token handed out at login is the keyed one, and the token
/// the session alone would give (what anyone holding the cookie could compute) is refused.
#[tokio::test]
async fn the_api_secret_keys_the_csrf_tokens() {
    use disconcierge_core::secret::SecretString;
    use disconcierge_web::auth::csrf_token;
    let secret = "shared by every instance";
    let app = spawn_app(Backend::Sqlite, &[("DC_API_SECRET", secret)]).await;
    let admin = Admin::sign_in(&app).await;
    let session = admin
        .cookie
        .strip_prefix("dc_session=")
        .expect("the session cookie");
    let key = SecretString::from(secret.to_string());
    assert_eq!(admin.csrf, csrf_token(Some(&key), session));
    let unkeyed = csrf_token(None, session);
    assert_ne!(admin.csrf, unkeyed);

    let with = |token: &str| {
        admin
            .client
            .post(format!("{}/api/actions/reload", admin.base))
            .header("cookie", &admin.cookie)
            .header("x-csrf-token", token.to_string())
            .json(&serde_json::json!({}))
            .send()
    };
    assert_eq!(with(&unkeyed).await.unwrap().status(), 403);
    assert!(with(&admin.csrf).await.unwrap().status().is_success());
    app.stop().await;
}

/// `DC_DEVELOPMENT` relaxes the session cookie to `SameSite=Lax`; without it the cookie is `Strict`.
#[tokio::test]
async fn development_mode_relaxes_the_session_cookie() {
    for (development, same_site) in [("true", "SameSite=Lax"), ("false", "SameSite=Strict")] {
        let app = spawn_app(Backend::Sqlite, &[("DC_DEVELOPMENT", development)]).await;
        disconcierge_app::admin::create_admin(app.store.as_ref(), "admin", "correct horse battery")
            .await
            .unwrap();
        let login = reqwest::Client::new()
            .post(format!("{}/api/login", app.api_url))
            .json(&serde_json::json!({"username": "admin", "password": "correct horse battery"}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            cookie.contains(same_site) && cookie.contains("HttpOnly"),
            "DC_DEVELOPMENT={development}: {cookie}"
        );
        app.stop().await;
    }
}
