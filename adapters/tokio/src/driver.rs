//! The connection driver: one task, one stream, one core state machine.
//!
//! The loop is the core's call contract and nothing more:
//!
//! 1. drain [`poll_output`](Machine::poll_output): its bytes into the
//!    outgoing buffer, its events into the [`Handler`] (which may give the
//!    machine a decision, producing more output), until it says `Wait` or
//!    `Done`;
//! 2. if it said `Done` and every byte is written, shut the stream down
//!    and stop;
//! 3. wait for the first of: the stream accepting some outgoing bytes,
//!    bytes read, the machine's deadline, or an application command;
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
use std::task::{Context, Poll, Waker};

use beckon_core::{Directory, Machine, Output};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};

use crate::clock::Clock;

/// How many bytes one read may bring in, and the unit in which transmits
/// are drained.
const CHUNK: usize = 8 * 1024;

/// How many reads of up to [`CHUNK`] bytes the final drain makes at most,
/// so that a peer that keeps sending cannot hold the close.
const DRAIN_READS: usize = 4;

/// What a session's task holds for its machine to consult, shared between
/// tasks: `()` for the inviter, the listener's directory for an invitee.
/// The view it gives is taken for one input and never held across an
/// await, so the source only needs to be `Sync`.
pub(crate) trait Consult<C: ?Sized>: Sync {
    /// The machine's context, for one input.
    fn context(&self) -> &C;
}

impl Consult<()> for () {
    fn context(&self) -> &() {
        self
    }
}

impl<D: Directory + Sync + 'static> Consult<dyn Directory> for D {
    fn context(&self) -> &(dyn Directory + 'static) {
        self
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

    /// The machine's next output, its bytes (if it gives bytes) appended
    /// to the outgoing buffer, or dropped if the stream can take no more.
    pub(crate) fn poll<M: Machine + ?Sized>(&mut self, machine: &mut M) -> Output<M::Event> {
        let len = self.outgoing.len();
        self.outgoing.resize(len + CHUNK, 0);
        let output = match self.outgoing.get_mut(len..) {
            Some(buf) => machine.poll_output(buf),
            None => Output::Wait(machine.poll_timeout()),
        };
        let n = match output {
            Output::Transmit(n) => n,
            _ => 0,
        };
        self.outgoing.truncate(len + n);
        if !self.write_open {
            self.outgoing.clear();
            self.sent = 0;
        }
        output
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
/// peer has already sent and shuts the stream down. `context` is what the
/// machine consults as it reads (the invitee's directory). `command` is
/// polled until it completes once; its output goes to the handler.
pub(crate) async fn drive<S, M, C, H, F>(
    conn: &mut Connection<S>,
    machine: &mut M,
    context: &C,
    handler: &mut H,
    command: F,
) where
    S: AsyncRead + AsyncWrite,
    M: Machine,
    C: Consult<M::Context> + ?Sized,
    H: Handler<M>,
    F: Future<Output = H::Command>,
{
    let mut command = pin!(command);
    let mut command_armed = true;
    let mut linger_until: Option<tokio::time::Instant> = None;
    loop {
        // The machine's outputs, in the contract's order: bytes, events
        // (the handler may feed the machine), then the wait.
        let next = loop {
            match conn.poll(machine) {
                Output::Transmit(_) => {}
                Output::Event(event) => handler.on_event(machine, conn.clock.now(), event),
                Output::Wait(deadline) => break Some(deadline),
                Output::Done => break None,
            }
        };
        let finished = next.is_none();
        if finished {
            if conn.all_written() {
                break;
            }
            linger_until.get_or_insert_with(|| tokio::time::Instant::now() + conn.linger);
        }
        let deadline = match next.flatten() {
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
                    Ok(n) => {
                        let data = conn.incoming.get(..n).unwrap_or(&[]);
                        machine.handle_input(now, data, context.context());
                    }
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
                loop {
                    match conn.poll(machine) {
                        Output::Transmit(_) => {}
                        Output::Event(event) => {
                            handler.on_event(machine, conn.clock.now(), event)
                        }
                        Output::Wait(_) | Output::Done => break,
                    }
                }
                break;
            }
        }
    }
    conn.discard_pending();
    conn.shutdown().await;
}
