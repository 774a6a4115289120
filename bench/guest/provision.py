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
figures coming from that count. Both sides are timed the first time
(the kernel's caches grow) and again: UOA's apply after a flush, the
namespaces in batches up to each count in turn, then the same right after
deleting the first ones. Every UOA size runs before the first
namespace: a namespace's teardown goes on in the kernel for minutes after
`ip netns del`, beside whatever runs next.

Address-space randomisation is off in the guest while it runs
(UOA_PROVISION_ASLR=1 keeps it): QEMU's TCG keys the code it translates by
virtual address, so with it every run of a tool translates everything it
executes anew, tens of milliseconds a start that a real CPU does not pay.

Kernel memory is Slab + VmallocUsed from /proc/meminfo, read after
dropping caches, before and after; for UOA, whose policy is too small for
that to see at low N, also the module's own count of the bytes its policy
holds (UOA_A_STATUS_MEMORY).

    UOA_KO=... [UOA_NETNS_CAP=4000] [UOA_PROVISION_ROUNDS=5] [UOA_PROVISION_ASLR=0] python3 bench/guest/provision.py N...
"""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Both sides' tools run from the guest's own memory (tmpfs), with their
# shared libraries: the VM's root is the host's file system over 9p, where
# each open is a round trip to QEMU that a host's local disk does not make
# (`ip -V` took 105 ms from 9p and 50 ms from /tmp here).
LOCAL = "/tmp/uoa-provision-bin"
FIRST_UID = 100000      # slice i is uid and table FIRST_UID + i
PER_DUMMY = 1024
MAX_RULES = 6           # `ip -4 rule` lines: the 3 stock ones, UOA's 2, 1 to spare
# Timed UOA runs per size (after a warm-up): the table gives their median and
# range. A netns side of 1,000 slices takes a minute; it is measured once.
ROUNDS = int(os.environ.get("UOA_PROVISION_ROUNDS", "5"))
ASLR = os.environ.get("UOA_PROVISION_ASLR", "0") == "1"


def local_tool(path):
    """Copies `path` and the shared libraries it loads to LOCAL; returns
    the argv prefix that runs it from there (its loader named, so that
    nothing is looked up on the 9p root)."""
    os.makedirs(LOCAL, exist_ok=True)
    loader = None
    for line in subprocess.run(["ldd", path], capture_output=True, text=True, check=True).stdout.splitlines():
        found = re.search(r"(/\S+) \(0x", line)
        if not found:
            continue
        lib = os.path.join(LOCAL, os.path.basename(found.group(1)))
        shutil.copy(os.path.realpath(found.group(1)), lib)
        if "ld-linux" in lib:
            loader = lib
    tool = os.path.join(LOCAL, os.path.basename(path))
    shutil.copy(path, tool)
    if loader is None:
        sys.exit(f"ldd {path} names no loader")
    return [loader, "--library-path", LOCAL, tool]


UOAMAP = []  # set by main(): local_tool(uoamap)
IP = []      # and local_tool(ip)


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


STARTS = 9  # runs of each tool timed for the fixed cost of a process


def process_start(tool):
    """Median seconds of one run of `tool` that does nothing (`--version`),
    start to exit: what every run of it pays before its first slice."""
    times = []
    for _ in range(STARTS):
        start = time.monotonic()
        run(tool)
        times.append(time.monotonic() - start)
    return median(times)


def warm_exec():
    """Runs both tools once after kernel_kb() dropped the caches, so that
    the timed part does not start by filling what the drop emptied (the
    dentries on the way to them, what they read at start), a cost of this
    VM, the same for any N, not of provisioning."""
    run(UOAMAP + ["--version"])
    run(IP + ["-V"])


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
        routes = run(IP + ["-4", "route", "show", "table", str(table)]).stdout.splitlines()
        if not any(r.split()[:3] in ([addr, "dev", dev], [f"{addr}/32", "dev", dev]) for r in routes):
            sys.exit(f"N={n}: table {table} does not hold {addr}/32 dev {dev}: {routes}")
    rules = len(run(IP + ["-4", "rule", "show"]).stdout.splitlines())
    if rules > MAX_RULES:
        sys.exit(f"N={n}: `ip -4 rule show` has {rules} lines, more than {MAX_RULES}")
    return rules, len(run(IP + ["-4", "route", "show", "table", "all"]).stdout.splitlines())


def warm_up_uoa():
    """Applies and flushes one slice (uid and table FIRST_UID - 1 on the
    first slice's address): under TCG the first run of a code path, the
    tool's or the kernel's, is translated, a cost a real CPU does not have
    and that would otherwise land on the first timed size alone."""
    add_addresses(1)
    with tempfile.NamedTemporaryFile("w", prefix="uoa-provision-warm-", suffix=".conf") as f:
        f.write(f"{address(0)} {FIRST_UID - 1} {FIRST_UID - 1} dev {dummy(0)}\n")
        f.flush()
        run(UOAMAP + ["apply", f.name])
    run(UOAMAP + ["flush"])
    sh("ip -batch -", input="".join(f"link del {d}\n" for d in dummies(1)))


def warm_up_netns():
    """The same for the other side: one namespace and veth pair, made and
    deleted before the first timed batch."""
    run(IP + ["-batch", "-"], input="netns add w0\nlink add wv0 type veth peer name e0 netns w0\n")
    run(IP + ["-batch", "-"], input="link del wv0\nnetns del w0\n")


def uoa_slices(n):
    """(the first apply's seconds, the next applies' seconds, kernel bytes,
    (module bytes, rule lines, routes), flush's seconds) for n UOA slices."""
    add_addresses(n)
    lines = "".join(f"{address(i)} {FIRST_UID + i} {FIRST_UID + i} dev {dummy(i)}\n" for i in range(n))
    fd, path = tempfile.mkstemp(prefix=f"uoa-provision-{n}-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(lines)
    apply = lambda: run(UOAMAP + ["apply", path])
    gone = lambda: run(UOAMAP + ["flush"])

    def inspect():
        module_bytes = json.loads(run(UOAMAP + ["-j", "status"]).stdout)["memory_bytes"]
        return (module_bytes, *check_routing(n))

    first = measure(apply, gone)[0]  # the kernel's caches grow: not again
    runs = [measure(apply, gone, inspect) for _ in range(ROUNDS)]
    os.unlink(path)
    sh("ip -batch -", input="".join(f"link del {d}\n" for d in dummies(n)))
    applies = sorted(r[0] for r in runs)
    _, used, seen, _ = runs[0]
    return first, applies, used, seen, median([r[3] for r in runs])


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def netns_slices(counts, name):
    """{m: (seconds, kernel bytes)} of having made m netns slices, for each
    m of `counts` in turn, the namespaces of one count kept for the next
    (m's time is the sum of the batches up to it); namespace i is
    `{name}{i}`, its veth `{name}v{i}`."""
    made, took, base, out = 0, 0.0, kernel_kb(), {}
    for m in sorted(counts):
        script = "".join(
            f"netns add {name}{i}\nlink add {name}v{i} type veth peer name e0 netns {name}{i}\n"
            for i in range(made, m)
        )
        warm_exec()
        start = time.monotonic()
        run(IP + ["-batch", "-"], input=script)
        took += time.monotonic() - start
        out[m] = (took, (kernel_kb() - base) * 1024)
        made = m
    return out


def report(rows, cap, start, ip_start, took):
    out = []
    w = out.append
    w(f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; guest time {took / 60:.1f} min. "
      f"A UOA slice: a /32 on a dummy interface ({PER_DUMMY:,} a dummy, configured before the "
      f"timed part, as a netns slice's address is not counted either), its entry "
      f"`ADDR UID TABLE dev dumK` and its table holding the address's connected route; "
      f"entries, rules (two l3mdev rules per family, whatever N) and routes added by one timed "
      f"`uoamap apply FILE` and removed by one timed `uoamap flush`: the first time at that "
      f"size, then {ROUNDS} times again (the median, the range in brackets); one slice made and "
      f"removed before the first timed run of each side, as QEMU translates the code a path runs "
      f"the first time. A netns slice: a "
      f"network namespace and a veth pair (`ip -batch`), after every UOA size; at most "
      f"{cap:,} of them, so the netns figures are per slice from the capped count; made in "
      f"batches up to each count in turn (a count's time is the sum of the batches up to it), "
      f"the first time, then again right after deleting the first ones (`ip link del` of each "
      f"veth, `ip netns del`; the kernel's cleanup of the namespaces then runs beside the "
      f"second batch, in a workqueue holding the RTNL lock for stretches). Ratios: netns per "
      f"slice over UOA's apply per slice, first over first and again over again; memory over the larger of UOA's two. Both "
      f"tools, with their shared libraries, run from the guest's tmpfs, not from the VM's 9p "
      f"root (as from a host's local disk, not a round trip to QEMU per open). Of each run, "
      f"{start * 1e3:.0f} ms is starting uoamap and {ip_start * 1e3:.0f} ms starting ip: the "
      f"median time of `uoamap --version` and `ip -V`. Address-space randomisation "
      f"{'on' if ASLR else 'off (`kernel.randomize_va_space=0`)'} in the guest: QEMU's TCG "
      f"translates the code a process runs and keys it by virtual address, so with "
      f"randomisation each run of a tool translates all it executes anew, "
      f"{'as here' if ASLR else 'a cost a real CPU does not have'}. "
      f"Kernel memory: Slab + VmallocUsed before and after, caches dropped (netns: the first "
      f"batches); for UOA also the module's own count.")
    w("")
    w("| slices | UOA apply µs/slice: first, again (range) | UOA flush µs/slice "
      "| UOA B/slice (module / slab) | `ip -4 rule` lines | routes, all tables "
      "| netns+veth slices | netns µs/slice: first, again | netns B/slice (slab) "
      "| time ratio: first, again | memory ratio |")
    w("|" + "---|" * 11)
    for r in rows:
        n, m = r["slices"], r["netns_slices"]
        per = lambda s, k: s / k * 1e6
        lo, hi = per(min(r["uoa_apply_s_runs"]), n), per(max(r["uoa_apply_s_runs"]), n)
        w(f"| {n:,} | {per(r['uoa_first_apply_s'], n):,.0f}, {per(r['uoa_apply_s'], n):,.0f} "
          f"({lo:,.0f}-{hi:,.0f}) | {per(r['uoa_flush_s'], n):,.0f} "
          f"| {r['uoa_module_bytes'] / n:,.0f} / {r['uoa_slab_bytes'] / n:,.0f} "
          f"| {r['ip_rule_lines']} | {r['routes_all_tables']:,} | {m:,} "
          f"| {per(r['netns_s'], m):,.0f}, {per(r['netns_again_s'], m):,.0f} "
          f"| {r['netns_slab_bytes'] / m:,.0f} "
          f"| {r['time_ratio_first']:,.0f}x, {r['time_ratio']:,.0f}x | {r['memory_ratio']:,.0f}x |")
    return "\n".join(out)


def main():
    sizes = [int(a) for a in sys.argv[1:]]
    if not sizes or min(sizes) < 1:
        sys.exit("usage: provision.py N... (N >= 1)")
    started = time.monotonic()
    sh(f"insmod {os.environ['UOA_KO']}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (1048576, 1048576))
    with open("/proc/sys/kernel/randomize_va_space", "w") as f:
        f.write("2" if ASLR else "0")
    UOAMAP[:] = local_tool(os.path.join(ROOT, "target/release/uoamap"))
    IP[:] = local_tool(shutil.which("ip"))
    cap = int(os.environ.get("UOA_NETNS_CAP", "4000"))
    # Every UOA size first: a namespace's teardown goes on in the kernel
    # for minutes after `ip netns del`, beside whatever runs next.
    uoa = {}
    warm_up_uoa()
    for n in sizes:
        first, applies, u_slab, (u_module, rules, routes), uf = uoa_slices(n)
        uoa[n] = (first, applies, u_slab, u_module, rules, routes, uf)
        log(f"N={n}: UOA apply first {first:.2f} s, then {median(applies):.2f} s "
            f"({applies[0]:.2f}-{applies[-1]:.2f}), "
            f"flush {uf:.2f} s, slab {u_slab:,} B, module {u_module:,} B, "
            f"{rules} rule lines, {routes:,} routes")
    start = process_start(UOAMAP + ["--version"])
    ip_start = process_start(IP + ["-V"])
    log(f"one run, start to exit: `uoamap --version` {start * 1e3:.1f} ms, "
        f"`ip -V` {ip_start * 1e3:.1f} ms (medians of {STARTS})")
    counts = {min(n, cap) for n in sizes}
    warm_up_netns()
    netns = netns_slices(counts, "s")
    # Again, right after deleting them (each veth pair at once, the rest
    # of each namespace by the kernel's cleanup, which then runs beside the
    # second batch): earlier runs of this benchmark made their namespaces
    # this way only, a few times faster than the first ones.
    start_del = time.monotonic()
    run(IP + ["-batch", "-"],
        input="".join(f"link del sv{i}\nnetns del s{i}\n" for i in range(max(counts))))
    log(f"{max(counts)} netns slices deleted in {time.monotonic() - start_del:.2f} s")
    again = netns_slices(counts, "t")
    for m in sorted(counts):
        log(f"{m} netns slices: first {netns[m][0]:.2f} s, again {again[m][0]:.2f} s, "
            f"slab {netns[m][1]:,} B")
    rows = []
    for n in sizes:
        first, applies, u_slab, u_module, rules, routes, uf = uoa[n]
        ut = median(applies)
        m = min(n, cap)
        nt, n_slab = netns[m]
        nt_again = again[m][0]
        rows.append({
            "slices": n,
            "uoa_first_apply_s": first,
            "uoa_apply_s": ut,
            "uoa_apply_s_runs": applies,
            "uoa_flush_s": uf,
            "uoa_module_bytes": u_module,
            "uoa_slab_bytes": u_slab,
            "ip_rule_lines": rules,
            "routes_all_tables": routes,
            "netns_slices": m,
            "netns_s": nt,
            "netns_again_s": nt_again,
            "netns_slab_bytes": n_slab,
            "time_ratio_first": (nt / m) / (first / n),
            "time_ratio": (nt_again / m) / (ut / n),
            "memory_ratio": (n_slab / m) / (max(u_module, u_slab) / n),
        })
    log("")
    log("--- BEGIN PROVISION RESULTS ---")
    log(report(rows, cap, start, ip_start, time.monotonic() - started))
    log("--- END PROVISION RESULTS ---")
    log("--- BEGIN PROVISION JSON ---")
    log(json.dumps({
        "rows": rows,
        "netns_cap": cap,
        "uoamap_start_s": start,
        "aslr": ASLR,
        "ip_start_s": ip_start,
        "addresses_per_dummy": PER_DUMMY,
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }, indent=1))
    log("--- END PROVISION JSON ---")


if __name__ == "__main__":
    main()
