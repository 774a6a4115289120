"""Runs inside the VM as root (bench/profile.sh): where the instructions of
a netperf transaction go, function by function, with the module not loaded
and with N managed uids, in the setting of bench/guest/netperf.py (same
namespaces, addresses, entries and policy routing; its functions are used).

Under QEMU's instruction counting the guest's clock counts instructions, so
`perf record -e cpu-clock -c P` takes a sample every P instructions: a
function's samples times P, divided by the transactions netperf counted, is
the instructions it costs a transaction (for UDP_STREAM a 1,400-byte datagram
received, for TCP_STREAM a 1,448-byte segment). netperf and netserver run on vCPU 0
(netperf -T 0,0) and perf samples only that vCPU, softirqs included.

    python3 bench/guest/profile.py N...       (0, the baseline, is always included)
    UOA_KO              the module
    UOA_PROFILE_TESTS   comma-separated netperf tests (default TCP_RR,UDP_RR)
    UOA_PROFILE_LEN     seconds per test (default 3)
    UOA_PROFILE_TOP     functions shown per test (default 30)
"""

import bisect
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netperf as np  # noqa: E402  (the benchmark's setup, shared)

TESTS = [t for t in os.environ.get("UOA_PROFILE_TESTS", "TCP_RR,UDP_RR").split(",") if t]
LEN = int(os.environ.get("UOA_PROFILE_LEN", "3"))
TOP = int(os.environ.get("UOA_PROFILE_TOP", "30"))
SOURCE = os.environ.get("UOA_PROFILE_SOURCE", "specified")   # netperf.py's mode
IDLE = ("pv_native_safe_halt", "default_idle", "acpi_safe_halt")
PERIOD = 100_000  # instructions a sample (a sample costs a few thousand)
DATA = "/tmp/uoa-profile.data"
# Kernel functions that UOA's hooks and rules bring in.
OURS = ("uoa", "rust_helper", "nf_hook", "fib_rule", "fib4_rule", "l3mdev", "xa_load", "fib_get_table",
        "fib_validate_source", "__fib_validate_source")


def module_symbols():
    """The module's functions by offset in its .text, sorted: perf finds no
    uoa.ko under /lib/modules and reports offsets."""
    syms = []
    for line in np.sh(f"objdump -t --demangle {np.UOA_KO}").stdout.splitlines():
        # 00000000000090f0 l     F .text	0000000000000440 uoa::local_out::local_out
        head, _, rest = line.partition("\t")
        fields = head.split()
        if len(fields) >= 3 and fields[-1] == ".text" and fields[-2] == "F":
            syms.append((int(fields[0], 16), rest.split(" ", 1)[1]))
    return sorted(syms)


def function_at(syms, addr):
    i = bisect.bisect_right([a for a, _ in syms], addr) - 1
    return syms[i][1] if i >= 0 else hex(addr)


# What a "transaction" is for a stream test: one datagram of the size
# bench/guest/netperf.py sends, or one full TCP segment.
UNIT_BYTES = {"UDP_STREAM": 1400, "TCP_STREAM": 1448}


def transactions_per_s(test, rate):
    """Transactions (or datagrams, or segments) a second from netperf's rate."""
    return rate * 1e6 / 8 / UNIT_BYTES[test] if test in UNIT_BYTES else rate


def profile(test, syms):
    """(rate, transactions, {(dso, symbol): instructions}) of `test`, source
    given, on vCPU 0: perf records a LEN-s window in the middle of a longer
    run. perf is not netperf's parent: UDP_STREAM under `perf record --
    netperf` never finished."""
    result = []
    run = threading.Thread(target=lambda: result.append(np.netperf(test, SOURCE, LEN + 6)))
    run.start()
    time.sleep(2)
    np.sh(f"perf record -q -e cpu-clock -c {PERIOD} -C 0 -o {DATA} -- sleep {LEN}")
    run.join()
    rate, _, err = result[0]
    if err:
        sys.exit(f"netperf {test} failed while perf recorded: {err}")
    transactions = transactions_per_s(test, rate) * LEN
    rep = np.sh(f"perf report -i {DATA} --stdio -q --no-children --sort dso,sym "
                f"-F sample,dso,sym --field-separator=';'").stdout
    cost = {}
    for line in rep.splitlines():
        parts = [x.strip() for x in line.split(";")]
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        samples, dso, sym = int(parts[0]), parts[1], parts[2].removeprefix("[k] ").removeprefix("[.] ")
        if dso == "[uoa]" and sym.startswith("0x"):
            sym = function_at(syms, int(sym, 16))
        cost[(dso, sym)] = cost.get((dso, sym), 0) + samples * PERIOD
    idle = sum(v for (_, sym), v in cost.items() if sym in IDLE)
    if idle > sum(cost.values()) / 2:
        sys.exit(f"netperf {test}: vCPU 0 was idle for most of perf's window; it missed the run")
    return rate, transactions, cost


def main():
    counts = sorted({0} | {int(a) for a in sys.argv[1:]})
    if any(c > 0 for c in counts) and not np.UOA_KO:
        sys.exit("UOA_KO is not set")
    np.TESTS = TESTS
    syms = module_symbols() if np.UOA_KO else []
    # perf's first start reads every kernel symbol, seconds under TCG: not
    # inside a measured window.
    np.sh(f"perf record -q -o {DATA} -- true")
    srv = np.setup_net()
    np.setup_other_addresses(max(counts))
    files = {n: np.entries_file(n) for n in counts if n > 0}
    np.configure(0, files)
    for test in TESTS:  # warm-up, discarded
        np.netperf(test, SOURCE, 1)
    runs = {}
    for c in counts:
        np.configure(c, files)
        for test in TESTS:
            runs[(c, test)] = profile(test, syms)
            rate, transactions, cost = runs[(c, test)]
            np.log(f"N={c} {test}: {rate:,.1f} per s, {sum(cost.values()) / transactions:,.0f} "
                   "instructions a transaction on vCPU 0")
    np.configure(0, files)
    srv.terminate()
    srv.wait()
    for path in files.values():
        os.unlink(path)
    for ns in (np.CLI_NS, np.SRV_NS):
        np.sh(f"ip netns del {ns}", check=False)

    lines = []
    w = lines.append
    source = "given (`-L`)" if SOURCE == "specified" else "left to the kernel"
    w(f"Guest kernel {os.uname().release}; one {LEN}-s run per test and configuration, source "
      f"{source}, netperf and netserver on vCPU 0; `perf record -e cpu-clock -c {PERIOD} -C 0` "
      "under instruction counting: instructions per transaction, by function (kernel and module "
      "symbols; `[uoa]` is the module).")
    for test in TESTS:
        per = {c: {k: v / runs[(c, test)][1] for k, v in runs[(c, test)][2].items()} for c in counts}
        keys = set().union(*(p.keys() for p in per.values()))
        top = sorted(keys, key=lambda k: -max(p.get(k, 0) for p in per.values()))[:TOP]
        w("")
        w(f"### {test}")
        w("")
        w("| function | " + " | ".join("no module" if c == 0 else f"N={c:,}" for c in counts) + " |")
        w("|---|" + "---:|" * len(counts))
        w("| **all, per transaction** | " + " | ".join(f"**{sum(per[c].values()):,.0f}**" for c in counts) + " |")
        w("| **module `[uoa]`** | " + " | ".join(
            f"**{sum(v for (d, _), v in per[c].items() if d == '[uoa]'):,.0f}**" for c in counts) + " |")
        w(f"| rate ({'Mbit/s' if test in UNIT_BYTES else 'per s'}) | " + " | ".join(f"{runs[(c, test)][0]:,.0f}" for c in counts) + " |")
        for k in top:
            name = k[1] if k[0] in ("[kernel.kallsyms]", "[uoa]") else f"{k[1]} ({k[0]})"
            if k[0] == "[uoa]":
                name = "uoa: " + name
            w(f"| `{name[:90]}` | " + " | ".join(f"{per[c].get(k, 0):,.0f}" for c in counts) + " |")
        # What UOA adds, however small: the module, the core's hooks and
        # helpers, netfilter's call, policy routing.
        ours = sorted((k for k in keys if k not in top and (k[0] == "[uoa]" or any(
            m in k[1] for m in OURS))), key=lambda k: -max(p.get(k, 0) for p in per.values()))
        if ours:
            w("")
            w(f"{test}, the rest of the module, the hook core, netfilter and policy routing:")
            w("")
            w("| function | " + " | ".join("no module" if c == 0 else f"N={c:,}" for c in counts) + " |")
            w("|---|" + "---:|" * len(counts))
            for k in ours:
                name = ("uoa: " if k[0] == "[uoa]" else "") + k[1]
                w(f"| `{name[:90]}` | " + " | ".join(f"{per[c].get(k, 0):,.0f}" for c in counts) + " |")
    np.log("")
    np.log("--- BEGIN PROFILE ---")
    np.log("\n".join(lines))
    np.log("--- END PROFILE ---")


if __name__ == "__main__":
    main()
