#!/usr/bin/env python3
"""Draws a run's training curves to a PNG: the three losses and the evaluation return.

    tools/plot.py RUN_DIR [--out PNG] [--reference LABEL=VALUE]... [--bc BC_RUN_DIR] [--smoothing W]
    tools/plot.py SWEEP_DIR [--out PNG]            the tau x beta heatmap (tools/sweep_plot.py)
    tools/plot.py SWEEP_DIR --curves [...]         every member's curves instead

RUN_DIR is a run directory of `cuiql train` (metrics.csv) or a sweep's (sweep.txt and one
member directory each). Losses are logged from single batches, so each is drawn smoothed — an
exponential moving average debiased as TensorBoard's smoothing slider does, weight W per logged
point (default 0.9: single-batch losses are noisy; TensorBoard opens at 0.6) — over the raw
curve drawn faint. eval/return is drawn over the
steps it was measured at, with horizontal reference lines: the dataset's mean return, the
scripted expert and anything else found in RUN_DIR/references.json (written by tools/report.py:
{"label": value, ...}) or given with --reference; --bc adds the last evaluation of a behaviour
cloning run. With --curves a sweep gets one line per member, labelled (τ, β, seed). Writes RUN_DIR/curves.png
unless --out says otherwise, and prints its path.

metrics.csv: columns step, wall_time, then one per tag; an empty cell means the tag was not
measured at that step."""
import argparse
import csv
import json
import math
import os
import sys

LOSSES = ["loss/value", "loss/q", "loss/policy"]
EVAL = "eval/return"


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


def ema(values, weight):
    """TensorBoard's smoothing: an exponential moving average debiased for its zero start, so
    the first points are not pulled towards 0."""
    out, last, n = [], 0.0, 0
    for v in values:
        last = last * weight + (1 - weight) * v
        n += 1
        out.append(last / (1 - weight ** n) if weight < 1 else v)
    return out


def read_simple_yaml(path):
    """The top-level `key: value` scalars of a config.yaml cuiql wrote (no nesting is needed)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].rstrip()
                if ":" in line and not line.startswith(" "):
                    k, v = line.split(":", 1)
                    out[k.strip()] = v.strip().strip('"')
    except OSError:
        pass
    return out


def members(run_dir):
    """[(label, metrics.csv path)]: the run itself, or each member of a sweep labelled (τ, β, seed)."""
    own = os.path.join(run_dir, "metrics.csv")
    if os.path.exists(own):
        return [(None, own)]
    found = []
    for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else []:
        path = os.path.join(run_dir, name, "metrics.csv")
        if os.path.exists(path):
            cfg = read_simple_yaml(os.path.join(run_dir, name, "config.yaml"))
            try:
                key = (float(cfg["tau"]), float(cfg["beta"]), int(cfg["seed"]))
                label = f"τ {key[0]:g}, β {key[1]:g}, seed {key[2]}"
            except (KeyError, ValueError):
                key, label = (math.inf, math.inf, 0), name
            found.append((key, label, path))
    if not found:
        raise SystemExit(f"plot: {run_dir}: no metrics.csv here nor in a member directory (is it a cuiql run?)")
    return [(label, path) for _, label, path in sorted(found, key=lambda m: (m[0], m[1]))]


def references(run_dir, given, bc_dir):
    """[(label, value)]: RUN_DIR/references.json, then --reference, then --bc's last evaluation."""
    refs = {}
    path = os.path.join(run_dir, "references.json")
    if os.path.exists(path):
        try:
            with open(path) as f:
                refs.update({str(k): float(v) for k, v in json.load(f).items()})
        except (OSError, ValueError, AttributeError) as e:
            raise SystemExit(f"plot: {path}: not a {{label: number}} JSON object ({e})")
    for item in given:
        label, sep, value = item.rpartition("=")
        try:
            refs[label] = float(value)
        except ValueError:
            sep = ""
        if not sep or not label:
            raise SystemExit(f"plot: --reference: expected LABEL=NUMBER, got '{item}'")
    if bc_dir:
        steps, values = read_metrics(os.path.join(bc_dir, "metrics.csv")).get(EVAL, ([], []))
        if not values:
            raise SystemExit(f"plot: --bc {bc_dir}: its metrics.csv has no {EVAL} (was it run with env set?)")
        refs[f"behaviour cloning (step {steps[-1]})"] = values[-1]
    return list(refs.items())


def figure(runs, refs, smoothing):
    """The 2×2 figure of `runs` ([(label or None, series)]) with reference lines `refs`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for ax, tag in zip(axes.flat, LOSSES + [EVAL]):
        ax.set_title(tag if tag != EVAL else "eval/return (mean over the evaluation episodes)")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        drawn = False
        for i, (label, series) in enumerate(runs):
            steps, values = series.get(tag, ([], []))
            if not steps:
                continue
            drawn = True
            color = f"C{i % 10}"
            if tag == EVAL:
                ax.plot(steps, values, "o-", color=color, ms=3, label=label or "this run")
            else:
                ax.plot(steps, values, color=color, lw=0.8, alpha=0.25,
                        label=None if label else "each logged batch")
                ax.plot(steps, ema(values, smoothing), color=color, lw=1.6,
                        label=label or f"smoothed (EMA {smoothing:g})")
                if min(values) > 0 and max(values) / min(values) > 100:
                    ax.set_yscale("log")  # losses that fall by orders of magnitude
        if tag == EVAL:
            for j, (label, value) in enumerate(refs):
                ax.axhline(value, color=f"C{(len(runs) + j) % 10}", ls="--", lw=1.2, label=f"{label}: {value:.4g}")
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "not logged" if tag != EVAL else "not logged (train with env set to evaluate)",
                    ha="center", va="center", transform=ax.transAxes, color="gray")
            continue
        ax.legend(fontsize=7 if len(runs) > 6 else 8, loc="best")
    return fig


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", help="PNG to write (default RUN_DIR/curves.png)")
    ap.add_argument("--reference", action="append", default=[], metavar="LABEL=VALUE",
                    help="a horizontal line on the evaluation panel (repeatable)")
    ap.add_argument("--bc", metavar="BC_RUN_DIR", help="a behaviour cloning run whose last evaluation is drawn as a line")
    ap.add_argument("--smoothing", type=float, default=0.9, help="EMA weight per logged point, 0..1 (default 0.9)")
    ap.add_argument("--curves", action="store_true",
                    help="on a sweep directory: every member's curves instead of the tau x beta heatmap")
    args = ap.parse_args(argv)
    if os.path.exists(os.path.join(args.run_dir, "sweep.txt")) and not args.curves:
        # a sweep: tools/sweep_plot.py's heatmap and its best three curves
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import sweep_plot
        return sweep_plot.main([args.run_dir] + (["--out", args.out] if args.out else []))
    if not 0 <= args.smoothing < 1:
        raise SystemExit(f"plot: --smoothing: expected a weight in [0, 1), got {args.smoothing}")
    runs = [(label, read_metrics(path)) for label, path in members(args.run_dir)]
    refs = references(args.run_dir, args.reference, args.bc)
    out = args.out or os.path.join(args.run_dir, "curves.png")
    fig = figure(runs, refs, args.smoothing)
    fig.suptitle(os.path.basename(os.path.normpath(args.run_dir)) +
                 (f" — {len(runs)} members" if len(runs) > 1 else "") +
                 "   (faint: each logged batch; bold: smoothed)")
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=100)
    except OSError as e:
        raise SystemExit(f"plot: {out}: {e.strerror}")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
