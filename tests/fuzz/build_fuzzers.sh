#!/usr/bin/env bash
# build_fuzzers.sh BUILD_DIR SEED_DIR FIXTURE_DIR — builds the harnesses of tests/fuzz/ with clang
# (project/, a CMake project of its own: the main build may use gcc) and writes their seed
# corpora (make_seeds.py). The ctest fixture fuzz_build runs it before the fuzz_* tests. Exits 77
# (skipped) when there is no clang that links -fsanitize=fuzzer (tools/install-deps.sh installs
# clang and its compiler-rt, which holds libFuzzer).
set -euo pipefail
build=$1 seeds=$2 fixtures=$3
here=$(cd "$(dirname "$0")" && pwd)
clang=""
for c in clang clang-18 clang-17 clang-16 clang-15 clang-14; do
  if command -v "$c" >/dev/null; then clang=$(command -v "$c"); break; fi
done
if [ -z "$clang" ]; then echo "build_fuzzers.sh: no clang; the fuzzers need clang's libFuzzer"; exit 77; fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' > "$probe/p.c"
if ! "$clang" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>"$probe/err"; then
  echo "build_fuzzers.sh: $clang cannot link -fsanitize=fuzzer (libclang-rt-dev missing?): $(head -1 "$probe/err")"
  exit 77
fi
cmake -S "$here/project" -B "$build" -DCMAKE_C_COMPILER="$clang" -DCMAKE_BUILD_TYPE= >/dev/null
cmake --build "$build" -j "$(nproc)"
python3 "$here/make_seeds.py" "$seeds" "$fixtures"
