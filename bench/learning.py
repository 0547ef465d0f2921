"""Does IQL learn a better policy than its data? Trains behaviour cloning (the seed config with
β = 0), IQL with the seed's rule (configs/seed.yaml) and IQL with the paper's rule
(configs/paper-locomotion.yaml, or paper-antmaze.yaml for pointmaze) on each built-in
environment's `mixed` dataset, over several training seeds, and prints a markdown table of
evaluation returns (mean ± std over seeds) next to the dataset's own mean return.

    python3 bench/learning.py --bin build/cuiql --out /tmp/learning [--seeds 0,1,2] [--jobs 2]

Each run is `cuiql train ... --device cpu --threads 1` then `cuiql eval --episodes 50`."""
import argparse
import concurrent.futures as cf
import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "configs")

# Per environment: dataset episodes, training steps, network and the paper config to use.
# pointmaze learns between 20k and 40k steps (docs/environments.md); [128,128] keeps it cheap.
ENVS = {
    "pendulum": dict(episodes=100, steps=20000, hidden="[256,256]", paper="paper-locomotion.yaml"),
    "mountaincar": dict(episodes=100, steps=20000, hidden="[256,256]", paper="paper-locomotion.yaml"),
    "pointmaze": dict(episodes=2000, steps=50000, hidden="[128,128]", paper="paper-antmaze.yaml"),
}
METHODS = {
    "BC": ("seed.yaml", ["beta=0"]),
    "IQL (seed rule)": ("seed.yaml", []),
    "IQL (paper rule)": (None, []),
}


def dataset_return(path):
    with h5py.File(path, "r") as f:
        r, done = f["rewards"][()], f["terminals"][()] | f["timeouts"][()]
    ends = np.flatnonzero(done)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return float(np.mean([r[s:e + 1].sum() for s, e in zip(starts, ends)]))


def run_one(binary, out, env, method, seed):
    spec = ENVS[env]
    cfg, sets = METHODS[method]
    cfg = cfg or spec["paper"]
    run_dir = os.path.join(out, f"{env}-{method.split()[0]}{'-paper' if 'paper' in method else ''}-s{seed}")
    cmd = [binary, "train", "--config", os.path.join(CONFIGS, cfg), "--dataset", os.path.join(out, f"{env}.h5"),
           "--out", run_dir, "--steps", str(spec["steps"]), "--device", "cpu", "--threads", "1", "--quiet",
           "--set", f"seed={seed}", "--set", f"log_every={spec['steps'] // 10}", "--set", f"hidden={spec['hidden']}"]
    for s in sets:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    ev = subprocess.run([binary, "eval", "--checkpoint", os.path.join(run_dir, "checkpoint.h5"), "--env", env,
                         "--episodes", "50", "--seed", "12345"], check=True, capture_output=True, text=True).stdout
    ret = float(re.search(r"return: (-?[\d.]+)", ev).group(1))
    score = float(re.search(r"normalized score: (-?[\d.]+)", ev).group(1))
    return env, method, seed, ret, score


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--envs", default=",".join(ENVS))
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    envs, seeds = a.envs.split(","), [int(s) for s in a.seeds.split(",")]
    behaviour = {}
    for env in envs:
        path = os.path.join(a.out, f"{env}.h5")
        subprocess.run([a.bin, "gen", "--env", env, "--behavior", "mixed", "--episodes", str(ENVS[env]["episodes"]),
                        "--seed", "0", "--out", path], check=True, capture_output=True)
        behaviour[env] = dataset_return(path)
    results = {}
    with cf.ThreadPoolExecutor(a.jobs) as pool:
        futs = [pool.submit(run_one, a.bin, a.out, e, m, s) for e in envs for m in METHODS for s in seeds]
        for f in cf.as_completed(futs):
            env, method, seed, ret, score = f.result()
            results.setdefault((env, method), []).append((seed, ret, score))
            print(f"{env:12s} {method:18s} seed {seed}: return {ret:9.2f}  score {score:6.1f}", flush=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({f"{e}|{m}": v for (e, m), v in results.items()} | {"behaviour": behaviour}, f, indent=1)
    print("\n| env (mixed data) | dataset mean return | " + " | ".join(METHODS) + " |")
    print("|---|---|" + "---|" * len(METHODS))
    for env in envs:
        cells = []
        for m in METHODS:
            rets = np.array([r for _, r, _ in sorted(results[(env, m)])])
            cells.append(f"{rets.mean():.1f} ± {rets.std():.1f} ({', '.join(f'{r:.0f}' for r in rets)})")
        print(f"| {env} | {behaviour[env]:.1f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
