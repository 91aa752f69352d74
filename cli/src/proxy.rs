//! `envx run --proxy`: the network side. The pure logic (rules, placeholders, substitution and
//! scrubbing) lives in `envx_core::proxy`; this module holds the sockets, TLS and the runtime,
//! which start only when `--proxy` is given, and the child's side (its environment and CA
//! bundle, and `--check`).

pub mod check;
pub mod child;
pub mod echo;
pub mod engine;
