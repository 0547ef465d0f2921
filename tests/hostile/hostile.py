"""hostile.py — runs every hostile input of cases.py against the built cuiql ($CUIQL_BIN) and
keeps the tally: tried / refused clearly / ran as expected / crashed / hung / lost / unclear.

    CUIQL_BIN=build/cuiql python3 tests/hostile/hostile.py [WORKDIR] [--only SUBSTRING] [--list]

Each case runs in a directory of its own under WORKDIR. The verdicts:
  refused clearly  a non-zero exit (not a signal), exactly one line on stderr, naming what the
                   case expects (the file, key or flag and the reason)
  as expected      the case expects success (or a given exit code, e.g. 130 after SIGINT) and got it
  crashed          killed by a signal it was not sent, or a sanitizer's report
  hung             still running after the case's timeout
  lost             the case's check of the data failed (a run's files changed, a checkpoint is
                   missing), or a bad input that loses data was accepted
  unclear          refused, but not in one line, or without naming what it should
Exits 1 unless every case is refused clearly or ran as expected. ctest runs it (label hostile),
and again against the ASan/UBSan build (tests/asan/)."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases as table  # noqa: E402

BIN = os.path.abspath(os.environ["CUIQL_BIN"])
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")
# ASan's note when a huge malloc returns NULL (allocator_may_return_null, as outside ASan): HDF5
# asks for exabytes on some corrupted files and reports the refusal itself.
ASAN_NOTE = "WARNING: AddressSanitizer failed to allocate"
VERDICTS = ["refused clearly", "as expected", "crashed", "hung", "lost", "unclear", "skipped"]


def hdf5_report(block):
    """Whether a sanitizer report blames libhdf5: its first frame past the runtime (interceptors,
    libc) is in the library. Such a report comes from the child process the readers run HDF5 in
    (src/base/sandbox.h), which the program then refuses the file for: HDF5's bug, handled."""
    for line in block.splitlines():
        line = line.strip()
        if not line.startswith("#") or " in " not in line and "(" not in line:
            continue
        if any(s in line for s in ("__interceptor_", "__asan", "__sanitizer", "libc.so", "sysdeps/")):
            continue
        return "libhdf5" in line
    return False


def drop_hdf5_reports(err):
    """stderr without the sanitizer reports that blame libhdf5 (see hdf5_report)."""
    blocks, current = [], []
    for line in err.splitlines(True):
        if line.strip() and set(line.strip()) == {"="}:
            continue  # ASan's separator line before each report
        if "ERROR: AddressSanitizer" in line and current:
            blocks.append("".join(current))
            current = []
        current.append(line)
    blocks.append("".join(current))
    kept = []
    for b in blocks:
        if "ERROR: AddressSanitizer" in b and hdf5_report(b):
            # keep only what follows the report's end: the program's own lines
            tail = b.split("==ABORTING", 1)
            kept.append(tail[1].lstrip("\n") if len(tail) == 2 else "")
        else:
            kept.append(b)
    return "".join(kept)


def run_case(case):
    """Runs one case in the current directory; returns (verdict, detail)."""
    state = case["setup"]() if case.get("setup") else None
    state = state if isinstance(state, dict) else {}
    timeout = case.get("timeout", 60)
    background = None
    if case.get("background"):
        background = subprocess.Popen([BIN] + case["background"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
        line = background.stdout.readline()
        while line and not line.startswith("step"):
            line = background.stdout.readline()
    try:
        if case.get("shell"):
            p = subprocess.Popen(["bash", "-c", case["shell"].format(bin=BIN)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        else:
            p = subprocess.Popen([BIN] + case["cmd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if case.get("signal"):
            line = p.stdout.readline()
            while line and not line.startswith(b"step"):
                line = p.stdout.readline()
            p.send_signal(case["signal"])
        try:
            _, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            return "hung", f"still running after {timeout} s"
    finally:
        if background:
            background.send_signal(signal.SIGTERM)
            background.communicate(timeout=60)
    err = "".join(ln for ln in err.decode("utf-8", "replace").splitlines(True) if ASAN_NOTE not in ln)
    err = drop_hdf5_reports(err)
    rc = p.returncode
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if any(s in err for s in SANITIZER):
        return "crashed", next(ln for ln in lines if any(s in ln for s in SANITIZER))
    kind, *rest = case["expect"]
    expected_rc = rest[0] if kind == "rc" else None
    if rc < 0 or (rc >= 128 and rc != expected_rc):
        return "crashed", f"exit {rc}: {err.strip()[-300:]!r}"
    if case.get("after"):
        problem = case["after"](state)
        if problem:
            return "lost", problem
    if kind == "ok" or (kind == "refuse-or-ok" and rc == 0):
        return ("as expected", "") if rc == 0 else ("unclear", f"expected success, exit {rc}: {err.strip()!r}")
    if kind == "rc":
        needles = rest[1]
        missing = [n for n in needles if n not in err]
        if rc == expected_rc and not missing:
            return "as expected", lines[0] if lines else ""
        return "unclear", f"exit {rc} (expected {expected_rc}), missing {missing}: {err.strip()!r}"
    needles = rest[0]
    if rc == 0:
        return ("lost" if case.get("loss") else "unclear"), "accepted (exit 0)"
    missing = [n for n in needles if n not in err]
    if len(lines) != 1 or missing or not lines[0].startswith("cuiql"):
        return "unclear", f"exit {rc}, {len(lines)} lines, missing {missing}: {err.strip()[-400:]!r}"
    return "refused clearly", lines[0]


def main():
    args = sys.argv[1:]
    only = None
    if "--only" in args:
        only = args[args.index("--only") + 1]
        del args[args.index("--only"):args.index("--only") + 2]
    listing = "--list" in args
    args = [a for a in args if a != "--list"]
    work = os.path.abspath(args[0] if args else "hostile_work")
    table.BASE = os.path.join(work, "_base")
    all_cases = [c for c in table.cases() if not only or only in c["name"]]
    names = [c["name"] for c in all_cases]
    assert len(names) == len(set(names)), "case names must be unique"
    if listing:
        for c in all_cases:
            print(f"{c['group']:10} {c['name']}")
        return 0
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    table.prepare(BIN)
    tally = {v: 0 for v in VERDICTS}
    by_group = {}
    for case in all_cases:
        d = os.path.join(work, case["name"])
        os.makedirs(d)
        os.chdir(d)
        reason = case["skip"]() if case.get("skip") else None
        t0 = time.monotonic()
        verdict, detail = ("skipped", reason) if reason else run_case(case)
        os.chdir(work)
        if os.path.ismount(os.path.join(d, "m")):  # a tmpfs case that did not get to unmount
            subprocess.run(["umount", os.path.join(d, "m")], check=False)
        tally[verdict] += 1
        by_group.setdefault(case["group"], {v: 0 for v in VERDICTS})[verdict] += 1
        mark = "  " if verdict in ("refused clearly", "as expected", "skipped") else "!!"
        print(f"{mark} {case['group']:10} {case['name']:32} {verdict:16} {time.monotonic() - t0:5.1f}s  {detail}")
        sys.stdout.flush()
    tried = len(all_cases) - tally["skipped"]
    print()
    for g, t in by_group.items():
        print(f"   {g:10} " + ", ".join(f"{t[v]} {v}" for v in VERDICTS if t[v]))
    print(f"hostile: {tried} tried, {tally['refused clearly']} refused clearly, {tally['as expected']} ran as "
          f"expected, {tally['crashed']} crashed, {tally['hung']} hung, {tally['lost']} lost, {tally['unclear']} "
          f"unclear ({tally['skipped']} skipped: no root for a tmpfs)" if tally["skipped"] else
          f"hostile: {tried} tried, {tally['refused clearly']} refused clearly, {tally['as expected']} ran as "
          f"expected, {tally['crashed']} crashed, {tally['hung']} hung, {tally['lost']} lost, {tally['unclear']} "
          f"unclear")
    bad = tally["crashed"] + tally["hung"] + tally["lost"] + tally["unclear"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
