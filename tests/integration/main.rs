//! Integration tests for the `envx` binary, in one test binary so it links once.
//!
//! Every test runs the real binary with a scrubbed environment in its own temporary folder.

// Test helpers panic on unexpected failures by design.
#![allow(clippy::unwrap_used)]

mod access;
mod cache;
mod common;
mod crash;
mod dotenvx_flags;
mod edit;
mod encrypt_decrypt;
mod envfiles;
mod errors;
mod exact;
mod fixtures;
mod get_set;
mod git;
mod hostile;
mod hostile_child;
mod interop;
mod key_command;
mod keys;
mod parity;
mod planted_keys;
mod policy;
mod proxy;
mod proxy_engine;
mod recipes;
mod redact;
mod run;
mod seal;
mod tls_echo;
