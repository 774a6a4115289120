"""Runs inside the VM as root (bench/netperf.sh): the cost of the UOA hooks
on the data path, measured with netperf between two network namespaces
joined by a veth pair, against the cost of the paper's competitor, a slice
in a network namespace of its own.

netserver runs as root in the server namespace; netperf runs in the client
namespace as uid 1011, the managed uid that owns the client's address on the
veth. Every test runs twice: with the source address given to netperf (`-L`,
global and test-specific, so control and data connections bind it) and
without (the kernel picks it).

Configurations, all in this one boot: 0 (module not loaded, no UOA rules:
the baseline), then the module loaded with N managed uids: 1011 plus N-1
others (uids and tables 2000.., one /32 each from 10.128.0.0/9, configured
on dummies in the client namespace for all configurations, so that each
managed uid's table holds its connected route). A configuration is set up from scratch each time:
`uoamap flush` (entries, rules and tables) and `rmmod uoa` if the module is
loaded, `insmod`, then ONE `uoamap apply FILE` in the client namespace, with
policy routing: two l3mdev rules per family select each uid's table, and
uid 1011's table holds the veth's connected route. Before a configuration
without the module (the baseline, the slice) runs where one with it ran,
the namespaces and their addresses are made anew: the kernel keeps a
namespace that has had any rule in policy-routing mode for good (the local
and main tables apart, the rules walked, a full reverse-path check), which
is not the stock host the baseline stands for.

`netns` (the competitor, module not loaded): the same netperf as uid 1011,
but in a namespace of its own (the slice, nps1) joined by a second veth pair
to the client namespace, which forwards between the slice and the server.
It is set up once at the start; the other configurations do not use it.

`rules` (stock policy routing, module not loaded): uid 1011 routed by its own
table through one stock uidrange rule, as UOA routes it. `pair`: UOA's two
l3mdev rules without the module, which then match nothing: the policy-
routing mode UOA puts a namespace in, without its hooks or tables.

The configurations are interleaved: each round walks all of them (every
other round in reverse order) and runs every test at each, so drift spreads
over all of them while a configuration is set up once per round (65,536
uids take minutes); the table reports per-configuration medians over the
rounds and their ratios to the baseline, then the same numbers as JSON.

    python3 bench/guest/netperf.py [N...] [netns] [rules] [pair]   (0 always runs)
    UOA_KO              the module (required when some N > 0)
    UOA_NETPERF_LEN     seconds per netperf run (default 3)
    UOA_NETPERF_ROUNDS  rounds (default 3)
    UOA_NETPERF_TESTS   comma-separated tests (default all five)
    UOA_NETPERF_CPUS    netperf -T LCPU,RCPU (default 0,0; empty: unpinned)
    UOA_NETPERF_UDP_RCVBUF  UDP_STREAM: netserver's socket buffers in bytes
                        (netperf -S; net.core.rmem_max raised to it); empty:
                        netperf's default
    UOA_NETPERF_ICOUNT  1 if QEMU counts instructions, 0 if not (only recorded)
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
# The per-hook breakdown: "HOOK=PATH,...", modules built with one hook a no-op
# (UOA_KMOD_NOOP=HOOK tools/build-kmod.sh); each is a configuration "noop:HOOK"
# with 1 managed uid, so its gain over "1" is what that hook costs.
NOOP_KOS = dict(kv.split("=", 1) for kv in os.environ.get("UOA_KO_NOOP", "").split(",") if kv)
HOOKS = ["bind", "receive", "source", "local_out", "rule"]
LEN = int(os.environ.get("UOA_NETPERF_LEN", "3"))
ROUNDS = int(os.environ.get("UOA_NETPERF_ROUNDS", "3"))
ALL_TESTS = ["TCP_STREAM", "TCP_RR", "TCP_CRR", "UDP_RR", "UDP_STREAM"]
TESTS = [t for t in os.environ.get("UOA_NETPERF_TESTS", ",".join(ALL_TESTS)).split(",") if t]
MODES = ["specified", "unspecified"]

# netperf -T: netperf's and netserver's CPUs. Both on one vCPU by default:
# under TCG every wake-up across vCPUs waits for the host to schedule the
# other vCPU thread, which on a busy host costs milliseconds a transaction.
CPUS = os.environ.get("UOA_NETPERF_CPUS", "0,0")
# UDP_STREAM: netserver's socket buffers (netperf -S). With the default
# (rmem_default), a sender that runs for its time slice on the receiver's
# vCPU overflows the receive queue, and the share dropped (2-6%, varying by
# a percent from run to run) moves the received rate more than the hooks do;
# a queue that holds a time slice's datagrams delivers them all, so the rate
# counts every instruction of a datagram, sent and received.
UDP_RCVBUF = os.environ.get("UOA_NETPERF_UDP_RCVBUF", "")
ICOUNT = {"1": True, "0": False}.get(os.environ.get("UOA_NETPERF_ICOUNT", ""))

UID = 1011          # netperf's uid, always managed when the module is loaded
OTHER_UID = 1013    # never managed: probes that the hooks enforce
CLI_NS, SRV_NS = "npc", "nps"
CLI_DEV, SRV_DEV = "vc", "vs"
CLI_ADDR, SRV_ADDR = "10.77.0.1", "10.77.0.2"
CLI_NET = "10.77.0.0/24"    # the veth's connected route, in uid 1011's table
# The competitor's slice: a namespace behind a veth pair off the client's.
NETNS = "netns"
SLICE_NS, SLICE_DEV, SLICE_PEER = "nps1", "sl", "vsl"
SLICE_ADDR, SLICE_GW, SLICE_NET = "10.78.0.2", "10.78.0.1", "10.78.0.0/24"
# Stock policy routing, module not loaded: RULES, one uidrange rule sends
# uid 1011 to table 1011, which holds the veth's connected route (the
# routing decision UOA makes for it, by the kernel alone); PAIR, UOA's two
# l3mdev rules, which without the module match nothing, so uid 1011 goes to
# main: the kernel's policy-routing mode in the shape UOA puts it in, with
# none of UOA's hooks or tables.
RULES, PAIR = "rules", "pair"
STOCK_RULES = {
    RULES: [f"pref 1000 uidrange {UID}-{UID} lookup {UID}"],
    PAIR: ["pref 1000 l3mdev", "pref 1001 l3mdev unreachable"],
}
PORT = 12865
UNITS = {"10^6bits/s": "Mbit/s", "Trans/s": "trans/s"}
# UDP_STREAM's rate is what netserver received: the share of netperf's
# datagrams it did not (dropped at its full socket) moves that rate from run
# to run, so each run's share is reported beside it. Set by netperf().
last_loss = None


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


def noop_hook(config):
    """The hook a breakdown configuration ("noop:HOOK") turns off, or None."""
    if isinstance(config, str) and config.startswith("noop:"):
        return config[len("noop:"):]
    return None


def uid_count(config):
    """Managed uids in a configuration (a breakdown configuration has 1)."""
    if config == NETNS or config in STOCK_RULES:
        return 0
    return 1 if noop_hook(config) else config


def loads_module(config):
    return uid_count(config) > 0


def adds_rules(config):
    """Whether a configuration puts the client namespace in policy-routing
    mode (the kernel keeps it there for good)."""
    return loads_module(config) or config in STOCK_RULES


def label(config):
    if config == NETNS:
        return "netns+veth slice"
    if config == RULES:
        return "stock policy routing"
    if config == PAIR:
        return "UOA's rules, no module"
    if noop_hook(config):
        return f"1 uid, {noop_hook(config)} no-op"
    return "no module" if config == 0 else f"{config:,} uid{'s' if config > 1 else ''}"


def short(config):
    """A configuration's column name in the medians table."""
    if config == NETNS or config in STOCK_RULES or noop_hook(config):
        return str(config)
    return f"N={config:,}"


# --- the two namespaces and netserver ----------------------------------------

def setup_net():
    for ns in (CLI_NS, SRV_NS):
        sh(f"ip netns del {ns} 2>/dev/null; ip netns add {ns} && ip -n {ns} link set lo up")
    sh(f"ip link add {CLI_DEV} netns {CLI_NS} type veth peer name {SRV_DEV} netns {SRV_NS}")
    sh(f"ip -n {CLI_NS} addr add {CLI_ADDR}/24 dev {CLI_DEV} && ip -n {CLI_NS} link set {CLI_DEV} up")
    sh(f"ip -n {SRV_NS} addr add {SRV_ADDR}/24 dev {SRV_DEV} && ip -n {SRV_NS} link set {SRV_DEV} up")
    pin_neighbours((CLI_NS, CLI_DEV, CLI_ADDR), (SRV_NS, SRV_DEV, SRV_ADDR))
    if UDP_RCVBUF:  # not per namespace: the cap on what -S may ask for
        sh(f"sysctl -qw net.core.rmem_max={UDP_RCVBUF}")
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


def pin_neighbours(a, b):
    """Each end of a link (namespace, device, address) knows the other's MAC
    for good (nud permanent). A UDP_STREAM sender hears nothing back, so
    its neighbour entry goes stale within a minute and each datagram then
    takes the slow output path (73-74 instructions in the profiles): how much of a
    run does depended on how long ago its namespace resolved the peer,
    which differs between configurations (the baseline's namespaces are
    made anew), not on UOA."""
    for (ns, dev, _), (pns, pdev, paddr) in ((a, b), (b, a)):
        mac = sh(f"ip -n {pns} -br link show dev {pdev}").stdout.split()[2]
        sh(f"ip -n {ns} neigh replace {paddr} lladdr {mac} dev {dev} nud permanent")


def setup_slice():
    """The competitor's slice: its own namespace, a veth pair to the client
    namespace, which forwards to the server (for all configurations: the
    baseline pays for the same sysctl)."""
    sh(f"ip netns del {SLICE_NS} 2>/dev/null; ip netns add {SLICE_NS} && ip -n {SLICE_NS} link set lo up")
    sh(f"ip link add {SLICE_PEER} netns {CLI_NS} type veth peer name {SLICE_DEV} netns {SLICE_NS}")
    sh(f"ip -n {CLI_NS} addr add {SLICE_GW}/24 dev {SLICE_PEER} && ip -n {CLI_NS} link set {SLICE_PEER} up")
    sh(f"ip -n {SLICE_NS} addr add {SLICE_ADDR}/24 dev {SLICE_DEV} && ip -n {SLICE_NS} link set {SLICE_DEV} up")
    pin_neighbours((CLI_NS, SLICE_PEER, SLICE_GW), (SLICE_NS, SLICE_DEV, SLICE_ADDR))
    sh(f"ip -n {SLICE_NS} route add default via {SLICE_GW}")
    sh(f"ip netns exec {CLI_NS} sysctl -qw net.ipv4.ip_forward=1")
    sh(f"ip -n {SRV_NS} route add {SLICE_NET} via {CLI_ADDR}")
    sh(f"ip netns exec {SLICE_NS} sysctl -qw net.ipv4.ip_local_port_range='10000 65535'")


# --- configurations ------------------------------------------------------------

PER_DUMMY = 1024   # addresses a dummy: IPv4 address insertion walks the list


def other_address(i):
    return f"10.{128 + (i >> 16)}.{i >> 8 & 255}.{i & 255}", f"dum{i // PER_DUMMY}"


def setup_other_addresses(n):
    """The other uids' /32s, configured on dummies in the client namespace
    for every configuration (the baseline's host has them too), so that
    each managed uid's table exists and holds its connected route: routing
    at scale, not tables that were never made."""
    if n < 2:
        return
    devs = sorted({other_address(i)[1] for i in range(1, n)})
    script = "".join(f"link add {d} type dummy\nlink set {d} up\n" for d in devs)
    script += "".join("addr add {0}/32 dev {1}\n".format(*other_address(i)) for i in range(1, n))
    sh(f"ip -n {CLI_NS} -batch -", input=script)


def entries_file(n):
    """uid 1011 owns the client address on the veth; n-1 others own a /32
    each, configured on a dummy."""
    lines = [f"{CLI_ADDR} {UID} {UID} dev {CLI_DEV}\n"]
    for i in range(1, n):
        addr, dev = other_address(i)
        lines.append(f"{addr} {2000 + i} {2000 + i} dev {dev}\n")
    fd, path = tempfile.mkstemp(prefix=f"uoa-netperf-{n}-", suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.writelines(lines)
    return path


def configure(config, files):
    """Module state for a configuration from scratch; returns apply's seconds."""
    if module_loaded():
        # rmmod alone would leave the rules and the tables' routes behind.
        sh(f"ip netns exec {CLI_NS} {UOAMAP} flush")
        sh("rmmod uoa")
    for pref in (1000, 1001):   # a stock configuration's rules, UOA's gone with the flush
        if sh(f"ip -n {CLI_NS} -4 rule show pref {pref}").stdout.strip():
            sh(f"ip -n {CLI_NS} -4 rule del pref {pref}")
    sh(f"ip -n {CLI_NS} -4 route flush table {UID}", check=False)
    if config in STOCK_RULES:
        setup_stock_rules(config)
        return None
    if not loads_module(config):
        return None
    n = uid_count(config)
    sh(f"insmod {NOOP_KOS[noop_hook(config)] if noop_hook(config) else UOA_KO}")
    start = time.monotonic()
    sh(f"ip netns exec {CLI_NS} {UOAMAP} apply {files[n]}")
    took = time.monotonic() - start
    st = json.loads(sh(f"ip netns exec {CLI_NS} {UOAMAP} -j status").stdout)
    if st["entries"] != n or st["uids"] != n:
        sys.exit(f"after apply for {n} uids the module reports {st['entries']} entries, {st['uids']} uids")
    routes = sh(f"ip -n {CLI_NS} -4 route show table {UID}").stdout.splitlines()
    if not any(r.split()[:3] == [CLI_NET, "dev", CLI_DEV] for r in routes):
        sys.exit(f"after apply for {n} uids, uid {UID}'s table {UID} lacks {CLI_NET} dev {CLI_DEV}: {routes}")
    return took


def setup_stock_rules(config):
    """A configuration of stock rules (STOCK_RULES), checked with `ip route
    get`: uid 1011's route comes from table 1011 (RULES) or main (PAIR)."""
    if config == RULES:
        sh(f"ip -n {CLI_NS} -4 route add {CLI_NET} dev {CLI_DEV} proto kernel scope link "
           f"src {CLI_ADDR} table {UID}")
    for rule in STOCK_RULES[config]:
        sh(f"ip -n {CLI_NS} -4 rule add {rule}")
    got = sh(f"ip -n {CLI_NS} -4 route get {SRV_ADDR} uid {UID}").stdout.split()
    # `ip route get` names the table unless it is main.
    table = got[got.index("table") + 1] if "table" in got else "main"
    want = str(UID) if config == RULES else "main"
    if table != want:
        sys.exit(f"{label(config)}: uid {UID}'s route to {SRV_ADDR} is from table {table}, "
                 f"not {want}: {' '.join(got)}")


def rule_lines():
    return len(sh(f"ip -n {CLI_NS} -4 rule show").stdout.splitlines())


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

def netperf(test, mode, length, in_slice=False, prefix=()):
    """One run: (value, unit, None) or (None, None, why); `prefix` runs it
    under another command (bench/guest/profile.py: perf record)."""
    ns, src = (SLICE_NS, SLICE_ADDR) if in_slice else (CLI_NS, CLI_ADDR)
    local = ["-L", src] if mode == "specified" else []
    argv = ["netperf", "-P", "0", "-l", str(length), "-H", SRV_ADDR, "-p", str(PORT)] + local
    if CPUS:
        argv += ["-T", CPUS]
    out = "THROUGHPUT,THROUGHPUT_UNITS" + (",LOCAL_SEND_CALLS,REMOTE_RECV_CALLS" if test == "UDP_STREAM" else "")
    argv += ["-t", test, "--", "-o", out, "-R", "1"]
    if mode == "specified":
        argv += ["-H", SRV_ADDR, "-L", src]
    if test == "UDP_STREAM":
        argv += ["-m", "1400"]  # one datagram per packet on a 1500-byte MTU
        if UDP_RCVBUF:
            argv += ["-S", UDP_RCVBUF]
    cmd = list(prefix) + in_ns(ns, argv, uid=UID)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=length + 60)
    except subprocess.TimeoutExpired:
        return None, None, f"timed out after {length + 60} s: {' '.join(cmd)}"
    lines = [l for l in p.stdout.splitlines() if l.strip()]
    global last_loss
    last_loss = None
    if p.returncode == 0 and lines:
        try:
            fields = lines[-1].split(",")
            value, unit = fields[:2]
            if len(fields) >= 4 and float(fields[2]) > 0:
                last_loss = 1 - float(fields[3]) / float(fields[2])
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


def complete(values):
    """Every round ran and measured something."""
    return len(values) == ROUNDS and all(values)


def ratio(values, base):
    """(median of values / median of base, lowest and highest per-round
    ratio: round r against round r), or None if a run of either failed."""
    if not (complete(values) and complete(base)):
        return None
    paired = [v / b for v, b in zip(values, base)]
    return statistics.median(values) / statistics.median(base), min(paired), max(paired)


def fmt_ratio(r):
    if r is None:
        return "failed"
    m, lo, hi = r
    return f"{m:.3f} ±{(hi - lo) / 2 / m * 100:.1f}% [{lo:.3f}-{hi:.3f}]"


def uid_counts(configs):
    return [c for c in configs if isinstance(c, int) and c > 0]


def stock_configs(configs):
    return [c for c in configs if c in STOCK_RULES]


def ratios(configs, results):
    """The ratios of each configuration to the baseline, {(config, test,
    mode): ratio}; of 1 uid to the netns slice, {(test, mode): ratio}; and
    of each uid count to each stock-rules configuration, {(stock, config,
    test, mode): ratio} (each empty unless both sides ran)."""
    to_base, uoa_over_netns, uoa_over_rules = {}, {}, {}
    for test in TESTS:
        for mode in MODES:
            for c in configs[1:]:
                to_base[(c, test, mode)] = ratio(results[(c, test, mode)], results[(0, test, mode)])
            if 1 in configs and NETNS in configs:
                uoa_over_netns[(test, mode)] = ratio(results[(1, test, mode)], results[(NETNS, test, mode)])
            for stock in stock_configs(configs):
                for c in uid_counts(configs):
                    uoa_over_rules[(stock, c, test, mode)] = ratio(results[(c, test, mode)],
                                                                   results[(stock, test, mode)])
    return to_base, uoa_over_netns, uoa_over_rules


def sent_rates(results, losses, c, mode):
    """UDP_STREAM's rate at the sender, per round: what netserver received
    over the share of netperf's datagrams it got (None where unknown)."""
    return [v / (1 - lost) if v and lost is not None and lost < 1 else None
            for v, lost in zip(results[(c, "UDP_STREAM", mode)], losses.get((c, mode), []))]


def shown(configs):
    """The compared configurations in table order: uid counts, the hooks'
    breakdown, stock policy routing, then netns."""
    return (uid_counts(configs) + [c for c in configs if noop_hook(c)]
            + [c for c in configs if c in (RULES, PAIR, NETNS)])


def report(configs, results, units, all_ratios, applies, rules, probes, stats, losses, failures, took):
    to_base, uoa_over_netns, uoa_over_rules = all_ratios
    compared = shown(configs)
    out = []
    w = out.append
    w(f"Guest: {os.cpu_count()} vCPUs, kernel {os.uname().release}; "
      f"{sh('netperf -V').stdout.strip()}; netperf and netserver pinned to "
      f"{'vCPUs ' + CPUS if CPUS else 'no vCPU'} (`-T`); {LEN} s per run, {ROUNDS} rounds; in each "
      f"round walks all configurations (every other round reversed) and runs every test at each "
      f"(at each change the module's entries, rules and tables flushed, the module reloaded and its entries "
      f"applied); medians over the rounds; guest time {took / 60:.1f} min."
      + (f" UDP_STREAM: netserver's socket buffers {int(UDP_RCVBUF):,} bytes (`-S`, "
         f"net.core.rmem_max raised to match), so that its queue holds what the sender sends in a time slice."
         if UDP_RCVBUF else ""))
    w("")
    w(f"netperf runs as uid {UID} in the client namespace; netserver as root in the "
      f"server namespace; veth {CLI_ADDR} -> {SRV_ADDR}, each end's neighbour entry for the other "
      f"permanent (a UDP_STREAM sender hears nothing back: a neighbour gone stale would cost it "
      f"the slow output path, by the namespace's age). *specified*: `netperf -L {CLI_ADDR}` "
      f"(global and test-specific: the control and data sockets bind it); "
      f"*unspecified*: the kernel picks the source. Entries are loaded with one "
      f"`uoamap apply FILE` in the client namespace, policy routing on: uid {UID} owns "
      f"{CLI_ADDR} (dev {CLI_DEV}) and its table ({UID}) holds the veth's connected route "
      f"{CLI_NET}; the other N-1 uids (2000..) own one /32 each from 10.128.0.0/9, "
      f"configured on dummies ({PER_DUMMY:,} a dummy) in every configuration, the baseline "
      f"included, so that each managed uid's table holds its connected route. Two l3mdev rules per family select "
      f"each managed uid's table, however many uids there are (`ip -4 rule` lines in the "
      f"client namespace: setup table below). *no module* (the baseline)"
      f"{' and *netns*' if NETNS in configs else ''}: `uoamap flush` and `rmmod uoa`, a "
      f"stock kernel without UOA rules, in namespaces made anew (and their addresses "
      f"configured again) whenever a configuration with the module has run in them since: "
      f"the kernel keeps a namespace that has had a policy-routing rule in policy-routing "
      f"mode for good, and the baseline is a host that never had one.")
    if NETNS in configs:
        w("")
        w(f"*netns+veth slice*, the paper's competitor: the same netperf as uid {UID}, module "
          f"not loaded, in a network namespace of its own ({SLICE_NS}, {SLICE_DEV} "
          f"{SLICE_ADDR}/24) joined by a veth pair to the client namespace ({SLICE_PEER} "
          f"{SLICE_GW}/24), which forwards between the slice and the server "
          f"(`net.ipv4.ip_forward=1` there in every configuration; the server routes "
          f"{SLICE_NET} via {CLI_ADDR}); *specified*: `-L {SLICE_ADDR}`. Its packets cross a "
          f"second veth pair and a forwarding step: what a netns slice costs, against what a "
          f"UOA slice costs.")
    if RULES in configs:
        w("")
        w(f"*stock policy routing*, a stock host's per-user routing: module not loaded, "
          f"one stock rule (`ip rule add {STOCK_RULES[RULES][0]}`) "
          f"sends uid {UID} to table {UID}, which holds the same connected route as with UOA "
          f"({CLI_NET} dev {CLI_DEV} src {CLI_ADDR}): the routing decision UOA makes for uid {UID}, "
          f"made by the kernel alone. Like any rule it puts the namespace in policy-routing "
          f"mode (the local and main tables apart), and the kernel walks the rules for every "
          f"uncached lookup: a uidrange rule is not of the shapes that patch 20 follows without "
          f"a walk (UOA's pair is). UOA's ratio to it (below) compares UOA with what a stock "
          f"host that gives a user its own table pays.")
    if PAIR in configs:
        w("")
        w(f"*UOA's rules, no module*: module not loaded, UOA's two l3mdev rules added by hand "
          f"(`ip rule add {STOCK_RULES[PAIR][0]}`, `... {STOCK_RULES[PAIR][1]}`); without the "
          f"module they match nothing, so uid {UID} is routed by main, through patch 20's "
          f"lookup without a walk: the policy-routing mode UOA puts a namespace in (the local "
          f"table looked up apart), with none of its hooks and no table of the user's. UOA's "
          f"ratio to it (below) is what the hooks and the user's table cost beyond that mode.")
    noops = [c for c in compared if noop_hook(c)]
    if noops:
        w("")
        w("*1 uid, HOOK no-op*, the hooks' breakdown: as *1 uid*, but the module is built with "
          "`UOA_KMOD_NOOP=HOOK` (`tools/build-kmod.sh`), so that hook gives the stock answer "
          "without asking the policy (*local_out*: the catch-all is not turned on in the "
          "namespace at all; *rule*: the l3mdev rules match nothing and uid "
          f"{UID} is routed by main, which holds the same veth route). The core's call into "
          "the module stays. Its ratio above *1 uid*'s is what that hook's work costs.")
    w("")
    w("Ratio to the baseline (module not loaded), median over rounds; in brackets the "
      "lowest and highest per-round ratio (round r of a configuration against round r of "
      "the baseline), and before them ± half of that range, relative to the median. Higher "
      "is better for all tests (throughput or transactions/s). Baseline spread: ± half of "
      "(max - min) / median over rounds.")
    if uoa_over_netns:
        w(f"*UOA (1 uid) / netns*: the median with 1 managed uid over the netns slice's, "
          f"range and ± the same way (round r against round r); above 1, a UOA slice is faster.")
    w("")
    w("| test | source | baseline (no module) | baseline spread |"
      + "".join(f" {label(c)} |" for c in compared)
      + (" UOA (1 uid) / netns |" if uoa_over_netns else ""))
    w("|" + "---|" * (4 + len(compared) + bool(uoa_over_netns)))
    for test in TESTS:
        for mode in MODES:
            base = results[(0, test, mode)]
            if not complete(base):
                cells = [test, mode, "failed", "-"] + [fmt_ratio(None)] * len(compared)
            else:
                cells = [test, mode, f"{fmt_value(statistics.median(base))} {units.get(test, '')}",
                         f"±{spread(base) / 2:.1f}%"]
                cells += [fmt_ratio(to_base[(c, test, mode)]) for c in compared]
            if uoa_over_netns:
                cells.append(fmt_ratio(uoa_over_netns[(test, mode)]))
            w("| " + " | ".join(cells) + " |")
    stocks = stock_configs(configs)
    if uoa_over_rules:
        counts = uid_counts(configs)
        w("")
        w("UOA against " + " and ".join(f"*{label(x)}*" for x in stocks) + " (median over its "
          "median, per-round range and ± as above): above 1, UOA with N uids is faster.")
        w("")
        w("| test | source |" + "".join(f" {label(c)} / {x} |" for x in stocks for c in counts))
        w("|" + "---|" * (2 + len(counts) * len(stocks)))
        for test in TESTS:
            for mode in MODES:
                w("| " + " | ".join([test, mode] + [fmt_ratio(uoa_over_rules[(x, c, test, mode)])
                                                    for x in stocks for c in counts]) + " |")
    w("")
    w("Medians per configuration (N managed uids; 0: module not loaded) and their "
      "run-to-run spread:")
    w("")
    w("| test | source | " + " | ".join(
        short(c) for c in configs[:1] + compared) + " |")
    w("|" + "---|" * (3 + len(compared)))
    for test in TESTS:
        for mode in MODES:
            cells = [test, mode]
            for c in configs[:1] + compared:
                vals = [v for v in results[(c, test, mode)] if v]
                cells.append(f"{fmt_value(statistics.median(vals))} ±{spread(vals) / 2:.1f}%"
                             if vals else "failed")
            w("| " + " | ".join(cells) + " |")
    w("")
    if "UDP_STREAM" in TESTS:
        w("UDP_STREAM: the share of netperf's datagrams (send calls) that netserver did not "
          "receive (receive calls), median over rounds [lowest-highest]:")
        w("")
        w("| source | " + " | ".join(short(c) for c in configs[:1] + compared) + " |")
        w("|" + "---|" * (1 + len(configs[:1] + compared)))
        for mode in MODES:
            cells = [mode]
            for c in configs[:1] + compared:
                ls = [x for x in losses.get((c, mode), []) if x is not None]
                cells.append(f"{statistics.median(ls):.1%} [{min(ls):.1%}-{max(ls):.1%}]" if ls else "-")
            w("| " + " | ".join(cells) + " |")
        w("")
        w("UDP_STREAM counted at the sender (what netserver received over the share of "
          "datagrams it got, round by round), ratio to the baseline as above: the receiver "
          "shares the sender's vCPU, so a slower sender leaves it more time and fewer "
          "datagrams are dropped, which the received rate above does not show.")
        w("")
        w("| source | " + " | ".join(label(c) for c in compared) + " |")
        w("|" + "---|" * (1 + len(compared)))
        for mode in MODES:
            base = sent_rates(results, losses, 0, mode)
            w("| " + " | ".join([mode] + [fmt_ratio(ratio(sent_rates(results, losses, c, mode), base))
                                          for c in compared]) + " |")
        w("")
    w("Setup per configuration: `uoamap apply` time (median over rounds, rules and routes "
      f"included); `ip -n {CLI_NS} -4 rule show | wc -l` after it; probes in the client "
      f"namespace: uid {OTHER_UID} (unmanaged) binding {CLI_ADDR}, and the source uid {UID} "
      f"gets for {SRV_ADDR} (UDP connect); uid {UID}'s counters (`uoamap show --stats`), "
      f"summed over the run.")
    w("")
    w("| configuration | apply | `ip -4 rule` lines | uid %d binds %s | uid %d source | uid %d counters |"
      % (OTHER_UID, CLI_ADDR, UID, UID))
    w("|---|---|---|---|---|---|")
    for c in configs[:1] + compared:
        a = f"{statistics.median(applies[c]) * 1000:,.0f} ms" if applies.get(c) else "-"
        r = "/".join(str(x) for x in rules.get(c, [])) or "-"
        b, s = probes.get(c, ("-", "-"))
        st = stats.get(c)
        st = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in st.items()) if st else "-"
        w(f"| {label(c)} | {a} | {r} | {b} | {s} | {st} |")
    if failures:
        w("")
        w(f"**{len(failures)} netperf run(s) failed**:")
        w("")
        for f_ in failures:
            w(f"- {f_}")
    return "\n".join(out)


def results_json(configs, results, units, all_ratios, rules, failures, losses):
    """The table's numbers for bench/plot.py; configurations are uid counts
    (0: the baseline), "noop:HOOK", "rules", "pair" and "netns"; a failed run is null."""
    to_base, uoa_over_netns, uoa_over_rules = all_ratios
    def per_test(f):
        return {t: {m: f(t, m) for m in MODES} for t in TESTS}

    def as_object(r):
        return None if r is None else dict(zip(("median", "min", "max"), r))

    def baseline(t, m):
        base = results[(0, t, m)]
        return statistics.median(base) if complete(base) else None

    order = configs[:1] + shown(configs)
    return {
        "configs": order,
        "tests": TESTS,
        "modes": MODES,
        "rounds": ROUNDS,
        "seconds_per_run": LEN,
        "values": {str(c): per_test(lambda t, m: results[(c, t, m)]) for c in order},
        "units": units,
        "baseline": per_test(baseline),
        "ratios": {str(c): per_test(lambda t, m: as_object(to_base[(c, t, m)])) for c in order[1:]},
        "uoa_1_over_netns": (per_test(lambda t, m: as_object(uoa_over_netns[(t, m)]))
                             if uoa_over_netns else None),
        "ip_rule_lines": {str(c): rules.get(c, []) for c in order},
        "over_stock_rules": ({x: {str(c): per_test(lambda t, m: as_object(uoa_over_rules[(x, c, t, m)]))
                                  for c in uid_counts(configs)} for x in stock_configs(configs)}
                             if uoa_over_rules else None),
        "udp_stream_lost": {str(c): {m: losses.get((c, m), []) for m in MODES} for c in order},
        "udp_stream_sent_ratios": ({str(c): {m: as_object(ratio(sent_rates(results, losses, c, m),
                                                                 sent_rates(results, losses, 0, m)))
                                             for m in MODES} for c in order[1:]}
                                   if "UDP_STREAM" in TESTS else None),
        "failed_runs": len(failures),
        "icount": ICOUNT,
        "cpus": CPUS,
        "udp_rcvbuf": int(UDP_RCVBUF) if UDP_RCVBUF else None,
        "kernel": os.uname().release,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def main():
    args = sys.argv[1:]
    for a in args:
        if a not in (NETNS, RULES, PAIR) and not a.isdigit() and noop_hook(a) not in HOOKS:
            sys.exit(f"not a uid count, {NETNS}, {RULES}, {PAIR} or noop:HOOK ({', '.join(HOOKS)}): {a}")
        if noop_hook(a) and noop_hook(a) not in NOOP_KOS:
            sys.exit(f"{a}: UOA_KO_NOOP names no module for {noop_hook(a)}")
    counts = sorted({0} | {int(a) for a in args if a.isdigit()})
    noops = [a for a in args if noop_hook(a)]
    # netns right after the baseline: neither loads the module, so walking
    # from one to the other reloads nothing; the breakdown next to 1 uid.
    # Stock policy routing next to 1 uid, which it is compared with.
    configs = (counts[:1] + [c for c in (NETNS, RULES, PAIR) if c in args]
               + counts[1:2] + noops + counts[2:])
    if any(isinstance(c, int) and c > 0 for c in configs) and not UOA_KO:
        sys.exit("UOA_KO is not set")
    for t in TESTS:
        if t not in ALL_TESTS:
            sys.exit(f"unknown test {t}: choose from {', '.join(ALL_TESTS)}")
    started = time.monotonic()
    srv = None

    def fresh_namespaces():
        """The namespaces, netserver and addresses, made anew."""
        nonlocal srv
        if srv:
            srv.terminate()
            srv.wait()
        srv = setup_net()
        if NETNS in configs:
            setup_slice()
        setup_other_addresses(max((uid_count(c) for c in configs), default=0))

    fresh_namespaces()
    files = {n: entries_file(n) for n in {uid_count(c) for c in configs} if n > 0}
    log(f"configurations {configs}, tests {TESTS}, {LEN} s per run, {ROUNDS} rounds")

    # Warm-up, discarded: caches, netserver's first fork, TCG's code cache.
    configure(0, files)
    for test in TESTS:
        netperf(test, "unspecified", 1)
        if NETNS in configs:
            _, _, err = netperf(test, "unspecified", 1, in_slice=True)
            if err:
                log(f"WARNING: warm-up from the {SLICE_NS} slice failed: {err}")

    results = {(c, t, m): [] for c in configs for t in TESTS for m in MODES}
    units, applies, rules, probes, failures, losses = {}, {}, {}, {}, [], {}
    stats = {c: {} for c in configs if loads_module(c)}
    current = None
    had_rules = False   # since the namespaces were made

    def leave():
        """Adds the counters of the configuration being left to its totals."""
        if current in stats:
            c = counters()
            for k, v in (c or {}).items():
                stats[current][k] = stats[current].get(k, 0) + v
            if c is None:
                stats[current]["unreadable"] = stats[current].get("unreadable", 0) + 1

    for r in range(ROUNDS):
        # One walk over all configurations per round, every other walk
        # reversed, all tests at each stop: under instruction counting the
        # host's load does not reach the guest's clock, so what matters is
        # how often a configuration is set up (65,536 uids take minutes),
        # not how far apart in time two configurations run.
        order = configs if r % 2 == 0 else configs[::-1]
        for c in order:
            if c != current:
                leave()
                took = configure(c, files)
                current = c
                if adds_rules(c):
                    had_rules = True
                elif had_rules:
                    # A stock host's namespace has never had a rule; then
                    # the warm-up's netserver fork and caches again.
                    fresh_namespaces()
                    had_rules = False
                    for test in TESTS:
                        netperf(test, "unspecified", 1, in_slice=c == NETNS)
                if took is not None:
                    applies.setdefault(c, []).append(took)
                rules[c] = sorted(set(rules.get(c, [])) | {rule_lines()})
            probes[c] = (probe("bind", CLI_ADDR, OTHER_UID), probe("connect", SRV_ADDR, UID))
            if loads_module(c) and noop_hook(c) != "bind" and probes[c][0] == "allowed":
                log(f"WARNING: with {c} uids loaded, unmanaged uid {OTHER_UID} may bind "
                    f"{CLI_ADDR}: the hooks do not enforce")
            for test in TESTS:
                for mode in MODES:
                    value, unit, err = netperf(test, mode, LEN, in_slice=c == NETNS)
                    results[(c, test, mode)].append(value)
                    if err:
                        msg = f"round {r + 1}, N={c}, {test}, source {mode}: {err}"
                        failures.append(msg.replace("\n", " "))
                        if test == "UDP_STREAM":
                            losses.setdefault((c, mode), []).append(None)
                        log(f"FAILED {msg}")
                        log("  dmesg tail: " + " | ".join(sh("dmesg | tail -n 5").stdout.splitlines()))
                        continue
                    units[test] = unit
                    lost = ""
                    if test == "UDP_STREAM":
                        losses.setdefault((c, mode), []).append(last_loss)
                        lost = "" if last_loss is None else f"  ({last_loss:.1%} not received)"
                    log(f"round {r + 1}/{ROUNDS}  N={c:<6} {mode:<11} {test:<10} "
                        f"{value:>12,.1f} {unit}{lost}")
    leave()
    log(f"uid {UID}'s counters, summed per configuration: {stats}")
    configure(0, files)
    srv.terminate()
    srv.wait()
    for path in files.values():
        os.unlink(path)
    for ns in (CLI_NS, SRV_NS, SLICE_NS):
        sh(f"ip netns del {ns}", check=False)

    to_base, uoa_over_netns, uoa_over_rules = ratios(configs, results)
    table = report(configs, results, units, (to_base, uoa_over_netns, uoa_over_rules), applies, rules,
                   probes, stats, losses, failures, time.monotonic() - started)
    log("")
    log("--- BEGIN NETPERF RESULTS ---")
    log(table)
    log("--- END NETPERF RESULTS ---")
    log("--- BEGIN NETPERF JSON ---")
    log(json.dumps(results_json(configs, results, units, (to_base, uoa_over_netns, uoa_over_rules), rules,
                                failures, losses), indent=1))
    log("--- END NETPERF JSON ---")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
