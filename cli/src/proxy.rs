//! `envx run --proxy`.

pub mod child;
