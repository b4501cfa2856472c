//! Scan configuration: everything a scan needs, validated once, before any socket exists.

use std::time::Duration;

use super::Engine;
use crate::error::Error;
use crate::ports::PortSet;
use crate::space::ProbeSpace;
use crate::target::{self, Target};

/// Default per-probe timeout for no answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Default number of retries of a probe that got no answer.
pub const DEFAULT_RETRIES: u8 = 1;
/// The largest in-flight window chosen when `concurrency` is not given.
pub const DEFAULT_MAX_WINDOW: usize = 4096;

/// A validated scan configuration. Build it with [`ScanConfig::builder`].
#[derive(Clone, Debug)]
pub struct ScanConfig {
    pub(crate) targets: Vec<Target>,
    pub(crate) exclude: Vec<Target>,
    pub(crate) ports: PortSet,
    pub(crate) exclude_ports: PortSet,
    pub(crate) timeout: Duration,
    pub(crate) retries: u8,
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
    /// A builder with the defaults: the top 1000 ports, [`DEFAULT_TIMEOUT`],
    /// [`DEFAULT_RETRIES`], a window sized from free descriptors, one worker per core.
    pub fn builder() -> ScanConfigBuilder {
        ScanConfigBuilder {
            config: ScanConfig {
                targets: Vec::new(),
                exclude: Vec::new(),
                ports: PortSet::default(),
                exclude_ports: PortSet::default(),
                timeout: DEFAULT_TIMEOUT,
                retries: DEFAULT_RETRIES,
                concurrency: None,
                workers: None,
                engine: Engine::Auto,
            },
        }
    }

    /// Per-probe timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Retries of a probe that got no answer.
    pub fn retries(&self) -> u8 {
        self.retries
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

    /// Sets the per-probe timeout (must be above zero).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Sets how often a probe that got no answer is sent again.
    pub fn retries(mut self, retries: u8) -> Self {
        self.config.retries = retries;
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
        if c.timeout.is_zero() {
            return Err(Error::BadTimeout(format!("{}ms", c.timeout.as_millis())));
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
