//! The sans-IO loop's plumbing, shared by both roles: one generic loop
//! over the core's [`Machine`], the wait for whichever comes first, and
//! the close.
//!
//! Nothing here knows the protocol: it moves bytes and instants between a
//! [`TcpSocket`] and a state machine through the core's `poll_output` and
//! `handle_*` calls. What a role adds (its events, and its own input: the
//! inviter's cancel, the invitee's decision) comes in as two closures.

use core::future::{pending, poll_fn, Future};
use core::pin::Pin;
use core::task::Poll;

use beckon_core::{Machine, Output};
use embassy_futures::select::{select, select4, Either, Either4};
use embassy_net::tcp::{State, TcpSocket};
use embassy_time::{Duration, Instant, Timer};

/// Runs `machine` over the connected `socket` until it is
/// [`Done`](Output::Done): the core's call contract and nothing more.
///
/// 1. Take [`poll_output`](Machine::poll_output) until it says `Wait` or
///    `Done`: its bytes go straight into the socket's transmit buffer
///    (`poll_output` writes into it, no copy in between; with no room, an
///    empty buffer skips them and they stay queued), its events to
///    `on_event`, which may start the role's own input in `slot` (the
///    invitee's decision).
/// 2. Wait for whichever comes first: bytes to read, the end of the
///    stream, `Wait`'s deadline, room to write (when the transmit buffer
///    was full), or the future in `slot`, polled until it completes and
///    never after.
/// 3. Feed that back: `handle_input` (with `context`, straight out of the
///    socket's receive buffer), `handle_close`, `handle_timeout`, or
///    `on_input` with the slot's output; go round.
///
/// Closing is the caller's, who knows from the outcome how.
pub(crate) async fn drive<M, F>(
    socket: &mut TcpSocket<'_>,
    machine: &mut M,
    context: &M::Context,
    mut slot: Pin<&mut Option<F>>,
    mut on_event: impl FnMut(&mut M, M::Event, Pin<&mut Option<F>>),
    mut on_input: impl FnMut(&mut M, Instant, F::Output),
) where
    M: Machine,
    F: Future,
{
    loop {
        let (deadline, blocked) = loop {
            let (output, blocked) = next_output(socket, machine).await;
            match output {
                Output::Transmit(_) => {}
                Output::Event(event) => on_event(machine, event, slot.as_mut()),
                Output::Wait(deadline) => break (deadline, blocked),
                Output::Done => return,
            }
        };
        match wait(socket, deadline, blocked, once(slot.as_mut())).await {
            Wake::Readable => {
                let now = Instant::now();
                if !feed(socket, |bytes| machine.handle_input(now, bytes, context)).await {
                    machine.handle_close(now);
                }
            }
            Wake::Closed => machine.handle_close(Instant::now()),
            Wake::Deadline => machine.handle_timeout(Instant::now()),
            Wake::Writable => {}
            Wake::Other(input) => on_input(machine, Instant::now(), input),
        }
    }
}

/// The machine's next output, its bytes (if it gives bytes) written
/// straight into the socket's transmit buffer, without waiting; and
/// whether that buffer is full, so that the loop must also wait for room.
/// With no room, or with the write half gone (the read side then reports
/// the close), `poll_output` gets an empty buffer: it skips the bytes,
/// which stay queued in the machine, and gives what comes after them.
async fn next_output<M: Machine>(
    socket: &mut TcpSocket<'_>,
    machine: &mut M,
) -> (Output<M::Event>, bool) {
    if socket.can_send() {
        // `can_send` holds, so this completes on its first poll.
        let polled = socket
            .write_with(|buf| {
                let output = machine.poll_output(buf);
                let n = match output {
                    Output::Transmit(n) => n,
                    _ => 0,
                };
                (n, output)
            })
            .await;
        if let Ok(output) = polled {
            return (output, false);
        }
    }
    (machine.poll_output(&mut []), socket.may_send())
}

/// Polls the future in `slot` until it completes, then empties the slot so
/// that it is never polled again; pending for ever once empty.
pub(crate) fn once<F: Future>(
    mut slot: Pin<&mut Option<F>>,
) -> impl Future<Output = F::Output> + '_ {
    poll_fn(move |cx| {
        let Some(future) = slot.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let output = future.poll(cx);
        if output.is_ready() {
            slot.set(None);
        }
        output
    })
}

/// What ended a wait.
enum Wake<T> {
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
async fn wait<T>(
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
async fn feed(socket: &mut TcpSocket<'_>, handle: impl FnOnce(&[u8])) -> bool {
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
