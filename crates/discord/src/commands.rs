//! The slash commands, and their registration when (and only when) their definition changed.

use crate::{Discord, DiscordError};
use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::oauth::ApplicationIntegrationType;
use twilight_util::builder::command::{CommandBuilder, StringBuilder};

/// The texts of the commands, from the runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTexts {
    pub chat_description: String,
    pub chat_option_description: String,
    pub private_description: String,
    pub clear_description: String,
    pub prompt_max_length: u16,
}

pub const CHAT: &str = "chat";
pub const PRIVATE: &str = "private";
pub const CLEAR: &str = "clear";
pub const PROMPT: &str = "prompt";

/// The command definitions: usable in guilds, in DMs with the bot, and as a user-installed app.
pub fn definitions(texts: &CommandTexts) -> Vec<Command> {
    let contexts = [
        InteractionContextType::Guild,
        InteractionContextType::BotDm,
        InteractionContextType::PrivateChannel,
    ];
    let installs = [
        ApplicationIntegrationType::GuildInstall,
        ApplicationIntegrationType::UserInstall,
    ];
    let prompt = |description: &str| {
        StringBuilder::new(PROMPT, description)
            .required(true)
            .min_length(1)
            .max_length(texts.prompt_max_length)
    };
    vec![
        CommandBuilder::new(CHAT, &texts.chat_description, CommandType::ChatInput)
            .option(prompt(&texts.chat_option_description))
            .contexts(contexts)
            .integration_types(installs)
            .build(),
        CommandBuilder::new(PRIVATE, &texts.private_description, CommandType::ChatInput)
            .option(prompt(&texts.chat_option_description))
            .contexts(contexts)
            .integration_types(installs)
            .build(),
        CommandBuilder::new(CLEAR, &texts.clear_description, CommandType::ChatInput)
            .contexts(contexts)
            .integration_types(installs)
            .build(),
    ]
    .into_iter()
    .chain(crate::desk::commands::definitions())
    .collect()
}

/// What Discord needs to know of a command, to compare the registered ones with ours.
fn signature(c: &Command) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "description": c.description,
        "type": c.kind,
        "options": c.options,
        "contexts": c.contexts,
        "integration_types": c.integration_types,
        "default_member_permissions": c.default_member_permissions,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Unchanged,
    Registered,
}

impl Discord {
    /// Registers the commands (in the configured guild, else globally) if what Discord has differs.
    pub async fn register_commands(
        &self,
        texts: &CommandTexts,
        force: bool,
    ) -> Result<Registration, DiscordError> {
        let wanted = definitions(texts);
        let interaction = self.http.interaction(self.application_id);
        let existing = match self.guild_id {
            Some(guild) => interaction.guild_commands(guild).await,
            None => interaction.global_commands().await,
        }
        .map_err(|e| DiscordError::from_http("read the registered commands", e))?
        .models()
        .await
        .map_err(|e| DiscordError::Decode(e.to_string()))?;
        let mut have: Vec<_> = existing.iter().map(signature).collect();
        let mut want: Vec<_> = wanted.iter().map(signature).collect();
        let key = |v: &serde_json::Value| v["name"].as_str().unwrap_or_default().to_string();
        have.sort_by_key(key);
        want.sort_by_key(key);
        if have == want && !force {
            return Ok(Registration::Unchanged);
        }
        match self.guild_id {
            Some(guild) => interaction.set_guild_commands(guild, &wanted).await,
            None => interaction.set_global_commands(&wanted).await,
        }
        .map_err(|e| DiscordError::from_http("register the slash commands", e))?;
        tracing::info!(
            scope = if self.guild_id.is_some() {
                "guild"
            } else {
                "global"
            },
            "slash commands registered"
        );
        Ok(Registration::Registered)
    }
}
