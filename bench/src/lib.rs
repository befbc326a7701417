//! # beckon-bench
//!
//! What one Beckon invitation costs, measured side by side with what it
//! cannot cost less than and with what else would do the job, in the same
//! run on the same machine (these machines are shared and noisy: only
//! ratios measured together hold).
//!
//! Every workload lives here, once, and is used by both front ends:
//!
//! * the report, `cargo run -p beckon-bench --release` (`-- --quick` for
//!   CI), which interleaves the workloads, prints one table of figures and
//!   ratios, and writes `bench/report.md` and `bench/report.json`;
//! * criterion, `cargo bench -p beckon-bench`, for detailed statistics of
//!   each workload on its own.
//!
//! The workloads:
//!
//! | module | what one iteration is |
//! |---|---|
//! | [`exchange`] | a whole Beckon exchange in memory, both roles, through Accepted; and N of them stepped in turn |
//! | [`floor`] | exactly the primitive operations one exchange needs, on the same crates, with nothing around them |
//! | [`noise_snow`] | the same exchange on `snow`: Noise NN plus the same ed25519 identity proofs |
//! | [`tls`] | a rustls TLS 1.3 handshake with mutual ed25519 authentication, one request, one response |
//! | [`load`] | the tokio adapter over loopback: many invitations, many connections, one auto-accepting listener |
//!
//! [`primitives`] times each primitive on dalek and on ring (rustls's),
//! to say where the time goes. [`alloc`] counts heap allocations; [`measure`] runs workloads in
//! interleaved rounds; [`machine`] names the machine; [`report`] builds the
//! table.

pub mod alloc;
pub mod exchange;
pub mod floor;
pub mod load;
pub mod machine;
pub mod measure;
pub mod noise_snow;
pub mod primitives;
pub mod report;
pub mod tls;

use rand_chacha::rand_core::SeedableRng;

/// The random number generator every in-memory workload draws its
/// ephemeral keys from: the same seeded ChaCha20 everywhere, so the floor
/// and the exchange pay the same for their randomness.
pub type BenchRng = rand_chacha::ChaCha20Rng;

/// A [`BenchRng`] from a seed.
pub fn rng(seed: u64) -> BenchRng {
    BenchRng::seed_from_u64(seed)
}
