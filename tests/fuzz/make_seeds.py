#!/usr/bin/env python3
"""make_seeds.py — the seed corpora of the fuzzers, from the tests' own inputs.

    python3 make_seeds.py OUT_DIR FIXTURE_DIR

OUT_DIR/d4rl, OUT_DIR/minari: tests/data's fixtures (make_fixtures.py: the well-formed files of
each layout and every malformed one), OUT_DIR/checkpoint: a checkpoint cuiql writes ($CUIQL_BIN,
5 steps on a fixture, with optimizer state and targets) and the hand-written h5py files of
docs/checkpoint.md, OUT_DIR/config: configs/ and the snippets tests/algo feeds the reader."""
import glob
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

OUT, FIXTURES = sys.argv[1], sys.argv[2]
SRC = os.environ["CUIQL_SOURCE_DIR"]
BIN = os.environ.get("CUIQL_BIN")


def fresh(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def datasets():
    d4rl, minari = fresh("d4rl"), fresh("minari")
    for path in glob.glob(os.path.join(FIXTURES, "*.h5")):
        name = os.path.basename(path)
        if name.endswith(".expect.h5") or os.path.getsize(path) > 65536:
            continue
        shutil.copy(path, minari if "minari" in name else d4rl)


def checkpoints():
    d = fresh("checkpoint")
    rng = np.random.default_rng(0)
    for name, obs, act, hidden, extra in [("minimal.h5", 3, 1, [4], False), ("two_layers.h5", 2, 2, [3, 5], True)]:
        with h5py.File(os.path.join(d, name), "w") as f:
            for net, n_in, n_out in (("policy", obs, act), ("value", obs, 1), ("q1", obs + act, 1), ("q2", obs + act, 1)):
                sizes = [n_in, *hidden, n_out]
                for i in range(len(sizes) - 1):
                    f[f"{net}/layer{i}/weight"] = rng.normal(size=(sizes[i + 1], sizes[i])).astype(np.float32)
                    f[f"{net}/layer{i}/bias"] = np.zeros(sizes[i + 1], np.float32)
            if extra:
                f["policy/log_std"] = np.zeros(act, np.float32)
                f.attrs["max_action"] = 2.0
                f.attrs["policy"] = "gaussian"
                f.attrs["hidden"] = np.array(hidden, np.int64)
                f["normalization/state_mean"] = np.zeros(obs, np.float32)
                f["normalization/state_std"] = np.ones(obs, np.float32)
    if BIN:
        data = os.path.join(FIXTURES, "d4rl_next.h5")
        r = subprocess.run([BIN, "train", "--dataset", data, "--out", os.path.join(OUT, "run"), "--steps", "5",
                            "--set", "hidden=[4]", "--set", "batch_size=4", "--set", "max_action=2.3", "--device", "cpu", "--threads", "1",
                            "--quiet", "--force"], capture_output=True, text=True)
        if r.returncode == 0:
            shutil.copy(os.path.join(OUT, "run", "checkpoint.h5"), os.path.join(d, "cuiql.h5"))
        else:  # a corpus without cuiql's own checkpoint would fuzz far less of the reader
            sys.exit(f"make_seeds.py: cannot write the cuiql checkpoint seed: {r.stderr.strip()}")


def configs():
    d = fresh("config")
    for path in glob.glob(os.path.join(SRC, "configs", "*.yaml")):
        shutil.copy(path, d)
    snippets = ["tau: 0.5\nhidden: [64, 64]\n", "{tau: 0.75, steps: 1e6, value_target: 'q', env: ~}\n",
                "iql_tau: 0.7\nnormalize_reward: true\nenv: hopper-medium-v2\n", "tau: &t 0.6\nbeta: *t\n",
                "lr_schedule_groups: [q, policy]\ndataset: \"a: b # c.hdf5\"\n", "hidden:\n  - 256\n  - 128\n"]
    for i, text in enumerate(snippets):
        with open(os.path.join(d, f"snippet{i}.yaml"), "w") as f:
            f.write(text)


datasets()
checkpoints()
configs()
print(f"make_seeds.py: seeds in {OUT}")
