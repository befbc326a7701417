//! The one driving contract both roles follow.

use embassy_time::Instant;

/// A sans-IO state machine for one session over one connection: the
/// contract [`Inviter`](crate::Inviter) and [`Invitee`](crate::Invitee)
/// share, with the same signatures, so that one loop drives either.
///
/// It has no I/O, clock or RNG: the caller moves bytes and time in and
/// out (`docs/protocol.md` §8.1).
///
/// * **Inputs** (`handle_*`): [`handle_input`](Self::handle_input) for
///   bytes read from the connection, in any chunking, with the role's
///   [`Context`](Self::Context);
///   [`handle_timeout`](Self::handle_timeout) when the deadline of
///   [`Output::Wait`] has come; [`handle_close`](Self::handle_close) when
///   the connection ends. The roles add their own: the inviter's
///   `handle_cancel`, the invitee's `handle_decision` and `evict`.
/// * **Outputs**: after every input, call
///   [`poll_output`](Self::poll_output) until it says
///   [`Wait`](Output::Wait) or [`Done`](Output::Done). It gives the bytes
///   to send first, then the events, then the next deadline: the order
///   of the contract is the order of its answers.
///
/// Every input first runs the deadlines that have passed at its `now`, so
/// a call at `now` behaves as if `handle_timeout(now)` had come first.
/// `handle_timeout` called early does nothing. `now` must never decrease.
///
/// [`poll_transmit`](Self::poll_transmit), [`poll_event`](Self::poll_event),
/// [`poll_timeout`](Self::poll_timeout) and
/// [`is_finished`](Self::is_finished) are the parts `poll_output` is made
/// of, for a caller that checks one of them alone (a test that a deadline
/// is set, say). Drained by hand, they follow `poll_output`'s order:
/// `poll_transmit` until 0, then `poll_event` until `None`.
pub trait Machine {
    /// What the machine tells the application.
    type Event;
    /// What the machine consults while it reads: nothing (`()`) for the
    /// inviter, the [`Directory`](crate::Directory) for the invitee.
    type Context: ?Sized;

    /// Takes bytes read from the connection, in any chunking. All of them
    /// are consumed; bytes after the end of the session are ignored.
    fn handle_input(&mut self, now: Instant, data: &[u8], context: &Self::Context);

    /// Runs the deadlines that have come at `now`. Early calls do nothing.
    fn handle_timeout(&mut self, now: Instant);

    /// The connection ended (closed by the peer, reset, or failed).
    fn handle_close(&mut self, now: Instant);

    /// Copies bytes to transmit into `buf`; returns how many (0 when there
    /// is nothing to send).
    #[must_use]
    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize;

    /// The next event, if any.
    #[must_use]
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When to call [`handle_timeout`](Self::handle_timeout) next, or
    /// `None` when no deadline is pending.
    #[must_use]
    fn poll_timeout(&self) -> Option<Instant>;

    /// Whether the session is over and every byte has been transmitted:
    /// the connection can be closed.
    #[must_use]
    fn is_finished(&self) -> bool;

    /// The next thing to do, in the contract's order: bytes to send (into
    /// `buf`), then events, then wait. An empty `buf` skips the bytes (a
    /// socket with no room), which stay queued for a later call.
    #[must_use]
    fn poll_output(&mut self, buf: &mut [u8]) -> Output<Self::Event> {
        let n = self.poll_transmit(buf);
        if n > 0 {
            return Output::Transmit(n);
        }
        if let Some(event) = self.poll_event() {
            return Output::Event(event);
        }
        if self.is_finished() {
            return Output::Done;
        }
        Output::Wait(self.poll_timeout())
    }
}

/// What [`Machine::poll_output`] asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Output<E> {
    /// This many bytes to send are at the start of the buffer: send them,
    /// then poll again.
    Transmit(usize),
    /// Tell the application, then poll again (the application may have
    /// fed the machine meanwhile, a decision say).
    Event(E),
    /// Nothing to do until the next input: bytes read, the connection's
    /// end, an application command, or this deadline, when
    /// [`handle_timeout`](Machine::handle_timeout) is due (`None`: no
    /// deadline).
    Wait(Option<Instant>),
    /// The session is over, every event was given and every byte was
    /// sent: close the connection.
    Done,
}
