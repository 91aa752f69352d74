//! Variable expansion and command substitution in values.
//!
//! Plaintext values expand as dotenvx expands them: `$NAME`, `${NAME}`, `${NAME:-word}`,
//! `${NAME-word}`, `${NAME:+word}`, `${NAME+word}`, `\$` for a literal `$`, and an unknown
//! name gives "". Two deliberate differences:
//!
//! - **One pass.** dotenvx rescans the text after every replacement, so an inserted value is
//!   expanded again (and a value holding `$&` makes it loop forever). envx replaces each
//!   reference once, with the variable's final value, so expansion always terminates and a
//!   value can never expand itself. The `word` of an operator is expanded when it is used,
//!   which keeps `${A:-${B}}` working.
//! - **Secrets arrive as encrypted.** In a decrypted value ([`Mode::Secret`]) a reference is
//!   replaced only when its name is defined; anything else, `\$` included, stays exactly as
//!   written. A password `pa$word@x` must not reach the program as `pa@x`, while a
//!   `DATABASE_URL` built from `${DB_USER}` keeps working after it is encrypted.
//!
//! Command substitution `$(…)` is recognised here but never run here: the caller passes a
//! runner, and envx passes one only when the user opts in. Anyone who can open a pull request
//! can commit a ciphertext whose plaintext holds `$(…)`.

use std::collections::HashMap;
use std::hash::BuildHasher;

use zeroize::Zeroizing;

/// Defaults (`${A:-${B:-…}}`) nested deeper than this are left as written.
pub const MAX_NESTING: usize = 32;

/// How a value is expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A plaintext value: every reference is replaced; an undefined name gives "".
    Plain,
    /// A decrypted value: only references to defined names are replaced; all other text,
    /// `\$` included, stays as written.
    Secret,
}

/// Where names are looked up.
pub trait Vars {
    /// The value of `name`, if it is defined.
    fn get(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> Vars for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

/// One `$…` reference found in a text.
struct Reference<'t> {
    /// Byte length of the whole reference, `$` included.
    len: usize,
    name: &'t str,
    /// The operator and its word, for `${NAME<op>word}`.
    operator: Option<(Operator, &'t str)>,
}

#[derive(Clone, Copy)]
enum Operator {
    /// `:-`: the word when unset or empty.
    DefaultIfEmpty,
    /// `-`: the word when unset.
    DefaultIfUnset,
    /// `:+`: the word when set and not empty.
    AltIfNonEmpty,
    /// `+`: the word when set.
    AltIfSet,
}

/// The `${` … `}` pairs of a text, as (offset of `$`, offset of `}`), sorted: each `}` closes
/// the innermost open `${`. Computed once per text, so finding a reference's end is a lookup
/// and a text full of unclosed `${` stays linear.
fn brace_pairs(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut open = Vec::new();
    let mut pairs = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                open.push(i);
                i += 2;
                continue;
            }
            b'}' => {
                if let Some(start) = open.pop() {
                    pairs.push((start, i));
                }
            }
            _ => {}
        }
        i += 1;
    }
    pairs.sort_unstable();
    pairs
}

/// Parses the reference whose `$` is at `at` in `text`, if there is one.
fn reference<'t>(text: &'t str, at: usize, pairs: &[(usize, usize)]) -> Option<Reference<'t>> {
    let rest = text[at..].strip_prefix('$')?;
    if rest.starts_with('{') {
        let close = pairs
            .binary_search_by_key(&at, |&(open, _)| open)
            .ok()
            .map(|i| pairs[i].1)?;
        let content = &text[at + 2..close];
        let (name, operator) = split_operator(content);
        if name.is_empty() || name.contains(['{', '}']) {
            return None;
        }
        return Some(Reference {
            len: close + 1 - at,
            name,
            operator,
        });
    }
    let bytes = rest.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return None;
    }
    let len = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    Some(Reference {
        len: 1 + len,
        name: &rest[..len],
        operator: None,
    })
}

/// Splits `NAME<op>word` at the leftmost operator (`:+`, `+`, `:-`, `-`, tried in that order
/// at each position, as dotenvx does).
fn split_operator(content: &str) -> (&str, Option<(Operator, &str)>) {
    let bytes = content.as_bytes();
    for i in 0..bytes.len() {
        let (operator, len) = match (bytes[i], bytes.get(i + 1)) {
            (b':', Some(b'+')) => (Operator::AltIfNonEmpty, 2),
            (b'+', _) => (Operator::AltIfSet, 1),
            (b':', Some(b'-')) => (Operator::DefaultIfEmpty, 2),
            (b'-', _) => (Operator::DefaultIfUnset, 1),
            _ => continue,
        };
        return (&content[..i], Some((operator, &content[i + len..])));
    }
    (content, None)
}

/// Expands the references in `value` in one left-to-right pass (see the module docs).
pub fn expand(value: &str, mode: Mode, vars: &dyn Vars) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    expand_into(value, mode, vars, 0, &mut out);
    out
}

fn expand_into(text: &str, mode: Mode, vars: &dyn Vars, depth: usize, out: &mut String) {
    // Past the nesting limit the text is copied as written.
    if depth > MAX_NESTING {
        out.push_str(text);
        return;
    }
    let pairs = brace_pairs(text);
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let Some(offset) = rest.find(['$', '\\']) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..offset]);
        i += offset;
        let rest = &text[i..];
        if rest.starts_with("\\$") {
            // An escaped dollar: literal, and no reference starts here.
            out.push_str(if mode == Mode::Plain { "$" } else { "\\$" });
            i += 2;
            continue;
        }
        if rest.starts_with('\\') {
            out.push('\\');
            i += 1;
            continue;
        }
        match reference(text, i, &pairs) {
            Some(found) => {
                let defined = vars.get(found.name);
                if mode == Mode::Secret && defined.is_none() {
                    out.push_str(&rest[..found.len]);
                } else {
                    substitute(&found, defined, mode, vars, depth, out);
                }
                i += found.len;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
}

fn substitute(
    found: &Reference<'_>,
    value: Option<&str>,
    mode: Mode,
    vars: &dyn Vars,
    depth: usize,
    out: &mut String,
) {
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let word = |out: &mut String, word: &str| expand_into(word, mode, vars, depth + 1, out);
    match found.operator {
        None => out.push_str(value.unwrap_or("")),
        Some((Operator::DefaultIfEmpty, w)) if !non_empty => word(out, w),
        Some((Operator::DefaultIfUnset, w)) if !set => word(out, w),
        Some((Operator::DefaultIfEmpty | Operator::DefaultIfUnset, _)) => {
            out.push_str(value.unwrap_or(""));
        }
        Some((Operator::AltIfNonEmpty, w)) if non_empty => word(out, w),
        Some((Operator::AltIfSet, w)) if set => word(out, w),
        Some((Operator::AltIfNonEmpty | Operator::AltIfSet, _)) => {}
    }
}

/// Names referenced by `value` (operator words included), in order, without duplicates.
pub fn references(value: &str) -> Vec<String> {
    let mut names = Vec::new();
    collect_references(value, 0, &mut names);
    names
}

fn collect_references(text: &str, depth: usize, names: &mut Vec<String>) {
    if depth > MAX_NESTING {
        return;
    }
    let pairs = brace_pairs(text);
    let mut i = 0;
    while let Some(offset) = text[i..].find(['$', '\\']) {
        i += offset;
        let rest = &text[i..];
        if rest.starts_with("\\$") {
            i += 2;
            continue;
        }
        match reference(text, i, &pairs) {
            Some(found) => {
                if !names.iter().any(|n| n == found.name) {
                    names.push(found.name.to_owned());
                }
                if let Some((_, word)) = found.operator {
                    collect_references(word, depth + 1, names);
                }
                i += found.len;
            }
            None => i += 1,
        }
    }
}

/// The byte range of the first command substitution `$(…)` at or after `from`: a `$(` not
/// preceded by a backslash, up to its matching `)` (nested parentheses counted; quoted text
/// inside does not count). An unclosed `$(` is not a substitution.
fn next_substitution(text: &str, from: usize) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i + 1 < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == b'$'
            && bytes[i + 1] == b'('
            && let Some(end) = closing_paren(bytes, i + 2)
        {
            return Some(i..end + 1);
        }
        i += 1;
    }
    None
}

fn closing_paren(bytes: &[u8], start: usize) -> Option<usize> {
    let mut depth = 1usize;
    let mut quote: Option<u8> = None;
    let mut i = start;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'\\' => i += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Does `value` hold a command substitution `$(…)` that dotenvx would run?
pub fn has_command_substitution(value: &str) -> bool {
    next_substitution(value, 0).is_some()
}

/// Replaces each command substitution with what `run(command)` returns, trailing line breaks
/// removed. Output of a command is not scanned again. Stops at the first error.
///
/// # Errors
/// The first error `run` returns.
pub fn substitute_commands<E>(
    value: &str,
    run: &mut dyn FnMut(&str) -> Result<String, E>,
) -> Result<Zeroizing<String>, E> {
    let mut out = Zeroizing::new(String::with_capacity(value.len()));
    let mut pos = 0;
    while let Some(range) = next_substitution(value, pos) {
        out.push_str(&value[pos..range.start]);
        let mut output = Zeroizing::new(run(&value[range.start + 2..range.end - 1])?);
        let trimmed = output.trim_end_matches(['\n', '\r']).len();
        output.truncate(trimmed);
        out.push_str(&output);
        pos = range.end;
    }
    out.push_str(&value[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests;
