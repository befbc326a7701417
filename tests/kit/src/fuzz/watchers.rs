//! The watchers: everything observed of one machine under test
//! ([`InviterWatch`], [`InviteeWatch`]), every call into it made through
//! them, and the properties checked after every call; at the end, the shape
//! and bounds of the stream it transmitted.

use beckon_core::internal::frame::{
    invite_frame_len, FrameKind, ANSWER_FRAME_MAX, CANCEL_FRAME_LEN, HELLO_FRAME_LEN,
    KEEPALIVE_FRAME_LEN, PROOF_FRAME_LEN, REFUSAL_FRAME_LEN,
};
use beckon_core::wire::max_data_for;
use beckon_core::*;
use embassy_time::{Duration, Instant};

use super::fixtures::{POLL_BUF, T0};
use super::frames::{is_whole, kind_of, split_frames};
use super::inputs::{DecisionSpec, Dir};

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

/// The inviter's stream is a Hello, then at most an Invite, keepalives (at
/// most `keepalives`) and a Cancel, all whole, except that a session that
/// failed drops what it had not sent (`failed`): its last frame may be cut
/// short.
fn check_inviter_stream<const B: usize>(sent: &[u8], failed: bool, keepalives: usize) {
    let frames = split_frames(sent);
    for (i, frame) in frames.iter().enumerate() {
        if !is_whole(frame) {
            assert!(
                failed && i + 1 == frames.len(),
                "inviter sent a partial frame"
            );
            continue;
        }
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
            _ => panic!(
                "inviter sent {} frames, with at most {keepalives} keepalives",
                frames.len()
            ),
        }
    }
}

/// The invitee's stream is a clear Refusal, or a Proof, keepalives (at most
/// `keepalives`) and at most one Answer, all whole (but for the last frame
/// of a failed session).
fn check_invitee_stream(sent: &[u8], failed: bool, keepalives: usize) {
    let frames = split_frames(sent);
    for (i, frame) in frames.iter().enumerate() {
        if !is_whole(frame) {
            assert!(
                failed && i + 1 == frames.len(),
                "invitee sent a partial frame"
            );
            continue;
        }
        match (i, kind_of(frame)) {
            (0, Some(FrameKind::Refusal)) => {
                assert_eq!(frame.len(), REFUSAL_FRAME_LEN);
                assert_eq!(frames.len(), 1, "nothing after a clear Refusal");
            }
            (0, Some(FrameKind::Proof)) => assert_eq!(frame.len(), PROOF_FRAME_LEN),
            (i, Some(FrameKind::Sealed)) if i >= 1 && i <= 1 + keepalives => {
                assert!(frame.len() <= ANSWER_FRAME_MAX);
                if i + 1 < frames.len() {
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

// ---------------------------------------------------------------------------
// Watching an inviter
// ---------------------------------------------------------------------------

/// Everything observed of one inviter, checked after every call.
pub(crate) struct InviterWatch {
    pub(crate) target: Target,
    pub(crate) now: Instant,
    pub(crate) sent: Vec<u8>,
    pub(crate) received: Vec<u8>,
    pub(crate) events: Vec<InviterEvent>,
    pub(crate) verified: Option<PublicKey>,
    pub(crate) finished: Option<Result<Response, SessionError>>,
    /// `handle_cancel` was called after (some of) the Invite had gone.
    pub(crate) cancel_sent: bool,
    /// `handle_cancel` was called before one byte of the Invite had gone:
    /// none may ever go (the reference's case (a)).
    pub(crate) taken_back: bool,
    bound: usize,
    /// The config's keepalive interval.
    keepalive: Duration,
    /// When the invitation became pending (the Verified event's call).
    pending_since: Option<Instant>,
    /// The latest `now` so far (time may go backwards between calls).
    latest: Instant,
}

impl InviterWatch {
    pub(crate) fn new<const B: usize>(target: Target, config: &Config) -> Self {
        InviterWatch {
            keepalive: config.keepalive_interval,
            pending_since: None,
            latest: T0,
            target,
            now: T0,
            sent: Vec::new(),
            received: Vec::new(),
            events: Vec::new(),
            verified: None,
            finished: None,
            cancel_sent: false,
            taken_back: false,
            bound: inviter_bound::<B>(),
        }
    }

    pub(crate) fn input<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant, bytes: &[u8]) {
        self.now = now;
        self.latest = self.latest.max(now);
        if self.finished.is_none() {
            self.received.extend_from_slice(bytes);
        }
        m.handle_input(now, bytes, &());
    }

    pub(crate) fn timeout<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_timeout(now);
    }

    pub(crate) fn cancel<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        // The deadlines at `now` run first, as `handle_cancel` runs them.
        m.handle_timeout(now);
        let open = m.outcome().is_none();
        if open && self.sent.len() <= HELLO_FRAME_LEN {
            self.taken_back = true;
        } else if open && self.verified.is_some() {
            self.cancel_sent = true;
        }
        m.handle_cancel(now);
        if self.taken_back {
            assert_eq!(
                m.outcome(),
                Some(Err(SessionError::Cancelled)),
                "a cancel before the Invite left ends the session"
            );
        }
    }

    pub(crate) fn close<const B: usize>(&mut self, m: &mut Inviter<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_close(now);
    }

    /// One `poll_transmit` with a `cap`-byte buffer.
    pub(crate) fn transmit<const B: usize>(&mut self, m: &mut Inviter<B>, cap: usize) -> usize {
        let mut buf = vec![0x5A; cap];
        let n = m.poll_transmit(&mut buf);
        assert!(
            n <= cap,
            "poll_transmit returned {n} for a {cap}-byte buffer"
        );
        self.sent.extend_from_slice(&buf[..n]);
        let bound = self.bound + self.keepalives() * KEEPALIVE_FRAME_LEN;
        assert!(
            self.sent.len() <= bound,
            "inviter transmitted {} bytes, over its bound {bound}",
            self.sent.len(),
        );
        n
    }

    /// How many keepalives may have been sent so far.
    fn keepalives(&self) -> usize {
        keepalives_allowed(self.pending_since, self.latest, self.keepalive)
    }

    pub(crate) fn drain<const B: usize>(&mut self, m: &mut Inviter<B>) {
        while self.transmit(m, POLL_BUF) > 0 {}
    }

    /// Drains the events and checks every property of the inviter's
    /// observable state. `drained`: every pending byte has been taken.
    pub(crate) fn check<const B: usize>(&mut self, m: &mut Inviter<B>, drained: bool) {
        while let Some(event) = m.poll_event() {
            assert!(
                self.finished.is_none(),
                "inviter event {event:?} after Finished"
            );
            match event {
                InviterEvent::Verified(key) => {
                    assert!(self.verified.is_none(), "a second Verified");
                    if let Target::Contact(expected) = self.target {
                        assert_eq!(key, expected, "verified a key that is not the target");
                    }
                    assert_eq!(m.responder(), Some(key));
                    self.verified = Some(key);
                    self.pending_since = Some(self.now);
                }
                InviterEvent::Finished(result) => self.finished = Some(result),
            }
            self.events.push(event);
        }
        assert_eq!(m.outcome(), self.finished, "outcome() and Finished");
        match (m.poll_timeout(), self.finished) {
            (None, Some(_)) => {}
            (Some(deadline), None) => assert!(
                pending(deadline, self.now),
                "inviter deadline {deadline:?} not after now {:?}",
                self.now
            ),
            (t, f) => panic!("inviter poll_timeout {t:?} with outcome {f:?}"),
        }
        if drained {
            assert_eq!(m.is_finished(), self.finished.is_some(), "is_finished");
        }
        if self.verified.is_none() {
            assert!(
                self.sent.len() <= HELLO_FRAME_LEN,
                "the invitation left before the responder was verified"
            );
        }
        if self.taken_back {
            assert!(
                self.sent.len() <= HELLO_FRAME_LEN,
                "the invitation left after it was cancelled"
            );
        }
        match self.finished {
            Some(Ok(_)) => assert!(self.verified.is_some(), "an answer without a Verified"),
            Some(Err(SessionError::ContactMismatch)) => {
                let responder = m.responder().expect("a mismatch names the responder");
                assert_ne!(Target::Contact(responder), self.target);
                assert!(self.sent.len() <= HELLO_FRAME_LEN);
            }
            Some(Err(SessionError::Refused {
                authenticated: true,
                ..
            })) => assert!(self.verified.is_some(), "an authenticated refusal"),
            _ => {}
        }
        if let Ok(message) = m.answer_message() {
            assert!(self.finished.is_some(), "an answer message before the end");
            assert!(
                self.verified.is_some(),
                "an answer message without Verified"
            );
            assert!(message.chars().count() <= 255, "answer message too long");
        }
    }

    /// The last checks once nothing more will happen.
    pub(crate) fn finish<const B: usize>(&mut self, m: &mut Inviter<B>) {
        self.drain(m);
        self.check(m, true);
        check_inviter_stream::<B>(
            &self.sent,
            matches!(self.finished, Some(Err(_))),
            self.keepalives(),
        );
    }
}

// ---------------------------------------------------------------------------
// Watching an invitee
// ---------------------------------------------------------------------------

/// Everything observed of one invitee, checked after every call.
pub(crate) struct InviteeWatch {
    pub(crate) now: Instant,
    pub(crate) sent: Vec<u8>,
    pub(crate) received: Vec<u8>,
    pub(crate) events: Vec<InviteeEvent>,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) finished: Option<InviteeOutcome>,
    /// The outcome a successful `handle_decision` produced, and its message.
    pub(crate) decided: Option<(InviteeOutcome, String)>,
    /// The keys that can have signed an Invite this invitee accepts.
    honest_inviters: Vec<PublicKey>,
    max_data: usize,
    /// The config's keepalive interval.
    keepalive: Duration,
    /// When the prompt went up.
    pending_since: Option<Instant>,
    /// The latest `now` so far (time may go backwards between calls).
    latest: Instant,
}

impl InviteeWatch {
    pub(crate) fn new<const B: usize>(honest_inviters: Vec<PublicKey>, config: &Config) -> Self {
        InviteeWatch {
            keepalive: config.keepalive_interval,
            pending_since: None,
            latest: T0,
            now: T0,
            sent: Vec::new(),
            received: Vec::new(),
            events: Vec::new(),
            prompt: None,
            finished: None,
            decided: None,
            honest_inviters,
            max_data: max_data_for(B),
        }
    }

    pub(crate) fn input<const B: usize>(
        &mut self,
        m: &mut Invitee<B>,
        now: Instant,
        bytes: &[u8],
        dir: &Dir,
    ) {
        self.now = now;
        self.latest = self.latest.max(now);
        if self.finished.is_none() {
            self.received.extend_from_slice(bytes);
        }
        m.handle_input(now, bytes, dir);
    }

    pub(crate) fn timeout<const B: usize>(&mut self, m: &mut Invitee<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_timeout(now);
    }

    pub(crate) fn close<const B: usize>(&mut self, m: &mut Invitee<B>, now: Instant) {
        self.now = now;
        self.latest = self.latest.max(now);
        m.handle_close(now);
    }

    /// The user's decision, and the properties of `handle_decision`.
    pub(crate) fn decide<const B: usize>(
        &mut self,
        m: &mut Invitee<B>,
        now: Instant,
        d: &DecisionSpec,
    ) {
        self.now = now;
        self.latest = self.latest.max(now);
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
                self.decided = Some((expected, d.message().to_owned()));
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

    pub(crate) fn transmit<const B: usize>(&mut self, m: &mut Invitee<B>, cap: usize) -> usize {
        let mut buf = vec![0x5A; cap];
        let n = m.poll_transmit(&mut buf);
        assert!(
            n <= cap,
            "poll_transmit returned {n} for a {cap}-byte buffer"
        );
        self.sent.extend_from_slice(&buf[..n]);
        let bound = INVITEE_BOUND + self.keepalives() * KEEPALIVE_FRAME_LEN;
        assert!(
            self.sent.len() <= bound,
            "invitee transmitted {} bytes, over its bound {bound}",
            self.sent.len()
        );
        n
    }

    /// How many keepalives may have been sent so far.
    fn keepalives(&self) -> usize {
        keepalives_allowed(self.pending_since, self.latest, self.keepalive)
    }

    pub(crate) fn drain<const B: usize>(&mut self, m: &mut Invitee<B>) {
        while self.transmit(m, POLL_BUF) > 0 {}
    }

    pub(crate) fn check<const B: usize>(&mut self, m: &mut Invitee<B>, drained: bool) {
        while let Some(event) = m.poll_event() {
            assert!(
                self.finished.is_none(),
                "invitee event {event:?} after Finished"
            );
            match event {
                InviteeEvent::Prompt(p) => {
                    assert!(self.prompt.is_none(), "a second Prompt");
                    assert!(
                        self.honest_inviters.contains(&p.inviter),
                        "a prompt from {:?}, who never signed anything here",
                        p.inviter
                    );
                    assert!(pending(p.deadline, self.now), "a prompt already expired");
                    assert_eq!(m.inviter(), Some(p.inviter));
                    let invitation = m.invitation().expect("a prompt's invitation");
                    assert_eq!(invitation.application(), p.application);
                    assert!(invitation.message().chars().count() <= 255);
                    assert!(invitation.data().len() <= self.max_data);
                    self.prompt = Some(p);
                    self.pending_since = Some(self.now);
                }
                InviteeEvent::Finished(outcome) => self.finished = Some(outcome),
            }
            self.events.push(event);
        }
        assert_eq!(m.outcome(), self.finished, "outcome() and Finished");
        assert_eq!(
            m.is_prompting(),
            self.prompt.is_some() && self.finished.is_none(),
            "is_prompting"
        );
        match (m.poll_timeout(), self.finished) {
            (None, Some(_)) => {}
            (Some(deadline), None) => {
                assert!(
                    pending(deadline, self.now),
                    "invitee deadline {deadline:?} not after now {:?}",
                    self.now
                );
                if let Some(p) = self.prompt {
                    assert!(deadline <= p.deadline, "a deadline after the prompt's");
                }
            }
            (t, f) => panic!("invitee poll_timeout {t:?} with outcome {f:?}"),
        }
        if drained {
            assert_eq!(m.is_finished(), self.finished.is_some(), "is_finished");
        }
        if let Some(key) = m.inviter() {
            assert!(
                self.honest_inviters.contains(&key),
                "an Invite from {key:?} passed, who never signed anything here"
            );
        }
        if m.invitation().is_some() {
            assert!(self.prompt.is_some(), "an invitation without a prompt");
        }
        match self.finished {
            Some(
                o @ (InviteeOutcome::Accepted(_)
                | InviteeOutcome::Declined
                | InviteeOutcome::Error { .. }
                | InviteeOutcome::Refused(Refusal::Busy)),
            ) => assert_eq!(
                self.decided.as_ref().map(|d| d.0),
                Some(o),
                "an answer the user never gave"
            ),
            Some(InviteeOutcome::Expired) => {
                assert!(self.prompt.is_some(), "Expired without a prompt");
                assert!(self.decided.is_none(), "Expired after a decision");
            }
            Some(InviteeOutcome::Cancelled) => {
                assert!(self.prompt.is_some(), "Cancelled without a prompt")
            }
            Some(InviteeOutcome::Refused(
                Refusal::NotTrusted | Refusal::Blocked | Refusal::ApplicationNotRegistered,
            )) => assert!(m.inviter().is_some(), "a policy refusal of nobody"),
            _ => {}
        }
    }

    pub(crate) fn finish<const B: usize>(&mut self, m: &mut Invitee<B>) {
        self.drain(m);
        self.check(m, true);
        check_invitee_stream(
            &self.sent,
            matches!(self.finished, Some(InviteeOutcome::Failed(_))),
            self.keepalives(),
        );
    }
}
