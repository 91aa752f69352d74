//! envx-core reads, edits, encrypts and decrypts `.env` files in the format dotenvx writes,
//! and loads them into memory for a program to use.
//!
//! ```
//! use std::collections::HashMap;
//! use std::path::PathBuf;
//! use envx_core::load::{load, LoadOptions};
//! use envx_core::discover::KeySearch;
//!
//! # let dir = tempfile::tempdir()?;
//! let path: PathBuf = dir.path().join(".env");
//! std::fs::write(&path, "USER_NAME=ada\nGREETING=\"hello ${USER_NAME}\"\n")?;
//!
//! // The environment is passed in, never read or changed behind the caller's back.
//! let env: HashMap<String, String> = HashMap::new();
//! let loaded = load(&[path], LoadOptions {
//!     env: &env,
//!     search: KeySearch {
//!         env: &env, keys_files: &[], supplied: &[], cwd: None, strict_permissions: false,
//!         cache: None,
//!     },
//!     overload: false,
//!     commands: None,
//! })?;
//! let greeting = loaded.get("GREETING").expect("defined");
//! assert_eq!(greeting.value.expose_secret(), "hello ada");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What stays byte for byte: a [`document::Document`] keeps every byte of its input
//! (comments, blank lines, `export`, quoting, spacing, CRLF, a BOM, lines that are not
//! assignments), and an edit rewrites only the value it touches. Encrypting twice changes
//! nothing the second time.
//!
//! Secrets (private keys, decrypted values) live in types that wipe their memory on drop and
//! never show their contents in `Debug` output.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit,
    clippy::dbg_macro
)]

pub mod cache;
pub mod crypto;
pub mod discover;
pub mod document;
pub mod edit;
pub mod envfile;
pub mod error;
pub mod expand;
pub mod fs;
pub mod glob;
pub mod keys;
pub mod keys_file;
pub mod load;
pub mod merge;
pub mod names;
pub mod parallel;
pub mod policy;
pub mod redact;
pub mod rotate;
pub mod seal;
pub mod secret;
pub mod store;

pub use error::{Error, Result};
