//! What the support desk may do in one server: its switches (AI replies and training, for every server
//! through `DC_DESK_AI_REPLIES` / `DC_DESK_TRAINING`, per server through `/setup`) and the limits on AI
//! replies to one member (`/setup member_replies_per_6h`, `member_reply_interval`; staff excepted).

use super::{Desk, DeskError};
use chrono::{DateTime, Utc};
use disconcierge_core::desk::model::GuildSettings;
use disconcierge_discord::desk::Reply;
use disconcierge_discord::markup;
use disconcierge_discord::router::GuildMessage;
use disconcierge_store::Store;
use std::time::Duration;

/// The support desk's switches in force in one server: on for every server (`DC_DESK_AI_REPLIES`,
/// `DC_DESK_TRAINING`) and not turned off by the server's `/setup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Switches {
    pub ai_replies: bool,
    pub training: bool,
}

impl Switches {
    pub(crate) async fn of(
        store: &dyn Store,
        guild_id: u64,
        ai_replies: bool,
        training: bool,
    ) -> Result<Switches, disconcierge_store::StoreError> {
        let here = store.guild_settings(guild_id).await?;
        Ok(Switches {
            ai_replies: ai_replies && here.as_ref().is_none_or(|s| s.ai_replies),
            training: training && here.as_ref().is_none_or(|s| s.training),
        })
    }
}

impl Desk {
    /// The switches in force in `guild_id`.
    pub(crate) async fn switches(&self, guild_id: u64) -> Result<Switches, DeskError> {
        Ok(Switches::of(
            self.store.as_ref(),
            guild_id,
            self.ai_replies,
            self.training,
        )
        .await?)
    }

    /// What `/setup` says about the switches when one is off, here or for every server
    /// (`DC_DESK_AI_REPLIES`, `DC_DESK_TRAINING`); empty when both are on.
    pub(super) fn switches_note(&self, settings: &GuildSettings) -> String {
        let mut off = Vec::new();
        for (name, here, everywhere, var) in [
            (
                "AI replies",
                settings.ai_replies,
                self.ai_replies,
                "DC_DESK_AI_REPLIES",
            ),
            (
                "Training",
                settings.training,
                self.training,
                "DC_DESK_TRAINING",
            ),
        ] {
            if !everywhere {
                off.push(format!(
                    "{name}: off for every server ({var}=false on the bot's host)"
                ));
            } else if !here {
                off.push(format!("{name}: off in this server"));
            }
        }
        let mut limits = Vec::new();
        if settings.member_replies_per_6h > 0 {
            limits.push(format!(
                "at most {} in 6 hours",
                settings.member_replies_per_6h
            ));
        }
        if settings.member_reply_interval_secs > 0 {
            limits.push(format!(
                "one every {}",
                disconcierge_core::format_duration(Duration::from_secs(u64::from(
                    settings.member_reply_interval_secs
                )))
            ));
        }
        if !limits.is_empty() {
            off.push(format!(
                "AI replies to each member (staff excepted): {}",
                limits.join(", ")
            ));
        }
        if off.is_empty() {
            String::new()
        } else {
            format!("{}.\n", off.join("; "))
        }
    }

    /// When the AI may answer `m`'s author again, if one of the server's per-member limits holds it back
    /// now (`None`: answer). Staff (the staff role, or managing the server) are never limited.
    pub(super) async fn limited_until(
        &self,
        settings: Option<&GuildSettings>,
        m: &GuildMessage,
    ) -> Result<Option<DateTime<Utc>>, DeskError> {
        let Some(s) =
            settings.filter(|s| s.member_replies_per_6h > 0 || s.member_reply_interval_secs > 0)
        else {
            return Ok(None);
        };
        if m.manages_guild || m.roles.contains(&s.staff_role_id) {
            return Ok(None);
        }
        let now = Utc::now();
        let window = chrono::TimeDelta::hours(6);
        let interval = chrono::TimeDelta::seconds(i64::from(s.member_reply_interval_secs));
        let replies = self
            .store
            .member_replies(s.guild_id, m.author.id, now - window)
            .await?;
        let mut until: Option<DateTime<Utc>> = None;
        if s.member_reply_interval_secs > 0 {
            let last = match replies.last {
                None if interval > window => {
                    self.store
                        .member_replies(s.guild_id, m.author.id, now - interval)
                        .await?
                        .last
                }
                last => last,
            };
            until = last.map(|l| l + interval).filter(|u| *u > now);
        }
        if s.member_replies_per_6h > 0 && replies.count >= s.member_replies_per_6h {
            // A reply is free again when the oldest answered message in the window leaves it.
            let free = replies.first.map_or(now + window, |t| t + window);
            until = Some(until.map_or(free, |u| u.max(free)));
        }
        Ok(until)
    }

    /// Tells the member in `thread` that the AI answers them again `until`.
    pub(super) async fn tell_limited(
        &self,
        thread: u64,
        m: &GuildMessage,
        settings: Option<&GuildSettings>,
        until: DateTime<Utc>,
    ) {
        let per_6h = settings
            .map(|s| s.member_replies_per_6h)
            .unwrap_or_default();
        let why = if per_6h > 0 {
            format!("The AI answers each member at most {per_6h} times in 6 hours here")
        } else {
            "The AI answers each member only so often here".to_string()
        };
        let text = format!(
            "{}: {why}; it answers again {}. Staff can still help you in this ticket.",
            m.author
                .global_name
                .as_deref()
                .unwrap_or(&m.author.username),
            markup::relative_time(until)
        );
        if let Err(e) = self.discord.send(thread, &Reply::text(&text)).await {
            tracing::warn!(error = %e, "could not tell a member when the AI answers again");
        }
    }
}
