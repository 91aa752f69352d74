//! Turning a raw value into the value a program sees, as dotenvx does.

use super::Quote;

/// Decodes a trimmed raw value: line breaks normalised to `\n` (dotenvx reads `\r\n` and a
/// lone `\r` as `\n`), surrounding quotes removed when both ends carry the same one, then:
/// single quotes turn `\'` into `'`; double quotes turn `\n`, `\r` and `\t` into the control
/// characters (and leave `\"` and `\\` as written); backticks and unquoted values are literal.
pub(super) fn decode(raw: &str) -> String {
    let normalised;
    let raw = if raw.contains('\r') {
        normalised = raw.replace("\r\n", "\n").replace('\r', "\n");
        normalised.as_str()
    } else {
        raw
    };
    let inner = strip_quotes(raw);
    match Quote::of(raw) {
        Quote::Single => inner.replace("\\'", "'"),
        Quote::Double => unescape_double(&inner),
        Quote::Backtick | Quote::None => inner,
    }
}

fn is_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

/// dotenvx strips quotes with `/^(['"`])([\s\S]*)\1$/mg`. For an ordinary value that removes
/// the quote at each end; the `m` flag makes `^` and `$` also match around the line
/// separators U+2028 and U+2029 inside an unquoted value, which this reproduces: from each
/// line start that holds a quote, up to the last same quote that ends a line.
fn strip_quotes(raw: &str) -> String {
    // U+2028 and U+2029 are the only terminators outside ASCII; both start with byte 0xE2.
    if !raw.bytes().any(|b| b == b'\n' || b == b'\r' || b == 0xe2) {
        // One line: only the quotes at both ends can match.
        return match raw.chars().next() {
            Some(q @ ('\'' | '"' | '`')) if raw.len() >= 2 && raw.ends_with(q) => {
                raw[1..raw.len() - 1].to_owned()
            }
            _ => raw.to_owned(),
        };
    }
    let mut out = String::with_capacity(raw.len());
    let mut pos = 0;
    let mut start = 0;
    while start < raw.len() {
        let at_line_start =
            start == 0 || raw[..start].chars().next_back().is_some_and(is_terminator);
        let quote = raw[start..]
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"' | '`'));
        if let (true, Some(q)) = (at_line_start, quote) {
            let body = &raw[start + 1..];
            let close = body
                .char_indices()
                .rev()
                .find(|&(i, c)| c == q && body[i + 1..].chars().next().is_none_or(is_terminator));
            if let Some((i, _)) = close {
                out.push_str(&raw[pos..start]);
                out.push_str(&body[..i]);
                pos = start + 1 + i + 1;
                start = pos;
                continue;
            }
        }
        start += raw[start..].chars().next().map_or(1, char::len_utf8);
    }
    out.push_str(&raw[pos..]);
    out
}

/// `\n`, `\r`, `\t` → LF, CR, TAB, each pair replaced once, left to right.
fn unescape_double(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let replaced = match chars.peek() {
                Some('n') => Some('\n'),
                Some('r') => Some('\r'),
                Some('t') => Some('\t'),
                _ => None,
            };
            if let Some(r) = replaced {
                out.push(r);
                chars.next();
                continue;
            }
        }
        out.push(c);
    }
    out
}
