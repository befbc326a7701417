//! The world: nodes, a network of byte-stream links, an attacker, users
//! and a virtual clock, all driven from one seed, with the invariants
//! checked as each step happens.
//!
//! This module holds the [`World`], its construction from the seed and the
//! main loop, which takes the next event off the queue and hands it to the
//! part of the world it concerns, each an `impl World` of its own:
//!
//! - [`session`]: the core's state machines, driven through one contract;
//! - [`users`]: the users' answers, the inviter's cancel, directory changes;
//! - [`network`]: the links, the delivery of bytes and the faults on the wire;
//! - [`attacker`]: recording, tampering, replays and forgeries;
//! - [`invariants`]: the oracle, checking each output as it happens;
//! - [`trace`]: the trace and its hash, its labels, and the report.

mod attacker;
mod invariants;
mod network;
mod session;
mod trace;
mod users;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use beckon_core::{
    ApplicationId, Contact, FixedDirectory, Identity, Permission, Policy, PublicKey,
};
use embassy_time::{Duration, Instant};

use crate::options::{Faults, Options, Overrides, STEP_LIMIT};
use crate::report::{Invariant, Report, Violation};
use crate::rng::{Fnv, Rng};

use attacker::Script;
use invariants::policy_allows;
use network::{Conn, Partition, TCP_GIVE_UP};
use session::Session;
use users::{Kind, UserStyle};

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

type NodeId = usize;
type SessId = usize;
type ConnId = usize;
type InvId = usize;
type ScriptId = usize;

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

    fn schedule(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Item {
            at: at.max(self.now),
            seq: self.seq,
            ev,
        });
    }

    fn in_window(&self) -> bool {
        self.now < START + self.o.window && !self.in_phase2
    }

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
}

/// Runs one world.
pub(crate) fn run(seed: u64, overrides: &Overrides, trace: bool) -> Report {
    crate::quiet_panics();
    let o = Options::new(seed, overrides);
    World::new(o, trace).run()
}
