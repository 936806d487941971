//! Deterministic stand-ins for what a real model server computes: token counts, the
//! split of a reply into streamed tokens, and embedding vectors.
//!
//! None of this tries to match a real tokenizer. What matters to the bot's tests is
//! that the numbers are *deterministic* (the same request always gives the same
//! usage, so budgets and limits can be asserted exactly) and *plausible* (they grow
//! with the text, so accounting code is exercised with realistic magnitudes).

/// Estimated number of tokens in `text`: one token per started group of four
/// characters (`ceil(chars / 4)`), the rule of thumb OpenAI gives for English.
///
/// Used for everything the simulator does not stream itself: prompt/input token
/// counts of all three APIs and the `usage` of embeddings. Output tokens are instead
/// the number of streamed chunks (see [`chunk_text`]), so that `max_output_tokens: 3`
/// means "three chunks", which a test can predict exactly.
pub fn estimate_tokens(text: &str) -> u32 {
    let chars = text.chars().count();
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

/// How a reply is cut into the pieces streamed as deltas (one piece = one "token").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Chunking {
    /// Split before each run of whitespace, keeping the whitespace with the following
    /// word: `"Hi there  you"` → `["Hi", " there", "  you"]`. This mirrors how real
    /// BPE tokens usually carry their leading space, and concatenating the chunks
    /// gives back the exact text.
    #[default]
    Words,
    /// Fixed groups of `n` characters (`n` ≥ 1); useful to test multi-byte text
    /// boundaries or very chatty streams.
    Chars(usize),
    /// The whole reply as one delta.
    Whole,
}

/// Splits `text` according to `chunking`. The concatenation of the result is always
/// exactly `text`; an empty text gives no chunks.
pub fn chunk_text(text: &str, chunking: &Chunking) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    match chunking {
        Chunking::Whole => vec![text.to_owned()],
        Chunking::Chars(n) => {
            let n = (*n).max(1);
            let chars: Vec<char> = text.chars().collect();
            chars.chunks(n).map(|c| c.iter().collect()).collect()
        }
        Chunking::Words => {
            let mut chunks = Vec::new();
            let mut current = String::new();
            let mut prev_ws = false;
            for c in text.chars() {
                let ws = c.is_whitespace();
                // A new chunk starts where whitespace begins after a word.
                if ws
                    && !prev_ws
                    && !current.is_empty()
                    && !current.chars().all(char::is_whitespace)
                {
                    chunks.push(std::mem::take(&mut current));
                }
                current.push(c);
                prev_ws = ws;
            }
            if !current.is_empty() {
                chunks.push(current);
            }
            chunks
        }
    }
}

/// Default dimension of embedding vectors, the one of `text-embedding-3-small`.
pub const DEFAULT_EMBEDDING_DIMENSIONS: usize = 1536;

/// A deterministic embedding of `text` with `dimensions` components (≥ 1), L2-normalised.
///
/// It is a *hashed bag of words*: the text is lower-cased and cut into alphanumeric
/// words; each word adds ±1 to one component chosen (with the sign) by its FNV-1a
/// hash. Two texts sharing many words therefore point in similar directions, so the
/// cosine similarity (a plain dot product, the vectors being unit length) is higher
/// for texts with more words in common — enough for retrieval code to rank
/// "similar" documents first in tests. A text without any word gets the unit vector
/// along the first axis, so the result is never the (un-normalisable) zero vector.
pub fn embed_text(text: &str, dimensions: usize) -> Vec<f32> {
    let dimensions = dimensions.max(1);
    let mut v = vec![0f32; dimensions];
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = fnv1a(word.as_bytes());
        let index = usize::try_from(h % dimensions as u64).unwrap_or(0);
        let sign = if (h >> 63) & 1 == 0 { 1.0 } else { -1.0 };
        v[index] += sign;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm == 0.0 {
        v[0] = 1.0;
    } else {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// 64-bit FNV-1a: tiny, stable across platforms and Rust versions (unlike std's
/// `DefaultHasher`, whose output is explicitly unspecified), so vectors never change.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Cosine similarity of two vectors (0 when either is zero). A helper for tests that
/// check the embeddings rank texts sensibly.
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_is_ceil_of_quarter_chars() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        assert_eq!(estimate_tokens("ééééé"), 2, "counts chars, not bytes");
    }

    #[test]
    fn words_keep_leading_whitespace_and_roundtrip() {
        let text = "Hi there  you\nok";
        let chunks = chunk_text(text, &Chunking::Words);
        assert_eq!(chunks, vec!["Hi", " there", "  you", "\nok"]);
        assert_eq!(chunks.concat(), text);
        assert_eq!(chunk_text("  lead", &Chunking::Words), vec!["  lead"]);
        assert_eq!(chunk_text("trail ", &Chunking::Words), vec!["trail", " "]);
        assert!(chunk_text("", &Chunking::Words).is_empty());
    }

    #[test]
    fn chars_and_whole() {
        assert_eq!(
            chunk_text("abcde", &Chunking::Chars(2)),
            vec!["ab", "cd", "e"]
        );
        assert_eq!(chunk_text("héllo", &Chunking::Chars(0)).len(), 5);
        assert_eq!(chunk_text("a b", &Chunking::Whole), vec!["a b"]);
    }

    #[test]
    fn embeddings_are_unit_deterministic_and_rank_overlap() {
        let a = embed_text("How do I reset my password?", 256);
        let b = embed_text("password reset help", 256);
        let c = embed_text("What is the weather in Paris", 256);
        assert_eq!(a, embed_text("How do I reset my password?", 256));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(cosine_similarity(&a, &b) > cosine_similarity(&a, &c));
        assert_eq!(embed_text("", 4), vec![1.0, 0.0, 0.0, 0.0]);
    }
}
