//! Feedback buttons under answers, and the "Other" modal.
//!
//! Custom ids carry everything needed (`dc:fb:<command id>:<kind>`, `dc:fbm:<command id>`), so the buttons
//! keep working after any restart and on any instance: no state lives in memory.

use disconcierge_core::model::FeedbackKind;
use std::collections::BTreeMap;
use twilight_model::channel::message::EmojiReactionType;
use twilight_model::channel::message::component::{
    ActionRow, Button, ButtonStyle, Component, Label, TextInput, TextInputStyle,
};

/// Counts per kind, as shown on the buttons.
pub type Counts = BTreeMap<FeedbackKind, u32>;

const BUTTON_PREFIX: &str = "dc:fb:";
const MODAL_PREFIX: &str = "dc:fbm:";
pub const DETAIL_FIELD: &str = "detail";

/// The texts of the "Other" modal, from the runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModalTexts {
    pub title: String,
    pub label: String,
    pub placeholder: String,
    pub min_length: u16,
    pub max_length: u16,
}

/// What a component custom id means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackId {
    Button { command_id: i64, kind: FeedbackKind },
    Modal { command_id: i64 },
}

pub fn parse(custom_id: &str) -> Option<FeedbackId> {
    if let Some(rest) = custom_id.strip_prefix(BUTTON_PREFIX) {
        let (id, kind) = rest.split_once(':')?;
        return Some(FeedbackId::Button {
            command_id: id.parse().ok()?,
            kind: kind.parse().ok()?,
        });
    }
    let id = custom_id.strip_prefix(MODAL_PREFIX)?;
    Some(FeedbackId::Modal {
        command_id: id.parse().ok()?,
    })
}

fn style(kind: FeedbackKind) -> (&'static str, &'static str) {
    match kind {
        FeedbackKind::Good => ("👍", "Good"),
        FeedbackKind::Outdated => ("🕰️", "Outdated"),
        FeedbackKind::Inaccurate => ("❌", "Inaccurate"),
        FeedbackKind::Other => ("💬", "Other"),
    }
}

/// The row of feedback buttons, each label with its count once someone voted.
pub fn buttons(command_id: i64, counts: &Counts) -> Vec<Component> {
    let buttons = FeedbackKind::ALL
        .iter()
        .map(|kind| {
            let (emoji, name) = style(*kind);
            let count = counts.get(kind).copied().unwrap_or(0);
            Component::Button(Button {
                custom_id: Some(format!("{BUTTON_PREFIX}{command_id}:{}", kind.as_str())),
                disabled: false,
                emoji: Some(EmojiReactionType::Unicode { name: emoji.into() }),
                id: None,
                label: Some(if count > 0 {
                    format!("{name} · {count}")
                } else {
                    name.to_string()
                }),
                sku_id: None,
                style: ButtonStyle::Secondary,
                url: None,
            })
        })
        .collect();
    vec![Component::ActionRow(ActionRow {
        components: buttons,
        id: None,
    })]
}

/// The "Other" modal's custom id and components.
pub fn modal(command_id: i64, texts: &ModalTexts) -> (String, Vec<Component>) {
    #[allow(deprecated)] // `TextInput::label`: the Label component carries the label now.
    let input = TextInput {
        custom_id: DETAIL_FIELD.into(),
        id: None,
        label: None,
        max_length: Some(texts.max_length),
        min_length: Some(texts.min_length),
        placeholder: (!texts.placeholder.is_empty()).then(|| texts.placeholder.clone()),
        required: Some(true),
        style: TextInputStyle::Paragraph,
        value: None,
    };
    let label = Component::Label(Label {
        component: Box::new(Component::TextInput(input)),
        description: None,
        id: None,
        label: texts.label.clone(),
    });
    (format!("{MODAL_PREFIX}{command_id}"), vec![label])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_fit_discords_limit() {
        for kind in FeedbackKind::ALL {
            let id = format!("{BUTTON_PREFIX}{}:{}", i64::MAX, kind.as_str());
            assert!(id.len() <= 100);
            assert_eq!(
                parse(&id),
                Some(FeedbackId::Button {
                    command_id: i64::MAX,
                    kind: *kind
                })
            );
        }
        assert_eq!(
            parse("dc:fbm:42"),
            Some(FeedbackId::Modal { command_id: 42 })
        );
        assert_eq!(parse("dc:fb:42:great"), None);
        assert_eq!(parse("other"), None);
    }

    #[test]
    fn labels_show_counts_once_someone_voted() {
        let mut counts = Counts::new();
        counts.insert(FeedbackKind::Good, 2);
        let rows = buttons(7, &counts);
        let Component::ActionRow(row) = &rows[0] else {
            panic!()
        };
        let labels: Vec<_> = row
            .components
            .iter()
            .map(|c| match c {
                Component::Button(b) => b.label.clone().unwrap(),
                _ => panic!(),
            })
            .collect();
        assert_eq!(labels, ["Good · 2", "Outdated", "Inaccurate", "Other"]);
    }
}
