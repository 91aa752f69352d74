//! Line-wrapped base64 joined before matching.
//!
//! The `base64` tool and Python's `base64.encodebytes` wrap at 76 columns, PEM at 64, MIME with
//! `\r\n`: a secret's base64 form is then cut by line breaks at a place that depends on where
//! it starts. Instead of a pattern for every cut, the filter matches against a view of the
//! output in which a line break that ends a full-width line of base64 characters is left out.
//! Ordinary lines (any other length, or with a character outside base64) keep their breaks, so
//! a line of ordinary output is released at its end as before.

use std::borrow::Cow;

use zeroize::Zeroizing;

/// The widths at which encoders wrap base64.
const WRAP_WIDTHS: [usize; 2] = [64, 76];
const WIDEST: usize = 76;

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'=')
}

/// What is known of the line that is still open at some point of the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Line {
    /// Bytes since the last line break (counted up to one more than the widest wrap).
    len: usize,
    /// Whether every one of them is a base64 character.
    base64: bool,
}

impl Line {
    /// The state at the start of the output.
    pub(super) const START: Self = Self {
        len: 0,
        base64: true,
    };

    /// The state after `text` has followed this one.
    pub(super) fn after(self, text: &[u8]) -> Self {
        let (start, state) = match memchr::memrchr(b'\n', text) {
            Some(at) => (at + 1, Self::START),
            None => (0, self),
        };
        let rest = &text[start..];
        let len = (state.len + rest.len()).min(WIDEST + 1);
        Self {
            len,
            // Only a line that can still be a wrap needs its characters checked.
            base64: state.base64 && len <= WIDEST && rest.iter().all(|&b| is_base64(b)),
        }
    }

    /// Does this line, continued by `text` (no line break in it), end as a wrap?
    fn wraps_with(self, text: &[u8]) -> bool {
        WRAP_WIDTHS.contains(&(self.len + text.len())) && self.after(text).base64
    }
}

/// The output as matched: the text with wrap line breaks left out, and where they were.
pub(super) struct View<'a> {
    pub(super) text: Cow<'a, [u8]>,
    /// `(at, total)`: bytes of the output were left out just before `text[at]`, `total` of
    /// them up to there; in order.
    removed: Vec<(usize, usize)>,
}

impl<'a> View<'a> {
    /// The view of `output`, which starts with the open line `line`.
    pub(super) fn new(output: &'a [u8], line: Line) -> Self {
        let mut removed: Vec<(usize, usize)> = Vec::new();
        let mut line_start = 0;
        let mut before = line;
        // Leaves out `output[from..to]`, recorded with the count left out so far.
        let cut = |from: usize, to: usize, removed: &mut Vec<(usize, usize)>| {
            let earlier = removed.last().map_or(0, |&(_, total)| total);
            removed.push((from - earlier, earlier + to - from));
        };
        for at in memchr::memchr_iter(b'\n', output) {
            let content_end = if at > line_start && output[at - 1] == b'\r' {
                at - 1
            } else {
                at
            };
            if before.wraps_with(&output[line_start..content_end]) {
                cut(content_end, at + 1, &mut removed);
            }
            line_start = at + 1;
            before = Line::START;
        }
        // A `\r` at the very end may be the first half of a wrap's `\r\n`: left out for now,
        // so that what precedes it is held as a possible secret; the next read decides.
        let end = output.len();
        if end > line_start
            && output[end - 1] == b'\r'
            && before.wraps_with(&output[line_start..end - 1])
        {
            cut(end - 1, end, &mut removed);
        }
        let text = if removed.is_empty() {
            Cow::Borrowed(output)
        } else {
            let mut joined = Vec::with_capacity(output.len());
            let mut from = 0;
            let mut earlier = 0;
            for &(at, total) in &removed {
                joined.extend_from_slice(&output[from..at + earlier]);
                from = at + total;
                earlier = total;
            }
            joined.extend_from_slice(&output[from..]);
            Cow::Owned(joined)
        };
        Self { text, removed }
    }

    /// The output as it is, nothing left out.
    pub(super) fn plain(output: &'a [u8]) -> Self {
        Self {
            text: Cow::Borrowed(output),
            removed: Vec::new(),
        }
    }

    /// The position in the output of `text[at]` (or of the end, for `at == text.len()`), after
    /// any bytes left out just before it.
    pub(super) fn output_pos(&self, at: usize) -> usize {
        let before = self.removed.partition_point(|&(r, _)| r <= at);
        at + before.checked_sub(1).map_or(0, |i| self.removed[i].1)
    }

    /// The output position just after `text[end - 1]` (a match's end): bytes left out right
    /// after a match are not part of it.
    pub(super) fn output_end(&self, end: usize) -> usize {
        if end == 0 {
            0
        } else {
            self.output_pos(end - 1) + 1
        }
    }

    /// Wipes the joined copy, if one was made.
    pub(super) fn wipe(self) {
        if let Cow::Owned(joined) = self.text {
            drop(Zeroizing::new(joined));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_breaks_after_full_width_base64_lines_are_left_out() {
        let wide = "A".repeat(76);
        let pem = "B".repeat(64);
        let text = format!("{wide}\n{pem}\r\nCC\nhello world\n{}\nend", "D".repeat(70));
        let view = View::new(text.as_bytes(), Line::START);
        let expected = format!("{wide}{pem}CC\nhello world\n{}\nend", "D".repeat(70));
        assert_eq!(String::from_utf8_lossy(&view.text), expected);
        assert_eq!(view.output_pos(76), 77);
        assert_eq!(view.output_pos(140), 143);
        assert_eq!(
            view.output_end(140),
            141,
            "breaks after a match are not part of it"
        );
    }

    #[test]
    fn the_open_line_carries_over_from_earlier_output() {
        let line = Line::START.after(&[b'A'; 40]);
        let view = View::new(format!("{}\nxyz", "A".repeat(36)).as_bytes(), line)
            .text
            .to_vec();
        assert_eq!(view, format!("{}xyz", "A".repeat(36)).as_bytes());
        let line = Line::START.after(b"some text ");
        let view = View::new(format!("{}\nxyz", "A".repeat(66)).as_bytes(), line)
            .text
            .to_vec();
        assert!(view.contains(&b'\n'));
    }

    #[test]
    fn a_trailing_carriage_return_of_a_wrap_is_left_out_until_decided() {
        let text = format!("{}\r", "A".repeat(64));
        let view = View::new(text.as_bytes(), Line::START);
        assert_eq!(view.text.len(), 64);
        let text = "short\r";
        assert_eq!(View::new(text.as_bytes(), Line::START).text.len(), 6);
    }
}
