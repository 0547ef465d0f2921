"""test_checkpoint_h5py.py — the checkpoint format seen from Python, as docs/checkpoint.md
tells a PyTorch user to read it, and hand-written files going the other way.

  1. ckpt_tool writes a checkpoint and the values it should hold; h5py reads the file the way
     the docs say (layer loop over f["policy"], [out, in] weights) and every tensor, shape,
     attribute and type must match; a numpy forward pass of the policy must give the C mean
     action.
  2. Files written by a few lines of h5py (just the weight tensors, float64 as numpy makes
     them) must be accepted by checkpoint_layout_from_file + checkpoint_read, values intact.
  3. Broken hand-written files must be refused with a message naming the tensor.

usage: test_checkpoint_h5py.py PATH_TO_ckpt_tool    (exit 77 = skipped: no h5py)
"""
import os
import subprocess
import sys
import tempfile
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"skipped: {e}")
    sys.exit(77)

TOOL = sys.argv[1]


def parse(path):
    """attr lines -> {name: [str]}, tensor lines -> {name: np.float32 array of the given shape},
    action lines -> [(state, action)]."""
    attrs, tensors, actions = {}, {}, []
    with open(path) as f:
        for line in f:
            kind, rest = line.split(" ", 1)
            if kind == "attr":
                name, *vals = rest.split()
                attrs[name] = vals
            elif kind == "tensor":
                head, vals = rest.split(":")
                name, *dims = head.split()
                arr = np.array([float(x) for x in vals.split()], dtype=np.float32)
                tensors[name] = arr.reshape([int(d) for d in dims])
            elif kind == "action":
                s, a = rest.split(":")
                actions.append((np.array(s.split(), dtype=np.float64), np.array(a.split(), dtype=np.float32)))
    return attrs, tensors, actions


def run_tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def all_datasets(f):
    names = []
    f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    return set(names)


def policy_mean(f, state):
    """What docs/checkpoint.md describes: (s - mean) / std, then the layers with ReLU between
    them, then max_action * tanh. Done in float64 from the file's float32 tensors."""
    x = (state - f["normalization/state_mean"][()]) / f["normalization/state_std"][()]
    n_layers = len(f["policy"]) - 1  # layer0 .. layerL, plus log_std
    for i in range(n_layers):
        w = f[f"policy/layer{i}/weight"][()].astype(np.float64)  # [out, in], like nn.Linear
        b = f[f"policy/layer{i}/bias"][()].astype(np.float64)
        x = w @ x + b
        if i + 1 < n_layers:
            x = np.maximum(x, 0)
    return f.attrs["max_action"] * np.tanh(x)


def test_read_with_h5py(tmp):
    path, expected = os.path.join(tmp, "c.h5"), os.path.join(tmp, "c_expected.txt")
    r = run_tool("write", path, expected)
    check(r.returncode == 0, f"ckpt_tool write failed: {r.stderr}")
    if r.returncode:
        return
    attrs, tensors, actions = parse(expected)
    with h5py.File(path, "r") as f:
        check(all_datasets(f) == set(tensors), f"datasets in the file {sorted(all_datasets(f) ^ set(tensors))} "
              "differ from what the writer was given")
        for name, want in tensors.items():
            got = f[name][()]
            check(got.dtype == np.float32, f"{name}: dtype {got.dtype}")
            check(got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}")
            check(got.shape == want.shape and np.array_equal(got, want), f"{name}: values differ")
        # The layer loop of the docs' snippet: shapes chain as nn.Linear(in, out) layers.
        n_layers = len(f["policy"]) - 1
        check(n_layers == 3, f"len(f['policy']) - 1 = {n_layers}, expected 3 layers")
        widths = [3, 7, 5, 2]
        for i in range(n_layers):
            check(f[f"policy/layer{i}/weight"].shape == (widths[i + 1], widths[i]), f"policy layer {i} weight shape")
            check(f[f"policy/layer{i}/bias"].shape == (widths[i + 1],), f"policy layer {i} bias shape")
        for net in ("value", "q1", "q2", "q1_target", "q2_target"):
            first_in = 3 if net == "value" else 5
            check(f[f"{net}/layer0/weight"].shape == (7, first_in), f"{net}/layer0/weight shape")
            check(f[f"{net}/layer2/weight"].shape == (1, 5), f"{net}/layer2/weight shape")

        a = f.attrs
        check(int(a["format_version"]) == 1, "format_version")
        check(isinstance(a["policy"], str) and a["policy"] == "gaussian", f"policy attr {a['policy']!r} is not str")
        check(isinstance(a["config"], str), f"config attr is {type(a['config'])}, not str")
        check(a["config"].encode() == bytes.fromhex("".join(attrs["config"])), "config text")
        check(list(a["hidden"]) == [7, 5], f"hidden {a['hidden']}")
        for name in ("step", "obs_dim", "act_dim", "seed", "batch_seed"):
            check(int(a[name]) == int(attrs[name][0]), f"attr {name} = {a[name]}, expected {attrs[name][0]}")
            check(np.issubdtype(np.asarray(a[name]).dtype, np.integer), f"attr {name} is not an integer")
        for name in ("max_action", "tau", "beta", "reward_scale", "reward_shift"):
            check(float(a[name]) == float(attrs[name][0]), f"attr {name} = {a[name]}, expected {attrs[name][0]}")

        for state, want in actions:
            got = policy_mean(f, state)
            check(np.allclose(got, want, rtol=1e-5, atol=1e-6), f"policy mean for {state}: numpy {got}, C {want}")


def write_minimal(path, obs, act, hidden, rng, extra=None, skip=()):
    """The least a hand-written file needs: weights and biases of policy, value, q1, q2."""
    tensors = {}
    with h5py.File(path, "w") as f:
        for net, n_in, n_out in (("policy", obs, act), ("value", obs, 1), ("q1", obs + act, 1), ("q2", obs + act, 1)):
            widths = [n_in, *hidden, n_out]
            for i in range(len(widths) - 1):
                for kind, shape in (("weight", (widths[i + 1], widths[i])), ("bias", (widths[i + 1],))):
                    name = f"{net}/layer{i}/{kind}"
                    if name in skip:
                        continue
                    tensors[name] = rng.standard_normal(shape)  # float64, as numpy makes it
                    f[name] = tensors[name]
        for name, value in (extra or {}).items():
            tensors[name] = value
            f[name] = value
    return tensors


def test_minimal_files(tmp):
    rng = np.random.default_rng(0)
    path, dump = os.path.join(tmp, "min.h5"), os.path.join(tmp, "min_dump.txt")
    written = write_minimal(path, 5, 3, [6, 4], rng)
    r = run_tool("read", path, dump)
    check(r.returncode == 0, f"minimal h5py file refused: {r.stderr}")
    if r.returncode == 0:
        attrs, tensors, _ = parse(dump)
        check(attrs["obs_dim"] == ["5"] and attrs["act_dim"] == ["3"], f"inferred dims {attrs['obs_dim']} {attrs['act_dim']}")
        check(attrs["hidden"] == ["6", "4"], f"inferred hidden {attrs['hidden']}")
        check(attrs["has_target"] == ["0"] and attrs["has_optimizer"] == ["0"], "minimal: no targets, no optimizer")
        check(attrs["policy"] == ["deterministic"], "no log_std: read as a deterministic policy")
        check(attrs["config"] == ["none"], "no config attribute")
        check(attrs["step"] == ["0"] and float(attrs["max_action"][0]) == 1.0, "defaults step 0, max_action 1")
        check(np.array_equal(tensors["normalization/state_mean"], np.zeros(5, np.float32)), "default mean 0")
        check(np.array_equal(tensors["normalization/state_std"], np.ones(5, np.float32)), "default std 1")
        check(np.array_equal(tensors["policy/log_std"], np.zeros(3, np.float32)), "absent log_std reads as 0")
        for name, want in written.items():
            check(name in tensors and np.array_equal(tensors[name], want.astype(np.float32)),
                  f"{name}: C read other values than h5py wrote")

    # With a log_std, targets, attributes of numpy types and a bytes policy string.
    path2 = os.path.join(tmp, "min2.h5")
    extra = {"policy/log_std": np.full(2, -0.5, np.float32)}
    written = write_minimal(path2, 4, 2, [8], rng, extra)
    with h5py.File(path2, "a") as f:
        for net in ("q1", "q2"):
            for name in list(f[net]):
                f.copy(f"{net}/{name}", f"{net}_target/{name}")
        f.attrs["hidden"] = np.array([8], np.int64)
        f.attrs["obs_dim"] = np.int32(4)
        f.attrs["max_action"] = 2  # an int where a double is expected: converted
        f.attrs["policy"] = np.bytes_(b"gaussian")
        f.attrs["config"] = "steps: 5\n"
    r = run_tool("read", path2, dump)
    check(r.returncode == 0, f"hand-written file with attributes refused: {r.stderr}")
    if r.returncode == 0:
        attrs, tensors, _ = parse(dump)
        check(attrs["has_target"] == ["1"], "q1_target + q2_target: has_target 1")
        check(attrs["policy"] == ["gaussian"] and float(attrs["max_action"][0]) == 2.0, "policy / max_action attrs")
        check(bytes.fromhex("".join(attrs["config"])) == b"steps: 5\n", "config attr")
        check(np.array_equal(tensors["q2_target/layer1/bias"], written["q2/layer1/bias"].astype(np.float32)),
              "targets copied in h5py read back")
        check(np.array_equal(tensors["policy/log_std"], extra["policy/log_std"]), "log_std")


def test_refusals(tmp):
    cases = []
    # a tensor of the wrong shape
    path = os.path.join(tmp, "bad_shape.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1), skip=("value/layer1/weight",))
    with h5py.File(path, "a") as f:
        f["value/layer1/weight"] = np.zeros((4, 5))
    cases.append((path, ["/value/layer1/weight", "[4, 5]", "[4, 6]"]))
    # a missing tensor
    path = os.path.join(tmp, "missing.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1), skip=("q2/layer2/bias",))
    cases.append((path, ["/q2/layer2/bias", "missing"]))
    # a NaN
    path = os.path.join(tmp, "nan.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1))
    with h5py.File(path, "a") as f:
        w = f["q1/layer0/weight"][()]
        w[2, 3] = np.nan
        f["q1/layer0/weight"][...] = w
    cases.append((path, ["/q1/layer0/weight", "[2, 3]", "nan"]))
    # a newer format
    path = os.path.join(tmp, "newer.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1))
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 2
    cases.append((path, ["written by a newer cuiql (format 2); this build reads format 1"]))
    # hidden attribute disagreeing with the shapes
    path = os.path.join(tmp, "hidden.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1))
    with h5py.File(path, "a") as f:
        f.attrs["hidden"] = [6, 5]
    cases.append((path, ["attribute hidden = [6, 5]", "[6, 4]"]))
    # a layer after a gap (layer9 of a 2-hidden-layer policy): docs/checkpoint.md refuses any
    # layer beyond the expected ones, not only the next one
    path = os.path.join(tmp, "layer9.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1))
    with h5py.File(path, "a") as f:
        f["policy/layer9/weight"] = np.zeros((3, 4))
        f["policy/layer9/bias"] = np.zeros(3)
    cases.append((path, ["/policy/layer9", "beyond the expected layers"]))
    # a member that is no layer at all, in a layer's group
    path = os.path.join(tmp, "stray.h5")
    write_minimal(path, 5, 3, [6, 4], np.random.default_rng(1))
    with h5py.File(path, "a") as f:
        f["q1/layer1/scale"] = np.ones(4)
    cases.append((path, ["/q1/layer1/scale", "not part of a cuiql checkpoint"]))
    for path, needles in cases:
        r = run_tool("read", path, os.path.join(tmp, "unused.txt"))
        check(r.returncode == 1, f"{os.path.basename(path)}: accepted (rc {r.returncode})")
        for n in needles:
            check(n in r.stderr, f"{os.path.basename(path)}: message lacks {n!r}: {r.stderr.strip()}")


def docs_examples():
    src = os.environ.get("CUIQL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    with open(os.path.join(src, "docs", "checkpoint.md")) as f:
        return [b.split("```")[0] for b in f.read().split("```python\n")[1:]]


def numpy_torch():
    """Just enough of torch, on numpy, to run the docs' loading example where torch is not
    installed: from_numpy, no_grad, tanh, nn.Linear (weight [out, in]), nn.ReLU, nn.Sequential."""
    import contextlib
    import types

    class Param:
        def __init__(self, shape):
            self.data = np.zeros(shape, np.float32)

        def copy_(self, t):
            assert t.shape == self.data.shape, f"copy_ of {t.shape} into {self.data.shape}"
            self.data[...] = t

    class Linear:
        def __init__(self, n_in, n_out):
            self.weight, self.bias = Param((n_out, n_in)), Param((n_out,))

        def __call__(self, x):
            return self.weight.data.astype(np.float64) @ x + self.bias.data

    class Sequential:
        def __init__(self, *mods):
            self.mods = mods

        def __call__(self, x):
            for m in self.mods:
                x = m(x)
            return x

    nn = types.ModuleType("torch.nn")
    nn.Linear, nn.Sequential, nn.ReLU = Linear, Sequential, lambda: (lambda x: np.maximum(x, 0))
    torch = types.ModuleType("torch")
    torch.nn, torch.from_numpy, torch.tanh, torch.no_grad = nn, np.asarray, np.tanh, contextlib.nullcontext
    return torch, nn


def test_docs_load_example(tmp):
    """The loading example at the top of docs/checkpoint.md, run as written (with real torch when
    installed, else a numpy stand-in), gives the C code's mean action."""
    path, expected = os.path.join(tmp, "docs_load.h5"), os.path.join(tmp, "docs_load_expected.txt")
    r = run_tool("write", path, expected)
    check(r.returncode == 0, f"ckpt_tool write failed: {r.stderr}")
    example = [b for b in docs_examples() if "runs/x/checkpoint.h5" in b]
    check(len(example) == 1, "docs/checkpoint.md has one loading example")
    if r.returncode or len(example) != 1:
        return
    try:
        import torch  # noqa: F401

        as_state = lambda s: torch.tensor(s, dtype=torch.float32)  # noqa: E731
        saved = None
    except ImportError:
        saved = {k: sys.modules.get(k) for k in ("torch", "torch.nn")}
        sys.modules["torch"], sys.modules["torch.nn"] = numpy_torch()
        as_state = np.asarray
    try:
        code = compile(example[0].replace("runs/x/checkpoint.h5", path), "docs/checkpoint.md", "exec")
        for state, want in parse(expected)[2]:
            env = {"state": as_state(state)}
            exec(code, env)
            got = np.asarray(env["action"], dtype=np.float64)
            check(np.allclose(got, want, rtol=1e-5, atol=1e-6), f"docs example: action {got}, C {want}")
    finally:
        if saved is not None:
            for k, v in saved.items():
                if v is None:
                    sys.modules.pop(k, None)
                else:
                    sys.modules[k] = v


def test_docs_example(tmp):
    """The minimal-file example in docs/checkpoint.md, run as written, makes a file we accept."""
    example = [b for b in docs_examples() if "init.h5" in b]
    check(len(example) == 1, "docs/checkpoint.md has one example writing init.h5")
    if len(example) != 1:
        return
    cwd = os.getcwd()
    os.chdir(tmp)
    try:
        exec(compile(example[0], "docs/checkpoint.md", "exec"), {})
    finally:
        os.chdir(cwd)
    dump = os.path.join(tmp, "docs_dump.txt")
    r = run_tool("read", os.path.join(tmp, "init.h5"), dump)
    check(r.returncode == 0, f"the docs' minimal file is refused: {r.stderr}")
    if r.returncode == 0:
        attrs, _, _ = parse(dump)
        check(attrs["obs_dim"] == ["17"] and attrs["act_dim"] == ["6"] and attrs["hidden"] == ["256", "256"],
              f"docs example sizes {attrs['obs_dim']} {attrs['act_dim']} {attrs['hidden']}")


def main():
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        test_read_with_h5py(tmp)
        test_minimal_files(tmp)
        test_refusals(tmp)
        test_docs_example(tmp)
        test_docs_load_example(tmp)
    return finish("test_checkpoint_h5py")


if __name__ == "__main__":
    sys.exit(main())
