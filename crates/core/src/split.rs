//! Splitting a long answer into Discord messages.
//!
//! Discord refuses messages over 2000 characters. An answer is cut at the best boundary that fits, in this
//! order of preference: a paragraph break, a line break, the end of a sentence, any other whitespace.
//! Since URLs and words contain no whitespace, they are never cut — unless one alone is longer than a whole
//! message, the only case where a hard cut (at a character boundary) happens. A fenced code block
//! (```` ``` ````) that must be split is closed at the end of one message and reopened, with its language, at
//! the start of the next, so every message renders on its own.
//!
//! Lengths are counted in `char`s, as Discord counts them (close enough: Discord counts UTF-16 code units
//! for some limits, so callers keep a small margin below 2000 — see [`DISCORD_SAFE_LIMIT`]).

/// A message limit that leaves room for Discord's UTF-16 counting of astral characters (emoji).
pub const DISCORD_SAFE_LIMIT: usize = 1990;

const FENCE: &str = "```";

/// Splits `text` into pieces of at most `limit` characters each (see the module docs for where it cuts).
/// Empty or whitespace-only input gives no pieces.
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    assert!(
        limit >= 20,
        "a message limit below 20 characters cannot hold a reopened code fence"
    );
    let mut pieces = Vec::new();
    let mut rest: &str = text.trim_end();
    // A code block left open by the previous piece: its opening line (e.g. "```rust") to reopen it.
    let mut reopen: Option<String> = None;

    while !rest.trim().is_empty() {
        let prefix = reopen
            .as_ref()
            .map(|fence| format!("{fence}\n"))
            .unwrap_or_default();
        let prefix_len = prefix.chars().count();
        let rest_len = rest.chars().count();

        if prefix_len + rest_len <= limit {
            pieces.push(format!("{prefix}{rest}"));
            break;
        }

        // Room for the text of this piece; keep room to close a fence ("\n```") if one is open at the cut.
        let budget = limit - prefix_len - (FENCE.len() + 1);
        let cut = best_cut(rest, budget);
        let (head, tail) = rest.split_at(cut);
        let head = head.trim_end();

        let open_at_end = open_fence_after(reopen.as_deref(), head);
        let mut piece = format!("{prefix}{head}");
        if open_at_end.is_some() {
            piece.push('\n');
            piece.push_str(FENCE);
        }
        pieces.push(piece);
        reopen = open_at_end;
        // Whitespace at the cut is dropped, but inside a code block line breaks and indentation matter:
        // only the single newline we cut at is dropped there.
        rest = if reopen.is_some() {
            tail.strip_prefix('\n').unwrap_or(tail)
        } else {
            tail.trim_start()
        };
    }
    pieces
}

/// The byte index at which to cut `text` so that the head has at most `budget` characters.
fn best_cut(text: &str, budget: usize) -> usize {
    // Byte index just after `budget` characters (the head may not go beyond it).
    let max = text
        .char_indices()
        .nth(budget)
        .map(|(i, _)| i)
        .unwrap_or(text.len());
    let window = &text[..max];
    // A boundary must leave some text in the head; require at least a quarter of the budget so a break
    // right at the start does not produce a tiny piece.
    let min = window
        .char_indices()
        .nth(budget / 4)
        .map(|(i, _)| i)
        .unwrap_or(0);

    let candidates: [fn(&str) -> Option<usize>; 4] = [
        |w| w.rfind("\n\n").map(|i| i + 1),
        |w| w.rfind('\n').map(|i| i + 1),
        last_sentence_end,
        |w| w.rfind(char::is_whitespace).map(|i| i + 1),
    ];
    for find in candidates {
        if let Some(i) = find(window).filter(|i| *i > min) {
            return i;
        }
    }
    // One word (or URL) longer than a message: cut it, at a character boundary.
    max
}

/// Byte index just after the last sentence end (`. `, `! `, `? `, also before a newline) in `w`.
fn last_sentence_end(w: &str) -> Option<usize> {
    let bytes = w.as_bytes();
    (1..bytes.len())
        .rev()
        .find(|&i| bytes[i].is_ascii_whitespace() && matches!(bytes[i - 1], b'.' | b'!' | b'?'))
        .map(|i| i + 1)
}

/// Whether a code block is open after `text`, given the fence line open before it; returns the fence
/// line to reopen with (e.g. "```python").
fn open_fence_after(open_before: Option<&str>, text: &str) -> Option<String> {
    let mut open = open_before.map(str::to_string);
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(after) = trimmed.strip_prefix(FENCE) {
            open = match open {
                // A fence line closes an open block (its info string is ignored, as Discord does).
                Some(_) => None,
                None => Some(format!("{FENCE}{}", after.trim())),
            };
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pieces: &[String], limit: usize) {
        for p in pieces {
            assert!(
                p.chars().count() <= limit,
                "piece of {} > {limit}: {p:?}",
                p.chars().count()
            );
            assert!(!p.trim().is_empty());
            // Every piece has balanced fences, so it renders on its own.
            let fences = p
                .lines()
                .filter(|l| l.trim_start().starts_with(FENCE))
                .count();
            assert_eq!(fences % 2, 0, "unbalanced fences in {p:?}");
        }
    }

    /// All words of the input appear whole, in order, in the output.
    fn words_preserved(input: &str, pieces: &[String]) {
        let joined = pieces.join(" ");
        let out: Vec<&str> = joined
            .split_whitespace()
            .filter(|w| !w.starts_with(FENCE))
            .collect();
        let inp: Vec<&str> = input
            .split_whitespace()
            .filter(|w| !w.starts_with(FENCE))
            .collect();
        assert_eq!(out, inp);
    }

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(split_message("hello\n", 2000), ["hello"]);
        assert!(split_message("  \n ", 2000).is_empty());
    }

    #[test]
    fn prefers_paragraphs_then_lines_then_sentences_then_words() {
        let para = "a".repeat(30) + "\n\n" + &"b".repeat(30);
        assert_eq!(split_message(&para, 50), ["a".repeat(30), "b".repeat(30)]);

        let lines = "First line here.\nSecond line is here. And a sentence that goes on";
        assert_eq!(
            split_message(lines, 40),
            [
                "First line here.",
                "Second line is here. And a sentence that goes on"
            ]
            .iter()
            .flat_map(|s| split_message(s, 40))
            .collect::<Vec<_>>()
        );

        let sentences = "One short sentence. Another sentence follows here and it is long";
        let pieces = split_message(sentences, 40);
        assert_eq!(pieces[0], "One short sentence.");
        words_preserved(sentences, &pieces);

        let words = "word ".repeat(30);
        let pieces = split_message(&words, 24);
        check(&pieces, 24);
        words_preserved(&words, &pieces);
    }

    #[test]
    fn never_cuts_a_url() {
        let url = "https://example.com/some/very/long/path?with=query&and=more";
        let text = format!("See {url} for details, and also {url} again.");
        let pieces = split_message(&text, 70);
        check(&pieces, 70);
        assert!(
            pieces
                .iter()
                .all(|p| p.matches("https://").count() == p.matches(url).count()),
            "{pieces:?}"
        );
    }

    #[test]
    fn an_overlong_word_is_cut_only_as_a_last_resort() {
        let word = "x".repeat(50);
        let pieces = split_message(&word, 20);
        check(&pieces, 20);
        assert_eq!(pieces.concat(), word);
    }

    #[test]
    fn code_blocks_are_closed_and_reopened_with_their_language() {
        let code: String = (0..40).map(|i| format!("    let x{i} = {i};\n")).collect();
        let text = format!("Here is the code:\n```rust\n{code}```\nThat's all.");
        let pieces = split_message(&text, 200);
        check(&pieces, 200);
        assert!(pieces.len() >= 4, "{pieces:?}");
        for p in &pieces[1..pieces.len() - 1] {
            assert!(p.starts_with("```rust\n"), "{p:?}");
            assert!(p.ends_with("\n```"), "{p:?}");
        }
        // Indentation inside the block survives the cut.
        assert!(pieces.iter().skip(1).all(|p| {
            p.lines()
                .filter(|l| l.contains("let"))
                .all(|l| l.starts_with("    "))
        }));
        // Every code line is present exactly once.
        for i in 0..40 {
            let line = format!("    let x{i} = {i};");
            assert_eq!(
                pieces
                    .iter()
                    .map(|p| p.matches(&line).count())
                    .sum::<usize>(),
                1,
                "{line}"
            );
        }
        assert!(pieces.last().unwrap().ends_with("That's all."));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let text = "é".repeat(30) + " " + &"ü".repeat(30);
        let pieces = split_message(&text, 40);
        assert_eq!(pieces, ["é".repeat(30), "ü".repeat(30)]);
    }

    #[test]
    fn long_mixed_answer_respects_discords_limit() {
        let mut text = String::new();
        for i in 0..60 {
            text.push_str(&format!("Paragraph {i}: some prose with a link https://docs.rs/crate/{i} and more words.\n\n"));
            if i % 10 == 0 {
                text.push_str("```python\nfor i in range(10):\n    print(i)\n```\n\n");
            }
        }
        let pieces = split_message(&text, DISCORD_SAFE_LIMIT);
        check(&pieces, DISCORD_SAFE_LIMIT);
        words_preserved(&text, &pieces);
        assert!(pieces.len() >= 3);
    }
}
