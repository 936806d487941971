//! LLM simulator (being written).
