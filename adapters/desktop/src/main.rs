//! The `beckon` command: your identity, contacts, application
//! registrations and invitation policy, and the `listen`, `invite` and
//! `demo` commands. Run `beckon --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
