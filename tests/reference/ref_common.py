"""Helpers shared by the reference tests: writing a D4RL-layout dataset and a cuiql checkpoint
(docs/checkpoint.md) with h5py, reading a checkpoint back, running the `cuiql` binary, and
comparing tensors. Nothing here knows about the C code beyond its command line and file formats."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# Pass / fail bookkeeping: every test prints one line per check and a final summary line.
# ---------------------------------------------------------------------------------------------
class Tally:
    def __init__(self, name: str):
        self.name, self.passed, self.failed = name, 0, 0
        self.failures: List[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(what)
        print(f"{'PASS' if ok else 'FAIL'}  {what}{('  ' + detail) if detail else ''}", flush=True)
        return ok

    def finish(self) -> int:
        if self.failures:
            print("failed: " + "; ".join(self.failures))
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 else 1


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------
def make_dataset(rng: np.random.Generator, n: int, obs_dim: int, act_dim: int, terminal_frac=0.1):
    """Random transitions. Floats are float32 (what the trainer reads), so the float64 reference
    starts from exactly the numbers the trainer sees."""
    obs = rng.standard_normal((n, obs_dim)).astype(np.float32)
    act = rng.uniform(-0.95, 0.95, (n, act_dim)).astype(np.float32)
    rew = rng.standard_normal(n).astype(np.float32)
    nxt = rng.standard_normal((n, obs_dim)).astype(np.float32)
    term = rng.random(n) < terminal_frac
    return {"observations": obs, "actions": act, "rewards": rew, "next_observations": nxt,
            "terminals": term, "timeouts": np.zeros(n, dtype=bool)}


def write_dataset(path: str, d: Dict[str, np.ndarray]) -> None:
    """D4RL flat layout. next_observations is explicit and timeouts are all False, so every row is
    a transition and row i of the file is transition i (sequential batches are unambiguous)."""
    with h5py.File(path, "w") as f:
        for k, v in d.items():
            f.create_dataset(k, data=v)   # numpy bool -> HDF5 enum bool, as D4RL files have


def write_checkpoint(path: str, params: Dict[str, np.ndarray], obs_dim: int, act_dim: int,
                     hidden: Sequence[int], policy: str, max_action: float,
                     targets: Optional[Dict[str, np.ndarray]] = None) -> None:
    """An initial (weights-only) checkpoint per docs/checkpoint.md, tensors float32, step 0,
    identity state normalisation. Targets are written only when given (absent = copies)."""
    with h5py.File(path, "w") as f:
        for k, v in params.items():
            f.create_dataset(k, data=np.asarray(v, dtype=np.float32))
        for k, v in (targets or {}).items():
            f.create_dataset(k, data=np.asarray(v, dtype=np.float32))
        f.create_dataset("normalization/state_mean", data=np.zeros(obs_dim, dtype=np.float32))
        f.create_dataset("normalization/state_std", data=np.ones(obs_dim, dtype=np.float32))
        f.attrs["format_version"] = np.int32(1)
        f.attrs["step"] = np.int64(0)
        f.attrs["obs_dim"] = np.int32(obs_dim)
        f.attrs["act_dim"] = np.int32(act_dim)
        f.attrs["hidden"] = np.asarray(hidden, dtype=np.int32)
        f.attrs["policy"] = policy
        f.attrs["max_action"] = np.float64(max_action)


def read_tensors(path: str) -> Dict[str, np.ndarray]:
    """Every dataset in an HDF5 file, by path without the leading '/', as float64."""
    out: Dict[str, np.ndarray] = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = np.asarray(obj[()], dtype=np.float64)
    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def read_attrs(path: str) -> Dict[str, object]:
    with h5py.File(path, "r") as f:
        return {k: f.attrs[k] for k in f.attrs}


def attr_str(v) -> str:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape == ():
        return attr_str(v[()])
    return str(v)


# ---------------------------------------------------------------------------------------------
# Running the trainer
# ---------------------------------------------------------------------------------------------
def fmt_value(v) -> str:
    """A config value as text for --set: floats round-trip exactly (repr), lists in YAML flow style."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(fmt_value(x) for x in v) + "]"
    return str(v)


def cuiql_bin() -> Tuple[Optional[str], str]:
    """(path, '') when the trainer binary is there, else (None, why)."""
    b = os.environ.get("CUIQL_BIN", "")
    if not b:
        return None, "CUIQL_BIN is not set (run through ctest, or export the path of the built `cuiql`)"
    if not (os.path.isfile(b) and os.access(b, os.X_OK)):
        return None, f"CUIQL_BIN={b} does not exist or is not executable (trainer not built yet?)"
    return b, ""


def source_dir() -> str:
    return os.environ.get("CUIQL_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))


def run_train(binary: str, dataset: str, out: str, steps: int, sets: Dict[str, object],
              init_from: Optional[str] = None, sweeps: Optional[Dict[str, Sequence]] = None,
              timeout: float = 120.0) -> Tuple[bool, str]:
    """Run `cuiql train`; returns (ok, message). The command line is printed so a failure can be
    reproduced by hand."""
    cmd = [binary, "train", "--config", os.path.join(source_dir(), "configs", "seed.yaml"),
           "--dataset", dataset, "--out", out]
    if init_from:
        cmd += ["--init-from", init_from]
    cmd += ["--steps", str(steps), "--device", "cpu"]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={fmt_value(v)}"]
    for k, vs in (sweeps or {}).items():
        cmd += ["--sweep", f"{k}=" + ",".join(fmt_value(x) for x in vs)]
    print("  $ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    except OSError as e:
        return False, f"could not start: {e}"
    if p.returncode != 0:
        tail = "\n".join(p.stdout.strip().splitlines()[-15:])
        print("  trainer output (last lines):\n    " + tail.replace("\n", "\n    "), file=sys.stderr)
        return False, f"exit status {p.returncode}"
    return True, ""


def rel_err(c: np.ndarray, ref: np.ndarray) -> float:
    """||c - ref|| / ||ref||; an all-zero reference falls back to the absolute error."""
    num = float(np.linalg.norm(c - ref))
    den = float(np.linalg.norm(ref))
    return num / den if den > 0 else num
