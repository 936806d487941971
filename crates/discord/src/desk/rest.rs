//! The REST calls of the support desk. Every message goes out with explicit `allowed_mentions`: nobody,
//! or exactly the one user or role the [`Ping`] names; messages are sent again after Discord's passing
//! failures as [`crate::respond`] explains.

use super::{Controls, Ping, Reply};
use crate::respond::{Retry, message_of, retrying};
use crate::{Discord, DiscordError};
use disconcierge_core::secret::InteractionToken;
use std::future::IntoFuture as _;
use twilight_model::channel::message::{AllowedMentions, MessageFlags};
use twilight_model::http::attachment::Attachment as Upload;
use twilight_model::id::Id;

/// A tag of a forum channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForumTag {
    pub id: u64,
    pub name: String,
}

/// A message the bot posted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostedMessage {
    pub channel_id: u64,
    pub message_id: u64,
}

fn id<T>(v: u64, what: &str) -> Result<Id<T>, DiscordError> {
    Id::new_checked(v).ok_or_else(|| DiscordError::Config(format!("{what} id 0")))
}

fn decode(e: impl std::fmt::Display) -> DiscordError {
    DiscordError::Decode(e.to_string())
}

/// The `allowed_mentions` of a desk message: nobody, or exactly whom `ping` names.
pub fn allowed_mentions(ping: &Ping) -> AllowedMentions {
    match ping {
        Ping::Nobody => AllowedMentions::default(),
        Ping::User(u) => AllowedMentions {
            users: Id::new_checked(*u).into_iter().collect(),
            ..AllowedMentions::default()
        },
        Ping::Role(r) => AllowedMentions {
            roles: Id::new_checked(*r).into_iter().collect(),
            ..AllowedMentions::default()
        },
    }
}

fn uploads(reply: &Reply) -> Vec<Upload> {
    reply
        .file
        .iter()
        .map(|f| Upload::from_bytes(f.name.clone(), f.bytes.clone(), 0))
        .collect()
}

/// Discord refuses more than this in one attachment download we accept (imports are small JSON files).
pub const MAX_DOWNLOAD: u64 = 8 * 1024 * 1024;

impl Discord {
    /// The tags of a forum channel (to tag a ticket with its category).
    pub async fn forum_tags(&self, forum_id: u64) -> Result<Vec<ForumTag>, DiscordError> {
        let channel = self
            .http
            .channel(id(forum_id, "forum")?)
            .await
            .map_err(|e| DiscordError::from_http("read the forum channel", e))?
            .model()
            .await
            .map_err(decode)?;
        Ok(channel
            .available_tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| ForumTag {
                id: t.id.get(),
                name: t.name,
            })
            .collect())
    }

    /// Opens a forum post (a thread) whose first message is `first`. Returns the thread's id, which is
    /// also the first message's.
    pub async fn create_forum_post(
        &self,
        forum_id: u64,
        name: &str,
        tag: Option<u64>,
        first: &Reply,
    ) -> Result<u64, DiscordError> {
        let tags: Vec<_> = tag.and_then(Id::new_checked).into_iter().collect();
        let components = super::components::components(&first.controls);
        let allowed = allowed_mentions(&first.ping);
        let created = self
            .http
            .create_forum_thread(id(forum_id, "forum")?, name)
            .applied_tags(&tags)
            .message()
            .content(&first.content)
            .components(&components)
            .allowed_mentions(Some(&allowed))
            .await
            .map_err(|e| DiscordError::from_http("open a forum post", e))?
            .model()
            .await
            .map_err(decode)?;
        Ok(created.channel.id.get())
    }

    /// Adds a user to a thread.
    pub async fn add_thread_member(
        &self,
        thread_id: u64,
        user_id: u64,
    ) -> Result<(), DiscordError> {
        self.http
            .add_thread_member(id(thread_id, "thread")?, id(user_id, "user")?)
            .await
            .map_err(|e| DiscordError::from_http("add the user to the ticket", e))?;
        Ok(())
    }

    /// Removes a user from a thread.
    pub async fn remove_thread_member(
        &self,
        thread_id: u64,
        user_id: u64,
    ) -> Result<(), DiscordError> {
        self.http
            .remove_thread_member(id(thread_id, "thread")?, id(user_id, "user")?)
            .await
            .map_err(|e| DiscordError::from_http("remove the user from the ticket", e))?;
        Ok(())
    }

    /// Archives and locks a thread (a closed ticket).
    pub async fn close_thread(&self, thread_id: u64) -> Result<(), DiscordError> {
        self.http
            .update_thread(id(thread_id, "thread")?)
            .archived(true)
            .locked(true)
            .await
            .map_err(|e| DiscordError::from_http("archive and lock the ticket", e))?;
        Ok(())
    }

    /// Unarchives and unlocks a thread (a reopened ticket).
    pub async fn reopen_thread(&self, thread_id: u64) -> Result<(), DiscordError> {
        self.http
            .update_thread(id(thread_id, "thread")?)
            .archived(false)
            .locked(false)
            .await
            .map_err(|e| DiscordError::from_http("unarchive and unlock the ticket", e))?;
        Ok(())
    }

    /// Shows "(the bot) is typing…" in a channel for about 10 seconds.
    pub async fn typing(&self, channel_id: u64) -> Result<(), DiscordError> {
        self.http
            .create_typing_trigger(id(channel_id, "channel")?)
            .await
            .map_err(|e| DiscordError::from_http("show the typing indicator", e))?;
        Ok(())
    }

    /// Posts a message (with its buttons and file) in a channel or thread.
    pub async fn send(
        &self,
        channel_id: u64,
        reply: &Reply,
    ) -> Result<PostedMessage, DiscordError> {
        let components = super::components::components(&reply.controls);
        let allowed = allowed_mentions(&reply.ping);
        let files = uploads(reply);
        let channel = id(channel_id, "channel")?;
        let response = retrying("post a message", Retry::NEW, || {
            self.http
                .create_message(channel)
                .content(&reply.content)
                .components(&components)
                .allowed_mentions(Some(&allowed))
                .attachments(&files)
                .into_future()
        })
        .await?;
        let message = message_of(response).await?;
        Ok(PostedMessage {
            channel_id: message.channel_id.get(),
            message_id: message.id.get(),
        })
    }

    /// Replaces a posted message's text and buttons (streamed answers in tickets).
    pub async fn edit(
        &self,
        channel_id: u64,
        message_id: u64,
        content: &str,
        controls: &Controls,
    ) -> Result<(), DiscordError> {
        let components = super::components::components(controls);
        let (channel, message) = (id(channel_id, "channel")?, id(message_id, "message")?);
        retrying("edit a message", Retry::EDIT, || {
            self.http
                .update_message(channel, message)
                .content(Some(content))
                .components(Some(&components))
                .into_future()
        })
        .await?;
        Ok(())
    }

    /// Replaces a deferred interaction's response with `reply` (text, buttons, file). Retried briefly
    /// when it races the acknowledgement, and after transient failures (see [`crate::respond`]).
    pub async fn edit_original_reply(
        &self,
        token: &InteractionToken,
        reply: &Reply,
    ) -> Result<(), DiscordError> {
        let components = super::components::components(&reply.controls);
        let allowed = allowed_mentions(&reply.ping);
        let files = uploads(reply);
        let client = self.http.interaction(self.application_id);
        retrying("answer the command", Retry::EDIT_RESPONSE, || {
            client
                .update_response(token.expose())
                .content(Some(&reply.content))
                .components(Some(&components))
                .allowed_mentions(Some(&allowed))
                .attachments(&files)
                .into_future()
        })
        .await?;
        Ok(())
    }

    /// Adds a follow-up to an interaction's response.
    pub async fn followup_reply(
        &self,
        token: &InteractionToken,
        reply: &Reply,
    ) -> Result<(), DiscordError> {
        let components = super::components::components(&reply.controls);
        let allowed = allowed_mentions(&reply.ping);
        let files = uploads(reply);
        let client = self.http.interaction(self.application_id);
        retrying("send a follow-up message", Retry::NEW, || {
            let request = client
                .create_followup(token.expose())
                .content(&reply.content)
                .components(&components)
                .allowed_mentions(Some(&allowed))
                .attachments(&files);
            if reply.ephemeral {
                request.flags(MessageFlags::EPHEMERAL).into_future()
            } else {
                request.into_future()
            }
        })
        .await?;
        Ok(())
    }

    /// Downloads a file attached to a command, refusing more than `max` bytes.
    pub async fn download(&self, url: &str, max: u64) -> Result<Vec<u8>, DiscordError> {
        let transport = |message: String| DiscordError::Transport {
            action: "download the attached file",
            message,
        };
        let mut response = self
            .downloads
            .get(url)
            .send()
            .await
            .map_err(|e| transport(e.without_url().to_string()))?;
        if !response.status().is_success() {
            return Err(transport(format!("HTTP {}", response.status())));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| transport(e.without_url().to_string()))?
        {
            if bytes.len() as u64 + chunk.len() as u64 > max {
                return Err(transport(format!("the file is larger than {max} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}
