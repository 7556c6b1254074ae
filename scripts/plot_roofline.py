#!/usr/bin/python3
"""Roofline plot of one or more npusim reports (npusim run --report r.json).

Each report's ops (report["ops"]) are points at (intensity, achieved FLOP/s
over the time the op was active), coloured by the measured resource that
limited it, under the machine's roofs: the compute roof and the peak
bandwidth, and the bandwidth memtest sustains when the report was written
with --roofline. The ops that took the most time are named. Uses Debian's
python3-matplotlib.

  scripts/plot_roofline.py r.json [more.json ...] -o roofline.png
"""
import math
import sys

from npusim_plot import add_reports, load_reports, parser, plt, save

LIMITER_COLOURS = ["tab:red", "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                   "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]
MARKERS = "os^Dv<>p*h"


def main():
    ap = parser(__doc__, "roofline.png")
    add_reports(ap)
    args = ap.parse_args()
    reports, labels = load_reports(ap, args)

    fig, ax = plt.subplots(figsize=(8, 5.5))
    limiters = sorted({o.get("bound", "") for r in reports for o in r.get("ops", [])} - {""})
    colour = {name: LIMITER_COLOURS[i % len(LIMITER_COLOURS)] for i, name in enumerate(limiters)}
    shown = set()
    roofs = set()
    labelled = []
    # One x range for every roof: all reports' ops.
    all_x = [o["intensity"] for r in reports for o in r.get("ops", [])
             if o.get("intensity", 0) > 0 and o.get("flops", 0) > 0]
    for i, (path, r, name) in enumerate(zip(args.reports, reports, labels)):
        roof = r.get("roofline", {})
        compute = roof.get("compute_roof_gflops", 0.0)
        peak = roof.get("peak_memory_gbps", 0.0)
        memory = roof.get("memory_roof_gbps", peak)
        ops = [o for o in r.get("ops", []) if o.get("active_seconds", 0) > 0
               and o.get("flops", 0) > 0 and o.get("intensity", 0) > 0]
        if not ops or compute <= 0 or peak <= 0:
            sys.exit(f"{path}: no roofline in the report (write it with npusim run --report)")
        marker = MARKERS[i % len(MARKERS)]
        for lim in sorted({o.get("bound", "") for o in ops}):
            pts = [o for o in ops if o.get("bound", "") == lim]
            label = f"limited by {lim}" if lim not in shown else None
            shown.add(lim)
            ax.scatter([o["intensity"] for o in pts], [o["achieved_gflops"] for o in pts],
                       s=22, marker=marker, color=colour.get(lim, "black"), alpha=0.75,
                       label=label)
        # The ops that took the most time, named (not on top of a name
        # already there).
        for o in sorted(ops, key=lambda o: -o.get("seconds", 0))[:3]:
            x, y = o["intensity"], o["achieved_gflops"]
            if any(abs(math.log10(x / lx)) < 0.3 and abs(math.log10(y / ly)) < 0.3
                   for lx, ly in labelled):
                continue
            labelled.append((x, y))
            ax.annotate(o["node"].split(".")[-1], (x, y), fontsize=7, xytext=(6, 2),
                        textcoords="offset points")
        # Each machine's roofs once: compute and peak bandwidth (solid), and
        # what memtest sustains when it was measured (dashed).
        lo, hi = min(all_x) / 4, max(max(all_x) * 4, compute / peak * 4)
        if (compute, peak, memory) not in roofs:
            style = "-" if not roofs else ":"
            roofs.add((compute, peak, memory))
            ax.plot([lo, compute / peak, hi], [peak * lo, compute, compute], color="black",
                    linewidth=1.5, linestyle=style)
            if memory < peak * 0.999:
                ax.plot([lo, compute / memory], [memory * lo, compute], color="gray",
                        linewidth=1, linestyle="--")
            # Several memories: each one's own roof (its peak, capped by its
            # link), thin and named at its left end; the solid roof is all
            # of them streaming at once.
            for m in roof.get("memories", []):
                bw = m.get("peak_gbps", 0.0)
                if bw <= 0 or bw >= peak * 0.999:
                    continue
                ax.plot([lo, compute / bw], [bw * lo, compute], color="tab:gray", linewidth=0.8,
                        linestyle="-.")
                ax.annotate(f"{m['name']} {bw:.0f} GB/s", (lo, bw * lo), fontsize=7,
                            xytext=(2, 3), textcoords="offset points", color="tab:gray")
        ax.annotate(f"{marker} {name}: compute roof {compute / 1e3:.0f} TFLOP/s, peak bandwidth "
                    f"{peak:.0f} GB/s" + (f" (sustained {memory:.0f})" if memory < peak * 0.999
                                          else ""),
                    xy=(0.01, 0.98 - 0.05 * i), xycoords="axes fraction", fontsize=8, va="top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (FLOP/byte)")
    ax.set_ylabel("achieved performance (GFLOP/s)")
    ax.set_title("Roofline: each op over the time it was active, coloured by its limiter")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    save(fig, args.output)


if __name__ == "__main__":
    main()
