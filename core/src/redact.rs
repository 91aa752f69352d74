//! Streaming redaction of secrets in a child's output (`envx run --redact`).
//!
//! Programs, and agents especially, echo, encode and paste what they hold, so a secret is
//! looked for in the forms it commonly takes: as is; in base64 (standard and URL-safe, with and
//! without padding, at each of the three byte alignments it can have inside a larger encoded
//! blob); percent-encoded (upper- and lower-case hex); and JSON-escaped. Every occurrence becomes
//! `[REDACTED:NAME]`. One Aho-Corasick automaton matches all forms of all secrets in a single
//! pass over the output.
//!
//! The filter is streaming: output is passed on as soon as it cannot be the start of a secret,
//! and only a tail that could still grow into one (at most one pattern long) is held back until
//! the next read, so a secret split across two writes is caught without delaying ordinary
//! output. The result is the same whatever the reads' boundaries are.

use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Secrets shorter than this many bytes are not redacted: values such as `1`, `true` or `dev`
/// would turn ordinary output into noise, and encodings of very short values match by chance.
pub const MIN_SECRET_LEN: usize = 6;

/// The patterns of a set of secrets, compiled once.
pub struct Redactor {
    automaton: Option<AhoCorasick>,
    /// Every pattern, sorted, to tell whether a tail of output could still become one.
    sorted: Vec<Zeroizing<Vec<u8>>>,
    /// For each pattern (in automaton order), the replacement text.
    replacement: Vec<Vec<u8>>,
    longest: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.replacement.len())
            .finish_non_exhaustive()
    }
}

/// The forms of `secret` that are looked for.
fn forms(secret: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(secret.to_vec())];
    for engine in [&STANDARD, &URL_SAFE] {
        out.push(Zeroizing::new(engine.encode(secret).into_bytes()));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            // The secret starts `offset` bytes into a 3-byte group: the characters that also
            // depend on the unknown bytes around it are dropped at both ends.
            let mut input = Zeroizing::new(vec![0u8; offset]);
            input.extend_from_slice(secret);
            let text = Zeroizing::new(engine.encode(&*input).into_bytes());
            let skip = [0, 2, 3][offset];
            let trailing = usize::from(!(offset + secret.len()).is_multiple_of(3));
            if text.len() > skip + trailing {
                out.push(Zeroizing::new(text[skip..text.len() - trailing].to_vec()));
            }
        }
    }
    out.push(percent_encode(secret, b"0123456789ABCDEF"));
    out.push(percent_encode(secret, b"0123456789abcdef"));
    out.push(json_escape(secret));
    out
}

/// `encodeURIComponent`: unreserved characters as they are, every other byte as `%XX`.
fn percent_encode(secret: &[u8], digits: &[u8; 16]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secret.len() * 3));
    for &b in secret {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                digits[usize::from(b >> 4)],
                digits[usize::from(b & 15)],
            ]);
        }
    }
    out
}

/// The text of `secret` inside a JSON string, as a JSON writer would escape it.
fn json_escape(secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secret.len() + 8));
    for &b in secret {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b if b < 0x20 => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            b => out.push(b),
        }
    }
    out
}

impl Redactor {
    /// Compiles the patterns of `secrets`, given as (name, value) pairs. Values shorter than
    /// [`MIN_SECRET_LEN`] bytes, and encoded forms that short, are left out.
    pub fn new(secrets: &[(&str, &str)]) -> Self {
        let mut patterns: Vec<(Zeroizing<Vec<u8>>, usize)> = Vec::new();
        for (index, (_, value)) in secrets.iter().enumerate() {
            if value.len() < MIN_SECRET_LEN {
                continue;
            }
            for form in forms(value.as_bytes()) {
                if form.len() >= MIN_SECRET_LEN && !patterns.iter().any(|(p, _)| **p == *form) {
                    patterns.push((form, index));
                }
            }
        }
        let longest = patterns.iter().map(|(p, _)| p.len()).max().unwrap_or(0);
        let automaton = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(patterns.iter().map(|(p, _)| p.as_slice()))
                // Building only fails past limits (millions of patterns) envx never reaches.
                .unwrap_or_else(|e| unreachable!("building the redaction automaton: {e}"))
        });
        let replacement = patterns
            .iter()
            .map(|(_, index)| format!("[REDACTED:{}]", secrets[*index].0).into_bytes())
            .collect();
        let mut sorted: Vec<Zeroizing<Vec<u8>>> = patterns.into_iter().map(|(p, _)| p).collect();
        sorted.sort_by(|a, b| a.as_slice().cmp(b.as_slice()));
        Self {
            automaton,
            sorted,
            replacement,
            longest,
        }
    }

    /// Is there nothing to redact?
    pub fn is_empty(&self) -> bool {
        self.automaton.is_none()
    }

    /// A filter for one output stream.
    pub fn stream(&self) -> RedactStream<'_> {
        RedactStream {
            redactor: self,
            held: Zeroizing::new(Vec::new()),
        }
    }

    /// Redacts a whole text at once.
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let mut stream = self.stream();
        stream.push(input, &mut out);
        stream.finish(&mut out);
        out
    }

    /// Could `tail` still grow into a pattern longer than it is?
    fn could_grow(&self, tail: &[u8]) -> bool {
        // Patterns starting with `tail` sort together, right after it (`tail` itself first).
        let at = self.sorted.partition_point(|p| p.as_slice() < tail);
        self.sorted[at..]
            .iter()
            .take_while(|p| p.starts_with(tail))
            .any(|p| p.len() > tail.len())
    }
}

/// The streaming state of one output (stdout or stderr).
pub struct RedactStream<'r> {
    redactor: &'r Redactor,
    /// Bytes that could still be the start of a secret.
    held: Zeroizing<Vec<u8>>,
}

impl RedactStream<'_> {
    /// Filters `chunk`, appending what is safe to show to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let Some(automaton) = &self.redactor.automaton else {
            out.extend_from_slice(chunk);
            return;
        };
        let mut buffer = std::mem::take(&mut *self.held);
        buffer.extend_from_slice(chunk);
        let buffer = Zeroizing::new(buffer);
        // Positions from here on are near enough to the end to be an unfinished pattern.
        let near_end = buffer
            .len()
            .saturating_sub(self.redactor.longest.saturating_sub(1));
        let first_open = |from: usize, to: usize| {
            (from.max(near_end)..to).find(|&start| self.redactor.could_grow(&buffer[start..]))
        };
        let mut pos = 0;
        for found in automaton.find_iter(&buffer[..]) {
            // A match must wait if an earlier or longer one may still complete.
            if let Some(open) = first_open(pos, found.start() + 1) {
                out.extend_from_slice(&buffer[pos..open]);
                self.held.extend_from_slice(&buffer[open..]);
                return;
            }
            out.extend_from_slice(&buffer[pos..found.start()]);
            out.extend_from_slice(&self.redactor.replacement[found.pattern().as_usize()]);
            pos = found.end();
        }
        let keep_from = first_open(pos, buffer.len()).unwrap_or(buffer.len());
        out.extend_from_slice(&buffer[pos..keep_from]);
        self.held.extend_from_slice(&buffer[keep_from..]);
    }

    /// Ends the stream: the held-back bytes (which did not become a secret) are released.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.held);
        self.held.clear();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECRET: &str = "sk_live_51HqLyjWDarjtT1zdp7dc";

    fn redactor() -> Redactor {
        Redactor::new(&[
            ("API_TOKEN", SECRET),
            ("SHORT", "dev"),
            ("PASS", "pa$s \"word\"/é"),
        ])
    }

    fn shown(input: &[u8]) -> String {
        String::from_utf8_lossy(&redactor().redact(input)).into_owned()
    }

    #[test]
    fn literal_and_encoded_forms_are_redacted() {
        let blob_at = |prefix: &str| STANDARD.encode(format!("{prefix}{SECRET}!!").as_bytes());
        let inputs = [
            SECRET.to_owned(),
            STANDARD.encode(SECRET),
            URL_SAFE_NO_PAD.encode(SECRET),
            blob_at("x"),
            blob_at("xy"),
            blob_at("xyz"),
            URL_SAFE.encode(format!("ab{SECRET}")),
            "pa%24s%20%22word%22%2F%C3%A9".to_owned(),
            "pa%24s%20%22word%22%2f%c3%a9".to_owned(),
            serde_json::to_string("pa$s \"word\"/é").unwrap(),
        ];
        for input in inputs {
            let out = shown(format!("before {input} after").as_bytes());
            assert!(out.contains("[REDACTED:"), "{input} -> {out}");
            assert!(!out.contains(SECRET) && !out.contains("word"), "{out}");
        }
    }

    #[test]
    fn short_values_pass_through() {
        assert_eq!(shown(b"env: dev"), "env: dev");
        assert!(Redactor::new(&[("A", "12345")]).is_empty());
    }

    #[test]
    fn a_secret_split_across_reads_is_caught_and_plain_output_is_not_delayed() {
        let r = redactor();
        let mut stream = r.stream();
        let mut out = Vec::new();
        stream.push(b"token: sk_live_51Hq", &mut out);
        assert_eq!(out, b"token: ", "only a possible secret start is held back");
        stream.push(b"LyjWDarjtT1zdp7dc done\n", &mut out);
        stream.finish(&mut out);
        assert_eq!(
            String::from_utf8_lossy(&out),
            "token: [REDACTED:API_TOKEN] done\n"
        );

        let mut out = Vec::new();
        let mut stream = r.stream();
        stream.push(b"prompt> ", &mut out);
        assert_eq!(out, b"prompt> ");
    }

    /// Regression (found by `any_split_gives_the_one_shot_result`): a tail equal to a short
    /// form of a secret was released although a longer form could still complete it.
    #[test]
    fn a_short_form_at_the_end_waits_for_the_longer_one() {
        let r = redactor();
        let text = format!("a{}", STANDARD.encode(SECRET)).into_bytes();
        let mut out = Vec::new();
        let mut stream = r.stream();
        stream.push(&text[..39], &mut out);
        stream.push(&text[39..], &mut out);
        stream.finish(&mut out);
        assert_eq!(String::from_utf8_lossy(&out), "a[REDACTED:API_TOKEN]");
    }

    proptest! {
        #[test]
        fn any_split_gives_the_one_shot_result(
            parts in proptest::collection::vec(prop_oneof![
                Just(SECRET.to_owned()),
                Just(SECRET[..10].to_owned()),
                Just(STANDARD.encode(SECRET)),
                "[a-z_0-9 ]{0,12}",
            ], 0..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let text = parts.concat().into_bytes();
            let r = redactor();
            let whole = r.redact(&text);
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
            points.sort_unstable();
            let mut out = Vec::new();
            let mut stream = r.stream();
            let mut last = 0;
            for point in points {
                stream.push(&text[last..point], &mut out);
                last = point;
            }
            stream.push(&text[last..], &mut out);
            stream.finish(&mut out);
            prop_assert_eq!(&out, &whole);
            prop_assert!(!String::from_utf8_lossy(&out).contains(SECRET));
        }
    }
}
