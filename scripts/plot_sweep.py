#!/usr/bin/python3
"""Plots columns of an npusim sweep CSV (npusim sweep --csv s.csv): one line
per value of --series (or one line), --y against --x. Uses Debian's
python3-matplotlib.

  scripts/plot_sweep.py s.csv --x batch --y tokens_per_s [--series core.array.count]
      [--logx] [--logy] -o sweep.png
"""
import csv
import sys

from npusim_plot import parser, plt, save

# Units of the sweep CSV's figures, for the axis labels.
UNITS = {
    "seconds": "s", "tokens_per_s": "tokens/s", "bytes_read": "B", "bytes_written": "B",
    "bandwidth_gbps": "GB/s", "bandwidth_share": "of peak", "array_utilization": "of peak",
    "intensity": "FLOP/B", "joules": "J", "joules_per_token": "J/token",
    "tokens_per_joule": "tokens/J", "average_w": "W", "peak_w": "W", "memory_joules": "J",
    "cycles": "cycles", "kv_len": "positions", "batch": "sequences",
}


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def main():
    ap = parser(__doc__, "sweep.png")
    ap.add_argument("csv", help="npusim sweep --csv file")
    ap.add_argument("--x", required=True, help="column on the x axis (numbers)")
    ap.add_argument("--y", required=True, help="column on the y axis (numbers)")
    ap.add_argument("--series", default="", help="column whose values each get a line")
    ap.add_argument("--logx", action="store_true")
    ap.add_argument("--logy", action="store_true")
    args = ap.parse_args()
    with open(args.csv) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{args.csv}: no rows")
    for column in (args.x, args.y, args.series):
        if column and column not in rows[0]:
            sys.exit(f"{args.csv}: no column '{column}' (columns: {', '.join(rows[0])})")
    lines = {}
    for r in rows:
        x, y = number(r[args.x]), number(r[args.y])
        if x is None or y is None:
            sys.exit(f"{args.csv}: '{args.x}' and '{args.y}' must be numbers, not "
                     f"'{r[args.x]}', '{r[args.y]}'")
        lines.setdefault(r[args.series] if args.series else "", []).append((x, y))

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in lines.items():
        points.sort()
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o",
                label=f"{args.series} = {name}" if args.series else None)
    ax.set_xlabel(f"{args.x} ({UNITS[args.x]})" if args.x in UNITS else args.x)
    ax.set_ylabel(f"{args.y} ({UNITS[args.y]})" if args.y in UNITS else args.y)
    if args.logx:
        ax.set_xscale("log", base=2)
    if args.logy:
        ax.set_yscale("log")
    if args.series:
        ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{args.y} against {args.x}")
    save(fig, args.output)


if __name__ == "__main__":
    main()
