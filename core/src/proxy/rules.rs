//! Rules: which hosts a key's value may be sent to, and where in a request.

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
        let _ = s;
        unimplemented!()
    }

    /// Does `host` (a name or an IPv4 address, as in a CONNECT target) on `port` match?
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let _ = (host, port);
        unimplemented!()
    }
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
    let _ = doc;
    unimplemented!()
}

/// Reads one `--proxy-hosts KEY=host,host` argument: a rule for the header surface only.
///
/// # Errors
/// [`RuleError::Cli`] when there is no `=` or no key, [`RuleError::NoHosts`], or
/// [`RuleError::Host`].
pub fn parse_cli_rule(arg: &str) -> Result<(String, Rule), RuleError> {
    let _ = arg;
    unimplemented!()
}
