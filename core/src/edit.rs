//! Edits of env files: encrypt, decrypt and set, each changing only the lines it must.
//!
//! These functions work on an [`EnvFile`] in memory and report what they changed; writing the
//! result (atomically, keys file first) is [`crate::store`]'s job, so a failure part-way leaves
//! every file as it was.

use crate::crypto::{ENCRYPTED_PREFIX, encrypt_value, encrypt_values, is_encrypted};
use crate::document::{Quote, encode_in_style, encode_value};
use crate::envfile::{Decryptor, EnvFile, PARALLEL_THRESHOLD};
use crate::error::{Error, Result};
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
    let names = declare_public_key(file, private.public_key());
    Some(NewKeyPair { private, names })
}

/// Writes the header and `public` at the top of `file`, which must not declare a public key
/// yet. For a file encrypted to someone else's key (`encrypt --with`), nothing else is needed:
/// the private key stays with them. Returns the variable names for the file.
pub fn declare_public_key(file: &mut EnvFile, public: &PublicKey) -> KeyNames {
    let names = KeyNames::for_file(file.path());
    let label = file
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let header = format!(
        "{PUBLIC_KEY_HEADER}{}=\"{}\"\n\n# {label}\n",
        names.public,
        public.to_hex()
    );
    file.document_mut().insert_at_start(&header);
    file.set_public_key(*public, names.clone());
    names
}

/// Encrypts every selected plaintext value of `file` to `public`, keeping each value's quote
/// character and every other byte. Values already encrypted are left exactly as they are, so a
/// second run changes nothing. Returns the keys encrypted, in file order.
///
/// # Errors
/// [`Error::SecretTail`] for a selected unquoted value that runs into a `#` (`KEY=abc#def`):
/// the value ends there and the rest is a comment, which would stay in plaintext. Nothing in
/// `file` is changed then.
pub fn encrypt(
    file: &mut EnvFile,
    public: &PublicKey,
    selection: &Selection,
) -> Result<Vec<String>> {
    let path = file.path().to_owned();
    let doc = file.document_mut();
    let mut chosen: Vec<(usize, SecretString)> = Vec::new();
    for (index, entry) in doc.entries().iter().enumerate() {
        if stays_plaintext(entry.key())
            || !selection.contains(entry.key())
            || entry.value_starts_with(ENCRYPTED_PREFIX)
        {
            continue;
        }
        if entry.comment_follows_directly() {
            return Err(Error::SecretTail {
                path,
                line: entry.line(),
                key: entry.key().to_owned(),
            });
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
    Ok(changed)
}

/// A reference in a value that expands to nothing: `$NAME` or `${NAME}` where `NAME` is
/// neither in `env` nor set (to something) on an earlier line of the file.
pub struct EmptyReference {
    /// The key whose value holds it.
    pub key: String,
    /// Its line.
    pub line: usize,
    /// The name referenced.
    pub name: String,
}

/// The references that expand to nothing in the selected plaintext values `encrypt` would
/// encrypt. Worth a warning: `pa$word` is read as `pa` by every dotenv tool, before and after
/// encryption, and the usual intent was a literal `$` (single quotes keep it).
pub fn empty_references(
    file: &EnvFile,
    env: &std::collections::HashMap<String, String>,
    selection: &Selection,
) -> Vec<EmptyReference> {
    let mut set_before: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut found = Vec::new();
    for entry in file.document().entries() {
        let considered = !stays_plaintext(entry.key())
            && selection.contains(entry.key())
            && !entry.value_starts_with(ENCRYPTED_PREFIX)
            && entry.quote() != Quote::Single;
        if considered {
            let value = SecretString::new(entry.value());
            for name in plain_references(value.expose_secret()) {
                let defined =
                    set_before.contains(name) || env.get(name).is_some_and(|v| !v.is_empty());
                if !defined {
                    found.push(EmptyReference {
                        key: entry.key().to_owned(),
                        line: entry.line(),
                        name: name.to_owned(),
                    });
                }
            }
        }
        if !entry.value().is_empty() {
            set_before.insert(entry.key());
        }
    }
    found
}

/// The names of the `$NAME` and `${NAME}` references (no operator) not preceded by a
/// backslash.
fn plain_references(value: &str) -> Vec<&str> {
    let bytes = value.as_bytes();
    let mut names = Vec::new();
    for (at, _) in value.match_indices('$') {
        if at > 0 && bytes[at - 1] == b'\\' {
            continue;
        }
        let rest = &value[at + 1..];
        let name = match rest.strip_prefix('{') {
            Some(inner) => inner.split_once('}').map(|(n, _)| n),
            None => {
                let len = rest
                    .bytes()
                    .enumerate()
                    .take_while(|&(i, b)| {
                        b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit())
                    })
                    .count();
                (len > 0).then(|| &rest[..len])
            }
        };
        if let Some(name) = name
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric()))
        {
            names.push(name);
        }
    }
    names
}

/// Decrypts every selected encrypted value of `file` in place, so that the file reads exactly
/// as before: each plaintext is written so that it decodes to the text that was encrypted, and
/// stays single-quoted if and only if the ciphertext was (single quotes turn expansion and
/// command substitution off, so the class decides what a program receives; double quotes,
/// backticks and no quotes all read the same way). Its own quote style is kept when it can
/// hold the text. Nothing else changes: plaintext values are not expanded or rewritten.
///
/// # Errors
/// The first value that cannot be decrypted, or cannot be written as plaintext without
/// changing what it reads as ([`Error::Unrepresentable`]); the caller must then not save.
pub fn decrypt(
    file: &mut EnvFile,
    decryptor: &Decryptor,
    selection: &Selection,
) -> Result<Vec<String>> {
    let entries = file.document().entries();
    let selected: Vec<_> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| selection.contains(e.key()) && e.value_starts_with(ENCRYPTED_PREFIX))
        .collect();
    let only_entries: Vec<_> = selected.iter().map(|(_, e)| *e).collect();
    let mut plan = Vec::with_capacity(selected.len());
    for ((index, entry), value) in selected.iter().zip(decryptor.decrypt_many(&only_entries)) {
        let value = value?;
        let single = entry.quote() == Quote::Single;
        let raw =
            encode_in_class(value.expose_secret(), entry.quote(), single).ok_or_else(|| {
                Error::Unrepresentable {
                    path: file.path().to_owned(),
                    line: entry.line(),
                    key: entry.key().to_owned(),
                }
            })?;
        plan.push((*index, entry.key().to_owned(), SecretString::new(raw)));
    }
    let doc = file.document_mut();
    let mut changed = Vec::with_capacity(plan.len());
    for (index, key, raw) in plan {
        doc.set_raw(index, raw.expose_secret());
        changed.push(key);
    }
    Ok(changed)
}

/// `value` written so that it decodes back to exactly `value`, single-quoted when `single`
/// and never single-quoted otherwise, in the `preferred` style when that can hold it.
fn encode_in_class(value: &str, preferred: Quote, single: bool) -> Option<String> {
    let styles: &[Quote] = match single {
        true => &[Quote::Single],
        false => &[preferred, Quote::Double, Quote::Backtick, Quote::None],
    };
    styles
        .iter()
        .filter(|q| (**q == Quote::Single) == single)
        .find_map(|&q| encode_in_style(value, q))
}

/// How a plaintext value must be written for every reader to receive exactly `value`: text
/// holding `$` goes in single quotes, where neither expansion nor command substitution
/// applies; any other text reads the same in every style.
fn exact_plaintext(value: &str, preferred: Quote) -> Option<String> {
    match value.contains('$') {
        true => encode_in_class(value, preferred, true),
        false => encode_value(value, preferred),
    }
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
/// as `--plain` or a `_PLAIN` key). Every occurrence of the key is replaced in place; a new key
/// is appended as `KEY="…"`.
///
/// What is stored reads back as exactly `value` in envx and dotenvx alike. A ciphertext is
/// decrypted and then expanded like any value, so a value holding `$` is stored between single
/// quotes (`KEY='encrypted:…'`), which both tools read literally; any other value reads the
/// same in every style and keeps the occurrence's own quote character. When the key already holds exactly `value`, stored that
/// way, nothing changes.
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
    let literal = value.expose_secret().contains('$');
    let render = |quote: Quote, ciphertext: Option<&str>| -> Result<String> {
        match ciphertext {
            Some(c) if literal => Ok(quoted(Quote::Single, c)),
            Some(c) => Ok(quoted(quote, c)),
            None => exact_plaintext(value.expose_secret(), quote).ok_or_else(|| {
                Error::Unrepresentable {
                    path: path.clone(),
                    line: 0,
                    key: key.to_owned(),
                }
            }),
        }
    };
    // One ciphertext for every occurrence.
    let ciphertext = public.map(|p| encrypt_value(p, value.expose_secret().as_bytes()));
    if indices.is_empty() {
        let raw = render(Quote::Double, ciphertext.as_deref())?;
        file.document_mut().push(key, &raw);
        return Ok(SetOutcome::Added);
    }
    for index in indices {
        let quote = file.document().entries()[index].quote();
        let raw = render(quote, ciphertext.as_deref())?;
        file.document_mut().set_raw(index, &raw);
    }
    Ok(SetOutcome::Replaced)
}

/// Does entry `index` already hold `value`, stored the way it would be stored now (encrypted
/// or not as asked, and single-quoted when the value holds `$`)?
fn holds(
    file: &EnvFile,
    index: usize,
    value: &SecretString,
    encrypt: bool,
    decryptor: Option<&Decryptor>,
) -> Result<bool> {
    let entry = &file.document().entries()[index];
    let literal = value.expose_secret().contains('$');
    if literal && entry.quote() != Quote::Single {
        return Ok(false);
    }
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
