//! The connection driver: one task, one stream, one core state machine.
//!
//! The loop is the core's call contract and nothing more:
//!
//! 1. drain `poll_transmit` into the outgoing buffer;
//! 2. drain `poll_event` into the [`Handler`] (which may give the machine
//!    a decision, producing more output: then go to 1);
//! 3. if the machine [`is_finished`](Machine::is_finished) and every byte
//!    is written, shut the stream down and stop;
//! 4. wait for the first of: the stream accepting some outgoing bytes,
//!    bytes read, the machine's `poll_timeout`, or an application command;
//!    feed it to the machine (`handle_input`, `handle_timeout`,
//!    `handle_close` on end of stream or a read error, the handler for a
//!    command); go to 1. A write error only stops the writing: whatever
//!    the peer sent before it went away is still read, and the read side
//!    then reports the end.
//!
//! Reading and writing are both always in the wait, so a peer that does not
//! read can never stall the timers, and nothing here interprets a byte.
//! Before the stream is shut down, what the peer has already sent is read
//! and dropped (without waiting), so that closing a TCP socket over unread
//! bytes does not reset the connection and destroy the last frame before
//! the peer reads it.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use beckon_core::{
    refusal_frame, Directory, Invitee, InviteeEvent, Inviter, InviterEvent, Refusal,
};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};

use crate::clock::Clock;

/// How many bytes one read may bring in, and the unit in which transmits
/// are drained.
const CHUNK: usize = 8 * 1024;

/// How many reads of up to [`CHUNK`] bytes the final drain makes at most,
/// so that a peer that keeps sending cannot hold the close.
const DRAIN_READS: usize = 4;

/// The calls the driver makes on a core state machine: the common part of
/// [`Inviter`] and [`Invitee`].
pub(crate) trait Machine {
    type Event;
    fn handle_input(&mut self, now: Instant, data: &[u8]);
    fn handle_timeout(&mut self, now: Instant);
    fn handle_close(&mut self, now: Instant);
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize;
    fn poll_event(&mut self) -> Option<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
    fn is_finished(&self) -> bool;
}

impl Machine for Inviter {
    type Event = InviterEvent;
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        Inviter::handle_input(self, now, data)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Inviter::handle_timeout(self, now)
    }
    fn handle_close(&mut self, now: Instant) {
        Inviter::handle_close(self, now)
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        Inviter::poll_transmit(self, buf)
    }
    fn poll_event(&mut self) -> Option<InviterEvent> {
        Inviter::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Inviter::poll_timeout(self)
    }
    fn is_finished(&self) -> bool {
        Inviter::is_finished(self)
    }
}

/// Where a listener's sessions get the directory they judge invitations
/// by: one consistent view for each input the core handles, never held
/// across an await.
///
/// Every [`Directory`] is a source that is its own view (a
/// `FixedDirectory` behind an `Arc`, say). A directory that changes while
/// the listener runs (files reloaded in the background) implements this
/// to hand out one snapshot per input, so that no verdict mixes two
/// versions of it.
pub trait DirectorySource: Send + Sync + 'static {
    /// Calls `f` with the view to judge one input by.
    fn with_view(&self, f: &mut dyn FnMut(&dyn Directory));
}

impl<D: Directory + Send + Sync + ?Sized + 'static> DirectorySource for D {
    fn with_view(&self, f: &mut dyn FnMut(&dyn Directory)) {
        // A `dyn Directory` view of `self`, also when `D` is unsized.
        struct By<'a, D: ?Sized>(&'a D);
        impl<D: Directory + ?Sized> Directory for By<'_, D> {
            fn policy(&self) -> beckon_core::Policy {
                self.0.policy()
            }
            fn permission(&self, key: &beckon_core::PublicKey) -> Option<beckon_core::Permission> {
                self.0.permission(key)
            }
            fn is_registered(&self, application: &beckon_core::ApplicationId) -> bool {
                self.0.is_registered(application)
            }
        }
        f(&By(self));
    }
}

/// An invitee with the directory it consults on every input, and the one
/// thing the listener may add to its output: the clear Busy refusal of a
/// connection evicted from its handshake.
pub(crate) struct InviteeSession<D: ?Sized> {
    /// Boxed: the invitee holds a 16 KiB buffer for the invitation.
    pub(crate) invitee: Box<Invitee>,
    pub(crate) directory: Arc<D>,
    /// Whether the invitee has transmitted anything: its first output is
    /// its answer to a complete Hello (the Proof, or a clear refusal).
    transmitted: bool,
    /// Bytes the adapter sends after the invitee's (the clear Busy of an
    /// eviction), not yet drained.
    clear: Vec<u8>,
}

impl<D: ?Sized> InviteeSession<D> {
    pub(crate) fn new(invitee: Box<Invitee>, directory: Arc<D>) -> Self {
        InviteeSession {
            invitee,
            directory,
            transmitted: false,
            clear: Vec::new(),
        }
    }

    /// Whether the invitee has answered a complete Hello.
    pub(crate) fn has_answered_hello(&self) -> bool {
        self.transmitted
    }

    /// Ends a session that the listener evicts from its handshake, at
    /// `now`. If nothing has been transmitted yet, the clear Busy refusal
    /// goes out in place of the Proof (the one place the protocol allows a
    /// clear refusal, §5.4) and this returns true; after a Proof nothing
    /// more may be sent in clear, and the connection is just closed, as at
    /// the handshake timeout. Either way the invitee ends as on a closed
    /// connection (`Failed(ConnectionClosed)`). Does nothing to a session
    /// that is already over.
    pub(crate) fn evict(&mut self, now: Instant) -> bool {
        if self.invitee.outcome().is_some() {
            return false;
        }
        self.invitee.handle_close(now);
        let busy = !self.transmitted;
        if busy {
            self.clear = refusal_frame(Refusal::Busy).to_vec();
        }
        busy
    }
}

impl<D: DirectorySource + ?Sized> Machine for InviteeSession<D> {
    type Event = InviteeEvent;
    fn handle_input(&mut self, now: Instant, data: &[u8]) {
        // One view of the directory for the whole input: a verdict never
        // mixes two versions of it.
        let invitee = &mut self.invitee;
        self.directory
            .with_view(&mut |view| invitee.handle_input(now, data, view));
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.invitee.handle_timeout(now)
    }
    fn handle_close(&mut self, now: Instant) {
        self.invitee.handle_close(now)
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        let n = self.invitee.poll_transmit(buf);
        if n > 0 {
            self.transmitted = true;
            return n;
        }
        let n = self.clear.len().min(buf.len());
        if let (Some(to), Some(from)) = (buf.get_mut(..n), self.clear.get(..n)) {
            to.copy_from_slice(from);
        }
        self.clear.drain(..n);
        n
    }
    fn poll_event(&mut self) -> Option<InviteeEvent> {
        self.invitee.poll_event()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.invitee.poll_timeout()
    }
    fn is_finished(&self) -> bool {
        self.invitee.is_finished() && self.clear.is_empty()
    }
}

/// What the role adds to the loop: its reaction to events and commands.
pub(crate) trait Handler<M: Machine> {
    /// An application command (cancel, decision).
    type Command;
    /// An event from the machine. May feed the machine (a decision).
    fn on_event(&mut self, machine: &mut M, now: Instant, event: M::Event);
    /// A command from the application.
    fn on_command(&mut self, machine: &mut M, now: Instant, command: Self::Command);
    /// Every outgoing byte has just been written to the stream.
    fn on_written(&mut self, _machine: &mut M, _now: Instant) {}
}

/// One stream, split so that reading and writing wait together.
pub(crate) struct Connection<S> {
    reader: ReadHalf<S>,
    writer: WriteHalf<S>,
    pub(crate) clock: Clock,
    /// How long to keep flushing, and to wait for the shutdown, once the
    /// machine has finished.
    linger: std::time::Duration,
    outgoing: Vec<u8>,
    /// How much of `outgoing` is written.
    sent: usize,
    incoming: Box<[u8]>,
    read_open: bool,
    write_open: bool,
    /// The first I/O error, if the connection ended with one.
    pub(crate) io_error: Option<io::Error>,
}

impl<S: AsyncRead + AsyncWrite> Connection<S> {
    pub(crate) fn new(stream: S, clock: Clock, linger: std::time::Duration) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        Connection {
            reader,
            writer,
            clock,
            linger,
            outgoing: Vec::new(),
            sent: 0,
            incoming: vec![0; CHUNK].into_boxed_slice(),
            read_open: true,
            write_open: true,
            io_error: None,
        }
    }

    /// Drains the machine's transmits into the outgoing buffer.
    pub(crate) fn collect<M: Machine + ?Sized>(&mut self, machine: &mut M) {
        loop {
            let len = self.outgoing.len();
            self.outgoing.resize(len + CHUNK, 0);
            let n = self
                .outgoing
                .get_mut(len..)
                .map_or(0, |buf| machine.poll_transmit(buf));
            self.outgoing.truncate(len + n);
            if n == 0 {
                break;
            }
        }
        if !self.write_open {
            self.outgoing.clear();
            self.sent = 0;
        }
    }

    /// Whether every collected byte is written (or can never be).
    pub(crate) fn all_written(&self) -> bool {
        self.sent >= self.outgoing.len() || !self.write_open
    }

    /// The stream can take no more bytes. Reading goes on: what the peer
    /// sent before it went away (an answer, a refusal) is still read, and
    /// the read side reports the end.
    fn write_failed(&mut self, error: io::Error) {
        self.write_open = false;
        self.outgoing.clear();
        self.sent = 0;
        self.record(error);
    }

    /// The stream failed for reading: it is over both ways.
    fn read_failed(&mut self, error: io::Error) {
        self.read_open = false;
        self.write_failed(error);
    }

    fn record(&mut self, error: io::Error) {
        if self.io_error.is_none() {
            self.io_error = Some(error);
        }
    }

    /// Reads and drops, without waiting, what the peer has already sent
    /// (a Hello that came with an eviction, a Cancel that crossed an
    /// answer): closing a TCP socket over unread bytes resets the
    /// connection, which can destroy the last frame before the peer reads
    /// it.
    fn discard_pending(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..DRAIN_READS {
            if !self.read_open {
                return;
            }
            let mut buf = ReadBuf::new(&mut self.incoming);
            match Pin::new(&mut self.reader).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                Poll::Ready(_) => self.read_open = false,
                Poll::Pending => return,
            }
        }
    }

    async fn shutdown(&mut self) {
        if self.write_open {
            self.write_open = false;
            let _ = tokio::time::timeout(self.linger, self.writer.shutdown()).await;
        }
    }
}

/// Runs `machine` over `conn` until it is finished and its last bytes are
/// written (or the linger after the end has passed), then drops what the
/// peer has already sent and shuts the stream down. `command` is polled
/// until it completes once; its output goes to the handler.
pub(crate) async fn drive<S, M, H, F>(
    conn: &mut Connection<S>,
    machine: &mut M,
    handler: &mut H,
    command: F,
) where
    S: AsyncRead + AsyncWrite,
    M: Machine,
    H: Handler<M>,
    F: Future<Output = H::Command>,
{
    let mut command = pin!(command);
    let mut command_armed = true;
    let mut linger_until: Option<tokio::time::Instant> = None;
    loop {
        conn.collect(machine);
        let now = conn.clock.now();
        let mut had_event = false;
        while let Some(event) = machine.poll_event() {
            had_event = true;
            handler.on_event(machine, now, event);
        }
        if had_event {
            // The handler may have fed the machine: drain again.
            continue;
        }
        let finished = machine.is_finished();
        if finished {
            if conn.all_written() {
                break;
            }
            linger_until.get_or_insert_with(|| tokio::time::Instant::now() + conn.linger);
        }
        let deadline = match machine.poll_timeout() {
            Some(t) => Some(conn.clock.to_tokio(t)),
            None => linger_until,
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let unsent = conn.outgoing.get(conn.sent..).unwrap_or(&[]);
        let can_write = conn.write_open && !unsent.is_empty();
        let can_read = conn.read_open && !finished;
        tokio::select! {
            written = conn.writer.write(unsent), if can_write => {
                let now = conn.clock.now();
                match written {
                    Ok(0) => conn.write_failed(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        conn.sent += n;
                        if conn.sent >= conn.outgoing.len() {
                            conn.outgoing.clear();
                            conn.sent = 0;
                            handler.on_written(machine, now);
                        }
                    }
                    Err(e) => conn.write_failed(e),
                }
            }
            read = conn.reader.read(&mut conn.incoming), if can_read => {
                let now = conn.clock.now();
                match read {
                    Ok(0) => {
                        conn.read_open = false;
                        machine.handle_close(now);
                    }
                    Ok(n) => machine.handle_input(now, conn.incoming.get(..n).unwrap_or(&[])),
                    Err(e) => {
                        conn.read_failed(e);
                        machine.handle_close(now);
                    }
                }
            }
            () = sleep, if deadline.is_some() => {
                if finished {
                    // The linger is over: give up on the last bytes.
                    break;
                }
                machine.handle_timeout(conn.clock.now());
            }
            c = &mut command, if command_armed => {
                command_armed = false;
                handler.on_command(machine, conn.clock.now(), c);
            }
            else => {
                // Nothing left to wait for: the stream is closed both ways
                // and the machine has no deadline. Closing it ends it.
                machine.handle_close(conn.clock.now());
                conn.collect(machine);
                while let Some(event) = machine.poll_event() {
                    handler.on_event(machine, conn.clock.now(), event);
                }
                break;
            }
        }
    }
    conn.discard_pending();
    conn.shutdown().await;
}
