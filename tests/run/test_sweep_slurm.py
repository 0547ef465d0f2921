"""Sharded sweeps on a real Slurm: a one-node cluster on this machine (tools/slurm-local.sh, its
own scratch folder and ports), the shipped configs/sweeps/slurm-array.sbatch submitted as a
3-task array, and an sbatch job that runs `mpirun -np 2` (whose ranks inherit the batch step's
SLURM_PROCID=0: cuiql must take OpenMPI's ranks). Each merged report must equal the unsharded
sweep's, and every member's checkpoint its checkpoint.

Skipped (77) where it cannot run: not root (slurm-local runs daemons as root), or Slurm's
programs absent (tools/install-deps.sh installs slurm-wlm and munge; slurm-local.sh would too,
but a test does not install packages)."""
import os
import random
import re
import shutil
import socket
import subprocess
import sys

from checks import check, finish  # tests/checks.py; ctest puts tests/ on PYTHONPATH

BIN = os.environ["CUIQL_BIN"]
SRC = os.environ["CUIQL_SOURCE_DIR"]
SLURM_LOCAL = os.path.join(SRC, "tools", "slurm-local.sh")
SBATCH_FILE = os.path.join(SRC, "configs", "sweeps", "slurm-array.sbatch")
SMALL = "--set hidden=[16,16] --set batch_size=32 --set log_every=10 --set eval_every=30 --set eval_episodes=1 " \
        "--threads 1 --device cpu"
AXES = {"SWEEP_TAU": "0.6,0.9", "SWEEP_BETA": "1,3", "SWEEP_SEED": "0,1"}
MEMBERS = [f"tau{t}-beta{b}-seed{s}" for t in ("0.6", "0.9") for b in ("1", "3") for s in ("0", "1")]
LAUNCH_VARS = re.compile(r"^(OMPI_|PMI_|PMIX_|MPI_LOCALRANKID|SLURM_)")


def have(tool):
    return shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")


def free_port_pair():
    """Two consecutive free TCP ports (slurmctld's and slurmd's), away from the default 6817."""
    for _ in range(50):
        port = random.randrange(20000, 30000)
        ok = True
        for p in (port, port + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return port
    raise SystemExit("no free port pair for slurmctld")


def clean_env(**extra):
    e = {k: v for k, v in os.environ.items() if not LAUNCH_VARS.match(k)}
    e.update(extra)
    return e


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def compare(d, ref):
    differ = [m for m in MEMBERS if not (os.path.exists(f"{d}/{m}/checkpoint.h5") and
                                         same_bytes(f"{d}/{m}/checkpoint.h5", f"{ref}/{m}/checkpoint.h5"))]
    check(not differ, f"{d}: every member byte-identical to the unsharded sweep's (differ: {differ})")
    r = subprocess.run([BIN, "sweep-report", d, "--quiet"], capture_output=True, text=True)
    if check(r.returncode == 0, f"sweep-report {d} ({r.stderr.strip()})"):
        check(open(f"{d}/summary.csv").read() == open(f"{ref}/summary.csv").read(), f"{d}: the same summary.csv")


def main():
    if os.geteuid() != 0:
        print("skipped: tools/slurm-local.sh runs Slurm's daemons as root")
        return 77
    if not all(have(t) for t in ("sbatch", "slurmctld", "slurmd", "munged")):
        print("skipped: Slurm is not installed (tools/install-deps.sh installs slurm-wlm and munge)")
        return 77
    work = os.path.abspath("slurm_sweep")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    subprocess.run([BIN, "gen", "--env", "pendulum", "--behavior", "mixed", "--episodes", "10", "--out",
                    f"{work}/pend.h5"], check=True, capture_output=True)
    # the reference: the same sweep in one process
    r = subprocess.run([SBATCH_FILE], capture_output=True, text=True, cwd=SRC,
                       env=clean_env(CUIQL=BIN, DATASET=f"{work}/pend.h5", OUT=f"{work}/whole", STEPS="60",
                                     EXTRA=SMALL + " --quiet", **AXES))
    if not check(r.returncode == 0, f"the sbatch file runs as a plain script: the whole sweep ({r.stderr.strip()})"):
        return finish("sweep_slurm")
    subprocess.run([BIN, "sweep-report", f"{work}/whole", "--quiet"], check=True)

    state = os.path.join(work, "slurm")
    senv = clean_env(CUIQL_SLURM_DIR=state, CUIQL_SLURM_PORT=str(free_port_pair()), CUIQL_SLURM_CPUS="3")
    r = subprocess.run([SLURM_LOCAL, "start"], capture_output=True, text=True, env=senv, timeout=180)
    m = re.search(r"export SLURM_CONF=(\S+)", r.stdout)
    if not check(r.returncode == 0 and m, f"slurm-local starts ({r.stderr.strip()[-1500:]})"):
        return finish("sweep_slurm")
    try:
        jenv = clean_env(SLURM_CONF=m.group(1), CUIQL=BIN, DATASET=f"{work}/pend.h5", OUT=f"{work}/array",
                         STEPS="60", EXTRA=SMALL, **AXES)
        r = subprocess.run(["sbatch", "--wait", "--array=0-2", f"--output={work}/array-%a.out", f"--chdir={SRC}",
                            SBATCH_FILE], capture_output=True, text=True, env=jenv, timeout=600)
        logs = "".join(open(f"{work}/array-{i}.out").read() for i in range(3) if os.path.exists(f"{work}/array-{i}.out"))
        check(r.returncode == 0, f"sbatch --array=0-2 --wait ({r.stderr.strip()}):\n{logs[-3000:]}")
        for i in range(3):
            check(f"shard {i}/3 (SLURM_ARRAY_TASK_ID)" in logs, f"array task {i} trained shard {i}/3")
        compare(f"{work}/array", f"{work}/whole")

        if shutil.which("mpirun"):
            script = os.path.join(work, "mpi.sbatch")
            with open(script, "w") as f:
                f.write("#!/bin/bash\n#SBATCH --ntasks=2\nset -e\n"
                        "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1\n"
                        f"mpirun -np 2 {BIN} train --config configs/seed.yaml --dataset {work}/pend.h5 "
                        f"--out {work}/mpi --steps 60 --set env=pendulum {SMALL} "
                        "--sweep tau=0.6,0.9 --sweep beta=1,3 --sweep seed=0,1\n")
            r = subprocess.run(["sbatch", "--wait", f"--output={work}/mpi.out", f"--chdir={SRC}", script],
                               capture_output=True, text=True, env=jenv, timeout=600)
            log = open(f"{work}/mpi.out").read() if os.path.exists(f"{work}/mpi.out") else ""
            check(r.returncode == 0 and "shard 0/2 (mpirun (OpenMPI))" in log and "shard 1/2 (mpirun (OpenMPI))" in log,
                  f"mpirun -np 2 inside an sbatch job shards by OpenMPI's ranks ({r.stderr.strip()}):\n{log[-3000:]}")
            compare(f"{work}/mpi", f"{work}/whole")
        else:
            print("NOTE mpirun not found: the mpirun-inside-sbatch case is skipped")
    finally:
        subprocess.run([SLURM_LOCAL, "stop"], capture_output=True, env=senv, timeout=120)
    return finish("sweep_slurm")


if __name__ == "__main__":
    sys.exit(main())
