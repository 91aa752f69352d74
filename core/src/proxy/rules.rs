//! Rules: which hosts a key's value may be sent to, and where in a request.

use std::fmt;
use std::net::Ipv4Addr;

use crate::document::Document;

/// The word that starts a directive comment: `# envx-proxy: hosts=… in=…`.
pub const DIRECTIVE: &str = "envx-proxy";

/// Why a rule cannot be read. Messages name the line and key, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// A host pattern is not a name, a `*.` wildcard name or an IPv4 address, with an optional
    /// `:port`. `line` is `None` for a rule given on the command line.
    #[error("{}invalid host pattern `{pattern}`: {reason}", at(*line))]
    Host {
        /// The directive's line.
        line: Option<usize>,
        /// The pattern as written (a host name, never a value).
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A directive field other than `hosts` and `in`, or one given twice.
    #[error(
        "line {line}: unknown or repeated field `{field}` in an envx-proxy directive (fields: hosts=, in=)"
    )]
    Field {
        /// The directive's line.
        line: usize,
        /// The field's name.
        field: String,
    },
    /// A directive that is not `fields` of the form `name=value`.
    #[error(
        "line {line}: malformed envx-proxy directive (expected `# envx-proxy: hosts=a.example,*.b.example in=header`)"
    )]
    Malformed {
        /// The directive's line.
        line: usize,
    },
    /// `hosts=` missing or empty.
    #[error("{}a rule needs at least one host (hosts=…)", at(*line))]
    NoHosts {
        /// The directive's line, `None` on the command line.
        line: Option<usize>,
    },
    /// An `in=` surface other than `header`, `query`, `body`, or an empty list.
    #[error("line {line}: unknown surface `{surface}` in in=… (surfaces: header, query, body)")]
    Surface {
        /// The directive's line.
        line: usize,
        /// The surface as written.
        surface: String,
    },
    /// A directive whose next line is not the start of an assignment.
    #[error(
        "line {line}: an envx-proxy directive must be directly above an assignment (no blank line or comment between)"
    )]
    NotAboveAssignment {
        /// The directive's line.
        line: usize,
    },
    /// Two directives for the same key in one file.
    #[error("line {line}: a second envx-proxy directive for {key} (the first is on line {first})")]
    Duplicate {
        /// The key.
        key: String,
        /// The second directive's line.
        line: usize,
        /// The first directive's line.
        first: usize,
    },
    /// `--proxy-hosts` not of the form `KEY=host,host`.
    #[error("--proxy-hosts takes KEY=host[,host…]")]
    Cli,
    /// A rule or `--plain` names a key that no loaded file sets.
    #[error("{key} has a proxy rule or is named by --plain, but no loaded file sets it")]
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A key both ruled and named by `--plain`.
    #[error("{key} has a proxy rule and is named by --plain: choose one")]
    RuledAndPlain {
        /// The key.
        key: String,
    },
}

fn at(line: Option<usize>) -> String {
    line.map_or_else(String::new, |l| format!("line {l}: "))
}

/// One host a value may go to: `api.openai.com`, `*.stripe.com` (one leading `*.` label:
/// matches any name with at least one more label, never the bare parent), or an IPv4 address,
/// each with an optional `:port` (without one, any port matches). Names compare
/// case-insensitively, with a trailing dot removed on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// `true` for `*.name`.
    wildcard: bool,
    /// The name (after `*.`), lower case, without a trailing dot; or the IPv4 address.
    name: String,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses one pattern.
    ///
    /// # Errors
    /// [`RuleError::Host`] (with no line) when it is not a valid pattern.
    pub fn parse(s: &str) -> Result<Self, RuleError> {
        let bad = |reason| RuleError::Host {
            line: None,
            pattern: s.to_owned(),
            reason,
        };
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0 && port.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
                (host, Some(port))
            }
            None => (s, None),
        };
        let (wildcard, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        let name = normalise(name);
        if name.is_empty() {
            return Err(bad("no host name"));
        }
        if is_ipv4(&name) {
            if wildcard {
                return Err(bad("a wildcard cannot stand before an IP address"));
            }
            return Ok(Self {
                wildcard,
                name,
                port,
            });
        }
        if name.contains(':') || name.starts_with('[') {
            return Err(bad("IPv6 addresses are not supported"));
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.iter().any(|l| !is_label(l)) {
            return Err(bad(
                "each dot-separated label must be 1 to 63 letters, digits, `-` or `_` \
                 (a wildcard only as one leading `*.`)",
            ));
        }
        if wildcard && labels.len() < 2 {
            return Err(bad("a wildcard needs at least two labels after `*.`"));
        }
        if name.len() > 253 {
            return Err(bad("longer than 253 characters"));
        }
        Ok(Self {
            wildcard,
            name,
            port,
        })
    }

    /// Does `host` (a name or an IPv4 address, as in a CONNECT target) on `port` match?
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = normalise(host);
        if !self.wildcard {
            return host == self.name;
        }
        // `*.b.example`: at least one whole label before `.b.example`, and never an address.
        !is_ipv4(&host)
            && host.len() > self.name.len() + 1
            && host.ends_with(&self.name)
            && host.as_bytes()[host.len() - self.name.len() - 1] == b'.'
            && host[..host.len() - self.name.len() - 1]
                .split('.')
                .all(is_label)
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.name)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Lower case, without one trailing dot.
fn normalise(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

fn is_ipv4(name: &str) -> bool {
    name.parse::<Ipv4Addr>().is_ok()
}

fn is_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Where in a request a value may be substituted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surfaces {
    /// Request headers (`Authorization: Bearer …`, Basic auth, `X-Api-Key: …`).
    pub header: bool,
    /// The query string of the request target (`?key=…`); the path is never substituted.
    pub query: bool,
    /// The request body. Off unless asked for: a body is often text the agent chose, which
    /// would turn "post this" into a leak.
    pub body: bool,
}

impl Default for Surfaces {
    /// Header only.
    fn default() -> Self {
        Self {
            header: true,
            query: false,
            body: false,
        }
    }
}

/// Where one key's value may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The hosts (at least one).
    pub hosts: Vec<HostPattern>,
    /// The surfaces.
    pub surfaces: Surfaces,
}

impl Rule {
    /// Does some pattern of this rule match `host` on `port`?
    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.hosts.iter().any(|p| p.matches(host, port))
    }
}

/// A rule read from a file: the key it is for, and the directive's 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRule {
    /// The key of the assignment below the directive.
    pub key: String,
    /// The rule.
    pub rule: Rule,
    /// The directive's line.
    pub line: usize,
}

/// The rules of a file: every `# envx-proxy: hosts=a.example,*.b.example in=header,query`
/// comment directly above an assignment (no blank line or other comment between), in file
/// order. `in=` is optional (default `header`).
///
/// # Errors
/// A directive with an unknown or repeated field, no hosts, a bad host or surface, or not
/// directly above an assignment; a second directive for the same key. Each error names the
/// directive's line.
pub fn rules_in(doc: &Document) -> Result<Vec<KeyRule>, RuleError> {
    // The first line of each assignment, and the lines its value continues on (a directive
    // look-alike inside a multi-line value is part of that value, not a directive).
    let mut starts = std::collections::HashMap::new();
    let mut inside = Vec::new();
    for (index, entry) in doc.entries().iter().enumerate() {
        starts.insert(entry.line(), index);
        let breaks = line_breaks(entry.raw());
        inside.push(entry.line() + 1..entry.line() + 1 + breaks);
    }
    let source = doc.source();
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let mut rules: Vec<KeyRule> = Vec::new();
    let bounds = line_starts(source);
    for (i, window) in bounds.windows(2).enumerate() {
        let line = i + 1;
        let text = source[window[0]..window[1]].trim_end_matches(['\r', '\n']);
        let Some(fields) = directive(text) else {
            continue;
        };
        if inside.iter().any(|r| r.contains(&line)) {
            continue;
        }
        let rule = parse_fields(fields, line)?;
        let Some(&index) = starts.get(&(line + 1)) else {
            return Err(RuleError::NotAboveAssignment { line });
        };
        let key = doc.entries()[index].key().to_owned();
        if let Some(first) = rules.iter().find(|r| r.key == key) {
            return Err(RuleError::Duplicate {
                key,
                line,
                first: first.line,
            });
        }
        rules.push(KeyRule { key, rule, line });
    }
    Ok(rules)
}

/// Byte offsets where each line of `text` starts, and `text.len()` at the end (`\n`, `\r\n`
/// and a lone `\r` each end a line, as the document counts them).
fn line_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut starts = vec![0];
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\r' if bytes.get(at + 1) == Some(&b'\n') => {
                at += 2;
                starts.push(at);
            }
            b'\r' | b'\n' => {
                at += 1;
                starts.push(at);
            }
            _ => at += 1,
        }
    }
    if *starts.last().unwrap_or(&0) != bytes.len() || bytes.is_empty() {
        starts.push(bytes.len());
    }
    starts
}

/// How many line breaks `text` holds.
fn line_breaks(text: &str) -> usize {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
}

/// The fields of a directive line (`# envx-proxy: …`), or `None` for any other line. A
/// comment that starts with the directive's word but has no colon is a directive too (then
/// malformed), so that a typo cannot silently drop a rule.
fn directive(line: &str) -> Option<Result<&str, ()>> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let rest = rest.strip_prefix(DIRECTIVE)?;
    if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return None;
    }
    Some(rest.strip_prefix(':').ok_or(()))
}

fn parse_fields(fields: Result<&str, ()>, line: usize) -> Result<Rule, RuleError> {
    let fields = fields.map_err(|()| RuleError::Malformed { line })?;
    let mut hosts = None;
    let mut surfaces = None;
    for field in fields.split_ascii_whitespace() {
        let (name, value) = field.split_once('=').ok_or(RuleError::Malformed { line })?;
        let repeated = RuleError::Field {
            line,
            field: name.to_owned(),
        };
        match name {
            "hosts" if hosts.is_none() => {
                hosts = Some(parse_hosts(value).map_err(|e| e.at_line(line))?);
            }
            "in" if surfaces.is_none() => surfaces = Some(parse_surfaces(value, line)?),
            _ => return Err(repeated),
        }
    }
    Ok(Rule {
        hosts: hosts.ok_or(RuleError::NoHosts { line: Some(line) })?,
        surfaces: surfaces.unwrap_or_default(),
    })
}

fn parse_hosts(list: &str) -> Result<Vec<HostPattern>, RuleError> {
    let hosts = list
        .split(',')
        .filter(|h| !h.is_empty())
        .map(HostPattern::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err(RuleError::NoHosts { line: None });
    }
    Ok(hosts)
}

fn parse_surfaces(list: &str, line: usize) -> Result<Surfaces, RuleError> {
    let mut surfaces = Surfaces {
        header: false,
        query: false,
        body: false,
    };
    for name in list.split(',') {
        match name {
            "header" => surfaces.header = true,
            "query" => surfaces.query = true,
            "body" => surfaces.body = true,
            _ => {
                return Err(RuleError::Surface {
                    line,
                    surface: name.to_owned(),
                });
            }
        }
    }
    Ok(surfaces)
}

impl RuleError {
    fn at_line(self, line: usize) -> Self {
        match self {
            Self::Host {
                pattern, reason, ..
            } => Self::Host {
                line: Some(line),
                pattern,
                reason,
            },
            Self::NoHosts { .. } => Self::NoHosts { line: Some(line) },
            other => other,
        }
    }
}

/// Reads one `--proxy-hosts KEY=host,host` argument: a rule for the header surface only.
///
/// # Errors
/// [`RuleError::Cli`] when there is no `=` or no key, [`RuleError::NoHosts`], or
/// [`RuleError::Host`].
pub fn parse_cli_rule(arg: &str) -> Result<(String, Rule), RuleError> {
    let (key, hosts) = arg.split_once('=').ok_or(RuleError::Cli)?;
    let key = key.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(RuleError::Cli);
    }
    let hosts = parse_hosts(hosts)?;
    Ok((
        key.to_owned(),
        Rule {
            hosts,
            surfaces: Surfaces::default(),
        },
    ))
}
