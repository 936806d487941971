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
    /// The switches of a server whose settings (`None` before `/setup`) are `here`, with `ai_replies`
    /// and `training` the ones for every server.
    pub(crate) fn from_settings(
        here: Option<&GuildSettings>,
        ai_replies: bool,
        training: bool,
    ) -> Switches {
        Switches {
            ai_replies: ai_replies && here.is_none_or(|s| s.ai_replies),
            training: training && here.is_none_or(|s| s.training),
        }
    }

    /// [`Switches::from_settings`] with the server's settings read from `store`.
    pub(crate) async fn of(
        store: &dyn Store,
        guild_id: u64,
        ai_replies: bool,
        training: bool,
    ) -> Result<Switches, disconcierge_store::StoreError> {
        let here = store.guild_settings(guild_id).await?;
        Ok(Self::from_settings(here.as_ref(), ai_replies, training))
    }
}

/// Whether the author of `m` is staff in a server whose staff role is `staff_role`: the role, or
/// managing the server (its owner, Administrator, Manage Server), as for the staff commands.
pub(crate) fn is_staff_message(m: &GuildMessage, staff_role: Option<u64>) -> bool {
    m.manages_guild || staff_role.is_some_and(|r| m.roles.contains(&r))
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

    /// The switches in force in a server whose settings are `here`.
    pub(crate) fn switches_of(&self, here: Option<&GuildSettings>) -> Switches {
        Switches::from_settings(here, self.ai_replies, self.training)
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

    /// When the AI may answer `m`'s author again, and which of the server's per-member limits holds it
    /// back now (`None`: answer). Staff (the staff role, or managing the server) are never limited.
    pub(super) async fn limited_until(
        &self,
        settings: Option<&GuildSettings>,
        m: &GuildMessage,
    ) -> Result<Option<(DateTime<Utc>, Limit)>, DeskError> {
        let Some(s) =
            settings.filter(|s| s.member_replies_per_6h > 0 || s.member_reply_interval_secs > 0)
        else {
            return Ok(None);
        };
        if is_staff_message(m, Some(s.staff_role_id)) {
            return Ok(None);
        }
        let now = Utc::now();
        let window = chrono::TimeDelta::hours(6);
        let interval = chrono::TimeDelta::seconds(i64::from(s.member_reply_interval_secs));
        let replies = self
            .store
            .member_replies(s.guild_id, m.author.id, now - window)
            .await?;
        let mut held: Option<(DateTime<Utc>, Limit)> = None;
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
            held = last
                .map(|l| l + interval)
                .filter(|u| *u > now)
                .map(|u| (u, Limit::Interval(s.member_reply_interval_secs)));
        }
        if s.member_replies_per_6h > 0 && replies.count >= s.member_replies_per_6h {
            // A reply is free again when the oldest answered message in the window leaves it.
            let free = replies.first.map_or(now + window, |t| t + window);
            if held.is_none_or(|(u, _)| free > u) {
                held = Some((free, Limit::Per6h(s.member_replies_per_6h)));
            }
        }
        Ok(held)
    }

    /// Tells the member in `thread` that the AI answers them again `until`, and which `limit` says so.
    pub(super) async fn tell_limited(
        &self,
        thread: u64,
        m: &GuildMessage,
        until: DateTime<Utc>,
        limit: Limit,
    ) {
        let why = match limit {
            Limit::Per6h(n) => {
                format!("The AI answers each member at most {n} times in 6 hours here")
            }
            Limit::Interval(secs) => format!(
                "The AI answers each member at most once every {} here",
                disconcierge_core::format_duration(Duration::from_secs(u64::from(secs)))
            ),
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

/// Which per-member limit holds an AI reply back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Limit {
    /// At most this many replies in 6 hours.
    Per6h(u32),
    /// At most one reply every this many seconds.
    Interval(u32),
}
