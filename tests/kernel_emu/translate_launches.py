#!/usr/bin/env python3
"""translate_launches.py IN.cu OUT.cpp — a kernels/ source as the host compiler can build it.

The one piece of CUDA syntax a C++ compiler cannot parse is the launch,
`kernel<<<grid, block, shared, stream>>>(args)`. It becomes
`::cuda_emu::launch(grid, block, shared, stream)(kernel, args)`, which cuda_emu.h runs on the
CPU, or `launch_flat` when the kernel's body has no __syncthreads() and no warp shuffle, nor
calls a __device__ function of the file that has (transitively): its threads then run one
after another without fibers, much faster (should such a kernel synchronise after all, the
emulator reports it). Nothing else changes; a #line directive
keeps compiler messages pointing at the .cu file.
"""
import os
import re
import sys

LAUNCH = re.compile(r"([A-Za-z_]\w*(?:\s*<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\(", re.S)
KERNEL = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(")
DEVICE = re.compile(r"__device__\s+(?:__forceinline__\s+|inline\s+|static\s+)*[A-Za-z_][\w:<>\s\*&]*?\b([A-Za-z_]\w*)\s*\(")
SYNCHRONISING = re.compile(r"__syncthreads|__shfl|__syncwarp|cooperative_groups")


def bodies(text, pattern):
    """{name: body} of the functions the pattern finds (declarations without a body skipped)."""
    out = {}
    for match in pattern.finditer(text):
        brace, semicolon = text.find("{", match.end()), text.find(";", match.end())
        if brace < 0 or (0 <= semicolon < brace):
            continue
        depth, i = 0, brace
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        out[match.group(1)] = text[brace:i]
    return out


def synchronising_kernels(text):
    """Names of the __global__ functions that synchronise threads, in their bodies or through
    the __device__ functions of this file they call."""
    device = bodies(text, DEVICE)
    syncing = {name for name, body in device.items() if SYNCHRONISING.search(body)}
    changed = True
    while changed:  # a device function calling a synchronising one synchronises
        changed = False
        for name, body in device.items():
            if name not in syncing and any(re.search(rf"\b{f}\s*\(", body) for f in syncing):
                syncing.add(name)
                changed = True
    return {name for name, body in bodies(text, KERNEL).items()
            if SYNCHRONISING.search(body) or any(re.search(rf"\b{f}\s*\(", body) for f in syncing)}


def translate(text):
    fibers = synchronising_kernels(text)

    def replace(match):
        kernel, config = match.group(1), match.group(2)
        rest = text[match.end():]
        separator = "" if rest.lstrip().startswith(")") else ", "
        how = "launch" if kernel.split("<")[0].strip() in fibers else "launch_flat"
        return f"::cuda_emu::{how}({config})({kernel}{separator}"

    out, count = LAUNCH.subn(replace, text)
    if "<<<" in out or ">>>" in out:
        raise SystemExit("translate_launches: a launch was left untranslated")
    return out, count


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        text = f.read()
    out, _ = translate(text)
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.write(f'#line 1 "{source}"\n')
        f.write(out)


if __name__ == "__main__":
    main()
