//! The store as the core's [`Directory`]: what the listener consults for
//! each invitation.
//!
//! * A [`Snapshot`] is the policy, contacts and registrations at one
//!   moment, in memory. It implements [`Directory`] with plain lookups and
//!   no I/O, so the core can consult it on an async worker, and an
//!   invitation judged against one snapshot is judged against one version
//!   of the files.
//! * A [`StoreDirectory`] holds the current snapshot and replaces it when a
//!   file changes, so `beckon contact block` in another terminal applies to
//!   the next invitation. After [`StoreDirectory::watch`], a background
//!   thread checks the files' metadata every [`POLL_INTERVAL`] (or when
//!   asked, [`StoreDirectory::reload_now`]) and reloads them, and
//!   [`StoreDirectory::snapshot`] is a pointer copy. Until then, each
//!   `snapshot` call checks the files itself, as short-lived users want.
//! * **Fail closed.** While a file does not parse (or cannot be read), the
//!   snapshot is one that refuses every invitation: its
//!   [`fault`](Snapshot::fault) says why, and as a [`Directory`] its
//!   policy is `Off`, so the core answers `InvitationsOff`. The last
//!   version that parsed is not kept in force: it may be more permissive
//!   than what the user is typing. Each change of state is reported once,
//!   as a [`DirectoryReport`], not once per poll.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::thread;
use std::time::Duration;

use beckon_core::{ApplicationId, Directory, Facts, Permission, Policy, PublicKey};

use super::{AppEntry, ContactEntry, Home, StoreError, APPS_FILE, CONTACTS_FILE, POLICY_FILE};

/// How often a watching [`StoreDirectory`] checks the files' metadata.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The policy, contacts and registrations at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Who may invite (`Off` in a snapshot that fails closed).
    pub policy: Policy,
    /// The contacts.
    pub contacts: Vec<ContactEntry>,
    /// The registrations.
    pub apps: Vec<AppEntry>,
    /// Why this snapshot refuses every invitation: the error of a file
    /// that does not parse or cannot be read, naming the file (and the
    /// line). `None` for the files as they parsed. A snapshot with a fault
    /// keeps the contacts and registrations of the last version that
    /// parsed, to name people and applications in messages, but as a
    /// [`Directory`] it admits nothing.
    pub fault: Option<String>,
}

impl Snapshot {
    /// The snapshot that refuses every invitation because of `error`,
    /// keeping `last_good`'s names for messages.
    pub fn failing_closed(last_good: &Snapshot, error: &StoreError) -> Snapshot {
        Snapshot {
            policy: Policy::Off,
            contacts: last_good.contacts.clone(),
            apps: last_good.apps.clone(),
            fault: Some(error.to_string()),
        }
    }

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

    /// The permission of the contact with this key, `None` if it is not a
    /// contact.
    pub fn permission(&self, key: &PublicKey) -> Option<Permission> {
        self.contact(key).map(|c| c.permission)
    }

    /// Whether this application may be invited to: registered, and the
    /// files read without a fault.
    pub fn is_registered(&self, application: &ApplicationId) -> bool {
        self.fault.is_none() && self.app(application).is_some()
    }
}

impl Directory for Snapshot {
    fn policy(&self) -> Policy {
        if self.fault.is_some() {
            Policy::Off
        } else {
            self.policy
        }
    }
    fn facts(&self, inviter: &PublicKey, application: &ApplicationId) -> Facts {
        Facts {
            policy: self.policy(),
            permission: self.permission(inviter),
            registered: self.is_registered(application),
        }
    }
}

/// A change of a [`StoreDirectory`]'s snapshot, reported once.
#[derive(Debug)]
pub enum DirectoryReport {
    /// A file changed and does not parse, or could not be read: from now
    /// on every invitation is refused, until it is fixed. The error names
    /// the file and the line. Reported again only if the error changes.
    FailingClosed(StoreError),
    /// The files changed and were read again.
    Reloaded {
        /// Whether the previous snapshot was failing closed: the files
        /// parse again.
        fixed: bool,
        /// The new snapshot.
        snapshot: Arc<Snapshot>,
    },
}

impl fmt::Display for DirectoryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DirectoryReport::FailingClosed(e) => {
                write!(f, "refusing every invitation until this is fixed: {e}")
            }
            DirectoryReport::Reloaded { fixed, snapshot } => {
                write!(
                    f,
                    "{}: policy {}, {} contact(s), {} application(s)",
                    if *fixed {
                        "the files parse again, invitations are judged by them"
                    } else {
                        "reloaded the files"
                    },
                    super::policy_word(snapshot.policy),
                    snapshot.contacts.len(),
                    snapshot.apps.len()
                )
            }
        }
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

fn stamps(home: &Home) -> [Stamp; 3] {
    [CONTACTS_FILE, APPS_FILE, POLICY_FILE].map(|name| stamp(&home.path(name)))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the directory and its reloader share.
#[derive(Debug)]
struct Shared {
    home: Home,
    /// The snapshot in force; replaced whole, never changed in place.
    current: RwLock<Arc<Snapshot>>,
    /// Held for a whole check, so two checks never interleave.
    check: Mutex<CheckState>,
}

#[derive(Debug)]
struct CheckState {
    /// The files' stamps when they were last read.
    stamps: [Stamp; 3],
    /// The last snapshot that parsed.
    last_good: Arc<Snapshot>,
}

impl Shared {
    fn current(&self) -> Arc<Snapshot> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, snapshot: Arc<Snapshot>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = snapshot;
    }

    /// Reads the files again if their stamps changed (or if `force`),
    /// swaps in what they hold, and says what changed, if anything did.
    fn check(&self, force: bool) -> Option<DirectoryReport> {
        let mut state = lock(&self.check);
        // Stamped before reading: a change in between is read now and
        // read again at the next check, never missed.
        let stamps = stamps(&self.home);
        if !force && stamps == state.stamps {
            return None;
        }
        state.stamps = stamps;
        let old = self.current();
        match self.home.load_snapshot() {
            Ok(new) => {
                let fixed = old.fault.is_some();
                if !fixed && new == *old {
                    return None;
                }
                let new = Arc::new(new);
                state.last_good = Arc::clone(&new);
                self.replace(Arc::clone(&new));
                Some(DirectoryReport::Reloaded {
                    fixed,
                    snapshot: new,
                })
            }
            Err(e) => {
                let failing = Snapshot::failing_closed(&state.last_good, &e);
                if failing == *old {
                    return None;
                }
                self.replace(Arc::new(failing));
                Some(DirectoryReport::FailingClosed(e))
            }
        }
    }

    /// A check made on the caller's thread, by a directory that is not
    /// watched: what changed goes to stderr.
    fn check_here(&self, force: bool) {
        match self.check(force) {
            Some(report @ DirectoryReport::FailingClosed(_)) => eprintln!("warning: {report}"),
            Some(report @ DirectoryReport::Reloaded { fixed: true, .. }) => eprintln!("{report}"),
            _ => {}
        }
    }
}

/// A callback that gets the snapshot a requested check left.
type Reply = Box<dyn FnOnce(Arc<Snapshot>) + Send>;

/// A request to the reloader thread: check the files now.
struct Check {
    /// Read them even if their stamps did not change.
    force: bool,
    reply: Option<Reply>,
}

/// The reloader thread, and the way to reach it. Dropping the sender ends
/// the thread.
struct Watcher {
    requests: mpsc::Sender<Check>,
    thread: thread::JoinHandle<()>,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("thread", &self.thread.thread().id())
            .finish_non_exhaustive()
    }
}

impl Watcher {
    fn stop(self) {
        drop(self.requests);
        // The thread ends at its next wake-up, which the disconnection
        // is. It cannot be this thread (it holds no `StoreDirectory`).
        if self.thread.thread().id() != thread::current().id() {
            let _ = self.thread.join();
        }
    }
}

fn reloader(
    shared: Arc<Shared>,
    requests: mpsc::Receiver<Check>,
    interval: Duration,
    mut report: impl FnMut(DirectoryReport),
) {
    let mut check = |force: bool| {
        if let Some(r) = shared.check(force) {
            report(r);
        }
    };
    // What changed between `open` and now.
    check(false);
    loop {
        match requests.recv_timeout(interval) {
            Ok(Check { force, reply }) => {
                check(force);
                if let Some(reply) = reply {
                    reply(shared.current());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => check(false),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The home's policy, contacts and registrations as the core's
/// [`Directory`], reloaded when a file changes.
///
/// * It holds the current [`Snapshot`], an immutable value, and swaps in a
///   new one when a file changes, so `beckon contact block` in another
///   terminal applies to the next invitation.
/// * After [`watch`](Self::watch), a background thread checks the files'
///   metadata every [`POLL_INTERVAL`] (or when asked,
///   [`reload_now`](Self::reload_now)) and reloads them, and
///   [`snapshot`](Self::snapshot) is a pointer copy, no I/O. Until then,
///   each `snapshot` call checks the files itself, as short-lived users
///   want.
/// * **Fail closed.** While a file does not parse (or cannot be read), the
///   snapshot is one that refuses every invitation: its
///   [`fault`](Snapshot::fault) names the file and line, and as a
///   [`Directory`] its policy is `Off`, so the core answers
///   `InvitationsOff`. The last version that parsed is not kept in force:
///   it may be more permissive than what the user meant to write. Each
///   change is reported once, as a [`DirectoryReport`], not once per poll.
///
/// A listener calls [`watch`](Self::watch) once, with a callback that
/// prints or forwards the [`DirectoryReport`]s, and then hands the core
/// one [`snapshot`](Self::snapshot) per invitation (or
/// [`fresh_snapshot`](Self::fresh_snapshot), which first has the reloader
/// look at the files, so a change made just before the invitation applies
/// to it). The reloader thread ends when the `StoreDirectory` is dropped.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use beckon_desktop::store::{Home, StoreDirectory};
/// let directory = StoreDirectory::open(Home::locate()?)?;
/// let (reports, received) = std::sync::mpsc::channel();
/// directory.watch(move |report| {
///     let _ = reports.send(report);
/// })?;
/// for report in received {
///     eprintln!("{report}");
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct StoreDirectory {
    shared: Arc<Shared>,
    watching: AtomicBool,
    watcher: Mutex<Option<Watcher>>,
}

impl StoreDirectory {
    /// Loads the home. A file that does not parse is an error here, so a
    /// listener does not start on it.
    pub fn open(home: Home) -> Result<Self, StoreError> {
        let stamps = stamps(&home);
        let snapshot = Arc::new(home.load_snapshot()?);
        Ok(StoreDirectory {
            shared: Arc::new(Shared {
                home,
                current: RwLock::new(Arc::clone(&snapshot)),
                check: Mutex::new(CheckState {
                    stamps,
                    last_good: snapshot,
                }),
            }),
            watching: AtomicBool::new(false),
            watcher: Mutex::new(None),
        })
    }

    /// The home.
    pub fn home(&self) -> &Home {
        &self.shared.home
    }

    /// Starts the background reloader, which checks the files every
    /// [`POLL_INTERVAL`] and calls `report` on its thread for each change
    /// of the snapshot: once when a change makes it fail closed (or fail
    /// with another error), once when the files are read again. A check
    /// that finds nothing changed reports nothing. Called again, it
    /// replaces the reloader (and its callback).
    pub fn watch(&self, report: impl FnMut(DirectoryReport) + Send + 'static) -> io::Result<()> {
        self.watch_every(POLL_INTERVAL, report)
    }

    /// [`watch`](Self::watch), checking every `interval`.
    pub fn watch_every(
        &self,
        interval: Duration,
        report: impl FnMut(DirectoryReport) + Send + 'static,
    ) -> io::Result<()> {
        let mut watcher = lock(&self.watcher);
        if let Some(old) = watcher.take() {
            old.stop();
        }
        let (requests, received) = mpsc::channel();
        let shared = Arc::clone(&self.shared);
        let thread = thread::Builder::new()
            .name("beckon-reload".into())
            .spawn(move || reloader(shared, received, interval, report))?;
        *watcher = Some(Watcher { requests, thread });
        self.watching.store(true, Ordering::Release);
        Ok(())
    }

    /// The current snapshot. Once watched, this does no I/O. Until then,
    /// it checks the files first (and prints a change to stderr).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        if !self.watching.load(Ordering::Acquire) {
            self.shared.check_here(false);
        }
        self.shared.current()
    }

    /// The snapshot to judge an invitation by: the current one, unless a
    /// file changed since it was read (an edit a moment ago: `beckon
    /// contact block` in another terminal), then the one the reloader
    /// makes of the change, waited for. The common case costs three
    /// `stat`s and no read; a verdict never uses files older than the
    /// invitation.
    pub fn view(&self) -> Arc<Snapshot> {
        if !self.watching.load(Ordering::Acquire) {
            return self.snapshot();
        }
        let changed = stamps(&self.shared.home) != lock(&self.shared.check).stamps;
        if changed {
            self.fresh_snapshot_blocking()
        } else {
            self.shared.current()
        }
    }

    /// Asks for the files to be read again now, even if their metadata did
    /// not change (a file system whose clock is coarse). Watched, the
    /// reloader does it and this returns at once; otherwise it is done
    /// here.
    pub fn reload_now(&self) {
        if !self.send(true, None) {
            self.shared.check_here(true);
        }
    }

    /// Has the files' metadata checked (and the files reloaded if they
    /// changed) and returns the snapshot that check left. Watched, the
    /// check runs on the reloader thread and this waits for it.
    pub async fn fresh_snapshot(&self) -> Arc<Snapshot> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let reply: Reply = Box::new(move |snapshot| {
            let _ = tx.send(snapshot);
        });
        if self.send(false, Some(reply)) {
            if let Ok(snapshot) = rx.await {
                return snapshot;
            }
        }
        self.snapshot_checked_here()
    }

    /// [`fresh_snapshot`](Self::fresh_snapshot), blocking the thread until
    /// the check is done.
    pub fn fresh_snapshot_blocking(&self) -> Arc<Snapshot> {
        let (tx, rx) = mpsc::channel();
        let reply: Reply = Box::new(move |snapshot| {
            let _ = tx.send(snapshot);
        });
        if self.send(false, Some(reply)) {
            if let Ok(snapshot) = rx.recv() {
                return snapshot;
            }
        }
        self.snapshot_checked_here()
    }

    /// Sends a request to the reloader; `false` if there is none (or it
    /// ended).
    fn send(&self, force: bool, reply: Option<Reply>) -> bool {
        let watcher = lock(&self.watcher);
        watcher
            .as_ref()
            .is_some_and(|w| w.requests.send(Check { force, reply }).is_ok())
    }

    /// The check of an unwatched directory, or of one whose reloader ended
    /// (its callback panicked).
    fn snapshot_checked_here(&self) -> Arc<Snapshot> {
        self.shared.check_here(false);
        self.shared.current()
    }
}

impl Drop for StoreDirectory {
    fn drop(&mut self) {
        if let Some(watcher) = lock(&self.watcher).take() {
            watcher.stop();
        }
    }
}

/// Each question a session asks is answered from one snapshot
/// ([`StoreDirectory::view`]), so no verdict mixes two versions of the
/// files.
impl Directory for StoreDirectory {
    fn policy(&self) -> Policy {
        self.view().policy()
    }
    fn facts(&self, inviter: &PublicKey, application: &ApplicationId) -> Facts {
        self.view().facts(inviter, application)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beckon_core::Identity;

    fn key(n: u8) -> PublicKey {
        Identity::from_seed(&[n; 32]).public_key()
    }

    /// A home with the contact alice (allowed) and the policy `trusted`.
    fn home_with_alice() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        home.update_contacts(|l| {
            l.push(ContactEntry::new("alice", key(1), "").unwrap());
            Ok(())
        })
        .unwrap();
        home.set_policy(Policy::TrustedOnly).unwrap();
        (dir, home)
    }

    /// A watched directory whose reports go to a channel.
    fn watched(home: &Home) -> (StoreDirectory, mpsc::Receiver<DirectoryReport>) {
        let directory = StoreDirectory::open(home.clone()).unwrap();
        let (tx, rx) = mpsc::channel();
        // Polls often, so many polls happen in each test.
        directory
            .watch_every(Duration::from_millis(2), move |r| {
                let _ = tx.send(r);
            })
            .unwrap();
        (directory, rx)
    }

    fn assert_fails_closed(snapshot: &Snapshot, named: &str) {
        assert_eq!(snapshot.policy(), Policy::Off);
        assert_eq!(snapshot.policy, Policy::Off);
        assert!(!snapshot.is_registered(&crate::store::app_id_for_name("chess")));
        let fault = snapshot.fault.as_deref().expect("a fault");
        assert!(fault.contains(named), "{fault}");
    }

    /// Replaces a file as an editor that saves atomically does, so a poll
    /// never sees it half written.
    fn replace(path: &Path, text: &str) {
        let tmp = path.with_extension("edit");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, path).unwrap();
    }

    /// Whatever report is waiting, without waiting for one.
    fn pending(rx: &mpsc::Receiver<DirectoryReport>) -> Vec<DirectoryReport> {
        rx.try_iter().collect()
    }

    const BROKEN: &str = "alice allowed\nend\n";

    #[test]
    fn a_change_by_another_process_applies_to_the_next_question() {
        let (dir, home) = home_with_alice();
        let alice = key(1);
        let directory = StoreDirectory::open(home.clone()).unwrap();
        assert_eq!(
            directory.view().permission(&alice),
            Some(Permission::Allowed)
        );
        Home::at(dir.path())
            .update_contacts(|l| {
                l[0].permission = Permission::Blocked;
                Ok(())
            })
            .unwrap();
        assert_eq!(
            directory.view().permission(&alice),
            Some(Permission::Blocked)
        );
        assert_eq!(directory.view().policy(), Policy::TrustedOnly);
    }

    #[test]
    fn a_broken_edit_refuses_everything_until_it_is_fixed_even_unwatched() {
        let (_dir, home) = home_with_alice();
        home.set_policy(Policy::Anyone).unwrap();
        let directory = StoreDirectory::open(home.clone()).unwrap();
        assert_eq!(directory.view().policy(), Policy::Anyone);
        fs::write(home.path(CONTACTS_FILE), BROKEN).unwrap();
        let contacts = format!("{}:1:", home.path(CONTACTS_FILE).display());
        assert_fails_closed(&directory.snapshot(), &contacts);
        assert_eq!(
            directory.view().policy(),
            Policy::Off,
            "not the last good `anyone`"
        );
        // A good change to another file does not lift it.
        home.set_policy(Policy::TrustedOnly).unwrap();
        assert_fails_closed(&directory.snapshot(), &contacts);
        home.update_contacts(|_| Ok(())).unwrap_err();
        fs::remove_file(home.path(CONTACTS_FILE)).unwrap();
        let snapshot = directory.snapshot();
        assert_eq!(snapshot.fault, None);
        assert_eq!(snapshot.policy(), Policy::TrustedOnly);
        assert!(snapshot.contacts.is_empty());
    }

    #[test]
    fn a_watched_directory_fails_closed_and_recovers_reporting_each_change_once() {
        let (_dir, home) = home_with_alice();
        let alice = key(1);
        let (directory, rx) = watched(&home);
        // Many polls with nothing changed: nothing reported.
        for _ in 0..20 {
            let snapshot = directory.fresh_snapshot_blocking();
            assert_eq!(snapshot.permission(&alice), Some(Permission::Allowed));
        }
        assert!(pending(&rx).is_empty());

        replace(&home.path(CONTACTS_FILE), BROKEN);
        let snapshot = directory.fresh_snapshot_blocking();
        let contacts = format!("{}:1:", home.path(CONTACTS_FILE).display());
        assert_fails_closed(&snapshot, &contacts);
        assert_fails_closed(&directory.snapshot(), &contacts);
        assert_eq!(directory.view().policy(), Policy::Off);
        // Its names are kept, for messages.
        assert_eq!(snapshot.contact(&alice).unwrap().name, "alice");
        let reports = pending(&rx);
        assert_eq!(reports.len(), 1, "{reports:?}");
        match &reports[0] {
            DirectoryReport::FailingClosed(e @ StoreError::Corrupt { line: 1, .. }) => {
                assert!(e.to_string().starts_with(&contacts), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert!(reports[0]
            .to_string()
            .starts_with("refusing every invitation until this is fixed: "));
        // Polls, and a forced reload of the same broken file: said once.
        for _ in 0..20 {
            assert_fails_closed(&directory.fresh_snapshot_blocking(), &contacts);
        }
        directory.reload_now();
        assert_fails_closed(&directory.fresh_snapshot_blocking(), &contacts);
        assert!(pending(&rx).is_empty());

        // Broken another way: said again, naming the new line.
        replace(&home.path(CONTACTS_FILE), "# note\nalice maybe\nend\n");
        let line_2 = format!("{}:2:", home.path(CONTACTS_FILE).display());
        assert_fails_closed(&directory.fresh_snapshot_blocking(), &line_2);
        assert_eq!(pending(&rx).len(), 1);

        // Fixed: allowed again, said once.
        home.update_contacts(|_| Ok(())).unwrap_err();
        replace(
            &home.path(CONTACTS_FILE),
            &crate::store::render_contacts(&[ContactEntry::new("alice", alice, "").unwrap()]),
        );
        let snapshot = directory.fresh_snapshot_blocking();
        assert_eq!(snapshot.fault, None);
        assert_eq!(snapshot.policy(), Policy::TrustedOnly);
        assert_eq!(snapshot.permission(&alice), Some(Permission::Allowed));
        let reports = pending(&rx);
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(
            matches!(&reports[0], DirectoryReport::Reloaded { fixed: true, snapshot }
                if snapshot.contacts.len() == 1),
            "{reports:?}"
        );
        for _ in 0..20 {
            directory.fresh_snapshot_blocking();
        }
        assert!(pending(&rx).is_empty());
    }

    #[test]
    fn the_reloader_notices_a_change_by_itself() {
        let (_dir, home) = home_with_alice();
        let (directory, rx) = watched(&home);
        replace(&home.path(POLICY_FILE), "everyone\nend\n");
        // Nothing asks: the poll finds it. (A generous bound, no timing.)
        let report = rx.recv_timeout(Duration::from_secs(60)).expect("a report");
        assert!(
            matches!(report, DirectoryReport::FailingClosed(_)),
            "{report:?}"
        );
        assert_fails_closed(&directory.snapshot(), POLICY_FILE);
        home.set_policy(Policy::Anyone).unwrap();
        let report = rx.recv_timeout(Duration::from_secs(60)).expect("a report");
        assert!(
            matches!(&report, DirectoryReport::Reloaded { fixed: true, snapshot }
                if snapshot.policy == Policy::Anyone),
            "{report:?}"
        );
        assert_eq!(directory.snapshot().policy(), Policy::Anyone);
    }

    #[test]
    fn a_good_change_is_reported_once_and_a_touch_not_at_all() {
        let (_dir, home) = home_with_alice();
        let (directory, rx) = watched(&home);
        home.update_contacts(|l| {
            l[0].permission = Permission::Blocked;
            Ok(())
        })
        .unwrap();
        let snapshot = directory.fresh_snapshot_blocking();
        assert_eq!(snapshot.permission(&key(1)), Some(Permission::Blocked));
        let reports = pending(&rx);
        assert!(
            matches!(
                reports.as_slice(),
                [DirectoryReport::Reloaded { fixed: false, .. }]
            ),
            "{reports:?}"
        );
        // Rewritten with the same contents: a new inode, nothing new.
        home.update_contacts(|_| Ok(())).unwrap();
        directory.fresh_snapshot_blocking();
        assert!(pending(&rx).is_empty());
    }

    #[test]
    fn reload_now_reads_a_change_the_metadata_does_not_show() {
        let (_dir, home) = home_with_alice();
        let directory = StoreDirectory::open(home.clone()).unwrap();
        let path = home.path(POLICY_FILE);
        let before = fs::metadata(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        // `trusted` to `anyone`, in place, same length, same time, before
        // the reloader starts: no poll can see it.
        let changed = text.replace("\ntrusted\n", "\nanyone \n");
        assert_eq!(changed.len(), text.len());
        fs::write(&path, &changed).unwrap();
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(before.modified().unwrap()).unwrap();
        drop(file);
        let (tx, rx) = mpsc::channel();
        directory
            .watch_every(Duration::from_millis(2), move |r| {
                let _ = tx.send(r);
            })
            .unwrap();
        assert_eq!(
            directory.fresh_snapshot_blocking().policy,
            Policy::TrustedOnly
        );
        directory.reload_now();
        assert_eq!(directory.fresh_snapshot_blocking().policy, Policy::Anyone);
        assert_eq!(pending(&rx).len(), 1);
    }

    #[test]
    fn the_reloader_ends_with_its_directory() {
        let (_dir, home) = home_with_alice();
        let (directory, rx) = watched(&home);
        let shared = Arc::downgrade(&directory.shared);
        drop(directory);
        // Joined in drop: the thread has let go of what it shared.
        assert!(shared.upgrade().is_none());
        // And its callback, with the channel's sender.
        assert!(matches!(rx.recv(), Err(mpsc::RecvError)));
    }

    #[tokio::test]
    async fn fresh_snapshot_sees_a_change_made_just_before() {
        let (_dir, home) = home_with_alice();
        let (directory, _rx) = watched(&home);
        home.set_policy(Policy::Off).unwrap();
        assert_eq!(directory.fresh_snapshot().await.policy(), Policy::Off);
        // Unwatched, it checks on the spot.
        let unwatched = StoreDirectory::open(home.clone()).unwrap();
        home.set_policy(Policy::Anyone).unwrap();
        assert_eq!(unwatched.fresh_snapshot().await.policy(), Policy::Anyone);
    }
}
