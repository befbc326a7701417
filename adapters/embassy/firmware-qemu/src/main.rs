//! An example Beckon firmware for QEMU's mps2-an386 board: the invitee.
//!
//! It serves invitations on port 7464 of 10.0.2.15 (QEMU's user network),
//! over the board's LAN9118 Ethernet, with beckon-embassy's `serve`. Its
//! directory is compiled in: one trusted contact (the demo inviter of
//! `keys/inviter/`), one registered application (chess), the policy
//! "trusted contacts only". So:
//!
//! * the trusted inviter's invitation is accepted at once, and the
//!   firmware logs a `launch:` line (the inviter's fingerprint, the
//!   application, the message);
//! * anyone else is refused by the core, by the directory's policy;
//! * an invitation whose message is `ignore` is never answered: it expires
//!   after [`ANSWER_WITHIN`] (5 s; the core's `response_timeout`).
//!
//! The log goes out through semihosting (QEMU's standard output). After
//! each exchange it gives the outcome, the stack's high-water mark since
//! serving began (the stack is painted at reset, and again once set up)
//! and the busy time the exchange took (see `executor.rs`: instructions
//! under `-icount shift=0`), from the end of the previous exchange to the
//! end of this one; and, when a prompt was shown, the busy time, the
//! (virtual) time and the wake-ups from the prompt to the end: what
//! waiting for the decision costs.
//!
//! The keys are demo keys, public in this repository (`keys/`).

#![no_std]
#![no_main]

mod executor;
mod lan9118;
mod rng;
/// Stack painting, shared with the footprint images.
#[path = "../../footprint/src/stack.rs"]
mod stack;
mod time;

/// The compiled-in secrets, from `build.rs`.
mod keys {
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

use core::cell::Cell;
use core::future::Future;

use beckon_core::wire::buffer_size;
use beckon_core::{
    ApplicationId, Config, Contact, Decision, FixedDirectory, Identity, Invitation, InviteeOutcome,
    Launch, Message, Policy, Prompt, PublicKey,
};
use beckon_embassy::{serve, Decide, InviteeSession};
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use embassy_net::{Ipv4Address, Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_time::Duration;
use heapless::Vec;
use rand_core::Rng;
use static_cell::StaticCell;

use crate::lan9118::Lan9118;
use crate::rng::DemoRng;

/// Beckon's port.
const PORT: u16 = 7464;
/// The board's address on QEMU's user network (its defaults).
const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
/// A locally administered MAC address (QEMU's default one).
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
/// The application-data limit: 512 bytes.
const BUF: usize = buffer_size(512);
/// Connections served at once (each a socket and an invitee, 3.5 KiB).
const SESSIONS: usize = 2;
/// How long an invitation may stay unanswered before it expires.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// The message that makes this device leave an invitation unanswered.
const IGNORE: &str = "ignore";
/// What the device answers when it accepts.
const ANSWER: &str = "launched on firmware-qemu";

/// The registered application: chess (a fixed UUID,
/// 67e55044-10b1-426f-9247-bb680e5fe0c8).
const CHESS: ApplicationId = ApplicationId::from_bytes([
    0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f, 0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8,
]);
/// The trusted inviter's contact card (DEMO ONLY: keys/inviter/).
const INVITER_CARD: &str = include_str!("../keys/inviter/id_ed25519.pub");

/// One contact, one application, names up to 32 bytes.
type Directory = FixedDirectory<1, 1, 32>;

/// Logs a line through semihosting. The time it takes is left out of the
/// busy time (see `executor.rs`).
macro_rules! log {
    ($($arg:tt)*) => {{
        let start = crate::time::clock_ticks();
        hprintln!($($arg)*);
        crate::executor::exclude(crate::time::clock_ticks().saturating_sub(start));
    }};
}

/// Ends QEMU with a failure.
fn fail(what: &str) -> ! {
    hprintln!("firmware-qemu: FAILED: {}", what);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(mut core) = cortex_m::Peripherals::take() else {
        fail("core peripherals")
    };
    time::start(&mut core.SYST);
    executor::run(|spawner| match device(spawner) {
        Ok(task) => spawner.spawn(task),
        Err(_) => fail("spawn"),
    })
}

/// The external interrupts: the Ethernet's (13) and the alarm timer's (8).
/// No device crate: the default handler gets every interrupt. cortex-m-rt
/// has a default handler declared `unsafe fn`; its body does nothing
/// unsafe.
#[exception]
unsafe fn DefaultHandler(irqn: i16) {
    if irqn == lan9118::IRQ as i16 {
        lan9118::on_interrupt();
    } else if irqn == time::TIMER_IRQ as i16 {
        time::on_timer();
    }
}

/// The device's side of the exchange: accepts the invitations that pass
/// the policy, except those it is told to ignore.
struct Device {
    /// Whether the invitation being shown asked to be ignored.
    ignore: Cell<bool>,
    /// Exchanges finished so far.
    exchanges: Cell<u32>,
    /// The busy time at the end of the previous exchange.
    busy_mark: Cell<u64>,
    /// When the prompt of the exchange in progress was shown, if it was.
    shown: Cell<Option<Mark>>,
}

/// A moment of an exchange: the busy time, the clock and the wake-ups.
#[derive(Clone, Copy)]
struct Mark {
    busy: u64,
    clock: u64,
    wakeups: u32,
}

impl Mark {
    fn now() -> Self {
        Mark {
            busy: executor::busy_ticks(),
            clock: time::clock_ticks(),
            wakeups: executor::wakeups(),
        }
    }
}

impl Decide for Device {
    fn show(&self, prompt: &Prompt, invitation: &Invitation<'_>) {
        self.shown.set(Some(Mark::now()));
        log!(
            "prompt: inviter {} application {} message {:?}",
            prompt.inviter.fingerprint(),
            prompt.application,
            invitation.message()
        );
        self.ignore.set(invitation.message() == IGNORE);
    }

    // Not an `async fn`: the flag is read now, when the prompt is shown,
    // not when the future is first polled.
    fn decide(&self, _prompt: Prompt) -> impl Future<Output = Decision<'_>> {
        let ignore = self.ignore.get();
        async move {
            if ignore {
                log!("decide: ignoring it (it will expire)");
                core::future::pending::<()>().await;
            }
            // ANSWER is well under 255 characters: `truncated` keeps it whole.
            Decision::Accept {
                message: Message::truncated(ANSWER),
            }
        }
    }

    fn launch(&self, launch: &Launch, invitation: &Invitation<'_>) {
        log!(
            "launch: inviter {} application {} message {:?} data {} bytes",
            launch.inviter.fingerprint(),
            launch.application,
            invitation.message(),
            invitation.data().len()
        );
    }

    fn finished(&self, outcome: &InviteeOutcome) {
        let end = Mark::now();
        let spent = end.busy.saturating_sub(self.busy_mark.replace(end.busy));
        let n = self.exchanges.get() + 1;
        self.exchanges.set(n);
        let outcome = match outcome {
            InviteeOutcome::Accepted(_) => "accepted",
            InviteeOutcome::Declined => "declined",
            InviteeOutcome::Expired => "expired",
            InviteeOutcome::Cancelled => "cancelled",
            InviteeOutcome::Refused(_) => "refused",
            InviteeOutcome::Error { .. } => "error",
            InviteeOutcome::Evicted { .. } => "evicted",
            InviteeOutcome::Failed(_) => "failed",
        };
        // 40 ns per 25 MHz tick: nanoseconds, which under
        // `-icount shift=0` are instructions.
        // The stack's high-water mark is read inside `log!`: scanning the
        // painted stack is measurement, left out of the busy time with the
        // logging.
        let busy = spent * 40;
        match self.shown.take() {
            Some(shown) => log!(
                "exchange {}: {}; peak stack {} bytes; busy {} ns; from the prompt: busy {} ns in {} ms, {} wake-ups",
                n,
                outcome,
                stack::peak(),
                busy,
                end.busy.saturating_sub(shown.busy) * 40,
                end.clock.saturating_sub(shown.clock) / u64::from(time::CORE_HZ / 1000),
                end.wakeups.wrapping_sub(shown.wakeups)
            ),
            None => log!(
                "exchange {}: {}; peak stack {} bytes; busy {} ns",
                n,
                outcome,
                stack::peak(),
                busy
            ),
        }
    }
}

static RESOURCES: StaticCell<StackResources<{ SESSIONS + 1 }>> = StaticCell::new();
static BUFFERS: StaticCell<[[u8; 1024]; 2 * SESSIONS]> = StaticCell::new();
static INVITEES: StaticCell<[InviteeSession<'static, BUF>; SESSIONS]> = StaticCell::new();
static DIRECTORY: StaticCell<Directory> = StaticCell::new();

/// What serving needs, set up.
struct Served {
    identity: Identity,
    directory: &'static Directory,
    invitees: &'static mut [InviteeSession<'static, BUF>; SESSIONS],
    rng: DemoRng,
}

/// Sets up the identity, the directory, the Ethernet and the network
/// stack (whose runner it spawns), and the sessions. Not inlined into the
/// task, so that its temporaries do not enlarge the task's stack frame
/// while it serves.
#[inline(never)]
fn set_up(spawner: embassy_executor::Spawner) -> Served {
    let identity = Identity::from_seed(&keys::FIRMWARE_SEED);
    let key = identity.public_key();
    log!("firmware-qemu: card {}", key.to_openssh("firmware-qemu"));
    log!("firmware-qemu: fingerprint {}", key.fingerprint());

    let Ok((trusted, _)) = PublicKey::parse_openssh(INVITER_CARD.trim()) else {
        fail("keys/inviter/id_ed25519.pub does not parse")
    };
    let directory = DIRECTORY.init(Directory::new(Policy::TrustedOnly));
    let built = Contact::new(trusted, "inviter", "Demo inviter")
        .and_then(|contact| directory.add_contact(contact))
        .and_then(|()| directory.register(CHESS, "Chess"));
    if built.is_err() {
        fail("directory");
    }
    log!(
        "firmware-qemu: trusts {} (inviter); application {} (Chess); policy trusted contacts only",
        trusted.fingerprint(),
        CHESS
    );

    let (ethernet, id) = match Lan9118::take(MAC) {
        Ok(found) => found,
        Err(_) => fail("no LAN9118"),
    };
    log!(
        "firmware-qemu: LAN9118 id {:#010x}, link {}",
        id,
        if ethernet.link_up() { "up" } else { "down" }
    );
    lan9118::enable_interrupt();

    let mut rng = DemoRng::new();
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(ADDRESS, 24),
        gateway: Some(GATEWAY),
        dns_servers: Vec::new(),
    });
    let resources = RESOURCES.init(StackResources::new());
    let (stack, runner) = embassy_net::new(ethernet, config, resources, rng.next_u64());
    match net(runner) {
        Ok(task) => spawner.spawn(task),
        Err(_) => fail("spawn net"),
    }

    let session = Config {
        response_timeout: ANSWER_WITHIN,
        handshake_timeout: Duration::from_secs(10),
        grace: Duration::from_secs(2),
        ..Config::default()
    };
    let [b0, b1, b2, b3] = BUFFERS.init([[0; 1024]; 2 * SESSIONS]);
    let invitees = INVITEES.init_with(|| {
        [
            InviteeSession::new(stack, b0, b1).with_config(session),
            InviteeSession::new(stack, b2, b3).with_config(session),
        ]
    });
    Served {
        identity,
        directory,
        invitees,
        rng,
    }
}

#[embassy_executor::task]
async fn device(spawner: embassy_executor::Spawner) {
    let Served {
        identity,
        directory,
        invitees,
        mut rng,
    } = set_up(spawner);
    // The stack's high-water mark so far (boot and set-up); then paint it
    // again, so that each exchange's line gives the peak of serving alone
    // (the stack in use at this point included).
    log!("firmware-qemu: peak stack at boot {} bytes", stack::peak());
    stack::paint();
    log!(
        "firmware-qemu: listening on {}:{} (answers within {} s; message {:?} is left to expire)",
        ADDRESS,
        PORT,
        ANSWER_WITHIN.as_secs(),
        IGNORE
    );
    // The first exchange counts from here: the set-up (the Ed25519 key
    // derivation) and the painting (about 100 KiB of stores) are left out.
    let device = Device {
        ignore: Cell::new(false),
        exchanges: Cell::new(0),
        busy_mark: Cell::new(executor::busy_ticks()),
        shown: Cell::new(None),
    };
    let serving = serve(invitees, PORT, &identity, directory, &device, &mut rng);
    let Err(e) = serving.await;
    log!("firmware-qemu: serve failed: {:?}", e);
    fail("serve")
}

/// embassy-net's runner: moves frames between the stack and the driver.
/// In a task of its own: every use of a socket wakes the runner, so a
/// runner that shared a task (a `select`) with the sockets' users would
/// have that task wake itself on every poll and spin.
#[embassy_executor::task]
async fn net(mut runner: embassy_net::Runner<'static, Lan9118>) -> ! {
    runner.run().await
}

/// A panic ends QEMU with a failure (the libraries are written never to
/// panic; this handler only has to exist).
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware-qemu: panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
