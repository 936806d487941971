//! The playground: an admin asks a question as a member of a guild would (or as `/chat` would, without a
//! guild) and sees what the bot would do — the retrieval matches with their scores, the decision, the exact
//! request sent to the model — and the answer as it streams. Nothing is posted to Discord.
//!
//! `POST /api/playground` answers with newline-delimited JSON (`application/x-ndjson`): first the plan,
//! then the answer's pieces as they arrive, then how it ended. The page uses it through a small
//! first-party script (`assets/playground.js`, allowed by the CSP as `script-src 'self'`); without
//! JavaScript the form posts to the page, which waits for the whole answer and shows the same things.

use crate::WebState;
use crate::auth::{ApiAdmin, PageAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::render::{csrf_refused, render};
use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use disconcierge_core::runtime_config::FieldError;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest question the playground takes (Discord's own limit for a message).
pub const MAX_QUESTION_CHARS: usize = 4000;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/disconcierge/playground", get(page).post(page_submit))
        .route("/disconcierge/static/playground.js", get(script))
}

pub(crate) fn api_routes() -> OpenApiRouter<WebState> {
    OpenApiRouter::default().routes(routes!(api))
}

/// A question to answer.
#[derive(Debug, Clone)]
pub struct PlaygroundAsk {
    /// The guild whose support desk answers (its trained answers, knowledge bases and instructions);
    /// `None`: answered as `/chat` would.
    pub guild_id: Option<u64>,
    /// The name the member asking goes by (it appears in the desk's instructions).
    pub member_name: String,
    pub question: String,
}

/// A trained answer or knowledge entry retrieval found, with its scores.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaygroundMatch {
    /// `trained` or `knowledge`.
    #[schema(value_type = String, pattern = "^(trained|knowledge)$")]
    pub kind: &'static str,
    pub id: i64,
    pub title: String,
    /// The knowledge base, for knowledge entries.
    pub source: Option<String>,
    /// Calibrated confidence, 0 to 1 (what the thresholds compare).
    pub confidence: f64,
    /// Its lexical part, and its semantic part when embeddings were available.
    pub lexical: f64,
    pub semantic: Option<f64>,
    /// Whether it is in the prompt (or is the answer, for a trained answer sent as is).
    pub used: bool,
}

/// What the bot decided before answering.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PlaygroundPlan {
    /// What the bot does, for scripts: `trained` (a trained answer is sent as is, `entry_id`), `llm`
    /// (the model answers, with the matches marked `used` as reference) or `chat` (no guild: as `/chat`).
    #[schema(value_type = String, pattern = "^(trained|llm|chat)$")]
    pub kind: &'static str,
    /// The trained answer sent as is, for `kind` `trained`.
    pub entry_id: Option<i64>,
    /// One sentence: trained answer sent as is, or the LLM with which context.
    pub decision: String,
    /// What may make the answer differ from what the admin expects: a server with no desk data (a
    /// mistyped id?), training or AI replies turned off there.
    pub warnings: Vec<String>,
    pub matches: Vec<PlaygroundMatch>,
    /// `openai`, `openai-chat` or `ollama`.
    pub provider: String,
    /// The JSON body sent to the model, exactly; `None` when the model is not asked.
    pub request: Option<serde_json::Value>,
}

/// One step of an answer: one line of `POST /api/playground`'s answer, told apart by `type`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlaygroundEvent {
    /// What the bot decided; always the first line.
    Plan(PlaygroundPlan),
    /// More text.
    Delta { text: String },
    /// The model started over (a retry after a failure mid-answer): forget the text so far.
    Restart,
    /// The answer is complete: its whole text, and what it took.
    Done {
        text: String,
        elapsed_ms: u64,
        prompt_tokens: Option<u32>,
        completion_tokens: Option<u32>,
    },
    /// The model failed; the answer ends here.
    Failed {
        /// Why, for the admin (the model's error as received).
        message: String,
        /// What a member would have been sent instead.
        fallback: Option<String>,
    },
}

/// A started answer: the plan, and the events that follow it (the channel closes after `Done` or `Failed`).
pub struct PlaygroundRun {
    pub plan: PlaygroundPlan,
    pub events: mpsc::Receiver<PlaygroundEvent>,
}

/// The form and the API body: everything as text, checked by [`AskForm::validate`].
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
#[schema(as = PlaygroundQuestion)]
pub struct AskForm {
    /// The guild (Discord server id) whose support desk answers; empty: answered as `/chat` would.
    #[serde(default)]
    pub guild: String,
    /// The name the member asking goes by (at most 100 characters); empty: `Playground`.
    #[serde(default)]
    pub member: String,
    /// The question, at most 4000 characters.
    #[serde(default)]
    pub question: String,
    /// The page's CSRF field (the API uses the header).
    #[serde(default)]
    #[schema(ignore)]
    pub csrf: Option<String>,
}

impl AskForm {
    pub fn validate(&self) -> Result<PlaygroundAsk, Vec<FieldError>> {
        let mut errors = Vec::new();
        let guild_id = match self.guild.trim() {
            "" => None,
            g => match g.parse::<u64>() {
                Ok(id) if id > 0 => Some(id),
                _ => {
                    errors.push(FieldError {
                        field: "guild",
                        message: format!(
                            "{g:?} is not a Discord server id (a number like 1234567890123456789); \
                             leave it empty to ask as /chat"
                        ),
                    });
                    None
                }
            },
        };
        let question = self.question.trim();
        if question.is_empty() {
            errors.push(FieldError {
                field: "question",
                message: "write the question to ask".into(),
            });
        } else if question.chars().count() > MAX_QUESTION_CHARS {
            errors.push(FieldError {
                field: "question",
                message: format!(
                    "at most {MAX_QUESTION_CHARS} characters (this one has {})",
                    question.chars().count()
                ),
            });
        }
        let member = self.member.trim();
        if member.chars().count() > 100 {
            errors.push(FieldError {
                field: "member",
                message: "at most 100 characters".into(),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(PlaygroundAsk {
            guild_id,
            member_name: if member.is_empty() {
                "Playground".into()
            } else {
                member.to_string()
            },
            question: question.to_string(),
        })
    }
}

// ----- API -----

/// Ask a question as the bot would be asked, without posting anything to Discord.
///
/// Answered as a member of the guild would be (retrieval in its support desk: trained answers and
/// knowledge bases), or as `/chat` without a guild. The answer is newline-delimited JSON
/// (`application/x-ndjson`), written as it happens: one `PlaygroundEvent` per line, first the `plan`
/// (the retrieval matches with their scores, the decision and the exact request sent to the model), then
/// `delta`s of the answer's text (a `restart` means: forget the text so far), then `done` or `failed`.
#[utoipa::path(
    post,
    path = "/api/playground",
    operation_id = "playground",
    tag = "playground",
    request_body = AskForm,
    responses(
        (status = 200, description = "The answer as it streams: one `PlaygroundEvent` per line.",
            content_type = "application/x-ndjson", body = PlaygroundEvent),
        (status = 400, description = "`bad_request`: the body is not the expected JSON.", body = ErrorBody),
        (status = 422, description = "`invalid`: the guild is not a Discord id, or the question is empty or \
            too long; `fields` names each.", body = ErrorBody),
        (status = 503, description = "`unavailable`: no LLM backend is available in this process.",
            body = ErrorBody),
    ),
    security(("session" = []), ("bearer" = [])),
)]
async fn api(
    State(state): State<WebState>,
    ApiAdmin(session): ApiAdmin,
    body: Result<Json<AskForm>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(form) = body?;
    let ask = form.validate().map_err(ApiError::invalid)?;
    tracing::info!(by = %session.actor(), guild = ?ask.guild_id, "playground question");
    let run = state.control().playground(ask).await.map_err(|message| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    })?;
    // One JSON object per line, written as soon as each event exists.
    let first = Some(PlaygroundEvent::Plan(run.plan));
    let stream =
        futures_util::stream::unfold((first, run.events), |(first, mut events)| async move {
            let event = match first {
                Some(plan) => plan,
                None => events.recv().await?,
            };
            let mut line = serde_json::to_vec(&event).unwrap_or_default();
            line.push(b'\n');
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(line)),
                (None, events),
            ))
        });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            // Tells proxies (nginx) not to hold the answer back until it is complete.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

// ----- Page -----

/// What the page shows after a question (without JavaScript).
struct Outcome {
    plan: PlaygroundPlan,
    request: String,
    answer: String,
    ending: String,
    failed: bool,
    fallback: Option<String>,
}

#[derive(Template)]
#[template(path = "playground.html")]
struct PlaygroundPage {
    csrf: String,
    admin: String,
    form: AskForm,
    errors: Vec<FieldError>,
    unavailable: Option<String>,
    outcome: Option<Outcome>,
    max_question: usize,
    /// Servers with support-desk data, suggested in the server field.
    guilds: Vec<String>,
}

impl PlaygroundPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

/// The servers to suggest; none if the database does not answer (the field still takes any id).
async fn known_guilds(state: &WebState) -> Vec<String> {
    match state.store().desk_guilds().await {
        Ok(guilds) => guilds.iter().map(u64::to_string).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "playground: could not list the servers");
            Vec::new()
        }
    }
}

async fn page(State(state): State<WebState>, PageAdmin(session): PageAdmin) -> Response {
    render(
        StatusCode::OK,
        &PlaygroundPage {
            csrf: session.csrf.clone(),
            admin: session.admin.username.clone(),
            form: AskForm::default(),
            errors: Vec::new(),
            unavailable: None,
            outcome: None,
            max_question: MAX_QUESTION_CHARS,
            guilds: known_guilds(&state).await,
        },
    )
}

async fn page_submit(
    State(state): State<WebState>,
    PageAdmin(session): PageAdmin,
    Form(form): Form<AskForm>,
) -> Response {
    if !session.csrf_ok(form.csrf.as_deref()) {
        return csrf_refused();
    }
    let mut view = PlaygroundPage {
        csrf: session.csrf.clone(),
        admin: session.admin.username.clone(),
        form: form.clone(),
        errors: Vec::new(),
        unavailable: None,
        outcome: None,
        max_question: MAX_QUESTION_CHARS,
        guilds: known_guilds(&state).await,
    };
    let ask = match form.validate() {
        Ok(ask) => ask,
        Err(errors) => {
            view.errors = errors;
            return render(StatusCode::UNPROCESSABLE_ENTITY, &view);
        }
    };
    tracing::info!(by = %session.actor(), guild = ?ask.guild_id, "playground question");
    let run = match state.control().playground(ask).await {
        Ok(run) => run,
        Err(message) => {
            view.unavailable = Some(message);
            return render(StatusCode::SERVICE_UNAVAILABLE, &view);
        }
    };
    view.outcome = Some(collect(run).await);
    render(StatusCode::OK, &view)
}

/// Waits for the whole answer.
async fn collect(mut run: PlaygroundRun) -> Outcome {
    let request = run
        .plan
        .request
        .as_ref()
        .and_then(|r| serde_json::to_string_pretty(r).ok())
        .unwrap_or_default();
    let mut outcome = Outcome {
        plan: run.plan,
        request,
        answer: String::new(),
        ending: "The answer stopped without an ending (the application is shutting down?).".into(),
        failed: true,
        fallback: None,
    };
    while let Some(event) = run.events.recv().await {
        match event {
            PlaygroundEvent::Plan(_) => {}
            PlaygroundEvent::Delta { text } => outcome.answer.push_str(&text),
            PlaygroundEvent::Restart => outcome.answer.clear(),
            PlaygroundEvent::Done {
                text,
                elapsed_ms,
                prompt_tokens,
                completion_tokens,
            } => {
                outcome.answer = text;
                outcome.failed = false;
                outcome.ending = done_line(elapsed_ms, prompt_tokens, completion_tokens);
            }
            PlaygroundEvent::Failed { message, fallback } => {
                outcome.failed = true;
                outcome.ending = format!("The model failed: {message}");
                outcome.fallback = fallback;
            }
        }
    }
    outcome
}

fn done_line(elapsed_ms: u64, prompt: Option<u32>, completion: Option<u32>) -> String {
    let mut line = format!("Done in {:.1} s", elapsed_ms as f64 / 1000.0);
    if let (Some(p), Some(c)) = (prompt, completion) {
        line.push_str(&format!("; {p} prompt + {c} answer tokens"));
    }
    line
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../assets/playground.js"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(guild: &str, question: &str) -> AskForm {
        AskForm {
            guild: guild.into(),
            member: String::new(),
            question: question.into(),
            csrf: None,
        }
    }

    #[test]
    fn a_question_without_a_guild_is_asked_as_chat() {
        let ask = form("", "  How do I reset my password?  ")
            .validate()
            .unwrap();
        assert_eq!(ask.guild_id, None);
        assert_eq!(ask.question, "How do I reset my password?");
        assert_eq!(ask.member_name, "Playground");
        let ask = form(" 42 ", "hi").validate().unwrap();
        assert_eq!(ask.guild_id, Some(42));
    }

    #[test]
    fn bad_fields_are_named() {
        let errors = form("my server", "  ").validate().unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["guild", "question"]);
        assert!(errors[0].message.contains("\"my server\""), "{}", errors[0]);
        let long = "x".repeat(MAX_QUESTION_CHARS + 1);
        let errors = form("", &long).validate().unwrap_err();
        assert!(errors[0].message.contains("at most 4000"), "{}", errors[0]);
    }

    #[test]
    fn events_are_tagged_json() {
        let line = serde_json::to_value(PlaygroundEvent::Delta { text: "hi".into() }).unwrap();
        assert_eq!(line, serde_json::json!({"type": "delta", "text": "hi"}));
        let plan = PlaygroundEvent::Plan(PlaygroundPlan {
            kind: "chat",
            entry_id: None,
            warnings: Vec::new(),
            decision: "d".into(),
            matches: vec![],
            provider: "ollama".into(),
            request: None,
        });
        assert_eq!(serde_json::to_value(plan).unwrap()["type"], "plan");
    }
}
