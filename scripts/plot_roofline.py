#!/usr/bin/python3
"""Roofline plot of one or more npusim reports (npusim run --report r.json).

Each report's ops (report["ops"]) are points at (intensity, achieved FLOP/s),
coloured by op class, under the machine's roofs: the compute roof, the memory
roof memtest sustains (run with --roofline to measure it; else the peak) and
the peak bandwidth. Uses Debian's python3-matplotlib.

  scripts/plot_roofline.py r.json [more.json ...] -o roofline.png
"""
import sys

from npusim_plot import add_reports, load_reports, parser, plt, save

CLASS_COLOURS = {"attention": "tab:blue", "mlp": "tab:orange", "norm": "tab:green",
                 "lm_head": "tab:red", "embedding": "tab:purple", "other": "tab:gray"}
MARKERS = "os^Dv<>p*h"


def main():
    ap = parser(__doc__, "roofline.png")
    add_reports(ap)
    args = ap.parse_args()
    reports, labels = load_reports(ap, args)

    fig, ax = plt.subplots(figsize=(8, 5.5))
    xs_all = []
    for i, (path, r, name) in enumerate(zip(args.reports, reports, labels)):
        roof = r.get("roofline", {})
        compute = roof.get("compute_roof_gflops", 0.0)
        memory = roof.get("memory_roof_gbps", 0.0)
        peak = roof.get("peak_memory_gbps", memory)
        ops = [o for o in r.get("ops", []) if o.get("seconds", 0) > 0 and o.get("flops", 0) > 0
               and o.get("intensity", 0) > 0]
        if not ops or compute <= 0 or memory <= 0:
            sys.exit(f"{path}: no roofline in the report (write it with npusim run --report)")
        xs = [o["intensity"] for o in ops]
        xs_all += xs
        marker = MARKERS[i % len(MARKERS)]
        for cls in sorted({o.get("op_class", "other") for o in ops}):
            pts = [o for o in ops if o.get("op_class", "other") == cls]
            ax.scatter([o["intensity"] for o in pts], [o["achieved_gflops"] for o in pts],
                       s=18, marker=marker, color=CLASS_COLOURS.get(cls, "black"), alpha=0.7,
                       label=f"{name}: {cls}")
        lo, hi = min(xs) / 4, max(max(xs) * 4, roof.get("ridge_intensity", 1) * 4)
        ridge = compute / memory
        ax.plot([lo, ridge, hi], [memory * lo, compute, compute], color="black", linewidth=1.5,
                linestyle="-" if i == 0 else ":")
        ax.plot([lo, compute / peak], [peak * lo, compute], color="gray", linewidth=1,
                linestyle="--")
        ax.annotate(f"{name}: compute roof {compute / 1e3:.0f} TFLOP/s, memory roof "
                    f"{memory:.0f} GB/s (ridge {ridge:.0f} FLOP/B)",
                    xy=(0.01, 0.98 - 0.05 * i), xycoords="axes fraction", fontsize=8, va="top")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("operational intensity (FLOP/byte)")
    ax.set_ylabel("achieved performance (GFLOP/s)")
    ax.set_title("Roofline: each op of the run (time attributed by completion)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    save(fig, args.output)


if __name__ == "__main__":
    main()
