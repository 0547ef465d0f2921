"""Checks that cuiql's `pendulum` and `mountaincar` follow gymnasium's Pendulum-v1 and
MountainCarContinuous-v0 step for step.

For each case the same start state is given to both (gymnasium's through env.unwrapped.state,
ours through the env_trace helper) and the same actions are applied; observations and rewards
must agree to 1e-5 and termination / truncation flags exactly. Cases cover our own reset
states, actions outside the action box (clipping), a full pendulum episode to its time limit,
and mountain-car episodes that reach the goal and that hit the left wall.

usage: test_gym_match.py PATH/TO/env_trace
"""
import subprocess
import sys
import warnings

import numpy as np

try:
    import gymnasium as gym
except ImportError:  # the C side cannot be checked without the reference
    print("gymnasium is not installed: skipped")
    sys.exit(77)

warnings.filterwarnings("ignore")  # the passive env checker warns about float64 actions
TOL = 1e-5
TRACE = sys.argv[1]
failures = []


def c_reset_state(env, seed, episode):
    out = subprocess.run([TRACE, env, "--reset", str(seed), str(episode)], check=True, capture_output=True, text=True)
    words = out.stdout.split()
    assert words[0] == "state", out.stdout
    return [float(w) for w in words[1:]]


def c_trace(env, state, actions):
    """Our trajectory: start observation, then (obs, reward, terminated, truncated) per step."""
    stdin = "\n".join(" ".join(repr(float(v)) for v in a) for a in actions) + "\n"
    out = subprocess.run([TRACE, env] + [repr(float(x)) for x in state], input=stdin, check=True,
                         capture_output=True, text=True)
    lines = out.stdout.strip().split("\n")
    assert lines[0].startswith("obs "), lines[0]
    obs0 = np.array([float(w) for w in lines[0].split()[1:]])
    steps = []
    for line in lines[1:]:
        w = line.split()
        assert w[0] == "step", line
        steps.append((np.array([float(v) for v in w[1:-3]]), float(w[-3]), int(w[-2]), int(w[-1])))
    return obs0, steps


def gym_start(env_id, state):
    env = gym.make(env_id)
    env.reset(seed=0)  # starts the TimeLimit counter; the state is then replaced by ours
    env.unwrapped.state = np.array(state, dtype=np.float64)
    if env_id.startswith("Pendulum"):
        obs = env.unwrapped._get_obs()
    else:
        obs = np.array(env.unwrapped.state, dtype=np.float32)
    return env, obs


def compare(name, env_id, c_env, state, actions=None, controller=None, n_steps=None):
    """Runs gymnasium from `state` with `actions` (or a closed-loop controller of the gym
    observation, whose actions are then replayed in ours) and compares step by step."""
    env, obs = gym_start(env_id, state)
    g_steps = []
    if actions is None:
        actions = []
        for _ in range(n_steps):
            a = np.asarray(controller(obs), dtype=np.float32)
            actions.append(a)
            obs, r, term, trunc, _ = env.step(a.astype(np.float64))
            g_steps.append((np.asarray(obs, dtype=np.float64), float(r), int(term), int(trunc)))
            if term or trunc:
                break
    else:
        actions = [np.asarray(a, dtype=np.float32) for a in actions]
        for a in actions:
            obs, r, term, trunc, _ = env.step(a.astype(np.float64))
            g_steps.append((np.asarray(obs, dtype=np.float64), float(r), int(term), int(trunc)))
            if term or trunc:
                break
        actions = actions[: len(g_steps)]
    env.close()
    _, g_obs0 = gym_start(env_id, state)
    c_obs0, c_steps = c_trace(c_env, state, actions)
    if np.max(np.abs(c_obs0 - g_obs0)) > TOL:
        failures.append(f"{name}: start observation {c_obs0} vs gymnasium {g_obs0}")
        return g_steps
    if len(c_steps) != len(g_steps):
        failures.append(f"{name}: {len(c_steps)} steps vs gymnasium {len(g_steps)}")
        return g_steps
    for t, (c, g) in enumerate(zip(c_steps, g_steps)):
        d_obs = np.max(np.abs(c[0] - g[0]))
        d_r = abs(c[1] - g[1])
        if d_obs > TOL or d_r > TOL or c[2] != g[2] or c[3] != g[3]:
            failures.append(f"{name}: step {t}: obs {c[0]} reward {c[1]} term {c[2]} trunc {c[3]}; "
                            f"gymnasium obs {g[0]} reward {g[1]} term {g[2]} trunc {g[3]} "
                            f"(|Δobs| {d_obs:.3g}, |Δr| {d_r:.3g})")
            break
    return g_steps


rng = np.random.default_rng(1234)
checked = 0

# ---- pendulum ----------------------------------------------------------------------------------
for ep in range(4):
    state = c_reset_state("pendulum", 7, ep)
    # torques in [−3, 3]: about a third fall outside the box and must be clipped to ±2
    acts = rng.uniform(-3.0, 3.0, size=(200, 1)).astype(np.float32)
    steps = compare(f"pendulum random-actions episode {ep}", "Pendulum-v1", "pendulum", state, actions=acts)
    if len(steps) != 200 or steps[-1][3] != 1:
        failures.append(f"pendulum episode {ep}: expected truncation at step 200, got {len(steps)} steps")
    checked += 1
# saturated torque both ways from a state that spins up to the ±8 speed clip
steps = compare("pendulum saturated", "Pendulum-v1", "pendulum", [0.3, 7.5],
                actions=[[5.0]] * 60 + [[-5.0]] * 60 + [[2.0]] * 80)
if max(abs(s[0][2]) for s in steps) < 8.0 - 1e-6:
    failures.append("pendulum saturated: the case never reached the speed clip")
checked += 1
# a start near the angle-normalisation wrap (θ ≈ ±π and beyond)
compare("pendulum wrap", "Pendulum-v1", "pendulum", [3.1, 0.9], actions=rng.uniform(-2, 2, (50, 1)))
compare("pendulum large angle", "Pendulum-v1", "pendulum", [-9.5, -3.0], actions=rng.uniform(-2, 2, (50, 1)))
checked += 2

# ---- mountain car ------------------------------------------------------------------------------
for ep in range(3):
    state = c_reset_state("mountaincar", 11, ep)
    acts = rng.uniform(-1.5, 1.5, size=(999, 1)).astype(np.float32)  # a third clipped
    steps = compare(f"mountaincar random-actions episode {ep}", "MountainCarContinuous-v0", "mountaincar", state,
                    actions=acts)
    if steps[-1][2] != 1 and (len(steps) != 999 or steps[-1][3] != 1):
        failures.append(f"mountaincar episode {ep}: expected truncation at step 999, got {len(steps)} steps")
    checked += 1

# bang-bang on the velocity's sign with overshooting magnitude 1.3 (clipped force, unclipped
# penalty): reaches the goal
goal_hits = 0
for ep in range(3):
    state = c_reset_state("mountaincar", 12, ep)
    steps = compare(f"mountaincar goal episode {ep}", "MountainCarContinuous-v0", "mountaincar", state,
                    controller=lambda o: [1.3 if o[1] >= 0 else -1.3], n_steps=999)
    goal_hits += steps[-1][2] == 1
if goal_hits != 3:
    failures.append(f"mountaincar goal: only {goal_hits} of 3 episodes reached the goal")
checked += 3


# pump energy on the left slope, then push left into the wall: the position is pinned at −1.2
# and the velocity reset to 0 (the inelastic wall)
steps = compare("mountaincar left wall", "MountainCarContinuous-v0", "mountaincar", [-0.5, 0.0],
                controller=lambda o: [-1.0] if o[1] < 0 else [1.0] if o[0] < -0.2 else [-1.0], n_steps=400)
wall = [s for s in steps if s[0][0] == np.float32(-1.2)]
if not wall or wall[0][0][1] != 0.0:
    failures.append(f"mountaincar left wall: the car never rested against the left wall "
                    f"(min position {min(s[0][0] for s in steps):.4f})")
checked += 1

for f in failures:
    print("FAIL", f)
print(f"test_gym_match: {checked - len(failures)} of {checked} cases agree with gymnasium")
sys.exit(1 if failures else 0)
