//! Three-way merge of env files, key by key.
//!
//! Git merges lines; two branches that each append a key to the same file collide although
//! nothing conflicts. This merge works on keys instead: a key changed on one side only takes
//! that side's value, keys added on both sides with different names both go in, and only a key
//! changed differently on both sides is a conflict. Order and comments follow "ours"; keys
//! that only "theirs" added are appended in their order.

use std::collections::HashSet;

use crate::document::{Document, Entry};
use crate::names::PUBLIC_KEY_PREFIX;
use crate::seal::{remove_seal, settle_merge};

/// The merged text and what could not be merged.
pub struct Merged {
    /// The result, with git-style conflict markers for each conflicting key.
    pub text: String,
    /// Keys changed differently on both sides, in order.
    pub conflicts: Vec<String>,
    /// The sides declare different public keys (one branch rotated): the whole file conflicts.
    pub public_key_differs: bool,
}

/// Merges `ours` and `theirs` against their common ancestor `base`. `same_value` tells
/// whether two different raw values hold the same plaintext (two encryptions of one value);
/// pass `|_, _| false` when no private key is available.
pub fn merge(
    base: &str,
    ours: &str,
    theirs: &str,
    same_value: &dyn Fn(&Entry, &Entry) -> bool,
) -> Merged {
    let (base_doc, ours_doc, theirs_doc) = (
        Document::parse(base),
        Document::parse(ours),
        Document::parse(theirs),
    );
    if public_key(&ours_doc) != public_key(&theirs_doc) {
        return Merged {
            text: whole_file_conflict(&remove_seal(ours), &remove_seal(theirs)),
            conflicts: Vec::new(),
            public_key_differs: true,
        };
    }
    let mut result = Document::parse(ours);
    let mut conflicts = Vec::new();
    let mut blocks = String::new();
    for key in all_keys(&[&ours_doc, &theirs_doc, &base_doc]) {
        let o = last(&base_doc, &key);
        let a = last(&ours_doc, &key);
        let b = last(&theirs_doc, &key);
        let raw = |e: Option<&Entry>| e.map(|e| e.raw().to_owned());
        if raw(a) == raw(b) || raw(b) == raw(o) {
            continue;
        }
        if raw(a) == raw(o) {
            apply_theirs(&mut result, &key, b);
            continue;
        }
        if let (Some(a), Some(b)) = (a, b)
            && same_value(a, b)
        {
            continue;
        }
        // Changed differently on both sides: mark it as git marks conflicts, at the end.
        remove_all(&mut result, &key);
        let side = |e: Option<&Entry>| {
            e.map(|e| format!("{key}={}\n", e.raw()))
                .unwrap_or_default()
        };
        blocks.push_str(&format!(
            "<<<<<<< ours\n{}=======\n{}>>>>>>> theirs (envx: {key} changed on both sides)\n",
            side(a),
            side(b)
        ));
        conflicts.push(key);
    }
    let mut text = result.to_string();
    if !blocks.is_empty() {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&blocks);
    }
    // The seal is never a conflict: kept when one side's seal verifies for the result, else
    // dropped, so that a merged state nobody approved shows as unsealed.
    let text = settle_merge(&text, &[ours, theirs]);
    Merged {
        text,
        conflicts,
        public_key_differs: false,
    }
}

fn public_key(doc: &Document) -> Option<String> {
    let first = doc
        .entries()
        .iter()
        .find(|e| e.key().starts_with(PUBLIC_KEY_PREFIX))?;
    last(doc, first.key()).map(Entry::value)
}

fn last<'d>(doc: &'d Document, key: &str) -> Option<&'d Entry> {
    doc.find_last(key).map(|i| &doc.entries()[i])
}

/// Every key of the documents, ours first, each once.
fn all_keys(docs: &[&Document]) -> Vec<String> {
    let mut seen = HashSet::new();
    docs.iter()
        .flat_map(|d| d.entries().iter().map(Entry::key))
        .filter(|k| seen.insert(k.to_owned()))
        .map(str::to_owned)
        .collect()
}

/// Takes theirs for `key`: removed, added at the end, or its value set in place.
fn apply_theirs(result: &mut Document, key: &str, theirs: Option<&Entry>) {
    match (theirs, result.find_last(key)) {
        (None, _) => remove_all(result, key),
        (Some(entry), None) => {
            result.push(key, entry.raw());
        }
        (Some(entry), Some(_)) => {
            let indices: Vec<usize> = indices_of(result, key);
            for index in indices {
                result.set_raw(index, entry.raw());
            }
        }
    }
}

fn indices_of(doc: &Document, key: &str) -> Vec<usize> {
    doc.entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.key() == key)
        .map(|(i, _)| i)
        .collect()
}

fn remove_all(doc: &mut Document, key: &str) {
    for index in indices_of(doc, key).into_iter().rev() {
        doc.remove(index);
    }
}

fn whole_file_conflict(ours: &str, theirs: &str) -> String {
    let newline = |t: &str| {
        if t.is_empty() || t.ends_with('\n') {
            ""
        } else {
            "\n"
        }
    };
    format!(
        "<<<<<<< ours\n{ours}{}=======\n{theirs}{}>>>>>>> theirs (envx: the public keys differ; one side rotated the key pair)\n",
        newline(ours),
        newline(theirs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: &Entry, _: &Entry) -> bool {
        false
    }

    #[test]
    fn keys_added_on_both_sides_both_go_in() {
        let base = "# settings\nA=1\n";
        let merged = merge(
            base,
            "# settings\nA=1\nB=2\n",
            "# settings\nA=1\nC=3\n",
            &never,
        );
        assert_eq!(merged.text, "# settings\nA=1\nB=2\nC=3\n");
        assert!(merged.conflicts.is_empty());
    }

    #[test]
    fn a_change_on_one_side_is_taken() {
        let merged = merge("A=1\nB=2\n", "A=1\nB=2\n", "A=9\n", &never);
        assert_eq!(merged.text, "A=9\n");
        let merged = merge("A=1\nB=2\n", "A=1\nB=5\n", "A=9\nB=2\n", &never);
        assert_eq!(merged.text, "A=9\nB=5\n");
    }

    #[test]
    fn a_key_changed_on_both_sides_is_a_conflict_by_name() {
        let merged = merge("A=1\nB=2\n", "A=7\nB=2\n", "A=8\nB=2\n", &never);
        assert_eq!(merged.conflicts, ["A"]);
        assert!(
            merged
                .text
                .starts_with("B=2\n<<<<<<< ours\nA=7\n=======\nA=8\n>>>>>>> theirs")
        );
        let same = merge("A=1\n", "A=7\n", "A=8\n", &|_, _| true);
        assert!(same.conflicts.is_empty());
        assert_eq!(same.text, "A=7\n");
    }

    #[test]
    fn different_public_keys_conflict_whole() {
        let merged = merge(
            "DOTENV_PUBLIC_KEY=\"aa\"\n",
            "DOTENV_PUBLIC_KEY=\"bb\"\n",
            "DOTENV_PUBLIC_KEY=\"aa\"\nX=1\n",
            &never,
        );
        assert!(merged.public_key_differs);
        assert!(merged.text.contains("rotated"));
    }
}
