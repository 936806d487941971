//! Integration tests of the simulator against real twilight clients (one binary: faster to build).

mod attachments;
mod common;
mod driver;
mod gateway;
mod rest;
mod validation;
mod webhook;
