"""Does IQL learn a better policy than its data in MuJoCo? The locomotion counterpart of
bench/learning.py: a mixed HalfCheetah-v5 dataset from scripted controllers, then behaviour
cloning (the seed config with β = 0), IQL with the seed's rule and IQL with the paper's rule
(configs/paper-locomotion.yaml), over several training seeds, each evaluated in MuJoCo during
training through the gym bridge (eval_env: gym:HalfCheetah-v5). Prints a markdown table of the
final evaluation returns (mean ± std over seeds) next to the dataset's own mean return.

    python3 bench/learning_gym.py --bin build/cuiql --out /tmp/learning-gym [--seeds 0,1,2] [--jobs 2]

The data (--episodes 150, seed 0): 40 % a forward gait, 40 % a backward gait, 20 % uniform
random actions. The gaits are open-loop, a_j = A_j sin(ω t + φ_j) plus Gaussian noise of std
0.1, clipped to the box; their parameters were found by a cross-entropy search on the return
(forward) and on minus the return (backward) and are fixed below. Forward runs at about
+2.7 m/s (return ≈ +2700), backward at about −3.4 m/s (≈ −3600), random ≈ −280. Episodes of
every kind start from the same reset distribution, so at the start a policy must choose: one
that copies the data's average action has no reason to pick the forward gait; one that weighs
actions by their advantage has. Runs are `cuiql train ... --device cpu --threads 1`; the
score of a run is its last evaluation (eval_episodes episodes at the last step)."""
import argparse
import concurrent.futures as cf
import csv
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONFIGS = os.path.join(ROOT, "configs")
sys.path.insert(0, os.path.join(ROOT, "tools"))

ENV = "HalfCheetah-v5"
# ω, A[6], φ[6] (HalfCheetah's joints: bthigh, bshin, bfoot, fthigh, fshin, ffoot)
FORWARD = [1.268073000620047, 0.7488651582627721, 2.290649527760187, 0.45055681704748024, 0.4804596747912383,
           0.5673743801411025, 0.9166041767741007, -0.44723617640480695, 7.6747621885525295, 0.2324179285722232,
           2.0093598470646064, 1.8945938043387194, 2.498125430729572]
BACKWARD = [1.1886695149044089, 0.5266726844198648, 0.36916385491196096, 0.3905413661932229, 0.9745252407853328,
            1.0479793160158937, 0.5462214936932592, 3.6404781758998155, 1.5694421630835393, 5.558856074113847,
            1.5804430327921828, 3.9722174008296824, -1.8996181951895172]
GAIT_NOISE = 0.1

METHODS = {
    "BC": ("seed.yaml", ["beta=0"]),
    "IQL (seed rule)": ("seed.yaml", []),
    "IQL (paper rule)": ("paper-locomotion.yaml", []),
}


def gait(p, rng):
    w, amp, phi = p[0], np.clip(np.array(p[1:7]), 0, 1), np.array(p[7:13])
    t = [0]

    def act(_obs):
        a = amp * np.sin(w * t[0] + phi) + GAIT_NOISE * rng.normal(size=6)
        t[0] += 1
        return np.clip(a, -1, 1).astype(np.float32)
    return act


def collect(out, episodes, seed):
    """The mixed dataset in the D4RL layout (tools/gym_collect.py's writer); returns its
    per-kind mean returns."""
    from gym_collect import make_env, write_d4rl  # make_env: MuJoCo's warnings to stderr, not MUJOCO_LOG.TXT

    env = make_env(ENV)
    rng = np.random.default_rng(seed)
    n_fwd = n_bwd = int(round(0.4 * episodes))
    kinds = ["forward"] * n_fwd + ["backward"] * n_bwd + ["random"] * (episodes - n_fwd - n_bwd)
    eps, returns = [], {}
    for i, kind in enumerate(kinds):
        if kind == "random":
            def act(_obs):
                return rng.uniform(-1, 1, size=6).astype(np.float32)
        else:
            act = gait(FORWARD if kind == "forward" else BACKWARD, rng)
        obs, _ = env.reset(seed=seed + i)
        ep = {"observations": [obs], "actions": [], "rewards": [], "terminations": [], "truncations": []}
        done = False
        while not done:
            a = act(obs)
            obs, r, term, trunc, _ = env.step(a)
            for k, v in (("observations", obs), ("actions", a), ("rewards", r), ("terminations", term),
                         ("truncations", trunc)):
                ep[k].append(v)
            done = term or trunc
        eps.append(ep)
        returns.setdefault(kind, []).append(float(np.sum(ep["rewards"])))
    write_d4rl(out, eps, {"env": ENV, "policy": "forward/backward gaits + random (bench/learning_gym.py)",
                          "seed": np.int64(seed), "episodes": np.int64(episodes)})
    all_returns = [r for v in returns.values() for r in v]
    return {k: float(np.mean(v)) for k, v in returns.items()} | {"all": float(np.mean(all_returns))}


def last_eval(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["eval/return"]]
    last = max(rows, key=lambda r: int(r["step"]))
    return int(last["step"]), float(last["eval/return"]), float(last["eval/normalized_score"])


def run_one(a, method, seed):
    cfg, sets = METHODS[method]
    tag = {"BC": "bc", "IQL (seed rule)": "seed", "IQL (paper rule)": "paper"}[method]
    run_dir = os.path.join(a.out, f"{tag}-s{seed}")
    cmd = [a.bin, "train", "--config", os.path.join(CONFIGS, cfg), "--dataset", os.path.join(a.out, "halfcheetah.h5"),
           "--out", run_dir, "--steps", str(a.steps), "--device", "cpu", "--threads", "1", "--quiet",
           "--set", f"seed={seed}", "--set", f"log_every={a.steps // 20}", "--set", f"hidden={a.hidden}",
           "--set", f"eval_env=gym:{ENV}", "--set", f"eval_every={a.steps // 5}", "--set", "eval_episodes=10"]
    for s in sets:
        cmd += ["--set", s]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    return method, seed, *last_eval(run_dir)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--episodes", type=int, default=150)
    ap.add_argument("--steps", type=int, default=30000)
    ap.add_argument("--hidden", default="[256,256]")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    data = os.path.join(a.out, "halfcheetah.h5")
    behaviour = collect(data, a.episodes, 0)
    print("dataset mean returns: " + ", ".join(f"{k} {v:.1f}" for k, v in behaviour.items()), flush=True)
    results = {}
    with cf.ThreadPoolExecutor(a.jobs) as pool:
        futs = [pool.submit(run_one, a, m, s) for m in METHODS for s in seeds]
        for f in cf.as_completed(futs):
            method, seed, step, ret, score = f.result()
            results.setdefault(method, []).append((seed, ret, score))
            print(f"{method:18s} seed {seed}: step {step} return {ret:9.1f}  score {score:6.1f}", flush=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"results": results, "behaviour": behaviour, "steps": a.steps, "hidden": a.hidden,
                   "episodes": a.episodes}, f, indent=1)
    print("\n| env (mixed data) | steps, network | dataset mean return | " + " | ".join(METHODS) + " |")
    print("|---|---|---|" + "---|" * len(METHODS))
    cells = []
    for m in METHODS:
        rets = np.array([r for _, r, _ in sorted(results[m])])
        scores = np.array([s for _, _, s in sorted(results[m])])
        cells.append(f"{rets.mean():.0f} ± {rets.std():.0f} ({', '.join(f'{r:.0f}' for r in rets)}); "
                     f"score {scores.mean():.1f}")
    print(f"| {ENV} ({a.episodes} episodes) | {a.steps // 1000}k, {a.hidden} | {behaviour['all']:.0f} | "
          + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
