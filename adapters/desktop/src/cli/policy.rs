//! `beckon policy`.

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{exit, CliResult};
use beckon_core::Policy;
use beckon_desktop::store::{policy_word, Home, StoreError};

/// `beckon policy [off|trusted|anyone] [--json]`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without a value, the policy is shown; a policy file that does not parse is an \
error naming its line. With a value, the policy file is written, replacing one \
that does not parse (it holds nothing else).

With --json, stdout is one JSON object with one field: policy (`off`, \
`trusted` or `anyone`), the policy in force after the command.")]
pub(crate) struct PolicyArgs {
    /// The new policy; without it, the current one is shown.
    value: Option<PolicyValue>,
    /// Print one JSON object, `{"policy": "trusted"}` (see below).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyValue {
    /// Refuse every invitation.
    Off,
    /// Accept invitations from contacts who are not blocked (the default).
    Trusted,
    /// Accept invitations from anyone who is not blocked.
    Anyone,
}

pub(crate) fn run(home: &Home, args: PolicyArgs) -> CliResult {
    let policy = match args.value {
        None => {
            let _lock = home.lock_shared()?;
            home.load_policy()?
        }
        Some(value) => {
            let policy = match value {
                PolicyValue::Off => Policy::Off,
                PolicyValue::Trusted => Policy::TrustedOnly,
                PolicyValue::Anyone => Policy::Anyone,
            };
            // Only to say so: the file is replaced either way.
            let broken = match home.load_policy() {
                Err(e @ StoreError::Corrupt { .. }) => Some(e),
                _ => None,
            };
            home.set_policy(policy)?;
            if let Some(e) = broken {
                let first = e.to_string();
                let first = first.lines().next().unwrap_or_default();
                eprintln!("note: replaced the policy file, which did not parse ({first})",);
            }
            if !args.json {
                println!("policy: {}", policy_word(policy));
            }
            policy
        }
    };
    if args.json {
        println!("{}", json!({ "policy": policy_word(policy) }));
    } else if args.value.is_none() {
        println!("{}", policy_word(policy));
    }
    Ok(exit::OK)
}
