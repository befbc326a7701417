//! The `beckon` command line: argument parsing, dispatch and exit codes.

mod addr;
mod answers;
mod app;
mod contact;
mod demo;
mod identity;
mod invite;
mod listen;
mod output;
mod policy;
mod signals;

use std::fmt;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use beckon_desktop::store::{Home, StoreError};

/// The TCP port Beckon listens on by default: 7464 (see the library).
pub(crate) use beckon_tokio::DEFAULT_PORT;

/// The exit codes (one table for help, README and code).
pub(crate) use beckon_desktop::exit;

/// Beckon: invite a trusted contact into a shared activity, and launch it
/// when they say yes.
#[derive(Debug, Parser)]
#[command(
    name = "beckon",
    version,
    about = "Invite a trusted contact into a shared activity, and launch it when they say yes",
    after_help = exit::help(),
    propagate_version = true
)]
struct Cli {
    /// Print only prompts, answers, results and errors: no banner, no live
    /// status line, no lines about connections that never became an
    /// invitation.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Show what the library does (its `tracing` events) on stderr: `-v`
    /// for the sessions' steps, `-vv` for every frame. `RUST_LOG`, when
    /// set, takes precedence.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create your identity (an ed25519 key), or import an OpenSSH one.
    Init(identity::InitArgs),
    /// Print your contact card (give it to your contacts) and fingerprint.
    Id(identity::IdArgs),
    /// Change your nickname (the name in your contact card), keeping your
    /// key.
    Nickname(identity::NicknameArgs),
    /// Add, list, remove, block or allow contacts.
    #[command(subcommand)]
    Contact(contact::ContactCommand),
    /// Register the applications invitations may launch.
    #[command(subcommand)]
    App(app::AppCommand),
    /// Show or set who may invite you: off, trusted (default) or anyone.
    Policy(policy::PolicyArgs),
    /// Wait for invitations and answer them.
    #[command(after_help = exit::help())]
    Listen(listen::ListenArgs),
    /// Invite a contact at an endpoint (HOST:PORT) and wait for the answer.
    #[command(
        override_usage = "beckon invite CONTACT ENDPOINT --app APP [OPTIONS]\n       \
                          beckon invite --any ENDPOINT --app APP [OPTIONS]",
        after_help = exit::help()
    )]
    Invite(invite::InviteArgs),
    /// Watch a whole story on loopback, in seconds: Alice invites Bob, a
    /// stranger is refused, and Carol answers in Bob's place.
    Demo(demo::DemoArgs),
    /// Print a shell completion script: `beckon completions bash >
    /// ~/.local/share/bash-completion/completions/beckon`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `beckon man | man -l -`.
    Man,
    /// Print the invitation this command was launched with (what the
    /// demo registers).
    #[command(hide = true)]
    ShowInvitation {
        /// A label for the lines printed.
        #[arg(default_value = "app")]
        app: String,
    },
}

/// An error that ends the command with an exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new(exit::USAGE, message)
    }

    pub(crate) fn data(message: impl Into<String>) -> Self {
        Self::new(exit::DATA, message)
    }

    pub(crate) fn io(message: impl fmt::Display) -> Self {
        Self::new(exit::IO, message.to_string())
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Io { .. } => exit::IO,
            StoreError::Corrupt { .. } => exit::CONFIG,
            StoreError::NoIdentity(_) => exit::NO_INPUT,
            StoreError::Invalid(_) => exit::DATA,
            StoreError::NotFound(_) => exit::NO_INPUT,
            StoreError::Permission { .. } => exit::PERMISSION,
        };
        CliError::new(code, e.to_string())
    }
}

pub(crate) type CliResult = Result<u8, CliError>;

/// Parses arguments, runs the command, and returns its exit code.
///
/// Under `--json`, an error that ends the command (a usage error
/// included) is also printed on stdout as one JSON object,
/// `{"error": "...", "exit_code": N}`, so a program reading stdout always
/// gets one object.
pub(crate) fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let json = wants_json(std::env::args_os().skip(1));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::from(exit::OK);
            }
            if json {
                print_json_error(exit::USAGE, e.render().to_string().trim());
                output::flush(Duration::from_secs(2));
            }
            let _ = e.print();
            return ExitCode::from(exit::USAGE);
        }
    };
    output::set_quiet(cli.quiet);
    init_tracing(cli.verbose);
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if json {
                print_json_error(e.code, &e.message);
            }
            output::emit(output::Stream::Stderr, format!("beckon: {}\n", e.message));
            e.code
        }
    };
    output::flush(Duration::from_secs(2));
    ExitCode::from(code)
}

/// Whether `--json` is among the arguments (before a `--`).
fn wants_json(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.take_while(|a| a != "--").any(|a| a == "--json")
}

fn print_json_error(code: u8, message: &str) {
    let object = serde_json::json!({ "error": message, "exit_code": code });
    output::emit(output::Stream::Stdout, format!("{object}\n"));
}

/// A reader that closes stdout early (`beckon id | head -n 1`) ends the
/// command quietly with status 0, as Unix tools do, instead of the
/// standard library's panic ("failed printing to stdout: Broken pipe").
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(i32::from(exit::OK));
        }
        default(info);
    }));
}

/// Installs a `tracing` subscriber writing through the output thread:
/// `RUST_LOG` when set, else warnings, `-v` debug and `-vv` trace for
/// Beckon's crates.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::new(spec),
        _ => EnvFilter::new(match verbose {
            0 => "warn",
            1 => "warn,beckon_tokio=debug,beckon_desktop=debug,beckon=debug",
            _ => "warn,beckon_tokio=trace,beckon_desktop=trace,beckon=trace,beckon_core=trace",
        }),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(output::TraceWriter)
        .with_ansi(false)
        .with_target(true)
        .try_init();
}

fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Init(args) => identity::init(&Home::locate()?, args),
        Command::Id(args) => identity::id(&Home::locate()?, &args),
        Command::Nickname(args) => identity::nickname(&Home::locate()?, &args),
        Command::Contact(cmd) => contact::run(&Home::locate()?, cmd),
        Command::App(cmd) => app::run(&Home::locate()?, cmd),
        Command::Policy(args) => policy::run(&Home::locate()?, args),
        Command::Listen(args) => runtime()?.block_on(listen::run(Home::locate()?, args)),
        Command::Invite(args) => runtime()?.block_on(invite::run(Home::locate()?, args)),
        Command::Demo(args) => runtime()?.block_on(demo::run(args)),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "beckon", &mut std::io::stdout());
            Ok(exit::OK)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(CliError::io)?;
            Ok(exit::OK)
        }
        Command::ShowInvitation { app } => demo::show_invitation(&app),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(exit::SOFTWARE, format!("cannot start the runtime: {e}")))
}

/// `--auto accept|decline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Auto {
    /// Accept every invitation that passes the policy.
    Accept,
    /// Decline every invitation that passes the policy.
    Decline,
}

/// Parses a duration: `90`, `90s`, `2m`, `1m30s`, `500ms`, `1h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = text.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "{text:?}: expected a number, like 2s, 1m30s or 500ms"
            ));
        }
        let (number, after) = rest.split_at(digits);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("{text:?}: {number:?} is not a number"))?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("{text:?}: a unit is missing (ms, s, m or h)")),
            other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m or h)")),
        };
        let secs = number * scale;
        if !secs.is_finite() || !(0.0..=86_400.0 * 365.0).contains(&secs) {
            return Err(format!("{text:?}: out of range"));
        }
        total += Duration::from_secs_f64(secs);
        rest = after;
    }
    Ok(total)
}

/// Prints a duration as `m:ss` (or `h:mm:ss`), rounding up so that `0:00`
/// means the deadline has passed.
pub(crate) fn clock(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
    } else {
        format!("{}:{:02}", secs / 60, secs % 60)
    }
}

/// Reads a whole file or `-` (stdin) as bytes, at most `limit` of them:
/// it reads `limit + 1` bytes at most, so `/dev/zero` cannot fill memory.
/// `what` names the content in the error ("the application data").
pub(crate) fn read_input(path: &Path, limit: usize, what: &str) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut buf = Vec::new();
    let (name, read) = if path.as_os_str() == "-" {
        (
            "stdin".to_owned(),
            std::io::stdin().lock().take(cap).read_to_end(&mut buf),
        )
    } else {
        let name = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                exit::NO_INPUT
            } else {
                exit::IO
            };
            CliError::new(code, format!("cannot read {name}: {e}"))
        })?;
        (name.clone(), file.take(cap).read_to_end(&mut buf))
    };
    read.map_err(|e| CliError::io(format!("cannot read {name}: {e}")))?;
    if buf.len() > limit {
        return Err(CliError::data(format!(
            "{what} in {name} is more than {limit} bytes; at most {limit} can be sent"
        )));
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn clocks_round_up() {
        assert_eq!(clock(Duration::from_secs(272)), "4:32");
        assert_eq!(clock(Duration::from_millis(271_001)), "4:32");
        assert_eq!(clock(Duration::ZERO), "0:00");
        assert_eq!(clock(Duration::from_secs(3601)), "1:00:01");
    }

    #[test]
    fn json_is_seen_before_a_double_dash_only() {
        let args = |a: &[&str]| a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>();
        assert!(wants_json(args(&["id", "--json"]).into_iter()));
        assert!(!wants_json(args(&["id"]).into_iter()));
        assert!(!wants_json(
            args(&["app", "register", "x", "--", "prog", "--json"]).into_iter()
        ));
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
