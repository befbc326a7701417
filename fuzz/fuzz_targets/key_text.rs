//! `key_text`: the `ssh-ed25519` line, `SHA256:` fingerprint and UUID
//! parsers; whatever parses prints back to a text that parses to the same
//! value, and keys and ids made from raw bytes round-trip through text. The
//! properties are in the shared harness, `beckon_testkit::fuzz`
//! (`tests/kit/src/fuzz/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beckon_testkit::fuzz::key_text(data));
