//! The support desk's domain: tickets opened from a panel in a forum channel, AI replies built from the
//! ticket's conversation and the guild's trained answers and knowledge bases, and the rules that decide
//! when a trained answer is sent as is.
//!
//! * [`idle`]: when an idle ticket is warned and when it is closed.
//! * [`model`]: the records the store persists (all scoped by guild).
//! * [`retrieval`]: search terms for the database's full-text index, calibrated confidence, fusion with
//!   embeddings, and the choice between a trained answer and the LLM.
//! * [`prompt`]: the instructions and conversation sent to the LLM for a ticket reply.
//! * [`transfer`]: the JSON import/export files and the bounds on what staff type.
//! * [`ticket_bot`]: the Python ticket bot's training data, checked and merged for an import.

pub mod idle;
pub mod model;
pub mod prompt;
pub mod retrieval;
pub mod ticket_bot;
pub mod transfer;
