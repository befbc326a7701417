//! Listening: an accept loop that gives every connection its own
//! [`Invitee`] task, with bounds on handshakes and prompts.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use beckon_core::{
    refusal_frame, Config, Decision, Directory, EphemeralSecret, Error, Identity, Invitee,
    InviteeEvent, InviteeOutcome, PublicKey, Refusal,
};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn, Instrument};

use crate::clock::{to_std, Clock};
use crate::driver::{drive, Connection, Handler, InviteeSession};
use crate::prompt::{Command, IncomingInvitation, Withdrawn};

/// How long the accept loop pauses after a failed accept (out of file
/// descriptors, say) so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a refused connection that is not TCP may take to receive its
/// Busy frame.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// How many session reports a slow subscriber may fall behind by before it
/// misses some.
const REPORTS: usize = 256;

/// The listener's bounds and timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Connections in their handshake at once (default 64): a connection
    /// counts from its acceptance until its Invite passes the policy (or it
    /// ends). Beyond it a new connection gets the clear Busy refusal and is
    /// closed. Stalled handshakes are dropped at the config's handshake
    /// timeout, so idle connections cannot hold the slots for long.
    pub max_handshakes: usize,
    /// Invitations waiting for the user at once (default 16): an
    /// [`IncomingInvitation`] counts until it is answered or dropped.
    /// Beyond it an invitation is answered Busy (authenticated).
    pub max_prompts: usize,
    /// The timers (response timeout: how long the user has; handshake
    /// timeout; grace, also used as the linger to flush a last answer).
    pub config: Config,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            max_handshakes: 64,
            max_prompts: 16,
            config: Config::default(),
        }
    }
}

/// How one incoming connection ended, for logs and displays. Every
/// connection the listener accepts gives exactly one report, including
/// those refused as busy before any handshake (with `inviter: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionReport {
    /// The inviter's address.
    pub peer: SocketAddr,
    /// The inviter's proven key, if its Invite arrived.
    pub inviter: Option<PublicKey>,
    /// How the session ended.
    pub outcome: InviteeOutcome,
}

/// Listens for invitations.
///
/// Every accepted connection gets its own task running one core
/// [`Invitee`], which consults the [`Directory`] on every input (so a
/// contact blocked mid-handshake is refused). Invitations that pass the
/// policy come out of [`next`](Self::next) as [`IncomingInvitation`]s.
/// Nothing grows without bound: at most `max_handshakes` connections in
/// their handshake (more are refused Busy, in clear), at most
/// `max_prompts` invitations waiting for the user (more are answered Busy),
/// and every session ends by its timers. Dropping the listener stops
/// accepting; sessions under way end on their own.
///
/// Each session ends with a [`SessionReport`] (see
/// [`subscribe`](Self::subscribe)) and `tracing` events in a span named
/// `invitee` with the peer's address.
#[derive(Debug)]
pub struct Listener {
    local_addr: SocketAddr,
    prompts: mpsc::Receiver<IncomingInvitation>,
    reports: broadcast::Sender<SessionReport>,
    accept: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Listener {
    /// Binds a TCP listener to `addr` (for example `[::]:7464`) and starts
    /// accepting in a background task. Must be called within a tokio
    /// runtime.
    ///
    /// Fails like `std::net::TcpListener::bind`, with `InvalidInput` for a
    /// config with a zero timeout, and with an error outside a runtime.
    pub fn bind<D>(
        addr: impl ToSocketAddrs,
        identity: Identity,
        directory: Arc<D>,
        cfg: ListenerConfig,
    ) -> io::Result<Listener>
    where
        D: Directory + Send + Sync + ?Sized + 'static,
    {
        in_runtime()?;
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        Listener::from_tcp(
            TcpListener::from_std(std_listener)?,
            identity,
            directory,
            cfg,
        )
    }

    /// Serves an already bound tokio TCP listener.
    pub fn from_tcp<D>(
        listener: TcpListener,
        identity: Identity,
        directory: Arc<D>,
        cfg: ListenerConfig,
    ) -> io::Result<Listener>
    where
        D: Directory + Send + Sync + ?Sized + 'static,
    {
        let local_addr = listener.local_addr()?;
        Listener::start(listener, local_addr, identity, directory, cfg)
    }

    /// Serves connections handed in over a channel, each with the peer's
    /// address: in-memory streams (`tokio::io::duplex`) for tests, or a
    /// simulated network. `local_addr` is what
    /// [`local_addr`](Self::local_addr) reports. A connection beyond
    /// `max_handshakes` gets the Busy frame from a short-lived task (at most
    /// `max_handshakes` of those at once; beyond that it is dropped).
    pub fn from_channel<S, D>(
        local_addr: SocketAddr,
        incoming: mpsc::Receiver<(S, SocketAddr)>,
        identity: Identity,
        directory: Arc<D>,
        cfg: ListenerConfig,
    ) -> io::Result<Listener>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        D: Directory + Send + Sync + ?Sized + 'static,
    {
        Listener::start(incoming, local_addr, identity, directory, cfg)
    }

    fn start<I, D>(
        incoming: I,
        local_addr: SocketAddr,
        identity: Identity,
        directory: Arc<D>,
        cfg: ListenerConfig,
    ) -> io::Result<Listener>
    where
        I: Incoming,
        D: Directory + Send + Sync + ?Sized + 'static,
    {
        in_runtime()?;
        cfg.config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let max_handshakes = cfg.max_handshakes.min(Semaphore::MAX_PERMITS);
        let max_prompts = cfg.max_prompts.min(Semaphore::MAX_PERMITS);
        let (prompt_tx, prompts) = mpsc::channel(max_prompts.max(1));
        let (reports, _) = broadcast::channel(REPORTS);
        let shared = Arc::new(Shared {
            identity,
            directory,
            config: cfg.config,
            clock: Clock::new(),
            prompts: Arc::new(Semaphore::new(max_prompts)),
            prompt_tx,
            reports: reports.clone(),
        });
        let accept = tokio::spawn(
            accept_loop(
                incoming,
                Arc::new(Semaphore::new(max_handshakes)),
                Arc::new(Semaphore::new(max_handshakes)),
                shared,
            )
            .instrument(tracing::info_span!("listener", %local_addr)),
        );
        Ok(Listener {
            local_addr,
            prompts,
            reports,
            accept,
        })
    }

    /// The address the listener is bound to (with the real port when bound
    /// to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next invitation waiting for the user, or `None` once the
    /// listener can produce no more (its source of connections closed and
    /// every session ended). Invitations withdrawn while they waited in the
    /// queue are skipped. Cancel-safe.
    pub async fn next(&mut self) -> Option<IncomingInvitation> {
        loop {
            let invitation = self.prompts.recv().await?;
            match invitation.is_withdrawn() {
                Some(why) => debug!(peer = %invitation.peer, %why, "skipping a withdrawn prompt"),
                None => return Some(invitation),
            }
        }
    }

    /// Reports of how each session ended, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SessionReport> {
        self.reports.subscribe()
    }
}

fn in_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|e| io::Error::other(format!("a Beckon listener needs a tokio runtime: {e}")))
}

/// What every session shares.
struct Shared<D: ?Sized> {
    identity: Identity,
    config: Config,
    clock: Clock,
    prompts: Arc<Semaphore>,
    prompt_tx: mpsc::Sender<IncomingInvitation>,
    reports: broadcast::Sender<SessionReport>,
    directory: Arc<D>,
}

/// A source of connections.
trait Incoming: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection; `None` when the source is closed.
    fn accept(
        &mut self,
    ) -> impl Future<Output = Option<io::Result<(Self::Stream, SocketAddr)>>> + Send;
    /// Sends the clear Busy refusal on a connection and closes it, without
    /// blocking the accept loop.
    fn refuse_busy(&self, stream: Self::Stream, refusers: &Arc<Semaphore>);
}

impl Incoming for TcpListener {
    type Stream = TcpStream;

    async fn accept(&mut self) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        let accepted = TcpListener::accept(self).await;
        if let Ok((stream, _)) = &accepted {
            let _ = stream.set_nodelay(true);
        }
        Some(accepted)
    }

    /// No task: the four bytes fit any fresh socket buffer. Whatever the
    /// peer already sent (its Hello) is read first and the write side is
    /// shut down before closing, so the peer gets the frame and a clean
    /// end of stream rather than a reset.
    fn refuse_busy(&self, stream: TcpStream, _: &Arc<Semaphore>) {
        let mut scratch = [0u8; 512];
        for _ in 0..4 {
            match stream.try_read(&mut scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let _ = stream.try_write(&refusal_frame(Refusal::Busy));
        if let Ok(stream) = stream.into_std() {
            let _ = stream.shutdown(std::net::Shutdown::Write);
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Incoming
    for mpsc::Receiver<(S, SocketAddr)>
{
    type Stream = S;

    async fn accept(&mut self) -> Option<io::Result<(S, SocketAddr)>> {
        self.recv().await.map(Ok)
    }

    fn refuse_busy(&self, mut stream: S, refusers: &Arc<Semaphore>) {
        let Ok(permit) = Arc::clone(refusers).try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(REFUSAL_LINGER, async {
                stream.write_all(&refusal_frame(Refusal::Busy)).await?;
                stream.shutdown().await?;
                let mut sink = [0u8; 512];
                while stream.read(&mut sink).await? > 0 {}
                Ok::<(), io::Error>(())
            })
            .await;
        });
    }
}

async fn accept_loop<I, D>(
    mut incoming: I,
    handshakes: Arc<Semaphore>,
    refusers: Arc<Semaphore>,
    shared: Arc<Shared<D>>,
) where
    I: Incoming,
    D: Directory + Send + Sync + ?Sized + 'static,
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
        match Arc::clone(&handshakes).try_acquire_owned() {
            Ok(permit) => {
                let session = serve(stream, peer, permit, Arc::clone(&shared));
                tokio::spawn(session.instrument(tracing::info_span!("invitee", %peer)));
            }
            Err(_) => {
                info!(%peer, "too many handshakes under way: refused as busy");
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
async fn serve<S, D>(
    stream: S,
    peer: SocketAddr,
    handshake: OwnedSemaphorePermit,
    shared: Arc<Shared<D>>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
    D: Directory + Send + Sync + ?Sized + 'static,
{
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
    let mut machine = InviteeSession {
        invitee,
        directory: Arc::clone(&shared.directory),
    };
    let (command_tx, command_rx) = oneshot::channel();
    let (withdrawn_tx, withdrawn_rx) = watch::channel(None);
    let mut prompter = Prompter {
        shared: &shared,
        peer,
        handshake: Some(handshake),
        prompt: Some((command_tx, withdrawn_rx)),
        withdrawn: withdrawn_tx,
    };
    let mut conn = Connection::new(stream, clock, to_std(shared.config.grace));
    drive(&mut conn, &mut machine, &mut prompter, command_rx).await;
}

/// Turns a session's events into an [`IncomingInvitation`] and applies the
/// application's answer.
struct Prompter<'a, D: ?Sized> {
    shared: &'a Shared<D>,
    peer: SocketAddr,
    /// Held while the connection is in its handshake.
    handshake: Option<OwnedSemaphorePermit>,
    /// What the prompt needs, until it is made.
    prompt: Option<(oneshot::Sender<Command>, watch::Receiver<Option<Withdrawn>>)>,
    withdrawn: watch::Sender<Option<Withdrawn>>,
}

impl<D: Directory + ?Sized> Prompter<'_, D> {
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

impl<D: Directory + ?Sized> Handler<InviteeSession<D>> for Prompter<'_, D> {
    type Command = Result<Command, oneshot::error::RecvError>;

    fn on_event(&mut self, machine: &mut InviteeSession<D>, now: Instant, event: InviteeEvent) {
        match event {
            InviteeEvent::Prompt(prompt) => {
                // Past the policy: no longer a handshake.
                self.handshake = None;
                self.prompt(machine, now, prompt);
            }
            InviteeEvent::Finished(outcome) => {
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

    fn on_command(
        &mut self,
        machine: &mut InviteeSession<D>,
        now: Instant,
        command: Self::Command,
    ) {
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
            Err(_) => {
                if invitee.is_prompting() {
                    debug!("prompt dropped unanswered: declining");
                    let _ = invitee.handle_decision(now, Decision::Decline { message: "" });
                }
            }
        }
    }
}
