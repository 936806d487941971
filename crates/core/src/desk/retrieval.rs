//! Ranked retrieval of trained answers and knowledge-base entries.
//!
//! The database does the first, cheap step: its full-text index (SQLite FTS5 with BM25, PostgreSQL
//! `tsvector` with `ts_rank_cd`) returns the best few dozen candidates for the [`query_terms`] of a
//! message, without reading every entry. This module does the rest on those candidates only.

use std::collections::BTreeSet;

/// At most this many terms go to the full-text index: a long message would otherwise match most entries.
pub const MAX_QUERY_TERMS: usize = 12;

/// English function words that carry no meaning for matching. Kept short on purpose: words like "not" or
/// "how" change what a question asks and stay.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "been", "but", "by", "do", "does", "for",
    "from", "had", "has", "have", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of", "on",
    "or", "our", "so", "that", "the", "their", "them", "then", "there", "these", "they", "this",
    "to", "us", "was", "we", "were", "will", "with", "you", "your",
];

/// The words of a text: lower-case runs of letters and digits (any script). Everything else separates.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// The terms to look a message up with: its distinct meaningful words, longest (most specific) first,
/// at most [`MAX_QUERY_TERMS`]. Each term is letters and digits only, so it can be put in an FTS5 or
/// `to_tsquery` expression without escaping anything but quotes. Empty when nothing meaningful is left.
pub fn query_terms(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut terms: Vec<String> = words(text)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .collect();
    // Stable: equally long words keep their order in the message.
    terms.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    terms.truncate(MAX_QUERY_TERMS);
    terms
}

/// The key under which a trained question is unique in a guild: its words, lower-case, single-spaced.
/// "How do I reset my password?" and "how do i reset my  password" are the same question.
pub fn question_key(question: &str) -> String {
    words(question).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_function_words_and_duplicates_and_keep_specific_words_first() {
        assert_eq!(
            query_terms("How do I reset my password? The password reset mail never came!"),
            vec!["password", "reset", "never", "mail", "came", "how"]
        );
    }

    #[test]
    fn terms_are_letters_and_digits_only() {
        for t in query_terms("a\"b OR c* (d) -e NEAR/2 'f' café 2fa ключ") {
            assert!(t.chars().all(char::is_alphanumeric), "{t:?}");
        }
        assert!(query_terms("the of and ?!").is_empty());
    }

    #[test]
    fn long_messages_are_capped() {
        let text = (0..40).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(query_terms(&text).len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn question_keys_ignore_case_punctuation_and_spacing() {
        assert_eq!(
            question_key("How do I reset my password?"),
            question_key("  how do i   reset my password ")
        );
        assert_ne!(question_key("reset password"), question_key("reset passwords"));
    }
}
