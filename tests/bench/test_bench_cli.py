"""`cuiql bench` on the CPU: every configuration of the lists is run and reported; --json gives
one object per configuration with the documented field names (README, "cuiql bench") and values
that agree with each other; --count-only reproduces the counts of bench/RESULTS.md §1; bad
options are one-line errors. Speed is never checked here (it is bench/'s business): rates only
have to be positive and consistent."""
import json
import os
import subprocess
import sys

from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]

FIELDS = {
    "device": str, "backend": str, "batch": int, "members": int, "precision": str, "rho": (int, float),
    "hidden": list, "obs_dim": int, "act_dim": int, "graphs": bool, "gemm_epilogues": bool, "parallel_nets": bool,
    "threads": int, "replay": str, "steps": int, "steps_per_s": (int, float), "samples_per_s": (int, float),
    "member_steps_per_s": (int, float), "gflop_per_step": (int, float), "mb_per_step": (int, float),
    "gflops": (int, float), "ceiling_gemm_gflops": (int, float), "ceiling_gemm_n": int,
    "ceiling_bandwidth_gbs": (int, float), "floor_steps_per_s": (int, float), "floor_bound": str,
    "floor_gemm_us": (int, float), "floor_bytes_us": (int, float), "measured_over_floor": (int, float),
    "memory_bytes_per_member": (int, float), "memory_state_bytes": (int, float), "memory_measured_bytes": type(None),
    "phase_steps": int, "phases_us": dict,
    # the guard: numbers on the first configuration of a run, null on the others (and with --count-only)
    "guard_steps_per_s_after_ceilings": (int, float, type(None)), "guard_other_cores": (int, float, type(None)),
    "guard_steal_cores": (int, float, type(None)),
}
PHASES = ["sample", "forward", "heads", "backward", "reduce", "optimize"]  # reduce: data parallel only (≈ 0 otherwise)


def bench(*args):
    return subprocess.run([BIN, "bench", "--device", "cpu", "--threads", "1", *args], capture_output=True, text=True,
                          timeout=300)


def close(a, b, rel=1e-4):
    return abs(a - b) <= rel * max(abs(a), abs(b))


def main():
    small = ["--hidden", "16,16", "--dims", "5,2", "--steps", "3", "--phases", "2"]
    p = bench("--json", "--batch", "8,33", "--members", "1,3", *small)
    check(p.returncode == 0, f"cuiql bench --json runs ({p.stderr.strip()})")
    lines = [line for line in p.stdout.splitlines() if line.strip()]
    check(len(lines) == 4, f"one line per configuration (2 batches x 2 member counts), got {len(lines)}")
    seen = set()
    for i, line in enumerate(lines):
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            check(False, f"a JSON line: {e}: {line[:80]}")
            continue
        check(set(r) == set(FIELDS), f"field names: {sorted(set(r) ^ set(FIELDS))} differ")
        for k, t in FIELDS.items():
            if k in r:
                check(isinstance(r[k], t), f"{k} is {t}: {r[k]!r}")
        seen.add((r.get("batch"), r.get("members")))
        if set(r) != set(FIELDS):
            continue
        check(r["backend"] == "cpu" and r["precision"] == "fp32" and r["hidden"] == [16, 16], "the asked configuration")
        check(r["obs_dim"] == 5 and r["act_dim"] == 2 and r["steps"] == 3 and r["phase_steps"] == 2, "dims and steps")
        check(r["steps_per_s"] > 0 and r["gflop_per_step"] > 0 and r["mb_per_step"] > 0, "positive rate and work")
        check(close(r["samples_per_s"], r["steps_per_s"] * r["batch"]), "samples/s = steps/s x B")
        check(close(r["member_steps_per_s"], r["steps_per_s"] * r["members"]), "member-steps/s = steps/s x P")
        check(close(r["gflops"], r["steps_per_s"] * r["gflop_per_step"]), "GFLOP/s = steps/s x GFLOP/step")
        floor_us = max(r["floor_gemm_us"], r["floor_bytes_us"])
        check(close(r["floor_steps_per_s"], 1e6 / floor_us), "the floor is the slower of GEMMs and bytes")
        check(r["floor_bound"] == ("memory" if r["floor_bytes_us"] > r["floor_gemm_us"] else "gemm"), "floor_bound")
        check(close(r["measured_over_floor"], r["steps_per_s"] / r["floor_steps_per_s"]), "measured/floor")
        check(close(r["floor_gemm_us"], r["gflop_per_step"] * 1e6 / r["ceiling_gemm_gflops"]), "GEMM floor")
        check(close(r["memory_bytes_per_member"] * r["members"], r["memory_state_bytes"]), "memory per member")
        check(sorted(r["phases_us"]) == sorted(PHASES) and all(v >= 0 for v in r["phases_us"].values()),
              f"phases: {r['phases_us']}")
        # the guard times the first configuration twice (before and after the ceilings), no other
        guard = r["guard_steps_per_s_after_ceilings"]
        check((guard is not None and guard > 0) if i == 0 else guard is None, f"configuration {i}: guard rate {guard}")
        if i == 0 and os.path.exists("/proc/stat"):
            check(r["guard_other_cores"] is not None and r["guard_other_cores"] >= 0 and r["guard_steal_cores"] >= 0,
                  f"the guard reports the machine's load: {r['guard_other_cores']}, {r['guard_steal_cores']}")
    check(seen == {(8, 1), (8, 3), (33, 1), (33, 3)}, f"every configuration ran: {sorted(seen)}")

    # The text form: one block per configuration, with each figure the issue asks for.
    p = bench("--batch", "8", *small)
    check(p.returncode == 0, f"cuiql bench (text) runs ({p.stderr.strip()})")
    for word in ["steps/s", "samples/s", "member-steps/s", "GFLOP/s achieved", "floor", "measured/floor",
                 "MiB per member", "phases", "optimize"]:
        check(word in p.stdout, f"text output has '{word}'")

    # Counts without running: bench/RESULTS.md §1's figures (S = 17, A = 6, hidden 256 x 2).
    p = bench("--count-only", "--json", "--batch", "256,65536", "--members", "1,64")
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()] if p.returncode == 0 else []
    want = {(256, 1): (0.4631, 18.6), (65536, 1): (118.5478, 2702.9), (256, 64): (29.6370, 1188.0)}
    for r in rows:
        key = (r["batch"], r["members"])
        if key in want:
            check(round(r["gflop_per_step"], 4) == want[key][0] and round(r["mb_per_step"], 1) == want[key][1],
                  f"{key}: {r['gflop_per_step']:.4f} GFLOP, {r['mb_per_step']:.1f} MB per step, RESULTS §1 says {want[key]}")
    big = [r for r in rows if (r["batch"], r["members"]) == (65536, 64)]
    # V(s') and the target critics keep no hidden layers of their own: B = 65536, P = 64, ρ < 1
    # fits an 80 GB card (it took 88.9 GiB before).
    p = bench("--count-only", "--json", "--batch", "65536", "--members", "64", "--rho", "0.005")
    r = json.loads(p.stdout) if p.returncode == 0 else {}
    check(r and r["memory_state_bytes"] < 70 * 2**30, f"B=65536 P=64 rho<1: {r.get('memory_state_bytes', 0) / 2**30:.1f} GiB")
    check(len(big) == 1 and big[0]["memory_state_bytes"] < r.get("memory_state_bytes", 0), "ρ < 1 adds the targets")

    for args, what in [(["--batch", "0"], "--batch"), (["--precision", "fp16"], "--precision"),
                       (["--device", "tpu"], "--device"), (["--frobnicate"], "unknown option"),
                       (["--dims", "3"], "--dims"), (["--replay", "disk"], "--replay")]:
        p = bench(*args)
        lines = p.stderr.strip().splitlines()
        check(p.returncode == 2 and len(lines) == 1 and what in lines[0] and lines[0].startswith("cuiql bench: "),
              f"{args}: one-line error naming {what} (exit {p.returncode}: {p.stderr.strip()})")
    return finish("bench_cli")


if __name__ == "__main__":
    sys.exit(main())
