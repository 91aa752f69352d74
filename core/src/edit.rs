//! Edits of env files: encrypt, decrypt and set, each changing only the lines it must.
//!
//! These functions work on an [`EnvFile`] in memory and report what they changed; writing the
//! result (atomically, keys file first) is [`crate::save`]'s job, so a failure part-way leaves
//! every file as it was.

use std::collections::HashSet;

use crate::crypto::{ENCRYPTED_PREFIX, encrypt_value, encrypt_values, is_encrypted};
use crate::document::{Quote, encode_value};
use crate::envfile::{Decryptor, EnvFile, PARALLEL_THRESHOLD};
use crate::error::{Error, Result};
use crate::expand;
use crate::glob::Selection;
use crate::keys::{PrivateKey, PublicKey};
use crate::names::{KeyNames, PUBLIC_KEY_PREFIX};
use crate::secret::SecretString;

/// Keys ending in this are stored in plaintext by `encrypt` and `set` (as in dotenvx).
pub const PLAIN_SUFFIX: &str = "_PLAIN";

/// The header written above the public key of a newly encrypted file (the format's own text,
/// kept identical so that files look the same whichever tool encrypted them).
const PUBLIC_KEY_HEADER: &str = "\
#/-------------------[DOTENV_PUBLIC_KEY]--------------------/
#/            public-key encryption for .env files          /
#/       [how it works](https://dotenvx.com/encryption)     /
#/----------------------------------------------------------/
";

/// Would `encrypt` leave this key in plaintext whatever the selection says?
pub fn stays_plaintext(key: &str) -> bool {
    key.starts_with(PUBLIC_KEY_PREFIX) || key.ends_with(PLAIN_SUFFIX)
}

/// Is `key` a valid name for a `.env` file (letters, digits, `_`, `.`, `-`)?
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// A key pair created for a file that had none.
pub struct NewKeyPair {
    /// The private key, to be stored in the keys file.
    pub private: PrivateKey,
    /// The variable names for the file.
    pub names: KeyNames,
}

/// Gives `file` a new key pair with the header and public key line at its top, unless it
/// already declares a public key. Returns the new pair, which the caller must store.
pub fn ensure_public_key(file: &mut EnvFile) -> Option<NewKeyPair> {
    if file.public_key().is_some() {
        return None;
    }
    let private = PrivateKey::generate();
    let names = KeyNames::for_file(file.path());
    let label = file
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = format!(
        "{PUBLIC_KEY_HEADER}{}=\"{}\"\n\n# {label}\n",
        names.public,
        private.public_key().to_hex()
    );
    file.document_mut().insert_at_start(&header);
    file.set_public_key(*private.public_key(), names.clone());
    Some(NewKeyPair { private, names })
}

/// Encrypts every selected plaintext value of `file` to `public`, keeping each value's quote
/// character and every other byte. Values already encrypted are left exactly as they are, so a
/// second run changes nothing. Returns the keys encrypted, in file order.
pub fn encrypt(file: &mut EnvFile, public: &PublicKey, selection: &Selection) -> Vec<String> {
    let doc = file.document_mut();
    let mut chosen: Vec<(usize, SecretString)> = Vec::new();
    for (index, entry) in doc.entries().iter().enumerate() {
        if stays_plaintext(entry.key())
            || !selection.contains(entry.key())
            || entry.value_starts_with(ENCRYPTED_PREFIX)
        {
            continue;
        }
        chosen.push((index, SecretString::new(entry.value())));
    }
    let plaintexts: Vec<&[u8]> = chosen
        .iter()
        .map(|(_, v)| v.expose_secret().as_bytes())
        .collect();
    let stored = encrypt_values(public, &plaintexts, PARALLEL_THRESHOLD);
    let mut changed = Vec::with_capacity(chosen.len());
    for ((index, _), ciphertext) in chosen.iter().zip(stored) {
        let entry = &doc.entries()[*index];
        changed.push(entry.key().to_owned());
        let raw = quoted(entry.quote(), &ciphertext);
        doc.set_raw(*index, &raw);
    }
    changed
}

/// Decrypts every selected encrypted value of `file` in place. Each plaintext is written in
/// the value's own quote style when that reads back exactly, else in one that does (single
/// quotes when the value holds `$` text that would otherwise be expanded differently).
/// Nothing else changes: plaintext values are not expanded or rewritten.
///
/// # Errors
/// The first value that cannot be decrypted or written back; the document is then unchanged
/// only in the sense that the caller must not save it.
pub fn decrypt(
    file: &mut EnvFile,
    decryptor: &Decryptor,
    selection: &Selection,
) -> Result<Vec<String>> {
    let entries = file.document().entries();
    let selected: Vec<_> = entries
        .iter()
        .filter(|e| selection.contains(e.key()) && e.value_starts_with(ENCRYPTED_PREFIX))
        .collect();
    let mut decrypted = decryptor.decrypt_many(&selected);
    let mut plan = Vec::new();
    let mut defined: HashSet<&str> = HashSet::new();
    for (index, entry) in entries.iter().enumerate() {
        if selection.contains(entry.key()) && entry.value_starts_with(ENCRYPTED_PREFIX) {
            let value = decrypted
                .next()
                .unwrap_or_else(|| unreachable!("one decryption per selected entry"))?;
            let preferred = if expands_the_same(value.expose_secret(), &defined) {
                entry.quote()
            } else {
                Quote::Single
            };
            let raw = encode_value(value.expose_secret(), preferred).ok_or_else(|| {
                Error::Unrepresentable {
                    path: file.path().to_owned(),
                    line: entry.line(),
                    key: entry.key().to_owned(),
                }
            })?;
            plan.push((index, entry.key().to_owned(), SecretString::new(raw)));
        }
        defined.insert(entry.key());
    }
    let doc = file.document_mut();
    let mut changed = Vec::with_capacity(plan.len());
    for (index, key, raw) in plan {
        doc.set_raw(index, raw.expose_secret());
        changed.push(key);
    }
    Ok(changed)
}

/// A decrypted value only has references to defined names expanded; as plaintext, undefined
/// names would expand to "". The two agree when every name it references is defined earlier
/// in the file (the environment can only add definitions, which both forms then use).
fn expands_the_same(value: &str, defined: &HashSet<&str>) -> bool {
    expand::references(value)
        .iter()
        .all(|name| defined.contains(name.as_str()))
        && !expand::has_command_substitution(value)
}

/// What `set` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    /// The key was appended.
    Added,
    /// The value of an existing key was replaced (every occurrence).
    Replaced,
    /// The key already held this value: nothing changed.
    Unchanged,
}

/// Sets `key` to `value` in `file`: encrypted to `public` unless `public` is `None` (plaintext,
/// as `--plain` or a `_PLAIN` key). Every occurrence of the key is replaced in place with its
/// quote character kept; a new key is appended as `KEY="…"`. When the key already holds
/// exactly `value` (decrypting with `decryptor` if it is encrypted and a key is available),
/// nothing changes.
///
/// # Errors
/// [`Error::InvalidKeyName`], [`Error::Unrepresentable`] for a plaintext value no quoting can
/// hold, and decryption errors other than a missing key.
pub fn set(
    file: &mut EnvFile,
    key: &str,
    value: &SecretString,
    public: Option<&PublicKey>,
    decryptor: Option<&Decryptor>,
) -> Result<SetOutcome> {
    if !is_valid_key(key) {
        return Err(Error::InvalidKeyName {
            key: key.to_owned(),
        });
    }
    let indices: Vec<usize> = file
        .document()
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| e.key() == key)
        .map(|(i, _)| i)
        .collect();
    if let Some(&last) = indices.last()
        && holds(file, last, value, public.is_some(), decryptor)?
    {
        return Ok(SetOutcome::Unchanged);
    }
    let path = file.path().to_owned();
    let render = |quote: Quote| -> Result<String> {
        match public {
            Some(public) => Ok(quoted(
                quote,
                &encrypt_value(public, value.expose_secret().as_bytes()),
            )),
            None => {
                // A plaintext `$` must stay literal: single quotes are never expanded.
                let quote = if value.expose_secret().contains('$') {
                    Quote::Single
                } else {
                    quote
                };
                encode_value(value.expose_secret(), quote).ok_or_else(|| Error::Unrepresentable {
                    path: path.clone(),
                    line: 0,
                    key: key.to_owned(),
                })
            }
        }
    };
    if indices.is_empty() {
        let raw = render(Quote::Double)?;
        file.document_mut().push(key, &raw);
        return Ok(SetOutcome::Added);
    }
    // One ciphertext for every occurrence, each keeping its own quote character.
    let ciphertext = public.map(|p| encrypt_value(p, value.expose_secret().as_bytes()));
    for index in indices {
        let quote = file.document().entries()[index].quote();
        let raw = match &ciphertext {
            Some(c) => quoted(quote, c),
            None => render(quote)?,
        };
        file.document_mut().set_raw(index, &raw);
    }
    Ok(SetOutcome::Replaced)
}

/// Does entry `index` already hold `value`, stored the way it would be stored now?
fn holds(
    file: &EnvFile,
    index: usize,
    value: &SecretString,
    encrypt: bool,
    decryptor: Option<&Decryptor>,
) -> Result<bool> {
    let entry = &file.document().entries()[index];
    let stored = SecretString::new(entry.value());
    if is_encrypted(stored.expose_secret()) != encrypt {
        return Ok(false);
    }
    if !encrypt {
        return Ok(stored == *value);
    }
    let Some(decryptor) = decryptor else {
        return Ok(false);
    };
    match decryptor.decrypt(entry) {
        Ok(current) => Ok(current == *value),
        Err(Error::NoPrivateKey { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

fn quoted(quote: Quote, text: &str) -> String {
    match quote.as_char() {
        Some(q) => format!("{q}{text}{q}"),
        None => text.to_owned(),
    }
}
