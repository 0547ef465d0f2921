"""cases.py — the hostile inputs: what a tester who wants cuiql to crash, hang or lose data
tries, one row each. tests/hostile/hostile.py runs them and keeps the tally.

A case is a dict:
  name     unique, short
  group    data | config | cli | run | signal | disk | checkpoint
  setup    f() run in the case's own empty directory, making its inputs (may return a state
           dict that `after` gets)
  cmd      the arguments after the cuiql binary, or `shell`: a bash line with {bin}
  expect   ("refuse", [substrings of the one-line error]) or ("ok",) or ("rc", N, [substrings])
  after    f(state) -> None, or what was lost (a run's files changed, a checkpoint missing...)
  signal   (signal, after_first_step): sent once the run prints its first progress line
  loss     accepting it silently would lose data (counted as lost, not only as unclear)
  timeout  seconds before the case counts as a hang (default 60)
  skip     f() -> None, or why the case cannot run here
"""
import hashlib
import os
import shutil
import signal
import subprocess

import h5py
import numpy as np

import inputs as mk

SRC = os.environ.get("CUIQL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = os.path.join(SRC, "configs", "seed.yaml")
SMALL = ["--device", "cpu", "--threads", "1", "--set", "hidden=[16,16]", "--set", "batch_size=32", "--quiet"]
TRAIN = ["train", "--config", SEED] + SMALL
BASE = None  # the directory of the shared inputs, set by hostile.py


def base(name):
    return os.path.join(BASE, name)


def digest_dir(d):
    out = {}
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        if os.path.isfile(p) and name != ".cuiql.lock":
            with open(p, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def copy_run(name="run"):
    """A finished 20-step run of base data.h5, to be misused; returns its digests."""
    shutil.copytree(base("run"), name)
    shutil.copy(base("data.h5"), "data.h5")
    return {"dir": name, "files": digest_dir(name)}


def unchanged(state):
    now = digest_dir(state["dir"])
    changed = [k for k in state["files"] if now.get(k) != state["files"][k]]
    return f"{state['dir']}: {', '.join(changed)} changed" if changed else None


def checkpoint_at_least(path, step):
    def after(state):
        if not os.path.exists(path):
            return f"{path} missing: the run's progress is lost"
        with h5py.File(path, "r") as f:
            got = int(f.attrs["step"])
        return None if got >= step else f"{path} at step {got}, expected >= {step}"
    return after


def metrics_whole(path):
    """Every row of metrics.csv has the header's number of cells (no torn or interleaved line)."""
    def after(state):
        if not os.path.exists(path):
            return f"{path} missing"
        with open(path) as f:
            rows = [line.rstrip("\n").split(",") for line in f]
        bad = [i for i, r in enumerate(rows) if len(r) != len(rows[0])]
        return f"{path}: torn rows {bad[:5]}" if bad else None
    return after


def is_root_with_mount():
    if os.geteuid() != 0 or not shutil.which("mount"):
        return "needs root and mount for a small tmpfs"
    return None


def fsize_limit(kb):
    """bash prefix: a file size limit, so writes past it fail as on a full disk (EFBIG)."""
    return f"trap '' XFSZ; ulimit -f {kb}; "


def cases():
    c = []

    def add(name, group, cmd=None, expect=("ok",), setup=None, **kw):
        c.append(dict(name=name, group=group, cmd=cmd, expect=expect, setup=setup, **kw))

    # ---- data: files that declare what they do not hold, or are not files at all ---------------
    wrap = ("refuse", ["too large to address"])
    add("wrap-obs-info", "data", ["info", "f.h5"], wrap, lambda: mk.declared("f.h5", 3892776002, 1184677982))
    add("wrap-obs-train", "data", TRAIN + ["--dataset", "f.h5", "--out", "r"], wrap,
        lambda: mk.declared("f.h5", 3892776002, 1184677982))
    add("wrap-obs-2^64", "data", ["info", "f.h5"], wrap, lambda: mk.declared("f.h5", 2**31, 2**31 - 1))
    add("wrap-actions", "data", ["info", "f.h5"], ("refuse", ["'actions'", "too large"]),
        lambda: mk.declared("f.h5", 2**32 - 1, 3, act_cols=2**31 - 1))
    add("wrap-minari", "data", ["info", "f.h5"], ("refuse", ["'episode_0/observations'", "too large"]),
        lambda: mk.declared("f.h5", 3892776002, 1184677982, minari_layout=True))
    add("states-past-uint32", "data", ["info", "f.h5"], ("refuse", ["32-bit state index"]),
        lambda: mk.declared("f.h5", 2**33, 1))
    add("huge-fill-16TB", "data", ["info", "f.h5"], ("refuse", ["TB of memory", "available"]),
        lambda: mk.declared("f.h5", 4000000000, 1000))
    add("lzf", "data", ["info", "f.h5"], ("refuse", ["'rewards'", "LZF", "gzip"]),
        lambda: mk.d4rl("f.h5", rewards=dict(data=np.zeros(10, np.float32), compression="lzf")))
    add("f64-overflow-reward", "data", ["info", "f.h5"], ("refuse", ["'rewards'", "-5e+300", "overflows float32"]),
        lambda: mk.d4rl("f.h5", rewards=np.array([0.0] * 5 + [-5e300] + [0.0] * 4)))
    add("dev-urandom", "data", ["info", "/dev/urandom"], ("refuse", ["character device"]))
    add("dev-null-train", "data", TRAIN + ["--dataset", "/dev/null", "--out", "r"], ("refuse", ["character device"]))
    add("fifo", "data", ["info", "p"], ("refuse", ["FIFO"]), lambda: mk.fifo("p"))
    add("directory", "data", ["info", "."], ("refuse", ["is a directory"]))
    add("empty", "data", ["info", "f.h5"], ("refuse", ["empty file"]), lambda: mk.raw("f.h5", b""))
    add("missing", "data", ["info", "nope.h5"], ("refuse", ["No such file"]))
    add("csv-not-hdf5", "data", ["info", "f.h5"], ("refuse", ["not an HDF5 file"]),
        lambda: mk.raw("f.h5", b"observations,actions\n1,2\n"))
    add("hdf5-signature-only", "data", ["info", "f.h5"], ("refuse", ["f.h5"]),
        lambda: mk.raw("f.h5", b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8))
    add("truncated", "data", ["info", "f.h5"], ("refuse", ["f.h5"]), lambda: mk.truncated_hdf5("f.h5"))
    for seed in range(5):
        add(f"corrupted-{seed}", "data", ["info", "f.h5"], ("refuse-or-ok", ["f.h5"]),
            lambda seed=seed: mk.corrupted_hdf5("f.h5", seed))
    add("symlink-loop", "data", ["info", "f.h5"], ("refuse", ["f.h5", "symbolic links"]),
        lambda: os.symlink("f.h5", "f.h5"))
    add("nan-obs", "data", ["info", "f.h5"], ("refuse", ["'observations'", "NaN", "row 2"]),
        lambda: mk.d4rl("f.h5", observations=np.where(np.arange(30).reshape(10, 3) == 7, np.nan, 0.0)))
    add("inf-reward", "data", ["info", "f.h5"], ("refuse", ["'rewards'", "Inf"]),
        lambda: mk.d4rl("f.h5", rewards=np.array([0.0, np.inf] + [0.0] * 8)))
    add("flag-2", "data", ["info", "f.h5"], ("refuse", ["'terminals'", "value 2"]),
        lambda: mk.d4rl("f.h5", terminals=np.array([0, 2] + [0] * 8, np.uint8)))
    add("obs-group", "data", ["info", "f.h5"], ("refuse", ["'observations'", "group"]),
        lambda: mk.d4rl("f.h5", observations=None,
                        change=lambda f: f.create_group("observations").create_dataset("x", data=np.zeros(3))))
    add("actions-rank3", "data", ["info", "f.h5"], ("refuse", ["'actions'", "rank 3"]),
        lambda: mk.d4rl("f.h5", actions=np.zeros((10, 2, 2), np.float32)))
    add("zero-rows", "data", ["info", "f.h5"], ("refuse", ["0 rows"]),
        lambda: mk.d4rl("f.h5", n=0, observations=np.zeros((0, 3), np.float32), actions=np.zeros((0, 2), np.float32),
                        rewards=np.zeros(0, np.float32), terminals=np.zeros(0, bool)))
    add("string-terminals", "data", ["info", "f.h5"], ("refuse", ["'terminals'", "string"]),
        lambda: mk.d4rl("f.h5", terminals=np.array([b"no"] * 10)))
    add("missing-actions", "data", ["info", "f.h5"], ("refuse", ["'actions'", "missing"]),
        lambda: mk.d4rl("f.h5", actions=None))
    add("rows-disagree", "data", ["info", "f.h5"], ("refuse", ["'rewards'", "9 rows"]),
        lambda: mk.d4rl("f.h5", rewards=np.zeros(9, np.float32)))
    add("zero-obs-columns", "data", ["info", "f.h5"], ("refuse", ["zero columns"]),
        lambda: mk.d4rl("f.h5", observations=np.zeros((10, 0), np.float32)))
    add("dangling-external-link", "data", ["info", "f.h5"], ("refuse", ["'observations'"]),
        lambda: mk.d4rl("f.h5", observations=None,
                        change=lambda f: f.__setitem__("observations", h5py.ExternalLink("gone.h5", "/x"))))
    add("soft-link-loop", "data", ["info", "f.h5"], ("refuse", ["'observations'"]),
        lambda: mk.d4rl("f.h5", observations=None,
                        change=lambda f: f.__setitem__("observations", h5py.SoftLink("/observations"))))
    add("minari-dict-obs", "data", ["info", "f.h5"], ("refuse", ["episode_0/observations", "group"]),
        lambda: mk.minari("f.h5", lambda f: (f["episode_0"].pop("observations"),
                                             f["episode_0"].create_group("observations"))))
    add("minari-dims-differ", "data", ["info", "f.h5"], ("refuse", ["episode_1/observations", "columns"]),
        lambda: mk.minari("f.h5", lambda f: (f["episode_1"].pop("observations"),
                                             f["episode_1"].create_dataset("observations", data=np.zeros((5, 4))))))
    add("minari-only-empty-episodes", "data", ["info", "f.h5"], ("refuse", ["no transitions"]),
        lambda: mk.minari("f.h5", steps=0))
    add("minari-episode-not-group", "data", ["info", "f.h5"], ("refuse", ["episode_9", "not a group"]),
        lambda: mk.minari("f.h5", lambda f: f.__setitem__("episode_9", np.zeros(3))))
    add("minari-huge-id", "data", ["info", "f.h5"], ("ok",),
        lambda: mk.minari("f.h5", lambda f: f.move("episode_2", "episode_999999999999999999")))
    # found by fuzzing (tests/fuzz/regressions/): HDF5 1.10 itself overflows, loops, allocates
    regress = os.path.join(SRC, "tests", "fuzz", "regressions", "d4rl")
    add("hdf5-overflow-in-H5Oopen", "data", ["info", os.path.join(regress, "hdf5-overflow-H5Oopen.h5")],
        ("refuse", ["crashed the HDF5 library"]))
    add("hdf5-overflow-train", "data", TRAIN + ["--dataset", os.path.join(regress, "hdf5-overflow-H5Oopen.h5"),
                                                "--out", "r"], ("refuse", ["crashed the HDF5 library"]))
    add("hdf5-endless-local-heap", "data", ["info", os.path.join(regress, "hdf5-loop-local-heap.h5")],
        ("refuse", ["did not finish in the time its size allows"]), timeout=90)
    add("hdf5-1.6GB-number-type", "data", ["info", os.path.join(regress, "huge-type-1.6GB.h5")],
        ("refuse", ["'terminals'", "1601468517-byte"]))
    add("float64-big-endian-ok", "data", ["info", "f.h5"], ("ok",),
        lambda: mk.d4rl("f.h5", observations=np.ones((10, 3), ">f8")))

    # ---- config: files and values -------------------------------------------------------------------
    deep = ("refuse", ["nested more than 32 levels"])
    add("yaml-100k-deep-flow", "config", TRAIN[:1] + ["--config", "c.yaml", "--dataset", "d.h5", "--out", "r"], deep,
        lambda: mk.text("c.yaml", "tau: " + "[" * 100000 + "]" * 100000 + "\n"), timeout=30)
    add("yaml-100k-deep-map", "config", ["train", "--config", "c.yaml"], deep,
        lambda: mk.text("c.yaml", "a: " + "{a: " * 100000 + "1" + "}" * 100000 + "\n"), timeout=30)
    add("yaml-100k-deep-block", "config", ["train", "--config", "c.yaml"], deep,
        lambda: mk.text("c.yaml", "- " * 100000 + "x\n"), timeout=30)
    add("yaml-100k-keys", "config", ["train", "--config", "c.yaml"], ("refuse", ["unknown config key 'k0'"]),
        lambda: mk.text("c.yaml", "".join(f"k{i}: 1\n" for i in range(100000))), timeout=30)
    add("yaml-100k-keys-dup", "config", ["train", "--config", "c.yaml"], ("refuse", ["duplicate key 'k7'"]),
        lambda: mk.text("c.yaml", "".join(f"k{i}: 1\n" for i in range(100000)) + "k7: 2\n"), timeout=30)
    add("yaml-alias-bomb", "config", ["train", "--config", "c.yaml"], ("refuse", ["c.yaml"]),
        lambda: mk.text("c.yaml", "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
            for i in range(9))), timeout=30)
    add("config-dev-urandom", "config", ["train", "--config", "/dev/urandom"], ("refuse", ["/dev/urandom"]),
        timeout=30)
    add("config-dev-zero", "config", ["train", "--config", "/dev/zero"], ("refuse", ["/dev/zero"]), timeout=30)
    add("config-directory", "config", ["train", "--config", "."], ("refuse", ["is a directory"]))
    add("config-hdf5", "config", ["train", "--config", "d.h5"], ("refuse", ["d.h5"]),
        lambda: mk.dataset("d.h5"))
    add("config-process-substitution", "config",
        shell="{bin} train --config <(printf 'tau: 0.8\\nsteps: 10\\n') --dataset d.h5 --out r " + " ".join(SMALL),
        expect=("ok",), setup=lambda: mk.dataset("d.h5"))
    add("config-tabs", "config", ["train", "--config", "c.yaml"], ("refuse", ["c.yaml", "YAML"]),
        lambda: mk.text("c.yaml", "tau:\t0.5\n\tbeta: 1\n"))
    add("config-two-documents", "config", ["train", "--config", "c.yaml"], ("refuse", ["more than one YAML document"]),
        lambda: mk.text("c.yaml", "tau: 0.5\n---\nbeta: 1\n"))
    add("config-corl-conflict", "config", ["train", "--config", "c.yaml"], ("refuse", ["both set"]),
        lambda: mk.text("c.yaml", "iql_tau: 0.7\nmax_timesteps: 10\nsteps: 5\n"))
    for name, value, needle in [("tau-nan", "tau=nan", "tau"), ("tau-1e999", "tau=1e999", "tau"),
                                ("tau-1", "tau=1", "tau"), ("batch-negative", "batch_size=-1", "batch_size"),
                                ("batch-overflow", "batch_size=99999999999", "batch_size"),
                                ("hidden-zero", "hidden=[0]", "hidden"), ("hidden-nine", "hidden=[1,2,3,4,5,6,7,8,9]",
                                                                          "hidden"),
                                ("eval-episodes-1e8", "eval_episodes=100000000", "eval_episodes"),
                                ("steps-1e30", "steps=1e30", "steps"), ("seed-negative", "seed=-1", "seed"),
                                ("no-equals", "tau", "tau"), ("unknown-key", "gamma=0.9", "gamma"),
                                ("env-unknown", "env=nosuch", "nosuch"), ("lr-negative", "lr_q=-1", "lr_q")]:
        add(f"set-{name}", "config", TRAIN + ["--dataset", "d.h5", "--out", "r", "--set", value],
            ("refuse", [needle]), lambda: mk.dataset("d.h5"))

    # ---- the command line ---------------------------------------------------------------------------
    add("out-5000-chars", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r/" + "x" * 5000],
        ("refuse", ["--out: path longer than 4095 bytes"]), lambda: mk.dataset("d.h5"), loss=True)
    add("init-from-5000-chars", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--init-from", "y" * 5000],
        ("refuse", ["--init-from: path longer"]), lambda: mk.dataset("d.h5"))
    add("dataset-not-utf8", "cli", TRAIN + ["--dataset", b"\xff\xfe.h5", "--out", "r"],
        ("refuse", ["dataset: not valid UTF-8"]), lambda: (mk.dataset("d.h5"), os.symlink("d.h5", b"\xff\xfe.h5")))
    add("steps-0-fresh", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--steps", "0"],
        ("refuse", ["steps: 0 steps to train"]), lambda: mk.dataset("d.h5"))
    add("steps-negative", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--steps", "-5"], ("refuse", ["steps"]),
        lambda: mk.dataset("d.h5"))
    add("threads-huge", "cli", TRAIN + ["--dataset", "d.h5", "--threads", "99999"], ("refuse", ["--threads"]))
    add("unknown-option", "cli", ["train", "--frobnicate"], ("refuse", ["--frobnicate"]))
    add("option-without-value", "cli", ["train", "--out"], ("refuse", ["--out needs a value"]))
    add("sweep-equal-values", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--sweep", "tau=0.5,0.5"],
        ("refuse", ["given twice"]), lambda: mk.dataset("d.h5"), loss=True)
    add("sweep-close-values", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--steps", "5",
                                              "--sweep", "tau=0.5,0.5000001"], ("ok",), lambda: mk.dataset("d.h5"),
        after=lambda s: None if (os.path.exists("r/tau0.5-beta2-seed0/checkpoint.h5") and
                                 os.path.exists("r/tau0.5000001-beta2-seed0/checkpoint.h5"))
        else "a member's results share another's directory", loss=True)
    add("sweep-seed-2^64", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--sweep", "seed=1e20"],
        ("refuse", ["above 2^53"]), lambda: mk.dataset("d.h5"))
    add("sweep-too-many", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--sweep",
                                          "tau=" + ",".join(f"0.{i + 1:03d}" for i in range(200)), "--sweep",
                                          "beta=" + ",".join(str(i) for i in range(30))],
        ("refuse", ["more than 4096 members"]), lambda: mk.dataset("d.h5"))
    add("sweep-not-numbers", "cli", TRAIN + ["--dataset", "d.h5", "--sweep", "tau=abc"], ("refuse", ["--sweep tau"]))
    add("batch-size-oom", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--set", "batch_size=2000000000",
                                          "--set", "hidden=[256,256]"],
        ("refuse", ["batch_size 2000000000", "out of"]), lambda: mk.dataset("d.h5"))
    add("out-is-a-file", "cli", TRAIN + ["--dataset", "d.h5", "--out", "d.h5"], ("refuse", ["not a directory"]),
        lambda: mk.dataset("d.h5"), loss=True)
    add("out-under-a-file", "cli", TRAIN + ["--dataset", "d.h5", "--out", "d.h5/sub"], ("refuse", ["d.h5"]),
        lambda: mk.dataset("d.h5"))
    add("init-from-directory", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--init-from", "."],
        ("refuse", ["--init-from", "not a regular file"]), lambda: mk.dataset("d.h5"))
    add("init-from-dataset", "cli", TRAIN + ["--dataset", "d.h5", "--out", "r", "--init-from", "d.h5"],
        ("refuse", ["--init-from", "/policy/layer0/weight is missing"]), lambda: mk.dataset("d.h5"))
    add("resume-empty-dir", "cli", ["train", "--out", "r", "--resume"], ("refuse", ["r/config.yaml"]),
        lambda: os.mkdir("r"))
    add("resume-and-init-from", "cli", TRAIN + ["--dataset", "data.h5", "--out", "run", "--resume", "--init-from",
                                                "x.h5"], ("refuse", ["exclude each other"]), copy_run)
    add("resume-and-force", "cli", ["train", "--out", "run", "--resume", "--force"], ("refuse", ["exclude each other"]),
        copy_run, after=unchanged, loss=True)
    add("eval-episodes-0", "cli", ["eval", "--checkpoint", "run/checkpoint.h5", "--env", "pendulum", "--episodes", "0"],
        ("refuse", ["--episodes"]), copy_run)

    # ---- the run directory: never replace, never mix, never forget ---------------------------------
    add("new-run-over-old", "run", TRAIN + ["--dataset", "data.h5", "--out", "run", "--steps", "30"],
        ("refuse", ["holds a run already", "--resume", "--force"]), copy_run, after=unchanged, loss=True)
    add("force-moves-old-run", "run", TRAIN + ["--dataset", "data.h5", "--out", "run", "--steps", "30", "--force"],
        ("ok",), copy_run, loss=True,
        after=lambda s: next((None for d in os.listdir("run") if d.startswith("replaced-") and
                              digest_dir(os.path.join("run", d)) == s["files"]),
                             "the old run is not intact under run/replaced-*"))
    for key, value in [("tau", "0.9"), ("beta", "10"), ("batch_size", "64"), ("lr_policy", "0.01"), ("seed", "5"),
                       ("hidden", "[32,32]"), ("discount", "0.5"), ("reward_transform", "antmaze"),
                       ("value_target", "q"), ("precision", "tf32")]:
        add(f"resume-changes-{key}", "run", ["train", "--out", "run", "--resume", "--steps", "40", "--set",
                                              f"{key}={value}"] + SMALL[:4],
            ("refuse", ["--resume", f"{key} is"]), copy_run, after=unchanged, loss=True)
    add("resume-other-data", "run", ["train", "--out", "run", "--resume", "--steps", "40", "--dataset", "other.h5"],
        ("refuse", ["not the data this run was trained on"]),
        lambda: (mk.dataset("other.h5", seed=9), copy_run())[1], after=unchanged, loss=True)
    add("resume-other-data-same-name", "run", ["train", "--out", "run", "--resume", "--steps", "40"],
        ("refuse", ["not the data this run was trained on"]),
        lambda: (copy_run(), mk.dataset("data.h5", seed=9))[0], after=unchanged, loss=True)
    add("resume-more-steps", "run", ["train", "--out", "run", "--resume", "--steps", "40", "--threads", "1"],
        ("ok",), copy_run, after=checkpoint_at_least("run/checkpoint.h5", 40))
    add("resume-other-sweep", "run", ["train", "--out", "run", "--resume", "--steps", "40", "--sweep", "tau=0.6,0.9"],
        ("refuse", ["--sweep: differs"]), copy_run, after=unchanged, loss=True)
    add("resume-from-elsewhere", "run",
        shell="mkdir -p elsewhere && cd elsewhere && {bin} train --out ../run --resume --steps 40 --threads 1 --quiet",
        expect=("ok",), setup=copy_run, after=checkpoint_at_least("run/checkpoint.h5", 40))
    add("resume-relative-dataset-lost", "run",
        shell="rm run/history.log && mkdir -p elsewhere && cd elsewhere && {bin} train --out ../run --resume --steps 40",
        expect=("refuse", ["from ../run/config.yaml", "relative"]), setup=copy_run)
    add("two-processes", "run", TRAIN + ["--dataset", "data.h5", "--out", "run2", "--steps", "10", "--force"],
        ("refuse", ["in use by another process"]), copy_run, loss=True,
        background=["train", "--config", SEED, "--dataset", "data.h5", "--out", "run2", "--steps", "100000000",
                    "--set", "log_every=10"] + SMALL[:-1],
        after=metrics_whole("run2/metrics.csv"))
    add("kill-9-then-resume", "run",
        shell="{bin} train --config " + SEED + " --dataset data.h5 --out k --steps 100000000 --set checkpoint_every=50 "
              + " ".join(SMALL) + " & p=$!; while [ ! -e k/checkpoint.h5 ]; do sleep 0.05; done; sleep 0.2; "
              "kill -9 $p; wait $p; {bin} train --out k --resume --steps 100000000 --set checkpoint_every=50 "
              "--threads 1 --quiet & q=$!; sleep 1; kill -TERM $q; wait $q; echo rc=$? >&2; exit 0",
        expect=("rc", 0, ["interrupted by SIGTERM", "rc=143"]), setup=lambda: mk.dataset("data.h5"),
        after=checkpoint_at_least("k/checkpoint.h5", 51))

    # ---- signals ---------------------------------------------------------------------------------------
    long_run = ["train", "--config", SEED, "--dataset", "data.h5", "--out", "s", "--steps", "100000000",
                "--set", "log_every=10"] + SMALL[:-1]
    for sig, rc in [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]:
        add(f"signal-{sig.name}", "signal", long_run, ("rc", rc, [f"interrupted by {sig.name}"]),
            lambda: mk.dataset("data.h5"), signal=sig, after=checkpoint_at_least("s/checkpoint.h5", 1), loss=True)
    add("signal-SIGPIPE-head", "signal",
        shell="{bin} " + " ".join(long_run) + " | head -2 >/dev/null; echo rc=${{PIPESTATUS[0]}} >&2; exit 0",
        expect=("rc", 0, ["interrupted by SIGPIPE", "rc=141"]), setup=lambda: mk.dataset("data.h5"),
        after=checkpoint_at_least("s/checkpoint.h5", 1), loss=True)

    # ---- a full disk --------------------------------------------------------------------------------
    add("full-disk-ulimit", "disk",
        shell=fsize_limit(64) + "{bin} " + " ".join(TRAIN + ["--dataset", "data.h5", "--out", "f", "--steps", "20",
                                                              "--set", "hidden=[256,256]"]),
        expect=("refuse", ["checkpoint.h5", "too large"]), setup=lambda: mk.dataset("data.h5"))
    add("full-disk-ulimit-sigint", "disk",
        shell=fsize_limit(256) + "{bin} " + " ".join(long_run + ["--set", "hidden=[256,256]"]) +
              " & p=$!; sleep 2; kill -INT $p; wait $p",
        expect=("rc", 130, ["interrupted by SIGINT", "no checkpoint was written"]),
        setup=lambda: mk.dataset("data.h5"))
    add("full-disk-at-start-ulimit", "disk",
        shell=fsize_limit(0) + "{bin} " + " ".join(TRAIN + ["--dataset", "data.h5", "--out", "f", "--steps", "20"]),
        expect=("refuse", ["cannot write the resolved config", "config.yaml.tmp", "too large"]),
        setup=lambda: mk.dataset("data.h5"))
    add("full-disk-at-start-tmpfs", "disk",
        shell="mkdir -p m && mount -t tmpfs -o size=1m tmpfs m && {{ dd if=/dev/zero of=m/fill bs=1k count=1024 "
              "2>/dev/null; {bin} " + " ".join(TRAIN + ["--dataset", "data.h5", "--out", "m/r", "--steps", "20"])
              + "; rc=$?; umount m; exit $rc; }}",
        expect=("refuse", ["cannot write the resolved config", "No space left on device"]),
        setup=lambda: mk.dataset("data.h5"), skip=is_root_with_mount)
    add("full-disk-while-logging", "disk",
        shell=fsize_limit(16) + "{bin} " + " ".join(TRAIN + ["--dataset", "data.h5", "--out", "f", "--steps", "100000",
                                                              "--set", "log_every=1"]),
        expect=("refuse", ["f/", "File too large"]), setup=lambda: mk.dataset("data.h5"))
    add("full-disk-gen", "disk",
        shell=fsize_limit(16) + "{bin} gen --env pendulum --behavior random --episodes 50 --out g.h5",
        expect=("refuse", ["g.h5", "too large"]))
    add("full-disk-tmpfs", "disk",
        shell="mkdir -p m && mount -t tmpfs -o size=2m tmpfs m && {{ {bin} "
              + " ".join(TRAIN + ["--dataset", "data.h5", "--out", "m/r", "--steps", "20", "--set", "hidden=[256,256]"])
              + "; rc=$?; umount m; exit $rc; }}",
        expect=("refuse", ["No space left on device"]), setup=lambda: mk.dataset("data.h5"), skip=is_root_with_mount)
    add("full-disk-tmpfs-sigint", "disk",
        shell="mkdir -p m && mount -t tmpfs -o size=2m tmpfs m && {{ {bin} "
              + " ".join(long_run[:6] + ["m/s"] + long_run[7:] + ["--set", "hidden=[512,512]"])
              + " & p=$!; sleep 2; kill -INT $p; wait $p; rc=$?; umount m; exit $rc; }}",
        expect=("rc", 130, ["No space left on device"]), setup=lambda: mk.dataset("data.h5"),
        skip=is_root_with_mount)

    # ---- checkpoints ----------------------------------------------------------------------------------
    ck = ["eval", "--env", "pendulum", "--episodes", "1", "--checkpoint", "c.h5"]
    add("ckpt-layer9", "checkpoint", ck, ("refuse", ["/policy/layer9", "beyond the expected layers"]),
        lambda: mk.minimal_checkpoint("c.h5", lambda f: f.create_dataset("policy/layer9/weight", data=np.zeros((1, 1)))))
    add("ckpt-stray", "checkpoint", ck, ("refuse", ["/value/layer0/extra", "not part"]),
        lambda: mk.minimal_checkpoint("c.h5", lambda f: f.create_dataset("value/layer0/extra", data=np.zeros(1))))
    add("ckpt-truncated", "checkpoint", ck, ("refuse", ["c.h5"]),
        lambda: mk.raw("c.h5", open(mk.minimal_checkpoint("c0.h5"), "rb").read()[:2000]))
    add("ckpt-nan", "checkpoint", ck, ("refuse", ["nan"]),
        lambda: mk.minimal_checkpoint("c.h5", lambda f: f["q1/layer0/bias"].__setitem__(0, np.nan)))
    add("ckpt-newer-format", "checkpoint", ck, ("refuse", ["newer cuiql"]),
        lambda: mk.minimal_checkpoint("c.h5", lambda f: f.attrs.__setitem__("format_version", 9)))
    add("ckpt-declared-2^30", "checkpoint", ck, ("refuse", ["c.h5"]), lambda: mk.declared_checkpoint("c.h5", 2**30))
    add("ckpt-declared-2^31", "checkpoint", ck, ("refuse", ["c.h5"]), lambda: mk.declared_checkpoint("c.h5", 2**31))
    add("ckpt-ok", "checkpoint", ck, ("ok",), lambda: mk.minimal_checkpoint("c.h5"))
    add("ckpt-wrong-env", "checkpoint", ck, ("refuse", ["pendulum"]), lambda: mk.minimal_checkpoint("c.h5", act=2))
    add("ckpt-init-from-other-shape", "checkpoint",
        TRAIN + ["--dataset", "d.h5", "--out", "r", "--init-from", "c.h5", "--steps", "5"],
        ("refuse", ["--init-from", "c.h5"]), lambda: (mk.dataset("d.h5"), mk.minimal_checkpoint("c.h5", obs=5, act=2)))
    return c


def prepare(bin_path):
    """The shared inputs: data.h5 and a finished 20-step run of it (run/)."""
    os.makedirs(BASE, exist_ok=True)
    os.makedirs(base("run-data"), exist_ok=True)
    mk.dataset(base("run-data/data.h5"))
    r = subprocess.run([bin_path] + TRAIN + ["--dataset", "data.h5", "--out", "../run", "--steps", "20",
                                              "--set", "log_every=10"], cwd=base("run-data"), capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        raise SystemExit(f"hostile: cannot make the base run: {r.stderr.strip()}")
    shutil.copy(base("run-data/data.h5"), base("data.h5"))
