//! Puts memory.x where cortex-m-rt's link.x finds it, compiles in the demo
//! identity (keys/), and draws the build-time RNG seed.

use std::io::Read;
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::copy("memory.x", out.join("memory.x")).expect("memory.x is readable");
    println!("cargo:rustc-link-search={}", out.display());

    // The firmware's demo identity: a 32-byte ed25519 seed, in hex.
    let hex = fs::read_to_string("keys/firmware-seed.hex").expect("keys/firmware-seed.hex");
    let seed = parse_hex32(hex.trim()).expect("keys/firmware-seed.hex holds 64 hex digits");

    // The RNG seed: fresh from the build machine's OS on every build. The
    // board has no TRNG; see src/rng.rs. A real board uses its hardware RNG.
    let mut rng_seed = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut rng_seed))
        .expect("/dev/urandom is readable");

    let code = format!(
        "/// The firmware's ed25519 seed (DEMO ONLY: from keys/firmware-seed.hex).\n\
         pub const FIRMWARE_SEED: [u8; 32] = {seed:?};\n\
         /// Random bytes drawn when this image was built (see src/rng.rs).\n\
         pub const BUILD_RNG_SEED: [u8; 32] = {rng_seed:?};\n"
    );
    fs::write(out.join("generated.rs"), code).expect("OUT_DIR is writable");

    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=keys/firmware-seed.hex");
    println!("cargo:rerun-if-changed=build.rs");
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
