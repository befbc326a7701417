//! A small `embassy-net-driver` for the SMSC LAN9118 Ethernet controller,
//! as QEMU's mps2-an386 board has it: memory-mapped at 0x4020_0000, its
//! interrupt on line 13 of the NVIC (QEMU's hw/arm/mps2.c).
//!
//! Follows the SMSC LAN9118 datasheet, restricted to what QEMU's model
//! (hw/net/lan9118.c) implements:
//!
//! * **Receive** is interrupt-driven: the RX status FIFO level interrupt
//!   (RSFL, level 0: "one frame or more") raises line 13; the handler
//!   acknowledges it and wakes embassy-net's runner, which then pops the
//!   frames (status word, then the data words; the frame ends with its
//!   4-byte CRC, dropped here).
//! * **Transmit** writes TX command A and B and the frame's words into the
//!   TX data FIFO, one segment per frame. QEMU sends at once; a real chip
//!   queues up to 4.5 KiB, and when the FIFO lacks room for a full frame
//!   the driver asks to be polled again (no TX interrupt: a simplification
//!   a real board would replace with the TDFA interrupt).
//! * **Link**: the PHY's basic status register is read once, at start;
//!   QEMU's link is up from reset. A real board would watch the PHY's
//!   interrupt.
//!
//! All `unsafe` of the driver is in [`read`], [`write`](fn@write) and
//! [`enable_interrupt`]: volatile access to the controller's register
//! window, and unmasking its interrupt.

use core::cell::RefCell;
use core::ptr::{read_volatile, write_volatile};
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Waker};

use critical_section::Mutex;
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState, RxToken, TxToken};
use static_cell::StaticCell;

/// The controller's register window on mps2-an386.
const BASE: usize = 0x4020_0000;
/// Its interrupt line (external interrupt 13 on the AN385/AN386 images).
pub const IRQ: u16 = 13;

/// An Ethernet frame without its CRC: 14 bytes of header, 1500 of payload.
const MTU: usize = 1514;
/// Room for a received frame with its CRC, in whole words.
const RX_BUF: usize = 1520;

// Register offsets (datasheet section 5.3).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const ID_REV: usize = 0x50;
const IRQ_CFG: usize = 0x54;
const INT_STS: usize = 0x58;
const INT_EN: usize = 0x5c;
const BYTE_TEST: usize = 0x64;
const FIFO_INT: usize = 0x68;
const RX_CFG: usize = 0x6c;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

// MAC control and status registers, reached through MAC_CSR_CMD/DATA.
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_MII_ACC: u32 = 6;
const MAC_MII_DATA: u32 = 7;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_CTRL_READY: u32 = 1;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
const MAC_CR_RXEN: u32 = 1 << 2;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_FDPX: u32 = 1 << 20;
const TX_CFG_TX_ON: u32 = 1 << 1;
/// Let the TX status FIFO overrun: nothing here reads it.
const TX_CFG_TXSAO: u32 = 1 << 2;
/// RX status FIFO level: interrupt when more than 0 frames wait (the
/// reset value of the other fields is kept).
const FIFO_INT_DEFAULT: u32 = 0x4800_0000;
const INT_RSFL: u32 = 1 << 3;
/// Interrupt enabled, active high, push-pull: what an NVIC input wants.
const IRQ_CFG_ON: u32 = (1 << 8) | (1 << 4) | 1;
const RX_STATUS_ERROR: u32 = 1 << 15;
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;
const PHY_ADDRESS: u32 = 1;
const PHY_BASIC_STATUS: u32 = 1;
const PHY_LINK_UP: u32 = 1 << 2;
/// Register polls before giving up on the chip.
const SPINS: u32 = 100_000;

/// Reads a controller register.
fn read(offset: usize) -> u32 {
    // SAFETY: BASE..BASE + 0x100 is the LAN9118's register window on this
    // board, not memory that Rust owns; `offset` is one of the word-aligned
    // register offsets above. A read may pop a FIFO in the device, which
    // only this module does.
    unsafe { read_volatile((BASE + offset) as *const u32) }
}

/// Writes a controller register.
fn write(offset: usize, value: u32) {
    // SAFETY: as in `read`: a word-aligned register of the device's window.
    unsafe { write_volatile((BASE + offset) as *mut u32, value) }
}

/// Unmasks the controller's interrupt in the NVIC. Call it once the
/// driver is set up: [`on_interrupt`] then runs on each received frame.
pub fn enable_interrupt() {
    #[derive(Clone, Copy)]
    struct Line;
    // SAFETY: `number` returns a valid interrupt number of this device.
    unsafe impl cortex_m::interrupt::InterruptNumber for Line {
        fn number(self) -> u16 {
            IRQ
        }
    }
    // SAFETY: unmasking cannot break a critical section here: the
    // firmware's critical sections mask all interrupts through PRIMASK
    // (critical-section-single-core), not through the NVIC.
    unsafe { cortex_m::peripheral::NVIC::unmask(Line) }
}

/// Why the controller could not be set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// BYTE_TEST did not read 0x87654321: no LAN9118 there.
    NotFound(u32),
    /// The chip never left reset, or a MAC or PHY access never finished.
    Timeout,
    /// [`Lan9118::take`] was called twice.
    Taken,
}

/// The waker of embassy-net's runner, woken by [`on_interrupt`].
static RX_WAKER: Mutex<RefCell<Option<Waker>>> = Mutex::new(RefCell::new(None));
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The interrupt handler: acknowledges the controller's interrupts (its
/// line is level-triggered) and wakes the runner, which reads the frames.
pub fn on_interrupt() {
    write(INT_STS, read(INT_STS));
    critical_section::with(|cs| {
        if let Some(waker) = RX_WAKER.borrow_ref_mut(cs).take() {
            waker.wake();
        }
    });
}

fn register(waker: &Waker) {
    critical_section::with(|cs| {
        let mut slot = RX_WAKER.borrow_ref_mut(cs);
        match &*slot {
            Some(old) if old.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    });
}

/// The LAN9118's free-running counter (25 MHz), for the RNG's per-draw
/// timing input.
pub fn free_run() -> u32 {
    read(0x9c)
}

fn wait_until(mut done: impl FnMut() -> bool) -> Result<(), Error> {
    for _ in 0..SPINS {
        if done() {
            return Ok(());
        }
    }
    Err(Error::Timeout)
}

fn mac_write(register: u32, value: u32) -> Result<(), Error> {
    wait_until(|| read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0)?;
    write(MAC_CSR_DATA, value);
    write(MAC_CSR_CMD, MAC_CSR_BUSY | register);
    wait_until(|| read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0)
}

fn mac_read(register: u32) -> Result<u32, Error> {
    wait_until(|| read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0)?;
    write(MAC_CSR_CMD, MAC_CSR_BUSY | MAC_CSR_READ | register);
    wait_until(|| read(MAC_CSR_CMD) & MAC_CSR_BUSY == 0)?;
    Ok(read(MAC_CSR_DATA))
}

fn phy_read(register: u32) -> Result<u32, Error> {
    // MII_ACC: PHY address, register, read (bit 1 clear), busy (bit 0).
    mac_write(MAC_MII_ACC, (PHY_ADDRESS << 11) | (register << 6) | 1)?;
    wait_until(|| mac_read(MAC_MII_ACC).is_ok_and(|acc| acc & 1 == 0))?;
    mac_read(MAC_MII_DATA)
}

/// The controller, set up, as an embassy-net driver.
pub struct Lan9118 {
    mac: [u8; 6],
    link: bool,
    rx: &'static mut [u8; RX_BUF],
    tx: &'static mut [u8; MTU],
}

/// The driver's frame buffers, in static memory (not moved through the
/// stack with the driver).
static FRAMES: StaticCell<([u8; RX_BUF], [u8; MTU])> = StaticCell::new();

impl Lan9118 {
    /// Resets the controller and sets it up with this MAC address:
    /// receive and transmit on, full duplex, unicast to `mac` and
    /// broadcast, the receive interrupt enabled (still masked in the NVIC:
    /// see [`enable_interrupt`]). Returns the chip's ID_REV beside it.
    pub fn take(mac: [u8; 6]) -> Result<(Self, u32), Error> {
        if TAKEN.swap(true, Ordering::AcqRel) {
            return Err(Error::Taken);
        }
        let test = read(BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(Error::NotFound(test));
        }
        let id = read(ID_REV);
        write(HW_CFG, HW_CFG_SRST);
        wait_until(|| read(HW_CFG) & HW_CFG_SRST == 0)?;
        wait_until(|| read(PMT_CTRL) & PMT_CTRL_READY != 0)?;

        mac_write(
            MAC_ADDRL,
            u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
        )?;
        mac_write(MAC_ADDRH, u32::from(mac[4]) | (u32::from(mac[5]) << 8))?;
        let link = phy_read(PHY_BASIC_STATUS)? & PHY_LINK_UP != 0;

        write(RX_CFG, 0); // no offset, 4-byte end alignment
        write(TX_CFG, TX_CFG_TX_ON | TX_CFG_TXSAO);
        mac_write(MAC_CR, MAC_CR_TXEN | MAC_CR_RXEN | MAC_CR_FDPX)?;
        write(FIFO_INT, FIFO_INT_DEFAULT);
        write(INT_STS, u32::MAX);
        write(INT_EN, INT_RSFL);
        write(IRQ_CFG, IRQ_CFG_ON);
        // `TAKEN` makes this the only call that gets this far.
        let (rx, tx) = FRAMES.init_with(|| ([0; RX_BUF], [0; MTU]));
        Ok((Lan9118 { mac, link, rx, tx }, id))
    }

    /// Whether the PHY reported a link at start.
    pub fn link_up(&self) -> bool {
        self.link
    }
}

/// Reads the next frame into `buf`: its length without the CRC, or `None`
/// when no (good) frame waits. Bad frames are read and dropped.
fn pop_frame(buf: &mut [u8; RX_BUF]) -> Option<usize> {
    loop {
        if (read(RX_FIFO_INF) >> 16) & 0xff == 0 {
            return None;
        }
        let status = read(RX_STATUS_FIFO);
        // The length counts the 4-byte CRC at the end.
        let len = ((status >> 16) & 0x3fff) as usize;
        let words = len.div_ceil(4);
        let good = status & RX_STATUS_ERROR == 0 && (18..=RX_BUF).contains(&len);
        for i in 0..words {
            let word = read(RX_DATA_FIFO).to_le_bytes();
            if let Some(dst) = buf.get_mut(4 * i..4 * i + 4) {
                dst.copy_from_slice(&word);
            }
        }
        if good {
            return Some(len - 4);
        }
    }
}

/// A received frame, in the driver's receive buffer.
pub struct Rx<'a>(&'a mut [u8]);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

/// Room to send a frame: the driver's transmit buffer.
pub struct Tx<'a>(&'a mut [u8; MTU]);

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(MTU);
        let frame = &mut self.0[..len];
        let r = f(frame);
        // One segment: command A (first and last, its size), command B
        // (the frame's length), then the data, little-endian words.
        write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | len as u32);
        write(TX_DATA_FIFO, len as u32);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        r
    }
}

fn tx_room() -> bool {
    // TDFREE, in bytes: a full frame plus the two command words.
    (read(TX_FIFO_INF) & 0xffff) as usize >= MTU + 8
}

impl Driver for Lan9118 {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Rx<'_>, Tx<'_>)> {
        // Register first, then look: a frame that arrives in between
        // wakes the runner.
        register(cx.waker());
        if !tx_room() {
            cx.waker().wake_by_ref();
            return None;
        }
        let len = pop_frame(self.rx)?;
        Some((Rx(&mut self.rx[..len]), Tx(self.tx)))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Tx<'_>> {
        if tx_room() {
            Some(Tx(self.tx))
        } else {
            cx.waker().wake_by_ref();
            None
        }
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        if self.link {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
