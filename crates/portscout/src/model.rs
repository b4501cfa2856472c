//! The values a scan produces: port states, the reasons behind them, and port results.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::ports::PortSet;

/// The state of one TCP port, as nmap names it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortState {
    /// The three-way handshake completed: something listens there.
    Open,
    /// The target answered the SYN with a RST: reachable, nothing listens.
    Closed,
    /// No answer after the timeout and every retry, or an ICMP error on the way.
    Filtered,
}

impl PortState {
    /// Every state, in the order outputs list them.
    pub const ALL: [PortState; 3] = [PortState::Open, PortState::Closed, PortState::Filtered];

    /// The lowercase name used in every output format (`open`, `closed`, `filtered`).
    pub fn as_str(self) -> &'static str {
        match self {
            PortState::Open => "open",
            PortState::Closed => "closed",
            PortState::Filtered => "filtered",
        }
    }
}

impl fmt::Display for PortState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port got its state: the answer (or the silence) that decided it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The handshake completed (`syn-ack`).
    SynAck,
    /// The connection was refused by a RST (`conn-refused`).
    ConnRefused,
    /// A RST arrived after the connection looked established (`reset`).
    Reset,
    /// Nothing came back within the timeout, on every try (`no-response`).
    NoResponse,
    /// ICMP host unreachable (3/1, 3/12; ICMPv6 1/3 address unreachable, 1/2 beyond scope),
    /// or no ARP/NDP answer for the host (`host-unreach`).
    HostUnreach,
    /// ICMP network unreachable (3/0, 3/6, 3/11; ICMPv6 1/0 no route), or no route here
    /// (`net-unreach`).
    NetUnreach,
    /// ICMP communication administratively prohibited (3/13; ICMPv6 1/1, 1/5 policy
    /// failure): a filter refused the probe (`admin-prohibited`).
    AdminProhibited,
    /// The kernel reported the host as down (ICMP 3/7 host unknown, `EHOSTDOWN`)
    /// (`host-down`).
    HostDown,
    /// An error the scanner does not know how to read (`error`).
    Error,
    /// ICMP port unreachable (3/3; ICMPv6 1/4) answered a SYN: a filter's reject, since a
    /// closed TCP port answers with a RST (`port-unreach`, as nmap `-sS`).
    PortUnreach,
    /// ICMP host administratively prohibited (3/10: iptables' `icmp-host-prohibited`,
    /// firewalld's default reject) (`host-prohibited`).
    HostProhibited,
    /// ICMP network administratively prohibited (3/9: `icmp-net-prohibited`)
    /// (`net-prohibited`).
    NetProhibited,
    /// ICMP protocol unreachable (3/2) (`proto-unreach`).
    ProtoUnreach,
    /// ICMP time exceeded (type 11; ICMPv6 type 3): the probe died on the way, a routing
    /// loop or a TTL too small (`time-exceeded`).
    TimeExceeded,
    /// ICMP parameter problem (type 12; ICMPv6 type 4) (`param-problem`).
    ParamProblem,
    /// This host's own kernel refused to send the probe (`EACCES`/`EPERM`: a broadcast
    /// address, a local firewall on output): nothing was learnt about the target
    /// (`local-denied`).
    LocalDenied,
}

impl Reason {
    /// Every reason.
    pub const ALL: [Reason; 16] = [
        Reason::SynAck,
        Reason::ConnRefused,
        Reason::Reset,
        Reason::NoResponse,
        Reason::HostUnreach,
        Reason::NetUnreach,
        Reason::AdminProhibited,
        Reason::HostDown,
        Reason::Error,
        Reason::PortUnreach,
        Reason::HostProhibited,
        Reason::NetProhibited,
        Reason::ProtoUnreach,
        Reason::TimeExceeded,
        Reason::ParamProblem,
        Reason::LocalDenied,
    ];

    /// The kebab-case name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::ConnRefused => "conn-refused",
            Reason::Reset => "reset",
            Reason::NoResponse => "no-response",
            Reason::HostUnreach => "host-unreach",
            Reason::NetUnreach => "net-unreach",
            Reason::AdminProhibited => "admin-prohibited",
            Reason::HostDown => "host-down",
            Reason::Error => "error",
            Reason::PortUnreach => "port-unreach",
            Reason::HostProhibited => "host-prohibited",
            Reason::NetProhibited => "net-prohibited",
            Reason::ProtoUnreach => "proto-unreach",
            Reason::TimeExceeded => "time-exceeded",
            Reason::ParamProblem => "param-problem",
            Reason::LocalDenied => "local-denied",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a service sent first on an open port (`--banners`): raw bytes, at most the cap the
/// scan was given.
///
/// Outputs never print the bytes as they are: [`Banner::escaped`] turns them into printable
/// ASCII, so a hostile service cannot move a terminal's cursor, change its title or break a
/// CSV row. [`Banner::from_escaped`] reads that form back exactly.
///
/// ```
/// use portscout::Banner;
///
/// let b = Banner::new(*b"SSH-2.0-OpenSSH_9.2\r\n\x1b]0;pwned\x07");
/// assert_eq!(b.escaped(), r"SSH-2.0-OpenSSH_9.2\r\n\x1B]0;pwned\x07");
/// assert_eq!(Banner::from_escaped(&b.escaped()).unwrap(), b);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Banner(Box<[u8]>);

impl Banner {
    /// A banner of these bytes.
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Banner {
        Banner(bytes.into())
    }

    /// The bytes as received.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Whether nothing was received.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes as printable ASCII: bytes 0x20–0x7E stand for themselves (but `\`, written
    /// `\\`), CR, LF and TAB are `\r`, `\n` and `\t`, and every other byte is `\xHH` (upper
    /// case hex, as nmap writes it). Every output format prints this form.
    pub fn escaped(&self) -> String {
        escape(&self.0)
    }

    /// [`Banner::escaped`] without the line ends and blanks at the end, for the one-line text
    /// and grep formats (`SSH-2.0-OpenSSH_9.2`, not `SSH-2.0-OpenSSH_9.2\r\n`).
    pub fn escaped_line(&self) -> String {
        let end = self
            .0
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        escape(&self.0[..end])
    }

    /// Reads back what [`Banner::escaped`] wrote.
    pub fn from_escaped(s: &str) -> Result<Banner, BadBannerEscape> {
        let bad = || BadBannerEscape(s.to_string());
        let mut out = Vec::with_capacity(s.len());
        let mut bytes = s.bytes();
        while let Some(b) = bytes.next() {
            if !(0x20..=0x7e).contains(&b) {
                return Err(bad());
            }
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b'r') => out.push(b'\r'),
                Some(b'n') => out.push(b'\n'),
                Some(b't') => out.push(b'\t'),
                Some(b'x') => {
                    let hex = [bytes.next().ok_or_else(bad)?, bytes.next().ok_or_else(bad)?];
                    let hex = std::str::from_utf8(&hex).map_err(|_| bad())?;
                    out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                }
                _ => return Err(bad()),
            }
        }
        Ok(Banner(out.into()))
    }
}

fn escape(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                let _ = write!(s, "\\x{b:02X}");
            }
        }
    }
    s
}

impl fmt::Display for Banner {
    /// The [`Banner::escaped`] form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.escaped())
    }
}

/// Text that is not a banner as [`Banner::escaped`] writes it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an escaped banner (printable ASCII with \\\\, \\r, \\n, \\t and \\xHH escapes)"
)]
pub struct BadBannerEscape(pub String);

/// The result for one probed `(address, port)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortResult {
    /// The target address.
    pub ip: IpAddr,
    /// The target TCP port.
    pub port: u16,
    /// The state the scan decided.
    pub state: PortState,
    /// The answer behind the state.
    pub reason: Reason,
    /// Time from the probe that was answered to its answer; `None` when nothing answered.
    pub rtt: Option<Duration>,
    /// What the service sent first, for an open port scanned with `--banners` (`None`
    /// otherwise, and when it sent nothing before the banner timeout).
    pub banner: Option<Banner>,
    /// What runs there, for an open port scanned with `--service-version` (`-sV`): the
    /// service, product and version as [`crate::service::detect`] found them (`None`
    /// otherwise, and when the port could no longer be connected to). Boxed: most results
    /// have none.
    pub service: Option<Box<crate::service::ServiceInfo>>,
}

impl PortResult {
    /// The probed address and port, which prints as `198.18.0.1:22` or `[2001:db8::1]:22`
    /// (brackets keep an IPv6 address apart from the port).
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

/// A host found down: nothing of it answered, so none of its ports is reported (nmap's "host
/// seems down"). `--no-host-check` scans such hosts anyway.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct HostDown {
    /// The address.
    pub ip: IpAddr,
    /// Why it is down: `host-unreach` (no ARP/NDP answer, or a router's ICMP host
    /// unreachable), `net-unreach` (no route here, or a router's network unreachable),
    /// `host-down`, or `no-response` (no answer to any probe through every retry). An ICMP
    /// error sent by the target itself, or one that names the port (prohibited, port
    /// unreachable), never makes a host down: it is that port's state.
    pub reason: Reason,
    /// Ports of this host that have no result of their own (all of them).
    pub skipped: u32,
}

/// What a scan yields, in the order it finds them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// One port decided.
    Port(PortResult),
    /// One host found down (it gets no port results).
    HostDown(HostDown),
}

impl Event {
    /// The port result, if this is one.
    pub fn port(&self) -> Option<&PortResult> {
        match self {
            Event::Port(r) => Some(r),
            Event::HostDown(_) => None,
        }
    }
}

/// Which port states an output lists (`--show`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct StateFilter {
    /// List open ports.
    pub open: bool,
    /// List closed ports.
    pub closed: bool,
    /// List filtered ports.
    pub filtered: bool,
    /// List a record per host found down: `Some(true)` (`down`, or `all`), or `None`, which
    /// lists them for a scan of at most [`crate::output::DOWN_LIST_LIMIT`] addresses (a /24)
    /// and only counts them (in the summary) for a wider one, where most of the space is
    /// silent and one record per silent address would bury the hosts that answered.
    /// `Some(false)` never lists them.
    pub down: Option<bool>,
}

impl StateFilter {
    /// Only open ports (the default).
    pub const OPEN: StateFilter = StateFilter {
        open: true,
        closed: false,
        filtered: false,
        down: None,
    };
    /// Every state.
    pub const ALL: StateFilter = StateFilter {
        open: true,
        closed: true,
        filtered: true,
        down: Some(true),
    };

    /// Whether results in `state` are listed.
    pub fn shows(&self, state: PortState) -> bool {
        match state {
            PortState::Open => self.open,
            PortState::Closed => self.closed,
            PortState::Filtered => self.filtered,
        }
    }
}

impl Default for StateFilter {
    fn default() -> Self {
        StateFilter::OPEN
    }
}

impl FromStr for StateFilter {
    type Err = Error;

    /// Parses `open,closed,filtered,down` (any non-empty subset, comma-separated) or `all`
    /// (every state, and `down`). Without `down`, hosts found down are listed as
    /// [`StateFilter::down`]'s `None` says.
    fn from_str(s: &str) -> Result<Self, Error> {
        let mut f = StateFilter {
            open: false,
            closed: false,
            filtered: false,
            down: None,
        };
        for token in s.split(',') {
            match token.trim() {
                "all" => f = StateFilter::ALL,
                "open" => f.open = true,
                "closed" => f.closed = true,
                "filtered" => f.filtered = true,
                "down" => f.down = Some(true),
                other => return Err(Error::BadStateName(other.to_string())),
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_addr_brackets_ipv6() {
        let r = |ip: &str| PortResult {
            ip: ip.parse().unwrap(),
            port: 22,
            state: PortState::Open,
            reason: Reason::SynAck,
            rtt: None,
            banner: None,
            service: None,
        };
        assert_eq!(r("198.18.0.1").socket_addr().to_string(), "198.18.0.1:22");
        assert_eq!(
            r("2001:db8::1").socket_addr().to_string(),
            "[2001:db8::1]:22"
        );
    }

    proptest::proptest! {
        #[test]
        fn banner_escapes_to_printable_ascii_and_reads_back(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let b = Banner::new(bytes);
            let text = b.escaped();
            proptest::prop_assert!(text.bytes().all(|c| (0x20..0x7f).contains(&c)));
            proptest::prop_assert_eq!(Banner::from_escaped(&text).unwrap(), b.clone());
        }
    }

    #[test]
    fn banner_escapes_that_do_not_read_back_are_refused() {
        for bad in [r"\", r"\q", r"\x4", r"\xZZ", "tab\there", "é"] {
            assert!(Banner::from_escaped(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Banner::new(*b"ok \r\n\t ").escaped_line(), "ok");
    }

    #[test]
    fn state_filter_parses_lists_and_all() {
        let f: StateFilter = "open,filtered".parse().unwrap();
        assert!(f.open && f.filtered && !f.closed);
        assert_eq!("all".parse::<StateFilter>().unwrap(), StateFilter::ALL);
        assert!(
            matches!("open,shut".parse::<StateFilter>(), Err(Error::BadStateName(t)) if t == "shut")
        );
        assert!("".parse::<StateFilter>().is_err());
    }
}

/// How a probe is sent and read: the scan type (`--scan`).
///
/// | type | what is sent | answered by | needs |
/// |---|---|---|---|
/// | [`Connect`](ScanType::Connect) | `connect(2)`: the kernel's own handshake | the kernel (errno) | nothing |
/// | [`Syn`](ScanType::Syn) | a bare SYN, built by [`crate::packet`], through a raw socket | packets read from a packet socket ([`crate::probe::syn`]) | root or `CAP_NET_RAW` |
///
/// Both read the same answer as the same state and reason (an ICMP error through the same
/// rows, [`crate::probe::icmp::meaning`]), but for an ICMP port unreachable, which the kernel
/// gives a connect as a refusal (`closed`), and the SYN scan reads as nmap `-sS` does
/// (`filtered` / `port-unreach`); everything else (order, timing, retries, shards, resume,
/// exclusions) is the same scan.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum ScanType {
    /// A full TCP handshake through the kernel (nmap `-sT`).
    #[default]
    Connect,
    /// A half-open scan: SYN out, SYN-ACK or RST back, no connection (nmap `-sS`).
    Syn,
}

impl ScanType {
    /// Every scan type.
    pub const ALL: [ScanType; 2] = [ScanType::Connect, ScanType::Syn];

    /// The name `--scan` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanType::Connect => "connect",
            ScanType::Syn => "syn",
        }
    }
}

impl fmt::Display for ScanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScanType {
    type Err = Error;

    fn from_str(s: &str) -> Result<ScanType, Error> {
        ScanType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::BadScanType(s.to_string()))
    }
}

/// What a scan is about to do, given to a sink before the first result.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ScanInfo {
    /// Number of target addresses.
    pub hosts: u128,
    /// Number of ports per address.
    pub ports: u32,
    /// Whether open ports come with banners (`--banners`): the CSV printer adds a `banner`
    /// column only then.
    pub banners: bool,
    /// Whether open ports come with service detection (`--service-version`): the CSV
    /// printer adds its service columns, the text printer a `VERSION` column.
    pub services: bool,
    /// The command line that started the scan, program name first (the XML printer's
    /// `args`). Empty when not known.
    pub command: Vec<String>,
    /// When the scan started (the XML printer's `start`; its end is this plus
    /// [`Summary::elapsed`], so printers never read the clock). `None` when not known.
    pub started: Option<SystemTime>,
    /// How ports were probed. `None` when not known (the XML printer then says `connect`).
    pub scan_type: Option<ScanType>,
    /// The ports scanned on every host (the XML printer's `services`); `None` when not
    /// known.
    pub port_set: Option<PortSet>,
    /// The names the user gave for target addresses (a target given as `localhost`): the
    /// text printer's `localhost (127.0.0.1)`, XML's `<hostname type="user">`, the `host`
    /// field of ndjson, json and csv. Empty when every target was an address.
    pub names: BTreeMap<IpAddr, TargetName>,
}

/// The name a target address was given by, on the command line or in a target file
/// (`portscout localhost`), and what else that name resolved to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TargetName {
    /// The name, as written.
    pub name: String,
    /// The other addresses the name resolved to, which are not scanned (as nmap scans one
    /// address of a name and names the others: "Other addresses for localhost (not
    /// scanned): ::1"), in the resolver's order.
    pub others: Vec<IpAddr>,
}

/// Totals of a finished scan.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Summary {
    /// Number of target addresses.
    pub hosts: u128,
    /// Ports found open.
    pub open: u64,
    /// Ports found closed.
    pub closed: u64,
    /// Ports found filtered.
    pub filtered: u64,
    /// Hosts found down (their ports are not counted above).
    pub hosts_down: u64,
    /// Wall time of the scan.
    pub elapsed: Duration,
    /// Hosts that answered open on nearly every port of a large range
    /// ([`crate::output::OpenTally`]): the answers are likely a middlebox's (a SYN proxy, a
    /// tarpit), not the host's. Ascending.
    pub open_everywhere: Vec<IpAddr>,
    /// The scan was paused before its end (a stop request: Ctrl-C, SIGTERM): these are the
    /// results of a part of it, and a resumed run scans the rest. nmap's XML says
    /// `exit="error"` with an `errormsg` then. Not set when `--max-open` (or a sink) stopped
    /// the scan: that end was asked for.
    pub paused: bool,
    /// Which scan, shard and run these totals belong to, so that `portscout merge` can tell
    /// a missing, repeated or foreign shard ([`crate::merge`]). `None` when not known (a
    /// summary written before it existed, or a merge that was not complete).
    pub identity: Option<ShardIdentity>,
}

/// What a run's summary says about the scan it is part of: written in the ndjson and json
/// summaries (`scan`, `shard`, `probes`, `part`, `complete`), checked by
/// [`crate::merge::Merger`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShardIdentity {
    /// The scan's id: a digest of what defines its probes and their split into shards (the
    /// probe space's address and port ranges, its size, the order and, for the random
    /// order, the seed). Every shard and every run of one scan has the same id; another
    /// target, port list, exclusion, order or seed gives another.
    pub scan: u64,
    /// Which shard of how many (`1/1` for an unsharded scan).
    pub shard: crate::plan::Shard,
    /// The number of probes of the whole scan (every shard): target addresses × ports.
    pub probes: u64,
    /// Which run of the shard: 1 for a fresh run, one more for each `--resume`.
    pub part: u32,
    /// Whether the run reached the end of its shard: `false` when it was paused (a resumed
    /// run continues it) or stopped early (`--max-open`).
    pub complete: bool,
}

impl ShardIdentity {
    /// The scan id as written: 16 lowercase hex digits.
    pub fn scan_hex(&self) -> String {
        format!("{:016x}", self.scan)
    }
}
