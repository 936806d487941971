//! The interaction dispatcher: every interaction and message the Discord side hands the application
//! goes to the chat assistant (`/chat`, `/private`, `/clear`, feedback) or to the support desk.

use crate::acks::WAIT_BUDGET;
use crate::chat::Chat;
use crate::chat::reply::message;
use chrono::Utc;
use disconcierge_core::model::{DiscordMessage, FeedbackKind};
use disconcierge_discord::router::{Ack, Bot, Incoming, SeenMessage};

#[async_trait::async_trait]
impl Bot for Chat {
    async fn on_interaction(&self, incoming: Incoming) -> Ack {
        // A refusal is decided before counting: refusals are instant, and counting them would make the
        // completion rate look far better than the rate at which commands are recorded.
        let refuse = matches!(incoming, Incoming::Chat { .. }) && self.acks.behind();
        let _acknowledging = (!refuse).then(|| self.acks.start());
        match incoming {
            Incoming::Chat { invocation, .. } if refuse => {
                let total = self
                    .acks
                    .shed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                tracing::warn!(
                    interaction = invocation.interaction_id,
                    shed_so_far = total,
                    "refused a chat command: acknowledgements are falling behind (its own would take over {WAIT_BUDGET:?})"
                );
                let config = &self.runtime.current().config;
                message(&config.discord_queue_full_message)
            }
            Incoming::Chat {
                invocation,
                prompt,
                private,
            } => match self.admissions.admit(&invocation, prompt, private).await {
                Ok(ack) => ack,
                Err(e) => {
                    tracing::error!(error = %e, interaction = invocation.interaction_id, "could not record a chat command");
                    Ack::Message {
                        content: self.runtime.current().config.discord_error_message.clone(),
                        ephemeral: true,
                    }
                }
            },
            Incoming::Clear { invocation } => match self.clear(&invocation).await {
                Ok(ack) => ack,
                Err(e) => {
                    tracing::error!(error = %e, "could not start a new conversation");
                    message(&self.runtime.current().config.discord_error_message)
                }
            },
            Incoming::FeedbackButton {
                invocation,
                command_id,
                kind,
            } => self.feedback(&invocation, command_id, kind, None).await,
            Incoming::FeedbackText {
                invocation,
                command_id,
                text,
            } => {
                self.feedback(&invocation, command_id, FeedbackKind::Other, Some(text))
                    .await
            }
            Incoming::Desk {
                invocation,
                member,
                request,
            } => self.desk.on_request(invocation, member, request).await,
            Incoming::Unsupported { what, .. } => {
                tracing::warn!(what, "unsupported interaction");
                Ack::Nothing
            }
        }
    }

    fn received(&self, log: disconcierge_core::model::InteractionLog) {
        self.interaction_log.record(log);
    }

    fn message(&self, message: SeenMessage) {
        let store = self.store.clone();
        tokio::spawn(async move {
            let chat_command_id = match message.replied_to {
                Some(id) => store.chat_command_by_message(id).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "could not look up the answer a message replies to");
                    None
                }),
                None => None,
            };
            let record = DiscordMessage {
                message_id: message.message_id,
                channel_id: message.channel_id,
                guild_id: message.guild_id,
                user_id: Some(message.author.id),
                chat_command_id,
                content: message.content,
                payload: Some(serde_json::json!({
                    "noticed": message.noticed.as_str(),
                    "message": message.payload,
                })),
                created_at: Utc::now(),
            };
            if let Err(e) = store.insert_discord_message(&record).await {
                tracing::warn!(error = %e, message = record.message_id, "could not store a message about the bot");
            }
        });
    }

    fn guild_message(&self, message: disconcierge_discord::router::GuildMessage) {
        self.desk.guild_message(message);
    }

    async fn acknowledged(&self, interaction_id: u64) {
        self.queuer.acknowledged(interaction_id);
    }
}
