//! The answer shown while it is generated: first after its first words, then once per interval.

use super::{EDIT_INTERVAL, FIRST_PREVIEW_AFTER};
use disconcierge_core::split::{DISCORD_SAFE_LIMIT, split_message};
use tokio::sync::watch;

/// Shows the text generated so far through `edit`: first [`FIRST_PREVIEW_AFTER`] after the first
/// words, then at most once per [`EDIT_INTERVAL`], until the sender is dropped. It ends as soon as
/// generation ends (never waiting out a pause), and never in the middle of an edit, so no preview can land
/// after the final answer.
pub(crate) async fn show_progress<E, F>(mut text: watch::Receiver<String>, mut edit: E)
where
    E: FnMut(String) -> F,
    F: std::future::Future<Output = ()>,
{
    // Until the first words (or the end).
    loop {
        if text.changed().await.is_err() {
            return;
        }
        if !text.borrow_and_update().trim().is_empty() {
            break;
        }
    }
    let mut pause = FIRST_PREVIEW_AFTER;
    loop {
        // Wait out the pause, noting whether the text changed; the end of generation ends this at once.
        let sleep = tokio::time::sleep(pause);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                changed = text.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
        let current = text.borrow_and_update().clone();
        if current.trim().is_empty() {
            // The model started over (a retry): wait for words again.
            if text.changed().await.is_err() {
                return;
            }
            pause = FIRST_PREVIEW_AFTER;
            continue;
        }
        // Only the first message's worth; the rest appears with the final answer.
        let preview = split_message(&current, DISCORD_SAFE_LIMIT - 2)
            .into_iter()
            .next()
            .unwrap_or_default();
        edit(format!("{preview} …")).await;
        pause = EDIT_INTERVAL;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EDIT_INTERVAL, FIRST_PREVIEW_AFTER};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tokio::sync::watch;
    use tokio::time::Instant;

    /// The edits `show_progress` made: when (since the start) and what.
    type Edits = Arc<Mutex<Vec<(Duration, String)>>>;

    /// Runs `show_progress` with an edit that records (time since start, text) and takes `edit_time`.
    fn progress(
        edit_time: Duration,
    ) -> (watch::Sender<String>, Edits, tokio::task::JoinHandle<()>) {
        let (tx, rx) = watch::channel(String::new());
        let edits = Arc::new(Mutex::new(Vec::new()));
        let start = Instant::now();
        let task = tokio::spawn(super::show_progress(rx, {
            let edits = edits.clone();
            move |text| {
                edits.lock().unwrap().push((start.elapsed(), text));
                tokio::time::sleep(edit_time)
            }
        }));
        (tx, edits, task)
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_complete_before_the_first_preview_is_never_shown_in_progress() {
        let (tx, edits, task) = progress(Duration::ZERO);
        tx.send_modify(|t| t.push_str("Hello"));
        tokio::time::sleep(FIRST_PREVIEW_AFTER / 2).await;
        tx.send_modify(|t| t.push_str(" there."));
        drop(tx);
        task.await.unwrap();
        assert!(edits.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_streaming_answer_is_shown_after_its_first_words_then_once_per_interval() {
        let (tx, edits, task) = progress(Duration::from_millis(50));
        // Nothing but whitespace yet: no clock started.
        tx.send_modify(|t| t.push(' '));
        let offset = Duration::from_millis(500);
        tokio::time::sleep(offset).await;
        // Words every 100 ms for 2.6 s.
        for i in 0..26 {
            tx.send_modify(|t| t.push_str(&format!("w{i} ")));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(tx);
        tokio::time::timeout(Duration::from_millis(1), task)
            .await
            .expect("ends at once when generation ends")
            .unwrap();
        let edits = edits.lock().unwrap().clone();
        let at: Vec<Duration> = edits.iter().map(|(t, _)| *t).collect();
        assert_eq!(
            at,
            [
                offset + FIRST_PREVIEW_AFTER,
                offset + FIRST_PREVIEW_AFTER + Duration::from_millis(50) + EDIT_INTERVAL,
                offset + FIRST_PREVIEW_AFTER + (Duration::from_millis(50) + EDIT_INTERVAL) * 2,
            ]
        );
        // Each shows the text so far, marked as unfinished.
        assert!(edits[0].1.starts_with(" w0 w1 w2") && edits[0].1.ends_with(" …"));
        assert!(edits[2].1.contains("w20") && !edits[2].1.contains("w25"));
    }
}
