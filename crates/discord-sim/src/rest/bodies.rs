//! Request bodies and Discord's validation of them.
//!
//! Each struct mirrors the JSON Discord accepts on one endpoint and is built from twilight-model types
//! (components, embeds, allowed mentions), so a body that twilight-model cannot read is a body Discord
//! would not understand either. Unknown fields are refused: Discord silently ignores them, which in
//! production hides typos; in tests we would rather know.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use twilight_model::channel::message::{
    AllowedMentions, Component, Embed, MessageFlags, MessageReference,
};
use twilight_model::channel::thread::AutoArchiveDuration;
use twilight_model::channel::{ChannelFlags, ChannelType};
use twilight_model::id::Id;
use twilight_model::id::marker::{ChannelMarker, StickerMarker, TagMarker};

use super::error::FormErrors;

/// A field that can be absent, explicitly `null` (clear it), or set — PATCH semantics.
#[derive(Clone, Debug, Default)]
pub(crate) enum Patch<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Patch::Null, Patch::Set))
    }
}

impl<T> Patch<T> {
    pub(crate) fn as_option(&self) -> Option<&T> {
        match self {
            Patch::Set(v) => Some(v),
            _ => None,
        }
    }
}

/// An entry of a body's `attachments`: `id` is the `n` of an uploaded `files[n]` part, or (edits) the
/// snowflake of an attachment to keep. See [`crate::attachments::plan`].
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PartialAttachment {
    pub id: Value,
    pub filename: Option<String>,
    pub description: Option<String>,
    pub title: Option<String>,
    pub is_spoiler: Option<bool>,
    #[allow(dead_code)] // voice messages: only checked by deserialization
    pub duration_secs: Option<f64>,
    #[allow(dead_code)]
    pub waveform: Option<String>,
}

impl PartialAttachment {
    /// The entry twilight-model's `InteractionResponseData::attachments` (uploads only) describes.
    pub(crate) fn from_twilight(a: &twilight_model::http::attachment::Attachment) -> Self {
        Self {
            id: Value::from(a.id),
            filename: Some(a.filename.clone()),
            description: a.description.clone(),
            title: a.title.clone(),
            is_spoiler: a.is_spoiler,
            duration_secs: a.duration_secs,
            waveform: a.waveform.clone(),
        }
    }
}

impl Patch<Vec<PartialAttachment>> {
    /// An edit's `attachments` as "absent" or "given" (`null` counts as an empty list).
    pub(crate) fn as_listed(&self) -> Option<&[PartialAttachment]> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(&[]),
            Patch::Set(v) => Some(v),
        }
    }
}

/// `POST /channels/{id}/messages`, the `message` of a forum post, and interaction follow-ups (which
/// accept the webhook-execute fields too).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // some fields are only validated by deserialization
pub(crate) struct CreateMessage {
    pub content: Option<String>,
    pub embeds: Option<Vec<Embed>>,
    pub components: Option<Vec<Component>>,
    pub allowed_mentions: Option<AllowedMentions>,
    pub flags: Option<MessageFlags>,
    pub message_reference: Option<MessageReference>,
    pub nonce: Option<Value>,
    pub enforce_nonce: Option<bool>,
    pub tts: Option<bool>,
    pub sticker_ids: Option<Vec<Id<StickerMarker>>>,
    pub attachments: Option<Vec<PartialAttachment>>,
    pub poll: Option<Value>,
    // Webhook-execute fields (follow-ups).
    pub username: Option<String>,
    pub avatar_url: Option<String>,
    pub thread_name: Option<String>,
}

/// `PATCH /channels/{id}/messages/{id}` and the webhook message edits (`@original`, follow-ups).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct EditMessage {
    #[serde(default)]
    pub content: Patch<String>,
    #[serde(default)]
    pub embeds: Patch<Vec<Embed>>,
    #[serde(default)]
    pub components: Patch<Vec<Component>>,
    #[serde(default)]
    pub allowed_mentions: Patch<AllowedMentions>,
    pub flags: Option<MessageFlags>,
    #[serde(default)]
    pub attachments: Patch<Vec<PartialAttachment>>,
    pub poll: Option<Value>,
}

/// `POST /channels/{id}/threads`: a forum post (with `message`) or a thread in a text channel.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartThread {
    pub name: String,
    pub message: Option<CreateMessage>,
    pub applied_tags: Option<Vec<Id<TagMarker>>>,
    pub auto_archive_duration: Option<AutoArchiveDuration>,
    pub rate_limit_per_user: Option<u16>,
    #[serde(rename = "type")]
    pub kind: Option<ChannelType>,
    pub invitable: Option<bool>,
}

/// `PATCH /channels/{id}`: thread fields plus the common channel settings twilight can send.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct UpdateChannel {
    pub name: Option<String>,
    pub archived: Option<bool>,
    pub locked: Option<bool>,
    pub auto_archive_duration: Option<AutoArchiveDuration>,
    #[serde(default)]
    pub applied_tags: Patch<Vec<Id<TagMarker>>>,
    #[serde(default)]
    pub flags: Patch<ChannelFlags>,
    pub invitable: Option<bool>,
    pub rate_limit_per_user: Option<u16>,
    #[serde(default)]
    pub topic: Patch<String>,
    pub nsfw: Option<bool>,
    #[serde(default)]
    pub position: Patch<u64>,
    #[serde(default)]
    pub parent_id: Patch<Id<ChannelMarker>>,
    pub permission_overwrites:
        Option<Vec<twilight_model::channel::permission_overwrite::PermissionOverwrite>>,
    pub available_tags: Option<Vec<twilight_model::channel::forum::ForumTag>>,
    pub bitrate: Option<u32>,
    pub user_limit: Option<u16>,
    #[serde(default)]
    pub rtc_region: Patch<String>,
    pub video_quality_mode: Option<Value>,
    pub default_forum_layout: Option<Value>,
    #[serde(default)]
    pub default_reaction_emoji: Patch<Value>,
    #[serde(default)]
    pub default_sort_order: Patch<Value>,
    #[serde(default)]
    pub default_thread_rate_limit_per_user: Patch<u16>,
    #[serde(rename = "type")]
    pub kind: Option<ChannelType>,
}

/// Limits from Discord's documentation.
pub(crate) const MAX_CONTENT: usize = 2000;
const MAX_EMBEDS: usize = 10;
const MAX_ROWS: usize = 5;
const MAX_BUTTONS_PER_ROW: usize = 5;
const MAX_CUSTOM_ID: usize = 100;
const MAX_LABEL: usize = 80;

/// Validates the message parts common to every endpoint that creates or edits a message.
pub(crate) fn validate_message(
    errs: &mut FormErrors,
    prefix: &[&str],
    content: Option<&str>,
    embeds: Option<&[Embed]>,
    components: Option<&[Component]>,
    flags: Option<MessageFlags>,
) {
    let path = |tail: &[&str]| -> Vec<String> {
        prefix
            .iter()
            .chain(tail.iter())
            .map(|s| (*s).to_owned())
            .collect()
    };
    if let Some(c) = content
        && c.chars().count() > MAX_CONTENT
    {
        errs.add_path(
            path(&["content"]),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_CONTENT} or fewer in length."),
        );
    }
    if let Some(e) = embeds {
        if e.len() > MAX_EMBEDS {
            errs.add_path(
                path(&["embeds"]),
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {MAX_EMBEDS} or fewer in length."),
            );
        }
        let mut total = 0;
        for (i, embed) in e.iter().enumerate() {
            let i = i.to_string();
            let mut check = |field: &str, text: Option<&str>, max: usize| {
                if let Some(t) = text {
                    let n = t.chars().count();
                    total += n;
                    if n > max {
                        errs.add_path(
                            path(&["embeds", &i, field]),
                            "BASE_TYPE_MAX_LENGTH",
                            format!("Must be {max} or fewer in length."),
                        );
                    }
                }
            };
            check("title", embed.title.as_deref(), 256);
            check("description", embed.description.as_deref(), 4096);
            check(
                "footer",
                embed.footer.as_ref().map(|f| f.text.as_str()),
                2048,
            );
            check(
                "author",
                embed.author.as_ref().map(|a| a.name.as_str()),
                256,
            );
            for f in &embed.fields {
                check("fields", Some(&f.name), 256);
                check("fields", Some(&f.value), 1024);
            }
            if embed.fields.len() > 25 {
                errs.add_path(
                    path(&["embeds", &i, "fields"]),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.".into(),
                );
            }
        }
        if total > 6000 {
            errs.add_path(
                path(&["embeds"]),
                "MAX_EMBED_SIZE_EXCEEDED",
                "Embed size exceeds maximum size of 6000".into(),
            );
        }
    }
    if let Some(c) = components {
        let v2 = flags.is_some_and(|f| f.bits() & (1 << 15) != 0);
        if !v2 {
            validate_rows(errs, &path(&["components"]), c);
        }
    }
}

/// Classic (non-"components v2") messages: up to 5 action rows, each with up to 5 buttons or one select.
fn validate_rows(errs: &mut FormErrors, base: &[String], rows: &[Component]) {
    let at = |tail: &[&str]| -> Vec<String> {
        base.iter()
            .cloned()
            .chain(tail.iter().map(|s| (*s).to_owned()))
            .collect()
    };
    if rows.len() > MAX_ROWS {
        errs.add_path(
            base.to_vec(),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_ROWS} or fewer in length."),
        );
    }
    let mut seen_ids: Vec<String> = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let r = r.to_string();
        let Component::ActionRow(row) = row else {
            errs.add_path(
                at(&[&r, "type"]),
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (1,).".into(),
            );
            continue;
        };
        if row.components.len() > MAX_BUTTONS_PER_ROW {
            errs.add_path(
                at(&[&r, "components"]),
                "BASE_TYPE_MAX_LENGTH",
                format!("Must be {MAX_BUTTONS_PER_ROW} or fewer in length."),
            );
        }
        let selects = row
            .components
            .iter()
            .filter(|c| matches!(c, Component::SelectMenu(_)))
            .count();
        if selects > 0 && row.components.len() > 1 {
            errs.add_path(
                at(&[&r, "components"]),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width".into(),
            );
        }
        for (c, comp) in row.components.iter().enumerate() {
            let c = c.to_string();
            match comp {
                Component::Button(b) => {
                    let is_link = b.url.is_some() || b.sku_id.is_some();
                    match (&b.custom_id, is_link) {
                        (Some(id), false) => {
                            check_custom_id(errs, at(&[&r, "components", &c, "custom_id"]), id);
                            seen_ids.push(id.clone());
                        }
                        (None, false) => errs.add_path(
                            at(&[&r, "components", &c, "custom_id"]),
                            "BASE_TYPE_REQUIRED",
                            "This field is required".into(),
                        ),
                        (Some(_), true) => errs.add_path(
                            at(&[&r, "components", &c, "custom_id"]),
                            "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                            "A custom id cannot be set on a link button".into(),
                        ),
                        (None, true) => {}
                    }
                    if let Some(l) = &b.label
                        && l.chars().count() > MAX_LABEL
                    {
                        errs.add_path(
                            at(&[&r, "components", &c, "label"]),
                            "BASE_TYPE_MAX_LENGTH",
                            format!("Must be {MAX_LABEL} or fewer in length."),
                        );
                    }
                }
                Component::SelectMenu(s) => {
                    check_custom_id(errs, at(&[&r, "components", &c, "custom_id"]), &s.custom_id);
                    seen_ids.push(s.custom_id.clone());
                    if s.options.as_ref().is_some_and(|o| o.len() > 25) {
                        errs.add_path(
                            at(&[&r, "components", &c, "options"]),
                            "BASE_TYPE_MAX_LENGTH",
                            "Must be 25 or fewer in length.".into(),
                        );
                    }
                }
                Component::ActionRow(_) => errs.add_path(
                    at(&[&r, "components", &c, "type"]),
                    "UNION_TYPE_CHOICES",
                    "Action rows cannot contain action rows".into(),
                ),
                _ => {}
            }
        }
    }
    let mut sorted = seen_ids.clone();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        errs.add_path(
            base.to_vec(),
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated".into(),
        );
    }
}

fn check_custom_id(errs: &mut FormErrors, path: Vec<String>, id: &str) {
    let n = id.chars().count();
    if n == 0 || n > MAX_CUSTOM_ID {
        errs.add_path(
            path,
            "BASE_TYPE_BAD_LENGTH",
            format!("Must be between 1 and {MAX_CUSTOM_ID} in length."),
        );
    }
}

/// A modal (callback type 9): title ≤ 45, custom_id ≤ 100, 1–5 rows/labels holding text inputs.
pub(crate) fn validate_modal(
    errs: &mut FormErrors,
    data: &twilight_model::http::interaction::InteractionResponseData,
) {
    match &data.title {
        Some(t) => errs.max_len(&["data", "title"], t, 45),
        None => errs.add(
            &["data", "title"],
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ),
    }
    match &data.custom_id {
        Some(id) => check_custom_id(errs, vec!["data".into(), "custom_id".into()], id),
        None => errs.add(
            &["data", "custom_id"],
            "BASE_TYPE_REQUIRED",
            "This field is required",
        ),
    }
    let comps = data.components.as_deref().unwrap_or_default();
    if comps.is_empty() || comps.len() > 5 {
        errs.add(
            &["data", "components"],
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 5 in length.",
        );
    }
    for (i, c) in comps.iter().enumerate() {
        let i = i.to_string();
        let inputs: Vec<&Component> = match c {
            Component::ActionRow(r) => r.components.iter().collect(),
            Component::Label(l) => vec![l.component.as_ref()],
            Component::TextDisplay(_) => vec![],
            _ => {
                errs.add(
                    &["data", "components", &i, "type"],
                    "UNION_TYPE_CHOICES",
                    "Modals hold action rows or labels",
                );
                continue;
            }
        };
        for input in inputs {
            if let Component::TextInput(t) = input {
                check_custom_id(
                    errs,
                    vec![
                        "data".into(),
                        "components".into(),
                        i.clone(),
                        "custom_id".into(),
                    ],
                    &t.custom_id,
                );
                #[allow(deprecated)]
                if let Some(l) = &t.label {
                    errs.max_len(&["data", "components", &i, "label"], l, 45);
                }
            }
        }
    }
}

/// Application command checks from Discord's docs: names 1–32 lower-case, descriptions 1–100,
/// ≤ 25 options, unique names.
pub(crate) fn validate_commands(
    errs: &mut FormErrors,
    commands: &[twilight_model::application::command::Command],
) {
    use twilight_model::application::command::CommandType;
    let mut names: Vec<(&str, CommandType)> = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        let i = i.to_string();
        let n = c.name.chars().count();
        let chat = c.kind == CommandType::ChatInput;
        if n == 0
            || n > 32
            || (chat
                && c.name
                    .chars()
                    .any(|ch| ch.is_uppercase() || ch.is_whitespace()))
        {
            errs.add(
                &[&i, "name"],
                "APPLICATION_COMMAND_INVALID_NAME",
                format!("Command name is invalid: {:?}", c.name),
            );
        }
        if chat && (c.description.is_empty() || c.description.chars().count() > 100) {
            errs.add(
                &[&i, "description"],
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
        }
        if c.options.len() > 25 {
            errs.add(
                &[&i, "options"],
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            );
        }
        if names.contains(&(c.name.as_str(), c.kind)) {
            errs.add(
                &[&i, "name"],
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                format!("Application command names must be unique: {}", c.name),
            );
        }
        names.push((c.name.as_str(), c.kind));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_distinguishes_null_from_absent() {
        let e: EditMessage = serde_json::from_str(r#"{"content": null}"#).unwrap();
        assert!(matches!(e.content, Patch::Null));
        assert!(matches!(e.components, Patch::Absent));
        let e: EditMessage = serde_json::from_str(r#"{"content": "x"}"#).unwrap();
        assert!(matches!(e.content, Patch::Set(ref s) if s == "x"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<CreateMessage>(r#"{"contnet": "typo"}"#).is_err());
    }

    #[test]
    fn too_many_buttons_and_long_ids_are_reported() {
        let button =
            |id: &str| serde_json::json!({"type": 2, "style": 1, "label": "x", "custom_id": id});
        let row: Vec<Value> = (0..6).map(|i| button(&format!("b{i}"))).collect();
        let long = "x".repeat(101);
        let comps: Vec<Component> = serde_json::from_value(serde_json::json!([
            {"type": 1, "components": row},
            {"type": 1, "components": [button(&long)]},
        ]))
        .unwrap();
        let mut errs = FormErrors::default();
        validate_message(&mut errs, &[], None, None, Some(&comps), None);
        let j = errs.to_json();
        assert!(
            j["components"]["0"]["components"]["_errors"].is_array(),
            "{j}"
        );
        assert!(
            j["components"]["1"]["components"]["0"]["custom_id"]["_errors"].is_array(),
            "{j}"
        );
    }
}
