//! Reading dotenv files the way DisConcierge's did.
//!
//! DisConcierge read `.env` with Go's `godotenv`, which accepts unquoted values containing spaces
//! (`DC_API_CORS_ALLOW_ORIGINS=https://a https://b`, as in its own example). `dotenvy` rejects those lines, so
//! existing files would not load unchanged; the format is small, so it is read here by hand:
//!
//! - blank lines and lines starting with `#` are skipped; an optional `export ` prefix is allowed;
//! - `NAME=value`: an unquoted value is trimmed and ends at ` #` (an inline comment);
//! - `'single quoted'` values are taken literally; `"double quoted"` ones understand `\n`, `\t`, `\"`, `\\`
//!   and may span several lines;
//! - variables are not expanded (`$HOME` stays `$HOME`).

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvError {
    #[error("the file does not exist")]
    NotFound,
    #[error("it could not be read: {0}")]
    Io(String),
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: &'static str },
}

/// Reads a dotenv file into `(name, value)` pairs, in file order.
pub fn read_file(path: &Path) -> Result<Vec<(String, String)>, DotenvError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DotenvError::NotFound,
        _ => DotenvError::Io(e.to_string()),
    })?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let Some((name, rest)) = line.split_once('=') else {
            return Err(DotenvError::Syntax {
                line: line_no,
                reason: "expected NAME=value",
            });
        };
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(DotenvError::Syntax {
                line: line_no,
                reason: "a variable name may hold only letters, digits and '_'",
            });
        }
        let rest = rest.trim_start();
        let value = if let Some(quoted) = rest.strip_prefix('\'') {
            match quoted.find('\'') {
                Some(end) => quoted[..end].to_string(),
                None => {
                    return Err(DotenvError::Syntax {
                        line: line_no,
                        reason: "a single-quoted value has no closing quote",
                    });
                }
            }
        } else if let Some(quoted) = rest.strip_prefix('"') {
            // Collect until the closing unescaped quote, possibly over several lines.
            let mut value = String::new();
            let mut chunk = quoted.to_string();
            loop {
                let mut chars = chunk.chars();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => value.push('\\'),
                        },
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                if closed {
                    break;
                }
                if i >= lines.len() {
                    return Err(DotenvError::Syntax {
                        line: line_no,
                        reason: "a double-quoted value has no closing quote",
                    });
                }
                value.push('\n');
                chunk = lines[i].to_string();
                i += 1;
            }
            value
        } else {
            let end = rest
                .char_indices()
                .find(|(idx, c)| *c == '#' && *idx > 0 && rest[..*idx].ends_with([' ', '\t']))
                .map(|(idx, _)| idx)
                .unwrap_or(rest.len());
            rest[..end].trim().to_string()
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap()
    }

    #[test]
    fn reads_godotenv_style_lines() {
        let text = "# comment\n\nA=1\nexport B = two words here \nC=\"quoted # not a comment\"\nD='lit\\n'\nE=x # comment\nF=\nG=a#b\n";
        let got = pairs(text);
        let want = [
            ("A", "1"),
            ("B", "two words here"),
            ("C", "quoted # not a comment"),
            ("D", "lit\\n"),
            ("E", "x"),
            ("F", ""),
            ("G", "a#b"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
    }

    #[test]
    fn double_quotes_understand_escapes_and_span_lines() {
        let got = pairs("MSG=\"I'm here!\\n\\\"ok\\\"\"\nMULTI=\"line one\nline two\"\nAFTER=1\n");
        assert_eq!(got[0].1, "I'm here!\n\"ok\"");
        assert_eq!(got[1].1, "line one\nline two");
        assert_eq!(got[2], ("AFTER".to_string(), "1".to_string()));
    }

    #[test]
    fn syntax_errors_name_the_line() {
        assert_eq!(
            parse("A=1\njust words\n").unwrap_err(),
            DotenvError::Syntax {
                line: 2,
                reason: "expected NAME=value"
            }
        );
        assert_eq!(
            parse("A=\"open\n").unwrap_err().to_string(),
            "line 1: a double-quoted value has no closing quote"
        );
        assert!(parse("BAD NAME=1").is_err());
    }
}
