"""What the plot scripts share: matplotlib without a display, the arguments
and loading of npusim reports, and writing the PNG. Imported by the
scripts beside it (Python puts a script's folder on its path)."""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402,F401  (the scripts draw with it)


def parser(doc, output):
    """An argument parser with the script's docstring and -o/--output."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("-o", "--output", default=output, help="PNG to write")
    return ap


def add_reports(ap):
    ap.add_argument("reports", nargs="+", help="npusim run --report JSON files")
    ap.add_argument("--labels", default="", help="comma-separated names (default: the systems)")


def load_reports(ap, args):
    """The reports add_reports() named, and a label for each."""
    reports = []
    for path in args.reports:
        with open(path) as f:
            reports.append(json.load(f))
    labels = args.labels.split(",") if args.labels else [r.get("system", "?") for r in reports]
    if len(labels) != len(reports):
        ap.error(f"--labels: {len(labels)} names for {len(reports)} reports")
    return reports, labels


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


def workload_text(report):
    """What a report ran: "llama2-7b.json decode, batch 1, KV 2048, 2 decoder
    layers" (a slice when the model has more)."""
    w = report.get("workload", {})
    model = str(w.get("model", "?")).rsplit("/", 1)[-1]
    phase = w.get("phase", "")
    length = f"KV {w.get('kv_len', '?')}" if phase == "decode" else f"prompt {w.get('kv_len', '?')}"
    layers = w.get("layers", 0)
    return (f"{model} {phase}, batch {w.get('batch', '?')}, {length}"
            + (f", {layers} decoder layer{'s' if layers != 1 else ''}" if layers else ""))
