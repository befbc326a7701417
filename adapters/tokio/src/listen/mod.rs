//! Listening: an accept loop that gives every connection its own
//! `Invitee` task, with bounds on handshakes and prompts.
//!
//! * this module: the public API ([`Listener`], [`ListenerConfig`],
//!   [`SessionReport`], [`StopHandle`]);
//! * `incoming`: where connections come from (TCP, or a channel);
//! * `admission`: the handshake table (which connection a newcomer
//!   evicts), pure and unit-tested;
//! * `serve`: the accept loop and each connection's task.

mod admission;
mod incoming;
mod serve;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use beckon_core::{Config, Identity, InviteeOutcome, PublicKey};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc, watch, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, Instrument};

use crate::clock::Clock;
use crate::prompt::IncomingInvitation;
use admission::Handshakes;
use beckon_core::Directory;
use incoming::Incoming;
use serve::{accept_loop, Shared};

/// How many session reports a slow subscriber may fall behind by before it
/// misses some.
const REPORTS: usize = 256;

/// The listener's bounds and timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Connections in their handshake at once (default 64), from their
    /// acceptance until their Invite passes the policy.
    ///
    /// When all are taken, a newcomer **evicts** one
    /// ([`Invitee::evict`](beckon_core::Invitee::evict), reported as
    /// `InviteeOutcome::Evicted`): the oldest that has not had its Hello
    /// answered among the older half of the table, else the oldest of all,
    /// at most one per turn of the scheduler. So a flood of idle or garbage
    /// connections cannot keep a real inviter out; a flood of Hellos can
    /// (see the README's "Floods"). Only when nothing can be evicted (0, or
    /// as many evicted connections still closing) is a newcomer refused
    /// Busy in clear without a session.
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
/// those refused as busy before any handshake and those evicted from a
/// full handshake table (see [`ListenerConfig::max_handshakes`]):
/// `Refused(Busy)` when the clear Busy was sent, `Failed(HandshakeTimeout)`
/// when the connection was closed after its Proof, both with
/// `inviter: None`.
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
/// [`Invitee`](beckon_core::Invitee), which asks the [`Directory`] its
/// policy at the Hello and its facts once at the Invite, each from one view
/// (so a contact blocked mid-handshake is refused). Invitations that pass the
/// policy come out of [`next`](Self::next) as [`IncomingInvitation`]s.
/// Nothing grows without bound: at most `max_handshakes` connections in
/// their handshake (a new connection beyond them evicts a stalled one,
/// preferring those that have not sent a Hello, which get a clear Busy:
/// see [`ListenerConfig::max_handshakes`] for the policy and why a flood
/// of idle or garbage connections cannot keep a real invitation out), at
/// most `max_handshakes` evicted connections still closing (beyond them a
/// new connection is refused Busy, in clear), at most `max_prompts`
/// invitations waiting for the user (more are answered Busy), and every
/// session ends by its timers. Dropping the listener stops accepting;
/// sessions under way end on their own.
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
    /// Tells every session the listener stops, with the answer to give.
    stop: Arc<watch::Sender<Option<(u32, String)>>>,
    /// How many session tasks are running.
    live: watch::Receiver<usize>,
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
        D: Directory + Send + Sync + 'static,
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
        D: Directory + Send + Sync + 'static,
    {
        let local_addr = listener.local_addr()?;
        Listener::start(listener, local_addr, identity, directory, cfg)
    }

    /// Serves connections handed in over a channel, each with the peer's
    /// address: in-memory streams (`tokio::io::duplex`) for tests, or a
    /// simulated network. `local_addr` is what
    /// [`local_addr`](Self::local_addr) reports. A connection refused
    /// without a session (when no handshake can be evicted) gets the Busy
    /// frame from a short-lived task (at most `max_handshakes`, and at
    /// least one, of those at once; beyond that it is dropped).
    pub fn from_channel<S, D>(
        local_addr: SocketAddr,
        incoming: mpsc::Receiver<(S, SocketAddr)>,
        identity: Identity,
        directory: Arc<D>,
        cfg: ListenerConfig,
    ) -> io::Result<Listener>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        D: Directory + Send + Sync + 'static,
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
        D: Directory + Send + Sync + 'static,
    {
        in_runtime()?;
        cfg.config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let max_closing = cfg.max_handshakes.min(Semaphore::MAX_PERMITS);
        let max_prompts = cfg.max_prompts.min(Semaphore::MAX_PERMITS);
        let (prompt_tx, prompts) = mpsc::channel(max_prompts.max(1));
        let (reports, _) = broadcast::channel(REPORTS);
        let (stop, stop_rx) = watch::channel(None);
        let stop = Arc::new(stop);
        let (live_tx, live) = watch::channel(0);
        let shared = Arc::new(Shared {
            stop: stop_rx,
            live: live_tx,
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
                Handshakes::new(cfg.max_handshakes, max_closing),
                // At least one, so that with no handshakes at all a refused
                // connection still hears Busy.
                Arc::new(Semaphore::new(max_closing.max(1))),
                shared,
            )
            .instrument(tracing::info_span!("listener", %local_addr)),
        );
        Ok(Listener {
            local_addr,
            prompts,
            reports,
            accept,
            stop,
            live,
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

    /// Stops the listener cleanly: no new connection is accepted, every
    /// invitation waiting for the user (queued here, or held by the
    /// application and not yet answered) is answered with the error
    /// `code` and `message` (protocol §9.3: `Response::ERROR_STOPPED`,
    /// "stopped listening"), every connection still in its handshake is
    /// closed (with Busy where it can be said), and then this waits, at
    /// most `grace`, until every session has written its last frame and
    /// ended. Answers the application already gave (`accept`, `decline`,
    /// `fail`) stand.
    ///
    /// Call it before the process exits, so that no inviter is left
    /// waiting for an answer that will not come.
    pub async fn shutdown(mut self, code: u32, message: &str, grace: Duration) {
        let handle = self.stop_handle();
        handle.stop(code, message);
        // Queued prompts: their sessions answer them on the stop signal,
        // which comes before their command senders are dropped here.
        self.prompts.close();
        while let Ok(queued) = self.prompts.try_recv() {
            drop(queued);
        }
        handle.wait(grace).await;
    }

    /// A handle that stops this listener as [`shutdown`](Self::shutdown)
    /// does, without owning it: for an application whose `Listener` and
    /// prompts are held by a task it cannot take them back from (stop
    /// first, so that the prompts it still holds are answered by the
    /// listener and not declined as they drop).
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            accept: self.accept.abort_handle(),
            stop: Arc::clone(&self.stop),
            live: self.live.clone(),
        }
    }
}

/// Stops a [`Listener`] from outside it; see [`Listener::stop_handle`].
#[derive(Debug, Clone)]
pub struct StopHandle {
    accept: tokio::task::AbortHandle,
    stop: Arc<watch::Sender<Option<(u32, String)>>>,
    live: watch::Receiver<usize>,
}

impl StopHandle {
    /// Stops accepting, answers every prompt not yet answered with the
    /// error `code` and `message`, and closes every handshake (see
    /// [`Listener::shutdown`]). Does not wait; a second call changes
    /// nothing.
    pub fn stop(&self, code: u32, message: &str) {
        self.accept.abort();
        self.stop.send_if_modified(|s| {
            if s.is_some() {
                return false;
            }
            *s = Some((code, message.to_owned()));
            true
        });
    }

    /// Waits, at most `grace`, until every session task has ended.
    /// Returns whether they all did.
    pub async fn wait(&self, grace: Duration) -> bool {
        let mut live = self.live.clone();
        tokio::time::timeout(grace, live.wait_for(|n| *n == 0))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// How many sessions are under way.
    pub fn sessions(&self) -> usize {
        *self.live.borrow()
    }
}

fn in_runtime() -> io::Result<()> {
    tokio::runtime::Handle::try_current()
        .map(drop)
        .map_err(|e| io::Error::other(format!("a Beckon listener needs a tokio runtime: {e}")))
}
