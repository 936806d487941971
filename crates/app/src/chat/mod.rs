//! The chat assistant: `/chat` and `/private` answered by the LLM, through the database queue.
//!
//! An interaction is recorded (state `received`) *before* it is acknowledged, so nothing acknowledged is
//! ever lost; admission ([`disconcierge_core::admission`]) decides between a deferred answer and an
//! explanation — both in [`admit`], several commands per batch; once the acknowledgement is
//! out, the command becomes `queued` and a worker is woken.
//! Workers claim commands from the database with a lease — the same code for one instance or many — and
//! answer by editing the deferred response as the text streams in (at most about once a second, Discord's
//! comfortable edit rate), then write the final text, split into follow-ups when it is long, with the
//! user's usage line under it.

//!
//! The modules: `admit` records, admits and queues commands for the acknowledgements; `worker` claims and
//! answers them; `progress` shows an answer while it is generated; `janitor` closes commands that can no
//! longer be answered; `clear` is `/clear`; `feedback` the buttons under each answer; `allowance` where a
//! user stands against their limit; `reply` the short private replies given instead of an answer. The
//! interactions reach them through [`crate::dispatch`].

pub mod admit;
mod allowance;
mod clear;
mod feedback;
mod janitor;
mod progress;
pub(crate) mod reply;
mod worker;

use crate::acks::{AcksInProgress, QueuedHint};
use crate::runtime_config::RuntimeConfigService;
use crate::settings::{LlmSettings, QueueSettings};
use disconcierge_discord::Discord;
use disconcierge_llm::LlmBackend;
use disconcierge_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the answer being generated is shown (Discord allows about 5 edits per 5 s per message).
pub const EDIT_INTERVAL: Duration = Duration::from_millis(1000);
/// How long after its first words an answer is first shown in progress. An answer complete by then is
/// shown once, complete: a short answer costs one edit instead of two (Discord's rate limits count them)
/// and does not flash a partial text just before the whole.
pub const FIRST_PREVIEW_AFTER: Duration = Duration::from_millis(300);
/// At most this many earlier exchanges are read for a conversation's history (before trimming to the
/// context budget).
const HISTORY_EXCHANGES: u32 = 50;
pub struct Chat {
    pub store: Arc<dyn Store>,
    pub runtime: RuntimeConfigService,
    pub llm: Arc<dyn LlmBackend>,
    pub llm_settings: LlmSettings,
    pub queue: QueueSettings,
    pub discord: Discord,
    pub instance_id: String,
    pub wake: Arc<Notify>,
    /// Commands this process queued that, as far as it knows, no worker has claimed yet.
    pub queued_here: Arc<QueuedHint>,
    /// Requests per second to the LLM, from the runtime configuration.
    pub rate: Arc<crate::rate::LlmRate>,
    /// Records and admits chat commands, several per batch (see [`admit`]).
    pub admissions: admit::Admissions,
    /// Queues acknowledged commands, several per statement.
    pub queuer: admit::Queuer,
    /// Feedback and failures, to the notification channel.
    pub notifier: crate::notify::Notifier,
    /// Every interaction received, for the admin interface.
    pub interaction_log: crate::interaction_log::InteractionLogger,
    /// Interactions being acknowledged right now: workers start no new answer while there are any, and
    /// queueing and the interaction log wait for a pause in them (shared with those tasks).
    pub acks: Arc<AcksInProgress>,
    /// The support desk (tickets, training, knowledge bases), which shares the LLM and its rate.
    pub desk: Arc<crate::desk::Desk>,
}
