//! The inviter: sends one invitation over one connection and reports the
//! answer.

use core::ops::Range;

use embassy_time::Instant;
use heapless::Deque;

use crate::config::{after, due, earliest, Config};
use crate::error::{ArgumentError, Error, ProtocolError, Refusal};
use crate::handshake::{
    signed_message, EphemeralSecret, InitiatorHandshake, OpenedProof, Transport, INVITER_LABEL,
};
use crate::identity::{Identity, PublicKey};
use crate::invitation::{Invitation, Response};
use crate::limits::PROTOCOL_VERSION;
use crate::wire::buffer::{Inbox, Outbox};
use crate::wire::frame::{
    buffer_size, max_data_for, write_header, FrameKind, ANSWER_FRAME_MAX, HEADER_LEN,
    HELLO_BODY_LEN, HELLO_FRAME_LEN, LENGTH_LEN, PROOF_FRAME_LEN, REFUSAL_BODY_LEN,
    SMALL_FRAME_MAX,
};
use crate::wire::payload::{
    self, AnswerMessage, Bytes, InviteHead, InviterProof, SignatureBytes, INVITER_KEEPALIVE_TAG,
    INVITE_TAG,
};

/// The default `BUF`: room for 16 KiB of application data.
pub const DEFAULT_BUFFER: usize = buffer_size(crate::limits::MAX_DATA_LEN);

/// Where the Invite frame starts in the outbox: right after the Hello.
const INVITE_FRAME_START: usize = HELLO_FRAME_LEN;
/// Where the Invite's plaintext starts.
const INVITE_PLAINTEXT_START: usize = INVITE_FRAME_START + HEADER_LEN;

/// Whom the inviter invites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A trusted contact: the responder must prove this key, else the
    /// session stops with [`Error::ContactMismatch`] before any byte of the
    /// invitation is sent (the reference's `PeerCollabInviteContact`).
    Contact(PublicKey),
    /// Whoever answers at the endpoint; their key is reported (the
    /// reference's less secure `PeerCollabInviteEndpoint`).
    AnyEndpoint,
}

/// What the inviter tells the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviterEvent {
    /// The responder proved this key and, in contact mode, it is the
    /// contact's. The invitation is on its way.
    Verified(PublicKey),
    /// The session is over: the invitee's authenticated answer, or why
    /// there is none. Always the last event, exactly once.
    Finished(Result<Response, Error>),
}

#[derive(Clone)]
enum State {
    AwaitingProof(InitiatorHandshake),
    /// A Proof decrypted, its signature about to be checked (within the
    /// same `handle_input`).
    CheckingProof(OpenedProof),
    AwaitingAnswer(Transport),
    Cancelling(Transport),
    Done,
}

/// The inviter's state machine: one invitation, one connection.
///
/// It has no I/O, clock or RNG: the caller moves bytes and time in and out.
///
/// # Calls
///
/// * **Inputs** (`handle_*`): [`handle_input`](Self::handle_input) for
///   bytes read from the connection, in any chunking;
///   [`handle_timeout`](Self::handle_timeout) when
///   [`poll_timeout`](Self::poll_timeout)'s instant has come;
///   [`handle_cancel`](Self::handle_cancel) to cancel;
///   [`handle_close`](Self::handle_close) when the connection ends.
/// * **Outputs** (`poll_*`), drained in this order after every input:
///   [`poll_transmit`](Self::poll_transmit) until it returns 0, then
///   [`poll_event`](Self::poll_event) until `None`, then
///   [`poll_timeout`](Self::poll_timeout) for when to call
///   `handle_timeout` next. When [`is_finished`](Self::is_finished), close
///   the connection.
/// * **Getters**: [`responder`](Self::responder),
///   [`outcome`](Self::outcome), [`answer_message`](Self::answer_message).
///
/// Every input first runs the deadlines that have passed at its `now`, so a
/// call at `now` behaves as if `handle_timeout(now)` had come first.
/// `handle_timeout` called early does nothing.
///
/// `BUF` sizes the buffer that holds the Hello and the Invite: use
/// [`buffer_size`](crate::wire::buffer_size) for a smaller data limit.
#[derive(Clone)]
pub struct Inviter<const BUF: usize = DEFAULT_BUFFER> {
    config: Config,
    /// `None` only in an [`idle`](Self::idle) machine.
    identity: Option<Identity>,
    target: Target,
    state: State,
    outbox: Outbox<BUF>,
    inbox: Inbox<SMALL_FRAME_MAX>,
    /// The end of the invitation head laid out in the outbox.
    head_end: usize,
    /// The Invite frame's length field, once it is sealed.
    invite_len: u32,
    responder: Option<PublicKey>,
    answer: Option<Range<usize>>,
    outcome: Option<Result<Response, Error>>,
    events: Deque<InviterEvent, 2>,
    handshake_deadline: Option<Instant>,
    answer_deadline: Option<Instant>,
    /// When to send the next keepalive, while waiting for the answer.
    keepalive_at: Option<Instant>,
    /// When to give up on a silent invitee, while waiting for the answer.
    idle_deadline: Option<Instant>,
    /// Whether the whole Invite has been transmitted (known once a
    /// keepalive has been queued behind it: the outbox then starts over).
    invite_out: bool,
}

impl<const BUF: usize> Inviter<BUF> {
    const BUFFER_FITS: () = assert!(
        BUF >= buffer_size(0),
        "BUF is smaller than buffer_size(0): no invitation fits"
    );

    /// Starts an invitation of `target` at `now`.
    ///
    /// The invitation is copied into the inviter's buffer now; the Hello is
    /// ready to transmit. `ephemeral` must be fresh randomness
    /// ([`EphemeralSecret::generate`]).
    ///
    /// Fails with `InvalidArgument` when the data is longer than this
    /// `BUF`'s limit ([`max_data_for`](crate::wire::max_data_for)) or the
    /// config is invalid ([`Config::validate`]).
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
        let mut inviter = Self::idle();
        inviter.start(config, identity, target, invitation, ephemeral, now)?;
        Ok(inviter)
    }

    /// A machine with no session: finished, with no outcome, waiting for
    /// [`start`](Self::start). Build it where it is to stay (a
    /// `StaticCell::init_with(Inviter::idle)`, say) and start it there.
    pub const fn idle() -> Self {
        Inviter {
            config: Config::DEFAULT,
            identity: None,
            target: Target::AnyEndpoint,
            state: State::Done,
            outbox: Outbox::new(),
            inbox: Inbox::new(),
            head_end: 0,
            invite_len: 0,
            responder: None,
            answer: None,
            outcome: None,
            events: Deque::new(),
            handshake_deadline: None,
            answer_deadline: None,
            keepalive_at: None,
            idle_deadline: None,
            invite_out: false,
        }
    }

    /// Starts a new invitation in this machine, in place, as
    /// [`new`](Self::new) does, whatever it held before (a session still
    /// running is dropped without a word: finish or cancel it first). No
    /// large value passes through the stack, so a firmware can keep one
    /// inviter in static memory and reuse it.
    ///
    /// On an invalid argument (the errors of `new`) nothing is changed.
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
        self.outbox.clear();
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
            *self = Self::idle();
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
            *self = Self::idle();
            return Err(too_small);
        }
        self.outbox.commit(HELLO_FRAME_LEN);

        self.config = config;
        self.identity = Some(identity.clone());
        self.target = target;
        self.state = State::AwaitingProof(handshake);
        self.inbox.reset();
        self.head_end = INVITE_PLAINTEXT_START + 1 + n;
        self.invite_len = 0;
        self.responder = None;
        self.answer = None;
        self.outcome = None;
        self.events.clear();
        self.handshake_deadline = Some(after(now, config.handshake_timeout));
        self.answer_deadline = None;
        self.keepalive_at = None;
        self.idle_deadline = None;
        self.invite_out = false;
        Ok(())
    }

    // --- Getters ---

    /// Whom this inviter invites.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The key the responder proved, once it has (also after a
    /// [`Error::ContactMismatch`]).
    pub fn responder(&self) -> Option<PublicKey> {
        self.responder
    }

    /// The final result, once the session is over.
    pub fn outcome(&self) -> Option<Result<Response, Error>> {
        self.outcome
    }

    /// The message that came with the answer (empty if none), or
    /// `ResponseNotAvailable` while no answer has come (the reference's
    /// `PEER_E_INVITE_RESPONSE_NOT_AVAILABLE`).
    pub fn answer_message(&self) -> Result<&str, Error> {
        let range = self.answer.clone().ok_or(Error::ResponseNotAvailable)?;
        payload::decode::<AnswerMessage<'_>>(self.inbox.retained(range))
            .map(|a| a.message())
            .map_err(|_| Error::ResponseNotAvailable)
    }

    /// Whether the session is over and every byte has been transmitted: the
    /// connection can be closed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done) && self.outbox.pending() == 0
    }

    // --- Inputs ---

    /// Takes bytes read from the connection. All of them are consumed; bytes
    /// after the end of the session are ignored.
    // A thin loop, out of line, as are the steps it calls: the signature
    // check then runs on a shallow stack, which keeps one exchange within
    // 8 KiB of stack on a Cortex-M4 (measured by adapters/embassy/footprint).
    #[inline(never)]
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        self.run_timers(now);
        let mut rest = data;
        while !rest.is_empty() {
            let max = match self.state {
                State::AwaitingProof(_) | State::CheckingProof(_) => PROOF_FRAME_LEN,
                State::AwaitingAnswer(_) | State::Cancelling(_) => ANSWER_FRAME_MAX,
                State::Done => return,
            };
            match self.inbox.read(rest, max) {
                // Zero means a complete frame was left unprocessed, which
                // `process_frame` never does; stop rather than spin.
                Ok(0) => return,
                Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
                Err(e) => return self.fail(Error::Protocol(e.into())),
            }
            self.process_frame(now);
            if matches!(self.state, State::CheckingProof(_)) {
                self.check_proof(now);
            }
        }
    }

    /// Runs the deadlines that have come at `now`. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_timers(now);
    }

    /// Cancels the invitation (the reference's three cases):
    /// before the Invite is sent (also when it is queued but not one byte of
    /// it has been transmitted yet), the session simply ends and nothing of
    /// the invitation reaches the invitee; after it is sent and before the
    /// answer, a Cancel is sent and the invitee withdraws its prompt (the
    /// session then ends with the invitee's acknowledgement, or with an
    /// answer that crossed the Cancel); after the answer, nothing happens.
    pub fn handle_cancel(&mut self, now: Instant) {
        self.run_timers(now);
        match core::mem::replace(&mut self.state, State::Done) {
            State::AwaitingProof(_) | State::CheckingProof(_) => self.fail(Error::Cancelled),
            // The Invite is queued but not one byte of it has left: take it
            // back, so that nothing of the invitation reaches the invitee.
            State::AwaitingAnswer(_)
                if !self.invite_out && self.outbox.sent_up_to() <= INVITE_FRAME_START =>
            {
                self.fail(Error::Cancelled)
            }
            State::AwaitingAnswer(mut transport) => {
                match transport.seal_tag(self.outbox.space(), payload::CANCEL_TAG) {
                    Ok(n) => {
                        self.outbox.commit(n);
                        self.state = State::Cancelling(transport);
                        self.keepalive_at = None;
                        self.idle_deadline = None;
                        let ack = after(now, self.config.grace);
                        self.answer_deadline =
                            Some(self.answer_deadline.map_or(ack, |d| d.min(ack)));
                    }
                    Err(e) => self.fail(e.into()),
                }
            }
            other => self.state = other,
        }
    }

    /// The connection ended (closed by the peer, reset, or failed).
    pub fn handle_close(&mut self, now: Instant) {
        self.run_timers(now);
        match self.state {
            State::AwaitingProof(_) | State::CheckingProof(_) | State::AwaitingAnswer(_) => {
                self.fail(Error::ConnectionClosed)
            }
            State::Cancelling(_) => self.fail(Error::Cancelled),
            State::Done => {}
        }
    }

    // --- Outputs ---

    /// Copies bytes to transmit into `buf`; returns how many (0 when there
    /// is nothing to send).
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        self.outbox.transmit(buf)
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<InviterEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, or `None`
    /// when no deadline is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitingProof(_) | State::CheckingProof(_) => self.handshake_deadline,
            State::AwaitingAnswer(_) => {
                earliest([self.answer_deadline, self.keepalive_at, self.idle_deadline])
            }
            State::Cancelling(_) => self.answer_deadline,
            State::Done => None,
        }
    }

    // --- Internals ---

    fn run_timers(&mut self, now: Instant) {
        match self.state {
            State::AwaitingProof(_) | State::CheckingProof(_)
                if due(self.handshake_deadline, now) =>
            {
                self.fail(Error::HandshakeTimeout)
            }
            State::AwaitingAnswer(_) if due(self.answer_deadline, now) => self.fail(Error::Timeout),
            // Silence counts only once the Invite is out: before that the
            // invitee has nothing to answer or keep alive.
            State::AwaitingAnswer(_) if due(self.idle_deadline, now) => {
                if self.outbox.pending() == 0 {
                    self.fail(Error::PeerSilent)
                } else {
                    self.idle_deadline = Some(after(now, self.config.idle_timeout));
                }
            }
            State::AwaitingAnswer(_) if due(self.keepalive_at, now) => self.keepalive(now),
            State::Cancelling(_) if due(self.answer_deadline, now) => self.fail(Error::Cancelled),
            _ => {}
        }
    }

    /// Queues a keepalive, unless bytes are still waiting to leave (they
    /// will show the invitee that the inviter is there), and schedules the
    /// next.
    fn keepalive(&mut self, now: Instant) {
        self.keepalive_at = Some(after(now, self.config.keepalive_interval));
        if self.outbox.pending() != 0 {
            return;
        }
        let State::AwaitingAnswer(transport) = &mut self.state else {
            return;
        };
        match transport.seal_tag(self.outbox.space(), INVITER_KEEPALIVE_TAG) {
            Ok(n) => {
                self.invite_out = true;
                self.outbox.commit(n);
            }
            Err(e) => self.fail(e.into()),
        }
    }

    fn push_event(&mut self, event: InviterEvent) {
        // At most one Verified and one Finished are ever queued, and the
        // queue holds two, so this never drops an event.
        let _ = self.events.push_back(event);
    }

    fn finish(&mut self, outcome: Result<Response, Error>) {
        self.state = State::Done;
        self.handshake_deadline = None;
        self.answer_deadline = None;
        self.keepalive_at = None;
        self.idle_deadline = None;
        self.outcome = Some(outcome);
        self.push_event(InviterEvent::Finished(outcome));
    }

    /// Ends the session with an error; nothing more is sent.
    fn fail(&mut self, error: Error) {
        self.outbox.clear();
        self.finish(Err(error));
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
        let result = match core::mem::replace(&mut self.state, State::Done) {
            State::AwaitingProof(handshake) => match kind {
                FrameKind::Proof => match handshake.open_proof(body) {
                    Ok(proof) => Step::Opened(proof),
                    Err(e) => Step::Fail(e.into()),
                },
                FrameKind::Refusal => Step::Fail(clear_refusal(body)),
                _ => Step::Fail(ProtocolError::UnexpectedFrame.into()),
            },
            State::AwaitingAnswer(transport) => {
                read_sealed_answer(transport, kind, body, self.invite_len, false)
            }
            State::Cancelling(transport) => {
                read_sealed_answer(transport, kind, body, self.invite_len, true)
            }
            State::CheckingProof(_) | State::Done => return,
        };
        match result {
            Step::Fail(e) => self.fail(e),
            Step::Opened(proof) => {
                self.inbox.clear_frame();
                self.state = State::CheckingProof(proof);
            }
            Step::Keepalive(transport, cancelling) => {
                self.inbox.clear_frame();
                if cancelling {
                    self.state = State::Cancelling(transport);
                } else {
                    self.state = State::AwaitingAnswer(transport);
                    self.idle_deadline = Some(after(now, self.config.idle_timeout));
                }
            }
            Step::Answer(answer, len, was_cancelling) => {
                let outcome = match answer {
                    Ok(response) => Ok(response),
                    Err(AnswerError::Refused(reason)) => Err(Error::Refused {
                        reason,
                        authenticated: true,
                    }),
                    Err(AnswerError::Cancelled) if was_cancelling => Err(Error::Cancelled),
                    Err(AnswerError::Cancelled) => {
                        // Not an answer to anything: a protocol error, with
                        // no answer message to read.
                        return self.fail(ProtocolError::UnexpectedFrame.into());
                    }
                };
                self.answer = Some(self.inbox.retain_body(len));
                self.finish(outcome);
            }
        }
    }

    /// Checks the signature of the Proof just opened; then [`verified`](Self::verified).
    #[inline(never)]
    fn check_proof(&mut self, now: Instant) {
        let State::CheckingProof(proof) = &self.state else {
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
        if let State::CheckingProof(proof) = core::mem::replace(&mut self.state, State::Done) {
            self.verified(proof.key, proof.transport, now);
        }
    }

    /// The responder proved `key`: check it is the one meant, then seal and
    /// queue the Invite.
    #[inline(never)]
    fn verified(&mut self, key: PublicKey, mut transport: Transport, now: Instant) {
        self.responder = Some(key);
        if let Target::Contact(expected) = self.target {
            if expected != key {
                return self.fail(Error::ContactMismatch);
            }
        }
        let Some(identity) = &self.identity else {
            return self.fail(Error::InvalidState);
        };
        let proof = InviterProof {
            key: identity.public_key().to_bytes(),
            signature: SignatureBytes(
                identity.sign(&signed_message(INVITER_LABEL, &transport.hash)),
            ),
        };
        let buf = &mut self.outbox.buf;
        let sealed = buf
            .get_mut(self.head_end..)
            .and_then(|tail| payload::encode(&proof, tail))
            .ok_or(ProtocolError::Malformed)
            .and_then(|n| {
                let plaintext_len = self.head_end + n - INVITE_PLAINTEXT_START;
                let frame = buf
                    .get_mut(INVITE_FRAME_START..)
                    .ok_or(ProtocolError::Malformed)?;
                transport.seal_frame(frame, plaintext_len)
            });
        match sealed {
            Ok(frame_len) => {
                self.outbox.extend_to(INVITE_FRAME_START + frame_len);
                self.invite_len = u32::try_from(frame_len - LENGTH_LEN).unwrap_or(u32::MAX);
                self.state = State::AwaitingAnswer(transport);
                self.handshake_deadline = None;
                let wait = after(now, self.config.response_timeout);
                self.answer_deadline = Some(after(wait, self.config.grace));
                self.keepalive_at = Some(after(now, self.config.keepalive_interval));
                self.idle_deadline = Some(after(now, self.config.idle_timeout));
                self.push_event(InviterEvent::Verified(key));
            }
            Err(e) => self.fail(e.into()),
        }
    }
}

// Transient, on the stack only; there is no heap to box the transport in.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// A Proof decrypted; its signature is checked next.
    Opened(OpenedProof),
    /// The answer, its plaintext length, and whether a Cancel had been sent.
    Answer(Result<Response, AnswerError>, usize, bool),
    /// A keepalive; the transport goes back, with whether a Cancel had been
    /// sent.
    Keepalive(Transport, bool),
    Fail(Error),
}

enum AnswerError {
    Refused(Refusal),
    Cancelled,
}

/// Opens a Sealed frame that should hold the answer.
fn read_sealed_answer(
    mut transport: Transport,
    kind: FrameKind,
    body: &mut [u8],
    invite_len: u32,
    cancelling: bool,
) -> Step {
    if kind != FrameKind::Sealed {
        return Step::Fail(ProtocolError::UnexpectedFrame.into());
    }
    let opened = transport.open(body).and_then(|len| {
        let plaintext = body.get(..len).ok_or(ProtocolError::Malformed)?;
        read_answer(plaintext, invite_len).map(|answer| (answer, len))
    });
    match opened {
        Ok((Some(answer), len)) => Step::Answer(answer, len, cancelling),
        Ok((None, _)) => Step::Keepalive(transport, cancelling),
        Err(e) => Step::Fail(e.into()),
    }
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
        // TooLarge travels only as its own answer, with the length seen.
        AnswerMessage::Refused(Refusal::TooLarge) => return Err(ProtocolError::Malformed),
        AnswerMessage::Refused(reason) => Err(AnswerError::Refused(reason)),
        AnswerMessage::TooLarge { invite_len: seen } if seen == invite_len => {
            Err(AnswerError::Refused(Refusal::TooLarge))
        }
        AnswerMessage::TooLarge { .. } => return Err(ProtocolError::LengthTampered),
        AnswerMessage::Cancelled => Err(AnswerError::Cancelled),
        AnswerMessage::Keepalive => return Ok(None),
    }))
}

/// Decodes a clear Refusal body: the invitee's version and the reason.
fn clear_refusal(body: &[u8]) -> Error {
    if body.len() != REFUSAL_BODY_LEN {
        return ProtocolError::Malformed.into();
    }
    let (version, reason) = body.split_at(1);
    match payload::decode::<Refusal>(reason) {
        Ok(Refusal::UnsupportedVersion) => Error::UnsupportedVersion {
            peer: version.first().copied().unwrap_or(0),
        },
        // Only these are ever sent before the handshake.
        Ok(reason @ (Refusal::InvitationsOff | Refusal::Busy)) => Error::Refused {
            reason,
            authenticated: false,
        },
        Ok(_) => ProtocolError::Malformed.into(),
        Err(e) => e.into(),
    }
}
