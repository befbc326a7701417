//! Everything a run derives from its seed, and the overrides the runner and
//! the shrinker apply on top.

use core::fmt;

use beckon_core::Config;
use embassy_time::Duration;

use crate::rng::Rng;

/// A set of fault kinds, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Faults(pub u32);

/// Every fault kind with its command-line name and what it does.
pub const FAULT_KINDS: &[(Faults, &str, &str)] = &[
    (
        Faults::SPLIT,
        "split",
        "writes split and merged at random boundaries",
    ),
    (
        Faults::BACKPRESSURE,
        "backpressure",
        "a full send buffer: transmits drained in pieces, later",
    ),
    (
        Faults::STALL,
        "stall",
        "a direction of a link stops delivering for a while",
    ),
    (
        Faults::RESET,
        "reset",
        "a connection reset, seen by one side first",
    ),
    (
        Faults::HALF_OPEN,
        "half-open",
        "one side vanishes; the other is never told",
    ),
    (
        Faults::PARTITION,
        "partition",
        "groups of nodes cut off, healing later",
    ),
    (
        Faults::TAMPER,
        "tamper",
        "bit flips, drops, duplicates, random and forged frames",
    ),
    (
        Faults::REPLAY,
        "replay",
        "recorded streams and proofs replayed into new sessions",
    ),
    (
        Faults::REFLECT,
        "reflect",
        "frames reflected back to their sender",
    ),
    (
        Faults::IMPERSONATE,
        "impersonate",
        "an attacker answers as its own identity",
    ),
    (
        Faults::FLOOD,
        "flood",
        "idle, garbage and wrong-version connections",
    ),
    (
        Faults::CANCEL,
        "cancel",
        "inviters cancel, some racing the answer",
    ),
    (
        Faults::POLICY,
        "policy",
        "directories change while invitations are under way",
    ),
    (
        Faults::EARLY_TIMEOUT,
        "early-timeout",
        "handle_timeout called before the deadline",
    ),
];

impl Faults {
    /// No faults.
    pub const NONE: Faults = Faults(0);
    /// Writes split and merged at random boundaries.
    pub const SPLIT: Faults = Faults(1 << 0);
    /// Transmits drained in pieces, some later.
    pub const BACKPRESSURE: Faults = Faults(1 << 1);
    /// Stalled directions.
    pub const STALL: Faults = Faults(1 << 2);
    /// Connection resets.
    pub const RESET: Faults = Faults(1 << 3);
    /// Half-open connections.
    pub const HALF_OPEN: Faults = Faults(1 << 4);
    /// Partitions that heal.
    pub const PARTITION: Faults = Faults(1 << 5);
    /// Tampering on attacked links.
    pub const TAMPER: Faults = Faults(1 << 6);
    /// Replays into new sessions.
    pub const REPLAY: Faults = Faults(1 << 7);
    /// Reflections.
    pub const REFLECT: Faults = Faults(1 << 8);
    /// An attacker answering as the wrong identity.
    pub const IMPERSONATE: Faults = Faults(1 << 9);
    /// Idle and garbage connections.
    pub const FLOOD: Faults = Faults(1 << 10);
    /// Cancels, some racing the answer.
    pub const CANCEL: Faults = Faults(1 << 11);
    /// Directory changes during the run.
    pub const POLICY: Faults = Faults(1 << 12);
    /// Early `handle_timeout` probes.
    pub const EARLY_TIMEOUT: Faults = Faults(1 << 13);
    /// Every fault kind.
    pub const ALL: Faults = Faults((1 << 14) - 1);
    /// The kinds that need an attacker.
    pub const ATTACKS: Faults = Faults(
        Self::TAMPER.0 | Self::REPLAY.0 | Self::REFLECT.0 | Self::IMPERSONATE.0 | Self::FLOOD.0,
    );

    /// Whether every kind of `other` is in `self`.
    pub fn has(self, other: Faults) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// Whether any kind of `other` is in `self`.
    pub fn any(self, other: Faults) -> bool {
        self.0 & other.0 != 0
    }

    /// `self` without `other`.
    pub fn without(self, other: Faults) -> Faults {
        Faults(self.0 & !other.0)
    }

    /// Parses a comma-separated list of kind names, `all` or `none`.
    pub fn parse(s: &str) -> Result<Faults, String> {
        let mut out = Faults::NONE;
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => out = Faults::ALL,
                "none" => {}
                _ => {
                    let (f, _, _) = FAULT_KINDS
                        .iter()
                        .find(|(_, n, _)| *n == name)
                        .ok_or_else(|| format!("unknown fault kind {name:?}"))?;
                    out.0 |= f.0;
                }
            }
        }
        Ok(out)
    }
}

impl core::ops::BitOr for Faults {
    type Output = Faults;
    fn bitor(self, o: Faults) -> Faults {
        Faults(self.0 | o.0)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let names: Vec<&str> = FAULT_KINDS
            .iter()
            .filter(|(k, _, _)| self.has(*k))
            .map(|(_, n, _)| *n)
            .collect();
        f.write_str(&names.join(","))
    }
}

/// A bug planted in the simulated adapter, to check that the world notices
/// and that shrinking works. Never set in a real run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The adapter hands the invitee a copy of the directory taken at start
    /// instead of the live one, so later policy changes are missed.
    StaleDirectory,
    /// The adapter reports the invitee's decision as taken even when
    /// `handle_decision` refused it.
    TrustRefusedDecisions,
    /// The step panics when the Nth invitation starts (N = 3).
    PanicOnThirdInvitation,
}

impl Bug {
    /// Parses a bug's name.
    pub fn parse(s: &str) -> Result<Bug, String> {
        match s {
            "stale-directory" => Ok(Bug::StaleDirectory),
            "trust-refused-decisions" => Ok(Bug::TrustRefusedDecisions),
            "panic" => Ok(Bug::PanicOnThirdInvitation),
            _ => Err(format!(
                "unknown bug {s:?} (stale-directory, trust-refused-decisions, panic)"
            )),
        }
    }

    /// The bug's name.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleDirectory => "stale-directory",
            Bug::TrustRefusedDecisions => "trust-refused-decisions",
            Bug::PanicOnThirdInvitation => "panic",
        }
    }
}

/// Values set by hand (command line, shrinking, tests) over those drawn
/// from the seed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Honest nodes.
    pub nodes: Option<usize>,
    /// Attacker identities.
    pub attackers: Option<usize>,
    /// Scripted invitations in the fault phase.
    pub invitations: Option<usize>,
    /// Fault kinds.
    pub faults: Option<Faults>,
    /// Stop after this many steps.
    pub max_steps: Option<usize>,
    /// A planted bug.
    pub bug: Option<Bug>,
}

impl Overrides {
    /// The flags that reproduce these overrides on the command line.
    pub fn to_flags(&self) -> String {
        let mut s = String::new();
        if let Some(n) = self.nodes {
            s += &format!(" --nodes {n}");
        }
        if let Some(n) = self.attackers {
            s += &format!(" --attackers {n}");
        }
        if let Some(n) = self.invitations {
            s += &format!(" --invitations {n}");
        }
        if let Some(f) = self.faults {
            s += &format!(" --faults {f}");
        }
        if let Some(n) = self.max_steps {
            s += &format!(" --max-steps {n}");
        }
        if let Some(b) = self.bug {
            s += &format!(" --bug {}", b.name());
        }
        s
    }
}

/// Everything a run is made of, drawn from its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The seed.
    pub seed: u64,
    /// Honest nodes, each with an identity, a directory and a user.
    pub nodes: usize,
    /// Attacker identities (they invite as strangers and impersonate).
    pub attackers: usize,
    /// Invitations started during the fault phase.
    pub invitations: usize,
    /// The share of invitations in "any endpoint" mode, in per mille.
    pub endpoint_per_mille: u32,
    /// The fault kinds in play.
    pub faults: Faults,
    /// How often faults strike, 1 (rarely) to 3 (often).
    pub intensity: u32,
    /// One-way base latency.
    pub latency: Duration,
    /// Extra random latency, up to this much.
    pub jitter: Duration,
    /// Faults and the scripted invitations happen in `[0, window)` after
    /// the start; then the network heals and the liveness phase runs.
    pub window: Duration,
    /// How many invitee sessions a node serves at once; more are refused
    /// with a clear Busy.
    pub pool: usize,
    /// The timers every session uses.
    pub config: Config,
    /// Stop after this many steps (shrinking).
    pub max_steps: usize,
    /// A planted adapter bug (self-test only).
    pub bug: Option<Bug>,
}

/// Steps after which a run that has not gone idle is a liveness violation.
pub const STEP_LIMIT: usize = 2_000_000;

impl Options {
    /// Draws the options of `seed`, then applies `o`.
    pub fn new(seed: u64, o: &Overrides) -> Options {
        let mut rng = Rng::derive(seed, "options", 0);
        let nodes = rng.range(2, 6) as usize;
        // One seed in five runs on a healthy network (benign splitting
        // only); the rest draw each fault kind with probability 1/2.
        let mut faults = if rng.chance(200) {
            Faults::SPLIT
        } else {
            let mut f = Faults::NONE;
            for (kind, _, _) in FAULT_KINDS {
                if rng.chance(500) {
                    f.0 |= kind.0;
                }
            }
            f
        };
        let attackers = if faults.any(Faults::ATTACKS) {
            rng.range(1, 2) as usize
        } else {
            0
        };
        let invitations = rng.range(nodes as u64 * 2, nodes as u64 * 4) as usize;
        let latency = Duration::from_millis(rng.range(1, 150));
        let jitter = Duration::from_millis(rng.range(0, 60));
        let config = if rng.chance(700) {
            Config::default()
        } else {
            // Shorter timers, with a grace that still covers two transits
            // of a healthy link.
            let worst = (latency + jitter).as_millis() * 4;
            Config {
                response_timeout: Duration::from_secs(rng.range(15, 300)),
                handshake_timeout: Duration::from_secs(rng.range(3, 30)),
                grace: Duration::from_millis(rng.range(worst.max(1000), 10_000)),
                // Keepalives every few seconds and a silence of two to four
                // intervals tolerated: well above a healthy link's transit.
                keepalive_interval: Duration::from_secs(rng.range(2, 15)),
                ..Config::default()
            }
        };
        let config = Config {
            idle_timeout: if config == Config::default() {
                config.idle_timeout
            } else {
                config.keepalive_interval * rng.range(2, 4) as u32
            },
            ..config
        };
        let window = Duration::from_secs(rng.range(30, 600));
        let pool = rng.range(1, 4) as usize;
        let intensity = rng.range(1, 3) as u32;
        let endpoint_per_mille = rng.range(0, 300) as u32;
        let mut options = Options {
            seed,
            nodes,
            attackers,
            invitations,
            endpoint_per_mille,
            faults,
            intensity,
            latency,
            jitter,
            window,
            pool,
            config,
            max_steps: STEP_LIMIT,
            bug: None,
        };
        if let Some(n) = o.nodes {
            options.nodes = n.max(2);
        }
        if let Some(f) = o.faults {
            faults = f;
            options.faults = f;
            if !faults.any(Faults::ATTACKS) {
                options.attackers = 0;
            } else if options.attackers == 0 {
                options.attackers = 1;
            }
        }
        if let Some(n) = o.attackers {
            options.attackers = n;
        }
        if let Some(n) = o.invitations {
            options.invitations = n;
        }
        if let Some(n) = o.max_steps {
            options.max_steps = n;
        }
        options.bug = o.bug;
        options
    }
}

fn secs(d: Duration) -> String {
    let ms = d.as_millis();
    if (ms / 1000) * 1000 == ms {
        format!("{}s", ms / 1000)
    } else {
        format!("{}.{:03}s", ms / 1000, ms % 1000)
    }
}

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed               {}", self.seed)?;
        writeln!(f, "nodes              {}", self.nodes)?;
        writeln!(f, "attackers          {}", self.attackers)?;
        writeln!(f, "invitations        {}", self.invitations)?;
        writeln!(f, "endpoint mode      {}‰", self.endpoint_per_mille)?;
        writeln!(f, "faults             {}", self.faults)?;
        writeln!(f, "fault intensity    {}", self.intensity)?;
        writeln!(f, "latency            {}", secs(self.latency))?;
        writeln!(f, "jitter             up to {}", secs(self.jitter))?;
        writeln!(f, "fault window       {}", secs(self.window))?;
        writeln!(f, "invitee pool       {}", self.pool)?;
        writeln!(
            f,
            "timers             response {}, handshake {}, grace {}",
            secs(self.config.response_timeout),
            secs(self.config.handshake_timeout),
            secs(self.config.grace)
        )?;
        if self.max_steps != STEP_LIMIT {
            writeln!(f, "max steps          {}", self.max_steps)?;
        }
        if let Some(b) = self.bug {
            writeln!(f, "planted bug        {}", b.name())?;
        }
        Ok(())
    }
}
