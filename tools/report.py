#!/usr/bin/env python3
"""What a trained run achieves, as one labelled table and a picture.

    tools/report.py RUN_DIR [--episodes N] [--seed S] [--bc BC_RUN_DIR] [--bin CUIQL]

RUN_DIR is a run of `cuiql train` with a built-in `env` in its config.yaml. The report runs
`cuiql info` on the run's dataset and `cuiql eval` on its checkpoint (N episodes, default 50),
then prints, each labelled: the dataset's mean episode return, the scripted expert's, the trained
policy's over N episodes with its spread (and behaviour cloning's, with --bc), the normalized
score of each (0 = random actions, 100 = the scripted expert), and what "good" means. It writes
RUN_DIR/references.json (the reference returns, for tools/plot.py), draws RUN_DIR/curves.png
with tools/plot.py, and ends with the picture's path."""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"report: {' '.join(cmd)} failed: {(r.stderr or r.stdout).strip()}")
    return r.stdout


def config_value(run_dir, key):
    """A top-level scalar of RUN_DIR/config.yaml (as cuiql writes it: `key: value  # comment`)."""
    path = os.path.join(run_dir, "config.yaml")
    try:
        with open(path) as f:
            for line in f:
                m = re.match(rf"{re.escape(key)}:\s*(.*?)\s*(#.*)?$", line)
                if m:
                    return m.group(1).strip('"')
    except OSError as e:
        raise SystemExit(f"report: {path}: {e.strerror} (is {run_dir} a cuiql run directory?)")
    raise SystemExit(f"report: {path}: no '{key}' key")


def dataset_stats(binary, dataset):
    """(episodes, mean episode return) from `cuiql info`."""
    text = run([binary, "info", dataset])
    episodes = re.search(r"^episodes:\s+(\d+)", text, re.M)
    ret = re.search(r"^episode return:\s+min \S+\s+mean (\S+)", text, re.M)
    if not episodes or not ret:
        raise SystemExit(f"report: cuiql info {dataset}: no episode returns in its output")
    return int(episodes.group(1)), float(ret.group(1))


def policy_stats(binary, checkpoint, episodes, seed):
    """{env, mean, std, n, score, random, expert} from `cuiql eval`."""
    text = run([binary, "eval", "--checkpoint", checkpoint, "--episodes", str(episodes), "--seed", str(seed)])
    env = re.search(r"^env: (\S+)", text, re.M)
    ret = re.search(r"return: (\S+) ± (\S+) over (\d+) episodes", text)
    score = re.search(r"normalized score: (\S+) \(random (\S+), expert (\S+)\)", text)
    if not env or not ret or not score:
        raise SystemExit(f"report: cuiql eval {checkpoint}: unexpected output: {text!r}")
    return dict(env=env.group(1), mean=float(ret.group(1)), std=float(ret.group(2)), n=int(ret.group(3)),
                score=float(score.group(1)), random=float(score.group(2)), expert=float(score.group(3)))


def last_training_eval(run_dir):
    """(step, return) of the run's last in-training evaluation, or None."""
    path = os.path.join(run_dir, "metrics.csv")
    try:
        import csv
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r.get("eval/return")]
    except OSError:
        return None
    return (int(float(rows[-1]["step"])), float(rows[-1]["eval/return"])) if rows else None


def table(rows):
    """Rows of (what, return, score) as aligned text."""
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"  {a:<{w0}}   {b:>{w1}}   {c:>16}" for a, b, c in rows)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--episodes", type=int, default=50, help="evaluation episodes (default 50)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the evaluation episodes' start states")
    ap.add_argument("--bc", metavar="BC_RUN_DIR", help="a behaviour cloning run to report beside it")
    ap.add_argument("--bin", default=os.environ.get("CUIQL_BIN", os.path.join(HERE, "..", "build", "cuiql")),
                    help="the cuiql binary (default: build/cuiql)")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        raise SystemExit(f"report: --episodes: expected at least 1, got {args.episodes}")

    dataset = config_value(args.run_dir, "dataset")
    n_data, data_mean = dataset_stats(args.bin, dataset)
    pol = policy_stats(args.bin, os.path.join(args.run_dir, "checkpoint.h5"), args.episodes, args.seed)
    span = pol["expert"] - pol["random"]

    def score(r):
        return f"{100 * (r - pol['random']) / span:.1f}"

    refs = {f"dataset mean ({n_data} episodes)": data_mean, "scripted expert": pol["expert"]}
    rows = [("", "return", "normalized score"),
            (f"dataset: mean of its {n_data} episodes", f"{data_mean:.1f}", score(data_mean)),
            ("scripted expert", f"{pol['expert']:.1f}", "100.0"),
            ("random actions", f"{pol['random']:.1f}", "0.0")]
    if args.bc:
        bc = policy_stats(args.bin, os.path.join(args.bc, "checkpoint.h5"), args.episodes, args.seed)
        rows.append((f"behaviour cloning, {bc['n']} episodes", f"{bc['mean']:.1f} ± {bc['std']:.1f}", f"{bc['score']:.1f}"))
        refs["behaviour cloning"] = bc["mean"]
    rows.append((f"trained policy, {pol['n']} episodes", f"{pol['mean']:.1f} ± {pol['std']:.1f}", f"{pol['score']:.1f}"))

    try:
        with open(os.path.join(args.run_dir, "references.json"), "w") as f:
            json.dump(refs, f, indent=1)
    except OSError as e:
        raise SystemExit(f"report: {args.run_dir}/references.json: {e.strerror}")
    r = subprocess.run([sys.executable, os.path.join(HERE, "plot.py"), args.run_dir], capture_output=True, text=True)
    picture = r.stdout.strip() if r.returncode == 0 else None

    print(f"\nResult in {pol['env']} ({args.run_dir}):\n")
    print(table(rows))
    print(f"\n  ± is the standard deviation over the {pol['n']} evaluation episodes (start-state seed {args.seed}).")
    print("  normalized score = 100 × (return − random) / (expert − random): 0 is random actions, 100 the scripted expert.")
    print(f"  Good: above the dataset's {score(data_mean)} means the policy does better than the behaviour it learned")
    print("  from; near 100 is the expert's level.")
    last = last_training_eval(args.run_dir)
    if last:
        print(f"  (The return printed during training, {last[1]:.1f} at step {last[0]}, is a mean over its own")
        print(f"  eval_episodes = {config_value(args.run_dir, 'eval_episodes')} episodes from other start states.)")
    if picture:
        print(f"\nCurves: {picture}")
    else:
        print(f"\nCurves: not drawn ({(r.stderr or r.stdout).strip()})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
