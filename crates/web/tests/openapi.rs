//! The OpenAPI document at `GET /api/openapi.json`: it is a valid OpenAPI 3.1 document, it describes
//! exactly the API's routes (every documented operation is routed, every API route is documented), its
//! error answers and security are consistent, and real answers of every operation match their documented
//! schemas.
//!
//! `fixtures/openapi-3.1-schema.json` is the OpenAPI Initiative's JSON Schema of OpenAPI 3.1 documents
//! (`$id` `https://spec.openapis.org/oas/3.1/schema/2022-10-07`, Apache License 2.0), copied unchanged
//! from the PyPI package `openapi-spec-validator` 0.9.0 (Apache License 2.0), file
//! `openapi_spec_validator/resources/schemas/v3.1/schema.json`. It refers only to itself and to the
//! JSON Schema 2020-12 meta-schemas, which the `jsonschema` crate carries: validating needs no network.

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{TimeDelta, Utc};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::desk::model::{
    EntryKind, NewTicket, NewTicketMessage, ReplySource, TicketAuthor, UsedEntry,
};
use disconcierge_core::model::{
    ChatCommandOutcome, ChatCommandState, DiscordMessage, FeedbackKind, InteractionLog, LlmCallLog,
    NewChatCommand, StoredRuntimeConfig, TokenUsage, UserFeedback,
};
use disconcierge_store::testing::TestDb;
use disconcierge_store::{Store, StoreError, TicketReservation};
use disconcierge_web::playground::{
    PlaygroundAsk, PlaygroundEvent, PlaygroundMatch, PlaygroundPlan, PlaygroundRun,
};
use disconcierge_web::{ConfigUpdateError, Control, WebSettings, WebState};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

/// Saves the configuration as the application does, and answers the playground with a fixed plan and
/// the question echoed back.
struct TestControl {
    store: Arc<dyn Store>,
    current: Mutex<Arc<StoredRuntimeConfig>>,
}

#[async_trait]
impl Control for TestControl {
    fn runtime_config(&self) -> Arc<StoredRuntimeConfig> {
        self.current.lock().unwrap().clone()
    }

    async fn update_runtime_config(
        &self,
        config: RuntimeConfig,
        expected_version: i64,
        updated_by: &str,
    ) -> Result<Arc<StoredRuntimeConfig>, ConfigUpdateError> {
        config.validate()?;
        match self
            .store
            .save_runtime_config(&config, Some(expected_version), Some(updated_by))
            .await
        {
            Ok(saved) => {
                let saved = Arc::new(saved);
                *self.current.lock().unwrap() = saved.clone();
                Ok(saved)
            }
            Err(StoreError::Conflict) => Err(ConfigUpdateError::Conflict {
                current: self.runtime_config().version,
            }),
            Err(e) => Err(ConfigUpdateError::Failed(e.to_string())),
        }
    }

    async fn reload_runtime_config(&self) -> Result<bool, String> {
        Ok(false)
    }

    fn shutdown(&self, _requested_by: &str) {}

    async fn playground(&self, ask: PlaygroundAsk) -> Result<PlaygroundRun, String> {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let plan = PlaygroundPlan {
            kind: "llm",
            entry_id: None,
            warnings: Vec::new(),
            decision: "ask the LLM with one trained answer".into(),
            matches: vec![PlaygroundMatch {
                kind: "trained",
                id: 7,
                title: "How do I reset my password?".into(),
                source: None,
                confidence: 0.42,
                lexical: 0.42,
                semantic: Some(0.5),
                used: true,
            }],
            provider: "fake".into(),
            request: Some(json!({"input": ask.question})),
        };
        tokio::spawn(async move {
            let events = [
                PlaygroundEvent::Delta { text: "Hi".into() },
                PlaygroundEvent::Restart,
                PlaygroundEvent::Delta {
                    text: "Hello".into(),
                },
                PlaygroundEvent::Done {
                    text: "Hello".into(),
                    elapsed_ms: 15,
                    prompt_tokens: Some(10),
                    completion_tokens: None,
                },
            ];
            for event in events {
                let _ = tx.send(event).await;
            }
        });
        Ok(PlaygroundRun { plan, events: rx })
    }
}

struct Web {
    db: TestDb,
    router: Router,
}

const PASSWORD: &str = "correct horse battery";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    fn content_type(&self) -> Option<&str> {
        self.headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap())
    }
}

impl Web {
    async fn new() -> Web {
        let db = TestDb::sqlite().await;
        let store = db.store.clone();
        store
            .save_runtime_config(&RuntimeConfig::default(), None, None)
            .await
            .unwrap();
        let current = store.load_runtime_config().await.unwrap().unwrap();
        let control = Arc::new(TestControl {
            store: store.clone(),
            current: Mutex::new(Arc::new(current)),
        });
        disconcierge_web::admin::create_admin(store.as_ref(), "Admin", PASSWORD)
            .await
            .unwrap();
        let state = WebState::new(store, control, WebSettings::default());
        Web {
            db,
            router: disconcierge_web::router(state),
        }
    }

    fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    /// A request with a JSON body (`{}` for `None` on methods that take one), and the session when
    /// given.
    async fn call(
        &self,
        method: Method,
        uri: &str,
        session: Option<&Session>,
        body: Option<Value>,
    ) -> Reply {
        let mut r = Request::builder().method(method).uri(uri);
        if let Some(s) = session {
            r = r
                .header(header::COOKIE, &s.cookie)
                .header("x-csrf-token", &s.csrf);
        }
        let body = match body {
            Some(b) => {
                r = r.header(header::CONTENT_TYPE, "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        self.send(r.body(body).unwrap()).await
    }

    async fn document(&self) -> Value {
        let reply = self
            .call(Method::GET, "/api/openapi.json", None, None)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.content_type(), Some("application/json"));
        reply.json()
    }
}

/// A signed-in session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

impl Session {
    /// From an answer that set the session cookie and returned the CSRF token.
    fn of(reply: &Reply) -> Session {
        let set = reply.headers[header::SET_COOKIE].to_str().unwrap();
        Session {
            cookie: set.split(';').next().unwrap().to_string(),
            csrf: reply.json()["csrf_token"].as_str().unwrap().to_string(),
        }
    }
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Every operation of the document: (method, path template) → operation.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut ops = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                METHODS.contains(&method.as_str()),
                "{method} {path}: unexpected"
            );
            ops.insert((method.to_uppercase(), path.clone()), op.clone());
        }
    }
    ops
}

/// A URI for a path template: every `{param}` is `1`.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in template.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push('1');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The API as it should be: adding, removing or changing an operation must be done here too.
const EXPECTED: &[&str] = &[
    "POST /api/login",
    "POST /api/logout",
    "GET /api/me",
    "POST /api/password",
    "GET /api/admins",
    "POST /api/admins",
    "DELETE /api/admins/{id}",
    "GET /api/tokens",
    "POST /api/tokens",
    "DELETE /api/tokens/{id}",
    "GET /api/chat_commands",
    "GET /api/chat_commands/{id}",
    "GET /api/config",
    "PUT /api/config",
    "GET /api/config/history",
    "GET /api/status",
    "GET /api/instances",
    "GET /api/stats",
    "POST /api/actions/pause",
    "POST /api/actions/resume",
    "POST /api/actions/reload",
    "POST /api/actions/shutdown",
    "POST /api/actions/register_commands",
    "POST /api/actions/clear_conversations",
    "GET /api/feedback",
    "GET /api/interactions",
    "GET /api/interactions/{id}",
    "GET /api/discord_messages",
    "GET /api/users",
    "GET /api/users/{id}",
    "PUT /api/users/{id}/settings",
    "POST /api/playground",
    "GET /api/tickets",
    "GET /api/tickets/{id}",
    "GET /api/desk/settings",
    "PATCH /api/desk/settings",
    "GET /api/training",
    "POST /api/training",
    "GET /api/training/export",
    "POST /api/training/import",
    "GET /api/training/{id}",
    "PUT /api/training/{id}",
    "DELETE /api/training/{id}",
    "GET /api/knowledge_bases",
    "POST /api/knowledge_bases",
    "GET /api/knowledge_bases/{id}",
    "DELETE /api/knowledge_bases/{id}",
    "GET /api/knowledge_bases/{id}/entries",
    "POST /api/knowledge_bases/{id}/entries",
    "GET /api/knowledge_bases/{id}/entries/{entry}",
    "PUT /api/knowledge_bases/{id}/entries/{entry}",
    "DELETE /api/knowledge_bases/{id}/entries/{entry}",
    "GET /api/knowledge_bases/{id}/export",
    "POST /api/knowledge_bases/{id}/import",
    "GET /api/openapi.json",
];

/// Operations anyone may call.
const PUBLIC: &[&str] = &["POST /api/login", "GET /api/openapi.json"];

fn key((method, path): &(String, String)) -> String {
    format!("{method} {path}")
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let web = Web::new().await;
    let doc = web.document().await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "disconcierge admin API");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["servers"], json!([{"url": "/"}]));

    let schema: Value =
        serde_json::from_str(include_str!("fixtures/openapi-3.1-schema.json")).unwrap();
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the OpenAPI 3.1 schema compiles offline");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OpenAPI 3.1:\n{errors:#?}");
    // The validator does catch a broken document.
    let mut broken = doc.clone();
    broken["paths"]["/api/me"]["get"]["responses"] = json!({"200": {"content": {}}});
    assert!(
        !validator.is_valid(&broken),
        "a response without description"
    );

    // Schema objects are JSON Schema 2020-12 (which OpenAPI 3.1's schema above does not check).
    for (name, component) in doc["components"]["schemas"].as_object().unwrap() {
        if let Err(e) = jsonschema::draft202012::meta::validate(component) {
            panic!("components.schemas.{name} is not a valid JSON Schema: {e}");
        }
    }
    // Every reference points at something that exists.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{r}: external"));
        assert!(doc.pointer(pointer).is_some(), "{r}: dangling");
    }
}

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let web = Web::new().await;
    let doc = web.document().await;
    let ops = operations(&doc);
    for (method, path) in ops.keys() {
        let name = format!("{method} {path}");
        let uri = concrete(path);
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = web.call(m, &uri, None, body).await;
        assert_ne!(reply.status, StatusCode::NOT_FOUND, "{name}: not routed");
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{name}: not routed"
        );
        if !PUBLIC.contains(&name.as_str()) {
            // Refused by the API's authentication (not by anything else on the way).
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
            assert_eq!(reply.json()["error"], "unauthenticated", "{name}");
        }
    }
    // And nothing more: the methods a path does not document are not allowed.
    for path in doc["paths"].as_object().unwrap().keys() {
        for method in METHODS {
            let upper = method.to_uppercase();
            if ops.contains_key(&(upper.clone(), path.clone())) {
                continue;
            }
            let m = Method::from_bytes(upper.as_bytes()).unwrap();
            let reply = web.call(m, &concrete(path), None, None).await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{upper} {path} answers though it is not documented"
            );
        }
    }
    // The harness does tell a missing route.
    let reply = web.call(Method::GET, "/api/nothing_here", None, None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_api_route_is_documented() {
    let web = Web::new().await;
    let doc = web.document().await;
    let documented: BTreeSet<String> = operations(&doc).keys().map(key).collect();
    let expected: BTreeSet<String> = EXPECTED.iter().map(|s| s.to_string()).collect();
    assert_eq!(EXPECTED.len(), expected.len(), "EXPECTED has a duplicate");
    assert_eq!(
        documented.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "documented but not expected"
    );
    assert_eq!(
        expected.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "expected but not documented"
    );
    assert!(
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .all(|p| p.starts_with("/api/")),
        "only the API is documented"
    );

    // The API's routes are registered only through `routes!` (which documents them): the web crate's
    // source has no plain `.route("/api…")`, and one `#[utoipa::path]` per handler.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "{files:?}");
    let mut annotations = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let flat: String = text.split_whitespace().collect();
        for needle in [".route(\"/api", ".route_service(\"/api", ".nest(\"/api"] {
            assert!(
                !flat.contains(needle),
                "{}: an API route registered without its OpenAPI operation ({needle})",
                file.display()
            );
        }
        annotations += text
            .lines()
            .filter(|l| l.trim_start().starts_with("#[utoipa::path("))
            .count();
    }
    // Each annotated handler is one operation (a handler with several methods would be more).
    assert_eq!(annotations, documented.len(), "handlers not registered");
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[tokio::test]
async fn errors_and_security_are_documented_consistently() {
    let web = Web::new().await;
    let doc = web.document().await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["session"]["type"], "apiKey");
    assert_eq!(schemes["session"]["in"], "cookie");
    assert_eq!(
        schemes["session"]["name"],
        disconcierge_web::auth::SESSION_COOKIE
    );
    assert!(
        schemes["session"]["description"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token")
    );
    assert_eq!(schemes["bearer"]["type"], "http");
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    let error = &doc["components"]["schemas"]["Error"];
    assert_eq!(
        error["required"],
        json!(["error", "message", "fields"]),
        "{error}"
    );

    let mut ids = BTreeSet::new();
    for (op_key, op) in operations(&doc) {
        let name = key(&op_key);
        let (method, _) = &op_key;
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no operationId"));
        assert!(ids.insert(id.to_string()), "{name}: operationId {id} twice");
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.is_empty()),
            "{name}: no summary"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| t.len() == 1),
            "{name}: one tag"
        );

        for (status, response) in op["responses"].as_object().unwrap() {
            let code: u16 = status
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {status}"));
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name} {status}: no description"
            );
            if code >= 400 {
                assert_eq!(
                    response["content"],
                    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}),
                    "{name} {status}: an error answer without the Error body"
                );
            }
        }

        let security: Vec<String> = op["security"]
            .as_array()
            .map(|reqs| {
                reqs.iter()
                    .flat_map(|r| r.as_object().unwrap().keys().cloned())
                    .collect()
            })
            .unwrap_or_default();
        let csrf_param = op["parameters"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["name"] == "X-CSRF-Token" && p["in"] == "header")
        });
        if PUBLIC.contains(&name.as_str()) {
            assert!(security.is_empty(), "{name}: public, yet {security:?}");
            assert!(!csrf_param, "{name}");
            continue;
        }
        assert!(!security.is_empty(), "{name}: no security");
        assert!(
            security.iter().all(|s| s == "session" || s == "bearer"),
            "{name}: {security:?}"
        );
        assert!(security.contains(&"session".to_string()), "{name}");
        let responses = &op["responses"];
        assert!(responses.get("401").is_some(), "{name}: no 401");
        assert!(responses.get("503").is_some(), "{name}: no 503");
        // Changes made with the cookie need the CSRF token; reads do not.
        assert_eq!(csrf_param, method != "GET", "{name}: X-CSRF-Token");
        if method != "GET" || !security.contains(&"bearer".to_string()) {
            assert!(responses.get("403").is_some(), "{name}: no 403");
        }
    }
    // What only a person may do refuses API tokens.
    for name in [
        "POST /api/logout",
        "POST /api/password",
        "POST /api/admins",
        "DELETE /api/admins/{id}",
        "GET /api/tokens",
        "POST /api/tokens",
        "DELETE /api/tokens/{id}",
    ] {
        let (method, path) = name.split_once(' ').unwrap();
        let op = &doc["paths"][path][method.to_lowercase()];
        assert_eq!(op["security"], json!([{"session": []}]), "{name}");
    }
}

// ----- Real answers against the document -----

/// Checks answers against the document: each one's status is documented for its operation, and its body
/// validates against the documented schema.
struct Checker {
    doc: Value,
    /// The operations checked, to tell which were not.
    seen: BTreeSet<String>,
}

impl Checker {
    fn check(&mut self, method: &str, template: &str, reply: &Reply) {
        let name = format!("{method} {template}");
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{name}: not documented");
        let status = reply.status.as_str();
        let response = &op["responses"][status];
        assert!(
            response.is_object(),
            "{name}: answered {status}, which is not documented: {}",
            reply.body
        );
        self.seen.insert(name.clone());
        let Some(content) = response["content"].as_object() else {
            assert!(
                reply.body.is_empty(),
                "{name} {status}: an undocumented body"
            );
            return;
        };
        let (media_type, media) = content.iter().next().unwrap();
        let sent = reply.content_type().unwrap_or_default();
        assert!(
            sent.starts_with(media_type.as_str()),
            "{name} {status}: sent {sent}, documented {media_type}"
        );
        let mut schema = media["schema"].clone();
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{name} {status}: the schema does not compile: {e}"));
        let values: Vec<Value> = if media_type == "application/x-ndjson" {
            reply
                .body
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        } else {
            vec![reply.json()]
        };
        assert!(!values.is_empty(), "{name} {status}");
        for value in &values {
            let errors: Vec<String> = validator
                .iter_errors(value)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{name} {status}: the answer does not match the document:\n{errors:#?}\n{value:#}"
            );
        }
    }
}

impl Web {
    /// Sends a request and checks its answer; returns it.
    async fn checked(
        &self,
        checker: &mut Checker,
        session: Option<&Session>,
        (method, template, uri): (&str, &str, &str),
        body: Option<Value>,
        expected: StatusCode,
    ) -> Reply {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = self.call(m, uri, session, body).await;
        assert_eq!(reply.status, expected, "{method} {uri}: {}", reply.body);
        checker.check(method, template, &reply);
        reply
    }

    /// Records a finished chat command with an LLM call and feedback; its id.
    async fn seed_command(&self, user: u64) -> i64 {
        let now = Utc::now();
        let cmd = self
            .store()
            .insert_chat_command(NewChatCommand {
                interaction_id: 500,
                interaction_token: "SECRET".into(),
                token_expires_at: now + TimeDelta::minutes(15),
                application_id: 1,
                user_id: user,
                guild_id: Some(77),
                channel_id: Some(88),
                private: false,
                prompt: "hello?".into(),
                state: ChatCommandState::Queued,
                created_at: now,
            })
            .await
            .unwrap();
        self.store()
            .claim_next_chat_command("w", Duration::from_secs(60), now)
            .await
            .unwrap()
            .unwrap();
        let usage = TokenUsage {
            prompt_tokens: 10,
            completion_tokens: 5,
            total_tokens: 15,
        };
        self.store()
            .finish_chat_command(
                cmd.id,
                "w",
                &ChatCommandOutcome {
                    state: ChatCommandState::Completed,
                    response: Some("hi".into()),
                    error: None,
                    usage: Some(usage),
                    discord_message_id: Some(5),
                },
            )
            .await
            .unwrap();
        self.store()
            .insert_llm_call_log(&LlmCallLog {
                chat_command_id: Some(cmd.id),
                provider: "openai-chat".into(),
                operation: "chat.completions".into(),
                model: Some("gpt-test".into()),
                request: json!({"messages": []}),
                response: Some(json!({"content": "hi"})),
                http_status: Some(200),
                error: None,
                started_at: now,
                duration_ms: 12,
                usage: Some(usage),
            })
            .await
            .unwrap();
        self.store()
            .insert_user_feedback(&UserFeedback {
                chat_command_id: cmd.id,
                user_id: user,
                kind: FeedbackKind::Other,
                detail: Some("more, please".into()),
                created_at: now,
            })
            .await
            .unwrap();
        cmd.id
    }

    /// Records the rest of what the lists show: an interaction, a message about the bot and a ticket
    /// whose bot reply used an entry deleted since. The interaction's and the ticket's ids.
    async fn seed_logs(&self, user: u64, answer: i64) -> (i64, i64) {
        let now = Utc::now();
        let interaction = self
            .store()
            .insert_interaction_log(&InteractionLog {
                interaction_id: 900,
                interaction_type: "application_command".into(),
                user_id: Some(user),
                guild_id: Some(77),
                channel_id: Some(88),
                payload: json!({"data": {"name": "chat"}}),
                received_at: now,
            })
            .await
            .unwrap();
        self.store()
            .insert_discord_message(&DiscordMessage {
                message_id: 1,
                channel_id: 88,
                guild_id: Some(77),
                user_id: Some(user),
                chat_command_id: Some(answer),
                content: "thanks".into(),
                payload: Some(json!({"noticed": "reply"})),
                created_at: now,
            })
            .await
            .unwrap();
        let reserved = self
            .store()
            .reserve_ticket(
                &NewTicket {
                    guild_id: 77,
                    category: "billing".into(),
                    opener_id: user,
                    opener_name: "ann".into(),
                    created_at: now,
                },
                Duration::from_secs(300),
            )
            .await
            .unwrap();
        let TicketReservation::Reserved(ticket) = reserved else {
            panic!("a new ticket")
        };
        self.store()
            .attach_ticket_thread(ticket.id, 9_001)
            .await
            .unwrap();
        self.store()
            .record_ticket_message(&NewTicketMessage {
                ticket_id: ticket.id,
                message_id: 31,
                author_id: 1,
                author_name: "bot".into(),
                author: TicketAuthor::Bot,
                content: "Try turning it off and on.".into(),
                source: Some(ReplySource::Llm),
                used: vec![UsedEntry {
                    kind: EntryKind::Training,
                    id: 123_456,
                    confidence: 0.8,
                }],
                created_at: now,
            })
            .await
            .unwrap();
        (interaction, ticket.id)
    }
}

#[tokio::test]
async fn answers_match_the_document() {
    let web = Web::new().await;
    let mut c = Checker {
        doc: web.document().await,
        seen: BTreeSet::new(),
    };
    let user = 41;
    web.store()
        .upsert_user(user, "ann", Some("Ann"))
        .await
        .unwrap();
    let command = web.seed_command(user).await;
    let (interaction, ticket) = web.seed_logs(user, command).await;
    let w = &web;
    let ok = StatusCode::OK;

    // Session.
    let reply = w
        .checked(
            &mut c,
            None,
            ("POST", "/api/login", "/api/login"),
            Some(json!({"username": "admin", "password": PASSWORD})),
            ok,
        )
        .await;
    let mut s = Session::of(&reply);
    let s1 = Some(&s);
    w.checked(
        &mut c,
        None,
        ("POST", "/api/login", "/api/login"),
        Some(json!({"username": "admin", "password": "wrong"})),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    w.checked(
        &mut c,
        None,
        ("POST", "/api/login", "/api/login"),
        Some(json!({"user": "admin"})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    w.checked(
        &mut c,
        None,
        ("GET", "/api/me", "/api/me"),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    w.checked(&mut c, s1, ("GET", "/api/me", "/api/me"), None, ok)
        .await;

    // Chat commands, configuration, operations.
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/chat_commands", "/api/chat_commands?limit=5"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/chat_commands", "/api/chat_commands?limit=500"),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/chat_commands/{id}",
            &format!("/api/chat_commands/{command}"),
        ),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/chat_commands/{id}",
            "/api/chat_commands/999999",
        ),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    let config = w
        .checked(&mut c, s1, ("GET", "/api/config", "/api/config"), None, ok)
        .await
        .json();
    let version = config["version"].as_i64().unwrap();
    w.checked(&mut c, s1, ("PUT", "/api/config", "/api/config"), Some(json!({"expected_version": version, "config": {"paused_message": "Back soon", "llm_temperature": 0.5}})), ok).await;
    w.checked(
        &mut c,
        s1,
        ("PUT", "/api/config", "/api/config"),
        Some(json!({"expected_version": version, "config": {}})),
        StatusCode::CONFLICT,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("PUT", "/api/config", "/api/config"),
        Some(json!({"expected_version": version + 1, "config": {"no_such_setting": 1}})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/config/history", "/api/config/history"),
        None,
        ok,
    )
    .await;
    w.checked(&mut c, s1, ("GET", "/api/status", "/api/status"), None, ok)
        .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/instances", "/api/instances"),
        None,
        ok,
    )
    .await;
    for range in ["", "?range=48h", "?range=30d"] {
        let path = format!("/api/stats{range}");
        w.checked(&mut c, s1, ("GET", "/api/stats", &path), None, ok)
            .await;
    }
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/stats", "/api/stats?range=1y"),
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    for action in ["pause", "resume", "reload", "clear_conversations"] {
        let path = format!("/api/actions/{action}");
        w.checked(&mut c, s1, ("POST", &path, &path), None, ok)
            .await;
    }
    w.checked(
        &mut c,
        s1,
        (
            "POST",
            "/api/actions/register_commands",
            "/api/actions/register_commands",
        ),
        None,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    let no_csrf = Session {
        cookie: s.cookie.clone(),
        csrf: String::new(),
    };
    w.checked(
        &mut c,
        Some(&no_csrf),
        ("POST", "/api/actions/pause", "/api/actions/pause"),
        None,
        StatusCode::FORBIDDEN,
    )
    .await;

    // Admins and API tokens.
    w.checked(&mut c, s1, ("GET", "/api/admins", "/api/admins"), None, ok)
        .await;
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/admins", "/api/admins"),
        Some(json!({"username": "second", "password": PASSWORD})),
        StatusCode::CREATED,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/admins", "/api/admins"),
        Some(json!({"username": "second", "password": PASSWORD})),
        StatusCode::CONFLICT,
    )
    .await;
    let second = w
        .store()
        .admin_by_username("second")
        .await
        .unwrap()
        .unwrap()
        .id;
    w.checked(
        &mut c,
        s1,
        (
            "DELETE",
            "/api/admins/{id}",
            &format!("/api/admins/{second}"),
        ),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "DELETE",
            "/api/admins/{id}",
            &format!("/api/admins/{second}"),
        ),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    w.checked(&mut c, s1, ("GET", "/api/tokens", "/api/tokens"), None, ok)
        .await;
    let created = w
        .checked(
            &mut c,
            s1,
            ("POST", "/api/tokens", "/api/tokens"),
            Some(json!({"name": "ci", "expires_in_days": 30})),
            StatusCode::CREATED,
        )
        .await
        .json();
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/tokens", "/api/tokens"),
        Some(json!({"name": ""})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let token = created["token"].as_str().unwrap();
    let bearer = w
        .send(
            Request::builder()
                .uri("/api/tokens")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(bearer.status, StatusCode::FORBIDDEN);
    c.check("GET", "/api/tokens", &bearer);
    let token_id = created["id"].as_i64().unwrap();
    w.checked(&mut c, s1, ("GET", "/api/tokens", "/api/tokens"), None, ok)
        .await;
    w.checked(
        &mut c,
        s1,
        (
            "DELETE",
            "/api/tokens/{id}",
            &format!("/api/tokens/{token_id}"),
        ),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;

    // Logs and users.
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/feedback", "/api/feedback?kind=other"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/interactions", "/api/interactions"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/interactions/{id}",
            &format!("/api/interactions/{interaction}"),
        ),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/discord_messages", "/api/discord_messages"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/users", "/api/users?sort=name"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/users/{id}", &format!("/api/users/{user}")),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "PUT",
            "/api/users/{id}/settings",
            &format!("/api/users/{user}/settings"),
        ),
        Some(json!({"priority": true, "limit_override": 5, "llm_temperature": 1.5})),
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "PUT",
            "/api/users/{id}/settings",
            &format!("/api/users/{user}/settings"),
        ),
        Some(json!({"llm_temperature": 3})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // The playground streams one event per line.
    let stream = w
        .checked(
            &mut c,
            s1,
            ("POST", "/api/playground", "/api/playground"),
            Some(json!({"guild": "77", "question": "How do I reset my password?"})),
            ok,
        )
        .await;
    assert_eq!(stream.body.lines().count(), 5, "{}", stream.body);
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/playground", "/api/playground"),
        Some(json!({"guild": "x"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // The support desk.
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/tickets", "/api/tickets?guild=77"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/tickets/{id}",
            &format!("/api/tickets/{ticket}"),
        ),
        None,
        ok,
    )
    .await;
    let settings = ("GET", "/api/desk/settings", "/api/desk/settings?guild=77");
    w.checked(&mut c, s1, settings, None, StatusCode::NOT_FOUND)
        .await;
    w.store()
        .save_guild_settings(&disconcierge_core::desk::model::GuildSettings {
            guild_id: 77,
            forum_channel_id: 1,
            staff_role_id: 2,
            log_channel_id: None,
            instructions: None,
            auto_close_after_secs: None,
            ai_replies: true,
            training: true,
            member_replies_per_6h: 0,
            member_reply_interval_secs: 0,
            updated_by: 5,
            updated_at: Utc::now(),
        })
        .await
        .unwrap();
    w.checked(&mut c, s1, settings, None, ok).await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/desk/settings", "/api/desk/settings"),
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let change = ("PATCH", "/api/desk/settings", "/api/desk/settings?guild=77");
    w.checked(
        &mut c,
        s1,
        change,
        Some(json!({"member_reply_interval_secs": 60})),
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        change,
        Some(json!({"member_replies_per_6h": 1001})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        change,
        Some(json!({"other": 1})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("PATCH", "/api/desk/settings", "/api/desk/settings?guild=78"),
        Some(json!({})),
        StatusCode::NOT_FOUND,
    )
    .await;
    let entry = json!({"question": "How do I reset my password?", "answer": "Use the link.", "tags": ["account"]});
    let trained = w
        .checked(
            &mut c,
            s1,
            ("POST", "/api/training", "/api/training?guild=77"),
            Some(entry.clone()),
            StatusCode::CREATED,
        )
        .await
        .json();
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/training", "/api/training?guild=77"),
        Some(entry),
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/training", "/api/training"),
        Some(json!({})),
        StatusCode::BAD_REQUEST,
    )
    .await;
    let id = trained["entry"]["id"].as_i64().unwrap();
    let one = format!("/api/training/{id}?guild=77");
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/training", "/api/training?guild=77&limit=10"),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/training", "/api/training?guild=77&q=password"),
        None,
        ok,
    )
    .await;
    w.checked(&mut c, s1, ("GET", "/api/training/{id}", &one), None, ok)
        .await;
    w.checked(&mut c, s1, ("PUT", "/api/training/{id}", &one), Some(json!({"question": "How do I reset it?", "answer": "Like this.", "category": "account"})), ok).await;
    w.checked(
        &mut c,
        s1,
        ("PUT", "/api/training/{id}", &one),
        Some(json!({"question": "", "answer": "x"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let file = w
        .checked(
            &mut c,
            s1,
            (
                "GET",
                "/api/training/export",
                "/api/training/export?guild=77",
            ),
            None,
            ok,
        )
        .await;
    w.checked(
        &mut c,
        s1,
        (
            "POST",
            "/api/training/import",
            "/api/training/import?guild=78",
        ),
        Some(file.json()),
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "POST",
            "/api/training/import",
            "/api/training/import?guild=78",
        ),
        Some(json!({"format": "other"})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("DELETE", "/api/training/{id}", &one),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/training/{id}", &one),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    let kb = w
        .checked(
            &mut c,
            s1,
            (
                "POST",
                "/api/knowledge_bases",
                "/api/knowledge_bases?guild=77",
            ),
            Some(json!({"name": "FAQ", "description": "Questions"})),
            StatusCode::CREATED,
        )
        .await
        .json();
    w.checked(
        &mut c,
        s1,
        (
            "POST",
            "/api/knowledge_bases",
            "/api/knowledge_bases?guild=77",
        ),
        Some(json!({"name": "faq"})),
        StatusCode::CONFLICT,
    )
    .await;
    let kb_id = kb["id"].as_i64().unwrap();
    let kb_path = format!("/api/knowledge_bases/{kb_id}");
    let q = "?guild=77";
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/knowledge_bases",
            "/api/knowledge_bases?guild=77",
        ),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/knowledge_bases/{id}", &format!("{kb_path}{q}")),
        None,
        ok,
    )
    .await;
    let added = w
        .checked(
            &mut c,
            s1,
            (
                "POST",
                "/api/knowledge_bases/{id}/entries",
                &format!("{kb_path}/entries{q}"),
            ),
            Some(json!({"title": "Reset", "content": "Use the link.", "tags": ["a"]})),
            StatusCode::CREATED,
        )
        .await
        .json();
    let entry_path = format!("{kb_path}/entries/{}{q}", added["id"]);
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/knowledge_bases/{id}/entries",
            &format!("{kb_path}/entries{q}"),
        ),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/knowledge_bases/{id}/entries/{entry}",
            &entry_path,
        ),
        None,
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "PUT",
            "/api/knowledge_bases/{id}/entries/{entry}",
            &entry_path,
        ),
        Some(json!({"title": "Reset", "content": "Use the new link."})),
        ok,
    )
    .await;
    let file = w
        .checked(
            &mut c,
            s1,
            (
                "GET",
                "/api/knowledge_bases/{id}/export",
                &format!("{kb_path}/export{q}"),
            ),
            None,
            ok,
        )
        .await;
    w.checked(
        &mut c,
        s1,
        (
            "POST",
            "/api/knowledge_bases/{id}/import",
            &format!("{kb_path}/import{q}"),
        ),
        Some(file.json()),
        ok,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "DELETE",
            "/api/knowledge_bases/{id}/entries/{entry}",
            &entry_path,
        ),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "GET",
            "/api/knowledge_bases/{id}/entries/{entry}",
            &entry_path,
        ),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        (
            "DELETE",
            "/api/knowledge_bases/{id}",
            &format!("{kb_path}{q}"),
        ),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/knowledge_bases/{id}", &format!("{kb_path}{q}")),
        None,
        StatusCode::NOT_FOUND,
    )
    .await;

    w.checked(
        &mut c,
        None,
        ("GET", "/api/openapi.json", "/api/openapi.json"),
        None,
        ok,
    )
    .await;

    // Last: what ends the session or the application.
    let changed = w
        .checked(
            &mut c,
            s1,
            ("POST", "/api/password", "/api/password"),
            Some(json!({"current_password": PASSWORD, "new_password": "another long password"})),
            ok,
        )
        .await;
    w.checked(
        &mut c,
        s1,
        ("GET", "/api/me", "/api/me"),
        None,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    s = Session::of(&changed);
    let s1 = Some(&s);
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/password", "/api/password"),
        Some(json!({"current_password": "wrong", "new_password": "another long password"})),
        StatusCode::FORBIDDEN,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/actions/shutdown", "/api/actions/shutdown"),
        None,
        StatusCode::ACCEPTED,
    )
    .await;
    w.checked(
        &mut c,
        s1,
        ("POST", "/api/logout", "/api/logout"),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;

    // Every operation was checked.
    let all: BTreeSet<String> = operations(&c.doc).keys().map(key).collect();
    let unchecked: Vec<_> = all.difference(&c.seen).collect();
    assert!(unchecked.is_empty(), "not checked: {unchecked:?}");
}
