"""End-to-end tests of sweeps on the CPU: the results table, `cuiql sweep-report`, the heatmap,
and the same sweep trained whole, sharded by --shard, by Slurm array variables set by hand and by
`mpirun -np 2` (when OpenMPI is installed), in memory groups, killed and resumed, one member
alone: every member's checkpoint byte-identical to the whole sweep's, every report equal.

A sweep of 8 members (tau 0.6,0.9 x beta 1,3 x seed 0,1) on a small built-in pendulum dataset."""
import csv
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]
AXES = ["--sweep", "tau=0.6,0.9", "--sweep", "beta=1,3", "--sweep", "seed=0,1"]
MEMBERS = [f"tau{t}-beta{b}-seed{s}" for t in ("0.6", "0.9") for b in ("1", "3") for s in ("0", "1")]
# The launchers' variables this test sets itself: none may leak in from the environment it runs in.
LAUNCH_VARS = re.compile(r"^(OMPI_|PMI_|PMIX_|MPI_LOCALRANKID|SLURM_)")


def env(**extra):
    e = {k: v for k, v in os.environ.items() if not LAUNCH_VARS.match(k)}
    e.update(extra)
    return e


def train(out, steps=60, extra=(), axes=AXES, environ=None, **kw):
    cmd = [BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "pend.h5",
           "--out", out, "--steps", str(steps), "--device", "cpu", "--threads", "1",
           "--set", "hidden=[16,16]", "--set", "batch_size=32", "--set", "log_every=10",
           "--set", "eval_every=30", "--set", "eval_episodes=1", "--set", "env=pendulum"] + list(axes) + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, env=environ or env(), **kw)


def report(d):
    return subprocess.run([BIN, "sweep-report", d], capture_output=True, text=True, env=env())


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def same_members(d, ref="full", members=MEMBERS):
    """Every member's checkpoint in d byte-identical to the whole sweep's."""
    differ = [m for m in members if not (os.path.exists(f"{d}/{m}/checkpoint.h5") and
                                         same_bytes(f"{d}/{m}/checkpoint.h5", f"{ref}/{m}/checkpoint.h5"))]
    return check(not differ, f"{d}: every member byte-identical to the whole sweep's (differ: {differ})")


def same_report(d, ref="full"):
    r = report(d)
    if not check(r.returncode == 0, f"sweep-report {d} ({r.stderr.strip()})"):
        return
    check(open(f"{d}/summary.csv").read() == open(f"{ref}/summary.csv").read(), f"{d}/summary.csv equals {ref}'s")
    body = lambda p: open(p).read().split("\n", 1)[1]  # the first line names the directory
    check(body(f"{d}/summary.md") == body(f"{ref}/summary.md"), f"{d}/summary.md equals {ref}'s")


def one_line_error(r, needle, what):
    lines = [l for l in r.stderr.strip().splitlines() if not l.startswith("cuiql: note:")]  # notes come before
    check(r.returncode == 1 and len(lines) == 1 and needle in r.stderr,
          f"{what}: one line naming {needle!r} (rc {r.returncode}: {r.stderr!r})")


def test_whole_sweep():
    r = train("full")
    if not check(r.returncode == 0, f"the whole sweep trains ({r.stderr.strip()})"):
        return False
    out = r.stdout
    # the results table: every member at both evaluations, with its settings and losses
    table = rows("full/sweep.csv")
    check(len(table) == 16 and {t["name"] for t in table} == set(MEMBERS), f"sweep.csv: 16 rows ({len(table)})")
    check(all(t["return"] and t["loss_q"] and t["normalized_score"] for t in table), "returns, scores, losses filled")
    by = {(t["name"], int(t["step"])): t for t in table}
    check(by[("tau0.9-beta3-seed1", 60)]["tau"] == "0.9" and by[("tau0.9-beta3-seed1", 60)]["seed"] == "1",
          "a row carries its member's tau and seed")
    # the progress line's eval/return is the mean over the members, and names the best so far
    for step in (30, 60):
        m = re.search(rf"step {step}/60 .*eval/return (-?[\d.]+) \(mean of 8\)\s+best so far: (\S+) (-?[\d.]+)", out)
        if not check(m, f"progress line at step {step} gives the members' mean and the best so far:\n{out}"):
            continue
        returns = {name: float(by[(name, step)]["return"]) for name in MEMBERS}
        check(abs(float(m.group(1)) - np.mean(list(returns.values()))) < 0.06,
              f"step {step}: printed mean {m.group(1)} = the members' mean {np.mean(list(returns.values())):.2f}")
        best = max(returns, key=returns.get)
        check(m.group(2) == best, f"step {step}: best so far {m.group(2)}, want {best}")
    check("8 members on CPU" in out and "sweep of 8 members (tau 2 x beta 2 x seed 2)" in out, f"start lines:\n{out}")
    # the checkpoint path printed at the end is where the checkpoints are
    m = re.search(r"checkpoints: (\S+) for each of 8 members", out)
    if check(m, f"the end names the checkpoints:\n{out}"):
        check(all(os.path.exists(m.group(1).replace("<member>", name)) for name in MEMBERS),
              f"{m.group(1)} with each member's name exists")
    check(all(f"eval pendulum {name}: return" in out for name in MEMBERS), "the end lists every member's return")
    # top-level files: the swept values, not the base's, and every member's directory
    cfg = open("full/config.yaml").read()
    check(not re.search(r"^(tau|beta|seed):", cfg, re.M), f"config.yaml shows no base tau/beta/seed:\n{cfg}")
    check("# tau: swept over 0.6, 0.9" in cfg and "# beta: swept over 1, 3" in cfg and
          "# seed: swept over 0, 1" in cfg, "config.yaml names the swept values")
    check(re.search(r"^batch_seed: 0$", cfg, re.M), "with the seed swept, the shared batch seed is written out")
    listed = rows("full/members.csv")
    check([t["name"] for t in listed] == MEMBERS and all(os.path.isdir(f"full/{t['name']}") for t in listed),
          "members.csv lists every member's directory, in the cross product's order")
    return True


def test_report():
    r = report("full")
    check(r.returncode == 0, f"sweep-report runs ({r.stderr.strip()})")
    for name in ("summary.md", "summary.csv"):
        check(os.path.exists(f"full/{name}"), f"full/{name} written")
    if r.returncode:
        return
    # the summary against the table, recomputed here: per (tau, beta), over seeds, final and best
    table = rows("full/sweep.csv")
    summary = rows("full/summary.csv")
    check(len(summary) == 4 and [int(s["rank"]) for s in summary] == [1, 2, 3, 4], "4 cells ranked 1..4")
    finals = [float(s["final_return_mean"]) for s in summary]
    check(finals == sorted(finals, reverse=True), f"ranked by the final mean: {finals}")
    for s in summary:
        mine = [t for t in table if t["tau"] == s["tau"] and t["beta"] == s["beta"]]
        final = [float(t["return"]) for t in mine if t["step"] == "60"]
        best = [max(float(t["return"]) for t in mine if t["seed"] == seed) for seed in ("0", "1")]
        check(int(s["seeds"]) == 2 and int(s["seeds_expected"]) == 2, "2 seeds per cell")
        check(abs(float(s["final_return_mean"]) - np.mean(final)) < 1e-6 * abs(np.mean(final)) and
              abs(float(s["final_return_std"]) - np.std(final, ddof=1)) < 1e-6 * max(1, np.std(final)),
              f"tau {s['tau']} beta {s['beta']}: final {s['final_return_mean']} ± {s['final_return_std']}")
        check(abs(float(s["best_return_mean"]) - np.mean(best)) < 1e-6 * abs(np.mean(best)), "best mean")
    top = summary[0]
    check(f"**Best: tau {top['tau']}, beta {top['beta']}**" in r.stdout and "above the runner-up" in r.stdout and
          "8 of 8 members evaluated, all at the last step, 60" in r.stdout, f"the headline says who won:\n{r.stdout}")
    # the heatmap: tools/plot.py on a sweep directory draws it; its numbers are the report's
    r = subprocess.run([sys.executable, os.path.join(SRC, "tools", "plot.py"), "full"], capture_output=True, text=True)
    check(r.returncode == 0 and os.path.getsize("full/sweep.png") > 10000, f"plot.py draws full/sweep.png ({r.stderr})")
    r = subprocess.run([sys.executable, os.path.join(SRC, "tools", "sweep_plot.py"), "full", "--print"],
                       capture_output=True, text=True)
    grid = {}
    for line in r.stdout.splitlines():
        t, b, v = line.split()
        grid[(t, b)] = float(v)
    want = {(s["tau"], s["beta"]): float(s["final_return_mean"]) for s in summary}
    check(grid.keys() == want.keys() and all(abs(grid[k] - want[k]) < 1e-6 * abs(want[k]) for k in want),
          f"the heatmap's cells are the report's final means: {grid} vs {want}")


def test_shards():
    # --shard I/N by hand, one process after another
    for i in range(2):
        r = train("by_flag", extra=["--shard", f"{i}/2", "--quiet"])
        check(r.returncode == 0, f"--shard {i}/2 ({r.stderr.strip()})")
    check(sorted(os.listdir("by_flag")) == sorted(MEMBERS + ["config.yaml", "sweep.txt", "members.csv", "history.log",
                                                             "sweep-shard-0-of-2.csv", "sweep-shard-1-of-2.csv",
                                                             ".cuiql-shard-0-of-2.lock", ".cuiql-shard-1-of-2.lock"]),
          f"by_flag holds every member and each shard's table: {sorted(os.listdir('by_flag'))}")
    check(len(rows("by_flag/sweep-shard-1-of-2.csv")) == 8 and
          {t["name"] for t in rows("by_flag/sweep-shard-1-of-2.csv")} == set(MEMBERS[1::2]),
          "shard 1/2 holds the odd members")
    same_members("by_flag")
    same_report("by_flag")
    # a shard is a run directory's writer like any run (docs/run-directory.md): the same shard
    # again is refused, a shard of another sweep over this one is refused, --force is refused
    r = train("by_flag", extra=["--shard", "0/2", "--quiet"])
    check(r.returncode == 1 and "holds a run already" in r.stderr, f"shard 0/2 again is refused: {r.stderr!r}")
    r = train("by_flag", extra=["--shard", "0/3", "--quiet"], axes=["--sweep", "tau=0.5,0.9"])
    check(r.returncode == 1 and "not this sweep's sibling shards'" in r.stderr,
          f"a shard of another sweep is refused: {r.stderr!r}")
    r = train("by_flag", extra=["--shard", "0/2", "--quiet", "--force"])
    check(r.returncode == 1 and "sibling shards' files" in r.stderr, f"--force with a shard is refused: {r.stderr!r}")

    # Slurm array variables set by hand: three tasks, run at once as an array would
    procs = []
    for i in range(3):
        e = env(SLURM_ARRAY_JOB_ID="41", SLURM_ARRAY_TASK_ID=str(i), SLURM_ARRAY_TASK_COUNT="3",
                SLURM_ARRAY_TASK_MIN="0", SLURM_ARRAY_TASK_MAX="2", SLURM_ARRAY_TASK_STEP="1", SLURM_JOB_ID=str(41 + i),
                SLURM_PROCID="0", SLURM_NTASKS="1", SLURM_LOCALID="0")
        cmd = [BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "pend.h5", "--out",
               "by_slurm", "--steps", "60", "--device", "cpu", "--threads", "1", "--set", "hidden=[16,16]",
               "--set", "batch_size=32", "--set", "log_every=10", "--set", "eval_every=30", "--set",
               "eval_episodes=1", "--set", "env=pendulum"] + AXES
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e))
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=600)
        check(p.returncode == 0, f"array task {i} ({err.strip()})")
        check(f"shard {i}/3 (SLURM_ARRAY_TASK_ID): {len(MEMBERS[i::3])} of them" in out, f"task {i} says its shard:\n{out}")
    same_members("by_slurm")
    same_report("by_slurm")

    # mpirun -np 2: each rank takes the shard of its rank (OpenMPI's variables)
    mpirun = shutil.which("mpirun")
    if not mpirun:
        print("NOTE mpirun not found (Debian: apt-get install openmpi-bin): the mpirun case is skipped")
        return
    e = env(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = [mpirun, "--oversubscribe", "-np", "2", BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"),
           "--dataset", "pend.h5", "--out", "by_mpi", "--steps", "60", "--device", "cpu", "--threads", "1",
           "--set", "hidden=[16,16]", "--set", "batch_size=32", "--set", "log_every=10", "--set", "eval_every=30",
           "--set", "eval_episodes=1", "--set", "env=pendulum"] + AXES
    r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)
    check(r.returncode == 0, f"mpirun -np 2 ({r.stderr.strip()[-2000:]})")
    check("shard 0/2 (mpirun (OpenMPI))" in r.stdout and "shard 1/2 (mpirun (OpenMPI))" in r.stdout,
          f"each rank says its shard:\n{r.stdout}")
    same_members("by_mpi")
    same_report("by_mpi")
    # with --data-parallel the ranks are the run's, not shards: one population, every member
    r = subprocess.run(cmd[:cmd.index("--out") + 1] + ["dp_sweep"] + cmd[cmd.index("--out") + 2:] + ["--data-parallel"],
                       capture_output=True, text=True, env=e, timeout=600)
    if "data parallel" in subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout:
        table = rows("dp_sweep/sweep.csv") if os.path.exists("dp_sweep/sweep.csv") else []
        check(r.returncode == 0 and "data parallel over 2 ranks" in r.stdout and "shard" not in r.stdout and
              len(table) == 16 and not [n for n in os.listdir("dp_sweep") if n.startswith("sweep-shard-")],
              f"--data-parallel sweep under mpirun: one population of 8, not shards ({r.stderr.strip()[-1500:]}):\n"
              f"{r.stdout[-1500:]}")


def test_groups_and_alone():
    # memory groups: a budget of 2.5 members' worth (from the refusal's own numbers) -> 4 groups of 2
    r = train("nofit", extra=["--memory-budget", "1K"])
    one_line_error(r, "out of memory: at batch_size 32 and hidden [16,16] one member needs", "a budget below one member")
    m = re.search(r"one member needs ([\d.]+) (KiB|MiB)", r.stderr)
    if not check(m, f"the refusal gives the numbers: {r.stderr!r}"):
        return
    budget = int(float(m.group(1)) * {"KiB": 1024, "MiB": 1 << 20}[m.group(2)] * 2.5)
    r = train("grouped", extra=["--memory-budget", str(budget)])
    check(r.returncode == 0 and "training 4 groups of up to 2 members one after another" in r.stdout,
          f"4 groups of 2, said on one line ({r.stderr.strip()}):\n{r.stdout[:800]}")
    same_members("grouped")
    key = lambda t: (t["name"], t["step"], t["return"])
    check(sorted(map(key, rows("grouped/sweep.csv"))) == sorted(map(key, rows("full/sweep.csv"))),
          "grouped: the same results table")
    # one member alone is the same member as in the whole sweep
    r = train("alone", axes=["--sweep", "tau=0.9", "--sweep", "beta=3", "--sweep", "seed=1"], extra=["--quiet"])
    check(r.returncode == 0, f"a one-member sweep ({r.stderr.strip()})")
    same_members("alone", members=["tau0.9-beta3-seed1"])


def test_kill_and_resume():
    # a sweep killed mid-way keeps its table; the report works on it; --resume finishes it as if
    # never stopped (the whole sweep at 120 steps for reference)
    r = train("ref120", steps=120, extra=["--quiet", "--set", "checkpoint_every=30"])
    check(r.returncode == 0, f"reference sweep ({r.stderr.strip()})")
    cmd = [BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "pend.h5",
           "--out", "killed", "--steps", "1000000", "--device", "cpu", "--threads", "1", "--set", "hidden=[16,16]",
           "--set", "batch_size=32", "--set", "log_every=10", "--set", "eval_every=30", "--set", "eval_episodes=1",
           "--set", "env=pendulum", "--set", "checkpoint_every=30"] + AXES
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    for line in p.stdout:
        m = re.match(r"step (\d+)/", line)
        if m and int(m.group(1)) >= 70:
            break
    p.kill()
    p.communicate(timeout=60)
    table = rows("killed/sweep.csv")
    steps = sorted({int(t["step"]) for t in table})
    check(len(table) >= 16 and steps[:2] == [30, 60], f"the killed sweep's table holds its evaluations: {steps}")
    r = report("killed")
    check(r.returncode == 0 and "0 at the last step, 1000000" in r.stdout and "still running" in r.stdout,
          f"sweep-report on a killed (or running) sweep ({r.stderr.strip()}):\n{r.stdout[:600]}")
    r = subprocess.run([BIN, "train", "--out", "killed", "--resume", "--steps", "120", "--quiet", "--threads", "1"],
                       capture_output=True, text=True, env=env())
    check(r.returncode == 0, f"the killed sweep resumes ({r.stderr.strip()})")
    same_members("killed", ref="ref120")
    key = lambda t: (t["name"], t["step"], t["return"])
    got = sorted(map(key, rows("killed/sweep.csv")))
    check(got == sorted(map(key, rows("ref120/sweep.csv"))), f"the resumed table equals the reference: {got[-3:]}")

    # a sharded sweep partly done: shard 0 stopped at step 30, shard 1 never started; resuming
    # each shard continues its own checkpoints (shard 1 from step 0)
    r = train("partial", steps=30, extra=["--shard", "0/2", "--quiet"])
    check(r.returncode == 0, f"shard 0 to step 30 ({r.stderr.strip()})")
    for i in range(2):
        r = subprocess.run([BIN, "train", "--out", "partial", "--resume", "--steps", "60", "--quiet", "--threads", "1",
                            "--shard", f"{i}/2"], capture_output=True, text=True, env=env())
        check(r.returncode == 0, f"shard {i}/2 resumes ({r.stderr.strip()})")
    same_members("partial")
    same_report("partial")
    # members at different steps (even ones finished by shard 0/2, odd ones stopped at step 30 by
    # shard 1/2) resumed by one process: members at one step train together, finished ones not
    r = train("mixed", extra=["--shard", "0/2", "--quiet"])
    r2 = train("mixed", steps=30, extra=["--shard", "1/2", "--quiet"])
    check(r.returncode == 0 and r2.returncode == 0, f"mixed: shards to steps 60 and 30 ({r.stderr}{r2.stderr})")
    r = subprocess.run([BIN, "train", "--out", "mixed", "--resume", "--steps", "60", "--threads", "1"],
                       capture_output=True, text=True, env=env())
    groups = re.findall(r"^group \d+/8: 1 member, (\S+) to \S+; steps 30\.\.60$", r.stdout, re.M)
    check(r.returncode == 0 and groups == MEMBERS[1::2] and "steps 0..60" not in r.stdout and
          all(f"eval pendulum {name}: return" in r.stdout for name in MEMBERS),
          f"mixed steps resume in groups of one step each ({r.stderr.strip()}):\n{r.stdout[:1500]}")
    same_members("mixed")
    same_report("mixed")
    # done shards resubmitted (an array run again): nothing to do, not a failure
    r = subprocess.run([BIN, "train", "--out", "partial", "--resume", "--steps", "60", "--threads", "1",
                        "--shard", "1/2"], capture_output=True, text=True, env=env())
    check(r.returncode == 0 and "already at step 60" in r.stdout, f"a finished shard resumed: rc {r.returncode} "
          f"{r.stdout.strip()} {r.stderr.strip()}")


def test_progress_and_errors():
    # a line at least every --progress-every seconds, even when log_every is far away
    r = train("heartbeat", steps=400, extra=["--progress-every", "0.02", "--set", "log_every=400",
                                             "--set", "eval_every=0"])
    check(r.returncode == 0 and "(the next log is at step 400)" in r.stdout, f"heartbeat lines:\n{r.stdout[:600]}")
    # a sweep without an evaluation environment: the table has the final losses; no ranking
    r = train("noeval", steps=20, extra=["--set", "env=", "--quiet"])
    check(r.returncode == 0 and len(rows("noeval/sweep.csv")) == 8 and rows("noeval/sweep.csv")[0]["loss_q"],
          "without env: the final losses in sweep.csv")
    one_line_error(report("noeval"), "no member has an evaluation", "sweep-report without evaluations")
    one_line_error(report("heartbeat/tau0.6-beta1-seed0"), "not a sweep", "sweep-report on a member's directory")
    one_line_error(train("bad1", extra=["--shard", "2/2"]), "--shard", "--shard 2/2")
    one_line_error(train("bad2", axes=[], extra=["--shard", "0/2"]), "only a sweep", "--shard without a sweep")
    r = train("bad3", environ=env(SLURM_ARRAY_TASK_ID="x", SLURM_ARRAY_TASK_COUNT="3"))
    one_line_error(r, "SLURM_ARRAY_TASK_ID", "a bad array variable")
    r = train("empty_shard", extra=["--shard", "9/10"])
    check(r.returncode == 0 and "has no members" in r.stdout, f"a shard beyond the members: exit 0 ({r.stdout})")


def main():
    for d in ["full", "by_flag", "by_slurm", "by_mpi", "dp_sweep", "nofit", "grouped", "alone", "ref120", "killed", "partial", "mixed",
              "heartbeat", "noeval", "bad1", "bad2", "bad3", "empty_shard"]:
        shutil.rmtree(d, ignore_errors=True)
    r = subprocess.run([BIN, "gen", "--env", "pendulum", "--behavior", "mixed", "--episodes", "10", "--out", "pend.h5"],
                       capture_output=True, text=True)
    if not check(r.returncode == 0, f"dataset ({r.stderr.strip()})"):
        return finish("sweep_cli")
    t0 = time.time()
    if test_whole_sweep():
        test_report()
        test_shards()
        test_groups_and_alone()
        test_kill_and_resume()
    test_progress_and_errors()
    print(f"sweep_cli: {time.time() - t0:.0f} s")
    return finish("sweep_cli")


if __name__ == "__main__":
    sys.exit(main())
