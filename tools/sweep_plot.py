#!/usr/bin/env python3
"""Draws a sweep's results: a tau x beta heatmap of the final return (mean over seeds) and the
evaluation curves of the best three (tau, beta) pairs.

    tools/sweep_plot.py SWEEP_DIR [--out PNG] [--print]
    tools/plot.py SWEEP_DIR            (the same, when the directory is a sweep)

Reads SWEEP_DIR/sweep.csv and every shard's SWEEP_DIR/sweep-shard-I-of-N.csv (the columns are in
docs/formats.md), merged as `cuiql sweep-report` merges them: a row of a (member, step) that
several files hold is taken from the newest file. A member's final return is its latest
evaluation, so a sweep still running is drawn as it stands. Writes SWEEP_DIR/sweep.png by default;
--print writes "tau beta final_mean" per cell instead (what the heatmap shows, for checks).
"""
import argparse
import csv
import glob
import math
import os
import sys


def read_results(sweep_dir):
    """{(member, step): row} merged over the sweep's tables, newest file last."""
    paths = [p for p in glob.glob(os.path.join(sweep_dir, "sweep*.csv"))
             if os.path.basename(p) == "sweep.csv" or os.path.basename(p).startswith("sweep-shard-")]
    if not paths:
        raise SystemExit(f"sweep_plot: {sweep_dir}: no sweep.csv (not a sweep, or it has not started)")
    merged = {}
    for path in sorted(paths, key=lambda p: (os.stat(p).st_mtime_ns, p)):
        with open(path, newline="") as f:
            text = f.read()
        lines = text.split("\n")
        if not text.endswith("\n"):
            lines = lines[:-1]  # a torn last line
        for row in csv.DictReader(lines):
            if row.get("return"):
                merged[(int(row["member"]), int(row["step"]))] = row
    return merged


def summarize(merged):
    """{(tau, beta): {"final": [..], "curves": {member: [(step, return)]}}}, tau and beta as written."""
    cells = {}
    for (member, step), row in sorted(merged.items()):
        cell = cells.setdefault((row["tau"], row["beta"]), {"curves": {}})
        cell["curves"].setdefault(member, []).append((step, float(row["return"])))
    for cell in cells.values():
        cell["final"] = [curve[-1][1] for curve in cell["curves"].values()]
        cell["mean"] = sum(cell["final"]) / len(cell["final"])
    return cells


def std(values):
    if len(values) < 2:
        return float("nan")
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def draw(cells, out, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    taus = sorted({t for t, _ in cells}, key=float)
    betas = sorted({b for _, b in cells}, key=float)
    grid = np.full((len(taus), len(betas)), np.nan)
    for (t, b), cell in cells.items():
        grid[taus.index(t), betas.index(b)] = cell["mean"]

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 1.15]})
    im = ax.imshow(grid, cmap="viridis", origin="lower", aspect="auto")
    ax.set_xticks(range(len(betas)), labels=betas)
    ax.set_yticks(range(len(taus)), labels=taus)
    ax.set_xlabel("beta (temperature)")
    ax.set_ylabel("tau (expectile)")
    ax.set_title("final return, mean over seeds")
    fig.colorbar(im, ax=ax)
    best = max(cells, key=lambda k: cells[k]["mean"])
    lo, hi = np.nanmin(grid), np.nanmax(grid)
    for (t, b), cell in cells.items():
        i, j = taus.index(t), betas.index(b)
        s = std(cell["final"])
        text = f"{cell['mean']:.0f}" + ("" if math.isnan(s) else f"\n± {s:.0f}") + f"\n(n={len(cell['final'])})"
        light = hi > lo and (cell["mean"] - lo) / (hi - lo) < 0.6
        ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if light else "black",
                fontweight="bold" if (t, b) == best else "normal")
    ax.add_patch(plt.Rectangle((betas.index(best[1]) - 0.5, taus.index(best[0]) - 0.5), 1, 1, fill=False,
                               edgecolor="red", lw=2))

    # the best three pairs' evaluation curves: the mean over seeds at each step, the band ± std
    top = sorted(cells, key=lambda k: cells[k]["mean"], reverse=True)[:3]
    for k, key in enumerate(top):
        by_step = {}
        for curve in cells[key]["curves"].values():
            for step, ret in curve:
                by_step.setdefault(step, []).append(ret)
        steps = sorted(by_step)
        mean = np.array([np.mean(by_step[s]) for s in steps])
        spread = np.array([np.std(by_step[s], ddof=1) if len(by_step[s]) > 1 else 0.0 for s in steps])
        ax2.plot(steps, mean, "o-", color=f"C{k}", label=f"#{k + 1} tau {key[0]}, beta {key[1]}")
        ax2.fill_between(steps, mean - spread, mean + spread, color=f"C{k}", alpha=0.2)
    ax2.set_xlabel("step")
    ax2.set_ylabel("evaluation return")
    ax2.set_title("best three: mean ± std over seeds")
    ax2.grid(alpha=0.3)
    ax2.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    try:
        fig.savefig(out, dpi=100)
    except OSError as e:
        raise SystemExit(f"sweep_plot: {out}: {e.strerror}")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sweep_dir")
    ap.add_argument("--out", help="PNG to write (default SWEEP_DIR/sweep.png)")
    ap.add_argument("--print", action="store_true", help="print 'tau beta final_mean' per cell; draw nothing")
    args = ap.parse_args(argv)
    cells = summarize(read_results(args.sweep_dir))
    if not cells:
        raise SystemExit(f"sweep_plot: {args.sweep_dir}: no evaluation yet (set env in the config)")
    if args.print:
        for (t, b), cell in sorted(cells.items(), key=lambda kv: (float(kv[0][0]), float(kv[0][1]))):
            print(t, b, repr(cell["mean"]))
        return 0
    out = args.out or os.path.join(args.sweep_dir, "sweep.png")
    draw(cells, out, f"sweep {os.path.basename(os.path.normpath(args.sweep_dir))}")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
