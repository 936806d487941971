//! Secrets that must never be printed.
//!
//! Tokens and passwords are held in [`secrecy::SecretString`], whose `Debug` prints `[REDACTED]` and which
//! has no `Display`, so a secret can only leave through an explicit `expose_secret()` at the point of use.
//! Database URLs carry passwords inside ordinary strings, so they get [`redact_url`] before being shown.

pub use secrecy::{ExposeSecret, SecretString};

/// A Discord interaction token: whoever holds it can answer the interaction as the bot for 15 minutes.
/// It cannot be printed by accident: `Debug` shows `[REDACTED]`, there is no `Display` and no
/// `Serialize`. [`InteractionToken::expose`] hands it over where it must go (Discord's answer routes,
/// the database).
#[derive(Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct InteractionToken(String);

impl InteractionToken {
    pub fn new(token: impl Into<String>) -> InteractionToken {
        InteractionToken(token.into())
    }

    /// The token itself, for Discord or the database: never for a log, an error or a page.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for InteractionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InteractionToken([REDACTED])")
    }
}

impl From<String> for InteractionToken {
    fn from(token: String) -> InteractionToken {
        InteractionToken(token)
    }
}

impl From<&str> for InteractionToken {
    fn from(token: &str) -> InteractionToken {
        InteractionToken(token.to_owned())
    }
}

/// Replaces the password of a URL (`scheme://user:password@host/...`) with `***`, and any `password=`
/// query or key/value parameter too. Anything that is not a URL comes back unchanged.
pub fn redact_url(raw: &str) -> String {
    let mut out = raw.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?', '#'])
            .map(|i| authority_start + i)
            .unwrap_or(out.len());
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                let end = authority_start + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    // key=value forms: `password=...` in a query string or a libpq keyword string.
    let lower = out.to_ascii_lowercase();
    let mut result = String::with_capacity(out.len());
    let mut i = 0;
    while let Some(pos) = lower[i..].find("password=") {
        let value_start = i + pos + "password=".len();
        result.push_str(&out[i..value_start]);
        let value_end = out[value_start..]
            .find(['&', ' ', ';', '#'])
            .map(|e| value_start + e)
            .unwrap_or(out.len());
        result.push_str("***");
        i = value_end;
    }
    result.push_str(&out[i..]);
    result
}

/// Shows that a secret is set without showing any of it.
pub fn describe_secret(secret: Option<&SecretString>) -> &'static str {
    match secret {
        Some(s) if !s.expose_secret().is_empty() => "<set, redacted>",
        _ => "<not set>",
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_interaction_token_cannot_be_printed() {
        let token = super::InteractionToken::new("aW50ZXJhY3Rpb24");
        assert_eq!(format!("{token:?}"), "InteractionToken([REDACTED])");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: super::InteractionToken,
        }
        assert!(
            !format!(
                "{:?}",
                Holder {
                    token: token.clone()
                }
            )
            .contains("aW50")
        );
        assert_eq!(token.expose(), "aW50ZXJhY3Rpb24");
        let back: super::InteractionToken = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back.expose(), "abc");
    }

    use super::*;

    #[test]
    fn redacts_password_in_userinfo() {
        assert_eq!(
            redact_url("postgres://dc:hunter2@db.example:5432/dc?sslmode=require"),
            "postgres://dc:***@db.example:5432/dc?sslmode=require"
        );
        assert_eq!(redact_url("postgres://dc@db/dc"), "postgres://dc@db/dc");
        assert_eq!(redact_url("/var/lib/dc.sqlite3"), "/var/lib/dc.sqlite3");
        assert_eq!(
            redact_url("postgres://u:p%40ss@h/db"),
            "postgres://u:***@h/db"
        );
    }

    #[test]
    fn redacts_password_parameters() {
        assert_eq!(
            redact_url("postgres://h/db?user=x&password=hunter2&sslmode=disable"),
            "postgres://h/db?user=x&password=***&sslmode=disable"
        );
        assert_eq!(
            redact_url("host=h user=u password=hunter2 dbname=d"),
            "host=h user=u password=*** dbname=d"
        );
    }

    #[test]
    fn debug_of_a_secret_shows_nothing() {
        let s = SecretString::from("tok-123456");
        assert!(!format!("{s:?}").contains("tok-123456"));
        assert_eq!(describe_secret(Some(&s)), "<set, redacted>");
        assert_eq!(describe_secret(None), "<not set>");
    }
}
