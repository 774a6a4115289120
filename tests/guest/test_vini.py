"""The paper's VINI experiment (Section 4): two slices, u00 and u11, each
running BGP as its own user (BIRD 2) over GRE tunnels between three nodes.
The experiment itself is tools/vini.py, which the demo runs too; this runs
its checks, each of which asserts one claim of the paper's Figures 2-3 or
of the failover beyond it."""

import os
import sys

import uoa

sys.path.insert(0, os.path.join(uoa.ROOT, "tools"))
import vini  # noqa: E402

vini.UOAMAP = uoa.UOAMAP


def test_vini_two_slices_run_bgp_over_three_nodes():
    vini.up()
    try:
        for check in vini.CHECKS:
            check()
    finally:
        vini.down()
