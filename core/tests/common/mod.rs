//! A two-party test harness on a virtual clock, in the style of
//! quinn-proto's `tests/util.rs`: both state machines, a latency knob, a
//! chunking knob, `step()` to the next event and `drive()` until idle.
//!
//! The sides may differ in buffer size (`Pair<INVITER_BUF, INVITEE_BUF>`),
//! frames on their way can be dropped, altered or replaced (the `tamper_*`
//! fields), and any bytes can be handed to a side directly (`inject_*`).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::VecDeque;

use beckon_core::wire::DEFAULT_BUFFER;
use beckon_core::*;
use beckon_testkit::{
    alice, bob, bobs_directory, deliver_due, drain_output, fire_due, frames, kind_of, Dir, CHESS,
    SEALED,
};
use embassy_time::{Duration, Instant};

pub const GO: ApplicationId = ApplicationId::from_bytes([0x60; 16]);

/// The wire tags of the refusal reasons (`docs/protocol.md` §5.4), the
/// sealed ones and the clear ones in one numbering.
pub const REFUSAL_TAG_NOT_TRUSTED: u8 = 0;
pub const REFUSAL_TAG_BLOCKED: u8 = 1;
pub const REFUSAL_TAG_APPLICATION_NOT_REGISTERED: u8 = 2;
pub const REFUSAL_TAG_INVITATIONS_OFF: u8 = 3;
pub const REFUSAL_TAG_BUSY: u8 = 4;
pub const REFUSAL_TAG_TOO_LARGE: u8 = 5;
pub const REFUSAL_TAG_UNSUPPORTED_VERSION: u8 = 6;

/// A clear Refusal frame with any reason tag, including those never sent
/// in clear, which [`wire::refusal_frame`] cannot build: its frame with the
/// last byte, the reason's tag, replaced.
pub fn clear_refusal_with_tag(tag: u8) -> [u8; wire::REFUSAL_FRAME_LEN] {
    let mut frame = wire::refusal_frame(wire::ClearRefusal::Busy);
    assert_eq!(frame[wire::REFUSAL_FRAME_LEN - 1], REFUSAL_TAG_BUSY);
    frame[wire::REFUSAL_FRAME_LEN - 1] = tag;
    frame
}

/// One tick of the virtual clock: the smallest step there is.
pub const TICK: Duration = Duration::from_ticks(1);

/// What may happen to each frame on its way to the peer: return it
/// (possibly changed, or replaced) or `None` to drop it.
pub type Tamper = Box<dyn FnMut(Vec<u8>) -> Option<Vec<u8>>>;

/// What a side sees on the wire, one write at a time.
#[derive(Default, Clone)]
pub struct Wire {
    pub writes: Vec<Vec<u8>>,
}

impl Wire {
    pub fn bytes(&self) -> Vec<u8> {
        self.writes.concat()
    }

    /// Everything transmitted, split into frames.
    pub fn frames(&self) -> Vec<Vec<u8>> {
        frames(&self.bytes())
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    }

    /// The kind byte of every frame transmitted, in order.
    pub fn kinds(&self) -> Vec<u8> {
        self.frames().iter().map(|f| kind_of(f)).collect()
    }

    /// The first transmitted frame of this kind.
    pub fn frame_of_kind(&self, kind: u8) -> Option<Vec<u8>> {
        self.frames().into_iter().find(|f| kind_of(f) == kind)
    }
}

/// Both roles on one virtual link. `BUF` sizes the inviter and, unless
/// `INVITEE_BUF` says otherwise, the invitee.
pub struct Pair<const BUF: usize = DEFAULT_BUFFER, const INVITEE_BUF: usize = BUF> {
    pub now: Instant,
    pub inviter: Inviter<BUF>,
    pub invitee: Invitee<INVITEE_BUF>,
    pub directory: Dir,
    /// One-way latency.
    pub latency: Duration,
    /// Largest write handed to the peer at once (bytes are split).
    pub chunk: usize,
    /// Pieces the link has handed over so far (`handle_input` calls; the
    /// `inject_*` ones not counted): to the invitee, to the inviter. What
    /// shows that `chunk` really split the writes.
    pub delivered: [usize; 2],
    to_invitee: VecDeque<(Instant, Vec<u8>)>,
    to_inviter: VecDeque<(Instant, Vec<u8>)>,
    pub inviter_events: Vec<InviterEvent>,
    pub invitee_events: Vec<InviteeEvent>,
    /// Everything each side transmitted.
    pub from_inviter: Wire,
    pub from_invitee: Wire,
    /// Whether the link is up; when cut, bytes in flight are lost.
    pub connected: bool,
    /// Applied to every frame the inviter sends, before it is delivered.
    pub tamper_to_invitee: Option<Tamper>,
    /// Applied to every frame the invitee sends, before it is delivered.
    pub tamper_to_inviter: Option<Tamper>,
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

/// The instant every `Pair` starts at.
pub const START: Instant = Instant::from_secs(1000);

/// Puts one write on its way: through the tamper hook frame by frame (if
/// any), then split into chunks of at most `chunk` bytes.
fn send(
    queue: &mut VecDeque<(Instant, Vec<u8>)>,
    tamper: &mut Option<Tamper>,
    at: Instant,
    chunk: usize,
    bytes: &[u8],
) {
    let pieces = match tamper {
        None => vec![bytes.to_vec()],
        Some(f) => frames(bytes)
            .into_iter()
            .filter_map(|frame| f(frame.to_vec()))
            .collect(),
    };
    for piece in pieces {
        for c in piece.chunks(chunk.max(1)) {
            queue.push_back((at, c.to_vec()));
        }
    }
}

/// Bytes on their way to one side, each piece with when it arrives.
pub type Queue = VecDeque<(Instant, Vec<u8>)>;

/// Delivers to each side what is due for it at `now`, the invitee first,
/// and fires both sides' due timers, the inviter's first. Returns the
/// pieces delivered (to the invitee, to the inviter) and whether anything
/// happened.
pub fn deliver_and_fire<const A: usize, const B: usize>(
    (inviter, to_inviter): (&mut Inviter<A>, &mut Queue),
    (invitee, to_invitee): (&mut Invitee<B>, &mut Queue),
    now: Instant,
    directory: &(dyn Directory + 'static),
) -> ([usize; 2], bool) {
    let pieces = [
        deliver_due(invitee, to_invitee, now, directory),
        deliver_due(inviter, to_inviter, now, &()),
    ];
    let inviter_timer = fire_due(inviter, now);
    let invitee_timer = fire_due(invitee, now);
    (pieces, pieces != [0, 0] || inviter_timer || invitee_timer)
}

/// The next instant at which something is scheduled: a piece arriving at
/// either side, or either side's timer.
pub fn next_event<const A: usize, const B: usize>(
    (inviter, to_inviter): (&Inviter<A>, &Queue),
    (invitee, to_invitee): (&Invitee<B>, &Queue),
) -> Option<Instant> {
    [
        to_invitee.front().map(|(t, _)| *t),
        to_inviter.front().map(|(t, _)| *t),
        inviter.poll_timeout(),
        invitee.poll_timeout(),
    ]
    .into_iter()
    .flatten()
    .min()
}

impl<const BUF: usize, const INVITEE_BUF: usize> Pair<BUF, INVITEE_BUF> {
    pub fn new(setup: Setup<'_>) -> Self {
        let config = setup.config;
        Self::with_invitee_config(setup, config)
    }

    /// Like [`Pair::new`], but the invitee runs with its own timers.
    pub fn with_invitee_config(setup: Setup<'_>, invitee_config: Config) -> Self {
        let now = START;
        let inviter = Inviter::new_sized(
            setup.config,
            &setup.inviter,
            setup.target,
            &setup.invitation,
            EphemeralSecret::from_bytes(setup.inviter_ephemeral),
            now,
        )
        .unwrap();
        let invitee = Invitee::new_sized(
            invitee_config,
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
            delivered: [0, 0],
            to_invitee: VecDeque::new(),
            to_inviter: VecDeque::new(),
            inviter_events: Vec::new(),
            invitee_events: Vec::new(),
            from_inviter: Wire::default(),
            from_invitee: Wire::default(),
            connected: true,
            tamper_to_invitee: None,
            tamper_to_inviter: None,
        }
    }

    pub fn default_pair() -> Self {
        Self::new(Setup::default())
    }

    /// Drains both sides' transmits into the network and their events into
    /// the logs. Returns whether anything moved.
    fn drain(&mut self) -> bool {
        let mut buf = vec![0u8; 70_000];
        let at = self.now + self.latency;
        let (connected, chunk) = (self.connected, self.chunk);
        let a = drain_output(
            &mut self.inviter,
            &mut buf,
            |w| {
                self.from_inviter.writes.push(w.to_vec());
                if connected {
                    send(
                        &mut self.to_invitee,
                        &mut self.tamper_to_invitee,
                        at,
                        chunk,
                        w,
                    );
                }
            },
            |e| self.inviter_events.push(e),
        );
        let b = drain_output(
            &mut self.invitee,
            &mut buf,
            |w| {
                self.from_invitee.writes.push(w.to_vec());
                if connected {
                    send(
                        &mut self.to_inviter,
                        &mut self.tamper_to_inviter,
                        at,
                        chunk,
                        w,
                    );
                }
            },
            |e| self.invitee_events.push(e),
        );
        a || b
    }

    /// Delivers what is due and fires due timers at `now`.
    fn deliver(&mut self) -> bool {
        let (pieces, moved) = deliver_and_fire(
            (&mut self.inviter, &mut self.to_inviter),
            (&mut self.invitee, &mut self.to_invitee),
            self.now,
            &self.directory,
        );
        self.delivered[0] += pieces[0];
        self.delivered[1] += pieces[1];
        moved
    }

    /// The next instant at which something is scheduled.
    pub fn next_event(&self) -> Option<Instant> {
        next_event(
            (&self.inviter, &self.to_inviter),
            (&self.invitee, &self.to_invitee),
        )
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
            assert!(
                self.step(),
                "went idle without a prompt: {:?}",
                self.invitee_events
            );
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
    pub fn inviter_result(&self) -> Option<Result<Response, SessionError>> {
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

    /// Hands `bytes` to the invitee now, as if read from the connection
    /// (an attacker's injection), then drains both sides.
    pub fn inject_to_invitee(&mut self, bytes: &[u8]) {
        self.invitee.handle_input(self.now, bytes, &self.directory);
        self.drain();
    }

    /// Hands `bytes` to the inviter now, as if read from the connection,
    /// then drains both sides.
    pub fn inject_to_inviter(&mut self, bytes: &[u8]) {
        self.inviter.handle_input(self.now, bytes, &());
        self.drain();
    }

    /// Steps until `done` holds; panics if the pair goes idle first.
    pub fn run_until(&mut self, mut done: impl FnMut(&Self) -> bool) {
        let mut guard = 0;
        while !done(self) {
            assert!(self.step(), "went idle before the condition held");
            guard += 1;
            assert!(guard < 100_000);
        }
    }

    /// Whether the invitee ever prompted.
    pub fn prompted(&self) -> bool {
        self.prompt().is_some()
    }

    /// Whether the inviter transmitted any Sealed frame (the Invite, or a
    /// Cancel): any byte of the invitation.
    pub fn inviter_sent_sealed(&self) -> bool {
        self.from_inviter.kinds().contains(&SEALED)
    }

    /// Checks that each side reported exactly one `Finished`, as its last
    /// event.
    /// The invitee refused with `reason`: the inviter finished with that
    /// refusal (`authenticated` or not) and the invitee with its own.
    /// `context` goes into the failure messages.
    pub fn assert_refused(&self, reason: Refusal, authenticated: bool, context: &str) {
        assert_eq!(
            self.inviter_result(),
            Some(Err(SessionError::Refused {
                reason,
                authenticated
            })),
            "{context}: invitee {:?}",
            self.invitee_outcome()
        );
        assert_eq!(
            self.invitee_outcome(),
            Some(InviteeOutcome::Refused(reason)),
            "{context}"
        );
    }

    /// The invitee accepted and the inviter learned it, with `message`.
    pub fn assert_accepted_with(&self, message: &str) {
        assert_eq!(self.inviter_result(), Some(Ok(Response::Accepted)));
        assert_eq!(self.inviter.answer_message(), Ok(message));
        assert!(matches!(
            self.invitee_outcome(),
            Some(InviteeOutcome::Accepted(_))
        ));
    }

    pub fn assert_each_side_finished_once(&self) {
        let inviter = self
            .inviter_events
            .iter()
            .filter(|e| matches!(e, InviterEvent::Finished(_)))
            .count();
        let invitee = self
            .invitee_events
            .iter()
            .filter(|e| matches!(e, InviteeEvent::Finished(_)))
            .count();
        assert_eq!(inviter, 1, "inviter events: {:?}", self.inviter_events);
        assert_eq!(invitee, 1, "invitee events: {:?}", self.invitee_events);
        assert!(matches!(
            self.inviter_events.last(),
            Some(InviterEvent::Finished(_))
        ));
        assert!(matches!(
            self.invitee_events.last(),
            Some(InviteeEvent::Finished(_))
        ));
    }
}
