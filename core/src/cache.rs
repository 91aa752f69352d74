//! The warm path for repeated runs: a per-file cache of the AES keys of values already opened
//! once, so that opening them again costs AES-GCM only, not an elliptic-curve multiplication.
//!
//! What is cached. A value's AES key is `HKDF(E ‖ d·E)`: it depends only on the value's
//! ephemeral public key `E` and the file's private key `d`, never on the nonce, tag or
//! ciphertext. The cache maps `E` (65 bytes, as stored) to that key. Opening a value through the
//! cache runs the same AES-GCM check as without it, so a hit gives exactly the result the
//! elliptic-curve path would: the same plaintext, or the same authentication error for a value
//! whose ciphertext was altered. A value re-encrypted (new `E`) simply misses. Plaintexts are
//! never stored: a cache entry is useless without the committed ciphertext, and both together
//! give nothing that the private key does not already give.
//!
//! How it is kept. One file per env file, in a folder the caller names (the CLI uses
//! `$XDG_CACHE_HOME/envx` or `~/.cache/envx`); folder 0700, file 0600, replaced atomically by
//! a rename. The whole file is sealed with AES-256-GCM under a key derived by HKDF-SHA256 from
//! the env file's private key, bound to its public key and canonical path: without the private
//! key the file reveals nothing, and no one without it can forge or alter an entry. A file that
//! does not open (damaged, truncated, another file's cache, another key's) is ignored, and
//! replaced on the next save. A cache is only ever opened with the private key in hand, so it
//! is never used without it.
//!
//! The rename is not followed by `fsync`: a cache torn by a crash fails authentication and is
//! rebuilt, which costs one cold run, not a result.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hkdf::Hkdf;
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError, POINT_LEN};
use crate::keys::PrivateKey;

/// The first bytes of a cache file: format and version.
const MAGIC: &[u8; 8] = b"envxkc01";
/// HKDF salt for the sealing key (domain separation from every other use of the key).
const SEAL_SALT: &[u8] = b"envx key cache v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// One entry: the ephemeral key `E` and the AES key it leads to.
const RECORD: usize = POINT_LEN + 32;
/// At most this many entries per file (about 25 MB); past it, entries not used in this run are
/// dropped first.
const MAX_ENTRIES: usize = 1 << 18;

/// The caches of the env files one command opens, under one folder.
pub struct KeyCache {
    folder: PathBuf,
    files: Mutex<Vec<Arc<FileCache>>>,
}

impl KeyCache {
    /// A cache kept in `folder` (created, mode 0700, on the first save).
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
            files: Mutex::new(Vec::new()),
        }
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// The cache of `env_file`, opened with its private key `key`: what an earlier run saved,
    /// if it authenticates, or an empty cache. `None` when the env file's path cannot be
    /// resolved (then it is not cached).
    pub fn for_file(&self, env_file: &Path, key: &PrivateKey) -> Option<Arc<FileCache>> {
        let canonical = fs::canonicalize(env_file).ok()?;
        let public = key.public_key().to_hex();
        let public = public.as_bytes();
        let mut name = Sha256::new();
        name.update(SEAL_SALT);
        name.update([0]);
        name.update(public);
        name.update(canonical.as_os_str().as_encoded_bytes());
        let name: String = name.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = self.folder.join(format!("{name}.cache"));
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = files.iter().find(|f| f.path == path) {
            return Some(Arc::clone(file));
        }
        let seal = seal_key(key, public, &canonical);
        let mut aad = MAGIC.to_vec();
        aad.extend_from_slice(public);
        let known = read_sealed(&path, &seal, &aad).unwrap_or_default();
        let file = Arc::new(FileCache {
            path,
            seal,
            aad,
            known,
            learned: Mutex::new(Zeroizing::new(Vec::new())),
        });
        files.push(Arc::clone(&file));
        Some(file)
    }

    /// Writes every file cache that learned keys in this run; returns how many were written.
    /// Call it once the command has succeeded: a failed command leaves no trace.
    ///
    /// # Errors
    /// The first I/O error (creating the folder, writing or renaming a file).
    pub fn save(&self) -> io::Result<usize> {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let mut written = 0;
        for file in files.iter() {
            if file.save(&self.folder)? {
                written += 1;
            }
        }
        Ok(written)
    }
}

/// The cached AES keys of one env file's values.
pub struct FileCache {
    /// The cache file.
    path: PathBuf,
    /// The key that seals it.
    seal: Zeroizing<[u8; 32]>,
    /// Associated data: magic and public key.
    aad: Vec<u8>,
    /// Entries read from disk, sorted by `E`.
    known: Zeroizing<Vec<u8>>,
    /// Entries learned in this run, in no order.
    learned: Mutex<Zeroizing<Vec<u8>>>,
}

impl FileCache {
    /// The AES key cached for the ephemeral key `ephemeral`. **This is key material.**
    pub fn lookup(&self, ephemeral: &[u8; POINT_LEN]) -> Option<Zeroizing<[u8; 32]>> {
        let records = self.known.len() / RECORD;
        let (mut low, mut high) = (0, records);
        while low < high {
            let mid = low + (high - low) / 2;
            let record = &self.known[mid * RECORD..(mid + 1) * RECORD];
            match record[..POINT_LEN].cmp(ephemeral.as_slice()) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => {
                    let mut key = Zeroizing::new([0u8; 32]);
                    key.copy_from_slice(&record[POINT_LEN..]);
                    return Some(key);
                }
            }
        }
        None
    }

    /// Whether an earlier run saved no key for this file (a cold run: nothing to look up).
    pub fn is_empty(&self) -> bool {
        self.known.is_empty()
    }

    /// Remembers the AES key of `ephemeral`, to be saved by [`KeyCache::save`].
    pub fn record(&self, ephemeral: &[u8; POINT_LEN], aes_key: &[u8; 32]) {
        let mut learned = self.learned.lock().unwrap_or_else(PoisonError::into_inner);
        if learned.len() + RECORD > learned.capacity() {
            // Grow by hand so that no copy of the old keys is left unwiped.
            let mut grown = Zeroizing::new(Vec::with_capacity((learned.len() + RECORD) * 2));
            grown.extend_from_slice(&learned);
            *learned = grown;
        }
        learned.extend_from_slice(ephemeral);
        learned.extend_from_slice(aes_key);
    }

    /// Opens a payload with `key`, the private key this cache was opened with: from the cache
    /// when `E` is known, otherwise by the elliptic-curve path, remembering the key when the
    /// value opens. The result is the one [`crypto::open`] gives, error included.
    ///
    /// # Errors
    /// As [`crypto::open`].
    pub fn open(
        &self,
        key: &PrivateKey,
        payload: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let ephemeral = crypto::ephemeral(payload)?;
        if let Some(aes_key) = self.lookup(ephemeral) {
            return crypto::open_with_key(&aes_key, payload);
        }
        let aes_key = crypto::payload_key(key, payload)?;
        let opened = crypto::open_with_key(&aes_key, payload)?;
        self.record(ephemeral, &aes_key);
        Ok(opened)
    }

    /// Writes the cache when it learned something: the new entries and the old ones, sorted.
    fn save(&self, folder: &Path) -> io::Result<bool> {
        let learned = self.learned.lock().unwrap_or_else(PoisonError::into_inner);
        if learned.is_empty() {
            return Ok(false);
        }
        // New entries first, so that the cap drops old ones.
        let mut records: Vec<&[u8]> = learned
            .chunks_exact(RECORD)
            .chain(self.known.chunks_exact(RECORD))
            .collect();
        records.truncate(MAX_ENTRIES);
        records.sort_unstable_by(|a, b| a[..POINT_LEN].cmp(&b[..POINT_LEN]));
        records.dedup_by(|a, b| a[..POINT_LEN] == b[..POINT_LEN]);
        let mut body = Zeroizing::new(Vec::with_capacity(
            MAGIC.len() + NONCE_LEN + records.len() * RECORD + TAG_LEN,
        ));
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&nonce);
        for record in records {
            body.extend_from_slice(record);
        }
        let start = MAGIC.len() + NONCE_LEN;
        let tag = Aes256Gcm::new((&*self.seal).into())
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &self.aad, &mut body[start..])
            .map_err(|_| io::Error::other("the cache is too large to seal"))?;
        body.extend_from_slice(&tag);
        write_private(folder, &self.path, &body)?;
        Ok(true)
    }
}

/// The sealing key: HKDF-SHA256 of the private key, bound to the public key and the env file's
/// canonical path (so one file's cache does not open as another's).
fn seal_key(key: &PrivateKey, public: &[u8], canonical: &Path) -> Zeroizing<[u8; 32]> {
    let secret = Zeroizing::new(key.as_scalar().to_bytes());
    let mut info = public.to_vec();
    info.extend_from_slice(canonical.as_os_str().as_encoded_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(SEAL_SALT), secret.as_slice())
        .expand(&info, out.as_mut())
        // 32 bytes is far below HKDF-SHA256's limit.
        .unwrap_or_else(|_| unreachable!("HKDF output length is valid"));
    out
}

/// The entries of a sealed cache file, or `None` when it is missing or does not authenticate.
fn read_sealed(path: &Path, seal: &[u8; 32], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let max = MAGIC.len() + NONCE_LEN + MAX_ENTRIES * RECORD + TAG_LEN;
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > max as u64 {
        return None;
    }
    let mut bytes = Zeroizing::new(fs::read(path).ok()?);
    let head = MAGIC.len() + NONCE_LEN;
    if bytes.len() < head + TAG_LEN || !bytes.starts_with(MAGIC) {
        return None;
    }
    let tag_at = bytes.len() - TAG_LEN;
    let (front, tag) = bytes.split_at_mut(tag_at);
    let tag = Tag::clone_from_slice(tag);
    let (header, body) = front.split_at_mut(head);
    Aes256Gcm::new(seal.into())
        .decrypt_in_place_detached(Nonce::from_slice(&header[MAGIC.len()..]), aad, body, &tag)
        .ok()?;
    if body.len() % RECORD != 0 {
        return None;
    }
    Some(Zeroizing::new(body.to_vec()))
}

/// Writes `contents` to `path` through a temporary file (0600) renamed into place, creating
/// `folder` with mode 0700 when missing.
fn write_private(folder: &Path, path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(folder)?;
    // `tempfile` creates its files 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(".envx-tmp-")
        .tempfile_in(folder)?;
    tmp.write_all(contents)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{decode_payload, encrypt_value};

    struct Setup {
        _dir: tempfile::TempDir,
        folder: PathBuf,
        env_file: PathBuf,
        key: PrivateKey,
        payloads: Vec<Vec<u8>>,
    }

    fn setup(values: usize) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let env_file = dir.path().join(".env");
        fs::write(&env_file, "A=1\n").unwrap();
        let key = PrivateKey::generate();
        let payloads = (0..values)
            .map(|i| {
                decode_payload(&encrypt_value(key.public_key(), format!("v{i}").as_bytes()))
                    .unwrap()
            })
            .collect();
        Setup {
            folder: dir.path().join("cache/envx"),
            _dir: dir,
            env_file,
            key,
            payloads,
        }
    }

    /// Opens every payload through a fresh cache (as one run would), saves, and returns how
    /// many came from the cache.
    fn run(s: &Setup) -> usize {
        let cache = KeyCache::new(&s.folder);
        let file = cache.for_file(&s.env_file, &s.key).unwrap();
        let mut hits = 0;
        for payload in &s.payloads {
            let e = crypto::ephemeral(payload).unwrap();
            hits += usize::from(file.lookup(e).is_some());
            assert_eq!(
                file.open(&s.key, payload).unwrap(),
                crypto::open(&s.key, payload).unwrap()
            );
        }
        cache.save().unwrap();
        hits
    }

    fn cache_file(s: &Setup) -> PathBuf {
        let files: Vec<_> = fs::read_dir(&s.folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        files[0].clone()
    }

    #[test]
    fn a_second_run_opens_every_value_from_the_cache() {
        let s = setup(20);
        assert_eq!(run(&s), 0);
        assert_eq!(run(&s), 20);
    }

    #[test]
    fn a_hit_gives_the_same_result_as_the_curve_path_errors_included() {
        let s = setup(3);
        run(&s);
        let cache = KeyCache::new(&s.folder);
        let file = cache.for_file(&s.env_file, &s.key).unwrap();
        // Same E, altered ciphertext or tag: the cached key meets the same GCM check.
        for at in [POINT_LEN + 3, POINT_LEN + 20, s.payloads[0].len() - 1] {
            let mut altered = s.payloads[0].clone();
            altered[at] ^= 1;
            assert!(file.lookup(crypto::ephemeral(&altered).unwrap()).is_some());
            assert_eq!(
                file.open(&s.key, &altered).err(),
                crypto::open(&s.key, &altered).err()
            );
            assert_eq!(
                file.open(&s.key, &altered).err(),
                Some(CryptoError::Decrypt)
            );
        }
        let short = &s.payloads[0][..50];
        assert_eq!(
            file.open(&s.key, short).err(),
            Some(CryptoError::Truncated { len: 50 })
        );
        let mut bad_point = s.payloads[1].clone();
        bad_point[1..POINT_LEN].fill(0xff);
        assert_eq!(
            file.open(&s.key, &bad_point).err(),
            Some(CryptoError::EphemeralKey)
        );
        // Failures teach the cache nothing.
        assert_eq!(cache.save().unwrap(), 0);
    }

    /// Each way of damaging the file: the cache is ignored (every value misses and still opens)
    /// and the next save writes a good one.
    #[test]
    fn a_tampered_cache_is_ignored_and_rebuilt() {
        type Damage = fn(&mut Vec<u8>);
        let damages: [(&str, Damage); 6] = [
            ("flipped byte in the body", |b| b[40] ^= 1),
            ("flipped byte in the tag", |b| *b.last_mut().unwrap() ^= 1),
            ("flipped byte in the nonce", |b| b[9] ^= 1),
            ("truncated", |b| b.truncate(b.len() - 7)),
            ("whole entries swapped", |b| {
                let at = MAGIC.len() + NONCE_LEN;
                let (first, rest) = b[at..].split_at_mut(RECORD);
                first.swap_with_slice(&mut rest[..RECORD]);
            }),
            ("empty", Vec::clear),
        ];
        for (what, damage) in damages {
            let s = setup(5);
            run(&s);
            let path = cache_file(&s);
            let mut bytes = fs::read(&path).unwrap();
            damage(&mut bytes);
            fs::write(&path, &bytes).unwrap();
            assert_eq!(run(&s), 0, "{what}: the damaged cache was used");
            assert_eq!(run(&s), 5, "{what}: the cache was not rebuilt");
        }
    }

    #[test]
    fn another_files_or_another_keys_cache_does_not_open() {
        let s = setup(4);
        run(&s);
        let good = fs::read(cache_file(&s)).unwrap();

        // The same key, another env file: its cache has another name; copied over, it fails.
        let other_file = s.env_file.with_file_name(".env.other");
        fs::write(&other_file, "B=2\n").unwrap();
        let cache = KeyCache::new(&s.folder);
        let other = cache.for_file(&other_file, &s.key).unwrap();
        fs::write(&other.path, &good).unwrap();
        let other = KeyCache::new(&s.folder)
            .for_file(&other_file, &s.key)
            .unwrap();
        assert!(other.known.is_empty());

        // Another key for the same file.
        let stranger = PrivateKey::generate();
        let theirs = KeyCache::new(&s.folder)
            .for_file(&s.env_file, &stranger)
            .unwrap();
        fs::write(&theirs.path, &good).unwrap();
        let theirs = KeyCache::new(&s.folder)
            .for_file(&s.env_file, &stranger)
            .unwrap();
        assert!(theirs.known.is_empty());
        let e = crypto::ephemeral(&s.payloads[0]).unwrap();
        assert!(theirs.lookup(e).is_none());
    }

    #[test]
    fn the_file_is_private_and_holds_no_key_or_value_in_clear() {
        let s = setup(6);
        run(&s);
        let path = cache_file(&s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&s.folder), 0o700);
        }
        let bytes = fs::read(&path).unwrap();
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        for payload in &s.payloads {
            let aes_key = crypto::payload_key(&s.key, payload).unwrap();
            assert!(!contains(aes_key.as_ref()), "an AES key is stored in clear");
            assert!(
                !contains(&payload[1..33]),
                "an ephemeral key is stored in clear"
            );
        }
        assert!(!contains(s.key.as_scalar().to_bytes().as_slice()));
        // Only the temporary file's rename put it there: no leftovers.
        assert_eq!(fs::read_dir(&s.folder).unwrap().count(), 1);
    }

    #[test]
    fn nothing_is_written_until_something_is_learned() {
        let s = setup(2);
        let cache = KeyCache::new(&s.folder);
        cache.for_file(&s.env_file, &s.key).unwrap();
        assert_eq!(cache.save().unwrap(), 0);
        assert!(!s.folder.exists());
    }
}
