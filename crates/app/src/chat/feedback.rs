//! The feedback buttons under an answer, and the "Other" text.

use super::Chat;
use super::reply::message;
use chrono::Utc;
use disconcierge_core::model::{FeedbackKind, UserFeedback};
use disconcierge_discord::router::{Ack, Invocation};

impl Chat {
    /// A feedback button or the "Other" text: one vote per user per button (a repeat changes nothing),
    /// "Other" as often as the user likes; the answer's buttons then show the new counts.
    pub(crate) async fn feedback(
        &self,
        inv: &Invocation,
        command_id: i64,
        kind: FeedbackKind,
        text: Option<String>,
    ) -> Ack {
        let current = self.runtime.current();
        let config = &current.config;
        if !config.feedback_enabled {
            return message("Feedback is turned off right now. Thank you anyway!");
        }
        if kind == FeedbackKind::Other && text.is_none() {
            return Ack::FeedbackModal {
                command_id,
                texts: disconcierge_discord::feedback::ModalTexts {
                    title: config.feedback_modal_title.clone(),
                    label: config.feedback_modal_input_label.clone(),
                    placeholder: config.feedback_modal_placeholder.clone(),
                    min_length: u16::try_from(config.feedback_modal_min_length).unwrap_or(u16::MAX),
                    max_length: u16::try_from(config.feedback_modal_max_length).unwrap_or(u16::MAX),
                },
            };
        }
        if let Some(text) = &text {
            let len = text.chars().count() as u32;
            if len < config.feedback_modal_min_length || len > config.feedback_modal_max_length {
                return message(&format!(
                    "Your feedback must be {} to {} characters long; it was {len}. Please try again.",
                    config.feedback_modal_min_length, config.feedback_modal_max_length
                ));
            }
        }
        let result = async {
            let Some(command) = self.store.chat_command(command_id).await? else {
                return Ok(None);
            };
            self.store
                .upsert_user(
                    inv.user.id,
                    &inv.user.username,
                    inv.user.global_name.as_deref(),
                )
                .await?;
            let new = self
                .store
                .insert_user_feedback(&UserFeedback {
                    chat_command_id: command_id,
                    user_id: inv.user.id,
                    kind,
                    detail: text.clone(),
                    created_at: Utc::now(),
                })
                .await?;
            if new {
                self.notifier.notify(crate::notify::Event::Feedback {
                    command_id,
                    user_id: inv.user.id,
                    kind,
                    detail: text,
                    prompt: command.prompt,
                });
            } else {
                tracing::debug!(
                    command_id,
                    user = inv.user.id,
                    ?kind,
                    "repeated feedback ignored"
                );
            }
            self.store.feedback_counts(command_id).await.map(Some)
        }
        .await;
        match result {
            Ok(Some(counts)) => Ack::UpdateFeedback { command_id, counts },
            Ok(None) => message("That answer no longer exists."),
            Err(e) => {
                tracing::error!(error = %e, command_id, "could not store feedback");
                message(&config.discord_error_message)
            }
        }
    }
}
