//! `beckon contact ...`.

use std::io::Read;
use std::path::Path;

use beckon_core::{Permission, PublicKey};
use clap::Subcommand;

use super::{exit, CliError, CliResult};
use beckon_desktop::store::{check_contact_name, did_you_mean, ContactEntry, Home, StoreError};
use serde_json::json;

/// The fields of a contact in `--json` output, as the help says.
const JSON_FIELDS: &str = "name (the name you gave), key (their key, \
`ssh-ed25519 AAAA...`, without comment), comment (the comment of the key line it \
was added from, maybe empty), fingerprint (`SHA256:...`), state (`allowed` or \
`blocked`)";

/// `beckon contact`.
#[derive(Debug, Subcommand)]
pub(crate) enum ContactCommand {
    /// Add a contact: NAME is yours to choose; KEY is their contact card
    /// (an `ssh-ed25519 AAAA...` line), a path to a .pub file, or - to read
    /// it from stdin.
    Add {
        /// The name you will use for this contact: letters, digits and
        /// . _ - @ +, not `unknown`.
        name: String,
        /// An ssh-ed25519 line, a .pub file, or - for stdin.
        key: String,
    },
    /// List contacts: name, fingerprint, allowed or blocked.
    #[command(after_help = format!(
        "With --json, stdout is one JSON array with one object per contact, in the \
         order of the file, with the fields {JSON_FIELDS}."
    ))]
    List {
        /// Print one JSON array (fields below).
        #[arg(long)]
        json: bool,
    },
    /// Show a contact: their card, fingerprint, and whether they are
    /// allowed or blocked.
    #[command(after_help = format!(
        "With --json, stdout is one JSON object with the fields {JSON_FIELDS}."
    ))]
    Show {
        /// The contact's name.
        name: String,
        /// Print one JSON object (fields below).
        #[arg(long)]
        json: bool,
    },
    /// Rename a contact, keeping their key and whether they are allowed.
    Rename {
        /// The contact's name now.
        old: String,
        /// Their new name: letters, digits and . _ - @ +, not `unknown`,
        /// and not another contact's.
        new: String,
    },
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

/// "No contact named ...", with the name that was likely meant.
fn not_found(name: &str, list: &[ContactEntry]) -> StoreError {
    match did_you_mean(name, list.iter().map(|c| c.name.as_str())) {
        Some(near) => {
            StoreError::NotFound(format!("no contact named {name:?}; did you mean {near:?}?"))
        }
        None => StoreError::NotFound(format!(
            "no contact named {name:?} (see `beckon contact list`)"
        )),
    }
}

/// The index of the contact named `name`, or the error saying so.
fn find(list: &[ContactEntry], name: &str) -> Result<usize, StoreError> {
    list.iter()
        .position(|c| c.name == name)
        .ok_or_else(|| not_found(name, list))
}

/// A contact as `--json` shows it (see [`JSON_FIELDS`]).
fn contact_json(c: &ContactEntry) -> serde_json::Value {
    json!({
        "name": c.name,
        "key": c.key.to_string(),
        "comment": c.comment,
        "fingerprint": c.key.fingerprint().to_string(),
        "state": permission_word(c.permission),
    })
}

fn permission_word(p: Permission) -> &'static str {
    match p {
        Permission::Allowed => "allowed",
        Permission::Blocked => "blocked",
    }
}

fn load(home: &Home) -> Result<Vec<ContactEntry>, StoreError> {
    let _lock = home.lock_shared()?;
    home.load_contacts()
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
            // From the public card: no passphrase is needed for this note.
            let card = std::fs::read_to_string(home.path(beckon_desktop::store::CARD_FILE));
            let own = card
                .ok()
                .and_then(|c| PublicKey::parse_openssh(c.trim()).ok().map(|(k, _)| k));
            if own == Some(key) {
                eprintln!("note: that is your own key");
            }
        }
        ContactCommand::List { json } => {
            let list = load(home)?;
            if json {
                let array: Vec<_> = list.iter().map(contact_json).collect();
                println!("{}", serde_json::Value::Array(array));
                return Ok(exit::OK);
            }
            if list.is_empty() {
                println!("no contacts yet (add one with `beckon contact add NAME KEY`)");
            }
            let width = list.iter().map(|c| c.name.chars().count()).max();
            for c in &list {
                println!(
                    "{:<w$}  {}  {}",
                    c.name,
                    c.key.fingerprint(),
                    permission_word(c.permission),
                    w = width.unwrap_or(0)
                );
            }
        }
        ContactCommand::Show { name, json } => {
            let list = load(home)?;
            let c = &list[find(&list, &name)?];
            if json {
                println!("{}", contact_json(c));
            } else {
                println!("name:        {}", c.name);
                println!("card:        {}", c.key.to_openssh(&c.comment));
                println!("fingerprint: {}", c.key.fingerprint());
                println!("state:       {}", permission_word(c.permission));
            }
        }
        ContactCommand::Rename { old, new } => {
            check_contact_name(&new)?;
            let key = home.update_contacts(|list| {
                let i = find(list, &old)?;
                if new == old {
                    return Err(StoreError::invalid(format!(
                        "the contact is already named {new:?}"
                    )));
                }
                if let Some(c) = list.iter().find(|c| c.name == new) {
                    return Err(StoreError::invalid(format!(
                        "you already have a contact named {:?} ({}); choose another name, \
                         or `beckon contact remove {}` first",
                        c.name,
                        c.key.fingerprint(),
                        c.name
                    )));
                }
                list[i].name.clone_from(&new);
                Ok(list[i].key)
            })?;
            println!("renamed contact {old} to {new} {}", key.fingerprint());
        }
        ContactCommand::Remove { name } => {
            let removed = home.update_contacts(|list| {
                let i = find(list, &name)?;
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
        let i = find(list, name)?;
        list[i].permission = permission;
        Ok(())
    })?;
    println!("{name} is now {}", permission_word(permission));
    Ok(())
}
