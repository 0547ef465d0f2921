"""IQL learns a better policy than its data, and better than behaviour cloning.

pendulum: the seed configuration (configs/seed.yaml), 20,000 steps on the `mixed` dataset
  (100 episodes, seed 0), against the dataset's mean return and behaviour cloning (the same
  config with β = 0: every weight 1), same budget, same data.
pointmaze: the paper's antmaze mode (configs/paper-antmaze.yaml: τ 0.9, β 10, value_target q),
  hidden [128, 128], 50,000 steps on the stitching dataset (2000 segments, seed 0): IQL must
  reach the goal in most episodes, behaviour cloning in few.

Margins come from `python3 bench/learning.py` (3 training seeds, --threads 1, 50 evaluation
episodes), measured on 2026-11-25 on the 2-core CI machine type (bench/RESULTS.md):
  pendulum   dataset −1016.3; BC −1057.5, −1133.3, −1038.8; IQL seed rule −545.6, −437.0, −457.8
             → required: IQL > dataset + 250 and IQL > BC + 250 (the worst IQL seed beat the
               best BC seed by 493).
  pointmaze  success over 50 episodes: BC 0 %, 0 %, 0 %; IQL (antmaze rule) 100 %, 100 %, 100 %
             → required: IQL ≥ 80 %, BC ≤ 20 %.
Training runs with one BLAS thread, as measured: the thread count changes summation order and so
the trajectory."""
import os
import re
import subprocess
import sys

import h5py
import numpy as np

BIN = os.environ["CUIQL_BIN"]
CONFIGS = os.path.join(os.environ["CUIQL_SOURCE_DIR"], "configs")

CASES = {
    "pendulum": dict(episodes=100, steps=20000, config="seed.yaml", hidden="[256,256]"),
    "pointmaze": dict(episodes=2000, steps=50000, config="paper-antmaze.yaml", hidden="[128,128]"),
}
PENDULUM_MARGIN = 250.0        # over the dataset's mean return and over BC
POINTMAZE_IQL_SUCCESS = 80.0   # % of evaluation episodes that reach the goal, at least
POINTMAZE_BC_SUCCESS = 20.0    # and for behaviour cloning, at most


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)}: {r.stderr.strip()}")
    return r.stdout


def dataset_mean_return(path):
    with h5py.File(path) as f:
        r, done = f["rewards"][()], f["terminals"][()] | f["timeouts"][()]
    ends = np.flatnonzero(done)
    return float(np.mean([r[s:e + 1].sum() for s, e in zip(np.r_[0, ends[:-1] + 1], ends)]))


def train_and_eval(env, spec, name, extra):
    out = f"{env}-{name}"
    run([BIN, "train", "--config", os.path.join(CONFIGS, spec["config"]), "--dataset", f"{env}.h5", "--out", out,
         "--steps", str(spec["steps"]), "--device", "cpu", "--threads", "1", "--quiet", "--set", "seed=0",
         "--set", f"log_every={spec['steps'] // 10}", "--set", f"hidden={spec['hidden']}"] + extra)
    text = run([BIN, "eval", "--checkpoint", f"{out}/checkpoint.h5", "--env", env, "--episodes", "50",
                "--seed", "12345"])
    ret = float(re.search(r"return: (-?[\d.]+)", text).group(1))
    score = float(re.search(r"normalized score: (-?[\d.]+)", text).group(1))
    print(f"{env} {name}: return {ret:.2f}, normalized score {score:.1f}")
    return ret, score


def main():
    env = sys.argv[1]
    spec = CASES[env]
    run([BIN, "gen", "--env", env, "--behavior", "mixed", "--episodes", str(spec["episodes"]), "--seed", "0",
         "--out", f"{env}.h5"])
    data_return = dataset_mean_return(f"{env}.h5")
    iql, iql_score = train_and_eval(env, spec, "iql", [])
    bc, bc_score = train_and_eval(env, spec, "bc", ["--set", "beta=0"])
    print(f"{env}: dataset mean return {data_return:.2f}")
    checks = []
    if env == "pendulum":
        checks += [(iql > data_return + PENDULUM_MARGIN, f"IQL {iql:.1f} > dataset {data_return:.1f} + {PENDULUM_MARGIN}"),
                   (iql > bc + PENDULUM_MARGIN, f"IQL {iql:.1f} > BC {bc:.1f} + {PENDULUM_MARGIN}")]
    else:  # the score is 100 × the success rate
        checks += [(iql_score >= POINTMAZE_IQL_SUCCESS, f"IQL success {iql_score:.0f}% >= {POINTMAZE_IQL_SUCCESS}%"),
                   (bc_score <= POINTMAZE_BC_SUCCESS, f"BC success {bc_score:.0f}% <= {POINTMAZE_BC_SUCCESS}%")]
    failed = [what for ok, what in checks if not ok]
    for what in failed:
        print("FAIL:", what, file=sys.stderr)
    print(f"learns_{env}: {len(checks) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
