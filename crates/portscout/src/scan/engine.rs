//! The engines: ways of driving the same prober over the same probe space.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// How a scan runs its probes. Every engine gives the same results; they differ in speed,
/// threads and memory.
///
/// | engine | seed idea | what runs |
/// |---|---|---|
/// | [`Threads`](Engine::Threads) | thread pool (6.1) | up to 64 OS threads, one blocking `connect` each at a time |
/// | [`Async`](Engine::Async) | coroutines on one event loop (6.2) | one thread, one event loop, a bounded in-flight window |
/// | [`Sharded`](Engine::Sharded) | subinterpreters (6.4) | one event loop per core, each owning a disjoint slice of the probe space |
///
/// [`Auto`](Engine::Auto) is `sharded`: on the 2-core development machine it was the
/// fastest on every scenario (see `docs/benchmarks.md`); with one core it is the `async`
/// engine with the work split in one.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Engine {
    /// The fastest measured for this machine's core count: `sharded`.
    #[default]
    Auto,
    /// Blocking sockets on a bounded pool of OS threads.
    Threads,
    /// One event loop with a bounded in-flight window.
    Async,
    /// Share-nothing event loops, one per core, over disjoint slices of the probe space.
    Sharded,
}

impl Engine {
    /// Every engine, `auto` first.
    pub const ALL: [Engine; 4] = [
        Engine::Auto,
        Engine::Threads,
        Engine::Async,
        Engine::Sharded,
    ];

    /// The engine's name, as `--engine` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Auto => "auto",
            Engine::Threads => "threads",
            Engine::Async => "async",
            Engine::Sharded => "sharded",
        }
    }

    /// The concrete engine `Auto` stands for (others are themselves).
    pub fn resolve(self) -> Engine {
        match self {
            Engine::Auto => Engine::Sharded,
            other => other,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = Error;

    fn from_str(s: &str) -> Result<Engine, Error> {
        Engine::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| Error::BadEngine(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Engine::ALL {
            assert_eq!(e.as_str().parse::<Engine>().unwrap(), e);
        }
        let err = "fast".parse::<Engine>().unwrap_err();
        assert!(err.to_string().contains("`fast`"), "{err}");
    }

    #[test]
    fn auto_is_a_concrete_engine() {
        assert_ne!(Engine::Auto.resolve(), Engine::Auto);
        assert_eq!(Engine::Threads.resolve(), Engine::Threads);
    }
}
