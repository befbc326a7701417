//! The sessions: the core's machines as the world drives them, both roles
//! through one contract, and each session's record of what it did.

use beckon_core::{
    ApplicationId, Decision, Directory, EphemeralSecret, Error, Invitation, Invitee, InviteeEvent,
    InviteeOutcome, Inviter, InviterEvent, Machine, Output, PublicKey, Response, SessionError,
    Target,
};
use embassy_time::{Duration, Instant};

use crate::options::{Bug, Faults};
use crate::report::Invariant;
use crate::rng::Rng;

use super::attacker::Attack;
use super::network::End;
use super::users::Kind;
use super::{CancelPlan, ConnId, Dir, Ev, InvId, NodeId, SessId, World};

/// Bytes a session's receive log keeps (the oracle reads the first frames).
const RX_LOG_CAP: usize = 4096;

/// A session's state machine. Both roles, and an invitee of either buffer
/// size, are driven alike through the core's one contract
/// ([`beckon_core::Machine`], seen through [`Driven`]); only a role's own
/// inputs (the inviter's cancel, the invitee's decision) name the role.
pub(super) enum Role {
    Inviter(Box<Inviter>),
    Invitee(Box<dyn Answering>),
}

impl Role {
    /// The machine, whichever role it plays.
    pub(super) fn machine(&mut self) -> &mut dyn Driven {
        match self {
            Role::Inviter(m) => &mut **m,
            Role::Invitee(m) => &mut **m,
        }
    }

    pub(super) fn machine_ref(&self) -> &dyn Driven {
        match self {
            Role::Inviter(m) => &**m,
            Role::Invitee(m) => &**m,
        }
    }

    pub(super) fn is_inviter(&self) -> bool {
        matches!(self, Role::Inviter(_))
    }
}

/// The data limit of a constrained node's invitee (an embedded device).
pub(super) const SMALL_DATA: usize = 32;
const SMALL_BUF: usize = beckon_core::wire::buffer_size(SMALL_DATA);

/// Either role's event.
pub(super) enum SessionEvent {
    Inviter(InviterEvent),
    Invitee(InviteeEvent),
}

impl From<InviterEvent> for SessionEvent {
    fn from(e: InviterEvent) -> Self {
        SessionEvent::Inviter(e)
    }
}

impl From<InviteeEvent> for SessionEvent {
    fn from(e: InviteeEvent) -> Self {
        SessionEvent::Invitee(e)
    }
}

/// What a machine consults while it reads, taken from its node's
/// directory: nothing for an inviter, the directory for an invitee.
trait FromDir {
    fn from_dir(dir: &Dir) -> &Self;
}

impl FromDir for () {
    fn from_dir(_: &Dir) -> &Self {
        &()
    }
}

impl FromDir for dyn Directory {
    fn from_dir(dir: &Dir) -> &Self {
        dir
    }
}

/// A session's machine as the world drives it: [`Machine`] with the node's
/// directory for context and either role's events. One impl, generic over
/// every `M: Machine`, serves both roles and every buffer size.
pub(super) trait Driven {
    fn input(&mut self, now: Instant, data: &[u8], dir: &Dir);
    fn timeout(&mut self, now: Instant);
    fn close(&mut self, now: Instant);
    fn output(&mut self, buf: &mut [u8]) -> Output<SessionEvent>;
    fn deadline(&self) -> Option<Instant>;
}

impl<M> Driven for M
where
    M: Machine,
    M::Context: FromDir,
    M::Event: Into<SessionEvent>,
{
    fn input(&mut self, now: Instant, data: &[u8], dir: &Dir) {
        self.handle_input(now, data, M::Context::from_dir(dir));
    }
    fn timeout(&mut self, now: Instant) {
        self.handle_timeout(now);
    }
    fn close(&mut self, now: Instant) {
        self.handle_close(now);
    }
    fn output(&mut self, buf: &mut [u8]) -> Output<SessionEvent> {
        match self.poll_output(buf) {
            Output::Transmit(n) => Output::Transmit(n),
            Output::Event(e) => Output::Event(e.into()),
            Output::Wait(at) => Output::Wait(at),
            Output::Done => Output::Done,
        }
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
}

/// An invitee of any buffer size (`Invitee<BUF>` for every `BUF`): what
/// the world drives, and the invitee's own input and getter.
pub(super) trait Answering: Driven {
    fn decide(&mut self, now: Instant, decision: Decision<'_>) -> Result<(), Error>;
    fn shown(&self) -> Option<Invitation<'_>>;
}

impl<const BUF: usize> Answering for Invitee<BUF> {
    fn decide(&mut self, now: Instant, decision: Decision<'_>) -> Result<(), Error> {
        self.handle_decision(now, decision)
    }
    fn shown(&self) -> Option<Invitation<'_>> {
        self.invitation()
    }
}

pub(super) struct PromptRec {
    pub(super) deadline: Instant,
    pub(super) inviter: PublicKey,
    pub(super) is_contact: bool,
    pub(super) application: ApplicationId,
    pub(super) inv: Option<InvId>,
}

pub(super) struct Session {
    pub(super) node: NodeId,
    pub(super) role: Role,
    pub(super) conn: ConnId,
    side: usize,
    pub(super) inv: Option<InvId>,
    pub(super) started: Instant,
    pub(super) events: u32,
    pub(super) finished_at: Option<Instant>,
    pub(super) inviter_result: Option<Result<Response, SessionError>>,
    pub(super) invitee_outcome: Option<InviteeOutcome>,
    pub(super) verified: Option<(PublicKey, Instant)>,
    pub(super) prompt: Option<PromptRec>,
    pub(super) decision: Option<(Kind, Instant, String)>,
    pub(super) tx: Vec<u8>,
    pub(super) rx: Vec<u8>,
    timer_at: Option<Instant>,
    /// Its socket is gone: nothing more is read or written.
    pub(super) closed: bool,
    pub(super) checked_invite: bool,
    pub(super) proof_registered: bool,
    pub(super) drain_pending: bool,
    /// The inviter cancelled (after the Invite) while the session ran.
    pub(super) cancelled_after_invite: bool,
    /// The inviter cancelled before its Invite went out.
    pub(super) cancelled_before_invite: bool,
}

impl Session {
    fn new(
        node: NodeId,
        role: Role,
        conn: ConnId,
        side: usize,
        inv: Option<InvId>,
        now: Instant,
    ) -> Self {
        Session {
            node,
            role,
            conn,
            side,
            inv,
            started: now,
            events: 0,
            finished_at: None,
            inviter_result: None,
            invitee_outcome: None,
            verified: None,
            prompt: None,
            decision: None,
            tx: Vec::new(),
            rx: Vec::new(),
            timer_at: None,
            closed: false,
            checked_invite: false,
            proof_registered: false,
            drain_pending: false,
            cancelled_after_invite: false,
            cancelled_before_invite: false,
        }
    }
}

impl World {
    pub(super) fn start_invitation(&mut self, k: InvId) {
        if self.o.bug == Some(Bug::PanicOnThirdInvitation) && k == 2 {
            panic!("planted bug: the third invitation panics");
        }
        let (from, to) = (self.invs[k].from, self.invs[k].to);
        let target = if self.invs[k].endpoint {
            Target::AnyEndpoint
        } else {
            Target::Contact(self.nodes[to].key)
        };
        let s = self.sessions.len();
        let eph = Rng::derive(self.o.seed, "ephemeral", s as u64).bytes();
        let inv = &self.invs[k];
        let invitation = match Invitation::new(inv.app, &inv.message, &inv.data) {
            Ok(i) => i,
            Err(e) => {
                return self.violate(
                    Invariant::CallContract,
                    format!("a valid invitation was refused: {e:?}"),
                )
            }
        };
        let inviter = match Inviter::new(
            self.o.config,
            &self.nodes[from].identity,
            target,
            &invitation,
            EphemeralSecret::from_bytes(eph),
            self.now,
        ) {
            Ok(m) => Box::new(m),
            Err(e) => {
                return self.violate(
                    Invariant::CallContract,
                    format!("Inviter::new refused valid arguments: {e:?}"),
                )
            }
        };
        let c = self.open_conn(from, to, End::Session(s), self.invs[k].phase2);
        self.sessions.push(Session::new(
            from,
            Role::Inviter(inviter),
            c,
            0,
            Some(k),
            self.now,
        ));
        self.invs[k].session = Some(s);
        self.log(format!(
            "{} starts invitation {} to {} ({}) on c{c}{}",
            self.sess_name(s),
            self.invs[k].message,
            self.nodes[to].name,
            if self.invs[k].endpoint {
                "endpoint"
            } else {
                "contact"
            },
            match self.conns[c].attack {
                Attack::None => String::new(),
                a => format!(", attacked: {a:?}"),
            }
        ));
        if let CancelPlan::At(d) = self.invs[k].cancel {
            self.schedule(self.now + d, Ev::Cancel(s));
        }
        self.drain(s);
    }

    pub(super) fn new_invitee(&mut self, node: NodeId, c: ConnId) -> SessId {
        let s = self.sessions.len();
        let eph = Rng::derive(self.o.seed, "ephemeral", s as u64).bytes();
        let (config, identity) = (self.o.config, &self.nodes[node].identity);
        let eph = EphemeralSecret::from_bytes(eph);
        fn boxed(m: impl Answering + 'static) -> Box<dyn Answering> {
            Box::new(m)
        }
        let m = if self.nodes[node].small {
            Invitee::<SMALL_BUF>::new_sized(config, identity, eph, self.now).map(boxed)
        } else {
            Invitee::new(config, identity, eph, self.now).map(boxed)
        };
        let m = match m {
            Ok(m) => m,
            Err(e) => panic!("Invitee::new refused a valid config: {e:?}"),
        };
        self.nodes[node].live += 1;
        self.sessions
            .push(Session::new(node, Role::Invitee(m), c, 1, None, self.now));
        s
    }

    pub(super) fn input(&mut self, s: SessId, bytes: &[u8]) {
        let now = self.now;
        let sess = &mut self.sessions[s];
        if sess.rx.len() < RX_LOG_CAP {
            let room = RX_LOG_CAP - sess.rx.len();
            sess.rx.extend_from_slice(&bytes[..room.min(bytes.len())]);
        }
        let node = &self.nodes[sess.node];
        let dir = if self.o.bug == Some(Bug::StaleDirectory) {
            &node.stale
        } else {
            &node.dir
        };
        sess.role.machine().input(now, bytes, dir);
        self.drain(s);
    }

    /// Drains a session in the contract's order, as `poll_output` gives
    /// it: transmits, events, then the next deadline or the end; closes its
    /// end when it is finished.
    pub(super) fn drain(&mut self, s: SessId) {
        // Room in the send buffer for the transmits. While it is full they
        // wait for the Drain event, and the machine is polled with no room:
        // for its events only.
        let mut room = !self.sessions[s].drain_pending;
        let (timeout, finished) = loop {
            let (cap, stop) = if room {
                let backpressure = self.o.faults.has(Faults::BACKPRESSURE);
                let rng = &mut self.conns[self.sessions[s].conn].rng;
                if backpressure && rng.chance(150) {
                    (rng.range(1, 64) as usize, rng.chance(500))
                } else {
                    (self.buf.len(), false)
                }
            } else {
                (0, false)
            };
            let mut buf = std::mem::take(&mut self.buf);
            let out = self.sessions[s].role.machine().output(&mut buf[..cap]);
            let bytes = match out {
                Output::Transmit(n) => buf[..n.min(cap)].to_vec(),
                _ => Vec::new(),
            };
            self.buf = buf;
            match out {
                Output::Transmit(n) => {
                    if n > cap {
                        return self.violate(
                            Invariant::WithinCapacity,
                            format!("poll_transmit returned {n} for a buffer of {cap}"),
                        );
                    }
                    self.on_transmit(s, &bytes);
                    if self.violation.is_some() {
                        return;
                    }
                    let (c, side, closed) = {
                        let sess = &self.sessions[s];
                        (sess.conn, sess.side, sess.closed)
                    };
                    if !closed {
                        self.send(c, side, bytes);
                    }
                    if stop {
                        self.fault(Faults::BACKPRESSURE, "backpressure");
                        self.sessions[s].drain_pending = true;
                        let later = Duration::from_millis(self.rng.range(1, 200));
                        self.schedule(self.now + later, Ev::Drain(s));
                        room = false;
                    }
                }
                Output::Event(e) => {
                    // Every byte is out (or waits for room): the events.
                    room = false;
                    match e {
                        SessionEvent::Inviter(e) => self.on_inviter_event(s, e),
                        SessionEvent::Invitee(e) => self.on_invitee_event(s, e),
                    }
                }
                Output::Wait(at) => break (at, false),
                Output::Done => break (None, true),
            }
        };
        if timeout != self.sessions[s].timer_at {
            self.sessions[s].timer_at = timeout;
            if let Some(t) = timeout {
                self.schedule(t, Ev::Timer(s, false));
                if self.o.faults.has(Faults::EARLY_TIMEOUT) && self.rng.chance(100) && t > self.now
                {
                    let span = (t - self.now).as_ticks();
                    let early = self.now + Duration::from_ticks(self.rng.below(span));
                    self.schedule(early, Ev::Timer(s, true));
                }
            }
        }
        if finished && self.sessions[s].finished_at.is_none() {
            self.violate(
                Invariant::ExactlyOneOutcome,
                format!("{} is finished but reported no outcome", self.sess_name(s)),
            );
        }
        if finished && !self.sessions[s].closed {
            let (c, side) = (self.sessions[s].conn, self.sessions[s].side);
            self.close_end(c, side);
        }
    }

    pub(super) fn timer(&mut self, s: SessId, probe: bool) {
        let due = self.sessions[s].role.machine_ref().deadline();
        let now = self.now;
        if probe {
            let Some(t) = due else { return };
            if t <= now {
                return;
            }
            let (tx, events) = (self.sessions[s].tx.len(), self.sessions[s].events);
            self.log(format!(
                "{}: handle_timeout {}µs early",
                self.sess_name(s),
                (t - now).as_micros()
            ));
            self.fault(Faults::EARLY_TIMEOUT, "early timeout");
            self.sessions[s].role.machine().timeout(now);
            self.drain(s);
            let after = self.sessions[s].role.machine_ref().deadline();
            if self.sessions[s].tx.len() != tx || self.sessions[s].events != events || after != due
            {
                self.violate(
                    Invariant::CallContract,
                    format!(
                        "{}: handle_timeout before the deadline did something",
                        self.sess_name(s)
                    ),
                );
            }
            return;
        }
        if due.is_some_and(|t| t <= now) {
            self.log(format!("{}: deadline", self.sess_name(s)));
            self.sessions[s].role.machine().timeout(now);
            self.drain(s);
        }
    }
}
