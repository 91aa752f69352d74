//! The vault: every ruled key of a run, with its placeholder, real value and rule.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::redact::Redactor;

use super::placeholder::{PLACEHOLDER_LEN, PLACEHOLDER_PREFIX, Placeholder};
use super::rules::{Rule, Surfaces};
use super::stream::{Effect, Stream};

/// What happened to the placeholders in one request (or response): key names only, each once
/// per list (in a request head, in the order first seen).
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
    value: Zeroizing<String>,
    rule: Rule,
}

/// Every ruled key of a run: its name, a fresh placeholder, its real value (wiped on drop,
/// never shown by `Debug`) and its rule.
pub struct Vault {
    slots: Vec<Slot>,
    /// Every real value, in every form, to its placeholder.
    scrubber: Redactor,
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
        let mut slots: Vec<Slot> = Vec::with_capacity(entries.len());
        for (key, value, rule) in entries {
            if let Some(slot) = slots.iter_mut().find(|s| s.key == key) {
                slot.value = value;
                slot.rule = rule;
                continue;
            }
            // Two equal placeholders are as likely as guessing a 206-bit key; checked anyway.
            let placeholder = loop {
                let p = Placeholder::generate();
                if slots.iter().all(|s| s.placeholder != p) {
                    break p;
                }
            };
            slots.push(Slot {
                key,
                placeholder,
                value,
                rule,
            });
        }
        let pairs: Vec<(&str, &[u8])> = slots
            .iter()
            .map(|s| (s.value.as_str(), s.placeholder.as_str().as_bytes()))
            .collect();
        let scrubber = Redactor::with_replacements(&pairs);
        Self { slots, scrubber }
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
        let mut outcome = Outcome::default();
        let allowed = |slot: &Slot, surface: fn(&Surfaces) -> bool| {
            surface(&slot.rule.surfaces) && slot.rule.allows(host, port)
        };
        // The path: never substituted. The query: percent-encoded real values.
        let (path, query) = match target.find('?') {
            Some(at) => target.split_at(at),
            None => (target.as_str(), ""),
        };
        self.substitute(path.as_bytes(), |_| false, |_| None, &mut outcome);
        let new_query = self.substitute(
            query.as_bytes(),
            |slot| allowed(slot, |s| s.query),
            |value| Some(Zeroizing::new(percent_encode(value))),
            &mut outcome,
        );
        if let Some(query) = new_query {
            // Percent-encoding leaves only ASCII.
            let mut new = String::with_capacity(path.len() + query.len());
            new.push_str(path);
            new.push_str(&String::from_utf8_lossy(&query));
            *target = new;
        }
        for (name, value) in headers.iter_mut() {
            if name.eq_ignore_ascii_case("proxy-authorization") {
                continue;
            }
            if name.eq_ignore_ascii_case("host") {
                self.substitute(value, |_| false, |_| None, &mut outcome);
                continue;
            }
            if name.eq_ignore_ascii_case("authorization")
                && let Some(new) =
                    self.basic(value, |slot| allowed(slot, |s| s.header), &mut outcome)
            {
                *value = new;
                continue;
            }
            let new = self.substitute(
                value,
                |slot| allowed(slot, |s| s.header),
                |real| {
                    let fits = !real.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0));
                    fits.then(|| Zeroizing::new(real.as_bytes().to_vec()))
                },
                &mut outcome,
            );
            if let Some(mut new) = new {
                *value = std::mem::take(&mut *new);
            }
        }
        outcome
    }

    /// `Basic base64(user:password)` with a placeholder inside: the credentials decoded,
    /// substituted and encoded again. `None` when the value is not Basic credentials or nothing
    /// in them was substituted.
    fn basic(
        &self,
        value: &[u8],
        allowed: impl Fn(&Slot) -> bool,
        outcome: &mut Outcome,
    ) -> Option<Vec<u8>> {
        let (scheme, encoded) = split_basic(value)?;
        let decoded = Zeroizing::new(STANDARD.decode(encoded.trim_ascii()).ok()?);
        let new = self.substitute(
            &decoded,
            allowed,
            |real| Some(Zeroizing::new(real.as_bytes().to_vec())),
            outcome,
        )?;
        let mut out = scheme.to_vec();
        out.extend_from_slice(STANDARD.encode(&*new).as_bytes());
        Some(out)
    }

    /// Replaces in `text` each placeholder of a key `allowed` by `encode(real value)`; a
    /// placeholder not allowed, or whose value `encode` refuses, stays and is reported as
    /// refused. `None` when nothing was substituted.
    fn substitute(
        &self,
        text: &[u8],
        allowed: impl Fn(&Slot) -> bool,
        encode: impl Fn(&str) -> Option<Zeroizing<Vec<u8>>>,
        outcome: &mut Outcome,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        let mut copied = 0;
        let mut changed = false;
        for at in memchr::memmem::find_iter(text, PLACEHOLDER_PREFIX.as_bytes()) {
            if at < copied {
                continue;
            }
            let Some(candidate) = text.get(at..at + PLACEHOLDER_PREFIX.len() + PLACEHOLDER_LEN)
            else {
                break;
            };
            let Some(slot) = self
                .slots
                .iter()
                .find(|s| s.placeholder.as_str().as_bytes() == candidate)
            else {
                continue;
            };
            match allowed(slot).then(|| encode(&slot.value)).flatten() {
                Some(real) => {
                    out.extend_from_slice(&text[copied..at]);
                    out.extend_from_slice(&real);
                    copied = at + candidate.len();
                    changed = true;
                    note(&mut outcome.substituted, &slot.key);
                }
                None => note(&mut outcome.refused, &slot.key),
            }
        }
        if !changed {
            return None;
        }
        out.extend_from_slice(&text[copied..]);
        Some(out)
    }

    /// A streaming substituter for a request body to `host:port`: placeholders of keys whose
    /// rule allows `body` for that host become their real values; placeholders of other keys
    /// pass unchanged and are reported as refused.
    pub fn body_substituter(&self, host: &str, port: u16) -> Stream<'_> {
        let mut replacements: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(self.slots.len());
        let mut effects = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            if slot.rule.surfaces.body && slot.rule.allows(host, port) {
                replacements.push(Zeroizing::new(slot.value.as_bytes().to_vec()));
                effects.push((slot.key.as_str(), Effect::Substituted));
            } else {
                // Replaced by itself: passes unchanged, and is counted.
                replacements.push(Zeroizing::new(
                    slot.placeholder.as_str().as_bytes().to_vec(),
                ));
                effects.push((slot.key.as_str(), Effect::Refused));
            }
        }
        let pairs: Vec<(&[u8], &[u8])> = self
            .slots
            .iter()
            .zip(&replacements)
            .map(|(s, r)| (s.placeholder.as_str().as_bytes(), r.as_slice()))
            .collect();
        let redactor = Redactor::literal(&pairs);
        Stream::new(redactor.into_stream(), effects)
    }

    /// A streaming scrubber for a response: every real value (of at least
    /// [`MIN_SECRET_LEN`](crate::redact::MIN_SECRET_LEN) bytes), as is or in the encoded forms
    /// `--redact` knows (base64, hex, percent- and JSON-escaped), becomes its key's
    /// placeholder. The output can be longer or shorter than the input.
    pub fn response_scrubber(&self) -> Stream<'_> {
        let effects = self
            .slots
            .iter()
            .map(|s| (s.key.as_str(), Effect::Scrubbed))
            .collect();
        Stream::new(self.scrubber.stream(), effects)
    }

    /// Scrubs one response header value as [`Vault::response_scrubber`] does a body
    /// (`Basic` credentials decoded, scrubbed and encoded again).
    pub fn scrub_header(&self, value: &mut Vec<u8>) -> Outcome {
        let mut outcome = Outcome::default();
        if let Some((scheme, encoded)) = split_basic(value)
            && let Ok(decoded) = STANDARD.decode(encoded.trim_ascii())
        {
            let (scrubbed, found) = self.scrub_all(&Zeroizing::new(decoded));
            if !found.is_empty() {
                outcome.merge(&found);
                let mut new = scheme.to_vec();
                new.extend_from_slice(STANDARD.encode(&*scrubbed).as_bytes());
                zeroize::Zeroize::zeroize(value);
                *value = new;
            }
        }
        let (mut scrubbed, found) = self.scrub_all(value);
        if !found.is_empty() {
            outcome.merge(&found);
            zeroize::Zeroize::zeroize(value);
            *value = std::mem::take(&mut *scrubbed);
        }
        outcome
    }

    /// Scrubs a whole text at once.
    fn scrub_all(&self, text: &[u8]) -> (Zeroizing<Vec<u8>>, Outcome) {
        let mut out = Zeroizing::new(Vec::with_capacity(text.len()));
        let mut stream = self.response_scrubber();
        stream.feed(text, &mut out);
        stream.finish(&mut out);
        (out, stream.outcome().clone())
    }
}

/// Splits `Basic <credentials>` (the scheme case-insensitive) into the scheme with its
/// spaces, and the credentials.
fn split_basic(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let scheme = value.get(..6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let spaces = value[6..].iter().take_while(|&&b| b == b' ').count();
    Some(value.split_at(6 + spaces))
}

/// Percent-encodes all but the unreserved characters of RFC 3986.
fn percent_encode(value: &str) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    out
}

/// Adds `key` to `list` unless it is there.
fn note(list: &mut Vec<String>, key: &str) {
    if !list.iter().any(|k| k == key) {
        list.push(key.to_owned());
    }
}
