//! A statement slower than `DC_DATABASE_SLOW_THRESHOLD` is logged as a warning under the database
//! component; a faster one is not. (One test per file: it installs the process-wide subscriber.)

use disconcierge_app::telemetry::build_targets;
use disconcierge_core::log::{LogComponent, LogLevel};
use disconcierge_store::testing::TestDb;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<(String, tracing::Level, String)>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Captured {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let meta = event.metadata();
        self.0
            .lock()
            .unwrap()
            .push((meta.target().to_string(), *meta.level(), message.0));
    }
}

impl Captured {
    fn slow_warnings(&self) -> usize {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(target, level, msg)| {
                target == "sqlx::query"
                    && *level == tracing::Level::WARN
                    && msg.contains("slow statement")
            })
            .count()
    }

    fn any_sqlx_below_warn(&self) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|(t, l, _)| t == "sqlx::query" && *l > tracing::Level::WARN)
    }
}

#[tokio::test]
async fn slow_statements_are_warnings_of_the_database_component() {
    let captured = Captured::default();
    // The database component at INFO: slow statements (WARN) pass, per-statement traces do not.
    let levels: BTreeMap<_, _> = LogComponent::ALL
        .iter()
        .map(|c| (*c, LogLevel::Info))
        .collect();
    let subscriber = tracing_subscriber::registry()
        .with(build_targets(&levels, LogLevel::Warn))
        .with(captured.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    // Threshold zero: every statement counts as slow.
    let db = TestDb::sqlite().await;
    let mut opts = db.opts.clone();
    opts.slow_threshold = Duration::ZERO;
    let store = disconcierge_store::connect(&opts).await.unwrap();
    store.ping().await.unwrap();
    assert!(
        captured.slow_warnings() >= 1,
        "a slow statement must be logged as a warning"
    );
    assert!(
        !captured.any_sqlx_below_warn(),
        "statement traces must be filtered at INFO"
    );
    store.close().await;

    // A generous threshold: the same statement is not reported.
    let before = captured.slow_warnings();
    opts.slow_threshold = Duration::from_secs(3600);
    let store = disconcierge_store::connect(&opts).await.unwrap();
    store.ping().await.unwrap();
    store.load_runtime_config().await.unwrap();
    assert_eq!(captured.slow_warnings(), before);
    store.close().await;
}
