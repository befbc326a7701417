//! The host test bench: two real embassy-net stacks joined by an in-memory
//! IP link, a virtual clock as the embassy-time driver, and a small
//! executor on std that advances the clock whenever everything is idle.
//!
//! * **The clock** is per test thread (a thread-local), so the tests of one
//!   binary run in parallel without sharing time, and a 5-minute wait
//!   costs nothing: when no future can make progress the executor jumps to
//!   the earliest deadline any timer asked for. It is never frozen, so
//!   smoltcp's retransmission timers run as on a device.
//! * **The executor** polls one future (the stacks' runners, the invitee
//!   and the inviter, joined) whenever its waker was woken, and otherwise
//!   advances the clock. It panics on a deadlock (idle with no timer), a
//!   livelock, or past a virtual-time limit, so a hang is a failure.
//! * **The link** carries raw IPv4 packets (embassy-net's `medium-ip`)
//!   with no delay, and can be cut: all packets are then dropped, both ways.
//!
//! Addresses are in 192.0.2.0/24 (TEST-NET-1, for documentation): nothing
//! leaves the process.

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use beckon_core::wire::buffer_size;
use beckon_core::{
    Config, Decision, Directory, Identity, Invitation, InviteeOutcome, Launch, Message, Prompt,
    PublicKey, Response, SessionError, Target,
};
use beckon_embassy::{invite, serve, Answer, Decide, InviteError, InviteeSession, InviterSession};
use beckon_testkit::{alice, bob, Dir, CHESS};
use embassy_futures::select::{select, Either};
use embassy_net::driver::{Capabilities, Driver, HardwareAddress, LinkState, RxToken, TxToken};
use embassy_net::{Ipv4Address, Ipv4Cidr, Runner, Stack, StackResources, StaticConfigV4};
use embassy_time::{Duration, Instant, Timer};

// ---------------------------------------------------------------------------
// The virtual clock.

thread_local! {
    /// Now, in ticks.
    static NOW: Cell<u64> = const { Cell::new(1_000_000) };
    /// The timers: for each waker, the earliest instant it asked for.
    static TIMERS: RefCell<Vec<(u64, Waker)>> = const { RefCell::new(Vec::new()) };
}

struct VirtualClock;

impl embassy_time_driver::Driver for VirtualClock {
    fn now(&self) -> u64 {
        NOW.with(Cell::get)
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        if at <= self.now() {
            waker.wake_by_ref();
            return;
        }
        TIMERS.with(|timers| {
            let mut timers = timers.borrow_mut();
            match timers.iter_mut().find(|(_, w)| w.will_wake(waker)) {
                // A waker woken early polls its timers again, and each
                // pending one asks anew: keeping the earliest is enough.
                Some((earliest, _)) => *earliest = (*earliest).min(at),
                None => timers.push((at, waker.clone())),
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: VirtualClock = VirtualClock);

/// Advances the clock to the earliest timer and wakes every timer due then.
/// Returns false when there is no timer.
fn advance() -> bool {
    let due = TIMERS.with(|timers| {
        let mut timers = timers.borrow_mut();
        let at = timers.iter().map(|(at, _)| *at).min()?;
        NOW.with(|now| now.set(now.get().max(at)));
        let (due, later): (Vec<_>, Vec<_>) = timers.drain(..).partition(|(t, _)| *t <= at);
        *timers = later;
        Some(due)
    });
    match due {
        Some(due) => {
            due.into_iter().for_each(|(_, waker)| waker.wake());
            true
        }
        None => false,
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A task that `simulate` runs beside the body, such as a stack's runner.
pub(crate) type Task<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// A stack's runner, as a task.
pub(crate) fn runner<'a>(runner: &'a mut Runner<'_, Port>) -> Task<'a> {
    Box::pin(async move {
        runner.run().await;
    })
}

/// Runs `body` to completion on this thread, with `tasks` beside it, each
/// its own task with its own waker, as an embassy executor would; advances
/// the virtual clock to the next timer whenever no task is woken. Panics if
/// the body is not done within `limit` of virtual time, on a deadlock (no
/// task woken, no timer), or on a livelock.
pub(crate) fn simulate<F: Future>(limit: Duration, tasks: Vec<Task<'_>>, body: F) -> F::Output {
    let start = Instant::now();
    let task = || {
        let flag = Arc::new(Flag(AtomicBool::new(true)));
        (flag.clone(), Waker::from(flag))
    };
    let (body_flag, body_waker) = task();
    let mut body = pin!(body);
    let mut tasks: Vec<_> = tasks.into_iter().map(|t| (t, task())).collect();
    let mut polls_at_this_instant = 0u32;
    loop {
        let mut polled = false;
        if body_flag.0.swap(false, Ordering::SeqCst) {
            polled = true;
            if let Poll::Ready(output) = body.as_mut().poll(&mut Context::from_waker(&body_waker)) {
                return output;
            }
        }
        for (task, (flag, waker)) in &mut tasks {
            if flag.0.swap(false, Ordering::SeqCst) {
                polled = true;
                let _ = task.as_mut().poll(&mut Context::from_waker(waker));
            }
        }
        if polled {
            polls_at_this_instant += 1;
            assert!(
                polls_at_this_instant < 100_000,
                "livelock: woken 100000 times at {:?}",
                Instant::now()
            );
            continue;
        }
        assert!(advance(), "deadlock: nothing to do and no timer set");
        polls_at_this_instant = 0;
        assert!(
            Instant::now() - start <= limit,
            "not done within {limit:?} of virtual time"
        );
    }
}

/// Virtual time since `start`.
pub(crate) fn since(start: Instant) -> Duration {
    Instant::now() - start
}

// ---------------------------------------------------------------------------
// The in-memory link.

#[derive(Default)]
struct Wire {
    /// Packets on their way to each side.
    queues: [VecDeque<Vec<u8>>; 2],
    wakers: [Option<Waker>; 2],
    cut: bool,
    /// Cut the link once this many TCP segments carrying data have gone
    /// from side 0 to side 1.
    cut_after_data_from_0: Option<usize>,
    data_from_0: usize,
    delivered: usize,
    dropped: usize,
}

/// Both ends of an in-memory IP link.
#[derive(Clone, Default)]
pub(crate) struct Link(Rc<RefCell<Wire>>);

impl Link {
    pub(crate) fn new() -> Self {
        Link::default()
    }

    /// The end for side 0 or 1, to give to `embassy_net::new`.
    pub(crate) fn port(&self, side: usize) -> Port {
        Port {
            wire: self.0.clone(),
            side,
        }
    }

    /// Cuts or mends the link.
    pub(crate) fn set_cut(&self, cut: bool) {
        self.0.borrow_mut().cut = cut;
    }

    /// Cuts the link as soon as side 0 has sent `n` TCP segments with data.
    pub(crate) fn cut_after_data_from_0(&self, n: usize) {
        let mut w = self.0.borrow_mut();
        w.cut_after_data_from_0 = Some(n);
        w.data_from_0 = 0;
    }

    pub(crate) fn is_cut(&self) -> bool {
        self.0.borrow().cut
    }

    /// Packets delivered and dropped so far.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let w = self.0.borrow();
        (w.delivered, w.dropped)
    }
}

/// The TCP payload length of an IPv4 packet, if it carries TCP.
fn tcp_payload_len(packet: &[u8]) -> Option<usize> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    if *packet.get(9)? != 6 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*packet.get(2)?, *packet.get(3)?]));
    let data_offset = usize::from(packet.get(ihl + 12)? >> 4) * 4;
    total.checked_sub(ihl + data_offset)
}

/// One end of a [`Link`]: an embassy-net driver.
pub(crate) struct Port {
    wire: Rc<RefCell<Wire>>,
    side: usize,
}

pub(crate) struct Rx(Vec<u8>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

pub(crate) struct Tx {
    wire: Rc<RefCell<Wire>>,
    side: usize,
}

impl TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        let mut w = self.wire.borrow_mut();
        if self.side == 0 && tcp_payload_len(&packet).is_some_and(|n| n > 0) {
            w.data_from_0 += 1;
        }
        if w.cut {
            w.dropped += 1;
        } else {
            w.delivered += 1;
            let to = 1 - self.side;
            w.queues[to].push_back(packet);
            if let Some(waker) = w.wakers[to].take() {
                waker.wake();
            }
        }
        if w.cut_after_data_from_0.is_some_and(|n| w.data_from_0 >= n) {
            w.cut = true;
        }
        r
    }
}

impl Driver for Port {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Rx, Tx)> {
        let mut w = self.wire.borrow_mut();
        match w.queues[self.side].pop_front() {
            Some(packet) => Some((
                Rx(packet),
                Tx {
                    wire: self.wire.clone(),
                    side: self.side,
                },
            )),
            None => {
                w.wakers[self.side] = Some(cx.waker().clone());
                None
            }
        }
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<Tx> {
        Some(Tx {
            wire: self.wire.clone(),
            side: self.side,
        })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = 1500;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ip
    }
}

/// The address of side `side` (192.0.2.1 or 192.0.2.2).
pub(crate) fn address(side: usize) -> Ipv4Address {
    Ipv4Address::new(192, 0, 2, 1 + side as u8)
}

/// A stack on `port` with room for `SOCK` sockets.
pub(crate) fn stack<const SOCK: usize>(
    port: Port,
    resources: &mut StackResources<SOCK>,
) -> (Stack<'_>, Runner<'_, Port>) {
    let side = port.side;
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(address(side), 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    embassy_net::new(port, config, resources, 0x5eed + side as u64)
}

/// A stack and its runner.
pub(crate) type Side<'a> = (Stack<'a>, Runner<'a, Port>);

/// Room for the sockets of Alice's stack (`A`) and Bob's (`B`).
pub(crate) struct Resources<const A: usize, const B: usize>(StackResources<A>, StackResources<B>);

impl<const A: usize, const B: usize> Resources<A, B> {
    pub(crate) fn new() -> Self {
        Resources(StackResources::new(), StackResources::new())
    }

    /// Alice's stack on port 0 of `link` and Bob's on port 1.
    pub(crate) fn stacks(&mut self, link: &Link) -> (Side<'_>, Side<'_>) {
        (
            stack(link.port(0), &mut self.0),
            stack(link.port(1), &mut self.1),
        )
    }
}

// ---------------------------------------------------------------------------
// The people and the application.

/// The application data limit of these tests, as on a small device.
pub(crate) const BUF: usize = buffer_size(512);
/// The port Bob serves on.
pub(crate) const PORT: u16 = 4646;
/// Bob's endpoint, from Alice's side.
pub(crate) fn bob_endpoint() -> embassy_net::IpEndpoint {
    (address(1), PORT).into()
}

/// Bob's two sessions on `stack`, their sockets' buffers in `bufs`
/// (receive, send, receive, send).
pub(crate) fn two_sessions<'a, const N: usize>(
    stack: Stack<'a>,
    bufs: &'a mut [[u8; N]; 4],
) -> [InviteeSession<'a, BUF>; 2] {
    let [rx0, tx0, rx1, tx1] = bufs;
    [
        InviteeSession::<BUF>::new(stack, rx0, tx0),
        InviteeSession::<BUF>::new(stack, rx1, tx1),
    ]
}

/// `identity` invites `target` at Bob's endpoint through `session`, with
/// nothing to cancel it.
pub(crate) async fn invite_bob<'s>(
    session: &'s mut InviterSession<'_, BUF>,
    identity: &Identity,
    target: Target,
    invitation: &Invitation<'_>,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<Answer<'s>, InviteError> {
    invite(
        session,
        bob_endpoint(),
        identity,
        target,
        invitation,
        rng,
        core::future::pending(),
    )
    .await
}

/// Runs `inviting` while Bob's `sessions` serve on [`PORT`] as Bob (his
/// random numbers from `rng(2)`), with `directory` and `app`, and returns
/// what it returns; Bob's `serve` stopping first fails the test.
pub(crate) async fn while_bob_serves<const N: usize, D, A, T>(
    sessions: &mut [InviteeSession<'_, BUF>; N],
    directory: &D,
    app: &A,
    inviting: impl Future<Output = T>,
) -> T
where
    D: Directory + 'static,
    A: Decide + ?Sized,
{
    let (identity, mut bobs_rng) = (bob(), rng(2));
    let serving = serve(sessions, PORT, &identity, directory, app, &mut bobs_rng);
    match select(serving, inviting).await {
        Either::First(stopped) => panic!("serve stopped: {stopped:?}"),
        Either::Second(got) => got,
    }
}

pub(crate) fn invitation() -> Invitation<'static> {
    Invitation::new(CHESS, "A game?", b"board=standard").unwrap()
}

/// The tests' timers: the defaults (5 minutes to answer, a 30-second
/// handshake, 10 seconds' grace).
pub(crate) fn config() -> Config {
    Config::default()
}

pub(crate) fn rng(seed: u8) -> rand_chacha::ChaCha20Rng {
    use rand_core::SeedableRng;
    rand_chacha::ChaCha20Rng::from_seed([seed; 32])
}

/// What Bob's device does: decide after `delay` (or never), and remember
/// everything it was shown and told.
pub(crate) struct Bob {
    pub(crate) decision: Option<Decision<'static>>,
    pub(crate) delay: Duration,
    pub(crate) shown: RefCell<Vec<(Prompt, String, Vec<u8>)>>,
    pub(crate) launched: RefCell<Vec<(Launch, String, Vec<u8>)>>,
    pub(crate) finished: RefCell<Vec<InviteeOutcome>>,
    /// Decisions under way, and those dropped before they completed (the
    /// prompt withdrawn).
    pub(crate) deciding: Cell<u32>,
    pub(crate) withdrawn: Cell<u32>,
}

impl Bob {
    pub(crate) fn new(decision: Option<Decision<'static>>, delay: Duration) -> Self {
        Bob {
            decision,
            delay,
            shown: RefCell::default(),
            launched: RefCell::default(),
            finished: RefCell::default(),
            deciding: Cell::new(0),
            withdrawn: Cell::new(0),
        }
    }

    /// Accepts after two seconds.
    pub(crate) fn accepting() -> Self {
        Bob::new(
            Some(Decision::Accept {
                message: Message::new("Sure").unwrap(),
            }),
            Duration::from_secs(2),
        )
    }

    /// Never decides.
    pub(crate) fn away() -> Self {
        Bob::new(None, Duration::from_secs(0))
    }

    pub(crate) fn outcomes(&self) -> Vec<InviteeOutcome> {
        self.finished.borrow().clone()
    }
}

/// Counts a decision as withdrawn if it is dropped before it completes.
struct Deciding<'a>(&'a Bob, bool);

impl Drop for Deciding<'_> {
    fn drop(&mut self) {
        self.0.deciding.set(self.0.deciding.get() - 1);
        if !self.1 {
            self.0.withdrawn.set(self.0.withdrawn.get() + 1);
        }
    }
}

impl Decide for Bob {
    fn show(&self, prompt: &Prompt, invitation: &Invitation<'_>) {
        self.shown.borrow_mut().push((
            *prompt,
            invitation.message().to_owned(),
            invitation.data().to_vec(),
        ));
    }

    async fn decide(&self, _prompt: Prompt) -> Decision<'_> {
        self.deciding.set(self.deciding.get() + 1);
        let mut guard = Deciding(self, false);
        let Some(decision) = self.decision else {
            return std::future::pending().await;
        };
        Timer::after(self.delay).await;
        guard.1 = true;
        decision
    }

    fn launch(&self, launch: &Launch, invitation: &Invitation<'_>) {
        self.launched.borrow_mut().push((
            *launch,
            invitation.message().to_owned(),
            invitation.data().to_vec(),
        ));
    }

    fn finished(&self, outcome: &InviteeOutcome) {
        self.finished.borrow_mut().push(*outcome);
    }
}

/// Alice's key, for assertions.
pub(crate) fn alice_key() -> PublicKey {
    alice().public_key()
}

// ---------------------------------------------------------------------------
// One exchange, end to end.

/// What Alice got, and how much virtual time her `invite` took.
pub(crate) type Got = (Result<(Response, PublicKey, String), InviteError>, Duration);

/// How an exchange is set up.
pub(crate) struct Setup<'a> {
    pub(crate) bob: &'a Bob,
    pub(crate) directory: &'a Dir,
    pub(crate) target: Target,
    /// Prepares the link before anything is sent.
    pub(crate) link: &'a dyn Fn(&Link),
    /// How long Alice waits before she cancels, if she does.
    pub(crate) cancel_after: Option<Duration>,
    /// Alice drops her `invite` future as soon as Bob is shown the
    /// invitation; she then gets `Err(Failed(Cancelled))` here.
    pub(crate) walk_away_when_shown: bool,
    /// Whether to wait, after Alice's call returns, for Bob's session to
    /// finish too.
    pub(crate) wait_for_bob: bool,
}

impl<'a> Setup<'a> {
    pub(crate) fn new(bob: &'a Bob, directory: &'a Dir) -> Self {
        Setup {
            bob,
            directory,
            target: Target::Contact(beckon_testkit::bob().public_key()),
            link: &|_| {},
            cancel_after: None,
            walk_away_when_shown: false,
            wait_for_bob: true,
        }
    }
}

/// Polls `done` every 100 ms of virtual time until it holds, for at most
/// `max`; returns whether it did.
pub(crate) async fn eventually(max: Duration, done: impl Fn() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if since(start) > max {
            return false;
        }
        Timer::after(Duration::from_millis(100)).await;
    }
    true
}

/// Alice invites Bob once over two fresh stacks, Bob serving through two
/// sessions; then the world runs until Bob's side has finished too (at most
/// a minute more). Returns what Alice got.
pub(crate) fn exchange(setup: Setup<'_>) -> Got {
    let link = Link::new();
    (setup.link)(&link);
    let mut resources = Resources::<2, 2>::new();
    let ((stack_a, mut runner_a), (stack_b, mut runner_b)) = resources.stacks(&link);

    let (mut rx_a, mut tx_a) = ([0u8; 512], [0u8; 512]);
    let mut alice_session =
        InviterSession::<BUF>::new(stack_a, &mut rx_a, &mut tx_a).with_config(config());
    let mut bufs_b = [[0u8; 512]; 4];
    let mut bob_sessions = two_sessions(stack_b, &mut bufs_b).map(|s| s.with_config(config()));
    let alice = alice();
    let mut rng_a = rng(1);
    let invitation = invitation();

    let world = async {
        let inviting = async {
            let start = Instant::now();
            let cancel = async {
                match setup.cancel_after {
                    Some(after) => Timer::after(after).await,
                    None => std::future::pending().await,
                }
            };
            let inviting = async {
                invite(
                    &mut alice_session,
                    bob_endpoint(),
                    &alice,
                    setup.target,
                    &invitation,
                    &mut rng_a,
                    cancel,
                )
                .await
                .map(|a| (a.response, a.responder, a.message.to_owned()))
            };
            let walk_away = async {
                if setup.walk_away_when_shown {
                    eventually(Duration::from_secs(600), || {
                        !setup.bob.shown.borrow().is_empty()
                    })
                    .await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let got = match select(inviting, walk_away).await {
                Either::First(got) => got,
                Either::Second(()) => Err(InviteError::Failed(SessionError::Cancelled)),
            };
            let elapsed = since(start);
            if setup.wait_for_bob {
                let bob_done = eventually(Duration::from_secs(60), || {
                    !setup.bob.finished.borrow().is_empty()
                })
                .await;
                assert!(bob_done, "Bob's side never finished");
            }
            (got, elapsed)
        };
        while_bob_serves(&mut bob_sessions, setup.directory, setup.bob, inviting).await
    };
    simulate(
        Duration::from_secs(900),
        vec![runner(&mut runner_a), runner(&mut runner_b)],
        world,
    )
}
