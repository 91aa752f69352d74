//! Streaming substitution and scrubbing over arbitrary chunk boundaries.
//!
//! Both are the `--redact` filter's streaming replacer ([`crate::redact`]), given other
//! patterns and replacements: a body substituter looks for placeholders as they are; a
//! response scrubber looks for real values in every form `--redact` knows.

use crate::redact::{Emitted, RedactStream};

use super::vault::Outcome;

/// What replacing pattern `i` of a stream means for the outcome.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    Substituted,
    Refused,
    Scrubbed,
}

/// A streaming replacer (a request body's substituter or a response's scrubber).
///
/// Bytes are passed on as soon as they cannot be the start of something to replace; only a
/// tail that could still grow into one is held until the next chunk. Whatever the chunk
/// boundaries, the concatenated output equals the output of one pass over the whole input.
pub struct Stream<'v> {
    inner: RedactStream<'v>,
    emitted: Emitted,
    /// For each pattern of `inner`, its key and what replacing it means.
    effects: Vec<(&'v str, Effect)>,
    outcome: Outcome,
}

impl<'v> Stream<'v> {
    pub(super) fn new(inner: RedactStream<'v>, effects: Vec<(&'v str, Effect)>) -> Self {
        Self {
            inner,
            emitted: Emitted::default(),
            effects,
            outcome: Outcome::default(),
        }
    }

    /// Takes the next `chunk`, appending to `out` what can be passed on.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.inner.push(0, chunk, &mut self.emitted);
        self.emitted.drain_into(out);
        self.account();
    }

    /// Ends the input: appends what was held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.inner.finish(&mut self.emitted);
        self.emitted.drain_into(out);
        self.account();
    }

    /// What happened so far.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    fn account(&mut self) {
        for (&hits, &(key, effect)) in self.inner.hits().iter().zip(&self.effects) {
            if hits == 0 {
                continue;
            }
            let list = match effect {
                Effect::Substituted => &mut self.outcome.substituted,
                Effect::Refused => &mut self.outcome.refused,
                Effect::Scrubbed => &mut self.outcome.scrubbed,
            };
            if !list.iter().any(|k| k == key) {
                list.push(key.to_owned());
            }
        }
    }
}
