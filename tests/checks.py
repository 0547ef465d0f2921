"""checks.py — the tally the Python tests keep: check() counts a pass, or prints the failure at
once (to stderr, so it stands beside the output that explains it); finish() prints
"<name>: N passed, M failed" and gives the exit code. ctest puts tests/ on PYTHONPATH."""
import sys

_passed = 0
_failed = 0


def check(cond, what):
    """Records one check; returns whether it held, so a caller can skip what depends on it."""
    global _passed, _failed
    if cond:
        _passed += 1
    else:
        _failed += 1
        print(f"FAIL: {what}", file=sys.stderr)
    return bool(cond)


def finish(name):
    print(f"{name}: {_passed} passed, {_failed} failed")
    return 1 if _failed else 0
