//! Listening: an accept loop that gives every connection its own
//! [`Invitee`] task, with bounds on handshakes and prompts.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use beckon_core::{
    refusal_frame, Config, Decision, EphemeralSecret, Error, Identity, Invitee, InviteeEvent,
    InviteeOutcome, PublicKey, Refusal,
};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc, oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn, Instrument};

use crate::clock::{to_std, Clock};
use crate::driver::{drive, Connection, DirectorySource, Handler, InviteeSession};
use crate::prompt::{Command, IncomingInvitation, Withdrawn};

/// How long the accept loop pauses after a failed accept (out of file
/// descriptors, say) so it does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a connection refused without a session (when no handshake can
/// be evicted) that is not TCP may take to receive its Busy frame.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// How many session reports a slow subscriber may fall behind by before it
/// misses some.
const REPORTS: usize = 256;

/// The listener's bounds and timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Connections in their handshake at once (default 64): a connection
    /// counts from its acceptance until its Invite passes the policy (or it
    /// ends).
    ///
    /// When all are taken, a new connection is still served: it **evicts**
    /// one connection in its handshake, which ends at once. If the evicted
    /// one has not sent a complete Hello yet, it gets the clear Busy
    /// refusal in place of its Proof and reports `Refused(Busy)` (its
    /// inviter, if real, sees `Refused { Busy, authenticated: false }`);
    /// after its Hello it is closed, exactly as at the handshake timeout,
    /// and reports `Failed(HandshakeTimeout)`. Stalled handshakes are also
    /// dropped at the config's handshake timeout.
    ///
    /// **Which one:** the oldest connection that has not had its Hello
    /// answered (a *silent* one) among the older half of the table (the
    /// `max_handshakes - max_handshakes / 2` longest in it), else the
    /// oldest of all. So a silent connection is never evicted before
    /// `max_handshakes / 2` newer ones have arrived, and one whose Hello is
    /// in never before `max_handshakes` newer ones have, and then only if
    /// the older half holds no silent connection. The listener evicts at
    /// most once per turn of the tokio scheduler, so that between two
    /// evictions every session reads what has come in (a Hello among it),
    /// and a burst of connections accepted at once cannot evict a real
    /// inviter whose session has not run yet.
    ///
    /// **Why a flood cannot keep a real invitation out:** a real inviter
    /// sends its Hello as soon as it is connected and its Invite one round
    /// trip after the Proof, so its handshake takes a couple of round
    /// trips. Idle or garbage connections can no longer hold the places
    /// until the handshake timeout (64 idle connections reopened every 30
    /// seconds used to keep every invitation out): each newcomer pushes a
    /// stalled one out. Silent connections, which cost an attacker nothing,
    /// go first: against a flood of idle or garbage connections, however
    /// fast and however often reopened, a real inviter is evicted only if
    /// `max_handshakes` newer connections arrive before its Hello, and
    /// never once its Hello is in (unless half the table is real
    /// handshakes). The newer half is spared so that a fresh connection
    /// whose Hello is still in flight is not the next to go even when
    /// every older one has sent a Hello. Only a flood that sends Hellos
    /// too (making this side do a key exchange and a signature for each)
    /// can evict a real handshake, and only by opening `max_handshakes / 2`
    /// connections before its Hello is in, or `max_handshakes` within its
    /// round trips.
    ///
    /// **Refusals:** only when no connection can be evicted does a new one
    /// get the clear Busy refusal without a session: with
    /// `max_handshakes` 0, or while `max_handshakes` evicted connections
    /// are still closing (each closes at once, unless its peer does not
    /// take the five bytes of Busy: then within the grace). Sessions in
    /// their handshake and evicted sessions still closing are each at most
    /// `max_handshakes`.
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
/// [`Invitee`], which consults the [`Directory`] on every input (so a
/// contact blocked mid-handshake is refused). Invitations that pass the
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
        D: DirectorySource + ?Sized,
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
        D: DirectorySource + ?Sized,
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
        D: DirectorySource + ?Sized,
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
        D: DirectorySource + ?Sized,
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

/// Counts a session task while it runs.
struct Live(watch::Sender<usize>);

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
    /// Set when the listener stops: the error to answer prompts with.
    stop: watch::Receiver<Option<(u32, String)>>,
    /// How many session tasks are running.
    live: watch::Sender<usize>,
}

/// A source of connections.
trait Incoming: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection; `None` when the source is closed.
    fn accept(
        &mut self,
    ) -> impl Future<Output = Option<io::Result<(Self::Stream, SocketAddr)>>> + Send;
    /// Sends the clear Busy refusal on a connection that gets no session
    /// and closes it, without blocking the accept loop.
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

/// The connections in their handshake, oldest first, and the permits of
/// the evicted ones still closing.
struct Handshakes {
    table: Arc<Mutex<Table>>,
    closing: Arc<Semaphore>,
}

struct Table {
    max: usize,
    next_id: u64,
    /// Oldest first; ids increase, so it is sorted by id. At most `max`.
    live: VecDeque<InFlight>,
}

/// One connection in its handshake, as the accept loop sees it.
struct InFlight {
    id: u64,
    peer: SocketAddr,
    /// Whether its Hello is in (the invitee has answered it).
    spoke: bool,
    /// Tells the session it is evicted, with the permit it holds while it
    /// closes. Dropped (which the session ignores) when it leaves.
    evict: oneshot::Sender<OwnedSemaphorePermit>,
}

/// A new connection's place in the handshakes.
struct Admitted {
    slot: Slot,
    /// Fires when the connection is evicted.
    evicted: oneshot::Receiver<OwnedSemaphorePermit>,
    /// Whether it took the place of another.
    evicting: bool,
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    // Nothing panics while the table is locked; a poisoned table is sound.
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Handshakes {
    fn new(max: usize, max_closing: usize) -> Self {
        Handshakes {
            table: Arc::new(Mutex::new(Table {
                max,
                next_id: 0,
                live: VecDeque::new(),
            })),
            closing: Arc::new(Semaphore::new(max_closing)),
        }
    }

    /// Takes a place for a new connection from `peer`, evicting one (see
    /// [`Table::victim`]) when all are taken. `None` when none can be
    /// evicted: there are no places, or too many evicted connections are
    /// still closing.
    fn admit(&self, peer: SocketAddr) -> Option<Admitted> {
        let (evict, evicted) = oneshot::channel();
        let (id, victim) = {
            let mut table = lock(&self.table);
            let victim = if table.live.len() < table.max {
                None
            } else {
                let index = table.victim()?;
                let permit = Arc::clone(&self.closing).try_acquire_owned().ok()?;
                Some((table.live.remove(index)?, permit))
            };
            let id = table.next_id;
            table.next_id += 1;
            table.live.push_back(InFlight {
                id,
                peer,
                spoke: false,
                evict,
            });
            (id, victim)
        };
        let evicting = victim.is_some();
        if let Some((victim, permit)) = victim {
            info!(
                %peer, evicted = %victim.peer, hello = victim.spoke,
                "handshakes full: evicting a stalled one"
            );
            // Fails only if that session has just ended: the permit returns.
            let _ = victim.evict.send(permit);
        }
        Some(Admitted {
            slot: Slot {
                id,
                spoke: false,
                table: Some(Arc::clone(&self.table)),
            },
            evicted,
            evicting,
        })
    }
}

impl Table {
    /// Which connection a newcomer evicts from the full table: the oldest
    /// that has not sent its Hello among the older half, else the oldest.
    /// The policy and its reasons are on [`ListenerConfig::max_handshakes`].
    fn victim(&self) -> Option<usize> {
        if self.live.is_empty() {
            return None;
        }
        let older = self.live.len() - self.live.len() / 2;
        Some(
            self.live
                .iter()
                .take(older)
                .position(|c| !c.spoke)
                .unwrap_or(0),
        )
    }

    fn find(&self, id: u64) -> Option<usize> {
        self.live.binary_search_by_key(&id, |c| c.id).ok()
    }
}

/// A session's place in the handshakes, held while it is in its handshake.
/// Dropping it leaves the table.
struct Slot {
    id: u64,
    spoke: bool,
    /// `None` once it has left.
    table: Option<Arc<Mutex<Table>>>,
}

impl Slot {
    /// The session has answered a Hello: evict silent connections first.
    fn spoke(&mut self) {
        if self.spoke {
            return;
        }
        self.spoke = true;
        if let Some(table) = &self.table {
            let mut table = lock(table);
            if let Some(c) = table.find(self.id).and_then(|i| table.live.get_mut(i)) {
                c.spoke = true;
            }
        }
    }

    /// Leaves the table. False if the connection was evicted before: the
    /// eviction is decided under the table's lock, so it and the leaving
    /// agree on which came first.
    fn leave(&mut self) -> bool {
        let Some(table) = self.table.take() else {
            return false;
        };
        let mut table = lock(&table);
        match table.find(self.id) {
            Some(i) => {
                // Dropping the entry drops its eviction sender.
                table.live.remove(i);
                true
            }
            None => false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.leave();
    }
}

async fn accept_loop<I, D>(
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
async fn serve<S, D>(stream: S, peer: SocketAddr, admitted: Admitted, shared: Arc<Shared<D>>)
where
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
enum Signal {
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
fn fail(invitee: &mut Invitee, now: Instant, code: u32, message: &str) -> Result<(), Error> {
    let result = invitee.handle_decision(now, Decision::Fail { code, message });
    if let Err(Error::InvalidArgument(_)) = result {
        return invitee.handle_decision(now, Decision::Fail { code, message: "" });
    }
    result
}

/// Turns a session's events into an [`IncomingInvitation`] and applies the
/// application's answer.
struct Prompter<'a, D: ?Sized> {
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
