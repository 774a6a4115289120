"""Runs inside the VM as root (bench/provision.sh): provisions N slices both
ways and prints a table, as markdown and as JSON.

A UOA slice is an address configured on an interface, an entry `ADDR UID
TABLE dev IFACE`, and the uid's table holding the address's connected
route. The addresses are configured before the timed part (a netns slice's
address is not counted either): /32s on dummy interfaces, at most 1,024 a
dummy, as IPv4 address insertion walks the device's list. One timed
`uoamap apply FILE` adds the entries, the rules (two l3mdev rules per
family, whatever N) and the N routes; a timed `uoamap flush` takes them
away. A netns slice is a network namespace plus a veth pair (`ip -batch`),
the paper's competitor; at most UOA_NETNS_CAP of them, the per-slice
figures coming from that count.

Kernel memory is Slab + VmallocUsed from /proc/meminfo, read after
dropping caches, before and after; for UOA, whose policy is too small for
that to see at low N, also the module's own count of the bytes its policy
holds (UOA_A_STATUS_MEMORY).

    UOA_KO=... [UOA_NETNS_CAP=4000] [UOA_PROVISION_ROUNDS=3] python3 bench/guest/provision.py N...
"""

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Run from the guest's own /tmp: an exec over the VM's 9p root costs a
# quarter of a second under TCG, which a host's local disk does not.
UOAMAP = "/tmp/uoamap"
FIRST_UID = 100000      # slice i is uid and table FIRST_UID + i
PER_DUMMY = 1024
MAX_RULES = 6           # `ip -4 rule` lines: the 3 stock ones, UOA's 2, 1 to spare
# Timed UOA runs per size (after a warm-up): the table gives their median and
# range. A netns side of 1,000 slices takes a minute; it is measured once.
ROUNDS = int(os.environ.get("UOA_PROVISION_ROUNDS", "3"))


def log(msg):
    print(msg, flush=True)


def run(argv, **kw):
    """Runs a timed tool directly, not through a shell: what an
    administrator waits for is the tool, not /bin/sh starting."""
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"`{' '.join(argv)}` failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return p


def sh(cmd, **kw):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"`{cmd}` failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return p


def kernel_kb():
    sh("sync; echo 3 > /proc/sys/vm/drop_caches")
    fields = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            fields[k] = int(v.split()[0])
    return fields["Slab"] + fields["VmallocUsed"]


def cpu_times():
    """(idle, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[3] + fields[4], sum(fields)


def settle(what):
    """Waits until the kernel has finished tearing down `what`: `ip netns
    del` returns before the namespace goes, its cleanup runs afterwards in
    a workqueue, holding the RTNL lock for long stretches. Without this,
    the UOA run after a netns run shared the machine with thousands of
    namespaces going away (1,000 slices' apply took 0.21 s in one run and
    3.43 s in the next). Settled: the CPUs 90% idle for three seconds in a
    row (Slab stops shrinking long before the cleanup ends); at most two
    minutes, and the log says which."""
    start = time.monotonic()
    quiet, busy = 0, []
    idle, total = cpu_times()
    while quiet < 3 and time.monotonic() - start < 120:
        time.sleep(1)
        idle2, total2 = cpu_times()
        busy.append(1 - (idle2 - idle) / max(total2 - total, 1))
        quiet = quiet + 1 if busy[-1] < 0.10 else 0
        idle, total = idle2, total2
    state = "settled" if quiet >= 3 else "still busy"
    log(f"{what}: {state} after {time.monotonic() - start:.1f} s "
        f"(CPU busy each second: {' '.join(f'{b:.0%}' for b in busy[-8:])})")


def warm_exec():
    """Brings the shell, uoamap, ip and libc back into the page cache that
    kernel_kb() just dropped: otherwise the timed part starts by reading
    them over the VM's 9p root (a third of a second under TCG), a cost of
    this VM, the same for any N, not of provisioning."""
    sh(f"{UOAMAP} --version && ip -V")


def measure(setup, teardown, inspect=lambda: None):
    """(setup's seconds, kernel bytes it took, what inspect saw after it,
    teardown's seconds)."""
    before = kernel_kb()
    warm_exec()
    start = time.monotonic()
    setup()
    took = time.monotonic() - start
    used = kernel_kb() - before
    seen = inspect()
    warm_exec()
    start = time.monotonic()
    teardown()
    return took, used * 1024, seen, time.monotonic() - start


def address(i):
    return f"10.{128 + (i >> 16)}.{i >> 8 & 255}.{i & 255}"


def dummy(i):
    return f"dum{i // PER_DUMMY}"


def dummies(n):
    return [dummy(i) for i in range(0, n, PER_DUMMY)]


def add_addresses(n):
    script = "".join(f"link add {d} type dummy\nlink set {d} up\n" for d in dummies(n))
    script += "".join(f"addr add {address(i)}/32 dev {dummy(i)}\n" for i in range(n))
    sh("ip -batch -", input=script)


def check_routing(n):
    """Exits unless sampled tables hold their slice's route and the rules
    stay few; returns (`ip -4 rule` lines, routes in all tables)."""
    for i in sorted({0, n // 2, n - 1}):
        table, addr, dev = FIRST_UID + i, address(i), dummy(i)
        routes = sh(f"ip -4 route show table {table}").stdout.splitlines()
        if not any(r.split()[:3] in ([addr, "dev", dev], [f"{addr}/32", "dev", dev]) for r in routes):
            sys.exit(f"N={n}: table {table} does not hold {addr}/32 dev {dev}: {routes}")
    rules = len(sh("ip -4 rule show").stdout.splitlines())
    if rules > MAX_RULES:
        sys.exit(f"N={n}: `ip -4 rule show` has {rules} lines, more than {MAX_RULES}")
    return rules, len(sh("ip -4 route show table all").stdout.splitlines())


def uoa_slices(n):
    """(apply's seconds, kernel bytes, (module bytes, rule lines, routes),
    flush's seconds) for n UOA slices."""
    add_addresses(n)
    lines = "".join(f"{address(i)} {FIRST_UID + i} {FIRST_UID + i} dev {dummy(i)}\n" for i in range(n))
    fd, path = tempfile.mkstemp(prefix=f"uoa-provision-{n}-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(lines)
    apply = lambda: run([UOAMAP, "apply", path])
    gone = lambda: run([UOAMAP, "flush"])

    def inspect():
        module_bytes = json.loads(sh(f"{UOAMAP} -j status").stdout)["memory_bytes"]
        return (module_bytes, *check_routing(n))

    measure(apply, gone)  # warm-up: page cache, slab caches
    runs = [measure(apply, gone, inspect) for _ in range(ROUNDS)]
    os.unlink(path)
    sh("ip -batch -", input="".join(f"link del {d}\n" for d in dummies(n)))
    applies = sorted(r[0] for r in runs)
    _, used, seen, _ = runs[0]
    return applies, used, seen, median([r[3] for r in runs])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def netns_slices(n):
    script = "".join(
        f"netns add s{i}\nlink add v{i} type veth peer name e0 netns s{i}\n" for i in range(n)
    )
    teardown = "".join(f"link del v{i}\nnetns del s{i}\n" for i in range(n))
    # `ip -batch` keeps a descriptor per namespace it made.
    batch = ["ip", "-batch", "-"]
    took = measure(lambda: run(batch, input=script), lambda: run(batch, input=teardown))
    settle(f"{n} namespaces deleted")
    return took


def report(rows, cap, took):
    out = []
    w = out.append
    w(f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; guest time {took / 60:.1f} min. "
      f"A UOA slice: a /32 on a dummy interface ({PER_DUMMY:,} a dummy, configured before the "
      f"timed part, as a netns slice's address is not counted either), its entry "
      f"`ADDR UID TABLE dev dumK` and its table holding the address's connected route; "
      f"entries, rules (two l3mdev rules per family, whatever N) and routes added by one timed "
      f"`uoamap apply FILE` and removed by one timed `uoamap flush` (uoamap copied to the "
      f"guest's /tmp first: an exec over the VM's 9p root costs a quarter second), after a "
      f"warm-up, {ROUNDS} times: the median, the range in brackets. A netns slice: a network "
      f"namespace and a veth pair (`ip -batch`); at most {cap:,} of them, so the netns figures "
      f"are per slice from the capped count, after one discarded warm-up of as many (the "
      f"first time the guest's slabs grow that far, QEMU faults in and zeroes host memory "
      f"behind them, which made a netns slice 53 ms in one part of a run and 11 ms in the "
      f"next). Kernel memory: Slab + VmallocUsed before and after, "
      f"caches dropped; for UOA also the module's own count. Ratios: netns per slice over "
      f"UOA's apply per slice, memory over the larger of UOA's two.")
    w("")
    w("| slices | UOA apply µs/slice (range) | UOA flush µs/slice | UOA B/slice (module) "
      "| UOA B/slice (slab) | `ip -4 rule` lines | routes, all tables | netns+veth slices "
      "| netns µs/slice | netns B/slice (slab) | time ratio | memory ratio |")
    w("|" + "---|" * 12)
    for r in rows:
        n, m = r["slices"], r["netns_slices"]
        u_t, n_t = r["uoa_apply_s"] / n * 1e6, r["netns_s"] / m * 1e6
        lo, hi = (min(r["uoa_apply_s_runs"]) / n * 1e6, max(r["uoa_apply_s_runs"]) / n * 1e6)
        w(f"| {n:,} | {u_t:,.1f} ({lo:,.1f}-{hi:,.1f}) | {r['uoa_flush_s'] / n * 1e6:,.1f} "
          f"| {r['uoa_module_bytes'] / n:,.0f} | {r['uoa_slab_bytes'] / n:,.0f} "
          f"| {r['ip_rule_lines']} | {r['routes_all_tables']:,} | {m:,} | {n_t:,.0f} "
          f"| {r['netns_slab_bytes'] / m:,.0f} | {r['time_ratio']:,.0f}x | {r['memory_ratio']:,.0f}x |")
    return "\n".join(out)


def main():
    sizes = [int(a) for a in sys.argv[1:]]
    if not sizes or min(sizes) < 1:
        sys.exit("usage: provision.py N... (N >= 1)")
    started = time.monotonic()
    sh(f"insmod {os.environ['UOA_KO']}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1048576, 1048576))
    sh(f"cp {os.path.join(ROOT, 'target/release/uoamap')} {UOAMAP}")
    cap = int(os.environ.get("UOA_NETNS_CAP", "4000"))
    # The netns side's warm-up, discarded, as UOA's side has one per size:
    # the first time the guest's kernel grows its slabs to a few thousand
    # namespaces' worth, QEMU faults in and zeroes host memory behind them,
    # which real hardware does not do.
    warm = min(max(sizes), cap)
    log(f"netns warm-up: {warm} slices {netns_slices(warm)[0]:.2f} s (not counted)")
    rows = []
    for n in sizes:
        applies, u_slab, (u_module, rules, routes), uf = uoa_slices(n)
        ut = median(applies)
        log(f"N={n}: UOA apply {ut:.2f} s ({applies[0]:.2f}-{applies[-1]:.2f}), flush {uf:.2f} s, "
            f"slab {u_slab:,} B, module {u_module:,} B, "
            f"{rules} rule lines, {routes:,} routes")
        m = min(n, cap)
        nt, n_slab, _, _ = netns_slices(m)
        log(f"N={n}: {m} netns slices {nt:.2f} s, slab {n_slab:,} B")
        rows.append({
            "slices": n,
            "uoa_apply_s": ut,
            "uoa_apply_s_runs": applies,
            "uoa_flush_s": uf,
            "uoa_module_bytes": u_module,
            "uoa_slab_bytes": u_slab,
            "ip_rule_lines": rules,
            "routes_all_tables": routes,
            "netns_slices": m,
            "netns_s": nt,
            "netns_slab_bytes": n_slab,
            "time_ratio": (nt / m) / (ut / n),
            "memory_ratio": (n_slab / m) / (max(u_module, u_slab) / n),
        })
    log("")
    log("--- BEGIN PROVISION RESULTS ---")
    log(report(rows, cap, time.monotonic() - started))
    log("--- END PROVISION RESULTS ---")
    log("--- BEGIN PROVISION JSON ---")
    log(json.dumps({
        "rows": rows,
        "netns_cap": cap,
        "addresses_per_dummy": PER_DUMMY,
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }, indent=1))
    log("--- END PROVISION JSON ---")


if __name__ == "__main__":
    main()
