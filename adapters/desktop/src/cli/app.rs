//! `beckon app ...`.

use beckon_core::limits::MAX_REGISTRATIONS;
use beckon_core::ApplicationId;
use clap::Subcommand;

use super::{exit, CliError, CliResult};
use beckon_desktop::store::{AppEntry, Home, StoreError};

/// `beckon app`.
#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// Register an application that invitations may launch, at most 64.
    ///
    /// Without --id the application id is the UUIDv5 of NAME in Beckon's
    /// namespace (3f7b2f36-558f-54af-890b-83217ba8590e), so an inviter and
    /// an invitee who use the same name agree on the id. On accept the
    /// COMMAND runs with BECKON_INVITER, BECKON_INVITER_KEY,
    /// BECKON_FINGERPRINT, BECKON_APP, BECKON_MESSAGE and BECKON_ENDPOINT
    /// set, and the invitation's data on its stdin.
    #[command(
        override_usage = "beckon app register NAME [--id UUID] [--description D] -- COMMAND [ARGS...]"
    )]
    Register {
        /// The name, used on the command line (and for the default id).
        name: String,
        /// The application id, when it must match another program's.
        #[arg(long, value_name = "UUID")]
        id: Option<String>,
        /// A description, shown in listings.
        #[arg(long, value_name = "D", default_value = "")]
        description: String,
        /// The command to launch and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// List registrations: name, id, command.
    List,
    /// Remove a registration.
    Remove {
        /// The application's name.
        name: String,
    },
}

pub(crate) fn run(home: &Home, cmd: AppCommand) -> CliResult {
    match cmd {
        AppCommand::Register {
            name,
            id,
            description,
            command,
        } => {
            let id = match id {
                Some(text) => Some(
                    text.parse::<ApplicationId>()
                        .map_err(|_| CliError::usage(format!("--id {text:?} is not a UUID")))?,
                ),
                None => None,
            };
            let entry = AppEntry::new(&name, id, &description, command)?;
            let shown = entry.clone();
            home.update_apps(|list| {
                if let Some(a) = list.iter().find(|a| a.name == entry.name) {
                    return Err(StoreError::invalid(format!(
                        "an application named {:?} is already registered (id {}); \
                         `beckon app remove {}` first",
                        a.name, a.id, a.name
                    )));
                }
                if let Some(a) = list.iter().find(|a| a.id == entry.id) {
                    return Err(StoreError::invalid(format!(
                        "the id {} is already registered as {:?}",
                        a.id, a.name
                    )));
                }
                if list.len() >= MAX_REGISTRATIONS {
                    return Err(StoreError::invalid(format!(
                        "{MAX_REGISTRATIONS} applications are registered, the most there can be; \
                         remove one first"
                    )));
                }
                list.push(entry);
                beckon_desktop::store::check_apps(list)
            })?;
            println!(
                "registered {} {} -> {}",
                shown.name,
                shown.id,
                render_command(&shown.command)
            );
        }
        AppCommand::List => {
            let list = {
                let _lock = home.lock_shared()?;
                home.load_apps()?
            };
            if list.is_empty() {
                println!(
                    "no applications registered (add one with `beckon app register NAME -- COMMAND`)"
                );
            }
            let width = list.iter().map(|a| a.name.chars().count()).max();
            for a in &list {
                let description = if a.description.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", a.description)
                };
                println!(
                    "{:<w$}  {}  {}{description}",
                    a.name,
                    a.id,
                    render_command(&a.command),
                    w = width.unwrap_or(0)
                );
            }
        }
        AppCommand::Remove { name } => {
            let removed = home.update_apps(|list| {
                let i = list.iter().position(|a| a.name == name).ok_or_else(|| {
                    StoreError::invalid(format!(
                        "no application named {name:?} (see `beckon app list`)"
                    ))
                })?;
                Ok(list.remove(i))
            })?;
            println!("removed application {} {}", removed.name, removed.id);
        }
    }
    Ok(exit::OK)
}

/// A command as a shell would show it.
pub(crate) fn render_command(command: &[String]) -> String {
    command
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
