//! Key rotation: a new key pair for a file, every value re-encrypted to it.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::crypto::{encrypt_value, is_encrypted};
use crate::discover::KeySource;
use crate::document::Document;
use crate::envfile::{Decryptor, EnvFile};
use crate::error::{Error, Result};
use crate::fs::{NewFileMode, read_text_if_exists, write_atomic};
use crate::keys::PrivateKey;
use crate::keys_file::append_entry;
use crate::secret::SecretString;
use crate::store::keys_file_beside;

/// A rotation prepared in memory: nothing is written until [`Rotation::commit`].
pub struct Rotation {
    file: EnvFile,
    new_key: PrivateKey,
    old_key: PrivateKey,
    keys_path: PathBuf,
    keys_original: Option<Zeroizing<String>>,
    reencrypted: usize,
    /// The old key came from a keys file (rather than a variable, a command or a wrapped key).
    old_from_file: bool,
}

impl Rotation {
    /// Decrypts every value of `file` with `decryptor`, makes a new key pair, re-encrypts
    /// every value that was encrypted, and points the file's public key line at the new key.
    ///
    /// The new private key goes to the keys file where the old one was found, or to the
    /// `.env.keys` beside the file when the old one came from a variable.
    ///
    /// # Errors
    /// [`Error::NoPrivateKey`] when the current private key is not available, and any
    /// decryption error: a rotation never drops a value it cannot read.
    pub fn prepare(mut file: EnvFile, decryptor: &Decryptor) -> Result<Self> {
        let Some(current) = decryptor.matching() else {
            return Err(decryptor.no_key());
        };
        let old_key = current.key.clone();
        let old_from_file = matches!(current.source, KeySource::File(_));
        let keys_path = match &current.source {
            KeySource::File(path) => path.clone(),
            _ => keys_file_beside(file.path()),
        };
        let encrypted: Vec<usize> = file
            .document()
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| is_encrypted(&e.value()))
            .map(|(i, _)| i)
            .collect();
        let entries: Vec<_> = encrypted
            .iter()
            .map(|&i| &file.document().entries()[i])
            .collect();
        let plaintexts: Vec<SecretString> =
            decryptor.decrypt_many(&entries).collect::<Result<_>>()?;

        let new_key = PrivateKey::generate();
        let public_name = file.names().public.clone();
        let doc = file.document_mut();
        for (index, plaintext) in encrypted.iter().zip(&plaintexts) {
            let quote = doc.entries()[*index].quote();
            let stored = encrypt_value(new_key.public_key(), plaintext.expose_secret().as_bytes());
            doc.set_raw(*index, &quoted(quote.as_char(), &stored));
        }
        let public_hex = new_key.public_key().to_hex();
        let public_indices: Vec<usize> = doc
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.key() == public_name)
            .map(|(i, _)| i)
            .collect();
        for index in public_indices {
            let quote = doc.entries()[index].quote();
            doc.set_raw(index, &quoted(quote.as_char(), &public_hex));
        }
        // A valid seal is renewed with the new key; a stale one is left for review.
        crate::seal::reseal_after_write(file.document_mut(), old_key.public_key(), Some(&new_key))
            .map_err(|source| Error::Seal {
                path: file.path().to_owned(),
                source,
            })?;
        let keys_original = read_text_if_exists(&keys_path)?;
        Ok(Self {
            file,
            new_key,
            old_key,
            keys_path,
            keys_original,
            reencrypted: plaintexts.len(),
            old_from_file,
        })
    }

    /// The new private key.
    pub fn new_key(&self) -> &PrivateKey {
        &self.new_key
    }

    /// The env file's new text.
    pub fn env_text(&self) -> Zeroizing<String> {
        Zeroizing::new(self.file.document().to_string())
    }

    /// When the old key came from a keys file: its path, its text holding `new,old`, and its
    /// text holding only the new key (what [`Rotation::commit`] writes there, in that order).
    pub fn keys_file_texts(&self) -> Option<(PathBuf, Zeroizing<String>, Zeroizing<String>)> {
        if !self.old_from_file {
            return None;
        }
        let new_hex = self.new_key.expose_hex();
        let both = Zeroizing::new(format!(
            "{},{}",
            new_hex.as_str(),
            self.old_key.expose_hex().as_str()
        ));
        Some((
            self.keys_path.clone(),
            self.keys_text(&both),
            self.keys_text(&new_hex),
        ))
    }

    /// How many values were re-encrypted.
    pub fn reencrypted(&self) -> usize {
        self.reencrypted
    }

    /// Where the new private key is stored.
    pub fn keys_path(&self) -> &Path {
        &self.keys_path
    }

    /// The new public key, short form.
    pub fn new_public_short(&self) -> String {
        self.new_key.public_key().short()
    }

    /// The old public key, short form.
    pub fn old_public_short(&self) -> String {
        self.old_key.public_key().short()
    }

    /// The private-key variable name of the file.
    pub fn private_name(&self) -> &str {
        &self.file.names().private
    }

    /// Writes the result, all or nothing: the keys file first holds `new,old` (so the env
    /// file can be read whatever happens next), then the env file is replaced, then the keys
    /// file keeps only the new key. If the env file cannot be written, the keys file is
    /// restored.
    ///
    /// # Errors
    /// I/O errors. When the env file could not be written, both files are as they were; when
    /// only the last step failed, the keys file holds `new,old`, which reads both versions.
    pub fn commit(self) -> Result<()> {
        let new_hex = self.new_key.expose_hex();
        let both = Zeroizing::new(format!(
            "{},{}",
            new_hex.as_str(),
            self.old_key.expose_hex().as_str()
        ));
        write_atomic(
            &self.keys_path,
            self.keys_text(&both).as_bytes(),
            NewFileMode::Private,
        )?;
        let text = Zeroizing::new(self.file.document().to_string());
        if let Err(e) = write_atomic(self.file.path(), text.as_bytes(), NewFileMode::Default) {
            self.restore_keys();
            return Err(e);
        }
        write_atomic(
            &self.keys_path,
            self.keys_text(&new_hex).as_bytes(),
            NewFileMode::Private,
        )
    }

    /// Puts the keys file back as it was (best effort: this runs after another failure).
    fn restore_keys(&self) {
        let _ = match &self.keys_original {
            Some(text) => write_atomic(&self.keys_path, text.as_bytes(), NewFileMode::Private),
            None => {
                std::fs::remove_file(&self.keys_path).map_err(|e| Error::io(&self.keys_path, e))
            }
        };
    }

    /// The original keys file with the entry that held the old key set to `value`, or with
    /// `value` appended under the file's variable name when no entry held it.
    fn keys_text(&self, value: &str) -> Zeroizing<String> {
        let name = &self.file.names().private;
        let Some(original) = &self.keys_original else {
            return append_entry(None, self.file.path(), name, value);
        };
        let mut doc = Document::parse(original);
        let old_hex = self.old_key.expose_hex();
        let holder = doc.entries().iter().position(|e| {
            let text = Zeroizing::new(e.value());
            text.split(',')
                .any(|k| k.trim().eq_ignore_ascii_case(old_hex.as_str()))
        });
        match holder {
            Some(index) => {
                // Replace the old key only, keeping any other keys listed beside it.
                let entry = &doc.entries()[index];
                let current = Zeroizing::new(entry.value());
                let list: Vec<&str> = current
                    .split(',')
                    .map(|k| {
                        if k.trim().eq_ignore_ascii_case(old_hex.as_str()) {
                            value
                        } else {
                            k
                        }
                    })
                    .collect();
                let raw = Zeroizing::new(quoted(entry.quote().as_char(), &list.join(",")));
                doc.set_raw(index, &raw);
                Zeroizing::new(doc.to_string())
            }
            None => append_entry(Some(original), self.file.path(), name, value),
        }
    }
}

fn quoted(quote: Option<char>, text: &str) -> String {
    match quote {
        Some(q) => format!("{q}{text}{q}"),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::fs;

    use super::*;
    use crate::discover::{KeySearch, KeysFileCache};
    use crate::keys_file::append_key;

    fn setup(dir: &Path) -> (PathBuf, PathBuf, PrivateKey) {
        let key = PrivateKey::generate();
        let env = dir.join(".env.production");
        let stored = encrypt_value(key.public_key(), b"secret-value");
        let text = format!(
            "DOTENV_PUBLIC_KEY_PRODUCTION=\"{}\"\nA={stored}\nB=plain\n",
            key.public_key().to_hex()
        );
        fs::write(&env, text).unwrap();
        let keys = dir.join(".env.keys");
        fs::write(
            &keys,
            append_key(None, &env, "DOTENV_PRIVATE_KEY_PRODUCTION", &key).as_bytes(),
        )
        .unwrap();
        (env, keys, key)
    }

    fn prepare(env: &Path) -> Rotation {
        let file = EnvFile::open(env).unwrap();
        let vars = HashMap::new();
        let search = KeySearch::new(&vars, &[]);
        let decryptor = file
            .decryptor(&search, &mut KeysFileCache::default())
            .unwrap();
        Rotation::prepare(file, &decryptor).unwrap()
    }

    #[test]
    fn rotation_reencrypts_and_replaces_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let (env, keys, old) = setup(dir.path());
        let rotation = prepare(&env);
        assert_eq!(rotation.reencrypted(), 1);
        rotation.commit().unwrap();
        let keys_text = fs::read_to_string(&keys).unwrap();
        assert!(!keys_text.contains(old.expose_hex().as_str()));
        let text = fs::read_to_string(&env).unwrap();
        assert!(!text.contains(&old.public_key().to_hex()) && text.contains("\nB=plain\n"));
    }

    #[test]
    fn a_failed_write_leaves_both_files_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let (env, keys, _) = setup(dir.path());
        let keys_before = fs::read(&keys).unwrap();
        let rotation = prepare(&env);
        // The env file can no longer be replaced: a non-empty folder now stands at its path.
        fs::remove_file(&env).unwrap();
        fs::create_dir(&env).unwrap();
        fs::write(env.join("keep"), "x").unwrap();
        assert!(rotation.commit().is_err());
        assert_eq!(
            fs::read(&keys).unwrap(),
            keys_before,
            "the keys file was not restored"
        );
    }
}
