use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

fn vars() -> HashMap<String, String> {
    [
        ("A", "alpha"),
        ("EMPTY", ""),
        ("B", "beta"),
        ("my", "mine"),
        ("DOLLAR", "$B"),
        (" A ", "spaced"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn plain(text: &str) -> String {
    expand(text, Mode::Plain, &vars()).to_string()
}

fn secret(text: &str) -> String {
    expand(text, Mode::Secret, &vars()).to_string()
}

#[test]
fn plain_mode_follows_dotenvx() {
    let table = [
        ("$A", "alpha"),
        ("${A}", "alpha"),
        ("x${A}y$B.z", "xalphaybeta.z"),
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${A:-d}", "alpha"),
        ("${UNSET-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${A-d}", "alpha"),
        ("${A:+x}", "x"),
        ("${EMPTY:+x}", ""),
        ("${UNSET:+x}", ""),
        ("${A+x}", "x"),
        ("${EMPTY+x}", "x"),
        ("${UNSET+x}", ""),
        ("\\$A", "$A"),
        ("\\${A}", "${A}"),
        ("$$", "$$"),
        ("$1abc", "$1abc"),
        ("${1}", ""),
        ("${ A }", "spaced"),
        ("${my-key}", "mine"),
        ("${nope-key}", "key"),
        ("$UNKNOWN", ""),
        ("${UNSET:-${B}}", "beta"),
        ("${UNSET:-$B}", "beta"),
        ("${UNSET:-x}y", "xy"),
        ("${DOLLAR}", "$B"),
        ("${A", "${A"),
        ("end$", "end$"),
        ("pa$word@x", "pa@x"),
        ("back\\slash", "back\\slash"),
        ("${}", "${}"),
    ];
    for (input, expected) in table {
        assert_eq!(plain(input), expected, "{input}");
    }
}

#[test]
fn secret_mode_keeps_what_is_not_a_defined_reference() {
    let table = [
        ("pa$word@x", "pa$word@x"),
        ("${A}@host", "alpha@host"),
        ("$A$UNSET", "alpha$UNSET"),
        ("${UNSET:-d}", "${UNSET:-d}"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY}", ""),
        ("\\$A", "\\$A"),
        ("$$", "$$"),
        ("${A", "${A"),
    ];
    for (input, expected) in table {
        assert_eq!(secret(input), expected, "{input}");
    }
}

#[test]
fn references_lists_names_once_in_order() {
    assert_eq!(references("$B ${A:-${C}} $B \\$D $1"), ["B", "A", "C"]);
    assert!(references("no refs $ here").is_empty());
}

#[test]
fn command_substitution_is_found_and_run_only_when_present() {
    assert!(has_command_substitution("$(echo hi)"));
    assert!(has_command_substitution("a$(echo $(date) ')')b"));
    assert!(!has_command_substitution("\\$(echo hi)"));
    assert!(!has_command_substitution("$(unclosed"));
    assert!(!has_command_substitution("$ (x) and $x"));

    let mut calls = Vec::new();
    let out = substitute_commands("a$(one (nested))b$(two)c", &mut |cmd: &str| {
        calls.push(cmd.to_owned());
        Ok::<_, ()>(format!("<{cmd}>\n\n"))
    })
    .unwrap();
    assert_eq!(out.as_str(), "a<one (nested)>b<two>c");
    assert_eq!(calls, ["one (nested)", "two"]);

    let mut called = false;
    let out = substitute_commands("plain $x", &mut |_: &str| {
        called = true;
        Ok::<_, ()>(String::new())
    })
    .unwrap();
    assert_eq!(out.as_str(), "plain $x");
    assert!(!called);

    let err = substitute_commands("$(fail)", &mut |_: &str| Err::<String, _>("boom"));
    assert_eq!(err.err(), Some("boom"));
}

#[test]
fn deep_nesting_terminates() {
    let mut text = String::new();
    for _ in 0..10_000 {
        text.push_str("${A:-");
    }
    text.push('x');
    for _ in 0..10_000 {
        text.push('}');
    }
    let _ = plain(&text);
    let _ = secret(&text);
    let _ = references(&text);
}

proptest! {
    #[test]
    fn never_panics_and_secret_mode_with_no_vars_is_identity(text in "[$\\\\{}:+\\-A-Za-z_ ()']{0,64}|.{0,64}") {
        let empty: HashMap<String, String> = HashMap::new();
        let same = expand(&text, Mode::Secret, &empty);
        prop_assert_eq!(same.as_str(), text.as_str());
        let _ = expand(&text, Mode::Plain, &vars());
        let _ = references(&text);
        let _ = has_command_substitution(&text);
    }
}
