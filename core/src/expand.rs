//! Variable expansion and command substitution in values, exactly as dotenvx 2.38.2 does them.
//!
//! Every value, plaintext or decrypted, goes through the same steps (see [`crate::load`] for
//! when each step applies):
//!
//! 1. **Command substitution.** Each `$(…)` found by [`command_substitutions`] is replaced by
//!    the command's output, trailing line breaks removed. envx runs commands only when the
//!    user opts in: anyone who can open a pull request can commit a ciphertext whose
//!    plaintext holds `$(…)`.
//! 2. **Expansion** ([`expand`]), unless step 1 changed the value: the leftmost reference
//!    `${…}` or `$NAME` that is not preceded by a backslash is replaced, and the scan starts
//!    again from the beginning, so inserted text is itself expanded. The scan stops when no
//!    reference is left, when the text equals the referenced variable's value, or when that
//!    variable was single-quoted in this file and its value holds a reference. A replacement
//!    goes where the reference's text *first* occurs, and `$$`, `$&`, `` $` `` and `$'` in
//!    the inserted text are interpreted, as JavaScript's `String.prototype.replace` does.
//!    Finally every `\$` becomes `$`.
//!
//! Following dotenvx to the letter is what lets a file mean the same thing in both tools, and
//! what makes encrypting a value change nothing a program receives. The one thing dotenvx does
//! that envx cannot is loop forever (a referenced value holding `$&` re-inserts its own
//! reference): every expansion runs against a [`Budget`], and running out is an error naming
//! the key, never a hang or an exhausted memory.

use std::ops::Range;

use zeroize::Zeroizing;

/// Limits shared by all expansions of one load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The longest text one expansion may produce, in bytes.
    pub max_len: usize,
    /// Bytes the scans may still read in total (each rescan reads the text again).
    pub work_left: usize,
}

impl Budget {
    /// The floor of [`Budget::for_input`]: 16 MiB of expanded text.
    pub const MIN_LEN: usize = 16 << 20;

    /// A budget for files of `input_len` bytes in all: a value may grow to 8 times the input
    /// (at least [`Budget::MIN_LEN`]), and the scans may read 8 times that.
    pub fn for_input(input_len: usize) -> Self {
        let max_len = input_len.saturating_mul(8).max(Self::MIN_LEN);
        Self {
            max_len,
            work_left: max_len.saturating_mul(8),
        }
    }

    /// Takes `bytes` of work; false when the budget is spent.
    fn spend(&mut self, bytes: usize) -> bool {
        match self.work_left.checked_sub(bytes) {
            Some(left) => {
                self.work_left = left;
                true
            }
            None => false,
        }
    }
}

/// Why an expansion stopped.
#[derive(Debug)]
pub enum ExpandError<E> {
    /// The value grew past [`Budget::max_len`], or the scans spent the budget.
    TooLarge,
    /// Looking a name up failed.
    Lookup(E),
}

/// Where names are looked up during an expansion.
pub trait Scope {
    /// The error a lookup can fail with.
    type Error;

    /// The value of `name`, or `None` when it is not defined.
    ///
    /// # Errors
    /// Whatever computing the value fails with (a lazy loader decrypts it on demand).
    fn value(&mut self, name: &str) -> Result<Option<Zeroizing<String>>, Self::Error>;

    /// Was `name` assigned a single-quoted value earlier in this file whose text holds a
    /// reference? (dotenvx stops rescanning after inserting such a variable.)
    ///
    /// # Errors
    /// Whatever reading that value fails with.
    fn quoted_literal_has_reference(&mut self, name: &str) -> Result<bool, Self::Error>;
}

/// A fixed set of variables, for tests and simple callers. Nothing is single-quoted.
impl<S: std::hash::BuildHasher> Scope for std::collections::HashMap<String, String, S> {
    type Error = std::convert::Infallible;

    fn value(&mut self, name: &str) -> Result<Option<Zeroizing<String>>, Self::Error> {
        Ok(self.get(name).map(|v| Zeroizing::new(v.clone())))
    }

    fn quoted_literal_has_reference(&mut self, _name: &str) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

/// One reference found in a text.
struct Found {
    /// Where the whole reference (`$` to the end) is.
    span: Range<usize>,
    /// What is inside the braces, or the name after `$`.
    inner: Range<usize>,
}

/// The leftmost `${X}` (X one or more bytes other than braces) or `$NAME` (a letter or `_`,
/// then letters, digits and `_`) whose `$` does not follow a backslash.
fn leftmost_reference(text: &str) -> Option<Found> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(offset) = memchr::memchr(b'$', &bytes[from..]) {
        let at = from + offset;
        from = at + 1;
        if at > 0 && bytes[at - 1] == b'\\' {
            continue;
        }
        match bytes.get(at + 1) {
            Some(b'{') => {
                let start = at + 2;
                let close = bytes[start..]
                    .iter()
                    .position(|&b| b == b'{' || b == b'}')
                    .map(|p| start + p);
                if let Some(close) = close
                    && bytes[close] == b'}'
                    && close > start
                {
                    return Some(Found {
                        span: at..close + 1,
                        inner: start..close,
                    });
                }
            }
            Some(&b) if b.is_ascii_alphabetic() || b == b'_' => {
                let len = bytes[at + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                return Some(Found {
                    span: at..at + 1 + len,
                    inner: at + 1..at + 1 + len,
                });
            }
            _ => {}
        }
    }
    None
}

/// Does `text` hold a reference, by the test dotenvx applies to single-quoted values
/// (`${` … `}` or `$NAME`, backslashes not considered)?
pub fn has_reference(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(at, &b)| {
        b == b'$'
            && match bytes.get(at + 1) {
                Some(b'{') => bytes
                    .get(at + 2..)
                    .and_then(|rest| rest.iter().position(|&b| b == b'}'))
                    .is_some_and(|p| p > 0),
                Some(&c) => c.is_ascii_alphabetic() || c == b'_',
                None => false,
            }
    })
}

/// The operators of `${NAME<op>word}`, in the order dotenvx tries them at each position.
const OPERATORS: [&str; 4] = [":+", "+", ":-", "-"];

/// The leftmost operator in the text between the braces.
fn operator(inner: &str) -> Option<&'static str> {
    // Bytes, not chars: the text may hold any character, and the operators are ASCII.
    let bytes = inner.as_bytes();
    (0..bytes.len()).find_map(|i| {
        OPERATORS
            .into_iter()
            .find(|op| bytes[i..].starts_with(op.as_bytes()))
    })
}

/// The name a reference looks up and the word of its operator. Without an operator dotenvx
/// splits the text at the string `null` (it splits by a missing separator, which JavaScript
/// turns into that string), so `$annulled` looks up `an`.
fn name_and_word<'t>(inner: &'t str, op: Option<&str>) -> (&'t str, &'t str) {
    let separator = op.unwrap_or("null");
    match inner.find(separator) {
        Some(at) => (&inner[..at], &inner[at + separator.len()..]),
        None => (inner, ""),
    }
}

/// What replaces the reference, before `$` patterns are interpreted.
fn replacement<'v>(op: Option<&str>, value: Option<&'v str>, word: &'v str) -> &'v str {
    let defined = value.is_some();
    let non_empty = value.filter(|v| !v.is_empty());
    match op {
        Some(":-") => non_empty.unwrap_or(word),
        Some("-") => value.unwrap_or(word),
        Some(":+") => non_empty.map_or("", |_| word),
        Some("+") => match defined {
            true => word,
            false => "",
        },
        _ => non_empty.unwrap_or(""),
    }
}

/// `text` with the first occurrence of `pattern` replaced by `replacement`, whose `$$`, `$&`,
/// `` $` `` and `$'` are interpreted as JavaScript's `String.prototype.replace` interprets
/// them for a string pattern. `None` when `pattern` does not occur. The result is built only
/// after its length has been checked against `max_len` (`Err(())` beyond it).
pub(crate) fn replace_first(
    text: &str,
    pattern: &str,
    replacement: &str,
    max_len: usize,
) -> Result<Option<Zeroizing<String>>, ()> {
    let Some(at) = memchr::memmem::find(text.as_bytes(), pattern.as_bytes()) else {
        return Ok(None);
    };
    let before = &text[..at];
    let after = &text[at + pattern.len()..];
    let pieces = substitution_pieces(replacement, pattern, before, after);
    let len = before.len() + after.len() + pieces.iter().map(|p| p.len()).sum::<usize>();
    if len > max_len {
        return Err(());
    }
    let mut out = Zeroizing::new(String::with_capacity(len));
    out.push_str(before);
    for piece in pieces {
        out.push_str(piece);
    }
    out.push_str(after);
    Ok(Some(out))
}

/// The replacement text as pieces, its `$` patterns resolved.
fn substitution_pieces<'a>(
    replacement: &'a str,
    matched: &'a str,
    before: &'a str,
    after: &'a str,
) -> Vec<&'a str> {
    let bytes = replacement.as_bytes();
    let mut pieces = Vec::new();
    let mut literal_from = 0;
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let piece = match bytes[i + 1] {
            b'$' => "$",
            b'&' => matched,
            b'`' => before,
            b'\'' => after,
            // `$1`, `$<name>`, ...: a string pattern has no groups, so they stay as written.
            _ => {
                i += 1;
                continue;
            }
        };
        pieces.push(&replacement[literal_from..i]);
        pieces.push(piece);
        i += 2;
        literal_from = i;
    }
    pieces.push(&replacement[literal_from..]);
    pieces
}

/// Expands the references in `value` (step 2 of the module docs), then turns every `\$` into
/// `$`.
///
/// # Errors
/// [`ExpandError::TooLarge`] when the text outgrows the budget or the rescans spend it;
/// [`ExpandError::Lookup`] when the scope fails.
pub fn expand<S: Scope + ?Sized>(
    value: &str,
    scope: &mut S,
    budget: &mut Budget,
) -> Result<Zeroizing<String>, ExpandError<S::Error>> {
    let mut text = Zeroizing::new(value.to_owned());
    loop {
        if !budget.spend(text.len()) {
            return Err(ExpandError::TooLarge);
        }
        let Some(found) = leftmost_reference(&text) else {
            break;
        };
        let inner = &text[found.inner.clone()];
        let op = operator(inner);
        let (name, word) = name_and_word(inner, op);
        let name = Zeroizing::new(name.to_owned());
        let word = Zeroizing::new(word.to_owned());
        let value = scope.value(&name).map_err(ExpandError::Lookup)?;
        let inserted = replacement(op, value.as_deref().map(String::as_str), &word);
        let pattern = Zeroizing::new(text[found.span.clone()].to_owned());
        let next = match replace_first(&text, &pattern, inserted, budget.max_len) {
            Ok(Some(next)) => next,
            // The pattern was just found in the text, so it occurs.
            Ok(None) => unreachable!("a reference occurs where it was found"),
            Err(()) => return Err(ExpandError::TooLarge),
        };
        let unchanged = *next == *text;
        text = next;
        if value.as_deref().is_some_and(|v| **v == **text)
            || scope
                .quoted_literal_has_reference(&name)
                .map_err(ExpandError::Lookup)?
        {
            break;
        }
        if unchanged {
            // Nothing changed and the scan goes on: every later round would be this one
            // again (dotenvx spins forever).
            return Err(ExpandError::TooLarge);
        }
    }
    Ok(unescape_dollars(&text))
}

/// Every `\$` becomes `$`.
fn unescape_dollars(text: &str) -> Zeroizing<String> {
    Zeroizing::new(text.replace("\\$", "$"))
}

/// The command substitutions `$(…)` of `value` that dotenvx runs, as byte ranges, in order.
///
/// A substitution starts at any `$(` (a backslash before it does not matter) and ends at its
/// matching `)`: single quotes hide everything up to the next `'`; in double quotes and
/// backticks a backslash hides the next byte and `$(` opens a nested substitution; outside
/// quotes a backslash hides the next byte and parentheses nest. A `$(` that never closes is
/// not a substitution, and the search goes on two bytes later.
pub fn command_substitutions(value: &str) -> Vec<Range<usize>> {
    let bytes = value.as_bytes();
    let mut found = Vec::new();
    let mut start = memchr::memmem::find(bytes, b"$(");
    while let Some(at) = start {
        match substitution_end(bytes, at + 2) {
            Some(end) => {
                found.push(at..end);
                start = memchr::memmem::find(&bytes[end..], b"$(").map(|p| end + p);
            }
            None => start = memchr::memmem::find(&bytes[at + 2..], b"$(").map(|p| at + 2 + p),
        }
    }
    found
}

/// Where the substitution whose body starts at `from` ends (one past its `)`).
fn substitution_end(bytes: &[u8], from: usize) -> Option<usize> {
    // One frame per open parenthesis: the quote it is inside, if any.
    let mut frames: Vec<Option<u8>> = vec![None];
    let mut i = from;
    while i < bytes.len() {
        let c = bytes[i];
        let top = frames.last_mut()?;
        match *top {
            Some(b'\'') => {
                if c == b'\'' {
                    *top = None;
                }
                i += 1;
            }
            Some(quote) => {
                if c == b'\\' {
                    i += 2;
                } else if c == quote {
                    *top = None;
                    i += 1;
                } else if c == b'$' && bytes.get(i + 1) == Some(&b'(') {
                    frames.push(None);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            None => match c {
                b'\\' => i += 2,
                b'\'' | b'"' | b'`' => {
                    *top = Some(c);
                    i += 1;
                }
                b'(' => {
                    frames.push(None);
                    i += 1;
                }
                b')' => {
                    frames.pop();
                    i += 1;
                    if frames.is_empty() {
                        return Some(i);
                    }
                }
                _ => i += 1,
            },
        }
    }
    None
}

/// Does `value` hold a command substitution `$(…)` that dotenvx would run?
pub fn has_command_substitution(value: &str) -> bool {
    !command_substitutions(value).is_empty()
}

/// Replaces each command substitution with what `run(command)` returns, trailing line breaks
/// removed, as dotenvx does: each substitution's text is replaced where it first occurs in
/// the text so far, with `$` patterns in the output interpreted.
///
/// # Errors
/// The first error `run` returns, or `Err(None)` when the result outgrows `max_len`.
pub fn substitute_commands<E>(
    value: &str,
    max_len: usize,
    run: &mut dyn FnMut(&str) -> Result<Zeroizing<String>, E>,
) -> Result<Zeroizing<String>, Option<E>> {
    let mut text = Zeroizing::new(value.to_owned());
    for range in command_substitutions(value) {
        let whole = &value[range.clone()];
        let mut output = run(&whole[2..whole.len() - 1]).map_err(Some)?;
        let kept = output.trim_end_matches(['\n', '\r']).len();
        output.truncate(kept);
        match replace_first(&text, whole, &output, max_len) {
            Ok(Some(next)) => text = next,
            Ok(None) => {}
            Err(()) => return Err(None),
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests;
