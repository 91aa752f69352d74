//! Wrappers for secret material: wiped on drop, never printed.

use std::fmt;

use zeroize::Zeroize;

/// Wipes the whole buffer of `text` (spare capacity included) and leaves it empty.
///
/// The guarantee is [`Zeroize`]'s (volatile writes that the compiler may not remove), but the
/// writes are eight bytes wide where `Zeroize` on a string writes one byte at a time: wiping the
/// text of a large env file is then a small part of reading it rather than a large one.
pub fn wipe(text: &mut String) {
    let mut bytes = std::mem::take(text).into_bytes();
    // Within capacity, so no reallocation: the spare bytes join the slice that is wiped.
    bytes.resize(bytes.capacity(), 0);
    let (head, words, tail) = bytemuck::pod_align_to_mut::<u8, u64>(&mut bytes);
    head.zeroize();
    words.zeroize();
    tail.zeroize();
}

/// A decrypted value or other secret text.
///
/// The contents are wiped from memory when it is dropped, and neither `Debug` nor any other
/// formatting trait reveals them. Reading the text goes through [`SecretString::expose_secret`],
/// so every place a secret leaves its box can be found with a search.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps `text`; the `String`'s buffer is wiped when the wrapper is dropped.
    pub fn new(text: String) -> Self {
        Self(text)
    }

    /// The secret text. Callers must not log or display it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl Drop for SecretString {
    fn drop(&mut self) {
        wipe(&mut self.0);
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
    fn wipe_empties_the_text() {
        for len in [0, 1, 7, 8, 9, 100, 4099] {
            let mut text = "x".repeat(len);
            text.reserve(13);
            wipe(&mut text);
            assert!(text.is_empty());
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = SecretString::new("hunter2-very-secret".to_owned());
        let shown = format!("{secret:?} {secret:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(secret.expose_secret(), "hunter2-very-secret");
    }
}
