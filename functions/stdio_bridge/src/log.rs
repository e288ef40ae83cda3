//! Minimal leveled logging to stderr, so the bridge needs no logging framework.
//!
//! Invariants: callers never pass launch-spec env values or child stderr content here; env
//! appears only as its names (see `LaunchSpec`'s `Debug`). The level comes from `BRIDGE_LOG`
//! (`debug`, `info` (default), `warn`, `off`) and is read once.

use std::fmt::Arguments;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Off = 3,
}

fn threshold() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| match std::env::var("BRIDGE_LOG").as_deref() {
        Ok("debug") => Level::Debug,
        Ok("warn") => Level::Warn,
        Ok("off") => Level::Off,
        _ => Level::Info,
    })
}

pub fn write(level: Level, args: Arguments<'_>) {
    if level < threshold() {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let tag = match level {
        Level::Debug => "DEBUG",
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Off => return,
    };
    eprintln!("{now:.3} {tag} stdio_bridge: {args}");
}

macro_rules! debug {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Debug, format_args!($($t)*)) };
}
macro_rules! info {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Info, format_args!($($t)*)) };
}
macro_rules! warning {
    ($($t:tt)*) => { $crate::log::write($crate::log::Level::Warn, format_args!($($t)*)) };
}
pub(crate) use {debug, info, warning};
