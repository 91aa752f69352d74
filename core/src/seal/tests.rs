use super::*;
use crate::crypto::encrypt_value;

/// The known-answer vector in `fixtures/seal`: a fixed key, a fixed file, BIP-340 with 32 zero
/// bytes of auxiliary randomness, sequence 1.
const VECTOR_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/seal");

fn vector() -> (PrivateKey, String, String) {
    let read = |name: &str| std::fs::read_to_string(format!("{VECTOR_DIR}/{name}")).unwrap();
    let key = PrivateKey::from_hex(read("private_key.txt").trim()).unwrap();
    (key, read("input.env"), read("sealed.env"))
}

fn sample(key: &PrivateKey) -> String {
    format!(
        "# production\nDOTENV_PUBLIC_KEY_PRODUCTION=\"{}\"\n\n# database\nDB_URL=\"{}\"\nAPI_KEY={}\nPORT=8080\n",
        key.public_key().to_hex(),
        encrypt_value(key.public_key(), b"postgres://db"),
        encrypt_value(key.public_key(), b"sk_live"),
    )
}

fn sealed_sample() -> (PrivateKey, String) {
    let key = PrivateKey::generate();
    let text = seal_with_os_randomness(&sample(&key), &key, 1).unwrap();
    (key, text)
}

fn changes(state: SealState) -> Vec<Change> {
    match state {
        SealState::Stale { changes, .. } => changes,
        other => panic!("expected a stale seal, got {}", other.describe()),
    }
}

#[test]
fn known_answer_vector_seals_to_the_committed_bytes() {
    let (key, input, sealed) = vector();
    assert_eq!(seal(&input, &key, 1, &[0u8; 32]).unwrap(), sealed);
    match check(&sealed, None) {
        SealState::Valid { seq, signer, .. } => {
            assert_eq!(seq, 1);
            assert_eq!(signer, *key.public_key());
        }
        other => panic!("the committed vector does not verify: {}", other.describe()),
    }
}

#[test]
fn known_answer_vector_with_a_flipped_byte_fails() {
    let (_, _, sealed) = vector();
    // A flipped digit in the signature: the seal line is no longer authentic.
    let at = sealed.find(" sig=").unwrap() + 10;
    let mut bytes = sealed.clone().into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let broken = String::from_utf8(bytes).unwrap();
    assert!(matches!(
        check(&broken, None),
        SealState::Invalid {
            problem: Problem::BadSignature(_),
            ..
        }
    ));
    // A flipped character in a stored value: authentic seal, stale file, key named.
    let broken = sealed.replacen("API_KEY=\"encrypted:BA", "API_KEY=\"encrypted:BB", 1);
    assert_ne!(broken, sealed);
    assert_eq!(
        changes(check(&broken, None)),
        vec![Change::Changed("API_KEY".into())]
    );
}

#[test]
fn a_fresh_seal_verifies_and_sits_after_the_public_key_line() {
    let (key, text) = sealed_sample();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with("DOTENV_PUBLIC_KEY_PRODUCTION="));
    assert!(lines[2].starts_with(SEAL_PREFIX));
    assert_eq!(remove_seal(&text), sample_without(&text));
    match check(&text, Some(key.public_key())) {
        SealState::Valid { seq: 1, .. } => {}
        other => panic!("{}", other.describe()),
    }
}

fn sample_without(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with(SEAL_PREFIX))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn crlf_line_ends_and_a_bom_do_not_break_a_seal() {
    let (_, text) = sealed_sample();
    let crlf = text.replace('\n', "\r\n");
    assert!(check(&crlf, None).is_valid());
    assert!(check(&format!("\u{feff}{text}"), None).is_valid());
    assert!(check(&format!("\u{feff}{crlf}"), None).is_valid());
    // Lone CRs, as old Mac files have them, read as line ends too.
    assert!(check(&text.replace('\n', "\r"), None).is_valid());
    // And a file sealed with CRLF keeps CRLF, seal line included.
    let key = PrivateKey::generate();
    let sealed = seal_with_os_randomness(&sample(&key).replace('\n', "\r\n"), &key, 4).unwrap();
    assert!(!sealed.replace("\r\n", "").contains('\n'));
    assert!(check(&sealed.replace("\r\n", "\n"), None).is_valid());
}

#[test]
fn every_change_to_an_assignment_is_named() {
    let (key, text) = sealed_sample();
    let other = encrypt_value(key.public_key(), b"evil");
    let db = text
        .lines()
        .find(|l| l.starts_with("DB_URL="))
        .unwrap()
        .to_owned();
    let api = text
        .lines()
        .find(|l| l.starts_with("API_KEY="))
        .unwrap()
        .to_owned();
    let db_value = db
        .trim_start_matches("DB_URL=")
        .trim_matches('"')
        .to_owned();
    let api_value = api.trim_start_matches("API_KEY=").to_owned();
    let cases: Vec<(&str, String, Vec<Change>)> = vec![
        (
            "change a value",
            text.replace(&api, &format!("API_KEY={other}")),
            vec![Change::Changed("API_KEY".into())],
        ),
        (
            "swap two ciphertexts",
            text.replace(&db, &format!("DB_URL=\"{api_value}\""))
                .replace(&api, &format!("API_KEY={db_value}")),
            vec![
                Change::Changed("DB_URL".into()),
                Change::Changed("API_KEY".into()),
            ],
        ),
        (
            "add a key",
            format!("{text}NEW=1\n"),
            vec![Change::Added("NEW".into())],
        ),
        (
            "add a duplicate",
            format!("{text}API_KEY={other}\n"),
            vec![Change::Duplicated("API_KEY".into())],
        ),
        (
            "delete a key",
            text.replace("PORT=8080\n", ""),
            vec![Change::Removed("PORT".into())],
        ),
        (
            "reorder",
            text.replace(&format!("{db}\n{api}\n"), &format!("{api}\n{db}\n")),
            vec![Change::Reordered],
        ),
        (
            "edit a comment",
            text.replace("# database", "# the database"),
            vec![Change::OtherLines],
        ),
        (
            "re-quote a value",
            text.replace("PORT=8080", "PORT='8080'"),
            vec![Change::Changed("PORT".into())],
        ),
    ];
    for (attack, edited, expected) in cases {
        assert_ne!(edited, text, "{attack}: the edit did nothing");
        assert_eq!(changes(check(&edited, None)), expected, "{attack}");
    }
}

#[test]
fn a_replaced_or_added_public_key_breaks_the_signature_and_is_named() {
    let (_, text) = sealed_sample();
    let intruder = PrivateKey::generate();
    let line = text
        .lines()
        .find(|l| l.starts_with("DOTENV_PUBLIC_KEY_PRODUCTION="))
        .unwrap();
    let replaced = text.replace(
        line,
        &format!(
            "DOTENV_PUBLIC_KEY_PRODUCTION=\"{}\"",
            intruder.public_key().to_hex()
        ),
    );
    let added = format!(
        "{text}DOTENV_PUBLIC_KEY_PRODUCTION=\"{}\"\n",
        intruder.public_key().to_hex()
    );
    for (edited, claimed) in [
        (
            replaced,
            Change::Changed("DOTENV_PUBLIC_KEY_PRODUCTION".into()),
        ),
        (
            added,
            Change::Duplicated("DOTENV_PUBLIC_KEY_PRODUCTION".into()),
        ),
    ] {
        match check(&edited, None) {
            SealState::Invalid {
                problem: Problem::BadSignature(_),
                claimed: c,
            } => assert_eq!(c, vec![claimed]),
            other => panic!("{}", other.describe()),
        }
    }
}

#[test]
fn a_seal_made_with_another_key_fails_against_the_expected_signer() {
    let (key, text) = sealed_sample();
    // The intruder declares their own key and seals with it: the text verifies on its own
    // terms, but not against the key the verifier expects.
    let intruder = PrivateKey::generate();
    let swapped =
        remove_seal(&text).replace(&key.public_key().to_hex(), &intruder.public_key().to_hex());
    let forged = seal_with_os_randomness(&swapped, &intruder, 99).unwrap();
    assert!(check(&forged, None).is_valid());
    assert!(matches!(
        check(&forged, Some(key.public_key())),
        SealState::Invalid {
            problem: Problem::BadSignature(_),
            ..
        }
    ));
}

#[test]
fn the_seal_line_itself_cannot_be_edited_or_doubled() {
    let (_, text) = sealed_sample();
    let line = seal_lines(&text)[0].to_owned();
    let bumped = text.replace(" seq=1 ", " seq=7 ");
    assert_ne!(bumped, text);
    assert!(matches!(
        check(&bumped, None),
        SealState::Invalid {
            problem: Problem::BadSignature(_),
            ..
        }
    ));
    let padded = text.replace(" seq=1 ", " seq=01 ");
    assert_ne!(padded, text);
    assert!(matches!(
        check(&padded, None),
        SealState::Invalid {
            problem: Problem::Malformed(_),
            ..
        }
    ));
    let doubled = format!("{text}{line}\n");
    assert_eq!(
        check(&doubled, None),
        SealState::Invalid {
            problem: Problem::Several(2),
            claimed: Vec::new()
        }
    );
    // An indented copy is not a seal line: it is covered text, and so a change.
    let indented = format!("{text} {line}\n");
    assert_eq!(changes(check(&indented, None)), vec![Change::OtherLines]);
    assert_eq!(check(&remove_seal(&text), None), SealState::Absent);
}

#[test]
fn a_seal_line_moved_into_a_multi_line_value_breaks_the_seal() {
    let key = PrivateKey::generate();
    let text = format!(
        "DOTENV_PUBLIC_KEY=\"{}\"\nPEM=\"-----BEGIN-----\nabc\n-----END-----\"\n",
        key.public_key().to_hex()
    );
    let sealed = seal_with_os_randomness(&text, &key, 1).unwrap();
    let line = format!("{}\n", seal_lines(&sealed)[0]);
    // Inside the quoted value, the parser would read the seal line as part of PEM.
    let moved = sealed
        .replace(&line, "")
        .replace("abc\n", &format!("abc\n{line}"));
    assert_eq!(covered_text(&moved), covered_text(&sealed));
    assert!(matches!(
        check(&moved, None),
        SealState::Invalid {
            problem: Problem::Moved {
                signed: 2,
                found: 4
            },
            ..
        }
    ));
}

#[test]
fn resealing_replaces_the_line_in_place_and_keeps_every_other_byte() {
    let (key, text) = sealed_sample();
    let edited = format!("{text}NEW=1\n");
    let again = seal_with_os_randomness(&edited, &key, 2).unwrap();
    assert_eq!(remove_seal(&again), remove_seal(&edited));
    assert_eq!(seal_lines(&again).len(), 1);
    assert_eq!(
        again.find(SEAL_PREFIX),
        text.find(SEAL_PREFIX),
        "the seal line moved"
    );
    assert!(matches!(
        check(&again, None),
        SealState::Valid { seq: 2, .. }
    ));
}

#[test]
fn sealing_needs_the_files_own_key() {
    let (_, text) = sealed_sample();
    let other = PrivateKey::generate();
    assert!(matches!(
        seal(&text, &other, 2, &[0; 32]),
        Err(SealError::WrongKey(_))
    ));
    assert_eq!(
        seal("A=1\n", &other, 1, &[0; 32]),
        Err(SealError::NoPublicKey)
    );
}

#[test]
fn a_write_reseals_only_a_file_whose_seal_was_valid() {
    let (key, text) = sealed_sample();
    // Valid before, key given: resealed at the next sequence number.
    let mut doc = Document::parse(&text);
    let index = doc.find_last("PORT").unwrap();
    doc.set_raw(index, "9090");
    assert_eq!(
        reseal_after_write(&mut doc, key.public_key(), Some(&key)).unwrap(),
        Reseal::Resealed(2)
    );
    assert!(matches!(
        check(&doc.to_string(), None),
        SealState::Valid { seq: 2, .. }
    ));
    assert_eq!(
        doc.source(),
        text,
        "source() still gives the text first parsed"
    );
    // No key: left stale.
    let mut doc = Document::parse(&text);
    doc.set_raw(index, "9090");
    assert_eq!(
        reseal_after_write(&mut doc, key.public_key(), None).unwrap(),
        Reseal::LeftStale
    );
    assert!(matches!(
        check(&doc.to_string(), None),
        SealState::Stale { .. }
    ));
    // Stale before: this write does not approve the earlier change.
    let tampered = text.replace("PORT=8080", "PORT=1");
    let mut doc = Document::parse(&tampered);
    doc.set_raw(index, "9090");
    match reseal_after_write(&mut doc, key.public_key(), Some(&key)).unwrap() {
        Reseal::WasNotValid(before) => assert!(matches!(*before, SealState::Stale { .. })),
        other => panic!("{other:?}"),
    }
    assert!(!check(&doc.to_string(), None).is_valid());
    // Unchanged: nothing at all.
    let mut doc = Document::parse(&text);
    doc.set_raw(index, "8080");
    assert_eq!(
        reseal_after_write(&mut doc, key.public_key(), Some(&key)).unwrap(),
        Reseal::Unchanged
    );
    // Never sealed: stays unsealed.
    let mut doc = Document::parse(&sample(&key));
    doc.set_raw(index, "9090");
    assert_eq!(
        reseal_after_write(&mut doc, key.public_key(), Some(&key)).unwrap(),
        Reseal::NotSealed
    );
}

#[test]
fn a_merge_keeps_a_seal_only_when_it_still_verifies() {
    let (key, ours) = sealed_sample();
    let theirs =
        seal_with_os_randomness(&format!("{}NEW=1\n", remove_seal(&ours)), &key, 2).unwrap();
    // The merged text equals theirs: their seal is kept.
    let merged = format!("{}NEW=1\n", ours);
    let settled = settle_merge(&merged, &[&ours, &theirs]);
    assert!(matches!(
        check(&settled, None),
        SealState::Valid { seq: 2, .. }
    ));
    // A text neither side sealed: no seal at all.
    let merged = format!("{}NEW=1\nOTHER=2\n", ours);
    let settled = settle_merge(&merged, &[&ours, &theirs]);
    assert_eq!(check(&settled, None), SealState::Absent);
    assert_eq!(settled, remove_seal(&merged));
}

#[test]
fn compare_names_each_kind_of_change() {
    let k = |name: &str, d: u8| SealedKey {
        name: name.into(),
        digest: [d; DIGEST_LEN],
    };
    let sealed = [k("A", 1), k("B", 2), k("B", 3), k("C", 4)];
    let now = [k("A", 9), k("B", 2), k("D", 5)];
    assert_eq!(
        compare(&sealed, &now),
        vec![
            Change::Changed("A".into()),
            Change::DuplicateRemoved("B".into()),
            Change::Added("D".into()),
            Change::Removed("C".into()),
        ]
    );
    assert!(compare(&sealed, &sealed).is_empty());
}
