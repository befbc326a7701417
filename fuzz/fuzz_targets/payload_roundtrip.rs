//! `payload_roundtrip`: every payload decoder on the input; whatever
//! decodes re-encodes to the very same bytes and decodes again to an equal
//! value. The properties are in the shared harness,
//! `beckon_testkit::fuzz` (`tests/kit/src/fuzz/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beckon_testkit::fuzz::payload_roundtrip(data));
