//! The inviter's side: connect, run one [`Inviter`], report the answer.

use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::{Context, Poll, Waker};

use beckon_core::{
    EphemeralSecret, Error, Identity, Invitation, Inviter, InviterEvent, PublicKey, Response,
    Target,
};
use embassy_futures::select::{select3, Either3};
use embassy_net::IpEndpoint;
use embassy_time::Instant;
use rand_core::CryptoRng;

use crate::fmt::debug;
use crate::io::{self, Wake};
use crate::session::InviterSession;

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

/// Invites `target` at `remote` with `invitation`, over `session`'s socket,
/// and returns the answer.
///
/// This is the core's [`Inviter`] driven by the sans-IO loop: drain its
/// transmits into the socket; wait for whichever comes first of bytes to
/// read, its `poll_timeout` (through `Timer::at`), or `cancel`; feed that
/// back; repeat until it is finished. It returns at once then: the
/// connection is closed (or reset, after a failure) in the background
/// while the session lives, and the next exchange on the session waits up
/// to the grace period for that to end. Every decision is the core's; the
/// errors are its typed [`Error`]s:
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
///   returns `Err(Cancelled)` once it acknowledges (or the answer, if it
///   crossed the Cancel; or `Err(Cancelled)` after the grace period if
///   nothing comes back); after the answer, nothing changes.
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
) -> Result<Answer<'s>, Error>
where
    R: CryptoRng + ?Sized,
    C: Future<Output = ()>,
{
    io::settle(&mut session.socket, session.config.grace).await;
    // Started in place: the machine (kilobytes) never crosses the stack.
    session.machine.get_or_insert_with(Inviter::idle).start(
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
        let inviter = guard.session.machine.get_or_insert_with(Inviter::idle);
        let socket = &mut guard.session.socket;
        run(socket, inviter, remote, cancel).await;
        // Nothing is left to send after an inviter has finished: close
        // after an answer (or an acknowledged Cancel), reset otherwise.
        let answered = matches!(inviter.outcome(), Some(Ok(_) | Err(Error::Cancelled)));
        io::end(socket, answered);
        guard.armed = false;
        guard.session.completed = guard.session.completed.wrapping_add(1);
    }
    let inviter = session.machine.as_ref().ok_or(Error::InvalidState)?;
    let response = inviter.outcome().unwrap_or(Err(Error::InvalidState))?;
    Ok(Answer {
        response,
        responder: inviter.responder().ok_or(Error::InvalidState)?,
        message: inviter.answer_message()?,
    })
}

/// Connects, then runs the loop until the inviter is finished.
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
    loop {
        let blocked = io::drain(socket, inviter).await;
        while let Some(event) = inviter.poll_event() {
            match event {
                InviterEvent::Verified(key) => debug!("responder verified: {:?}", key),
                InviterEvent::Finished(outcome) => debug!("invitation finished: {:?}", outcome),
            }
        }
        if inviter.is_finished() {
            break;
        }
        let wake = io::wait(
            socket,
            inviter.poll_timeout(),
            blocked,
            once(cancel.as_mut()),
        );
        match wake.await {
            Wake::Readable => {
                let now = Instant::now();
                if !io::feed(socket, |bytes| inviter.handle_input(now, bytes, &())).await {
                    inviter.handle_close(now);
                }
            }
            Wake::Closed => inviter.handle_close(Instant::now()),
            Wake::Deadline => inviter.handle_timeout(Instant::now()),
            Wake::Writable => {}
            Wake::Other(()) => inviter.handle_cancel(Instant::now()),
        }
    }
}

/// Polls the future in `slot` until it completes, then empties the slot so
/// that it is never polled again; pending for ever once empty.
pub(crate) fn once<F: Future>(
    mut slot: Pin<&mut Option<F>>,
) -> impl Future<Output = F::Output> + '_ {
    poll_fn(move |cx| {
        let Some(future) = slot.as_mut().as_pin_mut() else {
            return Poll::Pending;
        };
        let output = future.poll(cx);
        if output.is_ready() {
            slot.set(None);
        }
        output
    })
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
