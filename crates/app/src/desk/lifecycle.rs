//! A ticket's buttons beyond talking to a human: Claim (a member of staff owns it), Close (the opener
//! confirms; staff ask the opener, who confirms or keeps it open) and Reopen (under the closing
//! announcement); and staff's `/ticket_add` and `/ticket_remove`, who else is in the ticket. Their custom ids carry the ticket's id, so they work after any restart and on any
//! instance; each step is checked against the ticket in the database, gated (staff, or the opener), and
//! written to the server's log channel.

use super::{Asker, Desk, DeskError, user_error};
use chrono::Utc;
use disconcierge_core::desk::model::TicketState;
use disconcierge_discord::desk::{Controls, Ping, Reply};
use disconcierge_discord::markup;
use disconcierge_discord::router::Ack;
use disconcierge_store::StoreError;
use std::sync::Arc;

impl Desk {
    /// The asker's name as shown in the ticket (no ping).
    fn name_of(asker: &Asker<'_>) -> String {
        let user = &asker.inv.user;
        user.global_name.clone().unwrap_or(user.username.clone())
    }

    /// Claim: staff only; takes the ticket over from whoever claimed it before.
    pub(crate) async fn claim(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        if !self.is_staff(asker).await? {
            return user_error("Only staff can claim a ticket.");
        }
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        if ticket.state == TicketState::Closed {
            return user_error("This ticket is closed.");
        }
        let me = asker.inv.user.id;
        let Some(claimed) = self.store.claim_ticket(ticket.id, me, Utc::now()).await? else {
            return Ok(Ack::Reply(Reply::private(
                "You have claimed this ticket already.",
            )));
        };
        let name = Self::name_of(asker);
        let text = match ticket.claimed_by {
            Some(before) => format!(
                "🙋 {name} took this ticket over from {}.",
                markup::user(before)
            ),
            None => format!("🙋 {name} claimed this ticket and will handle it."),
        };
        self.log_later(
            claimed.guild_id,
            format!(
                "🙋 Ticket #{} claimed by {}: {}",
                claimed.id,
                markup::user(me),
                markup::thread_or_pending(claimed.thread_id)
            ),
        );
        tracing::info!(ticket = ticket.id, by = me, "ticket claimed");
        Ok(Ack::Reply(Reply::text(text)))
    }

    /// Close: the opener is asked to confirm (only they see it); staff post a request the opener confirms
    /// (or staff, with the same button).
    pub(crate) async fn close_button(
        &self,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        if ticket.state == TicketState::Closed {
            return user_error("This ticket is already closed.");
        }
        let confirm = Controls::ConfirmClose {
            ticket_id: ticket.id,
        };
        if asker.inv.user.id == ticket.opener_id {
            return Ok(Ack::Reply(
                Reply::private("Close this ticket? It is then locked; you or staff can reopen it.")
                    .with_controls(confirm),
            ));
        }
        if !self.is_staff(asker).await? {
            return user_error("Only the member who opened this ticket, or staff, can close it.");
        }
        Ok(Ack::Reply(
            Reply::text(format!(
                "{} suggests closing this ticket. {}, is your question answered? Close it, or keep it \
                 open if you still need help.",
                Self::name_of(asker),
                markup::user(ticket.opener_id)
            ))
            .with_controls(confirm)
            .pinging(Ping::User(ticket.opener_id)),
        ))
    }

    /// Close, confirmed: by the opener, or by staff.
    pub(crate) async fn confirm_close(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        self.require_opener_or_staff(asker, &ticket, "close it")
            .await?;
        let reason = (asker.inv.user.id == ticket.opener_id).then_some("confirmed by the opener");
        self.close_by(asker, &ticket, reason).await
    }

    /// Keep it open: the request to close is answered (by the opener or staff).
    pub(crate) async fn keep_open(
        &self,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        self.require_opener_or_staff(asker, &ticket, "answer this")
            .await?;
        Ok(Ack::Update(Reply::text(format!(
            "{} keeps this ticket open.",
            Self::name_of(asker)
        ))))
    }

    /// Reopen a closed ticket (the opener or staff): unarchived and unlocked, open again, announced.
    pub(crate) async fn reopen(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        ticket_id: i64,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_in_guild(asker.guild_id, ticket_id).await?;
        self.require_opener_or_staff(asker, &ticket, "reopen it")
            .await?;
        let by = asker.inv.user.id;
        let reopened = match self.store.reopen_ticket(ticket.id, Utc::now()).await {
            Ok(Some(t)) => t,
            Ok(None) => return user_error("This ticket is open."),
            Err(StoreError::AlreadyExists(_)) => {
                return user_error(format!(
                    "{} has another open {} ticket; continue there, or close it first.",
                    ticket.opener_name, ticket.category
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let name = Self::name_of(asker);
        let desk = self.clone();
        tokio::spawn(async move {
            let Some(thread) = reopened.thread_id else {
                return;
            };
            if let Err(e) = desk.discord.reopen_thread(thread).await {
                tracing::warn!(error = %e, ticket = reopened.id, "could not unarchive the reopened ticket");
            }
            let text = format!("🔓 Ticket reopened by {name}.");
            if let Err(e) = desk
                .discord
                .send(
                    thread,
                    &Reply::text(&text).with_controls(Controls::Ticket {
                        ticket_id: reopened.id,
                    }),
                )
                .await
            {
                tracing::warn!(error = %e, ticket = reopened.id, "could not announce the reopening");
            }
            desk.log_later(
                reopened.guild_id,
                format!(
                    "🔓 Ticket #{} reopened by {}: {}",
                    reopened.id,
                    markup::user(by),
                    markup::channel(thread)
                ),
            );
        });
        tracing::info!(ticket = ticket.id, by, "ticket reopened");
        Ok(Ack::Reply(Reply::private(
            "Reopened: the ticket is open again.",
        )))
    }

    /// `/ticket_add` (`add`) or `/ticket_remove`: staff add a member to this ticket's thread, or take
    /// one out (never its opener).
    pub(crate) async fn ticket_member(
        self: &Arc<Self>,
        asker: &Asker<'_>,
        member: u64,
        add: bool,
    ) -> Result<Ack, DeskError> {
        let ticket = self.ticket_here(asker).await?;
        if ticket.state == TicketState::Closed {
            return user_error("This ticket is closed; reopen it first.");
        }
        let Some(thread) = ticket.thread_id else {
            return user_error("This ticket is still being created; try again in a moment.");
        };
        if !add && member == ticket.opener_id {
            return user_error(
                "The member who opened the ticket stays in it; close the ticket instead.",
            );
        }
        let result = if add {
            self.discord.add_thread_member(thread, member).await
        } else {
            self.discord.remove_thread_member(thread, member).await
        };
        if let Err(e) = result {
            return user_error(format!(
                "Discord refused to {} {}: {e}",
                if add { "add" } else { "remove" },
                markup::user(member)
            ));
        }
        let by = asker.inv.user.id;
        let (icon, verb) = if add {
            ("➕", "added")
        } else {
            ("➖", "removed")
        };
        self.log_later(
            ticket.guild_id,
            format!(
                "{icon} {} {verb} {} in ticket #{}: {}",
                markup::user(by),
                markup::user(member),
                ticket.id,
                markup::channel(thread)
            ),
        );
        tracing::info!(
            ticket = ticket.id,
            by,
            member,
            add,
            "ticket members changed"
        );
        Ok(Ack::Reply(Reply::text(format!(
            "{icon} {} {verb} {} {} this ticket.",
            Self::name_of(asker),
            markup::user(member),
            if add { "to" } else { "from" }
        ))))
    }
}
