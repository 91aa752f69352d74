//! The vault: every ruled key of a run, with its placeholder, real value and rule.

use std::fmt;

use zeroize::Zeroizing;

use super::placeholder::Placeholder;
use super::rules::Rule;
use super::stream::Stream;

/// What happened to the placeholders in one request (or response): key names only, each once,
/// in the order first seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Keys whose placeholder was replaced by the real value.
    pub substituted: Vec<String>,
    /// Keys whose placeholder was seen where their rule does not allow it (another host, a
    /// surface not in `in=`, the path, the `Host` header, or a value that cannot be written
    /// there): left as it is.
    pub refused: Vec<String>,
    /// Keys whose real value a response carried and that was replaced by the placeholder.
    pub scrubbed: Vec<String>,
}

impl Outcome {
    /// Did nothing happen?
    pub fn is_empty(&self) -> bool {
        self.substituted.is_empty() && self.refused.is_empty() && self.scrubbed.is_empty()
    }

    /// Adds `other`'s keys to this one's (each key still once).
    pub fn merge(&mut self, other: &Outcome) {
        for (mine, theirs) in [
            (&mut self.substituted, &other.substituted),
            (&mut self.refused, &other.refused),
            (&mut self.scrubbed, &other.scrubbed),
        ] {
            for key in theirs {
                if !mine.contains(key) {
                    mine.push(key.clone());
                }
            }
        }
    }
}

/// One ruled key.
struct Slot {
    key: String,
    placeholder: Placeholder,
    #[allow(dead_code)] // read once the bodies land
    value: Zeroizing<String>,
    rule: Rule,
}

/// Every ruled key of a run: its name, a fresh placeholder, its real value (wiped on drop,
/// never shown by `Debug`) and its rule.
pub struct Vault {
    slots: Vec<Slot>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for slot in &self.slots {
            list.entry(&(&slot.key, &slot.placeholder, &slot.rule));
        }
        list.finish()
    }
}

impl Vault {
    /// Makes a placeholder for each `(key, real value, rule)`. A key given twice keeps its last
    /// value and rule.
    pub fn new(entries: Vec<(String, Zeroizing<String>, Rule)>) -> Self {
        let _ = entries;
        unimplemented!()
    }

    /// Each key and its placeholder, in the order given to [`Vault::new`].
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, &Placeholder)> {
        self.slots.iter().map(|s| (s.key.as_str(), &s.placeholder))
    }

    /// The placeholder of `key`, if it is in the vault.
    pub fn placeholder(&self, key: &str) -> Option<&Placeholder> {
        self.slots
            .iter()
            .find(|s| s.key == key)
            .map(|s| &s.placeholder)
    }

    /// Does some rule name `host` on `port`? Such a CONNECT is intercepted; any other is
    /// tunnelled untouched.
    pub fn names_host(&self, host: &str, port: u16) -> bool {
        self.slots.iter().any(|s| s.rule.allows(host, port))
    }

    /// Substitutes placeholders in a request head sent to the CONNECT target `host:port`.
    ///
    /// `target` is the request target (path and query); `headers` are (name, raw value)
    /// pairs. A key's placeholder is replaced where its rule allows that host and surface: in
    /// a header value (and inside `Authorization: Basic base64(user:password)`, decoded,
    /// substituted and encoded again) for `header`, in the query string (the value
    /// percent-encoded) for `query`. `Proxy-Authorization` is never looked at. Anywhere else
    /// (another host, a surface the rule leaves out, the path, the `Host` header, or a header
    /// where the real value would need a line break or NUL) the placeholder stays and the key
    /// is reported as refused.
    pub fn request_head(
        &self,
        host: &str,
        port: u16,
        target: &mut String,
        headers: &mut [(String, Vec<u8>)],
    ) -> Outcome {
        let _ = (host, port, target, headers);
        unimplemented!()
    }

    /// A streaming substituter for a request body to `host:port`: placeholders of keys whose
    /// rule allows `body` for that host become their real values; placeholders of other keys
    /// pass unchanged and are reported as refused.
    pub fn body_substituter(&self, host: &str, port: u16) -> Stream<'_> {
        let _ = (host, port);
        unimplemented!()
    }

    /// A streaming scrubber for a response: every real value (of at least
    /// [`MIN_SECRET_LEN`](crate::redact::MIN_SECRET_LEN) bytes), as is or in the encoded forms
    /// `--redact` knows (base64, hex, percent- and JSON-escaped), becomes its key's
    /// placeholder. The output can be longer or shorter than the input.
    pub fn response_scrubber(&self) -> Stream<'_> {
        unimplemented!()
    }

    /// Scrubs one response header value as [`Vault::response_scrubber`] does a body
    /// (`Basic` credentials decoded, scrubbed and encoded again).
    pub fn scrub_header(&self, value: &mut Vec<u8>) -> Outcome {
        let _ = value;
        unimplemented!()
    }
}
