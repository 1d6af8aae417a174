//! Writing a network body to disk without holding a thread while the client is silent.
//!
//! Disk writes are blocking calls, so they run on the runtime's blocking threads, but
//! only while there are bytes to write: the body is read on the async side, and each
//! batch that arrived is handed to one short blocking call. A client that stops sending
//! holds a task and at most one batch of memory, never a thread, so stalled uploads
//! cannot starve the database calls that share those threads.

use bytes::{Bytes, BytesMut};
use futures_util::future::OptionFuture;
use futures_util::{Stream, StreamExt};

/// Most bytes read ahead while the previous batch is being written.
const MAX_BATCH: usize = 512 * 1024;

/// Where the bytes go: a blocking writer that keeps its own error.
pub trait BlockingSink: Send + 'static {
    /// Writes one batch; false stops the transfer (the sink keeps the reason).
    fn write(&mut self, batch: Bytes) -> bool;
}

/// The sink after the body ended, and why the body ended early, if it did.
pub struct Drained<W> {
    pub sink: W,
    /// The body's own error (the client went away, or sent nothing for too long).
    /// What arrived before it has been written.
    pub body_error: Option<String>,
}

/// Reads `body` into `sink` until the body ends, fails, or the sink stops. Errs only if
/// a blocking write panicked (the sink is then gone).
pub async fn drain_into<S, E, W>(mut body: S, sink: W) -> Result<Drained<W>, String>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
    W: BlockingSink,
{
    let mut idle = Some(sink);
    let mut in_flight: Option<tokio::task::JoinHandle<(W, bool)>> = None;
    let mut batch = BytesMut::new();
    let mut body_done = false;
    let mut stopped = false;
    let mut body_error = None;
    loop {
        if in_flight.is_none() {
            if stopped || (body_done && batch.is_empty()) {
                break;
            }
            if !batch.is_empty() {
                let Some(mut sink) = idle.take() else {
                    return Err("the upload writer was lost".into());
                };
                let chunk = batch.split().freeze();
                in_flight = Some(tokio::task::spawn_blocking(move || {
                    let go_on = sink.write(chunk);
                    (sink, go_on)
                }));
            }
        }
        let can_read = !body_done && !stopped && batch.len() < MAX_BATCH;
        let is_writing = in_flight.is_some();
        let writing: OptionFuture<_> = in_flight.as_mut().into();
        tokio::select! {
            chunk = body.next(), if can_read => match chunk {
                Some(Ok(bytes)) => batch.extend_from_slice(&bytes),
                Some(Err(e)) => {
                    body_error = Some(e.to_string());
                    body_done = true;
                }
                None => body_done = true,
            },
            Some(joined) = writing, if is_writing => {
                in_flight = None;
                let (sink, go_on) = joined.map_err(|e| format!("the upload writer failed: {e}"))?;
                idle = Some(sink);
                stopped = !go_on;
            },
            else => break,
        }
    }
    match idle {
        Some(sink) => Ok(Drained { sink, body_error }),
        None => Err("the upload writer was lost".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Collect {
        bytes: Vec<u8>,
        stop_after: usize,
    }

    impl BlockingSink for Collect {
        fn write(&mut self, batch: Bytes) -> bool {
            self.bytes.extend_from_slice(&batch);
            self.bytes.len() < self.stop_after
        }
    }

    fn body(
        parts: &[&'static [u8]],
        fail: bool,
    ) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        let mut items: Vec<Result<Bytes, String>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        if fail {
            items.push(Err("gone".into()));
        }
        futures_util::stream::iter(items)
    }

    #[tokio::test]
    async fn every_byte_arrives_in_order() {
        let sink = Collect {
            bytes: Vec::new(),
            stop_after: usize::MAX,
        };
        let done = drain_into(body(&[b"ab", b"cd", b"e"], false), sink)
            .await
            .expect("drained");
        assert_eq!(done.sink.bytes, b"abcde");
        assert!(done.body_error.is_none());
    }

    #[tokio::test]
    async fn what_arrived_before_a_body_error_is_written_and_the_error_kept() {
        let sink = Collect {
            bytes: Vec::new(),
            stop_after: usize::MAX,
        };
        let done = drain_into(body(&[b"ab", b"cd"], true), sink)
            .await
            .expect("drained");
        assert_eq!(done.sink.bytes, b"abcd");
        assert_eq!(done.body_error.as_deref(), Some("gone"));
    }

    #[tokio::test]
    async fn a_sink_that_stops_ends_the_transfer() {
        let parts: Vec<&'static [u8]> = vec![b"x"; 10];
        let sink = Collect {
            bytes: Vec::new(),
            stop_after: 1,
        };
        let mut stream = body(&parts, false);
        let done = drain_into(&mut stream, sink).await.expect("drained");
        assert!(!done.sink.bytes.is_empty() && done.sink.bytes.len() < 10);
    }
}
