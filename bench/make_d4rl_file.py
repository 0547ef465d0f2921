#!/usr/bin/env python3
"""make_d4rl_file.py — writes a D4RL-shaped HDF5 file for bench_load (hopper/halfcheetah-sized
columns, the way D4RL's own files are written: h5py, gzip, h5py's automatic chunking).

    python3 bench/make_d4rl_file.py OUT.hdf5 [--rows 2000000] [--obs-dim 17] [--act-dim 6]

observations [N,S] and actions [N,A] float32, rewards [N] float32, terminals and timeouts [N]
as numpy bool (HDF5 enum), no next_observations; episodes of at most 1000 steps end with a
timeout, about a third end earlier with a terminal. infos/ and metadata/ hold what D4RL puts
there (ignored by the reader). States are random walks so gzip finds what it finds in real data.
"""
import argparse

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--obs-dim", type=int, default=17)
    ap.add_argument("--act-dim", type=int, default=6)
    ap.add_argument("--max-episode-steps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    n = a.rows

    terminals = np.zeros(n, dtype=bool)
    timeouts = np.zeros(n, dtype=bool)
    ends, i = [], 0
    while i < n:
        early = rng.random() < 1 / 3
        length = int(rng.integers(50, a.max_episode_steps)) if early else a.max_episode_steps
        last = min(i + length, n) - 1
        if last == i + length - 1:
            (terminals if early else timeouts)[last] = True
        ends.append(last)
        i = last + 1

    obs = np.empty((n, a.obs_dim), dtype=np.float32)
    start = 0
    for last in ends:  # one random walk per episode
        steps = last + 1 - start
        obs[start:last + 1] = np.cumsum(rng.normal(0, 0.05, size=(steps, a.obs_dim)), axis=0, dtype=np.float32)
        start = last + 1
    actions = np.tanh(rng.normal(size=(n, a.act_dim))).astype(np.float32)
    rewards = (3.0 + 0.1 * rng.normal(size=n)).astype(np.float32)

    with h5py.File(a.out, "w") as f:
        for key, data in (("observations", obs), ("actions", actions), ("rewards", rewards),
                          ("terminals", terminals), ("timeouts", timeouts)):
            f.create_dataset(key, data=data, compression="gzip")
        infos = f.create_group("infos")
        infos.create_dataset("action_log_probs", data=rng.normal(size=n).astype(np.float32), compression="gzip")
        infos.create_dataset("qpos", data=obs[:, : min(6, a.obs_dim)], compression="gzip")
        meta = f.create_group("metadata")
        meta.attrs["algorithm"] = "SAC"
        meta.attrs["policy/nonlinearity"] = "relu"
        chunks = f["observations"].chunks
    print(f"{a.out}: {n} rows, obs {a.obs_dim}, act {a.act_dim}, {int(terminals.sum())} terminals, "
          f"{int(timeouts.sum())} timeouts, observations chunks {chunks}")


if __name__ == "__main__":
    main()
