//! `payload_roundtrip`: every payload decoder on the input; whatever
//! decodes re-encodes to the very same bytes and decodes again to an equal
//! value. The properties are in the shared harness,
//! `core/tests/fuzz_harness/`.
#![no_main]

#[path = "../../core/tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::payload_roundtrip(data));
