//! The fuzz harness: the inputs, drivers and properties of every fuzz
//! target of the cargo-fuzz crate in `fuzz/` but `directory_file` (whose
//! harness is `adapters/desktop/tests/fuzz_harness_store/mod.rs`), in one
//! file shared by two users:
//!
//! * the cargo-fuzz crate in `fuzz/`, whose targets include this file with
//!   `#[path = "../../core/tests/fuzz_harness/mod.rs"]` and call one
//!   function each;
//! * `core/tests/fuzz_corpus.rs`, which replays the checked-in corpus
//!   (`fuzz/corpus/<target>/*`) through the very same functions on the
//!   stable toolchain, so `cargo test --workspace` runs them too.
//!
//! It uses only `beckon_core`'s public API, `embassy_time`, `arbitrary` and
//! `std`. Every target function takes the raw fuzz input, never fails, and
//! panics (an assertion) when a property does not hold:
//!
//! | function | input | what it drives |
//! |---|---|---|
//! | [`frame_decoder`] | raw bytes | both state machines' input path, chunked and whole, and every payload decoder |
//! | [`payload_roundtrip`] | raw bytes | every payload decoder: decode, re-encode, decode |
//! | [`inviter`] | [`InviterInput`] | an inviter alone; a real exchange through a hostile network; or against an adversary inside a genuine channel |
//! | [`invitee`] | [`InviteeInput`] | the same for an invitee |
//! | [`key_text`] | raw bytes | the `ssh-ed25519` line, fingerprint and UUID parsers |
//!
//! The properties, checked after every call:
//!
//! * no panic (and, in the fuzz build, no overflow: debug assertions are on);
//! * `poll_transmit` never writes more than the buffer it is given; the
//!   total a side ever transmits is within the protocol's bound, and is a
//!   sequence of well-formed frames of the kinds its role may send;
//! * `poll_event`: at most one `Finished`, nothing after it, `Verified` /
//!   `Prompt` at most once and before it; `outcome()` agrees;
//! * `poll_timeout` is `None` exactly when the session is over, and else
//!   strictly after the last call's `now` (a deadline at `now` fires in that
//!   call); while a prompt is up it is never after the prompt's deadline
//!   (keepalives and the idle timeout come sooner); driving the
//!   deadlines always ends a session;
//! * nothing of the invitation leaves the inviter before the responder is
//!   verified; a verified responder is the target contact;
//! * the decision API: `handle_decision` succeeds exactly when a prompt is
//!   up (after the deadlines at `now`) and the message fits, ends the
//!   session with the matching outcome, and otherwise fails with the
//!   documented error, changing nothing;
//! * **an answer (Accepted, Declined, Expired, Error) is never reported
//!   without a valid handshake from the expected key.** The fuzzer cannot
//!   sign, so every Proof or Invite that passes must be a replay of one an
//!   honest peer made with the harness's fixed keys: the oracles
//!   ([`check_inviter_against_honest_responder`],
//!   [`check_invitee_against_honest_inviter`]) find that honest peer and
//!   re-run it, and the frames must match it byte for byte; in the network
//!   variant the honest peer's own outcome must match. In the adversary
//!   variant (`snow` on the other end of a genuine channel, signing only as
//!   its own identity, Mallory) a key is taken exactly when the adversary
//!   made a valid signature of Mallory's (both ways: a valid Invite sealed
//!   under the right nonce, within the limits, to an invitee waiting for
//!   it, is taken, and the policy decides it), and an answer or invitation
//!   reported is exactly the plaintext it sealed;
//! * **completeness over an untouched network**: when the network variant
//!   delivered every frame whole, once and in order, let no time pass
//!   while a frame was in flight, skipped no deadline and closed nothing
//!   (see [`Interference`]), the exchange ends as the two honest sides and
//!   their users' actions call for: Bob's end decides Alice's (his answer,
//!   his refusal, his acknowledgement of her Cancel), and either fails
//!   only where Alice walked away (a contact mismatch, a cancel before the
//!   Invite left), never by a protocol error, silence or a timeout.
//!
//! Fixed keys: the machines under test use ephemerals from short fixed
//! lists, so that seeds recorded from real exchanges replay into
//! post-handshake states. The network and adversary variants use other
//! ephemerals than the recorded seeds, so no recorded frame can be replayed
//! into them.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use beckon_core::internal::frame::FrameKind;
use beckon_core::internal::frame::{
    invite_frame_len, ANSWER_FRAME_MAX, CANCEL_FRAME_LEN, HEADER_LEN, HELLO_FRAME_LEN,
    KEEPALIVE_FRAME_LEN, PROOF_FRAME_LEN, REFUSAL_FRAME_LEN,
};
use beckon_core::internal::payload::{
    self, AnswerMessage, Bytes, Invite, InviteHead, InviterMessage, InviterProof, ProofPayload,
    SealedRefusal, SignatureBytes,
};
use beckon_core::wire::{buffer_size, max_data_for, DEFAULT_BUFFER};
use beckon_core::*;
use embassy_time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The inviter under test, and the honest inviter.
pub(crate) const ALICE_SEED: [u8; 32] = [0xA1; 32];
/// The invitee under test, and the honest responder.
pub(crate) const BOB_SEED: [u8; 32] = [0xB0; 32];
/// Another honest peer: a responder that is not the target, a stranger
/// that invites.
pub(crate) const CAROL_SEED: [u8; 32] = [0xC0; 32];
/// The adversary's own identity: it can sign as Mallory, and only as her.
pub(crate) const MALLORY_SEED: [u8; 32] = [0x3A; 32];

/// Ephemerals of the machines under test in the alone variants, and of the
/// honest peers whose frames the seeds record.
pub(crate) const RECORDED_INVITER_EPHEMERALS: [[u8; 32]; 2] = [[0xE1; 32], [0xE3; 32]];
/// See [`RECORDED_INVITER_EPHEMERALS`].
pub(crate) const RECORDED_INVITEE_EPHEMERALS: [[u8; 32]; 2] = [[0xE2; 32], [0xE4; 32]];
/// Ephemerals of the adversary (`snow`): never used by an honest peer.
pub(crate) const ADVERSARY_EPHEMERALS: [[u8; 32]; 2] = [[0xAD; 32], [0xAE; 32]];
/// Ephemerals of the network variant: never used to record a seed.
pub(crate) const NETWORK_INVITER_EPHEMERALS: [[u8; 32]; 2] = [[0x51; 32], [0x53; 32]];
/// See [`NETWORK_INVITER_EPHEMERALS`].
pub(crate) const NETWORK_INVITEE_EPHEMERALS: [[u8; 32]; 2] = [[0x52; 32], [0x54; 32]];

/// Chess, the application of the recorded exchanges.
pub(crate) const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);
/// Another application, never registered.
pub(crate) const GO: ApplicationId = ApplicationId::from_bytes([0x60; 16]);

/// When every session starts.
pub(crate) const T0: Instant = Instant::from_secs(1_000);

/// The small buffer size the targets also try: 64 bytes of data.
pub(crate) const SMALL: usize = buffer_size(64);
/// The default buffer size.
pub(crate) const LARGE: usize = DEFAULT_BUFFER;

/// The buffer a full drain polls with.
const POLL_BUF: usize = 1500;

pub(crate) struct Keys {
    pub(crate) alice: Identity,
    pub(crate) bob: Identity,
    pub(crate) carol: Identity,
    pub(crate) alice_pk: PublicKey,
    pub(crate) bob_pk: PublicKey,
    pub(crate) carol_pk: PublicKey,
    pub(crate) mallory_pk: PublicKey,
    pub(crate) mallory_signer: ed25519_dalek::SigningKey,
}

pub(crate) fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let alice = Identity::from_seed(&ALICE_SEED);
        let bob = Identity::from_seed(&BOB_SEED);
        let carol = Identity::from_seed(&CAROL_SEED);
        Keys {
            alice_pk: alice.public_key(),
            bob_pk: bob.public_key(),
            carol_pk: carol.public_key(),
            mallory_pk: Identity::from_seed(&MALLORY_SEED).public_key(),
            mallory_signer: ed25519_dalek::SigningKey::from_bytes(&MALLORY_SEED),
            alice,
            bob,
            carol,
        }
    })
}

fn pick(list: &[[u8; 32]; 2], index: u8) -> [u8; 32] {
    list[usize::from(index) % list.len()]
}

fn ephemeral(list: &[[u8; 32]; 2], index: u8) -> EphemeralSecret {
    EphemeralSecret::from_bytes(pick(list, index))
}

// ---------------------------------------------------------------------------
// Input types
// ---------------------------------------------------------------------------

/// Bytes: a 2-byte little-endian length, then that many bytes (fewer if
/// the input ends). Simpler for the mutator than `Vec<u8>`'s encoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Chunk(pub(crate) Vec<u8>);

impl<'a> Arbitrary<'a> for Chunk {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let len = usize::from(u16::arbitrary(u)?);
        let n = len.min(u.len());
        Ok(Chunk(u.bytes(n)?.to_vec()))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, None)
    }
}

/// Text: a [`Chunk`], read as UTF-8 with replacement characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Text(pub(crate) String);

impl<'a> Arbitrary<'a> for Text {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        let Chunk(bytes) = Chunk::arbitrary(u)?;
        Ok(Text(String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (2, None)
    }
}

/// When a call happens, relative to the last one or to the next deadline.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum When {
    /// At the same instant as the last call.
    Now,
    /// Some milliseconds later.
    Millis(u16),
    /// Some seconds later.
    Secs(u16),
    /// Exactly at the next deadline (`poll_timeout`).
    Deadline,
    /// One tick before it.
    JustBefore,
    /// One tick after it.
    JustAfter,
    /// Some milliseconds earlier: time going backwards.
    Back(u16),
    /// Any instant at all.
    Ticks(u64),
}

/// The harness's clock: the instant of the last call.
pub(crate) struct Clock {
    pub(crate) now: Instant,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Clock { now: T0 }
    }

    /// Moves to `when`; `deadline` is the next deadline of the machine(s).
    pub(crate) fn at(&mut self, when: When, deadline: Option<Instant>) -> Instant {
        let tick = Duration::from_ticks(1);
        self.now = match when {
            When::Now => self.now,
            When::Millis(ms) => later(self.now, Duration::from_millis(ms.into())),
            When::Secs(s) => later(self.now, Duration::from_secs(s.into())),
            When::Deadline => deadline.unwrap_or(self.now),
            When::JustBefore => deadline
                .and_then(|d| d.checked_sub(tick))
                .unwrap_or(self.now),
            When::JustAfter => deadline.map_or(self.now, |d| later(d, tick)),
            When::Back(ms) => self
                .now
                .checked_sub(Duration::from_millis(ms.into()))
                .unwrap_or(Instant::MIN),
            When::Ticks(t) => Instant::from_ticks(t),
        };
        self.now
    }
}

/// Whether a deadline still pending after a call at `now` is right: every
/// deadline at or before `now` fired in that call (the timeouts are never
/// zero), so it is later, or `now` is the end of time, where saturating
/// deadlines stop.
fn pending(deadline: Instant, now: Instant) -> bool {
    deadline > now || (deadline == now && now == Instant::MAX)
}

fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(Instant::MAX)
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The timers.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigSpec {
    /// 5 minutes, 30 seconds, 10 seconds; keepalives every 15 seconds, 45
    /// seconds of silence tolerated.
    Default,
    /// 2 seconds to answer, 1 second of handshake, a grace of one tick;
    /// keepalives every 500 ms, 1.5 seconds of silence tolerated.
    Short,
    /// Anything, zero included (then `new` must refuse it), except that a
    /// keepalive interval is at least a 256th of the longest wait, so that
    /// running the deadlines to the end stays cheap.
    Custom {
        response_ms: u32,
        handshake_ms: u32,
        grace_ms: u32,
        keepalive_ms: u32,
        idle_ms: u32,
    },
}

impl ConfigSpec {
    pub(crate) fn config(&self) -> Config {
        match *self {
            ConfigSpec::Default => Config::default(),
            ConfigSpec::Short => Config {
                response_timeout: Duration::from_secs(2),
                handshake_timeout: Duration::from_secs(1),
                grace: Duration::from_ticks(1),
                keepalive_interval: Duration::from_millis(500),
                idle_timeout: Duration::from_millis(1500),
            },
            ConfigSpec::Custom {
                response_ms,
                handshake_ms,
                grace_ms,
                keepalive_ms,
                idle_ms,
            } => Config {
                response_timeout: Duration::from_millis(response_ms.into()),
                handshake_timeout: Duration::from_millis(handshake_ms.into()),
                grace: Duration::from_millis(grace_ms.into()),
                keepalive_interval: Duration::from_millis(if keepalive_ms == 0 {
                    0
                } else {
                    let longest =
                        u64::from(response_ms) + u64::from(grace_ms) + u64::from(handshake_ms);
                    u64::from(keepalive_ms).max(longest / 256)
                }),
                idle_timeout: Duration::from_millis(idle_ms.into()),
            },
        }
    }
}

/// How many rounds of "run the next deadline" must end any session: a few
/// for the handshake, answer and grace deadlines, plus a keepalive per
/// interval and side (`ConfigSpec` bounds how many there can be).
fn deadline_rounds(config: &Config) -> usize {
    let waits = config.handshake_timeout + config.response_timeout + config.grace;
    let keepalives = waits.as_ticks() / config.keepalive_interval.as_ticks().max(1);
    8 + 2 * usize::try_from(keepalives.min(1024)).unwrap_or(1024)
}

/// What `new` must say of a config: no timeout may be zero, and the idle
/// timeout must be longer than the keepalive interval.
fn config_error(config: &Config) -> Option<Error> {
    (config.response_timeout.as_ticks() == 0
        || config.handshake_timeout.as_ticks() == 0
        || config.grace.as_ticks() == 0
        || config.keepalive_interval.as_ticks() == 0
        || config.idle_timeout <= config.keepalive_interval)
        .then_some(Error::InvalidArgument(ArgumentError::OutOfRange))
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicySpec {
    Off,
    TrustedOnly,
    Anyone,
}

/// A peer in Bob's directory.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContactSpec {
    Absent,
    Allowed,
    Blocked,
}

/// The invitee's directory.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DirSpec {
    pub(crate) policy: PolicySpec,
    pub(crate) alice: ContactSpec,
    pub(crate) mallory: ContactSpec,
    pub(crate) chess: bool,
}

pub(crate) type Dir = FixedDirectory<2, 2>;

impl DirSpec {
    /// Bob's usual directory: trusted only, Alice a contact, chess
    /// registered.
    pub(crate) const USUAL: DirSpec = DirSpec {
        policy: PolicySpec::TrustedOnly,
        alice: ContactSpec::Allowed,
        mallory: ContactSpec::Absent,
        chess: true,
    };

    pub(crate) fn build(&self) -> Dir {
        let mut dir = Dir::new(match self.policy {
            PolicySpec::Off => Policy::Off,
            PolicySpec::TrustedOnly => Policy::TrustedOnly,
            PolicySpec::Anyone => Policy::Anyone,
        });
        let k = keys();
        for (key, name, spec) in [
            (k.alice_pk, "alice", self.alice),
            (k.mallory_pk, "mallory", self.mallory),
        ] {
            let permission = match spec {
                ContactSpec::Absent => continue,
                ContactSpec::Allowed => Permission::Allowed,
                ContactSpec::Blocked => Permission::Blocked,
            };
            let contact = Contact::new(key, name, name)
                .expect("a valid contact")
                .with_permission(permission);
            dir.add_contact(contact).expect("room for the contact");
        }
        if self.chess {
            dir.register(CHESS, "Chess").expect("room for chess");
        }
        dir
    }
}

/// What the invitee's policy must answer to an authenticated Invite
/// (`docs/protocol.md`: off, blocked, not trusted, too large, not
/// registered, in this order), or `None` for a prompt.
fn expected_verdict<D: Directory>(
    dir: &D,
    inviter: &PublicKey,
    application: &ApplicationId,
    too_large: bool,
) -> Option<Refusal> {
    // The oracle's own reading of the facts, in the spec's order (not the
    // core's `Facts::refusal`).
    let facts = dir.facts(inviter, application);
    let permission = facts.permission;
    match (facts.policy, permission) {
        (Policy::Off, _) => Some(Refusal::InvitationsOff),
        (_, Some(Permission::Blocked)) => Some(Refusal::Blocked),
        (Policy::TrustedOnly, None) => Some(Refusal::NotTrusted),
        _ if too_large => Some(Refusal::TooLarge),
        _ if !facts.registered => Some(Refusal::ApplicationNotRegistered),
        _ => None,
    }
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum DecisionSpec {
    Accept(Text),
    Decline(Text),
    Fail(u32, Text),
    Busy,
}

impl DecisionSpec {
    /// The decision, or the error of a message over 255 characters, which
    /// no `Decision` can hold.
    pub(crate) fn decision(&self) -> Result<Decision<'_>, Error> {
        match self {
            DecisionSpec::Accept(m) => Decision::accept(&m.0),
            DecisionSpec::Decline(m) => Decision::decline(&m.0),
            DecisionSpec::Fail(code, m) => Decision::error(*code, &m.0),
            DecisionSpec::Busy => Ok(Decision::Busy),
        }
    }

    fn message(&self) -> &str {
        match self {
            DecisionSpec::Accept(m) | DecisionSpec::Decline(m) | DecisionSpec::Fail(_, m) => &m.0,
            DecisionSpec::Busy => "",
        }
    }
}

/// Whom the inviter invites.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetSpec {
    /// Bob, who is the responder: the right contact.
    Bob,
    /// Carol, who is not: `ContactMismatch`.
    Carol,
    /// Whoever answers.
    AnyEndpoint,
    /// Mallory, whose key the adversary holds.
    Mallory,
}

impl TargetSpec {
    pub(crate) fn target(&self) -> Target {
        match self {
            TargetSpec::Bob => Target::Contact(keys().bob_pk),
            TargetSpec::Carol => Target::Contact(keys().carol_pk),
            TargetSpec::AnyEndpoint => Target::AnyEndpoint,
            TargetSpec::Mallory => Target::Contact(keys().mallory_pk),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AppSpec {
    Chess,
    Go,
    Raw([u8; 16]),
}

impl AppSpec {
    pub(crate) fn id(&self) -> ApplicationId {
        match self {
            AppSpec::Chess => CHESS,
            AppSpec::Go => GO,
            AppSpec::Raw(b) => ApplicationId::from_bytes(*b),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum DataSpec {
    Bytes(Chunk),
    /// This many zero bytes (over the small buffer's limit, or the
    /// protocol's, without a big input).
    Zeros(u16),
}

impl DataSpec {
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match self {
            DataSpec::Bytes(c) => c.0.clone(),
            DataSpec::Zeros(n) => vec![0; usize::from(*n)],
        }
    }
}

#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvitationSpec {
    pub(crate) app: AppSpec,
    pub(crate) message: Text,
    pub(crate) data: DataSpec,
}

impl InvitationSpec {
    /// The recorded exchanges' invitation.
    pub(crate) fn chess() -> Self {
        InvitationSpec {
            app: AppSpec::Chess,
            message: Text("A game?".into()),
            data: DataSpec::Bytes(Chunk(b"board=standard".to_vec())),
        }
    }

    pub(crate) fn data(&self) -> Vec<u8> {
        self.data.bytes()
    }

    /// The invitation, or `None` after checking that `Invitation::new`
    /// refused it for the documented reason.
    fn make<'a>(&'a self, data: &'a [u8]) -> Option<Invitation<'a>> {
        let message = self.message.0.as_str();
        let expected = if message.chars().count() > 255 {
            Some(Error::InvalidArgument(ArgumentError::TooLong))
        } else if data.len() > beckon_core::limits::MAX_DATA_LEN {
            Some(Error::InvalidArgument(ArgumentError::DataTooLong {
                max: beckon_core::limits::MAX_DATA_LEN,
            }))
        } else {
            None
        };
        let made = Invitation::new(self.app.id(), message, data);
        assert_eq!(made.err(), expected, "Invitation::new");
        made.ok()
    }
}

/// One call into a lone inviter.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum InviterOp {
    Input(When, Chunk),
    Timeout(When),
    Cancel(When),
    Close(When),
    /// One `poll_transmit` with a buffer of this size (in lazy mode the
    /// harness transmits only when told to).
    Transmit(u16),
}

/// An inviter (Alice) alone, fed by the fuzzer.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct InviterScript {
    pub(crate) small: bool,
    pub(crate) config: ConfigSpec,
    pub(crate) target: TargetSpec,
    pub(crate) invitation: InvitationSpec,
    pub(crate) ephemeral: u8,
    pub(crate) lazy: bool,
    pub(crate) ops: Vec<InviterOp>,
}

/// One call into a lone invitee.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum InviteeOp {
    Input(When, Chunk),
    Timeout(When),
    Decide(When, DecisionSpec),
    Close(When),
    Transmit(u16),
    /// The directory changes (a contact blocked mid-handshake, ...).
    Directory(DirSpec),
}

/// An invitee (Bob) alone, fed by the fuzzer.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct InviteeScript {
    pub(crate) small: bool,
    pub(crate) config: ConfigSpec,
    pub(crate) directory: DirSpec,
    pub(crate) ephemeral: u8,
    pub(crate) lazy: bool,
    pub(crate) ops: Vec<InviteeOp>,
}

/// A direction on the network, named by who receives.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Way {
    ToInvitee,
    ToInviter,
}

/// What the adversary does to the first frame in flight.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mutation {
    FlipBit(u16),
    SetByte(u16, u8),
    Truncate(u16),
    Extend(Chunk),
    Length(u16),
    Kind(u8),
}

/// One step of the network variant.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum NetOp {
    /// Deliver the first frame in flight.
    Deliver(Way),
    /// Deliver it in two pieces.
    DeliverSplit(Way, u16),
    /// Deliver everything, both ways, until both are quiet.
    DeliverAll,
    Drop(Way),
    Duplicate(Way),
    /// Swap the first two frames in flight.
    Swap(Way),
    Mutate(Way, Mutation),
    /// Put these bytes first in flight.
    Insert(Way, Chunk),
    /// Put a copy of a frame seen earlier, either way, first in flight.
    Replay(Way, u8),
    /// Time passes; both sides get `handle_timeout`.
    Time(When),
    /// Bob's user decides.
    Decide(DecisionSpec),
    /// Alice cancels.
    Cancel,
    /// The connection closes, as seen by the receiver of this way.
    Close(Way),
    Directory(DirSpec),
}

/// A real exchange between Alice and Bob, each an honest state machine, over
/// a network the fuzzer controls.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetScript {
    pub(crate) small_inviter: bool,
    pub(crate) small_invitee: bool,
    pub(crate) config: ConfigSpec,
    pub(crate) target: TargetSpec,
    pub(crate) invitation: InvitationSpec,
    pub(crate) directory: DirSpec,
    pub(crate) inviter_ephemeral: u8,
    pub(crate) invitee_ephemeral: u8,
    pub(crate) ops: Vec<NetOp>,
}

/// A key the adversary puts in a proof.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySpec {
    Mallory,
    Alice,
    Bob,
    /// The identity point: a weak key.
    Weak,
    Raw([u8; 32]),
}

/// The signature next to it.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SigSpec {
    /// Mallory's, over the right label and this session's hash: valid
    /// with her key, and the only valid signature the adversary can make.
    Valid,
    /// Mallory's, under the other role's label.
    OtherLabel,
    /// Mallory's, over another hash.
    OtherHash,
    Raw([u8; 64]),
}

/// The adversary's Proof payload.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProofSpec {
    Fields(KeySpec, SigSpec),
    Raw(Chunk),
}

/// An answer the adversary seals.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnswerSpec {
    Declined(Text),
    Accepted(Text),
    Expired,
    Error(u32, Text),
    /// `Refused` with the reason of this tag (modulo the number of reasons).
    Refused(u8),
    Cancelled,
    /// `TooLarge` naming this length, or (`None`) the Invite's real one.
    TooLarge(Option<u32>),
    Raw(Chunk),
}

/// One step of the adversary playing the invitee.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum FakeInviteeOp {
    /// Seal an answer under the next nonce, or under this one.
    Answer(Option<u8>, AnswerSpec),
    Raw(Chunk),
    Time(When),
    Cancel,
    Close,
}

/// An inviter (Alice) against an adversary that completes a genuine Noise
/// channel with its own ephemeral, proves whatever key it likes (it can
/// sign only as Mallory), and seals whatever answers it likes.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeInviteeScript {
    pub(crate) config: ConfigSpec,
    pub(crate) target: TargetSpec,
    pub(crate) invitation: InvitationSpec,
    pub(crate) ephemeral: u8,
    pub(crate) adversary_ephemeral: u8,
    pub(crate) proof: ProofSpec,
    pub(crate) ops: Vec<FakeInviteeOp>,
}

/// An Invite the adversary seals.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct InviteSpec {
    pub(crate) app: AppSpec,
    pub(crate) message: Text,
    pub(crate) data: DataSpec,
    pub(crate) key: KeySpec,
    pub(crate) sig: SigSpec,
}

/// A plaintext the adversary seals as the inviter.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum InviterPlain {
    Invite(InviteSpec),
    Cancel,
    Raw(Chunk),
}

/// One step of the adversary playing the inviter.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum FakeInviterOp {
    /// Seal this under the next nonce, or under this one.
    Seal(Option<u8>, InviterPlain),
    Raw(Chunk),
    Time(When),
    Decide(When, DecisionSpec),
    Close,
    Directory(DirSpec),
}

/// An invitee (Bob) against an adversary that sends a Hello with its own
/// ephemeral, reads Bob's Proof, and seals whatever it likes (it can sign
/// only as Mallory).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) struct FakeInviterScript {
    pub(crate) small: bool,
    pub(crate) config: ConfigSpec,
    pub(crate) directory: DirSpec,
    pub(crate) ephemeral: u8,
    pub(crate) adversary_ephemeral: u8,
    pub(crate) ops: Vec<FakeInviterOp>,
}

/// The `inviter` target's input.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum InviterInput {
    Alone(InviterScript),
    Network(NetScript),
    Adversary(FakeInviteeScript),
}

/// The `invitee` target's input.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub(crate) enum InviteeInput {
    Alone(InviteeScript),
    Network(NetScript),
    Adversary(FakeInviterScript),
}

// ---------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------

/// Splits a stream by its length prefixes; a trailing incomplete frame is
/// the last piece.
pub(crate) fn split_frames(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 2 {
        let len = 2 + usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        if len > rest.len() {
            break;
        }
        let (frame, tail) = rest.split_at(len);
        out.push(frame);
        rest = tail;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

fn kind_of(frame: &[u8]) -> Option<FrameKind> {
    frame.get(2).and_then(|&k| FrameKind::from_byte(k).ok())
}

/// Everything the inviter may ever transmit with this buffer besides its
/// keepalives: Hello, Invite, Cancel.
fn inviter_bound<const B: usize>() -> usize {
    HELLO_FRAME_LEN + invite_frame_len(max_data_for(B)) + CANCEL_FRAME_LEN
}

/// Everything the invitee may ever transmit besides its keepalives: a Proof
/// and an Answer (or a clear Refusal, which is smaller).
const INVITEE_BOUND: usize = PROOF_FRAME_LEN + ANSWER_FRAME_MAX;

/// How many keepalives a side may have sent by `now` (the latest instant
/// it was given) when its invitation became pending at `since`: one per
/// interval, the first one interval in (each is due an interval after the
/// last, at the `now` it was sent, so even time going backwards adds none).
fn keepalives_allowed(since: Option<Instant>, now: Instant, interval: Duration) -> usize {
    since.map_or(0, |s| {
        usize::try_from(now.saturating_duration_since(s).as_ticks() / interval.as_ticks().max(1))
            .unwrap_or(usize::MAX)
    })
}

/// Whether `frame` is whole (its length prefix matches).
fn is_whole(frame: &[u8]) -> bool {
    frame.len() >= 2 && frame.len() == 2 + usize::from(u16::from_be_bytes([frame[0], frame[1]]))
}

/// The inviter's stream is a Hello, then at most an Invite, keepalives (at
/// most `keepalives`) and a Cancel, all whole, except that a session that
/// failed drops what it had not sent (`failed`): its last frame may be cut
/// short.
fn check_inviter_stream<const B: usize>(sent: &[u8], failed: bool, keepalives: usize) {
    let frames = split_frames(sent);
    for (i, frame) in frames.iter().enumerate() {
        if !is_whole(frame) {
            assert!(
                failed && i + 1 == frames.len(),
                "inviter sent a partial frame"
            );
            continue;
        }
        let kind = kind_of(frame);
        match i {
            0 => {
                assert_eq!(kind, Some(FrameKind::Hello), "inviter's first frame");
                assert_eq!(frame.len(), HELLO_FRAME_LEN);
            }
            1 => {
                assert_eq!(kind, Some(FrameKind::Sealed), "inviter's second frame");
                assert!(frame.len() <= invite_frame_len(max_data_for(B)));
            }
            i if i < 3 + keepalives => {
                assert_eq!(kind, Some(FrameKind::Sealed), "inviter's frame {i}");
                assert_eq!(frame.len(), CANCEL_FRAME_LEN, "a keepalive or a Cancel");
                assert_eq!(KEEPALIVE_FRAME_LEN, CANCEL_FRAME_LEN);
            }
            _ => panic!(
                "inviter sent {} frames, with at most {keepalives} keepalives",
                frames.len()
            ),
        }
    }
}

/// The invitee's stream is a clear Refusal, or a Proof, keepalives (at most
/// `keepalives`) and at most one Answer, all whole (but for the last frame
/// of a failed session).
fn check_invitee_stream(sent: &[u8], failed: bool, keepalives: usize) {
    let frames = split_frames(sent);
    for (i, frame) in frames.iter().enumerate() {
        if !is_whole(frame) {
            assert!(
                failed && i + 1 == frames.len(),
                "invitee sent a partial frame"
            );
            continue;
        }
        match (i, kind_of(frame)) {
            (0, Some(FrameKind::Refusal)) => {
                assert_eq!(frame.len(), REFUSAL_FRAME_LEN);
                assert_eq!(frames.len(), 1, "nothing after a clear Refusal");
            }
            (0, Some(FrameKind::Proof)) => assert_eq!(frame.len(), PROOF_FRAME_LEN),
            (i, Some(FrameKind::Sealed)) if i >= 1 && i <= 1 + keepalives => {
                assert!(frame.len() <= ANSWER_FRAME_MAX);
                if i + 1 < frames.len() {
                    assert_eq!(
                        frame.len(),
                        KEEPALIVE_FRAME_LEN,
                        "only keepalives before the answer"
                    );
                }
            }
            (i, kind) => {
                panic!("invitee frame {i} of kind {kind:?}, with at most {keepalives} keepalives")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Watching an inviter
// ---------------------------------------------------------------------------

/// Everything observed of one inviter, checked after every call.
pub(crate) struct InviterWatch {
    pub(crate) target: Target,
    pub(crate) now: Instant,
    pub(crate) sent: Vec<u8>,
    pub(crate) received: Vec<u8>,
    pub(crate) events: Vec<InviterEvent>,
    pub(crate) verified: Option<PublicKey>,
    pub(crate) finished: Option<Result<Response, SessionError>>,
    /// `handle_cancel` was called after (some of) the Invite had gone.
    pub(crate) cancel_sent: bool,
    /// `handle_cancel` was called before one byte of the Invite had gone:
    /// none may ever go (the reference's case (a)).
    pub(crate) taken_back: bool,
    bound: usize,
    /// The config's keepalive interval.
    keepalive: Duration,
    /// When the invitation became pending (the Verified event's call).
    pending_since: Option<Instant>,
    /// The latest `now` so far (time may go backwards between calls).
    latest: Instant,
}

impl InviterWatch {
    fn new<const B: usize>(target: Target, config: &Config) -> Self {
        InviterWatch {
            keepalive: config.keepalive_interval,
            pending_since: None,
            latest: T0,
            target,
            now: T0,
            sent: Vec::new(),
            received: Vec::new(),
            events: Vec::new(),
            verified: None,
            finished: None,
            cancel_sent: false,
            taken_back: false,
            bound: inviter_bound::<B>(),
        }
    }

    fn input<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant, bytes: &[u8]) {
        self.now = now;
        self.latest = self.latest.max(now);
        if self.finished.is_none() {
            self.received.extend_from_slice(bytes);
        }
        m.handle_input(now, bytes, &());
    }

    fn timeout<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_timeout(now);
    }

    fn cancel<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        // The deadlines at `now` run first, as `handle_cancel` runs them.
        m.handle_timeout(now);
        let open = m.outcome().is_none();
        if open && self.sent.len() <= HELLO_FRAME_LEN {
            self.taken_back = true;
        } else if open && self.verified.is_some() {
            self.cancel_sent = true;
        }
        m.handle_cancel(now);
        if self.taken_back {
            assert_eq!(
                m.outcome(),
                Some(Err(SessionError::Cancelled)),
                "a cancel before the Invite left ends the session"
            );
        }
    }

    fn close<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_close(now);
    }

    /// One `poll_transmit` with a `cap`-byte buffer.
    fn transmit<const B: usize>(&mut self, m: &mut Inviter<B>, cap: usize) -> usize {
        let mut buf = vec![0x5A; cap];
        let n = m.poll_transmit(&mut buf);
        assert!(
            n <= cap,
            "poll_transmit returned {n} for a {cap}-byte buffer"
        );
        self.sent.extend_from_slice(&buf[..n]);
        let bound = self.bound + self.keepalives() * KEEPALIVE_FRAME_LEN;
        assert!(
            self.sent.len() <= bound,
            "inviter transmitted {} bytes, over its bound {bound}",
            self.sent.len(),
        );
        n
    }

    /// How many keepalives may have been sent so far.
    fn keepalives(&self) -> usize {
        keepalives_allowed(self.pending_since, self.latest, self.keepalive)
    }

    fn drain<const B: usize>(&mut self, m: &mut Inviter<B>) {
        while self.transmit(m, POLL_BUF) > 0 {}
    }

    /// Drains the events and checks every property of the inviter's
    /// observable state. `drained`: every pending byte has been taken.
    fn check<const B: usize>(&mut self, m: &mut Inviter<B>, drained: bool) {
        while let Some(event) = m.poll_event() {
            assert!(
                self.finished.is_none(),
                "inviter event {event:?} after Finished"
            );
            match event {
                InviterEvent::Verified(key) => {
                    assert!(self.verified.is_none(), "a second Verified");
                    if let Target::Contact(expected) = self.target {
                        assert_eq!(key, expected, "verified a key that is not the target");
                    }
                    assert_eq!(m.responder(), Some(key));
                    self.verified = Some(key);
                    self.pending_since = Some(self.now);
                }
                InviterEvent::Finished(result) => self.finished = Some(result),
            }
            self.events.push(event);
        }
        assert_eq!(m.outcome(), self.finished, "outcome() and Finished");
        match (m.poll_timeout(), self.finished) {
            (None, Some(_)) => {}
            (Some(deadline), None) => assert!(
                pending(deadline, self.now),
                "inviter deadline {deadline:?} not after now {:?}",
                self.now
            ),
            (t, f) => panic!("inviter poll_timeout {t:?} with outcome {f:?}"),
        }
        if drained {
            assert_eq!(m.is_finished(), self.finished.is_some(), "is_finished");
        }
        if self.verified.is_none() {
            assert!(
                self.sent.len() <= HELLO_FRAME_LEN,
                "the invitation left before the responder was verified"
            );
        }
        if self.taken_back {
            assert!(
                self.sent.len() <= HELLO_FRAME_LEN,
                "the invitation left after it was cancelled"
            );
        }
        match self.finished {
            Some(Ok(_)) => assert!(self.verified.is_some(), "an answer without a Verified"),
            Some(Err(SessionError::ContactMismatch)) => {
                let responder = m.responder().expect("a mismatch names the responder");
                assert_ne!(Target::Contact(responder), self.target);
                assert!(self.sent.len() <= HELLO_FRAME_LEN);
            }
            Some(Err(SessionError::Refused {
                authenticated: true,
                ..
            })) => assert!(self.verified.is_some(), "an authenticated refusal"),
            _ => {}
        }
        if let Ok(message) = m.answer_message() {
            assert!(self.finished.is_some(), "an answer message before the end");
            assert!(
                self.verified.is_some(),
                "an answer message without Verified"
            );
            assert!(message.chars().count() <= 255, "answer message too long");
        }
    }

    /// The last checks once nothing more will happen.
    fn finish<const B: usize>(&mut self, m: &mut Inviter<B>) {
        self.drain(m);
        self.check(m, true);
        check_inviter_stream::<B>(
            &self.sent,
            matches!(self.finished, Some(Err(_))),
            self.keepalives(),
        );
    }
}

// ---------------------------------------------------------------------------
// Watching an invitee
// ---------------------------------------------------------------------------

/// Everything observed of one invitee, checked after every call.
pub(crate) struct InviteeWatch {
    pub(crate) now: Instant,
    pub(crate) sent: Vec<u8>,
    pub(crate) received: Vec<u8>,
    pub(crate) events: Vec<InviteeEvent>,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) finished: Option<InviteeOutcome>,
    /// The outcome a successful `handle_decision` produced, and its message.
    pub(crate) decided: Option<(InviteeOutcome, String)>,
    /// The keys that can have signed an Invite this invitee accepts.
    honest_inviters: Vec<PublicKey>,
    max_data: usize,
    /// The config's keepalive interval.
    keepalive: Duration,
    /// When the prompt went up.
    pending_since: Option<Instant>,
    /// The latest `now` so far (time may go backwards between calls).
    latest: Instant,
}

impl InviteeWatch {
    fn new<const B: usize>(honest_inviters: Vec<PublicKey>, config: &Config) -> Self {
        InviteeWatch {
            keepalive: config.keepalive_interval,
            pending_since: None,
            latest: T0,
            now: T0,
            sent: Vec::new(),
            received: Vec::new(),
            events: Vec::new(),
            prompt: None,
            finished: None,
            decided: None,
            honest_inviters,
            max_data: max_data_for(B),
        }
    }

    fn input<const B: usize>(&mut self, m: &mut Invitee<B>, now: Instant, bytes: &[u8], dir: &Dir) {
        self.now = now;
        self.latest = self.latest.max(now);
        if self.finished.is_none() {
            self.received.extend_from_slice(bytes);
        }
        m.handle_input(now, bytes, dir);
    }

    fn timeout<const B: usize>(&mut self, m: &mut Invitee<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_timeout(now);
    }

    fn close<const B: usize>(&mut self, m: &mut Invitee<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_close(now);
    }

    /// The user's decision, and the properties of `handle_decision`.
    fn decide<const B: usize>(&mut self, m: &mut Invitee<B>, now: Instant, d: &DecisionSpec) {
        self.now = now;
        self.latest = self.latest.max(now);
        // The deadlines at `now` run first, as `handle_decision` runs them.
        m.handle_timeout(now);
        let was_prompting = m.is_prompting();
        let before = (m.poll_timeout(), m.outcome());
        let too_long = d.message().chars().count() > 255;
        let decision = match d.decision() {
            Ok(decision) => decision,
            Err(e) => {
                // Refused when it is built: it never reaches the machine.
                assert!(too_long, "a decision refused with {e:?} when built");
                assert_eq!(e, Error::InvalidArgument(ArgumentError::TooLong));
                return;
            }
        };
        assert!(!too_long, "a Decision holds a message over 255 characters");
        match m.handle_decision(now, decision) {
            Ok(()) => {
                assert!(was_prompting, "a decision accepted with no prompt up");
                let prompt = self
                    .prompt
                    .expect("a decision was accepted before any Prompt event");
                let expected = match d {
                    DecisionSpec::Accept(_) => InviteeOutcome::Accepted(Launch {
                        inviter: prompt.inviter,
                        is_contact: prompt.is_contact,
                        application: prompt.application,
                    }),
                    DecisionSpec::Decline(_) => InviteeOutcome::Declined,
                    DecisionSpec::Fail(code, _) => InviteeOutcome::Error { code: *code },
                    DecisionSpec::Busy => InviteeOutcome::Refused(Refusal::Busy),
                };
                assert_eq!(m.outcome(), Some(expected), "the decision's outcome");
                assert!(!m.is_prompting());
                self.decided = Some((expected, d.message().to_owned()));
            }
            Err(e) => {
                assert!(
                    !was_prompting,
                    "decision refused with {e:?} while prompting"
                );
                let expected = match before.1 {
                    Some(InviteeOutcome::Expired) => Error::Expired,
                    Some(InviteeOutcome::Cancelled) => Error::Cancelled,
                    _ => Error::InvalidState,
                };
                assert_eq!(e, expected, "decision with no prompt up");
                assert_eq!(
                    (m.poll_timeout(), m.outcome()),
                    before,
                    "a refused decision changed the state"
                );
            }
        }
    }

    fn transmit<const B: usize>(&mut self, m: &mut Invitee<B>, cap: usize) -> usize {
        let mut buf = vec![0x5A; cap];
        let n = m.poll_transmit(&mut buf);
        assert!(
            n <= cap,
            "poll_transmit returned {n} for a {cap}-byte buffer"
        );
        self.sent.extend_from_slice(&buf[..n]);
        let bound = INVITEE_BOUND + self.keepalives() * KEEPALIVE_FRAME_LEN;
        assert!(
            self.sent.len() <= bound,
            "invitee transmitted {} bytes, over its bound {bound}",
            self.sent.len()
        );
        n
    }

    /// How many keepalives may have been sent so far.
    fn keepalives(&self) -> usize {
        keepalives_allowed(self.pending_since, self.latest, self.keepalive)
    }

    fn drain<const B: usize>(&mut self, m: &mut Invitee<B>) {
        while self.transmit(m, POLL_BUF) > 0 {}
    }

    fn check<const B: usize>(&mut self, m: &mut Invitee<B>, drained: bool) {
        while let Some(event) = m.poll_event() {
            assert!(
                self.finished.is_none(),
                "invitee event {event:?} after Finished"
            );
            match event {
                InviteeEvent::Prompt(p) => {
                    assert!(self.prompt.is_none(), "a second Prompt");
                    assert!(
                        self.honest_inviters.contains(&p.inviter),
                        "a prompt from {:?}, who never signed anything here",
                        p.inviter
                    );
                    assert!(pending(p.deadline, self.now), "a prompt already expired");
                    assert_eq!(m.inviter(), Some(p.inviter));
                    let invitation = m.invitation().expect("a prompt's invitation");
                    assert_eq!(invitation.application(), p.application);
                    assert!(invitation.message().chars().count() <= 255);
                    assert!(invitation.data().len() <= self.max_data);
                    self.prompt = Some(p);
                    self.pending_since = Some(self.now);
                }
                InviteeEvent::Finished(outcome) => self.finished = Some(outcome),
            }
            self.events.push(event);
        }
        assert_eq!(m.outcome(), self.finished, "outcome() and Finished");
        assert_eq!(
            m.is_prompting(),
            self.prompt.is_some() && self.finished.is_none(),
            "is_prompting"
        );
        match (m.poll_timeout(), self.finished) {
            (None, Some(_)) => {}
            (Some(deadline), None) => {
                assert!(
                    pending(deadline, self.now),
                    "invitee deadline {deadline:?} not after now {:?}",
                    self.now
                );
                if let Some(p) = self.prompt {
                    assert!(deadline <= p.deadline, "a deadline after the prompt's");
                }
            }
            (t, f) => panic!("invitee poll_timeout {t:?} with outcome {f:?}"),
        }
        if drained {
            assert_eq!(m.is_finished(), self.finished.is_some(), "is_finished");
        }
        if let Some(key) = m.inviter() {
            assert!(
                self.honest_inviters.contains(&key),
                "an Invite from {key:?} passed, who never signed anything here"
            );
        }
        if m.invitation().is_some() {
            assert!(self.prompt.is_some(), "an invitation without a prompt");
        }
        match self.finished {
            Some(
                o @ (InviteeOutcome::Accepted(_)
                | InviteeOutcome::Declined
                | InviteeOutcome::Error { .. }
                | InviteeOutcome::Refused(Refusal::Busy)),
            ) => assert_eq!(
                self.decided.as_ref().map(|d| d.0),
                Some(o),
                "an answer the user never gave"
            ),
            Some(InviteeOutcome::Expired) => {
                assert!(self.prompt.is_some(), "Expired without a prompt");
                assert!(self.decided.is_none(), "Expired after a decision");
            }
            Some(InviteeOutcome::Cancelled) => {
                assert!(self.prompt.is_some(), "Cancelled without a prompt")
            }
            Some(InviteeOutcome::Refused(
                Refusal::NotTrusted | Refusal::Blocked | Refusal::ApplicationNotRegistered,
            )) => assert!(m.inviter().is_some(), "a policy refusal of nobody"),
            _ => {}
        }
    }

    fn finish<const B: usize>(&mut self, m: &mut Invitee<B>) {
        self.drain(m);
        self.check(m, true);
        check_invitee_stream(
            &self.sent,
            matches!(self.finished, Some(InviteeOutcome::Failed(_))),
            self.keepalives(),
        );
    }
}

// ---------------------------------------------------------------------------
// Oracles: honest peers re-run
// ---------------------------------------------------------------------------

/// The Hello an honest inviter sends with a recorded ephemeral.
fn recorded_hello(index: usize) -> &'static [u8] {
    static HELLOS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
    &HELLOS.get_or_init(|| {
        [
            honest_hello(RECORDED_INVITER_EPHEMERALS[0]),
            honest_hello(RECORDED_INVITER_EPHEMERALS[1]),
        ]
    })[index]
}

/// An honest responder right after reading a Hello: the machine, its key,
/// its ephemeral, and the Proof it sent.
type HonestResponder = (Invitee, PublicKey, [u8; 32], Vec<u8>);

/// The honest responders (Bob, Carol, each with each recorded ephemeral)
/// right after reading `hello`, with the Proof each sent. Built afresh on
/// each call: a machine that holds keys is not `Clone`, so none is kept.
fn honest_responders(hello: &[u8]) -> Vec<HonestResponder> {
    let k = keys();
    let directory = Dir::new(Policy::Anyone);
    let mut out = Vec::new();
    for (identity, key) in [(&k.bob, k.bob_pk), (&k.carol, k.carol_pk)] {
        for e in RECORDED_INVITEE_EPHEMERALS {
            let mut r: Invitee = Invitee::new(
                Config::default(),
                identity,
                EphemeralSecret::from_bytes(e),
                T0,
            )
            .expect("an invitee");
            r.handle_input(T0, hello, &directory);
            let proof = drain_all_invitee(&mut r);
            out.push((r, key, e, proof));
        }
    }
    out
}

fn honest_hello(ephemeral: [u8; 32]) -> Vec<u8> {
    let k = keys();
    let invitation = Invitation::new(CHESS, "", &[]).expect("an empty invitation");
    let mut m: Inviter = Inviter::new(
        Config::default(),
        &k.alice,
        Target::AnyEndpoint,
        &invitation,
        EphemeralSecret::from_bytes(ephemeral),
        T0,
    )
    .expect("an inviter");
    let mut buf = [0u8; HELLO_FRAME_LEN + 1];
    let n = m.poll_transmit(&mut buf);
    buf[..n].to_vec()
}

/// Every transmitted byte, drained at once.
fn drain_all_inviter<const B: usize>(m: &mut Inviter<B>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; POLL_BUF];
    loop {
        let n = m.poll_transmit(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

fn drain_all_invitee<const B: usize>(m: &mut Invitee<B>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; POLL_BUF];
    loop {
        let n = m.poll_transmit(&mut buf);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// The smallest buffer a machine can have: room for no data at all.
const TINY: usize = buffer_size(0);

/// The inviter verified a responder (or read an answer): the Proof it
/// accepted must be the one an honest responder (Bob or Carol, with a
/// recorded ephemeral) makes for this inviter's Hello, and an answer or an
/// authenticated refusal it reports must be the one that responder sends
/// for that decision or that directory. The fuzzer cannot sign, so
/// anything else is a forgery that got through.
///
/// `hello` is the inviter's own Hello (what it sent may have been cut
/// short by a failure in lazy mode); `watch` must have drained everything.
pub(crate) fn check_inviter_against_honest_responder<const B: usize>(
    m: &Inviter<B>,
    watch: &InviterWatch,
    hello: &[u8],
    invitation: &Invitation<'_>,
) {
    if m.responder().is_none() {
        return;
    }
    let received = split_frames(&watch.received);
    let after_hello = watch.sent.get(HELLO_FRAME_LEN..).unwrap_or_default();
    let proof = received.first().copied().unwrap_or_default();
    let mut directory = Dir::new(Policy::Anyone);
    directory
        .register(invitation.application(), "app")
        .expect("room");
    let honest = honest_responders(hello)
        .into_iter()
        .find(|(_, _, _, made)| made == proof);
    let Some((mut responder, key, ephemeral, _)) = honest else {
        panic!("the inviter accepted a Proof that no honest responder made: a forgery");
    };
    assert_eq!(m.responder(), Some(key), "responder() and the proof's key");

    let response = match m.outcome() {
        Some(Ok(response)) => response,
        Some(Err(SessionError::Refused {
            reason,
            authenticated: true,
        })) => {
            // A refusal ends the session with an error, which drops what
            // was not yet transmitted: in lazy mode the Invite may have
            // gone out only in part. The inviter's own Invite, made again,
            // must begin with what it sent.
            let sent = split_frames(after_hello)
                .first()
                .copied()
                .expect("an authenticated refusal of no Invite");
            let invite = own_invite::<B>(hello, proof, invitation);
            assert!(invite.starts_with(sent), "the inviter's Invite");
            let refusal = honest_refusal(
                responder, key, ephemeral, hello, &invite, &directory, reason,
            );
            assert_eq!(
                received.get(1).copied(),
                Some(refusal.as_slice()),
                "the inviter reported an authenticated {reason:?}, which the honest responder \
                 did not send"
            );
            return;
        }
        _ => return,
    };

    // An answer: the honest responder, given the inviter's Invite and the
    // same decision, sends exactly the frame the inviter read.
    let invite = split_frames(after_hello)
        .first()
        .copied()
        .expect("an answer to no Invite");
    responder.handle_input(T0, invite, &directory);
    let Some(InviteeEvent::Prompt(prompt)) = responder.poll_event() else {
        panic!("the honest responder did not prompt for this Invite");
    };
    let message = m.answer_message().expect("an answer has a message");
    match response {
        Response::Accepted => responder
            .handle_decision(
                T0,
                Decision::Accept {
                    message: Message::new(message).unwrap(),
                },
            )
            .expect("accept"),
        Response::Declined => responder
            .handle_decision(
                T0,
                Decision::Decline {
                    message: Message::new(message).unwrap(),
                },
            )
            .expect("decline"),
        Response::Error { code } => responder
            .handle_decision(
                T0,
                Decision::Error {
                    code,
                    message: Message::new(message).unwrap(),
                },
            )
            .expect("fail"),
        Response::Expired => responder.handle_timeout(prompt.deadline),
    }
    let answer = drain_all_invitee(&mut responder);
    assert_eq!(
        received.get(1).copied(),
        Some(answer.as_slice()),
        "the inviter reported {response:?}, which the honest responder did not send"
    );
}

/// The Invite Alice sends with the Hello `hello` (a recorded ephemeral's)
/// once she has read `proof`.
fn own_invite<const B: usize>(hello: &[u8], proof: &[u8], invitation: &Invitation<'_>) -> Vec<u8> {
    let e = (0..RECORDED_INVITER_EPHEMERALS.len())
        .find(|&i| recorded_hello(i) == hello)
        .map(|i| RECORDED_INVITER_EPHEMERALS[i])
        .expect("a recorded Hello");
    let mut again = Inviter::<B>::new_sized(
        Config::default(),
        &keys().alice,
        Target::AnyEndpoint,
        invitation,
        EphemeralSecret::from_bytes(e),
        T0,
    )
    .expect("an inviter");
    let _hello = drain_all_inviter(&mut again);
    again.handle_input(T0, proof, &());
    drain_all_inviter(&mut again)
}

/// What the honest responder (`responder`, right after the Hello, with
/// `key` and `ephemeral`) sends for `invite` when it refuses it for
/// `reason`: the policy's refusals with a directory that gives them (Alice,
/// the only inviter of the lone variant, blocked; a stranger to a trusted
/// only directory; the application unregistered; invitations turned off
/// after the Hello), Busy as the user's decision (`admitting` registers the
/// Invite's application and refuses no one), TooLarge from the same
/// responder with a buffer for no data at all. Nothing if it would not
/// refuse so, and nothing for `UnsupportedVersion`, which no honest
/// responder seals.
fn honest_refusal(
    mut responder: Invitee,
    key: PublicKey,
    ephemeral: [u8; 32],
    hello: &[u8],
    invite: &[u8],
    admitting: &Dir,
    reason: Refusal,
) -> Vec<u8> {
    let k = keys();
    let directory = match reason {
        Refusal::NotTrusted => Dir::new(Policy::TrustedOnly),
        Refusal::Blocked => {
            let mut directory = Dir::new(Policy::Anyone);
            let alice = Contact::new(k.alice_pk, "alice", "alice")
                .expect("a valid contact")
                .with_permission(Permission::Blocked);
            directory.add_contact(alice).expect("room for the contact");
            directory
        }
        Refusal::ApplicationNotRegistered => Dir::new(Policy::Anyone),
        Refusal::InvitationsOff => Dir::new(Policy::Off),
        Refusal::Busy => {
            responder.handle_input(T0, invite, admitting);
            if !matches!(responder.poll_event(), Some(InviteeEvent::Prompt(_))) {
                return Vec::new();
            }
            responder
                .handle_decision(T0, Decision::Busy)
                .expect("busy while prompting");
            return drain_all_invitee(&mut responder);
        }
        Refusal::TooLarge => {
            let identity = if key == k.bob_pk { &k.bob } else { &k.carol };
            let mut tiny = Invitee::<TINY>::new_sized(
                Config::default(),
                identity,
                EphemeralSecret::from_bytes(ephemeral),
                T0,
            )
            .expect("an invitee");
            tiny.handle_input(T0, hello, admitting);
            let _proof = drain_all_invitee(&mut tiny);
            tiny.handle_input(T0, invite, admitting);
            return drain_all_invitee(&mut tiny);
        }
    };
    responder.handle_input(T0, invite, &directory);
    drain_all_invitee(&mut responder)
}

/// The invitee accepted an Invite: its Hello must be an honest inviter's
/// (with a recorded ephemeral), and the Invite (and a Cancel) exactly what
/// that inviter sends with the invitation shown. `ephemeral` is the
/// invitee's.
pub(crate) fn check_invitee_against_honest_inviter<const B: usize>(
    m: &Invitee<B>,
    watch: &InviteeWatch,
    ephemeral: [u8; 32],
) {
    let Some(inviter) = m.inviter() else {
        return;
    };
    let k = keys();
    let identity = if inviter == k.alice_pk {
        &k.alice
    } else if inviter == k.carol_pk {
        &k.carol
    } else {
        panic!("an Invite signed by {inviter:?} passed: a forgery");
    };
    let received = split_frames(&watch.received);
    let hello = received.first().copied().unwrap_or_default();
    let Some(e) = (0..RECORDED_INVITER_EPHEMERALS.len())
        .find(|&i| recorded_hello(i) == hello)
        .map(|i| RECORDED_INVITER_EPHEMERALS[i])
    else {
        panic!("the invitee took an Invite after a Hello no honest inviter sent");
    };
    let Some(shown) = m.invitation() else {
        return;
    };
    let invitation = Invitation::new(shown.application(), shown.message(), shown.data())
        .expect("a valid invitation");
    let mut honest: Inviter = Inviter::new(
        Config::default(),
        identity,
        Target::AnyEndpoint,
        &invitation,
        EphemeralSecret::from_bytes(e),
        T0,
    )
    .expect("an inviter");
    let _hello = drain_all_inviter(&mut honest);
    // The invitee's Proof, as it made it (what it sent may have been cut
    // short by a failure in lazy mode).
    let mut again: Invitee = Invitee::new(
        Config::default(),
        &k.bob,
        EphemeralSecret::from_bytes(ephemeral),
        T0,
    )
    .expect("an invitee");
    again.handle_input(T0, hello, &Dir::new(Policy::Anyone));
    let proof = drain_all_invitee(&mut again);
    honest.handle_input(T0, &proof, &());
    let invite = drain_all_inviter(&mut honest);
    assert_eq!(
        received.get(1).copied(),
        Some(invite.as_slice()),
        "the invitee prompted for an Invite the honest inviter did not send"
    );
    if m.outcome() == Some(InviteeOutcome::Cancelled) {
        honest.handle_cancel(T0);
        let cancel = drain_all_inviter(&mut honest);
        assert_eq!(
            received.get(2).copied(),
            Some(cancel.as_slice()),
            "the invitee withdrew its prompt for a Cancel the inviter did not send"
        );
    }
}

// ---------------------------------------------------------------------------
// The inviter alone
// ---------------------------------------------------------------------------

/// What a run produced, for differential checks.
#[derive(Debug, PartialEq)]
pub(crate) struct InviterRun {
    pub(crate) sent: Vec<u8>,
    pub(crate) events: Vec<InviterEvent>,
}

/// Runs a lone inviter through `script`; `None` when `new` refused it (as
/// it must).
pub(crate) fn run_inviter_alone<const B: usize>(script: &InviterScript) -> Option<InviterRun> {
    let k = keys();
    let config = script.config.config();
    let data = script.invitation.data();
    let invitation = script.invitation.make(&data)?;
    let target = script.target.target();
    let made = Inviter::<B>::new_sized(
        config,
        &k.alice,
        target,
        &invitation,
        ephemeral(&RECORDED_INVITER_EPHEMERALS, script.ephemeral),
        T0,
    );
    let expected = config_error(&config).or_else(|| {
        (data.len() > max_data_for(B)).then_some(Error::InvalidArgument(
            ArgumentError::DataTooLong {
                max: max_data_for(B),
            },
        ))
    });
    assert_eq!(made.as_ref().err().copied(), expected, "Inviter::new");
    let mut m = made.ok()?;
    let mut w = InviterWatch::new::<B>(target, &config);
    let mut clock = Clock::new();
    if !script.lazy {
        w.drain(&mut m);
    }
    w.check(&mut m, !script.lazy);
    for op in &script.ops {
        match op {
            InviterOp::Input(when, chunk) => {
                let now = clock.at(*when, m.poll_timeout());
                w.input(&mut m, now, &chunk.0);
            }
            InviterOp::Timeout(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.timeout(&mut m, now);
            }
            InviterOp::Cancel(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.cancel(&mut m, now);
            }
            InviterOp::Close(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.close(&mut m, now);
            }
            InviterOp::Transmit(cap) => {
                w.transmit(&mut m, usize::from(*cap));
            }
        }
        if !script.lazy {
            w.drain(&mut m);
        }
        w.check(&mut m, !script.lazy);
    }
    // Liveness: the deadlines alone end the session.
    for _ in 0..deadline_rounds(&config) {
        let Some(deadline) = m.poll_timeout() else {
            break;
        };
        let now = clock.now.max(deadline);
        clock.now = now;
        w.timeout(&mut m, now);
        w.drain(&mut m);
        w.check(&mut m, true);
    }
    assert!(
        w.finished.is_some(),
        "the inviter's deadlines did not end it"
    );
    w.finish(&mut m);
    let hello = recorded_hello(usize::from(script.ephemeral) % RECORDED_INVITER_EPHEMERALS.len());
    check_inviter_against_honest_responder(&m, &w, hello, &invitation);
    Some(InviterRun {
        sent: w.sent,
        events: w.events,
    })
}

// ---------------------------------------------------------------------------
// The invitee alone
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
pub(crate) struct InviteeRun {
    pub(crate) sent: Vec<u8>,
    pub(crate) events: Vec<InviteeEvent>,
}

pub(crate) fn run_invitee_alone<const B: usize>(script: &InviteeScript) -> Option<InviteeRun> {
    let k = keys();
    let config = script.config.config();
    let made = Invitee::<B>::new_sized(
        config,
        &k.bob,
        ephemeral(&RECORDED_INVITEE_EPHEMERALS, script.ephemeral),
        T0,
    );
    assert_eq!(made.as_ref().err().copied(), config_error(&config));
    let mut m = made.ok()?;
    let mut w = InviteeWatch::new::<B>(vec![k.alice_pk, k.carol_pk], &config);
    let mut dir = script.directory.build();
    let mut clock = Clock::new();
    w.check(&mut m, true);
    for op in &script.ops {
        match op {
            InviteeOp::Input(when, chunk) => {
                let now = clock.at(*when, m.poll_timeout());
                w.input(&mut m, now, &chunk.0, &dir);
            }
            InviteeOp::Timeout(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.timeout(&mut m, now);
            }
            InviteeOp::Decide(when, d) => {
                let now = clock.at(*when, m.poll_timeout());
                w.decide(&mut m, now, d);
            }
            InviteeOp::Close(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.close(&mut m, now);
            }
            InviteeOp::Transmit(cap) => {
                w.transmit(&mut m, usize::from(*cap));
            }
            InviteeOp::Directory(spec) => dir = spec.build(),
        }
        if !script.lazy {
            w.drain(&mut m);
        }
        w.check(&mut m, !script.lazy);
    }
    for _ in 0..deadline_rounds(&config) {
        let Some(deadline) = m.poll_timeout() else {
            break;
        };
        let now = clock.now.max(deadline);
        clock.now = now;
        w.timeout(&mut m, now);
        w.drain(&mut m);
        w.check(&mut m, true);
    }
    assert!(
        w.finished.is_some(),
        "the invitee's deadlines did not end it"
    );
    w.finish(&mut m);
    check_invitee_against_honest_inviter(
        &m,
        &w,
        pick(&RECORDED_INVITEE_EPHEMERALS, script.ephemeral),
    );
    Some(InviteeRun {
        sent: w.sent,
        events: w.events,
    })
}

// ---------------------------------------------------------------------------
// The network variant: two honest peers, a hostile network
// ---------------------------------------------------------------------------

/// One direction of the network.
#[derive(Default)]
struct Wire {
    /// Bytes transmitted but not yet cut into frames.
    pending: Vec<u8>,
    /// Frames in flight, first to be delivered first.
    queue: VecDeque<Vec<u8>>,
}

impl Wire {
    /// Takes newly transmitted bytes, cutting whole frames off.
    fn push(&mut self, bytes: &[u8], history: &mut Vec<Vec<u8>>) {
        self.pending.extend_from_slice(bytes);
        loop {
            let frames = split_frames(&self.pending);
            let Some(first) = frames.first() else { return };
            if !is_whole(first) {
                return;
            }
            let frame = first.to_vec();
            self.pending.drain(..frame.len());
            if history.len() < 32 {
                history.push(frame.clone());
            }
            self.queue.push_back(frame);
        }
    }
}

struct Network<'s, const IB: usize, const EB: usize> {
    script: &'s NetScript,
    data: &'s [u8],
    inviter: Inviter<IB>,
    invitee: Invitee<EB>,
    a: InviterWatch,
    b: InviteeWatch,
    dir: Dir,
    clock: Clock,
    to_invitee: Wire,
    to_inviter: Wire,
    history: Vec<Vec<u8>>,
    /// Whether an Invite had passed, and a prompt come, at the last pump.
    had_inviter: bool,
    had_prompt: bool,
    /// The first thing the network (or the clock) did that an honest
    /// network does not: `None` while every frame has been delivered
    /// whole, once, in order, with no time passing while one was in
    /// flight and no deadline skipped.
    interference: Option<Interference>,
}

/// What made an exchange's network other than untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interference {
    /// A frame was dropped, duplicated, reordered, changed, inserted or
    /// replayed.
    Frames,
    /// The connection was closed.
    Closed,
    /// Time passed while a frame was in flight: a delay.
    Delay,
    /// Time jumped past a deadline, so that a side never ran it (as if its
    /// host had stalled), or went backwards.
    Stall,
}

/// How a network exchange ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetRun {
    pub(crate) inviter: Result<Response, SessionError>,
    pub(crate) invitee: InviteeOutcome,
    /// Whether Bob got Alice's Invite (authenticated her).
    pub(crate) invite_in: bool,
    pub(crate) interference: Option<Interference>,
    /// What each side transmitted.
    pub(crate) inviter_sent: Vec<u8>,
    pub(crate) invitee_sent: Vec<u8>,
}

impl<const IB: usize, const EB: usize> Network<'_, IB, EB> {
    fn wire(&mut self, way: Way) -> &mut Wire {
        match way {
            Way::ToInvitee => &mut self.to_invitee,
            Way::ToInviter => &mut self.to_inviter,
        }
    }

    /// Moves what both sides transmit onto the wires, then checks both
    /// sides and the properties that tie them together.
    fn pump(&mut self) {
        let before = self.a.sent.len();
        self.a.drain(&mut self.inviter);
        let fresh = self.a.sent[before..].to_vec();
        self.to_invitee.push(&fresh, &mut self.history);
        let before = self.b.sent.len();
        self.b.drain(&mut self.invitee);
        let fresh = self.b.sent[before..].to_vec();
        self.to_inviter.push(&fresh, &mut self.history);

        let (had_inviter, had_prompt) = (self.had_inviter, self.had_prompt);
        self.a.check(&mut self.inviter, true);
        self.b.check(&mut self.invitee, true);
        let k = keys();

        // An Invite passed this step: the policy's verdict, in its order.
        if !had_inviter {
            if let Some(key) = self.invitee.inviter() {
                assert_eq!(key, k.alice_pk, "an Invite from someone but Alice");
                let too_large = self.data.len() > max_data_for(EB);
                let app = self.script.invitation.app.id();
                match expected_verdict(&self.dir, &key, &app, too_large) {
                    Some(r) => assert_eq!(
                        self.b.finished,
                        Some(InviteeOutcome::Refused(r)),
                        "the policy's verdict"
                    ),
                    None => assert!(self.b.prompt.is_some(), "no prompt for a good Invite"),
                }
            }
        }
        // A prompt: from Alice, after she verified Bob, showing exactly her
        // invitation.
        if let Some(p) = self.b.prompt {
            assert_eq!(p.inviter, k.alice_pk);
            assert_eq!(
                self.a.verified,
                Some(k.bob_pk),
                "Bob was prompted before Alice verified him"
            );
            assert!(matches!(
                self.script.target,
                TargetSpec::Bob | TargetSpec::AnyEndpoint
            ));
            assert_eq!(p.application, self.script.invitation.app.id());
            let shown = self.invitee.invitation().expect("the prompt's invitation");
            assert_eq!(shown.application(), p.application);
            assert_eq!(shown.message(), self.script.invitation.message.0);
            assert_eq!(shown.data(), self.data);
            if !had_prompt {
                let contact = self.dir.contact(&k.alice_pk).map(Contact::permission)
                    == Some(Permission::Allowed);
                assert_eq!(p.is_contact, contact, "is_contact");
            }
        }
        // An answer at Alice's: exactly the one Bob gave, from Bob.
        match self.a.finished {
            Some(Ok(response)) => {
                assert_eq!(self.inviter.responder(), Some(k.bob_pk));
                assert!(matches!(
                    self.script.target,
                    TargetSpec::Bob | TargetSpec::AnyEndpoint
                ));
                let given = self.b.finished.expect("Alice has an answer Bob never gave");
                let matches = match (response, given) {
                    (Response::Accepted, InviteeOutcome::Accepted(_))
                    | (Response::Declined, InviteeOutcome::Declined)
                    | (Response::Expired, InviteeOutcome::Expired) => true,
                    (Response::Error { code }, InviteeOutcome::Error { code: c }) => code == c,
                    _ => false,
                };
                assert!(matches, "Alice got {response:?}, Bob ended with {given:?}");
                let said = self
                    .b
                    .decided
                    .as_ref()
                    .map_or("", |(_, message)| message.as_str());
                assert_eq!(
                    self.inviter.answer_message(),
                    Ok(said),
                    "the answer message"
                );
            }
            Some(Err(SessionError::Refused {
                reason,
                authenticated: true,
            })) => assert_eq!(
                self.b.finished,
                Some(InviteeOutcome::Refused(reason)),
                "an authenticated refusal Bob never sent"
            ),
            _ => {}
        }
        if let Some(InviteeOutcome::Accepted(launch)) = self.b.finished {
            assert_eq!(launch.inviter, k.alice_pk);
            assert_eq!(launch.application, self.script.invitation.app.id());
        }
        if self.b.finished == Some(InviteeOutcome::Cancelled) {
            assert!(
                self.a.cancel_sent,
                "Bob withdrew a prompt Alice never cancelled"
            );
        }
        self.had_inviter = self.invitee.inviter().is_some();
        self.had_prompt = self.b.prompt.is_some();
    }

    fn deliver(&mut self, way: Way, bytes: &[u8]) {
        let now = self.clock.now;
        match way {
            Way::ToInvitee => self.b.input(&mut self.invitee, now, bytes, &self.dir),
            Way::ToInviter => self.a.input(&mut self.inviter, now, bytes),
        }
    }

    fn deliver_all(&mut self) {
        for _ in 0..8 {
            if self.to_invitee.queue.is_empty() && self.to_inviter.queue.is_empty() {
                return;
            }
            while let Some(frame) = self.to_invitee.queue.pop_front() {
                self.deliver(Way::ToInvitee, &frame);
                self.pump();
            }
            while let Some(frame) = self.to_inviter.queue.pop_front() {
                self.deliver(Way::ToInviter, &frame);
                self.pump();
            }
        }
    }

    /// Whether a frame, or part of one, is in flight either way.
    fn in_flight(&self) -> bool {
        [&self.to_invitee, &self.to_inviter]
            .iter()
            .any(|w| !w.queue.is_empty() || !w.pending.is_empty())
    }

    /// What `op` does to the network that an honest one does not, if
    /// anything (an op that changes nothing, like dropping from an empty
    /// queue, is no interference).
    fn interference_of(&mut self, op: &NetOp) -> Option<Interference> {
        let queue = |net: &mut Self, way: Way| net.wire(way).queue.clone();
        match op {
            NetOp::Drop(way) | NetOp::Duplicate(way) => {
                (!queue(self, *way).is_empty()).then_some(Interference::Frames)
            }
            NetOp::Swap(way) => {
                let q = queue(self, *way);
                (q.len() >= 2 && q[0] != q[1]).then_some(Interference::Frames)
            }
            NetOp::Mutate(way, mutation) => {
                let front = queue(self, *way).front().cloned()?;
                let mut changed = front.clone();
                mutate(&mut changed, mutation);
                (changed != front).then_some(Interference::Frames)
            }
            NetOp::Insert(_, chunk) => (!chunk.0.is_empty()).then_some(Interference::Frames),
            NetOp::Replay(..) => (!self.history.is_empty()).then_some(Interference::Frames),
            NetOp::Close(_) => Some(Interference::Closed),
            NetOp::Time(when) => {
                let deadline = earliest(self.inviter.poll_timeout(), self.invitee.poll_timeout());
                let now = Clock {
                    now: self.clock.now,
                }
                .at(*when, deadline);
                if now == self.clock.now {
                    None
                } else if self.in_flight() {
                    Some(Interference::Delay)
                } else if now < self.clock.now || deadline.is_some_and(|d| now > d) {
                    Some(Interference::Stall)
                } else {
                    None
                }
            }
            NetOp::Deliver(_)
            | NetOp::DeliverSplit(..)
            | NetOp::DeliverAll
            | NetOp::Decide(_)
            | NetOp::Cancel
            | NetOp::Directory(_) => None,
        }
    }

    fn step(&mut self, op: &NetOp) {
        if self.interference.is_none() {
            self.interference = self.interference_of(op);
        }
        match op {
            NetOp::Deliver(way) => {
                if let Some(frame) = self.wire(*way).queue.pop_front() {
                    self.deliver(*way, &frame);
                }
            }
            NetOp::DeliverSplit(way, at) => {
                if let Some(frame) = self.wire(*way).queue.pop_front() {
                    let at = usize::from(*at) % (frame.len() + 1);
                    let (x, y) = frame.split_at(at);
                    self.deliver(*way, x);
                    self.pump();
                    self.deliver(*way, y);
                }
            }
            NetOp::DeliverAll => self.deliver_all(),
            NetOp::Drop(way) => {
                self.wire(*way).queue.pop_front();
            }
            NetOp::Duplicate(way) => {
                let queue = &mut self.wire(*way).queue;
                if let Some(frame) = queue.front().cloned() {
                    queue.push_front(frame);
                }
            }
            NetOp::Swap(way) => {
                let queue = &mut self.wire(*way).queue;
                if queue.len() >= 2 {
                    queue.swap(0, 1);
                }
            }
            NetOp::Mutate(way, mutation) => {
                if let Some(frame) = self.wire(*way).queue.front_mut() {
                    mutate(frame, mutation);
                }
            }
            NetOp::Insert(way, chunk) => self.wire(*way).queue.push_front(chunk.0.clone()),
            NetOp::Replay(way, index) => {
                if !self.history.is_empty() {
                    let frame = self.history[usize::from(*index) % self.history.len()].clone();
                    self.wire(*way).queue.push_front(frame);
                }
            }
            NetOp::Time(when) => {
                let deadline = earliest(self.inviter.poll_timeout(), self.invitee.poll_timeout());
                let now = self.clock.at(*when, deadline);
                self.a.timeout(&mut self.inviter, now);
                self.b.timeout(&mut self.invitee, now);
            }
            NetOp::Decide(d) => {
                let now = self.clock.now;
                self.b.decide(&mut self.invitee, now, d);
            }
            NetOp::Cancel => {
                let now = self.clock.now;
                self.a.cancel(&mut self.inviter, now);
            }
            NetOp::Close(Way::ToInvitee) => {
                let now = self.clock.now;
                self.b.close(&mut self.invitee, now);
            }
            NetOp::Close(Way::ToInviter) => {
                let now = self.clock.now;
                self.a.close(&mut self.inviter, now);
            }
            NetOp::Directory(spec) => self.dir = spec.build(),
        }
        self.pump();
    }

    /// Delivers what is in flight and lets the deadlines run until both
    /// sides are over, which must happen.
    fn settle(&mut self) {
        // Each round runs at least one deadline; keepalives add one per
        // interval and side (ConfigSpec bounds how many there can be).
        for _ in 0..deadline_rounds(&self.script.config.config()) {
            self.deliver_all();
            if self.a.finished.is_some() && self.b.finished.is_some() {
                break;
            }
            let deadline = earliest(self.inviter.poll_timeout(), self.invitee.poll_timeout())
                .expect("a side is not over and has no deadline");
            let now = self.clock.now.max(deadline);
            self.clock.now = now;
            self.a.timeout(&mut self.inviter, now);
            self.b.timeout(&mut self.invitee, now);
            self.pump();
        }
        assert!(self.a.finished.is_some(), "the inviter never ended");
        assert!(self.b.finished.is_some(), "the invitee never ended");
        self.a.finish(&mut self.inviter);
        self.b.finish(&mut self.invitee);
        if self.interference.is_none() {
            self.check_complete();
        }
    }

    /// Completeness, over an untouched network: the exchange reaches the
    /// end its two honest sides and their users' actions call for. Bob's
    /// end decides Alice's: his answer, his refusal (in clear for
    /// invitations off at the Hello), or his acknowledgement of her
    /// Cancel. Bob fails only by waiting for an Invite that Alice never
    /// sent: after a contact mismatch, or a cancel before the Invite left;
    /// nothing else (no protocol error, silence, timeout) may end either
    /// side.
    fn check_complete(&self) {
        use InviteeOutcome as O;
        let a = self.a.finished.expect("the inviter ended");
        let b = self.b.finished.expect("the invitee ended");
        let invite_in = self.invitee.inviter().is_some();
        let refused = |reason, authenticated| {
            Err(SessionError::Refused {
                reason,
                authenticated,
            })
        };
        let expected = match b {
            O::Accepted(_) => Ok(Response::Accepted),
            O::Declined => Ok(Response::Declined),
            O::Error { code } => Ok(Response::Error { code }),
            O::Expired => Ok(Response::Expired),
            O::Cancelled => Err(SessionError::Cancelled),
            // Off at the Hello: refused in clear, before any Proof. A
            // cancel that came first ends Alice before she reads it.
            O::Refused(Refusal::InvitationsOff) if !invite_in => {
                if self.a.taken_back {
                    Err(SessionError::Cancelled)
                } else {
                    refused(Refusal::InvitationsOff, false)
                }
            }
            O::Refused(reason) => refused(reason, true),
            O::Failed(SessionError::HandshakeTimeout) => {
                assert!(
                    !invite_in && self.b.prompt.is_none(),
                    "a handshake timeout after the Invite"
                );
                let mismatch = !matches!(
                    self.script.target,
                    TargetSpec::Bob | TargetSpec::AnyEndpoint
                );
                if self.a.taken_back {
                    Err(SessionError::Cancelled)
                } else {
                    assert!(
                        mismatch,
                        "untouched network: Bob waited in vain for the Invite of Alice, who ended \
                         with {a:?}"
                    );
                    Err(SessionError::ContactMismatch)
                }
            }
            O::Failed(e) => panic!("untouched network: Bob failed with {e:?}, Alice ended {a:?}"),
            O::Evicted { .. } => panic!("Bob was evicted, which the harness never does"),
        };
        assert_eq!(
            a, expected,
            "untouched network: Alice ended {a:?}, Bob ended {b:?}"
        );
    }

    fn run(&self) -> NetRun {
        NetRun {
            inviter: self.a.finished.expect("the inviter ended"),
            invitee: self.b.finished.expect("the invitee ended"),
            invite_in: self.invitee.inviter().is_some(),
            interference: self.interference,
            inviter_sent: self.a.sent.clone(),
            invitee_sent: self.b.sent.clone(),
        }
    }
}

fn mutate(frame: &mut Vec<u8>, mutation: &Mutation) {
    let len = frame.len();
    match mutation {
        Mutation::FlipBit(bit) if len > 0 => {
            let bit = usize::from(*bit) % (len * 8);
            frame[bit / 8] ^= 1 << (bit % 8);
        }
        Mutation::SetByte(at, value) if len > 0 => frame[usize::from(*at) % len] = *value,
        Mutation::Truncate(keep) => frame.truncate(usize::from(*keep) % (len + 1)),
        Mutation::Extend(chunk) => frame.extend_from_slice(&chunk.0),
        Mutation::Length(value) if len >= 2 => frame[..2].copy_from_slice(&value.to_be_bytes()),
        Mutation::Kind(kind) if len >= 3 => frame[2] = *kind,
        _ => {}
    }
}

pub(crate) fn run_network<const IB: usize, const EB: usize>(script: &NetScript) -> Option<NetRun> {
    let k = keys();
    let config = script.config.config();
    let data = script.invitation.data();
    let invitation = script.invitation.make(&data)?;
    let target = script.target.target();
    let made = Inviter::<IB>::new_sized(
        config,
        &k.alice,
        target,
        &invitation,
        ephemeral(&NETWORK_INVITER_EPHEMERALS, script.inviter_ephemeral),
        T0,
    );
    let expected = config_error(&config).or_else(|| {
        (data.len() > max_data_for(IB)).then_some(Error::InvalidArgument(
            ArgumentError::DataTooLong {
                max: max_data_for(IB),
            },
        ))
    });
    assert_eq!(made.as_ref().err().copied(), expected, "Inviter::new");
    let inviter = made.ok()?;
    let invitee = Invitee::<EB>::new_sized(
        config,
        &k.bob,
        ephemeral(&NETWORK_INVITEE_EPHEMERALS, script.invitee_ephemeral),
        T0,
    )
    .expect("the config was accepted by the inviter");
    let mut net = Network {
        script,
        data: &data,
        inviter,
        invitee,
        a: InviterWatch::new::<IB>(target, &config),
        b: InviteeWatch::new::<EB>(vec![k.alice_pk], &config),
        dir: script.directory.build(),
        clock: Clock::new(),
        to_invitee: Wire::default(),
        to_inviter: Wire::default(),
        history: Vec::new(),
        had_inviter: false,
        had_prompt: false,
        interference: None,
    };
    net.pump();
    for op in &script.ops {
        net.step(op);
    }
    net.settle();
    Some(net.run())
}

/// Runs a network script with the buffers it names; `None` when the
/// inviter's `new` refused it (as it must).
pub(crate) fn run_network_any(script: &NetScript) -> Option<NetRun> {
    match (script.small_inviter, script.small_invitee) {
        (false, false) => run_network::<LARGE, LARGE>(script),
        (false, true) => run_network::<LARGE, SMALL>(script),
        (true, false) => run_network::<SMALL, LARGE>(script),
        (true, true) => run_network::<SMALL, SMALL>(script),
    }
}

// ---------------------------------------------------------------------------
// The adversary variant: `snow` at the other end of a genuine channel
// ---------------------------------------------------------------------------

const NOISE_PARAMS: &str = "Noise_NN_25519_ChaChaPoly_SHA512";
const PROLOGUE: &[u8] = b"beckon\x01";
/// The largest plaintext the adversary seals (a frame's length is a u16).
const MAX_PLAINTEXT: usize = 60_000;

fn snow_state(initiator: bool, ephemeral: &[u8; 32]) -> snow::HandshakeState {
    let builder = snow::Builder::new(NOISE_PARAMS.parse().expect("Noise parameters"))
        .prologue(PROLOGUE)
        .expect("a prologue")
        .fixed_ephemeral_key_for_testing_only(ephemeral);
    let state = if initiator {
        builder.build_initiator()
    } else {
        builder.build_responder()
    };
    state.expect("a handshake state")
}

fn frame(kind: FrameKind, body: &[u8]) -> Vec<u8> {
    let len = u16::try_from(body.len() + 1).expect("a body under 64 KiB");
    let mut out = len.to_be_bytes().to_vec();
    out.push(kind as u8);
    out.extend_from_slice(body);
    out
}

fn key_bytes(key: KeySpec) -> [u8; 32] {
    let k = keys();
    match key {
        KeySpec::Mallory => k.mallory_pk.to_bytes(),
        KeySpec::Alice => k.alice_pk.to_bytes(),
        KeySpec::Bob => k.bob_pk.to_bytes(),
        KeySpec::Weak => {
            let mut b = [0u8; 32];
            b[0] = 1;
            b
        }
        KeySpec::Raw(b) => b,
    }
}

/// The signature `sig` stands for, by Mallory, for `label` and `hash`.
fn signature(sig: SigSpec, label: &[u8; 24], other: &[u8; 24], hash: &[u8]) -> [u8; 64] {
    use ed25519_dalek::Signer;
    let sign =
        |l: &[u8; 24], h: &[u8]| keys().mallory_signer.sign(&[&l[..], h].concat()).to_bytes();
    match sig {
        SigSpec::Valid => sign(label, hash),
        SigSpec::OtherLabel => sign(other, hash),
        SigSpec::OtherHash => sign(label, &[0u8; 64]),
        SigSpec::Raw(b) => b,
    }
}

/// The plaintext of a sealed `Refused` answer with the wire reason
/// `tag % 7`: the five a sealed refusal may carry, and `TooLarge` (5) and
/// `UnsupportedVersion` (6), which none may (the inviter must find them
/// malformed). Written as bytes, since no `SealedRefusal` holds the last
/// two.
fn refused_plaintext(tag: u8) -> Vec<u8> {
    vec![4, tag % 7]
}

fn encode_payload<T: serde_like::Encode>(value: &T, size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size];
    let n = value.encode_into(&mut out).expect("a payload that fits");
    out.truncate(n);
    out
}

/// `payload::encode` for the payload types, without naming serde.
mod serde_like {
    use super::payload;
    pub(crate) trait Encode {
        fn encode_into(&self, out: &mut [u8]) -> Option<usize>;
    }
    macro_rules! encode {
        ($($t:ty),*) => {$(
            impl Encode for $t {
                fn encode_into(&self, out: &mut [u8]) -> Option<usize> {
                    payload::encode(self, out)
                }
            }
        )*};
    }
    encode!(
        payload::ProofPayload,
        payload::AnswerMessage<'_>,
        payload::InviterMessage<'_>
    );
}

/// The Proof payload `spec` stands for, and whether it is a valid proof of
/// Mallory's key for `hash`.
fn proof_payload(spec: &ProofSpec, hash: &[u8]) -> (Vec<u8>, bool) {
    match spec {
        ProofSpec::Fields(key, sig) => {
            let p = ProofPayload {
                key: key_bytes(*key),
                signature: SignatureBytes(signature(
                    *sig,
                    beckon_core::internal::handshake::INVITEE_LABEL,
                    beckon_core::internal::handshake::INVITER_LABEL,
                    hash,
                )),
            };
            let valid = *key == KeySpec::Mallory && *sig == SigSpec::Valid;
            (encode_payload(&p, 96), valid)
        }
        ProofSpec::Raw(chunk) => (chunk.0[..chunk.0.len().min(1024)].to_vec(), false),
    }
}

/// An answer's plaintext; `invite_len` is the Invite's length field.
fn answer_plaintext(spec: &AnswerSpec, invite_len: u32) -> Vec<u8> {
    let size = 64 + MAX_PLAINTEXT;
    let message = |t: &Text| -> String { t.0.chars().take(MAX_PLAINTEXT / 4).collect() };
    match spec {
        AnswerSpec::Declined(t) => encode_payload(
            &AnswerMessage::Declined {
                message: &message(t),
            },
            size,
        ),
        AnswerSpec::Accepted(t) => encode_payload(
            &AnswerMessage::Accepted {
                message: &message(t),
            },
            size,
        ),
        AnswerSpec::Expired => encode_payload(&AnswerMessage::Expired, size),
        AnswerSpec::Error(code, t) => encode_payload(
            &AnswerMessage::Error {
                code: *code,
                message: &message(t),
            },
            size,
        ),
        AnswerSpec::Refused(tag) => refused_plaintext(*tag),
        AnswerSpec::Cancelled => encode_payload(&AnswerMessage::Cancelled, size),
        AnswerSpec::TooLarge(len) => encode_payload(
            &AnswerMessage::TooLarge {
                invite_len: len.unwrap_or(invite_len),
            },
            size,
        ),
        AnswerSpec::Raw(chunk) => chunk.0[..chunk.0.len().min(MAX_PLAINTEXT)].to_vec(),
    }
}

/// Runs an inviter against the adversary playing the invitee; returns its
/// events.
pub(crate) fn run_fake_invitee(script: &FakeInviteeScript) -> Vec<InviterEvent> {
    run_fake_invitee_run(script).map_or_else(Vec::new, |run| run.events)
}

/// [`run_fake_invitee`], with what the inviter sent; `None` when `new`
/// refused it (as it must).
pub(crate) fn run_fake_invitee_run(script: &FakeInviteeScript) -> Option<InviterRun> {
    let k = keys();
    let config = script.config.config();
    let data = script.invitation.data();
    let invitation = script.invitation.make(&data)?;
    let target = script.target.target();
    let made = Inviter::<LARGE>::new_sized(
        config,
        &k.alice,
        target,
        &invitation,
        ephemeral(&RECORDED_INVITER_EPHEMERALS, script.ephemeral),
        T0,
    );
    let expected = config_error(&config).or_else(|| {
        (data.len() > max_data_for(LARGE)).then_some(Error::InvalidArgument(
            ArgumentError::DataTooLong {
                max: max_data_for(LARGE),
            },
        ))
    });
    assert_eq!(made.as_ref().err().copied(), expected);
    let mut m = made.ok()?;
    let mut w = InviterWatch::new::<LARGE>(target, &config);
    let mut clock = Clock::new();
    w.drain(&mut m);
    w.check(&mut m, true);

    // The handshake: read the Hello, prove whatever the script says.
    let hello = w.sent.clone();
    let mut noise = snow_state(
        false,
        &pick(&ADVERSARY_EPHEMERALS, script.adversary_ephemeral),
    );
    noise
        .read_message(&hello[4..], &mut [])
        .expect("the inviter's Hello");
    let responder_e = x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(pick(
        &ADVERSARY_EPHEMERALS,
        script.adversary_ephemeral,
    )));
    let hash = {
        use sha2::Digest;
        sha2::Sha512::new()
            .chain_update(noise.get_handshake_hash())
            .chain_update(responder_e.as_bytes())
            .finalize()
    };
    let (payload, valid) = proof_payload(&script.proof, &hash);
    let mut body = vec![0u8; 32 + payload.len() + 16];
    let n = noise
        .write_message(&payload, &mut body)
        .expect("a Proof message");
    w.input(&mut m, T0, &frame(FrameKind::Proof, &body[..n]));
    w.drain(&mut m);
    w.check(&mut m, true);
    let mallory = Some(k.mallory_pk);
    if valid {
        // Completeness: a valid proof is taken, and checked against the
        // target.
        assert_eq!(m.responder(), mallory, "a valid proof was not taken");
        match script.target {
            TargetSpec::Mallory | TargetSpec::AnyEndpoint => {
                assert_eq!(w.verified, mallory, "a valid proof of the target")
            }
            _ => assert_eq!(w.finished, Some(Err(SessionError::ContactMismatch))),
        }
    } else {
        assert_eq!(m.responder(), None, "an invalid proof was taken");
        assert!(w.verified.is_none() && w.finished.is_some());
    }
    let channel = noise
        .into_stateless_transport_mode()
        .expect("the handshake is over");
    let invite_len = split_frames(&w.sent)
        .get(1)
        .map_or(0, |f| u32::try_from(f.len() - 2).unwrap_or(u32::MAX));

    let mut next_nonce = 0u64;
    for op in &script.ops {
        let before = w.finished;
        let mut opened: Option<(u64, Vec<u8>)> = None;
        match op {
            FakeInviteeOp::Answer(nonce, spec) => {
                let plaintext = answer_plaintext(spec, invite_len);
                let nonce = nonce.map_or_else(
                    || {
                        next_nonce += 1;
                        next_nonce - 1
                    },
                    u64::from,
                );
                let mut body = vec![0u8; plaintext.len() + 16];
                let n = channel
                    .write_message(nonce, &plaintext, &mut body)
                    .expect("a sealed answer");
                let now = clock.now;
                w.input(&mut m, now, &frame(FrameKind::Sealed, &body[..n]));
                opened = Some((nonce, plaintext));
            }
            FakeInviteeOp::Raw(chunk) => {
                let now = clock.now;
                w.input(&mut m, now, &chunk.0);
            }
            FakeInviteeOp::Time(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.timeout(&mut m, now);
            }
            FakeInviteeOp::Cancel => {
                let now = clock.now;
                w.cancel(&mut m, now);
            }
            FakeInviteeOp::Close => {
                let now = clock.now;
                w.close(&mut m, now);
            }
        }
        w.drain(&mut m);
        w.check(&mut m, true);
        // An answer: exactly what the (verified) adversary sealed under the
        // first nonce.
        if before.is_none() && m.answer_message().is_ok() {
            assert_eq!(w.verified, mallory, "an answer from an unverified peer");
            let Some((nonce, plaintext)) = opened else {
                panic!("an answer from a frame the adversary did not seal");
            };
            assert_eq!(nonce, 0, "an answer under nonce {nonce}");
            let said: AnswerMessage<'_> =
                payload::decode(&plaintext).expect("the answer that was read decodes");
            assert_eq!(m.answer_message(), Ok(said.message()));
            let matches = match (w.finished, said) {
                (Some(Ok(Response::Accepted)), AnswerMessage::Accepted { .. })
                | (Some(Ok(Response::Declined)), AnswerMessage::Declined { .. })
                | (Some(Ok(Response::Expired)), AnswerMessage::Expired)
                | (Some(Err(SessionError::Cancelled)), AnswerMessage::Cancelled)
                | (
                    Some(Err(SessionError::Refused {
                        reason: Refusal::TooLarge,
                        authenticated: true,
                    })),
                    AnswerMessage::TooLarge { .. },
                ) => true,
                (Some(Ok(Response::Error { code })), AnswerMessage::Error { code: c, .. }) => {
                    code == c
                }
                (
                    Some(Err(SessionError::Refused {
                        reason,
                        authenticated: true,
                    })),
                    AnswerMessage::Refused(r),
                ) => reason == r.refusal(),
                _ => false,
            };
            assert!(matches, "reported {:?} for {said:?}", w.finished);
        }
    }
    for _ in 0..deadline_rounds(&config) {
        let Some(deadline) = m.poll_timeout() else {
            break;
        };
        let now = clock.now.max(deadline);
        clock.now = now;
        w.timeout(&mut m, now);
        w.drain(&mut m);
        w.check(&mut m, true);
    }
    assert!(
        w.finished.is_some(),
        "the inviter's deadlines did not end it"
    );
    w.finish(&mut m);
    if matches!(w.finished, Some(Ok(_))) {
        assert_eq!(w.verified, mallory, "an answer without a valid proof");
    }
    Some(InviterRun {
        sent: w.sent,
        events: w.events,
    })
}

/// The invitee's view of an Invite the adversary sealed.
struct SealedInvite {
    application: ApplicationId,
    message: String,
    data: Vec<u8>,
    /// A valid signature of Mallory's key over this session.
    valid: bool,
}

/// Runs an invitee against the adversary playing the inviter; returns its
/// events.
pub(crate) fn run_fake_inviter<const B: usize>(script: &FakeInviterScript) -> Vec<InviteeEvent> {
    run_fake_inviter_run::<B>(script).map_or_else(Vec::new, |run| run.events)
}

/// [`run_fake_inviter`], with what the invitee sent; `None` when `new`
/// refused it (as it must).
pub(crate) fn run_fake_inviter_run<const B: usize>(
    script: &FakeInviterScript,
) -> Option<InviteeRun> {
    let k = keys();
    let config = script.config.config();
    let made = Invitee::<B>::new_sized(
        config,
        &k.bob,
        ephemeral(&RECORDED_INVITEE_EPHEMERALS, script.ephemeral),
        T0,
    );
    assert_eq!(made.as_ref().err().copied(), config_error(&config));
    let mut m = made.ok()?;
    let mut w = InviteeWatch::new::<B>(vec![k.mallory_pk], &config);
    let mut dir = script.directory.build();
    let mut clock = Clock::new();

    // The handshake: a Hello, then read Bob's Proof if he sends one.
    let mut noise = snow_state(
        true,
        &pick(&ADVERSARY_EPHEMERALS, script.adversary_ephemeral),
    );
    let mut e = [0u8; 64];
    let n = noise.write_message(&[], &mut e).expect("a Hello");
    let hello = frame(FrameKind::Hello, &[&[1u8][..], &e[..n]].concat());
    w.input(&mut m, T0, &hello, &dir);
    w.drain(&mut m);
    w.check(&mut m, true);
    let proof = w.sent.clone();
    let mut channel = None;
    let mut hash = [0u8; 64];
    if kind_of(&proof) == Some(FrameKind::Proof) {
        let mut plain = [0u8; 128];
        noise
            .read_message(&proof[3..], &mut plain)
            .expect("Bob's Proof opens");
        hash.copy_from_slice(noise.get_handshake_hash());
        channel = Some(
            noise
                .into_stateless_transport_mode()
                .expect("the handshake is over"),
        );
    }

    let mut next_nonce = 0u64;
    let mut invite: Option<SealedInvite> = None;
    let mut cancel_sent = false;
    // Bytes outside a sealed frame were fed: a frame may be left half read.
    let mut raw_fed = false;
    for op in &script.ops {
        let had_inviter = m.inviter().is_some();
        let had_prompt = w.prompt.is_some();
        let mut sealed: Option<SealedInvite> = None;
        // This step sealed a valid Invite right: to an invitee waiting for
        // it, its input clean, under the first nonce, within the limits.
        let mut sealed_right = false;
        match op {
            FakeInviterOp::Seal(nonce, plain) => {
                let Some(channel) = &channel else { continue };
                let nonce = nonce.map_or_else(
                    || {
                        next_nonce += 1;
                        next_nonce - 1
                    },
                    u64::from,
                );
                let plaintext = match plain {
                    InviterPlain::Invite(spec) => {
                        let data = spec.data.bytes();
                        let data = &data[..data.len().min(MAX_PLAINTEXT / 2)];
                        let message: String =
                            spec.message.0.chars().take(MAX_PLAINTEXT / 8).collect();
                        let head = InviteHead {
                            application: *spec.app.id().as_bytes(),
                            message: &message,
                            data: Bytes(data),
                        };
                        let proof = InviterProof {
                            key: key_bytes(spec.key),
                            signature: SignatureBytes(signature(
                                spec.sig,
                                beckon_core::internal::handshake::INVITER_LABEL,
                                beckon_core::internal::handshake::INVITEE_LABEL,
                                &hash,
                            )),
                        };
                        let bytes = encode_payload(
                            &InviterMessage::Invite(Invite { head, proof }),
                            MAX_PLAINTEXT + 1024,
                        );
                        sealed = Some(SealedInvite {
                            application: spec.app.id(),
                            message,
                            data: data.to_vec(),
                            valid: spec.key == KeySpec::Mallory && spec.sig == SigSpec::Valid,
                        });
                        bytes
                    }
                    InviterPlain::Cancel => encode_payload(&InviterMessage::Cancel, 8),
                    InviterPlain::Raw(chunk) => {
                        chunk.0[..chunk.0.len().min(MAX_PLAINTEXT)].to_vec()
                    }
                };
                // A Cancel is counted by what was sealed, however the script
                // spelled it: any plaintext that decodes as a Cancel (the
                // raw byte `01` is one) can withdraw a prompt.
                cancel_sent |= w.prompt.is_some()
                    && matches!(
                        payload::decode::<InviterMessage<'_>>(&plaintext),
                        Ok(InviterMessage::Cancel)
                    );
                let mut body = vec![0u8; plaintext.len() + 16];
                let n = channel
                    .write_message(nonce, &plaintext, &mut body)
                    .expect("a sealed message");
                let sealed_frame = frame(FrameKind::Sealed, &body[..n]);
                // Nothing is taken before the Invite, so while the invitee
                // waits for it the first nonce is due.
                sealed_right = sealed.as_ref().is_some_and(|this| {
                    this.valid
                        && nonce == 0
                        && !raw_fed
                        && !had_inviter
                        && w.finished.is_none()
                        && this.message.chars().count() <= 255
                        && this.data.len() <= beckon_core::limits::MAX_DATA_LEN
                        && sealed_frame.len() <= invite_frame_len(max_data_for(B))
                });
                let now = clock.now;
                w.input(&mut m, now, &sealed_frame, &dir);
            }
            FakeInviterOp::Raw(chunk) => {
                raw_fed = true;
                let now = clock.now;
                w.input(&mut m, now, &chunk.0, &dir);
            }
            FakeInviterOp::Time(when) => {
                let now = clock.at(*when, m.poll_timeout());
                w.timeout(&mut m, now);
            }
            FakeInviterOp::Decide(when, d) => {
                let now = clock.at(*when, m.poll_timeout());
                w.decide(&mut m, now, d);
            }
            FakeInviterOp::Close => {
                let now = clock.now;
                w.close(&mut m, now);
            }
            FakeInviterOp::Directory(spec) => dir = spec.build(),
        }
        w.drain(&mut m);
        w.check(&mut m, true);
        if sealed_right {
            // Completeness: a valid Invite sealed right is authenticated
            // (and then the policy decides, below).
            assert_eq!(
                m.inviter(),
                Some(k.mallory_pk),
                "a valid Invite, sealed right, was not taken"
            );
        }
        if !had_inviter {
            if let Some(key) = m.inviter() {
                // Only a valid signature of Mallory's gets an Invite in, and
                // then the policy decides, in its order.
                assert_eq!(key, k.mallory_pk);
                let Some(this) = sealed.take() else {
                    panic!("an Invite passed that the adversary did not seal");
                };
                assert!(this.valid, "an Invite with a bad signature passed");
                let too_large = this.data.len() > max_data_for(B);
                match expected_verdict(&dir, &key, &this.application, too_large) {
                    Some(r) => assert_eq!(w.finished, Some(InviteeOutcome::Refused(r))),
                    None => assert!(w.prompt.is_some(), "no prompt for a good Invite"),
                }
                invite = Some(this);
            }
        }
        if let (Some(p), false) = (w.prompt, had_prompt) {
            let this = invite.as_ref().expect("a prompt for an Invite");
            let shown = m.invitation().expect("the prompt's invitation");
            assert_eq!(p.application, this.application);
            assert_eq!(shown.message(), this.message);
            assert_eq!(shown.data(), this.data);
            let contact =
                dir.contact(&k.mallory_pk).map(Contact::permission) == Some(Permission::Allowed);
            assert_eq!(p.is_contact, contact, "is_contact");
        }
        if w.finished == Some(InviteeOutcome::Cancelled) {
            assert!(cancel_sent, "a prompt withdrawn without a Cancel");
        }
    }
    for _ in 0..deadline_rounds(&config) {
        let Some(deadline) = m.poll_timeout() else {
            break;
        };
        let now = clock.now.max(deadline);
        clock.now = now;
        w.timeout(&mut m, now);
        w.drain(&mut m);
        w.check(&mut m, true);
    }
    assert!(
        w.finished.is_some(),
        "the invitee's deadlines did not end it"
    );
    w.finish(&mut m);
    Some(InviteeRun {
        sent: w.sent,
        events: w.events,
    })
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// Decodes a structured input the way `fuzz_target!` does.
pub(crate) fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// The `inviter` target.
pub(crate) fn inviter(data: &[u8]) {
    if let Some(input) = decode::<InviterInput>(data) {
        run_inviter_input(&input);
    }
}

pub(crate) fn run_inviter_input(input: &InviterInput) {
    match input {
        InviterInput::Alone(script) if script.small => {
            run_inviter_alone::<SMALL>(script);
        }
        InviterInput::Alone(script) => {
            run_inviter_alone::<LARGE>(script);
        }
        InviterInput::Network(script) => {
            run_network_any(script);
        }
        InviterInput::Adversary(script) => {
            run_fake_invitee(script);
        }
    }
}

/// The `invitee` target.
pub(crate) fn invitee(data: &[u8]) {
    if let Some(input) = decode::<InviteeInput>(data) {
        run_invitee_input(&input);
    }
}

pub(crate) fn run_invitee_input(input: &InviteeInput) {
    match input {
        InviteeInput::Alone(script) if script.small => {
            run_invitee_alone::<SMALL>(script);
        }
        InviteeInput::Alone(script) => {
            run_invitee_alone::<LARGE>(script);
        }
        InviteeInput::Network(script) => {
            run_network_any(script);
        }
        InviteeInput::Adversary(script) if script.small => {
            run_fake_inviter::<SMALL>(script);
        }
        InviteeInput::Adversary(script) => {
            run_fake_inviter::<LARGE>(script);
        }
    }
}

fn same_inviter_runs(chunked: Option<&InviterRun>, whole: Option<&InviterRun>) {
    let (Some(x), Some(y)) = (chunked, whole) else {
        panic!("Inviter::new refused one run only");
    };
    assert_eq!(x.events, y.events, "the inviter cares how its input is cut");
    let failed = matches!(x.events.last(), Some(InviterEvent::Finished(Err(_))));
    if failed {
        assert!(
            x.sent.starts_with(&y.sent),
            "the inviter's bytes depend on the cut"
        );
    } else {
        assert_eq!(x.sent, y.sent, "the inviter's bytes depend on the cut");
    }
}

fn same_invitee_runs(chunked: Option<&InviteeRun>, whole: Option<&InviteeRun>) {
    let (Some(x), Some(y)) = (chunked, whole) else {
        panic!("Invitee::new refused one run only");
    };
    assert_eq!(x.events, y.events, "the invitee cares how its input is cut");
    let failed = matches!(
        x.events.last(),
        Some(InviteeEvent::Finished(InviteeOutcome::Failed(_)))
    );
    if failed {
        assert!(
            x.sent.starts_with(&y.sent),
            "the invitee's bytes depend on the cut"
        );
    } else {
        assert_eq!(x.sent, y.sent, "the invitee's bytes depend on the cut");
    }
}

/// Cuts `stream` into chunks of pseudo-random sizes from `seed` (0: one
/// chunk).
fn chunks(stream: &[u8], seed: u16) -> Vec<Chunk> {
    if seed == 0 {
        return vec![Chunk(stream.to_vec())];
    }
    let max = 1 + usize::from(seed >> 8);
    let mut state = u32::from(seed);
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let n = (1 + (state >> 16) as usize % max).min(rest.len());
        let (a, b) = rest.split_at(n);
        out.push(Chunk(a.to_vec()));
        rest = b;
    }
    out
}

/// The `frame_decoder` target. Input: a mode byte, a 2-byte chunking seed,
/// then the stream. The stream goes, in chunks, into an invitee and into an
/// inviter, and the result must be the same as in one piece; every payload
/// decoder reads the stream and each frame's body.
pub(crate) fn frame_decoder(data: &[u8]) {
    frame_decoder_run(data);
}

/// What [`frame_decoder`] made of its input: the mode's choices, how many
/// chunks the stream was cut into, and the chunked runs of each machine.
#[derive(Debug)]
pub(crate) struct FrameDecoderRun {
    pub(crate) directory: DirSpec,
    pub(crate) small: bool,
    pub(crate) target: TargetSpec,
    pub(crate) chunks: usize,
    pub(crate) invitee: Option<InviteeRun>,
    pub(crate) inviter: Option<InviterRun>,
    /// The runs with the stream in one piece, when it was cut (`chunks`
    /// is then the number of pieces of the chunked runs above).
    pub(crate) whole: Option<(Option<InviteeRun>, Option<InviterRun>)>,
}

/// [`frame_decoder`], telling what it ran; `None` for an input too short
/// to hold a mode and a seed.
pub(crate) fn frame_decoder_run(data: &[u8]) -> Option<FrameDecoderRun> {
    let (mode, seed, stream) = match data {
        [mode, lo, hi, stream @ ..] => (*mode, u16::from_le_bytes([*lo, *hi]), stream),
        _ => return None,
    };
    let directory = DirSpec {
        policy: match mode % 3 {
            0 => PolicySpec::TrustedOnly,
            1 => PolicySpec::Anyone,
            _ => PolicySpec::Off,
        },
        alice: if mode & 4 == 0 {
            ContactSpec::Allowed
        } else {
            ContactSpec::Absent
        },
        mallory: ContactSpec::Absent,
        chess: true,
    };
    let small = mode & 8 != 0;
    let target = if mode & 16 == 0 {
        TargetSpec::Bob
    } else {
        TargetSpec::AnyEndpoint
    };
    let as_ops = |chunks: Vec<Chunk>| -> Vec<(When, Chunk)> {
        chunks.into_iter().map(|c| (When::Now, c)).collect()
    };
    let chunked = as_ops(chunks(stream, seed));
    let whole = as_ops(chunks(stream, 0));

    let invitee_script = |ops: &[(When, Chunk)]| InviteeScript {
        small,
        config: ConfigSpec::Default,
        directory,
        ephemeral: 0,
        lazy: false,
        ops: ops
            .iter()
            .map(|(w, c)| InviteeOp::Input(*w, c.clone()))
            .collect(),
    };
    let inviter_script = |ops: &[(When, Chunk)]| InviterScript {
        small,
        config: ConfigSpec::Default,
        target,
        invitation: InvitationSpec::chess(),
        ephemeral: 0,
        lazy: false,
        ops: ops
            .iter()
            .map(|(w, c)| InviterOp::Input(*w, c.clone()))
            .collect(),
    };
    // With seed 0 the chunked run is the whole run: no need to do it twice.
    // The events must be the same however the input is cut. The bytes sent
    // too, except that a session ending with an error drops what it had
    // not yet transmitted, and the harness drains between chunks: then the
    // whole run's bytes are a prefix of the chunked run's.
    let differential = seed != 0;
    let (invitee, inviter, whole) = if small {
        let x = run_invitee_alone::<SMALL>(&invitee_script(&chunked));
        let z = run_inviter_alone::<SMALL>(&inviter_script(&chunked));
        let whole = differential.then(|| {
            (
                run_invitee_alone::<SMALL>(&invitee_script(&whole)),
                run_inviter_alone::<SMALL>(&inviter_script(&whole)),
            )
        });
        (x, z, whole)
    } else {
        let x = run_invitee_alone::<LARGE>(&invitee_script(&chunked));
        let z = run_inviter_alone::<LARGE>(&inviter_script(&chunked));
        let whole = differential.then(|| {
            (
                run_invitee_alone::<LARGE>(&invitee_script(&whole)),
                run_inviter_alone::<LARGE>(&inviter_script(&whole)),
            )
        });
        (x, z, whole)
    };
    if let Some((y, w)) = &whole {
        same_invitee_runs(invitee.as_ref(), y.as_ref());
        same_inviter_runs(inviter.as_ref(), w.as_ref());
    }
    decode_every_payload(stream);
    for frame in split_frames(stream) {
        decode_every_payload(frame.get(HEADER_LEN..).unwrap_or_default());
    }
    Some(FrameDecoderRun {
        directory,
        small,
        target,
        chunks: chunked.len(),
        invitee,
        inviter,
        whole,
    })
}

// ---------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------

/// Whether to require that whatever decodes re-encodes to the very same
/// bytes. postcard alone accepts over-long varints (a tag, a length or an
/// error code with redundant `0x80` continuation groups, as in `81 00` for
/// 1); `payload::decode` refuses them (`Malformed`) since the protocol
/// requires canonical encodings, so the strict property holds. With
/// `false`, the weaker property that holds for postcard alone is asserted
/// instead: the canonical re-encoding is strictly shorter.
pub(crate) const STRICT_CANONICAL: bool = true;

/// Decodes `bytes` as `$ty`; if it decodes: the re-encoding decodes to an
/// equal value and is a fixed point, and it is the input itself, or (an
/// over-long varint in the input) strictly shorter.
macro_rules! roundtrip {
    ($ty:ty, $bytes:expr) => {{
        let bytes: &[u8] = $bytes;
        if let Ok(value) = payload::decode::<$ty>(bytes) {
            let mut out = vec![0u8; bytes.len() + 16];
            let n = payload::encode(&value, &mut out)
                .unwrap_or_else(|| panic!("{} decoded but does not encode", stringify!($ty)));
            let again: $ty = payload::decode(&out[..n]).unwrap_or_else(|e| {
                panic!("{} re-encoded does not decode: {e:?}", stringify!($ty))
            });
            assert_eq!(
                again,
                value,
                "{} changed through a round trip",
                stringify!($ty)
            );
            let mut out2 = vec![0u8; n + 16];
            let m = payload::encode(&again, &mut out2).expect("encodes");
            assert_eq!(
                &out2[..m],
                &out[..n],
                "{} encoding is not a fixed point",
                stringify!($ty)
            );
            if STRICT_CANONICAL {
                assert_eq!(&out[..n], bytes, "{} is not canonical", stringify!($ty));
            } else if &out[..n] != bytes {
                assert!(
                    n < bytes.len(),
                    "{}: a different encoding that is not shorter",
                    stringify!($ty)
                );
                assert!(
                    has_overlong_varint_byte(bytes),
                    "{}: a different encoding without an over-long varint",
                    stringify!($ty)
                );
            }
            true
        } else {
            false
        }
    }};
}

/// Whether some byte could end an over-long varint: a `0x00` right after a
/// byte with the continuation bit set (the only non-canonical form postcard
/// accepts).
fn has_overlong_varint_byte(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w[0] & 0x80 != 0 && w[1] == 0)
}

/// Every payload decoder on `bytes`, each with the round-trip property.
/// Returns how many decoded.
pub(crate) fn decode_every_payload(bytes: &[u8]) -> usize {
    let results = [
        roundtrip!(ProofPayload, bytes),
        roundtrip!(SignatureBytes, bytes),
        roundtrip!(InviteHead<'_>, bytes),
        roundtrip!(InviterProof, bytes),
        roundtrip!(Invite<'_>, bytes),
        roundtrip!(InviterMessage<'_>, bytes),
        roundtrip!(AnswerMessage<'_>, bytes),
        roundtrip!(SealedRefusal, bytes),
        roundtrip!(Bytes<'_>, bytes),
    ];
    if let Ok(answer) = payload::decode::<AnswerMessage<'_>>(bytes) {
        let fits = answer.message().chars().count() <= 255;
        assert_eq!(payload::check_wire_message(answer.message()).is_ok(), fits);
    }
    results.iter().filter(|&&ok| ok).count()
}

/// The `payload_roundtrip` target.
pub(crate) fn payload_roundtrip(data: &[u8]) {
    decode_every_payload(data);
    if let Some(&b) = data.first() {
        if let Ok(kind) = FrameKind::from_byte(b) {
            assert_eq!(kind as u8, b, "FrameKind round trip");
        }
    }
}

// ---------------------------------------------------------------------------
// Key text
// ---------------------------------------------------------------------------

/// The `key_text` target: the OpenSSH line, fingerprint and UUID parsers on
/// the input as text; key, seed and id round trips on its first bytes.
pub(crate) fn key_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let s: &str = &text;

    let parsed = PublicKey::parse_openssh(s);
    assert_eq!(s.parse::<PublicKey>(), parsed.map(|(key, _)| key));
    match parsed {
        Ok((key, comment)) => {
            check_key_round_trips(&key);
            let line = key.to_openssh(comment).to_string();
            assert_eq!(
                PublicKey::parse_openssh(&line),
                Ok((key, comment)),
                "the printed line {line:?} does not parse back"
            );
            // A 51-byte blob has one base64 form: the input's key data is
            // exactly the printed one.
            let bare = key.to_string();
            let (_, rest) = s.trim().split_at(11);
            let data_field = rest
                .trim()
                .split(|c: char| c.is_ascii_whitespace())
                .next()
                .unwrap_or_default();
            assert_eq!(
                &bare[12..],
                data_field,
                "two texts for one key (non-canonical base64)"
            );
            assert_eq!(comment, comment.trim(), "an untrimmed comment");
        }
        Err(e) => {
            let _ = e.to_string();
            let _ = Error::from(e).to_string();
        }
    }

    match s.parse::<Fingerprint>() {
        Ok(fp) => {
            let printed = fp.to_string();
            assert_eq!(printed.parse::<Fingerprint>(), Ok(fp));
            assert_eq!(
                printed,
                s.trim(),
                "two texts for one fingerprint (non-canonical base64)"
            );
        }
        Err(e) => assert_eq!(e, KeyError::InvalidFingerprint),
    }

    match s.parse::<ApplicationId>() {
        Ok(id) => check_id_round_trips(&id),
        Err(e) => assert_eq!(e, Error::InvalidArgument(ArgumentError::InvalidUuid)),
    }

    // The raw-bytes round trips cost a scalar multiplication or two: only
    // for inputs of exactly 32 bytes, so the text parsers keep their speed.
    if let Ok(first) = <&[u8; 32]>::try_from(data) {
        match PublicKey::from_bytes(first) {
            Ok(key) => {
                assert_eq!(key.as_bytes(), first);
                check_key_round_trips(&key);
            }
            Err(e) => assert!(matches!(e, KeyError::InvalidPoint | KeyError::WeakKey)),
        }
        let identity = Identity::from_seed(first);
        assert_eq!(&*identity.to_seed(), first);
        check_key_round_trips(&identity.public_key());
    }
    if let Some(first) = data.first_chunk::<16>() {
        let id = ApplicationId::from_bytes(*first);
        assert_eq!(id.as_bytes(), first);
        check_id_round_trips(&id);
    }
}

fn check_key_round_trips(key: &PublicKey) {
    assert_eq!(PublicKey::from_bytes(&key.to_bytes()), Ok(*key));
    let bare = key.to_string();
    assert!(bare.starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
    assert_eq!(bare.len(), 12 + 68);
    assert_eq!(bare.parse::<PublicKey>(), Ok(*key));
    assert_eq!(PublicKey::parse_openssh(&bare), Ok((*key, "")));
    let fp = key.fingerprint();
    let printed = fp.to_string();
    assert!(printed.starts_with("SHA256:") && printed.len() == 7 + 43);
    assert_eq!(printed.parse::<Fingerprint>(), Ok(fp));
    assert_eq!(format!("{fp:?}"), printed);
}

fn check_id_round_trips(id: &ApplicationId) {
    let printed = id.to_string();
    assert_eq!(printed.len(), 36);
    assert!(printed
        .chars()
        .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(printed.parse::<ApplicationId>(), Ok(*id));
    let simple: String = printed.chars().filter(|&c| c != '-').collect();
    assert_eq!(simple.parse::<ApplicationId>(), Ok(*id));
    assert_eq!(format!("{{{printed}}}").parse::<ApplicationId>(), Ok(*id));
    assert_eq!(
        format!("urn:uuid:{printed}").parse::<ApplicationId>(),
        Ok(*id)
    );
    assert_eq!(printed.to_uppercase().parse::<ApplicationId>(), Ok(*id));
}
