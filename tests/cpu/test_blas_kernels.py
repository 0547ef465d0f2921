"""test_blas_kernels.py — the CPU backend's BLAS runs kernels for this CPU's instruction set.

OpenBLAS picks its kernels from a table of CPU models when it is loaded; a model newer than the
table gets its SSE3 "Prescott" kernels (3-4x slower GEMMs on an AVX-512 CPU; bench/RESULTS.md
§2). cuiql then re-executes itself with OPENBLAS_CORETYPE set (src/cpu/blas_openblas.c). Checked
through `cuiql --version`, which names the kernels: they must use the widest vector instructions
the CPU and OS offer (read here from /proc/cpuinfo, independently of the C code), and a user's
OPENBLAS_CORETYPE must be obeyed. Not a speed test."""
import os
import re
import subprocess
import sys

from checks import check, finish

BIN = os.environ["CUIQL_BIN"]

# OpenBLAS kernel sets by the instructions they use (its corename spellings).
LEVEL = {"skylakex": 3, "cooperlake": 3, "sapphirerapids": 3, "haswell": 2, "zen": 2, "excavator": 2,
         "sandybridge": 1, "bulldozer": 1, "piledriver": 1, "steamroller": 1}


def cpu_level():
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return 3
    if {"avx2", "fma"} <= flags:
        return 2
    return 1 if "avx" in flags else 0


def blas_line(env):
    out = subprocess.run([BIN, "--version"], capture_output=True, text=True, env=env, timeout=60)
    check(out.returncode == 0, f"cuiql --version exits 0 ({out.stderr.strip()[-300:]})")
    lines = [l for l in out.stdout.splitlines() if l.startswith("CPU BLAS")]
    check(len(lines) == 1, f"--version has one 'CPU BLAS' line: {out.stdout!r}")
    return lines[0] if lines else ""


def main():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    line = blas_line(env)
    if "-DCUIQL_BLAS=openblas" not in line:
        print(f"test_blas_kernels: not an OpenBLAS build ({line}); nothing to check")
        return 77
    m = re.search(r" (\w+) MAX_THREADS", line)
    if not check(m, f"the OpenBLAS config names its kernels: {line}"):
        return finish("blas_kernels")
    core = m.group(1)
    check(LEVEL.get(core.lower(), 0) >= cpu_level(),
          f"OpenBLAS runs {core} kernels on a CPU of instruction-set level {cpu_level()}: {line}")

    env["OPENBLAS_CORETYPE"] = "Prescott"  # a user's choice, even a slow one, stands
    line = blas_line(env)
    check(" Prescott MAX_THREADS" in line and "chosen by cuiql" not in line,
          f"OPENBLAS_CORETYPE=Prescott from the user is obeyed: {line}")
    return finish("blas_kernels")


if __name__ == "__main__":
    sys.exit(main())
