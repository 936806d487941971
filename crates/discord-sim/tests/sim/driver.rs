//! Person-like actions and the awaiting API, with the bot's side played by a real twilight client.

use std::time::Duration;

use disconcierge_discord_sim::{DiscordSim, Via};
use twilight_model::application::interaction::modal::ModalInteractionComponent;
use twilight_model::application::interaction::{InteractionContextType, InteractionData};
use twilight_model::channel::message::Component;
use twilight_model::http::interaction::{
    InteractionResponse, InteractionResponseData, InteractionResponseType,
};

use crate::common::{http, register_chat};

fn respond(kind: InteractionResponseType, data: serde_json::Value) -> InteractionResponse {
    InteractionResponse {
        kind,
        data: Some(serde_json::from_value(data).unwrap()),
    }
}

#[tokio::test]
#[should_panic(expected = "has not registered it")]
async fn unregistered_commands_cannot_be_run() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    sim.user(guild.user("alice"))
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "hi")],
            Via::Gateway,
        )
        .await;
}

#[tokio::test]
async fn clicking_a_button_then_updating_the_message() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    let row: Component = serde_json::from_value(serde_json::json!({"type": 1, "components": [
        {"type": 2, "style": 1, "label": "Helpful", "custom_id": "feedback:up"},
        {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com/docs"},
    ]}))
    .unwrap();
    let msg = client
        .create_message(guild.channel("general"))
        .content("Was this helpful?")
        .components(&[row])
        .await
        .unwrap()
        .model()
        .await
        .unwrap();

    let click = sim
        .user(guild.user("alice"))
        .click_button(msg.id, "feedback:up", Via::Gateway)
        .await;
    let payload = sim.interaction(click.id()).unwrap().payload;
    assert_eq!(payload.message.as_ref().map(|m| m.id), Some(msg.id));
    let Some(InteractionData::MessageComponent(data)) = payload.data else {
        panic!("component data");
    };
    assert_eq!(data.custom_id, "feedback:up");

    client
        .interaction(sim.application_id())
        .create_response(
            click.id(),
            click.token(),
            &respond(
                InteractionResponseType::UpdateMessage,
                serde_json::json!({"content": "Thanks for the feedback!", "components": []}),
            ),
        )
        .await
        .unwrap();
    let updated = sim
        .wait_message_in(guild.channel("general"), |m| {
            m.content.starts_with("Thanks")
        })
        .await;
    assert_eq!(updated.id, msg.id);
    assert!(updated.components.is_empty());
    assert_eq!(click.original().map(|m| m.id), Some(msg.id));
    sim.assert_no_violations();
}

#[tokio::test]
async fn modal_opened_then_submitted() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let alice = sim.user(guild.user("alice"));
    let cmd = alice
        .run_slash_command(
            guild.channel("general"),
            "chat",
            [("prompt", "report")],
            Via::Gateway,
        )
        .await;
    let modal = respond(
        InteractionResponseType::Modal,
        serde_json::json!({
            "custom_id": "report",
            "title": "Report a problem",
            "components": [{"type": 1, "components": [
                {"type": 4, "custom_id": "details", "style": 2, "label": "Details", "required": true}
            ]}],
        }),
    );
    let ic = client.interaction(sim.application_id());
    ic.create_response(cmd.id(), cmd.token(), &modal)
        .await
        .unwrap();
    assert_eq!(
        cmd.wait_modal().await.title.as_deref(),
        Some("Report a problem")
    );

    let submit = alice
        .submit_modal("report", &[("details", "It broke")], Via::Gateway)
        .await;
    let payload = sim.interaction(submit.id()).unwrap().payload;
    let Some(InteractionData::ModalSubmit(data)) = payload.data else {
        panic!("modal data");
    };
    assert_eq!(data.custom_id, "report");
    let ModalInteractionComponent::ActionRow(row) = &data.components[0] else {
        panic!("action row");
    };
    let ModalInteractionComponent::TextInput(input) = &row.components[0] else {
        panic!("text input");
    };
    assert_eq!(
        (input.custom_id.as_str(), input.value.as_str()),
        ("details", "It broke")
    );

    ic.create_response(
        submit.id(),
        submit.token(),
        &respond(
            InteractionResponseType::ChannelMessageWithSource,
            serde_json::json!({"content": "Report filed"}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(submit.wait_original(|_| true).await.content, "Report filed");
    sim.assert_no_violations();
}

#[tokio::test]
async fn dm_interactions_carry_the_user_not_a_member() {
    let sim = DiscordSim::start().await;
    let client = http(&sim);
    register_chat(&sim, &client).await;
    let carol = sim.create_user("carol");
    let dm = sim.dm_channel(carol);
    let handle = sim
        .user(carol)
        .run_slash_command(dm, "chat", [("prompt", "hi")], Via::Gateway)
        .await;
    let payload = sim.interaction(handle.id()).unwrap().payload;
    assert!(payload.member.is_none());
    assert_eq!(payload.user.map(|u| u.id), Some(carol));
    assert_eq!(payload.guild_id, None);
    assert_eq!(payload.context, Some(InteractionContextType::BotDm));
    // The bot can answer in the DM like anywhere else.
    client
        .interaction(sim.application_id())
        .create_response(
            handle.id(),
            handle.token(),
            &InteractionResponse {
                kind: InteractionResponseType::ChannelMessageWithSource,
                data: Some(InteractionResponseData {
                    content: Some("hello carol".into()),
                    ..Default::default()
                }),
            },
        )
        .await
        .unwrap();
    assert_eq!(sim.messages_in(dm)[0].content, "hello carol");
}

#[tokio::test]
async fn permissions_gate_commands_like_discord() {
    let sim = DiscordSim::start().await;
    let guild = sim
        .guild("G")
        .role("Staff", twilight_model::guild::Permissions::MANAGE_GUILD)
        .member("alice")
        .member_with_roles("bob", &["Staff"])
        .text_channel("general")
        .create();
    let client = http(&sim);
    let admin: twilight_model::application::command::Command =
        serde_json::from_value(serde_json::json!({
            "name": "config", "description": "Configure", "type": 1,
            "default_member_permissions": "32", "version": "1",
        }))
        .unwrap();
    client
        .interaction(sim.application_id())
        .set_global_commands(&[admin])
        .await
        .unwrap();
    let none: [(&str, &str); 0] = [];
    sim.user(guild.user("bob"))
        .run_slash_command(guild.channel("general"), "config", none, Via::Gateway)
        .await;
    let alice = sim.user(guild.user("alice"));
    let denied = tokio::spawn(async move {
        alice
            .run_slash_command(guild.channel("general"), "config", none, Via::Gateway)
            .await;
    })
    .await;
    let panic = denied.unwrap_err().into_panic();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("cannot see /config"), "{text}");
}

#[tokio::test]
async fn waiting_times_out_with_a_report_instead_of_hanging() {
    let sim = DiscordSim::builder()
        .default_timeout(Duration::from_millis(200))
        .start()
        .await;
    let guild = sim
        .guild("G")
        .member("alice")
        .text_channel("general")
        .create();
    let client = http(&sim);
    client
        .create_message(guild.channel("general"))
        .content("unrelated")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let report = sim
        .try_wait_for(Duration::from_millis(200), |w| {
            w.messages.values().find(|m| m.content == "never").cloned()
        })
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(report.contains("timed out"), "{report}");
    assert!(
        report.contains("POST /channels/"),
        "recent requests are listed: {report}"
    );
    assert!(
        report.contains("unrelated"),
        "recent messages are listed: {report}"
    );
}

#[tokio::test]
#[should_panic(expected = "already locked on this thread")]
async fn calling_the_sim_inside_a_world_closure_fails_loudly_instead_of_deadlocking() {
    let sim = DiscordSim::start().await;
    sim.world(|_| sim.bot_user_id());
}
