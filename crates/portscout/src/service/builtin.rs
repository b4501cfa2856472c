//! Built-in probes, written from the protocols' specifications, and the readers that turn
//! their answers into a [`ServiceInfo`].
//!
//! Each [`Probe`] has a payload (what it sends), the ports where it comes first, and a
//! rarity (lower: tried earlier on other ports). [`identify`] reads any answer: first as the
//! answer to the probe that was sent, then as a greeting (services that speak first answer
//! every probe with their greeting), then as HTTP (many services answer anything in HTTP).

use std::net::SocketAddr;

use super::ServiceInfo;

/// A built-in probe.
#[derive(Debug)]
pub struct Probe {
    /// Its name (`http`, `redis`, …).
    pub name: &'static str,
    /// Ports where it is sent first.
    pub ports: &'static [u16],
    /// 1 (tried early on any port) to 9.
    pub rarity: u8,
    payload: fn(SocketAddr) -> Vec<u8>,
    read: fn(&[u8]) -> Option<ServiceInfo>,
}

impl Probe {
    /// The bytes it sends to `target`.
    pub fn payload(&self, target: SocketAddr) -> Vec<u8> {
        (self.payload)(target)
    }
}

/// The built-in probes. `tls` is not here: TLS is a handshake, run by the engine.
pub const PROBES: &[Probe] = &[
    Probe {
        name: "http",
        ports: crate::banner::HTTP_PORTS,
        rarity: 1,
        payload: http_get,
        read: read_http,
    },
    Probe {
        name: "redis",
        ports: &[6379, 6380, 16379, 26379],
        rarity: 3,
        // RESP inline commands: PING, then INFO's server section (the version).
        payload: |_| b"PING\r\nINFO server\r\n".to_vec(),
        read: read_redis,
    },
    Probe {
        name: "memcached",
        ports: &[11211],
        rarity: 4,
        payload: |_| b"version\r\n".to_vec(),
        read: read_memcached,
    },
    Probe {
        name: "postgresql",
        ports: &[5432, 5433],
        rarity: 4,
        payload: |_| pg_startup(),
        read: read_postgresql,
    },
    Probe {
        name: "mongodb",
        ports: &[27017, 27018, 27019],
        rarity: 4,
        payload: |_| mongo_buildinfo(),
        read: read_mongodb,
    },
    Probe {
        name: "dns",
        ports: &[53, 853, 5353],
        // Early on other ports: a DNS server waits silently for the rest of a message whose
        // length prefix a text probe gave it, so only this probe gets an answer there.
        rarity: 2,
        payload: |_| dns_version_bind(),
        read: read_dns,
    },
    Probe {
        name: "mqtt",
        ports: &[1883, 8883],
        rarity: 5,
        payload: |_| mqtt_connect(),
        read: read_mqtt,
    },
    Probe {
        name: "amqp",
        ports: &[5671, 5672],
        rarity: 5,
        // AMQP 0-9-1 protocol header (its §4.2.2).
        payload: |_| b"AMQP\x00\x00\x09\x01".to_vec(),
        read: read_amqp,
    },
    Probe {
        name: "ldap",
        ports: &[389, 636, 3268, 3269],
        rarity: 5,
        // RFC 4511: BindRequest, message 1, version 3, empty name, simple empty password.
        payload: |_| {
            vec![
                0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
            ]
        },
        read: read_ldap,
    },
    Probe {
        name: "rdp",
        ports: &[3389],
        rarity: 6,
        payload: |_| rdp_connection_request(),
        read: read_rdp,
    },
    Probe {
        name: "smb",
        ports: &[139, 445],
        rarity: 6,
        payload: |_| smb_negotiate(),
        read: read_smb,
    },
];

/// Reads an answer to probe `probe` (a [`PROBES`] name, or `""` for a spontaneous greeting)
/// from a service on `port`.
pub fn identify(probe: &str, answer: &[u8], port: u16) -> Option<ServiceInfo> {
    if answer.is_empty() {
        return None;
    }
    if let Some(p) = PROBES.iter().find(|p| p.name == probe) {
        if let Some(info) = (p.read)(answer) {
            return Some(info);
        }
    }
    read_greeting(answer, port).or_else(|| read_http(answer))
}

/// The built-in probes to send to `port`, in order: those that list it, then the others by
/// rarity.
pub fn order(port: u16) -> Vec<&'static Probe> {
    let mut probes: Vec<&Probe> = PROBES.iter().collect();
    probes.sort_by_key(|p| (!p.ports.contains(&port), p.rarity));
    probes
}

/// Whether the service usual on `port` waits for the client to speak (so waiting for a
/// greeting there is mostly time lost).
pub fn client_speaks_first(port: u16) -> bool {
    PROBES.iter().any(|p| p.ports.contains(&port))
        || [443, 465, 993, 995, 8443, 9443, 636, 853, 3269].contains(&port)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn first_line(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == b'\n').unwrap_or(b.len());
    text(&b[..end]).trim_end_matches('\r').to_string()
}

fn with_product(name: &str, product: &str, version: Option<&str>) -> ServiceInfo {
    let mut info = ServiceInfo::probed(name);
    info.product = Some(product.to_string());
    info.version = version.filter(|v| !v.is_empty()).map(str::to_string);
    info
}

// ---- greetings: services that speak first ----

/// Reads what a service says before it is asked anything.
pub fn read_greeting(b: &[u8], port: u16) -> Option<ServiceInfo> {
    read_ssh(b)
        .or_else(|| read_mysql(b))
        .or_else(|| read_vnc(b))
        .or_else(|| read_telnet(b))
        .or_else(|| read_220(b, port))
        .or_else(|| read_pop3(b))
        .or_else(|| read_imap(b))
}

/// RFC 4253 §4.2: `SSH-protoversion-softwareversion SP comments CR LF`.
fn read_ssh(b: &[u8]) -> Option<ServiceInfo> {
    let line = first_line(b);
    let rest = line.strip_prefix("SSH-")?;
    let (proto, rest) = rest.split_once('-')?;
    let (software, comments) = match rest.split_once(' ') {
        Some((s, c)) => (s, Some(c.trim())),
        None => (rest, None),
    };
    let mut info = ServiceInfo::probed("ssh");
    info.extrainfo = Some(format!("protocol {proto}"));
    if let Some(v) = software.strip_prefix("OpenSSH_") {
        info.product = Some("OpenSSH".into());
        info.add_cpe(format!("cpe:/a:openbsd:openssh:{v}"));
        let mut version = v.to_string();
        // Debian and Ubuntu append their package revision: `Debian-2+deb12u3`.
        if let Some(c) = comments.filter(|c| !c.is_empty()) {
            let c = c.replacen('-', " ", 1);
            version = format!("{v} {c}");
            if c.starts_with("Debian") || c.starts_with("Ubuntu") {
                info.ostype = Some("Linux".into());
                if c.starts_with("Ubuntu") || c.contains("ubuntu") {
                    info.extrainfo = Some(format!("Ubuntu Linux; protocol {proto}"));
                    info.add_cpe("cpe:/o:canonical:ubuntu_linux");
                } else {
                    info.add_cpe("cpe:/o:debian:debian_linux");
                }
                info.add_cpe("cpe:/o:linux:linux_kernel");
            }
        }
        info.version = Some(version);
    } else if let Some(v) = software.strip_prefix("dropbear_") {
        info.product = Some("Dropbear sshd".into());
        info.version = Some(v.to_string());
        info.add_cpe(format!("cpe:/a:matt_johnston:dropbear_ssh_server:{v}"));
    } else if !software.is_empty() {
        let (p, v) = software.split_once('_').unwrap_or((software, ""));
        info.product = Some(p.to_string());
        info.version = (!v.is_empty()).then(|| v.to_string());
    }
    Some(info)
}

/// The MySQL/MariaDB initial handshake (protocol 10): a packet of 3 length bytes, sequence 0,
/// then 0x0a and the server version, NUL-terminated. An error packet (0xff) when the client
/// is not allowed to connect.
fn read_mysql(b: &[u8]) -> Option<ServiceInfo> {
    if b.len() < 6 || b[3] != 0 {
        return None;
    }
    let len = usize::from(b[0]) | usize::from(b[1]) << 8 | usize::from(b[2]) << 16;
    if len + 4 > b.len() + 64 || len < 2 {
        return None;
    }
    match b[4] {
        0x0a => {
            let end = b[5..].iter().position(|&c| c == 0)? + 5;
            let version = std::str::from_utf8(&b[5..end]).ok()?;
            if version.is_empty() || !version.as_bytes()[0].is_ascii_digit() {
                return None;
            }
            // MariaDB since 10 prefixes `5.5.5-` for old clients and names itself after it.
            let info = if let Some(i) = version.find("-MariaDB") {
                let v = version[..i].trim_start_matches("5.5.5-");
                let mut info = with_product("mysql", "MariaDB", Some(v));
                info.add_cpe(format!("cpe:/a:mariadb:mariadb:{v}"));
                info
            } else {
                let mut info = with_product("mysql", "MySQL", Some(version));
                info.add_cpe(format!("cpe:/a:mysql:mysql:{version}"));
                info
            };
            Some(info)
        }
        0xff if b.len() > 7 => {
            let msg = text(&b[7..(len + 4).min(b.len())]);
            let looks = msg.contains("MySQL") || msg.contains("MariaDB") || msg.contains("Host");
            looks.then(|| {
                let mut info = ServiceInfo::probed("mysql");
                info.extrainfo = Some("unauthorized".into());
                info.product = Some(
                    if msg.contains("MariaDB") {
                        "MariaDB"
                    } else {
                        "MySQL"
                    }
                    .into(),
                );
                info
            })
        }
        _ => None,
    }
}

/// RFB (RFC 6143 §7.1.1): `RFB 003.008\n`.
fn read_vnc(b: &[u8]) -> Option<ServiceInfo> {
    let s = std::str::from_utf8(b.get(..12)?).ok()?;
    let rest = s.strip_prefix("RFB ")?.strip_suffix('\n')?;
    let (major, minor) = rest.split_once('.')?;
    let (major, minor): (u32, u32) = (major.parse().ok()?, minor.parse().ok()?);
    let mut info = with_product("vnc", "VNC", None);
    info.extrainfo = Some(format!("protocol {major}.{minor}"));
    Some(info)
}

/// Telnet (RFC 854): option negotiation first, IAC (255) then WILL/WONT/DO/DONT.
fn read_telnet(b: &[u8]) -> Option<ServiceInfo> {
    (b.len() >= 3 && b[0] == 0xff && (0xfb..=0xfe).contains(&b[1]))
        .then(|| ServiceInfo::probed("telnet"))
}

/// A `220` greeting: SMTP (RFC 5321 §4.2) or FTP (RFC 959).
fn read_220(b: &[u8], port: u16) -> Option<ServiceInfo> {
    let line = first_line(b);
    // vsftpd refusing to run (`500 OOPS: vsftpd: …`): FTP, as nmap reads it.
    if let Some(oops) = line.strip_prefix("500 OOPS: ") {
        let mut info = ServiceInfo::probed("ftp");
        if let Some(why) = oops.strip_prefix("vsftpd: ") {
            info.product = Some("vsftpd".into());
            info.extrainfo = Some(format!("broken: {why}"));
            info.add_cpe("cpe:/a:vsftpd:vsftpd");
        }
        return Some(info);
    }
    let rest = line.strip_prefix("220")?;
    let rest = rest.strip_prefix([' ', '-']).unwrap_or(rest).trim();
    let upper = line.to_ascii_uppercase();
    let table = crate::ports::service_name(port);
    let smtp = upper.contains("SMTP")
        || upper.contains("POSTFIX")
        || upper.contains("EXIM")
        || (!upper.contains("FTP") && matches!(table, Some("smtp" | "submission" | "smtps")));
    if smtp {
        let mut info = ServiceInfo::probed("smtp");
        let mut words = rest.split_whitespace();
        if let Some(host) = words.next().filter(|h| h.contains('.') || h.contains('-')) {
            info.hostname = Some(host.to_string());
        }
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "Exim") {
            info.product = Some("Exim smtpd".into());
            if let Some(v) = words
                .get(i + 1)
                .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            {
                info.version = Some(v.to_string());
                info.add_cpe(format!("cpe:/a:exim:exim:{v}"));
            } else {
                info.add_cpe("cpe:/a:exim:exim");
            }
        } else if words.contains(&"Postfix") {
            info.product = Some("Postfix smtpd".into());
            info.add_cpe("cpe:/a:postfix:postfix");
        } else if let Some(i) = words.iter().position(|w| *w == "Sendmail") {
            info.product = Some("Sendmail".into());
            info.version = words
                .get(i + 1)
                .map(|v| v.trim_end_matches(['/', ';']).to_string());
        }
        return Some(info);
    }
    let mut info = ServiceInfo::probed("ftp");
    if let Some(start) = line.find("vsFTPd ") {
        let v: String = line[start + 7..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        info.product = Some("vsftpd".into());
        info.version = (!v.is_empty()).then(|| v.clone());
        info.add_cpe(
            format!("cpe:/a:vsftpd:vsftpd:{v}")
                .trim_end_matches(':')
                .to_string(),
        );
    } else if let Some(start) = line.find("ProFTPD") {
        info.product = Some("ProFTPD".into());
        let v: String = line[start + 7..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect();
        if v.starts_with(|c: char| c.is_ascii_digit()) {
            info.add_cpe(format!("cpe:/a:proftpd:proftpd:{v}"));
            info.version = Some(v);
        }
    } else if line.contains("Pure-FTPd") {
        info.product = Some("Pure-FTPd".into());
    } else if !upper.contains("FTP") && table != Some("ftp") {
        return None;
    }
    Some(info)
}

/// POP3 (RFC 1939 §4): `+OK` greeting.
fn read_pop3(b: &[u8]) -> Option<ServiceInfo> {
    let line = first_line(b);
    line.starts_with("+OK").then(|| {
        let mut info = ServiceInfo::probed("pop3");
        if line.contains("Dovecot") {
            info.product = Some("Dovecot pop3d".into());
            info.add_cpe("cpe:/a:dovecot:dovecot");
        }
        info
    })
}

/// IMAP (RFC 9051 §7.1): `* OK` or `* PREAUTH` greeting, often with capabilities.
fn read_imap(b: &[u8]) -> Option<ServiceInfo> {
    let line = first_line(b);
    (line.starts_with("* OK") || line.starts_with("* PREAUTH")).then(|| {
        let mut info = ServiceInfo::probed("imap");
        if line.contains("Dovecot") {
            info.product = Some("Dovecot imapd".into());
            info.add_cpe("cpe:/a:dovecot:dovecot");
        } else if line.contains("Cyrus") {
            info.product = Some("Cyrus imapd".into());
        }
        info
    })
}

// ---- HTTP ----

/// `GET / HTTP/1.0` (RFC 1945 §5) with a `Host:` header for virtual hosts.
fn http_get(target: SocketAddr) -> Vec<u8> {
    crate::banner::http_request(target)
        .replacen("HEAD", "GET", 1)
        .into_bytes()
}

/// An HTTP response: the `Server` header names the product; some APIs answer in JSON.
fn read_http(b: &[u8]) -> Option<ServiceInfo> {
    if !b.starts_with(b"HTTP/1.") && !b.starts_with(b"HTTP/2") {
        return None;
    }
    let text = text(b);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut info = ServiceInfo::probed("http");
    // A TLS server's answer to plain HTTP (nginx, Apache, Go): HTTP, but inside TLS. A soft
    // match, so that the handshake that follows decides (`ssl/http`).
    let lower = body.to_ascii_lowercase();
    if lower.contains("plain http request was sent to https port")
        || lower.contains("speaking plain http to an ssl-enabled server")
        || lower.contains("client sent an http request to an https server")
    {
        info.confidence = 8;
    }
    let server = head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("server")
            .then(|| v.trim().to_string())
    });
    if let Some(server) = server {
        read_server_header(&server, &mut info);
    }
    // Elasticsearch's root answers a JSON document with its version and tagline.
    if body.contains("\"You Know, for Search\"") {
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(body.trim()) {
            info.product = Some("Elasticsearch REST API".into());
            info.version = doc["version"]["number"].as_str().map(str::to_string);
            if let Some(lucene) = doc["version"]["lucene_version"].as_str() {
                info.extrainfo = Some(format!("Lucene {lucene}"));
            }
            if let Some(v) = &info.version {
                info.cpes = vec![format!("cpe:/a:elasticsearch:elasticsearch:{v}")];
            }
        }
    }
    Some(info)
}

fn read_server_header(server: &str, info: &mut ServiceInfo) {
    let mut tokens = server.split_whitespace();
    let Some(first) = tokens.next() else { return };
    let (name, version) = first.split_once('/').unwrap_or((first, ""));
    let rest: Vec<&str> = tokens.collect();
    let version = (!version.is_empty()).then_some(version);
    match name {
        "nginx" => {
            info.product = Some("nginx".into());
            info.version = version.map(str::to_string);
            info.add_cpe(match version {
                Some(v) => format!("cpe:/a:igor_sysoev:nginx:{v}"),
                None => "cpe:/a:igor_sysoev:nginx".into(),
            });
        }
        "Apache" => {
            info.product = Some("Apache httpd".into());
            info.version = version.map(str::to_string);
            if !rest.is_empty() {
                info.extrainfo = Some(rest.join(" "));
            }
            info.add_cpe(match version {
                Some(v) => format!("cpe:/a:apache:http_server:{v}"),
                None => "cpe:/a:apache:http_server".into(),
            });
        }
        // Python's http.server: `SimpleHTTP/0.6 Python/3.11.2` (or BaseHTTP for a bare
        // BaseHTTPRequestHandler).
        "SimpleHTTP" | "BaseHTTP" => {
            info.product = Some(format!("{name}Server"));
            info.version = version.map(str::to_string);
            if let Some(py) = rest.iter().find_map(|t| t.strip_prefix("Python/")) {
                info.extrainfo = Some(format!("Python {py}"));
                info.add_cpe(format!("cpe:/a:python:python:{py}"));
            }
        }
        "lighttpd" => {
            info.product = Some("lighttpd".into());
            info.version = version.map(str::to_string);
        }
        "Microsoft-IIS" => {
            info.product = Some("Microsoft IIS httpd".into());
            info.version = version.map(str::to_string);
            info.ostype = Some("Windows".into());
        }
        _ => {
            info.product = Some(name.to_string());
            info.version = version.map(str::to_string);
        }
    }
}

// ---- client-first protocols ----

fn read_redis(b: &[u8]) -> Option<ServiceInfo> {
    let t = text(b);
    let redisish = t.starts_with("+PONG")
        || t.starts_with("-NOAUTH")
        || t.starts_with("-DENIED")
        || t.starts_with("-ERR unknown command")
        || t.starts_with("-ERR wrong number")
        || (t.starts_with('$') && t.contains("\nredis_version:"));
    if !redisish {
        return None;
    }
    let mut info = ServiceInfo::probed("redis");
    info.product = Some("Redis key-value store".into());
    if let Some(line) = t.lines().find_map(|l| l.strip_prefix("redis_version:")) {
        let v = line.trim().to_string();
        info.add_cpe(format!("cpe:/a:redislabs:redis:{v}"));
        info.version = Some(v);
    }
    Some(info)
}

fn read_memcached(b: &[u8]) -> Option<ServiceInfo> {
    let line = first_line(b);
    // `version` answers `VERSION 1.6.18`; `stats` answers `STAT pid …` lines with the version.
    let v = match line.strip_prefix("VERSION ") {
        Some(v) => v.trim().to_string(),
        None if line.starts_with("STAT pid ") => text(b)
            .lines()
            .find_map(|l| l.strip_prefix("STAT version "))?
            .trim()
            .to_string(),
        None => return None,
    };
    let mut info = with_product("memcached", "Memcached", Some(&v));
    info.add_cpe(format!("cpe:/a:memcached:memcached:{v}"));
    Some(info)
}

/// PostgreSQL's StartupMessage (protocol 3.0): user `portscout`, database `portscout`.
fn pg_startup() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&196_608u32.to_be_bytes());
    for s in ["user", "portscout", "database", "portscout"] {
        body.extend_from_slice(s.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend(body);
    msg
}

/// An ErrorResponse (`E`, fields `S`, `C`, `M`, …) or an authentication request (`R`).
fn read_postgresql(b: &[u8]) -> Option<ServiceInfo> {
    if b.len() < 9 {
        return None;
    }
    let len = u32::from_be_bytes(b[1..5].try_into().ok()?) as usize;
    let ok = match b[0] {
        b'E' => len < 4096 && (b[5] == b'S' || b[5] == b'V'),
        b'R' => (8..64).contains(&len),
        _ => false,
    };
    ok.then(|| with_product("postgresql", "PostgreSQL DB", None))
}

/// MongoDB's OP_MSG (opcode 2013) with `{buildinfo: 1, $db: "admin"}`.
fn mongo_buildinfo() -> Vec<u8> {
    let mut doc = Vec::new();
    doc.push(0x10);
    doc.extend_from_slice(b"buildinfo\0");
    doc.extend_from_slice(&1i32.to_le_bytes());
    doc.push(0x02);
    doc.extend_from_slice(b"$db\0");
    doc.extend_from_slice(&6i32.to_le_bytes());
    doc.extend_from_slice(b"admin\0");
    doc.push(0);
    let mut bson = ((doc.len() + 4) as i32).to_le_bytes().to_vec();
    bson.extend(doc);
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_le_bytes()); // requestID
    body.extend_from_slice(&0i32.to_le_bytes()); // responseTo
    body.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
    body.extend_from_slice(&0u32.to_le_bytes()); // flagBits
    body.push(0); // section kind 0: the body document
    body.extend(bson);
    let mut msg = ((body.len() + 4) as i32).to_le_bytes().to_vec();
    msg.extend(body);
    msg
}

fn read_mongodb(b: &[u8]) -> Option<ServiceInfo> {
    if b.len() < 21 {
        return None;
    }
    let opcode = i32::from_le_bytes(b[12..16].try_into().ok()?);
    let response_to = i32::from_le_bytes(b[8..12].try_into().ok()?);
    if response_to != 1 || !(opcode == 2013 || opcode == 1) {
        return None;
    }
    let mut info = with_product("mongodb", "MongoDB", None);
    let key = b"\x02version\x00";
    if let Some(at) = b.windows(key.len()).position(|w| w == key) {
        let s = at + key.len();
        let n = i32::from_le_bytes(b.get(s..s + 4)?.try_into().ok()?) as usize;
        if let Some(v) = b.get(s + 4..s + 4 + n.saturating_sub(1)) {
            let v = text(v);
            info.add_cpe(format!("cpe:/a:mongodb:mongodb:{v}"));
            info.version = Some(v);
        }
    }
    Some(info)
}

/// DNS over TCP (RFC 1035 §4.2.2, RFC 7766): the CHAOS TXT query for `version.bind`.
fn dns_version_bind() -> Vec<u8> {
    let mut q = vec![0x50, 0x53, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    q.extend_from_slice(b"\x07version\x04bind\x00");
    q.extend_from_slice(&[0, 16, 0, 3]);
    let mut msg = (q.len() as u16).to_be_bytes().to_vec();
    msg.extend(q);
    msg
}

fn read_dns(b: &[u8]) -> Option<ServiceInfo> {
    if b.len() < 14 || b[2..4] != [0x50, 0x53] || b[4] & 0x80 == 0 {
        return None;
    }
    let mut info = ServiceInfo::probed("domain");
    if let Some(txt) = dns_first_txt(&b[2..]) {
        let lower = txt.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("dnsmasq-") {
            info.product = Some("dnsmasq".into());
            info.version = Some(v.to_string());
            info.add_cpe(format!("cpe:/a:thekelleys:dnsmasq:{v}"));
        } else if lower.starts_with("unbound ") {
            let v = txt[8..].to_string();
            info.product = Some("Unbound".into());
            info.add_cpe(format!("cpe:/a:nlnetlabs:unbound:{v}"));
            info.version = Some(v);
        } else if txt.starts_with("9.") {
            let v = txt.split('-').next().unwrap_or(&txt).to_string();
            info.product = Some("ISC BIND".into());
            info.version = Some(txt.clone());
            info.add_cpe(format!("cpe:/a:isc:bind:{v}"));
        }
    }
    Some(info)
}

/// The first TXT string of the first answer of a DNS message.
fn dns_first_txt(m: &[u8]) -> Option<String> {
    let ancount = u16::from_be_bytes([*m.get(6)?, *m.get(7)?]);
    if ancount == 0 {
        return None;
    }
    let mut i = 12;
    let skip_name = |mut i: usize| -> Option<usize> {
        loop {
            let l = *m.get(i)?;
            if l & 0xc0 == 0xc0 {
                return Some(i + 2);
            }
            if l == 0 {
                return Some(i + 1);
            }
            i += 1 + usize::from(l);
        }
    };
    i = skip_name(i)? + 4;
    i = skip_name(i)?;
    let rtype = u16::from_be_bytes([*m.get(i)?, *m.get(i + 1)?]);
    if rtype != 16 {
        return None;
    }
    let rdata = i + 10;
    let n = usize::from(*m.get(rdata)?);
    m.get(rdata + 1..rdata + 1 + n).map(text)
}

/// The topic where brokers (Mosquitto, and others after it) publish their version.
const MQTT_VERSION_TOPIC: &[u8] = b"$SYS/broker/version";

/// MQTT 3.1.1 CONNECT (its §3.1): clean session, keep-alive 60 s, client `portscout`; then,
/// without waiting for the CONNACK (§3.1.4 allows it), SUBSCRIBE (§3.8, packet 1, QoS 0) to
/// [`MQTT_VERSION_TOPIC`], whose retained message a broker sends at once.
fn mqtt_connect() -> Vec<u8> {
    let mut v = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3c];
    v.extend_from_slice(&9u16.to_be_bytes());
    v.extend_from_slice(b"portscout");
    let mut msg = vec![0x10, v.len() as u8];
    msg.extend(v);
    let mut sub = vec![0x00, 0x01];
    sub.extend_from_slice(&(MQTT_VERSION_TOPIC.len() as u16).to_be_bytes());
    sub.extend_from_slice(MQTT_VERSION_TOPIC);
    sub.push(0x00);
    msg.extend([0x82, sub.len() as u8]);
    msg.extend(sub);
    msg
}

/// CONNACK: type 2, remaining length 2 (MQTT 3.1.1), or a longer one (MQTT 5). When a
/// PUBLISH of [`MQTT_VERSION_TOPIC`] follows, its text becomes the service's name, as
/// `nmap -sV` reports it (its `mqtt-subscribe` version script names the service by that
/// text, `mosquitto version 2.0.11`, with no product or version fields).
fn read_mqtt(b: &[u8]) -> Option<ServiceInfo> {
    if !(b.len() >= 4 && b[0] == 0x20 && b[1] >= 2 && b[1] < 128) {
        return None;
    }
    let name = mqtt_packets(b)
        .find_map(|(kind, body)| {
            if kind >> 4 != 3 {
                return None;
            }
            let n = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
            let topic = body.get(2..2 + n)?;
            // QoS 1 and 2 carry a packet identifier before the payload.
            let skip = if kind & 0x06 != 0 { 2 } else { 0 };
            let payload = body.get(2 + n + skip..)?;
            (topic == MQTT_VERSION_TOPIC).then(|| text(payload).trim().to_string())
        })
        .filter(|v| {
            (1..=80).contains(&v.len()) && v.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        });
    Some(ServiceInfo::probed(name.as_deref().unwrap_or("mqtt")))
}

/// The MQTT control packets in `b`, whole ones only: (first byte, body).
fn mqtt_packets(mut b: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let kind = *b.first()?;
        // Remaining length (§2.2.3): 7 bits a byte, at most 4 bytes.
        let (mut len, mut at) = (0usize, 1);
        loop {
            let byte = *b.get(at)?;
            len |= usize::from(byte & 0x7f) << (7 * (at - 1));
            at += 1;
            if byte & 0x80 == 0 {
                break;
            }
            if at > 4 {
                return None;
            }
        }
        let body = b.get(at..at + len)?;
        b = &b[at + len..];
        Some((kind, body))
    })
}

/// Connection.Start (class 10, method 10): the server properties table holds `product` and
/// `version` (AMQP 0-9-1 §4.2.3 and the method's definition).
fn read_amqp(b: &[u8]) -> Option<ServiceInfo> {
    if b.starts_with(b"AMQP") {
        // The server refused our version and told its own.
        return Some(ServiceInfo::probed("amqp"));
    }
    if b.len() < 13 || b[0] != 1 || b[7..11] != [0, 10, 0, 10] {
        return None;
    }
    let mut info = ServiceInfo::probed("amqp");
    info.extrainfo = Some(format!("AMQP {}-{}", b[11], b[12]));
    let table_len = u32::from_be_bytes(b.get(13..17)?.try_into().ok()?) as usize;
    let table = b.get(17..(17 + table_len).min(b.len()))?;
    let mut i = 0;
    while i < table.len() {
        let klen = usize::from(table[i]);
        let key = text(table.get(i + 1..i + 1 + klen)?);
        i += 1 + klen;
        let kind = *table.get(i)?;
        i += 1;
        match kind {
            b'S' => {
                let n = u32::from_be_bytes(table.get(i..i + 4)?.try_into().ok()?) as usize;
                let value = text(table.get(i + 4..i + 4 + n)?);
                i += 4 + n;
                match key.as_str() {
                    "product" => info.product = Some(value),
                    "version" => info.version = Some(value),
                    _ => {}
                }
            }
            b'F' => {
                let n = u32::from_be_bytes(table.get(i..i + 4)?.try_into().ok()?) as usize;
                i += 4 + n;
            }
            b't' | b'b' | b'B' => i += 1,
            b's' | b'u' => i += 2,
            b'I' | b'i' | b'f' => i += 4,
            b'l' | b'd' | b'T' => i += 8,
            b'D' => i += 5,
            b'V' => {}
            _ => break,
        }
    }
    Some(info)
}

/// An LDAPMessage (RFC 4511 §4.2.2): a SEQUENCE with message id 1 and a BindResponse (0x61)
/// or a notice of disconnection (ExtendedResponse, 0x78).
fn read_ldap(b: &[u8]) -> Option<ServiceInfo> {
    if b.len() < 7 || b[0] != 0x30 {
        return None;
    }
    // Skip the SEQUENCE length (short or long form).
    let mut i = 2;
    if b[1] & 0x80 != 0 {
        i += usize::from(b[1] & 0x7f);
    }
    let id = b.get(i..i + 2)?;
    if id[0] != 0x02 {
        return None;
    }
    let op = *b.get(i + 2 + usize::from(id[1]))?;
    matches!(op, 0x61 | 0x78).then(|| ServiceInfo::probed("ldap"))
}

/// TPKT (RFC 1006) + X.224 Connection Request with an RDP Negotiation Request
/// (\[MS-RDPBCGR\] 2.2.1.1) asking for TLS or CredSSP.
fn rdp_connection_request() -> Vec<u8> {
    vec![
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00,
        0x03, 0x00, 0x00, 0x00,
    ]
}

/// A TPKT carrying an X.224 Connection Confirm (0xd0).
fn read_rdp(b: &[u8]) -> Option<ServiceInfo> {
    (b.len() >= 11 && b[0] == 3 && b[1] == 0 && b[5] == 0xd0)
        .then(|| ServiceInfo::probed("ms-wbt-server"))
}

/// An SMB1 NEGOTIATE offering NT LM 0.12 and SMB 2 (\[MS-SMB2\] 3.2.4.2.2.1 multi-protocol
/// negotiate) over NetBIOS session framing.
fn smb_negotiate() -> Vec<u8> {
    let mut dialects = Vec::new();
    for d in ["NT LM 0.12", "SMB 2.002", "SMB 2.???"] {
        dialects.push(0x02);
        dialects.extend_from_slice(d.as_bytes());
        dialects.push(0);
    }
    let mut smb = b"\xffSMB".to_vec();
    smb.push(0x72); // NEGOTIATE
    smb.extend_from_slice(&[0; 4]); // status
    smb.push(0x18); // flags
    smb.extend_from_slice(&[0x01, 0x28]); // flags2: long names, NT status, unicode off
    smb.extend_from_slice(&[0; 12]); // pid high, signature, reserved
    smb.extend_from_slice(&[0, 0, 0x2f, 0x4b, 0, 0, 0xc5, 0x5e]); // tid, pid, uid, mid
    smb.push(0); // word count
    smb.extend_from_slice(&(dialects.len() as u16).to_le_bytes());
    smb.extend(dialects);
    let mut msg = vec![0x00, 0x00];
    msg.extend_from_slice(&(smb.len() as u16).to_be_bytes());
    msg.extend(smb);
    msg
}

fn read_smb(b: &[u8]) -> Option<ServiceInfo> {
    let smb = b.len() >= 8 && b[0] == 0 && (&b[4..8] == b"\xffSMB" || &b[4..8] == b"\xfeSMB");
    smb.then(|| ServiceInfo::probed("microsoft-ds"))
}

#[cfg(test)]
mod tests;
