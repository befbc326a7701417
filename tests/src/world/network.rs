//! The network: byte-stream links between nodes (two pipes each), the
//! listener's accept (where an attacker on the link may answer in the
//! invitee's place), the delivery of writes, and the faults on the wire
//! (splits, merges, stalls, resets, half-open links, partitions).

use std::collections::VecDeque;

use beckon_core::internal::frame::{FrameKind, PROOF_FRAME_LEN};
use beckon_core::wire::{refusal_frame, ClearRefusal};
use embassy_time::{Duration, Instant};

use crate::evil;
use crate::options::Faults;
use crate::rng::Rng;

use super::attacker::{Attack, ScriptKind, RECORD_CAP};
use super::{ConnId, Ev, NodeId, ScriptId, SessId, World, START};

/// A connection crossing a partition longer than this is reset at both
/// ends (TCP gives up).
pub(super) const TCP_GIVE_UP: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Session(SessId),
    Script(ScriptId),
    Gone,
}

#[derive(Default)]
pub(super) struct Pipe {
    pub(super) q: VecDeque<(Instant, Vec<u8>)>,
    pub(super) last: Option<Instant>,
    pub(super) fin: bool,
    fin_done: bool,
    pub(super) stall_until: Option<Instant>,
    pub(super) tap: Vec<u8>,
}

pub(super) struct Conn {
    pub(super) ends: [End; 2],
    pub(super) nodes: [NodeId; 2],
    pub(super) pipes: [Pipe; 2],
    accepted: bool,
    pub(super) attack: Attack,
    /// Reset, half-open or given up under a partition, and when.
    pub(super) broke: Option<Instant>,
    pub(super) tampered: bool,
    pub(super) delayed: bool,
    pub(super) dead: bool,
    pub(super) rng: Rng,
    pub(super) stream: Option<usize>,
}

pub(super) struct Partition {
    pub(super) group: Vec<bool>,
    pub(super) start: Instant,
    pub(super) heal: Instant,
}

pub(super) fn first_frame(bytes: &[u8]) -> Option<(u8, &[u8])> {
    let len = usize::from(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]));
    let frame = bytes.get(..2 + len)?;
    Some((*frame.get(2)?, frame))
}

type PartitionIdx = usize;

impl World {
    pub(super) fn latency(&mut self, c: ConnId) -> Duration {
        let j = self.o.jitter.as_micros();
        let extra = self.conns[c].rng.below(j + 1);
        self.o.latency + Duration::from_micros(extra)
    }

    /// Opens a connection from `a` (end 0) to node `b`'s listener (end 1).
    pub(super) fn open_conn(&mut self, a: NodeId, b: NodeId, end_a: End, phase2: bool) -> ConnId {
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

    pub(super) fn accept(&mut self, c: ConnId) {
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

    /// Puts bytes written by end `d` of `c` on their way to the other end.
    pub(super) fn send(&mut self, c: ConnId, d: usize, bytes: Vec<u8>) {
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

    pub(super) fn deliver(&mut self, c: ConnId, d: usize) {
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
    pub(super) fn notify_close(&mut self, c: ConnId, end: usize) {
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
    pub(super) fn close_end(&mut self, c: ConnId, side: usize) {
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
    pub(super) fn reset(&mut self, c: ConnId, side: usize, half_open: bool) {
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

    pub(super) fn partition_give_up(&mut self, p: PartitionIdx) {
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
}
