//! The Beckon home: identity, contacts, application registrations and the
//! invitation policy, persisted in human-readable files.
//!
//! # Layout
//!
//! The home is `$BECKON_HOME` if set, else the platform configuration
//! directory plus `beckon/` (`~/.config/beckon` on Linux):
//!
//! | File | Contents |
//! |---|---|
//! | `id_ed25519` | the identity: an unencrypted OpenSSH ed25519 private key, mode 0600; its comment is the nickname |
//! | `id_ed25519.pub` | the contact card (`ssh-ed25519 AAAA... nickname`), for convenience |
//! | `contacts` | one contact per line: `NAME allowed|blocked ssh-ed25519 AAAA... [comment]` |
//! | `apps` | one `[NAME]` block per registration, with `id`, `description` and `command` lines |
//! | `policy` | one word: `off`, `trusted` or `anyone` |
//! | `.lock` | empty; the lock that serialises writers |
//!
//! # Nothing lost
//!
//! * Every write is atomic: the new contents go to a temporary file in the
//!   same directory, which is fsynced, renamed over the old file, and the
//!   directory is fsynced.
//! * Every read-modify-write holds an exclusive lock on `.lock` from the
//!   read to the rename, so concurrent `beckon` processes never lose an
//!   update. Readers take a shared lock, so they see the files of one
//!   writer or the next, never a mixture.
//! * Every file ends with a line `end`. A file that does not (cut short by
//!   a crash or a bad copy), or a line that does not parse, is an error
//!   naming the file and the line; such a file is never overwritten: the
//!   command that wanted to change it fails and the user fixes it by hand
//!   (only `beckon policy off|trusted|anyone` replaces a broken `policy`,
//!   which holds nothing else).
//! * The list files (`contacts`, `apps`, `policy`) are UTF-8 text, edited
//!   by hand too: a byte order mark at the start is ignored, lines may end
//!   in CR LF, and `#` starts a comment line. What cannot be told from a
//!   file cut short is not guessed: an empty file, a last line without its
//!   newline, and a line after `end` are errors whose message says what to
//!   change.
//!
//! # The parsers
//!
//! Each file has a pure parser and renderer, from and to text, which
//! [`Home`] uses to read and write it: [`parse_contacts`] and
//! [`render_contacts`], [`parse_apps`] and [`render_apps`],
//! [`parse_policy`] and [`render_policy`], [`parse_identity`] and
//! [`render_identity`]. A parser takes the file's path only to name it in
//! its errors. What a parser accepts, its renderer writes back as a text
//! that parses to the same value; the `directory_file` fuzz target
//! (`fuzz/`) and `tests/fuzz_corpus_store.rs` check that, and that every
//! error of a list file names the file and a line of it.

mod apps;
mod contacts;
mod directory;
mod file;
mod identity;
pub mod modes;
mod policy;
mod suggest;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use apps::{
    app_id_for_name, check_list as check_apps, parse as parse_apps, render as render_apps,
    AppEntry, DataMode, BECKON_APP_NAMESPACE,
};
pub use contacts::{
    check_contact_name, parse as parse_contacts, render as render_contacts, ContactEntry,
    NOT_A_CONTACT,
};
pub use directory::{DirectoryReport, Snapshot, StoreDirectory, POLL_INTERVAL};
pub use file::decode_text;
pub use identity::{
    parse as parse_identity, parse_with as parse_identity_with, passphrase,
    render as render_identity, StoredIdentity, PASSPHRASE_FILE_ENV,
};
pub use policy::{parse as parse_policy, render as render_policy};
pub use suggest::did_you_mean;

use beckon_core::Policy;

/// The environment variable that chooses the home.
pub const HOME_ENV: &str = "BECKON_HOME";

/// The identity's file in the home: an OpenSSH private key.
pub const IDENTITY_FILE: &str = "id_ed25519";
/// The contact card's file in the home: `ssh-ed25519 AAAA... nickname`.
pub const CARD_FILE: &str = "id_ed25519.pub";
/// The contacts' file in the home.
pub const CONTACTS_FILE: &str = "contacts";
/// The application registrations' file in the home.
pub const APPS_FILE: &str = "apps";
/// The policy's file in the home.
pub const POLICY_FILE: &str = "policy";
const LOCK_FILE: &str = ".lock";

/// The marker that ends every list file.
pub(crate) const END_MARKER: &str = "end";

/// What went wrong reading or writing the home.
#[derive(Debug)]
pub enum StoreError {
    /// An operating-system error on a file.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done, as a verb: `read`, `write`, `lock`, ...
        action: &'static str,
        /// The error.
        source: io::Error,
    },
    /// A file does not parse. It is left as it is.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The line, from 1; one past the last line when the end is missing.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// No identity yet.
    NoIdentity(PathBuf),
    /// A path of the home could have been changed by someone else (owner
    /// or mode, checked like sshd's `StrictModes`; see [`modes`]). Nothing
    /// is read from it.
    Permission {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// The command that fixes it.
        fix: String,
    },
    /// The request cannot be done (duplicate, limit, bad name).
    Invalid(String),
    /// The request names something that is not there (a contact or an
    /// application), with the near name when there is one.
    NotFound(String),
}

impl StoreError {
    /// A [`StoreError::Io`] error.
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }

    /// A [`StoreError::Corrupt`] error.
    pub(crate) fn corrupt(path: &Path, line: usize, message: impl Into<String>) -> Self {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    /// A [`StoreError::Invalid`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        StoreError::Invalid(message.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            StoreError::Corrupt {
                path,
                line,
                message,
            } => write!(
                f,
                "{}:{line}: {message}\n(the file was left unchanged; fix or remove that line by hand)",
                path.display()
            ),
            StoreError::NoIdentity(path) => write!(
                f,
                "no identity at {} (run `beckon init` first, or set {HOME_ENV})",
                path.display()
            ),
            StoreError::Invalid(message) | StoreError::NotFound(message) => f.write_str(message),
            StoreError::Permission { path, problem, fix } => write!(
                f,
                "refusing to use {}: {problem}; anyone who can change it decides who may \
                 launch applications here (fix: `{fix}`)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// The Beckon home directory.
#[derive(Debug, Clone)]
pub struct Home {
    dir: PathBuf,
}

impl Home {
    /// The home at this directory (created on the first write).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Home { dir: dir.into() }
    }

    /// `$BECKON_HOME`, else the platform configuration directory plus
    /// `beckon/`.
    pub fn locate() -> Result<Self, StoreError> {
        if let Some(dir) = std::env::var_os(HOME_ENV).filter(|d| !d.is_empty()) {
            return Ok(Home::at(PathBuf::from(dir)));
        }
        let base = directories::BaseDirs::new().ok_or_else(|| {
            StoreError::invalid(format!(
                "cannot find a home directory for Beckon's files; set {HOME_ENV}"
            ))
        })?;
        Ok(Home::at(base.config_dir().join("beckon")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of a file in the home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates the home directory (mode 0700 on Unix) if it is missing.
    pub(crate) fn create(&self) -> Result<(), StoreError> {
        if self.dir.is_dir() {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&self.dir)
            .map_err(|e| StoreError::io(&self.dir, "create the directory", e))
    }

    fn lock(&self, exclusive: bool) -> Result<Option<fs::File>, StoreError> {
        if exclusive {
            self.create()?;
        } else if !self.dir.is_dir() {
            // Nothing to read, nothing to lock.
            return Ok(None);
        }
        modes::check(&self.dir, false)?;
        let path = self.path(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, "open the lock file", e))?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|e| StoreError::io(&path, "lock", e))?;
        Ok(Some(file))
    }

    /// Holds the exclusive lock until the guard is dropped.
    pub fn lock_exclusive(&self) -> Result<LockGuard, StoreError> {
        self.lock(true).map(|file| LockGuard { _file: file })
    }

    /// Holds a shared lock until the guard is dropped.
    pub fn lock_shared(&self) -> Result<LockGuard, StoreError> {
        self.lock(false).map(|file| LockGuard { _file: file })
    }

    // ---- reading (callers hold at least a shared lock when consistency
    // between files matters) ----

    /// The contacts (none if the file does not exist).
    pub fn load_contacts(&self) -> Result<Vec<ContactEntry>, StoreError> {
        self.load(CONTACTS_FILE, contacts::parse, Vec::new())
    }

    /// The registrations (none if the file does not exist).
    pub fn load_apps(&self) -> Result<Vec<AppEntry>, StoreError> {
        self.load(APPS_FILE, apps::parse, Vec::new())
    }

    /// The policy (`trusted` if the file does not exist).
    pub fn load_policy(&self) -> Result<Policy, StoreError> {
        self.load(POLICY_FILE, policy::parse, Policy::TrustedOnly)
    }

    /// The home's file `name` read with `parse`, or `missing` if the file
    /// does not exist.
    fn load<T>(
        &self,
        name: &str,
        parse: fn(&Path, &str) -> Result<T, StoreError>,
        missing: T,
    ) -> Result<T, StoreError> {
        let path = self.path(name);
        match file::read_optional(&path)? {
            Some(text) => parse(&path, &text),
            None => Ok(missing),
        }
    }

    /// Everything the listener consults, read under a shared lock.
    pub fn load_snapshot(&self) -> Result<Snapshot, StoreError> {
        let _lock = self.lock_shared()?;
        Ok(Snapshot {
            policy: self.load_policy()?,
            contacts: self.load_contacts()?,
            apps: self.load_apps()?,
            fault: None,
        })
    }

    /// The identity.
    pub fn load_identity(&self) -> Result<StoredIdentity, StoreError> {
        identity::load(self)
    }

    // ---- read-modify-write under the exclusive lock ----

    /// Changes the contacts: reads them under the lock (failing, and
    /// writing nothing, if the file is corrupt), applies `f`, and writes
    /// them back atomically if `f` succeeded.
    pub fn update_contacts<R>(
        &self,
        f: impl FnOnce(&mut Vec<ContactEntry>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.update(CONTACTS_FILE, Home::load_contacts, contacts::render, f)
    }

    /// Changes the registrations, as [`Home::update_contacts`] does.
    pub fn update_apps<R>(
        &self,
        f: impl FnOnce(&mut Vec<AppEntry>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.update(APPS_FILE, Home::load_apps, apps::render, f)
    }

    /// Changes the list in the home's file `name` as
    /// [`Home::update_contacts`] says, with `load` and `render`.
    fn update<T, R>(
        &self,
        name: &str,
        load: fn(&Home) -> Result<Vec<T>, StoreError>,
        render: fn(&[T]) -> String,
        f: impl FnOnce(&mut Vec<T>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let _lock = self.lock_exclusive()?;
        let mut list = load(self)?;
        let result = f(&mut list)?;
        file::write_atomic(&self.path(name), render(&list).as_bytes(), None)?;
        Ok(result)
    }

    /// Sets the policy, replacing a policy file that does not parse: it
    /// holds nothing but the word this writes.
    pub fn set_policy(&self, new: Policy) -> Result<(), StoreError> {
        let _lock = self.lock_exclusive()?;
        file::write_atomic(
            &self.path(POLICY_FILE),
            policy::render(new).as_bytes(),
            None,
        )
    }

    /// Writes a new identity (refusing to replace one unless `force`).
    ///
    /// Replacing an identity (`force`) first copies the old key file to
    /// `id_ed25519.old-SECONDS` (mode 0600) and returns that path, so a
    /// slip of `init --force` can be undone.
    pub fn save_identity(
        &self,
        identity: &StoredIdentity,
        force: bool,
    ) -> Result<Option<PathBuf>, StoreError> {
        let _lock = self.lock_exclusive()?;
        identity::save(self, identity, force)
    }

    /// Changes the nickname of the home's identity, keeping its key.
    /// Returns the identity as saved.
    pub fn set_nickname(&self, nickname: &str) -> Result<StoredIdentity, StoreError> {
        check_name("nickname", nickname)?;
        let _lock = self.lock_exclusive()?;
        let mut stored = identity::load(self)?;
        stored.nickname = nickname.to_owned();
        identity::write(self, &stored)?;
        Ok(stored)
    }
}

/// Holds a lock on the home until dropped.
#[derive(Debug)]
pub struct LockGuard {
    _file: Option<fs::File>,
}

/// Checks a contact or application name: 1 to 64 characters, letters,
/// digits and `. _ - @ +`, not starting with `-`.
/// Checks a contact name or nickname: 1 to 64 letters, digits and
/// `. _ - @ +`, not starting with `-`.
pub fn check_name(kind: &str, name: &str) -> Result<(), StoreError> {
    let ok_char = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+');
    if name.is_empty() {
        return Err(StoreError::invalid(format!("the {kind} name is empty")));
    }
    if name.chars().count() > 64 {
        return Err(StoreError::invalid(format!(
            "the {kind} name {name:?} is longer than 64 characters"
        )));
    }
    if name.starts_with('-') || !name.chars().all(ok_char) {
        return Err(StoreError::invalid(format!(
            "the {kind} name {name:?} may only have letters, digits and . _ - @ + (and may not start with -)"
        )));
    }
    Ok(())
}

/// Whether a character must not reach a terminal or a file raw from
/// another person's text: control characters (ESC starts terminal
/// escapes), bidirectional overrides and zero-width characters (they make
/// text read differently from what it is).
pub(crate) fn unsafe_to_show(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
        )
}

/// The policy's word in files and on the command line.
pub fn policy_word(policy: Policy) -> &'static str {
    match policy {
        Policy::Off => "off",
        Policy::TrustedOnly => "trusted",
        Policy::Anyone => "anyone",
    }
}

/// Parses a policy word.
pub(crate) fn parse_policy_word(word: &str) -> Option<Policy> {
    match word {
        "off" => Some(Policy::Off),
        "trusted" => Some(Policy::TrustedOnly),
        "anyone" => Some(Policy::Anyone),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::{Identity, Permission};

    fn key(n: u8) -> beckon_core::PublicKey {
        Identity::from_seed(&[n; 32]).public_key()
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("contact", "alice").is_ok());
        assert!(check_name("contact", "bob.smith@home").is_ok());
        assert!(check_name("contact", "").is_err());
        assert!(check_name("contact", "-x").is_err());
        assert!(check_name("contact", "a b").is_err());
        assert!(check_name("contact", "[x]").is_err());
        assert!(check_name("contact", &"a".repeat(65)).is_err());
    }

    #[test]
    fn updates_round_trip_through_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        home.update_contacts(|list| {
            list.push(ContactEntry::new("alice", key(1), "alice@laptop").unwrap());
            let mut bob = ContactEntry::new("bob", key(2), "").unwrap();
            bob.permission = Permission::Blocked;
            list.push(bob);
            Ok(())
        })
        .unwrap();
        home.update_apps(|list| {
            list.push(
                AppEntry::new(
                    "chess",
                    None,
                    "Chess with friends",
                    vec!["sh".into(), "-c".into(), "echo \"$BECKON_MESSAGE\"".into()],
                )
                .unwrap(),
            );
            Ok(())
        })
        .unwrap();
        home.set_policy(Policy::Anyone).unwrap();
        let snap = home.load_snapshot().unwrap();
        assert_eq!(snap.policy, Policy::Anyone);
        assert_eq!(snap.contacts.len(), 2);
        assert_eq!(snap.contacts[0].name, "alice");
        assert_eq!(snap.contacts[0].comment, "alice@laptop");
        assert_eq!(snap.contacts[1].permission, Permission::Blocked);
        assert_eq!(snap.apps[0].command[2], "echo \"$BECKON_MESSAGE\"");
        assert_eq!(snap.apps[0].id, app_id_for_name("chess"));
    }

    #[test]
    fn a_corrupt_file_is_reported_with_its_line_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let path = home.path(CONTACTS_FILE);
        let bad = "# hand edited\nalice allowed ssh-ed25519 AAAAnotakey\nend\n";
        std::fs::write(&path, bad).unwrap();
        let err = home
            .update_contacts(|list| {
                list.clear();
                Ok(())
            })
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&format!("{}:2:", path.display())), "{text}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
    }

    #[test]
    fn every_truncation_of_every_file_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        home.update_contacts(|list| {
            list.push(ContactEntry::new("alice", key(1), "a").unwrap());
            list.push(ContactEntry::new("bob", key(2), "").unwrap());
            Ok(())
        })
        .unwrap();
        home.update_apps(|list| {
            list.push(AppEntry::new("chess", None, "Chess", vec!["chess".into()]).unwrap());
            list.push(AppEntry::new("go", None, "", vec!["go".into(), "x".into()]).unwrap());
            Ok(())
        })
        .unwrap();
        home.set_policy(Policy::Off).unwrap();
        for name in [CONTACTS_FILE, APPS_FILE, POLICY_FILE] {
            let path = home.path(name);
            let full = std::fs::read(&path).unwrap();
            for cut in 0..full.len() {
                std::fs::write(&path, &full[..cut]).unwrap();
                let err = home
                    .load_snapshot()
                    .expect_err(&format!("{name} cut at {cut}"));
                assert!(
                    matches!(err, StoreError::Corrupt { .. }),
                    "{name} cut at {cut}: {err}"
                );
                assert!(err.to_string().contains(name), "{err}");
            }
            std::fs::write(&path, &full).unwrap();
            home.load_snapshot().unwrap();
        }
    }
}
