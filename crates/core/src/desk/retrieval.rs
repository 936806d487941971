//! Ranked retrieval of trained answers and knowledge-base entries.
//!
//! The database does the first, cheap step: its full-text index (SQLite FTS5 with BM25, PostgreSQL
//! `tsvector` with `ts_rank_cd`) returns the best few dozen candidates for the [`query_terms`] of a
//! message, without reading every entry. This module does the rest on those candidates only.

use crate::desk::model::{EntryKind, TextMatch};
use std::collections::BTreeSet;

/// At most this many terms go to the full-text index: a long message would otherwise match most entries.
pub const MAX_QUERY_TERMS: usize = 12;

/// English function words that carry no meaning for matching. Kept short on purpose: words like "not" or
/// "how" change what a question asks and stay.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "been", "but", "by", "do", "does", "for",
    "from", "had", "has", "have", "i", "if", "in", "into", "is", "it", "its", "me", "my", "of",
    "on", "or", "our", "so", "that", "the", "their", "them", "then", "there", "these", "they",
    "this", "to", "us", "was", "we", "were", "will", "with", "you", "your",
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

/// Which terms a full-text search uses, chosen by how many entries contain each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermSelection {
    /// Entries containing any of these (the rarer terms of the message).
    Any(Vec<String>),
    /// Entries containing all of these: the message has only very common words, and entries with all of
    /// them are the ones worth ranking.
    All(Vec<String>),
}

/// Picks the terms to search with, from each term's document count (`df`, capped at `cap`).
///
/// Ranking a full-text match costs about the same for every matching entry, so a term found in most
/// entries ("account" in a support desk) would make every search rank most of the guild, while adding
/// almost nothing to the ranking (BM25 weighs a term by its rarity). So: the rarer terms (fewer than
/// `cap` entries), rarest first, as long as their entries add up to at most `budget` (always at least
/// one); if every term is that common, the entries containing the three rarest of them.
pub fn select_terms(terms: &[(String, u32)], cap: u32, budget: u32) -> TermSelection {
    let mut sorted: Vec<&(String, u32)> = terms.iter().collect();
    sorted.sort_by_key(|(_, df)| *df);
    let rare: Vec<&(String, u32)> = sorted.iter().copied().filter(|(_, df)| *df < cap).collect();
    if rare.is_empty() {
        return TermSelection::All(sorted.iter().take(3).map(|(t, _)| t.clone()).collect());
    }
    let mut chosen = Vec::new();
    let mut total = 0u64;
    for (term, df) in rare {
        if !chosen.is_empty() && total + u64::from(*df) > u64::from(budget) {
            break;
        }
        total += u64::from(*df);
        chosen.push(term.clone());
    }
    TermSelection::Any(chosen)
}

/// A word reduced to a comparable form: lower case (already) and English plurals made singular, so that
/// "passwords" and "password" count as the same word in [`lexical_confidence`]. Deliberately light (the
/// database's full-text index does real stemming); this only needs to agree on plurals.
fn stem(word: &str) -> String {
    let n = word.chars().count();
    if n > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    if n > 4
        && ["sses", "shes", "ches", "xes"]
            .iter()
            .any(|s| word.ends_with(s))
    {
        return word[..word.len() - 2].to_string();
    }
    if n > 3 && word.ends_with('s') && !["ss", "us", "is"].iter().any(|s| word.ends_with(s)) {
        return word[..word.len() - 1].to_string();
    }
    word.to_string()
}

/// The meaningful, stemmed words of a text, as a set.
fn content_words(text: &str) -> BTreeSet<String> {
    words(text)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .map(|w| stem(&w))
        .collect()
}

/// How sure we are that `message` asks the same as the trained `question`, from their words alone: the
/// Dice coefficient of their meaningful words (2·shared / (words in one + words in the other)). 1 for the
/// same question however it is cased or punctuated; about 0.85 when one word of six or seven differs;
/// 0 when no meaningful word is shared.
///
/// It is a property of the two texts only — unlike BM25, it does not change as entries are added — which
/// is what lets one fixed threshold mean the same in every guild.
pub fn lexical_confidence(message: &str, question: &str) -> f64 {
    let a = content_words(message);
    let b = content_words(question);
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(&b).count();
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

/// How much of `message` a knowledge entry covers: the share of the message's meaningful words that
/// appear in the entry. Entries are long and questions short, so a symmetric measure would call every
/// entry a poor match; coverage asks "does this entry talk about what was asked?".
pub fn coverage(message: &str, entry_text: &str) -> f64 {
    let q = content_words(message);
    if q.is_empty() {
        return 0.0;
    }
    let e = content_words(entry_text);
    q.iter().filter(|w| e.contains(*w)).count() as f64 / q.len() as f64
}

/// Cosine similarity of two embeddings; 0 when their sizes differ or either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// Cosine similarity below which two texts are taken as unrelated. Sentence embeddings of unrelated
/// English texts rarely score below 0.2–0.4 (the vectors share a common direction), so raw cosine would
/// make everything look half-similar. Rescaling `[SEMANTIC_FLOOR, 1]` to `[0, 1]` puts "unrelated" at 0
/// and "the same text" at 1, the two anchors of [`lexical_confidence`]; a close paraphrase (cosine about
/// 0.93) then lands at about 0.86, where a one-word difference lands lexically.
pub const SEMANTIC_FLOOR: f64 = 0.5;

/// [`cosine`] rescaled to the scale of [`lexical_confidence`] (see [`SEMANTIC_FLOOR`]).
pub fn semantic_confidence(cosine: f64) -> f64 {
    ((cosine - SEMANTIC_FLOOR) / (1.0 - SEMANTIC_FLOOR)).clamp(0.0, 1.0)
}

/// One candidate after scoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub kind: EntryKind,
    pub id: i64,
    pub title: String,
    pub body: String,
    pub source: Option<String>,
    /// Calibrated, 0 to 1. Trained answers: is this the same question? Knowledge: does it cover it?
    pub confidence: f64,
    /// The lexical part alone and the semantic part (when an embedding was available), for `/test_ai`.
    pub lexical: f64,
    pub semantic: Option<f64>,
    /// Position in the database's full-text ranking (0 is best).
    pub text_rank: usize,
}

/// Scores the database's candidates against `message`.
///
/// Each candidate's confidence is the better of its lexical confidence and, when both the message and
/// the entry have embeddings, its semantic confidence. Both are calibrated to the same anchors (0:
/// unrelated, 1: the same), so the threshold means the same with or without embeddings: embeddings only
/// add matches that share meaning but not words. Candidates come best first from the full-text index;
/// the result is ordered by confidence, ties keeping the index's order.
pub fn score(message: &str, embedding: Option<&[f32]>, candidates: &[TextMatch]) -> Vec<Scored> {
    let mut scored: Vec<Scored> = candidates
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            let lexical = match c.kind {
                EntryKind::Training => lexical_confidence(message, &c.title),
                EntryKind::Knowledge => coverage(message, &format!("{}\n{}", c.title, c.body)),
            };
            let semantic = match (embedding, c.embedding.as_deref()) {
                (Some(q), Some(e)) => Some(semantic_confidence(cosine(q, e))),
                _ => None,
            };
            Scored {
                kind: c.kind,
                id: c.id,
                title: c.title.clone(),
                body: c.body.clone(),
                source: c.source.clone(),
                confidence: lexical.max(semantic.unwrap_or(0.0)),
                lexical,
                semantic,
                text_rank: rank,
            }
        })
        .collect();
    scored.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.text_rank.cmp(&b.text_rank))
    });
    scored
}

/// The thresholds and sizes that turn scores into a decision (from the runtime configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// A trained answer at or above this is sent as is, without the LLM.
    pub trained: f64,
    /// When the LLM is down, a trained answer at or above this is sent with a note.
    pub fallback: f64,
    /// Entries below this are not given to the LLM as context.
    pub context_min: f64,
    /// At most this many entries go into the LLM's context.
    pub context_entries: usize,
}

/// What to do with a message in a ticket.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Send this trained answer as is.
    Trained(Scored),
    /// Ask the LLM with these entries as context (best first); `fallback` is what to send if it fails.
    Llm {
        context: Vec<Scored>,
        fallback: Option<Scored>,
    },
}

/// Decides between a trained answer and the LLM, from scored trained answers and knowledge entries.
pub fn plan(trained: &[Scored], knowledge: &[Scored], t: &Thresholds) -> Plan {
    if let Some(best) = trained.first().filter(|b| b.confidence >= t.trained) {
        return Plan::Trained(best.clone());
    }
    let mut context: Vec<Scored> = trained
        .iter()
        .chain(knowledge)
        .filter(|s| s.confidence >= t.context_min)
        .cloned()
        .collect();
    context.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    context.truncate(t.context_entries);
    Plan::Llm {
        context,
        fallback: trained
            .first()
            .filter(|b| b.confidence >= t.fallback)
            .cloned(),
    }
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
        let text = (0..40)
            .map(|i| format!("word{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(query_terms(&text).len(), MAX_QUERY_TERMS);
    }

    #[test]
    fn question_keys_ignore_case_punctuation_and_spacing() {
        assert_eq!(
            question_key("How do I reset my password?"),
            question_key("  how do i   reset my password ")
        );
        assert_ne!(
            question_key("reset password"),
            question_key("reset passwords")
        );
    }

    #[test]
    fn lexical_confidence_is_one_for_the_same_question_and_falls_with_each_different_word() {
        let q = "How do I reset my password?";
        assert_eq!(lexical_confidence("how do i reset my PASSWORD", q), 1.0);
        assert_eq!(lexical_confidence("How do I reset my passwords!", q), 1.0);
        let one_off = lexical_confidence("How can I reset my password?", q);
        assert!((0.8..0.9).contains(&one_off), "{one_off}");
        assert!(lexical_confidence("Where is the billing page?", q) < 0.01);
        assert_eq!(lexical_confidence("the of", q), 0.0);
    }

    #[test]
    fn confidence_does_not_depend_on_the_other_entries() {
        let c = TextMatch {
            kind: EntryKind::Training,
            id: 1,
            title: "How do I reset my password?".into(),
            body: "Use the link.".into(),
            tags: vec![],
            source: None,
            embedding: None,
        };
        let alone = score("reset my password", None, std::slice::from_ref(&c));
        let mut many = vec![c.clone()];
        for i in 2..50 {
            many.push(TextMatch {
                id: i,
                title: format!("password topic {i}"),
                ..c.clone()
            });
        }
        let crowded = score("reset my password", None, &many);
        let found = crowded.iter().find(|s| s.id == 1).unwrap();
        assert_eq!(alone[0].confidence, found.confidence);
        assert_eq!(crowded[0].id, 1, "the closest question comes first");
    }

    #[test]
    fn semantic_scale_has_the_same_anchors_as_the_lexical_one() {
        assert_eq!(semantic_confidence(1.0), 1.0);
        assert_eq!(semantic_confidence(0.3), 0.0);
        assert_eq!(semantic_confidence(SEMANTIC_FLOOR), 0.0);
        assert!((semantic_confidence(0.93) - 0.86).abs() < 0.001);
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 1.0]), 0.0);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
    }

    #[test]
    fn embeddings_add_paraphrases_but_never_lower_a_lexical_match() {
        let c = |id, title: &str, emb: Vec<f32>| TextMatch {
            kind: EntryKind::Training,
            id,
            title: title.into(),
            body: String::new(),
            tags: vec![],
            source: None,
            embedding: Some(emb),
        };
        let q = [1.0f32, 0.0];
        let scored = score(
            "I forgot my login secret",
            Some(&q),
            &[
                c(1, "How do I reset my password?", vec![0.99, 0.14]),
                c(2, "I forgot my login secret", vec![0.0, 1.0]),
            ],
        );
        let by_id = |id| scored.iter().find(|s| s.id == id).unwrap();
        assert!(by_id(1).confidence > 0.9, "paraphrase found by meaning");
        assert_eq!(
            by_id(2).confidence,
            1.0,
            "orthogonal embedding does not lower it"
        );
    }

    fn scored(kind: EntryKind, id: i64, confidence: f64) -> Scored {
        Scored {
            kind,
            id,
            title: String::new(),
            body: String::new(),
            source: None,
            confidence,
            lexical: confidence,
            semantic: None,
            text_rank: 0,
        }
    }

    const T: Thresholds = Thresholds {
        trained: 0.85,
        fallback: 0.6,
        context_min: 0.2,
        context_entries: 2,
    };

    #[test]
    fn a_trained_answer_is_sent_as_is_at_the_threshold_and_not_below() {
        let k = [scored(EntryKind::Knowledge, 9, 0.9)];
        assert!(
            matches!(plan(&[scored(EntryKind::Training, 1, 0.85)], &k, &T), Plan::Trained(s) if s.id == 1)
        );
        match plan(&[scored(EntryKind::Training, 1, 0.84)], &k, &T) {
            Plan::Llm { context, fallback } => {
                assert_eq!(context.iter().map(|s| s.id).collect::<Vec<_>>(), vec![9, 1]);
                assert_eq!(fallback.map(|s| s.id), Some(1));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn context_keeps_the_best_entries_above_the_minimum_and_fallback_needs_its_threshold() {
        let trained = [
            scored(EntryKind::Training, 1, 0.5),
            scored(EntryKind::Training, 2, 0.1),
        ];
        let knowledge = [
            scored(EntryKind::Knowledge, 3, 0.7),
            scored(EntryKind::Knowledge, 4, 0.3),
        ];
        match plan(&trained, &knowledge, &T) {
            Plan::Llm { context, fallback } => {
                assert_eq!(context.iter().map(|s| s.id).collect::<Vec<_>>(), vec![3, 1]);
                assert_eq!(fallback, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn searches_use_the_rare_terms_within_a_budget_or_all_of_the_common_ones() {
        let t = |list: &[(&str, u32)]| -> Vec<(String, u32)> {
            list.iter().map(|(w, n)| (w.to_string(), *n)).collect()
        };
        let any = |list: &[&str]| TermSelection::Any(list.iter().map(|w| w.to_string()).collect());
        let all = |list: &[&str]| TermSelection::All(list.iter().map(|w| w.to_string()).collect());
        // Rarest first, while within the budget; common terms left out.
        assert_eq!(
            select_terms(
                &t(&[
                    ("account", 5000),
                    ("kettle", 30),
                    ("x200", 2),
                    ("heat", 900)
                ]),
                2001,
                1000
            ),
            any(&["x200", "kettle", "heat"])
        );
        // The rarest is always searched, even past the budget.
        assert_eq!(
            select_terms(&t(&[("heat", 1500), ("water", 1800)]), 2001, 1000),
            any(&["heat"])
        );
        // Only common terms: entries with all of the three rarest.
        assert_eq!(
            select_terms(
                &t(&[
                    ("how", 9000),
                    ("reset", 2500),
                    ("password", 3000),
                    ("my", 9000)
                ]),
                2001,
                1000
            ),
            all(&["reset", "password", "how"])
        );
        assert_eq!(select_terms(&[], 2001, 1000), all(&[]));
    }
}
