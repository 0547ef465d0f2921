"""End-to-end tests of `cuiql train` on the CPU: a run directory's contents, falling losses,
bit-identical resume, SIGINT handling, --init-from, sweeps and one-line errors.

Runs the built binary ($CUIQL_BIN) on a small dataset this script writes with h5py."""
import csv
import glob
import os
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH
from synthetic import write_learnable_d4rl

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]


def write_dataset(path, all_terminal=False):
    write_learnable_d4rl(path, n=2000, terminals=20, all_terminal=all_terminal)


def train(args, **kw):
    cmd = [BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--device", "cpu",
           "--threads", "1", "--set", "hidden=[32,32]", "--set", "batch_size=64"] + args
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def read_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return list(csv.DictReader(f))


def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        out["@step"] = f.attrs["step"]
    return out


def main():
    for d in glob.glob("run_*") + ["full", "full2", "half", "killed", "interrupted", "from_init", "sweep"] + glob.glob("bad*"):
        shutil.rmtree(d, ignore_errors=True)
    write_dataset("data.h5")
    # Every step terminal: y = r exactly, so the critics and V face a deterministic regression
    # and their losses must fall well below where they start. β = 0 makes L_π the plain
    # negative log-likelihood of the data (w = 1), which must fall too; with β > 0 the weights
    # exp(β·adv) grow as the advantages spread, and L_π need not fall.
    write_dataset("regression.h5", all_terminal=True)

    # A run directory has everything, and the losses fall and stay finite.
    r = train(["--dataset", "regression.h5", "--out", "run_a", "--steps", "1500", "--set", "log_every=100",
               "--set", "checkpoint_every=500", "--set", "beta=0"])
    check(r.returncode == 0, f"training run exits 0 (got {r.returncode}: {r.stderr.strip()})")
    for name in ["config.yaml", "metrics.csv", "checkpoint.h5", "checkpoint-500.h5", "checkpoint-1000.h5",
                 "checkpoint-1500.h5"]:
        check(os.path.exists(os.path.join("run_a", name)), f"run_a/{name} exists")
    check(len(glob.glob("run_a/events.out.tfevents.*")) == 1, "one TensorBoard event file")
    rows = read_metrics("run_a") if os.path.exists("run_a/metrics.csv") else []
    check(len(rows) == 15, f"15 logged rows (got {len(rows)})")
    if len(rows) == 15:
        for tag in ["loss/value", "loss/q", "loss/policy"]:
            vals = [float(row[tag]) for row in rows]
            check(all(np.isfinite(vals)), f"{tag} finite")
            factor = {"loss/value": 0.5, "loss/q": 0.3, "loss/policy": 0.9}[tag]
            check(np.mean(vals[-3:]) < factor * np.mean(vals[:2]), f"{tag} falls below {factor}x: {vals[:2]} -> {vals[-3:]}")
        for tag in ["lr/policy", "value/mean", "q/mean", "adv/mean", "weight/mean", "weight/clipped_fraction",
                    "train/steps_per_s"]:
            check(rows[-1].get(tag, "") != "", f"{tag} logged")
    if os.path.exists("run_a/checkpoint.h5"):
        t = tensors("run_a/checkpoint.h5")
        check(t["@step"] == 1500, "final checkpoint at step 1500")
        check(t["policy/layer0/weight"].shape == (32, 4) and t["q1/layer0/weight"].shape == (32, 6),
              "nn.Linear shapes [out, in]")

    # Resume: 20 + 20 steps end bit-identical to 40 uninterrupted steps (weights and moments).
    common = ["--dataset", "data.h5", "--set", "log_every=10", "--quiet"]
    r1 = train(common + ["--out", "full", "--steps", "40"])
    r2 = train(common + ["--out", "half", "--steps", "20"])
    r3 = subprocess.run([BIN, "train", "--out", "half", "--resume", "--steps", "40", "--quiet", "--threads", "1"],
                        capture_output=True, text=True)
    check(r1.returncode == 0 and r2.returncode == 0 and r3.returncode == 0,
          f"resume runs exit 0 ({r1.stderr.strip()} {r2.stderr.strip()} {r3.stderr.strip()})")
    if r3.returncode == 0:
        a, b = tensors("full/checkpoint.h5"), tensors("half/checkpoint.h5")
        check(a.keys() == b.keys(), "same tensors after resume")
        diff = [k for k in a if not np.array_equal(a[k], b[k])]
        check(not diff, f"resumed run bit-identical to the uninterrupted one (differ: {diff[:5]})")
        check(len(read_metrics("half")) == 4, "resumed metrics.csv has rows 10..40 once each")
    # The same run twice gives the same checkpoint, byte for byte (no timestamps in the file).
    r4 = train(common + ["--out", "full2", "--steps", "40"])
    if r1.returncode == 0 and r4.returncode == 0:
        with open("full/checkpoint.h5", "rb") as f1, open("full2/checkpoint.h5", "rb") as f2:
            check(f1.read() == f2.read(), "two identical runs write byte-identical checkpoints")

    # A run killed after logging past its last checkpoint: the resumed run keeps the rows and
    # events up to the checkpoint's step, in metrics.csv and in the earlier event file alike.
    p = subprocess.Popen([BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "data.h5",
                          "--out", "killed", "--steps", "100000", "--device", "cpu", "--threads", "1",
                          "--set", "log_every=10", "--set", "checkpoint_every=50", "--set", "hidden=[32,32]",
                          "--set", "batch_size=64"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = 0
    for line in p.stdout:
        if line.startswith("step "):
            last = int(line.split()[1].split("/")[0])
            if last >= 70 and last % 50 != 0:
                break
    p.kill()
    p.communicate(timeout=60)
    ckpt_step = int(tensors("killed/checkpoint.h5")["@step"]) if os.path.exists("killed/checkpoint.h5") else -1
    check(ckpt_step >= 50 and ckpt_step < last, f"killed after logging past its checkpoint (step {last}, checkpoint {ckpt_step})")
    old_events = glob.glob("killed/events.out.tfevents.*")
    r = subprocess.run([BIN, "train", "--out", "killed", "--resume", "--steps", str(ckpt_step + 20), "--quiet",
                        "--threads", "1"], capture_output=True, text=True)
    check(r.returncode == 0, f"the killed run resumes ({r.stderr.strip()})")
    steps = [int(row["step"]) for row in read_metrics("killed")]
    check(steps == list(range(10, ckpt_step + 21, 10)), f"metrics.csv holds each step once, in order: {steps}")
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    for path in old_events:
        logged = [e.step for e in EventFileLoader(path).Load() if e.HasField("summary")]
        check(logged and max(logged) == ckpt_step, f"{path} cut back to the checkpoint's step: {logged[-3:]}")

    # SIGINT: the step finishes, a checkpoint is written, the exit is non-zero with one line.
    p = subprocess.Popen([BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "data.h5",
                          "--out", "interrupted", "--steps", "10000000", "--device", "cpu", "--threads", "1",
                          "--set", "log_every=50", "--set", "hidden=[32,32]", "--set", "batch_size=64"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()  # the header line: training has started
    while line and not line.startswith("step"):
        line = p.stdout.readline()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    check(p.returncode == 130, f"SIGINT exits 130 (got {p.returncode})")
    check("interrupted by SIGINT" in err and len(err.strip().splitlines()) == 1, f"one line on SIGINT: {err!r}")
    if os.path.exists("interrupted/checkpoint.h5"):
        check(tensors("interrupted/checkpoint.h5")["@step"] > 0, "checkpoint written on SIGINT")
    else:
        check(False, "checkpoint written on SIGINT")

    # --init-from a weights-only file that a user wrote with h5py: starts at step 0.
    rng = np.random.default_rng(3)
    with h5py.File("init.h5", "w") as f:
        for net, (inp, out) in {"policy": (4, 2), "value": (4, 1), "q1": (6, 1), "q2": (6, 1)}.items():
            sizes = [inp, 32, 32, out]
            for i in range(3):
                f[f"{net}/layer{i}/weight"] = rng.uniform(-0.1, 0.1, (sizes[i + 1], sizes[i])).astype(np.float32)
                f[f"{net}/layer{i}/bias"] = np.zeros(sizes[i + 1], np.float32)
        f["policy/log_std"] = np.zeros(2, np.float32)
    r = train(common + ["--out", "from_init", "--steps", "5", "--init-from", "init.h5"])
    check(r.returncode == 0, f"--init-from a hand-written file works ({r.stderr.strip()})")
    if r.returncode == 0:
        t = tensors("from_init/checkpoint.h5")
        check(t["@step"] == 5, "--init-from starts at step 0")
        check(np.abs(t["q1_target/layer0/weight"] - t["q1/layer0/weight"]).max() == 0, "targets copy the critics (rho=1)")

    # A sweep trains every member in one process, each in its own directory.
    r = train(common + ["--out", "sweep", "--steps", "10", "--sweep", "tau=0.6,0.9", "--sweep", "seed=0,1"])
    check(r.returncode == 0, f"sweep runs ({r.stderr.strip()})")
    for name in ["tau0.6-beta2-seed0", "tau0.6-beta2-seed1", "tau0.9-beta2-seed0", "tau0.9-beta2-seed1"]:
        check(os.path.exists(f"sweep/{name}/checkpoint.h5") and os.path.exists(f"sweep/{name}/metrics.csv"),
              f"sweep member {name} has its checkpoint and metrics")
    if r.returncode == 0:
        with h5py.File("sweep/tau0.9-beta2-seed1/checkpoint.h5") as f:
            check(abs(f.attrs["tau"] - 0.9) < 1e-12 and f.attrs["seed"] == 1, "member checkpoint records tau and seed")
        # --resume rebuilds the same population from sweep.txt and continues every member.
        r = subprocess.run([BIN, "train", "--out", "sweep", "--resume", "--steps", "20", "--quiet", "--threads", "1"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"a sweep resumes ({r.stderr.strip()})")
        steps = [tensors(f"sweep/{m}/checkpoint.h5")["@step"] for m in ["tau0.6-beta2-seed0", "tau0.9-beta2-seed1"]]
        check(steps == [20, 20], f"every member continued to step 20 ({steps})")

    # Bad input: one line that says what and where, non-zero exit, nothing crashes.
    cases = [
        (["--dataset", "data.h5", "--out", "bad1", "--set", "no_such_key=1"], "no_such_key"),
        (["--dataset", "missing.h5", "--out", "bad2"], "missing.h5"),
        (["--dataset", "data.h5", "--out", "bad3", "--set", "tau=1.5"], "tau"),
        (["--dataset", "data.h5", "--out", "bad4", "--set", "hidden=[32,32]", "--init-from", "missing_ckpt.h5"],
         "missing_ckpt.h5"),
        (["--dataset", "data.h5", "--out", "bad5", "--sweep", "gamma=1,2"], "--sweep"),
        (["--dataset", "data.h5", "--out", "bad8", "--set", "env=nosuch", "--steps", "100000"], "nosuch"),
        (["--dataset", "data.h5", "--out", "bad9", "--set", "env=pendulum", "--steps", "100000"], "pendulum"),
    ]
    for args, needle in cases:
        r = train(args)
        lines = r.stderr.strip().splitlines()
        check(r.returncode not in (0, -11, -6) and len(lines) == 1 and needle in r.stderr,
              f"{args[-1]}: one-line error naming {needle!r} (rc {r.returncode}, stderr {r.stderr!r})")
    r = subprocess.run([BIN, "train", "--config", "data.h5", "--out", "bad6"], capture_output=True, text=True)
    check(r.returncode == 1 and "data.h5" in r.stderr, f"a config that is not YAML is refused ({r.stderr.strip()})")
    r = train(["--dataset", "data.h5", "--out", "bad7", "--device", "cuda", "--steps", "1"])
    check(r.returncode == 1 and "cuda" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
          f"--device cuda without a GPU: one line ({r.stderr.strip()})")

    return finish("train_cli")


if __name__ == "__main__":
    sys.exit(main())
