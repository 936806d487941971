//! The harness the web crate's integration tests share: the real router over a fresh database (SQLite,
//! or PostgreSQL with `DC_TEST_POSTGRES_URL`), a small `Control` that validates and saves the configuration
//! as the application does, and requests as a browser or a script sends them.

// Each test file uses its own part of the harness.
#![allow(dead_code)]

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::StoredRuntimeConfig;
use disconcierge_store::testing::TestDb;
use disconcierge_store::{Store, StoreError};
use disconcierge_web::playground::{
    PlaygroundAsk, PlaygroundEvent, PlaygroundMatch, PlaygroundPlan, PlaygroundRun,
};
use disconcierge_web::{ConfigUpdateError, Control, WebSettings, WebState};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// Validates and saves like the application's `RuntimeConfigService`, keeping the applied copy in memory.
pub struct MemControl {
    pub store: Arc<dyn Store>,
    pub current: Mutex<Arc<StoredRuntimeConfig>>,
    /// Who asked for a shutdown, in order.
    pub shutdowns: Mutex<Vec<String>>,
}

#[async_trait]
impl Control for MemControl {
    fn runtime_config(&self) -> Arc<StoredRuntimeConfig> {
        self.current.lock().unwrap().clone()
    }

    fn instance_id(&self) -> String {
        "web-1".to_string()
    }

    fn shutdown(&self, requested_by: &str) {
        self.shutdowns
            .lock()
            .unwrap()
            .push(requested_by.to_string());
    }

    async fn reload_runtime_config(&self) -> Result<bool, String> {
        let stored = self
            .store
            .load_runtime_config()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no configuration stored")?;
        let mut current = self.current.lock().unwrap();
        let newer = stored.version > current.version;
        if newer {
            *current = Arc::new(stored);
        }
        Ok(newer)
    }

    /// Echoes the question in two pieces after a plan with one match (whose title is markup); a question
    /// containing "fail" fails after one piece, with a fallback.
    async fn playground(&self, ask: PlaygroundAsk) -> Result<PlaygroundRun, String> {
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let plan = PlaygroundPlan {
            kind: "llm",
            entry_id: None,
            warnings: Vec::new(),
            decision: format!("Guild {:?} asked by {}", ask.guild_id, ask.member_name),
            matches: vec![PlaygroundMatch {
                kind: "trained",
                id: 7,
                title: "<script>alert(1)</script>".into(),
                source: None,
                confidence: 0.42,
                lexical: 0.42,
                semantic: None,
                used: true,
            }],
            provider: "fake".into(),
            request: Some(json!({"input": ask.question})),
        };
        let question = ask.question.clone();
        tokio::spawn(async move {
            let _ = tx
                .send(PlaygroundEvent::Delta {
                    text: "You asked: ".into(),
                })
                .await;
            if question.contains("fail") {
                let _ = tx
                    .send(PlaygroundEvent::Failed {
                        message: "the model is down".into(),
                        fallback: Some("Staff will follow up.".into()),
                    })
                    .await;
                return;
            }
            let _ = tx
                .send(PlaygroundEvent::Delta {
                    text: question.clone(),
                })
                .await;
            let _ = tx
                .send(PlaygroundEvent::Done {
                    text: format!("You asked: {question}"),
                    elapsed_ms: 1500,
                    prompt_tokens: Some(10),
                    completion_tokens: Some(5),
                })
                .await;
        });
        Ok(PlaygroundRun { plan, events: rx })
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
                current: self
                    .store
                    .load_runtime_config()
                    .await
                    .unwrap()
                    .unwrap()
                    .version,
            }),
            Err(e) => Err(ConfigUpdateError::Failed(e.to_string())),
        }
    }
}

pub struct Web {
    pub db: TestDb,
    pub router: Router,
    pub control: Arc<MemControl>,
}

pub const PASSWORD: &str = "correct horse battery";

impl Web {
    pub async fn new(db: TestDb) -> Web {
        let store = db.store.clone();
        store
            .save_runtime_config(&RuntimeConfig::default(), None, None)
            .await
            .unwrap();
        let current = store.load_runtime_config().await.unwrap().unwrap();
        let control = Arc::new(MemControl {
            store: store.clone(),
            current: Mutex::new(Arc::new(current)),
            shutdowns: Mutex::new(Vec::new()),
        });
        disconcierge_web::admin::create_admin(store.as_ref(), "Admin", PASSWORD)
            .await
            .unwrap();
        let state = WebState::new(store, control.clone(), WebSettings::default());
        Web {
            db,
            router: disconcierge_web::router(state),
            control,
        }
    }

    pub fn store(&self) -> &dyn Store {
        self.db.store.as_ref()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
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

    pub async fn get(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut r = Request::builder().uri(uri);
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::empty()).unwrap()).await
    }

    pub async fn form(&self, uri: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut r = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        self.send(r.body(Body::from(body)).unwrap()).await
    }

    pub async fn json(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
        body: Value,
    ) -> Reply {
        self.raw(method, uri, cookie, csrf, body.to_string()).await
    }

    /// A request with a body sent as is (JSON, or an export file).
    pub async fn raw(
        &self,
        method: Method,
        uri: &str,
        cookie: Option<&str>,
        csrf: Option<&str>,
        body: String,
    ) -> Reply {
        let mut r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = cookie {
            r = r.header(header::COOKIE, c);
        }
        if let Some(t) = csrf {
            r = r.header("x-csrf-token", t);
        }
        self.send(r.body(Body::from(body)).unwrap()).await
    }

    /// A request with `Authorization: Bearer token` (no cookie, no CSRF token).
    pub async fn bearer(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let r = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json");
        let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
        self.send(r.body(body).unwrap()).await
    }

    /// `PUT /api/config` with the session's CSRF token.
    pub async fn put_config(&self, cookie: &str, csrf: &str, body: Value) -> Reply {
        self.json(Method::PUT, "/api/config", Some(cookie), Some(csrf), body)
            .await
    }

    /// Signs in through the login form; returns the cookie to send.
    pub async fn sign_in(&self) -> String {
        let reply = self
            .form(
                "/disconcierge/login",
                None,
                &[
                    ("username", "admin"),
                    ("password", PASSWORD),
                    ("next", "/disconcierge"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        reply.cookie()
    }

    /// Signs in through the API; returns the cookie and the CSRF token.
    pub async fn api_sign_in(&self) -> (String, String) {
        let reply = self
            .json(
                Method::POST,
                "/api/login",
                None,
                None,
                json!({"username": "ADMIN", "password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let csrf = reply.json()["csrf_token"].as_str().unwrap().to_string();
        (reply.cookie(), csrf)
    }
}

pub fn enc(s: &str) -> String {
    disconcierge_web::auth::url_encode(s)
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// `dc_session=…` from Set-Cookie.
    pub fn cookie(&self) -> String {
        let set = self.headers[header::SET_COOKIE].to_str().unwrap();
        set.split(';').next().unwrap().to_string()
    }

    pub fn location(&self) -> &str {
        self.headers[header::LOCATION].to_str().unwrap()
    }

    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers[name].to_str().unwrap()
    }
}

/// The CSRF token embedded in a page's forms.
pub fn csrf_in(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    page[at..at + 64].to_string()
}
