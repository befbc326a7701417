//! `directory_file`: the desktop's file parsers (`beckon_desktop::store`).
//! Input: a selector byte (modulo 4: contacts, apps, policy, the OpenSSH
//! identity), then the file's bytes. Errors name the file and a line of it;
//! whatever parses renders back to a text that parses to an equal value,
//! renders the same again, is not much bigger than the input, and is
//! refused when cut short. The properties are in the shared harness,
//! `adapters/desktop/tests/fuzz_harness_store/mod.rs`.
#![no_main]

#[path = "../../adapters/desktop/tests/fuzz_harness_store/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::directory_file(data));
