//! The trace: the world described as it starts, each line hashed (and
//! kept if asked), the labels it uses, the counts of faults and cases, and
//! the report of what happened.

use std::fmt::Write as _;

use beckon_core::{
    ApplicationId, Directory, InviteeOutcome, Permission, PublicKey, Response, SessionError,
};
use embassy_time::Instant;

use crate::options::{Faults, FAULT_KINDS};
use crate::report::Report;

use super::attacker::Attack;
use super::invariants::agrees;
use super::session::Role;
use super::{CancelPlan, SessId, World, START};

pub(super) fn t_us(t: Instant) -> u64 {
    t.as_micros().saturating_sub(START.as_micros())
}

pub(super) fn fmt_t(t: Instant) -> String {
    let us = t_us(t);
    format!("{}.{:06}", us / 1_000_000, us % 1_000_000)
}

pub(super) fn short_key(k: &PublicKey) -> String {
    k.as_bytes()[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn result_label(r: &Result<Response, SessionError>) -> String {
    match r {
        Ok(Response::Accepted) => "Accepted".into(),
        Ok(Response::Declined) => "Declined".into(),
        Ok(Response::Expired) => "Expired".into(),
        Ok(Response::Error { .. }) => "Error{code}".into(),
        Err(SessionError::Refused {
            reason,
            authenticated,
        }) => format!(
            "Refused({reason:?}, {})",
            if *authenticated { "sealed" } else { "clear" }
        ),
        Err(SessionError::Protocol(e)) => format!("Protocol({e:?})"),
        Err(SessionError::UnsupportedVersion { .. }) => "UnsupportedVersion".into(),
        Err(e) => format!("{e:?}"),
    }
}

pub(super) fn outcome_label(o: &InviteeOutcome) -> String {
    match o {
        InviteeOutcome::Accepted(_) => "Accepted".into(),
        InviteeOutcome::Error { .. } => "Errored{code}".into(),
        InviteeOutcome::Failed(SessionError::Protocol(e)) => format!("Failed(Protocol({e:?}))"),
        InviteeOutcome::Failed(SessionError::UnsupportedVersion { .. }) => {
            "Failed(UnsupportedVersion)".into()
        }
        other => format!("{other:?}"),
    }
}

/// A message for the trace: its id, without the padding.
pub(super) fn short_msg(message: &str) -> String {
    match message.split_once('|') {
        Some((id, pad)) => format!("{id}+{}ch", pad.chars().count() + 1),
        None => message.to_string(),
    }
}

/// The invitation a message names: `i<k>`, maybe followed by padding.
pub(super) fn invitation_id(message: &str) -> Option<usize> {
    let digits: String = message
        .strip_prefix('i')?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

pub(super) fn app_name(app: &ApplicationId) -> String {
    format!("app{:x}", app.as_bytes()[0] & 0x0F)
}

impl World {
    pub(super) fn preamble(&mut self) {
        let options = self.o.to_string();
        for line in options.lines() {
            self.emit(format!("option {line}"));
        }
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            let mut s = format!(
                "node {} key {} {}",
                n.name,
                short_key(&n.key),
                if n.attacker {
                    "attacker"
                } else if n.small {
                    "honest constrained (data <= 32 B)"
                } else {
                    "honest"
                }
            );
            if !n.attacker {
                let _ = write!(s, " policy {:?} contacts [", n.dir.policy());
                for c in n.dir.contacts() {
                    let _ = write!(
                        s,
                        "{}{} ",
                        c.nickname(),
                        if c.permission() == Permission::Blocked {
                            "(blocked)"
                        } else {
                            ""
                        }
                    );
                }
                s.push_str("] apps [");
                for r in n.dir.registrations() {
                    let _ = write!(s, "{} ", app_name(&r.id()));
                }
                let _ = write!(
                    s,
                    "] user accept {}‰ decline {}‰ fail {}‰ busy {}‰",
                    n.user.accept, n.user.decline, n.user.fail, n.user.busy
                );
            }
            self.emit(s);
        }
        if !self.targeted.is_empty() {
            let links: Vec<String> = self
                .targeted
                .iter()
                .map(|(a, b)| format!("{}-{}", self.nodes[*a].name, self.nodes[*b].name))
                .collect();
            self.emit(format!("attacker on links {}", links.join(" ")));
        }
        for k in 0..self.invs.len() {
            let i = &self.invs[k];
            let s = format!(
                "invitation {} at {} {} -> {} {} app {} data {}B cancel {}",
                short_msg(&i.message),
                fmt_t(i.start),
                self.nodes[i.from].name,
                self.nodes[i.to].name,
                if i.endpoint { "endpoint" } else { "contact" },
                app_name(&i.app),
                i.data.len(),
                match i.cancel {
                    CancelPlan::None => "none".to_string(),
                    CancelPlan::Race => "racing the answer".to_string(),
                    CancelPlan::AfterVerified => "right after the Proof".to_string(),
                    CancelPlan::At(d) => format!("after {}ms", d.as_millis()),
                }
            );
            self.emit(s);
        }
        let lines: Vec<String> = self
            .partitions
            .iter()
            .map(|p| {
                let g: Vec<&str> = (0..self.nodes.len())
                    .filter(|i| p.group[*i])
                    .map(|i| self.nodes[i].name.as_str())
                    .collect();
                format!(
                    "partition [{}] from {} to {}",
                    g.join(" "),
                    fmt_t(p.start),
                    fmt_t(p.heal)
                )
            })
            .collect();
        for line in lines {
            self.emit(line);
        }
    }

    fn emit(&mut self, line: String) {
        self.hash.write(line.as_bytes());
        self.hash.write(b"\n");
        if self.trace_on {
            self.trace.push(line);
        }
    }

    pub(super) fn log(&mut self, what: String) {
        let line = format!("[{}] #{} {}", fmt_t(self.now), self.step, what);
        self.emit(line);
    }

    pub(super) fn case(&mut self, name: &'static str) {
        *self.cases.entry(name).or_default() += 1;
    }

    /// Counts a fault injected, by its label and by its kind (one of
    /// [`FAULT_KINDS`], or [`Faults::NONE`] for an event of no one kind).
    pub(super) fn fault(&mut self, kind: Faults, label: &'static str) {
        *self.faults.entry(label).or_default() += 1;
        if let Some((_, name, _)) = FAULT_KINDS.iter().find(|(k, _, _)| *k == kind) {
            *self.fault_kinds.entry(name).or_default() += 1;
        }
    }

    pub(super) fn sess_name(&self, s: SessId) -> String {
        let sess = &self.sessions[s];
        let role = if sess.role.is_inviter() {
            "inviter"
        } else {
            "invitee"
        };
        format!("s{s}({} {role})", self.nodes[sess.node].name)
    }

    pub(super) fn report(mut self) -> Report {
        let mut r = Report {
            seed: self.o.seed,
            steps: self.step,
            sim_time_us: t_us(self.now),
            ..Report::default()
        };
        for s in &self.sessions {
            r.exchanges += 1;
            match &s.role {
                Role::Inviter(_) => {
                    r.invitations += 1;
                    if let Some(x) = &s.inviter_result {
                        *r.inviter_outcomes.entry(result_label(x)).or_default() += 1;
                    }
                }
                Role::Invitee(_) => {
                    if let Some(o) = &s.invitee_outcome {
                        *r.invitee_outcomes.entry(outcome_label(o)).or_default() += 1;
                    }
                }
            }
        }
        r.exchanges += self.scripts.len() as u64;
        // Disagreements: the invitee answered a prompt; did the inviter
        // learn that answer?
        for s in 0..self.sessions.len() {
            let sess = &self.sessions[s];
            let (Some(p), Some(o)) = (&sess.prompt, sess.invitee_outcome) else {
                continue;
            };
            if matches!(o, InviteeOutcome::Failed(_)) {
                continue;
            }
            let Some(k) = p.inv else { continue };
            let Some(a) = self.invs[k].session else {
                continue;
            };
            let Some(res) = self.sessions[a].inviter_result else {
                continue;
            };
            r.answered += 1;
            if !agrees(&res, &o) {
                r.disagreements += 1;
                let conn = &self.conns[self.sessions[a].conn];
                let answered_at = sess.finished_at.unwrap_or(START);
                let cause = match conn.broke {
                    Some(t) if t >= answered_at => {
                        r.link_disagreements += 1;
                        "the link broke with the answer in flight"
                    }
                    Some(_) => "the link broke before; the invitee answered into the void",
                    None if conn.tampered || conn.attack != Attack::None => "an attacker tampered",
                    None if conn.delayed => "the link was stalled or partitioned past a deadline",
                    None => "other",
                };
                *r.disagreement_causes.entry(cause).or_default() += 1;
            }
        }
        r.faults = std::mem::take(&mut self.faults);
        r.fault_kinds = std::mem::take(&mut self.fault_kinds);
        r.cases = std::mem::take(&mut self.cases);
        r.violation = self.violation.take();
        self.emit(format!("end after {} steps", self.step));
        r.trace_hash = self.hash.finish();
        r.trace = std::mem::take(&mut self.trace);
        r
    }
}
