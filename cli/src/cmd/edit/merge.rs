//! Merging the edited plaintext back into the encrypted file.

use std::collections::HashMap;
use std::path::Path;

use envx_core::crypto::{ENCRYPTED_PREFIX, encrypt_value};
use envx_core::edit::stays_plaintext;
use envx_core::envfile::{Decryptor, EnvFile};
use envx_core::keys::PublicKey;
use envx_core::names::PUBLIC_KEY_PREFIX;
use envx_core::secret::SecretString;
use zeroize::Zeroizing;

use crate::cmd::show;
use crate::ui::{Failure, Ui};

/// What the merge did, by key.
#[derive(Default)]
pub(super) struct Report {
    changed: Vec<String>,
    added: Vec<String>,
    removed: Vec<String>,
}

impl Report {
    pub(super) fn print(&self, path: &Path, ui: &Ui) {
        let path = show(path);
        if self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty() {
            ui.info(&format!(
                "{path}: no value changed; comments and layout saved"
            ));
            return;
        }
        let mut parts = Vec::new();
        for (label, keys) in [
            ("changed", &self.changed),
            ("added", &self.added),
            ("removed", &self.removed),
        ] {
            if !keys.is_empty() {
                parts.push(format!("{label} {}", keys.join(", ")));
            }
        }
        ui.info(&format!("{path}: {}", parts.join("; ")));
    }
}

/// Which entry of the edited document corresponds to which entry of the decrypted one: the
/// n-th occurrence of a key to the n-th occurrence of the same key. Entries of the edited
/// document without a partner were added; decrypted entries without one were removed.
fn align(before: &EnvFile, after: &EnvFile) -> Vec<Option<usize>> {
    let mut positions: HashMap<&str, Vec<usize>> = HashMap::new();
    for (index, entry) in before.document().entries().iter().enumerate().rev() {
        positions.entry(entry.key()).or_default().push(index);
    }
    after
        .document()
        .entries()
        .iter()
        .map(|entry| positions.get_mut(entry.key()).and_then(Vec::pop))
        .collect()
}

/// The text to write: the edit merged into `file`, the encrypted file; `plain` is its
/// decrypted form as shown in the editor, `edited` what came back.
///
/// A value keeps its form: one that was encrypted is encrypted again (to the file's public
/// key) when it changed and keeps its exact ciphertext when it did not; one that was plaintext
/// stays plaintext. A new key is encrypted unless it stays plaintext by rule (`_PLAIN`). When
/// the edit only changed values, removed assignments or appended new ones, `file` is edited
/// in place and every other byte stays; when it also changed comments, blank lines or the
/// order, the edited text is taken as it is, with each value stored as above.
pub(super) fn merge(
    file: &EnvFile,
    plain: &EnvFile,
    edited: &EnvFile,
) -> Result<(Zeroizing<String>, Report), Failure> {
    let public = file.public_key();
    let mut target = EnvFile::from_text(file.path(), file.document().source())?;
    let partners = align(plain, edited);
    let before = plain.document().entries();
    let after = edited.document().entries();
    let mut report = Report::default();
    // For each edited entry: the raw value to store, and whether it is new.
    let mut stored: Vec<Zeroizing<String>> = Vec::with_capacity(after.len());
    for (entry, partner) in after.iter().zip(&partners) {
        let value = SecretString::new(entry.value());
        let raw = match partner {
            Some(j) if SecretString::new(before[*j].value()) == value => {
                Zeroizing::new(target.document().entries()[*j].raw().to_owned())
            }
            Some(j) => {
                let original = &target.document().entries()[*j];
                refuse_public_key_change(entry.key())?;
                report.changed.push(entry.key().to_owned());
                if original.value_starts_with(ENCRYPTED_PREFIX) {
                    encrypted(original.quote().as_char(), &value, public, target.path())?
                } else {
                    Zeroizing::new(entry.raw().to_owned())
                }
            }
            None => {
                refuse_public_key_change(entry.key())?;
                report.added.push(entry.key().to_owned());
                if stays_plaintext(entry.key()) {
                    Zeroizing::new(entry.raw().to_owned())
                } else {
                    encrypted(Some('"'), &value, public, target.path())?
                }
            }
        };
        stored.push(raw);
    }
    let mut kept = vec![false; before.len()];
    for j in partners.iter().flatten() {
        kept[*j] = true;
    }
    for (entry, _) in before.iter().zip(&kept).filter(|(_, kept)| !**kept) {
        refuse_public_key_change(entry.key())?;
        report.removed.push(entry.key().to_owned());
    }

    if only_values_changed(plain, edited, &partners, &kept) {
        for (i, partner) in partners.iter().enumerate() {
            if let Some(j) = partner {
                target.document_mut().set_raw(*j, &stored[i]);
            }
        }
        for j in (0..kept.len()).rev().filter(|j| !kept[*j]) {
            target.document_mut().remove(j);
        }
        for (i, partner) in partners.iter().enumerate() {
            if partner.is_none() {
                target.document_mut().push(after[i].key(), &stored[i]);
            }
        }
        return Ok((Zeroizing::new(target.document().to_string()), report));
    }
    let mut rebuilt = EnvFile::from_text(file.path(), edited.document().source())?;
    for (i, raw) in stored.iter().enumerate() {
        rebuilt.document_mut().set_raw(i, raw);
    }
    Ok((Zeroizing::new(rebuilt.document().to_string()), report))
}

/// Replaying the edit's value changes, removals and appends on the decrypted document gives
/// exactly the edited text: nothing else (comments, blank lines, order) was changed.
fn only_values_changed(
    plain: &EnvFile,
    edited: &EnvFile,
    partners: &[Option<usize>],
    kept: &[bool],
) -> bool {
    // Kept entries must stay in their order.
    let kept_order: Vec<usize> = partners.iter().flatten().copied().collect();
    if kept_order.windows(2).any(|w| w[0] > w[1]) {
        return false;
    }
    // Added entries must all come after the kept ones (they are appended).
    if let Some(first_new) = partners.iter().position(Option::is_none)
        && partners[first_new..].iter().any(Option::is_some)
    {
        return false;
    }
    let Ok(mut replay) = EnvFile::from_text(plain.path(), &plain.document().to_string()) else {
        return false;
    };
    let after = edited.document().entries();
    for (i, partner) in partners.iter().enumerate() {
        if let Some(j) = partner {
            replay.document_mut().set_raw(*j, after[i].raw());
        }
    }
    for j in (0..kept.len()).rev().filter(|j| !kept[*j]) {
        replay.document_mut().remove(j);
    }
    for (i, partner) in partners.iter().enumerate() {
        if partner.is_none() {
            replay.document_mut().push(after[i].key(), after[i].raw());
        }
    }
    let replayed = Zeroizing::new(replay.document().to_string());
    let wanted = Zeroizing::new(edited.document().to_string());
    *replayed == *wanted
}

fn refuse_public_key_change(key: &str) -> Result<(), Failure> {
    if key.starts_with(PUBLIC_KEY_PREFIX) {
        return Err(Failure::new(format!(
            "the edit changes {key}; envx edit does not replace a file's public key (`envx rotate` gives a file a new key pair)"
        )));
    }
    Ok(())
}

/// `value` encrypted to `public`, between `quote`s.
fn encrypted(
    quote: Option<char>,
    value: &SecretString,
    public: Option<&PublicKey>,
    path: &Path,
) -> Result<Zeroizing<String>, Failure> {
    let Some(public) = public else {
        return Err(
            Failure::new(format!("{} has no public key to encrypt to", show(path))).hint(format!(
                "encrypt it once first: envx encrypt -f {}",
                show(path)
            )),
        );
    };
    let ciphertext = encrypt_value(public, value.expose_secret().as_bytes());
    let q = quote.map(String::from).unwrap_or_default();
    Ok(Zeroizing::new(format!("{q}{ciphertext}{q}")))
}

/// What will be written reads back, key by key and value by value, as the edited text.
pub(super) fn verify(
    merged: &EnvFile,
    edited: &EnvFile,
    decryptor: &Decryptor,
) -> Result<(), Failure> {
    let a = merged.document().entries();
    let b = edited.document().entries();
    let same = a.len() == b.len()
        && a.iter().zip(b).all(|(m, e)| {
            let wanted = SecretString::new(e.value());
            m.key() == e.key()
                && if m.value_starts_with(ENCRYPTED_PREFIX) {
                    decryptor.decrypt(m).is_ok_and(|v| v == wanted)
                } else {
                    SecretString::new(m.value()) == wanted
                }
        });
    if same {
        Ok(())
    } else {
        Err(Failure::new(format!(
            "{}: the merged file would not read back as edited; nothing written",
            show(merged.path())
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use envx_core::discover::{Candidate, KeySearch, KeySource, KeysFileCache};
    use envx_core::edit;
    use envx_core::glob::Selection;
    use envx_core::keys::PrivateKey;

    use super::*;

    /// An encrypted file (as text), its decrypted form, and the decryptor.
    fn setup(lines: &[(&str, &str)]) -> (EnvFile, EnvFile, Decryptor) {
        let key = PrivateKey::generate();
        let mut text = format!(
            "DOTENV_PUBLIC_KEY=\"{}\"\n# settings\n",
            key.public_key().to_hex()
        );
        for (k, v) in lines {
            text.push_str(&format!(
                "{k}=\"{}\"\n",
                encrypt_value(key.public_key(), v.as_bytes())
            ));
        }
        let path = PathBuf::from(".env");
        let file = EnvFile::from_text(&path, &text).unwrap();
        let env = HashMap::new();
        let supplied = [Candidate {
            key,
            source: KeySource::Supplied("test".to_owned()),
        }];
        let search = KeySearch::new(&env, &supplied);
        let decryptor = file
            .decryptor(&search, &mut KeysFileCache::default())
            .unwrap();
        let mut plain = EnvFile::from_text(&path, &text).unwrap();
        edit::decrypt(&mut plain, &decryptor, &Selection::all()).unwrap();
        (file, plain, decryptor)
    }

    fn edited(plain: &EnvFile, change: impl Fn(&str) -> String) -> EnvFile {
        EnvFile::from_text(plain.path(), &change(&plain.document().to_string())).unwrap()
    }

    #[test]
    fn a_duplicate_key_changes_only_the_occurrence_edited() {
        let (file, plain, decryptor) = setup(&[("A", "one"), ("B", "x"), ("A", "two")]);
        let after = edited(&plain, |t| t.replace("A=\"two\"", "A=\"three\""));
        let (text, report) = merge(&file, &plain, &after).unwrap();
        verify(
            &EnvFile::from_text(file.path(), &text).unwrap(),
            &after,
            &decryptor,
        )
        .unwrap();
        let old: Vec<&str> = file.document().source().lines().collect();
        let new: Vec<&str> = text.lines().collect();
        let changed: Vec<usize> = (0..old.len()).filter(|&i| old[i] != new[i]).collect();
        assert_eq!(changed, [4], "only the second A");
        assert_eq!(report.changed, ["A"]);
    }

    #[test]
    fn moved_lines_keep_their_ciphertexts() {
        let (file, plain, decryptor) = setup(&[("A", "one"), ("B", "two")]);
        let after = edited(&plain, |t| {
            let lines: Vec<&str> = t.lines().collect();
            format!("{}\n{}\n{}\n{}\n", lines[0], lines[3], lines[1], lines[2])
        });
        let (text, report) = merge(&file, &plain, &after).unwrap();
        verify(
            &EnvFile::from_text(file.path(), &text).unwrap(),
            &after,
            &decryptor,
        )
        .unwrap();
        let source = file.document().source();
        for line in source.lines().skip(2) {
            assert!(text.contains(line), "{line} kept");
        }
        assert!(text.lines().nth(1).unwrap().starts_with("B="), "{}", *text);
        assert!(report.changed.is_empty() && report.added.is_empty());
    }

    #[test]
    fn removing_the_public_key_is_refused() {
        let (file, plain, _) = setup(&[("A", "one")]);
        let after = edited(&plain, |t| {
            t.lines().skip(1).map(|l| format!("{l}\n")).collect()
        });
        assert!(merge(&file, &plain, &after).is_err());
    }
}
