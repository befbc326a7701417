//! The random number generator: ChaCha20, seeded at build time.
//!
//! **This is a demo stand-in.** mps2-an386 has no hardware random number
//! generator, and neither has QEMU's model of it, so nothing in the guest
//! is unpredictable. The seed is 32 bytes that `build.rs` draws from the
//! build machine's `/dev/urandom`, compiled into the image: every image
//! differs, but whoever has the image knows its seed. Before each draw the
//! generator rekeys itself from its own output mixed with two timers (the
//! SysTick count and the LAN9118's free-running counter), whose values
//! depend on when packets arrived: weak, guessable entropy, better than
//! none, not a substitute.
//!
//! **A real board must use its hardware RNG** (or a seed provisioned per
//! device and kept secret), because the ephemeral keys of every exchange
//! come from here.

use core::convert::Infallible;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};

use crate::keys::BUILD_RNG_SEED;
use crate::{lan9118, time};

/// The demo generator (see the module's documentation).
pub struct DemoRng(ChaCha20Rng);

impl DemoRng {
    /// The generator, from the build-time seed and the timers.
    pub fn new() -> Self {
        let mut rng = DemoRng(ChaCha20Rng::from_seed(BUILD_RNG_SEED));
        rng.rekey();
        rng
    }

    /// Rekeys from 32 bytes of output mixed with the timers: earlier
    /// output cannot be recomputed from the new state, and the timing of
    /// the exchange so far goes in.
    fn rekey(&mut self) {
        let mut key = [0u8; 32];
        self.0.fill_bytes(&mut key);
        let timing = time::clock_ticks().to_le_bytes();
        let free_run = lan9118::free_run().to_le_bytes();
        for (k, t) in key.iter_mut().zip(timing.iter().chain(free_run.iter())) {
            *k ^= t;
        }
        self.0 = ChaCha20Rng::from_seed(key);
    }
}

impl TryRng for DemoRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.rekey();
        Ok(self.0.next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.rekey();
        Ok(self.0.next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.rekey();
        self.0.fill_bytes(dst);
        Ok(())
    }
}

impl TryCryptoRng for DemoRng {}
