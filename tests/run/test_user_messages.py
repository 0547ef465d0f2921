"""What a user reads from `cuiql`, end to end on the built binary:

- max_action against the data: a `cuiql gen` file's env supplies the bound (one note, and the
  run's config.yaml and checkpoint record it); a file without env whose actions lie far beyond
  max_action is refused in one line with the observed range and the key; a little beyond, one note.
- the device: `--device cpu`, `info` and `--version` say nothing about a missing driver beyond
  --version's own CUDA line; with `auto`, why it chose the CPU (if it did) is part of the one
  line that names the device, never a line of its own.
- `cuiql eval` without --env evaluates in the env its run recorded (the checkpoint's config, else
  the config.yaml beside it); --env still overrides; a run without env is a one-line error.
- a CORL config's keys read but not used: one note each, with what to use instead."""
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]


def cuiql(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


def train(dataset, out, *extra):
    return cuiql("train", "--dataset", dataset, "--out", out, "--steps", "4", "--threads", "1",
                 "--set", "hidden=[16,16]", "--set", "batch_size=32", "--set", "log_every=2", *extra)


def write_actions_file(path, actions):
    """A D4RL-layout file (no env attribute) whose actions are `actions` (one dimension)."""
    n = len(actions)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(n + 1, 3)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["observations"] = obs[:-1]
        f["next_observations"] = obs[1:]
        f["actions"] = np.asarray(actions, np.float32).reshape(n, 1)
        f["rewards"] = rng.normal(size=n).astype(np.float32)
        f["terminals"] = np.zeros(n, bool)
        f["timeouts"] = np.zeros(n, bool)


def lines_with(text, word):
    return [line for line in text.splitlines() if word in line]


def main():
    for d in ["pend", "pend_env", "far", "little", "cpu", "auto", "noenv", "copied", "corl"]:
        shutil.rmtree(d, ignore_errors=True)
    r = cuiql("gen", "--env", "pendulum", "--behavior", "mixed", "--episodes", "4", "--seed", "0", "--out", "pend.h5")
    check(r.returncode == 0, f"gen: {r.stderr}")

    # ---- max_action ------------------------------------------------------------------------------
    r = train("pend.h5", "pend", "--device", "cpu")
    check(r.returncode == 0, f"training on a gen file: {r.stderr}")
    notes = lines_with(r.stderr, "max_action")
    check(len(notes) == 1 and "pendulum" in notes[0] and "max_action 2" in notes[0] and "note" in notes[0],
          f"one note: max_action from the file's environment: {r.stderr!r}")
    with open("pend/config.yaml") as f:
        check("max_action: 2.0" in f.read(), "the run's config.yaml records max_action 2")
    with h5py.File("pend/checkpoint.h5") as f:
        check(float(f.attrs["max_action"]) == 2.0, f"the checkpoint records max_action 2: {f.attrs['max_action']}")

    write_actions_file("far.h5", np.linspace(-2, 2, 64))
    r = train("far.h5", "far", "--device", "cpu")
    err = r.stderr.strip()
    check(r.returncode == 1 and len(err.splitlines()) == 1, f"far beyond max_action: refused in one line: {err!r}")
    check("[-2, 2]" in err and "--set max_action=2" in err and "far.h5" in err,
          f"the refusal names the file, the observed range and the key: {err!r}")
    r = train("far.h5", "far", "--device", "cpu", "--set", "max_action=2")
    check(r.returncode == 0 and "max_action" not in r.stderr, f"with max_action set it trains, silently: {r.stderr!r}")

    write_actions_file("little.h5", np.linspace(-1.2, 1.0, 64))
    r = train("little.h5", "little", "--device", "cpu")
    notes = lines_with(r.stderr, "max_action")
    check(r.returncode == 0 and len(notes) == 1 and "[-1.2, 1]" in notes[0],
          f"a little beyond: trains, with one note naming the range: {r.stderr!r}")

    # ---- the device ------------------------------------------------------------------------------
    for args in (["--version"], ["info", "pend.h5"]):
        r = cuiql(*args)
        check(r.returncode == 0 and len(lines_with(r.stdout + r.stderr, "driver")) <= 1 and
              not lines_with(r.stderr, "driver"),
              f"cuiql {' '.join(args)}: at most --version's one CUDA line mentions a driver: {r.stdout + r.stderr!r}")
    r = train("pend.h5", "cpu", "--device", "cpu")
    out = r.stdout + r.stderr
    check(r.returncode == 0 and not lines_with(out, "driver") and not lines_with(out, "device auto"),
          f"--device cpu says nothing about drivers or auto: {out!r}")
    r = train("pend.h5", "auto", "--device", "auto")
    out = r.stdout + r.stderr
    autos = lines_with(out, "device auto")
    device_lines = lines_with(r.stdout, " member")
    check(r.returncode == 0 and len(device_lines) == 1, f"one line names the device: {out!r}")
    check(len(autos) <= 1 and all(line in device_lines for line in autos),
          f"why auto chose the CPU is said once, in the device line: {out!r}")
    check(all(line in device_lines for line in lines_with(out, "driver")), f"no driver line of its own: {out!r}")
    if " on CPU" in device_lines[0] if device_lines else False:
        check(len(autos) == 1, f"auto on the CPU says why: {device_lines}")

    # ---- eval reads the env its run recorded -----------------------------------------------------
    r = train("pend.h5", "pend_env", "--device", "cpu", "--set", "env=pendulum", "--set", "eval_episodes=1")
    check(r.returncode == 0, f"training with env: {r.stderr}")
    r = cuiql("eval", "--checkpoint", "pend_env/checkpoint.h5", "--episodes", "2")
    check(r.returncode == 0 and "env: pendulum (recorded in the checkpoint's config)" in r.stdout and "return:" in r.stdout,
          f"eval without --env uses the recorded env: {r.stdout!r} {r.stderr!r}")
    r = cuiql("eval", "--checkpoint", "pend_env/checkpoint.h5", "--episodes", "2", "--env", "mountaincar")
    check(r.returncode == 1 and "mountaincar" in r.stderr, f"--env overrides the recorded env: {r.stderr!r}")
    r = cuiql("eval", "--checkpoint", "pend_env/checkpoint.h5", "--episodes", "2", "--env", "pendulum")
    check(r.returncode == 0 and "env: pendulum (--env)" in r.stdout, f"--env pendulum: {r.stdout!r}")

    os.makedirs("copied")  # a checkpoint without its config attribute: the run's config.yaml beside it
    shutil.copy("pend_env/checkpoint.h5", "copied/checkpoint.h5")
    shutil.copy("pend_env/config.yaml", "copied/config.yaml")
    with h5py.File("copied/checkpoint.h5", "a") as f:
        del f.attrs["config"]
    r = cuiql("eval", "--checkpoint", "copied/checkpoint.h5", "--episodes", "2")
    check(r.returncode == 0 and "env: pendulum (recorded in the run's config.yaml)" in r.stdout,
          f"eval reads the run's config.yaml: {r.stdout!r} {r.stderr!r}")

    r = train("pend.h5", "noenv", "--device", "cpu")
    r = cuiql("eval", "--checkpoint", "noenv/checkpoint.h5")
    err = r.stderr.strip()
    check(r.returncode == 1 and len(err.splitlines()) == 1 and "--env" in err and "recorded no env" in err and
          "pendulum" in err, f"no env recorded: one line asking for --env: {err!r}")

    # ---- a CORL config's keys read but not used --------------------------------------------------
    r = cuiql("train", "--config", os.path.join(SRC, "configs", "corl-iql-hopper-medium-v2.yaml"), "--dataset",
              "pend.h5", "--out", "corl", "--steps", "2", "--device", "cpu", "--threads", "1", "--set", "hidden=[16,16]",
              "--set", "batch_size=32")
    check(r.returncode == 0, f"CORL config: {r.stderr}")
    for key in ["env 'hopper-medium-v2'", "project", "group", "name", "device", "buffer_size", "checkpoints_path"]:
        hits = [line for line in lines_with(r.stderr, "note:") if f": {key}" in line]
        check(len(hits) == 1, f"one note for CORL's {key}: {r.stderr!r}")
    return finish("user_messages")


if __name__ == "__main__":
    sys.exit(main())
