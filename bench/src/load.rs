//! The tokio adapter under load, over loopback, in one process: one
//! [`Listener`] that accepts every invitation at once, and `connections`
//! inviters each sending its share of `invitations` one after the other
//! with [`invite_tcp`] (one TCP connection per invitation, as the protocol
//! has it), so that at most `connections` are in flight at any time.
//!
//! The listener and the inviters share one multi-threaded runtime with a
//! worker per core: the machine does both sides, as the in-memory exchange
//! does both sides on one core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use beckon_core::{Config, Invitation, Response, Target};
use beckon_tokio::{invite_tcp, InviteOptions, Listener, ListenerConfig};

use crate::exchange::{Fixture, APP};

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Invitations in all.
    pub invitations: usize,
    /// Inviters running at once, each with one connection at a time.
    pub connections: usize,
}

/// What happened.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Invitations sent.
    pub invitations: usize,
    /// Concurrent connections.
    pub connections: usize,
    /// Runtime worker threads.
    pub threads: usize,
    /// Invitations answered Accepted.
    pub accepted: usize,
    /// The first few failures, described.
    pub failures: Vec<String>,
    /// Failures in all.
    pub failed: usize,
    /// From the first connection to the last answer.
    pub elapsed: Duration,
    /// Each invitation's latency, from `invite_tcp`'s call (before the
    /// connection) to its answer, sorted.
    pub latencies: Vec<Duration>,
    /// CPU time the whole process spent meanwhile (user and system, all
    /// threads, both sides), where `/proc/self/stat` tells it.
    pub cpu: Option<Duration>,
}

impl LoadResult {
    /// Invitations per second.
    pub fn throughput(&self) -> f64 {
        self.invitations as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time per invitation, both sides together.
    pub fn cpu_per_invitation(&self) -> Option<Duration> {
        let n = u32::try_from(self.invitations).ok().filter(|&n| n > 0)?;
        Some(self.cpu? / n)
    }

    /// Cores kept busy on average (CPU time over wall time).
    pub fn cores_used(&self) -> Option<f64> {
        Some(self.cpu?.as_secs_f64() / self.elapsed.as_secs_f64())
    }

    /// The latency at quantile `q` (0..=1), nearest rank.
    pub fn latency(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((q * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[rank - 1]
    }
}

/// Runs the load test on a fresh runtime.
pub fn run_load(cfg: LoadConfig) -> std::io::Result<LoadResult> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    runtime.block_on(load(cfg, threads))
}

/// The process's CPU time so far (user + system, all threads, living or
/// not), from `/proc/self/stat`, whose clock ticks are Linux's fixed
/// `USER_HZ` of 100 per second.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces; the fields resume after its ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let mut fields = rest.split(' ');
    // Fields 14 and 15 of the whole line are the 12th and 13th after ')'.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

async fn load(cfg: LoadConfig, threads: usize) -> std::io::Result<LoadResult> {
    let fx = Fixture::new();
    let connections = cfg.connections.max(1);
    let listener_cfg = ListenerConfig {
        // Room for every connection in flight, and every prompt: the test
        // measures the adapter, not its refusals.
        max_handshakes: 2 * connections,
        max_prompts: 2 * connections,
        config: Config::default(),
    };
    let mut listener = Listener::bind(
        "127.0.0.1:0",
        fx.bob.clone(),
        Arc::new(fx.directory.clone()),
        listener_cfg,
    )?;
    let addr = listener.local_addr();
    let acceptor = tokio::spawn(async move {
        while let Some(invitation) = listener.next().await {
            tokio::spawn(async move {
                let _ = invitation.accept("").await;
            });
        }
    });

    let alice = Arc::new(fx.alice.clone());
    let bob = fx.bob.public_key();
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut workers = Vec::with_capacity(connections);
    for i in 0..connections {
        let share = cfg.invitations / connections + usize::from(i < cfg.invitations % connections);
        let alice = Arc::clone(&alice);
        workers.push(tokio::spawn(async move {
            let invitation = Invitation::new(APP, "", &[]).expect("an empty invitation");
            let mut latencies = Vec::with_capacity(share);
            let mut failures = Vec::new();
            for _ in 0..share {
                let t = Instant::now();
                let answer = invite_tcp(
                    addr,
                    &alice,
                    Target::Contact(bob),
                    &invitation,
                    InviteOptions::default(),
                    |_| {},
                )
                .await;
                latencies.push(t.elapsed());
                match answer {
                    Ok(a) if a.response == Response::Accepted => {}
                    Ok(a) => failures.push(format!("answered {:?}", a.response)),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(cfg.invitations);
    let mut failures = Vec::new();
    for worker in workers {
        let (l, f) = worker.await.map_err(std::io::Error::other)?;
        latencies.extend(l);
        failures.extend(f);
    }
    let elapsed = started.elapsed();
    let cpu = process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    acceptor.abort();
    latencies.sort_unstable();
    let failed = failures.len();
    failures.truncate(5);
    Ok(LoadResult {
        invitations: latencies.len(),
        connections,
        threads,
        accepted: latencies.len() - failed,
        failures,
        failed,
        elapsed,
        latencies,
        cpu,
    })
}
