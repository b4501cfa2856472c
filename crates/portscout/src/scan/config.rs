//! Scan configuration: everything a scan needs, validated once, before any socket exists.

use std::time::Duration;

use super::hosts::{Timeout, TimingSpec};
use super::Engine;
use crate::error::Error;
use crate::ports::PortSet;
use crate::space::ProbeSpace;
use crate::target::{self, Target};
use crate::timing::rtt::RtoBounds;

/// The lowest adaptive no-answer timeout (`--min-rtt-timeout`).
pub const DEFAULT_MIN_RTT_TIMEOUT: Duration = Duration::from_millis(50);
/// The highest adaptive no-answer timeout (`--max-rtt-timeout`), nmap's.
pub const DEFAULT_MAX_RTT_TIMEOUT: Duration = Duration::from_secs(10);
/// The no-answer timeout before any round trip is measured (RFC 6298 §2.1, and nmap's).
pub const DEFAULT_INITIAL_RTT_TIMEOUT: Duration = Duration::from_secs(1);
/// The most retries of a silent port (fewer when its host shows no loss): enough that 15 %
/// random loss costs no open port (see [`crate::timing::loss`]).
pub const DEFAULT_RETRIES: u8 = 10;
/// The largest in-flight window chosen when `concurrency` is not given.
pub const DEFAULT_MAX_WINDOW: usize = 4096;

/// A validated scan configuration. Build it with [`ScanConfig::builder`].
#[derive(Clone, Debug)]
pub struct ScanConfig {
    pub(crate) targets: Vec<Target>,
    pub(crate) exclude: Vec<Target>,
    pub(crate) ports: PortSet,
    pub(crate) exclude_ports: PortSet,
    pub(crate) timeout: Option<Duration>,
    pub(crate) min_rtt_timeout: Duration,
    pub(crate) max_rtt_timeout: Duration,
    pub(crate) retries: u8,
    pub(crate) rate: Option<u32>,
    pub(crate) min_rate: Option<u32>,
    pub(crate) host_check: bool,
    pub(crate) concurrency: Option<usize>,
    pub(crate) workers: Option<usize>,
    pub(crate) engine: Engine,
}

/// Builds a [`ScanConfig`]; [`ScanConfigBuilder::build`] validates it.
#[derive(Clone, Debug)]
pub struct ScanConfigBuilder {
    config: ScanConfig,
}

impl ScanConfig {
    /// A builder with the defaults: the top 1000 ports, adaptive timeouts between
    /// [`DEFAULT_MIN_RTT_TIMEOUT`] and [`DEFAULT_MAX_RTT_TIMEOUT`], at most [`DEFAULT_RETRIES`]
    /// retries, no rate limit, the host check on, a window sized from free descriptors, one
    /// worker per core.
    pub fn builder() -> ScanConfigBuilder {
        ScanConfigBuilder {
            config: ScanConfig {
                targets: Vec::new(),
                exclude: Vec::new(),
                ports: PortSet::default(),
                exclude_ports: PortSet::default(),
                timeout: None,
                min_rtt_timeout: DEFAULT_MIN_RTT_TIMEOUT,
                max_rtt_timeout: DEFAULT_MAX_RTT_TIMEOUT,
                retries: DEFAULT_RETRIES,
                rate: None,
                min_rate: None,
                host_check: true,
                concurrency: None,
                workers: None,
                engine: Engine::Auto,
            },
        }
    }

    /// The fixed per-probe timeout, if one was set (otherwise it adapts to round trips).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The most retries of a probe that got no answer.
    pub fn retries(&self) -> u8 {
        self.retries
    }

    /// Whether hosts that answer nothing are reported down and skipped.
    pub fn host_check(&self) -> bool {
        self.host_check
    }

    /// The timing every one of `workers` workers gets (rates are split evenly).
    pub(crate) fn timing_spec(&self, workers: usize) -> TimingSpec {
        let share = |r: u32| f64::from(r) / workers.max(1) as f64;
        TimingSpec {
            timeout: match self.timeout {
                Some(t) => Timeout::Fixed(t),
                None => Timeout::Adaptive(RtoBounds {
                    min: self.min_rtt_timeout,
                    max: self.max_rtt_timeout,
                    initial: DEFAULT_INITIAL_RTT_TIMEOUT,
                }),
            },
            max_attempts: u32::from(self.retries) + 1,
            host_check: self.host_check,
            rate: self.rate.map(share),
            min_rate: self.min_rate.map(share),
        }
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Resolves host names (through the system resolver), removes exclusions and returns the
    /// probe space. Sends no packet to any target.
    pub async fn probe_space(&self) -> Result<ProbeSpace, Error> {
        let addrs = target::resolve(&self.targets).await?;
        let excluded = target::resolve(&self.exclude).await?;
        let addrs = addrs.difference(&excluded);
        let ports = self.ports.difference(&self.exclude_ports);
        ProbeSpace::new(addrs, ports)
    }
}

impl ScanConfigBuilder {
    /// Adds targets.
    pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.config.targets.extend(targets);
        self
    }

    /// Adds exclusions: these addresses are never probed.
    pub fn exclude(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.config.exclude.extend(targets);
        self
    }

    /// Sets the ports to probe on every target (default: the top 1000).
    pub fn ports(mut self, ports: PortSet) -> Self {
        self.config.ports = ports;
        self
    }

    /// Sets ports never to probe.
    pub fn exclude_ports(mut self, ports: PortSet) -> Self {
        self.config.exclude_ports = ports;
        self
    }

    /// Fixes the per-probe timeout (must be above zero) instead of adapting it to measured
    /// round trips.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// Sets the lowest adaptive timeout (above zero, at most the highest).
    pub fn min_rtt_timeout(mut self, timeout: Duration) -> Self {
        self.config.min_rtt_timeout = timeout;
        self
    }

    /// Sets the highest adaptive timeout.
    pub fn max_rtt_timeout(mut self, timeout: Duration) -> Self {
        self.config.max_rtt_timeout = timeout;
        self
    }

    /// Sets the most retries of a probe that got no answer (fewer are made when the host
    /// shows no loss; at least one, unless this is 0).
    pub fn retries(mut self, retries: u8) -> Self {
        self.config.retries = retries;
        self
    }

    /// Caps the probes sent per second, over all workers.
    pub fn rate(mut self, per_second: u32) -> Self {
        self.config.rate = Some(per_second);
        self
    }

    /// Keeps sending at least this many probes per second, whatever the congestion window
    /// says (descriptors still bound it).
    pub fn min_rate(mut self, per_second: u32) -> Self {
        self.config.min_rate = Some(per_second);
        self
    }

    /// Whether to report hosts that answer nothing as down and skip their ports (default on;
    /// nmap's `-Pn` turns it off).
    pub fn host_check(mut self, on: bool) -> Self {
        self.config.host_check = on;
        self
    }

    /// Sets the in-flight window (probes outstanding at once, over all workers).
    pub fn concurrency(mut self, window: usize) -> Self {
        self.config.concurrency = Some(window);
        self
    }

    /// Sets the number of worker threads: event loops for the sharded engine (default: one
    /// per core), blocking threads for the threads engine (default: 64). The async engine
    /// has one.
    pub fn workers(mut self, workers: usize) -> Self {
        self.config.workers = Some(workers);
        self
    }

    /// Sets the engine (default: [`Engine::Auto`]).
    pub fn engine(mut self, engine: Engine) -> Self {
        self.config.engine = engine;
        self
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<ScanConfig, Error> {
        let mut c = self.config;
        if c.targets.is_empty() {
            return Err(Error::EmptyScan("no targets given"));
        }
        if let Some(t) = c.timeout.filter(|t| t.is_zero()) {
            return Err(Error::BadTimeout(format!("{}ms", t.as_millis())));
        }
        if c.min_rtt_timeout.is_zero() {
            return Err(Error::BadTimeout(format!(
                "--min-rtt-timeout {}ms",
                c.min_rtt_timeout.as_millis()
            )));
        }
        if c.max_rtt_timeout < c.min_rtt_timeout {
            return Err(Error::BadTiming(format!(
                "--max-rtt-timeout {}ms is below --min-rtt-timeout {}ms",
                c.max_rtt_timeout.as_millis(),
                c.min_rtt_timeout.as_millis()
            )));
        }
        for (flag, value) in [("--rate", c.rate), ("--min-rate", c.min_rate)] {
            if value == Some(0) {
                return Err(Error::BadTiming(format!(
                    "{flag} 0: it must be at least 1 probe per second"
                )));
            }
        }
        if let (Some(rate), Some(min)) = (c.rate, c.min_rate) {
            if min > rate {
                return Err(Error::BadTiming(format!(
                    "--min-rate {min} is above --rate {rate}"
                )));
            }
        }
        if c.concurrency == Some(0) {
            return Err(Error::BadConcurrency("0".into()));
        }
        if c.workers == Some(0) {
            return Err(Error::BadConcurrency("0 workers".into()));
        }
        if c.engine == Engine::Async && c.workers.is_some_and(|w| w > 1) {
            return Err(Error::Conflict(
                "the async engine runs one event loop; --workers applies to threads and sharded",
            ));
        }
        if c.ports.is_empty() {
            c.ports = PortSet::top(1000)?;
        }
        Ok(c)
    }
}
