//! The users: when and how they answer a prompt, the inviter's cancel,
//! and the changes they make to their directories.

use beckon_core::{
    ArgumentError, Contact, Decision, Error, InviteeOutcome, Machine, Message, Permission, Policy,
    SessionError,
};
use embassy_time::Duration;

use crate::options::{Bug, Faults};
use crate::report::Invariant;
use crate::rng::Rng;

use super::session::Role;
use super::trace::app_name;
use super::{CancelPlan, Ev, InvId, NodeId, SessId, World, APP_IDS, CONTACTS};

#[derive(Debug, Clone, Copy)]
pub(super) struct UserStyle {
    pub(super) accept: u32,
    pub(super) decline: u32,
    pub(super) fail: u32,
    pub(super) busy: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Accept,
    Decline,
    Fail(u32),
    Busy,
}

impl World {
    pub(super) fn plan_user(&mut self, s: SessId, k: InvId) {
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

    pub(super) fn decide(&mut self, s: SessId, kind: Kind, when: &'static str) {
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

    pub(super) fn cancel(&mut self, s: SessId) {
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

    pub(super) fn policy_change(&mut self, node: Option<NodeId>, k: u64) {
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
}
