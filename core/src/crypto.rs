//! ECIES over secp256k1, byte-compatible with the values dotenvx writes.
//!
//! A value is sealed to a recipient's public key `P` like this:
//!
//! 1. draw a fresh ephemeral key pair `(e, E = e·G)`;
//! 2. compute the shared point `S = e·P`;
//! 3. derive the AES key `K = HKDF-SHA256(ikm = E ‖ S, salt = none, info = empty)` (RFC 5869), where
//!    both points are 65-byte uncompressed SEC1 encodings;
//! 4. encrypt with AES-256-GCM under `K` with a random 16-byte nonce `N` and no associated data;
//! 5. the payload is `E ‖ N ‖ T ‖ C`: the tag `T` comes *before* the ciphertext `C`.
//!
//! The 16-byte nonce (GCM derives its counter block with GHASH when the nonce is not 12 bytes) and
//! the missing associated data are not choices we would make on a blank page; they are what the
//! files in the wild use, and envx must read and write those files.
//!
//! Stored in a file, the payload is `encrypted:` followed by standard base64 with padding.

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hkdf::Hkdf;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::{CryptoRngCore, OsRng};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keys::{PrivateKey, PublicKey};
use crate::parallel::{InOrder, map_in_order};

/// The text that marks an encrypted value.
pub const ENCRYPTED_PREFIX: &str = "encrypted:";

/// Length of an uncompressed SEC1 point: `04 ‖ X ‖ Y`.
pub const POINT_LEN: usize = 65;
/// Length of the AES-GCM nonce.
const NONCE_LEN: usize = 16;
/// Length of the AES-GCM tag.
const TAG_LEN: usize = 16;
/// Bytes before the ciphertext: ephemeral key, nonce and tag.
pub const OVERHEAD: usize = POINT_LEN + NONCE_LEN + TAG_LEN;

/// AES-256-GCM with the 16-byte nonce the format uses.
type Aes256Gcm16 = AesGcm<Aes256, U16>;

/// Why a value could not be decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The text after `encrypted:` is not base64.
    #[error("the ciphertext is not valid base64")]
    Base64,
    /// The payload is too short to hold the ephemeral key, nonce and tag.
    #[error("the ciphertext is truncated ({len} bytes; at least {OVERHEAD} are needed)")]
    Truncated {
        /// Decoded payload length.
        len: usize,
    },
    /// The ephemeral public key in the payload is not a point on secp256k1.
    #[error("the ciphertext's ephemeral key is not a valid curve point")]
    EphemeralKey,
    /// Authentication failed: the value was encrypted to another key, or it was altered.
    #[error("authentication failed (encrypted to another key, or damaged)")]
    Decrypt,
}

/// Is `value` (already unquoted) an encrypted value? The test is case-sensitive and anchored at
/// the start, as dotenvx's is.
pub fn is_encrypted(value: &str) -> bool {
    value.starts_with(ENCRYPTED_PREFIX)
}

/// Seals `plaintext` to `recipient` with the operating system's random number generator and
/// returns the stored text, `encrypted:<base64>`.
pub fn encrypt_value(recipient: &PublicKey, plaintext: &[u8]) -> String {
    let payload = seal(recipient, plaintext, &mut OsRng);
    let mut text = String::with_capacity(ENCRYPTED_PREFIX.len() + payload.len().div_ceil(3) * 4);
    text.push_str(ENCRYPTED_PREFIX);
    base64::engine::general_purpose::STANDARD.encode_string(&payload, &mut text);
    text
}

/// Seals many plaintexts to `recipient`, in order, spread over the machine's cores when there
/// are at least `parallel_from` of them. Each value gets its own ephemeral key and nonce, so
/// the work is independent; the output order is the input order.
pub fn encrypt_values(
    recipient: &PublicKey,
    plaintexts: &[&[u8]],
    parallel_from: usize,
) -> InOrder<String> {
    map_in_order(plaintexts, parallel_from, |p| encrypt_value(recipient, p))
}

/// Opens a stored value (`encrypted:<base64>`, or the base64 alone) with `key`.
///
/// # Errors
/// [`CryptoError`] when the text is not base64, the payload is short, or authentication fails.
pub fn decrypt_value(key: &PrivateKey, stored: &str) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let payload = decode_payload(stored)?;
    open(key, &payload)
}

/// Decodes the base64 payload of a stored value. Like the readers in the wild, this accepts
/// missing padding, the URL-safe alphabet and embedded whitespace; anything else is an error.
///
/// # Errors
/// [`CryptoError::Base64`] for characters outside both alphabets or an impossible length.
pub fn decode_payload(stored: &str) -> Result<Vec<u8>, CryptoError> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let text = stored.strip_prefix(ENCRYPTED_PREFIX).unwrap_or(stored);
    let canonical: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    LENIENT.decode(canonical).map_err(|_| CryptoError::Base64)
}

/// Seals `plaintext` to `recipient`, returning the raw payload `E ‖ N ‖ T ‖ C`.
pub fn seal(recipient: &PublicKey, plaintext: &[u8], rng: &mut impl CryptoRngCore) -> Vec<u8> {
    let ephemeral = PrivateKey::generate_with(rng);
    let ephemeral_point = ephemeral.public_key().to_uncompressed();
    let shared = shared_point(&ephemeral, recipient);
    let key = derive_key(&ephemeral_point, &shared);

    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);

    let mut payload = Vec::with_capacity(OVERHEAD + plaintext.len());
    payload.extend_from_slice(&ephemeral_point);
    payload.extend_from_slice(&nonce);
    payload.extend_from_slice(&[0u8; TAG_LEN]);
    payload.extend_from_slice(plaintext);
    let (head, body) = payload.split_at_mut(OVERHEAD);
    let tag = Aes256Gcm16::new((&*key).into())
        .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", body)
        // AES-GCM only fails for messages over 64 GiB, far beyond any value in a text file.
        .unwrap_or_else(|_| unreachable!("AES-GCM plaintext length limit exceeded"));
    head[POINT_LEN + NONCE_LEN..].copy_from_slice(&tag);
    payload
}

/// Opens a raw payload `E ‖ N ‖ T ‖ C` with `key`.
///
/// # Errors
/// [`CryptoError::Truncated`], [`CryptoError::EphemeralKey`] or [`CryptoError::Decrypt`].
pub fn open(key: &PrivateKey, payload: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let aes_key = payload_key(key, payload)?;
    open_with_key(&aes_key, payload)
}

/// The ephemeral public key `E` of a payload, as stored (65 bytes).
///
/// # Errors
/// [`CryptoError::Truncated`] when the payload cannot hold `E`, nonce and tag.
pub fn ephemeral(payload: &[u8]) -> Result<&[u8; POINT_LEN], CryptoError> {
    if payload.len() < OVERHEAD {
        return Err(CryptoError::Truncated { len: payload.len() });
    }
    Ok(payload[..POINT_LEN]
        .try_into()
        .unwrap_or_else(|_| unreachable!("the length was checked")))
}

/// The AES key of a payload: ECDH of `key` with the payload's ephemeral key `E`, then HKDF.
/// This is the elliptic-curve step, the cost of opening a value; the key depends on `E` and
/// `key` only, never on the nonce, tag or ciphertext. **This is key material.**
///
/// # Errors
/// [`CryptoError::Truncated`] or [`CryptoError::EphemeralKey`].
pub fn payload_key(key: &PrivateKey, payload: &[u8]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let point = ephemeral(payload)?;
    let ephemeral = PublicKey::from_sec1_bytes(point).map_err(|_| CryptoError::EphemeralKey)?;
    let shared = shared_point(key, &ephemeral);
    // The key derivation hashes E exactly as stored, which is its uncompressed encoding.
    Ok(derive_key(point, &shared))
}

/// Opens a payload with its AES key (from [`payload_key`]): AES-256-GCM only.
///
/// # Errors
/// [`CryptoError::Truncated`] or [`CryptoError::Decrypt`].
pub fn open_with_key(
    aes_key: &[u8; 32],
    payload: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    ephemeral(payload)?;
    let rest = &payload[POINT_LEN..];
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (tag, ciphertext) = rest.split_at(TAG_LEN);
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    Aes256Gcm16::new(aes_key.into())
        .decrypt_in_place_detached(
            Nonce::from_slice(nonce),
            b"",
            &mut plaintext,
            Tag::from_slice(tag),
        )
        .map_err(|_| CryptoError::Decrypt)?;
    Ok(plaintext)
}

/// ECDH step: `secret · public`, uncompressed (65 bytes), wiped on drop.
fn shared_point(secret: &PrivateKey, public: &PublicKey) -> Zeroizing<[u8; POINT_LEN]> {
    // The product and its encodings are the shared secret too: each is wiped on drop.
    let product = Zeroizing::new(public.as_point() * secret.as_scalar());
    let point = Zeroizing::new(product.to_affine());
    let encoded = Zeroizing::new(point.to_encoded_point(false));
    let mut out = Zeroizing::new([0u8; POINT_LEN]);
    out.copy_from_slice(encoded.as_bytes());
    out
}

/// HKDF-SHA256 (RFC 5869) with no salt and empty info over `ephemeral ‖ shared`, 32 bytes out.
fn derive_key(ephemeral: &[u8], shared: &[u8; POINT_LEN]) -> Zeroizing<[u8; 32]> {
    let mut ikm = Zeroizing::new([0u8; 2 * POINT_LEN]);
    ikm[..POINT_LEN].copy_from_slice(ephemeral);
    ikm[POINT_LEN..].copy_from_slice(shared);
    let mut okm = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, ikm.as_ref())
        .expand(&[], okm.as_mut())
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32.
        .unwrap_or_else(|_| unreachable!("HKDF output length is valid"));
    okm
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The known answer of `fixtures/dotenvx/kat-fixed-key` (shared/DOTENVX.md, section 1.3),
    /// written by dotenvx 2.38.2.
    const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
    const KAT_STORED: &str = "encrypted:BA22PPxwzAVxj8ONsvbxMMZvQ3PIbECuW+Q+AqnGxBVgb9xaWBudh1ICmutZ3rMLVxnztfVn6Q+/kcBg4H6DYK1P4kzQ0WuN/DJqedtcbn+9cK+TObeSimW58Oe8WHRtMMrl13iERAeySXx2RktTXDk=";
    const KAT_PLAINTEXT: &str = "Hello, envx! ✓";
    const KAT_SHARED: &str = "0460820f92db3d21458df99c89ecfa3c453af09690202c6d83c83ac655cb1c620d1afeddc6a7cc1f72d726be7d3bc21f64ef1e55873bdabfc4057637f8c67e1447";
    const KAT_AES_KEY: &str = "1563d31513b5b2120e769b147ebb2405f15253d74882b2023c907e751743bf9a";

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn kat_key() -> PrivateKey {
        PrivateKey::from_hex(KAT_PRIVATE).unwrap()
    }

    #[test]
    fn known_answer_intermediate_values() {
        let payload = decode_payload(KAT_STORED).unwrap();
        assert_eq!(payload.len(), OVERHEAD + 16);
        let ephemeral = PublicKey::from_sec1_bytes(&payload[..POINT_LEN]).unwrap();
        let shared = shared_point(&kat_key(), &ephemeral);
        assert_eq!(hex(shared.as_ref()), KAT_SHARED);
        let key = derive_key(&payload[..POINT_LEN], &shared);
        assert_eq!(hex(key.as_ref()), KAT_AES_KEY);
    }

    #[test]
    fn known_answer_decrypts() {
        let plaintext = decrypt_value(&kat_key(), KAT_STORED).unwrap();
        assert_eq!(std::str::from_utf8(&plaintext).unwrap(), KAT_PLAINTEXT);
    }

    #[test]
    fn every_flipped_byte_of_the_known_answer_fails() {
        let payload = decode_payload(KAT_STORED).unwrap();
        for i in 0..payload.len() {
            let mut damaged = payload.clone();
            damaged[i] ^= 0x01;
            let result = open(&kat_key(), &damaged);
            assert!(
                matches!(
                    result,
                    Err(CryptoError::Decrypt | CryptoError::EphemeralKey)
                ),
                "byte {i}: {result:?}"
            );
        }
    }

    #[test]
    fn decoding_is_lenient_like_the_readers_in_the_wild() {
        let body = KAT_STORED.strip_prefix(ENCRYPTED_PREFIX).unwrap();
        let unpadded = body.trim_end_matches('=');
        let url_safe = body.replace('+', "-").replace('/', "_");
        let wrapped = format!("{}\n {}", &body[..40], &body[40..]);
        for variant in [unpadded.to_owned(), url_safe, wrapped] {
            let plaintext = decrypt_value(&kat_key(), &variant).unwrap();
            assert_eq!(std::str::from_utf8(&plaintext).unwrap(), KAT_PLAINTEXT);
        }
    }

    #[test]
    fn malformed_payloads_get_specific_errors() {
        assert_eq!(decode_payload("encrypted:***"), Err(CryptoError::Base64));
        let short = decrypt_value(&kat_key(), "encrypted:AAAA");
        assert_eq!(short.err(), Some(CryptoError::Truncated { len: 3 }));
        let other = PrivateKey::generate();
        assert_eq!(
            decrypt_value(&other, KAT_STORED).err(),
            Some(CryptoError::Decrypt)
        );
        let mut payload = decode_payload(KAT_STORED).unwrap();
        payload[1..POINT_LEN].fill(0xff);
        assert_eq!(
            open(&kat_key(), &payload).err(),
            Some(CryptoError::EphemeralKey)
        );
    }

    #[test]
    fn empty_plaintext_is_97_bytes() {
        let key = PrivateKey::generate();
        let stored = encrypt_value(key.public_key(), b"");
        assert_eq!(decode_payload(&stored).unwrap().len(), OVERHEAD);
        assert!(decrypt_value(&key, &stored).unwrap().is_empty());
    }

    #[test]
    fn our_ciphertexts_open_with_the_ecies_crate() {
        let key = PrivateKey::generate();
        for message in [&b""[..], b"x", "Hello, envx! ✓".as_bytes(), &[0u8; 1000]] {
            let payload = seal(key.public_key(), message, &mut OsRng);
            let opened = ecies::decrypt(&hex_bytes(&key.expose_hex()), &payload).unwrap();
            assert_eq!(opened, message);
        }
    }

    #[test]
    fn ecies_crate_ciphertexts_open_with_ours() {
        let key = PrivateKey::generate();
        let public = key.public_key().to_uncompressed();
        for message in [&b""[..], b"y", "pa$word@x".as_bytes(), &[7u8; 777]] {
            let payload = ecies::encrypt(&public, message).unwrap();
            assert_eq!(open(&key, &payload).unwrap().as_slice(), message);
        }
    }

    fn hex_bytes(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_trips_any_bytes(message in proptest::collection::vec(any::<u8>(), 0..512)) {
            let key = PrivateKey::generate();
            let stored = encrypt_value(key.public_key(), &message);
            prop_assert!(is_encrypted(&stored));
            let opened = decrypt_value(&key, &stored).unwrap();
            prop_assert_eq!(opened.as_slice(), &message[..]);
            let oracle = ecies::decrypt(&hex_bytes(&key.expose_hex()), &decode_payload(&stored).unwrap()).unwrap();
            prop_assert_eq!(oracle, message);
        }
    }
}
