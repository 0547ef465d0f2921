#!/usr/bin/env bash
# gpu_session.sh — everything a lent GPU is for, in one device call of under 10 minutes:
# the GPU tests, the benchmarks, compute-sanitizer (memcheck, racecheck, initcheck, synccheck)
# over short training runs, and the PyTorch and JAX peers on the same GPU. Each stage has a
# time limit and the stages run in order of value, so a slow one cannot starve the rest.
#
#   here:        tools/gpu_bundle.sh       (builds for sm_90 with the libraries the image lacks)
#   device run:  carry ["gpu-bundle.tar.xz"], command "bash bench/gpu_session.sh [STAGE ...]"
#
# STAGE: tests, bench, sanitize, peers, profile, dp (default: the first four; profile runs Nsight
# Compute over one B = 256 step; dp times the data-parallel step with NCCL over one rank). Without the bundle it builds on
# the device, which works only where HDF5, OpenBLAS and libyaml are installed. Logs go to $OUT
# (or ./gpu-out): summary.txt, bench.log, ctest-gpu.log and logs.tar.gz with everything.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT/logs"
LOGS=$OUT/logs
stages=${*:-tests bench sanitize peers}
budget=${GPU_SESSION_SECONDS:-560}   # the device tool stops a command at 600 s
SECONDS=0
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
left() { echo $((budget - SECONDS)); }
finish() {
  tar -C "$OUT" -czf "$OUT/logs.tar.gz" logs 2>/dev/null && rm -rf "$LOGS"
  echo "==== summary ($SECONDS s) ===="
  cat "$OUT/summary.txt"
}
trap finish EXIT

# ---- set up: the bundle (or a build), the libraries, the tree's path --------------------------
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader |
  sed 's/^/gpu: /' | tee -a "$OUT/summary.txt"
if [ -f gpu-bundle.tar.xz ]; then
  python3 -c 'import tarfile; tarfile.open("gpu-bundle.tar.xz").extractall(".")' || { summary "setup: cannot unpack the bundle"; exit 1; }
  built_at=$(cat build-gpu/source-dir)
  if [ "$built_at" != "$PWD" ]; then
    # ctest files and the RPATH name the tree's path on the machine that built the bundle.
    if [ ! -e "$built_at" ]; then mkdir -p "$(dirname "$built_at")" && ln -s "$PWD" "$built_at"; fi
    [ "$(cd "$built_at" && pwd -P)" = "$(pwd -P)" ] || summary "setup: $built_at exists and is not this tree; ctest will fail"
  fi
  summary "setup: bundle built at $built_at, unpacked in $PWD"
else
  cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCUIQL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >"$LOGS/configure.log" 2>&1 &&
    cmake --build build-gpu -j 16 >"$LOGS/build.log" 2>&1 || { summary "setup: build failed (no bundle; see logs)"; tail -20 "$LOGS"/*.log; exit 1; }
fi
if ! ldconfig -p | grep -q libcublas.so.13; then  # the image's CUDA libraries, where ldconfig does not list them
  cublas=$(find /usr/local /usr/lib /opt -name 'libcublas.so.13' -print -quit 2>/dev/null)
  [ -n "$cublas" ] && export LD_LIBRARY_PATH=$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
build-gpu/cuiql version 2>&1 | tee "$LOGS/version.txt" | sed 's/^/version: /' | tee -a "$OUT/summary.txt"
if ldd build-gpu/cuiql | grep -q 'not found'; then summary "setup: missing libraries:"; ldd build-gpu/cuiql | grep 'not found' | tee -a "$OUT/summary.txt"; exit 1; fi

# ---- stages ------------------------------------------------------------------------------------
stage_tests() {
  if command -v ctest >/dev/null; then
    timeout $(( $(left) < 240 ? $(left) : 240 )) ctest --test-dir build-gpu -L gpu --output-on-failure --timeout 200 \
      >"$OUT/ctest-gpu.log" 2>&1
    local rc=$?
    summary "tests: ctest -L gpu exit $rc: $(grep -E 'tests passed|tests failed' "$OUT/ctest-gpu.log" | tail -1)"
    grep -E '^ *[0-9]+/[0-9]+ Test' "$OUT/ctest-gpu.log" | sed 's/^/  /' | tee -a "$OUT/summary.txt"
  else  # no ctest on the image: the same programs, by hand
    for t in build-gpu/tests/gpu/cuda_* build-gpu/tests/gpu_train/cuda_*; do
      [ -x "$t" ] || continue
      (cd "$(dirname "$t")" && timeout 200 "./$(basename "$t")") >>"$OUT/ctest-gpu.log" 2>&1
      local rc=$?
      summary "tests: $(basename "$t") exit $rc"
    done
  fi
}

stage_bench() {
  local fast="--gemm-epilogues --parallel-nets"
  local runs=(
    "--batch 256 --phases" "--batch 256 --gemm-epilogues" "--batch 256 --parallel-nets" "--batch 256 $fast --phases"
    "--batch 256 --no-graphs" "--batch 256 --rho 0.005" "--batch 256 --rho 0.005 $fast"
    "--batch 4096 --phases" "--batch 4096 $fast"
    "--batch 65536 --phases" "--batch 65536 $fast --phases" "--batch 65536 --precision tf32"
    "--batch 65536 --precision tf32 $fast"
    "--batch 256 --members 64" "--batch 256 --members 64 $fast" "--batch 256 --members 64 --rho 0.005"
  )
  for args in "${runs[@]}"; do
    [ "$(left)" -gt 30 ] || { summary "bench: out of time before $args"; break; }
    echo "## bench_step --device cuda $args" >>"$OUT/bench.log"
    timeout 60 build-gpu/bench/bench_step --device cuda $args >"$LOGS/bench-one.log" 2>&1
    local rc=$?
    cat "$LOGS/bench-one.log" >>"$OUT/bench.log"
    if [ $rc = 0 ]; then
      summary "bench $args: $(grep '^steps/s' "$LOGS/bench-one.log" | awk '{print $2}') steps/s," \
        "$(grep '^floor' "$LOGS/bench-one.log" | sed 's/.*measured\/floor = /measured\/floor /')"
    else
      summary "bench $args: exit $rc: $(tail -1 "$LOGS/bench-one.log")"
    fi
    echo >>"$OUT/bench.log"
  done
}

stage_sanitize() {
  local sanitizer
  sanitizer=$(command -v compute-sanitizer || find /usr/local /opt -name compute-sanitizer -type f -perm -u+x -print -quit 2>/dev/null)
  [ -n "$sanitizer" ] || { summary "sanitize: no compute-sanitizer on this machine"; return; }
  python3 - <<'PY' || { summary "sanitize: could not write the dataset"; return; }
import h5py, numpy as np
rng = np.random.default_rng(0); n = 20000
obs = rng.normal(size=(n + 1, 17)).astype(np.float32)
with h5py.File("gpu-data.h5", "w") as f:
    f["observations"], f["next_observations"] = obs[:-1], obs[1:]
    f["actions"] = rng.uniform(-1, 1, (n, 6)).astype(np.float32)
    f["rewards"] = rng.normal(size=n).astype(np.float32)
    f["terminals"] = np.zeros(n, bool); f["timeouts"] = np.zeros(n, bool)
PY
  local runs=(
    "memcheck replay=device" "memcheck replay=host" "memcheck replay=device --gemm-epilogues --parallel-nets"
    "racecheck replay=device" "racecheck replay=device --gemm-epilogues --parallel-nets"
    "initcheck replay=device --gemm-epilogues --parallel-nets" "synccheck replay=device --parallel-nets"
  )
  local i=0
  for run in "${runs[@]}"; do
    [ "$(left)" -gt 40 ] || { summary "sanitize: out of time before $run"; break; }
    set -- $run
    i=$((i + 1))
    timeout $(( $(left) < 120 ? $(left) : 120 )) "$sanitizer" --tool "$1" --error-exitcode 9 \
      build-gpu/cuiql train --dataset gpu-data.h5 --out "gpu-run-$i" --steps 20 --device cuda \
      --set log_every=10 --set "$2" "${@:3}" --quiet >"$LOGS/sanitizer-$i.log" 2>&1
    local rc=$?
    summary "sanitize $run: exit $rc ($(grep -m1 'ERROR SUMMARY' "$LOGS/sanitizer-$i.log" || tail -1 "$LOGS/sanitizer-$i.log"))"
  done
}

stage_peers() {
  local peers=(
    "bench/peer_torch_iql.py --device cuda --mode eager --batch 256 --steps 2000"
    "bench/peer_torch_iql.py --device cuda --mode graph --batch 256 --steps 20000 --check"
    "bench/peer_jax_iql.py --backend gpu --scan 1 --batch 256 --steps 20000 --check"
    "bench/peer_jax_iql.py --backend gpu --scan 100 --batch 256 --steps 20000"
    "bench/peer_torch_iql.py --device cuda --mode graph --batch 65536 --steps 500"
    "bench/peer_jax_iql.py --backend gpu --scan 1 --batch 65536 --steps 500"
    "bench/peer_torch_iql.py --device cuda --mode compile --batch 256 --steps 20000"
  )
  for p in "${peers[@]}"; do
    [ "$(left)" -gt 45 ] || { summary "peers: out of time before $p"; break; }
    echo "## $p" >>"$LOGS/peers.log"
    PYTHONUNBUFFERED=1 timeout $(( $(left) < 150 ? $(left) : 150 )) python3 $p >>"$LOGS/peers.log" 2>&1
    local rc=$?
    summary "peer $p: exit $rc: $(tail -1 "$LOGS/peers.log")"
  done
}

# Per kernel of one steady-state B = 256 step (eager, so each op is its own launch): duration
# and the share of the SMs' and memory's peak it reached, from Nsight Compute.
stage_profile() {
  local ncu
  ncu=$(command -v ncu || find /usr/local /opt -name ncu -type f -perm -u+x -print -quit 2>/dev/null)
  [ -n "$ncu" ] || { summary "profile: no ncu on this machine"; return; }
  for flags in "" "--gemm-epilogues --parallel-nets"; do
    local name=ncu-b256${flags:+-fast}
    # Eager steps after the first few are all alike: 50 warm-up and 40 timed steps of 49–61
    # launches, so launches 3300–3370 are one whole steady-state step in either variant.
    timeout $(( $(left) < 150 ? $(left) : 150 )) "$ncu" --launch-skip 3300 --launch-count 70 --section SpeedOfLight \
      --csv --page raw --metrics gpu__time_duration.sum build-gpu/bench/bench_step --device cuda --batch 256 \
      --steps 40 --no-graphs $flags >"$LOGS/$name.csv" 2>"$LOGS/$name.err"
    local rc=$?
    summary "profile ${flags:-plain}: exit $rc, $(grep -c '^"[0-9]' "$LOGS/$name.csv") kernels (logs.tar.gz: $name.csv)"
  done
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

for s in $stages; do
  case $s in
    tests | bench | sanitize | peers | profile | dp) [ "$(left)" -gt 20 ] && "stage_$s" || summary "$s: skipped, out of time" ;;
    *) summary "unknown stage $s (tests, bench, sanitize, peers, profile, dp)" ;;
  esac
done
