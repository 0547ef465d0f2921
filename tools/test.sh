#!/usr/bin/env bash
# test.sh — installs what is missing, builds, and runs every test (ctest). GPU tests (label
# gpu) skip where no CUDA device is present; run only them with: tools/test.sh -L gpu
# Extra arguments go to ctest: tools/test.sh -LE 'learning|emu|fuzz|hostile|asan' leaves out the tests that take
# minutes (the README says how long the whole run takes).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh ${CUIQL_CUDA:+-DCUIQL_CUDA=$CUIQL_CUDA}
start=$SECONDS
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
echo "tools/test.sh: ctest took $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
