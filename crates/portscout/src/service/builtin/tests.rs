//! Each reader on answers written from the protocols' specifications.

use super::*;

fn id(probe: &str, answer: &[u8], port: u16) -> ServiceInfo {
    identify(probe, answer, port)
        .unwrap_or_else(|| panic!("nothing for {:?}", String::from_utf8_lossy(answer)))
}

fn pv(info: &ServiceInfo) -> (&str, Option<&str>, Option<&str>) {
    (
        info.name.as_str(),
        info.product.as_deref(),
        info.version.as_deref(),
    )
}

#[test]
fn ssh_debian_banner() {
    let info = id("", b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n", 22);
    assert_eq!(
        pv(&info),
        ("ssh", Some("OpenSSH"), Some("9.2p1 Debian 2+deb12u3"))
    );
    assert_eq!(info.extrainfo.as_deref(), Some("protocol 2.0"));
    assert_eq!(info.ostype.as_deref(), Some("Linux"));
    assert_eq!(
        info.cpes,
        [
            "cpe:/a:openbsd:openssh:9.2p1",
            "cpe:/o:debian:debian_linux",
            "cpe:/o:linux:linux_kernel"
        ]
    );
    assert_eq!(
        info.version_line(),
        "OpenSSH 9.2p1 Debian 2+deb12u3 (protocol 2.0)"
    );
    let info = id("", b"SSH-2.0-dropbear_2022.83\r\n", 2222);
    assert_eq!(pv(&info), ("ssh", Some("Dropbear sshd"), Some("2022.83")));
    // Any probe's answer is also read as a greeting.
    assert_eq!(
        id(
            "http",
            b"SSH-2.0-OpenSSH_9.2p1\r\nInvalid SSH identification string.\r\n",
            80
        )
        .name,
        "ssh"
    );
}

#[test]
fn mysql_and_mariadb_handshakes() {
    let packet = |version: &str| {
        let mut body = vec![0x0a];
        body.extend_from_slice(version.as_bytes());
        body.push(0);
        body.extend_from_slice(&[
            1, 0, 0, 0, b'a', b'b', b'c', b'd', b'e', b'f', b'g', b'h', 0,
        ]);
        let mut p = vec![body.len() as u8, 0, 0, 0];
        p.extend(body);
        p
    };
    let info = id("", &packet("5.5.5-10.11.6-MariaDB-0+deb12u1"), 3306);
    assert_eq!(pv(&info), ("mysql", Some("MariaDB"), Some("10.11.6")));
    let info = id("", &packet("8.0.36"), 3306);
    assert_eq!(pv(&info), ("mysql", Some("MySQL"), Some("8.0.36")));
    let mut refused = vec![0x40, 0, 0, 0, 0xff, 0x6a, 0x04];
    refused.extend_from_slice(b"Host '10.0.0.1' is not allowed to connect to this MariaDB server");
    refused[0] = (refused.len() - 4) as u8;
    let info = id("", &refused, 3306);
    assert_eq!(info.extrainfo.as_deref(), Some("unauthorized"));
    assert_eq!(info.product.as_deref(), Some("MariaDB"));
}

#[test]
fn ftp_smtp_pop3_imap_greetings() {
    let info = id("", b"220 (vsFTPd 3.0.3)\r\n", 21);
    assert_eq!(pv(&info), ("ftp", Some("vsftpd"), Some("3.0.3")));
    assert_eq!(info.cpes, ["cpe:/a:vsftpd:vsftpd:3.0.3"]);
    let info = id(
        "",
        b"220 ProFTPD Server (Debian) [::ffff:127.0.0.1]\r\n",
        21,
    );
    assert_eq!(pv(&info), ("ftp", Some("ProFTPD"), None));
    let info = id(
        "",
        b"220 mx.example.test ESMTP Exim 4.96 Thu, 03 Dec 2026 10:00:00 +0000\r\n",
        25,
    );
    assert_eq!(pv(&info), ("smtp", Some("Exim smtpd"), Some("4.96")));
    assert_eq!(info.hostname.as_deref(), Some("mx.example.test"));
    let info = id(
        "",
        b"220 mx.example.test ESMTP Postfix (Debian/GNU)\r\n",
        25,
    );
    assert_eq!(pv(&info), ("smtp", Some("Postfix smtpd"), None));
    // A bare 220 is what the port's table says.
    assert_eq!(id("", b"220 ready\r\n", 25).name, "smtp");
    assert_eq!(id("", b"220 ready\r\n", 21).name, "ftp");
    assert!(identify("", b"220 ready\r\n", 31337).is_none());
    let info = id("", b"+OK Dovecot (Debian) ready.\r\n", 110);
    assert_eq!(pv(&info), ("pop3", Some("Dovecot pop3d"), None));
    let info = id(
        "",
        b"* OK [CAPABILITY IMAP4rev1] Dovecot (Debian) ready.\r\n",
        143,
    );
    assert_eq!(pv(&info), ("imap", Some("Dovecot imapd"), None));
}

#[test]
fn vnc_and_telnet() {
    let info = id("", b"RFB 003.008\n", 5900);
    assert_eq!(pv(&info), ("vnc", Some("VNC"), None));
    assert_eq!(info.extrainfo.as_deref(), Some("protocol 3.8"));
    assert_eq!(id("", b"\xff\xfd\x18\xff\xfd\x20", 23).name, "telnet");
}

#[test]
fn http_servers() {
    let answer = |server: &str| format!("HTTP/1.1 200 OK\r\nDate: x\r\nServer: {server}\r\n\r\n");
    let info = id("http", answer("nginx/1.22.1").as_bytes(), 80);
    assert_eq!(pv(&info), ("http", Some("nginx"), Some("1.22.1")));
    assert_eq!(info.cpes, ["cpe:/a:igor_sysoev:nginx:1.22.1"]);
    let info = id("http", answer("Apache/2.4.62 (Debian)").as_bytes(), 80);
    assert_eq!(pv(&info), ("http", Some("Apache httpd"), Some("2.4.62")));
    assert_eq!(info.extrainfo.as_deref(), Some("(Debian)"));
    let info = id(
        "http",
        answer("SimpleHTTP/0.6 Python/3.11.2").as_bytes(),
        28080,
    );
    assert_eq!(pv(&info), ("http", Some("SimpleHTTPServer"), Some("0.6")));
    assert_eq!(info.extrainfo.as_deref(), Some("Python 3.11.2"));
    assert_eq!(info.cpes, ["cpe:/a:python:python:3.11.2"]);
    let info = id(
        "http",
        answer("BaseHTTP/0.6 Python/3.11.2").as_bytes(),
        8000,
    );
    assert_eq!(info.product.as_deref(), Some("BaseHTTPServer"));
    // A TLS port's answer to plain HTTP is only a soft match: the handshake decides.
    let plain = b"HTTP/1.1 400 Bad Request\r\nServer: nginx/1.22.1\r\n\r\n<html><center>The plain HTTP request was sent to HTTPS port</center></html>";
    assert_eq!(id("http", plain, 28444).confidence, 8);
    assert_eq!(id("http", answer("nginx").as_bytes(), 80).confidence, 10);
    let info = id("http", b"HTTP/1.0 404 Not Found\r\n\r\n", 8000);
    assert_eq!(pv(&info), ("http", None, None));
    let es = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{\"name\":\"n1\",\"cluster_name\":\"c\",\"version\":{\"number\":\"8.11.1\",\"lucene_version\":\"9.8.0\"},\"tagline\":\"You Know, for Search\"}";
    let info = id("http", es.as_bytes(), 9200);
    assert_eq!(
        pv(&info),
        ("http", Some("Elasticsearch REST API"), Some("8.11.1"))
    );
    assert_eq!(info.extrainfo.as_deref(), Some("Lucene 9.8.0"));
}

#[test]
fn redis_memcached() {
    let info = id(
        "redis",
        b"+PONG\r\n$30\r\n# Server\r\nredis_version:7.0.15\r\n\r\n",
        6379,
    );
    assert_eq!(
        pv(&info),
        ("redis", Some("Redis key-value store"), Some("7.0.15"))
    );
    let info = id("redis", b"-NOAUTH Authentication required.\r\n", 6379);
    assert_eq!(pv(&info), ("redis", Some("Redis key-value store"), None));
    let info = id("memcached", b"VERSION 1.6.18\r\n", 11211);
    assert_eq!(pv(&info), ("memcached", Some("Memcached"), Some("1.6.18")));
}

#[test]
fn postgresql_errors_and_auth() {
    let mut e = b"E\0\0\0\x60SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry\0Fauth.c\0L543\0RClientAuthentication\0\0".to_vec();
    let n = (e.len() - 1) as u32;
    e[1..5].copy_from_slice(&n.to_be_bytes());
    assert_eq!(
        pv(&id("postgresql", &e, 5432)),
        ("postgresql", Some("PostgreSQL DB"), None)
    );
    let sasl = b"R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0";
    assert_eq!(id("postgresql", sasl, 5432).name, "postgresql");
    assert!(identify("postgresql", b"Efoo", 5432).is_none());
}

#[test]
fn mongodb_buildinfo_reply() {
    // A reply: header (responseTo 1, OP_MSG), flags, section 0, a document with `version`.
    let mut doc = vec![0x02];
    doc.extend_from_slice(b"version\0");
    doc.extend_from_slice(&7i32.to_le_bytes());
    doc.extend_from_slice(b"7.0.14\0");
    doc.push(0);
    let mut bson = ((doc.len() + 4) as i32).to_le_bytes().to_vec();
    bson.extend(doc);
    let mut m = Vec::new();
    m.extend_from_slice(&9i32.to_le_bytes());
    m.extend_from_slice(&1i32.to_le_bytes());
    m.extend_from_slice(&2013i32.to_le_bytes());
    m.extend_from_slice(&0u32.to_le_bytes());
    m.push(0);
    m.extend(bson);
    let mut msg = ((m.len() + 4) as i32).to_le_bytes().to_vec();
    msg.extend(m);
    assert_eq!(
        pv(&id("mongodb", &msg, 27017)),
        ("mongodb", Some("MongoDB"), Some("7.0.14"))
    );
    // The request is a well-formed OP_MSG: its length is its own.
    let req = mongo_buildinfo();
    assert_eq!(
        i32::from_le_bytes(req[..4].try_into().unwrap()) as usize,
        req.len()
    );
}

#[test]
fn dns_version_bind_answers() {
    let q = dns_version_bind();
    assert_eq!(u16::from_be_bytes([q[0], q[1]]) as usize, q.len() - 2);
    let answer = |txt: &str| {
        let mut m = q[2..].to_vec();
        m[2] |= 0x80; // QR
        m[7] = 1; // ANCOUNT
        m.extend_from_slice(&[0xc0, 0x0c, 0, 16, 0, 3, 0, 0, 0, 0]);
        m.extend_from_slice(&((txt.len() + 1) as u16).to_be_bytes());
        m.push(txt.len() as u8);
        m.extend_from_slice(txt.as_bytes());
        let mut tcp = (m.len() as u16).to_be_bytes().to_vec();
        tcp.extend(m);
        tcp
    };
    let info = id("dns", &answer("dnsmasq-2.89"), 53);
    assert_eq!(pv(&info), ("domain", Some("dnsmasq"), Some("2.89")));
    assert_eq!(info.cpes, ["cpe:/a:thekelleys:dnsmasq:2.89"]);
    let info = id("dns", &answer("9.18.28-1~deb12u2-Debian"), 53);
    assert_eq!(info.product.as_deref(), Some("ISC BIND"));
    assert_eq!(info.cpes, ["cpe:/a:isc:bind:9.18.28"]);
}

#[test]
fn mqtt_amqp_ldap_rdp_smb() {
    let connect = mqtt_connect();
    // CONNECT, then SUBSCRIBE to the broker's version: two whole packets.
    let packets: Vec<(u8, &[u8])> = mqtt_packets(&connect).collect();
    assert_eq!(packets.len(), 2);
    assert_eq!((packets[0].0, packets[1].0), (0x10, 0x82));
    assert_eq!(
        2 + packets[0].1.len() + 2 + packets[1].1.len(),
        connect.len()
    );
    assert_eq!(id("mqtt", b"\x20\x02\x00\x00", 1883).name, "mqtt");
    // CONNACK, SUBACK, then the retained PUBLISH of the version: named as nmap names it.
    let mut answer = b"\x20\x02\x00\x00\x90\x03\x00\x01\x00".to_vec();
    let topic = b"$SYS/broker/version";
    let payload = b"mosquitto version 2.0.11";
    answer.push(0x31);
    answer.push((2 + topic.len() + payload.len()) as u8);
    answer.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    answer.extend_from_slice(topic);
    answer.extend_from_slice(payload);
    assert_eq!(id("mqtt", &answer, 1883).name, "mosquitto version 2.0.11");
    // A PUBLISH cut short, or of another topic, leaves the name `mqtt`.
    assert_eq!(id("mqtt", &answer[..answer.len() - 3], 1883).name, "mqtt");
    let other = [&answer[..9], b"\x30\x08\x00\x01xhello"].concat();
    assert_eq!(id("mqtt", &other, 1883).name, "mqtt");
    // A refused CONNECT (code 5, not authorised) is still MQTT.
    assert_eq!(id("mqtt", b"\x20\x02\x00\x05", 1883).name, "mqtt");

    // Connection.Start: frame type 1, channel 0, size, class 10 method 10, 0-9, a table.
    let mut table = Vec::new();
    for (k, v) in [("product", "RabbitMQ"), ("version", "3.12.1")] {
        table.push(k.len() as u8);
        table.extend_from_slice(k.as_bytes());
        table.push(b'S');
        table.extend_from_slice(&(v.len() as u32).to_be_bytes());
        table.extend_from_slice(v.as_bytes());
    }
    table.extend_from_slice(&[4, b'f', b'l', b'a', b'g', b't', 1]);
    let mut payload = vec![0, 10, 0, 10, 0, 9];
    payload.extend_from_slice(&(table.len() as u32).to_be_bytes());
    payload.extend(table);
    let mut frame = vec![1, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend(payload);
    frame.push(0xce);
    let info = id("amqp", &frame, 5672);
    assert_eq!(pv(&info), ("amqp", Some("RabbitMQ"), Some("3.12.1")));
    assert_eq!(info.extrainfo.as_deref(), Some("AMQP 0-9"));

    let bind_ok = [
        0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
    ];
    assert_eq!(id("ldap", &bind_ok, 389).name, "ldap");
    let cc = [
        3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 1, 0, 0, 0,
    ];
    assert_eq!(id("rdp", &cc, 3389).name, "ms-wbt-server");
    let smb2 = b"\0\0\0\x40\xfeSMB\x40\0\0\0";
    assert_eq!(id("smb", smb2, 445).name, "microsoft-ds");
    let neg = smb_negotiate();
    assert_eq!(
        usize::from(u16::from_be_bytes([neg[2], neg[3]])),
        neg.len() - 4
    );
}

#[test]
fn garbage_is_nothing() {
    for probe in PROBES.iter().map(|p| p.name).chain([""]) {
        for answer in [&b"\0"[..], b"x", b"\xff", b"ERROR\r\n", &[0u8; 64]] {
            let got = identify(probe, answer, 31337);
            assert!(got.is_none(), "{probe} {answer:?} -> {got:?}");
        }
    }
}

#[test]
fn order_puts_the_ports_probe_first() {
    assert_eq!(order(6379)[0].name, "redis");
    assert_eq!(order(31337)[0].name, "http");
    assert!(client_speaks_first(6379) && client_speaks_first(443));
    assert!(!client_speaks_first(22));
}

#[test]
fn vsftpd_refusing_to_run() {
    let info = id(
        "",
        b"500 OOPS: vsftpd: both local and anonymous access disabled!\r\n",
        21,
    );
    assert_eq!(pv(&info), ("ftp", Some("vsftpd"), None));
    assert_eq!(
        info.extrainfo.as_deref(),
        Some("broken: both local and anonymous access disabled!")
    );
}
