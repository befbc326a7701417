//! Inviting: one [`Inviter`] driven over one stream, as an `async fn` whose
//! future is the handle.

use std::net::SocketAddr;
use std::sync::Arc;

use beckon_core::{
    Config, EphemeralSecret, Identity, Invitation, Inviter, InviterEvent, Machine, Output,
    PublicKey, SessionError, Target,
};
use embassy_time::Instant;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tracing::{debug, Instrument};

use crate::clock::{to_std, Clock};
use crate::driver::{drive, Connection, Handler};
use crate::outcome::{Answer, InviteError};

/// Options of one invitation.
#[derive(Debug, Clone, Default)]
pub struct InviteOptions {
    /// The timers (response timeout, handshake timeout, grace).
    pub config: Config,
    /// A handle to cancel the invitation from elsewhere (Ctrl-C).
    pub cancel: Option<CancelToken>,
}

/// A cheap, cloneable handle that cancels an invitation.
///
/// [`cancel`](Self::cancel) works from any thread, before or during the
/// invitation, any number of times. Cancelling follows the reference's three
/// cases (the core decides which applies):
///
/// * before the Invite is sent, the exchange stops and nothing of the
///   invitation reaches the invitee; [`invite`] returns
///   [`SessionError::Cancelled`];
/// * after it is sent and before the answer, a Cancel is sent and [`invite`]
///   keeps driving the connection until the invitee acknowledges it
///   ([`SessionError::Cancelled`]) or an answer that crossed the Cancel arrives
///   (that answer is returned), for at most the config's `grace`;
/// * after the answer, nothing happens.
#[derive(Debug, Clone)]
pub struct CancelToken(Arc<watch::Sender<bool>>);

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        CancelToken(Arc::new(watch::Sender::new(false)))
    }

    /// Cancels every invitation holding a clone of this token.
    pub fn cancel(&self) {
        self.0.send_replace(true);
    }

    /// Whether [`cancel`](Self::cancel) has been called.
    pub fn is_cancelled(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the token is cancelled.
    pub async fn cancelled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as `self`, so this cannot fail.
        let _ = rx.wait_for(|cancelled| *cancelled).await;
    }
}

/// How an invitation is getting on, for a progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The connection is up; the handshake starts.
    Connected,
    /// The responder proved this key (and, when inviting a contact, it is
    /// the contact's). The invitation is being sent.
    Verified {
        /// The key the responder proved.
        responder: PublicKey,
    },
    /// The invitation is written to the connection; the invitee's user is
    /// being asked.
    Waiting {
        /// The key the responder proved.
        responder: PublicKey,
        /// When the invitee's prompt expires, by this side's clock: the
        /// Invite's departure plus the response timeout. An invitee that
        /// has not answered by then answers Expired; the inviter itself
        /// gives up with [`SessionError::Timeout`] one `grace` later.
        deadline: tokio::time::Instant,
    },
}

/// Sends `invitation` to `target` over `stream` (already connected) and
/// returns the authenticated answer.
///
/// The identity proves who invites; `target` is either a contact (the
/// responder must prove that key, else [`SessionError::ContactMismatch`] with the
/// key that did answer, and nothing of the invitation is sent) or
/// [`Target::AnyEndpoint`] (whoever answers is reported in
/// [`Answer::responder`]). `progress` is called with [`Progress::Connected`],
/// then [`Progress::Verified`], then [`Progress::Waiting`].
///
/// # Cancelling
///
/// Through [`InviteOptions::cancel`] (see [`CancelToken`]), or by dropping
/// the future. On drop:
///
/// * if the exchange is already over, nothing happens;
/// * else the core's `handle_cancel` runs at once. If that leaves nothing to
///   send (the Invite had not been sent: the reference's first case), the
///   connection is simply closed and the invitee never sees the invitation;
/// * else (the Invite was sent) a small task is spawned on the current tokio
///   runtime that owns the connection and the inviter: it writes whatever
///   was still unwritten, then the Cancel, and keeps driving the core until
///   the invitee's acknowledgement, a crossing answer, or the `grace`
///   period, then closes. The invitee withdraws its prompt as *cancelled*.
///   When dropped outside a tokio runtime, the connection is just closed;
///   the invitee then withdraws its prompt as a lost connection.
///
/// # Errors
///
/// [`InviteError::Failed`] with how the core's session ended, a
/// [`SessionError`] (refused, contact mismatch, timeout, cancelled,
/// handshake timeout, protocol error); [`InviteError::Invalid`] for an
/// invitation that could not start (a zero timeout, data over the limit);
/// [`InviteError::Io`] when the stream fails. (The `beckon` command maps
/// each to an exit code: `beckon_desktop::exit::for_invite`.)
pub async fn invite<S>(
    stream: S,
    identity: &Identity,
    target: Target,
    invitation: &Invitation<'_>,
    options: InviteOptions,
    mut progress: impl FnMut(Progress) + Send,
) -> Result<Answer, InviteError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let clock = Clock::new();
    let config = options.config;
    let ephemeral = EphemeralSecret::generate(&mut rand::rng());
    let inviter = Inviter::new(config, identity, target, invitation, ephemeral, clock.now())
        .map_err(InviteError::Invalid)?;
    progress(Progress::Connected);

    let mut session = DropGuard(Some(Parts {
        conn: Connection::new(stream, clock, to_std(config.grace)),
        inviter: Box::new(inviter),
    }));
    let cancel = options.cancel;
    let cancelled = async move {
        match cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let mut handler = Reporter {
        progress: &mut progress,
        clock,
        waiting: None,
    };
    if let Some(parts) = session.0.as_mut() {
        drive(
            &mut parts.conn,
            &mut *parts.inviter,
            &(),
            &mut handler,
            cancelled,
        )
        .await;
    }
    // Finished: nothing to cancel on drop any more.
    let Some(Parts { conn, inviter }) = session.0.take() else {
        return Err(InviteError::Failed {
            error: SessionError::Internal,
            responder: None,
        });
    };
    let responder = inviter.responder();
    match (inviter.outcome(), responder, conn.io_error) {
        (Some(Ok(response)), Some(responder), _) => Ok(Answer {
            response,
            responder,
            message: inviter.answer_message().unwrap_or_default().to_owned(),
        }),
        (Some(Err(SessionError::ConnectionClosed)), _, Some(io_error)) => {
            Err(InviteError::Io(io_error))
        }
        (Some(Err(error)), responder, _) => Err(InviteError::Failed { error, responder }),
        // The core only answers after the responder proved its key, and
        // always ends with an outcome; anything else is a broken invariant.
        (Some(Ok(_)), None, _) | (None, _, _) => Err(InviteError::Failed {
            error: SessionError::Internal,
            responder,
        }),
    }
}

/// Connects to `addr` over TCP and runs [`invite`] on the connection.
///
/// The connection attempt is bounded by the config's handshake timeout and
/// stops early on a cancelled [`CancelToken`]. A failed or timed-out
/// connection is [`InviteError::Connect`]; a cancel before the connection
/// is up is [`SessionError::Cancelled`].
pub async fn invite_tcp(
    addr: SocketAddr,
    identity: &Identity,
    target: Target,
    invitation: &Invitation<'_>,
    options: InviteOptions,
    progress: impl FnMut(Progress) + Send,
) -> Result<Answer, InviteError> {
    let timeout = to_std(options.config.handshake_timeout);
    let connect = tokio::time::timeout(timeout, TcpStream::connect(addr));
    let cancel = options.cancel.clone();
    let cancelled = async move {
        match cancel {
            Some(token) => token.cancelled().await,
            None => std::future::pending().await,
        }
    };
    let stream = tokio::select! {
        connected = connect => match connected {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(InviteError::Connect(e)),
            Err(_) => {
                return Err(InviteError::Connect(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection to {addr} within {timeout:?}"),
                )))
            }
        },
        () = cancelled => {
            return Err(InviteError::Failed { error: SessionError::Cancelled, responder: None })
        }
    };
    // Frames are small and each one is waited for: do not delay them.
    let _ = stream.set_nodelay(true);
    invite(stream, identity, target, invitation, options, progress).await
}

struct Parts<S> {
    conn: Connection<S>,
    inviter: Box<Inviter>,
}

/// Owns the connection and the inviter while [`invite`] runs, so that
/// dropping the future cancels (see [`invite`]).
struct DropGuard<S: AsyncRead + AsyncWrite + Send + 'static>(Option<Parts<S>>);

impl<S: AsyncRead + AsyncWrite + Send + 'static> Drop for DropGuard<S> {
    fn drop(&mut self) {
        let Some(Parts {
            mut conn,
            mut inviter,
        }) = self.0.take()
        else {
            return;
        };
        if inviter.is_finished() {
            return;
        }
        inviter.handle_cancel(conn.clock.now());
        // What is left to send (the Cancel), into the connection's buffer.
        while let Output::Transmit(_) = conn.poll(&mut *inviter) {}
        if inviter.is_finished() {
            debug!("invitation dropped before it was sent; closing");
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            debug!("invitation dropped outside a runtime; closing");
            return;
        };
        debug!("invitation dropped after it was sent; sending Cancel");
        runtime.spawn(
            async move {
                drive(
                    &mut conn,
                    &mut *inviter,
                    &(),
                    &mut Quiet,
                    std::future::pending::<()>(),
                )
                .await;
                debug!(outcome = ?inviter.outcome(), "dropped invitation finished");
            }
            .instrument(tracing::debug_span!("dropped_invitation")),
        );
    }
}

/// Reports progress while [`invite`] drives the inviter.
struct Reporter<'p, P> {
    progress: &'p mut P,
    clock: Clock,
    /// Set when Verified: the responder and its deadline, until Waiting has
    /// been reported.
    waiting: Option<(PublicKey, Instant)>,
}

impl<P: FnMut(Progress)> Handler<Inviter> for Reporter<'_, P> {
    type Command = ();

    fn on_event(&mut self, inviter: &mut Inviter, _now: Instant, event: InviterEvent) {
        match event {
            InviterEvent::Verified(responder) => {
                debug!(responder = %responder.fingerprint(), "responder verified");
                (self.progress)(Progress::Verified { responder });
                if let Some(deadline) = inviter.deadline() {
                    self.waiting = Some((responder, deadline));
                }
            }
            InviterEvent::Finished(outcome) => {
                debug!(?outcome, responder = ?inviter.responder(), "invitation finished");
            }
        }
    }

    fn on_command(&mut self, inviter: &mut Inviter, now: Instant, (): ()) {
        debug!("cancelling");
        inviter.handle_cancel(now);
    }

    fn on_written(&mut self, inviter: &mut Inviter, _now: Instant) {
        if let Some((responder, deadline)) = self.waiting.take() {
            if inviter.outcome().is_none() {
                (self.progress)(Progress::Waiting {
                    responder,
                    deadline: self.clock.to_tokio(deadline),
                });
            }
        }
    }
}

/// Drives a dropped invitation to its end without reporting anything.
struct Quiet;

impl Handler<Inviter> for Quiet {
    type Command = ();
    fn on_event(&mut self, _: &mut Inviter, _: Instant, _: InviterEvent) {}
    fn on_command(&mut self, _: &mut Inviter, _: Instant, (): ()) {}
}
