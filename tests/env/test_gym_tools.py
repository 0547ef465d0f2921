"""tools/gym_collect.py and tools/gym_bridge.py with the real gymnasium MuJoCo and minari packages.

gym_collect: small Hopper-v5 random datasets in the D4RL layout (datasets, shapes, dtypes;
terminals and timeouts disjoint; every transition replayed in gymnasium from the recorded
actions; a time-limited last step is a timeout, never a terminal) and in the Minari layout
(written by the minari package: its metadata.json and episode attributes, episode_<id> groups
with the five datasets, the same transitions as the D4RL file, readable by minari.load_dataset);
checkpoint and noisy policies against the policy formula; one-line errors with exit 1.
gym_bridge: the hello line, a request whose reply must equal an independent rollout of a small
hand-written checkpoint, a bad request answered with an error while the bridge keeps serving,
exit 0 at end of input, and an ok=false hello for an unknown environment.

usage: test_gym_tools.py [PATH/TO/cuiql]   (or $CUIQL_BIN; with the binary, `cuiql info` must read both files)
Exit 0 pass, 1 fail, 77 skipped (gymnasium[mujoco], minari or h5py not importable).
"""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/ (ctest also puts it on PYTHONPATH)
from checks import check, finish  # noqa: E402

try:
    import h5py
    import gymnasium as gym
    import mujoco  # noqa: F401
    import minari
except ImportError as e:
    print(f"{e.name} is not installed: skipped (pip install \"gymnasium[mujoco]\" minari h5py)")
    sys.exit(77)

warnings.filterwarnings("ignore")
SOURCE = os.environ.get("CUIQL_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
TOOLS = os.path.join(SOURCE, "tools")
CUIQL = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CUIQL_BIN")
if CUIQL and not os.access(CUIQL, os.X_OK):
    CUIQL = None  # the binary is optional here
ENV = "Hopper-v5"
S_DIM, A_DIM = 11, 3
HOPPER_REF = (-20.272305, 3234.3)
T0 = time.monotonic()


def run_tool(name, *args, env=None):
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def write_checkpoint(path, obs_dim, act_dim, hidden, seed, max_action=1.0):
    """A hand-written checkpoint (docs/checkpoint.md); returns the numpy mean-action function."""
    rng = np.random.default_rng(seed)
    sizes = [obs_dim, *hidden, act_dim]
    layers = [((rng.standard_normal((sizes[i + 1], sizes[i])) * 0.5).astype(np.float32),
               (rng.standard_normal(sizes[i + 1]) * 0.1).astype(np.float32)) for i in range(len(sizes) - 1)]
    mean = (rng.standard_normal(obs_dim) * 0.1).astype(np.float32)
    std = (0.5 + rng.random(obs_dim)).astype(np.float32)
    with h5py.File(path, "w") as f:
        for i, (w, b) in enumerate(layers):
            f[f"policy/layer{i}/weight"] = w
            f[f"policy/layer{i}/bias"] = b
        f["policy/log_std"] = np.full(act_dim, -0.5, np.float32)
        f["normalization/state_mean"] = mean
        f["normalization/state_std"] = std
        f.attrs["max_action"] = float(max_action)
        f.attrs["policy"] = "gaussian"

    def act(s):
        x = (np.asarray(s, np.float64) - mean.astype(np.float64)) / std.astype(np.float64)
        for i, (w, b) in enumerate(layers):
            x = w.astype(np.float64) @ x + b.astype(np.float64)
            if i + 1 < len(layers):
                x = np.maximum(x, 0.0)
        return max_action * np.tanh(x)
    return act


def episodes_of(terminals, timeouts):
    """[start, end) of each episode of a D4RL file: an episode ends at a terminal or timeout row."""
    out, start = [], 0
    for i in range(len(terminals)):
        if terminals[i] or timeouts[i]:
            out.append((start, i + 1))
            start = i + 1
    if start < len(terminals):
        out.append((start, len(terminals)))
    return out


def check_d4rl_file(path, n_episodes, max_steps, seed, what):
    """Layout, dtypes, flags, and a replay of every episode from its recorded actions."""
    with h5py.File(path, "r") as f:
        names = {"observations", "actions", "rewards", "next_observations", "terminals", "timeouts"}
        if not check(names <= set(f.keys()), f"{what}: datasets {sorted(f.keys())}"):
            return None
        d = {k: f[k][()] for k in names}
        for k in ("observations", "actions", "rewards", "next_observations"):
            check(f[k].dtype == np.float32, f"{what}: {k} is {f[k].dtype}, not float32")
        for k in ("terminals", "timeouts"):
            check(f[k].dtype == np.bool_ and h5py.check_enum_dtype(f[k].dtype) is None
                  and isinstance(f[k].id.get_type(), h5py.h5t.TypeEnumID),
                  f"{what}: {k} is {f[k].dtype}, not numpy bool (an HDF5 enum)")
        attrs = dict(f.attrs)
    n = len(d["rewards"])
    check(d["observations"].shape == (n, S_DIM) and d["next_observations"].shape == (n, S_DIM)
          and d["actions"].shape == (n, A_DIM) and d["rewards"].shape == (n,)
          and d["terminals"].shape == (n,) and d["timeouts"].shape == (n,),
          f"{what}: shapes {[(k, v.shape) for k, v in d.items()]}")
    check(attrs.get("env") == ENV and attrs.get("policy") == "random" and int(attrs.get("seed", -1)) == seed
          and int(attrs.get("episodes", -1)) == n_episodes, f"{what}: root attributes {attrs}")
    check(not np.any(d["terminals"] & d["timeouts"]), f"{what}: a row is both terminal and timeout")
    check(np.all(np.abs(d["actions"]) <= 1.0), f"{what}: actions outside the box")
    eps = episodes_of(d["terminals"], d["timeouts"])
    check(len(eps) == n_episodes, f"{what}: {len(eps)} episodes, want {n_episodes}")
    check(int(d["terminals"].sum() + d["timeouts"].sum()) == n_episodes,
          f"{what}: {d['terminals'].sum()} terminals + {d['timeouts'].sum()} timeouts, want one per episode")
    # replay: same reset seed, the recorded actions; observations, rewards and flags must follow
    env = gym.make(ENV, max_episode_steps=max_steps)
    bad = []
    for i, (a, b) in enumerate(eps):
        obs, _ = env.reset(seed=seed + i)
        for t in range(a, b):
            if not np.allclose(d["observations"][t], obs, rtol=1e-5, atol=1e-5):
                bad.append(f"episode {i} row {t}: observation")
                break
            obs, r, term, trunc, _ = env.step(d["actions"][t])
            if not (np.allclose(d["next_observations"][t], obs, rtol=1e-5, atol=1e-5)
                    and abs(d["rewards"][t] - r) <= 1e-5 * max(1.0, abs(r))):
                bad.append(f"episode {i} row {t}: next observation or reward")
                break
            want_term, want_tout = bool(term), bool(trunc and not term)
            if (bool(d["terminals"][t]), bool(d["timeouts"][t])) != (want_term, want_tout):
                bad.append(f"episode {i} row {t}: flags {d['terminals'][t]},{d['timeouts'][t]}, "
                           f"env says terminated={term} truncated={trunc}")
                break
            if (term or trunc) != (t == b - 1):
                bad.append(f"episode {i} row {t}: episode boundary")
                break
    env.close()
    check(not bad, f"{what}: replay differs: {bad[:3]}")
    return d, eps


with tempfile.TemporaryDirectory() as tmp:
    menv = dict(os.environ, MINARI_DATASETS_PATH=os.path.join(tmp, "minari"))
    seed = 0

    # ---- D4RL layout: 5 random episodes, limit 100 (Hopper falls long before: terminals) ----
    d4rl = os.path.join(tmp, "hopper_random.hdf5")
    r = run_tool("gym_collect.py", ENV, "--policy", "random", "--episodes", "5", "--max-steps", "100",
                 "--seed", str(seed), "--out", d4rl, env=menv)
    check(r.returncode == 0 and os.path.isfile(d4rl) and not os.path.exists(d4rl + ".tmp"),
          f"gym_collect d4rl: rc {r.returncode}: {r.stderr.strip()}")
    check(len(r.stdout.strip().splitlines()) == 1 and "5 episodes" in r.stdout and "transitions" in r.stdout
          and "±" in r.stdout and "terminals" in r.stdout and "timeouts" in r.stdout,
          f"gym_collect summary line: {r.stdout!r}")
    got = check_d4rl_file(d4rl, 5, 100, seed, "d4rl") if r.returncode == 0 else None

    # ---- a 5-step limit: every episode is cut by the time limit, so only timeouts ----
    short = os.path.join(tmp, "hopper_short.hdf5")
    r = run_tool("gym_collect.py", ENV, "--policy", "random", "--episodes", "3", "--max-steps", "5",
                 "--seed", "40", "--out", short)
    check(r.returncode == 0, f"gym_collect --max-steps 5: {r.stderr.strip()}")
    if r.returncode == 0:
        s = check_d4rl_file(short, 3, 5, 40, "d4rl 5 steps")
        if s:
            check(len(s[0]["rewards"]) == 15 and not s[0]["terminals"].any() and int(s[0]["timeouts"].sum()) == 3
                  and all(s[0]["timeouts"][b - 1] for _, b in s[1]),
                  f"time-limited last steps must be timeouts, not terminals: {s[0]['terminals']} {s[0]['timeouts']}")

    # ---- Minari layout, the same episodes, written by the minari package ----
    mfile = os.path.join(tmp, "hopper_random_minari.hdf5")
    r = run_tool("gym_collect.py", ENV, "--policy", "random", "--episodes", "5", "--max-steps", "100",
                 "--seed", str(seed), "--out", mfile, "--format", "minari", env=menv)
    check(r.returncode == 0 and os.path.isfile(mfile), f"gym_collect minari: rc {r.returncode}: {r.stderr.strip()}")
    ds_dir = os.path.join(tmp, "minari", "cuiql", "hopper-random-v0")
    check(ds_dir in r.stdout, f"gym_collect minari should print the dataset directory {ds_dir}: {r.stdout!r}")
    main_data = os.path.join(ds_dir, "data", "main_data.hdf5")
    meta_path = os.path.join(ds_dir, "data", "metadata.json")
    if check(os.path.isfile(main_data) and os.path.isfile(meta_path), f"no Minari dataset under {ds_dir}"):
        with open(main_data, "rb") as a, open(mfile, "rb") as b:
            check(a.read() == b.read(), "--out is not a copy of the dataset's main_data.hdf5")
        with open(meta_path) as fh:
            meta = json.load(fh)
        check(meta.get("minari_version") == minari.__version__ and meta.get("data_format") == "hdf5"
              and meta.get("dataset_id") == "cuiql/hopper-random-v0" and meta.get("total_episodes") == 5
              and '"Hopper-v5"' in meta.get("env_spec", ""),
              f"metadata.json is not minari's: { {k: meta.get(k) for k in ('minari_version', 'data_format', 'dataset_id', 'total_episodes')} }")
    if got and os.path.isfile(mfile):
        d, eps = got
        with h5py.File(mfile, "r") as f:
            groups = sorted(k for k in f.keys() if k.startswith("episode_"))
            check(groups == [f"episode_{i}" for i in range(5)], f"minari groups {list(f.keys())}")
            check(int(meta.get("total_steps", -1)) == len(d["rewards"]) if os.path.isfile(meta_path) else True,
                  "metadata total_steps")
            for i, (a, b) in enumerate(eps):
                g = f.get(f"episode_{i}")
                if not check(isinstance(g, h5py.Group), f"episode_{i} missing"):
                    continue
                need = ("observations", "actions", "rewards", "terminations", "truncations")
                if not check(all(isinstance(g.get(k), h5py.Dataset) for k in need), f"episode_{i}: {list(g.keys())}"):
                    continue
                T = b - a
                obs, act, rew = g["observations"][()], g["actions"][()], g["rewards"][()]
                term, trunc = g["terminations"][()], g["truncations"][()]
                check(obs.shape == (T + 1, S_DIM) and act.shape == (T, A_DIM) and rew.shape == (T,)
                      and term.shape == (T,) and trunc.shape == (T,), f"episode_{i} shapes")
                check(obs.dtype.kind == "f" and act.dtype.kind == "f" and rew.dtype.kind == "f"
                      and term.dtype == np.bool_ and trunc.dtype == np.bool_,
                      f"episode_{i} dtypes {obs.dtype} {act.dtype} {rew.dtype} {term.dtype} {trunc.dtype}")
                # minari's own attributes: DataCollector-style id/seed/total_steps and reward statistics
                at = dict(g.attrs)
                check(int(at.get("id", -1)) == i and int(at.get("seed", -1)) == seed + i
                      and int(at.get("total_steps", -1)) == T and abs(float(at.get("rewards_sum", np.nan)) - rew.sum()) < 1e-6,
                      f"episode_{i} attributes {at}")
                # the same transitions as the D4RL file (same seeds and action stream)
                same = (obs.shape[0] == T + 1 and np.allclose(obs[:-1], d["observations"][a:b], atol=1e-5)
                        and np.allclose(obs[1:], d["next_observations"][a:b], atol=1e-5)
                        and np.array_equal(act.astype(np.float32), d["actions"][a:b])
                        and np.allclose(rew, d["rewards"][a:b], atol=1e-5)
                        and np.array_equal(term, d["terminals"][a:b])
                        and np.array_equal(trunc & ~term, d["timeouts"][a:b]))
                check(same, f"episode_{i}: Minari and D4RL files differ")
        # and minari itself reads it back
        os.environ["MINARI_DATASETS_PATH"] = menv["MINARI_DATASETS_PATH"]
        try:
            ds = minari.load_dataset("cuiql/hopper-random-v0")
            check(ds.total_episodes == 5 and ds.total_steps == len(d["rewards"]),
                  f"minari.load_dataset: {ds.total_episodes} episodes, {ds.total_steps} steps")
        except Exception as e:
            check(False, f"minari.load_dataset failed: {type(e).__name__}: {e}")

        # the same id again: refused unless --overwrite
        r = run_tool("gym_collect.py", ENV, "--policy", "random", "--episodes", "1", "--out", mfile,
                     "--format", "minari", env=menv)
        check(r.returncode == 1 and "--overwrite" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
              f"an existing Minari dataset id must be refused: rc {r.returncode} {r.stderr!r}")

    # ---- checkpoint and noisy policies follow the policy formula ----
    ckpt = os.path.join(tmp, "policy.h5")
    mean_action = write_checkpoint(ckpt, S_DIM, A_DIM, [8], seed=3)
    for spec in ("checkpoint", "noisy"):
        out = os.path.join(tmp, f"hopper_{spec}.hdf5")
        r = run_tool("gym_collect.py", ENV, "--policy", f"{spec}:{ckpt}", "--noise", "0.2", "--episodes", "2",
                     "--max-steps", "50", "--seed", "9", "--out", out)
        if not check(r.returncode == 0, f"gym_collect --policy {spec}: {r.stderr.strip()}"):
            continue
        with h5py.File(out, "r") as f:
            obs, act = f["observations"][()], f["actions"][()]
        mean = np.clip(np.array([mean_action(o) for o in obs]), -1, 1)
        diff = np.abs(act - mean)
        if spec == "checkpoint":
            check(diff.max() < 1e-4, f"checkpoint actions differ from the mean action by {diff.max()}")
        else:
            check(diff.max() > 1e-3 and np.all(np.abs(act) <= 1.0),
                  f"noisy actions: max deviation {diff.max()}, max |a| {np.abs(act).max()}")

    # ---- errors: one line, exit 1, nothing written ----
    bad_ckpt = os.path.join(tmp, "policy17.h5")
    write_checkpoint(bad_ckpt, 17, 6, [4], seed=1)
    for args, want in [((ENV, "--policy", f"checkpoint:{bad_ckpt}"), "17"),
                       (("NoSuchEnv-v0", "--policy", "random"), "NoSuchEnv-v0"),
                       (("CartPole-v1", "--policy", "random"), "Box")]:
        out = os.path.join(tmp, "error.hdf5")
        r = run_tool("gym_collect.py", *args, "--episodes", "1", "--out", out)
        check(r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and want in r.stderr
              and not os.path.exists(out) and not os.path.exists(out + ".tmp"),
              f"gym_collect {args}: rc {r.returncode}, stderr {r.stderr!r}")

    # ---- cuiql reads both files (when the binary is given) ----
    if CUIQL and got:
        for path, fmt in [(d4rl, "D4RL"), (mfile, "Minari")]:
            r = subprocess.run([CUIQL, "info", path], capture_output=True, text=True)
            ok = r.returncode == 0 and fmt in r.stdout and str(len(got[0]["rewards"])) in r.stdout
            check(ok, f"cuiql info {path}: rc {r.returncode} {r.stdout} {r.stderr}")

    # ---- gym_bridge ----
    p = subprocess.Popen([sys.executable, os.path.join(TOOLS, "gym_bridge.py"), ENV], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines = queue.Queue()
    stderr_text = []
    threading.Thread(target=lambda: [lines.put(x) for x in p.stdout] + [lines.put(None)], daemon=True).start()
    threading.Thread(target=lambda: stderr_text.extend(p.stderr), daemon=True).start()

    def read_line(timeout=60):
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            return None, "timed out"
        if line is None:
            return None, "end of output"
        try:
            return json.loads(line), line
        except ValueError:
            return None, f"not JSON: {line!r}"

    def request(obj):
        p.stdin.write(json.dumps(obj) + "\n")
        p.stdin.flush()
        return read_line()

    hello, raw = read_line()
    ok = check(isinstance(hello, dict) and hello.get("ok") is True, f"bridge hello: {raw}")
    if ok:
        ref = hello.get("ref") or {}
        check(hello.get("env") == ENV and hello.get("obs_dim") == S_DIM and hello.get("act_dim") == A_DIM
              and hello.get("action_low") == [-1.0] * 3 and hello.get("action_high") == [1.0] * 3
              and hello.get("max_episode_steps") == 1000, f"bridge hello fields: {raw}")
        check(ref.get("name") == "hopper" and ref.get("random") == HOPPER_REF[0] and ref.get("expert") == HOPPER_REF[1],
              f"bridge hello ref: {ref}")

        # a good request; the reply must equal a direct rollout of the formula
        bridge_ckpt = os.path.join(tmp, "bridge_policy.h5")
        formula = write_checkpoint(bridge_ckpt, S_DIM, A_DIM, [8], seed=11)
        n_ep, rseed = 3, 1000003
        env = gym.make(ENV)
        rets, lens = [], []
        for i in range(n_ep):
            obs, _ = env.reset(seed=rseed + i)
            tot, n, done = 0.0, 0, False
            while not done:
                obs, rew, term, trunc, _ = env.step(np.clip(formula(obs), -1, 1).astype(np.float32))
                tot += float(rew)
                n += 1
                done = term or trunc
            rets.append(tot)
            lens.append(n)
        env.close()
        want_r = float(np.mean(rets))
        rep, raw = request({"id": 7, "checkpoint": bridge_ckpt, "episodes": n_ep, "seed": rseed})
        if check(isinstance(rep, dict) and "error" not in rep and {"id", "return", "std", "length", "episodes",
                 "normalized_score"} <= set(rep), f"bridge reply: {raw}"):
            check(rep["id"] == 7 and rep["episodes"] == n_ep, f"bridge reply id/episodes: {raw}")
            check(abs(rep["return"] - want_r) <= 1e-6 * max(1.0, abs(want_r)), f"bridge return {rep['return']}, direct {want_r}")
            check(abs(rep["std"] - float(np.std(rets))) <= 1e-6 * max(1.0, abs(want_r)), f"bridge std {rep['std']}, direct {np.std(rets)}")
            check(abs(rep["length"] - float(np.mean(lens))) < 1e-9, f"bridge length {rep['length']}, direct {np.mean(lens)}")
            score = 100 * (want_r - HOPPER_REF[0]) / (HOPPER_REF[1] - HOPPER_REF[0])
            check(rep["normalized_score"] is not None and abs(rep["normalized_score"] - score) < 1e-6,
                  f"bridge normalized_score {rep['normalized_score']}, want {score}")
            print(f"bridge: return {rep['return']:.4f} (direct {want_r:.4f}), length {rep['length']}, "
                  f"score {rep['normalized_score']:.3f}, {rep.get('seconds')} s")

        # a bad request gets an error line, and the bridge keeps serving
        rep, raw = request({"id": 8, "checkpoint": os.path.join(tmp, "missing.h5"), "episodes": 2, "seed": 0})
        check(isinstance(rep, dict) and rep.get("id") == 8 and isinstance(rep.get("error"), str) and "missing.h5" in rep["error"],
              f"bridge error reply: {raw}")
        rep, raw = request({"id": 9, "checkpoint": bridge_ckpt, "episodes": 1, "seed": rseed})
        check(isinstance(rep, dict) and rep.get("id") == 9 and abs(rep.get("return", np.nan) - rets[0]) < 1e-6 * max(1, abs(rets[0])),
              f"bridge after an error: {raw}")

    p.stdin.close()
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "killed after 30 s"
    check(rc == 0, f"bridge exit at end of input: {rc}; stderr {''.join(stderr_text)[-500:]}")
    rest, _ = read_line(timeout=5)
    check(rest is None, f"bridge printed more than protocol lines: {rest}")

    # an unknown environment: ok false, exit 1
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "gym_bridge.py"), "NoSuchEnv-v0"], input="",
                       capture_output=True, text=True, timeout=60)
    out_lines = r.stdout.strip().splitlines()
    hello = json.loads(out_lines[0]) if out_lines else None
    check(r.returncode == 1 and len(out_lines) == 1 and hello.get("ok") is False
          and "NoSuchEnv-v0" in hello.get("error", ""), f"bridge unknown env: rc {r.returncode}, stdout {r.stdout!r}")

    # no h5py: every request would fail, so the hello does
    shim = os.path.join(tmp, "no_h5py")
    os.makedirs(os.path.join(shim, "h5py"), exist_ok=True)
    with open(os.path.join(shim, "h5py", "__init__.py"), "w") as f:
        f.write("raise ImportError('No module named h5py', name='h5py')\n")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "gym_bridge.py"), ENV], input="", capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, PYTHONPATH=shim))
    out_lines = r.stdout.strip().splitlines()
    hello = json.loads(out_lines[0]) if out_lines else {}
    check(r.returncode == 1 and hello.get("ok") is False and "h5py" in hello.get("error", ""),
          f"bridge without h5py: rc {r.returncode}, stdout {r.stdout!r}")

print(f"elapsed {time.monotonic() - T0:.1f} s")
sys.exit(finish("test_gym_tools"))
