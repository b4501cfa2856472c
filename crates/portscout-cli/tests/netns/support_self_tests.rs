//! Self-tests of the fixtures in `tests/support` (namespaces, veth pairs, nftables,
//! listeners); they do not need the scanner. Here, so that they run once.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::process::Command;
use std::time::Duration;

use crate::support::*;
use std::net::TcpStream;

fn connect(addr: &str) -> io::Result<TcpStream> {
    let sa: SocketAddr = addr.parse().expect("addr");
    // 3 s: room for one SYN retransmit (1 s) if a loaded machine lets the backlog fill.
    TcpStream::connect_timeout(&sa, Duration::from_secs(3))
}

fn connect_for(addr: &str, ms: u64) -> io::Result<TcpStream> {
    let sa: SocketAddr = addr.parse().expect("addr");
    TcpStream::connect_timeout(&sa, Duration::from_millis(ms))
}

#[test]
fn fixture_parse_ndjson_skips_meta_records() {
    let out = concat!(
        "{\"ip\":\"198.18.0.2\",\"port\":443,\"protocol\":\"tcp\",\"state\":\"open\",",
        "\"reason\":\"syn-ack\",\"rtt_ms\":0.21}\n",
        "\n",
        "{\"ip\":\"::1\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"filtered\"}\n",
        "{\"type\":\"summary\",\"open\":1}\n",
    );
    let recs = parse_ndjson(out);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        recs[0],
        ("198.18.0.2".parse().unwrap(), 443, "open".to_owned())
    );
    let v6 = ports_with_state(&recs, "::1".parse().unwrap(), "filtered");
    assert_eq!(v6, BTreeSet::from([22]));
}

#[test]
fn fixture_parse_host_and_port_records() {
    let out = concat!(
        "{\"ip\":\"198.18.0.2\",\"port\":22,\"protocol\":\"tcp\",\"state\":\"closed\",",
        "\"reason\":\"reset\",\"rtt_ms\":0.1}\n",
        "{\"type\":\"host\",\"ip\":\"198.18.0.9\",\"state\":\"down\",",
        "\"reason\":\"host-unreach\",\"skipped\":20}\n",
        "{\"type\":\"summary\",\"open\":0}\n",
    );
    let ports = parse_port_records(out);
    assert_eq!(
        ports,
        vec![PortRecord {
            ip: "198.18.0.2".parse().unwrap(),
            port: 22,
            state: "closed".into(),
            reason: "reset".into(),
        }]
    );
    let hosts = parse_host_records(out);
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].ip, "198.18.0.9".parse::<IpAddr>().unwrap());
    assert_eq!(
        (hosts[0].state.as_str(), hosts[0].reason.as_str()),
        ("down", "host-unreach")
    );
    assert_eq!(hosts[0].skipped, Some(20));
    // Host records are not port records.
    assert_eq!(parse_ndjson(out).len(), 1);
}

#[test]
#[should_panic(expected = "outside the test ranges")]
fn fixture_refuses_non_test_addresses() {
    assert_allowed_ip("10.0.0.1".parse().unwrap(), true);
}

#[test]
fn fixture_allows_test_addresses() {
    for ip in [
        "127.0.0.1",
        "::1",
        "198.18.0.2",
        "198.19.255.1",
        "2001:db8:7::2",
    ] {
        assert_allowed_ip(ip.parse().unwrap(), false);
    }
}

#[test]
fn fixture_netns_removed_on_drop() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("selfdrop");
    let name = ns.name().to_owned();
    assert!(netns_list().contains(&name), "{name} not in ip netns list");
    let out = must(&mut ns.ip(["-br", "link", "show", "lo"]));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("UNKNOWN")
            || String::from_utf8_lossy(&out.stdout).contains("UP")
    );
    drop(ns);
    assert!(
        !netns_list().contains(&name),
        "{name} still exists after drop"
    );
}

#[test]
fn fixture_stale_namespace_is_replaced() {
    if !require_root() {
        return;
    }
    let name = format!("pst-stale-{}-{}", std::process::id(), next_id());
    must(Command::new("ip").args(["netns", "add", &name]));
    let ns = Netns::named(&name);
    assert_eq!(ns.name(), name);
    drop(ns);
    assert!(!netns_list().contains(&name));
}

#[test]
fn fixture_listener_accepts_in_namespace() {
    if !require_root() {
        return;
    }
    let ns = Netns::new("selflisten");
    let l4 = ns.listen("127.0.0.1", &[22, 40000, 65535]);
    let l6 = ns.listen("::1", &[8080]);
    assert_eq!(l4.ports(), BTreeSet::from([22, 40000, 65535]));
    ns.run_in(|| {
        // Many connections to one port: the accept thread keeps the queue drained.
        for _ in 0..300 {
            connect("127.0.0.1:40000").expect("connect to listener");
        }
        connect("127.0.0.1:22").expect("connect 22");
        connect("[::1]:8080").expect("connect ::1");
        let e = connect("127.0.0.1:23").expect_err("nothing listens on 23");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    });
    drop(l4);
    drop(l6);
    ns.run_in(|| {
        let e = connect("127.0.0.1:22").expect_err("listener dropped");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn fixture_veth_and_nft_drop() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("selfscan");
    let target = Netns::new("selftgt");
    let veth = VethPair::new(&scanner, &target, "198.18.250.1/24", "198.18.250.2/24");
    veth.add_ipv6("2001:db8:250::1/64", "2001:db8:250::2/64");
    let _l = target.listen("0.0.0.0", &[80, 40500]);
    let _l6 = target.listen("2001:db8:250::2", &[443]);
    scanner.run_in(|| {
        connect("198.18.250.2:80").expect("connect over veth");
        connect("198.18.250.2:40500").expect("connect before nft");
        connect("[2001:db8:250::2]:443").expect("connect over veth v6");
        let e = connect("198.18.250.2:81").expect_err("closed port");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
    });
    let rules = nft_drop_ports(&target, 40000, 41000);
    scanner.run_in(|| {
        let e = connect("198.18.250.2:40500").expect_err("dropped port");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        connect("198.18.250.2:80").expect("port outside the drop range");
    });
    drop(rules);
    scanner.run_in(|| {
        connect("198.18.250.2:40500").expect("rules removed on drop");
    });
    // The root namespace never sees the veth.
    let root_links = must(Command::new("ip").args(["-br", "link"]));
    let (s_if, t_if) = veth.ifnames();
    let text = String::from_utf8_lossy(&root_links.stdout);
    assert!(!text.contains(s_if) && !text.contains(t_if));
}

#[test]
fn fixture_nft_rules_count_and_go_away() {
    if !require_nft() {
        return;
    }
    let scanner = Netns::new("selfnfts");
    let target = Netns::new("selfnftt");
    let _veth = VethPair::new(&scanner, &target, "198.18.251.1/24", "198.18.251.2/24");
    let table = nft_rules(
        &target,
        &[
            "counter dropped { }",
            "chain input { type filter hook input priority 0; policy accept;",
            "  tcp dport 9 counter name \"dropped\" drop",
            "}",
        ],
    );
    assert_eq!(table.counter("dropped"), 0);
    scanner.run_in(|| {
        let e = connect_for("198.18.251.2:9", 300).expect_err("dropped port");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    });
    assert!(table.counter("dropped") >= 1);
    let name = table.name().to_owned();
    drop(table);
    let out = must(&mut target.exec(["nft", "list", "tables"]));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&name),
        "table {name} still there after drop"
    );
    scanner.run_in(|| {
        let e = connect_for("198.18.251.2:9", 3000).expect_err("nothing listens on 9");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    });
}
