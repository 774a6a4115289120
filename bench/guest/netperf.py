"""Runs inside the VM as root (bench/netperf.sh): the cost of the UOA hooks
on the data path, measured with netperf between two network namespaces
joined by a veth pair.

netserver runs as root in the server namespace; netperf runs in the client
namespace as uid 1011, the managed uid that owns the client's address on the
veth. Every test runs twice: with the source address given to netperf (`-L`,
global and test-specific, so control and data connections bind it) and
without (the kernel picks it).

Configurations, all in this one boot: 0 (module not loaded: the baseline),
then the module loaded with N managed uids: 1011 plus N-1 others (uids and
tables 2000.., one /32 each from 10.128.0.0/9, not configured anywhere).
A configuration is set up from scratch each time: `rmmod uoa`, `insmod`,
then ONE `uoamap --no-routing apply FILE` in the client namespace. The
configurations are interleaved: in each round, every test walks all of them
(every other walk in reverse order), so that a configuration runs within a
minute of the baseline it is compared with and drift spreads over all of
them; the table reports per-configuration medians over the rounds and their
ratios to the baseline.

    python3 bench/guest/netperf.py [N...]     (0 is always included)
    UOA_KO           the module (required when some N > 0)
    UOA_NETPERF_LEN     seconds per netperf run (default 3)
    UOA_NETPERF_ROUNDS  rounds (default 3)
    UOA_NETPERF_TESTS   comma-separated tests (default all five)
    UOA_NETPERF_CPUS    netperf -T LCPU,RCPU (default 0,0; empty: unpinned)
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UOAMAP = os.environ.get("UOAMAP", os.path.join(ROOT, "target/release/uoamap"))
UOA_KO = os.environ.get("UOA_KO", "")
LEN = int(os.environ.get("UOA_NETPERF_LEN", "3"))
ROUNDS = int(os.environ.get("UOA_NETPERF_ROUNDS", "3"))
ALL_TESTS = ["TCP_STREAM", "TCP_RR", "TCP_CRR", "UDP_RR", "UDP_STREAM"]
TESTS = [t for t in os.environ.get("UOA_NETPERF_TESTS", ",".join(ALL_TESTS)).split(",") if t]
MODES = ["specified", "unspecified"]

# netperf -T: netperf's and netserver's CPUs. Both on one vCPU by default:
# under TCG every wake-up across vCPUs waits for the host to schedule the
# other vCPU thread, which on a busy host costs milliseconds a transaction.
CPUS = os.environ.get("UOA_NETPERF_CPUS", "0,0")

UID = 1011          # netperf's uid, always managed when the module is loaded
OTHER_UID = 1013    # never managed: probes that the hooks enforce
CLI_NS, SRV_NS = "npc", "nps"
CLI_DEV, SRV_DEV = "vc", "vs"
CLI_ADDR, SRV_ADDR = "10.77.0.1", "10.77.0.2"
PORT = 12865
UNITS = {"10^6bits/s": "Mbit/s", "Trans/s": "trans/s"}


def log(msg):
    print(msg, flush=True)


def sh(cmd, check=True, **kw):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        sys.exit(f"`{cmd}` failed ({p.returncode}): {(p.stderr or p.stdout).strip()[-800:]}")
    return p


def in_ns(ns, argv, uid=None):
    if uid is not None:
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"] + argv
    return ["ip", "netns", "exec", ns] + argv


def module_loaded():
    return os.path.isdir("/sys/module/uoa")


# --- the two namespaces and netserver ----------------------------------------

def setup_net():
    for ns in (CLI_NS, SRV_NS):
        sh(f"ip netns del {ns} 2>/dev/null; ip netns add {ns} && ip -n {ns} link set lo up")
    sh(f"ip link add {CLI_DEV} netns {CLI_NS} type veth peer name {SRV_DEV} netns {SRV_NS}")
    sh(f"ip -n {CLI_NS} addr add {CLI_ADDR}/24 dev {CLI_DEV} && ip -n {CLI_NS} link set {CLI_DEV} up")
    sh(f"ip -n {SRV_NS} addr add {SRV_ADDR}/24 dev {SRV_DEV} && ip -n {SRV_NS} link set {SRV_DEV} up")
    # TCP_CRR leaves a TIME_WAIT socket per transaction on the client.
    sh(f"ip netns exec {CLI_NS} sysctl -qw net.ipv4.ip_local_port_range='10000 65535'")
    out = open("/tmp/uoa-netserver.log", "w")
    srv = subprocess.Popen(in_ns(SRV_NS, ["netserver", "-D", "-p", str(PORT)]),
                           stdout=out, stderr=subprocess.STDOUT)
    for _ in range(100):
        if f":{PORT} " in sh(f"ip netns exec {SRV_NS} ss -Hltn").stdout:
            return srv
        time.sleep(0.1)
    sys.exit("netserver did not start: " + open("/tmp/uoa-netserver.log").read())


# --- configurations ------------------------------------------------------------

def entries_file(n):
    """uid 1011 owns the client address on the veth; n-1 others own a /32 each."""
    lines = [f"{CLI_ADDR} {UID} {UID} dev {CLI_DEV}\n"]
    for i in range(1, n):
        lines.append(f"10.{128 + (i >> 16)}.{i >> 8 & 255}.{i & 255} {2000 + i} {2000 + i}\n")
    fd, path = tempfile.mkstemp(prefix=f"uoa-netperf-{n}-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.writelines(lines)
    return path


def configure(n, files):
    """Module state for configuration n from scratch; returns apply's seconds."""
    if module_loaded():
        sh("rmmod uoa")
    if n == 0:
        return None
    sh(f"insmod {UOA_KO}")
    start = time.monotonic()
    sh(f"ip netns exec {CLI_NS} {UOAMAP} --no-routing apply {files[n]}")
    took = time.monotonic() - start
    st = json.loads(sh(f"ip netns exec {CLI_NS} {UOAMAP} -j status").stdout)
    if st["entries"] != n or st["uids"] != n:
        sys.exit(f"after apply for {n} uids the module reports {st['entries']} entries, {st['uids']} uids")
    return took


PROBE = r"""
import socket, sys
kind, addr = sys.argv[1], sys.argv[2]
try:
    if kind == "bind":
        s = socket.socket(); s.bind((addr, 0)); print("allowed")
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect((addr, 9))
        print(s.getsockname()[0])
except OSError as e:
    print(f"refused: {e.strerror}")
"""


def counters():
    """uid 1011's counters (what the module refused or changed), or None."""
    p = sh(f"ip netns exec {CLI_NS} {UOAMAP} -j show --stats {UID}", check=False)
    try:
        # Events only: the table's routes and limit are levels, not counts.
        return {k: v for c in json.loads(p.stdout)["counters"] for k, v in c.items()
                if k not in ("uid", "routes", "route_limit")}
    except (ValueError, KeyError, TypeError):
        return None


def probe(kind, addr, uid):
    p = subprocess.run(in_ns(CLI_NS, ["python3", "-c", PROBE, kind, addr], uid=uid),
                       capture_output=True, text=True)
    return (p.stdout.strip() or p.stderr.strip()[-200:])


# --- netperf -------------------------------------------------------------------

def netperf(test, mode, length):
    local = ["-L", CLI_ADDR] if mode == "specified" else []
    argv = ["netperf", "-P", "0", "-l", str(length), "-H", SRV_ADDR, "-p", str(PORT)] + local
    if CPUS:
        argv += ["-T", CPUS]
    argv += ["-t", test, "--", "-o", "THROUGHPUT,THROUGHPUT_UNITS", "-R", "1"]
    if mode == "specified":
        argv += ["-H", SRV_ADDR, "-L", CLI_ADDR]
    if test == "UDP_STREAM":
        argv += ["-m", "1400"]  # one datagram per packet on a 1500-byte MTU
    cmd = in_ns(CLI_NS, argv, uid=UID)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=length + 60)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {length + 60} s: {' '.join(cmd)}"
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    if p.returncode == 0 and lines:
        try:
            value, unit = lines[-1].split(",")[:2]
            return float(value), UNITS.get(unit.strip(), unit.strip()), None
        except ValueError:
            pass
    return None, None, (f"exit {p.returncode}: {' '.join(cmd)}\n  stdout: {p.stdout.strip()[-400:]}"
                        f"\n  stderr: {p.stderr.strip()[-400:]}")


# --- report --------------------------------------------------------------------

def spread(values):
    """(max - min) / median, in percent."""
    m = statistics.median(values)
    return (max(values) - min(values)) / m * 100 if m else float("nan")


def fmt_value(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"


def report(configs, results, units, applies, probes, stats, failures, took):
    loaded = [n for n in configs if n]
    out = []
    w = out.append
    w(f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; "
      f"{sh('netperf -V').stdout.strip()}; netperf and netserver pinned to "
      f"{'vCPUs ' + CPUS if CPUS else 'no vCPU'} (`-T`); {LEN} s per run, {ROUNDS} rounds; in each "
      f"round every test walks all configurations (every other walk reversed, the module "
      f"reloaded and its entries applied at each change), medians over the rounds; "
      f"guest time {took / 60:.1f} min.")
    w("")
    w(f"netperf runs as uid {UID} in the client namespace; netserver as root in the "
      f"server namespace; veth {CLI_ADDR} -> {SRV_ADDR}. *specified*: `netperf -L {CLI_ADDR}` "
      f"(global and test-specific: the control and data sockets bind it); "
      f"*unspecified*: the kernel picks the source. Entries are loaded with one "
      f"`uoamap --no-routing apply FILE` in the client namespace: uid {UID} owns "
      f"{CLI_ADDR} (dev {CLI_DEV}), the other N-1 uids (2000..) one /32 each from "
      f"10.128.0.0/9 that is on no interface. No policy-routing rules are installed "
      f"(`--no-routing`): with rules for 65,536 uids the `ip rule` list walk on every "
      f"route lookup would dominate the figures; this measures the hooks and the "
      f"module's lookups only.")
    w("")
    w("Ratio to the baseline (module not loaded), median over rounds; in brackets the "
      "lowest and highest per-round ratio (round r of N uids against round r of the "
      "baseline). Higher is better for all tests (throughput or transactions/s). "
      "Spread: ± half of (max - min) / median over rounds.")
    w("")
    w("| test | source | baseline (no module) | baseline spread |" + "".join(
        f" {n:,} uid{'s' if n > 1 else ''} |" for n in loaded))
    w("|" + "---|" * (4 + len(loaded)))
    for test in TESTS:
        for mode in MODES:
            base = results[(0, test, mode)]
            if len(base) < ROUNDS or not all(base):
                cells = [f"{test} | {mode} | failed | -"] + ["-"] * len(loaded)
                w("| " + " | ".join(cells) + " |")
                continue
            bmed = statistics.median(base)
            cells = [test, mode, f"{fmt_value(bmed)} {units.get(test, '')}", f"±{spread(base) / 2:.1f}%"]
            for n in loaded:
                vals = results[(n, test, mode)]
                if len(vals) < ROUNDS or not all(vals):
                    cells.append("failed")
                    continue
                paired = [v / b for v, b in zip(vals, base)]
                cells.append(f"{statistics.median(vals) / bmed:.3f} "
                             f"[{min(paired):.2f}-{max(paired):.2f}]")
            w("| " + " | ".join(cells) + " |")
    w("")
    w("Medians per configuration (N managed uids; 0: module not loaded) and their "
      "run-to-run spread:")
    w("")
    w("| test | source | " + " | ".join(f"N={n:,}" for n in configs) + " |")
    w("|" + "---|" * (2 + len(configs)))
    for test in TESTS:
        for mode in MODES:
            cells = [test, mode]
            for n in configs:
                vals = [v for v in results[(n, test, mode)] if v]
                cells.append(f"{fmt_value(statistics.median(vals))} ±{spread(vals) / 2:.1f}%"
                             if vals else "failed")
            w("| " + " | ".join(cells) + " |")
    w("")
    w("Setup per configuration (median over rounds): `uoamap --no-routing apply` time; probes in "
      f"the client namespace: uid {OTHER_UID} (unmanaged) binding {CLI_ADDR}, and the source "
      f"uid {UID} gets for {SRV_ADDR} (UDP connect); uid {UID}'s counters "
      f"(`uoamap show --stats`), summed over the run.")
    w("")
    w("| N | apply | uid %d binds %s | uid %d source | uid %d counters |" % (OTHER_UID, CLI_ADDR, UID, UID))
    w("|---|---|---|---|---|")
    for n in configs:
        a = f"{statistics.median(applies[n]) * 1000:,.0f} ms" if applies.get(n) else "-"
        b, s = probes.get(n, ("-", "-"))
        c = stats.get(n)
        c = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items()) if c else "-"
        w(f"| {n:,} | {a} | {b} | {s} | {c} |")
    if failures:
        w("")
        w(f"**{len(failures)} netperf run(s) failed**:")
        w("")
        for f_ in failures:
            w(f"- {f_}")
    return "\n".join(out)


def main():
    configs = sorted({0} | {int(a) for a in sys.argv[1:]})
    if any(configs) and not UOA_KO:
        sys.exit("UOA_KO is not set")
    for t in TESTS:
        if t not in ALL_TESTS:
            sys.exit(f"unknown test {t}: choose from {', '.join(ALL_TESTS)}")
    started = time.monotonic()
    srv = setup_net()
    files = {n: entries_file(n) for n in configs if n}
    log(f"configurations {configs}, tests {TESTS}, {LEN} s per run, {ROUNDS} rounds")

    # Warm-up, discarded: caches, netserver's first fork, TCG's code cache.
    configure(0, files)
    for test in TESTS:
        netperf(test, "unspecified", 1)

    results = {(n, t, m): [] for n in configs for t in TESTS for m in MODES}
    units, applies, probes, failures = {}, {}, {}, []
    stats = {n: {} for n in configs if n}
    current = None

    def leave():
        """Adds the counters of the configuration being left to its totals."""
        if current:
            c = counters()
            for k, v in (c or {}).items():
                stats[current][k] = stats[current].get(k, 0) + v
            if c is None:
                stats[current]["unreadable"] = stats[current].get("unreadable", 0) + 1

    walk = 0
    for r in range(ROUNDS):
        for ti, test in enumerate(TESTS):
            # One walk over all configurations per test, every other walk
            # reversed: a configuration and the baseline it is compared with
            # run within a minute of each other.
            order = configs if walk % 2 == 0 else configs[::-1]
            walk += 1
            for n in order:
                if n != current:
                    leave()
                    took = configure(n, files)
                    current = n
                    if took is not None:
                        applies.setdefault(n, []).append(took)
                if ti == 0:
                    probes[n] = (probe("bind", CLI_ADDR, OTHER_UID), probe("connect", SRV_ADDR, UID))
                    if n and probes[n][0] == "allowed":
                        log(f"WARNING: with {n} uids loaded, unmanaged uid {OTHER_UID} may bind "
                            f"{CLI_ADDR}: the hooks do not enforce")
                for mode in MODES:
                    value, unit, err = netperf(test, mode, LEN)
                    results[(n, test, mode)].append(value)
                    if err:
                        msg = f"round {r + 1}, N={n}, {test}, source {mode}: {err}"
                        failures.append(msg.replace("\n", " "))
                        log(f"FAILED {msg}")
                        log("  dmesg tail: " + " | ".join(sh("dmesg | tail -n 5").stdout.splitlines()))
                        continue
                    units[test] = unit
                    log(f"round {r + 1}/{ROUNDS}  N={n:<6} {mode:<11} {test:<10} "
                        f"{value:>12,.1f} {unit}")
    leave()
    log(f"uid {UID}'s counters, summed per configuration: {stats}")
    configure(0, files)
    srv.terminate()
    srv.wait()
    for path in files.values():
        os.unlink(path)
    for ns in (CLI_NS, SRV_NS):
        sh(f"ip netns del {ns}", check=False)

    table = report(configs, results, units, applies, probes, stats, failures,
                   time.monotonic() - started)
    log("")
    log("--- BEGIN NETPERF RESULTS ---")
    log(table)
    log("--- END NETPERF RESULTS ---")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
