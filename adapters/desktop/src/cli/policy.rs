//! `beckon policy`.

use clap::{Args, ValueEnum};

use super::{exit, CliResult};
use beckon_core::Policy;
use beckon_desktop::store::{policy_word, Home};

/// `beckon policy [off|trusted|anyone]`.
#[derive(Debug, Args)]
pub(crate) struct PolicyArgs {
    /// The new policy; without it, the current one is shown.
    value: Option<PolicyValue>,
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
    match args.value {
        None => {
            let policy = {
                let _lock = home.lock_shared()?;
                home.load_policy()?
            };
            println!("{}", policy_word(policy));
        }
        Some(value) => {
            let policy = match value {
                PolicyValue::Off => Policy::Off,
                PolicyValue::Trusted => Policy::TrustedOnly,
                PolicyValue::Anyone => Policy::Anyone,
            };
            home.set_policy(policy)?;
            println!("policy: {}", policy_word(policy));
        }
    }
    Ok(exit::OK)
}
