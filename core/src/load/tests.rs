//! What a program receives is decided by the file alone: the same before encryption, after
//! it, and after decryption; and `set` stores exactly the value it was given.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::discover::Candidate;
use crate::document::{Document, Quote, encode_value};
use crate::edit;
use crate::glob::Selection;
use crate::keys::PrivateKey;

/// Loads `text` as `.env` in `dir` with `key` supplied; every value, or the error's message.
fn values(
    dir: &Path,
    text: &str,
    key: &PrivateKey,
) -> std::result::Result<Vec<(String, String)>, String> {
    let path = dir.join(".env");
    std::fs::write(&path, text).unwrap();
    let env = HashMap::from([("HOME".to_owned(), "/home/ada".to_owned())]);
    let supplied = [Candidate {
        key: key.clone(),
        source: KeySource::Supplied("test".to_owned()),
    }];
    let loaded = load(
        &[path],
        LoadOptions {
            env: &env,
            search: KeySearch {
                env: &env,
                keys_files: &[],
                supplied: &supplied,
                cwd: None,
                strict_permissions: false,
                cache: None,
                identities: None,
            },
            overload: false,
            commands: None,
        },
    )
    .map_err(|e| without_line(&e.to_string()))?;
    Ok(loaded
        .variables
        .iter()
        .map(|v| (v.key.clone(), v.value.expose_secret().to_owned()))
        .collect())
}

/// An error message with its line number left out: encrypting a multi-line value moves the
/// lines after it.
fn without_line(message: &str) -> String {
    match message.split_once(".env:") {
        Some((head, tail)) => {
            let rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{head}.env:N{rest}")
        }
        None => message.to_owned(),
    }
}

fn open(dir: &Path, text: &str) -> EnvFile {
    EnvFile::from_text(&dir.join(".env"), text).unwrap()
}

/// Text pieces that exercise expansion, escapes and quoting.
fn value_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("$A".to_owned()),
        Just("${B}".to_owned()),
        Just("${NOPE:-fallback}".to_owned()),
        Just("${C-x}".to_owned()),
        Just("\\$A".to_owned()),
        Just("$HOME".to_owned()),
        Just("$$".to_owned()),
        Just("$&".to_owned()),
        Just("\\".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("#".to_owned()),
        Just(" ".to_owned()),
        Just("\n".to_owned()),
        Just("é✓".to_owned()),
        "[a-z0-9]{1,4}",
    ];
    proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

fn quote() -> impl Strategy<Value = Quote> {
    prop_oneof![
        Just(Quote::Single),
        Just(Quote::Double),
        Just(Quote::Backtick),
        Just(Quote::None)
    ]
}

/// A well-formed plaintext file: each line `KEY=<value written so it parses back>`.
fn plaintext_file() -> impl Strategy<Value = String> {
    let line = (
        prop_oneof![Just("A"), Just("B"), Just("C"), Just("D")],
        value_text(),
        quote(),
    );
    proptest::collection::vec(line, 1..7).prop_map(|lines| {
        let mut text = String::new();
        for (key, value, quote) in lines {
            let Some(raw) = encode_value(&value, quote) else {
                continue;
            };
            let candidate = format!("{key}={raw}\n");
            let doc = Document::parse(&candidate);
            // Keep only lines that read back as one assignment with no secret tail.
            if doc.entries().len() == 1
                && doc.stray_lines().is_empty()
                && !doc.entries()[0].comment_follows_directly()
                && EnvFile::from_text(Path::new(".env"), &candidate).is_ok()
            {
                text.push_str(&candidate);
            }
        }
        // Lines that each read back can still run together (a quote left open on one line
        // closes on the next); such a file is refused, so it is left out.
        match EnvFile::from_text(Path::new(".env"), &text) {
            Ok(_) => text,
            Err(_) => String::new(),
        }
    })
}

fn without_public_key(values: Vec<(String, String)>) -> Vec<(String, String)> {
    values
        .into_iter()
        .filter(|(k, _)| !k.starts_with("DOTENV_PUBLIC_KEY"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Issue 11, point 3: `get` before `encrypt`, after it, and after `decrypt` agree.
    #[test]
    fn encrypt_and_decrypt_change_nothing_a_program_receives(text in plaintext_file()) {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let header = format!("DOTENV_PUBLIC_KEY=\"{}\"\n", key.public_key().to_hex());
        let text = format!("{header}{text}");
        let before = values(dir.path(), &text, &key).map(without_public_key);
        let mut file = open(dir.path(), &text);
        let public = *file.public_key().unwrap();
        let encrypted_keys = edit::encrypt(&mut file, &public, &Selection::all()).unwrap();
        let encrypted = file.document().to_string();
        let after = values(dir.path(), &encrypted, &key).map(without_public_key);
        prop_assert_eq!(&before, &after, "after encrypt:\n{}", encrypted);
        prop_assert_eq!(encrypted.matches("encrypted:").count(), encrypted_keys.len());

        let mut file = open(dir.path(), &encrypted);
        let search_env = HashMap::new();
        let supplied = [Candidate {
            key: key.clone(),
            source: KeySource::Supplied("test".to_owned()),
        }];
        let search = KeySearch {
            env: &search_env,
            keys_files: &[],
            supplied: &supplied,
            cwd: None,
            strict_permissions: false,
            cache: None,
            identities: None,
        };
        let decryptor = file.decryptor(&search, &mut KeysFileCache::default()).unwrap();
        match edit::decrypt(&mut file, &decryptor, &Selection::all()) {
            Ok(_) => {}
            // A value no quoting of its class can hold is refused, and nothing is written.
            Err(Error::Unrepresentable { .. }) => return Ok(()),
            Err(e) => panic!("{e}"),
        }
        let decrypted = file.document().to_string();
        prop_assert!(!decrypted.contains("encrypted:"));
        let again = values(dir.path(), &decrypted, &key).map(without_public_key);
        prop_assert_eq!(&before, &again, "after decrypt:\n{}", decrypted);
    }

    /// Issue 11, point 2: what `set` stores reads back as exactly the value given, encrypted
    /// or in plaintext, whatever the file already holds.
    #[test]
    fn set_stores_exactly_the_value(
        value in value_text(),
        existing in proptest::option::of(quote()),
        plain in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let mut text = format!(
            "DOTENV_PUBLIC_KEY=\"{}\"\nA=alpha\nB=beta\n",
            key.public_key().to_hex()
        );
        if let Some(quote) = existing {
            let q = quote.as_char().map(String::from).unwrap_or_default();
            text.push_str(&format!("PW={q}old{q}\n"));
        }
        let mut file = open(dir.path(), &text);
        let public = *file.public_key().unwrap();
        let secret = SecretString::new(value.clone());
        let outcome = edit::set(&mut file, "PW", &secret, (!plain).then_some(&public), None);
        if plain && outcome.is_err() {
            // Plaintext that no quoting can hold as it is (a carriage return; `\'` together
            // with `$`, since only single quotes keep `$` literal) is refused.
            prop_assert!(
                value.contains('\r') || (value.contains('$') && value.contains("\\'")),
                "refused {:?}",
                value
            );
            return Ok(());
        }
        outcome.unwrap();
        let written = file.document().to_string();
        let loaded = values(dir.path(), &written, &key).unwrap();
        let got = loaded.iter().find(|(k, _)| k == "PW").map(|(_, v)| v.clone());
        prop_assert_eq!(got.as_deref(), Some(value.as_str()), "stored as:\n{}", written);
    }
}

fn options<'a>(env: &'a HashMap<String, String>, supplied: &'a [Candidate]) -> LoadOptions<'a> {
    LoadOptions {
        env,
        search: KeySearch {
            env,
            keys_files: &[],
            supplied,
            cwd: None,
            strict_permissions: false,
            cache: None,
            identities: None,
        },
        overload: false,
        commands: None,
    }
}

#[test]
fn get_one_key_decrypts_only_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate();
    let public = key.public_key();
    let mut text = format!("DOTENV_PUBLIC_KEY=\"{}\"\n", public.to_hex());
    text.push_str(&format!(
        "USER={}\n",
        crate::crypto::encrypt_value(public, b"ada")
    ));
    // A damaged value the wanted key never looks at.
    text.push_str("BROKEN=encrypted:AAAA\n");
    text.push_str(&format!(
        "URL=\"{}\"\n",
        crate::crypto::encrypt_value(public, b"postgres://${USER}@db")
    ));
    let path: PathBuf = dir.path().join(".env");
    std::fs::write(&path, &text).unwrap();
    let env = HashMap::new();
    let supplied = [Candidate {
        key: key.clone(),
        source: KeySource::Supplied("test".to_owned()),
    }];
    let paths = std::slice::from_ref(&path);
    let wanted = Selection::new(["URL"], [""; 0]);
    let loaded = load_selected(paths, options(&env, &supplied), &wanted, false).unwrap();
    assert_eq!(loaded.variables.len(), 1);
    assert_eq!(
        loaded.variables[0].value.expose_secret(),
        "postgres://ada@db"
    );
    // A full load reads the damaged value and fails on it.
    assert!(load(paths, options(&env, &supplied)).is_err());
    // Confined to URL alone, the reference to USER finds nothing.
    let confined = load_selected(paths, options(&env, &supplied), &wanted, true).unwrap();
    assert_eq!(
        confined.variables[0].value.expose_secret(),
        "postgres://@db"
    );
    // Asking for the damaged one reports it, as a full load does.
    let broken = Selection::new(["BROKEN"], [""; 0]);
    let err = load_selected(paths, options(&env, &supplied), &broken, false)
        .err()
        .unwrap();
    assert!(err.to_string().contains("BROKEN"), "{err}");
}

#[test]
fn a_private_key_is_never_reachable_through_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(
        &path,
        "DOTENV_PRIVATE_KEY_X=abc\nLEAK=\"${DOTENV_PRIVATE_KEY}|$DOTENV_PRIVATE_KEY_X|${DOTENV_PRIVATE_KEY_PRODUCTION:-none}\"\n",
    )
    .unwrap();
    let env = HashMap::from([("DOTENV_PRIVATE_KEY".to_owned(), "f".repeat(64))]);
    let loaded = load_file_with_env(&path, &env).unwrap();
    assert_eq!(loaded.get("LEAK").unwrap().value.expose_secret(), "||none");
}

#[test]
fn doubling_references_stop_with_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let mut text = String::from("V0=xxxxxxxxxxxxxxxx\n");
    for i in 1..40 {
        text.push_str(&format!("V{i}=${{V{}}}${{V{}}}\n", i - 1, i - 1));
    }
    std::fs::write(&path, text).unwrap();
    let err = load_file_with_env(&path, &HashMap::new()).err().unwrap();
    let message = err.to_string();
    assert!(matches!(err, Error::ExpansionTooLarge { .. }), "{message}");
    assert!(
        message.contains(".env:") && message.contains(" V"),
        "{message}"
    );
}

#[test]
fn a_long_chain_of_references_is_read_lazily_without_exhausting_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    let mut text = String::from("V0=end\n");
    for i in 1..20_000 {
        text.push_str(&format!("V{i}=$V{}\n", i - 1));
    }
    std::fs::write(&path, text).unwrap();
    let env = HashMap::new();
    let wanted = Selection::new(["V19999"], [""; 0]);
    let loaded = load_selected(&[path], options(&env, &[]), &wanted, false).unwrap();
    assert_eq!(loaded.variables[0].value.expose_secret(), "end");
}
