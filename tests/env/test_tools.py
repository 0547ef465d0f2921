"""tools/gym_eval.py and tools/plot.py.

gym_eval.py runs a hand-written checkpoint (a known formula policy, with normalisation and
max_action) in gymnasium's Pendulum-v1; its printed return must equal an independent rollout
of the formula in the same seeded episodes, and --d4rl-task must give D4RL's normalised score.
plot.py must turn a metrics.csv with empty cells into a PNG, and refuse a file that is not one.
"""
import os
import re
import subprocess
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from envtest_common import formula_action, write_formula_checkpoint  # noqa: E402
from checks import check, finish  # noqa: E402 (tests/checks.py; ctest puts tests/ on PYTHONPATH)

try:
    import gymnasium as gym
    import h5py  # noqa: F401
    import matplotlib  # noqa: F401
except ImportError as e:
    print(f"{e.name} is not installed: skipped")
    sys.exit(77)

warnings.filterwarnings("ignore")
TOOLS = os.path.join(os.environ["CUIQL_SOURCE_DIR"], "tools")


def tool(name, *args):
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *args], capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    ckpt = os.path.join(tmp, "policy.h5")
    mean, std = [0.05, -0.1, 0.3], [0.9, 1.1, 1.7]
    j0, gain, bias, max_action = 2, -2.5, 0.1, 2.0
    write_formula_checkpoint(ckpt, 3, 1, j0, gain, bias, mean, std, max_action)

    episodes, seed = 3, 5
    r = tool("gym_eval.py", ckpt, "Pendulum-v1", "--episodes", str(episodes), "--seed", str(seed))
    check(r.returncode == 0, f"gym_eval failed: {r.stderr}")
    m = re.search(r"return: (\S+) ± (\S+) over (\d+) episodes", r.stdout)
    check(m is not None, f"gym_eval output: {r.stdout!r}")
    returns = []
    env = gym.make("Pendulum-v1")
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        total, done = 0.0, False
        while not done:
            u = np.clip(formula_action(obs, j0, gain, bias, mean, std, max_action), -2, 2)
            obs, rew, term, trunc, _ = env.step(np.array([u], dtype=np.float32))
            total += rew
            done = term or trunc
        returns.append(total)
    want = float(np.mean(returns))
    if m:
        got = float(m.group(1))
        check(abs(got - want) <= 1e-3 * abs(want), f"gym_eval return {got}, direct rollout {want}")
        check(int(m.group(3)) == episodes, "episode count")
        print(f"gym_eval {got:.4f} vs direct {want:.4f}")

    # a D4RL task's reference returns give the normalised score
    r = tool("gym_eval.py", ckpt, "Pendulum-v1", "--episodes", "1", "--seed", "0", "--d4rl-task", "hopper-medium-v2")
    m = re.search(r"return: (\S+)", r.stdout)
    s = re.search(r"normalized score: (\S+) \(D4RL hopper-medium-v2: min (\S+), max (\S+)\)", r.stdout)
    check(r.returncode == 0 and m and s, f"--d4rl-task output: {r.stdout!r} {r.stderr!r}")
    if m and s:
        ret = float(m.group(1))
        check(abs(float(s.group(1)) - 100 * (ret + 20.272305) / (3234.3 + 20.272305)) < 0.01, f"score {s.group(0)}")

    # errors: one line, exit 1
    for args, what in [((ckpt, "MountainCarContinuous-v0"), "observation mismatch"),
                       ((os.path.join(tmp, "missing.h5"), "Pendulum-v1"), "missing checkpoint"),
                       ((ckpt, "NoSuchEnv-v0"), "unknown environment"),
                       ((ckpt, "Pendulum-v1", "--d4rl-task", "cartpole-v0"), "unknown D4RL task")]:
        r = tool("gym_eval.py", *args)
        check(r.returncode == 1 and r.stderr.strip().count("\n") == 0 and r.stderr.startswith("gym_eval:"),
              f"{what}: rc {r.returncode}, stderr {r.stderr!r}")
    try:
        import mujoco  # noqa: F401
    except ImportError:
        r = tool("gym_eval.py", ckpt, "hopper-medium-v2")
        check(r.returncode == 1 and "Hopper" in r.stderr, f"hopper without MuJoCo: rc {r.returncode} {r.stderr!r}")

    # ---- plot.py -----------------------------------------------------------------------------
    run = os.path.join(tmp, "run")
    os.makedirs(run)
    with open(os.path.join(run, "metrics.csv"), "w") as f:
        f.write("step,wall_time,loss/value,loss/q,loss/policy,lr/policy,eval/return,eval/normalized_score\n")
        for step in range(100, 2100, 100):
            ev = f"{-1000 + step / 2:.1f},{step / 20:.2f}" if step % 500 == 0 else ","
            f.write(f"{step},{1700000000 + step / 10:.3f},{1 / step:.6g},{2 / step:.6g},{-step / 1000:.4g},3e-4,{ev}\n")
    out = os.path.join(tmp, "curves.png")
    r = tool("plot.py", run, "--out", out)
    check(r.returncode == 0, f"plot failed: {r.stderr}")
    if os.path.exists(out):
        with open(out, "rb") as f:
            data = f.read()
        check(data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000, f"not a drawn PNG ({len(data)} bytes)")
    else:
        check(False, "plot wrote no PNG")
    r = tool("plot.py", run)
    check(r.returncode == 0 and os.path.exists(os.path.join(run, "curves.png")), "default output RUN_DIR/curves.png")
    with open(os.path.join(run, "metrics.csv"), "w") as f:
        f.write("hello,world\n1,2\n")
    r = tool("plot.py", run, "--out", os.path.join(tmp, "bad.png"))
    check(r.returncode != 0 and "not a cuiql metrics file" in r.stderr, f"bad csv: rc {r.returncode} {r.stderr!r}")

sys.exit(finish("test_tools"))
