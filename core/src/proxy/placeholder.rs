//! Placeholders: what the child holds instead of a real value.

use std::fmt;

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
        unimplemented!()
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
