//! The admission of connections to their handshake: at most
//! `max_handshakes` at once; a newcomer beyond them evicts a stalled one
//! (see [`Table::victim`]), and at most `max_closing` evicted connections
//! may still be closing.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};
use tracing::info;

/// The connections in their handshake, oldest first, and the permits of
/// the evicted ones still closing.
pub(super) struct Handshakes {
    table: Arc<Mutex<Table>>,
    closing: Arc<Semaphore>,
}

/// The table of connections in their handshake: pure bookkeeping (no
/// I/O, no clock, no tasks), so its rules are unit-tested below. `T` is
/// what tells an evicted connection so: a oneshot sender in the listener.
pub(super) struct Table<T = oneshot::Sender<OwnedSemaphorePermit>> {
    max: usize,
    next_id: u64,
    /// Oldest first; ids increase, so it is sorted by id. At most `max`.
    live: VecDeque<InFlight<T>>,
}

/// One connection in its handshake, as the accept loop sees it.
pub(super) struct InFlight<T> {
    id: u64,
    peer: SocketAddr,
    /// Whether its Hello is in (the invitee has answered it).
    spoke: bool,
    /// Tells the session it is evicted, with the permit it holds while it
    /// closes. Dropped (which the session ignores) when it leaves.
    evict: T,
}

/// A new connection's place in the handshakes.
pub(super) struct Admitted {
    pub(super) slot: Slot,
    /// Fires when the connection is evicted.
    pub(super) evicted: oneshot::Receiver<OwnedSemaphorePermit>,
    /// Whether it took the place of another.
    pub(super) evicting: bool,
}

pub(super) fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    // Nothing panics while the table is locked; a poisoned table is sound.
    table.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Handshakes {
    pub(super) fn new(max: usize, max_closing: usize) -> Self {
        Handshakes {
            table: Arc::new(Mutex::new(Table::new(max))),
            closing: Arc::new(Semaphore::new(max_closing)),
        }
    }

    /// Takes a place for a new connection from `peer`, evicting one (see
    /// [`Table::victim`]) when all are taken. `None` when none can be
    /// evicted: there are no places, or too many evicted connections are
    /// still closing.
    pub(super) fn admit(&self, peer: SocketAddr) -> Option<Admitted> {
        let (evict, evicted) = oneshot::channel();
        let (id, victim) = {
            let mut table = lock(&self.table);
            let victim = if table.is_full() {
                let index = table.victim()?;
                let permit = Arc::clone(&self.closing).try_acquire_owned().ok()?;
                Some((table.take(index)?, permit))
            } else {
                None
            };
            (table.push(peer, evict), victim)
        };
        let evicting = victim.is_some();
        if let Some((victim, permit)) = victim {
            info!(
                %peer, evicted = %victim.peer, hello = victim.spoke,
                "handshakes full: evicting a stalled one"
            );
            // Fails only if that session has just ended: the permit returns.
            let _ = victim.evict.send(permit);
        }
        Some(Admitted {
            slot: Slot {
                id,
                spoke: false,
                table: Some(Arc::clone(&self.table)),
            },
            evicted,
            evicting,
        })
    }
}

impl<T> Table<T> {
    fn new(max: usize) -> Self {
        Table {
            max,
            next_id: 0,
            live: VecDeque::new(),
        }
    }

    /// Whether a newcomer must evict one to get a place.
    fn is_full(&self) -> bool {
        self.live.len() >= self.max
    }

    /// Adds a newcomer (the caller made room); returns its id.
    fn push(&mut self, peer: SocketAddr, evict: T) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.live.push_back(InFlight {
            id,
            peer,
            spoke: false,
            evict,
        });
        id
    }

    /// Takes the entry at `index` out (to evict it).
    fn take(&mut self, index: usize) -> Option<InFlight<T>> {
        self.live.remove(index)
    }

    /// Marks a connection as having sent its Hello.
    fn mark_spoke(&mut self, id: u64) {
        if let Some(c) = self.find(id).and_then(|i| self.live.get_mut(i)) {
            c.spoke = true;
        }
    }

    /// Removes a connection that leaves its handshake; false if it is not
    /// there (it was evicted first).
    fn remove(&mut self, id: u64) -> bool {
        match self.find(id) {
            Some(i) => {
                // Dropping the entry drops its eviction token.
                self.live.remove(i);
                true
            }
            None => false,
        }
    }

    /// Which connection a newcomer evicts from the full table: the oldest
    /// that has not sent its Hello among the older half, else the oldest.
    /// The policy and its reasons are on [`ListenerConfig::max_handshakes`](super::ListenerConfig::max_handshakes).
    fn victim(&self) -> Option<usize> {
        if self.live.is_empty() {
            return None;
        }
        let older = self.live.len() - self.live.len() / 2;
        Some(
            self.live
                .iter()
                .take(older)
                .position(|c| !c.spoke)
                .unwrap_or(0),
        )
    }

    fn find(&self, id: u64) -> Option<usize> {
        self.live.binary_search_by_key(&id, |c| c.id).ok()
    }
}

/// A session's place in the handshakes, held while it is in its handshake.
/// Dropping it leaves the table.
pub(super) struct Slot {
    id: u64,
    spoke: bool,
    /// `None` once it has left.
    table: Option<Arc<Mutex<Table>>>,
}

impl Slot {
    /// The session has answered a Hello: evict silent connections first.
    pub(super) fn spoke(&mut self) {
        if self.spoke {
            return;
        }
        self.spoke = true;
        if let Some(table) = &self.table {
            lock(table).mark_spoke(self.id);
        }
    }

    /// Leaves the table. False if the connection was evicted before: the
    /// eviction is decided under the table's lock, so it and the leaving
    /// agree on which came first.
    pub(super) fn leave(&mut self) -> bool {
        let Some(table) = self.table.take() else {
            return false;
        };
        let removed = lock(&table).remove(self.id);
        removed
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], n))
    }

    fn full(max: usize) -> (Table<()>, Vec<u64>) {
        let mut t = Table::new(max);
        let ids = (0..max).map(|i| t.push(peer(i as u16), ())).collect();
        (t, ids)
    }

    /// A full table of `max` connections in which those at the indexes
    /// `spoke` (in arrival order) spoke.
    fn full_with_spoken(max: usize, spoke: &[usize]) -> Table<()> {
        let (mut t, ids) = full(max);
        for &i in spoke {
            t.mark_spoke(ids[i]);
        }
        t
    }

    #[test]
    fn ids_increase_and_the_table_fills_at_its_bound() {
        let mut t: Table<()> = Table::new(3);
        assert!(!t.is_full());
        assert_eq!(t.victim(), None, "nothing to evict in an empty table");
        let ids: Vec<u64> = (0..3).map(|i| t.push(peer(i), ())).collect();
        assert_eq!(ids, [0, 1, 2]);
        assert!(t.is_full());
        assert_eq!(t.find(1), Some(1));
        assert_eq!(t.find(7), None);
    }

    #[test]
    fn a_newcomer_evicts_the_oldest_silent_one_of_the_older_half() {
        // The oldest two spoke; the third (still in the older half) is
        // the oldest silent one.
        let mut t = full_with_spoken(6, &[0, 1]);
        assert_eq!(t.victim(), Some(2));
        let evicted = t.take(2).unwrap();
        assert_eq!(
            (evicted.id, evicted.peer, evicted.spoke),
            (2, peer(2), false)
        );
        assert!(!t.is_full());
    }

    #[test]
    fn when_the_older_half_all_spoke_the_oldest_goes() {
        // Silent connections only in the newer half: they are young, and
        // may still be on their way; the oldest is evicted.
        assert_eq!(full_with_spoken(4, &[0, 1]).victim(), Some(0));
        // An odd size: the older half is the larger one.
        assert_eq!(full_with_spoken(5, &[0, 1, 2]).victim(), Some(0));
        assert_eq!(
            full_with_spoken(5, &[0, 1]).victim(),
            Some(2),
            "the third is in the older half of five"
        );
    }

    #[test]
    fn leaving_and_eviction_agree_on_which_came_first() {
        let (mut t, ids) = full(2);
        let index = t.victim().unwrap();
        let evicted = t.take(index).unwrap();
        assert!(
            !t.remove(evicted.id),
            "an evicted connection cannot leave again"
        );
        assert!(t.remove(ids[1]));
        assert!(!t.remove(ids[1]), "nor can one leave twice");
        assert_eq!(t.victim(), None);
        // Marking a connection that left changes nothing.
        t.mark_spoke(ids[1]);
        assert!(!t.is_full());
    }

    #[test]
    fn a_zero_bound_is_always_full_and_has_no_victim() {
        let t: Table<()> = Table::new(0);
        assert!(t.is_full());
        assert_eq!(t.victim(), None);
    }
}
