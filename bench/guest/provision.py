"""Runs inside the VM (bench/provision.sh): provisions N slices both ways and
prints a table. Kernel memory is Slab + VmallocUsed from /proc/meminfo,
read after dropping caches, before and after; for UOA, whose policy is too
small for that to see at low N, also the module's own count of the bytes
its policy holds (UOA_A_STATUS_MEMORY)."""

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UOAMAP = os.path.join(ROOT, "target/release/uoamap")


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


def measure(setup, teardown, inspect=lambda: None):
    before = kernel_kb()
    start = time.monotonic()
    setup()
    took = time.monotonic() - start
    used = kernel_kb() - before
    seen = inspect()
    teardown()
    return took, used * 1024, seen


def uoa_slices(n):
    lines = "".join(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255} {100000 + i} {100000 + i}\n" for i in range(n))
    path = tempfile.mktemp()
    with open(path, "w") as f:
        f.write(lines)
    run = lambda: sh(f"{UOAMAP} --no-routing apply {path}")
    gone = lambda: sh(f"{UOAMAP} --no-routing flush")
    module_bytes = lambda: json.loads(sh(f"{UOAMAP} -j status").stdout)["memory_bytes"]
    measure(run, gone)  # warm-up: page cache, slab caches
    result = measure(run, gone, module_bytes)
    os.unlink(path)
    return result


def netns_slices(n):
    script = "".join(
        f"netns add s{i}\nlink add v{i} type veth peer name e0 netns s{i}\n" for i in range(n)
    )
    teardown = "".join(f"link del v{i}\nnetns del s{i}\n" for i in range(n))
    # `ip -batch` keeps a descriptor per namespace it made.
    batch = "ulimit -n 1048576 && ip -batch -"
    return measure(lambda: sh(batch, input=script), lambda: sh(batch, input=teardown))


def main():
    sh(f"insmod {os.environ['UOA_KO']}")
    cap = int(os.environ.get("UOA_NETNS_CAP", "4000"))
    print("| slices | UOA us/slice | UOA B/slice (module) | UOA B/slice (slab) | netns+veth slices "
          "| netns us/slice | netns B/slice (slab) | time ratio | memory ratio |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for n in map(int, sys.argv[1:]):
        ut, um_slab, um = uoa_slices(n)
        m = min(n, cap)
        nt, nm, _ = netns_slices(m)
        u_t, n_t, n_m = ut / n * 1e6, nt / m * 1e6, nm / m
        u_m = max(um, um_slab) / n
        print(f"| {n} | {u_t:.1f} | {um / n:.0f} | {um_slab / n:.0f} | {m} | {n_t:.0f} | {n_m:.0f} "
              f"| {n_t / u_t:.0f}x | {n_m / u_m:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
