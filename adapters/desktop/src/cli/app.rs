//! `beckon app ...`.

use beckon_core::limits::MAX_REGISTRATIONS;
use beckon_core::ApplicationId;
use clap::Subcommand;

use super::{exit, CliError, CliResult};
use beckon_desktop::store::{did_you_mean, AppEntry, DataMode, Home, StoreError};

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
    /// set, and the invitation's data as --data says. All but
    /// BECKON_INVITER are the inviter's input: treat them as untrusted.
    ///
    /// COMMAND must exist and be executable; a bare name is looked up in
    /// PATH, and the absolute path is stored.
    #[command(
        override_usage = "beckon app register NAME [--id UUID] [--description D] [--data file|stdin|none] -- COMMAND [ARGS...]"
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
        /// How the command gets the invitation's data: `file` (the default:
        /// a 0600 temporary file named by BECKON_DATA_FILE, removed after
        /// the command exits; its stdin stays your terminal), `stdin`
        /// (piped to its stdin), or `none`.
        #[arg(long, value_name = "file|stdin|none", default_value = "file", value_parser = ["file", "stdin", "none"])]
        data: String,
        /// The command to launch and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// List registrations: name, id, command.
    List {
        /// Print one JSON array: `[{"name", "id", "description",
        /// "command": [...], "data": "file"|"stdin"|"none"}]`.
        #[arg(long)]
        json: bool,
    },
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
            data,
            command,
        } => {
            let command = resolve_command(command)?;
            let data = DataMode::from_word(&data).unwrap_or_default();
            let id = match id {
                Some(text) => Some(
                    text.parse::<ApplicationId>()
                        .map_err(|_| CliError::usage(format!("--id {text:?} is not a UUID")))?,
                ),
                None => None,
            };
            let entry = AppEntry::new(&name, id, &description, command)?.with_data(data);
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
        AppCommand::List { json } => {
            let list = {
                let _lock = home.lock_shared()?;
                home.load_apps()?
            };
            if json {
                let items: Vec<serde_json::Value> = list
                    .iter()
                    .map(|a| {
                        serde_json::json!({
                            "name": a.name,
                            "id": a.id.to_string(),
                            "description": a.description,
                            "command": a.command,
                            "data": a.data.word(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(items));
                return Ok(exit::OK);
            }
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
                let i =
                    list.iter().position(|a| a.name == name).ok_or_else(|| {
                        match did_you_mean(&name, list.iter().map(|a| a.name.as_str())) {
                            Some(near) => StoreError::NotFound(format!(
                                "no application named {name:?}; did you mean {near:?}?"
                            )),
                            None => StoreError::NotFound(format!(
                                "no application named {name:?} (see `beckon app list`)"
                            )),
                        }
                    })?;
                Ok(list.remove(i))
            })?;
            println!("removed application {} {}", removed.name, removed.id);
        }
    }
    Ok(exit::OK)
}

/// The command to register, its program resolved to an absolute path: a
/// name with a `/` against the current directory, a bare name through
/// `PATH`. A program that is not there is missing input (66); one that is
/// not an executable file is bad data (65).
fn resolve_command(mut command: Vec<String>) -> Result<Vec<String>, CliError> {
    let Some(program) = command.first().cloned() else {
        return Err(CliError::usage("give the COMMAND to launch after --"));
    };
    let candidates: Vec<std::path::PathBuf> = if program.contains('/') {
        let path = std::path::PathBuf::from(&program);
        let path = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()
                .map_err(|e| CliError::io(format!("cannot read the current directory: {e}")))?
                .join(path)
        };
        vec![path]
    } else {
        std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join(&program))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut not_executable = None;
    for path in candidates {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() && is_executable(&meta) {
            command[0] = path.display().to_string();
            return Ok(command);
        }
        not_executable.get_or_insert(path);
    }
    match not_executable {
        Some(path) => Err(CliError::data(format!(
            "{} is not an executable file (chmod +x it, or register the program that runs it)",
            path.display()
        ))),
        None if program.contains('/') => Err(CliError::new(
            exit::NO_INPUT,
            format!("no program at {program}"),
        )),
        None => Err(CliError::new(
            exit::NO_INPUT,
            format!("no program named {program:?} in PATH"),
        )),
    }
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
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
