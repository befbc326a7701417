//! The input types: what the fuzzer's bytes decode to (`Arbitrary`), the
//! scripts of every variant and their parts, what each stands for in
//! `beckon_core`'s terms, and [`decode`], the decoding `fuzz_target!` does.

use arbitrary::{Arbitrary, Unstructured};
use beckon_core::*;
use embassy_time::{Duration, Instant};

use super::fixtures::{keys, CHESS, GO, T0};

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

fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(Instant::MAX)
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
pub(crate) fn deadline_rounds(config: &Config) -> usize {
    let waits = config.handshake_timeout + config.response_timeout + config.grace;
    let keepalives = waits.as_ticks() / config.keepalive_interval.as_ticks().max(1);
    8 + 2 * usize::try_from(keepalives.min(1024)).unwrap_or(1024)
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

    pub(crate) fn message(&self) -> &str {
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
    pub(crate) fn make<'a>(&'a self, data: &'a [u8]) -> Option<Invitation<'a>> {
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

/// Decodes a structured input the way `fuzz_target!` does.
pub(crate) fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}
