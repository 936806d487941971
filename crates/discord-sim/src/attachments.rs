//! File attachments: Discord's multipart uploads, the `attachments` list that refers to them, and the
//! simulated CDN that serves the files back.
//!
//! Discord's format ("Uploading Files"): the JSON body moves into a `payload_json` part of a
//! `multipart/form-data` body, and each file is a `files[n]` part named by its Content-Disposition. The
//! JSON's `attachments` may describe an upload by `"id": n` (filename, description, title); on edits it
//! also keeps existing attachments by their snowflake, and whatever it does not list is removed.
//! Without `attachments`, a create attaches every upload and an edit appends them.
//!
//! Stored files are served without authentication, as Discord's CDN serves them, at
//! `{base}/attachments/{channel_id}/{attachment_id}/{filename}` (`ephemeral-attachments` for the files
//! people pass to ATTACHMENT command options), and at the same path under `{base}/media/` (the
//! `proxy_url`).

use std::convert::Infallible;

use axum::body::Bytes;
use futures_util::FutureExt as _;
use serde_json::{Value, json};
use twilight_model::channel::Attachment;
use twilight_model::id::Id;
use twilight_model::id::marker::{AttachmentMarker, ChannelMarker};

use crate::model::typed;
use crate::rest::bodies::PartialAttachment;
use crate::rest::error::{ApiError, FormErrors};
use crate::shared::Shared;
use crate::world::World;

/// At most this many attachments on one message.
pub(crate) const MAX_ATTACHMENTS: usize = 10;
/// Discord's limit on the files of one request, whatever the per-file limit.
pub(crate) const MAX_REQUEST_FILES_SIZE: u64 = 25 * 1024 * 1024;
/// Filename, description and title are limited to this many characters.
const MAX_ATTACHMENT_TEXT: usize = 1024;
/// `AttachmentFlags::IS_SPOILER`.
const IS_SPOILER: u64 = 1 << 3;

/// One `files[n]` part of a multipart body.
#[derive(Clone, Debug)]
pub(crate) struct Upload {
    /// The `n` of `files[n]`, which `attachments[].id` refers to.
    pub index: u64,
    /// The filename of the part's Content-Disposition.
    pub filename: String,
    /// The part's Content-Type, when it has one.
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// A request body split into its JSON and its uploads (none for a JSON body).
#[derive(Debug, Default)]
pub(crate) struct Form {
    pub json: Bytes,
    pub files: Vec<Upload>,
}

/// Why a multipart body cannot be read; becomes a 400 (or 413 for sizes).
#[derive(Debug)]
pub(crate) enum FormError {
    /// Not a well-formed `multipart/form-data` body.
    Malformed(String),
    /// Well-formed, but its parts are not what Discord accepts.
    Invalid(FormErrors),
    /// A file over the per-file limit, or files over the per-request limit.
    TooLarge(String),
}

impl FormError {
    /// Discord's answer.
    pub(crate) fn to_api_error(&self) -> ApiError {
        match self {
            FormError::Malformed(m) => {
                let mut errs = FormErrors::default();
                errs.add(&[], "MULTIPART_INVALID", m.clone());
                ApiError::invalid_form(&errs)
            }
            FormError::Invalid(errs) => ApiError::invalid_form(errs),
            FormError::TooLarge(_) => ApiError::too_large(),
        }
    }

    /// What the violation record says.
    pub(crate) fn describe(&self) -> String {
        match self {
            FormError::Malformed(m) => format!("malformed multipart body: {m}"),
            FormError::Invalid(errs) => format!("invalid multipart body: {}", errs.to_json()),
            FormError::TooLarge(m) => m.clone(),
        }
    }
}

/// True for a `multipart/form-data` Content-Type.
pub(crate) fn is_multipart(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| {
        c.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
    })
}

/// Reads a `multipart/form-data` body: exactly one `payload_json` part and any number of distinct
/// `files[n]` parts, each with a filename. `max_file` is the per-file limit.
pub(crate) fn parse_multipart(
    content_type: &str,
    body: Bytes,
    max_file: u64,
) -> Result<Form, FormError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| FormError::Malformed(format!("Content-Type {content_type:?}: {e}")))?;
    let stream = futures_util::stream::once(futures_util::future::ready(Ok::<_, Infallible>(body)));
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut json = None;
    let mut files: Vec<Upload> = Vec::new();
    let mut errs = FormErrors::default();
    // The body is already in memory, so every step completes at once.
    let ready = || FormError::Malformed("the body ended early".into());
    let malformed = |e: multer::Error| FormError::Malformed(e.to_string());
    while let Some(field) = multipart
        .next_field()
        .now_or_never()
        .ok_or_else(ready)?
        .map_err(malformed)?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let bytes = field
            .bytes()
            .now_or_never()
            .ok_or_else(ready)?
            .map_err(malformed)?;
        if name == "payload_json" {
            if json.replace(bytes).is_some() {
                errs.add(
                    &["payload_json"],
                    "DUPLICATE_PART",
                    "payload_json is sent twice",
                );
            }
            continue;
        }
        let Some(index) = name
            .strip_prefix("files[")
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            errs.add(
                &[&name],
                "UNKNOWN_PART",
                format!(
                    "unexpected part {name:?}: the simulator takes the JSON body in payload_json and \
                     files in files[n] parts"
                ),
            );
            continue;
        };
        let Some(filename) = filename.filter(|f| !f.is_empty()) else {
            errs.add(
                &[&name],
                "BASE_TYPE_REQUIRED",
                "A file part needs a filename in its Content-Disposition",
            );
            continue;
        };
        if files.iter().any(|f| f.index == index) {
            errs.add(&[&name], "DUPLICATE_PART", format!("{name} is sent twice"));
            continue;
        }
        if bytes.len() as u64 > max_file {
            return Err(FormError::TooLarge(format!(
                "{name} ({filename:?}) is {} bytes, over the {max_file}-byte upload limit",
                bytes.len()
            )));
        }
        files.push(Upload {
            index,
            filename,
            content_type,
            bytes,
        });
    }
    let total: u64 = files.iter().map(|f| f.bytes.len() as u64).sum();
    if total > MAX_REQUEST_FILES_SIZE {
        return Err(FormError::TooLarge(format!(
            "the files of one request add up to {total} bytes, over Discord's \
             {MAX_REQUEST_FILES_SIZE}-byte limit"
        )));
    }
    if json.is_none() {
        errs.add(
            &["payload_json"],
            "BASE_TYPE_REQUIRED",
            "This field is required: the simulator takes the JSON body of a multipart request in \
             payload_json (as twilight sends it)",
        );
    }
    if !errs.is_empty() {
        return Err(FormError::Invalid(errs));
    }
    Ok(Form {
        json: json.unwrap_or_default(),
        files,
    })
}

/// What one entry of a message's new attachment list will be.
#[derive(Clone, Debug)]
pub(crate) enum Planned {
    /// An attachment the message already has (edits), possibly with a new description.
    Keep(Attachment),
    /// An upload of this request.
    New {
        upload: Upload,
        filename: String,
        description: Option<String>,
        title: Option<String>,
        spoiler: bool,
    },
}

/// The reference an `attachments[]` entry makes: an upload index or an existing snowflake.
fn reference(id: &Value) -> Option<u64> {
    match id {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Works out a message's attachments from a body's `attachments` list (`None`: the field is absent) and
/// its uploads, checking them as Discord does. `existing` is the message's current attachments for an
/// edit and `None` for a new message.
///
/// Returns `None` when the attachments stay as they are (an edit that neither lists attachments nor
/// uploads files); a new message without either gets `Some(vec![])`.
///
/// Discord silently drops an upload that a given `attachments` list does not mention, which in
/// production loses the file without a word; the simulator refuses it instead.
pub(crate) fn plan(
    errs: &mut FormErrors,
    prefix: &[&str],
    listed: Option<&[PartialAttachment]>,
    files: Vec<Upload>,
    existing: Option<&[Attachment]>,
) -> Option<Vec<Planned>> {
    let at = |tail: &[&str]| -> Vec<String> {
        prefix.iter().chain(tail).map(|s| (*s).to_owned()).collect()
    };
    let new = |upload: Upload| Planned::New {
        filename: upload.filename.clone(),
        upload,
        description: None,
        title: None,
        spoiler: false,
    };
    let planned: Vec<Planned> = match listed {
        None if files.is_empty() && existing.is_some() => return None,
        // Without a list, a new message gets every upload and an edit appends them.
        None => existing
            .unwrap_or_default()
            .iter()
            .cloned()
            .map(Planned::Keep)
            .chain(files.into_iter().map(new))
            .collect(),
        Some(list) => {
            let mut planned = Vec::with_capacity(list.len());
            let mut used: Vec<u64> = Vec::new();
            for (i, entry) in list.iter().enumerate() {
                let i = i.to_string();
                let text = |errs: &mut FormErrors, field: &str, value: Option<&String>, min| {
                    if let Some(v) = value {
                        let n = v.chars().count();
                        if n < min || n > MAX_ATTACHMENT_TEXT {
                            errs.add_path(
                                at(&["attachments", &i, field]),
                                "BASE_TYPE_BAD_LENGTH",
                                format!(
                                    "Must be between {min} and {MAX_ATTACHMENT_TEXT} in length."
                                ),
                            );
                        }
                    }
                };
                text(errs, "filename", entry.filename.as_ref(), 1);
                text(errs, "description", entry.description.as_ref(), 0);
                text(errs, "title", entry.title.as_ref(), 0);
                let id = reference(&entry.id);
                if let Some(id) = id
                    && used.contains(&id)
                {
                    errs.add_path(
                        at(&["attachments", &i, "id"]),
                        "ATTACHMENT_DUPLICATE",
                        format!("Attachment {id} is listed more than once"),
                    );
                    continue;
                }
                let upload = id.and_then(|id| files.iter().find(|f| f.index == id));
                let kept = id.and_then(|id| {
                    existing
                        .unwrap_or_default()
                        .iter()
                        .find(|a| a.id.get() == id)
                });
                match (upload, kept) {
                    (Some(upload), _) => planned.push(Planned::New {
                        filename: entry
                            .filename
                            .clone()
                            .unwrap_or_else(|| upload.filename.clone()),
                        upload: upload.clone(),
                        description: entry.description.clone(),
                        title: entry.title.clone(),
                        spoiler: entry.is_spoiler == Some(true),
                    }),
                    (None, Some(kept)) => {
                        let mut kept = kept.clone();
                        if entry.description.is_some() {
                            kept.description.clone_from(&entry.description);
                        }
                        planned.push(Planned::Keep(kept));
                    }
                    (None, None) => errs.add_path(
                        at(&["attachments", &i]),
                        "ATTACHMENT_NOT_FOUND",
                        "Attachment data not found".into(),
                    ),
                }
                used.extend(id);
            }
            for f in files.iter().filter(|f| !used.contains(&f.index)) {
                // Parts are top-level whatever JSON object lists the attachments.
                let part = format!("files[{}]", f.index);
                errs.add_path(
                    vec![part.clone()],
                    "ATTACHMENT_NOT_REFERENCED",
                    format!(
                        "{part} ({:?}) is uploaded but attachments does not list id {}",
                        f.filename, f.index
                    ),
                );
            }
            planned
        }
    };
    if planned.len() > MAX_ATTACHMENTS {
        errs.add_path(
            at(&["attachments"]),
            "BASE_TYPE_MAX_LENGTH",
            format!("Must be {MAX_ATTACHMENTS} or fewer in length."),
        );
    }
    Some(planned)
}

/// True if a planned list leaves the message with attachments (an upload-only message is not empty).
pub(crate) fn any(planned: Option<&Vec<Planned>>) -> bool {
    planned.is_some_and(|p| !p.is_empty())
}

/// A file the simulated CDN serves.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub channel_id: Id<ChannelMarker>,
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Bytes,
    /// Served under `ephemeral-attachments/` (command option uploads) rather than `attachments/`.
    pub ephemeral: bool,
}

/// Stores the uploads of a plan and returns the message's attachment objects.
pub(crate) fn store(
    shared: &Shared,
    w: &mut World,
    channel: Id<ChannelMarker>,
    planned: Vec<Planned>,
) -> Vec<Attachment> {
    planned
        .into_iter()
        .map(|p| match p {
            Planned::Keep(a) => a,
            Planned::New {
                upload,
                filename,
                description,
                title,
                spoiler,
            } => {
                // Discord marks spoilers by the name as well as the flag.
                let filename = if spoiler && !filename.starts_with("SPOILER_") {
                    format!("SPOILER_{filename}")
                } else {
                    filename
                };
                let mut a = new_file(
                    shared,
                    w,
                    StoredFile {
                        channel_id: channel,
                        content_type: upload
                            .content_type
                            .or_else(|| guess_content_type(&filename)),
                        filename,
                        bytes: upload.bytes,
                        ephemeral: false,
                    },
                );
                a.description = description;
                a.title = title;
                if spoiler {
                    a.flags = Some(typed(json!(IS_SPOILER)));
                }
                a
            }
        })
        .collect()
}

/// Stores one file and returns its attachment object, with URLs served by the simulator.
pub(crate) fn new_file(shared: &Shared, w: &mut World, file: StoredFile) -> Attachment {
    let id: Id<AttachmentMarker> = w.next_id(&shared.clock);
    let path = format!(
        "{}/{}/{id}/{}",
        if file.ephemeral {
            "ephemeral-attachments"
        } else {
            "attachments"
        },
        file.channel_id,
        encode_segment(&file.filename)
    );
    let mut a = json!({
        "id": id,
        "filename": file.filename,
        "size": file.bytes.len(),
        "url": format!("{}/{path}", shared.base_url),
        "proxy_url": format!("{}/media/{path}", shared.base_url),
    });
    if let Some(ct) = &file.content_type {
        a["content_type"] = json!(ct);
    }
    if file.ephemeral {
        a["ephemeral"] = json!(true);
    }
    w.files.insert(id, file);
    typed(a)
}

/// Percent-encodes a URL path segment (RFC 3986 unreserved characters stay).
fn encode_segment(s: &str) -> String {
    use std::fmt::Write as _;
    s.bytes()
        .fold(String::with_capacity(s.len()), |mut out, b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                let _ = write!(out, "%{b:02X}");
            }
            out
        })
}

/// The content type Discord reports for a file sent without one, from its extension (text types with
/// `charset=utf-8`, as Discord reports them). Unknown extensions get none.
pub(crate) fn guess_content_type(filename: &str) -> Option<String> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    let (mime, text) = match ext.as_str() {
        "json" => ("application/json", true),
        "txt" | "log" => ("text/plain", true),
        "md" => ("text/markdown", true),
        "csv" => ("text/csv", true),
        "html" | "htm" => ("text/html", true),
        "xml" => ("application/xml", true),
        "yaml" | "yml" => ("application/x-yaml", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "pdf" => ("application/pdf", false),
        "zip" => ("application/zip", false),
        "gz" => ("application/gzip", false),
        "mp3" => ("audio/mpeg", false),
        "mp4" => ("video/mp4", false),
        _ => return None,
    };
    Some(if text {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &str)]) -> (String, Bytes) {
        let mut body = String::new();
        for (name, filename, value) in parts {
            body.push_str("--XyZ\r\nContent-Disposition: form-data; name=\"");
            body.push_str(name);
            if let Some(f) = filename {
                body.push_str("\"; filename=\"");
                body.push_str(f);
            }
            body.push_str("\"\r\n\r\n");
            body.push_str(value);
            body.push_str("\r\n");
        }
        body.push_str("--XyZ--\r\n");
        (
            "multipart/form-data; boundary=XyZ".into(),
            Bytes::from(body),
        )
    }

    #[test]
    fn payload_and_files_are_split() {
        let (ct, body) = form(&[
            ("payload_json", None, r#"{"content":"hi"}"#),
            ("files[3]", Some("kb.json"), "[1,2]"),
        ]);
        let f = parse_multipart(&ct, body, 100).unwrap();
        assert_eq!(&f.json[..], br#"{"content":"hi"}"#);
        assert_eq!(f.files.len(), 1);
        assert_eq!(
            (f.files[0].index, f.files[0].filename.as_str()),
            (3, "kb.json")
        );
        assert_eq!(&f.files[0].bytes[..], b"[1,2]");
    }

    #[test]
    fn bad_parts_are_reported() {
        let (ct, body) = form(&[
            ("files[0]", Some("a.txt"), "a"),
            ("files[0]", Some("b.txt"), "b"),
            ("file", Some("c.txt"), "c"),
            ("files[1]", None, "d"),
        ]);
        let Err(FormError::Invalid(errs)) = parse_multipart(&ct, body, 100) else {
            panic!("expected invalid parts");
        };
        let j = errs.to_json();
        for key in ["payload_json", "files[0]", "file", "files[1]"] {
            assert!(j[key]["_errors"].is_array(), "{key}: {j}");
        }
        let (ct, body) = form(&[("payload_json", None, "{}"), ("files[0]", Some("a"), "xx")]);
        assert!(matches!(
            parse_multipart(&ct, body, 1),
            Err(FormError::TooLarge(_))
        ));
        let truncated =
            Bytes::from_static(b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n");
        assert!(matches!(
            parse_multipart("multipart/form-data; boundary=XyZ", truncated, 100),
            Err(FormError::Malformed(_))
        ));
    }

    #[test]
    fn plans_follow_discords_rules() {
        let upload = |index| Upload {
            index,
            filename: format!("f{index}.txt"),
            content_type: None,
            bytes: Bytes::from_static(b"x"),
        };
        let entry =
            |id: Value| -> PartialAttachment { serde_json::from_value(json!({"id": id})).unwrap() };
        let mut errs = FormErrors::default();
        // A new message without a list gets every upload.
        let p = plan(&mut errs, &[], None, vec![upload(0), upload(1)], None).unwrap();
        assert_eq!(p.len(), 2);
        // An edit without a list or uploads changes nothing.
        assert!(plan(&mut errs, &[], None, vec![], Some(&[])).is_none());
        assert!(errs.is_empty());
        // Unknown ids and unlisted uploads are refused.
        plan(
            &mut errs,
            &["data"],
            Some(&[entry(json!(0)), entry(json!("77"))]),
            vec![upload(0), upload(1)],
            None,
        );
        let j = errs.to_json();
        assert_eq!(
            j["data"]["attachments"]["1"]["_errors"][0]["code"], "ATTACHMENT_NOT_FOUND",
            "{j}"
        );
        assert!(j["files[1]"]["_errors"].is_array(), "{j}");
    }

    #[test]
    fn content_types_are_guessed_like_discord() {
        assert_eq!(
            guess_content_type("kb.JSON").as_deref(),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(guess_content_type("a.png").as_deref(), Some("image/png"));
        assert_eq!(guess_content_type("noext"), None);
        assert_eq!(encode_segment("a b/é.txt"), "a%20b%2F%C3%A9.txt");
    }
}
