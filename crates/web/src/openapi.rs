//! The OpenAPI 3.1 document of the JSON API, served at `GET /api/openapi.json`.
//!
//! The document and the API's route table come from the same annotations: every API handler carries
//! `#[utoipa::path(...)]` and is registered with `utoipa_axum`'s `routes!`, which adds the route to the
//! router and the operation to the document in one step, so neither can exist without the other. The
//! pages under `/disconcierge` stay on the plain router and are not part of the document.
//!
//! What every authenticated call shares is added here rather than repeated on each handler, from each
//! operation's declared `security`, exactly as the [`ApiAdmin`](crate::auth::ApiAdmin) extractor behaves:
//! 401 without valid credentials, 403 `csrf` for a cookie-authenticated change without `X-CSRF-Token`
//! (declared as an optional header parameter), 403 `session_required` on operations that accept the
//! session only, and 503 when the database cannot check the credentials. Everything else an operation
//! answers is in its own annotation.

use crate::WebState;
use crate::auth::SESSION_COOKIE;
use crate::error::ErrorBody;
use axum::Extension;
use axum::body::Bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr, Required,
    ServerBuilder,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The names of the security schemes, as operations' `security(...)` refer to them.
pub(crate) const SESSION: &str = "session";
pub(crate) const BEARER: &str = "bearer";

const DESCRIPTION: &str = "\
The JSON API of disconcierge's admin interface: what the pages under `/disconcierge` show and do, for scripts.

**Authentication.** Either the session cookie (sign in with `POST /api/login`, which sets it and returns \
the session's CSRF token; `GET /api/me` returns the token again), or an API token created on the admin \
interface's *API tokens* page, sent as `Authorization: Bearer dct_…`. Requests authenticated by the cookie \
that change something (every method but GET) must also send the session's CSRF token as `X-CSRF-Token`; \
bearer tokens need none. Signing out, changing a password, adding or removing admins and managing API \
tokens need the session: an API token is refused there (403 `session_required`).

**Errors.** Every error answer has the same body, the `Error` schema: \
`{\"error\": code, \"message\": what to do, \"fields\": [{\"field\", \"message\"}]}`; `fields` names the \
fields in error of a 422 `invalid`, and is empty otherwise.

**Lists** are newest first and keyset-paginated: pass a page's `next_before` back as `before` to get \
the next one (`null` on the last page); `limit` is 1 to 200 (50 by default). Trained answers and \
knowledge-base entries are paged by `offset` and `limit` instead (`next_offset`), users by `after` \
(`next_after`).

**Discord ids** (users, guilds, channels, messages) are strings of digits: they do not fit a JavaScript \
number.";

/// The document's fixed parts; the operations and their schemas come from the routes merged into it.
pub(crate) fn base() -> OpenApi {
    // The `Error` body and what it refers to, which every error answer references.
    let mut error_schemas = vec![(ErrorBody::name().into_owned(), ErrorBody::schema())];
    ErrorBody::schemas(&mut error_schemas);
    let tag = |name: &str, description: &str| {
        TagBuilder::new()
            .name(name)
            .description(Some(description))
            .build()
    };
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("disconcierge admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .servers(Some([ServerBuilder::new().url("/").build()]))
        .tags(Some([
            tag("session", "Signing in and out, and who is signed in."),
            tag(
                "chat commands",
                "The `/chat` and `/private` commands users sent, with their answers.",
            ),
            tag(
                "configuration",
                "The runtime configuration, its changes and their history.",
            ),
            tag(
                "operations",
                "The bot's status and activity charts, and actions: pause, resume, reload, register the commands, clear \
                 conversations, shut down.",
            ),
            tag("admins", "Admin accounts and passwords."),
            tag(
                "API tokens",
                "Bearer tokens for scripts. Managed with a signed-in session only.",
            ),
            tag("feedback", "The feedback users gave on answers."),
            tag(
                "interactions",
                "Every interaction received from Discord, as it arrived (without its token).",
            ),
            tag(
                "Discord messages",
                "Messages about the bot: mentions of it and replies to its answers.",
            ),
            tag(
                "users",
                "Discord users who used the bot, their usage and their own settings.",
            ),
            tag(
                "playground",
                "Asking as a guild member (or as `/chat`) would, without posting to Discord.",
            ),
            tag("tickets", "Support-desk tickets, with their transcripts."),
            tag(
                "trained answers",
                "A guild's trained answers (`/train`), with export and import.",
            ),
            tag(
                "knowledge bases",
                "A guild's knowledge bases and their entries, with export and import.",
            ),
            tag("documentation", "This document."),
        ]))
        .components(Some(
            ComponentsBuilder::new()
                .schemas_from_iter(error_schemas)
                .security_scheme(
                    SESSION,
                    SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                        SESSION_COOKIE,
                        "The session cookie set by `POST /api/login` (`HttpOnly`). Requests that change \
                         something (every method but GET) must also send the session's CSRF token, from \
                         the login or `GET /api/me`, in the `X-CSRF-Token` header; without it they are \
                         refused with 403 `csrf`.",
                    ))),
                )
                .security_scheme(
                    BEARER,
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some(
                                "An API token (`dct_…`) created on the admin interface's API tokens page, \
                                 as `Authorization: Bearer <token>`. Needs no CSRF token. Refused (403 \
                                 `session_required`) where only a session is accepted.",
                            ))
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}

/// The whole document: the routes' operations with what every authenticated call shares added.
pub(crate) fn finish(mut doc: OpenApi) -> OpenApi {
    for item in doc.paths.paths.values_mut() {
        let methods = [
            (true, &mut item.get),
            (false, &mut item.post),
            (false, &mut item.put),
            (false, &mut item.delete),
            (false, &mut item.patch),
        ];
        for (safe, operation) in methods {
            if let Some(operation) = operation {
                add_shared(operation, safe);
            }
        }
    }
    doc
}

/// The schemes an operation accepts (empty for a public one).
fn schemes(operation: &Operation) -> Vec<String> {
    let requirements = operation.security.iter().flatten();
    requirements
        .filter_map(|r| serde_json::to_value(r).ok())
        .filter_map(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
        .flatten()
        .collect()
}

fn add_shared(operation: &mut Operation, safe: bool) {
    let schemes = schemes(operation);
    if schemes.is_empty() {
        return;
    }
    let session = schemes.iter().any(|s| s == SESSION);
    let bearer = schemes.iter().any(|s| s == BEARER);
    add_error(
        operation,
        "401",
        if bearer {
            "`unauthenticated`: no session cookie, or the session expired; `bad_token`: the bearer \
             token is unknown, expired or revoked."
        } else {
            "`unauthenticated`: no session cookie, or the session expired."
        },
    );
    if session && !safe {
        add_error(
            operation,
            "403",
            "`csrf`: the request was authenticated by the session cookie but did not send the \
             session's CSRF token as `X-CSRF-Token`.",
        );
        let csrf = ParameterBuilder::new()
            .name("X-CSRF-Token")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The session's CSRF token (from `POST /api/login` or `GET /api/me`). Required when the \
                 request is authenticated by the session cookie; not needed with a bearer token.",
            ))
            .schema(Some(String::schema()))
            .build();
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .push(RefOr::T(csrf));
    }
    if !bearer {
        add_error(
            operation,
            "403",
            "`session_required`: this needs a signed-in admin session, not an API token.",
        );
    }
    add_error(
        operation,
        "503",
        "`database`: the database did not answer (while checking the credentials, or after).",
    );
}

/// Documents an error answer with the `Error` body; one already documented for `status` gets `text`
/// added to its description.
fn add_error(operation: &mut Operation, status: &str, text: &str) {
    let responses = &mut operation.responses.responses;
    if let Some(RefOr::T(response)) = responses.get_mut(status) {
        if !response.description.contains(text) {
            response.description = format!("{}\n\n{text}", response.description);
        }
        return;
    }
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
        .build();
    responses.insert(
        status.to_string(),
        RefOr::T(
            ResponseBuilder::new()
                .description(text)
                .content("application/json", body)
                .build(),
        ),
    );
}

/// A string schema taking one of `values`.
pub(crate) fn string_enum(
    values: impl IntoIterator<Item = &'static str>,
    description: &str,
) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

/// The document, serialized once.
#[derive(Clone)]
pub(crate) struct Document(Bytes);

impl Document {
    pub fn new(doc: &OpenApi) -> Self {
        Document(Bytes::from(
            serde_json::to_vec(doc).expect("the OpenAPI document serializes"),
        ))
    }
}

/// This document: the JSON API in OpenAPI 3.1.
///
/// Public: it describes the API and holds no secret (no data, no credentials), so it needs no
/// authentication, like the login it documents.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "documentation",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document.", body = inline(serde_json::Value)),
    ),
)]
async fn document(Extension(doc): Extension<Document>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], doc.0).into_response()
}

pub(crate) fn routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(document))
}
