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

Two parts, each in a boot of its own (bench/shaping.sh):

- `netperf`: netperf's rate shaped / plain per round (median and range),
  under instruction counting;
- `provision`: for going plain -> shaped and back, `uoamap apply`'s time
  and the kernel memory it took (Slab + VmallocUsed from /proc/meminfo) per
  shaped uid, under plain TCG: with instruction counting the guest's clock
  leaps ahead whenever the guest waits (an RCU grace period, a workqueue),
  so waiting would be counted as seconds.

    UOA_SHAPING_PART=netperf|provision python3 bench/guest/shaping.py N...
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


def files_for(n, download=True):
    """(entries only, entries + rates) config files for n uids; the rates
    both ways, or upload only."""
    with open(np.entries_file(n)) as f:
        entries = f.read()
    way = (lambda r: f"out {r} ceil 10gbit in {r} ceil 10gbit") if download else (
        lambda r: f"out {r} ceil 10gbit")
    rates = [f"rate {np.UID} dev {np.CLI_DEV} {way('5gbit')}\n"]
    for i in range(1, n):
        rates.append(f"rate {2000 + i} dev {np.CLI_DEV} {way('8kbit')}\n")
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


def provision(sizes):
    srv = np.setup_net()
    np.sh(f"insmod {np.UOA_KO}")
    out = ["| shaped uids | `uoamap apply`: plain -> shaped | per uid | shaped -> plain "
           "| kernel memory (Slab + VmallocUsed) | per uid |",
           "|---|---|---|---|---|---|"]
    for n in sizes:
        plain, shaped = files_for(n)
        apply(plain)
        ups, downs, mem = [], [], []
        for _ in range(ROUNDS):
            before = kernel_kib()
            ups.append(apply(shaped))
            mem.append(kernel_kib() - before)
            got = (classes(np.CLI_DEV), classes("in-" + np.CLI_DEV))
            if got != (n + 2, n + 2):
                sys.exit(f"N={n}: {got} classes on vc and in-vc, want {n + 2} each")
            downs.append(apply(plain))
            log(f"N={n:<6} up {ups[-1]:.2f} s down {downs[-1]:.2f} s memory {mem[-1]} KiB")
        up, down, m = statistics.median(ups), statistics.median(downs), statistics.median(mem)
        out.append(f"| {n:,} | {up:.2f} s | {up / n * 1e6:,.0f} µs | {down:.2f} s "
                   f"| {m / 1024:,.1f} MiB | {m * 1024 / n:,.0f} B |")
        os.unlink(plain)
        os.unlink(shaped)
    srv.terminate()
    srv.wait()
    return out


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1, 4096, 16384]
    started = time.monotonic()
    if os.environ.get("UOA_SHAPING_PART") == "provision":
        out = provision(sizes)
        out.insert(0, f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; "
                      f"medians over {ROUNDS} rounds; guest time {(time.monotonic() - started) / 60:.1f} min.\n")
        log("")
        log("--- BEGIN SHAPING RESULTS ---")
        log("\n".join(out))
        log("--- END SHAPING RESULTS ---")
        return
    srv = np.setup_net()
    np.sh(f"insmod {np.UOA_KO}")
    for test in TESTS:
        np.netperf(test, MODE, 1)  # warm-up, discarded
    rows = []
    states = ("plain", "upload", "shaped")
    for n in sizes:
        plain, shaped = files_for(n)
        _, upload = files_for(n, download=False)
        apply(plain)
        results = {(s, t): [] for s in states for t in TESTS}
        for r in range(ROUNDS):
            for state in states if r % 2 == 0 else states[::-1]:
                if state == "shaped":
                    apply(shaped)
                    got = (classes(np.CLI_DEV), classes("in-" + np.CLI_DEV))
                    if got != (n + 2, n + 2):
                        sys.exit(f"N={n}: {got} classes on vc and in-vc, want {n + 2} each")
                elif state == "upload":
                    apply(upload)
                    if classes(np.CLI_DEV) != n + 2:
                        sys.exit(f"N={n}: upload only, not {n + 2} classes on vc")
                else:
                    apply(plain)
                for test in TESTS:
                    value, unit, err = np.netperf(test, MODE, LEN)
                    if err:
                        sys.exit(f"N={n} {state} {test}: {err}")
                    results[(state, test)].append(value)
                    log(f"round {r + 1}/{ROUNDS} N={n:<6} {state:<7} {test:<10} {value:>12,.1f} {unit}")
        for test in TESTS:
            p = results[("plain", test)]
            row = [n, test, statistics.median(p)]
            for state in ("upload", "shaped"):
                ratios = [b / a for a, b in zip(p, results[(state, test)])]
                row.append((statistics.median(ratios), min(ratios), max(ratios)))
            rows.append(row)
        apply(plain)
        for f in (plain, shaped, upload):
            os.unlink(f)
    srv.terminate()
    srv.wait()
    out = []
    w = out.append
    w(f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; netperf as uid {np.UID}, "
      f"source given, {LEN} s per run, {ROUNDS} rounds walking plain, upload, shaped "
      f"(every other round reversed); guest time {(time.monotonic() - started) / 60:.1f} min. "
      f"Ratios to *plain* (no UOA qdisc), median [range over rounds]; *upload*: the HTB on the "
      f"veth only; *both ways*: plus the IFB with its HTB and flower filters.")
    w("")
    w("| shaped uids | test | plain | upload shaped | both ways shaped |")
    w("|---|---|---|---|---|")
    for n, test, p, up, both in rows:
        cells = [f"{m:.3f} [{lo:.3f}-{hi:.3f}]" for m, lo, hi in (up, both)]
        w(f"| {n:,} | {test} | {p:,.1f} | {cells[0]} | {cells[1]} |")
    log("")
    log("--- BEGIN SHAPING RESULTS ---")
    log("\n".join(out))
    log("--- END SHAPING RESULTS ---")


if __name__ == "__main__":
    main()
