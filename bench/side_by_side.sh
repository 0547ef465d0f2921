#!/usr/bin/env bash
# side_by_side.sh — cuiql's CPU step against the JAX and PyTorch peers, on the same pinned cores,
# each program in turn, round after round, so that a change in the machine's load hits all alike.
#
#   bench/side_by_side.sh [ROUNDS]     (from the repository root, after building into build/)
#
# Environment: JAX_PYTHON (default python3, needs jax[cpu] and optax), TORCH_PYTHON (default
# python3; a missing torch is skipped), STEPS (default 3000; PyTorch runs a third of them).
# One line per run: the time, the load average, the program and its steps/s; cuiql's line adds
# its load check (what other processes took during its two timings: src/run/machine_load.h).
# Results: bench/RESULTS.md §2c.
set -u
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${STEPS:-3000}
JAX_PYTHON=${JAX_PYTHON:-python3}
TORCH_PYTHON=${TORCH_PYTHON:-python3}

run() {  # LABEL COMMAND...: one line
  local label=$1 la out rate
  shift
  la=$(cut -d' ' -f1-3 /proc/loadavg)
  out=$("$@" 2>&1)
  case $label in
    cuiql*) rate="$(echo "$out" | awk '$1 == "rate" {print $2}') steps/s | $(echo "$out" | sed -n 's/^ *load check *//p')" ;;
    *) rate=$(echo "$out" | tail -1) ;;
  esac
  echo "$(date -u +%H:%M:%S) [load $la] $label: $rate"
}

for round in $(seq "$ROUNDS"); do
  for cores in 1 2; do
    cpus=$([ "$cores" = 1 ] && echo 0 || echo 0,1)
    run "cuiql threads=$cores" taskset -c "$cpus" build/bench/bench_step --batch 256 --threads "$cores" --steps "$STEPS"
    run "jax scan=1 cores=$cores" taskset -c "$cpus" "$JAX_PYTHON" bench/peer_jax_iql.py --backend cpu --scan 1 --steps "$STEPS"
    run "jax scan=100 cores=$cores" taskset -c "$cpus" "$JAX_PYTHON" bench/peer_jax_iql.py --backend cpu --scan 100 --steps "$STEPS"
    if "$TORCH_PYTHON" -c "import torch" 2>/dev/null; then
      run "torch threads=$cores" taskset -c "$cpus" "$TORCH_PYTHON" bench/peer_torch_iql.py --threads "$cores" --steps $((STEPS / 3))
    fi
  done
done
