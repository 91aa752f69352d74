//! The pure logic of `envx run --proxy`: the agent holds placeholders, and a proxy swaps in the
//! real value only in requests to the hosts that value belongs to.
//!
//! Nothing here touches a socket, a file or a clock, and nothing is async: the network part
//! lives in the command line, which feeds this module the bytes it sees.
//!
//! - **Rules.** [`rules_in`] reads `# envx-proxy: hosts=… in=…` directives, each directly
//!   above an assignment, from a [`Document`](crate::document::Document);
//!   [`parse_cli_rule`] reads `--proxy-hosts KEY=host,…`. A [`Rule`] is a list of
//!   [`HostPattern`]s and the [`Surfaces`] (header, query, body) the value may be put in.
//! - **The child's environment.** [`plan`] decides, for each loaded key, whether the child gets
//!   a placeholder, nothing, or the real value ([`Disposition`]).
//! - **The vault.** [`Vault`] holds every ruled key of a run: its fresh random [`Placeholder`]
//!   (`envxph_` and 40 characters of `[a-z0-9]`), its real value (wiped on drop, never in
//!   `Debug`) and its rule. [`Vault::request_head`] substitutes in a request's target and
//!   headers (Basic auth decoded and re-encoded); [`Vault::body_substituter`] and
//!   [`Vault::response_scrubber`] are [`Stream`]s that take any chunk boundaries and give the
//!   same bytes as one pass over the whole; [`Vault::scrub_header`] scrubs one response header.
//!   Each reports an [`Outcome`]: the keys substituted and the keys refused (seen where their
//!   rule does not allow them), by name only.
//!
//! The public surface, in full:
//!
//! - rules: [`HostPattern`] (`parse`, `matches`, `Display`), [`Surfaces`] (`Default`: header
//!   only), [`Rule`] (`hosts`, `surfaces`, `allows`), [`KeyRule`] (`key`, `rule`, `line`),
//!   [`rules_in`], [`parse_cli_rule`], [`RuleError`], [`DIRECTIVE`];
//! - placeholders: [`Placeholder`] (`generate`, `as_str`, `is_placeholder`, `Display`),
//!   [`PLACEHOLDER_PREFIX`], [`PLACEHOLDER_LEN`];
//! - the vault: [`Vault`] (`new`, `placeholders`, `placeholder`, `names_host`,
//!   `request_head`, `body_substituter`, `response_scrubber`, `scrub_header`), [`Outcome`]
//!   (`substituted`, `refused`, `scrubbed`, `is_empty`, `merge`), [`Stream`] (`feed`,
//!   `finish`, `outcome`);
//! - the child's environment: [`plan`], [`Plan`] (`iter`, `get`, `ruled`, `withheld`),
//!   [`Disposition`] (`Placeholder`, `Withheld`, `Real`).

mod placeholder;
mod plan;
mod rules;
mod stream;
mod vault;

pub use placeholder::{PLACEHOLDER_LEN, PLACEHOLDER_PREFIX, Placeholder};
pub use plan::{Disposition, Plan, plan};
pub use rules::{
    DIRECTIVE, HostPattern, KeyRule, Rule, RuleError, Surfaces, parse_cli_rule, rules_in,
};
pub use stream::Stream;
pub use vault::{Outcome, Vault};

#[cfg(test)]
mod tests;
