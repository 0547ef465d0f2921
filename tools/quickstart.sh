#!/usr/bin/env bash
# quickstart.sh — the first run on a fresh machine: installs what is missing, builds, generates
# a small offline dataset in the built-in pendulum (a `mixed` blend where good episodes are a
# minority), trains IQL with the seed's settings on it (evaluating every 2,000 steps), and ends
# with one table — the dataset's mean return, the scripted expert's, the trained policy's over
# 50 episodes with its spread, their normalized scores — and the path of the curves' picture.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
tools/build.sh
mkdir -p runs
build/cuiql gen --env pendulum --behavior mixed --episodes 100 --seed 0 --out runs/pendulum-mixed.h5
build/cuiql info runs/pendulum-mixed.h5
# --force: a second quickstart starts afresh, the first one's run moved to runs/quickstart/replaced-DATE/
build/cuiql train --config configs/seed.yaml --dataset runs/pendulum-mixed.h5 --out runs/quickstart --force \
  --set env=pendulum --set steps=20000 --set log_every=250 --set eval_every=2000 --set eval_episodes=10
tools/report.py runs/quickstart --episodes 50
