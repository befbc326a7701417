//! Launching the registered command of an accepted invitation.
//!
//! **Every value given to the command comes from the inviter** except
//! [`env::INVITER`] (your own name for them) and is untrusted input: the
//! key and fingerprint are proven, but the message, the data, and under
//! the `anyone` policy everything about the inviter come from whoever
//! connected. Quote them, never `eval` them, and parse the data as hostile
//! bytes.

use std::io;
use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncWriteExt;
use tokio::process::{Child, Command};
use tracing::debug;

use beckon_tokio::LaunchInfo;

use crate::store::DataMode;

/// The environment variables a launched command receives. All but
/// `BECKON_INVITER` carry the inviter's input (see the module's documentation).
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
    /// With `--data file` (the default): the path of a 0600 temporary
    /// file holding the invitation's data (the inviter's bytes), removed
    /// after the command exits.
    pub const DATA_FILE: &str = "BECKON_DATA_FILE";
}

/// A launched command, and the data file it was given (removed once the
/// command has exited and this is dropped, or waited for).
#[derive(Debug)]
pub struct Launched {
    child: Child,
    data_file: Option<tempfile::TempPath>,
}

impl Launched {
    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits for the command to exit, then removes its data file.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await;
        self.data_file = None;
        status
    }

    /// Asks the command to stop (SIGKILL), without waiting.
    pub fn start_kill(&mut self) -> io::Result<()> {
        self.child.start_kill()
    }
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
/// `BECKON_MESSAGE`, `BECKON_ENDPOINT`), the application data as `data`
/// says: in a 0600 temporary file named by `BECKON_DATA_FILE` (stdin left
/// to the terminal), on its stdin (written by a background task, then
/// closed: a command that does not read it is not blocked), or not at
/// all. Wait for it with `Launched::wait`, or use [`launch_and_wait`].
///
/// # Errors
///
/// The error of spawning it: see [`failure_code`] for the answer it
/// makes.
pub async fn launch(
    program: &str,
    args: &[String],
    info: &LaunchInfo,
    inviter_nickname: Option<&str>,
    data: DataMode,
) -> io::Result<Launched> {
    let mut command = launch_command(program, args, info, inviter_nickname);
    let mut data_file = None;
    match data {
        DataMode::Stdin => {}
        DataMode::File => {
            // tempfile creates it exclusively, mode 0600 on Unix.
            let mut file = tempfile::Builder::new().prefix("beckon-data-").tempfile()?;
            std::io::Write::write_all(&mut file, &info.data)?;
            command
                .env(env::DATA_FILE, file.path())
                .stdin(Stdio::inherit());
            data_file = Some(file.into_temp_path());
        }
        DataMode::None => {
            command.stdin(Stdio::inherit());
        }
    }
    let mut child = command.spawn()?;
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
    Ok(Launched { child, data_file })
}

/// [`launch`], then waits for the command to exit.
pub async fn launch_and_wait(
    program: &str,
    args: &[String],
    info: &LaunchInfo,
    inviter_nickname: Option<&str>,
    data: DataMode,
) -> io::Result<ExitStatus> {
    launch(program, args, info, inviter_nickname, data)
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
