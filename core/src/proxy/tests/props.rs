//! Property tests: host matching against a model, directives read back as written, streams
//! equal to one pass whatever the chunks, and substitution and scrubbing against models.

use proptest::prelude::*;
use zeroize::Zeroizing;

use super::super::*;
use crate::document::Document;

/// Labels from a small set, so that generated hosts and patterns often share them.
fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("api".to_owned()),
        Just("example".to_owned()),
        Just("com".to_owned()),
        Just("b-2".to_owned()),
        Just("x_y".to_owned()),
        "[a-z0-9]{1,4}",
    ]
}

fn name(min: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(label(), min..4).prop_map(|l| l.join("."))
}

/// Flips the case of some letters and maybe adds a trailing dot.
fn disguise(name: &str, flips: &[bool], dot: bool) -> String {
    let mut out: String = name
        .chars()
        .zip(flips.iter().cycle())
        .map(|(c, &f)| if f { c.to_ascii_uppercase() } else { c })
        .collect();
    if dot {
        out.push('.');
    }
    out
}

/// The matching rule, written as plainly as possible.
fn model_matches(wildcard: bool, base: &str, port: Option<u16>, host: &str, at: u16) -> bool {
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host);
    let port_ok = port.is_none_or(|p| p == at);
    let name_ok = if wildcard {
        host.len() > base.len() + 1
            && host.ends_with(&format!(".{base}"))
            && host[..host.len() - base.len() - 1]
                .split('.')
                .all(|l| !l.is_empty())
    } else {
        host == base
    };
    port_ok && name_ok
}

const SECRETS: [(&str, &str); 4] = [
    ("HEAD", "head-real-value-0001"),
    ("QUERY", "query&real=value/é"),
    ("BODY", "body-real\"value\"-03"),
    ("OTHER", "other-real-value-04"),
];

/// A vault whose rules all name `allowed.example`, each with other surfaces.
fn vault() -> Vault {
    let surfaces = [
        Surfaces::default(),
        Surfaces {
            header: true,
            query: true,
            body: false,
        },
        Surfaces {
            header: false,
            query: false,
            body: true,
        },
        Surfaces {
            header: true,
            query: true,
            body: true,
        },
    ];
    Vault::new(
        SECRETS
            .iter()
            .zip(surfaces)
            .map(|((key, value), surfaces)| {
                let hosts = if *key == "OTHER" {
                    vec![HostPattern::parse("other.example").unwrap()]
                } else {
                    vec![HostPattern::parse("allowed.example").unwrap()]
                };
                (
                    (*key).to_owned(),
                    Zeroizing::new((*value).to_owned()),
                    Rule { hosts, surfaces },
                )
            })
            .collect(),
    )
}

/// A piece of text: a key's placeholder (by index), a placeholder's beginning, a real value,
/// or filler.
#[derive(Debug, Clone)]
enum Piece {
    Placeholder(usize),
    Start(usize, usize),
    Real(usize),
    Filler(String),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        (0..SECRETS.len()).prop_map(Piece::Placeholder),
        (0..SECRETS.len(), 0..47usize).prop_map(|(k, n)| Piece::Start(k, n)),
        (0..SECRETS.len()).prop_map(Piece::Real),
        "[a-z0-9_ =&?\n]{0,12}".prop_map(Piece::Filler),
        Just(Piece::Filler("envxph_".to_owned())),
    ]
}

fn render(v: &Vault, pieces: &[Piece]) -> Vec<u8> {
    let ph = |k: usize| v.placeholder(SECRETS[k].0).unwrap().to_string();
    pieces
        .iter()
        .flat_map(|p| match p {
            Piece::Placeholder(k) => ph(*k).into_bytes(),
            Piece::Start(k, n) => ph(*k).into_bytes()[..*n].to_vec(),
            Piece::Real(k) => SECRETS[*k].1.as_bytes().to_vec(),
            Piece::Filler(f) => f.clone().into_bytes(),
        })
        .collect()
}

/// Replaces, left to right, each placeholder of a key for which `allowed` says yes by its real
/// value: the substitution model.
fn model_substitute(v: &Vault, text: &[u8], allowed: impl Fn(usize) -> bool) -> Vec<u8> {
    model_replace(v, text, |k| {
        allowed(k).then(|| SECRETS[k].1.as_bytes().to_vec())
    })
}

/// Replaces, left to right, each placeholder by `replace(key index)` when that says something.
fn model_replace(v: &Vault, text: &[u8], replace: impl Fn(usize) -> Option<Vec<u8>>) -> Vec<u8> {
    let phs: Vec<String> = SECRETS
        .iter()
        .map(|(k, _)| v.placeholder(k).unwrap().to_string())
        .collect();
    let mut out = Vec::new();
    let mut at = 0;
    'scan: while at < text.len() {
        for (k, ph) in phs.iter().enumerate() {
            if text[at..].starts_with(ph.as_bytes()) {
                match replace(k) {
                    Some(real) => out.extend_from_slice(&real),
                    None => out.extend_from_slice(ph.as_bytes()),
                }
                at += ph.len();
                continue 'scan;
            }
        }
        out.push(text[at]);
        at += 1;
    }
    out
}

/// Feeds `text` cut at `cuts`.
fn feed_cut(mut stream: Stream<'_>, text: &[u8], cuts: &[usize]) -> (Vec<u8>, Outcome) {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (text.len() + 1)).collect();
    points.sort_unstable();
    let mut out = Vec::new();
    let mut last = 0;
    for point in points {
        stream.feed(&text[last..point], &mut out);
        last = point;
    }
    stream.feed(&text[last..], &mut out);
    stream.finish(&mut out);
    (out, stream.outcome().clone())
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    memchr::memmem::find_iter(haystack, needle).count()
}

proptest! {
    #[test]
    fn host_matching_agrees_with_the_model(
        wildcard in any::<bool>(),
        base in name(1),
        port in proptest::option::of(prop_oneof![Just(443u16), Just(8443)]),
        host in name(1),
        at in prop_oneof![Just(443u16), Just(8443)],
        flips in proptest::collection::vec(any::<bool>(), 1..8),
        dots in any::<(bool, bool)>(),
    ) {
        let written = format!(
            "{}{}{}",
            if wildcard { "*." } else { "" },
            disguise(&base, &flips, dots.0),
            port.map(|p| format!(":{p}")).unwrap_or_default(),
        );
        match HostPattern::parse(&written) {
            Ok(pattern) => {
                let reversed: Vec<bool> = flips.iter().rev().copied().collect();
                let host = disguise(&host, &reversed, dots.1);
                prop_assert_eq!(
                    pattern.matches(&host, at),
                    model_matches(wildcard, &base, port, &host, at),
                    "{} vs {}:{}", written, host, at
                );
                // Every name below a wildcard's base matches; the base itself never does.
                if wildcard {
                    let below = format!("z.{base}");
                    prop_assert!(pattern.matches(&below, port.unwrap_or(at)));
                    prop_assert!(!pattern.matches(&base, port.unwrap_or(at)));
                }
            }
            Err(_) => prop_assert!(wildcard && !base.contains('.'), "{} refused", written),
        }
    }

    #[test]
    fn directives_read_back_as_written(
        rules in proptest::collection::vec(
            (
                proptest::collection::vec((any::<bool>(), name(2), proptest::option::of(1u16..)), 1..4),
                any::<(bool, bool, bool)>(),
                any::<bool>(),
            ),
            0..5,
        ),
        spacing in proptest::collection::vec(prop_oneof![Just(" "), Just(""), Just("  "), Just("\t")], 4),
        crlf in any::<bool>(),
        noise in proptest::collection::vec(prop_oneof![
            Just("# a comment"), Just(""), Just("PLAIN=1"), Just("M=\"two\n# envx-proxy: hosts=evil.example\nlines\""),
        ], 0..5),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        let mut expected = Vec::new();
        for (i, (hosts, (h, q, b), order)) in rules.iter().enumerate() {
            if let Some(n) = noise.get(i) {
                text.push_str(&n.replace('\n', eol));
                text.push_str(eol);
            }
            let patterns: Vec<String> = hosts
                .iter()
                .map(|(w, n, p)| format!(
                    "{}{n}{}",
                    if *w { "*." } else { "" },
                    p.map(|p| format!(":{p}")).unwrap_or_default()
                ))
                .collect();
            let mut surfaces: Vec<&str> = Vec::new();
            if *h { surfaces.push("header"); }
            if *q { surfaces.push("query"); }
            if *b { surfaces.push("body"); }
            let hosts_field = format!("hosts={}", patterns.join(","));
            let in_field = format!("in={}", surfaces.join(","));
            let sep = if spacing[2].is_empty() { " " } else { spacing[2] };
            let fields = match (surfaces.is_empty(), order) {
                (true, _) => hosts_field,
                (false, true) => format!("{hosts_field}{sep}{in_field}"),
                (false, false) => format!("{in_field}{sep}{hosts_field}"),
            };
            text.push_str(&format!("{}#{}envx-proxy:{}{fields}{}{eol}", spacing[0], spacing[1], spacing[2], spacing[3]));
            text.push_str(&format!("KEY_{i}=value{eol}"));
            expected.push(KeyRule {
                key: format!("KEY_{i}"),
                rule: Rule {
                    hosts: patterns.iter().map(|p| HostPattern::parse(p).unwrap()).collect(),
                    surfaces: if surfaces.is_empty() {
                        Surfaces::default()
                    } else {
                        Surfaces { header: *h, query: *q, body: *b }
                    },
                },
                line: 0,
            });
        }
        let doc = Document::parse(&text);
        let got = rules_in(&doc).unwrap();
        prop_assert_eq!(got.len(), expected.len());
        for (got, expected) in got.iter().zip(&expected) {
            prop_assert_eq!(&got.key, &expected.key);
            prop_assert_eq!(&got.rule, &expected.rule);
            let entry = &doc.entries()[doc.find_last(&got.key).unwrap()];
            prop_assert_eq!(got.line + 1, entry.line());
        }
    }

    #[test]
    fn a_body_streamed_in_any_chunks_is_the_one_pass_result_and_the_model(
        pieces in proptest::collection::vec(piece(), 0..10),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        host in prop_oneof![Just("allowed.example"), Just("other.example"), Just("evil.example")],
    ) {
        let v = vault();
        let text = render(&v, &pieces);
        let (whole, _) = feed_cut(v.body_substituter(host, 443), &text, &[]);
        let (streamed, outcome) = feed_cut(v.body_substituter(host, 443), &text, &cuts);
        prop_assert_eq!(&streamed, &whole);
        // Only placeholders of keys whose rule allows the body on this host are substituted.
        // BODY's rule: the body on allowed.example; OTHER's: every surface on other.example.
        let allowed = |k: usize| {
            (SECRETS[k].0, host) == ("BODY", "allowed.example")
                || (SECRETS[k].0, host) == ("OTHER", "other.example")
        };
        prop_assert_eq!(&whole, &model_substitute(&v, &text, allowed));
        // The keys the model's left-to-right scan meets (a placeholder's beginning can happen
        // to be completed by what follows, and then overlap the next placeholder).
        let seen = std::cell::RefCell::new(Vec::new());
        model_replace(&v, &text, |k| {
            seen.borrow_mut().push(k);
            None
        });
        let seen = seen.into_inner();
        for (k, (key, _)) in SECRETS.iter().enumerate() {
            let present = seen.contains(&k);
            prop_assert_eq!(outcome.substituted.iter().any(|s| s == key), present && allowed(k));
            prop_assert_eq!(outcome.refused.iter().any(|s| s == key), present && !allowed(k));
        }
    }

    #[test]
    fn a_request_head_substitutes_as_the_model_says(
        header in proptest::collection::vec(piece(), 0..6),
        query in proptest::collection::vec(piece(), 0..6),
        host in prop_oneof![Just("allowed.example"), Just("ALLOWED.example."), Just("evil.example")],
    ) {
        let v = vault();
        let header_text = render(&v, &header);
        let query_text = String::from_utf8(render(&v, &query)).unwrap();
        let mut target = format!("/path?{query_text}");
        let mut headers = vec![
            ("X-Key".to_owned(), header_text.clone()),
            ("Proxy-Authorization".to_owned(), header_text.clone()),
        ];
        v.request_head(host, 443, &mut target, &mut headers);
        let on_host = host != "evil.example";
        let in_header = |k: usize| on_host && ["HEAD", "QUERY"].contains(&SECRETS[k].0);
        let in_query = |k: usize| on_host && SECRETS[k].0 == "QUERY";
        prop_assert_eq!(&headers[0].1, &model_substitute(&v, &header_text, in_header));
        prop_assert_eq!(&headers[1].1, &header_text);
        // The query: the model with the real value percent-encoded.
        let encoded = b"query%26real%3Dvalue%2F%C3%A9".to_vec();
        let query = model_replace(&v, query_text.as_bytes(), |k| in_query(k).then(|| encoded.clone()));
        prop_assert_eq!(target, format!("/path?{}", String::from_utf8(query).unwrap()));
    }

    #[test]
    fn the_scrubber_turns_every_real_value_into_its_placeholder(
        pieces in proptest::collection::vec(piece(), 0..10),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let v = vault();
        let text = render(&v, &pieces);
        let (whole, _) = feed_cut(v.response_scrubber(), &text, &[]);
        let (streamed, outcome) = feed_cut(v.response_scrubber(), &text, &cuts);
        prop_assert_eq!(&streamed, &whole);
        for (key, real) in SECRETS {
            prop_assert_eq!(count(&whole, real.as_bytes()), 0, "{} left in the output", key);
            let ph = v.placeholder(key).unwrap().to_string();
            let reals = count(&text, real.as_bytes());
            // (Not plus the placeholders already in the text: a placeholder's beginning followed
            // by a real value can happen to complete it, and scrubbing that value breaks it.)
            prop_assert!(count(&whole, ph.as_bytes()) >= reals);
            prop_assert_eq!(outcome.scrubbed.iter().any(|s| s == key), reals > 0);
        }
    }
}
