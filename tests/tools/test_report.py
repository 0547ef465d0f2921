"""tools/report.py on a real (tiny) run: one table whose every number is labelled — the dataset's
mean return, the scripted expert, random actions, the trained policy over N episodes with its
spread, each with its normalized score — the line saying what good looks like, the in-training
figure explained, and the picture drawn with its path printed last. The numbers are those of
`cuiql info` and `cuiql eval`."""
import json
import os
import re
import shutil
import subprocess
import sys

from checks import check, finish

BIN = os.environ["CUIQL_BIN"]
TOOLS = os.path.join(os.environ["CUIQL_SOURCE_DIR"], "tools")


def cuiql(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: cuiql {' '.join(args)}: {r.stderr}")
    return r.stdout


def main():
    shutil.rmtree("rep", ignore_errors=True)
    cuiql("gen", "--env", "pendulum", "--behavior", "mixed", "--episodes", "5", "--seed", "0", "--out", "rep.h5")
    cuiql("train", "--dataset", "rep.h5", "--out", "rep", "--steps", "20", "--device", "cpu", "--threads", "1",
          "--set", "hidden=[16,16]", "--set", "batch_size=32", "--set", "log_every=5", "--set", "env=pendulum",
          "--set", "eval_every=10", "--set", "eval_episodes=2", "--quiet")
    r = subprocess.run([sys.executable, os.path.join(TOOLS, "report.py"), "rep", "--episodes", "3"],
                       capture_output=True, text=True, env=dict(os.environ, CUIQL_BIN=BIN))
    out = r.stdout
    check(r.returncode == 0, f"report ran: {r.stderr}")
    print(out)

    info = cuiql("info", "rep.h5")
    data_mean = float(re.search(r"episode return:\s+min \S+\s+mean (\S+)", info).group(1))
    ev = cuiql("eval", "--checkpoint", "rep/checkpoint.h5", "--episodes", "3")
    mean, std = (float(x) for x in re.search(r"return: (\S+) ± (\S+)", ev).groups())
    score = float(re.search(r"normalized score: (\S+)", ev).group(1))
    expert = float(re.search(r"expert (\S+)\)", ev).group(1))

    row = lambda label: next((ln for ln in out.splitlines() if ln.strip().startswith(label)), "")
    check(f"{data_mean:.1f}" in row("dataset: mean of its 5 episodes"), f"dataset row: {row('dataset')!r}")
    check(f"{expert:.1f}" in row("scripted expert") and "100.0" in row("scripted expert"), "expert row")
    check("0.0" in row("random actions"), "random row")
    pol = row("trained policy, 3 episodes")
    check(f"{mean:.1f} ± {std:.1f}" in pol and f"{score:.1f}" in pol,
          f"the policy's return over N episodes with its spread and score: {pol!r}")
    check("return" in out.splitlines()[3] and "normalized score" in out.splitlines()[3], "the columns are labelled")
    check("standard deviation over the 3 evaluation episodes" in out, "± is explained, with N")
    check("Good:" in out and "100" in out, "one line says what good looks like")
    check("during training" in out and "eval_episodes = 2" in out, "the in-training figure is explained")
    last = out.strip().splitlines()[-1]
    check(last == "Curves: rep/curves.png" and os.path.getsize("rep/curves.png") > 1000,
          f"the output ends with the picture's path: {last!r}")
    with open("rep/references.json") as f:
        refs = json.load(f)
    check(refs.get("scripted expert") == expert and abs(refs.get("dataset mean (5 episodes)", 0) - data_mean) < 1e-3,
          f"references.json for the plot: {refs}")
    return finish("report")


if __name__ == "__main__":
    sys.exit(main())
