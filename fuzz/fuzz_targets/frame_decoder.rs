//! `frame_decoder`: arbitrary bytes, cut into arbitrary chunks, into both
//! state machines' input path (the chunked and the whole run must agree),
//! and every payload decoder on the stream and on each frame's body. Input:
//! a mode byte (directory, buffer size, target), a 2-byte chunking seed,
//! the stream. The properties are in the shared harness,
//! `beckon_testkit::fuzz` (`tests/kit/src/fuzz/`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| beckon_testkit::fuzz::frame_decoder(data));
