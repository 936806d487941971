//! Posts to the notification channel (runtime configuration `discord_notification_channel_id`): each
//! feedback, each failed answer, and the startup message, with a link to the admin interface when
//! `DC_API_EXTERNAL_URL` is set.
//!
//! Posting never delays the user: messages go through a bounded queue to one task. Failures are digested,
//! so an LLM outage that fails a hundred answers posts two messages a minute, not a hundred: the first
//! failure of a quiet period at once, then one summary per [`FAILURE_WINDOW`] while failures continue.

use crate::runtime_config::RuntimeConfigService;
use disconcierge_core::model::FeedbackKind;
use disconcierge_discord::Discord;
use disconcierge_discord::markup;
use std::future::Future;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Failures after the first of a quiet period are summed up once per window.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Notifications waiting to be posted; beyond this they are dropped (and logged) rather than held.
const QUEUE: usize = 256;
/// Discord's message limit, with room to spare.
const MAX_LEN: usize = 1900;

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Feedback {
        command_id: i64,
        user_id: u64,
        kind: FeedbackKind,
        /// The "Other" text.
        detail: Option<String>,
        prompt: String,
    },
    Failure {
        command_id: i64,
        user_id: u64,
        error: String,
    },
}

/// The handle the rest of the application uses; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Event>,
}

impl Notifier {
    /// Starts the posting task; it stops with `cancel`.
    pub fn start(
        discord: Discord,
        runtime: RuntimeConfigService,
        admin_url: Option<String>,
        cancel: CancellationToken,
    ) -> (Notifier, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let links = Links(admin_url);
        let post = move |text: String| {
            let (discord, runtime) = (discord.clone(), runtime.clone());
            async move {
                let Some(channel) = channel_of(&runtime) else {
                    return;
                };
                if let Err(e) = discord.post(channel, &text).await {
                    tracing::warn!(target: "disconcierge_app::discord", error = %e, channel, "could not post to the notification channel");
                }
            }
        };
        let task = tokio::spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = run(rx, links, FAILURE_WINDOW, post) => {}
            }
        });
        (Notifier { tx }, task)
    }

    pub fn notify(&self, event: Event) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(event) {
            tracing::warn!(target: "disconcierge_app::discord", "notification queue full; a notification was dropped");
        }
    }
}

/// The notification channel, when one is set (and valid).
fn channel_of(runtime: &RuntimeConfigService) -> Option<u64> {
    let current = runtime.current();
    current
        .config
        .discord_notification_channel_id
        .as_deref()
        .and_then(|id| id.parse().ok())
}

/// Posts the startup message, when there is one and a notification channel is set.
pub async fn post_startup(discord: &Discord, runtime: &RuntimeConfigService, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    let Some(channel) = channel_of(runtime) else {
        tracing::info!(target: "disconcierge_app::discord", "DC_DISCORD_STARTUP_MESSAGE is set but no notification channel is configured; nothing posted");
        return;
    };
    if let Err(e) = discord.post(channel, &truncate(text, MAX_LEN)).await {
        tracing::warn!(target: "disconcierge_app::discord", error = %e, channel, "could not post the startup message");
    }
}

/// Links into the admin interface.
struct Links(Option<String>);

impl Links {
    fn command(&self, id: i64) -> String {
        match &self.0 {
            Some(base) => format!(
                "\n<{}/disconcierge/chat_commands/{id}>",
                base.trim_end_matches('/')
            ),
            None => String::new(),
        }
    }

    fn failures(&self) -> String {
        match &self.0 {
            Some(base) => format!(
                "\n<{}/disconcierge/chat_commands?state=failed>",
                base.trim_end_matches('/')
            ),
            None => String::new(),
        }
    }
}

/// The posting loop: every feedback at once; a failure at once when none was posted in the last window,
/// otherwise counted into the summary posted when the window ends.
async fn run<F, Fut>(mut rx: mpsc::Receiver<Event>, links: Links, window: Duration, post: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    // While a window is open: when it ends, and the failures held back so far (count, last one).
    let mut open: Option<(tokio::time::Instant, u32, Option<Event>)> = None;
    loop {
        let window_end = open.as_ref().map(|(end, _, _)| *end);
        let event = tokio::select! {
            event = rx.recv() => match event {
                Some(e) => e,
                None => break,
            },
            _ = async { tokio::time::sleep_until(window_end.expect("guarded")).await }, if window_end.is_some() => {
                let (_, held, last) = open.take().expect("guarded");
                if held > 0 {
                    post(summary(held, last.as_ref(), window, &links)).await;
                    // Failures continue: a new window starts, so the next one is summed up too.
                    open = Some((tokio::time::Instant::now() + window, 0, None));
                }
                continue;
            }
        };
        match &event {
            Event::Feedback { .. } => post(render(&event, &links)).await,
            Event::Failure { .. } => match &mut open {
                Some((_, held, last)) => {
                    *held += 1;
                    *last = Some(event);
                }
                None => {
                    post(render(&event, &links)).await;
                    open = Some((tokio::time::Instant::now() + window, 0, None));
                }
            },
        }
    }
    if let Some((_, held, last)) = open.filter(|(_, held, _)| *held > 0) {
        post(summary(held, last.as_ref(), window, &links)).await;
    }
}

fn render(event: &Event, links: &Links) -> String {
    let text = match event {
        Event::Feedback {
            command_id,
            user_id,
            kind,
            detail,
            prompt,
        } => {
            let mut text = format!(
                "{} **{}** feedback from {} on answer #{command_id}\n> {}",
                feedback_icon(*kind),
                kind.label(),
                markup::user(*user_id),
                quote(&truncate(prompt, 300))
            );
            if let Some(detail) = detail {
                text.push_str(&format!(
                    "\nTheir words:\n> {}",
                    quote(&truncate(detail, 1000))
                ));
            }
            text.push_str(&links.command(*command_id));
            text
        }
        Event::Failure {
            command_id,
            user_id,
            error,
        } => format!(
            "⚠️ Answer #{command_id} for {} failed: {}{}",
            markup::user(*user_id),
            truncate(error, 800),
            links.command(*command_id)
        ),
    };
    truncate(&text, MAX_LEN)
}

fn summary(held: u32, last: Option<&Event>, window: Duration, links: &Links) -> String {
    let what = if held == 1 {
        "1 more answer".to_string()
    } else {
        format!("{held} more answers")
    };
    let latest = match last {
        Some(Event::Failure {
            command_id, error, ..
        }) => format!(" Latest: #{command_id}: {}", truncate(error, 600)),
        _ => String::new(),
    };
    truncate(
        &format!(
            "⚠️ {what} failed in the last {}.{latest}{}",
            disconcierge_core::format_duration(window),
            links.failures()
        ),
        MAX_LEN,
    )
}

fn feedback_icon(kind: FeedbackKind) -> &'static str {
    match kind {
        FeedbackKind::Good => "👍",
        FeedbackKind::Outdated => "🕰️",
        FeedbackKind::Inaccurate => "❌",
        FeedbackKind::Other => "💬",
    }
}

/// Quoted text stays inside the quote across its lines.
fn quote(text: &str) -> String {
    text.replace('\n', "\n> ")
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn failure(id: i64) -> Event {
        Event::Failure {
            command_id: id,
            user_id: 7,
            error: format!("error {id}"),
        }
    }

    fn feedback(id: i64) -> Event {
        Event::Feedback {
            command_id: id,
            user_id: 8,
            kind: FeedbackKind::Other,
            detail: Some("line one\nline two".into()),
            prompt: "What is **Rust**?".into(),
        }
    }

    /// Runs the loop with a recording `post`; returns the sender and what was posted, with when.
    /// What was posted, with when (time since the start).
    type Posted = Arc<Mutex<Vec<(Duration, String)>>>;

    fn start() -> (mpsc::Sender<Event>, Posted, tokio::task::JoinHandle<()>) {
        let posted = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel(16);
        let start = tokio::time::Instant::now();
        let sink = posted.clone();
        let task = tokio::spawn(run(
            rx,
            Links(Some("https://bot.example/".into())),
            Duration::from_secs(60),
            move |text| {
                sink.lock().unwrap().push((start.elapsed(), text));
                async {}
            },
        ));
        (tx, posted, task)
    }

    #[test]
    fn feedback_and_failures_read_well_and_link_to_the_admin_interface() {
        let links = Links(Some("https://bot.example/".into()));
        assert_eq!(
            render(&feedback(12), &links),
            "💬 **Other** feedback from <@8> on answer #12\n> What is **Rust**?\nTheir words:\n> line one\n> line two\n<https://bot.example/disconcierge/chat_commands/12>"
        );
        assert_eq!(
            render(&failure(3), &Links(None)),
            "⚠️ Answer #3 for <@7> failed: error 3"
        );
        let long = Event::Failure {
            command_id: 1,
            user_id: 1,
            error: "x".repeat(5000),
        };
        assert!(render(&long, &links).chars().count() <= MAX_LEN);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_are_digested_and_feedback_is_not() {
        let (tx, posted, task) = start();
        tx.send(failure(1)).await.unwrap();
        tx.send(feedback(2)).await.unwrap();
        for id in 3..=6 {
            tx.send(failure(id)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_secs(61)).await;
        // Still failing in the next window: summed up again at its end.
        tx.send(failure(7)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(61)).await;
        // A quiet window later, the next failure is posted at once again.
        tokio::time::sleep(Duration::from_secs(61)).await;
        tx.send(failure(8)).await.unwrap();
        drop(tx);
        task.await.unwrap();
        let posted = posted.lock().unwrap().clone();
        let texts: Vec<&str> = posted.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts.len(), 5, "{texts:#?}");
        assert!(texts[0].starts_with("⚠️ Answer #1 for <@7> failed: error 1"));
        assert!(texts[1].starts_with("💬 **Other** feedback"));
        assert_eq!(
            texts[2],
            "⚠️ 4 more answers failed in the last 1m. Latest: #6: error 6\n<https://bot.example/disconcierge/chat_commands?state=failed>"
        );
        assert!(texts[3].starts_with("⚠️ 1 more answer failed in the last 1m. Latest: #7"));
        assert!(texts[4].starts_with("⚠️ Answer #8"));
        assert_eq!(posted[2].0, Duration::from_secs(60));
        assert_eq!(posted[3].0, Duration::from_secs(120));
    }

    #[tokio::test(start_paused = true)]
    async fn held_failures_are_posted_when_the_notifier_stops() {
        let (tx, posted, task) = start();
        tx.send(failure(1)).await.unwrap();
        tx.send(failure(2)).await.unwrap();
        drop(tx);
        task.await.unwrap();
        let posted = posted.lock().unwrap();
        assert_eq!(posted.len(), 2);
        assert!(posted[1].1.starts_with("⚠️ 1 more answer failed"));
    }
}
