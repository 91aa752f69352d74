//! Unit and property tests of the proxy's pure logic.

#![allow(clippy::unwrap_used)]

mod props;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::*;
use crate::document::Document;

fn pattern(s: &str) -> HostPattern {
    HostPattern::parse(s).unwrap()
}

fn rule(hosts: &[&str], surfaces: Surfaces) -> Rule {
    Rule {
        hosts: hosts.iter().map(|h| pattern(h)).collect(),
        surfaces,
    }
}

const HEADER: Surfaces = Surfaces {
    header: true,
    query: false,
    body: false,
};
const ALL: Surfaces = Surfaces {
    header: true,
    query: true,
    body: true,
};

#[test]
fn exact_names_match_case_insensitively_without_a_trailing_dot() {
    let p = pattern("API.OpenAI.com.");
    for host in ["api.openai.com", "API.OPENAI.COM", "api.openai.com."] {
        assert!(p.matches(host, 443), "{host}");
        assert!(p.matches(host, 8443), "no port in the pattern: any port");
    }
    for host in [
        "openai.com",
        "x.api.openai.com",
        "api.openai.co",
        "api.openai.com.evil",
    ] {
        assert!(!p.matches(host, 443), "{host}");
    }
}

#[test]
fn a_wildcard_matches_deeper_names_but_never_the_bare_parent() {
    let p = pattern("*.stripe.com");
    assert!(p.matches("api.stripe.com", 443));
    assert!(p.matches("a.b.STRIPE.com.", 443));
    for host in [
        "stripe.com",
        "stripe.com.",
        "evilstripe.com",
        ".stripe.com",
        "x..stripe.com",
    ] {
        assert!(!p.matches(host, 443), "{host}");
    }
}

#[test]
fn ports_and_ipv4_addresses() {
    let p = pattern("127.0.0.2:8443");
    assert!(p.matches("127.0.0.2", 8443));
    assert!(!p.matches("127.0.0.2", 443));
    assert!(!p.matches("127.0.0.3", 8443));
    assert!(
        !pattern("*.0.0.2").matches("127.0.0.2", 1),
        "a wildcard never matches an address"
    );
    assert_eq!(
        pattern("Api.Example.com.:443").to_string(),
        "api.example.com:443"
    );
}

#[test]
fn bad_patterns_are_refused() {
    for bad in [
        "",
        "*",
        "*.com",
        "*.*.example.com",
        "a.*.example.com",
        "exa mple.com",
        "example.com:0",
        "example.com:99999",
        "example.com:",
        "*.127.0.0.1",
        "[::1]:443",
        "::1",
        "a..b",
        "-.é.com",
        &format!("{}.com", "a".repeat(64)),
    ] {
        assert!(
            matches!(
                HostPattern::parse(bad),
                Err(RuleError::Host { line: None, .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn directives_above_assignments_become_rules() {
    let doc = Document::parse(
        "# a comment\n# envx-proxy: hosts=api.openai.com,*.stripe.com\nOPENAI=sk-1\n\
         #envx-proxy:hosts=127.0.0.2:8443 in=query,header\nexport STRIPE=\"x\"\nPLAIN=1\n\
         #   envx-proxy:   in=body   hosts=b.example   \r\nBODY=y\n",
    );
    let rules = rules_in(&doc).unwrap();
    let keys: Vec<(&str, usize)> = rules.iter().map(|r| (r.key.as_str(), r.line)).collect();
    assert_eq!(keys, [("OPENAI", 2), ("STRIPE", 4), ("BODY", 7)]);
    assert_eq!(rules[0].rule.surfaces, Surfaces::default());
    assert_eq!(
        rules[0].rule.hosts,
        [pattern("api.openai.com"), pattern("*.stripe.com")]
    );
    assert!(rules[1].rule.surfaces.query && rules[1].rule.surfaces.header);
    assert!(!rules[1].rule.surfaces.body);
    let body = rules[2].rule.surfaces;
    assert!(body.body && !body.header && !body.query);
}

#[test]
fn bad_directives_are_errors_that_name_the_line() {
    let cases: &[(&str, RuleError)] = &[
        (
            "A=1\n# envx-proxy: hosts=a.example\n\nB=2\n",
            RuleError::NotAboveAssignment { line: 2 },
        ),
        (
            "# envx-proxy: hosts=a.example\n# other\nB=2\n",
            RuleError::NotAboveAssignment { line: 1 },
        ),
        (
            "A=1\n# envx-proxy: hosts=a.example",
            RuleError::NotAboveAssignment { line: 2 },
        ),
        (
            "# envx-proxy: hosts=a.example port=1\nA=1\n",
            RuleError::Field {
                line: 1,
                field: "port".into(),
            },
        ),
        (
            "# envx-proxy: hosts=a.example hosts=b.example\nA=1\n",
            RuleError::Field {
                line: 1,
                field: "hosts".into(),
            },
        ),
        (
            "# envx-proxy: hosts=\nA=1\n",
            RuleError::NoHosts { line: Some(1) },
        ),
        (
            "# envx-proxy: hosts=,\nA=1\n",
            RuleError::NoHosts { line: Some(1) },
        ),
        (
            "# envx-proxy: in=header\nA=1\n",
            RuleError::NoHosts { line: Some(1) },
        ),
        (
            "# envx-proxy hosts=a.example\nA=1\n",
            RuleError::Malformed { line: 1 },
        ),
        (
            "# envx-proxy: hosts a.example\nA=1\n",
            RuleError::Malformed { line: 1 },
        ),
        (
            "# envx-proxy: hosts=a.example in=headers\nA=1\n",
            RuleError::Surface {
                line: 1,
                surface: "headers".into(),
            },
        ),
        (
            "# envx-proxy: hosts=a.example in=\nA=1\n",
            RuleError::Surface {
                line: 1,
                surface: String::new(),
            },
        ),
        (
            "# envx-proxy: hosts=a.example\nA=1\n# envx-proxy: hosts=b.example\nA=2\n",
            RuleError::Duplicate {
                key: "A".into(),
                line: 3,
                first: 1,
            },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(
            &rules_in(&Document::parse(text)).unwrap_err(),
            expected,
            "{text:?}"
        );
    }
    let error = rules_in(&Document::parse("x\n# envx-proxy: hosts=*.com\nA=1\n")).unwrap_err();
    assert!(
        matches!(error, RuleError::Host { line: Some(2), .. }),
        "{error:?}"
    );
    assert!(error.to_string().starts_with("line 2: "), "{error}");
}

#[test]
fn a_directive_inside_a_multi_line_value_is_part_of_the_value() {
    let doc = Document::parse(
        "CERT=\"line one\n# envx-proxy: hosts=evil.example\nline three\"\nB=2\n\
         # envx-proxy: hosts=good.example\nC=3\n",
    );
    let rules = rules_in(&doc).unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!((rules[0].key.as_str(), rules[0].line), ("C", 5));
    // Other comments, and words that only start like the directive, are not directives.
    let doc = Document::parse("# envx-proxying is fun\n# see envx-proxy: docs\nA=1\n");
    assert!(rules_in(&doc).unwrap().is_empty());
}

#[test]
fn cli_rules_are_header_only() {
    let (key, rule) = parse_cli_rule("API_KEY=api.example.com,*.example.org:8443").unwrap();
    assert_eq!(key, "API_KEY");
    assert_eq!(rule.surfaces, Surfaces::default());
    assert!(rule.allows("x.example.org", 8443) && !rule.allows("x.example.org", 443));
    assert!(rule.allows("api.example.com", 1));
    assert_eq!(parse_cli_rule("API_KEY"), Err(RuleError::Cli));
    assert_eq!(parse_cli_rule("=a.example"), Err(RuleError::Cli));
    assert_eq!(parse_cli_rule("K="), Err(RuleError::NoHosts { line: None }));
    assert!(matches!(parse_cli_rule("K=*"), Err(RuleError::Host { .. })));
}

#[test]
fn placeholders_are_random_and_well_formed() {
    let mut seen = std::collections::HashSet::new();
    let mut chars = std::collections::HashSet::new();
    for _ in 0..200 {
        let p = Placeholder::generate();
        assert!(Placeholder::is_placeholder(p.as_str().as_bytes()), "{p}");
        assert_eq!(p.as_str().len(), PLACEHOLDER_PREFIX.len() + PLACEHOLDER_LEN);
        chars.extend(p.as_str()[PLACEHOLDER_PREFIX.len()..].chars());
        assert!(seen.insert(p.to_string()));
        assert_eq!(format!("{p:?}"), format!("Placeholder({:?})", p.as_str()));
    }
    assert_eq!(chars.len(), 36, "every character of [a-z0-9] is drawn");
}

const OPENAI: &str = "sk-real-openai-0123456789";
const STRIPE: &str = "rk_live_stripe_abcdef";
const BODYKEY: &str = "body-secret-value-42";
const GIT: &str = "ghp_gitpassword0000";

fn vault() -> Vault {
    Vault::new(vec![
        (
            "OPENAI".into(),
            Zeroizing::new(OPENAI.into()),
            rule(&["api.openai.com"], HEADER),
        ),
        (
            "STRIPE".into(),
            Zeroizing::new(STRIPE.into()),
            rule(
                &["*.stripe.com"],
                Surfaces {
                    header: true,
                    query: true,
                    body: false,
                },
            ),
        ),
        (
            "BODYKEY".into(),
            Zeroizing::new(BODYKEY.into()),
            rule(&["127.0.0.2:8443"], ALL),
        ),
        (
            "GIT".into(),
            Zeroizing::new(GIT.into()),
            rule(&["git.example"], HEADER),
        ),
    ])
}

fn ph(v: &Vault, key: &str) -> String {
    v.placeholder(key).unwrap().to_string()
}

#[test]
fn debug_shows_names_and_placeholders_never_values() {
    let v = vault();
    let shown = format!("{v:?} {v:#?}");
    for real in [OPENAI, STRIPE, BODYKEY, GIT] {
        assert!(!shown.contains(real), "{shown}");
    }
    assert!(shown.contains("OPENAI") && shown.contains(&ph(&v, "OPENAI")));
    assert!(v.names_host("API.openai.com.", 443));
    assert!(v.names_host("127.0.0.2", 8443) && !v.names_host("127.0.0.2", 443));
    assert!(!v.names_host("stripe.com", 443));
    let keys: Vec<&str> = v.placeholders().map(|(k, _)| k).collect();
    assert_eq!(keys, ["OPENAI", "STRIPE", "BODYKEY", "GIT"]);
}

fn head(
    v: &Vault,
    host: &str,
    port: u16,
    target: &str,
    headers: &[(&str, String)],
) -> (String, Vec<(String, Vec<u8>)>, Outcome) {
    let mut target = target.to_owned();
    let mut headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone().into_bytes()))
        .collect();
    let outcome = v.request_head(host, port, &mut target, &mut headers);
    (target, headers, outcome)
}

#[test]
fn headers_get_the_real_value_only_on_an_allowed_host() {
    let v = vault();
    let openai = ph(&v, "OPENAI");
    let bearer = format!("Bearer {openai}");
    let (_, headers, outcome) = head(
        &v,
        "api.openai.com",
        443,
        "/v1/chat",
        &[("Authorization", bearer.clone())],
    );
    assert_eq!(headers[0].1, format!("Bearer {OPENAI}").into_bytes());
    assert_eq!(outcome.substituted, ["OPENAI"]);
    assert!(outcome.refused.is_empty());

    let (_, headers, outcome) = head(
        &v,
        "evil.example",
        443,
        "/",
        &[("Authorization", bearer.clone())],
    );
    assert_eq!(
        headers[0].1,
        bearer.as_bytes(),
        "another host gets the placeholder"
    );
    assert_eq!(
        (outcome.substituted.len(), outcome.refused.as_slice()),
        (0, &["OPENAI".to_owned()][..])
    );
}

#[test]
fn the_query_only_when_allowed_and_the_path_never() {
    let v = vault();
    let (openai, stripe) = (ph(&v, "OPENAI"), ph(&v, "STRIPE"));
    let target = format!("/p/{stripe}/x?key={stripe}&other={openai}");
    let (new, _, outcome) = head(&v, "api.stripe.com", 443, &target, &[]);
    assert_eq!(
        new,
        format!("/p/{stripe}/x?key=rk_live_stripe_abcdef&other={openai}")
    );
    assert_eq!(outcome.substituted, ["STRIPE"]);
    assert_eq!(outcome.refused, ["STRIPE", "OPENAI"]);

    let (new, _, outcome) = head(&v, "api.openai.com", 443, &format!("/?k={openai}"), &[]);
    assert_eq!(
        new,
        format!("/?k={openai}"),
        "OPENAI's rule has no query surface"
    );
    assert_eq!(outcome.refused, ["OPENAI"]);
}

#[test]
fn query_values_are_percent_encoded() {
    let v = Vault::new(vec![(
        "Q".into(),
        Zeroizing::new("a b&c=d/é".into()),
        rule(
            &["q.example"],
            Surfaces {
                header: false,
                query: true,
                body: false,
            },
        ),
    )]);
    let (new, _, _) = head(&v, "q.example", 443, &format!("/s?x={}", ph(&v, "Q")), &[]);
    assert_eq!(new, "/s?x=a%20b%26c%3Dd%2F%C3%A9");
}

#[test]
fn basic_auth_is_decoded_substituted_and_encoded_again() {
    let v = vault();
    let git = ph(&v, "GIT");
    let basic = format!("Basic {}", STANDARD.encode(format!("x-access-token:{git}")));
    let proxy = format!("Basic {}", STANDARD.encode(format!("envx:{git}")));
    let headers = [
        ("authorization", basic.clone()),
        ("Proxy-Authorization", proxy.clone()),
        ("proxy-authorization", format!("Bearer {git}")),
    ];
    let (_, out, outcome) = head(&v, "git.example", 443, "/repo.git/info/refs", &headers);
    let expected = format!("Basic {}", STANDARD.encode(format!("x-access-token:{GIT}")));
    assert_eq!(out[0].1, expected.into_bytes());
    assert_eq!(
        out[1].1,
        proxy.as_bytes(),
        "Proxy-Authorization is never touched"
    );
    assert_eq!(out[2].1, format!("Bearer {git}").into_bytes());
    assert_eq!(outcome.substituted, ["GIT"]);
    assert!(
        outcome.refused.is_empty(),
        "Proxy-Authorization is not even reported"
    );

    let (_, out, outcome) = head(&v, "other.example", 443, "/", &headers[..1]);
    assert_eq!(out[0].1, basic.as_bytes());
    assert_eq!(outcome.refused, ["GIT"]);
}

#[test]
fn the_host_header_and_unwritable_values_are_refused() {
    let v = Vault::new(vec![(
        "NL".into(),
        Zeroizing::new("line\r\nX-Injected: 1".into()),
        rule(&["h.example"], HEADER),
    )]);
    let nl = ph(&v, "NL");
    let headers = [("X-Key", nl.clone()), ("Host", nl.clone())];
    let (_, out, outcome) = head(&v, "h.example", 443, "/", &headers);
    assert_eq!(out[0].1, nl.as_bytes());
    assert_eq!(out[1].1, nl.as_bytes());
    assert_eq!(outcome.refused, ["NL"]);
    assert!(outcome.substituted.is_empty());
}

fn sorted(mut keys: Vec<String>) -> Vec<String> {
    keys.sort();
    keys
}

fn run(mut stream: Stream<'_>, chunks: &[&[u8]]) -> (Vec<u8>, Outcome) {
    let mut out = Vec::new();
    for chunk in chunks {
        stream.feed(chunk, &mut out);
    }
    stream.finish(&mut out);
    (out, stream.outcome().clone())
}

#[test]
fn bodies_are_substituted_only_for_body_rules() {
    let v = vault();
    let (body, openai) = (ph(&v, "BODYKEY"), ph(&v, "OPENAI"));
    let text = format!("{{\"a\":\"{body}\",\"b\":\"{openai}\"}}");
    let (out, outcome) = run(v.body_substituter("127.0.0.2", 8443), &[text.as_bytes()]);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("{{\"a\":\"{BODYKEY}\",\"b\":\"{openai}\"}}")
    );
    assert_eq!(outcome.substituted, ["BODYKEY"]);
    assert_eq!(outcome.refused, ["OPENAI"]);

    let (out, outcome) = run(v.body_substituter("127.0.0.2", 443), &[text.as_bytes()]);
    assert_eq!(out, text.as_bytes(), "wrong port: nothing substituted");
    assert_eq!(sorted(outcome.refused), ["BODYKEY", "OPENAI"]);
}

#[test]
fn a_placeholder_split_across_chunks_is_substituted() {
    let v = vault();
    let body = ph(&v, "BODYKEY");
    let text = format!("x={body}&y=1");
    let bytes = text.as_bytes();
    let mut stream = v.body_substituter("127.0.0.2", 8443);
    let mut out = Vec::new();
    stream.feed(&bytes[..10], &mut out);
    assert_eq!(out, b"x=", "only what could start a placeholder is held");
    stream.feed(&bytes[10..], &mut out);
    stream.finish(&mut out);
    assert_eq!(out, format!("x={BODYKEY}&y=1").into_bytes());
}

#[test]
fn a_body_placeholder_cut_by_a_line_break_stays_as_it_is() {
    // A line of 64 base64 characters is how wrapped base64 looks; `--redact` joins such lines,
    // the body substituter must not: it replaces placeholders exactly as written.
    let v = vault();
    let body = ph(&v, "BODYKEY");
    let text = format!("{}{}\n{}", "A".repeat(44), &body[..20], &body[20..]);
    let (out, outcome) = run(v.body_substituter("127.0.0.2", 8443), &[text.as_bytes()]);
    assert_eq!(out, text.as_bytes());
    assert!(outcome.is_empty());
}

#[test]
fn responses_echoing_a_real_value_show_the_placeholder() {
    let v = vault();
    let echo = format!(
        "{{\"auth\":\"Bearer {OPENAI}\",\"basic\":\"{}\",\"json\":{}}}",
        STANDARD.encode(format!("user:{GIT}")),
        serde_json::to_string(&format!("{STRIPE}/\"q\"")).unwrap(),
    );
    let bytes = echo.as_bytes();
    let (out, outcome) = run(v.response_scrubber(), &[&bytes[..20], &bytes[20..]]);
    let out = String::from_utf8(out).unwrap();
    for real in [OPENAI, STRIPE, GIT] {
        assert!(!out.contains(real), "{out}");
    }
    assert!(
        out.contains(&format!("Bearer {}", ph(&v, "OPENAI"))),
        "{out}"
    );
    assert!(out.contains(&ph(&v, "STRIPE")), "{out}");
    assert_eq!(sorted(outcome.scrubbed), ["GIT", "OPENAI", "STRIPE"]);

    let mut header = format!("Basic {}", STANDARD.encode(format!("user:{GIT}"))).into_bytes();
    let outcome = v.scrub_header(&mut header);
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("user:{}", ph(&v, "GIT")))
    );
    assert_eq!(String::from_utf8(header).unwrap(), expected);
    assert_eq!(outcome.scrubbed, ["GIT"]);
    let mut plain = b"no secrets here".to_vec();
    assert!(v.scrub_header(&mut plain).is_empty());
    assert_eq!(plain, b"no secrets here");
}

#[test]
fn the_plan_gives_placeholders_withholds_and_passes() {
    let values: Vec<(String, bool)> = [
        ("RULED", true),
        ("SECRET", true),
        ("OPEN", false),
        ("ASKED", true),
        ("RULED_PLAIN", false),
    ]
    .map(|(k, e)| (k.to_owned(), e))
    .into();
    let r = rule(&["a.example"], HEADER);
    let rules = vec![
        ("RULED".to_owned(), r.clone()),
        ("RULED_PLAIN".to_owned(), r.clone()),
    ];
    let p = plan(&values, &rules, &["ASKED".to_owned()]).unwrap();
    let got: Vec<(&str, Disposition)> = p.iter().collect();
    assert_eq!(
        got,
        [
            ("RULED", Disposition::Placeholder),
            ("SECRET", Disposition::Withheld),
            ("OPEN", Disposition::Real),
            ("ASKED", Disposition::Real),
            ("RULED_PLAIN", Disposition::Placeholder),
        ]
    );
    assert_eq!(p.withheld().collect::<Vec<_>>(), ["SECRET"]);
    assert_eq!(p.ruled().len(), 2);

    let later = rule(&["b.example"], HEADER);
    let twice = [rules[0].clone(), ("RULED".to_owned(), later.clone())];
    assert_eq!(
        plan(&values, &twice, &[]).unwrap().ruled(),
        [("RULED".to_owned(), later)]
    );
    assert_eq!(
        plan(&values, &[("NOPE".to_owned(), r.clone())], &[]),
        Err(RuleError::UnknownKey { key: "NOPE".into() })
    );
    assert_eq!(
        plan(&values, &[], &["NOPE".to_owned()]),
        Err(RuleError::UnknownKey { key: "NOPE".into() })
    );
    assert_eq!(
        plan(&values, &rules, &["RULED".to_owned()]),
        Err(RuleError::RuledAndPlain {
            key: "RULED".into()
        })
    );
}

/// The network side shares one vault between connections and moves streams between threads.
#[test]
fn the_vault_is_shareable_and_streams_can_move() {
    fn shareable<T: Send + Sync>() {}
    fn movable<T: Send>() {}
    shareable::<Vault>();
    movable::<Stream<'static>>();
    assert!(std::mem::needs_drop::<Vault>(), "a vault can be wiped");
}
