"""tools/plot.py: losses drawn smoothed (TensorBoard's debiased EMA) over their raw curve drawn
faint; the evaluation curve over its steps with labelled horizontal references (references.json,
--reference, --bc); one line per member of a sweep, labelled (τ, β, seed); the PNG's path printed."""
import csv
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

from checks import check, finish

TOOLS = os.path.join(os.environ["CUIQL_SOURCE_DIR"], "tools")
spec = importlib.util.spec_from_file_location("plot", os.path.join(TOOLS, "plot.py"))
plot = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot)


def write_run(path, seed, tau=0.7, beta=3.0, evals=True):
    """A run directory: metrics.csv with noisy losses every 100 steps, eval/return every 500."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "metrics.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step", "wall_time", "loss/value", "loss/q", "loss/policy", "eval/return"])
        for k in range(1, 21):
            noise = ((k * 7919 + seed) % 13) / 13.0
            ev = -1000 + 40 * k + seed if evals and k % 5 == 0 else ""
            w.writerow([k * 100, 0.0, 10.0 / k + noise, 20.0 / k + noise, 5.0 + noise, ev])
    with open(os.path.join(path, "config.yaml"), "w") as f:
        f.write(f"tau: {tau}\nbeta: {beta}\nseed: {seed}\n")


def main():
    # TensorBoard's smoothing: last = last·w + (1 − w)·v, shown debiased as last / (1 − w^n).
    vals = [1.0, 3.0, 2.0]
    w = 0.6
    expect, last = [], 0.0
    for n, v in enumerate(vals, 1):
        last = last * w + (1 - w) * v
        expect.append(last / (1 - w ** n))
    got = plot.ema(vals, w)
    check(all(abs(a - b) < 1e-12 for a, b in zip(got, expect)), f"EMA {got} == {expect}")
    check(got[0] == 1.0, "debiased: the first point is the first value, not pulled to 0")

    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        write_run(run, 0)
        with open(os.path.join(run, "references.json"), "w") as f:
            json.dump({"dataset mean (100 episodes)": -1016.3, "scripted expert": -153.8}, f)
        bc = os.path.join(tmp, "bc")
        write_run(bc, 5)
        runs = [(label, plot.read_metrics(p)) for label, p in plot.members(run)]
        refs = plot.references(run, ["BC paper=-900"], bc)
        fig = plot.figure(runs, refs, 0.6)
        axes = fig.axes
        titles = [ax.get_title() for ax in axes]
        check(titles[:3] == ["loss/value", "loss/q", "loss/policy"], f"panels: {titles}")
        for ax in axes[:3]:
            lines = ax.get_lines()
            alphas = sorted((ln.get_alpha() or 1.0) for ln in lines)
            check(len(lines) == 2 and alphas[0] < 0.5 and alphas[1] == 1.0,
                  f"{ax.get_title()}: a faint raw curve and a bold smoothed one ({len(lines)} lines, alphas {alphas})")
            smooth = [ln for ln in lines if (ln.get_alpha() or 1.0) == 1.0][0]
            raw = [ln for ln in lines if (ln.get_alpha() or 1.0) < 1.0][0]
            check(list(smooth.get_ydata()) == plot.ema(list(raw.get_ydata()), 0.6), f"{ax.get_title()}: smoothed = EMA(raw)")
        ev = axes[3]
        labels = [ln.get_label() for ln in ev.get_lines()]
        curve = [ln for ln in ev.get_lines() if ln.get_label() == "this run"]
        check(len(curve) == 1 and list(curve[0].get_xdata()) == [500, 1000, 1500, 2000],
              f"the evaluation curve over the steps it was measured at: {labels}")
        for want in ["dataset mean (100 episodes): -1016", "scripted expert: -153.8", "BC paper: -900",
                     "behaviour cloning (step 2000): -195"]:
            check(any(lab.startswith(want) for lab in labels), f"reference line '{want}' in {labels}")
        flat = [ln for ln in ev.get_lines() if ln.get_label().startswith("scripted expert")]
        check(flat and len(set(flat[0].get_ydata())) == 1, "references are horizontal lines")
        check(ev.get_legend() is not None, "the evaluation panel has a legend")

        sweep = os.path.join(tmp, "sweep")
        for i, (tau, beta) in enumerate([(0.7, 1.0), (0.9, 3.0), (0.9, 10.0)]):
            write_run(os.path.join(sweep, f"tau{tau}-beta{beta}-seed{i}"), i, tau, beta)
        members = plot.members(sweep)
        check([m[0] for m in members] == ["τ 0.7, β 1, seed 0", "τ 0.9, β 3, seed 1", "τ 0.9, β 10, seed 2"],
              f"one member per directory, labelled (τ, β, seed): {[m[0] for m in members]}")
        fig = plot.figure([(label, plot.read_metrics(p)) for label, p in members], [], 0.6)
        ev_labels = [ln.get_label() for ln in fig.axes[3].get_lines()]
        check(ev_labels == [m[0] for m in members], f"one evaluation line per member: {ev_labels}")
        legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        check(legend == [m[0] for m in members], f"loss legend names the members: {legend}")

        r = subprocess.run([sys.executable, os.path.join(TOOLS, "plot.py"), sweep], capture_output=True, text=True)
        png = os.path.join(sweep, "curves.png")
        check(r.returncode == 0 and r.stdout.strip() == png and os.path.getsize(png) > 1000,
              f"the sweep's PNG is written and its path printed: {r.stdout!r} {r.stderr!r}")
        r = subprocess.run([sys.executable, os.path.join(TOOLS, "plot.py"), run, "--reference", "oops"],
                           capture_output=True, text=True)
        check(r.returncode != 0 and "LABEL=NUMBER" in r.stderr, f"a bad --reference is refused: {r.stderr!r}")
    return finish("plot")


if __name__ == "__main__":
    sys.exit(main())
