//! A `.env` file as a lossless document: every byte of the input is kept, and an edit
//! rewrites only the value it touches.
//!
//! The grammar is dotenvx's. dotenvx finds assignments with one regular expression applied
//! over the whole text; text that matches nowhere is skipped. The scanner in `scan`
//! reproduces that expression's matches exactly (see its docs for the argument), working on the
//! original text so that byte offsets stay valid: `\r` is treated as the line break dotenvx
//! turns it into.
//!
//! What is kept byte for byte: comments, blank lines, `export`, indentation, quoting, spacing,
//! CRLF, a BOM, and lines that are not assignments. What an edit changes: the bytes from the
//! end of the key to the end of the value become `=` followed by the new value, which is
//! exactly how dotenvx rewrites a line.

mod decode;
mod encode;
mod scan;
#[cfg(test)]
mod tests;

use crate::secret::wipe;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

pub use encode::{encode_in_style, encode_value};
pub(crate) use scan::{Summary, find_byte, unterminated};

/// The quote character around a raw value (taken from its first character, as dotenvx does,
/// even when the quote is never closed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    /// No quote.
    None,
    /// `'…'`: no escapes but `\'`, never expanded.
    Single,
    /// `"…"`: `\n`, `\r`, `\t` escapes.
    Double,
    /// `` `…` ``: no escapes.
    Backtick,
}

impl Quote {
    /// The quote character.
    pub fn as_char(self) -> Option<char> {
        match self {
            Self::None => None,
            Self::Single => Some('\''),
            Self::Double => Some('"'),
            Self::Backtick => Some('`'),
        }
    }

    /// The quote style of a raw value (its first character).
    pub fn of_raw(raw: &str) -> Self {
        Self::of(raw)
    }

    fn of(raw: &str) -> Self {
        match raw.chars().next() {
            Some('\'') => Self::Single,
            Some('"') => Self::Double,
            Some('`') => Self::Backtick,
            _ => Self::None,
        }
    }
}

/// One assignment.
pub struct Entry {
    key: String,
    line: usize,
    exported: bool,
    /// Bytes of the source from the end of the key to the end of the raw value: the region an
    /// edit replaces. `None` for an entry added by [`Document::push`].
    region: Option<Range<usize>>,
    /// Whole lines of the assignment, line break included: what [`Document::remove`] drops.
    lines: Range<usize>,
    /// The text the entry was parsed from, shared with its document, so that a value is
    /// not copied out of it just to be read.
    source: Arc<String>,
    /// The raw value as parsed (trimmed, quotes included): a range of `source`.
    parsed: Range<usize>,
    /// The raw value an edit set. When present, the region is rewritten to `=` + this.
    edited: Option<String>,
}

impl Entry {
    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// 1-based line of the key in the parsed text (`\n`, `\r\n` and a lone `\r` each end a line).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The raw value: trimmed, quotes included; empty when there is none.
    pub fn raw(&self) -> &str {
        match &self.edited {
            Some(raw) => raw,
            None => &self.source[self.parsed.clone()],
        }
    }

    /// The quote style.
    pub fn quote(&self) -> Quote {
        Quote::of(self.raw())
    }

    /// The decoded value: quotes removed and escapes applied as dotenvx does. Variables are not
    /// expanded here (see [`crate::expand`]).
    pub fn value(&self) -> String {
        decode::decode(self.raw())
    }

    /// Does the decoded value start with `prefix`? Cheaper than [`Entry::value`] for the
    /// common question "is this value encrypted?": no copy, no escape processing. (`prefix`
    /// must not start with a quote character or contain a backslash or line break.)
    pub fn value_starts_with(&self, prefix: &str) -> bool {
        let raw = self.raw();
        match self.quote().as_char() {
            // Decoding removes the opening quote; escapes and line breaks cannot touch a prefix
            // free of backslashes and line breaks.
            Some(q) if raw.len() >= 2 && raw.ends_with(q) => raw[1..].starts_with(prefix),
            // An unclosed quote stays in the value, unless a line separator splits it (rare).
            Some(_) => self.value().starts_with(prefix),
            None => raw.starts_with(prefix),
        }
    }

    /// Does a `#` follow an unquoted value with no space between them (`KEY=abc#def`)?
    /// dotenvx ends the value there and reads the rest as a comment, so a secret written that
    /// way would keep its tail in plaintext.
    pub fn comment_follows_directly(&self) -> bool {
        self.edited.is_none()
            && self.quote() == Quote::None
            && self.source.as_bytes().get(self.parsed.end) == Some(&b'#')
    }

    /// Was the line prefixed with `export`?
    pub fn is_exported(&self) -> bool {
        self.exported
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the value: it may be a secret.
        f.debug_struct("Entry")
            .field("key", &self.key)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(raw) = &mut self.edited {
            wipe(raw);
        }
    }
}

/// A parsed `.env` text.
pub struct Document {
    source: Arc<String>,
    entries: Vec<Entry>,
    stray: Vec<usize>,
    /// Text inserted by [`Document::insert_at_start`], and the offset it goes to.
    inserted: Option<(usize, String)>,
    /// Source ranges dropped by [`Document::remove`].
    removed: Vec<Range<usize>>,
    /// The text first parsed, when [`Document::replace_text`] has since re-parsed a new one.
    original: Option<Arc<String>>,
}

impl Document {
    /// Parses `text`. Never fails: text that is not an assignment is kept as it is (and its
    /// lines are listed by [`Document::stray_lines`]).
    pub fn parse(text: &str) -> Self {
        Self::parse_owned(text.to_owned())
    }

    /// As [`Document::parse`], taking the text without copying it.
    pub fn parse_owned(text: String) -> Self {
        Self::scan_shared(Arc::new(text), &|_| true).0
    }

    /// As [`Document::parse_owned`], but only the assignments whose key passes `keep` become
    /// entries (every assignment is still found, so stray lines are the same). For reading a
    /// few keys of a large file: no entry is built for the others. The summary reports what
    /// the checks of a whole file need from the assignments left out.
    pub(crate) fn parse_filtered(text: String, keep: &dyn Fn(&str) -> bool) -> (Self, Summary) {
        Self::scan_shared(Arc::new(text), keep)
    }

    /// The text first parsed, scanned again with another filter (the text is shared, not
    /// copied).
    pub(crate) fn rescan(&self, keep: &dyn Fn(&str) -> bool) -> (Self, Summary) {
        let source = self.original.as_ref().unwrap_or(&self.source);
        Self::scan_shared(Arc::clone(source), keep)
    }

    fn scan_shared(source: Arc<String>, keep: &dyn Fn(&str) -> bool) -> (Self, Summary) {
        let scanned = scan::scan(&source, keep);
        let doc = Self {
            source,
            entries: scanned.entries,
            stray: scanned.stray,
            inserted: None,
            removed: Vec::new(),
            original: None,
        };
        (doc, scanned.summary)
    }

    /// The text as it was parsed: edits are kept apart and applied only by `to_string`.
    pub fn source(&self) -> &str {
        self.original.as_deref().unwrap_or(&self.source)
    }

    /// Replaces the whole text with `text` (parsed anew), for edits that are not about one
    /// value, such as the seal line. [`Document::source`] still gives the text first parsed,
    /// and the document counts as modified.
    pub fn replace_text(&mut self, text: String) {
        let original = self
            .original
            .take()
            .unwrap_or_else(|| Arc::clone(&self.source));
        *self = Self::parse_owned(text);
        self.original = Some(original);
    }

    /// The assignments, in file order, duplicates included.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The index of the last entry named `key`: the one whose value wins.
    pub fn find_last(&self, key: &str) -> Option<usize> {
        self.entries.iter().rposition(|e| e.key == key)
    }

    /// 1-based numbers of non-blank lines that belong to no assignment and are not comments.
    /// dotenvx ignores such lines silently; envx reports them.
    pub fn stray_lines(&self) -> &[usize] {
        &self.stray
    }

    /// Has anything been changed since parsing?
    pub fn is_modified(&self) -> bool {
        self.original.is_some()
            || self.inserted.is_some()
            || !self.removed.is_empty()
            || self.entries.iter().any(|e| e.edited.is_some())
    }

    /// `"\r\n"` when the text uses CRLF line ends, else `"\n"`.
    pub fn line_ending(&self) -> &'static str {
        if self.source.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// Does the current text end with a line break?
    pub fn ends_with_newline(&self) -> bool {
        let mut text = self.render();
        let ends = text.ends_with(['\n', '\r']);
        wipe(&mut text);
        ends
    }

    /// Is the current text empty or whitespace only?
    pub fn is_blank(&self) -> bool {
        let mut text = self.render();
        let blank = text.chars().all(scan::is_js_space);
        wipe(&mut text);
        blank
    }

    /// Rewrites entry `index` to `KEY=<raw>`: the bytes from the end of the key to the end of
    /// the raw value become `=` + `raw`; indentation, `export` and whatever follows the value
    /// (spaces, a comment) stay. Setting the raw value a line already has, with `=` as its
    /// separator, changes nothing.
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn set_raw(&mut self, index: usize, raw: &str) {
        let entry = &mut self.entries[index];
        if entry.edited.is_none()
            && let Some(region) = &entry.region
            && self.source[region.clone()].strip_prefix('=') == Some(raw)
        {
            return;
        }
        if let Some(old) = &mut entry.edited {
            wipe(old);
        }
        entry.edited = Some(raw.to_owned());
    }

    /// Appends `KEY=<raw>` and a line break, after a line break of its own when the text does
    /// not end with one. Returns the new entry's index.
    pub fn push(&mut self, key: &str, raw: &str) -> usize {
        let mut text = self.render();
        let line = text.split_inclusive('\n').count() + 1;
        wipe(&mut text);
        self.entries.push(Entry {
            key: key.to_owned(),
            line,
            exported: false,
            region: None,
            lines: 0..0,
            source: Arc::clone(&self.source),
            parsed: 0..0,
            edited: Some(raw.to_owned()),
        });
        self.entries.len() - 1
    }

    /// Inserts `text` at the very start, or after the first line when it is a `#!` line.
    pub fn insert_at_start(&mut self, text: &str) {
        let offset = if self.source.starts_with("#!") {
            self.source.find('\n').map_or(self.source.len(), |i| i + 1)
        } else {
            0
        };
        match &mut self.inserted {
            Some((_, existing)) => existing.insert_str(0, text),
            None => self.inserted = Some((offset, text.to_owned())),
        }
    }

    /// Removes entry `index` together with its lines (through the final line break).
    ///
    /// # Panics
    /// When `index` is out of range.
    pub fn remove(&mut self, index: usize) {
        let removed = self.entries.remove(index);
        if removed.region.is_some() {
            self.removed.push(removed.lines.clone());
        }
    }
}

/// One change to the source text, in source order.
enum Piece<'a> {
    Insert(&'a str),
    Edit(&'a Entry),
    Remove,
}

impl Document {
    /// The current text.
    fn render(&self) -> String {
        let mut pieces: Vec<(Range<usize>, Piece<'_>)> = Vec::new();
        if let Some((offset, text)) = &self.inserted {
            pieces.push((*offset..*offset, Piece::Insert(text)));
        }
        for entry in &self.entries {
            if let (Some(region), true) = (&entry.region, entry.edited.is_some()) {
                pieces.push((region.clone(), Piece::Edit(entry)));
            }
        }
        for range in &self.removed {
            pieces.push((range.clone(), Piece::Remove));
        }
        // An insert sorts before a removal or an edit at the same offset.
        pieces.sort_by_key(|(range, piece)| (range.start, !matches!(piece, Piece::Insert(_))));
        let mut out = String::with_capacity(self.source.len() + 64);
        let mut pos = 0;
        for (range, piece) in pieces {
            out.push_str(&self.source[pos..range.start]);
            match piece {
                Piece::Insert(text) => out.push_str(text),
                Piece::Edit(entry) => {
                    out.push('=');
                    out.push_str(entry.raw());
                }
                Piece::Remove => {}
            }
            pos = range.end;
        }
        out.push_str(&self.source[pos..]);
        let ending = self.line_ending();
        for entry in self.entries.iter().filter(|e| e.region.is_none()) {
            if !out.is_empty() && !out.ends_with(['\n', '\r']) {
                out.push_str(ending);
            }
            out.push_str(&entry.key);
            out.push('=');
            out.push_str(entry.raw());
            out.push_str(ending);
        }
        out
    }
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.render();
        let result = f.write_str(&text);
        wipe(&mut text);
        result
    }
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("entries", &self.entries)
            .field("stray_lines", &self.stray)
            .finish_non_exhaustive()
    }
}

impl Drop for Document {
    fn drop(&mut self) {
        // Entries share the text; once they are gone the document holds the only reference.
        self.entries.clear();
        if let Some(source) = Arc::get_mut(&mut self.source) {
            wipe(source);
        }
        if let Some(source) = self.original.as_mut().and_then(Arc::get_mut) {
            wipe(source);
        }
        if let Some((_, text)) = &mut self.inserted {
            wipe(text);
        }
    }
}
