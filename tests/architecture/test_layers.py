"""The layering of src/ (docs/architecture.md) holds, and the build enforces it.

    test_layers.py SOURCE_DIR LAYER_VIEWS_DIR CC [-I...]

1. Every #include "..." of every file in src/, kernels/ and include/cuiql/ names a header its
   layer may see: its own folder, include/cuiql/, or a layer linked in its view
   (LAYER_VIEWS_DIR/<layer>/, made by CMakeLists.txt's cuiql_layer); never a path with "..".
   include/cuiql/ includes only include/cuiql/ (the shared headers stand on their own).
2. No include loop: the graph of header-to-header includes has no cycle.
3. The build rejects a wrong-way include: for every layer, a file including a header of each
   layer it may not see fails to compile with that layer's include path, and one including a
   header of each layer it may see compiles.
"""
import os
import re
import subprocess
import sys
import tempfile

from checks import check, finish

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes(path):
    with open(path, encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def main():
    src_root, views, cc, extra = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    src = os.path.join(src_root, "src")
    shared = os.path.join(src_root, "include")
    layers = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    allowed = {}
    for layer in os.listdir(views):
        allowed[layer] = set(os.listdir(os.path.join(views, layer)))
    check(set(layers) <= set(allowed), f"every folder of src/ is a layer target: {set(layers) - set(allowed)} are not")

    # 1. every include is one the file's layer may make
    def check_file(path, layer, visible):
        here = os.path.dirname(path)
        for inc in includes(path):
            shown = f"{os.path.relpath(path, src_root)}: #include \"{inc}\""
            if ".." in inc.split("/"):
                check(False, f"{shown}: a relative path around the layers")
                continue
            if os.path.exists(os.path.join(here, inc)) and "/" not in inc:
                continue  # a header of the file's own folder
            top = inc.split("/")[0]
            check(top == "cuiql" or top in visible, f"{shown}: layer '{layer}' may not include '{top}/'")

    n_files = 0
    for layer in layers:
        for name in sorted(os.listdir(os.path.join(src, layer))):
            if name.endswith((".c", ".h")):
                check_file(os.path.join(src, layer, name), layer, allowed.get(layer, set()))
                n_files += 1
    check_file(os.path.join(src, "main.c"), "cli", allowed["cli"])
    kernels = os.path.join(src_root, "kernels")
    for name in sorted(os.listdir(kernels)):
        if name.endswith((".cu", ".h")):
            check_file(os.path.join(kernels, name), "cuda", allowed.get("cuda", {"base"}))
            n_files += 1
    for name in sorted(os.listdir(os.path.join(shared, "cuiql"))):
        path = os.path.join(shared, "cuiql", name)
        for inc in includes(path):
            check(inc.startswith("cuiql/"), f"include/cuiql/{name}: #include \"{inc}\": the shared headers "
                    "include only each other")
        n_files += 1
    check(n_files > 80, f"checked the includes of {n_files} files")

    # 2. no include loop among headers
    def resolve(from_path, inc):
        for base in (os.path.dirname(from_path), src, shared, kernels):
            p = os.path.join(base, inc)
            if os.path.exists(p):
                return os.path.normpath(p)
        return None

    headers = []
    for root in (src, shared, kernels):
        for dirpath, _, files in os.walk(root):
            headers += [os.path.join(dirpath, f) for f in files if f.endswith(".h")]
    graph = {h: [r for r in (resolve(h, i) for i in includes(h)) if r] for h in headers}
    state, cycles = {}, []

    def visit(h, stack):
        state[h] = 1
        for nxt in graph.get(h, []):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt] if nxt in stack else [h, nxt])
            elif not state.get(nxt):
                visit(nxt, stack + [nxt])
        state[h] = 2

    for h in headers:
        if not state.get(h):
            visit(h, [h])
    check(not cycles, "no include loop: " + "; ".join(" -> ".join(os.path.relpath(p, src_root) for p in c)
                                                        for c in cycles[:3]))

    # 3. the compiler, with each layer's own include path, rejects what the table forbids
    with tempfile.TemporaryDirectory() as tmp:
        probe = os.path.join(tmp, "probe.c")

        def compiles(layer, header):
            with open(probe, "w") as f:
                f.write(f'#include "{header}"\n')
            cmd = [cc, "-fsyntax-only", "-I", os.path.join(views, layer), "-I", shared] + extra + [probe]
            return subprocess.run(cmd, capture_output=True).returncode == 0

        for layer in sorted(allowed):
            for other in layers:
                hs = sorted(h for h in os.listdir(os.path.join(src, other)) if h.endswith(".h"))
                if not hs:
                    continue
                header = f"{other}/{hs[0]}"
                if other in allowed[layer]:
                    check(compiles(layer, header), f"layer '{layer}' compiles #include \"{header}\"")
                else:
                    check(not compiles(layer, header), f"layer '{layer}' is refused #include \"{header}\"")
    sys.exit(finish("architecture"))


if __name__ == "__main__":
    main()
