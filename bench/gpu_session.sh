#!/usr/bin/env bash
# gpu_session.sh — the first contact with a lent GPU, in two device calls that together fit a
# session's 15 minutes of device time (a machine's start, 1–2 minutes, included):
#
#   call 1 (≤ 300 s by its own clamps): bash bench/gpu_session.sh first
#       the GPU tests (ctest -L gpu); six `cuiql bench` runs: B = 256/4096/65536 and P = 64,
#       each without and with --gemm-epilogues --parallel-nets, host replay at B = 65536, and
#       B = 65536 × P = 64 with targets (the memory fix); one compute-sanitizer memcheck of
#       the fused + parallel path (host replay: the stage kernel too)
#   call 2 (optional, only if time is left): GPU_SESSION_SECONDS=<left> bash bench/gpu_session.sh second
#       racecheck (cuBLAS's own kernels excluded), initcheck, synccheck, memcheck of the plain
#       path; the remaining benchmarks (tf32, no graphs, ρ = 0.005); Nsight Compute over one
#       eager step (--clock-control none: the clocks are never locked); the PyTorch and JAX peers
#
#   here first:  tools/gpu_bundle.sh  (builds for sm_90 with the libraries the image lacks)
#   device:      run with carry ["gpu-bundle.tar.xz"], timeout_s 300 for call 1
#
# Every stage's timeout is clamped to the time left of the call's budget (GPU_SESSION_SECONDS:
# 285 for call 1, 420 for call 2 unless given), keeping RESERVE seconds for packing. Files
# back (≤ 8, in $OUT): summary.txt (also printed: one screen), bench.jsonl (one `cuiql bench`
# object per configuration), ctest-gpu.log, logs.tar.gz (everything else).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-gpu-out}
call=${1:-first}
case $call in
  first) budget=${GPU_SESSION_SECONDS:-285} ;;
  second) budget=${GPU_SESSION_SECONDS:-420} ;;
  *) echo "usage: bench/gpu_session.sh first|second"; exit 2 ;;
esac
RESERVE=12
mkdir -p "$OUT/logs"
LOGS=$OUT/logs
SECONDS=0
summary() { echo "$*" >>"$OUT/summary.txt"; }
left() { echo $((budget - RESERVE - SECONDS)); }
# clamp CAP: the smaller of CAP and the time left (0 when none is)
clamp() { local l; l=$(left); [ "$l" -lt "$1" ] && echo $((l > 0 ? l : 0)) || echo "$1"; }
finish() {
  tar -C "$OUT" -czf "$OUT/logs.tar.gz" logs 2>/dev/null && rm -rf "$LOGS"
  echo "==== gpu_session $call: $SECONDS s of a $budget s budget ===="
  cat "$OUT/summary.txt"
}
trap finish EXIT
summary "gpu_session $call, $(date -u '+%Y-%m-%d %H:%M UTC')"

# ---- set up: the bundle (or a build), the libraries, the tree's path ----------------------------
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader 2>&1 |
  sed 's/^/gpu: /' >>"$OUT/summary.txt"
if [ -f gpu-bundle.tar.xz ] && [ ! -x build-gpu/cuiql ]; then
  python3 -c 'import tarfile; tarfile.open("gpu-bundle.tar.xz").extractall(".")' || { summary "setup: cannot unpack the bundle"; exit 1; }
fi
if [ -f build-gpu/source-dir ]; then
  built_at=$(cat build-gpu/source-dir)
  if [ "$built_at" != "$PWD" ]; then
    # ctest files and the RPATH name the tree's path on the machine that built the bundle.
    if [ ! -e "$built_at" ]; then mkdir -p "$(dirname "$built_at")" && ln -s "$PWD" "$built_at"; fi
    [ "$(cd "$built_at" && pwd -P)" = "$(pwd -P)" ] || summary "setup: $built_at exists and is not this tree; ctest will fail"
  fi
  summary "setup: bundle built at $built_at, in $PWD ($SECONDS s)"
elif [ ! -x build-gpu/cuiql ]; then
  timeout "$(clamp 200)" bash -c "cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCUIQL_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 >'$LOGS/configure.log' 2>&1 && cmake --build build-gpu -j 16 >'$LOGS/build.log' 2>&1" ||
    { summary "setup: build failed (no bundle; see logs)"; exit 1; }
fi
if ! ldconfig -p | grep -q libcublas.so.13; then  # the image's CUDA libraries, where ldconfig does not list them
  cublas=$(find /usr/local /usr/lib /opt -name 'libcublas.so.13' -print -quit 2>/dev/null)
  if [ -n "$cublas" ]; then
    LD_LIBRARY_PATH=$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LD_LIBRARY_PATH
  fi
fi
CUIQL=build-gpu/cuiql
$CUIQL --version >"$LOGS/version.txt" 2>&1
if ldd $CUIQL | grep -q 'not found'; then summary "setup: missing libraries: $(ldd $CUIQL | grep 'not found' | tr -s ' \n' ' ')"; exit 1; fi
# A small dataset for the sanitizers: pendulum (S = 3, A = 1: both inputs padded to 4).
[ -f gpu-data.h5 ] || $CUIQL gen --env pendulum --behavior mixed --episodes 20 --out gpu-data.h5 >"$LOGS/gen.log" 2>&1 ||
  summary "setup: cuiql gen failed (see logs)"

# ---- stages ----------------------------------------------------------------------------------------

# The GPU tests, each with ctest's own timeout inside the stage's.
stage_tests() {
  local t
  t=$(clamp 100)
  [ "$t" -gt 20 ] || { summary "tests: skipped, out of time"; return; }
  if command -v ctest >/dev/null; then
    timeout "$t" ctest --test-dir build-gpu -L gpu --output-on-failure --timeout "$((t - 5))" >"$OUT/ctest-gpu.log" 2>&1
    local rc=$?
    summary "tests: ctest -L gpu exit $rc: $(grep -E 'tests passed|tests failed' "$OUT/ctest-gpu.log" | tail -1)"
    grep -E '^ *[0-9]+/[0-9]+ Test' "$OUT/ctest-gpu.log" | sed 's/^ */  /' >>"$OUT/summary.txt"
  else  # no ctest on the image: the same programs, by hand
    for p in build-gpu/tests/gpu/cuda_* build-gpu/tests/gpu_train/cuda_*; do
      [ -x "$p" ] || continue
      t=$(clamp 60)
      (cd "$(dirname "$p")" && timeout "$t" "./$(basename "$p")") >>"$OUT/ctest-gpu.log" 2>&1
      summary "tests: $(basename "$p") exit $?"
    done
  fi
  grep -hE '^value_target|gemm_bias_activation .*fused' "$OUT/ctest-gpu.log" | sed 's/^/  /' | cut -c1-160 >>"$LOGS/test-figures.txt"
}

# `cuiql bench --json` runs; each line of bench.jsonl is one configuration.
bench_run() {  # bench_run NAME CAP ARGS...
  local name=$1 cap=$2 t
  shift 2
  t=$(clamp "$cap")
  [ "$t" -gt 10 ] || { summary "bench $name: skipped, out of time"; return; }
  timeout "$t" $CUIQL bench --device cuda --json "$@" >"$LOGS/bench-$name.jsonl" 2>"$LOGS/bench-$name.err"
  local rc=$?
  cat "$LOGS/bench-$name.jsonl" >>"$OUT/bench.jsonl"
  [ $rc = 0 ] || summary "bench $name: exit $rc: $(tail -1 "$LOGS/bench-$name.err")"
}

stage_bench_first() {
  local fast="--gemm-epilogues --parallel-nets" quick="--seconds 1.5 --phases 10"
  bench_run plain 30 --batch 256,4096,65536 $quick
  bench_run fast 30 --batch 256,4096,65536 $quick $fast
  bench_run p64 15 --batch 256 --members 64 $quick
  bench_run p64-fast 15 --batch 256 --members 64 $quick $fast
  bench_run host-replay 12 --batch 65536 --replay host $quick
  bench_run b65536-p64-targets 25 --batch 65536 --members 64 --rho 0.005 --seconds 1 --phases 2
}

stage_bench_second() {
  local fast="--gemm-epilogues --parallel-nets" quick="--seconds 1.5 --phases 10"
  bench_run tf32 30 --batch 4096,65536 --precision tf32 $quick
  bench_run tf32-fast 30 --batch 4096,65536 --precision tf32 $quick $fast
  bench_run epilogues 20 --batch 256,65536 --gemm-epilogues $quick
  bench_run parallel 20 --batch 256,65536 --parallel-nets $quick
  bench_run no-graphs 10 --batch 256 --no-graphs $quick
  bench_run targets 20 --batch 256,65536 --rho 0.005 $quick
  bench_run targets-fast 20 --batch 256,65536 --rho 0.005 $quick $fast
  bench_run host-replay-fast 12 --batch 65536 --replay host $quick $fast
}

# compute-sanitizer over a short training run: sanitize NAME TOOL CAP [cuiql train options] [-- tool options]
sanitize() {
  local name=$1 tool=$2 cap=$3 t sanitizer
  shift 3
  sanitizer=$(command -v compute-sanitizer || find /usr/local /opt -name compute-sanitizer -type f -perm -u+x -print -quit 2>/dev/null)
  [ -n "$sanitizer" ] || { summary "sanitize $name: no compute-sanitizer on this machine"; return; }
  t=$(clamp "$cap")
  [ "$t" -gt 20 ] || { summary "sanitize $name: skipped, out of time"; return; }
  local train=() extra=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do train+=("$1"); shift; done
  [ $# -gt 0 ] && shift && extra=("$@")
  rm -rf "gpu-run-$name"
  timeout "$t" "$sanitizer" --tool "$tool" --error-exitcode 9 "${extra[@]}" \
    $CUIQL train --dataset gpu-data.h5 --out "gpu-run-$name" --steps 12 --device cuda --quiet \
    --set log_every=4 --set hidden=[64,64] --set batch_size=256 --set target_update_rate=0.005 "${train[@]}" \
    >"$LOGS/sanitize-$name.log" 2>&1
  local rc=$?
  # An older compute-sanitizer spells the kernel filter --exclude: once more with that spelling.
  if [ $rc != 0 ] && [ $rc != 9 ] && [ ${#extra[@]} -gt 0 ] && grep -qi 'option' "$LOGS/sanitize-$name.log"; then
    t=$(clamp "$cap")
    timeout "$t" "$sanitizer" --tool "$tool" --error-exitcode 9 "${extra[@]/--kernel-name-exclude/--exclude}" \
      $CUIQL train --dataset gpu-data.h5 --out "gpu-run-$name-2" --steps 12 --device cuda --quiet \
      --set log_every=4 --set hidden=[64,64] --set batch_size=256 --set target_update_rate=0.005 "${train[@]}" \
      >>"$LOGS/sanitize-$name.log" 2>&1
    rc=$?
  fi
  summary "sanitize $name ($tool): exit $rc ($(grep -m1 'ERROR SUMMARY' "$LOGS/sanitize-$name.log" || tail -1 "$LOGS/sanitize-$name.log"))"
}

# cuBLAS's and cuBLASLt's own kernels are not ours to check (and racecheck is slow on them).
# None of ours has these in its name (kernels/*.cu: *_kernel).
NOT_CUBLAS=(--kernel-name-exclude kns=gemm --kernel-name-exclude kns=cutlass --kernel-name-exclude kns=xmma
  --kernel-name-exclude kns=splitK --kernel-name-exclude kns=gemv --kernel-name-exclude kns=sm90
  --kernel-name-exclude kns=ampere --kernel-name-exclude kns=Kernel2)

stage_sanitize_first() {
  sanitize memcheck-fast memcheck 60 --gemm-epilogues --parallel-nets --set replay=host
}

stage_sanitize_second() {
  sanitize racecheck-fast racecheck 90 --gemm-epilogues --parallel-nets --set replay=host -- "${NOT_CUBLAS[@]}"
  sanitize initcheck-fast initcheck 60 --gemm-epilogues --parallel-nets
  sanitize synccheck-parallel synccheck 60 --parallel-nets -- "${NOT_CUBLAS[@]}"
  sanitize memcheck-plain memcheck 60 --set replay=device
}

# Nsight Compute over one steady-state eager step at B = 256, per kernel: duration and the share
# of the SMs' and memory's peak (SpeedOfLight). --clock-control none: the clocks stay as they
# are (never locked). Eager steps are all alike after the warm-up, so launches 2000–2069 are a
# whole step's (49–61 launches) in either variant.
stage_profile() {
  local ncu t
  ncu=$(command -v ncu || find /usr/local /opt -name ncu -type f -perm -u+x -print -quit 2>/dev/null)
  [ -n "$ncu" ] || { summary "profile: no ncu on this machine"; return; }
  for flags in "" "--gemm-epilogues --parallel-nets"; do
    local name=ncu-b256${flags:+-fast}
    t=$(clamp 60)
    [ "$t" -gt 20 ] || { summary "profile: skipped, out of time"; return; }
    timeout "$t" "$ncu" --clock-control none --launch-skip 2000 --launch-count 70 --section SpeedOfLight --csv \
      --page raw --metrics gpu__time_duration.sum $CUIQL bench --device cuda --batch 256 --steps 60 --phases 0 \
      --no-graphs $flags >"$LOGS/$name.csv" 2>"$LOGS/$name.err"
    summary "profile ${flags:-plain}: exit $?, $(grep -c '^"[0-9]' "$LOGS/$name.csv") kernels (logs.tar.gz: $name.csv)"
  done
}

stage_peers() {
  local peers=(
    "bench/peer_torch_iql.py --device cuda --mode graph --batch 256 --steps 20000 --check"
    "bench/peer_torch_iql.py --device cuda --mode graph --batch 65536 --steps 500"
    "bench/peer_jax_iql.py --backend gpu --scan 100 --batch 256 --steps 20000"
    "bench/peer_jax_iql.py --backend gpu --scan 1 --batch 65536 --steps 500"
    "bench/peer_torch_iql.py --device cuda --mode eager --batch 256 --steps 2000"
    "bench/peer_torch_iql.py --device cuda --mode compile --batch 256 --steps 20000"
  )
  for p in "${peers[@]}"; do
    local t
    t=$(clamp 90)
    [ "$t" -gt 30 ] || { summary "peers: out of time before $p"; break; }
    echo "## $p" >>"$LOGS/peers.log"
    PYTHONUNBUFFERED=1 timeout "$t" python3 $p >>"$LOGS/peers.log" 2>&1
    summary "peer $p: exit $?: $(tail -1 "$LOGS/peers.log" | cut -c1-120)"
  done
}

# One line per benchmark configuration, from bench.jsonl.
bench_summary() {
  [ -s "$OUT/bench.jsonl" ] || return
  python3 - "$OUT/bench.jsonl" <<'PY' >>"$OUT/summary.txt" 2>&1
import json, sys
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    way = "+".join(w for w, on in (("epilogues", r["gemm_epilogues"]), ("parallel", r["parallel_nets"]),
                                   ("no-graphs", not r["graphs"])) if on) or "plain"
    mem = (r["memory_measured_bytes"] or 0) / 2**30
    print(f"bench B={r['batch']} P={r['members']} {r['precision']} rho={r['rho']} {way} replay={r['replay']}: "
          f"{r['steps_per_s']:.1f} steps/s, floor {r['floor_steps_per_s']:.0f} ({r['floor_bound']}), "
          f"measured/floor {r['measured_over_floor']:.3f}, {r['memory_bytes_per_member'] / 2**20:.0f} MiB/member "
          f"(measured {mem:.2f} GiB in all)")
PY
}

# Data parallel on one GPU, without MPI (the image has none): the NCCL op over one rank eager and
# captured, and the step with the reduce phase in place at the batches of bench/RESULTS.md §7.
stage_dp() {
  (cd build-gpu/tests/gpu && timeout 60 ./cuda_allreduce) >"$LOGS/dp-allreduce.log" 2>&1
  summary "dp: cuda_allreduce exit $?: $(tail -1 "$LOGS/dp-allreduce.log")"
  for b in 4096 65536; do
    [ "$(left)" -gt 30 ] || { summary "dp: out of time before B = $b"; break; }
    timeout 90 build-gpu/bench/bench_data_parallel --local --device cuda --batch $b --phases >"$LOGS/dp-$b.log" 2>&1
    local rc=$?
    cat "$LOGS/dp-$b.log" >>"$OUT/bench.log"
    summary "dp B=$b: exit $rc, $(grep '^steps/s' "$LOGS/dp-$b.log" | awk '{print $2}') steps/s, reduce" \
      "$(grep ' reduce ' "$LOGS/dp-$b.log" | awk '{print $2, $3}')"
  done
}

if [ "$call" = first ]; then
  stage_tests
  stage_bench_first
  stage_sanitize_first
else
  stage_sanitize_second
  stage_bench_second
  stage_profile
  stage_peers
  stage_dp
fi
bench_summary
[ -f "$LOGS/test-figures.txt" ] && head -12 "$LOGS/test-figures.txt" >>"$OUT/summary.txt"
exit 0
