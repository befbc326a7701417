//! `beckon listen`: wait for invitations, show each as a prompt, answer it
//! (on the terminal or automatically), and launch the application on
//! accept.

use beckon_desktop::{failure_code, failure_reason, launch};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use std::io::IsTerminal;

use beckon_core::{Config, Identity, InviteeOutcome, Policy, Response, SessionError};
use beckon_tokio::{
    AnswerError, IncomingInvitation, Listener, ListenerConfig, SessionReport, Withdrawn,
};
use clap::Args;

use super::addr::{self, Addr, Role};
use super::answers::Answers;
use super::app::render_command;
use super::output::{quoted, who, Status};
use super::signals::Signals;
use super::{clock, exit, parse_duration, Auto, CliError, CliResult};
use beckon_desktop::store::{policy_word, DirectoryReport, Home, StoreDirectory};

/// `beckon listen`.
#[derive(Debug, Args)]
pub(crate) struct ListenArgs {
    /// The address to listen on: PORT, HOST, HOST:PORT, an IP address or
    /// [IPV6]:PORT; port 7464 is Beckon's default. Use 127.0.0.1:0 for a
    /// port chosen by the system (the address is printed). The port must
    /// be reachable from the inviters (firewall, NAT).
    #[arg(long, value_name = "ADDR", default_value = "[::]:7464")]
    listen: String,
    /// Answer every invitation that passes the policy without asking
    /// (for scripts and tests).
    #[arg(long, value_enum, value_name = "accept|decline")]
    auto: Option<Auto>,
    /// How long you have to answer an invitation (default 5m), e.g. 2s,
    /// 90s, 1m30s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    answer_within: Option<Duration>,
    /// Exit after one invitation is finished (answered, withdrawn, and its
    /// launched command ended).
    #[arg(long)]
    once: bool,
    /// At most this many invitations waiting for an answer; more are
    /// refused as busy.
    #[arg(long, value_name = "N", default_value_t = 16)]
    max_prompts: usize,
    /// At most this many connections in their handshake; a new one beyond
    /// that evicts a stalled handshake (the oldest that has not spoken),
    /// so a flood of idle connections cannot keep an invitation out.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_handshakes: usize,
}

/// How the listener answers.
#[derive(Debug, Clone)]
pub(crate) struct Answering {
    pub(crate) auto: Option<Auto>,
    /// Printed before every line (for several listeners in one output).
    pub(crate) prefix: String,
    /// Exit after one invitation.
    pub(crate) once: bool,
    /// The longest a session can last (the answer window and the
    /// handshake, with a margin).
    pub(crate) longest: Duration,
}

/// Binds a listener. `--listen` takes `PORT`, `HOST`, `HOST:PORT`, an IP
/// address or `[IPV6]:PORT`; every address of a host name is tried in
/// turn. The default, `[::]:7464`, falls back to `0.0.0.0:7464` where IPv6
/// is not available.
async fn bind(
    text: &str,
    identity: &Identity,
    directory: &Arc<StoreDirectory>,
    cfg: ListenerConfig,
) -> Result<Listener, CliError> {
    let parsed = addr::parse(text, Role::Listen)?;
    let mut candidates = addr::resolve(&parsed).await.map_err(|e| {
        CliError::new(
            exit::UNAVAILABLE,
            format!("cannot listen on {text}: {}", e.message),
        )
    })?;
    if candidates.len() == 1 && candidates[0].ip().is_unspecified() && candidates[0].is_ipv6() {
        let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), candidates[0].port());
        candidates.push(v4);
    }
    let mut errors = Vec::new();
    for candidate in &candidates {
        match Listener::bind(*candidate, identity.clone(), Arc::clone(directory), cfg) {
            Ok(l) => return Ok(l),
            Err(e) => errors.push(format!("{candidate}: {e}")),
        }
    }
    Err(CliError::new(
        exit::UNAVAILABLE,
        format!(
            "cannot listen on {text} (host {}, port {}): {}",
            match &parsed {
                Addr::Ip(a) => a.ip().to_string(),
                Addr::Host(h, _) => h.clone(),
            },
            match &parsed {
                Addr::Ip(a) => a.port(),
                Addr::Host(_, p) => *p,
            },
            errors.join("; ")
        ),
    ))
}

/// The core config for an answer window.
pub(crate) fn config_with_window(window: Option<Duration>) -> Result<Config, CliError> {
    let mut config = Config::default();
    if let Some(window) = window {
        let micros = u64::try_from(window.as_micros()).unwrap_or(u64::MAX);
        if micros == 0 {
            return Err(CliError::usage("the answer window must be more than zero"));
        }
        config.response_timeout = embassy_time::Duration::from_micros(micros);
    }
    Ok(config)
}

pub(crate) async fn run(home: Home, args: ListenArgs) -> CliResult {
    let me = home.load_identity()?;
    let directory = Arc::new(StoreDirectory::open(home.clone())?);
    let cfg = ListenerConfig {
        max_handshakes: args.max_handshakes.max(1),
        max_prompts: args.max_prompts.max(1),
        config: config_with_window(args.answer_within)?,
    };
    let listener = bind(&args.listen, &me.identity, &directory, cfg).await?;
    // Subscribed before the address is printed: no session that someone
    // starts on reading it goes unreported.
    let reports = listener.subscribe();
    let out = Status::stdout();
    // The files are reloaded in the background; each change is said once.
    let said = out.clone();
    directory
        .watch(move |report| match report {
            DirectoryReport::FailingClosed(_) => said.line(&format!("warning: {report}")),
            DirectoryReport::Reloaded { .. } => said.note(&report.to_string()),
        })
        .map_err(|e| CliError::new(exit::SOFTWARE, format!("cannot watch the files: {e}")))?;
    out.note(&format!(
        "listening on {} as {} ({})",
        listener.local_addr(),
        me.nickname,
        me.identity.public_key().fingerprint()
    ));
    let snapshot = directory.snapshot();
    let apps: Vec<&str> = snapshot.apps.iter().map(|a| a.name.as_str()).collect();
    out.note(&format!(
        "policy: {}; {} contact(s); application(s): {}; {} to answer; {}",
        policy_word(snapshot.policy),
        snapshot.contacts.len(),
        if apps.is_empty() {
            "none registered".to_owned()
        } else {
            apps.join(", ")
        },
        clock(Duration::from_micros(
            cfg.config.response_timeout.as_micros()
        )),
        match args.auto {
            Some(Auto::Accept) => "accepting automatically",
            Some(Auto::Decline) => "declining automatically",
            None => "answer y or n here",
        }
    ));
    for warning in risks(
        snapshot.policy,
        &apps,
        args.auto,
        std::io::stdin().is_terminal(),
    ) {
        out.line(&format!("warning: {warning}"));
    }
    let answering = Answering {
        auto: args.auto,
        prefix: String::new(),
        once: args.once,
        longest: session_bound(&cfg.config),
    };
    let mut signals = Signals::new();
    let stopper = listener.stop_handle();
    let serving = serve(listener, reports, directory, answering, out.clone());
    tokio::pin!(serving);
    let stop = tokio::select! {
        () = &mut serving => return Ok(exit::OK),
        stop = signals.next() => stop,
    };
    // The prompts are still held (by `serving`): the listener answers
    // each of them, and every queued one, with ERROR_STOPPED before
    // anything is dropped, and waits for those answers to be written.
    out.unask();
    let waiting = stopper.sessions();
    stopper.stop(Response::ERROR_STOPPED, "stopped listening");
    let all = stopper.wait(STOP_GRACE).await;
    out.line(&format!(
        "stopped listening ({}){}",
        stop.name(),
        match (waiting, all) {
            (0, _) => String::new(),
            (n, true) => format!("; {n} connection(s) under way were answered or closed"),
            (n, false) => format!(
                "; of {n} connection(s) under way, some did not finish within {}s",
                STOP_GRACE.as_secs()
            ),
        }
    ));
    // `serving`, and the prompts it holds, end with this function.
    Ok(stop.exit_code())
}

/// How long a stopping listener waits for its last answers to be written.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What became of an answer, for the line that reports it.
fn told_line(told: &Result<(), AnswerError>) -> String {
    match told {
        Ok(()) => String::new(),
        Err(e) => format!(" (too late to tell them: {e})"),
    }
}

/// The longest a session under `config` can last, with a margin.
pub(crate) fn session_bound(config: &Config) -> Duration {
    let micros = config
        .response_timeout
        .as_micros()
        .saturating_add(config.handshake_timeout.as_micros());
    Duration::from_micros(micros).saturating_add(Duration::from_secs(60))
}

/// What a listener set up this way will do that its user may not expect,
/// said when listening starts.
pub(crate) fn risks(
    policy: Policy,
    apps: &[&str],
    auto: Option<Auto>,
    stdin_is_terminal: bool,
) -> Vec<String> {
    let mut risks = Vec::new();
    match (policy, auto) {
        (Policy::Anyone, Some(Auto::Accept)) if !apps.is_empty() => risks.push(format!(
            "the policy is anyone and --auto accept is on: anyone who can reach this port, \
             stranger or not, can launch {} on this computer without being asked \
             (`beckon policy trusted` lets only your contacts in)",
            apps.join(", ")
        )),
        (Policy::Off, _) => risks.push(
            "the policy is off: every invitation will be refused, and inviters told so \
             (`beckon policy trusted` lets your contacts in)"
                .to_owned(),
        ),
        _ => {}
    }
    if apps.is_empty() && policy != Policy::Off {
        risks.push(
            "no application is registered: every invitation will be refused as being for an \
             unknown application (`beckon app register NAME -- COMMAND...`)"
                .to_owned(),
        );
    }
    if auto.is_none() && !stdin_is_terminal {
        risks.push(
            "stdin is not a terminal and --auto is not set: invitations are answered by lines \
             read from stdin (y or n), and once stdin ends they expire unanswered \
             (use --auto accept|decline for scripts)"
                .to_owned(),
        );
    }
    risks
}

/// Serves invitations until the listener ends (or, with `once`, after the
/// first one is finished).
pub(crate) async fn serve(
    mut listener: Listener,
    // Sessions that never became a prompt: refused, or closed early.
    reports: tokio::sync::broadcast::Receiver<SessionReport>,
    directory: Arc<StoreDirectory>,
    answering: Answering,
    out: Status,
) {
    // The sessions whose invitation came out of the listener (and so is
    // or was shown); the others that end withdrawn were withdrawn while
    // queued behind another prompt, and are reported from the session
    // reports.
    let taken: Taken = Arc::default();
    let report_task = tokio::spawn(print_reports(
        reports,
        Arc::clone(&directory),
        out.clone(),
        answering.prefix.clone(),
        Arc::clone(&taken),
        answering.longest,
    ));
    let ctx = Arc::new(Ctx {
        directory,
        out,
        answering,
    });
    match ctx.answering.auto {
        Some(_) => {
            while let Some(invitation) = listener.next().await {
                take(&taken, &invitation);
                if ctx.answering.once {
                    ctx.handle_auto(invitation).await;
                    break;
                }
                let ctx = Arc::clone(&ctx);
                tokio::spawn(async move { ctx.handle_auto(invitation).await });
            }
        }
        None => {
            // One prompt at a time; the others wait in the listener's queue
            // (at most max_prompts), with their deadlines running.
            let mut input = Answers::stdin(ctx.out.clone(), ctx.answering.prefix.clone());
            while let Some(invitation) = listener.next().await {
                take(&taken, &invitation);
                ctx.handle_interactive(invitation, &mut input).await;
                if ctx.answering.once {
                    break;
                }
            }
        }
    }
    // Let the last session's report be printed.
    tokio::time::sleep(Duration::from_millis(50)).await;
    report_task.abort();
}

/// The peers whose invitation the listener handed out, and when. An entry
/// is removed by its session's report, or, when that report was lost to
/// lag, once it is older than any session can last.
type Taken = Arc<std::sync::Mutex<std::collections::HashMap<SocketAddr, std::time::Instant>>>;

fn take(taken: &Taken, invitation: &IncomingInvitation) {
    taken
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(invitation.peer, std::time::Instant::now());
}

/// How often the lines about connections that never became an invitation
/// are summed up.
pub(crate) const NOISE_WINDOW: Duration = Duration::from_secs(10);
/// How many such lines are printed one by one in a window; the rest are
/// counted and summed up at its end.
pub(crate) const NOISE_LINES: u32 = 3;

/// Lines about connections nobody has identified (anyone can make them):
/// the first few of each window are shown, the rest summed up.
#[derive(Debug, Default)]
pub(crate) struct Noise {
    shown: u32,
    /// Lines of this window not printed.
    hidden: u64,
    /// Every connection of this window, by kind, printed or not.
    closed: u64,
    failed: u64,
    refused: u64,
    lost: u64,
}

/// A line about a connection that never identified itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoiseKind {
    Closed,
    Failed,
    Refused,
}

impl Noise {
    /// Whether to print this line now; if not, it is counted.
    pub(crate) fn admit(&mut self, kind: NoiseKind) -> bool {
        match kind {
            NoiseKind::Closed => self.closed += 1,
            NoiseKind::Failed => self.failed += 1,
            NoiseKind::Refused => self.refused += 1,
        }
        if self.shown < NOISE_LINES {
            self.shown += 1;
            return true;
        }
        self.hidden += 1;
        false
    }

    /// Reports lost because this display fell behind the listener.
    pub(crate) fn lost(&mut self, n: u64) {
        self.lost = self.lost.saturating_add(n);
    }

    /// The window's summary lines (when some lines were not printed: the
    /// window's whole count, "37 connections closed before any invitation
    /// in the last 10 s"), and a fresh window.
    pub(crate) fn summary(&mut self) -> Vec<String> {
        let secs = NOISE_WINDOW.as_secs();
        let mut lines = Vec::new();
        let hidden = self.hidden > 0;
        let mut say = |n: u64, what: &str| {
            if hidden && n > 0 {
                let s = if n == 1 { "" } else { "s" };
                lines.push(format!("{n} connection{s} {what} in the last {secs} s"));
            }
        };
        say(self.closed, "closed before any invitation");
        say(self.failed, "failed before any invitation");
        say(self.refused, "refused before the inviter was identified");
        if self.lost > 0 {
            lines.push(format!(
                "{} session report(s) not shown: this display fell behind the listener",
                self.lost
            ));
        }
        *self = Noise::default();
        lines
    }
}

async fn print_reports(
    mut reports: tokio::sync::broadcast::Receiver<SessionReport>,
    directory: Arc<StoreDirectory>,
    out: Status,
    prefix: String,
    taken: Taken,
    longest: Duration,
) {
    let mut noise = Noise::default();
    // The first window ends one whole window from now (an interval's
    // first tick would be at once, summing up a window that just began).
    let mut window =
        tokio::time::interval_at(tokio::time::Instant::now() + NOISE_WINDOW, NOISE_WINDOW);
    window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let report = tokio::select! {
            report = reports.recv() => report,
            _ = window.tick() => {
                for line in noise.summary() {
                    out.note(&format!("{prefix}{line}"));
                }
                taken
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .retain(|_, since| since.elapsed() <= longest);
                continue;
            }
        };
        let report = match report {
            Ok(r) => r,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                noise.lost(n);
                continue;
            }
            Err(_) => return,
        };
        let was_taken = taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&report.peer)
            .is_some();
        let snapshot = directory.snapshot();
        let from = match report.inviter {
            Some(key) => format!("{} at {}", who(&snapshot, &key), report.peer),
            None => format!("{} (not yet identified)", report.peer),
        };
        let (line, kind) = match report.outcome {
            InviteeOutcome::Refused(reason) => (
                format!("refused an invitation from {from}: {reason}"),
                report.inviter.is_none().then_some(NoiseKind::Refused),
            ),
            InviteeOutcome::Failed(SessionError::ConnectionClosed) if report.inviter.is_none() => (
                format!(
                    "a connection from {} closed before any invitation",
                    report.peer
                ),
                Some(NoiseKind::Closed),
            ),
            InviteeOutcome::Cancelled if !was_taken => (
                format!("cancelled while waiting behind another prompt: an invitation from {from}"),
                None,
            ),
            InviteeOutcome::Expired if !was_taken => (
                format!("expired while waiting behind another prompt: an invitation from {from}"),
                None,
            ),
            InviteeOutcome::Failed(e) if report.inviter.is_some() && !was_taken => (
                format!("withdrawn while waiting behind another prompt: an invitation from {from} ({e})"),
                None,
            ),
            InviteeOutcome::Failed(e) if report.inviter.is_none() => (
                format!(
                    "a connection from {} failed before any invitation: {e}",
                    report.peer
                ),
                Some(NoiseKind::Failed),
            ),
            InviteeOutcome::Evicted { busy_sent: true } => (
                format!("refused a connection from {from} as busy: evicted from its handshake to make room"),
                Some(NoiseKind::Refused),
            ),
            InviteeOutcome::Evicted { busy_sent: false } => (
                format!(
                    "a connection from {} was evicted from its handshake to make room",
                    report.peer
                ),
                Some(NoiseKind::Failed),
            ),
            _ => continue,
        };
        match kind {
            Some(kind) => {
                if noise.admit(kind) {
                    out.note(&format!("{prefix}{line}"));
                }
            }
            None => out.line(&format!("{prefix}{line}")),
        }
    }
}

struct Ctx {
    directory: Arc<StoreDirectory>,
    out: Status,
    answering: Answering,
}

impl Ctx {
    fn line(&self, text: &str) {
        self.out.line(&format!("{}{text}", self.answering.prefix));
    }

    /// Prints the prompt's description.
    fn describe(&self, invitation: &IncomingInvitation) {
        let snapshot = self.directory.snapshot();
        let app = match snapshot.app(&invitation.application) {
            Some(a) => format!("{} ({})", a.name, a.id),
            None => invitation.application.to_string(),
        };
        let data = match invitation.data.len() {
            0 => "none".to_owned(),
            1 => "1 byte".to_owned(),
            n => format!("{n} bytes"),
        };
        let message = if invitation.message.is_empty() {
            "(none)".to_owned()
        } else {
            quoted(&invitation.message)
        };
        self.line(&format!(
            "invitation from {} at {}",
            who(&snapshot, &invitation.inviter),
            invitation.peer
        ));
        self.line(&format!("  application: {app}"));
        self.line(&format!("  message:     {message}"));
        self.line(&format!("  data:        {data}"));
    }

    /// One line for what a prompt asks: `bob (SHA256:...) invites you to
    /// chess`.
    fn summary(&self, invitation: &IncomingInvitation) -> String {
        let snapshot = self.directory.snapshot();
        let app = snapshot
            .app(&invitation.application)
            .map_or_else(|| invitation.application.to_string(), |a| a.name.clone());
        format!(
            "{} invites you to {app}",
            who(&snapshot, &invitation.inviter)
        )
    }

    fn withdrawn_line(&self, invitation: &IncomingInvitation, why: Withdrawn) {
        let snapshot = self.directory.snapshot();
        let from = who(&snapshot, &invitation.inviter);
        let line = match why {
            Withdrawn::Cancelled => {
                format!("cancelled: {from} withdrew the invitation")
            }
            Withdrawn::Expired => {
                format!("expired: nobody answered in time; {from} was told it expired")
            }
            Withdrawn::Failed(SessionError::ConnectionClosed) => {
                format!("withdrawn: the connection to {from} was lost")
            }
            Withdrawn::Failed(e) => format!("withdrawn: the connection to {from} failed: {e}"),
        };
        self.line(&line);
    }

    async fn handle_auto(&self, invitation: IncomingInvitation) {
        self.describe(&invitation);
        match self.answering.auto {
            Some(Auto::Decline) => {
                self.line("declining (--auto decline)");
                let inviter = invitation.inviter;
                match invitation.try_decline("").await {
                    Ok(()) => self.line(&format!(
                        "declined the invitation from {}",
                        who(&self.directory.snapshot(), &inviter)
                    )),
                    Err(e) => self.line(&format!("too late to decline: {e}")),
                }
            }
            _ => {
                self.line("accepting (--auto accept)");
                self.accept(invitation, "").await;
            }
        }
    }

    /// Accepting means launching: the registered command is started
    /// first, and only once it runs is the inviter told Accepted. A launch
    /// that fails is answered with the Error code of protocol §9.3 and
    /// its reason, on both sides; an accept that then comes too late (the
    /// inviter cancelled meanwhile) stops the command again.
    async fn accept(&self, invitation: IncomingInvitation, message: &str) {
        let info = invitation.launch_info();
        let snapshot = self.directory.snapshot();
        let nickname = snapshot.contact(&info.inviter).map(|c| c.name.clone());
        let from = who(&snapshot, &info.inviter);
        let Some(app) = snapshot.app(&info.application).cloned() else {
            let told = invitation
                .fail(
                    Response::ERROR_LAUNCH_NOT_FOUND,
                    "the application is no longer registered",
                )
                .await;
            self.line(&format!(
                "could not accept the invitation from {from}: application {} is no longer registered{}",
                info.application,
                told_line(&told)
            ));
            return;
        };
        let (program, args) = app
            .command
            .split_first()
            .map_or(("", &[][..]), |(p, a)| (p.as_str(), a));
        self.line(&format!(
            "launching {}: {}",
            app.name,
            render_command(&app.command)
        ));
        let mut child = match launch(program, args, &info, nickname.as_deref(), app.data).await {
            Ok(child) => child,
            Err(e) => {
                let code = failure_code(&e);
                let told = invitation
                    .fail(
                        code,
                        &format!("could not launch {}: {}", app.name, failure_reason(&e)),
                    )
                    .await;
                self.line(&format!(
                    "could not launch {} ({}): {e}; answered {from} with error {code:#010x}{}",
                    app.name,
                    render_command(&app.command),
                    told_line(&told)
                ));
                return;
            }
        };
        let pid = child
            .id()
            .map_or_else(String::new, |p| format!(" (pid {p})"));
        if let Err(e) = invitation.accept(message).await {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let line = match e {
                AnswerError::Withdrawn(Withdrawn::Expired) => {
                    format!("expired: too late to accept; {from} was told it expired")
                }
                AnswerError::Withdrawn(Withdrawn::Cancelled) => {
                    format!("cancelled: {from} withdrew the invitation")
                }
                AnswerError::Withdrawn(Withdrawn::Failed(SessionError::ConnectionClosed)) => {
                    format!("withdrawn: the connection to {from} was lost")
                }
                e => format!("could not accept: {e}"),
            };
            self.line(&format!("{line}; stopped {}{pid} again", app.name));
            return;
        }
        self.line(&format!(
            "accepted the invitation from {from}; {}{pid} is running",
            app.name
        ));
        let name = app.name.clone();
        let prefix = self.answering.prefix.clone();
        let out = self.out.clone();
        let wait = async move {
            match child.wait().await {
                Ok(status) => out.line(&format!("{prefix}{name}{pid} exited: {status}")),
                Err(e) => out.line(&format!("{prefix}{name}{pid}: {e}")),
            }
        };
        if self.answering.once {
            wait.await;
        } else {
            tokio::spawn(wait);
        }
    }

    async fn handle_interactive(&self, invitation: IncomingInvitation, input: &mut Answers) {
        self.describe(&invitation);
        if let Some(why) = invitation.is_withdrawn() {
            self.withdrawn_line(&invitation, why);
            return;
        }
        if input.is_closed() {
            self.line("stdin is closed: this invitation cannot be answered here (it will expire; --auto answers for scripts)");
            let why = invitation.withdrawn().await;
            self.withdrawn_line(&invitation, why);
            return;
        }
        // From here on, and only until this prompt goes away, a typed line
        // can answer it.
        input.open();
        self.prompt(invitation, input).await;
        input.close();
    }

    async fn prompt(&self, invitation: IncomingInvitation, input: &mut Answers) {
        let prefix = self.answering.prefix.clone();
        // The summary goes with the question, so that lines printed above
        // it while it waits never leave it without saying what it asks.
        let summary = self.summary(&invitation);
        let live = |left: Duration| format!("{prefix}  {summary}: {} left to answer", clock(left));
        let question = format!("{prefix}accept? [y/n] ");
        let ask = |out: &Status| {
            out.ask(
                &live(invitation.time_left()),
                &question,
                &format!(
                    "{prefix}{summary}; accept? [y/n] (answer within {})",
                    clock(invitation.time_left())
                ),
            );
        };
        ask(&self.out);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut stdin_open = true;
        loop {
            tokio::select! {
                why = invitation.withdrawn() => {
                    self.out.unask();
                    self.withdrawn_line(&invitation, why);
                    return;
                }
                _ = tick.tick() => self.out.update_live(&live(invitation.time_left())),
                line = input.recv(), if stdin_open => {
                    let Some(line) = line else {
                        stdin_open = false;
                        self.out.unask();
                        self.line("stdin is closed: this invitation cannot be answered here (it will expire; --auto answers for scripts)");
                        continue;
                    };
                    self.out.answered();
                    // The prompt may have been withdrawn while the line was
                    // on its way: then it answers nothing.
                    if let Some(why) = invitation.is_withdrawn() {
                        self.withdrawn_line(&invitation, why);
                        return;
                    }
                    let line = line.trim();
                    let (word, message) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                    let message = message.trim();
                    if message.chars().count() > 255 {
                        self.line("the message is longer than 255 characters; answer again");
                        ask(&self.out);
                        continue;
                    }
                    match word.to_ascii_lowercase().as_str() {
                        "y" | "yes" => {
                            self.accept(invitation, message).await;
                            return;
                        }
                        "n" | "no" => {
                            let inviter = invitation.inviter;
                            match invitation.try_decline(message).await {
                                Ok(()) => self.line(&format!(
                                    "declined the invitation from {}",
                                    who(&self.directory.snapshot(), &inviter)
                                )),
                                Err(e) => self.line(&format!("too late to decline: {e}")),
                            }
                            return;
                        }
                        _ => {
                            self.line("answer y or n (optionally followed by a message for the inviter)");
                            ask(&self.out);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_lines_of_a_window_show_and_the_rest_are_summed_up() {
        let mut noise = Noise::default();
        let shown = (0..10)
            .filter(|i| {
                noise.admit(if i % 2 == 0 {
                    NoiseKind::Closed
                } else {
                    NoiseKind::Failed
                })
            })
            .count();
        assert_eq!(shown, NOISE_LINES as usize);
        noise.admit(NoiseKind::Refused);
        noise.lost(5);
        let summary = noise.summary();
        assert_eq!(
            summary,
            vec![
                "5 connections closed before any invitation in the last 10 s",
                "5 connections failed before any invitation in the last 10 s",
                "1 connection refused before the inviter was identified in the last 10 s",
                "5 session report(s) not shown: this display fell behind the listener",
            ]
        );
        // A new window shows its first lines again, and a quiet one says
        // nothing.
        assert!(noise.admit(NoiseKind::Closed));
        assert!(noise.summary().is_empty());
        assert!(noise.summary().is_empty());
    }

    #[test]
    fn risky_setups_are_named() {
        let chess = ["chess"];
        let accept = Some(Auto::Accept);
        let r = risks(Policy::Anyone, &chess, accept, true);
        assert_eq!(r.len(), 1);
        assert!(r[0].contains("anyone who can reach this port"), "{r:?}");
        assert!(r[0].contains("chess"));
        assert!(risks(Policy::TrustedOnly, &chess, accept, true).is_empty());
        assert!(risks(Policy::Anyone, &chess, Some(Auto::Decline), true).is_empty());
        let r = risks(Policy::Off, &chess, None, true);
        assert_eq!(r.len(), 1);
        assert!(r[0].starts_with("the policy is off"));
        let r = risks(Policy::TrustedOnly, &[], None, false);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].starts_with("no application is registered"));
        assert!(r[1].starts_with("stdin is not a terminal"));
        // With policy off, that no application is registered changes
        // nothing.
        assert_eq!(risks(Policy::Off, &[], Some(Auto::Accept), true).len(), 1);
    }

    #[test]
    fn a_session_bound_covers_the_answer_window_and_the_handshake() {
        let config = Config::default();
        assert!(session_bound(&config) > Duration::from_secs(300));
    }
}
