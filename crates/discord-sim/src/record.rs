//! What the simulator observed, kept so tests can assert on it and timeouts can explain themselves.

use std::fmt;

use serde_json::Value;

/// One HTTP request the bot made to the simulated REST API (or one webhook exchange the simulator made).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Position in the log, starting at 0.
    pub index: usize,
    /// HTTP method, upper case.
    pub method: String,
    /// Route template without the `/api/v10` prefix, e.g. `/channels/{channel_id}/messages`
    /// (empty when no route matched).
    pub route: String,
    /// Path as requested, without the `/api/v10` prefix, including the query string.
    pub path: String,
    /// Request headers; the `Authorization` value is replaced by `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON, when it was JSON; for a file upload (multipart), its `payload_json`
    /// part (the files themselves end up in the message's attachments).
    pub body: Option<Value>,
    /// The body as text when it was not empty and not JSON (nor a readable multipart body).
    pub raw_body: Option<String>,
    /// Response status, filled in once the simulator answered.
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// A header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True if this request was `method` on a route matching `template`. Parameter names inside braces
    /// are ignored, so `/channels/{id}/messages` matches `/channels/{channel_id}/messages`.
    pub fn is(&self, method: &str, template: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && normalize_template(&self.route) == normalize_template(template)
    }
}

impl fmt::Display for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} {}", self.index, self.method, self.path)?;
        match self.status {
            Some(s) => write!(f, " -> {s}")?,
            None => write!(f, " -> (pending)")?,
        }
        if let Some(body) = &self.body {
            let mut text = body.to_string();
            if text.len() > 200 {
                let mut cut = 200;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            write!(f, " {text}")?;
        }
        Ok(())
    }
}

/// Strips the API prefix and parameter names from a route template so that templates written by
/// tests compare equal to the simulator's.
pub(crate) fn normalize_template(template: &str) -> String {
    let t = template.strip_prefix("/api/v10").unwrap_or(template);
    let mut out = String::with_capacity(t.len());
    let mut in_param = false;
    for c in t.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out.trim_end_matches('/').to_owned()
}

/// Something the bot did that real Discord would reject or that the bot must never do.
///
/// Violations make the test fail: [`crate::DiscordSim::assert_no_violations`] checks them, and so does
/// dropping the simulator (unless the test is already panicking).
#[derive(Clone, Debug)]
pub struct Violation {
    /// Which exchange it was about, e.g. `POST /channels/1/messages` or `gateway connection 3`.
    pub context: String,
    /// What was wrong, e.g. the serde error for a body that twilight-model cannot read.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.message)
    }
}

/// Direction of a gateway frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the bot to the simulator.
    Received,
    /// From the simulator to the bot.
    Sent,
}

/// One thing that happened on a gateway connection.
#[derive(Clone, Debug)]
pub enum GatewayRecord {
    /// A WebSocket connection was opened, with its query string (`v=10&encoding=json`).
    Connected {
        /// Connection number, starting at 1.
        conn: u64,
        /// The query string the client sent.
        query: String,
    },
    /// A frame went one way or the other.
    Frame {
        /// Connection number.
        conn: u64,
        /// Who sent it.
        direction: Direction,
        /// Gateway opcode.
        op: u8,
        /// Dispatch event name for op 0.
        t: Option<String>,
        /// Sequence number for op 0.
        s: Option<u64>,
        /// The frame's `d` (only kept for frames received from the bot).
        d: Option<Value>,
    },
    /// The connection ended; `code` is the close code if the client sent a close frame, `by_discord`
    /// the one the simulator sent if it closed the connection.
    Closed {
        /// Connection number.
        conn: u64,
        /// Close code from the client, if any.
        code: Option<u16>,
        /// Close code the simulated Discord sent, if it closed the connection.
        by_discord: Option<u16>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_compare_without_parameter_names() {
        assert_eq!(
            normalize_template("/api/v10/channels/{channel_id}/messages"),
            normalize_template("/channels/{id}/messages")
        );
        assert_ne!(
            normalize_template("/channels/{id}/messages/{mid}"),
            normalize_template("/channels/{id}/messages")
        );
    }
}
