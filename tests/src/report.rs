//! What a run reports: counts, the invariant broken if any, the trace hash.

use std::collections::BTreeMap;
use std::fmt;

/// An invariant the world checks after every step: six of safety,
/// liveness, and the call contract of `docs/protocol.md` §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Invariant {
    /// Safety 1: an inviter reports an authenticated answer only if that
    /// exact invitee's user (or policy) gave it on that exact invitation.
    AnswerFromThatInvitee,
    /// Safety 2: an invitee prompts only for an inviter its policy allowed
    /// at that moment, never for a replayed, reflected or forged invitation.
    PromptOnlyAllowedGenuine,
    /// Safety 3: in contact mode, no byte of an invitation is sent on a
    /// session whose responder did not prove the expected key.
    NoInvitationToWrongKey,
    /// Safety 4: every session reaches exactly one final outcome.
    ExactlyOneOutcome,
    /// Safety 5: no panic.
    NoPanic,
    /// Safety 6: every pool and buffer stays within its capacity.
    WithinCapacity,
    /// Liveness: a healthy link ends every invitation in time and both
    /// sides agree; after the faults stop, new invitations succeed; the
    /// world goes idle.
    Liveness,
    /// The call contract of `docs/protocol.md` §8 (decision results at and
    /// around the deadline, early timeouts, cancel cases).
    CallContract,
}

impl Invariant {
    /// A short name.
    pub fn name(self) -> &'static str {
        match self {
            Invariant::AnswerFromThatInvitee => "safety 1 (answer only from that invitee's user)",
            Invariant::PromptOnlyAllowedGenuine => {
                "safety 2 (prompt only for allowed, genuine invitations)"
            }
            Invariant::NoInvitationToWrongKey => {
                "safety 3 (no invitation byte before the contact's key is proven)"
            }
            Invariant::ExactlyOneOutcome => "safety 4 (exactly one final outcome per side)",
            Invariant::NoPanic => "safety 5 (no panic)",
            Invariant::WithinCapacity => "safety 6 (pools and buffers within capacity)",
            Invariant::Liveness => "liveness",
            Invariant::CallContract => "call contract (protocol.md §8)",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An invariant broken during a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// The step at which it was seen (1-based).
    pub step: usize,
    /// The simulated time, in microseconds since the start.
    pub time_us: u64,
    /// What was seen.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} broken at step {} (t={}.{:06}s): {}",
            self.invariant,
            self.step,
            self.time_us / 1_000_000,
            self.time_us % 1_000_000,
            self.detail
        )
    }
}

/// Declares a struct with its own fields and, between them, the counts a
/// run and a summary of runs both keep, so that they are declared (and
/// summed) once; each struct gets `add_counts_to`, which adds its counts to
/// a [`Summary`]'s.
macro_rules! with_counts {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $($(#[$head_attr:meta])* pub $head:ident: $head_ty:ty,)*
            ..counts,
            $($(#[$tail_attr:meta])* pub $tail:ident: $tail_ty:ty,)*
        }
    ) => {
        $(#[$attr])*
        pub struct $name {
            $($(#[$head_attr])* pub $head: $head_ty,)*
            /// Invitations started (inviter sessions), all phases.
            pub invitations: u64,
            /// Sessions of both roles, attacker connections included: the
            /// exchanges the core ran.
            pub exchanges: u64,
            /// Inviter results by kind.
            pub inviter_outcomes: BTreeMap<String, u64>,
            /// Invitee outcomes by kind.
            pub invitee_outcomes: BTreeMap<String, u64>,
            /// Faults injected, by label (what exactly happened: "bit flip",
            /// "partition give-up", ...).
            pub faults: BTreeMap<&'static str, u64>,
            /// Faults injected, by kind: the command-line names of
            /// [`FAULT_KINDS`](crate::FAULT_KINDS) ("split", "tamper", ...). A
            /// kind absent here was never injected.
            pub fault_kinds: BTreeMap<&'static str, u64>,
            /// Prompted invitations whose invitee gave a final answer.
            pub answered: u64,
            /// Of those, the ones where the inviter reported something else.
            pub disagreements: u64,
            /// Of those, the ones whose link broke after the invitee answered.
            pub link_disagreements: u64,
            /// Disagreements by cause.
            pub disagreement_causes: BTreeMap<&'static str, u64>,
            /// Situations the invariants were checked in (deadline edges, cancel
            /// cases, ...), by kind: what the run covered.
            pub cases: BTreeMap<&'static str, u64>,
            $($(#[$tail_attr])* pub $tail: $tail_ty,)*
        }

        impl $name {
            /// Adds these counts to `into`'s: each number, and each map's
            /// entries.
            fn add_counts_to(&self, into: &mut Summary) {
                into.invitations += self.invitations;
                into.exchanges += self.exchanges;
                add_each(&mut into.inviter_outcomes, &self.inviter_outcomes);
                add_each(&mut into.invitee_outcomes, &self.invitee_outcomes);
                add_each(&mut into.faults, &self.faults);
                add_each(&mut into.fault_kinds, &self.fault_kinds);
                into.answered += self.answered;
                into.disagreements += self.disagreements;
                into.link_disagreements += self.link_disagreements;
                add_each(&mut into.disagreement_causes, &self.disagreement_causes);
                add_each(&mut into.cases, &self.cases);
            }
        }
    };
}

/// Adds each of `from`'s counts to the same key's in `into`.
fn add_each<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

with_counts! {
    /// The result of one run.
    #[derive(Debug, Clone, Default)]
    pub struct Report {
        /// The seed.
        pub seed: u64,
        /// Steps taken.
        pub steps: usize,
        ..counts,
        /// The first invariant broken, if any.
        pub violation: Option<Violation>,
        /// FNV-1a hash of the whole trace.
        pub trace_hash: u64,
        /// Simulated time at the end, in microseconds.
        pub sim_time_us: u64,
        /// The trace lines, when tracing.
        pub trace: Vec<String>,
    }
}

with_counts! {
    /// Reports summed over many seeds.
    #[derive(Debug, Clone, Default)]
    pub struct Summary {
        /// Seeds run.
        pub seeds: u64,
        /// Steps taken.
        pub steps: u64,
        ..counts,
        /// Seeds with a violation, and the violation.
        pub violations: Vec<(u64, Violation)>,
        /// Simulated time, in microseconds.
        pub sim_time_us: u128,
    }
}

impl Summary {
    /// Adds one run.
    pub fn add(&mut self, r: &Report) {
        self.seeds += 1;
        self.steps += r.steps as u64;
        r.add_counts_to(self);
        if let Some(v) = &r.violation {
            self.violations.push((r.seed, v.clone()));
        }
        self.sim_time_us += u128::from(r.sim_time_us);
    }

    /// Adds another summary.
    pub fn merge(&mut self, o: Summary) {
        self.seeds += o.seeds;
        self.steps += o.steps;
        o.add_counts_to(self);
        self.violations.extend(o.violations);
        self.violations.sort_by_key(|(s, _)| *s);
        self.sim_time_us += o.sim_time_us;
    }
}
