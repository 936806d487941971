//! The gateway's shards spread over several instances: each instance runs its share of them, held
//! through leases somewhere all instances see ([`ShardLeases`]; the application keeps them in the
//! database). Every event reaches one instance only, and a bot too big for one shard connects.
//!
//! An instance renews its leases and claims free shards every [`tick`] (a third of the lease, at most a
//! second). A shard whose holder died is free once its lease runs out; the instance that claims it
//! resumes the dead holder's session (kept by the holder every second) when Discord still allows it, so
//! the events of the gap are replayed rather than lost. When an instance joins, the others hand over
//! what exceeds their share: closed so that it can be resumed, its session kept, released at once. A
//! graceful stop hands over every shard the same way (a rolling restart loses no event). Identifies
//! wait for their turn across instances ([`ShardLeases::identify_turn`]): Discord allows
//! `max_concurrency` per 5 seconds for the whole bot.

use crate::close_codes::{self, Recovery};
use crate::gateway::{Presence, ShardEnd, ShardShared, presence_payload, run_shard};
use crate::router::Dispatcher;
use crate::{Discord, DiscordError};
use secrecy::ExposeSecret;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use twilight_gateway::queue::Queue;
use twilight_gateway::{ConfigBuilder, Intents, Session, Shard, ShardId};

pub use crate::leases::{Claimed, Holding, LeaseError, SavedSession, ShardLeases};

/// How often leases are renewed and free shards looked for: a third of the lease, at most a second
/// (a shard whose holder died is taken over at most this long after its lease ran out).
pub fn tick(lease: Duration) -> Duration {
    (lease / 3).min(Duration::from_secs(1))
}

/// twilight's identify queue, waiting for [`ShardLeases::identify_turn`].
#[derive(Clone)]
struct LeasedQueue {
    leases: Arc<dyn ShardLeases>,
    max_concurrency: u32,
}

impl std::fmt::Debug for LeasedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeasedQueue")
            .field("max_concurrency", &self.max_concurrency)
            .finish()
    }
}

impl Queue for LeasedQueue {
    fn enqueue(&self, id: u32) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        let leases = self.leases.clone();
        let bucket = id % self.max_concurrency.max(1);
        tokio::spawn(async move {
            leases.identify_turn(bucket).await;
            let _ = tx.send(());
        });
        rx
    }
}

/// A shard running in this instance.
struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<ShardEnd>,
}

/// Runs this instance's share of the gateway's shards until `cancel`, then hands them over.
pub async fn run_leased(
    discord: Discord,
    dispatcher: Arc<Dispatcher>,
    presence: watch::Receiver<Presence>,
    cancel: CancellationToken,
    leases: Arc<dyn ShardLeases>,
) -> Result<(), DiscordError> {
    let status = discord.gateway.clone();
    let mut intents = Intents::from_bits_truncate(discord.intents);
    let (recommended_total, concurrency) = recommended(&discord).await;
    // A count set by the admin wins over Discord's recommendation.
    let mut total = discord.config().shards.unwrap_or(recommended_total);
    let guilds = Arc::new(crate::guilds::Guilds::default());
    status.running.store(true, Ordering::Relaxed);
    status.intents.store(intents.bits(), Ordering::Relaxed);
    status.hold_shards(&[], total);
    let queue = LeasedQueue {
        leases: leases.clone(),
        max_concurrency: concurrency,
    };
    let mut running: BTreeMap<u32, Running> = BTreeMap::new();
    let mut every = tokio::time::interval(tick(leases.lease()));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopped = false;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = every.tick() => {}
        }
        // Shards that ended by themselves: a close nothing but a change here can get past.
        let ended: Vec<u32> = running
            .iter()
            .filter(|(_, r)| r.task.is_finished())
            .map(|(n, _)| *n)
            .collect();
        for number in ended {
            let Some(r) = running.remove(&number) else {
                continue;
            };
            let end = r.task.await.unwrap_or(ShardEnd {
                code: None,
                fatal: true,
                ready: false,
            });
            if !end.fatal {
                continue;
            }
            let (problem, recovery) =
                close_codes::decide(end.code, intents, total, chrono::Utc::now());
            tracing::warn!(target: "disconcierge_discord::gateway", code = ?end.code, shard = number, "Discord closed the gateway: {}", problem.summary());
            let stop = problem.stopped || recovery == Recovery::Stop;
            *status.problem.lock().expect("gateway status") = Some(problem);
            if stop {
                stopped = true;
                break;
            }
            match recovery {
                Recovery::Intents(fewer) => {
                    // Every shard connects again with the narrower intents.
                    intents = fewer;
                    status.intents.store(intents.bits(), Ordering::Relaxed);
                    stop_shards(&mut running).await;
                }
                Recovery::Reshard => {
                    let (more, _) = recommended(&discord).await;
                    total = close_codes::reshard(total, Some(more));
                    stop_shards(&mut running).await;
                    if let Err(e) = leases.release(&[number], false).await {
                        tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not release a shard");
                    }
                }
                // Handled above.
                Recovery::Stop => {}
            }
        }
        if stopped {
            break;
        }
        let holding = match leases.hold(total).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not renew the gateway's shard leases; retrying");
                continue;
            }
        };
        // Shards another instance holds now (this one's lease ran out while it could not renew).
        let lost: Vec<u32> = running
            .keys()
            .filter(|n| !holding.held.contains(n))
            .copied()
            .collect();
        for number in lost {
            tracing::warn!(target: "disconcierge_discord::gateway", shard = number, "another instance took this shard over");
            if let Some(r) = running.remove(&number) {
                r.cancel.cancel();
                let _ = r.task.await;
            }
        }
        // More than the share (an instance joined): hand the highest over.
        let mut held = holding.held.clone();
        let extra = held.len().saturating_sub(holding.share as usize);
        if extra > 0 {
            let over: Vec<u32> = held.split_off(held.len() - extra);
            for number in &over {
                if let Some(r) = running.remove(number) {
                    r.cancel.cancel();
                    let _ = r.task.await;
                }
            }
            tracing::info!(target: "disconcierge_discord::gateway", shards = ?over, "handing shards over to another instance");
            if let Err(e) = leases.release(&over, false).await {
                tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not release shards");
            }
        }
        // Held but not running: just claimed, or to connect again (intents narrowed, resharded).
        let sessions: BTreeMap<u32, Option<SavedSession>> = holding
            .claimed
            .into_iter()
            .map(|c| (c.number, c.session))
            .collect();
        for &number in &held {
            if running.contains_key(&number) {
                continue;
            }
            let session = sessions.get(&number).cloned().flatten();
            tracing::info!(target: "disconcierge_discord::gateway", shard = number, total, resuming = session.is_some(), "running a gateway shard");
            let shard_cancel = cancel.child_token();
            let shared = ShardShared {
                discord: discord.clone(),
                dispatcher: dispatcher.clone(),
                guilds: guilds.clone(),
                presence: presence.clone(),
                cancel: shard_cancel.clone(),
                keeper: Some(leases.clone()),
            };
            let shard = new_shard(&discord, &presence, intents, &queue, number, total, session);
            running.insert(
                number,
                Running {
                    cancel: shard_cancel,
                    task: tokio::spawn(run_shard(shard, shared)),
                },
            );
        }
        status.hold_shards(&held, total);
    }
    // Stopping: every shard closes so that it can be resumed, keeps its session, and is released for
    // the other instances to take over at once.
    let numbers: Vec<u32> = running.keys().copied().collect();
    stop_shards(&mut running).await;
    if let Err(e) = leases.release(&numbers, true).await {
        tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not release the gateway's shards; other instances take them over once the lease runs out");
    }
    status.hold_shards(&[], total);
    status.running.store(false, Ordering::Relaxed);
    Ok(())
}

/// Stops every running shard and waits for each to close and keep its session.
async fn stop_shards(running: &mut BTreeMap<u32, Running>) {
    for r in running.values() {
        r.cancel.cancel();
    }
    for (_, r) in std::mem::take(running) {
        let _ = r.task.await;
    }
}

/// The shard count and identify concurrency Discord recommends (`GET /gateway/bot`); one shard, one at
/// a time, when it cannot be read.
async fn recommended(discord: &Discord) -> (u32, u32) {
    match discord.http.gateway().authed().await {
        Ok(response) => match response.model().await {
            Ok(info) => (
                info.shards.max(1),
                u32::from(info.session_start_limit.max_concurrency.max(1)),
            ),
            Err(e) => {
                tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not read the recommended shard count from Discord; running 1 shard");
                (1, 1)
            }
        },
        Err(e) => {
            tracing::warn!(target: "disconcierge_discord::gateway", error = %e, "could not read the recommended shard count from Discord; running 1 shard");
            (1, 1)
        }
    }
}

/// Shard `number` of `total`, resuming `session` when one was kept.
fn new_shard(
    discord: &Discord,
    presence: &watch::Receiver<Presence>,
    intents: Intents,
    queue: &LeasedQueue,
    number: u32,
    total: u32,
    session: Option<SavedSession>,
) -> Shard<LeasedQueue> {
    let config = discord.config();
    let mut builder = ConfigBuilder::new(config.token.expose_secret().to_string(), intents)
        .queue(queue.clone())
        .presence(presence_payload(&presence.borrow()));
    if let Some(url) = &config.gateway_url {
        builder = builder.proxy_url(url.clone());
    }
    if let Some(session) = session {
        builder = builder.session(Session::new(session.sequence, session.id));
        if let Some(url) = session.resume_url {
            builder = builder.resume_url(url);
        }
    }
    Shard::with_config(ShardId::new(number, total), builder.build())
}

#[cfg(test)]
mod tests {
    use super::tick;
    use std::time::Duration;

    #[test]
    fn leases_are_renewed_three_times_per_lease_and_at_least_every_second() {
        assert_eq!(tick(Duration::from_secs(2)), Duration::from_secs(2) / 3);
        assert_eq!(tick(Duration::from_secs(15)), Duration::from_secs(1));
    }
}
