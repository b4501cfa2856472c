//! Scan configuration: everything a scan needs, validated once, before any socket exists.

use std::hash::{BuildHasher, Hasher};
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::hosts::{Timeout, TimingSpec};
use super::Engine;
use crate::banner::BannerOptions;
use crate::error::Error;
use crate::names::{NameOptions, ReverseDns};
use crate::plan::{Checkpoint, Order, Plan, Shard, Walk, CHECKPOINT_VERSION};
use crate::ports::PortSet;
use crate::probe::ScanType;
use crate::service::DetectOptions;
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
/// The longest a probe may wait for its answer (`--timeout`, `--max-rtt-timeout`): half an
/// hour, within what the SYN prober's in-flight table keeps exactly (about 35 minutes).
pub const MAX_PROBE_WAIT: Duration = Duration::from_secs(30 * 60);
/// The largest in-flight window chosen when `concurrency` is not given.
pub const DEFAULT_MAX_WINDOW: usize = 4096;
/// The most SYN probes in flight at once before the scan's first answer, over all workers,
/// when `concurrency` is not given. Until something answers, nothing measured says what the
/// path carries, so silence holds no window (`docs/timing.md`): this bounds only the memory of
/// the probes waiting (a SYN in flight holds no descriptor). A connect scan's probes hold a
/// descriptor each and stay within [`DEFAULT_MAX_WINDOW`] and the descriptor budget.
pub const DEFAULT_MAX_UNANSWERED: usize = 1 << 19;
/// The most ports whose service is detected at once (`--service-version`), when nothing
/// lowers it (see [`ScanConfigBuilder::service_version`]).
pub const DEFAULT_DETECTIONS: usize = crate::service::DEFAULT_CONCURRENCY;

/// A validated scan configuration. Build it with [`ScanConfig::builder`].
#[derive(Clone, Debug)]
pub struct ScanConfig {
    pub(crate) targets: Vec<Target>,
    /// Target files (`-iL`), and the targets read from them at build.
    target_files: Vec<PathBuf>,
    file_targets: Vec<Target>,
    pub(crate) exclude: Vec<Target>,
    /// Exclusion files, and the targets read from them at build.
    exclude_files: Vec<PathBuf>,
    file_exclude: Vec<Target>,
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
    /// Order, seed (chosen at random by [`ScanConfigBuilder::build`] when not given) and
    /// shard.
    pub(crate) walk: Walk,
    seed_given: bool,
    pub(crate) resume: Option<Checkpoint>,
    pub(crate) scan_type: ScanType,
    pub(crate) drop_privileges: bool,
    pub(crate) banners: Option<BannerOptions>,
    pub(crate) services: Option<DetectOptions>,
    /// IPv6 only (nmap's `-6`): names stand for IPv6 addresses, IPv4 targets are refused.
    ipv6_only: bool,
    /// PTR lookups during [`crate::scan::Scan::drive`].
    pub(crate) names: NameOptions,
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
                target_files: Vec::new(),
                file_targets: Vec::new(),
                exclude: Vec::new(),
                exclude_files: Vec::new(),
                file_exclude: Vec::new(),
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
                walk: Walk::default(),
                seed_given: false,
                resume: None,
                scan_type: ScanType::Connect,
                drop_privileges: false,
                banners: None,
                services: None,
                ipv6_only: false,
                names: NameOptions::default(),
            },
        }
    }

    /// The scan type: how each probe is sent and read.
    pub fn scan_type(&self) -> ScanType {
        self.scan_type
    }

    /// The targets given as such (not those of target files).
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The target files (`-iL`), in the order given.
    pub fn target_files(&self) -> &[PathBuf] {
        &self.target_files
    }

    /// The exclusions given as such (not those of exclusion files).
    pub fn exclude(&self) -> &[Target] {
        &self.exclude
    }

    /// The exclusion files, in the order given.
    pub fn exclude_files(&self) -> &[PathBuf] {
        &self.exclude_files
    }

    /// The ports probed on every target: those given (or the top
    /// [`crate::ports::DEFAULT_TOP_PORTS`]) without the excluded ones.
    pub fn ports(&self) -> PortSet {
        self.ports.difference(&self.exclude_ports)
    }

    /// The probe order.
    pub fn order(&self) -> Order {
        self.walk.order
    }

    /// The seed of the random order: the one given, or one picked at random by `build`.
    pub fn seed(&self) -> u64 {
        self.walk.seed
    }

    /// The shard this run scans.
    pub fn shard(&self) -> Shard {
        self.walk.shard
    }

    /// The plan for `space`: the configured order, seed and shard, or what the checkpoint
    /// left when resuming. Fails if the checkpoint was written for another scan.
    pub fn plan(&self, space: ProbeSpace) -> Result<Plan, Error> {
        let space = Arc::new(space);
        match &self.resume {
            Some(c) => Plan::resume(space, c),
            None => Ok(Plan::walking(space, self.walk)),
        }
    }

    /// Resolves the targets (blocking, through the system resolver) and returns the plan:
    /// what `--dry-run` lists and what [`crate::scan::Scan::with_plan`] sends. Sends nothing.
    ///
    /// Inside an async runtime it returns an error: use [`ScanConfig::probe_space`] and
    /// [`ScanConfig::plan`] there.
    pub fn resolve_plan(&self) -> Result<Plan, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::Runtime(std::io::Error::other(
                "ScanConfig::resolve_plan blocks and was called inside an async runtime; \
                 use ScanConfig::probe_space() and ScanConfig::plan() there",
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let space = runtime.block_on(self.probe_space())?;
        self.plan(space)
    }

    /// The fixed per-probe timeout, if one was set (otherwise it adapts to round trips).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The longest adaptive timeout.
    pub fn max_rtt_timeout(&self) -> Duration {
        self.max_rtt_timeout
    }

    /// The most probes per second, if the rate is limited.
    pub fn rate(&self) -> Option<u32> {
        self.rate
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

    /// How banners are grabbed, if they are (`None`: no banners, the default).
    pub fn banners(&self) -> Option<&BannerOptions> {
        self.banners.as_ref()
    }

    /// How services are detected on open ports, if they are (`None`: not, the default).
    pub fn services(&self) -> Option<&DetectOptions> {
        self.services.as_ref()
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// How host names (PTR) are looked up while the scan is driven.
    pub fn names(&self) -> &NameOptions {
        &self.names
    }

    /// Resolves host names (through the system resolver), removes exclusions and returns the
    /// probe space. Sends no packet to any target.
    ///
    /// An excluded IPv4 address also excludes its IPv4-mapped IPv6 spelling (`::ffff:a.b.c.d`),
    /// and the other way round: a connect to either reaches the same host. A link-local target
    /// left after exclusions is [`target::TargetError::LinkLocal`] (no zone ids).
    pub async fn probe_space(&self) -> Result<ProbeSpace, Error> {
        let v6 = self.ipv6_only;
        let (given, mut resolved) = target::resolve_named(&self.targets, v6).await?;
        let (from_files, in_files) = target::resolve_named(&self.file_targets, v6).await?;
        resolved.extend(in_files);
        let addrs = given.union(&from_files);
        // The first name given for an address is its name.
        let mut names = std::collections::BTreeMap::new();
        for r in resolved {
            names.entry(r.addr).or_insert(crate::model::TargetName {
                name: r.name,
                others: r.others,
            });
        }
        if v6 {
            if let Some(r) = addrs.ranges().find(|r| r.start.is_ipv4()) {
                return Err(target::TargetError::NotIpv6(r.start.to_string()).into());
            }
        }
        let excluded = target::resolve(&self.exclude)
            .await?
            .union(&target::resolve(&self.file_exclude).await?)
            .with_v4_mapped();
        let addrs = addrs.difference(&excluded);
        let ports = self.ports.difference(&self.exclude_ports);
        let space = ProbeSpace::new(addrs, ports)?.with_names(names);
        let link_local = (
            Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
            Ipv6Addr::new(
                0xfebf, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
            ),
        );
        if let Some(a) = space.addrs().first_in_v6(link_local.0, link_local.1) {
            return Err(target::TargetError::LinkLocal(a.to_string()).into());
        }
        Ok(space)
    }
}

impl ScanConfigBuilder {
    /// Scans IPv6 only (nmap's `-6`): a host name stands for its first IPv6 address (one
    /// without is [`target::TargetError::Unresolvable`]), and an IPv4 target is
    /// [`target::TargetError::NotIpv6`] (when the probe space is built, before anything is
    /// sent). Default: off (a name stands for its first IPv4 address, else its first IPv6).
    pub fn ipv6_only(mut self, on: bool) -> Self {
        self.config.ipv6_only = on;
        self
    }

    /// Which hosts get a PTR lookup while [`crate::scan::Scan::drive`] runs the scan
    /// ([`crate::names`]). Default: [`ReverseDns::Up`], as nmap; [`ReverseDns::Never`] is
    /// nmap's `-n`, [`ReverseDns::All`] its `-R`.
    pub fn reverse_dns(mut self, which: ReverseDns) -> Self {
        self.config.names.reverse_dns = which;
        self
    }

    /// How host names are looked up: which hosts, the time each lookup may take, how many run
    /// at once, the lookup itself ([`NameOptions`]). A timeout of zero or above
    /// [`crate::names::MAX_TIMEOUT`], or a concurrency of 0 or above
    /// [`crate::names::MAX_CONCURRENCY`], is refused by [`ScanConfigBuilder::build`].
    pub fn names(mut self, options: NameOptions) -> Self {
        self.config.names = options;
        self
    }

    /// Adds targets.
    pub fn targets(mut self, targets: impl IntoIterator<Item = Target>) -> Self {
        self.config.targets.extend(targets);
        self
    }

    /// Adds a target file (`-iL`; `-` for standard input), read by [`ScanConfigBuilder::build`]
    /// as a stream ([`target::read_target_file`]).
    pub fn target_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.target_files.push(path.into());
        self
    }

    /// Adds a file of exclusions, read by [`ScanConfigBuilder::build`].
    pub fn exclude_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config.exclude_files.push(path.into());
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

    /// Sets the probe order (default: [`Order::Random`]).
    pub fn order(mut self, order: Order) -> Self {
        self.config.walk.order = order;
        self
    }

    /// Sets the seed of the random order (default: a random one). Shards of one scan must
    /// share it.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.walk.seed = seed;
        self.config.seed_given = true;
        self
    }

    /// Scans only this shard (default: all of the scan). Needs an explicit seed with the
    /// random order when there is more than one shard, so that the shards agree.
    pub fn shard(mut self, shard: Shard) -> Self {
        self.config.walk.shard = shard;
        self
    }

    /// Continues a paused scan: only what `checkpoint` left is sent, and the hosts it found
    /// up or down are known from the start. The other settings must give the same scan (the
    /// same targets, ports, exclusions, order, shard, and seed if one is set).
    pub fn resume(mut self, checkpoint: Checkpoint) -> Self {
        self.config.resume = Some(checkpoint);
        self
    }

    /// The scan type (default [`ScanType::Connect`]). [`ScanType::Syn`] needs root or
    /// `CAP_NET_RAW` when the scan starts, and runs on the event-loop engines only.
    pub fn scan_type(mut self, scan_type: ScanType) -> Self {
        self.config.scan_type = scan_type;
        self
    }

    /// Drops the process's privileges once the scan's sockets are open (default off): see
    /// [`crate::privilege::drop_privileges`]. They are dropped in the thread that starts the
    /// scan, before its workers start (which inherit that), so start the scan before any other
    /// thread that should lose them too.
    pub fn drop_privileges(mut self, on: bool) -> Self {
        self.config.drop_privileges = on;
        self
    }

    /// Grabs a banner from every open port, whatever the engine and scan type (default
    /// off): see [`crate::banner`]. The grabs run beside the scan, at most
    /// [`BannerOptions::concurrency`] at once; each open port's result comes out once its grab
    /// is over, with [`crate::PortResult::banner`] set when the service said something. Other
    /// results are not delayed.
    pub fn banners(mut self, options: BannerOptions) -> Self {
        self.config.banners = Some(options);
        self
    }

    /// Detects the service and version on every open port (`--service-version`, nmap's
    /// `-sV`; default off): see [`crate::service::detect`]. Detection runs beside the scan,
    /// in the same stage as banner grabs, at most [`DEFAULT_DETECTIONS`] ports at once (fewer
    /// with a smaller `concurrency`, and for a connect scan at most a quarter of the
    /// descriptors); each open port's result comes out once its detection is over, with
    /// [`crate::PortResult::service`] set. Other results are not delayed.
    pub fn service_version(mut self, options: DetectOptions) -> Self {
        self.config.services = Some(options);
        self
    }

    /// Validates the configuration.
    pub fn build(self) -> Result<ScanConfig, Error> {
        let mut c = self.config;
        if let Some(cp) = &c.resume {
            if cp.version != CHECKPOINT_VERSION {
                return Err(Error::BadResume(format!(
                    "checkpoint version {} (this portscout reads version {CHECKPOINT_VERSION})",
                    cp.version
                )));
            }
            let (was, now) = (cp.walk, c.walk);
            if was.order != now.order
                || was.shard != now.shard
                || (c.seed_given && was.seed != now.seed)
            {
                return Err(Error::BadResume(format!(
                    "it was written for --order {} --shard {} --seed {}",
                    was.order, was.shard, was.seed
                )));
            }
            c.walk.seed = was.seed;
            c.seed_given = true;
        }
        if c.walk.shard.count > 1 && c.walk.order == Order::Random && !c.seed_given {
            return Err(Error::Conflict(
                "--shard needs --seed with the random order: every shard must use the same permutation",
            ));
        }
        if !c.seed_given {
            c.walk.seed = random_seed();
        }
        for path in &c.target_files {
            c.file_targets.extend(target::read_target_file(path)?);
        }
        if c.targets.is_empty() && c.file_targets.is_empty() {
            return Err(Error::EmptyScan("no targets given"));
        }
        for path in &c.exclude_files {
            c.file_exclude.extend(target::read_target_file(path)?);
        }
        if let Some(t) = c.timeout.filter(|t| t.is_zero()) {
            return Err(Error::BadTimeout(format!("{}ms", t.as_millis())));
        }
        if c.names.timeout.is_zero() || c.names.timeout > crate::names::MAX_TIMEOUT {
            return Err(Error::BadTiming(format!(
                "a host name lookup timeout of {}ms: it must be above 0 and at most {} s",
                c.names.timeout.as_millis(),
                crate::names::MAX_TIMEOUT.as_secs()
            )));
        }
        if c.names.concurrency == 0 || c.names.concurrency > crate::names::MAX_CONCURRENCY {
            return Err(Error::BadTiming(format!(
                "{} host name lookups at once: it must be 1 to {}",
                c.names.concurrency,
                crate::names::MAX_CONCURRENCY
            )));
        }
        if c.min_rtt_timeout.is_zero() {
            return Err(Error::BadTimeout(format!(
                "--min-rtt-timeout {}ms",
                c.min_rtt_timeout.as_millis()
            )));
        }
        for (flag, value) in [
            ("--timeout", c.timeout),
            ("--max-rtt-timeout", Some(c.max_rtt_timeout)),
        ] {
            if let Some(t) = value.filter(|&t| t > MAX_PROBE_WAIT) {
                return Err(Error::BadTiming(format!(
                    "{flag} {}ms: a probe waits at most {} minutes",
                    t.as_millis(),
                    MAX_PROBE_WAIT.as_secs() / 60
                )));
            }
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
        if let Some(b) = &c.banners {
            if b.timeout().is_zero() {
                return Err(Error::BadTimeout(format!(
                    "--banner-timeout {}ms",
                    b.timeout().as_millis()
                )));
            }
            if b.max_bytes() == 0 {
                return Err(Error::BadBanner(
                    "a size cap of 0 bytes: it must be at least 1".into(),
                ));
            }
            if b.concurrency() == 0 {
                return Err(Error::BadBanner(
                    "0 grabs at once: it must be at least 1".into(),
                ));
            }
        }
        if let Some(d) = &c.services {
            if d.intensity > 9 {
                return Err(Error::BadServiceDetection(format!(
                    "--version-intensity {}: it must be 0 to 9",
                    d.intensity
                )));
            }
            if d.budget.is_zero() || d.probe_wait.is_zero() {
                return Err(Error::BadServiceDetection(
                    "a time budget or probe wait of 0: they must be positive".into(),
                ));
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
        if c.scan_type == ScanType::Syn && c.engine == Engine::Threads {
            return Err(Error::Conflict(
                "--scan syn runs on the event-loop engines (auto, async, sharded), not threads",
            ));
        }
        if c.ports.is_empty() {
            c.ports = PortSet::top(crate::ports::DEFAULT_TOP_PORTS)?;
        }
        Ok(c)
    }
}

/// A seed that differs from run to run: the standard library's per-process random hasher
/// keys, mixed with the time.
fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_banners(options: BannerOptions) -> Result<ScanConfig, Error> {
        ScanConfig::builder()
            .targets([Target::parse("127.0.0.1").unwrap()])
            .banners(options)
            .build()
    }

    #[test]
    fn banner_options_are_validated() {
        let d = BannerOptions::default();
        let err = with_banners(d.clone().with_timeout(Duration::ZERO)).unwrap_err();
        assert!(matches!(err, Error::BadTimeout(ref t) if t.contains("--banner-timeout")));
        let err = with_banners(d.clone().with_max_bytes(0)).unwrap_err();
        assert!(matches!(err, Error::BadBanner(ref m) if m.contains("size cap of 0")));
        let err = with_banners(d.clone().with_concurrency(0)).unwrap_err();
        assert!(matches!(err, Error::BadBanner(_)), "{err}");
        assert!(err.is_bad_input());
        let ok = with_banners(d.clone().with_max_bytes(1)).unwrap();
        assert_eq!(ok.banners().map(BannerOptions::max_bytes), Some(1));
        let off = ScanConfig::builder()
            .targets([Target::parse("127.0.0.1").unwrap()])
            .build()
            .unwrap();
        assert_eq!(off.banners(), None);
    }

    /// A probe waits at most half an hour (the SYN prober's in-flight table keeps deadlines
    /// exactly up to about 35 minutes after their send): a longer `--timeout` or
    /// `--max-rtt-timeout` is refused, not cut.
    #[test]
    fn a_probe_wait_past_half_an_hour_is_refused() {
        let with = |b: ScanConfigBuilder| b.targets([Target::parse("127.0.0.1").unwrap()]).build();
        let long = MAX_PROBE_WAIT + Duration::from_millis(1);
        let err = with(ScanConfig::builder().timeout(long)).unwrap_err();
        assert!(
            matches!(err, Error::BadTiming(ref m) if m.contains("--timeout")),
            "{err}"
        );
        assert!(err.is_bad_input());
        let err = with(ScanConfig::builder().max_rtt_timeout(long)).unwrap_err();
        assert!(
            matches!(err, Error::BadTiming(ref m) if m.contains("--max-rtt-timeout")),
            "{err}"
        );
        with(ScanConfig::builder().timeout(MAX_PROBE_WAIT)).unwrap();
        with(ScanConfig::builder().max_rtt_timeout(MAX_PROBE_WAIT)).unwrap();
        assert!(MAX_PROBE_WAIT < crate::probe::inflight::MAX_WAIT);
    }

    #[test]
    fn name_lookup_options_are_validated() {
        let with = |options: NameOptions| {
            ScanConfig::builder()
                .targets([Target::parse("127.0.0.1").unwrap()])
                .names(options)
                .build()
        };
        let d = NameOptions::default();
        for bad in [
            NameOptions {
                timeout: Duration::ZERO,
                ..d
            },
            NameOptions {
                timeout: Duration::from_secs(61),
                ..d
            },
            NameOptions {
                concurrency: 0,
                ..d
            },
            NameOptions {
                concurrency: 257,
                ..d
            },
        ] {
            let err = with(bad).unwrap_err();
            assert!(matches!(err, Error::BadTiming(_)), "{err}");
            assert!(err.is_bad_input());
        }
        let ok = ScanConfig::builder()
            .targets([Target::parse("127.0.0.1").unwrap()])
            .reverse_dns(ReverseDns::All)
            .build()
            .unwrap();
        assert_eq!(ok.names().reverse_dns, ReverseDns::All);
        assert_eq!(with(d).unwrap().names().reverse_dns, ReverseDns::Up);
    }

    #[test]
    fn service_detection_options_are_validated() {
        let with = |options: DetectOptions| {
            ScanConfig::builder()
                .targets([Target::parse("127.0.0.1").unwrap()])
                .service_version(options)
                .build()
        };
        let bad = DetectOptions {
            intensity: 10,
            ..DetectOptions::default()
        };
        let err = with(bad).unwrap_err();
        assert!(
            matches!(err, Error::BadServiceDetection(ref m) if m.contains("--version-intensity 10")),
            "{err}"
        );
        assert!(err.is_bad_input());
        let zero = DetectOptions {
            budget: Duration::ZERO,
            ..DetectOptions::default()
        };
        assert!(matches!(
            with(zero).unwrap_err(),
            Error::BadServiceDetection(_)
        ));
        let ok = with(DetectOptions {
            intensity: 9,
            ..DetectOptions::default()
        })
        .unwrap();
        assert_eq!(ok.services().map(|d| d.intensity), Some(9));
    }
}
