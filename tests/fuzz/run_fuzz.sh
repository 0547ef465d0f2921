#!/usr/bin/env bash
# run_fuzz.sh BUILD_DIR TARGET SEED_DIR WORK_DIR — one fuzzer of tests/fuzz/ (TARGET: d4rl, minari,
# checkpoint, config): first every input of regressions/TARGET/ once (what fuzzing found before,
# fixed since), then fuzzing for $CUIQL_FUZZ_SECONDS (60 by default; at most $CUIQL_FUZZ_RUNS inputs) from the seeds, the
# regressions and what earlier runs kept in WORK_DIR. A crash, leak, hang or out-of-memory fails
# the test and leaves the input in WORK_DIR/artifacts-TARGET/: once the bug is fixed, copy it to
# tests/fuzz/regressions/TARGET/. Exits 77 when the harness was not built (no clang).
set -uo pipefail
build=$1 target=$2 seeds=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
bin=$build/fuzz_$target
if [ ! -x "$bin" ]; then echo "run_fuzz.sh: $bin not built (no clang with libFuzzer: build_fuzzers.sh)"; exit 77; fi
seconds=${CUIQL_FUZZ_SECONDS:-60}
regress=$here/regressions/$target
corpus=$work/corpus-$target artifacts=$work/artifacts-$target
mkdir -p "$corpus" "$artifacts"
# A huge malloc returns NULL as it does outside ASan (HDF5 asks for exabytes on some corrupted
# files and reports the refusal itself); full stacks for the leak suppressions (lsan.supp); a
# smaller quarantine keeps the helper's fork cheap (fuzz_isolate.c).
# (The config harness has no HDF5, hence no suppressions: the fast unwinder will do.)
unwind=0
[ "$target" = config ] && unwind=1
# One allocation over 1 GB returns NULL (max_allocation_size_mb), as on a machine without the
# memory: HDF5 asks for gigabytes on crafted object headers and reports the refusal itself; the
# readers' own limit is 256 MB here (fuzz_h5.c). libFuzzer's malloc limit stays above it.
# handle_abort, handle_sigill: an abort() or illegal instruction in HDF5 is reported by ASan with
# its frames like HDF5's other crashes (a refusal); left to libFuzzer's own handler, the helper
# died of it without an answer (fuzz_isolate.c).
export ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1:fast_unwind_on_malloc=$unwind:quarantine_size_mb=32:handle_abort=1:handle_sigill=1
export LSAN_OPTIONS=suppressions=$here/lsan.supp
export UBSAN_OPTIONS=print_stacktrace=1
# A fixed seed (CUIQL_FUZZ_SEED, 1 by default): from a fresh corpus the mutations come in one
# order, so a short run (CI's 60 s) explores a prefix of what a long run with the same seed
# explored; a long run that found nothing vouches for the short ones. CUIQL_FUZZ_SEED=0: random.
fuzz_seed=${CUIQL_FUZZ_SEED:-1}
# ... and a bounded number of inputs (CUIQL_FUZZ_RUNS, 8000 by default; -1: no bound, for the long
# runs): with the seed fixed, the first 8000 mutations are the same on every machine, so CI's
# run is the one checked here, not whatever a faster machine reaches in 60 s.
fuzz_runs=${CUIQL_FUZZ_RUNS:-8000}
flags=(-max_len=65536 -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1
       -seed="$fuzz_seed" -artifact_prefix="$artifacts/")
fuzz_flags=(-runs="$fuzz_runs")
inputs=("$regress"/*)
if [ -e "${inputs[0]}" ]; then
  if ! "$bin" "${flags[@]}" "${inputs[@]}" >"$work/regressions-$target.log" 2>&1; then
    tail -60 "$work/regressions-$target.log"
    echo "run_fuzz.sh: fuzz_$target: a regression input fails again ($work/regressions-$target.log)"
    exit 1
  fi
  # Again with ASan's SIGSEGV handler off: a crash then kills the helper through libFuzzer's own
  # handler, without an answer on the pipe, and the harness must judge it by the report in the
  # helper's stderr by the same rule (two long runs once stopped on such silent deaths).
  if ! ASAN_OPTIONS=$ASAN_OPTIONS:handle_segv=0 "$bin" "${flags[@]}" "${inputs[@]}" >"$work/regressions-nosegv-$target.log" 2>&1; then
    tail -60 "$work/regressions-nosegv-$target.log"
    echo "run_fuzz.sh: fuzz_$target: a regression input fails with handle_segv=0 ($work/regressions-nosegv-$target.log)"
    exit 1
  fi
  echo "run_fuzz.sh: fuzz_$target: ${#inputs[@]} regression inputs pass (and with ASan's SIGSEGV handler off)"
fi
# (The regressions are not seeds: most crash HDF5 in the helper, and mutating them would spend
# the time restarting it.)
dirs=("$corpus" "$seeds/$target")
"$bin" "${flags[@]}" "${fuzz_flags[@]}" -max_total_time="$seconds" "${dirs[@]}" >"$work/fuzz-$target.log" 2>&1
rc=$?
grep -E "^(#[0-9]+ +DONE|stat::)" "$work/fuzz-$target.log" | sed "s/^/fuzz_$target: /"
if [ $rc -ne 0 ]; then
  grep -v -E "^#[0-9]+ " "$work/fuzz-$target.log" | tail -80
  echo "run_fuzz.sh: fuzz_$target found a bug in ${seconds} s: $(ls -t "$artifacts" | head -1) in $artifacts; " \
       "fix it, then add the input to tests/fuzz/regressions/$target/"
  exit 1
fi
echo "run_fuzz.sh: fuzz_$target: ${seconds} s or ${fuzz_runs} inputs, no finding"
