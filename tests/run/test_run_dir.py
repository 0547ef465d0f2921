"""Who may write a run directory, and what a resume may change (src/run/run_lock.h,
run_history.h, docs/run-directory.md), through `cuiql train`: a new run never takes over an old
one; --force moves the old one aside; one process per directory; a resume refuses changed
settings and other data, and is recorded; sweep members get exact, unique directories; SIGHUP,
SIGTERM and SIGPIPE end a run with a checkpoint and the exit code of their signal.

Runs the built binary ($CUIQL_BIN) on small datasets this script writes with h5py."""
import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]
HERE = os.getcwd()
SMALL = ["--device", "cpu", "--threads", "1", "--set", "hidden=[16,16]", "--set", "batch_size=32",
         "--set", "log_every=10"]


def write_dataset(path, n=500, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n + 1, 3)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f["observations"] = obs[:-1]
        f["next_observations"] = obs[1:]
        f["actions"] = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        f["rewards"] = rng.normal(size=n).astype(np.float32)
        f["terminals"] = np.zeros(n, bool)


def cuiql(args, cwd=None, **kw):
    return subprocess.run([BIN, "train"] + args, capture_output=True, text=True, cwd=cwd, timeout=120, **kw)


def train(args, **kw):
    return cuiql(["--config", os.path.join(SRC, "configs", "seed.yaml")] + SMALL + args, **kw)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_files(d):
    return {os.path.basename(p): digest(p) for p in glob.glob(os.path.join(d, "*")) if os.path.isfile(p)}


def one_line(r, needle, rc=1):
    lines = r.stderr.strip().splitlines()
    return r.returncode == rc and len(lines) == 1 and needle in r.stderr


def history(d):
    with open(os.path.join(d, "history.log")) as f:
        return [dict([("event", parts[0])] + [kv.split("=", 1) for kv in parts[1:]])
                for parts in (line.rstrip("\n").split("\t") for line in f if not line.startswith("#"))]


def ckpt_step(path):
    with h5py.File(path, "r") as f:
        return int(f.attrs["step"])


def test_new_over_old():
    r = train(["--dataset", "data.h5", "--out", "own", "--steps", "20", "--quiet"])
    check(r.returncode == 0, f"a first run ({r.stderr.strip()})")
    before = run_files("own")
    # Without --resume or --force: refused, and nothing of the old run changes (it used to be
    # replaced and its metrics.csv truncated, exit 0).
    r = train(["--dataset", "data.h5", "--out", "own", "--steps", "30", "--quiet"])
    check(one_line(r, "holds a run already") and "--resume" in r.stderr and "--force" in r.stderr,
          f"a new run over an old one is refused in one line ({r.returncode}: {r.stderr.strip()})")
    check(run_files("own") == before, "the old run's files are untouched")

    # --force: the old run moves to own/replaced-*/ byte for byte; the new one starts at step 0.
    r = train(["--dataset", "data.h5", "--out", "own", "--steps", "30", "--quiet", "--force"])
    check(r.returncode == 0 and "--force: moved" in r.stderr, f"--force starts over, saying so ({r.stderr.strip()})")
    moved = glob.glob("own/replaced-*")
    check(len(moved) == 1 and run_files(moved[0]) == before, f"the old run is in {moved}, every file intact")
    check(ckpt_step("own/checkpoint.h5") == 30, "the new run's checkpoint")
    h = history("own")
    check(len(h) == 1 and h[0]["event"] == "start" and h[0].get("replaced", "").startswith("own/replaced-"),
          f"history.log of the new run records the move: {h}")
    r = train(["--out", "own", "--resume", "--force", "--steps", "40", "--quiet"])
    check(one_line(r, "exclude each other"), f"--resume --force refused ({r.stderr.strip()})")

    # A sweep member's directory holding a run counts too.
    os.makedirs("own_sweep/tau0.7-beta2-seed0")
    shutil.copy("own/config.yaml", "own_sweep/tau0.7-beta2-seed0/config.yaml")
    r = train(["--dataset", "data.h5", "--out", "own_sweep", "--steps", "10", "--quiet", "--sweep", "tau=0.7,0.8"])
    check(one_line(r, "own_sweep/tau0.7-beta2-seed0: holds a run already (config.yaml)"),
          f"a sweep over a member's old run is refused ({r.stderr.strip()})")
    # Unrelated files do not make a directory a run's.
    os.makedirs("notes_dir")
    with open("notes_dir/notes.txt", "w") as f:
        f.write("mine\n")
    r = train(["--dataset", "data.h5", "--out", "notes_dir", "--steps", "10", "--quiet"])
    check(r.returncode == 0 and os.path.exists("notes_dir/notes.txt"), f"a directory of notes takes a run ({r.stderr})")


def test_lock():
    # Two processes on one --out: the second is refused while the first runs (they used to
    # interleave checkpoints and tear metrics.csv lines).
    p = subprocess.Popen([BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "data.h5",
                          "--out", "locked", "--steps", "100000000"] + SMALL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    while line and not line.startswith("step"):
        line = p.stdout.readline()
    r = train(["--dataset", "data.h5", "--out", "locked", "--steps", "10", "--quiet", "--force"])
    check(one_line(r, "in use by another process") and f"pid {p.pid}" in r.stderr,
          f"a second process is refused, naming the first ({r.stderr.strip()})")
    r = cuiql(["--out", "locked", "--resume", "--steps", "100000010", "--quiet", "--threads", "1"])
    check(one_line(r, "in use by another process"), f"a resume while it runs is refused ({r.stderr.strip()})")
    # kill -9 leaves no lock behind: the kernel drops it with the process.
    p.kill()
    p.communicate(timeout=60)
    if os.path.exists("locked/checkpoint.h5"):
        check(False, "no checkpoint was expected before kill -9 (checkpoint_every 0)")
    r = train(["--dataset", "data.h5", "--out", "locked", "--steps", "10", "--quiet", "--force"])
    check(r.returncode == 0, f"after kill -9 the directory is free ({r.stderr.strip()})")


def test_resume_rules():
    r = train(["--dataset", "data.h5", "--out", "res", "--steps", "20", "--quiet"])
    check(r.returncode == 0, f"the run to resume ({r.stderr.strip()})")
    config = digest("res/config.yaml")
    # Settings that shape the trajectory: refused, naming the key and both values; config.yaml
    # is left as it was (it used to be overwritten silently).
    for setting, needle in [("tau=0.9", "tau is 0.9 now but 0.7"), ("batch_size=64", "batch_size is 64 now but 32"),
                            ("lr_q=0.01", "lr_q is 0.01 now but 0.001"), ("seed=3", "seed is 3 now but 0"),
                            ("normalize_states=true", "normalize_states is true now but false")]:
        r = cuiql(["--out", "res", "--resume", "--steps", "40", "--quiet", "--set", setting])
        check(one_line(r, needle) and "res/config.yaml" in r.stderr, f"--resume --set {setting}: {r.stderr.strip()}")
    check(digest("res/config.yaml") == config, "refused resumes leave config.yaml as it was")

    # Other data under the old name (or another file): refused by content.
    write_dataset("data_other.h5", seed=5)
    r = cuiql(["--out", "res", "--resume", "--steps", "40", "--quiet", "--dataset", "data_other.h5"])
    check(one_line(r, "is not the data this run was trained on") and "fingerprint" in r.stderr,
          f"--resume on other data refused ({r.stderr.strip()})")
    # The same data under another name resumes.
    shutil.copy("data.h5", "data_copy.h5")
    r = cuiql(["--out", "res", "--resume", "--steps", "30", "--quiet", "--dataset", "data_copy.h5",
               "--set", "log_every=5", "--threads", "1"])
    check(r.returncode == 0, f"the same data under another name resumes ({r.stderr.strip()})")
    h = history("res")
    check([e["event"] for e in h] == ["start", "resume"], f"history.log: a start, then a resume ({h})")
    if len(h) == 2:
        check(h[1]["step"] == "20" and h[1]["steps"] == "30", f"the resume's steps recorded: {h[1]}")
        check(h[1].get("changed") == "steps:20->30,log_every:10->5", f"what the resume changed: {h[1].get('changed')}")
        check(h[0]["fingerprint"] == h[1]["fingerprint"] and h[0]["dataset"] == os.path.abspath("data.h5"),
              "the dataset is recorded by absolute path and fingerprint")

    # A relative dataset path from config.yaml, resumed from another directory: the recorded
    # absolute path is used (it used to be "not found" without saying where the path came from).
    os.makedirs("elsewhere", exist_ok=True)
    r = cuiql(["--out", os.path.abspath("res"), "--resume", "--steps", "40", "--quiet", "--threads", "1"],
              cwd="elsewhere")
    check(r.returncode == 0 and ckpt_step("res/checkpoint.h5") == 40, f"resumed from another directory ({r.stderr})")
    with open("res/config.yaml") as f:
        check(f'dataset: "{os.path.abspath("data_copy.h5")}"' in f.read(), "config.yaml now holds the absolute path")
    # Without the record (a run of an older cuiql), the message says where the path came from.
    r = train(["--dataset", "data.h5", "--out", "res_old", "--steps", "10", "--quiet"])
    os.remove("res_old/history.log")
    r = cuiql(["--out", os.path.abspath("res_old"), "--resume", "--steps", "20", "--quiet"], cwd="elsewhere")
    check(one_line(r, "from " + os.path.abspath("res_old") + "/config.yaml") and "relative" in r.stderr,
          f"a relative path's origin is named ({r.stderr.strip()})")

    # --steps 0 on a fresh run blames steps, not --resume.
    r = train(["--dataset", "data.h5", "--out", "zero", "--steps", "0", "--quiet"])
    check(one_line(r, "steps: 0 steps to train") and "--resume" not in r.stderr and not os.path.exists("zero"),
          f"--steps 0 ({r.stderr.strip()})")


def test_sweep_names():
    r = train(["--dataset", "data.h5", "--out", "sw", "--steps", "5", "--quiet", "--sweep", "tau=0.5,0.5000001,0.7"])
    dirs = sorted(os.path.basename(d) for d in glob.glob("sw/tau*"))
    check(r.returncode == 0 and dirs == ["tau0.5-beta2-seed0", "tau0.5000001-beta2-seed0", "tau0.7-beta2-seed0"],
          f"close values get exact, distinct directories: {dirs} ({r.stderr.strip()})")
    for d in dirs:
        check(os.path.exists(f"sw/{d}/checkpoint.h5"), f"sw/{d} has its checkpoint")
    r = train(["--dataset", "data.h5", "--out", "sw2", "--steps", "5", "--quiet", "--sweep", "tau=0.5,0.5"])
    check(one_line(r, "--sweep tau: the value 0.5 is given twice"), f"a repeated value is refused ({r.stderr.strip()})")
    r = cuiql(["--out", "sw", "--resume", "--steps", "10", "--quiet", "--sweep", "tau=0.5,0.7"])
    check(one_line(r, "--sweep: differs from the run's"), f"another sweep on resume is refused ({r.stderr.strip()})")


def start_and_wait(out):
    p = subprocess.Popen([BIN, "train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", "data.h5",
                          "--out", out, "--steps", "100000000"] + SMALL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    while line and not line.startswith("step"):
        line = p.stdout.readline()
    return p


def test_signals():
    for sig, name in [(signal.SIGHUP, "SIGHUP"), (signal.SIGTERM, "SIGTERM")]:
        out = f"sig_{name}"
        p = start_and_wait(out)
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        check(p.returncode == 128 + sig, f"{name} exits {128 + sig} (got {p.returncode})")
        check(f"interrupted by {name}" in err and len(err.strip().splitlines()) == 1, f"{name}: one line ({err!r})")
        check(os.path.exists(f"{out}/checkpoint.h5") and ckpt_step(f"{out}/checkpoint.h5") > 0,
              f"{name}: a checkpoint is written (checkpoint_every 0: all progress was lost before)")
    # SIGPIPE: the reader of stdout goes away (`cuiql train ... | head -2`).
    cmd = (f"'{BIN}' train --config '{SRC}/configs/seed.yaml' --dataset data.h5 --out sig_pipe --steps 100000000 "
           + " ".join(SMALL) + " | head -2 >/dev/null; echo rc=${PIPESTATUS[0]} >&2")
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    check(lines[-1:] == ["rc=141"], f"SIGPIPE exits 141 ({r.stderr.strip()})")
    check(len(lines) == 2 and "interrupted by SIGPIPE" in lines[0], f"SIGPIPE: one line on stderr ({lines})")
    check(os.path.exists("sig_pipe/checkpoint.h5"), "SIGPIPE: a checkpoint is written")


def main():
    os.chdir(HERE)
    for d in glob.glob("own*") + glob.glob("locked*") + glob.glob("res*") + glob.glob("sw*") + glob.glob("sig_*") + \
            ["zero", "elsewhere", "notes_dir"]:
        shutil.rmtree(d, ignore_errors=True)
    write_dataset("data.h5")
    test_new_over_old()
    test_lock()
    test_resume_rules()
    test_sweep_names()
    test_signals()
    return finish("run_dir")


if __name__ == "__main__":
    sys.exit(main())
