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
        .find(|candidate| reads_back(candidate, value))
}

/// A candidate in `quote` style. Double quotes and backticks have no escape for their own
/// quote character, so a value holding it is not offered in that style.
fn render(value: &str, quote: Quote) -> Option<String> {
    Some(match quote {
        Quote::Single => format!("'{}'", value.replace('\'', "\\'")),
        Quote::Double if !value.contains('"') => format!("\"{}\"", value.replace('\r', "\\r")),
        Quote::Backtick if !value.contains('`') => format!("`{value}`"),
        Quote::None => value.to_owned(),
        Quote::Double | Quote::Backtick => return None,
    })
}

fn reads_back(candidate: &str, value: &str) -> bool {
    let line = format!("K={candidate}\n");
    let doc = Document::parse(&line);
    match doc.entries() {
        [entry] => {
            entry.raw() == candidate && entry.value() == value && doc.stray_lines().is_empty()
        }
        _ => false,
    }
}
