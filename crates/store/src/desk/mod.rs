//! The support desk's storage: [`DeskStore`] and the values it returns (design notes on the trait).

mod knowledge;
mod tickets;
mod training;

pub use knowledge::KnowledgeStore;
pub use tickets::TicketStore;
pub use training::TrainingStore;

use disconcierge_core::desk::model::{KnowledgeBase, Ticket};

/// What [`TicketStore::reserve_ticket`] did: one open ticket per user per category per guild.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketReservation {
    /// A new ticket, without a thread yet (`thread_id` is `None`): create the forum post, then
    /// [`TicketStore::attach_ticket_thread`] (or [`TicketStore::cancel_ticket_reservation`] if that failed).
    Reserved(Ticket),
    /// The user already has an open (or escalated) ticket in this category: point them to it. Its
    /// `thread_id` is `None` while another request is still creating its post.
    Existing(Ticket),
}

impl TicketReservation {
    /// The ticket, new or existing.
    pub fn ticket(&self) -> &Ticket {
        match self {
            TicketReservation::Reserved(t) | TicketReservation::Existing(t) => t,
        }
    }
}

/// What [`KnowledgeStore::create_kb`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum KbCreated {
    Created(KnowledgeBase),
    /// A knowledge base of that name (ignoring case) already exists in the guild; nothing was changed.
    Exists(KnowledgeBase),
}

impl KbCreated {
    /// The knowledge base, new or existing.
    pub fn kb(&self) -> &KnowledgeBase {
        match self {
            KbCreated::Created(kb) | KbCreated::Exists(kb) => kb,
        }
    }
}

/// What [`TrainingStore::import_training`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New entries.
    pub created: u64,
    /// Entries whose question was trained before (in the guild, or earlier in the same import): their
    /// answer was replaced.
    pub updated: u64,
    /// The id of each imported entry, in the file's order (an entry updated twice appears twice).
    pub ids: Vec<i64>,
}

/// The support desk's repository: guild settings, tickets and their messages, trained answers, knowledge
/// bases, and the full-text retrieval over the last two. Three role traits ([`TicketStore`],
/// [`TrainingStore`], [`KnowledgeStore`]); anything that implements all three is a `DeskStore`.
///
/// A supertrait of [`crate::Store`], so an `Arc<dyn Store>` reaches it too. Both backends implement it
/// (`shared/desk/`) and pass the same tests (`tests/desk.rs`).
///
/// # Design notes
///
/// * **Guilds** scope everything: every row carries its guild, and no method returns another guild's
///   rows. Methods that take only a row id (tickets, a knowledge base's entries) are for callers that got
///   the id from a guild-scoped read.
/// * **Tickets** are reserved before their forum post exists (`thread_id` is `None`), so that two clicks
///   on the panel cannot open two tickets: a unique index allows one ticket that is not closed per user
///   and category in a guild.
/// * **Full-text search** is the database's: SQLite FTS5 (Porter stemming, diacritics removed, BM25 with
///   column weights; the guild is a token in the index, so a search reads only its guild's matches) and
///   PostgreSQL `tsvector` (`english`, a GIN index, `ts_rank_cd`). Either way a search reads the index,
///   not every entry. Ranks of the two backends are on different scales: only their order means
///   something.
/// * **Embeddings** are stored next to the entries they were computed from (little-endian `f32` bytes)
///   with the model's name; a change of the embedded text clears them, and
///   [`KnowledgeStore::entries_missing_embedding`] lists what needs computing.
///
/// Methods that change one row by id return [`StoreError::NotFound`](crate::StoreError::NotFound) when there is no such row, unless
/// documented otherwise (state transitions answer `false` / `None` instead, because losing a race with
/// another instance or a staff member is an expected event).
pub trait DeskStore: TicketStore + TrainingStore + KnowledgeStore {}

impl<T: TicketStore + TrainingStore + KnowledgeStore + ?Sized> DeskStore for T {}
