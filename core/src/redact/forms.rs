//! The encoded forms a secret is looked for in: what standard libraries produce by default
//! when a program encodes, escapes or serialises a value it holds.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

/// Every form of `secret`, each once (a secret of plain letters and digits has fewer distinct
/// forms than one with punctuation or non-ASCII text).
pub(super) fn forms(secret: &str) -> Vec<Zeroizing<Vec<u8>>> {
    let bytes = secret.as_bytes();
    let mut out: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(bytes.to_vec())];
    let mut add = |form: Zeroizing<Vec<u8>>| {
        if !out.iter().any(|f| **f == *form) {
            out.push(form);
        }
    };
    for engine in [&STANDARD, &URL_SAFE] {
        add(Zeroizing::new(engine.encode(bytes).into_bytes()));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            // The secret starts `offset` bytes into a 3-byte group of a larger blob: the
            // characters that also depend on the unknown bytes around it are dropped at both
            // ends. Line-wrapped base64 is joined before matching (see `lines`).
            let mut input = Zeroizing::new(vec![0u8; offset]);
            input.extend_from_slice(bytes);
            let text = Zeroizing::new(engine.encode(&*input).into_bytes());
            let skip = [0, 2, 3][offset];
            let trailing = usize::from(!(offset + bytes.len()).is_multiple_of(3));
            if text.len() > skip + trailing {
                add(Zeroizing::new(text[skip..text.len() - trailing].to_vec()));
            }
        }
    }
    add(hex(bytes, HEX_LOWER));
    add(hex(bytes, HEX_UPPER));
    // encodeURIComponent (JavaScript), in both hex cases.
    add(percent(bytes, b"-_.!~*'()", false, HEX_UPPER));
    add(percent(bytes, b"-_.!~*'()", false, HEX_LOWER));
    // urllib.parse.quote (Python; keeps `/`), rawurlencode (PHP), url.PathEscape-like.
    add(percent(bytes, b"-_.~/", false, HEX_UPPER));
    // Form encoding: quote_plus (Python), url.QueryEscape (Go): a space becomes `+`.
    add(percent(bytes, b"-_.~", true, HEX_UPPER));
    for style in [
        JsonStyle::MINIMAL,
        JsonStyle::PYTHON,
        JsonStyle::PHP,
        JsonStyle::GO,
    ] {
        add(json(secret, style));
    }
    out
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn hex(bytes: &[u8], digits: &[u8; 16]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 2));
    for &b in bytes {
        out.extend_from_slice(&[digits[usize::from(b >> 4)], digits[usize::from(b & 15)]]);
    }
    out
}

/// Letters, digits and `keep` as they are, a space as `+` when `plus`, every other byte `%XX`.
fn percent(bytes: &[u8], keep: &[u8], plus: bool, digits: &[u8; 16]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(bytes.len() * 3));
    for &b in bytes {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b);
        } else if plus && b == b' ' {
            out.push(b'+');
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

/// How a JSON writer escapes a string beyond the quote, the backslash and control characters.
#[derive(Clone, Copy)]
struct JsonStyle {
    /// `/` as `\/`.
    slash: bool,
    /// Every character outside printable ASCII as `\uXXXX` (surrogate pairs above U+FFFF).
    ascii: bool,
    /// `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`.
    html: bool,
}

impl JsonStyle {
    /// `JSON.stringify`, serde_json.
    const MINIMAL: Self = Self {
        slash: false,
        ascii: false,
        html: false,
    };
    /// `json.dumps` (`ensure_ascii` is on by default).
    const PYTHON: Self = Self {
        slash: false,
        ascii: true,
        html: false,
    };
    /// `json_encode` without flags.
    const PHP: Self = Self {
        slash: true,
        ascii: true,
        html: false,
    };
    /// `encoding/json`'s `Marshal`.
    const GO: Self = Self {
        slash: false,
        ascii: false,
        html: true,
    };
}

/// The text of `secret` inside a JSON string, as a writer of `style` escapes it.
fn json(secret: &str, style: JsonStyle) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(secret.len() + 8));
    let unit = |out: &mut Vec<u8>, u: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX_LOWER[usize::from((u >> shift) & 15)]);
        }
    };
    for c in secret.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '/' if style.slash => out.extend_from_slice(b"\\/"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' if style.html => {
                unit(&mut out, c as u16);
            }
            c if u32::from(c) < 0x20 || (style.ascii && u32::from(c) > 0x7e) => {
                let mut units = [0u16; 2];
                for &u in c.encode_utf16(&mut units).iter() {
                    unit(&mut out, u);
                }
            }
            c => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(secret: &str, form: &str) -> bool {
        forms(secret).iter().any(|f| **f == *form.as_bytes())
    }

    #[test]
    fn library_encodings_are_among_the_forms() {
        let s = "p/a s&é😀";
        assert!(
            has(s, "p%2Fa%20s%26%C3%A9%F0%9F%98%80"),
            "encodeURIComponent"
        );
        assert!(
            has(s, "p%2fa%20s%26%c3%a9%f0%9f%98%80"),
            "lower-case percent"
        );
        assert!(
            has(s, "p/a%20s%26%C3%A9%F0%9F%98%80"),
            "urllib quote keeps /"
        );
        assert!(has(s, "p%2Fa+s%26%C3%A9%F0%9F%98%80"), "quote_plus");
        assert!(has(s, "p/a s&é😀"), "JSON.stringify");
        assert!(has(s, r"p/a s&\u00e9\ud83d\ude00"), "Python ensure_ascii");
        assert!(has(s, r"p\/a s&\u00e9\ud83d\ude00"), "PHP json_encode");
        assert!(has(s, r"p/a s\u0026é😀"), "Go encoding/json");
        assert!(has("ab\x01", "616201") && has("ab\x01", "616201"), "hex");
        assert!(
            has("a?\x7f", "613F7F") && has("a?\x7f", "613f7f"),
            "hex in both cases"
        );
    }

    #[test]
    fn each_form_is_listed_once() {
        let all = forms("plainletters123");
        for (i, f) in all.iter().enumerate() {
            assert!(all[..i].iter().all(|g| **g != **f));
        }
    }
}
