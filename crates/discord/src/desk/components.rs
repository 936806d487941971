//! The support desk's buttons. Custom ids carry everything a click needs (`dct:…`), so buttons keep
//! working after any restart and on any instance; nothing about them is kept in memory.
//!
//! | custom id | button |
//! |---|---|
//! | `dct:open:<category>` | a ticket panel's category |
//! | `dct:human:<ticket id>` | "Talk to a human" under an AI reply |
//! | `dct:resume:<ticket id>` | staff: let the AI answer again after an escalation |
//! | `dct:tl:<page>:<category>` | a page of `/training_list` |
//! | `dct:kv:<page>:<kb id>` | a page of `/kb_view` |
//! | `dct:kbdel:<kb id>` / `dct:kbkeep:<kb id>` | confirming or cancelling `/kb_delete` |
//! | `dct:claim:<ticket id>` | staff: claim the ticket (own it) |
//! | `dct:close:<ticket id>` | close the ticket: the opener is asked to confirm; staff ask the opener |
//! | `dct:closeok:<ticket id>` / `dct:keep:<ticket id>` | confirming or declining the closing |
//! | `dct:reopen:<ticket id>` | reopen a closed ticket (opener or staff) |

use twilight_model::channel::message::component::{ActionRow, Button, ButtonStyle, Component};

/// Discord's limit on a custom id.
const CUSTOM_ID_MAX: usize = 100;
/// A category must fit in a custom id after its prefix (and in a button label, 80).
pub const CATEGORY_MAX: usize = 80;
/// Buttons on one message (5 rows of 5).
pub const PANEL_MAX_CATEGORIES: usize = 25;

/// What a support-desk button means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskButton {
    OpenTicket { category: String },
    TalkToHuman { ticket_id: i64 },
    ResumeAi { ticket_id: i64 },
    Page { list: PagedList, page: u32 },
    ConfirmKbDelete { kb_id: i64 },
    KeepKb { kb_id: i64 },
    Claim { ticket_id: i64 },
    Close { ticket_id: i64 },
    ConfirmClose { ticket_id: i64 },
    KeepOpen { ticket_id: i64 },
    Reopen { ticket_id: i64 },
}

/// A list shown a page at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagedList {
    Training { category: Option<String> },
    Knowledge { kb_id: i64 },
}

impl DeskButton {
    pub fn custom_id(&self) -> String {
        let id = match self {
            DeskButton::OpenTicket { category } => format!("dct:open:{category}"),
            DeskButton::TalkToHuman { ticket_id } => format!("dct:human:{ticket_id}"),
            DeskButton::ResumeAi { ticket_id } => format!("dct:resume:{ticket_id}"),
            DeskButton::Page {
                list: PagedList::Training { category },
                page,
            } => format!("dct:tl:{page}:{}", category.as_deref().unwrap_or_default()),
            DeskButton::Page {
                list: PagedList::Knowledge { kb_id },
                page,
            } => format!("dct:kv:{page}:{kb_id}"),
            DeskButton::ConfirmKbDelete { kb_id } => format!("dct:kbdel:{kb_id}"),
            DeskButton::KeepKb { kb_id } => format!("dct:kbkeep:{kb_id}"),
            DeskButton::Claim { ticket_id } => format!("dct:claim:{ticket_id}"),
            DeskButton::Close { ticket_id } => format!("dct:close:{ticket_id}"),
            DeskButton::ConfirmClose { ticket_id } => format!("dct:closeok:{ticket_id}"),
            DeskButton::KeepOpen { ticket_id } => format!("dct:keep:{ticket_id}"),
            DeskButton::Reopen { ticket_id } => format!("dct:reopen:{ticket_id}"),
        };
        debug_assert!(id.len() <= CUSTOM_ID_MAX, "{id}");
        id
    }

    pub fn parse(custom_id: &str) -> Option<DeskButton> {
        let rest = custom_id.strip_prefix("dct:")?;
        let (kind, arg) = rest.split_once(':')?;
        Some(match kind {
            "open" if !arg.is_empty() => DeskButton::OpenTicket {
                category: arg.to_string(),
            },
            "human" => DeskButton::TalkToHuman {
                ticket_id: arg.parse().ok()?,
            },
            "resume" => DeskButton::ResumeAi {
                ticket_id: arg.parse().ok()?,
            },
            "tl" => {
                let (page, category) = arg.split_once(':')?;
                DeskButton::Page {
                    list: PagedList::Training {
                        category: (!category.is_empty()).then(|| category.to_string()),
                    },
                    page: page.parse().ok()?,
                }
            }
            "kv" => {
                let (page, kb) = arg.split_once(':')?;
                DeskButton::Page {
                    list: PagedList::Knowledge {
                        kb_id: kb.parse().ok()?,
                    },
                    page: page.parse().ok()?,
                }
            }
            "kbdel" => DeskButton::ConfirmKbDelete {
                kb_id: arg.parse().ok()?,
            },
            "kbkeep" => DeskButton::KeepKb {
                kb_id: arg.parse().ok()?,
            },
            "claim" => DeskButton::Claim {
                ticket_id: arg.parse().ok()?,
            },
            "close" => DeskButton::Close {
                ticket_id: arg.parse().ok()?,
            },
            "closeok" => DeskButton::ConfirmClose {
                ticket_id: arg.parse().ok()?,
            },
            "keep" => DeskButton::KeepOpen {
                ticket_id: arg.parse().ok()?,
            },
            "reopen" => DeskButton::Reopen {
                ticket_id: arg.parse().ok()?,
            },
            _ => return None,
        })
    }
}

/// Buttons under a desk message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Controls {
    #[default]
    None,
    /// One button per category (a ticket panel).
    Panel { categories: Vec<String> },
    /// "Talk to a human" under an AI reply.
    TalkToHuman { ticket_id: i64 },
    /// Staff's "Let the AI answer again" under an escalation.
    ResumeAi { ticket_id: i64 },
    /// Previous / next for page `page` (1-based) of `pages`.
    Pager {
        list: PagedList,
        page: u32,
        pages: u32,
    },
    /// Delete / keep for `/kb_delete`.
    ConfirmKbDelete { kb_id: i64 },
    /// Under a ticket's welcome message: talk to a human, claim (staff), close.
    Ticket { ticket_id: i64 },
    /// Close / keep open: confirming the closing of a ticket.
    ConfirmClose { ticket_id: i64 },
    /// Under a closed ticket's announcement: reopen.
    Reopen { ticket_id: i64 },
}

fn button(custom: DeskButton, label: &str, style: ButtonStyle, disabled: bool) -> Component {
    Component::Button(Button {
        custom_id: Some(custom.custom_id()),
        disabled,
        emoji: None,
        id: None,
        label: Some(label.chars().take(80).collect()),
        sku_id: None,
        style,
        url: None,
    })
}

fn rows(buttons: Vec<Component>) -> Vec<Component> {
    buttons
        .chunks(5)
        .map(|chunk| {
            Component::ActionRow(ActionRow {
                components: chunk.to_vec(),
                id: None,
            })
        })
        .collect()
}

/// The message components for `controls`.
pub fn components(controls: &Controls) -> Vec<Component> {
    match controls {
        Controls::None => Vec::new(),
        Controls::Panel { categories } => rows(
            categories
                .iter()
                .take(PANEL_MAX_CATEGORIES)
                .map(|c| {
                    button(
                        DeskButton::OpenTicket {
                            category: c.clone(),
                        },
                        c,
                        ButtonStyle::Primary,
                        false,
                    )
                })
                .collect(),
        ),
        Controls::TalkToHuman { ticket_id } => rows(vec![button(
            DeskButton::TalkToHuman {
                ticket_id: *ticket_id,
            },
            "Talk to a human",
            ButtonStyle::Secondary,
            false,
        )]),
        Controls::ResumeAi { ticket_id } => rows(vec![button(
            DeskButton::ResumeAi {
                ticket_id: *ticket_id,
            },
            "Let the AI answer again (staff)",
            ButtonStyle::Secondary,
            false,
        )]),
        Controls::Pager { list, page, pages } => {
            let at = |page: u32| DeskButton::Page {
                list: list.clone(),
                page,
            };
            // Custom ids must differ on one message, even for disabled buttons: page ± 1 always do.
            rows(vec![
                button(
                    at(page.saturating_sub(1)),
                    "◀ Previous",
                    ButtonStyle::Secondary,
                    *page <= 1,
                ),
                button(
                    at(page.saturating_add(1)),
                    "Next ▶",
                    ButtonStyle::Secondary,
                    *page >= *pages,
                ),
            ])
        }
        Controls::Ticket { ticket_id } => {
            let ticket_id = *ticket_id;
            rows(vec![
                button(
                    DeskButton::TalkToHuman { ticket_id },
                    "Talk to a human",
                    ButtonStyle::Secondary,
                    false,
                ),
                button(
                    DeskButton::Claim { ticket_id },
                    "Claim (staff)",
                    ButtonStyle::Primary,
                    false,
                ),
                button(
                    DeskButton::Close { ticket_id },
                    "Close",
                    ButtonStyle::Danger,
                    false,
                ),
            ])
        }
        Controls::ConfirmClose { ticket_id } => rows(vec![
            button(
                DeskButton::ConfirmClose {
                    ticket_id: *ticket_id,
                },
                "Close the ticket",
                ButtonStyle::Danger,
                false,
            ),
            button(
                DeskButton::KeepOpen {
                    ticket_id: *ticket_id,
                },
                "Keep it open",
                ButtonStyle::Secondary,
                false,
            ),
        ]),
        Controls::Reopen { ticket_id } => rows(vec![button(
            DeskButton::Reopen {
                ticket_id: *ticket_id,
            },
            "Reopen",
            ButtonStyle::Secondary,
            false,
        )]),
        Controls::ConfirmKbDelete { kb_id } => rows(vec![
            button(
                DeskButton::ConfirmKbDelete { kb_id: *kb_id },
                "Delete it and all its entries",
                ButtonStyle::Danger,
                false,
            ),
            button(
                DeskButton::KeepKb { kb_id: *kb_id },
                "Keep it",
                ButtonStyle::Secondary,
                false,
            ),
        ]),
    }
}

/// Reads the categories of `/ticket_panel` (comma-separated): trimmed, without empties or duplicates
/// (ignoring case), each at most [`CATEGORY_MAX`] characters, at most [`PANEL_MAX_CATEGORIES`].
pub fn parse_categories(text: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for c in text.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        if c.chars().count() > CATEGORY_MAX || c.len() > CUSTOM_ID_MAX - "dct:open:".len() {
            return Err(format!(
                "the category \"{c}\" is longer than {CATEGORY_MAX} characters"
            ));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(c)) {
            out.push(c.to_string());
        }
    }
    if out.is_empty() {
        return Err("give at least one category, e.g. `Billing, Technical, Other`".into());
    }
    if out.len() > PANEL_MAX_CATEGORIES {
        return Err(format!(
            "a panel holds at most {PANEL_MAX_CATEGORIES} categories; {} were given",
            out.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip_and_fit() {
        let cat = "x".repeat(CATEGORY_MAX);
        for b in [
            DeskButton::OpenTicket { category: cat },
            DeskButton::OpenTicket {
                category: "Billing: refunds".into(),
            },
            DeskButton::TalkToHuman {
                ticket_id: i64::MAX,
            },
            DeskButton::ResumeAi { ticket_id: 7 },
            DeskButton::Page {
                list: PagedList::Training { category: None },
                page: 3,
            },
            DeskButton::Page {
                list: PagedList::Training {
                    category: Some("a:b".into()),
                },
                page: 1,
            },
            DeskButton::Page {
                list: PagedList::Knowledge { kb_id: 9 },
                page: 100_000,
            },
            DeskButton::ConfirmKbDelete { kb_id: 4 },
            DeskButton::KeepKb { kb_id: 4 },
            DeskButton::Claim { ticket_id: 5 },
            DeskButton::Close {
                ticket_id: i64::MAX,
            },
            DeskButton::ConfirmClose { ticket_id: 5 },
            DeskButton::KeepOpen { ticket_id: 5 },
            DeskButton::Reopen { ticket_id: 5 },
        ] {
            let id = b.custom_id();
            assert!(id.len() <= CUSTOM_ID_MAX, "{id}");
            assert_eq!(DeskButton::parse(&id), Some(b));
        }
        assert_eq!(DeskButton::parse("dc:fb:1:good"), None);
        assert_eq!(DeskButton::parse("dct:human:x"), None);
        assert_eq!(DeskButton::parse("dct:open:"), None);
    }

    #[test]
    fn categories_are_cleaned_and_bounded() {
        assert_eq!(
            parse_categories(" Billing, technical ,, billing,Other ").unwrap(),
            vec!["Billing", "technical", "Other"]
        );
        assert!(parse_categories(" , ").is_err());
        let many = (0..26)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_categories(&many).unwrap_err().contains("at most 25"));
        // The custom id's limit is in bytes: wide characters allow fewer.
        assert!(parse_categories(&"é".repeat(45)).is_ok());
        assert!(parse_categories(&"é".repeat(46)).is_err());
    }

    #[test]
    fn pager_disables_what_leads_nowhere_and_panels_wrap_rows() {
        let c = components(&Controls::Pager {
            list: PagedList::Knowledge { kb_id: 1 },
            page: 1,
            pages: 1,
        });
        let Component::ActionRow(row) = &c[0] else {
            panic!()
        };
        assert!(
            row.components
                .iter()
                .all(|b| matches!(b, Component::Button(b) if b.disabled))
        );
        let ids: Vec<_> = row
            .components
            .iter()
            .map(|b| match b {
                Component::Button(b) => b.custom_id.clone(),
                _ => None,
            })
            .collect();
        assert_ne!(ids[0], ids[1], "custom ids are unique on a message");
        let panel = components(&Controls::Panel {
            categories: (0..12).map(|i| format!("c{i}")).collect(),
        });
        assert_eq!(panel.len(), 3);
    }
}
