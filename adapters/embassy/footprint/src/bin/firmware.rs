//! Footprint image (b): firmware-shaped. Image (a)'s parts plus
//! beckon-embassy and embassy-net: one stack on a loopback link (its
//! packets come back to it), serving invitations through one invitee
//! session while one inviter session invites it, over real TCP.
//!
//! As a firmware would, it brings what the library leaves to it: a time
//! driver (SysTick at 1 kHz), an executor (`embassy_futures::block_on`,
//! which polls in a loop), a network driver, and a random number generator
//! (here a stand-in; a device uses its TRNG).

#![no_std]
#![no_main]

use core::cell::Cell;
use core::convert::Infallible;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::{Context, Waker};

use beckon_core::{Decision, Invitation, Launch, Message, Prompt, Response, Target};
use beckon_embassy::{invite, serve, Decide, InviteeSession, InviterSession};
use beckon_footprint::{alice, bob, bobs_directory, invitation, report, stack, Failure, BUF};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use embassy_futures::block_on;
use embassy_futures::select::{select, select3, Either3};
use embassy_net::driver::{Capabilities, Driver, HardwareAddress, LinkState, RxToken, TxToken};
use embassy_net::{Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_time::{Duration, Timer};
use heapless::{Deque, Vec};
use static_cell::StaticCell;

/// The port Bob serves on.
const PORT: u16 = 4646;
/// The link's MTU: IPv4's minimum, to keep the loopback queue small.
const MTU: usize = 576;
/// The board's core clock (mps2-an386).
const CORE_HZ: u32 = 25_000_000;

// ---------------------------------------------------------------------------
// Time: SysTick counts milliseconds; embassy-time's ticks are microseconds.

static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

struct SysTickClock;

impl embassy_time_driver::Driver for SysTickClock {
    fn now(&self) -> u64 {
        u64::from(MILLIS.load(Ordering::Relaxed)) * 1000
    }
    fn schedule_wake(&self, _at: u64, _waker: &Waker) {
        // `block_on` polls without waiting, so no timer need wake it.
    }
}

embassy_time_driver::time_driver_impl!(static CLOCK: SysTickClock = SysTickClock);

// ---------------------------------------------------------------------------
// The network: a loopback link, raw IPv4 packets.

type Packet = Vec<u8, MTU>;

struct Loopback {
    queue: Deque<Packet, 4>,
}

struct Rx(Packet);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

struct Tx<'a>(&'a mut Deque<Packet, 4>);

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = Packet::new();
        let _ = packet.resize(len.min(MTU), 0);
        let r = f(&mut packet);
        // `transmit` hands out a token only when there is room.
        let _ = self.0.push_back(packet);
        r
    }
}

impl Driver for Loopback {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _cx: &mut Context<'_>) -> Option<(Rx, Tx<'_>)> {
        let packet = self.queue.pop_front()?;
        Some((Rx(packet), Tx(&mut self.queue)))
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<Tx<'_>> {
        (!self.queue.is_full()).then_some(Tx(&mut self.queue))
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ip
    }
}

// ---------------------------------------------------------------------------
// Randomness: a stand-in for the device's TRNG (xorshift64*, NOT a
// cryptographic generator: it only makes the image link what a real one
// would).

struct StandInRng(u64);

impl rand_core::TryRng for StandInRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.try_next_u64().map(|x| (x >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let x = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for StandInRng {}

// ---------------------------------------------------------------------------
// Bob's device: accepts at once, and launches.

struct AcceptAll {
    launched: Cell<bool>,
}

impl Decide for AcceptAll {
    async fn decide(&self, _prompt: Prompt) -> Decision<'_> {
        // At most 255 characters: `truncated` cannot fail.
        Decision::Accept {
            message: Message::truncated("Sure"),
        }
    }
    fn launch(&self, launch: &Launch, invitation: &Invitation<'_>) {
        self.launched
            .set(launch.application == invitation.application() && !invitation.data().is_empty());
    }
}

// ---------------------------------------------------------------------------

static RESOURCES: StaticCell<StackResources<2>> = StaticCell::new();
static BUFFERS: StaticCell<[[u8; 512]; 4]> = StaticCell::new();
static INVITER: StaticCell<InviterSession<'static, BUF>> = StaticCell::new();
static INVITEES: StaticCell<[InviteeSession<'static, BUF>; 1]> = StaticCell::new();

async fn run() -> Result<(), Failure> {
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Address::new(192, 0, 2, 1), 24),
        gateway: None,
        dns_servers: Vec::new(),
    });
    let link = Loopback {
        queue: Deque::new(),
    };
    let (stack, mut runner) =
        embassy_net::new(link, config, RESOURCES.init(StackResources::new()), 7);
    let [rx_a, tx_a, rx_b, tx_b] = BUFFERS.init([[0; 512]; 4]);
    let inviter = INVITER.init_with(|| InviterSession::new(stack, rx_a, tx_a));
    let invitees = INVITEES.init_with(|| [InviteeSession::new(stack, rx_b, tx_b)]);

    let (alice, bob) = (alice(), bob());
    let directory = bobs_directory(&alice)?;
    let invitation = invitation()?;
    let device = AcceptAll {
        launched: Cell::new(false),
    };
    let (mut rng_a, mut rng_b) = (StandInRng(0x0123_4567_89ab_cdef), StandInRng(0xfeed_f00d));

    let serving = serve(invitees, PORT, &bob, &directory, &device, &mut rng_b);
    let inviting = async {
        let answer = invite(
            inviter,
            (Ipv4Address::new(192, 0, 2, 1), PORT).into(),
            &alice,
            Target::Contact(bob.public_key()),
            &invitation,
            &mut rng_a,
            core::future::pending(),
        )
        .await;
        let accepted =
            matches!(answer, Ok(a) if a.response == Response::Accepted && a.message == "Sure");
        // Give the invitee's side a moment to finish and launch.
        Timer::after(Duration::from_millis(100)).await;
        accepted
    };
    match select3(runner.run(), serving, inviting).await {
        Either3::Third(true) if device.launched.get() => Ok(()),
        Either3::Third(_) => Err(Failure::Disagree),
        Either3::Second(_) => Err(Failure::Setup),
    }
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        report("firmware", Err(Failure::Setup))
    };
    core.SYST.set_clock_source(SystClkSource::Core);
    core.SYST.set_reload(CORE_HZ / 1000 - 1);
    core.SYST.clear_current();
    core.SYST.enable_interrupt();
    core.SYST.enable_counter();

    let result = block_on(async {
        // A hung exchange fails instead of spinning for ever.
        match select(run(), Timer::after(Duration::from_secs(120))).await {
            embassy_futures::select::Either::First(result) => result,
            embassy_futures::select::Either::Second(()) => Err(Failure::Stalled),
        }
    });
    report("firmware", result)
}
