//! Interaction callbacks and the interaction-token webhook routes (`@original`, follow-ups). These
//! routes authenticate with the token in the path, not the bot token, and all take file uploads.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use twilight_model::http::interaction::InteractionResponse;
use twilight_model::id::Id;
use twilight_model::id::marker::{InteractionMarker, MessageMarker};

use super::bodies::{CreateMessage, EditMessage, validate_message};
use super::channels::validate_edit;
use super::error::{ApiError, FormErrors};
use super::{ReqCtx, check, json, no_content, parse_form, reject, snowflake};
use crate::attachments;
use crate::interactions;
use crate::shared::Shared;
use crate::world::AckVia;

pub(super) async fn callback(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path((id, token)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id: Id<InteractionMarker> = snowflake(&id, ApiError::unknown_interaction)?;
    let (response, files): (InteractionResponse, _) = parse_form(&s, &ctx, body)?;
    let result = s
        .mutate(|w| interactions::apply_callback(&s, w, id, &token, response, files, AckVia::Rest));
    match result {
        Ok(()) => Ok(no_content()),
        // Validation failures are bot bugs; 40060/10062 are runtime answers the bot must handle.
        Err(e) if e.status == axum::http::StatusCode::BAD_REQUEST && e.body["code"] != 40060 => {
            Err(reject(&s, &ctx, e))
        }
        Err(e) => Err(e),
    }
}

/// Finds the interaction of a webhook route.
///
/// A bot answering a webhook delivery may send its HTTP answer (say, a deferral) and at once PATCH
/// `@original`; the simulator may not have applied the answer yet, which on Discord practically never
/// shows. So while the answer is in flight and nothing acknowledged the interaction yet, the route
/// waits for it (bounded) instead of failing with a spurious Unknown Message.
async fn resolve(
    s: &Shared,
    app: &str,
    token: &str,
    message: Option<&str>,
) -> Result<(Id<InteractionMarker>, Option<Id<MessageMarker>>), ApiError> {
    let app: u64 = app.parse().map_err(|_| ApiError::unknown_webhook())?;
    let id = s.read(|w| interactions::by_webhook_token(s, w, app, token))?;
    let _ = s
        .try_wait(
            "the webhook answer",
            std::time::Duration::from_secs(2),
            |w| {
                let r = &w.interactions[&id];
                (!r.awaiting_webhook_response || r.ack.is_some()).then_some(())
            },
        )
        .await;
    let message = match message {
        None | Some("@original") => None,
        Some(m) => Some(snowflake(m, ApiError::unknown_message)?),
    };
    Ok((id, message))
}

pub(super) async fn get_message(
    State(s): State<Arc<Shared>>,
    Path((app, token, message)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (id, message) = resolve(&s, &app, &token, Some(&message)).await?;
    s.read(|w| {
        let target = interactions::webhook_message(w, id, message)?;
        Ok(json(&w.messages[&target]))
    })
}

pub(super) async fn edit_message(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path((app, token, message)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, message) = resolve(&s, &app, &token, Some(&message)).await?;
    let existing = s.read(|w| {
        let target = interactions::webhook_message(w, id, message)?;
        Ok::<_, ApiError>(w.messages[&target].attachments.clone())
    })?;
    let (edit, files): (EditMessage, _) = parse_form(&s, &ctx, body)?;
    let mut errs = FormErrors::default();
    let planned = validate_edit(&mut errs, &edit, files, &existing);
    check(&s, &ctx, &errs)?;
    s.mutate(|w| {
        let target = interactions::webhook_message(w, id, message)?;
        let msg = interactions::apply_edit(&s, w, target, edit, planned)
            .ok_or_else(ApiError::unknown_message)?;
        Ok(json(&msg))
    })
}

pub(super) async fn delete_message(
    State(s): State<Arc<Shared>>,
    Path((app, token, message)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let (id, message) = resolve(&s, &app, &token, Some(&message)).await?;
    s.mutate(|w| {
        let target = interactions::webhook_message(w, id, message)?;
        crate::messages::delete(w, target);
        Ok(no_content())
    })
}

pub(super) async fn create_followup(
    State(s): State<Arc<Shared>>,
    Extension(ctx): Extension<ReqCtx>,
    Path((app, token)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (id, _) = resolve(&s, &app, &token, None).await?;
    let (create, files): (CreateMessage, _) = parse_form(&s, &ctx, body)?;
    let mut errs = FormErrors::default();
    validate_message(
        &mut errs,
        &[],
        create.content.as_deref(),
        create.embeds.as_deref(),
        create.components.as_deref(),
        create.flags,
    );
    let planned = attachments::plan(&mut errs, &[], create.attachments.as_deref(), files, None)
        .unwrap_or_default();
    check(&s, &ctx, &errs)?;
    if planned.is_empty()
        && create.content.as_deref().unwrap_or_default().is_empty()
        && create.embeds.as_deref().unwrap_or_default().is_empty()
        && create.components.as_deref().unwrap_or_default().is_empty()
    {
        return Err(reject(&s, &ctx, ApiError::empty_message()));
    }
    s.mutate(|w| {
        let msg = interactions::followup(&s, w, id, create, planned)?;
        Ok(json(&msg))
    })
}
