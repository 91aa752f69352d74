//! Streaming redaction of secrets in a child's output (`envx run --redact`).
//!
//! Programs, and agents especially, echo, encode and paste what they hold, so a secret is
//! looked for in the forms standard libraries give it by default (see `forms`): as is; base64
//! (standard and URL-safe, padded or not, at each of the three byte alignments it can have
//! inside a larger blob, and wrapped at 64 or 76 columns); hex in either case; percent-encoded
//! the ways JavaScript, Python, PHP and Go do it; JSON-escaped the ways they do it. Every
//! occurrence becomes `[REDACTED:NAME]`.
//!
//! The filter is streaming: output is passed on as soon as it cannot be the start of a secret,
//! and only a tail that could still grow into one is held back until the next read, so a
//! secret split across writes is caught without delaying ordinary output. One filter serves
//! several outputs (stdout and stderr): it sees their bytes in the order they arrive, as a log
//! that holds both would, so a secret written half to each is caught too, while every byte
//! still leaves by the output it came from.
//!
//! Memory: the patterns are kept once, sorted, in one buffer, with a bitmap of their first
//! six bytes; the filter checks the bitmap at each position of the output and looks the
//! position up in the sorted patterns only on a hit. That costs about the patterns' own size
//! plus a few bytes per pattern, where an automaton over every byte of every pattern costs
//! tens to hundreds of bytes per pattern byte.

mod forms;
mod lines;

use std::fmt;

use zeroize::Zeroizing;

use lines::{Line, View};

/// Secrets shorter than this many bytes are not redacted: values such as `1`, `true` or `dev`
/// would turn ordinary output into noise, and encodings of very short values match by chance.
pub const MIN_SECRET_LEN: usize = 6;

/// How many leading bytes of a pattern the bitmap indexes (every pattern is at least this long).
const ANCHOR: usize = MIN_SECRET_LEN;

/// Which output a chunk came from: an index chosen by the caller (`run` uses 0 for stdout and
/// 1 for stderr).
pub type Output = usize;

/// One pattern: a form of a secret, stored in `Redactor::bytes`.
struct Pattern {
    start: usize,
    len: usize,
    secret: usize,
}

/// The patterns of a set of secrets, prepared once.
pub struct Redactor {
    /// Every pattern's bytes, in sorted order of the patterns.
    bytes: Zeroizing<Vec<u8>>,
    /// The distinct patterns, sorted.
    patterns: Vec<Pattern>,
    /// For each secret, its replacement text.
    replacement: Vec<Zeroizing<Vec<u8>>>,
    /// Whether line-wrapped base64 is joined before matching (see `lines`).
    join_wraps: bool,
    /// One bit per hash of a pattern's first `ANCHOR` bytes.
    bitmap: Vec<u64>,
    shift: u32,
    longest: usize,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.patterns.len())
            .field("pattern_bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// The first `ANCHOR` bytes of `text` as one number.
fn anchor_key(text: &[u8]) -> u64 {
    text[..ANCHOR]
        .iter()
        .fold(0, |key, &b| (key << 8) | u64::from(b))
}

const ANCHOR_MASK: u64 = (1 << (8 * ANCHOR)) - 1;

impl Redactor {
    /// Prepares the patterns of `secrets`, given as (name, value) pairs. Values shorter than
    /// [`MIN_SECRET_LEN`] bytes, and encoded forms that short, are left out.
    pub fn new(secrets: &[(&str, &str)]) -> Self {
        let replacement = secrets
            .iter()
            .map(|(name, _)| Zeroizing::new(format!("[REDACTED:{name}]").into_bytes()))
            .collect();
        let values: Vec<&str> = secrets.iter().map(|(_, value)| *value).collect();
        Self::build(&values, replacement, true)
    }

    /// As [`Redactor::new`], but each secret (given as `(value, replacement)`) is replaced by
    /// its own text rather than `[REDACTED:NAME]`. The proxy's response scrubber.
    pub fn with_replacements(secrets: &[(&str, &[u8])]) -> Self {
        let replacement = secrets
            .iter()
            .map(|(_, r)| Zeroizing::new(r.to_vec()))
            .collect();
        let values: Vec<&str> = secrets.iter().map(|(value, _)| *value).collect();
        Self::build(&values, replacement, true)
    }

    /// A plain multi-pattern replacer: each `(pattern, replacement)` pattern is looked for as
    /// it is (no encoded forms, line breaks never joined). Patterns shorter than
    /// [`MIN_SECRET_LEN`] bytes are left out. The proxy's body substituter.
    pub fn literal(pairs: &[(&[u8], &[u8])]) -> Self {
        let replacement = pairs
            .iter()
            .map(|(_, r)| Zeroizing::new(r.to_vec()))
            .collect();
        let mut unsorted = Zeroizing::new(Vec::new());
        let mut patterns = Vec::new();
        for (secret, (pattern, _)) in pairs.iter().enumerate() {
            if pattern.len() >= MIN_SECRET_LEN {
                patterns.push(Pattern {
                    start: unsorted.len(),
                    len: pattern.len(),
                    secret,
                });
                unsorted.extend_from_slice(pattern);
            }
        }
        Self::index(unsorted, patterns, replacement, false)
    }

    /// The patterns of `values` (each in every form), replaced by `replacement[i]`.
    fn build(values: &[&str], replacement: Vec<Zeroizing<Vec<u8>>>, join_wraps: bool) -> Self {
        let mut unsorted = Zeroizing::new(Vec::new());
        let mut patterns = Vec::new();
        for (secret, value) in values.iter().enumerate() {
            if value.len() < MIN_SECRET_LEN {
                continue;
            }
            for form in forms::forms(value) {
                if form.len() >= MIN_SECRET_LEN {
                    patterns.push(Pattern {
                        start: unsorted.len(),
                        len: form.len(),
                        secret,
                    });
                    unsorted.extend_from_slice(&form);
                }
            }
        }
        Self::index(unsorted, patterns, replacement, join_wraps)
    }

    /// Sorts and indexes the patterns stored in `unsorted`.
    fn index(
        unsorted: Zeroizing<Vec<u8>>,
        mut patterns: Vec<Pattern>,
        replacement: Vec<Zeroizing<Vec<u8>>>,
        join_wraps: bool,
    ) -> Self {
        // Sorted (equal patterns in the order of their secrets), then stored again in that
        // order without duplicates: the first secret with a given form names it.
        let text = |p: &Pattern| &unsorted[p.start..p.start + p.len];
        patterns.sort_by(|a, b| text(a).cmp(text(b)));
        patterns.dedup_by(|later, earlier| text(later) == text(earlier));
        let mut bytes = Zeroizing::new(Vec::with_capacity(unsorted.len()));
        for p in &mut patterns {
            let start = bytes.len();
            bytes.extend_from_slice(text(p));
            p.start = start;
        }
        drop(unsorted);
        let bits = (patterns.len() * 64)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 30);
        let shift = 64 - bits.trailing_zeros();
        let mut bitmap = vec![0u64; bits / 64];
        for p in &patterns {
            let h = hash(anchor_key(&bytes[p.start..]), shift);
            bitmap[h / 64] |= 1 << (h % 64);
        }
        let longest = patterns.iter().map(|p| p.len).max().unwrap_or(0);
        Self {
            bytes,
            patterns,
            replacement,
            join_wraps,
            bitmap,
            shift,
            longest,
        }
    }

    /// The total size of the patterns, in bytes (what the filter's memory is proportional to).
    pub fn pattern_bytes(&self) -> usize {
        self.bytes.len()
    }

    /// Is there nothing to redact?
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// A filter for the outputs of one program.
    pub fn stream(&self) -> RedactStream<'_> {
        RedactStream::with(Held::Borrowed(self))
    }

    /// A filter that owns its patterns.
    pub fn into_stream(self) -> RedactStream<'static> {
        RedactStream::with(Held::Owned(Box::new(self)))
    }

    /// Redacts a whole text at once.
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Emitted::default();
        let mut stream = self.stream();
        stream.push(0, input, &mut out);
        stream.finish(&mut out);
        out.bytes
    }

    fn text(&self, p: &Pattern) -> &[u8] {
        &self.bytes[p.start..p.start + p.len]
    }

    /// The longest pattern `text` starts with.
    fn longest_prefix(&self, text: &[u8]) -> Option<&Pattern> {
        let mut query = text;
        loop {
            // The greatest pattern not above `query`: if it is no prefix of `query`, no
            // pattern longer than their common prefix is one either (it would sort between).
            let at = self.patterns.partition_point(|p| self.text(p) <= query);
            let candidate = &self.patterns[at.checked_sub(1)?];
            let common = common_prefix(self.text(candidate), query);
            if common == candidate.len {
                return Some(candidate);
            }
            if common < MIN_SECRET_LEN {
                return None;
            }
            query = &query[..common];
        }
    }

    /// Could `tail` (the end of the output so far) still grow into a pattern longer than it?
    fn could_grow(&self, tail: &[u8]) -> bool {
        // Patterns starting with `tail` sort together, right after it (`tail` itself first).
        let at = self.patterns.partition_point(|p| self.text(p) < tail);
        self.patterns[at..]
            .iter()
            .take(2)
            .any(|p| p.len > tail.len() && self.text(p).starts_with(tail))
    }

    /// The first thing to act on in `text` from `from` on.
    fn next_event(&self, text: &[u8], from: usize) -> Event {
        if self.patterns.is_empty() {
            return Event::Done;
        }
        let mut at = from;
        if text.len() >= from + ANCHOR {
            let mut key = anchor_key(&text[from..]);
            loop {
                let h = hash(key, self.shift);
                if self.bitmap[h / 64] & (1 << (h % 64)) != 0 {
                    if at + self.longest > text.len() && self.could_grow(&text[at..]) {
                        return Event::Hold(at);
                    }
                    let end = text.len().min(at + self.longest);
                    if let Some(p) = self.longest_prefix(&text[at..end]) {
                        return Event::Match(at, at + p.len, p.secret);
                    }
                }
                if at + ANCHOR >= text.len() {
                    break;
                }
                key = ((key << 8) | u64::from(text[at + ANCHOR])) & ANCHOR_MASK;
                at += 1;
            }
            at += 1;
        }
        // Fewer than `ANCHOR` bytes left: only a beginning of a pattern can be there.
        (at..text.len())
            .find(|&start| self.could_grow(&text[start..]))
            .map_or(Event::Done, Event::Hold)
    }
}

fn hash(key: u64, shift: u32) -> usize {
    // Fibonacci hashing: the top bits of the product mix every byte of the key.
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

enum Event {
    /// A secret (start, end, which) in the view.
    Match(usize, usize, usize),
    /// From here on the text could still become a secret.
    Hold(usize),
    /// Nothing more to do.
    Done,
}

/// Filtered output, in order, each part tagged with the output it leaves by.
#[derive(Default)]
pub struct Emitted {
    bytes: Vec<u8>,
    /// `(output, end)`: `bytes[previous end..end]` goes to `output`.
    parts: Vec<(Output, usize)>,
}

impl Emitted {
    /// Empties the buffer for reuse.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.parts.clear();
    }

    /// The parts to write, in this order, each to its output.
    pub fn parts(&self) -> impl Iterator<Item = (Output, &[u8])> {
        let mut start = 0;
        self.parts.iter().map(move |&(output, end)| {
            let part = &self.bytes[start..end];
            start = end;
            (output, part)
        })
    }

    /// Moves everything, whatever the output, to the end of `out`, and wipes and empties this
    /// buffer (it may hold values a substituter put in).
    pub fn drain_into(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.bytes);
        zeroize::Zeroize::zeroize(&mut self.bytes);
        self.parts.clear();
    }

    /// Everything, whatever the output (for a filter that serves one).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn push(&mut self, output: Output, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.bytes.extend_from_slice(bytes);
        match self.parts.last_mut() {
            Some((last, end)) if *last == output => *end = self.bytes.len(),
            _ => self.parts.push((output, self.bytes.len())),
        }
    }
}

/// The streaming state of a program's outputs: what is held back, and from which output each
/// held byte came.
pub struct RedactStream<'r> {
    redactor: Held<'r>,
    /// For each secret, how many times it was replaced.
    hits: Vec<usize>,
    /// Bytes that could still be the start of a secret.
    held: Zeroizing<Vec<u8>>,
    /// `(position in held, output)`: where each output's run of held bytes starts.
    held_from: Vec<(usize, Output)>,
    /// The open line at the start of `held`.
    line: Line,
}

/// The patterns a filter uses: borrowed, or its own.
enum Held<'r> {
    Borrowed(&'r Redactor),
    Owned(Box<Redactor>),
}

impl std::ops::Deref for Held<'_> {
    type Target = Redactor;

    fn deref(&self) -> &Redactor {
        match self {
            Self::Borrowed(r) => r,
            Self::Owned(r) => r,
        }
    }
}

impl<'r> RedactStream<'r> {
    fn with(redactor: Held<'r>) -> Self {
        let hits = vec![0; redactor.replacement.len()];
        RedactStream {
            redactor,
            hits,
            held: Zeroizing::new(Vec::new()),
            held_from: Vec::new(),
            line: Line::START,
        }
    }

    /// For each secret, in the order given, how many times it was replaced so far.
    pub fn hits(&self) -> &[usize] {
        &self.hits
    }

    /// Filters `chunk`, which `output` produced, appending what is safe to show to `out`.
    pub fn push(&mut self, output: Output, chunk: &[u8], out: &mut Emitted) {
        if chunk.is_empty() {
            return;
        }
        if self.held_from.last().is_none_or(|&(_, o)| o != output) {
            self.held_from.push((self.held.len(), output));
        }
        self.held.extend_from_slice(chunk);
        let view = if self.redactor.join_wraps {
            View::new(&self.held, self.line)
        } else {
            View::plain(&self.held)
        };
        let mut from = 0;
        let mut released = 0;
        let keep = loop {
            match self.redactor.next_event(&view.text, from) {
                Event::Match(start, end, secret) => {
                    let start_out = view.output_pos(start);
                    self.emit(released, start_out, out);
                    out.push(
                        self.output_at(start_out),
                        &self.redactor.replacement[secret],
                    );
                    self.hits[secret] += 1;
                    released = view.output_end(end);
                    from = end;
                }
                Event::Hold(at) => break view.output_pos(at),
                Event::Done => break self.held.len(),
            }
        };
        self.emit(released, keep, out);
        view.wipe();
        self.line = self.line.after(&self.held[..keep]);
        // What was released includes any secret just replaced: wiped before the held tail
        // moves down over it.
        zeroize::Zeroize::zeroize(&mut self.held[..keep]);
        self.held.drain(..keep);
        let mut runs = std::mem::take(&mut self.held_from);
        // The run that holds position `keep` starts the new held bytes.
        let first = runs.partition_point(|&(start, _)| start <= keep).max(1) - 1;
        runs.drain(..first);
        for (start, _) in &mut runs {
            *start = start.saturating_sub(keep);
        }
        if self.held.is_empty() {
            runs.clear();
        }
        self.held_from = runs;
    }

    /// Ends the outputs: the held-back bytes (which did not become a secret) are released.
    pub fn finish(&mut self, out: &mut Emitted) {
        self.emit(0, self.held.len(), out);
        self.held.clear();
        self.held_from.clear();
    }

    /// The output the held byte at `at` came from.
    fn output_at(&self, at: usize) -> Output {
        let run = self.held_from.partition_point(|&(start, _)| start <= at);
        self.held_from[run.max(1) - 1].1
    }

    /// Emits held bytes `from..to`, each part to its output.
    fn emit(&self, from: usize, to: usize, out: &mut Emitted) {
        for (i, &(start, output)) in self.held_from.iter().enumerate() {
            let end = self.held_from.get(i + 1).map_or(self.held.len(), |r| r.0);
            let (a, b) = (start.max(from), end.min(to));
            if a < b {
                out.push(output, &self.held[a..b]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
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

    /// What a filter shows when fed `pieces` (output, bytes) in order: all of it, and each
    /// output's own part.
    fn feed(r: &Redactor, pieces: &[(Output, &[u8])]) -> (Vec<u8>, [Vec<u8>; 2]) {
        let mut out = Emitted::default();
        let mut stream = r.stream();
        for (output, bytes) in pieces {
            stream.push(*output, bytes, &mut out);
        }
        stream.finish(&mut out);
        let mut each = [Vec::new(), Vec::new()];
        for (output, part) in out.parts() {
            each[output].extend_from_slice(part);
        }
        (out.as_bytes().to_vec(), each)
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
            "pa%24s%20%22word%22/%C3%A9".to_owned(),
            serde_json::to_string("pa$s \"word\"/é").unwrap(),
            r#"pa$s \"word\"\/\u00e9"#.to_owned(),
            "706124732022776f7264222fc3a9".to_owned(),
            "706124732022776F7264222FC3A9".to_owned(),
        ];
        for input in inputs {
            let out = shown(format!("before {input} after").as_bytes());
            assert!(out.contains("[REDACTED:"), "{input} -> {out}");
            assert!(!out.contains(SECRET) && !out.contains("word"), "{out}");
            assert!(
                out.starts_with("before ") && out.ends_with(" after"),
                "{out}"
            );
        }
    }

    #[test]
    fn wrapped_base64_is_redacted_whatever_the_cut() {
        let long = "k".repeat(20) + SECRET + &"z".repeat(30);
        let r = Redactor::new(&[("LONG", &long)]);
        for width in [64, 76] {
            for prefix in 0..7 {
                let blob = STANDARD.encode(format!("{}{long}", "p".repeat(prefix)));
                let wrapped: Vec<String> = blob
                    .as_bytes()
                    .chunks(width)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect();
                for eol in ["\n", "\r\n"] {
                    let text = format!("-----BEGIN X-----{eol}{}{eol}done", wrapped.join(eol));
                    let out = String::from_utf8_lossy(&r.redact(text.as_bytes())).into_owned();
                    assert!(out.contains("[REDACTED:LONG]"), "{width} {prefix}: {out}");
                    assert!(out.ends_with(&format!("{eol}done")), "{out}");
                }
            }
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
        let mut out = Emitted::default();
        stream.push(0, b"token: sk_live_51Hq", &mut out);
        assert_eq!(
            out.as_bytes(),
            b"token: ",
            "only a possible secret start is held"
        );
        stream.push(0, b"LyjWDarjtT1zdp7dc done\n", &mut out);
        stream.finish(&mut out);
        assert_eq!(
            String::from_utf8_lossy(out.as_bytes()),
            "token: [REDACTED:API_TOKEN] done\n"
        );

        for line in [&b"prompt> "[..], b"hello world\n", b"{\"ok\":true}\n"] {
            let mut out = Emitted::default();
            r.stream().push(0, line, &mut out);
            assert_eq!(out.as_bytes(), line);
        }
    }

    #[test]
    fn a_secret_split_across_outputs_is_caught_and_each_part_keeps_its_output() {
        let r = redactor();
        let (all, each) = feed(
            &r,
            &[
                (0, b"out: sk_live_51H"),
                (1, b"qLyjWDarjtT1zdp7dc"),
                (1, b" err\n"),
                (0, b" more\n"),
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&all),
            "out: [REDACTED:API_TOKEN] err\n more\n"
        );
        assert_eq!(each[0], b"out: [REDACTED:API_TOKEN] more\n");
        assert_eq!(each[1], b" err\n");

        // A held beginning on one output is released, in order, when the other shows it
        // cannot become a secret.
        let mut out = Emitted::default();
        let mut stream = r.stream();
        stream.push(0, b"sk_live", &mut out);
        assert!(out.as_bytes().is_empty());
        stream.push(1, b"!\n", &mut out);
        let parts: Vec<(Output, &[u8])> = out.parts().collect();
        assert_eq!(parts, [(0, &b"sk_live"[..]), (1, &b"!\n"[..])]);
    }

    /// Regression (found by `any_split_gives_the_one_shot_result`): a tail equal to a short
    /// form of a secret was released although a longer form could still complete it.
    #[test]
    fn a_short_form_at_the_end_waits_for_the_longer_one() {
        let r = redactor();
        let text = format!("a{}", STANDARD.encode(SECRET)).into_bytes();
        let (all, _) = feed(&r, &[(0, &text[..39]), (0, &text[39..])]);
        assert_eq!(String::from_utf8_lossy(&all), "a[REDACTED:API_TOKEN]");
    }

    #[test]
    fn memory_is_about_the_patterns_own_size() {
        let secrets: Vec<(String, String)> = (0..2000)
            .map(|i| (format!("S{i}"), format!("token-{i:06}-{}", "q".repeat(40))))
            .collect();
        let pairs: Vec<(&str, &str)> = secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let r = Redactor::new(&pairs);
        let index = r.patterns.len() * size_of::<Pattern>() + r.bitmap.len() * 8;
        assert!(index < 2 * r.bytes.len(), "{index} vs {}", r.bytes.len());
    }

    proptest! {
        #[test]
        fn wrapped_base64_split_anywhere_gives_the_one_shot_result(
            width in prop_oneof![Just(64usize), Just(76)],
            crlf in any::<bool>(),
            prefix in 0..5usize,
            cuts in proptest::collection::vec((any::<usize>(), 0..2usize), 0..8),
        ) {
            let long = "k".repeat(20) + SECRET + &"z".repeat(30);
            let r = Redactor::new(&[("LONG", &long)]);
            let blob = STANDARD.encode(format!("{}{long}", "p".repeat(prefix)));
            let eol = if crlf { "\r\n" } else { "\n" };
            let lines: Vec<&str> = blob
                .as_bytes()
                .chunks(width)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let text = format!("key:{eol}{}{eol}end{eol}", lines.join(eol)).into_bytes();
            let whole = r.redact(&text);
            prop_assert!(String::from_utf8_lossy(&whole).contains("[REDACTED:LONG]"));
            let mut points: Vec<(usize, Output)> =
                cuts.iter().map(|&(c, o)| (c % (text.len() + 1), o)).collect();
            points.sort_unstable();
            let mut pieces = Vec::new();
            let mut last = (0, 0);
            for point in points.into_iter().chain([(text.len(), 0)]) {
                pieces.push((last.1, &text[last.0..point.0]));
                last = point;
            }
            let (all, _) = feed(&r, &pieces);
            prop_assert_eq!(all, whole);
        }

        #[test]
        fn any_split_gives_the_one_shot_result(
            parts in proptest::collection::vec((prop_oneof![
                Just(SECRET.to_owned()),
                Just(SECRET[..10].to_owned()),
                Just(SECRET[10..].to_owned()),
                Just(STANDARD.encode(SECRET)),
                Just("\n".to_owned()),
                "[a-z_0-9 ]{0,12}",
            ], 0..2usize), 0..8),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let text: Vec<u8> = parts.iter().flat_map(|(p, _)| p.bytes()).collect();
            let r = redactor();
            let whole = r.redact(&text);
            // The same bytes, each piece from its output, cut further at random points.
            let mut pieces: Vec<(Output, &[u8])> = Vec::new();
            let mut offset = 0;
            for (part, output) in &parts {
                let mut points: Vec<usize> =
                    cuts.iter().map(|c| c % (part.len() + 1)).collect();
                points.sort_unstable();
                let mut last = 0;
                for point in points.into_iter().chain([part.len()]) {
                    pieces.push((*output, &text[offset + last..offset + point]));
                    last = point;
                }
                offset += part.len();
            }
            let (all, each) = feed(&r, &pieces);
            prop_assert_eq!(&all, &whole);
            prop_assert!(!String::from_utf8_lossy(&all).contains(SECRET));
            if whole == text {
                for (output, mine) in each.iter().enumerate() {
                    let sent: Vec<u8> = pieces
                        .iter()
                        .filter(|(o, _)| *o == output)
                        .flat_map(|(_, b)| b.iter().copied())
                        .collect();
                    prop_assert_eq!(mine, &sent);
                }
            }
        }
    }
}
