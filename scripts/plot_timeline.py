#!/usr/bin/python3
"""A run over time, from an npusim timeline (npusim run --trace t.json):

  - memory bandwidth per stack and in all (GB/s), against the peak;
  - one row per unit (DMA, matrix, vector) of the first core: the share of
    each window it was busy, stalled (coloured by the resource it waited
    for, as the trace names it) or idle;
  - the scratchpad in use (MiB), against its capacity;
  - the power of the core and the memory (W, per power window).

Layers (and the LM head) are shaded and named along the top. Uses Debian's
python3-matplotlib.

  scripts/plot_timeline.py t.json -o timeline.png [--window-us 1] [--title TEXT]
"""
import json
import re
import sys

from npusim_plot import parser, plt, save

UNITS = {1: "DMA", 2: "matrix", 3: "vector"}
BUSY = "tab:green"
STALL_COLOURS = ["tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                 "tab:cyan", "tab:blue", "tab:gray"]


def reference(ax, value, text):
    """A dashed line at `value` (a peak, a capacity), named, with room above."""
    ax.axhline(value, color="black", linestyle="--", linewidth=1)
    ax.annotate(text, (0, value), xytext=(4, 3), textcoords="offset points", fontsize=8)
    ax.set_ylim(0, value * 1.15)


def per_window(slices, bins, window):
    """Time of each window the slices cover."""
    out = [0.0] * bins
    for e in slices:
        start, stop = e["ts"], e["ts"] + e["dur"]
        for b in range(int(start / window), min(int(stop / window), bins - 1) + 1):
            overlap = min(stop, (b + 1) * window) - max(start, b * window)
            if overlap > 0:
                out[b] += overlap
    return out


def spans(events):
    """Each layer's (and the LM head's) first start and last end of compute,
    from the matrix and vector instructions' names ("layers.3.q_proj: tile
    ..."; loads run ahead, into the layer before)."""
    found = {}
    for e in events:
        if e.get("ph") not in ("b", "e") or re.search(r": (load|store) ", e.get("name", "")):
            continue
        m = re.match(r"(layers\.(\d+)|lm_head)", e.get("name", ""))
        if not m:
            continue
        key = (int(m.group(2)), f"L{m.group(2)}") if m.group(2) else (1 << 30, "head")
        lo, hi = found.get(key, (e["ts"], e["ts"]))
        found[key] = (min(lo, e["ts"]), max(hi, e["ts"]))
    return [(name, lo, hi) for (_, name), (lo, hi) in sorted(found.items())]


def main():
    ap = parser(__doc__, "timeline.png")
    ap.add_argument("trace", help="npusim run --trace JSON file")
    ap.add_argument("--window-us", type=float, default=0.0,
                    help="utilisation window, us (default: the run / 200)")
    ap.add_argument("--title", default="", help="what was run (default: the system)")
    args = ap.parse_args()
    with open(args.trace) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    machine = trace.get("otherData", {})

    core = min([e["pid"] for e in events if e.get("ph") == "X"] or [1])
    counters = [e for e in events if e.get("ph") == "C" and e.get("name") == "bandwidth GB/s"]
    spm = [e for e in events if e.get("ph") == "C" and e.get("name") == "scratchpad MiB"
           and e.get("pid") == core]
    power = [e for e in events if e.get("ph") == "C" and e.get("name") == "power W"
             and e.get("pid") == core]
    slices = [e for e in events if e.get("ph") == "X" and e.get("pid") == core]
    if not counters and not slices:
        sys.exit(f"{args.trace}: no counters or unit slices")
    end = max([e["ts"] + e["dur"] for e in slices] + [e["ts"] for e in counters] + [1e-3])
    window = args.window_us if args.window_us > 0 else end / 200
    bins = int(end / window) + 1
    xs = [b * window for b in range(bins)]

    rows = ["bandwidth"] + list(UNITS.values()) + ["scratchpad"] + (["power"] if power else [])
    heights = [3, 1.2, 1.2, 1.2, 2] + ([2] if power else [])
    fig, axes = plt.subplots(len(rows), 1, figsize=(11.5, 2 * sum(heights) / 1.6),
                             sharex=True, gridspec_kw={"height_ratios": heights})
    ax_bw = axes[0]

    lanes = sorted({k for e in counters for k in e["args"]})
    ts = [e["ts"] for e in counters]
    for lane in lanes:
        ax_bw.step(ts, [e["args"].get(lane, 0.0) for e in counters], where="post", label=lane,
                   linewidth=0.8)
    if len(lanes) > 1:
        ax_bw.step(ts, [sum(e["args"].values()) for e in counters], where="post", label="all",
                   color="black", linewidth=1.5)
    peak = machine.get("peak_memory_gbps", 0)
    if peak:
        reference(ax_bw, peak, f"peak {peak:.0f} GB/s")
    ax_bw.set_ylabel("memory (GB/s)")
    ax_bw.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1))

    # One colour per stall cause, the same in every unit's row.
    causes = sorted({e["name"] for e in slices if e["name"] != "busy"})
    colour = {c: STALL_COLOURS[i % len(STALL_COLOURS)] for i, c in enumerate(causes)}
    shown = set()
    for ax, (tid, unit) in zip(axes[1:4], UNITS.items()):
        mine = [e for e in slices if e.get("tid") == tid]
        layers = [("busy", BUSY, per_window([e for e in mine if e["name"] == "busy"], bins, window))]
        for c in causes:
            layers.append((c, colour[c], per_window([e for e in mine if e["name"] == c], bins,
                                                    window)))
        bottom = [0.0] * bins
        for name, col, share in layers:
            if not any(share):
                continue
            top = [b + 100 * s / window for b, s in zip(bottom, share)]
            ax.fill_between(xs, bottom, top, step="post", color=col, linewidth=0,
                            label=None if name in shown else name)
            shown.add(name)
            bottom = top
        ax.set_ylim(0, 100)
        ax.set_yticks([0, 50, 100])
        ax.set_ylabel(f"{unit} (%)")
    handles, labels = [], []
    for ax in axes[1:4]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    axes[1].legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1),
                   title=f"each {window:.3g} us:", title_fontsize=7)

    ax_spm = axes[4]
    ax_spm.step([e["ts"] for e in spm], [e["args"]["in use"] for e in spm], where="post",
                color="tab:purple", linewidth=1)
    capacity = machine.get("scratchpad_mib", 0)
    if capacity:
        reference(ax_spm, capacity, f"capacity {capacity:.0f} MiB")
    ax_spm.set_ylabel("scratchpad (MiB)")
    if power:
        ax_w = axes[5]
        ts = [e["ts"] for e in power]
        core_w = [e["args"]["core"] for e in power]
        memory_w = [e["args"]["memory"] for e in power]
        ax_w.step(ts, core_w, where="post", label="core", linewidth=1)
        ax_w.step(ts, memory_w, where="post", label="memory", linewidth=1)
        ax_w.step(ts, [c + m for c, m in zip(core_w, memory_w)], where="post", label="total",
                  color="black", linewidth=1.5)
        ax_w.set_ylabel("power (W)")
        ax_w.set_ylim(bottom=0)
        ax_w.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1))

    # Layers: shaded every other one across every row, named along the top.
    for i, (name, lo, hi) in enumerate(spans(events)):
        for ax in axes:
            if i % 2 == 0:
                ax.axvspan(lo, hi, color="0.92", zorder=0, linewidth=0)
        ax_bw.text((lo + hi) / 2, 1.01, name, transform=ax_bw.get_xaxis_transform(),
                   ha="center", va="bottom", fontsize=7)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("simulated time (us)")
    fig.suptitle(args.title or f"{machine.get('system', 'npusim')}: memory, units, scratchpad"
                 + (" and power" if power else "") + " over time")
    save(fig, args.output)


if __name__ == "__main__":
    main()
