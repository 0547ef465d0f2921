"""synthetic.py — a small learnable dataset in the D4RL layout, for the Python tests that train.

Rewards are a deterministic function of (s, a) and actions a noisy function of s, so with a short
horizon the critics and V are a regression that fits: a test can tell learning from noise."""
import h5py
import numpy as np


def write_learnable_d4rl(path, n=2000, seed=0, terminals=20, all_terminal=False):
    """n transitions with 4-wide states and 2-wide actions; `terminals` random ones end an
    episode (every one does with all_terminal)."""
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n + 1, 4)).astype(np.float32)
    act = np.tanh(obs[:-1, :2] @ np.array([[0.8, -0.3], [0.2, 0.5]], np.float32)) + 0.1 * rng.normal(size=(n, 2))
    rew = (2.0 * obs[:-1, 0] - obs[:-1, 1] ** 2 + act[:, 0]).astype(np.float32)
    term = np.ones(n, bool) if all_terminal else np.zeros(n, bool)
    term[rng.choice(n, terminals, replace=False)] = True
    with h5py.File(path, "w") as f:
        f["observations"] = obs[:-1]
        f["next_observations"] = obs[1:]
        f["actions"] = np.clip(act, -1, 1).astype(np.float32)
        f["rewards"] = rew
        f["terminals"] = term
        f["timeouts"] = np.zeros(n, bool)
