//! The world: nodes, a network of byte-stream links, an attacker, users
//! and a virtual clock, all driven from one seed, with the invariants
//! checked as each step happens.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::Write as _;

use beckon_core::internal::frame::{
    invite_frame_len, FrameKind, ANSWER_FRAME_MAX, CANCEL_FRAME_LEN, HEADER_LEN, HELLO_FRAME_LEN,
    KEEPALIVE_FRAME_LEN, PROOF_FRAME_LEN,
};
use beckon_core::limits::PROTOCOL_VERSION;
use beckon_core::wire::{refusal_frame, ClearRefusal, REFUSAL_FRAME_LEN};
use beckon_core::{
    ApplicationId, ArgumentError, Contact, Decision, Directory, EphemeralSecret, Error,
    FixedDirectory, Identity, Invitation, Invitee, InviteeEvent, InviteeOutcome, Inviter,
    InviterEvent, Machine, Message, Output, Permission, Policy, PublicKey, Refusal, Response,
    SessionError, Target,
};
use embassy_time::{Duration, Instant};

use crate::evil::{self, EvilInitiator, InviteLie, ProofLie};
use crate::options::{Bug, Faults, Options, Overrides, FAULT_KINDS, STEP_LIMIT};
use crate::report::{Invariant, Report, Violation};
use crate::rng::{Fnv, Rng};

/// Contacts a node's directory holds.
const CONTACTS: usize = 8;
/// Registrations a node's directory holds.
const APPS: usize = 4;
type Dir = FixedDirectory<CONTACTS, APPS>;

/// The applications of the world; each node registers some of them.
const APP_IDS: [ApplicationId; 4] = [
    ApplicationId::from_bytes([0xA1; 16]),
    ApplicationId::from_bytes([0xA2; 16]),
    ApplicationId::from_bytes([0xA3; 16]),
    ApplicationId::from_bytes([0xA4; 16]),
];

/// The world's clock starts here (any instant would do).
const START: Instant = Instant::from_secs(1_000);
/// A connection crossing a partition longer than this is reset at both
/// ends (TCP gives up).
const TCP_GIVE_UP: Duration = Duration::from_secs(20);
/// The most an inviter can ever send besides its keepalives: Hello,
/// Invite, Cancel.
const INVITER_TX_MAX: usize =
    HELLO_FRAME_LEN + invite_frame_len(beckon_core::limits::MAX_DATA_LEN) + CANCEL_FRAME_LEN;
/// The most an invitee can ever send besides its keepalives: Proof and
/// Answer.
const INVITEE_TX_MAX: usize = PROOF_FRAME_LEN + ANSWER_FRAME_MAX;
/// Recorded frames and streams the attacker keeps.
const RECORD_CAP: usize = 48;
/// Bytes of one recorded stream the attacker keeps.
const STREAM_CAP: usize = 4096;
/// Bytes a session's receive log keeps (the oracle reads the first frames).
const RX_LOG_CAP: usize = 4096;

type NodeId = usize;
type SessId = usize;
type ConnId = usize;
type InvId = usize;
type ScriptId = usize;

// ---------------------------------------------------------------------------
// Entities

#[derive(Debug, Clone, Copy)]
struct UserStyle {
    accept: u32,
    decline: u32,
    fail: u32,
    busy: u32,
}

struct Node {
    name: String,
    identity: Identity,
    key: PublicKey,
    attacker: bool,
    /// A constrained device: its invitee takes at most `SMALL_DATA` bytes.
    small: bool,
    dir: Dir,
    /// The directory as it was at the start (for the planted bug).
    stale: Dir,
    /// Invitee sessions not finished.
    live: usize,
    user: UserStyle,
    rng: Rng,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelPlan {
    None,
    At(Duration),
    Race,
    AfterVerified,
}

struct Inv {
    from: NodeId,
    to: NodeId,
    endpoint: bool,
    app: ApplicationId,
    message: String,
    data: Vec<u8>,
    start: Instant,
    cancel: CancelPlan,
    phase2: bool,
    session: Option<SessId>,
}

/// A session's state machine. Both roles, and an invitee of either buffer
/// size, are driven alike through the core's one contract
/// ([`beckon_core::Machine`], seen through [`Driven`]); only a role's own
/// inputs (the inviter's cancel, the invitee's decision) name the role.
enum Role {
    Inviter(Box<Inviter>),
    Invitee(Box<dyn Answering>),
}

impl Role {
    /// The machine, whichever role it plays.
    fn machine(&mut self) -> &mut dyn Driven {
        match self {
            Role::Inviter(m) => &mut **m,
            Role::Invitee(m) => &mut **m,
        }
    }

    fn machine_ref(&self) -> &dyn Driven {
        match self {
            Role::Inviter(m) => &**m,
            Role::Invitee(m) => &**m,
        }
    }

    fn is_inviter(&self) -> bool {
        matches!(self, Role::Inviter(_))
    }
}

/// The data limit of a constrained node's invitee (an embedded device).
const SMALL_DATA: usize = 32;
const SMALL_BUF: usize = beckon_core::wire::buffer_size(SMALL_DATA);

/// Either role's event.
enum SessionEvent {
    Inviter(InviterEvent),
    Invitee(InviteeEvent),
}

impl From<InviterEvent> for SessionEvent {
    fn from(e: InviterEvent) -> Self {
        SessionEvent::Inviter(e)
    }
}

impl From<InviteeEvent> for SessionEvent {
    fn from(e: InviteeEvent) -> Self {
        SessionEvent::Invitee(e)
    }
}

/// What a machine consults while it reads, taken from its node's
/// directory: nothing for an inviter, the directory for an invitee.
trait FromDir {
    fn from_dir(dir: &Dir) -> &Self;
}

impl FromDir for () {
    fn from_dir(_: &Dir) -> &Self {
        &()
    }
}

impl FromDir for dyn Directory {
    fn from_dir(dir: &Dir) -> &Self {
        dir
    }
}

/// A session's machine as the world drives it: [`Machine`] with the node's
/// directory for context and either role's events. One impl, generic over
/// every `M: Machine`, serves both roles and every buffer size.
trait Driven {
    fn input(&mut self, now: Instant, data: &[u8], dir: &Dir);
    fn timeout(&mut self, now: Instant);
    fn close(&mut self, now: Instant);
    fn output(&mut self, buf: &mut [u8]) -> Output<SessionEvent>;
    fn deadline(&self) -> Option<Instant>;
}

impl<M> Driven for M
where
    M: Machine,
    M::Context: FromDir,
    M::Event: Into<SessionEvent>,
{
    fn input(&mut self, now: Instant, data: &[u8], dir: &Dir) {
        self.handle_input(now, data, M::Context::from_dir(dir));
    }
    fn timeout(&mut self, now: Instant) {
        self.handle_timeout(now);
    }
    fn close(&mut self, now: Instant) {
        self.handle_close(now);
    }
    fn output(&mut self, buf: &mut [u8]) -> Output<SessionEvent> {
        match self.poll_output(buf) {
            Output::Transmit(n) => Output::Transmit(n),
            Output::Event(e) => Output::Event(e.into()),
            Output::Wait(at) => Output::Wait(at),
            Output::Done => Output::Done,
        }
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
}

/// An invitee of any buffer size (`Invitee<BUF>` for every `BUF`): what
/// the world drives, and the invitee's own input and getter.
trait Answering: Driven {
    fn decide(&mut self, now: Instant, decision: Decision<'_>) -> Result<(), Error>;
    fn shown(&self) -> Option<Invitation<'_>>;
}

impl<const BUF: usize> Answering for Invitee<BUF> {
    fn decide(&mut self, now: Instant, decision: Decision<'_>) -> Result<(), Error> {
        self.handle_decision(now, decision)
    }
    fn shown(&self) -> Option<Invitation<'_>> {
        self.invitation()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accept,
    Decline,
    Fail(u32),
    Busy,
}

struct PromptRec {
    deadline: Instant,
    inviter: PublicKey,
    is_contact: bool,
    application: ApplicationId,
    inv: Option<InvId>,
}

struct Session {
    node: NodeId,
    role: Role,
    conn: ConnId,
    side: usize,
    inv: Option<InvId>,
    started: Instant,
    events: u32,
    finished_at: Option<Instant>,
    inviter_result: Option<Result<Response, SessionError>>,
    invitee_outcome: Option<InviteeOutcome>,
    verified: Option<(PublicKey, Instant)>,
    prompt: Option<PromptRec>,
    decision: Option<(Kind, Instant, String)>,
    tx: Vec<u8>,
    rx: Vec<u8>,
    timer_at: Option<Instant>,
    /// Its socket is gone: nothing more is read or written.
    closed: bool,
    checked_invite: bool,
    proof_registered: bool,
    drain_pending: bool,
    /// The inviter cancelled (after the Invite) while the session ran.
    cancelled_after_invite: bool,
    /// The inviter cancelled before its Invite went out.
    cancelled_before_invite: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attack {
    None,
    Tap,
    Tamper,
    Reflect,
    Impersonate,
    ReplayProof,
    ForgedProof,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Session(SessId),
    Script(ScriptId),
    Gone,
}

#[derive(Default)]
struct Pipe {
    q: VecDeque<(Instant, Vec<u8>)>,
    last: Option<Instant>,
    fin: bool,
    fin_done: bool,
    stall_until: Option<Instant>,
    tap: Vec<u8>,
}

struct Conn {
    ends: [End; 2],
    nodes: [NodeId; 2],
    pipes: [Pipe; 2],
    accepted: bool,
    attack: Attack,
    /// Reset, half-open or given up under a partition, and when.
    broke: Option<Instant>,
    tampered: bool,
    delayed: bool,
    dead: bool,
    rng: Rng,
    stream: Option<usize>,
}

enum ScriptKind {
    /// A: sends a recorded inviter stream.
    Replay(Vec<u8>),
    /// A: connects and sends nothing, or only a Hello.
    Idle,
    /// A: a random Hello, then a random Sealed frame after the Proof.
    Forge,
    /// A: a Hello of another version.
    BadVersion(u8),
    /// B: answers a Hello with a recorded Proof (of the target node, if
    /// any) and then a recorded answer.
    ReplayProof(Vec<u8>, Option<Vec<u8>>),
    /// A: a real handshake with its own Noise, then a lying Invite.
    EvilInvite {
        state: Option<EvilInitiator>,
        lie: InviteLie,
        victim: NodeId,
        attacker: NodeId,
        copy: Option<InvId>,
    },
    /// B: a real Noise responder whose Proof lies about who it is.
    EvilProof {
        lie: ProofLie,
        claimed: NodeId,
        attacker: NodeId,
        sent: bool,
    },
}

struct Script {
    conn: ConnId,
    side: usize,
    kind: ScriptKind,
    got: usize,
    inbox: Vec<u8>,
    stage: u32,
    closed: bool,
    rng: Rng,
}

struct Partition {
    group: Vec<bool>,
    start: Instant,
    heal: Instant,
}

#[derive(Debug, Clone, Copy)]
enum Ev {
    StartInvitation(InvId),
    Accept(ConnId),
    Deliver(ConnId, usize),
    CloseNotify(ConnId, usize),
    Timer(SessId, bool),
    Decide(SessId, Kind, &'static str),
    Cancel(SessId),
    Drain(SessId),
    Reset(ConnId, usize),
    HalfOpen(ConnId, usize),
    Stall(ConnId, usize, Duration),
    PartitionStart(usize),
    PartitionGiveUp(usize),
    PartitionHeal(usize),
    Attacker(u64),
    ScriptStep(ScriptId),
    Policy(u64),
    PolicyAt(NodeId, u64),
    Phase2,
}

struct Item {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at && self.seq == o.seq
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    // Reversed: BinaryHeap is a max-heap and the earliest comes first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.at.cmp(&self.at).then(o.seq.cmp(&self.seq))
    }
}

// ---------------------------------------------------------------------------
// The world

pub(crate) struct World {
    o: Options,
    rng: Rng,
    now: Instant,
    step: usize,
    seq: u64,
    queue: BinaryHeap<Item>,
    nodes: Vec<Node>,
    invs: Vec<Inv>,
    sessions: Vec<Session>,
    conns: Vec<Conn>,
    scripts: Vec<Script>,
    partitions: Vec<Partition>,
    /// Attacked node pairs (unordered, honest nodes).
    targeted: Vec<(NodeId, NodeId)>,
    /// Proof frames any invitee produced: the session and the Hello it
    /// answered.
    proofs: HashMap<Vec<u8>, (SessId, Vec<u8>)>,
    rec_streams: Vec<Vec<u8>>,
    rec_frames: Vec<Vec<u8>>,
    rec_proofs: Vec<(NodeId, Vec<u8>)>,
    rec_answers: Vec<(NodeId, Vec<u8>)>,
    phase2_at: Instant,
    in_phase2: bool,
    violation: Option<Violation>,
    faults: std::collections::BTreeMap<&'static str, u64>,
    fault_kinds: std::collections::BTreeMap<&'static str, u64>,
    cases: std::collections::BTreeMap<&'static str, u64>,
    trace_on: bool,
    trace: Vec<String>,
    hash: Fnv,
    buf: Vec<u8>,
}

fn t_us(t: Instant) -> u64 {
    t.as_micros().saturating_sub(START.as_micros())
}

fn fmt_t(t: Instant) -> String {
    let us = t_us(t);
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

fn short_key(k: &PublicKey) -> String {
    k.as_bytes()[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn first_frame(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let len = usize::from(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]));
    let frame = bytes.get(..2 + len)?;
    Some((*frame.get(2)?, frame))
}

fn result_label(r: &Result<Response, SessionError>) -> String {
    match r {
        Ok(Response::Accepted) => "Accepted".into(),
        Ok(Response::Declined) => "Declined".into(),
        Ok(Response::Expired) => "Expired".into(),
        Ok(Response::Error { .. }) => "Error{code}".into(),
        Err(SessionError::Refused {
            reason,
            authenticated,
        }) => format!(
            "Refused({reason:?}, {})",
            if *authenticated { "sealed" } else { "clear" }
        ),
        Err(SessionError::Protocol(e)) => format!("Protocol({e:?})"),
        Err(SessionError::UnsupportedVersion { .. }) => "UnsupportedVersion".into(),
        Err(e) => format!("{e:?}"),
    }
}

fn outcome_label(o: &InviteeOutcome) -> String {
    match o {
        InviteeOutcome::Accepted(_) => "Accepted".into(),
        InviteeOutcome::Error { .. } => "Errored{code}".into(),
        InviteeOutcome::Failed(SessionError::Protocol(e)) => format!("Failed(Protocol({e:?}))"),
        InviteeOutcome::Failed(SessionError::UnsupportedVersion { .. }) => {
            "Failed(UnsupportedVersion)".into()
        }
        other => format!("{other:?}"),
    }
}

/// Whether the inviter's result matches the invitee's final outcome as it
/// does when the Answer arrives (`docs/protocol.md` §8.4).
fn agrees(r: &Result<Response, SessionError>, o: &InviteeOutcome) -> bool {
    match o {
        InviteeOutcome::Accepted(_) => matches!(r, Ok(Response::Accepted)),
        InviteeOutcome::Declined => matches!(r, Ok(Response::Declined)),
        InviteeOutcome::Error { code } => *r == Ok(Response::Error { code: *code }),
        InviteeOutcome::Expired => matches!(r, Ok(Response::Expired)),
        InviteeOutcome::Cancelled => matches!(r, Err(SessionError::Cancelled)),
        InviteeOutcome::Refused(reason) => {
            matches!(r, Err(SessionError::Refused { reason: x, .. }) if x == reason)
        }
        // The world never evicts (`on_invitee_event` checks it); an evicted
        // session said Busy, or closed without a word.
        InviteeOutcome::Evicted { busy_sent: true } => matches!(
            r,
            Err(SessionError::Refused {
                reason: Refusal::Busy,
                ..
            })
        ),
        InviteeOutcome::Failed(_) | InviteeOutcome::Evicted { busy_sent: false } => !matches!(
            r,
            Ok(_)
                | Err(SessionError::Refused {
                    authenticated: true,
                    ..
                })
        ),
    }
}

/// What the oracle's own reading of the policy says about an inviter.
fn policy_allows(dir: &Dir, key: &PublicKey, app: &ApplicationId) -> Result<bool, &'static str> {
    let perm = dir.contact(key).map(Contact::permission);
    match (dir.policy(), perm) {
        (Policy::Off, _) => Err("invitations are off"),
        (_, Some(Permission::Blocked)) => Err("the inviter is blocked"),
        (Policy::TrustedOnly, None) => Err("trusted-only and the inviter is not a contact"),
        _ if dir.registration(app).is_none() => Err("the application is not registered"),
        _ => Ok(perm == Some(Permission::Allowed)),
    }
}

/// The refusal the policy gives at the Invite, in the order of
/// `docs/protocol.md` §9.2 (the data is always within the limit here).
fn expected_refusal(
    dir: &Dir,
    key: &PublicKey,
    app: &ApplicationId,
    too_large: bool,
) -> Option<Refusal> {
    match (dir.policy(), dir.contact(key).map(Contact::permission)) {
        (Policy::Off, _) => Some(Refusal::InvitationsOff),
        (_, Some(Permission::Blocked)) => Some(Refusal::Blocked),
        (Policy::TrustedOnly, None) => Some(Refusal::NotTrusted),
        _ if too_large => Some(Refusal::TooLarge),
        _ if dir.registration(app).is_none() => Some(Refusal::ApplicationNotRegistered),
        _ => None,
    }
}

impl World {
    pub(crate) fn new(o: Options, trace_on: bool) -> World {
        let seed = o.seed;
        let mut w = World {
            rng: Rng::derive(seed, "world", 0),
            now: START,
            step: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            nodes: Vec::new(),
            invs: Vec::new(),
            sessions: Vec::new(),
            conns: Vec::new(),
            scripts: Vec::new(),
            partitions: Vec::new(),
            targeted: Vec::new(),
            proofs: HashMap::new(),
            rec_streams: Vec::new(),
            rec_frames: Vec::new(),
            rec_proofs: Vec::new(),
            rec_answers: Vec::new(),
            phase2_at: START,
            in_phase2: false,
            violation: None,
            faults: Default::default(),
            fault_kinds: Default::default(),
            cases: Default::default(),
            trace_on,
            trace: Vec::new(),
            hash: Fnv::default(),
            buf: vec![0u8; 1 << 15],
            o,
        };
        w.build();
        w
    }

    // --- Building the world from the seed --------------------------------

    fn build(&mut self) {
        let seed = self.o.seed;
        let total = self.o.nodes + self.o.attackers;
        for i in 0..total {
            let mut rng = Rng::derive(seed, "node", i as u64);
            let attacker = i >= self.o.nodes;
            let identity = Identity::from_seed(&rng.bytes());
            let name = if attacker {
                format!("x{}", i - self.o.nodes)
            } else {
                format!("n{i}")
            };
            let small = !attacker && rng.chance(200);
            let user = UserStyle {
                accept: rng.range(100, 500) as u32,
                decline: rng.range(50, 300) as u32,
                fail: rng.range(0, 60) as u32,
                busy: rng.range(0, 60) as u32,
            };
            self.nodes.push(Node {
                name,
                key: identity.public_key(),
                identity,
                attacker,
                small,
                dir: Dir::new(Policy::Anyone),
                stale: Dir::new(Policy::Anyone),
                live: 0,
                user,
                rng,
            });
        }
        // Directories, once every key is known.
        for i in 0..total {
            let mut rng = Rng::derive(seed, "directory", i as u64);
            let mut dir = if self.nodes[i].attacker {
                Dir::new(Policy::Anyone)
            } else {
                Dir::new(match rng.below(20) {
                    0..=2 => Policy::Off,
                    3..=11 => Policy::TrustedOnly,
                    _ => Policy::Anyone,
                })
            };
            for j in 0..total {
                if j == i || self.nodes[i].attacker || !rng.chance(650) {
                    continue;
                }
                let blocked = rng.chance(150);
                let c = Contact::new(self.nodes[j].key, &self.nodes[j].name, "")
                    .expect("a short name")
                    .with_permission(if blocked {
                        Permission::Blocked
                    } else {
                        Permission::Allowed
                    });
                let _ = dir.add_contact(c);
            }
            for app in APP_IDS {
                if self.nodes[i].attacker || rng.chance(600) {
                    let _ = dir.register(app, "app");
                }
            }
            self.nodes[i].stale = dir.clone();
            self.nodes[i].dir = dir;
        }
        // The attacker's links.
        if self.o.attackers > 0 && self.o.faults.any(Faults::ATTACKS) {
            let mut rng = Rng::derive(seed, "links", 0);
            for a in 0..self.o.nodes {
                for b in a + 1..self.o.nodes {
                    if rng.chance(400) {
                        self.targeted.push((a, b));
                    }
                }
            }
            if self.targeted.is_empty() && self.o.nodes >= 2 {
                self.targeted.push((0, 1));
            }
        }
        // Invitations.
        let window = self.o.window;
        for k in 0..self.o.invitations {
            let mut rng = Rng::derive(seed, "invitation", k as u64);
            let from = if self.o.attackers > 0 && rng.chance(150) {
                self.o.nodes + rng.index(self.o.attackers)
            } else {
                rng.index(self.o.nodes)
            };
            let mut to = rng.index(self.o.nodes);
            if to == from {
                to = (to + 1) % self.o.nodes;
            }
            let start = START + Duration::from_micros(rng.below(window.as_micros()));
            let cancel = if self.o.faults.has(Faults::CANCEL) {
                match rng.below(10) {
                    0 => CancelPlan::At(Duration::from_micros(
                        rng.below(4 * (self.o.latency + self.o.jitter).as_micros() + 1),
                    )),
                    1 => CancelPlan::At(Duration::from_millis(rng.below(
                        (self.o.config.response_timeout + self.o.config.grace).as_millis(),
                    ))),
                    2..=3 => CancelPlan::Race,
                    4 => CancelPlan::AfterVerified,
                    _ => CancelPlan::None,
                }
            } else {
                CancelPlan::None
            };
            // Mostly small; now and then the largest message and data the
            // protocol allows.
            let big = rng.chance(20);
            let data_len = if big {
                beckon_core::limits::MAX_DATA_LEN
            } else {
                rng.range(0, 80) as usize
            };
            let mut message = format!("i{k}");
            if big || rng.chance(30) {
                message.push('|');
                while message.chars().count() < 255 {
                    message.push('\u{1F600}');
                }
            }
            self.invs.push(Inv {
                from,
                to,
                endpoint: rng.chance(self.o.endpoint_per_mille),
                app: APP_IDS[rng.index(APP_IDS.len())],
                message,
                data: rng.vec(data_len),
                start,
                cancel,
                phase2: false,
                session: None,
            });
            self.schedule(start, Ev::StartInvitation(k));
        }
        // Network faults that are not tied to one connection.
        let f = self.o.faults;
        let intensity = u64::from(self.o.intensity);
        if f.has(Faults::PARTITION) {
            let mut rng = Rng::derive(seed, "partitions", 0);
            for p in 0..rng.range(1, 2 * intensity) as usize {
                let start = START + Duration::from_micros(rng.below(window.as_micros()));
                let len = Duration::from_millis(rng.range(500, 60_000));
                let heal = (start + len).min(START + window);
                let group = (0..total).map(|_| rng.chance(500)).collect();
                self.partitions.push(Partition { group, start, heal });
                self.schedule(start, Ev::PartitionStart(p));
            }
        }
        if f.any(Faults::REPLAY | Faults::FLOOD) && self.o.attackers > 0 {
            let mut rng = Rng::derive(seed, "attacks", 0);
            for k in 0..rng.range(1, 3 * intensity) {
                let at = START + Duration::from_micros(rng.below(window.as_micros()));
                self.schedule(at, Ev::Attacker(k));
            }
        }
        if f.has(Faults::POLICY) {
            let mut rng = Rng::derive(seed, "policy", 0);
            for k in 0..rng.range(1, 2 * intensity * self.o.nodes as u64) {
                let at = START + Duration::from_micros(rng.below(window.as_micros()));
                self.schedule(at, Ev::Policy(k));
            }
        }
        let c = self.o.config;
        self.phase2_at = START
            + window
            + c.handshake_timeout
            + c.response_timeout
            + c.grace
            + Duration::from_secs(60);
        self.schedule(self.phase2_at, Ev::Phase2);
        self.preamble();
    }

    fn preamble(&mut self) {
        let options = self.o.to_string();
        for line in options.lines() {
            self.emit(format!("option {line}"));
        }
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            let mut s = format!(
                "node {} key {} {}",
                n.name,
                short_key(&n.key),
                if n.attacker {
                    "attacker"
                } else if n.small {
                    "honest constrained (data <= 32 B)"
                } else {
                    "honest"
                }
            );
            if !n.attacker {
                let _ = write!(s, " policy {:?} contacts [", n.dir.policy());
                for c in n.dir.contacts() {
                    let _ = write!(
                        s,
                        "{}{} ",
                        c.nickname(),
                        if c.permission() == Permission::Blocked {
                            "(blocked)"
                        } else {
                            ""
                        }
                    );
                }
                s.push_str("] apps [");
                for r in n.dir.registrations() {
                    let _ = write!(s, "{} ", app_name(&r.id()));
                }
                let _ = write!(
                    s,
                    "] user accept {}‰ decline {}‰ fail {}‰ busy {}‰",
                    n.user.accept, n.user.decline, n.user.fail, n.user.busy
                );
            }
            self.emit(s);
        }
        if !self.targeted.is_empty() {
            let links: Vec<String> = self
                .targeted
                .iter()
                .map(|(a, b)| format!("{}-{}", self.nodes[*a].name, self.nodes[*b].name))
                .collect();
            self.emit(format!("attacker on links {}", links.join(" ")));
        }
        for k in 0..self.invs.len() {
            let i = &self.invs[k];
            let s = format!(
                "invitation {} at {} {} -> {} {} app {} data {}B cancel {}",
                short_msg(&i.message),
                fmt_t(i.start),
                self.nodes[i.from].name,
                self.nodes[i.to].name,
                if i.endpoint { "endpoint" } else { "contact" },
                app_name(&i.app),
                i.data.len(),
                match i.cancel {
                    CancelPlan::None => "none".to_string(),
                    CancelPlan::Race => "racing the answer".to_string(),
                    CancelPlan::AfterVerified => "right after the Proof".to_string(),
                    CancelPlan::At(d) => format!("after {}ms", d.as_millis()),
                }
            );
            self.emit(s);
        }
        let lines: Vec<String> = self
            .partitions
            .iter()
            .map(|p| {
                let g: Vec<&str> = (0..self.nodes.len())
                    .filter(|i| p.group[*i])
                    .map(|i| self.nodes[i].name.as_str())
                    .collect();
                format!(
                    "partition [{}] from {} to {}",
                    g.join(" "),
                    fmt_t(p.start),
                    fmt_t(p.heal)
                )
            })
            .collect();
        for line in lines {
            self.emit(line);
        }
    }

    // --- Plumbing ---------------------------------------------------------

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Item {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        });
    }

    fn emit(&mut self, line: String) {
        self.hash.write(line.as_bytes());
        self.hash.write(b"\n");
        if self.trace_on {
            self.trace.push(line);
        }
    }

    fn log(&mut self, what: String) {
        let line = format!("[{}] #{} {}", fmt_t(self.now), self.step, what);
        self.emit(line);
    }

    fn violate(&mut self, invariant: Invariant, detail: String) {
        if self.violation.is_none() {
            self.log(format!("VIOLATION {invariant}: {detail}"));
            self.violation = Some(Violation {
                invariant,
                step: self.step,
                time_us: t_us(self.now),
                detail,
            });
        }
    }

    fn case(&mut self, name: &'static str) {
        *self.cases.entry(name).or_default() += 1;
    }

    /// Counts a fault injected, by its label and by its kind (one of
    /// [`FAULT_KINDS`], or [`Faults::NONE`] for an event of no one kind).
    fn fault(&mut self, kind: Faults, label: &'static str) {
        *self.faults.entry(label).or_default() += 1;
        if let Some((_, name, _)) = FAULT_KINDS.iter().find(|(k, _, _)| *k == kind) {
            *self.fault_kinds.entry(name).or_default() += 1;
        }
    }

    fn latency(&mut self, c: ConnId) -> Duration {
        let j = self.o.jitter.as_micros();
        let extra = self.conns[c].rng.below(j + 1);
        self.o.latency + Duration::from_micros(extra)
    }

    fn in_window(&self) -> bool {
        self.now < START + self.o.window && !self.in_phase2
    }

    fn sess_name(&self, s: SessId) -> String {
        let sess = &self.sessions[s];
        let role = if sess.role.is_inviter() {
            "inviter"
        } else {
            "invitee"
        };
        format!("s{s}({} {role})", self.nodes[sess.node].name)
    }

    // --- The main loop ----------------------------------------------------

    pub(crate) fn run(mut self) -> Report {
        let mut finished = false;
        while self.violation.is_none() {
            if self.step >= self.o.max_steps {
                if self.o.max_steps == STEP_LIMIT {
                    self.violate(
                        Invariant::Liveness,
                        format!("the world did not go idle within {STEP_LIMIT} steps"),
                    );
                }
                break;
            }
            let Some(item) = self.queue.pop() else {
                finished = true;
                break;
            };
            if item.at < self.now {
                self.violate(Invariant::Liveness, "the clock went backwards".into());
                break;
            }
            self.now = item.at;
            self.step += 1;
            let ev = item.ev;
            if let Err(msg) = crate::catch_step(|| self.handle(ev)) {
                self.violate(Invariant::NoPanic, format!("panic in {ev:?}: {msg}"));
            }
        }
        if finished && self.violation.is_none() {
            self.final_checks();
        }
        self.report()
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::StartInvitation(k) => self.start_invitation(k),
            Ev::Accept(c) => self.accept(c),
            Ev::Deliver(c, d) => self.deliver(c, d),
            Ev::CloseNotify(c, end) => {
                self.log(format!("c{c}: reset reaches end {end}"));
                self.notify_close(c, end)
            }
            Ev::Timer(s, probe) => self.timer(s, probe),
            Ev::Decide(s, kind, when) => self.decide(s, kind, when),
            Ev::Cancel(s) => self.cancel(s),
            Ev::Drain(s) => {
                self.sessions[s].drain_pending = false;
                self.drain(s);
            }
            Ev::Reset(c, side) => self.reset(c, side, false),
            Ev::HalfOpen(c, side) => self.reset(c, side, true),
            Ev::Stall(c, d, len) => {
                if !self.conns[c].dead {
                    self.conns[c].pipes[d].stall_until = Some(self.now + len);
                    self.conns[c].delayed = true;
                    self.fault(Faults::STALL, "stall");
                    self.log(format!(
                        "c{c}: direction {d} stalls for {}ms",
                        len.as_millis()
                    ));
                }
            }
            Ev::PartitionStart(p) => {
                self.fault(Faults::PARTITION, "partition");
                self.log(format!("partition {p} starts"));
                let give_up = self.now + TCP_GIVE_UP;
                if give_up < self.partitions[p].heal {
                    self.schedule(give_up, Ev::PartitionGiveUp(p));
                }
                let heal = self.partitions[p].heal;
                self.schedule(heal, Ev::PartitionHeal(p));
            }
            Ev::PartitionGiveUp(p) => self.partition_give_up(p),
            Ev::PartitionHeal(p) => self.log(format!("partition {p} heals")),
            Ev::Attacker(k) => self.attacker_action(k),
            Ev::ScriptStep(id) => self.script_step(id),
            Ev::Policy(k) => self.policy_change(None, k),
            Ev::PolicyAt(n, k) => self.policy_change(Some(n), k),
            Ev::Phase2 => self.phase2(),
        }
        self.check_pools();
    }

    // --- Invitations and connections --------------------------------------

    fn start_invitation(&mut self, k: InvId) {
        if self.o.bug == Some(Bug::PanicOnThirdInvitation) && k == 2 {
            panic!("planted bug: the third invitation panics");
        }
        let (from, to) = (self.invs[k].from, self.invs[k].to);
        let target = if self.invs[k].endpoint {
            Target::AnyEndpoint
        } else {
            Target::Contact(self.nodes[to].key)
        };
        let s = self.sessions.len();
        let eph = Rng::derive(self.o.seed, "ephemeral", s as u64).bytes();
        let inv = &self.invs[k];
        let invitation = match Invitation::new(inv.app, &inv.message, &inv.data) {
            Ok(i) => i,
            Err(e) => {
                return self.violate(
                    Invariant::CallContract,
                    format!("a valid invitation was refused: {e:?}"),
                )
            }
        };
        let inviter = match Inviter::new(
            self.o.config,
            &self.nodes[from].identity,
            target,
            &invitation,
            EphemeralSecret::from_bytes(eph),
            self.now,
        ) {
            Ok(m) => Box::new(m),
            Err(e) => {
                return self.violate(
                    Invariant::CallContract,
                    format!("Inviter::new refused valid arguments: {e:?}"),
                )
            }
        };
        let c = self.open_conn(from, to, End::Session(s), self.invs[k].phase2);
        self.sessions.push(Session::new(
            from,
            Role::Inviter(inviter),
            c,
            0,
            Some(k),
            self.now,
        ));
        self.invs[k].session = Some(s);
        self.log(format!(
            "{} starts invitation {} to {} ({}) on c{c}{}",
            self.sess_name(s),
            self.invs[k].message,
            self.nodes[to].name,
            if self.invs[k].endpoint {
                "endpoint"
            } else {
                "contact"
            },
            match self.conns[c].attack {
                Attack::None => String::new(),
                a => format!(", attacked: {a:?}"),
            }
        ));
        if let CancelPlan::At(d) = self.invs[k].cancel {
            self.schedule(self.now + d, Ev::Cancel(s));
        }
        self.drain(s);
    }

    /// Opens a connection from `a` (end 0) to node `b`'s listener (end 1).
    fn open_conn(&mut self, a: NodeId, b: NodeId, end_a: End, phase2: bool) -> ConnId {
        let c = self.conns.len();
        let mut rng = Rng::derive(self.o.seed, "conn", c as u64);
        let pair = (a.min(b), a.max(b));
        let attacked = !phase2
            && matches!(end_a, End::Session(_))
            && self.targeted.contains(&pair)
            && rng.chance(800);
        let attack = if attacked {
            let f = self.o.faults;
            let mut modes = vec![Attack::Tap];
            for (kind, mode) in [
                (Faults::TAMPER, Attack::Tamper),
                (Faults::REFLECT, Attack::Reflect),
                (Faults::IMPERSONATE, Attack::Impersonate),
                (Faults::REPLAY, Attack::ReplayProof),
                (Faults::IMPERSONATE, Attack::ForgedProof),
            ] {
                if f.has(kind) {
                    modes.push(mode);
                    modes.push(mode);
                }
            }
            modes[rng.index(modes.len())]
        } else {
            Attack::None
        };
        let stream = if attack != Attack::None {
            self.rec_streams.push(Vec::new());
            if self.rec_streams.len() > RECORD_CAP {
                self.rec_streams.remove(0);
            }
            Some(self.rec_streams.len() - 1)
        } else {
            None
        };
        self.conns.push(Conn {
            ends: [end_a, End::Gone],
            nodes: [a, b],
            pipes: [Pipe::default(), Pipe::default()],
            accepted: false,
            attack,
            broke: None,
            tampered: false,
            delayed: false,
            dead: false,
            rng,
            stream,
        });
        if attack != Attack::None {
            // Any of the attack kinds (or none but a tap): not one kind.
            self.fault(Faults::NONE, "attacked connection");
        }
        let lat = self.latency(c);
        self.schedule(self.now + lat, Ev::Accept(c));
        // Faults on this connection, all within the fault window.
        if !phase2 {
            self.plan_conn_faults(c);
        }
        c
    }

    fn plan_conn_faults(&mut self, c: ConnId) {
        let f = self.o.faults;
        let p = 60 * self.o.intensity;
        let end = START + self.o.window;
        let life = (self.o.config.handshake_timeout + self.o.config.response_timeout).as_micros();
        let mut plan = Vec::new();
        {
            let rng = &mut self.conns[c].rng;
            let at = |rng: &mut Rng| {
                // Early in the exchange more often than late.
                let span = if rng.chance(600) { 2_000_000 } else { life };
                Duration::from_micros(rng.below(span))
            };
            if f.has(Faults::RESET) && rng.chance(p) {
                let side = rng.index(2);
                plan.push((at(rng), Ev::Reset(c, side)));
            }
            if f.has(Faults::HALF_OPEN) && rng.chance(p) {
                let side = rng.index(2);
                plan.push((at(rng), Ev::HalfOpen(c, side)));
            }
            if f.has(Faults::STALL) && rng.chance(2 * p) {
                let d = rng.index(2);
                let len = Duration::from_millis(rng.range(50, 45_000));
                plan.push((at(rng), Ev::Stall(c, d, len)));
            }
        }
        for (d, ev) in plan {
            let t = self.now + d;
            if t < end {
                self.schedule(t, ev);
            }
        }
    }

    fn partitioned(&self, a: NodeId, b: NodeId) -> Option<Instant> {
        self.partitions
            .iter()
            .filter(|p| p.start <= self.now && self.now < p.heal && p.group[a] != p.group[b])
            .map(|p| p.heal)
            .max()
    }

    fn accept(&mut self, c: ConnId) {
        if self.conns[c].dead || self.conns[c].accepted {
            return;
        }
        let [a, b] = self.conns[c].nodes;
        if let Some(heal) = self.partitioned(a, b) {
            self.conns[c].delayed = true;
            return self.schedule(heal, Ev::Accept(c));
        }
        if matches!(self.conns[c].ends[0], End::Gone) {
            return;
        }
        self.conns[c].accepted = true;
        match self.conns[c].attack {
            Attack::Impersonate => {
                let x = self.o.nodes + self.conns[c].rng.index(self.o.attackers.max(1));
                let x = x.min(self.nodes.len() - 1);
                let s = self.new_invitee(x, c);
                self.conns[c].ends[1] = End::Session(s);
                self.conns[c].tampered = true;
                self.fault(Faults::IMPERSONATE, "impersonation");
                self.log(format!(
                    "c{c}: attacker {} answers in place of {}",
                    self.nodes[x].name, self.nodes[b].name
                ));
                self.drain(s);
            }
            Attack::ForgedProof => {
                let x = self.o.nodes + self.conns[c].rng.index(self.o.attackers.max(1));
                let x = x.min(self.nodes.len() - 1);
                let lie = evil::PROOF_LIES[self.conns[c].rng.index(evil::PROOF_LIES.len())];
                let kind = ScriptKind::EvilProof {
                    lie,
                    claimed: b,
                    attacker: x,
                    sent: false,
                };
                let id = self.new_script(c, 1, kind);
                self.conns[c].ends[1] = End::Script(id);
                self.conns[c].tampered = true;
                self.fault(Faults::IMPERSONATE, "forged proof");
                self.log(format!(
                    "c{c}: attacker {} answers with its own Noise, lying: {lie:?}",
                    self.nodes[x].name
                ));
            }
            Attack::ReplayProof => {
                let b_proofs: Vec<&Vec<u8>> = self
                    .rec_proofs
                    .iter()
                    .filter(|(n, _)| *n == b)
                    .map(|(_, p)| p)
                    .collect();
                let proof = if b_proofs.is_empty() {
                    let mut p = vec![0u8; PROOF_FRAME_LEN];
                    self.conns[c].rng.fill(&mut p);
                    let len = (PROOF_FRAME_LEN - 2) as u16;
                    p[..2].copy_from_slice(&len.to_be_bytes());
                    p[2] = FrameKind::Proof as u8;
                    p
                } else {
                    let i = self.conns[c].rng.index(b_proofs.len());
                    b_proofs[i].clone()
                };
                let answer = {
                    let answers: Vec<&Vec<u8>> = self
                        .rec_answers
                        .iter()
                        .filter(|(n, _)| *n == b)
                        .map(|(_, p)| p)
                        .collect();
                    (!answers.is_empty())
                        .then(|| answers[self.conns[c].rng.index(answers.len())].clone())
                };
                let id = self.new_script(c, 1, ScriptKind::ReplayProof(proof, answer));
                self.conns[c].ends[1] = End::Script(id);
                self.conns[c].tampered = true;
                self.fault(Faults::REPLAY, "replayed proof");
                self.log(format!("c{c}: attacker answers with a replayed Proof"));
            }
            _ => {
                if self.nodes[b].live >= self.o.pool {
                    // The listener is full: a clear Busy, then close.
                    self.log(format!(
                        "c{c}: {} is full ({} sessions), refuses with a clear Busy",
                        self.nodes[b].name, self.nodes[b].live
                    ));
                    // Not injected: a full pool, which healthy worlds see too.
                    self.fault(Faults::NONE, "listener busy");
                    let frame = refusal_frame(ClearRefusal::Busy).to_vec();
                    self.send(c, 1, frame);
                    self.close_end(c, 1);
                } else {
                    let s = self.new_invitee(b, c);
                    self.conns[c].ends[1] = End::Session(s);
                    self.log(format!("c{c}: accepted by {}", self.sess_name(s)));
                    self.drain(s);
                }
            }
        }
        if !self.conns[c].pipes[0].q.is_empty() || self.conns[c].pipes[0].fin {
            self.schedule(self.now, Ev::Deliver(c, 0));
        }
    }

    fn new_invitee(&mut self, node: NodeId, c: ConnId) -> SessId {
        let s = self.sessions.len();
        let eph = Rng::derive(self.o.seed, "ephemeral", s as u64).bytes();
        let (config, identity) = (self.o.config, &self.nodes[node].identity);
        let eph = EphemeralSecret::from_bytes(eph);
        fn boxed(m: impl Answering + 'static) -> Box<dyn Answering> {
            Box::new(m)
        }
        let m = if self.nodes[node].small {
            Invitee::<SMALL_BUF>::new_sized(config, identity, eph, self.now).map(boxed)
        } else {
            Invitee::new(config, identity, eph, self.now).map(boxed)
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => panic!("Invitee::new refused a valid config: {e:?}"),
        };
        self.nodes[node].live += 1;
        self.sessions
            .push(Session::new(node, Role::Invitee(m), c, 1, None, self.now));
        s
    }

    fn new_script(&mut self, c: ConnId, side: usize, kind: ScriptKind) -> ScriptId {
        let id = self.scripts.len();
        self.scripts.push(Script {
            conn: c,
            side,
            kind,
            got: 0,
            inbox: Vec::new(),
            stage: 0,
            closed: false,
            rng: Rng::derive(self.o.seed, "script", id as u64),
        });
        id
    }

    // --- The network ------------------------------------------------------

    /// Puts bytes written by end `d` of `c` on their way to the other end.
    fn send(&mut self, c: ConnId, d: usize, bytes: Vec<u8>) {
        if self.conns[c].dead || self.conns[c].pipes[d].fin || bytes.is_empty() {
            return;
        }
        let mut writes = vec![bytes];
        if self.conns[c].attack != Attack::None {
            writes = self.attack_writes(c, d, writes.pop().unwrap_or_default());
        }
        let split = self.o.faults.has(Faults::SPLIT);
        for w in writes {
            let mut pieces = Vec::new();
            if split && self.conns[c].rng.chance(500) && w.len() > 1 {
                let mut rest = &w[..];
                while !rest.is_empty() {
                    let n =
                        (self.conns[c].rng.range(1, rest.len() as u64) as usize).min(rest.len());
                    pieces.push(rest[..n].to_vec());
                    rest = &rest[n..];
                }
                self.fault(Faults::SPLIT, "split write");
            } else {
                pieces.push(w);
            }
            for p in pieces {
                let lat = self.latency(c);
                let pipe = &mut self.conns[c].pipes[d];
                let at = (self.now + lat).max(pipe.last.unwrap_or(START));
                pipe.last = Some(at);
                pipe.q.push_back((at, p));
                self.schedule(at, Ev::Deliver(c, d));
            }
        }
    }

    /// The attacker's view of one write: it records, and on some links it
    /// tampers. Returns what goes on; reflections go back directly.
    fn attack_writes(&mut self, c: ConnId, d: usize, bytes: Vec<u8>) -> Vec<Vec<u8>> {
        // Record the stream and its frames.
        if d == 0 {
            if let Some(i) = self.conns[c].stream {
                if let Some(s) = self.rec_streams.get_mut(i) {
                    let room = STREAM_CAP.saturating_sub(s.len());
                    s.extend_from_slice(&bytes[..room.min(bytes.len())]);
                }
            }
        }
        let producer = self.conns[c].nodes[d];
        self.conns[c].pipes[d].tap.extend_from_slice(&bytes);
        while let Some((kind, frame)) = first_frame(&self.conns[c].pipes[d].tap) {
            let frame = frame.to_vec();
            let n = frame.len();
            self.conns[c].pipes[d].tap.drain(..n);
            if d == 1 && kind == FrameKind::Proof as u8 {
                push_capped(&mut self.rec_proofs, (producer, frame.clone()));
            }
            if d == 1 && kind == FrameKind::Sealed as u8 {
                push_capped(&mut self.rec_answers, (producer, frame.clone()));
            }
            push_capped(&mut self.rec_frames, frame);
        }
        if self.conns[c].pipes[d].tap.len() > 20_000 {
            self.conns[c].pipes[d].tap.clear();
        }
        let intensity = self.o.intensity;
        match self.conns[c].attack {
            Attack::Tamper => {
                let mut out = Vec::new();
                let mut w = bytes;
                let rng = &mut self.conns[c].rng;
                let p = 120 * intensity;
                let mut ops = Vec::new();
                if rng.chance(p) {
                    let i = rng.index(w.len());
                    w[i] ^= 1 << rng.below(8);
                    ops.push("bit flip");
                }
                if rng.chance(p / 2) {
                    let n = rng.range(1, 40) as usize;
                    out.push(rng.vec(n));
                    ops.push("random bytes");
                }
                if rng.chance(p / 2) {
                    out.push(forged_frame(rng));
                    ops.push("forged frame");
                }
                if rng.chance(p / 2) && !self.rec_frames.is_empty() {
                    let i = rng.index(self.rec_frames.len());
                    out.push(self.rec_frames[i].clone());
                    ops.push("replayed frame");
                }
                let drop = rng.chance(p / 3);
                if !drop {
                    out.push(w.clone());
                } else {
                    ops.push("dropped write");
                }
                if rng.chance(p / 3) {
                    out.push(w);
                    ops.push("duplicated write");
                }
                let stall = rng
                    .chance(p / 2)
                    .then(|| Duration::from_millis(rng.range(10, 20_000)));
                let aim = rng.chance(p / 2).then(|| rng.below(3));
                if let Some(len) = stall {
                    ops.push("held back");
                    let until = self.now + len;
                    self.conns[c].pipes[d].stall_until = Some(until);
                    self.conns[c].delayed = true;
                }
                // Hold the write until the receiver's deadline, or one tick
                // either side of it: the answer (or Cancel, or Proof) races
                // the timer.
                if let (Some(off), End::Session(r)) = (aim, self.conns[c].ends[1 - d]) {
                    let due = self.sessions[r].role.machine_ref().deadline();
                    if let Some(t) = due.filter(|t| *t > self.now) {
                        let tick = Duration::from_ticks(1);
                        let until = match off {
                            0 => t - tick,
                            1 => t,
                            _ => t + tick,
                        };
                        ops.push(match off {
                            0 => "held to one tick before the receiver's deadline",
                            1 => "held to exactly the receiver's deadline",
                            _ => "held to one tick after the receiver's deadline",
                        });
                        self.conns[c].pipes[d].stall_until = Some(until);
                        self.conns[c].delayed = true;
                    }
                }
                if !ops.is_empty() {
                    self.conns[c].tampered = true;
                    for op in &ops {
                        self.fault(Faults::TAMPER, op);
                    }
                    self.log(format!(
                        "c{c}: attacker on direction {d}: {}",
                        ops.join(", ")
                    ));
                }
                out
            }
            Attack::Reflect => {
                let rng = &mut self.conns[c].rng;
                let reflect = rng.chance(500);
                let drop = reflect && rng.chance(400);
                if reflect {
                    self.conns[c].tampered = true;
                    self.fault(Faults::REFLECT, "reflection");
                    self.log(format!(
                        "c{c}: attacker reflects {} bytes back to end {d}{}",
                        bytes.len(),
                        if drop { ", dropping the original" } else { "" }
                    ));
                    let back = 1 - d;
                    let lat = self.latency(c);
                    let pipe = &mut self.conns[c].pipes[back];
                    if !pipe.fin {
                        let at = (self.now + lat).max(pipe.last.unwrap_or(START));
                        pipe.last = Some(at);
                        pipe.q.push_back((at, bytes.clone()));
                        self.schedule(at, Ev::Deliver(c, back));
                    }
                }
                if drop {
                    Vec::new()
                } else {
                    vec![bytes]
                }
            }
            _ => vec![bytes],
        }
    }

    fn deliver(&mut self, c: ConnId, d: usize) {
        if self.conns[c].dead || (d == 0 && !self.conns[c].accepted) {
            return;
        }
        let [a, b] = self.conns[c].nodes;
        if let Some(heal) = self.partitioned(a, b) {
            self.conns[c].delayed = true;
            return self.schedule(heal, Ev::Deliver(c, d));
        }
        if let Some(until) = self.conns[c].pipes[d].stall_until {
            if until > self.now {
                return self.schedule(until, Ev::Deliver(c, d));
            }
        }
        let mut due = Vec::new();
        while let Some((at, _)) = self.conns[c].pipes[d].q.front() {
            if *at > self.now {
                break;
            }
            if let Some((_, bytes)) = self.conns[c].pipes[d].q.pop_front() {
                due.push(bytes);
            }
        }
        // Merge consecutive writes at random boundaries.
        let mut groups: Vec<Vec<u8>> = Vec::new();
        for bytes in due {
            let merge = !groups.is_empty() && self.conns[c].rng.chance(600);
            match groups.last_mut() {
                Some(g) if merge => g.extend_from_slice(&bytes),
                _ => groups.push(bytes),
            }
        }
        let to = 1 - d;
        for g in groups {
            if self.conns[c].dead {
                return;
            }
            match self.conns[c].ends[to] {
                End::Session(s) if !self.sessions[s].closed => {
                    self.log(format!("c{c}: {} bytes to {}", g.len(), self.sess_name(s)));
                    self.input(s, &g);
                }
                End::Script(id) if !self.scripts[id].closed => self.script_input(id, &g),
                _ => {}
            }
        }
        let pipe = &self.conns[c].pipes[d];
        if pipe.fin && !pipe.fin_done && pipe.q.is_empty() {
            self.conns[c].pipes[d].fin_done = true;
            self.log(format!("c{c}: end {d} closed; end {to} is told"));
            self.notify_close(c, to);
        }
    }

    /// The connection ended for end `end`: its socket is gone.
    fn notify_close(&mut self, c: ConnId, end: usize) {
        match self.conns[c].ends[end] {
            End::Session(s) if !self.sessions[s].closed => {
                self.sessions[s].closed = true;
                let now = self.now;
                self.sessions[s].role.machine().close(now);
                self.drain(s);
                // Anything it still had to say is lost with the socket.
                self.conns[c].pipes[end].fin = true;
                self.conns[c].pipes[end].fin_done = true;
            }
            End::Script(id) => self.scripts[id].closed = true,
            _ => {}
        }
    }

    /// End `side` of `c` is finished with the connection: close it after
    /// the bytes already written.
    fn close_end(&mut self, c: ConnId, side: usize) {
        if let End::Session(s) = self.conns[c].ends[side] {
            self.sessions[s].closed = true;
        }
        if let End::Script(id) = self.conns[c].ends[side] {
            self.scripts[id].closed = true;
        }
        let pipe = &mut self.conns[c].pipes[side];
        if pipe.fin {
            return;
        }
        pipe.fin = true;
        let at = pipe.last.unwrap_or(self.now).max(self.now);
        if self.conns[c].accepted || side == 1 {
            self.schedule(at, Ev::Deliver(c, side));
        } else {
            // Closed before the listener accepted: the connect is abandoned.
            self.conns[c].ends[0] = End::Gone;
            self.conns[c].dead = true;
        }
    }

    /// A reset (both ends eventually told) or a half-open connection (only
    /// `side` is told, the other end never hears of it).
    fn reset(&mut self, c: ConnId, side: usize, half_open: bool) {
        if self.conns[c].dead {
            return;
        }
        let both_closed = (0..2).all(|e| match self.conns[c].ends[e] {
            End::Session(s) => self.sessions[s].closed,
            End::Script(id) => self.scripts[id].closed,
            End::Gone => true,
        });
        if both_closed {
            return;
        }
        self.conns[c].dead = true;
        self.conns[c].broke = Some(self.now);
        for p in &mut self.conns[c].pipes {
            p.q.clear();
        }
        if half_open {
            self.fault(Faults::HALF_OPEN, "half-open");
            self.log(format!(
                "c{c}: half-open: end {side} vanishes, end {} is never told",
                1 - side
            ));
        } else {
            self.fault(Faults::RESET, "reset");
            self.log(format!("c{c}: reset at end {side}"));
            let lat = self.latency(c);
            self.schedule(self.now + lat, Ev::CloseNotify(c, 1 - side));
        }
        self.notify_close(c, side);
    }

    fn partition_give_up(&mut self, p: PartitionIdx) {
        let heal = self.partitions[p].heal;
        if heal <= self.now {
            return;
        }
        for c in 0..self.conns.len() {
            let [a, b] = self.conns[c].nodes;
            let g = &self.partitions[p].group;
            if self.conns[c].dead || g[a] == g[b] {
                continue;
            }
            let open = (0..2).any(|e| match self.conns[c].ends[e] {
                End::Session(s) => !self.sessions[s].closed,
                End::Script(id) => !self.scripts[id].closed,
                End::Gone => false,
            });
            if !open {
                continue;
            }
            self.log(format!("c{c}: TCP gives up under partition {p}"));
            self.fault(Faults::PARTITION, "partition give-up");
            self.conns[c].dead = true;
            self.conns[c].broke = Some(self.now);
            for pipe in &mut self.conns[c].pipes {
                pipe.q.clear();
            }
            self.notify_close(c, 0);
            self.notify_close(c, 1);
        }
    }

    // --- Sessions ---------------------------------------------------------

    fn input(&mut self, s: SessId, bytes: &[u8]) {
        let now = self.now;
        let sess = &mut self.sessions[s];
        if sess.rx.len() < RX_LOG_CAP {
            let room = RX_LOG_CAP - sess.rx.len();
            sess.rx.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
        let node = &self.nodes[sess.node];
        let dir = if self.o.bug == Some(Bug::StaleDirectory) {
            &node.stale
        } else {
            &node.dir
        };
        sess.role.machine().input(now, bytes, dir);
        self.drain(s);
    }

    /// Drains a session in the contract's order, as `poll_output` gives
    /// it: transmits, events, then the next deadline or the end; closes its
    /// end when it is finished.
    fn drain(&mut self, s: SessId) {
        // Room in the send buffer for the transmits. While it is full they
        // wait for the Drain event, and the machine is polled with no room:
        // for its events only.
        let mut room = !self.sessions[s].drain_pending;
        let (timeout, finished) = loop {
            let (cap, stop) = if room {
                let backpressure = self.o.faults.has(Faults::BACKPRESSURE);
                let rng = &mut self.conns[self.sessions[s].conn].rng;
                if backpressure && rng.chance(150) {
                    (rng.range(1, 64) as usize, rng.chance(500))
                } else {
                    (self.buf.len(), false)
                }
            } else {
                (0, false)
            };
            let mut buf = std::mem::take(&mut self.buf);
            let out = self.sessions[s].role.machine().output(&mut buf[..cap]);
            let bytes = match out {
                Output::Transmit(n) => buf[..n.min(cap)].to_vec(),
                _ => Vec::new(),
            };
            self.buf = buf;
            match out {
                Output::Transmit(n) => {
                    if n > cap {
                        return self.violate(
                            Invariant::WithinCapacity,
                            format!("poll_transmit returned {n} for a buffer of {cap}"),
                        );
                    }
                    self.on_transmit(s, &bytes);
                    if self.violation.is_some() {
                        return;
                    }
                    let (c, side, closed) = {
                        let sess = &self.sessions[s];
                        (sess.conn, sess.side, sess.closed)
                    };
                    if !closed {
                        self.send(c, side, bytes);
                    }
                    if stop {
                        self.fault(Faults::BACKPRESSURE, "backpressure");
                        self.sessions[s].drain_pending = true;
                        let later = Duration::from_millis(self.rng.range(1, 200));
                        self.schedule(self.now + later, Ev::Drain(s));
                        room = false;
                    }
                }
                Output::Event(e) => {
                    // Every byte is out (or waits for room): the events.
                    room = false;
                    match e {
                        SessionEvent::Inviter(e) => self.on_inviter_event(s, e),
                        SessionEvent::Invitee(e) => self.on_invitee_event(s, e),
                    }
                }
                Output::Wait(at) => break (at, false),
                Output::Done => break (None, true),
            }
        };
        if timeout != self.sessions[s].timer_at {
            self.sessions[s].timer_at = timeout;
            if let Some(t) = timeout {
                self.schedule(t, Ev::Timer(s, false));
                if self.o.faults.has(Faults::EARLY_TIMEOUT) && self.rng.chance(100) && t > self.now
                {
                    let span = (t - self.now).as_ticks();
                    let early = self.now + Duration::from_ticks(self.rng.below(span));
                    self.schedule(early, Ev::Timer(s, true));
                }
            }
        }
        if finished && self.sessions[s].finished_at.is_none() {
            self.violate(
                Invariant::ExactlyOneOutcome,
                format!("{} is finished but reported no outcome", self.sess_name(s)),
            );
        }
        if finished && !self.sessions[s].closed {
            let (c, side) = (self.sessions[s].conn, self.sessions[s].side);
            self.close_end(c, side);
        }
    }

    fn timer(&mut self, s: SessId, probe: bool) {
        let due = self.sessions[s].role.machine_ref().deadline();
        let now = self.now;
        if probe {
            let Some(t) = due else { return };
            if t <= now {
                return;
            }
            let (tx, events) = (self.sessions[s].tx.len(), self.sessions[s].events);
            self.log(format!(
                "{}: handle_timeout {}µs early",
                self.sess_name(s),
                (t - now).as_micros()
            ));
            self.fault(Faults::EARLY_TIMEOUT, "early timeout");
            self.sessions[s].role.machine().timeout(now);
            self.drain(s);
            let after = self.sessions[s].role.machine_ref().deadline();
            if self.sessions[s].tx.len() != tx || self.sessions[s].events != events || after != due
            {
                self.violate(
                    Invariant::CallContract,
                    format!(
                        "{}: handle_timeout before the deadline did something",
                        self.sess_name(s)
                    ),
                );
            }
            return;
        }
        if due.is_some_and(|t| t <= now) {
            self.log(format!("{}: deadline", self.sess_name(s)));
            self.sessions[s].role.machine().timeout(now);
            self.drain(s);
        }
    }

    // --- The oracle: what each output must satisfy --------------------------

    fn on_transmit(&mut self, s: SessId, bytes: &[u8]) {
        let sess = &mut self.sessions[s];
        sess.tx.extend_from_slice(bytes);
        let inviter = sess.role.is_inviter();
        // Plus one keepalive per interval of the session's life so far.
        let keepalives = (self.now.as_ticks() - sess.started.as_ticks().min(self.now.as_ticks()))
            / self.o.config.keepalive_interval.as_ticks().max(1);
        let keepalive_bytes = keepalives as usize * KEEPALIVE_FRAME_LEN;
        let max = keepalive_bytes
            + if inviter {
                INVITER_TX_MAX
            } else {
                INVITEE_TX_MAX
            };
        if sess.tx.len() > max {
            let n = sess.tx.len();
            return self.violate(
                Invariant::WithinCapacity,
                format!(
                    "{} sent {n} bytes, more than the {max} a session can",
                    self.sess_name(s)
                ),
            );
        }
        if inviter && !sess.checked_invite && sess.tx.len() > HELLO_FRAME_LEN {
            sess.checked_invite = true;
            // Bytes beyond the Hello are the Invite: the responder must have
            // proven the right key, for this very Hello.
            let target = self.invs[sess.inv.unwrap_or(0)].to;
            let endpoint = self.invs[sess.inv.unwrap_or(0)].endpoint;
            match self.proof_owner(s) {
                Err(why) => self.violate(
                    if endpoint {
                        Invariant::AnswerFromThatInvitee
                    } else {
                        Invariant::NoInvitationToWrongKey
                    },
                    format!("{} sent Invite bytes although {why}", self.sess_name(s)),
                ),
                Ok(b) => {
                    let key = self.nodes[self.sessions[b].node].key;
                    if !endpoint && key != self.nodes[target].key {
                        self.violate(
                            Invariant::NoInvitationToWrongKey,
                            format!(
                                "{} sent Invite bytes to {} which is not the contact {}",
                                self.sess_name(s),
                                self.sess_name(b),
                                self.nodes[target].name
                            ),
                        )
                    }
                }
            }
        }
        let sess = &mut self.sessions[s];
        if !inviter && !sess.proof_registered && sess.tx.len() >= PROOF_FRAME_LEN {
            if let Some((kind, frame)) = first_frame(&sess.tx) {
                if kind == FrameKind::Proof as u8 {
                    sess.proof_registered = true;
                    let hello = first_frame(&sess.rx)
                        .map(|(_, f)| f.to_vec())
                        .unwrap_or_default();
                    let frame = frame.to_vec();
                    self.proofs.insert(frame, (s, hello));
                    // Now and then the user changes the directory while the
                    // handshake is under way.
                    let node = self.sessions[s].node;
                    if self.o.faults.has(Faults::POLICY)
                        && self.in_window()
                        && !self.nodes[node].attacker
                        && self.rng.chance(150)
                    {
                        let spread = 2 * (self.o.latency + self.o.jitter).as_micros() + 1;
                        let at = self.now + Duration::from_micros(self.rng.below(spread));
                        let k = 1_000_000 + s as u64;
                        self.schedule(at, Ev::PolicyAt(node, k));
                    }
                }
            }
        }
    }

    /// The invitee session whose Proof inviter `s` received, checked to
    /// answer `s`'s own Hello.
    fn proof_owner(&self, s: SessId) -> Result<SessId, String> {
        let sess = &self.sessions[s];
        let Some((kind, frame)) = first_frame(&sess.rx) else {
            return Err("no complete frame was received".into());
        };
        if kind != FrameKind::Proof as u8 {
            return Err(format!("the first frame received is of kind {kind}"));
        }
        let Some((b, hello)) = self.proofs.get(frame) else {
            return Err("the Proof it received was produced by no invitee".into());
        };
        let own = sess.tx.get(..HELLO_FRAME_LEN).unwrap_or(&[]);
        if hello.as_slice() != own {
            return Err(format!(
                "the Proof it received (from {}) answered another Hello",
                self.sess_name(*b)
            ));
        }
        Ok(*b)
    }

    fn on_inviter_event(&mut self, s: SessId, e: InviterEvent) {
        self.sessions[s].events += 1;
        if self.sessions[s].finished_at.is_some() {
            return self.violate(
                Invariant::ExactlyOneOutcome,
                format!("{} emitted {e:?} after Finished", self.sess_name(s)),
            );
        }
        if self.sessions[s].events > 2 {
            return self.violate(
                Invariant::WithinCapacity,
                format!("{} emitted more than two events", self.sess_name(s)),
            );
        }
        let k = self.sessions[s].inv.unwrap_or(0);
        match e {
            InviterEvent::Verified(key) => {
                self.log(format!(
                    "{}: Verified({})",
                    self.sess_name(s),
                    short_key(&key)
                ));
                if self.invs[k].cancel == CancelPlan::AfterVerified {
                    let spread = 2 * (self.o.latency + self.o.jitter).as_micros() + 1;
                    let d = if self.rng.chance(300) {
                        0
                    } else {
                        self.rng.below(spread)
                    };
                    self.schedule(self.now + Duration::from_micros(d), Ev::Cancel(s));
                }
                if self.sessions[s].verified.is_some() {
                    return self.violate(
                        Invariant::ExactlyOneOutcome,
                        format!("{} verified twice", self.sess_name(s)),
                    );
                }
                self.sessions[s].verified = Some((key, self.now));
                match self.proof_owner(s) {
                    Err(why) => self.violate(
                        Invariant::AnswerFromThatInvitee,
                        format!("{} verified a responder although {why}", self.sess_name(s)),
                    ),
                    Ok(b) => {
                        let owner = self.nodes[self.sessions[b].node].key;
                        if owner != key {
                            self.violate(
                                Invariant::AnswerFromThatInvitee,
                                format!(
                                    "{} verified {} but the Proof came from {}",
                                    self.sess_name(s),
                                    short_key(&key),
                                    self.sess_name(b)
                                ),
                            );
                        }
                        if !self.invs[k].endpoint && key != self.nodes[self.invs[k].to].key {
                            self.violate(
                                Invariant::NoInvitationToWrongKey,
                                format!(
                                    "{} verified a key that is not the contact's",
                                    self.sess_name(s)
                                ),
                            );
                        }
                    }
                }
            }
            InviterEvent::Finished(r) => {
                self.log(format!(
                    "{}: Finished({})",
                    self.sess_name(s),
                    result_label(&r)
                ));
                self.sessions[s].finished_at = Some(self.now);
                self.sessions[s].inviter_result = Some(r);
                if self.sessions[s].cancelled_after_invite {
                    self.case(match r {
                        Ok(_) => "cancel crossed by the answer: the answer is reported",
                        Err(SessionError::Cancelled) => "cancel after the Invite: Cancelled",
                        Err(SessionError::Refused {
                            authenticated: true,
                            ..
                        }) => "cancel crossed by the answer: the answer is reported",
                        Err(SessionError::Protocol(_)) => "cancel after the Invite: protocol error",
                        Err(_) => "cancel after the Invite: another error",
                    });
                }
                self.check_inviter_result(s, r);
                let c = self.o.config;
                let bound =
                    self.sessions[s].started + c.handshake_timeout + c.response_timeout + c.grace;
                if self.now > bound {
                    self.violate(
                        Invariant::Liveness,
                        format!(
                            "{} ended after handshake + response timeout + grace",
                            self.sess_name(s)
                        ),
                    );
                }
                if let Some((_, tv)) = self.sessions[s].verified {
                    if self.now > tv + c.response_timeout + c.grace {
                        self.violate(
                            Invariant::Liveness,
                            format!(
                                "{} ended later than response timeout + grace after the Invite",
                                self.sess_name(s)
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Safety 1: an authenticated result came from that exact invitee
    /// session, and says what its user (or policy) decided there.
    fn check_inviter_result(&mut self, s: SessId, r: Result<Response, SessionError>) {
        let authenticated = matches!(
            r,
            Ok(_)
                | Err(SessionError::Refused {
                    authenticated: true,
                    ..
                })
        );
        if !authenticated {
            return;
        }
        let name = self.sess_name(s);
        if self.sessions[s].verified.is_none() {
            return self.violate(
                Invariant::AnswerFromThatInvitee,
                format!(
                    "{name} reported {} without a verified responder",
                    result_label(&r)
                ),
            );
        }
        let b = match self.proof_owner(s) {
            Ok(b) => b,
            Err(why) => {
                return self.violate(
                    Invariant::AnswerFromThatInvitee,
                    format!("{name} reported {} although {why}", result_label(&r)),
                )
            }
        };
        let bname = self.sess_name(b);
        let k = self.sessions[s].inv.unwrap_or(0);
        let answer_message = match &self.sessions[s].role {
            Role::Inviter(m) => m.answer_message().map(str::to_owned).unwrap_or_default(),
            Role::Invitee(_) => String::new(),
        };
        let bs = &self.sessions[b];
        let Some(o) = bs.invitee_outcome else {
            return self.violate(
                Invariant::AnswerFromThatInvitee,
                format!(
                    "{name} reported {} but {bname} has not answered",
                    result_label(&r)
                ),
            );
        };
        let decided = |kind: Kind| {
            bs.decision
                .as_ref()
                .is_some_and(|(k, _, m)| *k == kind && *m == answer_message)
        };
        let this_invitation = bs.prompt.as_ref().is_some_and(|p| p.inv == Some(k));
        let ok = match r {
            Ok(Response::Accepted) => {
                matches!(o, InviteeOutcome::Accepted(l) if l.inviter == self.nodes[self.invs[k].from].key && l.application == self.invs[k].app)
                    && decided(Kind::Accept)
                    && this_invitation
            }
            Ok(Response::Declined) => {
                o == InviteeOutcome::Declined && decided(Kind::Decline) && this_invitation
            }
            Ok(Response::Error { code }) => {
                o == InviteeOutcome::Error { code } && decided(Kind::Fail(code)) && this_invitation
            }
            Ok(Response::Expired) => o == InviteeOutcome::Expired && this_invitation,
            Err(SessionError::Refused { reason, .. }) => o == InviteeOutcome::Refused(reason),
            _ => true,
        };
        if !ok {
            let d = bs.decision.as_ref().map(|(k, _, m)| format!("{k:?} {m:?}"));
            self.violate(
                Invariant::AnswerFromThatInvitee,
                format!(
                    "{name} reported {} (message {answer_message:?}) but {bname} ended {} with decision {d:?}",
                    result_label(&r),
                    outcome_label(&o)
                ),
            );
        }
    }

    fn on_invitee_event(&mut self, s: SessId, e: InviteeEvent) {
        self.sessions[s].events += 1;
        let name = self.sess_name(s);
        if self.sessions[s].finished_at.is_some() {
            return self.violate(
                Invariant::ExactlyOneOutcome,
                format!("{name} emitted {e:?} after Finished"),
            );
        }
        if self.sessions[s].events > 2 {
            return self.violate(
                Invariant::WithinCapacity,
                format!("{name} emitted more than two events"),
            );
        }
        match e {
            InviteeEvent::Prompt(p) => self.on_prompt(s, p),
            InviteeEvent::Finished(o) => {
                self.log(format!("{name}: Finished({})", outcome_label(&o)));
                let node = self.sessions[s].node;
                self.nodes[node].live = self.nodes[node].live.saturating_sub(1);
                self.sessions[s].finished_at = Some(self.now);
                self.sessions[s].invitee_outcome = Some(o);
                let sess = &self.sessions[s];
                let decision = sess.decision.as_ref().map(|(k, _, _)| *k);
                let why = match o {
                    InviteeOutcome::Accepted(l) => match &sess.prompt {
                        None => Some("accepted without a prompt".to_string()),
                        Some(p)
                            if (p.inviter, p.is_contact, p.application)
                                != (l.inviter, l.is_contact, l.application) =>
                        {
                            Some("the launch differs from the prompt".into())
                        }
                        _ if decision != Some(Kind::Accept) => {
                            Some(format!("accepted but the user decided {decision:?}"))
                        }
                        _ => None,
                    },
                    InviteeOutcome::Declined if decision != Some(Kind::Decline) => {
                        Some(format!("declined but the user decided {decision:?}"))
                    }
                    InviteeOutcome::Error { code } if decision != Some(Kind::Fail(code)) => {
                        Some(format!("errored but the user decided {decision:?}"))
                    }
                    InviteeOutcome::Refused(Refusal::Busy) if decision != Some(Kind::Busy) => {
                        Some(format!("sealed Busy but the user decided {decision:?}"))
                    }
                    InviteeOutcome::Expired if decision.is_some() || sess.prompt.is_none() => {
                        Some(format!(
                            "expired although the user decided {decision:?} (prompted: {})",
                            sess.prompt.is_some()
                        ))
                    }
                    InviteeOutcome::Expired
                        if sess.prompt.as_ref().is_some_and(|p| self.now < p.deadline) =>
                    {
                        Some("expired before the deadline".into())
                    }
                    InviteeOutcome::Cancelled if sess.prompt.is_none() => {
                        Some("cancelled without a prompt".into())
                    }
                    InviteeOutcome::Evicted { .. } => {
                        Some("evicted, but the world never evicts a session".into())
                    }
                    _ => None,
                };
                if let Some(why) = why {
                    self.violate(Invariant::AnswerFromThatInvitee, format!("{name}: {why}"));
                }
                if let InviteeOutcome::Refused(reason) = o {
                    self.check_refusal(s, reason);
                }
            }
        }
    }

    /// A policy refusal is the one the live directory calls for, given the
    /// inviter and application of the session's genuine inviter.
    fn check_refusal(&mut self, s: SessId, reason: Refusal) {
        if !matches!(
            reason,
            Refusal::InvitationsOff
                | Refusal::Blocked
                | Refusal::NotTrusted
                | Refusal::ApplicationNotRegistered
                | Refusal::TooLarge
        ) {
            return;
        }
        let c = self.sessions[s].conn;
        if reason == Refusal::TooLarge
            && (self.conns[c].tampered || self.conns[c].attack != Attack::None)
        {
            // The length field may have been enlarged in transit.
            return;
        }
        let node = self.sessions[s].node;
        let hello = first_frame(&self.sessions[s].rx)
            .map(|(_, f)| f.to_vec())
            .unwrap_or_default();
        let Some(k) = self.invs.iter().position(|i| {
            i.session
                .is_some_and(|a| self.sessions[a].tx.get(..HELLO_FRAME_LEN) == Some(&hello[..]))
        }) else {
            return;
        };
        let dir = &self.nodes[node].dir;
        let key = self.nodes[self.invs[k].from].key;
        let at_hello = first_frame(&self.sessions[s].tx)
            .is_some_and(|(kind, _)| kind == FrameKind::Refusal as u8);
        let limit = if self.nodes[node].small {
            SMALL_DATA
        } else {
            beckon_core::limits::MAX_DATA_LEN
        };
        // The Invite frame's length as it arrived: one too long to buffer
        // is refused before its sender is known (protocol.md §8.3).
        let rx = &self.sessions[s].rx;
        let invite_frame = first_frame(rx).and_then(|(_, hello)| {
            let at = hello.len();
            Some(2 + usize::from(u16::from_be_bytes([*rx.get(at)?, *rx.get(at + 1)?])))
        });
        let expected = if at_hello {
            (dir.policy() == Policy::Off).then_some(Refusal::InvitationsOff)
        } else if invite_frame.is_some_and(|n| n > invite_frame_len(limit)) {
            Some(Refusal::TooLarge)
        } else {
            expected_refusal(
                dir,
                &key,
                &self.invs[k].app,
                self.invs[k].data.len() > limit,
            )
        };
        if expected != Some(reason) {
            let name = self.sess_name(s);
            let m = short_msg(&self.invs[k].message);
            self.violate(
                Invariant::CallContract,
                format!("{name} refused {m} as {reason:?}; the directory calls for {expected:?}"),
            );
        }
    }

    /// Safety 2: the prompt is for an inviter the live policy allows, and
    /// for a genuine invitation, in the very session its inviter ran.
    fn on_prompt(&mut self, s: SessId, p: beckon_core::Prompt) {
        let name = self.sess_name(s);
        let node = self.sessions[s].node;
        let (message, data, application) = match &self.sessions[s].role {
            Role::Invitee(m) => match m.shown() {
                Some(i) => (i.message().to_owned(), i.data().to_vec(), i.application()),
                None => {
                    return self.violate(
                        Invariant::CallContract,
                        format!("{name} prompted but has no invitation to show"),
                    )
                }
            },
            Role::Inviter(_) => return,
        };
        let inv = invitation_id(&message);
        let shown = short_msg(&message);
        if self.nodes[node].small && data.len() > SMALL_DATA {
            return self.violate(
                Invariant::PromptOnlyAllowedGenuine,
                format!(
                    "{name} prompted for {} bytes of data, over its limit of {SMALL_DATA}",
                    data.len()
                ),
            );
        }
        self.log(format!(
            "{name}: Prompt({shown} from {}, contact {}, deadline {})",
            short_key(&p.inviter),
            p.is_contact,
            fmt_t(p.deadline)
        ));
        self.sessions[s].prompt = Some(PromptRec {
            deadline: p.deadline,
            inviter: p.inviter,
            is_contact: p.is_contact,
            application: p.application,
            inv: inv.filter(|k| *k < self.invs.len()),
        });
        // The policy, as the oracle reads the live directory.
        match policy_allows(&self.nodes[node].dir, &p.inviter, &p.application) {
            Err(why) => {
                return self.violate(
                    Invariant::PromptOnlyAllowedGenuine,
                    format!("{name} prompted although {why}"),
                )
            }
            Ok(is_contact) if is_contact != p.is_contact => {
                return self.violate(
                    Invariant::PromptOnlyAllowedGenuine,
                    format!(
                        "{name} prompted with is_contact {} but the directory says {is_contact}",
                        p.is_contact
                    ),
                )
            }
            Ok(_) => {}
        }
        if p.deadline != self.now + self.o.config.response_timeout {
            return self.violate(
                Invariant::CallContract,
                format!("{name}: the prompt's deadline is not the Invite's arrival + the response timeout"),
            );
        }
        // The invitation is genuine: it exists, it is unchanged, its
        // inviter signed it, and it came in the session that inviter ran
        // with this very invitee (same Hello, same Proof).
        let Some(k) = inv.filter(|k| *k < self.invs.len()) else {
            return self.violate(
                Invariant::PromptOnlyAllowedGenuine,
                format!("{name} prompted for an invitation nobody made: {shown:?}"),
            );
        };
        let i = &self.invs[k];
        if self.nodes[i.from].key != p.inviter
            || i.data != data
            || i.app != application
            || i.app != p.application
        {
            return self.violate(
                Invariant::PromptOnlyAllowedGenuine,
                format!("{name} prompted for a forged copy of {shown}"),
            );
        }
        if let Some(other) = self
            .sessions
            .iter()
            .enumerate()
            .find(|(o, x)| *o != s && x.prompt.as_ref().is_some_and(|q| q.inv == Some(k)))
        {
            let other = other.0;
            return self.violate(
                Invariant::PromptOnlyAllowedGenuine,
                format!(
                    "{name} prompted for {shown}, already prompted by {}: a replay",
                    self.sess_name(other)
                ),
            );
        }
        let Some(a) = i.session else {
            return self.violate(
                Invariant::PromptOnlyAllowedGenuine,
                format!("{name} prompted for {shown} before it was sent"),
            );
        };
        let (hello_a, proof_a) = {
            let sa = &self.sessions[a];
            (
                sa.tx.get(..HELLO_FRAME_LEN).unwrap_or(&[]).to_vec(),
                first_frame(&sa.rx)
                    .map(|(_, f)| f.to_vec())
                    .unwrap_or_default(),
            )
        };
        let sb = &self.sessions[s];
        let hello_b = first_frame(&sb.rx)
            .map(|(_, f)| f.to_vec())
            .unwrap_or_default();
        let proof_b = first_frame(&sb.tx)
            .map(|(_, f)| f.to_vec())
            .unwrap_or_default();
        if hello_a != hello_b || proof_a != proof_b {
            return self.violate(
                Invariant::PromptOnlyAllowedGenuine,
                format!(
                    "{name} prompted for {shown} in a session that is not its inviter's (hello {}, proof {})",
                    if hello_a == hello_b { "same" } else { "differs" },
                    if proof_a == proof_b { "same" } else { "differs" }
                ),
            );
        }
        self.plan_user(s, k);
    }

    // --- Users ------------------------------------------------------------

    fn plan_user(&mut self, s: SessId, k: InvId) {
        let node = self.sessions[s].node;
        let deadline = self.sessions[s]
            .prompt
            .as_ref()
            .map_or(self.now, |p| p.deadline);
        let phase2 = self.invs[k].phase2;
        let tick = Duration::from_ticks(1);
        let r = self.o.config.response_timeout;
        let n = &mut self.nodes[node];
        let style = n.user;
        let rng = &mut n.rng;
        let (kind, at, when) = if phase2 {
            (
                Kind::Accept,
                self.now + Duration::from_millis(rng.range(1, 3000)),
                "soon",
            )
        } else {
            let x = rng.below(1000) as u32;
            let kind = if x < style.accept {
                Some(Kind::Accept)
            } else if x < style.accept + style.decline {
                Some(Kind::Decline)
            } else if x < style.accept + style.decline + style.fail {
                Some(Kind::Fail(rng.next_u64() as u32))
            } else if x < style.accept + style.decline + style.fail + style.busy {
                Some(Kind::Busy)
            } else {
                None
            };
            let Some(kind) = kind else {
                self.log(format!(
                    "{}: the user will ignore the prompt",
                    self.sess_name(s)
                ));
                return;
            };
            let (at, when) = match rng.below(10) {
                0 => (deadline - tick, "one tick before the deadline"),
                1 => (deadline, "exactly at the deadline"),
                2 => (deadline + tick, "one tick after the deadline"),
                3..=5 => (self.now + Duration::from_millis(rng.range(1, 5000)), "soon"),
                _ => (
                    self.now + Duration::from_micros(rng.below(r.as_micros())),
                    "some time",
                ),
            };
            (kind, at, when)
        };
        self.log(format!(
            "{}: the user will {kind:?} {when}",
            self.sess_name(s)
        ));
        self.schedule(at, Ev::Decide(s, kind, when));
        if self.invs[k].cancel == CancelPlan::Race {
            if let Some(a) = self.invs[k].session {
                let spread = (self.o.latency + self.o.jitter).as_micros() * 2 + 1;
                let delta = self.rng.below(2 * spread) as i64 - spread as i64;
                let t = if delta < 0 {
                    at - Duration::from_micros(delta.unsigned_abs())
                } else {
                    at + Duration::from_micros(delta as u64)
                };
                self.schedule(t.max(self.now), Ev::Cancel(a));
                self.fault(Faults::CANCEL, "cancel racing the answer");
            }
        }
    }

    fn decide(&mut self, s: SessId, kind: Kind, when: &'static str) {
        let name = self.sess_name(s);
        let now = self.now;
        let expected: Result<(), Error> = {
            let sess = &self.sessions[s];
            let deadline = sess.prompt.as_ref().map_or(now, |p| p.deadline);
            match sess.invitee_outcome {
                None if now < deadline => Ok(()),
                None => Err(Error::Expired),
                Some(InviteeOutcome::Expired) => Err(Error::Expired),
                Some(InviteeOutcome::Cancelled) => Err(Error::Cancelled),
                Some(_) => Err(Error::InvalidState),
            }
        };
        let mut message = match kind {
            Kind::Accept => format!("yes from s{s}"),
            Kind::Decline => format!("no from s{s}"),
            Kind::Fail(_) => format!("failed at s{s}"),
            Kind::Busy => String::new(),
        };
        // Now and then the longest answer there is: 255 four-byte
        // characters.
        if kind != Kind::Busy && self.nodes[self.sessions[s].node].rng.chance(50) {
            message.push('|');
            while message.chars().count() < 255 {
                message.push('\u{1F600}');
            }
        }
        // Now and then, first an over-long message: refused as it is built,
        // so that no decision can carry it, whatever the session's state.
        if self.nodes[self.sessions[s].node].rng.chance(50) {
            let long = "x".repeat(256);
            let too_long = Error::InvalidArgument(ArgumentError::TooLong);
            let (m, d) = (Message::new(&long), Decision::accept(&long));
            if m != Err(too_long) || d != Err(too_long) {
                return self.violate(
                    Invariant::CallContract,
                    format!("{name}: a 256-character answer gave {m:?} and {d:?}"),
                );
            }
        }
        let text = match Message::new(&message) {
            Ok(text) => text,
            Err(e) => {
                return self.violate(
                    Invariant::CallContract,
                    format!("{name}: an answer within 255 characters was refused: {e:?}"),
                )
            }
        };
        let decision = match kind {
            Kind::Accept => Decision::Accept { message: text },
            Kind::Decline => Decision::Decline { message: text },
            Kind::Fail(code) => Decision::Error {
                code,
                message: text,
            },
            Kind::Busy => Decision::Busy,
        };
        let r = match &mut self.sessions[s].role {
            Role::Invitee(m) => m.decide(now, decision),
            Role::Inviter(_) => return,
        };
        self.log(format!("{name}: the user decides {kind:?} {when}: {r:?}"));
        self.case(match (when, &r) {
            ("one tick before the deadline", Ok(())) => {
                "decision one tick before the deadline: sent"
            }
            ("one tick before the deadline", Err(_)) => {
                "decision one tick before the deadline: too late (session over)"
            }
            ("exactly at the deadline", Err(Error::Expired)) => {
                "decision exactly at the deadline: Expired"
            }
            ("exactly at the deadline", _) => "decision exactly at the deadline: other",
            ("one tick after the deadline", Err(Error::Expired)) => {
                "decision one tick after the deadline: Expired"
            }
            ("one tick after the deadline", _) => "decision one tick after the deadline: other",
            (_, Ok(())) => "decision in time: sent",
            (_, Err(Error::Cancelled)) => "decision after a Cancel: Cancelled",
            (_, Err(_)) => "decision after the session ended",
        });
        if r.is_ok() || self.o.bug == Some(Bug::TrustRefusedDecisions) {
            self.sessions[s].decision = Some((kind, now, message));
        }
        if r != expected {
            self.violate(
                Invariant::CallContract,
                format!("{name}: decision {when} gave {r:?}, expected {expected:?}"),
            );
        }
        self.drain(s);
    }

    fn cancel(&mut self, s: SessId) {
        let name = self.sess_name(s);
        let now = self.now;
        let (finished, verified, tx, events) = {
            let x = &self.sessions[s];
            (
                x.finished_at.is_some(),
                x.verified.is_some(),
                x.tx.len(),
                x.events,
            )
        };
        let due = match &mut self.sessions[s].role {
            Role::Inviter(m) => {
                let due = m.poll_timeout();
                m.handle_cancel(now);
                due
            }
            Role::Invitee(_) => return,
        };
        self.log(format!("{name}: the inviter cancels"));
        self.fault(Faults::CANCEL, "cancel");
        self.drain(s);
        let case = if finished {
            "cancel after the end"
        } else if !verified {
            self.sessions[s].cancelled_before_invite = true;
            "cancel before the Invite"
        } else {
            self.sessions[s].cancelled_after_invite = true;
            "cancel after the Invite"
        };
        self.case(case);
        let x = &self.sessions[s];
        let timer_passed = due.is_some_and(|t| t <= now);
        let why = if finished {
            (x.tx.len() != tx || x.events != events)
                .then_some("a cancel after the end did something")
        } else if !verified && !timer_passed {
            (x.inviter_result != Some(Err(SessionError::Cancelled)) || x.tx.len() != tx)
                .then_some("a cancel before the Invite did not end the session at once, silently")
        } else {
            None
        };
        if let Some(why) = why {
            self.violate(Invariant::CallContract, format!("{name}: {why}"));
        }
    }

    // --- The attacker's own connections -----------------------------------

    fn attacker_action(&mut self, k: u64) {
        if !self.in_window() || self.o.attackers == 0 {
            return;
        }
        let mut rng = Rng::derive(self.o.seed, "attack", k);
        let x = self.o.nodes + rng.index(self.o.attackers);
        let b = rng.index(self.o.nodes);
        let f = self.o.faults;
        let mut kinds = Vec::new();
        if f.has(Faults::REPLAY) && !self.rec_streams.iter().all(|s| s.len() < HELLO_FRAME_LEN) {
            kinds.push("replay");
        }
        if f.has(Faults::FLOOD) {
            kinds.extend(["idle", "forge", "version", "evil", "evil"]);
        }
        if kinds.is_empty() {
            if !f.has(Faults::FLOOD) {
                return;
            }
            kinds.push("idle");
        }
        let what = kinds[rng.index(kinds.len())];
        let count = if what == "idle" {
            rng.range(1, 2 + self.o.pool as u64)
        } else {
            1
        };
        for _ in 0..count {
            let kind = match what {
                "replay" => {
                    let streams: Vec<&Vec<u8>> = self
                        .rec_streams
                        .iter()
                        .filter(|s| s.len() >= HELLO_FRAME_LEN)
                        .collect();
                    ScriptKind::Replay(streams[rng.index(streams.len())].clone())
                }
                "forge" => ScriptKind::Forge,
                "evil" => {
                    // Claim a contact of b (the interesting lie), copying
                    // one of its genuine invitations to b if there is one.
                    let contacts: Vec<NodeId> = (0..self.o.nodes)
                        .filter(|v| {
                            *v != b
                                && self.nodes[b]
                                    .dir
                                    .contact(&self.nodes[*v].key)
                                    .map(Contact::permission)
                                    == Some(Permission::Allowed)
                        })
                        .collect();
                    let victim = if contacts.is_empty() {
                        (b + 1) % self.o.nodes
                    } else {
                        contacts[rng.index(contacts.len())]
                    };
                    let copy = self.invs.iter().position(|i| i.from == victim && i.to == b);
                    let lie = evil::INVITE_LIES[rng.index(evil::INVITE_LIES.len())];
                    ScriptKind::EvilInvite {
                        state: None,
                        lie,
                        victim,
                        attacker: x,
                        copy,
                    }
                }
                "version" => ScriptKind::BadVersion([0u8, 2, 255][rng.index(3)]),
                _ => ScriptKind::Idle,
            };
            let c = self.open_conn(x, b, End::Gone, false);
            let id = self.new_script(c, 0, kind);
            self.conns[c].ends[0] = End::Script(id);
            let (kind, label) = match what {
                "replay" => (Faults::REPLAY, "replayed stream"),
                "forge" => (Faults::FLOOD, "forged handshake"),
                "evil" => (Faults::FLOOD, "forged invite in a real handshake"),
                "version" => (Faults::FLOOD, "wrong-version hello"),
                _ => (Faults::FLOOD, "idle connection"),
            };
            self.fault(kind, label);
            self.log(format!(
                "attacker {} opens c{c} to {}: {what}",
                self.nodes[x].name, self.nodes[b].name
            ));
            self.schedule(self.now, Ev::ScriptStep(id));
        }
    }

    fn script_step(&mut self, id: ScriptId) {
        if self.scripts[id].closed {
            return;
        }
        let (c, side) = (self.scripts[id].conn, self.scripts[id].side);
        let stage = self.scripts[id].stage;
        self.scripts[id].stage += 1;
        let mut rng = self.scripts[id].rng.clone();
        let rng = &mut rng;
        let mut out = Vec::new();
        let mut next = None;
        let mut close = false;
        match &self.scripts[id].kind {
            ScriptKind::Replay(stream) => {
                // The stream in pieces, then silence until a close.
                let pieces = 3u32;
                let len = stream.len();
                let from = len * stage as usize / pieces as usize;
                let to = len * (stage as usize + 1) / pieces as usize;
                if stage < pieces {
                    out = stream[from.min(len)..to.min(len)].to_vec();
                    next = Some(Duration::from_millis(rng.range(0, 2000)));
                } else {
                    close = true;
                }
            }
            ScriptKind::Idle => {
                if stage == 0 && rng.chance(500) {
                    out = hello(1, rng);
                }
            }
            ScriptKind::Forge => {
                if stage == 0 {
                    out = hello(1, rng);
                } else if stage == 1 {
                    let len = rng.range(17, 400) as usize;
                    out = sealed(len, rng);
                    next = Some(Duration::from_millis(rng.range(100, 5000)));
                } else {
                    close = true;
                }
            }
            ScriptKind::BadVersion(v) => {
                if stage == 0 {
                    out = hello(*v, rng);
                }
            }
            ScriptKind::EvilInvite { .. } => {
                if stage == 0 {
                    let (state, hello) = EvilInitiator::start(rng);
                    if let ScriptKind::EvilInvite { state: st, .. } = &mut self.scripts[id].kind {
                        *st = Some(state);
                    }
                    out = hello;
                } else {
                    close = true;
                }
            }
            ScriptKind::EvilProof { .. } => {
                if stage > 0 {
                    close = true;
                }
            }
            ScriptKind::ReplayProof(proof, answer) => {
                if stage == 0 {
                    out = proof.clone();
                    next = Some(Duration::from_millis(rng.range(0, 3000)));
                } else if stage == 1 {
                    if let Some(a) = answer {
                        out = a.clone();
                    }
                    next = Some(Duration::from_millis(rng.range(0, 3000)));
                } else {
                    close = true;
                }
            }
        }
        self.scripts[id].rng = rng.clone();
        if !out.is_empty() {
            self.send(c, side, out);
        }
        if let Some(d) = next {
            self.schedule(self.now + d, Ev::ScriptStep(id));
        }
        if close {
            self.close_end(c, side);
        }
    }

    fn script_input(&mut self, id: ScriptId, bytes: &[u8]) {
        let before = self.scripts[id].got;
        self.scripts[id].got += bytes.len();
        let got = self.scripts[id].got;
        if self.scripts[id].inbox.len() < 4096 {
            self.scripts[id].inbox.extend_from_slice(bytes);
        }
        let (c, side) = (self.scripts[id].conn, self.scripts[id].side);
        let first = first_frame(&self.scripts[id].inbox).map(|(k, f)| (k, f.to_vec()));
        let mut rng = self.scripts[id].rng.clone();
        let mut out = None;
        match &mut self.scripts[id].kind {
            ScriptKind::EvilInvite {
                state,
                lie,
                victim,
                attacker,
                copy,
            } if state.is_some() => {
                if let Some((_, proof)) = first.filter(|(k, _)| *k == FrameKind::Proof as u8) {
                    let st = state.take();
                    let (lie, victim, attacker, copy) = (*lie, *victim, *attacker, *copy);
                    let (app, message, data) = match copy {
                        Some(k) => (
                            *self.invs[k].app.as_bytes(),
                            self.invs[k].message.clone(),
                            self.invs[k].data.clone(),
                        ),
                        None => (*APP_IDS[0].as_bytes(), "forged".to_string(), Vec::new()),
                    };
                    out = st.and_then(|st| {
                        st.lying_invite(
                            &proof,
                            &self.nodes[attacker].identity,
                            self.nodes[victim].key,
                            lie,
                            app,
                            &message,
                            &data,
                            &mut rng,
                        )
                    });
                    self.log(format!(
                        "c{c}: the evil inviter sends an Invite lying {lie:?} as {}",
                        self.nodes[victim].name
                    ));
                }
            }
            ScriptKind::EvilProof {
                lie,
                claimed,
                attacker,
                sent,
            } if !*sent => {
                if let Some((_, hello)) = first.filter(|(k, _)| *k == FrameKind::Hello as u8) {
                    *sent = true;
                    out = evil::lying_proof(
                        &hello,
                        &self.nodes[*attacker].identity,
                        self.nodes[*claimed].key,
                        *lie,
                        &mut rng,
                    );
                }
            }
            _ => {}
        }
        self.scripts[id].rng = rng;
        if let Some(frame) = out {
            self.send(c, side, frame);
            let later = Duration::from_millis(self.rng.range(100, 30_000));
            self.scripts[id].stage = self.scripts[id].stage.max(1);
            self.schedule(self.now + later, Ev::ScriptStep(id));
        }
        match self.scripts[id].kind {
            ScriptKind::Forge if before < PROOF_FRAME_LEN && got >= PROOF_FRAME_LEN => {
                self.schedule(self.now, Ev::ScriptStep(id));
            }
            ScriptKind::ReplayProof(..) if before == 0 => {
                self.schedule(self.now, Ev::ScriptStep(id));
            }
            _ => {}
        }
    }

    // --- Directory changes --------------------------------------------------

    fn policy_change(&mut self, node: Option<NodeId>, k: u64) {
        if !self.in_window() {
            return;
        }
        let mut rng = Rng::derive(self.o.seed, "policy-change", k);
        let n = node.unwrap_or_else(|| rng.index(self.o.nodes));
        let total = self.nodes.len();
        let other = (n + 1 + rng.index(total - 1)) % total;
        let key = self.nodes[other].key;
        let oname = self.nodes[other].name.clone();
        let dir = &mut self.nodes[n].dir;
        let what = match rng.below(6) {
            0 => {
                let p = [Policy::Off, Policy::TrustedOnly, Policy::Anyone][rng.index(3)];
                dir.set_policy(p);
                format!("policy {p:?}")
            }
            1 => {
                let perm = if rng.chance(500) {
                    Permission::Blocked
                } else {
                    Permission::Allowed
                };
                let r = dir.set_permission(&key, perm);
                format!("{perm:?} {oname}: {r:?}")
            }
            2 => {
                let before = dir.contacts().count();
                let known = dir.contact(&key).is_some();
                let r = Contact::new(key, &oname, "").and_then(|c| dir.add_contact(c));
                let after = dir.contacts().count();
                let ok = match r {
                    Ok(()) => !known && after == before + 1 && after <= CONTACTS,
                    Err(Error::CapacityFull) => before == CONTACTS && after == before,
                    Err(_) => known && after == before,
                };
                if !ok {
                    let msg = format!("adding contact {oname} to a directory of {before}/{CONTACTS} gave {r:?}, now {after}");
                    self.violate(Invariant::WithinCapacity, msg);
                }
                format!("add contact {oname}: {r:?}")
            }
            3 => {
                let r = dir.remove_contact(&key).map(|_| ());
                format!("remove contact {oname}: {r:?}")
            }
            4 => {
                let app = APP_IDS[rng.index(APP_IDS.len())];
                let r = dir.register(app, "app");
                format!("register {}: {r:?}", app_name(&app))
            }
            _ => {
                let app = APP_IDS[rng.index(APP_IDS.len())];
                let r = dir.unregister(&app);
                format!("unregister {}: {r:?}", app_name(&app))
            }
        };
        self.fault(Faults::POLICY, "directory change");
        let name = self.nodes[n].name.clone();
        self.log(format!("{name} changes its directory: {what}"));
    }

    // --- Capacity ---------------------------------------------------------

    fn check_pools(&mut self) {
        for i in 0..self.o.nodes {
            if self.nodes[i].live > self.o.pool {
                let msg = format!(
                    "{} serves {} sessions, more than its pool of {}",
                    self.nodes[i].name, self.nodes[i].live, self.o.pool
                );
                return self.violate(Invariant::WithinCapacity, msg);
            }
            if self.nodes[i].dir.contacts().count() > CONTACTS
                || self.nodes[i].dir.registrations().count() > APPS
            {
                let msg = format!("{}'s directory is over its capacity", self.nodes[i].name);
                return self.violate(Invariant::WithinCapacity, msg);
            }
        }
    }

    // --- After the faults ---------------------------------------------------

    fn phase2(&mut self) {
        self.in_phase2 = true;
        self.log("faults stop; every earlier session must be over".to_string());
        for s in 0..self.sessions.len() {
            if self.sessions[s].finished_at.is_none() {
                let name = self.sess_name(s);
                return self.violate(
                    Invariant::ExactlyOneOutcome,
                    format!("{name} is still running long after every deadline"),
                );
            }
        }
        // Pick pairs the policy allows; if there are none, a user turns
        // invitations on for one.
        let mut rng = Rng::derive(self.o.seed, "phase2", 0);
        let mut eligible = Vec::new();
        for a in 0..self.o.nodes {
            for b in 0..self.o.nodes {
                if a == b {
                    continue;
                }
                let key = self.nodes[a].key;
                if let Some(app) = APP_IDS
                    .iter()
                    .find(|app| policy_allows(&self.nodes[b].dir, &key, app).is_ok())
                {
                    eligible.push((a, b, *app));
                }
            }
        }
        if eligible.is_empty() {
            let a = rng.index(self.o.nodes);
            let b = (a + 1) % self.o.nodes;
            let key = self.nodes[a].key;
            let dir = &mut self.nodes[b].dir;
            dir.set_policy(Policy::Anyone);
            let _ = dir.set_permission(&key, Permission::Allowed);
            if dir.registrations().count() == 0 {
                let _ = dir.register(APP_IDS[0], "app");
            }
            let app = dir.registrations().next().map_or(APP_IDS[0], |r| r.id());
            let name = self.nodes[b].name.clone();
            self.log(format!("{name}'s user opens invitations to anyone"));
            eligible.push((a, b, app));
        }
        // At most one per invitee, so no pool fills up.
        for _ in 0..3 {
            if eligible.is_empty() {
                break;
            }
            let i = rng.index(eligible.len());
            let (from, to, app) = eligible.swap_remove(i);
            eligible.retain(|(_, b, _)| *b != to);
            let k = self.invs.len();
            let start = self.now + Duration::from_millis(rng.range(0, 1000));
            self.invs.push(Inv {
                from,
                to,
                endpoint: false,
                app,
                message: format!("i{k}"),
                data: rng.vec(16),
                start,
                cancel: CancelPlan::None,
                phase2: true,
                session: None,
            });
            self.schedule(start, Ev::StartInvitation(k));
        }
    }

    fn final_checks(&mut self) {
        for s in 0..self.sessions.len() {
            if self.sessions[s].finished_at.is_none() {
                let name = self.sess_name(s);
                return self.violate(
                    Invariant::ExactlyOneOutcome,
                    format!("{name} never finished"),
                );
            }
        }
        for n in 0..self.nodes.len() {
            if self.nodes[n].live != 0 {
                let name = self.nodes[n].name.clone();
                return self.violate(
                    Invariant::WithinCapacity,
                    format!("{name} leaked pool slots"),
                );
            }
        }
        for k in 0..self.invs.len() {
            let Some(a) = self.invs[k].session else {
                let m = short_msg(&self.invs[k].message);
                return self.violate(Invariant::Liveness, format!("invitation {m} never started"));
            };
            let c = self.sessions[a].conn;
            let r = self.sessions[a].inviter_result;
            let b = match self.conns[c].ends[1] {
                End::Session(b) => Some(b),
                _ => None,
            };
            let o = b.and_then(|b| self.sessions[b].invitee_outcome);
            if self.invs[k].phase2 {
                let ok = r == Some(Ok(Response::Accepted))
                    && matches!(o, Some(InviteeOutcome::Accepted(_)));
                if !ok {
                    let m = short_msg(&self.invs[k].message);
                    let msg = format!(
                        "after the faults stopped, invitation {m} ended {:?} / {:?} instead of Accepted",
                        r.as_ref().map(result_label),
                        o.as_ref().map(outcome_label)
                    );
                    return self.violate(Invariant::Liveness, msg);
                }
                continue;
            }
            // A healthy link: no fault touched it; both sides agree.
            let conn = &self.conns[c];
            let healthy = conn.attack == Attack::None
                && conn.broke.is_none()
                && !conn.tampered
                && !conn.delayed;
            // A cancel before the Invite ends the inviter at once, whatever
            // the invitee did meanwhile (say, refused in clear).
            let cancelled_first =
                self.sessions[a].cancelled_before_invite && r == Some(Err(SessionError::Cancelled));
            if let (true, false, Some(r), Some(o)) = (healthy, cancelled_first, r, o) {
                if !agrees(&r, &o) {
                    let m = short_msg(&self.invs[k].message);
                    let msg = format!(
                        "on a healthy link, invitation {m} ended {} at the inviter and {} at the invitee",
                        result_label(&r),
                        outcome_label(&o)
                    );
                    return self.violate(Invariant::Liveness, msg);
                }
            }
        }
    }

    fn report(mut self) -> Report {
        let mut r = Report {
            seed: self.o.seed,
            steps: self.step,
            sim_time_us: t_us(self.now),
            ..Report::default()
        };
        for s in &self.sessions {
            r.exchanges += 1;
            match &s.role {
                Role::Inviter(_) => {
                    r.invitations += 1;
                    if let Some(x) = &s.inviter_result {
                        *r.inviter_outcomes.entry(result_label(x)).or_default() += 1;
                    }
                }
                Role::Invitee(_) => {
                    if let Some(o) = &s.invitee_outcome {
                        *r.invitee_outcomes.entry(outcome_label(o)).or_default() += 1;
                    }
                }
            }
        }
        r.exchanges += self.scripts.len() as u64;
        // Disagreements: the invitee answered a prompt; did the inviter
        // learn that answer?
        for s in 0..self.sessions.len() {
            let sess = &self.sessions[s];
            let (Some(p), Some(o)) = (&sess.prompt, sess.invitee_outcome) else {
                continue;
            };
            if matches!(o, InviteeOutcome::Failed(_)) {
                continue;
            }
            let Some(k) = p.inv else { continue };
            let Some(a) = self.invs[k].session else {
                continue;
            };
            let Some(res) = self.sessions[a].inviter_result else {
                continue;
            };
            r.answered += 1;
            if !agrees(&res, &o) {
                r.disagreements += 1;
                let conn = &self.conns[self.sessions[a].conn];
                let answered_at = sess.finished_at.unwrap_or(START);
                let cause = match conn.broke {
                    Some(t) if t >= answered_at => {
                        r.link_disagreements += 1;
                        "the link broke with the answer in flight"
                    }
                    Some(_) => "the link broke before; the invitee answered into the void",
                    None if conn.tampered || conn.attack != Attack::None => "an attacker tampered",
                    None if conn.delayed => "the link was stalled or partitioned past a deadline",
                    None => "other",
                };
                *r.disagreement_causes.entry(cause).or_default() += 1;
            }
        }
        r.faults = std::mem::take(&mut self.faults);
        r.fault_kinds = std::mem::take(&mut self.fault_kinds);
        r.cases = std::mem::take(&mut self.cases);
        r.violation = self.violation.take();
        self.emit(format!("end after {} steps", self.step));
        r.trace_hash = self.hash.finish();
        r.trace = std::mem::take(&mut self.trace);
        r
    }
}

type PartitionIdx = usize;

impl Session {
    fn new(
        node: NodeId,
        role: Role,
        conn: ConnId,
        side: usize,
        inv: Option<InvId>,
        now: Instant,
    ) -> Self {
        Session {
            node,
            role,
            conn,
            side,
            inv,
            started: now,
            events: 0,
            finished_at: None,
            inviter_result: None,
            invitee_outcome: None,
            verified: None,
            prompt: None,
            decision: None,
            tx: Vec::new(),
            rx: Vec::new(),
            timer_at: None,
            closed: false,
            checked_invite: false,
            proof_registered: false,
            drain_pending: false,
            cancelled_after_invite: false,
            cancelled_before_invite: false,
        }
    }
}

/// A message for the trace: its id, without the padding.
fn short_msg(message: &str) -> String {
    match message.split_once('|') {
        Some((id, pad)) => format!("{id}+{}ch", pad.chars().count() + 1),
        None => message.to_string(),
    }
}

/// The invitation a message names: `i<k>`, maybe followed by padding.
fn invitation_id(message: &str) -> Option<usize> {
    let digits: String = message
        .strip_prefix('i')?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn push_capped<T>(v: &mut Vec<T>, x: T) {
    if v.len() >= RECORD_CAP {
        v.remove(0);
    }
    v.push(x);
}

fn app_name(app: &ApplicationId) -> String {
    format!("app{:x}", app.as_bytes()[0] & 0x0F)
}

/// A well-formed Hello of `version` with a random ephemeral key.
fn hello(version: u8, rng: &mut Rng) -> Vec<u8> {
    let mut f = vec![
        0u8,
        (HELLO_FRAME_LEN - 2) as u8,
        FrameKind::Hello as u8,
        version,
    ];
    if rng.chance(150) {
        // A low-order ephemeral key (u = 0): the DH result is all zeros.
        f.extend_from_slice(&[0u8; 32]);
    } else {
        f.extend_from_slice(&rng.bytes::<32>());
    }
    f
}

/// A well-formed Sealed frame with `len` random body bytes.
fn sealed(len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut f = ((len + 1) as u16).to_be_bytes().to_vec();
    f.push(FrameKind::Sealed as u8);
    f.extend(rng.vec(len));
    f
}

/// A frame with a valid header and a random (forged) body: a Hello, a
/// Proof, a Sealed frame or a clear Refusal.
fn forged_frame(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => hello(1, rng),
        1 => {
            let mut f = ((PROOF_FRAME_LEN - 2) as u16).to_be_bytes().to_vec();
            f.push(FrameKind::Proof as u8);
            f.extend(rng.vec(PROOF_FRAME_LEN - HEADER_LEN));
            f
        }
        2 => {
            let len = rng.range(17, 300) as usize;
            sealed(len, rng)
        }
        _ => {
            // The reasons sent in clear, and one that never is: NotTrusted
            // (tag 0), which only ever comes sealed.
            let not_trusted = [
                0,
                (REFUSAL_FRAME_LEN - 2) as u8,
                FrameKind::Refusal as u8,
                PROTOCOL_VERSION,
                0,
            ];
            let frames = [
                refusal_frame(ClearRefusal::InvitationsOff),
                refusal_frame(ClearRefusal::Busy),
                not_trusted,
                refusal_frame(ClearRefusal::UnsupportedVersion),
            ];
            frames[rng.index(frames.len())].to_vec()
        }
    }
}

/// Runs one world.
pub(crate) fn run(seed: u64, overrides: &Overrides, trace: bool) -> Report {
    crate::quiet_panics();
    let o = Options::new(seed, overrides);
    World::new(o, trace).run()
}
