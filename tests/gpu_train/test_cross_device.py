"""Checkpoints move between devices: a run trained on the GPU resumes on the CPU and one trained
on the CPU resumes on the GPU, and both end close to a run that stayed on the CPU. Not bit for
bit: the GPU sums in another order, and training turns rounding into drift (AdamW's first steps
are lr·sign(g)), so "close" is 10x the CPU's own drift when its inputs move by one ulp, or 1e-3,
whichever is larger. Exits 77 (skipped) without a usable GPU."""
import os
import subprocess
import sys

import h5py
import numpy as np
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]


def train(out, device, steps, resume=False, data="data.h5"):
    cmd = [BIN, "train", "--out", out, "--steps", str(steps), "--device", device, "--quiet"]
    if resume:
        cmd.append("--resume")
    else:
        cmd += ["--dataset", data, "--set", "hidden=[64,64]", "--set", "batch_size=128", "--set", "log_every=10",
                "--set", "value_target=q", "--set", "target_update_rate=0.005"]
    return subprocess.run(cmd, capture_output=True, text=True)


def weights(path):
    out = {}
    with h5py.File(path) as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def rel(a, b):
    return max(np.linalg.norm(a[k] - b[k]) / max(np.linalg.norm(b[k]), 1e-30) for k in b)


def main():
    rng = np.random.default_rng(0)
    n = 3000
    obs = rng.normal(size=(n + 1, 7)).astype(np.float32)
    actions = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    rewards = rng.normal(size=n).astype(np.float32)
    terminals = rng.random(n) < 0.01
    # the same data with every other state entry one ulp up: the CPU's own drift
    nudged = obs.copy()
    nudged.flat[1::2] = np.nextafter(nudged.flat[1::2], np.float32(np.inf))
    for path, o in (("data.h5", obs), ("data-ulp.h5", nudged)):
        with h5py.File(path, "w") as f:
            f["observations"], f["next_observations"] = o[:-1], o[1:]
            f["actions"], f["rewards"], f["terminals"] = actions, rewards, terminals
    probe = train("probe", "cuda", 1)
    if probe.returncode != 0 and ("no CUDA" in probe.stderr or "no CUDA backend" in probe.stderr
                                  or "driver" in probe.stderr):
        print("cross_device: skipped:", probe.stderr.strip())
        return 77
    check(probe.returncode == 0, f"a one-step GPU run works ({probe.stderr.strip()})")
    check(train("cpu_only", "cpu", 40).returncode == 0, "CPU run")
    check(train("cpu_ulp", "cpu", 40, data="data-ulp.h5").returncode == 0, "CPU run on one-ulp data")
    check(train("gpu_then_cpu", "cuda", 20).returncode == 0 and train("gpu_then_cpu", "cpu", 40, True).returncode == 0,
          "GPU run resumed on the CPU")
    check(train("cpu_then_gpu", "cpu", 20).returncode == 0 and train("cpu_then_gpu", "cuda", 40, True).returncode == 0,
          "CPU run resumed on the GPU")
    ref = weights("cpu_only/checkpoint.h5")
    own = rel(weights("cpu_ulp/checkpoint.h5"), ref) if os.path.exists("cpu_ulp/checkpoint.h5") else 0.0
    bound = max(10 * own, 1e-3)
    for run in ["gpu_then_cpu", "cpu_then_gpu"]:
        path = f"{run}/checkpoint.h5"
        if os.path.exists(path):
            e = rel(weights(path), ref)
            check(e < bound, f"{run} ends within {bound:.3g} of the CPU-only run (rel {e:.3g}; the CPU's own "
                  f"drift under one-ulp noise {own:.3g})")
    return finish("cross_device")


if __name__ == "__main__":
    sys.exit(main())
