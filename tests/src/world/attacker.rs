//! The attacker: what it records of the links it sits on, how it tampers
//! with them, and the scripts of its own connections (replays, floods,
//! forgeries, a real handshake with a lying Invite or Proof).

use beckon_core::internal::frame::{FrameKind, HEADER_LEN, HELLO_FRAME_LEN, PROOF_FRAME_LEN};
use beckon_core::limits::PROTOCOL_VERSION;
use beckon_core::wire::{refusal_frame, ClearRefusal, REFUSAL_FRAME_LEN};
use beckon_core::{Contact, Permission};
use embassy_time::Duration;

use crate::evil::{self, EvilInitiator, InviteLie, ProofLie};
use crate::options::Faults;
use crate::rng::Rng;

use super::network::{first_frame, End};
use super::{ConnId, Ev, InvId, NodeId, ScriptId, World, APP_IDS, START};

/// Recorded frames and streams the attacker keeps.
pub(super) const RECORD_CAP: usize = 48;
/// Bytes of one recorded stream the attacker keeps.
const STREAM_CAP: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Attack {
    None,
    Tap,
    Tamper,
    Reflect,
    Impersonate,
    ReplayProof,
    ForgedProof,
}

pub(super) enum ScriptKind {
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

pub(super) struct Script {
    conn: ConnId,
    side: usize,
    kind: ScriptKind,
    got: usize,
    inbox: Vec<u8>,
    stage: u32,
    pub(super) closed: bool,
    rng: Rng,
}

fn push_capped<T>(v: &mut Vec<T>, x: T) {
    if v.len() >= RECORD_CAP {
        v.remove(0);
    }
    v.push(x);
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

impl World {
    pub(super) fn new_script(&mut self, c: ConnId, side: usize, kind: ScriptKind) -> ScriptId {
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

    /// The attacker's view of one write: it records, and on some links it
    /// tampers. Returns what goes on; reflections go back directly.
    pub(super) fn attack_writes(&mut self, c: ConnId, d: usize, bytes: Vec<u8>) -> Vec<Vec<u8>> {
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

    pub(super) fn attacker_action(&mut self, k: u64) {
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

    pub(super) fn script_step(&mut self, id: ScriptId) {
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

    pub(super) fn script_input(&mut self, id: ScriptId, bytes: &[u8]) {
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
}
