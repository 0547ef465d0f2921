#!/usr/bin/env python3
"""Collects an offline-RL dataset from a gymnasium environment, for cuiql to train on.

    tools/gym_collect.py ENV_ID --policy random|checkpoint:PATH|noisy:PATH [--noise 0.3]
                         --episodes N --out D.hdf5 [--format d4rl|minari] [--seed S]
                         [--max-steps T] [--dataset-id NS/NAME-vK] [--minari-root DIR]
                         [--overwrite]

ENV_ID is any gymnasium id with a flat Box observation space and a flat Box action space
(Hopper-v5, HalfCheetah-v5, Pendulum-v1, ...; "module:Env-v0" imports module first).
MuJoCo environments need `pip install "gymnasium[mujoco]"`.

Policies:
  random           uniform in the action box
  checkpoint:PATH  a cuiql checkpoint's deterministic mean action, max_action * tanh(MLP((s - mean) / std)),
                   clipped to the box (loaded as tools/gym_eval.py loads it)
  noisy:PATH       that mean action plus Gaussian noise of std NOISE * (high - low) / 2 per dimension,
                   clipped to the box

Episode i starts from env.reset(seed=S + i); actions (random, noise) come from numpy's
default_rng(S), so the same command gives the same file. --max-steps T sets the episode time
limit (gymnasium's max_episode_steps, replacing the environment's own); an environment without
a time limit needs it.

--format d4rl (default): one flat HDF5 file with observations, actions, rewards,
  next_observations (float32) and terminals, timeouts (bool), and root attributes env, policy,
  seed, episodes (and max_steps, noise when given). terminals[i] is the environment's
  termination; timeouts[i] is a truncation (time limit) that is not also a termination, so the
  two never overlap and a truncated last step is never a terminal.
--format minari: the dataset is written by the minari package itself
  (minari.create_dataset_from_buffers, plus minari's EpisodeMetadataCallback, which is what
  minari.DataCollector does) under the Minari root ($MINARI_DATASETS_PATH, else
  ~/.minari/datasets, or --minari-root) as <root>/<dataset-id>/data/{main_data.hdf5,metadata.json};
  main_data.hdf5 is then COPIED to --out (the dataset directory stays where Minari put it and its
  path is printed). Terminations and truncations are stored as the environment returned them.
  The default dataset id is cuiql/<env name>-<policy kind>-v0; an existing dataset with that id
  is an error unless --overwrite is given.

--out is written to OUT.tmp and renamed, so OUT is either the old file or a complete new one.
Errors print one line and exit 1. On success one summary line is printed.
"""
import argparse
import os
import re
import shutil
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gym_eval import ToolError, load_policy  # noqa: E402  (tools/gym_eval.py)

PROG = "gym_collect"
GYMNASIUM_PIP = "pip install gymnasium"
EXTRA_FOR_MODULE = {"mujoco": '"gymnasium[mujoco]"', "Box2D": '"gymnasium[box2d]"', "box2d": '"gymnasium[box2d]"',
                    "pygame": '"gymnasium[classic-control]"', "ale_py": '"gymnasium[atari]"'}


class _ArgParser(argparse.ArgumentParser):
    """argparse that reports a usage error as a ToolError (one line, exit 1)."""

    def error(self, message):
        raise ToolError(message)


# --------------------------------------------------------------------------------------------
# environments (also used by tools/gym_bridge.py)

def import_gymnasium():
    try:
        import gymnasium as gym
    except ImportError as e:
        raise ToolError(f"gymnasium is not installed ({GYMNASIUM_PIP})") from e
    return gym


def route_mujoco_warnings():
    """MuJoCo's C warnings (e.g. MuJoCo 4's 'settotalmass is deprecated' for HalfCheetah) are
    otherwise written to stderr and appended to MUJOCO_LOG.TXT in the current directory; send
    them to stderr only."""
    try:
        import mujoco
        mujoco.set_mju_user_warning(lambda msg: print(f"mujoco warning: {msg}", file=sys.stderr, flush=True))
    except Exception:  # mujoco absent, or a version without the hook: leave the default
        pass


def _missing_package_hint(name):
    top = (name or "").split(".")[0]
    return EXTRA_FOR_MODULE.get(top, top or "the package")


def make_env(env_id, max_steps=None):
    """gym.make with errors turned into one clear line."""
    gym = import_gymnasium()
    warnings.filterwarnings("ignore")  # deprecation notes, the passive checker's float64 remarks
    route_mujoco_warnings()
    kwargs = {"max_episode_steps": int(max_steps)} if max_steps else {}
    err = gym.error
    unknown = tuple(getattr(err, n) for n in ("NameNotFound", "VersionNotFound", "NamespaceNotFound",
                                              "UnregisteredEnv", "DeprecatedEnv", "Error") if hasattr(err, n))
    try:
        return gym.make(env_id, **kwargs)
    except err.DependencyNotInstalled as e:
        msg = one_line(e)
        hint = next((p for m, p in EXTRA_FOR_MODULE.items() if m.lower() in msg.lower()), None)
        raise ToolError(f"{env_id}: a package it needs is not installed"
                        + (f" (pip install {hint})" if hint else f": {msg}")) from e
    except ModuleNotFoundError as e:
        raise ToolError(f"{env_id}: python module '{e.name}' is not installed "
                        f"(pip install {_missing_package_hint(e.name)})") from e
    except unknown as e:
        raise ToolError(f"unknown gymnasium environment '{env_id}': {one_line(e)}") from e
    except Exception as e:
        raise ToolError(f"cannot make gymnasium environment '{env_id}': {type(e).__name__}: {one_line(e)}") from e


def check_spaces(env, env_id):
    """Both spaces must be flat Boxes (cuiql reads vectors of floats); returns (obs_dim, act_dim)."""
    gym = import_gymnasium()
    Box = gym.spaces.Box
    obs_space, act_space = env.observation_space, env.action_space
    if not isinstance(obs_space, Box) or len(obs_space.shape) != 1:
        raise ToolError(f"{env_id}: observation space {obs_space} is not a flat Box "
                        "(cuiql reads float vectors; Dict, Discrete and image observations are not supported)")
    if not isinstance(act_space, Box) or len(act_space.shape) != 1:
        raise ToolError(f"{env_id}: action space {act_space} is not a flat Box (cuiql needs continuous actions)")
    return obs_space.shape[0], act_space.shape[0]


def one_line(e):
    text = " ".join(str(e).split())
    return text if text else type(e).__name__


def env_family(env_id):
    """'Hopper-v5' -> 'hopper', 'module:Walker2d-v4' -> 'walker2d', 'ALE/Pong-v5' -> 'ale_pong'."""
    name = env_id.split(":")[-1]
    name = re.sub(r"-v\d+$", "", name).lower()
    return re.sub(r"[^\w-]", "_", name) or "env"


# --------------------------------------------------------------------------------------------
# policies

def make_policy(spec, noise, env, env_id, rng):
    """Returns (act(obs) -> action in the box, of the box's dtype; description)."""
    space = env.action_space
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    obs_dim, act_dim = check_spaces(env, env_id)

    if spec == "random":
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ToolError(f"{env_id}: the action box {space} is unbounded; a uniform random policy needs finite bounds")

        def act(obs):
            return rng.uniform(low, high).astype(space.dtype)
        return act, "random"

    kind, sep, path = spec.partition(":")
    if not sep or kind not in ("checkpoint", "noisy") or not path:
        raise ToolError(f"--policy '{spec}': expected random, checkpoint:PATH or noisy:PATH")
    if not os.path.exists(path):
        raise ToolError(f"{path}: no such checkpoint file")
    mean_action, p_obs, p_act = load_policy(path)
    if (p_obs, p_act) != (obs_dim, act_dim):
        raise ToolError(f"{path}: the policy takes {p_obs} observations and gives {p_act} actions; "
                        f"{env_id} has {obs_dim} and {act_dim}")
    if kind == "noisy":
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ToolError(f"{env_id}: the action box {space} is unbounded; noise is scaled by its half-width")
        sigma = noise * (high - low) / 2.0

    def act(obs):
        a = mean_action(obs)
        if kind == "noisy":
            a = a + rng.normal(0.0, 1.0, size=a.shape) * sigma
        if not np.all(np.isfinite(a)):
            raise ToolError(f"{path}: the policy gave a non-finite action {a.tolist()}")
        return np.clip(a, low, high).astype(space.dtype)

    desc = f"{kind}:{os.path.abspath(path)}" + (f" noise={noise:g}" if kind == "noisy" else "")
    return act, desc


# --------------------------------------------------------------------------------------------
# collection

def collect(env, act, episodes, seed):
    """Runs the episodes; each is a dict of lists as the environment returned them."""
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        ep = {"observations": [np.asarray(obs)], "actions": [], "rewards": [], "terminations": [], "truncations": []}
        done = False
        while not done:
            a = act(np.ravel(np.asarray(obs, dtype=np.float64)))
            obs, reward, terminated, truncated, _ = env.step(a)
            ep["observations"].append(np.asarray(obs))
            ep["actions"].append(a)
            ep["rewards"].append(reward)
            ep["terminations"].append(bool(terminated))
            ep["truncations"].append(bool(truncated))
            done = terminated or truncated
        out.append(ep)
    return out


def d4rl_arrays(episodes):
    obs = np.concatenate([np.asarray(e["observations"][:-1], dtype=np.float64) for e in episodes])
    nxt = np.concatenate([np.asarray(e["observations"][1:], dtype=np.float64) for e in episodes])
    act = np.concatenate([np.asarray(e["actions"], dtype=np.float64) for e in episodes])
    rew = np.concatenate([np.asarray(e["rewards"], dtype=np.float64) for e in episodes])
    term = np.concatenate([np.asarray(e["terminations"], dtype=bool) for e in episodes])
    trunc = np.concatenate([np.asarray(e["truncations"], dtype=bool) for e in episodes])
    return {
        "observations": obs.astype(np.float32),
        "actions": act.astype(np.float32),
        "rewards": rew.astype(np.float32),
        "next_observations": nxt.astype(np.float32),
        "terminals": term,
        "timeouts": trunc & ~term,  # a step both terminated and truncated is a terminal
    }


def _fsync_path(path, directory=False):
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(out, write):
    """write(tmp_path) fills OUT.tmp; then it is fsynced and renamed over OUT."""
    tmp = out + ".tmp"
    try:
        write(tmp)
        _fsync_path(tmp)
        os.replace(tmp, out)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _fsync_path(os.path.dirname(os.path.abspath(out)), directory=True)


def write_d4rl(out, episodes, attrs):
    import h5py

    arrays = d4rl_arrays(episodes)

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            for name, data in arrays.items():
                f.create_dataset(name, data=data)
            for k, v in attrs.items():
                f.attrs[k] = v
    atomic_write(out, write)
    return arrays


def minari_target(dataset_id, root, overwrite):
    """Imports minari, checks the id and that the dataset may be written; returns its directory.
    Done before collecting, so that a missing package or a clash costs nothing."""
    if root:
        os.environ["MINARI_DATASETS_PATH"] = os.path.abspath(root)
    try:
        import minari  # noqa: F401
        from minari.dataset.minari_dataset import parse_dataset_id
        from minari.storage.datasets_root_dir import get_dataset_path
    except ImportError as e:
        raise ToolError(f"the minari package is not installed or too old ({one_line(e)}); pip install minari") from e
    try:
        import h5py  # noqa: F401  (minari's HDF5 storage needs it: pip install "minari[hdf5]")
    except ImportError as e:
        raise ToolError('h5py is not installed (pip install h5py, or pip install "minari[hdf5]")') from e
    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:
        raise ToolError(f"--dataset-id '{dataset_id}' is not a Minari dataset id "
                        "(namespace/name-vN, e.g. cuiql/hopper-random-v0)") from e
    ds_dir = str(get_dataset_path(dataset_id))
    if os.path.exists(ds_dir):
        if not overwrite:
            raise ToolError(f"Minari dataset '{dataset_id}' already exists at {ds_dir} "
                            "(use --overwrite to replace it, or choose another --dataset-id)")
        if not os.path.isfile(os.path.join(ds_dir, "data", "metadata.json")):
            raise ToolError(f"{ds_dir} exists but is not a Minari dataset; not removing it")
    return ds_dir


def write_minari(out, episodes, env, env_id, dataset_id, ds_dir, policy_desc, seed):
    import minari
    from minari.data_collector import EpisodeBuffer

    if os.path.exists(ds_dir):  # minari_target allowed it: --overwrite
        shutil.rmtree(ds_dir)

    buffers = [EpisodeBuffer(id=i, seed=seed + i, observations=e["observations"], actions=e["actions"],
                             rewards=e["rewards"], terminations=e["terminations"], truncations=e["truncations"],
                             infos={})  # an empty infos group, as DataCollector writes without record_infos
               for i, e in enumerate(episodes)]
    requirements = [f"gymnasium=={_version('gymnasium')}"]
    if "mujoco" in sys.modules:
        requirements.append(f"mujoco=={_version('mujoco')}")
    n = len(episodes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # minari warns about every metadata field left out
            dataset = minari.create_dataset_from_buffers(
                dataset_id=dataset_id, buffer=buffers, env=env, algorithm_name=policy_desc,
                author="cuiql tools/gym_collect.py", code_permalink="tools/gym_collect.py",
                description=f"{n} episodes of policy {policy_desc} in {env_id}, reset seeds {seed}..{seed + n - 1}",
                data_format="hdf5", requirements=requirements)
            # what DataCollector._save_to_disk adds: per-episode reward statistics as group attributes
            storage = dataset.storage
            storage.update_episode_metadata(storage.apply(minari.EpisodeMetadataCallback()))
    except BaseException:
        shutil.rmtree(ds_dir, ignore_errors=True)
        raise
    main = os.path.join(ds_dir, "data", "main_data.hdf5")
    if not os.path.isfile(main):
        raise ToolError(f"minari wrote no {main} (is its default data format not hdf5?)")
    atomic_write(out, lambda tmp: shutil.copyfile(main, tmp))
    return ds_dir


def _version(pkg):
    try:
        import importlib.metadata
        return importlib.metadata.version(pkg)
    except Exception:
        return "unknown"


# --------------------------------------------------------------------------------------------

def main(argv):
    ap = _ArgParser(prog="gym_collect.py", description=__doc__.split("\n\n")[0],
                    formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("env", metavar="ENV_ID", help="gymnasium environment id")
    ap.add_argument("--policy", required=True, help="random, checkpoint:PATH or noisy:PATH")
    ap.add_argument("--noise", type=float, default=0.3, help="noisy: std as a fraction of the box half-width (0.3)")
    ap.add_argument("--episodes", type=int, required=True)
    ap.add_argument("--out", required=True, help="output HDF5 file (written as OUT.tmp, then renamed)")
    ap.add_argument("--format", choices=("d4rl", "minari"), default="d4rl")
    ap.add_argument("--seed", type=int, default=0, help="episode i resets with seed S+i; actions use default_rng(S)")
    ap.add_argument("--max-steps", type=int, help="episode time limit (replaces the environment's own)")
    ap.add_argument("--dataset-id", help="minari: dataset id (default cuiql/<env>-<policy kind>-v0)")
    ap.add_argument("--minari-root", help="minari: datasets root (default $MINARI_DATASETS_PATH or ~/.minari/datasets)")
    ap.add_argument("--overwrite", action="store_true", help="minari: replace an existing dataset with the same id")
    args = ap.parse_args(argv)

    if args.episodes < 1:
        raise ToolError(f"--episodes must be at least 1, got {args.episodes}")
    if args.max_steps is not None and args.max_steps < 1:
        raise ToolError(f"--max-steps must be at least 1, got {args.max_steps}")
    if not (args.noise >= 0 and np.isfinite(args.noise)):
        raise ToolError(f"--noise must be a finite number >= 0, got {args.noise}")
    if not 0 <= args.seed < 2**63 - args.episodes:
        raise ToolError(f"--seed must be >= 0 and below 2**63 - episodes, got {args.seed}")
    out = args.out
    if os.path.isdir(out):
        raise ToolError(f"--out {out} is a directory")
    out_dir = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_dir):
        raise ToolError(f"--out {out}: directory {out_dir} does not exist")
    try:
        import h5py  # noqa: F401
    except ImportError as e:
        raise ToolError("h5py is not installed (pip install h5py)") from e
    kind, _, ckpt_path = args.policy.partition(":")
    if args.policy != "random" and (kind not in ("checkpoint", "noisy") or not ckpt_path):
        raise ToolError(f"--policy '{args.policy}': expected random, checkpoint:PATH or noisy:PATH")
    dataset_id = args.dataset_id or f"cuiql/{env_family(args.env)}-{kind}-v0"

    ds_dir = minari_target(dataset_id, args.minari_root, args.overwrite) if args.format == "minari" else None
    env = make_env(args.env, args.max_steps)
    check_spaces(env, args.env)
    if env.spec is None or env.spec.max_episode_steps is None:
        if args.max_steps is None:
            raise ToolError(f"{args.env} has no time limit; give --max-steps")
    rng = np.random.default_rng(args.seed)
    act, policy_desc = make_policy(args.policy, args.noise, env, args.env, rng)
    try:
        episodes = collect(env, act, args.episodes, args.seed)
    except ToolError:
        raise
    except Exception as e:
        raise ToolError(f"{args.env}: the environment failed while collecting: {type(e).__name__}: {one_line(e)}") from e

    returns = np.array([float(np.sum(e["rewards"])) for e in episodes])
    transitions = sum(len(e["rewards"]) for e in episodes)
    terms_all = sum(int(np.sum(e["terminations"])) for e in episodes)
    timeouts = sum(int(np.sum(np.asarray(e["truncations"]) & ~np.asarray(e["terminations"], dtype=bool)))
                   for e in episodes)
    where = ""
    if args.format == "d4rl":
        attrs = {"env": args.env, "policy": policy_desc, "seed": np.int64(args.seed),
                 "episodes": np.int64(args.episodes)}
        if args.max_steps is not None:
            attrs["max_steps"] = np.int64(args.max_steps)
        if kind == "noisy":
            attrs["noise"] = float(args.noise)
        write_d4rl(out, episodes, attrs)
    else:
        where = write_minari(out, episodes, env, args.env, dataset_id, ds_dir, policy_desc, args.seed)
    env.close()
    print(f"{args.env} {policy_desc if kind == 'random' else kind}: {args.episodes} episodes, {transitions} transitions, "
          f"return {returns.mean():.3f} ± {returns.std():.3f}, {terms_all} terminals, {timeouts} timeouts "
          f"-> {out} ({args.format})")
    if where:
        print(f"minari dataset {dataset_id}: {where} (data/main_data.hdf5 copied to {out}, data/metadata.json)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ToolError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        sys.exit(1)
    except OSError as e:  # writing --out or the Minari directory
        print(f"{PROG}: {one_line(e)}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        sys.exit(130)
