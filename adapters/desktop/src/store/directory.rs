//! The store as the core's [`Directory`]: what the listener consults for
//! each invitation, reloaded whenever a file changed, so `beckon contact
//! block` in another terminal applies to the next invitation.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use beckon_core::{ApplicationId, Directory, Permission, Policy, PublicKey};

use super::{AppEntry, ContactEntry, Home, StoreError, APPS_FILE, CONTACTS_FILE, POLICY_FILE};

/// The policy, contacts and registrations at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Who may invite.
    pub policy: Policy,
    /// The contacts.
    pub contacts: Vec<ContactEntry>,
    /// The registrations.
    pub apps: Vec<AppEntry>,
}

impl Snapshot {
    /// The contact with this key.
    pub fn contact(&self, key: &PublicKey) -> Option<&ContactEntry> {
        self.contacts.iter().find(|c| &c.key == key)
    }

    /// The contact with this name.
    pub fn contact_named(&self, name: &str) -> Option<&ContactEntry> {
        self.contacts.iter().find(|c| c.name == name)
    }

    /// The registration of this application.
    pub fn app(&self, id: &ApplicationId) -> Option<&AppEntry> {
        self.apps.iter().find(|a| &a.id == id)
    }
}

impl Directory for Snapshot {
    fn policy(&self) -> Policy {
        self.policy
    }
    fn permission(&self, key: &PublicKey) -> Option<Permission> {
        self.contact(key).map(|c| c.permission)
    }
    fn is_registered(&self, application: &ApplicationId) -> bool {
        self.app(application).is_some()
    }
}

/// What identifies one version of a file: replaced atomically, a file gets
/// a new inode, so the inode alone tells a change; size and modification
/// time cover editors that write in place.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Stamp(Option<(u64, u64, i64, i64)>);

fn stamp(path: &Path) -> Stamp {
    let Ok(meta) = fs::metadata(path) else {
        return Stamp(None);
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Stamp(Some((
            meta.ino(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
        )))
    }
    #[cfg(not(unix))]
    {
        let nanos = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as i64);
        Stamp(Some((0, meta.len(), nanos, 0)))
    }
}

#[derive(Debug)]
struct State {
    stamps: [Stamp; 3],
    snapshot: Arc<Snapshot>,
    /// The last reload error reported, so it is reported once.
    reported: Option<String>,
}

/// The home's policy, contacts and registrations, reloaded when a file
/// changes. If a changed file does not parse, the last good version stays
/// in force and the error is printed once on stderr.
#[derive(Debug)]
pub struct StoreDirectory {
    home: Home,
    state: Mutex<State>,
}

impl StoreDirectory {
    /// Loads the home. A corrupt file is an error here.
    pub fn open(home: Home) -> Result<Self, StoreError> {
        let stamps = Self::stamps(&home);
        let snapshot = home.load_snapshot()?;
        Ok(StoreDirectory {
            home,
            state: Mutex::new(State {
                stamps,
                snapshot: Arc::new(snapshot),
                reported: None,
            }),
        })
    }

    fn stamps(home: &Home) -> [Stamp; 3] {
        [CONTACTS_FILE, APPS_FILE, POLICY_FILE].map(|name| stamp(&home.path(name)))
    }

    /// The current snapshot, reloaded first if a file changed.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let stamps = Self::stamps(&self.home);
        if stamps != state.stamps {
            match self.home.load_snapshot() {
                Ok(snapshot) => {
                    state.snapshot = Arc::new(snapshot);
                    state.stamps = stamps;
                    state.reported = None;
                }
                Err(e) => {
                    let message = e.to_string();
                    if state.reported.as_deref() != Some(message.as_str()) {
                        eprintln!(
                            "warning: keeping the previous contacts, applications and policy: {message}"
                        );
                        state.reported = Some(message);
                    }
                }
            }
        }
        Arc::clone(&state.snapshot)
    }
}

impl Directory for StoreDirectory {
    fn policy(&self) -> Policy {
        self.snapshot().policy
    }
    fn permission(&self, key: &PublicKey) -> Option<Permission> {
        self.snapshot().permission(key)
    }
    fn is_registered(&self, application: &ApplicationId) -> bool {
        self.snapshot().is_registered(application)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::Identity;

    #[test]
    fn a_change_by_another_process_applies_to_the_next_question() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let alice = Identity::from_seed(&[1; 32]).public_key();
        home.update_contacts(|l| {
            l.push(ContactEntry::new("alice", alice, "").unwrap());
            Ok(())
        })
        .unwrap();
        let directory = StoreDirectory::open(home.clone()).unwrap();
        assert_eq!(directory.permission(&alice), Some(Permission::Allowed));
        Home::at(dir.path())
            .update_contacts(|l| {
                l[0].permission = Permission::Blocked;
                Ok(())
            })
            .unwrap();
        assert_eq!(directory.permission(&alice), Some(Permission::Blocked));
        // A broken edit keeps the last good version.
        fs::write(home.path(CONTACTS_FILE), "alice allowed\n").unwrap();
        assert_eq!(directory.permission(&alice), Some(Permission::Blocked));
        home.set_policy(Policy::Off).unwrap();
        assert_eq!(
            directory.policy(),
            Policy::TrustedOnly,
            "contacts still broken"
        );
    }
}
