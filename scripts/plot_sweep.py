#!/usr/bin/python3
"""Plots columns of an npusim sweep CSV (npusim sweep --csv s.csv): --y
against --x, a line per value of --series, a panel per value of --facet.
Lines are told apart by colour and marker (and dashes), so none hides
another; log axes keep plain numbers. Uses Debian's python3-matplotlib.

  scripts/plot_sweep.py s.csv --x batch --y tokens_per_s [--series memory.dram.preset]
      [--facet core.array.count] [--logx] [--logy] [--title TEXT] -o sweep.png
"""
import csv
import math
import sys

from matplotlib.ticker import FuncFormatter, LogLocator
from npusim_plot import parser, plt, save

# The sweep CSV's figures: what they are, with their units, for the axes.
NAMES = {
    "seconds": "time (s)", "tokens_per_s": "tokens per second", "bytes_read": "bytes read",
    "bytes_written": "bytes written", "bandwidth_gbps": "memory bandwidth (GB/s)",
    "bandwidth_share": "share of peak memory bandwidth", "array_utilization":
    "share of the arrays' peak", "intensity": "operational intensity (FLOP/B)",
    "joules": "energy (J)", "joules_per_token": "energy per token (J)",
    "tokens_per_joule": "tokens per joule", "average_w": "average power (W)",
    "peak_w": "peak power (W)", "memory_joules": "memory energy (J)", "cycles": "cycles",
    "kv_len": "KV-cache length (positions)", "batch": "batch (sequences)",
    "bound_share": "limiter's busy share",
}
MARKERS = "osD^v<>ph*"
DASHES = ["-", "--", "-.", ":"]


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def plain(v, _pos=None):
    """A tick as a plain number: 1, 16, 256, 4096, 0.5, 2.5e+06."""
    if v >= 1e6 or (0 < v < 1e-3):
        return f"{v:.3g}"
    return f"{v:g}"


def main():
    ap = parser(__doc__, "sweep.png")
    ap.add_argument("csv", help="npusim sweep --csv file")
    ap.add_argument("--x", required=True, help="column on the x axis (numbers)")
    ap.add_argument("--y", required=True, help="column on the y axis (numbers)")
    ap.add_argument("--series", default="", help="column whose values each get a line")
    ap.add_argument("--facet", default="", help="column whose values each get a panel")
    ap.add_argument("--logx", action="store_true", help="log x axis (base 2)")
    ap.add_argument("--logy", action="store_true", help="log y axis")
    ap.add_argument("--title", default="", help="the plot's title (default: y against x)")
    args = ap.parse_args()
    with open(args.csv) as f:
        rows = [r for r in csv.DictReader(f) if not r.get("error")]
    if not rows:
        sys.exit(f"{args.csv}: no rows (or every point failed)")
    for column in (args.x, args.y, args.series, args.facet):
        if column and column not in rows[0]:
            sys.exit(f"{args.csv}: no column '{column}' (columns: {', '.join(rows[0])})")
    panels = {}
    for r in rows:
        x, y = number(r[args.x]), number(r[args.y])
        if x is None or y is None:
            sys.exit(f"{args.csv}: '{args.x}' and '{args.y}' must be numbers, not "
                     f"'{r[args.x]}', '{r[args.y]}'")
        panel = panels.setdefault(r[args.facet] if args.facet else "", {})
        panel.setdefault(r[args.series] if args.series else "", []).append((x, y))
    series = sorted({s for p in panels.values() for s in p},
                    key=lambda s: (number(s) is None, number(s) or 0, s))
    style = {s: (f"C{i % 10}", MARKERS[i % len(MARKERS)], DASHES[i // 10 % len(DASHES)])
             for i, s in enumerate(series)}

    n = len(panels)
    cols = min(n, 3)
    rows_n = math.ceil(n / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(5.5 * cols, 4 * rows_n), squeeze=False,
                             sharex=True, sharey=True)
    facets = sorted(panels, key=lambda s: (number(s) is None, number(s) or 0, s))
    for ax, facet in zip(axes.flat, facets):
        for name in series:
            points = sorted(panels[facet].get(name, []))
            if not points:
                continue
            colour, marker, dash = style[name]
            ax.plot([p[0] for p in points], [p[1] for p in points], color=colour,
                    marker=marker, linestyle=dash, markersize=5, alpha=0.85,
                    label=f"{args.series} = {name}" if args.series else None)
        if args.logx:
            ax.set_xscale("log", base=2)
            ax.xaxis.set_major_formatter(FuncFormatter(plain))
        if args.logy:
            ax.set_yscale("log")
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(plain))
        if args.facet:
            ax.set_title(f"{args.facet} = {facet}", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(NAMES.get(args.x, args.x))
    for ax in axes[:, 0]:
        ax.set_ylabel(NAMES.get(args.y, args.y))
    if args.series:  # every panel's lines, once
        handles = {}
        for ax in axes.flat[:n]:
            for h, label in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(label, h)
        axes.flat[0].legend(handles.values(), handles.keys(), fontsize=8)
    fig.suptitle(args.title or f"{NAMES.get(args.y, args.y)} against {NAMES.get(args.x, args.x)}")
    save(fig, args.output)


if __name__ == "__main__":
    main()
