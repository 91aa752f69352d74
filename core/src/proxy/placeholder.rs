//! Placeholders: what the child holds instead of a real value.

use std::fmt;

use rand_core::{OsRng, RngCore as _};

/// Every placeholder starts with this.
pub const PLACEHOLDER_PREFIX: &str = "envxph_";

/// How many random characters follow the prefix.
pub const PLACEHOLDER_LEN: usize = 40;

/// A placeholder: [`PLACEHOLDER_PREFIX`] followed by [`PLACEHOLDER_LEN`] characters of
/// `[a-z0-9]` drawn from the operating system's random source (about 206 bits), fresh for every
/// run. It is safe unquoted in headers, URLs, JSON and Basic auth. It is not a secret: `Debug`
/// and `Display` show it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Placeholder(String);

impl Placeholder {
    /// A fresh placeholder from the operating system's random source.
    pub fn generate() -> Self {
        const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut text = String::with_capacity(PLACEHOLDER_PREFIX.len() + PLACEHOLDER_LEN);
        text.push_str(PLACEHOLDER_PREFIX);
        let mut buf = [0u8; 64];
        while text.len() < PLACEHOLDER_PREFIX.len() + PLACEHOLDER_LEN {
            OsRng.fill_bytes(&mut buf);
            // Rejection sampling: 252 = 7 * 36, so every character is equally likely.
            for &b in buf.iter().filter(|&&b| b < 252) {
                if text.len() == PLACEHOLDER_PREFIX.len() + PLACEHOLDER_LEN {
                    break;
                }
                text.push(char::from(ALPHABET[usize::from(b % 36)]));
            }
        }
        Self(text)
    }

    /// Is `text` shaped like a placeholder (the prefix, then exactly [`PLACEHOLDER_LEN`]
    /// characters of `[a-z0-9]`)?
    pub fn is_placeholder(text: &[u8]) -> bool {
        text.len() == PLACEHOLDER_PREFIX.len() + PLACEHOLDER_LEN
            && text.starts_with(PLACEHOLDER_PREFIX.as_bytes())
            && text[PLACEHOLDER_PREFIX.len()..]
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }

    /// The placeholder's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Placeholder").field(&self.0).finish()
    }
}
