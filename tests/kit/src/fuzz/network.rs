//! The network variant: two honest peers, a hostile network. Alice and
//! Bob, each an honest state machine, over a network the fuzzer controls,
//! with the properties that tie the two sides together and completeness
//! over an untouched network.

use std::collections::VecDeque;

use beckon_core::wire::max_data_for;
use beckon_core::*;
use embassy_time::Instant;

use super::fixtures::{
    ephemeral, keys, LARGE, NETWORK_INVITEE_EPHEMERALS, NETWORK_INVITER_EPHEMERALS, SMALL,
};
use super::frames::{is_whole, split_frames};
use super::inputs::{deadline_rounds, Clock, Dir, Mutation, NetOp, NetScript, TargetSpec, Way};
use super::oracles::{expected_verdict, new_invitee, new_inviter};
use super::watchers::{InviteeWatch, InviterWatch, Watch, Watched};

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

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

    /// Drains `m` through its watcher, and takes what it transmitted.
    fn drain<M: Watched>(&mut self, w: &mut Watch<M>, m: &mut M, history: &mut Vec<Vec<u8>>) {
        let before = w.sent.len();
        w.drain(m);
        self.push(&w.sent[before..], history);
    }
}

struct Network<'s, const IB: usize, const EB: usize> {
    script: &'s NetScript,
    data: &'s [u8],
    inviter: Inviter<IB>,
    invitee: Invitee<EB>,
    a: InviterWatch<IB>,
    b: InviteeWatch<EB>,
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
pub enum Interference {
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
pub struct NetRun {
    /// Alice's outcome.
    pub inviter: Result<Response, SessionError>,
    /// Bob's outcome.
    pub invitee: InviteeOutcome,
    /// Whether Bob got Alice's Invite (authenticated her).
    pub invite_in: bool,
    /// The first interference of the network, if any.
    pub interference: Option<Interference>,
    /// What Alice transmitted.
    pub inviter_sent: Vec<u8>,
    /// What Bob transmitted.
    pub invitee_sent: Vec<u8>,
}

impl<const IB: usize, const EB: usize> Network<'_, IB, EB> {
    /// The earlier of the two sides' next deadlines.
    fn next_deadline(&self) -> Option<Instant> {
        earliest(self.inviter.poll_timeout(), self.invitee.poll_timeout())
    }

    /// Time passes, to `now`, for both sides.
    fn timeout(&mut self, now: Instant) {
        self.a.timeout(&mut self.inviter, now);
        self.b.timeout(&mut self.invitee, now);
    }

    fn wire(&mut self, way: Way) -> &mut Wire {
        match way {
            Way::ToInvitee => &mut self.to_invitee,
            Way::ToInviter => &mut self.to_inviter,
        }
    }

    /// Moves what both sides transmit onto the wires, then checks both
    /// sides and the properties that tie them together.
    fn pump(&mut self) {
        self.to_invitee
            .drain(&mut self.a, &mut self.inviter, &mut self.history);
        self.to_inviter
            .drain(&mut self.b, &mut self.invitee, &mut self.history);

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
                    None => assert!(self.b.side.prompt.is_some(), "no prompt for a good Invite"),
                }
            }
        }
        // A prompt: from Alice, after she verified Bob, showing exactly her
        // invitation.
        if let Some(p) = self.b.side.prompt {
            assert_eq!(p.inviter, k.alice_pk);
            assert_eq!(
                self.a.side.verified,
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
                    .side
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
                self.a.side.cancel_sent,
                "Bob withdrew a prompt Alice never cancelled"
            );
        }
        self.had_inviter = self.invitee.inviter().is_some();
        self.had_prompt = self.b.side.prompt.is_some();
    }

    fn deliver(&mut self, way: Way, bytes: &[u8]) {
        let now = self.clock.now;
        match way {
            Way::ToInvitee => self.b.input(&mut self.invitee, now, bytes, &self.dir),
            Way::ToInviter => self.a.input(&mut self.inviter, now, bytes, &()),
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
                let deadline = self.next_deadline();
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
                let now = self.clock.at(*when, self.next_deadline());
                self.timeout(now);
            }
            NetOp::Decide(d) => self.b.decide(&mut self.invitee, self.clock.now, d),
            NetOp::Cancel => self.a.cancel(&mut self.inviter, self.clock.now),
            NetOp::Close(Way::ToInvitee) => self.b.close(&mut self.invitee, self.clock.now),
            NetOp::Close(Way::ToInviter) => self.a.close(&mut self.inviter, self.clock.now),
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
            let deadline = self
                .next_deadline()
                .expect("a side is not over and has no deadline");
            let now = self.clock.now.max(deadline);
            self.clock.now = now;
            self.timeout(now);
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
                if self.a.side.taken_back {
                    Err(SessionError::Cancelled)
                } else {
                    refused(Refusal::InvitationsOff, false)
                }
            }
            O::Refused(reason) => refused(reason, true),
            O::Failed(SessionError::HandshakeTimeout) => {
                assert!(
                    !invite_in && self.b.side.prompt.is_none(),
                    "a handshake timeout after the Invite"
                );
                let mismatch = !matches!(
                    self.script.target,
                    TargetSpec::Bob | TargetSpec::AnyEndpoint
                );
                if self.a.side.taken_back {
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
    let config = script.config.config();
    let (inviter, a) = new_inviter::<IB>(
        &config,
        script.target.target(),
        &script.invitation.make()?,
        ephemeral(&NETWORK_INVITER_EPHEMERALS, script.inviter_ephemeral),
    )?;
    let (invitee, b) = new_invitee::<EB>(
        &config,
        ephemeral(&NETWORK_INVITEE_EPHEMERALS, script.invitee_ephemeral),
        vec![keys().alice_pk],
    )
    .expect("the config was accepted by the inviter");
    let mut net = Network {
        script,
        data: script.invitation.data(),
        inviter,
        invitee,
        a,
        b,
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
pub fn run_network_any(script: &NetScript) -> Option<NetRun> {
    match (script.small_inviter, script.small_invitee) {
        (false, false) => run_network::<LARGE, LARGE>(script),
        (false, true) => run_network::<LARGE, SMALL>(script),
        (true, false) => run_network::<SMALL, LARGE>(script),
        (true, true) => run_network::<SMALL, SMALL>(script),
    }
}
