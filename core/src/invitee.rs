//! The invitee: answers one connection's invitation, asking its directory
//! and its user.

use core::ops::Range;

use embassy_time::Instant;

use crate::channel::{Channel, Ending};
use crate::config::Config;
use crate::directory::{Directory, Policy};
use crate::error::{Error, ProtocolError, Refusal, SessionError};
use crate::handshake::{
    noise::HandshakeHash, signed_message, EphemeralSecret, ResponderHandshake, INVITER_LABEL,
};
use crate::identity::{Identity, PublicKey};
use crate::invitation::{ApplicationId, Decision, Invitation};
use crate::limits::{MAX_DATA_LEN, PROTOCOL_VERSION};
use crate::machine::Machine;
use crate::timers::Timer;
use crate::wire::buffer::{FrameError, Inbox, Outbox};
use crate::wire::frame::{
    invite_frame_len, max_data_for, write_header, FrameKind, CANCEL_FRAME_LEN, HEADER_LEN,
    HELLO_FRAME_MAX, KEEPALIVE_FRAME_LEN, PROOF_BODY_LEN, SMALL_FRAME_MAX,
};
use crate::wire::payload::{
    self, AnswerMessage, Invite, InviterMessage, SealedRefusal, INVITEE_KEEPALIVE_TAG,
};
use crate::wire::{refusal_frame, ClearRefusal, DEFAULT_BUFFER};

/// The invitee's outbox: the largest frame it sends, behind a keepalive
/// that may still be waiting to leave.
const OUTBOX_LEN: usize = SMALL_FRAME_MAX + KEEPALIVE_FRAME_LEN;

/// An invitation to show the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Launch {
    /// The inviter's proven key.
    pub inviter: PublicKey,
    /// Whether the inviter is a contact.
    pub is_contact: bool,
    /// The application to launch.
    pub application: ApplicationId,
}

/// How an invitee's session ended.
///
/// Exhaustive on purpose, as [`SessionError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InviteeOutcome {
    /// The user accepted: launch the application.
    Accepted(Launch),
    /// The user declined.
    Declined,
    /// The user's side answered with an error code.
    Error {
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
    /// The listener made room for a newer connection
    /// ([`Invitee::evict`]). `busy_sent` says whether the inviter was told
    /// Busy (in clear, or sealed when a prompt was up) or the connection
    /// was just closed.
    Evicted {
        /// Whether a Busy refusal went out.
        busy_sent: bool,
    },
    /// The session failed; any prompt is withdrawn.
    Failed(SessionError),
}

impl Ending for InviteeOutcome {
    type Event = InviteeEvent;
    fn event(self) -> InviteeEvent {
        InviteeEvent::Finished(self)
    }
}

/// What the invitee tells the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InviteeEvent {
    /// Ask the user: accept or decline, before the deadline.
    Prompt(Prompt),
    /// The session is over. Always the last event, exactly once.
    Finished(InviteeOutcome),
}

enum State {
    AwaitingHello,
    AwaitingInvite,
    /// An Invite decrypted and decoded, its signature about to be checked
    /// (within the same `handle_input`); the frame stays in the inbox.
    CheckingInvite(PendingInvite),
    Prompting,
    Done,
}

/// What an invitee's session holds besides its buffers and its channel,
/// built in one place ([`Session::new`]) so that a restart forgets nothing.
struct Session {
    /// `None` only in an [`idle`](Invitee::idle) machine.
    identity: Option<Identity>,
    /// Used once, for the Proof, then dropped (and so zeroized).
    ephemeral: Option<EphemeralSecret>,
    state: State,
    invitation: Option<Range<usize>>,
    inviter: Option<(PublicKey, bool)>,
}

impl Session {
    const fn idle() -> Self {
        Session {
            identity: None,
            ephemeral: None,
            state: State::Done,
            invitation: None,
            inviter: None,
        }
    }

    fn new(identity: &Identity, ephemeral: EphemeralSecret) -> Self {
        Session {
            identity: Some(identity.clone()),
            ephemeral: Some(ephemeral),
            state: State::AwaitingHello,
            ..Session::idle()
        }
    }
}

/// The invitee's state machine: one connection, at most one invitation.
///
/// It is driven through [`Machine`], whose `Context` is the [`Directory`]
/// it consults as each message arrives, plus
/// [`handle_decision`](Self::handle_decision) for the user's answer and
/// [`evict`](Self::evict) to make room. **Getters**:
/// [`invitation`](Self::invitation), [`inviter`](Self::inviter),
/// [`outcome`](Self::outcome), [`is_prompting`](Self::is_prompting).
pub struct Invitee<const BUF: usize = DEFAULT_BUFFER> {
    inbox: Inbox<BUF>,
    outbox: Outbox<OUTBOX_LEN>,
    chan: Channel<InviteeOutcome>,
    session: Session,
}

impl Invitee {
    /// Starts serving one incoming connection at `now`, with the default
    /// buffer (16 KiB of data); [`new_sized`](Self::new_sized) for
    /// another. `ephemeral` must be fresh randomness
    /// ([`EphemeralSecret::generate`]). Fails with `InvalidArgument` when
    /// the config is invalid ([`Config::validate`]).
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
        Self::new_sized(config, identity, ephemeral, now)
    }
}

impl<const BUF: usize> Invitee<BUF> {
    const BUFFER_FITS: () = assert!(
        BUF >= crate::wire::buffer_size(0),
        "BUF is smaller than buffer_size(0): no invitation fits"
    );

    /// [`new`](Invitee::new) with a buffer of `BUF` bytes.
    pub fn new_sized(
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
            inbox: Inbox::new(),
            outbox: Outbox::new(),
            chan: Channel::idle(),
            session: Session::idle(),
        }
    }

    /// Starts serving a new connection in this machine, in place, as
    /// [`new`](Invitee::new) does, whatever it held before (a session still
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
        self.inbox.reset();
        self.outbox.reset();
        self.chan = Channel::new(config, now);
        self.session = Session::new(identity, ephemeral);
        Ok(())
    }

    // --- Getters ---

    /// The invitation, once it has arrived and passed the policy (it stays
    /// readable after the session ends, for the launch).
    pub fn invitation(&self) -> Option<Invitation<'_>> {
        let range = self.session.invitation.clone()?;
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
        self.session.inviter.map(|(key, _)| key)
    }

    /// How the session ended, once it has.
    pub fn outcome(&self) -> Option<InviteeOutcome> {
        self.chan.outcome()
    }

    /// Whether a prompt is up, waiting for the user.
    pub fn is_prompting(&self) -> bool {
        matches!(self.session.state, State::Prompting)
    }

    // --- Inputs of this role ---

    /// The user's decision on the prompt. Fails, changing nothing, with
    /// `Expired` at or after the deadline (the prompt has then expired and
    /// Expired was sent); with `Cancelled` after the inviter cancelled;
    /// and with `InvalidState` when no prompt is up.
    pub fn handle_decision(&mut self, now: Instant, decision: Decision<'_>) -> Result<(), Error> {
        self.run_timers(now);
        if !self.is_prompting() {
            return Err(match self.outcome() {
                Some(InviteeOutcome::Expired) => Error::Expired,
                Some(InviteeOutcome::Cancelled) => Error::Cancelled,
                _ => Error::InvalidState,
            });
        }
        let (answer, outcome) = match decision {
            Decision::Accept { message } => {
                let (inviter, is_contact) = self.session.inviter.ok_or(Error::InvalidState)?;
                let application = self
                    .invitation()
                    .map(|i| i.application())
                    .ok_or(Error::InvalidState)?;
                (
                    AnswerMessage::Accepted {
                        message: message.as_str(),
                    },
                    InviteeOutcome::Accepted(Launch {
                        inviter,
                        is_contact,
                        application,
                    }),
                )
            }
            Decision::Decline { message } => (
                AnswerMessage::Declined {
                    message: message.as_str(),
                },
                InviteeOutcome::Declined,
            ),
            Decision::Error { code, message } => (
                AnswerMessage::Error {
                    code,
                    message: message.as_str(),
                },
                InviteeOutcome::Error { code },
            ),
            Decision::Busy => (
                AnswerMessage::Refused(SealedRefusal::Busy),
                InviteeOutcome::Refused(Refusal::Busy),
            ),
        };
        self.answer(answer, outcome);
        Ok(())
    }

    /// Ends this session to make room for a newer connection (a listener
    /// at its limit of handshakes), telling the inviter as much as the
    /// protocol allows: while nothing has been transmitted yet, a clear
    /// Busy goes out in place of the Proof (the one place a clear refusal
    /// may stand, `docs/protocol.md` §9.2); once the Proof is out, the
    /// connection is just closed, as at the handshake timeout; with a
    /// prompt up, a sealed Busy is the answer. The outcome is
    /// [`InviteeOutcome::Evicted`]. Does nothing to a session that is
    /// over.
    pub fn evict(&mut self, now: Instant) {
        self.run_timers(now);
        match self.session.state {
            State::Done => {}
            State::Prompting => self.answer(
                AnswerMessage::Refused(SealedRefusal::Busy),
                InviteeOutcome::Evicted { busy_sent: true },
            ),
            _ if self.outbox.transmitted() == 0 => {
                // The Proof, if queued, never left: the clear Busy replaces it.
                self.outbox.clear();
                self.refuse_in_clear(
                    ClearRefusal::Busy,
                    InviteeOutcome::Evicted { busy_sent: true },
                );
            }
            _ => self.fail_with(InviteeOutcome::Evicted { busy_sent: false }),
        }
    }

    // --- Internals ---

    /// Takes bytes read from the connection, consulting `directory` for the
    /// policy as each message arrives.
    #[inline(never)]
    fn input(&mut self, now: Instant, data: &[u8], directory: &dyn Directory) {
        self.run_timers(now);
        let mut rest = data;
        while !rest.is_empty() {
            let max = match self.session.state {
                State::AwaitingHello => HELLO_FRAME_MAX,
                State::AwaitingInvite | State::CheckingInvite(_) => {
                    invite_frame_len(max_data_for(BUF))
                }
                State::Prompting => CANCEL_FRAME_LEN,
                State::Done => return,
            };
            match self.inbox.read(rest, max) {
                // Zero means a complete frame was left unprocessed, which
                // `process_frame` never does; stop rather than spin.
                Ok(0) => return,
                Ok(n) => rest = rest.get(n..).unwrap_or(&[]),
                Err(FrameError::TooLarge)
                    if matches!(self.session.state, State::AwaitingInvite) =>
                {
                    // An invitation bigger than this device takes: say so,
                    // inside the channel, without reading it, naming the
                    // length seen so that a tampered length is detected.
                    let invite_len = self.inbox.announced_len().unwrap_or(0);
                    return self.refuse_too_large(invite_len);
                }
                Err(e) => return self.fail(ProtocolError::from(e).into()),
            }
            self.process_frame(now, directory);
            if matches!(self.session.state, State::CheckingInvite(_)) {
                self.check_invite(now, directory);
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
            Timer::Answer => self.answer(AnswerMessage::Expired, InviteeOutcome::Expired),
            Timer::Idle => self.fail(SessionError::PeerSilent),
            Timer::Keepalive => {
                if let Err(e) = self
                    .chan
                    .keepalive(now, &mut self.outbox, INVITEE_KEEPALIVE_TAG)
                {
                    self.fail(e)
                }
            }
        }
    }

    fn finish(&mut self, outcome: InviteeOutcome) {
        self.session.state = State::Done;
        self.chan.finish(outcome);
    }

    /// Ends the session with an error; nothing more is sent.
    fn fail(&mut self, error: SessionError) {
        self.fail_with(InviteeOutcome::Failed(error));
    }

    /// Ends the session with `outcome`; nothing more is sent.
    fn fail_with(&mut self, outcome: InviteeOutcome) {
        self.session.state = State::Done;
        self.chan.fail(&mut self.outbox, outcome);
    }

    /// Seals and queues an answer, then ends the session with `outcome`.
    fn answer(&mut self, answer: AnswerMessage<'_>, outcome: InviteeOutcome) {
        match self.chan.seal(&mut self.outbox, &answer) {
            Ok(()) => self.finish(outcome),
            Err(e) => self.fail(e),
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
    fn refuse_in_clear(&mut self, reason: ClearRefusal, outcome: InviteeOutcome) {
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
    fn process_frame(&mut self, now: Instant, directory: &dyn Directory) {
        let Some(frame) = self.inbox.frame() else {
            return;
        };
        let (kind, body) = match frame {
            Ok(f) => f,
            Err(e) => return self.fail(e.into()),
        };
        match core::mem::replace(&mut self.session.state, State::Done) {
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
                        ClearRefusal::UnsupportedVersion,
                        InviteeOutcome::Failed(SessionError::UnsupportedVersion { peer: version }),
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
                        ClearRefusal::InvitationsOff,
                        InviteeOutcome::Refused(Refusal::InvitationsOff),
                    );
                }
                self.write_proof(handshake);
            }
            State::AwaitingInvite => {
                let invite_len = body.len() + 1;
                let opened = self.chan.open(kind, body).and_then(|plaintext| {
                    let len = plaintext.len();
                    Ok(decode_invite(
                        plaintext,
                        max_data_for(BUF),
                        len,
                        invite_len,
                    )?)
                });
                match opened {
                    Ok(invite) => self.session.state = State::CheckingInvite(invite),
                    Err(e) => self.fail(e),
                }
            }
            State::Prompting => {
                let opened =
                    self.chan.open(kind, body).and_then(|plaintext| {
                        match payload::decode::<InviterMessage<'_>>(plaintext)? {
                            InviterMessage::Cancel => Ok(true),
                            InviterMessage::Keepalive => Ok(false),
                            InviterMessage::Invite(_) => Err(ProtocolError::UnexpectedFrame.into()),
                        }
                    });
                self.inbox.clear_frame();
                self.session.state = State::Prompting;
                match opened {
                    Ok(true) => self.answer(AnswerMessage::Cancelled, InviteeOutcome::Cancelled),
                    Ok(false) => self.chan.heard(now),
                    Err(e) => self.fail(e),
                }
            }
            State::CheckingInvite(_) | State::Done => {}
        }
    }

    /// Checks the signature of the Invite just decoded; then
    /// [`admit`](Self::admit).
    #[inline(never)]
    fn check_invite(&mut self, now: Instant, directory: &dyn Directory) {
        let State::CheckingInvite(invite) = &self.session.state else {
            return;
        };
        let Ok(transport) = self.chan.transport() else {
            return self.fail(SessionError::Internal);
        };
        if !invite.signature_ok(&transport.hash) {
            return self.fail(ProtocolError::BadSignature.into());
        }
        self.admit(now, directory);
    }

    /// An authenticated Invite: the policy refuses it, or the prompt goes
    /// up. The directory is asked once, for every fact the verdict needs.
    #[inline(never)]
    fn admit(&mut self, now: Instant, directory: &dyn Directory) {
        let State::CheckingInvite(invite) =
            core::mem::replace(&mut self.session.state, State::AwaitingInvite)
        else {
            return;
        };
        let facts = directory.facts(&invite.inviter, &invite.application);
        let is_contact = facts.is_contact();
        self.session.inviter = Some((invite.inviter, is_contact));
        if let Some(reason) = facts.refusal(invite.too_large) {
            self.inbox.clear_frame();
            return match SealedRefusal::from_refusal(reason) {
                Some(sealed) => self.answer(
                    AnswerMessage::Refused(sealed),
                    InviteeOutcome::Refused(reason),
                ),
                None => self.refuse_too_large(invite.invite_len),
            };
        }
        self.session.invitation = Some(self.inbox.retain_body(invite.len));
        self.session.state = State::Prompting;
        let deadline = crate::timers::after(now, self.chan.config.response_timeout);
        self.chan.pending(now);
        self.chan.timers.set(Timer::Answer, deadline);
        self.chan.push(InviteeEvent::Prompt(Prompt {
            inviter: invite.inviter,
            is_contact,
            application: invite.application,
            deadline,
        }));
    }

    fn write_proof(&mut self, handshake: ResponderHandshake) {
        let (Some(ephemeral), Some(identity)) =
            (self.session.ephemeral.take(), &self.session.identity)
        else {
            return self.fail(SessionError::Internal);
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
                self.chan.keys(transport);
                self.session.state = State::AwaitingInvite;
            }
            Err(e) => self.fail(e.into()),
        }
    }
}

impl<const BUF: usize> Machine for Invitee<BUF> {
    type Event = InviteeEvent;
    type Context = dyn Directory;

    fn handle_input(&mut self, now: Instant, data: &[u8], directory: &dyn Directory) {
        self.input(now, data, directory);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.run_timers(now);
    }

    /// The connection ended (closed by the peer, reset, or failed). A
    /// prompt is withdrawn.
    fn handle_close(&mut self, now: Instant) {
        self.run_timers(now);
        if !matches!(self.session.state, State::Done) {
            self.fail(SessionError::ConnectionClosed);
        }
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> usize {
        self.outbox.transmit(buf)
    }

    fn poll_event(&mut self) -> Option<InviteeEvent> {
        self.chan.pop()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.chan.timers.next()
    }

    fn is_finished(&self) -> bool {
        matches!(self.session.state, State::Done) && self.outbox.pending() == 0
    }
}

/// A decrypted Invite whose signature is still to be checked.
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
