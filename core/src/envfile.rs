//! One env file on disk: its document, its key names, its public key, and decryption of its
//! values with the right private key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::FileCache;
use crate::crypto::{self, CryptoError, ENCRYPTED_PREFIX};
use crate::discover::{Candidate, KeyRing, KeySearch, KeySource, KeysFileCache};
// A raw value that opens a quote it does not close: dotenvx reads such a value literally
// (quote included) and parses the following lines as new keys, which silently turns a broken
// multi-line secret into several plaintext entries. envx refuses it.
use crate::document::{Document, Entry, unterminated};
use crate::error::{Error, Result};
use crate::fs::read_text;
use crate::keys::PublicKey;
use crate::names::{KeyNames, PUBLIC_KEY_PREFIX};
use crate::parallel::{InOrder, map_in_order};
use crate::secret::SecretString;
use zeroize::Zeroizing;

/// An env file read from disk and parsed.
pub struct EnvFile {
    path: PathBuf,
    doc: Document,
    names: KeyNames,
    public: Option<(PublicKey, usize)>,
    /// For a filtered document ([`EnvFile::open_filtered`]): does any value of the whole file,
    /// kept or not, hold a ciphertext?
    encrypted: Option<bool>,
}

impl EnvFile {
    /// Reads and parses `path`, rejecting lines that are not assignments and a malformed
    /// public key.
    ///
    /// # Errors
    /// I/O, encoding, [`Error::MalformedLine`] and [`Error::InvalidPublicKey`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::from_owned_text(path, read_text(path)?)
    }

    /// Parses `text` as the contents of `path`, taking it over (no copy; the document
    /// zeroizes it when dropped).
    ///
    /// # Errors
    /// [`Error::MalformedLine`] and [`Error::InvalidPublicKey`].
    pub fn from_owned_text(path: &Path, mut text: Zeroizing<String>) -> Result<Self> {
        Self::from_document(path, Document::parse_owned(std::mem::take(&mut *text)))
    }

    /// Parses `text` as the contents of `path`.
    ///
    /// # Errors
    /// [`Error::MalformedLine`] and [`Error::InvalidPublicKey`].
    pub fn from_text(path: &Path, text: &str) -> Result<Self> {
        Self::from_document(path, Document::parse(text))
    }

    /// Reads `path` for a reader of a few keys: every check of [`EnvFile::open`] is made, over
    /// the whole file, with the same errors, but the document holds only the assignments whose
    /// key passes `keep` (and the public key's). No entry is built for the others, which is
    /// what makes reading one key of a large file cheap. Not for editing: writing it back is
    /// never done.
    ///
    /// # Errors
    /// As [`EnvFile::open`].
    pub(crate) fn open_filtered(path: &Path, keep: &dyn Fn(&str) -> bool) -> Result<Self> {
        let mut text = read_text(path)?;
        let keep = |key: &str| key.starts_with(PUBLIC_KEY_PREFIX) || keep(key);
        let (doc, summary) = Document::parse_filtered(std::mem::take(&mut *text), &keep);
        Self::checked(path, doc, summary.unterminated, Some(summary.encrypted))
    }

    /// For a file read by [`EnvFile::open_filtered`]: the same text scanned again, keeping the
    /// assignments whose key passes `keep`.
    pub(crate) fn refilter(&mut self, keep: &dyn Fn(&str) -> bool) {
        let keep = |key: &str| key.starts_with(PUBLIC_KEY_PREFIX) || keep(key);
        self.doc = self.doc.rescan(&keep).0;
    }

    fn from_document(path: &Path, doc: Document) -> Result<Self> {
        let open_quote = doc
            .entries()
            .iter()
            .find(|e| unterminated(e.raw()))
            .map(|e| (e.line(), e.key().to_owned()));
        Self::checked(path, doc, open_quote, None)
    }

    /// The checks every file passes: no stray line, no unclosed quote (`unterminated`, the
    /// first in the file), at most one public key, under the right name, well formed.
    fn checked(
        path: &Path,
        doc: Document,
        unterminated: Option<(usize, String)>,
        encrypted: Option<bool>,
    ) -> Result<Self> {
        if let Some(&line) = doc.stray_lines().first() {
            return Err(Error::MalformedLine {
                path: path.to_owned(),
                line,
            });
        }
        if let Some((line, key)) = unterminated {
            return Err(Error::UnterminatedQuote {
                path: path.to_owned(),
                line,
                key,
            });
        }
        let mut file = Self {
            path: path.to_owned(),
            names: KeyNames::for_file(path),
            doc,
            public: None,
            encrypted,
        };
        file.read_public_key()?;
        Ok(file)
    }

    /// The file's public key. A file declares at most one (`DOTENV_PUBLIC_KEY…` once), under
    /// the name its file name calls for: an appended second declaration, or one copied from
    /// another environment's file, would otherwise decide which key new secrets go to.
    fn read_public_key(&mut self) -> Result<()> {
        let mut declarations = self
            .doc
            .entries()
            .iter()
            .filter(|e| e.key().starts_with(PUBLIC_KEY_PREFIX));
        let Some(entry) = declarations.next() else {
            return Ok(());
        };
        if let Some(extra) = declarations.next() {
            return Err(Error::ExtraPublicKey {
                path: self.path.clone(),
                line: extra.line(),
                key: extra.key().to_owned(),
            });
        }
        if entry.key() != self.names.public {
            return Err(Error::PublicKeyName {
                path: self.path.clone(),
                line: entry.line(),
                key: entry.key().to_owned(),
                expected: self.names.public.clone(),
            });
        }
        let key = entry
            .value()
            .parse::<PublicKey>()
            .map_err(|cause| Error::InvalidPublicKey {
                path: self.path.clone(),
                line: entry.line(),
                key: entry.key().to_owned(),
                cause,
            })?;
        self.public = Some((key, entry.line()));
        Ok(())
    }

    /// The path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed document.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The parsed document, for editing.
    pub fn document_mut(&mut self) -> &mut Document {
        &mut self.doc
    }

    /// The key variable names.
    pub fn names(&self) -> &KeyNames {
        &self.names
    }

    /// The public key the file declares.
    pub fn public_key(&self) -> Option<&PublicKey> {
        self.public.as_ref().map(|(key, _)| key)
    }

    /// Records a public key added to the document (after a header was inserted).
    pub(crate) fn set_public_key(&mut self, key: PublicKey, names: KeyNames) {
        self.public = Some((key, 0));
        self.names = names;
    }

    /// Does any entry hold an encrypted value?
    pub fn has_encrypted_values(&self) -> bool {
        if let Some(encrypted) = self.encrypted {
            return encrypted;
        }
        self.doc
            .entries()
            .iter()
            .any(|e| e.value_starts_with(ENCRYPTED_PREFIX))
    }

    /// Gathers candidate keys and picks the one for this file.
    ///
    /// # Errors
    /// As [`KeyRing::collect`].
    pub fn decryptor(
        &self,
        search: &KeySearch<'_>,
        cache: &mut KeysFileCache,
    ) -> Result<Decryptor> {
        let mut ring = KeyRing::collect(&self.path, &self.names.private, search, cache)?;
        // Last source: a wrapped key opened with the user's identities, only when no earlier
        // source has the key (opening may run a command or ask a hardware key).
        if let (Some(identities), Some(public)) = (search.identities, self.public_key())
            && ring.find(public).is_none()
        {
            let (found, searched) =
                crate::access::discover(&self.path, &self.names.private, public, identities);
            ring.add_late(found, searched);
        }
        let mut decryptor = Decryptor {
            path: self.path.clone(),
            private_name: self.names.private.clone(),
            public: self.public_key().copied(),
            ring,
            cache: None,
        };
        // The warm path (core/src/cache.rs): only with the file's own private key in hand.
        decryptor.cache = match (search.cache, decryptor.matching()) {
            (Some(keys), Some(matching)) => keys.for_file(&self.path, &matching.key),
            _ => None,
        };
        Ok(decryptor)
    }
}

/// From this many values on, decryption and encryption are spread over threads. On the
/// developers' 2-core machine threads beat one thread from 8 to 16 values (one decryption costs
/// about 40 µs, starting a thread a few); `bench/bench.py` prints the crossover it measures.
/// The margin keeps small files, the common case, on one thread.
pub const PARALLEL_THRESHOLD: usize = 32;

/// Decrypts the values of one file with its key ring.
pub struct Decryptor {
    path: PathBuf,
    private_name: String,
    public: Option<PublicKey>,
    ring: KeyRing,
    /// The cached AES keys of this file's values, for the matching key only.
    cache: Option<Arc<FileCache>>,
}

impl Decryptor {
    /// The candidate that matches the file's public key, if any.
    pub fn matching(&self) -> Option<&Candidate> {
        self.public
            .as_ref()
            .and_then(|public| self.ring.find(public))
    }

    /// Where the matching key came from.
    pub fn source(&self) -> Option<&KeySource> {
        self.matching().map(|c| &c.source)
    }

    /// The key ring.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// Decrypts the stored text of `entry` with the private key that matches the file's own
    /// public key, and with no other: a ciphertext copied in from another environment's file
    /// does not open here even on a machine that holds both keys.
    ///
    /// # Errors
    /// [`Error::EncryptedWithoutPublicKey`] when the file declares no public key;
    /// [`Error::NoPrivateKey`] when no candidate matches it; [`Error::Decrypt`] when the
    /// matching key fails (the value was altered or made for another key);
    /// [`Error::DecryptedNotUtf8`].
    pub fn decrypt(&self, entry: &Entry) -> Result<SecretString> {
        let stored = entry.value();
        let payload = crypto::decode_payload(&stored).map_err(|cause| self.failed(entry, cause))?;
        // The warm path (core/src/cache.rs) gives the same result, errors included.
        self.open_decoded(entry, |key| match &self.cache {
            Some(cache) => cache.open(key, &payload),
            None => crypto::open(key, &payload),
        })
    }

    /// The checks and the result of [`Decryptor::decrypt`] once the payload is decoded;
    /// `open` opens it with the matching private key.
    fn open_decoded(
        &self,
        entry: &Entry,
        open: impl FnOnce(
            &crate::keys::PrivateKey,
        ) -> std::result::Result<Zeroizing<Vec<u8>>, CryptoError>,
    ) -> Result<SecretString> {
        if self.public.is_none() {
            return Err(Error::EncryptedWithoutPublicKey {
                path: self.path.clone(),
                line: entry.line(),
                key: entry.key().to_owned(),
            });
        }
        let Some(candidate) = self.matching() else {
            return Err(self.no_key());
        };
        let bytes = open(&candidate.key).map_err(|c| self.failed(entry, c))?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|e| {
            let mut bytes = e.into_bytes();
            zeroize::Zeroize::zeroize(&mut bytes);
            Error::DecryptedNotUtf8 {
                path: self.path.clone(),
                line: entry.line(),
                key: entry.key().to_owned(),
            }
        })?;
        Ok(SecretString::new(text))
    }

    /// For a writer that is about to encrypt to the file's public key: when a private key is
    /// held under the file's own variable name (environment, key command, keys files) and none
    /// of those matches the declared public key, the declaration was probably changed by
    /// someone else, and new secrets would go to a key nobody here can open.
    ///
    /// # Errors
    /// [`Error::PublicKeyMismatch`].
    pub fn check_writable(&self) -> Result<()> {
        let Some(public) = &self.public else {
            return Ok(());
        };
        let own: Vec<&Candidate> = self.ring.own().collect();
        if own.is_empty() || own.iter().any(|c| c.key.public_key() == public) {
            return Ok(());
        }
        Err(Error::PublicKeyMismatch {
            path: self.path.clone(),
            key_name: self.private_name.clone(),
            declared: public.short(),
            held: own[0].key.public_key().short(),
        })
    }

    /// Decrypts `entries`, in order. With at least [`PARALLEL_THRESHOLD`] of them the work is
    /// spread over the machine's cores; the results (and so any error reported first) are the
    /// same as a sequential run's.
    pub fn decrypt_many(&self, entries: &[&Entry]) -> InOrder<Result<SecretString>> {
        self.decrypt_many_from(entries, PARALLEL_THRESHOLD)
    }

    /// As [`Decryptor::decrypt_many`], with threads from `parallel_from` entries on (the
    /// benchmark uses this to find where threads start to pay).
    ///
    /// With the key cache, the values whose key it holds cost one AES-GCM check each: they
    /// are opened first, on this thread, since threads would add only their start-up and
    /// contention in the allocator; the others (an elliptic-curve multiplication each) are
    /// spread over the cores. The results are in `entries`' order either way.
    pub fn decrypt_many_from(
        &self,
        entries: &[&Entry],
        parallel_from: usize,
    ) -> InOrder<Result<SecretString>> {
        let Some(cache) = self.cache.as_ref().filter(|c| !c.is_empty()) else {
            return map_in_order(entries, parallel_from, |e| self.decrypt(e));
        };
        let mut results: Vec<Option<Result<SecretString>>> = Vec::with_capacity(entries.len());
        let mut cold: Vec<(usize, &Entry)> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let warm = match crypto::decode_payload(&entry.value()) {
                // Fails at once, as decrypt would.
                Err(_) => Some(self.decrypt(entry)),
                Ok(payload) => crypto::ephemeral(&payload)
                    .ok()
                    .and_then(|e| cache.lookup(e))
                    .map(|aes_key| {
                        self.open_decoded(entry, |_| crypto::open_with_key(&aes_key, &payload))
                    }),
            };
            if warm.is_none() {
                cold.push((i, *entry));
            }
            results.push(warm);
        }
        let cold_entries: Vec<&Entry> = cold.iter().map(|(_, e)| *e).collect();
        for ((i, _), result) in cold
            .iter()
            .zip(map_in_order(&cold_entries, parallel_from, |e| {
                self.decrypt(e)
            }))
        {
            results[*i] = Some(result);
        }
        let results: Vec<Result<SecretString>> = results.into_iter().flatten().collect();
        vec![results].into_iter().flatten()
    }

    fn failed(&self, entry: &Entry, cause: CryptoError) -> Error {
        Error::Decrypt {
            path: self.path.clone(),
            line: entry.line(),
            key: entry.key().to_owned(),
            cause,
        }
    }

    /// The error for a file whose key was not found.
    pub fn no_key(&self) -> Error {
        Error::NoPrivateKey {
            path: self.path.clone(),
            key_name: self.private_name.clone(),
            public: self.public.as_ref().map(PublicKey::short),
            searched: self.ring.searched().to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::crypto::encrypt_value;
    use crate::discover::{Candidate, KeySource};
    use crate::keys::PrivateKey;

    /// A file of many values, two of them (K300 and K450) damaged, and its key.
    fn many_values_two_broken() -> (String, PrivateKey) {
        let key = PrivateKey::generate();
        let mut text = format!("DOTENV_PUBLIC_KEY=\"{}\"\n", key.public_key().to_hex());
        for i in 0..(PARALLEL_THRESHOLD.max(300) * 2 + 7) {
            let mut stored = encrypt_value(key.public_key(), format!("value-{i}").as_bytes());
            if i == 300 || i == 450 {
                stored.replace_range(40..41, "*");
            }
            text.push_str(&format!("K{i}={stored}\n"));
        }
        (text, key)
    }

    /// `file`'s decryptor with `key` supplied (and the key cache, when given) as its sources.
    fn decryptor_for(
        file: &EnvFile,
        key: &PrivateKey,
        cache: Option<&crate::cache::KeyCache>,
    ) -> Decryptor {
        let supplied = [Candidate {
            key: key.clone(),
            source: KeySource::Supplied("test".to_owned()),
        }];
        let env = HashMap::new();
        let search = KeySearch {
            cache,
            ..KeySearch::new(&env, &supplied)
        };
        file.decryptor(&search, &mut KeysFileCache::default())
            .unwrap()
    }

    fn assert_same(a: &[Result<SecretString>], b: &[Result<SecretString>]) {
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            match (a, b) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("the two runs disagree"),
            }
        }
    }

    /// With a key cache that holds every other value's key, `decrypt_many` (warm values first
    /// on this thread, the rest over the cores) gives what one thread without a cache gives.
    #[test]
    fn a_partly_warm_cache_changes_no_result_and_no_order() {
        let (text, key) = many_values_two_broken();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, &text).unwrap();
        let file = EnvFile::from_text(&path, &text).unwrap();
        let folder = dir.path().join("cache");
        let decryptor = |cache| decryptor_for(&file, &key, cache);
        let entries: Vec<&Entry> = file.document().entries().iter().skip(1).collect();
        let warming = crate::cache::KeyCache::new(&folder);
        let first = decryptor(Some(&warming));
        for entry in entries.iter().step_by(2) {
            let _ = first.decrypt(entry);
        }
        assert_eq!(warming.save().unwrap(), 1);
        let warm = crate::cache::KeyCache::new(&folder);
        let cached = decryptor(Some(&warm));
        let cache = cached.cache.as_ref().unwrap();
        let held = entries
            .iter()
            .filter_map(|e| crypto::decode_payload(&e.value()).ok())
            .filter(|p| cache.lookup(crypto::ephemeral(p).unwrap()).is_some())
            .count();
        assert_eq!(
            held,
            entries.len() / 2 - 1,
            "every other value but K300 and K450"
        );
        let got: Vec<_> = cached.decrypt_many(&entries).collect();
        let plain = decryptor(None);
        let expected: Vec<_> = entries.iter().map(|e| plain.decrypt(e)).collect();
        assert_same(&got, &expected);
    }

    /// Parallel decryption changes nothing: same values, same errors, same order.
    #[test]
    fn parallel_decryption_matches_sequential() {
        let (text, key) = many_values_two_broken();
        let file = EnvFile::from_text(Path::new(".env"), &text).unwrap();
        let decryptor = decryptor_for(&file, &key, None);
        let entries: Vec<&Entry> = file.document().entries().iter().skip(1).collect();
        let parallel: Vec<_> = decryptor.decrypt_many(&entries).collect();
        let sequential: Vec<_> = entries.iter().map(|e| decryptor.decrypt(e)).collect();
        assert_same(&parallel, &sequential);
        let first_error = parallel.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            first_error.to_string().contains("cannot decrypt K300"),
            "{first_error}"
        );
    }
}
