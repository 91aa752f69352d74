//! The bare cost of decrypting and of encrypting N values with the crates envx uses, in one
//! process and one thread, next to envx's own paths over the same values.
//!
//! - Decrypt: per value one variable-base scalar multiplication (ECDH), HKDF-SHA256 and
//!   AES-256-GCM.
//! - Encrypt: per value two scalar multiplications (the ephemeral key, fixed-base with k256's
//!   precomputed tables, and the ECDH with the recipient's key), fresh randomness for the key and
//!   the nonce, HKDF-SHA256 and AES-256-GCM.
//!
//! Each figure is the fastest of three runs. The benchmark (`bench/bench.py`) prints envx's
//! times as multiples of these.
//!
//! Usage: `crypto_limit N` prints one JSON object: `seconds` (decrypt limit), `envx_seconds`
//! (envx's decrypt path), `encrypt_seconds` (encrypt limit), `envx_encrypt_seconds` (envx's
//! encrypt path, base64 included), `parallel_pays_from`.
//!
//! `crypto_limit N --bound` times each bare loop once, on one thread and spread over every core
//! (`decrypt_1`, `decrypt_all`, `encrypt_1`, `encrypt_all`, `threads`): the benchmark runs it
//! between envx's own runs, since the speed of a shared machine changes from second to second.

use std::time::Instant;

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce, Tag};
use hkdf::Hkdf;
use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{NonZeroScalar, ProjectivePoint, PublicKey};
use rand_core::OsRng;
use sha2::Sha256;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let secret = NonZeroScalar::random(&mut OsRng);
    // Payloads made once, outside the timing (56-byte plaintexts, a typical value).
    let public = (ProjectivePoint::GENERATOR * *secret).to_affine();
    let payloads: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let stored = envx_core::crypto::encrypt_value(
                &envx_core::keys::PublicKey::from_sec1_bytes(
                    public.to_encoded_point(true).as_bytes(),
                )
                .expect("a valid point"),
                format!("postgres://app:{i:012}@db.internal:5432/application").as_bytes(),
            );
            envx_core::crypto::decode_payload(&stored).expect("valid base64")
        })
        .collect();
    if std::env::args().nth(2).as_deref() == Some("--bound") {
        bound(n, &payloads, &secret);
        return;
    }

    let seconds = best(|| assert!(bare_decrypt(&payloads, &secret) > 0 || n == 0));

    // envx's own path over the same payloads, one thread: parse a file, find the key, decrypt
    // every value (base64, checks and wiping included).
    let mut text = format!(
        "DOTENV_PUBLIC_KEY=\"{}\"\n",
        hex(public.to_encoded_point(true).as_bytes())
    );
    for (i, payload) in payloads.iter().enumerate() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(payload);
        text.push_str(&format!("KEY_{i}=encrypted:{b64}\n"));
    }
    let key = envx_core::keys::PrivateKey::from_hex(&hex(&secret.to_bytes())).expect("a key");
    let supplied = [envx_core::discover::Candidate {
        key,
        source: envx_core::discover::KeySource::Supplied("bench".to_owned()),
    }];
    let env = std::collections::HashMap::new();
    let search = envx_core::discover::KeySearch {
        env: &env,
        keys_files: &[],
        supplied: &supplied,
        cwd: None,
        strict_permissions: false,
        cache: None,
        identities: None,
    };
    let open_file = || {
        let file = envx_core::envfile::EnvFile::from_text(
            std::path::Path::new("/nonexistent/.env"),
            &text,
        )
        .expect("parses");
        let decryptor = file
            .decryptor(&search, &mut envx_core::discover::KeysFileCache::default())
            .expect("key ring");
        (file, decryptor)
    };
    let envx_seconds = best(|| {
        let (file, decryptor) = open_file();
        let mut decrypted = 0usize;
        for entry in file.document().entries().iter().skip(1) {
            decrypted += decryptor
                .decrypt(entry)
                .expect("decrypts")
                .expose_secret()
                .len();
        }
        assert!(decrypted > 0 || n == 0);
    });
    let (file, decryptor) = open_file();

    // Where threads start to pay: the smallest count at which spreading the work over the
    // cores beats one thread (best of 5 each, on this file's first values).
    let entries: Vec<_> = file.document().entries().iter().skip(1).collect();
    let best = |count: usize, parallel_from: usize| {
        (0..5)
            .map(|_| {
                let start = Instant::now();
                let mut results = decryptor.decrypt_many_from(&entries[..count], parallel_from);
                assert!(results.all(|r| r.is_ok()));
                start.elapsed().as_secs_f64()
            })
            .fold(f64::MAX, f64::min)
    };
    let pays_from = [2usize, 4, 8, 16, 32, 64, 128, 256]
        .into_iter()
        .filter(|&count| count <= entries.len())
        .find(|&count| best(count, 0) < best(count, usize::MAX))
        .map_or("null".to_owned(), |c| c.to_string());
    let (encrypt_seconds, envx_encrypt_seconds) = encrypt_limit(n);
    println!(
        "{{\"n\": {n}, \"seconds\": {seconds}, \"envx_seconds\": {envx_seconds}, \"encrypt_seconds\": {encrypt_seconds}, \"envx_encrypt_seconds\": {envx_encrypt_seconds}, \"parallel_pays_from\": {pays_from}}}"
    );
}

/// The two-scalar-multiplication bound of encrypting `n` values, and envx's own encrypt path
/// (one thread) over the same plaintexts.
fn encrypt_limit(n: usize) -> (f64, f64) {
    let recipient = NonZeroScalar::random(&mut OsRng);
    let recipient_point = ProjectivePoint::GENERATOR * *recipient;
    let plaintexts = plaintexts(n);
    let limit = best(|| assert!(bare_encrypt(&plaintexts, &recipient_point) > 0 || n == 0));

    let public = envx_core::keys::PublicKey::from_sec1_bytes(
        recipient_point
            .to_affine()
            .to_encoded_point(true)
            .as_bytes(),
    )
    .expect("a valid point");
    let refs: Vec<&[u8]> = plaintexts.iter().map(|p| p.as_bytes()).collect();
    let envx = best(|| {
        let stored: usize = envx_core::crypto::encrypt_values(&public, &refs, usize::MAX)
            .map(|s| s.len())
            .sum();
        assert!(stored > 0 || n == 0);
    });
    (limit, envx)
}

/// `--bound`: one timed run of each bare loop, on one thread and spread over every core (equal
/// shares, one thread each), as JSON. The benchmark runs this between envx's own runs, so that
/// both meet the same machine.
fn bound(n: usize, payloads: &[Vec<u8>], secret: &NonZeroScalar) {
    let recipient = ProjectivePoint::GENERATOR * *NonZeroScalar::random(&mut OsRng);
    let plaintexts = plaintexts(n);
    let time = |work: &dyn Fn() -> usize| {
        let start = Instant::now();
        assert!(work() > 0 || n == 0);
        start.elapsed().as_secs_f64()
    };
    let decrypt_1 = time(&|| bare_decrypt(payloads, secret));
    let decrypt_all = time(&|| spread(payloads, |share| bare_decrypt(share, secret)));
    let encrypt_1 = time(&|| bare_encrypt(&plaintexts, &recipient));
    let encrypt_all = time(&|| spread(&plaintexts, |share| bare_encrypt(share, &recipient)));
    println!(
        "{{\"n\": {n}, \"threads\": {}, \"decrypt_1\": {decrypt_1}, \"decrypt_all\": {decrypt_all}, \"encrypt_1\": {encrypt_1}, \"encrypt_all\": {encrypt_all}}}",
        threads()
    );
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `work` over `items` in equal contiguous shares, one thread per core; the sum of the results.
fn spread<T: Sync>(items: &[T], work: impl Fn(&[T]) -> usize + Sync) -> usize {
    let share = items.len().div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(share)
            .map(|chunk| scope.spawn(|| work(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .sum()
    })
}

/// The bare decryption of `payloads` (point, nonce, tag, ciphertext): ECDH, HKDF, AES-GCM each.
fn bare_decrypt(payloads: &[Vec<u8>], secret: &NonZeroScalar) -> usize {
    let mut total = 0usize;
    for payload in payloads {
        let (point, rest) = payload.split_at(65);
        let (nonce, rest) = rest.split_at(16);
        let (tag, ciphertext) = rest.split_at(16);
        let ephemeral = PublicKey::from_sec1_bytes(point).expect("on the curve");
        let shared = (ephemeral.to_projective() * **secret)
            .to_affine()
            .to_encoded_point(false);
        let mut ikm = Vec::with_capacity(130);
        ikm.extend_from_slice(point);
        ikm.extend_from_slice(shared.as_bytes());
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, &ikm)
            .expand(&[], &mut key)
            .expect("32 bytes");
        let mut buffer = ciphertext.to_vec();
        AesGcm::<Aes256, U16>::new(&key.into())
            .decrypt_in_place_detached(
                Nonce::from_slice(nonce),
                b"",
                &mut buffer,
                Tag::from_slice(tag),
            )
            .expect("authentic");
        total += buffer.len();
    }
    total
}

/// The bare encryption of `plaintexts` to `recipient`: a fresh ephemeral key (fixed-base
/// multiplication), ECDH, randomness for the nonce, HKDF, AES-GCM each.
fn bare_encrypt(plaintexts: &[String], recipient: &ProjectivePoint) -> usize {
    use rand_core::RngCore as _;
    let mut total = 0usize;
    for plaintext in plaintexts {
        let ephemeral = NonZeroScalar::random(&mut OsRng);
        let point = ProjectivePoint::mul_by_generator(&*ephemeral)
            .to_affine()
            .to_encoded_point(false);
        let shared = (*recipient * *ephemeral)
            .to_affine()
            .to_encoded_point(false);
        let mut ikm = Vec::with_capacity(130);
        ikm.extend_from_slice(point.as_bytes());
        ikm.extend_from_slice(shared.as_bytes());
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, &ikm)
            .expand(&[], &mut key)
            .expect("32 bytes");
        let mut nonce = [0u8; 16];
        OsRng.fill_bytes(&mut nonce);
        let mut buffer = plaintext.as_bytes().to_vec();
        let tag = AesGcm::<Aes256, U16>::new(&key.into())
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), b"", &mut buffer)
            .expect("short message");
        total += buffer.len() + tag.len();
    }
    total
}

/// The plaintexts both encrypt measurements use: 56-byte values, a typical size.
fn plaintexts(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("postgres://app:{i:012}@db.internal:5432/application"))
        .collect()
}

/// The fastest of three timed runs of `work`: the machine is shared, and the fastest run is the
/// one least disturbed by other work.
fn best(mut work: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
