//! The accept loop, and each connection's task: one [`Invitee`] driven
//! over its stream, its prompt handed to the application, its answer
//! applied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use beckon_core::{
    Config, Decision, EphemeralSecret, Error, Identity, Invitee, InviteeEvent, InviteeOutcome,
    Refusal,
};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn, Instrument};

use super::admission::{Admitted, Handshakes, Slot};
use super::incoming::Incoming;
use super::SessionReport;
use crate::clock::{to_std, Clock};
use crate::driver::{drive, Connection, DirectorySource, Handler, InviteeSession};
use crate::prompt::{Command, IncomingInvitation, Withdrawn};

/// How long the accept loop pauses after a failed accept (out of file
/// descriptors, say) so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Counts a session task while it runs.
pub(super) struct Live(watch::Sender<usize>);

impl Live {
    fn new(count: &watch::Sender<usize>) -> Live {
        count.send_modify(|n| *n += 1);
        Live(count.clone())
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// What every session shares.
pub(super) struct Shared<D: ?Sized> {
    pub(super) identity: Identity,
    pub(super) config: Config,
    pub(super) clock: Clock,
    pub(super) prompts: Arc<Semaphore>,
    pub(super) prompt_tx: mpsc::Sender<IncomingInvitation>,
    pub(super) reports: broadcast::Sender<SessionReport>,
    pub(super) directory: Arc<D>,
    /// Set when the listener stops: the error to answer prompts with.
    pub(super) stop: watch::Receiver<Option<(u32, String)>>,
    /// How many session tasks are running.
    pub(super) live: watch::Sender<usize>,
}

pub(super) async fn accept_loop<I, D>(
    mut incoming: I,
    handshakes: Handshakes,
    refusers: Arc<Semaphore>,
    shared: Arc<Shared<D>>,
) where
    I: Incoming,
    D: DirectorySource + ?Sized,
{
    loop {
        let (stream, peer) = match incoming.accept().await {
            None => return,
            Some(Ok(accepted)) => accepted,
            Some(Err(e)) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        match handshakes.admit(peer) {
            Some(admitted) => {
                let evicting = admitted.evicting;
                let session = serve(stream, peer, admitted, Arc::clone(&shared));
                tokio::spawn(session.instrument(tracing::info_span!("invitee", %peer)));
                if evicting {
                    // One eviction per turn of the scheduler: the sessions
                    // (the newcomer's among them) first read what has come
                    // in, Hellos included. Otherwise a burst of connections
                    // accepted in one go could evict a real inviter before
                    // its session had run at all.
                    tokio::task::yield_now().await;
                }
            }
            None => {
                info!(%peer, "too many handshakes under way, none evictable: refused as busy");
                incoming.refuse_busy(stream, &refusers);
                let _ = shared.reports.send(SessionReport {
                    peer,
                    inviter: None,
                    outcome: InviteeOutcome::Refused(Refusal::Busy),
                });
            }
        }
    }
}

/// One connection's task.
pub(super) async fn serve<S, D>(
    stream: S,
    peer: SocketAddr,
    admitted: Admitted,
    shared: Arc<Shared<D>>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
    D: DirectorySource + ?Sized,
{
    let _live = Live::new(&shared.live);
    let clock = shared.clock;
    let ephemeral = EphemeralSecret::generate(&mut rand::rng());
    let invitee = match Invitee::new(shared.config, &shared.identity, ephemeral, clock.now()) {
        Ok(invitee) => Box::new(invitee),
        Err(e) => {
            // The config was validated when the listener started.
            warn!(error = %e, "cannot start a session");
            return;
        }
    };
    debug!("connection accepted");
    let mut machine = InviteeSession::new(invitee, Arc::clone(&shared.directory));
    let (command_tx, command_rx) = oneshot::channel();
    let (withdrawn_tx, withdrawn_rx) = watch::channel(None);
    let Admitted { slot, evicted, .. } = admitted;
    let mut prompter = Prompter {
        shared: &shared,
        peer,
        handshake: Some(slot),
        closing: None,
        evicted_as: None,
        prompt: Some((command_tx, withdrawn_rx)),
        withdrawn: withdrawn_tx,
    };
    // The eviction can only come during the handshake, the command only
    // after it (the prompt holds its sender): the first is the only one.
    let mut stop = shared.stop.clone();
    let signal = async move {
        let stopped = async {
            let answer = stop
                .wait_for(Option::is_some)
                .await
                .map(|s| s.clone().unwrap_or_default());
            match answer {
                Ok(answer) => answer,
                // The listener is gone without stopping: never.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            Ok(permit) = evicted => Signal::Evicted(permit),
            (code, message) = stopped => Signal::Stop(code, message),
            command = command_rx => Signal::Command(command),
        }
    };
    let mut conn = Connection::new(stream, clock, to_std(shared.config.grace));
    drive(&mut conn, &mut machine, &mut prompter, signal).await;
}

/// What comes to a session from outside.
pub(super) enum Signal {
    /// The application's answer to the prompt (an error: the prompt was
    /// dropped).
    Command(Result<Command, oneshot::error::RecvError>),
    /// A newer connection evicted this one from its handshake; the permit
    /// is held until the session's task ends.
    Evicted(OwnedSemaphorePermit),
    /// The listener is shutting down: a prompt is answered with this
    /// error, a handshake is closed.
    Stop(u32, String),
}

/// Answers a prompt with an error code; a message over 255 characters is
/// replaced by an empty one.
pub(super) fn fail(
    invitee: &mut Invitee,
    now: Instant,
    code: u32,
    message: &str,
) -> Result<(), Error> {
    let result = invitee.handle_decision(now, Decision::Fail { code, message });
    if let Err(Error::InvalidArgument(_)) = result {
        return invitee.handle_decision(now, Decision::Fail { code, message: "" });
    }
    result
}

/// Turns a session's events into an [`IncomingInvitation`] and applies the
/// application's answer.
pub(super) struct Prompter<'a, D: ?Sized> {
    shared: &'a Shared<D>,
    peer: SocketAddr,
    /// Held while the connection is in its handshake.
    handshake: Option<Slot>,
    /// Held from an eviction until the task ends.
    closing: Option<OwnedSemaphorePermit>,
    /// The outcome to report for an evicted session.
    evicted_as: Option<InviteeOutcome>,
    /// What the prompt needs, until it is made.
    prompt: Option<(oneshot::Sender<Command>, watch::Receiver<Option<Withdrawn>>)>,
    withdrawn: watch::Sender<Option<Withdrawn>>,
}

impl<D: DirectorySource + ?Sized> Prompter<'_, D> {
    /// A newer connection took this one's place in the handshakes.
    fn evict(
        &mut self,
        machine: &mut InviteeSession<D>,
        now: Instant,
        permit: OwnedSemaphorePermit,
    ) {
        self.closing = Some(permit);
        // Already out of the table.
        self.handshake = None;
        if machine.invitee.outcome().is_some() {
            // It ended on its own meanwhile (or was answered Busy as its
            // Invite came in): nothing to do.
            return;
        }
        let busy = machine.evict(now);
        info!(
            busy_sent = busy,
            "evicted from its handshake by a newer connection"
        );
        self.evicted_as = Some(if busy {
            InviteeOutcome::Refused(Refusal::Busy)
        } else {
            InviteeOutcome::Failed(Error::HandshakeTimeout)
        });
    }

    fn prompt(
        &mut self,
        machine: &mut InviteeSession<D>,
        now: Instant,
        prompt: beckon_core::Prompt,
    ) {
        let inviter = prompt.inviter.fingerprint();
        let Some((command, withdrawn)) = self.prompt.take() else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.shared.prompts).try_acquire_owned() else {
            info!(%inviter, "too many prompts pending: answering busy");
            let _ = machine.invitee.handle_decision(now, Decision::Busy);
            return;
        };
        let (message, data) = machine
            .invitee
            .invitation()
            .map(|i| (i.message().to_owned(), i.data().to_vec()))
            .unwrap_or_default();
        let incoming = IncomingInvitation {
            inviter: prompt.inviter,
            is_contact: prompt.is_contact,
            application: prompt.application,
            message,
            data,
            deadline: self.shared.clock.to_tokio(prompt.deadline),
            peer: self.peer,
            command: Some(command),
            withdrawn,
            _permit: Some(permit),
        };
        info!(%inviter, application = %prompt.application, is_contact = prompt.is_contact, "prompting");
        if self.shared.prompt_tx.try_send(incoming).is_err() {
            // The listener is gone (the queue cannot be full: every queued
            // prompt holds a permit). Nobody can answer: busy.
            let _ = machine.invitee.handle_decision(now, Decision::Busy);
        }
    }
}

impl<D: DirectorySource + ?Sized> Handler<InviteeSession<D>> for Prompter<'_, D> {
    type Command = Signal;

    fn on_event(&mut self, machine: &mut InviteeSession<D>, now: Instant, event: InviteeEvent) {
        match event {
            InviteeEvent::Prompt(prompt) => {
                // Past the policy: no longer a handshake. If a newer
                // connection evicted this one just before, the eviction
                // stands (its place is taken): answer Busy, authenticated.
                let evicted = self.handshake.take().is_some_and(|mut slot| !slot.leave());
                if evicted {
                    info!("evicted as its invitation came in: answering busy");
                    let _ = machine.invitee.handle_decision(now, Decision::Busy);
                    return;
                }
                self.prompt(machine, now, prompt);
            }
            InviteeEvent::Finished(outcome) => {
                // An evicted session's invitee ended as on a closed
                // connection; report the eviction instead.
                let outcome = self.evicted_as.take().unwrap_or(outcome);
                let inviter = machine.invitee.inviter();
                let who = inviter.map(|k| k.fingerprint());
                let withdrawn = match outcome {
                    InviteeOutcome::Expired => Some(Withdrawn::Expired),
                    InviteeOutcome::Cancelled => Some(Withdrawn::Cancelled),
                    InviteeOutcome::Failed(e) => Some(Withdrawn::Failed(e)),
                    _ => None,
                };
                if withdrawn.is_some() {
                    self.withdrawn.send_replace(withdrawn);
                }
                match outcome {
                    InviteeOutcome::Failed(
                        e @ (Error::HandshakeTimeout | Error::ConnectionClosed),
                    ) if inviter.is_none() => {
                        debug!(error = %e, "session ended before an invitation")
                    }
                    InviteeOutcome::Failed(e) => {
                        info!(inviter = ?who, error = %e, "session failed")
                    }
                    outcome => info!(inviter = ?who, ?outcome, "session finished"),
                }
                let _ = self.shared.reports.send(SessionReport {
                    peer: self.peer,
                    inviter,
                    outcome,
                });
            }
        }
    }

    fn on_command(&mut self, machine: &mut InviteeSession<D>, now: Instant, signal: Signal) {
        let command = match signal {
            Signal::Evicted(permit) => return self.evict(machine, now, permit),
            Signal::Stop(code, message) => {
                if machine.invitee.is_prompting() {
                    info!(
                        code,
                        "the listener stops: answering the prompt with an error"
                    );
                    let _ = fail(&mut machine.invitee, now, code, &message);
                } else if machine.invitee.outcome().is_none() {
                    let busy = machine.evict(now);
                    info!(busy_sent = busy, "the listener stops: closing a handshake");
                }
                return;
            }
            Signal::Command(command) => command,
        };
        let invitee = &mut machine.invitee;
        match command {
            Ok(Command::Accept { message, reply }) => {
                let result = invitee.handle_decision(now, Decision::Accept { message: &message });
                if let Err(Error::InvalidArgument(_)) = result {
                    let _ = invitee.handle_decision(now, Decision::Decline { message: "" });
                }
                let _ = reply.send(result);
            }
            Ok(Command::Decline { message, reply }) => {
                let mut result =
                    invitee.handle_decision(now, Decision::Decline { message: &message });
                if let Err(Error::InvalidArgument(_)) = result {
                    result = invitee.handle_decision(now, Decision::Decline { message: "" });
                }
                let _ = reply.send(result);
            }
            Ok(Command::Fail {
                code,
                message,
                reply,
            }) => {
                let _ = reply.send(fail(invitee, now, code, &message));
            }
            Err(_) => {
                if invitee.is_prompting() {
                    debug!("prompt dropped unanswered: declining");
                    let _ = invitee.handle_decision(now, Decision::Decline { message: "" });
                }
            }
        }
    }

    fn on_written(&mut self, machine: &mut InviteeSession<D>, _now: Instant) {
        if machine.has_answered_hello() {
            if let Some(slot) = &mut self.handshake {
                slot.spoke();
            }
        }
    }
}
