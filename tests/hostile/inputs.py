"""inputs.py — the files the hostile cases feed cuiql (tests/hostile/cases.py): small valid
datasets and runs to start from, and the malformed, oversized and misleading ones a hostile user
makes. Every maker writes into the current directory and returns the path."""
import os

import h5py
import numpy as np


def dataset(path="data.h5", n=400, seed=0, obs=3, act=2):
    rng = np.random.default_rng(seed)
    o = rng.normal(size=(n + 1, obs)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["observations"] = o[:-1]
        f["next_observations"] = o[1:]
        f["actions"] = rng.uniform(-1, 1, (n, act)).astype(np.float32)
        f["rewards"] = rng.normal(size=n).astype(np.float32)
        f["terminals"] = np.zeros(n, bool)
        f["timeouts"] = np.zeros(n, bool)
    return path


def d4rl(path, change=None, n=10, **columns):
    """A small D4RL file; `columns` replace or (None) remove arrays; change(f) edits the file."""
    rng = np.random.default_rng(1)
    cols = dict(observations=rng.normal(size=(n, 3)).astype(np.float32),
                actions=rng.uniform(-1, 1, (n, 2)).astype(np.float32),
                rewards=rng.normal(size=n).astype(np.float32), terminals=np.zeros(n, bool))
    cols.update(columns)
    with h5py.File(path, "w") as f:
        for k, v in cols.items():
            if v is None:
                continue
            if isinstance(v, dict):
                f.create_dataset(k, **v)
            else:
                f[k] = v
        if change:
            change(f)
    return path


def minari(path, change=None, episodes=3, steps=4):
    rng = np.random.default_rng(2)
    with h5py.File(path, "w") as f:
        for e in range(episodes):
            g = f.create_group(f"episode_{e}")
            g["observations"] = rng.normal(size=(steps + 1, 3)).astype(np.float32)
            g["actions"] = rng.uniform(-1, 1, (steps, 2)).astype(np.float32)
            g["rewards"] = rng.normal(size=steps).astype(np.float32)
            g["terminations"] = np.zeros(steps, bool)
            g["truncations"] = np.zeros(steps, bool)
        if change:
            change(f)
    return path


def declared(path, rows, obs_cols, act_cols=1, minari_layout=False):
    """A few KB that declare huge arrays (chunked, never written, a fill value): rows x cols x 4
    can wrap past 2^64."""
    with h5py.File(path, "w") as f:
        g = f.create_group("episode_0") if minari_layout else f
        t = rows - 1 if minari_layout else rows
        g.create_dataset("observations", shape=(rows, obs_cols), dtype="f4", chunks=(1, 1), fillvalue=0.5)
        g.create_dataset("actions", shape=(t, act_cols), dtype="f4", chunks=(1, 1), fillvalue=0.1)
        g.create_dataset("rewards", shape=(t,), dtype="f4", chunks=(1,), fillvalue=0.0)
        g.create_dataset("terminations" if minari_layout else "terminals", shape=(t,), dtype="u1", chunks=(1,))
        if minari_layout:
            g.create_dataset("truncations", shape=(t,), dtype="u1", chunks=(1,))
    return path


def raw(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def truncated_hdf5(path, keep=3000):
    full = dataset(path + ".full", n=2000)
    with open(full, "rb") as f:
        head = f.read(keep)
    os.remove(full)
    return raw(path, head)


def corrupted_hdf5(path, seed=7):
    """A valid file with a few hundred bytes overwritten after the superblock."""
    full = dataset(path + ".full", n=200)
    with open(full, "rb") as f:
        data = bytearray(f.read())
    os.remove(full)
    rng = np.random.default_rng(seed)
    for i in rng.choice(np.arange(96, len(data)), 300, replace=False):
        data[i] = int(rng.integers(0, 256))
    return raw(path, bytes(data))


def fifo(path):
    if os.path.exists(path):
        os.remove(path)
    os.mkfifo(path)
    return path


def text(path, content):
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(content)
    return path


def minimal_checkpoint(path, change=None, obs=3, act=1, hidden=(16, 16)):
    """Weights and biases of the four networks, as a user writes them with h5py (by default
    shaped for the built-in pendulum, so that only what the case breaks can refuse it)."""
    rng = np.random.default_rng(3)
    with h5py.File(path, "w") as f:
        for net, n_in, n_out in (("policy", obs, act), ("value", obs, 1), ("q1", obs + act, 1), ("q2", obs + act, 1)):
            sizes = [n_in, *hidden, n_out]
            for i in range(len(sizes) - 1):
                f[f"{net}/layer{i}/weight"] = rng.normal(size=(sizes[i + 1], sizes[i])).astype(np.float32) * 0.1
                f[f"{net}/layer{i}/bias"] = np.zeros(sizes[i + 1], np.float32)
        if change:
            change(f)
    return path


def declared_checkpoint(path, n):
    """Policy weights declaring n x n (chunked, unwritten) so the sizes from the shapes are huge."""
    def change(f):
        del f["policy/layer0/weight"]
        f.create_dataset("policy/layer0/weight", shape=(n, n), dtype="f4", chunks=(1, 1), fillvalue=0.0)
    return minimal_checkpoint(path, change)
