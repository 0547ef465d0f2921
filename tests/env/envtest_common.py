"""Helpers shared by the Python tests in tests/env: a hand-written checkpoint whose policy is a
known formula (docs/checkpoint.md "A minimal hand-written file")."""
import numpy as np


def write_formula_checkpoint(path, obs_dim, act_dim, j0, gain, bias, mean, std, max_action):
    """Policy mean action = max_action · tanh(gain · (s[j0] − mean[j0]) / std[j0] + bias) on every
    action dimension, from one hidden layer of width 2 (ReLU(z) − ReLU(−z) = z)."""
    import h5py

    hidden = 2
    w0 = np.zeros((hidden, obs_dim))
    w0[0, j0], w0[1, j0] = 1.0, -1.0
    w1 = np.tile([gain, -gain], (act_dim, 1))
    with h5py.File(path, "w") as f:
        f["policy/layer0/weight"] = w0.astype(np.float32)
        f["policy/layer0/bias"] = np.zeros(hidden, np.float32)
        f["policy/layer1/weight"] = w1.astype(np.float32)
        f["policy/layer1/bias"] = np.full(act_dim, bias, np.float32)
        rng = np.random.default_rng(0)
        for net, n_in in [("value", obs_dim), ("q1", obs_dim + act_dim), ("q2", obs_dim + act_dim)]:
            f[f"{net}/layer0/weight"] = rng.standard_normal((hidden, n_in)).astype(np.float32)
            f[f"{net}/layer0/bias"] = np.zeros(hidden, np.float32)
            f[f"{net}/layer1/weight"] = rng.standard_normal((1, hidden)).astype(np.float32)
            f[f"{net}/layer1/bias"] = np.zeros(1, np.float32)
        f["normalization/state_mean"] = np.asarray(mean, np.float32)
        f["normalization/state_std"] = np.asarray(std, np.float32)
        f.attrs["max_action"] = float(max_action)


def formula_action(obs, j0, gain, bias, mean, std, max_action):
    z = (float(obs[j0]) - float(np.float32(mean[j0]))) / float(np.float32(std[j0]))
    return max_action * np.tanh(np.float32(gain) * z + np.float32(bias))
