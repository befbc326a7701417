//! The oracle: what every output of a session must satisfy, checked as it
//! happens (policy, genuine invitations, agreement of the two ends,
//! capacity, liveness), and the violation it reports.

use beckon_core::internal::frame::{
    invite_frame_len, FrameKind, ANSWER_FRAME_MAX, CANCEL_FRAME_LEN, HELLO_FRAME_LEN,
    KEEPALIVE_FRAME_LEN, PROOF_FRAME_LEN,
};
use beckon_core::{
    ApplicationId, Contact, Directory, InviteeEvent, InviteeOutcome, InviterEvent, Permission,
    Policy, PublicKey, Refusal, Response, SessionError,
};
use embassy_time::Duration;

use crate::options::Faults;
use crate::report::{Invariant, Violation};

use super::attacker::Attack;
use super::network::{first_frame, End};
use super::session::{PromptRec, Role, SMALL_DATA};
use super::trace::{fmt_t, invitation_id, outcome_label, result_label, short_key, short_msg, t_us};
use super::users::Kind;
use super::{CancelPlan, Dir, Ev, SessId, World, APPS, CONTACTS};

/// The most an inviter can ever send besides its keepalives: Hello,
/// Invite, Cancel.
const INVITER_TX_MAX: usize =
    HELLO_FRAME_LEN + invite_frame_len(beckon_core::limits::MAX_DATA_LEN) + CANCEL_FRAME_LEN;
/// The most an invitee can ever send besides its keepalives: Proof and
/// Answer.
const INVITEE_TX_MAX: usize = PROOF_FRAME_LEN + ANSWER_FRAME_MAX;

/// Whether the inviter's result matches the invitee's final outcome as it
/// does when the Answer arrives (`docs/protocol.md` §8.4).
pub(super) fn agrees(r: &Result<Response, SessionError>, o: &InviteeOutcome) -> bool {
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
pub(super) fn policy_allows(
    dir: &Dir,
    key: &PublicKey,
    app: &ApplicationId,
) -> Result<bool, &'static str> {
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
    pub(super) fn violate(&mut self, invariant: Invariant, detail: String) {
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

    pub(super) fn on_transmit(&mut self, s: SessId, bytes: &[u8]) {
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

    pub(super) fn on_inviter_event(&mut self, s: SessId, e: InviterEvent) {
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

    pub(super) fn on_invitee_event(&mut self, s: SessId, e: InviteeEvent) {
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

    pub(super) fn check_pools(&mut self) {
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

    pub(super) fn final_checks(&mut self) {
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
}
