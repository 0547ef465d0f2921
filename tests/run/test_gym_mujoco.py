"""Simulator → dataset → `cuiql train` → score, with the real gymnasium, MuJoCo and minari.

  - A random Hopper-v5 dataset written by minari itself (tools/gym_collect.py --format minari)
    and the same episodes in the D4RL layout each train 1,000 steps with eval_env:
    gym:Hopper-v5; eval/return and eval/normalized_score are logged at steps 500 and 1000 in
    metrics.csv and TensorBoard, and the step-1000 value equals tools/gym_eval.py's rollout of
    the final checkpoint with the same episodes (an independent reading of the same weights).
  - The bridge killed (SIGKILL) mid-run: training ends with one line naming the signal, the
    checkpoint of that step is written and the run resumes from it, bridge and all.
  - Before training, one line each: an unknown id, sizes that differ from the dataset's, no
    gymnasium importable.

Exit 0 pass, 1 fail, 77 skipped (gymnasium[mujoco], minari or h5py not importable)."""
import csv
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

try:
    import h5py
    import gymnasium  # noqa: F401
    import mujoco  # noqa: F401
    import minari  # noqa: F401
except ImportError as e:
    print(f"{e.name} is not installed: skipped (pip install \"gymnasium[mujoco]\" minari h5py)")
    sys.exit(77)
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]
TOOLS = os.path.join(SRC, "tools")
HOPPER_REF = (-20.272305, 3234.3)
T0 = time.monotonic()


def tool(name, *args, env=None):
    return subprocess.run([sys.executable, os.path.join(TOOLS, name), *args], capture_output=True, text=True,
                          env=env, timeout=300)


def train_cmd(dataset, out, *args):
    return [BIN, "train", "--config", os.path.join(SRC, "configs", "paper-locomotion.yaml"), "--dataset", dataset,
            "--out", out, "--device", "cpu", "--threads", "1", "--set", "hidden=[32,32]", "--set", "batch_size=64",
            "--set", "eval_env=gym:Hopper-v5", "--set", "eval_episodes=3", *args]


def rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def evals(run_dir):
    return [(int(r["step"]), float(r["eval/return"]), float(r["eval/normalized_score"]))
            for r in rows(run_dir) if r["eval/return"]]


def one_line(r, needle, what):
    lines = r.stderr.strip().splitlines()
    return check(r.returncode == 1 and len(lines) == 1 and needle in r.stderr,
                 f"{what}: one line naming {needle!r} (rc {r.returncode}, stderr {r.stderr!r})")


def children(pid):
    """Processes whose parent is pid (from /proc)."""
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return out


def main():
    # A folder of its own: ctest -j runs the tests of tests/run side by side in one directory.
    os.makedirs("gym_mujoco.d", exist_ok=True)
    os.chdir("gym_mujoco.d")
    for d in glob.glob("m_*") + ["minari_root"]:
        shutil.rmtree(d, ignore_errors=True)
    menv = dict(os.environ, MINARI_DATASETS_PATH=os.path.abspath("minari_root"))

    # ---- the datasets: minari writes one, gym_collect the D4RL layout of the same episodes ----
    r = tool("gym_collect.py", "Hopper-v5", "--policy", "random", "--episodes", "30", "--seed", "5", "--format",
             "minari", "--out", "hopper_minari.hdf5", env=menv)
    check(r.returncode == 0, f"gym_collect --format minari: {r.stderr.strip()}")
    r = tool("gym_collect.py", "Hopper-v5", "--policy", "random", "--episodes", "30", "--seed", "5",
             "--out", "hopper_d4rl.hdf5")
    check(r.returncode == 0, f"gym_collect --format d4rl: {r.stderr.strip()}")

    # ---- train 1,000 steps on each, evaluating in MuJoCo through the bridge ----
    for fmt, data in (("minari", "hopper_minari.hdf5"), ("d4rl", "hopper_d4rl.hdf5")):
        out = f"m_{fmt}"
        t = time.monotonic()
        r = subprocess.run(train_cmd(data, out, "--steps", "1000", "--set", "eval_every=500", "--set", "log_every=100"),
                           capture_output=True, text=True, timeout=600)
        if not check(r.returncode == 0, f"{fmt}: training with eval_env gym:Hopper-v5: {r.stderr.strip()}"):
            continue
        print(f"{fmt}: trained and evaluated in {time.monotonic() - t:.1f} s")
        ev = evals(out)
        check([s for s, _, _ in ev] == [500, 1000], f"{fmt}: evaluations at steps 500 and 1000: {ev}")
        for s, ret, score in ev:
            want = 100 * (ret - HOPPER_REF[0]) / (HOPPER_REF[1] - HOPPER_REF[0])
            check(abs(score - want) < 1e-4 * max(1, abs(want)), f"{fmt} step {s}: normalized score {score}, want {want}")
        # The final evaluation is of the final weights: gym_eval.py reads the checkpoint alone.
        g = tool("gym_eval.py", os.path.join(out, "checkpoint.h5"), "Hopper-v5", "--episodes", "3", "--seed", "1000003")
        if check(g.returncode == 0, f"{fmt}: gym_eval.py: {g.stderr.strip()}") and ev:
            ret = float(g.stdout.split("return:")[1].split()[0])
            check(abs(ret - ev[-1][1]) <= 1e-3 * max(1, abs(ret)),
                  f"{fmt}: eval/return at step 1000 ({ev[-1][1]}) is gym_eval.py's return of the checkpoint ({ret})")
        try:
            from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
            tags = {}
            for path in glob.glob(f"{out}/events.out.tfevents.*"):
                for e in EventFileLoader(path).Load():
                    for v in e.summary.value:
                        tags.setdefault(v.tag, []).append(e.step)
            check(sorted(tags.get("eval/return", [])) == [500, 1000]
                  and sorted(tags.get("eval/normalized_score", [])) == [500, 1000],
                  f"{fmt}: TensorBoard has both eval curves: {tags.get('eval/return')} {tags.get('eval/normalized_score')}")
        except ImportError:
            pass
        check("last evaluation in gym:Hopper-v5 (3 episodes): return" in r.stdout, f"{fmt}: the summary line: {r.stdout[-200:]!r}")

    # ---- the bridge killed mid-run ----
    out = "m_killed"
    p = subprocess.Popen(train_cmd("hopper_d4rl.hdf5", out, "--steps", "1000000", "--set", "eval_every=200",
                                   "--set", "log_every=100", "--set", "checkpoint_every=300"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    bridge = []
    for line in p.stdout:  # wait until an evaluation has come back: the bridge is up and serving
        if "eval/return" in line:
            bridge = children(p.pid)
            break
    check(len(bridge) == 1, f"one bridge process under the trainer: {bridge}")
    for pid in bridge:
        os.kill(pid, signal.SIGKILL)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
    lines = err.strip().splitlines()
    check(p.returncode == 1 and len(lines) == 1 and "killed by signal 9" in err and "checkpoint written" in err,
          f"a killed bridge: one line naming the signal (rc {p.returncode}, {err!r})")
    step = -1
    try:
        with h5py.File(os.path.join(out, "checkpoint.h5")) as f:
            step = int(f.attrs["step"])
    except OSError as e:
        check(False, f"the checkpoint is readable after the bridge was killed: {e}")
    check(step > 200 and f"step {step}" in err, f"the checkpoint is of the step training stopped at ({step}; {err!r})")
    if step > 0:
        r = subprocess.run([BIN, "train", "--out", out, "--resume", "--steps", str(step + 100), "--threads", "1",
                            "--quiet"], capture_output=True, text=True, timeout=300)
        check(r.returncode == 0 and evals(out)[-1][0] == step + 100,
              f"the run resumes from that checkpoint and evaluates at its end: {r.stderr.strip()}")

    # ---- found before training ----
    r = subprocess.run(train_cmd("hopper_d4rl.hdf5", "m_bad1", "--steps", "10", "--set", "eval_env=gym:NoSuchEnv-v0"),
                       capture_output=True, text=True, timeout=300)
    one_line(r, "NoSuchEnv-v0", "an unknown gymnasium id")
    r = subprocess.run(train_cmd("hopper_d4rl.hdf5", "m_bad2", "--steps", "10", "--set", "eval_env=gym:HalfCheetah-v5"),
                       capture_output=True, text=True, timeout=300)
    one_line(r, "17-dimensional states", "a Hopper dataset with HalfCheetah")
    os.makedirs("no_gym/gymnasium", exist_ok=True)
    with open("no_gym/gymnasium/__init__.py", "w") as f:
        f.write("raise ImportError('No module named gymnasium', name='gymnasium')\n")
    env = dict(os.environ, PYTHONPATH=os.path.abspath("no_gym") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run(train_cmd("hopper_d4rl.hdf5", "m_bad3", "--steps", "10"), capture_output=True, text=True,
                       env=env, timeout=300)
    one_line(r, "gymnasium is not installed", "no gymnasium")
    for d in ("m_bad1", "m_bad2", "m_bad3"):
        check(not os.path.exists(os.path.join(d, "metrics.csv")), f"{d}: nothing written before the check")

    print(f"elapsed {time.monotonic() - T0:.1f} s")
    return finish("gym_mujoco")


if __name__ == "__main__":
    sys.exit(main())
