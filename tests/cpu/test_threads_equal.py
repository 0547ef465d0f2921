"""test_threads_equal.py — `--threads 2` (and 4) trains bit for bit as `--threads 1` on the CPU.

With two or more threads the CPU backend runs the independent groups of a step's lanes (the
networks' passes) on threads of their own, one BLAS thread each (src/cpu/lanes.c). Each product
still runs on one thread in the same order, so the result must not change by a bit; a missed
dependency between lanes would show as a difference (or as nondeterminism). Checked on a short
pendulum run, every dataset of the checkpoint, with and without target critics."""
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

from checks import check, finish

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]


def run(args):
    p = subprocess.run([BIN] + args, capture_output=True, text=True, timeout=240)
    check(p.returncode == 0, f"cuiql {' '.join(args)}: {p.stderr.strip()[-300:]}")
    return p.returncode == 0


def datasets(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    with tempfile.TemporaryDirectory(prefix="cuiql-threads-") as d:
        data = os.path.join(d, "pend.h5")
        if not run(["gen", "--env", "pendulum", "--behavior", "mixed", "--episodes", "5", "--seed", "0", "--out", data]):
            return finish("threads_equal")
        for rho in ("1", "0.005"):
            ckpts = {}
            for threads in ("1", "2", "4"):
                out = os.path.join(d, f"rho{rho}-t{threads}")
                if run(["train", "--config", os.path.join(SRC, "configs", "seed.yaml"), "--dataset", data, "--out", out,
                        "--steps", "60", "--threads", threads, "--device", "cpu", "--quiet", "--set", "eval_every=0",
                        "--set", "checkpoint_every=60", "--set", f"target_update_rate={rho}"]):
                    ckpts[threads] = datasets(os.path.join(out, "checkpoint.h5"))
            for threads in ("2", "4"):  # 4: more workers than cores, the pool's threads queue
                if "1" in ckpts and threads in ckpts:
                    a, b = ckpts["1"], ckpts[threads]
                    check(a.keys() == b.keys(), f"rho {rho}: the same checkpoint datasets")
                    differ = [k for k in a if k in b and not np.array_equal(a[k], b[k])]
                    check(not differ, f"rho {rho}: --threads {threads} equals --threads 1 bit for bit; differ: {differ[:5]}")
    return finish("threads_equal")


if __name__ == "__main__":
    sys.exit(main())
