//! Host names (issue 19): PTR lookups answered by a DNS server the test runs (dnsmasq) in its
//! own target namespace. The scanner's namespace gets `/etc/netns/<name>/resolv.conf` naming
//! only that server (`ip netns exec` mounts it over `/etc/resolv.conf`), so no query reaches
//! any other resolver; the file, the server and the namespaces are removed when the test
//! ends.
//!
//! Needs root and dnsmasq; skips with a message otherwise, fails under CI.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::support::{nft_rules, require_nft, require_tool, Netns, VethPair};

/// `/etc/netns/<namespace>/resolv.conf`, removed (with its directory) on drop.
struct ResolvConf {
    dir: PathBuf,
}

impl ResolvConf {
    fn write(ns: &Netns, text: &str) -> ResolvConf {
        let dir = PathBuf::from("/etc/netns").join(ns.name());
        std::fs::create_dir_all(&dir).unwrap();
        let conf = ResolvConf { dir };
        conf.set(text);
        conf
    }

    /// Replaces the file's text: the next `ip netns exec` mounts the new one.
    fn set(&self, text: &str) {
        std::fs::write(self.dir.join("resolv.conf"), text).unwrap();
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// dnsmasq in the foreground, answering for `records` only (no hosts file, no upstream
/// server); killed on drop.
struct Dnsmasq(Child);

impl Dnsmasq {
    fn start(ns: &Netns, listen: &str, records: &[(&str, &str)]) -> Dnsmasq {
        let mut cmd = ns.exec([
            "dnsmasq",
            "--no-daemon",
            "--no-resolv",
            "--no-hosts",
            "--bind-interfaces",
            "--pid-file=",
            "--user=root",
        ]);
        cmd.arg(format!("--listen-address={listen}"));
        for (name, ip) in records {
            cmd.arg(format!("--host-record={name},{ip}"));
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let server = Dnsmasq(child);
        // Ready when it listens on UDP port 53 (a generous deadline: the machine is loaded).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = ns
                .exec(["ss", "-Hlun", "sport = :53"])
                .output()
                .expect("run ss");
            if String::from_utf8_lossy(&out.stdout).contains(listen) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dnsmasq never listened on {listen}:53"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The PTR names of an ndjson output (`"type":"hostname"` records), by address.
fn ptr_names(stdout: &str) -> BTreeMap<IpAddr, String> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "hostname" && v["kind"] == "PTR")
        .map(|v| {
            (
                v["ip"].as_str().unwrap().parse().unwrap(),
                v["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn names(pairs: &[(&str, &str)]) -> BTreeMap<IpAddr, String> {
    pairs
        .iter()
        .map(|(ip, n)| (ip.parse().unwrap(), n.to_string()))
        .collect()
}

/// By default the hosts that are up get their PTR name (.2 with a listener, .3 with closed
/// ports), the absent .4 none; `-R` names .4 too; `-n` names nothing. The text report puts
/// the name before the address, and the XML has it as `type="PTR"`. A resolver that never
/// answers costs the scan at most the lookup timeout, not the resolver's own.
#[test]
fn ptr_names_of_hosts_up_of_every_host_with_r_and_none_with_n() {
    if !(require_nft() && require_tool("dnsmasq", "dnsmasq-base")) {
        return;
    }
    let scanner = Netns::new("i19n-s");
    let target = Netns::new("i19n-t");
    let veth = VethPair::new(&scanner, &target, "198.18.219.1/24", "198.18.219.2/24");
    veth.add_target_addr("198.18.219.3/24");
    let _listeners = target.listen("198.18.219.2", &[2222]);
    let _dns = Dnsmasq::start(
        &target,
        "198.18.219.2",
        &[
            ("two.test", "198.18.219.2"),
            ("three.test", "198.18.219.3"),
            ("four.test", "198.18.219.4"),
        ],
    );
    let conf = ResolvConf::write(
        &scanner,
        "nameserver 198.18.219.2\noptions timeout:2 attempts:1\n",
    );
    let scan = |flags: &[&str]| {
        let mut args = vec![
            "198.18.219.2-4",
            "-p",
            "2222,2223",
            "--format",
            "ndjson",
            "--show",
            "all",
            "--timeout",
            "300",
        ];
        args.extend(flags);
        let run = scanner.scan(&args);
        run.assert_success();
        run
    };

    let up = names(&[("198.18.219.2", "two.test"), ("198.18.219.3", "three.test")]);
    let plain = scan(&[]);
    assert_eq!(ptr_names(&plain.stdout), up, "{}", plain.stdout);
    assert_eq!(
        plain.host_records().len(),
        1,
        "198.18.219.4 is down: {}",
        plain.stdout
    );

    let all = scan(&["-R"]);
    let mut every = up.clone();
    every.extend(names(&[("198.18.219.4", "four.test")]));
    assert_eq!(ptr_names(&all.stdout), every, "{}", all.stdout);

    let none = scan(&["-n"]);
    assert_eq!(ptr_names(&none.stdout), BTreeMap::new(), "{}", none.stdout);

    let text = scanner.scan(&["198.18.219.2", "-p", "2222"]);
    text.assert_success();
    assert!(
        text.stdout
            .starts_with("portscout report for two.test (198.18.219.2)\n"),
        "{}",
        text.stdout
    );
    let xml = scanner.scan(&["198.18.219.2", "-p", "2222", "--format", "xml"]);
    xml.assert_success();
    assert!(
        xml.stdout
            .contains("<hostnames>\n<hostname name=\"two.test\" type=\"PTR\"/>\n</hostnames>"),
        "{}",
        xml.stdout
    );

    // A server that never answers (the target drops what comes to 198.18.219.3:53), which
    // the system resolver waits 150 s for (glibc's longest `timeout`, 30 s, and most
    // `attempts`, 5): the scan ends about 2 s (the lookup timeout) after its last result,
    // without names. The counter shows the queries were sent. The bound, 60 s, only tells
    // 2 s from 150 with room for a loaded machine: it asserts no speed.
    let _silent = nft_rules(
        &target,
        &[
            "counter dns_dropped { }",
            "chain input { type filter hook input priority 0; policy accept;",
            "  ip daddr 198.18.219.3 udp dport 53 counter name \"dns_dropped\" drop",
            "}",
        ],
    );
    conf.set("nameserver 198.18.219.3\noptions timeout:30 attempts:5\n");
    // A dry run looks nothing up, even with -R.
    let plan = scanner.scan(&["198.18.219.2-3", "-p", "2222", "-R", "--dry-run"]);
    plan.assert_success();
    assert_eq!(
        _silent.counter("dns_dropped"),
        0,
        "a dry run sent DNS queries: {}",
        plan.stdout
    );
    let t0 = Instant::now();
    let dead = scanner.scan(&["198.18.219.2-3", "-p", "2222", "--format", "ndjson"]);
    let took = t0.elapsed();
    dead.assert_success();
    println!("with a silent resolver the scan took {took:?}");
    assert_eq!(ptr_names(&dead.stdout), BTreeMap::new(), "{}", dead.stdout);
    assert!(
        _silent.counter("dns_dropped") > 0,
        "no query reached the silent server"
    );
    assert!(
        took < Duration::from_secs(60),
        "a silent resolver held the scan for {took:?}"
    );
}
