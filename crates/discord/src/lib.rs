//! disconcierge's Discord side. This is the only crate that knows Discord's wire formats and clients;
//! the rest of the application talks to it in domain terms.

pub mod webhook;
