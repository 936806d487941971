//! Editing and adding messages of an interaction's answer.
//!
//! Every message goes through the client, whose default `allowed_mentions` pings nobody. An edit that
//! arrives before Discord processed the acknowledgement gets 404; it is retried briefly.

use crate::{Discord, DiscordError};
use std::time::Duration;
use twilight_model::channel::message::MessageFlags;

const UNKNOWN_TARGET_RETRIES: u32 = 4;

impl Discord {
    /// Replaces the original response's content, with the feedback buttons of `feedback` (a command id and
    /// its counts) when given. Returns the message id.
    pub async fn edit_original(
        &self,
        token: &str,
        content: &str,
        feedback: Option<(i64, &crate::feedback::Counts)>,
    ) -> Result<u64, DiscordError> {
        let buttons = feedback.map(|(id, counts)| crate::feedback::buttons(id, counts));
        let components = buttons.as_deref();
        let mut attempt = 0;
        loop {
            let result = self
                .http
                .interaction(self.application_id)
                .update_response(token)
                .content(Some(content))
                .components(components)
                .await;
            match result {
                Ok(response) => {
                    let message = response
                        .model()
                        .await
                        .map_err(|e| DiscordError::Decode(e.to_string()))?;
                    return Ok(message.id.get());
                }
                Err(e) => {
                    let err = DiscordError::from_http("edit the answer", e);
                    attempt += 1;
                    if !err.is_unknown_target() || attempt > UNKNOWN_TARGET_RETRIES {
                        return Err(err);
                    }
                    tokio::time::sleep(Duration::from_millis(150 * u64::from(attempt))).await;
                }
            }
        }
    }

    /// Adds a follow-up message to the answer. Returns its id.
    pub async fn followup(
        &self,
        token: &str,
        content: &str,
        ephemeral: bool,
        feedback: Option<(i64, &crate::feedback::Counts)>,
    ) -> Result<u64, DiscordError> {
        let buttons = feedback
            .map(|(id, counts)| crate::feedback::buttons(id, counts))
            .unwrap_or_default();
        let client = self.http.interaction(self.application_id);
        let mut request = client
            .create_followup(token)
            .content(content)
            .components(&buttons);
        if ephemeral {
            request = request.flags(MessageFlags::EPHEMERAL);
        }
        let message = request
            .await
            .map_err(|e| DiscordError::from_http("send a follow-up message", e))?
            .model()
            .await
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        Ok(message.id.get())
    }

    /// Posts a message in a channel (notifications). Returns its id.
    pub async fn post(&self, channel_id: u64, content: &str) -> Result<u64, DiscordError> {
        let channel = twilight_model::id::Id::new_checked(channel_id)
            .ok_or_else(|| DiscordError::Config("channel id 0".into()))?;
        let message = self
            .http
            .create_message(channel)
            .content(content)
            .await
            .map_err(|e| DiscordError::from_http("post a message", e))?
            .model()
            .await
            .map_err(|e| DiscordError::Decode(e.to_string()))?;
        Ok(message.id.get())
    }
}
