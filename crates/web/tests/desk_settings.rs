//! A server's support-desk settings in the admin interface, through HTTP requests to the real router on a
//! real database (SQLite, and PostgreSQL when `DC_TEST_POSTGRES_URL` is set): shown as `/setup` stored
//! them, the switches and per-member limits changed by the page's form and by `PATCH /api/desk/settings`,
//! bad values refused with the field named and nothing saved.

use axum::http::{Method, StatusCode};
use chrono::Utc;
use disconcierge_core::desk::model::GuildSettings;
use disconcierge_store::testing::TestDb;
use serde_json::json;

mod common;

use common::*;

const GUILD: u64 = 444;

async fn set_up(web: &Web) {
    web.store()
        .save_guild_settings(&GuildSettings {
            guild_id: GUILD,
            forum_channel_id: 10,
            staff_role_id: 11,
            log_channel_id: Some(12),
            instructions: Some("<b>Be brief.</b>".into()),
            auto_close_after_secs: Some(48 * 3600),
            ai_replies: true,
            training: true,
            member_replies_per_6h: 0,
            member_reply_interval_secs: 0,
            updated_by: 5,
            updated_at: Utc::now(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn switches_and_limits_change_through_the_page_and_the_api() {
    for db in TestDb::each().await {
        let web = Web::new(db).await;
        let (cookie, csrf) = web.api_sign_in().await;
        let c = Some(cookie.as_str());

        // Before /setup: not found, saying what to do.
        let reply = web
            .get(&format!("/api/desk/settings?guild={GUILD}"), c)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
        assert!(
            reply.json()["message"]
                .as_str()
                .unwrap()
                .contains("run /setup")
        );
        set_up(&web).await;

        let reply = web
            .get(&format!("/api/desk/settings?guild={GUILD}"), c)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["forum_channel_id"], "10");
        assert_eq!(body["ai_replies"], true);
        assert_eq!(body["member_replies_per_6h"], 0);

        // The API: a field left out stays; an out-of-bounds limit is refused, nothing saved.
        let uri = format!("/api/desk/settings?guild={GUILD}");
        let reply = web
            .json(
                Method::PATCH,
                &uri,
                c,
                Some(&csrf),
                json!({"member_replies_per_6h": 5000, "training": false}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert_eq!(reply.json()["fields"][0]["field"], "member_replies_per_6h");
        assert!(
            web.store()
                .guild_settings(GUILD)
                .await
                .unwrap()
                .unwrap()
                .training
        );
        let reply = web
            .json(
                Method::PATCH,
                &uri,
                c,
                Some(&csrf),
                json!({"flavour": "tea"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        let reply = web
            .json(
                Method::PATCH,
                &uri,
                c,
                Some(&csrf),
                json!({"training": false, "member_replies_per_6h": 20}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let saved = web.store().guild_settings(GUILD).await.unwrap().unwrap();
        assert!(!saved.training && saved.ai_replies);
        assert_eq!(
            (
                saved.member_replies_per_6h,
                saved.member_reply_interval_secs
            ),
            (20, 0)
        );
        assert_eq!(saved.updated_by, 0, "changed in the admin interface");
        assert_eq!(saved.forum_channel_id, 10, "what /setup chose is kept");

        // The page: what /setup stored (escaped), and the form.
        let page = web
            .get(&format!("/disconcierge/desk/settings?guild={GUILD}"), c)
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("&#60;b&#62;Be brief.") && !page.body.contains("<b>Be brief"),
            "escaped instructions: {}",
            page.body
        );
        assert!(
            page.body.contains(r#"id="f-replies" value="20""#),
            "{}",
            page.body
        );
        let form_csrf = csrf_in(&page.body);
        // Unchecked boxes are off; a bad number names its field and saves nothing.
        let reply = web
            .form(
                &format!("/disconcierge/desk/settings?guild={GUILD}"),
                c,
                &[
                    ("csrf", &form_csrf),
                    ("training", "on"),
                    ("member_replies_per_6h", "ten"),
                    ("member_reply_interval_secs", "30"),
                ],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.body
        );
        assert!(
            reply.body.contains(r#"id="error-member_replies_per_6h""#),
            "{}",
            reply.body
        );
        assert!(
            web.store()
                .guild_settings(GUILD)
                .await
                .unwrap()
                .unwrap()
                .ai_replies
        );
        let reply = web
            .form(
                &format!("/disconcierge/desk/settings?guild={GUILD}"),
                c,
                &[
                    ("csrf", &form_csrf),
                    ("training", "on"),
                    ("member_replies_per_6h", "3"),
                    ("member_reply_interval_secs", "30"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let saved = web.store().guild_settings(GUILD).await.unwrap().unwrap();
        assert!(!saved.ai_replies && saved.training);
        assert_eq!(
            (
                saved.member_replies_per_6h,
                saved.member_reply_interval_secs
            ),
            (3, 30)
        );
        // Without the CSRF token, nothing.
        let reply = web
            .form(
                &format!("/disconcierge/desk/settings?guild={GUILD}"),
                c,
                &[
                    ("ai_replies", "on"),
                    ("member_replies_per_6h", "0"),
                    ("member_reply_interval_secs", "0"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
        assert!(
            !web.store()
                .guild_settings(GUILD)
                .await
                .unwrap()
                .unwrap()
                .ai_replies
        );
    }
}
