#!/usr/bin/env python3
"""Score one benchmark run against the ground truth (used by bench/run.sh).

    score.py PARSER OUTPUT TRUTH.json
    score.py --self-test

PARSER says how to read OUTPUT (the tool's standard output):

  portscout  ndjson, one {"ip","port","state",...} per line, a last {"type":"summary"};
             a host record {"type":"host","ip":...,"state":"down",...} means every scanned
             port of that host (the truth's range) is filtered, unless a port record of that
             host says otherwise
  nmap       OUTPUT.xml (written with -oX) when it parses; else the -oG lines in OUTPUT
  masscan    OUTPUT.list (written with -oL) when it exists, else OUTPUT: "open tcp PORT ADDR
             TIME" lines; open ports only
  zmap       CSV lines "ADDR,PORT" (zmap -O csv -f saddr,sport; one header line per zmap run,
             several runs may follow each other); open ports only
  rustscan   greppable lines "ADDR -> [p,p,...]"
  floor      one open port per line (bench/floor.c), for the single target address
  seed       "Port N is open" lines (the seed's Python scripts), for the single target

TRUTH.json: {"targets": [ip...], "ports": [lo, hi], "open": [[ip, port]...],
             "filtered": [[ip, lo, hi]...]}, and optionally "open_only": true (the wide scans
             of bench/run.sh's W scenarios): filtered ports are neither parsed nor scored, and
             filtered_reported is 0 for every tool.

Prints nine tab-separated numbers: open_expected open_found open_missed open_invented
filtered_reported filtered_expected filtered_found filtered_missed filtered_invented.
Open ports are (address, port) pairs; a port outside the scanned range or on an address not
scanned counts as invented. Addresses are compared in one spelling (IPv6 compressed, as
2001:db8::1:1), whatever form the tool or the truth wrote them in. filtered_reported is 1 for
tools that list filtered ports.
"""

import ipaddress
import json
import os
import re
import sys

REPORTS_FILTERED = {"portscout", "nmap"}


def parse_portscout(path, truth):
    got = {"open": set(), "filtered": set()}
    stated = set()  # (ip, port) that a port record names, whatever its state
    down = set()  # hosts reported down: unreachable, so neither open nor closed
    open_only = truth.get("open_only", False)
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if not isinstance(r, dict):
                continue
            if "type" in r:
                if r["type"] == "host" and r.get("state") == "down" and "ip" in r and not open_only:
                    down.add(r["ip"])
                continue
            if "ip" not in r or "port" not in r:
                continue
            if open_only and r.get("state") != "open":
                continue
            stated.add((r["ip"], int(r["port"])))
            if r.get("state") in got:
                got[r["state"]].add((r["ip"], int(r["port"])))
    lo, hi = truth["ports"]
    for ip in down:
        got["filtered"].update((ip, p) for p in range(lo, hi + 1) if (ip, p) not in stated)
    return got


def port_ranges(spec):
    for rng in filter(None, spec.split(",")):
        a, _, b = rng.partition("-")
        yield from range(int(a), int(b or a) + 1)


def parse_nmap(path, truth):
    got = {"open": set(), "filtered": set()}
    lo, hi = truth["ports"]
    xml_path = path + ".xml"
    root = None
    if os.path.exists(xml_path):
        import xml.etree.ElementTree as ET

        try:
            root = ET.parse(xml_path).getroot()
        except ET.ParseError:
            root = None  # killed mid-write: fall back to -oG
    if root is not None:
        # -oG folds the most common states into "Ignored State"; the XML names them all,
        # extraports included (<extrareasons ports="40000-41000">).
        for host in root.iter("host"):
            addr = next(
                (a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")),
                None,
            )
            if addr is None:
                continue
            listed = set()
            for port in host.iter("port"):
                st = port.find("state")
                p = int(port.get("portid"))
                listed.add(p)
                if st is not None and st.get("state") in got:
                    got[st.get("state")].add((addr, p))
            extras = list(host.iter("extraports"))
            for extra in extras:
                state = extra.get("state")
                reasons = list(extra.iter("extrareasons"))
                with_ports = [r for r in reasons if r.get("ports")]
                if with_ports:
                    for r in with_ports:
                        for p in port_ranges(r.get("ports")):
                            listed.add(p)
                            if state in got:
                                got[state].add((addr, p))
                elif len(extras) == 1 and state in got:
                    # Old nmap without the ports attribute: one group is everything unlisted.
                    got[state].update((addr, p) for p in range(lo, hi + 1) if p not in listed)
        return got
    with open(path, errors="replace") as f:
        for line in f:
            if not (line.startswith("Host:") and "Ports:" in line):
                continue
            addr = line.split()[1]
            field = line.split("Ports:", 1)[1].split("\t")[0]
            for item in field.split(","):
                parts = item.strip().split("/")
                if len(parts) > 1 and parts[1] in got:
                    got[parts[1]].add((addr, int(parts[0])))
    return got


def parse_masscan(path, truth):
    got = {"open": set(), "filtered": set()}
    list_path = path + ".list"
    if os.path.exists(list_path):
        path = list_path
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4 and parts[0] == "open" and parts[1] == "tcp" and parts[2].isdigit():
                got["open"].add((parts[3], int(parts[2])))
    return got


def parse_zmap(path, truth):
    got = {"open": set(), "filtered": set()}
    with open(path, errors="replace") as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) == 2 and parts[1].isdigit():
                got["open"].add((parts[0], int(parts[1])))
    return got


def parse_rustscan(path, truth):
    got = {"open": set(), "filtered": set()}
    pat = re.compile(r"^(\S+) -> \[([0-9,\s]*)\]")
    with open(path, errors="replace") as f:
        for line in f:
            m = pat.match(line.strip())
            if m:
                for p in filter(None, (x.strip() for x in m.group(2).split(","))):
                    got["open"].add((m.group(1), int(p)))
    return got


def parse_lines(regex):
    pat = re.compile(regex)

    def parse(path, truth):
        (addr,) = truth["targets"]
        got = {"open": set(), "filtered": set()}
        with open(path, errors="replace") as f:
            for line in f:
                m = pat.match(line.strip())
                if m:
                    got["open"].add((addr, int(m.group(1))))
        return got

    return parse


PARSERS = {
    "portscout": parse_portscout,
    "nmap": parse_nmap,
    "masscan": parse_masscan,
    "zmap": parse_zmap,
    "rustscan": parse_rustscan,
    "floor": parse_lines(r"^(\d+)$"),
    "seed": parse_lines(r"^Port (\d+) is open$"),
}


def norm(addr):
    """One spelling per address: 2001:0db8:0::2 and [2001:db8::2] are 2001:db8::2."""
    try:
        return str(ipaddress.ip_address(addr.strip("[]")))
    except ValueError:
        return addr


def score(parser, path, truth):
    """The nine numbers for one run, as a list."""
    want_open = {(norm(a), int(p)) for a, p in truth["open"]}
    want_filtered = set()
    for a, lo, hi in truth["filtered"]:
        want_filtered.update((norm(a), p) for p in range(lo, hi + 1))
    got = PARSERS[parser](path, truth) if os.path.exists(path) else {"open": set(), "filtered": set()}
    got = {k: {(norm(a), p) for a, p in v} for k, v in got.items()}
    open_only = truth.get("open_only", False)
    if open_only:
        got["filtered"] = set()
    fields = [
        len(want_open),
        len(got["open"]),
        len(want_open - got["open"]),
        len(got["open"] - want_open),
        int(parser in REPORTS_FILTERED and not open_only),
        len(want_filtered),
        len(got["filtered"]),
        len(want_filtered - got["filtered"]),
        len(got["filtered"] - want_filtered),
    ]
    return fields


def self_test():
    """Scores made-up portscout output against a made-up truth (S5-like): a host reported down
    counts as every scanned port of it filtered."""
    import tempfile

    truth = {
        "targets": ["198.18.1.1", "198.18.0.201", "198.18.0.202"],
        "ports": [1, 1024],
        "open": [["198.18.1.1", 22], ["198.18.1.1", 80]],
        "filtered": [["198.18.0.201", 1, 1024], ["198.18.0.202", 1, 1024]],
    }
    lines = [
        {"ip": "198.18.1.1", "port": 22, "state": "open"},
        {"ip": "198.18.1.1", "port": 80, "state": "open"},
        {"ip": "198.18.0.202", "port": 7, "state": "filtered"},
        {"type": "host", "ip": "198.18.0.201", "state": "down", "reason": "host-unreach",
         "skipped": 1024},
        {"type": "host", "ip": "198.18.1.1", "state": "up"},
        {"type": "summary", "open": 2},
    ]
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out")
        with open(out, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in lines) + "not json\n")
        # .201 down: all 1024 filtered; .202 only port 7 (a port record, no host record).
        assert score("portscout", out, truth) == [2, 2, 0, 0, 1, 2048, 1025, 1023, 0], score(
            "portscout", out, truth
        )
        with open(out, "a") as f:
            f.write(json.dumps({"type": "host", "ip": "198.18.0.202", "state": "down"}) + "\n")
            # A port record wins over its host's down record; a down host outside the truth's
            # targets gives invented filtered ports.
            f.write(json.dumps({"ip": "198.18.0.202", "port": 9, "state": "closed"}) + "\n")
            f.write(json.dumps({"type": "host", "ip": "198.18.9.9", "state": "down"}) + "\n")
        assert score("portscout", out, truth) == [2, 2, 0, 0, 1, 2048, 2047 + 1024, 1, 1024], score(
            "portscout", out, truth
        )
        # Without host records nothing changes: the old format still scores as before.
        with open(out, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in lines if x.get("type") != "host"))
        assert score("portscout", out, truth) == [2, 2, 0, 0, 1, 2048, 1, 2047, 0]

        # IPv6: the truth and the tools may spell an address differently.
        truth6 = {
            "targets": ["2001:db8::1:1", "2001:db8::c9"],
            "ports": [1, 1024],
            "open": [["2001:db8::1:1", 22], ["2001:db8::1:1", 80]],
            "filtered": [["2001:db8::c9", 1, 1024]],
        }
        with open(out, "w") as f:
            f.write(json.dumps({"ip": "2001:db8:0:0:0:0:1:1", "port": 22, "state": "open"}) + "\n")
            f.write(json.dumps({"type": "host", "ip": "2001:0db8::c9", "state": "down"}) + "\n")
        assert score("portscout", out, truth6) == [2, 1, 1, 0, 1, 1024, 1024, 0, 0], score(
            "portscout", out, truth6
        )
        # masscan: -oL lines in OUTPUT.list; open ports only, never filtered.
        with open(out + ".list", "w") as f:
            f.write("#masscan\nopen tcp 80 2001:db8::1:1 1795311787\n"
                    "open tcp 22 2001:db8::1:1 1795311787\nopen tcp 9 2001:db8::1:2 1\n# end\n")
        assert score("masscan", out, truth6) == [2, 3, 0, 1, 0, 1024, 0, 1024, 0], score(
            "masscan", out, truth6
        )
        # zmap: CSV "saddr,sport", one header per run (W2 runs it once per port).
        with open(out, "w") as f:
            f.write("saddr,sport\n2001:db8::1:1,22\nsaddr,sport\n2001:db8::1:1,80\n")
        assert score("zmap", out, truth6) == [2, 2, 0, 0, 0, 1024, 0, 1024, 0], score(
            "zmap", out, truth6
        )

        # open_only (the W scenarios): host-down and filtered records are ignored, opens on
        # silent addresses are invented.
        truthw = {"targets": [], "ports": [22, 443], "open": [["198.18.0.5", 22], ["198.18.0.5", 443]],
                  "filtered": [], "open_only": True}
        with open(out, "w") as f:
            for x in [
                {"ip": "198.18.0.5", "port": 22, "state": "open"},
                {"ip": "198.18.0.9", "port": 22, "state": "open"},
                {"ip": "198.18.0.7", "port": 22, "state": "filtered"},
                {"type": "host", "ip": "198.18.0.8", "state": "down"},
                {"type": "summary", "open": 2},
            ]:
                f.write(json.dumps(x) + "\n")
        assert score("portscout", out, truthw) == [2, 2, 1, 1, 0, 0, 0, 0, 0], score(
            "portscout", out, truthw
        )
    print("score.py self-test: ok")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    parser, path, truth_path = sys.argv[1:4]
    with open(truth_path) as f:
        truth = json.load(f)
    print("\t".join(map(str, score(parser, path, truth))))


if __name__ == "__main__":
    main()
