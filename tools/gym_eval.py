#!/usr/bin/env python3
"""Runs a cuiql checkpoint's policy in a gymnasium environment and prints its return.

    tools/gym_eval.py CKPT ENV [--episodes N] [--seed S] [--d4rl-task NAME]

ENV is a gymnasium id (Pendulum-v1, Hopper-v4, ...) or a D4RL task name (hopper-medium-v2,
halfcheetah-medium-expert-v2, walker2d-medium-replay-v2, antmaze-umaze-v2, ...), which is
mapped to the matching gymnasium environment and also gives the D4RL normalised score
100 · (R − min) / (max − min) from D4RL's reference returns. With a gymnasium id, --d4rl-task
names the task whose reference returns to use. MuJoCo tasks need gymnasium[mujoco]; antmaze
needs gymnasium-robotics, whose AntMaze differs from D4RL's in details (treat it as an estimate).

The policy is read with h5py as docs/checkpoint.md lays it out: the deterministic mean action
max_action · tanh(MLP((s − mean) / std)), ReLU between layers, clipped to the action space.
Episode i starts from env.reset(seed=S + i). Only h5py, NumPy and gymnasium are used.
"""
import argparse
import re
import sys

import numpy as np

# D4RL's infos.py reference returns (min = random policy, max = expert), per environment family.
D4RL_REF = {
    "hopper": (-20.272305, 3234.3),
    "halfcheetah": (-280.178953, 12135.0),
    "walker2d": (1.629008, 4592.3),
    "antmaze": (0.0, 1.0),
}
GYM_FAMILY = {"hopper": "Hopper", "halfcheetah": "HalfCheetah", "walker2d": "Walker2d"}
ANTMAZE_MAPS = {"umaze": "AntMaze_UMaze", "medium": "AntMaze_Medium", "large": "AntMaze_Large"}
D4RL_TASK = re.compile(r"^(hopper|halfcheetah|walker2d|antmaze)(-[a-z0-9-]+)?-v\d+$")


class ToolError(Exception):
    pass


def d4rl_family(task):
    m = D4RL_TASK.match(task)
    if not m:
        raise ToolError(f"'{task}' is not a D4RL task name (known families: {', '.join(D4RL_REF)})")
    return m.group(1)


def gym_id_for_task(task, registry):
    """The gymnasium id that plays a D4RL task: the newest MuJoCo version available from v4 on
    (v4 reproduces D4RL's v3 mujoco-py models), or gymnasium-robotics' AntMaze map."""
    family = d4rl_family(task)
    if family == "antmaze":
        size = next((s for s in ANTMAZE_MAPS if f"-{s}" in task), "umaze")
        base = ANTMAZE_MAPS[size]
    else:
        base = GYM_FAMILY[family]
    for version in ("v4", "v5", "v3"):
        if f"{base}-{version}" in registry:
            return f"{base}-{version}"
    extra = "gymnasium-robotics" if family == "antmaze" else "gymnasium[mujoco]"
    raise ToolError(f"no gymnasium environment for '{task}' ({base}-v4 is not registered; install {extra})")


def load_policy(path):
    try:
        import h5py
    except ImportError as e:
        raise ToolError("h5py is not installed") from e
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ToolError(f"{path}: cannot open as HDF5 ({e})") from e
    with f:
        if "policy" not in f:
            raise ToolError(f"{path}: no /policy group (not a cuiql checkpoint)")
        version = int(f.attrs.get("format_version", 1))
        if version > 1:
            raise ToolError(f"{path}: format_version {version} was written by a newer cuiql")
        names = [k for k in f["policy"] if re.fullmatch(r"layer\d+", k)]
        n = len(names)
        if n == 0 or sorted(int(k[5:]) for k in names) != list(range(n)):
            raise ToolError(f"{path}: /policy layers are not layer0..layer{max(n - 1, 0)}")
        layers = []
        for i in range(n):
            w = np.asarray(f[f"policy/layer{i}/weight"][()], dtype=np.float64)
            b = np.asarray(f[f"policy/layer{i}/bias"][()], dtype=np.float64)
            if w.ndim != 2 or b.shape != (w.shape[0],) or (layers and w.shape[1] != layers[-1][0].shape[0]):
                raise ToolError(f"{path}: /policy/layer{i} has weight {w.shape} and bias {b.shape}, which do not chain")
            layers.append((w, b))
        obs_dim = layers[0][0].shape[1]
        if "normalization" in f:
            mean = np.asarray(f["normalization/state_mean"][()], dtype=np.float64)
            std = np.asarray(f["normalization/state_std"][()], dtype=np.float64)
        else:
            mean, std = np.zeros(obs_dim), np.ones(obs_dim)
        if mean.shape != (obs_dim,) or std.shape != (obs_dim,) or np.any(std <= 0):
            raise ToolError(f"{path}: normalization has shapes {mean.shape}, {std.shape} (policy takes {obs_dim}) "
                            "or a std that is not positive")
        max_action = float(f.attrs.get("max_action", 1.0))

    def act(state):
        x = (np.asarray(state, dtype=np.float64) - mean) / std
        for i, (w, b) in enumerate(layers):
            x = w @ x + b
            if i + 1 < len(layers):
                x = np.maximum(x, 0.0)
        return max_action * np.tanh(x)

    return act, obs_dim, layers[-1][0].shape[0]


def flat_observation(obs):
    """Dict observations (gymnasium-robotics mazes) in D4RL's order: position, then the rest."""
    if isinstance(obs, dict):
        if "achieved_goal" in obs and "observation" in obs:
            return np.concatenate([np.ravel(obs["achieved_goal"]), np.ravel(obs["observation"])])
        raise ToolError(f"dict observation with keys {sorted(obs)} is not supported")
    return np.ravel(np.asarray(obs, dtype=np.float64))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("checkpoint")
    ap.add_argument("env", help="gymnasium id or D4RL task name")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--d4rl-task", help="D4RL task whose reference returns give the normalised score")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        raise ToolError(f"--episodes must be at least 1, got {args.episodes}")

    try:
        import gymnasium as gym
    except ImportError as e:
        raise ToolError("gymnasium is not installed") from e
    if "antmaze" in args.env or (args.d4rl_task or "").startswith("antmaze"):
        try:
            import gymnasium_robotics  # noqa: F401  (registers the maze environments)
        except ImportError:
            pass

    task = args.d4rl_task
    if D4RL_TASK.match(args.env):
        task = task or args.env
        env_id = gym_id_for_task(args.env, gym.registry)
    else:
        env_id = args.env
    ref = D4RL_REF[d4rl_family(task)] if task else None

    act, obs_dim, act_dim = load_policy(args.checkpoint)
    try:
        env = gym.make(env_id)
    except Exception as e:  # gymnasium raises several kinds for unknown ids and missing extras
        raise ToolError(f"cannot make gymnasium environment '{env_id}': {e}") from e
    space = env.action_space
    if not hasattr(space, "low") or space.shape != (act_dim,):
        raise ToolError(f"{env_id}: action space {space} does not match the policy's {act_dim} actions")
    returns, lengths = [], []
    for i in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + i)
        obs = flat_observation(obs)
        if obs.shape != (obs_dim,):
            raise ToolError(f"{env_id}: observations have {obs.shape[0]} values, the policy takes {obs_dim}")
        total, steps, done = 0.0, 0, False
        while not done:
            action = np.clip(act(obs), space.low, space.high).astype(space.dtype)
            obs, reward, terminated, truncated, _ = env.step(action)
            obs = flat_observation(obs)
            total += float(reward)
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
    env.close()
    returns = np.array(returns)
    print(f"return: {returns.mean():.4f} ± {returns.std():.4f} over {args.episodes} episodes "
          f"(mean length {np.mean(lengths):.1f}) in {env_id}")
    if ref:
        lo, hi = ref
        score = 100.0 * (returns.mean() - lo) / (hi - lo)
        print(f"normalized score: {score:.2f} (D4RL {task}: min {lo:g}, max {hi:g})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ToolError as e:
        print(f"gym_eval: {e}", file=sys.stderr)
        sys.exit(1)
