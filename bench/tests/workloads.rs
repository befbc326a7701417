//! Every workload of the benchmark runs and does its job: each exchange is
//! accepted, each peer's exchange completes with the same payloads, and
//! the byte counts are what the protocol says. Timings are not checked.

use beckon_bench::exchange::{exchange, run_concurrent, Case, Fixture};
use beckon_bench::floor::{floor_exchange, key_checks, FloorFixture};
use beckon_bench::load::{run_load, LoadConfig};
use beckon_bench::noise_snow::{snow_exchange, SnowFixture};
use beckon_bench::primitives::Primitives;
use beckon_bench::rng;
use beckon_bench::tls::{tls_exchange, TlsFixture, TlsMode};

#[test]
fn beckon_bytes_are_the_protocols() {
    let fx = Fixture::new();
    let mut r = rng(1);
    let bytes: Vec<_> = Case::ALL
        .iter()
        .map(|&c| exchange(&fx, c, &mut r).expect("accepted"))
        .collect();
    // Hello 36, Proof 147, Invite 134, Answer 21 (docs/protocol.md).
    assert_eq!((bytes[0].a_to_b, bytes[0].b_to_a), (170, 168));
    // 255 more bytes of message and one more byte of its length.
    assert_eq!(bytes[1].total(), bytes[0].total() + 256);
    // 16 KiB more data and two more bytes of its length.
    assert_eq!(bytes[2].total(), bytes[0].total() + 16 * 1024 + 2);
}

#[test]
fn n_exchanges_stepped_in_turn_are_all_accepted() {
    let fx = Fixture::new();
    let mut r = rng(2);
    let mut sessions = Vec::new();
    for n in [1, 7, 50] {
        run_concurrent(&fx, n, &mut r, &mut sessions).expect("all accepted");
    }
}

#[test]
fn the_floor_and_the_primitives_check_out() {
    let ff = FloorFixture::new();
    let mut r = rng(3);
    assert!(floor_exchange(&ff, &mut r));
    assert!(key_checks(&ff));
    let p = Primitives::new();
    assert!(p.dalek_x25519(&mut r));
    assert!(p.ring_x25519());
    assert!(p.dalek_sign() && p.ring_sign());
    assert!(p.dalek_verify() && p.ring_verify());
    assert!(p.noise_hashing() && p.aead());
}

#[test]
fn snow_does_the_same_exchange_in_the_same_bytes_give_or_take_framing() {
    let fx = Fixture::new();
    let mut r = rng(4);
    for case in Case::ALL {
        let beckon = exchange(&fx, case, &mut r).expect("accepted");
        let snow = snow_exchange(&mut SnowFixture::new(&fx, case)).expect("snow");
        // Beckon's frames have a kind byte after Noise's 2-byte length; its
        // Hello carries a version byte: 4 + 1 bytes more in all.
        assert_eq!(beckon.total(), snow.total() + 5, "{}", case.label());
    }
}

#[test]
fn rustls_completes_with_mutual_authentication_both_ways() {
    let fx = Fixture::new();
    for mode in [TlsMode::WebPki, TlsMode::Pinned] {
        for case in Case::ALL {
            let mut t = TlsFixture::new(&fx, case, mode).expect("certificates");
            let wire = tls_exchange(&mut t).expect("a TLS exchange");
            let again = tls_exchange(&mut t).expect("a second full handshake");
            assert!(wire.total() > 1000, "{mode:?} {}: {wire:?}", case.label());
            assert_eq!(wire.total(), again.total(), "no resumption");
        }
    }
}

#[test]
fn a_small_load_test_gets_every_invitation_accepted() {
    let result = run_load(LoadConfig {
        invitations: 40,
        connections: 8,
    })
    .expect("the load test runs");
    assert_eq!(result.failed, 0, "{:?}", result.failures);
    assert_eq!(result.accepted, 40);
    // A latency for every invitation, sorted; their values are timings,
    // for the report, not checked here.
    assert_eq!(result.latencies.len(), 40);
    assert!(result.latency(0.5) <= result.latency(0.99));
}

#[test]
fn the_process_cpu_time_is_readable_on_linux() {
    if cfg!(target_os = "linux") {
        let cpu = beckon_bench::load::process_cpu().expect("/proc/self/stat");
        // Burn CPU and see the figure grow (10 ms resolution). Bounded by
        // work done, not by wall-clock time, which a loaded machine may
        // spend with this thread waiting: 1,000 rounds of 1,000,000
        // additions take a fifth of a second of CPU time even at one
        // addition per cycle at 5 GHz, 20 times what the figure needs to
        // move.
        let mut x = 0u64;
        let grew = (0..1_000).any(|_| {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            beckon_bench::load::process_cpu().expect("again") > cpu
        });
        assert!(grew, "the CPU time stayed at {cpu:?} over 1,000 rounds");
    }
}
