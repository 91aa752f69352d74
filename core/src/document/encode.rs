//! Writing a value so that it reads back exactly.

use super::{Document, Quote};

/// Renders `value` as a raw value that parses back to exactly `value`, in the `preferred`
/// quote style when that can hold it, else single quotes, double quotes, backticks, and no
/// quotes, in that order. `None` when no style can (for example a carriage return together
/// with all three quote characters).
///
/// Each candidate is checked by parsing it, so this can never disagree with the parser.
pub fn encode_value(value: &str, preferred: Quote) -> Option<String> {
    let order = [
        preferred,
        Quote::Single,
        Quote::Double,
        Quote::Backtick,
        Quote::None,
    ];
    order
        .iter()
        .filter_map(|&quote| render(value, quote))
        .chain(
            order
                .iter()
                .filter_map(|&quote| render_anyway(value, quote)),
        )
        .find(|candidate| reads_back(candidate, value))
}

/// `value` in exactly the `quote` style, when that style can hold it.
pub fn encode_in_style(value: &str, quote: Quote) -> Option<String> {
    render(value, quote)
        .into_iter()
        .chain(render_anyway(value, quote))
        .find(|candidate| Quote::of_raw(candidate) == quote && reads_back(candidate, value))
}

/// A candidate in `quote` style. Double quotes and backticks have no escape for their own
/// quote character, so a value holding it is not offered in that style here.
fn render(value: &str, quote: Quote) -> Option<String> {
    Some(match quote {
        Quote::Single => format!("'{}'", value.replace('\'', "\\'")),
        Quote::Double if !value.contains('"') => format!("\"{}\"", value.replace('\r', "\\r")),
        Quote::Backtick if !value.contains('`') => format!("`{value}`"),
        Quote::None => value.to_owned(),
        Quote::Double | Quote::Backtick => return None,
    })
}

/// The last resort for a value holding its own quote character: the parser still reads some
/// of them (`\"` inside double quotes, a quote inside a single-line value); the parse decides.
fn render_anyway(value: &str, quote: Quote) -> Option<String> {
    match quote {
        Quote::Double if value.contains('"') => Some(format!("\"{}\"", value.replace('\r', "\\r"))),
        Quote::Backtick if value.contains('`') => Some(format!("`{value}`")),
        _ => None,
    }
}

fn reads_back(candidate: &str, value: &str) -> bool {
    let line = format!("K={candidate}\n");
    let doc = Document::parse(&line);
    match doc.entries() {
        [entry] => {
            entry.raw() == candidate
                && entry.value() == value
                && doc.stray_lines().is_empty()
                && !opens_a_quote_it_does_not_close(candidate)
        }
        _ => false,
    }
}

/// A raw value that starts with a quote character must end with it: envx refuses files where
/// it does not (see `EnvFile`), so such a rendering would make the file unreadable.
fn opens_a_quote_it_does_not_close(raw: &str) -> bool {
    match raw.chars().next() {
        Some(q @ ('\'' | '"' | '`')) => raw.len() < 2 || !raw.ends_with(q),
        _ => false,
    }
}
