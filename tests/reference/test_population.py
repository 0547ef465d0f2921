#!/usr/bin/env python3
"""A population run (`cuiql train --sweep KEY=v1,v2,v3`) must give each member the same weights,
to 1e-6 per tensor, as a single run with that member's settings.

Three sweeps of P = 3 members each, so that members differ in tau, in beta and in seed (a sweep
over several keys is a cross product, so one key per sweep keeps P = 3):
    --sweep tau=0.6,0.8,0.9     (beta 2, seed 7)
    --sweep beta=1,3,5          (tau 0.7, seed 7)
    --sweep seed=0,1,2          (tau 0.7, beta 2)
Members are written to RUNDIR/<name>/checkpoint.h5 with name tau{tau:%g}-beta{beta:%g}-seed{seed}.
Batches are drawn (uniform sampling, the default) with the batch seed, which every member shares
and which defaults to the base config's seed (7 here); the single runs set batch_seed=7.

Exit 0 when every check passes, 1 otherwise; last line "population: N passed, M failed".
Set CUIQL_KEEP_TMP=1 to keep the run folders.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ref_common import (Tally, cuiql_bin, make_dataset, read_attrs, read_tensors, rel_err,  # noqa: E402
                        run_train, write_dataset)

TOL = 1e-6
STEPS = 20
BASE = {"tau": 0.7, "beta": 2.0, "seed": 7}
# Tiny networks and batches: the point is agreement, not learning.
COMMON = {"hidden": [8, 8], "batch_size": 32, "log_every": 10}
SWEEPS = [("tau", [0.6, 0.8, 0.9]), ("beta", [1.0, 3.0, 5.0]), ("seed", [0, 1, 2])]


def member_name(tau: float, beta: float, seed: int) -> str:
    return "tau%g-beta%g-seed%d" % (tau, beta, seed)


def compare_files(pop: dict, single: dict):
    """(worst rel err, its tensor, list of problems) over the union of tensors in both files."""
    problems, worst, worst_k = [], 0.0, "all equal"
    for k in sorted(set(pop) | set(single)):
        if k not in pop or k not in single:
            problems.append(f"{k} only in the {'single run' if k not in pop else 'population member'}")
            continue
        if pop[k].shape != single[k].shape:
            problems.append(f"{k} shape {pop[k].shape} vs {single[k].shape}")
            continue
        e = rel_err(pop[k], single[k])
        if e > worst or not e == e:
            worst, worst_k = e, k
        if not e <= TOL:
            problems.append(f"{k} rel err {e:.2e}")
    return worst, worst_k, problems


def main() -> int:
    t = Tally("population")
    binary, why = cuiql_bin()
    if binary is None:
        print(f"  {why}")
        for key, _ in SWEEPS:
            t.check(False, f"sweep over {key}: trainer run", why)
        return t.finish()

    tmp = tempfile.mkdtemp(prefix="cuiql-population-")
    try:
        rng = np.random.default_rng(2718)
        data_path = os.path.join(tmp, "data.h5")
        write_dataset(data_path, make_dataset(rng, 200, 4, 2))

        for key, values in SWEEPS:
            print(f"-- sweep over {key}: {values}", flush=True)
            pop_dir = os.path.join(tmp, f"pop_{key}")
            ok, msg = run_train(binary, data_path, pop_dir, STEPS, {**COMMON, **BASE}, sweeps={key: values})
            if not t.check(ok, f"sweep over {key}: population run", msg):
                continue
            members = []
            for v in values:
                settings = {**BASE, key: v}
                name = member_name(settings["tau"], settings["beta"], settings["seed"])
                ck = os.path.join(pop_dir, name, "checkpoint.h5")
                if not t.check(os.path.isfile(ck), f"sweep over {key}: member {name} wrote {name}/checkpoint.h5"):
                    continue
                pop = read_tensors(ck)
                members.append((name, pop))

                # The member's own settings are recorded in its checkpoint.
                attrs = read_attrs(ck)
                bad = []
                for a, want in (("tau", settings["tau"]), ("beta", settings["beta"]), ("seed", settings["seed"]),
                                ("batch_seed", BASE["seed"]), ("step", STEPS)):
                    got = attrs.get(a)
                    if got is None or abs(float(np.asarray(got)) - float(want)) > 1e-12:
                        bad.append(f"{a}={got} (want {want})")
                t.check(not bad, f"sweep over {key}: {name} attributes tau, beta, seed, batch_seed, step", "; ".join(bad))

                # The same member as a single run.
                single_dir = os.path.join(tmp, f"single_{name}")
                ok, msg = run_train(binary, data_path, single_dir, STEPS,
                                    {**COMMON, **settings, "batch_seed": BASE["seed"]})
                if not t.check(ok, f"sweep over {key}: single run {name}", msg):
                    continue
                single = read_tensors(os.path.join(single_dir, "checkpoint.h5"))
                worst, worst_k, problems = compare_files(pop, single)
                t.check(not problems, f"sweep over {key}: {name} equals the single run ({len(pop)} tensors)",
                        f"worst rel err {worst:.1e} ({worst_k})" + ("; " + "; ".join(problems[:8]) if problems else ""))

            # Members must really differ, or the comparison above proves nothing about the sweep.
            for i in range(len(members)):
                for j in range(i + 1, len(members)):
                    (ni, pi), (nj, pj) = members[i], members[j]
                    common = [k for k in pi if k in pj and not k.startswith(("optimizer/", "normalization/"))
                              and pi[k].shape == pj[k].shape]
                    diff = max((rel_err(pi[k], pj[k]) for k in common), default=0.0)
                    t.check(diff > 1e-4, f"sweep over {key}: {ni} and {nj} differ", f"largest rel diff {diff:.1e}")
    finally:
        if os.environ.get("CUIQL_KEEP_TMP"):
            print(f"  kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return t.finish()


if __name__ == "__main__":
    sys.exit(main())
