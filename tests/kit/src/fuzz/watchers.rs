//! The watchers: everything observed of one machine under test
//! ([`InviterWatch`], [`InviteeWatch`]), every call into it made through
//! them, and the properties checked after every call; at the end, the shape
//! and bounds of the stream it transmitted. One [`Watch`] serves both
//! roles: what they share is written once, for any [`Watched`] machine,
//! and each role adds its own checks.

use std::fmt::Debug;

use beckon_core::internal::frame::{
    invite_frame_len, FrameKind, ANSWER_FRAME_MAX, CANCEL_FRAME_LEN, HELLO_FRAME_LEN,
    KEEPALIVE_FRAME_LEN, PROOF_FRAME_LEN, REFUSAL_FRAME_LEN,
};
use beckon_core::wire::max_data_for;
use beckon_core::*;
use embassy_time::{Duration, Instant};

use super::fixtures::{POLL_BUF, T0};
use super::frames::{is_whole, kind_of, split_frames};
use super::inputs::{deadline_rounds, Clock, DecisionSpec, When};

// ---------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------

/// Whether a deadline still pending after a call at `now` is right: every
/// deadline at or before `now` fired in that call (the timeouts are never
/// zero), so it is later, or `now` is the end of time, where saturating
/// deadlines stop.
fn pending(deadline: Instant, now: Instant) -> bool {
    deadline > now || (deadline == now && now == Instant::MAX)
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

// ---------------------------------------------------------------------------
// Either role
// ---------------------------------------------------------------------------

/// A machine under test, as its [`Watch`] sees it: its role's types and
/// bounds, and the checks only that role has.
pub(crate) trait Watched: Machine<Event: Copy + Debug + PartialEq> + Sized {
    /// How its session ends (`outcome()`).
    type Outcome: Copy + Debug + PartialEq;
    /// What only this role's watcher keeps.
    type Side;
    /// The role, for messages.
    const ROLE: &'static str;

    /// Everything it may ever transmit besides its keepalives.
    fn bound() -> usize;
    /// Its `outcome()`.
    fn end(&self) -> Option<Self::Outcome>;
    /// The outcome `event` ends the session with, if it is `Finished`.
    fn ended(event: &Self::Event) -> Option<Self::Outcome>;
    /// Whether `outcome` is a failure, which drops what it had not sent.
    fn failed(outcome: &Self::Outcome) -> bool;
    /// Checks an event other than `Finished`, given in a call at `now`,
    /// and keeps what it says in `side`; whether the invitation became
    /// pending with it.
    fn on_event(side: &mut Self::Side, m: &Self, event: &Self::Event, now: Instant) -> bool;
    /// The role's own checks of the state after a call (the shared ones
    /// passed).
    fn check_side(w: &Watch<Self>, m: &Self);
    /// Checks a whole frame it transmitted, the `i`th of `count`, with at
    /// most `keepalives` keepalives among them.
    fn check_frame(i: usize, frame: &[u8], count: usize, keepalives: usize);
}

/// Everything observed of one machine under test, checked after every
/// call: what either role's watcher keeps, and (`side`) what only its own
/// does.
pub(crate) struct Watch<M: Watched> {
    pub(crate) now: Instant,
    pub(crate) sent: Vec<u8>,
    pub(crate) received: Vec<u8>,
    pub(crate) events: Vec<M::Event>,
    pub(crate) finished: Option<M::Outcome>,
    pub(crate) side: M::Side,
    /// The machine's config: its keepalive interval bounds what it may
    /// send, its waits how many deadlines it can run.
    config: Config,
    /// When the invitation became pending (the Verified or Prompt event's
    /// call).
    pending_since: Option<Instant>,
    /// The latest `now` so far (time may go backwards between calls).
    latest: Instant,
}

/// The watcher of an inviter.
pub(crate) type InviterWatch<const B: usize> = Watch<Inviter<B>>;
/// The watcher of an invitee.
pub(crate) type InviteeWatch<const B: usize> = Watch<Invitee<B>>;

/// What a run produced, for differential checks.
#[derive(Debug, PartialEq)]
pub struct Run<E> {
    /// Every byte the machine transmitted.
    pub sent: Vec<u8>,
    /// Every event it gave, in order.
    pub events: Vec<E>,
}

impl<M: Watched> Watch<M> {
    fn with(side: M::Side, config: &Config) -> Self {
        Watch {
            now: T0,
            sent: Vec::new(),
            received: Vec::new(),
            events: Vec::new(),
            finished: None,
            side,
            config: *config,
            pending_since: None,
            latest: T0,
        }
    }

    /// A call at `now`.
    fn at(&mut self, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
    }

    pub(crate) fn input(&mut self, m: &mut M, now: Instant, bytes: &[u8], context: &M::Context) {
        self.at(now);
        if self.finished.is_none() {
            self.received.extend_from_slice(bytes);
        }
        m.handle_input(now, bytes, context);
    }

    pub(crate) fn timeout(&mut self, m: &mut M, now: Instant) {
        self.at(now);
        m.handle_timeout(now);
    }

    pub(crate) fn close(&mut self, m: &mut M, now: Instant) {
        self.at(now);
        m.handle_close(now);
    }

    /// A call at `when` (relative to the last call and to `m`'s next
    /// deadline): the clock moves there, and `call` makes it.
    pub(crate) fn timed(
        &mut self,
        m: &mut M,
        clock: &mut Clock,
        when: When,
        call: impl FnOnce(&mut Self, &mut M, Instant),
    ) {
        let now = clock.at(when, m.poll_timeout());
        call(self, m, now);
    }

    /// One `poll_transmit` with a `cap`-byte buffer.
    pub(crate) fn transmit(&mut self, m: &mut M, cap: usize) -> usize {
        let mut buf = vec![0x5A; cap];
        let n = m.poll_transmit(&mut buf);
        assert!(
            n <= cap,
            "poll_transmit returned {n} for a {cap}-byte buffer"
        );
        self.sent.extend_from_slice(&buf[..n]);
        let bound = M::bound() + self.keepalives() * KEEPALIVE_FRAME_LEN;
        assert!(
            self.sent.len() <= bound,
            "{} transmitted {} bytes, over its bound {bound}",
            M::ROLE,
            self.sent.len(),
        );
        n
    }

    /// How many keepalives may have been sent so far.
    fn keepalives(&self) -> usize {
        keepalives_allowed(
            self.pending_since,
            self.latest,
            self.config.keepalive_interval,
        )
    }

    pub(crate) fn drain(&mut self, m: &mut M) {
        while self.transmit(m, POLL_BUF) > 0 {}
    }

    /// Drains the events and checks every property of the machine's
    /// observable state. `drained`: every pending byte has been taken.
    pub(crate) fn check(&mut self, m: &mut M, drained: bool) {
        while let Some(event) = m.poll_event() {
            assert!(
                self.finished.is_none(),
                "{} event {event:?} after Finished",
                M::ROLE
            );
            match M::ended(&event) {
                Some(outcome) => self.finished = Some(outcome),
                None => {
                    if M::on_event(&mut self.side, m, &event, self.now) {
                        self.pending_since = Some(self.now);
                    }
                }
            }
            self.events.push(event);
        }
        assert_eq!(m.end(), self.finished, "outcome() and Finished");
        match (m.poll_timeout(), self.finished) {
            (None, Some(_)) => {}
            (Some(deadline), None) => assert!(
                pending(deadline, self.now),
                "{} deadline {deadline:?} not after now {:?}",
                M::ROLE,
                self.now
            ),
            (t, f) => panic!("{} poll_timeout {t:?} with outcome {f:?}", M::ROLE),
        }
        if drained {
            assert_eq!(m.is_finished(), self.finished.is_some(), "is_finished");
        }
        M::check_side(self, m);
    }

    /// After a call: drains `m` first if `drain`, then checks it (as
    /// drained if it was).
    pub(crate) fn settle(&mut self, m: &mut M, drain: bool) {
        if drain {
            self.drain(m);
        }
        self.check(m, drain);
    }

    /// Liveness: the deadlines alone end the session. Runs each in turn
    /// (the clock moving to it, never back), settling after each, for as
    /// many rounds as the config can need; then the last checks.
    pub(crate) fn run_out(&mut self, m: &mut M, clock: &mut Clock) {
        for _ in 0..deadline_rounds(&self.config) {
            let Some(deadline) = m.poll_timeout() else {
                break;
            };
            let now = clock.now.max(deadline);
            clock.now = now;
            self.timeout(m, now);
            self.settle(m, true);
        }
        assert!(
            self.finished.is_some(),
            "the {}'s deadlines did not end it",
            M::ROLE
        );
        self.finish(m);
    }

    /// The last checks once nothing more will happen, the stream's shape
    /// among them: every frame whole, except that a session that failed
    /// drops what it had not sent, so its last frame may be cut short;
    /// each whole one as the role may send it.
    pub(crate) fn finish(&mut self, m: &mut M) {
        self.settle(m, true);
        let failed = self.finished.as_ref().is_some_and(M::failed);
        let keepalives = self.keepalives();
        let frames = split_frames(&self.sent);
        for (i, frame) in frames.iter().enumerate() {
            if is_whole(frame) {
                M::check_frame(i, frame, frames.len(), keepalives);
            } else {
                assert!(
                    failed && i + 1 == frames.len(),
                    "{} sent a partial frame",
                    M::ROLE
                );
            }
        }
    }

    /// What it saw `m` do.
    pub(crate) fn into_run(self) -> Run<M::Event> {
        Run {
            sent: self.sent,
            events: self.events,
        }
    }
}

// ---------------------------------------------------------------------------
// Watching an inviter
// ---------------------------------------------------------------------------

/// What only an inviter's watcher keeps.
pub(crate) struct InviterSide {
    pub(crate) target: Target,
    pub(crate) verified: Option<PublicKey>,
    /// `handle_cancel` was called after (some of) the Invite had gone.
    pub(crate) cancel_sent: bool,
    /// `handle_cancel` was called before one byte of the Invite had gone:
    /// none may ever go (the reference's case (a)).
    pub(crate) taken_back: bool,
}

impl<const B: usize> Watched for Inviter<B> {
    type Outcome = Result<Response, SessionError>;
    type Side = InviterSide;
    const ROLE: &'static str = "inviter";

    fn bound() -> usize {
        inviter_bound::<B>()
    }

    fn end(&self) -> Option<Self::Outcome> {
        self.outcome()
    }

    fn ended(event: &InviterEvent) -> Option<Self::Outcome> {
        match *event {
            InviterEvent::Finished(result) => Some(result),
            InviterEvent::Verified(_) => None,
        }
    }

    fn failed(outcome: &Self::Outcome) -> bool {
        outcome.is_err()
    }

    fn on_event(side: &mut InviterSide, m: &Self, event: &InviterEvent, _now: Instant) -> bool {
        let InviterEvent::Verified(key) = *event else {
            return false;
        };
        assert!(side.verified.is_none(), "a second Verified");
        if let Target::Contact(expected) = side.target {
            assert_eq!(key, expected, "verified a key that is not the target");
        }
        assert_eq!(m.responder(), Some(key));
        side.verified = Some(key);
        true
    }

    fn check_side(w: &Watch<Self>, m: &Self) {
        let side = &w.side;
        if side.verified.is_none() {
            assert!(
                w.sent.len() <= HELLO_FRAME_LEN,
                "the invitation left before the responder was verified"
            );
        }
        if side.taken_back {
            assert!(
                w.sent.len() <= HELLO_FRAME_LEN,
                "the invitation left after it was cancelled"
            );
        }
        match w.finished {
            Some(Ok(_)) => assert!(side.verified.is_some(), "an answer without a Verified"),
            Some(Err(SessionError::ContactMismatch)) => {
                let responder = m.responder().expect("a mismatch names the responder");
                assert_ne!(Target::Contact(responder), side.target);
                assert!(w.sent.len() <= HELLO_FRAME_LEN);
            }
            Some(Err(SessionError::Refused {
                authenticated: true,
                ..
            })) => assert!(side.verified.is_some(), "an authenticated refusal"),
            _ => {}
        }
        if let Ok(message) = m.answer_message() {
            assert!(w.finished.is_some(), "an answer message before the end");
            assert!(
                side.verified.is_some(),
                "an answer message without Verified"
            );
            assert!(message.chars().count() <= 255, "answer message too long");
        }
    }

    /// A Hello, then at most an Invite, keepalives and a Cancel.
    fn check_frame(i: usize, frame: &[u8], count: usize, keepalives: usize) {
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
            _ => panic!("inviter sent {count} frames, with at most {keepalives} keepalives"),
        }
    }
}

impl<const B: usize> InviterWatch<B> {
    pub(crate) fn new(target: Target, config: &Config) -> Self {
        Watch::with(
            InviterSide {
                target,
                verified: None,
                cancel_sent: false,
                taken_back: false,
            },
            config,
        )
    }

    pub(crate) fn cancel(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.at(now);
        // The deadlines at `now` run first, as `handle_cancel` runs them.
        m.handle_timeout(now);
        let open = m.outcome().is_none();
        if open && self.sent.len() <= HELLO_FRAME_LEN {
            self.side.taken_back = true;
        } else if open && self.side.verified.is_some() {
            self.side.cancel_sent = true;
        }
        m.handle_cancel(now);
        if self.side.taken_back {
            assert_eq!(
                m.outcome(),
                Some(Err(SessionError::Cancelled)),
                "a cancel before the Invite left ends the session"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Watching an invitee
// ---------------------------------------------------------------------------

/// What only an invitee's watcher keeps.
pub(crate) struct InviteeSide {
    pub(crate) prompt: Option<Prompt>,
    /// The outcome a successful `handle_decision` produced, and its message.
    pub(crate) decided: Option<(InviteeOutcome, String)>,
    /// The keys that can have signed an Invite this invitee accepts.
    honest_inviters: Vec<PublicKey>,
}

impl<const B: usize> Watched for Invitee<B> {
    type Outcome = InviteeOutcome;
    type Side = InviteeSide;
    const ROLE: &'static str = "invitee";

    fn bound() -> usize {
        INVITEE_BOUND
    }

    fn end(&self) -> Option<InviteeOutcome> {
        self.outcome()
    }

    fn ended(event: &InviteeEvent) -> Option<InviteeOutcome> {
        match *event {
            InviteeEvent::Finished(outcome) => Some(outcome),
            InviteeEvent::Prompt(_) => None,
        }
    }

    fn failed(outcome: &InviteeOutcome) -> bool {
        matches!(outcome, InviteeOutcome::Failed(_))
    }

    fn on_event(side: &mut InviteeSide, m: &Self, event: &InviteeEvent, now: Instant) -> bool {
        let InviteeEvent::Prompt(p) = *event else {
            return false;
        };
        assert!(side.prompt.is_none(), "a second Prompt");
        assert!(
            side.honest_inviters.contains(&p.inviter),
            "a prompt from {:?}, who never signed anything here",
            p.inviter
        );
        assert!(pending(p.deadline, now), "a prompt already expired");
        assert_eq!(m.inviter(), Some(p.inviter));
        let invitation = m.invitation().expect("a prompt's invitation");
        assert_eq!(invitation.application(), p.application);
        assert!(invitation.message().chars().count() <= 255);
        assert!(invitation.data().len() <= max_data_for(B));
        side.prompt = Some(p);
        true
    }

    fn check_side(w: &Watch<Self>, m: &Self) {
        let side = &w.side;
        assert_eq!(
            m.is_prompting(),
            side.prompt.is_some() && w.finished.is_none(),
            "is_prompting"
        );
        if let (Some(deadline), Some(p)) = (m.poll_timeout(), side.prompt) {
            assert!(deadline <= p.deadline, "a deadline after the prompt's");
        }
        if let Some(key) = m.inviter() {
            assert!(
                side.honest_inviters.contains(&key),
                "an Invite from {key:?} passed, who never signed anything here"
            );
        }
        if m.invitation().is_some() {
            assert!(side.prompt.is_some(), "an invitation without a prompt");
        }
        match w.finished {
            Some(
                o @ (InviteeOutcome::Accepted(_)
                | InviteeOutcome::Declined
                | InviteeOutcome::Error { .. }
                | InviteeOutcome::Refused(Refusal::Busy)),
            ) => assert_eq!(
                side.decided.as_ref().map(|d| d.0),
                Some(o),
                "an answer the user never gave"
            ),
            Some(InviteeOutcome::Expired) => {
                assert!(side.prompt.is_some(), "Expired without a prompt");
                assert!(side.decided.is_none(), "Expired after a decision");
            }
            Some(InviteeOutcome::Cancelled) => {
                assert!(side.prompt.is_some(), "Cancelled without a prompt")
            }
            Some(InviteeOutcome::Refused(
                Refusal::NotTrusted | Refusal::Blocked | Refusal::ApplicationNotRegistered,
            )) => assert!(m.inviter().is_some(), "a policy refusal of nobody"),
            _ => {}
        }
    }

    /// A clear Refusal, or a Proof, keepalives and at most one Answer.
    fn check_frame(i: usize, frame: &[u8], count: usize, keepalives: usize) {
        match (i, kind_of(frame)) {
            (0, Some(FrameKind::Refusal)) => {
                assert_eq!(frame.len(), REFUSAL_FRAME_LEN);
                assert_eq!(count, 1, "nothing after a clear Refusal");
            }
            (0, Some(FrameKind::Proof)) => assert_eq!(frame.len(), PROOF_FRAME_LEN),
            (i, Some(FrameKind::Sealed)) if i >= 1 && i <= 1 + keepalives => {
                assert!(frame.len() <= ANSWER_FRAME_MAX);
                if i + 1 < count {
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

impl<const B: usize> InviteeWatch<B> {
    pub(crate) fn new(honest_inviters: Vec<PublicKey>, config: &Config) -> Self {
        Watch::with(
            InviteeSide {
                prompt: None,
                decided: None,
                honest_inviters,
            },
            config,
        )
    }

    /// The user's decision, and the properties of `handle_decision`.
    pub(crate) fn decide(&mut self, m: &mut Invitee<B>, now: Instant, d: &DecisionSpec) {
        self.at(now);
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
                    .side
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
                self.side.decided = Some((expected, d.message().to_owned()));
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
}
