//! Criterion's detailed statistics for each in-memory workload of the
//! report: `cargo bench -p beckon-bench` (or `-- exchange/` to pick a
//! group). The one-command report with the ratios, the bytes, the
//! allocations and the load test is `cargo run -p beckon-bench --release`.
//!
//! Groups: `exchange/` (Beckon, the crypto floor, the core's extra key
//! checks, snow, rustls, rustls pinned), `primitive/` (dalek beside ring),
//! `scaling/` (N concurrent exchanges stepped in turn, per exchange).

use std::hint::black_box;

use beckon_bench::exchange::{exchange, run_concurrent, Case, Fixture};
use beckon_bench::floor::{floor_exchange, key_checks, FloorFixture};
use beckon_bench::machine::Machine;
use beckon_bench::noise_snow::{snow_exchange, SnowFixture};
use beckon_bench::primitives::{Primitives, DALEK_TABLES};
use beckon_bench::rng;
use beckon_bench::tls::{tls_exchange, TlsFixture, TlsMode};
use criterion::{BenchmarkId, Criterion, Throughput};

fn exchanges(c: &mut Criterion) {
    let fx = Fixture::new();
    let ff = FloorFixture::new();
    let mut r = rng(1);
    let mut g = c.benchmark_group("exchange");
    g.throughput(Throughput::Elements(1));
    g.bench_function("beckon", |b| {
        b.iter(|| exchange(&fx, Case::Empty, &mut r).expect("accepted"))
    });
    g.bench_function("floor", |b| b.iter(|| assert!(floor_exchange(&ff, &mut r))));
    g.bench_function("key_checks", |b| b.iter(|| assert!(key_checks(&ff))));
    let mut sf = SnowFixture::new(&fx, Case::Empty);
    g.bench_function("snow", |b| b.iter(|| snow_exchange(&mut sf).expect("snow")));
    for (name, mode) in [
        ("rustls", TlsMode::WebPki),
        ("rustls_pinned", TlsMode::Pinned),
    ] {
        let mut tf = TlsFixture::new(&fx, Case::Empty, mode).expect("certificates");
        g.bench_function(name, |b| b.iter(|| tls_exchange(&mut tf).expect("rustls")));
    }
    g.finish();
}

fn primitives(c: &mut Criterion) {
    let p = Primitives::new();
    let mut r = rng(2);
    let mut g = c.benchmark_group("primitive");
    g.bench_function("dalek_x25519_keygen_dh", |b| {
        b.iter(|| assert!(p.dalek_x25519(&mut r)))
    });
    g.bench_function("ring_x25519_keygen_dh", |b| {
        b.iter(|| assert!(p.ring_x25519()))
    });
    g.bench_function("dalek_ed25519_sign", |b| b.iter(|| assert!(p.dalek_sign())));
    g.bench_function("ring_ed25519_sign", |b| b.iter(|| assert!(p.ring_sign())));
    g.bench_function("dalek_ed25519_verify", |b| {
        b.iter(|| assert!(p.dalek_verify()))
    });
    g.bench_function("ring_ed25519_verify", |b| {
        b.iter(|| assert!(p.ring_verify()))
    });
    g.bench_function("noise_hashing", |b| b.iter(|| assert!(p.noise_hashing())));
    g.bench_function("aead", |b| b.iter(|| assert!(p.aead())));
    g.finish();
}

fn scaling(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut r = rng(3);
    let mut sessions = Vec::with_capacity(1000);
    let mut g = c.benchmark_group("scaling");
    g.sample_size(10);
    for n in [1usize, 10, 100, 1000] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter(|| run_concurrent(&fx, black_box(n), &mut r, &mut sessions).expect("accepted"))
        });
    }
    g.finish();
}

fn main() {
    let tables = if DALEK_TABLES { "on" } else { "off" };
    println!(
        "beckon-bench (criterion) on {}; dalek precomputed tables {tables}",
        Machine::detect().line()
    );
    let mut c = Criterion::default().configure_from_args();
    exchanges(&mut c);
    primitives(&mut c);
    scaling(&mut c);
    c.final_summary();
}
