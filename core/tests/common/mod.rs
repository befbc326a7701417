//! A two-party test harness on a virtual clock, in the style of
//! quinn-proto's `tests/util.rs`: both state machines, a latency knob, a
//! chunking knob, `step()` to the next event and `drive()` until idle.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::VecDeque;

use beckon_core::*;
use embassy_time::{Duration, Instant};

pub const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);
pub const GO: ApplicationId = ApplicationId::from_bytes([0x60; 16]);

pub fn alice() -> Identity {
    Identity::from_seed(&[0xA1; 32])
}
pub fn bob() -> Identity {
    Identity::from_seed(&[0xB0; 32])
}
pub fn carol() -> Identity {
    Identity::from_seed(&[0xC0; 32])
}

pub type Dir = FixedDirectory<8, 8>;

/// Bob's usual directory: trusted contacts only, Alice a contact, chess
/// registered.
pub fn bobs_directory() -> Dir {
    let mut dir = Dir::new(Policy::TrustedOnly);
    dir.add_contact(Contact::new(alice().public_key(), "alice", "Alice").unwrap())
        .unwrap();
    dir.register(CHESS, "Chess").unwrap();
    dir
}

/// What a side sees on the wire, one write at a time.
#[derive(Default, Clone)]
pub struct Wire {
    pub writes: Vec<Vec<u8>>,
}

impl Wire {
    pub fn bytes(&self) -> Vec<u8> {
        self.writes.concat()
    }
}

pub struct Pair<const BUF: usize = DEFAULT_BUFFER> {
    pub now: Instant,
    pub inviter: Inviter<BUF>,
    pub invitee: Invitee<BUF>,
    pub directory: Dir,
    /// One-way latency.
    pub latency: Duration,
    /// Largest write handed to the peer at once (bytes are split).
    pub chunk: usize,
    to_invitee: VecDeque<(Instant, Vec<u8>)>,
    to_inviter: VecDeque<(Instant, Vec<u8>)>,
    pub inviter_events: Vec<InviterEvent>,
    pub invitee_events: Vec<InviteeEvent>,
    /// Everything each side transmitted.
    pub from_inviter: Wire,
    pub from_invitee: Wire,
    /// Whether the link is up; when cut, bytes in flight are lost.
    pub connected: bool,
}

pub struct Setup<'a> {
    pub inviter: Identity,
    pub invitee: Identity,
    pub target: Target,
    pub invitation: Invitation<'a>,
    pub config: Config,
    pub directory: Dir,
    pub inviter_ephemeral: [u8; 32],
    pub invitee_ephemeral: [u8; 32],
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup {
            inviter: alice(),
            invitee: bob(),
            target: Target::Contact(bob().public_key()),
            invitation: Invitation::new(CHESS, "A game?", b"board=standard").unwrap(),
            config: Config::default(),
            directory: bobs_directory(),
            inviter_ephemeral: [0xE1; 32],
            invitee_ephemeral: [0xE2; 32],
        }
    }
}

impl<const BUF: usize> Pair<BUF> {
    pub fn new(setup: Setup<'_>) -> Self {
        let now = Instant::from_secs(1000);
        let inviter = Inviter::new(
            setup.config,
            &setup.inviter,
            setup.target,
            &setup.invitation,
            EphemeralSecret::from_bytes(setup.inviter_ephemeral),
            now,
        )
        .unwrap();
        let invitee = Invitee::new(
            setup.config,
            &setup.invitee,
            EphemeralSecret::from_bytes(setup.invitee_ephemeral),
            now,
        )
        .unwrap();
        Pair {
            now,
            inviter,
            invitee,
            directory: setup.directory,
            latency: Duration::from_millis(10),
            chunk: usize::MAX,
            to_invitee: VecDeque::new(),
            to_inviter: VecDeque::new(),
            inviter_events: Vec::new(),
            invitee_events: Vec::new(),
            from_inviter: Wire::default(),
            from_invitee: Wire::default(),
            connected: true,
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Setup::default())
    }

    /// Drains both sides' transmits into the network and their events into
    /// the logs. Returns whether anything moved.
    fn drain(&mut self) -> bool {
        let mut moved = false;
        let mut buf = vec![0u8; 70_000];
        loop {
            let n = self.inviter.poll_transmit(&mut buf);
            if n == 0 {
                break;
            }
            moved = true;
            self.from_inviter.writes.push(buf[..n].to_vec());
            if self.connected {
                for piece in buf[..n].chunks(self.chunk.max(1)) {
                    self.to_invitee.push_back((self.now + self.latency, piece.to_vec()));
                }
            }
        }
        loop {
            let n = self.invitee.poll_transmit(&mut buf);
            if n == 0 {
                break;
            }
            moved = true;
            self.from_invitee.writes.push(buf[..n].to_vec());
            if self.connected {
                for piece in buf[..n].chunks(self.chunk.max(1)) {
                    self.to_inviter.push_back((self.now + self.latency, piece.to_vec()));
                }
            }
        }
        while let Some(e) = self.inviter.poll_event() {
            moved = true;
            self.inviter_events.push(e);
        }
        while let Some(e) = self.invitee.poll_event() {
            moved = true;
            self.invitee_events.push(e);
        }
        moved
    }

    /// Delivers what is due and fires due timers at `now`.
    fn deliver(&mut self) -> bool {
        let mut moved = false;
        while self.to_invitee.front().is_some_and(|(t, _)| *t <= self.now) {
            let (_, bytes) = self.to_invitee.pop_front().unwrap();
            self.invitee.handle_input(self.now, &bytes, &self.directory);
            moved = true;
        }
        while self.to_inviter.front().is_some_and(|(t, _)| *t <= self.now) {
            let (_, bytes) = self.to_inviter.pop_front().unwrap();
            self.inviter.handle_input(self.now, &bytes);
            moved = true;
        }
        if self.inviter.poll_timeout().is_some_and(|t| t <= self.now) {
            self.inviter.handle_timeout(self.now);
            moved = true;
        }
        if self.invitee.poll_timeout().is_some_and(|t| t <= self.now) {
            self.invitee.handle_timeout(self.now);
            moved = true;
        }
        moved
    }

    /// The next instant at which something is scheduled.
    pub fn next_event(&self) -> Option<Instant> {
        [
            self.to_invitee.front().map(|(t, _)| *t),
            self.to_inviter.front().map(|(t, _)| *t),
            self.inviter.poll_timeout(),
            self.invitee.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Does everything due now; if nothing is, advances the clock to the
    /// next event (not past `limit`). Returns false when idle.
    pub fn step_until(&mut self, limit: Instant) -> bool {
        let a = self.drain();
        let b = self.deliver();
        let c = self.drain();
        if a || b || c {
            return true;
        }
        match self.next_event() {
            Some(t) if t <= limit => {
                self.now = self.now.max(t);
                true
            }
            _ => false,
        }
    }

    pub fn step(&mut self) -> bool {
        self.step_until(Instant::MAX)
    }

    /// Runs until nothing is left to do (without moving past `limit`).
    pub fn drive_until(&mut self, limit: Instant) {
        let mut guard = 0;
        while self.step_until(limit) {
            guard += 1;
            assert!(guard < 1_000_000, "the pair never went idle");
        }
        if self.now < limit && limit != Instant::MAX {
            self.now = limit;
            self.drain();
            self.deliver();
            self.drain();
        }
    }

    pub fn drive(&mut self) {
        self.drive_until(Instant::MAX);
    }

    /// Runs the exchange until the invitee prompts, and returns the prompt.
    pub fn drive_to_prompt(&mut self) -> Prompt {
        let mut guard = 0;
        loop {
            if let Some(p) = self.prompt() {
                return p;
            }
            assert!(self.step(), "went idle without a prompt: {:?}", self.invitee_events);
            guard += 1;
            assert!(guard < 100_000);
        }
    }

    pub fn prompt(&self) -> Option<Prompt> {
        self.invitee_events.iter().find_map(|e| match e {
            InviteeEvent::Prompt(p) => Some(*p),
            _ => None,
        })
    }

    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.drive_until(target);
    }

    pub fn decide(&mut self, decision: Decision<'_>) -> Result<(), Error> {
        let r = self.invitee.handle_decision(self.now, decision);
        self.drain();
        r
    }

    pub fn cancel(&mut self) {
        self.inviter.handle_cancel(self.now);
        self.drain();
    }

    /// The inviter's final result.
    pub fn inviter_result(&self) -> Option<Result<Response, Error>> {
        self.inviter_events.iter().find_map(|e| match e {
            InviterEvent::Finished(r) => Some(*r),
            _ => None,
        })
    }

    /// The invitee's final outcome.
    pub fn invitee_outcome(&self) -> Option<InviteeOutcome> {
        self.invitee_events.iter().find_map(|e| match e {
            InviteeEvent::Finished(o) => Some(*o),
            _ => None,
        })
    }

    /// Cuts the link: bytes in flight are lost and both sides are told.
    pub fn cut(&mut self) {
        self.connected = false;
        self.to_invitee.clear();
        self.to_inviter.clear();
        self.inviter.handle_close(self.now);
        self.invitee.handle_close(self.now);
        self.drain();
    }
}
