//! The support desk's Discord side: its commands, its buttons, reading its interactions into
//! [`DeskRequest`]s, the replies the application gives ([`Reply`]), and the REST calls tickets need
//! (forum posts, thread members, archiving, typing, files).

pub mod commands;
pub mod components;
mod rest;

pub use components::{Controls, DeskButton, PagedList};
pub use rest::{ForumTag, MAX_DOWNLOAD, PostedMessage, allowed_mentions};

use twilight_model::application::interaction::Interaction;
use twilight_model::application::interaction::application_command::{
    CommandData, CommandOptionValue,
};
use twilight_model::guild::Permissions;

/// What the application may know of the member who used a desk command or button.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Member {
    pub roles: Vec<u64>,
    /// Administrator or Manage Server in the channel (from the interaction's computed permissions).
    pub manages_guild: bool,
}

impl Member {
    /// Staff: has the guild's staff role, or manages the server.
    pub fn is_staff(&self, staff_role: Option<u64>) -> bool {
        self.manages_guild || staff_role.is_some_and(|r| self.roles.contains(&r))
    }
}

/// A file attached to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub url: String,
    pub size: u64,
}

/// A support-desk slash command with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskCommand {
    Setup {
        forum_channel: u64,
        staff_role: u64,
        log_channel: Option<u64>,
        instructions: Option<String>,
        auto_close_hours: Option<u64>,
        /// `None`: as before (on for a server's first `/setup`).
        ai_replies: Option<bool>,
        training: Option<bool>,
        /// `None`: as before (no limit at first).
        member_replies_per_6h: Option<u32>,
        /// Seconds; `None`: as before (none at first).
        member_reply_interval: Option<u32>,
    },
    TicketPanel {
        title: String,
        description: String,
        categories: String,
    },
    CloseTicket {
        reason: Option<String>,
    },
    TicketInfo,
    /// Staff: add a member to the ticket's thread.
    TicketAdd {
        member: u64,
    },
    /// Staff: remove a member from the ticket's thread.
    TicketRemove {
        member: u64,
    },
    Train {
        question: String,
        answer: String,
        category: Option<String>,
        tags: Option<String>,
    },
    TrainingList {
        category: Option<String>,
        page: u32,
    },
    TrainingDelete {
        id: i64,
    },
    TrainingStats,
    KbCreate {
        name: String,
        description: Option<String>,
    },
    KbAdd {
        kb: String,
        title: String,
        content: String,
        tags: Option<String>,
    },
    KbList,
    KbView {
        kb: String,
        page: u32,
    },
    KbSearch {
        kb: String,
        query: String,
    },
    KbExport {
        kb: String,
    },
    KbImport {
        kb: String,
        file: Attachment,
    },
    KbDelete {
        kb: String,
    },
    Status,
    TestAi {
        prompt: String,
    },
    ExportTraining,
    ImportTraining {
        file: Attachment,
    },
}

impl DeskCommand {
    /// Commands any member may use; the rest need staff (checked again by the application).
    pub fn for_members(&self) -> bool {
        matches!(
            self,
            DeskCommand::CloseTicket { .. } | DeskCommand::TicketInfo
        )
    }
}

/// A support-desk interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskRequest {
    Command(DeskCommand),
    Button(DeskButton),
}

/// The member of a guild interaction.
pub(crate) fn member(interaction: &Interaction) -> Option<Member> {
    let m = interaction.member.as_ref()?;
    let permissions = m.permissions.unwrap_or(Permissions::empty());
    Some(Member {
        roles: m.roles.iter().map(|r| r.get()).collect(),
        manages_guild: permissions.contains(Permissions::ADMINISTRATOR)
            || permissions.contains(Permissions::MANAGE_GUILD),
    })
}

/// Options of a command, by name.
struct Options<'a>(&'a CommandData);

impl Options<'_> {
    fn value(&self, name: &str) -> Option<&CommandOptionValue> {
        self.0
            .options
            .iter()
            .find(|o| o.name == name)
            .map(|o| &o.value)
    }

    fn string(&self, name: &str) -> Option<String> {
        match self.value(name)? {
            CommandOptionValue::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    fn required(&self, name: &str) -> Result<String, String> {
        self.string(name)
            .ok_or_else(|| format!("missing option {name}"))
    }

    fn boolean(&self, name: &str) -> Option<bool> {
        match self.value(name)? {
            CommandOptionValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    fn integer(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            CommandOptionValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    fn page(&self) -> u32 {
        self.integer("page")
            .and_then(|p| u32::try_from(p).ok())
            .unwrap_or(1)
            .max(1)
    }

    fn channel(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            CommandOptionValue::Channel(c) => Some(c.get()),
            _ => None,
        }
    }

    fn user(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            CommandOptionValue::User(u) => Some(u.get()),
            _ => None,
        }
    }

    fn role(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            CommandOptionValue::Role(r) => Some(r.get()),
            _ => None,
        }
    }

    fn attachment(&self, name: &str) -> Result<Attachment, String> {
        let Some(CommandOptionValue::Attachment(id)) = self.value(name) else {
            return Err(format!("missing option {name}"));
        };
        let a = self
            .0
            .resolved
            .as_ref()
            .and_then(|r| r.attachments.get(id))
            .ok_or_else(|| format!("the attachment of option {name} was not sent"))?;
        Ok(Attachment {
            filename: a.filename.clone(),
            url: a.url.clone(),
            size: a.size,
        })
    }
}

/// Reads a support-desk command; `None` when `data` is not one. `Err` says what is missing (Discord
/// enforces required options, so this means a malformed interaction).
pub(crate) fn command(data: &CommandData) -> Option<Result<DeskCommand, String>> {
    use commands::*;
    if !ALL.contains(&data.name.as_str()) {
        return None;
    }
    let o = Options(data);
    let parsed = (|| -> Result<DeskCommand, String> {
        Ok(match data.name.as_str() {
            SETUP => DeskCommand::Setup {
                forum_channel: o.channel("forum_channel").ok_or("missing forum_channel")?,
                staff_role: o.role("staff_role").ok_or("missing staff_role")?,
                log_channel: o.channel("log_channel"),
                instructions: o.string("instructions"),
                auto_close_hours: o.integer("auto_close_hours").map(|h| h.max(0) as u64),
                ai_replies: o.boolean("ai_replies"),
                training: o.boolean("training"),
                member_replies_per_6h: o
                    .integer("member_replies_per_6h")
                    .map(|n| n.clamp(0, 1000) as u32),
                member_reply_interval: o
                    .integer("member_reply_interval")
                    .map(|n| n.clamp(0, 86_400) as u32),
            },
            TICKET_PANEL => DeskCommand::TicketPanel {
                title: o.required("title")?,
                description: o.required("description")?,
                categories: o.required("categories")?,
            },
            CLOSE_TICKET => DeskCommand::CloseTicket {
                reason: o.string("reason"),
            },
            TICKET_INFO => DeskCommand::TicketInfo,
            TICKET_ADD => DeskCommand::TicketAdd {
                member: o.user("member").ok_or("missing member")?,
            },
            TICKET_REMOVE => DeskCommand::TicketRemove {
                member: o.user("member").ok_or("missing member")?,
            },
            TRAIN => DeskCommand::Train {
                question: o.required("question")?,
                answer: o.required("answer")?,
                category: o.string("category"),
                tags: o.string("tags"),
            },
            TRAINING_LIST => DeskCommand::TrainingList {
                category: o.string("category"),
                page: o.page(),
            },
            TRAINING_DELETE => DeskCommand::TrainingDelete {
                id: o.integer("id").ok_or("missing id")?,
            },
            TRAINING_STATS => DeskCommand::TrainingStats,
            KB_CREATE => DeskCommand::KbCreate {
                name: o.required("name")?,
                description: o.string("description"),
            },
            KB_ADD => DeskCommand::KbAdd {
                kb: o.required("kb")?,
                title: o.required("title")?,
                content: o.required("content")?,
                tags: o.string("tags"),
            },
            KB_LIST => DeskCommand::KbList,
            KB_VIEW => DeskCommand::KbView {
                kb: o.required("kb")?,
                page: o.page(),
            },
            KB_SEARCH => DeskCommand::KbSearch {
                kb: o.required("kb")?,
                query: o.required("query")?,
            },
            KB_EXPORT => DeskCommand::KbExport {
                kb: o.required("kb")?,
            },
            KB_IMPORT => DeskCommand::KbImport {
                kb: o.required("kb")?,
                file: o.attachment("file")?,
            },
            KB_DELETE => DeskCommand::KbDelete {
                kb: o.required("kb")?,
            },
            STATUS => DeskCommand::Status,
            TEST_AI => DeskCommand::TestAi {
                prompt: o.required("prompt")?,
            },
            EXPORT_TRAINING => DeskCommand::ExportTraining,
            IMPORT_TRAINING => DeskCommand::ImportTraining {
                file: o.attachment("file")?,
            },
            other => unreachable!("/{other} is in commands::ALL but not read here"),
        })
    })();
    Some(parsed)
}

/// A file sent with a reply.
#[derive(Clone, PartialEq, Eq)]
pub struct File {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "File({:?}, {} bytes)", self.name, self.bytes.len())
    }
}

/// A message the support desk sends: text, buttons, maybe a file. Never pings anyone unless
/// [`Reply::ping`] says whom.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reply {
    pub content: String,
    /// Only the user who used the command sees it (interaction replies only).
    pub ephemeral: bool,
    pub controls: Controls,
    pub file: Option<File>,
    pub ping: Ping,
}

/// Who a desk message may ping. Everything else in it (including @everyone typed by a user) pings nobody.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Ping {
    #[default]
    Nobody,
    User(u64),
    Role(u64),
}

impl Reply {
    pub fn text(content: impl Into<String>) -> Reply {
        Reply {
            content: content.into(),
            ..Reply::default()
        }
    }

    pub fn private(content: impl Into<String>) -> Reply {
        Reply {
            content: content.into(),
            ephemeral: true,
            ..Reply::default()
        }
    }

    pub fn with_controls(mut self, controls: Controls) -> Reply {
        self.controls = controls;
        self
    }

    pub fn with_file(mut self, name: impl Into<String>, bytes: Vec<u8>) -> Reply {
        self.file = Some(File {
            name: name.into(),
            bytes,
        });
        self
    }

    pub fn pinging(mut self, ping: Ping) -> Reply {
        self.ping = ping;
        self
    }
}
