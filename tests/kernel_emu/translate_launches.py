#!/usr/bin/env python3
"""translate_launches.py IN.cu OUT.cpp — a kernels/ source as the host compiler can build it.

The one piece of CUDA syntax a C++ compiler cannot parse is the launch,
`kernel<<<grid, block, shared, stream>>>(args)`. It becomes
`::cuda_emu::launch(grid, block, shared, stream)(kernel, args)`, which cuda_emu.h runs on the
CPU, or `launch_flat` when the kernel's body has no __syncthreads() and no warp shuffle: its
threads then run one after another without fibers, much faster (should such a kernel
synchronise after all, the emulator reports it). Nothing else changes; a #line directive
keeps compiler messages pointing at the .cu file.
"""
import os
import re
import sys

LAUNCH = re.compile(r"([A-Za-z_]\w*(?:\s*<[^<>;]*>)?)\s*<<<(.*?)>>>\s*\(", re.S)
KERNEL = re.compile(r"__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s*)?([A-Za-z_]\w*)\s*\(")
SYNCHRONISING = re.compile(r"__syncthreads|__shfl|__syncwarp|cooperative_groups")


def synchronising_kernels(text):
    """Names of the __global__ functions whose bodies synchronise threads."""
    names = set()
    for match in KERNEL.finditer(text):
        start = text.index("{", match.end())
        depth, i = 0, start
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
            if depth == 0:
                break
        if SYNCHRONISING.search(text, start, i):
            names.add(match.group(1))
    return names


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
