#!/usr/bin/env python3
"""Draws a run's training curves: loss/value, loss/q, loss/policy and eval/return.

    tools/plot.py RUN_DIR [--out PNG]

Reads RUN_DIR/metrics.csv (columns step, wall_time, then one per tag; an empty cell means the
tag was not measured at that step) and writes a 2×2 figure, by default RUN_DIR/curves.png.
eval/return is drawn with markers, with eval/normalized_score on a second axis when logged.
"""
import argparse
import csv
import math
import os
import sys

PANELS = ["loss/value", "loss/q", "loss/policy", "eval/return"]


def read_metrics(path):
    """{tag: ([steps], [values])} for every tag column, skipping empty cells."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise SystemExit(f"plot: {path}: {e.strerror}")
    if not rows or not rows[0] or rows[0][0] != "step":
        raise SystemExit(f"plot: {path}: not a cuiql metrics file (its first column is not 'step')")
    header = rows[0]
    series = {tag: ([], []) for tag in header[2:]}
    for line_no, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            step = int(float(row[0]))
        except ValueError:
            raise SystemExit(f"plot: {path}: line {line_no}: step '{row[0]}' is not a number")
        for tag, cell in zip(header[2:], row[2:]):
            if cell.strip() == "":
                continue
            try:
                value = float(cell)
            except ValueError:
                raise SystemExit(f"plot: {path}: line {line_no}: {tag} '{cell}' is not a number")
            if math.isfinite(value):
                series[tag][0].append(step)
                series[tag][1].append(value)
    return series


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", help="PNG to write (default RUN_DIR/curves.png)")
    args = ap.parse_args(argv)
    if os.path.exists(os.path.join(args.run_dir, "sweep.txt")):  # a sweep: tools/sweep_plot.py's heatmap
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import sweep_plot
        return sweep_plot.main([args.run_dir] + (["--out", args.out] if args.out else []))
    series = read_metrics(os.path.join(args.run_dir, "metrics.csv"))
    out = args.out or os.path.join(args.run_dir, "curves.png")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, tag in zip(axes.flat, PANELS):
        steps, values = series.get(tag, ([], []))
        ax.set_title(tag)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if not steps:
            ax.text(0.5, 0.5, "not logged", ha="center", va="center", transform=ax.transAxes, color="gray")
            continue
        if tag.startswith("eval/"):
            ax.plot(steps, values, "o-", color="C3")
            nsteps, nvalues = series.get("eval/normalized_score", ([], []))
            if nsteps:
                twin = ax.twinx()
                twin.plot(nsteps, nvalues, "s--", color="C2", alpha=0.6)
                twin.set_ylabel("normalized score", color="C2")
        else:
            ax.plot(steps, values, color="C0", lw=1)
            if min(values) > 0 and max(values) / min(values) > 100:
                ax.set_yscale("log")  # losses that fall by orders of magnitude
    fig.suptitle(os.path.basename(os.path.normpath(args.run_dir)))
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=100)
    except OSError as e:
        raise SystemExit(f"plot: {out}: {e.strerror}")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
