//! The core allocates nothing: a whole exchange of each kind, counted by a
//! counting global allocator (goal 5 of the benchmark issue, checked on
//! every `cargo test`).

use beckon_bench::alloc::{self, CountingAlloc};
use beckon_bench::exchange::{exchange, run_concurrent, Case, Fixture};
use beckon_bench::rng;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

#[test]
fn a_whole_exchange_allocates_nothing() {
    assert!(
        alloc::is_installed(),
        "the counting allocator is not in use"
    );
    let fx = Fixture::new();
    let mut r = rng(1);
    for case in Case::ALL {
        let (wire, n, bytes) = alloc::count(|| exchange(&fx, case, &mut r));
        let wire = wire.expect("accepted");
        assert!(wire.total() > 0);
        assert_eq!(
            (n, bytes),
            (0, 0),
            "{}: {n} allocations, {bytes} bytes",
            case.label()
        );
    }
    // Stepping many at once allocates only the harness's storage, which is
    // made before counting.
    let mut sessions = Vec::with_capacity(10);
    let (ok, n, _) = alloc::count(|| run_concurrent(&fx, 10, &mut r, &mut sessions));
    ok.expect("all accepted");
    assert_eq!(n, 0, "{n} allocations stepping 10 exchanges");
}

#[test]
fn the_counter_counts() {
    let ((), n, bytes) = alloc::count(|| drop(std::hint::black_box(vec![0u8; 100])));
    assert_eq!((n, bytes), (1, 100));
}
