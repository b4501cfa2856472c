#!/usr/bin/env python3
"""Score bench/services.sh's runs: portscout -sV against nmap -sV, port by port.

Reads RESULTS_DIR/results.csv and RESULTS_DIR/raw/*.xml (nmap's XML format, which both tools
write) and prints markdown tables: V1 (each port's service name, product and version beside
nmap's, and how many agree), V2 (wall times) and V3 (open ports and names on a /24, times).
"""
import csv
import statistics
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path


def services(path):
    """{(address, port): (name, product, version)} of the open TCP ports in an nmap XML file."""
    out = {}
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, FileNotFoundError):
        return None
    for host in root.iter("host"):
        addr = next((a.get("addr") for a in host.iter("address") if a.get("addrtype") in ("ipv4", "ipv6")), None)
        for port in host.iter("port"):
            state = port.find("state")
            if state is None or state.get("state") != "open" or port.get("protocol") != "tcp":
                continue
            svc = port.find("service")
            name = product = version = ""
            if svc is not None:
                name = svc.get("name", "")
                if svc.get("tunnel"):
                    name = svc.get("tunnel") + "/" + name
                product = svc.get("product", "")
                version = svc.get("version", "")
            out[(addr, int(port.get("portid")))] = (name, product, version)
    return out


def scanned_ports(path):
    """The ports an nmap XML file's scan covered (its scaninfo), or None."""
    try:
        info = ET.parse(path).getroot().find("scaninfo")
    except (ET.ParseError, FileNotFoundError):
        return None
    if info is None or not info.get("services"):
        return None
    ports = set()
    for part in info.get("services").split(","):
        lo, _, hi = part.partition("-")
        ports.update(range(int(lo), int(hi or lo) + 1))
    return ports


def norm(s):
    return " ".join(s.lower().split())


def agree(ours, theirs):
    """(same name, nmap has a product, same product and version where nmap has one)."""
    name = norm(ours[0]) == norm(theirs[0])
    has = bool(theirs[1])
    same = has and norm(ours[1]) == norm(theirs[1]) and norm(ours[2]) == norm(theirs[2])
    return name, has, same


def main(outdir):
    out = Path(outdir)
    times = defaultdict(list)
    with open(out / "results.csv") as f:
        for row in csv.DictReader(f):
            if row["exit"] == "0":
                times[(row["scenario"], row["tool"])].append(float(row["wall_s"]))
    tools = ["portscout-builtin", "portscout-nmapdb"]

    for sc in ("v1", "v3"):
        nmap_xml = sorted((out / "raw").glob(f"{sc}-nmap-*.xml"))
        if not nmap_xml:
            continue
        ref = services(nmap_xml[0])
        # Ports both tools scanned: the two top-ports tables differ (portscout's is its own).
        nmap_scanned = scanned_ports(nmap_xml[0])
        if ref is None:
            print(f"{sc}: nmap's XML does not parse\n")
            continue
        print(f"## {sc.upper()}\n")
        runs = {t: sorted((out / "raw").glob(f"{sc}-{t}-*.xml")) for t in tools}
        first = {t: services(r[0]) if r else None for t, r in runs.items()}
        if sc == "v1":
            print("| port | nmap -sV | " + " | ".join(t for t in tools if first[t] is not None) + " |")
            print("|---|---|" + "---|" * sum(first[t] is not None for t in tools))
            for key in sorted(ref, key=lambda k: k[1]):
                cells = [" ".join(x for x in ref[key] if x) or "-"]
                for t in tools:
                    if first[t] is None:
                        continue
                    got = first[t].get(key)
                    cells.append("(not open)" if got is None else " ".join(x for x in got if x) or "-")
                print(f"| {key[1]} | " + " | ".join(cells) + " |")
            print()
        for t in tools:
            if first[t] is None:
                continue
            # Every run of this tool against nmap's first run.
            for i, r in enumerate(runs[t], 1):
                got = services(r)
                if got is None:
                    print(f"- {t} run {i}: XML does not parse")
                    continue
                missed = sorted(k for k in ref if k not in got)
                extra = sorted(k for k in got if k not in ref
                               and (nmap_scanned is None or k[1] in nmap_scanned))
                missed_ports = sorted({k[1] for k in missed})
                n_name = n_has = n_same = 0
                for k, theirs in ref.items():
                    if k in got:
                        name, has, same = agree(got[k], theirs)
                        n_name += name
                        n_has += has
                        n_same += same
                    elif theirs[1]:
                        n_has += 1
                pct = lambda a, b: f"{100.0 * a / b:.1f} %" if b else "n/a"
                print(f"- {t} run {i}: same name {n_name}/{len(ref)} ({pct(n_name, len(ref))}), "
                      f"same product and version {n_same}/{n_has} ({pct(n_same, n_has)}) of the ports "
                      f"where nmap names a product; open ports missed {len(missed)} (ports {missed_ports}), "
                      f"extra {len(extra)} (of the ports nmap scanned)")
        print()
        print("| tool | runs | median wall s | ratio to nmap |")
        print("|---|---|---|---|")
        base = statistics.median(times[(sc, "nmap")]) if times[(sc, "nmap")] else None
        for t in ["nmap"] + tools:
            ts = times[(sc, t)]
            if not ts:
                continue
            m = statistics.median(ts)
            ratio = f"{m / base:.3f}" if base else "n/a"
            print(f"| {t} | {len(ts)} | {m:.2f} | {ratio} |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])
