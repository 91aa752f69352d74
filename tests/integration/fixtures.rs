//! Known answers: every file dotenvx 2.38.2 encrypted in `fixtures/dotenvx` reads back, with
//! the keys dotenvx wrote, to exactly the values dotenvx itself reported.

use crate::common::{case_dir, cases, get_json, read_json_map};

#[test]
fn every_dotenvx_fixture_decrypts_to_its_expected_values() {
    let mut compared = 0;
    for (case, meta) in cases() {
        let dir = case_dir(&case);
        for file in meta["files"].as_array().unwrap() {
            let encrypted = file["encrypted"].as_str().unwrap();
            let expected = read_json_map(&dir.path().join(file["expected"].as_str().unwrap()));
            let actual = get_json(dir.path(), encrypted);
            assert_eq!(actual, expected, "{case}/{encrypted}");
            compared += expected.len();
        }
    }
    assert!(compared > 40, "only {compared} values compared");
}

#[test]
fn every_fixture_reencrypts_to_the_same_bytes() {
    for (case, meta) in cases() {
        let dir = case_dir(&case);
        for file in meta["files"].as_array().unwrap() {
            let name = file["encrypted"].as_str().unwrap();
            let before = std::fs::read(dir.path().join(name)).unwrap();
            let keys_before = std::fs::read(dir.path().join(".env.keys")).unwrap();
            crate::common::envx(dir.path())
                .args(["encrypt", "-f", name])
                .assert()
                .success();
            assert_eq!(
                std::fs::read(dir.path().join(name)).unwrap(),
                before,
                "{case}/{name}"
            );
            assert_eq!(
                std::fs::read(dir.path().join(".env.keys")).unwrap(),
                keys_before
            );
        }
    }
}
