//! The inviter: sends one invitation over one connection and reports the
//! answer.

use core::ops::Range;

use embassy_time::Instant;

use crate::channel::{Channel, Ending};
use crate::config::Config;
use crate::error::{ArgumentError, Error, ProtocolError, SessionError};
use crate::handshake::{
    signed_message, EphemeralSecret, InitiatorHandshake, OpenedProof, Transport, INVITER_LABEL,
};
use crate::identity::{Identity, PublicKey};
use crate::invitation::{Invitation, Response};
use crate::limits::PROTOCOL_VERSION;
use crate::machine::Machine;
use crate::timers::{after, Timer};
use crate::wire::buffer::{Inbox, Outbox};
use crate::wire::frame::{
    max_data_for, write_header, FrameKind, ANSWER_FRAME_MAX, HEADER_LEN, HELLO_BODY_LEN,
    HELLO_FRAME_LEN, LENGTH_LEN, PROOF_FRAME_LEN, SMALL_FRAME_MAX,
};
use crate::wire::payload::{
    self, AnswerMessage, Bytes, InviteHead, InviterProof, SignatureBytes, CANCEL_TAG,
    INVITER_KEEPALIVE_TAG, INVITE_TAG,
};
use crate::wire::{ClearRefusal, DEFAULT_BUFFER};

/// Where the Invite frame starts in the outbox: right after the Hello.
const INVITE_FRAME_START: usize = HELLO_FRAME_LEN;
/// Where the Invite's plaintext starts.
const INVITE_PLAINTEXT_START: usize = INVITE_FRAME_START + HEADER_LEN;

/// Whom the inviter invites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Target {
    /// A trusted contact: the responder must prove this key, else the
    /// session stops with [`SessionError::ContactMismatch`] before any byte of the
    /// invitation is sent (the reference's `PeerCollabInviteContact`).
    Contact(PublicKey),
    /// Whoever answers at the endpoint; their key is reported (the
    /// reference's less secure `PeerCollabInviteEndpoint`).
    AnyEndpoint,
}

/// What the inviter tells the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InviterEvent {
    /// The responder proved this key and, in contact mode, it is the
    /// contact's. The invitation is on its way.
    Verified(PublicKey),
    /// The session is over: the invitee's authenticated answer, or why
    /// there is none. Always the last event, exactly once.
    Finished(Result<Response, SessionError>),
}

impl Ending for Result<Response, SessionError> {
    type Event = InviterEvent;
    fn event(self) -> InviterEvent {
        InviterEvent::Finished(self)
    }
}

enum State {
    AwaitingProof(InitiatorHandshake),
    /// A Proof decrypted, its signature about to be checked (within the
    /// same `handle_input`).
    CheckingProof(OpenedProof),
    AwaitingAnswer,
    Cancelling,
    Done,
}

/// What an inviter's session holds besides its buffers and its channel,
/// built in one place ([`Session::new`]) so that a restart forgets nothing.
struct Session {
    /// `None` only in an [`idle`](Inviter::idle) machine.
    identity: Option<Identity>,
    target: Target,
    state: State,
    /// The end of the invitation head laid out in the outbox.
    head_end: usize,
    /// The Invite frame's length field, once it is sealed.
    invite_len: u32,
    responder: Option<PublicKey>,
    answer: Option<Range<usize>>,
    /// When the invitee's user's time runs out, as this side reckons it.
    deadline: Option<Instant>,
}

impl Session {
    const fn idle() -> Self {
        Session {
            identity: None,
            target: Target::AnyEndpoint,
            state: State::Done,
            head_end: 0,
            invite_len: 0,
            responder: None,
            answer: None,
            deadline: None,
        }
    }

    fn new(
        identity: &Identity,
        target: Target,
        handshake: InitiatorHandshake,
        head_end: usize,
    ) -> Self {
        Session {
            identity: Some(identity.clone()),
            target,
            state: State::AwaitingProof(handshake),
            head_end,
            ..Session::idle()
        }
    }
}

/// The inviter's state machine: one invitation, one connection.
///
/// It is driven through [`Machine`] (its `Context` is `()`: it consults
/// nothing as it reads), plus [`handle_cancel`](Self::handle_cancel) to
/// cancel. **Getters**: [`responder`](Self::responder),
/// [`deadline`](Self::deadline), [`outcome`](Self::outcome),
/// [`answer_message`](Self::answer_message).
///
/// `BUF` sizes the buffer that holds the Hello and the Invite: use
/// [`buffer_size`](crate::wire::buffer_size) for a smaller data limit.
pub struct Inviter<const BUF: usize = DEFAULT_BUFFER> {
    outbox: Outbox<BUF>,
    inbox: Inbox<SMALL_FRAME_MAX>,
    chan: Channel<Result<Response, SessionError>>,
    session: Session,
}

impl Inviter {
    /// Starts an invitation of `target` at `now`, with the default buffer
    /// (16 KiB of data); [`new_sized`](Self::new_sized) for another.
    ///
    /// The invitation is copied into the inviter's buffer now; the Hello is
    /// ready to transmit. `ephemeral` must be fresh randomness
    /// ([`EphemeralSecret::generate`]). Fails with `InvalidArgument` when
    /// the config is invalid ([`Config::validate`]).
    ///
    /// This builds the machine as a value; where it must not pass through
    /// the stack (a firmware's static memory), make it once with
    /// [`idle`](Self::idle) and [`start`](Self::start) it in place.
    pub fn new(
        config: Config,
        identity: &Identity,
        target: Target,
        invitation: &Invitation<'_>,
        ephemeral: EphemeralSecret,
        now: Instant,
    ) -> Result<Self, Error> {
        Self::new_sized(config, identity, target, invitation, ephemeral, now)
    }
}

impl<const BUF: usize> Inviter<BUF> {
    const BUFFER_FITS: () = assert!(
        BUF >= crate::wire::buffer_size(0),
        "BUF is smaller than buffer_size(0): no invitation fits"
    );

    /// [`new`](Inviter::new) with a buffer of `BUF` bytes. Fails with
    /// `InvalidArgument` also when the data is longer than this `BUF`'s
    /// limit ([`max_data_for`](crate::wire::max_data_for)).
    pub fn new_sized(
        config: Config,
        identity: &Identity,
        target: Target,
        invitation: &Invitation<'_>,
        ephemeral: EphemeralSecret,
        now: Instant,
    ) -> Result<Self, Error> {
        let mut inviter = Self::idle();
        inviter.start(config, identity, target, invitation, ephemeral, now)?;
        Ok(inviter)
    }

    /// A machine with no session: finished, with no outcome, waiting for
    /// [`start`](Self::start). Build it where it is to stay (a
    /// `StaticCell::init_with(Inviter::idle)`, say) and start it there.
    pub const fn idle() -> Self {
        Inviter {
            outbox: Outbox::new(),
            inbox: Inbox::new(),
            chan: Channel::idle(),
            session: Session::idle(),
        }
    }

    /// Starts a new invitation in this machine, in place, as
    /// [`new`](Inviter::new) does, whatever it held before (a session still
    /// running is dropped without a word: finish or cancel it first). No
    /// large value passes through the stack, so a firmware can keep one
    /// inviter in static memory and reuse it.
    ///
    /// On an invalid argument (the errors of `new_sized`) nothing is
    /// changed.
    pub fn start(
        &mut self,
        config: Config,
        identity: &Identity,
        target: Target,
        invitation: &Invitation<'_>,
        ephemeral: EphemeralSecret,
        now: Instant,
    ) -> Result<(), Error> {
        #[allow(clippy::let_unit_value)]
        let () = Self::BUFFER_FITS;
        config.validate()?;
        let max = max_data_for(BUF);
        if invitation.data().len() > max {
            return Err(ArgumentError::DataTooLong { max }.into());
        }
        let too_small = Error::InvalidArgument(ArgumentError::DataTooLong { max });

        // Lay the invitation out where the Invite's plaintext will be, so it
        // is sealed in place later and never copied again. With the data
        // checked above and `BUF >= buffer_size(0)` this cannot fail; were
        // it to, the machine would be left idle rather than half made.
        self.outbox.reset();
        let head = InviteHead {
            application: *invitation.application().as_bytes(),
            message: invitation.message(),
            data: Bytes(invitation.data()),
        };
        let encoded = self
            .outbox
            .buf
            .get_mut(INVITE_PLAINTEXT_START..)
            .and_then(|tail| tail.split_first_mut())
            .and_then(|(tag, rest)| {
                *tag = INVITE_TAG;
                payload::encode(&head, rest)
            });
        let Some(n) = encoded else {
            self.clear();
            return Err(too_small);
        };

        let mut hello = [0u8; HELLO_BODY_LEN];
        let handshake = InitiatorHandshake::start(PROTOCOL_VERSION, &ephemeral, &mut hello);
        let buf = &mut self.outbox.buf;
        let written = write_header(buf, FrameKind::Hello, HELLO_BODY_LEN).and_then(|()| {
            buf.get_mut(HEADER_LEN..HELLO_FRAME_LEN)
                .map(|b| b.copy_from_slice(&hello))
        });
        if written.is_none() {
            self.clear();
            return Err(too_small);
        }
        self.outbox.commit(HELLO_FRAME_LEN);
        self.inbox.reset();
        self.chan = Channel::new(config, now);
        self.session = Session::new(identity, target, handshake, INVITE_PLAINTEXT_START + 1 + n);
        Ok(())
    }

    /// Back to [`idle`](Self::idle), in place.
    fn clear(&mut self) {
        self.outbox.reset();
        self.inbox.reset();
        self.chan = Channel::idle();
        self.session = Session::idle();
    }

    // --- Getters ---

    /// Whom this inviter invites.
    pub fn target(&self) -> Target {
        self.session.target
    }

    /// The key the responder proved, once it has (also after a
    /// [`SessionError::ContactMismatch`]).
    pub fn responder(&self) -> Option<PublicKey> {
        self.session.responder
    }

    /// When the invitee's user's time to answer runs out, as this side
    /// reckons it: the response timeout after the Invite was queued (the
    /// invitee counts from the Invite's arrival, a little later). The
    /// inviter itself gives up one `grace` after it. `None` until the
    /// responder is verified.
    pub fn deadline(&self) -> Option<Instant> {
        self.session.deadline
    }

    /// The final result, once the session is over.
    pub fn outcome(&self) -> Option<Result<Response, SessionError>> {
        self.chan.outcome()
    }

    /// The message that came with the answer (empty if none), or
    /// `ResponseNotAvailable` while no answer has come (the reference's
    /// `PEER_E_INVITE_RESPONSE_NOT_AVAILABLE`).
    pub fn answer_message(&self) -> Result<&str, Error> {
        let range = self
            .session
            .answer
            .clone()
            .ok_or(Error::ResponseNotAvailable)?;
        payload::decode::<AnswerMessage<'_>>(self.inbox.retained(range))
            .map(|a| a.message())
            .map_err(|_| Error::ResponseNotAvailable)
    }

    // --- Inputs of this role ---

    /// Cancels the invitation (the reference's three cases):
    /// before the Invite is sent (also when it is queued but not one byte of
    /// it has been transmitted yet), the session simply ends and nothing of
    /// the invitation reaches the invitee; after it is sent and before the
    /// answer, a Cancel is sent and the invitee withdraws its prompt (the
    /// session then ends with the invitee's acknowledgement, or with an
    /// answer that crossed the Cancel); after the answer, nothing happens.
    pub fn handle_cancel(&mut self, now: Instant) {
        self.run_timers(now);
        match self.session.state {
            State::AwaitingProof(_) | State::CheckingProof(_) => self.fail(SessionError::Cancelled),
            // The Invite is queued but not one byte of it has left: take it
            // back, so that nothing of the invitation reaches the invitee.
            State::AwaitingAnswer if self.outbox.transmitted() <= INVITE_FRAME_START => {
                self.fail(SessionError::Cancelled)
            }
            State::AwaitingAnswer => {
                let sealed = self
                    .chan
                    .transport()
                    .and_then(|t| t.seal_tag(self.outbox.space(), CANCEL_TAG));
                match sealed {
                    Ok(n) => {
                        self.outbox.commit(n);
                        self.session.state = State::Cancelling;
                        self.chan.quiet();
                        let ack = after(now, self.chan.config.grace);
                        let timers = &mut self.chan.timers;
                        let until = timers.get(Timer::Answer).map_or(ack, |d| d.min(ack));
                        timers.set(Timer::Answer, until);
                    }
                    Err(e) => self.fail(e),
                }
            }
            State::Cancelling | State::Done => {}
        }
    }

    // --- Internals ---

    /// Takes bytes read from the connection. A thin loop, out of line, as
    /// are the steps it calls: the signature check then runs on a shallow
    /// stack, which keeps one exchange within 8 KiB of stack on a
    /// Cortex-M4 (measured by adapters/embassy/footprint).
    #[inline(never)]
    fn input(&mut self, now: Instant, data: &[u8]) {
        self.run_timers(now);
        let mut rest = data;
        while !rest.is_empty() {
            let max = match self.session.state {
                State::AwaitingProof(_) | State::CheckingProof(_) => PROOF_FRAME_LEN,
                State::AwaitingAnswer | State::Cancelling => ANSWER_FRAME_MAX,
                State::Done => return,
            };
            match self.inbox.read(rest, max) {
                // Zero means a complete frame was left unprocessed, which
                // `process_frame` never does; stop rather than spin.
                Ok(0) => return,
                Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
                Err(e) => return self.fail(ProtocolError::from(e).into()),
            }
            self.process_frame(now);
            if matches!(self.session.state, State::CheckingProof(_)) {
                self.check_proof(now);
            }
        }
    }

    /// Runs every deadline that has come at `now`, in [`Timer::ALL`]'s
    /// order. Each timer runs at most once (a keepalive at the end of time
    /// reschedules itself to the same instant), so this ends.
    fn run_timers(&mut self, now: Instant) {
        for _ in Timer::ALL {
            let Some(timer) = self.chan.timers.expired(now) else {
                return;
            };
            self.run_timer(timer, now);
        }
    }

    /// Runs one deadline that has come.
    fn run_timer(&mut self, timer: Timer, now: Instant) {
        match timer {
            Timer::Handshake => self.fail(SessionError::HandshakeTimeout),
            Timer::Answer if matches!(self.session.state, State::Cancelling) => {
                self.fail(SessionError::Cancelled)
            }
            Timer::Answer => self.fail(SessionError::Timeout),
            // Silence counts only once the Invite is out: before that the
            // invitee has nothing to answer or keep alive.
            Timer::Idle if self.outbox.pending() == 0 => self.fail(SessionError::PeerSilent),
            Timer::Idle => self.chan.heard(now),
            Timer::Keepalive => {
                if let Err(e) = self
                    .chan
                    .keepalive(now, &mut self.outbox, INVITER_KEEPALIVE_TAG)
                {
                    self.fail(e)
                }
            }
        }
    }

    fn finish(&mut self, outcome: Result<Response, SessionError>) {
        self.session.state = State::Done;
        self.chan.finish(outcome);
    }

    /// Ends the session with an error; nothing more is sent.
    fn fail(&mut self, error: SessionError) {
        self.session.state = State::Done;
        self.chan.fail(&mut self.outbox, Err(error));
    }

    /// Processes the frame in the inbox, if complete. Out of line, as are
    /// the steps below: `handle_input`'s own frame stays small, and the
    /// signature check (`check_proof`) runs on top of it alone.
    #[inline(never)]
    fn process_frame(&mut self, now: Instant) {
        let Some(frame) = self.inbox.frame() else {
            return;
        };
        let (kind, body) = match frame {
            Ok(f) => f,
            Err(e) => return self.fail(e.into()),
        };
        let cancelling = matches!(self.session.state, State::Cancelling);
        let result = match core::mem::replace(&mut self.session.state, State::Done) {
            State::AwaitingProof(handshake) => match kind {
                FrameKind::Proof => match handshake.open_proof(body) {
                    Ok((proof, transport)) => Step::Opened(proof, transport),
                    Err(e) => Step::Fail(e.into()),
                },
                FrameKind::Refusal => Step::Fail(clear_refusal(body)),
                _ => Step::Fail(ProtocolError::UnexpectedFrame.into()),
            },
            State::AwaitingAnswer | State::Cancelling => {
                match self.chan.open(kind, body).and_then(|text| {
                    let answer = read_answer(text, self.session.invite_len)?;
                    Ok((answer, text.len()))
                }) {
                    Ok((Some(answer), len)) => Step::Answer(answer, len),
                    Ok((None, _)) => Step::Keepalive,
                    Err(e) => Step::Fail(e),
                }
            }
            State::CheckingProof(_) | State::Done => return,
        };
        match result {
            Step::Fail(e) => self.fail(e),
            Step::Opened(proof, transport) => {
                self.inbox.clear_frame();
                // Used only once the Proof's signature is checked.
                self.chan.keys(transport);
                self.session.state = State::CheckingProof(proof);
            }
            Step::Keepalive => {
                self.inbox.clear_frame();
                if cancelling {
                    // It crossed the Cancel: only the acknowledgement counts.
                    self.session.state = State::Cancelling;
                } else {
                    self.session.state = State::AwaitingAnswer;
                    self.chan.heard(now);
                }
            }
            Step::Answer(answer, len) => {
                let outcome = match answer {
                    Ok(response) => Ok(response),
                    Err(AnswerError::Refused(reason)) => Err(SessionError::Refused {
                        reason,
                        authenticated: true,
                    }),
                    Err(AnswerError::Cancelled) if cancelling => Err(SessionError::Cancelled),
                    Err(AnswerError::Cancelled) => {
                        // Not an answer to anything: a protocol error, with
                        // no answer message to read.
                        return self.fail(ProtocolError::UnexpectedFrame.into());
                    }
                };
                self.session.answer = Some(self.inbox.retain_body(len));
                self.finish(outcome);
            }
        }
    }

    /// Checks the signature of the Proof just opened; then [`verified`](Self::verified).
    #[inline(never)]
    fn check_proof(&mut self, now: Instant) {
        let State::CheckingProof(proof) = &self.session.state else {
            return;
        };
        if !proof.signature_ok() {
            return self.fail(ProtocolError::BadSignature.into());
        }
        self.proof_checked(now);
    }

    /// Takes the checked Proof out of the state, on a frame of its own (so
    /// that `check_proof`'s, under `verify_strict`, stays small).
    #[inline(never)]
    fn proof_checked(&mut self, now: Instant) {
        if let State::CheckingProof(proof) =
            core::mem::replace(&mut self.session.state, State::Done)
        {
            self.verified(proof.key, now);
        }
    }

    /// The responder proved `key`: check it is the one meant, then seal and
    /// queue the Invite.
    #[inline(never)]
    fn verified(&mut self, key: PublicKey, now: Instant) {
        self.session.responder = Some(key);
        if let Target::Contact(expected) = self.session.target {
            if expected != key {
                return self.fail(SessionError::ContactMismatch);
            }
        }
        let (Some(identity), Ok(transport)) = (&self.session.identity, self.chan.transport())
        else {
            return self.fail(SessionError::Internal);
        };
        let proof = InviterProof {
            key: identity.public_key().to_bytes(),
            signature: SignatureBytes(
                identity.sign(&signed_message(INVITER_LABEL, &transport.hash)),
            ),
        };
        let head_end = self.session.head_end;
        let buf = &mut self.outbox.buf;
        let sealed = buf
            .get_mut(head_end..)
            .and_then(|tail| payload::encode(&proof, tail))
            .ok_or(SessionError::Internal)
            .and_then(|n| {
                let plaintext_len = head_end + n - INVITE_PLAINTEXT_START;
                let frame = buf
                    .get_mut(INVITE_FRAME_START..)
                    .ok_or(SessionError::Internal)?;
                transport.seal_frame(frame, plaintext_len)
            });
        match sealed {
            Ok(frame_len) => {
                self.outbox.extend_to(INVITE_FRAME_START + frame_len);
                self.session.invite_len = u32::try_from(frame_len - LENGTH_LEN).unwrap_or(u32::MAX);
                self.session.state = State::AwaitingAnswer;
                let config = self.chan.config;
                let deadline = after(now, config.response_timeout);
                self.session.deadline = Some(deadline);
                self.chan.pending(now);
                self.chan
                    .timers
                    .set(Timer::Answer, after(deadline, config.grace));
                self.chan.push(InviterEvent::Verified(key));
            }
            Err(e) => self.fail(e),
        }
    }
}

impl<const BUF: usize> Machine for Inviter<BUF> {
    type Event = InviterEvent;
    type Context = ();

    fn handle_input(&mut self, now: Instant, data: &[u8], _: &()) {
        self.input(now, data);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.run_timers(now);
    }

    fn handle_close(&mut self, now: Instant) {
        self.run_timers(now);
        match self.session.state {
            State::AwaitingProof(_) | State::CheckingProof(_) | State::AwaitingAnswer => {
                self.fail(SessionError::ConnectionClosed)
            }
            State::Cancelling => self.fail(SessionError::Cancelled),
            State::Done => {}
        }
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        self.outbox.transmit(buf)
    }

    fn poll_event(&mut self) -> Option<InviterEvent> {
        self.chan.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.chan.timers.next()
    }

    fn is_finished(&self) -> bool {
        matches!(self.session.state, State::Done) && self.outbox.pending() == 0
    }
}

// Transient, on the stack only; there is no heap to box the proof in.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// A Proof decrypted; its signature is checked next.
    Opened(OpenedProof, Transport),
    /// The answer, and its plaintext's length.
    Answer(Result<Response, AnswerError>, usize),
    /// A keepalive.
    Keepalive,
    Fail(SessionError),
}

enum AnswerError {
    Refused(crate::error::Refusal),
    Cancelled,
}

/// Decodes and checks an answer's plaintext (`None` for a keepalive).
/// `invite_len` is the length field of the Invite that was sent.
fn read_answer(
    plaintext: &[u8],
    invite_len: u32,
) -> Result<Option<Result<Response, AnswerError>>, ProtocolError> {
    let answer: AnswerMessage<'_> = payload::decode(plaintext)?;
    payload::check_wire_message(answer.message())?;
    Ok(Some(match answer {
        AnswerMessage::Declined { .. } => Ok(Response::Declined),
        AnswerMessage::Accepted { .. } => Ok(Response::Accepted),
        AnswerMessage::Expired => Ok(Response::Expired),
        AnswerMessage::Error { code, .. } => Ok(Response::Error { code }),
        AnswerMessage::Refused(reason) => Err(AnswerError::Refused(reason.refusal())),
        AnswerMessage::TooLarge { invite_len: seen } if seen == invite_len => {
            Err(AnswerError::Refused(crate::error::Refusal::TooLarge))
        }
        AnswerMessage::TooLarge { .. } => return Err(ProtocolError::LengthTampered),
        AnswerMessage::Cancelled => Err(AnswerError::Cancelled),
        AnswerMessage::Keepalive => return Ok(None),
    }))
}

/// Decodes a clear Refusal body: the invitee's version and the reason.
fn clear_refusal(body: &[u8]) -> SessionError {
    let [version, tag] = body else {
        return ProtocolError::Malformed.into();
    };
    match ClearRefusal::from_tag(*tag) {
        Some(ClearRefusal::UnsupportedVersion) => {
            SessionError::UnsupportedVersion { peer: *version }
        }
        Some(clear) => match clear.refusal() {
            Some(reason) => SessionError::Refused {
                reason,
                authenticated: false,
            },
            None => ProtocolError::Malformed.into(),
        },
        // Only those are ever sent before the handshake.
        None => ProtocolError::Malformed.into(),
    }
}
