//! envx-core reads, edits, encrypts and decrypts `.env` files in the format dotenvx writes,
//! and loads them into memory for a program to use.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join(".env.production");
//! # std::fs::write(&path, "USER_NAME=ada\nGREETING=\"hello ${USER_NAME}\"\n")?;
//! // Decrypts with the key in `.env.keys` beside the file (or above it), expands references,
//! // and returns the variables. The process environment is neither read nor changed.
//! let env = envx_core::Loader::new().file(&path).load()?;
//! assert_eq!(env.get("GREETING").unwrap().expose_secret(), "hello ada");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces an embedder needs are at the crate root:
//!
//! - [`Loader`] and the [`EnvMap`] it returns;
//! - [`encrypt_value`] and [`decrypt_value`] for single values, with [`PublicKey`] and
//!   [`PrivateKey`];
//! - [`Document`] and [`Entry`], a lossless view of a file for tools that edit one;
//! - [`Error`], whose [`Error::kind`] is an [`ErrorKind`] to match on, and whose
//!   [`Error::path`], [`Error::line`] and [`Error::key`] say where; no error holds a value.
//!
//! What stays byte for byte: a [`Document`] keeps every byte of its input (comments, blank
//! lines, `export`, quoting, spacing, CRLF, a BOM, lines that are not assignments), and an
//! edit rewrites only the value it touches. Encrypting twice changes nothing the second time.
//!
//! Secrets (private keys, decrypted values, loaded maps, the loader's environment) live in
//! types that wipe their memory on drop and show `[REDACTED]`, or only a public key, in
//! `Debug` output.
//!
//! The modules hidden from these docs are the machinery of the `envx` command line; they are
//! public for it and may change in any release.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::exit,
    clippy::dbg_macro
)]

#[doc(hidden)]
pub mod access;
#[doc(hidden)]
pub mod cache;
#[doc(hidden)]
pub mod crypto;
#[doc(hidden)]
pub mod discover;
#[doc(hidden)]
pub mod document;
#[doc(hidden)]
pub mod edit;
#[doc(hidden)]
pub mod envfile;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod expand;
#[doc(hidden)]
pub mod fs;
#[doc(hidden)]
pub mod glob;
#[doc(hidden)]
pub mod keys;
#[doc(hidden)]
pub mod keys_file;
#[doc(hidden)]
pub mod load;
#[doc(hidden)]
pub mod merge;
#[doc(hidden)]
pub mod names;
#[doc(hidden)]
pub mod parallel;
#[doc(hidden)]
pub mod policy;
pub mod proxy;
#[doc(hidden)]
pub mod redact;
#[doc(hidden)]
pub mod rotate;
#[doc(hidden)]
pub mod seal;
#[doc(hidden)]
pub mod secret;
#[doc(hidden)]
pub mod store;

mod loader;

pub use crypto::CryptoError;
pub use document::{Document, Entry, Quote};
pub use error::{Error, ErrorKind, Result};
pub use keys::{KeyError, PrivateKey, PublicKey};
pub use loader::{EnvMap, Loader};
pub use secret::SecretString;

/// Encrypts `plaintext` to `public_key` and returns the stored form, `encrypted:<base64>`, as
/// it appears in a file (each call uses a fresh ephemeral key, so the text differs every time).
///
/// ```
/// use envx_core::{PrivateKey, decrypt_value, encrypt_value};
///
/// let key = PrivateKey::generate();
/// let stored = encrypt_value(key.public_key(), "s3cr3t");
/// assert!(stored.starts_with("encrypted:"));
/// assert_eq!(decrypt_value(&key, &stored)?.expose_secret(), "s3cr3t");
/// # Ok::<(), envx_core::Error>(())
/// ```
pub fn encrypt_value(public_key: &PublicKey, plaintext: &str) -> String {
    crypto::encrypt_value(public_key, plaintext.as_bytes())
}

/// Decrypts a stored value (`encrypted:<base64>`, or the base64 alone) with `private_key`.
///
/// # Errors
/// [`ErrorKind::Decrypt`]: the text is not a ciphertext, was encrypted to another key, or
/// was altered ([`Error::Value`]), or its plaintext is not UTF-8 ([`Error::ValueNotUtf8`]).
///
/// ```
/// use envx_core::{ErrorKind, PrivateKey, decrypt_value, encrypt_value};
///
/// let stored = encrypt_value(PrivateKey::generate().public_key(), "s3cr3t");
/// let error = decrypt_value(&PrivateKey::generate(), &stored).unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Decrypt);
/// ```
pub fn decrypt_value(private_key: &PrivateKey, ciphertext: &str) -> Result<SecretString> {
    let mut bytes =
        crypto::decrypt_value(private_key, ciphertext).map_err(|cause| Error::Value { cause })?;
    let text = String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        let mut rejected = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut rejected);
        Error::ValueNotUtf8
    })?;
    Ok(SecretString::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every type at the crate root that can hold a secret keeps it out of `Debug`.
    #[test]
    fn root_types_redact_secrets_in_debug() {
        let secret = "hunter2-root-secret";
        let key = PrivateKey::generate();
        let hex = key.expose_hex().to_string();
        let stored = encrypt_value(key.public_key(), secret);
        let document = Document::parse(&format!("A={secret}\n"));
        let entry = &document.entries()[0];
        let value = decrypt_value(&key, &stored).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        let public = key.public_key().to_hex();
        std::fs::write(
            &path,
            format!("DOTENV_PUBLIC_KEY=\"{public}\"\nA=\"{stored}\"\n"),
        )
        .unwrap();
        let loader = Loader::new().file(&path).private_key(key.clone());
        let env = loader.load().unwrap();
        assert_eq!(env.get("A").unwrap().expose_secret(), secret);
        let shown = format!(
            "{key:?} {document:?} {entry:?} {value:?} {loader:?} {env:?} {key:#?} {document:#?} {env:#?}"
        );
        assert!(
            !shown.contains(secret) && !shown.contains(&hex[..12]),
            "{shown}"
        );
    }

    #[test]
    fn decrypt_value_errors_are_decrypt_errors_without_a_location() {
        let key = PrivateKey::generate();
        for stored in ["encrypted:not base64!", "encrypted:AAAA"] {
            let error = decrypt_value(&key, stored).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Decrypt);
            assert_eq!(
                (error.path(), error.line(), error.key()),
                (None, None, None)
            );
        }
    }
}
