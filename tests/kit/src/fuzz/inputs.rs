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
pub struct Chunk(pub Vec<u8>);

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
pub struct Text(pub String);

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
pub enum When {
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
pub enum ConfigSpec {
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
        /// How long the invitee's user has to answer, in milliseconds.
        response_ms: u32,
        /// How long the handshake may take, in milliseconds.
        handshake_ms: u32,
        /// The inviter's extra wait after the response timeout and for the
        /// acknowledgement of a Cancel, in milliseconds.
        grace_ms: u32,
        /// The keepalive interval, in milliseconds (unless it is 0, raised
        /// to a 256th of the response, grace and handshake timeouts' sum).
        keepalive_ms: u32,
        /// The silence tolerated while the invitation is pending, in
        /// milliseconds.
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

/// The invitee's policy.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySpec {
    /// [`Policy::Off`]: invitations turned off.
    Off,
    /// [`Policy::TrustedOnly`]: contacts only.
    TrustedOnly,
    /// [`Policy::Anyone`].
    Anyone,
}

/// A peer in Bob's directory.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactSpec {
    /// Not in the directory.
    Absent,
    /// A contact, allowed.
    Allowed,
    /// A contact, blocked.
    Blocked,
}

/// The invitee's directory.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirSpec {
    /// The policy.
    pub policy: PolicySpec,
    /// Alice, the honest inviter.
    pub alice: ContactSpec,
    /// Mallory, the adversary.
    pub mallory: ContactSpec,
    /// Whether chess is registered.
    pub chess: bool,
}

/// The invitee's directory: room for Alice and Mallory, and two
/// applications.
pub type Dir = FixedDirectory<2, 2>;

impl DirSpec {
    /// Bob's usual directory: trusted only, Alice a contact, chess
    /// registered.
    pub const USUAL: DirSpec = DirSpec {
        policy: PolicySpec::TrustedOnly,
        alice: ContactSpec::Allowed,
        mallory: ContactSpec::Absent,
        chess: true,
    };

    /// The directory this stands for.
    pub fn build(&self) -> Dir {
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

/// The invitee's user's decision.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum DecisionSpec {
    /// Accept, with this message.
    Accept(Text),
    /// Decline, with this message.
    Decline(Text),
    /// An application error, with this code and message.
    Fail(u32, Text),
    /// Busy: a sealed refusal.
    Busy,
}

impl DecisionSpec {
    /// The decision, or the error of a message over 255 characters, which
    /// no `Decision` can hold.
    pub fn decision(&self) -> Result<Decision<'_>, Error> {
        match self {
            DecisionSpec::Accept(m) => Decision::accept(&m.0),
            DecisionSpec::Decline(m) => Decision::decline(&m.0),
            DecisionSpec::Fail(code, m) => Decision::error(*code, &m.0),
            DecisionSpec::Busy => Ok(Decision::Busy),
        }
    }

    /// The message of the decision (none for Busy).
    pub(crate) fn message(&self) -> &str {
        match self {
            DecisionSpec::Accept(m) | DecisionSpec::Decline(m) | DecisionSpec::Fail(_, m) => &m.0,
            DecisionSpec::Busy => "",
        }
    }
}

/// Whom the inviter invites.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSpec {
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
    /// The target this stands for.
    pub fn target(&self) -> Target {
        match self {
            TargetSpec::Bob => Target::Contact(keys().bob_pk),
            TargetSpec::Carol => Target::Contact(keys().carol_pk),
            TargetSpec::AnyEndpoint => Target::AnyEndpoint,
            TargetSpec::Mallory => Target::Contact(keys().mallory_pk),
        }
    }
}

/// An application.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSpec {
    /// Chess, the recorded exchanges' application.
    Chess,
    /// Go, another application, never registered.
    Go,
    /// Any id, by its bytes.
    Raw([u8; 16]),
}

impl AppSpec {
    /// The application's id.
    pub fn id(&self) -> ApplicationId {
        match self {
            AppSpec::Chess => CHESS,
            AppSpec::Go => GO,
            AppSpec::Raw(b) => ApplicationId::from_bytes(*b),
        }
    }
}

/// An invitation's data.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// These bytes.
    Bytes(Chunk),
    /// This many zero bytes (over the small buffer's limit, or the
    /// protocol's, without a big input).
    Zeros(u16),
}

/// Enough zeros for any [`DataSpec::Zeros`].
static ZEROS: [u8; u16::MAX as usize] = [0; u16::MAX as usize];

impl DataSpec {
    /// The data.
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            DataSpec::Bytes(c) => &c.0,
            DataSpec::Zeros(n) => &ZEROS[..usize::from(*n)],
        }
    }
}

/// What the inviter invites to.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct InvitationSpec {
    /// The application.
    pub app: AppSpec,
    /// The message shown with it.
    pub message: Text,
    /// The data handed to the application.
    pub data: DataSpec,
}

impl InvitationSpec {
    /// The recorded exchanges' invitation.
    pub fn chess() -> Self {
        InvitationSpec {
            app: AppSpec::Chess,
            message: Text("A game?".into()),
            data: DataSpec::Bytes(Chunk(b"board=standard".to_vec())),
        }
    }

    /// The invitation's data.
    pub fn data(&self) -> &[u8] {
        self.data.bytes()
    }

    /// The invitation, or `None` after checking that `Invitation::new`
    /// refused it for the documented reason.
    pub(crate) fn make(&self) -> Option<Invitation<'_>> {
        let message = self.message.0.as_str();
        let data = self.data();
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
pub enum InviterOp {
    /// `handle_input` with these bytes.
    Input(When, Chunk),
    /// `handle_timeout`.
    Timeout(When),
    /// `handle_cancel`: Alice cancels.
    Cancel(When),
    /// `handle_close`: the connection closes.
    Close(When),
    /// One `poll_transmit` with a buffer of this size (in lazy mode the
    /// harness transmits only when told to).
    Transmit(u16),
}

/// An inviter (Alice) alone, fed by the fuzzer.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct InviterScript {
    /// Whether the inviter has the small buffer
    /// ([`SMALL`](super::SMALL)) rather than the default one.
    pub small: bool,
    /// The timers.
    pub config: ConfigSpec,
    /// Whom Alice invites.
    pub target: TargetSpec,
    /// What to.
    pub invitation: InvitationSpec,
    /// Alice's ephemeral: which of
    /// [`RECORDED_INVITER_EPHEMERALS`](super::RECORDED_INVITER_EPHEMERALS).
    pub ephemeral: u8,
    /// Whether to transmit only when an op says so, rather than drain
    /// after every op.
    pub lazy: bool,
    /// The calls, in order.
    pub ops: Vec<InviterOp>,
}

/// One call into a lone invitee.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum InviteeOp {
    /// `handle_input` with these bytes and the directory.
    Input(When, Chunk),
    /// `handle_timeout`.
    Timeout(When),
    /// `handle_decision`: the user decides.
    Decide(When, DecisionSpec),
    /// `handle_close`: the connection closes.
    Close(When),
    /// One `poll_transmit` with a buffer of this size.
    Transmit(u16),
    /// The directory changes (a contact blocked mid-handshake, ...).
    Directory(DirSpec),
}

/// An invitee (Bob) alone, fed by the fuzzer.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct InviteeScript {
    /// Whether the invitee has the small buffer
    /// ([`SMALL`](super::SMALL)) rather than the default one.
    pub small: bool,
    /// The timers.
    pub config: ConfigSpec,
    /// Bob's directory at the start.
    pub directory: DirSpec,
    /// Bob's ephemeral: which of
    /// [`RECORDED_INVITEE_EPHEMERALS`](super::RECORDED_INVITEE_EPHEMERALS).
    pub ephemeral: u8,
    /// Whether to transmit only when an op says so, rather than drain
    /// after every op.
    pub lazy: bool,
    /// The calls, in order.
    pub ops: Vec<InviteeOp>,
}

/// A direction on the network, named by who receives.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    /// From Alice to Bob.
    ToInvitee,
    /// From Bob to Alice.
    ToInviter,
}

/// What the adversary does to the first frame in flight.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Flip this bit (modulo the frame's bits).
    FlipBit(u16),
    /// Set the byte at this index (modulo the frame's length) to this.
    SetByte(u16, u8),
    /// Keep this many bytes (modulo the frame's length plus one).
    Truncate(u16),
    /// Append these bytes.
    Extend(Chunk),
    /// Overwrite the length prefix.
    Length(u16),
    /// Overwrite the kind byte.
    Kind(u8),
}

/// One step of the network variant.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum NetOp {
    /// Deliver the first frame in flight.
    Deliver(Way),
    /// Deliver it in two pieces.
    DeliverSplit(Way, u16),
    /// Deliver everything, both ways, until both are quiet.
    DeliverAll,
    /// Drop the first frame in flight.
    Drop(Way),
    /// Duplicate the first frame in flight.
    Duplicate(Way),
    /// Swap the first two frames in flight.
    Swap(Way),
    /// Change the first frame in flight.
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
    /// Bob's directory changes.
    Directory(DirSpec),
}

/// A real exchange between Alice and Bob, each an honest state machine, over
/// a network the fuzzer controls.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct NetScript {
    /// Whether Alice has the small buffer ([`SMALL`](super::SMALL)).
    pub small_inviter: bool,
    /// Whether Bob has the small buffer.
    pub small_invitee: bool,
    /// The timers, the same on both sides.
    pub config: ConfigSpec,
    /// Whom Alice invites.
    pub target: TargetSpec,
    /// What to.
    pub invitation: InvitationSpec,
    /// Bob's directory at the start.
    pub directory: DirSpec,
    /// Alice's ephemeral, of the network variant's own.
    pub inviter_ephemeral: u8,
    /// Bob's ephemeral, of the network variant's own.
    pub invitee_ephemeral: u8,
    /// The steps, in order; then the harness delivers what is in flight
    /// and runs the deadlines until both sides are over.
    pub ops: Vec<NetOp>,
}

/// A key the adversary puts in a proof.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    /// Mallory's, the adversary's own.
    Mallory,
    /// Alice's.
    Alice,
    /// Bob's.
    Bob,
    /// The identity point: a weak key.
    Weak,
    /// Any 32 bytes.
    Raw([u8; 32]),
}

/// The signature next to it.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigSpec {
    /// Mallory's, over the right label and this session's hash: valid
    /// with her key, and the only valid signature the adversary can make.
    Valid,
    /// Mallory's, under the other role's label.
    OtherLabel,
    /// Mallory's, over another hash.
    OtherHash,
    /// Any 64 bytes.
    Raw([u8; 64]),
}

/// The adversary's Proof payload.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum ProofSpec {
    /// A well-formed payload with this key and this signature.
    Fields(KeySpec, SigSpec),
    /// Any bytes (the first 1024).
    Raw(Chunk),
}

/// An answer the adversary seals.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum AnswerSpec {
    /// `Declined`, with this message.
    Declined(Text),
    /// `Accepted`, with this message.
    Accepted(Text),
    /// `Expired`.
    Expired,
    /// `Error`, with this code and message.
    Error(u32, Text),
    /// `Refused` with the reason of this tag (modulo the number of reasons).
    Refused(u8),
    /// `Cancelled`: the acknowledgement of a Cancel.
    Cancelled,
    /// `TooLarge` naming this length, or (`None`) the Invite's real one.
    TooLarge(Option<u32>),
    /// Any plaintext.
    Raw(Chunk),
}

/// One step of the adversary playing the invitee.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum FakeInviteeOp {
    /// Seal an answer under the next nonce, or under this one.
    Answer(Option<u8>, AnswerSpec),
    /// These bytes, as they are, outside the channel.
    Raw(Chunk),
    /// Time passes: `handle_timeout`.
    Time(When),
    /// Alice cancels.
    Cancel,
    /// The connection closes.
    Close,
}

/// An inviter (Alice) against an adversary that completes a genuine Noise
/// channel with its own ephemeral, proves whatever key it likes (it can
/// sign only as Mallory), and seals whatever answers it likes.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct FakeInviteeScript {
    /// Alice's timers.
    pub config: ConfigSpec,
    /// Whom Alice invites.
    pub target: TargetSpec,
    /// What to.
    pub invitation: InvitationSpec,
    /// Alice's ephemeral: which of
    /// [`RECORDED_INVITER_EPHEMERALS`](super::RECORDED_INVITER_EPHEMERALS).
    pub ephemeral: u8,
    /// The adversary's ephemeral, of its own.
    pub adversary_ephemeral: u8,
    /// The Proof it answers Alice's Hello with.
    pub proof: ProofSpec,
    /// The steps after the Proof, in order.
    pub ops: Vec<FakeInviteeOp>,
}

/// An Invite the adversary seals.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct InviteSpec {
    /// The application.
    pub app: AppSpec,
    /// The message.
    pub message: Text,
    /// The data.
    pub data: DataSpec,
    /// The key it claims to be from.
    pub key: KeySpec,
    /// The signature next to it.
    pub sig: SigSpec,
}

/// A plaintext the adversary seals as the inviter.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum InviterPlain {
    /// An Invite.
    Invite(InviteSpec),
    /// A Cancel.
    Cancel,
    /// Any plaintext.
    Raw(Chunk),
}

/// One step of the adversary playing the inviter.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum FakeInviterOp {
    /// Seal this under the next nonce, or under this one.
    Seal(Option<u8>, InviterPlain),
    /// These bytes, as they are, outside the channel.
    Raw(Chunk),
    /// Time passes: `handle_timeout`.
    Time(When),
    /// Bob's user decides.
    Decide(When, DecisionSpec),
    /// The connection closes.
    Close,
    /// Bob's directory changes.
    Directory(DirSpec),
}

/// An invitee (Bob) against an adversary that sends a Hello with its own
/// ephemeral, reads Bob's Proof, and seals whatever it likes (it can sign
/// only as Mallory).
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct FakeInviterScript {
    /// Whether Bob has the small buffer ([`SMALL`](super::SMALL)).
    pub small: bool,
    /// Bob's timers.
    pub config: ConfigSpec,
    /// Bob's directory at the start.
    pub directory: DirSpec,
    /// Bob's ephemeral: which of
    /// [`RECORDED_INVITEE_EPHEMERALS`](super::RECORDED_INVITEE_EPHEMERALS).
    pub ephemeral: u8,
    /// The adversary's ephemeral, of its own.
    pub adversary_ephemeral: u8,
    /// The steps after the Hello, in order.
    pub ops: Vec<FakeInviterOp>,
}

/// The `inviter` target's input.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum InviterInput {
    /// The inviter alone.
    Alone(InviterScript),
    /// A real exchange over a hostile network.
    Network(NetScript),
    /// The inviter against the adversary playing the invitee.
    Adversary(FakeInviteeScript),
}

/// The `invitee` target's input.
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub enum InviteeInput {
    /// The invitee alone.
    Alone(InviteeScript),
    /// A real exchange over a hostile network.
    Network(NetScript),
    /// The invitee against the adversary playing the inviter.
    Adversary(FakeInviterScript),
}

/// Decodes a structured input the way `fuzz_target!` does.
pub fn decode<'a, T: Arbitrary<'a>>(data: &'a [u8]) -> Option<T> {
    T::arbitrary_take_rest(Unstructured::new(data)).ok()
}
