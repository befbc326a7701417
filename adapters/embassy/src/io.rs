//! The sans-IO loop's plumbing, shared by both roles: drain the core's
//! transmits into the socket, wait for whichever comes first, close.
//!
//! Nothing here knows the protocol: it moves bytes and instants between a
//! [`TcpSocket`] and a state machine through the core's `poll_*` and
//! `handle_*` calls.

use core::future::{pending, Future};

use beckon_core::{Invitee, Inviter};
use embassy_futures::select::{select, select4, Either, Either4};
use embassy_net::tcp::{State, TcpSocket};
use embassy_time::{Duration, Instant, Timer};

/// A state machine with bytes to send: both roles.
pub(crate) trait Transmit {
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize;
}

impl<const BUF: usize> Transmit for Inviter<BUF> {
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        Inviter::poll_transmit(self, buf)
    }
}

impl<const BUF: usize> Transmit for Invitee<BUF> {
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        Invitee::poll_transmit(self, buf)
    }
}

/// Copies the machine's pending transmits straight into the socket's
/// transmit buffer, without waiting. Returns `true` when the buffer filled
/// up, so more may be pending and the loop must also wait for room.
pub(crate) async fn drain<M: Transmit>(socket: &mut TcpSocket<'_>, machine: &mut M) -> bool {
    loop {
        if !socket.can_send() {
            // Full (wait for room), or the write half is gone, in which case
            // the read side reports the close.
            return socket.may_send();
        }
        // `can_send` holds, so this completes on its first poll.
        let written = socket
            .write_with(|buf| {
                let n = machine.poll_transmit(buf);
                (n, n == buf.len())
            })
            .await;
        match written {
            Ok(true) => continue,
            Ok(false) | Err(_) => return false,
        }
    }
}

/// What ended a wait.
pub(crate) enum Wake<T> {
    /// Bytes are waiting in the socket.
    Readable,
    /// The peer closed or reset the connection: nothing more will come.
    Closed,
    /// The core's deadline has come.
    Deadline,
    /// The transmit buffer has room again.
    Writable,
    /// The caller's own future (a cancel, a decision) completed.
    Other(T),
}

/// Waits for whichever comes first: bytes to read (or the end of the
/// stream), the deadline, room to write (only when `blocked`), or `other`.
/// Consumes nothing from the socket.
pub(crate) async fn wait<T>(
    socket: &mut TcpSocket<'_>,
    deadline: Option<Instant>,
    blocked: bool,
    other: impl Future<Output = T>,
) -> Wake<T> {
    let (mut reader, writer) = socket.split();
    // Taking zero bytes leaves them for `feed`; the call returns as soon as
    // there is a byte, and fails once the receive half has closed.
    let readable = reader.read_with(|_| (0, ()));
    let writable = async {
        if blocked {
            writer.wait_write_ready().await
        } else {
            pending().await
        }
    };
    match select4(readable, until(deadline), writable, other).await {
        Either4::First(Ok(())) => Wake::Readable,
        Either4::First(Err(_)) => Wake::Closed,
        Either4::Second(()) => Wake::Deadline,
        Either4::Third(()) => Wake::Writable,
        Either4::Fourth(t) => Wake::Other(t),
    }
}

/// Hands the bytes waiting in the socket to `handle`, which must take them
/// all (the core's `handle_input` does). Returns `false` when the stream
/// has ended instead.
pub(crate) async fn feed(socket: &mut TcpSocket<'_>, handle: impl FnOnce(&[u8])) -> bool {
    socket
        .read_with(|buf| {
            handle(buf);
            (buf.len(), ())
        })
        .await
        .is_ok()
}

/// Completes at `deadline`, or never when there is none.
pub(crate) async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => Timer::at(at).await,
        None => pending().await,
    }
}

/// Whether the socket can be connected or listened on again.
pub(crate) fn is_closed(socket: &TcpSocket<'_>) -> bool {
    matches!(socket.state(), State::Closed | State::TimeWait)
}

/// Ends the connection after a session, without waiting: with a FIN after
/// the bytes still in the socket when the session ended normally
/// (`graceful`: an answer, a refusal or a Cancel may still be in flight),
/// with a reset when it failed. The stack sends either while the session
/// lives; the next exchange on the session waits for the end in
/// [`settle`].
pub(crate) fn end(socket: &mut TcpSocket<'_>, graceful: bool) {
    if graceful {
        socket.close();
    } else {
        socket.abort();
    }
}

/// Makes the socket ready for the next exchange. A connection still
/// closing (the last one's FIN or a best-effort Cancel in flight) gets up
/// to `linger` for its bytes and FIN to be acknowledged and for the peer's
/// FIN, whatever else it sends being discarded; one that is still open
/// then, or an abandoned listen, is reset.
pub(crate) async fn settle(socket: &mut TcpSocket<'_>, linger: Duration) {
    if is_closed(socket) {
        return;
    }
    socket.close();
    let graceful = async {
        let _ = socket.flush().await;
        while socket.read_with(|buf| (buf.len(), ())).await.is_ok() {}
    };
    let _ = select(graceful, Timer::after(linger)).await;
    reset(socket, linger).await;
}

/// Resets a socket that is not closed, giving the reset up to `linger` to
/// go out.
pub(crate) async fn reset(socket: &mut TcpSocket<'_>, linger: Duration) {
    if !is_closed(socket) {
        socket.abort();
        if let Either::Second(()) = select(socket.flush(), Timer::after(linger)).await {
            crate::fmt::warning!("the reset was not sent within {:?}", linger);
        }
    }
}
