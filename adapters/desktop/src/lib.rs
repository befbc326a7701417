//! # beckon-desktop
//!
//! The `beckon` command and Beckon's desktop integration, over the thin
//! tokio adapter [`beckon_tokio`]:
//!
//! * [`store`]: the Beckon home on disk (identity, contacts, application
//!   registrations, policy), in files people can read and edit;
//! * [`launch`]: starting the registered application of an accepted
//!   invitation, with the invitation in its environment;
//! * [`exit`]: the one table of exit codes that `beckon --help`, the README
//!   and every command share.
//!
//! The binary's own modules (argument parsing, terminal output) are not part
//! of this library's interface.

#![forbid(unsafe_code)]

pub mod exit;
mod launch;
pub mod store;

pub use launch::{env, failure_code, failure_reason, launch, launch_and_wait, launch_command};
