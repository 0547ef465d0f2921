#!/usr/bin/env bash
# install-deps.sh — installs what cuiql needs to build and test, on Debian/Ubuntu (as root or
# with sudo): a C compiler, CMake, HDF5, OpenBLAS, libyaml; and the Python packages the tests
# use as independent references (NumPy, h5py, tensorboard, gymnasium with MuJoCo, minari, matplotlib).
# The CUDA toolkit is optional: with nvcc on PATH the CUDA backend is built too.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_apt=0
for pc in hdf5 openblas yaml-0.1; do pkg-config --exists "$pc" 2>/dev/null || need_apt=1; done
for tool in cmake cc pkg-config; do command -v "$tool" >/dev/null || need_apt=1; done
if [ "$need_apt" = 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends build-essential cmake pkg-config \
    libhdf5-dev libopenblas-dev libyaml-dev python3 python3-pip
fi

PY_PACKAGES="numpy h5py tensorboard gymnasium[mujoco] minari matplotlib"
if ! python3 -c "import numpy, h5py, tensorboard, gymnasium, mujoco, minari, matplotlib" 2>/dev/null; then
  # Debian's own python3 refuses pip installs into the system (PEP 668) unless told.
  python3 -m pip install -q $PY_PACKAGES 2>/dev/null ||
    python3 -m pip install -q --break-system-packages $PY_PACKAGES
fi
