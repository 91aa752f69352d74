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
            search: KeySearch::new(&env, &supplied),
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
        let search = KeySearch::new(&search_env, &supplied);
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
        search: KeySearch::new(env, supplied),
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

/// A line of a generated file for the selected-load comparison: any key of a few (duplicates
/// likely), any value and quoting, sometimes encrypted, sometimes broken on purpose.
fn tricky_line() -> impl Strategy<Value = (String, String, Quote, u8)> {
    let key = prop_oneof![
        Just("A"),
        Just("B"),
        Just("C"),
        Just("D"),
        Just("HOME"),
        Just("DOTENV_PRIVATE_KEY"),
    ];
    // Pieces that look like assignments inside a multi-line value, and references.
    let piece = prop_oneof![
        value_text(),
        Just("\nA=inner".to_owned()),
        Just("\nexport B=\"x".to_owned()),
        Just("\n  C: y".to_owned()),
        Just("${A}${B}".to_owned()),
        Just("${D:-$C}".to_owned()),
        Just("$DOTENV_PRIVATE_KEY".to_owned()),
    ];
    let value = proptest::collection::vec(piece, 0..3).prop_map(|p| p.concat());
    (key.prop_map(str::to_owned), value, quote(), 0u8..10)
}

/// Builds the text of a file from generated lines. `kind`: 0 and 1 encrypted (the decrypted
/// text is expanded unless single-quoted), 2 the text as it is in double quotes (multi-line,
/// live references), 3 the text as it is, unquoted (it may open a quote it never closes or
/// leave stray lines), 4 a broken ciphertext, 5 followed by a stray line; otherwise encoded
/// to read back literally.
fn tricky_file(lines: &[(String, String, Quote, u8)], public: &PublicKey) -> String {
    let mut text = format!("DOTENV_PUBLIC_KEY=\"{}\"\n", public.to_hex());
    for (key, value, quote, kind) in lines {
        let raw = match kind {
            0 | 1 => {
                let stored = crate::crypto::encrypt_value(public, value.as_bytes());
                match quote {
                    Quote::None => stored,
                    Quote::Single => format!("'{stored}'"),
                    _ => format!("\"{stored}\""),
                }
            }
            2 => format!("\"{}\"", value.replace('"', "")),
            3 => value.clone(),
            4 if value.len() % 3 == 0 => "encrypted:AAAA".to_owned(),
            _ => match encode_value(value, *quote) {
                Some(raw) => raw,
                None => continue,
            },
        };
        text.push_str(&format!("{key}={raw}\n"));
        if *kind == 5 && value.len() % 5 == 0 {
            text.push_str("not an assignment\n");
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Reading a few keys keeps only their assignments in the documents (and those their
    /// values look up): the values and errors are the same as with every assignment kept,
    /// and the values are those a full load gives.
    #[test]
    fn a_selected_load_reads_what_a_full_load_reads(
        first in proptest::collection::vec(tricky_line(), 0..10),
        second in proptest::collection::vec(tricky_line(), 0..4),
        wanted in proptest::sample::subsequence(vec!["A", "B", "C", "D", "HOME", "E"], 1..3),
        confine in any::<bool>(),
        overload in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let paths = [dir.path().join(".env"), dir.path().join(".env.local")];
        let local = PrivateKey::generate();
        std::fs::write(&paths[0], tricky_file(&first, key.public_key())).unwrap();
        std::fs::write(&paths[1], tricky_file(&second, local.public_key()).replace(
            "DOTENV_PUBLIC_KEY=", "DOTENV_PUBLIC_KEY_LOCAL=")).unwrap();
        let env = HashMap::from([("HOME".to_owned(), "/home/ada".to_owned())]);
        let supplied = [key, local].map(|key| Candidate {
            key,
            source: KeySource::Supplied("test".to_owned()),
        });
        let selection = Selection::new(&wanted, [""; 0]);
        let read = |filtered: bool| {
            let mut options = options(&env, &supplied);
            options.overload = overload;
            selected(&paths, options, &selection, confine, filtered)
                .map(|l| {
                    l.variables
                        .iter()
                        .map(|v| (v.key.clone(), v.value.expose_secret().to_owned(), v.line, v.file))
                        .collect::<Vec<_>>()
                })
                .map_err(|e| e.to_string())
        };
        let fast = read(true);
        prop_assert_eq!(&fast, &read(false));
        if confine {
            return Ok(());
        }
        let mut options = options(&env, &supplied);
        options.overload = overload;
        if let (Ok(full), Ok(fast)) = (load(&paths, options), &fast) {
            let expected: Vec<_> = full
                .variables
                .iter()
                .filter(|v| selection.contains(&v.key))
                .map(|v| (v.key.clone(), v.value.expose_secret().to_owned(), v.line, v.file))
                .collect();
            prop_assert_eq!(fast, &expected);
        }
    }
}
