//! Tickets: `/setup`, panels, opening a ticket from a panel button, "Talk to a human", closing with a
//! transcript, `/ticket_info`, and recording every message in a ticket.

use super::{Asker, Desk, DeskError, defer_private, user_error};
use chrono::Utc;
use disconcierge_core::desk::model::{
    GuildSettings, NewTicket, NewTicketMessage, ReplySource, Ticket, TicketAuthor, TicketMessage,
    TicketState,
};
use disconcierge_core::secret::InteractionToken;
use disconcierge_discord::desk::components::parse_categories;
use disconcierge_discord::desk::{Controls, DeskCommand, Ping, Reply};
use disconcierge_discord::markup;
use disconcierge_discord::router::{Ack, GuildMessage};
use disconcierge_store::TicketReservation;
use std::sync::Arc;
use std::time::Duration;

/// A reservation older than this without its forum post was left by a crash: it is replaced.
const STALE_RESERVATION: Duration = Duration::from_secs(120);
/// Discord's limit on a thread name.
const THREAD_NAME_MAX: usize = 100;

/// The forum post's name: category and who opened it, within Discord's limit.
pub(crate) fn thread_name(category: &str, opener: &str) -> String {
    let name = format!("{category} – {opener}");
    name.chars().take(THREAD_NAME_MAX).collect()
}

/// The transcript of a ticket: a header, then every message with its author and time (UTC).
pub(crate) fn transcript(ticket: &Ticket, messages: &[TicketMessage]) -> String {
    let mut out = format!(
        "Ticket #{} — {} — opened by {} ({}) on {}\n",
        ticket.id,
        ticket.category,
        ticket.opener_name,
        ticket.opener_id,
        ticket.created_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    out.push_str(&format!("State: {}", ticket.state.as_str()));
    if let (Some(by), Some(at)) = (ticket.claimed_by, ticket.claimed_at) {
        out.push_str(&format!(
            "; claimed by {by} on {}",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if let Some(at) = ticket.escalated_at {
        out.push_str(&format!(
            "; escalated on {}",
            at.format("%Y-%m-%d %H:%M:%S UTC")
        ));
    }
    if let Some(at) = ticket.closed_at {
        out.push_str(&format!(
            "; closed on {}{}",
            at.format("%Y-%m-%d %H:%M:%S UTC"),
            ticket
                .close_reason
                .as_deref()
                .map(|r| format!(", reason: {r}"))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!("\nMessages: {}\n", messages.len()));
    for m in messages {
        let m = &m.message;
        let role = match (m.author, m.source) {
            (TicketAuthor::Bot, Some(ReplySource::Trained)) => "bot, trained answer",
            (TicketAuthor::Bot, Some(ReplySource::Fallback)) => "bot, fallback",
            (TicketAuthor::Bot, Some(ReplySource::Llm)) => "bot, AI",
            (TicketAuthor::Bot, _) => "bot",
            (author, _) => author.as_str(),
        };
        out.push_str(&format!(
            "\n[{}] {} ({role}):\n{}\n",
            m.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
            m.author_name,
            m.content
        ));
    }
    out
}

/// The reason stored for a ticket closed this way.
pub(crate) const IDLE_REASON: &str = "closed after a period of inactivity";

/// How a ticket came to be closed: what [`Desk::after_close`] announces and logs.
pub(crate) enum Closing {
    /// `/close_ticket` (or its button) by the opener or staff; announced as the interaction's answer.
    ByMember {
        closer: u64,
        token: InteractionToken,
    },
    /// Closed by the bot after a period of inactivity; announced in the thread.
    Idle,
}

impl Desk {
    /// Everything that follows closing a ticket in the database, whoever closed it: the announcement
    /// (before the thread is locked: a locked thread takes no more messages), archiving and locking the
    /// thread, and the log channel's line with the transcript attached. Failures are logged; the ticket
    /// stays closed.
    pub(crate) async fn after_close(&self, closed: &Ticket, closing: Closing) {
        let log_line = match &closing {
            Closing::ByMember { closer, token } => {
                let text = format!(
                    "🔒 Ticket closed by {}{}",
                    markup::user(*closer),
                    closed
                        .close_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_else(|| ".".into())
                );
                let announcement = Reply::text(&text).with_controls(Controls::Reopen {
                    ticket_id: closed.id,
                });
                if let Err(e) = self.discord.edit_original_reply(token, &announcement).await {
                    tracing::warn!(error = %e, ticket = closed.id, "could not announce the closing");
                }
                format!(
                    "✅ Ticket #{} closed by {}: {}",
                    closed.id,
                    markup::user(*closer),
                    markup::thread_or_pending(closed.thread_id)
                )
            }
            Closing::Idle => {
                if let Some(thread) = closed.thread_id {
                    let text = format!("🔒 Ticket {IDLE_REASON}.");
                    let announcement = Reply::text(text).with_controls(Controls::Reopen {
                        ticket_id: closed.id,
                    });
                    if let Err(e) = self.discord.send(thread, &announcement).await {
                        tracing::warn!(error = %e, ticket = closed.id, "could not announce the closing");
                    }
                }
                format!(
                    "💤 Ticket #{} {IDLE_REASON}: {}",
                    closed.id,
                    markup::thread_or_pending(closed.thread_id)
                )
            }
        };
        if let Some(thread) = closed.thread_id
            && let Err(e) = self.discord.close_thread(thread).await
        {
            tracing::warn!(error = %e, ticket = closed.id, "could not archive and lock the ticket");
        }
        match (
            self.store.guild_settings(closed.guild_id).await,
            self.store.ticket_messages(closed.id, None).await,
        ) {
            (Ok(Some(settings)), Ok(messages)) => {
                self.log_event(
                    &settings,
                    &log_line,
                    Some((
                        format!("ticket-{}.txt", closed.id),
                        transcript(closed, &messages).into_bytes(),
                    )),
                )
                .await
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, ticket = closed.id, "could not post the transcript")
            }
            _ => {}
        }
    }
}

impl Desk {
    /// `/setup` (`command` is a [`DeskCommand::Setup`]).
    pub(crate) async fn setup(
        &self,
        asker: &Asker<'_>,
        command: DeskCommand,
    ) -> Result<Ack, DeskError> {
        let DeskCommand::Setup {
            forum_channel,
            staff_role,
            log_channel,
            instructions,
            auto_close_hours,
            ai_replies,
            training,
            member_replies_per_6h,
            member_reply_interval,
        } = command
        else {
            unreachable!("setup is called with /setup's options");
        };
        // Manage Server, or staff of an existing setup, may change it.
        let current = self.store.guild_settings(asker.guild_id).await?;
        if !asker
            .member
            .is_staff(current.as_ref().map(|s| s.staff_role_id))
        {
            return user_error(
                "Only members with Manage Server (or the staff role) can run /setup.",
            );
        }
        let settings = GuildSettings {
            guild_id: asker.guild_id,
            forum_channel_id: forum_channel,
            staff_role_id: staff_role,
            log_channel_id: log_channel,
            instructions: instructions
                .map(|i| i.trim().to_string())
                .filter(|i| !i.is_empty()),
            auto_close_after_secs: auto_close_hours.filter(|h| *h > 0).map(|h| h * 3600),
            ai_replies: ai_replies
                .or(current.as_ref().map(|c| c.ai_replies))
                .unwrap_or(true),
            training: training
                .or(current.as_ref().map(|c| c.training))
                .unwrap_or(true),
            member_replies_per_6h: member_replies_per_6h
                .or(current.as_ref().map(|c| c.member_replies_per_6h))
                .unwrap_or(0),
            member_reply_interval_secs: member_reply_interval
                .or(current.as_ref().map(|c| c.member_reply_interval_secs))
                .unwrap_or(0),
            updated_by: asker.inv.user.id,
            updated_at: Utc::now(),
        };
        self.store.save_guild_settings(&settings).await?;
        let switches = self.switches_note(&settings);
        tracing::info!(
            guild = asker.guild_id,
            by = asker.inv.user.id,
            "support desk set up"
        );
        // Without the privileged Message Content intent, Discord sends messages in tickets without text.
        self.desk_in_use
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let intents_note = self
            .discord
            .message_content_advice()
            .map(|advice| {
                format!(
                    "\n⚠️ The bot does not receive message text, so the AI cannot read tickets: {advice}."
                )
            })
            .unwrap_or_default();
        Ok(Ack::Reply(Reply::private(format!(
            "Support tickets are set up: posts in {}, staff role {}{}{}.\n\
             {switches}Next: `/ticket_panel` in the channel where members should open tickets.{intents_note}",
            markup::channel(forum_channel),
            markup::role(staff_role),
            log_channel
                .map(|c| format!(", events in {}", markup::channel(c)))
                .unwrap_or_default(),
            settings
                .instructions
                .as_ref()
                .map(|_| ", with your instructions for the AI")
                .unwrap_or_default(),
        ))))
    }

    pub(crate) async fn settings(&self, guild_id: u64) -> Result<GuildSettings, DeskError> {
        match self.store.guild_settings(guild_id).await? {
            Some(s) => Ok(s),
            None => user_error("Tickets are not set up in this server yet: staff can run /setup."),
        }
    }

    pub(crate) async fn ticket_panel(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        title: String,
        description: String,
        categories: String,
    ) -> Result<Ack, DeskError> {
        self.settings(asker.guild_id).await?;
        let categories = parse_categories(&categories).map_err(DeskError::User)?;
        let Some(channel_id) = asker.inv.channel_id else {
            return user_error("Use /ticket_panel in the channel where the panel should appear.");
        };
        let desk = self.clone();
        let panel = Reply::text(format!("**{}**\n{}", title.trim(), description.trim()))
            .with_controls(Controls::Panel { categories });
        self.finish_later(asker.inv.token.clone(), async move {
            desk.discord.send(channel_id, &panel).await?;
            Ok(Reply::private(
                "Panel posted. Its buttons keep working after restarts; post another one any time.",
            ))
        });
        Ok(defer_private())
    }

    pub(crate) async fn open_ticket(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        category: String,
    ) -> Result<Ack, DeskError> {
        let settings = self.settings(asker.guild_id).await?;
        let user = asker.inv.user.clone();
        let opener_name = user.global_name.clone().unwrap_or(user.username.clone());
        let desk = self.clone();
        let guild_id = asker.guild_id;
        self.finish_later(asker.inv.token.clone(), async move {
            let new = NewTicket {
                guild_id,
                category: category.clone(),
                opener_id: user.id,
                opener_name: opener_name.clone(),
                created_at: Utc::now(),
            };
            let ticket = match desk.store.reserve_ticket(&new, STALE_RESERVATION).await? {
                TicketReservation::Existing(t) => {
                    return Ok(Reply::private(format!(
                        "You already have an open {category} ticket: {}",
                        markup::thread_or_pending(t.thread_id)
                    )));
                }
                TicketReservation::Reserved(t) => t,
            };
            match desk.create_post(&settings, &ticket).await {
                Ok(thread_id) => {
                    tracing::info!(ticket = ticket.id, thread = thread_id, "ticket opened");
                    Ok(Reply::private(format!(
                        "Your ticket is open: {}",
                        markup::channel(thread_id)
                    )))
                }
                Err(e) => {
                    if let Err(c) = desk.store.cancel_ticket_reservation(ticket.id).await {
                        tracing::warn!(error = %c, "could not cancel a ticket reservation");
                    }
                    Err(e)
                }
            }
        });
        Ok(defer_private())
    }

    /// Creates the forum post of a reserved ticket, adds the opener, records the welcome message and
    /// tells the log channel.
    async fn create_post(
        &self,
        settings: &GuildSettings,
        ticket: &Ticket,
    ) -> Result<u64, DeskError> {
        let config = self.runtime.current().config.clone();
        let tag = match self.discord.forum_tags(settings.forum_channel_id).await {
            Ok(tags) => tags
                .into_iter()
                .find(|t| t.name.eq_ignore_ascii_case(&ticket.category))
                .map(|t| t.id),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the forum's tags; opening the ticket untagged");
                None
            }
        };
        let welcome = Reply::text(
            config
                .desk_welcome_message
                .replace("{user}", &markup::user(ticket.opener_id)),
        )
        .with_controls(Controls::Ticket {
            ticket_id: ticket.id,
        })
        .pinging(Ping::User(ticket.opener_id));
        let thread_id = self
            .discord
            .create_forum_post(
                settings.forum_channel_id,
                &thread_name(&ticket.category, &ticket.opener_name),
                tag,
                &welcome,
            )
            .await?;
        self.store
            .attach_ticket_thread(ticket.id, thread_id)
            .await?;
        if let Err(e) = self
            .discord
            .add_thread_member(thread_id, ticket.opener_id)
            .await
        {
            tracing::warn!(error = %e, ticket = ticket.id, "could not add the opener to the ticket");
        }
        // A forum post's first message has the thread's id.
        self.record_bot_message(
            ticket.id,
            thread_id,
            &welcome.content,
            ReplySource::Notice,
            &[],
        )
        .await;
        self.log_event(
            settings,
            &format!(
                "🎫 Ticket #{} opened by {} ({}): {}",
                ticket.id,
                markup::user(ticket.opener_id),
                ticket.category,
                markup::channel(thread_id)
            ),
            None,
        )
        .await;
        Ok(thread_id)
    }

    /// Stores a message the bot posted in a ticket.
    pub(crate) async fn record_bot_message(
        &self,
        ticket_id: i64,
        message_id: u64,
        content: &str,
        source: ReplySource,
        used: &[disconcierge_core::desk::model::UsedEntry],
    ) {
        let record = NewTicketMessage {
            ticket_id,
            message_id,
            author_id: self.discord.bot_user_id().unwrap_or_default(),
            author_name: "bot".into(),
            author: TicketAuthor::Bot,
            content: content.to_string(),
            source: Some(source),
            used: used.to_vec(),
            created_at: Utc::now(),
        };
        if let Err(e) = self.store.record_ticket_message(&record).await {
            tracing::warn!(error = %e, ticket = ticket_id, "could not record the bot's message in a ticket");
        }
    }

    /// Posts to the guild's log channel, when it has one.
    pub(crate) async fn log_event(
        &self,
        settings: &GuildSettings,
        text: &str,
        file: Option<(String, Vec<u8>)>,
    ) {
        let Some(log) = settings.log_channel_id else {
            return;
        };
        let mut reply = Reply::text(text);
        if let Some((name, bytes)) = file {
            reply = reply.with_file(name, bytes);
        }
        if let Err(e) = self.discord.send(log, &reply).await {
            tracing::warn!(error = %e, guild = settings.guild_id, "could not post to the ticket log channel");
        }
    }

    /// Posts `text` to the log channel of `guild_id` (if it has one) in a task of its own, so that an
    /// interaction's answer never waits for it.
    pub(super) fn log_later(self: &Arc<Self>, guild_id: u64, text: String) {
        let desk = self.clone();
        tokio::spawn(async move {
            match desk.store.guild_settings(guild_id).await {
                Ok(Some(settings)) => desk.log_event(&settings, &text, None).await,
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, guild = guild_id, "could not read where to log a ticket event")
                }
            }
        });
    }

    /// The ticket a button or command refers to, in this guild.
    pub(super) async fn ticket_in_guild(
        &self,
        guild_id: u64,
        id: i64,
    ) -> Result<Ticket, DeskError> {
        match self.store.ticket(id).await? {
            Some(t) if t.guild_id == guild_id => Ok(t),
            _ => user_error("This ticket no longer exists."),
        }
    }

    /// Refuses anyone but the ticket's opener and staff: "Only the member who opened this ticket, or
    /// staff, can {what}."
    pub(super) async fn require_opener_or_staff(
        &self,
        asker: &Asker<'_>,
        ticket: &Ticket,
        what: &str,
    ) -> Result<(), DeskError> {
        if asker.inv.user.id == ticket.opener_id || self.is_staff(asker).await? {
            return Ok(());
        }
        user_error(format!(
            "Only the member who opened this ticket, or staff, can {what}."
        ))
    }

    /// The ticket of the thread a command was used in.
    pub(super) async fn ticket_here(&self, asker: &Asker<'_>) -> Result<Ticket, DeskError> {
        let here = match asker.inv.channel_id {
            Some(c) => self.store.ticket_by_thread(c).await?,
            None => None,
        };
        match here {
            Some(t) if t.guild_id == asker.guild_id => Ok(t),
            _ => user_error("Use this inside a ticket."),
        }
    }

    pub(crate) async fn escalate(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        if asker.inv.user.id != ticket.opener_id && !self.is_staff(asker).await? {
            return user_error("Only the member who opened this ticket can ask for a human.");
        }
        if ticket.state == TicketState::Closed {
            return user_error("This ticket is closed.");
        }
        if !self.store.escalate_ticket(ticket.id, Utc::now()).await? {
            return Ok(Ack::Reply(Reply::private(
                "Staff have already been asked to help here; they will answer in this ticket.",
            )));
        }
        let settings = self.settings(asker.guild_id).await?;
        let config = self.runtime.current().config.clone();
        let text = config
            .desk_escalation_message
            .replace("{staff}", &markup::role(settings.staff_role_id))
            .replace("{user}", &ticket.opener_name);
        let desk = self.clone();
        let thread = ticket.thread_id;
        tokio::spawn(async move {
            let Some(thread) = thread else { return };
            let post = Reply::text(text)
                .with_controls(Controls::ResumeAi {
                    ticket_id: ticket.id,
                })
                .pinging(Ping::Role(settings.staff_role_id));
            match desk.discord.send(thread, &post).await {
                Ok(m) => {
                    desk.record_bot_message(
                        ticket.id,
                        m.message_id,
                        &post.content,
                        ReplySource::Notice,
                        &[],
                    )
                    .await
                }
                Err(e) => {
                    tracing::error!(error = %e, ticket = ticket.id, "could not ping the staff")
                }
            }
            desk.log_event(
                &settings,
                &format!(
                    "🙋 Ticket #{} escalated: {}",
                    ticket.id,
                    markup::channel(thread)
                ),
                None,
            )
            .await;
        });
        tracing::info!(ticket = ticket.id, "ticket escalated");
        Ok(Ack::Reply(Reply::private(
            "Staff have been asked to help; they will answer in this ticket. The assistant stays quiet until then.",
        )))
    }

    pub(crate) async fn resume_ai(
        &self,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        self.require_staff(asker).await?;
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        if ticket.state == TicketState::Closed {
            return user_error("This ticket is closed.");
        }
        if !self.store.reenable_ticket_ai(ticket.id).await? {
            // Closed meanwhile, or another staff member was first. Either way the public message (and
            // who re-enabled the assistant) stays as it is; only the one who clicked is told.
            let closed = matches!(
                self.store.ticket(ticket.id).await?,
                Some(t) if t.state == TicketState::Closed
            );
            if closed {
                return user_error("This ticket is closed.");
            }
            return Ok(Ack::Reply(Reply::private(
                "The assistant already answers in this ticket.",
            )));
        }
        Ok(Ack::Update(Reply::text(format!(
            "{} let the assistant answer again in this ticket.",
            asker.inv.user.username
        ))))
    }

    pub(crate) async fn close_command(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        reason: Option<String>,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_here(asker).await?;
        self.require_opener_or_staff(asker, &ticket, "close it")
            .await?;
        let reason = reason
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        self.close_by(asker, &ticket, reason.as_deref()).await
    }

    /// Closes `ticket` for the asker (opener or staff, already checked), `reason` recorded: the
    /// interaction is deferred and [`Desk::after_close`] announces it in its answer.
    pub(crate) async fn close_by(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        ticket: &Ticket,
        reason: Option<&str>,
    ) -> Result<Ack, DeskError> {
        let closer = asker.inv.user.id;
        let Some(closed) = self
            .store
            .close_ticket(ticket.id, closer, reason, Utc::now())
            .await?
        else {
            return user_error("This ticket is already closed.");
        };
        let desk = self.clone();
        let closing = Closing::ByMember {
            closer,
            token: asker.inv.token.clone(),
        };
        tokio::spawn(async move { desk.after_close(&closed, closing).await });
        tracing::info!(ticket = ticket.id, by = closer, "ticket closed");
        Ok(Ack::Defer { ephemeral: false })
    }

    pub(crate) async fn ticket_info(self: &Arc<Self>, asker: &Asker<'_>) -> Result<Ack, DeskError> {
        let ticket = self.ticket_here(asker).await?;
        let staff = self.is_staff(asker).await?;
        let desk = self.clone();
        self.finish_later(asker.inv.token.clone(), async move {
            let age = Utc::now() - ticket.created_at;
            let mut text = format!(
                "**Ticket #{}** — {}\nOpened by {} {} ({} h {} min ago)\nState: **{}**\nMessages: {}\nLast activity: {}",
                ticket.id,
                ticket.category,
                markup::user(ticket.opener_id),
                markup::relative_time(ticket.created_at),
                age.num_hours(),
                age.num_minutes() % 60,
                ticket.state.as_str(),
                ticket.message_count,
                markup::relative_time(ticket.last_activity_at),
            );
            if let Some(at) = ticket.escalated_at {
                text.push_str(&format!("\nEscalated {}", markup::relative_time(at)));
            }
            let mut reply = Reply::private(text);
            if staff {
                let messages = desk.store.ticket_messages(ticket.id, None).await?;
                reply = reply.with_file(
                    format!("ticket-{}.txt", ticket.id),
                    transcript(&ticket, &messages).into_bytes(),
                );
            }
            Ok(reply)
        });
        Ok(defer_private())
    }

    /// A user's message in a guild: recorded when it is in a ticket, answered when the opener wrote it
    /// in an open (not escalated) ticket.
    pub(crate) async fn ticket_message(self: &Arc<Self>, m: GuildMessage) -> Result<(), DeskError> {
        let Some(ticket) = self.store.ticket_by_thread(m.channel_id).await? else {
            return Ok(());
        };
        if ticket.guild_id != m.guild_id || ticket.state == TicketState::Closed {
            return Ok(());
        }
        let staff_role = self
            .store
            .guild_settings(ticket.guild_id)
            .await?
            .map(|s| s.staff_role_id);
        // Staff as for the staff commands: the staff role, or managing the server (its owner,
        // Administrator, Manage Server).
        let author = if m.author.id == ticket.opener_id {
            TicketAuthor::Opener
        } else if super::policy::is_staff_message(&m, staff_role) {
            TicketAuthor::Staff
        } else {
            TicketAuthor::Member
        };
        let record = NewTicketMessage {
            ticket_id: ticket.id,
            message_id: m.message_id,
            author_id: m.author.id,
            author_name: m
                .author
                .global_name
                .clone()
                .unwrap_or(m.author.username.clone()),
            author,
            content: m.content.clone(),
            source: None,
            used: Vec::new(),
            created_at: m.created_at,
        };
        let Some(row) = self.store.record_ticket_message(&record).await? else {
            return Ok(()); // delivered twice
        };
        if author == TicketAuthor::Opener {
            self.answer_in_ticket(ticket, row, m).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use disconcierge_core::desk::model::UsedEntry;

    #[test]
    fn thread_names_fit_discords_limit() {
        assert_eq!(thread_name("Billing", "ann"), "Billing – ann");
        assert_eq!(
            thread_name(&"x".repeat(90), &"y".repeat(30))
                .chars()
                .count(),
            100
        );
    }

    #[test]
    fn transcripts_list_every_message_with_author_role_and_time() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-28T10:00:00Z")
            .unwrap()
            .to_utc();
        let ticket = Ticket {
            id: 7,
            guild_id: 1,
            thread_id: Some(2),
            category: "Billing".into(),
            opener_id: 3,
            opener_name: "ann".into(),
            state: TicketState::Closed,
            escalated_at: None,
            close_reason: Some("solved".into()),
            closed_by: Some(3),
            closed_at: Some(at),
            inactivity_warned_at: None,
            claimed_by: None,
            claimed_at: None,
            message_count: 2,
            created_at: at,
            last_activity_at: at,
        };
        let msg = |author, source, name: &str, text: &str| TicketMessage {
            id: 1,
            message: NewTicketMessage {
                ticket_id: 7,
                message_id: 1,
                author_id: 1,
                author_name: name.into(),
                author,
                content: text.into(),
                source,
                used: Vec::<UsedEntry>::new(),
                created_at: at,
            },
        };
        let text = transcript(
            &ticket,
            &[
                msg(TicketAuthor::Opener, None, "ann", "Refund?"),
                msg(
                    TicketAuthor::Bot,
                    Some(ReplySource::Trained),
                    "bot",
                    "30 days.",
                ),
            ],
        );
        assert!(
            text.starts_with(
                "Ticket #7 — Billing — opened by ann (3) on 2026-11-28 10:00:00 UTC\n"
            )
        );
        assert!(text.contains("closed on 2026-11-28 10:00:00 UTC, reason: solved"));
        assert!(text.contains("[2026-11-28 10:00:00 UTC] ann (opener):\nRefund?"));
        assert!(text.contains("bot (bot, trained answer):\n30 days."));
    }
}
