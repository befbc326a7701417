//! The bytes on the stream: framing, payload encodings and their bounds.
//!
//! This module is the bottom layer, above only [`error`](crate::error). It
//! knows nothing of keys or sessions: [`frame`] splits the stream into
//! frames, [`payload`] encodes what is inside them, and [`buffer_size`]
//! says how big a state machine's buffer must be for a given data limit.
//! It is public so that fuzzers and other implementations can reach the
//! decoders; `docs/protocol.md` §4–§5 is its specification.

pub(crate) mod buffer;
pub mod frame;
pub mod payload;

pub use frame::{buffer_size, max_data_for, FrameKind};
