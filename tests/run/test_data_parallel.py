"""Data-parallel training on the CPU backend: `mpirun -np 2 cuiql train --data-parallel`.

    test_data_parallel.py DP_ORDERS

1. 2 ranks x B/2 equal 1 process x B after 100 steps (B = 512; value_target td and q; Gaussian
   policy; target critics), within the tolerance dp_orders derives from reordering the rows of
   each batch in one process (see dp_orders.c); a run whose only change is a 1e-4 change of one
   learning rate falls outside it, so the tolerance discriminates. The logged losses match too.
2. Rank 0 alone writes: one config, one metrics row per logged step, one event file, the
   checkpoints; the progress and the summary are printed once.
3. A sweep trained data parallel: each member equals the data-parallel run of that member alone,
   bit for bit (every rank holds the whole population).
4. Resume: a data-parallel run resumed from its checkpoint equals the uninterrupted one, bit
   for bit; a signal to one rank stops every rank after the same step, with a checkpoint.
5. Refusals, one line each: mismatched configs across ranks (each rank compares its resolved
   settings with rank 0's), other data on one rank, a file one rank cannot read, srun without an
   MPI plugin, a batch the ranks do not divide, a rank that fails on its own during training (it
   ends every rank; the last checkpoint stays intact).
6. When a Slurm answers (SLURM_CONF): `srun --mpi=pmix -n 2` gives the mpirun run, bit for bit.

Skips (77) when mpirun is absent; when this build has no MPI, checks that --data-parallel
refuses with one line saying how to build it."""
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
from checks import check, finish
from synthetic import write_learnable_d4rl

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]
DP_ORDERS = sys.argv[1]
CONFIG = os.path.join(SRC, "configs", "seed.yaml")
STEPS = 100
BATCH = 512
# Tiny networks: the test is about the arithmetic of the split, and CI time stays small.
COMMON_SETS = ["hidden=[32,32]", f"batch_size={BATCH}", f"steps={STEPS}", "log_every=50", "target_update_rate=0.005"]


def mpirun_cmd(np_):
    return ["mpirun", "--oversubscribe", "-np", str(np_)]


def env():
    e = dict(os.environ)
    # CI containers run as root; OpenMPI wants both variables to allow it.
    e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    return e


def train_args(out, sets, extra=()):
    args = ["train", "--config", CONFIG, "--dataset", "data.h5", "--out", out, "--device", "cpu", "--threads", "1"]
    for s in sets:
        args += ["--set", s]
    return args + list(extra)


def run1(out, sets, extra=()):
    return subprocess.run([BIN] + train_args(out, sets, extra), capture_output=True, text=True, timeout=300)


def run_dp(out, sets, extra=(), ranks=2):
    cmd = mpirun_cmd(ranks) + [BIN] + train_args(out, sets, list(extra) + ["--data-parallel"])
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env())


def our_lines(text):
    return [l for l in text.splitlines() if l.startswith("cuiql")]


def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        out["@step"] = f.attrs["step"]
    return out


def same_tensors(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def orders(sets, ref, candidates):
    """dp_orders' verdicts, {candidate: (worst_ratio, worst_group, ref_reproduced)}."""
    cmd = [DP_ORDERS, CONFIG, "data.h5", ref] + candidates
    for s in sets:
        cmd += ["--set", s]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        check(False, f"dp_orders runs ({p.stderr.strip()[-300:]})")
        return {}
    out = {}
    for line in p.stdout.splitlines():
        j = json.loads(line)
        out[j["candidate"]] = (j["worst_ratio"], j["worst"], j["ref_reproduced"])
    return out


def write_dataset(path, seed=0):
    write_learnable_d4rl(path, n=3000, seed=seed, terminals=30)


def test_equivalence():
    """1. and 2.: the split equals one process within the summation-order tolerance."""
    for name, extra_sets in [("td", ["value_target=td"]), ("q", ["value_target=q"])]:
        sets = COMMON_SETS + extra_sets
        r1 = run1(f"one_{name}", sets)
        r2 = run_dp(f"dp_{name}", sets)
        ok = check(r1.returncode == 0, f"[{name}] single process trains ({r1.stderr.strip()})")
        ok &= check(r2.returncode == 0, f"[{name}] mpirun -np 2 --data-parallel trains ({r2.stderr.strip()[-500:]})")
        if not ok:
            continue
        # a learning rate off by 1e-4: a real difference the tolerance must catch
        r3 = run1(f"lr_{name}", sets + ["lr_q=1.0001e-3"])
        check(r3.returncode == 0, f"[{name}] perturbed single run trains")
        v = orders(sets, f"one_{name}/checkpoint.h5", [f"dp_{name}/checkpoint.h5", f"lr_{name}/checkpoint.h5"])
        if not v:
            continue
        ratio, group, reproduced = v[f"dp_{name}/checkpoint.h5"]
        check(reproduced, f"[{name}] dp_orders' unpermuted run is the CLI's single-process run, bit for bit")
        check(ratio <= 1.0, f"[{name}] 2 ranks x {BATCH // 2} within the reordering tolerance of 1 x {BATCH} "
                            f"(worst {group}: {ratio:.3g} of the tolerance)")
        print(f"[{name}] 2 ranks vs 1: worst group {group} at {ratio:.3g} of the tolerance")
        ratio_lr, group_lr, _ = v[f"lr_{name}/checkpoint.h5"]
        check(ratio_lr > 1.0, f"[{name}] a 1e-4 change of lr_q falls outside the tolerance ({group_lr}: {ratio_lr:.3g})")

        # The logged losses are the global batch's means: the same as one process's.
        m1, m2 = read_metrics(f"one_{name}"), read_metrics(f"dp_{name}")
        check(len(m2) == STEPS // 50, f"[{name}] rank 0 alone logs: {len(m2)} rows for {STEPS // 50} logged steps")
        if len(m1) == len(m2):
            for tag in ["loss/value", "loss/q", "loss/policy", "adv/mean", "weight/mean"]:
                a = np.array([float(r[tag]) for r in m1])
                b = np.array([float(r[tag]) for r in m2])
                check(np.allclose(a, b, rtol=1e-4, atol=1e-6), f"[{name}] {tag} logged as the global mean: {a} vs {b}")
        # 2. One writer: one event file, the checkpoint, one progress stream, one summary.
        check(len(glob.glob(f"dp_{name}/events.out.tfevents.*")) == 1, f"[{name}] one event file")
        check(r2.stdout.count("done:") == 1, f"[{name}] the summary printed once: {r2.stdout.count('done:')}")
        check(r2.stdout.count("data parallel over 2 ranks") == 1, f"[{name}] the start line names the ranks")
        check(tensors(f"dp_{name}/checkpoint.h5")["@step"] == STEPS, f"[{name}] checkpoint at step {STEPS}")


def test_sweep():
    """3. A population split over the ranks' batch: member m = the member trained alone, data parallel."""
    sets = COMMON_SETS + ["steps=30"]
    rs = run_dp("dp_sweep", sets, ["--sweep", "tau=0.6,0.8"])
    ra = run_dp("dp_tau06", sets + ["tau=0.6"])
    ok = check(rs.returncode == 0 and ra.returncode == 0, f"data-parallel sweep and single member train "
                                                          f"({rs.stderr.strip()[-300:]} {ra.stderr.strip()[-300:]})")
    if ok:
        member = glob.glob("dp_sweep/tau0.6*/checkpoint.h5")
        check(len(member) == 1 and same_tensors(tensors(member[0]), tensors("dp_tau06/checkpoint.h5")),
              "member tau=0.6 of a data-parallel sweep is the data-parallel run of it alone, bit for bit")
        check(len(glob.glob("dp_sweep/*/metrics.csv")) == 2, "one metrics.csv per member, written once")


def test_resume_and_signal():
    """4. Resume and a signal."""
    sets = COMMON_SETS + ["checkpoint_every=50", "log_every=10"]
    full = run_dp("full", sets)
    half = run_dp("half", sets, ["--steps", "50"])
    ok = check(full.returncode == 0 and half.returncode == 0, f"full and half runs ({half.stderr.strip()[-300:]})")
    if ok:
        cmd = mpirun_cmd(2) + [BIN, "train", "--out", "half", "--resume", "--steps", str(STEPS), "--threads", "1",
                               "--quiet", "--data-parallel"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env())
        if check(r.returncode == 0, f"a data-parallel run resumes ({r.stderr.strip()[-300:]})"):
            check(same_tensors(tensors("full/checkpoint.h5"), tensors("half/checkpoint.h5")),
                  "the resumed data-parallel run equals the uninterrupted one, bit for bit")
            steps = [int(row["step"]) for row in read_metrics("half")]
            check(steps == list(range(10, STEPS + 1, 10)), f"metrics.csv holds each step once: {steps}")

    # SIGTERM to rank 1 alone: every rank stops after the same step, rank 0 checkpoints, 130.
    cmd = mpirun_cmd(2) + [BIN] + train_args("signalled", COMMON_SETS + ["log_every=10"],
                                             ["--data-parallel", "--steps", "100000000"])
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
    line = p.stdout.readline()  # one line per log under mpirun, never rewritten in place
    while line and not line.startswith("step"):
        line = p.stdout.readline()
    ranks = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    ranks = sorted(int(x) for x in ranks)
    if check(len(ranks) == 2, f"mpirun started 2 ranks: {ranks}"):
        os.kill(ranks[1], signal.SIGTERM)  # started second: rank 1 (and if not, the check holds anyway)
    out, err = p.communicate(timeout=120)
    check(p.returncode != 0, f"the signalled job exits non-zero (got {p.returncode})")
    ours = our_lines(err)
    check(len(ours) == 1 and "interrupted by SIGTERM" in ours[0], f"one line, from rank 0: {ours}")
    if check(os.path.exists("signalled/checkpoint.h5"), "checkpoint written on the signal"):
        step = int(tensors("signalled/checkpoint.h5")["@step"])
        check(step > 0, f"the checkpoint is at the step every rank stopped after ({step})")


def test_srun():
    """The srun line of the README, when a Slurm is at hand (SLURM_CONF set and answering, e.g. after
    eval "$(tools/slurm-local.sh start)"): bit for bit the mpirun run of the same config."""
    if not shutil.which("srun") or subprocess.run(["sinfo"], capture_output=True).returncode != 0:
        print("data_parallel: no Slurm answering; the srun --mpi=pmix case is left out")
        return
    sets = COMMON_SETS + ["value_target=td"]
    cmd = ["srun", "--mpi=pmix", "-n", "2"] + [BIN] + train_args("srun_td", sets, ["--data-parallel"])
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if check(r.returncode == 0, f"srun --mpi=pmix -n 2 trains ({r.stderr.strip()[-300:]})"):
        check(same_tensors(tensors("srun_td/checkpoint.h5"), tensors("dp_td/checkpoint.h5")),
              "srun's ranks give the mpirun ranks' checkpoint, bit for bit")


def test_refusals():
    """5. One line each; nothing written before training could start."""
    # Mismatched configs: rank 1 trains with another tau (MPMD launch).
    cmd = (mpirun_cmd(1) + [BIN] + train_args("mismatch", COMMON_SETS, ["--data-parallel"]) + [":", "-np", "1", BIN]
           + train_args("mismatch", COMMON_SETS + ["tau=0.9"], ["--data-parallel"]))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env())
    ours = our_lines(r.stderr)
    check(r.returncode != 0, "mismatched configs are refused")
    check(len(ours) == 1 and "rank 1 of 2" in ours[0] and "tau: 0.9" in ours[0] and "tau: 0.7" in ours[0],
          f"one line naming the rank and the setting: {ours}")
    check(not os.path.exists("mismatch"), "nothing written by a refused launch")

    # A different dataset on one rank: its fingerprint differs.
    write_dataset("other.h5", seed=5)
    cmd = (mpirun_cmd(1) + [BIN] + train_args("otherdata", COMMON_SETS, ["--data-parallel"]) + [":", "-np", "1", BIN]
           + train_args("otherdata", COMMON_SETS, ["--data-parallel", "--dataset", "other.h5"]))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env())
    ours = our_lines(r.stderr)
    check(r.returncode != 0 and len(ours) == 1 and "rank 1 of 2" in ours[0] and "fingerprint" in ours[0],
          f"a rank with other data is refused in one line: {ours}")

    # A missing file on one rank only: the ranks agree, rank 0 prints rank 1's line.
    cmd = (mpirun_cmd(1) + [BIN] + train_args("missing", COMMON_SETS, ["--data-parallel"]) + [":", "-np", "1", BIN]
           + train_args("missing", COMMON_SETS, ["--data-parallel", "--dataset", "nowhere.h5"]))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env())
    ours = our_lines(r.stderr)
    check(r.returncode != 0 and len(ours) == 1 and "rank 1 of 2" in ours[0] and "nowhere.h5" in ours[0],
          f"a rank that cannot read its data: one line naming it: {ours}")

    # A task srun started without an MPI plugin (its environment, faked): the hint, not MPI's page.
    e = dict(os.environ, SLURM_STEP_ID="0")
    for k in ["PMIX_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"]:
        e.pop(k, None)
    r = subprocess.run([BIN] + train_args("plain_srun", COMMON_SETS, ["--data-parallel"]), capture_output=True,
                       text=True, timeout=60, env=e)
    ours = our_lines(r.stderr)
    check(r.returncode != 0 and len(ours) == 1 and "srun --mpi=pmix" in ours[0], f"plain srun: the hint in one line: {ours}")

    # A batch the ranks do not divide.
    r = run_dp("uneven", COMMON_SETS + ["batch_size=511"])
    ours = our_lines(r.stderr)
    check(r.returncode != 0 and len(ours) == 1 and "511" in ours[0] and "2 data-parallel ranks" in ours[0],
          f"a batch of 511 over 2 ranks is refused in one line: {ours}")

    # A rank that fails alone once training runs: rank 0 cannot write checkpoint-100.h5 (a
    # directory is in the way). It ends every rank; checkpoint.h5 stays the step-50 one.
    os.makedirs("blocked/checkpoint-100.h5/x", exist_ok=True)
    r = run_dp("blocked", COMMON_SETS + ["checkpoint_every=50"])
    ours = our_lines(r.stderr)
    check(r.returncode != 0, "a failing rank fails the job")
    check(len(ours) == 1 and "rank 0 of 2" in ours[0] and "checkpoint-100.h5" in ours[0],
          f"one line naming the rank and the cause: {ours}")
    if check(os.path.exists("blocked/checkpoint.h5"), "the last checkpoint is there"):
        check(int(tensors("blocked/checkpoint.h5")["@step"]) == 50, "the last checkpoint is intact (step 50)")


def main():
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout
    for d in glob.glob("one_*") + glob.glob("dp_*") + glob.glob("lr_*") + [
            "full", "half", "signalled", "mismatch", "otherdata", "missing", "uneven", "blocked", "nompi",
            "srun_td", "plain_srun"]:
        shutil.rmtree(d, ignore_errors=True)
    write_dataset("data.h5")
    if "built without MPI" in version:
        # Built without MPI: --data-parallel must say how to build it, in one line.
        r = run1("nompi", COMMON_SETS, ["--data-parallel"])
        ours = our_lines(r.stderr)
        check(r.returncode != 0 and len(ours) == 1 and "-DCUIQL_MPI=ON" in ours[0],
              f"without MPI, --data-parallel refuses in one line: {ours}")
        sys.exit(finish("data_parallel (build without MPI)"))
    if not shutil.which("mpirun"):
        print("data_parallel: skipped (no mpirun; tools/install-deps.sh installs OpenMPI)")
        sys.exit(77)
    t0 = time.time()
    test_equivalence()
    test_sweep()
    test_resume_and_signal()
    test_srun()
    test_refusals()
    print(f"data_parallel: {time.time() - t0:.0f} s")
    sys.exit(finish("data_parallel"))


if __name__ == "__main__":
    main()
