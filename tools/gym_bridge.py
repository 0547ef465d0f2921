#!/usr/bin/env python3
"""Evaluates cuiql checkpoints in a gymnasium environment on request: a long-lived helper that
cuiql starts once per run and talks to over stdin/stdout, one JSON object per line.

    tools/gym_bridge.py ENV_ID [--ref-scores NAME]

The first line on stdout is a hello:
    {"ok": true, "env": "Hopper-v5", "obs_dim": 11, "act_dim": 3, "action_low": [...],
     "action_high": [...], "max_episode_steps": 1000,
     "ref": {"name": "hopper", "random": -20.272305, "expert": 3234.3}}
or {"ok": false, "error": "..."}, after which the bridge exits with status 1.
Each request line
    {"id": 7, "checkpoint": "/path/policy.h5", "episodes": 10, "seed": 1000003}
gets one reply line
    {"id": 7, "return": R, "std": S, "length": L, "episodes": 10, "normalized_score": X or null,
     "seconds": T}
or {"id": 7, "error": "..."}; the bridge then waits for the next request. End of input: exit 0.

The policy is the checkpoint's deterministic mean action, max_action * tanh(MLP((s - mean) / std)),
clipped to the action box (loaded as tools/gym_eval.py loads it); episode i starts from
env.reset(seed=seed + i). "return" is the mean undiscounted return, "std" its population
standard deviation, "length" the mean episode length. The normalised score is
100 * (return - random) / (expert - random) with D4RL's reference returns for the environment
family, taken from --ref-scores (a D4RL or Minari dataset name: hopper-medium-v2,
mujoco/hopper/medium-v0) or else from ENV_ID (Hopper-v5 -> hopper); null when unknown.
stdout carries nothing but protocol lines; diagnostics go to stderr. See docs/gym-bridge.md.
"""
import os

# One evaluation thread: cuiql trains next to us, and a single-state MLP gains nothing from BLAS threads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no __pycache__ in tools/ from importing the two helpers below
try:  # numpy is the one hard import; without it the hello must still say what is wrong
    from gym_eval import ToolError, flat_observation, load_policy  # noqa: E402  (tools/gym_eval.py)
    from gym_collect import check_spaces, make_env, one_line  # noqa: E402  (tools/gym_collect.py)
    _IMPORT_ERROR = None
except ImportError as _e:
    _IMPORT_ERROR = f"python module '{_e.name}' is not installed (pip install {_e.name})"

    class ToolError(Exception):
        pass

    def one_line(e):
        return " ".join(str(e).split()) or type(e).__name__

# D4RL's reference returns (d4rl/infos.py, REF_MIN_SCORE / REF_MAX_SCORE for <family>-random-v0,
# which the v1/v2 tasks reuse): a random policy's and an expert's mean return.
REF_SCORES = {
    "hopper": (-20.272305, 3234.3),
    "halfcheetah": (-280.178953, 12135.0),
    "walker2d": (1.629008, 4592.3),
    "ant": (-325.6, 3879.7),
}


class _ArgParser(argparse.ArgumentParser):
    def error(self, message):
        raise ToolError(message)


def ref_family(name):
    """The family whose reference returns apply to a task or env name, or None:
    hopper-medium-v2, mujoco/hopper/medium-v0, Hopper-v5 -> hopper; AntMaze_UMaze-v4 -> None."""
    for token in re.split(r"[/\-_:\s.]+", name.lower()):
        if token in REF_SCORES:
            return token
    return None


class Protocol:
    """Protocol lines on the original stdout; everything else that writes to fd 1 (print, C
    libraries) is sent to stderr so it cannot corrupt the stream."""

    def __init__(self):
        sys.stdout.flush()
        self.out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def send(self, obj):
        self.out.write(json.dumps(obj, allow_nan=False, separators=(", ", ": ")) + "\n")
        self.out.flush()


def finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def hello(args):
    """Makes the environment; returns (env, hello object). Raises ToolError."""
    try:  # needed by every request (load_policy): missing, it must fail the hello, not the first evaluation
        import h5py  # noqa: F401
    except ImportError as e:
        raise ToolError("python module 'h5py' is not installed (pip install h5py)") from e
    env = make_env(args.env)
    obs_dim, act_dim = check_spaces(env, args.env)
    if args.ref_scores:
        family = ref_family(args.ref_scores)
        if family is None:
            raise ToolError(f"--ref-scores '{args.ref_scores}': no reference returns known for it "
                            f"(known families: {', '.join(REF_SCORES)})")
    else:
        family = ref_family(args.env)
    ref = None
    if family:
        lo, hi = REF_SCORES[family]
        ref = {"name": family, "random": lo, "expert": hi}
    space = env.action_space
    msg = {
        "ok": True,
        "env": args.env,
        "obs_dim": int(obs_dim),
        "act_dim": int(act_dim),
        "action_low": [finite_or_none(v) for v in space.low],
        "action_high": [finite_or_none(v) for v in space.high],
        "max_episode_steps": env.spec.max_episode_steps if env.spec is not None else None,
        "ref": ref,
    }
    return env, msg


def _int_field(req, name, default, minimum):
    v = req.get(name, default)
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        else:
            raise ToolError(f"'{name}' must be an integer, got {json.dumps(v)}")
    if v < minimum:
        raise ToolError(f"'{name}' must be at least {minimum}, got {v}")
    return v


def evaluate(env, env_id, req, ref):
    import numpy as np

    if not isinstance(req, dict):
        raise ToolError("a request must be a JSON object")
    path = req.get("checkpoint")
    if not isinstance(path, str) or not path:
        raise ToolError("'checkpoint' (a file path) is missing")
    episodes = _int_field(req, "episodes", 10, 1)
    seed = _int_field(req, "seed", 0, 0)
    if not os.path.isfile(path):
        raise ToolError(f"{path}: no such checkpoint file")

    t0 = time.monotonic()
    act, p_obs, p_act = load_policy(path)
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    if (p_obs, p_act) != (obs_dim, act_dim):
        raise ToolError(f"{path}: the policy takes {p_obs} observations and gives {p_act} actions; "
                        f"{env_id} has {obs_dim} and {act_dim}")
    space = env.action_space
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    returns, lengths = [], []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, steps, done = 0.0, 0, False
        while not done:
            a = act(flat_observation(obs))
            if not np.all(np.isfinite(a)):
                raise ToolError(f"{path}: the policy gave a non-finite action in episode {i}, step {steps}")
            obs, reward, terminated, truncated, _ = env.step(np.clip(a, low, high).astype(space.dtype))
            total += float(reward)
            steps += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(steps)
    mean = float(np.mean(returns))
    if not math.isfinite(mean):
        raise ToolError(f"{env_id}: the episodes' mean return is not finite ({mean})")
    score = None
    if ref is not None:
        score = 100.0 * (mean - ref["random"]) / (ref["expert"] - ref["random"])
    return {
        "id": req.get("id"),
        "return": mean,
        "std": float(np.std(returns)),
        "length": float(np.mean(lengths)),
        "episodes": episodes,
        "normalized_score": score,
        "seconds": round(time.monotonic() - t0, 4),
    }


def serve(proto, env, env_id, ref):
    stdin = sys.stdin.buffer
    while True:
        raw = stdin.readline()
        if not raw:
            return 0
        line = raw.strip()
        if not line:
            continue
        rid = None
        try:
            try:
                req = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise ToolError(f"not a JSON line ({one_line(e)})") from e
            if isinstance(req, dict):
                rid = req.get("id")
            reply = evaluate(env, env_id, req, ref)
        except ToolError as e:
            reply = {"id": rid, "error": one_line(e)}
        except Exception as e:  # the environment or numpy failed: report it, keep serving
            reply = {"id": rid, "error": f"{type(e).__name__}: {one_line(e)}"}
        try:
            proto.send(reply)
        except ValueError:  # NaN or infinity somewhere (the result, or the id itself): not valid JSON
            reply = {"id": rid, "error": f"the reply is not finite: {reply}"}
            try:
                proto.send(reply)
            except ValueError:
                reply = {"id": None, "error": reply["error"]}
                proto.send(reply)
        if "error" in reply:
            print(f"gym_bridge: request {rid!r}: {reply['error']}", file=sys.stderr, flush=True)


def main(argv):
    ap = _ArgParser(prog="gym_bridge.py", description=__doc__.split("\n\n")[0],
                    formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("env", metavar="ENV_ID", help="gymnasium environment id")
    ap.add_argument("--ref-scores", metavar="NAME", help="D4RL/Minari task whose reference returns to use")
    if "-h" in argv or "--help" in argv:
        ap.print_help()
        return 0
    # Ctrl-C in a terminal reaches the whole process group; the bridge leaves it to cuiql and
    # ends when cuiql closes its stdin (or exits).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    proto = Protocol()
    try:
        if _IMPORT_ERROR:
            raise ToolError(_IMPORT_ERROR)
        args = ap.parse_args(argv)
        env, msg = hello(args)
    except Exception as e:
        text = one_line(e) if isinstance(e, ToolError) else f"{type(e).__name__}: {one_line(e)}"
        proto.send({"ok": False, "error": text})
        print(f"gym_bridge: {text}", file=sys.stderr, flush=True)
        return 1
    proto.send(msg)
    try:
        return serve(proto, env, args.env, msg["ref"])
    finally:
        env.close()


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # cuiql went away
        try:
            sys.stderr.close()
        finally:
            os._exit(1)
    except KeyboardInterrupt:
        os._exit(130)
