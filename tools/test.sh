#!/usr/bin/env bash
# test.sh — installs what is missing, builds, and runs every test (ctest). GPU tests (label
# gpu) skip where no CUDA device is present; run only them with: tools/test.sh -L gpu
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh ${CUIQL_CUDA:+-DCUIQL_CUDA=$CUIQL_CUDA}
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
