//! A session slot: one TCP socket on the caller's buffers, and room for one
//! state machine.

use beckon_core::{Config, Invitee, Inviter};
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;

use crate::io::is_closed;

/// One connection's worth of storage, owned by the caller and reused from
/// one exchange to the next: a [`TcpSocket`] over the caller's receive and
/// transmit buffers, and room for the core's state machine `M` (an
/// [`Inviter`] or an [`Invitee`], a few KiB for a 512-byte data limit).
///
/// Nothing is allocated: put sessions in a `static` (through `StaticCell`)
/// or in the task that owns them. The state machine of the last exchange
/// stays in the slot until the next one starts, so its outcome, the
/// answer's message or the invitation can still be read.
pub struct Session<'a, M> {
    pub(crate) socket: TcpSocket<'a>,
    pub(crate) machine: Option<M>,
    pub(crate) config: Config,
    pub(crate) completed: u32,
}

/// A slot for [`invite`](crate::invite). `BUF` is the core's buffer size:
/// use [`buffer_size`](beckon_core::wire::buffer_size) for the application
/// data limit you need (the default takes the protocol's 16 KiB).
pub type InviterSession<'a, const BUF: usize = { beckon_core::wire::DEFAULT_BUFFER }> =
    Session<'a, Inviter<BUF>>;

/// A slot for [`serve`](crate::serve) and [`answer`](crate::answer). `BUF`
/// bounds the invitations it takes in: larger ones are refused with
/// `Refusal::TooLarge`.
pub type InviteeSession<'a, const BUF: usize = { beckon_core::wire::DEFAULT_BUFFER }> =
    Session<'a, Invitee<BUF>>;

impl<'a, M> Session<'a, M> {
    /// A slot whose socket uses these buffers, with the default timers
    /// ([`Config::default`]). A few hundred bytes each are plenty: the
    /// core streams its frames through them.
    pub fn new(stack: Stack<'a>, rx_buffer: &'a mut [u8], tx_buffer: &'a mut [u8]) -> Self {
        Session {
            socket: TcpSocket::new(stack, rx_buffer, tx_buffer),
            machine: None,
            config: Config::default(),
            completed: 0,
        }
    }

    /// The same slot with these timers. They are checked when an exchange
    /// starts (a zero timeout is `InvalidArgument`). The grace period is
    /// also how long a finished connection may take to close before it is
    /// reset.
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The timers.
    pub fn config(&self) -> Config {
        self.config
    }

    /// The socket, for settings such as keep-alive or the hop limit. Leave
    /// connecting, accepting and closing to this crate.
    pub fn socket(&mut self) -> &mut TcpSocket<'a> {
        &mut self.socket
    }

    /// The last exchange's state machine, if one has started.
    pub fn state_machine(&self) -> Option<&M> {
        self.machine.as_ref()
    }

    /// How many exchanges this slot has run to their end (whatever the
    /// outcome).
    pub fn completed(&self) -> u32 {
        self.completed
    }

    /// Whether the slot is at rest: its socket is closed (or in TIME-WAIT),
    /// so the next exchange can start on it at once.
    pub fn is_idle(&self) -> bool {
        is_closed(&self.socket)
    }
}

/// The machine in `slot`, made with `idle` the first time. Out of line on
/// purpose: making one builds parts of it on the stack before they are
/// moved into the slot, and inlined into the futures that drive it those
/// temporaries (kilobytes) would stay in the executor's frame throughout
/// every exchange, down to its deepest call.
#[inline(never)]
pub(crate) fn idle_in<M>(slot: &mut Option<M>, idle: fn() -> M) -> &mut M {
    slot.get_or_insert_with(idle)
}
