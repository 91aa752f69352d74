//! Wrappers for secret material: wiped on drop, never printed.

use std::fmt;

use zeroize::Zeroizing;

/// A decrypted value or other secret text.
///
/// The contents are wiped from memory when it is dropped, and neither `Debug` nor any other
/// formatting trait reveals them. Reading the text goes through [`SecretString::expose_secret`],
/// so every place a secret leaves its box can be found with a search.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Wraps `text`; the `String`'s buffer is wiped when the wrapper is dropped.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret text. Callers must not log or display it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = SecretString::new("hunter2-very-secret".to_owned());
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose_secret(), "hunter2-very-secret");
    }
}
