//! The loops around a [`Machine`]: draining what it has to say, and
//! feeding it what has come due. The same for both roles.

use std::collections::VecDeque;

use beckon_core::{Machine, Output};
use embassy_time::Instant;

/// Everything `m` has to say, through [`Machine::poll_output`] until it
/// waits or is done: each write (as `poll_output` gave it, at most
/// `buf.len()` bytes) to `on_write`, each event to `on_event`, in the
/// contract's order. Returns whether anything came out.
pub fn drain_output<M: Machine>(
    m: &mut M,
    buf: &mut [u8],
    mut on_write: impl FnMut(&[u8]),
    mut on_event: impl FnMut(M::Event),
) -> bool {
    let mut moved = false;
    loop {
        match m.poll_output(buf) {
            Output::Transmit(n) => on_write(&buf[..n]),
            Output::Event(e) => on_event(e),
            Output::Wait(_) | Output::Done => return moved,
        }
        moved = true;
    }
}

/// Appends every byte `m` has to transmit to `out`, through a buffer of
/// `chunk` bytes; its events stay queued.
pub fn transmit_all<M: Machine>(m: &mut M, chunk: usize, out: &mut Vec<u8>) {
    let mut buf = vec![0u8; chunk];
    loop {
        let n = m.poll_transmit(&mut buf);
        if n == 0 {
            return;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Everything `m` has to transmit, as one byte string (drained through a
/// buffer of `chunk` bytes); its events stay queued.
pub fn transmitted<M: Machine>(m: &mut M, chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    transmit_all(m, chunk, &mut out);
    out
}

/// Every event `m` has queued, in order.
pub fn drain_events<M: Machine>(m: &mut M) -> Vec<M::Event> {
    std::iter::from_fn(|| m.poll_event()).collect()
}

/// Hands `m` every write on `queue` due at `now`, in order, with
/// `context`. Returns how many it handed over.
pub fn deliver_due<M: Machine>(
    m: &mut M,
    queue: &mut VecDeque<(Instant, Vec<u8>)>,
    now: Instant,
    context: &M::Context,
) -> usize {
    let mut pieces = 0;
    while queue.front().is_some_and(|(t, _)| *t <= now) {
        let (_, bytes) = queue.pop_front().unwrap();
        m.handle_input(now, &bytes, context);
        pieces += 1;
    }
    pieces
}

/// Fires `m`'s timer if it is due at `now`. Returns whether it did.
pub fn fire_due<M: Machine>(m: &mut M, now: Instant) -> bool {
    let due = m.poll_timeout().is_some_and(|t| t <= now);
    if due {
        m.handle_timeout(now);
    }
    due
}
