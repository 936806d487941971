//! The webhook endpoint as an attacker meets it: only Discord's signed, fresh requests do anything.

use disconcierge_discord_sim::Signing;
use disconcierge_e2e::{Backend, try_spawn_app};

/// A complete `/chat` interaction, as Discord would send it.
fn chat_body(application_id: u64) -> String {
    serde_json::json!({
        "id": "1400000000000000001", "application_id": application_id.to_string(), "type": 2,
        "token": "forged-token", "version": 1, "attachment_size_limit": 10485760, "entitlements": [],
        "authorizing_integration_owners": {"0": "1"},
        "channel_id": "1400000000000000002", "channel": {"id": "1400000000000000002", "type": 1},
        "user": {"id": "1400000000000000003", "username": "mallory", "discriminator": "0", "avatar": null, "global_name": null},
        "data": {"id": "1400000000000000004", "name": "chat", "type": 1,
                 "options": [{"name": "prompt", "type": 3, "value": "spend their tokens"}]}
    })
    .to_string()
}

disconcierge_e2e::both!(forged_stale_and_unsigned_requests_change_nothing_and_ping_gets_pong);
async fn forged_stale_and_unsigned_requests_change_nothing_and_ping_gets_pong(backend: Backend) {
    let Some(app) = try_spawn_app(backend, &[("DC_DISCORD_WEBHOOK_SERVER_ENABLED", "true")]).await
    else {
        return;
    };
    app.discord.gateway().wait_ready(1).await;
    let webhook = app.discord.webhook(app.webhook_url.as_deref().unwrap());

    // Discord's endpoint check: a signed PING gets a PONG (the simulator records a violation otherwise).
    let pong = webhook.ping().await;
    assert_eq!(pong.status, 200);

    let body = chat_body(app.discord.application_id().get());
    for signing in [Signing::Forged, Signing::Stale, Signing::Unsigned] {
        let answer = webhook.send_raw(&body, signing).await;
        assert_eq!(answer.status, 401, "{signing:?}: {}", answer.body);
    }
    assert_eq!(webhook.ping_forged().await.status, 401);
    assert_eq!(webhook.ping_stale().await.status, 401);

    // Nothing was written and nothing reached the LLM.
    assert!(app.llm.requests().is_empty());
    let db = app.stop().await;
    for table in [
        "users",
        "chat_commands",
        "llm_call_logs",
        "interaction_logs",
    ] {
        assert_eq!(
            db.scalar_i64(&format!("SELECT COUNT(*) FROM {table}"))
                .await,
            0,
            "{table}"
        );
    }
}
