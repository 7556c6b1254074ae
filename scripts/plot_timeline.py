#!/usr/bin/python3
"""Bandwidth and utilisation over time from an npusim timeline
(npusim run --trace t.json): memory bandwidth per stack (GB/s), each unit's
busy and stalled share per window, the scratchpad in use (MiB) and the
power of the core and the memory (W, per power window). Uses
Debian's python3-matplotlib.

  scripts/plot_timeline.py t.json -o timeline.png [--window-us 1]
"""
import json
import sys

from npusim_plot import parser, plt, save

UNITS = {1: "dma", 2: "matrix", 3: "vector"}


def main():
    ap = parser(__doc__, "timeline.png")
    ap.add_argument("trace", help="npusim run --trace JSON file")
    ap.add_argument("--window-us", type=float, default=0.0,
                    help="utilisation window, us (default: the run / 200)")
    args = ap.parse_args()
    with open(args.trace) as f:
        events = json.load(f)["traceEvents"]

    counters = [e for e in events if e.get("ph") == "C" and e.get("name") == "bandwidth GB/s"]
    spm = [e for e in events if e.get("ph") == "C" and e.get("name") == "scratchpad MiB"]
    power = [e for e in events if e.get("ph") == "C" and e.get("name") == "power W"]
    slices = [e for e in events if e.get("ph") == "X"]
    if not counters and not slices:
        sys.exit(f"{args.trace}: no counters or unit slices")
    end = max([e["ts"] + e["dur"] for e in slices] + [e["ts"] for e in counters] + [1e-3])
    window = args.window_us if args.window_us > 0 else end / 200
    bins = int(end / window) + 1

    fig, axes = plt.subplots(4 if power else 3, 1, figsize=(9, 10.5 if power else 8), sharex=True)
    ax_bw, ax_unit, ax_spm = axes[:3]
    lanes = sorted({k for e in counters for k in e["args"]})
    for lane in lanes:
        ts = [e["ts"] for e in counters]
        ax_bw.step(ts, [e["args"].get(lane, 0.0) for e in counters], where="post", label=lane,
                   linewidth=1)
    if len(lanes) > 1:
        total = [sum(e["args"].values()) for e in counters]
        ax_bw.step([e["ts"] for e in counters], total, where="post", label="all", color="black",
                   linewidth=1.5)
    ax_bw.set_ylabel("memory bandwidth (GB/s)")
    ax_bw.legend(fontsize=7, ncol=3)
    ax_bw.grid(True, alpha=0.3)

    for tid, unit in UNITS.items():
        busy = [0.0] * bins
        stalled = [0.0] * bins
        for e in slices:
            if e.get("tid") != tid:
                continue
            target = busy if e["name"] == "busy" else stalled
            start, stop = e["ts"], e["ts"] + e["dur"]
            first, last = int(start / window), min(int(stop / window), bins - 1)
            for b in range(first, last + 1):  # the slice's overlap with each window
                overlap = min(stop, (b + 1) * window) - max(start, b * window)
                if overlap > 0:
                    target[b] += overlap
        xs = [b * window for b in range(bins)]
        line = ax_unit.step(xs, [100 * v / window for v in busy], where="post",
                            label=f"{unit} busy", linewidth=1)
        ax_unit.step(xs, [100 * v / window for v in stalled], where="post", linestyle=":",
                     color=line[0].get_color(), label=f"{unit} stalled", linewidth=1)
    ax_unit.set_ylabel(f"share of each {window:.3g} us (%)")
    ax_unit.legend(fontsize=7, ncol=3)
    ax_unit.grid(True, alpha=0.3)
    ax_spm.step([e["ts"] for e in spm], [e["args"]["in use"] for e in spm], where="post",
                color="tab:purple", linewidth=1)
    ax_spm.set_ylabel("scratchpad in use (MiB)")
    ax_spm.grid(True, alpha=0.3)
    if power:
        ax_w = axes[3]
        ts = [e["ts"] for e in power]
        core = [e["args"]["core"] for e in power]
        memory = [e["args"]["memory"] for e in power]
        ax_w.step(ts, core, where="post", label="core", linewidth=1)
        ax_w.step(ts, memory, where="post", label="memory", linewidth=1)
        ax_w.step(ts, [c + m for c, m in zip(core, memory)], where="post", label="total",
                  color="black", linewidth=1.5)
        ax_w.set_ylabel("power (W)")
        ax_w.legend(fontsize=7, ncol=3)
        ax_w.grid(True, alpha=0.3)
    axes[-1].set_xlabel("simulated time (us)")
    fig.suptitle("Memory bandwidth, unit activity, scratchpad and power over time")
    save(fig, args.output)


if __name__ == "__main__":
    main()
