//! The invitee's side: accept connections on a port, run one [`Invitee`]
//! per connection, ask the application to decide.

use core::cell::RefCell;
use core::convert::Infallible;
use core::pin::pin;

use beckon_core::{
    ArgumentError, Decision, Directory, EphemeralSecret, Error, Identity, Invitation, Invitee,
    InviteeEvent, InviteeOutcome, Launch, Prompt, SessionError,
};
use embassy_futures::join::join_array;
use embassy_net::tcp::{AcceptError, State, TcpSocket};
use embassy_time::Instant;
use rand_core::CryptoRng;

use crate::fmt::debug;
use crate::io;
use crate::session::{idle_in, InviteeSession};

/// `E_INVALIDARG`, the extended error code this crate used to send (as the
/// reference's ERROR answer) when the application's decision was itself
/// invalid, such as a message over 255 characters.
///
/// No longer sent: a [`Decision`] now holds a [`Message`](beckon_core::Message),
/// checked when it is built, so the core cannot refuse a decision's
/// message. Kept for the code's users.
pub const INVALID_DECISION: u32 = 0x8007_0057;

/// What the application does with invitations that passed the policy: show
/// them, decide, launch.
///
/// Only [`decide`](Decide::decide) is required. A device might wait there
/// for a button press, or answer at once by itself.
///
/// The methods take `&self` because [`serve`] runs its sessions
/// concurrently and may have several prompts up at once; keep state in a
/// `Cell`, a `RefCell` or an embassy-sync primitive, and return
/// [`Decision::Busy`] when you want one prompt at a time.
///
/// The futures need not be `Send`: the sessions run inside the one future
/// that `serve` returns, polled by whichever executor runs it (embassy's
/// thread-mode executor asks for no `Send`). Hence the allowed
/// `async_fn_in_trait` lint.
#[allow(async_fn_in_trait)]
pub trait Decide {
    /// An invitation passed the policy and the user is to be asked: show
    /// it. The invitation's message and data are borrowed from the session,
    /// and only for this call: copy what [`decide`](Decide::decide) needs.
    /// The default does nothing.
    fn show(&self, prompt: &Prompt, invitation: &Invitation<'_>) {
        let _ = (prompt, invitation);
    }

    /// The user's decision on the prompt that [`show`](Decide::show) just
    /// showed. Take as long as you like: the future is dropped (the prompt
    /// is withdrawn) when the inviter cancels, the connection fails or the
    /// prompt's deadline passes, and then
    /// [`finished`](Decide::finished) says which. A decision that comes
    /// too late (the prompt expired or was cancelled meanwhile) changes
    /// nothing.
    async fn decide(&self, prompt: Prompt) -> Decision<'_>;

    /// The user accepted and the answer is on its way: launch the
    /// application (the reference's `PEER_APP_LAUNCH_INFO`: who invited,
    /// to which application, with which message and data). Called before
    /// [`finished`](Decide::finished). The default does nothing.
    fn launch(&self, launch: &Launch, invitation: &Invitation<'_>) {
        let _ = (launch, invitation);
    }

    /// A session ended, whatever the outcome (accepted, declined, expired,
    /// cancelled, refused by the policy, failed): take a withdrawn prompt
    /// off the screen, count, log. The default does nothing.
    fn finished(&self, outcome: &InviteeOutcome) {
        let _ = outcome;
    }
}

/// Serves invitations on `port` through the sessions in `sessions`, for
/// ever.
///
/// Each session is a listening socket that takes one connection at a time;
/// `N` is therefore the number of handshakes and prompts in flight at once,
/// and a connection beyond it is refused by TCP. Each connection runs the
/// core's [`Invitee`]: it proves this device's `identity`, consults
/// `directory` (policy, contacts, registrations) as each message arrives,
/// and asks `app` about the invitations that pass. A connection that
/// stalls frees its session at the handshake timeout. The ephemeral keys
/// are drawn from `rng`.
///
/// The directory is consulted as the core's `dyn Directory`, so its type
/// must own what it holds (`'static`): a
/// [`FixedDirectory`](beckon_core::FixedDirectory), your own type, or a
/// `&'static` reference to either.
///
/// Returns only on an error that retrying cannot mend: no session, port 0,
/// or a session's [`Config`](beckon_core::Config) with a zero timeout
/// (`InvalidArgument`). Dropping the future stops serving; every session is
/// reset when it next starts.
pub async fn serve<const N: usize, const BUF: usize, D, A, R>(
    sessions: &mut [InviteeSession<'_, BUF>; N],
    port: u16,
    identity: &Identity,
    directory: &D,
    app: &A,
    rng: &mut R,
) -> Result<Infallible, Error>
where
    D: Directory + 'static,
    A: Decide + ?Sized,
    R: CryptoRng + ?Sized,
{
    if N == 0 {
        return Err(ArgumentError::OutOfRange.into());
    }
    for session in sessions.iter() {
        session.config.validate()?;
    }
    let rng = RefCell::new(rng);
    // The closure is called without any await in between, so the borrow
    // never overlaps another session's.
    let ephemeral = &|| EphemeralSecret::generate(&mut **rng.borrow_mut());
    let loops = sessions.each_mut().map(|session| async move {
        loop {
            answer_with(session, port, identity, directory, app, ephemeral).await?;
        }
    });
    let results: [Result<Infallible, Error>; N] = join_array(loops).await;
    // Every loop ends only with an error; report the first.
    match results.into_iter().next() {
        Some(Err(e)) => Err(e),
        _ => Err(Error::InvalidState),
    }
}

/// Accepts one connection on `port`, runs the invitee to the end, closes
/// the connection, and returns how it ended (the same outcome that
/// [`Decide::finished`] is given).
///
/// The building block of [`serve`], for a firmware that runs its own loop.
/// Fails only as `serve` does: port 0 or a zero timeout.
pub async fn answer<const BUF: usize, D, A, R>(
    session: &mut InviteeSession<'_, BUF>,
    port: u16,
    identity: &Identity,
    directory: &D,
    app: &A,
    rng: &mut R,
) -> Result<InviteeOutcome, Error>
where
    D: Directory + 'static,
    A: Decide + ?Sized,
    R: CryptoRng + ?Sized,
{
    let rng = RefCell::new(rng);
    let ephemeral = || EphemeralSecret::generate(&mut **rng.borrow_mut());
    answer_with(session, port, identity, directory, app, &ephemeral).await
}

async fn answer_with<const BUF: usize, D, A>(
    session: &mut InviteeSession<'_, BUF>,
    port: u16,
    identity: &Identity,
    directory: &D,
    app: &A,
    ephemeral: &dyn Fn() -> EphemeralSecret,
) -> Result<InviteeOutcome, Error>
where
    D: Directory + 'static,
    A: Decide + ?Sized,
{
    session.config.validate()?;
    let linger = session.config.grace;
    // Dropping the future resets the connection (or stops listening), so
    // that no socket is left half-used behind a dropped `serve`.
    let mut guard = AbortOnDrop {
        socket: &mut session.socket,
        armed: true,
    };
    let socket = &mut *guard.socket;
    io::settle(socket, linger).await;
    loop {
        match socket.accept(port).await {
            Ok(()) if matches!(socket.state(), State::Established | State::CloseWait) => break,
            // The connection was reset before it was accepted: listen again.
            Ok(()) => io::reset(socket, linger).await,
            Err(AcceptError::InvalidPort) => return Err(ArgumentError::OutOfRange.into()),
            Err(AcceptError::InvalidState | AcceptError::ConnectionReset) => {
                io::reset(socket, linger).await
            }
        }
    }
    // Started in place: the machine (kilobytes) never crosses the stack.
    let invitee = idle_in(&mut session.machine, Invitee::idle);
    invitee.start(session.config, identity, ephemeral(), Instant::now())?;
    let outcome = run(socket, invitee, directory, app).await;
    // An answer or a refusal may still be in flight: close behind it. A
    // failed session has nothing more to say: reset.
    io::end(socket, !matches!(outcome, InviteeOutcome::Failed(_)));
    guard.armed = false;
    session.completed = session.completed.wrapping_add(1);
    Ok(outcome)
}

/// Aborts the socket it holds when dropped: a listen stops at once; an
/// open connection is reset (the stack sends the RST while the session
/// lives).
struct AbortOnDrop<'s, 'a> {
    socket: &'s mut TcpSocket<'a>,
    armed: bool,
}

impl Drop for AbortOnDrop<'_, '_> {
    fn drop(&mut self) {
        if self.armed {
            self.socket.abort();
        }
    }
}

/// Runs the loop until the invitee is done.
async fn run<const BUF: usize, D, A>(
    socket: &mut TcpSocket<'_>,
    invitee: &mut Invitee<BUF>,
    directory: &D,
    app: &A,
) -> InviteeOutcome
where
    D: Directory + 'static,
    A: Decide + ?Sized,
{
    // The application's decision while a prompt is up; emptied (and so
    // dropped) when it completes or the prompt is withdrawn.
    let decision = pin!(None);
    io::drive(
        socket,
        invitee,
        directory,
        decision,
        |invitee, event, mut decision| match event {
            InviteeEvent::Prompt(prompt) => {
                debug!("prompt: {:?}", prompt);
                if let Some(invitation) = invitee.invitation() {
                    app.show(&prompt, &invitation);
                }
                decision.set(Some(app.decide(prompt)));
            }
            InviteeEvent::Finished(outcome) => {
                debug!("session finished: {:?}", outcome);
                decision.set(None);
                if let (InviteeOutcome::Accepted(launch), Some(invitation)) =
                    (outcome, invitee.invitation())
                {
                    app.launch(&launch, &invitation);
                }
                app.finished(&outcome);
            }
        },
        |invitee, now, choice| {
            // Refused only when it comes too late (the prompt expired or
            // was cancelled meanwhile): the outcome says so already.
            if let Err(e) = invitee.handle_decision(now, choice) {
                debug!("decision not taken: {:?}", e);
            }
        },
    )
    .await;
    invitee
        .outcome()
        .unwrap_or(InviteeOutcome::Failed(SessionError::Internal))
}
