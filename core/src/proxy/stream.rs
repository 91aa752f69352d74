//! Streaming substitution and scrubbing over arbitrary chunk boundaries.

use std::marker::PhantomData;

use super::vault::Outcome;

/// A streaming replacer (a request body's substituter or a response's scrubber).
///
/// Bytes are passed on as soon as they cannot be the start of something to replace; only a
/// tail that could still grow into one is held until the next chunk. Whatever the chunk
/// boundaries, the concatenated output equals the output of one pass over the whole input.
pub struct Stream<'v> {
    outcome: Outcome,
    vault: PhantomData<&'v ()>,
}

impl Stream<'_> {
    /// Takes the next `chunk`, appending to `out` what can be passed on.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        let _ = (chunk, out);
        unimplemented!()
    }

    /// Ends the input: appends what was held back.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let _ = out;
        unimplemented!()
    }

    /// What happened so far.
    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }
}
