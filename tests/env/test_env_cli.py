"""`cuiql gen` and `cuiql eval` end to end, through the built binary (CUIQL_BIN):
- gen writes the D4RL layout h5py expects (float32 arrays, numpy-bool flags, attributes), the
  same arguments give the same bytes, and errors are one line with exit status 1;
- eval of a hand-written checkpoint (a known damping controller, with normalisation and
  max_action) in `pendulum` gives the return that gymnasium's own Pendulum-v1 gives from the
  same start states (read from the env_trace helper) with the policy computed in NumPy.

usage: test_env_cli.py PATH/TO/env_trace
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
    import h5py
    import gymnasium as gym
except ImportError as e:
    print(f"{e.name} is not installed: skipped")
    sys.exit(77)

warnings.filterwarnings("ignore")
CUIQL = os.environ["CUIQL_BIN"]
TRACE = sys.argv[1]


def run(*args):
    return subprocess.run([CUIQL, *args], capture_output=True, text=True)


with tempfile.TemporaryDirectory() as tmp:
    # ---- gen ---------------------------------------------------------------------------------
    a, b, c = (os.path.join(tmp, n) for n in ("a.h5", "b.h5", "c.h5"))
    for path, seed in ((a, "4"), (b, "4"), (c, "5")):
        r = run("gen", "--env", "mountaincar", "--behavior", "mixed", "--episodes", "5", "--out", path, "--seed", seed)
        check(r.returncode == 0, f"gen failed: {r.stderr}")
    check("episode return:" in r.stdout, f"gen prints no summary: {r.stdout!r}")
    with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc:
        da, db, dc = fa.read(), fb.read(), fc.read()
    check(da == db, "the same seed gave different files")
    check(da != dc, "different seeds gave the same file")
    with h5py.File(a) as f:
        n = f["observations"].shape[0]
        for key, shape in [("observations", (n, 2)), ("actions", (n, 1)), ("rewards", (n,)),
                           ("next_observations", (n, 2)), ("terminals", (n,)), ("timeouts", (n,))]:
            check(key in f and f[key].shape == shape, f"{key}: shape {f[key].shape if key in f else None}, want {shape}")
        for key in ("observations", "actions", "rewards", "next_observations"):
            check(f[key].dtype == np.float32, f"{key} is {f[key].dtype}")
        for key in ("terminals", "timeouts"):
            check(f[key].dtype == np.bool_, f"{key} is {f[key].dtype}, not numpy bool")
        term, tout = f["terminals"][()], f["timeouts"][()]
        check(int(term.sum() + tout.sum()) == 5 and not np.any(term & tout), "5 episodes end in 5 flags")
        check(int(term.sum()) == 1, f"mixed mountaincar: {term.sum()} of 5 episodes reach the goal (want 1, episode 4)")
        attrs = dict(f.attrs)
        check(attrs.get("env") == "mountaincar" and attrs.get("behavior") == "mixed", f"attributes {attrs}")
        check(int(attrs.get("seed", -1)) == 4 and int(attrs.get("episodes", -1)) == 5, f"attributes {attrs}")
        obs, nxt = f["observations"][()], f["next_observations"][()]
        ends = np.flatnonzero(term | tout)
        cont = np.setdiff1d(np.arange(n - 1), ends)
        check(np.array_equal(nxt[cont], obs[cont + 1]), "next_observations do not chain within episodes")
    r = run("gen", "--env", "nowhere", "--behavior", "random", "--episodes", "1", "--out", os.path.join(tmp, "x.h5"))
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and "known: pendulum, mountaincar, pointmaze" in r.stderr,
          f"unknown env: rc {r.returncode}, stderr {r.stderr!r}")
    check(not os.path.exists(os.path.join(tmp, "x.h5")), "a failed gen left a file")
    r = run("gen", "--help")
    check(r.returncode == 0 and "--behavior" in r.stdout, "gen --help")

    # ---- eval --------------------------------------------------------------------------------
    ckpt = os.path.join(tmp, "policy.h5")
    mean, std = [0.05, -0.1, 0.3], [0.9, 1.1, 1.7]
    j0, gain, bias, max_action = 2, -2.5, 0.1, 2.0
    write_formula_checkpoint(ckpt, 3, 1, j0, gain, bias, mean, std, max_action)
    episodes, seed = 4, 9
    r = run("eval", "--checkpoint", ckpt, "--env", "pendulum", "--episodes", str(episodes), "--seed", str(seed))
    check(r.returncode == 0, f"eval failed: {r.stderr}")
    m = re.search(r"return: (\S+) ± (\S+) over (\d+) episodes", r.stdout)
    s = re.search(r"normalized score: (\S+) \(random (\S+), expert (\S+)\)", r.stdout)
    check(m is not None and s is not None, f"eval output: {r.stdout!r}")
    if m and s:
        returns = []
        for ep in range(episodes):
            out = subprocess.run([TRACE, "pendulum", "--reset", str(seed), str(ep)], capture_output=True, text=True,
                                 check=True).stdout.split()
            env = gym.make("Pendulum-v1")
            env.reset(seed=0)
            env.unwrapped.state = np.array([float(out[1]), float(out[2])])
            obs, total, done = env.unwrapped._get_obs(), 0.0, False
            while not done:
                u = formula_action(obs, j0, gain, bias, mean, std, max_action)
                obs, rew, term, trunc, _ = env.step(np.array([u], dtype=np.float64))
                total += rew
                done = term or trunc
            returns.append(total)
        want = np.mean(returns)
        got = float(m.group(1))
        check(abs(got - want) <= 1e-3 * abs(want) + 1e-3, f"cuiql eval return {got}, gymnasium + NumPy {want}")
        check(abs(float(m.group(2)) - np.std(returns)) <= 1e-3 * np.std(returns) + 1e-3,
              f"std {m.group(2)} vs {np.std(returns)}")
        lo, hi = float(s.group(2)), float(s.group(3))
        check(abs(float(s.group(1)) - 100 * (got - lo) / (hi - lo)) < 0.01, f"score line {s.group(0)}")
        print(f"cuiql eval {got:.4f} vs gymnasium {want:.4f}")
    r = run("eval", "--checkpoint", ckpt, "--env", "mountaincar")
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and "3-dimensional" in r.stderr,
          f"size mismatch: rc {r.returncode} {r.stderr!r}")
    r = run("eval", "--checkpoint", os.path.join(tmp, "missing.h5"), "--env", "pendulum")
    check(r.returncode == 1 and r.stderr.count("\n") == 1, f"missing checkpoint: rc {r.returncode} {r.stderr!r}")

sys.exit(finish("test_env_cli"))
