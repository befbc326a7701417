//! `beckon invite`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use beckon_core::limits::MAX_DATA_LEN;
use beckon_core::{ApplicationId, Invitation, PublicKey, Refusal, Response, SessionError, Target};
use beckon_tokio::{invite_tcp, Answer, CancelToken, InviteError, InviteOptions, Progress};
use clap::Args;
use serde_json::json;
use tokio::sync::mpsc;

use super::addr::{self, Role};
use super::output::{quoted, who, Status};
use super::signals::{Signals, Stop};
use super::{clock, exit, read_input, CliError, CliResult};
use beckon_desktop::store::{app_id_for_name, Home, Snapshot};

/// `beckon invite`.
#[derive(Debug, Args)]
pub(crate) struct InviteArgs {
    /// CONTACT ENDPOINT: the contact's name (see `beckon contact list`) and
    /// where to reach them, HOST:PORT (the port defaults to 7464). With
    /// --any, only ENDPOINT.
    #[arg(value_name = "CONTACT ENDPOINT", num_args = 1..=2, required = true)]
    targets: Vec<String>,
    /// Invite whoever answers at ENDPOINT, and print who it was (less
    /// secure: nothing checks that it is who you meant).
    #[arg(long)]
    any: bool,
    /// The application: a registered name, a UUID, or a name whose
    /// Beckon id (UUIDv5) the invitee registered.
    #[arg(long, value_name = "NAME-OR-UUID")]
    app: String,
    /// A message for the invitee (at most 255 characters).
    #[arg(
        long,
        short,
        value_name = "M",
        default_value = "",
        hide_default_value = true
    )]
    message: String,
    /// Application data to send, from a file or - for stdin (at most 16 KiB).
    #[arg(long, value_name = "F")]
    data_file: Option<PathBuf>,
    /// How long the invitee has to answer, as far as this side waits
    /// (default 5m, Beckon's standard). Give at least the listener's
    /// --answer-within when that is longer; a little grace is added.
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration)]
    wait: Option<std::time::Duration>,
    /// Print one JSON object with the outcome, the responder's key and
    /// fingerprint, and the answer's message.
    #[arg(long)]
    json: bool,
}

/// Finds the application id: a UUID, a registered name, or a name's
/// UUIDv5.
pub(crate) fn resolve_app(snapshot: &Snapshot, app: &str) -> (ApplicationId, String) {
    if let Ok(id) = app.parse::<ApplicationId>() {
        let name = snapshot
            .app(&id)
            .map_or_else(|| id.to_string(), |a| a.name.clone());
        return (id, name);
    }
    match snapshot.apps.iter().find(|a| a.name == app) {
        Some(a) => (a.id, a.name.clone()),
        None => (app_id_for_name(app), app.to_owned()),
    }
}

fn refusal_word(reason: Refusal) -> &'static str {
    match reason {
        Refusal::NotTrusted => "not_trusted",
        Refusal::Blocked => "blocked",
        Refusal::ApplicationNotRegistered => "application_not_registered",
        Refusal::InvitationsOff => "invitations_off",
        Refusal::Busy => "busy",
        Refusal::TooLarge => "too_large",
    }
}

pub(crate) async fn run(home: Home, args: InviteArgs) -> CliResult {
    // Arguments first: usage errors before anything else.
    let (contact_name, endpoint) = match (args.any, args.targets.as_slice()) {
        (false, [contact, endpoint]) => (Some(contact.clone()), endpoint.clone()),
        (true, [endpoint]) => (None, endpoint.clone()),
        (false, [_]) => {
            return Err(CliError::usage(
                "give a CONTACT and an ENDPOINT, or --any and an ENDPOINT",
            ))
        }
        (true, _) => {
            return Err(CliError::usage(
                "with --any give only the ENDPOINT (whoever answers there is invited)",
            ))
        }
        _ => return Err(CliError::usage("give a CONTACT and an ENDPOINT")),
    };
    let data = match &args.data_file {
        Some(path) => read_input(path, MAX_DATA_LEN, "the application data")?,
        None => Vec::new(),
    };
    let endpoint_addr = addr::parse(&endpoint, Role::Connect)?;
    let me = home.load_identity()?;
    let snapshot = home.load_snapshot()?;
    let target = match &contact_name {
        Some(name) => {
            let contact = snapshot.contact_named(name).ok_or_else(|| {
                let near = beckon_desktop::store::did_you_mean(
                    name,
                    snapshot.contacts.iter().map(|c| c.name.as_str()),
                );
                CliError::new(
                    exit::NO_INPUT,
                    match near {
                        Some(near) => format!("no contact named {name:?}; did you mean {near:?}?"),
                        None => format!(
                            "no contact named {name:?} (see `beckon contact list`, or use --any)"
                        ),
                    },
                )
            })?;
            Target::Contact(contact.key)
        }
        None => Target::AnyEndpoint,
    };
    let (app_id, app_name) = resolve_app(&snapshot, &args.app);
    // A name not registered here is sent as the id of that name (the
    // invitee's registrations decide); a near registered one is likely a
    // slip, so say so.
    if args.app.parse::<ApplicationId>().is_err()
        && snapshot.apps.iter().all(|a| a.name != args.app)
    {
        if let Some(near) = beckon_desktop::store::did_you_mean(
            &args.app,
            snapshot.apps.iter().map(|a| a.name.as_str()),
        ) {
            eprintln!(
                "beckon: note: application {:?} is not registered here; did you mean {near:?}? \
                 (inviting to {:?} anyway: {app_id})",
                args.app, args.app
            );
        }
    }
    let invitation = Invitation::new(app_id, &args.message, &data)
        .map_err(|e| CliError::data(format!("invalid invitation: {e}")))?;
    let config = super::listen::config_with_window(args.wait)?;
    let addrs = addr::resolve(&endpoint_addr).await?;

    // Progress goes to stderr, live on a terminal.
    let status = Status::stderr();
    let cancel = CancelToken::new();
    let stopped: Arc<std::sync::Mutex<Option<Stop>>> = Arc::default();
    {
        let cancel = cancel.clone();
        let stopped = Arc::clone(&stopped);
        let status = status.clone();
        let mut signals = Signals::new();
        tokio::spawn(async move {
            let first = signals.next().await;
            *stopped
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(first);
            status.line(&format!(
                "beckon: {}: cancelling the invitation...",
                first.name()
            ));
            cancel.cancel();
            let second = signals.next().await;
            status.line(&format!(
                "beckon: {}: cancelled (not waiting for the acknowledgement)",
                second.name()
            ));
            std::process::exit(i32::from(first.exit_code()));
        });
    }
    let (progress_tx, progress_rx) = mpsc::unbounded_channel();
    let display = tokio::spawn(show_progress(
        progress_rx,
        status.clone(),
        Arc::new(snapshot.clone()),
        app_name.clone(),
        std::time::Duration::from_micros(config.grace.as_micros()),
    ));
    let sent = Arc::new(AtomicBool::new(false));

    let mut result = Err(InviteError::Connect(std::io::ErrorKind::NotFound.into()));
    for (i, addr) in addrs.iter().enumerate() {
        status.status(&format!("connecting to {addr}..."));
        let tx = progress_tx.clone();
        let sent_flag = Arc::clone(&sent);
        result = invite_tcp(
            *addr,
            &me.identity,
            target,
            &invitation,
            InviteOptions {
                config,
                cancel: Some(cancel.clone()),
            },
            move |p| {
                if matches!(p, Progress::Waiting { .. }) {
                    sent_flag.store(true, Ordering::SeqCst);
                }
                let _ = tx.send(p);
            },
        )
        .await;
        // Another address only when this one could not be reached at all.
        let unreachable = matches!(result, Err(InviteError::Connect(_)));
        if !unreachable || i + 1 == addrs.len() || cancel.is_cancelled() {
            break;
        }
    }
    drop(progress_tx);
    let _ = display.await;
    status.clear();

    let responder = match &result {
        Ok(answer) => Some(answer.responder),
        Err(e) => e.responder(),
    };
    let mut code = exit::for_invite(&result);
    let stop = *stopped
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let (Some(stop), Err(e)) = (stop, &result) {
        if e.core_error() == Some(SessionError::Cancelled) {
            code = stop.exit_code();
        }
    }
    let was_sent = sent.load(Ordering::SeqCst);

    if args.json {
        let responder_json = responder.map(|key| {
            json!({
                "key": key.to_string(),
                "fingerprint": key.fingerprint().to_string(),
                "contact": snapshot.contact(&key).map(|c| c.name.clone()),
            })
        });
        let mut object = json!({
            "outcome": outcome_word(&result),
            "exit_code": code,
            "endpoint": endpoint,
            "contact": contact_name,
            "application": app_id.to_string(),
            "responder": responder_json,
            "message": result.as_ref().map(|a| a.message.clone()).unwrap_or_default(),
        });
        if let Ok(Answer {
            response: Response::Error { code },
            ..
        }) = &result
        {
            object["error_code"] = json!(code);
            object["error"] = json!(error_answer(*code));
        }
        if let Err(e) = &result {
            object["error"] = json!(error_text(e, &endpoint));
            if let Some(SessionError::Refused {
                reason,
                authenticated,
            }) = e.core_error()
            {
                object["refusal"] = json!({
                    "reason": refusal_word(reason),
                    "authenticated": authenticated,
                });
            }
            if let Some(SessionError::Cancelled) = e.core_error() {
                object["invitation_sent"] = json!(was_sent);
            }
        }
        println!("{object}");
    } else {
        print_result(&result, &snapshot, was_sent, &endpoint);
    }
    Ok(code)
}

fn outcome_word(result: &Result<Answer, InviteError>) -> &'static str {
    match result {
        Ok(answer) => match answer.response {
            Response::Accepted => "accepted",
            Response::Declined => "declined",
            Response::Expired => "expired",
            _ => "error_response",
        },
        Err(InviteError::Connect(_)) => "connect_failed",
        Err(InviteError::Io(_)) => "connection_failed",
        Err(InviteError::Invalid(_)) => "failed",
        Err(InviteError::Failed { error, .. }) => match error {
            SessionError::Timeout => "timeout",
            SessionError::Refused { .. } => "refused",
            SessionError::ContactMismatch => "contact_mismatch",
            SessionError::Cancelled => "cancelled",
            SessionError::HandshakeTimeout
            | SessionError::UnsupportedVersion { .. }
            | SessionError::Protocol(_)
            | SessionError::ConnectionClosed
            | SessionError::PeerSilent
            | SessionError::Internal => "failed",
        },
    }
}

fn print_result(
    result: &Result<Answer, InviteError>,
    snapshot: &Snapshot,
    was_sent: bool,
    endpoint: &str,
) {
    match result {
        Ok(answer) => {
            let by = who(snapshot, &answer.responder);
            let line = match answer.response {
                Response::Accepted => format!("accepted by {by}"),
                Response::Declined => format!("declined by {by}"),
                Response::Expired => format!("expired: {by} did not answer in time"),
                Response::Error {
                    code: Response::ERROR_STOPPED,
                } => format!("{by} stopped listening before answering"),
                Response::Error { code } => {
                    format!("{by} answered with an error: {}", error_answer(code))
                }
            };
            println!("{line}");
            if !answer.message.is_empty() {
                println!("message: {}", quoted(&answer.message));
            }
        }
        Err(e) => {
            let message = match (e, e.core_error()) {
                (_, Some(SessionError::Cancelled)) if was_sent => {
                    "cancelled: the invitation was withdrawn from the invitee".to_owned()
                }
                (_, Some(SessionError::Cancelled)) => {
                    "cancelled before the invitation was sent: nothing reached the invitee"
                        .to_owned()
                }
                (_, Some(SessionError::ContactMismatch)) => match e.responder() {
                    Some(key) => format!(
                        "contact mismatch: {} answered at {endpoint}, not the contact you \
                         invited; nothing of the invitation was sent",
                        who(snapshot, &key)
                    ),
                    None => e.to_string(),
                },
                (
                    _,
                    Some(SessionError::Refused {
                        reason,
                        authenticated,
                    }),
                ) => match (authenticated, e.responder()) {
                    (true, Some(key)) => format!("refused by {}: {reason}", who(snapshot, &key)),
                    _ => format!(
                        "refused: {reason} (unauthenticated: sent before the responder proved \
                         who it is)"
                    ),
                },
                (_, Some(SessionError::Timeout)) => {
                    "timed out: no answer came within the response timeout".to_owned()
                }
                _ => error_text(e, endpoint),
            };
            eprintln!("beckon: {message}");
        }
    }
}

/// An Error answer's code, with its meaning where protocol §9.3 defines
/// one.
fn error_answer(code: u32) -> String {
    match Response::error_meaning(code) {
        Some(meaning) => format!("{meaning} (code {code:#010x})"),
        None => format!("code {code:#010x}"),
    }
}

/// The error of an invitation that got no answer, as a person reads it.
fn error_text(e: &InviteError, endpoint: &str) -> String {
    match e {
        InviteError::Connect(io) => format!("could not connect to {endpoint}: {io}"),
        // The first reply was not a Beckon Proof or Refusal: whatever
        // answers there speaks another protocol.
        InviteError::Failed {
            error: SessionError::Protocol(p),
            responder: None,
        } => format!("not a Beckon listener at {endpoint} (its reply: {p})"),
        e => e.to_string(),
    }
}

/// Shows progress: connecting, verified, then a live countdown while
/// waiting.
async fn show_progress(
    mut rx: mpsc::UnboundedReceiver<Progress>,
    status: Status,
    snapshot: Arc<Snapshot>,
    app: String,
    grace: std::time::Duration,
) {
    let mut waiting: Option<(PublicKey, tokio::time::Instant)> = None;
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            p = rx.recv() => match p {
                None => return,
                Some(Progress::Connected) => status.status("connected; verifying the responder..."),
                Some(Progress::Verified { responder }) => {
                    status.line(&format!("verified {}", who(&snapshot, &responder)));
                }
                Some(Progress::Waiting { responder, deadline }) => {
                    status.line(&format!("invitation to {app} sent"));
                    waiting = Some((responder, deadline));
                    if !status.is_tty() {
                        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                        status.line(&format!(
                            "waiting for {} \u{2014} {} left",
                            who(&snapshot, &responder),
                            clock(left)
                        ));
                    }
                    tick.reset_immediately();
                }
            },
            _ = tick.tick(), if waiting.is_some() => {
                if let Some((responder, deadline)) = waiting {
                    let now = tokio::time::Instant::now();
                    let left = deadline.saturating_duration_since(now);
                    let text = if left.is_zero() {
                        // The invitee's time is up: its Expired should be on
                        // the way; the inviter gives up one grace later.
                        format!(
                            "waiting for {} \u{2014} time is up; giving up in {} (Ctrl-C cancels)",
                            who(&snapshot, &responder),
                            clock((deadline + grace).saturating_duration_since(now))
                        )
                    } else {
                        format!(
                            "waiting for {} \u{2014} {} left (Ctrl-C cancels)",
                            who(&snapshot, &responder),
                            clock(left)
                        )
                    };
                    status.status(&text);
                }
            }
        }
    }
}
