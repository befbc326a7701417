//! The `beckon` command: your identity, contacts, application
//! registrations and invitation policy, and the `listen`, `invite` and
//! `demo` commands. Run `beckon --help`.

// The command's doc comments are clap's help texts (`[IPV6]:PORT`), not
// rustdoc's links.
#![allow(rustdoc::broken_intra_doc_links)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
