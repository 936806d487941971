//! Wiring the LLM backend into the application: which provider, which model, and where call logs go.
//!
//! Call logs are written by one background task fed through an unbounded channel: recording a log never
//! waits for the database on the answer's path, and the task drains what is left at shutdown, so no log
//! is lost on a graceful stop. Like the interaction log, it gives way to acknowledgements (see
//! [`AcksInProgress::gather_after_pause`]) and writes what has arrived meanwhile together, in one
//! statement: under a burst, a few writes a second instead of one per answer.
//!
//! The writer ends when told to `finish` (at shutdown, once everything that calls the LLM has stopped): it
//! stops taking logs and stores what it holds. It does not wait for every sink to be dropped: a clone
//! still held somewhere (the admin interface's view of the last call, say) would keep it waiting forever.

use crate::acks::AcksInProgress;
use crate::interaction_log::HOLD_BACK;
use crate::settings::{LlmProvider, LlmSettings};
use disconcierge_core::RuntimeConfig;
use disconcierge_core::model::LlmCallLog;
use disconcierge_llm::{BackendConfig, CallSink, LlmBackend, LlmError};
use disconcierge_store::Store;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// At most this many call logs are written in one statement (each holds a request, history included).
const LOG_BATCH: usize = 64;

/// Sends call logs to the writer task, and remembers the last call (the dashboard's LLM status).
pub struct StoreSink {
    tx: mpsc::UnboundedSender<LlmCallLog>,
    last: std::sync::Mutex<Option<LastCall>>,
}

/// The latest call to the backend, as the dashboard shows it.
#[derive(Debug, Clone)]
pub struct LastCall {
    pub at: chrono::DateTime<chrono::Utc>,
    pub operation: String,
    pub duration_ms: u64,
    pub error: Option<String>,
}

impl StoreSink {
    pub fn last_call(&self) -> Option<LastCall> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl CallSink for StoreSink {
    fn record(&self, log: LlmCallLog) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(LastCall {
            at: log.started_at,
            operation: log.operation.clone(),
            duration_ms: log.duration_ms,
            error: log.error.clone(),
        });
        if self.tx.send(log).is_err() {
            tracing::warn!(target: "disconcierge_app::llm", "LLM call log dropped: the log writer has stopped");
        }
    }
}

/// Creates the sink and the task that writes its logs; the task ends once `finish` is cancelled and the
/// logs recorded until then are stored (or when every sink is dropped and the channel is drained).
pub fn store_sink(
    store: Arc<dyn Store>,
    acks: Arc<AcksInProgress>,
    finish: CancellationToken,
) -> (Arc<StoreSink>, impl std::future::Future<Output = ()> + Send) {
    let (tx, mut rx) = mpsc::unbounded_channel::<LlmCallLog>();
    let writer = async move {
        let mut batch = Vec::with_capacity(LOG_BATCH);
        loop {
            let received = tokio::select! {
                biased;
                received = rx.recv_many(&mut batch, LOG_BATCH) => received,
                () = finish.cancelled() => {
                    // No more logs are taken; the ones already sent are still received (and then
                    // `recv_many` gives 0, ending the loop).
                    rx.close();
                    continue;
                }
            };
            if received == 0 {
                break;
            }
            acks.gather_after_pause(HOLD_BACK, &mut rx, &mut batch, LOG_BATCH)
                .await;
            if let Err(e) = store.insert_llm_call_logs(&batch).await {
                if batch.len() == 1 {
                    tracing::error!(target: "disconcierge_app::llm", error = %e, "could not store an LLM call log");
                } else {
                    // None of the batch was stored; one bad log (say, of a command deleted meanwhile)
                    // must not cost the others.
                    for log in &batch {
                        if let Err(e) = store.insert_llm_call_log(log).await {
                            tracing::error!(target: "disconcierge_app::llm", error = %e, "could not store an LLM call log");
                        }
                    }
                }
            }
            batch.clear();
        }
    };
    (
        Arc::new(StoreSink {
            tx,
            last: std::sync::Mutex::new(None),
        }),
        writer,
    )
}

/// The backend for the configured provider.
pub fn backend(
    settings: &LlmSettings,
    sink: Arc<dyn CallSink>,
) -> Result<Arc<dyn LlmBackend>, LlmError> {
    let config = match settings.provider {
        LlmProvider::OpenAi => BackendConfig::OpenAi {
            base_url: settings.openai_base_url.clone(),
            token: settings.openai_token.clone(),
            embedding_model: settings.embedding_model.clone(),
        },
        LlmProvider::OpenAiChat => BackendConfig::OpenAiChat {
            base_url: settings.openai_base_url.clone(),
            token: settings.openai_token.clone(),
            embedding_model: settings.embedding_model.clone(),
        },
        LlmProvider::Ollama => BackendConfig::Ollama {
            base_url: settings.ollama_url.clone(),
            embedding_model: settings.embedding_model.clone(),
        },
    };
    disconcierge_llm::build(config, sink)
}

/// The model to use: the runtime configuration's, else the provider's from the environment.
pub fn model(settings: &LlmSettings, runtime: &RuntimeConfig) -> String {
    if !runtime.llm_model.is_empty() {
        return runtime.llm_model.clone();
    }
    match settings.provider {
        LlmProvider::OpenAi | LlmProvider::OpenAiChat => settings.openai_model.clone(),
        LlmProvider::Ollama => settings.ollama_model.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use disconcierge_store::testing::TestDb;

    /// Call `op{i}`, of command `chat_command_id`.
    fn call(i: i32, chat_command_id: Option<i64>) -> LlmCallLog {
        LlmCallLog {
            chat_command_id,
            provider: "openai".into(),
            operation: format!("op{i}"),
            model: Some("m".into()),
            request: serde_json::json!({"i": i}),
            response: None,
            http_status: Some(200),
            error: None,
            started_at: chrono::Utc::now(),
            duration_ms: 1,
            usage: None,
        }
    }

    #[tokio::test]
    async fn call_logs_reach_the_database_and_nothing_is_lost_at_shutdown() {
        let db = TestDb::sqlite().await;
        let (sink, writer) = store_sink(
            db.store.clone(),
            Default::default(),
            CancellationToken::new(),
        );
        let task = tokio::spawn(writer);
        for i in 0..50 {
            sink.record(call(i, None));
        }
        drop(sink);
        task.await.unwrap();
        assert_eq!(
            db.scalar_i64("SELECT COUNT(*) FROM llm_call_logs").await,
            50
        );
    }

    /// At shutdown the writer stores what it was sent and ends, even while a sink is still held
    /// elsewhere (the application keeps one for the admin interface's "last call"); logs recorded after
    /// that are not taken.
    #[tokio::test]
    async fn told_to_finish_the_writer_stores_what_it_has_and_ends() {
        let db = TestDb::sqlite().await;
        let finish = CancellationToken::new();
        let (sink, writer) = store_sink(db.store.clone(), Default::default(), finish.clone());
        let task = tokio::spawn(writer);
        for i in 0..70 {
            sink.record(call(i, None));
        }
        finish.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(30), task)
            .await
            .expect("the writer ends while a sink is still held")
            .unwrap();
        sink.record(call(70, None));
        assert_eq!(
            db.scalar_i64("SELECT COUNT(*) FROM llm_call_logs").await,
            70
        );
    }

    /// Logs are written in batches; a log the database refuses (its command is not there) costs only
    /// itself, and the order is kept.
    #[tokio::test]
    async fn a_refused_log_does_not_cost_the_rest_of_its_batch() {
        let db = TestDb::sqlite().await;
        let (sink, writer) = store_sink(
            db.store.clone(),
            Default::default(),
            CancellationToken::new(),
        );
        for i in 0..5 {
            sink.record(call(i, (i == 2).then_some(12345)));
        }
        drop(sink);
        // Everything is queued before the writer starts: one batch of five.
        writer.await;
        let count = |sql: &'static str| db.scalar_i64(sql);
        assert_eq!(count("SELECT COUNT(*) FROM llm_call_logs").await, 4);
        assert_eq!(
            count("SELECT COUNT(*) FROM llm_call_logs WHERE operation = 'op2'").await,
            0
        );
        assert_eq!(
            count(
                "SELECT COUNT(*) FROM llm_call_logs a JOIN llm_call_logs b \
                 ON a.id < b.id AND a.operation > b.operation"
            )
            .await,
            0,
            "in the order recorded"
        );
    }
}
