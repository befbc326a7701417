//! Launching the registered command of an accepted invitation.

use std::io;
use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tracing::debug;

use beckon_tokio::LaunchInfo;

/// The environment variables a launched command receives.
pub mod env {
    /// The inviter's nickname in the directory, or empty for a stranger.
    pub const INVITER: &str = "BECKON_INVITER";
    /// The inviter's key as an OpenSSH line, `ssh-ed25519 AAAA...`.
    pub const INVITER_KEY: &str = "BECKON_INVITER_KEY";
    /// The inviter's fingerprint, `SHA256:...`.
    pub const FINGERPRINT: &str = "BECKON_FINGERPRINT";
    /// The application's id, a hyphenated UUID.
    pub const APP: &str = "BECKON_APP";
    /// The invitation's message.
    pub const MESSAGE: &str = "BECKON_MESSAGE";
    /// The inviter's address, `ip:port` (`[ip]:port` for IPv6).
    pub const ENDPOINT: &str = "BECKON_ENDPOINT";
}

/// The command for an accepted invitation, ready to spawn: `program` with
/// `args`, the [`env`](mod@env) variables set, stdin piped (for the data), stdout
/// and stderr inherited. For callers that want to adjust it before
/// spawning; [`launch`] spawns it and feeds the data.
///
/// An environment value cannot hold a NUL byte: any NUL in the message or
/// nickname (which come from people) is replaced by U+FFFD.
pub fn launch_command(
    program: &str,
    args: &[String],
    info: &LaunchInfo,
    inviter_nickname: Option<&str>,
) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env(env::INVITER, no_nul(inviter_nickname.unwrap_or("")))
        .env(env::INVITER_KEY, info.inviter.to_string())
        .env(env::FINGERPRINT, &info.fingerprint)
        .env(env::APP, info.application.to_string())
        .env(env::MESSAGE, no_nul(&info.message))
        .env(env::ENDPOINT, info.endpoint.to_string())
        .stdin(Stdio::piped());
    command
}

/// Launches the registered command of an accepted invitation: `program`
/// with `args` and the [`env`](mod@env) variables (`BECKON_INVITER`,
/// `BECKON_INVITER_KEY`, `BECKON_FINGERPRINT`, `BECKON_APP`,
/// `BECKON_MESSAGE`, `BECKON_ENDPOINT`), the application data on its
/// stdin. Returns the running child; its stdin is written by a background
/// task and then closed (a command that does not read it is not blocked).
/// Wait for it with [`Child::wait`], or use [`launch_and_wait`].
pub async fn launch(
    program: &str,
    args: &[String],
    info: &LaunchInfo,
    inviter_nickname: Option<&str>,
) -> io::Result<Child> {
    let mut child = launch_command(program, args, info, inviter_nickname).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        let data = info.data.clone();
        tokio::spawn(async move {
            // A command that exits without reading gets a broken pipe here;
            // that is its business.
            if let Err(e) = stdin.write_all(&data).await {
                debug!(error = %e, "launched command did not take all its data");
            }
            let _ = stdin.shutdown().await;
        });
    }
    Ok(child)
}

/// [`launch`], then waits for the command to exit.
pub async fn launch_and_wait(
    program: &str,
    args: &[String],
    info: &LaunchInfo,
    inviter_nickname: Option<&str>,
) -> io::Result<ExitStatus> {
    launch(program, args, info, inviter_nickname)
        .await?
        .wait()
        .await
}

/// The code of the Error answer (protocol §9.3) for a launch that failed
/// with `error`: not found, permission denied, or another failure.
pub fn failure_code(error: &io::Error) -> u32 {
    match error.kind() {
        io::ErrorKind::NotFound => beckon_core::Response::ERROR_LAUNCH_NOT_FOUND,
        io::ErrorKind::PermissionDenied => beckon_core::Response::ERROR_LAUNCH_DENIED,
        _ => beckon_core::Response::ERROR_LAUNCH_FAILED,
    }
}

/// Why a launch failed, in words fit for the inviter (no local paths).
pub fn failure_reason(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::NotFound => "its program was not found",
        io::ErrorKind::PermissionDenied => "its program may not be run (permission denied)",
        _ => "its program could not be started",
    }
}

fn no_nul(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}
