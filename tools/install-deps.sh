#!/usr/bin/env bash
# install-deps.sh — installs what cuiql needs to build and test, on Debian/Ubuntu (as root or
# with sudo): a C compiler, CMake, HDF5, OpenBLAS, libyaml; and the Python packages the tests
# use as independent references (NumPy, h5py, tensorboard, gymnasium with MuJoCo, minari, matplotlib).
# The CUDA toolkit is optional: with nvcc on PATH the CUDA backend is built too. OpenMPI is
# for data-parallel training (--data-parallel) and its tests; OpenMPI's mpirun and Slurm with
# munge (a one-node cluster: tools/slurm-local.sh) are also the sharded-sweep tests' launchers.
# clang, with its compiler-rt (libFuzzer, the sanitizers), builds the fuzzing tests (tests/fuzz/).
#
# Quiet when everything is present. Otherwise each step says `install-deps: <step>`; a step
# that fails prints the failing command's own output (its last lines; the whole log stays in
# a file it names) and the package it was installing, and the script stops there.
#
# Adding a dependency is one line in APT_PACKAGES or PIP_PACKAGES below.
set -euo pipefail

# ---- what cuiql needs ------------------------------------------------------------------------
# APT_PACKAGES: "CHECK PACKAGE..." — the Debian packages are installed when CHECK fails:
#   cmd:NAME    a command on PATH          pc:NAME    a pkg-config module
#   py:MODULE   a module python3 imports   (checks run in this order; python3 comes before py:)
#   fuzzer:CC   CC links -fsanitize=fuzzer (libFuzzer, in clang's compiler-rt)
APT_PACKAGES=(
  "cmd:cc build-essential"
  "cmd:cmake cmake"
  "cmd:pkg-config pkg-config"
  "pc:hdf5 libhdf5-dev"
  "pc:openblas libopenblas-dev"
  "pc:yaml-0.1 libyaml-dev"
  "cmd:mpicc libopenmpi-dev"
  "cmd:mpirun openmpi-bin"
  "cmd:sbatch slurm-wlm"
  "cmd:munged munge"
  "cmd:clang clang"
  "fuzzer:clang libclang-rt-dev"
  "cmd:python3 python3"
  "py:pip python3-pip"
)
# PIP_PACKAGES: "MODULE REQUIREMENT" — `pip install REQUIREMENT` when python3 cannot import MODULE.
PIP_PACKAGES=(
  "numpy numpy"
  "h5py h5py"
  "tensorboard tensorboard"
  "gymnasium gymnasium"
  "mujoco gymnasium[mujoco]"
  "minari minari"
  "matplotlib matplotlib"
)

# ---- how -------------------------------------------------------------------------------------
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: not root and no sudo: run it as root, or install sudo" >&2
    exit 1
  fi
  SUDO="sudo"
fi
PYTHON="${PYTHON:-python3}"

# step WHAT PACKAGE COMMAND...: runs COMMAND with its output kept; on failure shows it.
step() {
  local what=$1 package=$2
  shift 2
  echo "install-deps: $what"
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/install-deps.XXXXXX")
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then
    rm -f "$log"
    return 0
  fi
  {
    echo "install-deps: FAILED installing $package (exit status $rc): $*"
    echo "----- its output (last 40 lines; all of it in $log) -----"
    tail -n 40 "$log"
    echo "-----"
  } >&2
  exit 1
}

present() {  # present CHECK: 0 when the check holds
  local kind=${1%%:*} name=${1#*:}
  case $kind in
    cmd) command -v "$name" >/dev/null 2>&1 ;;
    pc) command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "$name" 2>/dev/null ;;
    py) command -v "$PYTHON" >/dev/null 2>&1 && "$PYTHON" -c "import $name" >/dev/null 2>&1 ;;
    fuzzer) command -v "$name" >/dev/null 2>&1 &&
      echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
        "$name" -x c - -fsanitize=fuzzer -o /dev/null >/dev/null 2>&1 ;;
    *) echo "install-deps: unknown check '$1' in APT_PACKAGES" >&2; exit 2 ;;
  esac
}

# Debian's own python3 refuses pip installs into the system (PEP 668) unless told; only then is
# --break-system-packages added, so any other failure shows pip's own message.
pip_install() {
  local out rc=0
  out=$("$PYTHON" -m pip install --progress-bar off "$1" 2>&1) || rc=$?
  if [ "$rc" != 0 ] && grep -q "externally-managed-environment" <<<"$out"; then
    "$PYTHON" -m pip install --progress-bar off --break-system-packages "$1"
    return
  fi
  printf '%s\n' "$out"
  return "$rc"
}

apt_updated=0
for line in "${APT_PACKAGES[@]}"; do
  read -r check packages <<<"$line"
  present "$check" && continue
  if [ "$apt_updated" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    step "apt-get update" "the package lists (apt-get update)" $SUDO apt-get update
    apt_updated=1
  fi
  # shellcheck disable=SC2086  # several packages on one line are meant to split
  step "apt-get install $packages (for $check)" "$packages" $SUDO apt-get install -y --no-install-recommends $packages
done

for line in "${PIP_PACKAGES[@]}"; do
  read -r module requirement <<<"$line"
  present "py:$module" && continue
  step "pip install $requirement (for import $module)" "$requirement" pip_install "$requirement"
done
