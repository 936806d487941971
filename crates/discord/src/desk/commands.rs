//! The support desk's slash commands. They exist only in guilds (tickets, training data and knowledge
//! bases belong to a guild). `/setup` and `/ticket_panel` are shown to server managers, the other staff
//! commands to members who can manage messages (`default_member_permissions`; a server can change both
//! under Integrations), and every staff command is checked again when used: staff role from `/setup`, or
//! Manage Server.

use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::InteractionContextType;
use twilight_model::channel::ChannelType;
use twilight_model::guild::Permissions;
use twilight_model::oauth::ApplicationIntegrationType;
use twilight_util::builder::command::{
    AttachmentBuilder, BooleanBuilder, ChannelBuilder, CommandBuilder, IntegerBuilder, RoleBuilder,
    StringBuilder, UserBuilder,
};

pub const SETUP: &str = "setup";
pub const TICKET_PANEL: &str = "ticket_panel";
pub const CLOSE_TICKET: &str = "close_ticket";
pub const TICKET_INFO: &str = "ticket_info";
pub const TICKET_ADD: &str = "ticket_add";
pub const TICKET_REMOVE: &str = "ticket_remove";
pub const TRAIN: &str = "train";
pub const TRAINING_LIST: &str = "training_list";
pub const TRAINING_DELETE: &str = "training_delete";
pub const TRAINING_STATS: &str = "training_stats";
pub const KB_CREATE: &str = "kb_create";
pub const KB_ADD: &str = "kb_add";
pub const KB_LIST: &str = "kb_list";
pub const KB_VIEW: &str = "kb_view";
pub const KB_SEARCH: &str = "kb_search";
pub const KB_EXPORT: &str = "kb_export";
pub const KB_IMPORT: &str = "kb_import";
pub const KB_DELETE: &str = "kb_delete";
pub const STATUS: &str = "status";
pub const TEST_AI: &str = "test_ai";
pub const EXPORT_TRAINING: &str = "export_training";
pub const IMPORT_TRAINING: &str = "import_training";

/// Every support-desk command name.
pub const ALL: &[&str] = &[
    SETUP,
    TICKET_PANEL,
    CLOSE_TICKET,
    TICKET_INFO,
    TICKET_ADD,
    TICKET_REMOVE,
    TRAIN,
    TRAINING_LIST,
    TRAINING_DELETE,
    TRAINING_STATS,
    KB_CREATE,
    KB_ADD,
    KB_LIST,
    KB_VIEW,
    KB_SEARCH,
    KB_EXPORT,
    KB_IMPORT,
    KB_DELETE,
    STATUS,
    TEST_AI,
    EXPORT_TRAINING,
    IMPORT_TRAINING,
];

/// Setting the desk up: server managers only by default.
fn admin(name: &str, description: &str) -> CommandBuilder {
    guild(name, description).default_member_permissions(Permissions::MANAGE_GUILD)
}

/// Staff commands: shown by default to members who can manage messages (moderators, typically the
/// staff), and checked again when used (staff role from `/setup`, or Manage Server).
fn staff(name: &str, description: &str) -> CommandBuilder {
    guild(name, description).default_member_permissions(Permissions::MANAGE_MESSAGES)
}

fn guild(name: &str, description: &str) -> CommandBuilder {
    CommandBuilder::new(name, description, CommandType::ChatInput)
        .contexts([InteractionContextType::Guild])
        .integration_types([ApplicationIntegrationType::GuildInstall])
}

fn text(name: &str, description: &str, required: bool, max: u16) -> StringBuilder {
    StringBuilder::new(name, description)
        .required(required)
        .min_length(1)
        .max_length(max)
}

fn kb_option() -> StringBuilder {
    text("kb", "The knowledge base's name", true, 100)
}

fn page_option() -> IntegerBuilder {
    IntegerBuilder::new("page", "Page number (from 1)")
        .min_value(1)
        .max_value(100_000)
}

/// The support desk's command definitions.
pub fn definitions() -> Vec<Command> {
    vec![
        admin(SETUP, "Set up support tickets in this server")
            .option(
                ChannelBuilder::new("forum_channel", "The forum where tickets are opened")
                    .required(true)
                    .channel_types([ChannelType::GuildForum]),
            )
            .option(RoleBuilder::new("staff_role", "The role that handles tickets").required(true))
            .option(
                ChannelBuilder::new("log_channel", "Where ticket events are posted")
                    .channel_types([ChannelType::GuildText]),
            )
            .option(text(
                "instructions",
                "Extra instructions for the AI in this server's tickets",
                false,
                4000,
            ))
            .option(
                IntegerBuilder::new(
                    "auto_close_hours",
                    "Close tickets idle for this many hours (0: never)",
                )
                .min_value(0)
                .max_value(8760),
            )
            .option(BooleanBuilder::new(
                "ai_replies",
                "Whether the bot replies in tickets (unchanged when left out; on at first)",
            ))
            .option(BooleanBuilder::new(
                "training",
                "Whether trained answers are added and used (unchanged when left out; on at first)",
            ))
            .option(
                IntegerBuilder::new(
                    "member_replies_per_6h",
                    "AI replies to one member in 6 hours, staff excepted (0: no limit; unchanged when left out)",
                )
                .min_value(0)
                .max_value(1000),
            )
            .option(
                IntegerBuilder::new(
                    "member_reply_interval",
                    "Seconds between two AI replies to one member (0: none; unchanged when left out)",
                )
                .min_value(0)
                .max_value(86_400),
            )
            .build(),
        admin(
            TICKET_PANEL,
            "Post a panel with one button per ticket category",
        )
        .option(text("title", "The panel's title", true, 200))
        .option(text("description", "What the panel says", true, 2000))
        .option(text(
            "categories",
            "Categories, separated by commas (at most 25)",
            true,
            2000,
        ))
        .build(),
        guild(CLOSE_TICKET, "Close this ticket")
            .option(text("reason", "Why it is closed", false, 1000))
            .build(),
        guild(
            TICKET_INFO,
            "Show this ticket's status (staff also get the transcript)",
        )
        .build(),
        staff(TICKET_ADD, "Add a member to this ticket")
            .option(UserBuilder::new("member", "Who to add").required(true))
            .build(),
        staff(TICKET_REMOVE, "Remove a member from this ticket")
            .option(UserBuilder::new("member", "Who to remove").required(true))
            .build(),
        staff(TRAIN, "Teach an answer to a question")
            .option(text("question", "The question", true, 1000))
            .option(text("answer", "The answer", true, 4000))
            .option(text("category", "A category", false, 100))
            .option(text("tags", "Tags, separated by commas", false, 500))
            .build(),
        staff(TRAINING_LIST, "List trained answers")
            .option(text("category", "Only this category", false, 100))
            .option(page_option())
            .build(),
        staff(TRAINING_DELETE, "Delete a trained answer")
            .option(
                IntegerBuilder::new("id", "The entry's id (see /training_list)")
                    .required(true)
                    .min_value(1),
            )
            .build(),
        staff(
            TRAINING_STATS,
            "Trained answers: counts, most used, hit rate",
        )
        .build(),
        staff(KB_CREATE, "Create a knowledge base")
            .option(text("name", "Its name", true, 100))
            .option(text("description", "What it holds", false, 500))
            .build(),
        staff(KB_ADD, "Add an entry to a knowledge base")
            .option(kb_option())
            .option(text("title", "The entry's title", true, 200))
            .option(text("content", "The entry's text", true, 4000))
            .option(text("tags", "Tags, separated by commas", false, 500))
            .build(),
        staff(KB_LIST, "List this server's knowledge bases").build(),
        staff(KB_VIEW, "Show a knowledge base's entries")
            .option(kb_option())
            .option(page_option())
            .build(),
        staff(KB_SEARCH, "Search a knowledge base")
            .option(kb_option())
            .option(text("query", "What to look for", true, 500))
            .build(),
        staff(KB_EXPORT, "Export a knowledge base as a JSON file")
            .option(kb_option())
            .build(),
        staff(
            KB_IMPORT,
            "Import entries into a knowledge base from a JSON file",
        )
        .option(kb_option())
        .option(AttachmentBuilder::new("file", "A file from /kb_export").required(true))
        .build(),
        staff(KB_DELETE, "Delete a knowledge base and all its entries")
            .option(kb_option())
            .build(),
        staff(
            STATUS,
            "Health of the gateway, database and AI backend, and the queue",
        )
        .build(),
        staff(
            TEST_AI,
            "Ask the AI as a ticket would, and see what it matched",
        )
        .option(text("prompt", "The question", true, 2000))
        .build(),
        staff(EXPORT_TRAINING, "Export the trained answers as a JSON file").build(),
        staff(IMPORT_TRAINING, "Import trained answers from a JSON file")
            .option(AttachmentBuilder::new("file", "A file from /export_training").required(true))
            .build(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_defined_once_valid_and_guild_only() {
        let defs = definitions();
        let names: Vec<&str> = defs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ALL);
        for c in &defs {
            twilight_validate::command::command(c).unwrap_or_else(|e| panic!("/{}: {e}", c.name));
            assert_eq!(
                c.contexts.as_deref(),
                Some(&[InteractionContextType::Guild][..])
            );
        }
        let open: Vec<&str> = defs
            .iter()
            .filter(|c| c.default_member_permissions.is_none())
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            open,
            vec![CLOSE_TICKET, TICKET_INFO],
            "only these are for members"
        );
    }
}
