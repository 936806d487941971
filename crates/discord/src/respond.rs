//! Editing and adding messages of an interaction's answer.
//!
//! Every message goes through the client, whose default `allowed_mentions` pings nobody. An edit that
//! arrives before Discord processed the acknowledgement gets 404; it is retried briefly.
//!
//! An answer's messages are also tried again when Discord rate-limits them (429, after its
//! `retry_after`) or fails on its side (502, 503, 504; an edit, which may be repeated, also after 500 or a
//! lost connection), with a growing pause: a hiccup at Discord must not cost the user an answer the model
//! already gave. A follow-up is a new message, so it is not sent again when Discord may have created it
//! (500, or no answer at all). Previews of an answer in progress are tried once: the next preview, or the
//! answer, replaces them anyway.

use crate::{Discord, DiscordError};
use disconcierge_core::secret::InteractionToken;
use std::future::IntoFuture as _;
use std::time::Duration;
use twilight_model::channel::message::MessageFlags;

const UNKNOWN_TARGET_RETRIES: u32 = 4;
/// Attempts at one of an answer's messages when Discord fails transiently.
const TRANSIENT_ATTEMPTS: u32 = 5;
/// A longer `retry_after` is not waited for: the message is given up rather than held.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Whether a message that failed with `err` on attempt `attempt` (from 1) is tried again, and after how
/// long. `repeatable`: sending it twice does no harm (an edit).
fn retry_delay(err: &DiscordError, attempt: u32, repeatable: bool) -> Option<Duration> {
    if attempt >= TRANSIENT_ATTEMPTS {
        return None;
    }
    let at_least = match err {
        DiscordError::Refused {
            status: 429,
            retry_after,
            ..
        } => retry_after.unwrap_or(Duration::from_secs(1)),
        DiscordError::Refused {
            status: 502..=504, ..
        } => Duration::ZERO,
        DiscordError::Refused { status: 500, .. } | DiscordError::Transport { .. }
            if repeatable =>
        {
            Duration::ZERO
        }
        _ => return None,
    };
    if at_least > MAX_RETRY_AFTER {
        return None;
    }
    // 250 ms, 500 ms, 1 s, 2 s between the attempts.
    Some(at_least.max(Duration::from_millis(250 << (attempt - 1).min(3))))
}

/// How a message is sent again after a failure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retry {
    /// Sending it twice does no harm (an edit).
    pub repeatable: bool,
    /// It edits an interaction's response, which may not exist yet (the acknowledgement racing it).
    pub may_race_ack: bool,
    /// At most this many attempts when Discord fails transiently.
    pub attempts: u32,
}

impl Retry {
    /// An edit of an interaction's response.
    pub const EDIT_RESPONSE: Retry = Retry {
        repeatable: true,
        may_race_ack: true,
        attempts: TRANSIENT_ATTEMPTS,
    };
    /// An edit of a posted message.
    pub const EDIT: Retry = Retry {
        repeatable: true,
        may_race_ack: false,
        attempts: TRANSIENT_ATTEMPTS,
    };
    /// A new message (a follow-up, a post).
    pub const NEW: Retry = Retry {
        repeatable: false,
        may_race_ack: false,
        attempts: TRANSIENT_ATTEMPTS,
    };
}

/// Sends the request `request` builds until it succeeds or fails for good: after an unknown interaction
/// response (`retry.may_race_ack`, 404) briefly, after a transient failure as [`retry_delay`] says.
pub(crate) async fn retrying<T, Fut>(
    action: &'static str,
    retry: Retry,
    mut request: impl FnMut() -> Fut,
) -> Result<T, DiscordError>
where
    Fut: std::future::Future<Output = Result<T, twilight_http::Error>>,
{
    let (mut unknown, mut transient) = (0, 0);
    loop {
        let err = match request().await {
            Ok(response) => return Ok(response),
            Err(e) => DiscordError::from_http(action, e),
        };
        let pause = if retry.may_race_ack && err.is_unknown_target() {
            unknown += 1;
            if unknown > UNKNOWN_TARGET_RETRIES {
                return Err(err);
            }
            Duration::from_millis(150 * u64::from(unknown))
        } else {
            transient += 1;
            match retry_delay(&err, transient, retry.repeatable)
                .filter(|_| transient < retry.attempts)
            {
                Some(pause) => pause,
                None => return Err(err),
            }
        };
        tracing::debug!(error = %err, ?pause, "trying again");
        tokio::time::sleep(pause).await;
    }
}

/// The message a successful request returned.
pub(crate) async fn message_of(
    response: twilight_http::Response<twilight_model::channel::Message>,
) -> Result<twilight_model::channel::Message, DiscordError> {
    response
        .model()
        .await
        .map_err(|e| DiscordError::Decode(e.to_string()))
}

impl Discord {
    /// Replaces the original response's content, with the feedback buttons of `feedback` (a command id and
    /// its counts) when given, trying again after transient failures (see the module's documentation).
    /// Returns the message id.
    pub async fn edit_original(
        &self,
        token: &InteractionToken,
        content: &str,
        feedback: Option<(i64, &crate::feedback::Counts)>,
    ) -> Result<u64, DiscordError> {
        self.edit_original_with(token, content, feedback, Retry::EDIT_RESPONSE)
            .await
    }

    /// Shows an answer in progress in the original response: one attempt (plus the brief retries of an
    /// edit racing the acknowledgement).
    pub async fn edit_preview(
        &self,
        token: &InteractionToken,
        content: &str,
    ) -> Result<u64, DiscordError> {
        let once = Retry {
            attempts: 1,
            ..Retry::EDIT_RESPONSE
        };
        self.edit_original_with(token, content, None, once).await
    }

    async fn edit_original_with(
        &self,
        token: &InteractionToken,
        content: &str,
        feedback: Option<(i64, &crate::feedback::Counts)>,
        retry: Retry,
    ) -> Result<u64, DiscordError> {
        let buttons = feedback.map(|(id, counts)| crate::feedback::buttons(id, counts));
        let client = self.http.interaction(self.application_id);
        let response = retrying("edit the answer", retry, || {
            client
                .update_response(token.expose())
                .content(Some(content))
                .components(buttons.as_deref())
                .into_future()
        })
        .await?;
        Ok(message_of(response).await?.id.get())
    }

    /// Deletes the original response (a silent acknowledgement's private "thinking…") in the background,
    /// retrying while the acknowledgement may not have reached Discord yet.
    pub fn delete_original_later(&self, token: InteractionToken) {
        let discord = self.clone();
        tokio::spawn(async move {
            let client = discord.http.interaction(discord.application_id);
            let deleted = retrying(
                "delete a silent acknowledgement",
                Retry::EDIT_RESPONSE,
                || client.delete_response(token.expose()).into_future(),
            )
            .await;
            if let Err(e) = deleted {
                tracing::warn!(error = %e, "could not delete a silent acknowledgement (the member sees a private \"thinking…\" until Discord drops it)");
            }
        });
    }

    /// Adds a follow-up message to the answer. Returns its id.
    pub async fn followup(
        &self,
        token: &InteractionToken,
        content: &str,
        ephemeral: bool,
        feedback: Option<(i64, &crate::feedback::Counts)>,
    ) -> Result<u64, DiscordError> {
        let buttons = feedback
            .map(|(id, counts)| crate::feedback::buttons(id, counts))
            .unwrap_or_default();
        let client = self.http.interaction(self.application_id);
        let response = retrying("send a follow-up message", Retry::NEW, || {
            let request = client
                .create_followup(token.expose())
                .content(content)
                .components(&buttons);
            if ephemeral {
                request.flags(MessageFlags::EPHEMERAL).into_future()
            } else {
                request.into_future()
            }
        })
        .await?;
        Ok(message_of(response).await?.id.get())
    }

    /// Posts a message in a channel (notifications). Returns its id.
    pub async fn post(&self, channel_id: u64, content: &str) -> Result<u64, DiscordError> {
        let channel = twilight_model::id::Id::new_checked(channel_id)
            .ok_or_else(|| DiscordError::Config("channel id 0".into()))?;
        let response = retrying("post a message", Retry::NEW, || {
            self.http
                .create_message(channel)
                .content(content)
                .into_future()
        })
        .await?;
        Ok(message_of(response).await?.id.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: u16, retry_after: Option<f64>) -> DiscordError {
        DiscordError::Refused {
            action: "edit the answer",
            status,
            code: None,
            message: String::new(),
            retry_after: retry_after.map(Duration::from_secs_f64),
        }
    }

    fn transport() -> DiscordError {
        DiscordError::Transport {
            action: "edit the answer",
            message: "connection reset".into(),
        }
    }

    #[test]
    fn rate_limits_and_discords_own_failures_are_tried_again_with_growing_pauses() {
        let ms = Duration::from_millis;
        let unavailable = refused(503, None);
        let pauses: Vec<_> = (1..=5)
            .map(|a| retry_delay(&unavailable, a, false))
            .collect();
        assert_eq!(
            pauses,
            [
                Some(ms(250)),
                Some(ms(500)),
                Some(ms(1000)),
                Some(ms(2000)),
                None
            ]
        );
        // A rate limit waits at least as long as Discord asks, but not for ever.
        assert_eq!(
            retry_delay(&refused(429, Some(1.5)), 1, false),
            Some(ms(1500))
        );
        assert_eq!(
            retry_delay(&refused(429, Some(0.1)), 2, false),
            Some(ms(500))
        );
        assert_eq!(retry_delay(&refused(429, None), 1, false), Some(ms(1000)));
        assert_eq!(retry_delay(&refused(429, Some(60.0)), 1, true), None);
        // Maybe done by Discord: repeated only when repeating does no harm (an edit, not a new message).
        for maybe_done in [refused(500, None), transport()] {
            assert_eq!(retry_delay(&maybe_done, 1, true), Some(ms(250)));
            assert_eq!(retry_delay(&maybe_done, 1, false), None);
        }
        // The request itself is at fault: trying again changes nothing.
        for status in [400, 401, 403, 404, 413] {
            assert_eq!(retry_delay(&refused(status, None), 1, true), None);
        }
        assert_eq!(
            retry_delay(&DiscordError::Decode("x".into()), 1, true),
            None
        );
    }
}
