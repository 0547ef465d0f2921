#!/usr/bin/env bash
# build.sh — configures and builds cuiql into build/ (the CUDA backend too when nvcc is found).
# Extra arguments go to CMake, e.g. tools/build.sh -DCUIQL_CUDA=OFF
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$(nproc)"
