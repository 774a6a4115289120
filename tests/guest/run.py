#!/usr/bin/python3
"""Runs the guest tests inside the test VM: loads uoa.ko, runs every
test_* function of tests/guest/test_*.py (or those matching the arguments),
checks the kernel log after each, and prints one line per test and a final
'N passed, N failed'."""

import importlib
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uoa  # noqa: E402


def collect(patterns):
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        module = importlib.import_module(name[:-3])
        # A copy: a warning raised in a test adds __warningregistry__ to them.
        for attr, fn in list(vars(module).items()):
            if attr.startswith("test_") and callable(fn):
                full = f"{name[:-3]}.{attr}"
                if not patterns or any(p in full for p in patterns):
                    yield full, fn


def main():
    os.chdir(uoa.ROOT)
    uoa.ensure_users()
    passed = failed = 0
    for name, fn in collect(sys.argv[1:]):
        uoa.load_module()
        log_before = len(uoa.dmesg().splitlines())
        start = time.monotonic()
        error = None
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - a test fails on any exception
            error = f"{type(e).__name__}: {e}" if isinstance(e, (AssertionError, uoa.Fail)) else traceback.format_exc()
        trouble = uoa.kernel_trouble("\n".join(uoa.dmesg().splitlines()[log_before:]))
        if trouble and error is None:
            error = "kernel log:\n  " + "\n  ".join(trouble)
        took = time.monotonic() - start
        if error is None:
            passed += 1
            print(f"PASS {name} ({took:.1f} s)", flush=True)
        else:
            failed += 1
            print(f"FAIL {name} ({took:.1f} s): {error}", flush=True)
    print(f"UOA-VERDICT passed={passed} failed={failed}", flush=True)
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main())
