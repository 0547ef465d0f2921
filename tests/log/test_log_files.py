"""test_log_files.py — the scalar log as other programs read it.

write_events (tests/log/write_events.c) writes rows given on its command line through the
metrics API; this script then reads what it wrote with readers that share no code with ours:
  - TensorBoard's own EventFileLoader (what `tensorboard --logdir` uses), and its
    EventAccumulator for what a user sees after a resumed run;
  - a hand-written record parser here (framing, lengths, both CRC-32Cs in pure Python) feeding
    the protobuf library's event_pb2.Event;
  - Python's csv module for metrics.csv;
and compares every step, tag, value and wall time with what was asked for. Then resuming: rows
after the checkpoint dropped, torn last line dropped, changed columns refused with nothing
touched, and the session-start event that makes TensorBoard drop the orphaned steps.

usage: test_log_files.py PATH_TO_write_events     (exit 77 = skipped: no tensorboard package)
"""
import csv
import glob
import math
import os
import struct
import subprocess
import sys
import tempfile
import time
from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

try:
    from tensorboard.backend.event_processing import event_accumulator, event_file_loader
    from tensorboard.compat.proto import event_pb2
    from tensorboard.util import tensor_util
except ImportError as e:  # pragma: no cover
    print(f"skipped: the tensorboard package is needed ({e}); pip install tensorboard")
    sys.exit(77)

TOOL = sys.argv[1]
NAN = float("nan")


# ---- CRC-32C and the record framing, by hand ------------------------------------------------

def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def manual_read(path):
    """Every record of an event file as an event_pb2.Event, the framing checked by hand."""
    data = open(path, "rb").read()
    events, pos = [], 0
    while pos < len(data):
        if not check(len(data) - pos >= 16, f"{path}: truncated record at byte {pos}"):
            break
        (length,) = struct.unpack_from("<Q", data, pos)
        (len_crc,) = struct.unpack_from("<I", data, pos + 8)
        check(len_crc == masked(crc32c(data[pos:pos + 8])), f"{path}: length CRC at byte {pos}")
        if not check(pos + 16 + length <= len(data), f"{path}: record at byte {pos} runs past the end"):
            break
        payload = data[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack_from("<I", data, pos + 12 + length)
        check(data_crc == masked(crc32c(payload)), f"{path}: payload CRC at byte {pos}")
        events.append(event_pb2.Event.FromString(payload))
        pos += 16 + length
    return events


def f32(x):
    """x rounded to float32, as the event file stores it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def loader_value(v):
    """A scalar from EventFileLoader, which migrates simple_value into a scalar tensor."""
    if v.HasField("tensor"):
        return float(tensor_util.make_ndarray(v.tensor))
    return v.simple_value


# ---- running the writer ----------------------------------------------------------------------

def run_tool(d, resume, cols, rows):
    args = [TOOL, d, str(resume)]
    for c in cols:
        args += ["--col", c]
    for step, vals in rows:
        args += ["--row", f"{step}:" + ",".join("" if math.isnan(v) else repr(v) for v in vals)]
    p = subprocess.run(args, capture_output=True, text=True)
    paths = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    return p.returncode, paths, p.stderr


def event_files(d):
    return sorted(glob.glob(os.path.join(d, "events.out.tfevents.*")))


# ---- checks ----------------------------------------------------------------------------------

def check_csv(path, cols, rows, t_lo, t_hi):
    """metrics.csv holds exactly `rows` under the right header; returns {step: wall_time}."""
    with open(path, newline="") as f:
        table = list(csv.reader(f))
    check(table and table[0] == ["step", "wall_time"] + cols, f"{path}: header {table[:1]}")
    body = table[1:]
    check(len(body) == len(rows), f"{path}: {len(body)} rows, expected {len(rows)}")
    walls = {}
    for got, (step, vals) in zip(body, rows):
        if not check(len(got) == 2 + len(cols), f"{path}: row {got[:2]} has {len(got)} cells"):
            continue
        check(int(got[0]) == step, f"{path}: step {got[0]}, expected {step}")
        walls[step] = float(got[1])
        check(t_lo - 0.001 <= walls[step] <= t_hi + 0.001, f"{path}: step {step}: wall_time {got[1]} not in "
              f"[{t_lo:.3f}, {t_hi:.3f}]")
        for c, cell, v in zip(cols, got[2:], vals):
            if math.isnan(v):
                check(cell == "", f"{path}: step {step} {c[:20]}: NaN written as '{cell}', expected empty")
            else:
                check(cell == "%.9g" % v, f"{path}: step {step} {c[:20]}: '{cell}', expected '{'%.9g' % v}'")
    return walls


def expected_events(cols, rows):
    """(step, [(tag, float32 value)]) per row that has a measured value, NaNs left out."""
    out = []
    for step, vals in rows:
        pairs = [(c, f32(v)) for c, v in zip(cols, vals) if not math.isnan(v)]
        if pairs:
            out.append((step, pairs))
    return out


def check_event_file(path, cols, rows, t_lo, t_hi, csv_walls, resumed_from=None):
    manual = manual_read(path)
    loaded = list(event_file_loader.EventFileLoader(path).Load())
    name = os.path.basename(path)
    check(len(manual) == len(loaded), f"{name}: hand parser found {len(manual)} events, EventFileLoader {len(loaded)}")
    if not check(len(manual) >= 1, f"{name}: empty"):
        return
    for src, evs in (("hand", manual), ("loader", loaded)):
        check(evs[0].file_version == "brain.Event:2", f"{name} ({src}): first event {evs[0]}")
        check(t_lo - 0.001 <= evs[0].wall_time <= t_hi + 0.001, f"{name} ({src}): first wall_time")
    body_m, body_l = manual[1:], loaded[1:]
    if resumed_from is not None:
        for src, evs in (("hand", body_m), ("loader", body_l)):
            ok = evs and evs[0].HasField("session_log") and evs[0].session_log.status == event_pb2.SessionLog.START
            check(ok and evs[0].step == resumed_from + 1,
                  f"{name} ({src}): expected session_log START at step {resumed_from + 1}, got {evs[:1]}")
        body_m, body_l = body_m[1:], body_l[1:]
    want = expected_events(cols, rows)
    check(len(body_m) == len(want), f"{name}: {len(body_m)} scalar events, expected {len(want)}")
    prev_wall = 0.0
    for em, el, (step, pairs) in zip(body_m, body_l, want):
        for src, e in (("hand", em), ("loader", el)):
            check(e.step == step, f"{name} ({src}): step {e.step}, expected {step}")
            tags = [v.tag for v in e.summary.value]
            check(tags == [t for t, _ in pairs], f"{name} ({src}): step {step}: tags {[t[:20] for t in tags]}")
        for v, (tag, want_v) in zip(em.summary.value, pairs):
            check(v.WhichOneof("value") == "simple_value" and not v.HasField("metadata"),
                  f"{name}: step {step} {tag[:20]}: not a bare simple_value")
            check(v.simple_value == want_v, f"{name} (hand): step {step} {tag[:20]}: {v.simple_value} != {want_v}")
        for v, (tag, want_v) in zip(el.summary.value, pairs):
            got = loader_value(v)
            check(got == want_v, f"{name} (loader): step {step} {tag[:20]}: {got} != {want_v}")
        check(em.wall_time == el.wall_time, f"{name}: step {step}: the readers disagree on wall_time")
        check(em.wall_time >= prev_wall and t_lo - 0.001 <= em.wall_time <= t_hi + 0.001,
              f"{name}: step {step}: wall_time {em.wall_time:.3f} out of order or not in [{t_lo:.3f}, {t_hi:.3f}]")
        prev_wall = em.wall_time
        if step in csv_walls:  # same moment in both files; the CSV keeps milliseconds
            check(abs(csv_walls[step] - em.wall_time) <= 0.0005 + 1e-6,
                  f"{name}: step {step}: wall_time {em.wall_time:.4f} vs CSV {csv_walls[step]}")


def write_and_check(d, resume, cols, rows, kept_rows=()):
    """Runs write_events, then checks the CSV (kept_rows, then rows) and the new event file."""
    before = set(event_files(d))
    t_lo = time.time()
    rc, paths, err = run_tool(d, resume, cols, rows)
    t_hi = time.time()
    if not check(rc == 0, f"write_events {d} {resume} failed ({rc}): {err.strip()}"):
        return None
    new = sorted(set(event_files(d)) - before)
    check(len(new) == 1 and paths.get("events") == new[0], f"one new event file, got {new}, tool said {paths}")
    walls = check_csv(os.path.join(d, "metrics.csv"), cols, list(kept_rows) + list(rows), t_lo - 3600, t_hi)
    if new:
        check_event_file(new[0], cols, rows, t_lo, t_hi, walls, resumed_from=resume if resume >= 0 else None)
    check(not os.path.exists(os.path.join(d, "metrics.csv.tmp")), "metrics.csv.tmp left behind")
    return new[0] if new else None


# ---- the scenarios ---------------------------------------------------------------------------

LONG = "long/" + "t" * 295  # 300 bytes: two-byte varint lengths for the tag and its Value
COLS = ["loss/value", "loss/q", "eval/return", LONG]
ROWS = [
    (0, [1.5, -2.25, NAN, 0.1]),
    (100, [1e-30, 3e38, NAN, -0.0]),
    (200, [1 / 3, 2.5, 123.456, 7.0]),
    (250, [NAN, NAN, NAN, NAN]),  # nothing measured: a CSV row of empty cells, no event
    (300, [0.7, 1e6 + 0.5, NAN, -1e-7]),
    (400, [12345.678901, -0.5, 99.0, 2.0]),
    (500, [0.25, 0.125, NAN, 4.0]),
]
RESUMED = [(400, [-1.0, -2.0, 3.0, -4.0]), (500, [5.5, NAN, 6.5, 7.5]), (5_000_000_000, [8.0, 9.0, 10.0, 11.0])]


def test_fresh_and_resume(root):
    d = os.path.join(root, "run")
    os.mkdir(d)
    write_and_check(d, -1, COLS, ROWS)
    original = open(os.path.join(d, "metrics.csv")).read().splitlines(keepends=True)

    time.sleep(1.1)  # a later file name, as a real resume (TensorBoard reads files in name order)
    kept = [r for r in ROWS if r[0] <= 300]
    write_and_check(d, 300, COLS, RESUMED, kept_rows=kept)
    lines = open(os.path.join(d, "metrics.csv")).read().splitlines(keepends=True)
    check(lines[:1 + len(kept)] == original[:1 + len(kept)], "kept rows are the original bytes")
    check(len(event_files(d)) == 2, f"two event files after the resume: {event_files(d)}")

    # What TensorBoard shows: the first run's steps 400 and 500 purged by the session start.
    acc = event_accumulator.EventAccumulator(d)
    acc.Reload()
    merged = kept + RESUMED
    for c in COLS:
        want = [(s, f32(v[COLS.index(c)])) for s, v in merged if not math.isnan(v[COLS.index(c)])]
        got = [(s.step, s.value) for s in acc.Scalars(c)] if c in acc.Tags()["scalars"] else []
        check(got == want, f"EventAccumulator {c[:20]}: {got} != {want}")

    # A crash mid-row leaves a torn last line: dropped on resume even though its step is kept.
    csv_path = os.path.join(d, "metrics.csv")
    with open(csv_path, "a") as f:
        f.write("5000000001,1700000000.000,1.")
    before = open(csv_path).read()
    resumed_rows = kept + RESUMED
    write_and_check(d, 10 ** 12, COLS, [(5_000_000_002, [1.0, 2.0, 3.0, 4.0])], kept_rows=resumed_rows)
    check(open(csv_path).read().startswith(before[:before.rindex("\n") + 1]), "complete rows kept as they were")

    # Changed columns: refused, naming the column, and nothing touched.
    before = open(csv_path, "rb").read()
    files = event_files(d)
    renamed = ["loss/value", "loss/q2", "eval/return", LONG]
    rc, _, err = run_tool(d, 400, renamed, [(600, [1.0, 2.0, 3.0, 4.0])])
    check(rc == 1 and "metrics.csv" in err and "column 4" in err and "'loss/q'" in err and "'loss/q2'" in err,
          f"renamed column: rc {rc}, message: {err.strip()}")
    rc, _, err = run_tool(d, 400, COLS[:3], [(600, [1.0, 2.0, 3.0])])
    check(rc == 1 and "metrics.csv" in err and "more columns" in err, f"fewer columns now: rc {rc}: {err.strip()}")
    rc, _, err = run_tool(d, 400, COLS + ["extra"], [(600, [1.0, 2.0, 3.0, 4.0, 5.0])])
    check(rc == 1 and "metrics.csv" in err and "fewer columns" in err, f"more columns now: rc {rc}: {err.strip()}")
    check(open(csv_path, "rb").read() == before, "metrics.csv unchanged by the refused resumes")
    check(event_files(d) == files, "no event file created by the refused resumes")
    check(not os.path.exists(csv_path + ".tmp"), "no metrics.csv.tmp after the refused resumes")

    # A fresh run in the same directory starts the CSV over.
    write_and_check(d, -1, COLS, ROWS[:2])


def test_edge_cases(root):
    # Resuming where there is no metrics.csv (deleted, or never flushed): started afresh.
    d = os.path.join(root, "no_csv")
    os.mkdir(d)
    write_and_check(d, 100, COLS, ROWS[2:4])

    # A row whose step cannot be read: refused with the line number, file untouched.
    d = os.path.join(root, "bad_row")
    os.mkdir(d)
    write_and_check(d, -1, COLS, ROWS[:2])
    csv_path = os.path.join(d, "metrics.csv")
    with open(csv_path, "a") as f:
        f.write("oops,1,2,3,4,5\n")
    before = open(csv_path, "rb").read()
    rc, _, err = run_tool(d, 100, COLS, [])
    check(rc == 1 and "metrics.csv" in err and "line 4" in err, f"unreadable step: rc {rc}: {err.strip()}")
    check(open(csv_path, "rb").read() == before and not os.path.exists(csv_path + ".tmp"),
          "metrics.csv untouched after the unreadable step")

    # Many columns in one event (a summary several KiB long), all at one step.
    d = os.path.join(root, "wide")
    os.mkdir(d)
    cols = [f"group{i % 5}/scalar_{i}_" + "w" * (i * 7) for i in range(60)]
    write_and_check(d, -1, cols, [(7, [i * 0.75 - 3 for i in range(60)]), (8, [NAN] * 59 + [1.0])])

    # Bad columns and a missing directory: refused with a message.
    rc, _, err = run_tool(os.path.join(root, "wide"), -1, ["a", "b,c"], [])
    check(rc == 1 and "b,c" in err, f"comma in a column: rc {rc}: {err.strip()}")
    rc, _, err = run_tool(os.path.join(root, "missing"), -1, ["a"], [])
    check(rc == 1 and os.path.join(root, "missing", "metrics.csv") in err, f"missing dir: rc {rc}: {err.strip()}")


def main():
    check(crc32c(b"123456789") == 0xE3069283, "the Python CRC-32C itself")
    with tempfile.TemporaryDirectory(prefix="cuiql_log_") as root:
        test_fresh_and_resume(root)
        test_edge_cases(root)
    return finish("test_log_files")


if __name__ == "__main__":
    sys.exit(main())
