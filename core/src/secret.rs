//! Wrappers for secret material: wiped on drop, never printed.

use std::collections::HashMap;
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

    /// Moves the text out into a [`SecretMap`] without copying it.
    fn into_inner(mut self) -> String {
        std::mem::take(&mut self.0)
    }
}

/// Names mapped to secret texts, for expansion while loading. A value is wiped when it is
/// replaced, and every value left is wiped when the map is dropped, on an error path as well.
#[derive(Default)]
pub(crate) struct SecretMap(HashMap<String, String>);

impl SecretMap {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Sets `name`, wiping the value it replaces.
    pub(crate) fn insert(&mut self, name: String, value: SecretString) {
        if let Some(mut old) = self.0.insert(name, value.into_inner()) {
            wipe(&mut old);
        }
    }

    /// Removes `name` and hands its value over, without a copy.
    pub(crate) fn take(&mut self, name: &str) -> Option<SecretString> {
        self.0.remove(name).map(SecretString::new)
    }

    /// The map itself, for a caller that reads it.
    pub(crate) fn as_map(&self) -> &HashMap<String, String> {
        &self.0
    }
}

impl Drop for SecretMap {
    fn drop(&mut self) {
        for value in self.0.values_mut() {
            wipe(value);
        }
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
