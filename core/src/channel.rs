//! What both roles share: the channel after the handshake, the timers, the
//! events and the end of a session.

use embassy_time::Instant;
use heapless::Deque;

use crate::config::Config;
use crate::error::{ProtocolError, SessionError};
use crate::handshake::Transport;
use crate::timers::{Timer, Timers};
use crate::wire::buffer::Outbox;
use crate::wire::frame::{FrameKind, HEADER_LEN};
use crate::wire::payload;

/// How a role's session ends, and the event that says so.
pub(crate) trait Ending: Copy {
    /// The role's event type.
    type Event;
    /// The `Finished` event for this ending.
    fn event(self) -> Self::Event;
}

/// The state of a session that is not the handshake's: the timers, the
/// transport once the handshake is over, the events and the outcome. The
/// byte buffers stay in the role, which sizes them.
pub(crate) struct Channel<O: Ending> {
    pub(crate) config: Config,
    pub(crate) timers: Timers,
    /// The keys after the handshake; dropped (and zeroized) at the end.
    transport: Option<Transport>,
    /// At most one first event (Verified, Prompt) and one Finished.
    events: Deque<O::Event, 2>,
    outcome: Option<O>,
}

impl<O: Ending> Channel<O> {
    /// No session.
    pub(crate) const fn idle() -> Self {
        Channel {
            config: Config::DEFAULT,
            timers: Timers::new(),
            transport: None,
            events: Deque::new(),
            outcome: None,
        }
    }

    /// A session starting at `now`: the handshake's deadline is set.
    pub(crate) fn new(config: Config, now: Instant) -> Self {
        let mut channel = Self::idle();
        channel.config = config;
        channel
            .timers
            .set_after(Timer::Handshake, now, config.handshake_timeout);
        channel
    }

    /// The outcome, once the session is over.
    pub(crate) fn outcome(&self) -> Option<O> {
        self.outcome
    }

    /// Queues an event. At most one first event and one `Finished` are
    /// ever queued and the queue holds two, so none is ever dropped.
    pub(crate) fn push(&mut self, event: O::Event) {
        let _ = self.events.push_back(event);
    }

    /// The next event.
    pub(crate) fn pop(&mut self) -> Option<O::Event> {
        self.events.pop_front()
    }

    /// The keys of the channel, once the handshake has made them.
    pub(crate) fn keys(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    /// The handshake is over and the invitation pending: from now on
    /// keepalives and the idle timer run.
    pub(crate) fn pending(&mut self, now: Instant) {
        self.timers.stop(Timer::Handshake);
        let config = self.config;
        self.timers
            .set_after(Timer::Keepalive, now, config.keepalive_interval);
        self.timers.set_after(Timer::Idle, now, config.idle_timeout);
    }

    /// The transport, once the handshake is over.
    pub(crate) fn transport(&mut self) -> Result<&mut Transport, SessionError> {
        self.transport.as_mut().ok_or(SessionError::Internal)
    }

    /// Something came from the peer: it is not silent.
    pub(crate) fn heard(&mut self, now: Instant) {
        self.timers
            .set_after(Timer::Idle, now, self.config.idle_timeout);
    }

    /// Stops sending keepalives and listening for silence (a Cancel is
    /// out: only its acknowledgement is awaited).
    pub(crate) fn quiet(&mut self) {
        self.timers.stop(Timer::Keepalive);
        self.timers.stop(Timer::Idle);
    }

    /// Queues a sealed keepalive with plaintext `tag`, unless bytes are
    /// still waiting to leave (they will show the peer that this side is
    /// there), and schedules the next.
    pub(crate) fn keepalive<const N: usize>(
        &mut self,
        now: Instant,
        outbox: &mut Outbox<N>,
        tag: u8,
    ) -> Result<(), SessionError> {
        self.timers
            .set_after(Timer::Keepalive, now, self.config.keepalive_interval);
        if outbox.pending() != 0 {
            return Ok(());
        }
        let n = self.transport()?.seal_tag(outbox.space(), tag)?;
        outbox.commit(n);
        Ok(())
    }

    /// Seals `message` into a frame at the end of `outbox`.
    pub(crate) fn seal<const N: usize, T: serde::Serialize>(
        &mut self,
        outbox: &mut Outbox<N>,
        message: &T,
    ) -> Result<(), SessionError> {
        let transport = self.transport()?;
        let space = outbox.space();
        let n = space
            .get_mut(HEADER_LEN..)
            .and_then(|text| payload::encode(message, text))
            .ok_or(SessionError::Internal)?;
        let n = transport.seal_frame(space, n)?;
        outbox.commit(n);
        Ok(())
    }

    /// Opens a Sealed frame's body in place, returning the plaintext.
    pub(crate) fn open<'b>(
        &mut self,
        kind: FrameKind,
        body: &'b mut [u8],
    ) -> Result<&'b [u8], SessionError> {
        if kind != FrameKind::Sealed {
            return Err(ProtocolError::UnexpectedFrame.into());
        }
        let len = self.transport()?.open(body)?;
        Ok(body.get(..len).ok_or(ProtocolError::Malformed)?)
    }

    /// Ends the session with `outcome`: no timer runs any more, the keys
    /// are dropped, and `Finished` is the last event.
    pub(crate) fn finish(&mut self, outcome: O) {
        self.timers.clear();
        self.transport = None;
        self.outcome = Some(outcome);
        self.push(outcome.event());
    }

    /// Ends the session with `outcome`, dropping every byte not yet
    /// transmitted: nothing more is sent.
    pub(crate) fn fail<const N: usize>(&mut self, outbox: &mut Outbox<N>, outcome: O) {
        outbox.clear();
        self.finish(outcome);
    }
}
