//! The accept loop, and each connection's task: one [`Invitee`] driven
//! over its stream, its prompt handed to the application, its answer
//! applied.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use beckon_core::{
    Config, Decision, Directory, EphemeralSecret, Error, Identity, Invitee, InviteeEvent,
    InviteeOutcome, Message, Refusal, SessionError,
};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, info, warn, Instrument};

use super::admission::{Admitted, Handshakes, Slot};
use super::incoming::Incoming;
use super::SessionReport;
use crate::clock::{to_std, Clock};
use crate::driver::{drive, Connection, Handler};
use crate::prompt::{AnswerError, Command, IncomingInvitation, Withdrawn};

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
pub(super) struct Shared<D> {
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
    D: Directory + Send + Sync + 'static,
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
    D: Directory + Send + Sync + 'static,
{
    let _live = Live::new(&shared.live);
    let clock = shared.clock;
    let ephemeral = EphemeralSecret::generate(&mut rand::rng());
    // Boxed: the invitee holds a 16 KiB buffer for the invitation.
    let mut invitee = match Invitee::new(shared.config, &shared.identity, ephemeral, clock.now()) {
        Ok(invitee) => Box::new(invitee),
        Err(e) => {
            // The config was validated when the listener started.
            warn!(error = %e, "cannot start a session");
            return;
        }
    };
    debug!("connection accepted");
    let (command_tx, command_rx) = oneshot::channel();
    let (withdrawn_tx, withdrawn_rx) = watch::channel(None);
    let Admitted { slot, evicted, .. } = admitted;
    let mut prompter = Prompter {
        shared: &shared,
        peer,
        handshake: Some(slot),
        closing: None,
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
    let directory = Arc::clone(&shared.directory);
    drive(&mut conn, &mut *invitee, &*directory, &mut prompter, signal).await;
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

/// Turns a session's events into an [`IncomingInvitation`] and applies the
/// application's answer.
pub(super) struct Prompter<'a, D> {
    shared: &'a Shared<D>,
    peer: SocketAddr,
    /// Held while the connection is in its handshake.
    handshake: Option<Slot>,
    /// Held from an eviction until the task ends.
    closing: Option<OwnedSemaphorePermit>,
    /// What the prompt needs, until it is made.
    prompt: Option<(oneshot::Sender<Command>, watch::Receiver<Option<Withdrawn>>)>,
    withdrawn: watch::Sender<Option<Withdrawn>>,
}

impl<D: Directory + Send + Sync + 'static> Prompter<'_, D> {
    /// A newer connection took this one's place in the handshakes.
    fn evict(&mut self, invitee: &mut Invitee, now: Instant, permit: OwnedSemaphorePermit) {
        self.closing = Some(permit);
        // Already out of the table.
        self.handshake = None;
        if invitee.outcome().is_some() {
            // It ended on its own meanwhile (or was answered Busy as its
            // Invite came in): nothing to do.
            return;
        }
        invitee.evict(now);
        info!(
            outcome = ?invitee.outcome(),
            "evicted from its handshake by a newer connection"
        );
    }

    fn prompt(&mut self, invitee: &mut Invitee, now: Instant, prompt: beckon_core::Prompt) {
        let inviter = prompt.inviter.fingerprint();
        let Some((command, withdrawn)) = self.prompt.take() else {
            return;
        };
        let Ok(permit) = Arc::clone(&self.shared.prompts).try_acquire_owned() else {
            info!(%inviter, "too many prompts pending: answering busy");
            let _ = invitee.handle_decision(now, Decision::Busy);
            return;
        };
        let (message, data) = invitee
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
            let _ = invitee.handle_decision(now, Decision::Busy);
        }
    }
}

/// The application's answer, with a message that has already been
/// checked or replaced, and what to tell the application.
fn answer(invitee: &mut Invitee, now: Instant, decision: Decision<'_>) -> Result<(), AnswerError> {
    invitee.handle_decision(now, decision).map_err(|e| {
        AnswerError::Withdrawn(match (e, invitee.outcome()) {
            (Error::Expired, _) => Withdrawn::Expired,
            (Error::Cancelled, _) => Withdrawn::Cancelled,
            (_, Some(InviteeOutcome::Failed(e))) => Withdrawn::Failed(e),
            // Over for another reason (it was evicted, say): the
            // connection is gone for this prompt.
            _ => Withdrawn::Failed(SessionError::ConnectionClosed),
        })
    })
}

/// A message for an answer that must go out whatever the application
/// gave: one over 255 characters is replaced by an empty one.
fn or_empty(message: &str) -> Message<'_> {
    Message::new(message).unwrap_or(Message::EMPTY)
}

impl<D: Directory + Send + Sync + 'static> Handler<Invitee> for Prompter<'_, D> {
    type Command = Signal;

    fn on_event(&mut self, invitee: &mut Invitee, now: Instant, event: InviteeEvent) {
        match event {
            InviteeEvent::Prompt(prompt) => {
                // Past the policy: no longer a handshake. If a newer
                // connection evicted this one just before, the eviction
                // stands (its place is taken): answer Busy, authenticated.
                let evicted = self.handshake.take().is_some_and(|mut slot| !slot.leave());
                if evicted {
                    info!("evicted as its invitation came in: answering busy");
                    invitee.evict(now);
                    return;
                }
                self.prompt(invitee, now, prompt);
            }
            InviteeEvent::Finished(outcome) => {
                let inviter = invitee.inviter();
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
                        e @ (SessionError::HandshakeTimeout | SessionError::ConnectionClosed),
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

    fn on_command(&mut self, invitee: &mut Invitee, now: Instant, signal: Signal) {
        let command = match signal {
            Signal::Evicted(permit) => return self.evict(invitee, now, permit),
            Signal::Stop(code, message) => {
                if invitee.is_prompting() {
                    info!(
                        code,
                        "the listener stops: answering the prompt with an error"
                    );
                    let message = or_empty(&message);
                    let _ = answer(invitee, now, Decision::Error { code, message });
                } else if invitee.outcome().is_none() {
                    invitee.evict(now);
                    info!(outcome = ?invitee.outcome(), "the listener stops: closing a handshake");
                }
                return;
            }
            Signal::Command(command) => command,
        };
        match command {
            Ok(Command {
                choice,
                message,
                reply,
            }) => {
                // An accept's message was checked before it was sent.
                let decision = choice.decision(or_empty(&message));
                let _ = reply.send(answer(invitee, now, decision));
            }
            Err(_) => {
                if invitee.is_prompting() {
                    debug!("prompt dropped unanswered: declining");
                    let _ = answer(
                        invitee,
                        now,
                        Decision::Decline {
                            message: Message::EMPTY,
                        },
                    );
                }
            }
        }
    }

    fn on_written(&mut self, _invitee: &mut Invitee, _now: Instant) {
        // Bytes went out, and an invitee's first bytes are its answer to a
        // complete Hello (the Proof, or a clear refusal).
        if let Some(slot) = &mut self.handshake {
            slot.spoke();
        }
    }
}
