"""Evaluation through the gym bridge, with a stand-in bridge (no gymnasium needed): the trainer's
side of docs/gym-bridge.md and of its child process.

The stand-in ($CUIQL_GYM_BRIDGE, run by $CUIQL_PYTHON) speaks the protocol and reads each policy
file with h5py; its "return" is the file's step attribute + 1000·seed, so a logged value names
the weights it was computed from. What is checked:
  - not blocking: the stand-in answers request n only when request n+1 has come (the last at
    once), so the evaluation of step k can only be logged after the training row of the next
    evaluation step; each eval row carries the step it evaluated (train columns empty), its
    value is that step's, and TensorBoard gets it too;
  - every member of a sweep is evaluated, each from its own weights;
  - the policy files are weights only and are gone at the end;
  - the backlog is bounded (a stand-in that answers only when idle never holds more than two
    evaluation steps' requests);
  - failures end training with one line: a bridge that dies mid-run (checkpoint of that step
    written and readable), an error reply, a line that is not JSON, a hello that is ok: false,
    a bridge that exits before its hello, a missing interpreter or script, sizes or action
    bounds that do not fit the dataset, env and eval_env both set;
  - SIGINT while an evaluation is outstanding: exit 130, checkpoint, no bridge left running;
  - eval_env with a built-in name evaluates as env does (at once, in the training row).
"""
import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]

FAKE = r'''
import json, os, select, sys
import h5py
mode = os.environ.get("FAKE_MODE", "hold")
log = open(os.environ["FAKE_LOG"], "a")
log.write(json.dumps({"pid": os.getpid()}) + "\n"); log.flush()
if mode == "exit_before_hello":
    sys.exit(3)
if mode == "hello_false":
    print(json.dumps({"ok": False, "error": "NoSuchEnv-v0: unknown gymnasium environment"}), flush=True)
    sys.exit(1)
hello = {"ok": True, "env": sys.argv[1], "obs_dim": int(os.environ.get("FAKE_OBS", 4)),
         "act_dim": int(os.environ.get("FAKE_ACT", 2)), "action_low": [-1.0] * int(os.environ.get("FAKE_ACT", 2)),
         "action_high": [float(os.environ.get("FAKE_HIGH", 1.0))] * int(os.environ.get("FAKE_ACT", 2)),
         "max_episode_steps": 5, "ref": {"name": "fake", "random": 0.0, "expert": 1000.0}}
if "--ref-scores" in sys.argv:
    hello["ref"]["name"] = sys.argv[sys.argv.index("--ref-scores") + 1]
print(json.dumps(hello), flush=True)
total = int(os.environ.get("FAKE_TOTAL", "0"))
held, seen, most = [], 0, 0

def answer(req):
    with h5py.File(req["checkpoint"]) as f:
        ret = float(f.attrs["step"]) + 1000.0 * float(f.attrs["seed"])
        keys = []
        f.visit(keys.append)
    weights_only = "policy/layer0/weight" in keys and not any(k.startswith(("adam", "optimizer", "q1_target")) for k in keys)
    log.write(json.dumps({"answered": req["id"], "path": req["checkpoint"], "weights_only": weights_only,
                          "episodes": req["episodes"], "seed": req["seed"]}) + "\n"); log.flush()
    if mode == "error_reply":
        out = {"id": req["id"], "error": "the policy gave a non-finite action in episode 0, step 3"}
    else:
        out = {"id": req["id"], "return": ret, "std": 0.0, "length": 5.0, "episodes": req["episodes"],
               "normalized_score": ret / 10.0, "seconds": 0.01}
    if mode == "garbage":
        sys.stdout.write("Traceback (most recent call last): oops\n")
    else:
        sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()

pending = b""  # read from fd 0 directly: select() cannot see lines already in a file object's buffer
while True:
    if b"\n" not in pending:
        idle = mode == "idle" and held
        ready, _, _ = select.select([0], [], [], 0.3 if idle else None)
        if not ready:  # idle mode: nothing new for a while, answer what is held
            for r in held:
                answer(r)
            held = []
            continue
        chunk = os.read(0, 65536)
        if not chunk:
            break
        pending += chunk
        continue
    line, pending = pending.split(b"\n", 1)
    req = json.loads(line)
    seen += 1
    if mode == "die" and seen == int(os.environ.get("FAKE_DIE_AT", "2")):
        os._exit(5)
    held.append(req)
    most = max(most, len(held))
    log.write(json.dumps({"held": len(held), "most": most}) + "\n"); log.flush()
    if mode in ("idle", "never"):
        continue
    if mode in ("error_reply", "garbage"):
        for r in held:
            answer(r)
        held = []
        continue
    # hold: answer everything but the newest, and the run's last request at once
    for r in held[:-1]:
        answer(r)
    held = held[-1:]
    if total and seen % total == 0:
        answer(held[0])
        held = []
'''


def write_dataset(path, n=1500, seed=0, obs=4, act=2):
    rng = np.random.default_rng(seed)
    o = rng.normal(size=(n + 1, obs)).astype(np.float32)
    a = np.clip(np.tanh(o[:-1, :act]) + 0.1 * rng.normal(size=(n, act)), -1, 1).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["observations"] = o[:-1]
        f["next_observations"] = o[1:]
        f["actions"] = a
        f["rewards"] = (o[:-1, 0] + a[:, 0]).astype(np.float32)
        term = np.zeros(n, bool)
        term[::100] = True
        f["terminals"] = term
        f["timeouts"] = np.zeros(n, bool)


def env_for(mode, log, **extra):
    e = dict(os.environ, CUIQL_PYTHON=sys.executable, CUIQL_GYM_BRIDGE=os.path.abspath("fake_bridge.py"),
             FAKE_MODE=mode, FAKE_LOG=os.path.abspath(log))
    e.update({k: str(v) for k, v in extra.items()})
    return e


def train(out, args, env, popen=False):
    cmd = [BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "data.h5", "--out", out,
           "--device", "cpu", "--threads", "1", "--set", "hidden=[32,32]", "--set", "batch_size=64",
           "--set", "eval_env=gym:Fake-v0", "--set", "eval_episodes=3"] + args
    if popen:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def log_entries(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def bridge_gone(log):
    """The stand-in's process has ended (the trainer reaped or killed it)."""
    pids = [e["pid"] for e in log_entries(log) if "pid" in e]
    for pid in pids:
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            return False
    return bool(pids)


def rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def one_line_error(r, needle, what):
    lines = r.stderr.strip().splitlines()
    return check(r.returncode == 1 and len(lines) == 1 and needle in r.stderr,
                 f"{what}: one line naming {needle!r} (rc {r.returncode}, stderr {r.stderr!r})")


def main():
    # A folder of its own: ctest -j runs the tests of tests/run side by side in one directory.
    os.makedirs("gym_plumbing.d", exist_ok=True)
    os.chdir("gym_plumbing.d")
    for d in glob.glob("g_*"):
        shutil.rmtree(d, ignore_errors=True)
    for f in glob.glob("*.log"):
        os.remove(f)
    with open("fake_bridge.py", "w") as f:
        f.write(FAKE)
    write_dataset("data.h5")

    # ---- not blocking: eval rows come after the next evaluation step's training row ----
    env = env_for("hold", "hold.log", FAKE_TOTAL=3)
    r = train("g_hold", ["--steps", "1500", "--set", "log_every=100", "--set", "eval_every=500",
                         "--set", "eval_ref_scores=fake-medium-v0"], env)
    check(r.returncode == 0, f"training with the stand-in bridge: rc {r.returncode}: {r.stderr.strip()}")
    check("gym:Fake-v0" in r.stdout and "fake-medium-v0" in r.stdout, f"the start line names the env and reference: {r.stdout[:300]!r}")
    if r.returncode == 0:
        got = rows("g_hold")
        order = [(int(x["step"]), "eval" if x["eval/return"] else "train") for x in got]
        evals = [(int(x["step"]), float(x["eval/return"]), float(x["eval/normalized_score"])) for x in got if x["eval/return"]]
        check([s for s, _, _ in evals] == [500, 1000, 1500], f"one eval row per evaluation step: {evals}")
        check(all(ret == s and abs(sc - s / 10) < 1e-9 for s, ret, sc in evals),
              f"each eval row holds the result for the weights of its own step: {evals}")
        for k, nxt in ((500, 1000), (1000, 1500)):
            check(order.index((k, "eval")) > order.index((nxt, "train")),
                  f"the evaluation of step {k} was logged after training reached {nxt} (not blocking): {order}")
        eval_rows = [x for x in got if x["eval/return"]]
        check(all(x["loss/q"] == "" and x["train/steps_per_s"] == "" for x in eval_rows),
              "eval rows leave the training columns empty")
        check(all(x["eval/return"] == "" for x in got if x["loss/q"]), "training rows leave the eval columns empty")
        check(not glob.glob("g_hold/eval-*.h5*"), f"policy files removed: {glob.glob('g_hold/eval-*')}")
        entries = log_entries("hold.log")
        answered = [e for e in entries if "answered" in e]
        check(len(answered) == 3 and all(e["weights_only"] and e["episodes"] == 3 and e["seed"] == 1000003 for e in answered),
              f"three requests, weights-only files, eval_episodes and the eval seed: {answered}")
        check("last evaluation in gym:Fake-v0 (3 episodes): return 1500.00, normalized score 150.0" in r.stdout,
              f"the summary gives the final evaluation: {r.stdout[-300:]!r}")
        try:
            from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
            ev = {}
            for path in glob.glob("g_hold/events.out.tfevents.*"):
                for e in EventFileLoader(path).Load():
                    for v in e.summary.value:
                        ev.setdefault(v.tag, []).append(e.step)
            check(sorted(ev.get("eval/return", [])) == [500, 1000, 1500] and sorted(ev.get("eval/normalized_score", [])) == [500, 1000, 1500],
                  f"TensorBoard has eval/return and eval/normalized_score at the evaluated steps: {ev.get('eval/return')}")
            # What TensorBoard shows: its accumulator must not take an earlier step for a restart
            # and purge the later ones (it does not for file_version brain.Event:2).
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            acc = EventAccumulator("g_hold")
            acc.Reload()
            shown = [e.step for e in acc.Scalars("eval/return")]
            check(shown == [500, 1000, 1500] and len(acc.Scalars("loss/q")) == 15,
                  f"TensorBoard's accumulator keeps every point: eval/return {shown}, loss/q {len(acc.Scalars('loss/q'))}")
        except ImportError:
            pass
    check(bridge_gone("hold.log"), "the bridge has ended after the run")

    # ---- a sweep: every member, from its own weights ----
    env = env_for("hold", "sweep.log", FAKE_TOTAL=4)
    r = train("g_sweep", ["--steps", "400", "--set", "log_every=100", "--set", "eval_every=200", "--sweep", "seed=0,1"], env)
    check(r.returncode == 0, f"sweep with the stand-in bridge: {r.stderr.strip()}")
    if r.returncode == 0:
        for seed in (0, 1):
            member = f"g_sweep/tau0.7-beta2-seed{seed}"
            ev = [(int(x["step"]), float(x["eval/return"])) for x in rows(member) if x["eval/return"]]
            check(ev == [(200, 200 + 1000.0 * seed), (400, 400 + 1000.0 * seed)], f"{member}: its own evaluations: {ev}")
        check("tau0.7-beta2-seed1: return 1400.00" in r.stdout, f"summary per member: {r.stdout[-300:]!r}")
        # the sweep's table: a gymnasium result arrives steps after the step it evaluated, so its
        # row carries that step's return and no losses (the last logged ones are a later step's)
        with open("g_sweep/sweep.csv") as f:
            table = list(csv.DictReader(f))
        gym_rows = [t for t in table if t["return"]]
        check(len(gym_rows) == 4 and all(not t["loss_q"] for t in gym_rows),
              f"gym rows in sweep.csv carry no later step's losses: {gym_rows}")

    # ---- the evaluation's environment and reference may change on resume (they touch no step) ----
    r = train("g_res", ["--steps", "100", "--set", "eval_every=100"], env_for("hold", "res1.log", FAKE_TOTAL=1))
    check(r.returncode == 0, f"the run to resume: {r.stderr.strip()}")
    r = train("g_res", ["--resume", "--steps", "200", "--set", "eval_every=100", "--set", "eval_env=gym:Other-v0",
                        "--set", "eval_ref_scores=other-v0"], env_for("hold", "res2.log", FAKE_TOTAL=1))
    check(r.returncode == 0, f"a resume with another eval_env and eval_ref_scores: {r.stderr.strip()}")
    if os.path.exists("g_res/history.log"):
        with open("g_res/history.log") as f:
            last = f.read().strip().splitlines()[-1]
        check("eval_env:" in last and "eval_ref_scores:" in last, f"the resume records both changes: {last!r}")

    # ---- the backlog is bounded: a stand-in that only answers when idle ----
    env = env_for("idle", "idle.log")
    r = train("g_idle", ["--steps", "1000", "--set", "log_every=100", "--set", "eval_every=50"], env)
    check(r.returncode == 0, f"an idle-answering bridge: {r.stderr.strip()}")
    most = max([e["most"] for e in log_entries("idle.log") if "most" in e] or [0])
    check(1 <= most <= 2, f"at most two evaluation steps outstanding (the stand-in held {most})")
    if r.returncode == 0:
        ev = [int(x["step"]) for x in rows("g_idle") if x["eval/return"]]
        check(ev == list(range(50, 1001, 50)), f"every evaluation logged once, in order: {ev}")

    # ---- the bridge dies mid-run: one line, the checkpoint of that step, no policy files left ----
    env = env_for("die", "die.log", FAKE_DIE_AT=2)
    r = train("g_die", ["--steps", "100000", "--set", "log_every=100", "--set", "eval_every=200",
                        "--set", "checkpoint_every=300"], env)
    if one_line_error(r, "exited with status 5", "a bridge that dies"):
        check("checkpoint written to g_die/checkpoint.h5" in r.stderr and "gym:Fake-v0" in r.stderr, f"message: {r.stderr!r}")
        try:
            with h5py.File("g_die/checkpoint.h5") as f:
                step = int(f.attrs["step"])
                ok = "policy/layer0/weight" in f
            check(400 <= step < 100000 and ok and f"at step {step}" in r.stderr,
                  f"a checkpoint at the step training stopped ({step}; {r.stderr!r})")
        except OSError as e:
            check(False, f"the checkpoint is readable: {e}")
        check(not glob.glob("g_die/eval-*.h5*"), f"no policy files left: {glob.glob('g_die/eval-*')}")
    check(bridge_gone("die.log"), "the dead bridge was reaped")
    # ... and in a sweep: the message names each member's checkpoint, not DIR/checkpoint.h5
    r = train("g_sdie", ["--steps", "100000", "--set", "log_every=100", "--set", "eval_every=200", "--sweep", "seed=0,1"],
              env_for("die", "sdie.log", FAKE_DIE_AT=2))
    if one_line_error(r, "exited with status 5", "a bridge that dies in a sweep"):
        check("checkpoint written to g_sdie/<member>/checkpoint.h5 for each of 2 members" in r.stderr,
              f"the sweep's checkpoints named: {r.stderr!r}")
        check(all(os.path.exists(f"g_sdie/tau0.7-beta2-seed{k}/checkpoint.h5") for k in (0, 1)),
              "each member's checkpoint written")
    check(bridge_gone("sdie.log"), "the dead bridge was reaped (sweep)")

    # ---- other failures during training ----
    for mode, needle in (("error_reply", "non-finite action"), ("garbage", "not JSON")):
        log = f"{mode}.log"
        r = train(f"g_{mode}", ["--steps", "300", "--set", "eval_every=100"], env_for(mode, log))
        one_line_error(r, needle, mode)
        want = "evaluation of step 100" if mode == "error_reply" else "training stopped at step"
        check(want in r.stderr, f"{mode}: the message says {want!r}: {r.stderr!r}")
        check(bridge_gone(log), f"{mode}: the bridge has ended")

    # ---- failures before training: one line, no run directory ----
    cases = [
        ("hello_false", {}, ["--steps", "10"], "NoSuchEnv-v0"),
        ("exit_before_hello", {}, ["--steps", "10"], "exited with status 3"),
        ("hold", {"FAKE_OBS": 11}, ["--steps", "10"], "11-dimensional states"),
        ("hold", {"FAKE_HIGH": 2.0}, ["--steps", "10"], "max_action"),
        ("hold", {"CUIQL_PYTHON": "/nonexistent/python3"}, ["--steps", "10"], "CUIQL_PYTHON"),
        ("hold", {"CUIQL_GYM_BRIDGE": "/nonexistent/gym_bridge.py"}, ["--steps", "10"], "CUIQL_GYM_BRIDGE"),
        ("hold", {}, ["--steps", "10", "--set", "env=pendulum"], "eval_env"),
        ("hold", {}, ["--steps", "10", "--set", "eval_env=gym:"], "gym:"),
        ("hold", {}, ["--steps", "10", "--set", "eval_env=", "--set", "eval_ref_scores=hopper-medium-v2"], "eval_ref_scores"),
    ]
    for i, (mode, extra, args, needle) in enumerate(cases):
        log = f"pre{i}.log"
        e = env_for(mode, log, **extra)
        out = f"g_pre{i}"
        r = train(out, args, e)  # a later --set eval_env overrides the one train() gives
        if one_line_error(r, needle, f"before training ({mode} {extra} {args})"):
            check(not os.path.exists(os.path.join(out, "metrics.csv")), f"{out}: nothing written before the check")
        if log_entries(log):
            check(bridge_gone(log), f"{out}: the bridge has ended")

    # ---- eval_env with a built-in name is `env`: evaluated at once, in the training row ----
    write_dataset("pendulum_shaped.h5", obs=3, act=1)
    r = subprocess.run([BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset",
                        "pendulum_shaped.h5", "--out", "g_builtin", "--device", "cpu", "--threads", "1", "--steps", "100",
                        "--set", "hidden=[16,16]", "--set", "batch_size=32", "--set", "log_every=50",
                        "--set", "eval_every=50", "--set", "eval_episodes=1", "--set", "eval_env=pendulum"],
                       capture_output=True, text=True, timeout=300)
    if check(r.returncode == 0, f"eval_env=pendulum: {r.stderr.strip()}"):
        got = [(int(x["step"]), x["loss/q"] != "", x["eval/return"] != "") for x in rows("g_builtin")]
        check(got == [(50, True, True), (100, True, True)], f"eval_env=pendulum evaluates in the training rows: {got}")
        check("last evaluation in pendulum (1 episode): return" in r.stdout, f"summary names pendulum: {r.stdout[-200:]!r}")

    # ---- SIGINT with an evaluation outstanding: 130, a checkpoint, the bridge ended ----
    p = train("g_int", ["--steps", "10000000", "--set", "log_every=50", "--set", "eval_every=100"],
              env_for("never", "int.log"), popen=True)
    line = p.stdout.readline()
    while line and not line.startswith("step 200"):
        line = p.stdout.readline()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    check(p.returncode == 130 and "interrupted by SIGINT" in err and len(err.strip().splitlines()) == 1,
          f"SIGINT: exit 130 with one line (rc {p.returncode}, {err!r})")
    check(os.path.exists("g_int/checkpoint.h5"), "SIGINT: checkpoint written")
    check(not glob.glob("g_int/eval-*.h5*"), f"SIGINT: no policy files left: {glob.glob('g_int/eval-*')}")
    check(bridge_gone("int.log"), "SIGINT: the bridge has ended")

    return finish("gym_plumbing")


if __name__ == "__main__":
    sys.exit(main())
