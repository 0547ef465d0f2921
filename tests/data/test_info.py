#!/usr/bin/env python3
"""test_info.py — `cuiql info` against the fixtures make_fixtures.py wrote (and numpy's
expectations beside them): every printed number, --help, and the one-line errors.

    CUIQL_BIN=build/cuiql python3 test_info.py FIXTURE_DIR
"""
import os
import subprocess
import sys

import h5py
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

DIR = sys.argv[1] if len(sys.argv) > 1 else "fixtures"
BIN = os.environ.get("CUIQL_BIN", "cuiql")


def run(*args):
    p = subprocess.run([BIN, "info", *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def parse(out):
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def min_mean_max(text):
    """'min A  mean B  max C' -> (A, B, C)"""
    words = text.split()
    return tuple(float(words[words.index(k) + 1]) for k in ("min", "mean", "max"))


def close(got, want):
    return all(abs(g - w) <= 1e-5 * max(1.0, abs(w)) for g, w in zip(got, want))


def check_file(name):
    path = os.path.join(DIR, name)
    rc, out, err = run(path)
    check(rc == 0 and err == "", f"{name}: rc {rc}, stderr {err!r}")
    if rc != 0:
        return
    f = parse(out)
    with h5py.File(path + ".expect.h5", "r") as e:
        x = {k: e[k][()] for k in e}
    scalar = {k: int(v[0]) for k, v in x.items() if v.shape == (1,)}
    want = {
        "file": path,
        "format": ["D4RL", "Minari"][scalar["format"]],
        "transitions": str(scalar["n"]),
        "rows in file": str(scalar["rows_in_file"]),
        "dropped": str(scalar["dropped"]),
        "observation dim": str(scalar["obs_dim"]),
        "action dim": str(scalar["act_dim"]),
        "episodes": str(scalar["n_episodes"]),
        "terminals": str(scalar["n_terminals"]),
        "timeouts": str(scalar["n_timeouts"]),
    }
    for key, value in want.items():
        check(f.get(key) == value, f"{name}: '{key}' is {f.get(key)!r}, expected {value!r}")
    returns, rewards = x["returns"], x["rewards"]
    got = min_mean_max(f.get("episode return", "min nan mean nan max nan"))
    check(close(got, (returns.min(), returns.mean(), returns.max())),
          f"{name}: episode return {got}, expected {returns.min()}, {returns.mean()}, {returns.max()}")
    got = min_mean_max(f.get("reward", "min nan mean nan max nan"))
    check(close(got, (rewards.min(), rewards.mean(), rewards.max())),
          f"{name}: reward {got}, expected {rewards.min()}, {rewards.mean()}, {rewards.max()}")
    nxt = f.get("next_observations", "")
    expected = "n/a" if scalar["format"] == 1 else ("yes" if scalar["had_next"] else "no")
    check(nxt.startswith(expected), f"{name}: next_observations {nxt!r}, expected {expected}...")


def check_error(args, words, what):
    rc, out, err = run(*args)
    lines = err.splitlines()
    check(rc == 1, f"{what}: rc {rc}, expected 1")
    check(out == "", f"{what}: printed to stdout: {out!r}")
    check(len(lines) == 1 and lines[0].startswith("cuiql info: "), f"{what}: stderr must be one line: {err!r}")
    for w in words:
        check(w in err, f"{what}: stderr must contain {w!r}: {err!r}")


def main():
    if not os.path.exists(os.path.join(DIR, "good.txt")):
        print(f"test_info.py: no fixtures in {DIR} (make_fixtures.py writes them)", file=sys.stderr)
        return 1
    with open(os.path.join(DIR, "good.txt")) as f:
        good = [line.strip() for line in f if line.strip()]
    for name in good:
        check_file(name)

    rc, out, err = run("--help")
    check(rc == 0 and out.startswith("usage: cuiql info FILE") and err == "", f"--help: rc {rc}, {out[:60]!r}")
    missing = os.path.join(DIR, "bad_nonexistent.h5")
    check_error([missing], [missing, "No such file"], "a missing file")
    nan = os.path.join(DIR, "bad_nan_obs.h5")
    check_error([nan], [nan, "'observations'", "row 3"], "a NaN")
    check_error([os.path.join(DIR, "bad_minari_dict_obs.h5")], ["'episode_0/observations'"], "a dict space")
    check_error([], ["FILE"], "no file")
    check_error(["--frobnicate"], ["--frobnicate"], "an unknown option")
    check_error([nan, missing], ["one FILE"], "two files")

    print(f"test_info.py: {len(good)} files")
    return finish("test_info.py")


if __name__ == "__main__":
    sys.exit(main())
