//! `/clear`: the user's next question starts a new conversation.

use super::Chat;
use super::reply::message;
use chrono::Utc;
use disconcierge_discord::router::{Ack, Invocation};
use disconcierge_store::StoreError;

impl Chat {
    /// `/clear`: the user's next `/chat` starts a new conversation. The OpenAI conversation is forgotten
    /// (a new one is created on the next question); for providers whose history disconcierge keeps, the
    /// recorded clear marks where the history starts.
    pub(crate) async fn clear(&self, inv: &Invocation) -> Result<Ack, StoreError> {
        let current = self.runtime.current();
        let config = &current.config;
        let now = Utc::now();
        let user = self
            .store
            .upsert_user(
                inv.user.id,
                &inv.user.username,
                inv.user.global_name.as_deref(),
            )
            .await?;
        if user.ignored || inv.user.bot {
            return Ok(super::reply::ignored(config));
        }
        if let Some(last) = self.store.last_clear_command(user.discord_id).await? {
            let cooldown =
                chrono::TimeDelta::from_std(config.clear_command_cooldown).unwrap_or_default();
            if now < last + cooldown {
                return Ok(message(&format!(
                    "You just started a new conversation. You can do it again {}.",
                    disconcierge_discord::markup::relative_time(last + cooldown)
                )));
            }
        }
        self.store
            .insert_clear_command(&disconcierge_core::model::ClearCommand {
                interaction_id: inv.interaction_id,
                user_id: user.discord_id,
                guild_id: inv.guild_id,
                channel_id: inv.channel_id,
                created_at: now,
            })
            .await?;
        self.store
            .set_user_conversation(user.discord_id, None)
            .await?;
        Ok(message(
            "Done: your next question starts a new conversation.",
        ))
    }
}
