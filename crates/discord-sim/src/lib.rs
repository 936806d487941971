//! Discord simulator (being written).
