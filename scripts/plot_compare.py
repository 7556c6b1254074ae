#!/usr/bin/python3
"""Compares npusim reports side by side: tokens per second and per joule (the
workload's tokens, which a report of `npusim run --program` does not know:
0), the share of the memory's peak bandwidth used and of the arrays' peak.
Uses Debian's python3-matplotlib.

The title says what ran (the model, phase, batch, KV length and layers,
when the reports share them; else each bar's label does).

  scripts/plot_compare.py a.json b.json ... -o compare.png [--labels A,B,...] [--title TEXT]
"""
from npusim_plot import add_reports, load_reports, parser, plt, save, workload_text


def main():
    ap = parser(__doc__, "compare.png")
    add_reports(ap)
    ap.add_argument("--title", default="", help="what was compared (default: the workload)")
    args = ap.parse_args()
    reports, labels = load_reports(ap, args)
    runs = [workload_text(r) for r in reports]
    if len(set(runs)) > 1:  # each bar says what it ran
        labels = [f"{label}\n{run}" for label, run in zip(labels, runs)]

    per_s = [r.get("workload", {}).get("tokens", 0) / r["seconds"] if r.get("seconds") else 0.0
             for r in reports]
    per_j = [r.get("energy", {}).get("tokens_per_joule", 0.0) for r in reports]
    bw = [100 * r["traffic"].get("achieved_bandwidth_gbps", 0) /
          max(r["traffic"].get("peak_bandwidth_gbps", 1), 1e-9) for r in reports]
    util = [100 * r.get("compute", {}).get("array_utilization", 0) for r in reports]
    panels = [("tokens per second", per_s), ("tokens per joule", per_j),
              ("memory bandwidth used (% of peak)", bw), ("array utilisation (%)", util)]

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for ax, (title, values) in zip(axes, panels):
        ax.bar(range(len(values)), values, color=[f"C{i}" for i in range(len(values))])
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(title)
        ax.grid(True, axis="y", alpha=0.3)
    same = len(set(runs)) == 1
    fig.suptitle(args.title or (runs[0] if same else "npusim runs compared"))
    save(fig, args.output)


if __name__ == "__main__":
    main()
