//! Fitting a conversation's history into the model's context budget.
//!
//! For providers without server-side conversations, disconcierge keeps the history and sends it with each
//! request. It is trimmed from the oldest end so that instructions + history + the new prompt stay within
//! `llm_max_context_tokens`. Turns are dropped in whole exchanges (a question with its answer), so the model
//! never sees an answer without its question. Tokens are estimated at 4 characters each — the usual rule of
//! thumb for English with BPE tokenizers; exact counts would need each model's tokenizer, and the budget is a
//! safety margin, not a billing figure.

/// Estimated tokens of a text (at least 1 for non-empty text).
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count() as u32;
    chars.div_ceil(4)
}

/// A stored turn, oldest first: `true` for the user's, `false` for the assistant's.
pub trait TurnText {
    fn text(&self) -> &str;
    fn is_user(&self) -> bool;
}

/// Index of the first turn to keep, so that `fixed_tokens` (instructions and prompt) plus the kept turns
/// fit in `budget`. The kept part always starts at a user turn.
pub fn first_kept<T: TurnText>(turns: &[T], fixed_tokens: u32, budget: u32) -> usize {
    let mut used = fixed_tokens;
    let mut keep_from = turns.len();
    // Walk back from the newest turn; commit a cut only at the start of a user turn.
    let mut pending = 0u32;
    for i in (0..turns.len()).rev() {
        pending += estimate_tokens(turns[i].text());
        if turns[i].is_user() {
            if used + pending > budget {
                break;
            }
            used += pending;
            pending = 0;
            keep_from = i;
        }
    }
    keep_from
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T(&'static str, bool);

    impl TurnText for T {
        fn text(&self) -> &str {
            self.0
        }
        fn is_user(&self) -> bool {
            self.1
        }
    }

    fn turns() -> Vec<T> {
        vec![
            T("aaaaaaaaaaaaaaaaaaaa", true),  // 5 tokens
            T("bbbbbbbbbbbbbbbbbbbb", false), // 5
            T("cccccccccccccccccccc", true),  // 5
            T("dddddddddddddddddddd", false), // 5
        ]
    }

    #[test]
    fn keeps_everything_that_fits() {
        assert_eq!(first_kept(&turns(), 10, 100), 0);
    }

    #[test]
    fn drops_whole_exchanges_from_the_oldest() {
        // 10 fixed + last exchange (10) = 20 fits; the one before would make 30.
        assert_eq!(first_kept(&turns(), 10, 25), 2);
        assert_eq!(first_kept(&turns(), 10, 30), 0);
        // Nothing fits: keep no history at all.
        assert_eq!(first_kept(&turns(), 10, 15), 4);
    }

    #[test]
    fn never_starts_with_an_answer() {
        // A budget that would fit only the last answer keeps nothing rather than an orphan answer.
        assert_eq!(first_kept(&turns(), 0, 7), 4);
    }

    #[test]
    fn estimates() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcdefgh"), 2);
        assert_eq!(estimate_tokens("ééééé"), 2);
    }
}
