//! Logging through `defmt` or `log`, whichever feature is on; nothing when
//! neither is.
//!
//! Under defmt the arguments are logged with their own `defmt::Format`
//! (this crate's `defmt` feature turns on beckon-core's, embassy-net's and
//! embassy-time's), so no value is formatted on the device. Format strings
//! use `{:?}`, which both back ends accept.

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("the `defmt` and `log` features are exclusive: enable one of them");

macro_rules! event {
    ($level:ident, $fmt:literal $(, $arg:expr)* $(,)?) => {{
        #[cfg(feature = "log")]
        ::log::$level!($fmt $(, $arg)*);
        #[cfg(feature = "defmt")]
        ::defmt::$level!($fmt $(, $arg)*);
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
