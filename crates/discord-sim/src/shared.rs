//! State shared by the HTTP server, the gateway connections and the test's driver handles, and the
//! waiting machinery built on it.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use ed25519_dalek::SigningKey;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::SimConfig;
use crate::clock::SimClock;
use crate::rest::failures::ScriptedFailure;
use crate::world::World;

thread_local! {
    static IN_WORLD: Cell<bool> = const { Cell::new(false) };
}

/// The world's lock guard, tracking that this thread holds it.
struct Locked<'a>(MutexGuard<'a, World>);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        IN_WORLD.with(|f| f.set(false));
    }
}

/// Everything behind a [`crate::DiscordSim`].
pub(crate) struct Shared {
    pub config: SimConfig,
    pub clock: SimClock,
    world: Mutex<World>,
    /// Bumped after every change to the world; waiters re-check their condition on each bump.
    version: watch::Sender<u64>,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The application's interactions key; its public half is what the bot verifies with.
    pub signing_key: SigningKey,
    pub failures: Mutex<Vec<ScriptedFailure>>,
    /// Per-bucket request counts for the informational rate-limit headers: (window start, count).
    pub ratelimits: Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>,
    /// Background tasks (server, gateway connections) to stop on shutdown.
    pub tasks: Mutex<Vec<AbortHandle>>,
    /// Flipped to `true` on shutdown; gateway connections watch it.
    pub shutdown: watch::Sender<bool>,
    http: OnceLock<reqwest::Client>,
}

impl Shared {
    pub(crate) fn new(config: SimConfig, base_url: String) -> Self {
        let clock = SimClock::default();
        let world = World::new(&clock, &config.bot_name, &config.application_name);
        let seed: [u8; 32] = rand::random();
        Self {
            config,
            clock,
            world: Mutex::new(world),
            version: watch::Sender::new(0),
            base_url,
            signing_key: SigningKey::from_bytes(&seed),
            failures: Mutex::new(Vec::new()),
            ratelimits: Mutex::new(std::collections::HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            shutdown: watch::Sender::new(false),
            http: OnceLock::new(),
        }
    }

    fn lock(&self) -> Locked<'_> {
        // Closures given to `world`/`wait_for` run under the lock; calling back into the simulator
        // from one would deadlock the thread silently, so it fails loudly instead.
        assert!(
            !IN_WORLD.with(Cell::get),
            "discord-sim: the world is already locked on this thread: do not call simulator or \
             handle methods inside a `world`/`wait_for` closure (look ids up before)"
        );
        // A panicking test thread must not make every later assertion fail with a poison error.
        let guard = self.world.lock().unwrap_or_else(|e| e.into_inner());
        IN_WORLD.with(|f| f.set(true));
        Locked(guard)
    }

    /// Reads the world.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&World) -> T) -> T {
        f(&self.lock().0)
    }

    /// Changes the world and wakes every waiter.
    pub(crate) fn mutate<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let out = f(&mut self.lock().0);
        self.version.send_modify(|v| *v += 1);
        out
    }

    /// The gateway URL handed to clients (`ws://127.0.0.1:PORT/gateway`).
    pub(crate) fn gateway_url(&self) -> String {
        format!("{}/gateway", self.base_url.replacen("http://", "ws://", 1))
    }

    /// A plain-HTTP client for webhook deliveries (built lazily: most tests never need it).
    pub(crate) fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .timeout(self.config.webhook_timeout)
                .build()
                .expect("reqwest client")
        })
    }

    pub(crate) fn track(&self, handle: AbortHandle) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    /// Waits until `f` returns `Some`, re-checking after every change to the world.
    ///
    /// Never polls: it sleeps on the world's version channel. On timeout it returns a report of what
    /// was observed (recent requests, messages, interactions) so a failing test explains itself.
    pub(crate) async fn try_wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&World) -> Option<T>,
    ) -> Result<T, String> {
        let mut rx = self.version.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(v) = self.read(&mut f) {
                return Ok(v);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    if let Some(v) = self.read(&mut f) {
                        return Ok(v);
                    }
                    return Err(format!(
                        "discord-sim: timed out after {timeout:?} waiting for {what}\n{}",
                        self.read(World::summary)
                    ));
                }
            }
        }
    }

    /// Like [`Self::try_wait`], panicking with the report on timeout.
    pub(crate) async fn wait<T>(
        &self,
        what: &str,
        timeout: Duration,
        f: impl FnMut(&World) -> Option<T>,
    ) -> T {
        match self.try_wait(what, timeout, f).await {
            Ok(v) => v,
            Err(report) => panic!("{report}"),
        }
    }

    pub(crate) fn stop(&self) {
        self.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for t in tasks {
            t.abort();
        }
    }
}
