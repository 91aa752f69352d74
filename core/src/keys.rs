//! secp256k1 key pairs in the text forms the files use.
//!
//! A private key is 32 bytes written as 64 hex digits; a public key is the 33-byte compressed
//! SEC1 point written as 66 hex digits.

use std::fmt;
use std::str::FromStr;

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{AffinePoint, NonZeroScalar, ProjectivePoint, Scalar};
use rand_core::{CryptoRngCore, OsRng};
use zeroize::{Zeroize as _, Zeroizing};

/// A malformed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A private key that is not exactly 64 hex digits.
    #[error("a private key must be 64 hex digits")]
    PrivateKeyFormat,
    /// A private key of zero or not below the curve order.
    #[error("the private key is outside the range of secp256k1 scalars")]
    PrivateKeyRange,
    /// A public key that is neither 66 nor 130 hex digits.
    #[error("a public key must be 66 hex digits (compressed) or 130 (uncompressed)")]
    PublicKeyFormat,
    /// A public key whose bytes do not encode a point on secp256k1.
    #[error("the public key is not a point on secp256k1")]
    PublicKeyNotOnCurve,
}

/// A secp256k1 private key.
///
/// It has no `Debug` that shows the key and no `Display`; its memory is wiped on drop. The only
/// way to see the key is [`PrivateKey::expose_hex`].
///
/// It is deliberately not `Copy`: a `Copy` type can have no destructor, so its copies could
/// never be wiped. A clone is wiped when it is dropped, like the original.
#[derive(Clone)]
pub struct PrivateKey {
    scalar: NonZeroScalar,
    public: PublicKey,
}

impl PrivateKey {
    /// A new random key from the operating system's generator.
    pub fn generate() -> Self {
        Self::generate_with(&mut OsRng)
    }

    /// A new random key from `rng`.
    pub fn generate_with(rng: &mut impl CryptoRngCore) -> Self {
        Self::from_scalar(NonZeroScalar::random(rng))
    }

    fn from_scalar(scalar: NonZeroScalar) -> Self {
        // Fixed-base multiplication with k256's precomputed tables: about four times faster
        // than a general one, and every encrypted value needs one for its ephemeral key.
        let public = PublicKey(ProjectivePoint::mul_by_generator(&*scalar).to_affine());
        Self { scalar, public }
    }

    /// Parses 64 hex digits (either case; surrounding whitespace is ignored).
    ///
    /// # Errors
    /// [`KeyError::PrivateKeyFormat`] or [`KeyError::PrivateKeyRange`]; the error never contains
    /// the input.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        decode_hex(text.trim(), bytes.as_mut()).ok_or(KeyError::PrivateKeyFormat)?;
        let scalar: Option<NonZeroScalar> = NonZeroScalar::from_repr((*bytes).into()).into();
        scalar
            .map(Self::from_scalar)
            .ok_or(KeyError::PrivateKeyRange)
    }

    /// The key as 64 lowercase hex digits. **This is key material**: write it only where the
    /// user asked for it (a keys file, `envx keypair`), never to logs or errors.
    pub fn expose_hex(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(self.scalar.to_bytes());
        Zeroizing::new(encode_hex(bytes.as_slice()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    pub(crate) fn as_scalar(&self) -> &Scalar {
        self.scalar.as_ref()
    }
}

impl Drop for PrivateKey {
    fn drop(&mut self) {
        // Volatile writes (`Zeroize`), so the compiler cannot drop them as dead stores.
        self.scalar.zeroize();
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Name the public half so two keys can be told apart in a test failure; never the secret.
        write!(f, "PrivateKey(public {})", self.public.short())
    }
}

/// A secp256k1 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(AffinePoint);

impl PublicKey {
    /// Parses a SEC1 encoding (compressed or uncompressed), checking the point is on the curve.
    ///
    /// # Errors
    /// [`KeyError::PublicKeyNotOnCurve`].
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key =
            k256::PublicKey::from_sec1_bytes(bytes).map_err(|_| KeyError::PublicKeyNotOnCurve)?;
        Ok(Self(*key.as_affine()))
    }

    /// The 33-byte compressed encoding as 66 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        encode_hex(self.0.to_encoded_point(true).as_bytes())
    }

    /// The first six hex digits, enough to tell keys apart in a message.
    pub fn short(&self) -> String {
        let mut hex = self.to_hex();
        hex.truncate(6);
        hex
    }

    /// The 65-byte uncompressed encoding.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out.copy_from_slice(self.0.to_encoded_point(false).as_bytes());
        out
    }

    pub(crate) fn as_point(&self) -> ProjectivePoint {
        ProjectivePoint::from(self.0)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    /// Parses 66 (compressed) or 130 (uncompressed) hex digits, either case.
    fn from_str(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let mut bytes = [0u8; 65];
        let len = match text.len() {
            66 => 33,
            130 => 65,
            _ => return Err(KeyError::PublicKeyFormat),
        };
        decode_hex(text, &mut bytes[..len]).ok_or(KeyError::PublicKeyFormat)?;
        Self::from_sec1_bytes(&bytes[..len])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

/// Decodes exactly `out.len() * 2` hex digits into `out`; `None` on any other input.
fn decode_hex(text: &str, out: &mut [u8]) -> Option<()> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if text.len() != out.len() * 2 {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(())
}

fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const KAT_PRIVATE: &str = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
    const KAT_PUBLIC: &str = "0248b14ecfb7241b62b33821f47dc9be3078f85106c968facd8113b88bf1b310f3";

    #[test]
    fn derives_the_known_public_key() {
        let key = PrivateKey::from_hex(KAT_PRIVATE).unwrap();
        assert_eq!(key.public_key().to_hex(), KAT_PUBLIC);
        assert_eq!(key.public_key().short(), "0248b1");
        assert_eq!(key.expose_hex().as_str(), KAT_PRIVATE);
    }

    #[test]
    fn private_key_hex_is_read_in_either_case() {
        let upper = PrivateKey::from_hex(&KAT_PRIVATE.to_uppercase()).unwrap();
        assert_eq!(upper.public_key().to_hex(), KAT_PUBLIC);
    }

    #[test]
    fn malformed_private_keys_are_rejected() {
        for bad in [
            "",
            "abc",
            &KAT_PRIVATE[..63],
            &format!("{KAT_PRIVATE}zz"),
            &"g".repeat(64),
        ] {
            assert_eq!(
                PrivateKey::from_hex(bad).err(),
                Some(KeyError::PrivateKeyFormat),
                "{bad}"
            );
        }
        assert_eq!(
            PrivateKey::from_hex(&"0".repeat(64)).err(),
            Some(KeyError::PrivateKeyRange)
        );
        let order = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
        assert_eq!(
            PrivateKey::from_hex(order).err(),
            Some(KeyError::PrivateKeyRange)
        );
    }

    #[test]
    fn private_keys_are_wiped_on_drop() {
        // A type without drop glue (a `Copy` key, say) can never be wiped.
        assert!(std::mem::needs_drop::<PrivateKey>());
    }

    #[test]
    fn debug_shows_only_the_public_half() {
        let key = PrivateKey::from_hex(KAT_PRIVATE).unwrap();
        let shown = format!("{key:?} {key:#?}");
        assert!(!shown.contains(&KAT_PRIVATE[..8]), "{shown}");
        assert!(shown.contains("0248b1"), "{shown}");
    }

    #[test]
    fn public_keys_parse_compressed_and_uncompressed() {
        let key: PublicKey = KAT_PUBLIC.parse().unwrap();
        let long = encode_hex(&key.to_uncompressed());
        assert_eq!(long.parse::<PublicKey>().unwrap(), key);
        assert_eq!(KAT_PUBLIC.to_uppercase().parse::<PublicKey>().unwrap(), key);
    }

    #[test]
    fn public_key_off_the_curve_is_rejected() {
        // x = 5 has no square root y on secp256k1 (5³ + 7 = 132 is a non-residue).
        let off = format!("02{}", "0".repeat(62) + "05");
        assert_eq!(off.parse::<PublicKey>(), Err(KeyError::PublicKeyNotOnCurve));
        assert_eq!(
            "02abcd".parse::<PublicKey>(),
            Err(KeyError::PublicKeyFormat)
        );
    }
}
