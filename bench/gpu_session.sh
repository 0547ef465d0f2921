#!/usr/bin/env bash
# gpu_session.sh — everything a lent GPU is for, in one call (device tool: run this script).
# Builds for sm_90, runs the GPU tests, compute-sanitizer (memcheck, racecheck) over a short
# training run, and the throughput benchmarks; logs go to $OUT (or ./gpu-out).
#   bash bench/gpu_session.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"

cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DCUIQL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 >"$OUT/configure.log" 2>&1 &&
  cmake --build build-gpu -j 16 >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }

ctest --test-dir build-gpu -L gpu --output-on-failure 2>&1 | tee "$OUT/ctest-gpu.log" | tail -15

# A short real run under the sanitizers.
python3 - <<'PY'
import h5py, numpy as np
rng = np.random.default_rng(0); n = 20000
obs = rng.normal(size=(n + 1, 17)).astype(np.float32)
with h5py.File("gpu-data.h5", "w") as f:
    f["observations"], f["next_observations"] = obs[:-1], obs[1:]
    f["actions"] = rng.uniform(-1, 1, (n, 6)).astype(np.float32)
    f["rewards"] = rng.normal(size=n).astype(np.float32)
    f["terminals"] = np.zeros(n, bool); f["timeouts"] = np.zeros(n, bool)
PY
for tool in memcheck racecheck; do
  compute-sanitizer --tool $tool --error-exitcode 9 build-gpu/cuiql train --dataset gpu-data.h5 \
    --out "gpu-run-$tool" --steps 20 --device cuda --set log_every=10 --quiet >"$OUT/sanitizer-$tool.log" 2>&1
  echo "compute-sanitizer $tool: exit $? ($(grep -c 'ERROR SUMMARY: 0' "$OUT/sanitizer-$tool.log") clean summaries)"
done

{
  for b in 256 4096 65536; do build-gpu/bench/bench_step --device cuda --batch $b --phases; echo; done
  build-gpu/bench/bench_step --device cuda --batch 256 --no-graphs; echo
  build-gpu/bench/bench_step --device cuda --batch 65536 --precision tf32; echo
  build-gpu/bench/bench_step --device cuda --batch 256 --members 64; echo
  build-gpu/bench/bench_step --device cuda --batch 256 --members 64 --rho 0.005; echo
} 2>&1 | tee "$OUT/bench.log" | grep -E "shape|steps/s|floor|achieved|phases|  [a-z]+ +[0-9]"
