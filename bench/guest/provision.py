"""Runs inside the VM (bench/provision.sh): provisions N slices both ways and
prints a table. Kernel memory is Slab + VmallocUsed from /proc/meminfo,
read after dropping caches, before and after."""

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UOAMAP = os.path.join(ROOT, "target/release/uoamap")


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw)


def kernel_kb():
    sh("sync; echo 3 > /proc/sys/vm/drop_caches")
    fields = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            fields[k] = int(v.split()[0])
    return fields["Slab"] + fields["VmallocUsed"]


def measure(setup, teardown):
    before = kernel_kb()
    start = time.monotonic()
    setup()
    took = time.monotonic() - start
    used = kernel_kb() - before
    teardown()
    return took, used * 1024


def uoa_slices(n):
    lines = "".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} {100000 + i} {100000 + i}\n" for i in range(n))
    path = tempfile.mktemp()
    with open(path, "w") as f:
        f.write(lines)
    run = lambda: sh(f"{UOAMAP} --no-routing apply {path}")
    gone = lambda: sh(f"{UOAMAP} --no-routing flush")
    result = measure(run, gone)
    os.unlink(path)
    return result


def netns_slices(n):
    script = "".join(
        f"netns add s{i}\nlink add v{i} type veth peer name e0 netns s{i}\n" for i in range(n)
    )
    teardown = "".join(f"link del v{i}\nnetns del s{i}\n" for i in range(n))
    return measure(lambda: sh("ip -batch -", input=script), lambda: sh("ip -batch -", input=teardown))


def main():
    sh(f"insmod {os.environ['UOA_KO']}")
    cap = int(os.environ.get("UOA_NETNS_CAP", "4000"))
    print(f"{'slices':>7} {'uoa us/slice':>13} {'uoa B/slice':>12} {'netns n':>8} {'netns us/slice':>15} "
          f"{'netns B/slice':>14} {'time ratio':>11} {'memory ratio':>13}", flush=True)
    for n in map(int, sys.argv[1:]):
        ut, um = uoa_slices(n)
        m = min(n, cap)
        nt, nm = netns_slices(m)
        u_t, u_m, n_t, n_m = ut / n * 1e6, um / n, nt / m * 1e6, nm / m
        print(f"{n:>7} {u_t:>13.1f} {u_m:>12.0f} {m:>8} {n_t:>15.1f} {n_m:>14.0f} "
              f"{n_t / u_t:>10.0f}x {n_m / max(u_m, 1):>12.0f}x", flush=True)


if __name__ == "__main__":
    main()
