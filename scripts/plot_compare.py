#!/usr/bin/python3
"""Compares npusim reports side by side: tokens per second, the share of the
memory's peak bandwidth used and of the arrays' peak, and tokens per joule
when the reports carry energy. Uses Debian's python3-matplotlib.

  scripts/plot_compare.py a.json b.json ... -o compare.png [--labels A,B,...]
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def tokens(r):
    w = r.get("workload", {})
    if w.get("tokens"):
        return w["tokens"]
    batch = w.get("batch", 1) or 1
    if w.get("phase") == "prefill":
        return batch * (w.get("kv_len", 0) or 1)
    return batch


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("reports", nargs="+", help="npusim run --report JSON files")
    ap.add_argument("-o", "--output", default="compare.png", help="PNG to write")
    ap.add_argument("--labels", default="", help="comma-separated names (default: the systems)")
    args = ap.parse_args()
    reports = []
    for path in args.reports:
        with open(path) as f:
            reports.append(json.load(f))
    labels = args.labels.split(",") if args.labels else [r.get("system", "?") for r in reports]
    if len(labels) != len(reports):
        ap.error(f"--labels: {len(labels)} names for {len(reports)} reports")

    per_s = [tokens(r) / r["seconds"] if r.get("seconds") else 0.0 for r in reports]
    bw = [100 * r["traffic"].get("achieved_bandwidth_gbps", 0) /
          max(r["traffic"].get("peak_bandwidth_gbps", 1), 1e-9) for r in reports]
    util = [100 * r.get("compute", {}).get("array_utilization", 0) for r in reports]
    per_j = [tokens(r) / r["energy"]["joules"] if r.get("energy", {}).get("joules") else None
             for r in reports]
    per_j = [r.get("energy", {}).get("tokens_per_joule") or v for r, v in zip(reports, per_j)]
    panels = [("tokens per second", per_s), ("memory bandwidth used (% of peak)", bw),
              ("array utilisation (%)", util)]
    if any(v is not None for v in per_j):
        panels.insert(1, ("tokens per joule", [v or 0.0 for v in per_j]))

    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
    for ax, (title, values) in zip(axes, panels):
        ax.bar(range(len(values)), values, color=[f"C{i}" for i in range(len(values))])
        ax.set_xticks(range(len(values)))
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(title)
        ax.grid(True, axis="y", alpha=0.3)
    fig.suptitle("npusim runs compared")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
