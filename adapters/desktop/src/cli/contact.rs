//! `beckon contact ...`.

use std::io::Read;
use std::path::Path;

use beckon_core::{Permission, PublicKey};
use clap::Subcommand;

use super::{exit, CliError, CliResult};
use beckon_desktop::store::{ContactEntry, Home, StoreError};

/// `beckon contact`.
#[derive(Debug, Subcommand)]
pub(crate) enum ContactCommand {
    /// Add a contact: NAME is yours to choose; KEY is their contact card
    /// (an `ssh-ed25519 AAAA...` line), a path to a .pub file, or - to read
    /// it from stdin.
    Add {
        /// The name you will use for this contact.
        name: String,
        /// An ssh-ed25519 line, a .pub file, or - for stdin.
        key: String,
    },
    /// List contacts: name, fingerprint, allowed or blocked.
    List,
    /// Remove a contact.
    Remove {
        /// The contact's name.
        name: String,
    },
    /// Block a contact: their invitations are refused, whatever the policy.
    Block {
        /// The contact's name.
        name: String,
    },
    /// Allow a blocked contact again.
    Allow {
        /// The contact's name.
        name: String,
    },
}

/// Reads a key given as a line, a file or `-`, returning it and its
/// comment.
pub(crate) fn read_key(arg: &str) -> Result<(PublicKey, String), CliError> {
    let (text, source) = if arg == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| CliError::io(format!("cannot read the key from stdin: {e}")))?;
        (text, "stdin".to_owned())
    } else if arg.trim().contains(char::is_whitespace)
        || !Path::new(arg).is_file() && arg.trim_start().starts_with("ssh-")
    {
        // A key line (`ssh-ed25519 AAAA... comment`), not a file name.
        (arg.to_owned(), "the key".to_owned())
    } else if Path::new(arg).is_file() {
        let mut text = String::new();
        std::fs::File::open(arg)
            .and_then(|f| f.take(64 * 1024).read_to_string(&mut text))
            .map_err(|e| CliError::io(format!("cannot read {arg}: {e}")))?;
        (text, arg.to_owned())
    } else if arg.trim_start().starts_with("SHA256:") {
        return Err(CliError::data(
            "a fingerprint is not enough to invite or check a contact: give their whole \
             contact card (the `ssh-ed25519 AAAA...` line `beckon id` prints)",
        ));
    } else {
        return Err(CliError::new(
            exit::NO_INPUT,
            format!(
                "{arg:?} is neither an `ssh-ed25519 AAAA...` line nor a readable .pub file \
                 (use - to read the key from stdin)"
            ),
        ));
    };
    if text.contains("PRIVATE KEY") {
        return Err(CliError::data(format!(
            "{source} holds a private key: give the public key (the .pub file, or the line \
             `beckon id` prints), and keep the private key to yourself"
        )));
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| CliError::data(format!("{source} holds no key")))?;
    let (key, comment) = PublicKey::parse_openssh(line)
        .map_err(|e| CliError::data(format!("{source}: not a usable key: {e}")))?;
    Ok((key, comment.to_owned()))
}

fn not_found(name: &str) -> StoreError {
    StoreError::invalid(format!(
        "no contact named {name:?} (see `beckon contact list`)"
    ))
}

pub(crate) fn run(home: &Home, cmd: ContactCommand) -> CliResult {
    match cmd {
        ContactCommand::Add { name, key } => {
            let (key, comment) = read_key(&key)?;
            let entry = ContactEntry::new(&name, key, &comment)?;
            home.update_contacts(|list| {
                if let Some(c) = list.iter().find(|c| c.key == key) {
                    return Err(StoreError::invalid(format!(
                        "this key ({}) is already your contact {:?}",
                        key.fingerprint(),
                        c.name
                    )));
                }
                if let Some(c) = list.iter().find(|c| c.name == name) {
                    return Err(StoreError::invalid(format!(
                        "you already have a contact named {:?}, with another key ({}); \
                         choose another name, or `beckon contact remove {}` first",
                        c.name,
                        c.key.fingerprint(),
                        c.name
                    )));
                }
                list.push(entry);
                Ok(())
            })?;
            println!("added contact {name} {}", key.fingerprint());
            if let Ok(me) = home.load_identity() {
                if me.identity.public_key() == key {
                    eprintln!("note: that is your own key");
                }
            }
        }
        ContactCommand::List => {
            let list = {
                let _lock = home.lock_shared()?;
                home.load_contacts()?
            };
            if list.is_empty() {
                println!("no contacts yet (add one with `beckon contact add NAME KEY`)");
            }
            let width = list.iter().map(|c| c.name.chars().count()).max();
            for c in &list {
                println!(
                    "{:<w$}  {}  {}",
                    c.name,
                    c.key.fingerprint(),
                    match c.permission {
                        Permission::Allowed => "allowed",
                        Permission::Blocked => "blocked",
                    },
                    w = width.unwrap_or(0)
                );
            }
        }
        ContactCommand::Remove { name } => {
            let removed = home.update_contacts(|list| {
                let i = list
                    .iter()
                    .position(|c| c.name == name)
                    .ok_or_else(|| not_found(&name))?;
                Ok(list.remove(i))
            })?;
            println!("removed contact {name} {}", removed.key.fingerprint());
        }
        ContactCommand::Block { name } => set_permission(home, &name, Permission::Blocked)?,
        ContactCommand::Allow { name } => set_permission(home, &name, Permission::Allowed)?,
    }
    Ok(exit::OK)
}

fn set_permission(home: &Home, name: &str, permission: Permission) -> Result<(), CliError> {
    home.update_contacts(|list| {
        let c = list
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| not_found(name))?;
        c.permission = permission;
        Ok(())
    })?;
    let word = match permission {
        Permission::Allowed => "allowed",
        Permission::Blocked => "blocked",
    };
    println!("{name} is now {word}");
    Ok(())
}
