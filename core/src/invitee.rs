//! The invitee: answers one connection's invitation, asking its directory
//! and its user.

use core::ops::Range;

use embassy_time::Instant;
use heapless::Deque;

use crate::config::{after, due, earliest, Config};
use crate::directory::{Directory, Permission, Policy};
use crate::error::{Error, ProtocolError, Refusal};
use crate::handshake::{
    noise::HandshakeHash, signed_message, EphemeralSecret, ResponderHandshake, Transport,
    INVITER_LABEL,
};
use crate::identity::{Identity, PublicKey};
use crate::invitation::{check_message, ApplicationId, Decision, Invitation};
use crate::inviter::DEFAULT_BUFFER;
use crate::limits::{MAX_DATA_LEN, PROTOCOL_VERSION};
use crate::wire::buffer::{FrameError, Inbox, Outbox};
use crate::wire::frame::{
    invite_frame_len, max_data_for, write_header, FrameKind, CANCEL_FRAME_LEN, HEADER_LEN,
    HELLO_FRAME_MAX, KEEPALIVE_FRAME_LEN, PROOF_BODY_LEN, REFUSAL_BODY_LEN, SMALL_FRAME_MAX,
};
use crate::wire::payload::{self, AnswerMessage, Invite, InviterMessage, INVITEE_KEEPALIVE_TAG};

/// The invitee's outbox: the largest frame it sends, behind a keepalive
/// that may still be waiting to leave.
const OUTBOX_LEN: usize = SMALL_FRAME_MAX + KEEPALIVE_FRAME_LEN;

/// An invitation to show the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// The inviter's proven key. Show its
    /// [`fingerprint`](PublicKey::fingerprint), and its contact's nickname
    /// when `is_contact`.
    pub inviter: PublicKey,
    /// Whether the inviter is in the directory (and allowed).
    pub is_contact: bool,
    /// The application invited to.
    pub application: ApplicationId,
    /// The instant at which the prompt expires. The message and data are
    /// read with [`Invitee::invitation`].
    pub deadline: Instant,
}

/// What the application launches on accept (the reference's
/// `PEER_APP_LAUNCH_INFO`); the invitation itself is read with
/// [`Invitee::invitation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    /// The inviter's proven key.
    pub inviter: PublicKey,
    /// Whether the inviter is a contact.
    pub is_contact: bool,
    /// The application to launch.
    pub application: ApplicationId,
}

/// How an invitee's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteeOutcome {
    /// The user accepted: launch the application.
    Accepted(Launch),
    /// The user declined.
    Declined,
    /// The user's side answered with an error code.
    Errored {
        /// The code sent.
        code: u32,
    },
    /// Nobody answered before the deadline; Expired was sent and the prompt
    /// is withdrawn.
    Expired,
    /// The inviter cancelled while the prompt was up; it is withdrawn.
    Cancelled,
    /// The policy refused the invitation (the reason was sent).
    Refused(Refusal),
    /// The session failed; any prompt is withdrawn.
    Failed(Error),
}

/// What the invitee tells the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteeEvent {
    /// Ask the user: accept or decline, before the deadline.
    Prompt(Prompt),
    /// The session is over. Always the last event, exactly once.
    Finished(InviteeOutcome),
}

#[derive(Clone)]
enum State {
    AwaitingHello,
    AwaitingInvite(Transport),
    /// An Invite decrypted and decoded, its signature about to be checked
    /// (within the same `handle_input`); the frame stays in the inbox.
    CheckingInvite(Transport, PendingInvite),
    Prompting(Transport),
    Done,
}

/// The invitee's state machine: one connection, at most one invitation.
///
/// It has no I/O, clock or RNG: the caller moves bytes and time in and out.
///
/// # Calls
///
/// * **Inputs** (`handle_*`): [`handle_input`](Self::handle_input) for
///   bytes read from the connection, in any chunking, with the
///   [`Directory`] to consult; [`handle_decision`](Self::handle_decision)
///   for the user's answer; [`handle_timeout`](Self::handle_timeout) when
///   [`poll_timeout`](Self::poll_timeout)'s instant has come;
///   [`handle_close`](Self::handle_close) when the connection ends.
/// * **Outputs** (`poll_*`), drained in this order after every input:
///   [`poll_transmit`](Self::poll_transmit) until it returns 0, then
///   [`poll_event`](Self::poll_event) until `None`, then
///   [`poll_timeout`](Self::poll_timeout). When
///   [`is_finished`](Self::is_finished), close the connection.
/// * **Getters**: [`invitation`](Self::invitation),
///   [`inviter`](Self::inviter), [`outcome`](Self::outcome).
///
/// Every input first runs the deadlines that have passed at its `now`.
/// `handle_timeout` called early does nothing.
#[derive(Clone)]
pub struct Invitee<const BUF: usize = DEFAULT_BUFFER> {
    config: Config,
    /// `None` only in an [`idle`](Self::idle) machine.
    identity: Option<Identity>,
    /// Used once, for the Proof, then dropped (and so zeroized).
    ephemeral: Option<EphemeralSecret>,
    state: State,
    inbox: Inbox<BUF>,
    outbox: Outbox<OUTBOX_LEN>,
    invitation: Option<Range<usize>>,
    inviter: Option<(PublicKey, bool)>,
    outcome: Option<InviteeOutcome>,
    events: Deque<InviteeEvent, 2>,
    handshake_deadline: Option<Instant>,
    answer_deadline: Option<Instant>,
    /// When to send the next keepalive, while prompting.
    keepalive_at: Option<Instant>,
    /// When to give up on a silent inviter, while prompting.
    idle_deadline: Option<Instant>,
}

impl<const BUF: usize> Invitee<BUF> {
    const BUFFER_FITS: () = assert!(
        BUF >= crate::wire::buffer_size(0),
        "BUF is smaller than buffer_size(0): no invitation fits"
    );

    /// Starts serving one incoming connection at `now`. `ephemeral` must be
    /// fresh randomness ([`EphemeralSecret::generate`]). Fails with
    /// `InvalidArgument` when the config is invalid
    /// ([`Config::validate`]).
    ///
    /// This builds the machine as a value; where it must not pass through
    /// the stack (a firmware's static memory), make it once with
    /// [`idle`](Self::idle) and [`start`](Self::start) it in place.
    pub fn new(
        config: Config,
        identity: &Identity,
        ephemeral: EphemeralSecret,
        now: Instant,
    ) -> Result<Self, Error> {
        let mut invitee = Self::idle();
        invitee.start(config, identity, ephemeral, now)?;
        Ok(invitee)
    }

    /// A machine with no session: finished, with no outcome, waiting for
    /// [`start`](Self::start). Build it where it is to stay (a
    /// `StaticCell::init_with(Invitee::idle)`, say) and start it there.
    pub const fn idle() -> Self {
        Invitee {
            config: Config::DEFAULT,
            identity: None,
            ephemeral: None,
            state: State::Done,
            inbox: Inbox::new(),
            outbox: Outbox::new(),
            invitation: None,
            inviter: None,
            outcome: None,
            events: Deque::new(),
            handshake_deadline: None,
            answer_deadline: None,
            keepalive_at: None,
            idle_deadline: None,
        }
    }

    /// Starts serving a new connection in this machine, in place, as
    /// [`new`](Self::new) does, whatever it held before (a session still
    /// running is dropped without a word: its prompt is gone). No large
    /// value passes through the stack, so a firmware can keep one invitee
    /// per session in static memory and reuse it.
    ///
    /// On an invalid config nothing is changed.
    pub fn start(
        &mut self,
        config: Config,
        identity: &Identity,
        ephemeral: EphemeralSecret,
        now: Instant,
    ) -> Result<(), Error> {
        #[allow(clippy::let_unit_value)]
        let () = Self::BUFFER_FITS;
        config.validate()?;
        self.config = config;
        self.identity = Some(identity.clone());
        self.ephemeral = Some(ephemeral);
        self.state = State::AwaitingHello;
        self.inbox.reset();
        self.outbox.clear();
        self.invitation = None;
        self.inviter = None;
        self.outcome = None;
        self.events.clear();
        self.handshake_deadline = Some(after(now, config.handshake_timeout));
        self.answer_deadline = None;
        self.keepalive_at = None;
        self.idle_deadline = None;
        Ok(())
    }

    // --- Getters ---

    /// The invitation, once it has arrived and passed the policy (it stays
    /// readable after the session ends, for the launch).
    pub fn invitation(&self) -> Option<Invitation<'_>> {
        let range = self.invitation.clone()?;
        match payload::decode::<InviterMessage<'_>>(self.inbox.retained(range)) {
            Ok(InviterMessage::Invite(Invite { head, .. })) => Some(Invitation::from_wire(
                ApplicationId::from_bytes(head.application),
                head.message,
                head.data.0,
            )),
            _ => None,
        }
    }

    /// The inviter's proven key, once its Invite is in.
    pub fn inviter(&self) -> Option<PublicKey> {
        self.inviter.map(|(key, _)| key)
    }

    /// How the session ended, once it has.
    pub fn outcome(&self) -> Option<InviteeOutcome> {
        self.outcome
    }

    /// Whether a prompt is up, waiting for the user.
    pub fn is_prompting(&self) -> bool {
        matches!(self.state, State::Prompting(_))
    }

    /// Whether the session is over and every byte has been transmitted: the
    /// connection can be closed.
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done) && self.outbox.pending() == 0
    }

    // --- Inputs ---

    /// Takes bytes read from the connection, consulting `directory` for the
    /// policy as each message arrives. All bytes are consumed; bytes after
    /// the end of the session are ignored.
    #[inline(never)]
    pub fn handle_input<D: Directory + ?Sized>(
        &mut self,
        now: Instant,
        data: &[u8],
        directory: &D,
    ) {
        self.run_timers(now);
        let mut rest = data;
        while !rest.is_empty() {
            let max = match self.state {
                State::AwaitingHello => HELLO_FRAME_MAX,
                State::AwaitingInvite(_) | State::CheckingInvite(..) => {
                    invite_frame_len(max_data_for(BUF))
                }
                State::Prompting(_) => CANCEL_FRAME_LEN,
                State::Done => return,
            };
            match self.inbox.read(rest, max) {
                // Zero means a complete frame was left unprocessed, which
                // `process_frame` never does; stop rather than spin.
                Ok(0) => return,
                Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
                Err(FrameError::TooLarge) if matches!(self.state, State::AwaitingInvite(_)) => {
                    // An invitation bigger than this device takes: say so,
                    // inside the channel, without reading it, naming the
                    // length seen so that a tampered length is detected.
                    let invite_len = self.inbox.announced_len().unwrap_or(0);
                    return self.refuse_too_large(invite_len);
                }
                Err(e) => return self.fail(Error::Protocol(e.into())),
            }
            self.process_frame(now, directory);
            if matches!(self.state, State::CheckingInvite(..)) {
                self.check_invite(now, directory);
            }
        }
    }

    /// The user's decision on the prompt. Fails, changing nothing, with
    /// `InvalidArgument` for a message over 255 characters; with `Expired`
    /// at or after the deadline (the prompt has then expired and Expired
    /// was sent); with `Cancelled` after the inviter cancelled; and with
    /// `InvalidState` when no prompt is up.
    pub fn handle_decision(&mut self, now: Instant, decision: Decision<'_>) -> Result<(), Error> {
        self.run_timers(now);
        if !matches!(self.state, State::Prompting(_)) {
            return Err(match self.outcome {
                Some(InviteeOutcome::Expired) => Error::Expired,
                Some(InviteeOutcome::Cancelled) => Error::Cancelled,
                _ => Error::InvalidState,
            });
        }
        check_message(decision.message())?;
        let (answer, outcome) = match decision {
            Decision::Accept { message } => {
                let (inviter, is_contact) = self.inviter.ok_or(Error::InvalidState)?;
                let application = self
                    .invitation()
                    .map(|i| i.application())
                    .ok_or(Error::InvalidState)?;
                (
                    AnswerMessage::Accepted { message },
                    InviteeOutcome::Accepted(Launch {
                        inviter,
                        is_contact,
                        application,
                    }),
                )
            }
            Decision::Decline { message } => (
                AnswerMessage::Declined { message },
                InviteeOutcome::Declined,
            ),
            Decision::Fail { code, message } => (
                AnswerMessage::Error { code, message },
                InviteeOutcome::Errored { code },
            ),
            Decision::Busy => (
                AnswerMessage::Refused(Refusal::Busy),
                InviteeOutcome::Refused(Refusal::Busy),
            ),
        };
        self.answer(answer, outcome);
        Ok(())
    }

    /// Runs the deadlines that have come at `now`. Early calls do nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.run_timers(now);
    }

    /// The connection ended (closed by the peer, reset, or failed). A prompt
    /// is withdrawn.
    pub fn handle_close(&mut self, now: Instant) {
        self.run_timers(now);
        if !matches!(self.state, State::Done) {
            self.fail(Error::ConnectionClosed);
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
    pub fn poll_event(&mut self) -> Option<InviteeEvent> {
        self.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next, or `None`
    /// when no deadline is pending.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::AwaitingHello | State::AwaitingInvite(_) | State::CheckingInvite(..) => {
                self.handshake_deadline
            }
            State::Prompting(_) => {
                earliest([self.answer_deadline, self.keepalive_at, self.idle_deadline])
            }
            State::Done => None,
        }
    }

    // --- Internals ---

    fn run_timers(&mut self, now: Instant) {
        match self.state {
            State::AwaitingHello | State::AwaitingInvite(_) | State::CheckingInvite(..)
                if due(self.handshake_deadline, now) =>
            {
                self.fail(Error::HandshakeTimeout)
            }
            State::Prompting(_) if due(self.answer_deadline, now) => {
                self.answer(AnswerMessage::Expired, InviteeOutcome::Expired)
            }
            State::Prompting(_) if due(self.idle_deadline, now) => self.fail(Error::PeerSilent),
            State::Prompting(_) if due(self.keepalive_at, now) => self.keepalive(now),
            _ => {}
        }
    }

    /// Queues a keepalive, unless bytes are still waiting to leave, and
    /// schedules the next.
    fn keepalive(&mut self, now: Instant) {
        self.keepalive_at = Some(after(now, self.config.keepalive_interval));
        if self.outbox.pending() != 0 {
            return;
        }
        let State::Prompting(transport) = &mut self.state else {
            return;
        };
        match transport.seal_tag(self.outbox.space(), INVITEE_KEEPALIVE_TAG) {
            Ok(n) => self.outbox.commit(n),
            Err(e) => self.fail(e.into()),
        }
    }

    fn push_event(&mut self, event: InviteeEvent) {
        // At most one Prompt and one Finished are ever queued, and the queue
        // holds two, so this never drops an event.
        let _ = self.events.push_back(event);
    }

    fn finish(&mut self, outcome: InviteeOutcome) {
        self.state = State::Done;
        self.handshake_deadline = None;
        self.answer_deadline = None;
        self.keepalive_at = None;
        self.idle_deadline = None;
        self.outcome = Some(outcome);
        self.push_event(InviteeEvent::Finished(outcome));
    }

    /// Ends the session with an error; nothing more is sent.
    fn fail(&mut self, error: Error) {
        self.outbox.clear();
        self.finish(InviteeOutcome::Failed(error));
    }

    /// Seals and queues an answer, then ends the session with `outcome`.
    fn answer(&mut self, answer: AnswerMessage<'_>, outcome: InviteeOutcome) {
        let mut transport = match core::mem::replace(&mut self.state, State::Done) {
            State::AwaitingInvite(t) | State::CheckingInvite(t, _) | State::Prompting(t) => t,
            _ => return self.fail(Error::InvalidState),
        };
        let space = self.outbox.space();
        let sealed = space
            .get_mut(HEADER_LEN..)
            .and_then(|text| payload::encode(&answer, text))
            .ok_or(ProtocolError::FieldTooLong)
            .and_then(|n| transport.seal_frame(space, n));
        match sealed {
            Ok(n) => {
                self.outbox.commit(n);
                self.finish(outcome);
            }
            Err(e) => self.fail(e.into()),
        }
    }

    /// Refuses an Invite whose frame had this length field as too large.
    fn refuse_too_large(&mut self, invite_len: usize) {
        let invite_len = u32::try_from(invite_len).unwrap_or(u32::MAX);
        self.answer(
            AnswerMessage::TooLarge { invite_len },
            InviteeOutcome::Refused(Refusal::TooLarge),
        )
    }

    /// Sends a clear refusal (before the handshake) and ends the session.
    fn refuse_in_clear(&mut self, reason: Refusal, outcome: InviteeOutcome) {
        let frame = refusal_frame(reason);
        let space = self.outbox.space();
        if let Some(dst) = space.get_mut(..frame.len()) {
            dst.copy_from_slice(&frame);
            self.outbox.commit(frame.len());
        }
        self.finish(outcome);
    }

    /// Processes the frame in the inbox, if complete. Out of line, as is
    /// [`check_invite`](Self::check_invite): `handle_input`'s own frame
    /// stays small, so the signature check runs on a shallow stack.
    #[inline(never)]
    fn process_frame<D: Directory + ?Sized>(&mut self, now: Instant, directory: &D) {
        let Some(frame) = self.inbox.frame() else {
            return;
        };
        let (kind, body) = match frame {
            Ok(f) => f,
            Err(e) => return self.fail(e.into()),
        };
        match core::mem::replace(&mut self.state, State::Done) {
            State::AwaitingHello => {
                if kind != FrameKind::Hello {
                    return self.fail(ProtocolError::UnexpectedFrame.into());
                }
                // A later version's Hello may be longer than this one's;
                // its version byte is all that is read of it then.
                let Some((&version, noise)) = body.split_first() else {
                    return self.fail(ProtocolError::Malformed.into());
                };
                if version != PROTOCOL_VERSION {
                    return self.refuse_in_clear(
                        Refusal::UnsupportedVersion,
                        InviteeOutcome::Failed(Error::UnsupportedVersion { peer: version }),
                    );
                }
                let handshake = match ResponderHandshake::read_hello(version, noise) {
                    Ok(h) => h,
                    Err(e) => return self.fail(e.into()),
                };
                self.inbox.clear_frame();
                if directory.policy() == Policy::Off {
                    // Refused before any expensive work, in clear: the
                    // inviter is told this refusal is unauthenticated.
                    return self.refuse_in_clear(
                        Refusal::InvitationsOff,
                        InviteeOutcome::Refused(Refusal::InvitationsOff),
                    );
                }
                self.write_proof(handshake);
            }
            State::AwaitingInvite(mut transport) => {
                if kind != FrameKind::Sealed {
                    return self.fail(ProtocolError::UnexpectedFrame.into());
                }
                let invite_len = body.len() + 1;
                let opened = transport.open(body).and_then(|len| {
                    let plaintext = body.get(..len).ok_or(ProtocolError::Malformed)?;
                    decode_invite(plaintext, max_data_for(BUF), len, invite_len)
                });
                match opened {
                    Ok(invite) => self.state = State::CheckingInvite(transport, invite),
                    Err(e) => self.fail(e.into()),
                }
            }
            State::Prompting(mut transport) => {
                if kind != FrameKind::Sealed {
                    return self.fail(ProtocolError::UnexpectedFrame.into());
                }
                let opened = transport.open(body).and_then(|len| {
                    let plaintext = body.get(..len).ok_or(ProtocolError::Malformed)?;
                    match payload::decode::<InviterMessage<'_>>(plaintext)? {
                        InviterMessage::Cancel => Ok(true),
                        InviterMessage::Keepalive => Ok(false),
                        InviterMessage::Invite(_) => Err(ProtocolError::UnexpectedFrame),
                    }
                });
                self.inbox.clear_frame();
                self.state = State::Prompting(transport);
                match opened {
                    Ok(true) => self.answer(AnswerMessage::Cancelled, InviteeOutcome::Cancelled),
                    Ok(false) => self.idle_deadline = Some(after(now, self.config.idle_timeout)),
                    Err(e) => self.fail(e.into()),
                }
            }
            State::CheckingInvite(..) | State::Done => {}
        }
    }

    /// Checks the signature of the Invite just decoded; then
    /// [`admit`](Self::admit).
    #[inline(never)]
    fn check_invite<D: Directory + ?Sized>(&mut self, now: Instant, directory: &D) {
        let State::CheckingInvite(transport, invite) = &self.state else {
            return;
        };
        if !invite.signature_ok(&transport.hash) {
            return self.fail(ProtocolError::BadSignature.into());
        }
        self.admit(now, directory);
    }

    /// An authenticated Invite: the policy refuses it, or the prompt goes
    /// up.
    #[inline(never)]
    fn admit<D: Directory + ?Sized>(&mut self, now: Instant, directory: &D) {
        let State::CheckingInvite(transport, invite) =
            core::mem::replace(&mut self.state, State::Done)
        else {
            return;
        };
        self.state = State::AwaitingInvite(transport);
        let permission = directory.permission(&invite.inviter);
        self.inviter = Some((invite.inviter, permission == Some(Permission::Allowed)));
        let refusal = policy_refusal(directory, permission, &invite.application, invite.too_large);
        if let Some(reason) = refusal {
            self.inbox.clear_frame();
            if reason == Refusal::TooLarge {
                return self.refuse_too_large(invite.invite_len);
            }
            return self.answer(
                AnswerMessage::Refused(reason),
                InviteeOutcome::Refused(reason),
            );
        }
        self.invitation = Some(self.inbox.retain_body(invite.len));
        if let State::AwaitingInvite(t) = core::mem::replace(&mut self.state, State::Done) {
            self.state = State::Prompting(t);
        }
        self.handshake_deadline = None;
        let deadline = after(now, self.config.response_timeout);
        self.answer_deadline = Some(deadline);
        self.keepalive_at = Some(after(now, self.config.keepalive_interval));
        self.idle_deadline = Some(after(now, self.config.idle_timeout));
        self.push_event(InviteeEvent::Prompt(Prompt {
            inviter: invite.inviter,
            is_contact: permission == Some(Permission::Allowed),
            application: invite.application,
            deadline,
        }));
    }

    fn write_proof(&mut self, handshake: ResponderHandshake) {
        let (Some(ephemeral), Some(identity)) = (self.ephemeral.take(), &self.identity) else {
            return self.fail(Error::InvalidState);
        };
        let space = self.outbox.space();
        let written = space
            .get_mut(HEADER_LEN..)
            .ok_or(ProtocolError::Malformed)
            .and_then(|body| handshake.write_proof(identity, &ephemeral, body))
            .and_then(|transport| {
                write_header(space, FrameKind::Proof, PROOF_BODY_LEN)
                    .ok_or(ProtocolError::Malformed)
                    .map(|()| transport)
            });
        match written {
            Ok(transport) => {
                self.outbox.commit(HEADER_LEN + PROOF_BODY_LEN);
                self.state = State::AwaitingInvite(transport);
            }
            Err(e) => self.fail(e.into()),
        }
    }
}

/// A decrypted Invite whose signature is still to be checked.
#[derive(Clone)]
struct PendingInvite {
    inviter: PublicKey,
    signature: [u8; 64],
    application: ApplicationId,
    /// Within the protocol's 16 KiB, but over this build's data limit.
    too_large: bool,
    /// The plaintext's length, at the start of the frame's body.
    len: usize,
    /// The frame's length field.
    invite_len: usize,
}

impl PendingInvite {
    /// Whether the inviter's signature over `INVITER_LABEL || h_final`
    /// verifies under its key (`verify_strict`). Out of line, on a small
    /// frame: this is the deepest call of an exchange.
    #[inline(never)]
    fn signature_ok(&self, hash: &HandshakeHash) -> bool {
        let signed = signed_message(INVITER_LABEL, hash);
        self.inviter.verify(&signed, &self.signature)
    }
}

/// Decodes an Invite's plaintext and checks the protocol's limits and the
/// inviter's key; the signature is checked next
/// ([`PendingInvite::signature_ok`]). Data within the protocol's limit but
/// over this build's is not an error here: it is refused with
/// [`Refusal::TooLarge`], as a frame too large to buffer is.
fn decode_invite(
    plaintext: &[u8],
    max_data: usize,
    len: usize,
    invite_len: usize,
) -> Result<PendingInvite, ProtocolError> {
    let invite = match payload::decode::<InviterMessage<'_>>(plaintext)? {
        InviterMessage::Invite(invite) => invite,
        InviterMessage::Cancel | InviterMessage::Keepalive => {
            return Err(ProtocolError::UnexpectedFrame)
        }
    };
    payload::check_wire_message(invite.head.message)?;
    let data_len = invite.head.data.0.len();
    if data_len > MAX_DATA_LEN {
        return Err(ProtocolError::FieldTooLong);
    }
    let inviter = PublicKey::from_bytes(&invite.proof.key).map_err(|_| ProtocolError::BadKey)?;
    Ok(PendingInvite {
        inviter,
        signature: invite.proof.signature.0,
        application: ApplicationId::from_bytes(invite.head.application),
        too_large: data_len > max_data,
        len,
        invite_len,
    })
}

/// The policy's verdict on an authenticated inviter, in this order:
/// invitations off, blocked, not trusted, too large for this device,
/// application not registered. The application is checked last so that a
/// stranger learns nothing about which applications are registered.
fn policy_refusal<D: Directory + ?Sized>(
    directory: &D,
    permission: Option<Permission>,
    application: &ApplicationId,
    too_large: bool,
) -> Option<Refusal> {
    match (directory.policy(), permission) {
        (Policy::Off, _) => Some(Refusal::InvitationsOff),
        (_, Some(Permission::Blocked)) => Some(Refusal::Blocked),
        (Policy::TrustedOnly, None) => Some(Refusal::NotTrusted),
        _ if too_large => Some(Refusal::TooLarge),
        _ if !directory.is_registered(application) => Some(Refusal::ApplicationNotRegistered),
        _ => None,
    }
}

/// The clear Refusal frame for `reason`: header, this build's version, the
/// reason's tag.
pub fn refusal_frame(reason: Refusal) -> [u8; HEADER_LEN + REFUSAL_BODY_LEN] {
    let mut frame = [0u8; HEADER_LEN + REFUSAL_BODY_LEN];
    let _ = write_header(&mut frame, FrameKind::Refusal, REFUSAL_BODY_LEN);
    let mut tag = [0u8; 1];
    // Every refusal is a unit variant with a tag below 128: one byte.
    let _ = payload::encode(&reason, &mut tag);
    if let Some(body) = frame.get_mut(HEADER_LEN..) {
        body.copy_from_slice(&[PROTOCOL_VERSION, tag[0]]);
    }
    frame
}
