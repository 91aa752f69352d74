//! The seal: one comment line, signed with the file's own private key, that says "a holder of
//! this key approved exactly this file".
//!
//! ```text
//! #envx-seal v1 seq=3 line=6 text=<sha-256 hex> keys=NAME:xxxxxxxx,… sig=<BIP-340 signature hex>
//! ```
//!
//! **What it covers.** Every byte of the file except the seal line itself, after two
//! normalisations that change nothing dotenvx or envx reads: a leading BOM is dropped and every
//! line end (`\r\n`, a lone `\r`) becomes `\n` (so a checkout with CRLF line ends still
//! verifies). That is every assignment (names, stored values with their quotes, order,
//! duplicates), the public key line, `# envx-…` directive comments, and also ordinary comments,
//! blank lines and spacing: covering the text rather than a parse of it means that no
//! difference between two parsers can hide a change.
//!
//! **The line.** `text=` is the SHA-256 of that normalised text; `keys=` lists, in file order,
//! each assignment's name and the first 4 bytes of SHA-256(`envx-seal entry\n` ‖ name ‖ 0 ‖
//! stored raw value), so that a verifier can name the keys that changed since the seal
//! (the signature, not these short digests, is what decides); `seq=` is a sequence number that
//! grows with every seal of the file; `line=` is the seal line's own line number, so that moving
//! the line (into a multi-line value, where the parser would read it as part of the value)
//! breaks the seal although the covered text is the same. The signature is BIP-340 Schnorr over secp256k1 with the
//! file's private key (x-only public key), over the 32-byte message SHA-256(`envx-seal v1\n` ‖
//! the line's text from `v1` up to, not including, ` sig=`). Anyone with the public key can
//! check it; only a holder of the private key can make it.
//!
//! These are pure functions over text and keys: they read no file and no clock.

use std::fmt;

use k256::NonZeroScalar;
use k256::elliptic_curve::sec1::ToEncodedPoint as _;
use k256::schnorr::{Signature, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore as _};
use sha2::{Digest as _, Sha256};

use crate::document::Document;
use crate::keys::{PrivateKey, PublicKey};
use crate::names::PUBLIC_KEY_PREFIX;
use crate::secret::wipe;

/// Every seal line starts with this, at the very start of a line.
pub const SEAL_PREFIX: &str = "#envx-seal ";
/// The seal format this module writes and reads.
pub const SEAL_VERSION: &str = "v1";
/// Prefix of the signed message.
const DOMAIN: &[u8] = b"envx-seal v1\n";
/// Prefix of each key's digest.
const ENTRY_DOMAIN: &[u8] = b"envx-seal entry\n";
/// Bytes of each key's digest kept in the line.
const DIGEST_LEN: usize = 4;

/// Why a file cannot be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// No `DOTENV_PUBLIC_KEY…` line, or one that is not a valid key.
    #[error("the file declares no valid public key, so there is no key pair to seal it with")]
    NoPublicKey,
    /// The private key given is not the file's.
    #[error("the private key does not match the file's public key {0}…")]
    WrongKey(String),
    /// The sequence number cannot grow any further.
    #[error("the seal's sequence number cannot grow any further")]
    SequenceExhausted,
    /// The signing primitive failed (a negligible-probability event in BIP-340).
    #[error("signing failed")]
    Signing,
}

/// One assignment as the seal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedKey {
    /// The key's name.
    pub name: String,
    /// The first bytes of the digest of its name and stored raw value.
    pub digest: [u8; DIGEST_LEN],
}

/// A parsed seal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The sequence number.
    pub seq: u64,
    /// The 1-based line number the seal line was written on.
    pub line: usize,
    /// SHA-256 of the covered text.
    pub text: [u8; 32],
    /// The `keys=` field (validated): see [`Seal::keys`].
    keys: String,
    signature: [u8; 64],
    /// The signed part of the line (from `v1` to before ` sig=`).
    body: String,
}

impl Seal {
    /// The assignments at sealing time, in file order. (Decoded only when asked for: a seal
    /// that verifies never needs them.)
    pub fn keys(&self) -> Vec<SealedKey> {
        key_items(&self.keys)
            .filter_map(Result::ok)
            .map(|(name, digest)| SealedKey {
                name: name.to_owned(),
                digest,
            })
            .collect()
    }
}

/// The items of a `keys=` field: `NAME:digest`, comma-separated, none empty.
fn key_items(field: &str) -> impl Iterator<Item = Result<(&str, [u8; DIGEST_LEN]), Problem>> {
    field
        .split(',')
        .filter(move |_| !field.is_empty())
        .map(|item| {
            let (name, digest) = item
                .rsplit_once(':')
                .ok_or(Problem::Malformed("a keys= item is not NAME:digest"))?;
            if name.is_empty() {
                return Err(Problem::Malformed("a keys= item has no name"));
            }
            let digest = decode_hex::<DIGEST_LEN>(digest)
                .ok_or(Problem::Malformed("a keys= digest is not 8 hex digits"))?;
            Ok((name, digest))
        })
}

/// What differs between the sealed file and the file as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A key the seal does not list.
    Added(String),
    /// A sealed key that is gone.
    Removed(String),
    /// A key whose stored value (or quoting) differs.
    Changed(String),
    /// A key that now appears more often than when sealed (a duplicate overrides).
    Duplicated(String),
    /// A key that now appears less often than when sealed.
    DuplicateRemoved(String),
    /// The same keys and values in another order.
    Reordered,
    /// Only lines that are not assignments differ: comments, blank lines, spacing.
    OtherLines,
}

impl Change {
    /// The key this change is about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Added(k)
            | Self::Removed(k)
            | Self::Changed(k)
            | Self::Duplicated(k)
            | Self::DuplicateRemoved(k) => Some(k),
            Self::Reordered | Self::OtherLines => None,
        }
    }

    /// One word for the kind of change (`added`, `removed`, …), for tables and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Added(_) => "added",
            Self::Removed(_) => "removed",
            Self::Changed(_) => "changed",
            Self::Duplicated(_) => "duplicated",
            Self::DuplicateRemoved(_) => "duplicate removed",
            Self::Reordered => "reordered",
            Self::OtherLines => "other lines changed",
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Added(k) => write!(f, "{k} added"),
            Self::Removed(k) => write!(f, "{k} removed"),
            Self::Changed(k) => write!(f, "{k} changed"),
            Self::Duplicated(k) => write!(f, "{k} added again (a duplicate overrides it)"),
            Self::DuplicateRemoved(k) => write!(f, "a duplicate of {k} removed"),
            Self::Reordered => f.write_str("the keys were reordered"),
            Self::OtherLines => f.write_str(
                "a line that is not an assignment changed (comment, blank line or spacing)",
            ),
        }
    }
}

/// Why a seal does not verify at all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The seal line is not in the format above.
    Malformed(&'static str),
    /// More than one seal line.
    Several(usize),
    /// The file declares no valid public key to check the seal with.
    NoPublicKey,
    /// The signature does not verify with the key (short form given): the seal line was
    /// altered, or made with another key.
    BadSignature(String),
    /// The seal line is not on the line it was signed for.
    Moved {
        /// The line it was signed for.
        signed: usize,
        /// The line it is on.
        found: usize,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(why) => write!(f, "the seal line is malformed ({why})"),
            Self::Several(n) => write!(f, "the file has {n} seal lines; a sealed file has one"),
            Self::NoPublicKey => {
                f.write_str("the file declares no valid public key to check its seal with")
            }
            Self::Moved { signed, found } => write!(
                f,
                "the seal line was moved (signed for line {signed}, found on line {found})"
            ),
            Self::BadSignature(key) => write!(
                f,
                "the seal's signature does not verify with public key {key}… (the seal line was altered, or made with another key)"
            ),
        }
    }
}

/// The state of a file's seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealState {
    /// No seal line.
    Absent,
    /// The seal verifies: a holder of `signer`'s private key approved exactly this text.
    Valid {
        /// Its sequence number.
        seq: u64,
        /// The key that signed it.
        signer: PublicKey,
        /// The seal itself.
        seal: Seal,
    },
    /// The seal is authentic but the file changed since: `changes` says how.
    Stale {
        /// Its sequence number.
        seq: u64,
        /// The key that signed it.
        signer: PublicKey,
        /// What changed since it was sealed (from the seal's own, signed, list of keys).
        changes: Vec<Change>,
    },
    /// The seal line itself cannot be trusted.
    Invalid {
        /// Why.
        problem: Problem,
        /// What the seal line's (unauthenticated) list of keys says changed; a hint only.
        claimed: Vec<Change>,
    },
}

impl SealState {
    /// `valid`, `stale`, `invalid` or `absent`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Absent => "absent",
            Self::Valid { .. } => "valid",
            Self::Stale { .. } => "stale",
            Self::Invalid { .. } => "invalid",
        }
    }

    /// Does the seal verify?
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// The sequence number of an authentic seal (valid or stale).
    pub fn authentic_seq(&self) -> Option<u64> {
        match self {
            Self::Valid { seq, .. } | Self::Stale { seq, .. } => Some(*seq),
            _ => None,
        }
    }

    /// The keys whose stored values the seal does not cover (changed, added, duplicated),
    /// as far as can be told.
    pub fn unapproved_keys(&self) -> Vec<&str> {
        let changes = match self {
            Self::Stale { changes, .. } => changes,
            Self::Invalid { claimed, .. } => claimed,
            _ => return Vec::new(),
        };
        changes
            .iter()
            .filter(|c| !matches!(c, Change::Removed(_) | Change::DuplicateRemoved(_)))
            .filter_map(Change::key)
            .collect()
    }

    /// One line describing the state, for messages (`valid (seq 3)`, `stale: A changed, …`).
    pub fn describe(&self) -> String {
        match self {
            Self::Absent => "absent (the file is not sealed)".to_owned(),
            Self::Valid { seq, .. } => format!("valid (seq {seq})"),
            Self::Stale { seq, changes, .. } => {
                format!("stale since seq {seq}: {}", join(changes))
            }
            Self::Invalid { problem, claimed } if claimed.is_empty() => {
                format!("invalid: {problem}")
            }
            Self::Invalid { problem, claimed } => format!(
                "invalid: {problem}; the seal line's own list of keys says: {}",
                join(claimed)
            ),
        }
    }
}

fn join(changes: &[Change]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The text the seal covers: `text` without a leading BOM, with every line end as `\n`, and
/// without its seal lines.
pub fn covered_text(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    for range in line_ranges(text) {
        let line = &text[range];
        if line.starts_with(SEAL_PREFIX) {
            continue;
        }
        let content = line.trim_end_matches(['\r', '\n']);
        out.push_str(content);
        if content.len() < line.len() {
            out.push('\n');
        }
    }
    out
}

/// SHA-256 of [`covered_text`]`(text)`, without building that text.
fn covered_hash(text: &str) -> [u8; 32] {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut hasher = Sha256::new();
    for range in line_ranges(text) {
        let line = &text[range];
        if line.starts_with(SEAL_PREFIX) {
            continue;
        }
        let content = line.trim_end_matches(['\r', '\n']);
        hasher.update(content.as_bytes());
        if content.len() < line.len() {
            hasher.update(b"\n");
        }
    }
    hasher.finalize().into()
}

/// Each line of `text` with its line end (`\n`, `\r\n` or a lone `\r`), as byte ranges.
fn line_ranges(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = match memchr::memchr2(b'\n', b'\r', &bytes[start..]) {
            Some(i) if bytes[start + i] == b'\r' && bytes.get(start + i + 1) == Some(&b'\n') => {
                start + i + 2
            }
            Some(i) => start + i + 1,
            None => bytes.len(),
        };
        let range = start..end;
        start = end;
        Some(range)
    })
}

/// The seal lines of `text` (content without the line end), in order.
pub fn seal_lines(text: &str) -> Vec<&str> {
    numbered_seal_lines(text)
        .into_iter()
        .map(|(_, l)| l)
        .collect()
}

/// The seal lines of `text` with their 1-based line numbers.
fn numbered_seal_lines(text: &str) -> Vec<(usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    line_ranges(text)
        .enumerate()
        .map(|(i, r)| (i + 1, text[r].trim_end_matches(['\r', '\n'])))
        .filter(|(_, l)| l.starts_with(SEAL_PREFIX))
        .collect()
}

/// The assignments of a (covered) text as the seal records them.
pub fn sealed_keys(doc: &Document) -> Vec<SealedKey> {
    doc.entries()
        .iter()
        .map(|e| SealedKey {
            name: e.key().to_owned(),
            digest: entry_digest(e.key(), e.raw()),
        })
        .collect()
}

fn entry_digest(name: &str, raw: &str) -> [u8; DIGEST_LEN] {
    let hash = Sha256::new()
        .chain_update(ENTRY_DOMAIN)
        .chain_update(name.as_bytes())
        .chain_update([0u8])
        .chain_update(raw.as_bytes())
        .finalize();
    let mut out = [0u8; DIGEST_LEN];
    out.copy_from_slice(&hash[..DIGEST_LEN]);
    out
}

/// The public key `doc` declares: the last value of the first `DOTENV_PUBLIC_KEY…` name, as
/// [`crate::envfile::EnvFile`] reads it.
pub fn declared_key(doc: &Document) -> Option<PublicKey> {
    let first = doc
        .entries()
        .iter()
        .find(|e| e.key().starts_with(PUBLIC_KEY_PREFIX))?;
    let last = doc.find_last(first.key())?;
    doc.entries()[last].value().parse().ok()
}

/// Parses one seal line (without its line end).
///
/// # Errors
/// [`Problem::Malformed`] naming what is wrong.
pub fn parse_line(line: &str) -> Result<Seal, Problem> {
    let rest = line
        .strip_prefix(SEAL_PREFIX)
        .ok_or(Problem::Malformed("it does not start with #envx-seal"))?;
    let (body, sig) = rest
        .rsplit_once(" sig=")
        .ok_or(Problem::Malformed("no sig= field"))?;
    let mut fields = body.split(' ');
    if fields.next() != Some(SEAL_VERSION) {
        return Err(Problem::Malformed("unknown version; this envx reads v1"));
    }
    let mut field = |name: &'static str| {
        fields
            .next()
            .and_then(|f| f.strip_prefix(name))
            .ok_or(Problem::Malformed(
                "the fields are not seq=, line=, text=, keys=, sig= in order",
            ))
    };
    let (seq_field, line_field) = (field("seq=")?, field("line=")?);
    let seq: u64 = seq_field
        .parse()
        .map_err(|_| Problem::Malformed("seq= is not a number"))?;
    let line: usize = line_field
        .parse()
        .map_err(|_| Problem::Malformed("line= is not a number"))?;
    let text = decode_hex::<32>(field("text=")?)
        .ok_or(Problem::Malformed("text= is not 64 hex digits"))?;
    let keys = field("keys=")?;
    if fields.next().is_some() {
        return Err(Problem::Malformed("unknown fields"));
    }
    key_items(keys).try_for_each(|item| item.map(drop))?;
    let signature =
        decode_hex::<64>(sig).ok_or(Problem::Malformed("sig= is not 128 hex digits"))?;
    // One spelling per seal: a reformatted line (`seq=01`, upper-case hex) is not accepted.
    if seq_field != seq.to_string() || line_field != line.to_string() {
        return Err(Problem::Malformed("not in canonical form"));
    }
    let seal = Seal {
        seq,
        line,
        text,
        keys: keys.to_owned(),
        signature,
        body: body.to_owned(),
    };
    Ok(seal)
}

fn render_body(seq: u64, line: usize, text: &[u8; 32], keys: &[SealedKey]) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|k| format!("{}:{}", k.name, encode_hex(&k.digest)))
        .collect();
    format!(
        "{SEAL_VERSION} seq={seq} line={line} text={} keys={}",
        encode_hex(text),
        list.join(",")
    )
}

fn message(body: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(DOMAIN)
        .chain_update(body.as_bytes())
        .finalize()
        .into()
}

/// The x-only form of `key` that BIP-340 verifies with.
fn verifying_key(key: &PublicKey) -> Option<VerifyingKey> {
    let point = key.as_point().to_affine().to_encoded_point(true);
    VerifyingKey::from_bytes(&point.as_bytes()[1..33]).ok()
}

/// Checks the seal of `text` against `signer`, or against the public key the text declares
/// when `signer` is `None`.
pub fn check(text: &str, signer: Option<&PublicKey>) -> SealState {
    let lines = numbered_seal_lines(text);
    let (number, line) = match lines.as_slice() {
        [] => return SealState::Absent,
        [(number, line)] => (*number, *line),
        several => {
            return SealState::Invalid {
                problem: Problem::Several(several.len()),
                claimed: Vec::new(),
            };
        }
    };
    let seal = match parse_line(line) {
        Ok(seal) => seal,
        Err(problem) => {
            return SealState::Invalid {
                problem,
                claimed: Vec::new(),
            };
        }
    };
    // What changed, from the seal's list: only computed when the seal does not verify.
    let changes = |seal: &Seal| -> Vec<Change> {
        let mut covered = covered_text(text);
        let found = compare(&seal.keys(), &sealed_keys(&Document::parse(&covered)));
        wipe(&mut covered);
        found
    };
    // The parser reads a BOM and CR line ends as it reads the covered text: one parse of the
    // text as it is finds the same public key.
    let signer = match signer {
        Some(key) => *key,
        None => match declared_key(&Document::parse(text)) {
            Some(key) => key,
            None => {
                return SealState::Invalid {
                    problem: Problem::NoPublicKey,
                    claimed: changes(&seal),
                };
            }
        },
    };
    let verified = verifying_key(&signer).is_some_and(|vk| {
        Signature::try_from(seal.signature.as_slice())
            .is_ok_and(|sig| vk.verify_raw(&message(&seal.body), &sig).is_ok())
    });
    if !verified {
        return SealState::Invalid {
            problem: Problem::BadSignature(signer.short()),
            claimed: changes(&seal),
        };
    }
    // The position is signed too: a seal line moved elsewhere (into a multi-line value, say)
    // would change what the parser reads without changing the covered text.
    if number != seal.line {
        return SealState::Invalid {
            problem: Problem::Moved {
                signed: seal.line,
                found: number,
            },
            claimed: changes(&seal),
        };
    }
    if covered_hash(text) == seal.text {
        return SealState::Valid {
            seq: seal.seq,
            signer,
            seal,
        };
    }
    let mut found = changes(&seal);
    if found.is_empty() {
        found.push(Change::OtherLines);
    }
    SealState::Stale {
        seq: seal.seq,
        signer,
        changes: found,
    }
}

/// What differs between the keys a seal lists and the keys a file has now.
pub fn compare(sealed: &[SealedKey], now: &[SealedKey]) -> Vec<Change> {
    let mut names: Vec<&str> = Vec::new();
    for k in now.iter().chain(sealed) {
        if !names.contains(&k.name.as_str()) {
            names.push(&k.name);
        }
    }
    let digests = |list: &[SealedKey], name: &str| -> Vec<[u8; DIGEST_LEN]> {
        list.iter()
            .filter(|k| k.name == name)
            .map(|k| k.digest)
            .collect()
    };
    let mut changes = Vec::new();
    for name in names {
        let (before, after) = (digests(sealed, name), digests(now, name));
        let name = name.to_owned();
        if before.is_empty() {
            changes.push(Change::Added(name));
        } else if after.is_empty() {
            changes.push(Change::Removed(name));
        } else if after.len() > before.len() {
            changes.push(Change::Duplicated(name));
        } else if after.len() < before.len() {
            changes.push(Change::DuplicateRemoved(name));
        } else if before != after {
            changes.push(Change::Changed(name));
        }
    }
    if changes.is_empty() && sealed != now {
        changes.push(Change::Reordered);
    }
    changes
}

/// Seals `text` with `key` at sequence `seq`: returns the text with its seal line replaced (or
/// inserted after the public key line), every other byte kept. `aux` is BIP-340's auxiliary
/// randomness: [`seal_with_os_randomness`] draws it; fixing it makes the result reproducible
/// (the known-answer vectors do).
///
/// # Errors
/// [`SealError::NoPublicKey`], [`SealError::WrongKey`].
pub fn seal(text: &str, key: &PrivateKey, seq: u64, aux: &[u8; 32]) -> Result<String, SealError> {
    let (mut unsealed, at) = without_seal_lines(text)?;
    // Without a BOM or a CR, the text without its seal line is already the covered text.
    let plain = !unsealed.starts_with('\u{feff}') && !unsealed.contains('\r');
    let mut covered = if plain {
        String::new()
    } else {
        covered_text(&unsealed)
    };
    let covered_ref = if plain { &unsealed } else { &covered };
    let doc = Document::parse(covered_ref);
    let hash: [u8; 32] = Sha256::digest(covered_ref.as_bytes()).into();
    wipe(&mut covered);
    let declared = declared_key(&doc).ok_or(SealError::NoPublicKey)?;
    if declared != *key.public_key() {
        return Err(SealError::WrongKey(declared.short()));
    }
    let keys = sealed_keys(&doc);
    drop(doc);
    let bom = if unsealed.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let line_number = line_ranges(&unsealed[bom..at]).count() + 1;
    let body = render_body(seq, line_number, &hash, &keys);
    let scalar: Option<NonZeroScalar> = NonZeroScalar::new(*key.as_scalar()).into();
    let signing = SigningKey::from(scalar.ok_or(SealError::Signing)?);
    let signature = signing
        .sign_raw(&message(&body), aux)
        .map_err(|_| SealError::Signing)?;
    let ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let line = format!(
        "{SEAL_PREFIX}{body} sig={}{ending}",
        encode_hex(&signature.to_bytes())
    );
    unsealed.insert_str(at, &line);
    Ok(unsealed)
}

/// Seals a text that declares no public key of its own, such as an environment's recipients
/// file (`core/src/access`), with the environment's `key`: the seal line goes first (line 1),
/// and `items` (a name and the text it stands for, e.g. a teammate and their recipient line)
/// make its `keys=` list, so that [`compare`] with [`item_keys`] names what changed. The
/// covered text, the signature and [`check`] (given the signer) are as for an env file.
///
/// # Errors
/// [`SealError::Signing`].
pub fn seal_items(
    text: &str,
    key: &PrivateKey,
    seq: u64,
    items: &[(&str, &str)],
) -> Result<String, SealError> {
    let mut unsealed: String = line_ranges(text)
        .map(|r| &text[r])
        .filter(|line| !line.starts_with(SEAL_PREFIX))
        .collect();
    let hash = covered_hash(&unsealed);
    let body = render_body(seq, 1, &hash, &item_keys(items));
    let mut aux = [0u8; 32];
    OsRng.fill_bytes(&mut aux);
    let scalar: Option<NonZeroScalar> = NonZeroScalar::new(*key.as_scalar()).into();
    let signing = SigningKey::from(scalar.ok_or(SealError::Signing)?);
    let signature = signing
        .sign_raw(&message(&body), &aux)
        .map_err(|_| SealError::Signing)?;
    let line = format!(
        "{SEAL_PREFIX}{body} sig={}\n",
        encode_hex(&signature.to_bytes())
    );
    unsealed.insert_str(0, &line);
    Ok(unsealed)
}

/// The `keys=` list [`seal_items`] records for `items`.
pub fn item_keys(items: &[(&str, &str)]) -> Vec<SealedKey> {
    items
        .iter()
        .map(|(name, text)| SealedKey {
            name: (*name).to_owned(),
            digest: entry_digest(name, text),
        })
        .collect()
}

/// As [`seal`], with fresh auxiliary randomness from the operating system.
///
/// # Errors
/// As [`seal`].
pub fn seal_with_os_randomness(
    text: &str,
    key: &PrivateKey,
    seq: u64,
) -> Result<String, SealError> {
    let mut aux = [0u8; 32];
    OsRng.fill_bytes(&mut aux);
    seal(text, key, seq, &aux)
}

/// `text` without its seal lines, and where a seal line goes: where the first one was, else
/// after the line of the first public key assignment (a line end is added to that line when
/// it has none).
fn without_seal_lines(text: &str) -> Result<(String, usize), SealError> {
    let mut out = String::with_capacity(text.len() + 256);
    let mut at = None;
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    out.push_str(&text[..bom]);
    for range in line_ranges(&text[bom..]) {
        let line = &text[bom + range.start..bom + range.end];
        if line.starts_with(SEAL_PREFIX) {
            at.get_or_insert(out.len());
        } else {
            out.push_str(line);
        }
    }
    if let Some(at) = at {
        return Ok((out, at));
    }
    let doc = Document::parse(&out);
    let first = doc
        .entries()
        .iter()
        .find(|e| e.key().starts_with(PUBLIC_KEY_PREFIX))
        .ok_or(SealError::NoPublicKey)?;
    let line_no = first.line();
    drop(doc);
    let Some(range) = line_ranges(&out[bom..]).nth(line_no - 1) else {
        return Err(SealError::NoPublicKey);
    };
    let mut at = bom + range.end;
    if !out[..at].ends_with(['\n', '\r']) {
        let ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
        out.insert_str(at, ending);
        at += ending.len();
    }
    Ok((out, at))
}

/// `text` with every seal line removed (each with its line end); every other byte kept.
pub fn remove_seal(text: &str) -> String {
    let bom = if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..bom]);
    for range in line_ranges(&text[bom..]) {
        let line = &text[bom + range.start..bom + range.end];
        if !line.starts_with(SEAL_PREFIX) {
            out.push_str(line);
        }
    }
    out
}

/// The seal of a merge result: the first of `candidates`' seal lines that verifies for
/// `merged` is kept; when none does, the merged text carries no seal (it is a new state that
/// a key holder has not approved).
pub fn settle_merge(merged: &str, candidates: &[&str]) -> String {
    for candidate in candidates {
        let lines = seal_lines(candidate);
        let [line] = lines.as_slice() else {
            continue;
        };
        if let Ok((mut text, at)) = without_seal_lines(merged) {
            let ending = if merged.contains("\r\n") {
                "\r\n"
            } else {
                "\n"
            };
            text.insert_str(at, &format!("{line}{ending}"));
            if check(&text, None).is_valid() {
                return text;
            }
            wipe(&mut text);
        }
    }
    remove_seal(merged)
}

/// What [`reseal_after_write`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reseal {
    /// The document did not change: nothing to do.
    Unchanged,
    /// The file carried no seal before the write: it still carries none.
    NotSealed,
    /// The seal was valid and is now renewed at this sequence number.
    Resealed(u64),
    /// The seal was valid, but no matching private key was given: it is now stale.
    LeftStale,
    /// The seal did not verify before the write: it is left as it was, so that this write
    /// does not approve someone else's earlier change. The state before the write.
    WasNotValid(Box<SealState>),
}

/// After an edit of `doc` (whose [`Document::source`] is the text before the edit): when the
/// text before carried a seal that verifies with `before` (the public key it declares) and
/// `key` is the private key of the edited text's public key, seals the edited text at the
/// next sequence number.
///
/// # Errors
/// [`SealError`] from sealing (the document is then unchanged).
pub fn reseal_after_write(
    doc: &mut Document,
    before: &PublicKey,
    key: Option<&PrivateKey>,
) -> Result<Reseal, SealError> {
    if !doc.is_modified() {
        return Ok(Reseal::Unchanged);
    }
    let seq = match check(doc.source(), Some(before)) {
        SealState::Absent => return Ok(Reseal::NotSealed),
        SealState::Valid { seq, .. } => seq,
        other => return Ok(Reseal::WasNotValid(Box::new(other))),
    };
    let mut text = doc.to_string();
    if text == doc.source() {
        wipe(&mut text);
        return Ok(Reseal::Unchanged);
    }
    let Some(key) = key else {
        wipe(&mut text);
        return Ok(Reseal::LeftStale);
    };
    let next = seq.checked_add(1).ok_or(SealError::SequenceExhausted);
    let sealed = next.and_then(|next| seal_with_os_randomness(&text, key, next));
    wipe(&mut text);
    match sealed {
        Ok(sealed) => {
            doc.replace_text(sealed);
            Ok(Reseal::Resealed(seq + 1))
        }
        Err(SealError::WrongKey(_) | SealError::NoPublicKey) => Ok(Reseal::LeftStale),
        Err(e) => Err(e),
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Lower-case hex only: a seal has one spelling.
fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests;
