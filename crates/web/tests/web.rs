//! The admin interface and JSON API through HTTP requests to the real router, on a real database (SQLite,
//! and PostgreSQL when `DC_TEST_POSTGRES_URL` is set), with a small `Control` that validates and saves the
//! configuration as the application does.

use axum::http::{Method, StatusCode, header};
use chrono::{TimeDelta, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::{
    ChatCommandOutcome, ChatCommandState, FeedbackKind, LlmCallLog, NewChatCommand, TokenUsage,
    UserFeedback,
};
use disconcierge_store::testing::TestDb;
use disconcierge_web::Control;
use serde_json::{Value, json};
use std::time::Duration;

mod common;

use common::*;

impl Web {
    /// A user's command with an answer, an LLM call and feedback.
    async fn command(&self, interaction_id: u64, user: u64, prompt: &str) -> i64 {
        let now = Utc::now();
        let cmd = self
            .store()
            .insert_chat_command(NewChatCommand {
                interaction_id,
                interaction_token: "SECRET-INTERACTION-TOKEN".into(),
                token_expires_at: now + TimeDelta::minutes(15),
                application_id: 1,
                user_id: user,
                guild_id: Some(77),
                channel_id: Some(88),
                private: false,
                prompt: prompt.into(),
                state: ChatCommandState::Queued,
                created_at: now,
            })
            .await
            .unwrap();
        let claimed = self
            .store()
            .claim_next_chat_command("w", Duration::from_secs(60), now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.id, cmd.id);
        let usage = TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
        };
        self.store()
            .finish_chat_command(
                cmd.id,
                "w",
                &ChatCommandOutcome {
                    state: ChatCommandState::Completed,
                    response: Some(format!("answer to {prompt}")),
                    error: None,
                    usage: Some(usage),
                    discord_message_id: Some(5),
                },
            )
            .await
            .unwrap();
        self.store()
            .insert_llm_call_log(&LlmCallLog {
                chat_command_id: Some(cmd.id),
                provider: "openai-chat".into(),
                operation: "chat.completions".into(),
                model: Some("gpt-test".into()),
                request: json!({"messages": [{"role": "user", "content": prompt}]}),
                response: Some(json!({"content": "fine"})),
                http_status: Some(200),
                error: None,
                started_at: now,
                duration_ms: 12,
                usage: Some(usage),
            })
            .await
            .unwrap();
        self.store()
            .insert_user_feedback(&UserFeedback {
                chat_command_id: cmd.id,
                user_id: user,
                kind: FeedbackKind::Other,
                detail: Some("<b>bold claim</b>".into()),
                created_at: now,
            })
            .await
            .unwrap();
        cmd.id
    }
}

#[tokio::test]
async fn pages_and_api_require_a_session() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let reply = web
            .get("/disconcierge/chat_commands?state=failed", None)
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(
            reply.location(),
            "/disconcierge/login?next=%2Fdisconcierge%2Fchat_commands%3Fstate%3Dfailed"
        );
        for uri in [
            "/api/chat_commands",
            "/api/config",
            "/api/me",
            "/api/chat_commands/1",
        ] {
            let reply = web.get(uri, None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{uri}");
            assert_eq!(reply.json()["error"], "unauthenticated");
        }
        // A forged or unknown cookie is no session either.
        let forged = format!("dc_session={}", "a".repeat(64));
        assert_eq!(
            web.get("/api/me", Some(&forged)).await.status,
            StatusCode::UNAUTHORIZED
        );
        // The login page itself is public, and every answer carries the security headers.
        let login = web.get("/disconcierge/login", None).await;
        assert_eq!(login.status, StatusCode::OK);
        let csp = login.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(login.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }
}

#[tokio::test]
async fn sign_in_sign_out_and_revocation() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let wrong = web
            .form(
                "/disconcierge/login",
                None,
                &[("username", "admin"), ("password", "not the password")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("Wrong username or password"));
        assert!(wrong.headers.get(header::SET_COOKIE).is_none());
        // The typed username is kept; the password is not echoed.
        assert!(wrong.body.contains("value=\"admin\""));
        assert!(!wrong.body.contains("not the password"));

        let reply = web
            .form(
                "/disconcierge/login",
                None,
                &[
                    ("username", "admin"),
                    ("password", PASSWORD),
                    ("next", "/disconcierge/config"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), "/disconcierge/config");
        let set = reply.headers[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(!set.contains("Secure"), "no TLS here: {set}");
        let cookie = reply.cookie();
        // The database holds a hash of the token, never the token.
        let token = cookie.trim_start_matches("dc_session=");
        assert_eq!(
            web.db
                .scalar_i64(&format!(
                    "SELECT COUNT(*) FROM admin_sessions WHERE token_hash = '{token}'"
                ))
                .await,
            0
        );
        let dashboard = web.get("/disconcierge", Some(&cookie)).await;
        assert_eq!(dashboard.status, StatusCode::OK);
        assert!(dashboard.body.contains("Admin"));

        // Signing out needs the form's CSRF token.
        let refused = web.form("/disconcierge/logout", Some(&cookie), &[]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(
            web.get("/disconcierge", Some(&cookie)).await.status,
            StatusCode::OK
        );
        let csrf = csrf_in(&dashboard.body);
        let out = web
            .form("/disconcierge/logout", Some(&cookie), &[("csrf", &csrf)])
            .await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert!(
            out.headers[header::SET_COOKIE]
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
        // The old cookie no longer works anywhere.
        assert_eq!(
            web.get("/disconcierge", Some(&cookie)).await.status,
            StatusCode::SEE_OTHER
        );
        assert_eq!(
            web.get("/api/me", Some(&cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );

        // A password change revokes every session of that admin.
        let cookie = web.sign_in().await;
        let admin = web
            .store()
            .admin_by_username("admin")
            .await
            .unwrap()
            .unwrap();
        let hash = disconcierge_web::admin::hash_password("another password!".into())
            .await
            .unwrap();
        web.store()
            .update_admin_password(admin.id, &hash)
            .await
            .unwrap();
        assert_eq!(
            web.get("/api/me", Some(&cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_a_clear_message() {
    let web = Web::new(TestDb::sqlite().await).await;
    for _ in 0..disconcierge_web::auth::MAX_FAILURES {
        let reply = web
            .json(
                Method::POST,
                "/api/login",
                None,
                None,
                json!({"username": "admin", "password": "guess"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "invalid_credentials");
    }
    // Now even the right password is refused, with when to come back.
    let reply = web
        .json(
            Method::POST,
            "/api/login",
            None,
            None,
            json!({"username": "Admin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.json()["error"], "locked");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("try again in 15 minute(s)")
    );
    // The lock started with the first failure, a few seconds of argon2 ago.
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=900).contains(&retry), "{retry}");
    let page = web
        .form(
            "/disconcierge/login",
            None,
            &[("username", "admin"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("Too many failed sign-ins"));
}

#[tokio::test]
async fn what_users_wrote_is_shown_as_text() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        web.store()
            .upsert_user(4, "<img src=x onerror=alert(2)>", None)
            .await
            .unwrap();
        let id = web.command(1, 4, "<script>alert(1)</script>").await;
        let cookie = web.sign_in().await;
        for uri in [
            "/disconcierge".to_string(),
            "/disconcierge/chat_commands".to_string(),
            format!("/disconcierge/chat_commands/{id}"),
        ] {
            let page = web.get(&uri, Some(&cookie)).await;
            assert_eq!(page.status, StatusCode::OK, "{uri}");
            assert!(
                page.body
                    .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
                    || page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{uri}: the prompt is not escaped as expected"
            );
            assert!(!page.body.contains("<script>alert(1)"), "{uri}");
            assert!(!page.body.contains("<img src=x"), "{uri}");
            assert!(!page.body.contains("SECRET-INTERACTION-TOKEN"), "{uri}");
        }
        let detail = web
            .get(&format!("/disconcierge/chat_commands/{id}"), Some(&cookie))
            .await;
        assert!(!detail.body.contains("<b>bold claim</b>"));
        assert!(detail.body.contains("gpt-test"));
        // The API returns the text as it is (JSON is not HTML), and never the interaction token.
        let api = web
            .get(&format!("/api/chat_commands/{id}"), Some(&cookie))
            .await;
        assert_eq!(api.status, StatusCode::OK);
        let body = api.json();
        assert_eq!(body["command"]["prompt"], "<script>alert(1)</script>");
        assert_eq!(body["command"]["user_id"], "4");
        assert_eq!(body["command"]["username"], "<img src=x onerror=alert(2)>");
        assert_eq!(body["llm_calls"][0]["http_status"], 200);
        assert_eq!(body["feedback"][0]["detail"], "<b>bold claim</b>");
        assert!(!api.body.contains("SECRET-INTERACTION-TOKEN"));
        assert!(!api.body.contains("interaction_token"));
        assert_eq!(
            web.get("/api/chat_commands/999999", Some(&cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn lists_filter_and_page_through_everything() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        web.store().upsert_user(1, "ann", None).await.unwrap();
        web.store().upsert_user(2, "bob", None).await.unwrap();
        for i in 0..120u64 {
            web.command(1000 + i, 1 + i % 2, &format!("question {i}"))
                .await;
        }
        let (cookie, _) = web.api_sign_in().await;
        let mut seen = Vec::new();
        let mut uri = "/api/chat_commands?limit=50".to_string();
        loop {
            let page = web.get(&uri, Some(&cookie)).await;
            assert_eq!(page.status, StatusCode::OK, "{}", page.body);
            let body = page.json();
            let items = body["items"].as_array().unwrap();
            seen.extend(items.iter().map(|c| c["id"].as_i64().unwrap()));
            match body["next_before"].as_i64() {
                Some(before) => uri = format!("/api/chat_commands?limit=50&before={before}"),
                None => break,
            }
        }
        assert_eq!(seen.len(), 120);
        assert!(
            seen.windows(2).all(|w| w[0] > w[1]),
            "newest first, no repeats"
        );

        let bob = web
            .get("/api/chat_commands?user=2&limit=200", Some(&cookie))
            .await
            .json();
        assert_eq!(bob["items"].as_array().unwrap().len(), 60);
        assert!(
            bob["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["user_id"] == "2")
        );
        assert!(bob["next_before"].is_null());

        for (uri, what) in [
            ("/api/chat_commands?limit=0", "limit must be 1 to 200"),
            ("/api/chat_commands?state=done", "chat command state"),
            ("/api/chat_commands?user=abc", "user must be a Discord id"),
            ("/api/chat_commands?from=28/11/2026", "from must be a date"),
        ] {
            let reply = web.get(uri, Some(&cookie)).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
            assert_eq!(reply.json()["error"], "bad_request");
            let message = reply.json()["message"].as_str().unwrap().to_string();
            assert!(message.contains(what), "{uri}: {message}");
        }

        // The page: 50 rows, a link to the next page that keeps the filter.
        let page = web
            .get("/disconcierge/chat_commands?user=1", Some(&cookie))
            .await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.body.matches("<tr>").count() - 1, 50);
        assert!(
            page.body
                .contains("href=\"/disconcierge/chat_commands?user=1&amp;before=")
                || page
                    .body
                    .contains("href=\"/disconcierge/chat_commands?user=1&#38;before="),
            "the next page keeps the filter"
        );
        let bad = web
            .get("/disconcierge/chat_commands?user=abc", Some(&cookie))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("user must be a Discord id"));
        assert!(bad.body.contains("value=\"abc\""), "what was typed stays");
    }
}

#[tokio::test]
async fn configuration_form_validates_saves_and_keeps_history() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let cookie = web.sign_in().await;
        let page = web.get("/disconcierge/config", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        let csrf = csrf_in(&page.body);
        let version = web.control.runtime_config().version;

        // The form as shown, with changes.
        let defaults = RuntimeConfig::default();
        let base: Vec<(String, String)> = {
            let json = serde_json::to_value(&defaults).unwrap();
            json.as_object()
                .unwrap()
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::Bool(false) => None,
                    Value::Bool(true) => Some((k.clone(), "on".into())),
                    Value::Null => Some((k.clone(), String::new())),
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Object(_) => Some((k.clone(), String::new())),
                    other => Some((k.clone(), other.to_string())),
                })
                .collect()
        };
        let with = |changes: &[(&str, &str)]| {
            let mut fields: Vec<(String, String)> = base
                .iter()
                .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
                .cloned()
                .collect();
            fields.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            fields.push(("csrf".into(), csrf.clone()));
            fields.push(("expected_version".into(), version.to_string()));
            fields
        };
        let post = |fields: Vec<(String, String)>| {
            let web = &web;
            let cookie = cookie.clone();
            async move {
                let refs: Vec<(&str, &str)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                web.form("/disconcierge/config", Some(&cookie), &refs).await
            }
        };

        // Invalid: a field-level error, what was typed kept, nothing saved.
        let reply = post(with(&[
            ("feedback_modal_max_length", "99999"),
            ("paused_message", "Back <soon>"),
            ("paused", "on"),
        ]))
        .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply
                .body
                .contains("id=\"error-feedback_modal_max_length\"")
        );
        assert!(reply.body.contains("value=\"99999\""));
        assert!(
            reply.body.contains("Back &#60;soon&#62;") || reply.body.contains("Back &lt;soon&gt;")
        );
        assert_eq!(web.control.runtime_config().version, version);
        assert!(!web.control.runtime_config().config.paused);

        // Without the CSRF token: refused, nothing saved.
        let mut no_csrf = with(&[("paused", "on")]);
        no_csrf.retain(|(k, _)| k != "csrf");
        assert_eq!(post(no_csrf).await.status, StatusCode::FORBIDDEN);
        assert!(!web.control.runtime_config().config.paused);

        // Valid: saved, applied, recorded with who did it.
        let reply = post(with(&[("paused", "on"), ("paused_message", "Back soon")])).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let applied = web.control.runtime_config();
        assert!(applied.config.paused);
        assert_eq!(applied.config.paused_message, "Back soon");
        assert_eq!(applied.version, version + 1);
        assert_eq!(applied.updated_by.as_deref(), Some("Admin"));
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains(&format!("Saved as version {}", version + 1))
        );
        assert!(
            page.body.contains("paused, paused_message"),
            "history lists the change"
        );

        // The same form again (stale version): a conflict, explained, values kept.
        let reply = post(with(&[("paused_message", "Other text")])).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("changed by someone else"));
        assert!(reply.body.contains("Other text"));
        assert_eq!(
            web.control.runtime_config().config.paused_message,
            "Back soon"
        );
    }
}

#[tokio::test]
async fn config_api_needs_csrf_and_reports_field_errors() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let (cookie, csrf) = web.api_sign_in().await;
        let current = web.get("/api/config", Some(&cookie)).await.json();
        let version = current["version"].as_i64().unwrap();
        assert_eq!(current["config"]["paused"], false);

        let change = json!({"expected_version": version, "config": {"paused": true}});
        let reply = web
            .json(
                Method::PUT,
                "/api/config",
                Some(&cookie),
                None,
                change.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.json()["error"], "csrf");
        let reply = web
            .json(
                Method::PUT,
                "/api/config",
                Some(&cookie),
                Some("0".repeat(64).as_str()),
                change.clone(),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(!web.control.runtime_config().config.paused);

        let reply = web.put_config(&cookie, &csrf, json!({"expected_version": version, "config": {"llm_temperature": "hot", "chat_command_max_length": 0, "colour": "red"}})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            reply.json()["fields"][0]["message"],
            "unknown setting \"colour\""
        );
        let reply = web
            .put_config(
                &cookie,
                &csrf,
                json!({"expected_version": version, "config": {"llm_temperature": "hot"}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["fields"][0]["field"], "llm_temperature");
        let reply = web
            .put_config(
                &cookie,
                &csrf,
                json!({"expected_version": version, "config": {"chat_command_max_length": 0}}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            reply.json()["fields"][0]["field"],
            "chat_command_max_length"
        );
        let reply = web.put_config(&cookie, &csrf, json!({"nonsense": 1})).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "bad_request");
        assert_eq!(web.control.runtime_config().version, version);

        let reply = web.put_config(&cookie, &csrf, change.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["version"], version + 1);
        assert_eq!(reply.json()["config"]["paused"], true);
        assert!(web.control.runtime_config().config.paused);
        // Saving against the old version again is a conflict.
        let reply = web.put_config(&cookie, &csrf, change).await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert_eq!(reply.json()["error"], "conflict");

        let history = web.get("/api/config/history", Some(&cookie)).await.json();
        assert_eq!(history[0]["version"], version + 1);
        assert_eq!(history[0]["updated_by"], "Admin");
        assert_eq!(history[0]["changed"], "paused");

        // Signing out over the API also needs the token.
        let reply = web
            .json(Method::POST, "/api/logout", Some(&cookie), None, json!({}))
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let reply = web
            .json(
                Method::POST,
                "/api/logout",
                Some(&cookie),
                Some(&csrf),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert_eq!(
            web.get("/api/config", Some(&cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn admins_are_added_removed_and_change_their_password() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let cookie = web.sign_in().await;
        let page = web.get("/disconcierge/admins", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Admin (you)"));
        let csrf = csrf_in(&page.body);

        // Adding: validated, unique, needs the CSRF token.
        let reply = web
            .form(
                "/disconcierge/admins",
                Some(&cookie),
                &[
                    ("username", "<b>eve</b>"),
                    ("password", PASSWORD),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("The username must be"));
        assert!(!reply.body.contains("<b>eve</b>"));
        let reply = web
            .form(
                "/disconcierge/admins",
                Some(&cookie),
                &[("username", "eve"), ("password", "short"), ("csrf", &csrf)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("at least 10 characters"));
        assert!(reply.body.contains("value=\"eve\""), "the name typed stays");
        let reply = web
            .form(
                "/disconcierge/admins",
                Some(&cookie),
                &[("username", "eve"), ("password", "eve's long password")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let reply = web
            .form(
                "/disconcierge/admins",
                Some(&cookie),
                &[
                    ("username", "eve"),
                    ("password", "eve's long password"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let reply = web
            .form(
                "/disconcierge/admins",
                Some(&cookie),
                &[
                    ("username", "EVE"),
                    ("password", "eve's long password"),
                    ("csrf", &csrf),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        assert!(reply.body.contains("already exists"));

        // Eve signs in; the API lists both admins, without any hash.
        let (eve_cookie, eve_csrf) = {
            let reply = web
                .json(
                    Method::POST,
                    "/api/login",
                    None,
                    None,
                    json!({"username": "eve", "password": "eve's long password"}),
                )
                .await;
            assert_eq!(reply.status, StatusCode::OK);
            (
                reply.cookie(),
                reply.json()["csrf_token"].as_str().unwrap().to_string(),
            )
        };
        let list = web.get("/api/admins", Some(&eve_cookie)).await;
        assert_eq!(list.json().as_array().unwrap().len(), 2);
        assert!(!list.body.contains("argon2"));
        let eve_id = list.json()[1]["id"].as_i64().unwrap();
        assert_eq!(list.json()[0]["username"], "Admin");

        // Nobody removes themselves; removing another signs them out everywhere.
        let reply = web
            .json(
                Method::DELETE,
                &format!("/api/admins/{eve_id}"),
                Some(&eve_cookie),
                Some(&eve_csrf),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CONFLICT);
        let reply = web
            .form(
                &format!("/disconcierge/admins/{eve_id}/delete"),
                Some(&cookie),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "needs confirming"
        );
        let reply = web
            .form(
                &format!("/disconcierge/admins/{eve_id}/delete"),
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(
            web.get("/api/me", Some(&eve_cookie)).await.status,
            StatusCode::UNAUTHORIZED
        );

        // Changing the password: the current one is checked, the new one validated and typed twice;
        // then every other session is signed out and this browser stays signed in.
        let (other_cookie, _) = web.api_sign_in().await;
        let change = |current: &'static str, new: &'static str, repeat: &'static str| {
            let web = &web;
            let cookie = cookie.clone();
            let csrf = csrf.clone();
            async move {
                web.form(
                    "/disconcierge/password",
                    Some(&cookie),
                    &[
                        ("csrf", &csrf),
                        ("current_password", current),
                        ("new_password", new),
                        ("repeat_password", repeat),
                    ],
                )
                .await
            }
        };
        let reply = change(
            "wrong password!",
            "a brand new password",
            "a brand new password",
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(reply.body.contains("The current password is wrong"));
        let reply = change(PASSWORD, "a brand new password", "a brand new passwort").await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("differ"));
        let reply = change(PASSWORD, "tiny", "tiny").await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = change(PASSWORD, "a brand new password", "a brand new password").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let fresh = reply.cookie();
        assert_eq!(
            web.get("/api/me", Some(&other_cookie)).await.status,
            StatusCode::UNAUTHORIZED,
            "other sessions are signed out"
        );
        assert_eq!(
            web.get("/api/me", Some(&cookie)).await.status,
            StatusCode::UNAUTHORIZED,
            "the old cookie too"
        );
        assert_eq!(
            web.get("/api/me", Some(&fresh)).await.status,
            StatusCode::OK
        );
        let reply = web
            .json(
                Method::POST,
                "/api/login",
                None,
                None,
                json!({"username": "admin", "password": "a brand new password"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn users_are_listed_and_their_settings_changed() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        web.store()
            .upsert_user(1, "ann", Some("Ann <A>"))
            .await
            .unwrap();
        web.store().upsert_user(2, "bob", None).await.unwrap();
        web.command(10, 1, "first").await;
        web.command(11, 1, "second").await;
        let cookie = web.sign_in().await;

        let list = web
            .get("/disconcierge/users?sort=name", Some(&cookie))
            .await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("Ann &#60;A&#62;") || list.body.contains("Ann &lt;A&gt;"));
        assert!(list.body.contains("2 / 25"), "ann used 2 of the default 25");
        let found = web
            .get("/disconcierge/users?search=BO", Some(&cookie))
            .await;
        assert!(found.body.contains(">bob<") && !found.body.contains(">ann<"));
        let bad = web.get("/disconcierge/users?sort=age", Some(&cookie)).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);

        // The API pages through users by name.
        let page = web
            .get("/api/users?sort=name&limit=1", Some(&cookie))
            .await
            .json();
        assert_eq!(page["items"][0]["username"], "ann");
        assert_eq!(page["items"][0]["discord_id"], "1");
        let after = page["next_after"].as_str().unwrap().to_string();
        let page = web
            .get(
                &format!("/api/users?sort=name&limit=1&after={}", enc(&after)),
                Some(&cookie),
            )
            .await
            .json();
        assert_eq!(page["items"][0]["username"], "bob");
        assert!(page["next_after"].is_null());

        // The detail page shows usage, commands and the settings form.
        let detail = web.get("/disconcierge/users/1", Some(&cookie)).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(detail.body.contains("<td class=\"prompt\">second</td>"));
        assert!(detail.body.contains("<td class=\"prompt\">first</td>"));
        let csrf = csrf_in(&detail.body);
        let bad = web
            .form(
                "/disconcierge/users/1",
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("limit_override", "lots"),
                    ("llm_model", "kept-model"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("must be a whole number"));
        assert!(
            bad.body.contains("value=\"kept-model\""),
            "what was typed stays"
        );
        assert_eq!(
            web.store().user(1).await.unwrap().unwrap().limit_override,
            None
        );
        let refused = web
            .form(
                "/disconcierge/users/1",
                Some(&cookie),
                &[("priority", "on")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let saved = web
            .form(
                "/disconcierge/users/1",
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("priority", "on"),
                    ("limit_override", "2"),
                    ("llm_temperature", "0.5"),
                    ("llm_instructions", "Answer in French."),
                ],
            )
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let ann = web.store().user(1).await.unwrap().unwrap();
        assert!(ann.priority && !ann.ignored);
        assert_eq!(ann.limit_override, Some(2));
        assert_eq!(ann.llm_temperature, Some(0.5));
        assert_eq!(ann.llm_instructions.as_deref(), Some("Answer in French."));
        assert_eq!(ann.llm_model, None);
        let detail = web.get(saved.location(), Some(&cookie)).await;
        assert!(detail.body.contains("2 / 2"), "at her own limit now");
        assert!(!detail.body.contains("Next command available</dt><dd>now"));

        // The API: the same settings, validated.
        let (api_cookie, api_csrf) = web.api_sign_in().await;
        let reply = web
            .json(
                Method::PUT,
                "/api/users/2/settings",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({"ignored": true, "llm_temperature": 7}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.json()["message"].as_str().unwrap().contains("0 to 2"));
        let reply = web
            .json(
                Method::PUT,
                "/api/users/2/settings",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({"ignored": true, "limit_override": 5}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["ignored"], true);
        assert_eq!(reply.json()["limit"], 5);
        assert!(web.store().user(2).await.unwrap().unwrap().ignored);
        let reply = web
            .json(
                Method::PUT,
                "/api/users/999/settings",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let user = web.get("/api/users/1", Some(&api_cookie)).await.json();
        assert_eq!(user["user"]["used"], 2);
        assert_eq!(user["recent_commands"].as_array().unwrap().len(), 2);
        assert_eq!(user["feedback"][0]["kind"], "other");
    }
}

#[tokio::test]
async fn pause_and_resume_need_confirmation_and_apply_at_once() {
    let web = Web::new(TestDb::sqlite().await).await;
    let cookie = web.sign_in().await;
    let page = web.get("/disconcierge", Some(&cookie)).await;
    assert!(page.body.contains("action=\"/disconcierge/actions/pause\""));
    let csrf = csrf_in(&page.body);
    let reply = web
        .form(
            "/disconcierge/actions/pause",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not confirmed"
    );
    assert!(!web.control.runtime_config().config.paused);
    let reply = web
        .form(
            "/disconcierge/actions/pause",
            Some(&cookie),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "no CSRF token");
    let reply = web
        .form(
            "/disconcierge/actions/pause",
            Some(&cookie),
            &[("csrf", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let applied = web.control.runtime_config();
    assert!(applied.config.paused);
    assert_eq!(applied.updated_by.as_deref(), Some("Admin"));
    let page = web.get(reply.location(), Some(&cookie)).await;
    assert!(
        page.body
            .contains("Paused: only priority users are answered")
    );
    assert!(
        page.body
            .contains("action=\"/disconcierge/actions/resume\"")
    );

    let (api_cookie, api_csrf) = web.api_sign_in().await;
    let reply = web
        .json(
            Method::POST,
            "/api/actions/resume",
            Some(&api_cookie),
            None,
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = web
        .json(
            Method::POST,
            "/api/actions/resume",
            Some(&api_cookie),
            Some(&api_csrf),
            json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["config"]["paused"], false);
    assert!(!web.control.runtime_config().config.paused);
}

#[tokio::test]
async fn api_tokens_are_created_used_and_revoked() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let cookie = web.sign_in().await;
        let page = web.get("/disconcierge/tokens", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("No API tokens yet."));
        let csrf = csrf_in(&page.body);

        // Refused forms keep what was typed and say why.
        let reply = web
            .form(
                "/disconcierge/tokens",
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("name", "<i>nightly</i>"),
                    ("expires_in_days", "soon"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            reply
                .body
                .contains("The expiry must be a whole number of days")
        );
        assert!(
            reply
                .body
                .contains("value=\"&#60;i&#62;nightly&#60;/i&#62;\""),
            "{}",
            reply.body
        );
        let reply = web
            .form("/disconcierge/tokens", Some(&cookie), &[("name", "x")])
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "no CSRF token");

        // Created: shown once, on the response (never in a URL), and only a hash is stored.
        let reply = web
            .form(
                "/disconcierge/tokens",
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("name", "<i>nightly</i>"),
                    ("expires_in_days", "30"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let at = reply.body.find("id=\"new-token\">").unwrap() + 15;
        let token = reply.body[at..at + 44].to_string();
        assert!(token.starts_with("dct_"), "{token}");
        assert!(
            reply.body.contains("&#60;i&#62;nightly&#60;/i&#62;"),
            "escaped"
        );
        assert_eq!(
            web.db
                .scalar_i64(&format!(
                    "SELECT COUNT(*) FROM api_tokens WHERE token_hash = '{}' AND prefix = '{}'",
                    disconcierge_web::auth::session_token_hash(&token),
                    &token[..12]
                ))
                .await,
            1
        );
        let list = web.get("/disconcierge/tokens", Some(&cookie)).await;
        assert!(
            !list.body.contains(&token),
            "the token is never shown again"
        );
        assert!(list.body.contains(&format!("{}…", &token[..12])));

        // A script uses it: reads and changes, without cookie or CSRF token.
        let me = web.bearer(Method::GET, "/api/me", &token, None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.body);
        assert_eq!(me.json()["username"], "Admin");
        let version = web.control.runtime_config().version;
        let reply = web
            .bearer(
                Method::PUT,
                "/api/config",
                &token,
                Some(json!({"expected_version": version, "config": {"paused": true}})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(web.control.runtime_config().config.paused);
        let history = web.get("/api/config/history", Some(&cookie)).await.json();
        assert!(
            history[0]["updated_by"]
                .as_str()
                .unwrap()
                .starts_with("Admin (API token #"),
            "{history}"
        );
        assert!(
            web.db
                .scalar_i64("SELECT COUNT(*) FROM api_tokens WHERE last_used_at IS NOT NULL")
                .await
                == 1
        );

        // But it cannot manage accounts or tokens, sign out or change a password.
        for (method, uri, body) in [
            (Method::GET, "/api/tokens", None),
            (Method::POST, "/api/tokens", Some(json!({"name": "more"}))),
            (
                Method::POST,
                "/api/admins",
                Some(json!({"username": "mallory", "password": "a long enough password"})),
            ),
            (
                Method::POST,
                "/api/password",
                Some(
                    json!({"current_password": PASSWORD, "new_password": "another long password"}),
                ),
            ),
            (Method::POST, "/api/logout", None),
        ] {
            let reply = web.bearer(method, uri, &token, body).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{uri}: {}", reply.body);
            assert_eq!(reply.json()["error"], "session_required");
        }
        assert!(
            web.store()
                .admin_by_username("mallory")
                .await
                .unwrap()
                .is_none()
        );

        // Wrong or malformed tokens: 401 with what to do.
        for bad in ["dct_0000000000000000000000000000000000000000", "", "x y"] {
            let reply = web.bearer(Method::GET, "/api/me", bad, None).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad:?}");
            assert_eq!(reply.json()["error"], "bad_token");
            assert!(
                reply.json()["message"]
                    .as_str()
                    .unwrap()
                    .contains("create a new one")
            );
        }

        // The API manages tokens from a browser session.
        let (api_cookie, api_csrf) = web.api_sign_in().await;
        let reply = web
            .json(
                Method::POST,
                "/api/tokens",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({"name": "ci", "expires_in_days": 0}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = web
            .json(
                Method::POST,
                "/api/tokens",
                Some(&api_cookie),
                None,
                json!({"name": "ci"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "CSRF");
        let reply = web
            .json(
                Method::POST,
                "/api/tokens",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({"name": "ci"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let created = reply.json();
        let second = created["token"].as_str().unwrap().to_string();
        assert_eq!(created["expires_at"], Value::Null);
        assert_eq!(created["created_by"], "Admin");
        assert!(created.get("token_hash").is_none());
        let listed = web.get("/api/tokens", Some(&api_cookie)).await.json();
        assert_eq!(listed["items"].as_array().unwrap().len(), 2);
        assert!(!listed.to_string().contains(&second), "never listed");
        assert!(!listed.to_string().contains("hash"));

        // Revoked from the page (with confirmation): refused at once.
        let first_id = listed["items"][1]["id"].as_i64().unwrap();
        let reply = web
            .form(
                &format!("/disconcierge/tokens/{first_id}/delete"),
                Some(&cookie),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not confirmed"
        );
        assert_eq!(
            web.bearer(Method::GET, "/api/me", &token, None)
                .await
                .status,
            StatusCode::OK
        );
        let reply = web
            .form(
                &format!("/disconcierge/tokens/{first_id}/delete"),
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(
            web.bearer(Method::GET, "/api/me", &token, None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        // And from the API.
        let second_id = created["id"].as_i64().unwrap();
        let uri = format!("/api/tokens/{second_id}");
        let reply = web
            .json(
                Method::DELETE,
                &uri,
                Some(&api_cookie),
                Some(&api_csrf),
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        let reply = web
            .json(
                Method::DELETE,
                &uri,
                Some(&api_cookie),
                Some(&api_csrf),
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert_eq!(
            web.bearer(Method::GET, "/api/me", &second, None)
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn feedback_is_listed_filtered_and_paged() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        web.store().upsert_user(41, "ann", None).await.unwrap();
        web.store().upsert_user(42, "bob", None).await.unwrap();
        // Each command brings one "Other" feedback with "<b>bold claim</b>"; add "Good" votes too.
        let mut commands = Vec::new();
        for i in 0..3u64 {
            let user = if i == 1 { 42 } else { 41 };
            let cmd = web.command(500 + i, user, &format!("question {i}")).await;
            web.store()
                .insert_user_feedback(&UserFeedback {
                    chat_command_id: cmd,
                    user_id: user,
                    kind: FeedbackKind::Good,
                    detail: None,
                    created_at: Utc::now(),
                })
                .await
                .unwrap();
            commands.push(cmd);
        }
        let cookie = web.sign_in().await;
        let page = web.get("/disconcierge/feedback", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("&#60;b&#62;bold claim&#60;/b&#62;"),
            "escaped"
        );
        assert!(!page.body.contains("<b>bold claim</b>"));
        assert_eq!(
            page.body.matches("<td>Good</td>").count(),
            3,
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!("/disconcierge/chat_commands/{}", commands[2]))
        );

        let other = web
            .get("/disconcierge/feedback?kind=other&user=41", Some(&cookie))
            .await;
        assert_eq!(other.body.matches("bold claim").count(), 2);
        assert!(!other.body.contains("<td>Good</td>"));
        let bad = web
            .get("/disconcierge/feedback?kind=meh", Some(&cookie))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("meh"), "{}", bad.body);

        // The API pages through all six, newest first, with the same filters.
        let first = web.get("/api/feedback?limit=4", Some(&cookie)).await.json();
        assert_eq!(first["items"].as_array().unwrap().len(), 4);
        assert_eq!(first["items"][0]["kind"], "good");
        assert_eq!(first["items"][0]["user_id"], "41");
        let cursor = first["next_before"].as_i64().unwrap();
        let rest = web
            .get(
                &format!("/api/feedback?limit=4&before={cursor}"),
                Some(&cookie),
            )
            .await
            .json();
        assert_eq!(rest["items"].as_array().unwrap().len(), 2);
        assert_eq!(rest["next_before"], Value::Null);
        let bob = web
            .get("/api/feedback?user=42&kind=good", Some(&cookie))
            .await
            .json();
        assert_eq!(bob["items"].as_array().unwrap().len(), 1);
        assert_eq!(bob["items"][0]["chat_command_id"], commands[1]);
        let reply = web.get("/api/feedback?user=bob", Some(&cookie)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "bad_request");
        assert_eq!(
            web.get("/api/feedback", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn interactions_are_listed_and_shown_whole() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let now = Utc::now();
        let entry = |interaction_id: u64, kind: &str, user: u64| {
            disconcierge_core::model::InteractionLog {
                interaction_id,
                interaction_type: kind.into(),
                user_id: Some(user),
                guild_id: Some(77),
                channel_id: Some(88),
                payload: json!({"data": {"options": [{"name": "prompt", "value": "<script>alert(1)</script>"}]}}),
                received_at: now,
            }
        };
        let first = web
            .store()
            .insert_interaction_log(&entry(900, "application_command", 41))
            .await
            .unwrap();
        web.store()
            .insert_interaction_logs(&[
                entry(901, "message_component", 42),
                entry(902, "application_command", 42),
            ])
            .await
            .unwrap();
        let cookie = web.sign_in().await;
        let list = web.get("/disconcierge/interactions", Some(&cookie)).await;
        assert_eq!(list.status, StatusCode::OK);
        for id in ["900", "901", "902"] {
            assert!(
                list.body.contains(&format!("<td>{id}</td>")),
                "{}",
                list.body
            );
        }
        let buttons = web
            .get(
                "/disconcierge/interactions?type=message_component",
                Some(&cookie),
            )
            .await;
        assert!(buttons.body.contains("<td>901</td>") && !buttons.body.contains("<td>902</td>"));
        let bad = web
            .get("/disconcierge/interactions?type=sneaky", Some(&cookie))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("type must be one of"));

        // The whole entry, pretty-printed and escaped.
        let detail = web
            .get(
                &format!("/disconcierge/interactions/{first}"),
                Some(&cookie),
            )
            .await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(
            detail
                .body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
        );
        assert!(!detail.body.contains("<script>alert"));
        assert_eq!(
            web.get("/disconcierge/interactions/99999", Some(&cookie))
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // The API: pages, filters, the entry whole.
        let page = web
            .get("/api/interactions?limit=2", Some(&cookie))
            .await
            .json();
        assert_eq!(page["items"][0]["interaction_id"], "902");
        let cursor = page["next_before"].as_i64().unwrap();
        let rest = web
            .get(&format!("/api/interactions?before={cursor}"), Some(&cookie))
            .await
            .json();
        assert_eq!(rest["items"][0]["interaction_id"], "900");
        assert_eq!(rest["next_before"], Value::Null);
        let ann = web
            .get("/api/interactions?user=41", Some(&cookie))
            .await
            .json();
        assert_eq!(ann["items"].as_array().unwrap().len(), 1);
        let one = web
            .get(&format!("/api/interactions/{first}"), Some(&cookie))
            .await
            .json();
        assert_eq!(one["payload"]["data"]["options"][0]["name"], "prompt");
        assert_eq!(one["guild_id"], "77");
        assert_eq!(
            web.get("/api/interactions/x", Some(&cookie)).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            web.get("/api/interactions", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn messages_about_the_bot_are_listed_and_filtered() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        web.store().upsert_user(41, "ann", None).await.unwrap();
        let answer = web.command(700, 41, "question").await;
        let message = |message_id: u64, channel_id: u64, user: u64, reply: bool, content: &str| {
            disconcierge_core::model::DiscordMessage {
                message_id,
                channel_id,
                guild_id: Some(77),
                user_id: Some(user),
                chat_command_id: reply.then_some(answer),
                content: content.into(),
                payload: Some(
                    json!({"noticed": if reply { "reply" } else { "mention" }, "message": {}}),
                ),
                created_at: Utc::now(),
            }
        };
        for m in [
            message(1, 88, 41, true, "thanks, but <img src=x onerror=alert(1)>"),
            message(2, 99, 42, false, "@bot hello"),
            message(3, 88, 42, false, "@bot again"),
        ] {
            web.store().insert_discord_message(&m).await.unwrap();
        }
        let cookie = web.sign_in().await;
        let page = web.get("/disconcierge/messages", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body.contains("&#60;img src=x onerror=alert(1)&#62;"),
            "escaped"
        );
        assert!(!page.body.contains("<img src=x"));
        assert!(
            page.body
                .contains(&format!("/disconcierge/chat_commands/{answer}"))
        );
        assert!(page.body.contains("<td>reply</td>") && page.body.contains("<td>mention</td>"));
        let bob_here = web
            .get("/disconcierge/messages?user=42&channel=88", Some(&cookie))
            .await;
        assert!(bob_here.body.contains("@bot again"));
        assert!(!bob_here.body.contains("@bot hello") && !bob_here.body.contains("thanks"));
        let bad = web
            .get("/disconcierge/messages?channel=general", Some(&cookie))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.body.contains("channel must be a Discord id"));

        let first = web
            .get("/api/discord_messages?limit=2", Some(&cookie))
            .await
            .json();
        assert_eq!(first["items"][0]["message_id"], "3");
        assert_eq!(first["items"][1]["noticed"], "mention");
        let cursor = first["next_before"].as_i64().unwrap();
        let rest = web
            .get(
                &format!("/api/discord_messages?before={cursor}"),
                Some(&cookie),
            )
            .await
            .json();
        assert_eq!(rest["items"][0]["message_id"], "1");
        assert_eq!(rest["items"][0]["chat_command_id"], answer);
        assert_eq!(rest["next_before"], Value::Null);
        assert_eq!(
            web.get("/api/discord_messages", None).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn reloading_applies_a_configuration_saved_elsewhere() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let before = web.control.runtime_config();
        // Another instance (or someone with SQL) saves a newer configuration.
        let changed = RuntimeConfig {
            paused: true,
            ..before.config.clone()
        };
        web.store()
            .save_runtime_config(&changed, Some(before.version), Some("other instance"))
            .await
            .unwrap();
        assert!(!web.control.runtime_config().config.paused, "not yet");

        let cookie = web.sign_in().await;
        let dashboard = web.get("/disconcierge", Some(&cookie)).await;
        let csrf = csrf_in(&dashboard.body);
        let reply = web
            .form(
                "/disconcierge/actions/reload",
                Some(&cookie),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "needs confirmation"
        );
        assert!(!web.control.runtime_config().config.paused);
        let reply = web
            .form(
                "/disconcierge/actions/reload",
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location(), "/disconcierge?done=reload");
        assert!(web.control.runtime_config().config.paused, "applied");
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains("the newer configuration from the database is in force")
        );

        // Through the API: nothing newer now.
        let (api_cookie, api_csrf) = web.api_sign_in().await;
        let reply = web
            .json(
                Method::POST,
                "/api/actions/reload",
                Some(&api_cookie),
                None,
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "CSRF");
        let reply = web
            .json(
                Method::POST,
                "/api/actions/reload",
                Some(&api_cookie),
                Some(&api_csrf),
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["changed"], false);
        assert_eq!(reply.json()["version"], before.version + 1);
    }
}

#[tokio::test]
async fn shutting_down_needs_confirmation_and_a_person() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let cookie = web.sign_in().await;
        let csrf = csrf_in(&web.get("/disconcierge", Some(&cookie)).await.body);
        let reply = web
            .form(
                "/disconcierge/actions/shutdown",
                Some(&cookie),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = web
            .form(
                "/disconcierge/actions/shutdown",
                Some(&cookie),
                &[("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "no CSRF token");
        assert!(web.control.shutdowns.lock().unwrap().is_empty());
        let reply = web
            .form(
                "/disconcierge/actions/shutdown",
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert!(
            reply
                .body
                .contains("questions still queued wait in the database")
        );
        assert!(
            reply.body.contains("Instance web-1 is stopping"),
            "says which instance stops: {}",
            reply.body
        );
        assert_eq!(*web.control.shutdowns.lock().unwrap(), ["Admin"]);

        let (api_cookie, api_csrf) = web.api_sign_in().await;
        let reply = web
            .json(
                Method::POST,
                "/api/actions/shutdown",
                Some(&api_cookie),
                None,
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "CSRF");
        let reply = web
            .json(
                Method::POST,
                "/api/actions/shutdown",
                Some(&api_cookie),
                Some(&api_csrf),
                Value::Null,
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        assert_eq!(reply.json()["instance"], "web-1");
        assert_eq!(web.control.shutdowns.lock().unwrap().len(), 2);
    }
}

#[tokio::test]
async fn the_playground_streams_the_plan_and_the_answer() {
    let web = Web::new(TestDb::sqlite().await).await;
    let (cookie, csrf) = web.api_sign_in().await;
    let ask =
        json!({"guild": "123", "member": "Mallory", "question": "  <b>Where</b> is my order?  "});

    // A cookie without the CSRF header is refused, and so is bad input, field by field.
    let reply = web
        .json(
            Method::POST,
            "/api/playground",
            Some(&cookie),
            None,
            ask.clone(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let reply = web
        .json(
            Method::POST,
            "/api/playground",
            Some(&cookie),
            Some(&csrf),
            json!({"guild": "my server", "question": " "}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = reply.json()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["guild", "question"]);

    // The plan first, then the pieces, then the end: one JSON object per line.
    let reply = web
        .json(
            Method::POST,
            "/api/playground",
            Some(&cookie),
            Some(&csrf),
            ask,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers[header::CONTENT_TYPE], "application/x-ndjson");
    let events: Vec<Value> = reply
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let types: Vec<_> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["plan", "delta", "delta", "done"]);
    assert_eq!(events[0]["decision"], "Guild Some(123) asked by Mallory");
    assert_eq!(
        events[0]["matches"][0]["title"],
        "<script>alert(1)</script>"
    );
    assert_eq!(events[0]["request"]["input"], "<b>Where</b> is my order?");
    assert_eq!(events[3]["text"], "You asked: <b>Where</b> is my order?");

    // Without JavaScript the page waits for the whole answer and shows everything as text.
    let page_cookie = web.sign_in().await;
    let page = web
        .get("/disconcierge/playground", Some(&page_cookie))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("src=\"/disconcierge/static/playground.js\"")
    );
    let page_csrf = csrf_in(&page.body);
    let reply = web
        .form(
            "/disconcierge/playground",
            Some(&page_cookie),
            &[
                ("csrf", &page_csrf),
                ("guild", ""),
                ("question", "<i>hi</i>"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body.contains("Guild None asked by Playground"));
    assert!(
        reply
            .body
            .contains("#7 &#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("You asked: &#60;i&#62;hi&#60;/i&#62;"));
    assert!(
        reply
            .body
            .contains("Done in 1.5 s; 10 prompt + 5 answer tokens")
    );
    assert!(!reply.body.contains("<script>alert"));

    // A failure shows why, and what a member would have been sent.
    let reply = web
        .form(
            "/disconcierge/playground",
            Some(&page_cookie),
            &[("csrf", &page_csrf), ("question", "please fail")],
        )
        .await;
    assert!(reply.body.contains("The model failed: the model is down"));
    assert!(reply.body.contains("Staff will follow up."));

    // Bad input keeps what was typed and names the field; a forged form is refused.
    let reply = web
        .form(
            "/disconcierge/playground",
            Some(&page_cookie),
            &[
                ("csrf", &page_csrf),
                ("guild", "abc"),
                ("question", "kept text"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("id=\"guild-error\""));
    assert!(reply.body.contains(">kept text</textarea>"));
    let reply = web
        .form(
            "/disconcierge/playground",
            Some(&page_cookie),
            &[("csrf", "forged"), ("question", "hi")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    // The script is served from here (the CSP allows only first-party scripts).
    let script = web.get("/disconcierge/static/playground.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        !script.body.contains("innerHTML"),
        "values go in as text only"
    );
}

#[tokio::test]
async fn clearing_every_conversation_and_registering_commands() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        for (id, conversation) in [(1_u64, Some("conv_a")), (2, None)] {
            web.store()
                .upsert_user(id, &format!("user{id}"), None)
                .await
                .unwrap();
            web.store()
                .set_user_conversation(id, conversation.map(str::to_string))
                .await
                .unwrap();
        }
        let cookie = web.sign_in().await;
        let page = web.get("/disconcierge", Some(&cookie)).await;
        let csrf = csrf_in(&page.body);
        // What the dashboard says of what this process does not run.
        assert!(
            page.body
                .contains("id=\"gateway\"><span class=\"badge ignored\">off</span> not running")
        );
        assert!(
            page.body
                .contains("<span class=\"badge completed\">ok</span>"),
            "the database answers"
        );

        let reply = web
            .form(
                "/disconcierge/actions/clear-conversations",
                Some(&cookie),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "not confirmed"
        );
        assert!(
            web.store()
                .user(1)
                .await
                .unwrap()
                .unwrap()
                .conversation_id
                .is_some()
        );
        let before = Utc::now();
        let reply = web
            .form(
                "/disconcierge/actions/clear-conversations",
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let page = web.get(reply.location(), Some(&cookie)).await;
        assert!(
            page.body
                .contains("every user&#39;s next /chat starts a new conversation"),
            "{}",
            page.body
        );
        for id in [1, 2] {
            let user = web.store().user(id).await.unwrap().unwrap();
            assert_eq!(user.conversation_id, None);
            assert!(user.conversation_reset_at.unwrap() >= before - TimeDelta::seconds(1));
        }

        // The API does the same, with the CSRF header.
        let (api_cookie, api_csrf) = web.api_sign_in().await;
        let reply = web
            .json(
                Method::POST,
                "/api/actions/clear_conversations",
                Some(&api_cookie),
                None,
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let reply = web
            .json(
                Method::POST,
                "/api/actions/clear_conversations",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.json()["users"], 2);

        // Without Discord, registering says why instead of pretending.
        let reply = web
            .form(
                "/disconcierge/actions/register",
                Some(&cookie),
                &[("csrf", &csrf), ("confirm", "yes")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(reply.body.contains("DC_DISCORD_TOKEN"), "{}", reply.body);
        let reply = web
            .json(
                Method::POST,
                "/api/actions/register_commands",
                Some(&api_cookie),
                Some(&api_csrf),
                json!({}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(reply.json()["error"], "discord_unavailable");

        let status = web.get("/api/status", Some(&api_cookie)).await;
        let status = status.json();
        assert_eq!(status["database"]["level"], "ok");
        assert_eq!(status["gateway"]["level"], "off");
        assert_eq!(status["queue_depth"], 0);
    }
}
