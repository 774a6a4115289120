"""Plots bench/netperf.sh's JSON in the style of the paper's Figure 4:
throughput with N managed uids relative to the stock kernel (module not
loaded), one line per test, against the number of uids; the netns+veth
slice, the paper's competitor, as a group of its own on the right.

    python3 bench/plot.py [JSON] [PNG]
        default bench/results/netperf-latest.json -> bench/results/netperf-figure.png

Solid lines: source address given to netperf; dashed: left to the kernel.
Error bars: the lowest and highest per-round ratio (round r against round r
of the baseline). Needs matplotlib (Debian: python3-matplotlib).
"""

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_JSON = os.path.join(ROOT, "bench/results/netperf-latest.json")
DEFAULT_PNG = os.path.join(ROOT, "bench/results/netperf-figure.png")
GOAL = 0.98
NETNS = "netns"
STYLE = {"specified": "-", "unspecified": "--"}
MODE_NAME = {"specified": "source given", "unspecified": "source left to the kernel"}
# Request-response tests and streams on panels of their own: ten lines
# and their error bars in one panel cannot be told apart.
PANELS = [("request-response", lambda t: "STREAM" not in t), ("streams", lambda t: "STREAM" in t)]


def fail(msg):
    sys.exit(f"plot: {msg}")


def load(path):
    """The figure's data from netperf.py's JSON: (uid counts, tests, modes,
    {(config, test, mode): (median, min, max) or None}, the JSON)."""
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as e:
        fail(f"cannot read {path}: {e.strerror}")
    except ValueError as e:
        fail(f"{path} is not JSON: {e}")
    try:
        # uid counts; the hooks' breakdown ("noop:HOOK") is in the table only
        counts = [c for c in data["configs"] if isinstance(c, int) and c > 0]
        shown = counts + [NETNS] * (NETNS in data["configs"])
        tests, modes = list(data["tests"]), list(data["modes"])
        ratios = {}
        for c in shown:
            for t in tests:
                for m in modes:
                    r = data["ratios"][str(c)][t][m]
                    ratios[(c, t, m)] = None if r is None else (
                        float(r["median"]), float(r["min"]), float(r["max"]))
    except (KeyError, TypeError, ValueError) as e:
        fail(f"{path} is not bench/guest/netperf.py's JSON ({type(e).__name__}: {e})")
    if not counts and NETNS not in shown:
        fail(f"{path} has no configuration to compare with the baseline")
    return counts, tests, modes, ratios, data


def subtitle(data):
    clock = {True: "QEMU instruction counting (rates per guest instruction)",
             False: "wall clock (plain TCG)"}.get(data.get("icount"), "clock not recorded")
    parts = [f"kernel {data.get('kernel', '?')}", str(data.get("date", "?"))]
    if data.get("rounds") == 1:
        parts.append("one round, no error bars")
    elif data.get("rounds"):
        parts.append(f"median of {data['rounds']} rounds, bars: per-round range")
    return clock + "\n" + "; ".join(parts)


def bars(med, lo, hi):
    """matplotlib's yerr from the per-round range; a median outside it (the
    median of ratios is not the ratio of medians) gets no bar on that side."""
    below = [max(m - l, 0) if m == m else 0 for m, l in zip(med, lo)]  # m != m: a gap (NaN)
    above = [max(h - m, 0) if m == m else 0 for m, h in zip(med, hi)]
    return [below, above]



def main():
    if len(sys.argv) > 3:
        fail("usage: python3 bench/plot.py [JSON] [PNG]")
    src = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_JSON
    dst = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_PNG
    counts, tests, modes, ratios, data = load(src)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
    except ImportError:
        fail("matplotlib is not installed (Debian: python3-matplotlib)")

    panels = [(name, [t for t in tests if keep(t)]) for name, keep in PANELS]
    panels = [(name, ts) for name, ts in panels if ts]
    # The netns group sits four doublings to the right of the largest count.
    netns_x = (max(counts) if counts else 1) * 2 ** 4 if NETNS in data["configs"] else None
    xs = {c: float(c) for c in counts}
    if netns_x:
        xs[NETNS] = float(netns_x)
    colours = {t: f"C{i}" for i, t in enumerate(tests)}

    fig, axes = plt.subplots(1, len(panels), figsize=(max(9, 6.2 * len(panels)), 5.6),
                             sharey=True, squeeze=False)
    for ax, (name, panel_tests) in zip(axes[0], panels):
        series = [(t, m) for t in panel_tests for m in modes]
        for k, (t, m) in enumerate(series):
            # Each series a little apart, so that error bars do not overlap.
            shift = 2 ** (0.22 * (k - (len(series) - 1) / 2))
            kw = dict(color=colours[t], capsize=3, markersize=5, elinewidth=1)
            # A failed configuration is a gap in its line, not a straight
            # segment across it.
            nan = (float("nan"),) * 3
            points = [(xs[c] * shift, *(ratios[(c, t, m)] or nan)) for c in counts]
            if any(ratios[(c, t, m)] for c in counts):
                x, med, lo, hi = map(list, zip(*points))
                ax.errorbar(x, med, yerr=bars(med, lo, hi), linestyle=STYLE.get(m, ":"),
                            marker="o", **kw)
            r = ratios.get((NETNS, t, m))
            if netns_x and r:
                ax.errorbar([netns_x * shift], [r[0]], yerr=bars([r[0]], [r[1]], [r[2]]),
                            linestyle="none", marker="s" if m == "specified" else "D",
                            markerfacecolor=colours[t] if m == "specified" else "white", **kw)
        ax.axhline(1.0, color="0.6", linewidth=0.8)
        ax.axhline(GOAL, color="tab:red", linewidth=1, linestyle=":")
        # At the right end, above the few uids' points that reach the line.
        ax.annotate(f"goal ({GOAL})", xy=(0.99, GOAL), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", ha="right", color="tab:red",
                    fontsize=9)
        ax.set_xscale("log", base=2)
        ticks = sorted(xs.values())
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{c:,}" for c in counts] + (["netns+veth\nslice"] if netns_x else []))
        ax.minorticks_off()
        lo_x, hi_x = min(ticks), max(ticks)
        ax.set_xlim(lo_x / 2 ** 1.5, hi_x * 2 ** 1.5)
        if netns_x and counts:
            ax.axvline((max(counts) * netns_x) ** 0.5, color="0.75", linewidth=0.8, linestyle="-.")
        ax.set_xlabel("managed uids (module loaded, policy routing on)")
        ax.set_title(name, fontsize=11)
        ax.grid(axis="y", color="0.9")
    axes[0][0].set_ylabel("throughput / stock kernel (module not loaded)")
    low = min([r[1] for r in ratios.values() if r] + [GOAL])
    high = max([r[2] for r in ratios.values() if r] + [1.0])
    pad = (high - low) * 0.08 or 0.01
    axes[0][0].set_ylim(low - pad, high + pad)

    handles = [Line2D([], [], color=colours[t], marker="o", label=t) for t in tests]
    handles += [Line2D([], [], color="0.3", linestyle=STYLE[m], label=MODE_NAME[m])
                for m in modes if m in STYLE]
    if netns_x:
        handles.append(Line2D([], [], color="0.3", marker="s", linestyle="none",
                              label="netns+veth slice (filled: source given)"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 4),
               fontsize=9, frameon=False)
    against = "the stock kernel" + (" and a netns+veth slice" if netns_x else "")
    fig.suptitle(f"netperf: UOA against {against}\n" + subtitle(data), fontsize=11)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    try:
        fig.savefig(dst, dpi=120)
    except OSError as e:
        fail(f"cannot write {dst}: {e.strerror}")
    print(f"plot: {dst}")


if __name__ == "__main__":
    main()
