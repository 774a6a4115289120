"""Runs inside the VM as root (bench/shaping.sh): what per-user shaping costs.

The network and netperf runs are bench/guest/netperf.py's: netperf as uid
1011 in the client namespace, netserver as root behind a veth. For each N,
the module holds N managed uids (1011 on the veth, N-1 others with a /32
each, `uoamap --no-routing apply`), and two states alternate:

- *plain*: no qdisc of UOA's (the veth's default, noqueue);
- *shaped*: `uoamap rate` for all N uids on the veth, both ways: an HTB with
  N classes on the veth (the module writes each packet's class into
  skb->priority), the veth's ingress redirected to the IFB in-vc with an HTB
  of N classes and N flower filters on destination addresses. uid 1011's
  rate is 5gbit with a 10gbit ceiling, far above what the guest carries, so
  the classes classify and count but never hold a packet back.

Reported: netperf's rate shaped / plain per round (median and range), and
for going plain -> shaped: `uoamap apply`'s time and the kernel memory it
took (Slab + VmallocUsed from /proc/meminfo) per shaped uid.

    python3 bench/guest/shaping.py N...    (default 1 4096 65533)
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netperf as np  # noqa: E402

TESTS = [t for t in os.environ.get("UOA_SHAPING_TESTS", "TCP_RR,UDP_RR,TCP_STREAM").split(",") if t]
MODE = "specified"
ROUNDS = np.ROUNDS
LEN = np.LEN


def log(msg):
    print(msg, flush=True)


def kernel_kib():
    fields = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            fields[k] = int(v.split()[0])
    return fields["Slab"] + fields["VmallocUsed"]


def files_for(n):
    """(entries only, entries + rates) config files for n uids."""
    with open(np.entries_file(n)) as f:
        entries = f.read()
    rates = [f"rate {np.UID} dev {np.CLI_DEV} out 5gbit ceil 10gbit in 5gbit ceil 10gbit\n"]
    for i in range(1, n):
        rates.append(f"rate {2000 + i} dev {np.CLI_DEV} out 8kbit ceil 10gbit in 8kbit ceil 10gbit\n")
    paths = []
    for text in (entries, entries + "".join(rates)):
        fd, path = tempfile.mkstemp(prefix=f"uoa-shaping-{n}-", suffix=".conf")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        paths.append(path)
    return paths


def apply(path):
    start = time.monotonic()
    np.sh(f"ip netns exec {np.CLI_NS} {np.UOAMAP} --no-routing apply {path}")
    return time.monotonic() - start


def classes(dev):
    out = np.sh(f"ip netns exec {np.CLI_NS} tc class show dev {dev}").stdout
    return sum(1 for line in out.splitlines() if line.startswith("class htb"))


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1, 4096, 65533]
    started = time.monotonic()
    srv = np.setup_net()
    np.sh(f"insmod {np.UOA_KO}")
    for test in TESTS:
        np.netperf(test, MODE, 1)  # warm-up, discarded
    rows, setup = [], []
    for n in sizes:
        plain, shaped = files_for(n)
        apply(plain)
        results = {(s, t): [] for s in ("plain", "shaped") for t in TESTS}
        times, mem = [], []
        for r in range(ROUNDS):
            for state in ("plain", "shaped") if r % 2 == 0 else ("shaped", "plain"):
                if state == "shaped":
                    before = kernel_kib()
                    times.append(apply(shaped))
                    mem.append(kernel_kib() - before)
                    got = (classes(np.CLI_DEV), classes("in-" + np.CLI_DEV))
                    if got != (n + 2, n + 2):
                        sys.exit(f"N={n}: {got} classes on vc and in-vc, want {n + 2} each")
                else:
                    apply(plain)
                for test in TESTS:
                    value, unit, err = np.netperf(test, MODE, LEN)
                    if err:
                        sys.exit(f"N={n} {state} {test}: {err}")
                    results[(state, test)].append(value)
                    log(f"round {r + 1}/{ROUNDS} N={n:<6} {state:<7} {test:<10} {value:>12,.1f} {unit}")
        for test in TESTS:
            p, s = results[("plain", test)], results[("shaped", test)]
            ratios = [b / a for a, b in zip(p, s)]
            rows.append((n, test, statistics.median(p), statistics.median(s),
                         statistics.median(ratios), min(ratios), max(ratios)))
        setup.append((n, statistics.median(times), statistics.median(mem)))
        apply(plain)
        os.unlink(plain)
        os.unlink(shaped)
    srv.terminate()
    srv.wait()
    out = []
    w = out.append
    w(f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; netperf as uid {np.UID}, "
      f"source given, {LEN} s per run, {ROUNDS} rounds alternating plain and shaped "
      f"(every other round reversed); guest time {(time.monotonic() - started) / 60:.1f} min.")
    w("")
    w("| shaped uids | test | plain (no UOA qdisc) | shaped (HTB out, IFB + HTB + flower in) "
      "| ratio shaped/plain, median [range over rounds] |")
    w("|---|---|---|---|---|")
    for n, test, p, s, med, lo, hi in rows:
        w(f"| {n:,} | {test} | {p:,.1f} | {s:,.1f} | {med:.3f} [{lo:.3f}-{hi:.3f}] |")
    w("")
    w("| shaped uids | `uoamap apply` plain -> shaped | per uid | kernel memory (Slab + VmallocUsed) | per uid |")
    w("|---|---|---|---|---|")
    for n, t, m in setup:
        w(f"| {n:,} | {t:.2f} s | {t / n * 1e6:,.0f} µs | {m / 1024:,.1f} MiB | {m * 1024 / n:,.0f} B |")
    log("")
    log("--- BEGIN SHAPING RESULTS ---")
    log("\n".join(out))
    log("--- END SHAPING RESULTS ---")


if __name__ == "__main__":
    main()
