//! The inviter's side: connect, run one [`Inviter`], report the answer.

use core::fmt;
use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use beckon_core::{
    EphemeralSecret, Error, Identity, Invitation, Inviter, InviterEvent, Machine, PublicKey,
    Response, SessionError, Target,
};
use embassy_futures::select::{select3, Either3};
use embassy_net::IpEndpoint;
use embassy_time::Instant;
use rand_core::CryptoRng;

use crate::fmt::debug;
use crate::io::{self, once};
use crate::session::{idle_in, InviterSession};

/// The invitee's authenticated answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<'s> {
    /// Accepted, declined, expired, or the invitee's error code.
    pub response: Response,
    /// The key the responder proved (in contact mode, the contact's).
    pub responder: PublicKey,
    /// The message that came with the answer (empty if none). It lives in
    /// the session until its next exchange.
    pub message: &'s str,
}

/// Why [`invite`] returned no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteError {
    /// The invitation could not start, and nothing was sent: an argument
    /// or the session's [`Config`](beckon_core::Config) is invalid (data
    /// over the session's limit, a zero timeout). The core's call error.
    Invalid(Error),
    /// The session ended without an answer: why, as the core reports it
    /// (a refusal, a timeout, a lost connection, a cancel, ...).
    Failed(SessionError),
}

impl From<Error> for InviteError {
    fn from(e: Error) -> Self {
        InviteError::Invalid(e)
    }
}

impl From<SessionError> for InviteError {
    fn from(e: SessionError) -> Self {
        InviteError::Failed(e)
    }
}

impl fmt::Display for InviteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InviteError::Invalid(e) => fmt::Display::fmt(e, f),
            InviteError::Failed(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for InviteError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            InviteError::Invalid(e) => Some(e),
            InviteError::Failed(e) => Some(e),
        }
    }
}

/// Invites `target` at `remote` with `invitation`, over `session`'s socket,
/// and returns the answer.
///
/// This is the core's [`Inviter`] driven by the sans-IO loop: take its
/// outputs (its bytes straight into the socket); wait for whichever comes
/// first of bytes to read, its deadline (through `Timer::at`), or `cancel`;
/// feed that back; repeat until it is done. It returns at once then: the
/// connection is closed (or reset, after a failure) in the background
/// while the session lives, and the next exchange on the session waits up
/// to the grace period for that to end. Every decision is the core's: an
/// invitation that cannot start is [`InviteError::Invalid`] with the
/// core's [`Error`], and a session that ends without an answer is
/// [`InviteError::Failed`] with the core's [`SessionError`]:
///
/// * a connection that cannot be made or breaks is `ConnectionClosed`;
/// * one that stalls (a dead link, a peer that never answers; connecting
///   included) is `HandshakeTimeout` at the handshake timeout, or
///   `Timeout` after the response timeout plus the grace period;
/// * a responder that is not `target` is `ContactMismatch`, before any byte
///   of the invitation has left (its key is then in
///   [`Inviter::responder`] through [`Session::state_machine`]);
/// * a refusal is `Refused`, saying whether it was authenticated.
///
/// The ephemeral key is drawn from `rng`; the session's [`Config`] gives
/// the timers.
///
/// # Cancelling
///
/// * **Gracefully**: complete `cancel` (a `Signal::wait()`, a button, a
///   timer; `core::future::pending()` for never). The core's three cases
///   follow: before the Invite is sent the exchange just ends; after it, a
///   Cancel is sent and the invitee withdraws its prompt, and the call
///   returns `Err(Failed(Cancelled))` once it acknowledges (or the answer,
///   if it crossed the Cancel; or `Err(Failed(Cancelled))` after the grace
///   period if nothing comes back); after the answer, nothing changes.
/// * **By dropping the future**: best effort. If the Invite is out and no
///   answer has come, the Cancel is written into the socket's transmit
///   buffer right away (when there is room; nothing can wait in `drop`) and
///   the connection is closed behind it. The socket lives in the session,
///   so the network stack goes on sending both while the session lives;
///   the next exchange on the session gives them up to the grace period to
///   go out before it resets the socket. Dropping the session itself
///   removes the socket at once, and the invitee then sees only a lost
///   connection (it withdraws the prompt at its handshake or answer
///   deadline). Nobody learns how it ended: cancel gracefully to know.
///
/// [`Session::state_machine`]: crate::Session::state_machine
/// [`Config`]: beckon_core::Config
pub async fn invite<'s, const BUF: usize, R, C>(
    session: &'s mut InviterSession<'_, BUF>,
    remote: IpEndpoint,
    identity: &Identity,
    target: Target,
    invitation: &Invitation<'_>,
    rng: &mut R,
    cancel: C,
) -> Result<Answer<'s>, InviteError>
where
    R: CryptoRng + ?Sized,
    C: Future<Output = ()>,
{
    io::settle(&mut session.socket, session.config.grace).await;
    // Started in place: the machine (kilobytes) never crosses the stack.
    idle_in(&mut session.machine, Inviter::idle).start(
        session.config,
        identity,
        target,
        invitation,
        EphemeralSecret::generate(rng),
        Instant::now(),
    )?;
    {
        let mut guard = CancelOnDrop {
            session: &mut *session,
            armed: true,
        };
        let inviter = idle_in(&mut guard.session.machine, Inviter::idle);
        let socket = &mut guard.session.socket;
        run(socket, inviter, remote, cancel).await;
        // Nothing is left to send after an inviter is done: close after an
        // answer (or an acknowledged Cancel), reset otherwise.
        let answered = matches!(
            inviter.outcome(),
            Some(Ok(_) | Err(SessionError::Cancelled))
        );
        io::end(socket, answered);
        guard.armed = false;
        guard.session.completed = guard.session.completed.wrapping_add(1);
    }
    // The inviter is done, so it has an outcome, and an answer comes only
    // from a verified responder; anything else would be a broken invariant
    // of the core's.
    let inviter = session.machine.as_ref().ok_or(SessionError::Internal)?;
    let response = inviter.outcome().unwrap_or(Err(SessionError::Internal))?;
    let (Some(responder), Ok(message)) = (inviter.responder(), inviter.answer_message()) else {
        return Err(SessionError::Internal.into());
    };
    Ok(Answer {
        response,
        responder,
        message,
    })
}

/// Connects, then runs the loop until the inviter is done.
async fn run<const BUF: usize, C: Future<Output = ()>>(
    socket: &mut embassy_net::tcp::TcpSocket<'_>,
    inviter: &mut Inviter<BUF>,
    remote: IpEndpoint,
    cancel: C,
) {
    // `cancel` is polled until it completes, never after.
    let mut cancel = pin!(Some(cancel));

    let connected = {
        let mut connecting = pin!(socket.connect(remote));
        loop {
            if inviter.is_finished() {
                break false;
            }
            let next = select3(
                connecting.as_mut(),
                io::until(inviter.poll_timeout()),
                once(cancel.as_mut()),
            );
            match next.await {
                Either3::First(Ok(())) => break true,
                Either3::First(Err(e)) => {
                    debug!("connect failed: {:?}", e);
                    inviter.handle_close(Instant::now());
                    break false;
                }
                Either3::Second(()) => inviter.handle_timeout(Instant::now()),
                Either3::Third(()) => inviter.handle_cancel(Instant::now()),
            }
        }
    };

    if !connected {
        return;
    }
    io::drive(
        socket,
        inviter,
        &(),
        cancel,
        |_, event, _| match event {
            InviterEvent::Verified(key) => debug!("responder verified: {:?}", key),
            InviterEvent::Finished(outcome) => debug!("invitation finished: {:?}", outcome),
        },
        |inviter, now, ()| inviter.handle_cancel(now),
    )
    .await;
}

/// Sends a Cancel, best effort, when the invite future is dropped while the
/// invitation is out.
struct CancelOnDrop<'g, 'a, const BUF: usize> {
    session: &'g mut InviterSession<'a, BUF>,
    armed: bool,
}

impl<const BUF: usize> Drop for CancelOnDrop<'_, '_, BUF> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let session = &mut *self.session;
        let Some(inviter) = session.machine.as_mut() else {
            return;
        };
        let socket = &mut session.socket;
        // Before the Invite is out this just ends the inviter; after the
        // answer it does nothing; in between it queues a Cancel.
        inviter.handle_cancel(Instant::now());
        let mut sent = 0;
        loop {
            // `write_with` completes on its first poll when the transmit
            // buffer has room; drop cannot wait for more.
            let write = pin!(socket.write_with(|buf| {
                let n = inviter.poll_transmit(buf);
                (n, n)
            }));
            match write.poll(&mut Context::from_waker(Waker::noop())) {
                Poll::Ready(Ok(n)) if n > 0 => sent += n,
                _ => break,
            }
        }
        if sent > 0 {
            debug!("dropped: {:?} bytes of Cancel queued", sent);
            socket.close();
        } else {
            socket.abort();
        }
    }
}
