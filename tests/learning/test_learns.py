"""IQL learns a better policy than its data, and better than behaviour cloning — in a number of
steps that a slow, loaded machine finishes in minutes.

    test_learns.py pendulum|pointmaze [--seed S]   (S: the training seed, 0 in CI; other seeds
                                                    are for re-measuring the margins)

pendulum: the paper's locomotion rule (configs/paper-locomotion.yaml) with the settings below
  (hidden [128, 128], ρ 0.01, every learning rate 1e-3, max_action 2 = the pendulum's bound),
  2,000 steps on the `mixed` dataset (100 episodes, seed 0), against the dataset's mean return
  and behaviour cloning (the same settings with β = 0: every weight 1), same budget, same data.
pointmaze: the paper's antmaze rule (configs/paper-antmaze.yaml: τ 0.9, β 10, value_target q)
  with hidden [64, 64], ρ 0.02, every learning rate 1e-3, on the stitching dataset (2000
  segments, seed 0). IQL trains until its in-training evaluation (20 episodes every 2,000 steps)
  reaches the goal in 90 % of episodes, at most 40,000 steps; behaviour cloning then gets the
  same number of steps. IQL must reach the goal in most evaluation episodes, BC in few.

Sizing (bench/RESULTS.md §5a). A test may not depend on how fast the machine is, so each is
bounded in steps, not seconds: at the slowest rate measured for a CI-type 2-core machine under
load (≈ 20 steps/s at hidden 256 × 2, --threads 1; the step is GEMM-bound, so hidden 128 runs
≈ 3.4× and hidden 64 ≈ 10× as many steps per second there, as measured side by side), pendulum's
4,000 steps take ≈ 1 minute, and pointmaze's 36,000–52,000 (seeds 0–2) 3–4 minutes, 7 at the cap
of 80,000. ctest's TIMEOUT (1800 s) sits far above both.

Margins come from runs of this script with --seed 0, 1, 2 (50 evaluation episodes each, seed
12345, --threads 1), written down in bench/RESULTS.md §5a:
  pendulum   dataset −1016.3; BC −988.9, −1066.5, −1045.5; IQL −167.3, −349.4, −272.0
             → required: IQL > dataset + 250 and IQL > BC + 250 (the worst IQL seed beat the
               best BC seed by 640).
  pointmaze  IQL stopped at steps 18001, 18001, 26001 with 100 % success over 50 episodes; BC
             with the same steps 0 %, 0 %, 0 % → required: IQL ≥ 80 %, BC ≤ 20 %.
Training runs with one BLAS thread, as measured: the thread count changes summation order and so
the trajectory."""
import os
import re
import signal
import subprocess
import sys

import h5py
import numpy as np

BIN = os.environ["CUIQL_BIN"]
CONFIGS = os.path.join(os.environ["CUIQL_SOURCE_DIR"], "configs")

CASES = {
    "pendulum": dict(episodes=100, steps=2000, config="paper-locomotion.yaml",
                     sets=["hidden=[128,128]", "target_update_rate=0.01", "lr_policy=1e-3", "lr_value=1e-3",
                           "lr_q=1e-3", "max_action=2"]),
    # steps: the cap; IQL stops earlier once its evaluation reaches STOP_SUCCESS.
    "pointmaze": dict(episodes=2000, steps=40000, config="paper-antmaze.yaml",
                      sets=["hidden=[64,64]", "target_update_rate=0.02", "lr_policy=1e-3", "lr_value=1e-3",
                            "lr_q=1e-3"]),
}
PENDULUM_MARGIN = 250.0        # over the dataset's mean return and over BC
POINTMAZE_IQL_SUCCESS = 80.0   # % of evaluation episodes that reach the goal, at least
POINTMAZE_BC_SUCCESS = 20.0    # and for behaviour cloning, at most
STOP_EVERY = 2000              # pointmaze: steps between in-training evaluations
STOP_EPISODES = 20             # their episodes
STOP_SUCCESS = 0.9             # the success rate (pointmaze's return) at which IQL stops


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


def train_command(env, spec, out, steps, seed, extra):
    cmd = [BIN, "train", "--config", os.path.join(CONFIGS, spec["config"]), "--dataset", f"{env}.h5", "--out", out,
           "--steps", str(steps), "--device", "cpu", "--threads", "1", "--set", f"seed={seed}"]
    for s in spec["sets"] + extra:
        cmd += ["--set", s]
    return cmd


def train_until_success(cmd):
    """Runs `cmd` (which evaluates every STOP_EVERY steps) and interrupts it once an evaluation
    reaches STOP_SUCCESS; the trainer then finishes its step and writes the checkpoint. Returns
    the step the run ended at."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    step, stopped = None, False
    for line in p.stdout:  # one line per logged step: the output is not a terminal
        m = re.search(r"step (\d+)/\d+ .*eval/return (-?[\d.]+)", line)
        if m:
            step = int(m.group(1))
            print(f"  step {step}: success rate {float(m.group(2)):.2f}", flush=True)
            if float(m.group(2)) >= STOP_SUCCESS and not stopped:
                p.send_signal(signal.SIGINT)
                stopped = True
    err = p.stderr.read()
    p.wait()
    if stopped:
        m = re.search(r"interrupted by SIGINT at step (\d+)", err)
        if p.returncode != 130 or not m:
            raise SystemExit(f"FAIL: {' '.join(cmd)}: expected an interrupted run (exit 130), got {p.returncode}: {err}")
        return int(m.group(1))
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(cmd)}: {err.strip()}")
    return step


def evaluate(env, out, name):
    text = run([BIN, "eval", "--checkpoint", f"{out}/checkpoint.h5", "--env", env, "--episodes", "50",
                "--seed", "12345"])
    ret = float(re.search(r"return: (-?[\d.]+)", text).group(1))
    score = float(re.search(r"normalized score: (-?[\d.]+)", text).group(1))
    print(f"{env} {name}: return {ret:.2f}, normalized score {score:.1f}", flush=True)
    return ret, score


def main():
    env = sys.argv[1]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--seed" else 0
    spec = CASES[env]
    run([BIN, "gen", "--env", env, "--behavior", "mixed", "--episodes", str(spec["episodes"]), "--seed", "0",
         "--out", f"{env}.h5"])
    data_return = dataset_mean_return(f"{env}.h5")
    steps = spec["steps"]
    if env == "pointmaze":
        steps = train_until_success(train_command(env, spec, f"{env}-iql", steps, seed, [
            f"env={env}", f"eval_every={STOP_EVERY}", f"eval_episodes={STOP_EPISODES}", f"log_every={STOP_EVERY}"]))
        print(f"{env} IQL stopped at step {steps} (cap {spec['steps']})", flush=True)
    else:
        run(train_command(env, spec, f"{env}-iql", steps, seed, ["log_every=500"]) + ["--quiet"])
    iql, iql_score = evaluate(env, f"{env}-iql", "iql")
    run(train_command(env, spec, f"{env}-bc", steps, seed, ["beta=0", "log_every=500"]) + ["--quiet"])
    bc, bc_score = evaluate(env, f"{env}-bc", f"bc ({steps} steps)")
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
