//! A counting global allocator: how many heap allocations a piece of code
//! makes.
//!
//! Install it in a binary or test with
//!
//! ```no_run
//! #[global_allocator]
//! static ALLOC: beckon_bench::alloc::CountingAlloc = beckon_bench::alloc::CountingAlloc;
//!
//! fn main() {
//!     let ((), allocations, bytes) = beckon_bench::alloc::count(|| drop(vec![0u8; 10]));
//!     assert_eq!((allocations, bytes), (1, 10));
//! }
//! ```
//!
//! then use [`count`], which counts what the calling thread allocates
//! while it runs a closure (other threads' allocations are not counted).
//! Counting costs a thread-local increment and a relaxed atomic one per
//! allocation, which is nothing next to a handshake.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static INSTALLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    // Const-initialised and without a destructor, so reaching it never
    // allocates (which would recurse into the allocator).
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    static THREAD_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn counted(size: usize) {
    INSTALLED.store(true, Ordering::Relaxed);
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    let _ = THREAD_ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
    let _ = THREAD_BYTES.try_with(|c| c.set(c.get() + size as u64));
}

/// The system allocator, counting allocations (including reallocations,
/// which may move) and the bytes they ask for.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are ours; the counters are atomics
// and never allocate.
//
// Why `unsafe` is allowed here, and only here: `GlobalAlloc` is an unsafe
// trait, and counting allocations without one would mean trusting a
// profiler's sampling instead of an exact count. The bench crate denies
// `unsafe_code` everywhere else (bench/Cargo.toml).
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        // SAFETY: forwarded as is (see the impl's comment).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size());
        // SAFETY: forwarded as is.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size);
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations (and reallocations) so far, process-wide.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Allocations so far on this thread.
pub fn thread_allocations() -> u64 {
    THREAD_ALLOCATIONS.with(Cell::get)
}

/// Bytes asked for so far on this thread.
pub fn thread_bytes() -> u64 {
    THREAD_BYTES.with(Cell::get)
}

/// Whether a [`CountingAlloc`] is the global allocator (it has seen an
/// allocation). Without it every count reads zero, which would pass a
/// zero-allocation check for the wrong reason.
pub fn is_installed() -> bool {
    drop(std::hint::black_box(Box::new(0u8)));
    INSTALLED.load(Ordering::Relaxed)
}

/// Runs `f` and returns its result with the allocations and bytes this
/// thread made meanwhile.
pub fn count<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (a, b) = (thread_allocations(), thread_bytes());
    let out = f();
    (out, thread_allocations() - a, thread_bytes() - b)
}
