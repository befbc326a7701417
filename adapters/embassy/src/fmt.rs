//! Logging through `defmt` or `log`, whichever feature is on; nothing when
//! neither is.
//!
//! Under defmt every argument goes through `defmt::Debug2Format`, with the
//! core's `Debug`. (beckon-core has a `defmt` feature deriving
//! `defmt::Format`, but at this revision it does not build: its
//! `PublicKey` and `ApplicationId`, inside `Prompt`, `Launch`, the outcomes
//! and the events, have no `Format`. So this crate's `defmt` feature does
//! not turn it on.) Format strings use `{:?}`, which both back ends accept.

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("the `defmt` and `log` features are exclusive: enable one of them");

macro_rules! event {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::$level!($fmt $(, $arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::$level!($fmt $(, ::defmt::Debug2Format(&$arg))*);
        #[cfg(not(any(feature = "log", feature = "defmt")))]
        {
            $(let _ = &$arg;)*
        }
    }};
}

macro_rules! debug {
    ($($t:tt)*) => { $crate::fmt::event!(debug, $($t)*) };
}

macro_rules! warning {
    ($($t:tt)*) => { $crate::fmt::event!(warn, $($t)*) };
}

pub(crate) use {debug, event, warning};
