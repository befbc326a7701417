//! `beckon listen`: wait for invitations, show each as a prompt, answer it
//! (on the terminal or automatically), and launch the application on
//! accept.

use beckon_desktop::launch;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use beckon_core::{Config, Error, Identity, InviteeOutcome};
use beckon_tokio::{
    IncomingInvitation, LaunchInfo, Listener, ListenerConfig, SessionReport, Withdrawn,
};
use clap::Args;

use super::addr::{self, Addr, Role};
use super::answers::Answers;
use super::app::render_command;
use super::output::{quoted, who, Status};
use super::signals::Signals;
use super::{clock, exit, parse_duration, Auto, CliError, CliResult};
use beckon_desktop::store::{policy_word, Home, StoreDirectory};

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
    let out = Status::stdout();
    out.line(&format!(
        "listening on {} as {} ({})",
        listener.local_addr(),
        me.nickname,
        me.identity.public_key().fingerprint()
    ));
    let snapshot = directory.snapshot();
    let apps: Vec<&str> = snapshot.apps.iter().map(|a| a.name.as_str()).collect();
    out.line(&format!(
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
    let answering = Answering {
        auto: args.auto,
        prefix: String::new(),
        once: args.once,
    };
    let mut signals = Signals::new();
    tokio::select! {
        () = serve(listener, directory, answering, out.clone()) => Ok(exit::OK),
        stop = signals.next() => {
            out.unask();
            out.line(&format!("stopped listening ({})", stop.name()));
            Ok(stop.exit_code())
        }
    }
}

/// Serves invitations until the listener ends (or, with `once`, after the
/// first one is finished).
pub(crate) async fn serve(
    mut listener: Listener,
    directory: Arc<StoreDirectory>,
    answering: Answering,
    out: Status,
) {
    // Sessions that never became a prompt: refused, or closed early.
    let reports = listener.subscribe();
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

/// The peers whose invitation the listener handed out.
type Taken = Arc<std::sync::Mutex<std::collections::HashSet<std::net::SocketAddr>>>;

fn take(taken: &Taken, invitation: &IncomingInvitation) {
    taken
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(invitation.peer);
}

async fn print_reports(
    mut reports: tokio::sync::broadcast::Receiver<SessionReport>,
    directory: Arc<StoreDirectory>,
    out: Status,
    prefix: String,
    taken: Taken,
) {
    loop {
        let report = match reports.recv().await {
            Ok(r) => r,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        let was_taken = taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&report.peer);
        let snapshot = directory.snapshot();
        let from = match report.inviter {
            Some(key) => format!("{} at {}", who(&snapshot, &key), report.peer),
            None => format!("{} (not yet identified)", report.peer),
        };
        let line = match report.outcome {
            InviteeOutcome::Refused(reason) => {
                format!("refused an invitation from {from}: {reason}")
            }
            InviteeOutcome::Failed(Error::ConnectionClosed) if report.inviter.is_none() => {
                format!(
                    "a connection from {} closed before any invitation",
                    report.peer
                )
            }
            InviteeOutcome::Cancelled if !was_taken => {
                format!("cancelled while waiting behind another prompt: an invitation from {from}")
            }
            InviteeOutcome::Expired if !was_taken => {
                format!("expired while waiting behind another prompt: an invitation from {from}")
            }
            InviteeOutcome::Failed(e) if report.inviter.is_some() && !was_taken => {
                format!("withdrawn while waiting behind another prompt: an invitation from {from} ({e})")
            }
            InviteeOutcome::Failed(e) if report.inviter.is_none() => {
                format!(
                    "a connection from {} failed before any invitation: {e}",
                    report.peer
                )
            }
            _ => continue,
        };
        out.line(&format!("{prefix}{line}"));
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
            Withdrawn::Failed(Error::ConnectionClosed) => {
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

    async fn accept(&self, invitation: IncomingInvitation, message: &str) {
        let inviter = invitation.inviter;
        match invitation.accept(message).await {
            Ok(info) => self.launch(info).await,
            Err(e) => {
                let snapshot = self.directory.snapshot();
                let from = who(&snapshot, &inviter);
                let line = match e {
                    Error::Expired => {
                        format!("expired: too late to accept; {from} was told it expired")
                    }
                    Error::Cancelled => format!("cancelled: {from} withdrew the invitation"),
                    Error::ConnectionClosed => {
                        format!("withdrawn: the connection to {from} was lost")
                    }
                    e => format!("could not accept: {e}"),
                };
                self.line(&line);
            }
        }
    }

    async fn launch(&self, info: LaunchInfo) {
        let snapshot = self.directory.snapshot();
        let nickname = snapshot.contact(&info.inviter).map(|c| c.name.clone());
        let from = who(&snapshot, &info.inviter);
        let Some(app) = snapshot.app(&info.application) else {
            self.line(&format!(
                "accepted the invitation from {from}, but application {} is no longer registered: nothing to launch",
                info.application
            ));
            return;
        };
        self.line(&format!(
            "accepted the invitation from {from}; launching {}: {}",
            app.name,
            render_command(&app.command)
        ));
        let (program, args) = app
            .command
            .split_first()
            .map_or(("", &[][..]), |(p, a)| (p.as_str(), a));
        match launch(program, args, &info, nickname.as_deref()).await {
            Ok(mut child) => {
                let name = app.name.clone();
                let pid = child
                    .id()
                    .map_or_else(String::new, |p| format!(" (pid {p})"));
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
            Err(e) => self.line(&format!("could not launch {}: {e}", app.name)),
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
        let live = |left: Duration| format!("{prefix}  {} left to answer", clock(left));
        let question = format!("{prefix}accept? [y/n] ");
        let ask = |out: &Status| {
            out.ask(
                &live(invitation.time_left()),
                &question,
                &format!(
                    "{prefix}accept? [y/n] (answer within {})",
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
