//! Finding assignments exactly where dotenvx's regular expression finds them.
//!
//! dotenvx applies this expression (JavaScript, flags `m` and `g`) to the text after turning
//! `\r\n` and lone `\r` into `\n`:
//!
//! ```text
//! (?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)
//!   (\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?
//!   \s*(?:#(.*))?(?:$|$)
//! ```
//!
//! Each search starts where the previous match ended and tries every line start after it.
//! Working through the backtracking once, by hand, gives the procedure below:
//!
//! - the leading whitespace, `export` + whitespace, the key and the whitespace before `=` can
//!   only succeed greedily (giving back a character leaves whitespace where a key character or
//!   `=` is needed);
//! - after `=` the lazy whitespace stays empty, because one of the value alternatives always
//!   succeeds there (see [`tail`]); after `:` exactly one whitespace character is taken;
//! - a quoted alternative may close at any quote that is preceded by a backslash, or at the
//!   first one that is not (which ends the search); they are tried longest first, and the first
//!   whose rest of line passes [`tail`] wins;
//! - otherwise the unquoted alternative runs to the first `#`, `\r`, `\n` or the end, and always
//!   passes [`tail`]; otherwise (a `#` or line break right away) the value is absent.
//!
//! JavaScript's `\s` includes Unicode spaces, U+2028/U+2029 and U+FEFF (so a BOM is
//! whitespace); `\w` is ASCII only; `.` and `$` stop at `\n`, `\r`, U+2028 and U+2029.

use std::ops::Range;
use std::sync::Arc;

use super::Entry;

/// The result of a scan.
pub(super) struct Scanned {
    pub entries: Vec<Entry>,
    pub stray: Vec<usize>,
    /// Over every assignment, kept or not: the first whose raw value opens a quote it does
    /// not close (line, key), and whether any value is encrypted.
    pub summary: Summary,
}

/// What a filtered scan still reports about the assignments it did not keep.
#[derive(Default)]
pub(crate) struct Summary {
    /// The first assignment whose raw value opens a quote that does not close at its end.
    pub unterminated: Option<(usize, String)>,
    /// Does any decoded value start with `encrypted:`?
    pub encrypted: bool,
}

/// Does a raw value open a quote that does not close at its end?
pub(crate) fn unterminated(raw: &str) -> bool {
    match raw.as_bytes().first() {
        Some(&q @ (b'\'' | b'"' | b'`')) => raw.len() < 2 || raw.as_bytes().last() != Some(&q),
        _ => false,
    }
}

/// JavaScript's `\s`.
pub(super) fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// A line terminator for `^`, `$` and `.`.
fn is_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
}

/// Trims JavaScript whitespace from both ends.
pub(super) fn js_trim(text: &str) -> &str {
    text.trim_matches(is_js_space)
}

struct Scanner<'t> {
    text: &'t str,
}

/// A successful match.
struct Found {
    key: Range<usize>,
    exported: bool,
    /// From the end of the key to the end of the trimmed raw value.
    region: Range<usize>,
    raw: Range<usize>,
    end: usize,
}

impl<'t> Scanner<'t> {
    fn char_at(&self, pos: usize) -> Option<char> {
        self.text[pos..].chars().next()
    }

    /// The end of the run of whitespace starting at `pos`.
    fn skip_space(&self, pos: usize) -> usize {
        let rest = &self.text[pos..];
        // Most runs are empty or ASCII: look at bytes first.
        match rest
            .bytes()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        {
            Some(i) if rest.as_bytes()[i] < 0x80 => pos + i,
            Some(i) => {
                pos + i
                    + rest[i..]
                        .find(|c: char| !is_js_space(c))
                        .unwrap_or(rest.len() - i)
            }
            None => self.text.len(),
        }
    }

    /// Is `pos` at the start of a line?
    fn is_line_start(&self, pos: usize) -> bool {
        pos == 0
            || self.text[..pos]
                .chars()
                .next_back()
                .is_some_and(is_terminator)
    }

    /// The first line start at or after `pos`, if any.
    fn next_line_start(&self, pos: usize) -> Option<usize> {
        if self.is_line_start(pos) {
            return Some(pos);
        }
        let rest = &self.text[pos..];
        rest.char_indices()
            .find(|&(_, c)| is_terminator(c))
            .map(|(i, c)| pos + i + c.len_utf8())
    }

    /// The match starting at line start `start`, or `Err(q)` with the first non-space
    /// position: every line start up to `q` fails the same way.
    fn match_at(&self, start: usize) -> Result<Found, usize> {
        let q = self.skip_space(start);
        if let Some(after) = self.text[q..].strip_prefix("export")
            && after.starts_with(is_js_space)
            && let Some(found) = self.assignment(self.skip_space(q + "export".len()), true)
        {
            return Ok(found);
        }
        self.assignment(q, false).ok_or(q)
    }

    /// A key at `key_start`, its separator and its value.
    fn assignment(&self, key_start: usize, exported: bool) -> Option<Found> {
        let bytes = self.text.as_bytes();
        let key_len = bytes[key_start..]
            .iter()
            .take_while(|&&b| is_key_byte(b))
            .count();
        if key_len == 0 {
            return None;
        }
        let key_end = key_start + key_len;
        let after_space = self.skip_space(key_end);
        let value_start = if bytes.get(after_space) == Some(&b'=') {
            after_space + 1
        } else if bytes.get(key_end) == Some(&b':') {
            // Exactly one whitespace character; `\r\n` is one (dotenvx reads it as `\n`).
            let c = self.char_at(key_end + 1).filter(|&c| is_js_space(c))?;
            let crlf = self.text[key_end + 1..].starts_with("\r\n");
            key_end + 1 + if crlf { 2 } else { c.len_utf8() }
        } else {
            return None;
        };
        let (raw, end) = self.value(value_start);
        Some(Found {
            key: key_start..key_end,
            exported,
            region: key_end..raw.end.max(value_start),
            raw,
            end,
        })
    }

    /// The raw value (trimmed) starting at `start`, and the end of the match.
    fn value(&self, start: usize) -> (Range<usize>, usize) {
        let open = self.skip_space(start);
        if let Some(quote) = self.char_at(open).filter(|c| matches!(c, '\'' | '"' | '`'))
            && let Some(found) = self.quoted(open, quote)
        {
            return found;
        }
        let rest = &self.text[start..];
        let len = value_stop(rest.as_bytes()).unwrap_or(rest.len());
        if len > 0 {
            let group = &self.text[start..start + len];
            let trimmed = js_trim(group);
            let raw_start = start + (group.len() - group.trim_start_matches(is_js_space).len());
            let end = self.tail(start + len).unwrap_or(start + len);
            return (raw_start..raw_start + trimmed.len(), end);
        }
        (start..start, self.tail(start).unwrap_or(start))
    }

    /// A quoted value opening at `open`: the longest closing quote whose rest of line passes.
    fn quoted(&self, open: usize, quote: char) -> Option<(Range<usize>, usize)> {
        let bytes = self.text.as_bytes();
        let q = quote as u8;
        let mut candidates = Vec::new();
        let mut i = open + 1;
        while let Some(offset) = find_byte(q, &bytes[i..]) {
            let at = i + offset;
            candidates.push(at);
            let escaped = at > open + 1 && bytes[at - 1] == b'\\';
            if !escaped {
                break;
            }
            i = at + 1;
        }
        candidates
            .into_iter()
            .rev()
            .find_map(|close| self.tail(close + 1).map(|end| (open..close + 1, end)))
    }

    /// `\s*(?:#(.*))?(?:$|$)` at `pos`: where the match ends, or `None` when it fails.
    fn tail(&self, pos: usize) -> Option<usize> {
        let run_end = self.skip_space(pos);
        if self.text[run_end..].starts_with('#') {
            let rest = &self.text[run_end..];
            let len = rest.find(is_terminator).unwrap_or(rest.len());
            return Some(run_end + len);
        }
        if run_end == self.text.len() {
            return Some(run_end);
        }
        self.text[pos..run_end]
            .char_indices()
            .rfind(|&(_, c)| is_terminator(c))
            .map(|(i, _)| pos + i)
    }
}

/// Scans `text` for assignments and for lines that are neither assignments nor comments.
/// Every assignment is found, but only those whose key passes `keep` become entries.
pub(super) fn scan(source: &Arc<String>, keep: &dyn Fn(&str) -> bool) -> Scanned {
    let text = source.as_str();
    let scanner = Scanner { text };
    let mut entries = Vec::new();
    let mut covered: Vec<Range<usize>> = Vec::new();
    let mut lines = LineCounter::new(text);
    let mut summary = Summary::default();
    let mut pos = 0;
    while pos <= text.len() {
        let Some(start) = scanner.next_line_start(pos) else {
            break;
        };
        if start >= text.len() {
            break;
        }
        match scanner.match_at(start) {
            Ok(found) => {
                let key = &text[found.key.clone()];
                let raw = &text[found.raw.clone()];
                if summary.unterminated.is_none() && unterminated(raw) {
                    let line = lines.line_of(found.key.start);
                    summary.unterminated = Some((line, key.to_owned()));
                }
                // A quote that closes is dropped by decoding; an unclosed one stays (and is
                // refused above), so the prefix follows the quote or starts the value.
                let unquoted = match raw.as_bytes().first() {
                    Some(b'\'' | b'"' | b'`') => &raw[1..],
                    _ => raw,
                };
                summary.encrypted |= unquoted.starts_with(crate::crypto::ENCRYPTED_PREFIX);
                covered.push(start..found.end);
                pos = found.end.max(start + 1);
                if keep(key) {
                    entries.push(Entry {
                        key: key.to_owned(),
                        line: lines.line_of(found.key.start),
                        exported: found.exported,
                        lines: whole_lines(
                            text,
                            found.key.start,
                            found.raw.end.max(found.region.end),
                        ),
                        region: Some(found.region),
                        source: Arc::clone(source),
                        parsed: found.raw,
                        edited: None,
                    });
                }
            }
            Err(q) => pos = q.max(start + 1),
        }
        // `pos` may now sit inside a multi-byte character; move to a boundary.
        while pos < text.len() && !text.is_char_boundary(pos) {
            pos += 1;
        }
    }
    let stray = stray_lines(text, &covered);
    Scanned {
        entries,
        stray,
        summary,
    }
}

/// From the start of the line holding `from` to the end of the line holding `to`, with its
/// line break.
fn whole_lines(text: &str, from: usize, to: usize) -> Range<usize> {
    let start = text[..from].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    let rest = &text[to..];
    let end = match rest.find(['\n', '\r']) {
        Some(i) if rest[i..].starts_with("\r\n") => to + i + 2,
        Some(i) => to + i + 1,
        None => text.len(),
    };
    start..end
}

/// 1-based line numbers of non-blank lines outside every match that are not comments.
fn stray_lines(text: &str, covered: &[Range<usize>]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut counter = LineCounter::new(text);
    let mut gap_start = 0;
    let gaps = covered
        .iter()
        .map(|r| (r.start, r.end))
        .chain(std::iter::once((text.len(), text.len())));
    for (start, end) in gaps {
        let gap = &text[gap_start..start.max(gap_start)];
        let mut offset = gap_start;
        for line in gap.split_inclusive(['\n', '\r']) {
            let content = js_trim(line);
            if !content.is_empty() && !content.starts_with('#') {
                out.push(
                    counter.line_of(
                        offset + (line.len() - line.trim_start_matches(is_js_space).len()),
                    ),
                );
            }
            offset += line.len();
        }
        gap_start = end.max(gap_start);
    }
    out
}

/// How many `\n` bytes `bytes` holds. Counting into one byte per lane over blocks of at most
/// 255 bytes (so no lane can overflow) lets the compiler compare and add 16 or 32 bytes per
/// step; a plain filtered count widens every byte to a 64-bit counter and goes 4 at a time.
fn count_newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|block| {
            let hits = block
                .iter()
                .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n')));
            usize::from(hits)
        })
        .sum()
}

/// Line numbers for increasing offsets, counted once.
struct LineCounter<'t> {
    text: &'t str,
    pos: usize,
    line: usize,
}

impl<'t> LineCounter<'t> {
    fn new(text: &'t str) -> Self {
        Self {
            text,
            pos: 0,
            line: 1,
        }
    }

    /// The line of `offset` (offsets must not decrease between calls).
    fn line_of(&mut self, offset: usize) -> usize {
        if offset > self.pos {
            let span = &self.text.as_bytes()[self.pos..offset];
            // `\n` ends a line; so does a `\r` that is not the first half of `\r\n`.
            self.line += count_newlines(span);
            if find_byte(b'\r', span).is_some() {
                let bytes = self.text.as_bytes();
                self.line += (self.pos..offset)
                    .filter(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
                    .count();
            }
            self.pos = offset;
        }
        self.line
    }
}

/// The first `#`, `\r` or `\n` in `bytes`: where an unquoted value can end.
///
/// On x86_64 this calls the SSE2 searcher, which every x86_64 processor has. The generic
/// `memchr3` first asks the processor whether it has AVX2, and in a virtual machine that
/// question (`cpuid`) costs tens of microseconds: more than envx spends scanning a
/// 1,000-value file.
fn value_stop(bytes: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(finder) = memchr::arch::x86_64::sse2::memchr::Three::new(b'#', b'\r', b'\n') {
        return finder.find(bytes);
    }
    memchr::memchr3(b'#', b'\r', b'\n', bytes)
}

/// The first `byte` in `bytes`, with the SSE2 searcher on x86_64 (see [`value_stop`]).
pub(crate) fn find_byte(byte: u8, bytes: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if let Some(finder) = memchr::arch::x86_64::sse2::memchr::One::new(byte) {
        return finder.find(bytes);
    }
    memchr::memchr(byte, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_are_counted_in_blocks_of_any_length() {
        for len in [0, 1, 254, 255, 256, 511, 2000] {
            let mixed: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'\n' } else { b'a' })
                .collect();
            let expected = mixed.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(count_newlines(&mixed), expected);
            assert_eq!(count_newlines(&vec![b'\n'; len]), len);
        }
    }

    #[test]
    fn line_numbers_count_every_kind_of_line_end() {
        let text = "A=1\nB=2\r\nC=3\rD=4\n\n".repeat(40);
        let mut counter = LineCounter::new(&text);
        let d = text.rfind("D=4").unwrap_or_default();
        assert_eq!(counter.line_of(d), 39 * 5 + 4);
    }
}
