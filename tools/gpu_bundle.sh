#!/usr/bin/env bash
# gpu_bundle.sh — builds cuiql here for a lent GPU machine and packs it with the shared
# libraries that machine lacks, into gpu-bundle.tar.xz (ignored by git).
#
#   tools/gpu_bundle.sh          then: device run, carry ["gpu-bundle.tar.xz"],
#                                command "bash bench/gpu_session.sh"
#
# Why: the device image has CUDA 13 (nvcc, cudart, cuBLAS, cuRAND), glibc and libstdc++ but no
# HDF5, OpenBLAS or libyaml development files, and it cannot install packages. So the build
# happens here, where they are, for sm_90 and a portable x86-64-v3 host CPU, and every library
# the binaries load beyond glibc, libstdc++ and the CUDA libraries travels with them in
# build-gpu/lib, found through an RPATH (DT_RPATH, which also covers the libraries' own
# dependencies, such as HDF5's libcurl). Without MPI: the image has none, and OpenMPI's own
# plugins load libraries an RPATH does not reach (data parallel on one GPU runs without it:
# bench_data_parallel --local). The build directory keeps this tree's absolute path
# (ctest files name it); gpu_session.sh links that path to the device's copy of the tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build-gpu
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH="/usr/local/cuda/bin:$PATH"; fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCUIQL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCUIQL_MARCH=x86-64-v3 -DPYTHON3=python3 -DCUIQL_MPI=OFF \
  -DCMAKE_BUILD_RPATH="$build/lib" -DCMAKE_EXE_LINKER_FLAGS="-Wl,--disable-new-dtags" >/dev/null
cmake --build "$build" -j "$(nproc)"

# The libraries a bare CUDA image is assumed to have; everything else is copied.
provided='linux-vdso|ld-linux|/libc\.so|/libresolv\.so|/libm\.so|/libdl\.so|/libpthread\.so|/librt\.so|/libgcc_s\.so|/libstdc\+\+\.so|/libcublas|/libcurand'
mapfile -t binaries < <(find "$build" -path "$build/CMakeFiles" -prune -o -type f -perm -u+x -print |
  while read -r f; do file -b "$f" | grep -q '^ELF' && echo "$f"; done | grep -v /CMakeFiles/)
rm -rf "${build:?}/lib"  # emptied first: ldd would otherwise find the last bundle's copies
mkdir -p "$build/lib"
for f in "${binaries[@]}"; do
  ldd "$f" | awk '/=> \// {print $3}'
done | sort -u | grep -v -E "$provided" | while read -r lib; do
  cp -L "$lib" "$build/lib/"
done

# Check: with the bundle first on the path, nothing but the provided libraries comes from the
# system. (ldd shows the bundle's copies because the RPATH is searched before the system.)
status=0
for f in "${binaries[@]}"; do
  outside=$(ldd "$f" | grep '=>' | grep -v -E "$provided" | grep -v "$build/lib/" || true)
  if [ -n "$outside" ]; then echo "gpu_bundle: $f loads libraries outside the bundle:"; echo "$outside"; status=1; fi
  if ldd "$f" | grep -q 'not found'; then echo "gpu_bundle: $f has unresolved libraries"; status=1; fi
done
[ $status = 0 ] || exit 1

echo "$root" >"$build/source-dir"
tar -C "$root" -cJf gpu-bundle.tar.xz --exclude='*.o' --exclude='*.a' --exclude='CMakeFiles' --exclude='*.h5' \
  build-gpu
echo "gpu_bundle: gpu-bundle.tar.xz ($(du -h gpu-bundle.tar.xz | cut -f1)), ${#binaries[@]} programs, $(ls "$build/lib" | wc -l) libraries, built for $root"
