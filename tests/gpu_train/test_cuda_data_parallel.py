"""Data parallel on the CUDA backend (NCCL), under mpirun. Label gpu; exits 77 (skipped) without a
usable GPU, without NCCL (in the build, or a libnccl to load), or without mpirun.

    test_cuda_data_parallel.py DP_ORDERS

1. One GPU is enough for the NCCL path itself: `mpirun -np 1 --data-parallel --device cuda` runs
   the NCCL all-reduce inside the captured step (one rank: the sum is the buffer itself), so its
   checkpoint must be the plain CUDA run's, bit for bit: with graphs, without (--no-graphs), and
   with the dataset in host memory (replay: host, whose staging header carries the slice).
2. With two GPUs or more: `mpirun -np 2` against the single-GPU run at the same global batch,
   within the tolerance dp_orders derives on the GPU from reordering the batch's rows (as the
   CPU test does), for both replay placements."""
import glob
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
from checks import check, finish

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]
DP_ORDERS = sys.argv[1]
CONFIG = os.path.join(SRC, "configs", "seed.yaml")
SETS = ["hidden=[64,64]", "batch_size=1024", "steps=100", "log_every=50", "target_update_rate=0.005",
        "value_target=q"]


def env():
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def args(out, sets, extra=()):
    a = ["train", "--config", CONFIG, "--dataset", "data.h5", "--out", out, "--device", "cuda", "--quiet"]
    for s in sets:
        a += ["--set", s]
    return a + list(extra)


def run(out, sets, extra=(), ranks=0):
    cmd = ([] if ranks == 0 else ["mpirun", "--oversubscribe", "-np", str(ranks)]) + [BIN] + args(out, sets, extra)
    if ranks:
        cmd.append("--data-parallel")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env())


def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def same(a, b):
    ta, tb = tensors(a), tensors(b)
    return ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta)


def main():
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout
    if "NCCL" not in version or "without NCCL" in version or "unavailable" in version or not shutil.which("mpirun"):
        print("cuda_data_parallel: skipped (needs NCCL, built in and loadable, and mpirun):", version.splitlines()[-1])
        return 77
    rng = np.random.default_rng(0)
    n = 5000
    obs = rng.normal(size=(n + 1, 7)).astype(np.float32)
    with h5py.File("data.h5", "w") as f:
        f["observations"], f["next_observations"] = obs[:-1], obs[1:]
        f["actions"] = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
        f["rewards"] = rng.normal(size=n).astype(np.float32)
        f["terminals"] = rng.random(n) < 0.01
    for d in glob.glob("g_*"):
        shutil.rmtree(d, ignore_errors=True)
    probe = run("g_probe", SETS + ["steps=1"])
    if probe.returncode != 0 and ("no CUDA" in probe.stderr or "driver" in probe.stderr):
        print("cuda_data_parallel: skipped:", probe.stderr.strip())
        return 77

    # 1. One rank: NCCL in the graph changes nothing.
    for name, extra_sets, extra in [("graphs", [], []), ("eager", [], ["--no-graphs"]), ("host", ["replay=host"], [])]:
        a = run(f"g_one_{name}", SETS + extra_sets, extra)
        b = run(f"g_dp1_{name}", SETS + extra_sets, extra, ranks=1)
        ok = check(a.returncode == 0 and b.returncode == 0, f"[{name}] plain and 1-rank NCCL runs "
                                                            f"({a.stderr.strip()[-300:]} {b.stderr.strip()[-300:]})")
        if ok:
            check(same(f"g_one_{name}/checkpoint.h5", f"g_dp1_{name}/checkpoint.h5"),
                  f"[{name}] 1 rank over NCCL = the plain CUDA run, bit for bit")

    # 2. Two GPUs.
    count = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout.count("GPU ")
    if count < 2:
        print(f"cuda_data_parallel: {count} GPU(s): the 2-rank comparison needs two")
    else:
        for name, extra_sets in [("device", []), ("host", ["replay=host"])]:
            b = run(f"g_dp2_{name}", SETS + extra_sets, ranks=2)
            if check(b.returncode == 0, f"[{name}] 2 ranks on 2 GPUs train ({b.stderr.strip()[-300:]})"):
                cmd = [DP_ORDERS, CONFIG, "data.h5", "g_one_graphs/checkpoint.h5", f"g_dp2_{name}/checkpoint.h5",
                       "--device", "cuda"]
                for s in SETS + extra_sets:
                    cmd += ["--set", s]
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                if check(p.returncode == 0, f"dp_orders on the GPU ({p.stderr.strip()[-300:]})"):
                    j = json.loads(p.stdout.splitlines()[0])
                    check(j["worst_ratio"] <= 1.0, f"[{name}] 2 GPUs within the reordering tolerance of 1 "
                                                   f"(worst {j['worst']}: {j['worst_ratio']:.3g})")
                    print(f"[{name}] 2 GPUs vs 1: worst {j['worst']} at {j['worst_ratio']:.3g} of the tolerance; "
                          f"dp_orders reproduced the CLI run: {j['ref_reproduced']}")
    return finish("cuda_data_parallel")


if __name__ == "__main__":
    sys.exit(main())
