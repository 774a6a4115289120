"""What in a kernel log means trouble, whatever the tests say. Used by the
guest runner after each test and by tests/vm.sh on the whole console
(`python3 tests/guest/kernel_log.py < console.log` prints the bad lines
with their line numbers and exits 1 if there are any)."""

import re
import sys

TROUBLE = re.compile(
    r"WARNING:|BUG:|Oops|Kernel panic|general protection fault|Call Trace|"
    r"possible recursive locking|possible circular locking|suspicious RCU usage|"
    r"inconsistent lock state|blocked for more than|soft lockup|hard LOCKUP|"
    r"KASAN|UBSAN|kernel BUG|rust_panic|panicked at"
)


def trouble(log):
    return [(n, line) for n, line in enumerate(log.splitlines(), 1) if TROUBLE.search(line)]


if __name__ == "__main__":
    found = trouble(sys.stdin.read())
    for n, line in found:
        print(f"{n}:{line}")
    sys.exit(1 if found else 0)
