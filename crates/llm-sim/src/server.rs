//! The HTTP server: start/stop, routing, authentication, recording, and the
//! injection of scripted failures before the per-API handlers run.
//!
//! Routing is done by hand on the path segments behind a single axum fallback
//! handler, rather than with axum's router, because every request — including
//! unknown paths, bad JSON and unauthenticated calls — must be recorded first and
//! answered in the exact error shape of the API it targeted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::conversations::{self, Store};
use crate::record::{Endpoint, LlmRequest, RecordedRequest, Recorder, WaitError};
use crate::script::{Failure, FailureRule, Plan, Reply, Script, Timing};
use crate::tokens::DEFAULT_EMBEDDING_DIMENSIONS;
use crate::{chat, embeddings, ollama, openai, stream};

/// The API key the simulator expects by default (`Authorization: Bearer sk-llm-sim`).
pub const DEFAULT_API_KEY: &str = "sk-llm-sim";

/// Seconds since the Unix epoch (the `created`/`created_at` of OpenAI objects).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Locks a mutex, ignoring poisoning: a panicking test thread must not turn every
/// later assertion into a confusing `PoisonError`.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fixed settings of one simulator.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub api_key: Option<String>,
    pub embedding_dimensions: usize,
    pub models: Vec<String>,
}

/// State shared by all request handlers of one simulator.
pub(crate) struct Shared {
    pub config: Config,
    pub script: Mutex<Script>,
    pub recorder: Recorder,
    pub store: Mutex<Store>,
    pub started: tokio::time::Instant,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub(crate) fn shutdown_rx(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Takes the next scripted reply and turns it into what will be delivered,
    /// cut to the request's output cap (one streamed chunk = one token).
    pub(crate) fn plan(&self, req: &LlmRequest, failure: Option<Failure>) -> Plan {
        let (reply, timing, chunking) = lock(&self.script).take_reply();
        let mut tokens = reply.render(req, &chunking);
        let cap = req.max_output_tokens.map(|m| m as usize);
        let truncated = cap.is_some_and(|m| tokens.len() > m);
        if let Some(m) = cap {
            tokens.truncate(m);
        }
        Plan {
            tokens,
            truncated,
            timing,
            failure,
        }
    }

    /// The script's default timing (embeddings use its first-token delay as latency).
    pub(crate) fn timing(&self) -> Timing {
        lock(&self.script).current_timing()
    }
}

/// An API error, rendered in OpenAI's or Ollama's shape depending on the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub param: Option<String>,
    pub code: Option<String>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    pub(crate) fn param(mut self, param: &str) -> Self {
        self.param = Some(param.to_owned());
        self
    }

    pub(crate) fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }

    /// OpenAI's `type`: what the real API uses for these statuses.
    fn openai_type(&self) -> &'static str {
        match self.status.as_u16() {
            429 => "requests",
            s if s >= 500 => "server_error",
            _ => "invalid_request_error",
        }
    }

    /// The OpenAI error object (`{message, type, param, code}`), also used in-band.
    pub(crate) fn openai_object(&self) -> Value {
        let code = self.code.clone().or_else(|| {
            (self.status == StatusCode::TOO_MANY_REQUESTS).then(|| "rate_limit_exceeded".to_owned())
        });
        json!({"message": self.message, "type": self.openai_type(), "param": self.param, "code": code})
    }

    pub(crate) fn render(&self, endpoint: Endpoint) -> Response {
        let body = if endpoint.is_ollama() {
            json!({"error": self.message})
        } else {
            json!({"error": self.openai_object()})
        };
        let mut response = stream::json(self.status, &body);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A parsed route: which handler, with the ids from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    ResponsesCreate,
    ResponseGet(String),
    ResponseDelete(String),
    ConversationCreate,
    ConversationGet(String),
    ConversationUpdate(String),
    ConversationDelete(String),
    ItemsList(String),
    ItemsCreate(String),
    ItemGet(String, String),
    ItemDelete(String, String),
    ChatCompletions,
    Embeddings,
    ModelsList,
    ModelGet(String),
    Assistants,
    OllamaChat,
    OllamaGenerate,
    OllamaEmbed,
    OllamaEmbeddingsLegacy,
    OllamaTags,
    OllamaVersion,
    OllamaHealth,
    NotFound,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Route {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let m = method.as_str();
        let s = |x: &str| x.to_owned();
        match (m, segs.as_slice()) {
            ("POST", ["v1", "responses"]) => Route::ResponsesCreate,
            ("GET", ["v1", "responses", id]) => Route::ResponseGet(s(id)),
            ("DELETE", ["v1", "responses", id]) => Route::ResponseDelete(s(id)),
            ("POST", ["v1", "conversations"]) => Route::ConversationCreate,
            ("GET", ["v1", "conversations", id]) => Route::ConversationGet(s(id)),
            ("POST", ["v1", "conversations", id]) => Route::ConversationUpdate(s(id)),
            ("DELETE", ["v1", "conversations", id]) => Route::ConversationDelete(s(id)),
            ("GET", ["v1", "conversations", id, "items"]) => Route::ItemsList(s(id)),
            ("POST", ["v1", "conversations", id, "items"]) => Route::ItemsCreate(s(id)),
            ("GET", ["v1", "conversations", id, "items", item]) => Route::ItemGet(s(id), s(item)),
            ("DELETE", ["v1", "conversations", id, "items", item]) => {
                Route::ItemDelete(s(id), s(item))
            }
            ("POST", ["v1", "chat", "completions"]) => Route::ChatCompletions,
            ("POST", ["v1", "embeddings"]) => Route::Embeddings,
            ("GET", ["v1", "models"]) => Route::ModelsList,
            // Model ids may contain slashes (`meta-llama/Llama-3.1-8B` on vLLM).
            ("GET", ["v1", "models", rest @ ..]) => Route::ModelGet(rest.join("/")),
            (_, ["v1", "assistants", ..]) | (_, ["v1", "threads", ..]) => Route::Assistants,
            ("POST", ["api", "chat"]) => Route::OllamaChat,
            ("POST", ["api", "generate"]) => Route::OllamaGenerate,
            ("POST", ["api", "embed"]) => Route::OllamaEmbed,
            ("POST", ["api", "embeddings"]) => Route::OllamaEmbeddingsLegacy,
            ("GET", ["api", "tags"]) => Route::OllamaTags,
            ("GET", ["api", "version"]) => Route::OllamaVersion,
            ("GET" | "HEAD", []) => Route::OllamaHealth,
            _ => Route::NotFound,
        }
    }

    fn endpoint(&self) -> Endpoint {
        match self {
            Route::ResponsesCreate => Endpoint::Responses,
            Route::ResponseGet(_) | Route::ResponseDelete(_) => Endpoint::ResponseRetrieve,
            Route::ConversationCreate
            | Route::ConversationGet(_)
            | Route::ConversationUpdate(_)
            | Route::ConversationDelete(_) => Endpoint::Conversations,
            Route::ItemsList(_)
            | Route::ItemsCreate(_)
            | Route::ItemGet(..)
            | Route::ItemDelete(..) => Endpoint::ConversationItems,
            Route::ChatCompletions => Endpoint::ChatCompletions,
            Route::Embeddings => Endpoint::Embeddings,
            Route::ModelsList | Route::ModelGet(_) => Endpoint::Models,
            Route::Assistants => Endpoint::Assistants,
            Route::OllamaChat => Endpoint::OllamaChat,
            Route::OllamaGenerate => Endpoint::OllamaGenerate,
            Route::OllamaEmbed | Route::OllamaEmbeddingsLegacy => Endpoint::OllamaEmbed,
            Route::OllamaTags => Endpoint::OllamaTags,
            Route::OllamaVersion => Endpoint::OllamaVersion,
            Route::OllamaHealth => Endpoint::OllamaHealth,
            Route::NotFound => Endpoint::Unknown,
        }
    }
}

/// `(authorization header present, request accepted)`. Only `/v1` is checked: Ollama's
/// native API has no authentication.
fn check_auth(config: &Config, path: &str, headers: &HeaderMap) -> (bool, bool) {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let present = value.is_some();
    let needs_auth = path == "/v1" || path.starts_with("/v1/");
    let ok = match (&config.api_key, needs_auth) {
        (Some(key), true) => value.and_then(|v| v.strip_prefix("Bearer ")) == Some(key.as_str()),
        _ => true,
    };
    (present, ok)
}

/// OpenAI's 401, for a missing or wrong key.
fn auth_error(present: bool) -> ApiError {
    let message = if present {
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
    } else {
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
    };
    ApiError::new(StatusCode::UNAUTHORIZED, message).code("invalid_api_key")
}

/// Parses the API-neutral view of a generation request (and the error to answer
/// instead, e.g. an unknown conversation).
fn parse_llm(
    shared: &Shared,
    route: &Route,
    body: Option<&Value>,
) -> (Option<LlmRequest>, Option<ApiError>) {
    let empty = Value::Object(Default::default());
    let body = body.unwrap_or(&empty);
    match route {
        Route::ResponsesCreate => {
            let (req, err) = openai::parse(&lock(&shared.store), body);
            (Some(req), err)
        }
        Route::ChatCompletions => (Some(chat::parse(body)), None),
        Route::Embeddings => (Some(embeddings::parse(body)), None),
        Route::OllamaChat => (Some(ollama::parse_chat(body)), None),
        Route::OllamaGenerate => (Some(ollama::parse_generate(body)), None),
        Route::OllamaEmbed | Route::OllamaEmbeddingsLegacy => {
            (Some(ollama::parse_embed(body)), None)
        }
        _ => (None, None),
    }
}

/// The single entry point of every request.
async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let arrived = tokio::time::Instant::now();
    let bytes = axum::body::to_bytes(body, 64 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let route = Route::parse(&parts.method, &path);
    let endpoint = route.endpoint();
    let body_json: Option<Value> = if bytes.is_empty() {
        None
    } else {
        serde_json::from_slice(&bytes).ok()
    };
    let (authorization_present, authorized) = check_auth(&shared.config, &path, &parts.headers);
    let (llm, early_error) = parse_llm(&shared, &route, body_json.as_ref());
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            let v = if name == header::AUTHORIZATION {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), v)
        })
        .collect();
    let recorded = RecordedRequest {
        index: 0,
        endpoint,
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers,
        authorization_present,
        authorized,
        body: body_json.clone(),
        at: SystemTime::now(),
        since_start: arrived.duration_since(shared.started),
        llm: llm.clone(),
    };

    if !authorized {
        shared.recorder.push(recorded);
        return auth_error(authorization_present).render(endpoint);
    }
    if !bytes.is_empty() && body_json.is_none() {
        shared.recorder.push(recorded);
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
        )
        .render(endpoint);
    }

    // Failures are chosen before the request becomes visible to waiters, so a test
    // that waits for a request and then changes the script cannot race with it.
    let failure = lock(&shared.script).take_failure(&recorded);
    shared.recorder.push(recorded);
    let mut delivery_failure = None;
    match failure {
        Some(Failure::Status {
            status,
            message,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut err = ApiError::new(status, message);
            err.retry_after = retry_after;
            return err.render(endpoint);
        }
        Some(Failure::Hang) => {
            stream::until_shutdown(&shared).await;
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Some(Failure::SlowHeaders(d)) => {
            if !stream::sleep_or_shutdown(&shared, d).await {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        }
        other => delivery_failure = other,
    }
    if let Some(err) = early_error {
        return err.render(endpoint);
    }

    let ctx = Ctx {
        shared: shared.clone(),
        arrived,
        endpoint,
    };
    let body = body_json.as_ref();
    let result: Result<Response, ApiError> = match route {
        Route::ResponsesCreate => Ok(openai::create(
            ctx.clone(),
            body,
            llm.unwrap_or_default(),
            delivery_failure.take(),
        )
        .await),
        Route::ChatCompletions => Ok(chat::create(
            ctx.clone(),
            body,
            llm.unwrap_or_default(),
            delivery_failure.take(),
        )
        .await),
        Route::OllamaChat | Route::OllamaGenerate => {
            let generate = route == Route::OllamaGenerate;
            Ok(ollama::generate(
                ctx.clone(),
                generate,
                llm.unwrap_or_default(),
                delivery_failure.take(),
            )
            .await)
        }
        Route::Embeddings => embeddings::create(&ctx, body, &llm.unwrap_or_default()).await,
        Route::OllamaEmbed => Ok(ollama::embed(&ctx, body, &llm.unwrap_or_default(), false).await),
        Route::OllamaEmbeddingsLegacy => {
            Ok(ollama::embed(&ctx, body, &llm.unwrap_or_default(), true).await)
        }
        Route::ResponseGet(id) => openai::get(&shared, &id),
        Route::ResponseDelete(id) => openai::delete(&shared, &id),
        Route::ConversationCreate => Ok(conversations::create(&mut lock(&shared.store), body)),
        Route::ConversationGet(id) => conversations::get(&lock(&shared.store), &id),
        Route::ConversationUpdate(id) => conversations::update(&mut lock(&shared.store), &id, body),
        Route::ConversationDelete(id) => conversations::delete(&mut lock(&shared.store), &id),
        Route::ItemsList(id) => {
            conversations::list_items(&lock(&shared.store), &id, query.as_deref())
        }
        Route::ItemsCreate(id) => conversations::create_items(&mut lock(&shared.store), &id, body),
        Route::ItemGet(id, item) => conversations::get_item(&lock(&shared.store), &id, &item),
        Route::ItemDelete(id, item) => {
            conversations::delete_item(&mut lock(&shared.store), &id, &item)
        }
        Route::ModelsList => Ok(openai::models(&shared.config)),
        Route::ModelGet(id) => openai::model(&shared.config, &id),
        Route::OllamaTags => Ok(ollama::tags(&shared.config)),
        Route::OllamaVersion => Ok(stream::json(
            StatusCode::OK,
            &json!({"version": ollama::VERSION}),
        )),
        Route::OllamaHealth => Ok((StatusCode::OK, "Ollama is running").into_response()),
        Route::Assistants | Route::NotFound => {
            if path.starts_with("/v1") {
                Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("Invalid URL ({} {})", parts.method, path),
                ))
            } else {
                Ok((StatusCode::NOT_FOUND, "404 page not found").into_response())
            }
        }
    };
    let response = result.unwrap_or_else(|e| e.render(endpoint));
    // Failures scripted for endpoints that do not generate (via a predicate) spoil
    // the finished JSON body the same way they spoil a non-streamed generation.
    match delivery_failure {
        Some(f) => stream::spoil(shared, response, f).await,
        None => response,
    }
}

/// What generation handlers need to know about their request.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub shared: Arc<Shared>,
    /// Arrival on tokio's clock (Ollama reports durations from it).
    pub arrived: tokio::time::Instant,
    pub endpoint: Endpoint,
}

/// Configures a simulator before it starts.
#[derive(Debug, Clone)]
pub struct LlmSimBuilder {
    config: Config,
    script: Script,
}

impl Default for LlmSimBuilder {
    fn default() -> Self {
        LlmSimBuilder {
            config: Config {
                api_key: Some(DEFAULT_API_KEY.to_owned()),
                embedding_dimensions: DEFAULT_EMBEDDING_DIMENSIONS,
                models: [
                    "gpt-4o-mini",
                    "gpt-4.1",
                    "text-embedding-3-small",
                    "llama3.2",
                    "nomic-embed-text",
                ]
                .map(str::to_owned)
                .to_vec(),
            },
            script: Script::new(),
        }
    }
}

impl LlmSimBuilder {
    /// The bearer key `/v1` requires (default [`DEFAULT_API_KEY`]).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.config.api_key = Some(key.into());
        self
    }

    /// Accepts `/v1` requests without (or with any) key, like a local vLLM, llama.cpp
    /// or Ollama `/v1` server.
    pub fn no_auth(mut self) -> Self {
        self.config.api_key = None;
        self
    }

    /// Dimension of embedding vectors when the request does not ask for one
    /// (default 1536).
    pub fn embedding_dimensions(mut self, n: usize) -> Self {
        self.config.embedding_dimensions = n.max(1);
        self
    }

    /// The models listed by `GET /v1/models` and `GET /api/tags`. Requests for
    /// other models are still served: the simulator does not police model names.
    pub fn models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.models = models.into_iter().map(Into::into).collect();
        self
    }

    /// The initial script.
    pub fn script(mut self, script: Script) -> Self {
        self.script = script;
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving on the current tokio runtime.
    ///
    /// # Panics
    /// If no port can be bound (this is a test helper; see [`try_start`](Self::try_start)).
    pub async fn start(self) -> LlmSim {
        self.try_start()
            .await
            .expect("llm-sim: cannot bind 127.0.0.1:0")
    }

    /// Like [`start`](Self::start), returning the bind error instead of panicking.
    pub async fn try_start(self) -> std::io::Result<LlmSim> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (shutdown, mut shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            config: self.config,
            script: Mutex::new(self.script),
            recorder: Recorder::new(),
            store: Mutex::new(Store::default()),
            started: tokio::time::Instant::now(),
            shutdown,
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let signal = async move {
                let _ = shutdown_rx.wait_for(|v| *v).await;
            };
            // Without TCP_NODELAY each streamed chunk after the first waits for the client's delayed
            // ACK (40 ms on Linux) on a reused connection; real LLM servers stream without that pause.
            let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                let _ = tcp.set_nodelay(true);
            });
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::warn!(error = %e, "llm-sim server stopped");
            }
        });
        Ok(LlmSim {
            addr,
            shared,
            task: Some(task),
        })
    }
}

/// A running simulated LLM server (OpenAI + OpenAI-compatible + Ollama on one port).
///
/// Dropping it stops the server (in-flight hangs and streams end at once).
pub struct LlmSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LlmSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSim")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl LlmSim {
    /// Starts a simulator with the default settings (key [`DEFAULT_API_KEY`], echo replies).
    pub async fn start() -> LlmSim {
        LlmSimBuilder::default().start().await
    }

    /// A builder for non-default settings.
    pub fn builder() -> LlmSimBuilder {
        LlmSimBuilder::default()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL for OpenAI clients, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Base URL for Ollama clients, e.g. `http://127.0.0.1:PORT`.
    pub fn ollama_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The expected bearer key, if authentication is on.
    pub fn api_key(&self) -> Option<&str> {
        self.shared.config.api_key.as_deref()
    }

    /// Replaces the whole script (queued replies, failures, timing…).
    pub fn script(&self, script: Script) {
        *lock(&self.shared.script) = script;
    }

    /// Queues one reply.
    pub fn push_reply(&self, reply: Reply) {
        lock(&self.shared.script).push_reply(reply);
    }

    /// Sets the reply used once the queue is empty.
    pub fn set_default_reply(&self, reply: Reply) {
        lock(&self.shared.script).set_default_reply(reply);
    }

    /// Adds a failure rule.
    pub fn add_failure(&self, rule: FailureRule) {
        lock(&self.shared.script).push_failure(rule);
    }

    /// The next `n` generation requests fail with `failure`.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.add_failure(FailureRule::next(n, failure));
    }

    /// Sets the default timing of replies.
    pub fn set_timing(&self, timing: Timing) {
        lock(&self.shared.script).set_timing(timing);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.all()
    }

    /// The requests to one endpoint.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.requests().pop()
    }

    /// The parsed view of the last generation request (any API).
    pub fn last_llm_request(&self) -> Option<LlmRequest> {
        self.requests().into_iter().rev().find_map(|r| r.llm)
    }

    /// Forgets the recorded requests (the script and conversations stay).
    pub fn clear_requests(&self) {
        self.shared.recorder.clear();
    }

    /// Waits until at least `n` requests were received, at most `timeout` (tokio
    /// time). Never hangs: the error lists what was seen.
    pub async fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitError> {
        self.shared.recorder.wait_for(n, timeout, |_| true).await
    }

    /// Like [`wait_for_requests`](Self::wait_for_requests), counting one endpoint only.
    pub async fn wait_for_requests_to(
        &self,
        endpoint: Endpoint,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitError> {
        self.shared
            .recorder
            .wait_for(n, timeout, move |r| r.endpoint == endpoint)
            .await
    }

    /// The messages stored in a conversation (what the next response in it will see),
    /// or `None` if it does not exist.
    pub fn conversation_messages(&self, id: &str) -> Option<Vec<crate::Message>> {
        let store = lock(&self.shared.store);
        let c = store.conversations.get(id)?;
        Some(
            c.items
                .iter()
                .filter_map(conversations::item_to_message)
                .collect(),
        )
    }

    /// Number of live conversations.
    pub fn conversation_count(&self) -> usize {
        lock(&self.shared.store).conversations.len()
    }

    /// Stops the server and waits (at most 5 s) for it to finish.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for LlmSim {
    fn drop(&mut self) {
        // Wakes hangs, stalls and delays, and starts axum's graceful shutdown; the
        // server task then ends by itself (or with the test's runtime).
        self.shared.shutdown.send_replace(true);
    }
}
