//! The ranked list of common TCP ports behind `--top-ports N` and the default scan.
//!
//! The list is assembled at compile time from three tiers, in this order, skipping any port
//! already taken by an earlier tier (see `docs/top-ports.md` for how and why):
//!
//! 1. [`RANKED`]: services most often found listening on Internet hosts, ranked by hand from
//!    public measurement facts, most common first;
//! 2. [`REGISTERED`]: further well-known registered service ports (databases, brokers,
//!    orchestration, proxies, management, industrial and consumer devices, …), grouped by kind;
//! 3. every remaining IANA well-known port 1–1023, ascending.
//!
//! The order inside tiers 2 and 3 is a documented convention, not a measured frequency.

/// Tier 1: the most commonly reachable TCP services, ranked by hand, most common first.
pub(crate) const RANKED: &[u16] = &[
    // Web, remote shells and desktops, mail, Windows file sharing, DNS, MySQL.
    80, 443, 22, 21, 23, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080, 1723, 111, 995, 993,
    5900, 1025, 587, 8888, 199, 1720,
    // Alternative web ports, home-router management (TR-069), RTSP, SIP, SQL databases, BGP,
    // proxies, printing, Apple and NFS file sharing, LDAP, caches and search engines.
    8443, 8000, 465, 7547, 8081, 554, 5060, 81, 1433, 5432, 2000, 8008, 10000, 5000, 179, 3128,
    2222, 49152, 631, 515, 9100, 548, 873, 2049, 389, 113, 6379, 27017, 9200, 8088, 5001, 9000,
    9090,
    // Hosting panels, alternative mail, Windows remote management, Oracle, memcached,
    // Kubernetes, telnet-alt, UPnP, application servers, cameras and DVRs, MikroTik, MQTT,
    // Modbus, S7, Kerberos and Active Directory.
    2082, 2083, 2086, 2087, 26, 2525, 990, 5985, 1521, 11211, 6443, 2323, 1900, 4443, 8089, 8181,
    9443, 7001, 8009, 5555, 37777, 34567, 8291, 1883, 502, 102, 88, 636, 464, 3268, 593,
    // Windows dynamic RPC and discovery, legacy remote control and X11, BSD r-services,
    // SOCKS, more web ports, OpenVPN, XMPP, IRC, MQTT over TLS, DNP3, EtherNet/IP, Niagara Fox.
    49153, 49154, 49155, 49156, 49157, 5357, 1026, 1027, 1028, 5631, 5800, 5901, 6000, 6001, 514,
    513, 543, 544, 79, 106, 2121, 1080, 8880, 8001, 8082, 3000, 9001, 1194, 5222, 6667, 8883, 5986,
    20000, 44818, 1911, 4911,
    // Less common web, panel, streaming and remote-control ports; developer servers; monitoring,
    // analytics, container and database ports; version control; IRC and news.
    2095, 2096, 8083, 8090, 8084, 8085, 5061, 1935, 4899, 5938, 3260, 10443, 7443, 7080, 9080, 9081,
    8010, 8002, 8180, 8099, 8098, 8800, 8889, 9091, 9999, 7777, 7070, 4000, 4001, 3001, 5002, 5003,
    5050, 7000, 8086, 8087, 8834, 5601, 2375, 2376, 10250, 2379, 9042, 5984, 1434, 3690, 9418,
    6660, 6661, 6662, 6663, 6664, 6665, 6666, 6668, 6669, 6697, 119, 563,
];

/// Tier 2: further well-known registered service ports, grouped by kind (not ranked inside).
pub(crate) const REGISTERED: &[u16] = &[
    // Databases and data stores.
    1522, 1526, 1583, 2424, 2480, 2483, 2484, 3050, 3351, 4100, 5433, 5434, 6380, 6381, 7199, 7474,
    7687, 8123, 8529, 9160, 9300, 26257, 27018, 27019, 28015, 28017, 33060, 50000,
    // Message brokers and coordination services.
    2181, 2888, 3888, 4222, 5671, 5672, 6650, 8161, 9092, 9093, 15672, 61613, 61614, 61616,
    // Containers, orchestration, service discovery and secrets.
    2380, 4243, 4646, 8200, 8300, 8301, 8500, 8600, 10255, 10256, 10257, 10259,
    // Proxies, tunnels and anonymity networks.
    3127, 3129, 1081, 6588, 8118, 9030, 9050, 9051, // Remote management and monitoring.
    3283, 4786, 5666, 5902, 5903, 5904, 5905, 6002, 6003, 8728, 8729, 9392, 10050, 10051, 4949,
    19999, 16992, 16993, 623, 5988, 5989, 47001, 9389, 3269, 1801, 2103, 2105, 2107, 5040,
    // Application servers and developer tools.
    3002, 3003, 3030, 4040, 4200, 4567, 4848, 5500, 6543, 7002, 7003, 7071, 8005, 8060, 8069, 8091,
    8092, 8093, 8100, 8222, 8280, 8281, 8686, 8765, 8887, 8983, 9002, 9003, 9010, 9043, 9060, 9990,
    9998, 10001, // Industrial control and building automation.
    789, 1962, 2404, 2455, 4840, 5094, 9600, 18245, 20547,
    // Cameras, video recorders, routers and other consumer devices.
    8554, 8899, 9527, 49000, 52869, 37215, 7548, 5431, 2869, // Voice, chat and games.
    3478, 5349, 5269, 10011, 30033, 64738, 25565, 27015, 3074, 6112,
    // File transfer, storage, peer-to-peer and version control.
    989, 2811, 3205, 6346, 6881, 8384, 22000, 2001,
    // Crypto-currency nodes, Erlang, syslog, Java RMI and other registered services.
    8332, 8333, 18332, 18333, 8545, 8546, 30303, 9735, 4369, 25672, 6514, 601, 1098, 1099, 1344,
    1241, 1311, 1352, 1494, 1512, 1701, 1741, 1812, 1813, 2601, 2604, 2605, 3307, 4500, 5632, 6566,
    8011, 1029, 1030, 1031, 1032, 1033, 49158, 49159, 49160, 50001,
];

/// Upper bound on the assembled length: every tier in full.
const MAX: usize = RANKED.len() + REGISTERED.len() + 1023;

/// The `k`-th candidate: tier 1, then tier 2, then the ports 1–1023 ascending.
const fn candidate(k: usize) -> u16 {
    if k < RANKED.len() {
        RANKED[k]
    } else if k < RANKED.len() + REGISTERED.len() {
        REGISTERED[k - RANKED.len()]
    } else {
        (k - RANKED.len() - REGISTERED.len() + 1) as u16
    }
}

/// Assembles the three tiers, in order, skipping 0 and ports already taken.
const fn assemble() -> ([u16; MAX], usize) {
    let mut out = [0u16; MAX];
    let mut len = 0;
    let mut seen = [false; 65536];
    let mut k = 0;
    while k < MAX {
        let port = candidate(k);
        if port != 0 && !seen[port as usize] {
            seen[port as usize] = true;
            out[len] = port;
            len += 1;
        }
        k += 1;
    }
    (out, len)
}

const ASSEMBLED: ([u16; MAX], usize) = assemble();

/// The number of ports in [`TOP_PORTS`].
const LEN: usize = ASSEMBLED.1;

/// Copies the assembled prefix into an array of the exact length.
const fn exact() -> [u16; LEN] {
    let mut out = [0u16; LEN];
    let mut i = 0;
    while i < LEN {
        out[i] = ASSEMBLED.0[i];
        i += 1;
    }
    out
}

const TOP: [u16; LEN] = exact();

/// Common TCP ports, most common first (at least 1000 distinct ports, none of them 0).
///
/// `--top-ports N` scans the first `N`; the default scan uses the first 1000. See
/// `docs/top-ports.md` for how the list was built and what it can and cannot claim.
pub const TOP_PORTS: &[u16] = &TOP;
