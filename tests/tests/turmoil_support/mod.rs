//! The world of the turmoil tests: Bob's host runs the real
//! `beckon_tokio::Listener` behind turmoil's simulated TCP, Alice's host runs
//! the real `beckon_tokio::invite` over a turmoil `TcpStream`, and every
//! observable thing lands in a [`Log`] stamped with simulated time, which the
//! test reads between steps of the simulation.

#![allow(dead_code, unreachable_pub)]

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use beckon_core::{Config, Error, Invitation, InviteeOutcome, Response, SessionError, Target};
use beckon_testkit::{alice, bob, bobs_directory, hello, CHESS};
use beckon_tokio::{invite, InviteError, InviteOptions, Listener, ListenerConfig, Progress};
use beckon_tokio::{AnswerError, IncomingInvitation, Withdrawn};
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, mpsc};

/// Bob's port (the adapter's default).
pub const PORT: u16 = beckon_tokio::DEFAULT_PORT;

/// A simulation with a fixed seed (turmoil's randomness: latencies),
/// `latency` as the (min, max) message latency, and room for a flood's
/// connections. The tests step it themselves ([`run_until`]), so its own
/// time limit is only a backstop.
pub fn sim<'a>(seed: u64, latency: (Duration, Duration)) -> turmoil::Sim<'a> {
    sim_with_tick(seed, latency, TICK)
}

/// As [`sim`], stepping `tick` at a time: coarser ticks make long waits in
/// simulated time cheaper.
pub fn sim_with_tick<'a>(
    seed: u64,
    latency: (Duration, Duration),
    tick: Duration,
) -> turmoil::Sim<'a> {
    turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(3600))
        .tick_duration(tick)
        .min_message_latency(latency.0)
        .max_message_latency(latency.1)
        // A listener's SYN queue and each stream's segment queue; turmoil
        // panics when a SYN finds the queue full, and a flood sends hundreds
        // in one tick.
        .tcp_capacity(1024)
        .build()
}

/// One step of simulated time.
pub const TICK: Duration = Duration::from_millis(1);

/// Simulated time now, inside a host.
pub fn now() -> Duration {
    turmoil::sim_elapsed().expect("inside the simulation")
}

/// How an invitation ended, as Alice saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The authenticated answer.
    Answered(Response),
    /// The session ended without an answer.
    Failed(SessionError),
    /// The invitation could not start (nothing was sent).
    Invalid(Error),
    /// The stream failed.
    Io(io::ErrorKind),
    /// No connection.
    Connect(io::ErrorKind),
}

/// Something that happened, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Alice's connection is up.
    Connected,
    /// Alice starts the exchange (her inviter's clock starts).
    Inviting,
    /// Alice's Invite is written: Bob's user is being asked.
    Waiting,
    /// Alice's invitation ended.
    Invited(Outcome),
    /// Bob's listener produced a prompt.
    Prompted,
    /// Bob's pending prompt was withdrawn.
    Withdrawn(Withdrawn),
    /// Bob accepted and has the launch info.
    Launched,
    /// Bob's accept did not go out (the prompt was withdrawn first).
    AcceptFailed(AnswerError),
    /// The test's subscription missed this many reports.
    ReportsLost(u64),
    /// A session of Bob's listener ended (for the invitation from Alice when
    /// `from_alice`).
    Report {
        outcome: InviteeOutcome,
        from_alice: bool,
    },
}

/// Everything that happened, stamped with simulated time.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(Duration, Event)>>>);

impl Log {
    pub fn push(&self, event: Event) {
        self.lock().push((now(), event));
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(Duration, Event)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Everything so far.
    pub fn events(&self) -> Vec<(Duration, Event)> {
        self.lock().clone()
    }

    /// When the first event matching `want` happened.
    pub fn when(&self, want: impl Fn(&Event) -> bool) -> Option<Duration> {
        self.lock().iter().find(|(_, e)| want(e)).map(|(t, _)| *t)
    }

    /// The first event matching `want`, with its time.
    pub fn find(&self, want: impl Fn(&Event) -> bool) -> Option<(Duration, Event)> {
        self.lock().iter().find(|(_, e)| want(e)).copied()
    }

    /// All the invitation outcomes Alice saw, in order.
    pub fn outcomes(&self) -> Vec<(Duration, Outcome)> {
        self.lock()
            .iter()
            .filter_map(|(t, e)| match e {
                Event::Invited(o) => Some((*t, *o)),
                _ => None,
            })
            .collect()
    }

    /// The reports of sessions that did not come from Alice.
    pub fn other_reports(&self) -> Vec<InviteeOutcome> {
        self.lock()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Report {
                    outcome,
                    from_alice: false,
                } => Some(*outcome),
                _ => None,
            })
            .collect()
    }
}

/// What Bob's user does with a prompt.
#[derive(Debug, Clone, Copy)]
pub enum OnPrompt {
    /// Never answers (keeps the prompt open until it is withdrawn).
    Hold,
    /// Accepts after this long, unless it is withdrawn first.
    AcceptAfter(Duration),
    /// Holds the first prompt, and accepts every later one after this long.
    HoldFirstThenAcceptAfter(Duration),
}

/// Registers Bob's host: the real listener, fed turmoil's accepted streams
/// over `Listener::from_channel` by a small accept task.
pub fn bob_host(sim: &mut turmoil::Sim<'_>, log: &Log, cfg: ListenerConfig, on_prompt: OnPrompt) {
    let log = log.clone();
    sim.host("bob", move || {
        let log = log.clone();
        async move {
            let tcp =
                turmoil::net::TcpListener::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), PORT)).await?;
            let local = tcp.local_addr()?;
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(async move {
                while let Ok(accepted) = tcp.accept().await {
                    if tx.send(accepted).await.is_err() {
                        break;
                    }
                }
            });
            // Bob trusts Alice only, and has chess registered.
            let directory = Arc::new(bobs_directory());
            let mut listener = Listener::from_channel(local, rx, bob(), directory, cfg)?;
            let mut reports = listener.subscribe();
            let alice_key = alice().public_key();
            let reports_log = log.clone();
            tokio::spawn(async move {
                loop {
                    match reports.recv().await {
                        Ok(report) => reports_log.push(Event::Report {
                            outcome: report.outcome,
                            from_alice: report.inviter == Some(alice_key),
                        }),
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            reports_log.push(Event::ReportsLost(n))
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    }
                }
            });
            let mut first = true;
            while let Some(invitation) = listener.next().await {
                log.push(Event::Prompted);
                let then = match on_prompt {
                    OnPrompt::HoldFirstThenAcceptAfter(_) if first => OnPrompt::Hold,
                    OnPrompt::HoldFirstThenAcceptAfter(d) => OnPrompt::AcceptAfter(d),
                    other => other,
                };
                first = false;
                tokio::spawn(answer(invitation, then, log.clone()));
            }
            Ok(())
        }
    });
}

async fn answer(invitation: IncomingInvitation, on_prompt: OnPrompt, log: Log) {
    let wait = match on_prompt {
        OnPrompt::AcceptAfter(d) => d,
        OnPrompt::Hold | OnPrompt::HoldFirstThenAcceptAfter(_) => Duration::MAX,
    };
    let sleep = async {
        match tokio::time::Instant::now().checked_add(wait) {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        why = invitation.withdrawn() => {
            log.push(Event::Withdrawn(why));
            return;
        }
        () = sleep => {}
    }
    match invitation.accept("On my way").await {
        Ok(_info) => log.push(Event::Launched),
        Err(e) => log.push(Event::AcceptFailed(e)),
    }
}

/// Alice's options with `config`.
pub fn options(config: Config) -> InviteOptions {
    InviteOptions {
        config,
        cancel: None,
    }
}

/// Alice connects to Bob over turmoil's TCP (bounded by the handshake
/// timeout, as `invite_tcp` does), then runs the real `invite` on the stream,
/// logging its progress and outcome.
pub async fn alice_invites(log: &Log, config: Config) -> Outcome {
    let timeout = Duration::from_micros(config.handshake_timeout.as_micros());
    let connect = turmoil::net::TcpStream::connect(("bob", PORT));
    let stream = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return finish(log, Outcome::Connect(e.kind())),
        Err(_) => return finish(log, Outcome::Connect(io::ErrorKind::TimedOut)),
    };
    log.push(Event::Connected);
    alice_invites_over(log, config, stream).await
}

/// As [`alice_invites`], over a stream already connected.
pub async fn alice_invites_over(
    log: &Log,
    config: Config,
    stream: turmoil::net::TcpStream,
) -> Outcome {
    let invitation = Invitation::new(CHESS, "A game?", b"board=standard").unwrap();
    log.push(Event::Inviting);
    let progress_log = log.clone();
    let result = invite(
        stream,
        &alice(),
        Target::Contact(bob().public_key()),
        &invitation,
        options(config),
        move |p| {
            if let Progress::Waiting { .. } = p {
                progress_log.push(Event::Waiting);
            }
        },
    )
    .await;
    let outcome = match result {
        Ok(answer) => Outcome::Answered(answer.response),
        Err(InviteError::Failed { error, .. }) => Outcome::Failed(error),
        Err(InviteError::Invalid(e)) => Outcome::Invalid(e),
        Err(InviteError::Io(e)) => Outcome::Io(e.kind()),
        Err(InviteError::Connect(e)) => Outcome::Connect(e.kind()),
    };
    finish(log, outcome)
}

fn finish(log: &Log, outcome: Outcome) -> Outcome {
    log.push(Event::Invited(outcome));
    outcome
}

/// A number the test raises and a host waits for: how the test tells a
/// host's script to go on (after a partition, a repair, a crash elsewhere).
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<AtomicUsize>);

impl Gate {
    /// Lets waiters for `n` or less through.
    pub fn open(&self, n: usize) {
        self.0.fetch_max(n, Ordering::SeqCst);
    }

    /// Waits (in simulated time) until the gate is at `n`.
    pub async fn wait(&self, n: usize) {
        while self.0.load(Ordering::SeqCst) < n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Repairs the link between Alice and Bob and opens `gate` to `n`;
/// returns the simulated time then.
pub fn repair_and_open(sim: &mut turmoil::Sim<'_>, gate: &Gate, n: usize) -> Duration {
    sim.repair("alice", "bob");
    gate.open(n);
    sim.elapsed()
}

/// Registers Alice's host, which runs `script` on its own clones of `log`
/// and `gate` (fresh ones each time the host starts).
pub fn alice_host<'a, F, Fut>(sim: &mut turmoil::Sim<'a>, log: &Log, gate: &Gate, script: F)
where
    F: Fn(Log, Gate) -> Fut + 'a,
    Fut: std::future::Future<Output = turmoil::Result> + 'static,
{
    let (log, gate) = (log.clone(), gate.clone());
    sim.host("alice", move || script(log.clone(), gate.clone()));
}

/// Registers Alice's host, which invites Bob once with `config`.
pub fn alice_invites_once(sim: &mut turmoil::Sim<'_>, log: &Log, config: Config) {
    alice_host(sim, log, &Gate::default(), move |log, _| async move {
        alice_invites(&log, config).await;
        Ok(())
    });
}

/// Whether `e` is Bob's prompt being withdrawn.
pub fn is_withdrawn(e: &Event) -> bool {
    matches!(e, Event::Withdrawn(_))
}

/// Whether `e` is the report of Bob's session with Alice.
pub fn is_report_from_alice(e: &Event) -> bool {
    matches!(
        e,
        Event::Report {
            from_alice: true,
            ..
        }
    )
}

/// Runs until Bob's listener has produced a prompt (within 5 s of
/// simulated time); returns the simulated time then.
pub fn run_until_prompted(sim: &mut turmoil::Sim<'_>, log: &Log) -> Duration {
    run_until(sim, Duration::from_secs(5), "prompt", || {
        log.when(|e| *e == Event::Prompted).is_some()
    })
}

/// Runs until Alice has an outcome (failing as `what` if simulated time
/// passes `limit` first), asserts that it is `want` and returns when it
/// came.
pub fn first_outcome(
    sim: &mut turmoil::Sim<'_>,
    log: &Log,
    limit: Duration,
    what: &str,
    want: Outcome,
) -> Duration {
    run_until(sim, limit, what, || !log.outcomes().is_empty());
    assert_outcome(log, 0, want)
}

/// Runs until Alice has exactly `n + 1` outcomes (failing as `what` if
/// simulated time passes `limit` first), asserts that the last, her `n`th,
/// is `want` and returns when it came.
pub fn nth_outcome(
    sim: &mut turmoil::Sim<'_>,
    log: &Log,
    n: usize,
    limit: Duration,
    what: &str,
    want: Outcome,
) -> Duration {
    run_until(sim, limit, what, || log.outcomes().len() == n + 1);
    assert_outcome(log, n, want)
}

/// Asserts that Alice's `n`th outcome is `want`; returns when it came.
pub fn assert_outcome(log: &Log, n: usize, want: Outcome) -> Duration {
    let (at, outcome) = log.outcomes()[n];
    assert_eq!(outcome, want);
    at
}

/// How a flooding host behaves.
#[derive(Debug, Clone, Copy)]
pub struct Flood {
    /// Connections opened at once at the start.
    pub burst: usize,
    /// Then one more connection this often.
    pub every: Duration,
    /// Whether every other connection sends the first half of a Hello
    /// (else they never send a byte).
    pub half_hello: bool,
}

/// Registers a host that opens connections to Bob and never completes a
/// handshake; every connection is held open until the host crashes.
/// `opened` counts the connections that were established.
pub fn flood_host(sim: &mut turmoil::Sim<'_>, name: &str, flood: Flood, opened: &Arc<AtomicUsize>) {
    let opened = Arc::clone(opened);
    sim.host(name, move || {
        let opened = Arc::clone(&opened);
        async move {
            let mut n = 0usize;
            loop {
                let opened = Arc::clone(&opened);
                let half = flood.half_hello && n.is_multiple_of(2);
                tokio::spawn(async move {
                    let Ok(mut stream) = turmoil::net::TcpStream::connect(("bob", PORT)).await
                    else {
                        return;
                    };
                    opened.fetch_add(1, Ordering::SeqCst);
                    if half {
                        let hello = hello([7; 32]);
                        let _ = stream.write_all(&hello[..hello.len() / 2]).await;
                    }
                    std::future::pending::<()>().await;
                    drop(stream);
                });
                n += 1;
                if n >= flood.burst {
                    tokio::time::sleep(flood.every).await;
                }
            }
        }
    });
}

/// Steps the simulation until `done`, failing the test if simulated time
/// passes `limit` first. Returns the simulated time at the end.
pub fn run_until(
    sim: &mut turmoil::Sim<'_>,
    limit: Duration,
    what: &str,
    mut done: impl FnMut() -> bool,
) -> Duration {
    while !done() {
        assert!(
            sim.elapsed() <= limit,
            "{what}: not within {limit:?} of simulated time"
        );
        sim.step().expect("the simulation failed");
    }
    sim.elapsed()
}

/// Steps the simulation for `d` of simulated time.
pub fn run_for(sim: &mut turmoil::Sim<'_>, d: Duration) {
    let end = sim.elapsed() + d;
    while sim.elapsed() < end {
        sim.step().expect("the simulation failed");
    }
}
