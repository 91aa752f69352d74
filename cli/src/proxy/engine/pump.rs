//! Bodies pass through the core's streaming substituter (requests) or scrubber (responses) in
//! a task of their own, frame by frame: a server-sent event goes out as soon as it comes in,
//! less at most the few bytes that could still be the start of a real value.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::{BodyExt as _, combinators::BoxBody};
use hyper::body::Incoming;
use tokio::sync::oneshot;

use super::target::Target;
use super::{BoxError, ProxyBody, Shared};

/// Which stream the body goes through.
pub enum Direction {
    /// A request body to this target: placeholders become values where the rule allows `body`.
    Request(Target),
    /// A response body: values become placeholders.
    Response,
}

/// Key names the stream substituted and refused, sent once the body has ended (or failed).
pub type Seen = oneshot::Receiver<(Vec<String>, Vec<String>)>;

/// Starts the task and returns the body to send on, and what the stream saw.
pub fn pump(shared: Arc<Shared>, direction: Direction, mut body: Incoming) -> (ProxyBody, Seen) {
    let (mut tx, channel) = Channel::<Bytes, BoxError>::new(2);
    let (seen_tx, seen) = oneshot::channel();
    tokio::spawn(async move {
        let mut stream = match &direction {
            Direction::Request(t) => shared.vault.body_substituter(&t.host, t.port),
            Direction::Response => shared.vault.response_scrubber(),
        };
        let mut out = Vec::new();
        let failure: Option<BoxError> = loop {
            match body.frame().await {
                None => {
                    stream.finish(&mut out);
                    if !out.is_empty() {
                        let _ = tx.send_data(Bytes::from(std::mem::take(&mut out))).await;
                    }
                    break None;
                }
                Some(Err(e)) => break Some(Box::new(e) as BoxError),
                Some(Ok(frame)) => {
                    // Trailers are dropped: the substitution can change what they describe.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    stream.feed(&data, &mut out);
                    if !out.is_empty()
                        && tx
                            .send_data(Bytes::from(std::mem::take(&mut out)))
                            .await
                            .is_err()
                    {
                        // The receiving side went away; stop reading.
                        break None;
                    }
                }
            }
        };
        let outcome = stream.outcome();
        let _ = seen_tx.send((outcome.substituted.clone(), outcome.refused.clone()));
        drop(stream);
        if let Some(e) = failure {
            tx.abort(e);
        }
    });
    (BoxBody::new(channel), seen)
}
