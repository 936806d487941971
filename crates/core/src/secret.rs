//! Secrets that must never be printed.
//!
//! Tokens and passwords are held in [`secrecy::SecretString`], whose `Debug` prints `[REDACTED]` and which
//! has no `Display`, so a secret can only leave through an explicit `expose_secret()` at the point of use.
//! Database URLs carry passwords inside ordinary strings, so they get [`redact_url`] before being shown.

pub use secrecy::{ExposeSecret, SecretString};

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
